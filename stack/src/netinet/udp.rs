//! UDP: the protocol switch entry for datagram sockets, input with
//! port-unreachable for closed ports, and ICMP errors to connected sockets.

use std::net::SocketAddr;

use crate::api::{Readiness, SockInfo, SockType};
use crate::errno::Errno;
use crate::kern::protosw::Protosw;
use crate::kern::socket::{SockState, Socket};
use crate::kern::sockopt::{sooptcopyin_int, sooptcopyout};
use crate::kern::sotable::lock_live;
use crate::kern::uipc::{soreserve, soreserved};
use crate::linux::*;
use crate::netinet::in_pcb::{Inpcb, Proto, INP_ANONPORT, INP_BOUNDADDR};
use crate::netinet::in_pcbbind::in_pcbdest;
use crate::netinet::in_pcbbind::{in_pcbautobind, in_pcbbind};
use crate::netinet::inet::InetCx;
use crate::netinet::ip::IpIn;
use crate::netinet::ip::{self, IpHeader};
use crate::netinet::so_pcb::InPcb;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, UdpRepr};

/// Largest UDP payload in one IPv4 datagram.
pub const UDP_MAX_PAYLOAD: usize = 65535 - 20 - 8;
/// Largest UDP payload in one IPv6 datagram (no jumbograms): the payload
/// length field covers the UDP header only, not the IPv6 header.
pub const UDP6_MAX_PAYLOAD: usize = 65535 - 8;

pub(crate) struct UdpUsrreqs;
pub(crate) static UDP_USRREQS: UdpUsrreqs = UdpUsrreqs;

fn autobind(cx: &impl InetCx, so: &mut Socket) -> Result<(), Errno> {
    in_pcbautobind(cx, so, Proto::Udp, Errno::EAGAIN)
}

impl<C: InetCx> Protosw<C> for UdpUsrreqs {
    fn pr_type(&self) -> SockType {
        SockType::Dgram
    }

    fn pr_protocol(&self) -> i32 {
        IPPROTO_UDP
    }

    /// An Inpcb, and the rmem_default/wmem_default buffers.
    fn pru_attach(&self, cx: &C, so: &mut Socket) -> Result<(), Errno> {
        let sys = cx.sysctl();
        if !soreserved(so) {
            soreserve(so, sys.wmem_default, sys.rmem_default);
        }
        so.so_pcb.set(Inpcb::new_in(
            so.so_domain,
            sys.ip_default_ttl,
            sys.bindv6only,
        ));
        Ok(())
    }

    fn pru_detach(&self, cx: &C, so: &mut Socket) {
        let inp = so.so_pcb.inp();
        if inp.lport != 0 {
            cx.inet()
                .pcbinfo
                .write()
                .unbind(Proto::Udp, inp.lport, so.handle);
        }
    }

    fn pru_bind(&self, cx: &C, so: &mut Socket, addr: SocketAddr) -> Result<(), Errno> {
        in_pcbbind(cx, so, Proto::Udp, addr, Errno::EADDRINUSE)
    }

    fn pru_listen(&self, _cx: &C, _so: &mut Socket, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn pru_connect(
        &self,
        cx: &C,
        _now: Instant,
        so: &mut Socket,
        addr: Option<SocketAddr>,
    ) -> Result<(), Errno> {
        let handle = so.handle;
        let Some(addr) = addr else {
            // AF_UNSPEC: dissolve the association (Linux __udp_disconnect).
            let inp = so.so_pcb.inp_mut();
            inp.faddr = inp.any();
            inp.fport = 0;
            if inp.inp_flags & INP_BOUNDADDR == 0 {
                inp.laddr = inp.any();
            }
            if inp.inp_flags & INP_ANONPORT != 0 && inp.lport != 0 {
                let port = inp.lport;
                inp.lport = 0;
                inp.inp_flags &= !INP_ANONPORT;
                cx.inet().pcbinfo.write().unbind(Proto::Udp, port, handle);
            } else if inp.lport != 0 {
                let port = inp.lport;
                cx.inet()
                    .pcbinfo
                    .write()
                    .update(Proto::Udp, port, handle, |u| u.foreign = None);
            }
            so.sock_state = SockState::Unconnected;
            return Ok(());
        };
        let addr = in_pcbdest(so.so_pcb.inp(), addr)?;
        ip::route_check(cx, addr.ip())?;
        if ip::is_broadcast(cx, addr.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        autobind(cx, so)?;
        let inp = so.so_pcb.inp_mut();
        inp.faddr = addr.ip();
        inp.fport = addr.port();
        if inp.laddr.is_unspecified() {
            inp.laddr = ip::source_for(cx, inp.laddr, addr.ip());
        }
        let port = inp.lport;
        cx.inet()
            .pcbinfo
            .write()
            .update(Proto::Udp, port, handle, |u| u.foreign = Some(addr));
        so.sock_state = SockState::Connected;
        Ok(())
    }

    fn pru_connect_status(&self, _cx: &C, so: &mut Socket) -> Result<bool, Errno> {
        Ok(so.so_pcb.inp().is_connected())
    }

    fn pru_send(
        &self,
        cx: &C,
        _now: Instant,
        so: &mut Socket,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddr>,
    ) -> Result<usize, Errno> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let dst = match to {
            Some(a) => {
                if a.port() == 0 {
                    return Err(Errno::EINVAL);
                }
                in_pcbdest(so.so_pcb.inp(), a)?
            }
            None if so.so_pcb.inp().is_connected() => so.so_pcb.inp().foreign(),
            None => return Err(Errno::EDESTADDRREQ),
        };
        let max = if dst.is_ipv6() {
            UDP6_MAX_PAYLOAD
        } else {
            UDP_MAX_PAYLOAD
        };
        if data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        if so.sb_state.cantsendmore {
            return Err(Errno::EPIPE);
        }
        // A pending asynchronous error (ICMP) is reported by the next send.
        if let Some(err) = so.take_error() {
            return Err(err);
        }
        ip::route_check(cx, dst.ip())?;
        if ip::is_broadcast(cx, dst.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        autobind(cx, so)?;
        let inp = *so.so_pcb.inp();
        let src = ip::source_for(cx, inp.laddr, dst.ip());
        let repr = UdpRepr {
            src_port: inp.lport,
            dst_port: dst.port(),
            payload: data,
        };
        let (ttl, tos) = inp.ttl_tos_to(dst.ip(), cx.sysctl().ipv6_hop_limit);
        let h = IpHeader {
            src,
            dst: dst.ip(),
            protocol: wire::IP_PROTO_UDP,
            ttl,
            tos,
            dont_frag: false,
        };
        let ip_hl = if dst.is_ipv6() {
            wire::ipv6::HEADER_LEN
        } else {
            wire::ipv4::HEADER_LEN
        };
        if ip_hl + repr.buffer_len() <= cx.config().mtu {
            // The common case: built straight into the frame (no allocation).
            ip::ip_output(cx, &h, repr.buffer_len(), |b| repr.emit(b, src, dst.ip()));
        } else {
            let mut dgram = vec![0u8; repr.buffer_len()];
            repr.emit(&mut dgram, src, dst.ip());
            ip::ip_output_fragmented(cx, &h, &dgram);
        }
        Stats::bump(&cx.stats().udp_out);
        Ok(data.len())
    }

    fn pru_rcvd(&self, _cx: &C, _now: Instant, _so: &mut Socket) {}

    fn pru_shutdown(&self, _cx: &C, _now: Instant, so: &mut Socket, how: i32) -> Result<(), Errno> {
        if how != SHUT_WR {
            so.socantrcvmore();
        }
        if how != SHUT_RD {
            so.socantsendmore();
        }
        if so.so_pcb.inp().is_connected() {
            Ok(())
        } else {
            Err(Errno::ENOTCONN)
        }
    }

    fn pru_close(&self, _cx: &C, _now: Instant, _so: &mut Socket) {}

    fn pru_abort(&self, _cx: &C, _now: Instant, _so: &mut Socket) {}

    fn pru_accept(&self, so: &Socket) -> SocketAddr {
        let inp = so.so_pcb.inp();
        inp.user_addr(inp.faddr, inp.fport)
    }

    fn pru_sockaddr(&self, so: &Socket) -> SocketAddr {
        let inp = so.so_pcb.inp();
        inp.user_addr(inp.laddr, inp.lport)
    }

    fn pru_rcv_notconn(&self, _so: &Socket) -> bool {
        false
    }

    fn pru_rcvlowat(&self, _cx: &C, so: &mut Socket, lowat: usize) {
        so.so_rcv.sb_lowat = lowat.max(1);
    }

    fn pru_peeraddr(&self, so: &Socket) -> Result<SocketAddr, Errno> {
        let inp = so.so_pcb.inp();
        if inp.is_connected() {
            Ok(inp.user_addr(inp.faddr, inp.fport))
        } else {
            Err(Errno::ENOTCONN)
        }
    }

    fn pru_sopoll(&self, so: &Socket) -> Readiness {
        let mut r = Readiness::EMPTY;
        if so.so_error.is_some() {
            r |= Readiness::ERR;
        }
        if so.sb_state.cantrcvmore {
            r |= Readiness::RDHUP | Readiness::IN | Readiness::RDNORM;
        }
        if so.sb_state.cantrcvmore && so.sb_state.cantsendmore {
            r |= Readiness::HUP;
        }
        if so.so_rcv.cc() > 0 || so.so_rcv.front_dgram().is_some() {
            r |= Readiness::IN | Readiness::RDNORM;
        }
        r | Readiness::OUT | Readiness::WRNORM
    }

    fn pru_sockinfo(&self, so: &Socket) -> SockInfo {
        SockInfo {
            rcv_cc: so.so_rcv.front_dgram().map_or(0, |(_, len)| len),
            snd_cc: 0,
            snd_unsent: 0,
            tcp_state: 0,
            listening: false,
            inq_hint: None,
            snd_space: 0,
        }
    }

    /// Levels as Linux's udp_setsockopt routes them: IPPROTO_IP to
    /// ip_setsockopt (its one-byte optlen rule); IPPROTO_UDP options are
    /// not supported (an int is still required first); anything else,
    /// SOL_SOCKET's SO_KEEPALIVE included, ENOPROTOOPT.
    fn pru_ctloutput_set(
        &self,
        cx: &C,
        _now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        match level {
            IPPROTO_IP => {
                let v = ip::ip_setsockopt_val(name, val)?;
                ip::ip_ctloutput_set(
                    so.so_pcb.inp_mut(),
                    cx.sysctl().ip_default_ttl,
                    false,
                    name,
                    v,
                )
            }
            IPPROTO_IPV6 => crate::netinet::ip6_ctloutput::ip6_ctloutput_set(
                so.so_pcb.inp_mut(),
                false,
                name,
                val,
            ),
            IPPROTO_UDP => {
                sooptcopyin_int(val)?;
                Err(Errno::ENOPROTOOPT)
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    /// IPPROTO_IP through ip_getsockopt; UDP_CORK reads 0 (never corked:
    /// setting it is not supported); another level is EOPNOTSUPP.
    fn pru_ctloutput_get(
        &self,
        cx: &C,
        so: &Socket,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        match level {
            IPPROTO_IP => Ok(ip::ip_getsockopt_put(
                out,
                ip::ip_ctloutput_get(so.so_pcb.inp(), cx.config().mtu, name)?,
            )),
            IPPROTO_IPV6 => crate::netinet::ip6_ctloutput::ip6_ctloutput_get(
                so.so_pcb.inp(),
                cx.sysctl().ipv6_hop_limit,
                name,
                out,
            ),
            IPPROTO_UDP if name == UDP_CORK => Ok(sooptcopyout(out, &0i32.to_ne_bytes())),
            IPPROTO_UDP => Err(Errno::ENOPROTOOPT),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn pru_check(&self, cx: &C, so: &Socket) {
        let inp = so.so_pcb.inp();
        if inp.lport != 0 {
            let t = cx.inet().pcbinfo.read();
            assert!(
                t.has_user(Proto::Udp, inp.lport, so.handle),
                "{:?}: bound UDP socket missing from the port table",
                so.handle
            );
        }
    }
}

pub(crate) fn udp_input(cx: &impl InetCx, _now: Instant, ip: &IpIn, payload: &[u8]) {
    let Ok(udp) = UdpRepr::parse(payload, ip.src, ip.dst) else {
        Stats::bump(&cx.stats().drop_malformed);
        return;
    };
    Stats::bump(&cx.stats().udp_in);
    let local = SocketAddr::new(ip.dst, udp.dst_port);
    let remote = SocketAddr::new(ip.src, udp.src_port);
    let found = cx.inet().pcbinfo.read().udp_lookup(local, remote);
    let Some(h) = found else {
        Stats::bump(&cx.stats().drop_no_socket);
        crate::netinet::icmp_error::icmp_port_unreachable(cx, ip);
        return;
    };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    let from = so.so_pcb.inp().user_addr(remote.ip(), remote.port());
    if so.so_rcv.append_dgram(from, udp.payload) {
        cx.sockets().sowakeup(h);
    } else {
        Stats::bump(&cx.stats().drop_rcvbuf_full);
    }
}

/// An ICMP error about a datagram we sent from `local` to `remote`: only a
/// connected socket learns of it (Linux without IP_RECVERR).
pub(crate) fn udp_ctlinput(cx: &impl InetCx, local: SocketAddr, remote: SocketAddr, err: Errno) {
    let found = cx.inet().pcbinfo.read().udp_lookup(local, remote);
    let Some(h) = found else { return };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    if so.so_pcb.inp().is_connected() && so.so_pcb.inp().foreign() == remote {
        so.so_error = Some(err);
        cx.sockets().sowakeup(h);
    }
}
