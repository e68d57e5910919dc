//! SACK-based loss recovery as Linux does it (tcp_fastretrans_alert,
//! tcp_xmit_retransmit_queue, tcp_enter_loss, tcp_send_loss_probe), for
//! connections whose peer agreed to SACK: the scoreboard (`tcp_sack`) is
//! kept from every segment sent and every ACK; RACK (`tcp_rack`) marks
//! segments lost by time; recovery retransmits only what is marked lost,
//! within the congestion window less RFC 6675's pipe, the window set by
//! PRR (`tcp_prr`); an RTO marks everything not SACKed lost and keeps what
//! the peer holds; a tail loss probe (2 * SRTT) saves a lost tail from the
//! RTO. Connections without SACK keep NewReno (`tcp_cc`).

use std::time::Duration;

use super::tcp_prr::Prr;
use super::tcp_rate_var::RateFrom;
pub use super::tcp_recovery_var::{CaState, Recovery, Undo};
use super::tcp_sack::AckSummary;
use super::tcp_sack_send::{sack_active, tcp_pipe, tcp_schedule_loss_probe};
use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_output::{tcp_output, tcp_output_rexmit};
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::TcpCb;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::TcpRepr;

/// Segments SACKed before RACK stops waiting for reordering (Linux's
/// default tp->reordering, RFC 6675's DupThresh).
const DUPTHRESH: usize = 3;

/// The ACK step for a SACK connection (Linux's tcp_ack from the
/// scoreboard on, and tcp_fastretrans_alert), after the cumulative ACK
/// moved SND.UNA from `prior_una`: update the scoreboard from the ACK and
/// its SACK blocks, advance RACK, settle the tail loss probe, end
/// recovery at its high sequence, mark losses, enter recovery on the
/// first, and set the window by PRR while in it. Once nothing is in
/// flight the live recovery state goes back to the heap.
///
/// Every connection keeps the scoreboard for delivery-rate sampling
/// (tcp_rate); without SACK only the cumulative ACK is taken from it.
/// Returns what the rate sample needs: the most recently sent of the
/// segments delivered, and the bytes newly marked lost.
pub(crate) fn tcp_recovery_ack(
    now: Instant,
    tp: &mut TcpCb,
    seg: &TcpRepr,
    prior_una: Seq,
) -> (Option<RateFrom>, usize) {
    let out = recovery_ack(now, tp, seg, prior_una);
    tp.rec.park_if_idle();
    out
}

fn recovery_ack(
    now: Instant,
    tp: &mut TcpCb,
    seg: &TcpRepr,
    prior_una: Seq,
) -> (Option<RateFrom>, usize) {
    if tp.rec.sb.is_empty() && tp.rec.state == CaState::Open {
        return (None, 0);
    }
    if !tp.sack_ok {
        let mut sum = AckSummary::new(now, None, None);
        tp.rec.sb.ack(tp.snd_una, &mut sum);
        return (sum.rate, 0);
    }
    let snd_una = tp.snd_una;
    let acked = snd_una.diff(prior_una).max(0) as usize;
    let prior_sacked = tp.rec.sb.sacked_out;
    let mut sum = AckSummary::new(now, tp.rec.rack.min_rtt(), tp.rec.sb.high_sacked);
    let blocks = seg.options.sack_blocks;
    let mut dsack = false;
    // In sequence order, as Linux sorts them: blocks of one ACK are no
    // evidence of reordering among themselves.
    let mut valid: [Option<(Seq, Seq)>; 4] = [None; 4];
    for (i, b) in blocks.iter().enumerate() {
        let Some((l, r)) = *b else { continue };
        let (l, r) = (Seq(l), Seq(r));
        if i == 0 {
            // RFC 2883: a first block below the ACK, or inside the second
            // block, reports a duplicate.
            let inside_second = blocks[1].is_some_and(|(l2, r2)| Seq(l2).le(l) && r.le(Seq(r2)));
            if r.le(Seq(seg.ack)) || inside_second {
                dsack = true;
                tcp_dsack_undo_count(tp, l, r);
                continue;
            }
        }
        if l.lt(r) && r.gt(snd_una) && r.le(tp.snd_max) {
            valid[i] = Some((l.max(snd_una), r));
        }
    }
    valid.sort_by_key(|b| b.map(|(l, _)| l.diff(snd_una)));
    for (l, r) in valid.into_iter().flatten() {
        tp.rec.sb.sack(l, r, tp.t_maxseg, &mut sum);
    }
    // The cumulative ACK after the SACK blocks, as Linux's tcp_ack.
    tp.rec.sb.ack(snd_una, &mut sum);
    let delivered = (acked + tp.rec.sb.sacked_out).saturating_sub(prior_sacked);
    if sum.reordered {
        tp.rec.rack.reord = true;
        tp.rec.rack.note_reordering(sum.reorder_dist, tp.t_maxseg);
    }
    tp.rec.rack.apply(&sum);
    tcp_process_tlp_ack(tp, seg, dsack, acked > 0 || sum.newly_sacked > 0);
    if dsack && tp.rec.state == CaState::Recovery {
        tcp_try_undo_dsack(tp);
    }
    if tp.rec.state != CaState::Open && !snd_una.lt(tp.rec.high_seq) {
        if tp.rec.state == CaState::Recovery {
            tp.cwnd = tp.ssthresh.max(tp.t_maxseg); // tcp_end_cwnd_reduction
        }
        tp.rec.state = CaState::Open;
        tp.rec.undo = None;
    }
    let newly_lost = if sum.latest.is_some() {
        tcp_rack_mark_lost(tp, now)
    } else {
        0
    };
    if tp.rec.state == CaState::Open && tp.rec.sb.lost_out > 0 {
        tcp_enter_recovery(tp);
    }
    if tp.rec.state == CaState::Recovery {
        let pipe = tcp_pipe(tp);
        let ssrb = acked > 0 && newly_lost == 0;
        let mss = tp.t_maxseg;
        if let Some(cwnd) = tp
            .rec
            .prr
            .cwnd_on_ack(delivered, pipe, tp.ssthresh, mss, ssrb)
        {
            tp.cwnd = cwnd;
        }
    }
    if tp.snd_una == tp.snd_max {
        tp.t_timers.tlp = None;
        tp.t_timers.reo = None;
    } else if acked > 0 || sum.newly_sacked > 0 {
        tcp_schedule_loss_probe(tp, now);
    }
    #[cfg(debug_assertions)]
    {
        tp.rec.sb.check();
        if sack_active(tp) {
            let last = tp.rec.sb.last().map(|s| s.end);
            debug_assert_eq!(last, Some(tp.snd_max), "the scoreboard ends at snd_max");
        }
    }
    (sum.rate, newly_lost)
}

/// RACK's loss marking (Linux's tcp_rack_mark_lost): mark what was sent
/// before the latest delivered segment and is overdue; arm the reorder
/// timer for what is not overdue yet.
fn tcp_rack_mark_lost(tp: &mut TcpCb, now: Instant) -> usize {
    if tp.rec.rack.xmit.is_none() {
        return 0;
    }
    let srtt = tp.srtt().unwrap_or(tp.rec.rack.rtt());
    let dupthresh = tp.rec.sb.sacked_out >= DUPTHRESH * tp.t_maxseg.max(1);
    let reo = tp
        .rec
        .rack
        .reo_wnd(tp.rec.state != CaState::Open, dupthresh, srtt);
    let window = tp.rec.rack.rtt() + reo;
    let order = tp.rec.rack.order;
    let (lost, wait) = tp.rec.sb.rack_detect(order, window, now);
    // Linux adds TCP_TIMEOUT_MIN to the reorder timeout.
    tp.t_timers.reo = wait.map(|w| now + w + Duration::from_millis(2));
    lost
}

/// Fast recovery begins (Linux's tcp_enter_recovery): ssthresh from the
/// congestion control, PRR from the current window, until SND.MAX is
/// acknowledged.
fn tcp_enter_recovery(tp: &mut TcpCb) {
    // Linux's tcp_current_ssthresh in Open: at least 3/4 of the window.
    tp.rec.undo = Some(Undo {
        marker: tp.snd_una,
        retrans: 0,
        prior_cwnd: tp.cwnd,
        prior_ssthresh: tp.ssthresh.max(tp.cwnd / 2 + tp.cwnd / 4),
    });
    tp.ssthresh = crate::netinet::tcp_cc::tcp_cc_ssthresh(tp);
    tp.rec.prr = Prr::start(tp.cwnd);
    tp.rec.high_seq = tp.snd_max;
    tp.rec.state = CaState::Recovery;
    tp.rec.recoveries += 1;
    tp.rtt_seq = None;
    tp.t_timers.tlp = None;
}

/// A D-SACK for `[l, r)`: retransmissions of the current episode the
/// peer already had (Linux's tcp_check_dsack) no longer stand in the way
/// of an undo.
fn tcp_dsack_undo_count(tp: &mut TcpCb, l: Seq, r: Seq) {
    let mss = tp.t_maxseg.max(1);
    if let Some(u) = tp.rec.undo.as_mut() {
        if u.marker.le(l) && l.lt(r) {
            let segs = (r - l).div_ceil(mss) as u32;
            u.retrans = u.retrans.saturating_sub(segs);
        }
    }
}

/// Every retransmission of this fast recovery was needless (Linux's
/// tcp_try_undo_dsack): restore the window and ssthresh from before it,
/// back to Open; the path reorders, so RACK keeps its reordering window.
fn tcp_try_undo_dsack(tp: &mut TcpCb) {
    let Some(u) = tp.rec.undo else { return };
    if u.retrans > 0 {
        return;
    }
    // BBR keeps its window (bbr_undo_cwnd) and starts its full-pipe and
    // long-term estimates over.
    let delivered = tp.delivered;
    match tp.cc.bbr_mut() {
        Some(b) => b.on_undo(delivered),
        None => tp.cwnd = tp.cwnd.max(u.prior_cwnd),
    }
    tp.ssthresh = tp.ssthresh.max(u.prior_ssthresh);
    tp.rec.undo = None;
    tp.rec.state = CaState::Open;
    tp.rec.rack.reord = true;
}

/// Settle the tail loss probe on an ACK (Linux's tcp_process_tlp_ack). A
/// probe of new data needs nothing; one whose retransmission the peer
/// reports as a duplicate was not needed; one that repaired a loss (the
/// ACK covers it) reduces the window once, as Linux's CWR; a pure
/// duplicate ACK means both copies arrived.
fn tcp_process_tlp_ack(tp: &mut TcpCb, seg: &TcpRepr, dsack: bool, progress: bool) {
    let Some(high) = tp.rec.tlp_high_seq else {
        return;
    };
    let ack = Seq(seg.ack);
    if ack.lt(high) {
        return;
    }
    if !tp.rec.tlp_retrans || dsack {
        tp.rec.tlp_high_seq = None;
    } else if ack.gt(high) {
        tp.rec.tlp_high_seq = None;
        if tp.rec.state == CaState::Open {
            let mss = tp.t_maxseg.max(1);
            let w = (tp.cwnd / mss) as u32;
            tp.ssthresh = tp.cc.ssthresh(w) as usize * mss;
            tp.cwnd = tp.ssthresh.max(mss);
        }
    } else if !progress {
        tp.rec.tlp_high_seq = None;
    }
}

/// An RTO on a SACK connection (Linux's tcp_enter_loss): everything not
/// SACKed is lost, no retransmission counts as in flight, and the Loss
/// state lasts until SND.MAX is acknowledged; SACKed data is not sent
/// again. Returns false (the caller goes back to SND.UNA) when the
/// scoreboard does not cover the flight.
pub(crate) fn tcp_enter_loss(tp: &mut TcpCb) -> bool {
    if !sack_active(tp) {
        return false;
    }
    tp.rec.sb.mark_all_lost();
    tp.rec.state = CaState::Loss;
    tp.rec.undo = None; // no undo after an RTO (no F-RTO, no Eifel)
    tp.rec.high_seq = tp.snd_max;
    tp.rec.tlp_high_seq = None;
    tp.t_timers.tlp = None;
    tp.t_timers.reo = None;
    true
}

/// The tail loss probe and RACK's reorder timer (Linux's
/// tcp_send_loss_probe and tcp_rack_reo_timeout).
pub(crate) fn tcp_timer_rack(cx: &impl InetCx, so: &mut Socket, now: Instant) {
    let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if due(tp.t_timers.reo) {
        tp.t_timers.reo = None;
        if sack_active(tp) && tcp_rack_mark_lost(tp, now) > 0 {
            if tp.rec.state == CaState::Open {
                tcp_enter_recovery(tp);
            }
            if tp.rec.state == CaState::Recovery {
                let pipe = tcp_pipe(tp);
                let mss = tp.t_maxseg;
                if let Some(cwnd) = tp.rec.prr.cwnd_on_ack(mss, pipe, tp.ssthresh, mss, false) {
                    tp.cwnd = cwnd;
                }
            }
            tcp_output(cx, now, so);
        }
    }
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if due(tp.t_timers.tlp) {
        tp.t_timers.tlp = None;
        tcp_send_loss_probe(cx, now, so);
    }
}

/// RFC 8985 §7.3: send one new segment if the window allows, else
/// retransmit the last one sent (at most an MSS), regardless of cwnd; at
/// most one probe until it is acknowledged; the RTO is re-armed.
fn tcp_send_loss_probe(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    let snd_cc = so.so_snd.ring().len();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if !sack_active(tp)
        || tp.rec.state != CaState::Open
        || tp.rec.tlp_high_seq.is_some()
        || !tp.t_state.synchronized()
    {
        return;
    }
    let prior_max = tp.snd_max;
    let off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
    let wnd_room = (tp.snd_wnd as usize).saturating_sub(tp.flight());
    if snd_cc > off && wnd_room > 0 {
        let saved = (tp.cwnd, tp.nagle_push);
        tp.cwnd = tcp_pipe(tp) + tp.t_maxseg;
        tp.nagle_push = true;
        tcp_output(cx, now, so);
        let Some(tp) = so.so_pcb.tcp_mut() else {
            return;
        };
        (tp.cwnd, tp.nagle_push) = saved;
        tp.rec.tlp_retrans = false;
    }
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if tp.snd_max == prior_max {
        let Some(last) = tp.rec.sb.last().copied() else {
            return;
        };
        if last.sacked {
            return;
        }
        let len = last.len().min(tp.t_maxseg.max(1));
        let seq = Seq(last.end.0.wrapping_sub(len as u32));
        tp.rec.sb.clamp_record(seq, len);
        tp.total_retrans += 1;
        tcp_output_rexmit(cx, now, so, seq, len);
        let Some(tp) = so.so_pcb.tcp_mut() else {
            return;
        };
        tp.rec.tlp_retrans = true;
    }
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.rec.tlp_high_seq = Some(tp.snd_max);
    Stats::bump(&cx.stats().tcp_loss_probes);
    tp.t_timers.rexmt = Some(now + tp.rto_backed_off());
}
