//! Tests of accept without a round trip (handoff.rs) through the core,
//! driven as the loop drives it: connections on a listener held by one
//! client come as records on its anchor; an `Accept` by message waits
//! for them to be read; one never taken is reset when its anchors go,
//! and until taken it counts in the listener's backlog.

use std::io::IoSliceMut;
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use proto::region as r;
use proto::{Body, Request};
use stack::{Errno, Readiness};

use super::region_tests::slot;
use super::tests::{core, socket, t, ME};
use super::{Core, Session};

fn client(c: &mut Core, key: RawFd) -> Session {
    let mut s = Session {
        trusted: true,
        key,
        ..Session::default()
    };
    let hello = Request::Hello {
        version: proto::VERSION,
    };
    assert!(c.handle(&mut s, t(), hello, vec![]).1.is_some());
    s
}

/// What the loop does after a turn: frames, tokens, then the hand-offs
/// (to `srv`, the only client that listens here).
fn drive(c: &mut Core, srv: &mut Session) {
    for _ in 0..4 {
        while let Some(f) = c.stack.poll_transmit() {
            c.stack.recycle(f);
        }
        c.sync_changed();
        for (id, key) in c.take_handoffs() {
            assert_eq!(key, srv.key, "handed to the listener's holder");
            c.hand_off(srv, id);
        }
    }
}

/// Read a listener's anchor as the shim does: the record, if one came,
/// and the anchor it brings.
fn read_record(b: &OwnedFd) -> Option<(proto::handoff::Handed, OwnedFd)> {
    let mut buf = [0u8; proto::handoff::READ_BUF];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let m = recvmsg::<()>(
            b.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .ok()?;
        let mut fd = None;
        for c in m.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: installed for us by the kernel just now.
                fd = v.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
        (m.bytes, fd)
    };
    let h = proto::handoff::decode(&buf[..n]).unwrap()?;
    Some((h, fd.expect("a record brings its anchor")))
}

/// A listener of `srv` on port 8080 with backlog `backlog`, and a client
/// session with `n` sockets connecting to it.
fn setup(backlog: i32, n: usize) -> (Core, Session, (u64, OwnedFd), Session, Vec<u64>) {
    let mut c = core();
    let (mut srv, mut cli) = (client(&mut c, 100), client(&mut c, 101));
    let a: SocketAddr = SocketAddrV4::new(ME, 8080).into();
    let (l, lb) = socket(&mut c, &mut srv);
    assert!(c
        .handle(&mut srv, t(), Request::Bind { id: l, addr: a }, vec![])
        .0
        .is_ok());
    let listen = Request::Listen { id: l, backlog };
    assert!(c.serve(&mut srv, t(), listen, vec![]).0.is_some());
    drive(&mut c, &mut srv);
    assert!(slot(&srv, l).flag(r::F_HANDOFF), "held by one client");
    let mut ks = Vec::new();
    for _ in 0..n {
        let (k, kb) = socket(&mut c, &mut cli);
        std::mem::forget(kb); // the client keeps it
        let conn = Request::Connect {
            id: k,
            addr: Some(a),
            wait: false,
        };
        let _ = c.handle(&mut cli, t(), conn, vec![]);
        drive(&mut c, &mut srv);
        ks.push(k);
    }
    (c, srv, (l, lb), cli, ks)
}

#[test]
fn a_connection_comes_on_the_listeners_anchor_and_accept_waits_for_it() {
    let (mut c, mut srv, (l, lb), mut cli, ks) = setup(8, 1);
    assert_eq!(
        slot(&srv, l).poll_value() & Readiness::IN.0,
        0,
        "handed: nothing left in the queue"
    );
    // The record was written first: an accept by message is told to
    // read the anchor, not given the next connection.
    let (rep, fd) = c.handle(
        &mut srv,
        t(),
        Request::Accept { id: l, wait: false },
        vec![],
    );
    assert_eq!((rep, fd.is_some()), (Err(Errno::EINPROGRESS), false));
    let (h, nb) = read_record(&lb).expect("the record");
    assert_eq!((h.listener, h.peer.ip()), (l, std::net::IpAddr::V4(ME)));
    assert_eq!(slot(&srv, h.id).id, h.id + 1, "published to its holder");
    assert!(slot(&srv, h.id).flag(r::F_EXCLUSIVE));
    // Taken: the byte back; an accept then finds the queue empty.
    nix::sys::socket::send(nb.as_raw_fd(), &[1], MsgFlags::MSG_DONTWAIT).unwrap();
    let (rep, _) = c.handle(
        &mut srv,
        t(),
        Request::Accept { id: l, wait: false },
        vec![],
    );
    assert_eq!(rep, Err(Errno::EAGAIN));
    // The connection works: data from the client reaches it.
    let send = Request::Send {
        id: ks[0],
        flags: 0,
        to: None,
        data: b"hi",
        wait: false,
    };
    assert!(c.handle(&mut cli, t(), send, vec![]).0.is_ok());
    drive(&mut c, &mut srv);
    let recv = Request::Recv {
        id: h.id,
        flags: 0,
        len: 16,
        wait: false,
    };
    let (rep, _) = c.handle(&mut srv, t(), recv, vec![]);
    assert!(matches!(rep, Ok(Body::Recv { data: b"hi", .. })), "{rep:?}");
}

/// Linux: at most backlog + 1 connections wait for accept(); a handed
/// connection not yet taken is one of them.
#[test]
fn a_handed_connection_counts_in_the_backlog_until_taken() {
    let (mut c, mut srv, (l, lb), _cli, _ks) = setup(0, 2);
    let info = |c: &Core| {
        let mut v = [0u8; 256];
        c.stack
            .getsockopt(
                stack::SocketHandle::from_u64(l),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                &mut v,
            )
            .unwrap();
        // tcpi_unacked: a listener's queue (as Linux's ss -l Recv-Q).
        u32::from_ne_bytes(v[24..28].try_into().unwrap()) as usize
    };
    assert_eq!(info(&c), 1, "the first handed, the second refused");
    let (_, nb) = read_record(&lb).expect("the first");
    assert!(read_record(&lb).is_none(), "only one fits the backlog");
    nix::sys::socket::send(nb.as_raw_fd(), &[1], MsgFlags::MSG_DONTWAIT).unwrap();
    assert_eq!(c.untaken(l), 0);
    assert_eq!(info(&c), 0, "taken: out of the backlog");
    drive(&mut c, &mut srv);
}

/// Never taken (its record went with the listener's anchor): a reset,
/// as Linux's for a connection still queued on a closed listener.
/// Taken, then closed: a FIN.
#[test]
fn a_connection_never_taken_is_reset_one_taken_ends_with_a_fin() {
    for take in [false, true] {
        let (mut c, mut srv, (l, lb), mut cli, ks) = setup(8, 1);
        let (h, nb) = read_record(&lb).expect("the record");
        if take {
            nix::sys::socket::send(nb.as_raw_fd(), &[1], MsgFlags::MSG_DONTWAIT).unwrap();
        }
        drop(nb);
        let a = c.socks[&h.id].anchor.as_raw_fd();
        c.anchor_event(t(), a);
        let _ = l;
        drive(&mut c, &mut srv);
        let recv = Request::Recv {
            id: ks[0],
            flags: 0,
            len: 16,
            wait: false,
        };
        let (rep, _) = c.handle(&mut cli, t(), recv, vec![]);
        let want = if take { Ok(0) } else { Err(Errno::ECONNRESET) };
        let got = match rep {
            Ok(Body::Recv { data, .. }) => Ok(data.len()),
            Err(e) => Err(e),
            other => panic!("{other:?}"),
        };
        assert_eq!(got, want, "taken: {take}");
    }
}
