//! Tests of the status regions (the data path's shared memory) through
//! the core: what a slot says, who holds a socket alone, and `Post`.

use std::net::SocketAddrV4;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use proto::region as r;
use proto::{Body, Request};
use stack::{Errno, Readiness};

use super::tests::{core, drive, socket, t, ME};
use super::{Core, Session};
use crate::region::Region;

/// A client after `Hello`: trusted, with its region.
fn client(c: &mut Core) -> Session {
    let mut s = Session {
        trusted: true,
        ..Session::default()
    };
    let (rep, fd) = c.handle(
        &mut s,
        t(),
        Request::Hello {
            version: proto::VERSION,
        },
        vec![],
    );
    assert_eq!(rep, Ok(Body::None));
    assert!(
        fd.is_some(),
        "the region's memfd comes with the reply to Hello"
    );
    assert!(s.region.is_some());
    s
}

/// One request as the loop serves it; the reply decoded (Ok(None) for
/// a `Post`, which has no reply).
fn call(c: &mut Core, s: &mut Session, req: Request<'_>) -> Result<Option<Body<'static>>, Errno> {
    let (b, _) = c.serve(s, t(), req, vec![]);
    drive(c);
    match b {
        None => Ok(None),
        Some(b) => match proto::msg::decode_reply(&b).unwrap() {
            Ok(Body::Recv { data, .. }) => {
                // Leak the bytes for the test's comparisons.
                let d: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
                Ok(Some(Body::Recv {
                    full_len: d.len() as u64,
                    from: None,
                    data: d,
                    info: None,
                }))
            }
            Ok(Body::None) => Ok(Some(Body::None)),
            Ok(_) => Ok(Some(Body::None)),
            Err(e) => Err(e),
        },
    }
}

/// A second client that holds socket `sid` (a forked child, a receiver
/// by SCM_RIGHTS): attached by passing its anchor `a`.
fn holder(c: &mut Core, a: &OwnedFd, sid: u64) -> Session {
    let mut s = client(c);
    let (rep, _) = c.handle(
        &mut s,
        t(),
        Request::Attach { count: 1 },
        vec![a.try_clone().unwrap()],
    );
    assert_eq!(rep, Ok(Body::Ids(vec![sid])));
    s
}

pub(super) fn slot(s: &Session, id: u64) -> r::Slot {
    let reg: &Rc<Region> = s.region.as_ref().unwrap();
    let off = r::slot_offset(r::index_of(id)).unwrap();
    r::Slot {
        id: reg.read_word(off + r::S_ID),
        ready: reg.read_word(off + r::S_READY),
        rcv_cc: reg.read_word(off + r::S_RCV_CC),
        snd_space: reg.read_word(off + r::S_SND_SPACE),
        ring: reg.read_word(off + r::S_RING),
        rx_head: reg.read_word(off + r::S_RX_HEAD),
        snd_used: reg.read_word(off + r::S_SND_USED),
    }
}

fn posted(s: &Session) -> u64 {
    s.region.as_ref().unwrap().read_word(r::H_POSTED)
}

/// Server and client sessions with an accepted connection between them:
/// (core, server session, accepted id and anchor, client session, client id).
fn pair() -> (Core, Session, (u64, OwnedFd), Session, u64) {
    let mut c = core();
    let (mut srv, mut cli) = (client(&mut c), client(&mut c));
    let a: std::net::SocketAddr = SocketAddrV4::new(ME, 8080).into();
    let l = socket(&mut c, &mut srv).0;
    assert!(call(&mut c, &mut srv, Request::Bind { id: l, addr: a }).is_ok());
    assert!(call(&mut c, &mut srv, Request::Listen { id: l, backlog: 8 }).is_ok());
    let ls = slot(&srv, l);
    assert!(ls.flag(r::F_LISTENING) && ls.flag(r::F_EXCLUSIVE), "{ls:?}");
    assert_eq!(ls.poll_value() & Readiness::IN.0, 0, "nothing queued yet");
    let k = socket(&mut c, &mut cli).0;
    let _ = call(
        &mut c,
        &mut cli,
        Request::Connect {
            id: k,
            addr: Some(a),
            wait: false,
        },
    );
    assert_ne!(
        slot(&srv, l).poll_value() & Readiness::IN.0,
        0,
        "a connection queued"
    );
    let (rep, fd) = c.handle(
        &mut srv,
        t(),
        Request::Accept { id: l, wait: false },
        vec![],
    );
    let Ok(Body::Accepted { id, .. }) = rep else {
        panic!("{rep:?}")
    };
    (c, srv, (id, fd.unwrap()), cli, k)
}

#[test]
fn a_slot_shows_what_is_readable_and_is_cleared_by_the_read() {
    let (mut c, mut srv, (sid, _a), mut cli, k) = pair();
    let s = slot(&srv, sid);
    assert_eq!(s.id, sid + 1, "the slot names the socket (id + 1)");
    assert!(s.flag(r::F_EXCLUSIVE) && s.flag(r::F_STREAM_OPEN), "{s:?}");
    assert_eq!((s.rcv_cc, s.poll_value() & Readiness::IN.0), (0, 0));
    assert!(
        slot(&cli, k).snd_space > 0,
        "an established socket has room"
    );
    let send = Request::Send {
        id: k,
        flags: 0,
        to: None,
        wait: false,
        data: b"hello",
    };
    assert!(call(&mut c, &mut cli, send).is_ok());
    drive(&mut c);
    let s = slot(&srv, sid);
    assert_eq!(s.rcv_cc, 0, "the data went to the ring: {s:?}");
    assert_eq!(s.rx_head, 5);
    assert!(s.ring().is_some());
    let recv = Request::Recv {
        id: sid,
        flags: 0,
        len: 100,
        wait: false,
    };
    assert!(call(&mut c, &mut srv, recv).is_ok());
    let s = slot(&srv, sid);
    assert_eq!(
        (s.rcv_cc, s.poll_value() & Readiness::IN.0),
        (0, 0),
        "{s:?}"
    );
    // Closed: the slot no longer names the socket.
    c.close_socket(t(), sid);
    assert_eq!(slot(&srv, sid).id, 0);
}

#[test]
fn a_socket_attached_by_a_second_client_is_no_ones_alone_until_it_goes() {
    let (mut c, srv, (sid, a), _cli, _k) = pair();
    let other = holder(&mut c, &a, sid);
    assert!(
        !slot(&srv, sid).flag(r::F_EXCLUSIVE),
        "shared: messages only"
    );
    assert!(!slot(&other, sid).flag(r::F_EXCLUSIVE));
    assert_eq!(
        slot(&other, sid).id,
        sid + 1,
        "the new holder has a slot too"
    );
    c.session_gone(&other);
    assert!(slot(&srv, sid).flag(r::F_EXCLUSIVE), "alone again");
}

#[test]
fn o_nonblock_set_by_one_holder_is_in_every_holders_slot() {
    // fork() after socket(): both processes hold the open file.
    let (mut c, mut srv, (sid, a), _cli, _k) = pair();
    let mut child = holder(&mut c, &a, sid);
    assert!(!slot(&srv, sid).flag(r::F_NONBLOCK) && !slot(&child, sid).flag(r::F_NONBLOCK));
    let on = Request::SetNonblock { id: sid, on: true };
    assert_eq!(call(&mut c, &mut child, on), Ok(Some(Body::None)));
    assert!(
        slot(&srv, sid).flag(r::F_NONBLOCK),
        "the parent sees the child's fcntl"
    );
    assert!(slot(&child, sid).flag(r::F_NONBLOCK));
    let off = Request::SetNonblock { id: sid, on: false };
    assert_eq!(call(&mut c, &mut srv, off), Ok(Some(Body::None)));
    assert!(!slot(&srv, sid).flag(r::F_NONBLOCK) && !slot(&child, sid).flag(r::F_NONBLOCK));
    // A third client names the socket without holding it: EBADF.
    let mut stranger = client(&mut c);
    let on = Request::SetNonblock { id: sid, on: true };
    assert_eq!(call(&mut c, &mut stranger, on), Err(Errno::EBADF));
    assert!(!slot(&srv, sid).flag(r::F_NONBLOCK));
    drop(a);
}

#[test]
fn a_shared_socket_is_the_other_clients_alone_once_one_closes_its_last_descriptor() {
    // Accept, fork, the child serves, the parent closes its copy.
    let (mut c, mut srv, (sid, a), mut cli, k) = pair();
    let child = holder(&mut c, &a, sid);
    assert!(!slot(&child, sid).flag(r::F_EXCLUSIVE), "shared");
    // A descriptor that was not the parent's last changes nothing.
    let not_last = Request::Closed {
        id: sid,
        last: false,
    };
    assert_eq!(call(&mut c, &mut srv, not_last), Ok(Some(Body::None)));
    assert!(!slot(&child, sid).flag(r::F_EXCLUSIVE));
    // The parent's last descriptor (the child's anchor keeps the socket).
    let last = Request::Closed {
        id: sid,
        last: true,
    };
    assert_eq!(call(&mut c, &mut srv, last), Ok(Some(Body::None)));
    assert_eq!(c.open_sockets(), 3, "the socket stays open");
    assert!(slot(&child, sid).flag(r::F_EXCLUSIVE), "the child's alone");
    assert_eq!(slot(&srv, sid).id, 0, "the parent's slot is cleared");
    let (rep, _) = c.handle(&mut srv, t(), Request::Getsockname { id: sid }, vec![]);
    assert_eq!(rep, Err(Errno::EBADF), "the parent no longer holds it");
    // Data for it goes to a ring of the child's region again.
    let send = Request::Send {
        id: k,
        flags: 0,
        to: None,
        wait: false,
        data: b"again",
    };
    assert!(call(&mut c, &mut cli, send).is_ok());
    drive(&mut c);
    let s = slot(&child, sid);
    assert_eq!((s.rx_head, s.ring().is_some()), (5, true), "{s:?}");
    drop(a);
}

#[test]
fn a_post_is_taken_whole_and_counted_or_refused_whole_and_counted() {
    let (mut c, mut srv, (sid, _a), mut cli, k) = pair();
    let post = |c: &mut Core, cli: &mut Session, data: &[u8]| {
        let rep = call(
            c,
            cli,
            Request::Post {
                id: k,
                flags: 0,
                data,
            },
        );
        assert_eq!(rep, Ok(None), "a post has no reply");
    };
    post(&mut c, &mut cli, b"abc");
    assert_eq!(posted(&cli), 3);
    drive(&mut c);
    let recv = Request::Recv {
        id: sid,
        flags: 0,
        len: 100,
        wait: false,
    };
    match call(&mut c, &mut srv, recv) {
        Ok(Some(Body::Recv { data, .. })) => assert_eq!(data, b"abc"),
        other => panic!("{other:?}"),
    }
    // Fill the send buffer (the server reads nothing: its window closes).
    let big = vec![7u8; proto::MAX_DATA];
    let mut total = 3;
    loop {
        let room = slot(&cli, k).snd_space as usize;
        if room == 0 {
            break;
        }
        let n = room.min(big.len());
        post(&mut c, &mut cli, &big[..n]);
        total += n as u64;
    }
    assert_eq!(c.posts_refused, 0);
    post(&mut c, &mut cli, b"x");
    assert_eq!(c.posts_refused, 1, "no room: refused whole");
    assert_eq!(
        posted(&cli),
        total + 1,
        "a refused post is counted all the same"
    );
    // A post on a socket the client does not hold does nothing to it.
    let rep = call(
        &mut c,
        &mut cli,
        Request::Post {
            id: sid,
            flags: 0,
            data: b"zz",
        },
    );
    assert_eq!(rep, Ok(None));
    assert_eq!(
        c.posts_refused, 2,
        "refused: not a socket this client holds"
    );
    assert_eq!(posted(&cli), total + 3);
}

fn readable_by_poll(c: &mut Core, s: &mut Session, id: u64) -> bool {
    let (b, _) = c.serve(
        s,
        t(),
        Request::Poll {
            items: vec![(id, 1)],
            wait: false,
        },
        vec![],
    );
    match proto::msg::decode_reply(&b.unwrap()).unwrap() {
        Ok(Body::Ready(v)) => v[0] & Readiness::IN.0 != 0,
        other => panic!("{other:?}"),
    }
}

fn send(c: &mut Core, s: &mut Session, id: u64, data: &[u8]) {
    let req = Request::Send {
        id,
        flags: 0,
        to: None,
        wait: false,
        data,
    };
    assert!(call(c, s, req).is_ok());
}

fn recv(c: &mut Core, s: &mut Session, id: u64, flags: i32) -> Result<Vec<u8>, Errno> {
    let req = Request::Recv {
        id,
        flags,
        len: 100,
        wait: false,
    };
    match call(c, s, req) {
        Ok(Some(Body::Recv { data, .. })) => Ok(data.to_vec()),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    }
}

#[test]
fn received_data_goes_to_the_ring_and_what_is_left_unread_comes_back_in_order() {
    let (mut c, mut srv, (sid, _a), mut cli, k) = pair();
    send(&mut c, &mut cli, k, b"hello");
    let s = slot(&srv, sid);
    let (ring, gen) = s.ring().expect("a ring is lent to a socket held alone");
    let reg = srv.region.clone().unwrap();
    let mut b = [0u8; 5];
    reg.ring_read(ring as u16, 0, &mut b);
    assert_eq!(&b, b"hello");
    assert_eq!(reg.consumer(ring as u16), r::consumer_word(gen, 0));
    // The slot's readiness is the stack's; the client adds its ring's.
    assert_eq!(s.poll_value() & Readiness::IN.0, 0);
    assert!(
        readable_by_poll(&mut c, &mut srv, sid),
        "the service counts the ring"
    );
    // The client takes "he" (as ring_recv's swap does).
    reg.set_consumer(ring as u16, r::consumer_word(gen, 2));
    let (rep, _) = c.serve(&mut srv, t(), Request::Sockinfo { id: sid }, vec![]);
    match proto::msg::decode_reply(&rep.unwrap()).unwrap() {
        Ok(Body::Info(i)) => assert_eq!(i.rcv_cc, 3, "FIONREAD counts the ring's unread bytes"),
        other => panic!("{other:?}"),
    }
    send(&mut c, &mut cli, k, b"world");
    assert_eq!(slot(&srv, sid).rx_head, 10);
    // Asked by message: the ring comes back, unread bytes first, in order.
    assert_eq!(recv(&mut c, &mut srv, sid, 0).unwrap(), b"lloworld");
    assert_eq!(
        reg.consumer(ring as u16) & r::C_REVOKED,
        r::C_REVOKED,
        "the client's next swap fails"
    );
    assert_eq!(
        recv(&mut c, &mut srv, sid, libc::MSG_DONTWAIT),
        Err(Errno::EAGAIN)
    );
    send(&mut c, &mut cli, k, b"again");
    let (ring2, gen2) = slot(&srv, sid).ring().expect("lent again");
    assert!(
        ring2 != ring || gen2 != gen,
        "a new lending is never taken for the old"
    );
}

#[test]
fn a_consumer_word_out_of_range_is_clamped_and_hurts_no_one_else() {
    let (mut c, mut srv, (sid, _a), mut cli, k) = pair();
    send(&mut c, &mut cli, k, b"abc");
    let (ring, gen) = slot(&srv, sid).ring().unwrap();
    let reg = srv.region.clone().unwrap();
    for w in [
        u64::MAX,
        r::consumer_word(gen, 1 << 40),
        r::consumer_word(gen ^ 1, 1),
    ] {
        reg.set_consumer(ring as u16, w);
        send(&mut c, &mut cli, k, b"x");
    }
    // The garbage counted as "all consumed" at most: never beyond what was
    // pushed, and the service goes on serving.
    let got = recv(&mut c, &mut srv, sid, 0).unwrap_or_default();
    assert!(got.len() <= 6, "{got:?}");
    send(&mut c, &mut cli, k, b"ok");
    assert!(slot(&srv, sid).ring().is_some());
}

#[test]
fn a_close_with_bytes_unread_in_the_ring_resets_the_peer() {
    let (mut c, mut srv, (sid, _a), mut cli, k) = pair();
    send(&mut c, &mut cli, k, b"unread");
    assert!(slot(&srv, sid).ring().is_some());
    assert_eq!(
        slot(&srv, sid).rcv_cc,
        0,
        "nothing left in the stack's queue"
    );
    c.close_socket(t(), sid);
    drive(&mut c);
    let _ = srv.region.take();
    let r = recv(&mut c, &mut cli, k, libc::MSG_DONTWAIT);
    assert_eq!(
        r,
        Err(Errno::ECONNRESET),
        "Linux resets a close with unread data"
    );
}
