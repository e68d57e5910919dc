//! The service's name and its front door: a SOCK_SEQPACKET unix socket
//! bound to the abstract name of its device (`proto::name`). Whoever binds
//! the name first is the service; a second `sockshimd` for the same
//! device gets EADDRINUSE and leaves. SO_PEERCRED tells whether a client
//! runs as our uid (or root): only such a client may create sockets; any
//! other (an nginx worker after it dropped to `nobody`) may use only the
//! sockets it proves it holds by their anchors (see core.rs).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::sys::socket::{
    accept4, bind, getsockopt, listen, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
    UnixAddr,
};

/// Bind and listen on the abstract name `name`. Err(EADDRINUSE): another
/// service holds it.
pub fn bind_name(name: &[u8]) -> nix::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name)?)?;
    listen(&fd, Backlog::new(128)?)?;
    Ok(fd)
}

/// Is a client running as `uid` allowed to use a service running as `me`?
pub fn uid_allowed(me: u32, uid: u32) -> bool {
    uid == me || uid == 0
}

/// Accept one waiting client: Ok(Some((fd, trusted))), trusted when it
/// runs as our uid or root; Ok(None): nobody waiting.
pub fn accept_client(listener: &OwnedFd, me: u32) -> nix::Result<Option<(OwnedFd, bool)>> {
    loop {
        let fd = match accept4(
            listener.as_raw_fd(),
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(nix::errno::Errno::ECONNABORTED | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        // SAFETY: accept4 just returned this fd; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match getsockopt(&fd, sockopt::PeerCredentials) {
            Ok(c) => return Ok(Some((fd, uid_allowed(me, c.uid())))),
            _ => continue, // dropped: closed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bind_decides_which_of_two_services_runs() {
        let name = format!("sockshimd-test/{}-bind", std::process::id());
        let first = bind_name(name.as_bytes()).expect("the first bind wins");
        assert_eq!(
            bind_name(name.as_bytes()).err(),
            Some(nix::errno::Errno::EADDRINUSE),
            "a second service for the same name must not run"
        );
        drop(first);
        assert!(
            bind_name(name.as_bytes()).is_ok(),
            "after the first exits, a new one can start"
        );
    }

    #[test]
    fn only_our_uid_or_root() {
        assert!(uid_allowed(1000, 1000));
        assert!(uid_allowed(1000, 0));
        assert!(!uid_allowed(1000, 1001));
        assert!(!uid_allowed(0, 1000));
    }
}
