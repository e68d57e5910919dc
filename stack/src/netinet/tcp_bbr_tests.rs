//! BBR's state machine (tcp_bbr.rs) driven by synthetic rate samples on
//! a virtual clock, one ACK per round or per segment: STARTUP's growth
//! and exit, DRAIN to one BDP, PROBE_BW's gain cycle, PROBE_RTT after 10
//! s; and BBR against a bottleneck on a `Pair`, where it keeps the queue
//! near one BDP where CUBIC fills the buffer.

use std::time::Duration;

use super::tcp_bbr::*;
use super::tcp_rate_var::RateSample;
use crate::time::Instant;

const MSS: usize = 1000;
const BW_UNIT: u64 = 1 << 24;
const UNIT: u32 = 256;

/// An engine fed by a model path: `rtt` and a bottleneck of `cap`
/// segments per millisecond; each call to `round` delivers one round
/// trip's worth of ACKs.
struct Run {
    b: Bbr,
    now: Instant,
    delivered: u32,
    cwnd: u32,
    app_limited: u32,
    ssthresh: Option<u32>,
    rtt: Duration,
}

impl Run {
    fn new(rtt: Duration) -> Run {
        let now = Instant::from_millis(1000);
        let b = Bbr::new(BbrInit {
            now,
            cwnd: 10,
            srtt_us: Some(rtt.as_micros() as u32),
            min_rtt_us: Some(rtt.as_micros() as u32),
            delivered: 1,
            mss: MSS,
            seed: 7,
        });
        Run {
            b,
            now,
            delivered: 1,
            cwnd: 10,
            app_limited: 0,
            ssthresh: None,
            rtt,
        }
    }

    /// One ACK delivering `acked` segments, its sample `d` segments over
    /// `interval`, the sampled segment sent when `prior` were delivered.
    fn ack(&mut self, acked: u32, d: u32, interval: Duration, prior: u32, in_flight: u32) {
        self.delivered += acked;
        let rs = RateSample {
            delivered: Some(d),
            interval_us: Some(interval.as_micros() as u64),
            prior_delivered: prior,
            acked_sacked: acked,
            prior_in_flight: in_flight + acked,
            rtt_us: Some(self.rtt.as_micros() as u64),
            ..RateSample::NONE
        };
        let a = BbrAck {
            now: self.now,
            delivered: self.delivered,
            in_flight,
            ca: CaPhase::Open,
            mss: MSS,
        };
        let srtt = Some(self.rtt.as_micros() as u32);
        self.cwnd = self.b.on_ack(
            &a,
            &rs,
            self.cwnd,
            srtt,
            &mut self.app_limited,
            &mut self.ssthresh,
        );
    }

    /// A round trip at `rate` segments per RTT: one ACK for all of it.
    fn round(&mut self, rate: u32, in_flight: u32) {
        self.now = self.now + self.rtt;
        let prior = self.delivered;
        self.ack(rate, rate, self.rtt, prior, in_flight);
    }

    /// The bandwidth estimate in segments per RTT.
    fn bw_per_rtt(&self) -> u64 {
        self.b.max_bw() * self.rtt.as_micros() as u64 / BW_UNIT
    }
}

#[test]
fn startup_doubles_each_round_and_ends_after_three_rounds_without_growth() {
    let mut r = Run::new(Duration::from_millis(100));
    let mut rates = vec![];
    // The delivery rate doubles each round until the pipe (80 per RTT)
    // is full.
    let mut d = 10;
    for _ in 0..3 {
        r.round(d, d);
        assert_eq!(r.b.mode, BbrMode::Startup);
        rates.push(r.b.pacing_rate);
        d *= 2;
    }
    for w in rates.windows(2) {
        let x = w[1] as f64 / w[0] as f64;
        assert!((1.98..2.02).contains(&x), "pacing x2 a round: {rates:?}");
    }
    // 2/ln2 times the bandwidth, 1% under: 40 segments of 1000 B per
    // 100 ms at 2.885.
    let want = 400_000.0 * 2.885 * 0.99;
    assert!((rates[2] as f64 / want - 1.0).abs() < 0.01, "{rates:?}");
    r.round(80, 80);
    r.round(80, 80);
    r.round(80, 80);
    assert_eq!(r.b.mode, BbrMode::Startup, "2 rounds without growth");
    assert!(!r.b.full_bw_reached());
    // The growth check counts rounds whose max bw grew < 25%: 3 of them.
    r.round(90, 200);
    assert!(r.b.full_bw_reached());
    assert_eq!(
        r.b.mode,
        BbrMode::Drain,
        "the flight of 200 is over one BDP"
    );
    assert!((89..=90).contains(&r.bw_per_rtt()), "{}", r.bw_per_rtt());
    // ssthresh is one BDP (plus the quantization budget).
    let s = r.ssthresh.expect("DRAIN sets ssthresh");
    assert!((90..=100).contains(&s), "ssthresh {s}");
}

#[test]
fn drain_ends_at_one_bdp_then_probe_bw_cycles_its_gains() {
    let mut r = Run::new(Duration::from_millis(100));
    for d in [10, 20, 40, 80, 80, 80, 80] {
        r.round(d, 2 * d);
    }
    assert_eq!(r.b.mode, BbrMode::Drain);
    assert!(r.b.pacing_gain() < UNIT / 2, "DRAIN paces at ln2/2");
    r.round(80, 120);
    assert_eq!(r.b.mode, BbrMode::Drain, "120 in flight > BDP 80 + budget");
    r.round(80, 80);
    assert_eq!(r.b.mode, BbrMode::ProbeBw);
    assert_ne!(r.b.cycle_idx(), 1, "never starts in the 3/4 phase");
    // One phase per min_rtt; the 5/4 phase lasts until the flight is
    // 5/4 BDP, the 3/4 phase until it is down to one BDP.
    let mut gains = vec![];
    for _ in 0..16 {
        gains.push(r.b.pacing_gain());
        let inflight = match r.b.pacing_gain() {
            g if g > UNIT => 110,
            _ => 80,
        };
        r.now = r.now + r.rtt + Duration::from_millis(1);
        let prior = r.delivered;
        r.ack(80, 80, r.rtt, prior, inflight);
    }
    let i = gains.iter().position(|&g| g == UNIT * 5 / 4).unwrap();
    assert_eq!(
        &gains[i..i + 8],
        &[320, 192, 256, 256, 256, 256, 256, 256],
        "{gains:?}"
    );
    assert_eq!(r.b.cwnd_gain(), 2 * UNIT);
    // cwnd: 2 BDP, plus the budget for bursts and (one ACK a round is
    // aggregation at its most) up to one BDP for ACK aggregation.
    assert!((160..=248).contains(&r.cwnd), "cwnd {}", r.cwnd);
}

#[test]
fn probe_rtt_after_ten_seconds_holds_four_segments_then_restores() {
    let mut r = Run::new(Duration::from_millis(100));
    for d in [10, 20, 40, 80, 80, 80, 80, 80] {
        r.round(d, d);
    }
    assert_eq!(r.b.mode, BbrMode::ProbeBw);
    // RTTs no lower than the first for 10 s.
    r.rtt = Duration::from_millis(120);
    while r.b.mode != BbrMode::ProbeRtt {
        assert!(r.now < Instant::from_millis(1000 + 10_200), "no PROBE_RTT");
        r.round(80, 80);
    }
    assert!(
        r.now > Instant::from_millis(11_000),
        "after the 10 s window"
    );
    let before = r.cwnd;
    assert_eq!(r.cwnd, CWND_MIN_TARGET);
    assert_eq!(r.b.pacing_gain(), UNIT);
    assert!(r.app_limited != 0, "PROBE_RTT's samples are app-limited");
    // The flight drains to 4: 200 ms and one round from then.
    let start = r.now;
    while r.b.mode == BbrMode::ProbeRtt {
        r.now = r.now + Duration::from_millis(50);
        let prior = r.delivered;
        r.ack(4, 4, Duration::from_millis(120), prior, 4);
        assert!(r.cwnd <= CWND_MIN_TARGET || r.b.mode != BbrMode::ProbeRtt);
        assert!(r.now < start + Duration::from_secs(1));
    }
    assert!(
        r.now - start > Duration::from_millis(200),
        "at least 200 ms"
    );
    assert_eq!(r.b.mode, BbrMode::ProbeBw, "back: the pipe was full");
    assert!(
        r.cwnd > before && r.cwnd >= 80,
        "the window comes back: {}",
        r.cwnd
    );
    assert_eq!(r.b.min_rtt_us, 120_000, "the new min_rtt");
}

#[test]
fn app_limited_samples_do_not_lower_the_estimate() {
    let mut r = Run::new(Duration::from_millis(100));
    r.round(40, 40);
    let bw = r.b.max_bw();
    r.now = r.now + r.rtt;
    let prior = r.delivered;
    r.delivered += 5;
    let rs = RateSample {
        delivered: Some(5),
        interval_us: Some(100_000),
        prior_delivered: prior,
        acked_sacked: 5,
        is_app_limited: true,
        ..RateSample::NONE
    };
    let a = BbrAck {
        now: r.now,
        delivered: r.delivered,
        in_flight: 0,
        ca: CaPhase::Open,
        mss: MSS,
    };
    r.b.on_ack(&a, &rs, 50, None, &mut r.app_limited, &mut r.ssthresh);
    assert_eq!(r.b.max_bw(), bw);
}

/// A bulk transfer through a 10 Mbit/s bottleneck, 20 ms RTT (BDP 25 KB)
/// with a 4-BDP drop-tail buffer: the mean and largest queue over the
/// last half, the frames dropped, and the delivery rate.
fn queue_behind_bottleneck(algo: &str) -> (usize, usize, u64, u64) {
    use crate::testing::bottleneck::Bottleneck;
    use crate::testing::pair::Pair;
    let mut p = Pair::with_config(17, |c| c.sysctl.tcp_congestion_control = algo.into());
    p.params.delay = Duration::from_millis(10);
    p.bottleneck = Some(Bottleneck::new(1_250_000, 100_000));
    let (_l, c, s) = p.connected(8017);
    let start = p.now;
    let data = vec![3u8; 4_000_000];
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
    let took = p.now - start;
    let b = p.bottleneck.as_ref().unwrap();
    let half = start + took / 2;
    let rate = p.a.tcp_info(c).unwrap().tcpi_delivery_rate;
    (
        b.mean_queue_since(half),
        b.max_queue_since(half),
        b.drops,
        rate,
    )
}

#[test]
fn bbr_keeps_the_queue_near_one_bdp_where_cubic_fills_the_buffer() {
    let bdp = 25_000;
    let (bbr_q, bbr_max, bbr_drops, bbr_rate) = queue_behind_bottleneck("bbr");
    let (cubic_q, cubic_max, cubic_drops, cubic_rate) = queue_behind_bottleneck("cubic");
    eprintln!("bbr: mean queue {bbr_q} B, max {bbr_max}, {bbr_drops} drops, {bbr_rate} B/s");
    eprintln!(
        "cubic: mean queue {cubic_q} B, max {cubic_max}, {cubic_drops} drops, {cubic_rate} B/s"
    );
    assert!(
        bbr_max <= bdp + 5000,
        "BBR's queue reached {bbr_max} B, over one BDP"
    );
    assert_eq!(bbr_drops, 0, "BBR never fills 4 BDP of buffer");
    assert!(
        cubic_max >= 100_000 - 3000,
        "CUBIC fills the buffer: {cubic_max}"
    );
    assert!(cubic_drops > 0, "CUBIC fills the buffer until it drops");
    assert!(
        cubic_q >= 2 * bdp && cubic_q > 3 * bbr_q,
        "CUBIC's mean queue {cubic_q} B"
    );
    // Both keep the link busy.
    assert!(bbr_rate > 1_100_000 && cubic_rate > 1_100_000);
}

/// TCP_CONGESTION on an open connection (Linux's
/// tcp_reinit_congestion_control): BBR starts at once — TCP_CC_INFO gives
/// its struct tcp_bbr_info, TCP_INFO its pacing rate — and the transfer
/// goes on; back to CUBIC, nothing is paced and TCP_CC_INFO is empty.
#[test]
fn switching_engines_on_an_open_connection() {
    use crate::linux::{IPPROTO_TCP, TCP_CC_INFO, TCP_CONGESTION};
    use crate::testing::pair::Pair;
    let mut p = Pair::new(19);
    p.params.delay = Duration::from_millis(5);
    let (_l, c, s) = p.connected(8019);
    let data = vec![9u8; 300_000];
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
    let cc_info = |p: &Pair| {
        let mut b = [0u8; 32];
        let n = p.a.getsockopt(c, IPPROTO_TCP, TCP_CC_INFO, &mut b).unwrap();
        b[..n].to_vec()
    };
    assert!(cc_info(&p).is_empty(), "CUBIC has no get_info");
    assert_eq!(p.a.tcp_info(c).unwrap().tcpi_pacing_rate, u64::MAX);
    p.a.setsockopt(p.now, c, IPPROTO_TCP, TCP_CONGESTION, b"bbr")
        .unwrap();
    let mut name = [0u8; 16];
    p.a.getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, &mut name)
        .unwrap();
    assert_eq!(&name[..4], b"bbr\0");
    let info = cc_info(&p);
    assert_eq!(info.len(), 20, "struct tcp_bbr_info");
    let u32_at = |o: usize| u32::from_ne_bytes(info[o..o + 4].try_into().unwrap());
    assert_eq!(u32_at(12), 739, "STARTUP's pacing gain, 2/ln2 << 8");
    let pacing = p.a.tcp_info(c).unwrap().tcpi_pacing_rate;
    assert!(pacing > 0 && pacing < u64::MAX, "BBR paces: {pacing}");
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
    let info = cc_info(&p);
    let bw = u64::from(u32::from_ne_bytes(info[0..4].try_into().unwrap()));
    assert!(bw > 0, "a bandwidth estimate");
    let min_rtt = u32::from_ne_bytes(info[8..12].try_into().unwrap());
    assert!((10_000..11_000).contains(&min_rtt), "min_rtt {min_rtt} us");
    p.a.setsockopt(p.now, c, IPPROTO_TCP, TCP_CONGESTION, b"cubic")
        .unwrap();
    assert!(cc_info(&p).is_empty());
    assert_eq!(p.a.tcp_info(c).unwrap().tcpi_pacing_rate, u64::MAX);
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
}

/// BBR in the stack through a 10 Mbit/s, 20 ms bottleneck (BDP 17 segments
/// of 1448 B): in STARTUP the window about doubles each round; a bulk
/// transfer longer than 10 s goes through PROBE_RTT once, the window at 4
/// for at least 200 ms, then back.
#[test]
fn startup_and_probe_rtt_on_the_wire() {
    use crate::testing::bottleneck::Bottleneck;
    use crate::testing::pair::Pair;
    let mut p = Pair::with_config(23, |c| c.sysctl.tcp_congestion_control = "bbr".into());
    p.params.delay = Duration::from_millis(10);
    p.bottleneck = Some(Bottleneck::new(1_250_000, 100_000));
    let (_l, c, s) = p.connected(8023);
    let start = p.now;
    let chunk = vec![1u8; 65536];
    let mut buf = vec![0u8; 65536];
    // TCP_INFO's cwnd every millisecond of virtual time.
    let mut cwnd = vec![];
    while p.now < start + Duration::from_millis(12_500) {
        let _ = p.a.send(p.now, c, &chunk, 0, None);
        while let Ok(m) = p.b.recv(p.now, s, &mut buf, 0) {
            if m.copied == 0 {
                break;
            }
        }
        cwnd.push(p.a.tcp_info(c).unwrap().tcpi_snd_cwnd);
        p.drive_for(Duration::from_millis(1));
    }
    let at = |ms: usize| cwnd[ms.min(cwnd.len() - 1)];
    // The ACKs of a round come 20 ms plus 1.2 ms per frame queued after
    // its first segment left: the window between rounds at 18, 39, 66 ms.
    let rounds: Vec<u32> = [18, 39, 66].into_iter().map(at).collect();
    assert_eq!(rounds[0], 10, "{rounds:?}");
    for w in rounds.windows(2) {
        let x = f64::from(w[1]) / f64::from(w[0]);
        assert!((1.8..=2.2).contains(&x), "x2 a round: {rounds:?}");
    }
    // The pipe fills: 2.89 BDP and the burst budget, no more.
    assert!((50..=64).contains(&at(200)), "STARTUP's cap: {}", at(200));
    let probe: Vec<usize> = (0..cwnd.len()).filter(|&i| cwnd[i] <= 4).collect();
    assert!(!probe.is_empty(), "no PROBE_RTT in 12.5 s");
    let (first, last) = (probe[0], *probe.last().unwrap());
    assert!(first >= 10_000, "PROBE_RTT at {first} ms, before 10 s");
    assert!(last - first >= 200, "PROBE_RTT lasted {} ms", last - first);
    assert!(last - first < 400, "PROBE_RTT lasted {} ms", last - first);
    assert!(at(last + 50) > 17, "the window back: {}", at(last + 50));
}
