//! BBR congestion control (v1, as Linux 6.x's tcp_bbr.c): a model of the
//! path from the delivery-rate samples (tcp_rate) — the bottleneck
//! bandwidth as a windowed maximum over 10 rounds, the round-trip
//! propagation time as a 10-second minimum — and a state machine that
//! paces at a gain times the bandwidth and bounds the flight at a gain
//! times the BDP:
//!
//! - STARTUP: gain 2/ln2 until three rounds in a row grow the bandwidth
//!   by less than 25% (the pipe is full);
//! - DRAIN: pacing gain ln2/2 until the flight is down to one BDP;
//! - PROBE_BW: an 8-phase pacing-gain cycle 5/4, 3/4, 1 x 6, one phase a
//!   min_rtt, starting at a random phase other than 3/4;
//! - PROBE_RTT: when the min_rtt is 10 s old, cwnd 4 for max(200 ms, one
//!   round), then back.
//!
//! Also kept: the long-term (policer) bandwidth, the ACK-aggregation
//! allowance, packet conservation in the first round of recovery, the
//! restart from idle. Units are Linux's: bandwidth in segments per
//! microsecond << 24, gains << 8, windows in segments. The engine is pure
//! state; `tcp_cc_bbr` applies it to a TcpCb, `tcp_pace` paces by it.

use std::time::Duration;

use super::tcp_rate_var::RateSample;
use super::win_minmax::WinMax;
use crate::time::Instant;

const BW_SCALE: u32 = 24;
const BW_UNIT: u64 = 1 << BW_SCALE;
const BBR_SCALE: u32 = 8;
const BBR_UNIT: u32 = 1 << BBR_SCALE;

/// The pacing-gain cycle of PROBE_BW.
const CYCLE_LEN: u8 = 8;
const PACING_GAIN: [u32; CYCLE_LEN as usize] = [
    BBR_UNIT * 5 / 4,
    BBR_UNIT * 3 / 4,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
];
/// The random start phase is one of the last 7 (never the 3/4 phase).
const CYCLE_RAND: u32 = 7;
/// The bandwidth filter's window, in rounds.
const BW_RTTS: u32 = CYCLE_LEN as u32 + 2;
const MIN_RTT_WIN: Duration = Duration::from_secs(10);
const PROBE_RTT_MODE: Duration = Duration::from_millis(200);
/// 2/ln(2), ln(2)/2 and 2, scaled by BBR_UNIT.
const HIGH_GAIN: u32 = BBR_UNIT * 2885 / 1000 + 1;
const DRAIN_GAIN: u32 = BBR_UNIT * 1000 / 2885;
const CWND_GAIN: u32 = BBR_UNIT * 2;
pub const CWND_MIN_TARGET: u32 = 4;
/// Full pipe: three rounds without 25% growth.
const FULL_BW_THRESH: u32 = BBR_UNIT * 5 / 4;
const FULL_BW_CNT: u8 = 3;
/// Pacing 1% under the estimate.
const PACING_MARGIN_PERCENT: u64 = 1;
/// Below this rate (bits per second) one segment per TSO burst.
const MIN_TSO_RATE: u64 = 1_200_000;
/// Long-term bandwidth sampling (policer detection).
const LT_INTVL_MIN_RTTS: u32 = 4;
const LT_LOSS_THRESH: u32 = 50;
const LT_BW_RATIO: u64 = (BBR_UNIT / 8) as u64;
const LT_BW_DIFF: u64 = 4000 / 8;
const LT_BW_MAX_RTTS: u32 = 48;
/// ACK aggregation.
const EXTRA_ACKED_GAIN: u32 = BBR_UNIT;
const EXTRA_ACKED_WIN_RTTS: u32 = 5;
const ACK_EPOCH_ACKED_RESET_THRESH: u32 = 1 << 20;
const EXTRA_ACKED_MAX_US: u64 = 100_000;
/// Linux's TCP_INIT_CWND.
const TCP_INIT_CWND: u32 = 10;
/// The largest TSO burst, bytes (GSO_LEGACY_MAX_SIZE less headers).
const TSO_MAX_BYTES: u64 = 65536 - 1 - 320;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BbrMode {
    Startup,
    Drain,
    ProbeBw,
    ProbeRtt,
}

/// The congestion state BBR sees (Linux's tcp_ca_state, as far as BBR
/// tells them apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaPhase {
    Open,
    Recovery,
    Loss,
}

/// What one ACK gives BBR of the connection besides the rate sample.
#[derive(Clone, Copy, Debug)]
pub struct BbrAck {
    pub now: Instant,
    /// tp.delivered after the ACK, and when the latest delivery was.
    pub delivered: u32,
    /// Segments in flight after the ACK.
    pub in_flight: u32,
    pub ca: CaPhase,
    pub mss: usize,
}

/// BBR's per-connection state (Linux's struct bbr), inline in the
/// TcpCb's congestion state (`CongCtl`, as Linux's icsk_ca_priv) while
/// BBR runs: 136 bytes, every connection pays for it, so it is packed as
/// Linux packs its own. Bandwidths are u32 in Linux's units (segments per
/// microsecond << 24; a sample above u32 saturates, 256 segments per
/// microsecond), the small counters and flags share three bytes and a
/// u32, the ACK-aggregation maxima are u16 (saturating) and one stamp
/// serves two modes (`phase_stamp`). What Linux keeps elsewhere is here
/// too: the pacing clock (tcp_wstamp_ns, the pacing timer,
/// sk_pacing_rate), the latest delivery time, the losses since the
/// long-term interval began, the random seed, and CongCtl's
/// fractional-window counter (it fills the last bytes).
#[derive(Clone, Debug)]
pub struct Bbr {
    pub mode: BbrMode,
    /// Bottleneck bandwidth filter, time in rounds (rtt_cnt).
    bw: WinMax,
    rtt_cnt: u32,
    next_rtt_delivered: u32,
    /// Minimum RTT (microseconds; u32::MAX: none) and when it was taken.
    pub min_rtt_us: u32,
    min_rtt_stamp: Instant,
    /// In PROBE_BW when the current phase began (Linux's cycle_mstamp);
    /// in PROBE_RTT when it may end (probe_rtt_done_stamp, None until the
    /// flight is down to 4). Neither is read in any other mode, and each
    /// mode sets its own on entry.
    phase_stamp: Option<Instant>,
    full_bw: u32,
    prior_cwnd: u32,
    /// Long-term (policed) bandwidth; the interval's start as delivered
    /// segments, losses since (Linux's tp->lost less lt_last_lost), and
    /// its age behind `delivered_mstamp` in microseconds (saturating: only
    /// differences from it are read, and one over u32::MAX / 1000 ms ends
    /// the interval).
    lt_bw: u32,
    lt_last_delivered: u32,
    lt_lost: u32,
    lt_last_age_us: u32,
    /// When data was last delivered (Linux's tp->delivered_mstamp).
    delivered_mstamp: Instant,
    /// ACK aggregation: the epoch's start, the maxima of two windows of 5
    /// rounds (segments; u16 as Linux's, saturating), and `ackw`: the
    /// segments acknowledged in the epoch (20 bits), the rounds in the
    /// window (5), which window (1) and the long-term rounds (6).
    ack_epoch_mstamp: Instant,
    extra_acked: [u16; 2],
    ackw: u32,
    /// Flags (`F_*`), then prev_ca (2 bits), cycle_idx (3) and the pacing
    /// gain's code (3), then the cwnd gain's code (2), full_bw_cnt (2)
    /// and the data segments sent, up to 15 (4).
    flags: u8,
    phase: u8,
    counts: u8,
    /// The pacing rate, bytes per second (Linux's sk_pacing_rate).
    pub pacing_rate: u64,
    /// Internal pacing (tcp_pace.rs): the earliest departure of the next
    /// segment in nanoseconds (Linux's tcp_wstamp_ns; the clock's
    /// microseconds times 1000 plus what carries below one), and the
    /// timer armed for it.
    wstamp_ns: u64,
    pub pace_timer: Option<Instant>,
    /// A seed for the random start phase of PROBE_BW.
    rand: u32,
    /// CongCtl's fractional-window counter (Linux's snd_cwnd_cnt), here
    /// so that it takes the struct's last four bytes.
    pub(crate) cwnd_cnt: u32,
}

const F_ROUND_START: u8 = 1;
const F_PROBE_RTT_ROUND_DONE: u8 = 1 << 1;
const F_FULL_BW_REACHED: u8 = 1 << 2;
const F_PACKET_CONSERVATION: u8 = 1 << 3;
const F_IDLE_RESTART: u8 = 1 << 4;
const F_HAS_SEEN_RTT: u8 = 1 << 5;
const F_LT_IS_SAMPLING: u8 = 1 << 6;
const F_LT_USE_BW: u8 = 1 << 7;

/// The pacing gains BBR uses, by their 3-bit code; the cwnd gains by
/// their 2-bit code.
const PACING_GAINS: [u32; 5] = [
    BBR_UNIT,
    HIGH_GAIN,
    DRAIN_GAIN,
    BBR_UNIT * 5 / 4,
    BBR_UNIT * 3 / 4,
];
const CWND_GAINS: [u32; 3] = [BBR_UNIT, HIGH_GAIN, CWND_GAIN];

/// `ackw`'s fields: (shift, width).
const ACK_EPOCH_ACKED: (u32, u32) = (0, 20);
const EXTRA_ACKED_WIN_RTTS_F: (u32, u32) = (20, 5);
const EXTRA_ACKED_WIN_IDX: (u32, u32) = (25, 1);
const LT_RTT_CNT: (u32, u32) = (26, 6);

fn field(w: u32, (shift, width): (u32, u32)) -> u32 {
    (w >> shift) & ((1 << width) - 1)
}

fn set_field(w: &mut u32, (shift, width): (u32, u32), v: u32) {
    let mask = ((1u32 << width) - 1) << shift;
    debug_assert!(v < 1 << width, "{v} does not fit {width} bits");
    *w = (*w & !mask) | ((v << shift) & mask);
}

fn code_of(table: &[u32], g: u32) -> u8 {
    let c = table.iter().position(|&x| x == g);
    debug_assert!(c.is_some(), "gain {g} has no code");
    c.unwrap_or(0) as u8
}

/// A bandwidth in Linux's u32 (saturating).
fn bw32(bw: u64) -> u32 {
    bw.min(u64::from(u32::MAX)) as u32
}

/// Linux's bbr_init, for a connection with `cwnd` segments, its smoothed
/// and minimum RTT so far, and `delivered` segments delivered.
pub struct BbrInit {
    pub now: Instant,
    pub cwnd: u32,
    pub srtt_us: Option<u32>,
    pub min_rtt_us: Option<u32>,
    pub delivered: u32,
    pub mss: usize,
    pub seed: u32,
}

impl Bbr {
    pub fn new(i: BbrInit) -> Bbr {
        let mut b = Bbr {
            mode: BbrMode::Startup,
            bw: WinMax::default(),
            rtt_cnt: 0,
            next_rtt_delivered: i.delivered,
            min_rtt_us: i.min_rtt_us.unwrap_or(u32::MAX),
            min_rtt_stamp: i.now,
            phase_stamp: Some(i.now),
            full_bw: 0,
            prior_cwnd: 0,
            lt_bw: 0,
            lt_last_delivered: i.delivered,
            lt_lost: 0,
            lt_last_age_us: 0,
            delivered_mstamp: i.now,
            ack_epoch_mstamp: i.now,
            extra_acked: [0; 2],
            ackw: 0,
            flags: 0,
            phase: 0,
            counts: 0,
            pacing_rate: 0,
            wstamp_ns: 0,
            pace_timer: None,
            rand: i.seed | 1,
            cwnd_cnt: 0,
        };
        b.set_pacing_gain(HIGH_GAIN);
        b.set_cwnd_gain(HIGH_GAIN);
        b.set_wstamp(i.now, 0);
        b.init_pacing_rate_from_rtt(i.cwnd, i.srtt_us, i.mss);
        b
    }

    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    pub fn full_bw_reached(&self) -> bool {
        self.flag(F_FULL_BW_REACHED)
    }

    fn prev_ca(&self) -> CaPhase {
        match self.phase & 3 {
            0 => CaPhase::Open,
            1 => CaPhase::Recovery,
            _ => CaPhase::Loss,
        }
    }

    fn set_prev_ca(&mut self, ca: CaPhase) {
        self.phase = (self.phase & !3) | ca as u8;
    }

    /// The PROBE_BW phase, 0..8.
    pub fn cycle_idx(&self) -> u8 {
        (self.phase >> 2) & 7
    }

    fn set_cycle_idx(&mut self, i: u8) {
        self.phase = (self.phase & !(7 << 2)) | ((i & 7) << 2);
    }

    pub fn pacing_gain(&self) -> u32 {
        PACING_GAINS[usize::from(self.phase >> 5).min(PACING_GAINS.len() - 1)]
    }

    fn set_pacing_gain(&mut self, g: u32) {
        self.phase = (self.phase & 0x1f) | (code_of(&PACING_GAINS, g) << 5);
    }

    pub fn cwnd_gain(&self) -> u32 {
        CWND_GAINS[usize::from(self.counts & 3).min(CWND_GAINS.len() - 1)]
    }

    fn set_cwnd_gain(&mut self, g: u32) {
        self.counts = (self.counts & !3) | code_of(&CWND_GAINS, g);
    }

    fn full_bw_cnt(&self) -> u8 {
        (self.counts >> 2) & 3
    }

    fn set_full_bw_cnt(&mut self, n: u8) {
        self.counts = (self.counts & !(3 << 2)) | ((n & 3) << 2);
    }

    /// Data segments sent so far, counted up to 15 (pacing starts after
    /// the first 10).
    pub fn segs_out(&self) -> u32 {
        u32::from(self.counts >> 4)
    }

    pub fn add_segs_out(&mut self, n: u32) {
        let v = self.segs_out().saturating_add(n).min(15) as u8;
        self.counts = (self.counts & 0x0f) | (v << 4);
    }

    /// The earliest departure of the next paced segment, and the
    /// nanoseconds past it that carry.
    pub fn wstamp(&self) -> Instant {
        Instant::from_micros(self.wstamp_ns / 1000)
    }

    pub fn wstamp_frac_ns(&self) -> u32 {
        (self.wstamp_ns % 1000) as u32
    }

    pub fn set_wstamp(&mut self, t: Instant, frac_ns: u32) {
        self.wstamp_ns = t
            .total_micros()
            .saturating_mul(1000)
            .saturating_add(u64::from(frac_ns));
    }

    fn ack_epoch_acked(&self) -> u32 {
        field(self.ackw, ACK_EPOCH_ACKED)
    }

    fn set_ack_epoch_acked(&mut self, v: u32) {
        set_field(&mut self.ackw, ACK_EPOCH_ACKED, v);
    }

    fn lt_rtt_cnt(&self) -> u32 {
        field(self.ackw, LT_RTT_CNT)
    }

    fn set_lt_rtt_cnt(&mut self, v: u32) {
        set_field(&mut self.ackw, LT_RTT_CNT, v);
    }

    /// Linux's cycle_mstamp (PROBE_BW only).
    fn cycle_mstamp(&self) -> Instant {
        self.phase_stamp.unwrap_or(Instant::ZERO)
    }

    /// The bandwidth the model uses: the long-term one while policed.
    pub fn bw(&self) -> u64 {
        if self.flag(F_LT_USE_BW) {
            u64::from(self.lt_bw)
        } else {
            self.max_bw()
        }
    }

    pub fn max_bw(&self) -> u64 {
        u64::from(self.bw.get())
    }

    /// Bytes per second of `bw` at `gain`, 1% under (bbr_rate_bytes_per_sec).
    fn rate_bytes_per_sec(bw: u64, gain: u32, mss: usize) -> u64 {
        let r = (u128::from(bw) * mss as u128 * u128::from(gain)) >> BBR_SCALE;
        let r = r * (1_000_000 / 100 * (100 - PACING_MARGIN_PERCENT)) as u128;
        (r >> BW_SCALE).min(u64::MAX as u128) as u64
    }

    /// The first pacing rate: high_gain times cwnd over SRTT (1 ms before
    /// any RTT sample).
    fn init_pacing_rate_from_rtt(&mut self, cwnd: u32, srtt_us: Option<u32>, mss: usize) {
        let rtt_us = match srtt_us {
            Some(s) => {
                self.set_flag(F_HAS_SEEN_RTT, true);
                s.max(1)
            }
            None => 1000,
        };
        let bw = u64::from(cwnd) * BW_UNIT / u64::from(rtt_us);
        self.pacing_rate = Self::rate_bytes_per_sec(bw, HIGH_GAIN, mss);
    }

    /// Pace at `gain` times `bw`; before the pipe is full only ever faster.
    fn set_pacing_rate(&mut self, bw: u64, gain: u32, srtt_us: Option<u32>, cwnd: u32, mss: usize) {
        let rate = Self::rate_bytes_per_sec(bw, gain, mss);
        if !self.flag(F_HAS_SEEN_RTT) && srtt_us.is_some() {
            self.init_pacing_rate_from_rtt(cwnd, srtt_us, mss);
        }
        if self.full_bw_reached() || rate > self.pacing_rate {
            self.pacing_rate = rate;
        }
    }

    /// Segments per burst (Linux's bbr_tso_segs_goal with its
    /// min_tso_segs): about a millisecond at the pacing rate, at least 2
    /// (1 below 1.2 Mbit/s), at most 127.
    pub fn tso_segs_goal(&self, mss: usize) -> u32 {
        let min = if self.pacing_rate < MIN_TSO_RATE / 8 {
            1
        } else {
            2
        };
        let bytes = (self.pacing_rate >> 10).min(TSO_MAX_BYTES);
        let segs = (bytes / mss.max(1) as u64) as u32;
        segs.max(min).min(0x7f)
    }

    /// Linux's bbr_bdp: `gain` times bw times min_rtt, in segments,
    /// rounded up; the initial window while there is no RTT.
    fn bdp(&self, bw: u64, gain: u32) -> u32 {
        if self.min_rtt_us == u32::MAX {
            return TCP_INIT_CWND;
        }
        let w = u128::from(bw) * u128::from(self.min_rtt_us);
        let bdp = ((w * u128::from(gain)) >> BBR_SCALE).div_ceil(u128::from(BW_UNIT));
        bdp.min(u32::MAX as u128) as u32
    }

    /// Room for the bursts the sender and receiver make (three bursts),
    /// even, two more in the 5/4 phase (bbr_quantization_budget).
    fn quantization_budget(&self, cwnd: u32, mss: usize) -> u32 {
        let cwnd = cwnd.saturating_add(3 * self.tso_segs_goal(mss));
        let cwnd = cwnd.saturating_add(1) & !1;
        if self.mode == BbrMode::ProbeBw && self.cycle_idx() == 0 {
            cwnd + 2
        } else {
            cwnd
        }
    }

    /// The flight `gain` times the BDP allows (bbr_inflight).
    pub fn inflight(&self, bw: u64, gain: u32, mss: usize) -> u32 {
        self.quantization_budget(self.bdp(bw, gain), mss)
    }

    /// The flight once what is scheduled to leave by the earliest
    /// departure time has left (bbr_packets_in_net_at_edt).
    fn packets_in_net_at_edt(&self, now: Instant, in_flight: u32, mss: usize) -> u32 {
        let wait = self.wstamp().saturating_duration_since(now).as_micros() as u64;
        let interval_delivered = ((u128::from(self.bw()) * u128::from(wait)) >> BW_SCALE) as u64;
        let mut at_edt = u64::from(in_flight);
        if self.pacing_gain() > BBR_UNIT {
            at_edt += u64::from(self.tso_segs_goal(mss));
        }
        at_edt.saturating_sub(interval_delivered) as u32
    }

    fn extra_acked(&self) -> u32 {
        u32::from(self.extra_acked[0].max(self.extra_acked[1]))
    }

    /// The window's allowance for ACK aggregation, once the pipe is full.
    fn ack_aggregation_cwnd(&self) -> u32 {
        if !self.full_bw_reached() {
            return 0;
        }
        let max_aggr = u128::from(self.bw()) * u128::from(EXTRA_ACKED_MAX_US) / u128::from(BW_UNIT);
        let aggr = (u64::from(EXTRA_ACKED_GAIN) * u64::from(self.extra_acked())) >> BBR_SCALE;
        (u128::from(aggr).min(max_aggr)) as u32
    }

    /// Remember the window before recovery or PROBE_RTT (bbr_save_cwnd).
    pub fn save_cwnd(&mut self, cwnd: u32) {
        if self.prev_ca() < CaPhase::Recovery && self.mode != BbrMode::ProbeRtt {
            self.prior_cwnd = cwnd;
        } else {
            self.prior_cwnd = self.prior_cwnd.max(cwnd);
        }
    }

    /// An RTO (bbr_set_state(TCP_CA_Loss)): the round ends, the full-pipe
    /// estimate starts over, and the loss counts for the policer check.
    pub fn on_loss(&mut self, delivered: u32) {
        self.set_prev_ca(CaPhase::Loss);
        self.full_bw = 0;
        self.set_flag(F_ROUND_START, true);
        let rs = RateSample {
            losses: 1,
            ..RateSample::NONE
        };
        self.lt_bw_sampling(&rs, delivered);
    }

    /// The window was restored by an undo (bbr_undo_cwnd).
    pub fn on_undo(&mut self, delivered: u32) {
        self.full_bw = 0;
        self.set_full_bw_cnt(0);
        self.reset_lt_bw_sampling(delivered);
    }

    /// Sending starts with nothing in flight (CA_EVENT_TX_START) while
    /// the application limited the connection: restart from idle.
    pub fn on_tx_start(&mut self, now: Instant, app_limited: bool, mss: usize, cwnd: u32) {
        if !app_limited {
            return;
        }
        self.set_flag(F_IDLE_RESTART, true);
        self.ack_epoch_mstamp = now;
        self.set_ack_epoch_acked(0);
        match self.mode {
            BbrMode::ProbeBw => self.set_pacing_rate(self.bw(), BBR_UNIT, None, cwnd, mss),
            BbrMode::ProbeRtt => {
                let _ = self.check_probe_rtt_done(now, cwnd);
            }
            _ => {}
        }
    }

    /// Linux's bbr_main for one ACK: update the model from `rs`, then the
    /// pacing rate and the window. `cwnd` (segments) is the window before
    /// the ACK; returns the new one, and sets `app_limited` (Linux's
    /// tp->app_limited) and `ssthresh` (segments) when BBR changes them.
    pub fn on_ack(
        &mut self,
        a: &BbrAck,
        rs: &RateSample,
        cwnd: u32,
        srtt_us: Option<u32>,
        app_limited: &mut u32,
        ssthresh: &mut Option<u32>,
    ) -> u32 {
        self.lt_lost = self.lt_lost.wrapping_add(rs.losses);
        if rs.acked_sacked > 0 {
            let moved = a.now.saturating_duration_since(self.delivered_mstamp);
            let moved = u32::try_from(moved.as_micros()).unwrap_or(u32::MAX);
            self.lt_last_age_us = self.lt_last_age_us.saturating_add(moved);
            self.delivered_mstamp = a.now;
        }
        let mut cwnd = cwnd;
        self.update_bw(rs, a.delivered);
        self.update_ack_aggregation(rs, cwnd);
        self.update_cycle_phase(a, rs);
        self.check_full_bw_reached(rs);
        self.check_drain(a, ssthresh);
        self.update_min_rtt(a, rs, &mut cwnd, app_limited);
        self.update_gains();
        let bw = self.bw();
        self.set_pacing_rate(bw, self.pacing_gain(), srtt_us, cwnd, a.mss);
        self.set_cwnd(a, rs, bw, cwnd)
    }

    /// A round ends when a segment sent after the round began is
    /// delivered; then the sample enters the bandwidth filter (an
    /// application-limited one only if it is a new maximum).
    fn update_bw(&mut self, rs: &RateSample, delivered: u32) {
        self.set_flag(F_ROUND_START, false);
        let (Some(d), Some(i)) = (rs.delivered, rs.interval_us) else {
            return;
        };
        if i == 0 {
            return;
        }
        if (rs.prior_delivered.wrapping_sub(self.next_rtt_delivered) as i32) >= 0 {
            self.next_rtt_delivered = delivered;
            self.rtt_cnt = self.rtt_cnt.wrapping_add(1);
            self.set_flag(F_ROUND_START, true);
            self.set_flag(F_PACKET_CONSERVATION, false);
        }
        self.lt_bw_sampling(rs, delivered);
        let bw = u64::from(d) * BW_UNIT / i;
        if !rs.is_app_limited || bw >= self.max_bw() {
            self.bw.update(BW_RTTS, self.rtt_cnt, bw32(bw));
        }
    }

    /// How much more the peer acknowledged than the bandwidth explains
    /// (bbr_update_ack_aggregation): the window makes room for it.
    fn update_ack_aggregation(&mut self, rs: &RateSample, cwnd: u32) {
        if rs.acked_sacked == 0 || rs.delivered.is_none() || rs.interval_us.is_none_or(|i| i == 0) {
            return;
        }
        if self.flag(F_ROUND_START) {
            let mut rtts = (field(self.ackw, EXTRA_ACKED_WIN_RTTS_F) + 1).min(0x1f);
            if rtts >= EXTRA_ACKED_WIN_RTTS {
                rtts = 0;
                let idx = field(self.ackw, EXTRA_ACKED_WIN_IDX) ^ 1;
                set_field(&mut self.ackw, EXTRA_ACKED_WIN_IDX, idx);
                self.extra_acked[idx as usize] = 0;
            }
            set_field(&mut self.ackw, EXTRA_ACKED_WIN_RTTS_F, rtts);
        }
        let epoch_us = self
            .delivered_mstamp
            .saturating_duration_since(self.ack_epoch_mstamp)
            .as_micros() as u64;
        let mut expected = (u128::from(self.bw()) * u128::from(epoch_us) / u128::from(BW_UNIT))
            .min(u32::MAX as u128) as u32;
        if self.ack_epoch_acked() <= expected
            || self.ack_epoch_acked() + rs.acked_sacked >= ACK_EPOCH_ACKED_RESET_THRESH
        {
            self.set_ack_epoch_acked(0);
            self.ack_epoch_mstamp = self.delivered_mstamp;
            expected = 0;
        }
        let acked = (self.ack_epoch_acked() + rs.acked_sacked).min(0xfffff);
        self.set_ack_epoch_acked(acked);
        let extra = (acked - expected).min(cwnd).min(u32::from(u16::MAX)) as u16;
        let slot = &mut self.extra_acked[field(self.ackw, EXTRA_ACKED_WIN_IDX) as usize];
        *slot = (*slot).max(extra);
    }

    /// PROBE_BW's phases: each lasts at least a min_rtt; 5/4 goes on
    /// until a loss or the flight reaches 5/4 BDP; 3/4 ends early once
    /// the flight is down to one BDP.
    fn update_cycle_phase(&mut self, a: &BbrAck, rs: &RateSample) {
        if self.mode != BbrMode::ProbeBw {
            return;
        }
        let full_length = self
            .delivered_mstamp
            .saturating_duration_since(self.cycle_mstamp())
            .as_micros()
            > u128::from(self.min_rtt_us);
        let pacing_gain = self.pacing_gain();
        let next = if pacing_gain == BBR_UNIT {
            full_length
        } else {
            let inflight = self.packets_in_net_at_edt(a.now, rs.prior_in_flight, a.mss);
            let bw = self.max_bw();
            if pacing_gain > BBR_UNIT {
                full_length && (rs.losses > 0 || inflight >= self.inflight(bw, pacing_gain, a.mss))
            } else {
                full_length || inflight <= self.inflight(bw, BBR_UNIT, a.mss)
            }
        };
        if next {
            self.advance_cycle_phase();
        }
    }

    fn advance_cycle_phase(&mut self) {
        self.set_cycle_idx((self.cycle_idx() + 1) % CYCLE_LEN);
        self.phase_stamp = Some(self.delivered_mstamp);
    }

    /// Three rounds in a row (not application-limited) that grow the
    /// bandwidth by less than 25%: the pipe is full.
    fn check_full_bw_reached(&mut self, rs: &RateSample) {
        if self.full_bw_reached() || !self.flag(F_ROUND_START) || rs.is_app_limited {
            return;
        }
        let thresh = (u64::from(self.full_bw) * u64::from(FULL_BW_THRESH)) >> BBR_SCALE;
        if self.max_bw() >= thresh {
            self.full_bw = self.bw.get();
            self.set_full_bw_cnt(0);
            return;
        }
        let n = self.full_bw_cnt() + 1;
        self.set_full_bw_cnt(n);
        self.set_flag(F_FULL_BW_REACHED, n >= FULL_BW_CNT);
    }

    /// STARTUP ends in DRAIN once the pipe is full (ssthresh set to one
    /// BDP); DRAIN ends once the flight is down to one BDP.
    fn check_drain(&mut self, a: &BbrAck, ssthresh: &mut Option<u32>) {
        if self.mode == BbrMode::Startup && self.full_bw_reached() {
            self.mode = BbrMode::Drain;
            *ssthresh = Some(self.inflight(self.max_bw(), BBR_UNIT, a.mss));
        }
        if self.mode == BbrMode::Drain
            && self.packets_in_net_at_edt(a.now, a.in_flight, a.mss)
                <= self.inflight(self.max_bw(), BBR_UNIT, a.mss)
        {
            self.reset_probe_bw_mode();
        }
    }

    /// PROBE_BW at a random phase other than 3/4.
    fn reset_probe_bw_mode(&mut self) {
        self.mode = BbrMode::ProbeBw;
        // xorshift32: deterministic per connection.
        let mut x = self.rand;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rand = x;
        self.set_cycle_idx(CYCLE_LEN - 1 - (x % CYCLE_RAND) as u8);
        self.advance_cycle_phase();
    }

    fn reset_mode(&mut self) {
        if self.full_bw_reached() {
            self.reset_probe_bw_mode();
        } else {
            self.mode = BbrMode::Startup;
        }
    }

    /// The min_rtt filter (10 s) and PROBE_RTT: a min_rtt not refreshed
    /// for 10 s sends the connection to cwnd 4 for max(200 ms, a round),
    /// its samples marked application-limited; then the window before it
    /// comes back.
    fn update_min_rtt(
        &mut self,
        a: &BbrAck,
        rs: &RateSample,
        cwnd: &mut u32,
        app_limited: &mut u32,
    ) {
        let expired = a.now > self.min_rtt_stamp + MIN_RTT_WIN;
        if let Some(rtt) = rs.rtt_us {
            let rtt = rtt.min(u64::from(u32::MAX - 1)) as u32;
            if rtt < self.min_rtt_us || expired {
                self.min_rtt_us = rtt;
                self.min_rtt_stamp = a.now;
            }
        }
        if expired && !self.flag(F_IDLE_RESTART) && self.mode != BbrMode::ProbeRtt {
            self.mode = BbrMode::ProbeRtt;
            self.save_cwnd(*cwnd);
            self.phase_stamp = None;
        }
        if self.mode == BbrMode::ProbeRtt {
            // Samples of this mode say nothing about the bandwidth.
            *app_limited = match a.delivered.wrapping_add(a.in_flight) {
                0 => 1,
                n => n,
            };
            if self.phase_stamp.is_none() && a.in_flight <= CWND_MIN_TARGET {
                self.phase_stamp = Some(a.now + PROBE_RTT_MODE);
                self.set_flag(F_PROBE_RTT_ROUND_DONE, false);
                self.next_rtt_delivered = a.delivered;
            } else if self.phase_stamp.is_some() {
                if self.flag(F_ROUND_START) {
                    self.set_flag(F_PROBE_RTT_ROUND_DONE, true);
                }
                if self.flag(F_PROBE_RTT_ROUND_DONE) {
                    *cwnd = self.check_probe_rtt_done(a.now, *cwnd);
                }
            }
        }
        if rs.delivered.is_some_and(|d| d > 0) {
            self.set_flag(F_IDLE_RESTART, false);
        }
    }

    /// PROBE_RTT has lasted long enough: the min_rtt is fresh, the window
    /// before it comes back. Returns the window.
    fn check_probe_rtt_done(&mut self, now: Instant, cwnd: u32) -> u32 {
        // In PROBE_RTT the phase stamp is when it may end.
        if self.phase_stamp.is_none_or(|t| now <= t) {
            return cwnd;
        }
        self.min_rtt_stamp = now;
        self.reset_mode();
        cwnd.max(self.prior_cwnd)
    }

    fn update_gains(&mut self) {
        let (pacing, cwnd) = match self.mode {
            BbrMode::Startup => (HIGH_GAIN, HIGH_GAIN),
            BbrMode::Drain => (DRAIN_GAIN, HIGH_GAIN),
            BbrMode::ProbeBw if self.flag(F_LT_USE_BW) => (BBR_UNIT, CWND_GAIN),
            BbrMode::ProbeBw => (PACING_GAIN[self.cycle_idx() as usize], CWND_GAIN),
            BbrMode::ProbeRtt => (BBR_UNIT, BBR_UNIT),
        };
        self.set_pacing_gain(pacing);
        self.set_cwnd_gain(cwnd);
    }

    /// Recovery's first round conserves packets (the flight plus what
    /// was delivered); leaving recovery or loss restores the window from
    /// before. Returns the window and whether conservation decides it.
    fn recover_or_restore(&mut self, a: &BbrAck, rs: &RateSample, cwnd: u32) -> (u32, bool) {
        let mut cwnd = cwnd;
        if rs.losses > 0 {
            cwnd = cwnd.saturating_sub(rs.losses).max(1);
        }
        let prev_ca = self.prev_ca();
        if a.ca == CaPhase::Recovery && prev_ca != CaPhase::Recovery {
            self.set_flag(F_PACKET_CONSERVATION, true);
            self.next_rtt_delivered = a.delivered;
            cwnd = a.in_flight + rs.acked_sacked;
        } else if prev_ca >= CaPhase::Recovery && a.ca < CaPhase::Recovery {
            cwnd = cwnd.max(self.prior_cwnd);
            self.set_flag(F_PACKET_CONSERVATION, false);
        }
        self.set_prev_ca(a.ca);
        if self.flag(F_PACKET_CONSERVATION) {
            return ((a.in_flight + rs.acked_sacked).max(cwnd), true);
        }
        (cwnd, false)
    }

    /// The window (bbr_set_cwnd): towards cwnd_gain times the BDP plus
    /// the aggregation allowance, growing by what was delivered; at most
    /// 4 in PROBE_RTT.
    fn set_cwnd(&mut self, a: &BbrAck, rs: &RateSample, bw: u64, cwnd: u32) -> u32 {
        let mut cwnd = cwnd;
        let acked = rs.acked_sacked;
        if acked > 0 {
            let (c, conserving) = self.recover_or_restore(a, rs, cwnd);
            cwnd = c;
            if !conserving {
                let mut target = self.bdp(bw, self.cwnd_gain());
                target = target.saturating_add(self.ack_aggregation_cwnd());
                target = self.quantization_budget(target, a.mss);
                if self.full_bw_reached() {
                    cwnd = cwnd.saturating_add(acked).min(target);
                } else if cwnd < target || a.delivered < TCP_INIT_CWND {
                    cwnd = cwnd.saturating_add(acked);
                }
                cwnd = cwnd.max(CWND_MIN_TARGET);
            }
        }
        if self.mode == BbrMode::ProbeRtt {
            cwnd = cwnd.min(CWND_MIN_TARGET);
        }
        cwnd
    }

    fn reset_lt_bw_sampling_interval(&mut self, delivered: u32) {
        self.lt_last_age_us = 0;
        self.lt_last_delivered = delivered;
        self.lt_lost = 0;
        self.set_lt_rtt_cnt(0);
    }

    fn reset_lt_bw_sampling(&mut self, delivered: u32) {
        self.lt_bw = 0;
        self.set_flag(F_LT_USE_BW, false);
        self.set_flag(F_LT_IS_SAMPLING, false);
        self.reset_lt_bw_sampling_interval(delivered);
    }

    /// An interval of steady loss ended at `bw`: two such intervals with
    /// about the same bandwidth (within 1/8 or 4 kbit/s) mean a policer;
    /// pace at their mean.
    fn lt_bw_interval_done(&mut self, bw: u64, delivered: u32) {
        let lt_bw = u64::from(self.lt_bw);
        if lt_bw != 0 {
            let diff = bw.abs_diff(lt_bw);
            // Linux's bbr_rate_bytes_per_sec with its 1% margin, in
            // bytes per second of 1-byte "segments": the diff as a rate.
            let diff_rate = Self::rate_bytes_per_sec(diff, BBR_UNIT, 1);
            if diff * u64::from(BBR_UNIT) <= LT_BW_RATIO * lt_bw || diff_rate <= LT_BW_DIFF {
                self.lt_bw = bw32((bw + lt_bw) >> 1);
                self.set_flag(F_LT_USE_BW, true);
                self.set_pacing_gain(BBR_UNIT);
                self.set_lt_rtt_cnt(0);
                return;
            }
        }
        self.lt_bw = bw32(bw);
        self.reset_lt_bw_sampling_interval(delivered);
    }

    /// Long-term sampling (bbr_lt_bw_sampling): from a loss on, intervals
    /// of 4..16 rounds whose loss rate is at least 20% give long-term
    /// bandwidth samples; after 48 rounds on it, probe again.
    fn lt_bw_sampling(&mut self, rs: &RateSample, delivered: u32) {
        if self.flag(F_LT_USE_BW) {
            if self.mode == BbrMode::ProbeBw && self.flag(F_ROUND_START) {
                self.set_lt_rtt_cnt(self.lt_rtt_cnt() + 1);
                if self.lt_rtt_cnt() >= LT_BW_MAX_RTTS {
                    self.reset_lt_bw_sampling(delivered);
                    self.reset_probe_bw_mode();
                }
            }
            return;
        }
        if !self.flag(F_LT_IS_SAMPLING) {
            if rs.losses == 0 {
                return;
            }
            self.reset_lt_bw_sampling_interval(delivered);
            self.set_flag(F_LT_IS_SAMPLING, true);
        }
        if rs.is_app_limited {
            self.reset_lt_bw_sampling(delivered);
            return;
        }
        if self.flag(F_ROUND_START) {
            self.set_lt_rtt_cnt(self.lt_rtt_cnt() + 1);
        }
        if self.lt_rtt_cnt() < LT_INTVL_MIN_RTTS {
            return;
        }
        if self.lt_rtt_cnt() > 4 * LT_INTVL_MIN_RTTS {
            self.reset_lt_bw_sampling(delivered);
            return;
        }
        if rs.losses == 0 {
            return;
        }
        let lost = self.lt_lost;
        let dlv = delivered.wrapping_sub(self.lt_last_delivered);
        if dlv == 0 || (lost << BBR_SCALE) < LT_LOSS_THRESH * dlv {
            return;
        }
        let t_ms = u64::from(self.lt_last_age_us / 1000);
        if t_ms < 1 {
            return;
        }
        if t_ms >= u64::from(u32::MAX) / 1000 {
            self.reset_lt_bw_sampling(delivered);
            return;
        }
        let bw = u64::from(dlv) * BW_UNIT / (t_ms * 1000);
        self.lt_bw_interval_done(bw, delivered);
    }

    /// TCP_CC_INFO's struct tcp_bbr_info: bandwidth (bytes per second,
    /// low and high words), min_rtt (us), pacing and cwnd gains.
    pub fn cc_info(&self, mss: usize) -> [u8; 20] {
        let bw = (u128::from(self.bw()) * mss as u128 * 1_000_000) >> BW_SCALE;
        let bw = bw.min(u64::MAX as u128) as u64;
        let mut b = [0u8; 20];
        b[0..4].copy_from_slice(&(bw as u32).to_ne_bytes());
        b[4..8].copy_from_slice(&((bw >> 32) as u32).to_ne_bytes());
        b[8..12].copy_from_slice(&self.min_rtt_us.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pacing_gain().to_ne_bytes());
        b[16..20].copy_from_slice(&self.cwnd_gain().to_ne_bytes());
        b
    }
}
