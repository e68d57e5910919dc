//! TCP segmentation offload (FreeBSD's TSO branch of tcp_output, with
//! `if_hw_tsomax`; Linux's tcp_tso_segs): when the device cuts segments
//! for us (`Config::offloads`), TCP output may build one super-segment of
//! up to 64 KiB of new data instead of one segment per MSS, and leave its
//! checksum partial for the device to finish. The device repeats the
//! header on every piece, clearing FIN and PSH on all but the last.
//!
//! Kept to two hooks so the rest of TCP output stays per-MSS:
//! `tcp_send_max` caps a segment's length, `tcp_emit_tso` sends one longer
//! than the MSS. Retransmissions stay one MSS at a time (they repeat
//! exactly what was lost), and so does loopback traffic.

use std::net::SocketAddr;

use crate::netinet::inet::InetCx;
use crate::netinet::ip::{self, ip_output_data};
use crate::netinet::tcp_subr::TcpFrame;
use crate::netinet::tcp_var::TcpCb;
use crate::offload::TSO_MAX_PAYLOAD;
use crate::stats::Stats;
use crate::wire::{self, checksum, TcpRepr};

/// The most new data one segment of `tp` may carry now: the MSS, or with
/// TSO a whole number of MSS up to the IP length limit.
pub(crate) fn tcp_send_max(cx: &impl InetCx, tp: &TcpCb) -> usize {
    let mss = tp.t_maxseg;
    if !tcp_tso_ok(cx, tp) || mss == 0 || tp.snd_nxt.lt(tp.snd_max) {
        return mss;
    }
    let segs = (TSO_MAX_PAYLOAD / mss).max(1);
    // A pacing congestion control sizes bursts by its rate (Linux's
    // tcp_tso_autosize with BBR's tso_segs_goal).
    let segs = match tp.cc.bbr() {
        Some(b) => segs.min(b.tso_segs_goal(mss) as usize),
        None => segs,
    };
    segs * mss
}

/// Whether the device cuts `tp`'s segments: TSO for its family, and not
/// to one of our own addresses (looped inside the stack).
pub(crate) fn tcp_tso_ok(cx: &impl InetCx, tp: &TcpCb) -> bool {
    let o = cx.config().offloads;
    let tso = if tp.inp.faddr.is_ipv6() {
        o.tso6
    } else {
        o.tso4
    };
    tso && !ip::is_local(cx, tp.inp.faddr)
}

/// A length `tcp_send_max` allowed, cut to whole MSS pieces unless it
/// ends the data (the device's last piece may be short; one in the middle
/// would be a short segment on the wire mid-stream).
pub(crate) fn tcp_tso_trim(len: usize, mss: usize, tail: bool) -> usize {
    if len <= mss || tail || mss == 0 {
        len
    } else {
        len - len % mss
    }
}

/// The part of a last segment of `len` bytes that Nagle's rules (and
/// TCP_CORK) may hold back: all of it when it is one segment, the piece
/// past the last whole MSS of a super-segment.
pub(crate) fn tcp_tso_tail(len: usize, mss: usize) -> usize {
    if len > mss && mss > 0 {
        len % mss
    } else {
        len
    }
}

/// Send a super-segment: as `tcp_emit`, with the TCP checksum field
/// holding the pseudo-header sum only (the device sums the rest, the
/// kernel's CHECKSUM_PARTIAL) and `mss` as the size of the device's pieces.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_emit_tso(
    cx: &impl InetCx,
    src: SocketAddr,
    dst: SocketAddr,
    ttl: u8,
    tos: u8,
    repr: &TcpRepr,
    data: (&[u8], &[u8]),
    mss: usize,
    oif: u8,
) {
    Stats::bump(&cx.stats().tcp_segs_out);
    Stats::bump(&cx.stats().tcp_tso_out);
    let f = TcpFrame::new(src, dst, ttl, tos, repr, data, oif);
    cx.stats()
        .tcp_tso_bytes_out
        .fetch_add(f.dlen as u64, std::sync::atomic::Ordering::Relaxed);
    let pseudo = checksum::pseudo_sum(src.ip(), dst.ip(), wire::IP_PROTO_TCP, f.hlen + f.dlen);
    ip_output_data(
        cx,
        &f.ip,
        f.hlen,
        data,
        |seg| {
            f.fill_header(seg);
            // The folded pseudo-header sum, not complemented.
            seg[16..18].copy_from_slice(&(!checksum::fold(pseudo)).to_be_bytes());
        },
        Some(ip::Gso {
            piece: mss as u16,
            l4_hdr: f.hlen,
            udp: false,
        }),
    );
}
