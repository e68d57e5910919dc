//! IPv4 multicast for sockets (Linux's igmp.c socket half and the
//! multicast options of do_ip_setsockopt): IP_ADD/DROP_MEMBERSHIP, MCAST_JOIN/
//! LEAVE_GROUP, IP_MULTICAST_IF/ALL, the interface a multicast or
//! broadcast datagram leaves by, and which sockets a received one reaches.
//!
//! Two interfaces exist: loopback (`LOOPBACK_IFINDEX`, 127.0.0.0/8) and
//! the TUN device (`Config::ifindex`, the configured address). An
//! interface accepts a group when any socket joined it there; a socket
//! then receives it if it joined (group, interface) itself or if it has
//! IP_MULTICAST_ALL set (Linux's ip_mc_sf_allow), and its membership's
//! source filter lets the sender through (`ip_mcast_source`). Each
//! change is reported on the device (`igmp`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::api::SocketHandle;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::igmp_state::IgmpParams;
use crate::netinet::in_pcb::{Inpcb, Proto};
use crate::netinet::inet::InetCx;
use crate::netinet::mc_table::{McMembership, IGMP_MAX_MEMBERSHIPS};

/// ip_mreqn as the caller gave it (ip_mreq leaves the ifindex 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mreqn {
    pub multiaddr: Ipv4Addr,
    pub address: Ipv4Addr,
    pub ifindex: u32,
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// An ip_mreqn (12 bytes or more) or an ip_mreq (8 to 11 bytes).
fn read_mreqn(val: &[u8]) -> Result<Mreqn, Errno> {
    if val.len() < 8 {
        return Err(Errno::EINVAL);
    }
    let ifindex = if val.len() >= 12 {
        u32::from_ne_bytes([val[8], val[9], val[10], val[11]])
    } else {
        0
    };
    Ok(Mreqn {
        multiaddr: addr_at(val, 0),
        address: addr_at(val, 4),
        ifindex,
    })
}

/// struct group_req on 64-bit Linux: gr_interface (u32), 4 bytes padding,
/// then a sockaddr_storage (128 bytes).
const GROUP_REQ_LEN: usize = 136;

fn read_group_req(val: &[u8]) -> Result<Mreqn, Errno> {
    if val.len() < GROUP_REQ_LEN {
        return Err(Errno::EINVAL);
    }
    let family = u16::from_ne_bytes([val[8], val[9]]);
    if i32::from(family) != AF_INET {
        return Err(Errno::EINVAL);
    }
    Ok(Mreqn {
        multiaddr: addr_at(val, 12),
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: u32::from_ne_bytes([val[0], val[1], val[2], val[3]]),
    })
}

/// The interface whose address is `a` (Linux's __ip_dev_find).
pub(crate) fn ifindex_of_addr(cx: &impl InetCx, a: Ipv4Addr) -> Option<u32> {
    if a.is_loopback() || (a != cx.config().addr && cx.inet().lo.is_local(a.into())) {
        Some(LOOPBACK_IFINDEX)
    } else if a == cx.config().addr {
        Some(cx.config().ifindex)
    } else {
        None
    }
}

fn ifindex_exists(cx: &impl InetCx, ifindex: u32) -> bool {
    ifindex == LOOPBACK_IFINDEX || ifindex == cx.config().ifindex
}

/// The interface a membership names (Linux's ip_mc_find_dev): by index,
/// else by address, else the route to the group (the device, if routed).
pub(crate) fn mc_find_dev(cx: &impl InetCx, m: &Mreqn) -> Option<u32> {
    if m.ifindex != 0 {
        return ifindex_exists(cx, m.ifindex).then_some(m.ifindex);
    }
    if !m.address.is_unspecified() {
        return ifindex_of_addr(cx, m.address);
    }
    crate::netinet::ip::route_check(cx, m.multiaddr.into(), crate::netinet::in_pcb::DEV_NONE)
        .ok()
        .map(|_| cx.config().ifindex)
}

/// Join `m`'s group: any source (EXCLUDE mode, nothing excluded), or with
/// `include` a source-specific join whose sources come after.
pub(crate) fn join(
    cx: &impl InetCx,
    handle: SocketHandle,
    m: Mreqn,
    include: bool,
) -> Result<(), Errno> {
    if !m.multiaddr.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let ifindex = mc_find_dev(cx, &m).ok_or(Errno::ENODEV)?;
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let mc = &mut t.mc;
    if mc.socket_joined(handle, m.multiaddr, ifindex) {
        return Err(Errno::EADDRINUSE);
    }
    if mc.count(handle) >= IGMP_MAX_MEMBERSHIPS {
        return Err(Errno::ENOBUFS);
    }
    mc.members.push(McMembership {
        group: m.multiaddr,
        ifindex,
        addr: m.address,
        handle,
        include,
        sources: None,
    });
    mc.igmp_commit(m.multiaddr, ifindex, &p);
    Ok(())
}

pub(crate) fn leave(cx: &impl InetCx, handle: SocketHandle, m: Mreqn) -> Result<(), Errno> {
    let dev = mc_find_dev(cx, &m);
    if m.ifindex == 0 && m.address.is_unspecified() && dev.is_none() {
        return Err(Errno::ENODEV);
    }
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let mc = &mut t.mc;
    let pos = mc.members.iter().position(|x| {
        x.handle == handle
            && x.group == m.multiaddr
            && match (m.ifindex, m.address.is_unspecified()) {
                (0, true) => dev == Some(x.ifindex),
                (0, false) => x.addr == m.address,
                (i, _) => x.ifindex == i,
            }
    });
    match pos {
        Some(i) => {
            let x = mc.members.remove(i);
            mc.igmp_commit(x.group, x.ifindex, &p);
            Ok(())
        }
        None => Err(Errno::EADDRNOTAVAIL),
    }
}

/// The multicast options that take a struct, for a socket of either type
/// (`stream`: TCP, which has no IP_MULTICAST_IF). Returns None when `name`
/// is not one of them.
pub(crate) fn ip_mcast_setsockopt(
    cx: &impl InetCx,
    handle: SocketHandle,
    inp: &mut Inpcb,
    stream: bool,
    name: i32,
    val: &[u8],
) -> Option<Result<(), Errno>> {
    let r = match name {
        IP_ADD_MEMBERSHIP => read_mreqn(val).and_then(|m| join(cx, handle, m, false)),
        IP_DROP_MEMBERSHIP => read_mreqn(val).and_then(|m| leave(cx, handle, m)),
        MCAST_JOIN_GROUP => read_group_req(val).and_then(|m| join(cx, handle, m, false)),
        MCAST_LEAVE_GROUP => read_group_req(val).and_then(|m| leave(cx, handle, m)),
        IP_MULTICAST_IF => set_multicast_if(cx, inp, stream, val),
        IP_MULTICAST_ALL => match val {
            [] => Err(Errno::EINVAL),
            [a, b, c, d, ..] => {
                inp.mc_all = i32::from_ne_bytes([*a, *b, *c, *d]) != 0;
                Ok(())
            }
            [b, ..] => {
                inp.mc_all = *b != 0;
                Ok(())
            }
        },
        _ => return None,
    };
    Some(r)
}

/// The source-filter options (`ip_mcast_source`), set-only.
pub(crate) fn is_source_opt(name: i32) -> bool {
    matches!(
        name,
        IP_ADD_SOURCE_MEMBERSHIP
            | IP_DROP_SOURCE_MEMBERSHIP
            | IP_BLOCK_SOURCE
            | IP_UNBLOCK_SOURCE
            | MCAST_JOIN_SOURCE_GROUP
            | MCAST_LEAVE_SOURCE_GROUP
            | MCAST_BLOCK_SOURCE
            | MCAST_UNBLOCK_SOURCE
    )
}

/// IP_MULTICAST_IF: an ip_mreqn, an ip_mreq or an in_addr; 0.0.0.0 with
/// no index clears it; an unknown address or index is EADDRNOTAVAIL.
fn set_multicast_if(
    cx: &impl InetCx,
    inp: &mut Inpcb,
    stream: bool,
    val: &[u8],
) -> Result<(), Errno> {
    if stream || val.len() < 4 {
        return Err(Errno::EINVAL);
    }
    let (address, mut ifindex) = if val.len() >= 12 {
        (
            addr_at(val, 4),
            u32::from_ne_bytes([val[8], val[9], val[10], val[11]]),
        )
    } else if val.len() >= 8 {
        (addr_at(val, 4), 0)
    } else {
        (addr_at(val, 0), 0)
    };
    if ifindex == 0 {
        if address.is_unspecified() {
            inp.mc_ifindex = 0;
            inp.mc_addr = Ipv4Addr::UNSPECIFIED;
            return Ok(());
        }
        ifindex = ifindex_of_addr(cx, address).ok_or(Errno::EADDRNOTAVAIL)?;
    } else if !ifindex_exists(cx, ifindex) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    inp.mc_ifindex = ifindex;
    inp.mc_addr = address;
    Ok(())
}

/// getsockopt of the multicast struct options: IP_MULTICAST_IF reads the
/// address (an in_addr), IP_MULTICAST_ALL the flag. None for other names.
pub(crate) fn ip_mcast_getsockopt(inp: &Inpcb, name: i32) -> Option<Result<Vec<u8>, Errno>> {
    match name {
        IP_MULTICAST_IF => Some(Ok(inp.mc_addr.octets().to_vec())),
        IP_MULTICAST_ALL => Some(Ok((inp.mc_all as i32).to_ne_bytes().to_vec())),
        IP_ADD_MEMBERSHIP | IP_DROP_MEMBERSHIP | MCAST_JOIN_GROUP | MCAST_LEAVE_GROUP => {
            Some(Err(Errno::ENOPROTOOPT))
        }
        n if is_source_opt(n) => Some(Err(Errno::ENOPROTOOPT)),
        _ => None,
    }
}

/// Where a multicast or broadcast datagram from `inp` to `dst` goes: the
/// interface and the source address (Linux's udp_sendmsg with
/// ip_route_output: IP_MULTICAST_IF, else the bound address's interface,
/// else the route).
pub(crate) fn mc_route(
    cx: &impl InetCx,
    inp: &Inpcb,
    dst: Ipv4Addr,
) -> Result<(u32, Ipv4Addr), Errno> {
    let bound = match inp.laddr {
        IpAddr::V4(l)
            if !l.is_unspecified()
                && !l.is_multicast()
                && !crate::netinet::ip::is_broadcast(cx, inp.laddr) =>
        {
            Some(l)
        }
        _ => None,
    };
    let ifindex = if dst.is_multicast() && inp.mc_ifindex != 0 {
        inp.mc_ifindex
    } else if let Some(a) =
        bound.or((dst.is_multicast() && !inp.mc_addr.is_unspecified()).then_some(inp.mc_addr))
    {
        ifindex_of_addr(cx, a).ok_or(Errno::EADDRNOTAVAIL)?
    } else {
        crate::netinet::ip::route_check(cx, dst.into(), crate::netinet::in_pcb::DEV_NONE)?;
        // A broadcast on a prefix of lo's stays on lo.
        if cx.inet().lo.is_broadcast(dst) {
            LOOPBACK_IFINDEX
        } else {
            cx.config().ifindex
        }
    };
    let src = match bound {
        Some(a) => a,
        None if dst.is_multicast() && !inp.mc_addr.is_unspecified() => inp.mc_addr,
        None if ifindex == LOOPBACK_IFINDEX => {
            cx.inet().lo.source_for(dst).unwrap_or(Ipv4Addr::LOCALHOST)
        }
        None => cx.config().addr,
    };
    Ok((ifindex, src))
}

/// The sockets a multicast or broadcast datagram to `local` from `remote`
/// that arrived on `ifindex` is offered to (Linux's __udp_is_mcast_sock),
/// each with whether its membership of the group there lets the source
/// through (None: it did not join it; the caller checks IP_MULTICAST_ALL
/// of those).
pub(crate) fn udp_mcast_candidates(
    t: &crate::netinet::in_pcb::PcbInfo,
    local: SocketAddr,
    remote: SocketAddr,
    ifindex: u32,
) -> Vec<(SocketHandle, Option<bool>)> {
    let IpAddr::V4(group) = local.ip() else {
        return udp_mcast6_candidates(t, local, remote);
    };
    t.users(Proto::Udp, local.port())
        .iter()
        .filter(|u| {
            matches!(u.addr, IpAddr::V4(a) if a.is_unspecified() || a == group)
                || (u.addr.is_unspecified() && !u.v6only)
        })
        .filter(|u| u.foreign.is_none_or(|f| f == remote))
        .map(|u| {
            let joined = match (group.is_multicast(), remote.ip()) {
                (false, _) => Some(true),
                (true, IpAddr::V4(src)) => {
                    t.mc.membership(u.handle, group, ifindex)
                        .map(|m| m.allows(src))
                }
                (true, IpAddr::V6(_)) => None,
            };
            (u.handle, joined)
        })
        .collect()
}

/// `udp_mcast_candidates` for an IPv6 group (Linux's udp_v6_mcast_next
/// and inet6_mc_check): AF_INET6 sockets on the port bound to `::` or the
/// group, with whether they joined it (on any interface) and its filter
/// lets the source through.
fn udp_mcast6_candidates(
    t: &crate::netinet::in_pcb::PcbInfo,
    local: SocketAddr,
    remote: SocketAddr,
) -> Vec<(SocketHandle, Option<bool>)> {
    let IpAddr::V6(group) = local.ip() else {
        return Vec::new();
    };
    t.users(Proto::Udp, local.port())
        .iter()
        .filter(|u| matches!(u.addr, IpAddr::V6(a) if a.is_unspecified() || a == group))
        .filter(|u| u.foreign.is_none_or(|f| f == remote))
        .map(|u| {
            let src = match remote.ip() {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            (u.handle, t.mc.socket_joined6(u.handle, group, src))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{Config, SockType, Stack};
    use std::net::SocketAddr;

    #[test]
    fn a_group_leaves_by_the_bound_address_without_any_route() {
        // No gateway: Linux's ip_route_output takes a multicast
        // destination to the interface of the bound source address
        // before looking for a route.
        let st = Stack::new(Config::new([10, 0, 0, 1].into(), 24));
        let now = crate::testing::trace::t0();
        let h = st.socket(SockType::Dgram, 0).unwrap();
        st.bind(h, "127.0.0.1:0".parse::<SocketAddr>().unwrap())
            .unwrap();
        let group: SocketAddr = "224.0.2.1:5000".parse().unwrap();
        assert_eq!(st.send(now, h, b"x", 0, Some(group)), Ok(1));
        assert_eq!(st.connect(now, h, Some(group)), Ok(()));
        let u = st.socket(SockType::Dgram, 0).unwrap();
        assert_eq!(
            st.send(now, u, b"x", 0, Some(group)),
            Err(crate::Errno::ENETUNREACH),
            "unbound, no IP_MULTICAST_IF, no route"
        );
    }
}
