//! The device's answers to membership queries, for IGMP and MLD alike
//! (Linux's igmp_heard_query / __mld_query_work, igmp_mod_timer,
//! igmp_timer_expire, igmp_gq_timer_expire and their mld twins), and the
//! older-version compatibility a v1/v2 querier (MLDv1) switches on:
//! - a general query is answered, after a random wait below its Max Resp
//!   Time, by one report of every group's current state (IS_EX/IS_IN);
//! - a group(-and-source)-specific one by a report of that group: its
//!   whole state, or only the asked sources it includes (Linux's
//!   igmp_marksources; in EXCLUDE mode a query naming only excluded
//!   sources is not answered);
//! - an older querier's query puts the device in that version for
//!   robustness x 125 s + 10 s: pending state-change records are dropped,
//!   joins become old reports (IGMP: after a random wait below 200 ms,
//!   igmp_qrv times at igmpv2_unsolicited_report_interval; MLDv1: at once
//!   and once more), a leave an old leave/done when this host reported the
//!   group last, and answers old reports; another host's old report for
//!   a group stops our pending one (report suppression);
//! - force_igmp_version / force_mld_version pin the version.
//!
//! The state lives in `IgmpReports` (igmp_state), under the membership
//! table's lock; `igmp` feeds it what arrives and sends what it yields.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::netinet::igmp_state::{GroupReport, IgmpParams, IgmpReports, McAddr, OldMsg, Rnd};
use crate::time::Instant;
use crate::wire::igmp::{GroupRecord, RecordType};
use crate::wire::igmp_query::Query;

/// An IGMP join in v1/v2 mode waits below this (IGMP_INITIAL_REPORT_DELAY).
const INITIAL_REPORT_DELAY: Duration = Duration::from_millis(200);
/// The Query Interval and Query Response Interval Linux assumes (125 s,
/// 10 s): an older querier is present for robustness x QI + QRI.
const QUERY_INTERVAL: Duration = Duration::from_secs(125);
const QUERY_RESPONSE_INTERVAL: Duration = Duration::from_secs(10);
/// In MLDv1 mode an MLDv2 query's code is read as MLDv1's (RFC 3810
/// 9.12: only while its top bit is clear).
const MLDV1_MRD_MAX_COMPAT: Duration = Duration::from_millis(32767);

/// What a timeout yields: reports of records (each its own report, cut
/// at the MTU by the sender) and old messages per group.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fired<A> {
    pub batches: Vec<Vec<GroupRecord<A>>>,
    pub old: Vec<(OldMsg, A)>,
}

impl<A: McAddr> GroupReport<A> {
    /// Is the group in the device's filter (not INCLUDE {})?
    pub(crate) fn present(&self) -> bool {
        self.exclude || !self.sources.is_empty()
    }

    /// The current-state record (IS_EX / IS_IN), of the asked sources
    /// only after a group-and-source query.
    fn current(&self, group: A) -> GroupRecord<A> {
        let kind = if self.exclude {
            RecordType::ModeIsExclude
        } else {
            RecordType::ModeIsInclude
        };
        let sources = self
            .sources
            .iter()
            .filter(|s| self.asked.as_ref().is_none_or(|a| a.contains(s)))
            .copied()
            .collect();
        GroupRecord {
            kind,
            group,
            sources,
        }
    }

    /// (Re)start the answer's timer: kept if it ends sooner than `max`
    /// (igmp_mod_timer, igmp6_group_queried).
    fn queried(&mut self, now: Instant, max: Duration, rnd: &mut Rnd) {
        self.unsolicit = 0;
        if self.timer.is_some_and(|t| t < now + max) {
            return;
        }
        self.timer = Some(now + rnd.below(max));
    }

    /// A group-and-source query asks about `srcs`: does it need an
    /// answer (igmp_marksources, igmp_xmarksources)?
    fn mark_sources(&mut self, srcs: &[A]) -> bool {
        if self.exclude {
            self.asked = None;
            let excluded = srcs.iter().filter(|s| self.sources.contains(s)).count();
            return excluded != srcs.len();
        }
        let marked: Vec<A> = srcs
            .iter()
            .filter(|s| self.sources.contains(s))
            .copied()
            .collect();
        if marked.is_empty() {
            self.asked = None;
            return false;
        }
        self.asked.get_or_insert_with(BTreeSet::new).extend(marked);
        true
    }
}

impl<A: McAddr> IgmpReports<A> {
    /// The version the device speaks now: a forced older one, else the
    /// oldest querier heard lately, else the newest (`p.newest`).
    pub(crate) fn version(&self, p: &IgmpParams) -> u8 {
        if (1..p.newest).contains(&p.force) {
            return p.force;
        }
        for (v, until) in self.q.seen.iter().enumerate() {
            if until.is_some_and(|t| t > p.now) {
                return v as u8 + 1;
            }
        }
        p.newest
    }

    /// The robustness in force: the querier's, else the sysctl's.
    pub(crate) fn robustness(&self, p: &IgmpParams) -> u8 {
        self.q.qrv.unwrap_or(p.qrv)
    }

    /// A query arrived on the device.
    pub(crate) fn heard_query(&mut self, q: &Query<A>, p: &IgmpParams) {
        self.due_cache.clear();
        let now = p.now;
        let mut group = q.group;
        let mut mark = false;
        let max;
        if q.version < p.newest {
            if p.force == p.newest && p.newest == 2 {
                return; // MLDv2 only: MLDv1 queries are ignored
            }
            let rv = u32::from(self.robustness(p));
            self.q.seen[usize::from(q.version) - 1] =
                Some(now + QUERY_INTERVAL * rv + QUERY_RESPONSE_INTERVAL);
            max = q.max_resp;
            if q.version == 1 && p.newest == 3 {
                group = None;
            }
            // Pending state-change records and left groups' are dropped.
            self.ifc_count = 0;
            self.next = None;
            for st in self.groups.values_mut() {
                st.mode_cr = 0;
                st.src_cr.clear();
            }
            if p.newest == 2 {
                self.q.gq = None;
            }
        } else {
            match self.version(p) {
                1 if p.newest == 3 => {
                    max = Duration::from_secs(10);
                    group = None;
                }
                v if v < p.newest && p.newest == 3 => max = q.max_resp,
                v if v < p.newest => max = q.max_resp.min(MLDV1_MRD_MAX_COMPAT),
                _ => {
                    max = q.max_resp;
                    self.q.qrv = (q.qrv != 0).then_some(q.qrv);
                    if group.is_none() {
                        if q.sources.is_empty() {
                            let due = now + self.q.rnd.below(max);
                            if self.q.gq.is_none_or(|t| t > due) {
                                self.q.gq = Some(due);
                            }
                        }
                        return;
                    }
                    mark = !q.sources.is_empty();
                }
            }
        }
        let rnd = &mut self.q.rnd;
        for (g, st) in self.groups.iter_mut() {
            if group.is_some_and(|x| x != *g) || !st.present() {
                continue;
            }
            let gsquery = if st.timer.is_some() {
                st.asked.is_some() && mark
            } else {
                mark
            };
            if !gsquery {
                st.asked = None;
            }
            if !gsquery || st.mark_sources(&q.sources) {
                st.queried(now, max, rnd);
            }
        }
        self.groups.retain(|_, st| !st.idle());
    }

    /// Another host's old report of `group`: ours is no longer needed
    /// (igmp_heard_report, igmp6_event_report).
    pub(crate) fn heard_report(&mut self, group: A) {
        self.due_cache.clear();
        if let Some(st) = self.groups.get_mut(&group) {
            st.timer = None;
            st.unsolicit = 0;
            st.reporter = false;
        }
    }

    /// The group's presence changed in an old version `v`: a join's
    /// reports, a leave's message (igmp_group_added/dropped in v1/v2
    /// mode, igmp6_join_group / igmp6_leave_group in MLDv1 mode).
    pub(crate) fn old_change(&mut self, group: A, joined: bool, v: u8, p: &IgmpParams) {
        self.due_cache.clear();
        let rnd = &mut self.q.rnd;
        let Some(st) = self.groups.get_mut(&group) else {
            return;
        };
        if joined {
            if p.newest == 2 {
                // MLDv1: at once, and once more within the interval.
                self.q.old.push((OldMsg::Report(v), group));
                self.q.old_at = Some(p.now);
                st.reporter = true;
                st.unsolicit = 1;
                st.timer = Some(p.now + rnd.below(p.old_interval));
            } else {
                st.unsolicit = p.qrv;
                st.timer = Some(p.now + rnd.below(INITIAL_REPORT_DELAY));
            }
            return;
        }
        let reporter = st.reporter;
        st.timer = None;
        st.asked = None;
        st.reporter = false;
        st.unsolicit = 0;
        // IGMPv1 has no leave.
        if reporter && !(p.newest == 3 && v == 1) {
            self.q.old.push((OldMsg::Leave, group));
            self.q.old_at = Some(p.now);
        }
    }

    /// When the next report, answer or old message is due: kept in
    /// `due_cache` between changes, as `Stack::poll_timeout` asks on
    /// every turn of the stack.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let v = self.due_cache.get(|| self.walk_due());
        debug_assert_eq!(v, self.walk_due(), "IgmpReports::due_cache missed a change");
        v
    }

    /// The earliest of the device's and the groups' timers: a plain loop,
    /// not an iterator chain over the groups (4-5 % of a shimmed server's
    /// instructions per accepted connection before the cache, callgrind).
    fn walk_due(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                if best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
        };
        take(self.next);
        take(self.q.gq);
        take(self.q.old_at);
        for st in self.groups.values() {
            take(st.timer);
        }
        best
    }

    /// Everything due at `p.now`: state-change records (re-sent after a
    /// wait below `p.interval`), the general query's answer, each queried
    /// group's answer in the current version.
    pub(crate) fn due(&mut self, p: &IgmpParams) -> Fired<A> {
        self.due_cache.clear();
        let now = p.now;
        let delay = self.q.rnd.below(p.interval);
        let mut out = Fired {
            batches: Vec::new(),
            old: std::mem::take(&mut self.q.old),
        };
        self.q.old_at = None;
        let changes = self.fire(now, delay);
        if !changes.is_empty() {
            out.batches.push(changes);
        }
        if self.q.gq.is_some_and(|t| t <= now) {
            self.q.gq = None;
            let all: Vec<_> = self
                .groups
                .iter()
                .filter(|(_, st)| st.present())
                .map(|(g, st)| st.current(*g))
                .collect();
            if !all.is_empty() {
                out.batches.push(all);
            }
        }
        let v = self.version(p);
        let interval = if v < p.newest {
            p.old_interval
        } else {
            p.interval
        };
        for (g, st) in self.groups.iter_mut() {
            if st.timer.is_none_or(|t| t > now) {
                continue;
            }
            st.timer = None;
            if st.unsolicit > 0 {
                st.unsolicit -= 1;
                if st.unsolicit > 0 {
                    st.timer = Some(now + self.q.rnd.below(interval));
                }
            }
            st.reporter = true;
            if v < p.newest {
                out.old.push((OldMsg::Report(v), *g));
            } else {
                out.batches.push(vec![st.current(*g)]);
                st.asked = None;
            }
        }
        self.groups.retain(|_, st| !st.idle());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use RecordType::*;

    const G1: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
    const G2: Ipv4Addr = Ipv4Addr::new(239, 2, 2, 2);
    const S1: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
    const S2: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 9);

    fn p(ms: u64) -> IgmpParams {
        IgmpParams {
            now: Instant::from_micros(ms * 1000),
            ..IgmpParams::test()
        }
    }

    fn q(
        version: u8,
        max_ms: u64,
        group: Option<Ipv4Addr>,
        sources: &[Ipv4Addr],
    ) -> Query<Ipv4Addr> {
        Query {
            version,
            max_resp: Duration::from_millis(max_ms),
            group,
            sources: sources.to_vec(),
            qrv: 0,
        }
    }

    /// Two groups joined and their state-change reports sent: G1 EXCLUDE
    /// {S2}, G2 INCLUDE {S1}.
    fn joined() -> IgmpReports<Ipv4Addr> {
        let mut r = IgmpReports::<Ipv4Addr>::default();
        r.set_filter(G1, true, [S2].into(), &p(0));
        r.set_filter(G2, false, [S1].into(), &p(0));
        run(&mut r);
        r
    }

    /// Run until nothing is due: (ms, what fired).
    fn run(r: &mut IgmpReports<Ipv4Addr>) -> Vec<(u64, Fired<Ipv4Addr>)> {
        let mut out = Vec::new();
        while let Some(t) = r.next_due() {
            let ms = (t - Instant::from_micros(0)).as_millis() as u64;
            let at = IgmpParams {
                now: t,
                ..IgmpParams::test()
            };
            out.push((ms, r.due(&at)));
        }
        out
    }

    fn rec(kind: RecordType, group: Ipv4Addr, sources: &[Ipv4Addr]) -> GroupRecord<Ipv4Addr> {
        GroupRecord {
            kind,
            group,
            sources: sources.to_vec(),
        }
    }

    #[test]
    fn a_general_query_is_answered_once_with_every_group_within_its_time() {
        let mut r = joined();
        r.heard_query(&q(3, 500, None, &[]), &p(10_000));
        let got = run(&mut r);
        assert_eq!(got.len(), 1);
        let (at, f) = &got[0];
        assert!((10_000..10_500).contains(at), "within Max Resp Time: {at}");
        assert_eq!(
            f.batches,
            vec![vec![
                rec(ModeIsExclude, G1, &[S2]),
                rec(ModeIsInclude, G2, &[S1])
            ]]
        );
        // A second query before the answer keeps the sooner time.
        r.heard_query(&q(3, 100, None, &[]), &p(20_000));
        let t = r.next_due().unwrap();
        r.heard_query(&q(3, 10_000, None, &[]), &p(20_001));
        assert_eq!(r.next_due(), Some(t));
    }

    #[test]
    fn group_and_source_queries_ask_about_what_the_group_has() {
        let mut r = joined();
        // Group-specific: the whole state of that group only.
        r.heard_query(&q(3, 100, Some(G2), &[]), &p(10_000));
        let got = run(&mut r);
        assert_eq!(got[0].1.batches, vec![vec![rec(ModeIsInclude, G2, &[S1])]]);
        // INCLUDE {S1} asked about S1 and S2: IS_IN {S1}; about S2 only:
        // no answer.
        r.heard_query(&q(3, 100, Some(G2), &[S1, S2]), &p(11_000));
        let got = run(&mut r);
        assert_eq!(got[0].1.batches, vec![vec![rec(ModeIsInclude, G2, &[S1])]]);
        r.heard_query(&q(3, 100, Some(G2), &[S2]), &p(12_000));
        assert_eq!(r.next_due(), None);
        // EXCLUDE {S2}: asked about S2 only, no answer; about S1 and S2,
        // the whole state.
        r.heard_query(&q(3, 100, Some(G1), &[S2]), &p(13_000));
        assert_eq!(r.next_due(), None);
        r.heard_query(&q(3, 100, Some(G1), &[S1, S2]), &p(14_000));
        let got = run(&mut r);
        assert_eq!(got[0].1.batches, vec![vec![rec(ModeIsExclude, G1, &[S2])]]);
        // A query of a group not joined, or with sources and no group.
        r.heard_query(
            &q(3, 100, Some(Ipv4Addr::new(239, 9, 9, 9)), &[]),
            &p(15_000),
        );
        r.heard_query(&q(3, 100, None, &[S1]), &p(15_000));
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn a_v2_querier_makes_reports_and_leaves_v2_until_it_is_gone() {
        let mut r = joined();
        r.heard_query(&q(2, 1000, None, &[]), &p(10_000));
        assert_eq!(r.version(&p(10_000)), 2);
        let got = run(&mut r);
        let mut old: Vec<_> = got.iter().flat_map(|(_, f)| f.old.clone()).collect();
        old.sort();
        assert_eq!(old, vec![(OldMsg::Report(2), G1), (OldMsg::Report(2), G2)]);
        assert!(got.iter().all(|(t, f)| f.batches.is_empty() && *t < 11_000));
        // A join: v2 reports, igmp_qrv of them, the first within 200 ms;
        // no IGMPv3 record.
        let g3 = Ipv4Addr::new(239, 3, 3, 3);
        r.set_filter(g3, true, BTreeSet::new(), &p(20_000));
        let got = run(&mut r);
        assert_eq!(got.len(), 2);
        assert!(got[0].0 < 20_200);
        assert!(
            got[1].0 < got[0].0 + 10_000,
            "igmpv2_unsolicited_report_interval"
        );
        assert!(got
            .iter()
            .all(|(_, f)| f.old == vec![(OldMsg::Report(2), g3)]));
        // We reported it last: its leave is a v2 leave, at once.
        r.set_filter(g3, false, BTreeSet::new(), &p(40_000));
        assert_eq!(r.next_due(), Some(Instant::from_micros(40_000_000)));
        assert_eq!(run(&mut r)[0].1.old, vec![(OldMsg::Leave, g3)]);
        // Another host reported G1 since: no leave from us.
        r.heard_report(G1);
        r.set_filter(G1, false, BTreeSet::new(), &p(41_000));
        assert_eq!(r.next_due(), None);
        // 260 s after the query, IGMPv3 again.
        assert_eq!(r.version(&p(269_999)), 2);
        assert_eq!(r.version(&p(270_001)), 3);
        r.set_filter(G2, false, BTreeSet::new(), &p(270_001));
        let got = run(&mut r);
        assert_eq!(
            got[0].1.batches,
            vec![vec![rec(BlockOldSources, G2, &[S1])]]
        );
    }

    #[test]
    fn a_v1_query_answers_every_group_within_10_s_and_v1_has_no_leave() {
        let mut r = joined();
        r.heard_query(&q(1, 10_000, None, &[]), &p(0));
        let got = run(&mut r);
        assert!(got.iter().all(|(t, _)| *t < 10_000));
        let n: usize = got.iter().map(|(_, f)| f.old.len()).sum();
        assert_eq!(n, 2);
        assert!(got
            .iter()
            .all(|(_, f)| f.old.iter().all(|m| m.0 == OldMsg::Report(1))));
        r.set_filter(G1, false, BTreeSet::new(), &p(20_000));
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn force_igmp_version_pins_it() {
        let r = joined();
        let forced = IgmpParams { force: 2, ..p(0) };
        assert_eq!(r.version(&forced), 2);
        let v3 = IgmpParams { force: 3, ..p(0) };
        assert_eq!(r.version(&v3), 3);
    }

    #[test]
    fn a_querier_s_robustness_counts_for_later_changes() {
        let mut r = joined();
        let mut three = q(3, 100, None, &[]);
        three.qrv = 3;
        r.heard_query(&three, &p(10_000));
        run(&mut r);
        r.set_filter(G1, false, BTreeSet::new(), &p(20_000));
        assert_eq!(run(&mut r).len(), 3, "sent 3 times");
    }
}
