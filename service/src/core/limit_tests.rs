//! The per-client limits in the core: a client at its socket cap gets
//! EMFILE, past its buffer cap ENOBUFS, while another client goes on; an
//! accept refused leaves the connection queued; closing gives room back.

use std::os::fd::{AsRawFd, OwnedFd};

use proto::{Body, Request};
use stack::Errno;

use super::tests::{connected, core, drive, ok, t, trusted, try_socket as socket};
use super::{Core, Session};
use crate::limits::Limits;

/// Close the only descriptor of `s` (its anchor), as the shim does.
fn close(c: &mut Core, sess: &mut Session, s: (u64, OwnedFd)) {
    drop(s.1);
    ok(
        c,
        sess,
        Request::Closed {
            id: s.0,
            last: true,
        },
    );
}

fn accept(c: &mut Core, s: &mut Session, l: u64) -> Result<(u64, OwnedFd), Errno> {
    let (r, fd) = c.handle(s, t(), Request::Accept { id: l, wait: false }, vec![]);
    r.map(|b| match (b, fd) {
        (Body::Accepted { id, .. }, Some(fd)) => (id, fd),
        other => panic!("accept: {other:?}"),
    })
}

#[test]
fn a_client_at_its_socket_cap_gets_emfile_and_another_client_does_not() {
    let mut c = core();
    c.limits.sockets = 3;
    let (mut a, mut b) = (trusted(), trusted());
    let mut held: Vec<_> = (0..3).map(|_| socket(&mut c, &mut a).unwrap()).collect();
    assert_eq!(socket(&mut c, &mut a).err(), Some(Errno::EMFILE));
    let other = socket(&mut c, &mut b).expect("another client is not held to the first's cap");
    close(&mut c, &mut a, held.pop().unwrap());
    let again = socket(&mut c, &mut a).expect("a close gives the room back");
    assert_eq!(socket(&mut c, &mut a).err(), Some(Errno::EMFILE));
    drop((held, other, again));
}

#[test]
fn sockets_closed_any_way_do_not_count_against_the_cap() {
    let mut c = core();
    c.limits.sockets = 2;
    let mut a = trusted();
    for i in 0..10 {
        let s = socket(&mut c, &mut a).unwrap_or_else(|e| panic!("socket {i}: {e:?}"));
        if i % 2 == 0 {
            close(&mut c, &mut a, s);
        } else {
            // The last descriptor goes without a message (exit, kill -9 of
            // a forked child): the service sees the hang-up.
            let fd = c.socks[&s.0].anchor.as_raw_fd();
            drop(s.1);
            c.anchor_event(t(), fd);
        }
    }
    assert!(
        a.attached.len() <= 2,
        "closed sockets are not held: {}",
        a.attached.len()
    );
}

#[test]
fn an_accept_past_the_cap_is_emfile_and_leaves_the_connection_queued() {
    let (mut c, mut srv, l, _cli, _k) = connected();
    c.limits.sockets = 1;
    assert_eq!(accept(&mut c, &mut srv, l.0).err(), Some(Errno::EMFILE));
    assert_eq!(accept(&mut c, &mut srv, l.0).err(), Some(Errno::EMFILE));
    c.limits.sockets = 2;
    let (id, _fd) = accept(&mut c, &mut srv, l.0).expect("the connection waited in the queue");
    assert_ne!(id, l.0);
}

#[test]
fn buffer_memory_past_the_cap_is_enobufs_for_socket_and_accept() {
    let (mut c, mut srv, l, _cli, _k) = connected();
    let one = srv.sb.get();
    assert!(one > 0, "the listener's buffers are charged");
    // Room for the listener and one more socket like it.
    c.limits = Limits {
        sockets: 100,
        sbsize: 2 * one,
    };
    let s = socket(&mut c, &mut srv).expect("within the cap");
    assert_eq!(srv.sb.get(), 2 * one);
    assert_eq!(accept(&mut c, &mut srv, l.0).err(), Some(Errno::ENOBUFS));
    assert_eq!(socket(&mut c, &mut srv).err(), Some(Errno::ENOBUFS));
    let mut other = trusted();
    socket(&mut c, &mut other).expect("another client has its own budget");
    close(&mut c, &mut srv, s);
    assert_eq!(srv.sb.get(), one, "a close returns its charge");
    let (a, _afd) = accept(&mut c, &mut srv, l.0).expect("the connection stayed queued");
    // A bigger receive buffer is charged to its maker.
    let big = (4 * one as i32).to_ne_bytes();
    ok(
        &mut c,
        &mut srv,
        Request::Setsockopt {
            id: a,
            level: libc::SOL_SOCKET,
            name: libc::SO_RCVBUF,
            val: &big,
        },
    );
    assert!(
        srv.sb.get() > 2 * one,
        "SO_RCVBUF charged: {}",
        srv.sb.get()
    );
    drive(&mut c);
}
