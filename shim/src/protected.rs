//! The shim's own fds (TUN device, eventfds): moved to high numbers
//! (F_DUPFD_CLOEXEC from 900 up, or lower under a small RLIMIT_NOFILE) so
//! they never take a number the program expects, and protected: the
//! program's close/close_range/closefrom of them "succeeds" but leaves them
//! open, and dup2/dup3 onto them fails with EBUSY (see README).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use stack::Errno;

use crate::sys;

const WORDS: usize = 1024;
/// Bitmap of protected fds below 65536 (higher ones are never allocated).
static PROTECTED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];

pub const PREFERRED_BASE: RawFd = 900;

fn slot(fd: RawFd) -> Option<(usize, u64)> {
    let fd = usize::try_from(fd).ok()?;
    (fd < WORDS * 64).then(|| (fd / 64, 1u64 << (fd % 64)))
}

pub fn is_protected(fd: RawFd) -> bool {
    slot(fd).is_some_and(|(w, b)| PROTECTED[w].load(Ordering::Relaxed) & b != 0)
}

pub fn protect(fd: RawFd) {
    if let Some((w, b)) = slot(fd) {
        PROTECTED[w].fetch_or(b, Ordering::Relaxed);
    }
}

pub fn unprotect(fd: RawFd) {
    if let Some((w, b)) = slot(fd) {
        PROTECTED[w].fetch_and(!b, Ordering::Relaxed);
    }
}

/// Protected fds in first..=last, ascending.
pub fn protected_in(first: u32, last: u32) -> Vec<RawFd> {
    let mut out = Vec::new();
    for (w, word) in PROTECTED.iter().enumerate() {
        let mut bits = word.load(Ordering::Relaxed);
        while bits != 0 {
            let fd = (w * 64) as u32 + bits.trailing_zeros();
            bits &= bits - 1;
            if fd >= first && fd <= last {
                out.push(fd as RawFd);
            }
        }
    }
    out
}

/// Where our fds start under the current RLIMIT_NOFILE.
pub fn base() -> RawFd {
    let limit = sys::nofile_limit().min(65536) as RawFd;
    if limit > PREFERRED_BASE + 64 {
        PREFERRED_BASE
    } else {
        (limit * 3 / 4).max(3)
    }
}

/// Moves `fd` (which the shim owns) to a high close-on-exec number and
/// protects it. On failure the original fd is kept (and protected).
pub fn move_high(fd: RawFd) -> Result<RawFd, Errno> {
    match sys::fcntl_int(fd, libc::F_DUPFD_CLOEXEC, base() as libc::c_ulong) {
        Ok(high) => {
            sys::close(fd);
            protect(high);
            Ok(high)
        }
        Err(_) => {
            protect(fd);
            Ok(fd)
        }
    }
}

/// Closes one of our fds and drops its protection.
pub fn close_own(fd: RawFd) {
    unprotect(fd);
    sys::close(fd);
}

/// The sub-ranges of first..=last that contain no protected fd.
pub fn unprotected_ranges(first: u32, last: u32, protected: &[RawFd]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut start = first as u64;
    for &p in protected {
        let p = p as u64;
        if p < start || p > last as u64 {
            continue;
        }
        if p > start {
            out.push((start as u32, (p - 1) as u32));
        }
        start = p + 1;
    }
    if start <= last as u64 {
        out.push((start as u32, last));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protect_and_list() {
        protect(60001);
        protect(60003);
        assert!(is_protected(60001) && !is_protected(60002));
        assert_eq!(protected_in(60000, 60010), vec![60001, 60003]);
        unprotect(60001);
        unprotect(60003);
        assert!(protected_in(60000, 60010).is_empty());
        assert!(!is_protected(-1) && !is_protected(1 << 20));
    }

    #[test]
    fn ranges_skip_protected_fds() {
        assert_eq!(unprotected_ranges(3, 10, &[]), vec![(3, 10)]);
        assert_eq!(unprotected_ranges(3, 10, &[3]), vec![(4, 10)]);
        assert_eq!(unprotected_ranges(3, 10, &[5, 6]), vec![(3, 4), (7, 10)]);
        assert_eq!(unprotected_ranges(3, 10, &[10]), vec![(3, 9)]);
        assert_eq!(
            unprotected_ranges(3, u32::MAX, &[900, 901]),
            vec![(3, 899), (902, u32::MAX)]
        );
        assert_eq!(unprotected_ranges(5, 5, &[5]), vec![]);
    }
}
