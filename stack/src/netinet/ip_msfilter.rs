//! A membership's whole source filter at once (Linux's ip_mc_msfilter,
//! ip_mc_msfget and ip_mc_gsfget): IP_MSFILTER (struct ip_msfilter, by
//! interface address) and MCAST_MSFILTER (struct group_filter, by
//! interface index), set and read, with Linux's errnos. The filter is the
//! one the single-source options keep (`ip_mcast_source`); a read finds
//! the group and the room for sources in the caller's own value, which
//! the shim passes in `out` (`linux::getsockopt_input_len`).

use std::net::Ipv4Addr;

use crate::api::SocketHandle;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::igmp_state::IgmpParams;
use crate::netinet::inet::InetCx;
use crate::netinet::ip_mcast::{addr_at, leave, mc_find_dev, Mreqn};
use crate::netinet::mc_table::IGMP_MAX_MSF;

/// IP_MSFILTER_SIZE(0): multiaddr, interface, fmode, numsrc.
const MSF_HDR: usize = 16;
/// GROUP_FILTER_SIZE(0) on 64-bit Linux: gf_interface, padding,
/// gf_group (a sockaddr_storage), gf_fmode, gf_numsrc.
const GF_HDR: usize = 144;
/// sizeof(struct sockaddr_storage).
const SS_LEN: usize = 128;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn family_at(b: &[u8], at: usize) -> i32 {
    i32::from(u16::from_ne_bytes([b[at], b[at + 1]]))
}

/// Is `name` one of the whole-filter options?
pub(crate) fn is_msfilter_opt(name: i32) -> bool {
    name == IP_MSFILTER || name == MCAST_MSFILTER
}

/// A filter as set: the membership, the mode, the sources.
struct Msf {
    m: Mreqn,
    fmode: u32,
    sources: Vec<Ipv4Addr>,
}

/// The number of sources, checked as Linux does before it reads them:
/// more than igmp_max_msf is ENOBUFS, a list past the value EINVAL.
fn numsrc(val: &[u8], at: usize, hdr: usize, each: usize) -> Result<usize, Errno> {
    let n = u32_at(val, at) as usize;
    if n > IGMP_MAX_MSF {
        return Err(Errno::ENOBUFS);
    }
    if hdr + n * each > val.len() {
        return Err(Errno::EINVAL);
    }
    Ok(n)
}

/// struct ip_msfilter.
fn read_ip_msfilter(val: &[u8]) -> Result<Msf, Errno> {
    if val.len() < MSF_HDR {
        return Err(Errno::EINVAL);
    }
    let n = numsrc(val, 12, MSF_HDR, 4)?;
    Ok(Msf {
        m: Mreqn {
            multiaddr: addr_at(val, 0),
            address: addr_at(val, 4),
            ifindex: 0,
        },
        fmode: u32_at(val, 8),
        sources: (0..n).map(|i| addr_at(val, MSF_HDR + 4 * i)).collect(),
    })
}

/// struct group_filter: the group and every source AF_INET (else
/// EADDRNOTAVAIL, as Linux's set_mcast_msfilter).
fn read_group_filter(val: &[u8]) -> Result<Msf, Errno> {
    if val.len() < GF_HDR {
        return Err(Errno::EINVAL);
    }
    let n = numsrc(val, 140, GF_HDR, SS_LEN)?;
    if family_at(val, 8) != AF_INET {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let mut sources = Vec::with_capacity(n);
    for i in 0..n {
        let at = GF_HDR + SS_LEN * i;
        if family_at(val, at) != AF_INET {
            return Err(Errno::EADDRNOTAVAIL);
        }
        sources.push(addr_at(val, at + 4));
    }
    Ok(Msf {
        m: Mreqn {
            multiaddr: addr_at(val, 12),
            address: Ipv4Addr::UNSPECIFIED,
            ifindex: u32_at(val, 0),
        },
        fmode: u32_at(val, 136),
        sources,
    })
}

/// setsockopt IP_MSFILTER / MCAST_MSFILTER.
pub(crate) fn msfilter_set(
    cx: &impl InetCx,
    handle: SocketHandle,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    let f = if name == IP_MSFILTER {
        read_ip_msfilter(val)?
    } else {
        read_group_filter(val)?
    };
    if !f.m.multiaddr.is_multicast() || (f.fmode != MCAST_INCLUDE && f.fmode != MCAST_EXCLUDE) {
        return Err(Errno::EINVAL);
    }
    let ifindex = mc_find_dev(cx, &f.m).ok_or(Errno::ENODEV)?;
    if f.fmode == MCAST_INCLUDE && f.sources.is_empty() {
        // (INCLUDE, empty) is leaving the group.
        return leave(cx, handle, Mreqn { ifindex, ..f.m });
    }
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let pmc =
        t.mc.members
            .iter_mut()
            .find(|x| x.handle == handle && x.group == f.m.multiaddr && x.ifindex == ifindex)
            .ok_or(Errno::EINVAL)?;
    pmc.include = f.fmode == MCAST_INCLUDE;
    // No list at all after an empty one: the mode may switch again.
    pmc.sources = (!f.sources.is_empty()).then_some(f.sources);
    t.mc.igmp_commit(f.m.multiaddr, ifindex, &p);
    Ok(())
}

/// getsockopt IP_MSFILTER / MCAST_MSFILTER: `out` holds the caller's
/// value (group, interface, room for sources). Writes the mode, the whole
/// count and as many sources as there is room for; returns the length
/// that holds them. Sources past the end of `out` are not written (Linux
/// would write them past the caller's optlen).
pub(crate) fn msfilter_get(
    cx: &impl InetCx,
    handle: SocketHandle,
    name: i32,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let gf = name == MCAST_MSFILTER;
    let (hdr, each) = if gf { (GF_HDR, SS_LEN) } else { (MSF_HDR, 4) };
    if out.len() < hdr {
        return Err(Errno::EINVAL);
    }
    let (group, ifindex) = if gf {
        if family_at(out, 8) != AF_INET {
            return Err(Errno::EINVAL);
        }
        (addr_at(out, 12), Some(u32_at(out, 0)))
    } else {
        (addr_at(out, 0), None)
    };
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    // IP_MSFILTER names the interface by address; group_filter's index
    // is compared as given (0 matches nothing).
    let ifindex = match ifindex {
        Some(i) => i,
        None => {
            let m = Mreqn {
                multiaddr: group,
                address: addr_at(out, 4),
                ifindex: 0,
            };
            mc_find_dev(cx, &m).ok_or(Errno::ENODEV)?
        }
    };
    let t = cx.inet().pcbinfo.read();
    let pmc =
        t.mc.membership(handle, group, ifindex)
            .ok_or(Errno::EADDRNOTAVAIL)?;
    let list = pmc.sources.as_deref().unwrap_or(&[]);
    let (fmode_at, numsrc_at) = if gf { (136, 140) } else { (8, 12) };
    let room = u32_at(out, numsrc_at) as usize;
    let copy = list.len().min(room).min((out.len() - hdr) / each);
    let fmode = if pmc.include {
        MCAST_INCLUDE
    } else {
        MCAST_EXCLUDE
    };
    out[fmode_at..fmode_at + 4].copy_from_slice(&fmode.to_ne_bytes());
    out[numsrc_at..numsrc_at + 4].copy_from_slice(&(list.len() as u32).to_ne_bytes());
    for (i, s) in list.iter().take(copy).enumerate() {
        let at = hdr + each * i;
        if gf {
            out[at..at + SS_LEN].fill(0);
            out[at..at + 2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            out[at + 4..at + 8].copy_from_slice(&s.octets());
        } else {
            out[at..at + 4].copy_from_slice(&s.octets());
        }
    }
    Ok(hdr + each * copy)
}
