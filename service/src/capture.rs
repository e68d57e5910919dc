//! `sockshim capture`, the service's side: a copy of every frame the
//! stack receives (after SOCKSHIM_FAULTS, as the stack sees it) and sends
//! (before them), one SOCK_SEQPACKET record per frame, to each capturing
//! client's socket (passed with `Request::Capture`). A record is a header,
//! the frame's time (CLOCK_MONOTONIC microseconds, u64 LE), its direction
//! (0 in, 1 out) and the frames dropped for this capture so far (u32 LE),
//! then the frame. Never blocks: a capture that does not keep up loses
//! frames, counted in the next record it gets; one whose reader went away
//! is dropped. No capture: one branch per frame.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, MsgFlags};

/// Bytes before the frame in a record.
pub const HEADER: usize = 13;

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
        self.copy(now, dir, frame);
    }

    fn copy(&mut self, now: stack::Instant, dir: Dir, frame: &[u8]) {
        let mut h = [0u8; HEADER];
        h[..8].copy_from_slice(&now.total_micros().to_le_bytes());
        h[8] = dir as u8;
        self.sinks.retain_mut(|s| {
            h[9..13].copy_from_slice(&s.dropped.to_le_bytes());
            let iov = [IoSlice::new(&h), IoSlice::new(frame)];
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
        assert_eq!(buf[8], 1);
        assert_eq!(&buf[HEADER..n], b"frame");
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
