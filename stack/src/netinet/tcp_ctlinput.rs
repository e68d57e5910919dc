//! ICMP errors for TCP (FreeBSD's tcp_ctlinput, Linux's tcp_v4_err and
//! tcp_v6_err): what an error does to a connection still opening, to an
//! established one, or to a half-open one in a listener's SYN cache.

use std::net::SocketAddr;

use crate::errno::Errno;
use crate::kern::errqueue::{sock_queue_err, IcmpErr, SO_EE_ORIGIN_ICMP6};
use crate::kern::socket::Socket;
use crate::kern::sotable::lock_live;
use crate::netinet::in_pcb::RX6_RECVERR;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::tcp_close;
use crate::netinet::tcp_syncache::syncache_unreach;
use crate::netinet::tcp_var::TcpState;
use crate::time::Instant;

/// An ICMP error `icmp` (its payload quoting our segment from the TCP
/// header on) meaning `err` for the connection `local`-`remote`. As
/// Linux: an error quoting a sequence number outside [SND.UNA, SND.NXT]
/// is ignored; a connection still opening is aborted with `err`, and the
/// error joins its error queue, IP_RECVERR or not (tcp_v4_err calls
/// ip_icmp_error unconditionally there); an established one takes `err`
/// as its pending error under IP_RECVERR / IPV6_RECVERR, else keeps it as
/// its soft error (Linux's sk_err_soft), which SO_ERROR reads when no
/// error is pending and a timeout reports instead of ETIMEDOUT. A half-open connection in a listener's SYN cache is
/// dropped when `req_abort` (Linux's tcp_req_err).
pub(crate) fn tcp_ctlinput(
    cx: &impl InetCx,
    _now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    err: Errno,
    icmp: &IcmpErr,
    req_abort: bool,
) {
    let found = cx.inet().pcbinfo.read().tcp_conn(local, remote);
    let Some(h) = found else {
        if !req_abort {
            return;
        }
        let listener = cx.inet().pcbinfo.read().tcp_listener(
            local,
            remote,
            crate::netinet::in_pcb::ANY_ARRIVAL,
        );
        if let Some(l) = listener.and_then(|h| cx.sockets().lookup(h).ok()) {
            if let Some(mut l) = lock_live(&l) {
                syncache_unreach(&mut l, local, remote);
            }
        }
        return;
    };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    let Some(tp) = so.so_pcb.tcp() else {
        return;
    };
    // The quoted sequence number (bytes 4..8 of the TCP header) must be
    // one we sent and is not yet acknowledged.
    let Some(seq) = icmp.payload.get(4..8) else {
        return;
    };
    let seq = Seq(u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]));
    if !(tp.snd_una.le(seq) && seq.le(tp.snd_nxt)) {
        return;
    }
    let recverr = if icmp.origin == SO_EE_ORIGIN_ICMP6 {
        tp.inp.rxopt6 & RX6_RECVERR != 0
    } else {
        tp.inp.recverr
    };
    match tp.t_state {
        TcpState::SynSent | TcpState::SynReceived => {
            queue_icmp_error(&mut so, err, icmp, remote);
            so.so_error = Some(err);
            tcp_close(cx, &mut so);
        }
        _ if recverr => {
            so.so_error = Some(err);
            cx.sockets().sowakeup(h);
        }
        _ => {
            if let Some(tp) = so.so_pcb.tcp_mut() {
                tp.rare_mut().softerror = Some(err);
            }
        }
    }
}

/// Linux's ip_icmp_error / ipv6_icmp_error for a TCP socket: the entry
/// quotes the segment from its TCP header on.
fn queue_icmp_error(so: &mut Socket, err: Errno, icmp: &IcmpErr, remote: SocketAddr) {
    let inp = so.so_pcb.inp();
    let offender = inp.user_addr(icmp.offender, 0).ip();
    let e = icmp.to_ext(err, offender, inp.user_addr(remote.ip(), remote.port()));
    let hiwat = so.so_rcv.sb_hiwat();
    sock_queue_err(&mut so.so_errqueue, hiwat, e);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::kern::errqueue::{HEAD_LEN, SO_EE_ORIGIN_ICMP};
    use crate::linux::*;
    use crate::testing::trace::{accepted_with, icmp4_unreach, peer, recv_all, t0, PEER};
    use crate::wire::icmpv4::dst_unreachable::HOST_UNREACH;
    use crate::wire::TcpOptions;
    use crate::{Config, Errno, SockType, SocketHandle, Stack};

    const ME: std::net::Ipv4Addr = crate::testing::trace::ME;

    fn recverr(s: &Stack, c: SocketHandle) {
        s.setsockopt(t0(), c, IPPROTO_IP, IP_RECVERR, &1i32.to_ne_bytes())
            .unwrap();
    }

    fn so_error(s: &Stack, c: SocketHandle) -> i32 {
        let mut b = [0u8; 4];
        s.getsockopt(c, SOL_SOCKET, SO_ERROR, &mut b).unwrap();
        i32::from_ne_bytes(b)
    }

    /// A connection accepted from the peer, with IP_RECVERR if `err`, and
    /// the frame of 5 bytes it then sent.
    fn established(err: bool) -> (Stack, SocketHandle, Vec<u8>) {
        let s = Stack::new(Config::new(ME, 24));
        let (c, _) = accepted_with(&s, TcpOptions::default());
        if err {
            recverr(&s, c);
        }
        assert_eq!(s.send(t0(), c, b"hello", 0, None), Ok(5));
        let data = s.poll_transmit().expect("the data segment");
        (s, c, data)
    }

    /// tcp_v4_err for a SYN-SENT socket: the connect fails with the error
    /// and the error queue holds it, quoting the SYN from its TCP header,
    /// with IP_RECVERR or without (as Linux: tests/tcp_icmp_errors.sh).
    #[test]
    fn an_unreachable_syn_fails_the_connect_and_is_queued() {
        for with in [true, false] {
            let s = Stack::new(Config::new(ME, 24));
            let c = s.socket(SockType::Stream, 0).unwrap();
            if with {
                recverr(&s, c);
            }
            assert_eq!(s.connect(t0(), c, Some(peer(9))), Err(Errno::EINPROGRESS));
            let syn = s.poll_transmit().expect("the SYN");
            s.handle_frame(t0(), &icmp4_unreach(HOST_UNREACH, 0, &syn));
            assert_eq!(s.connect_status(c), Err(Errno::EHOSTUNREACH));
            let mut b = [0u8; 128];
            let m = s.recv(t0(), c, &mut b, MSG_ERRQUEUE).unwrap();
            assert_eq!(u32::from_ne_bytes(b[..4].try_into().unwrap()), 113);
            assert_eq!(&b[4..7], &[SO_EE_ORIGIN_ICMP, 3, HOST_UNREACH]);
            assert_eq!(&b[20..24], &PEER.octets(), "the offender");
            assert_eq!(m.from, Some(peer(9)), "the original destination");
            assert_eq!(m.full_len, 8, "the quoted TCP header's first 8 bytes");
            assert_eq!(&b[HEAD_LEN..HEAD_LEN + 8], &syn[20..28]);
            assert_eq!(so_error(&s, c), 0);
            let r = s.recv(t0(), c, &mut b, MSG_ERRQUEUE).map(|m| m.copied);
            assert_eq!(r, Err(Errno::EAGAIN));
        }
    }

    /// An established connection under IP_RECVERR takes the error as its
    /// pending error only (nothing queued) and lives on; one quoting a
    /// sequence number not in flight is ignored.
    #[test]
    fn an_established_connection_under_recverr_reports_the_error_and_lives() {
        let (s, c, data) = established(true);
        let mut stale = data.clone();
        stale[24..28].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        s.handle_frame(t0(), &icmp4_unreach(HOST_UNREACH, 0, &stale));
        assert_eq!(so_error(&s, c), 0, "not a sequence number in flight");
        s.handle_frame(t0(), &icmp4_unreach(HOST_UNREACH, 0, &data));
        assert!(s.sopoll(c).contains(crate::Readiness::ERR));
        let mut b = [0u8; 64];
        let r = s.recv(t0(), c, &mut b, MSG_ERRQUEUE).map(|m| m.copied);
        assert_eq!(r, Err(Errno::EAGAIN), "nothing queued");
        assert_eq!(so_error(&s, c), 113);
        assert_eq!(s.send(t0(), c, b"more", 0, None), Ok(4), "still open");
    }

    /// Without IP_RECVERR the error is soft: SO_ERROR reads it once
    /// (Linux's sk_err_soft), and a timeout reports it instead of
    /// ETIMEDOUT.
    #[test]
    fn a_soft_error_is_what_so_error_and_a_timeout_report() {
        let (s, c, data) = established(false);
        s.handle_frame(t0(), &icmp4_unreach(HOST_UNREACH, 0, &data));
        assert!(!s.sopoll(c).contains(crate::Readiness::ERR));
        let mut b = [0u8; 8];
        assert_eq!(
            s.recv(t0(), c, &mut b, 0).map(|m| m.copied),
            Err(Errno::EAGAIN)
        );
        assert_eq!(so_error(&s, c), 113);
        assert_eq!(so_error(&s, c), 0, "taken");
        for icmp in [true, false] {
            let (s, c, data) = established(false);
            if icmp {
                s.handle_frame(t0(), &icmp4_unreach(HOST_UNREACH, 0, &data));
            }
            let mut now = t0();
            for _ in 0..40 {
                now = now + Duration::from_secs(120);
                s.handle_timeout(now);
                recv_all(&s);
            }
            let want = if icmp { 113 } else { Errno::ETIMEDOUT.0 };
            assert_eq!(so_error(&s, c), want);
        }
    }
}
