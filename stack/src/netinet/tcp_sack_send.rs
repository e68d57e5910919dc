//! What the send path asks of SACK recovery (`tcp_recovery`): whether a
//! connection recovers by SACK, RFC 6675's pipe, recording each segment
//! sent on the scoreboard (and PRR's count), and arming the tail loss
//! probe after new data. Below `tcp_output`, which calls it.

use super::tcp_rack::tlp_timeout;
use super::tcp_recovery_var::CaState;
use super::tcp_seq::Seq;
use super::tcp_var::TcpCb;
use crate::time::Instant;

/// Does this connection recover by SACK? Its peer agreed, and the
/// scoreboard holds every byte in flight.
pub(crate) fn sack_active(tp: &TcpCb) -> bool {
    tp.sack_ok && tp.rec.sb.first_seq() == Some(tp.snd_una)
}

/// RFC 6675's pipe: the bytes the network holds, by the scoreboard.
pub(crate) fn tcp_pipe(tp: &TcpCb) -> usize {
    tp.rec.sb.pipe(tp.flight())
}

/// Is the congestion window PRR's (fast recovery), not slow start's or
/// congestion avoidance's?
pub(crate) fn tcp_in_cwnd_reduction(tp: &TcpCb) -> bool {
    tp.sack_ok && tp.rec.state == CaState::Recovery
}

/// `tcp_send_segment` sent `[seq, seq + seg_len)` (not a SYN): record it
/// (with its delivery-rate snapshot); on a SACK connection count it for
/// PRR, and after new data schedule the tail loss probe.
pub(crate) fn tcp_recovery_sent(
    tp: &mut TcpCb,
    seq: Seq,
    seg_len: usize,
    now: Instant,
    is_rexmt: bool,
) {
    if seg_len == 0 {
        return;
    }
    if tp.rec.sb.is_empty() && seq != tp.snd_una {
        return; // data before this (a Fast Open SYN's) is not on the board
    }
    // Every connection keeps the board for delivery-rate sampling
    // (tcp_rate, Linux's skbs); only a SACK connection recovers by it.
    let (delivered, app_limited) = (tp.delivered, tp.rate.app_limited != 0);
    if tp.rec.sb.is_empty() {
        // Sending starts with nothing in flight (CA_EVENT_TX_START).
        let (mss, cwnd) = (tp.t_maxseg.max(1), tp.cwnd / tp.t_maxseg.max(1));
        if let Some(b) = tp.cc.bbr_mut() {
            b.on_tx_start(now, app_limited, mss, cwnd as u32);
        }
    }
    tp.rec
        .sb
        .on_send_rate(seq, seg_len, now, delivered, app_limited);
    if !tp.sack_ok {
        return;
    }
    if is_rexmt {
        if let Some(u) = tp.rec.undo.as_mut() {
            u.retrans += 1;
        }
    }
    if tp.rec.state == CaState::Recovery {
        tp.rec.prr.sent(seg_len);
    }
    if !is_rexmt {
        tcp_schedule_loss_probe(tp, now);
    }
}

/// Arm the tail loss probe (Linux's tcp_schedule_loss_probe): only in
/// Open state, with SACK, an RTT and data in flight.
pub(crate) fn tcp_schedule_loss_probe(tp: &mut TcpCb, now: Instant) {
    tp.t_timers.tlp = None;
    let Some(srtt) = tp.srtt() else { return };
    if tp.rec.state != CaState::Open || tp.snd_max == tp.snd_una {
        return;
    }
    let rto_left = match tp.t_timers.rexmt {
        Some(t) => t.saturating_duration_since(now),
        None => tp.rto_backed_off(),
    };
    let one = tp.rec.sb.len() == 1;
    let pto = tlp_timeout(srtt, one, rto_left);
    if !pto.is_zero() {
        tp.t_timers.tlp = Some(now + pto);
    }
}
