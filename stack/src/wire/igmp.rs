//! IGMPv3 membership reports (RFC 3376 section 4.2): the group records a
//! host sends to 224.0.0.22, and the IPv4 packet that carries them as
//! Linux's igmpv3_newpack builds it (TTL 1, TOS 0xc0, DF, ident 0, the
//! Router Alert option). `emit_reports` cuts a record list into packets
//! that fit the MTU; `parse_report` reads one back (tests, and a report
//! that arrives is dropped after it).

use std::net::Ipv4Addr;

use super::checksum;
use super::{get_u16, put_u16, Result, WireError};

/// IANA protocol number of IGMP.
pub const IP_PROTO_IGMP: u8 = 2;
/// Message type of an IGMPv3 membership report.
pub const IGMPV3_HOST_MEMBERSHIP_REPORT: u8 = 0x22;
/// All IGMPv3-capable multicast routers: where reports go.
pub const IGMPV3_ALL_MCR: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);

/// A group record's type (RFC 3376 4.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    ModeIsInclude = 1,
    ModeIsExclude = 2,
    ChangeToInclude = 3,
    ChangeToExclude = 4,
    AllowNewSources = 5,
    BlockOldSources = 6,
}

impl RecordType {
    fn from_u8(v: u8) -> Option<RecordType> {
        Some(match v {
            1 => RecordType::ModeIsInclude,
            2 => RecordType::ModeIsExclude,
            3 => RecordType::ChangeToInclude,
            4 => RecordType::ChangeToExclude,
            5 => RecordType::AllowNewSources,
            6 => RecordType::BlockOldSources,
            _ => return None,
        })
    }
}

/// One group record: type, group, sources (no auxiliary data); IPv4 for
/// IGMPv3, IPv6 for MLDv2 (`wire::mld`), whose record types are the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord<A = Ipv4Addr> {
    pub kind: RecordType,
    pub group: A,
    pub sources: Vec<A>,
}

/// IPv4 header with the 4-byte Router Alert option.
const IP_HDR_LEN: usize = 24;
/// Report header: type, reserved, checksum, reserved, record count.
const REPORT_HDR_LEN: usize = 8;

/// Build the packets that carry `records` from `src`, none longer than
/// `mtu` (`cut_records`).
pub fn emit_reports(src: Ipv4Addr, records: &[GroupRecord], mtu: usize) -> Vec<Vec<u8>> {
    let room = mtu.max(576) - IP_HDR_LEN - REPORT_HDR_LEN;
    cut_records(records, room, 4, |b, a: Ipv4Addr| {
        b.extend_from_slice(&a.octets())
    })
    .into_iter()
    .map(|(body, count)| packet(src, &body, count))
    .collect()
}

/// The records' bytes cut into report bodies of at most `room` bytes, with
/// each one's record count: records in order, a record whose sources do
/// not fit cut into several of the same type and group (as Linux's
/// add_grec). `alen` is an address's length, `put` appends one.
pub(crate) fn cut_records<A: Copy>(
    records: &[GroupRecord<A>],
    room: usize,
    alen: usize,
    put: impl Fn(&mut Vec<u8>, A),
) -> Vec<(Vec<u8>, u16)> {
    let rec_hdr = 4 + alen;
    let mut out = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let mut count: u16 = 0;
    let mut flush = |body: &mut Vec<u8>, count: &mut u16| {
        if *count > 0 {
            out.push((std::mem::take(body), *count));
        }
        body.clear();
        *count = 0;
    };
    for r in records {
        let mut rest: &[A] = &r.sources;
        loop {
            if room - body.len() < rec_hdr + alen * rest.len().min(1) {
                flush(&mut body, &mut count);
            }
            let fit = (room - body.len() - rec_hdr) / alen;
            let (now, later) = rest.split_at(rest.len().min(fit));
            body.extend_from_slice(&[r.kind as u8, 0]);
            body.extend_from_slice(&(now.len() as u16).to_be_bytes());
            put(&mut body, r.group);
            for s in now {
                put(&mut body, *s);
            }
            count += 1;
            if later.is_empty() {
                break;
            }
            rest = later;
            flush(&mut body, &mut count);
        }
    }
    flush(&mut body, &mut count);
    out
}

/// One report packet around `body` (its `count` records).
fn packet(src: Ipv4Addr, body: &[u8], count: u16) -> Vec<u8> {
    let mut m = vec![0u8; REPORT_HDR_LEN + body.len()];
    m[0] = IGMPV3_HOST_MEMBERSHIP_REPORT;
    put_u16(&mut m, 6, count);
    m[REPORT_HDR_LEN..].copy_from_slice(body);
    let sum = checksum::fold(checksum::ones_sum(&m, 0));
    put_u16(&mut m, 2, sum);
    ra_packet(src, IGMPV3_ALL_MCR, &m)
}

/// The IPv4 packet that carries the IGMP message `msg` from `src` to
/// `dst` (any IGMP version's, as igmp_send_report and igmpv3_newpack
/// build it).
pub(crate) fn ra_packet(src: Ipv4Addr, dst: Ipv4Addr, msg: &[u8]) -> Vec<u8> {
    let total = IP_HDR_LEN + msg.len();
    let mut p = vec![0u8; total];
    p[0] = 0x46; // version 4, 6 words
    p[1] = 0xc0; // TOS: internetwork control
    put_u16(&mut p, 2, total as u16);
    // Ident 0: a DF packet of no socket (Linux's ip_select_ident).
    put_u16(&mut p, 6, 0x4000);
    p[8] = 1; // TTL
    p[9] = IP_PROTO_IGMP;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    // Router Alert (RFC 2113): copied, option 20, length 4, value 0.
    p[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]);
    let sum = checksum::fold(checksum::ones_sum(&p[..IP_HDR_LEN], 0));
    put_u16(&mut p, 10, sum);
    p[IP_HDR_LEN..].copy_from_slice(msg);
    p
}

/// The records of an IGMPv3 report (`msg`: the IGMP message, after the IP
/// header).
pub fn parse_report(msg: &[u8]) -> Result<Vec<GroupRecord>> {
    if msg.len() < REPORT_HDR_LEN {
        return Err(WireError::Truncated);
    }
    if msg[0] != IGMPV3_HOST_MEMBERSHIP_REPORT {
        return Err(WireError::Unsupported);
    }
    if checksum::fold(checksum::ones_sum(msg, 0)) != 0 {
        return Err(WireError::BadChecksum);
    }
    let n = get_u16(msg, 6);
    let mut at = REPORT_HDR_LEN;
    let mut out = Vec::new();
    for _ in 0..n {
        if msg.len() < at + 8 {
            return Err(WireError::Truncated);
        }
        let kind = RecordType::from_u8(msg[at]).ok_or(WireError::Malformed)?;
        let aux = usize::from(msg[at + 1]) * 4;
        let ns = usize::from(get_u16(msg, at + 2));
        let group = Ipv4Addr::new(msg[at + 4], msg[at + 5], msg[at + 6], msg[at + 7]);
        let end = at + 8 + 4 * ns + aux;
        if msg.len() < end {
            return Err(WireError::Truncated);
        }
        let sources = msg[at + 8..at + 8 + 4 * ns]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect();
        out.push(GroupRecord {
            kind,
            group,
            sources,
        });
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Packet;

    fn rec(kind: RecordType, g: [u8; 4], n: u8) -> GroupRecord {
        GroupRecord {
            kind,
            group: g.into(),
            sources: (0..n).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
        }
    }

    #[test]
    fn a_report_carries_router_alert_ttl_1_and_its_records() {
        let src = Ipv4Addr::new(10, 7, 0, 2);
        let rs = vec![
            rec(RecordType::ChangeToExclude, [224, 0, 2, 1], 0),
            rec(RecordType::AllowNewSources, [232, 1, 1, 1], 2),
        ];
        let ps = emit_reports(src, &rs, 1500);
        assert_eq!(ps.len(), 1);
        let p = &ps[0];
        let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(
            (p[0], p[1], p[8], p[9], &p[20..24]),
            (0x46, 0xc0, 1, 2, &[0x94, 4, 0, 0][..])
        );
        assert_eq!(&p[16..20], &[224, 0, 0, 22]);
        assert_eq!(parse_report(&p[24..]), Ok(rs));
        let mut bad = p[24..].to_vec();
        bad[9] ^= 1;
        assert_eq!(parse_report(&bad), Err(WireError::BadChecksum));
        assert_eq!(parse_report(&p[24..30]), Err(WireError::Truncated));
    }

    #[test]
    fn records_too_long_for_one_packet_are_cut_at_the_mtu() {
        let src = Ipv4Addr::new(10, 7, 0, 2);
        let rs = vec![rec(RecordType::BlockOldSources, [239, 1, 1, 1], 200)];
        let ps = emit_reports(src, &rs, 576);
        assert!(ps.len() > 1);
        let mut got = Vec::new();
        for p in &ps {
            assert!(p.len() <= 576);
            for r in parse_report(&p[24..]).unwrap() {
                assert_eq!((r.kind, r.group), (rs[0].kind, rs[0].group));
                got.extend(r.sources);
            }
        }
        assert_eq!(got, rs[0].sources);
    }
}
