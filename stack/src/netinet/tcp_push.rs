//! Where Linux's sender forces a PSH inside a long write (tcp_sendmsg's
//! forced_push / tcp_mark_push): data is queued in skbs of a "size goal"
//! (tcp_xmit_size_goal: whole MSS up to half the largest window the peer
//! offered, at most a GSO packet), and when an skb fills while more than
//! half that window was written since the last push, that skb ends in
//! PSH and is sent apart. A receiver's GRO (and packetdrill) sees those
//! boundaries; the shim keeps them as marks that end a segment with PSH,
//! beside the MSG_EOR ones (`TcpRare::push_marks`). The skb a write fills
//! first is the tail left unsent by the writes before (tcp_write_queue_tail).

use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::TcpCb;

/// The largest GSO packet Linux builds (GSO_LEGACY_MAX_SIZE) less the
/// room it keeps for headers (1 + MAX_TCP_HEADER on x86-64).
const GSO_GOAL: usize = 65536 - 1 - 320;

/// Linux's tcp_xmit_size_goal with tcp_bound_to_half_wnd: whole MSS up to
/// half the largest window the peer offered, at least one MSS.
pub(crate) fn tcp_size_goal(tp: &TcpCb) -> usize {
    let mss = tp.t_maxseg.max(1);
    let maxwin = tp.max_sndwnd as usize;
    let cutoff = if maxwin > 536 { maxwin / 2 } else { maxwin };
    let goal = if cutoff > 0 && GSO_GOAL > cutoff {
        cutoff.max(68)
    } else {
        GSO_GOAL
    };
    (goal / mss).max(1) * mss
}

/// A connection's sequence space starts: nothing pushed after `pushed`
/// (Linux's pushed_seq: the ISS on an active open, past the SYN on a
/// passive one), and the first write starts a new skb.
pub(crate) fn tcp_push_init(tp: &mut TcpCb, pushed: Seq) {
    tp.pushed_seq = pushed;
    tp.skb_tail = tp.iss + 1;
}

/// A write queued `[start, start + n)` (`more`: with MSG_MORE; `eor`:
/// with MSG_EOR, taken whole): fill skbs of the size goal from the unsent
/// tail on, mark each that fills past half the largest window since the
/// last push, and remember where the tail skb starts (none after an EOR
/// record: the next write starts a new one, as after a tail that was all
/// sent). The write's end is pushed (tcp_push) unless MSG_MORE.
pub(crate) fn tcp_push_marks(tp: &mut TcpCb, start: Seq, n: usize, more: bool, eor: bool) {
    if n == 0 {
        return;
    }
    let goal = tcp_size_goal(tp);
    let half = (tp.max_sndwnd as usize) / 2;
    let end = start + n;
    // The unsent tail skb, if the writes before left one.
    let mut skb = if tp.skb_tail.lt(start) && tp.snd_nxt.lt(start) {
        tp.skb_tail.max(tp.snd_nxt)
    } else {
        start
    };
    let mut ws = start;
    while ws.lt(end) {
        let len = ws - skb;
        if len >= goal {
            skb = ws;
            continue;
        }
        ws = ws + (goal - len).min(end - ws);
        if ws - skb >= goal {
            if ws.diff(tp.pushed_seq) as i64 > half as i64 {
                tp.push_mark(ws);
                tp.pushed_seq = ws;
            }
            skb = ws;
        }
    }
    tp.skb_tail = if eor { end } else { skb };
    if !more {
        tp.pushed_seq = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netinet::in_pcb::Inpcb;

    fn tcb(mss: usize, maxwin: u32) -> TcpCb {
        let mut tp = TcpCb::new(Inpcb::new(64));
        tp.t_maxseg = mss;
        tp.max_sndwnd = maxwin;
        tp.snd_nxt = Seq(1);
        tcp_push_init(&mut tp, Seq(0));
        tp
    }

    #[test]
    fn size_goal_is_half_the_window_in_whole_mss() {
        assert_eq!(tcp_size_goal(&tcb(1460, 5840)), 2920);
        assert_eq!(tcp_size_goal(&tcb(1000, 32896)), 16000);
        assert_eq!(tcp_size_goal(&tcb(1000, 4 << 20)), 65000);
        assert_eq!(tcp_size_goal(&tcb(1000, 1000)), 1000, "at least one MSS");
    }

    /// fastopen/client/cookie-less-sendto.pkt: 3580 bytes after the SYN's
    /// 1420 against a 5840-byte window: the first 2920-byte skb is pushed.
    #[test]
    fn a_write_past_half_the_window_is_pushed_at_the_skb_end() {
        let mut tp = tcb(1460, 5840);
        tp.snd_nxt = Seq(1421);
        tcp_push_marks(&mut tp, Seq(1421), 3580, false, false);
        let marks = |tp: &TcpCb| {
            let r = tp.rare.as_ref();
            r.map_or(vec![], |r| r.push_marks.iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(marks(&tp), vec![Seq(4341)]);
        assert_eq!(tp.pushed_seq, Seq(5001));
        // A small write after: no new mark.
        tcp_push_marks(&mut tp, Seq(5001), 100, false, false);
        assert_eq!(marks(&tp).len(), 1);
    }
}
