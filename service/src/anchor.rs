//! Anchors, the service's side. Each socket's anchor is a connected pair of
//! AF_UNIX stream sockets: the service keeps end A, the program gets end B
//! as its fd. The kernel counts B's references across dup, fork, SCM_RIGHTS
//! and exec, so when the last one goes (close, exit, `_exit`, a signal)
//! A sees the hang-up and the service closes the socket: one `so_count`
//! reference held by the service stands for every descriptor anywhere.
//!
//! Readiness travels the other way as a token byte: the service writes one
//! byte into A to make B readable (`sync_token`), and a client that is
//! about to wait reads it back first. The service never writes a second
//! byte while one is unread (SIOCOUTQ on A tells).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::stat::fstat;

/// A new anchor pair: (A for the service, B for the program, B's inode).
pub fn pair() -> nix::Result<(OwnedFd, OwnedFd, u64)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )?;
    // B blocks: the program's waits on it are blocking reads and polls.
    nix::fcntl::fcntl(
        b.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
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

/// Bytes written into A that B has not read yet.
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

/// Make B readable: one token byte unless one is already unread.
pub fn put_token(a: BorrowedFd<'_>) {
    if unread(a) == 0 {
        let _ = nix::unistd::write(a, &[0u8]);
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

    #[test]
    fn one_token_at_most_and_reading_it_clears_it() {
        let (a, b, _) = pair().unwrap();
        put_token(a.as_fd());
        put_token(a.as_fd());
        assert!(unread(a.as_fd()) > 0);
        let mut buf = [0u8; 8];
        let n = nix::sys::socket::recv(
            b.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        )
        .unwrap();
        assert_eq!(n, 1, "a second token is never written while one is unread");
        assert_eq!(unread(a.as_fd()), 0);
    }
}
