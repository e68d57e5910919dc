//! The program's signal handlers, each run through the shim's trampoline,
//! which first notes in which thread the signal was delivered. A blocking
//! call reads these notes before it sleeps (`sigwindow.rs`): a handler that
//! ran in its thread while it prepared ends the call with EINTR, or
//! restarts it, as Linux's `signal_pending()` check before a sleep would.
//!
//! Nothing is blocked for this, so the kernel picks the thread that takes
//! a process-directed signal exactly as without the shim (a thread blocked
//! in a socket call is as eligible as on Linux).
//!
//! `install` stands behind the `sigaction` and `signal` exports: a handler
//! the program installs is kept here and the trampoline is installed in its
//! place with the program's flags and mask (plus SA_SIGINFO); what the
//! program reads back is its own handler and flags. Everything the
//! trampoline touches is an atomic, so it is async-signal-safe.
//! A handler installed around the shim (the raw rt_sigaction system call)
//! is not seen: a signal for it during a call's preparation is not noticed
//! until the next wake-up, as before this module.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

use libc::c_int;

/// Signal numbers 1..=64 (`_NSIG - 1` on Linux).
const NSIG: usize = 65;

/// How many recent deliveries are remembered: far more than can come
/// during one call's preparation (a few microseconds).
const RING: usize = 128;

/// The program's handler per signal (0: none kept here).
static HANDLER: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
/// The program's sa_flags per signal (SA_SIGINFO, SA_RESTART as it asked).
static FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];

/// Deliveries so far; delivery `n` is noted in `NOTES[n % RING]`.
static DELIVERED: AtomicU64 = AtomicU64::new(0);

/// One delivery: its number (written last) and `tid << 8 | signal`.
struct Note {
    seq: AtomicU64,
    who: AtomicU64,
}

static NOTES: [Note; RING] = [const {
    Note {
        seq: AtomicU64::new(0),
        who: AtomicU64::new(0),
    }
}; RING];

/// Synchronous signals (a fault in this thread) and the two that cannot
/// be caught are never wrapped: they cannot end a socket call early.
fn wrapped(sig: c_int) -> bool {
    !SYNCHRONOUS.contains(&sig)
        && sig != libc::SIGKILL
        && sig != libc::SIGSTOP
        && (1..NSIG as c_int).contains(&sig)
}

/// Synchronous signals (a fault in this thread): never wrapped here, and
/// never blocked by the shim's threads (`sigwindow.rs`), where a blocked
/// one would kill the process.
pub const SYNCHRONOUS: [c_int; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
];

fn this_tid() -> u64 {
    // SAFETY: gettid has no arguments and cannot fail; async-signal-safe.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

/// The number of the last delivery so far: a call notes it when it starts.
pub fn delivered() -> u64 {
    DELIVERED.load(Ordering::Acquire)
}

/// The signals delivered to the calling thread after delivery `since` up
/// to now, as (caught, all restartable): `caught` is false when none came.
/// Returns the new mark with it. More deliveries than the notes hold are
/// taken as one restartable signal (a retry, never a false error).
pub fn delivered_here_since(since: u64) -> (bool, bool, u64) {
    let now = delivered();
    if now == since {
        return (false, true, now);
    }
    if now - since > RING as u64 {
        return (true, true, now);
    }
    let tid = this_tid();
    let (mut caught, mut restart) = (false, true);
    for n in since + 1..=now {
        let note = &NOTES[(n % RING as u64) as usize];
        if note.seq.load(Ordering::Acquire) != n {
            continue; // overwritten, or another thread's still being noted
        }
        let who = note.who.load(Ordering::Relaxed);
        if who >> 8 != tid {
            continue;
        }
        let sig = (who & 0xff) as usize;
        caught = true;
        restart &= FLAGS.get(sig).map_or(0, |f| f.load(Ordering::Relaxed)) & libc::SA_RESTART != 0;
    }
    (caught, restart, now)
}

/// The trampoline the kernel runs for every wrapped signal with a handler.
extern "C" fn trampoline(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(slot) = usize::try_from(sig).ok().filter(|&s| s < NSIG) else {
        return;
    };
    let n = DELIVERED.fetch_add(1, Ordering::AcqRel) + 1;
    let note = &NOTES[(n % RING as u64) as usize];
    note.who
        .store(this_tid() << 8 | slot as u64, Ordering::Relaxed);
    note.seq.store(n, Ordering::Release);
    let h = HANDLER[slot].load(Ordering::Relaxed);
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        return;
    }
    if FLAGS[slot].load(Ordering::Relaxed) & libc::SA_SIGINFO != 0 {
        // SAFETY: `h` is the program's sa_sigaction, installed with
        // SA_SIGINFO: it takes these three arguments. Our frame holds
        // nothing to drop, so a handler that siglongjmps out is fine.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: `h` is the program's sa_handler (no SA_SIGINFO).
        let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

fn trampoline_addr() -> usize {
    trampoline as extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize
}

/// What the program reads back for `real` (the kernel's disposition):
/// its own handler and flags where the trampoline is installed.
fn as_program_sees(real: &mut libc::sigaction, handler: usize, flags: c_int) {
    if real.sa_sigaction == trampoline_addr() {
        real.sa_sigaction = handler;
        real.sa_flags = (real.sa_flags & !libc::SA_SIGINFO) | (flags & libc::SA_SIGINFO);
    }
}

/// The disposition to give the kernel for the program's `act` on `sig`,
/// keeping the program's handler here. Returns `act` itself for a
/// default, ignored or unwrapped signal.
fn to_install(sig: c_int, act: &libc::sigaction) -> libc::sigaction {
    let mut k = *act;
    if !wrapped(sig) {
        return k;
    }
    let slot = sig as usize;
    if act.sa_sigaction == libc::SIG_DFL || act.sa_sigaction == libc::SIG_IGN {
        HANDLER[slot].store(act.sa_sigaction, Ordering::Relaxed);
        return k;
    }
    FLAGS[slot].store(act.sa_flags, Ordering::Relaxed);
    HANDLER[slot].store(act.sa_sigaction, Ordering::Relaxed);
    k.sa_sigaction = trampoline_addr();
    k.sa_flags |= libc::SA_SIGINFO;
    k
}

/// sigaction(2) as the program sees it, through `real_sigaction`: the
/// program's handler is kept here and run by the trampoline.
pub fn install(
    sig: c_int,
    act: Option<&libc::sigaction>,
    old: Option<&mut libc::sigaction>,
    real_sigaction: impl Fn(c_int, Option<&libc::sigaction>, &mut libc::sigaction) -> c_int,
) -> c_int {
    let slot = usize::try_from(sig).ok().filter(|&s| s < NSIG);
    let prev = slot.map(|s| {
        (
            HANDLER[s].load(Ordering::Relaxed),
            FLAGS[s].load(Ordering::Relaxed),
        )
    });
    let k = act.map(|a| to_install(sig, a));
    // SAFETY: plain data, overwritten by the kernel's answer.
    let mut real_old: libc::sigaction = unsafe { std::mem::zeroed() };
    let r = real_sigaction(sig, k.as_ref(), &mut real_old);
    if r != 0 {
        if let (Some(s), Some((h, f))) = (slot, prev) {
            HANDLER[s].store(h, Ordering::Relaxed);
            FLAGS[s].store(f, Ordering::Relaxed);
        }
        return r;
    }
    if let Some(o) = old {
        if let Some((h, f)) = prev {
            as_program_sees(&mut real_old, h, f);
        }
        *o = real_old;
    }
    r
}

/// After `signal()`-like calls that installed `handler` on `sig` directly
/// (`installed`, the kernel's disposition now, with the flags libc chose):
/// put the trampoline in its place. Returns the handler the program
/// should be told was there before (`was`, translated).
pub fn wrap_installed(
    sig: c_int,
    installed: Option<libc::sigaction>,
    was: usize,
    prev: (usize, c_int),
    real_install: impl Fn(c_int, &libc::sigaction),
) -> usize {
    if let Some(cur) = installed {
        let k = to_install(sig, &cur);
        if k.sa_sigaction != cur.sa_sigaction {
            real_install(sig, &k);
        }
    }
    if was == trampoline_addr() {
        prev.0
    } else {
        was
    }
}

/// The handler and flags kept for `sig` now (for `wrap_installed`).
pub fn kept(sig: c_int) -> (usize, c_int) {
    usize::try_from(sig)
        .ok()
        .filter(|&s| s < NSIG)
        .map_or((0, 0), |s| {
            (
                HANDLER[s].load(Ordering::Relaxed),
                FLAGS[s].load(Ordering::Relaxed),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    static RAN: AtomicU32 = AtomicU32::new(0);
    static INFO_SIGNO: AtomicI32 = AtomicI32::new(0);

    extern "C" fn plain(_: c_int) {
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    extern "C" fn with_info(sig: c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO.
        INFO_SIGNO.store(unsafe { (*info).si_signo }, Ordering::SeqCst);
        let _ = sig;
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    fn real(sig: c_int, act: Option<&libc::sigaction>, old: &mut libc::sigaction) -> c_int {
        // SAFETY: valid pointers or null.
        unsafe { (crate::real::real().sigaction)(sig, act.map_or(std::ptr::null(), |a| a), old) }
    }

    fn action(h: usize, flags: c_int) -> libc::sigaction {
        // SAFETY: plain data.
        let mut a: libc::sigaction = unsafe { std::mem::zeroed() };
        a.sa_sigaction = h;
        a.sa_flags = flags;
        a
    }

    /// The program installs handlers with and without SA_SIGINFO: the
    /// kernel holds the trampoline, the program reads back its own
    /// handler and flags, the handler runs with its arguments, and the
    /// delivery is noted for this thread (not for another).
    #[test]
    fn the_program_sees_its_handler_and_each_delivery_is_noted_by_thread() {
        let sig = libc::SIGUSR1;
        // SAFETY: plain data.
        let mut saved: libc::sigaction = unsafe { std::mem::zeroed() };
        let mut old = action(0, 0);
        let h = plain as extern "C" fn(c_int) as usize;
        assert_eq!(
            install(
                sig,
                Some(&action(h, libc::SA_RESTART)),
                Some(&mut saved),
                real
            ),
            0
        );
        let mut k = action(0, 0);
        real(sig, None, &mut k);
        assert_eq!(
            k.sa_sigaction,
            trampoline_addr(),
            "the kernel runs the trampoline"
        );
        assert_ne!(k.sa_flags & libc::SA_SIGINFO, 0);
        assert_eq!(install(sig, None, Some(&mut old), real), 0);
        assert_eq!(old.sa_sigaction, h, "the program reads its own handler");
        assert_eq!(
            old.sa_flags & (libc::SA_SIGINFO | libc::SA_RESTART),
            libc::SA_RESTART
        );

        RAN.store(0, Ordering::SeqCst);
        let mark = delivered();
        // SAFETY: a signal to this thread, with a handler installed.
        unsafe { libc::raise(sig) };
        assert_eq!(RAN.load(Ordering::SeqCst), 1);
        let (caught, restart, mark2) = delivered_here_since(mark);
        assert!(caught && restart);
        assert_eq!(delivered_here_since(mark2), (false, true, mark2));

        // Delivered to another thread: not this thread's.
        let t = std::thread::spawn(move || {
            // SAFETY: a signal to the spawned thread itself.
            unsafe { libc::raise(sig) };
        });
        t.join().unwrap();
        assert_eq!(RAN.load(Ordering::SeqCst), 2);
        let (caught, _, _) = delivered_here_since(mark2);
        assert!(!caught, "the other thread's signal is not ours");

        let i = with_info as extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
        install(sig, Some(&action(i, libc::SA_SIGINFO)), None, real);
        let mark = delivered();
        // SAFETY: as above.
        unsafe { libc::raise(sig) };
        assert_eq!(INFO_SIGNO.load(Ordering::SeqCst), sig, "siginfo passed on");
        let (caught, restart, _) = delivered_here_since(mark);
        assert!(caught);
        assert!(!restart, "no SA_RESTART");
        install(sig, None, Some(&mut old), real);
        assert_eq!(
            (old.sa_sigaction, old.sa_flags & libc::SA_SIGINFO),
            (i, libc::SA_SIGINFO)
        );
        install(sig, Some(&saved), None, real);
    }
}
