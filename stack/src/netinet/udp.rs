//! UDP: the protocol switch entry for datagram sockets, input with
//! port-unreachable for closed ports, and ICMP errors to connected sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::api::{
    DgramInfo, Readiness, SockInfo, SockType, CMSG_WANT_HOPLIMIT6, CMSG_WANT_ORIGDSTADDR,
    CMSG_WANT_ORIGDSTADDR6, CMSG_WANT_PKTINFO, CMSG_WANT_PKTINFO6, CMSG_WANT_TCLASS6,
    CMSG_WANT_TOS, CMSG_WANT_TTL, CMSG_WANT_UDP_GRO,
};
use crate::errno::Errno;
use crate::kern::errqueue::{
    sock_queue_err, ExtErr, IcmpErr, SO_EE_ORIGIN_ICMP6, SO_EE_ORIGIN_LOCAL,
};
use crate::kern::protosw::Protosw;
use crate::kern::socket::{SockState, Socket};
use crate::kern::sockopt::{sooptcopyin_int, sooptcopyout};
use crate::kern::sotable::lock_live;
use crate::kern::uipc::{soreserve, soreserved};
use crate::linux::*;
use crate::netinet::in_pcb::{
    Inpcb, Proto, SendOnce, INP_ANONPORT, INP_BOUNDADDR, RX6_HOPLIMIT, RX6_ORIGDSTADDR,
    RX6_PKTINFO, RX6_RECVERR, RX6_TCLASS,
};
use crate::netinet::in_pcbbind::in_pcbdest;
use crate::netinet::in_pcbbind::{in_pcbautobind, in_pcbbind};
use crate::netinet::inet::InetCx;
use crate::netinet::ip::IpIn;
use crate::netinet::ip::{self, IpHeader};
use crate::netinet::ip_pmtu;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::udp_gso;
use crate::netinet::{ip_mcast, ip_mcast_source};
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
        let igmp = crate::netinet::igmp_state::IgmpParams::of(cx);
        cx.inet().pcbinfo.write().mc.leave_all(so.handle, &igmp);
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
                let (port, laddr) = (inp.lport, inp.laddr);
                cx.inet()
                    .pcbinfo
                    .write()
                    .update(Proto::Udp, port, handle, |u| {
                        u.foreign = None;
                        u.addr = laddr;
                    });
            }
            so.sock_state = SockState::Unconnected;
            return Ok(());
        };
        let addr = in_pcbdest(so.so_pcb.inp(), addr)?;
        let addr = ip::dst_this_host(so.so_pcb.inp().laddr, addr);
        if !is_mcast4(addr.ip()) {
            ip::route_check(cx, addr.ip(), so.so_pcb.inp().bound_dev())?;
        }
        if ip::is_broadcast(cx, addr.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        autobind(cx, so)?;
        let inp = so.so_pcb.inp_mut();
        inp.faddr = addr.ip();
        inp.fport = addr.port();
        if inp.laddr.is_unspecified() {
            inp.laddr = ip::source_for(cx, inp.laddr, addr.ip(), inp.bound_dev());
        }
        // The port table holds the source address now (Linux's
        // inet_rcv_saddr set by ip4_datagram_connect), for lookups and
        // bind conflicts alike.
        let (port, laddr) = (inp.lport, inp.laddr);
        cx.inet()
            .pcbinfo
            .write()
            .update(Proto::Udp, port, handle, |u| {
                u.foreign = Some(addr);
                u.addr = laddr;
            });
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
        // sendmsg's IP_TOS/IP_TTL/IPV6_TCLASS/IPV6_HOPLIMIT: this call's.
        let once = std::mem::take(&mut so.so_pcb.inp_mut().send_once);
        let once = SendOnce::from_bytes(&once).unwrap_or_default();
        let dst = match to {
            Some(a) => {
                if a.port() == 0 {
                    return Err(Errno::EINVAL);
                }
                ip::dst_this_host(so.so_pcb.inp().laddr, in_pcbdest(so.so_pcb.inp(), a)?)
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
            // Linux's ipv6_local_error (from __ip6_append_data): under
            // IPV6_RECVERR the error queue learns of it too, with the
            // route's MTU; IPv4 queues nothing for this.
            if dst.is_ipv6() && so.so_pcb.inp().rxopt6 & RX6_RECVERR != 0 {
                let mtu = route_mtu(cx, so.so_pcb.inp(), dst);
                udp_local_emsgsize(cx, so, dst, mtu);
            }
            return Err(Errno::EMSGSIZE);
        }
        if so.sb_state.cantsendmore {
            return Err(Errno::EPIPE);
        }
        // A pending asynchronous error (ICMP) is reported by the next send.
        if let Some(err) = so.take_error() {
            return Err(err);
        }
        // An IPv4 group is routed by mc_route below (by the bound
        // address's or IP_MULTICAST_IF's interface before any route).
        if !is_mcast4(dst.ip()) {
            ip::route_check(cx, dst.ip(), so.so_pcb.inp().bound_dev())?;
        }
        if ip::is_broadcast(cx, dst.ip()) && !so.so_options.broadcast {
            return Err(Errno::EACCES);
        }
        // Multicast and broadcast leave by their own route.
        let mc_route = match dst.ip() {
            IpAddr::V4(d) if d.is_multicast() || ip::is_broadcast(cx, dst.ip()) => {
                let (i, src) = ip_mcast::mc_route(cx, so.so_pcb.inp(), d)?;
                Some((i, IpAddr::V4(src)))
            }
            IpAddr::V6(d) if d.is_multicast() => {
                Some(crate::netinet::ip6_mcast::mc6_route(cx, so.so_pcb.inp())?)
            }
            _ => None,
        };
        autobind(cx, so)?;
        let mut inp = *so.so_pcb.inp();
        let gso = once.gso_size.unwrap_or(inp.udp_gso_size);
        once.apply(&mut inp, dst.is_ipv6());
        let ip_hl = if dst.is_ipv6() {
            wire::ipv6::HEADER_LEN
        } else {
            wire::ipv4::HEADER_LEN
        };
        let hlen = ip_hl + wire::udp::HEADER_LEN;
        let fragsize = match mc_route {
            Some((ifindex, _)) if ifindex == LOOPBACK_IFINDEX => LOOPBACK_MTU,
            Some(_) => cx.config().mtu,
            None => route_mtu(cx, &inp, dst),
        };
        let piece = udp_gso::gso_plan(hlen, data.len(), gso, fragsize)?;
        // IP_MTU_DISCOVER (IPv4) and IPV6_MTU_DISCOVER: DO, PROBE and
        // INTERFACE never fragment, nor does IPV6_DONTFRAG (EMSGSIZE, also
        // on the error queue under IP(V6)_RECVERR, as Linux's
        // ip_local_error / ipv6_local_error); DO and PROBE always set DF,
        // WANT (the default) on what fits.
        let fits = piece.is_some() || hlen + data.len() <= fragsize;
        let (never, recverr) = if dst.is_ipv4() {
            (ip::ip_never_fragments(inp.pmtudisc), inp.recverr)
        } else {
            (
                ip::ip_never_fragments(inp.pmtudisc6()) || inp.dontfrag6(),
                inp.rxopt6 & RX6_RECVERR != 0,
            )
        };
        if !fits && never {
            if recverr {
                udp_local_emsgsize(cx, so, dst, fragsize);
            }
            return Err(Errno::EMSGSIZE);
        }
        let dont_frag = dst.is_ipv4() && ip::ip_sets_df(inp.pmtudisc, fits && piece.is_none());
        if let Some((ifindex, src)) = mc_route {
            let out = |d: &[u8]| udp_output_mcast(cx, &inp, src, dst, d, ifindex, dont_frag);
            match piece {
                Some(p) => data.chunks(usize::from(p)).for_each(out),
                None => out(data),
            }
            Stats::bump(&cx.stats().udp_out);
            return Ok(data.len());
        }
        let src = ip::source_for(cx, inp.laddr, dst.ip(), inp.bound_dev());
        let (ttl, tos) = inp.ttl_tos_to(dst.ip(), cx.sysctl().ipv6_hop_limit);
        let h = IpHeader {
            src,
            dst: dst.ip(),
            protocol: wire::IP_PROTO_UDP,
            ttl,
            tos,
            dont_frag,
            oif: inp.bound_dev(),
        };
        if let Some(piece) = piece {
            udp_gso::udp_output_gso(cx, &h, inp.lport, dst, data, piece);
            Stats::bump(&cx.stats().udp_out);
            return Ok(data.len());
        }
        let repr = UdpRepr {
            src_port: inp.lport,
            dst_port: dst.port(),
            payload: data,
        };
        if fits {
            // The common case: built straight into the frame (no allocation).
            // Loopback (our own addresses) carries any size whole, as
            // Linux's lo with its 64 KiB MTU: nothing is cut.
            ip::ip_output(cx, &h, repr.buffer_len(), |b| repr.emit(b, src, dst.ip()));
        } else {
            let mut dgram = vec![0u8; repr.buffer_len()];
            repr.emit(&mut dgram, src, dst.ip());
            ip::ip_output_fragmented(cx, &h, &dgram, fragsize);
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
        so.so_rcv.sb_lowat = lowat.clamp(1, i32::MAX as usize) as u32;
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
        // Linux's datagram_poll: a pending error or a non-empty error
        // queue (with SO_SELECT_ERR_QUEUE also POLLPRI).
        if so.so_error.is_some() || so.so_errqueue.is_some() {
            r |= Readiness::ERR;
            if so.so_options.select_err_queue {
                r |= Readiness::PRI;
            }
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
        // FIONREAD on UDP is the next datagram's size, as rcv_cc.
        let next = so.so_rcv.front_dgram().map_or(0, |(_, len)| len);
        SockInfo {
            rcv_cc: next,
            inq: next,
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
    /// not supported (an int is still required first); SOL_SOCKET's
    /// SO_KEEPALIVE has nothing to do here (Linux: no keepalive hook, 0);
    /// anything else ENOPROTOOPT.
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
                let handle = so.handle;
                if let Some(r) = ip_mcast_source::ip_mcast_setsockopt(
                    cx,
                    handle,
                    so.so_pcb.inp_mut(),
                    false,
                    name,
                    val,
                ) {
                    return r;
                }
                let v = ip::ip_setsockopt_val(name, val)?;
                ip::ip_ctloutput_set(
                    so.so_pcb.inp_mut(),
                    cx.sysctl().ip_default_ttl,
                    false,
                    name,
                    v,
                )
            }
            IPPROTO_IPV6 => {
                if so.so_pcb.inp().family == crate::api::Domain::Inet6 {
                    if let Some(r) =
                        crate::netinet::ip6_mcast::ip6_mcast_setsockopt(cx, so.handle, name, val)
                    {
                        return r;
                    }
                }
                crate::netinet::ip6_ctloutput::ip6_ctloutput_set(
                    &crate::netinet::ip6_ctloutput::Ip6Env::of(cx, so.so_pcb.inp()),
                    so.so_pcb.inp_mut(),
                    false,
                    name,
                    val,
                )
            }
            IPPROTO_UDP => {
                if let Some(r) = udp_gso::udp_gso_setsockopt(so.so_pcb.inp_mut(), name, val) {
                    return r;
                }
                sooptcopyin_int(val)?;
                Err(Errno::ENOPROTOOPT)
            }
            SOL_SOCKET if name == SO_KEEPALIVE => Ok(()),
            SOL_SOCKET if name == SO_REUSEADDR || name == SO_REUSEPORT => {
                crate::netinet::in_pcbbind::in_pcb_reuse_changed(cx, so);
                Ok(())
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
            IPPROTO_IP => {
                if crate::netinet::ip_msfilter::is_msfilter_opt(name) {
                    return crate::netinet::ip_msfilter::msfilter_get(cx, so.handle, name, out);
                }
                if let Some(r) = ip_mcast::ip_mcast_getsockopt(so.so_pcb.inp(), name) {
                    return r.map(|b| sooptcopyout(out, &b));
                }
                Ok(ip::ip_getsockopt_put(
                    out,
                    ip::ip_ctloutput_get(
                        so.so_pcb.inp(),
                        ip_pmtu::path_mtu(cx, so.so_pcb.inp().faddr),
                        name,
                    )?,
                ))
            }
            IPPROTO_IPV6
                if name == MCAST_MSFILTER
                    && so.so_pcb.inp().family == crate::api::Domain::Inet6 =>
            {
                crate::netinet::ip6_mcast::msfilter6_get(cx, so.handle, out)
            }
            IPPROTO_IPV6 => crate::netinet::ip6_ctloutput::ip6_ctloutput_get(
                &crate::netinet::ip6_ctloutput::Ip6Env::of(cx, so.so_pcb.inp()),
                so.so_pcb.inp(),
                name,
                out,
            ),
            IPPROTO_UDP if name == UDP_CORK => Ok(sooptcopyout(out, &0i32.to_ne_bytes())),
            IPPROTO_UDP => match udp_gso::udp_gso_getsockopt(so.so_pcb.inp(), name) {
                Some(v) => Ok(sooptcopyout(out, &v.to_ne_bytes())),
                None => Err(Errno::ENOPROTOOPT),
            },
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR, and the
    /// IPv6 receive options of an AF_INET6 socket.
    fn pru_cmsg_want(&self, so: &Socket) -> u16 {
        let inp = so.so_pcb.inp();
        let flag = |name: i32| ip::ip_flag_bit(name).is_some_and(|b| inp.ip_flags & b != 0);
        let mut want = 0;
        if flag(IP_PKTINFO) {
            want |= CMSG_WANT_PKTINFO;
        }
        if flag(IP_RECVTTL) {
            want |= CMSG_WANT_TTL;
        }
        if flag(IP_RECVTOS) {
            want |= CMSG_WANT_TOS;
        }
        if flag(IP_RECVORIGDSTADDR) {
            want |= CMSG_WANT_ORIGDSTADDR;
        }
        if inp.udp_gro {
            want |= CMSG_WANT_UDP_GRO;
        }
        for (bit, w) in [
            (RX6_PKTINFO, CMSG_WANT_PKTINFO6),
            (RX6_HOPLIMIT, CMSG_WANT_HOPLIMIT6),
            (RX6_TCLASS, CMSG_WANT_TCLASS6),
            (RX6_ORIGDSTADDR, CMSG_WANT_ORIGDSTADDR6),
        ] {
            if inp.rxopt6 & bit != 0 {
                want |= w;
            }
        }
        want
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

/// The MTU of the route to `dst`: the interface's (ip_pmtu::dev_mtu:
/// loopback's for our own addresses), lowered by the path's (ip_pmtu.rs)
/// unless PROBE or INTERFACE say to use the interface's (Linux's
/// ip_sk_use_pmtu / ip6_skb_dst_mtu).
fn route_mtu(cx: &impl InetCx, inp: &Inpcb, dst: SocketAddr) -> usize {
    let disc = if dst.is_ipv6() {
        inp.pmtudisc6()
    } else {
        inp.pmtudisc
    };
    let dev = ip_pmtu::dev_mtu(cx, dst.ip());
    if disc >= IPV6_PMTUDISC_PROBE {
        dev
    } else {
        ip_pmtu::pmtu_below(cx, dst.ip(), dev)
    }
}

/// A send refused with EMSGSIZE for the route's `mtu`, told to the error
/// queue as Linux's ip_local_error / ipv6_local_error do (origin LOCAL,
/// the MTU in ee_info, the destination as the address: IPv4 gives the
/// connected port, 0 when unconnected, IPv6 the datagram's).
fn udp_local_emsgsize(cx: &impl InetCx, so: &mut Socket, dst: SocketAddr, mtu: usize) {
    let port = if dst.is_ipv4() {
        so.so_pcb.inp().fport
    } else {
        dst.port()
    };
    let e = ExtErr {
        errno: Errno::EMSGSIZE,
        origin: SO_EE_ORIGIN_LOCAL,
        ee_type: 0,
        code: 0,
        info: mtu as u32,
        offender: None,
        dest: so.so_pcb.inp().user_addr(dst.ip(), port),
        payload: Vec::new(),
    };
    sock_queue_err(&mut so.so_errqueue, so.so_rcv.sb_hiwat(), e);
    cx.sockets().sowakeup(so.handle);
}

/// Send a multicast or broadcast datagram by interface `ifindex`: on
/// loopback it is only input again; on the device it goes out, and a copy
/// is looped back (a broadcast always, a multicast with IP_MULTICAST_LOOP
/// when the device is in the group), as Linux's ip_mc_output.
fn udp_output_mcast(
    cx: &impl InetCx,
    inp: &Inpcb,
    src: IpAddr,
    dst: SocketAddr,
    data: &[u8],
    ifindex: u32,
    dont_frag: bool,
) {
    let repr = UdpRepr {
        src_port: inp.lport,
        dst_port: dst.port(),
        payload: data,
    };
    let multicast = dst.ip().is_multicast();
    let (ttl, tos) = match dst.ip() {
        IpAddr::V4(_) if multicast => (inp.mc_ttl, inp.tos),
        IpAddr::V4(_) => (inp.ttl, inp.tos),
        // IPV6_MULTICAST_HOPS: -1 is 1.
        IpAddr::V6(_) => (u8::try_from(inp.mc_hops6).unwrap_or(1), inp.tclass),
    };
    let h = IpHeader {
        src,
        dst: dst.ip(),
        protocol: wire::IP_PROTO_UDP,
        ttl,
        tos,
        dont_frag,
        oif: crate::netinet::in_pcb::DEV_NONE,
    };
    let mut dgram = vec![0u8; repr.buffer_len()];
    repr.emit(&mut dgram, src, dst.ip());
    let whole = || ip::ip_packet(&h, &dgram);
    if ifindex == LOOPBACK_IFINDEX {
        cx.loop_back(whole(), ifindex);
        return;
    }
    let looped = match (dst.ip(), src) {
        (IpAddr::V4(g), IpAddr::V4(s)) if multicast => {
            inp.mc_loop && cx.inet().pcbinfo.read().mc.interface_joined(g, ifindex, s)
        }
        (IpAddr::V6(g), IpAddr::V6(s)) => {
            inp.mc_loop6 && cx.inet().pcbinfo.read().mc.interface_joined6(g, ifindex, s)
        }
        _ => true,
    };
    if looped {
        cx.loop_back(whole(), ifindex);
    }
    if h.ttl > 0 || !multicast {
        ip::ip_output_fragmented(cx, &h, &dgram, cx.config().mtu);
    }
}

/// How a datagram arrived, as `DgramInfo` keeps it: from one of our own
/// addresses by loopback (interface 1), else by the device; ipi_spec_dst is
/// the destination (Linux's fib_compute_spec_dst for a local one); TOS and
/// TTL (traffic class and hop limit for IPv6) from its header.
fn arrival(
    cx: &impl InetCx,
    now: Instant,
    ip: &IpIn,
    local: SocketAddr,
    ifindex: u32,
) -> DgramInfo {
    let p = ip.packet;
    let (tos, ttl) = if ip.dst.is_ipv4() {
        (
            p.get(1).copied().unwrap_or(0),
            p.get(8).copied().unwrap_or(0),
        )
    } else {
        let tc = p
            .first()
            .zip(p.get(1))
            .map_or(0, |(a, b)| (a << 4) | (b >> 4));
        (tc, p.get(7).copied().unwrap_or(0))
    };
    DgramInfo {
        dst: local,
        ifindex,
        spec_dst: if ip.dst.is_ipv6() {
            ip.dst
        } else if ip.dst.is_multicast() || ip::is_broadcast(cx, ip.dst) {
            if ifindex == LOOPBACK_IFINDEX {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                IpAddr::V4(cx.config().addr)
            }
        } else {
            ip.dst
        },
        tos,
        ttl,
        stamp: now,
        gso_size: 0,
        want: 0,
    }
}

pub(crate) fn udp_input(cx: &impl InetCx, now: Instant, ip: &IpIn, payload: &[u8], ifindex: u32) {
    let parsed = if ip.csum_ok {
        UdpRepr::parse_unverified(payload)
    } else {
        UdpRepr::parse(payload, ip.src, ip.dst)
    };
    let Ok(udp) = parsed else {
        Stats::bump(&cx.stats().drop_malformed);
        return;
    };
    Stats::bump(&cx.stats().udp_in);
    let local = SocketAddr::new(ip.dst, udp.dst_port);
    let remote = SocketAddr::new(ip.src, udp.src_port);
    if ip.dst.is_multicast() || ip::is_broadcast(cx, ip.dst) {
        let info = arrival(cx, now, ip, local, ifindex);
        // A super-datagram reaches every member as its datagrams.
        if udp_gso::is_super(udp.payload, ip.udp_gso_size) {
            for d in udp.payload.chunks(usize::from(ip.udp_gso_size)) {
                udp_mcast_input(cx, ip, payload, local, remote, d, &info);
            }
        } else {
            udp_mcast_input(cx, ip, payload, local, remote, udp.payload, &info);
        }
        return;
    }
    let arrived = ip::arrival(cx, ip);
    let found = cx.inet().pcbinfo.read().udp_lookup(local, remote, arrived);
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
    let Some(keep) = ip::sk_filter_run(cx, &so, ip, payload, wire::udp::HEADER_LEN) else {
        return;
    };
    let data = &udp.payload[..udp.payload.len().min(keep - wire::udp::HEADER_LEN)];
    let from = so.so_pcb.inp().user_addr(remote.ip(), remote.port());
    let mut info = arrival(cx, now, ip, local, ifindex);
    let piece = ip.udp_gso_size;
    // A super-datagram: whole to a UDP_GRO socket, else its datagrams
    // (Linux's udp_unexpected_gso then udp_rcv_segment).
    let split = udp_gso::is_super(data, piece) && !so.so_pcb.inp().udp_gro;
    if udp_gso::is_super(data, piece) && !split {
        info.gso_size = piece;
    }
    let mut queue = |d: &[u8]| {
        let ok = so.so_rcv.append_dgram_info(from, &info, d);
        if !ok {
            Stats::bump(&cx.stats().drop_rcvbuf_full);
        }
        ok
    };
    let queued = if split {
        data.chunks(usize::from(piece))
            .fold(false, |any, d| queue(d) | any)
    } else {
        queue(data)
    };
    if queued {
        cx.sockets().sowakeup(h);
    }
}

/// An IPv4 multicast group (routed by `ip_mcast::mc_route`).
fn is_mcast4(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.is_multicast())
}

/// A multicast or broadcast datagram reaches every matching socket
/// (Linux's __udp4_lib_mcast_deliver); none is no ICMP error.
fn udp_mcast_input(
    cx: &impl InetCx,
    ip: &IpIn,
    segment: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
    payload: &[u8],
    info: &DgramInfo,
) {
    let found = {
        let t = cx.inet().pcbinfo.read();
        ip_mcast::udp_mcast_candidates(&t, local, remote, info.ifindex)
    };
    if found.is_empty() {
        Stats::bump(&cx.stats().drop_no_socket);
    }
    for (h, joined) in found {
        let Ok(sref) = cx.sockets().lookup(h) else {
            continue;
        };
        let Some(mut so) = lock_live(&sref) else {
            continue;
        };
        // No membership of the group: IP_MULTICAST_ALL (IPV6_ for an
        // IPv6 group) decides; else the membership's source filter
        // (ip_mc_sf_allow).
        let inp = so.so_pcb.inp();
        let all = if remote.is_ipv6() {
            inp.mc_all6
        } else {
            inp.mc_all
        };
        if !joined.unwrap_or(all) {
            continue;
        }
        let Some(keep) = ip::sk_filter_run(cx, &so, ip, segment, wire::udp::HEADER_LEN) else {
            continue;
        };
        let data = &payload[..payload.len().min(keep - wire::udp::HEADER_LEN)];
        let from = so.so_pcb.inp().user_addr(remote.ip(), remote.port());
        if so.so_rcv.append_dgram_info(from, info, data) {
            cx.sockets().sowakeup(h);
        } else {
            Stats::bump(&cx.stats().drop_rcvbuf_full);
        }
    }
}

/// An ICMP error about a datagram we sent from `local` to `remote`
/// (Linux's __udp4_lib_err / __udp6_lib_err): without IP_RECVERR
/// (IPV6_RECVERR for ICMPv6) only a connected socket learns of it, as its
/// pending error; with it, any socket that sent it does, and the error
/// also joins the error queue with what the ICMP message said.
pub(crate) fn udp_ctlinput(
    cx: &impl InetCx,
    local: SocketAddr,
    remote: SocketAddr,
    err: Errno,
    icmp: &IcmpErr,
) {
    udp_err(cx, local, remote, err, icmp, true)
}

fn udp_err(
    cx: &impl InetCx,
    local: SocketAddr,
    remote: SocketAddr,
    err: Errno,
    icmp: &IcmpErr,
    hard: bool,
) {
    let any = crate::netinet::in_pcb::ANY_ARRIVAL;
    let found = cx.inet().pcbinfo.read().udp_lookup(local, remote, any);
    let Some(h) = found else { return };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    let inp = so.so_pcb.inp();
    let recverr = if icmp.origin == SO_EE_ORIGIN_ICMP6 {
        inp.rxopt6 & RX6_RECVERR != 0
    } else {
        inp.recverr
    };
    if recverr {
        let offender = inp.user_addr(icmp.offender, 0).ip();
        let e = icmp.to_ext(err, offender, inp.user_addr(remote.ip(), remote.port()));
        let hiwat = so.so_rcv.sb_hiwat();
        sock_queue_err(&mut so.so_errqueue, hiwat, e);
        so.so_error = Some(err);
        cx.sockets().sowakeup(h);
    } else if hard && inp.is_connected() && inp.foreign() == remote {
        so.so_error = Some(err);
        cx.sockets().sowakeup(h);
    }
}

/// A soft ICMP error (time exceeded): only IP_RECVERR sockets hear of it.
pub(crate) fn udp_ctlinput_soft(
    cx: &impl InetCx,
    local: SocketAddr,
    remote: SocketAddr,
    err: Errno,
    icmp: &IcmpErr,
) {
    udp_err(cx, local, remote, err, icmp, false)
}
