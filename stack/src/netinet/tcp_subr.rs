//! TCP support routines (FreeBSD's tcp_subr.c): ISN generation (RFC 6528),
//! segment emission, RSTs for segments with no connection, the two ways a
//! connection ends: `tcp_drop` (with RST and an error) and `tcp_close`
//! (which releases PROTOREF and calls `sofree`), and `tcp_timer_sync`,
//! which arms the stack's timer for a connection's earliest deadline.

use std::net::{IpAddr, SocketAddr};

use crate::errno::Errno;
use crate::kern::socket::{SoState, Socket};
use crate::kern::uipc::sofree;
use crate::netinet::in_pcb::{DEV_NONE, INP_DROPPED, INP_TIMEWAIT};
use crate::netinet::inet::InetCx;
use crate::netinet::ip::{ip_output_data, IpHeader};
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::{TcpState, TcpTimers};
use crate::rng::siphash;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, TcpFlags, TcpOptions, TcpRepr};

/// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key),
/// M a 4 µs clock.
pub(crate) fn tcp_new_isn(
    cx: &impl InetCx,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
) -> Seq {
    let mut d = Vec::with_capacity(36);
    put_addr(&mut d, local.ip());
    d.extend_from_slice(&local.port().to_be_bytes());
    put_addr(&mut d, remote.ip());
    d.extend_from_slice(&remote.port().to_be_bytes());
    let f = siphash(cx.inet().isn_key, &d) as u32;
    Seq(f.wrapping_add((now.total_micros() / 4) as u32))
}

/// The timestamp offset for a pair of hosts (as Linux's
/// secure_tcp_ts_off): keyed by addresses only, so successive connections
/// between the same hosts see increasing TSvals and a peer's PAWS check
/// lets a new SYN reuse a TIME_WAIT 4-tuple.
pub(crate) fn tcp_ts_offset(cx: &impl InetCx, local: IpAddr, remote: IpAddr) -> u32 {
    let mut d = Vec::with_capacity(34);
    put_addr(&mut d, local);
    put_addr(&mut d, remote);
    d.extend_from_slice(b"ts");
    siphash(cx.inet().isn_key, &d) as u32
}

/// An address's bytes for the keyed hashes (4 for IPv4, 16 for IPv6).
fn put_addr(d: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => d.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => d.extend_from_slice(&a.octets()),
    }
}

/// Our timestamp clock: milliseconds plus a per-connection offset.
pub(crate) fn tcp_ts(now: Instant, offset: u32) -> u32 {
    (now.total_millis() as u32).wrapping_add(offset)
}

/// Window scale we ask for, as Linux's tcp_select_initial_window: from
/// the largest window the socket could ever offer, max(tcp_rmem[2],
/// rmem_max), ilog2(that) - 15 within 0..=14.
pub(crate) fn rcv_wscale_for(sys: &crate::config::Sysctl) -> u8 {
    let space = sys.tcp_rmem[2].max(sys.rmem_max).max(1);
    let ilog2 = usize::BITS - 1 - space.leading_zeros();
    ilog2.saturating_sub(15).min(14) as u8
}

/// The MSS option of our SYN or SYN-ACK, as Linux's tcp_mss_clamp: the
/// device's (MTU - 40; - 60 to an IPv6 peer), lowered by TCP_MAXSEG when
/// the user set one.
pub(crate) fn tcp_mss_clamp(tp: &crate::netinet::tcp_var::TcpCb) -> u16 {
    tcp_mss_clamp_to(tp, tp.inp.faddr)
}

/// `tcp_mss_clamp` for a SYN-ACK to `peer` (a listener has no peer).
pub(crate) fn tcp_mss_clamp_to(tp: &crate::netinet::tcp_var::TcpCb, peer: IpAddr) -> u16 {
    let offer = tp.mss_offer.saturating_sub(ip6_extra(peer) as u16);
    if tp.user_mss != 0 {
        offer.min(tp.user_mss)
    } else {
        offer
    }
}

/// How much longer the IP header to `peer` is than IPv4's (20 bytes for
/// IPv6): taken off the MSS.
pub(crate) fn ip6_extra(peer: IpAddr) -> usize {
    if peer.is_ipv6() {
        wire::ipv6::HEADER_LEN - wire::ipv4::HEADER_LEN
    } else {
        0
    }
}

/// One TCP segment about to be written: its header (the repr without
/// payload), the IP header around it and the lengths; what `tcp_emit` and
/// the super-segment path (`tcp_emit_tso`) share.
pub(crate) struct TcpFrame<'a> {
    pub hdr: TcpRepr<'a>,
    pub hlen: usize,
    pub dlen: usize,
    pub ip: IpHeader,
}

impl<'a> TcpFrame<'a> {
    pub fn new(
        src: SocketAddr,
        dst: SocketAddr,
        ttl: u8,
        tos: u8,
        repr: &TcpRepr<'a>,
        data: (&[u8], &[u8]),
        oif: u8,
    ) -> TcpFrame<'a> {
        let hdr = TcpRepr {
            payload: &[],
            ..*repr
        };
        TcpFrame {
            hlen: hdr.header_len(),
            hdr,
            dlen: data.0.len() + data.1.len(),
            ip: IpHeader {
                src: src.ip(),
                dst: dst.ip(),
                protocol: wire::IP_PROTO_TCP,
                ttl,
                tos,
                dont_frag: true,
                oif,
            },
        }
    }

    /// The TCP header into the front of `seg`, whose data
    /// `ip_output_data` has put behind it (its checksum still to do).
    pub fn fill_header(&self, seg: &mut [u8]) {
        self.hdr
            .emit(&mut seg[..self.hlen], self.ip.src, self.ip.dst);
    }
}

/// Emit one segment: header from `repr` (its payload ignored) followed by
/// the two data slices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_emit(
    cx: &impl InetCx,
    src: SocketAddr,
    dst: SocketAddr,
    ttl: u8,
    tos: u8,
    repr: &TcpRepr,
    data: (&[u8], &[u8]),
    oif: u8,
) {
    Stats::bump(&cx.stats().tcp_segs_out);
    let f = TcpFrame::new(src, dst, ttl, tos, repr, data, oif);
    let fill = |seg: &mut [u8]| {
        f.fill_header(seg);
        if f.dlen > 0 {
            seg[16] = 0;
            seg[17] = 0;
            let c = wire::checksum::transport_checksum(src.ip(), dst.ip(), wire::IP_PROTO_TCP, seg);
            seg[16..18].copy_from_slice(&c.to_be_bytes());
        }
    };
    ip_output_data(cx, &f.ip, f.hlen, data, fill, None);
}

/// Send a bare control segment (RST or ACK) with no connection state.
pub(crate) fn tcp_respond(
    cx: &impl InetCx,
    src: SocketAddr,
    dst: SocketAddr,
    seq: Seq,
    ack: Option<Seq>,
    flags: TcpFlags,
) {
    tcp_respond_opts(cx, src, dst, seq, ack, flags, TcpOptions::default())
}

/// `tcp_respond` carrying TCP options (a live connection's timestamp).
pub(crate) fn tcp_respond_opts(
    cx: &impl InetCx,
    src: SocketAddr,
    dst: SocketAddr,
    seq: Seq,
    ack: Option<Seq>,
    flags: TcpFlags,
    options: TcpOptions,
) {
    if flags.contains(TcpFlags::RST) {
        Stats::bump(&cx.stats().tcp_rst_sent);
    }
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: seq.0,
        ack: ack.map_or(0, |a| a.0),
        flags: if ack.is_some() {
            flags | TcpFlags::ACK
        } else {
            flags
        },
        window: 0,
        urgent: 0,
        options,
        payload: &[],
    };
    let ttl = match dst.ip() {
        IpAddr::V4(_) => cx.sysctl().ip_default_ttl,
        IpAddr::V6(_) => cx.sysctl().ipv6_hop_limit,
    };
    tcp_emit(cx, src, dst, ttl, 0, &repr, (&[], &[]), DEV_NONE);
}

/// RFC 9293 reset generation for a segment that matches no connection.
pub(crate) fn tcp_reset_for(
    cx: &impl InetCx,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
) {
    if seg.flags.contains(TcpFlags::RST) {
        return;
    }
    if seg.flags.contains(TcpFlags::ACK) {
        tcp_respond(cx, local, remote, Seq(seg.ack), None, TcpFlags::RST);
    } else {
        let ack = Seq(seg.seq) + seg.segment_len();
        tcp_respond(cx, local, remote, Seq(0), Some(ack), TcpFlags::RST);
    }
}

/// Send an RST for a live connection (abort, close with unread data).
pub(crate) fn tcp_send_rst(cx: &impl InetCx, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if tp.rst_sent
        || !matches!(
            tp.t_state,
            TcpState::SynReceived
                | TcpState::Established
                | TcpState::CloseWait
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
        )
    {
        return;
    }
    tp.rst_sent = true;
    let inp = tp.inp;
    let seq = tp.snd_nxt.max(tp.snd_una);
    // Linux's tcp_send_active_reset goes out through tcp_transmit_skb with
    // the connection's options: the timestamp when negotiated.
    let mut options = TcpOptions::default();
    if tp.ts_ok {
        options.timestamp = Some((tcp_ts(cx.last_now(), tp.ts_offset), tp.ts_recent));
    }
    tcp_respond_opts(
        cx,
        inp.local(),
        inp.foreign(),
        seq,
        Some(tp.rcv_nxt),
        TcpFlags::RST,
        options,
    );
}

/// Drop the connection: RST to the peer if synchronized, error to the
/// application, then `tcp_close`.
pub(crate) fn tcp_drop(cx: &impl InetCx, so: &mut Socket, err: Option<Errno>) {
    tcp_send_rst(cx, so);
    if let Some(e) = err {
        so.so_error = Some(e);
    }
    tcp_close(cx, so);
}

/// The connection is over: CLOSED, INP_DROPPED (the PCB stays with the
/// socket), out of the connection table, timers stopped; PROTOREF is
/// released and `sofree` called. A connection still on a listener's queue
/// stays there (the queue's reference keeps it), as on Linux: accept()
/// returns it and its first recv reports the error.
pub(crate) fn tcp_close(cx: &impl InetCx, so: &mut Socket) {
    let handle = so.handle;
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let was_listening = tp.t_state == TcpState::Listen;
    tp.t_state = TcpState::Closed;
    tp.inp.inp_flags |= INP_DROPPED;
    tp.inp.inp_flags &= !INP_TIMEWAIT;
    tp.t_timers = TcpTimers::default();
    tp.rbuf_armed = false;
    crate::netinet::tcp_pace::tcp_pace_stop(tp);
    tp.reass.clear();
    let tuple = (tp.inp.local(), tp.inp.foreign());
    if !was_listening {
        let mut t = cx.inet().pcbinfo.write();
        if t.tcp_conns.get(&tuple) == Some(&handle) {
            t.tcp_conns.remove(&tuple);
        }
    }
    so.soisdisconnected();
    so.so_snd.clear();
    // The rbuf timer is stopped with the rest: free kept storage now.
    so.so_rcv.ring_mut().release_if_empty();
    cx.sockets().sowakeup(handle);
    if so.so_state.has(SoState::PROTOREF) {
        so.so_state.clear(SoState::PROTOREF);
        sofree(cx, so);
    }
}

/// Make sure the stack's timer heap will wake this socket at its earliest
/// deadline.
pub(crate) fn tcp_timer_sync(cx: &impl InetCx, so: &mut Socket) {
    let handle = so.handle;
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let Some(next) = tp.next_timer() else {
        return;
    };
    if tp.scheduled.is_none_or(|s| next < s) {
        tp.scheduled = Some(next);
        cx.arm_timer(handle, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wscale_matches_linux_choice() {
        let ws = |rmem2: usize, rmem_max: usize| {
            let mut s = crate::config::Sysctl::default();
            s.tcp_rmem[2] = rmem2;
            s.rmem_max = rmem_max;
            rcv_wscale_for(&s)
        };
        assert_eq!(ws(6291456, 212992), 7);
        assert_eq!(ws(33554432, 212992), 10);
        // packetdrill's defaults.sh: tcp_rmem[2] 15 MiB, Linux sends 8.
        assert_eq!(ws(15 << 20, 4194304), 8);
        // rmem_max counts too (net.core.rmem_max = 32 MiB).
        assert_eq!(ws(6291456, 33554432), 10);
        assert_eq!(ws(65535, 65535), 0);
        assert_eq!(ws(1 << 31, 1 << 31), 14);
    }
}
