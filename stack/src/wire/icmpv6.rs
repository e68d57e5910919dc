//! ICMPv6 (RFC 4443): echo, destination unreachable, packet too big (the
//! path MTU of RFC 8201), time exceeded, parameter problem, and `Other` for
//! the rest (neighbour discovery and MLD among them, which a host on a
//! layer-3 TUN device receives but has no use for); plus
//! `quoted_transport`, which finds the connection an error is about.
//!
//! Unlike ICMPv4 the checksum covers the IPv6 pseudo header, so parsing and
//! emitting take the addresses. No packet view: messages are handled whole.

use std::net::Ipv6Addr;

use super::checksum;
use super::ipv6::{HEADER_LEN as IPV6_HEADER_LEN, MIN_MTU};
use super::ipv6ext;
use super::{get_u16, get_u32, put_u16, put_u32, Result, WireError, IP_PROTO_ICMPV6};

/// Length of the ICMPv6 header (type, code, checksum, four more bytes).
pub const HEADER_LEN: usize = 8;

/// Most of the offending packet an error quotes: the error must fit in the
/// minimum MTU (RFC 4443 §2.4 (c)).
pub const MAX_QUOTE: usize = MIN_MTU - IPV6_HEADER_LEN - HEADER_LEN;

/// Message types (IANA "ICMPv6 Parameters").
pub mod msg_type {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAM_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const MLD_QUERY: u8 = 130;
    pub const MLD_REPORT: u8 = 131;
    pub const MLD_DONE: u8 = 132;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
    pub const MLD2_REPORT: u8 = 143;
}

/// Codes of a destination-unreachable message.
pub mod dst_unreachable {
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDR_UNREACH: u8 = 3;
    pub const PORT_UNREACH: u8 = 4;
    pub const FAILED_POLICY: u8 = 5;
    pub const REJECT_ROUTE: u8 = 6;
}

/// Codes of a time-exceeded message.
pub mod time_exceeded {
    pub const HOP_LIMIT: u8 = 0;
    pub const REASSEMBLY: u8 = 1;
}

/// An ICMPv6 message. `original` in the errors is the quoted offending
/// packet, from its IPv6 header on, as much as fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
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
    DstUnreachable {
        code: u8,
        original: &'a [u8],
    },
    PacketTooBig {
        mtu: u32,
        original: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        original: &'a [u8],
    },
    ParamProblem {
        code: u8,
        pointer: u32,
        original: &'a [u8],
    },
    /// Any other type (neighbour discovery, MLD, unknown); only its type
    /// and code are kept.
    Other {
        msg_type: u8,
        code: u8,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a whole ICMPv6 message (the upper-layer payload) sent from
    /// `src` to `dst`: at least 8 bytes (`Truncated`), checksum over the
    /// pseudo header and the message (`BadChecksum`).
    pub fn parse(message: &'a [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<Icmpv6Repr<'a>> {
        if message.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if checksum::transport_checksum(src, dst, IP_PROTO_ICMPV6, message) != 0 {
            return Err(WireError::BadChecksum);
        }
        let (ty, code) = (message[0], message[1]);
        let rest = &message[HEADER_LEN..];
        Ok(match ty {
            msg_type::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: get_u16(message, 4),
                seq_no: get_u16(message, 6),
                data: rest,
            },
            msg_type::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: get_u16(message, 4),
                seq_no: get_u16(message, 6),
                data: rest,
            },
            msg_type::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable {
                code,
                original: rest,
            },
            msg_type::PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: get_u32(message, 4),
                original: rest,
            },
            msg_type::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded {
                code,
                original: rest,
            },
            msg_type::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: get_u32(message, 4),
                original: rest,
            },
            _ => Icmpv6Repr::Other { msg_type: ty, code },
        })
    }

    /// Whether this is an error message (types below 128, RFC 4443 §2.1):
    /// never answered with another error.
    pub fn is_error(&self) -> bool {
        match self {
            Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. } => false,
            Icmpv6Repr::Other { msg_type, .. } => *msg_type < 128,
            _ => true,
        }
    }

    /// The quoted packet of an error message.
    pub fn original(&self) -> Option<&'a [u8]> {
        match *self {
            Icmpv6Repr::DstUnreachable { original, .. }
            | Icmpv6Repr::PacketTooBig { original, .. }
            | Icmpv6Repr::TimeExceeded { original, .. }
            | Icmpv6Repr::ParamProblem { original, .. } => Some(original),
            _ => None,
        }
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv6Repr::Other { .. } => 0,
                e => e.original().map_or(0, <[u8]>::len),
            }
    }

    /// Writes exactly `buffer_len()` bytes into `buf` with the checksum for
    /// `src` to `dst` filled; `Other` writes an 8-byte header with zeros
    /// after the checksum. The caller guarantees `buf.len() >=
    /// buffer_len()`.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) {
        let total = self.buffer_len();
        debug_assert!(
            buf.len() >= total,
            "icmpv6 emit {total} bytes into {}",
            buf.len()
        );
        let buf = &mut buf[..total];
        let (ty, code, word, body): (u8, u8, u32, &[u8]) = match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (
                msg_type::ECHO_REQUEST,
                0,
                u32::from(ident) << 16 | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (
                msg_type::ECHO_REPLY,
                0,
                u32::from(ident) << 16 | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::DstUnreachable { code, original } => {
                (msg_type::DST_UNREACHABLE, code, 0, original)
            }
            Icmpv6Repr::PacketTooBig { mtu, original } => {
                (msg_type::PACKET_TOO_BIG, 0, mtu, original)
            }
            Icmpv6Repr::TimeExceeded { code, original } => {
                (msg_type::TIME_EXCEEDED, code, 0, original)
            }
            Icmpv6Repr::ParamProblem {
                code,
                pointer,
                original,
            } => (msg_type::PARAM_PROBLEM, code, pointer, original),
            Icmpv6Repr::Other { msg_type, code } => (msg_type, code, 0, &[]),
        };
        buf[0] = ty;
        buf[1] = code;
        put_u16(buf, 2, 0);
        put_u32(buf, 4, word);
        buf[HEADER_LEN..].copy_from_slice(body);
        let sum = checksum::transport_checksum(src, dst, IP_PROTO_ICMPV6, buf);
        put_u16(buf, 2, sum);
    }
}

/// Reads the packet quoted in an ICMPv6 error: its IPv6 header, its
/// extension headers skipped, and the first 4 bytes of the upper-layer
/// header (the ports for TCP and UDP). Returns (src, dst, protocol, src
/// port, dst port), or `None` when too short, not IPv6, or a non-first
/// fragment.
pub fn quoted_transport(original: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, u8, u16, u16)> {
    let fixed = original.get(..IPV6_HEADER_LEN)?;
    if fixed[0] >> 4 != 6 {
        return None;
    }
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&fixed[at..at + 16]);
        Ipv6Addr::from(o)
    };
    let rest = &original[IPV6_HEADER_LEN..];
    let (proto, at) = ipv6ext::skip_quoted(fixed[6], rest)?;
    let ports = rest.get(at..at + 4)?;
    Some((
        addr(8),
        addr(24),
        proto,
        get_u16(ports, 0),
        get_u16(ports, 2),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv6Repr, IP_PROTO_UDP};
    use proptest::prelude::*;

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        ("fd00:7::1".parse().unwrap(), "fd00:7::2".parse().unwrap())
    }

    /// Echo request fd00:7::1 > fd00:7::2, ident 0x1234 seq 1, data "abcd";
    /// checksum 0xaeaa summed by hand: pseudo header words fd00 7 1 fd00 7
    /// 2, length 12, next header 58; message words 8000 0 1234 1 6162 6364.
    const ECHO: [u8; 12] = [
        0x80, 0x00, 0xae, 0xaa, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    fn round_trip(r: Icmpv6Repr) {
        let (s, d) = addrs();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf, s, d);
        assert_eq!(Icmpv6Repr::parse(&buf, s, d), Ok(r));
    }

    /// A UDP datagram fd00:7::2:40000 > fd00:7::1:53 with a destination
    /// options header before the UDP header, as an error would quote it.
    fn quoted_udp() -> Vec<u8> {
        let (d, s) = addrs();
        let ip = Ipv6Repr {
            src_addr: s,
            dst_addr: d,
            next_header: ipv6ext::DEST_OPTS,
            payload_len: 16,
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut buf = vec![0u8; 56];
        ip.emit(&mut buf);
        buf[40..48].copy_from_slice(&[IP_PROTO_UDP, 0, 1, 4, 0, 0, 0, 0]);
        buf[48..56].copy_from_slice(&[0x9c, 0x40, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00]);
        buf
    }

    #[test]
    fn known_echo_request() {
        let (s, d) = addrs();
        let r = Icmpv6Repr::parse(&ECHO, s, d).unwrap();
        assert_eq!(
            r,
            Icmpv6Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcd"
            }
        );
        let mut buf = [0u8; 12];
        r.emit(&mut buf, s, d);
        assert_eq!(buf, ECHO);
        // The pseudo header counts: other addresses do not verify.
        assert_eq!(Icmpv6Repr::parse(&ECHO, d, d), Err(WireError::BadChecksum));
        assert!(!r.is_error());
    }

    #[test]
    fn round_trips() {
        let q = quoted_udp();
        round_trip(Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"odd",
        });
        round_trip(Icmpv6Repr::EchoReply {
            ident: 0xffff,
            seq_no: 0,
            data: b"",
        });
        round_trip(Icmpv6Repr::DstUnreachable {
            code: dst_unreachable::PORT_UNREACH,
            original: &q,
        });
        round_trip(Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            original: &q[..51],
        });
        round_trip(Icmpv6Repr::TimeExceeded {
            code: time_exceeded::REASSEMBLY,
            original: &q,
        });
        round_trip(Icmpv6Repr::ParamProblem {
            code: ipv6ext::param_problem::UNRECOGNIZED_NEXT_HEADER,
            pointer: 40,
            original: &q,
        });
        round_trip(Icmpv6Repr::Other {
            msg_type: msg_type::NEIGHBOR_SOLICIT,
            code: 0,
        });
        let e = Icmpv6Repr::PacketTooBig {
            mtu: 1400,
            original: &q,
        };
        assert!(e.is_error());
        assert_eq!(e.original(), Some(&q[..]));
        assert_eq!(e.buffer_len(), 8 + q.len());
        assert!(!Icmpv6Repr::Other {
            msg_type: msg_type::ROUTER_SOLICIT,
            code: 0
        }
        .is_error());
        assert!(Icmpv6Repr::Other {
            msg_type: 100,
            code: 0
        }
        .is_error());
    }

    #[test]
    fn truncated_and_bad_checksum() {
        let (s, d) = addrs();
        for n in 0..HEADER_LEN {
            assert_eq!(
                Icmpv6Repr::parse(&ECHO[..n], s, d),
                Err(WireError::Truncated)
            );
        }
        for n in HEADER_LEN..ECHO.len() {
            assert_eq!(
                Icmpv6Repr::parse(&ECHO[..n], s, d),
                Err(WireError::BadChecksum),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn quoted_transport_skips_extension_headers() {
        let q = quoted_udp();
        let (d, s) = addrs();
        let want = (s, d, IP_PROTO_UDP, 40000, 53);
        assert_eq!(quoted_transport(&q), Some(want));
        assert_eq!(quoted_transport(&q[..52]), Some(want));
        for n in 0..52 {
            assert_eq!(quoted_transport(&q[..n]), None, "prefix {n}");
        }
        let mut v4 = q.clone();
        v4[0] = 0x45;
        assert_eq!(quoted_transport(&v4), None);
    }

    proptest! {
        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200),
                                              s in any::<u128>(), d in any::<u128>()) {
            let (s, d) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
            let _ = Icmpv6Repr::parse(&data, s, d);
            let _ = quoted_transport(&data);
            // With a fixed-up checksum every message type is reached.
            if data.len() >= HEADER_LEN {
                let mut m = data.clone();
                put_u16(&mut m, 2, 0);
                let sum = checksum::transport_checksum(s, d, IP_PROTO_ICMPV6, &m);
                put_u16(&mut m, 2, sum);
                let r = Icmpv6Repr::parse(&m, s, d);
                prop_assert!(r.is_ok());
                let r = r.unwrap();
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out, s, d);
                // Unused words and echo/too-big codes are emitted as zero;
                // the rest comes back.
                if m[1] == 0 && matches!(r, Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. }
                               | Icmpv6Repr::PacketTooBig { .. } | Icmpv6Repr::ParamProblem { .. }) {
                    prop_assert_eq!(&out[..], &m[..]);
                }
            }
        }
    }
}
