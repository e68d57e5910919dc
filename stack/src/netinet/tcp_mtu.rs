//! TCP path MTU discovery (FreeBSD's tcp_mtudisc): an ICMP Packet Too Big
//! (RFC 8201) or IPv4 fragmentation needed (RFC 1191) about a connection
//! lowers its MSS; one about our SYN lowers the MSS it offers and sends it
//! again at once. The destination's path MTU is remembered for the
//! connections that follow (ip_pmtu.rs).

use std::net::SocketAddr;

use crate::kern::sotable::lock_live;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_var::TcpState;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire;

/// Path MTU discovery (RFC 8201 for IPv6, RFC 1191 for IPv4's fragmentation
/// needed): a router says packets of the connection `local`-`remote` must
/// not exceed `mtu`. The MSS shrinks to fit (never grows; at least what
/// IPv6's 1280 bytes or Linux's min_pmtu of 552 leave), and what is in
/// flight is sent again at once in the smaller segments, as Linux's
/// tcp_simple_retransmit.
pub(crate) fn tcp_mtudisc(
    cx: &impl InetCx,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    mtu: usize,
) {
    let found = cx.inet().pcbinfo.read().tcp_conn(local, remote);
    let Some(h) = found else { return };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let (floor, ip_hl) = if remote.is_ipv6() {
        (wire::ipv6::MIN_MTU, wire::ipv6::HEADER_LEN)
    } else {
        (552, wire::ipv4::HEADER_LEN)
    };
    if tp.t_state == TcpState::SynSent {
        // Our SYN (a Fast Open one with data) was too big: offer the MSS
        // the path allows and send the SYN again at once, without data
        // (Linux's tcp_simple_retransmit for SYN data; the first SYN's
        // Fast Open option and data go only once).
        // (Kept as for IPv4: the SYN's MSS option takes IPv6's longer
        // header off, tcp_mss_clamp.)
        let offer = mtu.max(floor) - wire::ipv4::HEADER_LEN - wire::tcp::HEADER_LEN;
        if offer >= tp.mss_offer as usize {
            return;
        }
        Stats::bump(&cx.stats().tcp_pmtu_updates);
        tp.mss_offer = offer as u16;
        if tp.snd_max.gt(tp.iss) {
            tp.snd_nxt = tp.iss;
            tp.total_retrans += 1;
            tcp_output(cx, now, &mut so);
        }
        tcp_timer_sync(cx, &mut so);
        return;
    }
    if !tp.t_state.synchronized() {
        return;
    }
    let opts = if tp.ts_ok { 12 } else { 0 };
    let mss = mtu.max(floor) - ip_hl - wire::tcp::HEADER_LEN - opts;
    if mss >= tp.t_maxseg {
        return;
    }
    Stats::bump(&cx.stats().tcp_pmtu_updates);
    tp.t_maxseg = mss;
    if tp.snd_nxt.gt(tp.snd_una) {
        tp.snd_nxt = tp.snd_una;
        tp.total_retrans += 1;
        tcp_output(cx, now, &mut so);
    }
    tcp_timer_sync(cx, &mut so);
}
