//! MLDv2 listener reports (RFC 3810 section 5.2): the multicast address
//! records a host sends to ff02::16, in the IPv6 packet Linux's
//! mld_newpack builds (hop limit 1, a hop-by-hop header with the Router
//! Alert option for MLD). The records are IGMPv3's with IPv6 addresses
//! (`igmp::GroupRecord`, cut to the MTU the same way).

use std::net::Ipv6Addr;

use super::checksum;
use super::igmp::{cut_records, GroupRecord, RecordType};
use super::{get_u16, put_u16, Result, WireError, IP_PROTO_ICMPV6};

/// ICMPv6 type of an MLDv2 listener report.
pub const MLD2_LISTENER_REPORT: u8 = 143;
/// All MLDv2-capable routers: where reports go.
pub const MLD2_ALL_MCR: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// IPv6 header, then the 8-byte hop-by-hop header.
const IP_HDR_LEN: usize = 40 + 8;
/// Report header: type, code, checksum, reserved, record count.
const REPORT_HDR_LEN: usize = 8;

/// The packets that carry `records` from `src` (:: when the interface has
/// no link-local address, as Linux), none longer than `mtu`.
pub fn emit_mld_reports(
    src: Ipv6Addr,
    records: &[GroupRecord<Ipv6Addr>],
    mtu: usize,
) -> Vec<Vec<u8>> {
    let room = mtu.max(1280) - IP_HDR_LEN - REPORT_HDR_LEN;
    cut_records(records, room, 16, |b, a: Ipv6Addr| {
        b.extend_from_slice(&a.octets())
    })
    .into_iter()
    .map(|(body, count)| packet(src, &body, count))
    .collect()
}

fn packet(src: Ipv6Addr, body: &[u8], count: u16) -> Vec<u8> {
    let mut m = vec![0u8; REPORT_HDR_LEN + body.len()];
    m[0] = MLD2_LISTENER_REPORT;
    put_u16(&mut m, 6, count);
    m[REPORT_HDR_LEN..].copy_from_slice(body);
    let sum = checksum::pseudo_header_sum6(src, MLD2_ALL_MCR, IP_PROTO_ICMPV6, m.len() as u32);
    let sum = checksum::fold(checksum::ones_sum(&m, sum));
    put_u16(&mut m, 2, sum);
    ra_packet6(src, MLD2_ALL_MCR, &m)
}

/// The IPv6 packet that carries the MLD message `msg` (its checksum
/// done) from `src` to `dst`: hop limit 1, the Router Alert hop-by-hop
/// header (igmp6_send, mld_newpack).
pub(crate) fn ra_packet6(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> Vec<u8> {
    let mlen = msg.len();
    let mut p = vec![0u8; IP_HDR_LEN + mlen];
    p[0] = 0x60;
    put_u16(&mut p, 4, (8 + mlen) as u16);
    p[6] = 0; // hop-by-hop options
    p[7] = 1; // hop limit
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    // Next header ICMPv6, length 0 (8 bytes): Router Alert (RFC 2711)
    // with value 0 (MLD), then a PadN of two.
    p[40..48].copy_from_slice(&[IP_PROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0]);
    p[IP_HDR_LEN..].copy_from_slice(msg);
    p
}

/// The records of an MLDv2 report (`msg`: the ICMPv6 message) sent from
/// `src` to ff02::16.
pub fn parse_mld_report(src: Ipv6Addr, msg: &[u8]) -> Result<Vec<GroupRecord<Ipv6Addr>>> {
    if msg.len() < REPORT_HDR_LEN {
        return Err(WireError::Truncated);
    }
    if msg[0] != MLD2_LISTENER_REPORT {
        return Err(WireError::Unsupported);
    }
    let sum = checksum::pseudo_header_sum6(src, MLD2_ALL_MCR, IP_PROTO_ICMPV6, msg.len() as u32);
    if checksum::fold(checksum::ones_sum(msg, sum)) != 0 {
        return Err(WireError::BadChecksum);
    }
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&msg[at..at + 16]);
        Ipv6Addr::from(a)
    };
    let mut at = REPORT_HDR_LEN;
    let mut out = Vec::new();
    for _ in 0..get_u16(msg, 6) {
        if msg.len() < at + 20 {
            return Err(WireError::Truncated);
        }
        let kind = match msg[at] {
            1 => RecordType::ModeIsInclude,
            2 => RecordType::ModeIsExclude,
            3 => RecordType::ChangeToInclude,
            4 => RecordType::ChangeToExclude,
            5 => RecordType::AllowNewSources,
            6 => RecordType::BlockOldSources,
            _ => return Err(WireError::Malformed),
        };
        let ns = usize::from(get_u16(msg, at + 2));
        let end = at + 20 + 16 * ns + 4 * usize::from(msg[at + 1]);
        if msg.len() < end {
            return Err(WireError::Truncated);
        }
        out.push(GroupRecord {
            kind,
            group: addr(at + 4),
            sources: (0..ns).map(|i| addr(at + 20 + 16 * i)).collect(),
        });
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_has_hop_limit_1_router_alert_and_its_records() {
        let g: Ipv6Addr = "ff05::1:3".parse().unwrap();
        let rs = vec![GroupRecord {
            kind: RecordType::ChangeToExclude,
            group: g,
            sources: vec![],
        }];
        let ps = emit_mld_reports(Ipv6Addr::UNSPECIFIED, &rs, 1500);
        assert_eq!(ps.len(), 1);
        let p = &ps[0];
        let (ip, _) = crate::wire::Ipv6Repr::parse(p).unwrap();
        assert_eq!(
            (ip.next_header, ip.hop_limit, ip.dst_addr),
            (0, 1, MLD2_ALL_MCR)
        );
        assert_eq!(&p[40..48], &[58, 0, 5, 2, 0, 0, 1, 0]);
        assert_eq!(parse_mld_report(Ipv6Addr::UNSPECIFIED, &p[48..]), Ok(rs));
        let mut bad = p[48..].to_vec();
        bad[12] ^= 1;
        assert_eq!(
            parse_mld_report(Ipv6Addr::UNSPECIFIED, &bad),
            Err(WireError::BadChecksum)
        );
    }
}
