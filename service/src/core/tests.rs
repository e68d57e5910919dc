//! Tests of the service core without a device: one stack, requests from
//! several sessions, loopback TCP (frames to our own address are fed back
//! by `poll_transmit`), anchors as real socket pairs.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use proto::{Body, Request};
use stack::{Config, Errno, Instant, SockType, Stack};

use super::{Core, Session};

pub(super) const ME: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);

pub(super) fn core() -> Core {
    Core::new(Stack::new(Config::new(ME, 24)))
}

pub(super) fn t() -> Instant {
    Instant::from_micros(1_000_000)
}

/// Move loopback frames until quiet, then refresh tokens.
pub(super) fn drive(c: &mut Core) {
    while let Some(f) = c.stack.poll_transmit() {
        c.stack.recycle(f);
    }
    c.sync_changed();
}

pub(super) fn trusted() -> Session {
    Session {
        trusted: true,
        ..Session::default()
    }
}

pub(super) fn socket(c: &mut Core, s: &mut Session) -> (u64, OwnedFd) {
    try_socket(c, s).unwrap_or_else(|e| panic!("socket: {e:?}"))
}

/// A TCP socket for session `s`: its id and its anchor, or the errno.
pub(super) fn try_socket(c: &mut Core, s: &mut Session) -> Result<(u64, OwnedFd), Errno> {
    let (r, fd) = c.handle(
        s,
        t(),
        Request::Socket {
            domain: stack::Domain::Inet,
            ty: SockType::Stream,
            protocol: 0,
            spares: 0,
        },
        vec![],
    );
    r.map(|b| match (b, fd) {
        (Body::Socket { id }, Some(fd)) => (id, fd),
        other => panic!("socket: {other:?}: an anchor comes with a new socket"),
    })
}

pub(super) fn ok(c: &mut Core, s: &mut Session, req: Request<'_>) {
    let (r, _) = c.handle(s, t(), req.clone(), vec![]);
    assert!(r.is_ok(), "{req:?} -> {r:?}");
}

/// A non-blocking accept on listener `l` that must succeed: the new
/// socket's id and its anchor.
fn accept(c: &mut Core, s: &mut Session, l: u64) -> (u64, Option<OwnedFd>) {
    let (r, fd) = c.handle(s, t(), Request::Accept { id: l, wait: false }, vec![]);
    let Ok(Body::Accepted { id, .. }) = r else {
        panic!("{r:?}")
    };
    (id, fd)
}

fn readable(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

fn drain(fd: &OwnedFd) {
    let mut b = [0u8; 16];
    let _ = nix::sys::socket::recv(
        fd.as_raw_fd(),
        &mut b,
        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    );
}

/// A listener in one session, a client in another, connected; returns
/// A listener of `srv`'s on port 8080 (backlog 8): its id and anchor, and
/// the address to connect to.
pub(super) fn listener_8080(c: &mut Core, srv: &mut Session) -> ((u64, OwnedFd), SocketAddr) {
    let l = socket(c, srv);
    let a: SocketAddr = SocketAddrV4::new(ME, 8080).into();
    ok(c, srv, Request::Bind { id: l.0, addr: a });
    ok(
        c,
        srv,
        Request::Listen {
            id: l.0,
            backlog: 8,
        },
    );
    (l, a)
}

/// (core, server session, listener id+anchor, client session, client id+anchor).
#[allow(clippy::type_complexity)]
pub(super) fn connected() -> (Core, Session, (u64, OwnedFd), Session, (u64, OwnedFd)) {
    let mut c = core();
    let (mut srv, mut cli) = (trusted(), trusted());
    let (l, a) = listener_8080(&mut c, &mut srv);
    let k = socket(&mut c, &mut cli);
    let (r, _) = c.handle(
        &mut cli,
        t(),
        Request::Connect {
            id: k.0,
            addr: Some(a),
            wait: false,
        },
        vec![],
    );
    assert!(matches!(r, Err(Errno::EINPROGRESS) | Ok(_)), "{r:?}");
    drive(&mut c);
    (c, srv, l, cli, k)
}

#[test]
fn a_connection_is_made_through_requests_and_the_listener_token_shows_it() {
    let (mut c, mut srv, l, _cli, _k) = connected();
    assert!(
        readable(&l.1),
        "a queued connection makes the listener's anchor readable"
    );
    let (r, fd) = c.handle(
        &mut srv,
        t(),
        Request::Accept {
            id: l.0,
            wait: false,
        },
        vec![],
    );
    assert!(matches!(r, Ok(Body::Accepted { .. })), "{r:?}");
    assert!(fd.is_some());
    drain(&l.1);
    let (r, _) = c.handle(
        &mut srv,
        t(),
        Request::Accept {
            id: l.0,
            wait: true,
        },
        vec![],
    );
    assert_eq!(r, Err(Errno::EAGAIN));
    assert!(!readable(&l.1), "no token while nothing is queued");
}

#[test]
fn data_flows_and_the_reader_wakes_by_token() {
    let (mut c, mut srv, l, mut cli, k) = connected();
    let (sid, a) = accept(&mut c, &mut srv, l.0);
    let a = a.unwrap();
    drain(&a);
    let (r, _) = c.handle(
        &mut srv,
        t(),
        Request::Recv {
            id: sid,
            flags: 0,
            len: 100,
            wait: true,
        },
        vec![],
    );
    assert_eq!(r, Err(Errno::EAGAIN));
    assert!(!readable(&a));
    ok(
        &mut c,
        &mut cli,
        Request::Send {
            id: k.0,
            flags: 0,
            to: None,
            wait: false,
            data: b"hello",
        },
    );
    drive(&mut c);
    assert!(readable(&a), "data makes the anchor readable");
    let (r, _) = c.handle(
        &mut srv,
        t(),
        Request::Recv {
            id: sid,
            flags: 0,
            len: 100,
            wait: false,
        },
        vec![],
    );
    match r {
        Ok(Body::Recv { data, .. }) => assert_eq!(data, b"hello"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_client_names_only_sockets_it_holds_and_proves_it_with_the_anchor() {
    let (mut c, _srv, l, _cli, _k) = connected();
    let mut other = Session::default();
    let (r, _) = c.handle(
        &mut other,
        t(),
        Request::Listen {
            id: l.0,
            backlog: 1,
        },
        vec![],
    );
    assert_eq!(r, Err(Errno::EBADF), "an id alone is not a right");
    for forged in [u64::MAX, u64::MAX - 1, l.0 + 1, l.0 ^ (1 << 32)] {
        let (r, _) = c.handle(&mut other, t(), Request::Getsockname { id: forged }, vec![]);
        assert_eq!(r, Err(Errno::EBADF), "forged id {forged:#x}");
    }
    // Attach with a dup of the listener's anchor (as a forked child
    // holds it) and with something that is not an anchor.
    let unrelated: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let fds = vec![l.1.try_clone().unwrap(), unrelated];
    let (r, _) = c.handle(&mut other, t(), Request::Attach { count: 2 }, fds);
    assert_eq!(r, Ok(Body::Ids(vec![l.0, proto::NOT_AN_ANCHOR])));
    // ... but uses what it holds, as an nginx worker after setuid(nobody).
    let (r, _) = c.handle(&mut other, t(), Request::Getsockname { id: l.0 }, vec![]);
    assert_eq!(r, Ok(Body::Addr(SocketAddrV4::new(ME, 8080).into())));
    let (r, fd) = c.handle(
        &mut other,
        t(),
        Request::Accept {
            id: l.0,
            wait: false,
        },
        vec![],
    );
    assert!(
        matches!(r, Ok(Body::Accepted { .. })) && fd.is_some(),
        "{r:?}"
    );
    let (r, _) = c.handle(&mut other, t(), Request::Attach { count: 3 }, vec![]);
    assert_eq!(r, Err(Errno::EINVAL), "count must match the fds passed");
}

#[test]
fn the_last_close_anywhere_closes_the_socket() {
    let (mut c, mut srv, l, _cli, _k) = connected();
    let dup = l.1.try_clone().unwrap();
    let n = c.open_sockets();
    drop(l.1);
    let closed = Request::Closed {
        id: l.0,
        last: false,
    };
    ok(&mut c, &mut srv, closed);
    assert_eq!(c.open_sockets(), n, "a dup still holds the listener");
    drop(dup);
    let closed = Request::Closed {
        id: l.0,
        last: true,
    };
    ok(&mut c, &mut srv, closed);
    assert_eq!(c.open_sockets(), n - 1, "the last close closed it");
    let (r, _) = c.handle(&mut srv, t(), Request::Getsockname { id: l.0 }, vec![]);
    assert_eq!(r, Err(Errno::EBADF));
}

#[test]
fn the_hang_up_event_closes_with_a_fin_to_the_peer() {
    let (mut c, mut srv, l, mut cli, k) = connected();
    let (sid, a) = accept(&mut c, &mut srv, l.0);
    let a_fd = c.socks[&sid].anchor.as_fd().as_raw_fd();
    drop(a);
    c.anchor_event(t(), a_fd);
    drive(&mut c);
    let (r, _) = c.handle(
        &mut cli,
        t(),
        Request::Recv {
            id: k.0,
            flags: 0,
            len: 10,
            wait: false,
        },
        vec![],
    );
    assert!(
        matches!(r, Ok(Body::Recv { data: &[], .. })),
        "EOF at the peer: {r:?}"
    );
    assert!(readable(&k.1), "EOF is readable");
}

/// `sockshim stat`'s reference check (service/src/stat.rs): one reference
/// per anchored socket and one per queue entry, through queueing,
/// accepting and closing.
#[test]
fn stat_finds_one_reference_per_anchor_and_per_queue_entry() {
    let (mut c, mut srv, l, _cli, k) = connected();
    let stat = |c: &Core| String::from_utf8(crate::stat::stat_text(c, 2, None, 0)).unwrap();
    let line = |t: &str, id: u64| -> String {
        t.lines()
            .find(|l| l.starts_with(&format!("sock id={id} ")))
            .unwrap_or_default()
            .to_string()
    };
    let st = stat(&c);
    assert!(
        st.contains("\nservice held=2 sockets=3 clients=2 refs_mismatch=0\n"),
        "{st}"
    );
    assert!(line(&st, l.0).contains(" refs=1 held=1 queued=0 "), "{st}");
    assert!(line(&st, k.0).contains(" refs=1 held=1 queued=0 "), "{st}");
    let queued: Vec<&str> = st.lines().filter(|l| l.contains(" queued=1 ")).collect();
    assert_eq!(queued.len(), 1, "{st}");
    assert!(queued[0].contains(" refs=1 held=0 "), "{st}");
    let (sid, _fd) = accept(&mut c, &mut srv, l.0);
    let st = stat(&c);
    assert!(line(&st, sid).contains(" refs=1 held=1 queued=0 "), "{st}");
    assert!(
        st.contains(" held=3 sockets=3 clients=2 refs_mismatch=0\n"),
        "{st}"
    );
    c.close_socket(t(), sid);
    drive(&mut c);
    let st = stat(&c);
    assert!(
        line(&st, sid).is_empty() || line(&st, sid).contains(" refs=0 held=0 "),
        "{st}"
    );
    assert!(
        st.contains(" held=2 ") && st.contains(" refs_mismatch=0\n"),
        "{st}"
    );
}

/// A kernel socket of this process (never bound: nothing goes out).
fn kernel_socket(ty: i32) -> OwnedFd {
    // SAFETY: plain socket(2); the fd is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: just made, ours alone.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
}

fn inode(fd: &OwnedFd) -> u64 {
    crate::anchor::inode(fd.as_fd()).expect("a socket")
}

#[test]
fn a_reservation_is_held_for_its_socket_and_copied_to_its_holders_only() {
    let mut c = core();
    let mut a = trusted();
    let mut other = trusted();
    let (id, _anchor) = socket(&mut c, &mut a);
    let k = kernel_socket(libc::SOCK_STREAM);
    let k_ino = inode(&k);
    let reserved = |n| Request::Reserved { id, count: n };
    // Not a socket of the socket's type, or a count that does not match.
    let (r, _) = c.handle(
        &mut a,
        t(),
        reserved(1),
        vec![kernel_socket(libc::SOCK_DGRAM)],
    );
    assert_eq!(r.err(), Some(Errno::EINVAL));
    let (r, _) = c.handle(
        &mut a,
        t(),
        reserved(2),
        vec![kernel_socket(libc::SOCK_STREAM)],
    );
    assert_eq!(r.err(), Some(Errno::EINVAL));
    // A client that does not hold the socket can neither give nor take.
    let (r, _) = c.handle(
        &mut other,
        t(),
        reserved(1),
        vec![kernel_socket(libc::SOCK_STREAM)],
    );
    assert_eq!(r.err(), Some(Errno::EBADF));
    let (r, _) = c.handle(&mut a, t(), reserved(1), vec![k]);
    assert!(r.is_ok(), "{r:?}");
    // Once only.
    let (r, _) = c.handle(
        &mut a,
        t(),
        reserved(1),
        vec![kernel_socket(libc::SOCK_STREAM)],
    );
    assert_eq!(r.err(), Some(Errno::EINVAL));
    let copy = |c: &mut Core, s: &mut Session, index| {
        let (r, fd) = c.handle(s, t(), Request::Reservation { id, index }, vec![]);
        r.map(|_| fd.expect("the copy rides with the reply"))
    };
    let got = copy(&mut c, &mut a, 0).expect("a copy");
    assert_eq!(inode(&got), k_ino, "the same kernel socket");
    assert_eq!(copy(&mut c, &mut a, 1).err(), Some(Errno::ENOENT));
    assert_eq!(copy(&mut c, &mut other, 0).err(), Some(Errno::EBADF));
    // Moved: the kernel socket it became replaces the reservation.
    let m = kernel_socket(libc::SOCK_STREAM);
    let m_ino = inode(&m);
    let (r, _) = c.handle(&mut a, t(), Request::Moved { id }, vec![m]);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(inode(&copy(&mut c, &mut a, 0).expect("a copy")), m_ino);
    let (r, _) = c.handle(
        &mut a,
        t(),
        reserved(1),
        vec![kernel_socket(libc::SOCK_STREAM)],
    );
    assert_eq!(r.err(), Some(Errno::EINVAL), "no reservation after a move");
}
