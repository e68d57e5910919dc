//! Binding a socket's PCB to a local address and port (FreeBSD's
//! in_pcbbind): an explicit bind, or an ephemeral port on first use.

use std::net::{IpAddr, SocketAddr};

use crate::api::Domain;

use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::netinet::in_pcb::{PortUser, Proto, INP_ANONPORT, INP_BOUNDADDR};
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;

/// The canonical local address an address given to bind or connect names
/// for a socket of `family` (see `in_pcb`): IPv6 on an AF_INET socket is
/// EAFNOSUPPORT (and IPv4 on an AF_INET6 one: the face always gives it
/// IPv6, v4-mapped); a v4-mapped address is IPv4, refused by an
/// IPV6_V6ONLY socket with `mapped_err` (bind: EINVAL, connect:
/// ENETUNREACH).
pub(crate) fn in_canonical(
    family: Domain,
    v6only: bool,
    ip: IpAddr,
    mapped_err: Errno,
) -> Result<IpAddr, Errno> {
    match (family, ip) {
        (Domain::Inet, IpAddr::V4(_)) => Ok(ip),
        (Domain::Inet6, IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(_) if v6only => Err(mapped_err),
            Some(v4) => Ok(v4.into()),
            None => Ok(ip),
        },
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// The canonical destination of a connect or sendto to `addr` by `inp`'s
/// socket: as `in_canonical` (a v4-mapped destination of an IPV6_V6ONLY
/// socket is ENETUNREACH), and a socket bound to an address of one family
/// cannot reach the other (ENETUNREACH, as Linux's ip6_datagram_connect).
pub(crate) fn in_pcbdest(
    inp: &crate::netinet::in_pcb::Inpcb,
    addr: SocketAddr,
) -> Result<SocketAddr, Errno> {
    let ip = in_canonical(inp.family, inp.v6only, addr.ip(), Errno::ENETUNREACH)?;
    // `::` is loopback in the bound address's family (ip::dst_this_host).
    // Otherwise the families must agree: an IPv6 destination from a
    // socket on a v4-mapped address is EAFNOSUPPORT (udpv6_sendmsg,
    // tcp_v6_connect), an IPv4 one from a socket on an IPv6 address
    // ENETUNREACH.
    let any6 = matches!(ip, std::net::IpAddr::V6(a) if a.is_unspecified());
    if !inp.laddr.is_unspecified() && inp.laddr.is_ipv4() != ip.is_ipv4() && !any6 {
        return Err(if inp.laddr.is_ipv4() {
            Errno::EAFNOSUPPORT
        } else {
            Errno::ENETUNREACH
        });
    }
    Ok(SocketAddr::new(ip, addr.port()))
}

/// Bind `so` to `addr` in `proto`'s port space (port 0: ephemeral).
/// `anon_err` is the errno when no ephemeral port is free (bind: EADDRINUSE,
/// connect: EADDRNOTAVAIL).
pub(crate) fn in_pcbbind(
    cx: &impl InetCx,
    so: &mut Socket,
    proto: Proto,
    addr: SocketAddr,
    anon_err: Errno,
) -> Result<(), Errno> {
    let (family, v6only) = (so.so_pcb.inp().family, so.so_pcb.inp().v6only);
    let ip = in_canonical(family, v6only, addr.ip(), Errno::EINVAL)?;
    if so.so_pcb.inp().lport != 0 {
        return Err(Errno::EINVAL);
    }
    let local_ok = ip.is_unspecified()
        || super::ip::is_local(cx, ip)
        || (proto == Proto::Udp && (super::ip::is_broadcast(cx, ip) || ip.is_multicast()));
    if !local_ok {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let user = PortUser {
        handle: so.handle,
        addr: ip,
        v6only,
        reuseaddr: so.so_options.reuseaddr,
        reuseport: so.so_options.reuseport,
        listening: false,
        foreign: None,
        dev: so.so_pcb.inp().bound_dev(),
    };
    let start = cx.inet().rng.lock().next_u32();
    let range = cx.sysctl().port_range;
    let port = cx
        .inet()
        .pcbinfo
        .write()
        .bind(proto, addr.port(), user, range, start)
        .map_err(|e| if addr.port() == 0 { anon_err } else { e })?;
    let inp = so.so_pcb.inp_mut();
    inp.laddr = ip;
    inp.lport = port;
    if addr.port() == 0 {
        inp.inp_flags |= INP_ANONPORT;
    }
    if !ip.is_unspecified() {
        inp.inp_flags |= INP_BOUNDADDR;
    }
    Ok(())
}

/// Bind to an ephemeral port on the wildcard address if not bound yet
/// (listen, connect, sendto on an unbound socket).
pub(crate) fn in_pcbautobind(
    cx: &impl InetCx,
    so: &mut Socket,
    proto: Proto,
    anon_err: Errno,
) -> Result<(), Errno> {
    if so.so_pcb.inp().lport != 0 {
        return Ok(());
    }
    let any = so.so_pcb.inp().any();
    in_pcbbind(cx, so, proto, SocketAddr::new(any, 0), anon_err)
}

/// SO_BINDTODEVICE reached the stack (SOCKSHIM_BOUND_DEV): note it in the
/// PCB and, once bound, in the port table the lookups read.
pub(crate) fn so_bind_dev(cx: &impl InetCx, so: &mut Socket, ifindex: u32) {
    let dev = crate::netinet::in_pcb::bound_dev_of(ifindex, cx.config().ifindex);
    so.so_pcb.inp_mut().set_bound_dev(dev);
    in_pcb_update_user(cx, so, |u| u.dev = dev);
}

/// SO_REUSEADDR or SO_REUSEPORT changed: once bound, the port table takes
/// the new flags, which later bind and listen conflicts read (Linux reads
/// sk_reuse and sk_reuseport when it checks).
pub(crate) fn in_pcb_reuse_changed(cx: &impl InetCx, so: &mut Socket) {
    let (reuseaddr, reuseport) = (so.so_options.reuseaddr, so.so_options.reuseport);
    in_pcb_update_user(cx, so, |u| {
        u.reuseaddr = reuseaddr;
        u.reuseport = reuseport;
    });
}

/// Change `so`'s entry in the port table, if it is bound.
fn in_pcb_update_user(cx: &impl InetCx, so: &Socket, f: impl FnOnce(&mut PortUser)) {
    let lport = so.so_pcb.inp().lport;
    if lport != 0 {
        let stream = so.so_type == crate::api::SockType::Stream;
        let proto = if stream { Proto::Tcp } else { Proto::Udp };
        cx.inet().pcbinfo.write().update(proto, lport, so.handle, f);
    }
}
