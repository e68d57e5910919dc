//! The client's sockets made ahead ("spares", service/src/core/spares.rs;
//! docs/architecture.md, "Sockets made ahead"). A process that makes
//! sockets in a burst (a second socket() within `BURST_US` of the last)
//! asks for `WANT` more with its `Socket` request; their anchors wait at
//! protected high numbers, and each later socket() of the same kind takes
//! one, moved to the lowest free number as the kernel's socket would be,
//! without a round trip to the service.
//!
//! How many: `WANT` at first; a batch taken whole before it expired asks
//! for twice as many next time (up to `proto::MAX_SPARES`), one that
//! expired with spares left for half as many (at least `MIN_WANT`). A
//! client that connects again and again then goes to the service for one
//! socket in seventeen, not one in five (each such `Socket` a round trip:
//! a sleep of the program and a wake-up of the service), and one that
//! slows down stops having sockets made that it throws away.
//!
//! A spare may be taken only until the reply's `fresh_us` has passed (the
//! namespace's sysctls it was made with then no longer stand); after that,
//! or when a batch of another kind replaces them, they are closed, and
//! the service closes each on its anchor's hang-up, as any socket. The
//! pool is per connection to the service: a forked child drops the
//! parent's (client.rs), a spare being the parent's socket until taken.
//!
//! This file keeps the pool's rules; the descriptors are opened and closed
//! by the caller (`close`), so the rules are tested without any.

use stack::{Domain, SockType};

/// How many sockets to ask the service to make ahead, at first.
pub const WANT: u8 = 4;

/// The fewest asked for in a burst, however many expired.
const MIN_WANT: u8 = 2;

/// The most asked for (what the protocol lets one request ask).
const MAX_WANT: u8 = proto::MAX_SPARES as u8;

/// A socket() within this long of the previous one is part of a burst.
const BURST_US: u64 = 10_000;

/// What a spare can stand for: socket(domain, ty, protocol).
pub type Kind = (Domain, SockType, i32);

#[derive(Default)]
pub struct Spares {
    kind: Option<Kind>,
    /// (socket id, its anchor at a protected high number), in the order made.
    fds: Vec<(u64, i32)>,
    /// CLOCK_MONOTONIC microseconds after which they must not be taken.
    until_us: u64,
    last_socket_us: Option<u64>,
    /// How many the next burst's request asks for (0: not learnt yet,
    /// `WANT`).
    want: u8,
    /// The batch held now was asked for by a burst and not all taken yet.
    batch_live: bool,
}

impl Spares {
    /// A socket() at `now` that goes to the service: how many spares to
    /// ask for with it.
    pub fn wanted(&mut self, now: u64) -> u8 {
        let burst = self
            .last_socket_us
            .is_some_and(|t| now.saturating_sub(t) < BURST_US);
        self.last_socket_us = Some(now);
        if burst {
            self.want()
        } else {
            0
        }
    }

    fn want(&self) -> u8 {
        if self.want == 0 {
            WANT
        } else {
            self.want
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// A spare for a socket() of `kind` at `now`, if one stands; expired
    /// ones are closed.
    pub fn take(&mut self, kind: Kind, now: u64, close: impl FnMut(i32)) -> Option<(u64, i32)> {
        self.expire(now, close);
        if self.fds.is_empty() || self.kind != Some(kind) {
            return None;
        }
        self.last_socket_us = Some(now);
        let got = self.fds.remove(0);
        if self.fds.is_empty() && self.batch_live {
            // All taken in time: the next batch may be larger.
            self.batch_live = false;
            self.want = self.want().saturating_mul(2).min(MAX_WANT);
        }
        Some(got)
    }

    /// A spare taken could not be used (no descriptor free): it stays.
    pub fn put_back(&mut self, id: u64, fd: i32) {
        self.fds.insert(0, (id, fd));
    }

    /// How many the next burst's request asks for.
    #[cfg(test)]
    fn next_want(&self) -> u8 {
        self.want()
    }

    /// A new batch, usable until `until`: what was left goes.
    pub fn refill(&mut self, kind: Kind, fds: Vec<(u64, i32)>, until: u64, close: impl FnMut(i32)) {
        self.drain(close);
        self.kind = Some(kind);
        self.batch_live = !fds.is_empty();
        self.fds = fds;
        self.until_us = until;
    }

    /// Close them if `now` is past their time (a batch that expired with
    /// spares left: the next one asks for fewer).
    pub fn expire(&mut self, now: u64, close: impl FnMut(i32)) {
        if now >= self.until_us {
            if !self.fds.is_empty() && self.batch_live {
                self.want = (self.want() / 2).max(MIN_WANT);
            }
            self.batch_live = false;
            self.drain(close);
        }
    }

    /// Close them all (the connection to the service is gone, or is the
    /// parent's).
    pub fn drain(&mut self, close: impl FnMut(i32)) {
        self.fds.drain(..).map(|(_, fd)| fd).for_each(close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: Kind = (Domain::Inet, SockType::Stream, 0);
    const UDP: Kind = (Domain::Inet, SockType::Dgram, 0);

    #[test]
    fn spares_are_asked_for_only_in_a_burst() {
        let mut s = Spares::default();
        assert_eq!(s.wanted(1_000_000), 0, "a first socket");
        assert_eq!(s.wanted(1_004_000), WANT, "4 ms later");
        assert_eq!(s.wanted(1_100_000), 0, "100 ms later");
        // A spare taken counts as a socket of the burst.
        s.refill(TCP, vec![(1, 901), (2, 902)], 1_200_000, |_| {});
        assert!(s.take(TCP, 1_105_000, |_| {}).is_some());
        assert_eq!(s.wanted(1_109_000), WANT);
    }

    #[test]
    fn taken_in_order_while_fresh_and_of_their_kind_then_closed() {
        let mut s = Spares::default();
        let mut closed = Vec::new();
        s.refill(TCP, vec![(7, 901), (8, 902), (9, 903)], 10_000, |fd| {
            closed.push(fd)
        });
        assert!(s.take(UDP, 1_000, |fd| closed.push(fd)).is_none());
        assert_eq!(s.take(TCP, 1_000, |fd| closed.push(fd)), Some((7, 901)));
        s.put_back(7, 901);
        assert_eq!(s.take(TCP, 2_000, |fd| closed.push(fd)), Some((7, 901)));
        assert_eq!(s.take(TCP, 9_999, |fd| closed.push(fd)), Some((8, 902)));
        assert!(closed.is_empty());
        assert_eq!(s.take(TCP, 10_000, |fd| closed.push(fd)), None, "expired");
        assert_eq!(closed, [903]);
        assert!(s.is_empty());
    }

    #[test]
    fn batches_grow_while_taken_whole_and_shrink_when_they_expire() {
        let mut s = Spares::default();
        let batch = |n: u64, base: u64| (0..n).map(|i| (base + i, 900 + i as i32)).collect();
        assert_eq!(s.next_want(), WANT);
        let mut want = WANT;
        for round in 0..4u64 {
            let t = round * 1_000;
            s.refill(TCP, batch(want as u64, 10 * round), t + 10_000, |_| {});
            for _ in 0..want {
                assert!(s.take(TCP, t + 100, |_| {}).is_some());
            }
            want = (want * 2).min(proto::MAX_SPARES as u8);
            assert_eq!(s.next_want(), want, "round {round}: all taken in time");
        }
        assert_eq!(s.next_want(), 16, "the protocol's most");
        // 3 of 16 taken, the rest expire: half as many next time.
        s.refill(TCP, batch(16, 100), 50_000, |_| {});
        for _ in 0..3 {
            assert!(s.take(TCP, 45_000, |_| {}).is_some());
        }
        let mut closed = 0;
        assert!(s.take(TCP, 50_000, |_| closed += 1).is_none());
        assert_eq!(closed, 13);
        assert_eq!(s.next_want(), 8);
        for _ in 0..4 {
            s.refill(TCP, batch(2, 200), 60_000, |_| {});
            s.expire(60_000, |_| {});
        }
        assert_eq!(s.next_want(), MIN_WANT, "never below the least");
        // An expiry with nothing left, or twice, changes nothing more.
        s.expire(70_000, |_| {});
        assert_eq!(s.next_want(), MIN_WANT);
    }

    #[test]
    fn a_new_batch_or_a_drain_closes_what_was_left() {
        let mut s = Spares::default();
        let mut closed = Vec::new();
        s.refill(TCP, vec![(1, 901), (2, 902)], 10_000, |_| {});
        s.refill(UDP, vec![(3, 903)], 20_000, |fd| closed.push(fd));
        assert_eq!(closed, [901, 902]);
        assert_eq!(s.take(UDP, 15_000, |_| {}), Some((3, 903)));
        s.refill(UDP, vec![(4, 904)], 20_000, |_| {});
        s.drain(|fd| closed.push(fd));
        assert_eq!(closed, [901, 902, 904]);
    }
}
