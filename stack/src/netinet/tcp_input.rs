//! TCP input (FreeBSD's tcp_input.c, RFC 9293 §3.10.7): demultiplex a
//! segment to its connection or listener, then run the state machine:
//! acceptability, RST (RFC 5961), SYN, ACK (RTT, congestion control,
//! window), data with out-of-order reassembly, FIN.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::errno::Errno;
use crate::host::Stack;
use crate::kern::socket::{SoState, Socket};
use crate::netinet::in_pcb::INP_TIMEWAIT;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_reset_for, tcp_respond, tcp_ts};
use crate::netinet::tcp_timer::tcp_timer_sync;
use crate::netinet::tcp_var::{TcpCb, TcpState, TCP_DEFAULT_MSS, TCP_TIMEWAIT_LEN};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{Ipv4Repr, TcpFlags, TcpRepr, WireError};

pub(crate) fn tcp_input(stack: &Stack, now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
    let seg = match TcpRepr::parse(payload, ip.src_addr, ip.dst_addr) {
        Ok(s) => s,
        Err(WireError::BadChecksum) => {
            Stats::bump(&stack.stats.drop_checksum);
            return;
        }
        Err(_) => {
            Stats::bump(&stack.stats.drop_malformed);
            return;
        }
    };
    Stats::bump(&stack.stats.tcp_segs_in);
    if crate::netinet::ip::is_broadcast(stack, ip.dst_addr)
        || seg.src_port == 0
        || seg.dst_port == 0
    {
        Stats::bump(&stack.stats.drop_malformed);
        return;
    }
    let local = SocketAddrV4::new(ip.dst_addr, seg.dst_port);
    let remote = SocketAddrV4::new(ip.src_addr, seg.src_port);

    let conn = stack
        .pcbinfo
        .read()
        .tcp_conns
        .get(&(local, remote))
        .copied();
    if let Some(h) = conn {
        if let Ok(sref) = stack.lookup(h) {
            if let Some(mut so) = Stack::lock_live(&sref) {
                let tp = so.so_pcb.tcp();
                if tp.is_some_and(|tp| time_wait_reusable(tp, &seg)) {
                    // A new incarnation of the connection: end TIME_WAIT and
                    // let the listener take the SYN (as Linux's TCP_TW_SYN).
                    tcp_close(stack, &mut so);
                } else if tp.is_some_and(|tp| tp.t_state != TcpState::Closed) {
                    tcp_input_conn(stack, now, &mut so, &seg);
                    tcp_timer_sync(stack, &mut so);
                    return;
                }
            }
        }
    }
    let listener = stack.pcbinfo.read().tcp_listener(local);
    if let Some(h) = listener {
        if let Ok(lref) = stack.lookup(h) {
            if let Some(mut l) = Stack::lock_live(&lref) {
                if l.is_listening() {
                    crate::netinet::tcp_syncache::syncache_input(
                        stack, now, &mut l, local, remote, &seg,
                    );
                    tcp_timer_sync(stack, &mut l);
                    return;
                }
            }
        }
    }
    Stats::bump(&stack.stats.drop_no_socket);
    tcp_reset_for(stack, local, remote, &seg);
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

/// RFC 9293: an unacceptable ACK on a half-open connection gets
/// <SEQ=SEG.ACK><CTL=RST>.
fn rst_for_bad_ack(stack: &Stack, tp: &TcpCb, ackno: Seq) {
    tcp_respond(
        stack,
        tp.inp.local(),
        tp.inp.foreign(),
        ackno,
        None,
        TcpFlags::RST,
    );
}

/// Apply the peer's SYN options to `tp` (both SYN and SYN-ACK).
pub(crate) fn tcp_apply_syn_options(stack: &Stack, tp: &mut TcpCb, seg: &TcpRepr) {
    let sys = &stack.sysctl();
    let peer_mss = seg.options.mss.unwrap_or(TCP_DEFAULT_MSS);
    tp.wscale_ok = sys.tcp_window_scaling && seg.options.window_scale.is_some();
    if tp.wscale_ok {
        tp.snd_wscale = seg.options.window_scale.unwrap_or(0).min(14);
    } else {
        tp.snd_wscale = 0;
        tp.rcv_wscale = 0;
    }
    tp.sack_ok = sys.tcp_sack && seg.options.sack_permitted;
    tp.ts_ok = sys.tcp_timestamps && seg.options.timestamp.is_some();
    if let Some((tsval, _)) = seg.options.timestamp {
        tp.ts_recent = tsval;
    }
    tcp_set_maxseg(tp, peer_mss, stack.config.mtu);
}

/// t_maxseg: the peer's MSS, our MTU, the user's TCP_MAXSEG, less options.
pub(crate) fn tcp_set_maxseg(tp: &mut TcpCb, peer_mss: u16, mtu: usize) {
    let mut mss = (peer_mss as usize).min(mtu.saturating_sub(40)).max(64);
    if tp.user_mss != 0 {
        mss = mss.min(tp.user_mss as usize);
    }
    if tp.ts_ok {
        mss -= 12;
    }
    tp.t_maxseg = mss;
    tp.cwnd = (10 * mss).max(tp.cwnd.min(10 * mss)); // RFC 6928 initial window, as Linux
}

/// The peer's window from a segment (scaled unless SYN).
fn seg_window(tp: &TcpCb, seg: &TcpRepr) -> u32 {
    if seg.flags.contains(TcpFlags::SYN) {
        seg.window as u32
    } else {
        (seg.window as u32) << tp.snd_wscale
    }
}

/// Send-buffer autotuning (Linux's tcp_sndbuf_expand): unless the
/// application fixed SO_SNDBUF, the buffer grows with the congestion window
/// (twice the window, at about twice a segment's size per segment) up to
/// tcp_wmem[2], so a fast path is not held back by the 16 KiB default.
pub(crate) fn tcp_sndbuf_expand(stack: &Stack, so: &mut Socket) {
    if so.so_snd.user_locked {
        return;
    }
    let Some(tp) = so.so_pcb.tcp() else { return };
    let wmem = stack.sysctl().tcp_wmem;
    let want = (tp.cwnd.max(10 * tp.t_maxseg) * 4).clamp(wmem[1], wmem[2].max(wmem[1]));
    if want > so.so_snd.sb_hiwat {
        so.so_snd.set_hiwat(want);
    }
}

fn tcp_established(stack: &Stack, so: &mut Socket) {
    so.soisconnected();
    tcp_sndbuf_expand(stack, so);
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.t_state = TcpState::Established;
        tp.t_timers.rexmt = None;
        tp.rxtshift = 0;
    }
    stack.sowakeup(so.handle);
}

fn enter_time_wait(now: Instant, tp: &mut TcpCb) {
    tp.t_state = TcpState::TimeWait;
    tp.inp.inp_flags |= INP_TIMEWAIT;
    tp.t_timers.rexmt = None;
    tp.t_timers.persist = None;
    tp.t_timers.keep = None;
    tp.t_timers.delack = None;
    tp.t_timers.twomsl = Some(now + TCP_TIMEWAIT_LEN);
}

/// RFC 9293 §3.10.7 for one connection (its socket locked).
pub(crate) fn tcp_input_conn(stack: &Stack, now: Instant, so: &mut Socket, seg: &TcpRepr) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let flags = seg.flags;
    let seq = Seq(seg.seq);
    let ackno = Seq(seg.ack);
    if so.so_options.keepalive && tp.t_state.synchronized() {
        tp.keep_probes = 0;
        tp.t_timers.keep = Some(now + tp.keepidle);
    }

    if tp.t_state == TcpState::SynSent {
        if flags.contains(TcpFlags::ACK) && (ackno.le(tp.iss) || ackno.gt(tp.snd_max)) {
            if !flags.contains(TcpFlags::RST) {
                rst_for_bad_ack(stack, tp, ackno);
            }
            return;
        }
        if flags.contains(TcpFlags::RST) {
            if flags.contains(TcpFlags::ACK) {
                tcp_drop(stack, so, Some(Errno::ECONNREFUSED));
            }
            return;
        }
        if !flags.contains(TcpFlags::SYN) {
            return;
        }
        tp.irs = seq;
        tp.rcv_nxt = seq + 1;
        tp.rcv_adv = tp.rcv_nxt;
        tcp_apply_syn_options(stack, tp, seg);
        tp.snd_wnd = seg.window as u32;
        tp.max_sndwnd = tp.snd_wnd;
        tp.snd_wl1 = seq;
        tp.snd_wl2 = ackno;
        if flags.contains(TcpFlags::ACK) {
            tp.snd_una = ackno;
            if let Some((_, sent)) = tp.rtt_seq.take() {
                if tp.rxtshift == 0 {
                    tp.rtt_update(now - sent);
                }
            }
            tp.ack_now = true;
            tcp_established(stack, so);
        } else {
            // Simultaneous open: SYN-RECEIVED, resend our SYN with an ACK.
            tp.t_state = TcpState::SynReceived;
            tp.snd_nxt = tp.iss;
        }
        tcp_output(stack, now, so);
        return;
    }

    // Synchronized states and SYN-RECEIVED.
    let rcv_wnd = so.so_rcv.ring().free();
    let tp = so.so_pcb.tcp_mut().expect("tcp");
    // PAWS (RFC 7323 §5.3): a segment whose timestamp is older than the
    // last one accepted is an old duplicate: ACK it and drop it.
    if tp.ts_ok && tp.t_state.synchronized() && !flags.contains(TcpFlags::RST) {
        if let Some((tsval, _)) = seg.options.timestamp {
            if (tsval.wrapping_sub(tp.ts_recent) as i32) < 0 {
                Stats::bump(&stack.stats.drop_paws);
                tp.ack_now = true;
                tcp_output(stack, now, so);
                return;
            }
        }
    }
    let seg_len = seg.segment_len();
    let acceptable = if seg_len == 0 {
        if rcv_wnd == 0 {
            seq == tp.rcv_nxt
        } else {
            tp.rcv_nxt.le(seq) && seq.lt(tp.rcv_nxt + rcv_wnd)
        }
    } else if rcv_wnd == 0 {
        false
    } else {
        let last = seq + (seg_len - 1);
        (tp.rcv_nxt.le(seq) && seq.lt(tp.rcv_nxt + rcv_wnd))
            || (tp.rcv_nxt.le(last) && last.lt(tp.rcv_nxt + rcv_wnd))
    };
    // A zero-window probe, or a retransmission wholly before rcv_nxt, is
    // answered with an ACK; a RST that is not acceptable is dropped.
    if !acceptable {
        if !flags.contains(TcpFlags::RST) {
            Stats::bump(&stack.stats.drop_out_of_window);
            tp.ack_now = true;
            tcp_output(stack, now, so);
        }
        return;
    }

    if flags.contains(TcpFlags::RST) {
        // RFC 5961 §3.2: only an exact match resets; else a challenge ACK.
        if seq != tp.rcv_nxt {
            tp.ack_now = true;
            tcp_output(stack, now, so);
            return;
        }
        // Linux's tcp_reset: CLOSE_WAIT reports EPIPE, others ECONNRESET.
        let err = match tp.t_state {
            TcpState::SynReceived => Some(Errno::ECONNREFUSED),
            TcpState::CloseWait => Some(Errno::EPIPE),
            TcpState::TimeWait | TcpState::Closed => None,
            _ => Some(Errno::ECONNRESET),
        };
        if let Some(e) = err {
            so.so_error = Some(e);
        }
        // The peer reset: no RST back.
        if let Some(tp) = so.so_pcb.tcp_mut() {
            tp.rst_sent = true;
        }
        tcp_close(stack, so);
        return;
    }

    if flags.contains(TcpFlags::SYN) {
        // RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK.
        tp.ack_now = true;
        tcp_output(stack, now, so);
        return;
    }

    if !flags.contains(TcpFlags::ACK) {
        return;
    }

    // Timestamps: remember the peer's clock (RFC 7323 §4.3).
    if tp.ts_ok {
        if let Some((tsval, _)) = seg.options.timestamp {
            if seq.le(tp.rcv_nxt) {
                tp.ts_recent = tsval;
            }
        }
    }

    if tp.t_state == TcpState::SynReceived {
        if tp.snd_una.lt(ackno) && ackno.le(tp.snd_max) {
            tp.snd_wnd = seg_window(tp, seg);
            tp.snd_wl1 = seq;
            tp.snd_wl2 = ackno;
            tcp_established(stack, so);
        } else {
            rst_for_bad_ack(stack, tp, ackno);
            return;
        }
    }

    let snd_cc = so.so_snd.ring().len();
    let tp = so.so_pcb.tcp_mut().expect("tcp");
    if ackno.gt(tp.snd_max) {
        tp.ack_now = true;
        tcp_output(stack, now, so);
        return;
    }
    let mut ourfinisacked = false;
    if tp.snd_una.lt(ackno) {
        let acked = ackno - tp.snd_una;
        // Data bytes acknowledged: those between snd_buf_seq and ackno.
        let data_acked = (ackno.diff(tp.snd_buf_seq).max(0) as usize).min(snd_cc);
        if let Some(fin) = tp.fin_seq(snd_cc) {
            ourfinisacked = ackno.gt(fin);
        }
        // RTT sample: timestamps, else Karn's timed segment.
        let mut sample = None;
        if tp.ts_ok {
            if let Some((_, tsecr)) = seg.options.timestamp {
                if tsecr != 0 {
                    let d = tcp_ts(now, tp.ts_offset).wrapping_sub(tsecr);
                    if d < 60_000 {
                        sample = Some(Duration::from_millis(d.max(1) as u64));
                    }
                }
            }
        }
        if let Some((rs, sent)) = tp.rtt_seq {
            if ackno.gt(rs) {
                if sample.is_none() && tp.rxtshift == 0 {
                    sample = Some(now - sent);
                }
                tp.rtt_seq = None;
            }
        }
        if let Some(rtt) = sample {
            tp.rtt_update(rtt);
        }
        tp.rxtshift = 0;
        // Congestion control (RFC 5681, NewReno RFC 6582).
        let mss = tp.t_maxseg;
        let mut partial_ack = false;
        match tp.recover {
            Some(rec) if ackno.lt(rec) => {
                partial_ack = true;
                tp.cwnd = tp.cwnd.saturating_sub(acked).max(mss) + mss;
            }
            Some(_) => {
                tp.recover = None;
                tp.cwnd = tp.ssthresh.max(2 * mss);
            }
            None => {
                if tp.cwnd < tp.ssthresh {
                    tp.cwnd += acked.min(mss);
                } else {
                    tp.cwnd += (mss * mss / tp.cwnd.max(1)).max(1);
                }
            }
        }
        tp.cwnd = tp.cwnd.min(1 << 30);
        tp.dupacks = 0;
        tp.snd_una = ackno;
        if tp.snd_nxt.lt(tp.snd_una) {
            tp.snd_nxt = tp.snd_una;
        }
        tp.snd_buf_seq += data_acked;
        tp.t_timers.rexmt = if tp.snd_una == tp.snd_max {
            None
        } else {
            Some(now + tp.rto)
        };
        tp.persist_shift = 0;
        so.so_snd.ring_mut().consume(data_acked);
        tcp_sndbuf_expand(stack, so);
        stack.sowakeup(so.handle);
        if partial_ack {
            tcp_retransmit_one(stack, now, so);
        }
    } else if ackno == tp.snd_una
        && seg.payload.is_empty()
        && !flags.contains(TcpFlags::FIN)
        && seg_window(tp, seg) == tp.snd_wnd
        && tp.snd_max.gt(tp.snd_una)
    {
        tp.dupacks += 1;
        let mss = tp.t_maxseg;
        if tp.dupacks == 3 && tp.recover.is_none() {
            tp.ssthresh = (tp.flight() / 2).max(2 * mss);
            tp.recover = Some(tp.snd_max);
            tp.rtt_seq = None;
            tcp_retransmit_one(stack, now, so);
            let tp = so.so_pcb.tcp_mut().expect("tcp");
            tp.cwnd = tp.ssthresh + 3 * mss;
        } else if tp.dupacks > 3 {
            tp.cwnd += mss;
        }
    }

    // Window update (RFC 9293 SND.WL1/WL2 rule).
    let tp = so.so_pcb.tcp_mut().expect("tcp");
    if tp.snd_wl1.lt(seq) || (tp.snd_wl1 == seq && tp.snd_wl2.le(ackno)) {
        tp.snd_wnd = seg_window(tp, seg);
        tp.snd_wl1 = seq;
        tp.snd_wl2 = ackno;
        tp.max_sndwnd = tp.max_sndwnd.max(tp.snd_wnd);
        if tp.snd_wnd > 0 {
            tp.t_timers.persist = None;
            tp.persist_shift = 0;
        }
    }

    // State changes driven by the ACK of our FIN.
    match tp.t_state {
        TcpState::FinWait1 if ourfinisacked => {
            tp.t_state = TcpState::FinWait2;
            tp.t_timers.rexmt = None;
            if so.so_state.has(SoState::NOFDREF) {
                let t = tp.linger2.unwrap_or(stack.sysctl().tcp_fin_timeout);
                tp.t_timers.twomsl = Some(now + t);
            }
        }
        TcpState::Closing if ourfinisacked => enter_time_wait(now, tp),
        TcpState::LastAck if ourfinisacked => {
            tcp_close(stack, so);
            return;
        }
        TcpState::TimeWait => {
            if flags.contains(TcpFlags::FIN) {
                tp.t_timers.twomsl = Some(now + TCP_TIMEWAIT_LEN);
                tp.ack_now = true;
                tcp_output(stack, now, so);
            }
            return;
        }
        _ => {}
    }

    // Segment text.
    tcp_receive_data(stack, now, so, seg);
    if so
        .so_pcb
        .tcp()
        .is_some_and(|tp| tp.t_state != TcpState::Closed)
    {
        tcp_output(stack, now, so);
    }
}

/// Retransmit the segment at snd_una (fast retransmit, partial ACK):
/// one MSS from snd_una, then the send state is restored.
fn tcp_retransmit_one(stack: &Stack, now: Instant, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.total_retrans += 1;
    let (saved_nxt, saved_cwnd, saved_wnd) = (tp.snd_nxt, tp.cwnd, tp.snd_wnd);
    tp.snd_nxt = tp.snd_una;
    tp.cwnd = tp.t_maxseg;
    tp.snd_wnd = tp.snd_wnd.max(tp.t_maxseg as u32);
    tcp_output(stack, now, so);
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.snd_wnd = saved_wnd;
    tp.cwnd = saved_cwnd;
    tp.snd_nxt = tp.snd_nxt.max(saved_nxt);
}

/// Queue in-order data, stash out-of-order data, process FIN.
fn tcp_receive_data(stack: &Stack, now: Instant, so: &mut Socket, seg: &TcpRepr) {
    let handle = so.handle;
    let nofdref = so.so_state.has(SoState::NOFDREF);
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let mut seq = Seq(seg.seq);
    let mut data = seg.payload;
    let fin_seq = seq + data.len();
    if !tp.t_state.can_receive() {
        data = &[];
    }
    if !data.is_empty() && nofdref {
        // Data for a socket nobody can read any more: reset (as Linux/BSD).
        tcp_drop(stack, so, None);
        return;
    }
    if !data.is_empty() {
        if seq.lt(tp.rcv_nxt) {
            let skip = (tp.rcv_nxt - seq).min(data.len());
            data = &data[skip..];
            seq = tp.rcv_nxt;
        }
        let ring = so.so_rcv.ring_mut();
        let tp = so.so_pcb.tcp_mut().expect("tcp");
        let rel = seq - tp.rcv_nxt;
        let room = ring.free().saturating_sub(rel);
        let data = &data[..data.len().min(room)];
        if data.is_empty() {
            tp.ack_now = true;
        } else if rel == 0 {
            let n = ring.push(data);
            tp.rcv_nxt += n;
            let had_holes = !tp.reass.is_empty();
            while let Some(end) = tp.reass.take_contiguous(tp.rcv_nxt) {
                let extra = end - tp.rcv_nxt;
                ring.commit(extra);
                tp.rcv_nxt = end;
            }
            if had_holes {
                tp.ack_now = true;
            } else {
                tp.delack_bytes += data.len() as u32;
                tp.lrcvtime = now;
                if !tp.ato_started {
                    // The first data: quick-ACK mode (tcp_incr_quickack).
                    tp.ato_started = true;
                    tp.quickacks = 16;
                }
                // Linux's __tcp_ack_snd_check: ACK at once in quick-ACK
                // mode or after more than one full segment; otherwise
                // delay (a reply piggybacks it).
                let quick = tp.quickacks > 0 && !tp.pingpong;
                if quick {
                    tp.quickacks -= 1;
                }
                if quick || tp.delack_bytes as usize > tp.t_maxseg {
                    tp.ack_now = true;
                } else if tp.t_timers.delack.is_none() {
                    tp.t_timers.delack = Some(now + crate::netinet::tcp_var::TCP_DELACK);
                }
            }
            stack.sowakeup(handle);
        } else {
            let off = ring.len() + rel;
            let n = ring.write_at(off, data);
            if n > 0 && !tp.reass.insert(seq, seq + n) {
                Stats::bump(&stack.stats.drop_out_of_window);
            }
            tp.ack_now = true;
        }
    }
    let tp = so.so_pcb.tcp_mut().expect("tcp");
    if seg.flags.contains(TcpFlags::FIN) {
        if fin_seq == tp.rcv_nxt {
            tp.rcv_fin_at = None;
            tcp_process_fin(stack, now, so);
        } else if tp.rcv_nxt.lt(fin_seq) {
            tp.rcv_fin_at = Some(fin_seq);
            tp.ack_now = true;
        } else {
            tp.ack_now = true; // a retransmitted FIN we already have
        }
    } else if tp.rcv_fin_at == Some(tp.rcv_nxt) {
        tp.rcv_fin_at = None;
        tcp_process_fin(stack, now, so);
    }
}

fn tcp_process_fin(stack: &Stack, now: Instant, so: &mut Socket) {
    let handle = so.handle;
    let fin_new = so.so_pcb.tcp().is_some_and(|tp| {
        matches!(
            tp.t_state,
            TcpState::SynReceived | TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    });
    if fin_new {
        so.sb_state.fin_received = true;
        so.socantrcvmore();
    }
    let snd_cc = so.so_snd.ring().len();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if fin_new {
        tp.rcv_nxt += 1;
    }
    tp.ack_now = true;
    match tp.t_state {
        TcpState::SynReceived | TcpState::Established => tp.t_state = TcpState::CloseWait,
        TcpState::FinWait1 => {
            let fin_acked = tp.fin_seq(snd_cc).is_some_and(|f| tp.snd_una.gt(f));
            if fin_acked {
                enter_time_wait(now, tp);
            } else {
                tp.t_state = TcpState::Closing;
            }
        }
        TcpState::FinWait2 => enter_time_wait(now, tp),
        TcpState::TimeWait => tp.t_timers.twomsl = Some(now + TCP_TIMEWAIT_LEN),
        _ => {}
    }
    stack.sowakeup(handle);
}
