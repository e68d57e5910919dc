//! The requests that save a connection's round trips: a blocking
//! `Connect` registers its wait itself (the client sleeps on the anchor
//! without asking first, and with `ConnectPost` without a reply), and
//! `ClosedPost`/`SetsockoptPost` are carried out without a reply.

use std::os::fd::{AsRawFd, OwnedFd};

use proto::{Body, Request};
use stack::Errno;

use super::tests::{core, drive, listener_8080, socket, t, trusted};
use super::{Core, Session};
fn tokens(fd: &OwnedFd) -> usize {
    let mut b = [0u8; 64];
    nix::sys::socket::recv(
        fd.as_raw_fd(),
        &mut b,
        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    )
    .unwrap_or(0)
}

/// A listener on port 8080 and a client socket connecting to it with
/// `wait`: whether the client's anchor got a token once the handshake
/// was done, and the core with the client's session and socket.
fn connect(wait: bool) -> (bool, Core, Session, u64) {
    let mut c = core();
    let (mut srv, mut cli) = (trusted(), trusted());
    let (_l, a) = listener_8080(&mut c, &mut srv);
    let k = socket(&mut c, &mut cli);
    tokens(&k.1);
    let (r, _) = c.handle(
        &mut cli,
        t(),
        Request::Connect {
            id: k.0,
            addr: Some(a),
            wait,
        },
        vec![],
    );
    assert_eq!(r, Err(Errno::EINPROGRESS));
    tokens(&k.1);
    drive(&mut c);
    let woken = tokens(&k.1) > 0;
    (woken, c, cli, k.0)
}

#[test]
fn a_blocking_connect_registers_its_wait_with_the_connect() {
    let (woken, _c, _cli, _k) = connect(false);
    assert!(!woken, "no wait registered: no token");
    let (woken, mut c, mut cli, k) = connect(true);
    assert!(woken, "the connect's own wait: a token once established");
    let (r, _) = c.handle(
        &mut cli,
        t(),
        Request::ConnectStatus { id: k, wait: false },
        vec![],
    );
    assert_eq!(r, Ok(Body::Bool(true)));
}

#[test]
fn the_posted_close_and_setsockopt_have_no_reply_and_take_effect() {
    let (_, mut c, mut cli, k) = connect(true);
    let on = 1i32.to_ne_bytes();
    let req = Request::SetsockoptPost {
        id: k,
        level: libc::IPPROTO_TCP,
        name: libc::TCP_NODELAY,
        val: &on,
    };
    let (reply, fd) = c.serve(&mut cli, t(), req, vec![]);
    assert!(reply.is_none() && fd.is_empty());
    let mut v = [0u8; 4];
    c.stack
        .getsockopt(
            stack::SocketHandle::from_u64(k),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &mut v,
        )
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v), 1, "TCP_NODELAY set");
    let refused = c.posts_refused;
    let bad = Request::SetsockoptPost {
        id: k,
        level: libc::IPPROTO_TCP,
        name: 9999,
        val: &on,
    };
    assert!(c.serve(&mut cli, t(), bad, vec![]).0.is_none());
    assert_eq!(c.posts_refused, refused + 1, "a failure is counted");
    assert!(c.socks.contains_key(&k));
    assert_eq!(
        c.serve(&mut cli, t(), Request::ClosedPost { id: k }, vec![])
            .0,
        None
    );
    assert!(
        !cli.attached.contains(&k),
        "the last close: no longer this client's"
    );
}

#[test]
fn a_posted_connect_has_no_reply_and_its_token_comes_once_established() {
    let mut c = core();
    let (mut srv, mut cli) = (trusted(), trusted());
    let (_l, a) = listener_8080(&mut c, &mut srv);
    let k = socket(&mut c, &mut cli);
    tokens(&k.1);
    let (reply, fd) = c.serve(
        &mut cli,
        t(),
        Request::ConnectPost { id: k.0, addr: a },
        vec![],
    );
    assert!(reply.is_none() && fd.is_empty(), "no reply");
    assert_eq!(tokens(&k.1), 0, "in progress: no token yet");
    drive(&mut c);
    assert!(tokens(&k.1) > 0, "the wait registered: a token once open");
    let (r, _) = c.handle(
        &mut cli,
        t(),
        Request::ConnectStatus {
            id: k.0,
            wait: false,
        },
        vec![],
    );
    assert_eq!(r, Ok(Body::Bool(true)));
}

#[test]
fn a_posted_connect_known_at_once_sets_the_token_and_the_next_status_answers_it() {
    let mut c = core();
    let mut cli = trusted();
    // No route there: the connect fails at once.
    let far = std::net::SocketAddr::from(([192, 0, 2, 1], 80));
    let k0 = socket(&mut c, &mut cli);
    let sent = Request::Connect {
        id: k0.0,
        addr: Some(far),
        wait: true,
    };
    let want = c.handle(&mut cli, t(), sent, vec![]).0.map(|_| ());
    assert!(
        !matches!(want, Ok(()) | Err(Errno::EINPROGRESS)),
        "{want:?}"
    );
    let k = socket(&mut c, &mut cli);
    tokens(&k.1);
    let post = || Request::ConnectPost { id: k.0, addr: far };
    let (reply, _) = c.serve(&mut cli, t(), post(), vec![]);
    assert!(reply.is_none(), "no reply");
    assert!(tokens(&k.1) > 0, "a token for the sleeping client");
    let status = || Request::ConnectStatus {
        id: k.0,
        wait: false,
    };
    let (r, _) = c.handle(&mut cli, t(), status(), vec![]);
    assert_eq!(r.map(|_| ()), want, "the outcome it had no reply for");
    let (r, _) = c.handle(&mut cli, t(), status(), vec![]);
    assert_ne!(r.map(|_| ()), want, "answered once");
    // A `Connect` with a reply forgets an outcome nobody asked for.
    c.serve(&mut cli, t(), post(), vec![]);
    let again = Request::Connect {
        id: k.0,
        addr: Some(far),
        wait: true,
    };
    assert_eq!(c.handle(&mut cli, t(), again, vec![]).0.map(|_| ()), want);
    let (r, _) = c.handle(&mut cli, t(), status(), vec![]);
    assert_ne!(r.map(|_| ()), want);
}
