//! The per-destination path MTU cache (RFC 8201 for IPv6, RFC 1191 for
//! IPv4; Linux keeps it as route exceptions): an ICMPv6 Packet Too Big or
//! an ICMP fragmentation needed about a packet of ours lowers the path MTU
//! to its sender's destination for `mtu_expires` (Linux's
//! net.ipv4.route.mtu_expires and net.ipv6.route.mtu_expires, 600 s). New
//! TCP connections size their MSS from it, UDP fragments to it (or
//! answers EMSGSIZE under IP_PMTUDISC_DO / IPV6_DONTFRAG), and IP_MTU /
//! IPV6_MTU read it. Our own addresses are loopback's 64 KiB; everything
//! else starts at the device's MTU. The cache is `ip_pmtu_cache`.

use std::net::IpAddr;

use crate::linux::LOOPBACK_MTU;
use crate::netinet::inet::InetCx;
use crate::time::Instant;

/// The MTU of the interface that carries packets to `dst`: loopback's for
/// our own addresses, the device's otherwise.
pub(crate) fn dev_mtu(cx: &impl InetCx, dst: IpAddr) -> usize {
    if dst.is_loopback() || crate::netinet::ip::is_local(cx, dst) {
        // IPv4 caps it at IP_MAX_MTU (0xFFFF), as Linux's ipv4_mtu.
        if dst.is_ipv4() {
            LOOPBACK_MTU - 1
        } else {
            LOOPBACK_MTU
        }
    } else {
        cx.config().mtu
    }
}

/// The path MTU to `dst` now: the cache's figure, else the interface's.
pub(crate) fn path_mtu(cx: &impl InetCx, dst: IpAddr) -> usize {
    pmtu_below(cx, dst, dev_mtu(cx, dst))
}

/// `base` lowered to the path MTU learnt for `dst`, if any (TCP sizes its
/// MSS from the device's MTU on every route, loopback included).
pub(crate) fn pmtu_below(cx: &impl InetCx, dst: IpAddr, base: usize) -> usize {
    match cx.inet().pmtu.get(cx.last_now(), dst) {
        Some(m) => m.min(base),
        None => base,
    }
}

/// An ICMP error says the path to `dst` takes at most `mtu` (IPv4's
/// fragmentation needed with its next-hop MTU, IPv6's Packet Too Big).
/// An IPv4 error without a next-hop MTU (an RFC 792 router) teaches
/// nothing, as Linux ignores it without plateau guessing.
pub(crate) fn ip_pmtu_learn(cx: &impl InetCx, now: Instant, dst: IpAddr, mtu: usize) -> bool {
    if mtu == 0 {
        return false;
    }
    let dev = dev_mtu(cx, dst);
    if cx.inet().pmtu.update(now, dst, mtu, dev) {
        crate::stats::Stats::bump(&cx.stats().pmtu_updates);
        true
    } else {
        false
    }
}
