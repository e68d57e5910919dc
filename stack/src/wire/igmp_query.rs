//! IGMP queries as a host reads them (RFC 3376 4.1, RFC 2236, RFC 1112;
//! Linux's igmp_heard_query tells the version by length and code), the
//! query form both IGMP and MLD (`wire::mld_query`) parse into, and the
//! IGMPv1/v2 reports and leave a host sends while an older querier is on
//! the link (igmp_send_report: the IPv4 packet of `igmp::ra_packet`).

use std::net::Ipv4Addr;
use std::time::Duration;

use super::checksum;
use super::igmp::ra_packet;
use super::{get_u16, put_u16, Result, WireError};

/// IGMP message types.
pub const IGMP_MEMBERSHIP_QUERY: u8 = 0x11;
pub const IGMP_V1_REPORT: u8 = 0x12;
pub const IGMP_V2_REPORT: u8 = 0x16;
pub const IGMP_V2_LEAVE: u8 = 0x17;
/// All routers: where an IGMPv2 leave goes.
pub const IGMP_ALL_ROUTER: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// An IGMPv1 query carries no response time: Linux waits up to 10 s
/// (IGMP_QUERY_RESPONSE_INTERVAL).
const V1_RESPONSE: Duration = Duration::from_secs(10);

/// A membership query of IGMP or MLD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query<A> {
    /// IGMP 1, 2 or 3; MLD 1 or 2.
    pub version: u8,
    /// The longest the answer may wait (at least 1 ms, as Linux's 1 jiffy).
    pub max_resp: Duration,
    /// The group asked about; None: a general query.
    pub group: Option<A>,
    /// A group-and-source query's sources.
    pub sources: Vec<A>,
    /// The querier's robustness (v3/MLDv2; 0: not given).
    pub qrv: u8,
}

/// An IGMPv3 or MLDv2 Max Resp Code: the value below `float_from`, else
/// a mantissa of `mant_bits` and a 3-bit exponent (RFC 3376 4.1.1, RFC
/// 3810 5.1.3).
pub(crate) fn mrc(code: u32, float_from: u32, mant_bits: u32) -> u32 {
    if code < float_from {
        return code;
    }
    let mant = code & ((1 << mant_bits) - 1);
    let exp = (code >> mant_bits) & 7;
    (mant | (1 << mant_bits)) << (exp + 3)
}

/// At least a millisecond (Linux's `if (!max_delay) max_delay = 1`).
pub(crate) fn at_least_1ms(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

/// An IGMP query (`msg`: the IGMP message after the IP header). 8 bytes:
/// v1 when the code is 0 (always general), else v2 (code in tenths of a
/// second); 12 or more: v3; 9 to 11: not a query Linux reads.
pub fn parse_igmp_query(msg: &[u8]) -> Result<Query<Ipv4Addr>> {
    if msg.len() < 8 {
        return Err(WireError::Truncated);
    }
    if msg[0] != IGMP_MEMBERSHIP_QUERY {
        return Err(WireError::Unsupported);
    }
    if checksum::fold(checksum::ones_sum(msg, 0)) != 0 {
        return Err(WireError::BadChecksum);
    }
    let group = Ipv4Addr::new(msg[4], msg[5], msg[6], msg[7]);
    let group = (!group.is_unspecified()).then_some(group);
    let code = u32::from(msg[1]);
    if msg.len() == 8 {
        return Ok(if code == 0 {
            Query {
                version: 1,
                max_resp: V1_RESPONSE,
                group: None,
                sources: Vec::new(),
                qrv: 0,
            }
        } else {
            Query {
                version: 2,
                max_resp: Duration::from_millis(u64::from(code) * 100),
                group,
                sources: Vec::new(),
                qrv: 0,
            }
        });
    }
    if msg.len() < 12 {
        return Err(WireError::Malformed);
    }
    let n = usize::from(get_u16(msg, 10));
    if msg.len() < 12 + 4 * n {
        return Err(WireError::Truncated);
    }
    Ok(Query {
        version: 3,
        max_resp: at_least_1ms(Duration::from_millis(u64::from(mrc(code, 128, 4)) * 100)),
        group,
        sources: msg[12..12 + 4 * n]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect(),
        qrv: msg[8] & 7,
    })
}

/// An IGMPv1/v2 message a host sends: a report (`IGMP_V1_REPORT`,
/// `IGMP_V2_REPORT`) to the group, a leave to all routers.
pub fn emit_igmp_old(src: Ipv4Addr, kind: u8, group: Ipv4Addr) -> Vec<u8> {
    let mut m = [0u8; 8];
    m[0] = kind;
    m[4..8].copy_from_slice(&group.octets());
    let sum = checksum::fold(checksum::ones_sum(&m, 0));
    put_u16(&mut m, 2, sum);
    let dst = if kind == IGMP_V2_LEAVE {
        IGMP_ALL_ROUTER
    } else {
        group
    };
    ra_packet(src, dst, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(len: usize, code: u8, group: [u8; 4], qrv: u8, sources: &[[u8; 4]]) -> Vec<u8> {
        let mut m = vec![0u8; if len == 8 { 8 } else { 12 + 4 * sources.len() }];
        m[0] = IGMP_MEMBERSHIP_QUERY;
        m[1] = code;
        m[4..8].copy_from_slice(&group);
        if len > 8 {
            m[8] = qrv;
            put_u16(&mut m, 10, sources.len() as u16);
            for (i, s) in sources.iter().enumerate() {
                m[12 + 4 * i..16 + 4 * i].copy_from_slice(s);
            }
        }
        let sum = checksum::fold(checksum::ones_sum(&m, 0));
        put_u16(&mut m, 2, sum);
        m
    }

    #[test]
    fn the_version_comes_from_the_length_and_the_code() {
        let q = parse_igmp_query(&query(8, 0, [224, 1, 1, 1], 0, &[])).unwrap();
        assert_eq!((q.version, q.max_resp, q.group), (1, V1_RESPONSE, None));
        let q = parse_igmp_query(&query(8, 25, [224, 1, 1, 1], 0, &[])).unwrap();
        assert_eq!(
            (q.version, q.max_resp, q.group),
            (
                2,
                Duration::from_millis(2500),
                Some(Ipv4Addr::new(224, 1, 1, 1))
            )
        );
        let q = parse_igmp_query(&query(12, 0x81, [0; 4], 3, &[[10, 0, 0, 1]])).unwrap();
        // 0x81: mantissa 1, exponent 0: (1 | 0x10) << 3 = 136 tenths.
        assert_eq!(
            (q.version, q.max_resp, q.group, q.qrv),
            (3, Duration::from_millis(13600), None, 3)
        );
        assert_eq!(q.sources, vec![Ipv4Addr::new(10, 0, 0, 1)]);
        let q = parse_igmp_query(&query(12, 0, [0; 4], 0, &[])).unwrap();
        assert_eq!(q.max_resp, Duration::from_millis(1), "never 0");
        let mut bad = query(12, 10, [0; 4], 2, &[]);
        bad[5] ^= 1;
        assert_eq!(parse_igmp_query(&bad), Err(WireError::BadChecksum));
        let mut short = query(12, 10, [0; 4], 2, &[]);
        short.truncate(10);
        assert_eq!(parse_igmp_query(&short), Err(WireError::Malformed));
    }

    #[test]
    fn old_reports_go_to_the_group_and_leaves_to_all_routers() {
        let src = Ipv4Addr::new(10, 7, 0, 2);
        let g = Ipv4Addr::new(239, 1, 2, 3);
        let p = emit_igmp_old(src, IGMP_V2_REPORT, g);
        assert_eq!(p.len(), 24 + 8);
        assert_eq!(
            (p[8], &p[16..20], &p[20..24]),
            (1, &g.octets()[..], &[0x94, 4, 0, 0][..])
        );
        assert_eq!((p[24], &p[28..32]), (IGMP_V2_REPORT, &g.octets()[..]));
        assert_eq!(checksum::fold(checksum::ones_sum(&p[24..], 0)), 0);
        let l = emit_igmp_old(src, IGMP_V2_LEAVE, g);
        assert_eq!((&l[16..20], l[24]), (&[224, 0, 0, 2][..], IGMP_V2_LEAVE));
    }
}
