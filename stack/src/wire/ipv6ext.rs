//! IPv6 extension headers (RFC 8200 §4): `walk` goes from the fixed
//! header's `next_header` through hop-by-hop options, routing, fragment
//! and destination options headers to the upper-layer protocol, and says
//! what a host must do with what it found.
//!
//! A host is the final destination of what reaches it, so a routing header
//! with segments left is an error (we route nothing), options are obeyed by
//! their action bits (§4.2), and a fragment header stops the walk: what
//! follows it is fragment data, for reassembly. An atomic fragment (offset
//! 0, no more fragments) is walked through (RFC 6946). Linux's limits on
//! options are kept: at most 8 non-padding options per header
//! (`max_hbh_opts_number`, `max_dst_opts_number`), no run of padding
//! longer than 7 bytes and PadN bytes all zero (RFC 4942 §2.1.9.5).
//! AH and ESP are upper-layer protocols here (the stack speaks no IPsec).

use super::{get_u16, get_u32};

/// Hop-by-hop options header.
pub const HOP_BY_HOP: u8 = 0;
/// Routing header.
pub const ROUTING: u8 = 43;
/// Fragment header.
pub const FRAGMENT: u8 = 44;
/// No next header: nothing follows.
pub const NO_NEXT_HEADER: u8 = 59;
/// Destination options header.
pub const DEST_OPTS: u8 = 60;

/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// Most non-padding options Linux takes in one options header.
pub const MAX_OPTS: usize = 8;

/// Option types the walk knows (IANA "Destination Options and Hop-by-Hop
/// Options").
pub mod opt {
    pub const PAD1: u8 = 0;
    pub const PADN: u8 = 1;
    pub const ROUTER_ALERT: u8 = 5;
    pub const JUMBO: u8 = 0xc2;
}

/// Codes of an ICMPv6 Parameter Problem (RFC 4443 §3.4).
pub mod param_problem {
    pub const ERRONEOUS_FIELD: u8 = 0;
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    pub const UNRECOGNIZED_OPTION: u8 = 2;
}

/// A fragment header met during the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    /// Protocol of the reassembled packet's next header.
    pub next_header: u8,
    /// Offset of this fragment's data in the original, in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// Identification shared by the fragments of one packet.
    pub ident: u32,
    /// Where the fragment header starts in the walked payload: what comes
    /// before is the unfragmentable part.
    pub at: usize,
}

/// Where the walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtWalk {
    /// The upper-layer protocol (or `FRAGMENT`'s `next_header` data when
    /// `fragment` is set, or `NO_NEXT_HEADER`).
    pub protocol: u8,
    /// Offset in the payload where the upper-layer header starts (or where
    /// the fragment data starts).
    pub offset: usize,
    /// The fragment header that stopped the walk, if any.
    pub fragment: Option<FragmentHeader>,
    /// Offset in the packet (fixed header included) of the byte naming
    /// `protocol`: where a Parameter Problem about it points.
    pub nh_at: usize,
    /// A hop-by-hop Router Alert option was present (RFC 2711).
    pub router_alert: bool,
}

/// Why a packet's extension headers were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtError {
    /// A header runs past the payload.
    Truncated,
    /// Drop without a word (an option saying so, bad padding, too many
    /// options, an option running past its header).
    Discard,
    /// Drop and answer with an ICMPv6 Parameter Problem of `code` pointing
    /// at `pointer`, an offset in the whole packet (fixed header included),
    /// as the message carries it. When `unless_multicast` the answer is not
    /// sent for a multicast destination.
    ParamProblem {
        code: u8,
        pointer: usize,
        unless_multicast: bool,
    },
}

/// Walks the extension headers of `payload` (what follows the fixed
/// header), starting with `next_header` from the fixed header.
pub fn walk(next_header: u8, payload: &[u8]) -> Result<ExtWalk, ExtError> {
    const FIXED: usize = super::ipv6::HEADER_LEN;
    let mut nh = next_header;
    // Offset in the packet of the byte that named `nh` (Linux's nhoff): the
    // fixed header's next header field, then each header's first byte.
    let mut nh_at = 6usize;
    let mut at = 0usize;
    let mut router_alert = false;
    loop {
        match nh {
            HOP_BY_HOP | DEST_OPTS | ROUTING => {
                if nh == HOP_BY_HOP && at != 0 {
                    // Only right after the fixed header (RFC 8200 §4.3).
                    return Err(ExtError::ParamProblem {
                        code: param_problem::UNRECOGNIZED_NEXT_HEADER,
                        pointer: nh_at,
                        unless_multicast: false,
                    });
                }
                let hdr = payload.get(at..at + 2).ok_or(ExtError::Truncated)?;
                let len = (usize::from(hdr[1]) + 1) * 8;
                let body = payload.get(at..at + len).ok_or(ExtError::Truncated)?;
                if nh == ROUTING {
                    // body[2] routing type, body[3] segments left.
                    if body[3] != 0 {
                        return Err(ExtError::ParamProblem {
                            code: param_problem::ERRONEOUS_FIELD,
                            pointer: FIXED + at + 2,
                            unless_multicast: false,
                        });
                    }
                } else {
                    router_alert |= options(body, FIXED + at, nh == HOP_BY_HOP)?;
                }
                nh = body[0];
                nh_at = FIXED + at;
                at += len;
            }
            FRAGMENT => {
                let h = payload
                    .get(at..at + FRAGMENT_HEADER_LEN)
                    .ok_or(ExtError::Truncated)?;
                let off_m = get_u16(h, 2);
                let frag = FragmentHeader {
                    next_header: h[0],
                    offset: usize::from(off_m & 0xfff8),
                    more: off_m & 1 != 0,
                    ident: get_u32(h, 4),
                    at,
                };
                nh_at = FIXED + at;
                at += FRAGMENT_HEADER_LEN;
                if frag.offset == 0 && !frag.more {
                    // Atomic fragment: the rest is the whole packet.
                    nh = frag.next_header;
                } else {
                    return Ok(ExtWalk {
                        protocol: frag.next_header,
                        offset: at,
                        fragment: Some(frag),
                        nh_at,
                        router_alert,
                    });
                }
            }
            _ => {
                return Ok(ExtWalk {
                    protocol: nh,
                    offset: at,
                    fragment: None,
                    nh_at,
                    router_alert,
                })
            }
        }
    }
}

/// Obeys the options of one hop-by-hop or destination options header
/// (`body`, starting at `base` in the packet). Returns whether a Router
/// Alert was present.
fn options(body: &[u8], base: usize, hop_by_hop: bool) -> Result<bool, ExtError> {
    let mut i = 2;
    let mut pad_run = 0usize;
    let mut count = 0usize;
    let mut router_alert = false;
    while i < body.len() {
        let ty = body[i];
        if ty == opt::PAD1 {
            pad_run += 1;
            if pad_run > 7 {
                return Err(ExtError::Discard);
            }
            i += 1;
            continue;
        }
        let len = usize::from(*body.get(i + 1).ok_or(ExtError::Discard)?);
        let data = body.get(i + 2..i + 2 + len).ok_or(ExtError::Discard)?;
        if ty == opt::PADN {
            pad_run += 2 + len;
            if pad_run > 7 || data.iter().any(|&b| b != 0) {
                return Err(ExtError::Discard);
            }
            i += 2 + len;
            continue;
        }
        pad_run = 0;
        count += 1;
        if count > MAX_OPTS {
            return Err(ExtError::Discard);
        }
        match ty {
            opt::ROUTER_ALERT if hop_by_hop && len == 2 => router_alert = true,
            opt::JUMBO if hop_by_hop => {
                // A jumbo payload option in a packet with a payload length
                // (RFC 2675 §3): Linux points at the option's data.
                return Err(ExtError::ParamProblem {
                    code: param_problem::ERRONEOUS_FIELD,
                    pointer: base + i + 2,
                    unless_multicast: false,
                });
            }
            _ => match ty >> 6 {
                0 => {}
                1 => return Err(ExtError::Discard),
                action => {
                    return Err(ExtError::ParamProblem {
                        code: param_problem::UNRECOGNIZED_OPTION,
                        pointer: base + i,
                        unless_multicast: action == 3,
                    })
                }
            },
        }
        i += 2 + len;
    }
    Ok(router_alert)
}

/// Skips the extension headers of a quoted packet (inside an ICMPv6
/// error, truncated anywhere) to its upper-layer header. Returns the
/// protocol and the offset of its header in `payload`, or `None` when the
/// quote is cut inside an extension header or is a non-first fragment
/// (which carries no transport header).
pub fn skip_quoted(next_header: u8, payload: &[u8]) -> Option<(u8, usize)> {
    let mut nh = next_header;
    let mut at = 0usize;
    // Each header consumes at least 8 bytes, so this ends.
    loop {
        match nh {
            HOP_BY_HOP | DEST_OPTS | ROUTING => {
                let len = (usize::from(*payload.get(at + 1)?) + 1) * 8;
                nh = payload[at];
                at += len;
            }
            FRAGMENT => {
                let h = payload.get(at..at + FRAGMENT_HEADER_LEN)?;
                if get_u16(h, 2) & 0xfff8 != 0 {
                    return None;
                }
                nh = h[0];
                at += FRAGMENT_HEADER_LEN;
            }
            _ => return (at <= payload.len()).then_some((nh, at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IP_PROTO_TCP, IP_PROTO_UDP};
    use proptest::prelude::*;

    /// An options header naming `next`, with `opts` then PadN/Pad1 to a
    /// multiple of 8.
    fn opts_header(next: u8, opts: &[u8]) -> Vec<u8> {
        let mut h = vec![next, 0];
        h.extend_from_slice(opts);
        let pad = (8 - h.len() % 8) % 8;
        match pad {
            0 => {}
            1 => h.push(opt::PAD1),
            n => {
                h.push(opt::PADN);
                h.push((n - 2) as u8);
                h.extend(std::iter::repeat_n(0, n - 2));
            }
        }
        h[1] = (h.len() / 8 - 1) as u8;
        h
    }

    fn frag_header(next: u8, offset: usize, more: bool, ident: u32) -> Vec<u8> {
        let om = (offset as u16 & 0xfff8) | u16::from(more);
        let mut h = vec![next, 0];
        h.extend_from_slice(&om.to_be_bytes());
        h.extend_from_slice(&ident.to_be_bytes());
        h
    }

    fn routing_header(next: u8, segments_left: u8) -> Vec<u8> {
        vec![next, 0, 4, segments_left, 0, 0, 0, 0]
    }

    #[test]
    fn no_extension_headers() {
        let w = walk(IP_PROTO_TCP, &[0; 20]).unwrap();
        assert_eq!(
            w,
            ExtWalk {
                protocol: IP_PROTO_TCP,
                offset: 0,
                fragment: None,
                nh_at: 6,
                router_alert: false
            }
        );
    }

    #[test]
    fn chain_of_headers_is_skipped() {
        let mut p = opts_header(ROUTING, &[opt::ROUTER_ALERT, 2, 0, 0]);
        p.extend(routing_header(DEST_OPTS, 0));
        p.extend(opts_header(IP_PROTO_UDP, &[]));
        let upper = p.len();
        p.extend_from_slice(&[0xaa; 8]);
        let w = walk(HOP_BY_HOP, &p).unwrap();
        assert_eq!(w.protocol, IP_PROTO_UDP);
        assert_eq!(w.offset, upper);
        assert_eq!(w.nh_at, 40 + 16, "the destination options header names UDP");
        assert!(w.router_alert);
        assert_eq!(w.fragment, None);
        assert_eq!(skip_quoted(HOP_BY_HOP, &p), Some((IP_PROTO_UDP, upper)));
    }

    #[test]
    fn every_prefix_of_a_chain_is_truncated() {
        let mut p = opts_header(ROUTING, &[]);
        p.extend(routing_header(FRAGMENT, 0));
        p.extend(frag_header(IP_PROTO_TCP, 0, false, 9));
        for n in 0..p.len() {
            assert_eq!(walk(HOP_BY_HOP, &p[..n]), Err(ExtError::Truncated), "{n}");
            assert_eq!(skip_quoted(HOP_BY_HOP, &p[..n]), None, "{n}");
        }
        // Atomic fragment: walked through to TCP.
        let w = walk(HOP_BY_HOP, &p).unwrap();
        assert_eq!((w.protocol, w.offset, w.fragment), (IP_PROTO_TCP, 24, None));
    }

    #[test]
    fn fragment_header_stops_the_walk() {
        let mut p = opts_header(FRAGMENT, &[]);
        p.extend(frag_header(IP_PROTO_UDP, 1448, true, 0xdead_beef));
        p.extend_from_slice(&[1; 16]);
        let w = walk(DEST_OPTS, &p).unwrap();
        assert_eq!(w.offset, 16);
        assert_eq!(
            w.fragment,
            Some(FragmentHeader {
                next_header: IP_PROTO_UDP,
                offset: 1448,
                more: true,
                ident: 0xdead_beef,
                at: 8
            })
        );
        // The last fragment too.
        let last = frag_header(IP_PROTO_UDP, 8, false, 1);
        let w = walk(FRAGMENT, &last).unwrap();
        assert!(w.fragment.is_some_and(|f| !f.more && f.offset == 8));
        // A quoted non-first fragment has no transport header.
        assert_eq!(skip_quoted(DEST_OPTS, &p), None);
    }

    #[test]
    fn hop_by_hop_only_first() {
        let mut p = opts_header(HOP_BY_HOP, &[]);
        p.extend(opts_header(IP_PROTO_TCP, &[]));
        assert_eq!(
            walk(DEST_OPTS, &p),
            Err(ExtError::ParamProblem {
                code: param_problem::UNRECOGNIZED_NEXT_HEADER,
                pointer: 40, // the destination options header's first byte
                unless_multicast: false
            })
        );
    }

    #[test]
    fn routing_with_segments_left_is_an_error() {
        let p = routing_header(IP_PROTO_TCP, 1);
        assert_eq!(
            walk(ROUTING, &p),
            Err(ExtError::ParamProblem {
                code: param_problem::ERRONEOUS_FIELD,
                pointer: 42,
                unless_multicast: false
            })
        );
    }

    #[test]
    fn unknown_options_follow_their_action_bits() {
        let with = |ty: u8| walk(DEST_OPTS, &opts_header(IP_PROTO_TCP, &[ty, 1, 0]));
        assert!(with(0x1e).is_ok()); // 00: skip
        assert_eq!(with(0x5e), Err(ExtError::Discard)); // 01
        assert_eq!(
            with(0x9e),
            Err(ExtError::ParamProblem {
                code: param_problem::UNRECOGNIZED_OPTION,
                pointer: 42,
                unless_multicast: false
            })
        );
        assert_eq!(
            with(0xde),
            Err(ExtError::ParamProblem {
                code: param_problem::UNRECOGNIZED_OPTION,
                pointer: 42,
                unless_multicast: true
            })
        );
        // Router alert counts only in hop-by-hop.
        let ra = opts_header(IP_PROTO_TCP, &[opt::ROUTER_ALERT, 2, 0, 0]);
        assert!(!walk(DEST_OPTS, &ra).unwrap().router_alert);
        // Jumbo payload in a packet with a length.
        let j = opts_header(IP_PROTO_TCP, &[opt::JUMBO, 4, 0, 1, 0, 0]);
        assert_eq!(
            walk(HOP_BY_HOP, &j),
            Err(ExtError::ParamProblem {
                code: param_problem::ERRONEOUS_FIELD,
                pointer: 44,
                unless_multicast: false
            })
        );
    }

    #[test]
    fn linux_padding_and_count_limits() {
        // PadN with a non-zero byte.
        let mut h = opts_header(IP_PROTO_TCP, &[]);
        h[4] = 1;
        assert_eq!(walk(DEST_OPTS, &h), Err(ExtError::Discard));
        // Eight bytes of padding in a row (Pad1 x 6 then PadN 0 = 8).
        let mut p = vec![IP_PROTO_TCP, 1];
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&[opt::PADN, 0]);
        p.extend_from_slice(&[0x1e, 4, 0, 0, 0, 0]);
        assert_eq!(walk(DEST_OPTS, &p), Err(ExtError::Discard));
        // Eight skippable options are fine, nine are not.
        let eight: Vec<u8> = (0..8).flat_map(|_| [0x1e, 0]).collect();
        assert!(walk(DEST_OPTS, &opts_header(IP_PROTO_TCP, &eight)).is_ok());
        let nine: Vec<u8> = (0..9).flat_map(|_| [0x1e, 0]).collect();
        assert_eq!(
            walk(DEST_OPTS, &opts_header(IP_PROTO_TCP, &nine)),
            Err(ExtError::Discard)
        );
        // An option running past its header.
        let mut over = opts_header(IP_PROTO_TCP, &[0x1e, 4, 0, 0, 0, 0]);
        over[3] = 9;
        assert_eq!(walk(DEST_OPTS, &over), Err(ExtError::Discard));
    }

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic(nh in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(w) = walk(nh, &data) {
                prop_assert!(w.offset <= data.len());
            }
            if let Some((_, at)) = skip_quoted(nh, &data) {
                prop_assert!(at <= data.len());
            }
        }
    }
}
