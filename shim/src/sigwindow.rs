//! The window between a blocking call's start and its sleep. Linux
//! interrupts a blocking socket call for a signal that arrives at any
//! point after the call began: `signal_pending()` is checked before the
//! task sleeps. The shim does its work first (the stack, the service) and
//! then sleeps in a real system call, so a handler that ran during that
//! work would be lost: the sleep would go on (a write to a full socket
//! hung past its alarm, 276; a recv under SO_RCVTIMEO slept its whole
//! timeout, 103).
//!
//! So a blocking call notes the last signal delivery when it starts
//! (`SigWindow::open`), and before it sleeps asks which handlers ran in
//! its own thread since (`sighandlers.rs` notes every delivery by thread):
//! one ends the call with EINTR, or tries it again when every such
//! handler has SA_RESTART and the call may be restarted (as the kernel's
//! -ERESTARTSYS). A signal that comes after that interrupts the sleep
//! itself. Nothing is blocked: an earlier version held the signals
//! blocked while the call prepared, and the kernel then gave a
//! process-directed signal to another thread of the program, whose
//! handler ran there while this call slept on (the flake proof's 276).
//!
//! The shim's own threads block the asynchronous signals for good
//! (`block_in_this_thread`): a process-directed signal goes to a program
//! thread, as it would without the shim.

use crate::ops::R;
use crate::sighandlers;

/// Block the asynchronous signals in the calling thread for good (the
/// shim's own threads).
pub fn block_in_this_thread() {
    // SAFETY: sigset_t is plain data, filled by sigfillset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid local set; the old mask is not wanted.
    unsafe {
        libc::sigfillset(&mut set);
        for s in sighandlers::SYNCHRONOUS {
            libc::sigdelset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// A blocking call's mark: the last signal delivery it has looked at.
pub struct SigWindow {
    /// Deliveries up to this one are not this call's.
    seen: u64,
    /// A call that may sleep at all.
    active: bool,
}

/// What `before_sleep` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pending {
    /// No handler ran in this thread: sleep.
    None,
    /// One ran, and the call is restarted (every such handler has
    /// SA_RESTART): try it again instead of sleeping.
    Restart,
}

impl SigWindow {
    /// Mark the call's start; `active` false (a call that never sleeps)
    /// never reports anything.
    pub fn open(active: bool) -> SigWindow {
        SigWindow {
            seen: sighandlers::delivered(),
            active,
        }
    }

    /// Before a sleep: did a handler run in this thread since the call
    /// started (or since the last look)? Err(EINTR) when one without
    /// SA_RESTART did, or any when the call may not be restarted
    /// (`restartable` false: a timeout is set, as Linux returns EINTR
    /// then).
    pub fn before_sleep(&mut self, restartable: bool) -> R<Pending> {
        if !self.active {
            return Ok(Pending::None);
        }
        let (caught, restart, now) = sighandlers::delivered_here_since(self.seen);
        self.seen = now;
        match (caught, restart && restartable) {
            (false, _) => Ok(Pending::None),
            (true, true) => Ok(Pending::Restart),
            (true, false) => Err(libc::EINTR),
        }
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

    /// A signal whose handler ran in this thread after the call started
    /// (at once: nothing is blocked): `before_sleep` says EINTR (no
    /// SA_RESTART), restart (with it, when the call may be restarted) or
    /// EINTR (with it, under a timeout); none, or an ignored one: sleep.
    /// It is reported once. A non-blocking call reports nothing.
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
            assert_eq!(RAN.load(Ordering::SeqCst), runs, "ran at once");
            assert_eq!(w.before_sleep(restartable), want);
            assert_eq!(w.before_sleep(restartable), Ok(Pending::None), "once");
        }
        let mut w = SigWindow::open(true);
        assert_eq!(w.before_sleep(true), Ok(Pending::None), "nothing came");
        set_handler(sig, h, 0);
        let mut w = SigWindow::open(false);
        // SAFETY: as above.
        unsafe { libc::raise(sig) };
        assert_eq!(w.before_sleep(true), Ok(Pending::None));
        // SAFETY: restoring the disposition saved above.
        unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
    }

    /// The flake proof's 276: while a call prepares, nothing is blocked,
    /// so a process-directed signal may come to this thread, as on Linux
    /// (an earlier version blocked them, and the kernel gave the signal to
    /// another thread of the program, whose handler ran there while the
    /// call slept on). And a handler that runs in another thread is not
    /// this call's.
    #[test]
    fn the_window_blocks_nothing_and_sees_only_its_own_thread() {
        let sig = libc::SIGURG;
        let h = on_sig as extern "C" fn(libc::c_int) as libc::sighandler_t;
        let old = set_handler(sig, h, 0);
        let mut w = SigWindow::open(true);
        // SAFETY: plain data, filled with the current mask.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: reading this thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) };
        // SAFETY: a membership test on a valid set.
        assert_eq!(unsafe { libc::sigismember(&mask, sig) }, 0, "not blocked");
        std::thread::spawn(move || {
            // SAFETY: a signal to the spawned thread itself.
            unsafe { libc::raise(sig) };
        })
        .join()
        .unwrap();
        assert_eq!(w.before_sleep(true), Ok(Pending::None), "another thread's");
        // SAFETY: restoring the disposition saved above.
        unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
    }
}
