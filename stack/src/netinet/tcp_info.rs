//! TCP_INFO: Linux's `struct tcp_info` (linux/tcp.h) filled from our
//! control block the way Linux's tcp_get_info fills it, and laid out byte
//! for byte as the kernel returns it (280 bytes on Linux 6.18;
//! getsockopt copies min(optlen, 280) of them and reports that length).
//!
//! Exact: state, options, window scales, rto, snd_mss, snd_cwnd and
//! snd_ssthresh (in segments, as Linux counts them), rtt/rttvar, unacked,
//! total_retrans, byte counters, notsent_bytes, snd_wnd/rcv_wnd, and the
//! fresh-socket and listener values; sacked, lost and retrans from the
//! SACK scoreboard (tcp_recovery) in segments. Estimated where we keep no such state:
//! ato, rcv_mss, rcv_ssthresh, rcv_space, min_rtt (the smoothed RTT).
//! delivered as TcpCb::delivered counts it.
//! Zero: counters we do not keep (segs_in/out, delivered_ce,
//! times since last send/receive, pacing, ECN).

use std::time::Duration;

use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_var::{TcpCb, TcpState, TCP_DELACK, TCP_RTO_INITIAL};

/// sizeof(struct tcp_info) on the kernel we mirror.
pub const TCP_INFO_LEN: usize = 280;

/// tcpi_options bits.
pub const TCPI_OPT_TIMESTAMPS: u8 = 1;
pub const TCPI_OPT_SACK: u8 = 2;
pub const TCPI_OPT_WSCALE: u8 = 4;
pub const TCPI_OPT_ECN: u8 = 8;
pub const TCPI_OPT_SYN_DATA: u8 = 32;

/// tcpi_ca_state values (Linux's enum tcp_ca_state).
pub const TCP_CA_OPEN: u8 = 0;
pub const TCP_CA_DISORDER: u8 = 1;
pub const TCP_CA_CWR: u8 = 2;
pub const TCP_CA_RECOVERY: u8 = 3;
pub const TCP_CA_LOSS: u8 = 4;

/// Linux's TCP_INIT_CWND and TCP_INFINITE_SSTHRESH.
const TCP_INIT_CWND: u32 = 10;
const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// TCP_MIN_MSS and TCP_MSS_DEFAULT (Linux's bounds on the receive MSS guess).
const TCP_MIN_MSS: u32 = 88;
const TCP_MSS_DEFAULT: u32 = 536;
/// TCPOLEN_TSTAMP_ALIGNED: what timestamps take off the advertised MSS.
const TCPOLEN_TSTAMP_ALIGNED: u32 = 12;

/// The fields of Linux's `struct tcp_info` we report; the rest are zero.
/// Units as Linux's: times in microseconds, windows and counters in bytes,
/// cwnd and ssthresh in segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub tcpi_state: u8,
    pub tcpi_ca_state: u8,
    pub tcpi_retransmits: u8,
    pub tcpi_probes: u8,
    pub tcpi_backoff: u8,
    pub tcpi_options: u8,
    pub tcpi_snd_wscale: u8,
    pub tcpi_rcv_wscale: u8,
    pub tcpi_delivery_rate_app_limited: bool,
    pub tcpi_rto: u32,
    pub tcpi_ato: u32,
    pub tcpi_snd_mss: u32,
    pub tcpi_rcv_mss: u32,
    pub tcpi_unacked: u32,
    pub tcpi_sacked: u32,
    pub tcpi_lost: u32,
    pub tcpi_retrans: u32,
    /// Milliseconds since data was last sent / received, an ACK received.
    pub tcpi_last_data_sent: u32,
    pub tcpi_last_data_recv: u32,
    pub tcpi_last_ack_recv: u32,
    pub tcpi_pmtu: u32,
    pub tcpi_rcv_ssthresh: u32,
    pub tcpi_rtt: u32,
    pub tcpi_rttvar: u32,
    pub tcpi_snd_ssthresh: u32,
    pub tcpi_snd_cwnd: u32,
    pub tcpi_advmss: u32,
    pub tcpi_reordering: u32,
    pub tcpi_rcv_space: u32,
    pub tcpi_total_retrans: u32,
    pub tcpi_pacing_rate: u64,
    pub tcpi_max_pacing_rate: u64,
    pub tcpi_bytes_acked: u64,
    pub tcpi_bytes_received: u64,
    pub tcpi_notsent_bytes: u32,
    pub tcpi_min_rtt: u32,
    /// The last delivery-rate sample kept, bytes per second (tcp_rate).
    pub tcpi_delivery_rate: u64,
    /// Segments the peer received (Linux's tp->delivered; see TcpCb).
    pub tcpi_delivered: u32,
    pub tcpi_bytes_sent: u64,
    pub tcpi_snd_wnd: u32,
    pub tcpi_rcv_wnd: u32,
}

impl TcpInfo {
    /// The kernel's byte layout (native endian, as getsockopt returns it).
    pub fn to_bytes(&self) -> [u8; TCP_INFO_LEN] {
        let mut b = [0u8; TCP_INFO_LEN];
        b[..6].copy_from_slice(&[
            self.tcpi_state,
            self.tcpi_ca_state,
            self.tcpi_retransmits,
            self.tcpi_probes,
            self.tcpi_backoff,
            self.tcpi_options,
        ]);
        b[6] = (self.tcpi_snd_wscale & 0xf) | (self.tcpi_rcv_wscale << 4);
        b[7] = self.tcpi_delivery_rate_app_limited as u8;
        let mut u32_at = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        u32_at(8, self.tcpi_rto);
        u32_at(12, self.tcpi_ato);
        u32_at(16, self.tcpi_snd_mss);
        u32_at(20, self.tcpi_rcv_mss);
        u32_at(24, self.tcpi_unacked);
        u32_at(28, self.tcpi_sacked);
        u32_at(32, self.tcpi_lost);
        u32_at(36, self.tcpi_retrans);
        u32_at(44, self.tcpi_last_data_sent);
        u32_at(52, self.tcpi_last_data_recv);
        u32_at(56, self.tcpi_last_ack_recv);
        u32_at(60, self.tcpi_pmtu);
        u32_at(64, self.tcpi_rcv_ssthresh);
        u32_at(68, self.tcpi_rtt);
        u32_at(72, self.tcpi_rttvar);
        u32_at(76, self.tcpi_snd_ssthresh);
        u32_at(80, self.tcpi_snd_cwnd);
        u32_at(84, self.tcpi_advmss);
        u32_at(88, self.tcpi_reordering);
        u32_at(96, self.tcpi_rcv_space);
        u32_at(100, self.tcpi_total_retrans);
        u32_at(144, self.tcpi_notsent_bytes);
        u32_at(148, self.tcpi_min_rtt);
        u32_at(192, self.tcpi_delivered);
        u32_at(228, self.tcpi_snd_wnd);
        u32_at(232, self.tcpi_rcv_wnd);
        let mut u64_at = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        u64_at(104, self.tcpi_pacing_rate);
        u64_at(112, self.tcpi_max_pacing_rate);
        u64_at(120, self.tcpi_bytes_acked);
        u64_at(128, self.tcpi_bytes_received);
        u64_at(160, self.tcpi_delivery_rate);
        u64_at(200, self.tcpi_bytes_sent);
        b
    }
}

fn usecs(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

/// Linux's tcp_get_info for a TCP socket (a socket of another type gets
/// all zeroes, as on Linux; getsockopt never asks for one).
pub(crate) fn tcp_info(cx: &impl InetCx, so: &Socket) -> TcpInfo {
    let mut ti = TcpInfo::default();
    let Some(tp) = so.so_pcb.tcp() else {
        return ti;
    };
    ti.tcpi_state = tp.t_state.linux_number();
    // Reported in every state, listeners included. Only BBR paces.
    ti.tcpi_pacing_rate = tp.cc.bbr().map_or(u64::MAX, |b| b.pacing_rate);
    ti.tcpi_max_pacing_rate = u64::MAX;
    ti.tcpi_reordering = tp.rec.rack.reordering();
    let mss = tp.t_maxseg.max(1);
    ti.tcpi_snd_cwnd = if tp.cwnd == 0 {
        TCP_INIT_CWND
    } else {
        (tp.cwnd / mss) as u32
    };
    if tp.t_state == TcpState::Listen {
        // Aliased: connections ready for accept(), and the backlog.
        if let Some(q) = so.so_listen() {
            ti.tcpi_unacked = q.waiting() as u32;
            ti.tcpi_sacked = q.sol_qlimit;
        }
        return ti;
    }
    use crate::netinet::tcp_recovery::CaState;
    ti.tcpi_ca_state = if tp.rxtshift > 0 || (tp.sack_ok && tp.rec.state == CaState::Loss) {
        TCP_CA_LOSS
    } else if tp.recover.is_some() || (tp.sack_ok && tp.rec.state == CaState::Recovery) {
        TCP_CA_RECOVERY
    } else if crate::netinet::tcp_ecn::ecn_in_cwr(tp) {
        TCP_CA_CWR
    } else if tp.dupacks > 0
        || (tp.sack_ok && (tp.rec.sb.sacked_out > 0 || tp.rec.sb.retrans_out > 0))
    {
        // Linux's Disorder: SACKed or retransmitted data outstanding.
        TCP_CA_DISORDER
    } else {
        TCP_CA_OPEN
    };
    ti.tcpi_retransmits = tp.rxtshift.min(255) as u8;
    let backoff = tp.backoff(cx.sysctl().tcp_syn_linear_timeouts);
    ti.tcpi_backoff = backoff.min(255) as u8;
    ti.tcpi_probes = tp.keep_probes.min(255) as u8;
    if tp.ts_ok {
        ti.tcpi_options |= TCPI_OPT_TIMESTAMPS;
    }
    if tp.sack_ok {
        ti.tcpi_options |= TCPI_OPT_SACK;
    }
    if tp.ecn.ok {
        ti.tcpi_options |= TCPI_OPT_ECN;
    }
    if tp.syn_data_acked {
        ti.tcpi_options |= TCPI_OPT_SYN_DATA;
    }
    if tp.wscale_ok {
        ti.tcpi_options |= TCPI_OPT_WSCALE;
        ti.tcpi_snd_wscale = tp.snd_wscale;
        ti.tcpi_rcv_wscale = tp.rcv_wscale;
    }
    (ti.tcpi_delivery_rate, ti.tcpi_delivery_rate_app_limited) =
        crate::netinet::tcp_rate::tcp_delivery_rate(tp);
    ti.tcpi_rto = usecs(tp.rto_shifted(backoff));
    ti.tcpi_snd_mss = tp.t_maxseg as u32;
    ti.tcpi_unacked = tp.flight().div_ceil(mss) as u32;
    ti.tcpi_total_retrans = tp.total_retrans;
    ti.tcpi_delivered = tp.delivered;
    // The SACK scoreboard, in segments (tcp_recovery).
    ti.tcpi_sacked = tp.rec.sb.sacked_out.div_ceil(mss) as u32;
    ti.tcpi_lost = tp.rec.sb.lost_out.div_ceil(mss) as u32;
    ti.tcpi_retrans = tp.rec.sb.retrans_out.div_ceil(mss) as u32;
    match tp.srtt() {
        Some(srtt) => {
            ti.tcpi_rtt = usecs(srtt);
            ti.tcpi_rttvar = usecs(tp.rttvar());
            ti.tcpi_min_rtt = usecs(srtt);
        }
        None => {
            // Linux starts mdev at TCP_TIMEOUT_INIT and reports it / 4.
            ti.tcpi_rttvar = usecs(TCP_RTO_INITIAL / 4);
            ti.tcpi_min_rtt = u32::MAX;
        }
    }
    ti.tcpi_snd_ssthresh = if tp.ssthresh >= TCP_INFINITE_SSTHRESH as usize {
        TCP_INFINITE_SSTHRESH
    } else {
        (tp.ssthresh / mss) as u32
    };
    if tp.inp.is_connected() {
        ti.tcpi_pmtu = crate::netinet::ip_pmtu::path_mtu(cx, tp.inp.faddr) as u32;
        // Linux's advmss: the device's, clamped by TCP_MAXSEG.
        let advmss = crate::netinet::tcp_subr::tcp_mss_clamp(tp) as u32;
        ti.tcpi_advmss = advmss - if tp.ts_ok { TCPOLEN_TSTAMP_ALIGNED } else { 0 };
    }
    let snd_cc = so.so_snd.ring().len();
    let unsent_off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
    ti.tcpi_notsent_bytes = snd_cc.saturating_sub(unsent_off) as u32;
    ti.tcpi_snd_wnd = tp.snd_wnd;
    if tp.t_state.synchronized() {
        let ms = |t: crate::time::Instant| {
            (cx.last_now().saturating_duration_since(t).as_millis()).min(u32::MAX as u128) as u32
        };
        ti.tcpi_last_data_sent = ms(tp.lsndtime);
        ti.tcpi_last_data_recv = ms(tp.lrcvtime);
        ti.tcpi_last_ack_recv = ms(tp.rcv_tstamp);
    }
    if tp.t_state.synchronized() || tp.t_state == TcpState::SynReceived {
        receive_side(&mut ti, so, tp);
        send_side(&mut ti, tp, snd_cc);
    }
    ti
}

/// Byte counters and window of the receive side (the SYN and FIN are not
/// data).
fn receive_side(ti: &mut TcpInfo, so: &Socket, tp: &TcpCb) {
    let fin = so.sb_state.fin_received as i64;
    let received = (tp.rcv_nxt.diff(tp.irs) as i64 - 1 - fin).max(0) as u64;
    ti.tcpi_bytes_received = received;
    let rcv_wnd = tp.rcv_adv.diff(tp.rcv_nxt).max(0) as u32;
    ti.tcpi_rcv_wnd = rcv_wnd;
    ti.tcpi_rcv_ssthresh = rcv_wnd;
    ti.tcpi_rcv_space = rcv_wnd.min(TCP_INIT_CWND * ti.tcpi_advmss);
    ti.tcpi_rcv_mss = (tp.t_maxseg as u32).clamp(TCP_MIN_MSS, TCP_MSS_DEFAULT);
    if received > 0 {
        ti.tcpi_ato = usecs(TCP_DELACK);
    }
}

/// Byte counters of the send side (the SYN and FIN are not data).
fn send_side(ti: &mut TcpInfo, tp: &TcpCb, snd_cc: usize) {
    let fin_sent = tp.fin_seq(snd_cc).is_some_and(|f| tp.snd_max.gt(f)) as i64;
    ti.tcpi_bytes_sent = (tp.snd_max.diff(tp.iss) as i64 - 1 - fin_sent).max(0) as u64;
    let fin_acked = tp.fin_seq(snd_cc).is_some_and(|f| tp.snd_una.gt(f)) as i64;
    ti.tcpi_bytes_acked = (tp.snd_una.diff(tp.iss) as i64 - 1 - fin_acked).max(0) as u64;
}

/// TCP_INFO of a socket: EOPNOTSUPP for one that is not TCP, as Linux's
/// getsockopt answers.
pub(crate) fn tcp_info_of(cx: &impl InetCx, so: &Socket) -> Result<TcpInfo, Errno> {
    match so.so_pcb.tcp() {
        Some(_) => Ok(tcp_info(cx, so)),
        None => Err(Errno::EOPNOTSUPP),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::linux::*;
    use crate::testing::pair::{Pair, B_ADDR};
    use crate::SockType;

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn fresh_socket_reports_what_linux_does() {
        let p = Pair::new(1);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        let mut b = [0xeeu8; 300];
        assert_eq!(p.a.getsockopt(t, IPPROTO_TCP, TCP_INFO, &mut b), Ok(280));
        assert_eq!(b[280], 0xee, "280 bytes, no more");
        // Values read from a fresh kernel socket (Linux 6.18).
        assert_eq!(&b[..8], &[7, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(u32_at(&b, 8), 1_000_000, "tcpi_rto");
        assert_eq!(u32_at(&b, 16), 536, "tcpi_snd_mss");
        assert_eq!(u32_at(&b, 72), 250_000, "tcpi_rttvar");
        assert_eq!(u32_at(&b, 76), 0x7fff_ffff, "tcpi_snd_ssthresh");
        assert_eq!(u32_at(&b, 80), 10, "tcpi_snd_cwnd");
        assert_eq!(u32_at(&b, 88), 3, "tcpi_reordering");
        assert_eq!(u32_at(&b, 148), u32::MAX, "tcpi_min_rtt");
        let mut one = [0xeeu8; 2];
        assert_eq!(
            p.a.getsockopt(t, IPPROTO_TCP, TCP_INFO, &mut one[..1]),
            Ok(1)
        );
        assert_eq!(one, [7, 0xee], "optlen 1: tcpi_state only");
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        assert_eq!(
            p.a.getsockopt(u, IPPROTO_TCP, TCP_INFO, &mut b),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(p.a.tcp_info(u), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn listener_reports_queue_and_backlog() {
        let mut p = Pair::new(2);
        let l = p.listener_b(80, 5);
        let c = p.a.socket(SockType::Stream, 0).unwrap();
        let _ =
            p.a.connect(p.now, c, Some(SocketAddr::new(B_ADDR.into(), 80)));
        p.drive();
        let ti = p.b.tcp_info(l).unwrap();
        assert_eq!(ti.tcpi_state, TcpState::Listen.linux_number());
        assert_eq!((ti.tcpi_unacked, ti.tcpi_sacked), (1, 5));
        assert_eq!(ti.tcpi_rto, 0, "listeners report little else");
        assert_eq!(ti.tcpi_snd_cwnd, 10);
    }

    #[test]
    fn established_connection_after_a_transfer() {
        let mut p = Pair::new(3);
        let (_l, c, s) = p.connected(80);
        let data = vec![5u8; 5000];
        assert_eq!(p.transfer(true, c, s, &data).len(), 5000);
        p.drive();
        let a = p.a.tcp_info(c).unwrap();
        let b = p.b.tcp_info(s).unwrap();
        assert_eq!(a.tcpi_state, TcpState::Established.linux_number());
        assert_eq!(
            a.tcpi_options,
            TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE
        );
        let bytes = a.to_bytes();
        assert_eq!(bytes[6], a.tcpi_snd_wscale | (a.tcpi_rcv_wscale << 4));
        assert_eq!(a.tcpi_snd_wscale, b.tcpi_rcv_wscale);
        assert_eq!(a.tcpi_snd_mss, 1460 - 12, "MSS less the timestamp option");
        assert_eq!(a.tcpi_bytes_acked, 5000);
        assert_eq!(a.tcpi_bytes_sent, 5000);
        assert_eq!(b.tcpi_bytes_received, 5000);
        assert_eq!((a.tcpi_unacked, a.tcpi_notsent_bytes), (0, 0));
        assert!(a.tcpi_rtt > 0 && a.tcpi_rto >= 200_000);
        assert_eq!(a.tcpi_total_retrans, 0);
        assert_eq!(a.tcpi_pmtu, 1500);
        assert_eq!(u32_at(&bytes, 80), a.tcpi_snd_cwnd);
        assert!(a.tcpi_snd_cwnd >= 10);
        assert!(b.tcpi_rcv_space > 0 && b.tcpi_rcv_wnd > 0);
        p.a.shutdown(p.now, c, SHUT_WR).unwrap();
        p.drive();
        let b = p.b.tcp_info(s).unwrap();
        assert_eq!(b.tcpi_state, TcpState::CloseWait.linux_number());
        assert_eq!(b.tcpi_bytes_received, 5000, "the FIN is not data");
    }

    #[test]
    fn retransmissions_are_counted() {
        let mut p = Pair::new(4);
        let (_l, c, _s) = p.connected(80);
        p.params.loss = 1.0;
        p.a.send(p.now, c, b"lost", 0, None).unwrap();
        p.drive_for(std::time::Duration::from_secs(4));
        let a = p.a.tcp_info(c).unwrap();
        assert!(a.tcpi_total_retrans >= 2, "{a:?}");
        // Every RTO, and the one tail loss probe before the first.
        assert_eq!(a.tcpi_retransmits as u32 + 1, a.tcpi_total_retrans);
        assert_eq!(a.tcpi_ca_state, TCP_CA_LOSS);
        assert_eq!(a.tcpi_unacked, 1);
        assert!(a.tcpi_rto > 1_000_000, "backed off");
    }
}
