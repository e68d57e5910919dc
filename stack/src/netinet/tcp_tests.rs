//! Packet-trace tests of the TCP state machine: exact segments in, exact
//! replies out (RFC 9293 transitions, RST/ACK acceptance, RFC 5961).

use std::time::Duration;

use crate::testing::trace::{me, peer, recv_all, recv_one, send, t0, Seg, ME};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, SocketHandle, Stack};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;
const FIN: TcpFlags = TcpFlags::FIN;

pub(super) fn stack() -> Stack {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    c.sysctl.tcp_sack = false;
    c.sysctl.tcp_window_scaling = false;
    Stack::new(c)
}

pub(super) fn mss(m: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(m),
        ..TcpOptions::default()
    }
}

/// connect(2) of `c` to peer:`port`: EINPROGRESS, and the SYN it sent.
fn connect_syn(s: &Stack, c: SocketHandle, port: u16) -> Seg {
    assert_eq!(
        s.connect(t0(), c, Some(peer(port))),
        Err(Errno::EINPROGRESS)
    );
    let syn = recv_one(s);
    assert_eq!((syn.flags, syn.dst), (SYN, peer(port)));
    syn
}

/// A socket in SYN_SENT towards peer:`port`, and the SYN it sent.
fn syn_sent(s: &Stack, port: u16) -> (SocketHandle, Seg) {
    let c = s.socket(SockType::Stream, 0).unwrap();
    (c, connect_syn(s, c, port))
}

/// A connect of `c` to peer:`port` that the peer refuses (RST|ACK to the
/// SYN): ECONNREFUSED. Returns where the SYN came from.
fn refused_connect(s: &Stack, c: SocketHandle, port: u16) -> std::net::SocketAddr {
    let syn = connect_syn(s, c, port);
    send(
        s,
        t0(),
        &Seg::new(peer(port), syn.src, 0, syn.seq + 1, RST | ACK),
    );
    assert_eq!(s.connect_status(c), Err(Errno::ECONNREFUSED));
    syn.src
}

/// Passive open on :80 from peer:5000 with ISN 1000; returns (listener,
/// accepted socket, our ISN).
pub(super) fn passive_open(s: &Stack) -> (SocketHandle, SocketHandle, u32) {
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    send(
        s,
        t0(),
        &Seg::new(peer(5000), me(80), 1000, 0, SYN).with_options(mss(1460)),
    );
    let synack = recv_one(s);
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.ack, 1001);
    assert_eq!(synack.options.mss, Some(1460));
    assert_eq!(
        s.accept(l),
        Err(Errno::EAGAIN),
        "not complete before the ACK"
    );
    send(
        s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, synack.seq + 1, ACK),
    );
    assert!(
        recv_all(s).is_empty(),
        "the handshake's last ACK gets no reply"
    );
    let (c, from) = s.accept(l).unwrap();
    assert_eq!(from, peer(5000));
    (l, c, synack.seq + 1)
}

/// Active open to peer:80; returns (socket, our snd_nxt).
fn active_open(s: &Stack) -> (SocketHandle, u32) {
    let (c, syn) = syn_sent(s, 80);
    assert_eq!(s.connect_status(c), Ok(false));
    send(
        s,
        t0(),
        &Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(mss(1460)),
    );
    let ack = recv_one(s);
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, syn.seq + 1, 5001));
    assert_eq!(s.connect_status(c), Ok(true));
    (c, syn.seq + 1)
}

#[test]
fn passive_open_three_way_handshake() {
    let s = stack();
    let (_l, c, _) = passive_open(&s);
    assert_eq!(s.getpeername(c), Ok(peer(5000)));
    assert_eq!(s.sockinfo(c).unwrap().tcp_state, 1);
}

#[test]
fn active_open_three_way_handshake() {
    let s = stack();
    let (c, _) = active_open(&s);
    assert_eq!(s.sockinfo(c).unwrap().tcp_state, 1);
    assert_eq!(
        s.connect(t0(), c, Some(peer(80))),
        Err(Errno::EISCONN),
        "blocking connect finished"
    );
}

#[test]
fn nonblocking_connect_sequence_like_linux() {
    let s = stack();
    let c = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Err(Errno::EINPROGRESS));
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Err(Errno::EALREADY));
    let syn = recv_one(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(mss(1460)),
    );
    recv_all(&s);
    assert!(s.sopoll(c).contains(crate::Readiness::OUT));
    assert_eq!(
        s.connect(t0(), c, Some(peer(80))),
        Ok(()),
        "Linux: connect after completion returns 0 once"
    );
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Err(Errno::EISCONN));
}

#[test]
fn rst_ack_to_syn_refuses_connection() {
    let s = stack();
    let c = s.socket(SockType::Stream, 0).unwrap();
    refused_connect(&s, c, 81);
    assert!(recv_all(&s).is_empty(), "no reply to a RST");
}

/// A refused connect releases only what was chosen for it (Linux's
/// tcp_disconnect keeps what SOCK_BINDPORT_LOCK / SOCK_BINDADDR_LOCK
/// hold): a port bound explicitly stays the socket's (another bind of it
/// is EADDRINUSE), and an address bound explicitly (with port 0) stays
/// through refused connects after the first.
#[test]
fn a_refused_connect_keeps_what_bind_chose() {
    let s = stack();
    let refused = |c: SocketHandle| refused_connect(&s, c, 81);
    let c = s.socket(SockType::Stream, 0).unwrap();
    s.bind(c, me(4000)).unwrap();
    assert_eq!(refused(c), me(4000));
    let other = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.bind(other, me(4000)), Err(Errno::EADDRINUSE));
    assert_eq!(s.getsockname(c).unwrap(), me(4000));
    assert_eq!(refused(c), me(4000), "the same port again");

    let c2 = s.socket(SockType::Stream, 0).unwrap();
    s.bind(c2, me(0)).unwrap();
    refused(c2);
    refused(c2);
    assert_eq!(s.getsockname(c2).unwrap().ip(), me(0).ip());
}

#[test]
fn rst_with_bad_ack_in_syn_sent_is_ignored() {
    let s = stack();
    let (c, syn) = syn_sent(&s, 81);
    send(
        &s,
        t0(),
        &Seg::new(peer(81), syn.src, 0, syn.seq + 7, RST | ACK),
    );
    assert_eq!(
        s.connect_status(c),
        Ok(false),
        "unacceptable ACK: RST ignored"
    );
}

#[test]
fn bad_ack_in_syn_sent_gets_rst() {
    let s = stack();
    let (_c, syn) = syn_sent(&s, 81);
    send(
        &s,
        t0(),
        &Seg::new(peer(81), syn.src, 77, syn.seq + 100, SYN | ACK),
    );
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq), (RST, syn.seq + 100));
}

#[test]
fn syn_to_closed_port_gets_rst_ack() {
    let s = stack();
    send(&s, t0(), &Seg::new(peer(4000), me(9), 555, 0, SYN));
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq, r.ack), (RST | ACK, 0, 556));
}

#[test]
fn ack_to_closed_port_gets_rst_with_its_ack_as_seq() {
    let s = stack();
    send(&s, t0(), &Seg::new(peer(4000), me(9), 555, 999, ACK));
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq), (RST, 999));
}

#[test]
fn rst_to_closed_port_is_not_answered() {
    let s = stack();
    send(&s, t0(), &Seg::new(peer(4000), me(9), 555, 999, RST));
    assert!(recv_all(&s).is_empty());
}

#[test]
fn exact_rst_resets_established_connection() {
    let s = stack();
    let (_l, c, _) = passive_open(&s);
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1001, 0, RST));
    let mut buf = [0u8; 10];
    assert_eq!(s.recv(t0(), c, &mut buf, 0), Err(Errno::ECONNRESET));
    assert_eq!(
        s.recv(t0(), c, &mut buf, 0).map(|m| m.copied),
        Ok(0),
        "then EOF"
    );
    assert!(recv_all(&s).is_empty());
}

#[test]
fn in_window_inexact_rst_gets_challenge_ack() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1500, 0, RST));
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq, r.ack), (ACK, iss, 1001));
    assert_eq!(s.sockinfo(c).unwrap().tcp_state, 1, "still established");
}

#[test]
fn syn_in_established_gets_challenge_ack() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1001, 0, SYN));
    let r = recv_one(&s);
    assert_eq!((r.flags, r.seq, r.ack), (ACK, iss, 1001));
    assert_eq!(s.sockinfo(c).unwrap().tcp_state, 1);
}

#[test]
fn out_of_window_data_is_acked_not_delivered() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001 + 10_000_000, iss, ACK).with_payload(b"zz"),
    );
    let r = recv_one(&s);
    assert_eq!((r.flags, r.ack), (ACK, 1001));
    assert_eq!(s.sockinfo(c).unwrap().rcv_cc, 0);
}

#[test]
fn old_duplicate_data_is_acked_and_trimmed() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | TcpFlags::PSH).with_payload(b"abc"),
    );
    recv_all(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | TcpFlags::PSH).with_payload(b"abcdef"),
    );
    let mut buf = [0u8; 16];
    let m = s.recv(t0(), c, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"abcdef");
}

#[test]
fn in_order_data_is_delivered_and_acked() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    let psh = ACK | TcpFlags::PSH;
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, psh).with_payload(b"hello"),
    );
    let r = recv_one(&s);
    assert_eq!(
        (r.flags, r.ack),
        (ACK, 1006),
        "the first data is acked at once (quick-ACK mode)"
    );
    assert_eq!(
        s.send(t0(), c, b"ok", 0, None),
        Ok(2),
        "a reply within the ACK delay: interactive"
    );
    let r = recv_one(&s);
    assert_eq!((r.flags, r.ack), (psh, 1006));
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1006, iss + 2, psh).with_payload(b"again"),
    );
    assert!(
        recv_all(&s).is_empty(),
        "interactive: the next ACK waits for a reply"
    );
    assert_eq!(s.send(t0(), c, b"!", 0, None), Ok(1));
    let r = recv_one(&s);
    assert_eq!(
        (r.ack, r.payload.as_slice()),
        (1011, &b"!"[..]),
        "the reply carries the ACK"
    );
    let mut buf = [0u8; 16];
    let m = s.recv(t0(), c, &mut buf, crate::linux::MSG_PEEK).unwrap();
    assert_eq!(&buf[..m.copied], b"helloagain");
    let m = s.recv(t0(), c, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"helloagain");
    assert_eq!(s.recv(t0(), c, &mut buf, 0), Err(Errno::EAGAIN));
}

#[test]
fn delayed_ack_fires_after_40ms() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK).with_payload(b"q"),
    );
    recv_all(&s);
    s.send(t0(), c, b"r", 0, None).unwrap();
    recv_all(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1002, iss + 1, ACK).with_payload(&[7u8; 100]),
    );
    assert!(
        recv_all(&s).is_empty(),
        "interactive connection: ACK delayed"
    );
    let at = s.poll_timeout().expect("delack timer");
    assert_eq!(at, t0() + Duration::from_millis(40));
    s.handle_timeout(at);
    let r = recv_one(&s);
    assert_eq!(r.ack, 1102);
}

#[test]
fn out_of_order_data_is_reassembled() {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    c.sysctl.tcp_window_scaling = false;
    let s = Stack::new(c);
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    let sack = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        ..Default::default()
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1000, 0, SYN).with_options(sack),
    );
    let synack = recv_one(&s);
    assert!(synack.options.sack_permitted);
    let iss = synack.seq + 1;
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1001, iss, ACK));
    let (c, _) = s.accept(l).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1004, iss, ACK).with_payload(b"def"),
    );
    let dup = recv_one(&s);
    assert_eq!(dup.ack, 1001, "duplicate ACK for the hole");
    assert_eq!(
        dup.options.sack_blocks[0],
        Some((1004, 1007)),
        "SACK reports the block"
    );
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK).with_payload(b"abc"),
    );
    let r = recv_one(&s);
    assert_eq!(r.ack, 1007, "hole filled: cumulative ACK");
    let mut buf = [0u8; 16];
    let m = s.recv(t0(), c, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"abcdef");
}

#[test]
fn passive_close_close_wait_then_last_ack() {
    let s = stack();
    let (l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | FIN),
    );
    let r = recv_one(&s);
    assert_eq!((r.flags, r.ack), (ACK, 1002));
    assert_eq!(s.sockinfo(c).unwrap().tcp_state, 8, "CLOSE_WAIT");
    let mut buf = [0u8; 4];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).map(|m| m.copied), Ok(0), "EOF");
    s.close(t0(), c).unwrap();
    let fin = recv_one(&s);
    assert_eq!((fin.flags, fin.seq), (FIN | ACK, iss));
    assert_eq!(s.socket_count(), 2, "LAST_ACK keeps the socket (PROTOREF)");
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1002, iss + 1, ACK));
    assert_eq!(s.socket_count(), 1, "freed when the FIN is acked");
    s.close(t0(), l).unwrap();
    assert_eq!(s.socket_count(), 0);
}

#[test]
fn active_close_fin_wait_and_time_wait() {
    let s = stack();
    let (c, snd) = active_open(&s);
    s.close(t0(), c).unwrap();
    let fin = recv_one(&s);
    assert_eq!((fin.flags, fin.seq), (FIN | ACK, snd));
    send(&s, t0(), &Seg::new(peer(80), fin.src, 5001, snd + 1, ACK));
    assert!(recv_all(&s).is_empty());
    send(
        &s,
        t0(),
        &Seg::new(peer(80), fin.src, 5001, snd + 1, ACK | FIN),
    );
    let r = recv_one(&s);
    assert_eq!((r.flags, r.ack), (ACK, 5002));
    assert_eq!(
        s.socket_count(),
        1,
        "TIME_WAIT holds the socket through PROTOREF"
    );
    s.handle_timeout(t0() + Duration::from_secs(59));
    assert_eq!(s.socket_count(), 1);
    s.handle_timeout(t0() + Duration::from_secs(60));
    assert_eq!(s.socket_count(), 0, "freed after 60 s of TIME_WAIT");
}

/// An RST at RCV.NXT ends TIME-WAIT (TIME-WAIT assassination, Linux's
/// default); with net.ipv4.tcp_rfc1337 set it is ignored. An RST off
/// RCV.NXT is dropped without the challenge ACK other states send.
#[test]
fn rst_in_time_wait_follows_tcp_rfc1337() {
    for rfc1337 in [false, true] {
        let s = stack();
        s.set_sysctl(crate::Sysctl {
            tcp_rfc1337: rfc1337,
            ..crate::Sysctl::default()
        });
        let (c, snd) = active_open(&s);
        s.close(t0(), c).unwrap();
        let fin = recv_one(&s);
        send(
            &s,
            t0(),
            &Seg::new(peer(80), fin.src, 5001, snd + 1, ACK | FIN),
        );
        assert_eq!(recv_one(&s).ack, 5002);
        assert_eq!(s.socket_count(), 1, "TIME_WAIT");
        send(&s, t0(), &Seg::new(peer(80), fin.src, 5100, 0, RST));
        assert!(recv_all(&s).is_empty(), "no challenge ACK in TIME_WAIT");
        assert_eq!(s.socket_count(), 1, "an RST off RCV.NXT is dropped");
        send(&s, t0(), &Seg::new(peer(80), fin.src, 5002, 0, RST));
        assert!(recv_all(&s).is_empty());
        let left = if rfc1337 { 1 } else { 0 };
        assert_eq!(s.socket_count(), left, "tcp_rfc1337 {rfc1337}");
    }
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let s = stack();
    let (c, snd) = active_open(&s);
    s.close(t0(), c).unwrap();
    let fin = recv_one(&s);
    // The peer's FIN crosses ours: it does not ack our FIN yet.
    send(&s, t0(), &Seg::new(peer(80), fin.src, 5001, snd, ACK | FIN));
    let r = recv_one(&s);
    assert_eq!(r.ack, 5002);
    send(&s, t0(), &Seg::new(peer(80), fin.src, 5002, snd + 1, ACK));
    assert_eq!(s.socket_count(), 1, "CLOSING -> TIME_WAIT");
    s.handle_timeout(t0() + Duration::from_secs(61));
    assert_eq!(s.socket_count(), 0);
}

#[test]
fn simultaneous_open_via_syn_received() {
    let s = stack();
    let c = s.socket(SockType::Stream, 0).unwrap();
    s.bind(c, me(7000)).unwrap();
    let _ = s.connect(t0(), c, Some(peer(7001)));
    let syn = recv_one(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(7001), me(7000), 300, 0, SYN).with_options(mss(1000)),
    );
    let synack = recv_one(&s);
    assert_eq!(
        (synack.flags, synack.seq, synack.ack),
        (SYN | ACK, syn.seq, 301)
    );
    send(
        &s,
        t0(),
        &Seg::new(peer(7001), me(7000), 301, syn.seq + 1, ACK),
    );
    assert_eq!(s.connect_status(c), Ok(true));
}

/// The SYNs of a connect nobody answers, in whole seconds from the
/// first, and when connect fails with ETIMEDOUT: TCP_SYNCNT `syncnt` (0:
/// unset) and net.ipv4.tcp_syn_linear_timeouts `linear`.
fn syn_times(syncnt: i32, linear: u32) -> (Vec<u64>, u64) {
    let mut cf = Config::new(ME, 24);
    cf.sysctl.tcp_syn_linear_timeouts = linear;
    let s = Stack::new(cf);
    let c = s.socket(SockType::Stream, 0).unwrap();
    if syncnt != 0 {
        let v = syncnt.to_ne_bytes();
        s.setsockopt(t0(), c, crate::linux::SOL_TCP, crate::linux::TCP_SYNCNT, &v)
            .unwrap();
    }
    let mut v = [0u8; 4];
    s.getsockopt(c, crate::linux::SOL_TCP, crate::linux::TCP_SYNCNT, &mut v)
        .unwrap();
    let want = if syncnt == 0 { 6 } else { syncnt };
    assert_eq!(
        i32::from_ne_bytes(v),
        want,
        "TCP_SYNCNT reads the sysctl when unset"
    );
    let _ = s.connect(t0(), c, Some(peer(80)));
    let first = recv_one(&s);
    let mut at = vec![0];
    loop {
        // TCP_INFO between two tries, as Linux 6.18 reports it (checked
        // there): tcpi_retransmits the tries so far, tcpi_backoff and the
        // doubling of tcpi_rto only past the linear ones.
        let mut ti = [0u8; 104];
        s.getsockopt(c, crate::linux::SOL_TCP, crate::linux::TCP_INFO, &mut ti)
            .unwrap();
        let tries = at.len() as u32 - 1;
        let backoff = tries.saturating_sub(linear);
        assert_eq!(
            (u32::from(ti[2]), u32::from(ti[4])),
            (tries, backoff),
            "retransmits, backoff"
        );
        let rto = u32::from_ne_bytes(ti[8..12].try_into().unwrap());
        assert_eq!(
            u64::from(rto),
            (1_000_000u64 << backoff.min(16)).min(120_000_000),
            "tcpi_rto"
        );
        let t = s
            .poll_timeout()
            .expect("a SYN timer until the connect fails");
        s.handle_timeout(t);
        let secs = (t - t0()).as_secs();
        if let Err(e) = s.connect_status(c) {
            assert_eq!(e, Errno::ETIMEDOUT);
            assert!(recv_all(&s).is_empty(), "no SYN when it gives up");
            return (at, secs);
        }
        let syn = recv_one(&s);
        assert_eq!((syn.flags, syn.seq), (SYN, first.seq), "the same SYN again");
        at.push(secs);
    }
}

/// SYN retransmissions as Linux 6.18 sends them (checked there with
/// tcpdump against a black hole): the first tcp_syn_linear_timeouts (4)
/// retransmissions wait 1 s each, then the wait doubles; connect fails
/// after TCP_SYNCNT + 4 retransmissions or once TCP_SYNCNT doublings from
/// 1 s have passed since the first SYN (tcp_model_timeout), whichever
/// comes first. With the sysctl at 0, the classic doubling.
#[test]
fn syn_is_retransmitted_with_backoff_then_times_out() {
    assert_eq!(syn_times(1, 4), (vec![0, 1, 2], 3));
    assert_eq!(syn_times(2, 4), (vec![0, 1, 2, 3, 4, 5], 7));
    assert_eq!(syn_times(3, 4), (vec![0, 1, 2, 3, 4, 5, 7, 11], 19));
    assert_eq!(syn_times(4, 4), (vec![0, 1, 2, 3, 4, 5, 7, 11, 19], 35));
    assert_eq!(
        syn_times(0, 4),
        (vec![0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131),
        "net.ipv4.tcp_syn_retries 6"
    );
    // Past 6 doublings the model adds TCP_RTO_MAX a try: TCP_SYNCNT 7
    // is 247 s, which here comes before the 127 tries (Linux: 127 SYNs,
    // the first 122 a second apart, then 2, 4, .. 32 s; ETIMEDOUT at
    // 253 s with its timers' slack).
    let (at, timeout) = syn_times(7, 120);
    assert_eq!((at.len(), at[120], at[126], timeout), (127, 120, 183, 247));
    assert_eq!(syn_times(2, 0), (vec![0, 1, 3], 7), "no linear tries");
    assert_eq!(syn_times(0, 0), (vec![0, 1, 3, 7, 15, 31, 63], 127));
}

#[test]
fn data_is_retransmitted_on_rto() {
    let s = stack();
    let (c, snd) = active_open(&s);
    assert_eq!(s.send(t0(), c, b"payload", 0, None), Ok(7));
    let d = recv_one(&s);
    assert_eq!((d.seq, d.payload.as_slice()), (snd, &b"payload"[..]));
    let at = s.poll_timeout().unwrap();
    s.handle_timeout(at);
    let again = recv_one(&s);
    assert_eq!((again.seq, again.payload), (snd, b"payload".to_vec()));
    assert!(s.stats().tcp_retransmits >= 1);
}

#[test]
fn zero_window_triggers_persist_probe() {
    let s = stack();
    let (c, syn) = syn_sent(&s, 80);
    let mut sa = Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(mss(1460));
    sa.window = 0;
    send(&s, t0(), &sa);
    recv_all(&s);
    assert_eq!(s.send(t0(), c, b"x", 0, None), Ok(1));
    assert!(recv_all(&s).is_empty(), "nothing into a zero window");
    let at = s.poll_timeout().expect("persist timer");
    s.handle_timeout(at);
    let probe = recv_one(&s);
    assert_eq!(probe.payload, b"x".to_vec(), "one-byte window probe");
}

#[test]
fn close_with_unread_data_sends_rst() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | TcpFlags::PSH).with_payload(b"unread"),
    );
    recv_all(&s);
    s.close(t0(), c).unwrap();
    let r = recv_one(&s);
    assert!(r.flags.contains(RST), "{r:?}");
    assert_eq!(s.stats().tcp_rst_sent, 1);
}

#[test]
fn linger_zero_close_sends_rst() {
    let s = stack();
    let (c, _) = active_open(&s);
    let mut l = [0u8; 8];
    l[..4].copy_from_slice(&1i32.to_ne_bytes());
    s.setsockopt(
        t0(),
        c,
        crate::linux::SOL_SOCKET,
        crate::linux::SO_LINGER,
        &l,
    )
    .unwrap();
    s.close(t0(), c).unwrap();
    assert!(recv_one(&s).flags.contains(RST));
    assert_eq!(s.socket_count(), 0);
}

#[test]
fn epipe_after_shutdown_write() {
    let s = stack();
    let (c, snd) = active_open(&s);
    s.shutdown(t0(), c, crate::linux::SHUT_WR).unwrap();
    let fin = recv_one(&s);
    assert_eq!((fin.flags, fin.seq), (FIN | ACK, snd));
    assert_eq!(s.send(t0(), c, b"x", 0, None), Err(Errno::EPIPE));
}

#[test]
fn listen_backlog_overflow_drops_syn() {
    let s = stack();
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 0).unwrap();
    for port in [5000u16, 5001, 5002] {
        send(&s, t0(), &Seg::new(peer(port), me(80), 1000, 0, SYN));
        if let Some(sa) = recv_all(&s).pop() {
            send(
                &s,
                t0(),
                &Seg::new(peer(port), me(80), 1001, sa.seq + 1, ACK),
            );
        }
    }
    // Backlog 0 admits one connection (Linux: full when queued > backlog).
    assert!(s.accept(l).is_ok());
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
    assert!(s.stats().drop_listen_overflow >= 1);
}

/// The accept queue's limit as TCP_INFO shows it on a listener
/// (tcpi_sacked, Linux's sk_max_ack_backlog): listen()'s backlog, clamped
/// to net.core.somaxconn, a negative one taken as unsigned (so
/// somaxconn); a second listen() on a listener sets it again. Checked on
/// Linux 6.18 (libc listen through ctypes: -1 and -5 give 4096, 4097
/// and 1 << 20 give 4096, 0 gives 0; listen(7) again gives 7).
#[test]
fn listen_backlog_is_clamped_to_somaxconn_like_linux() {
    let s = stack();
    let somax = s.sysctl().somaxconn as i32;
    for (backlog, want) in [
        (-1, somax),
        (-5, somax),
        (0, 0),
        (5, 5),
        (somax, somax),
        (somax + 1, somax),
        (1 << 20, somax),
    ] {
        let l = s.socket(SockType::Stream, 0).unwrap();
        s.listen(l, backlog).unwrap();
        let info = s.tcp_info(l).unwrap();
        assert_eq!(info.tcpi_sacked as i32, want, "listen({backlog})");
        s.listen(l, 7).unwrap();
        assert_eq!(s.tcp_info(l).unwrap().tcpi_sacked, 7, "listen again");
        s.close(t0(), l).unwrap();
    }
}

/// connect(AF_UNSPEC) on an established connection (Linux's
/// tcp_disconnect): the peer gets a RST from SND.NXT, the socket is
/// unconnected (ENOTCONN) and may connect again.
#[test]
fn connect_af_unspec_resets_an_established_connection() {
    let s = stack();
    let (c, snd) = active_open(&s);
    assert_eq!(s.connect(t0(), c, None), Ok(()));
    let rst = recv_one(&s);
    assert!(rst.flags.contains(RST), "{rst:?}");
    assert_eq!((rst.seq, rst.dst), (snd, peer(80)));
    assert_eq!(s.getpeername(c), Err(Errno::ENOTCONN));
    connect_syn(&s, c, 81);
}

/// A socket bound to a port of the wildcard address takes its address at
/// connect and gives it back at connect(AF_UNSPEC) (Linux's
/// inet_reset_saddr): while it is connected from ME a bind of another
/// socket to 127.0.0.1 on the port succeeds, and after the disconnect the
/// wildcard holds the port again (EADDRINUSE). Checked on Linux 6.18.
#[test]
fn connect_af_unspec_gives_the_port_back_to_the_wildcard() {
    let any = |port| std::net::SocketAddr::from(([0, 0, 0, 0], port));
    let lo = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let s = stack();
    let c = s.socket(SockType::Stream, 0).unwrap();
    s.bind(c, any(7100)).unwrap();
    connect_syn(&s, c, 80);
    let d = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.bind(d, lo(7100)), Ok(()), "connected from ME");
    s.close(t0(), d).unwrap();
    assert_eq!(s.connect(t0(), c, None), Ok(()));
    let _ = recv_all(&s);
    // Among them: the disconnected PCB is neither dropped nor TIME_WAIT.
    s.check_invariants();
    assert_eq!(s.getsockname(c), Ok(any(7100)));
    let e = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.bind(e, lo(7100)),
        Err(Errno::EADDRINUSE),
        "the wildcard's again"
    );
}

/// A connection's 4-tuple belongs to whoever holds it now: the peer reset
/// an accepted connection and connected again from the same port, and the
/// old socket, closed only then, must not take the new one's entry with
/// it when it is freed (pru_detach removes a tuple only if it is its own).
#[test]
fn freeing_a_reset_connection_leaves_its_tuple_to_the_new_one() {
    let s = stack();
    let (l, old, iss) = passive_open(&s);
    send(&s, t0(), &Seg::new(peer(5000), me(80), 1001, iss, RST));
    assert!(recv_all(&s).is_empty());
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 9000, 0, SYN).with_options(mss(1460)),
    );
    let synack = recv_one(&s);
    assert_eq!((synack.flags, synack.ack), (SYN | ACK, 9001));
    let iss2 = synack.seq + 1;
    send(&s, t0(), &Seg::new(peer(5000), me(80), 9001, iss2, ACK));
    let (new, from) = s.accept(l).unwrap();
    assert_eq!(from, peer(5000));
    s.close(t0(), old).unwrap();
    assert!(
        recv_all(&s).is_empty(),
        "the old one is over: nothing to send"
    );
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 9001, iss2, ACK | TcpFlags::PSH).with_payload(b"hi"),
    );
    let ack = recv_one(&s);
    assert_eq!(
        (ack.flags, ack.ack),
        (ACK, 9003),
        "the new one acknowledges"
    );
    let mut buf = [0u8; 8];
    assert_eq!(s.recv(t0(), new, &mut buf, 0).unwrap().copied, 2);
    assert_eq!(&buf[..2], b"hi");
    s.check_invariants();
}

/// listen() on a socket that has been through a connection is EINVAL, as
/// on Linux 6.18 (c-test 400): reset by the peer (the socket is still
/// SS_CONNECTED), refused, dissolved by connect(AF_UNSPEC), shut down in
/// SYN_SENT, accepted; also after a new bind. A socket whose connect
/// failed before its SYN, or a fresh one given connect(AF_UNSPEC), may
/// listen.
#[test]
fn listen_after_a_connection_is_einval_like_linux() {
    let s = stack();
    let (c, snd) = active_open(&s);
    let from = s.getsockname(c).unwrap();
    send(&s, t0(), &Seg::new(peer(80), from, 5001, snd, RST));
    assert_eq!(s.listen(c, 5), Err(Errno::EINVAL), "reset");

    let c = s.socket(SockType::Stream, 0).unwrap();
    refused_connect(&s, c, 81);
    assert_eq!(s.listen(c, 5), Err(Errno::EINVAL), "refused");

    let (c, _) = active_open(&s);
    assert_eq!(s.connect(t0(), c, None), Ok(()));
    let _ = recv_all(&s);
    assert_eq!(s.listen(c, 5), Err(Errno::EINVAL), "AF_UNSPEC");
    assert_eq!(s.bind(c, me(4100)), Ok(()));
    assert_eq!(s.listen(c, 5), Err(Errno::EINVAL), "AF_UNSPEC, bound again");

    let (c, _) = syn_sent(&s, 82);
    assert_eq!(s.shutdown(t0(), c, crate::linux::SHUT_RDWR), Ok(()));
    assert_eq!(s.listen(c, 5), Err(Errno::EINVAL), "SYN_SENT shut down");

    let (_l, a, _) = passive_open(&s);
    assert_eq!(s.connect(t0(), a, None), Ok(()));
    let _ = recv_all(&s);
    assert_eq!(s.listen(a, 5), Err(Errno::EINVAL), "accepted");

    let c = s.socket(SockType::Stream, 0).unwrap();
    let mcast = std::net::SocketAddr::from(([224, 0, 0, 1], 80));
    assert_eq!(s.connect(t0(), c, Some(mcast)), Err(Errno::ENETUNREACH));
    assert_eq!(s.listen(c, 5), Ok(()), "no SYN was sent");
    let c = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.connect(t0(), c, None), Ok(()));
    assert_eq!(s.listen(c, 5), Ok(()), "fresh, AF_UNSPEC");
    // A connect's outcome asked of a listener (the stack's API allows
    // it) is connect()'s EISCONN and leaves it a listener.
    assert_eq!(s.connect_status(c), Err(Errno::EISCONN));
    assert_eq!(s.listen(c, 7), Ok(()), "listen() again adjusts the backlog");
    s.check_invariants();
}

/// After connect(AF_UNSPEC) dissolved an established connection, as on
/// Linux 6.18: poll gives POLLOUT|POLLERR|POLLHUP and no POLLIN, SO_ERROR
/// is ECONNRESET, and then a send is EPIPE.
#[test]
fn a_disconnected_socket_polls_and_sends_as_linux() {
    let s = stack();
    let (c, _) = active_open(&s);
    assert_eq!(s.connect(t0(), c, None), Ok(()));
    let _ = recv_all(&s);
    let r = s.sopoll(c);
    use crate::Readiness as R;
    assert!(r.contains(R::OUT | R::ERR | R::HUP), "{r:?}");
    assert!(!r.contains(R::IN), "{r:?}");
    let mut v = [0u8; 4];
    s.getsockopt(c, crate::linux::SOL_SOCKET, crate::linux::SO_ERROR, &mut v)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(v), Errno::ECONNRESET.0);
    assert_eq!(s.send(t0(), c, b"x", 0, None), Err(Errno::EPIPE));
}

#[test]
fn options_negotiated_only_if_both_offer() {
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1000, 0, SYN).with_options(mss(1460)),
    );
    let sa = recv_one(&s);
    assert_eq!(
        sa.options.window_scale, None,
        "peer offered no window scale"
    );
    assert_eq!(sa.options.timestamp, None);
    assert!(!sa.options.sack_permitted);
    let all = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((42, 0)),
        ..Default::default()
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(5001), me(80), 1000, 0, SYN).with_options(all),
    );
    let sa = recv_one(&s);
    assert!(sa.options.window_scale.is_some());
    assert_eq!(
        sa.options.timestamp.map(|t| t.1),
        Some(42),
        "TSecr echoes the peer"
    );
    assert!(sa.options.sack_permitted);
}

#[test]
fn mss_is_clamped_to_mtu() {
    let mut c = Config::new(ME, 24);
    c.mtu = 1000;
    c.sysctl.tcp_timestamps = false;
    let s = Stack::new(c);
    let cs = s.socket(SockType::Stream, 0).unwrap();
    let _ = s.connect(t0(), cs, Some(peer(80)));
    let syn = recv_one(&s);
    assert_eq!(syn.options.mss, Some(960));
    send(
        &s,
        t0(),
        &Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(mss(1460)),
    );
    recv_all(&s);
    s.send(t0(), cs, &[1u8; 3000], 0, None).unwrap();
    let segs = recv_all(&s);
    assert!(
        segs.iter().all(|g| g.payload.len() <= 960),
        "segments fit our MTU"
    );
    assert_eq!(segs.iter().map(|g| g.payload.len()).sum::<usize>(), 3000);
}

#[test]
fn fin_then_recv_reports_eof_and_pollin_rdhup() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | FIN),
    );
    let r = s.sopoll(c);
    assert!(r.contains(crate::Readiness::IN | crate::Readiness::RDHUP));
    assert!(!r.contains(crate::Readiness::HUP));
}

#[test]
fn data_after_close_is_answered_with_rst() {
    let s = stack();
    let (_l, c, iss) = passive_open(&s);
    s.shutdown(t0(), c, crate::linux::SHUT_WR).unwrap();
    recv_all(&s);
    s.close(t0(), c).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss + 1, ACK).with_payload(b"late"),
    );
    assert!(recv_all(&s).iter().any(|g| g.flags.contains(RST)));
}

#[test]
fn timestamps_and_isns_grow_across_connections_to_one_host() {
    // A peer in TIME_WAIT accepts a new SYN on the same 4-tuple only if its
    // TSval and ISN are newer (PAWS): keys depend on addresses, not on the
    // connection, and both follow the clock.
    let s = Stack::new(Config::new(ME, 24));
    let mut last: Option<(u32, u32)> = None;
    for (i, port) in [(0u64, 7000u16), (5, 7000), (9, 7001)] {
        let c = s.socket(SockType::Stream, 0).unwrap();
        s.bind(c, me(port)).unwrap();
        let now = t0() + Duration::from_millis(i);
        let _ = s.connect(now, c, Some(peer(80)));
        let syn = recv_one(&s);
        let ts = syn.options.timestamp.expect("timestamps on").0;
        if let Some((prev_ts, prev_isn)) = last {
            assert!(ts.wrapping_sub(prev_ts) as i32 >= 0, "TSval went back");
            if port == 7000 {
                assert!(
                    syn.seq.wrapping_sub(prev_isn) as i32 > 0,
                    "ISN went back for the same 4-tuple"
                );
            }
        }
        last = Some((ts, syn.seq));
        s.close(now, c).unwrap();
    }
}

#[test]
fn non_ip_and_malformed_frames_are_dropped_and_counted() {
    let s = stack();
    let mut v6 = vec![0u8; 40];
    v6[0] = 0x60;
    v6[6] = 59; // no next header
    s.handle_frame(t0(), &v6); // to `::`: not for us
    v6[0] = 0x50;
    s.handle_frame(t0(), &v6);
    s.handle_frame(t0(), &[0x45, 0, 0]);
    let mut bad = Seg::new(peer(1), me(2), 1, 0, SYN).to_frame();
    bad[30] ^= 0xff; // corrupt the TCP header: checksum fails
    s.handle_frame(t0(), &bad);
    let st = s.stats();
    assert_eq!(
        (
            st.drop_not_ip,
            st.drop_not_for_us,
            st.drop_malformed,
            st.drop_checksum
        ),
        (1, 1, 1, 1)
    );
    assert!(recv_all(&s).is_empty(), "nothing answers a dropped frame");
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(80)).unwrap();
    s.listen(l, 8).unwrap();
    let ts = |v: u32| TcpOptions {
        timestamp: Some((v, 0)),
        ..TcpOptions::default()
    };
    let syn_opts = TcpOptions {
        mss: Some(1460),
        timestamp: Some((1000, 0)),
        ..TcpOptions::default()
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1000, 0, SYN).with_options(syn_opts),
    );
    let sa = recv_one(&s);
    assert!(sa.options.timestamp.is_some(), "timestamps negotiated");
    let iss = sa.seq + 1;
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK).with_options(ts(1001)),
    );
    let (c, _) = s.accept(l).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1001, iss, ACK | TcpFlags::PSH)
            .with_payload(b"new")
            .with_options(ts(1005)),
    );
    recv_all(&s);
    // An old duplicate: in window but with a timestamp before TS.Recent.
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(80), 1004, iss, ACK | TcpFlags::PSH)
            .with_payload(b"old")
            .with_options(ts(900)),
    );
    let r = recv_one(&s);
    assert_eq!(
        (r.flags, r.ack),
        (ACK, 1004),
        "answered with an ACK, data not taken"
    );
    assert_eq!(s.stats().drop_paws, 1);
    let mut buf = [0u8; 8];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).map(|m| m.copied), Ok(3));
    assert_eq!(&buf[..3], b"new");
}
