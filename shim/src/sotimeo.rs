//! SO_RCVTIMEO / SO_SNDTIMEO, kept entirely by the shim (the stack never
//! blocks). The option is also set on the fd's anchor, a kernel socket, so
//! the kernel itself validates it (EINVAL, EDOM), rounds it to jiffies and
//! answers getsockopt exactly as Linux would; the shim reads the effective
//! value back for its own waits.

use std::os::fd::RawFd;
use std::time::Duration;

use stack::Errno;

use crate::fdtable::OpenFile;
use crate::real::real;
use crate::sys;

const SO_RCVTIMEO_NEW: i32 = 66;
const SO_SNDTIMEO_NEW: i32 = 67;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Receive,
    Send,
}

/// Which timeout a (level, name) pair names, if any.
pub fn option(level: i32, name: i32) -> Option<Direction> {
    if level != libc::SOL_SOCKET {
        return None;
    }
    match name {
        libc::SO_RCVTIMEO | SO_RCVTIMEO_NEW => Some(Direction::Receive),
        libc::SO_SNDTIMEO | SO_SNDTIMEO_NEW => Some(Direction::Send),
        _ => None,
    }
}

/// tv_sec of a 64-bit `struct timeval` / `__kernel_sock_timeval`.
pub fn timeval_secs(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_ne_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Linux's reading of a stored timeout: (0, 0) is "forever".
pub fn from_timeval(sec: i64, usec: i64) -> Option<Duration> {
    if sec == 0 && usec == 0 {
        None
    } else {
        Some(Duration::from_secs(sec.max(0) as u64) + Duration::from_micros(usec.max(0) as u64))
    }
}

/// setsockopt of a timeout option on `fd` (whose anchor is `fd` itself);
/// returns the effective timeout to store in the socket's `OpenFile`.
pub fn set(fd: RawFd, name: i32, dir: Direction, val: &[u8]) -> Result<Option<Duration>, Errno> {
    // SAFETY: `val` is a valid buffer of its length; `fd` is the anchor.
    let r = unsafe {
        (real().setsockopt)(
            fd,
            libc::SOL_SOCKET,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    };
    sys::check(r as isize)?;
    if timeval_secs(val).is_some_and(|s| s < 0) {
        // Linux stores 0 jiffies: do not wait at all.
        return Ok(Some(Duration::ZERO));
    }
    read_back(fd, dir)
}

/// Stores an effective timeout in the socket's shared state.
pub fn store(file: &OpenFile, dir: Direction, t: Option<Duration>) {
    match dir {
        Direction::Receive => file.rcvtimeo.set(t),
        Direction::Send => file.sndtimeo.set(t),
    }
}

fn read_back(fd: RawFd, dir: Direction) -> Result<Option<Duration>, Errno> {
    let name = match dir {
        Direction::Receive => libc::SO_RCVTIMEO,
        Direction::Send => libc::SO_SNDTIMEO,
    };
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are valid out-pointers of the right size.
    let r = unsafe {
        (real().getsockopt)(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    sys::check(r as isize)?;
    Ok(from_timeval(tv.tv_sec, tv.tv_usec))
}

/// getsockopt of a timeout option: the anchor answers.
pub fn get(fd: RawFd, name: i32, out: &mut [u8]) -> Result<usize, Errno> {
    let mut len = out.len() as libc::socklen_t;
    // SAFETY: `out` is a valid writable buffer of `len` bytes.
    let r = unsafe {
        (real().getsockopt)(
            fd,
            libc::SOL_SOCKET,
            name,
            out.as_mut_ptr().cast(),
            &mut len,
        )
    };
    sys::check(r as isize)?;
    Ok(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_recognised() {
        assert_eq!(option(libc::SOL_SOCKET, 20), Some(Direction::Receive));
        assert_eq!(option(libc::SOL_SOCKET, 67), Some(Direction::Send));
        assert_eq!(option(libc::IPPROTO_TCP, 20), None);
        assert_eq!(option(libc::SOL_SOCKET, libc::SO_RCVBUF), None);
    }

    #[test]
    fn timeval_zero_is_forever() {
        assert_eq!(from_timeval(0, 0), None);
        assert_eq!(from_timeval(1, 500_000), Some(Duration::from_millis(1500)));
        assert_eq!(from_timeval(0, 4000), Some(Duration::from_millis(4)));
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(-3i64).to_ne_bytes());
        assert_eq!(timeval_secs(&b), Some(-3));
        assert_eq!(timeval_secs(&b[..4]), None);
    }

    #[test]
    fn kernel_validates_and_rounds_on_a_real_socket() {
        // SAFETY: plain socket creation for the test.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) };
        assert!(fd >= 0);
        let mut tv = [0u8; 16];
        tv[8..].copy_from_slice(&2_000_000i64.to_ne_bytes());
        assert_eq!(set(fd, 20, Direction::Receive, &tv), Err(Errno(libc::EDOM)));
        assert_eq!(
            set(fd, 20, Direction::Receive, &tv[..8]),
            Err(Errno::EINVAL)
        );
        tv[..8].copy_from_slice(&1i64.to_ne_bytes());
        tv[8..].copy_from_slice(&250_000i64.to_ne_bytes());
        // Rounded up to the kernel's jiffies (HZ), as Linux reports it.
        let t = set(fd, 20, Direction::Receive, &tv).unwrap().unwrap();
        assert!(t >= Duration::from_millis(1250) && t < Duration::from_millis(1261));
        let mut out = [0u8; 16];
        assert_eq!(get(fd, 20, &mut out), Ok(16));
        assert_eq!(timeval_secs(&out), Some(1));
        let usec = i64::from_ne_bytes(out[8..].try_into().unwrap());
        assert_eq!(
            Duration::from_secs(1) + Duration::from_micros(usec as u64),
            t
        );
        tv[..8].copy_from_slice(&(-1i64).to_ne_bytes());
        tv[8..].copy_from_slice(&0i64.to_ne_bytes());
        assert_eq!(set(fd, 21, Direction::Send, &tv), Ok(Some(Duration::ZERO)));
        tv[..8].copy_from_slice(&0i64.to_ne_bytes());
        assert_eq!(set(fd, 21, Direction::Send, &tv), Ok(None));
        sys::close(fd);
    }
}
