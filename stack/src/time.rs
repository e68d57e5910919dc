//! Time as the stack sees it: an opaque monotonic instant handed in by the
//! caller. The stack never reads a clock; tests drive a virtual one.

use std::num::NonZeroU64;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time, in microseconds since an arbitrary epoch chosen by the
/// caller (at most `u64::MAX - 1`: later instants saturate there).
///
/// Kept as microseconds + 1 in a `NonZeroU64`, so that `Option<Instant>`
/// (every timer deadline of a connection) takes 8 bytes, not 16.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    micros_plus_one: NonZeroU64,
}

impl Default for Instant {
    fn default() -> Instant {
        Instant::ZERO
    }
}

impl std::fmt::Debug for Instant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instant")
            .field("micros", &self.total_micros())
            .finish()
    }
}

impl Instant {
    pub const ZERO: Instant = Instant::from_micros(0);

    pub const fn from_micros(micros: u64) -> Instant {
        Instant {
            micros_plus_one: NonZeroU64::MIN.saturating_add(micros),
        }
    }

    pub const fn from_millis(millis: u64) -> Instant {
        Instant::from_micros(millis * 1000)
    }

    pub const fn total_micros(self) -> u64 {
        self.micros_plus_one.get() - 1
    }

    pub const fn total_millis(self) -> u64 {
        self.total_micros() / 1000
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.total_micros().saturating_sub(earlier.total_micros()))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant::from_micros(
            self.total_micros()
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

/// Whole seconds in 4 bytes (a `Duration` takes 16): the per-connection
/// times that Linux's options and sysctls give in seconds (TCP_KEEPIDLE,
/// TCP_KEEPINTVL, TCP_LINGER2), so that every connection carries less.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secs(u32);

impl Secs {
    pub const ZERO: Secs = Secs(0);

    pub const fn as_secs(self) -> u64 {
        self.0 as u64
    }
}

impl From<Duration> for Secs {
    /// Whole seconds (a fraction is dropped), at most `u32::MAX`.
    fn from(d: Duration) -> Secs {
        Secs(u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
    }
}

impl From<Secs> for Duration {
    fn from(s: Secs) -> Duration {
        Duration::from_secs(s.as_secs())
    }
}

impl Add<Secs> for Instant {
    type Output = Instant;
    fn add(self, s: Secs) -> Instant {
        self + Duration::from(s)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!((t + Duration::from_millis(3)).total_millis(), 8);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::ZERO, Duration::from_millis(5));
        let far = t + Duration::MAX;
        assert!(far > t && far.total_micros() == u64::MAX - 1, "saturates");
        assert_eq!(Instant::default(), Instant::ZERO);
    }

    #[test]
    fn seconds_convert_both_ways() {
        let s = Secs::from(Duration::from_secs(7200));
        assert_eq!(
            (s.as_secs(), Duration::from(s)),
            (7200, Duration::from_secs(7200))
        );
        assert_eq!(Instant::from_millis(5) + s, Instant::from_millis(7_200_005));
        assert_eq!(std::mem::size_of::<Option<Secs>>(), 8);
    }

    #[test]
    fn an_optional_instant_costs_no_more_than_one() {
        // Every connection keeps several optional deadlines (TcpTimers).
        assert_eq!(std::mem::size_of::<Option<Instant>>(), 8);
    }
}
