//! The client's sockets made ahead ("spares", service/src/core/spares.rs;
//! docs/architecture.md, "Sockets made ahead"). A process that makes
//! sockets in a burst (a second socket() within `BURST_US` of the last)
//! asks for `WANT` more with its `Socket` request; their anchors wait at
//! protected high numbers, and each later socket() of the same kind takes
//! one, moved to the lowest free number as the kernel's socket would be,
//! without a round trip to the service.
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

/// How many sockets to ask the service to make ahead.
pub const WANT: u8 = 4;

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
            WANT
        } else {
            0
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
        Some(self.fds.remove(0))
    }

    /// A spare taken could not be used (no descriptor free): it stays.
    pub fn put_back(&mut self, id: u64, fd: i32) {
        self.fds.insert(0, (id, fd));
    }

    /// A new batch, usable until `until`: what was left goes.
    pub fn refill(&mut self, kind: Kind, fds: Vec<(u64, i32)>, until: u64, close: impl FnMut(i32)) {
        self.drain(close);
        self.kind = Some(kind);
        self.fds = fds;
        self.until_us = until;
    }

    /// Close them if `now` is past their time.
    pub fn expire(&mut self, now: u64, close: impl FnMut(i32)) {
        if now >= self.until_us {
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
        s.refill(TCP, vec![(1, 901)], 1_200_000, |_| {});
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
