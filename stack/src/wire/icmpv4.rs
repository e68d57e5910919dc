//! ICMPv4 (RFC 792): echo, destination unreachable (with the RFC 1191
//! next-hop MTU), time exceeded, and `Other` for the rest; plus
//! `quoted_transport`, which finds the connection an error message is about.
//!
//! There is no packet view here: ICMP messages are small and only ever
//! handled whole, so `Icmpv4Repr` reads and writes the bytes directly.

use std::net::Ipv4Addr;

use super::checksum;
use super::{get_u16, put_u16, Result, WireError};

/// Length of the ICMP header (type, code, checksum, four more bytes).
pub const HEADER_LEN: usize = 8;

/// Message types (IANA "ICMP Type Numbers").
pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Codes of a time-exceeded message.
pub mod time_exceeded {
    pub const TTL: u8 = 0;
    pub const REASSEMBLY: u8 = 1;
}

/// Codes of a destination-unreachable message.
pub mod dst_unreachable {
    pub const NET_UNREACH: u8 = 0;
    pub const HOST_UNREACH: u8 = 1;
    pub const PROTO_UNREACH: u8 = 2;
    pub const PORT_UNREACH: u8 = 3;
    pub const FRAG_NEEDED: u8 = 4;
    pub const SRC_ROUTE_FAILED: u8 = 5;
    pub const NET_UNKNOWN: u8 = 6;
    pub const HOST_UNKNOWN: u8 = 7;
    pub const NET_PROHIBITED: u8 = 9;
    pub const HOST_PROHIBITED: u8 = 10;
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// An ICMPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    /// `original` is the quoted offending packet: IP header + at least the
    /// first 8 bytes of its payload. `next_hop_mtu` is meaningful for
    /// `FRAG_NEEDED`.
    DstUnreachable {
        code: u8,
        next_hop_mtu: u16,
        original: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        original: &'a [u8],
    },
    /// Any other type; only its type and code are kept.
    Other {
        msg_type: u8,
        code: u8,
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a whole ICMP message (the IPv4 payload): at least 8 bytes
    /// (`Truncated`), checksum over the message (`BadChecksum`).
    pub fn parse(message: &'a [u8]) -> Result<Icmpv4Repr<'a>> {
        if message.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if checksum::fold(checksum::ones_sum(message, 0)) != 0 {
            return Err(WireError::BadChecksum);
        }
        let (ty, code) = (message[0], message[1]);
        let rest = &message[HEADER_LEN..];
        Ok(match ty {
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY => {
                let (ident, seq_no) = (get_u16(message, 4), get_u16(message, 6));
                if ty == msg_type::ECHO_REQUEST {
                    Icmpv4Repr::EchoRequest {
                        ident,
                        seq_no,
                        data: rest,
                    }
                } else {
                    Icmpv4Repr::EchoReply {
                        ident,
                        seq_no,
                        data: rest,
                    }
                }
            }
            msg_type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: get_u16(message, 6),
                original: rest,
            },
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code,
                original: rest,
            },
            _ => Icmpv4Repr::Other { msg_type: ty, code },
        })
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv4Repr::DstUnreachable { original, .. }
                | Icmpv4Repr::TimeExceeded { original, .. } => original.len(),
                Icmpv4Repr::Other { .. } => 0,
            }
    }

    /// Writes exactly `buffer_len()` bytes into `buf` with the checksum
    /// filled; `Other` writes an 8-byte header with zeros after the
    /// checksum. The caller guarantees `buf.len() >= buffer_len()`.
    pub fn emit(&self, buf: &mut [u8]) {
        let total = self.buffer_len();
        debug_assert!(
            buf.len() >= total,
            "icmp emit {total} bytes into {}",
            buf.len()
        );
        let buf = &mut buf[..total];
        let (ty, code, word1, word2, body): (u8, u8, u16, u16, &[u8]) = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REQUEST, 0, ident, seq_no, data),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REPLY, 0, ident, seq_no, data),
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                original,
            } => (msg_type::DST_UNREACHABLE, code, 0, next_hop_mtu, original),
            Icmpv4Repr::TimeExceeded { code, original } => {
                (msg_type::TIME_EXCEEDED, code, 0, 0, original)
            }
            Icmpv4Repr::Other { msg_type, code } => (msg_type, code, 0, 0, &[]),
        };
        buf[0] = ty;
        buf[1] = code;
        put_u16(buf, 2, 0);
        put_u16(buf, 4, word1);
        put_u16(buf, 6, word2);
        buf[HEADER_LEN..].copy_from_slice(body);
        let sum = checksum::fold(checksum::ones_sum(buf, 0));
        put_u16(buf, 2, sum);
    }
}

/// Reads the packet quoted in an ICMP error: the quoted IPv4 header (any
/// IHL) and the first 4 bytes of its payload, the ports for TCP and UDP.
/// Returns (src, dst, protocol, src port, dst port), or `None` when too short
/// or not IPv4. The quoted header's checksum is not verified.
pub fn quoted_transport(original: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, u16, u16)> {
    let first = *original.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let hl = usize::from(first & 0x0f) * 4;
    if hl < 20 || original.len() < hl + 4 {
        return None;
    }
    let o = original;
    let src = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let dst = Ipv4Addr::new(o[16], o[17], o[18], o[19]);
    Some((src, dst, o[9], get_u16(o, hl), get_u16(o, hl + 2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Repr, IP_PROTO_UDP};
    use proptest::prelude::*;

    /// Echo request ident 0x1234 seq 1 data "abcdefgh"; checksum 0x5435
    /// worked out independently of this code.
    const ECHO: [u8; 16] = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd', b'e', b'f', b'g',
        b'h',
    ];

    fn round_trip(r: Icmpv4Repr) {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf);
        assert_eq!(Icmpv4Repr::parse(&buf), Ok(r));
    }

    fn quoted_udp() -> Vec<u8> {
        let ip = Ipv4Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IP_PROTO_UDP,
            payload_len: 8,
            ttl: 1,
            tos: 0,
            ident: 7,
            dont_frag: false,
        };
        let mut buf = vec![0u8; 28];
        ip.emit(&mut buf);
        buf[20..28].copy_from_slice(&[0x9c, 0x40, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00]);
        buf
    }

    #[test]
    fn known_echo_request() {
        let r = Icmpv4Repr::parse(&ECHO).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcdefgh"
            }
        );
        let mut buf = [0u8; 16];
        r.emit(&mut buf);
        assert_eq!(buf, ECHO);
    }

    #[test]
    fn round_trips() {
        let q = quoted_udp();
        round_trip(Icmpv4Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"odd",
        });
        round_trip(Icmpv4Repr::EchoReply {
            ident: 0xffff,
            seq_no: 0,
            data: b"",
        });
        round_trip(Icmpv4Repr::DstUnreachable {
            code: dst_unreachable::FRAG_NEEDED,
            next_hop_mtu: 1400,
            original: &q,
        });
        round_trip(Icmpv4Repr::DstUnreachable {
            code: dst_unreachable::PORT_UNREACH,
            next_hop_mtu: 0,
            original: &q[..27],
        });
        round_trip(Icmpv4Repr::TimeExceeded {
            code: 0,
            original: &q,
        });
        round_trip(Icmpv4Repr::Other {
            msg_type: 13,
            code: 0,
        });
        assert_eq!(
            Icmpv4Repr::Other {
                msg_type: 5,
                code: 1
            }
            .buffer_len(),
            8
        );
    }

    #[test]
    fn truncated_and_bad_checksum() {
        for n in 0..HEADER_LEN {
            assert_eq!(Icmpv4Repr::parse(&ECHO[..n]), Err(WireError::Truncated));
        }
        for n in HEADER_LEN..ECHO.len() {
            // Dropping data bytes breaks the checksum.
            assert_eq!(
                Icmpv4Repr::parse(&ECHO[..n]),
                Err(WireError::BadChecksum),
                "prefix {n}"
            );
        }
        let mut bad = ECHO;
        bad[6] ^= 0x10;
        assert_eq!(Icmpv4Repr::parse(&bad), Err(WireError::BadChecksum));
    }

    #[test]
    fn quoted_transport_reads_header_and_ports() {
        let q = quoted_udp();
        let want = (
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            IP_PROTO_UDP,
            40000,
            53,
        );
        assert_eq!(quoted_transport(&q), Some(want));
        assert_eq!(quoted_transport(&q[..24]), Some(want));
        for n in 0..24 {
            assert_eq!(quoted_transport(&q[..n]), None, "prefix {n}");
        }
        // With 4 bytes of IP options the ports move.
        let mut opt = q[..20].to_vec();
        opt[0] = 0x46;
        opt.extend_from_slice(&[1, 1, 1, 0]);
        opt.extend_from_slice(&q[20..]);
        assert_eq!(quoted_transport(&opt), Some(want));
        assert_eq!(quoted_transport(&opt[..27]), None);
        let mut bad = q.clone();
        bad[0] = 0x44;
        assert_eq!(quoted_transport(&bad), None);
        bad[0] = 0x65;
        assert_eq!(quoted_transport(&bad), None);
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Icmpv4Repr::parse(&data);
            let _ = quoted_transport(&data);
            // With a fixed-up checksum every message type is reached.
            if data.len() >= HEADER_LEN {
                let mut d = data.clone();
                d[2] = 0;
                d[3] = 0;
                let sum = checksum::fold(checksum::ones_sum(&d, 0));
                put_u16(&mut d, 2, sum);
                let r = Icmpv4Repr::parse(&d);
                prop_assert!(r.is_ok());
            }
        }

        #[test]
        fn echo_round_trips(ident in any::<u16>(), seq_no in any::<u16>(), request in any::<bool>(),
                            data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let r = if request {
                Icmpv4Repr::EchoRequest { ident, seq_no, data: &data }
            } else {
                Icmpv4Repr::EchoReply { ident, seq_no, data: &data }
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf);
            prop_assert_eq!(Icmpv4Repr::parse(&buf), Ok(r));
        }
    }
}
