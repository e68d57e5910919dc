//! Small safe wrappers over the system calls the shim makes for itself
//! (errno, clocks, eventfds, poll, close, randomness). They call the real
//! libc functions, never our exports.

pub mod tun;

use std::os::fd::RawFd;
use std::time::Duration;

use stack::Errno;

use crate::real::real;

/// The calling thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(v: i32) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = v }
}

/// errno of the last failed call, as an `Errno`.
pub fn last_errno() -> Errno {
    Errno(errno())
}

/// Converts a libc return value: negative means "failed, see errno".
pub fn check(ret: isize) -> Result<usize, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret as usize)
    }
}

pub fn write_all_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of this length.
        let n = unsafe { (real().write)(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// CLOCK_MONOTONIC in microseconds.
pub fn monotonic_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// The stack's notion of now.
pub fn now() -> stack::Instant {
    stack::Instant::from_micros(monotonic_micros())
}

/// 64 random bits from the kernel (getrandom), for the stack's seed.
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is a valid writable 8-byte buffer.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != 8 {
        return monotonic_micros() ^ (getpid() as u64) << 32;
    }
    u64::from_ne_bytes(buf)
}

/// The real process id (never cached by the C library).
pub fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::syscall(libc::SYS_getpid) as i32 }
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd number has no memory-safety preconditions; the
    // callers own `fd`.
    unsafe { (real().close)(fd) };
}

pub fn fcntl_int(fd: RawFd, cmd: i32, arg: libc::c_ulong) -> Result<i32, Errno> {
    // SAFETY: the commands used with this wrapper take an integer argument.
    let r = unsafe { (real().fcntl)(fd, cmd, arg) };
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(r)
    }
}

/// A new blocking, close-on-exec eventfd with counter 0.
pub fn eventfd() -> Result<RawFd, Errno> {
    // SAFETY: eventfd has no memory preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        Err(last_errno())
    } else {
        Ok(fd)
    }
}

/// Adds one to an eventfd's counter (wakes its reader).
pub fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 valid bytes; an eventfd write of 1 cannot block
    // unless the counter is near u64::MAX, which 1-increments never reach.
    unsafe { (real().write)(fd, (&one as *const u64).cast(), 8) };
}

/// Blocking read of an eventfd: returns when the counter is non-zero
/// (resetting it), or Err(EINTR) when a signal handler ran and SA_RESTART
/// was not set (the kernel restarts the read otherwise).
pub fn eventfd_wait(fd: RawFd) -> Result<(), Errno> {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into `v`.
    let n = unsafe { (real().read)(fd, (&mut v as *mut u64).cast(), 8) };
    if n < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// Converts a duration to a timespec.
pub fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// The real ppoll: `timeout` None blocks; `sigmask` is applied atomically
/// while blocked. Returns the number of ready entries.
pub fn ppoll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    sigmask: Option<&libc::sigset_t>,
) -> Result<usize, Errno> {
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mask_ptr = sigmask.map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
    // SAFETY: `fds` is a valid array of its length; the timespec and the
    // sigset live across the call.
    let r = unsafe {
        (real().ppoll)(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            mask_ptr,
        )
    };
    check(r as isize)
}

/// The soft RLIMIT_NOFILE.
pub fn nofile_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    rl.rlim_cur
}
