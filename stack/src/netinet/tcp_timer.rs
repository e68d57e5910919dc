//! TCP timers (FreeBSD's tcp_timer.c): retransmission with exponential
//! backoff and Karn's rule, persist probes into a zero window, delayed ACK,
//! keepalive, FIN_WAIT_2 and TIME_WAIT expiry, and the pacing timer
//! (tcp_pace: BBR's next departure). Deadlines live in the
//! `TcpCb`; the stack's heap holds one entry per socket for the earliest.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_output::{tcp_output, tcp_output_force};
use crate::netinet::tcp_recovery::{tcp_enter_loss, tcp_timer_rack, CaState};
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_respond, tcp_timer_sync};
use crate::netinet::tcp_var::{TcpCb, TcpState, TcpTimers, TCP_RETRIES2, TCP_RTO_MAX};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::TcpFlags;

/// Run whichever of this socket's timers are due (FreeBSD's tcp_timer_*
/// callouts, one function each), then re-arm the earliest. A timer that
/// ends the connection stops the rest.
pub(crate) fn tcp_timers(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    tp.scheduled = None;
    debug_assert!(
        tp.t_state != TcpState::Closed || (tp.t_timers == TcpTimers::default() && !tp.rbuf_armed),
        "tcp_timers: a CLOSED connection runs no timer ({:?}, rbuf {})",
        tp.t_timers,
        tp.rbuf_armed
    );
    if tp.t_state == TcpState::Listen {
        if due(tp.t_timers.rexmt, now) {
            crate::netinet::tcp_syncache::syncache_timer(cx, now, so);
        }
        tcp_timer_sync(cx, so);
        return;
    }
    if tcp_timers_due(cx, so, now).is_continue() {
        tcp_timer_sync(cx, so);
    }
}

/// A connection's timers in FreeBSD's order; Break once one has ended it.
fn tcp_timers_due(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    tcp_timer_2msl(cx, so, now)?;
    // The loss probe first: one due with the RTO goes and re-arms it, as
    // Linux's probe timer takes the RTO's place.
    tcp_timer_rack(cx, so, now);
    tcp_timer_rexmt(cx, so, now)?;
    tcp_timer_persist(cx, so, now)?;
    tcp_timer_delack(cx, so, now)?;
    tcp_timer_keep(cx, so, now)?;
    tcp_timer_pace(cx, so, now);
    crate::netinet::tcp_rcvbuf::tcp_timer_rbuf(now, so);
    ControlFlow::Continue(())
}

fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// The TcpCb, or Break for a socket without one (not TCP).
fn tcpcb(so: &mut Socket) -> ControlFlow<(), &mut TcpCb> {
    match so.so_pcb.tcp_mut() {
        Some(tp) => ControlFlow::Continue(tp),
        None => ControlFlow::Break(()),
    }
}

/// FIN_WAIT_2 (after close) and TIME_WAIT expiry: the connection is closed.
fn tcp_timer_2msl(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    let tp = tcpcb(so)?;
    if due(tp.t_timers.twomsl, now) {
        tp.t_timers.twomsl = None;
        if matches!(tp.t_state, TcpState::TimeWait | TcpState::FinWait2) {
            tcp_close(cx, so);
            return ControlFlow::Break(());
        }
    }
    ControlFlow::Continue(())
}

/// Linux's tcp_model_timeout for a SYN: how long `n` doublings of the
/// initial 1 s RTO take, TCP_RTO_MAX (120 s) each past 2^6.
fn syn_model_timeout(n: u32) -> Duration {
    let base = Duration::from_secs(1);
    let thresh = 6; // ilog2(TCP_RTO_MAX / 1 s)
    if n <= thresh {
        base * ((2u32 << n) - 1)
    } else {
        base * ((2u32 << thresh) - 1) + TCP_RTO_MAX * (n - thresh)
    }
}

/// Retransmission timeout (RFC 6298 §5): past the retry limit (SYN,
/// SYN-ACK or data) the connection is dropped with ETIMEDOUT; else back
/// off, collapse the congestion window to one segment (RFC 5681 §3.1),
/// leave recovery, and resend from SND.UNA (or the SYN).
fn tcp_timer_rexmt(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    let tp = tcpcb(so)?;
    if !due(tp.t_timers.rexmt, now) {
        return ControlFlow::Continue(());
    }
    tp.t_timers.rexmt = None;
    let linear = cx.sysctl().tcp_syn_linear_timeouts;
    let expired = match tp.t_state {
        // Linux's tcp_write_timeout for SYN_SENT: TCP_SYNCNT (or the
        // sysctl) plus the linear tries, or the time a backoff of
        // TCP_SYNCNT doublings from 1 s would take (tcp_model_timeout,
        // counted from the first SYN), whichever comes first.
        TcpState::SynSent => {
            let n = tp.syn_retries(cx);
            tp.rxtshift >= n + linear || now - tp.syn_stamp >= syn_model_timeout(n)
        }
        TcpState::SynReceived => tp.rxtshift >= cx.sysctl().tcp_synack_retries,
        _ => tp.rxtshift >= TCP_RETRIES2,
    };
    if expired {
        let err = tp.timeout_error();
        tcp_drop(cx, so, Some(err));
        return ControlFlow::Break(());
    }
    tp.rxtshift += 1;
    if tp.t_state == TcpState::SynSent {
        // The first `linear` retransmissions of a SYN wait the initial
        // RTO again (Linux's tcp_syn_linear_timeouts), then it doubles.
        tp.t_timers.rexmt = Some(now + tp.rto_shifted(tp.backoff(linear)));
    }
    tp.total_retrans += 1;
    tp.rtt_seq = None;
    let mss = tp.t_maxseg;
    // Linux's tcp_enter_loss: a new ssthresh unless fast recovery already
    // set one.
    if tp.rxtshift == 1 && !(tp.sack_ok && tp.rec.state == CaState::Recovery) {
        // The first timeout of a loss episode (tcp_enter_loss).
        tp.ssthresh = crate::netinet::tcp_cc::tcp_cc_ssthresh(tp);
        tp.cc.on_loss_timeout();
    }
    let delivered = tp.delivered;
    if let Some(b) = tp.cc.bbr_mut() {
        b.on_loss(delivered);
    }
    tp.cwnd = mss;
    tp.recover = None;
    tp.dupacks = 0;
    if tp.t_state.synchronized() && tcp_enter_loss(tp) {
        // SACK: resend what is marked lost, not what the peer holds (the
        // retransmit queue counts what it sends).
        tp.total_retrans -= 1;
        tcp_output(cx, now, so);
        return ControlFlow::Continue(());
    }
    tp.snd_nxt = if tp.t_state == TcpState::SynSent {
        tp.iss
    } else {
        tp.snd_una
    };
    if tp.t_state == TcpState::SynReceived {
        tp.snd_nxt = tp.iss;
    }
    tcp_output(cx, now, so);
    ControlFlow::Continue(())
}

/// The pacing timer: what waited for the pacing clock goes now.
pub(crate) fn tcp_timer_pace(cx: &impl InetCx, so: &mut Socket, now: Instant) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let Some(b) = tp.cc.bbr_mut() else {
        return;
    };
    if let Some(at) = b.pace_timer.filter(|t| *t <= now) {
        b.pace_timer = None;
        let st = cx.stats();
        Stats::bump(&st.tcp_pace_fired);
        let late = u64::try_from((now - at).as_micros()).unwrap_or(u64::MAX);
        st.tcp_pace_late_us.fetch_add(late, Relaxed);
        tcp_output(cx, now, so);
    }
}

/// Persist: probe a zero window with one byte, and back the probe off
/// (up to TCP_RTO_MAX) while the window stays shut.
fn tcp_timer_persist(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    let tp = tcpcb(so)?;
    if !due(tp.t_timers.persist, now) {
        return ControlFlow::Continue(());
    }
    tp.t_timers.persist = None;
    tp.persist_shift += 1;
    tcp_output_force(cx, now, so);
    if let Some(tp) = so.so_pcb.tcp_mut() {
        if tp.snd_wnd == 0 && tp.t_timers.persist.is_none() && tp.t_timers.rexmt.is_none() {
            let d = (tp.rto() * (1u32 << tp.persist_shift.min(6))).min(TCP_RTO_MAX);
            tp.t_timers.persist = Some(now + d);
        }
    }
    ControlFlow::Continue(())
}

/// Delayed ACK: no reply came within the ACK delay to carry it, so the
/// connection is not interactive after all (pingpong off); ACK now.
fn tcp_timer_delack(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    let tp = tcpcb(so)?;
    if due(tp.t_timers.delack, now) {
        tp.t_timers.delack = None;
        tp.pingpong = false;
        tp.ack_now = true;
        tcp_output(cx, now, so);
    }
    ControlFlow::Continue(())
}

/// Keepalive (SO_KEEPALIVE): after TCP_KEEPCNT unanswered probes the
/// connection is dropped with ETIMEDOUT; else send a probe, an ACK one
/// below SND.UNA, and wait TCP_KEEPINTVL.
fn tcp_timer_keep(cx: &impl InetCx, so: &mut Socket, now: Instant) -> ControlFlow<()> {
    let keepalive = so.so_options.keepalive;
    let tp = tcpcb(so)?;
    if !due(tp.t_timers.keep, now) {
        return ControlFlow::Continue(());
    }
    tp.t_timers.keep = None;
    if keepalive && tp.t_state.synchronized() && tp.t_state != TcpState::TimeWait {
        if tp.keep_probes >= u32::from(tp.keepcnt) {
            let err = tp.timeout_error();
            tcp_drop(cx, so, Some(err));
            return ControlFlow::Break(());
        }
        tp.keep_probes += 1;
        let inp = tp.inp;
        tcp_respond(
            cx,
            inp.local(),
            inp.foreign(),
            tp.snd_una + usize::MAX,
            Some(tp.rcv_nxt),
            TcpFlags::empty(),
        );
        tp.t_timers.keep = Some(now + tp.keepintvl);
    }
    ControlFlow::Continue(())
}
