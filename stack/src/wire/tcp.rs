//! TCP segments (RFC 9293): the `TcpPacket` view, the `TcpFlags` byte and
//! the `TcpRepr` the TCP state machine consumes and produces. The options
//! (MSS, window scale, SACK, timestamps) live in `tcp/options.rs`.

use std::fmt;
use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv4Addr;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::checksum;
use super::{get_u16, get_u32, put_u16, put_u32, Result, WireError, IP_PROTO_TCP};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header: data offset 15.
pub const MAX_HEADER_LEN: usize = 60;
/// Largest option area.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

mod options;
pub use options::{option_kind, FastOpen, TcpOptions};

/// The flags byte of a TCP header (byte 13: CWR ECE URG ACK PSH RST SYN FIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flags.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// Whether every flag of `o` is set.
    pub fn contains(self, o: TcpFlags) -> bool {
        self.0 & o.0 == o.0
    }

    /// Whether any flag of `o` is set.
    pub fn intersects(self, o: TcpFlags) -> bool {
        self.0 & o.0 != 0
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Clears the flags of `o`.
    pub fn remove(&mut self, o: TcpFlags) {
        self.0 &= !o.0;
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | o.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, o: TcpFlags) {
        self.0 |= o.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & o.0)
    }
}

/// tcpdump's notation, without the brackets: `S`, `S.`, `F.`, `R`, `P.`,
/// `FP.`; letters in tcpdump's order F S R P . U E W; `none` when empty.
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        const NAMES: [(TcpFlags, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ];
        for (flag, c) in NAMES {
            if self.contains(flag) {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// A view over a TCP segment held in `T`.
///
/// After [`TcpPacket::new_checked`] succeeds every getter is in bounds.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without looking at it.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after checking: at least 20 bytes (`Truncated`), data
    /// offset >= 5 (`Malformed`), header within the buffer (`Truncated`).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = TcpPacket { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hl = p.header_len();
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if hl > len {
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

    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ)
    }

    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The option area, `20..header_len` (clamped to the buffer).
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().min(b.len());
        &b[HEADER_LEN.min(end)..end]
    }

    /// Everything after the header (clamped to the buffer).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len().min(b.len())..]
    }

    /// Whether the checksum over the whole buffer and the pseudo header is
    /// correct.
    pub fn verify_checksum(&self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> bool {
        checksum::transport_checksum(src, dst, IP_PROTO_TCP, self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_seq_number(&mut self, seq: u32) {
        put_u32(self.buffer.as_mut(), field::SEQ, seq);
    }

    pub fn set_ack_number(&mut self, ack: u32) {
        put_u32(self.buffer.as_mut(), field::ACK, ack);
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4,
    /// 20..=60); the reserved bits are cleared.
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len.is_multiple_of(4) && (HEADER_LEN..=MAX_HEADER_LEN).contains(&len),
            "tcp header_len {len}"
        );
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }

    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    pub fn set_window_len(&mut self, window: u16) {
        put_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    pub fn set_checksum(&mut self, sum: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, sum);
    }

    pub fn set_urgent_at(&mut self, urgent: u16) {
        put_u16(self.buffer.as_mut(), field::URGENT, urgent);
    }

    /// The option area, mutably (clamped to the buffer).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        let end = hl.min(b.len());
        &mut b[HEADER_LEN.min(end)..end]
    }

    /// Everything after the header, mutably (clamped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        let start = hl.min(b.len());
        &mut b[start..]
    }

    /// Computes the checksum over the whole buffer and the pseudo header
    /// and stores it.
    pub fn fill_checksum(&mut self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) {
        self.set_checksum(0);
        let sum = checksum::transport_checksum(src, dst, IP_PROTO_TCP, self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// A TCP segment as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a whole TCP segment (the IPv4 payload): the checks of
    /// `TcpPacket::new_checked`, then the checksum with the pseudo header
    /// (`BadChecksum`), then the options (see [`TcpOptions::parse`]).
    pub fn parse(
        segment: &'a [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<TcpRepr<'a>> {
        let p = TcpPacket::new_checked(segment)?;
        if !p.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        Self::parse_unverified(segment)
    }

    /// `parse` without the checksum: for a segment whose checksum the
    /// device checked, or the local kernel left partial (virtio_net_hdr).
    pub fn parse_unverified(segment: &'a [u8]) -> Result<TcpRepr<'a>> {
        let p = TcpPacket::new_checked(segment)?;
        let options = TcpOptions::parse(p.options())?;
        Ok(TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            urgent: p.urgent_at(),
            options,
            payload: &segment[p.header_len()..],
        })
    }

    /// Header length as emitted: 20 + options, a multiple of 4, <= 60.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.emitted_len(self.flags.contains(TcpFlags::SYN))
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes exactly `buffer_len()` bytes into `buf` with the checksum
    /// filled. Options are laid out as [`TcpOptions::emit`] says. The caller
    /// guarantees `buf.len() >= buffer_len()`.
    pub fn emit(&self, buf: &mut [u8], src: impl Into<IpAddr>, dst: impl Into<IpAddr>) {
        let syn = self.flags.contains(TcpFlags::SYN);
        let hl = self.header_len();
        let total = hl + self.payload.len();
        debug_assert!(
            buf.len() >= total,
            "tcp emit {total} bytes into {}",
            buf.len()
        );
        let mut p = TcpPacket::new_unchecked(&mut buf[..total]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(hl);
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_urgent_at(self.urgent);
        self.options.emit(syn, p.options_mut());
        p.payload_mut().copy_from_slice(self.payload);
        p.fill_checksum(src, dst);
    }

    /// Length in sequence space: payload plus one each for SYN and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }
}

/// tcpdump-like one-liner for packet traces:
/// `[S.] seq 1, ack 2, win 512, options [mss 1460,wscale 7], length 0`.
impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] seq {}", self.flags, self.seq)?;
        if self.flags.contains(TcpFlags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)?;
        let o = &self.options;
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = o.mss {
            parts.push(format!("mss {m}"));
        }
        if o.sack_permitted {
            parts.push("sackOK".into());
        }
        if let Some((val, ecr)) = o.timestamp {
            parts.push(format!("TS val {val} ecr {ecr}"));
        }
        if let Some(ws) = o.window_scale {
            parts.push(format!("wscale {ws}"));
        }
        if o.sack_block_count() > 0 {
            let blocks: Vec<String> = o
                .sack_blocks
                .iter()
                .flatten()
                .map(|(l, r)| format!("{{{l}:{r}}}"))
                .collect();
            parts.push(format!("sack {} {}", blocks.len(), blocks.join("")));
        }
        if !parts.is_empty() {
            write!(f, ", options [{}]", parts.join(","))?;
        }
        write!(f, ", length {}", self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::options::{arb_options, normalized};
    use super::*;
    use crate::wire::Ipv4Repr;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// 10.0.0.1:40000 > 10.0.0.2:80 SYN, seq 0x12345678, win 64240,
    /// options [mss 1460,sackOK,TS val 0x01020304 ecr 0,nop,wscale 7].
    /// Checksums computed independently of this code (IP 0x0a74, TCP 0x2fca).
    const SYN_PACKET: [u8; 60] = [
        0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x74, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x2f, 0xca, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
        0x02, 0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn syn_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: 0x1234_5678,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                sack_blocks: [None; 4],
                timestamp: Some((0x0102_0304, 0)),
                fast_open: None,
            },
            payload: &[],
        }
    }

    fn emit(r: &TcpRepr) -> Vec<u8> {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf, SRC, DST);
        buf
    }

    #[test]
    fn flags_ops_and_display() {
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        assert!(sa.contains(TcpFlags::SYN) && sa.contains(TcpFlags::ACK));
        assert!(!sa.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(sa.intersects(TcpFlags::SYN | TcpFlags::FIN));
        assert!(!sa.intersects(TcpFlags::RST));
        assert_eq!(sa & TcpFlags::ACK, TcpFlags::ACK);
        let mut f = TcpFlags::empty();
        f |= TcpFlags::FIN;
        f |= TcpFlags::ACK;
        assert_eq!(f.to_string(), "F.");
        assert_eq!(sa.to_string(), "S.");
        assert_eq!(TcpFlags::SYN.to_string(), "S");
        assert_eq!(TcpFlags::RST.to_string(), "R");
        assert_eq!((TcpFlags::PSH | TcpFlags::ACK).to_string(), "P.");
        assert_eq!(
            (TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK).to_string(),
            "FP."
        );
        assert_eq!(TcpFlags(0xff).to_string(), "FSRP.UEW");
        assert_eq!(TcpFlags::empty().to_string(), "none");
        f.remove(TcpFlags::FIN);
        assert_eq!(f, TcpFlags::ACK);
    }

    #[test]
    fn known_syn_packet_parses() {
        let (ip, segment) = Ipv4Repr::parse(&SYN_PACKET).unwrap();
        assert_eq!(
            (ip.src_addr, ip.dst_addr, ip.protocol),
            (SRC, DST, IP_PROTO_TCP)
        );
        assert_eq!(ip.payload_len, 40);
        let r = TcpRepr::parse(segment, SRC, DST).unwrap();
        assert_eq!(r, syn_repr());
        assert_eq!(r.segment_len(), 1);
        let p = TcpPacket::new_checked(segment).unwrap();
        assert_eq!(p.checksum(), 0x2fca);
        assert_eq!(p.header_len(), 40);
        assert_eq!(
            r.to_string(),
            "[S] seq 305419896, win 64240, \
             options [mss 1460,sackOK,TS val 16909060 ecr 0,wscale 7], length 0"
        );
    }

    #[test]
    fn known_syn_packet_emits_identically() {
        let r = syn_repr();
        assert_eq!(r.header_len(), 40);
        let ip = Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            protocol: IP_PROTO_TCP,
            payload_len: r.buffer_len(),
            ttl: 64,
            tos: 0,
            ident: 0x1c46,
            dont_frag: true,
        };
        let mut buf = vec![0u8; ip.buffer_len()];
        ip.emit(&mut buf);
        r.emit(&mut buf[20..], SRC, DST);
        assert_eq!(buf, SYN_PACKET);
    }

    #[test]
    fn header_len_follows_segment_kind() {
        let mut r = syn_repr();
        r.options.sack_blocks = [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))];
        assert_eq!(r.header_len(), 40); // SYN: no SACK blocks
        r.flags = TcpFlags::ACK;
        assert_eq!(r.header_len(), 60); // TS + 3 blocks
        r.options.timestamp = None;
        assert_eq!(r.header_len(), 56); // 4 blocks
        r.options = TcpOptions::default();
        assert_eq!(r.header_len(), 20);
        r.payload = b"abcde";
        assert_eq!(r.buffer_len(), 25);
    }

    #[test]
    fn option_sets_round_trip_with_odd_payloads() {
        let sets = [
            TcpOptions::default(),
            syn_repr().options,
            TcpOptions {
                sack_blocks: [Some((5, 9)); 4],
                ..Default::default()
            },
            TcpOptions {
                timestamp: Some((3, 4)),
                sack_blocks: [Some((1, 2)), Some((3, 4)), None, None],
                ..Default::default()
            },
        ];
        for syn in [true, false] {
            for options in sets {
                for payload in [&b""[..], b"x", b"odd", b"0123456789abcdefg"] {
                    let mut flags = TcpFlags::ACK | TcpFlags::PSH;
                    if syn {
                        flags |= TcpFlags::SYN;
                    }
                    let options = normalized(options, syn);
                    let r = TcpRepr {
                        flags,
                        options,
                        payload,
                        ..syn_repr()
                    };
                    let buf = emit(&r);
                    assert_eq!(buf.len(), r.buffer_len());
                    assert_eq!(TcpRepr::parse(&buf, SRC, DST), Ok(r));
                }
            }
        }
    }

    #[test]
    fn getters_and_setters() {
        let mut buf = emit(&TcpRepr {
            payload: b"abc",
            ..syn_repr()
        });
        let mut p = TcpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_src_port(1);
        p.set_dst_port(2);
        p.set_seq_number(3);
        p.set_ack_number(99);
        p.set_window_len(7);
        p.set_urgent_at(2);
        p.set_flags(TcpFlags::SYN | TcpFlags::URG | TcpFlags::ACK);
        p.payload_mut()[0] = b'A';
        p.fill_checksum(SRC, DST);
        assert_eq!((p.src_port(), p.dst_port(), p.seq_number()), (1, 2, 3));
        assert_eq!((p.ack_number(), p.window_len(), p.urgent_at()), (99, 7, 2));
        assert_eq!(p.payload(), b"Abc");
        assert_eq!(p.options().len(), 20);
        assert!(p.verify_checksum(SRC, DST));
        let r = TcpRepr::parse(p.into_inner(), SRC, DST).unwrap();
        assert_eq!((r.ack, r.window, r.urgent, r.segment_len()), (99, 7, 2, 4));
        let fin = TcpRepr {
            flags: TcpFlags::FIN | TcpFlags::ACK,
            payload: b"ab",
            ..syn_repr()
        };
        assert_eq!(fin.segment_len(), 3);
    }

    #[test]
    fn bad_checksum_and_wrong_pseudo_header() {
        let mut buf = emit(&syn_repr());
        let other = Ipv4Addr::new(10, 0, 0, 3);
        assert_eq!(
            TcpRepr::parse(&buf, SRC, other),
            Err(WireError::BadChecksum)
        );
        buf[4] ^= 0x80;
        assert_eq!(TcpRepr::parse(&buf, SRC, DST), Err(WireError::BadChecksum));
    }

    #[test]
    fn bad_data_offset() {
        let mut buf = emit(&TcpRepr {
            options: TcpOptions::default(),
            ..syn_repr()
        });
        for (off, want) in [
            (0u8, WireError::Malformed),
            (4, WireError::Malformed),
            (6, WireError::Truncated),
            (15, WireError::Truncated),
        ] {
            buf[12] = off << 4;
            TcpPacket::new_unchecked(&mut buf[..]).fill_checksum(SRC, DST);
            assert_eq!(
                TcpRepr::parse(&buf, SRC, DST),
                Err(want),
                "data offset {off}"
            );
        }
    }

    #[test]
    fn bad_option_length_in_segment() {
        for opts in [[2u8, 0, 0, 0], [2, 1, 0, 0], [8, 10, 0, 0]] {
            let mut buf = vec![0u8; 24];
            let mut p = TcpPacket::new_unchecked(&mut buf[..]);
            p.set_header_len(24);
            p.options_mut().copy_from_slice(&opts);
            p.fill_checksum(SRC, DST);
            assert_eq!(
                TcpRepr::parse(&buf, SRC, DST),
                Err(WireError::Malformed),
                "{opts:?}"
            );
        }
    }

    #[test]
    fn every_prefix_is_err_or_consistent() {
        let full = emit(&TcpRepr {
            payload: b"some payload",
            ..syn_repr()
        });
        let whole = TcpRepr::parse(&full, SRC, DST).unwrap();
        for n in 0..full.len() {
            if let Ok(r) = TcpRepr::parse(&full[..n], SRC, DST) {
                assert_eq!(r.payload, &whole.payload[..n - 40]);
                assert_eq!(
                    TcpRepr {
                        payload: whole.payload,
                        ..r
                    },
                    whole
                );
            }
        }
        for n in 0..HEADER_LEN {
            assert_eq!(
                TcpPacket::new_checked(&full[..n]).err(),
                Some(WireError::Truncated)
            );
        }
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TcpRepr::parse(&data, SRC, DST);
            if let Ok(p) = TcpPacket::new_checked(&data[..]) {
                let _ = (p.options(), p.payload(), p.flags(), p.urgent_at());
            }
            // With a fixed-up checksum the option parser is reached too.
            if data.len() >= HEADER_LEN {
                let mut d = data.clone();
                TcpPacket::new_unchecked(&mut d[..]).fill_checksum(SRC, DST);
                if let Ok(r) = TcpRepr::parse(&d, SRC, DST) {
                    let _ = r.to_string();
                }
            }
        }

        #[test]
        fn arbitrary_repr_round_trips(
            src_port in any::<u16>(), dst_port in any::<u16>(), seq in any::<u32>(),
            ack in any::<u32>(), flags in any::<u8>(), window in any::<u16>(), urgent in any::<u16>(),
            opts in (any::<bool>()).prop_flat_map(|syn| (Just(syn), arb_options(syn))),
            payload in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let (syn, options) = opts;
            let mut flags = TcpFlags(flags);
            flags.remove(TcpFlags::SYN);
            if syn {
                flags |= TcpFlags::SYN;
            }
            let r = TcpRepr {
                src_port, dst_port, seq, ack, flags, window, urgent, options, payload: &payload,
            };
            let buf = emit(&r);
            prop_assert_eq!(TcpRepr::parse(&buf, SRC, DST), Ok(r));
        }
    }
}
