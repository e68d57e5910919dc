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
use crate::kern::errqueue::{IcmpErr, SO_EE_ORIGIN_ICMP6};
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
            to_transport(
                cx,
                now,
                original,
                err,
                &icmp_err(ip, 1, code, 0, original),
                true,
            );
        }
        Icmpv6Repr::ParamProblem {
            code,
            pointer,
            original,
        } => {
            let e = icmp_err(ip, 4, code, pointer, original);
            to_transport(cx, now, original, Errno::EPROTO, &e, true)
        }
        Icmpv6Repr::TimeExceeded { code, original } => {
            let e = icmp_err(ip, 3, code, 0, original);
            to_transport(cx, now, original, Errno::EHOSTUNREACH, &e, false)
        }
        Icmpv6Repr::PacketTooBig { mtu, original } => match learn_pmtu(cx, now, original, mtu) {
            Some((src, dst, wire::IP_PROTO_TCP, sport, dport)) => {
                let (local, remote) = (
                    SocketAddr::new(src.into(), sport),
                    SocketAddr::new(dst.into(), dport),
                );
                crate::netinet::tcp_mtu::tcp_mtudisc(cx, now, local, remote, mtu as usize);
            }
            Some((_, _, wire::IP_PROTO_UDP, _, _)) => {
                let e = icmp_err(ip, 2, 0, mtu, original);
                to_transport(cx, now, original, Errno::EMSGSIZE, &e, true)
            }
            _ => {}
        },
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

/// Hand an error about the quoted packet to its transport's ctlinput;
/// a soft error (not `hard`) reaches only IPV6_RECVERR UDP sockets; TCP
/// takes both (Linux's tcp_v6_err: a half-open connection goes only for a
/// hard one), with the quote from its TCP header on.
fn to_transport(
    cx: &impl InetCx,
    now: Instant,
    original: &[u8],
    err: Errno,
    e: &IcmpErr,
    hard: bool,
) {
    let Some((src, dst, proto, sport, dport)) = icmpv6::quoted_transport(original) else {
        return;
    };
    let local = SocketAddr::new(src.into(), sport);
    let remote = SocketAddr::new(dst.into(), dport);
    match proto {
        wire::IP_PROTO_UDP if hard => crate::netinet::udp::udp_ctlinput(cx, local, remote, err, e),
        wire::IP_PROTO_UDP => crate::netinet::udp::udp_ctlinput_soft(cx, local, remote, err, e),
        wire::IP_PROTO_TCP => {
            let quote = original.get(wire::ipv6::HEADER_LEN..).unwrap_or(&[]);
            let e = IcmpErr {
                payload: quote,
                ..*e
            };
            crate::netinet::tcp_ctlinput::tcp_ctlinput(cx, now, local, remote, err, &e, hard)
        }
        _ => {}
    }
}

/// What an ICMPv6 error about one of our datagrams says (its quote is the
/// IPv6 header and the UDP header, then the payload).
fn icmp_err<'a>(ip: &IpIn, ee_type: u8, code: u8, info: u32, original: &'a [u8]) -> IcmpErr<'a> {
    IcmpErr {
        origin: SO_EE_ORIGIN_ICMP6,
        ee_type,
        code,
        info,
        offender: ip.src,
        payload: original
            .get(wire::ipv6::HEADER_LEN + wire::udp::HEADER_LEN..)
            .unwrap_or(&[]),
    }
}

/// RFC 8201: a Packet Too Big lowers the path MTU of the destination of
/// the packet it quotes (ip_pmtu.rs); then the transport hears of it.
fn learn_pmtu(
    cx: &impl InetCx,
    now: Instant,
    original: &[u8],
    mtu: u32,
) -> Option<(std::net::Ipv6Addr, std::net::Ipv6Addr, u8, u16, u16)> {
    let quoted = icmpv6::quoted_transport(original);
    if let Some((_, dst, ..)) = quoted {
        crate::netinet::ip_pmtu::ip_pmtu_learn(cx, now, dst.into(), mtu as usize);
    }
    quoted
}
