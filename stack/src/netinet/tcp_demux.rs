//! TCP input's first half (FreeBSD's tcp_input before tcp_do_segment):
//! parse and check a segment, then find what takes it: its connection
//! (`tcp_input_conn`, the state machine), a listener (`syncache_input`),
//! or nobody (RST). A SYN may end a TIME_WAIT connection and open a new one.

use std::net::SocketAddr;

use crate::kern::socket::Socket;
use crate::kern::sotable::lock_live;
use crate::netinet::inet::InetCx;
use crate::netinet::ip::IpIn;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ecn::{ecn_rcv, ip_ecn};
use crate::netinet::tcp_input::{tcp_input_conn, SegIn};
use crate::netinet::tcp_rxplace;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::{tcp_close, tcp_reset_for, tcp_timer_sync};
use crate::netinet::tcp_syncache::syncache_input;
use crate::netinet::tcp_var::{TcpCb, TcpState};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr, WireError};

pub(crate) fn tcp_input(cx: &impl InetCx, now: Instant, ip: &IpIn, payload: &[u8]) {
    let parsed = if ip.csum_ok {
        TcpRepr::parse_unverified(payload)
    } else {
        TcpRepr::parse(payload, ip.src, ip.dst)
    };
    let seg = match parsed {
        Ok(s) => s,
        Err(WireError::BadChecksum) => {
            Stats::bump(&cx.stats().drop_checksum);
            return;
        }
        Err(_) => {
            Stats::bump(&cx.stats().drop_malformed);
            return;
        }
    };
    Stats::bump(&cx.stats().tcp_segs_in);
    // A segment to port 0 finds no socket and is answered with a RST, as
    // Linux does (connect to port 0 is ECONNREFUSED there), and that RST,
    // from port 0, is taken; other segments from port 0 are dropped.
    if crate::netinet::ip::is_broadcast(cx, ip.dst)
        || ip.dst.is_multicast()
        || (seg.src_port == 0 && !seg.flags.contains(TcpFlags::RST))
    {
        Stats::bump(&cx.stats().drop_malformed);
        return;
    }
    let local = SocketAddr::new(ip.dst, seg.dst_port);
    let remote = SocketAddr::new(ip.src, seg.src_port);

    // Twice at most: a segment that found no connection may meet, at its
    // listener, the connection another thread made meanwhile (see below).
    for first in [true, false] {
        if demux(cx, now, ip, payload, &seg, local, remote, first) {
            return;
        }
    }
}

/// One look for the socket that takes `seg`; false when the segment must
/// be looked up again: it found no connection, but by the time it held
/// the listener, another thread had made one for its 4-tuple. Frames are
/// processed by whichever thread flushes the transmit queue (loopback) or
/// reads the device, so the handshake's last ACK and the data behind it
/// can be taken by two threads at once: the one with the data must not
/// answer it from the listener (no SYN-cache entry is left: a RST that
/// resets the new connection, its data lost and the accepting side's
/// recv() left waiting), but hand it to the connection, as Linux's
/// tcp_check_req gives a segment that lost the race for a request to the
/// child the winner made. The connection is locked only after the
/// listener is released (listener before child holds for queued children
/// only).
#[allow(clippy::too_many_arguments)]
fn demux(
    cx: &impl InetCx,
    now: Instant,
    ip: &IpIn,
    payload: &[u8],
    seg: &TcpRepr,
    local: SocketAddr,
    remote: SocketAddr,
    first: bool,
) -> bool {
    let seg = *seg;
    let conn = cx.inet().pcbinfo.read().tcp_conn(local, remote);
    if let Some(h) = conn {
        if let Ok(sref) = cx.sockets().lookup(h) {
            if let Some(mut so) = lock_live(&sref) {
                // A connection bound to another device does not take it
                // (Linux's inet_match): on to the listeners.
                let arrived = crate::netinet::ip::arrival(cx, ip);
                let dev = so.so_pcb.inp().bound_dev();
                let tp = so
                    .so_pcb
                    .tcp()
                    .filter(|_| crate::netinet::in_pcb::dev_takes(dev, arrived.0, arrived.1));
                if tp.is_some_and(|tp| time_wait_reusable(tp, &seg)) {
                    // A new incarnation of the connection: end TIME_WAIT and
                    // let the listener take the SYN (as Linux's TCP_TW_SYN).
                    tcp_close(cx, &mut so);
                } else if tp.is_some_and(|tp| tp.t_state != TcpState::Closed) {
                    let Some(seg) = tcp_filter(cx, &so, ip, payload, &seg) else {
                        return true;
                    };
                    if let Some(tp) = so.so_pcb.tcp_mut().filter(|tp| tp.t_state.synchronized()) {
                        ecn_rcv(tp, &seg, ip_ecn(ip.packet));
                    }
                    tcp_input_conn(
                        cx,
                        now,
                        &mut so,
                        &seg,
                        SegIn {
                            batch: ip.batch,
                            placed: false,
                        },
                    );
                    if ip.batch && ip.src.is_ipv4() {
                        let n = seg.payload.len();
                        tcp_rxplace::tcp_place_note(cx, h, ip.packet.len(), n);
                    }
                    tcp_timer_sync(cx, &mut so);
                    return true;
                }
            }
        }
    }
    let listener =
        cx.inet()
            .pcbinfo
            .read()
            .tcp_listener(local, remote, crate::netinet::ip::arrival(cx, ip));
    if let Some(h) = listener {
        if let Ok(lref) = cx.sockets().lookup(h) {
            if let Some(mut l) = lock_live(&lref) {
                if l.is_listening() {
                    // The listener's lock orders this look after the
                    // insertion of a connection made from its SYN cache.
                    if first && conn.is_none() && !seg.flags.contains(TcpFlags::SYN) {
                        let made = cx
                            .inet()
                            .pcbinfo
                            .read()
                            .tcp_conns
                            .contains_key(&(local, remote));
                        if made {
                            return false;
                        }
                    }
                    let Some(seg) = tcp_filter(cx, &l, ip, payload, &seg) else {
                        return true;
                    };
                    let looped = ip.ifindex == crate::linux::LOOPBACK_IFINDEX;
                    let segment = looped.then_some(payload);
                    let ecn = ip_ecn(ip.packet);
                    syncache_input(cx, now, &mut l, local, remote, &seg, ecn, segment);
                    tcp_timer_sync(cx, &mut l);
                    return true;
                }
            }
        }
    }
    Stats::bump(&cx.stats().drop_no_socket);
    tcp_reset_for(cx, local, remote, &seg);
    true
}

/// Linux's `tcp_filter`: the socket's filter over the segment, never
/// cutting into the header (`sk_filter_trim_cap` with the header length);
/// a trimmed segment carries only the bytes kept.
fn tcp_filter<'a>(
    cx: &impl InetCx,
    so: &Socket,
    ip: &IpIn,
    segment: &[u8],
    seg: &TcpRepr<'a>,
) -> Option<TcpRepr<'a>> {
    if so.so_filter.is_none() {
        return Some(*seg);
    }
    let hdr = segment.len() - seg.payload.len();
    let keep = crate::netinet::ip::sk_filter_run(cx, so, ip, segment, hdr)?;
    Some(TcpRepr {
        payload: &seg.payload[..keep - hdr],
        ..*seg
    })
}

/// May a SYN reopen this TIME_WAIT 4-tuple? (RFC 6191 / Linux's
/// tcp_timewait_state_process): a plain SYN whose sequence number lies
/// beyond what the old connection used, or whose timestamp is newer.
fn time_wait_reusable(tp: &TcpCb, seg: &TcpRepr) -> bool {
    if tp.t_state != TcpState::TimeWait
        || seg.flags.intersects(TcpFlags::ACK | TcpFlags::RST)
        || !seg.flags.contains(TcpFlags::SYN)
    {
        return false;
    }
    let ts_newer = match (tp.ts_ok, seg.options.timestamp) {
        (true, Some((tsval, _))) => (tsval.wrapping_sub(tp.ts_recent) as i32) > 0,
        _ => false,
    };
    let ts_older = tp.ts_ok && seg.options.timestamp.is_some() && !ts_newer;
    !ts_older && (Seq(seg.seq).gt(tp.rcv_nxt) || ts_newer)
}
