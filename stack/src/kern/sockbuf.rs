//! Socket buffers (`so_rcv`, `so_snd`): a byte ring for streams, or for
//! datagrams a ring of records (sender, length, payload) so queuing a
//! datagram allocates nothing once the ring has grown; with the high-water
//! mark Linux reports as SO_RCVBUF / SO_SNDBUF and the low-water mark.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::ringbuf::RingBuf;

#[derive(Debug)]
pub enum SbData {
    Stream(RingBuf),
    /// Records of `DGRAM_HDR` bytes (address, port, length) + payload.
    Dgram {
        ring: RingBuf,
        count: usize,
        bytes: usize,
    },
}

/// Bytes of record header in front of each queued datagram.
pub const DGRAM_HDR: usize = 8;

/// Room for `hiwat` bytes of payload, one maximal datagram past it, and
/// record headers.
fn dgram_ring_capacity(hiwat: usize) -> usize {
    2 * hiwat + 65536 + DGRAM_HDR
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
                ring: RingBuf::new(dgram_ring_capacity(hiwat)),
                count: 0,
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
        match &mut self.data {
            SbData::Stream(r) => r.set_capacity(hiwat),
            SbData::Dgram { ring, .. } => ring.set_capacity(dgram_ring_capacity(hiwat)),
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
            SbData::Dgram { ring, count, bytes } => {
                if *bytes > 0 && *bytes + payload.len() > hiwat {
                    return false;
                }
                if payload.len() > u16::MAX as usize || ring.free() < DGRAM_HDR + payload.len() {
                    return false;
                }
                let mut hdr = [0u8; DGRAM_HDR];
                hdr[..4].copy_from_slice(&from.ip().octets());
                hdr[4..6].copy_from_slice(&from.port().to_be_bytes());
                hdr[6..].copy_from_slice(&(payload.len() as u16).to_be_bytes());
                ring.push(&hdr);
                ring.push(payload);
                *count += 1;
                *bytes += payload.len();
                true
            }
            SbData::Stream(_) => false,
        }
    }

    /// The next datagram's sender and length, leaving it queued.
    pub fn front_dgram(&self) -> Option<(SocketAddrV4, usize)> {
        match &self.data {
            SbData::Dgram { ring, count, .. } if *count > 0 => {
                let mut h = [0u8; DGRAM_HDR];
                ring.read_at(0, &mut h);
                let from = SocketAddrV4::new(
                    Ipv4Addr::new(h[0], h[1], h[2], h[3]),
                    u16::from_be_bytes([h[4], h[5]]),
                );
                Some((from, u16::from_be_bytes([h[6], h[7]]) as usize))
            }
            _ => None,
        }
    }

    /// Copy the start of the next datagram into `buf`, leaving it queued:
    /// (sender, datagram length, bytes copied).
    pub fn peek_dgram(&self, buf: &mut [u8]) -> Option<(SocketAddrV4, usize, usize)> {
        let (from, len) = self.front_dgram()?;
        let n = len.min(buf.len());
        if let SbData::Dgram { ring, .. } = &self.data {
            ring.read_at(DGRAM_HDR, &mut buf[..n]);
        }
        Some((from, len, n))
    }

    /// Drop the next datagram; false if there is none.
    pub fn pop_dgram(&mut self) -> bool {
        let Some((_, len)) = self.front_dgram() else {
            return false;
        };
        if let SbData::Dgram { ring, count, bytes } = &mut self.data {
            ring.consume(DGRAM_HDR + len);
            *count -= 1;
            *bytes -= len;
        }
        true
    }

    pub fn clear(&mut self) {
        match &mut self.data {
            SbData::Stream(r) => {
                let n = r.len();
                r.consume(n)
            }
            SbData::Dgram { ring, count, bytes } => {
                let n = ring.len();
                ring.consume(n);
                *count = 0;
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
        let mut buf = [0u8; 10];
        assert_eq!(sb.peek_dgram(&mut buf), Some((from, 150, 10)));
        assert!(sb.pop_dgram());
        assert_eq!(sb.cc(), 0);
        assert!(!sb.pop_dgram());
        assert!(sb.append_dgram(from, b"ab"));
        assert!(
            sb.append_dgram(from, b""),
            "zero-length datagrams queue too"
        );
        assert_eq!(sb.front_dgram(), Some((from, 2)));
        assert!(sb.pop_dgram());
        assert_eq!(sb.front_dgram(), Some((from, 0)));
    }
}
