//! The multicast membership table (Linux's per-socket ip_mc_socklist and
//! per-interface group lists in one): which socket joined which group on
//! which interface, with its source filter. It lives in pcbinfo, under its
//! lock; the options that change it are in `ip_mcast` and
//! `ip_mcast_source`. The device's IGMPv3 report state of those changes
//! (`igmp_state`) lives beside it, under the same lock.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::api::SocketHandle;
use crate::errno::Errno;
use crate::netinet::igmp_state::{IgmpParams, IgmpReports, ALL_HOSTS};

/// Linux's net.ipv4.igmp_max_memberships default: groups per socket.
pub const IGMP_MAX_MEMBERSHIPS: usize = 20;

/// Linux's net.ipv4.igmp_max_msf default: sources per filter.
pub const IGMP_MAX_MSF: usize = 10;

/// Linux's net.ipv6.mld_max_msf default: sources per IPv6 filter.
pub const MLD_MAX_MSF: usize = 64;

/// One socket's membership of one group on one interface (ip_mc_socklist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McMembership {
    pub group: Ipv4Addr,
    pub ifindex: u32,
    /// imr_address as the caller gave it (ip_mc_leave_group matches on it).
    pub addr: Ipv4Addr,
    pub handle: SocketHandle,
    /// The source filter's mode: INCLUDE (a source-specific join) lets
    /// only the listed sources through, EXCLUDE all but them.
    pub include: bool,
    /// The source list (ip_sf_socklist), once one was set: None until then
    /// (the mode may still switch), possibly empty after.
    pub sources: Option<Vec<Ipv4Addr>>,
}

/// Does a socket's filter (INCLUDE?, its list) let a datagram from
/// `src` through (ip_mc_sf_allow, inet6_mc_check)?
fn sf_allows<A: PartialEq>(include: bool, sources: &Option<Vec<A>>, src: &A) -> bool {
    let listed = sources.as_ref().is_some_and(|l| l.contains(src));
    listed == include
}

/// What a source option did to a socket's filter (`sf_change`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SfChange {
    /// The filter changed: the interface's is to be recomputed.
    Changed,
    /// The last source of an INCLUDE list is to go: that is a leave of
    /// the group (the list is left as it was, for the leave to remove).
    Leave,
}

/// Add (`add`) or remove `source` in a socket's filter (`mode`: INCLUDE?,
/// `sources`), as Linux's ip_mc_source and ip6_mc_source both do it: the
/// mode must be `include`'s, and switches only while no list was ever set
/// (EINVAL); removing a source not listed is EADDRNOTAVAIL, so is adding
/// one twice; a list holds at most `max` (ENOBUFS).
pub(crate) fn sf_change<A: PartialEq>(
    mode: &mut bool,
    sources: &mut Option<Vec<A>>,
    (include, add): (bool, bool),
    source: A,
    max: usize,
) -> Result<SfChange, Errno> {
    if *mode != include {
        if sources.is_some() {
            return Err(Errno::EINVAL);
        }
        *mode = include;
    }
    if !add {
        let list = sources.as_mut().ok_or(Errno::EADDRNOTAVAIL)?;
        let at = list.iter().position(|s| *s == source);
        let at = at.ok_or(Errno::EADDRNOTAVAIL)?;
        if list.len() == 1 && include {
            // (INCLUDE, empty) is no membership.
            return Ok(SfChange::Leave);
        }
        list.remove(at);
        return Ok(SfChange::Changed);
    }
    let list = sources.get_or_insert_with(Vec::new);
    if list.len() >= max {
        return Err(Errno::ENOBUFS);
    }
    if list.contains(&source) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    list.push(source);
    Ok(SfChange::Changed)
}

impl McMembership {
    /// Does the filter let a datagram from `src` through (ip_mc_sf_allow)?
    pub fn allows(&self, src: Ipv4Addr) -> bool {
        sf_allows(self.include, &self.sources, &src)
    }
}

/// One socket's membership of an IPv6 group on one interface
/// (ipv6_mc_socklist), with its source filter as `McMembership`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mc6Membership {
    pub group: Ipv6Addr,
    pub ifindex: u32,
    pub handle: SocketHandle,
    /// INCLUDE (a source-specific join) or EXCLUDE mode.
    pub include: bool,
    /// The source list, once one was set.
    pub sources: Option<Vec<Ipv6Addr>>,
}

impl Mc6Membership {
    /// Does the filter let a datagram from `src` through (inet6_mc_check)?
    pub fn allows(&self, src: Ipv6Addr) -> bool {
        sf_allows(self.include, &self.sources, &src)
    }
}

/// The all-nodes group every IPv6 interface is in (ff02::1).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Every socket's memberships.
#[derive(Debug, Default)]
pub struct McTable {
    pub(crate) members: Vec<McMembership>,
    /// IPv6 memberships (`ip6_mcast`).
    pub(crate) members6: Vec<Mc6Membership>,
    /// The device's reports of its groups' filters: IGMPv3, MLDv2.
    pub(crate) igmp: IgmpReports,
    pub(crate) mld: IgmpReports<Ipv6Addr>,
}

impl McTable {
    /// Does interface `ifindex` accept `group` from `src`: has a socket
    /// joined it there whose filter lets `src` through (the interface's
    /// filter is the union of its members')?
    pub fn interface_joined(&self, group: Ipv4Addr, ifindex: u32, src: Ipv4Addr) -> bool {
        group == ALL_HOSTS
            || self
                .members
                .iter()
                .any(|m| m.group == group && m.ifindex == ifindex && m.allows(src))
    }

    /// Does interface `ifindex` accept the IPv6 `group` from `src`
    /// (ipv6_chk_mcast_addr): has a socket joined it there whose filter
    /// lets `src` through (any, for the unspecified source)?
    pub fn interface_joined6(&self, group: Ipv6Addr, ifindex: u32, src: Ipv6Addr) -> bool {
        group == ALL_NODES
            || self.members6.iter().any(|m| {
                m.group == group && m.ifindex == ifindex && (src.is_unspecified() || m.allows(src))
            })
    }

    /// Has `handle` joined the IPv6 `group` (on any interface: Linux's
    /// inet6_mc_check reads only the group), and does its first such
    /// membership's filter let `src` through? None: not joined.
    pub fn socket_joined6(
        &self,
        handle: SocketHandle,
        group: Ipv6Addr,
        src: Ipv6Addr,
    ) -> Option<bool> {
        self.members6
            .iter()
            .find(|m| m.handle == handle && m.group == group)
            .map(|m| m.allows(src))
    }

    /// `handle`'s membership of `group` on `ifindex`, if any.
    pub fn membership(
        &self,
        handle: SocketHandle,
        group: Ipv4Addr,
        ifindex: u32,
    ) -> Option<&McMembership> {
        self.members
            .iter()
            .find(|m| m.handle == handle && m.group == group && m.ifindex == ifindex)
    }

    /// Has `handle` joined `group` on `ifindex`?
    pub fn socket_joined(&self, handle: SocketHandle, group: Ipv4Addr, ifindex: u32) -> bool {
        self.membership(handle, group, ifindex).is_some()
    }

    pub(crate) fn count(&self, handle: SocketHandle) -> usize {
        self.members.iter().filter(|m| m.handle == handle).count()
    }

    /// Forget every membership of a socket being detached, reporting
    /// what that changes.
    pub(crate) fn leave_all(&mut self, handle: SocketHandle, p: &IgmpParams) {
        let mut left = Vec::new();
        self.members.retain(|m| {
            if m.handle == handle {
                left.push((m.group, m.ifindex));
            }
            m.handle != handle
        });
        for (group, ifindex) in left {
            self.igmp_commit(group, ifindex, p);
        }
        let mut left6 = Vec::new();
        self.members6.retain(|m| {
            if m.handle == handle {
                left6.push((m.group, m.ifindex));
            }
            m.handle != handle
        });
        for (group, ifindex) in left6 {
            self.mld_commit(group, ifindex, p);
        }
    }

    /// Note that `group`'s membership on `ifindex` changed: the device's
    /// filter is recomputed from the members and the difference owed to
    /// the reports.
    pub(crate) fn igmp_commit(&mut self, group: Ipv4Addr, ifindex: u32, p: &IgmpParams) {
        if !p.reports(group, ifindex) {
            return;
        }
        let (exclude, sources) = self.iface_filter(group, ifindex);
        self.igmp.set_filter(group, exclude, sources, p);
    }

    /// As `igmp_commit` for an IPv6 group: its MLDv2 reports.
    pub(crate) fn mld_commit(&mut self, group: Ipv6Addr, ifindex: u32, p: &IgmpParams) {
        if !p.reports6(group, ifindex) {
            return;
        }
        let (exclude, sources) = merge_filters(
            self.members6
                .iter()
                .filter(|m| m.group == group && m.ifindex == ifindex)
                .map(|m| (m.include, &m.sources)),
        );
        self.mld.set_filter(group, exclude, sources, &p.for_mld());
    }

    /// The interface's filter for `group` (`merge_filters` of its members').
    pub(crate) fn iface_filter(&self, group: Ipv4Addr, ifindex: u32) -> (bool, BTreeSet<Ipv4Addr>) {
        merge_filters(
            self.members
                .iter()
                .filter(|m| m.group == group && m.ifindex == ifindex)
                .map(|m| (m.include, &m.sources)),
        )
    }
}

/// An interface's filter from its members' (INCLUDE?, list) (RFC 3376
/// 3.2, RFC 3810 4.2, Linux's sf_setstate): EXCLUDE if any member
/// excludes, the sources every excluding member excludes and no including
/// one includes; else INCLUDE the sources any member includes.
/// (EXCLUDE?, sources).
fn merge_filters<'a, A: Ord + Copy + 'a>(
    members: impl Iterator<Item = (bool, &'a Option<Vec<A>>)>,
) -> (bool, BTreeSet<A>) {
    let mut excluded: Option<BTreeSet<A>> = None;
    let mut included = BTreeSet::new();
    for (include, sources) in members {
        let list = sources.iter().flatten().copied();
        if include {
            included.extend(list);
        } else {
            let l: BTreeSet<A> = list.collect();
            excluded = Some(match excluded {
                None => l,
                Some(e) => e.intersection(&l).copied().collect(),
            });
        }
    }
    match excluded {
        Some(e) => (true, e.difference(&included).copied().collect()),
        None => (false, included),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> SocketHandle {
        SocketHandle {
            index: i,
            generation: 0,
        }
    }

    #[test]
    fn interface_accepts_a_group_while_any_socket_is_in_it() {
        let g = Ipv4Addr::new(224, 0, 2, 1);
        let src = Ipv4Addr::LOCALHOST;
        let mut t = McTable::default();
        assert!(!t.interface_joined(g, 1, src));
        assert!(
            t.interface_joined(ALL_HOSTS, 1, src),
            "all-hosts is always joined"
        );
        for i in [1, 2] {
            t.members.push(McMembership {
                group: g,
                ifindex: 1,
                addr: Ipv4Addr::LOCALHOST,
                handle: h(i),
                include: false,
                sources: None,
            });
        }
        assert!(t.interface_joined(g, 1, src));
        assert!(!t.interface_joined(g, 2, src), "another interface");
        assert!(t.socket_joined(h(2), g, 1));
        let p = IgmpParams::test();
        t.leave_all(h(1), &p);
        assert!(t.interface_joined(g, 1, src), "the second member keeps it");
        assert!(!t.socket_joined(h(1), g, 1));
        assert_eq!(t.count(h(2)), 1);
        t.members[0].include = true;
        t.members[0].sources = Some(vec![Ipv4Addr::new(10, 0, 0, 1)]);
        assert!(!t.interface_joined(g, 1, src), "INCLUDE without it");
        assert!(t.interface_joined(g, 1, Ipv4Addr::new(10, 0, 0, 1)));
        t.leave_all(h(2), &p);
        assert!(!t.interface_joined(g, 1, src));
    }
}
