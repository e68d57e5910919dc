//! IPv4 input (FreeBSD's ip_input): validate a packet, count what is
//! dropped, and hand it to its transport (TCP, UDP, ICMP).

use crate::netinet::inet::InetCx;
use crate::netinet::ip::{is_broadcast, is_local};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, WireError};

pub(crate) fn ip_input(cx: &impl InetCx, now: Instant, frame: &[u8]) {
    if frame.first().is_some_and(|b| b >> 4 != 4) {
        // IPv6 (router solicitations and the like reach a TUN device too).
        Stats::bump(&cx.stats().drop_not_ipv4);
        return;
    }
    let (ip, payload) = match Ipv4Repr::parse(frame) {
        Ok(v) => v,
        Err(e) => {
            let c = match e {
                WireError::BadChecksum => &cx.stats().drop_checksum,
                WireError::Unsupported => &cx.stats().drop_fragment,
                _ => &cx.stats().drop_malformed,
            };
            Stats::bump(c);
            return;
        }
    };
    if !is_local(cx, ip.dst_addr) && !is_broadcast(cx, ip.dst_addr) {
        Stats::bump(&cx.stats().drop_not_for_us);
        return;
    }
    match ip.protocol {
        wire::IP_PROTO_TCP => crate::netinet::tcp_demux::tcp_input(cx, now, &ip, payload),
        wire::IP_PROTO_UDP => crate::netinet::udp::udp_input(cx, now, &ip, payload),
        wire::IP_PROTO_ICMP => crate::netinet::icmp::icmp_input(cx, now, &ip, payload),
        _ => Stats::bump(&cx.stats().drop_unknown_proto),
    }
}
