//! Data into a receive window advertised as zero is dropped and answered
//! with an ACK even when the buffer has room, as Linux's tcp_data_queue
//! (TCPZeroWindowDrop): a persist probe's byte is not taken, so a sender
//! whose send buffer is full stays full (c-test 270 saw a splice into a
//! "full" socket move a byte in service mode). Room that opens is taken
//! once it has been advertised.

use super::tcp_tests::{passive_open, stack};
use crate::testing::trace::{me, peer, recv_all, send, t0, Seg};
use crate::wire::TcpFlags;

const ACK: TcpFlags = TcpFlags::ACK;

#[test]
fn a_probe_byte_into_a_zero_window_is_dropped_though_the_buffer_has_room() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    // The peer fills every byte the window offers, until it is zero.
    let (mut nxt, mut edge) = (1001u32, 1001u32 + 1460);
    let chunk = [7u8; 1460];
    let mut now = t0();
    let mut zero = false;
    for _ in 0..1000 {
        if nxt != edge {
            let n = (edge - nxt).min(1460) as usize;
            let seg = Seg::new(peer(5000), me(80), nxt, iss, ACK).with_payload(&chunk[..n]);
            send(&s, now, &seg);
            nxt += n as u32;
        } else {
            // A delayed ACK: let it go.
            now = s.poll_timeout().expect("a delayed ACK due");
            s.handle_timeout(now);
        }
        for a in recv_all(&s) {
            edge = a.ack + u32::from(a.window);
            zero = a.window == 0 && a.ack == nxt;
        }
        if zero {
            break;
        }
    }
    assert!(zero, "the window closed");
    let held = s.sockinfo(c).unwrap().rcv_cc;
    // The program reads a little: room, but too little for a window
    // update (less than an MSS): the peer still sees zero.
    let mut buf = [0u8; 100];
    assert_eq!(s.recv(now, c, &mut buf, 0).map(|m| m.copied), Ok(100));
    assert!(recv_all(&s).is_empty(), "no window update for 100 bytes");
    let drops = s.stats().drop_out_of_window;
    // The peer's persist probe: one byte at RCV.NXT.
    let probe = Seg::new(peer(5000), me(80), nxt, iss, ACK).with_payload(b"p");
    send(&s, now, &probe);
    let acks = recv_all(&s);
    assert_eq!(acks.len(), 1, "{acks:?}");
    // (The ACK offers the 100 bytes now: Linux would still say zero, by
    // its receiver-side silly window avoidance.)
    assert_eq!(acks[0].ack, nxt, "dropped, ACKed");
    assert_eq!(s.sockinfo(c).unwrap().rcv_cc, held - 100, "not taken");
    assert_eq!(s.stats().drop_out_of_window, drops + 1);
    // A read that makes room for a window update: then the byte is taken.
    let mut big = [0u8; 4000];
    assert_eq!(s.recv(now, c, &mut big, 0).map(|m| m.copied), Ok(4000));
    let upd = recv_all(&s);
    assert!(
        upd.iter().any(|a| a.ack == nxt && a.window > 0),
        "a window update: {upd:?}"
    );
    send(&s, now, &probe);
    assert_eq!(s.sockinfo(c).unwrap().rcv_cc, held - 4100 + 1, "taken now");
}
