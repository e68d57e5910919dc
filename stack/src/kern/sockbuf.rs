//! Socket buffers (`so_rcv`, `so_snd`): a byte ring for streams or a
//! datagram queue, with the high-water mark Linux reports as SO_RCVBUF /
//! SO_SNDBUF and the low-water mark (SO_RCVLOWAT / SO_SNDLOWAT).

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use super::ringbuf::RingBuf;

/// One queued datagram.
#[derive(Debug)]
pub struct Datagram {
    pub from: SocketAddrV4,
    pub data: Vec<u8>,
}

#[derive(Debug)]
pub enum SbData {
    Stream(RingBuf),
    Dgram {
        queue: VecDeque<Datagram>,
        bytes: usize,
    },
}

/// Locked by the owning socket's lock.
#[derive(Debug)]
pub struct SockBuf {
    pub data: SbData,
    /// The value getsockopt(SO_*BUF) reports (Linux doubles what is set).
    pub sb_hiwat: usize,
    pub sb_lowat: usize,
    /// The application set the size (SO_SNDBUF/SO_RCVBUF): no autotuning
    /// (Linux's SOCK_SNDBUF_LOCK / SOCK_RCVBUF_LOCK).
    pub user_locked: bool,
}

impl SockBuf {
    pub fn stream(hiwat: usize) -> SockBuf {
        SockBuf {
            data: SbData::Stream(RingBuf::new(hiwat)),
            sb_hiwat: hiwat,
            sb_lowat: 1,
            user_locked: false,
        }
    }

    pub fn dgram(hiwat: usize) -> SockBuf {
        SockBuf {
            data: SbData::Dgram {
                queue: VecDeque::new(),
                bytes: 0,
            },
            sb_hiwat: hiwat,
            sb_lowat: 1,
            user_locked: false,
        }
    }

    /// Bytes held (sb_cc).
    pub fn cc(&self) -> usize {
        match &self.data {
            SbData::Stream(r) => r.len(),
            SbData::Dgram { bytes, .. } => *bytes,
        }
    }

    pub fn set_hiwat(&mut self, hiwat: usize) {
        self.sb_hiwat = hiwat;
        if let SbData::Stream(r) = &mut self.data {
            r.set_capacity(hiwat);
        }
    }

    pub fn ring(&self) -> &RingBuf {
        match &self.data {
            SbData::Stream(r) => r,
            SbData::Dgram { .. } => unreachable_ring(),
        }
    }

    pub fn ring_mut(&mut self) -> &mut RingBuf {
        match &mut self.data {
            SbData::Stream(r) => r,
            SbData::Dgram { .. } => unreachable_ring_mut(),
        }
    }

    /// Queue a datagram if it fits (Linux admits one datagram past the
    /// limit only when the queue is empty). Returns false when dropped.
    pub fn append_dgram(&mut self, from: SocketAddrV4, payload: &[u8]) -> bool {
        let hiwat = self.sb_hiwat;
        match &mut self.data {
            SbData::Dgram { queue, bytes } => {
                if *bytes > 0 && *bytes + payload.len() > hiwat {
                    return false;
                }
                *bytes += payload.len();
                queue.push_back(Datagram {
                    from,
                    data: payload.to_vec(),
                });
                true
            }
            SbData::Stream(_) => false,
        }
    }

    pub fn front_dgram(&self) -> Option<&Datagram> {
        match &self.data {
            SbData::Dgram { queue, .. } => queue.front(),
            SbData::Stream(_) => None,
        }
    }

    pub fn pop_dgram(&mut self) -> Option<Datagram> {
        match &mut self.data {
            SbData::Dgram { queue, bytes } => {
                let d = queue.pop_front()?;
                *bytes -= d.data.len();
                Some(d)
            }
            SbData::Stream(_) => None,
        }
    }

    pub fn clear(&mut self) {
        match &mut self.data {
            SbData::Stream(r) => {
                let n = r.len();
                r.consume(n)
            }
            SbData::Dgram { queue, bytes } => {
                queue.clear();
                *bytes = 0;
            }
        }
    }
}

// A stream accessor used on a datagram buffer is a logic error in the stack;
// rather than panic, hand out an empty zero-capacity ring.
fn unreachable_ring() -> &'static RingBuf {
    static EMPTY: RingBuf = RingBuf::EMPTY;
    debug_assert!(false, "stream buffer accessor on a datagram socket");
    &EMPTY
}

fn unreachable_ring_mut() -> &'static mut RingBuf {
    debug_assert!(false, "stream buffer accessor on a datagram socket");
    Box::leak(Box::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn dgram_queue_accounts_bytes_and_limits() {
        let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 9);
        let mut sb = SockBuf::dgram(100);
        assert!(
            sb.append_dgram(from, &[0; 150]),
            "first datagram always fits"
        );
        assert!(!sb.append_dgram(from, &[0; 10]));
        assert_eq!(sb.cc(), 150);
        assert_eq!(sb.pop_dgram().unwrap().data.len(), 150);
        assert_eq!(sb.cc(), 0);
    }
}
