//! `sockshim capture`, the service's side: a copy of every frame the
//! stack receives (after SOCKSHIM_FAULTS, as the stack sees it) and sends
//! (before them), one SOCK_SEQPACKET record per frame, to each capturing
//! client's socket (passed with `Request::Capture`). A record is a header,
//! the frame's time (CLOCK_MONOTONIC microseconds, u64 LE), its direction
//! (0 in, 1 out), the frames dropped for this capture so far (u32 LE) and
//! the length of the drop reason (u8), then the reason (the stack's
//! `drop_*` counter the frame bumped: an inbound frame the stack dropped;
//! empty otherwise), then the frame. An inbound frame is recorded after
//! the stack handled it, to know the verdict (`handle_in`). Never blocks:
//! a capture that does not keep up loses
//! frames, counted in the next record it gets; one whose reader went away
//! is dropped. No capture: one branch per frame.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, MsgFlags};

/// Bytes before the reason and the frame in a record.
pub const HEADER: usize = 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In = 0,
    Out = 1,
}

struct Sink {
    fd: OwnedFd,
    dropped: u32,
}

#[derive(Default)]
pub struct Captures {
    sinks: Vec<Sink>,
}

impl Captures {
    pub fn add(&mut self, fd: OwnedFd) {
        self.sinks.push(Sink { fd, dropped: 0 });
    }

    pub fn active(&self) -> usize {
        self.sinks.len()
    }

    /// Copy `frame` to every capture.
    #[inline]
    pub fn frame(&mut self, now: stack::Instant, dir: Dir, frame: &[u8]) {
        if self.sinks.is_empty() {
            return;
        }
        self.copy(now, dir, "", frame);
    }

    /// Hand `frame` (what the capture shows of it: `shown`) to the stack
    /// with `handle`, then copy it to every capture with the reason the
    /// stack dropped it, if it did.
    #[inline]
    pub fn handle_in(
        &mut self,
        stack: &stack::Stack,
        now: stack::Instant,
        shown: &[u8],
        handle: impl FnOnce(),
    ) {
        if self.sinks.is_empty() {
            return handle();
        }
        let before = stack.stats();
        handle();
        let reason = stack.stats().drop_since(&before).unwrap_or("");
        self.copy(now, Dir::In, reason, shown);
    }

    fn copy(&mut self, now: stack::Instant, dir: Dir, reason: &str, frame: &[u8]) {
        let mut h = [0u8; HEADER];
        h[..8].copy_from_slice(&now.total_micros().to_le_bytes());
        h[8] = dir as u8;
        let reason = &reason.as_bytes()[..reason.len().min(255)];
        h[13] = reason.len() as u8;
        self.sinks.retain_mut(|s| {
            h[9..13].copy_from_slice(&s.dropped.to_le_bytes());
            let iov = [IoSlice::new(&h), IoSlice::new(reason), IoSlice::new(frame)];
            match sendmsg::<()>(
                s.fd.as_raw_fd(),
                &iov,
                &[],
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => true,
                Err(Errno::EAGAIN | Errno::ENOBUFS | Errno::EINTR) => {
                    s.dropped = s.dropped.saturating_add(1);
                    true
                }
                Err(_) => false, // the reader went away
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{recv, socketpair, AddressFamily, SockFlag, SockType};

    #[test]
    fn records_carry_time_direction_and_drops_and_a_gone_reader_is_dropped() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut c = Captures::default();
        c.frame(stack::Instant::from_micros(5), Dir::In, b"nobody listens");
        c.add(a);
        c.frame(stack::Instant::from_micros(7), Dir::Out, b"frame");
        let mut buf = [0u8; 64];
        let n = recv(b.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        assert_eq!(n, HEADER + 5);
        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), 7);
        assert_eq!((buf[8], buf[13]), (1, 0), "outbound, no reason");
        assert_eq!(&buf[HEADER..n], b"frame");
        // An inbound frame the stack drops (too short to be IPv4) comes
        // after its handling, with the counter it bumped.
        let st = stack::Stack::new(stack::Config::new(std::net::Ipv4Addr::new(10, 7, 0, 2), 24));
        let junk = [0x45u8, 0, 0];
        c.handle_in(&st, stack::Instant::from_micros(9), &junk, || {
            st.handle_frame(stack::Instant::from_micros(9), &junk)
        });
        let n = recv(b.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        let r = buf[13] as usize;
        assert_eq!(buf[8], 0);
        assert_eq!(&buf[HEADER..HEADER + r], b"drop_malformed");
        assert_eq!(&buf[HEADER + r..n], &junk);
        // Fill the socket: later frames are counted as dropped, not blocked on.
        let big = vec![0u8; 60_000];
        for _ in 0..1000 {
            c.frame(stack::Instant::ZERO, Dir::In, &big);
        }
        assert!(c.sinks[0].dropped > 0);
        drop(b);
        c.frame(stack::Instant::ZERO, Dir::In, b"x");
        assert_eq!(c.active(), 0);
    }
}
