//! When the service exits by itself: after it has been idle (no client
//! connected, no socket alive, TIME_WAITs included) for `linger`.
//! Pure: the loop feeds it the state and the time. The idle period runs
//! from the start: a service that no client ever reaches exits after one
//! period, woken by its own timeout (before, its first sleep had no idle
//! deadline and lasted the loop's 60 s unless a frame from the device woke
//! it: the kernel's IPv6 router solicitations did, until `sockshim netns
//! up` turned them off).

use std::time::{Duration, Instant};

pub struct Idle {
    linger: Duration,
    since: Option<Instant>,
}

impl Idle {
    /// A service started at `now`, idle until a client comes.
    pub fn new(linger: Duration, now: Instant) -> Idle {
        Idle {
            linger,
            since: Some(now),
        }
    }

    /// Note the state at `now`; true when the service should exit.
    pub fn update(&mut self, now: Instant, idle: bool) -> bool {
        if !idle {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        now.duration_since(since) >= self.linger
    }

    /// How long the loop may sleep before `update` could say exit.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.since
            .map(|s| self.linger.saturating_sub(now.duration_since(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_only_after_a_full_idle_period() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut i = Idle::new(Duration::from_secs(5), t0);
        assert_eq!(
            i.remaining(t0),
            Some(Duration::from_secs(5)),
            "idle from the start: the first sleep ends with the period"
        );
        assert!(!i.update(t0, true));
        assert_eq!(i.remaining(t0), Some(Duration::from_secs(5)));
        assert!(!i.update(t0 + 4 * s, true));
        assert!(!i.update(t0 + 4 * s, false), "a client came: not idle");
        assert_eq!(i.remaining(t0 + 4 * s), None);
        assert!(!i.update(t0 + 6 * s, true), "the idle period starts again");
        assert!(!i.update(t0 + 10 * s, true));
        assert!(i.update(t0 + 11 * s, true));
    }

    #[test]
    fn a_service_no_client_reaches_exits_after_one_period() {
        let t0 = Instant::now();
        let mut i = Idle::new(Duration::from_secs(5), t0);
        // Its first turn comes when the first sleep ends, without any
        // event: that sleep is bounded by `remaining`.
        let woken = t0 + i.remaining(t0).expect("a deadline from the start");
        assert!(i.update(woken, true), "exit at the end of the first period");
    }
}
