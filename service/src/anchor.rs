//! Anchors, the service's side. Each socket's anchor is a connected pair of
//! AF_UNIX stream sockets: the service keeps end A, the program gets end B
//! as its fd. The kernel counts B's references across dup, fork, SCM_RIGHTS
//! and exec, so when the last one goes (close, exit, `_exit`, a signal)
//! A sees the hang-up and the service closes the socket: one `so_count`
//! reference held by the service stands for every descriptor anywhere.
//!
//! Readiness travels the other way as a token byte: the service writes one
//! byte into A to make B readable (`sync_token`), and a client that is
//! about to wait reads it back first (or, alone on the socket, in the
//! read it sleeps in). At most `UNCHECKED_TOKENS` bytes are ever unread:
//! the service counts what it wrote since it last asked SIOCOUTQ how many
//! are unread, and asks again only when the count reaches the bound (a
//! SIOCOUTQ per token was one of its nine system calls per TCP_RR
//! transaction; the client reads back up to 16 at once).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::sys::stat::fstat;

/// A new anchor pair: (A for the service, B for the program, B's inode).
///
/// Both ends block (one open file each): B must, the program's waits on it
/// are blocking reads and polls; A is only ever written with MSG_DONTWAIT
/// (`put_token`), polled and asked SIOCOUTQ, none of which waits, so it
/// needs no `fcntl` of its own (one system call per socket fewer).
pub fn pair() -> nix::Result<(OwnedFd, OwnedFd, u64)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let ino = inode(b.as_fd())?;
    Ok((a, b, ino))
}

/// The inode of a socket fd: what names an anchor when a client passes it.
pub fn inode(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    let st = fstat(fd.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(nix::errno::Errno::ENOTSOCK);
    }
    Ok(st.st_ino)
}

/// Something written into A that B has not read yet: nonzero then (for
/// AF_UNIX, SIOCOUTQ counts the buffers' memory, not bytes).
pub fn unread(a: BorrowedFd<'_>) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int into `n`.
    let r = unsafe { libc::ioctl(a.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        0
    } else {
        n.max(0) as usize
    }
}

/// Tokens written without asking how many are unread, at most.
pub const UNCHECKED_TOKENS: u8 = 8;

/// Make B readable. `written`: tokens written into A since SIOCOUTQ last
/// said how many were unread, plus that many (so never fewer than are
/// unread). Below `UNCHECKED_TOKENS` a token is written without asking;
/// at it, only when SIOCOUTQ finds none unread.
pub fn put_token(a: BorrowedFd<'_>, written: &mut u8) {
    if *written >= UNCHECKED_TOKENS {
        let u = unread(a);
        *written = u.min(UNCHECKED_TOKENS as usize) as u8;
        if u > 0 {
            return;
        }
    }
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    if send(a.as_raw_fd(), &[0u8], flags).is_ok() {
        *written += 1;
    }
}

/// Has every B descriptor gone (A sees the peer's hang-up)?
pub fn hung_up(a: BorrowedFd<'_>) -> bool {
    let mut p = libc::pollfd {
        fd: a.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_close_of_b_anywhere_is_seen_on_a() {
        let (a, b, ino) = pair().unwrap();
        assert_eq!(inode(b.as_fd()).unwrap(), ino);
        let b2 = b.try_clone().unwrap(); // a dup, as dup(2) or fork would make
        drop(b);
        assert!(!hung_up(a.as_fd()), "one reference is still open");
        drop(b2);
        assert!(hung_up(a.as_fd()), "the last reference is gone");
    }

    fn read_back(b: &OwnedFd) -> usize {
        let mut buf = [0u8; 16];
        nix::sys::socket::recv(
            b.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        )
        .unwrap_or(0)
    }

    /// Bytes B could read now (FIONREAD).
    fn readable(b: &OwnedFd) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int into `n`.
        unsafe { libc::ioctl(b.as_raw_fd(), libc::FIONREAD, &mut n) };
        n as usize
    }

    #[test]
    fn tokens_unread_stay_within_the_bound_and_one_read_clears_them() {
        let (a, b, _) = pair().unwrap();
        let mut written = 0;
        for _ in 0..100 {
            put_token(a.as_fd(), &mut written);
            assert!(readable(&b) <= UNCHECKED_TOKENS as usize);
        }
        assert_eq!(readable(&b), UNCHECKED_TOKENS as usize);
        assert_eq!(
            read_back(&b),
            UNCHECKED_TOKENS as usize,
            "one read back takes them all"
        );
        assert_eq!(unread(a.as_fd()), 0);
        // Read back after each: a token every time (SIOCOUTQ asked only
        // at the bound, where it finds none unread).
        for _ in 0..20 {
            put_token(a.as_fd(), &mut written);
            assert_eq!(read_back(&b), 1);
        }
    }

    #[test]
    fn both_ends_block_and_a_token_never_waits() {
        let (a, b, _) = pair().unwrap();
        for fd in [&a, &b] {
            let fl = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL).unwrap();
            assert_eq!(fl & libc::O_NONBLOCK, 0, "blocking");
        }
        // B never reads, and the count of unread tokens is forgotten each
        // time: A fills, and a token says EAGAIN rather than wait.
        let mut written = 0;
        for _ in 0..10_000 {
            put_token(a.as_fd(), &mut written);
            written = 0;
        }
        assert!(readable(&b) > 0);
        // Every B gone: a token fails (EPIPE, no SIGPIPE) and returns.
        drop(b);
        put_token(a.as_fd(), &mut written);
        assert_eq!(written, 0);
    }
}
