//! ICMPv4 messages we send (FreeBSD's icmp_error and icmp_send): port
//! unreachable for a datagram to a closed UDP port, and echo replies.

use crate::netinet::inet::InetCx;
use crate::netinet::ip::{ip_output, is_broadcast, IpHeader};
use crate::stats::Stats;
use crate::wire::{self, icmpv4, Icmpv4Repr, Ipv4Repr};

pub(crate) fn send_icmp(
    cx: &impl InetCx,
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    msg: &Icmpv4Repr,
) {
    Stats::bump(&cx.stats().icmp_out);
    let h = IpHeader {
        src,
        dst,
        protocol: wire::IP_PROTO_ICMP,
        ttl: cx.sysctl().ip_default_ttl,
        tos: 0,
        dont_frag: false,
    };
    ip_output(cx, &h, msg.buffer_len(), |b| msg.emit(b));
}

/// Port unreachable in answer to the packet `ip`/`payload` (never for
/// broadcasts). Quotes the IP header and up to 548 bytes, as Linux does.
pub(crate) fn icmp_port_unreachable(cx: &impl InetCx, ip: &Ipv4Repr, payload: &[u8]) {
    if is_broadcast(cx, ip.dst_addr) {
        return;
    }
    let mut quoted = [0u8; 576 - 28];
    let hl = wire::ipv4::HEADER_LEN;
    let plen = payload.len().min(quoted.len() - hl);
    let orig = Ipv4Repr {
        payload_len: payload.len(),
        ..*ip
    };
    orig.emit(&mut quoted[..hl]);
    quoted[hl..hl + plen].copy_from_slice(&payload[..plen]);
    let msg = Icmpv4Repr::DstUnreachable {
        code: icmpv4::dst_unreachable::PORT_UNREACH,
        next_hop_mtu: 0,
        original: &quoted[..hl + plen],
    };
    send_icmp(cx, ip.dst_addr, ip.src_addr, &msg);
}
