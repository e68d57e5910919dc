//! Packet-trace tests of the SYN cache (tcp_syncache.rs) on the virtual
//! clock: what the handshake's last ACK brings to the new connection (its
//! window, data, FIN), TCP_DEFER_ACCEPT, Fast Open's child without data,
//! and each half-open entry's own SYN-ACK timer. Each pins what Linux
//! does (tcp_check_req, tcp_create_openreq_child, syn_ack_recalc,
//! tcp_fastopen_add_skb).

use std::time::Duration;

use crate::linux::{IPPROTO_TCP, TCP_DEFER_ACCEPT, TCP_INFO};
use crate::netinet::tcp_fastopen::tcp_fastopen_cookie_gen;
use crate::netinet::tcp_info::TCPI_OPT_SYN_DATA;
use crate::testing::trace::{me, peer, recv_all, recv_one, send, t0, Seg, ME, PEER};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, SocketHandle, Stack};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;

/// A stack without timestamps and SACK (window scaling as each test says).
fn stack() -> Stack {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    c.sysctl.tcp_sack = false;
    Stack::new(c)
}

/// A listener on :80, TCP_DEFER_ACCEPT `defer` seconds.
fn listener(s: &Stack, defer: i32) -> SocketHandle {
    let l = s.socket(SockType::Stream, 0).unwrap();
    if defer > 0 {
        s.setsockopt(t0(), l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer.to_ne_bytes())
            .unwrap();
    }
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    l
}

/// The SYN-ACK to peer:`port`'s SYN (ISN 1000, MSS 1000, window scale
/// `wscale`) sent at `now`.
fn syn(s: &Stack, now: crate::time::Instant, port: u16, wscale: Option<u8>) -> Seg {
    let opts = TcpOptions {
        mss: Some(1000),
        window_scale: wscale,
        ..TcpOptions::default()
    };
    send(
        s,
        now,
        &Seg::new(peer(port), me(80), 1000, 0, SYN).with_options(opts),
    );
    let sa = recv_one(s);
    assert_eq!((sa.flags, sa.ack, sa.dst), (SYN | ACK, 1001, peer(port)));
    sa
}

/// The handshake's last ACK from peer:`port` for SYN-ACK `sa`.
fn third(port: u16, sa: &Seg, flags: TcpFlags) -> Seg {
    Seg::new(peer(port), me(80), 1001, sa.seq.wrapping_add(1), flags)
}

fn tcp_info(s: &Stack, h: SocketHandle) -> [u8; 232] {
    let mut b = [0u8; 232];
    s.getsockopt(h, IPPROTO_TCP, TCP_INFO, &mut b).unwrap();
    b
}

/// The peer's window is the last ACK's, scaled by the shift its SYN
/// offered (Linux's tcp_create_openreq_child: `snd_wnd = window <<
/// snd_wscale`): with scale 3 and a window of 250 the new connection may
/// send 2000 bytes, two full segments of the peer's MSS, and no more.
#[test]
fn the_last_ack_window_is_scaled_by_the_peer_shift() {
    let s = stack();
    let l = listener(&s, 0);
    let sa = syn(&s, t0(), 5000, Some(3));
    assert!(sa.options.window_scale.is_some(), "scaling agreed");
    let mut ack = third(5000, &sa, ACK);
    ack.window = 250;
    send(&s, t0(), &ack);
    assert!(recv_all(&s).is_empty());
    let (c, _) = s.accept(l).unwrap();
    let info = tcp_info(&s, c);
    let snd_wnd = u32::from_ne_bytes(info[228..232].try_into().unwrap());
    assert_eq!(snd_wnd, 2000, "tcpi_snd_wnd: 250 << 3");
    assert_eq!(s.send(t0(), c, &[7u8; 5000], 0, None), Ok(5000));
    let out = recv_all(&s);
    let sizes: Vec<usize> = out.iter().map(|g| g.payload.len()).collect();
    assert_eq!(sizes, [1000, 1000], "the window holds two segments");
}

/// Data that comes with the handshake's last ACK is the connection's
/// first data: accept() returns the connection and recv() the bytes at
/// once, acknowledged (Linux's tcp_child_process runs the ACK's data
/// through the new socket).
#[test]
fn data_with_the_last_ack_is_delivered() {
    let s = stack();
    let l = listener(&s, 0);
    let sa = syn(&s, t0(), 5000, None);
    send(
        &s,
        t0(),
        &third(5000, &sa, ACK | TcpFlags::PSH).with_payload(b"hello"),
    );
    let (c, _) = s.accept(l).unwrap();
    let mut buf = [0u8; 16];
    let m = s.recv(t0(), c, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"hello");
    s.handle_timeout(t0() + Duration::from_millis(200));
    let acks = recv_all(&s);
    assert!(
        acks.iter().any(|g| g.ack == 1006),
        "the data is acknowledged: {acks:?}"
    );
}

/// A FIN with the handshake's last ACK: the connection is made and at
/// once half-closed by the peer (CLOSE_WAIT): recv() reports EOF.
#[test]
fn a_fin_with_the_last_ack_makes_a_half_closed_connection() {
    let s = stack();
    let l = listener(&s, 0);
    let sa = syn(&s, t0(), 5000, None);
    send(&s, t0(), &third(5000, &sa, ACK | FIN));
    let (c, _) = s.accept(l).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 0, "EOF");
    let acks = recv_all(&s);
    assert!(
        acks.iter().any(|g| g.ack == 1002),
        "the FIN is acknowledged: {acks:?}"
    );
}

/// TCP_DEFER_ACCEPT (Linux's tcp_check_req): while the deferring period
/// lasts, a bare ACK creates nothing (the entry is marked acked, the
/// SYN-ACK timer stays silent until the last round, whose SYN-ACK gives
/// the peer a last chance); an ACK with data, or with a FIN (its end_seq
/// is past the ISN + 1 too), creates the connection at once.
#[test]
fn defer_accept_waits_for_data_but_not_for_a_fin() {
    let s = stack();
    let l = listener(&s, 1); // one SYN-ACK round
    let sa = syn(&s, t0(), 5000, None);
    send(&s, t0(), &third(5000, &sa, ACK));
    assert!(recv_all(&s).is_empty(), "a bare ACK is dropped silently");
    assert_eq!(s.accept(l), Err(Errno::EAGAIN), "no connection yet");

    // A FIN ends the deferring: the connection is made, half-closed.
    let sa2 = syn(&s, t0(), 5001, None);
    send(&s, t0(), &third(5001, &sa2, ACK | FIN));
    let (c, from) = s.accept(l).expect("a FIN is not a bare ACK");
    assert_eq!(from, peer(5001));
    let mut buf = [0u8; 16];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 0, "EOF");
    recv_all(&s);

    // Data ends it too.
    let sa3 = syn(&s, t0(), 5002, None);
    send(
        &s,
        t0(),
        &third(5002, &sa3, ACK | TcpFlags::PSH).with_payload(b"GET /"),
    );
    let (c3, from) = s.accept(l).expect("data ends the deferring");
    assert_eq!(from, peer(5002));
    let m = s.recv(t0(), c3, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"GET /");
    recv_all(&s);

    // The first peer's last round: one SYN-ACK, whose ACK now makes the
    // connection even bare.
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
    s.handle_timeout(t0() + Duration::from_secs(1));
    let again = recv_one(&s);
    assert_eq!((again.flags, again.dst), (SYN | ACK, peer(5000)));
    send(&s, t0() + Duration::from_secs(1), &third(5000, &again, ACK));
    let (_, from) = s.accept(l).expect("the ACK after the last round");
    assert_eq!(from, peer(5000));
}

/// Each half-open connection's SYN-ACK is retransmitted on its own timer
/// (Linux's per-request reqsk timer): of two SYNs 500 ms apart, each
/// SYN-ACK is sent again one second after its own, not with the other's.
#[test]
fn each_half_open_entry_keeps_its_own_synack_timer() {
    let s = stack();
    let _l = listener(&s, 0);
    syn(&s, t0(), 5000, None);
    let half = t0() + Duration::from_millis(500);
    syn(&s, half, 5001, None);
    s.handle_timeout(t0() + Duration::from_millis(999));
    assert!(recv_all(&s).is_empty(), "nothing due before 1 s");
    s.handle_timeout(t0() + Duration::from_secs(1));
    let first = recv_one(&s);
    assert_eq!((first.flags, first.dst), (SYN | ACK, peer(5000)));
    s.handle_timeout(half + Duration::from_millis(999));
    assert!(recv_all(&s).is_empty(), "the second is not due yet");
    s.handle_timeout(half + Duration::from_secs(1));
    let second = recv_one(&s);
    assert_eq!((second.flags, second.dst), (SYN | ACK, peer(5001)));
}

/// A Fast Open SYN with a valid cookie and no data makes its connection
/// at once (tcp_try_fastopen), but no SYN data was acknowledged:
/// TCP_INFO's TCPI_OPT_SYN_DATA stays clear (Linux's
/// tcp_fastopen_add_skb returns before setting syn_data_acked when the
/// SYN ends at its ISN + 1); with data it is set.
#[test]
fn a_fast_open_child_without_syn_data_does_not_report_syn_data() {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_fastopen = 0x403;
    c.sysctl.tcp_fastopen_key = Some([7, 9]);
    c.sysctl.tcp_timestamps = false;
    let s = Stack::new(c);
    let l = listener(&s, 0);
    let cookie = tcp_fastopen_cookie_gen([7, 9], PEER.into(), ME.into());
    let fo_syn = |port: u16, data: &[u8]| {
        let opts = TcpOptions {
            mss: Some(1000),
            fast_open: Some(cookie),
            ..TcpOptions::default()
        };
        send(
            &s,
            t0(),
            &Seg::new(peer(port), me(80), 1000, 0, SYN)
                .with_options(opts)
                .with_payload(data),
        );
        let sa = recv_one(&s);
        assert_eq!(sa.flags, SYN | ACK);
        assert_eq!(sa.ack, 1001 + data.len() as u32);
        let (c, _) = s.accept(l).expect("a Fast Open child");
        tcp_info(&s, c)[5]
    };
    assert_eq!(fo_syn(5000, &[]) & TCPI_OPT_SYN_DATA, 0, "no SYN data");
    assert_ne!(fo_syn(5001, b"abc") & TCPI_OPT_SYN_DATA, 0, "SYN data");
}

/// The SYN-ACKs `s` sends from now until `until` (driving its timers):
/// (seconds after t0, the peer's port).
fn synacks_until(s: &Stack, until: crate::time::Instant) -> Vec<(u64, u16)> {
    let mut v = Vec::new();
    let mut rounds = 0;
    while let Some(t) = s.poll_timeout().filter(|t| *t <= until) {
        // A timer that fires without moving on fails here, not hangs.
        rounds += 1;
        assert!(
            rounds < 1000,
            "the listener's timer does not advance at {t:?}"
        );
        s.handle_timeout(t);
        for g in recv_all(s) {
            if g.flags == SYN | ACK {
                let at = t.saturating_duration_since(t0());
                assert_eq!(at.subsec_millis(), 0, "on a whole second: {at:?}");
                v.push((at.as_secs(), g.dst.port()));
            }
        }
    }
    v
}

/// A late bare ACK from peer:`port` for SYN-ACK `sa`: the entry is gone,
/// so the listener answers with a RST and makes nothing (Linux's
/// listener: an ACK without a request is reset).
fn late_ack_is_reset(s: &Stack, l: SocketHandle, at: crate::time::Instant, port: u16, sa: &Seg) {
    send(s, at, &third(port, sa, ACK));
    let out = recv_all(s);
    assert!(
        out.iter()
            .any(|g| g.dst == peer(port) && g.flags.contains(TcpFlags::RST)),
        "peer:{port}'s entry has expired: {out:?}"
    );
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
}

/// SYN-ACKs back off from 1 s, doubling (Linux's reqsk_timeout), and after
/// tcp_synack_retries (5) retransmissions the half-open connection is
/// dropped at 63 s, silently.
#[test]
fn synacks_back_off_then_the_entry_expires_after_synack_retries() {
    let s = stack();
    let l = listener(&s, 0);
    let sa = syn(&s, t0(), 5000, None);
    let until = t0() + Duration::from_secs(100);
    assert_eq!(
        synacks_until(&s, until),
        [(1, 5000), (3, 5000), (7, 5000), (15, 5000), (31, 5000)]
    );
    assert_eq!(s.poll_timeout(), None, "the entry is gone, no timer left");
    late_ack_is_reset(&s, l, until, 5000, &sa);
}

/// A listener's TCP_SYNCNT replaces tcp_synack_retries for its SYN-ACKs
/// (Linux's reqsk_timer_handler reads icsk_syn_retries first; checked on
/// Linux 6.18 with a raw SYN nobody completes: TCP_SYNCNT 2 on the
/// listener, tcp_synack_retries 5, gives SYN-ACKs at 0, 1 and 3 s and no
/// SYN-RECV left at 12 s). getsockopt(TCP_SYNCNT) of a listener without
/// it reads net.ipv4.tcp_syn_retries.
#[test]
fn a_listener_syncnt_bounds_its_synack_retries() {
    let s = stack();
    let l = s.socket(SockType::Stream, 0).unwrap();
    let mut v = [0u8; 4];
    s.getsockopt(l, IPPROTO_TCP, crate::linux::TCP_SYNCNT, &mut v)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v), 6, "unset: net.ipv4.tcp_syn_retries");
    s.setsockopt(
        t0(),
        l,
        IPPROTO_TCP,
        crate::linux::TCP_SYNCNT,
        &2i32.to_ne_bytes(),
    )
    .unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    let sa = syn(&s, t0(), 5000, None);
    let until = t0() + Duration::from_secs(100);
    assert_eq!(synacks_until(&s, until), [(1, 5000), (3, 5000)]);
    assert_eq!(s.poll_timeout(), None, "the entry is gone at 7 s");
    late_ack_is_reset(&s, l, until, 5000, &sa);
}

/// TCP_DEFER_ACCEPT of 7 s is 3 SYN-ACK rounds (secs_to_retrans): a peer
/// whose bare ACK came hears nothing until the deferring period's last
/// round (7 s), then SYN-ACKs as usual; a peer that never ACKed gets every
/// retransmission. Both are dropped after tcp_synack_retries (syn_ack_recalc:
/// the acked one lives at least the deferring period, here shorter).
#[test]
fn defer_accept_silences_the_synacks_of_an_acked_entry_until_its_last_round() {
    let s = stack();
    let l = listener(&s, 7);
    let mut v = [0u8; 4];
    s.getsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &mut v)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v), 7, "3 rounds: 1 + 2 + 4 s");
    let acked = syn(&s, t0(), 5000, None);
    send(&s, t0(), &third(5000, &acked, ACK));
    assert!(recv_all(&s).is_empty());
    let silent = syn(&s, t0(), 5001, None);
    let until = t0() + Duration::from_secs(100);
    let got = synacks_until(&s, until);
    let of = |port: u16| -> Vec<u64> {
        got.iter()
            .filter(|(_, p)| *p == port)
            .map(|(t, _)| *t)
            .collect()
    };
    assert_eq!(of(5000), [7, 15, 31], "acked: silent through 1 and 3 s");
    assert_eq!(of(5001), [1, 3, 7, 15, 31], "not acked: every round");
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
    late_ack_is_reset(&s, l, until, 5000, &acked);
    late_ack_is_reset(&s, l, until, 5001, &silent);
}

/// A deferring period longer than tcp_synack_retries: TCP_DEFER_ACCEPT of
/// 100 s is 7 rounds. An acked entry lives through all 7 (syn_ack_recalc:
/// expired only once past both), silent until the last, whose SYN-ACK
/// leaves at 127 s; the round after it waits min(1 s << 7, TCP_RTO_MAX
/// 120 s) = 120 s (Linux's reqsk_timeout), so the entry expires at 247 s
/// and an ACK at 200 s still makes the connection. An entry never acked is
/// dropped after tcp_synack_retries as usual.
#[test]
fn defer_accept_longer_than_synack_retries_keeps_an_acked_entry() {
    let s = stack();
    let l = listener(&s, 100);
    let acked = syn(&s, t0(), 5000, None);
    send(&s, t0(), &third(5000, &acked, ACK));
    let silent = syn(&s, t0(), 5001, None);
    let until = t0() + Duration::from_secs(200);
    let got = synacks_until(&s, until);
    let of = |port: u16| -> Vec<u64> {
        got.iter()
            .filter(|(_, p)| *p == port)
            .map(|(t, _)| *t)
            .collect()
    };
    assert_eq!(of(5001), [1, 3, 7, 15, 31]);
    assert_eq!(of(5000), [127], "only the last round's SYN-ACK");
    late_ack_is_reset(&s, l, until, 5001, &silent);
    send(&s, until, &third(5000, &acked, ACK));
    let (_, from) = s.accept(l).expect("the acked entry is still there");
    assert_eq!(from, peer(5000));
}
