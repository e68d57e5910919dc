//! ICMPv4: echo replies, port-unreachable for UDP to a closed port, and
//! delivery of received unreachable errors to the socket they concern.

use std::net::SocketAddrV4;

use crate::errno::Errno;
use crate::host::Stack;
use crate::netinet::ip::{ip_output, is_broadcast, IpHeader};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, icmpv4, Icmpv4Repr, Ipv4Repr};

pub(crate) fn icmp_input(stack: &Stack, now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
    Stats::bump(&stack.stats.icmp_in);
    let Ok(msg) = Icmpv4Repr::parse(payload) else {
        Stats::bump(&stack.stats.drop_malformed);
        return;
    };
    match msg {
        Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        } => {
            if is_broadcast(stack, ip.dst_addr) {
                return;
            }
            let reply = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            send_icmp(stack, ip.dst_addr, ip.src_addr, &reply);
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
                wire::IP_PROTO_UDP => crate::netinet::udp::udp_ctlinput(stack, local, remote, err),
                wire::IP_PROTO_TCP => {
                    crate::netinet::tcp_subr::tcp_ctlinput(stack, now, local, remote, err)
                }
                _ => {}
            }
        }
        _ => {}
    }
}

pub(crate) fn send_icmp(
    stack: &Stack,
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    msg: &Icmpv4Repr,
) {
    Stats::bump(&stack.stats.icmp_out);
    let h = IpHeader {
        src,
        dst,
        protocol: wire::IP_PROTO_ICMP,
        ttl: stack.sysctl().ip_default_ttl,
        tos: 0,
        dont_frag: false,
    };
    ip_output(stack, &h, msg.buffer_len(), |b| msg.emit(b));
}

/// Port unreachable in answer to the packet `ip`/`payload` (never for
/// broadcasts). Quotes the IP header and up to 548 bytes, as Linux does.
pub(crate) fn icmp_port_unreachable(stack: &Stack, ip: &Ipv4Repr, payload: &[u8]) {
    if is_broadcast(stack, ip.dst_addr) {
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
    send_icmp(stack, ip.dst_addr, ip.src_addr, &msg);
}
