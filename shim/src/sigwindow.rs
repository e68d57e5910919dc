//! The window between a blocking call's start and its sleep. Linux
//! interrupts a blocking socket call for a signal that arrives at any
//! point after the call began: `signal_pending()` is checked before the
//! task sleeps. The shim does its work first (the stack, the service) and
//! then sleeps in a real system call, so a handler that ran during that
//! work was lost: the sleep went on (a write to a full socket hung past
//! its alarm, 276; a recv under SO_RCVTIMEO slept its whole timeout, 103).
//!
//! So a blocking call holds the asynchronous signals blocked while it
//! prepares (`SigWindow::open`), and before it sleeps asks the kernel which
//! of them are pending (`sigpending`) and unblocks them, so their handlers
//! run: a pending signal with a handler ends the call with EINTR, or tries
//! it again when every such handler has SA_RESTART and the call may be
//! restarted (as the kernel's -ERESTARTSYS). A signal that comes after
//! that interrupts the sleep itself, as before.
//!
//! The driver thread blocks them for good (`block_in_this_thread`): a
//! process-directed signal goes to a program thread, as it would without
//! the shim, and not to the driver while the caller holds it blocked.

use crate::ops::R;

/// Synchronous signals (a fault in this thread) are never blocked: a
/// blocked one would kill the process.
const SYNCHRONOUS: [i32; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
];

fn asynchronous() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, filled by sigfillset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid local set.
    unsafe {
        libc::sigfillset(&mut set);
        for s in SYNCHRONOUS {
            libc::sigdelset(&mut set, s);
        }
    }
    set
}

/// Block the asynchronous signals in the calling thread for good (the
/// shim's own threads).
pub fn block_in_this_thread() {
    let set = asynchronous();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// The asynchronous signals held blocked while a blocking call prepares.
pub struct SigWindow {
    /// The program's mask, restored before every sleep and on drop.
    orig: libc::sigset_t,
    /// Held at all (a blocking call)?
    active: bool,
    blocked: bool,
}

/// What `before_sleep` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pending {
    /// No signal with a handler came: sleep.
    None,
    /// One came, and the call is restarted (every such handler has
    /// SA_RESTART): try it again instead of sleeping.
    Restart,
}

impl SigWindow {
    /// Hold the asynchronous signals from now on; `active` false (a
    /// call that never sleeps) does nothing.
    pub fn open(active: bool) -> SigWindow {
        // SAFETY: sigset_t is plain data, overwritten below.
        let mut w = SigWindow {
            orig: unsafe { std::mem::zeroed() },
            active,
            blocked: false,
        };
        if active {
            w.block();
        }
        w
    }

    fn block(&mut self) {
        let set = asynchronous();
        // SAFETY: valid sets; the program's mask is saved in `orig`.
        self.blocked = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut self.orig) } == 0;
    }

    fn unblock(&mut self) {
        if self.blocked {
            // SAFETY: restoring the mask saved by `block`.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.orig, std::ptr::null_mut()) };
            self.blocked = false;
        }
    }

    /// Before a sleep: the signals that came while the call prepared are
    /// unblocked (their handlers run now). Err(EINTR) when one of them
    /// has a handler without SA_RESTART, or any with one when the call
    /// may not be restarted (`restartable` false: a timeout is set, as
    /// Linux returns EINTR then); the window is open again after the
    /// sleep (`after_sleep`).
    pub fn before_sleep(&mut self, restartable: bool) -> R<Pending> {
        if !self.blocked {
            return Ok(Pending::None);
        }
        // SAFETY: sigset_t is plain data, filled by sigpending.
        let mut pend: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: a valid local set.
        unsafe { libc::sigpending(&mut pend) };
        let mut caught = false;
        let mut restart = true;
        for sig in 1..=libc::SIGRTMAX() {
            // SAFETY: membership tests on valid sets.
            let came = unsafe {
                libc::sigismember(&pend, sig) == 1 && libc::sigismember(&self.orig, sig) == 0
            };
            if !came {
                continue;
            }
            // SAFETY: an all-zero sigaction is a valid value to overwrite.
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: reading the disposition of `sig` into a local struct.
            if unsafe { libc::sigaction(sig, std::ptr::null(), &mut sa) } != 0 {
                continue;
            }
            if sa.sa_sigaction != libc::SIG_DFL && sa.sa_sigaction != libc::SIG_IGN {
                caught = true;
                restart &= sa.sa_flags & libc::SA_RESTART != 0;
            }
        }
        self.unblock();
        match (caught, restart && restartable) {
            (false, _) => Ok(Pending::None),
            (true, true) => Ok(Pending::Restart),
            (true, false) => Err(libc::EINTR),
        }
    }

    /// After a sleep (or a restart): hold the signals again for the next
    /// try.
    pub fn after_sleep(&mut self) {
        if self.active && !self.blocked {
            self.block();
        }
    }
}

impl Drop for SigWindow {
    fn drop(&mut self) {
        self.unblock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static RAN: AtomicU32 = AtomicU32::new(0);

    extern "C" fn on_sig(_: libc::c_int) {
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    fn set_handler(sig: i32, handler: libc::sighandler_t, flags: i32) -> libc::sigaction {
        // SAFETY: plain data, then a valid sigaction for `sig`.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = flags;
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, &sa, &mut old);
            old
        }
    }

    /// A signal raised while the window is held: its handler runs at
    /// `before_sleep`, which says EINTR (no SA_RESTART), restart (with
    /// it, when the call may be restarted) or EINTR (with it, under a
    /// timeout); none, or an ignored one: sleep. The handler never runs
    /// while the window is held.
    #[test]
    fn a_signal_during_the_preparation_is_not_lost() {
        let sig = libc::SIGUSR2;
        let h = on_sig as extern "C" fn(libc::c_int) as libc::sighandler_t;
        let old = set_handler(sig, h, 0);
        let cases = [
            (h, 0, true, Err(libc::EINTR), 1),
            (h, libc::SA_RESTART, true, Ok(Pending::Restart), 1),
            (h, libc::SA_RESTART, false, Err(libc::EINTR), 1),
            (libc::SIG_IGN, 0, true, Ok(Pending::None), 0),
        ];
        for (handler, flags, restartable, want, runs) in cases {
            set_handler(sig, handler, flags);
            RAN.store(0, Ordering::SeqCst);
            let mut w = SigWindow::open(true);
            // SAFETY: a thread-directed signal to this thread.
            unsafe { libc::raise(sig) };
            assert_eq!(RAN.load(Ordering::SeqCst), 0, "ran while held");
            assert_eq!(w.before_sleep(restartable), want);
            assert_eq!(RAN.load(Ordering::SeqCst), runs);
            w.after_sleep();
            drop(w);
        }
        let mut w = SigWindow::open(true);
        assert_eq!(w.before_sleep(true), Ok(Pending::None), "nothing came");
        drop(w);
        // A non-blocking call holds nothing.
        set_handler(sig, h, 0);
        RAN.store(0, Ordering::SeqCst);
        let mut w = SigWindow::open(false);
        // SAFETY: as above.
        unsafe { libc::raise(sig) };
        assert_eq!(RAN.load(Ordering::SeqCst), 1);
        assert_eq!(w.before_sleep(true), Ok(Pending::None));
        // SAFETY: restoring the disposition saved above.
        unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
    }
}
