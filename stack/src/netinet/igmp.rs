//! IGMPv3 state-change reports for the device (RFC 3376 section 5.1, as
//! Linux's igmp.c sends them: igmp_ifc_event, sf_setstate, igmpv3_send_cr).
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
//! Queries are not answered (a report that arrives is dropped).

use std::time::Duration;

use crate::netinet::igmp_state::IgmpParams;
use crate::netinet::inet::InetCx;
use crate::offload::TxMeta;
use crate::time::Instant;
use crate::wire::igmp::emit_reports;
use crate::wire::mld::emit_mld_reports;
use std::net::Ipv6Addr;

impl IgmpParams {
    pub(crate) fn of(cx: &impl InetCx) -> IgmpParams {
        let sys = cx.sysctl();
        IgmpParams {
            dev: cx.config().ifindex,
            qrv: sys.igmp_qrv.max(1),
            mld_qrv: sys.mld_qrv.max(1),
            llm_reports: sys.igmp_llm_reports,
            now: cx.last_now(),
        }
    }
}

/// When the device's next report (IGMP or MLD) is due.
pub(crate) fn igmp_next_timeout(cx: &impl InetCx) -> Option<Instant> {
    let t = cx.inet().pcbinfo.read();
    match (t.mc.igmp.next(), t.mc.mld.next()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Send the report due at `now`, if one is (igmp_ifc_timer_expire).
pub(crate) fn igmp_timeout(cx: &impl InetCx, now: Instant) {
    if igmp_next_timeout(cx).is_none_or(|t| t > now) {
        return;
    }
    let sys = cx.sysctl();
    let delay = |interval: Duration| {
        let r = cx.inet().rng.lock().next_u64();
        Duration::from_micros(r % (interval.as_micros().max(1) as u64))
    };
    let (d4, d6) = (
        delay(sys.igmpv3_unsolicited_report_interval),
        delay(sys.mldv2_unsolicited_report_interval),
    );
    let (records, records6) = {
        let mut t = cx.inet().pcbinfo.write();
        (t.mc.igmp.fire(now, d4), t.mc.mld.fire(now, d6))
    };
    let mtu = cx.config().mtu;
    // MLD goes from :: (the device has no link-local address: Linux's
    // mld_newpack then uses the unspecified one).
    let packets = emit_reports(cx.config().addr, &records, mtu)
        .into_iter()
        .chain(emit_mld_reports(Ipv6Addr::UNSPECIFIED, &records6, mtu));
    for p in packets {
        cx.transmit_on_device(p, TxMeta::NONE);
    }
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
