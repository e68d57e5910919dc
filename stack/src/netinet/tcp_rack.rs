//! RACK-TLP's state and timing (RFC 8985, Linux's tcp_recovery.c and
//! tcp_schedule_loss_probe): the most recently sent segment the peer has
//! delivered (RACK.xmit_ts, RACK.end_seq, RACK.rtt), the minimum RTT and
//! the reordering window, and the tail loss probe's timeout. What is lost
//! is decided on the scoreboard (`Scoreboard::rack_detect`); when and what
//! to send is `tcp_recovery`'s.

use std::time::Duration;

use super::tcp_sack::AckSummary;
use crate::time::Instant;

/// Linux's TCP_RTO_MIN, added to the probe timeout when one segment is
/// in flight (the peer may delay its ACK).
const TLP_ONE_SEGMENT_EXTRA: Duration = Duration::from_millis(200);
/// Linux's TCP_TIMEOUT_MIN (2 jiffies at HZ=1000).
const TLP_MIN_EXTRA: Duration = Duration::from_millis(2);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rack {
    /// The most recently sent of the delivered segments: when it was
    /// sent, its place in the order of transmissions, and the RTT it
    /// measured (microseconds, as Linux's rack.rtt_us: 4 bytes per
    /// connection, not 16; read through `rtt()`).
    pub xmit: Option<Instant>,
    pub order: u64,
    rtt_us: u32,
    /// The smallest RTT seen (Linux's tcp_min_rtt, here over the
    /// connection's life), microseconds; 0: none yet (a sample counts at
    /// least 1 us). Read through `min_rtt()`.
    min_rtt_us: u32,
    /// The path was seen to reorder (Linux's reord_seen): the reordering
    /// window stays min_rtt / 4 even in recovery.
    pub reord: bool,
    /// The largest reordering seen, in segments (Linux's tp->reordering;
    /// 0 until then: `reordering()` gives the default).
    pub reordering_seen: u32,
}

/// Linux's sysctl_tcp_reordering and sysctl_tcp_max_reordering defaults.
const TCP_REORDERING: u32 = 3;
const TCP_MAX_REORDERING: u32 = 300;

impl Rack {
    /// RFC 8985 §6.2 step 2 (Linux's tcp_rack_advance) for one ACK's
    /// deliveries, as the scoreboard summed them: the most recently sent
    /// becomes RACK's segment; RACK.rtt is the RTT of the last one taken,
    /// in Linux's order (not necessarily the latest sent); the minimum
    /// RTT follows never-retransmitted segments.
    pub fn apply(&mut self, sum: &AckSummary) {
        if let Some(d) = sum.latest {
            if self.xmit.is_none() || d.order > self.order {
                self.xmit = Some(d.xmit);
                self.order = d.order;
            }
        }
        if let Some(rtt) = sum.rtt {
            self.rtt_us = usecs(rtt);
        }
        if let Some(m) = sum.min_sample {
            let m = usecs(m).max(1);
            if self.min_rtt_us == 0 || m < self.min_rtt_us {
                self.min_rtt_us = m;
            }
        }
    }

    /// RACK.rtt: the RTT of the last segment RACK took.
    pub fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_us.into())
    }

    /// The smallest RTT of a never-retransmitted segment, once there is one.
    pub fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt_us != 0).then(|| Duration::from_micros(self.min_rtt_us.into()))
    }

    /// Reordering by `dist` bytes was seen (Linux's
    /// tcp_check_sack_reordering): the metric grows to cover it.
    pub fn note_reordering(&mut self, dist: usize, mss: usize) {
        let segs = dist.div_ceil(mss.max(1)).min(TCP_MAX_REORDERING as usize) as u32;
        if segs > self.reordering() {
            self.reordering_seen = segs;
        }
    }

    /// The reordering degree in segments (TCP_INFO's tcpi_reordering).
    pub fn reordering(&self) -> u32 {
        self.reordering_seen.max(TCP_REORDERING)
    }

    /// RACK's reordering window (Linux's tcp_rack_reo_wnd): none in
    /// recovery, or once DupThresh segments are SACKed, while no
    /// reordering was seen; else min_rtt / 4, at most SRTT.
    pub fn reo_wnd(&self, in_recovery: bool, dupthresh_sacked: bool, srtt: Duration) -> Duration {
        if !self.reord && (in_recovery || dupthresh_sacked) {
            return Duration::ZERO;
        }
        (self.min_rtt().unwrap_or(Duration::ZERO) / 4).min(srtt)
    }
}

/// A duration in whole microseconds (saturating at u32).
fn usecs(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The tail loss probe's timeout (RFC 8985 §7.2, Linux's
/// tcp_schedule_loss_probe): 2 * SRTT, plus the delayed-ACK allowance
/// when a single segment is in flight, never later than the RTO.
pub fn tlp_timeout(srtt: Duration, one_segment: bool, rto_left: Duration) -> Duration {
    let extra = if one_segment {
        TLP_ONE_SEGMENT_EXTRA
    } else {
        TLP_MIN_EXTRA
    };
    (srtt * 2 + extra).min(rto_left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_keeps_the_latest_sent_and_the_last_rtt() {
        let ms = Duration::from_millis;
        let mut r = Rack::default();
        let mut sum = AckSummary::new(Instant::from_millis(30), None, None);
        sum.latest = Some(crate::netinet::tcp_sack::Delivered {
            xmit: Instant::from_millis(10),
            order: 2,
            ever_retrans: false,
        });
        sum.rtt = Some(ms(20));
        sum.min_sample = Some(ms(20));
        r.apply(&sum);
        assert_eq!((r.order, r.rtt(), r.min_rtt()), (2, ms(20), Some(ms(20))));
        sum.latest.as_mut().unwrap().order = 1;
        sum.rtt = Some(ms(25));
        sum.min_sample = Some(ms(25));
        r.apply(&sum);
        assert_eq!(
            (r.order, r.rtt(), r.min_rtt()),
            (2, ms(25), Some(ms(20))),
            "sent earlier: not the latest"
        );
    }

    #[test]
    fn reordering_window_and_probe_timeout() {
        let mut r = Rack {
            min_rtt_us: 40_000,
            ..Rack::default()
        };
        let srtt = Duration::from_millis(50);
        assert_eq!(r.reo_wnd(false, false, srtt), Duration::from_millis(10));
        assert_eq!(r.reo_wnd(true, false, srtt), Duration::ZERO);
        r.reord = true;
        assert_eq!(r.reo_wnd(true, true, srtt), Duration::from_millis(10));
        let big = Duration::from_secs(1);
        assert_eq!(tlp_timeout(srtt, false, big), Duration::from_millis(102));
        assert_eq!(tlp_timeout(srtt, true, big), Duration::from_millis(300));
        assert_eq!(
            tlp_timeout(srtt, true, Duration::from_millis(250)),
            Duration::from_millis(250)
        );
    }
}
