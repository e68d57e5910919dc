//! MLD queries as a host reads them (RFC 3810 5.1, RFC 2710; Linux's
//! igmp6_event_query: 24 bytes is MLDv1, 28 or more MLDv2), and the MLDv1
//! report and done a host sends while an MLDv1 querier is on the link
//! (igmp6_send: the IPv6 packet of `mld::ra_packet6`).

use std::net::Ipv6Addr;
use std::time::Duration;

use super::checksum;
use super::igmp_query::{at_least_1ms, mrc, Query};
use super::mld::ra_packet6;
use super::{get_u16, put_u16, Result, WireError, IP_PROTO_ICMPV6};

/// ICMPv6 types of MLD.
pub const MLD_QUERY: u8 = 130;
pub const MLD_V1_REPORT: u8 = 131;
pub const MLD_V1_DONE: u8 = 132;
/// All routers (link-local): where an MLDv1 done goes.
pub const MLD_ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

fn addr(msg: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&msg[at..at + 16]);
    Ipv6Addr::from(a)
}

/// An MLD query from `src` to `dst` (`msg`: the ICMPv6 message).
pub fn parse_mld_query(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> Result<Query<Ipv6Addr>> {
    if msg.len() < 24 {
        return Err(WireError::Truncated);
    }
    if msg[0] != MLD_QUERY {
        return Err(WireError::Unsupported);
    }
    let sum = checksum::pseudo_header_sum6(src, dst, IP_PROTO_ICMPV6, msg.len() as u32);
    if checksum::fold(checksum::ones_sum(msg, sum)) != 0 {
        return Err(WireError::BadChecksum);
    }
    let group = addr(msg, 8);
    let group = (!group.is_unspecified()).then_some(group);
    let code = u32::from(get_u16(msg, 4));
    if msg.len() == 24 {
        return Ok(Query {
            version: 1,
            max_resp: at_least_1ms(Duration::from_millis(u64::from(code))),
            group,
            sources: Vec::new(),
            qrv: 0,
        });
    }
    if msg.len() < 28 {
        return Err(WireError::Malformed);
    }
    let n = usize::from(get_u16(msg, 26));
    if msg.len() < 28 + 16 * n {
        return Err(WireError::Truncated);
    }
    Ok(Query {
        version: 2,
        max_resp: at_least_1ms(Duration::from_millis(u64::from(mrc(code, 32768, 12)))),
        group,
        sources: (0..n).map(|i| addr(msg, 28 + 16 * i)).collect(),
        qrv: msg[24] & 7,
    })
}

/// An MLDv1 message a host sends: a report to the group, a done to all
/// routers.
pub fn emit_mld_v1(src: Ipv6Addr, kind: u8, group: Ipv6Addr) -> Vec<u8> {
    let dst = if kind == MLD_V1_DONE {
        MLD_ALL_ROUTERS
    } else {
        group
    };
    let mut m = [0u8; 24];
    m[0] = kind;
    m[8..24].copy_from_slice(&group.octets());
    let sum = checksum::pseudo_header_sum6(src, dst, IP_PROTO_ICMPV6, 24);
    let sum = checksum::fold(checksum::ones_sum(&m, sum));
    put_u16(&mut m, 2, sum);
    ra_packet6(src, dst, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "fe80::1";

    fn query(v2: bool, code: u16, group: &str, sources: &[&str]) -> Vec<u8> {
        let mut m = vec![0u8; if v2 { 28 + 16 * sources.len() } else { 24 }];
        m[0] = MLD_QUERY;
        put_u16(&mut m, 4, code);
        m[8..24].copy_from_slice(&group.parse::<Ipv6Addr>().unwrap().octets());
        if v2 {
            m[24] = 2;
            put_u16(&mut m, 26, sources.len() as u16);
            for (i, s) in sources.iter().enumerate() {
                let a = s.parse::<Ipv6Addr>().unwrap().octets();
                m[28 + 16 * i..44 + 16 * i].copy_from_slice(&a);
            }
        }
        let (src, dst) = (Q.parse().unwrap(), "ff02::1".parse().unwrap());
        let sum = checksum::pseudo_header_sum6(src, dst, IP_PROTO_ICMPV6, m.len() as u32);
        let sum = checksum::fold(checksum::ones_sum(&m, sum));
        put_u16(&mut m, 2, sum);
        m
    }

    #[test]
    fn mldv1_and_mldv2_queries_by_length() {
        let (src, dst) = (Q.parse().unwrap(), "ff02::1".parse().unwrap());
        let q = parse_mld_query(src, dst, &query(false, 1000, "ff05::1:3", &[])).unwrap();
        assert_eq!(
            (q.version, q.max_resp, q.group),
            (
                1,
                Duration::from_secs(1),
                Some("ff05::1:3".parse().unwrap())
            )
        );
        let m = query(true, 0x8001, "::", &["fd00::9"]);
        let q = parse_mld_query(src, dst, &m).unwrap();
        // 0x8001: mantissa 1, exponent 0: (1 | 0x1000) << 3 ms.
        assert_eq!(
            (q.version, q.max_resp, q.group, q.qrv),
            (2, Duration::from_millis(0x1001 << 3), None, 2)
        );
        assert_eq!(q.sources, vec!["fd00::9".parse::<Ipv6Addr>().unwrap()]);
        let other = "fe80::2".parse().unwrap();
        assert_eq!(parse_mld_query(other, dst, &m), Err(WireError::BadChecksum));
        assert!(parse_mld_query(src, dst, &m[..26]).is_err(), "25..27 bytes");
    }

    #[test]
    fn a_v1_report_goes_to_the_group_and_done_to_all_routers() {
        let g: Ipv6Addr = "ff05::1:3".parse().unwrap();
        let p = emit_mld_v1(Ipv6Addr::UNSPECIFIED, MLD_V1_REPORT, g);
        let (ip, _) = crate::wire::Ipv6Repr::parse(&p).unwrap();
        assert_eq!((ip.hop_limit, ip.dst_addr, p[48]), (1, g, MLD_V1_REPORT));
        let d = emit_mld_v1(Ipv6Addr::UNSPECIFIED, MLD_V1_DONE, g);
        let (ip, _) = crate::wire::Ipv6Repr::parse(&d).unwrap();
        assert_eq!(
            (ip.dst_addr, &d[56..72]),
            (MLD_ALL_ROUTERS, &g.octets()[..])
        );
    }
}
