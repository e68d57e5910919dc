//! The device's IGMP and MLD traffic. IGMPv3 state-change reports (RFC
//! 3376 section 5.1, as Linux's igmp.c sends them: igmp_ifc_event,
//! sf_setstate, igmpv3_send_cr):
//!
//! The device's filter for a group is the union of its sockets'
//! memberships (`McTable::iface_filter`). When a join, a leave, a source
//! option or a socket's close changes it, the difference becomes pending
//! records (kept in `igmp_state`): a mode change a TO_EX/TO_IN record with the new source list,
//! a source change ALLOW/BLOCK records of the sources that moved. Each is
//! sent `igmp_qrv` times (robustness): the first report at once, the next
//! after a random wait below igmpv3_unsolicited_report_interval. Changes
//! that come before a report is sent are merged into it, as on Linux.
//! Groups on lo, and 224.0.0.1, are never reported; 224.0.0.0/24 only
//! with igmp_link_local_mcast_reports. IPv6 groups are reported the same
//! way by MLDv2 (any-source memberships only: TO_EX {} on the first
//! join, TO_IN {} on the last leave; not ff02::1 nor node-local scope),
//! with MLD's own sysctls (mld_qrv, mldv2_unsolicited_report_interval).
//!
//! What arrives on the device: queries are answered (`igmp_query`: IGMP
//! v1/v2/v3, MLDv1/v2, with the older versions' compatibility), another
//! host's IGMPv1/v2 or MLDv1 report suppresses ours; the rest (v3
//! reports, leaves) is counted and dropped.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::netinet::igmp_query::Fired;
use crate::netinet::igmp_state::{IgmpParams, OldMsg};
use crate::netinet::inet::InetCx;
use crate::offload::TxMeta;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::igmp::emit_reports;
use crate::wire::igmp_query::{
    emit_igmp_old, parse_igmp_query, IGMP_MEMBERSHIP_QUERY, IGMP_V1_REPORT, IGMP_V2_LEAVE,
    IGMP_V2_REPORT,
};
use crate::wire::mld::emit_mld_reports;
use crate::wire::mld_query::{emit_mld_v1, parse_mld_query, MLD_QUERY, MLD_V1_DONE, MLD_V1_REPORT};
use crate::wire::{checksum, IP_PROTO_ICMPV6};

impl IgmpParams {
    pub(crate) fn of(cx: &impl InetCx) -> IgmpParams {
        let sys = cx.sysctl();
        IgmpParams {
            dev: cx.config().ifindex,
            qrv: sys.igmp_qrv.max(1),
            mld_qrv: sys.mld_qrv.max(1),
            llm_reports: sys.igmp_llm_reports,
            now: cx.last_now(),
            newest: 3,
            force: sys.force_igmp_version,
            mld_force: sys.force_mld_version,
            interval: sys.igmpv3_unsolicited_report_interval,
            old_interval: sys.igmpv2_unsolicited_report_interval,
            mld_interval: sys.mldv2_unsolicited_report_interval,
            mld_old_interval: sys.mldv1_unsolicited_report_interval,
        }
    }
}

/// When the device's next report (IGMP or MLD) is due.
pub(crate) fn igmp_next_timeout(cx: &impl InetCx) -> Option<Instant> {
    let t = cx.inet().pcbinfo.read();
    match (t.mc.igmp.next_due(), t.mc.mld.next_due()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Send the reports due at `now`, if any are (igmp_ifc_timer_expire,
/// igmp_gq_timer_expire, igmp_timer_expire and MLD's).
pub(crate) fn igmp_timeout(cx: &impl InetCx, now: Instant) {
    if igmp_next_timeout(cx).is_none_or(|t| t > now) {
        return;
    }
    let p = IgmpParams {
        now,
        ..IgmpParams::of(cx)
    };
    let seed = cx.inet().rng.lock().next_u64();
    let (f4, f6) = {
        let mut t = cx.inet().pcbinfo.write();
        t.mc.igmp.q.rnd.reseed(seed);
        t.mc.mld.q.rnd.reseed(seed.rotate_left(32));
        (t.mc.igmp.due(&p), t.mc.mld.due(&p.for_mld()))
    };
    send(cx, f4, f6);
}

/// Put what fired on the device: IGMP from the device's address, MLD
/// from :: (the device has no link-local address: Linux's mld_newpack
/// and igmp6_send then use the unspecified one).
fn send(cx: &impl InetCx, f4: Fired<Ipv4Addr>, f6: Fired<Ipv6Addr>) {
    let (src, mtu) = (cx.config().addr, cx.config().mtu);
    let src6 = Ipv6Addr::UNSPECIFIED;
    let mut packets = Vec::new();
    for b in &f4.batches {
        packets.extend(emit_reports(src, b, mtu));
    }
    for (m, g) in f4.old {
        let kind = match m {
            OldMsg::Report(1) => IGMP_V1_REPORT,
            OldMsg::Report(_) => IGMP_V2_REPORT,
            OldMsg::Leave => IGMP_V2_LEAVE,
        };
        packets.push(emit_igmp_old(src, kind, g));
    }
    for b in &f6.batches {
        packets.extend(emit_mld_reports(src6, b, mtu));
    }
    for (m, g) in f6.old {
        let kind = match m {
            OldMsg::Report(_) => MLD_V1_REPORT,
            OldMsg::Leave => MLD_V1_DONE,
        };
        packets.push(emit_mld_v1(src6, kind, g));
    }
    for p in packets {
        cx.transmit_on_device(p, TxMeta::NONE);
    }
}

/// An IGMP message `msg` from `src` that arrived on `ifindex` (igmp_rcv):
/// a query, or another host's IGMPv1/v2 report. Only the device's count.
pub(crate) fn igmp_input(cx: &impl InetCx, now: Instant, src: Ipv4Addr, msg: &[u8], ifindex: u32) {
    let stats = cx.stats();
    if ifindex != cx.config().ifindex || src == cx.config().addr {
        Stats::bump(&stats.drop_not_for_us);
        return;
    }
    let p = IgmpParams {
        now,
        ..IgmpParams::of(cx)
    };
    match msg.first().copied() {
        Some(IGMP_MEMBERSHIP_QUERY) => match parse_igmp_query(msg) {
            Ok(q) => {
                let seed = cx.inet().rng.lock().next_u64();
                let mut t = cx.inet().pcbinfo.write();
                t.mc.igmp.q.rnd.reseed(seed);
                t.mc.igmp.heard_query(&q, &p);
            }
            Err(crate::wire::WireError::BadChecksum) => Stats::bump(&stats.drop_checksum),
            Err(_) => Stats::bump(&stats.drop_malformed),
        },
        Some(IGMP_V1_REPORT | IGMP_V2_REPORT) if msg.len() >= 8 => {
            if checksum::fold(checksum::ones_sum(msg, 0)) != 0 {
                Stats::bump(&stats.drop_checksum);
                return;
            }
            let group = Ipv4Addr::new(msg[4], msg[5], msg[6], msg[7]);
            cx.inet().pcbinfo.write().mc.igmp.heard_report(group);
        }
        _ => Stats::bump(&stats.drop_not_for_us),
    }
}

/// An MLD message `msg` from `src` to `dst` that arrived on `ifindex`
/// with `hop_limit`, `router_alert` telling whether its hop-by-hop header
/// had MLD's Router Alert (igmp6_event_query, igmp6_event_report): a
/// query, or another host's MLDv1 report.
pub(crate) fn mld_input(
    cx: &impl InetCx,
    now: Instant,
    (src, dst): (Ipv6Addr, Ipv6Addr),
    hop_limit: u8,
    router_alert: bool,
    msg: &[u8],
    ifindex: u32,
) {
    let stats = cx.stats();
    if ifindex != cx.config().ifindex {
        Stats::bump(&stats.drop_ndisc);
        return;
    }
    let p = IgmpParams {
        now,
        ..IgmpParams::of(cx)
    }
    .for_mld();
    // RFC 3810 6.2, as Linux checks it: a query from a link-local
    // address, hop limit 1, with the MLD Router Alert.
    let link_local = src.segments()[0] & 0xffc0 == 0xfe80;
    match msg.first().copied() {
        Some(MLD_QUERY) if link_local && hop_limit == 1 && router_alert => {
            match parse_mld_query(src, dst, msg) {
                Ok(q) => {
                    let seed = cx.inet().rng.lock().next_u64();
                    let mut t = cx.inet().pcbinfo.write();
                    t.mc.mld.q.rnd.reseed(seed);
                    t.mc.mld.heard_query(&q, &p);
                }
                Err(crate::wire::WireError::BadChecksum) => Stats::bump(&stats.drop_checksum),
                Err(_) => Stats::bump(&stats.drop_malformed),
            }
        }
        Some(MLD_V1_REPORT) if msg.len() >= 24 => {
            let sum = checksum::pseudo_header_sum6(src, dst, IP_PROTO_ICMPV6, msg.len() as u32);
            if checksum::fold(checksum::ones_sum(msg, sum)) != 0 {
                Stats::bump(&stats.drop_checksum);
                return;
            }
            let mut g = [0u8; 16];
            g.copy_from_slice(&msg[8..24]);
            cx.inet()
                .pcbinfo
                .write()
                .mc
                .mld
                .heard_report(Ipv6Addr::from(g));
        }
        _ => Stats::bump(&stats.drop_ndisc),
    }
}

/// Does the hop-by-hop header at the start of `ext` (an IPv6 packet's
/// payload whose next header is 0) carry the Router Alert option with
/// value 0, MLD's (RFC 2711)?
pub(crate) fn has_mld_router_alert(ext: &[u8]) -> bool {
    let Some(len) = ext.get(1).map(|l| (usize::from(*l) + 1) * 8) else {
        return false;
    };
    let opts = ext.get(2..len).unwrap_or(&[]);
    let mut at = 0;
    while at < opts.len() {
        match opts[at] {
            0 => at += 1, // Pad1
            t => {
                let Some(&n) = opts.get(at + 1) else {
                    return false;
                };
                let n = usize::from(n);
                if t == 5 && n == 2 && opts.get(at + 2..at + 4) == Some(&[0, 0]) {
                    return true;
                }
                at += 2 + n;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::wire::igmp::RecordType::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    const G: Ipv4Addr = Ipv4Addr::new(224, 0, 2, 1);

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
}
