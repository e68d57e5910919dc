//! A bottleneck for the `Pair`'s A-to-B direction: frames leave A's side
//! at most at `rate` bytes per second through a FIFO of at most `limit`
//! bytes (a router's drop-tail queue); a frame that finds it full is
//! dropped. The queue it built is recorded, for congestion-control tests
//! (BBR keeps it near one BDP; loss-based algorithms fill it).

use std::time::Duration;

use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct Bottleneck {
    /// Bytes per second the link serializes.
    pub rate: u64,
    /// The queue's capacity in bytes.
    pub limit: usize,
    busy_until: Instant,
    /// Frames dropped by a full queue.
    pub drops: u64,
    /// The queue each frame found on arrival (bytes), with when it came.
    pub samples: Vec<(Instant, usize)>,
}

impl Bottleneck {
    pub fn new(rate: u64, limit: usize) -> Bottleneck {
        Bottleneck {
            rate,
            limit,
            busy_until: Instant::ZERO,
            drops: 0,
            samples: Vec::new(),
        }
    }

    /// Bytes waiting at `now` (not yet serialized).
    pub fn queued(&self, now: Instant) -> usize {
        let wait = self.busy_until.saturating_duration_since(now);
        (wait.as_nanos() * u128::from(self.rate) / 1_000_000_000) as usize
    }

    /// A frame of `len` bytes arrives at `now`: when its last byte leaves
    /// the bottleneck, or None when the full queue drops it.
    pub fn admit(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let q = self.queued(now);
        self.samples.push((now, q));
        if q + len > self.limit {
            self.drops += 1;
            return None;
        }
        let start = self.busy_until.max(now);
        let ns = len as u128 * 1_000_000_000 / u128::from(self.rate.max(1));
        self.busy_until = start + Duration::from_nanos(ns as u64);
        Some(self.busy_until)
    }

    /// The mean queue that frames arriving at or after `from` found.
    pub fn mean_queue_since(&self, from: Instant) -> usize {
        let qs: Vec<usize> = self
            .samples
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(_, q)| *q)
            .collect();
        qs.iter().sum::<usize>() / qs.len().max(1)
    }

    /// The largest queue a frame arriving at or after `from` found.
    pub fn max_queue_since(&self, from: Instant) -> usize {
        self.samples
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(_, q)| *q)
            .max()
            .unwrap_or(0)
    }
}
