//! ICMP messages we send (FreeBSD's icmp_error and icmp_send, icmp6_error):
//! port unreachable for a datagram to a closed UDP port (ICMPv4 or
//! ICMPv6 by the datagram's family), and echo replies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::netinet::inet::InetCx;
use crate::netinet::ip::{ip_output, is_broadcast, IpHeader, IpIn};
use crate::stats::Stats;
use crate::wire::{self, icmpv4, icmpv6, Icmpv4Repr, Icmpv6Repr};

/// Most of an offending IPv4 packet an ICMPv4 error quotes: the error fits
/// in 576 bytes, as Linux's icmp_send.
pub(crate) const ICMP_MAX_QUOTE: usize = 576 - 28;

pub(crate) fn send_icmp(cx: &impl InetCx, src: Ipv4Addr, dst: Ipv4Addr, msg: &Icmpv4Repr) {
    Stats::bump(&cx.stats().icmp_out);
    let h = IpHeader {
        src: src.into(),
        dst: dst.into(),
        protocol: wire::IP_PROTO_ICMP,
        ttl: cx.sysctl().ip_default_ttl,
        tos: 0,
        dont_frag: false,
        oif: crate::netinet::in_pcb::DEV_NONE,
    };
    ip_output(cx, &h, msg.buffer_len(), |b| msg.emit(b));
}

pub(crate) fn send_icmp6(cx: &impl InetCx, src: Ipv6Addr, dst: Ipv6Addr, msg: &Icmpv6Repr) {
    Stats::bump(&cx.stats().icmp_out);
    let h = IpHeader {
        src: src.into(),
        dst: dst.into(),
        protocol: wire::IP_PROTO_ICMPV6,
        ttl: cx.sysctl().ipv6_hop_limit,
        tos: 0,
        dont_frag: false,
        oif: crate::netinet::in_pcb::DEV_NONE,
    };
    ip_output(cx, &h, msg.buffer_len(), |b| msg.emit(b, src, dst));
}

/// May an ICMP error of type `ty` go to `peer` now (icmp_ratelimit.rs)?
/// Errors to ourselves, over loopback, are never limited; one refused is
/// counted.
pub(crate) fn icmp_error_allowed(cx: &impl InetCx, peer: IpAddr, ty: u8) -> bool {
    let sys = cx.sysctl();
    if crate::netinet::ip::is_local(cx, peer)
        || !crate::netinet::icmp_ratelimit::type_limited(&sys, peer.is_ipv6(), ty)
    {
        return true;
    }
    let now = cx.last_now();
    let credits = cx.inet().rng.lock().next_u32() % 3;
    let allowed = cx
        .inet()
        .icmp_ratelimit
        .lock()
        .allow(now, &sys, peer, credits);
    if !allowed {
        Stats::bump(&cx.stats().icmp_out_ratelimited);
    }
    allowed
}

/// Port unreachable in answer to the packet `ip` (never for broadcasts or
/// multicasts). Quotes the packet from its IP header on, as much as fits:
/// 548 bytes for ICMPv4 (Linux), the minimum MTU for ICMPv6 (RFC 4443).
pub(crate) fn icmp_port_unreachable(cx: &impl InetCx, ip: &IpIn) {
    if is_broadcast(cx, ip.dst) || ip.dst.is_multicast() {
        return;
    }
    let ty = match ip.src {
        IpAddr::V4(_) => icmpv4::msg_type::DST_UNREACHABLE,
        IpAddr::V6(_) => icmpv6::msg_type::DST_UNREACHABLE,
    };
    if !icmp_error_allowed(cx, ip.src, ty) {
        return;
    }
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let n = ip.packet.len().min(ICMP_MAX_QUOTE);
            let msg = Icmpv4Repr::DstUnreachable {
                code: icmpv4::dst_unreachable::PORT_UNREACH,
                next_hop_mtu: 0,
                original: &ip.packet[..n],
            };
            send_icmp(cx, dst, src, &msg);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let n = ip.packet.len().min(icmpv6::MAX_QUOTE);
            let msg = Icmpv6Repr::DstUnreachable {
                code: icmpv6::dst_unreachable::PORT_UNREACH,
                original: &ip.packet[..n],
            };
            send_icmp6(cx, dst, src, &msg);
        }
        _ => {}
    }
}
