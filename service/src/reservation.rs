//! Loopback reservations held by the service (issue 19). A bind of ours
//! that covers loopback holds the same port in the kernel with a kernel
//! socket (two for a dual-stack `[::]`), which also listens beside a
//! listener of ours (the shadow listener, shim/src/loopback.rs).
//!
//! The client that binds makes and binds them, with its own credentials
//! (so the kernel checks privileged ports and SO_REUSEPORT's same-user
//! rule as for the program itself), then passes them here (`Reserved`).
//! From then on the service holds them as long as the socket lives, that
//! is until its last descriptor anywhere is gone (`so_count`), not one
//! process's: a forked child, an exec'd image or the receiver of the
//! socket by SCM_RIGHTS gets a copy (`Reservation`) when it needs one
//! (the slot's `F_RESERVED` says there is one). A kernel connection
//! accepted on the shadow is accepted by the process that calls accept,
//! on its copy: it is that process's kernel socket from the start.
//!
//! What a client passes is checked as anything from a client: sockets of
//! the socket's own type, of an inet family, two at most.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use stack::{Errno, SockType};

/// Kernel sockets in one reservation: ::1 and 127.0.0.1 for `[::]`.
pub const MAX_KERNEL_SOCKETS: usize = 2;

fn int_opt(fd: BorrowedFd<'_>, name: i32) -> Result<i32, Errno> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a local int of its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(Errno::ENOTSOCK)
    } else {
        Ok(v)
    }
}

/// Are `fds` fit to be socket `ty`'s reservation?
pub fn check(fds: &[OwnedFd], ty: SockType) -> Result<(), Errno> {
    if fds.is_empty() || fds.len() > MAX_KERNEL_SOCKETS {
        return Err(Errno::EINVAL);
    }
    let want = match ty {
        SockType::Stream => libc::SOCK_STREAM,
        SockType::Dgram => libc::SOCK_DGRAM,
    };
    for fd in fds {
        let fd = fd.as_fd();
        let domain = int_opt(fd, libc::SO_DOMAIN)?;
        if domain != libc::AF_INET && domain != libc::AF_INET6 {
            return Err(Errno::EINVAL);
        }
        if int_opt(fd, libc::SO_TYPE)? != want {
            return Err(Errno::EINVAL);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn sock(domain: i32, ty: i32) -> OwnedFd {
        // SAFETY: plain socket(2); the fd is owned from here on.
        unsafe { OwnedFd::from_raw_fd(libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0)) }
    }

    #[test]
    fn only_inet_sockets_of_the_sockets_type_are_taken() {
        let tcp = || sock(libc::AF_INET, libc::SOCK_STREAM);
        assert_eq!(check(&[tcp()], SockType::Stream), Ok(()));
        let v6 = sock(libc::AF_INET6, libc::SOCK_STREAM);
        assert_eq!(check(&[tcp(), v6], SockType::Stream), Ok(()));
        assert_eq!(check(&[tcp()], SockType::Dgram), Err(Errno::EINVAL));
        assert_eq!(check(&[], SockType::Stream), Err(Errno::EINVAL));
        assert_eq!(
            check(&[tcp(), tcp(), tcp()], SockType::Stream),
            Err(Errno::EINVAL)
        );
        let unix = sock(libc::AF_UNIX, libc::SOCK_STREAM);
        assert_eq!(check(&[unix], SockType::Stream), Err(Errno::EINVAL));
        let file = OwnedFd::from(std::fs::File::open("/dev/null").expect("/dev/null"));
        assert_eq!(check(&[file], SockType::Stream), Err(Errno::ENOTSOCK));
    }
}
