//! SYN cookies (as Linux with net.ipv4.tcp_syncookies = 1): when a
//! listener's SYN queue is full, the SYN-ACK's sequence number carries the
//! handshake instead of an entry, and the ACK that echoes it creates the
//! connection. The encoding is Linux's shape:
//!
//! - ISS = peer's ISN + H(4-tuple) + (minute << 24) + (the sum of
//!   H(4-tuple, minute) and the MSS index, mod 2^24), with keyed hashes
//!   (the stack's ISN key), so a cookie is valid for the minute it was
//!   made and the next one (MAX_SYNCOOKIE_AGE 2); the MSS is one of four
//!   table values;
//! - with timestamps, the SYN-ACK's TSval (before the per-host offset)
//!   carries the peer's window scale in its low 4 bits (0xf: none) and
//!   SACK-permitted in bit 4, and the ACK's TSecr brings them back;
//!   without timestamps the connection has neither (the SYN-ACK offers
//!   neither).
//!
//! A cookie ACK is only looked at while the listener overflowed in the
//! last two minutes (Linux's tcp_synq_no_recent_overflow), or always with
//! tcp_syncookies = 2.

use std::net::SocketAddr;

use crate::netinet::inet::InetCx;
use crate::netinet::tcp_seq::Seq;
use crate::rng::siphash;
use crate::time::Instant;

/// Bits of the cookie below the minute counter.
const COOKIEBITS: u32 = 24;
const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;
/// A cookie made in minute m is good in minutes m and m + 1.
const MAX_SYNCOOKIE_AGE: u32 = 2;
/// How long after an overflow a listener still checks cookie ACKs (µs).
pub(crate) const SYNCOOKIE_VALID_US: u64 = MAX_SYNCOOKIE_AGE as u64 * 60_000_000;

/// The MSS values a cookie can carry (Linux's msstab): IPv4, IPv6.
const MSSTAB4: [u16; 4] = [536, 1300, 1440, 1460];
const MSSTAB6: [u16; 4] = [1220, 1420, 1440, 8940];

/// The timestamp's option bits.
const TSBITS: u32 = 6;
const TS_WSCALE_MASK: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;

fn msstab(remote: SocketAddr) -> &'static [u16; 4] {
    if remote.is_ipv4() {
        &MSSTAB4
    } else {
        &MSSTAB6
    }
}

/// The minute counter (Linux's tcp_cookie_time).
fn minute(now: Instant) -> u32 {
    (now.total_micros() / 60_000_000) as u32
}

/// H(4-tuple, count, which), keyed by the stack's ISN key.
fn hash(cx: &impl InetCx, local: SocketAddr, remote: SocketAddr, count: u32, which: u8) -> u32 {
    let mut d = Vec::with_capacity(45);
    for a in [local, remote] {
        match a.ip() {
            std::net::IpAddr::V4(ip) => d.extend_from_slice(&ip.octets()),
            std::net::IpAddr::V6(ip) => d.extend_from_slice(&ip.octets()),
        }
        d.extend_from_slice(&a.port().to_be_bytes());
    }
    d.extend_from_slice(&count.to_be_bytes());
    d.extend_from_slice(&[which, b'c']);
    siphash(cx.inet().isn_key, &d) as u32
}

/// The cookie ISS for a SYN with sequence `irs` and MSS option `mss`,
/// and the MSS the cookie keeps (the largest table value not above it).
pub(crate) fn cookie_make(
    cx: &impl InetCx,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    irs: Seq,
    mss: u16,
) -> (Seq, u16) {
    let tab = msstab(remote);
    let idx = (1..tab.len()).rev().find(|&i| mss >= tab[i]).unwrap_or(0);
    let count = minute(now);
    let iss = irs
        .0
        .wrapping_add(hash(cx, local, remote, 0, 0))
        .wrapping_add(count << COOKIEBITS)
        .wrapping_add(hash(cx, local, remote, count, 1).wrapping_add(idx as u32) & COOKIEMASK);
    (Seq(iss), tab[idx])
}

/// The MSS a cookie `iss` (the ACK's ack - 1) carries, if it is one we
/// made for this 4-tuple and SYN sequence `irs` within the last two
/// minutes.
pub(crate) fn cookie_check(
    cx: &impl InetCx,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    irs: Seq,
    iss: Seq,
) -> Option<u16> {
    let count = minute(now);
    let c = iss
        .0
        .wrapping_sub(hash(cx, local, remote, 0, 0))
        .wrapping_sub(irs.0);
    let diff = count.wrapping_sub(c >> COOKIEBITS) & (u32::MAX >> COOKIEBITS);
    if diff >= MAX_SYNCOOKIE_AGE {
        return None;
    }
    let made = count.wrapping_sub(diff);
    let idx = c.wrapping_sub(hash(cx, local, remote, made, 1)) & COOKIEMASK;
    msstab(remote).get(idx as usize).copied()
}

/// The raw TSval (before the per-host offset) of a cookie SYN-ACK sent at
/// `ts_now`: the peer's window scale (None: 0xf) and SACK-permitted in the
/// low bits, never later than `ts_now`.
pub(crate) fn cookie_ts(ts_now: u32, wscale: Option<u8>, sack: bool) -> u32 {
    let mut opts = wscale.map_or(TS_WSCALE_MASK, |w| u32::from(w) & TS_WSCALE_MASK);
    if sack {
        opts |= TS_SACK;
    }
    let ts = (ts_now >> TSBITS << TSBITS) | opts;
    if ts > ts_now {
        ts.wrapping_sub(1 << TSBITS)
    } else {
        ts
    }
}

/// The options a cookie ACK's raw TSecr brings back: (window scale,
/// SACK-permitted); None when they name a feature the sysctls turned off.
pub(crate) fn cookie_ts_decode(
    tsecr: u32,
    window_scaling: bool,
    sack: bool,
) -> Option<(Option<u8>, bool)> {
    let sack_ok = tsecr & TS_SACK != 0;
    if sack_ok && !sack {
        return None;
    }
    let w = tsecr & TS_WSCALE_MASK;
    if w == TS_WSCALE_MASK {
        return Some((None, sack_ok));
    }
    window_scaling.then_some((Some(w as u8), sack_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_keeps_window_scale_and_sack_and_never_runs_ahead() {
        for now in [0u32, 5, 63, 64, 1000, 123_456_789, u32::MAX] {
            for (ws, sack) in [
                (None, false),
                (Some(7), true),
                (Some(0), false),
                (Some(14), true),
            ] {
                let ts = cookie_ts(now, ws, sack);
                assert!(now.wrapping_sub(ts) < 128, "{now} {ts}");
                assert_eq!(cookie_ts_decode(ts, true, true), Some((ws, sack)));
            }
        }
        assert_eq!(
            cookie_ts_decode(cookie_ts(99, Some(7), false), false, true),
            None
        );
        assert_eq!(
            cookie_ts_decode(cookie_ts(99, None, true), true, false),
            None
        );
        assert_eq!(
            cookie_ts_decode(cookie_ts(99, None, false), false, false),
            Some((None, false))
        );
    }
}
