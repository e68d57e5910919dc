//! UDP segmentation as a socket sees it (Linux's UDP_SEGMENT and UDP_GRO):
//! one send cut into datagrams of a fixed size, and a super-datagram
//! received whole or split. On output the pieces leave as one super-frame
//! when the device cuts UDP (USO) or the destination is our own (loopback
//! carries it whole, as Linux's lo); otherwise the stack cuts them itself.
//! On input a super-datagram (from the device with USO, or looped back)
//! reaches a UDP_GRO socket whole, with its piece size for the UDP_GRO
//! control message, and any other socket as its datagrams.

use std::net::SocketAddr;

use crate::errno::Errno;
use crate::kern::sockopt::sooptcopyin_int;
use crate::linux::{UDP_GRO, UDP_SEGMENT};
use crate::netinet::in_pcb::Inpcb;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::{self, Gso, IpHeader};
use crate::stats::Stats;
use crate::wire::{self, checksum};

/// Linux's UDP_MAX_SEGMENTS: the most datagrams one send may be cut into.
pub const UDP_MAX_SEGMENTS: usize = 128;

/// setsockopt(SOL_UDP, UDP_SEGMENT | UDP_GRO) as Linux's udp_lib_setsockopt:
/// an int is required (EINVAL), a segment size within 0..=65535 (EINVAL);
/// None for another option.
pub(crate) fn udp_gso_setsockopt(
    inp: &mut Inpcb,
    name: i32,
    val: &[u8],
) -> Option<Result<(), Errno>> {
    let set = |inp: &mut Inpcb| {
        let v = sooptcopyin_int(val)?;
        match name {
            UDP_SEGMENT => {
                inp.udp_gso_size = u16::try_from(v).map_err(|_| Errno::EINVAL)?;
            }
            _ => inp.udp_gro = v != 0,
        }
        Ok(())
    };
    matches!(name, UDP_SEGMENT | UDP_GRO).then(|| set(inp))
}

/// getsockopt(SOL_UDP, UDP_SEGMENT | UDP_GRO); None for another option.
pub(crate) fn udp_gso_getsockopt(inp: &Inpcb, name: i32) -> Option<i32> {
    match name {
        UDP_SEGMENT => Some(i32::from(inp.udp_gso_size)),
        UDP_GRO => Some(i32::from(inp.udp_gro)),
        _ => None,
    }
}

/// Whether a send of `datalen` bytes with segment size `gso` (0: none) is
/// cut, checked as Linux's udp_send_skb: a piece that would not fit the
/// route's `fragsize` with the `hlen` bytes of IP and UDP headers is
/// EMSGSIZE, more than `UDP_MAX_SEGMENTS` pieces EINVAL. `Some(piece)`
/// when there is more than one piece.
pub(crate) fn gso_plan(
    hlen: usize,
    datalen: usize,
    gso: u16,
    fragsize: usize,
) -> Result<Option<u16>, Errno> {
    if gso == 0 {
        return Ok(None);
    }
    let piece = usize::from(gso);
    if hlen + datalen.min(piece) > fragsize {
        return Err(Errno::EMSGSIZE);
    }
    if datalen > piece * UDP_MAX_SEGMENTS {
        return Err(Errno::EINVAL);
    }
    Ok((datalen > piece).then_some(gso))
}

/// Send `data` as datagrams of `piece` bytes from `src_port` to `dst` under
/// the header `h`: one super-frame with a partial checksum when the device
/// cuts UDP or the destination is ours, else one datagram per piece.
pub(crate) fn udp_output_gso(
    cx: &impl InetCx,
    h: &IpHeader,
    src_port: u16,
    dst: SocketAddr,
    data: &[u8],
    piece: u16,
) {
    if cx.config().offloads.uso || ip::is_local(cx, dst.ip()) {
        let len = wire::udp::HEADER_LEN + data.len();
        let pseudo = checksum::pseudo_sum(h.src, h.dst, wire::IP_PROTO_UDP, len);
        let gso = Gso {
            piece,
            l4_hdr: wire::udp::HEADER_LEN,
            udp: true,
        };
        let fill = |seg: &mut [u8]| {
            seg[0..2].copy_from_slice(&src_port.to_be_bytes());
            seg[2..4].copy_from_slice(&dst.port().to_be_bytes());
            seg[4..6].copy_from_slice(&(len as u16).to_be_bytes());
            // The folded pseudo-header sum, not complemented.
            seg[6..8].copy_from_slice(&(!checksum::fold(pseudo)).to_be_bytes());
            seg[8..].copy_from_slice(data);
        };
        ip::ip_output_gso(cx, h, len, fill, Some(gso));
        Stats::bump(&cx.stats().udp_gso_out);
        return;
    }
    for chunk in data.chunks(usize::from(piece)) {
        let repr = wire::UdpRepr {
            src_port,
            dst_port: dst.port(),
            payload: chunk,
        };
        ip::ip_output(cx, h, repr.buffer_len(), |b| repr.emit(b, h.src, h.dst));
    }
}

/// Whether a received datagram is a super-datagram to split for a socket
/// without UDP_GRO: longer than its piece size (`piece` 0: an ordinary one).
pub(crate) fn is_super(payload: &[u8], piece: u16) -> bool {
    piece != 0 && payload.len() > usize::from(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_checks_as_udp_send_skb() {
        // 1500-byte MTU, IPv4 + UDP headers (28).
        assert_eq!(gso_plan(28, 3000, 0, 1500), Ok(None), "off");
        assert_eq!(gso_plan(28, 2500, 1000, 1500), Ok(Some(1000)));
        assert_eq!(gso_plan(28, 800, 1000, 1500), Ok(None), "one piece");
        assert_eq!(gso_plan(28, 1000, 1473, 1500), Ok(None), "short send");
        assert_eq!(gso_plan(28, 1473, 1473, 1500), Err(Errno::EMSGSIZE));
        assert_eq!(gso_plan(28, 3000, 1473, 1500), Err(Errno::EMSGSIZE));
        assert_eq!(gso_plan(28, 3000, 1472, 1500), Ok(Some(1472)));
        assert_eq!(gso_plan(28, 1280, 10, 65536), Ok(Some(10)), "128 pieces");
        assert_eq!(gso_plan(28, 1281, 10, 65536), Err(Errno::EINVAL));
        // IPv6 + UDP headers (48).
        assert_eq!(gso_plan(48, 3000, 1453, 1500), Err(Errno::EMSGSIZE));
        assert_eq!(gso_plan(48, 3000, 1452, 1500), Ok(Some(1452)));
    }

    #[test]
    fn options_as_linux() {
        let mut inp = Inpcb::new(64);
        let int = |v: i32| v.to_ne_bytes();
        assert_eq!(
            udp_gso_setsockopt(&mut inp, UDP_SEGMENT, &int(1400)),
            Some(Ok(()))
        );
        assert_eq!(udp_gso_getsockopt(&inp, UDP_SEGMENT), Some(1400));
        for bad in [-1, 65536] {
            assert_eq!(
                udp_gso_setsockopt(&mut inp, UDP_SEGMENT, &int(bad)),
                Some(Err(Errno::EINVAL))
            );
        }
        assert_eq!(
            udp_gso_setsockopt(&mut inp, UDP_SEGMENT, &[0x10, 0]),
            Some(Err(Errno::EINVAL)),
            "an int is required"
        );
        assert_eq!(udp_gso_getsockopt(&inp, UDP_SEGMENT), Some(1400));
        assert_eq!(udp_gso_setsockopt(&mut inp, UDP_GRO, &int(5)), Some(Ok(())));
        assert_eq!(udp_gso_getsockopt(&inp, UDP_GRO), Some(1), "read back as 1");
        assert_eq!(udp_gso_setsockopt(&mut inp, UDP_GRO, &int(0)), Some(Ok(())));
        assert_eq!(udp_gso_getsockopt(&inp, UDP_GRO), Some(0));
        assert_eq!(udp_gso_setsockopt(&mut inp, 1, &int(1)), None, "UDP_CORK");
    }

    #[test]
    fn only_a_datagram_longer_than_its_piece_is_split() {
        assert!(is_super(&[7; 2500], 1000));
        assert!(!is_super(&[7; 1000], 1000), "one piece");
        assert!(!is_super(&[7; 2500], 0), "not a super-datagram");
        assert!(!is_super(&[], 0));
    }
}
