//! Binding a socket's PCB to a local address and port (FreeBSD's
//! in_pcbbind): an explicit bind, or an ephemeral port on first use.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::netinet::in_pcb::{PortUser, Proto, INP_ANONPORT, INP_BOUNDADDR};
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;

/// Bind `so` to `addr` in `proto`'s port space (port 0: ephemeral).
/// `anon_err` is the errno when no ephemeral port is free (bind: EADDRINUSE,
/// connect: EADDRNOTAVAIL).
pub(crate) fn in_pcbbind(
    cx: &impl InetCx,
    so: &mut Socket,
    proto: Proto,
    addr: SocketAddrV4,
    anon_err: Errno,
) -> Result<(), Errno> {
    if so.so_pcb.inp().lport != 0 {
        return Err(Errno::EINVAL);
    }
    let ip = *addr.ip();
    let local_ok = ip.is_unspecified()
        || super::ip::is_local(cx, ip)
        || (proto == Proto::Udp && super::ip::is_broadcast(cx, ip));
    if !local_ok {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let user = PortUser {
        handle: so.handle,
        addr: ip,
        reuseaddr: so.so_options.reuseaddr,
        reuseport: so.so_options.reuseport,
        listening: false,
        foreign: None,
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
    in_pcbbind(
        cx,
        so,
        proto,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        anon_err,
    )
}
