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
//!
//! One departure from Linux: data may leave up to `PACING_SLACK` before
//! its time (sch_fq's timer_slack does the same). Linux's pacing timer is
//! an hrtimer run in softirq; ours is a driver thread that the scheduler
//! must wake, tens of microseconds late at best. Sending now what is due
//! within the slack saves that wakeup, and costs no rate: the next
//! departure still moves on by this segment's length at the rate, so the
//! sender is never more than the slack ahead of the clock.

use std::time::Duration;

use crate::netinet::tcp_var::TcpCb;
use crate::time::Instant;

/// How early data may leave against its pacing time (see the module
/// comment): about what waking the driver thread costs here.
pub(crate) const PACING_SLACK: Duration = Duration::from_micros(50);

/// Must data wait for the pacing clock? If so the pacing timer is armed
/// for when it may go. `tso`: segments are already burst-sized.
pub(crate) fn tcp_pacing_check(tp: &mut TcpCb, now: Instant, tso: bool) -> bool {
    let mss = tp.t_maxseg.max(1);
    let Some(b) = tp.cc.bbr_mut() else {
        return false;
    };
    if b.pacing_rate == 0 || b.segs_out() < 10 {
        return false;
    }
    let early = PACING_SLACK
        + if tso {
            Duration::ZERO
        } else {
            let bytes = u64::from(b.tso_segs_goal(mss).saturating_sub(1)) * mss as u64;
            Duration::from_nanos(bytes * 1_000_000_000 / b.pacing_rate)
        };
    if b.wstamp() <= now + early {
        return false;
    }
    let at = b
        .wstamp()
        .total_micros()
        .saturating_sub(early.as_micros() as u64);
    b.pace_timer = Some(Instant::from_micros(at));
    true
}

/// A data segment of `len` bytes left at `now`: the next may leave once
/// it has, at the pacing rate.
pub(crate) fn tcp_pacing_sent(tp: &mut TcpCb, now: Instant, len: usize) {
    let mss = tp.t_maxseg.max(1);
    let Some(b) = tp.cc.bbr_mut() else {
        return;
    };
    b.add_segs_out(len.div_ceil(mss).min(u32::MAX as usize) as u32);
    let prior = b.wstamp();
    let frac = b.wstamp_frac_ns();
    let wstamp = prior.max(now);
    b.set_wstamp(wstamp, frac);
    if b.pacing_rate == 0 || b.segs_out() < 10 {
        return;
    }
    let len_ns = len as u64 * 1_000_000_000 / b.pacing_rate;
    // Sent late: up to half of this segment's time is credit.
    let credit = u64::try_from((wstamp - prior).as_nanos()).unwrap_or(u64::MAX);
    // The clock counts microseconds; the nanoseconds below one carry.
    let ns = len_ns - credit.min(len_ns / 2) + u64::from(frac);
    b.set_wstamp(
        wstamp + Duration::from_micros(ns / 1000),
        (ns % 1000) as u32,
    );
}

/// Forget the pacing timer (the connection closes or waits in TIME_WAIT).
pub(crate) fn tcp_pace_stop(tp: &mut TcpCb) {
    if let Some(b) = tp.cc.bbr_mut() {
        b.pace_timer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netinet::in_pcb::Inpcb;
    use crate::netinet::tcp_bbr::{Bbr, BbrInit};

    const MSS: usize = 1448;

    /// A connection paced by BBR at `rate` bytes per second, past its
    /// first 10 (unpaced) segments.
    fn paced(now: Instant, rate: u64) -> TcpCb {
        let mut tp = TcpCb::new(Inpcb::new(64));
        tp.t_maxseg = MSS;
        let mut b = Bbr::new(BbrInit {
            now,
            cwnd: 10,
            srtt_us: Some(100),
            min_rtt_us: Some(100),
            delivered: 1,
            mss: MSS,
            seed: 1,
        });
        b.pacing_rate = rate;
        b.add_segs_out(100);
        tp.cc = crate::netinet::tcp_cubic::CongCtl::new(crate::netinet::tcp_cubic::CcAlgo::Bbr);
        tp.cc.start_bbr(b);
        tp
    }

    fn bbr(tp: &TcpCb) -> &Bbr {
        tp.cc.bbr().unwrap()
    }

    /// Send bursts of `burst` bytes for `span` of virtual time, each as
    /// soon as the pacing check lets it go, the timer firing `late` after
    /// it was armed for: the bytes sent.
    fn send_for(
        tp: &mut TcpCb,
        mut now: Instant,
        span: Duration,
        burst: usize,
        late: Duration,
    ) -> u64 {
        let end = now + span;
        let mut sent = 0u64;
        // Bounded: a check that never defers would send forever at `now`.
        for _ in 0..1_000_000 {
            if now >= end {
                break;
            }
            if tcp_pacing_check(tp, now, true) {
                now = bbr(tp).pace_timer.unwrap() + late;
                continue;
            }
            tcp_pacing_sent(tp, now, burst);
            sent += burst as u64;
        }
        sent
    }

    #[test]
    fn at_ten_gbits_a_burst_is_64k_and_the_next_leaves_about_50us_later() {
        let now = Instant::from_millis(1000);
        let mut tp = paced(now, 1_250_000_000);
        let segs = bbr(&tp).tso_segs_goal(MSS) as usize;
        let burst = segs * MSS;
        assert!(
            (60_000..=65_535).contains(&burst),
            "one 64 KiB super-segment: {burst}"
        );
        assert!(
            !tcp_pacing_check(&mut tp, now, true),
            "the first goes at once"
        );
        tcp_pacing_sent(&mut tp, now, burst);
        // 65160 B at 1.25 GB/s: 52 us.
        let gap = bbr(&tp).wstamp() - now;
        assert_eq!(gap.as_micros(), 52, "{gap:?}");
        // Due in 52 us, more than the slack: the data waits, and the
        // timer is armed for the slack before its time, not 1 ms away.
        assert!(tcp_pacing_check(&mut tp, now, true));
        let at = bbr(&tp).pace_timer.unwrap();
        assert_eq!(at + PACING_SLACK, bbr(&tp).wstamp());
        assert!(
            !tcp_pacing_check(&mut tp, at, true),
            "released when the timer fires"
        );
        // Over 10 ms the rate holds at 10 Gbit/s, within one burst plus
        // the slack, whether the timer is on time or 20 us late (half a
        // burst's time is credit for lateness).
        for late in [Duration::ZERO, Duration::from_micros(20)] {
            let start = Instant::from_millis(2000);
            let mut tp = paced(start, 1_250_000_000);
            let sent = send_for(&mut tp, start, Duration::from_millis(10), burst, late);
            let want = 12_500_000u64;
            assert!(
                sent <= want + burst as u64 + 62_500,
                "late {late:?}: {sent} B in 10 ms"
            );
            assert!(sent >= want * 9 / 10, "late {late:?}: {sent} B in 10 ms");
        }
    }

    #[test]
    fn a_wait_shorter_than_the_slack_does_not_defer_a_send() {
        let now = Instant::from_millis(1000);
        let mut tp = paced(now, 1_250_000_000);
        tcp_pacing_sent(&mut tp, now, 20 * MSS);
        // 28960 B at 1.25 GB/s: due in 23 us, within the slack.
        assert!(bbr(&tp).wstamp() > now);
        assert!(!tcp_pacing_check(&mut tp, now, true));
        assert_eq!(bbr(&tp).pace_timer, None, "no timer for a send that went");
        // Sent early, it moves the clock on from its departure time (no
        // credit): the sender stays at most the slack ahead.
        tcp_pacing_sent(&mut tp, now, 20 * MSS);
        assert_eq!((bbr(&tp).wstamp() - now).as_micros(), 46);
        assert!(
            !tcp_pacing_check(&mut tp, now, true),
            "46 us ahead: still goes"
        );
        tcp_pacing_sent(&mut tp, now, 20 * MSS);
        assert_eq!((bbr(&tp).wstamp() - now).as_micros(), 69);
        assert!(tcp_pacing_check(&mut tp, now, true), "69 us ahead: waits");
        let at = bbr(&tp).pace_timer.unwrap();
        assert_eq!((at - now).as_micros(), 19);
    }

    #[test]
    fn at_ten_mbits_two_segments_go_together_then_wait_2ms() {
        let now = Instant::from_millis(1000);
        let mut tp = paced(now, 1_250_000);
        assert_eq!(bbr(&tp).tso_segs_goal(MSS), 2);
        assert!(!tcp_pacing_check(&mut tp, now, false));
        tcp_pacing_sent(&mut tp, now, MSS);
        // Without TSO the burst's second segment goes at once.
        assert!(!tcp_pacing_check(&mut tp, now, false));
        tcp_pacing_sent(&mut tp, now, MSS);
        assert!(tcp_pacing_check(&mut tp, now, false));
        let wait = bbr(&tp).pace_timer.unwrap() - now;
        // Two segments at 1.25 MB/s (2.3 ms), less one segment's time
        // (the burst) and the slack.
        assert!((1_000..1_300).contains(&wait.as_micros()), "{wait:?}");
    }
}
