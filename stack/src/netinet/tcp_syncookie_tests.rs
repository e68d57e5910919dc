//! SYN cookies on the virtual clock: exact segments in, exact replies out
//! (tcp_syncookie.rs, tcp_syncache.rs), and a SYN flood between two stacks
//! during which a real connection is made.

use std::net::SocketAddr;
use std::time::Duration;

use crate::netinet::tcp_info::{TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE};
use crate::testing::pair::{Pair, A_ADDR, B_ADDR};
use crate::testing::trace::{me, peer, recv_all, recv_one, send, t0, Seg, ME};
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, SocketHandle, Stack};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;

fn stack_with(cookies: u8) -> Stack {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_syncookies = cookies;
    Stack::new(c)
}

/// A listener on :80 with `backlog`.
fn listener(s: &Stack, backlog: i32) -> SocketHandle {
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// The SYN-ACK to a SYN from peer:`port` (ISN 1000, `opts`).
fn syn(s: &Stack, now: Instant, port: u16, opts: TcpOptions) -> Seg {
    send(
        s,
        now,
        &Seg::new(peer(port), me(80), 1000, 0, SYN).with_options(opts),
    );
    let sa = recv_one(s);
    assert_eq!(sa.flags, SYN | ACK);
    assert_eq!(sa.ack, 1001);
    sa
}

fn full_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1400),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((5555, 0)),
        ..TcpOptions::default()
    }
}

/// The ACK completing a handshake with SYN-ACK `sa` (echoing its TSval).
fn ack_of(port: u16, sa: &Seg) -> Seg {
    let mut o = TcpOptions::default();
    if let Some((tsval, _)) = sa.options.timestamp {
        o.timestamp = Some((5556, tsval));
    }
    Seg::new(peer(port), me(80), 1001, sa.seq.wrapping_add(1), ACK).with_options(o)
}

#[test]
fn a_full_syn_queue_answers_with_a_cookie_whose_ack_makes_the_connection() {
    let s = stack_with(1);
    let l = listener(&s, 1);
    // The first SYN fills the queue (backlog 1) with an entry.
    let first = syn(&s, t0(), 5000, full_options());
    assert_eq!(s.stats().syncookies_sent, 0);
    // The second gets a cookie: no entry, so no retransmission later.
    let sa = syn(&s, t0(), 5001, full_options());
    assert_eq!(s.stats().syncookies_sent, 1);
    assert_eq!(s.stats().drop_listen_overflow, 0);
    s.handle_timeout(t0() + Duration::from_millis(1500));
    let rexmit = recv_all(&s);
    assert_eq!(rexmit.len(), 1, "only the entry's SYN-ACK is sent again");
    assert_eq!((rexmit[0].dst, rexmit[0].seq), (peer(5000), first.seq));
    // The cookie's ACK makes the connection, with the options the cookie
    // kept: MSS 1300 (the table's value under 1400), window scale 7, SACK
    // and timestamps.
    let now = t0() + Duration::from_secs(2);
    send(&s, now, &ack_of(5001, &sa));
    assert!(recv_all(&s).is_empty(), "no RST");
    assert_eq!(s.stats().syncookies_recv, 1);
    let (c, from) = s.accept(l).unwrap();
    assert_eq!(from, peer(5001));
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_state, 1, "ESTABLISHED");
    assert_eq!(ti.tcpi_snd_wscale, 7);
    assert_eq!(
        ti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_WSCALE | TCPI_OPT_TIMESTAMPS),
        TCPI_OPT_SACK | TCPI_OPT_WSCALE | TCPI_OPT_TIMESTAMPS
    );
    // MSS 1300 less the 12 bytes of the timestamp option.
    assert_eq!(ti.tcpi_snd_mss, 1288);
    // Data flows both ways.
    send(
        &s,
        now,
        &Seg::new(peer(5001), me(80), 1001, sa.seq.wrapping_add(1), ACK)
            .with_options(TcpOptions {
                timestamp: Some((5557, sa.options.timestamp.unwrap().0)),
                ..TcpOptions::default()
            })
            .with_payload(b"hello"),
    );
    let mut buf = [0u8; 16];
    assert_eq!(s.recv(now, c, &mut buf, 0).unwrap().copied, 5);
    assert_eq!(&buf[..5], b"hello");
    s.check_invariants();
}

#[test]
fn without_timestamps_a_cookie_keeps_neither_window_scale_nor_sack() {
    let s = stack_with(2);
    let l = listener(&s, 8);
    let opts = TcpOptions {
        timestamp: None,
        ..full_options()
    };
    let sa = syn(&s, t0(), 5000, opts);
    assert_eq!(s.stats().syncookies_sent, 1, "tcp_syncookies 2: always");
    assert_eq!(sa.options.window_scale, None);
    assert!(!sa.options.sack_permitted);
    assert_eq!(sa.options.timestamp, None);
    assert!(sa.options.mss.is_some(), "our MSS is offered as usual");
    send(&s, t0(), &ack_of(5000, &sa));
    let (c, _) = s.accept(l).unwrap();
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_WSCALE), 0);
    assert_eq!(ti.tcpi_snd_mss, 1300);
}

#[test]
fn the_cookie_timestamp_carries_the_peer_options() {
    let s = stack_with(2);
    let l = listener(&s, 8);
    for (i, (ws, sack)) in [
        (Some(7u8), true),
        (Some(0), false),
        (None, true),
        (None, false),
    ]
    .into_iter()
    .enumerate()
    {
        let port = 6000 + i as u16;
        let opts = TcpOptions {
            window_scale: ws,
            sack_permitted: sack,
            ..full_options()
        };
        let sa = syn(&s, t0(), port, opts);
        assert_eq!(sa.options.timestamp.map(|t| t.1), Some(5555));
        assert_eq!(sa.options.window_scale.is_some(), ws.is_some());
        assert_eq!(sa.options.sack_permitted, sack);
        // Nothing kept but the cookie: the connection made from the ACK
        // has what the SYN offered.
        send(&s, t0() + Duration::from_millis(300), &ack_of(port, &sa));
        let (c, from) = s.accept(l).unwrap();
        assert_eq!(from, peer(port));
        let ti = s.tcp_info(c).unwrap();
        assert_eq!(ti.tcpi_options & TCPI_OPT_WSCALE != 0, ws.is_some());
        assert_eq!(ti.tcpi_snd_wscale, ws.unwrap_or(0));
        assert_eq!(ti.tcpi_options & TCPI_OPT_SACK != 0, sack);
    }
    assert_eq!(s.stats().syncookies_recv, 4);
}

#[test]
fn a_forged_or_stale_cookie_gets_a_reset_and_is_counted() {
    let s = stack_with(1);
    let l = listener(&s, 1);
    syn(&s, t0(), 5000, full_options());
    let sa = syn(&s, t0(), 5001, full_options());
    // Wrong acknowledgment number: not our cookie.
    let mut bad = ack_of(5001, &sa);
    bad.ack = bad.ack.wrapping_add(1 << 24);
    send(&s, t0(), &bad);
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq), (RST, bad.ack));
    assert_eq!(s.stats().syncookies_failed, 1);
    // From another port: the 4-tuple is in the cookie.
    let mut other = ack_of(5002, &sa);
    other.src = peer(5002);
    send(&s, t0(), &other);
    assert_eq!(recv_one(&s).flags, RST);
    assert_eq!(s.stats().syncookies_failed, 2);
    // A cookie is good in its minute and the next: 61 s later it is.
    let sa2 = syn(&s, t0(), 5003, full_options());
    send(&s, t0() + Duration::from_secs(61), &ack_of(5003, &sa2));
    assert!(recv_all(&s).is_empty());
    assert_eq!(s.stats().syncookies_recv, 1);
    // 150 s later it is not, even while the listener keeps overflowing.
    let sa3 = syn(&s, t0() + Duration::from_secs(61), 5004, full_options());
    let later = t0() + Duration::from_secs(61 + 150);
    syn(&s, later, 5005, full_options());
    send(&s, later, &ack_of(5004, &sa3));
    assert_eq!(recv_one(&s).flags, RST);
    assert_eq!(s.stats().syncookies_failed, 3);
    assert_eq!(s.accept(l).map(|(_, a)| a), Ok(peer(5003)));
    s.check_invariants();
}

#[test]
fn cookie_acks_are_not_checked_long_after_the_last_overflow() {
    let s = stack_with(1);
    listener(&s, 1);
    syn(&s, t0(), 5000, full_options());
    let sa = syn(&s, t0(), 5001, full_options());
    // Three minutes without an overflow: an ACK for no entry is a plain
    // RST, not a failed cookie.
    send(&s, t0() + Duration::from_secs(180), &ack_of(5001, &sa));
    assert_eq!(recv_one(&s).flags, RST);
    assert_eq!(s.stats().syncookies_failed, 0);
}

#[test]
fn without_syncookies_a_full_syn_queue_drops_the_syn() {
    let s = stack_with(0);
    listener(&s, 1);
    syn(&s, t0(), 5000, full_options());
    send(&s, t0(), &Seg::new(peer(5001), me(80), 1000, 0, SYN));
    assert!(recv_all(&s).is_empty(), "dropped: the peer retries");
    assert_eq!(s.stats().drop_listen_overflow, 1);
    assert_eq!(s.stats().syncookies_sent, 0);
}

#[test]
fn a_cookie_ack_to_a_full_accept_queue_is_dropped_not_reset() {
    let s = stack_with(2);
    let l = listener(&s, 0);
    // Backlog 0 admits one connection (Linux: full when queued > backlog).
    let sa = syn(&s, t0(), 5000, full_options());
    let sa2 = syn(&s, t0(), 5001, full_options());
    send(&s, t0(), &ack_of(5000, &sa));
    // The accept queue filled after the second SYN-ACK left: its ACK is
    // ignored (the peer retries), not answered.
    send(&s, t0(), &ack_of(5001, &sa2));
    assert!(recv_all(&s).is_empty());
    assert_eq!(s.stats().drop_listen_overflow, 1);
    assert_eq!(s.stats().syncookies_recv, 1);
    // And a SYN meanwhile is dropped: the accept queue is full.
    send(&s, t0(), &Seg::new(peer(5002), me(80), 1000, 0, SYN));
    assert!(recv_all(&s).is_empty());
    assert_eq!(s.stats().drop_listen_overflow, 2);
    assert_eq!(s.accept(l).map(|(_, a)| a), Ok(peer(5000)));
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
}

/// A SYN flood from many ports of A's address against a listener on B
/// with backlog 8 (no flood handshake ever completes: A's stack answers
/// each SYN-ACK with a RST), and, during it, a real connect from A:
/// it completes, through a cookie, and carries data.
#[test]
fn a_syn_flood_does_not_stop_a_real_connection() {
    let mut p = Pair::new(15);
    let l = p.listener_b(80, 8);
    let flood = |p: &mut Pair, from: u16, n: u16| {
        for port in from..from + n {
            let syn = Seg::new(
                SocketAddr::new(A_ADDR.into(), port),
                SocketAddr::new(B_ADDR.into(), 80),
                0x1000_0000u32.wrapping_mul(u32::from(port)),
                0,
                SYN,
            );
            // Straight into B, as if from a raw socket on A's host.
            p.b.handle_frame(p.now, &syn.to_frame());
        }
    };
    flood(&mut p, 20_000, 500);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.a.connect(p.now, c, Some(SocketAddr::new(B_ADDR.into(), 80))),
        Err(Errno::EINPROGRESS)
    );
    flood(&mut p, 20_500, 500);
    p.drive_for(Duration::from_millis(200));
    let (s, _) = p.b.accept(l).expect("the real connection was accepted");
    assert_eq!(p.a.send(p.now, c, b"through the flood", 0, None), Ok(17));
    p.drive_for(Duration::from_millis(200));
    let mut buf = [0u8; 32];
    let n = p.b.recv(p.now, s, &mut buf, 0).unwrap().copied;
    assert_eq!(&buf[..n], b"through the flood");
    let st = p.b.stats();
    assert!(st.syncookies_sent >= 990, "{st:?}");
    assert_eq!(st.syncookies_recv, 1);
    p.check();
}
