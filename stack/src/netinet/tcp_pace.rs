//! Internal pacing (Linux's tcp_pacing_check and
//! tcp_update_skb_after_send, for a congestion control that asks for
//! pacing and no fq qdisc): each data segment sent moves the earliest
//! departure of the next one on by its length at the pacing rate (less up
//! to half of it for lateness); output stops while that time is ahead
//! and arms the pacing timer for it. The first 10 data segments of a
//! connection are not paced. Only BBR paces (its rate and clock live in
//! its state); a burst is what Linux's TSO autosizing would put in one
//! skb (about a millisecond at the rate), so without TSO that many
//! segments may leave together. The timer itself is tcp_timer's.

use std::time::Duration;

use crate::netinet::tcp_var::TcpCb;
use crate::time::Instant;

/// Must data wait for the pacing clock? If so the pacing timer is armed
/// for when it may go. `tso`: segments are already burst-sized.
pub(crate) fn tcp_pacing_check(tp: &mut TcpCb, now: Instant, tso: bool) -> bool {
    let mss = tp.t_maxseg.max(1);
    let Some(b) = tp.cc.bbr.as_deref_mut() else {
        return false;
    };
    if b.pacing_rate == 0 || b.segs_out < 10 {
        return false;
    }
    let burst = if tso {
        Duration::ZERO
    } else {
        let bytes = u64::from(b.tso_segs_goal(mss).saturating_sub(1)) * mss as u64;
        Duration::from_nanos(bytes * 1_000_000_000 / b.pacing_rate)
    };
    if b.wstamp <= now + burst {
        return false;
    }
    let at = b
        .wstamp
        .total_micros()
        .saturating_sub(burst.as_micros() as u64);
    b.pace_timer = Some(Instant::from_micros(at));
    true
}

/// A data segment of `len` bytes left at `now`: the next may leave once
/// it has, at the pacing rate.
pub(crate) fn tcp_pacing_sent(tp: &mut TcpCb, now: Instant, len: usize) {
    let mss = tp.t_maxseg.max(1);
    let Some(b) = tp.cc.bbr.as_deref_mut() else {
        return;
    };
    b.segs_out = b.segs_out.saturating_add(len.div_ceil(mss) as u32);
    let prior = b.wstamp;
    b.wstamp = b.wstamp.max(now);
    if b.pacing_rate == 0 || b.segs_out < 10 {
        return;
    }
    let len_ns = len as u64 * 1_000_000_000 / b.pacing_rate;
    // Sent late: up to half of this segment's time is credit.
    let credit = u64::try_from((b.wstamp - prior).as_nanos()).unwrap_or(u64::MAX);
    // The clock counts microseconds; the nanoseconds below one carry.
    let ns = len_ns - credit.min(len_ns / 2) + u64::from(b.wstamp_frac_ns);
    b.wstamp = b.wstamp + Duration::from_micros(ns / 1000);
    b.wstamp_frac_ns = (ns % 1000) as u32;
}

/// Forget the pacing timer (the connection closes or waits in TIME_WAIT).
pub(crate) fn tcp_pace_stop(tp: &mut TcpCb) {
    if let Some(b) = tp.cc.bbr.as_deref_mut() {
        b.pace_timer = None;
    }
}
