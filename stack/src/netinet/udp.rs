//! UDP: the protocol switch entry for datagram sockets, input with
//! port-unreachable for closed ports, and ICMP errors to connected sockets.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::api::{Readiness, SockInfo};
use crate::errno::Errno;
use crate::host::Stack;
use crate::kern::protosw::Protosw;
use crate::kern::socket::{SockState, Socket};
use crate::linux::*;
use crate::netinet::in_pcb::{in_pcbautobind, in_pcbbind, Proto, INP_ANONPORT, INP_BOUNDADDR};
use crate::netinet::ip::{self, IpHeader};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, UdpRepr};

/// Largest UDP payload in one IPv4 datagram.
pub const UDP_MAX_PAYLOAD: usize = 65535 - 20 - 8;

pub(crate) struct UdpUsrreqs;
pub(crate) static UDP_USRREQS: UdpUsrreqs = UdpUsrreqs;

fn autobind(stack: &Stack, so: &mut Socket) -> Result<(), Errno> {
    in_pcbautobind(stack, so, Proto::Udp, Errno::EAGAIN)
}

impl Protosw for UdpUsrreqs {
    fn pru_attach(&self, _stack: &Stack, _so: &mut Socket) -> Result<(), Errno> {
        Ok(())
    }

    fn pru_detach(&self, stack: &Stack, so: &mut Socket) {
        let inp = so.so_pcb.inp();
        if inp.lport != 0 {
            stack
                .pcbinfo
                .write()
                .unbind(Proto::Udp, inp.lport, so.handle);
        }
    }

    fn pru_bind(&self, stack: &Stack, so: &mut Socket, addr: SocketAddrV4) -> Result<(), Errno> {
        in_pcbbind(stack, so, Proto::Udp, addr, Errno::EADDRINUSE)
    }

    fn pru_listen(&self, _stack: &Stack, _so: &mut Socket, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn pru_connect(
        &self,
        stack: &Stack,
        _now: Instant,
        so: &mut Socket,
        addr: Option<SocketAddrV4>,
    ) -> Result<(), Errno> {
        let handle = so.handle;
        let Some(addr) = addr else {
            // AF_UNSPEC: dissolve the association (Linux __udp_disconnect).
            let inp = so.so_pcb.inp_mut();
            inp.faddr = Ipv4Addr::UNSPECIFIED;
            inp.fport = 0;
            if inp.inp_flags & INP_BOUNDADDR == 0 {
                inp.laddr = Ipv4Addr::UNSPECIFIED;
            }
            if inp.inp_flags & INP_ANONPORT != 0 && inp.lport != 0 {
                let port = inp.lport;
                inp.lport = 0;
                inp.inp_flags &= !INP_ANONPORT;
                stack.pcbinfo.write().unbind(Proto::Udp, port, handle);
            } else if inp.lport != 0 {
                let port = inp.lport;
                stack
                    .pcbinfo
                    .write()
                    .update(Proto::Udp, port, handle, |u| u.foreign = None);
            }
            so.sock_state = SockState::Unconnected;
            return Ok(());
        };
        ip::route_check(stack, *addr.ip())?;
        if ip::is_broadcast(stack, *addr.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        autobind(stack, so)?;
        let inp = so.so_pcb.inp_mut();
        inp.faddr = *addr.ip();
        inp.fport = addr.port();
        if inp.laddr.is_unspecified() {
            inp.laddr = ip::source_for(stack, inp.laddr, *addr.ip());
        }
        let port = inp.lport;
        stack
            .pcbinfo
            .write()
            .update(Proto::Udp, port, handle, |u| u.foreign = Some(addr));
        so.sock_state = SockState::Connected;
        Ok(())
    }

    fn pru_connect_status(&self, _stack: &Stack, so: &mut Socket) -> Result<bool, Errno> {
        Ok(so.so_pcb.inp().is_connected())
    }

    fn pru_send(
        &self,
        stack: &Stack,
        _now: Instant,
        so: &mut Socket,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let dst = match to {
            Some(a) => {
                if a.port() == 0 {
                    return Err(Errno::EINVAL);
                }
                a
            }
            None if so.so_pcb.inp().is_connected() => so.so_pcb.inp().foreign(),
            None => return Err(Errno::EDESTADDRREQ),
        };
        if data.len() > UDP_MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if so.sb_state.cantsendmore {
            return Err(Errno::EPIPE);
        }
        // A pending asynchronous error (ICMP) is reported by the next send.
        if let Some(err) = so.take_error() {
            return Err(err);
        }
        ip::route_check(stack, *dst.ip())?;
        if ip::is_broadcast(stack, *dst.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        autobind(stack, so)?;
        let inp = *so.so_pcb.inp();
        let src = ip::source_for(stack, inp.laddr, *dst.ip());
        let repr = UdpRepr {
            src_port: inp.lport,
            dst_port: dst.port(),
            payload: data,
        };
        let h = IpHeader {
            src,
            dst: *dst.ip(),
            protocol: wire::IP_PROTO_UDP,
            ttl: inp.ttl,
            tos: inp.tos,
            dont_frag: false,
        };
        if wire::ipv4::HEADER_LEN + repr.buffer_len() <= stack.config.mtu {
            // The common case: built straight into the frame (no allocation).
            ip::ip_output(stack, &h, repr.buffer_len(), |b| {
                repr.emit(b, src, *dst.ip())
            });
        } else {
            let mut dgram = vec![0u8; repr.buffer_len()];
            repr.emit(&mut dgram, src, *dst.ip());
            ip::ip_output_fragmented(stack, &h, &dgram);
        }
        Stats::bump(&stack.stats.udp_out);
        Ok(data.len())
    }

    fn pru_rcvd(&self, _stack: &Stack, _now: Instant, _so: &mut Socket) {}

    fn pru_shutdown(
        &self,
        _stack: &Stack,
        _now: Instant,
        so: &mut Socket,
        how: i32,
    ) -> Result<(), Errno> {
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

    fn pru_close(&self, _stack: &Stack, _now: Instant, _so: &mut Socket) {}

    fn pru_abort(&self, _stack: &Stack, _now: Instant, _so: &mut Socket) {}

    fn pru_peeraddr(&self, so: &Socket) -> Result<SocketAddrV4, Errno> {
        let inp = so.so_pcb.inp();
        if inp.is_connected() {
            Ok(inp.foreign())
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
        }
    }

    fn pru_ctloutput_set(
        &self,
        stack: &Stack,
        _now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        v: i32,
    ) -> Result<(), Errno> {
        match level {
            IPPROTO_IP => ip::ip_ctloutput_set(
                so.so_pcb.inp_mut(),
                stack.sysctl().ip_default_ttl,
                false,
                name,
                v,
            ),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn pru_ctloutput_get(
        &self,
        stack: &Stack,
        so: &Socket,
        level: i32,
        name: i32,
    ) -> Result<i32, Errno> {
        match level {
            IPPROTO_IP => ip::ip_ctloutput_get(so.so_pcb.inp(), stack.config.mtu, name),
            // Never corked: setting UDP_CORK is not supported.
            IPPROTO_UDP if name == UDP_CORK => Ok(0),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn pru_check(&self, stack: &Stack, so: &Socket) {
        let inp = so.so_pcb.inp();
        if inp.lport != 0 {
            let t = stack.pcbinfo.read();
            assert!(
                t.users(Proto::Udp, inp.lport)
                    .iter()
                    .any(|u| u.handle == so.handle),
                "{:?}: bound UDP socket missing from the port table",
                so.handle
            );
        }
    }
}

pub(crate) fn udp_input(stack: &Stack, _now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
    let Ok(udp) = UdpRepr::parse(payload, ip.src_addr, ip.dst_addr) else {
        Stats::bump(&stack.stats.drop_malformed);
        return;
    };
    Stats::bump(&stack.stats.udp_in);
    let local = SocketAddrV4::new(ip.dst_addr, udp.dst_port);
    let remote = SocketAddrV4::new(ip.src_addr, udp.src_port);
    let found = stack.pcbinfo.read().udp_lookup(local, remote);
    let Some(h) = found else {
        Stats::bump(&stack.stats.drop_no_socket);
        crate::netinet::icmp::icmp_port_unreachable(stack, ip, payload);
        return;
    };
    let Ok(sref) = stack.lookup(h) else { return };
    let Some(mut so) = Stack::lock_live(&sref) else {
        return;
    };
    if so.so_rcv.append_dgram(remote, udp.payload) {
        stack.sowakeup(h);
    } else {
        Stats::bump(&stack.stats.drop_rcvbuf_full);
    }
}

/// An ICMP error about a datagram we sent from `local` to `remote`: only a
/// connected socket learns of it (Linux without IP_RECVERR).
pub(crate) fn udp_ctlinput(stack: &Stack, local: SocketAddrV4, remote: SocketAddrV4, err: Errno) {
    let found = stack.pcbinfo.read().udp_lookup(local, remote);
    let Some(h) = found else { return };
    let Ok(sref) = stack.lookup(h) else { return };
    let Some(mut so) = Stack::lock_live(&sref) else {
        return;
    };
    if so.so_pcb.inp().is_connected() && so.so_pcb.inp().foreign() == remote {
        so.so_error = Some(err);
        stack.sowakeup(h);
    }
}
