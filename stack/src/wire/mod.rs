//! Wire formats: checked views over packet bytes and plain-data `Repr`s.
//!
//! Each protocol file has two layers. A `*Packet<T: AsRef<[u8]>>` is a view
//! over a buffer; its `new_checked` validates lengths once so that every
//! accessor afterwards stays in bounds. A `*Repr` is the parsed, owned-by-value
//! meaning of a packet: `parse` turns bytes into a `Repr` (malformed input is
//! an `Err`, never a panic) and `emit` writes a `Repr` back into a buffer the
//! caller sized with `buffer_len`. IPv4, IPv6 (fixed header and the
//! extension header walk), TCP, UDP, ICMPv4, ICMPv6, and IGMPv3 and MLDv2
//! reports live here; that is all the stack speaks.

pub mod checksum;
pub mod icmpv4;
pub mod icmpv6;
pub mod ifreq;
pub mod igmp;
pub mod igmp_query;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6ext;
pub mod mld;
pub mod mld_query;
pub mod rtnetlink;
pub mod tcp;
pub mod udp;
pub mod virtio_net;

use std::fmt;

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than a length field or fixed header says.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed,
    /// The checksum does not verify.
    BadChecksum,
    /// Well formed, but something we do not handle (IP fragments).
    Unsupported,
}

impl WireError {
    /// A short lowercase description, for counters and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::Malformed => "malformed",
            WireError::BadChecksum => "bad checksum",
            WireError::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for WireError {}

/// Result of parsing wire data.
pub type Result<T> = core::result::Result<T, WireError>;

/// IANA protocol number of ICMP.
pub const IP_PROTO_ICMP: u8 = 1;
/// IANA protocol number of TCP.
pub const IP_PROTO_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const IP_PROTO_UDP: u8 = 17;
/// IANA protocol number of ICMPv6.
pub const IP_PROTO_ICMPV6: u8 = 58;

pub use icmpv4::Icmpv4Repr;
pub use icmpv6::Icmpv6Repr;
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use tcp::{FastOpen, TcpFlags, TcpOptions, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};

// Big-endian field access. Callers index in bounds (checked by the views'
// `new_checked` or by the caller's length guarantee).

#[inline]
pub(crate) fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_strings() {
        assert_eq!(WireError::Truncated.to_string(), "truncated");
        assert_eq!(WireError::Malformed.as_str(), "malformed");
        assert_eq!(WireError::BadChecksum.to_string(), "bad checksum");
        assert_eq!(WireError::Unsupported.as_str(), "unsupported");
    }
}
