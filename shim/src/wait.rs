//! Blocking without spinning: each thread owns one eventfd; a blocking call
//! registers it on the socket(s) it waits for and blocks in a real system
//! call on it, so the kernel decides EINTR versus SA_RESTART exactly as for
//! its own sockets: read(2) without a timeout (restartable), poll(2) with
//! SO_RCVTIMEO/SO_SNDTIMEO (EINTR even under SA_RESTART, as Linux).

use std::cell::Cell;
use std::time::{Duration, Instant};

use libc::c_void;

use crate::driver::new_eventfd;
use crate::real::real;

thread_local! {
    static EVFD: Cell<i32> = const { Cell::new(-1) };
}

thread_local! {
    /// This thread's eventfd while it runs the stack for itself after a
    /// sleep (devwait.rs): wake-ups for it are not written, it tries
    /// again anyway.
    static ABSORB: Cell<i32> = const { Cell::new(-1) };
}

/// Run `f` with wake-ups of this thread's own eventfd absorbed (see
/// `ABSORB`): only where the thread tries its call again next.
pub fn absorb_own_wakeups(f: impl FnOnce()) {
    /// Ends the absorption however `f` ends (a panic included).
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = ABSORB.try_with(|c| c.set(-1));
        }
    }
    let own = EVFD.with(|c| c.get());
    ABSORB.with(|c| c.set(own));
    let _reset = Reset;
    f();
}

/// Whether a wake-up of `fd` is absorbed on this thread.
pub fn absorbed(fd: i32) -> bool {
    fd >= 0 && ABSORB.try_with(|c| c.get() == fd).unwrap_or(false)
}

/// Read back the wake-ups of an eventfd that poll(2) found readable.
pub fn drain_signalled(evfd: i32) {
    let mut v = 0u64;
    // SAFETY: reading 8 bytes into v from our eventfd (readable: no block).
    unsafe { (real().read)(evfd, &mut v as *mut u64 as *mut c_void, 8) };
}

/// This thread's wake-up eventfd.
pub fn thread_evfd() -> i32 {
    EVFD.with(|c| {
        if c.get() < 0 {
            c.set(new_eventfd(0));
        }
        c.get()
    })
}

/// This thread's wake-up eventfd, made now only if it leaves a number
/// free: under an RLIMIT_NOFILE below the shim's high numbers it stays
/// at a low one, and if that was the last number free it is the one the
/// program's accept must get (an accept after one close under EMFILE got
/// EMFILE, the freed number taken by this; c-test 410). Negative: none
/// (closed again; made at a later call).
pub fn thread_evfd_leaving_room() -> i32 {
    EVFD.with(|c| {
        if c.get() < 0 {
            let fd = new_eventfd(0);
            if fd >= 0 && !crate::driver::is_protected(fd) {
                // SAFETY: fcntl(F_DUPFD_CLOEXEC) of our own descriptor: is
                // another number free? (the copy is closed at once).
                let probe = unsafe { (real().fcntl)(fd, libc::F_DUPFD_CLOEXEC, 0) };
                // SAFETY: closing descriptors just made, ours alone.
                unsafe {
                    if probe < 0 {
                        (real().close)(fd);
                        return -1;
                    }
                    (real().close)(probe);
                }
            }
            c.set(fd);
        }
        c.get()
    })
}

/// Consume any pending wake-ups without blocking.
pub fn drain(evfd: i32) {
    take_signal(evfd);
}

/// Whether the eventfd was signalled; its wake-ups are consumed.
pub fn take_signal(evfd: i32) -> bool {
    let mut p = libc::pollfd {
        fd: evfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; zero timeout.
    if unsafe { (real().poll)(&mut p, 1, 0) } > 0 {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes into v from our eventfd (readable: no block).
        unsafe { (real().read)(evfd, &mut v as *mut u64 as *mut c_void, 8) };
        return true;
    }
    false
}

/// Block until the eventfd is signalled. Err(EAGAIN) when `deadline`
/// passes, Err(EINTR) when a signal interrupts.
pub fn block(evfd: i32, deadline: Option<Instant>) -> Result<(), i32> {
    match deadline {
        None => {
            let mut v = 0u64;
            // SAFETY: blocking read of 8 bytes into v; the kernel restarts
            // it under SA_RESTART and returns EINTR otherwise.
            let n = unsafe { (real().read)(evfd, &mut v as *mut u64 as *mut c_void, 8) };
            if n < 0 {
                // SAFETY: reading this thread's errno.
                return Err(unsafe { *libc::__errno_location() });
            }
            Ok(())
        }
        Some(d) => {
            let ready = poll_in_until(evfd, d)?;
            drain(evfd);
            if !ready && Instant::now() >= d {
                return Err(libc::EAGAIN);
            }
            Ok(())
        }
    }
}

/// poll(2) for POLLIN on `fd` until `deadline` (rounded up to whole
/// milliseconds): Ok(true) when it became readable, Ok(false) when the poll
/// timed out, Err(EAGAIN) when the deadline had already passed, the errno
/// (EINTR even under SA_RESTART, as Linux) when the poll failed.
fn poll_in_until(fd: i32, deadline: Instant) -> Result<bool, i32> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(libc::EAGAIN);
    }
    let ms = poll_ms(left);
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { (real().poll)(&mut p, 1, ms) };
    if r < 0 {
        // SAFETY: reading this thread's errno.
        return Err(unsafe { *libc::__errno_location() });
    }
    Ok(r > 0)
}

/// poll(2)'s timeout for `left`: whole milliseconds rounded up (a wait
/// never ends early), at most i32::MAX.
pub fn poll_ms(left: Duration) -> i32 {
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}

/// poll(2)'s timeout until `deadline` (-1: none), rounded up as `poll_ms`.
pub fn poll_timeout(deadline: Option<Instant>) -> i32 {
    deadline.map_or(-1, |d| poll_ms(d.saturating_duration_since(Instant::now())))
}

pub fn deadline_after(d: Option<Duration>) -> Option<Instant> {
    d.map(|d| Instant::now() + d)
}

/// Read back an anchor's readiness token(s) without blocking (before a
/// call that re-arms it: see client.rs).
/// A record handing over a connection (a listener's anchor,
/// handoff.rs) is kept for the next accept.
pub fn drain_token(anchor: i32) {
    crate::handoff::read_anchor(anchor, libc::MSG_DONTWAIT);
}

/// Block until the anchor has a token and read it back (with every other
/// one unread: at most 8, see the service's anchor.rs), or the service
/// went away. Only for a socket no other process holds (a peeking waiter
/// elsewhere could miss the token) and without a deadline: a blocking
/// recv, restarted under SA_RESTART and EINTR otherwise. A token left
/// from an event already handled wakes it once for nothing (the caller
/// looks again), as the read back before the wait did.
pub fn take_token_blocking(anchor: i32) -> Result<(), i32> {
    // A record ends the sleep too: the next try takes it (handoff.rs).
    let n = crate::handoff::read_anchor(anchor, 0);
    if n < 0 {
        // SAFETY: reading this thread's errno.
        return Err(unsafe { *libc::__errno_location() });
    }
    Ok(())
}

/// Block until the anchor is readable (the service wrote a token, or
/// went away). Without a deadline: a blocking recv(MSG_PEEK), which the
/// kernel restarts under SA_RESTART and interrupts with EINTR otherwise,
/// as for its own sockets; with one: poll(2), EAGAIN when it passes.
pub fn block_anchor(anchor: i32, deadline: Option<Instant>) -> Result<(), i32> {
    match deadline {
        None => {
            let mut b = [0u8; 1];
            // SAFETY: a blocking peek into a local buffer.
            let n =
                unsafe { (real().recv)(anchor, b.as_mut_ptr() as *mut c_void, 1, libc::MSG_PEEK) };
            if n < 0 {
                // SAFETY: reading this thread's errno.
                return Err(unsafe { *libc::__errno_location() });
            }
            Ok(())
        }
        Some(d) => {
            let ready = poll_in_until(anchor, d)?;
            if !ready && Instant::now() >= d {
                return Err(libc::EAGAIN);
            }
            Ok(())
        }
    }
}

/// After a wait in poll(2) (which the kernel never restarts) returned
/// EINTR without a timeout: would the kernel have restarted a blocking
/// socket call for the handler that ran? poll only returns EINTR when a
/// handler ran, and which signal it was is not known here, so: yes when
/// every signal with a handler installed has SA_RESTART. A program that
/// mixes handlers with and without SA_RESTART gets EINTR, as from the
/// ones without.
pub fn handlers_restart() -> bool {
    (1..=libc::SIGRTMAX()).all(|sig| {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            return true;
        }
        // SAFETY: an all-zero sigaction is a valid value to be overwritten.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reading the disposition of `sig` into a local struct.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut sa) } != 0 {
            return true;
        }
        sa.sa_sigaction == libc::SIG_DFL
            || sa.sa_sigaction == libc::SIG_IGN
            || sa.sa_flags & libc::SA_RESTART != 0
    })
}
