//! IPv4 source-specific multicast for sockets (Linux's ip_mc_source and
//! the source options of do_ip_setsockopt): IP_ADD/DROP_SOURCE_MEMBERSHIP
//! and MCAST_JOIN/LEAVE_SOURCE_GROUP keep an INCLUDE list on a membership,
//! IP_BLOCK/UNBLOCK_SOURCE and MCAST_BLOCK/UNBLOCK_SOURCE an EXCLUDE list
//! on an any-source join. Delivery reads the lists (`McMembership::allows`).
//! IP_MSFILTER and MCAST_MSFILTER (a whole filter at once) are in
//! `ip_msfilter`.

use std::net::Ipv4Addr;

use crate::api::SocketHandle;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::igmp_state::IgmpParams;
use crate::netinet::inet::InetCx;
use crate::netinet::ip_mcast::{addr_at, is_source_opt, join, leave, mc_find_dev, Mreqn};
use crate::netinet::mc_table::{sf_change, SfChange, IGMP_MAX_MSF};

/// struct group_source_req on 64-bit Linux: gsr_interface (u32), 4 bytes
/// padding, then two sockaddr_storage (group, source).
const GROUP_SOURCE_REQ_LEN: usize = 264;

/// A source option's arguments: the membership, and the source.
struct SourceReq {
    m: Mreqn,
    source: Ipv4Addr,
}

/// ip_mreq_source: imr_multiaddr, imr_interface, imr_sourceaddr (exactly
/// 12 bytes, as Linux asks).
fn read_mreq_source(val: &[u8]) -> Result<SourceReq, Errno> {
    if val.len() != 12 {
        return Err(Errno::EINVAL);
    }
    Ok(SourceReq {
        m: Mreqn {
            multiaddr: addr_at(val, 0),
            address: addr_at(val, 4),
            ifindex: 0,
        },
        source: addr_at(val, 8),
    })
}

/// group_source_req: both addresses AF_INET (else EINVAL), by interface
/// index.
fn read_group_source_req(val: &[u8]) -> Result<SourceReq, Errno> {
    if val.len() != GROUP_SOURCE_REQ_LEN {
        return Err(Errno::EINVAL);
    }
    let family = |at: usize| i32::from(u16::from_ne_bytes([val[at], val[at + 1]]));
    if family(8) != AF_INET || family(136) != AF_INET {
        return Err(Errno::EINVAL);
    }
    Ok(SourceReq {
        m: Mreqn {
            multiaddr: addr_at(val, 12),
            address: Ipv4Addr::UNSPECIFIED,
            ifindex: u32::from_ne_bytes([val[0], val[1], val[2], val[3]]),
        },
        source: addr_at(val, 140),
    })
}

/// The multicast options of IPPROTO_IP for a socket of either type: the
/// source options here, the others by `ip_mcast` (None: not one of them).
pub(crate) fn ip_mcast_setsockopt(
    cx: &impl InetCx,
    handle: SocketHandle,
    inp: &mut crate::netinet::in_pcb::Inpcb,
    stream: bool,
    name: i32,
    val: &[u8],
) -> Option<Result<(), Errno>> {
    if is_source_opt(name) {
        return Some(ip_mc_source_setsockopt(cx, handle, name, val));
    }
    if crate::netinet::ip_msfilter::is_msfilter_opt(name) {
        return Some(crate::netinet::ip_msfilter::msfilter_set(
            cx, handle, name, val,
        ));
    }
    crate::netinet::ip_mcast::ip_mcast_setsockopt(cx, handle, inp, stream, name, val)
}

/// One of the source options (`name`), set on `handle`'s socket.
fn ip_mc_source_setsockopt(
    cx: &impl InetCx,
    handle: SocketHandle,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    let by_index = matches!(
        name,
        MCAST_JOIN_SOURCE_GROUP
            | MCAST_LEAVE_SOURCE_GROUP
            | MCAST_BLOCK_SOURCE
            | MCAST_UNBLOCK_SOURCE
    );
    let r = if by_index {
        read_group_source_req(val)?
    } else {
        read_mreq_source(val)?
    };
    // (INCLUDE mode?, add the source?)
    let (include, add) = match name {
        IP_ADD_SOURCE_MEMBERSHIP | MCAST_JOIN_SOURCE_GROUP => (true, true),
        IP_DROP_SOURCE_MEMBERSHIP | MCAST_LEAVE_SOURCE_GROUP => (true, false),
        IP_BLOCK_SOURCE | MCAST_BLOCK_SOURCE => (false, true),
        _ => (false, false),
    };
    if include && add {
        // A source-specific join first; being in the group already is fine.
        match join(cx, handle, r.m, true) {
            Ok(()) | Err(Errno::EADDRINUSE) => {}
            Err(e) => return Err(e),
        }
    }
    ip_mc_source(cx, handle, &r, include, add)
}

/// Add or remove `r.source` in the filter of `handle`'s membership, whose
/// mode must be `include`'s (Linux's ip_mc_source). Removing the last
/// source of an INCLUDE list leaves the group.
fn ip_mc_source(
    cx: &impl InetCx,
    handle: SocketHandle,
    r: &SourceReq,
    include: bool,
    add: bool,
) -> Result<(), Errno> {
    if !r.m.multiaddr.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let ifindex = mc_find_dev(cx, &r.m).ok_or(Errno::ENODEV)?;
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let pmc =
        t.mc.members
            .iter_mut()
            .find(|m| m.handle == handle && m.group == r.m.multiaddr && m.ifindex == ifindex)
            .ok_or(Errno::EINVAL)?;
    let change = sf_change(
        &mut pmc.include,
        &mut pmc.sources,
        (include, add),
        r.source,
        IGMP_MAX_MSF,
    )?;
    if change == SfChange::Leave {
        drop(t);
        return leave(cx, handle, r.m);
    }
    t.mc.igmp_commit(r.m.multiaddr, ifindex, &p);
    Ok(())
}
