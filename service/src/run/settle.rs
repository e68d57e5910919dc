//! Closes the loop has not reached yet, done before a request that must
//! come after them. On Linux a port is free when close() of its socket's
//! last descriptor returns. Here the service closes a socket when it sees
//! its anchor hang up, which it may see after a later request of the
//! same client (the shim returned from close() without asking: its slot
//! already said the socket was gone) or of another process (a forked
//! child's close or exit, which the parent waited for). So:
//!
//! - `Closed` closes its socket first if every descriptor is gone, whoever
//!   sends it (a forked child that never named the socket too);
//! - a `Bind` or `Listen` that finds its port in use is served again once
//!   every socket whose descriptors are all gone is closed;
//! - `Settle` (the shim's, when the kernel's port space said EADDRINUSE to
//!   a loopback reservation's bind) is answered once they are.
//!
//! Each close first serves what the socket's holders had queued (their
//! `Post`s before their last close), as the loop does at a hang-up. No
//! close costs a message more: only a port found in use does.

use std::os::fd::RawFd;

use nix::sys::epoll::{EpollEvent, EpollTimeout};
use proto::Request;
use stack::Errno;

use super::{now, Service, K_MASK};

/// Ready descriptors looked at per epoll_wait while settling.
const EVENTS: usize = 256;
/// At most this many epoll_waits: a level-triggered set hands its ready
/// descriptors round, so these see 16,384 of them.
const ROUNDS: usize = 64;

impl Service {
    /// Before serving `req` of client `key`: close what it must come
    /// after. For a `Bind` or a `Listen`, the request to serve again if
    /// the port turns out to be in use.
    pub(super) fn settle_before(
        &mut self,
        key: RawFd,
        req: &Request<'_>,
    ) -> Option<Request<'static>> {
        match *req {
            Request::Closed { id, .. } => {
                self.settle_one(key, id);
                None
            }
            Request::Settle => {
                self.settle_all(key);
                None
            }
            Request::Bind { id, addr } => Some(Request::Bind { id, addr }),
            Request::Listen { id, backlog } => Some(Request::Listen { id, backlog }),
            _ => None,
        }
    }

    /// Does an encoded reply say EADDRINUSE?
    pub(super) fn in_use(&self, reply: &Option<Vec<u8>>) -> bool {
        reply
            .as_deref()
            .is_some_and(|b| matches!(proto::msg::decode_reply(b), Ok(Err(Errno::EADDRINUSE))))
    }

    /// Close socket `id` now if every descriptor of it is gone, after
    /// serving what its other holders had queued (`key` asks: its queue
    /// holds nothing before this request, and what follows it must wait).
    fn settle_one(&mut self, key: RawFd, id: u64) {
        if !self.core.anchor_gone(id) {
            return;
        }
        if !self.settling {
            self.settling = true;
            for holder in self.core.holders(id) {
                if holder != key {
                    self.serve_queued(holder);
                }
            }
            self.settling = false;
        }
        // Serving the queues may have closed it.
        if self.core.anchor_gone(id) {
            self.core.close_socket(now(), id);
        }
    }

    /// Close every socket whose descriptors are all gone: those whose
    /// hang-up the epoll set reports, and those made this turn (not in
    /// the set yet). Not again from a queue served meanwhile.
    pub(super) fn settle_all(&mut self, key: RawFd) {
        if self.settling {
            return;
        }
        let fresh = self.core.new_anchors.clone();
        let mut gone: Vec<u64> = fresh
            .into_iter()
            .filter_map(|fd| self.core.hung_up_socket(fd))
            .collect();
        let mut evs = vec![EpollEvent::empty(); EVENTS];
        for _ in 0..ROUNDS {
            let n = self.epoll.wait(&mut evs, EpollTimeout::ZERO).unwrap_or(0);
            for ev in &evs[..n] {
                // Anchors carry their number alone (no kind bits).
                if ev.data() & K_MASK == 0 {
                    gone.extend(self.core.hung_up_socket(ev.data() as RawFd));
                }
            }
            if n < EVENTS {
                break;
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for id in gone {
            self.settle_one(key, id);
        }
    }
}
