//! The device's IGMPv3 report state (Linux's in_device mr_ifc_* and its
//! ip_mc_list crcounts): each group's filter as last reported and the
//! records still owed for its changes, merged as RFC 3376 5.1 and Linux's
//! sf_setstate merge them. Plain data under the membership table's lock;
//! `igmp` sends what it owes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The newest version: 3 (IGMP), 2 (MLD, `for_mld`).
    pub newest: u8,
    /// force_igmp_version (force_mld_version for MLD).
    pub force: u8,
    pub mld_force: u8,
    /// The unsolicited report intervals of the newest version and of
    /// the old one (igmpv3/igmpv2_unsolicited_report_interval; mldv2/
    /// mldv1 for MLD).
    pub interval: Duration,
    pub old_interval: Duration,
    pub mld_interval: Duration,
    pub mld_old_interval: Duration,
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
            newest: 2,
            force: self.mld_force,
            interval: self.mld_interval,
            old_interval: self.mld_old_interval,
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

#[cfg(test)]
impl IgmpParams {
    /// Linux's defaults, device 3, at time 0.
    pub(crate) fn test() -> IgmpParams {
        IgmpParams {
            dev: 3,
            qrv: 2,
            mld_qrv: 2,
            llm_reports: true,
            now: Instant::from_micros(0),
            newest: 3,
            force: 0,
            mld_force: 0,
            interval: Duration::from_secs(1),
            old_interval: Duration::from_secs(10),
            mld_interval: Duration::from_secs(1),
            mld_old_interval: Duration::from_secs(10),
        }
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

/// One group's filter on the device, the records still owed for it, and
/// its query answer's timer (`igmp_query`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupReport<A> {
    /// The device's filter: EXCLUDE (else INCLUDE) these sources.
    pub(crate) exclude: bool,
    pub(crate) sources: BTreeSet<A>,
    /// Reports still to carry a TO_EX/TO_IN record (Linux's crcount).
    pub(crate) mode_cr: u8,
    /// Sources that moved: whether each is now in the list, and how many
    /// more reports carry it (sf_crcount, the tomb's for ones that left).
    pub(crate) src_cr: BTreeMap<A, (bool, u8)>,
    /// When this group's own report is due (im->timer), the sources a
    /// group-and-source query asked about (gsquery, sf_gsresp), the
    /// unsolicited reports left (unsolicit_count), and whether this host
    /// reported it last (reporter).
    pub(crate) timer: Option<Instant>,
    pub(crate) asked: Option<BTreeSet<A>>,
    pub(crate) unsolicit: u8,
    pub(crate) reporter: bool,
}

impl<A> Default for GroupReport<A> {
    fn default() -> Self {
        GroupReport {
            exclude: false,
            sources: BTreeSet::new(),
            mode_cr: 0,
            src_cr: BTreeMap::new(),
            timer: None,
            asked: None,
            unsolicit: 0,
            reporter: false,
        }
    }
}

impl<A: McAddr> GroupReport<A> {
    /// IN{} with nothing owed: the group can be forgotten.
    pub(crate) fn idle(&self) -> bool {
        !self.present() && self.mode_cr == 0 && self.src_cr.is_empty() && self.timer.is_none()
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
    pub(crate) groups: BTreeMap<A, GroupReport<A>>,
    /// State-change reports still to send (mr_ifc_count).
    pub(crate) ifc_count: u8,
    /// When the next one is due.
    pub(crate) next: Option<Instant>,
    /// Queries heard and what answers them (`igmp_query`).
    pub(crate) q: QueryState<A>,
    /// `next_due`'s answer until the state changes next (`DueCache`).
    pub(crate) due_cache: DueCache,
}

/// The earliest of a report state's deadlines, kept between changes: the
/// stack's `poll_timeout` asks on every wake-up of the shim's driver
/// (eight times per TCP_RR transaction), and the walk over every group
/// under the table's lock was a tenth of a shimmed TCP_RR client's
/// instructions. Every `&mut self` method of `IgmpReports` clears it
/// first; in debug builds `next_due` checks it against the walk.
#[derive(Debug, Default)]
pub(crate) struct DueCache(AtomicU64);

impl DueCache {
    /// Not known: to be computed.
    const STALE: u64 = 0;
    /// Known: nothing is due.
    const NONE: u64 = u64::MAX;

    pub(crate) fn get(&self, walk: impl FnOnce() -> Option<Instant>) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            Self::STALE => {
                let v = walk();
                let code = v.map_or(Self::NONE, |t| {
                    t.total_micros().saturating_add(1).min(Self::NONE - 1)
                });
                self.0.store(code, Ordering::Relaxed);
                v
            }
            Self::NONE => None,
            code => Some(Instant::from_micros(code - 1)),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self.0.get_mut() = Self::STALE;
    }
}

impl<A> Default for IgmpReports<A> {
    fn default() -> Self {
        IgmpReports {
            groups: BTreeMap::new(),
            ifc_count: 0,
            next: None,
            q: QueryState::default(),
            due_cache: DueCache::default(),
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
        self.due_cache.clear();
        let (v, qrv) = (self.version(p), self.robustness(p));
        let st = self.groups.entry(group).or_default();
        if st.exclude == exclude && st.sources == sources {
            if st.idle() {
                self.groups.remove(&group);
            }
            return;
        }
        let was = st.present();
        if v < p.newest {
            // An older querier: no state-change records, only a join's
            // reports and a leave's message (igmp_query).
            st.exclude = exclude;
            st.sources = sources;
            let is = st.present();
            if was != is {
                self.old_change(group, is, v, p);
            }
            if self.groups.get(&group).is_some_and(|st| st.idle()) {
                self.groups.remove(&group);
            }
            return;
        }
        if st.exclude != exclude {
            st.mode_cr = qrv;
            st.src_cr.clear();
        } else {
            for s in sources.difference(&st.sources) {
                st.src_cr.insert(*s, (true, qrv));
            }
            for s in st.sources.difference(&sources) {
                st.src_cr.insert(*s, (false, qrv));
            }
        }
        st.exclude = exclude;
        st.sources = sources;
        if !st.present() {
            // A group dropped stops its answer (igmp_stop_timer).
            st.timer = None;
            st.asked = None;
            st.unsolicit = 0;
            st.reporter = false;
        }
        self.ifc_count = qrv;
        self.next = Some(p.now);
    }

    /// The records of the report due at `now` (empty if none is), and
    /// the next one scheduled `delay` later while more are owed.
    pub(crate) fn fire(&mut self, now: Instant, delay: Duration) -> Vec<GroupRecord<A>> {
        self.due_cache.clear();
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

// ---- the query state (`igmp_query` reads and changes it) ----

/// An old-version message owed: a report of `version` (IGMPv1/v2,
/// MLDv1) or a leave (IGMPv2 leave, MLDv1 done).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OldMsg {
    Report(u8),
    Leave,
}

/// What the device's query state keeps besides each group's timer.
#[derive(Debug)]
pub(crate) struct QueryState<A> {
    /// When the answer to a general query is due (mr_gq_timer).
    pub(crate) gq: Option<Instant>,
    /// Until when a v1 or v2 querier was heard (mr_v1_seen, mr_v2_seen;
    /// MLD uses the first).
    pub(crate) seen: [Option<Instant>; 2],
    /// The robustness the last current-version query gave (mr_qrv).
    pub(crate) qrv: Option<u8>,
    /// Old messages to send now.
    pub(crate) old: Vec<(OldMsg, A)>,
    pub(crate) old_at: Option<Instant>,
    /// The random waits' source, reseeded from the stack's rng when a
    /// query arrives and when reports are sent.
    pub(crate) rnd: Rnd,
}

impl<A> Default for QueryState<A> {
    fn default() -> Self {
        QueryState {
            gq: None,
            seen: [None; 2],
            qrv: None,
            old: Vec::new(),
            old_at: None,
            rnd: Rnd(0x6967_6d70),
        }
    }
}

/// Uniform waits (splitmix64), seeded from the stack's rng before the
/// table's lock is taken.
#[derive(Debug)]
pub(crate) struct Rnd(pub u64);

impl Rnd {
    /// Mix `seed` in.
    pub(crate) fn reseed(&mut self, seed: u64) {
        self.0 ^= seed;
    }

    /// A wait in [0, `d`).
    pub(crate) fn below(&mut self, d: Duration) -> Duration {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Duration::from_micros(z % (d.as_micros().max(1) as u64))
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
            now: Instant::from_micros(ms * 1000),
            ..IgmpParams::test()
        }
    }

    fn set(r: &mut IgmpReports<Ipv4Addr>, exclude: bool, s: &[Ipv4Addr], at: u64) {
        r.set_filter(G, exclude, s.iter().copied().collect(), &p(at));
    }

    /// Every report until none is owed: (due ms, its records).
    fn drain(r: &mut IgmpReports<Ipv4Addr>) -> Vec<Vec<(RecordType, Vec<Ipv4Addr>)>> {
        let mut out = Vec::new();
        while let Some(t) = r.next_due() {
            let recs = r.fire(t, Duration::from_millis(300));
            out.push(recs.into_iter().map(|x| (x.kind, x.sources)).collect());
        }
        out
    }

    #[test]
    fn next_due_is_kept_until_a_change() {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        assert_eq!(r.next_due(), None);
        assert_eq!(
            r.due_cache.0.load(Ordering::Relaxed),
            DueCache::NONE,
            "kept"
        );
        set(&mut r, true, &[], 7);
        assert_eq!(
            r.due_cache.0.load(Ordering::Relaxed),
            DueCache::STALE,
            "a change clears it"
        );
        assert_eq!(r.next_due(), Some(Instant::from_micros(7000)));
        assert_eq!(r.next_due(), Some(Instant::from_micros(7000)), "read back");
        r.fire(Instant::from_micros(7000), Duration::from_millis(300));
        assert_eq!(
            r.next_due(),
            Some(Instant::from_micros(307_000)),
            "the next report"
        );
        r.fire(Instant::from_micros(307_000), Duration::from_millis(300));
        assert_eq!(r.next_due(), None, "none owed");
    }

    #[test]
    fn join_and_leave_are_each_reported_twice() {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        set(&mut r, true, &[], 0);
        assert_eq!(r.next_due(), Some(Instant::from_micros(0)), "sent at once");
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
