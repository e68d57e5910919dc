//! TCP output (FreeBSD's tcp_output.c): decide what may be sent now — SYN,
//! data within min(send window, cwnd), FIN, a pure ACK or window update, a
//! persist probe — build those segments from the send buffer and queue
//! them. Called by the thread that did the work (send, input, timer).

use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ecn;
use crate::netinet::tcp_pace::{tcp_pacing_check, tcp_pacing_sent};
use crate::netinet::tcp_recovery_var::CaState;
use crate::netinet::tcp_sack_send::{sack_active, tcp_pipe, tcp_recovery_sent};
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::{tcp_emit, tcp_mss_clamp, tcp_ts};
use crate::netinet::tcp_tso;
use crate::netinet::tcp_var::{TcpCb, TcpState};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpOptions, TcpRepr};

/// The receive window to advertise, never shrinking the right edge. A
/// SYN's window is never scaled (RFC 7323 §2.2). `rcv_adv` is the right
/// edge as the peer reads it: the window in whole units of the scale
/// (free space below one unit is advertised as zero; an edge kept is
/// rounded up, as Linux's __tcp_select_window), so that input can tell
/// when the peer was told zero (tcp_input's `tcp_check_seq`).
fn rcv_window(so: &mut Socket, syn: bool) -> u16 {
    let free = so.so_rcv.ring().free();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return 0;
    };
    let shift = if syn { 0 } else { tp.rcv_wscale };
    let max = (65535usize << shift).min(1 << 30);
    let mut win = free.min(max);
    let adv = tp.rcv_adv.diff(tp.rcv_nxt).max(0) as usize;
    let keep = win < adv && !syn;
    if keep {
        win = adv.min(max);
    }
    let units = if keep {
        win.div_ceil(1 << shift)
    } else {
        win >> shift
    }
    .min(65535);
    tp.rcv_adv = tp.rcv_nxt + (units << shift);
    units as u16
}

/// Send whatever the state allows. `force` sends one byte into a zero
/// window (persist probe).
pub(crate) fn tcp_output(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    let held_off = notsent_holds_off(so);
    tcp_output_inner(cx, now, so, false);
    if held_off && !notsent_holds_off(so) {
        // Under TCP_NOTSENT_LOWAT what leaves, not only what is
        // acknowledged, makes the socket writable: a send released later
        // than the ACK that allowed it (pacing, a timer) must wake a
        // poll(POLLOUT) too, or it sleeps to its timeout (packetdrill's
        // notsent-lowat-setsockopt: 1 s where Linux returns at once).
        cx.sockets().sowakeup(so.handle);
    }
}

/// Do the unsent bytes keep a poll(POLLOUT) waiting, TCP_NOTSENT_LOWAT
/// counted doubled as poll counts them (Linux's tcp_poll)? False without
/// the option.
fn notsent_holds_off(so: &Socket) -> bool {
    let lowat = so.so_pcb.tcp().map_or(u32::MAX, |tp| tp.notsent_lowat());
    lowat != u32::MAX && crate::netinet::tcp_notsent::tcp_notsent(so) * 2 >= lowat as usize
}

pub(crate) fn tcp_output_force(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    tcp_output_inner(cx, now, so, true)
}

/// What the next segment carries: its flags and options, and `len` bytes
/// of the send buffer from offset `off`.
struct Segment {
    flags: TcpFlags,
    options: TcpOptions,
    off: usize,
    len: usize,
}

fn tcp_output_inner(cx: &impl InetCx, now: Instant, so: &mut Socket, mut force: bool) {
    if let Some(tp) = so.so_pcb.tcp() {
        debug_assert!(
            tp.snd_una.le(tp.snd_nxt) && tp.snd_nxt.le(tp.snd_max),
            "tcp_output: snd_una <= snd_nxt <= snd_max ({:?} {:?} {:?})",
            tp.snd_una,
            tp.snd_nxt,
            tp.snd_max
        );
    }
    // SACK recovery: what the scoreboard marks lost goes before new data
    // (RFC 6675 NextSeg rules 1 and 2).
    tcp_xmit_retransmit_queue(cx, now, so);
    loop {
        let snd_cc = so.so_snd.ring().len();
        let Some(tp) = so.so_pcb.tcp_mut() else {
            return;
        };
        let seg = match tp.t_state {
            TcpState::Closed | TcpState::Listen => return,
            TcpState::SynSent | TcpState::SynReceived if tp.snd_nxt == tp.iss => {
                tcp_syn_segment(cx, now, tp, snd_cc)
            }
            // A passive Fast Open child sends data before the handshake
            // completes (Linux: data-less SYN with a valid cookie too).
            TcpState::SynReceived if tp.fastopen_child => {
                let max = tp.t_maxseg;
                match tcp_data_segment(now, tp, snd_cc, force, max) {
                    Some(seg) => seg,
                    None => return,
                }
            }
            TcpState::SynSent | TcpState::SynReceived => {
                if !tp.ack_now {
                    return;
                }
                Segment {
                    flags: TcpFlags::ACK,
                    options: TcpOptions::default(),
                    off: 0,
                    len: 0,
                }
            }
            _ => {
                // Data waits for the pacing clock (a persist probe does
                // not); a due ACK goes.
                let tso = tcp_tso::tcp_tso_ok(cx, tp);
                let off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
                let pending = snd_cc > off || tp.fin_queued;
                let send_max = match !force && pending && tcp_pacing_check(tp, now, tso) {
                    true => {
                        Stats::bump(&cx.stats().tcp_pace_waits);
                        0
                    }
                    false => tcp_tso::tcp_send_max(cx, tp),
                };
                match tcp_data_segment(now, tp, snd_cc, force, send_max) {
                    Some(seg) => seg,
                    None => return,
                }
            }
        };
        force = false;
        let (flags, len) = (seg.flags, seg.len);
        tcp_send_segment(cx, now, so, seg);
        // A SYN, or a segment with neither data nor FIN, goes alone.
        if flags.contains(TcpFlags::SYN) || (len == 0 && !flags.contains(TcpFlags::FIN)) {
            return;
        }
    }
}

/// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED): the MSS we offer and the
/// options the sysctls enable, on a SYN-ACK only those the peer's SYN
/// offered too. The first SYN of a Fast Open carries its option and data
/// (Linux's tcp_send_syn_data); a retransmission neither.
fn tcp_syn_segment(cx: &impl InetCx, now: Instant, tp: &mut TcpCb, snd_cc: usize) -> Segment {
    let passive = tp.t_state == TcpState::SynReceived;
    let sys = cx.sysctl();
    let mut flags = TcpFlags::SYN;
    if passive {
        flags |= TcpFlags::ACK | tcp_ecn::ecn_synack_flags(tp.ecn.ok);
    } else {
        let retransmit = tp.snd_max.gt(tp.iss);
        flags |= tcp_ecn::ecn_syn_flags(tp, &sys, retransmit);
    }
    let mut options = TcpOptions {
        mss: Some(tcp_mss_clamp(tp)),
        ..TcpOptions::default()
    };
    if sys.tcp_window_scaling && (!passive || tp.wscale_ok) {
        options.window_scale = Some(tp.rcv_wscale);
    }
    if sys.tcp_sack && (!passive || tp.sack_ok) {
        options.sack_permitted = true;
    }
    if sys.tcp_timestamps && (!passive || tp.ts_ok) {
        options.timestamp = Some((
            tcp_ts(now, tp.ts_offset),
            if passive { tp.ts_recent } else { 0 },
        ));
    }
    let mut len = 0;
    if let (false, Some(tfo)) = (passive, tp.tfo_opt_mut()) {
        if let Some((fo, data)) = tfo.req.take() {
            options.fast_open = fo;
            tfo.syn_fastopen = fo;
            len = data.min(snd_cc);
            tfo.syn_data = len;
        }
    }
    Segment {
        flags,
        options,
        off: 0,
        len,
    }
}

/// A synchronized connection's next segment: as much unsent data as
/// min(send window, cwnd) and one MSS (`send_max`, more with TSO) allow (one byte into a zero window
/// when `force`, the persist probe), with FIN after the last byte once it
/// is queued, PSH on the buffer's end. None when there is nothing to send
/// and no ACK is due; then, if data waits behind a zero window, the
/// persist timer is armed.
fn tcp_data_segment(
    now: Instant,
    tp: &mut TcpCb,
    snd_cc: usize,
    force: bool,
    send_max: usize,
) -> Option<Segment> {
    debug_assert!(
        tp.t_state.synchronized() || tp.fastopen_child,
        "tcp_data_segment: {:?}",
        tp.t_state
    );
    let mut flags = TcpFlags::ACK;
    let off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
    let avail = snd_cc.saturating_sub(off);
    let inflight = tp.snd_nxt.diff(tp.snd_una).max(0) as usize;
    // What the congestion window counts: RFC 6675's pipe with SACK (so
    // SACKed segments make room: limited transmit, RFC 3042); without,
    // the flight less one segment per duplicate ACK before recovery (RFC
    // 3042 as Linux's tcp_add_reno_sack).
    let in_cwnd = if sack_active(tp) {
        tcp_pipe(tp)
    } else if tp.recover.is_none() {
        inflight.saturating_sub(tp.dupacks.min(2) as usize * tp.t_maxseg)
    } else {
        inflight
    };
    let usable = (tp.snd_wnd as usize)
        .saturating_sub(inflight)
        .min(tp.cwnd.max(tp.t_maxseg).saturating_sub(in_cwnd));
    let mut len = avail.min(usable).min(send_max);
    len = tcp_tso::tcp_tso_trim(len, tp.t_maxseg, len == avail);
    // No segment crosses a push mark (a MSG_EOR record's end, a forced
    // push: tcp_push.rs).
    if let Some(mark) = tp.push_mark_after(tp.snd_nxt) {
        len = len.min(mark.diff(tp.snd_nxt) as usize);
    }
    if force && len == 0 && avail > 0 && tp.snd_wnd == 0 {
        len = 1;
    }
    let fin_queued = tp.fin_seq(snd_cc).is_some();
    let mut held = false;
    if len > 0 && len == avail && !force && !fin_queued {
        // A partial tail held back (Nagle, TCP_CORK, MSG_MORE); with TSO,
        // the tail of a super-segment as Linux's tcp_mss_split_point.
        let partial = tcp_tso::tcp_tso_tail(len, tp.t_maxseg);
        if partial > 0 && tcp_nagle_check(tp, partial, inflight) {
            held = len == partial;
            len -= partial;
        }
    }
    if let Some(fin) = tp.fin_seq(snd_cc) {
        if tp.snd_nxt + len == fin && off + len == snd_cc {
            flags |= TcpFlags::FIN;
        }
    }
    // PSH where Linux's skbs put it, as a receiver sees it (GRO merges
    // a burst up to its PSH): on the tail of the buffer, unless the last
    // write had MSG_MORE, and on the last segment of a burst the window
    // or cwnd ends.
    let next = (avail - len)
        .min(usable.saturating_sub(len))
        .min(tp.t_maxseg);
    // (A retransmission keeps the flags of what it repeats: no PSH
    // from where a retransmission burst stops.)
    let rexmt = tp.snd_nxt.lt(tp.snd_max);
    // Nor where loss recovery or limited transmit doles segments out one
    // ACK at a time (Linux sends those as pieces of a larger skb).
    let disorder = if tp.sack_ok {
        tp.rec.state != CaState::Open || tp.rec.sb.sacked_out > 0
    } else {
        tp.dupacks > 0 || tp.recover.is_some()
    };
    let burst_end =
        !rexmt && !disorder && (next == 0 || (next < tp.t_maxseg && next < avail - len));
    let tail = off + len == snd_cc;
    let marked = len > 0 && tp.push_mark_at(tp.snd_nxt + len);
    if len > 0 && ((tail && (!tp.more_pending || force)) || (!tail && burst_end) || marked) {
        flags |= TcpFlags::PSH;
    }
    if len == 0 && !flags.contains(TcpFlags::FIN) && !tp.ack_now {
        let idle = held && inflight == 0;
        if avail > 0
            && (tp.snd_wnd == 0 || idle)
            && tp.t_timers.rexmt.is_none()
            && tp.t_timers.persist.is_none()
        {
            let d = tp
                .rto_backed_off()
                .max(crate::netinet::tcp_var::TCP_RTO_MIN);
            tp.t_timers.persist = Some(now + d * (1u32 << tp.persist_shift.min(6)));
        }
        return None;
    }
    Some(Segment {
        flags,
        options: TcpOptions::default(),
        off,
        len,
    })
}

/// Linux's tcp_nagle_check for a partial tail of `len` bytes: held while
/// corked (TCP_CORK, or a send with MSG_MORE), or, without TCP_NODELAY,
/// while an earlier partial segment is unacknowledged (Minshall's form of
/// RFC 896). A TCP_NODELAY set or a cork removed pushes it once, and so
/// does urgent data. Data
/// held with nothing in flight leaves on the probe timer (RTO, at least
/// 200 ms) as Linux's tcp_check_probe_timer.
fn tcp_nagle_check(tp: &mut TcpCb, len: usize, inflight: usize) -> bool {
    // Urgent data goes at once, corked or not (tcp_nagle_test).
    if len >= tp.t_maxseg || tp.nagle_push || crate::netinet::tcp_urg::tcp_urg_mode(tp) {
        return false;
    }
    if tp.cork || tp.msg_more {
        return true;
    }
    let minshall = tp.snd_sml.gt(tp.snd_una) && tp.snd_sml.le(tp.snd_nxt);
    !tp.nodelay && inflight > 0 && minshall
}

/// Send one segment at SND.NXT: add the timestamp and SACK options,
/// advance SND.NXT/SND.MAX, time it for RTT (RFC 6298, never a
/// retransmission), start the retransmission timer, note that any ACK due
/// now rides on it, and queue it with the receive window.
fn tcp_send_segment(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: Segment) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let Segment {
        mut flags,
        mut options,
        off,
        len,
    } = seg;
    let seq = tp.snd_nxt;
    let mut ecn_field = tcp_ecn::ECN_NOT_ECT;
    if !flags.contains(TcpFlags::SYN) {
        let new_data = len > 0 && !seq.lt(tp.snd_max);
        let (f, field) = tcp_ecn::ecn_send(tp, new_data);
        flags |= f;
        ecn_field = field;
    }
    if tp.ts_ok && !flags.contains(TcpFlags::SYN) {
        options.timestamp = Some((tcp_ts(now, tp.ts_offset), tp.ts_recent));
    }
    let dsack = tp.rare.as_ref().is_some_and(|r| r.dsack.is_some());
    if tp.sack_ok && len == 0 && (!tp.reass.is_empty() || dsack) {
        let mut n = if tp.ts_ok { 3 } else { 4 };
        let mut first = 0;
        // A D-SACK block goes first, once (RFC 2883).
        if let Some((l, r)) = tp.rare.as_mut().and_then(|r| r.dsack.take()) {
            options.sack_blocks[0] = Some((l.0, r.0));
            first = 1;
            n -= 1;
        }
        tp.rare_release();
        for (i, (l, r)) in tp.reass.sack_blocks(n).enumerate() {
            options.sack_blocks[first + i] = Some((l.0, r.0));
        }
    }
    let fin = flags.contains(TcpFlags::FIN);
    let syn = flags.contains(TcpFlags::SYN);
    let ack = tp.rcv_nxt;
    let inp = tp.inp;
    // A data segment longer than the MSS (never a SYN: a Fast Open SYN's
    // data is sized before the peer's MSS is known) leaves by TSO.
    let tso = !syn && len > tp.t_maxseg && tcp_tso::tcp_tso_ok(cx, tp);
    let tp_maxseg = tp.t_maxseg;
    let seg_len = len + fin as usize + syn as usize;
    let is_rexmt = seq.lt(tp.snd_max);
    if syn && !is_rexmt && !flags.contains(TcpFlags::ACK) {
        tp.syn_stamp = now;
    }
    tp.snd_nxt = seq + seg_len;
    if tp.snd_nxt.gt(tp.snd_max) {
        tp.snd_max = tp.snd_nxt;
    }
    if len > 0
        && tp.ato_started
        && now.saturating_duration_since(tp.lrcvtime) < crate::netinet::tcp_var::TCP_DELACK
    {
        // Data sent soon after data arrived: interactive (pingpong).
        tp.pingpong = true;
    }
    if len > 0 {
        tcp_pacing_sent(tp, now, len);
        tp.lsndtime = now;
        if len < tp.t_maxseg && !is_rexmt && !syn {
            // Linux's tcp_minshall_update, for new data only (not a
            // retransmission, not a Fast Open SYN's data).
            tp.snd_sml = seq + len;
        }
    }
    if !syn {
        tcp_recovery_sent(tp, seq, seg_len, now, is_rexmt);
    }
    // Linux's tcp_cwnd_validate: remember the largest flight of this window
    // (new data only, as tcp_write_xmit).
    let flight = tp.snd_nxt.diff(tp.snd_una).max(0) as usize;
    let sack_rexmt = is_rexmt && tp.sack_ok;
    if seg_len > 0 && !sack_rexmt && (!tp.snd_una.lt(tp.max_flight_seq) || flight > tp.max_flight) {
        tp.max_flight = flight;
        tp.max_flight_seq = tp.snd_nxt;
    }
    if seg_len > 0 {
        if is_rexmt {
            Stats::bump(&cx.stats().tcp_retransmits);
        } else if tp.rtt_seq.is_none() {
            tp.rtt_seq = Some((seq, now));
        }
        if tp.t_timers.rexmt.is_none() {
            tp.t_timers.rexmt = Some(now + tp.rto_backed_off());
            tp.t_timers.persist = None;
        }
    }
    tp.ack_now = false;
    tp.delack_bytes = 0;
    tp.t_timers.delack = None;
    let urgent = crate::netinet::tcp_urg::tcp_urg_field(tp, seq);
    let flags = match urgent {
        Some(_) => flags | TcpFlags::URG,
        None => flags,
    };
    if len > 0 && !is_rexmt && !syn {
        crate::netinet::tcp_tstamp::tcp_tstamp_sent(so, seq, len, now);
    }
    let window = rcv_window(so, syn);
    let repr = TcpRepr {
        src_port: inp.lport,
        dst_port: inp.fport,
        seq: seq.0,
        ack: if flags.contains(TcpFlags::ACK) {
            ack.0
        } else {
            0
        },
        flags,
        window,
        urgent: urgent.unwrap_or(0),
        options,
        payload: &[],
    };
    let data = so.so_snd.ring().slices_at(off, len);
    let (ttl, tos) = inp.ttl_tos_to(inp.faddr, cx.sysctl().ipv6_hop_limit);
    let tos = tcp_ecn::with_ecn(tos, ecn_field);
    if tso {
        let (src, dst) = (inp.local(), inp.foreign());
        let oif = inp.bound_dev();
        tcp_tso::tcp_emit_tso(cx, src, dst, ttl, tos, &repr, data, tp_maxseg, oif);
        return;
    }
    let oif = inp.bound_dev();
    tcp_emit(cx, inp.local(), inp.foreign(), ttl, tos, &repr, data, oif);
}

/// Retransmit `[seq, seq + seg_len)` of the flight (SACK recovery, a tail
/// loss probe): its data from the send buffer, with FIN if our FIN is
/// within it, PSH if it reaches the buffer's end; SND.NXT is left where
/// it was.
pub(crate) fn tcp_output_rexmit(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seq: Seq,
    seg_len: usize,
) {
    let snd_cc = so.so_snd.ring().len();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let end = seq + seg_len;
    let fin = tp.fin_seq(snd_cc).filter(|f| seq.le(*f) && f.lt(end));
    let data_end = fin.unwrap_or(end);
    let off = seq.diff(tp.snd_buf_seq).max(0) as usize;
    let len = (data_end.diff(seq).max(0) as usize).min(snd_cc.saturating_sub(off));
    let mut flags = TcpFlags::ACK;
    if fin.is_some() {
        flags |= TcpFlags::FIN;
    }
    if len > 0 && (off + len == snd_cc || tp.push_mark_at(seq + len)) {
        flags |= TcpFlags::PSH;
    }
    if len == 0 && fin.is_none() {
        return;
    }
    let saved = tp.snd_nxt;
    tp.snd_nxt = seq;
    let seg = Segment {
        flags,
        options: TcpOptions::default(),
        off,
        len,
    };
    tcp_send_segment(cx, now, so, seg);
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.snd_nxt = saved;
    }
}

/// Retransmit what the scoreboard marks lost, in sequence order, while
/// the pipe is below the congestion window (RFC 6675 NextSeg rule 1,
/// Linux's tcp_xmit_retransmit_queue); each at most one MSS.
pub(crate) fn tcp_xmit_retransmit_queue(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    loop {
        let Some(tp) = so.so_pcb.tcp_mut() else {
            return;
        };
        if !tp.t_state.synchronized() || !sack_active(tp) || tp.rec.sb.lost_out == 0 {
            return;
        }
        if tcp_pipe(tp) >= tp.cwnd.max(tp.t_maxseg) || tcp_pacing_check(tp, now, false) {
            return;
        }
        let Some(s) = tp.rec.sb.next_lost() else {
            return;
        };
        let mss = tp.t_maxseg.max(1);
        if s.len() > mss {
            tp.rec.sb.clamp_record(s.start, mss);
        }
        let len = s.len().min(mss);
        tp.total_retrans += 1;
        tcp_output_rexmit(cx, now, so, s.start, len);
        let still = so
            .so_pcb
            .tcp()
            .and_then(|tp| tp.rec.sb.next_lost())
            .is_some_and(|n| n.start == s.start);
        if still {
            return; // nothing left the stack: do not spin
        }
    }
}
