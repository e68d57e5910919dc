//! Packet-trace tests of ECN (RFC 3168) as Linux does it, from
//! packetdrill's ecn/ecn-uses-ect0.pkt, fastopen/server/pure-syn-data.pkt
//! and cwnd_moderation/cwnd-moderation-ecn-enter-cwr-*: the handshake
//! under each `tcp_ecn`, ECT(0) on new data only, ECE echoed from a CE
//! mark until the peer's CWR, and one window reduction per window on ECE.

use std::time::Duration;

use crate::netinet::tcp_ecn::{ECN_CE, ECN_ECT0, ECN_NOT_ECT};
use crate::netinet::tcp_info::{TCPI_OPT_ECN, TCP_CA_CWR, TCP_CA_OPEN};
use crate::testing::trace::{me, peer, recv_all, recv_one, send, t0, Seg, ME};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, SocketHandle, Stack, Sysctl};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const PSH: TcpFlags = TcpFlags::PSH;
const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;

fn stack(tcp_ecn: u8) -> Stack {
    let s = Stack::new(Config::new(ME, 24));
    s.set_sysctl(Sysctl {
        tcp_ecn,
        ..Sysctl::default()
    });
    s
}

fn mss(m: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(m),
        ..TcpOptions::default()
    }
}

/// A listener on :8080 answers `syn` (from peer:5000): its SYN-ACK.
fn listen_and_syn(s: &Stack, syn: Seg) -> (SocketHandle, Seg) {
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 4).unwrap();
    send(s, t0(), &syn);
    (l, recv_one(s))
}

/// An ECN connection accepted from peer:5000 (MSS 1000): (socket, our
/// ISN + 1).
fn accepted_ecn(s: &Stack) -> (SocketHandle, u32) {
    let syn = Seg::new(peer(5000), me(8080), 0, 0, SYN | ECE | CWR).with_options(mss(1000));
    let (l, synack) = listen_and_syn(s, syn);
    assert_eq!(synack.flags, SYN | ACK | ECE);
    let t = t0() + Duration::from_millis(10);
    send(
        s,
        t,
        &Seg::new(peer(5000), me(8080), 1, synack.seq + 1, ACK),
    );
    (s.accept(l).unwrap().0, synack.seq + 1)
}

/// ecn-uses-ect0.pkt: with tcp_ecn=1 our SYN asks (ECE|CWR, not ECT);
/// a SYN-ACK with ECE agrees; data then leaves ECT(0), the ACK of the
/// handshake and other pure ACKs not ECT.
#[test]
fn tcp_ecn_1_asks_and_data_is_ect0() {
    let s = stack(1);
    let c = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.connect(t0(), c, Some(peer(8080))),
        Err(Errno::EINPROGRESS)
    );
    let syn = recv_one(&s);
    assert_eq!((syn.flags, syn.ecn), (SYN | ECE | CWR, ECN_NOT_ECT));
    let t = t0() + Duration::from_millis(2);
    send(
        &s,
        t,
        &Seg::new(
            peer(8080),
            me(syn.src.port()),
            0,
            syn.seq + 1,
            SYN | ACK | ECE,
        )
        .with_options(mss(1000)),
    );
    let ack = recv_one(&s);
    assert_eq!((ack.flags, ack.ecn), (ACK, ECN_NOT_ECT));
    assert_ne!(s.tcp_info(c).unwrap().tcpi_options & TCPI_OPT_ECN, 0);
    assert_eq!(s.send(t, c, &[7; 1000], 0, None), Ok(1000));
    let d = recv_one(&s);
    assert_eq!(
        (d.flags, d.ecn, d.payload.len()),
        (ACK | PSH, ECN_ECT0, 1000)
    );
}

/// A SYN-ACK without ECE (or with ECE and CWR) refuses: no ECT on data.
#[test]
fn synack_without_ece_refuses_ecn() {
    for flags in [SYN | ACK, SYN | ACK | ECE | CWR] {
        let s = stack(1);
        let c = s.socket(SockType::Stream, 0).unwrap();
        let _ = s.connect(t0(), c, Some(peer(8080)));
        let syn = recv_one(&s);
        send(
            &s,
            t0(),
            &Seg::new(peer(8080), me(syn.src.port()), 0, syn.seq + 1, flags)
                .with_options(mss(1000)),
        );
        recv_all(&s);
        assert_eq!(s.send(t0(), c, &[7; 100], 0, None), Ok(100));
        let d = recv_one(&s);
        assert_eq!((d.flags, d.ecn), (ACK | PSH, ECN_NOT_ECT), "{flags}");
    }
}

/// Linux's default tcp_ecn=2 does not ask; a retransmitted ECN-setup SYN
/// falls back to a plain one (tcp_ecn_fallback).
#[test]
fn default_does_not_ask_and_a_resent_syn_drops_ecn() {
    let s = stack(2);
    let c = s.socket(SockType::Stream, 0).unwrap();
    let _ = s.connect(t0(), c, Some(peer(8080)));
    assert_eq!(recv_one(&s).flags, SYN);

    let s = stack(1);
    let c = s.socket(SockType::Stream, 0).unwrap();
    let _ = s.connect(t0(), c, Some(peer(8080)));
    assert_eq!(recv_one(&s).flags, SYN | ECE | CWR);
    let due = s.poll_timeout().expect("the SYN timer");
    s.handle_timeout(due);
    assert_eq!(recv_one(&s).flags, SYN, "the retransmitted SYN");
}

/// pure-syn-data.pkt: a listener answers an ECN-setup SYN with ECE under
/// tcp_ecn 1 and 2, not under 0, and never when the SYN itself is ECT.
#[test]
fn listener_answers_ecn_setup_syn_per_sysctl() {
    for (tcp_ecn, ip_ecn, want) in [
        (2, ECN_NOT_ECT, SYN | ACK | ECE),
        (1, ECN_NOT_ECT, SYN | ACK | ECE),
        (0, ECN_NOT_ECT, SYN | ACK),
        (2, ECN_ECT0, SYN | ACK),
    ] {
        let s = stack(tcp_ecn);
        let syn = Seg::new(peer(5000), me(8080), 0, 0, SYN | ECE | CWR)
            .with_options(mss(1000))
            .with_ecn(ip_ecn);
        let (_, synack) = listen_and_syn(&s, syn);
        assert_eq!(
            (synack.flags, synack.ecn),
            (want, ECN_NOT_ECT),
            "tcp_ecn={tcp_ecn}"
        );
    }
    // A plain SYN gets a plain SYN-ACK.
    let s = stack(2);
    let syn = Seg::new(peer(5000), me(8080), 0, 0, SYN).with_options(mss(1000));
    assert_eq!(listen_and_syn(&s, syn).1.flags, SYN | ACK);
}

/// A CE mark on received data: every segment we send carries ECE until a
/// segment with CWR arrives.
#[test]
fn ce_is_echoed_until_cwr() {
    let s = stack(2);
    let (c, iss) = accepted_ecn(&s);
    let t = t0() + Duration::from_millis(20);
    let data = |seq: u32, flags: TcpFlags, ecn: u8| {
        Seg::new(peer(5000), me(8080), seq, iss, flags)
            .with_payload(&[1; 100])
            .with_ecn(ecn)
    };
    send(&s, t, &data(1, ACK | PSH, ECN_CE));
    let a = recv_one(&s);
    assert_eq!((a.ack, a.flags, a.ecn), (101, ACK | ECE, ECN_NOT_ECT));
    // Our data echoes it too, and is ECT(0).
    assert_eq!(s.send(t, c, &[2; 10], 0, None), Ok(10));
    let d = recv_one(&s);
    assert_eq!((d.flags, d.ecn), (ACK | PSH | ECE, ECN_ECT0));
    // The peer's CWR ends the echo.
    send(&s, t, &data(101, ACK | PSH | CWR, ECN_ECT0));
    let a = recv_all(&s);
    assert!(a.iter().all(|g| !g.flags.contains(ECE)), "{a:#?}");
    let mut buf = [0u8; 400];
    assert_eq!(s.recv(t, c, &mut buf, 0).map(|m| m.copied), Ok(200));
}

/// cwnd-moderation-ecn-enter-cwr: an ACK with ECE reduces the window once
/// (CUBIC's ssthresh, 7 of 10 segments), the CA state is CWR until what
/// was in flight then is acknowledged, and the next new data carries CWR
/// (once).
#[test]
fn ece_reduces_the_window_once_and_sends_cwr() {
    let s = stack(2);
    let (c, iss) = accepted_ecn(&s);
    let t = t0() + Duration::from_millis(20);
    assert_eq!(s.send(t, c, &[3; 4000], 0, None), Ok(4000));
    assert_eq!(recv_all(&s).len(), 4);
    assert_eq!(s.tcp_info(c).unwrap().tcpi_snd_cwnd, 10);
    let ece = |n: u32| Seg::new(peer(5000), me(8080), 1, iss + n, ACK | ECE);
    send(&s, t + Duration::from_millis(10), &ece(1000));
    let ti = s.tcp_info(c).unwrap();
    assert_eq!((ti.tcpi_ca_state, ti.tcpi_snd_ssthresh), (TCP_CA_CWR, 7));
    assert!(ti.tcpi_snd_cwnd <= 7, "cwnd {}", ti.tcpi_snd_cwnd);
    // A second ECE in the same window changes nothing.
    send(&s, t + Duration::from_millis(11), &ece(2000));
    assert_eq!(s.tcp_info(c).unwrap().tcpi_snd_ssthresh, 7);
    assert_eq!(s.send(t, c, &[3; 2000], 0, None), Ok(2000));
    let segs = recv_all(&s);
    let cwr: Vec<bool> = segs.iter().map(|g| g.flags.contains(CWR)).collect();
    assert_eq!(cwr, vec![true, false], "CWR on the first new segment only");
    assert!(segs.iter().all(|g| g.ecn == ECN_ECT0));
    // All of the reduced window acknowledged: Open again.
    send(
        &s,
        t + Duration::from_millis(20),
        &Seg::new(peer(5000), me(8080), 1, iss + 6000, ACK),
    );
    assert_eq!(s.tcp_info(c).unwrap().tcpi_ca_state, TCP_CA_OPEN);
}
