//! IGMPv3 state-change reports for the device (RFC 3376 section 5.1, as
//! Linux's igmp.c sends them: igmp_ifc_event, sf_setstate, igmpv3_send_cr).
//!
//! The device's filter for a group is the union of its sockets'
//! memberships (`McTable::iface_filter`). When a join, a leave, a source
//! option or a socket's close changes it, the difference becomes pending
//! records: a mode change a TO_EX/TO_IN record with the new source list,
//! a source change ALLOW/BLOCK records of the sources that moved. Each is
//! sent `igmp_qrv` times (robustness): the first report at once, the next
//! after a random wait below igmpv3_unsolicited_report_interval. Changes
//! that come before a report is sent are merged into it, as on Linux.
//! Groups on lo, and 224.0.0.1, are never reported; 224.0.0.0/24 only
//! with igmp_link_local_mcast_reports. Queries are not answered (the
//! stack has no querier to hear: a report that arrives is dropped).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::netinet::inet::InetCx;
use crate::offload::TxMeta;
use crate::time::Instant;
use crate::wire::igmp::{emit_reports, GroupRecord, RecordType};

/// The all-hosts group every interface is in (224.0.0.1), never reported.
pub(crate) const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

/// What a membership change needs to know of the stack, read before the
/// table's lock is taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IgmpParams {
    /// The device's ifindex: only its groups are reported.
    pub dev: u32,
    pub qrv: u8,
    pub llm_reports: bool,
    pub now: Instant,
}

impl IgmpParams {
    pub(crate) fn of(cx: &impl InetCx) -> IgmpParams {
        let sys = cx.sysctl();
        IgmpParams {
            dev: cx.config().ifindex,
            qrv: sys.igmp_qrv.max(1),
            llm_reports: sys.igmp_llm_reports,
            now: cx.last_now(),
        }
    }

    /// Is `group` on `ifindex` one the device reports?
    fn reports(&self, group: Ipv4Addr, ifindex: u32) -> bool {
        ifindex == self.dev && group != ALL_HOSTS && (self.llm_reports || !is_link_local(group))
    }
}

fn is_link_local(g: Ipv4Addr) -> bool {
    let o = g.octets();
    o[0] == 224 && o[1] == 0 && o[2] == 0
}

/// One group's filter on the device and the records still owed for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct GroupReport {
    /// The device's filter: EXCLUDE (else INCLUDE) these sources.
    exclude: bool,
    sources: BTreeSet<Ipv4Addr>,
    /// Reports still to carry a TO_EX/TO_IN record (Linux's crcount).
    mode_cr: u8,
    /// Sources that moved: whether each is now in the list, and how many
    /// more reports carry it (sf_crcount, the tomb's for ones that left).
    src_cr: BTreeMap<Ipv4Addr, (bool, u8)>,
}

impl GroupReport {
    /// IN{} with nothing owed: the group can be forgotten.
    fn idle(&self) -> bool {
        !self.exclude && self.sources.is_empty() && self.mode_cr == 0 && self.src_cr.is_empty()
    }

    /// The records of the next report (igmpv3_send_cr for one group).
    fn records(&mut self, group: Ipv4Addr, out: &mut Vec<GroupRecord>) {
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
        let rec = |kind, sources: Vec<Ipv4Addr>| GroupRecord {
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

/// The device's reports (Linux's in_device mr_ifc_* and its groups).
#[derive(Debug, Default)]
pub struct IgmpReports {
    groups: BTreeMap<Ipv4Addr, GroupReport>,
    /// Reports still to send (mr_ifc_count).
    ifc_count: u8,
    /// When the next one is due.
    next: Option<Instant>,
}

impl IgmpReports {
    /// The device's filter for `group` is now (`exclude`, `sources`):
    /// owe the records of the change.
    pub(crate) fn set_filter(
        &mut self,
        group: Ipv4Addr,
        exclude: bool,
        sources: BTreeSet<Ipv4Addr>,
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
    pub(crate) fn fire(&mut self, now: Instant, delay: Duration) -> Vec<GroupRecord> {
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

/// Note that `group`'s membership on `ifindex` changed: the device's
/// filter is recomputed from `mc`'s members and the difference reported.
pub(crate) fn igmp_commit(
    mc: &mut crate::netinet::mc_table::McTable,
    group: Ipv4Addr,
    ifindex: u32,
    p: &IgmpParams,
) {
    if !p.reports(group, ifindex) {
        return;
    }
    let (exclude, sources) = mc.iface_filter(group, ifindex);
    mc.igmp.set_filter(group, exclude, sources, p);
}

/// When the device's next report is due.
pub(crate) fn igmp_next_timeout(cx: &impl InetCx) -> Option<Instant> {
    cx.inet().pcbinfo.read().mc.igmp.next()
}

/// Send the report due at `now`, if one is (igmp_ifc_timer_expire).
pub(crate) fn igmp_timeout(cx: &impl InetCx, now: Instant) {
    if igmp_next_timeout(cx).is_none_or(|t| t > now) {
        return;
    }
    let interval = cx.sysctl().igmpv3_unsolicited_report_interval;
    let r = cx.inet().rng.lock().next_u64();
    let delay = Duration::from_micros(r % (interval.as_micros().max(1) as u64));
    let records = cx.inet().pcbinfo.write().mc.igmp.fire(now, delay);
    if records.is_empty() {
        return;
    }
    for p in emit_reports(cx.config().addr, &records, cx.config().mtu) {
        cx.transmit_on_device(p, TxMeta::NONE);
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
            llm_reports: true,
            now: Instant::from_micros(ms * 1000),
        }
    }

    fn set(r: &mut IgmpReports, exclude: bool, s: &[Ipv4Addr], at: u64) {
        r.set_filter(G, exclude, s.iter().copied().collect(), &p(at));
    }

    /// Every report until none is owed: (due ms, its records).
    fn drain(r: &mut IgmpReports) -> Vec<Vec<(RecordType, Vec<Ipv4Addr>)>> {
        let mut out = Vec::new();
        while let Some(t) = r.next() {
            let recs = r.fire(t, Duration::from_millis(300));
            out.push(recs.into_iter().map(|x| (x.kind, x.sources)).collect());
        }
        out
    }

    #[test]
    fn join_and_leave_are_each_reported_twice() {
        let mut r = IgmpReports::default();
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
        let mut r = IgmpReports::default();
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
        let mut r = IgmpReports::default();
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
    fn a_socket_on_the_device_reports_its_join_and_its_close() {
        use crate::linux::{IPPROTO_IP, IP_ADD_MEMBERSHIP};
        use crate::{Config, SockType, Stack};
        let st = Stack::new(Config::new([10, 0, 0, 1].into(), 24));
        let t0 = crate::testing::trace::t0();
        let h = st.socket(SockType::Dgram, 0).unwrap();
        let mreq = [224, 0, 2, 1, 10, 0, 0, 1];
        st.setsockopt(t0, h, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq)
            .unwrap();
        let lo = st.socket(SockType::Dgram, 0).unwrap();
        let on_lo = [224, 0, 2, 2, 127, 0, 0, 1];
        st.setsockopt(t0, lo, IPPROTO_IP, IP_ADD_MEMBERSHIP, &on_lo)
            .unwrap();
        let report = |st: &Stack| {
            let t = st.poll_timeout().expect("a report is due");
            st.handle_timeout(t);
            let f = st.poll_transmit().expect("a report went out");
            assert_eq!((f[8], &f[16..20]), (1, &[224, 0, 0, 22][..]));
            assert!(st.poll_transmit().is_none(), "one packet");
            let r = crate::wire::igmp::parse_report(&f[24..]).unwrap();
            (
                t,
                r.into_iter().map(|x| (x.kind, x.group)).collect::<Vec<_>>(),
            )
        };
        let join = vec![(ChangeToExclude, G)];
        let (t, r) = report(&st);
        assert_eq!((t, r), (t0, join.clone()), "at once, lo's group not");
        let (t1, r) = report(&st);
        assert_eq!(r, join);
        assert!(t1 < t0 + Duration::from_secs(1), "within the interval");
        assert_eq!(st.poll_timeout(), None, "robustness 2: two reports");
        st.close(t1 + Duration::from_secs(2), h).unwrap();
        let leave = vec![(ChangeToInclude, G)];
        assert_eq!(report(&st).1, leave);
        assert_eq!(report(&st).1, leave);
        assert_eq!(st.poll_timeout(), None);
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
    }
}
