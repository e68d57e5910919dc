//! IP fragment reassembly for both families (FreeBSD's ip_reass and
//! frag6_input, with Linux's rules and limits): a fragment is checked and
//! queued (`ipq`); a complete datagram is rebuilt as one unfragmented
//! packet and goes through input again. A non-last fragment must carry a
//! multiple of 8 bytes. Memory is bounded by net.ipv4.ipfrag_high_thresh /
//! net.ipv6.ip6frag_high_thresh (4 MiB), and a datagram not complete after
//! net.ipv4.ipfrag_time (30 s) / net.ipv6.ip6frag_time (60 s) is dropped.
//! The timeout is a timer of the stack's (`reass_next_timeout`,
//! `reass_timeout`, run by the face beside the sockets' timers); as Linux's
//! ip_expire and ip6_expire_frag_queue, a datagram whose first fragment had
//! arrived is answered with an ICMP time exceeded (fragment reassembly),
//! within the ICMP rate limits.

use std::net::IpAddr;

use crate::netinet::icmp_error::{icmp_error_allowed, send_icmp, send_icmp6, ICMP_MAX_QUOTE};
use crate::netinet::inet::InetCx;
use crate::netinet::ipq::{Outcome, ReassKey, MAX_DATAGRAM};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::ipv6ext::{self, FragmentHeader};
use crate::wire::{self, icmpv4, icmpv6, Icmpv4Repr, Icmpv6Repr, Ipv4Packet};

/// An IPv4 fragment (`frame`, whose header parsed but is a fragment).
/// Returns the whole packet when it completes a datagram, for ip_input.
pub(crate) fn ip4_reass(cx: &impl InetCx, now: Instant, frame: &[u8]) -> Option<Vec<u8>> {
    let Ok(p) = Ipv4Packet::new_checked(frame) else {
        Stats::bump(&cx.stats().drop_malformed);
        return None;
    };
    if !p.verify_checksum() {
        Stats::bump(&cx.stats().drop_checksum);
        return None;
    }
    let (hl, tl) = (p.header_len(), p.total_len());
    let dst: IpAddr = p.dst_addr().into();
    if !crate::netinet::ip::is_local(cx, dst) {
        Stats::bump(&cx.stats().drop_not_for_us);
        return None;
    }
    // A non-last fragment carries a multiple of 8 bytes (else it is bogus).
    if p.more_frags() && !(tl - hl).is_multiple_of(8) {
        Stats::bump(&cx.stats().drop_fragment);
        return None;
    }
    let key = ReassKey {
        src: p.src_addr().into(),
        dst,
        ident: u32::from(p.ident()),
        proto: p.protocol(),
    };
    reass_timeout(cx, now);
    let sys = cx.sysctl();
    let outcome = {
        let mut t = cx.inet().reass.lock();
        t.add(
            now,
            key,
            p.frag_offset(),
            p.more_frags(),
            &frame[hl..tl],
            || frame[..hl].to_vec(),
            sys.ipfrag_high_thresh,
        )
    };
    match outcome {
        Outcome::Pending => {
            Stats::bump(&cx.stats().frags_queued);
            None
        }
        Outcome::Dropped => {
            Stats::bump(&cx.stats().drop_fragment);
            None
        }
        Outcome::Complete(head, data) => {
            Stats::bump(&cx.stats().reassembled);
            let hl = head.len();
            let mut whole = head;
            whole.extend_from_slice(&data);
            let mut w = Ipv4Packet::new_unchecked(&mut whole[..]);
            w.set_total_len(hl + data.len());
            w.set_more_frags(false);
            w.set_frag_offset(0);
            w.fill_checksum();
            Some(whole)
        }
    }
}

/// An IPv6 fragment: `packet` whose extension header walk stopped at
/// `frag`. Returns the whole packet when it completes a datagram, for
/// ip6_input.
pub(crate) fn ip6_reass(
    cx: &impl InetCx,
    now: Instant,
    packet: &[u8],
    frag: FragmentHeader,
) -> Option<Vec<u8>> {
    let fixed = wire::ipv6::HEADER_LEN;
    let payload = &packet[fixed..];
    let data = &payload[frag.at + ipv6ext::FRAGMENT_HEADER_LEN..];
    if frag.more && !data.len().is_multiple_of(8) {
        // Linux answers with a Parameter Problem at the payload length.
        Stats::bump(&cx.stats().drop_fragment);
        return None;
    }
    let (Ok(src), Ok(dst)) = (
        <[u8; 16]>::try_from(&packet[8..24]),
        <[u8; 16]>::try_from(&packet[24..40]),
    ) else {
        return None;
    };
    let key = ReassKey {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        ident: frag.ident,
        proto: frag.next_header,
    };
    reass_timeout(cx, now);
    let sys = cx.sysctl();
    let outcome = {
        let mut t = cx.inet().reass.lock();
        t.add(
            now,
            key,
            frag.offset,
            frag.more,
            data,
            || packet[..fixed + frag.at].to_vec(),
            sys.ip6frag_high_thresh,
        )
    };
    match outcome {
        Outcome::Pending => {
            Stats::bump(&cx.stats().frags_queued);
            None
        }
        Outcome::Dropped => {
            Stats::bump(&cx.stats().drop_fragment);
            None
        }
        Outcome::Complete(head, data) => {
            let unfrag = head.len() - fixed;
            if unfrag + data.len() > MAX_DATAGRAM {
                Stats::bump(&cx.stats().drop_fragment);
                return None;
            }
            Stats::bump(&cx.stats().reassembled);
            let at = naming_byte(&head[fixed..], unfrag);
            let mut whole = head;
            whole[at] = frag.next_header;
            whole.extend_from_slice(&data);
            let plen = (unfrag + data.len()) as u16;
            whole[4..6].copy_from_slice(&plen.to_be_bytes());
            Some(whole)
        }
    }
}

/// When the oldest datagram being reassembled times out, if any.
/// Called on every turn of the driver: with nothing being reassembled (the
/// usual case) it costs one leaf lock, and the sysctls are not read.
pub(crate) fn reass_next_timeout(cx: &impl InetCx) -> Option<Instant> {
    if cx.inet().reass.lock().is_empty() {
        return None;
    }
    let sys = cx.sysctl();
    let mut t = cx.inet().reass.lock();
    t.next_expiry(sys.ipfrag_time, sys.ip6frag_time)
}

/// Drop the datagrams that timed out by `now`, counted, and answer each
/// whose first fragment arrived with an ICMP time exceeded (reassembly)
/// quoting that fragment.
pub(crate) fn reass_timeout(cx: &impl InetCx, now: Instant) {
    if cx.inet().reass.lock().is_empty() {
        return;
    }
    let sys = cx.sysctl();
    let expired = cx
        .inet()
        .reass
        .lock()
        .expire(now, sys.ipfrag_time, sys.ip6frag_time);
    for e in expired {
        Stats::bump(&cx.stats().drop_reass_timeout);
        let Some((head, data)) = e.first else {
            continue;
        };
        let k = e.key;
        if k.src.is_multicast() || crate::netinet::ip::is_broadcast(cx, k.src) {
            continue;
        }
        if k.src.is_ipv6() {
            time_exceeded6(cx, k, &head, &data);
        } else {
            time_exceeded4(cx, k, &head, &data);
        }
    }
}

/// ICMPv4 time exceeded (fragment reassembly) quoting the first fragment
/// as it came: its header (its length and MF flag) and data.
fn time_exceeded4(cx: &impl InetCx, k: ReassKey, head: &[u8], data: &[u8]) {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (k.src, k.dst) else {
        return;
    };
    if !icmp_error_allowed(cx, k.src, icmpv4::msg_type::TIME_EXCEEDED) {
        return;
    }
    let mut quote = head.to_vec();
    quote.extend_from_slice(data);
    quote.truncate(ICMP_MAX_QUOTE);
    let msg = Icmpv4Repr::TimeExceeded {
        code: icmpv4::time_exceeded::REASSEMBLY,
        original: &quote,
    };
    send_icmp(cx, dst, src, &msg);
}

/// ICMPv6 time exceeded (fragment reassembly) quoting the first fragment:
/// its unfragmentable headers, a fragment header as it carried (offset 0,
/// more fragments) and its data.
fn time_exceeded6(cx: &impl InetCx, k: ReassKey, head: &[u8], data: &[u8]) {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (k.src, k.dst) else {
        return;
    };
    if !icmp_error_allowed(cx, k.src, icmpv6::msg_type::TIME_EXCEEDED) {
        return;
    }
    let fixed = wire::ipv6::HEADER_LEN;
    let mut quote = head.to_vec();
    quote.extend_from_slice(&[k.proto, 0, 0, 1]);
    quote.extend_from_slice(&k.ident.to_be_bytes());
    quote.extend_from_slice(data);
    if quote.len() >= fixed {
        let plen = (quote.len() - fixed) as u16;
        quote[4..6].copy_from_slice(&plen.to_be_bytes());
    }
    quote.truncate(icmpv6::MAX_QUOTE);
    let msg = Icmpv6Repr::TimeExceeded {
        code: icmpv6::time_exceeded::REASSEMBLY,
        original: &quote,
    };
    send_icmp6(cx, dst, src, &msg);
}

/// Offset in the packet of the byte that names the header at `frag_at`
/// of `unfrag` (the unfragmentable headers, already walked once): the
/// fixed header's next header, or the first byte of the header before.
fn naming_byte(unfrag: &[u8], frag_at: usize) -> usize {
    let fixed = wire::ipv6::HEADER_LEN;
    let (mut at, mut pos) = (0usize, 6usize);
    while at < frag_at {
        let len = (usize::from(unfrag.get(at + 1).copied().unwrap_or(0)) + 1) * 8;
        pos = fixed + at;
        at += len;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_byte_of_the_fragment_header() {
        // No unfragmentable headers: the fixed header's next header.
        assert_eq!(naming_byte(&[], 0), 6);
        // Hop-by-hop (8 bytes) then the fragment header.
        assert_eq!(naming_byte(&[44, 0, 1, 4, 0, 0, 0, 0], 8), 40);
        // Hop-by-hop, then 16 bytes of destination options.
        let mut u = vec![60, 0, 1, 4, 0, 0, 0, 0];
        u.extend_from_slice(&[44, 1, 1, 12]);
        u.extend_from_slice(&[0; 12]);
        assert_eq!(naming_byte(&u, 24), 48);
    }
}
