//! IPv6 multicast for sockets (Linux's mcast.c socket half:
//! ipv6_sock_mc_join, ipv6_sock_mc_drop, inet6_mc_check): IPV6_JOIN_GROUP
//! / IPV6_LEAVE_GROUP (IPV6_ADD/DROP_MEMBERSHIP) and MCAST_JOIN/LEAVE_GROUP
//! at IPPROTO_IPV6, the interface and source a datagram to a group leaves
//! by, and whether a socket takes one that arrived. The source options
//! (ip6_mc_source: MCAST_JOIN/LEAVE_SOURCE_GROUP keep an INCLUDE list,
//! MCAST_BLOCK/UNBLOCK_SOURCE an EXCLUDE list on an any-source join) are
//! here too; each change is reported on the device by MLDv2 (`igmp`), as
//! IGMPv3 reports IPv4's. MCAST_MSFILTER sets and reads a whole filter
//! (ip6_mc_msfilter, ip6_mc_msfget).
//!
//! As on Linux a membership names its interface (index 0: the group's
//! route, the device when it has an IPv6 address), but delivery reads only
//! the group: a socket that joined it anywhere takes it, one that did not
//! takes it under IPV6_MULTICAST_ALL (the default), once the interface it
//! arrived on is in the group.

use std::net::{IpAddr, Ipv6Addr};

use crate::api::SocketHandle;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::igmp_state::IgmpParams;
use crate::netinet::in_pcb::{Inpcb, MCIF6_DEV, MCIF6_LO, PMTU6_MCIF};
use crate::netinet::inet::InetCx;
use crate::netinet::mc_table::{sf_change, Mc6Membership, SfChange, MLD_MAX_MSF};

/// struct ipv6_mreq: the group, then an int interface index.
const IPV6_MREQ_LEN: usize = 20;
/// struct group_req on 64-bit Linux (see ip_mcast).
const GROUP_REQ_LEN: usize = 136;
/// struct group_source_req on 64-bit Linux: gsr_interface (u32), 4 bytes
/// padding, then two sockaddr_storage (group, source).
const GROUP_SOURCE_REQ_LEN: usize = 264;

fn addr6_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

/// The interface a membership of `group` names (ipv6_sock_mc_join): by
/// index, else the group's route (the device, if it has an IPv6
/// address).
fn mc6_find_dev(cx: &impl InetCx, ifindex: u32) -> Option<u32> {
    match ifindex {
        0 => cx.config().addr6.map(|_| cx.config().ifindex),
        LOOPBACK_IFINDEX => Some(LOOPBACK_IFINDEX),
        i if i == cx.config().ifindex => Some(i),
        _ => None,
    }
}

/// The membership options of IPPROTO_IPV6 for a datagram socket (None:
/// not one of them; TCP keeps ip6_ctloutput's EPROTO).
pub(crate) fn ip6_mcast_setsockopt(
    cx: &impl InetCx,
    handle: SocketHandle,
    name: i32,
    val: &[u8],
) -> Option<Result<(), Errno>> {
    let (join, group, ifindex) = match name {
        IPV6_JOIN_GROUP | IPV6_LEAVE_GROUP => {
            if val.len() < IPV6_MREQ_LEN {
                return Some(Err(Errno::EINVAL));
            }
            let i = i32::from_ne_bytes([val[16], val[17], val[18], val[19]]);
            (name == IPV6_JOIN_GROUP, addr6_at(val, 0), i as u32)
        }
        MCAST_JOIN_GROUP | MCAST_LEAVE_GROUP => {
            if val.len() < GROUP_REQ_LEN {
                return Some(Err(Errno::EINVAL));
            }
            if i32::from(u16::from_ne_bytes([val[8], val[9]])) != AF_INET6 {
                return Some(Err(Errno::EADDRNOTAVAIL));
            }
            let i = u32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
            // sockaddr_in6 at 8: family, port, flowinfo, then the address.
            (name == MCAST_JOIN_GROUP, addr6_at(val, 16), i)
        }
        MCAST_JOIN_SOURCE_GROUP
        | MCAST_LEAVE_SOURCE_GROUP
        | MCAST_BLOCK_SOURCE
        | MCAST_UNBLOCK_SOURCE => return Some(source_setsockopt(cx, handle, name, val)),
        MCAST_MSFILTER => return Some(msfilter6_set(cx, handle, val)),
        _ => return None,
    };
    Some(if join {
        join6(cx, handle, group, ifindex, false)
    } else {
        leave6(cx, handle, group, ifindex)
    })
}

/// One of the source options (`name`) on `handle`'s socket, as Linux's
/// do_ipv6_mcast_group_source: a group_source_req (shorter: EINVAL; a
/// longer one is read as far as it goes), both addresses AF_INET6 (else
/// EADDRNOTAVAIL). A source-specific join joins first, in INCLUDE mode;
/// being in the group already is fine.
fn source_setsockopt(
    cx: &impl InetCx,
    handle: SocketHandle,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    if val.len() < GROUP_SOURCE_REQ_LEN {
        return Err(Errno::EINVAL);
    }
    let family = |at: usize| i32::from(u16::from_ne_bytes([val[at], val[at + 1]]));
    if family(8) != AF_INET6 || family(136) != AF_INET6 {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let ifindex = u32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
    // sockaddr_in6: family, port, flowinfo, then the address.
    let (group, source) = (addr6_at(val, 16), addr6_at(val, 144));
    // (INCLUDE mode?, add the source?)
    let (include, add) = match name {
        MCAST_JOIN_SOURCE_GROUP => (true, true),
        MCAST_LEAVE_SOURCE_GROUP => (true, false),
        MCAST_BLOCK_SOURCE => (false, true),
        _ => (false, false),
    };
    if include && add {
        match join6(cx, handle, group, ifindex, true) {
            Ok(()) | Err(Errno::EADDRINUSE) => {}
            Err(e) => return Err(e),
        }
    }
    ip6_mc_source(cx, handle, (group, ifindex), source, include, add)
}

/// GROUP_FILTER_SIZE(0) on 64-bit Linux: gf_interface, padding, gf_group
/// (a sockaddr_storage), gf_fmode, gf_numsrc; then the sources, each a
/// sockaddr_storage.
const GF_HDR: usize = 144;
const SS_LEN: usize = 128;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// setsockopt MCAST_MSFILTER (ipv6_set_mcast_msfilter, ip6_mc_msfilter):
/// a group_filter; more sources than mld_max_msf is ENOBUFS, a list past
/// the value EINVAL; the group's family is not looked at, nor are the
/// sources' (each is read as a sockaddr_in6); the membership must be on
/// exactly `gf_interface` (0 finds none); (INCLUDE, empty) leaves.
fn msfilter6_set(cx: &impl InetCx, handle: SocketHandle, val: &[u8]) -> Result<(), Errno> {
    if val.len() < GF_HDR {
        return Err(Errno::EINVAL);
    }
    let n = u32_at(val, 140) as usize;
    if n > MLD_MAX_MSF {
        return Err(Errno::ENOBUFS);
    }
    if GF_HDR + n * SS_LEN > val.len() {
        return Err(Errno::EINVAL);
    }
    let (ifindex, group, fmode) = (u32_at(val, 0), addr6_at(val, 16), u32_at(val, 136));
    if !group.is_multicast() || (fmode != MCAST_INCLUDE && fmode != MCAST_EXCLUDE) {
        return Err(Errno::EINVAL);
    }
    mc6_find_dev(cx, ifindex).ok_or(Errno::ENODEV)?;
    if fmode == MCAST_INCLUDE && n == 0 {
        return leave6(cx, handle, group, ifindex);
    }
    let sources: Vec<Ipv6Addr> = (0..n)
        .map(|i| addr6_at(val, GF_HDR + SS_LEN * i + 8))
        .collect();
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let pmc =
        t.mc.members6
            .iter_mut()
            .find(|m| m.handle == handle && m.group == group && m.ifindex == ifindex)
            .ok_or(Errno::EINVAL)?;
    pmc.include = fmode == MCAST_INCLUDE;
    // No list at all after an empty one: the mode may switch again.
    pmc.sources = (!sources.is_empty()).then_some(sources);
    t.mc.mld_commit(group, ifindex, &p);
    Ok(())
}

/// getsockopt MCAST_MSFILTER (ipv6_get_msfilter, ip6_mc_msfget): `out`
/// holds the caller's group_filter (interface, group, room for sources).
/// A group not AF_INET6 is EADDRNOTAVAIL, so is no membership on exactly
/// that interface. Writes the mode, the whole count and as many sources
/// as there is room for; returns the length that holds them (sources past
/// the end of `out` are not written, where Linux writes past the optlen).
pub(crate) fn msfilter6_get(
    cx: &impl InetCx,
    handle: SocketHandle,
    out: &mut [u8],
) -> Result<usize, Errno> {
    if out.len() < GF_HDR {
        return Err(Errno::EINVAL);
    }
    if i32::from(u16::from_ne_bytes([out[8], out[9]])) != AF_INET6 {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let (ifindex, group) = (u32_at(out, 0), addr6_at(out, 16));
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let t = cx.inet().pcbinfo.read();
    let pmc =
        t.mc.members6
            .iter()
            .find(|m| m.handle == handle && m.group == group && m.ifindex == ifindex)
            .ok_or(Errno::EADDRNOTAVAIL)?;
    let list = pmc.sources.as_deref().unwrap_or(&[]);
    let room = u32_at(out, 140) as usize;
    let copy = list.len().min(room).min((out.len() - GF_HDR) / SS_LEN);
    let fmode = if pmc.include {
        MCAST_INCLUDE
    } else {
        MCAST_EXCLUDE
    };
    out[136..140].copy_from_slice(&fmode.to_ne_bytes());
    out[140..144].copy_from_slice(&(list.len() as u32).to_ne_bytes());
    for (i, s) in list.iter().take(copy).enumerate() {
        let at = GF_HDR + SS_LEN * i;
        out[at..at + SS_LEN].fill(0);
        out[at..at + 2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
        out[at + 8..at + 24].copy_from_slice(&s.octets());
    }
    Ok(GF_HDR + SS_LEN * copy)
}

/// Add or remove `source` in the filter of `handle`'s membership of
/// `group` on `ifindex` (0: on any interface), whose mode must be
/// `include`'s unless no list was set yet (Linux's ip6_mc_source).
/// Removing the last source of an INCLUDE list leaves the group.
fn ip6_mc_source(
    cx: &impl InetCx,
    handle: SocketHandle,
    (group, ifindex): (Ipv6Addr, u32),
    source: Ipv6Addr,
    include: bool,
    add: bool,
) -> Result<(), Errno> {
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    mc6_find_dev(cx, ifindex).ok_or(Errno::ENODEV)?;
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let at = find6(&t.mc.members6, handle, group, ifindex).ok_or(Errno::EINVAL)?;
    let pmc = &mut t.mc.members6[at];
    let dev = pmc.ifindex;
    let change = sf_change(
        &mut pmc.include,
        &mut pmc.sources,
        (include, add),
        source,
        MLD_MAX_MSF,
    )?;
    if change == SfChange::Leave {
        drop(t);
        return leave6(cx, handle, group, ifindex);
    }
    t.mc.mld_commit(group, dev, &p);
    Ok(())
}

/// Where `handle`'s membership of `group` on `ifindex` (0: any
/// interface) is in `members`, as ipv6_sock_mc_join and _drop match it.
fn find6(
    members: &[Mc6Membership],
    handle: SocketHandle,
    group: Ipv6Addr,
    ifindex: u32,
) -> Option<usize> {
    members.iter().position(|m| {
        m.handle == handle && m.group == group && (ifindex == 0 || m.ifindex == ifindex)
    })
}

/// Join `group` on `ifindex` in INCLUDE mode (a source-specific join,
/// ipv6_sock_mc_join_ssm) or EXCLUDE (any source), with no list yet.
fn join6(
    cx: &impl InetCx,
    handle: SocketHandle,
    group: Ipv6Addr,
    ifindex: u32,
    include: bool,
) -> Result<(), Errno> {
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    if find6(
        &cx.inet().pcbinfo.read().mc.members6,
        handle,
        group,
        ifindex,
    )
    .is_some()
    {
        return Err(Errno::EADDRINUSE);
    }
    let dev = mc6_find_dev(cx, ifindex).ok_or(Errno::ENODEV)?;
    let p = IgmpParams::of(cx);
    let mc = &mut cx.inet().pcbinfo.write().mc;
    mc.members6.push(Mc6Membership {
        group,
        ifindex: dev,
        handle,
        include,
        sources: None,
    });
    mc.mld_commit(group, dev, &p);
    Ok(())
}

fn leave6(
    cx: &impl InetCx,
    handle: SocketHandle,
    group: Ipv6Addr,
    ifindex: u32,
) -> Result<(), Errno> {
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let p = IgmpParams::of(cx);
    let mut t = cx.inet().pcbinfo.write();
    let m = &mut t.mc.members6;
    let at = find6(m, handle, group, ifindex).ok_or(Errno::EADDRNOTAVAIL)?;
    let gone = m.remove(at);
    t.mc.mld_commit(gone.group, gone.ifindex, &p);
    Ok(())
}

/// Where a datagram from `inp` to an IPv6 group goes: the
/// interface (IPV6_MULTICAST_IF, else the socket's device, else the
/// group's route) and the source address.
pub(crate) fn mc6_route(cx: &impl InetCx, inp: &Inpcb) -> Result<(u32, IpAddr), Errno> {
    use crate::netinet::in_pcb::{DEV_LO, DEV_OURS};
    let c = cx.config();
    let ifindex = match (inp.pmtu6 & PMTU6_MCIF, inp.bound_dev()) {
        (MCIF6_LO, _) | (_, DEV_LO) => LOOPBACK_IFINDEX,
        (MCIF6_DEV, _) | (_, DEV_OURS) => c.ifindex,
        _ if c.addr6.is_some() => c.ifindex,
        _ => return Err(Errno::ENETUNREACH),
    };
    let src = match inp.laddr {
        IpAddr::V6(l) if !l.is_unspecified() && !l.is_multicast() => l,
        _ if ifindex == LOOPBACK_IFINDEX => Ipv6Addr::LOCALHOST,
        _ => c.addr6.unwrap_or(Ipv6Addr::UNSPECIFIED),
    };
    Ok((ifindex, IpAddr::V6(src)))
}

#[cfg(test)]
mod tests {
    use crate::api::Domain;
    use crate::linux::*;
    use crate::{Config, Errno, SockType, Stack};
    use std::net::{Ipv6Addr, SocketAddr};

    const GROUP: &str = "ff05::1:3";

    fn mreq(group: &str, ifindex: i32) -> Vec<u8> {
        let mut v = group.parse::<Ipv6Addr>().unwrap().octets().to_vec();
        v.extend_from_slice(&ifindex.to_ne_bytes());
        v
    }

    fn bound(st: &Stack, port: u16) -> crate::SocketHandle {
        let h = st.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
        let now = crate::testing::trace::t0();
        st.setsockopt(now, h, SOL_SOCKET, SO_REUSEADDR, &1i32.to_ne_bytes())
            .unwrap();
        st.bind(h, SocketAddr::new("::".parse().unwrap(), port))
            .unwrap();
        h
    }

    #[test]
    fn members_receive_their_own_group_looped_back_and_it_goes_out_with_hop_limit_1() {
        let mut c = Config::new([10, 7, 0, 2].into(), 24);
        c.addr6 = Some("fd00:7::2".parse().unwrap());
        let st = Stack::new(c);
        let now = crate::testing::trace::t0();
        let (r1, r2, r3) = (bound(&st, 5000), bound(&st, 5000), bound(&st, 5000));
        let join = |h, v: &[u8]| st.setsockopt(now, h, IPPROTO_IPV6, IPV6_JOIN_GROUP, v);
        assert_eq!(join(r1, &mreq(GROUP, 0)[..19]), Err(Errno::EINVAL));
        assert_eq!(join(r1, &mreq("fd00:7::9", 0)), Err(Errno::EINVAL));
        assert_eq!(join(r1, &mreq(GROUP, 99)), Err(Errno::ENODEV));
        assert_eq!(join(r1, &mreq(GROUP, 0)), Ok(()));
        assert_eq!(join(r1, &mreq(GROUP, 0)), Err(Errno::EADDRINUSE));
        assert_eq!(join(r2, &mreq(GROUP, 0)), Ok(()));
        let s = bound(&st, 5001);
        let to = SocketAddr::new(GROUP.parse().unwrap(), 5000);
        assert_eq!(st.send(now, s, b"mine", 0, Some(to)), Ok(4));
        let f = st.poll_transmit().expect("out through the device");
        assert_eq!((f[0] >> 4, f[7]), (6, 1), "IPv6, hop limit 1");
        assert_eq!(
            &f[24..40],
            &to.ip().to_string().parse::<Ipv6Addr>().unwrap().octets()
        );
        let mut b = [0u8; 16];
        for h in [r1, r2, r3] {
            let m = st.recv(now, h, &mut b, MSG_DONTWAIT).expect("looped back");
            assert_eq!(&b[..m.copied], b"mine");
            assert_eq!(m.from, Some("[fd00:7::2]:5001".parse().unwrap()));
        }
        let leave = |h| st.setsockopt(now, h, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mreq(GROUP, 0));
        assert_eq!(leave(r1), Ok(()));
        assert_eq!(leave(r1), Err(Errno::EADDRNOTAVAIL));
        st.close(now, r2).unwrap();
        assert_eq!(st.send(now, s, b"left", 0, Some(to)), Ok(4));
        assert!(st.poll_transmit().is_some());
        assert_eq!(
            st.recv(now, r3, &mut b, MSG_DONTWAIT).map(|m| m.copied),
            Err(Errno::EAGAIN),
            "no member left: not looped back"
        );
        // The joins and the leaves since: one MLDv2 report now, TO_IN {}.
        st.handle_timeout(now);
        let f = st.poll_transmit().expect("an MLD report");
        assert_eq!((f[6], f[7], &f[24..26]), (0, 1, &[0xff, 0x02][..]));
        let r = crate::wire::mld::parse_mld_report(Ipv6Addr::UNSPECIFIED, &f[48..]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].kind, r[0].group),
            (
                crate::wire::igmp::RecordType::ChangeToInclude,
                GROUP.parse().unwrap()
            )
        );
    }

    #[test]
    fn tcp_joins_by_group_req_and_the_two_multicast_all_flags_are_apart() {
        let mut c = Config::new([10, 7, 0, 2].into(), 24);
        c.addr6 = Some("fd00:7::2".parse().unwrap());
        let st = Stack::new(c);
        let now = crate::testing::trace::t0();
        let t = st.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
        let mut g = vec![0u8; 136];
        g[8..10].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
        g[16..32].copy_from_slice(&GROUP.parse::<Ipv6Addr>().unwrap().octets());
        let set = |name, v: &[u8]| st.setsockopt(now, t, IPPROTO_IPV6, name, v);
        assert_eq!(set(MCAST_JOIN_GROUP, &g), Ok(()));
        assert_eq!(set(MCAST_JOIN_GROUP, &g), Err(Errno::EADDRINUSE));
        assert_eq!(set(IPV6_JOIN_GROUP, &mreq(GROUP, 0)), Err(Errno::EPROTO));
        assert_eq!(set(MCAST_LEAVE_GROUP, &g), Ok(()));
        assert_eq!(set(MCAST_LEAVE_GROUP, &g), Err(Errno::EADDRNOTAVAIL));
        let u = bound(&st, 5000);
        let get = |level, name| {
            let mut b = [0u8; 4];
            st.getsockopt(u, level, name, &mut b).unwrap();
            i32::from_ne_bytes(b)
        };
        // An AF_INET6 socket starts with IP_MULTICAST_ALL off.
        assert_eq!(get(IPPROTO_IP, IP_MULTICAST_ALL), 0);
        assert_eq!(get(IPPROTO_IPV6, IPV6_MULTICAST_ALL), 1);
        st.setsockopt(now, u, IPPROTO_IP, IP_MULTICAST_ALL, &1i32.to_ne_bytes())
            .unwrap();
        st.setsockopt(
            now,
            u,
            IPPROTO_IPV6,
            IPV6_MULTICAST_ALL,
            &0i32.to_ne_bytes(),
        )
        .unwrap();
        assert_eq!(get(IPPROTO_IP, IP_MULTICAST_ALL), 1);
        assert_eq!(get(IPPROTO_IPV6, IPV6_MULTICAST_ALL), 0);
    }

    /// A struct group_source_req for `group` and `source` on interface 0.
    fn gsr(group: &str, source: Ipv6Addr) -> Vec<u8> {
        let mut g = vec![0u8; 264];
        for at in [8, 136] {
            g[at..at + 2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
        }
        g[16..32].copy_from_slice(&group.parse::<Ipv6Addr>().unwrap().octets());
        g[144..160].copy_from_slice(&source.octets());
        g
    }

    /// Source filters as Linux's ip6_mc_source, inet6_mc_check and
    /// ipv6_chk_mcast_addr (c-test 430 has the errnos): of A's datagram
    /// to the group, B's INCLUDE {A} member takes it and its member that
    /// blocked A does not; once only an INCLUDE {another} member is left,
    /// B's interface drops it before any socket (the bystander under
    /// IPV6_MULTICAST_ALL sees nothing); the MLDv2 report names the source.
    #[test]
    fn source_filters_decide_delivery_and_the_interfaces_filter() {
        use crate::testing::pair::{Pair, A_ADDR6};
        let mut p = Pair::new(3);
        let other: Ipv6Addr = "fd00::9".parse().unwrap();
        let (inc, exc, bystander) = (bound(&p.b, 5000), bound(&p.b, 5000), bound(&p.b, 5000));
        let set = |p: &Pair, h, name, v: &[u8]| p.b.setsockopt(p.now, h, IPPROTO_IPV6, name, v);
        assert_eq!(
            set(&p, inc, MCAST_JOIN_SOURCE_GROUP, &gsr(GROUP, A_ADDR6)),
            Ok(())
        );
        assert_eq!(
            set(&p, inc, MCAST_JOIN_SOURCE_GROUP, &gsr(GROUP, A_ADDR6)),
            Err(Errno::EADDRNOTAVAIL)
        );
        assert_eq!(
            set(&p, inc, MCAST_BLOCK_SOURCE, &gsr(GROUP, other)),
            Err(Errno::EINVAL),
            "not the mode of its list"
        );
        assert_eq!(set(&p, exc, IPV6_JOIN_GROUP, &mreq(GROUP, 0)), Ok(()));
        assert_eq!(
            set(&p, exc, MCAST_BLOCK_SOURCE, &gsr(GROUP, A_ADDR6)),
            Ok(())
        );
        let s = bound(&p.a, 5001);
        let to = SocketAddr::new(GROUP.parse().unwrap(), 5000);
        let got = |p: &mut Pair, h| {
            let mut b = [0u8; 16];
            p.b.recv(p.now, h, &mut b, MSG_DONTWAIT)
                .map(|m| b[..m.copied].to_vec())
        };
        assert_eq!(p.a.send(p.now, s, b"one", 0, Some(to)), Ok(3));
        p.drive();
        assert_eq!(got(&mut p, inc), Ok(b"one".to_vec()), "INCLUDE {{A}}");
        assert_eq!(got(&mut p, exc), Err(Errno::EAGAIN), "A blocked");
        assert_eq!(got(&mut p, bystander), Ok(b"one".to_vec()));

        assert_eq!(set(&p, exc, IPV6_LEAVE_GROUP, &mreq(GROUP, 0)), Ok(()));
        assert_eq!(
            set(&p, inc, MCAST_JOIN_SOURCE_GROUP, &gsr(GROUP, other)),
            Ok(())
        );
        assert_eq!(
            set(&p, inc, MCAST_LEAVE_SOURCE_GROUP, &gsr(GROUP, A_ADDR6)),
            Ok(())
        );
        assert_eq!(p.a.send(p.now, s, b"two", 0, Some(to)), Ok(3));
        p.drive();
        for h in [inc, bystander] {
            assert_eq!(
                got(&mut p, h),
                Err(Errno::EAGAIN),
                "dropped by B's interface"
            );
        }
        // The last source of an INCLUDE list dropped is a leave.
        assert_eq!(
            set(&p, inc, MCAST_LEAVE_SOURCE_GROUP, &gsr(GROUP, other)),
            Ok(())
        );
        assert_eq!(
            set(&p, inc, IPV6_LEAVE_GROUP, &mreq(GROUP, 0)),
            Err(Errno::EADDRNOTAVAIL)
        );
    }

    #[test]
    fn an_include_join_is_reported_with_its_source() {
        let mut c = Config::new([10, 7, 0, 2].into(), 24);
        c.addr6 = Some("fd00:7::2".parse().unwrap());
        let st = Stack::new(c);
        let now = crate::testing::trace::t0();
        let r = bound(&st, 5000);
        let src: Ipv6Addr = "fd00:7::1".parse().unwrap();
        st.setsockopt(
            now,
            r,
            IPPROTO_IPV6,
            MCAST_JOIN_SOURCE_GROUP,
            &gsr(GROUP, src),
        )
        .unwrap();
        st.handle_timeout(now);
        let f = st.poll_transmit().expect("an MLD report");
        let recs = crate::wire::mld::parse_mld_report(Ipv6Addr::UNSPECIFIED, &f[48..]).unwrap();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(
            (recs[0].kind, recs[0].group, recs[0].sources.clone()),
            (
                crate::wire::igmp::RecordType::AllowNewSources,
                GROUP.parse().unwrap(),
                vec![src]
            )
        );
    }

    /// MCAST_MSFILTER set and read back (c-test 431 has the errnos and
    /// delivery): the whole count, as many sources as there is room for,
    /// the length that holds them; (INCLUDE, empty) leaves.
    #[test]
    fn msfilter_sets_and_reads_a_whole_filter() {
        let mut c = Config::new([10, 7, 0, 2].into(), 24);
        c.addr6 = Some("fd00:7::2".parse().unwrap());
        let dev = c.ifindex;
        let st = Stack::new(c);
        let now = crate::testing::trace::t0();
        let r = bound(&st, 5000);
        let srcs: Vec<Ipv6Addr> = ["fd00:7::1", "fd00:7::9"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let gf = |ifindex: u32, fmode: u32, list: &[Ipv6Addr]| {
            let mut g = vec![0u8; 144 + 128 * list.len()];
            g[..4].copy_from_slice(&ifindex.to_ne_bytes());
            g[8..10].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            g[16..32].copy_from_slice(&GROUP.parse::<Ipv6Addr>().unwrap().octets());
            g[136..140].copy_from_slice(&fmode.to_ne_bytes());
            g[140..144].copy_from_slice(&(list.len() as u32).to_ne_bytes());
            for (i, a) in list.iter().enumerate() {
                g[144 + 128 * i + 8..144 + 128 * i + 24].copy_from_slice(&a.octets());
            }
            g
        };
        let set = |v: &[u8]| st.setsockopt(now, r, IPPROTO_IPV6, MCAST_MSFILTER, v);
        let get = |room: usize| {
            let mut g = gf(dev, 7, &vec![Ipv6Addr::UNSPECIFIED; room]);
            let n = st.getsockopt(r, IPPROTO_IPV6, MCAST_MSFILTER, &mut g)?;
            let fm = u32::from_ne_bytes(g[136..140].try_into().unwrap());
            let count = u32::from_ne_bytes(g[140..144].try_into().unwrap());
            let first = (room > 0).then(|| addr6(&g, 144 + 8));
            Ok::<_, Errno>((n, fm, count, first))
        };
        assert_eq!(
            set(&gf(dev, MCAST_INCLUDE, &srcs)),
            Err(Errno::EINVAL),
            "no join"
        );
        assert_eq!(get(2), Err(Errno::EADDRNOTAVAIL));
        let mut join = vec![0u8; 136];
        join[..4].copy_from_slice(&dev.to_ne_bytes());
        join[8..10].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
        join[16..32].copy_from_slice(&GROUP.parse::<Ipv6Addr>().unwrap().octets());
        st.setsockopt(now, r, IPPROTO_IPV6, MCAST_JOIN_GROUP, &join)
            .unwrap();
        assert_eq!(
            get(2),
            Ok((144, MCAST_EXCLUDE, 0, Some(Ipv6Addr::UNSPECIFIED)))
        );
        assert_eq!(
            set(&gf(0, MCAST_INCLUDE, &srcs)),
            Err(Errno::EINVAL),
            "interface 0"
        );
        assert_eq!(set(&gf(dev, 7, &srcs)), Err(Errno::EINVAL), "mode 7");
        assert_eq!(
            set(&gf(dev, MCAST_INCLUDE, &srcs)[..143]),
            Err(Errno::EINVAL)
        );
        let many = vec![srcs[0]; 65];
        assert_eq!(set(&gf(dev, MCAST_INCLUDE, &many)), Err(Errno::ENOBUFS));
        assert_eq!(set(&gf(dev, MCAST_INCLUDE, &srcs)), Ok(()));
        assert_eq!(get(2), Ok((144 + 256, MCAST_INCLUDE, 2, Some(srcs[0]))));
        assert_eq!(get(1), Ok((144 + 128, MCAST_INCLUDE, 2, Some(srcs[0]))));
        assert_eq!(set(&gf(dev, MCAST_INCLUDE, &[])), Ok(()), "a leave");
        assert_eq!(get(2), Err(Errno::EADDRNOTAVAIL));
    }

    fn addr6(b: &[u8], at: usize) -> Ipv6Addr {
        super::addr6_at(b, at)
    }
}
