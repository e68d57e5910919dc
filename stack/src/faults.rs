//! Deterministic link impairments: loss, reordering, duplication, delay,
//! jitter and corruption of frames, decided by a seeded RNG so a run can be
//! replayed. One implementation serves the test `Pair` (two stacks on a
//! virtual link) and the TUN I/O layer (`SOCKSHIM_FAULTS`), which has no
//! `tc netem` to lean on. Sans-IO like the rest of the crate: frames go in
//! with `push(now, ..)` and come out with `pop_due(now)`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Duration;

use crate::rng::Rng;
use crate::time::Instant;

/// What to do to the frames crossing one link, both directions alike.
/// Probabilities are per frame, in [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultSpec {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// Probability that one bit of the frame is flipped.
    pub corrupt: f64,
    /// One-way delay of every frame.
    pub delay: Duration,
    /// Extra delay, uniform in [0, jitter), per frame (frames may overtake
    /// each other when the jitter exceeds their spacing, as on netem).
    pub jitter: Duration,
    pub seed: u64,
}

impl FaultSpec {
    /// True when the spec changes nothing: frames pass straight through.
    pub fn is_clean(&self) -> bool {
        self.loss == 0.0
            && self.duplicate == 0.0
            && self.reorder == 0.0
            && self.corrupt == 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
    }

    /// Parses `loss=0.01,reorder=0.01,dup=0.005,delay=2ms,jitter=1ms,
    /// corrupt=0.001,seed=7`; every key is optional, times take `us`, `ms`
    /// or `s`. An empty string or `off` is the clean spec.
    pub fn parse(text: &str) -> Result<FaultSpec, String> {
        let mut spec = FaultSpec::default();
        let text = text.trim();
        if text.is_empty() || text == "off" {
            return Ok(spec);
        }
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}': expected key=value"))?;
            let value = value.trim();
            match key.trim() {
                "loss" => spec.loss = probability(key, value)?,
                "dup" | "duplicate" => spec.duplicate = probability(key, value)?,
                "reorder" => spec.reorder = probability(key, value)?,
                "corrupt" => spec.corrupt = probability(key, value)?,
                "delay" => spec.delay = duration(key, value)?,
                "jitter" => spec.jitter = duration(key, value)?,
                "seed" => {
                    spec.seed = value
                        .parse()
                        .map_err(|_| format!("seed: '{value}' is not an integer"))?
                }
                other => {
                    return Err(format!(
                        "unknown key '{other}' (loss, dup, reorder, corrupt, delay, jitter, seed)"
                    ))
                }
            }
        }
        Ok(spec)
    }
}

fn probability(key: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{key}: '{value}' is not a probability in [0, 1]")),
    }
}

fn duration(key: &str, value: &str) -> Result<Duration, String> {
    let bad = || format!("{key}: '{value}' is not a time like 2ms, 500us or 1s");
    let (number, scale_us) = if let Some(n) = value.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1e6)
    } else {
        return Err(bad());
    };
    match number.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() && v * scale_us < 60e6 => {
            Ok(Duration::from_micros((v * scale_us) as u64))
        }
        _ => Err(bad()),
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loss={},dup={},reorder={},corrupt={},delay={}us,jitter={}us,seed={}",
            self.loss,
            self.duplicate,
            self.reorder,
            self.corrupt,
            self.delay.as_micros(),
            self.jitter.as_micros(),
            self.seed
        )
    }
}

/// What a link did to the frames pushed into it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounters {
    pub pushed: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

/// One direction of an impaired link: frames wait in a queue ordered by
/// delivery time (ties keep their push order).
#[derive(Debug)]
pub struct FaultyLink {
    rng: Rng,
    queue: BinaryHeap<Reverse<(Instant, u64, Frame)>>,
    next_seq: u64,
    counters: FaultCounters,
}

/// A queued frame; ordered only by the (time, sequence) before it.
#[derive(Debug)]
struct Frame(Vec<u8>);

impl PartialEq for Frame {
    fn eq(&self, _: &Frame) -> bool {
        true
    }
}
impl Eq for Frame {}
impl PartialOrd for Frame {
    fn partial_cmp(&self, other: &Frame) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Frame {
    fn cmp(&self, _: &Frame) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl FaultyLink {
    /// A link whose decisions follow `seed` (two links of one run should
    /// get different seeds).
    pub fn new(seed: u64) -> FaultyLink {
        FaultyLink {
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            next_seq: 0,
            counters: FaultCounters::default(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn below(&mut self, d: Duration) -> Duration {
        let us = d.as_micros() as u64;
        if us == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.next_u64() % us)
        }
    }

    fn enqueue(&mut self, at: Instant, frame: Vec<u8>) {
        self.queue.push(Reverse((at, self.next_seq, Frame(frame))));
        self.next_seq += 1;
    }

    /// Offer a frame to the link at `now`; it may be dropped, corrupted,
    /// duplicated, delayed or held back behind later frames.
    pub fn push(&mut self, spec: &FaultSpec, now: Instant, mut frame: Vec<u8>) {
        self.counters.pushed += 1;
        if self.chance(spec.loss) {
            self.counters.lost += 1;
            return;
        }
        if !frame.is_empty() && self.chance(spec.corrupt) {
            let bit = self.rng.next_u64() as usize % (frame.len() * 8);
            frame[bit / 8] ^= 1 << (bit % 8);
            self.counters.corrupted += 1;
        }
        let jitter = self.below(spec.jitter);
        let mut at = now + spec.delay + jitter;
        if self.chance(spec.reorder) {
            // Held back long enough for the frames behind it to pass.
            let hold = spec.delay.max(Duration::from_millis(1)) + self.below(spec.delay * 4);
            at = at + hold + Duration::from_millis(1);
            self.counters.reordered += 1;
        }
        if self.chance(spec.duplicate) {
            self.counters.duplicated += 1;
            self.enqueue(at + Duration::from_micros(10), frame.clone());
        }
        self.enqueue(at, frame);
    }

    /// The next frame due at or before `now`, oldest delivery time first.
    pub fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self.queue.peek() {
            Some(Reverse((at, _, _))) if *at <= now => {
                self.queue.pop().map(|Reverse((_, _, Frame(f)))| f)
            }
            _ => None,
        }
    }

    /// When the next queued frame is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _, _))| *at)
    }

    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    pub fn counters(&self) -> FaultCounters {
        self.counters
    }
}

/// The impairments of one device, both directions, as the TUN I/O layer
/// of the shim (process mode) and of sockshimd applies them: frames read
/// from the device go through `inbound` before the stack sees them, frames
/// the stack sends go through `outbound` before they are written. The two
/// directions draw from their own RNGs seeded from `spec.seed`, so a run
/// with one seed makes the same decisions for the same frame sequence.
#[derive(Debug)]
pub struct DeviceFaults {
    spec: FaultSpec,
    inbound: FaultyLink,
    outbound: FaultyLink,
}

impl DeviceFaults {
    pub fn new(spec: FaultSpec) -> DeviceFaults {
        let s = spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        DeviceFaults {
            spec,
            inbound: FaultyLink::new(s ^ 0x5151),
            outbound: FaultyLink::new(s ^ 0xa3a3),
        }
    }

    /// None for a clean spec: the I/O layer then costs nothing.
    pub fn from_spec(spec: FaultSpec) -> Option<DeviceFaults> {
        (!spec.is_clean()).then(|| DeviceFaults::new(spec))
    }

    pub fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    /// A frame read from the device at `now`.
    pub fn push_inbound(&mut self, now: Instant, frame: &[u8]) {
        self.inbound.push(&self.spec, now, frame.to_vec());
    }

    /// A frame the stack sends at `now`.
    pub fn push_outbound(&mut self, now: Instant, frame: Vec<u8>) {
        self.outbound.push(&self.spec, now, frame);
    }

    /// The next inbound frame due for the stack.
    pub fn pop_inbound(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.inbound.pop_due(now)
    }

    /// The next outbound frame due for the device.
    pub fn pop_outbound(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.outbound.pop_due(now)
    }

    /// When the next held frame (either direction) is due.
    pub fn next_due(&self) -> Option<Instant> {
        match (self.inbound.next_due(), self.outbound.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What was done to the frames: (inbound, outbound).
    pub fn counters(&self) -> (FaultCounters, FaultCounters) {
        (self.inbound.counters(), self.outbound.counters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut FaultyLink, until: Instant) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| link.pop_due(until)).collect()
    }

    #[test]
    fn parses_the_documented_example() {
        let s = FaultSpec::parse(
            "loss=0.01,reorder=0.01,dup=0.005,delay=2ms,jitter=1ms,corrupt=0.001,seed=7",
        )
        .unwrap();
        assert_eq!(s.loss, 0.01);
        assert_eq!(s.reorder, 0.01);
        assert_eq!(s.duplicate, 0.005);
        assert_eq!(s.delay, Duration::from_millis(2));
        assert_eq!(s.jitter, Duration::from_millis(1));
        assert_eq!(s.corrupt, 0.001);
        assert_eq!(s.seed, 7);
        assert!(!s.is_clean());
        assert!(FaultSpec::parse("").unwrap().is_clean());
        assert!(FaultSpec::parse("off").unwrap().is_clean());
        assert_eq!(FaultSpec::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        for bad in [
            "loss",
            "loss=2",
            "loss=-0.1",
            "delay=5",
            "delay=xms",
            "speed=1",
            "seed=x",
        ] {
            let e = FaultSpec::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn clean_link_delivers_in_order_after_the_delay() {
        let spec = FaultSpec {
            delay: Duration::from_millis(2),
            ..Default::default()
        };
        let mut link = FaultyLink::new(1);
        let t0 = Instant::from_millis(10);
        for i in 0..5u8 {
            link.push(&spec, t0, vec![i]);
        }
        assert!(link.pop_due(t0 + Duration::from_millis(1)).is_none());
        assert_eq!(link.next_due(), Some(t0 + Duration::from_millis(2)));
        let got = drain(&mut link, t0 + Duration::from_millis(2));
        assert_eq!(got, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_fate_and_rates_near_the_spec() {
        let spec =
            FaultSpec::parse("loss=0.1,dup=0.05,reorder=0.1,corrupt=0.05,delay=1ms").unwrap();
        let run = |seed| {
            let mut link = FaultyLink::new(seed);
            let t0 = Instant::from_millis(0);
            for i in 0..10_000u32 {
                link.push(
                    &spec,
                    t0 + Duration::from_micros(i as u64 * 10),
                    i.to_be_bytes().to_vec(),
                );
            }
            (
                drain(&mut link, Instant::from_millis(1_000)),
                link.counters(),
            )
        };
        let (a, ca) = run(7);
        let (b, cb) = run(7);
        assert_eq!(a, b);
        assert_eq!(ca, cb);
        assert_eq!(ca.pushed, 10_000);
        for (n, p) in [(ca.lost, 0.1), (ca.duplicated, 0.05), (ca.corrupted, 0.05)] {
            let expect = 10_000.0 * p;
            assert!((n as f64 - expect).abs() < expect * 0.3, "{n} vs {expect}");
        }
        assert_eq!(a.len() as u64, ca.pushed - ca.lost + ca.duplicated);
        let in_order = a.windows(2).all(|w| w[0] <= w[1]);
        assert!(!in_order, "reordering happened");
        let (c, _) = run(8);
        assert_ne!(a, c, "another seed, another fate");
    }

    #[test]
    fn corruption_flips_exactly_one_bit() {
        let spec = FaultSpec {
            corrupt: 1.0,
            ..Default::default()
        };
        let mut link = FaultyLink::new(3);
        let frame = vec![0u8; 64];
        link.push(&spec, Instant::ZERO, frame.clone());
        let got = link.pop_due(Instant::ZERO).unwrap();
        let flipped: u32 = got
            .iter()
            .zip(&frame)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(flipped, 1);
    }

    #[test]
    fn device_faults_are_off_when_clean_and_replayable_by_seed() {
        assert!(DeviceFaults::from_spec(FaultSpec::default()).is_none());
        let spec = FaultSpec::parse("loss=0.2,dup=0.1,reorder=0.1,corrupt=0.1,seed=7").unwrap();
        let run = || {
            let mut d = DeviceFaults::from_spec(spec).unwrap();
            let mut got = (Vec::new(), Vec::new());
            for i in 0..2_000u32 {
                let now = Instant::from_micros(i as u64 * 100);
                d.push_inbound(now, &i.to_be_bytes());
                d.push_outbound(now, i.to_le_bytes().to_vec());
                while let Some(f) = d.pop_inbound(now) {
                    got.0.push(f);
                }
                while let Some(f) = d.pop_outbound(now) {
                    got.1.push(f);
                }
            }
            let end = d.next_due().unwrap_or(Instant::ZERO) + Duration::from_secs(1);
            got.0.extend(std::iter::from_fn(|| d.pop_inbound(end)));
            got.1.extend(std::iter::from_fn(|| d.pop_outbound(end)));
            assert!(d.next_due().is_none());
            (got, d.counters())
        };
        let (a, ca) = run();
        let (b, cb) = run();
        assert_eq!(a, b, "same seed, same fate");
        assert_eq!(ca, cb);
        for c in [ca.0, ca.1] {
            assert_eq!(c.pushed, 2_000);
            assert!(
                c.lost > 300 && c.duplicated > 100 && c.corrupted > 100,
                "{c:?}"
            );
        }
        assert_eq!(a.0.len() as u64, ca.0.pushed - ca.0.lost + ca.0.duplicated);
        assert_ne!(ca.0, ca.1, "each direction has its own draws");
    }
}
