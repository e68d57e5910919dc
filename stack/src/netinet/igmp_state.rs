//! The device's IGMPv3 report state (Linux's in_device mr_ifc_* and its
//! ip_mc_list crcounts): each group's filter as last reported and the
//! records still owed for its changes, merged as RFC 3376 5.1 and Linux's
//! sf_setstate merge them. Plain data under the membership table's lock;
//! `igmp` sends what it owes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::time::Instant;
use crate::wire::igmp::{GroupRecord, RecordType};

/// The all-hosts group every interface is in (224.0.0.1), never reported.
pub(crate) const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

/// What a membership change needs to know of the stack, read before the
/// table's lock is taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IgmpParams {
    /// The device's ifindex: only its groups are reported.
    pub dev: u32,
    /// Robustness: how many times a change is sent (igmp_qrv; mld_qrv
    /// for MLD, `for_mld`).
    pub qrv: u8,
    pub mld_qrv: u8,
    pub llm_reports: bool,
    pub now: Instant,
}

impl IgmpParams {
    /// Is `group` on `ifindex` one the device reports?
    pub(crate) fn reports(&self, group: Ipv4Addr, ifindex: u32) -> bool {
        ifindex == self.dev && group != ALL_HOSTS && (self.llm_reports || !is_link_local(group))
    }
}

impl IgmpParams {
    /// The same with MLD's robustness.
    pub(crate) fn for_mld(&self) -> IgmpParams {
        IgmpParams {
            qrv: self.mld_qrv,
            ..*self
        }
    }

    /// Is the IPv6 `group` on `ifindex` one the device reports by MLD
    /// (not ff02::1, nor a scope below link-local: Linux's MAF_NOREPORT)?
    pub(crate) fn reports6(&self, group: std::net::Ipv6Addr, ifindex: u32) -> bool {
        let scope = group.octets()[1] & 0x0f;
        ifindex == self.dev
            && group != std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)
            && scope >= 2
    }
}

fn is_link_local(g: Ipv4Addr) -> bool {
    let o = g.octets();
    o[0] == 224 && o[1] == 0 && o[2] == 0
}

/// An address of either family a report names (IGMPv3's IPv4, MLDv2's
/// IPv6).
pub trait McAddr: Copy + Ord + std::fmt::Debug {}
impl McAddr for Ipv4Addr {}
impl McAddr for std::net::Ipv6Addr {}

/// One group's filter on the device and the records still owed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GroupReport<A> {
    /// The device's filter: EXCLUDE (else INCLUDE) these sources.
    exclude: bool,
    sources: BTreeSet<A>,
    /// Reports still to carry a TO_EX/TO_IN record (Linux's crcount).
    mode_cr: u8,
    /// Sources that moved: whether each is now in the list, and how many
    /// more reports carry it (sf_crcount, the tomb's for ones that left).
    src_cr: BTreeMap<A, (bool, u8)>,
}

impl<A> Default for GroupReport<A> {
    fn default() -> Self {
        GroupReport {
            exclude: false,
            sources: BTreeSet::new(),
            mode_cr: 0,
            src_cr: BTreeMap::new(),
        }
    }
}

impl<A: McAddr> GroupReport<A> {
    /// IN{} with nothing owed: the group can be forgotten.
    fn idle(&self) -> bool {
        !self.exclude && self.sources.is_empty() && self.mode_cr == 0 && self.src_cr.is_empty()
    }

    /// The records of the next report (igmpv3_send_cr for one group).
    fn records(&mut self, group: A, out: &mut Vec<GroupRecord<A>>) {
        // Source changes are not reported while a mode change is
        // (RFC 3376 5.1), but their count still runs down.
        let mode_change = self.mode_cr > 0;
        let (mut listed, mut left) = (Vec::new(), Vec::new());
        for (s, (now_in, n)) in self.src_cr.iter_mut() {
            if *now_in {
                listed.push(*s);
            } else {
                left.push(*s);
            }
            *n -= 1;
        }
        self.src_cr.retain(|_, (_, n)| *n > 0);
        let rec = |kind, sources: Vec<A>| GroupRecord {
            kind,
            group,
            sources,
        };
        if mode_change {
            let kind = if self.exclude {
                RecordType::ChangeToExclude
            } else {
                RecordType::ChangeToInclude
            };
            out.push(rec(kind, self.sources.iter().copied().collect()));
            self.mode_cr -= 1;
            return;
        }
        // A source newly in an EXCLUDE list is blocked, in an INCLUDE
        // list allowed; Linux puts that record first.
        let (first, second) = if self.exclude {
            (RecordType::BlockOldSources, RecordType::AllowNewSources)
        } else {
            (RecordType::AllowNewSources, RecordType::BlockOldSources)
        };
        if !listed.is_empty() {
            out.push(rec(first, listed));
        }
        if !left.is_empty() {
            out.push(rec(second, left));
        }
    }
}

/// The device's reports (Linux's in_device mr_ifc_* and its groups), of
/// IPv4 groups (IGMPv3) or IPv6 ones (MLDv2, Linux's mc_ifc_*).
#[derive(Debug)]
pub struct IgmpReports<A = Ipv4Addr> {
    groups: BTreeMap<A, GroupReport<A>>,
    /// Reports still to send (mr_ifc_count).
    ifc_count: u8,
    /// When the next one is due.
    next: Option<Instant>,
}

impl<A> Default for IgmpReports<A> {
    fn default() -> Self {
        IgmpReports {
            groups: BTreeMap::new(),
            ifc_count: 0,
            next: None,
        }
    }
}

impl<A: McAddr> IgmpReports<A> {
    /// The device's filter for `group` is now (`exclude`, `sources`):
    /// owe the records of the change.
    pub(crate) fn set_filter(
        &mut self,
        group: A,
        exclude: bool,
        sources: BTreeSet<A>,
        p: &IgmpParams,
    ) {
        let st = self.groups.entry(group).or_default();
        if st.exclude == exclude && st.sources == sources {
            if st.idle() {
                self.groups.remove(&group);
            }
            return;
        }
        if st.exclude != exclude {
            st.mode_cr = p.qrv;
            st.src_cr.clear();
        } else {
            for s in sources.difference(&st.sources) {
                st.src_cr.insert(*s, (true, p.qrv));
            }
            for s in st.sources.difference(&sources) {
                st.src_cr.insert(*s, (false, p.qrv));
            }
        }
        st.exclude = exclude;
        st.sources = sources;
        self.ifc_count = p.qrv;
        self.next = Some(p.now);
    }

    /// When the next report is due.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// The records of the report due at `now` (empty if none is), and
    /// the next one scheduled `delay` later while more are owed.
    pub(crate) fn fire(&mut self, now: Instant, delay: Duration) -> Vec<GroupRecord<A>> {
        if self.next.is_none_or(|t| t > now) {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.groups.retain(|g, st| {
            st.records(*g, &mut out);
            !st.idle()
        });
        self.ifc_count = self.ifc_count.saturating_sub(1);
        self.next = (self.ifc_count > 0).then(|| now + delay);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecordType::*;

    const G: Ipv4Addr = Ipv4Addr::new(224, 0, 2, 1);
    const S1: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
    const S2: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 9);

    fn p(ms: u64) -> IgmpParams {
        IgmpParams {
            dev: 3,
            qrv: 2,
            mld_qrv: 2,
            llm_reports: true,
            now: Instant::from_micros(ms * 1000),
        }
    }

    fn set(r: &mut IgmpReports<Ipv4Addr>, exclude: bool, s: &[Ipv4Addr], at: u64) {
        r.set_filter(G, exclude, s.iter().copied().collect(), &p(at));
    }

    /// Every report until none is owed: (due ms, its records).
    fn drain(r: &mut IgmpReports<Ipv4Addr>) -> Vec<Vec<(RecordType, Vec<Ipv4Addr>)>> {
        let mut out = Vec::new();
        while let Some(t) = r.next() {
            let recs = r.fire(t, Duration::from_millis(300));
            out.push(recs.into_iter().map(|x| (x.kind, x.sources)).collect());
        }
        out
    }

    #[test]
    fn join_and_leave_are_each_reported_twice() {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        set(&mut r, true, &[], 0);
        assert_eq!(r.next(), Some(Instant::from_micros(0)), "sent at once");
        let join = vec![(ChangeToExclude, vec![])];
        assert_eq!(drain(&mut r), vec![join.clone(), join]);
        set(&mut r, false, &[], 5000);
        let leave = vec![(ChangeToInclude, vec![])];
        assert_eq!(drain(&mut r), vec![leave.clone(), leave]);
        assert!(
            r.groups.is_empty(),
            "a group left and reported is forgotten"
        );
    }

    #[test]
    fn source_changes_are_allow_and_block_records() {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        // A source-specific join: IN{} to IN{S1}.
        set(&mut r, false, &[S1], 0);
        let a = vec![(AllowNewSources, vec![S1])];
        assert_eq!(drain(&mut r), vec![a.clone(), a]);
        // Leaving it: IN{S1} to IN{}.
        set(&mut r, false, &[], 10);
        let b = vec![(BlockOldSources, vec![S1])];
        assert_eq!(drain(&mut r), vec![b.clone(), b]);
        // In EXCLUDE mode a newly excluded source is blocked, one let
        // back in allowed.
        set(&mut r, true, &[], 20);
        drain(&mut r);
        set(&mut r, true, &[S2], 30);
        assert_eq!(drain(&mut r)[0], vec![(BlockOldSources, vec![S2])]);
        set(&mut r, true, &[], 40);
        assert_eq!(drain(&mut r)[1], vec![(AllowNewSources, vec![S2])]);
    }

    #[test]
    fn a_mode_change_carries_the_list_and_hides_source_records() {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        set(&mut r, true, &[], 0);
        // Before the first report: EX{} then IN{S1, S2}, one TO_IN.
        set(&mut r, false, &[S1, S2], 0);
        let to_in = vec![(ChangeToInclude, vec![S1, S2])];
        assert_eq!(drain(&mut r), vec![to_in.clone(), to_in]);
        // A change between the two sends restarts the count and merges.
        set(&mut r, false, &[S1], 10);
        let first = r.fire(Instant::from_micros(10_000), Duration::from_millis(1));
        assert_eq!(first.len(), 1);
        set(&mut r, false, &[], 11);
        assert_eq!(
            drain(&mut r),
            vec![
                vec![(BlockOldSources, vec![S1, S2])],
                vec![(BlockOldSources, vec![S1])]
            ]
        );
    }

    #[test]
    fn which_groups_are_reported() {
        let q = p(0);
        assert!(q.reports(G, 3));
        assert!(!q.reports(G, 1), "lo");
        assert!(!q.reports(ALL_HOSTS, 3));
        assert!(q.reports(Ipv4Addr::new(224, 0, 0, 251), 3));
        let no_llm = IgmpParams {
            llm_reports: false,
            ..q
        };
        assert!(!no_llm.reports(Ipv4Addr::new(224, 0, 0, 251), 3));
        assert!(q.reports6("ff05::1:3".parse().unwrap(), 3));
        assert!(q.reports6("ff02::fb".parse().unwrap(), 3));
        assert!(!q.reports6("ff02::1".parse().unwrap(), 3), "all nodes");
        assert!(!q.reports6("ff01::5".parse().unwrap(), 3), "node-local");
        assert!(!q.reports6("ff05::1:3".parse().unwrap(), 1), "lo");
    }
}
