//! A test device that does what Linux does with a frame we write to a TUN
//! device with a `virtio_net_hdr` (tun_get_user, then tcp_gso_segment and
//! the checksum completion of skb_checksum_help): cut a TCP super-segment
//! into `gso_size` pieces, each with the headers repeated, IPv4 length,
//! ident and header checksum redone, sequence numbers advanced, FIN and
//! PSH kept for the last piece only, and the partial TCP checksum moved to
//! each piece's length and finished. A wrong partial checksum gives pieces
//! the receiving stack drops, so a transfer through it checks ours. A UDP
//! super-datagram (USO) is cut the same way into datagrams.

use crate::wire::checksum::{fold, ones_sum};
use crate::wire::virtio_net::{VirtioNetHdr, F_NEEDS_CSUM, GSO_NONE, GSO_UDP_L4};

/// The frames the kernel would make of `frame` written with `hdr`.
pub fn kernel_segment(hdr: &VirtioNetHdr, frame: &[u8]) -> Vec<Vec<u8>> {
    let start = hdr.csum_start as usize;
    if hdr.gso_type == GSO_NONE {
        let mut f = frame.to_vec();
        if hdr.flags & F_NEEDS_CSUM != 0 {
            finish_checksum(&mut f, start, hdr.csum_offset as usize);
        }
        return vec![f];
    }
    assert_eq!(
        hdr.flags & F_NEEDS_CSUM,
        F_NEEDS_CSUM,
        "GSO without NEEDS_CSUM"
    );
    if hdr.gso_type == GSO_UDP_L4 {
        return udp_segment(hdr, frame);
    }
    assert_eq!(hdr.csum_offset, 16, "a TCP checksum");
    let hl = hdr.hdr_len as usize;
    let super_l4 = frame.len() - start;
    let partial = u16::from_be_bytes([frame[start + 16], frame[start + 17]]);
    let seq0 = u32::from_be_bytes(frame[start + 4..start + 8].try_into().unwrap());
    let payload = &frame[hl..];
    let pieces: Vec<&[u8]> = payload.chunks(hdr.gso_size as usize).collect();
    let last = pieces.len() - 1;
    let mut out = Vec::new();
    for (i, p) in pieces.into_iter().enumerate() {
        let mut f = piece(frame, hl, start, i, p);
        let seq = seq0.wrapping_add((i * hdr.gso_size as usize) as u32);
        f[start + 4..start + 8].copy_from_slice(&seq.to_be_bytes());
        if i != last {
            f[start + 13] &= !(0x01 | 0x08); // FIN, PSH
        }
        // The pseudo-header sum for this piece's length (tcp_gso_segment's
        // delta), then the rest summed in.
        move_partial(&mut f, start, 16, partial, super_l4);
        out.push(f);
    }
    out
}

/// A UDP super-datagram cut as __udp_gso_segment does: each piece a
/// datagram with the headers repeated, its UDP length, IP length, ident
/// and header checksum redone, and the partial checksum moved to its length
/// and finished.
fn udp_segment(hdr: &VirtioNetHdr, frame: &[u8]) -> Vec<Vec<u8>> {
    let start = hdr.csum_start as usize;
    assert_eq!(hdr.csum_offset, 6, "a UDP checksum");
    let hl = hdr.hdr_len as usize;
    assert_eq!(hl, start + 8, "IP and UDP headers");
    let super_l4 = frame.len() - start;
    assert_eq!(
        usize::from(u16::from_be_bytes([frame[start + 4], frame[start + 5]])),
        super_l4,
        "the super-datagram's UDP length"
    );
    let partial = u16::from_be_bytes([frame[start + 6], frame[start + 7]]);
    let mut out = Vec::new();
    for (i, p) in frame[hl..].chunks(hdr.gso_size as usize).enumerate() {
        let mut f = piece(frame, hl, start, i, p);
        let l4 = f.len() - start;
        f[start + 4..start + 6].copy_from_slice(&(l4 as u16).to_be_bytes());
        move_partial(&mut f, start, 6, partial, super_l4);
        out.push(f);
    }
    out
}

/// Piece `i` of a super-frame: its headers (`hl` bytes, the transport's
/// from `start`) then `payload`, the IP header's length redone (IPv4: and
/// its ident advanced and header checksum, as the kernel's segmentation).
fn piece(frame: &[u8], hl: usize, start: usize, i: usize, payload: &[u8]) -> Vec<u8> {
    let mut f = frame[..hl].to_vec();
    f.extend_from_slice(payload);
    let len = f.len();
    if frame[0] >> 4 == 4 {
        let ident0 = u16::from_be_bytes([frame[4], frame[5]]);
        f[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        f[4..6].copy_from_slice(&ident0.wrapping_add(i as u16).to_be_bytes());
        f[10] = 0;
        f[11] = 0;
        let c = fold(ones_sum(&f[..start], 0));
        f[10..12].copy_from_slice(&c.to_be_bytes());
    } else {
        f[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    }
    f
}

/// The super-frame's partial checksum (a pseudo-header sum for
/// `super_l4` transport bytes) moved to this piece's length (the length
/// appears once in it: the kernel's delta), stored at `offset` and
/// finished over the piece.
fn move_partial(f: &mut [u8], start: usize, offset: usize, partial: u16, super_l4: usize) {
    let l4 = f.len() - start;
    let moved = ones_sum(
        &[],
        u32::from(partial) + u32::from(!(super_l4 as u16)) + l4 as u32,
    );
    f[start + offset..start + offset + 2].copy_from_slice(&(!fold(moved)).to_be_bytes());
    finish_checksum(f, start, offset);
}

/// What the device does with NEEDS_CSUM: the sum from `start` to the end,
/// the field holding the pseudo-header sum, stored complemented.
fn finish_checksum(f: &mut [u8], start: usize, offset: usize) {
    let c = fold(ones_sum(&f[start..], 0));
    f[start + offset..start + offset + 2].copy_from_slice(&c.to_be_bytes());
}
