//! TCP input's state machine (FreeBSD's tcp_do_segment, RFC 9293
//! §3.10.7) for a segment `tcp_demux` found a connection for:
//! acceptability, RST (RFC 5961), SYN, ACK (RTT, congestion control,
//! window), data with out-of-order reassembly, FIN.

use std::ops::ControlFlow;

use crate::errno::Errno;
use crate::kern::ringbuf::RingBuf;
use crate::kern::socket::{SoState, Socket};
use crate::netinet::in_pcb::INP_TIMEWAIT;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ackbatch;
use crate::netinet::tcp_cc::{tcp_cc_ack, tcp_cc_dupack, tcp_retransmit_one, tcp_rtt_sample};
use crate::netinet::tcp_ecn;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_rate::{tcp_packets_in_flight, tcp_rate_gen};
use crate::netinet::tcp_recovery::tcp_recovery_ack;
use crate::netinet::tcp_sack_send::{sack_active, tcp_in_cwnd_reduction};
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_reset_for, tcp_respond, tcp_ts};
use crate::netinet::tcp_urg;
use crate::netinet::tcp_var::{TcpCb, TcpState, TCP_DEFAULT_MSS, TCP_TIMEWAIT_LEN};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

/// RFC 9293: an unacceptable ACK on a half-open connection gets
/// <SEQ=SEG.ACK><CTL=RST>.
fn rst_for_bad_ack(cx: &impl InetCx, tp: &TcpCb, ackno: Seq) {
    tcp_respond(
        cx,
        tp.inp.local(),
        tp.inp.foreign(),
        ackno,
        None,
        TcpFlags::RST,
    );
}

/// Apply the peer's SYN options to `tp` (both SYN and SYN-ACK).
pub(crate) fn tcp_apply_syn_options(cx: &impl InetCx, tp: &mut TcpCb, seg: &TcpRepr) {
    let sys = cx.sysctl();
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
    // The path's MTU as our SYN offered it (lowered by an ICMP error),
    // and as the destination's path MTU cache knows it (ip_pmtu.rs).
    let offered = cx.config().mtu.min(tp.mss_offer as usize + 40);
    let mtu = crate::netinet::ip_pmtu::pmtu_below(cx, tp.inp.faddr, offered);
    tcp_set_maxseg(tp, peer_mss, mtu);
}

/// t_maxseg: the peer's MSS, our MTU, the user's TCP_MAXSEG, less options.
pub(crate) fn tcp_set_maxseg(tp: &mut TcpCb, peer_mss: u16, mtu: usize) {
    let ip_hl = 40 + crate::netinet::tcp_subr::ip6_extra(tp.inp.faddr);
    let mut mss = (peer_mss as usize).min(mtu.saturating_sub(ip_hl)).max(64);
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
/// (the congestion control's multiple of the window, at about twice a
/// segment's size per segment) up to tcp_wmem[2], so a fast path is not
/// held back by the 16 KiB default. The multiple is the algorithm's
/// `sndbuf_expand`: 3 for BBR (bbr_sndbuf_expand: it may slow-start even
/// in recovery), 2 for the others.
pub(crate) fn tcp_sndbuf_expand(cx: &impl InetCx, so: &mut Socket) {
    if so.so_snd.user_locked {
        return;
    }
    let Some(tp) = so.so_pcb.tcp() else { return };
    let wmem = cx.sysctl().tcp_wmem;
    let factor = match tp.cc.algo() {
        crate::netinet::tcp_cubic::CcAlgo::Bbr => 3,
        _ => 2,
    };
    let want = (tp.cwnd.max(10 * tp.t_maxseg) * 2 * factor).clamp(wmem[1], wmem[2].max(wmem[1]));
    if want > so.so_snd.sb_hiwat() {
        so.so_snd.set_hiwat(want);
    }
}

fn tcp_established(cx: &impl InetCx, so: &mut Socket) {
    tcp_sndbuf_expand(cx, so);
    let now = cx.last_now();
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.t_state = TcpState::Established;
        tp.fastopen_child = false;
        // TCP_INFO's last_data_* and last_ack_recv count from here.
        tp.lrcvtime = now;
        tp.lsndtime = now;
        tp.rcv_tstamp = now;
        tp.t_timers.rexmt = None;
        tp.rxtshift = 0;
        crate::netinet::tcp_cc::tcp_cc_bbr_init(tp, now);
    }
    cx.sockets().sowakeup(so.handle);
}

fn enter_time_wait(now: Instant, tp: &mut TcpCb) {
    tp.t_state = TcpState::TimeWait;
    tp.inp.inp_flags |= INP_TIMEWAIT;
    tp.t_timers.rexmt = None;
    tp.t_timers.persist = None;
    tp.t_timers.keep = None;
    tp.t_timers.delack = None;
    tp.t_timers.twomsl = Some(now + TCP_TIMEWAIT_LEN);
    crate::netinet::tcp_pace::tcp_pace_stop(tp);
}

/// The connection's control block (FreeBSD's `sototcpcb`): a TCP socket
/// has one for its whole life.
fn sototcpcb(so: &mut Socket) -> &mut TcpCb {
    so.so_pcb
        .tcp_mut()
        .expect("a TCP socket has a TcpCb for its whole life")
}

/// RFC 9293 §3.10.7 (SEGMENT ARRIVES) for one connection, its socket
/// locked: SYN-SENT has its own step (§3.10.7.3); every later state runs
/// the checks of §3.10.7.4 in the RFC's order, each a function below, and
/// stops at the first that drops the segment. The third check (security)
/// has no counterpart; the sixth (URG) is tcp_urg.rs's, run with the text
/// (in Linux's order: the pointer first, then the data).
/// How a segment reached TCP input.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SegIn {
    /// One of a device read batch (tcp_ackbatch.rs): the output it calls
    /// for may wait for the batch's end.
    pub batch: bool,
    /// Its payload was read straight into the receive buffer, right after
    /// the bytes held there (tcp_rxplace.rs): `seg.payload` only stands
    /// for its length, and is never copied.
    pub placed: bool,
}

pub(crate) fn tcp_input_conn(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
    how: SegIn,
) {
    let keepalive = so.so_options.keepalive;
    let tp = sototcpcb(so);
    debug_assert!(
        !matches!(tp.t_state, TcpState::Closed | TcpState::Listen),
        "tcp_input_conn: a {:?} PCB takes no segments (the 4-tuple table holds neither)",
        tp.t_state
    );
    if keepalive && tp.t_state.synchronized() {
        tp.keep_probes = 0;
        tp.t_timers.keep = Some(now + tp.keepidle);
    }
    if tp.t_state == TcpState::SynSent {
        tcp_syn_sent(cx, now, so, seg);
        return;
    }
    // A hole this segment fills is reported at once (tcp_ackbatch.rs).
    let batch = how.batch && sototcpcb(so).reass.is_empty();
    if tcp_segment_arrives(cx, now, so, seg, how.placed).is_continue()
        && sototcpcb(so).t_state != TcpState::Closed
    {
        if batch && tcp_ackbatch::tcp_output_may_wait(so, seg) {
            tcp_ackbatch::tcp_output_wait(cx, so);
        } else {
            tcp_output(cx, now, so);
        }
    }
}

/// RFC 9293 §3.10.7.4, the checks in order, for every state after
/// SYN-SENT. `Break` means the segment was dropped (or has ended the
/// connection) at that step.
fn tcp_segment_arrives(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
    placed: bool,
) -> ControlFlow<()> {
    tcp_paws(cx, now, so, seg)?;
    tcp_check_seq(cx, now, so, seg)?;
    tcp_check_rst(cx, now, so, seg)?;
    tcp_check_syn(cx, now, so, seg)?;
    tcp_check_ack(cx, now, so, seg)?;
    tcp_process_text(cx, now, so, seg, placed)?;
    tcp_check_fin(cx, now, so, seg);
    ControlFlow::Continue(())
}

/// RFC 9293 §3.10.7.3, SYN-SENT: check the ACK (it must cover our SYN and
/// nothing more), then RST (only with an acceptable ACK: ECONNREFUSED),
/// then SYN: with an ACK the connection is ESTABLISHED, without one it is a
/// simultaneous open (SYN-RECEIVED, our SYN resent with an ACK).
fn tcp_syn_sent(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: &TcpRepr) {
    let flags = seg.flags;
    let seq = Seq(seg.seq);
    let ackno = Seq(seg.ack);
    let tp = sototcpcb(so);
    debug_assert_eq!(tp.t_state, TcpState::SynSent, "tcp_syn_sent");
    if flags.contains(TcpFlags::ACK) && (ackno.le(tp.iss) || ackno.gt(tp.snd_max)) {
        if !flags.contains(TcpFlags::RST) {
            rst_for_bad_ack(cx, tp, ackno);
        }
        return;
    }
    // Linux's check of the echoed timestamp: a SYN-ACK must echo one of
    // our SYN's (sent from syn_stamp to now), else it is reset.
    if let (true, true, Some((_, tsecr))) = (
        flags.contains(TcpFlags::ACK),
        cx.sysctl().tcp_timestamps,
        seg.options.timestamp,
    ) {
        let lo = tcp_ts(tp.syn_stamp, tp.ts_offset);
        let hi = tcp_ts(now, tp.ts_offset);
        if tsecr != 0 && tsecr.wrapping_sub(lo) > hi.wrapping_sub(lo) {
            Stats::bump(&cx.stats().drop_paws);
            if !flags.contains(TcpFlags::RST) {
                rst_for_bad_ack(cx, tp, ackno);
            }
            return;
        }
    }
    if flags.contains(TcpFlags::RST) {
        if flags.contains(TcpFlags::ACK) {
            tcp_drop(cx, so, Some(Errno::ECONNREFUSED));
        }
        return;
    }
    if !flags.contains(TcpFlags::SYN) {
        return;
    }
    tcp_ecn::ecn_rcv_syn(tp, flags);
    tp.irs = seq;
    // The window our SYN offered stands until our next segment.
    let syn_wnd = tp.rcv_adv.diff(tp.rcv_nxt).max(0) as usize;
    tp.rcv_nxt = seq + 1;
    tp.rcv_adv = tp.rcv_nxt + syn_wnd;
    tcp_apply_syn_options(cx, tp, seg);
    tp.snd_wnd = seg.window as u32;
    tp.max_sndwnd = tp.snd_wnd;
    tp.snd_wl1 = seq;
    tp.snd_wl2 = ackno;
    if flags.contains(TcpFlags::ACK) {
        tp.snd_una = ackno;
        // Our SYN, with any Fast Open data in it, is one segment delivered.
        tp.delivered += 1;
        if let Some((_, sent)) = tp.rtt_seq.take() {
            if tp.rxtshift == 0 {
                tp.rtt_update(now - sent);
            }
        }
        // Data of a Fast Open SYN that the SYN-ACK acknowledges.
        let data_acked = (ackno.diff(tp.snd_buf_seq).max(0) as usize).min(tp.syn_data());
        tp.snd_buf_seq += data_acked;
        let fastopen = tp.syn_fastopen().is_some() || tp.syn_data() > 0;
        if fastopen {
            tcp_rcv_fastopen_synack(cx, tp, seg);
        }
        // A blocking writer waits for this handshake: its data will carry
        // the ACK (Linux's sk_write_pending: the ACK is delayed).
        if tp.snd_nxt.lt(tp.snd_una) {
            tp.snd_nxt = tp.snd_una; // a retransmitted SYN, all data acked
        }
        let delay_ack = std::mem::take(&mut tp.write_pending);
        if delay_ack {
            tp.t_timers.delack = Some(now + crate::netinet::tcp_var::TCP_DELACK_MAX);
            // Quick-ACK mode with the ACK timer started now: the data the
            // writer sends at once makes the connection interactive
            // (pingpong), so later ACKs wait for replies (Linux).
            tp.ato_started = true;
            tp.quickacks = 16;
            tp.lrcvtime = now;
        } else {
            tp.ack_now = true;
        }
        so.so_snd.ring_mut().consume(data_acked);
        tcp_zerocopy_acked(so, ackno);
        let mut fin = false;
        if fastopen {
            // Data (and a FIN) on the SYN-ACK of a Fast Open
            // (tcp_fastopen_add_skb).
            let n = so.so_rcv.ring_mut().push(seg.payload);
            sototcpcb(so).rcv_nxt += n;
            fin = n == seg.payload.len() && flags.contains(TcpFlags::FIN);
        }
        tcp_established(cx, so);
        if fin {
            tcp_process_fin(cx, now, so);
        }
    } else {
        // Simultaneous open: SYN-RECEIVED, resend our SYN with an ACK.
        tp.t_state = TcpState::SynReceived;
        tp.snd_nxt = tp.iss;
    }
    tcp_output(cx, now, so);
}

/// A SYN-ACK for our Fast Open SYN (Linux's tcp_rcv_fastopen_synack):
/// remember the server's MSS and cookie (a cookie we did not ask for is
/// ignored; a request answered without one makes the next try the
/// experimental form, or go back from it); SYN data the SYN-ACK did not
/// acknowledge is sent again at once, and TCPI_OPT_SYN_DATA tells whether
/// it was all taken.
fn tcp_rcv_fastopen_synack(cx: &impl InetCx, tp: &mut TcpCb, seg: &TcpRepr) {
    let mss = seg.options.mss.unwrap_or(TCP_DEFAULT_MSS);
    let mut cookie = seg.options.fast_open;
    let mut try_exp = 0;
    match tp.syn_fastopen() {
        None => cookie = None,
        Some(_) if tp.total_retrans > 0 => {}
        Some(sent) if cookie.is_none() && tp.syn_data() == 0 => {
            try_exp = if sent.exp { 2 } else { 1 };
        }
        Some(_) => {}
    }
    cx.inet()
        .tfo_cache
        .set(cx.last_now(), tp.inp.foreign().ip(), mss, cookie, try_exp);
    if tp.snd_una.lt(tp.snd_max) {
        // Not all of the SYN's data was taken: resend it now.
        tp.total_retrans += 1;
        tp.snd_nxt = tp.snd_una;
    } else {
        tp.syn_data_acked = tp.syn_data() > 0;
    }
}

/// PAWS (RFC 7323 §5.3), run before RFC 9293's first check: a segment
/// whose timestamp is older than the last one accepted is an old
/// duplicate: ACK it and drop it.
fn tcp_paws(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: &TcpRepr) -> ControlFlow<()> {
    let tp = sototcpcb(so);
    if !tp.ts_ok || !tp.t_state.synchronized() || seg.flags.contains(TcpFlags::RST) {
        return ControlFlow::Continue(());
    }
    match seg.options.timestamp {
        Some((tsval, _)) if (tsval.wrapping_sub(tp.ts_recent) as i32) < 0 => {
            Stats::bump(&cx.stats().drop_paws);
            tp.ack_now = true;
            tcp_output(cx, now, so);
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    }
}

/// RFC 9293 §3.10.7.4, first: check the sequence number. The four cases
/// of the acceptability test (segment length zero or not, receive window
/// zero or not).
fn seq_acceptable(rcv_nxt: Seq, rcv_wnd: usize, seq: Seq, seg_len: usize) -> bool {
    if seg_len == 0 {
        if rcv_wnd == 0 {
            seq == rcv_nxt
        } else {
            rcv_nxt.le(seq) && seq.lt(rcv_nxt + rcv_wnd)
        }
    } else if rcv_wnd == 0 {
        false
    } else {
        let last = seq + (seg_len - 1);
        (rcv_nxt.le(seq) && seq.lt(rcv_nxt + rcv_wnd))
            || (rcv_nxt.le(last) && last.lt(rcv_nxt + rcv_wnd))
    }
}

/// RFC 9293 §3.10.7.4, first: an unacceptable segment (a zero-window
/// probe, a retransmission wholly before RCV.NXT) is answered with an ACK
/// and dropped; an unacceptable RST is dropped silently.
///
/// RCV.WND is the free buffer, except that data into a window the peer
/// was told is zero is dropped even when the buffer has room (a read
/// since, too small for a window update; free space below one unit of
/// the window scale), as Linux's tcp_data_queue (TCPZeroWindowDrop):
/// else every persist probe's byte is taken, and a sender's full send
/// buffer gains a byte at each probe (c-test 270 saw a splice into a
/// "full" socket move one).
fn tcp_check_seq(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
) -> ControlFlow<()> {
    let told_zero = {
        let tp = sototcpcb(so);
        tp.rcv_adv.le(tp.rcv_nxt)
    };
    let rcv_wnd = if told_zero && !seg.payload.is_empty() {
        0
    } else {
        so.so_rcv.ring().free()
    };
    let tp = sototcpcb(so);
    if seq_acceptable(tp.rcv_nxt, rcv_wnd, Seq(seg.seq), seg.segment_len())
        || crossed_synack(tp, seg)
    {
        return ControlFlow::Continue(());
    }
    if !seg.flags.contains(TcpFlags::RST) {
        Stats::bump(&cx.stats().drop_out_of_window);
        // An old duplicate is reported by D-SACK (tcp_send_dupack).
        let (seq, len) = (Seq(seg.seq), seg.segment_len());
        if len > 0 && seq.lt(tp.rcv_nxt) {
            let end = (seq + len).min(tp.rcv_nxt);
            tcp_dsack_set(tp, seq, end);
        }
        tp.ack_now = true;
        tcp_output(cx, now, so);
    }
    ControlFlow::Break(())
}

/// RFC 9293 §3.10.7.4, second: check the RST bit. Only an exact match
/// with RCV.NXT resets (RFC 5961 §3.2), anything else in the window gets a
/// challenge ACK (in TIME-WAIT, nothing, as Linux's time-wait sockets). The error is Linux's tcp_reset's: ECONNREFUSED in
/// SYN-RECEIVED, EPIPE in CLOSE-WAIT, none once closing is done,
/// ECONNRESET otherwise.
fn tcp_check_rst(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
) -> ControlFlow<()> {
    if !seg.flags.contains(TcpFlags::RST) {
        return ControlFlow::Continue(());
    }
    let tp = sototcpcb(so);
    if tp.t_state == TcpState::TimeWait {
        // Linux's tcp_timewait_state_process: an RST at RCV.NXT ends
        // TIME-WAIT unless net.ipv4.tcp_rfc1337 is set; any other RST is
        // dropped without a challenge ACK.
        if Seq(seg.seq) != tp.rcv_nxt || cx.sysctl().tcp_rfc1337 {
            return ControlFlow::Break(());
        }
    } else if Seq(seg.seq) != tp.rcv_nxt {
        tp.ack_now = true;
        tcp_output(cx, now, so);
        return ControlFlow::Break(());
    }
    let err = match tp.t_state {
        TcpState::SynReceived if tp.fastopen_child => Some(Errno::ECONNRESET),
        TcpState::SynReceived => Some(Errno::ECONNREFUSED),
        TcpState::CloseWait => Some(Errno::EPIPE),
        TcpState::TimeWait | TcpState::Closed => None,
        _ => Some(Errno::ECONNRESET),
    };
    // The peer reset: no RST back.
    tp.rst_sent = true;
    if let Some(e) = err {
        so.so_error = Some(e);
    }
    tcp_close(cx, so);
    ControlFlow::Break(())
}

/// RFC 9293 §3.10.7.4, fourth: a SYN in a synchronized state (or a
/// retransmitted SYN in SYN-RECEIVED) gets a challenge ACK (RFC 5961 §4.2)
/// and is dropped.
fn tcp_check_syn(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
) -> ControlFlow<()> {
    if !seg.flags.contains(TcpFlags::SYN) {
        return ControlFlow::Continue(());
    }
    let tp = sototcpcb(so);
    if crossed_synack(tp, seg) {
        // Its ACK completes the handshake; its SYN is a duplicate.
        let seq = Seq(seg.seq);
        tcp_dsack_set(tp, seq, seq + 1);
        tp.ack_now = true;
        return ControlFlow::Continue(());
    }
    tp.ack_now = true;
    tcp_output(cx, now, so);
    ControlFlow::Break(())
}

/// A simultaneous open's SYN-ACK crossing ours in SYN-RECEIVED (both
/// sides sent SYNs, one with Fast Open data): it repeats the peer's SYN
/// and acknowledges ours. Linux takes its ACK (tcp_rcv_state_process's
/// crossed-SYN case) and D-SACKs its SYN.
fn crossed_synack(tp: &TcpCb, seg: &TcpRepr) -> bool {
    let ackno = Seq(seg.ack);
    tp.t_state == TcpState::SynReceived
        && seg.flags.contains(TcpFlags::SYN | TcpFlags::ACK)
        && seg.payload.is_empty()
        && Seq(seg.seq) + 1 == tp.rcv_nxt
        && tp.snd_una.lt(ackno)
        && ackno.le(tp.snd_max)
}

/// Report `[l, r)`, received twice, in the next ACK (RFC 2883; Linux's
/// tcp_dsack_set under its default tcp_dsack=1), with SACK only.
fn tcp_dsack_set(tp: &mut TcpCb, l: Seq, r: Seq) {
    if tp.sack_ok && l.lt(r) {
        tp.rare_mut().dsack = Some((l, r));
    }
}

/// RFC 9293 §3.10.7.4, fifth: check the ACK field. A segment without an
/// ACK is dropped. The peer's timestamp is remembered (RFC 7323 §4.3);
/// SYN-RECEIVED becomes ESTABLISHED on an ACK of our SYN; an ACK of data
/// not yet sent is answered and dropped; a new ACK advances SND.UNA (RTT,
/// congestion control), a duplicate one counts towards fast retransmit;
/// the send window is updated; and an ACK of our FIN moves the closing
/// states on.
fn tcp_check_ack(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
) -> ControlFlow<()> {
    if !seg.flags.contains(TcpFlags::ACK) {
        return ControlFlow::Break(());
    }
    let seq = Seq(seg.seq);
    let ackno = Seq(seg.ack);
    let tp = sototcpcb(so);
    if tp.ts_ok {
        if let Some((tsval, _)) = seg.options.timestamp {
            if seq.le(tp.rcv_nxt) {
                tp.ts_recent = tsval;
            }
        }
    }
    if tp.t_state == TcpState::SynReceived {
        tcp_ack_syn_received(cx, so, seg)?;
    }
    let tp = sototcpcb(so);
    if ackno.gt(tp.snd_max) {
        tp.ack_now = true;
        tcp_output(cx, now, so);
        return ControlFlow::Break(());
    }
    if tp.snd_una.le(ackno) {
        tp.rcv_tstamp = now;
    }
    let prior_una = tp.snd_una;
    let prior_sacked = tp.rec.sb.sacked_out;
    let prior_delivered = tp.delivered;
    let prior_in_flight = tcp_packets_in_flight(tp);
    let prior_cwnd = tp.cwnd;
    let ourfinisacked = if tp.snd_una.lt(ackno) {
        tcp_ack_new(cx, now, so, seg)
    } else {
        tcp_ack_dup(cx, now, so, seg);
        false
    };
    let snd_cc = so.so_snd.ring().len();
    let tp = sototcpcb(so);
    let (from, lost) = tcp_recovery_ack(now, tp, seg, prior_una);
    tcp_count_delivered(tp, prior_una, prior_sacked, snd_cc);
    let acked_sacked = tp.delivered.wrapping_sub(prior_delivered);
    let losses = lost.div_ceil(tp.t_maxseg.max(1)) as u32;
    let rs = tcp_rate_gen(tp, now, acked_sacked, losses, prior_in_flight, from);
    crate::netinet::tcp_cc::tcp_cc_bbr_ack(tp, now, &rs, prior_cwnd);
    tcp_ecn::ecn_ack(tp, seg);
    tcp_update_window(tp, seg);
    tcp_ack_closing(cx, now, so, seg, ourfinisacked)
}

/// Count the segments an ACK delivered (TcpCb::delivered): the data
/// bytes SND.UNA passed since `prior_una` (not the SYN's, not the FIN's)
/// plus those newly SACKed, in MSS units rounded up; a FIN acknowledged
/// alone counts one.
fn tcp_count_delivered(tp: &mut TcpCb, prior_una: Seq, prior_sacked: usize, snd_cc: usize) {
    let fin = tp.fin_seq(snd_cc);
    let start = prior_una.max(tp.iss + 1);
    let end = match fin {
        Some(f) if tp.snd_una.gt(f) => f,
        _ => tp.snd_una,
    };
    let data = end.diff(start).max(0) as usize;
    let newly = (data + tp.rec.sb.sacked_out).saturating_sub(prior_sacked);
    let mut segs = newly.div_ceil(tp.t_maxseg.max(1));
    if segs == 0 && fin.is_some_and(|f| prior_una.le(f) && tp.snd_una.gt(f)) {
        segs = 1;
    }
    tp.delivered = tp.delivered.wrapping_add(segs as u32);
}

/// RFC 9293 §3.10.7.4, fifth, SYN-RECEIVED: an ACK within
/// SND.UNA < SEG.ACK <= SND.NXT completes the handshake (ESTABLISHED, the
/// send window taken from it); any other gets <SEQ=SEG.ACK><CTL=RST>.
fn tcp_ack_syn_received(cx: &impl InetCx, so: &mut Socket, seg: &TcpRepr) -> ControlFlow<()> {
    let ackno = Seq(seg.ack);
    let tp = sototcpcb(so);
    debug_assert_eq!(tp.t_state, TcpState::SynReceived, "tcp_ack_syn_received");
    if tp.snd_una.lt(ackno) && ackno.le(tp.snd_max) {
        tp.snd_wnd = seg_window(tp, seg);
        tp.snd_wl1 = Seq(seg.seq);
        tp.snd_wl2 = ackno;
        tp.delivered += 1; // our SYN-ACK
        tcp_established(cx, so);
        ControlFlow::Continue(())
    } else {
        rst_for_bad_ack(cx, tp, ackno);
        ControlFlow::Break(())
    }
}

/// RFC 9293 §3.10.7.4, fifth, ESTABLISHED and later: SND.UNA < SEG.ACK
/// <= SND.MAX acknowledges new data. Take an RTT sample (RFC 6298 / RFC
/// 7323), grow or restore the congestion window, drop the acknowledged
/// bytes from the send buffer and restart the retransmission timer.
/// Returns whether our FIN is now acknowledged.
fn tcp_ack_new(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: &TcpRepr) -> bool {
    let ackno = Seq(seg.ack);
    let snd_cc = so.so_snd.ring().len();
    let tp = sototcpcb(so);
    debug_assert!(
        tp.snd_una.lt(ackno) && ackno.le(tp.snd_max),
        "tcp_ack_new: an ACK of new data lies within (snd_una, snd_max]"
    );
    let acked = ackno - tp.snd_una;
    // Data bytes acknowledged: those between snd_buf_seq and ackno.
    let data_acked = (ackno.diff(tp.snd_buf_seq).max(0) as usize).min(snd_cc);
    let ourfinisacked = tp.fin_seq(snd_cc).is_some_and(|fin| ackno.gt(fin));
    if let Some(rtt) = tcp_rtt_sample(tp, now, seg) {
        tp.rtt_update(rtt);
        let mss = tp.t_maxseg.max(1);
        let in_ss = tp.cwnd < tp.ssthresh;
        let w = (tp.cwnd / mss) as u32;
        if let Some(ss) = tp.cc.acked(rtt, w, in_ss, ackno, tp.snd_nxt) {
            tp.ssthresh = ss as usize * mss; // HyStart: slow start ends
        }
    }
    tp.rxtshift = 0;
    // In SACK fast recovery PRR sets the window (tcp_recovery).
    // Nor does the window grow while an ECE reduces it (tcp_ecn).
    let cwnd = tp.cwnd;
    let partial_ack = !tcp_in_cwnd_reduction(tp) && tcp_cc_ack(tp, now, ackno, acked);
    if tcp_ecn::ecn_in_cwr(tp) {
        tp.cwnd = tp.cwnd.min(cwnd);
    }
    tp.dupacks = 0;
    tp.snd_una = ackno;
    if tp.snd_nxt.lt(tp.snd_una) {
        tp.snd_nxt = tp.snd_una;
    }
    tp.snd_buf_seq += data_acked;
    tp.t_timers.rexmt = if tp.snd_una == tp.snd_max {
        None
    } else {
        Some(now + tp.rto())
    };
    tp.persist_shift = 0;
    so.so_snd.ring_mut().consume(data_acked);
    tcp_zerocopy_acked(so, ackno);
    crate::netinet::tcp_tstamp::tcp_tstamp_acked(so, ackno, now);
    let tp = sototcpcb(so);
    tp.push_marks_acked(ackno);
    // Something worked: no soft error (Linux's tcp_ack).
    if let Some(r) = tp.rare.as_mut() {
        r.softerror = None;
    }
    tp.rare_release();
    tcp_sndbuf_expand(cx, so);
    cx.sockets().sowakeup(so.handle);
    if partial_ack {
        tcp_retransmit_one(cx, now, so);
    }
    ourfinisacked
}

/// MSG_ZEROCOPY sends whose data `ackno` covers complete: their ids go
/// to the error queue.
fn tcp_zerocopy_acked(so: &mut Socket, ackno: Seq) {
    let front = |so: &mut Socket| {
        let r = sototcpcb(so).rare.as_ref()?;
        r.zc_pending.front().copied()
    };
    while let Some((end, id)) = front(so) {
        if end.gt(ackno) {
            break;
        }
        if let Some(r) = sototcpcb(so).rare.as_mut() {
            r.zc_pending.pop_front();
        }
        so.so_zerocopy_done(id);
    }
}

/// RFC 9293 §3.10.7.4, fifth: SEG.ACK = SND.UNA. A duplicate ACK (no
/// data, no FIN, same window, data outstanding, RFC 5681 §2) goes to
/// congestion control (`tcp_cc_dupack`: fast retransmit).
fn tcp_ack_dup(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: &TcpRepr) {
    let tp = sototcpcb(so);
    let is_dup = Seq(seg.ack) == tp.snd_una
        && seg.payload.is_empty()
        && !seg.flags.contains(TcpFlags::FIN)
        && seg_window(tp, seg) == tp.snd_wnd
        && tp.snd_max.gt(tp.snd_una);
    if is_dup && sack_active(tp) {
        tp.dupacks += 1; // the scoreboard decides (tcp_recovery)
    } else if is_dup {
        tcp_cc_dupack(cx, now, so);
    }
}

/// RFC 9293 §3.10.7.4, fifth: update the send window when the segment is
/// newer than the last update (SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and
/// SND.WL2 =< SEG.ACK). A window that opens stops the persist timer.
fn tcp_update_window(tp: &mut TcpCb, seg: &TcpRepr) {
    let seq = Seq(seg.seq);
    let ackno = Seq(seg.ack);
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
}

/// RFC 9293 §3.10.7.4, fifth, the closing states: FIN-WAIT-1 whose FIN is
/// acknowledged enters FIN-WAIT-2 (timed when nobody holds the socket),
/// CLOSING enters TIME-WAIT, LAST-ACK closes; in TIME-WAIT only a
/// retransmitted FIN is answered (and the 2MSL timer restarted).
fn tcp_ack_closing(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
    ourfinisacked: bool,
) -> ControlFlow<()> {
    let nofdref = so.so_state.has(SoState::NOFDREF);
    let tp = sototcpcb(so);
    match tp.t_state {
        TcpState::FinWait1 if ourfinisacked => {
            tp.t_state = TcpState::FinWait2;
            tp.t_timers.rexmt = None;
            if nofdref {
                let t = tp
                    .linger2
                    .map_or(cx.sysctl().tcp_fin_timeout, std::time::Duration::from);
                tp.t_timers.twomsl = Some(now + t);
            }
        }
        TcpState::Closing if ourfinisacked => enter_time_wait(now, tp),
        TcpState::LastAck if ourfinisacked => {
            tcp_close(cx, so);
            return ControlFlow::Break(());
        }
        TcpState::TimeWait => {
            if seg.flags.contains(TcpFlags::FIN) {
                tp.t_timers.twomsl = Some(now + TCP_TIMEWAIT_LEN);
                tp.ack_now = true;
                tcp_output(cx, now, so);
            }
            return ControlFlow::Break(());
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

/// RFC 9293 §3.10.7.4, seventh: process the segment text (ESTABLISHED,
/// FIN-WAIT-1, FIN-WAIT-2 only). Bytes before RCV.NXT are trimmed; what
/// fits the receive buffer is queued in order or stashed out of order for
/// reassembly. Data for a socket nobody can read any more resets the
/// connection (as Linux and BSD do), the RST answering that segment.
///
/// A `placed` payload is in the buffer already, right after the held
/// bytes: it is committed where it lies, never copied; anything but
/// in-order text (which tcp_rxplace.rs checked before it read) leaves it
/// there unused, as a segment dropped.
fn tcp_process_text(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    seg: &TcpRepr,
    placed: bool,
) -> ControlFlow<()> {
    let handle = so.handle;
    let nofdref = so.so_state.has(SoState::NOFDREF);
    if sototcpcb(so).t_state.can_receive() && !nofdref {
        tcp_urg::tcp_check_urg(so, seg);
    }
    let tp = sototcpcb(so);
    let mut seq = Seq(seg.seq);
    let mut data = seg.payload;
    if data.is_empty() || !tp.t_state.can_receive() {
        return ControlFlow::Continue(());
    }
    if nofdref {
        // Linux's abort on data (tcp_rcv_state_process returns 1): the
        // connection ends and the RST answers the segment, as for a
        // segment no socket takes (tcp_v4_send_reset), not from SND.NXT.
        let (local, remote) = (tp.inp.local(), tp.inp.foreign());
        tcp_reset_for(cx, local, remote, seg);
        tcp_close(cx, so);
        return ControlFlow::Break(());
    }
    if placed && seq != tp.rcv_nxt {
        tp.ack_now = true;
        return ControlFlow::Continue(());
    }
    if seq.lt(tp.rcv_nxt) {
        // Partly a duplicate: D-SACK its old part, ACK at once.
        let old_end = tp.rcv_nxt;
        tcp_dsack_set(tp, seq, old_end);
        tp.ack_now = true;
        let skip = (tp.rcv_nxt - seq).min(data.len());
        data = &data[skip..];
        seq = tp.rcv_nxt;
    }
    let ring = so.so_rcv.ring_mut();
    let tp = so
        .so_pcb
        .tcp_mut()
        .expect("a TCP socket has a TcpCb for its whole life");
    let rel = seq - tp.rcv_nxt;
    let room = ring.free().saturating_sub(rel);
    let data = &data[..data.len().min(room)];
    if data.is_empty() {
        tp.ack_now = true;
    } else if rel == 0 {
        tcp_rcv_in_order(now, tp, ring, data, placed);
        so.so_rcv.sb_stamp = now;
        cx.sockets().sowakeup(handle);
    } else {
        let off = ring.len() + rel;
        let n = ring.write_at(off, data);
        if n > 0 && !tp.reass.insert(seq, seq + n) {
            Stats::bump(&cx.stats().drop_out_of_window);
        }
        tp.ack_now = true;
    }
    tcp_urg::tcp_urg_arrived(so);
    ControlFlow::Continue(())
}

/// In-order text at RCV.NXT: append it, pull in whatever the reassembly
/// queue now makes contiguous, and decide between an immediate and a
/// delayed ACK (Linux's __tcp_ack_snd_check: at once in quick-ACK mode,
/// after more than one full segment, or when a hole was filled).
fn tcp_rcv_in_order(now: Instant, tp: &mut TcpCb, ring: &mut RingBuf, data: &[u8], placed: bool) {
    let n = if placed {
        ring.commit_placed(data.len());
        data.len()
    } else {
        ring.push(data)
    };
    tp.rcv_nxt += n;
    let had_holes = !tp.reass.is_empty();
    while let Some(end) = tp.reass.take_contiguous(tp.rcv_nxt) {
        let extra = end - tp.rcv_nxt;
        ring.commit(extra);
        tp.rcv_nxt = end;
    }
    if had_holes {
        tp.ack_now = true;
        return;
    }
    tp.delack_bytes += data.len() as u32;
    tp.lrcvtime = now;
    if !tp.ato_started {
        // The first data: quick-ACK mode (tcp_incr_quickack).
        tp.ato_started = true;
        tp.quickacks = 16;
    }
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

/// RFC 9293 §3.10.7.4, eighth: check the FIN bit. A FIN at RCV.NXT is
/// processed now; one beyond a hole waits (`rcv_fin_at`) until
/// reassembly reaches it; a FIN we already have is acknowledged again.
fn tcp_check_fin(cx: &impl InetCx, now: Instant, so: &mut Socket, seg: &TcpRepr) {
    let fin_seq = Seq(seg.seq) + seg.payload.len();
    let tp = sototcpcb(so);
    if seg.flags.contains(TcpFlags::FIN) {
        if fin_seq == tp.rcv_nxt {
            tp.rcv_fin_at = None;
            tcp_process_fin(cx, now, so);
        } else if tp.rcv_nxt.lt(fin_seq) {
            tp.rcv_fin_at = Some(fin_seq);
            tp.ack_now = true;
        } else {
            tp.ack_now = true; // a retransmitted FIN we already have
        }
    } else if tp.rcv_fin_at == Some(tp.rcv_nxt) {
        tp.rcv_fin_at = None;
        tcp_process_fin(cx, now, so);
    }
}

fn tcp_process_fin(cx: &impl InetCx, now: Instant, so: &mut Socket) {
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
    cx.sockets().sowakeup(handle);
}
