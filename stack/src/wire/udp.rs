//! UDP datagrams (RFC 768): the `UdpPacket` view and the `UdpRepr`.
//!
//! A zero checksum on input means the sender did not compute one and is
//! accepted; on output we always compute it, sending a computed zero as
//! 0xffff as RFC 768 requires.

use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv4Addr;

use super::checksum;
use super::{get_u16, put_u16, Result, WireError, IP_PROTO_UDP};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view over a UDP datagram held in `T`.
///
/// After [`UdpPacket::new_checked`] succeeds every getter is in bounds.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without looking at it.
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` after checking: at least 8 bytes (`Truncated`), length
    /// field >= 8 (`Malformed`) and <= the buffer length (`Truncated`).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = UdpPacket { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let l = p.len();
        if l < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if l > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(get_u16(self.buffer.as_ref(), field::LENGTH))
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload, `8..length` (clamped to the buffer).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.len().min(b.len());
        &b[HEADER_LEN.min(end)..end]
    }

    /// Whether the checksum is correct over `..length` and the pseudo
    /// header. A zero checksum (not computed) counts as correct over IPv4
    /// and as wrong over IPv6, where it is mandatory (RFC 8200 §8.1).
    pub fn verify_checksum(&self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> bool {
        let (src, dst) = (src.into(), dst.into());
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let b = self.buffer.as_ref();
        let end = self.len().min(b.len());
        checksum::transport_checksum(src, dst, IP_PROTO_UDP, &b[..end]) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Sets the length field (header plus payload, in bytes).
    pub fn set_len(&mut self, len: usize) {
        debug_assert!(len <= usize::from(u16::MAX), "udp length {len}");
        put_u16(self.buffer.as_mut(), field::LENGTH, len as u16);
    }

    pub fn set_checksum(&mut self, sum: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, sum);
    }

    /// The payload, mutably (`8..length`, clamped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = self.len();
        let b = self.buffer.as_mut();
        let end = l.min(b.len());
        &mut b[HEADER_LEN.min(end)..end]
    }

    /// Computes the checksum over `..length` and the pseudo header and
    /// stores it (a computed 0 is stored as 0xffff).
    pub fn fill_checksum(&mut self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let end = self.len().min(b.len());
        let sum = match checksum::transport_checksum(src, dst, IP_PROTO_UDP, &b[..end]) {
            0 => 0xffff,
            s => s,
        };
        self.set_checksum(sum);
    }
}

/// A UDP datagram as the stack sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// Parses a datagram (the IPv4 payload): the checks of
    /// `UdpPacket::new_checked`, then the checksum unless it is 0
    /// (`BadChecksum`). The payload is `8..length`; bytes past the length
    /// field are ignored.
    pub fn parse(
        datagram: &'a [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<UdpRepr<'a>> {
        let p = UdpPacket::new_checked(datagram)?;
        if !p.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        Self::parse_unverified(datagram)
    }

    /// `parse` without the checksum: for a datagram whose checksum the
    /// device checked, or the local kernel left partial (virtio_net_hdr).
    pub fn parse_unverified(datagram: &'a [u8]) -> Result<UdpRepr<'a>> {
        let p = UdpPacket::new_checked(datagram)?;
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload: &datagram[HEADER_LEN..p.len()],
        })
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes exactly `buffer_len()` bytes into `buf` with the checksum
    /// filled. The caller guarantees `buf.len() >= buffer_len()` and a
    /// payload of at most 65507 bytes.
    pub fn emit(&self, buf: &mut [u8], src: impl Into<IpAddr>, dst: impl Into<IpAddr>) {
        let total = self.buffer_len();
        debug_assert!(
            buf.len() >= total,
            "udp emit {total} bytes into {}",
            buf.len()
        );
        let mut p = UdpPacket::new_unchecked(&mut buf[..total]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(total);
        p.payload_mut().copy_from_slice(self.payload);
        p.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// 10.0.0.1:5353 > 10.0.0.2:53, payload "ping"; checksum 0xf7e4 worked
    /// out independently of this code.
    const PING: [u8; 12] = [
        0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0xf7, 0xe4, b'p', b'i', b'n', b'g',
    ];

    #[test]
    fn known_datagram() {
        let r = UdpRepr::parse(&PING, SRC, DST).unwrap();
        assert_eq!(
            r,
            UdpRepr {
                src_port: 5353,
                dst_port: 53,
                payload: b"ping"
            }
        );
        let mut buf = [0u8; 12];
        r.emit(&mut buf, SRC, DST);
        assert_eq!(buf, PING);
    }

    #[test]
    fn round_trip_odd_and_empty_payloads() {
        for payload in [&b""[..], b"a", b"abc", b"0123456789abcdefg"] {
            let r = UdpRepr {
                src_port: 1,
                dst_port: 65535,
                payload,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf, SRC, DST);
            assert_eq!(UdpRepr::parse(&buf, SRC, DST), Ok(r));
        }
    }

    #[test]
    fn zero_checksum_is_accepted_and_bytes_past_length_ignored() {
        let mut buf = PING.to_vec();
        buf[6] = 0;
        buf[7] = 0;
        buf.extend_from_slice(b"junk");
        let r = UdpRepr::parse(&buf, SRC, DST).unwrap();
        assert_eq!(r.payload, b"ping");
    }

    #[test]
    fn over_ipv6_the_checksum_is_mandatory() {
        let (s6, d6): (std::net::Ipv6Addr, std::net::Ipv6Addr) =
            ("fd00:7::2".parse().unwrap(), "fd00:7::1".parse().unwrap());
        let r = UdpRepr {
            src_port: 5353,
            dst_port: 53,
            payload: b"ping",
        };
        let mut buf = [0u8; 12];
        r.emit(&mut buf, s6, d6);
        assert_eq!(UdpRepr::parse(&buf, s6, d6), Ok(r));
        // The IPv4 pseudo header does not verify it, nor another address.
        assert_eq!(UdpRepr::parse(&buf, SRC, DST), Err(WireError::BadChecksum));
        assert_eq!(UdpRepr::parse(&buf, d6, d6), Err(WireError::BadChecksum));
        buf[6] = 0;
        buf[7] = 0;
        assert_eq!(UdpRepr::parse(&buf, s6, d6), Err(WireError::BadChecksum));
    }

    #[test]
    fn computed_zero_is_sent_as_ffff() {
        // Pick the payload word so the sum comes out 0xffff (checksum 0).
        let base = UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload: &[0, 0],
        };
        let mut buf = [0u8; 10];
        base.emit(&mut buf, SRC, DST);
        let c = u16::from_be_bytes([buf[6], buf[7]]);
        let payload = c.to_be_bytes();
        let r = UdpRepr {
            payload: &payload,
            ..base
        };
        r.emit(&mut buf, SRC, DST);
        assert_eq!(UdpPacket::new_checked(&buf[..]).unwrap().checksum(), 0xffff);
        assert_eq!(UdpRepr::parse(&buf, SRC, DST), Ok(r));
    }

    #[test]
    fn bad_checksum_and_bad_lengths() {
        let mut buf = PING.to_vec();
        buf[9] ^= 1;
        assert_eq!(UdpRepr::parse(&buf, SRC, DST), Err(WireError::BadChecksum));
        let mut buf = PING.to_vec();
        buf[5] = 7;
        assert_eq!(UdpRepr::parse(&buf, SRC, DST), Err(WireError::Malformed));
        buf[5] = 13;
        assert_eq!(UdpRepr::parse(&buf, SRC, DST), Err(WireError::Truncated));
        for n in 0..PING.len() {
            assert_eq!(
                UdpRepr::parse(&PING[..n], SRC, DST),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn setters() {
        let mut buf = PING;
        let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_src_port(9);
        p.set_dst_port(10);
        p.payload_mut()[0] = b'P';
        p.fill_checksum(SRC, DST);
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(
            (p.src_port(), p.dst_port(), p.len(), p.payload()),
            (9, 10, 12, &b"Ping"[..])
        );
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = UdpRepr::parse(&data, SRC, DST);
            if let Ok(p) = UdpPacket::new_checked(&data[..]) {
                let _ = (p.payload(), p.verify_checksum(SRC, DST));
            }
        }

        #[test]
        fn arbitrary_repr_round_trips(src_port in any::<u16>(), dst_port in any::<u16>(),
                                      payload in proptest::collection::vec(any::<u8>(), 0..100)) {
            let r = UdpRepr { src_port, dst_port, payload: &payload };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf, SRC, DST);
            prop_assert_eq!(UdpRepr::parse(&buf, SRC, DST), Ok(r));
        }
    }
}
