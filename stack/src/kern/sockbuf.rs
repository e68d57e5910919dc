//! Socket buffers (`so_rcv`, `so_snd`): one byte ring each. A stream
//! buffer holds the bytes themselves; a datagram buffer holds records
//! (sender, length, payload), so queuing a datagram allocates nothing once
//! the ring has grown. With the high-water mark Linux reports as SO_RCVBUF /
//! SO_SNDBUF and the low-water mark (SO_RCVLOWAT).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::ringbuf::RingBuf;
use crate::api::DgramInfo;
use crate::time::Instant;

/// Bytes of record header in front of each queued datagram: family,
/// sender address (16 bytes), port, length.
/// (21 bytes: family, address, port, length; then the arrival, 52 bytes:
/// destination 19, interface 4, spec_dst 17, tos 1, ttl 1, stamp 8, the
/// piece size of a super-datagram 2.)
pub const DGRAM_HDR: usize = 73;

/// An address as 17 bytes: family (4 or 6), then 16 (IPv4 v4-mapped).
fn put_ip(b: &mut [u8], ip: IpAddr) {
    let (family, a16) = match ip {
        IpAddr::V4(a) => (4, a.to_ipv6_mapped()),
        IpAddr::V6(a) => (6, a),
    };
    b[0] = family;
    b[1..17].copy_from_slice(&a16.octets());
}

fn get_ip(b: &[u8]) -> IpAddr {
    let mut a16 = [0u8; 16];
    a16.copy_from_slice(&b[1..17]);
    let a6 = Ipv6Addr::from(a16);
    match (b[0], a6.to_ipv4_mapped()) {
        (4, Some(a4)) => IpAddr::V4(a4),
        _ => IpAddr::V6(a6),
    }
}

/// Room for `hiwat` bytes of payload, one maximal datagram past it, and
/// record headers.
fn dgram_ring_capacity(hiwat: usize) -> usize {
    2 * hiwat + 65536 + DGRAM_HDR
}

/// Datagram bookkeeping of a datagram buffer.
#[derive(Debug, Default, Clone, Copy)]
struct Dgrams {
    count: usize,
    /// Payload bytes queued (what the limit and FIONREAD-like sums count).
    bytes: usize,
    /// The high-water mark (a stream buffer's is its ring's capacity).
    hiwat: usize,
}

/// Locked by the owning socket's lock.
#[derive(Debug)]
pub struct SockBuf {
    ring: RingBuf,
    /// Some for a datagram buffer (boxed: a stream's buffers, two per
    /// connection, carry only the pointer).
    dgrams: Option<Box<Dgrams>>,
    /// SO_RCVLOWAT (at most `i32::MAX`, as Linux's sk_rcvlowat).
    pub sb_lowat: u32,
    /// The application set the size (SO_SNDBUF/SO_RCVBUF): no autotuning
    /// (Linux's SOCK_SNDBUF_LOCK / SOCK_RCVBUF_LOCK).
    pub user_locked: bool,
    /// A stream's last data arrival (the SO_TIMESTAMP a TCP recvmsg
    /// reports, as Linux's tcp_recv_timestamp of the last skb read).
    pub sb_stamp: crate::time::Instant,
}

impl SockBuf {
    pub fn stream(hiwat: usize) -> SockBuf {
        SockBuf {
            ring: RingBuf::new(hiwat),
            dgrams: None,
            sb_lowat: 1,
            user_locked: false,
            sb_stamp: crate::time::Instant::ZERO,
        }
    }

    /// A stream receive buffer: storage of `ringbuf::KEEP_STORAGE` or more
    /// is kept while the reader empties it (TCP releases it once idle).
    pub fn stream_rcv(hiwat: usize) -> SockBuf {
        let mut sb = SockBuf::stream(hiwat);
        sb.ring.set_keep();
        sb
    }

    pub fn dgram(hiwat: usize) -> SockBuf {
        SockBuf {
            ring: RingBuf::new(dgram_ring_capacity(hiwat)),
            dgrams: Some(Box::new(Dgrams {
                hiwat,
                ..Dgrams::default()
            })),
            sb_lowat: 1,
            user_locked: false,
            sb_stamp: crate::time::Instant::ZERO,
        }
    }

    /// Bytes held (sb_cc): stream bytes, or datagram payload bytes.
    pub fn cc(&self) -> usize {
        match &self.dgrams {
            Some(d) => d.bytes,
            None => self.ring.len(),
        }
    }

    /// The high-water mark: what getsockopt(SO_*BUF) reports (Linux
    /// doubles what is set). A stream buffer's is its ring's capacity
    /// (no field of its own: two buffers per connection, issue 18).
    pub fn sb_hiwat(&self) -> usize {
        match &self.dgrams {
            Some(d) => d.hiwat,
            None => self.ring.capacity(),
        }
    }

    /// Set the high-water mark; bytes already held above it stay.
    pub fn set_hiwat(&mut self, hiwat: usize) {
        let cap = match self.dgrams.as_mut() {
            Some(d) => {
                d.hiwat = hiwat;
                dgram_ring_capacity(hiwat)
            }
            None => hiwat,
        };
        self.ring.set_capacity(cap);
    }

    /// Bytes of memory the buffer's storage holds (either kind).
    pub fn allocated(&self) -> usize {
        self.ring.allocated()
    }

    /// The stream bytes (for a stream buffer).
    pub fn ring(&self) -> &RingBuf {
        debug_assert!(
            self.dgrams.is_none(),
            "stream accessor on a datagram buffer"
        );
        &self.ring
    }

    pub fn ring_mut(&mut self) -> &mut RingBuf {
        debug_assert!(
            self.dgrams.is_none(),
            "stream accessor on a datagram buffer"
        );
        &mut self.ring
    }

    /// Queue a datagram if it fits (Linux admits one datagram past the
    /// limit only when the queue is empty). Returns false when dropped.
    pub fn append_dgram(&mut self, from: SocketAddr, payload: &[u8]) -> bool {
        self.append_dgram_info(from, &DgramInfo::default(), payload)
    }

    /// `append_dgram` with how the datagram arrived (`want` is not kept).
    pub fn append_dgram_info(
        &mut self,
        from: SocketAddr,
        info: &DgramInfo,
        payload: &[u8],
    ) -> bool {
        let Some(d) = self.dgrams.as_mut() else {
            return false;
        };
        if d.bytes > 0 && d.bytes + payload.len() > d.hiwat {
            return false;
        }
        if payload.len() > u16::MAX as usize || self.ring.free() < DGRAM_HDR + payload.len() {
            return false;
        }
        // Family byte, the address as 16 bytes (IPv4 v4-mapped), port, length.
        let mut hdr = [0u8; DGRAM_HDR];
        let (family, a16) = match from.ip() {
            IpAddr::V4(a) => (4, a.to_ipv6_mapped()),
            IpAddr::V6(a) => (6, a),
        };
        hdr[0] = family;
        hdr[1..17].copy_from_slice(&a16.octets());
        hdr[17..19].copy_from_slice(&from.port().to_be_bytes());
        hdr[19..21].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        put_ip(&mut hdr[21..38], info.dst.ip());
        hdr[38..40].copy_from_slice(&info.dst.port().to_be_bytes());
        hdr[40..44].copy_from_slice(&info.ifindex.to_be_bytes());
        put_ip(&mut hdr[44..61], info.spec_dst);
        hdr[61] = info.tos;
        hdr[62] = info.ttl;
        hdr[63..71].copy_from_slice(&info.stamp.total_micros().to_be_bytes());
        hdr[71..73].copy_from_slice(&info.gso_size.to_be_bytes());
        self.ring.push(&hdr);
        self.ring.push(payload);
        d.count += 1;
        d.bytes += payload.len();
        true
    }

    /// The next datagram's sender and length, leaving it queued.
    pub fn front_dgram(&self) -> Option<(SocketAddr, usize)> {
        if self.dgrams.as_ref()?.count == 0 {
            return None;
        }
        let mut h = [0u8; DGRAM_HDR];
        self.ring.read_at(0, &mut h);
        let mut a16 = [0u8; 16];
        a16.copy_from_slice(&h[1..17]);
        let a6 = Ipv6Addr::from(a16);
        let ip = match (h[0], a6.to_ipv4_mapped()) {
            (4, Some(a4)) => IpAddr::V4(a4),
            _ => IpAddr::V6(a6),
        };
        let from = SocketAddr::new(ip, u16::from_be_bytes([h[17], h[18]]));
        Some((from, u16::from_be_bytes([h[19], h[20]]) as usize))
    }

    /// How the next datagram arrived (`want` left 0).
    pub fn front_info(&self) -> Option<DgramInfo> {
        if self.dgrams.as_ref()?.count == 0 {
            return None;
        }
        let mut h = [0u8; DGRAM_HDR];
        self.ring.read_at(0, &mut h);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&h[63..71]);
        Some(DgramInfo {
            dst: SocketAddr::new(get_ip(&h[21..38]), u16::from_be_bytes([h[38], h[39]])),
            ifindex: u32::from_be_bytes([h[40], h[41], h[42], h[43]]),
            spec_dst: get_ip(&h[44..61]),
            tos: h[61],
            ttl: h[62],
            stamp: Instant::from_micros(u64::from_be_bytes(stamp)),
            gso_size: u16::from_be_bytes([h[71], h[72]]),
            want: 0,
        })
    }

    /// Copy the start of the next datagram into `buf`, leaving it queued:
    /// (sender, datagram length, bytes copied).
    pub fn peek_dgram(&self, buf: &mut [u8]) -> Option<(SocketAddr, usize, usize)> {
        let (from, len) = self.front_dgram()?;
        let n = len.min(buf.len());
        self.ring.read_at(DGRAM_HDR, &mut buf[..n]);
        Some((from, len, n))
    }

    /// Drop the next datagram; false if there is none.
    pub fn pop_dgram(&mut self) -> bool {
        let Some((_, len)) = self.front_dgram() else {
            return false;
        };
        self.ring.consume(DGRAM_HDR + len);
        if let Some(d) = self.dgrams.as_mut() {
            d.count -= 1;
            d.bytes -= len;
        }
        true
    }

    pub fn clear(&mut self) {
        let n = self.ring.len();
        self.ring.consume(n);
        if let Some(d) = self.dgrams.as_mut() {
            **d = Dgrams {
                hiwat: d.hiwat,
                ..Dgrams::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn dgram_queue_accounts_bytes_and_limits() {
        let from = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 9);
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
        assert!(sb.pop_dgram());
        // IPv6 senders, and a v4-mapped one that stays IPv6.
        let six: SocketAddr = "[fd00:7::1]:53".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:9".parse().unwrap();
        assert!(sb.append_dgram(six, b"v6") && sb.append_dgram(mapped, b"m"));
        assert_eq!(sb.front_dgram(), Some((six, 2)));
        assert!(sb.pop_dgram());
        assert_eq!(sb.front_dgram(), Some((mapped, 1)));
        sb.clear();
        assert_eq!((sb.cc(), sb.front_dgram()), (0, None));
    }

    #[test]
    fn stream_buffer_is_its_ring() {
        let mut sb = SockBuf::stream(8);
        assert_eq!(sb.ring_mut().push(b"0123456789"), 8);
        assert_eq!(sb.cc(), 8);
        assert!(!sb.append_dgram(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), b"x"));
        sb.set_hiwat(16);
        assert_eq!(sb.ring().free(), 8);
        // Shrunk below what it holds: it keeps the bytes, takes no more,
        // and reports what was set (as Linux's sk_rcvbuf).
        sb.set_hiwat(4);
        assert_eq!((sb.sb_hiwat(), sb.cc(), sb.ring().free()), (4, 8, 0));
        assert_eq!(sb.ring_mut().push(b"x"), 0);
        let mut out = [0u8; 8];
        assert_eq!(sb.ring_mut().pop(&mut out), 8);
        assert_eq!(&out, b"01234567");
        assert_eq!(sb.ring_mut().push(b"0123456789"), 4);
        let dg = SockBuf::dgram(100);
        assert_eq!(dg.sb_hiwat(), 100);
    }
}
