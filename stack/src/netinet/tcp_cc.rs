//! Congestion control and round-trip time on the ACK path: RTT samples
//! (RFC 6298 with Karn's rule, RFC 7323 timestamps), slow start as Linux,
//! congestion avoidance and ssthresh by the socket's algorithm
//! (`tcp_cubic`: CUBIC or Reno), RFC 6582 fast recovery with partial
//! ACKs, and the one-segment retransmission fast retransmit and partial
//! ACKs use; BBR's hooks (tcp_bbr.rs: the window and pacing rate from
//! each ACK's rate sample, in place of all of that). `tcp_input`'s ACK
//! step calls these; they change only the TcpCb's congestion state and
//! send through `tcp_output`.

use std::time::Duration;

use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_bbr::{Bbr, BbrAck, BbrInit, CaPhase};
use crate::netinet::tcp_cubic::CcAlgo;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_rate::{tcp_packets_in_flight, RateSample};
use crate::netinet::tcp_recovery_var::CaState;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::tcp_ts;
use crate::netinet::tcp_var::TcpCb;
use crate::time::Instant;
use crate::wire::TcpRepr;

/// An RTT sample from an ACK of new data: the echoed timestamp (RFC 7323
/// §4.1), else the timed segment if it is covered and was not
/// retransmitted (Karn's rule, RFC 6298 §3). The timed segment is
/// forgotten once covered either way.
pub(crate) fn tcp_rtt_sample(tp: &mut TcpCb, now: Instant, seg: &TcpRepr) -> Option<Duration> {
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
        if Seq(seg.ack).gt(rs) {
            if sample.is_none() && tp.rxtshift == 0 {
                sample = Some(now - sent);
            }
            tp.rtt_seq = None;
        }
    }
    sample
}

/// Congestion control on an ACK of `acked` new bytes (RFC 5681 slow start
/// and congestion avoidance, NewReno recovery RFC 6582): a partial ACK
/// during recovery deflates the window and asks for the next hole to be
/// retransmitted (returns true); a full ACK ends recovery.
pub(crate) fn tcp_cc_ack(tp: &mut TcpCb, now: Instant, ackno: Seq, acked: usize) -> bool {
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
                // Slow start as Linux's tcp_slow_start: one MSS per segment
                // acknowledged (not RFC 5681's one per ACK), up to
                // ssthresh, and only while cwnd-limited
                // (tcp_is_cwnd_limited: cwnd < 2 * the window's largest
                // flight).
                if tp.cwnd < 2 * tp.max_flight {
                    let grown = tp.cwnd + acked.div_ceil(mss.max(1)) * mss;
                    tp.cwnd = grown.min(tp.ssthresh.max(tp.cwnd));
                }
            } else if tp.max_flight + mss > tp.cwnd {
                // Congestion avoidance by the socket's algorithm (Reno or
                // CUBIC), in segments, while the flight fills the window
                // (tcp_is_cwnd_limited).
                let mut w = (tp.cwnd / mss.max(1)) as u32;
                let segs = acked.div_ceil(mss.max(1)) as u32;
                tp.cc.cong_avoid(now, &mut w, segs);
                tp.cwnd = tp.cwnd.max(w as usize * mss);
            }
        }
    }
    tp.cwnd = tp.cwnd.min(1 << 30);
    partial_ack
}

/// A duplicate ACK (RFC 5681 §3.2): the third, outside recovery, halves
/// ssthresh, enters NewReno recovery up to SND.MAX and retransmits the
/// segment at SND.UNA, the window inflated by the three segments that
/// left; each later one inflates it by another segment.
pub(crate) fn tcp_cc_dupack(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.dupacks += 1;
    let mss = tp.t_maxseg;
    if tp.dupacks == 3 && tp.recover.is_none() {
        tp.ssthresh = tcp_cc_ssthresh(tp);
        tp.recover = Some(tp.snd_max);
        tp.rtt_seq = None;
        tcp_retransmit_one(cx, now, so);
        if let Some(tp) = so.so_pcb.tcp_mut() {
            tp.cwnd = tp.ssthresh.saturating_add(3 * mss).min(1 << 30);
        }
    } else if tp.dupacks > 3 {
        tp.cwnd += mss;
    }
}

/// Retransmit the segment at snd_una (fast retransmit, partial ACK):
/// one MSS from snd_una, then the send state is restored.
pub(crate) fn tcp_retransmit_one(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.total_retrans += 1;
    let (saved_nxt, saved_cwnd, saved_wnd) = (tp.snd_nxt, tp.cwnd, tp.snd_wnd);
    tp.snd_nxt = tp.snd_una;
    tp.cwnd = tp.t_maxseg;
    tp.snd_wnd = tp.snd_wnd.max(tp.t_maxseg as u32);
    tcp_output(cx, now, so);
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.snd_wnd = saved_wnd;
    tp.cwnd = saved_cwnd;
    tp.snd_nxt = tp.snd_nxt.max(saved_nxt);
}

/// The slow-start threshold at a loss (Linux's ca_ops->ssthresh): Reno's
/// and CUBIC's from the window; BBR keeps it, remembering the window to
/// restore when recovery ends (bbr_ssthresh).
pub(crate) fn tcp_cc_ssthresh(tp: &mut TcpCb) -> usize {
    let mss = tp.t_maxseg.max(1);
    let w = (tp.cwnd / mss) as u32;
    if let Some(b) = tp.cc.bbr_mut() {
        b.save_cwnd(w);
        return tp.ssthresh;
    }
    tp.cc.ssthresh(w) as usize * mss
}

/// BBR starts on a connection (Linux's bbr_init, at the handshake's end or
/// when TCP_CONGESTION chooses it on an open connection): ssthresh
/// infinite, pacing from the window over the RTT so far.
pub(crate) fn tcp_cc_bbr_init(tp: &mut TcpCb, now: Instant) {
    if tp.cc.algo() != CcAlgo::Bbr || tp.cc.bbr().is_some() {
        return;
    }
    let mss = tp.t_maxseg.max(1);
    let srtt_us = tp.srtt().map(usecs);
    let min_rtt_us = match (tp.rec.rack.min_rtt().map(usecs), srtt_us) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let cwnd = match tp.cwnd / mss {
        0 => 10,
        w => w as u32,
    };
    tp.ssthresh = usize::MAX;
    tp.cc.start_bbr(Bbr::new(BbrInit {
        now,
        cwnd,
        srtt_us,
        min_rtt_us,
        delivered: tp.delivered,
        mss,
        seed: tp.iss.0 ^ u32::from(tp.inp.fport).rotate_left(16),
    }));
}

/// Linux's congestion state as BBR tells them apart.
fn tcp_ca_phase(tp: &TcpCb) -> CaPhase {
    if tp.rxtshift > 0 || (tp.sack_ok && tp.rec.state == CaState::Loss) {
        CaPhase::Loss
    } else if tp.recover.is_some() || (tp.sack_ok && tp.rec.state == CaState::Recovery) {
        CaPhase::Recovery
    } else {
        CaPhase::Open
    }
}

/// BBR on every ACK (Linux's tcp_cong_control with a cong_control
/// module): the window and pacing rate from the rate sample. What the ACK
/// path did to the window (slow start, PRR, NewReno, ECN) is undone
/// first: Linux runs none of it for BBR; `prior_cwnd` is the window
/// before the ACK.
pub(crate) fn tcp_cc_bbr_ack(tp: &mut TcpCb, now: Instant, rs: &RateSample, prior_cwnd: usize) {
    if tp.cc.algo() != CcAlgo::Bbr || !tp.t_state.synchronized() {
        return;
    }
    tcp_cc_bbr_init(tp, now);
    let mss = tp.t_maxseg.max(1);
    let a = BbrAck {
        now,
        delivered: tp.delivered,
        in_flight: tcp_packets_in_flight(tp),
        ca: tcp_ca_phase(tp),
        mss,
    };
    let srtt_us = tp.srtt().map(usecs);
    let Some(b) = tp.cc.bbr_mut() else {
        return;
    };
    let mut ssthresh = None;
    let cwnd = (prior_cwnd / mss).min(u32::MAX as usize) as u32;
    let cwnd = b.on_ack(
        &a,
        rs,
        cwnd,
        srtt_us,
        &mut tp.rate.app_limited,
        &mut ssthresh,
    );
    tp.cwnd = (cwnd as usize * mss).min(1 << 30);
    if let Some(s) = ssthresh {
        tp.ssthresh = s as usize * mss;
    }
}

/// A duration in whole microseconds (saturating at u32).
fn usecs(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
