//! IPv6 input (FreeBSD's ip6_input): validate the fixed header, keep what
//! is addressed to us, walk the extension headers (RFC 8200 §4, see
//! `wire::ipv6ext`), and hand the packet to its upper layer (TCP, UDP,
//! ICMPv6). What the walk refuses is counted and, where RFC 8200 says so,
//! answered with an ICMPv6 Parameter Problem. Fragments go to `ip_reass`.
//! Multicast is taken only as UDP to a group the interface it arrived on
//! is in (`ip6_mcast`), or ICMPv6 to one, where MLD queries and reports
//! are read (`igmp`); the rest (neighbour discovery from the kernel side
//! of the device) is counted and dropped.

use std::net::Ipv6Addr;

use crate::netinet::icmp_error::send_icmp6;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::{is_local, IpIn};
use crate::offload::RxMeta;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::ipv6ext::{self, param_problem, ExtError};
use crate::wire::{self, icmpv6, Icmpv6Repr, Ipv6Repr, WireError};

/// `arrived`: the interface it came in on (which decides only for a
/// multicast destination; a unicast one is loopback's when it comes from
/// one of our own addresses).
pub(crate) fn ip6_input(cx: &impl InetCx, now: Instant, frame: &[u8], arrived: u32, rx: RxMeta) {
    let (ip, payload) = match Ipv6Repr::parse(frame) {
        Ok(v) => v,
        Err(WireError::Unsupported) => {
            Stats::bump(&cx.stats().drop_ext_header);
            return;
        }
        Err(_) => {
            Stats::bump(&cx.stats().drop_malformed);
            return;
        }
    };
    let packet = &frame[..ip.buffer_len()];
    let dst = ip.dst_addr;
    let multicast = dst.is_multicast();
    if multicast
        && !cx
            .inet()
            .pcbinfo
            .read()
            .mc
            .interface_joined6(dst, arrived, ip.src_addr)
    {
        // The kernel side's router/neighbour solicitations and MLD reports.
        Stats::bump(&cx.stats().drop_ndisc);
        return;
    }
    if !multicast && !is_local(cx, dst.into()) {
        Stats::bump(&cx.stats().drop_not_for_us);
        return;
    }
    // RFC 4291 §2.5.2/§2.5.5.2: no packet comes from `::` (but DAD,
    // which is multicast) or from a v4-mapped or multicast address.
    let src = ip.src_addr;
    if src.is_multicast() || src.to_ipv4_mapped().is_some() || src.is_unspecified() {
        Stats::bump(&cx.stats().drop_malformed);
        return;
    }
    let walk = match ipv6ext::walk(ip.next_header, payload) {
        Ok(w)
            if multicast
                && w.protocol != wire::IP_PROTO_UDP
                && w.protocol != wire::IP_PROTO_ICMPV6 =>
        {
            Stats::bump(&cx.stats().drop_ndisc);
            return;
        }
        Ok(w) => w,
        Err(_) if multicast => {
            Stats::bump(&cx.stats().drop_ext_header);
            return;
        }
        Err(e) => {
            Stats::bump(&cx.stats().drop_ext_header);
            if let ExtError::ParamProblem { code, pointer, .. } = e {
                param_problem(cx, src, dst, code, pointer, packet);
            }
            return;
        }
    };
    if let Some(frag) = walk.fragment {
        // The whole datagram once reassembled.
        if let Some(whole) = crate::netinet::ip_reass::ip6_reass(cx, now, packet, frag) {
            ip6_input(cx, now, &whole, arrived, RxMeta::default());
        }
        return;
    }
    let upper = &payload[walk.offset..];
    // From one of our own addresses by loopback, else by the device.
    let ifindex = if multicast {
        arrived
    } else if crate::netinet::ip::is_local(cx, src.into()) {
        crate::linux::LOOPBACK_IFINDEX
    } else {
        cx.config().ifindex
    };
    let ipin = IpIn {
        src: src.into(),
        dst: dst.into(),
        packet,
        csum_ok: rx.csum_ok,
        udp_gso_size: rx.udp_gso_size,
        ifindex,
        batch: rx.batch,
    };
    match walk.protocol {
        wire::IP_PROTO_TCP => crate::netinet::tcp_demux::tcp_input(cx, now, &ipin, upper),
        wire::IP_PROTO_UDP => crate::netinet::udp::udp_input(cx, now, &ipin, upper, ifindex),
        // To a group: MLD queries and reports (the rest is dropped there).
        wire::IP_PROTO_ICMPV6 if multicast => {
            let ra = ip.next_header == 0 && crate::netinet::igmp::has_mld_router_alert(payload);
            let hops = ip.hop_limit;
            crate::netinet::igmp::mld_input(cx, now, (src, dst), hops, ra, upper, arrived)
        }
        wire::IP_PROTO_ICMPV6 => crate::netinet::icmp6::icmp6_input(cx, now, &ipin, upper),
        ipv6ext::NO_NEXT_HEADER => {}
        _ => {
            // Linux answers an unknown next header with a Parameter
            // Problem pointing at the byte that named it.
            Stats::bump(&cx.stats().drop_unknown_proto);
            let code = param_problem::UNRECOGNIZED_NEXT_HEADER;
            param_problem(cx, src, dst, code, walk.nh_at, packet);
        }
    }
}

/// An ICMPv6 Parameter Problem about `packet` (RFC 4443 §3.4).
fn param_problem(
    cx: &impl InetCx,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    code: u8,
    pointer: usize,
    packet: &[u8],
) {
    if !crate::netinet::icmp_error::icmp_error_allowed(
        cx,
        src.into(),
        icmpv6::msg_type::PARAM_PROBLEM,
    ) {
        return;
    }
    let n = packet.len().min(icmpv6::MAX_QUOTE);
    let msg = Icmpv6Repr::ParamProblem {
        code,
        pointer: pointer as u32,
        original: &packet[..n],
    };
    send_icmp6(cx, dst, src, &msg);
}
