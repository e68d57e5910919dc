//! ICMPv4 input: echo requests are answered, and received destination
//! unreachable errors go to the transport they concern (its ctlinput).

use std::net::{IpAddr, SocketAddr};

use crate::errno::Errno;
use crate::netinet::icmp_error::send_icmp;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::is_broadcast;
use crate::netinet::ip::IpIn;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, icmpv4, Icmpv4Repr};

pub(crate) fn icmp_input(cx: &impl InetCx, now: Instant, ip: &IpIn, payload: &[u8]) {
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
            let (IpAddr::V4(src), IpAddr::V4(dst)) = (ip.src, ip.dst) else {
                return;
            };
            if is_broadcast(cx, ip.dst) {
                return;
            }
            let reply = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            send_icmp(cx, dst, src, &reply);
        }
        Icmpv4Repr::DstUnreachable {
            code: icmpv4::dst_unreachable::FRAG_NEEDED,
            next_hop_mtu,
            original,
        } => {
            // Path MTU discovery (RFC 1191) for TCP.
            if let Some((src, dst, wire::IP_PROTO_TCP, sport, dport)) =
                icmpv4::quoted_transport(original)
            {
                let local = SocketAddr::new(src.into(), sport);
                let remote = SocketAddr::new(dst.into(), dport);
                let mtu = usize::from(next_hop_mtu);
                crate::netinet::tcp_mtu::tcp_mtudisc(cx, now, local, remote, mtu);
            }
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
                _ => Errno::EHOSTUNREACH,
            };
            let local = SocketAddr::new(src.into(), sport);
            let remote = SocketAddr::new(dst.into(), dport);
            match proto {
                wire::IP_PROTO_UDP => crate::netinet::udp::udp_ctlinput(cx, local, remote, err),
                wire::IP_PROTO_TCP => {
                    crate::netinet::tcp_ctlinput::tcp_ctlinput(cx, now, local, remote, err)
                }
                _ => {}
            }
        }
        _ => {}
    }
}
