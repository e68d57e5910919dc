//! ICMPv6 input (RFC 4443): echo requests are answered, and received
//! errors about a connection (destination unreachable, parameter problem)
//! go to the transport they concern, with Linux's errno mapping
//! (icmpv6_err_convert). Neighbour discovery and MLD are counted and
//! dropped: a layer-3 TUN device has no link-layer addresses to resolve.
//! Packet Too Big lowers a TCP connection's MSS (path MTU discovery, RFC
//! 8201; no per-destination cache, so UDP is not told); time exceeded is
//! ignored, as the IPv4 side does.

use std::net::{IpAddr, SocketAddr};

use crate::errno::Errno;
use crate::netinet::icmp_error::send_icmp6;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::IpIn;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::icmpv6::{self, dst_unreachable, msg_type};
use crate::wire::{self, Icmpv6Repr};

pub(crate) fn icmp6_input(cx: &impl InetCx, now: Instant, ip: &IpIn, payload: &[u8]) {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (ip.src, ip.dst) else {
        return;
    };
    Stats::bump(&cx.stats().icmp_in);
    let msg = match Icmpv6Repr::parse(payload, src, dst) {
        Ok(m) => m,
        Err(wire::WireError::BadChecksum) => {
            Stats::bump(&cx.stats().drop_checksum);
            return;
        }
        Err(_) => {
            Stats::bump(&cx.stats().drop_malformed);
            return;
        }
    };
    match msg {
        Icmpv6Repr::EchoRequest {
            ident,
            seq_no,
            data,
        } => {
            let reply = Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            send_icmp6(cx, dst, src, &reply);
        }
        Icmpv6Repr::DstUnreachable { code, original } => {
            let err = match code {
                dst_unreachable::NO_ROUTE => Errno::ENETUNREACH,
                dst_unreachable::PORT_UNREACH => Errno::ECONNREFUSED,
                dst_unreachable::ADMIN_PROHIBITED
                | dst_unreachable::FAILED_POLICY
                | dst_unreachable::REJECT_ROUTE => Errno::EACCES,
                _ => Errno::EHOSTUNREACH,
            };
            to_transport(cx, now, original, err);
        }
        Icmpv6Repr::ParamProblem { original, .. } => to_transport(cx, now, original, Errno::EPROTO),
        Icmpv6Repr::PacketTooBig { mtu, original } => {
            if let Some((src, dst, wire::IP_PROTO_TCP, sport, dport)) =
                icmpv6::quoted_transport(original)
            {
                let (local, remote) = (
                    SocketAddr::new(src.into(), sport),
                    SocketAddr::new(dst.into(), dport),
                );
                crate::netinet::tcp_mtu::tcp_mtudisc(cx, now, local, remote, mtu as usize);
            }
        }
        Icmpv6Repr::Other { msg_type, .. } if is_ndisc_or_mld(msg_type) => {
            Stats::bump(&cx.stats().drop_ndisc);
        }
        _ => {}
    }
}

fn is_ndisc_or_mld(t: u8) -> bool {
    matches!(
        t,
        msg_type::MLD_QUERY
            | msg_type::MLD_REPORT
            | msg_type::MLD_DONE
            | msg_type::ROUTER_SOLICIT
            | msg_type::ROUTER_ADVERT
            | msg_type::NEIGHBOR_SOLICIT
            | msg_type::NEIGHBOR_ADVERT
            | msg_type::REDIRECT
            | msg_type::MLD2_REPORT
    )
}

/// Hand an error about the quoted packet to its transport's ctlinput.
fn to_transport(cx: &impl InetCx, now: Instant, original: &[u8], err: Errno) {
    let Some((src, dst, proto, sport, dport)) = icmpv6::quoted_transport(original) else {
        return;
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
