//! IPv6 (RFC 8200 §3): the `Ipv6Packet` view over the 40-byte fixed header
//! and the `Ipv6Repr` the stack reasons about.
//!
//! Extension headers are not this file's business: `Ipv6Repr::parse` hands
//! back the fixed header's `next_header` and everything after the fixed
//! header (up to the payload length); `ipv6ext::walk` goes through the
//! extension headers to the upper-layer protocol. Jumbograms (RFC 2675,
//! payload length 0 with a hop-by-hop Jumbo Payload option) are
//! `Unsupported`: nothing on a TUN device carries them.

use std::net::Ipv6Addr;

use super::{get_u16, get_u32, put_u16, put_u32, Result, WireError};

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = 40;

/// The IPv6 minimum link MTU (RFC 8200 §5): every link carries this much.
pub const MIN_MTU: usize = 1280;

mod field {
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: usize = 8;
    pub const DST_ADDR: usize = 24;
}

/// A view over an IPv6 packet held in `T`.
///
/// After [`Ipv6Packet::new_checked`] succeeds every getter is in bounds.
/// With [`Ipv6Packet::new_unchecked`] the header getters need 40 bytes.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without looking at it.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after checking that the fixed header is there, the
    /// version is 6 and the payload length fits in the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv6Packet { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if p.version() != 6 {
            return Err(WireError::Malformed);
        }
        if HEADER_LEN + p.payload_len() > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    /// The version field (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    /// The 20-bit flow label.
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length: what follows the fixed header, extension headers
    /// included.
    pub fn payload_len(&self) -> usize {
        usize::from(get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN))
    }

    /// Type of the header after the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    fn addr_at(&self, at: usize) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[at..at + 16]);
        Ipv6Addr::from(o)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr_at(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr_at(field::DST_ADDR)
    }

    /// The payload: `40..40 + payload_len`, clamped to the buffer. Bytes
    /// past it are link padding.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + self.payload_len()).min(b.len());
        &b[HEADER_LEN.min(end)..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_word0(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::VER_TC_FLOW, v);
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let w = (self.word0() & 0x0fff_ffff) | (u32::from(version & 0x0f) << 28);
        self.set_word0(w);
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (self.word0() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_word0(w);
    }

    /// Sets the flow label (the low 20 bits of `label`).
    pub fn set_flow_label(&mut self, label: u32) {
        let w = (self.word0() & 0xfff0_0000) | (label & 0x000f_ffff);
        self.set_word0(w);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: usize) {
        debug_assert!(len <= usize::from(u16::MAX), "ipv6 payload_len {len}");
        put_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len as u16);
    }

    /// Sets the next header byte.
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hops;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        let a = field::SRC_ADDR;
        self.buffer.as_mut()[a..a + 16].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        let a = field::DST_ADDR;
        self.buffer.as_mut()[a..a + 16].copy_from_slice(&addr.octets());
    }
}

/// The fixed header of an IPv6 packet, as the stack uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    /// Type of the first header after the fixed one (an extension header
    /// or the upper-layer protocol).
    pub next_header: u8,
    /// Length of what follows the fixed header.
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses the fixed header of a whole IPv6 packet: the checks of
    /// `new_checked`, and a payload length of 0 with a hop-by-hop header
    /// next (a jumbogram) is `Unsupported`. Returns the repr and the
    /// payload (`40..40 + payload_len`, extension headers included).
    pub fn parse(packet: &[u8]) -> Result<(Ipv6Repr, &[u8])> {
        let p = Ipv6Packet::new_checked(packet)?;
        if p.payload_len() == 0 && p.next_header() == super::ipv6ext::HOP_BY_HOP {
            return Err(WireError::Unsupported);
        }
        let repr = Ipv6Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        };
        Ok((repr, &packet[HEADER_LEN..HEADER_LEN + repr.payload_len]))
    }

    /// Fixed header plus payload length.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes exactly `HEADER_LEN` bytes into `buf[..40]`. The caller
    /// guarantees `buf.len() >= 40` and `payload_len <= 65535`.
    pub fn emit(&self, buf: &mut [u8]) {
        debug_assert!(
            buf.len() >= HEADER_LEN,
            "ipv6 emit into {} bytes",
            buf.len()
        );
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_word0(0);
        p.set_version(6);
        p.set_traffic_class(self.traffic_class);
        p.set_flow_label(self.flow_label);
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IP_PROTO_UDP;
    use proptest::prelude::*;

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "fd00:7::2".parse().unwrap(),
            dst_addr: "fd00:7::1".parse().unwrap(),
            next_header: IP_PROTO_UDP,
            payload_len: 5,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0xabcde,
        }
    }

    fn packet(r: &Ipv6Repr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf);
        buf[HEADER_LEN..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn known_header_bytes() {
        let buf = packet(&repr(), b"hello");
        // version 6, tc 0xb8, flow 0xabcde: 6b 8a bc de; length 5; nh 17; hops 64.
        assert_eq!(&buf[..8], &[0x6b, 0x8a, 0xbc, 0xde, 0x00, 0x05, 17, 64]);
        assert_eq!(&buf[8..10], &[0xfd, 0x00]);
        assert_eq!(buf[23], 2);
        assert_eq!(buf[39], 1);
    }

    #[test]
    fn emit_parse_round_trip() {
        let r = repr();
        let buf = packet(&r, b"hello");
        let (parsed, payload) = Ipv6Repr::parse(&buf).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(payload, b"hello");
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload(), b"hello");
    }

    #[test]
    fn link_padding_is_ignored() {
        let r = repr();
        let mut buf = packet(&r, b"hello");
        buf.extend_from_slice(&[0xaa; 7]);
        let (parsed, payload) = Ipv6Repr::parse(&buf).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn every_prefix_is_truncated() {
        let buf = packet(&repr(), b"hello");
        for n in 0..buf.len() {
            assert_eq!(
                Ipv6Repr::parse(&buf[..n]),
                Err(WireError::Truncated),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn wrong_version_and_jumbogram() {
        let mut buf = packet(&repr(), b"hello");
        Ipv6Packet::new_unchecked(&mut buf[..]).set_version(4);
        assert_eq!(Ipv6Repr::parse(&buf), Err(WireError::Malformed));
        let mut jumbo = Ipv6Repr {
            payload_len: 0,
            next_header: crate::wire::ipv6ext::HOP_BY_HOP,
            ..repr()
        };
        let buf = packet(&jumbo, b"");
        assert_eq!(Ipv6Repr::parse(&buf), Err(WireError::Unsupported));
        // An empty payload is fine otherwise (No Next Header).
        jumbo.next_header = crate::wire::ipv6ext::NO_NEXT_HEADER;
        let buf = packet(&jumbo, b"");
        assert_eq!(
            Ipv6Repr::parse(&buf).map(|(r, p)| (r, p.len())),
            Ok((jumbo, 0))
        );
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Ipv6Repr::parse(&data);
            if let Ok(p) = Ipv6Packet::new_checked(&data[..]) {
                let _ = (p.payload(), p.src_addr(), p.flow_label(), p.traffic_class());
            }
        }

        #[test]
        fn arbitrary_repr_round_trips(src in any::<u128>(), dst in any::<u128>(), next_header in any::<u8>(),
                                      payload_len in 1usize..100, hop_limit in any::<u8>(),
                                      traffic_class in any::<u8>(), flow_label in 0u32..0x100000) {
            let r = Ipv6Repr {
                src_addr: Ipv6Addr::from(src), dst_addr: Ipv6Addr::from(dst), next_header,
                payload_len, hop_limit, traffic_class, flow_label,
            };
            let payload = vec![0x5a; payload_len];
            let buf = packet(&r, &payload);
            let (parsed, p) = Ipv6Repr::parse(&buf).unwrap();
            prop_assert_eq!(parsed, r);
            prop_assert_eq!(p, &payload[..]);
        }
    }
}
