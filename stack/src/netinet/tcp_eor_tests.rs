//! Packet-trace tests of send(MSG_EOR) as Linux keeps it (packetdrill's
//! gtests/net/tcp/eor): no segment, first transmission or retransmission,
//! joins data across the end of a record, and a segment ending a record
//! carries PSH.

use std::time::Duration;

use crate::linux::{IPPROTO_TCP, MSG_EOR, TCP_NODELAY};
use crate::testing::trace::{accepted_with, me, peer, recv_all, send, t0, Seg, ME};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, SocketHandle, Stack};

const ACK: TcpFlags = TcpFlags::ACK;
const PSH: TcpFlags = TcpFlags::PSH;

/// A connection accepted from peer:5000 (MSS 1000, SACK, no timestamps):
/// (socket, our ISN + 1).
fn accepted(s: &Stack) -> (SocketHandle, u32) {
    let opts = TcpOptions {
        mss: Some(1000),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    accepted_with(s, opts)
}

fn ack(s: &Stack, at: Duration, n: u32, sack: Option<(u32, u32)>) {
    let mut g = Seg::new(peer(5000), me(8080), 1, n, ACK);
    g.options.sack_blocks[0] = sack;
    send(s, t0() + at, &g);
}

/// (offset from our ISN + 1, length, PSH) of each segment.
fn shape(segs: &[Seg], iss: u32) -> Vec<(u32, usize, bool)> {
    segs.iter()
        .map(|g| (g.seq - iss, g.payload.len(), g.flags.contains(PSH)))
        .collect()
}

/// no-coalesce-small.pkt / no-coalesce-subsequent.pkt: the tail of a
/// write joins the MSG_EOR record after it (800 bytes), but nothing joins
/// a record: each 400-byte record and the write after them go apart,
/// each ending in PSH.
#[test]
fn msg_eor_records_are_never_joined() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s);
    let t = t0() + Duration::from_millis(10);
    assert_eq!(s.send(t, c, &[1; 10400], 0, None), Ok(10400));
    for _ in 0..3 {
        assert_eq!(s.send(t, c, &[2; 400], MSG_EOR, None), Ok(400));
    }
    assert_eq!(s.send(t, c, &[3; 3000], 0, None), Ok(3000));
    assert_eq!(recv_all(&s).len(), 10, "the initial window");
    ack(&s, Duration::from_millis(11), iss + 10000, None);
    let segs = recv_all(&s);
    assert_eq!(
        shape(&segs, iss),
        vec![
            (10000, 800, true),
            (10800, 400, true),
            (11200, 400, true),
            (11600, 1000, false),
            (12600, 1000, false),
            (13600, 1000, true),
        ]
    );
}

/// no-coalesce-retrans.pkt: retransmissions keep the records apart too,
/// with their PSH.
#[test]
fn retransmissions_keep_records_apart() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s);
    let t = t0() + Duration::from_millis(10);
    // (Without TCP_NODELAY Nagle would hold the last small record.)
    let one = 1i32.to_ne_bytes();
    s.setsockopt(t, c, IPPROTO_TCP, TCP_NODELAY, &one).unwrap();
    for _ in 0..5 {
        assert_eq!(s.send(t, c, &[2; 400], MSG_EOR, None), Ok(400));
    }
    let first = recv_all(&s);
    assert_eq!(
        shape(&first, iss),
        (0..5).map(|i| (i * 400, 400, true)).collect::<Vec<_>>()
    );
    // The first two are lost: SACKed beyond them, then the RTO.
    ack(
        &s,
        Duration::from_millis(20),
        iss,
        Some((iss + 800, iss + 2000)),
    );
    let mut segs = recv_all(&s);
    while segs.is_empty() {
        let due = s.poll_timeout().expect("a recovery timer");
        s.handle_timeout(due);
        segs = recv_all(&s);
    }
    assert_eq!(shape(&segs[..1], iss), vec![(0, 400, true)], "{segs:#?}");
}
