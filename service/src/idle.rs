//! When the service exits by itself: after it has been idle (no client
//! connected, no socket alive, TIME_WAITs included) for `linger`.
//! Pure: the loop feeds it the state and the time.

use std::time::{Duration, Instant};

pub struct Idle {
    linger: Duration,
    since: Option<Instant>,
}

impl Idle {
    pub fn new(linger: Duration) -> Idle {
        Idle {
            linger,
            since: None,
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
        let mut i = Idle::new(Duration::from_secs(5));
        assert!(!i.update(t0, true));
        assert_eq!(i.remaining(t0), Some(Duration::from_secs(5)));
        assert!(!i.update(t0 + 4 * s, true));
        assert!(!i.update(t0 + 4 * s, false), "a client came: not idle");
        assert_eq!(i.remaining(t0 + 4 * s), None);
        assert!(!i.update(t0 + 6 * s, true), "the idle period starts again");
        assert!(!i.update(t0 + 10 * s, true));
        assert!(i.update(t0 + 11 * s, true));
    }
}
