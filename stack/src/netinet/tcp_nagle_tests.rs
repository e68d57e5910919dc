//! Packet-trace tests of when small segments leave, as Linux's
//! tcp_nagle_check (packetdrill's gtests/net/tcp/nagle): Nagle with
//! Minshall's rule, TCP_NODELAY, TCP_CORK, MSG_MORE, and the probe timer
//! that sends held data when nothing is in flight.

use std::time::Duration;

use crate::linux::{IPPROTO_TCP, MSG_MORE, TCP_CORK, TCP_NODELAY};
use crate::testing::trace::{accepted_with, me, peer, recv_all, recv_one, send, t0, Seg, ME};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, SocketHandle, Stack};

const ACK: TcpFlags = TcpFlags::ACK;
const PSH: TcpFlags = TcpFlags::PSH;

/// A connection accepted from peer:5000 (MSS 1000, no other options, RTT
/// 10 ms): (socket, our ISN + 1).
fn accepted(s: &Stack) -> (SocketHandle, u32) {
    let opts = TcpOptions {
        mss: Some(1000),
        ..TcpOptions::default()
    };
    accepted_with(s, opts)
}

fn setopt(s: &Stack, h: SocketHandle, name: i32, v: i32) {
    s.setsockopt(t0(), h, IPPROTO_TCP, name, &v.to_ne_bytes())
        .unwrap();
}

fn ack(s: &Stack, n: u32) {
    send(s, t0(), &Seg::new(peer(5000), me(8080), 1, n, ACK));
}

/// TCP_CORK holds small writes until it is removed (one segment then);
/// TCP_NODELAY set while corked pushes them too.
#[test]
fn cork_holds_until_uncorked_or_nodelay() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s);
    setopt(&s, c, TCP_CORK, 1);
    assert_eq!(s.send(t0(), c, &[1; 40], 0, None), Ok(40));
    assert_eq!(s.send(t0(), c, &[1; 40], 0, None), Ok(40));
    assert!(recv_all(&s).is_empty(), "corked");
    setopt(&s, c, TCP_CORK, 0);
    let d = recv_one(&s);
    assert_eq!((d.seq, d.flags, d.payload.len()), (iss, ACK | PSH, 80));
    ack(&s, iss + 80);

    setopt(&s, c, TCP_CORK, 1);
    assert_eq!(s.send(t0(), c, &[1; 40], 0, None), Ok(40));
    assert_eq!(s.send(t0(), c, &[1; 40], 0, None), Ok(40));
    assert!(recv_all(&s).is_empty(), "corked");
    setopt(&s, c, TCP_NODELAY, 1);
    let d = recv_one(&s);
    assert_eq!((d.seq, d.payload.len()), (iss + 80, 80));
}

/// Nagle (Minshall): a small segment goes at once when no other small one
/// is unacknowledged; the next waits for that ACK. Full segments are
/// never held.
#[test]
fn nagle_holds_a_second_small_segment_until_acked() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s);
    assert_eq!(s.send(t0(), c, &[1; 10], 0, None), Ok(10));
    assert_eq!(recv_one(&s).payload.len(), 10);
    assert_eq!(s.send(t0(), c, &[1; 10], 0, None), Ok(10));
    assert!(recv_all(&s).is_empty(), "a small segment is in flight");
    assert_eq!(s.send(t0(), c, &[1; 2000], 0, None), Ok(2000));
    let segs = recv_all(&s);
    assert_eq!(
        segs.iter().map(|g| g.payload.len()).collect::<Vec<_>>(),
        vec![1000, 1000],
        "full segments go, the 10-byte tail waits"
    );
    ack(&s, iss + 10);
    let d = recv_one(&s);
    assert_eq!((d.seq, d.payload.len()), (iss + 2010, 10));
}

/// MSG_MORE holds a partial tail even with TCP_NODELAY; with nothing in
/// flight it leaves on the probe timer, SRTT + 200 ms (Linux's RTO).
#[test]
fn msg_more_holds_until_the_probe_timer() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s);
    setopt(&s, c, TCP_NODELAY, 1);
    assert_eq!(s.send(t0(), c, &[1; 40], MSG_MORE, None), Ok(40));
    assert!(recv_all(&s).is_empty());
    let due = s.poll_timeout().expect("the probe timer");
    assert_eq!(due, t0() + Duration::from_millis(210));
    s.handle_timeout(due);
    let d = recv_one(&s);
    assert_eq!((d.seq, d.flags, d.payload.len()), (iss, ACK | PSH, 40));
}
