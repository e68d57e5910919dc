//! ICMPv4: echo replies, port-unreachable for UDP to a closed port, and
//! delivery of received unreachable errors to the socket they concern.

use std::net::SocketAddrV4;

use crate::errno::Errno;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::{ip_output, is_broadcast, IpHeader};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, icmpv4, Icmpv4Repr, Ipv4Repr};

pub(crate) fn icmp_input(cx: &impl InetCx, now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
    Stats::bump(&cx.stats().icmp_in);
    let Ok(msg) = Icmpv4Repr::parse(payload) else {
        Stats::bump(&cx.stats().drop_malformed);
        return;
    };
    match msg {
        Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        } => {
            if is_broadcast(cx, ip.dst_addr) {
                return;
            }
            let reply = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            send_icmp(cx, ip.dst_addr, ip.src_addr, &reply);
        }
        Icmpv4Repr::DstUnreachable { code, original, .. } => {
            let Some((src, dst, proto, sport, dport)) = icmpv4::quoted_transport(original) else {
                return;
            };
            let err = match code {
                icmpv4::dst_unreachable::PORT_UNREACH | icmpv4::dst_unreachable::PROTO_UNREACH => {
                    Errno::ECONNREFUSED
                }
                icmpv4::dst_unreachable::NET_UNREACH | icmpv4::dst_unreachable::NET_UNKNOWN => {
                    Errno::ENETUNREACH
                }
                icmpv4::dst_unreachable::FRAG_NEEDED => return,
                _ => Errno::EHOSTUNREACH,
            };
            let local = SocketAddrV4::new(src, sport);
            let remote = SocketAddrV4::new(dst, dport);
            match proto {
                wire::IP_PROTO_UDP => crate::netinet::udp::udp_ctlinput(cx, local, remote, err),
                wire::IP_PROTO_TCP => {
                    crate::netinet::tcp_subr::tcp_ctlinput(cx, now, local, remote, err)
                }
                _ => {}
            }
        }
        _ => {}
    }
}

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
