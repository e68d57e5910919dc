//! Congestion avoidance algorithms as Linux's modules compute them, in
//! segments: Reno (tcp_cong.c: tcp_reno_cong_avoid, ssthresh = cwnd / 2)
//! and CUBIC (tcp_cubic.c, RFC 9438: the cubic window growth from the
//! window of the last loss, beta 0.7 with fast convergence, the
//! TCP-friendly region, and HyStart's delay detector ending slow start
//! when a round's minimum RTT grows by an eighth of the connection's,
//! clamped to 4..16 ms). HyStart's ACK-train detector is not kept.
//! BBR (tcp_bbr.rs) runs beside them: its state is inline in `CongCtl`,
//! where CUBIC's is for CUBIC.
//! TCP_CONGESTION chooses one per socket; net.ipv4.tcp_congestion_control
//! the default.

use std::time::Duration;

use crate::netinet::tcp_bbr::Bbr;
use crate::netinet::tcp_seq::Seq;
use crate::time::Instant;

/// The algorithms the stack has (Linux's names, TCP_CA_NAME_MAX 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CcAlgo {
    Reno,
    #[default]
    Cubic,
    Bbr,
}

impl CcAlgo {
    pub fn name(self) -> &'static str {
        match self {
            CcAlgo::Reno => "reno",
            CcAlgo::Cubic => "cubic",
            CcAlgo::Bbr => "bbr",
        }
    }

    /// By Linux name; None for one the stack does not have (vegas...).
    pub fn from_name(name: &str) -> Option<CcAlgo> {
        match name {
            "reno" => Some(CcAlgo::Reno),
            "cubic" => Some(CcAlgo::Cubic),
            "bbr" => Some(CcAlgo::Bbr),
            _ => None,
        }
    }
}

const BETA_SCALE: u64 = 1024;
/// CUBIC's beta, 717/1024 (about 0.7).
const BETA: u64 = 717;
/// C = 0.4 as bic_scale 41 * 10, scaled by 2^(10 + 3 * 10).
const CUBE_RTT_SCALE: u64 = 410;
const CUBE_FACTOR: u64 = (1u64 << 40) / CUBE_RTT_SCALE;
/// HyStart runs from this window on (hystart_low_window).
const HYSTART_LOW_WINDOW: u32 = 16;
const HYSTART_MIN_SAMPLES: u32 = 8;

/// Per-connection CUBIC state (Linux's struct bictcp), windows in segments.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cubic {
    cnt: u32,
    last_max_cwnd: u32,
    last_cwnd: u32,
    last_time: Option<Instant>,
    origin_point: u32,
    /// Time to reach the last maximum, 1/1024 s (u32: memory per
    /// connection).
    k: u32,
    /// The smallest RTT seen, in microseconds (0: none yet; samples are
    /// at least 1 us). u32 microseconds, as Linux's: memory per connection.
    delay_min: u32,
    epoch_start: Option<Instant>,
    ack_cnt: u32,
    tcp_cwnd: u32,
    // HyStart.
    found: bool,
    /// The end of the current HyStart round, once one began.
    in_round: bool,
    end_seq: Seq,
    /// HyStart's smallest RTT of this round, microseconds (0: none).
    curr_rtt: u32,
    sample_cnt: u32,
}

/// The congestion state a window change needs (Linux's icsk_ca_ops and
/// icsk_ca_priv): the algorithm, its own state inline (CUBIC's or BBR's,
/// never both: TCP_CONGESTION starts afresh), and Linux's
/// fractional-window counter (snd_cwnd_cnt). BBR's state comes when the
/// handshake ends (tcp_cc_bbr_init); until then BBR is `BbrNew`. The size
/// is BBR's (its mode's spare values tell the variants apart), so every
/// connection carries 136 bytes here.
#[derive(Clone, Debug)]
pub struct CongCtl {
    ca: Ca,
}

#[derive(Clone, Debug)]
enum Ca {
    Reno { cwnd_cnt: u32 },
    Cubic { cwnd_cnt: u32, cubic: Cubic },
    BbrNew { cwnd_cnt: u32 },
    Bbr(Bbr),
}

impl Default for CongCtl {
    fn default() -> CongCtl {
        CongCtl::new(CcAlgo::default())
    }
}

/// Integer cube root (Linux's cubic_root gives the same to within one).
fn cbrt(a: u64) -> u64 {
    let mut x = (a as f64).cbrt() as u64;
    while (x + 1).pow(3) <= a {
        x += 1;
    }
    while x > 0 && x.pow(3) > a {
        x -= 1;
    }
    x
}

impl CongCtl {
    /// `algo` with its state afresh.
    pub fn new(algo: CcAlgo) -> CongCtl {
        let cwnd_cnt = 0;
        CongCtl {
            ca: match algo {
                CcAlgo::Reno => Ca::Reno { cwnd_cnt },
                CcAlgo::Cubic => Ca::Cubic {
                    cwnd_cnt,
                    cubic: Cubic::default(),
                },
                CcAlgo::Bbr => Ca::BbrNew { cwnd_cnt },
            },
        }
    }

    pub fn algo(&self) -> CcAlgo {
        match self.ca {
            Ca::Reno { .. } => CcAlgo::Reno,
            Ca::Cubic { .. } => CcAlgo::Cubic,
            Ca::BbrNew { .. } | Ca::Bbr(_) => CcAlgo::Bbr,
        }
    }

    /// BBR's state, once it runs.
    pub fn bbr(&self) -> Option<&Bbr> {
        match &self.ca {
            Ca::Bbr(b) => Some(b),
            _ => None,
        }
    }

    pub fn bbr_mut(&mut self) -> Option<&mut Bbr> {
        match &mut self.ca {
            Ca::Bbr(b) => Some(b),
            _ => None,
        }
    }

    /// BBR starts with `b` (the counter carries over).
    pub fn start_bbr(&mut self, mut b: Bbr) {
        b.cwnd_cnt = *self.cwnd_cnt();
        self.ca = Ca::Bbr(b);
    }

    fn cwnd_cnt(&mut self) -> &mut u32 {
        match &mut self.ca {
            Ca::Reno { cwnd_cnt } | Ca::Cubic { cwnd_cnt, .. } | Ca::BbrNew { cwnd_cnt } => {
                cwnd_cnt
            }
            Ca::Bbr(b) => &mut b.cwnd_cnt,
        }
    }

    /// Linux's tcp_cong_avoid_ai: one segment more per `w` acknowledged.
    fn avoid_ai(&mut self, cwnd: &mut u32, w: u32, acked: u32) {
        let w = w.max(1);
        let cnt = self.cwnd_cnt();
        if *cnt >= w {
            *cnt = 0;
            *cwnd += 1;
        }
        *cnt += acked;
        if *cnt >= w {
            let d = *cnt / w;
            *cnt -= d * w;
            *cwnd += d;
        }
    }

    /// Congestion avoidance for `acked` segments (cwnd-limited, past slow
    /// start): Reno's one segment per window, or CUBIC's target.
    pub fn cong_avoid(&mut self, now: Instant, cwnd: &mut u32, acked: u32) {
        let w = match &mut self.ca {
            // BBR sets the window itself (tcp_cc_bbr_ack).
            Ca::Reno { .. } | Ca::BbrNew { .. } | Ca::Bbr(_) => *cwnd,
            Ca::Cubic { cubic, .. } => {
                cubic.update(now, *cwnd, acked);
                cubic.cnt
            }
        };
        self.avoid_ai(cwnd, w, acked);
    }

    /// The slow-start threshold after a loss (Reno: half, CUBIC: beta).
    pub fn ssthresh(&mut self, cwnd: u32) -> u32 {
        match &mut self.ca {
            Ca::Reno { .. } => (cwnd / 2).max(2),
            Ca::Cubic { cubic, .. } => cubic.ssthresh(cwnd),
            // BBR keeps ssthresh (tcp_cc_ssthresh asks it first).
            Ca::BbrNew { .. } | Ca::Bbr(_) => cwnd,
        }
    }

    /// An RTT sample from an ACK (CUBIC's delay_min and HyStart). Returns
    /// the new ssthresh (in segments) when HyStart ends slow start.
    pub fn acked(
        &mut self,
        rtt: Duration,
        cwnd: u32,
        in_ss: bool,
        snd_una: Seq,
        snd_nxt: Seq,
    ) -> Option<u32> {
        let Ca::Cubic { cubic: c, .. } = &mut self.ca else {
            return None;
        };
        let rtt_us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX).max(1);
        if c.delay_min == 0 || c.delay_min > rtt_us {
            c.delay_min = rtt_us;
        }
        if c.found || !in_ss || cwnd < HYSTART_LOW_WINDOW {
            return None;
        }
        // hystart_update, delay detector: a new round at each window.
        if !c.in_round || snd_una.gt(c.end_seq) {
            c.in_round = true;
            c.end_seq = snd_nxt;
            c.curr_rtt = 0;
            c.sample_cnt = 0;
        }
        if c.curr_rtt == 0 || c.curr_rtt > rtt_us {
            c.curr_rtt = rtt_us;
        }
        if c.sample_cnt < HYSTART_MIN_SAMPLES {
            c.sample_cnt += 1;
            return None;
        }
        let min = Duration::from_micros(c.delay_min.into());
        let thresh = (min / 8).clamp(Duration::from_millis(4), Duration::from_millis(16));
        if Duration::from_micros(c.curr_rtt.into()) > min + thresh {
            c.found = true;
            return Some(cwnd);
        }
        None
    }

    /// A retransmission timeout: CUBIC starts over (bictcp_state CA_Loss).
    pub fn on_loss_timeout(&mut self) {
        if let Ca::Cubic { cubic: c, .. } = &mut self.ca {
            let keep = c.delay_min;
            *c = Cubic {
                delay_min: keep,
                ..Cubic::default()
            };
        }
        *self.cwnd_cnt() = 0;
    }
}

impl Cubic {
    /// Linux's bictcp_recalc_ssthresh with fast convergence.
    fn ssthresh(&mut self, cwnd: u32) -> u32 {
        self.epoch_start = None;
        self.last_max_cwnd = if cwnd < self.last_max_cwnd {
            ((cwnd as u64 * (BETA_SCALE + BETA)) / (2 * BETA_SCALE)) as u32
        } else {
            cwnd
        };
        ((cwnd as u64 * BETA / BETA_SCALE) as u32).max(2)
    }

    /// Linux's bictcp_update: `cnt`, the segments to acknowledge per
    /// window increase, from the cubic target one RTT ahead and the
    /// TCP-friendly estimate.
    fn update(&mut self, now: Instant, cwnd: u32, acked: u32) {
        self.ack_cnt += acked;
        if self.last_cwnd == cwnd
            && self
                .last_time
                .is_some_and(|t| now.saturating_duration_since(t) <= Duration::from_millis(31))
        {
            return;
        }
        if !(self.epoch_start.is_some() && self.last_time == Some(now)) {
            self.last_cwnd = cwnd;
            self.last_time = Some(now);
            if self.epoch_start.is_none() {
                self.epoch_start = Some(now);
                self.ack_cnt = acked;
                self.tcp_cwnd = cwnd;
                if self.last_max_cwnd <= cwnd {
                    self.k = 0;
                    self.origin_point = cwnd;
                } else {
                    let k = cbrt(CUBE_FACTOR * (self.last_max_cwnd - cwnd) as u64);
                    self.k = u32::try_from(k).unwrap_or(u32::MAX);
                    self.origin_point = self.last_max_cwnd;
                }
            }
            // Time since the epoch plus the minimum RTT, in 1/1024 s.
            let since = now.saturating_duration_since(self.epoch_start.unwrap_or(now));
            let t = ((since + Duration::from_micros(self.delay_min.into())).as_micros() as u64
                * 1024)
                / 1_000_000;
            let k = u64::from(self.k);
            let offs = t.abs_diff(k);
            let delta = (CUBE_RTT_SCALE * offs * offs * offs) >> 40;
            let target = if t < k {
                (self.origin_point as u64).saturating_sub(delta)
            } else {
                self.origin_point as u64 + delta
            };
            self.cnt = if target > cwnd as u64 {
                (cwnd as u64 / (target - cwnd as u64)).max(1) as u32
            } else {
                100 * cwnd
            };
            if self.last_max_cwnd == 0 && self.cnt > 20 {
                self.cnt = 20;
            }
        }
        // TCP friendliness: never slower than Reno would be.
        let scale = 8 * (BETA_SCALE + BETA) / 3 / (BETA_SCALE - BETA);
        let delta = ((cwnd as u64 * scale) >> 3).max(1) as u32;
        while self.ack_cnt > delta {
            self.ack_cnt -= delta;
            self.tcp_cwnd += 1;
        }
        if self.tcp_cwnd > cwnd {
            let max_cnt = cwnd / (self.tcp_cwnd - cwnd);
            self.cnt = self.cnt.min(max_cnt);
        }
        self.cnt = self.cnt.max(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_linux_names() {
        assert_eq!(CcAlgo::from_name("cubic"), Some(CcAlgo::Cubic));
        assert_eq!(CcAlgo::from_name("reno").map(CcAlgo::name), Some("reno"));
        assert_eq!(CcAlgo::from_name("bbr"), Some(CcAlgo::Bbr));
        assert_eq!(CcAlgo::from_name("vegas"), None);
    }

    #[test]
    fn cubic_backs_off_to_beta_and_regrows_to_the_old_window() {
        let mut cc = CongCtl::default();
        assert_eq!(cc.ssthresh(100), 70, "beta 717/1024");
        assert_eq!(cc.ssthresh(100), 70);
        // Fast convergence: a loss below the last maximum remembers less.
        let last_max = |cc: &CongCtl| match &cc.ca {
            Ca::Cubic { cubic, .. } => cubic.last_max_cwnd,
            _ => unreachable!("CUBIC"),
        };
        assert_eq!(last_max(&cc), 100);
        cc.ssthresh(80);
        assert_eq!(last_max(&cc), 68, "80 * (1 + beta) / 2");
        // Regrowth: concave towards the old maximum, one RTT at a time.
        let mut cc = CongCtl::default();
        cc.ssthresh(100);
        let mut cwnd = 70;
        let rtt = Duration::from_millis(100);
        cc.acked(rtt, cwnd, false, Seq(0), Seq(0));
        let mut now = Instant::from_millis(1000);
        let mut per_rtt = Vec::new();
        for _ in 0..80 {
            let before = cwnd;
            for _ in 0..before {
                cc.cong_avoid(now, &mut cwnd, 1);
            }
            now = now + rtt;
            per_rtt.push(cwnd - before);
        }
        // K = cbrt((100 - 70) / 0.4) = 4.2 s: fast growth, a plateau
        // around the old maximum near K, then faster again.
        assert!(cwnd > 100, "past the old maximum: {cwnd}");
        let sum = |r: std::ops::Range<usize>| per_rtt[r].iter().sum::<u32>();
        assert!(sum(0..10) > 2 * sum(30..40), "concave: {per_rtt:?}");
        assert!(sum(70..80) > 2 * sum(30..40), "convex: {per_rtt:?}");
    }

    #[test]
    fn reno_adds_one_segment_per_window() {
        let mut cc = CongCtl::new(CcAlgo::Reno);
        let mut cwnd = 10;
        for _ in 0..10 {
            cc.cong_avoid(Instant::ZERO, &mut cwnd, 1);
        }
        assert_eq!(cwnd, 11);
        assert_eq!(cc.ssthresh(11), 5);
    }

    #[test]
    fn hystart_ends_slow_start_when_the_round_rtt_grows() {
        let mut cc = CongCtl::default();
        let base = Duration::from_millis(20);
        assert_eq!(cc.acked(base, 20, true, Seq(0), Seq(1000)), None);
        // A new round with RTTs 20 + 5 ms (> 20/8 clamped to 4 ms).
        let mut out = None;
        for i in 0..9 {
            out = out.or(cc.acked(
                base + Duration::from_millis(5),
                20 + i,
                true,
                Seq(1001),
                Seq(5000),
            ));
        }
        assert_eq!(out, Some(28));
        // Within the threshold it goes on.
        let mut cc = CongCtl::default();
        cc.acked(base, 20, true, Seq(0), Seq(1000));
        for i in 0..20 {
            assert_eq!(
                cc.acked(
                    base + Duration::from_millis(3),
                    20 + i,
                    true,
                    Seq(1001),
                    Seq(5000)
                ),
                None
            );
        }
    }
}
