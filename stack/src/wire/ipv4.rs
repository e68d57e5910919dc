//! IPv4 (RFC 791): the `Ipv4Packet` view over header bytes and the
//! `Ipv4Repr` the stack reasons about.
//!
//! We neither build nor reassemble fragments: `Ipv4Repr::parse` returns
//! `Unsupported` for any fragment so the caller can drop and count it. IP
//! options are skipped on input and never emitted.

use std::net::Ipv4Addr;

use super::checksum;
use super::{get_u16, put_u16, Result, WireError};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC_ADDR: usize = 12;
    pub const DST_ADDR: usize = 16;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view over an IPv4 packet held in `T`.
///
/// After [`Ipv4Packet::new_checked`] succeeds every getter is in bounds.
/// With [`Ipv4Packet::new_unchecked`] the header getters need 20 bytes.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without looking at it.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking that the header and the length fields
    /// fit: at least 20 bytes, version 4, IHL >= 5, the header within the
    /// buffer, and header length <= total length <= buffer length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv4Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::Malformed);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if hl > len {
            return Err(WireError::Truncated);
        }
        let tl = self.total_len();
        if tl < hl {
            return Err(WireError::Malformed);
        }
        if tl > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Type of service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length of header and payload, in bytes.
    pub fn total_len(&self) -> usize {
        usize::from(get_u16(self.buffer.as_ref(), field::LENGTH))
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(get_u16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) * 8
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload (`IP_PROTO_*`).
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        let a = field::SRC_ADDR;
        Ipv4Addr::new(b[a], b[a + 1], b[a + 2], b[a + 3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        let a = field::DST_ADDR;
        Ipv4Addr::new(b[a], b[a + 1], b[a + 2], b[a + 3])
    }

    /// Whether the header checksum (over `header_len` bytes) is correct.
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        let hl = self.header_len().min(b.len());
        checksum::fold(checksum::ones_sum(&b[..hl], 0)) == 0
    }

    /// The payload: `header_len..total_len`. Bytes past `total_len` are link
    /// padding and not part of it. Clamped to the buffer, so never panics.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.total_len().min(b.len());
        let start = self.header_len().min(end);
        &b[start..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length, in bytes (a multiple of 4, 20..=60).
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len.is_multiple_of(4) && (HEADER_LEN..=60).contains(&len),
            "ipv4 header_len {len}"
        );
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the type of service byte.
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets the total length, in bytes.
    pub fn set_total_len(&mut self, len: usize) {
        debug_assert!(len <= usize::from(u16::MAX), "ipv4 total_len {len}");
        put_u16(self.buffer.as_mut(), field::LENGTH, len as u16);
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, ident: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flg_off_bits(&mut self, mask: u16, value: u16) {
        let b = self.buffer.as_mut();
        let v = (get_u16(b, field::FLG_OFF) & !mask) | (value & mask);
        put_u16(b, field::FLG_OFF, v);
    }

    /// Sets or clears the don't-fragment flag.
    pub fn set_dont_frag(&mut self, df: bool) {
        self.set_flg_off_bits(FLAG_DF, if df { FLAG_DF } else { 0 });
    }

    /// Sets or clears the more-fragments flag.
    pub fn set_more_frags(&mut self, mf: bool) {
        self.set_flg_off_bits(FLAG_MF, if mf { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset, in bytes (a multiple of 8).
    pub fn set_frag_offset(&mut self, offset: usize) {
        debug_assert!(offset.is_multiple_of(8) && offset / 8 <= usize::from(OFFSET_MASK));
        self.set_flg_off_bits(OFFSET_MASK, (offset / 8) as u16);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol byte.
    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, sum: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, sum);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        let a = field::SRC_ADDR;
        self.buffer.as_mut()[a..a + 4].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        let a = field::DST_ADDR;
        self.buffer.as_mut()[a..a + 4].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum over `header_len` bytes and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let hl = self.header_len().min(b.len());
        let sum = checksum::fold(checksum::ones_sum(&b[..hl], 0));
        self.set_checksum(sum);
    }

    /// The payload, mutably (`header_len..total_len`, clamped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let tl = self.total_len();
        let b = self.buffer.as_mut();
        let end = tl.min(b.len());
        let start = hl.min(end);
        &mut b[start..end]
    }
}

/// The parts of an IPv4 header the stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: u8,
    /// Length of the payload (total length minus header length).
    pub payload_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Parses a whole IPv4 packet: the checks of `new_checked`, then the
    /// header checksum (`BadChecksum`), then fragments (MF set or offset
    /// non-zero: `Unsupported`, we drop and count them). IP options are
    /// skipped. Returns the repr and the payload (`header_len..total_len`).
    pub fn parse(packet: &[u8]) -> Result<(Ipv4Repr, &[u8])> {
        let p = Ipv4Packet::new_checked(packet)?;
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        if p.more_frags() || p.frag_offset() != 0 {
            return Err(WireError::Unsupported);
        }
        let (hl, tl) = (p.header_len(), p.total_len());
        let repr = Ipv4Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: tl - hl,
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        };
        Ok((repr, &packet[hl..tl]))
    }

    /// Header plus payload length.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes exactly `HEADER_LEN` bytes into `buf[..20]`: version 4, IHL 5,
    /// total length `20 + payload_len`, DF per `dont_frag`, no fragment
    /// offset, checksum filled. The caller guarantees `buf.len() >= 20` and
    /// `payload_len <= 65515`.
    pub fn emit(&self, buf: &mut [u8]) {
        debug_assert!(
            buf.len() >= HEADER_LEN,
            "ipv4 emit into {} bytes",
            buf.len()
        );
        debug_assert!(
            self.buffer_len() <= usize::from(u16::MAX),
            "ipv4 payload_len too big"
        );
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.buffer[field::VER_IHL] = 0x45;
        p.set_tos(self.tos);
        p.set_total_len(self.buffer_len());
        p.set_ident(self.ident);
        put_u16(
            p.buffer,
            field::FLG_OFF,
            if self.dont_frag { FLAG_DF } else { 0 },
        );
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IP_PROTO_UDP;
    use proptest::prelude::*;

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 10),
            dst_addr: Ipv4Addr::new(10, 1, 2, 3),
            protocol: IP_PROTO_UDP,
            payload_len: 5,
            ttl: 64,
            tos: 0x10,
            ident: 0xbeef,
            dont_frag: true,
        }
    }

    fn packet(r: &Ipv4Repr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf);
        buf[HEADER_LEN..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn emit_parse_round_trip() {
        let r = repr();
        let buf = packet(&r, b"hello");
        let (parsed, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(payload, b"hello");
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 25);
        assert!(p.dont_frag() && !p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(p.verify_checksum());
    }

    #[test]
    fn known_header_checksum() {
        // A header whose checksum was worked by hand: 45 00 00 3c 1c 46 40 00
        // 40 06 [b1 e6] ac 10 0a 63 ac 10 0a 0c (the common textbook example).
        let hdr = [
            0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xac, 0x10,
            0x0a, 0x63, 0xac, 0x10, 0x0a, 0x0c,
        ];
        let mut buf = hdr.to_vec();
        buf.resize(0x3c, 0);
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb1e6);
        assert!(p.verify_checksum());
    }

    #[test]
    fn link_padding_is_ignored() {
        let r = repr();
        let mut buf = packet(&r, b"hello");
        buf.extend_from_slice(&[0xaa; 21]);
        let (parsed, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn options_are_skipped() {
        let r = repr();
        let plain = packet(&r, b"hello");
        // Insert 4 bytes of options (NOP NOP NOP EOL) and fix up the header.
        let mut buf = plain[..HEADER_LEN].to_vec();
        buf.extend_from_slice(&[1, 1, 1, 0]);
        buf.extend_from_slice(b"hello");
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_header_len(24);
        p.set_total_len(29);
        p.fill_checksum();
        let (parsed, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn every_prefix_is_truncated() {
        let buf = packet(&repr(), b"hello");
        for n in 0..buf.len() {
            assert_eq!(
                Ipv4Repr::parse(&buf[..n]),
                Err(WireError::Truncated),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn malformed_headers() {
        let good = packet(&repr(), b"hello");
        let check = |f: &dyn Fn(&mut Ipv4Packet<&mut [u8]>), want: WireError| {
            let mut buf = good.clone();
            let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
            f(&mut p);
            p.fill_checksum();
            assert_eq!(Ipv4Repr::parse(&buf).map(|_| ()), Err(want));
        };
        check(&|p| p.set_version(6), WireError::Malformed);
        check(&|p| p.buffer[0] = 0x44, WireError::Malformed); // ihl 4
        check(&|p| p.set_header_len(28), WireError::Truncated); // header past end
        check(&|p| p.set_total_len(19), WireError::Malformed);
        check(&|p| p.set_total_len(26), WireError::Truncated);
    }

    #[test]
    fn bad_checksum() {
        let mut buf = packet(&repr(), b"hello");
        buf[8] ^= 1; // ttl
        assert_eq!(Ipv4Repr::parse(&buf), Err(WireError::BadChecksum));
    }

    #[test]
    fn fragments_are_unsupported() {
        let good = packet(&repr(), b"hello");
        for (mf, off) in [(true, 0), (false, 8), (true, 1480)] {
            let mut buf = good.clone();
            let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
            p.set_more_frags(mf);
            p.set_frag_offset(off);
            p.fill_checksum();
            assert_eq!(p.more_frags(), mf);
            assert_eq!(p.frag_offset(), off);
            assert!(p.dont_frag());
            assert_eq!(Ipv4Repr::parse(&buf), Err(WireError::Unsupported));
        }
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Ipv4Repr::parse(&data);
            if let Ok(p) = Ipv4Packet::new_checked(&data[..]) {
                let _ = (p.payload(), p.verify_checksum(), p.src_addr(), p.frag_offset());
            }
        }

        #[test]
        fn arbitrary_repr_round_trips(src in any::<u32>(), dst in any::<u32>(), protocol in any::<u8>(),
                                      payload_len in 0usize..100, ttl in any::<u8>(), tos in any::<u8>(),
                                      ident in any::<u16>(), dont_frag in any::<bool>()) {
            let r = Ipv4Repr {
                src_addr: Ipv4Addr::from(src), dst_addr: Ipv4Addr::from(dst), protocol,
                payload_len, ttl, tos, ident, dont_frag,
            };
            let payload = vec![0x5a; payload_len];
            let buf = packet(&r, &payload);
            let (parsed, p) = Ipv4Repr::parse(&buf).unwrap();
            prop_assert_eq!(parsed, r);
            prop_assert_eq!(p, &payload[..]);
        }
    }
}
