//! IPv4 input (FreeBSD's ip_input): validate a packet, count what is
//! dropped, and hand it to its transport (TCP, UDP, ICMP, IGMP); fragments
//! go to `ip_reass`. IPv6 packets go to `ip6_input`.

use std::net::IpAddr;

use crate::netinet::inet::InetCx;
use crate::netinet::ip::{is_broadcast, is_local, IpIn};
use crate::offload::RxMeta;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, WireError};

/// `ifindex`: the interface it arrived on (the device, or loopback).
/// `rx`: what the device said of it (the transport checksum checked, or
/// left partial by the local kernel: not verified again; a super-frame).
pub(crate) fn ip_input(cx: &impl InetCx, now: Instant, frame: &[u8], ifindex: u32, rx: RxMeta) {
    match frame.first().map(|b| b >> 4) {
        Some(4) => {}
        Some(6) => return crate::netinet::ip6_input::ip6_input(cx, now, frame, ifindex, rx),
        _ => {
            Stats::bump(&cx.stats().drop_not_ip);
            return;
        }
    }
    let (ip, payload) = match Ipv4Repr::parse(frame) {
        Ok(v) => v,
        Err(WireError::Unsupported) => {
            // A fragment; the whole datagram once reassembled.
            if let Some(whole) = crate::netinet::ip_reass::ip4_reass(cx, now, frame) {
                ip_input(cx, now, &whole, ifindex, RxMeta::default());
            }
            return;
        }
        Err(e) => {
            let c = match e {
                WireError::BadChecksum => &cx.stats().drop_checksum,
                _ => &cx.stats().drop_malformed,
            };
            Stats::bump(c);
            return;
        }
    };
    let dst = IpAddr::V4(ip.dst_addr);
    if ip.protocol == wire::igmp::IP_PROTO_IGMP {
        // To any group (Linux's ip_check_mc_rcu takes IGMP to groups it
        // did not join) or to us: queries and other hosts' reports.
        if ip.dst_addr.is_multicast() || is_local(cx, dst) {
            crate::netinet::igmp::igmp_input(cx, now, ip.src_addr, payload, ifindex);
        } else {
            Stats::bump(&cx.stats().drop_not_for_us);
        }
        return;
    }
    if ip.dst_addr.is_multicast() {
        // Only a group some socket joined on this interface is accepted.
        if ip.protocol != wire::IP_PROTO_UDP
            || !cx
                .inet()
                .pcbinfo
                .read()
                .mc
                .interface_joined(ip.dst_addr, ifindex, ip.src_addr)
        {
            Stats::bump(&cx.stats().drop_not_for_us);
            return;
        }
    } else if !is_local(cx, dst) && !is_broadcast(cx, dst) {
        Stats::bump(&cx.stats().drop_not_for_us);
        return;
    }
    // Parsed: the total length is within the frame (link padding after).
    let total = wire::Ipv4Packet::new_unchecked(frame)
        .total_len()
        .min(frame.len());
    let ipin = IpIn {
        src: ip.src_addr.into(),
        dst,
        packet: &frame[..total],
        csum_ok: rx.csum_ok,
        udp_gso_size: rx.udp_gso_size,
        ifindex,
        batch: rx.batch,
    };
    match ip.protocol {
        wire::IP_PROTO_TCP => crate::netinet::tcp_demux::tcp_input(cx, now, &ipin, payload),
        wire::IP_PROTO_UDP => crate::netinet::udp::udp_input(cx, now, &ipin, payload, ifindex),
        wire::IP_PROTO_ICMP => crate::netinet::icmp::icmp_input(cx, now, &ipin, payload),
        _ => Stats::bump(&cx.stats().drop_unknown_proto),
    }
}
