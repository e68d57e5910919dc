//! ICMPv4 input: echo requests are answered, and received destination
//! unreachable and time exceeded errors go to the transport they concern
//! (its ctlinput).

use std::net::{IpAddr, SocketAddr};

use crate::errno::Errno;
use crate::kern::errqueue::{IcmpErr, SO_EE_ORIGIN_ICMP};
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
            // Path MTU discovery (RFC 1191): the destination's path MTU
            // for every socket; TCP resends smaller, UDP learns EMSGSIZE.
            let quoted = icmpv4::quoted_transport(original);
            if let Some((_, dst, ..)) = quoted {
                let mtu = usize::from(next_hop_mtu);
                crate::netinet::ip_pmtu::ip_pmtu_learn(cx, now, dst.into(), mtu);
            }
            match quoted {
                Some((src, dst, wire::IP_PROTO_TCP, sport, dport)) => {
                    let local = SocketAddr::new(src.into(), sport);
                    let remote = SocketAddr::new(dst.into(), dport);
                    let mtu = usize::from(next_hop_mtu);
                    crate::netinet::tcp_mtu::tcp_mtudisc(cx, now, local, remote, mtu);
                }
                Some((src, dst, wire::IP_PROTO_UDP, sport, dport)) => {
                    let local = SocketAddr::new(src.into(), sport);
                    let remote = SocketAddr::new(dst.into(), dport);
                    let frag = icmpv4::dst_unreachable::FRAG_NEEDED;
                    let e = icmp_err(ip, 3, frag, original, wire::udp::HEADER_LEN);
                    let e = IcmpErr {
                        info: u32::from(next_hop_mtu),
                        ..e
                    };
                    crate::netinet::udp::udp_ctlinput(cx, local, remote, Errno::EMSGSIZE, &e);
                }
                _ => {}
            }
        }
        Icmpv4Repr::TimeExceeded { code, original } => {
            // Not a hard error: only IP_RECVERR UDP sockets hear of it;
            // TCP takes it as any other (Linux's tcp_v4_err).
            match icmpv4::quoted_transport(original) {
                Some((src, dst, wire::IP_PROTO_UDP, sport, dport)) => {
                    let local = SocketAddr::new(src.into(), sport);
                    let remote = SocketAddr::new(dst.into(), dport);
                    let e = icmp_err(ip, 11, code, original, wire::udp::HEADER_LEN);
                    let err = Errno::EHOSTUNREACH;
                    crate::netinet::udp::udp_ctlinput_soft(cx, local, remote, err, &e);
                }
                Some((src, dst, wire::IP_PROTO_TCP, sport, dport)) => {
                    let local = SocketAddr::new(src.into(), sport);
                    let remote = SocketAddr::new(dst.into(), dport);
                    let e = icmp_err(ip, 11, code, original, 0);
                    let err = Errno::EHOSTUNREACH;
                    crate::netinet::tcp_ctlinput::tcp_ctlinput(
                        cx, now, local, remote, err, &e, true,
                    );
                }
                _ => {}
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
                wire::IP_PROTO_UDP => {
                    let e = icmp_err(ip, 3, code, original, wire::udp::HEADER_LEN);
                    crate::netinet::udp::udp_ctlinput(cx, local, remote, err, &e)
                }
                wire::IP_PROTO_TCP => {
                    // The quote from the TCP header on (Linux's tcp_v4_err);
                    // a half-open connection goes for a network or host
                    // unreachable only (tcp_req_err's abort).
                    let e = icmp_err(ip, 3, code, original, 0);
                    let abort = matches!(
                        code,
                        icmpv4::dst_unreachable::NET_UNREACH
                            | icmpv4::dst_unreachable::HOST_UNREACH
                    );
                    crate::netinet::tcp_ctlinput::tcp_ctlinput(
                        cx, now, local, remote, err, &e, abort,
                    )
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// What an ICMPv4 error about one of our datagrams says (its quote is the
/// IPv4 header, then the transport's): the payload after `skip` bytes of
/// the transport header (UDP's 8; TCP's errors quote the TCP header too).
fn icmp_err<'a>(ip: &IpIn, ee_type: u8, code: u8, original: &'a [u8], skip: usize) -> IcmpErr<'a> {
    let ihl = usize::from(original.first().map_or(0, |b| b & 0xf)) * 4;
    IcmpErr {
        origin: SO_EE_ORIGIN_ICMP,
        ee_type,
        code,
        info: 0,
        offender: ip.src,
        payload: original.get(ihl + skip..).unwrap_or(&[]),
    }
}
