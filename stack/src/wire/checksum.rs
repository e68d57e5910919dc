//! The Internet checksum (RFC 1071) and the IPv4 pseudo header that TCP and
//! UDP fold into theirs (RFC 793 §3.1, RFC 768).
//!
//! `ones_sum` accumulates; `fold` turns an accumulated sum into the value
//! stored in a checksum field. Summing over data whose checksum field is
//! already correct and folding gives 0, which is how every `verify` works.
//! This is on the data path, so `ones_sum` reads eight bytes at a time.

use std::net::Ipv4Addr;

/// Adds the 16-bit big-endian words of `data` (an odd last byte is padded
/// with a zero byte) to `initial`, in ones-complement arithmetic.
///
/// The result is partially folded (at most 0xffff) so it can be fed back as
/// `initial` for the next piece or passed to [`fold`]. Any input length is
/// fine: the accumulator is 64 bits wide with end-around carry. Pieces fed
/// one after another must each start at an even offset of the whole.
pub fn ones_sum(data: &[u8], initial: u32) -> u32 {
    // A 64-bit big-endian word is congruent, modulo 0xffff, to the sum of its
    // four 16-bit words, so summing 64-bit words with end-around carry and
    // folding at the end gives the same ones-complement sum.
    let mut acc = u64::from(initial);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let (s, carry) = acc.overflowing_add(w);
        // On overflow s <= 2^64 - 2, so adding the carry cannot overflow.
        acc = s + u64::from(carry);
    }
    let mut rest = chunks.remainder();
    // Fold to 33 bits before adding the tail so the adds below cannot overflow.
    acc = (acc >> 32) + (acc & 0xffff_ffff);
    while rest.len() >= 2 {
        acc += u64::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc >> 16) + (acc & 0xffff);
    }
    acc as u32
}

/// Folds the carries of `sum` and returns its ones complement: the value to
/// store in a checksum field (or 0 when verifying a correct packet).
pub fn fold(sum: u32) -> u16 {
    let mut s = sum;
    while s > 0xffff {
        s = (s >> 16) + (s & 0xffff);
    }
    !(s as u16)
}

/// The ones-complement sum of the IPv4 pseudo header: source, destination,
/// zero, protocol, and the transport length.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(protocol)
        + u32::from(length)
}

/// The TCP/UDP checksum of `segment` (the whole transport header and
/// payload) under the pseudo header. With the checksum field zeroed this is
/// the value to store; over a segment with a correct checksum it is 0.
/// The pseudo header length is `segment.len()` truncated to 16 bits (a
/// segment carried in IPv4 is never longer).
pub fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    let pseudo = pseudo_header_sum(src, dst, protocol, segment.len() as u16);
    fold(ones_sum(segment, pseudo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious two-bytes-at-a-time definition, to check the fast one.
    fn reference_sum(data: &[u8], initial: u32) -> u16 {
        let mut acc = u64::from(initial);
        for pair in data.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u64::from);
            acc += hi | lo;
        }
        while acc > 0xffff {
            acc = (acc >> 16) + (acc & 0xffff);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to 2ddf0, folds to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(ones_sum(&data, 0)), !0xddf2);
        assert_eq!(fold(ones_sum(&data, 0)), 0x220d);
        // Same bytes taken through the two-byte tail path.
        assert_eq!(fold(ones_sum(&data[..6], ones_sum(&data[6..], 0))), 0x220d);
        // Appending the checksum makes the sum verify to 0.
        let mut with = data.to_vec();
        with.extend_from_slice(&[0x22, 0x0d]);
        assert_eq!(fold(ones_sum(&with, 0)), 0);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(ones_sum(&[0xab], 0), 0xab00);
        assert_eq!(ones_sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
    }

    #[test]
    fn huge_input_does_not_overflow() {
        let data = vec![0xff; 65536];
        assert_eq!(
            ones_sum(&data, u32::MAX),
            u32::from(reference_sum(&data, u32::MAX))
        );
        let data: Vec<u8> = (0..65535u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(ones_sum(&data, 0), u32::from(reference_sum(&data, 0)));
    }

    #[test]
    fn pseudo_header_known_value() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(
            pseudo_header_sum(src, dst, 6, 20),
            0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20
        );
    }

    proptest! {
        #[test]
        fn fast_sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300),
                                      initial in any::<u32>()) {
            let fast = ones_sum(&data, initial);
            prop_assert_eq!(fast, u32::from(reference_sum(&data, initial)));
        }
    }
}
