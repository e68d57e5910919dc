//! TCP options: MSS and window scale (RFC 7323 §2), SACK-permitted and SACK
//! blocks (RFC 2018), timestamps (RFC 7323 §3). Parsing follows Linux's
//! `tcp_parse_options` (a known kind with the wrong length is skipped, not
//! an error); emission follows Linux's layout, so our SYNs and ACKs look
//! byte for byte like the kernel's in a packet trace.

use crate::wire::{get_u16, get_u32, Result, WireError};

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod option_kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FAST_OPEN: u8 = 34;
    /// Experimental option (RFC 6994); Fast Open's before kind 34, with
    /// the magic 0xF989.
    pub const EXP: u8 = 254;
}

/// The experimental Fast Open option's magic (RFC 7413 §4.1.1).
pub const FAST_OPEN_MAGIC: u16 = 0xF989;

/// A Fast Open option (RFC 7413): a cookie of 4 to 16 bytes (an even
/// number), or none (`len` 0: a cookie request); `exp` when carried in the
/// experimental option 254 instead of kind 34.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastOpen {
    pub cookie: [u8; 16],
    pub len: u8,
    pub exp: bool,
}

impl FastOpen {
    /// A cookie request (no cookie).
    pub fn request(exp: bool) -> FastOpen {
        FastOpen {
            exp,
            ..FastOpen::default()
        }
    }

    /// A cookie of `bytes` (at most 16 are kept).
    pub fn cookie(bytes: &[u8], exp: bool) -> FastOpen {
        let len = bytes.len().min(16);
        let mut cookie = [0u8; 16];
        cookie[..len].copy_from_slice(&bytes[..len]);
        FastOpen {
            cookie,
            len: len as u8,
            exp,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.cookie[..self.len as usize]
    }

    /// Option bytes without padding (kind, length, [magic,] cookie).
    fn option_len(&self) -> usize {
        (if self.exp { 4 } else { 2 }) + self.len as usize
    }

    /// As Linux's tcp_parse_fastopen_option: an odd length, or one outside
    /// 4..=16 other than 0, is no option at all.
    fn parse(body: &[u8], exp: bool) -> Option<FastOpen> {
        let n = body.len();
        if n % 2 == 1 || (n != 0 && !(4..=16).contains(&n)) {
            return None;
        }
        Some(FastOpen::cookie(body, exp))
    }
}

/// The TCP options the stack understands. Fields that do not apply to a
/// segment are ignored when it is emitted (see [`TcpRepr::emit`](super::TcpRepr::emit)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (left edge, right edge) as on the wire; filled from index 0.
    pub sack_blocks: [Option<(u32, u32)>; 4],
    /// (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// Fast Open cookie or cookie request; sent on a SYN or SYN-ACK only.
    pub fast_open: Option<FastOpen>,
}

impl TcpOptions {
    /// Parses an option area. Kind 0 ends the list, 1 is a NOP; every other
    /// kind has a length byte >= 2 (`Malformed` otherwise) and must fit in
    /// the area (`Malformed`). Known kinds with a wrong length and unknown
    /// kinds are skipped.
    pub fn parse(mut opts: &[u8]) -> Result<TcpOptions> {
        let mut out = TcpOptions::default();
        while let Some(&kind) = opts.first() {
            match kind {
                option_kind::END => break,
                option_kind::NOP => {
                    opts = &opts[1..];
                    continue;
                }
                _ => {}
            }
            let len = match opts.get(1) {
                Some(&l) if l >= 2 => usize::from(l),
                _ => return Err(WireError::Malformed),
            };
            if len > opts.len() {
                return Err(WireError::Malformed);
            }
            let body = &opts[2..len];
            match (kind, len) {
                (option_kind::MSS, 4) => out.mss = Some(get_u16(body, 0)),
                (option_kind::WINDOW_SCALE, 3) => out.window_scale = Some(body[0]),
                (option_kind::SACK_PERMITTED, 2) => out.sack_permitted = true,
                (option_kind::SACK, _)
                    if body.len().is_multiple_of(8) && (8..=32).contains(&body.len()) =>
                {
                    out.sack_blocks = [None; 4];
                    for (slot, b) in out.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                        *slot = Some((get_u32(b, 0), get_u32(b, 4)));
                    }
                }
                (option_kind::TIMESTAMP, 10) => {
                    out.timestamp = Some((get_u32(body, 0), get_u32(body, 4)));
                }
                (option_kind::FAST_OPEN, _) => out.fast_open = FastOpen::parse(body, false),
                (option_kind::EXP, _) if body.len() >= 2 && get_u16(body, 0) == FAST_OPEN_MAGIC => {
                    out.fast_open = FastOpen::parse(&body[2..], true);
                }
                _ => {} // unknown kind, or a known kind with the wrong length
            }
            opts = &opts[len..];
        }
        Ok(out)
    }

    /// Number of SACK blocks present.
    pub fn sack_block_count(&self) -> usize {
        self.sack_blocks.iter().filter(|b| b.is_some()).count()
    }

    /// How many SACK blocks a non-SYN segment carries: as many as fit in the
    /// option area next to the timestamp (3 with, 4 without).
    fn sack_blocks_to_emit(&self) -> usize {
        let room = if self.timestamp.is_some() { 3 } else { 4 };
        self.sack_block_count().min(room)
    }

    /// Length of the option area `emit` writes (a multiple of 4, <= 40).
    pub fn emitted_len(&self, syn: bool) -> usize {
        let mut n = 0;
        if syn {
            if self.mss.is_some() {
                n += 4;
            }
            if self.timestamp.is_some() {
                n += 12;
            } else if self.sack_permitted {
                n += 4;
            }
            if self.window_scale.is_some() {
                n += 4;
            }
            if let Some(fo) = self.fast_open {
                n += (fo.option_len() + 3) & !3;
            }
        } else {
            if self.timestamp.is_some() {
                n += 12;
            }
            let blocks = self.sack_blocks_to_emit();
            if blocks > 0 {
                n += 4 + 8 * blocks;
            }
        }
        n
    }

    /// Writes the option area in Linux's layout into `buf` (exactly
    /// `emitted_len(syn)` bytes; returns that length).
    ///
    /// SYN: MSS; then SACK-permitted + timestamps, or NOP NOP timestamps, or
    /// NOP NOP SACK-permitted; then NOP window scale; then Fast Open (kind
    /// 34 or 254, padded with NOP NOP to 4 bytes). SACK blocks are not
    /// sent on a SYN. Otherwise: NOP NOP timestamps, then NOP NOP SACK
    /// blocks; MSS, window scale and SACK-permitted are not sent.
    pub fn emit(&self, syn: bool, buf: &mut [u8]) -> usize {
        use option_kind::*;
        let len = self.emitted_len(syn);
        debug_assert!(
            buf.len() >= len,
            "tcp options emit into {} bytes",
            buf.len()
        );
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        let ts_bytes = |(val, ecr): (u32, u32)| {
            let mut t = [TIMESTAMP, 10, 0, 0, 0, 0, 0, 0, 0, 0];
            t[2..6].copy_from_slice(&val.to_be_bytes());
            t[6..10].copy_from_slice(&ecr.to_be_bytes());
            t
        };
        if syn {
            if let Some(mss) = self.mss {
                let m = mss.to_be_bytes();
                put(&[MSS, 4, m[0], m[1]]);
            }
            match (self.sack_permitted, self.timestamp) {
                (true, Some(ts)) => {
                    put(&[SACK_PERMITTED, 2]);
                    put(&ts_bytes(ts));
                }
                (false, Some(ts)) => {
                    put(&[NOP, NOP]);
                    put(&ts_bytes(ts));
                }
                (true, None) => put(&[NOP, NOP, SACK_PERMITTED, 2]),
                (false, None) => {}
            }
            if let Some(ws) = self.window_scale {
                put(&[NOP, WINDOW_SCALE, 3, ws]);
            }
            if let Some(fo) = self.fast_open {
                // Linux's tcp_options_write: NOP NOP after the cookie when
                // the option's length is 2 mod 4.
                let len = fo.option_len() as u8;
                if fo.exp {
                    let m = FAST_OPEN_MAGIC.to_be_bytes();
                    put(&[EXP, len, m[0], m[1]]);
                } else {
                    put(&[FAST_OPEN, len]);
                }
                put(fo.bytes());
                if len & 3 == 2 {
                    put(&[NOP, NOP]);
                }
            }
        } else {
            if let Some(ts) = self.timestamp {
                put(&[NOP, NOP]);
                put(&ts_bytes(ts));
            }
            let blocks = self.sack_blocks_to_emit();
            if blocks > 0 {
                put(&[NOP, NOP, SACK, (2 + 8 * blocks) as u8]);
                for (l, r) in self.sack_blocks.iter().flatten().take(blocks) {
                    put(&l.to_be_bytes());
                    put(&r.to_be_bytes());
                }
            }
        }
        debug_assert_eq!(at, len);
        len
    }
}

/// Strategy for options that survive `emit(syn)` unchanged (test helper).
#[cfg(test)]
pub(crate) fn arb_options(syn: bool) -> impl proptest::strategy::Strategy<Value = TcpOptions> {
    use proptest::prelude::*;
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
        proptest::option::of((any::<u32>(), any::<u32>())),
    )
        .prop_map(
            move |(mss, window_scale, sack_permitted, blocks, timestamp)| {
                let mut sack_blocks = [None; 4];
                let room = if timestamp.is_some() { 3 } else { 4 };
                for (slot, b) in sack_blocks.iter_mut().zip(blocks.into_iter().take(room)) {
                    *slot = Some(b);
                }
                let o = TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    sack_blocks,
                    timestamp,
                    fast_open: None,
                };
                normalized(o, syn)
            },
        )
}

/// Keeps only what `emit(syn)` sends (test helper).
#[cfg(test)]
pub(crate) fn normalized(mut o: TcpOptions, syn: bool) -> TcpOptions {
    if syn {
        o.sack_blocks = [None; 4];
    } else {
        o.mss = None;
        o.window_scale = None;
        o.sack_permitted = false;
        o.fast_open = None;
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn emitted(o: &TcpOptions, syn: bool) -> Vec<u8> {
        let mut buf = vec![0xee; 40];
        let n = o.emit(syn, &mut buf);
        assert_eq!(n, o.emitted_len(syn));
        buf.truncate(n);
        buf
    }

    fn full() -> TcpOptions {
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_blocks: [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))],
            timestamp: Some((0x0102_0304, 0x0506_0708)),
            fast_open: None,
        }
    }

    #[test]
    fn fast_open_layouts_match_linux() {
        // packetdrill's `mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop`.
        let mut o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(8),
            sack_permitted: true,
            fast_open: Some(FastOpen::request(false)),
            ..TcpOptions::default()
        };
        let b = emitted(&o, true);
        assert_eq!(&b[12..], &[34, 2, 1, 1]);
        assert_eq!(TcpOptions::parse(&b), Ok(o));
        // An 8-byte cookie in kind 34: 10 bytes and NOP NOP.
        o.fast_open = Some(FastOpen::cookie(
            &[0xab, 0xcd, 0x12, 0x34, 1, 2, 3, 4],
            false,
        ));
        let b = emitted(&o, true);
        assert_eq!(
            &b[12..],
            &[34, 10, 0xab, 0xcd, 0x12, 0x34, 1, 2, 3, 4, 1, 1]
        );
        assert_eq!(TcpOptions::parse(&b), Ok(o));
        // The experimental option: 254, length, magic, cookie, no padding.
        o.fast_open = Some(FastOpen::cookie(&[1, 2, 3, 4, 5, 6, 7, 8], true));
        let b = emitted(&o, true);
        assert_eq!(&b[12..], &[254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(TcpOptions::parse(&b), Ok(o));
        o.fast_open = Some(FastOpen::request(true));
        let b = emitted(&o, true);
        assert_eq!(&b[12..], &[254, 4, 0xf9, 0x89]);
        assert_eq!(TcpOptions::parse(&b), Ok(o));
        // Not on other segments; an odd or too long cookie is no option.
        assert!(emitted(&o, false).is_empty());
        assert_eq!(
            TcpOptions::parse(&[34, 5, 1, 2, 3]).unwrap().fast_open,
            None
        );
        assert_eq!(TcpOptions::parse(&[34, 4, 1, 2]).unwrap().fast_open, None);
        // An experimental option with another magic is not Fast Open.
        assert_eq!(
            TcpOptions::parse(&[254, 4, 0x12, 0x34]).unwrap().fast_open,
            None
        );
    }

    #[test]
    fn syn_layouts_match_linux() {
        let mut o = full();
        #[rustfmt::skip]
        assert_eq!(emitted(&o, true), [
            2, 4, 0x05, 0xb4,
            4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8,
            1, 3, 3, 7,
        ]);
        o.sack_permitted = false;
        assert_eq!(&emitted(&o, true)[4..8], &[1, 1, 8, 10]);
        o.timestamp = None;
        o.sack_permitted = true;
        assert_eq!(emitted(&o, true), [2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 7]);
        assert_eq!(emitted(&TcpOptions::default(), true), []);
        assert_eq!(emitted(&TcpOptions::default(), false), []);
    }

    #[test]
    fn non_syn_layout_and_sack_limit() {
        let mut o = full();
        // MSS, SACK-permitted and window scale are not sent; TS leaves room for 3.
        let b = emitted(&o, false);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..4], &[1, 1, 8, 10]);
        assert_eq!(&b[12..16], &[1, 1, 5, 26]);
        let parsed = TcpOptions::parse(&b).unwrap();
        assert_eq!(parsed.sack_blocks[..3], o.sack_blocks[..3]);
        assert_eq!(parsed.sack_blocks[3], None);
        assert_eq!(
            (parsed.mss, parsed.window_scale, parsed.sack_permitted),
            (None, None, false)
        );
        // Without TS all 4 blocks fit: 4 + 32 = 36 bytes.
        o.timestamp = None;
        let b = emitted(&o, false);
        assert_eq!(b.len(), 36);
        assert_eq!(TcpOptions::parse(&b).unwrap().sack_blocks, o.sack_blocks);
        // Blocks are taken in order, skipping empty slots.
        o.sack_blocks = [None, Some((9, 10)), None, None];
        let parsed = TcpOptions::parse(&emitted(&o, false)).unwrap();
        assert_eq!(parsed.sack_blocks, [Some((9, 10)), None, None, None]);
    }

    #[test]
    fn every_combination_round_trips() {
        let blocks = [
            Some((10, 20)),
            Some((30, 40)),
            Some((u32::MAX - 5, 3)),
            Some((7, 9)),
        ];
        let mut count = 0;
        for syn in [true, false] {
            for mss in [None, Some(536), Some(65535)] {
                for window_scale in [None, Some(0), Some(14)] {
                    for sack_permitted in [false, true] {
                        for timestamp in [None, Some((1, 0)), Some((u32::MAX, 12345))] {
                            let room = if timestamp.is_some() { 3 } else { 4 };
                            for n in 0..=room {
                                let mut sack_blocks = [None; 4];
                                sack_blocks[..n].copy_from_slice(&blocks[..n]);
                                let o = TcpOptions {
                                    mss,
                                    window_scale,
                                    sack_permitted,
                                    sack_blocks,
                                    timestamp,
                                    fast_open: None,
                                };
                                let o = normalized(o, syn);
                                let b = emitted(&o, syn);
                                assert!(b.len() <= 40 && b.len().is_multiple_of(4), "{o:?}");
                                assert_eq!(TcpOptions::parse(&b), Ok(o));
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 2 * 3 * 3 * 2 * (5 + 4 + 4));
    }

    #[test]
    fn length_errors() {
        let parse = TcpOptions::parse;
        assert_eq!(parse(&[2, 0, 0, 0]), Err(WireError::Malformed)); // len 0
        assert_eq!(parse(&[2, 1, 0, 0]), Err(WireError::Malformed)); // len 1
        assert_eq!(
            parse(&[1, 1, 2, 4, 5, 180, 8, 10]),
            Err(WireError::Malformed)
        ); // overrun
        assert_eq!(parse(&[1, 1, 1, 30]), Err(WireError::Malformed)); // no length byte
        assert_eq!(parse(&[5, 10, 0, 0, 0, 0, 0, 0]), Err(WireError::Malformed));
        // SACK overrun
    }

    #[test]
    fn skipping_rules() {
        let parse = |b: &[u8]| TcpOptions::parse(b).unwrap();
        // Unknown kind 30 of length 6 is skipped; the MSS after it is read.
        assert_eq!(parse(&[30, 6, 9, 9, 9, 9, 2, 4, 1, 0, 0, 0]).mss, Some(256));
        // MSS with length 3 and window scale with length 4 are ignored.
        let o = parse(&[2, 3, 5, 3, 4, 1, 2, 1]);
        assert_eq!((o.mss, o.window_scale), (None, None));
        // SACK whose length is not 2 + 8n, timestamps of length 8: ignored.
        let o = parse(&[1, 1, 5, 6, 0, 0, 0, 1, 8, 8, 1, 1, 1, 1, 1, 1]);
        assert_eq!((o.sack_block_count(), o.timestamp), (0, None));
        // End of list stops parsing: what follows is not read.
        let o = parse(&[4, 2, 0, 2, 0, 0, 0, 0]);
        assert!(o.sack_permitted);
        assert_eq!(o.mss, None);
        assert_eq!(parse(&[]), TcpOptions::default());
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TcpOptions::parse(&data);
        }

        #[test]
        fn arbitrary_options_round_trip(o in (any::<bool>()).prop_flat_map(|syn| (Just(syn), arb_options(syn)))) {
            let (syn, o) = o;
            prop_assert_eq!(TcpOptions::parse(&emitted(&o, syn)), Ok(o));
        }
    }
}
