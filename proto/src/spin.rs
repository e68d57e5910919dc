//! Adaptive spinning before sleeping, the policy both ends of the data
//! path use (docs/architecture.md, "Data path"): the service before it
//! sleeps in epoll, a client before it sleeps on an anchor. A wake-up of
//! a sleeping process costs far more than the few microseconds the next
//! event often takes to come (an RR server's answer, the peer's next
//! request), so each side looks again without sleeping for a while, and
//! learns for how long from what it sees:
//!
//! - a spin that found work after `t` keeps spinning budget about `2t`;
//! - a spin that found nothing halves the budget, and after a few such
//!   misses in a row spinning stops (`COOL_DOWN` sleeps before it may
//!   start again): on a machine where the other end has no free CPU the
//!   spin only delays it;
//! - a sleep that ended with work sooner than the limit (the gap, wake-up
//!   latency included) says spinning would have caught it: the budget
//!   becomes about twice that gap.
//!
//! On a loaded machine wake-ups are slow, gaps look long, and spinning
//! stays off by itself. Pure logic with the time passed in, so tests
//! drive it with made-up gaps.

/// Budget given when learning from a hit or a short sleep, beyond twice
/// the gap seen (microseconds).
const SLACK_US: u32 = 5;
/// Misses in a row after which spinning stops for a while.
const MISSES_TO_STOP: u32 = 3;
/// Sleeps to wait, once stopped, before a short gap may start it again.
const COOL_DOWN: u32 = 64;

/// One side's spinning state.
#[derive(Clone, Copy, Debug)]
pub struct Spin {
    /// Longest spin ever (microseconds); 0 turns spinning off.
    limit: u32,
    /// How long the next spin may last.
    budget: u32,
    misses: u32,
    /// Sleeps left before learning again (after `MISSES_TO_STOP`).
    cool: u32,
}

impl Spin {
    pub const fn new(limit_us: u32) -> Spin {
        Spin {
            limit: limit_us,
            budget: 0,
            misses: 0,
            cool: 0,
        }
    }

    /// The limit from an environment value (microseconds), `default`
    /// when unset or not a number.
    pub fn limit_from(v: Option<&str>, default: u32) -> u32 {
        v.and_then(|s| s.trim().parse().ok()).unwrap_or(default)
    }

    /// How long to spin now, in microseconds (0: sleep at once).
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// The spin found work after `waited_us`.
    pub fn hit(&mut self, waited_us: u32) {
        self.misses = 0;
        let want = waited_us.saturating_mul(2).saturating_add(SLACK_US);
        self.budget = want.max(self.budget).min(self.limit);
    }

    /// The spin found nothing within its budget.
    pub fn miss(&mut self) {
        self.misses += 1;
        self.budget /= 2;
        if self.misses >= MISSES_TO_STOP {
            self.budget = 0;
            self.misses = 0;
            self.cool = COOL_DOWN;
        }
    }

    /// A sleep ended with work after `slept_us` (the spin, if any, had
    /// missed it or there was none).
    pub fn slept(&mut self, slept_us: u64) {
        if self.cool > 0 {
            self.cool -= 1;
            return;
        }
        if slept_us < self.limit as u64 {
            let want = (slept_us as u32).saturating_mul(2).saturating_add(SLACK_US);
            self.budget = want.max(self.budget).min(self.limit);
        }
    }
}

/// Is a CPU idle now, by /proc/loadavg's fourth field (`running/total`,
/// the asker counting as one running)? Fewer runnable tasks than CPUs:
/// a spin then takes no CPU another task is waiting for, and the other
/// end, when it wakes, finds one free. None: not that file's format.
pub fn idle_cpu(loadavg: &str, cpus: u32) -> Option<bool> {
    let running: u32 = loadavg
        .split_whitespace()
        .nth(3)?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    Some(running < cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_cpu_is_fewer_runnable_tasks_than_cpus() {
        assert_eq!(idle_cpu("0.52 0.40 0.31 1/241 15018\n", 2), Some(true));
        assert_eq!(idle_cpu("17.60 18.51 15.65 15/241 15018\n", 2), Some(false));
        assert_eq!(idle_cpu("1.00 1.00 1.00 2/241 15018", 2), Some(false));
        assert_eq!(idle_cpu("1.00 1.00 1.00 2/241 15018", 4), Some(true));
        assert_eq!(idle_cpu("garbage", 2), None);
    }

    #[test]
    fn short_gaps_turn_spinning_on_and_hits_keep_it() {
        let mut s = Spin::new(50);
        assert_eq!(s.budget(), 0, "off until a gap is seen");
        s.slept(12);
        assert_eq!(s.budget(), 29);
        s.hit(20);
        assert_eq!(s.budget(), 45);
        s.hit(3);
        assert_eq!(s.budget(), 45, "a quick hit does not shrink it");
        s.hit(40);
        assert_eq!(s.budget(), 50, "never past the limit");
    }

    #[test]
    fn long_gaps_leave_it_off() {
        let mut s = Spin::new(50);
        for _ in 0..10 {
            s.slept(400);
        }
        assert_eq!(s.budget(), 0);
        let mut off = Spin::new(0);
        off.slept(1);
        off.hit(1);
        assert_eq!(off.budget(), 0, "a limit of 0 never spins");
    }

    #[test]
    fn misses_in_a_row_stop_it_for_a_cool_down() {
        let mut s = Spin::new(50);
        s.slept(20);
        assert_eq!(s.budget(), 45);
        s.miss();
        assert_eq!(s.budget(), 22);
        s.miss();
        s.miss();
        assert_eq!(s.budget(), 0, "stopped");
        for _ in 0..COOL_DOWN {
            s.slept(5);
            assert_eq!(s.budget(), 0, "cooling down");
        }
        s.slept(5);
        assert_eq!(s.budget(), 15, "learning again");
        s.miss();
        s.hit(4);
        s.miss();
        s.miss();
        assert_ne!(s.budget(), 0, "a hit resets the count of misses");
    }

    #[test]
    fn limits_come_from_the_environment_value() {
        assert_eq!(Spin::limit_from(Some("30"), 50), 30);
        assert_eq!(Spin::limit_from(Some(" 0 "), 50), 0);
        assert_eq!(Spin::limit_from(Some("x"), 50), 50);
        assert_eq!(Spin::limit_from(None, 50), 50);
    }
}
