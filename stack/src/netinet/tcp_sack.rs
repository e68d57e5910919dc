//! The sender's SACK scoreboard (RFC 6675 §3, Linux's retransmit queue
//! with its TCPCB_SACKED_ACKED / TCPCB_LOST / TCPCB_SACKED_RETRANS marks):
//! one record per segment sent and not yet cumulatively acknowledged, in
//! sequence order, with when it was last sent. The counters give Linux's
//! `tcp_packets_in_flight` in bytes (RFC 6675's pipe): what was sent, less
//! what the peer SACKed, less what is marked lost, plus what was
//! retransmitted (a lost segment resent counts once, as in flight). Pure
//! data: `tcp_recovery` decides what is lost.

use std::collections::VecDeque;

use super::tcp_rate_var::{tcp_rate_skb_delivered, tcp_rate_skb_sent, RateClock, RateFrom, TxRate};
use super::tcp_seq::Seq;
use crate::time::Instant;

/// One sent segment `[start, end)` (a FIN counts as its last byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxSeg {
    pub start: Seq,
    pub end: Seq,
    /// When it was last (re)transmitted, and that transmission's place
    /// in the order of all (segments sent at the same instant still have
    /// an order).
    pub xmit: Instant,
    pub order: u64,
    /// The peer holds it (SACKed).
    pub sacked: bool,
    /// Marked lost (Linux's TCPCB_LOST): it stays so until SACKed or
    /// acknowledged.
    pub lost: bool,
    /// Retransmitted and that retransmission in flight (Linux's
    /// TCPCB_SACKED_RETRANS). Lost and not retransmitted is what recovery
    /// sends next.
    pub retrans: bool,
    /// Ever retransmitted (Linux's TCPCB_EVER_RETRANS).
    pub ever_retrans: bool,
    /// The delivery state when it was last sent (tcp_rate).
    pub tx: TxRate,
}

impl TxSeg {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Never true for a record on the board (kept for clippy's pairing).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A segment the peer has newly acknowledged or SACKed: what RACK needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub xmit: Instant,
    pub order: u64,
    pub ever_retrans: bool,
}

/// What one ACK changed on the scoreboard, and what RACK learns from it
/// (Linux's tcp_rack_advance, called for each segment newly SACKed, in
/// sequence order, then for each newly acknowledged one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// When the ACK arrived, and the minimum RTT so far (inputs): a
    /// retransmitted segment delivered sooner than that was delivered by
    /// an earlier transmission, and RACK ignores it.
    pub now: Instant,
    pub min_rtt: Option<std::time::Duration>,
    /// The highest SACKed sequence before this ACK (Linux's prior_fack).
    pub prior_fack: Option<Seq>,
    /// Bytes newly SACKed.
    pub newly_sacked: usize,
    /// The most recently sent of the segments newly acknowledged or
    /// SACKed (RACK's candidate).
    pub latest: Option<Delivered>,
    /// The RTT of the last segment RACK took, in Linux's order (RACK.rtt),
    /// and the smallest RTT of a never-retransmitted one.
    pub rtt: Option<std::time::Duration>,
    pub min_sample: Option<std::time::Duration>,
    /// A never-retransmitted segment below one already SACKed was
    /// delivered: the path reorders (Linux's reord_seen), by this many
    /// bytes at most (the highest SACKed sequence less its start).
    pub reordered: bool,
    pub reorder_dist: usize,
    /// The most recently sent of the delivered segments, for the rate
    /// sample (tcp_rate).
    pub rate: Option<RateFrom>,
}

impl AckSummary {
    pub fn new(
        now: Instant,
        min_rtt: Option<std::time::Duration>,
        prior_fack: Option<Seq>,
    ) -> Self {
        AckSummary {
            now,
            min_rtt,
            prior_fack,
            ..AckSummary::default()
        }
    }

    fn delivered(&mut self, s: &TxSeg) {
        let rtt = self.now - s.xmit;
        if s.ever_retrans && self.min_rtt.is_none_or(|m| rtt < m) {
            return; // ambiguous: the original may have been delivered
        }
        self.rtt = Some(rtt);
        if !s.ever_retrans && self.min_sample.is_none_or(|m| rtt < m) {
            self.min_sample = Some(rtt);
        }
        let d = Delivered {
            xmit: s.xmit,
            order: s.order,
            ever_retrans: s.ever_retrans,
        };
        match self.latest {
            Some(l) if l.order > d.order => {}
            _ => self.latest = Some(d),
        }
    }
}

#[derive(Debug, Default)]
pub struct Scoreboard {
    segs: VecDeque<TxSeg>,
    /// Bytes SACKed, marked lost, and retransmitted in flight.
    pub sacked_out: usize,
    pub lost_out: usize,
    pub retrans_out: usize,
    /// Highest sequence the peer SACKed (RFC 6675's HighSACK end; Linux's
    /// fackets point), for the reordering check.
    pub high_sacked: Option<Seq>,
    /// Transmissions so far: the next one's order. RACK's "sent after"
    /// (RFC 8985 §6.2) compares these, where Linux compares microsecond
    /// timestamps and then sequence numbers: a retransmission sent after
    /// new data at the same instant is still later.
    pub sent: u64,
    /// The delivery-rate sampling interval's clock (tcp_rate).
    pub clock: RateClock,
}

impl Scoreboard {
    /// An empty board whose next transmission is number `sent + 1`.
    pub const fn resumed(sent: u64) -> Scoreboard {
        Scoreboard {
            segs: VecDeque::new(),
            sacked_out: 0,
            lost_out: 0,
            retrans_out: 0,
            high_sacked: None,
            sent,
            clock: RateClock::ZERO,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.segs.len()
    }

    pub fn first_seq(&self) -> Option<Seq> {
        self.segs.front().map(|s| s.start)
    }

    pub fn last(&self) -> Option<&TxSeg> {
        self.segs.back()
    }

    pub fn iter(&self) -> impl Iterator<Item = &TxSeg> + '_ {
        self.segs.iter()
    }

    /// Forget everything (the connection left the synchronized states).
    pub fn clear(&mut self) {
        *self = Scoreboard::default();
    }

    /// RFC 6675's pipe for the flight `[snd_una, snd_max)`, in bytes.
    pub fn pipe(&self, flight: usize) -> usize {
        (flight + self.retrans_out).saturating_sub(self.sacked_out + self.lost_out)
    }

    /// Index of the first record that ends after `seq`.
    fn find(&self, seq: Seq) -> usize {
        self.segs.partition_point(|s| s.end.le(seq))
    }

    /// Make `seq` a record boundary (split the record that holds it).
    fn split_at(&mut self, seq: Seq) {
        let i = self.find(seq);
        let Some(s) = self.segs.get(i).copied() else {
            return;
        };
        if !s.start.lt(seq) {
            return;
        }
        let mut tail = s;
        tail.start = seq;
        self.segs[i].end = seq;
        self.segs.insert(i + 1, tail);
    }

    /// `on_send` without rate sampling's state (tests).
    #[cfg(test)]
    pub fn on_send(&mut self, seq: Seq, len: usize, now: Instant) {
        self.on_send_rate(seq, len, now, 0, false);
    }

    /// A segment `[seq, seq + len)` left at `now`, with tp.delivered and
    /// the application-limited mark then (tcp_rate's snapshot). New data
    /// (at or past the last record's end) adds a record; a retransmission
    /// marks the records it covers retransmitted (in flight again, sent
    /// now).
    pub fn on_send_rate(
        &mut self,
        seq: Seq,
        len: usize,
        now: Instant,
        delivered: u32,
        app_limited: bool,
    ) {
        if len == 0 {
            return;
        }
        let idle = self.segs.is_empty();
        let tx = tcp_rate_skb_sent(&mut self.clock, idle, now, delivered, app_limited);
        let end = seq + len;
        self.sent += 1;
        let order = self.sent;
        let new_from = match self.segs.back() {
            Some(b) if b.end.gt(seq) => b.end,
            _ => seq,
        };
        if seq.lt(new_from) {
            self.split_at(seq);
            self.split_at(end.min(new_from));
            let i = self.find(seq);
            for s in self.segs.range_mut(i..) {
                if !s.start.lt(end) {
                    break;
                }
                s.xmit = now;
                s.order = order;
                s.ever_retrans = true;
                s.tx = tx;
                if s.sacked {
                    continue; // a go-back-N resend of data the peer holds
                }
                if !s.retrans {
                    s.retrans = true;
                    self.retrans_out += s.len();
                }
            }
        }
        if new_from.lt(end) {
            self.segs.push_back(TxSeg {
                start: new_from,
                end,
                xmit: now,
                order,
                sacked: false,
                lost: false,
                retrans: false,
                ever_retrans: false,
                tx,
            });
        }
    }

    /// The cumulative ACK moved to `una`: drop (or trim) what it covers.
    pub fn ack(&mut self, una: Seq, sum: &mut AckSummary) {
        while let Some(s) = self.segs.front().copied() {
            if s.end.le(una) {
                self.segs.pop_front();
                self.uncount(&s, s.len());
                if !s.sacked {
                    Self::note_delivered(&s, sum, sum.prior_fack);
                }
            } else {
                if s.start.lt(una) {
                    let cut = una - s.start;
                    self.uncount(&s, cut);
                    self.segs[0].start = una;
                    if !s.sacked {
                        Self::note_delivered(&s, sum, sum.prior_fack);
                    }
                }
                break;
            }
        }
        if self.high_sacked.is_some_and(|h| h.le(una)) {
            self.high_sacked = None;
        }
        // Everything acknowledged: the records' storage goes, as the
        // socket buffers' does when they empty, so an idle connection
        // holds none (issue 18's memory per held connection).
        if self.segs.is_empty() && self.segs.capacity() > 0 {
            self.segs = VecDeque::new();
        }
    }

    /// Heap bytes the records hold (for the idle-memory test).
    #[cfg(test)]
    fn storage(&self) -> usize {
        self.segs.capacity() * std::mem::size_of::<TxSeg>()
    }

    fn uncount(&mut self, s: &TxSeg, n: usize) {
        if s.sacked {
            self.sacked_out -= n;
        }
        if s.lost {
            self.lost_out -= n;
        }
        if s.retrans {
            self.retrans_out -= n;
        }
    }

    fn note_delivered(s: &TxSeg, sum: &mut AckSummary, fack: Option<Seq>) {
        let from = RateFrom {
            order: s.order,
            xmit: s.xmit,
            tx: s.tx,
            retrans: s.ever_retrans,
        };
        tcp_rate_skb_delivered(&mut sum.rate, from);
        sum.delivered(s);
        if let Some(h) = fack.filter(|h| !s.ever_retrans && s.end.lt(*h)) {
            sum.reordered = true;
            sum.reorder_dist = sum.reorder_dist.max(h - s.start);
        }
    }

    /// A SACK block `[l, r)`: mark the records it covers whole as held by
    /// the peer. The caller has checked the block lies within
    /// `(snd_una, snd_max]`. As Linux's tcp_match_skb_to_sack, a block
    /// takes a record whole or not at all: one of `mss` bytes or less
    /// that the block covers only in part stays unSACKed, and a longer
    /// one (several segments, TSO) is cut only at whole segments from its
    /// start, the block's left edge rounded up and its right edge down.
    pub fn sack(&mut self, l: Seq, r: Seq, mss: usize, sum: &mut AckSummary) {
        let Some(first) = self.first_seq() else {
            return;
        };
        let l = l.max(first);
        if !l.lt(r) {
            return;
        }
        self.split_for_sack(l, mss, true);
        self.split_for_sack(r, mss, false);
        let i = self.find(l);
        let mut j = i;
        while let Some(s) = self.segs.get(j).copied() {
            if !s.start.lt(r) {
                break;
            }
            if s.start.lt(l) || s.end.gt(r) {
                j += 1;
                continue; // covered in part only: not SACKed
            }
            if !s.sacked {
                Self::note_delivered(&s, sum, self.high_sacked);
                let n = s.len();
                self.uncount(&s, n);
                let m = &mut self.segs[j];
                m.sacked = true;
                m.lost = false;
                m.retrans = false;
                self.sacked_out += n;
                sum.newly_sacked += n;
            }
            j += 1;
        }
        if j > i {
            let end = self.segs[j - 1].end;
            if self.high_sacked.is_none_or(|h| h.lt(end)) {
                self.high_sacked = Some(end);
            }
        }
    }

    /// Cut the record holding a SACK block's edge `seq` at a whole number
    /// of `mss` segments from its start, as tcp_match_skb_to_sack
    /// fragments an skb: the left edge rounded up (at least one segment),
    /// the right edge down; a record of one segment is never cut.
    fn split_for_sack(&mut self, seq: Seq, mss: usize, left: bool) {
        let Some(s) = self.segs.get(self.find(seq)).copied() else {
            return;
        };
        let len = s.len();
        if !s.start.lt(seq) || mss == 0 || len <= mss {
            return;
        }
        let off = seq.diff(s.start) as usize;
        let cut = if left {
            off.max(mss).div_ceil(mss) * mss
        } else {
            off / mss * mss
        };
        if cut > 0 && cut < len {
            self.split_at(s.start + cut);
        }
    }

    /// Mark the record at `i` lost (Linux's tcp_mark_skb_lost): a
    /// retransmission of it that was in flight is lost too (RACK's lost
    /// retransmission), so it is due again. Returns the bytes that became
    /// due.
    fn mark_lost(&mut self, i: usize) -> usize {
        let s = self.segs[i];
        if s.sacked || (s.lost && !s.retrans) {
            return 0;
        }
        if s.retrans {
            self.retrans_out -= s.len();
        }
        if !s.lost {
            self.lost_out += s.len();
        }
        let m = &mut self.segs[i];
        m.retrans = false;
        m.lost = true;
        s.len()
    }

    /// RTO (Linux's tcp_enter_loss): everything not SACKed is lost and no
    /// retransmission is in flight any more.
    pub fn mark_all_lost(&mut self) {
        for i in 0..self.segs.len() {
            self.mark_lost(i);
        }
    }

    /// RACK's loss detection (RFC 8985 §6.2 step 5, Linux's
    /// tcp_rack_detect_loss): every record not SACKed and sent before the
    /// most recently delivered one (`order`) is lost once `window`
    /// (RACK's RTT + reordering window) has passed since it was sent. A
    /// lost record not yet retransmitted is skipped. Returns the
    /// bytes newly marked lost and, for records still within their window,
    /// how long until the first of them expires (the reorder timer).
    pub fn rack_detect(
        &mut self,
        order: u64,
        window: std::time::Duration,
        now: Instant,
    ) -> (usize, Option<std::time::Duration>) {
        let mut lost = 0;
        let mut wait: Option<std::time::Duration> = None;
        for i in 0..self.segs.len() {
            let s = self.segs[i];
            if s.order >= order && !s.ever_retrans {
                // Sent (first and only) after the delivered one: so was
                // every later record, whose first transmission came later
                // still. The scan stops here, so a clean ACK costs O(1).
                break;
            }
            if s.sacked || (s.lost && !s.retrans) || s.order >= order {
                continue;
            }
            let deadline = s.xmit + window;
            if deadline <= now {
                lost += self.mark_lost(i);
            } else {
                let left = deadline - now;
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
        }
        (lost, wait)
    }

    /// The first record marked lost and not retransmitted since (RFC 6675
    /// NextSeg rule 1, Linux's tcp_xmit_retransmit_queue order).
    pub fn next_lost(&self) -> Option<TxSeg> {
        if self.lost_out == 0 {
            return None;
        }
        self.segs.iter().find(|s| s.lost && !s.retrans).copied()
    }

    /// Make a record start at `seq` end no later than `seq + max` (a
    /// retransmission of at most one MSS).
    pub fn clamp_record(&mut self, seq: Seq, max: usize) {
        self.split_at(seq);
        self.split_at(seq + max);
    }

    /// Counters recomputed from the records (tests, debug checks).
    pub fn check(&self) {
        let (mut sk, mut lo, mut rt) = (0, 0, 0);
        let mut prev: Option<Seq> = None;
        for s in &self.segs {
            assert!(s.start.lt(s.end), "empty record {s:?}");
            if let Some(p) = prev {
                assert!(p == s.start, "records not contiguous at {s:?}");
            }
            prev = Some(s.end);
            assert!(!(s.sacked && (s.lost || s.retrans)), "{s:?}");
            sk += s.sacked as usize * s.len();
            lo += s.lost as usize * s.len();
            rt += s.retrans as usize * s.len();
        }
        assert_eq!(
            (sk, lo, rt),
            (self.sacked_out, self.lost_out, self.retrans_out),
            "scoreboard counters"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// Ten 100-byte segments from 1000, sent 1 ms apart.
    fn board() -> Scoreboard {
        let mut b = Scoreboard::default();
        for i in 0..10u32 {
            b.on_send(Seq(1000 + i * 100), 100, t(i as u64));
        }
        b.check();
        b
    }

    #[test]
    fn a_fully_acknowledged_board_holds_no_storage() {
        let mut b = board();
        assert!(b.storage() > 0);
        let mut sum = AckSummary::default();
        b.ack(Seq(1500), &mut sum);
        assert!(b.storage() > 0, "records left: storage kept");
        b.ack(Seq(2000), &mut sum);
        b.check();
        assert!(b.is_empty());
        assert_eq!(
            b.storage(),
            0,
            "an idle connection keeps no records' storage"
        );
    }

    #[test]
    fn sack_marks_and_pipe_excludes_sacked() {
        let mut b = board();
        let mut sum = AckSummary::default();
        b.sack(Seq(1300), Seq(1600), 100, &mut sum);
        b.check();
        assert_eq!(sum.newly_sacked, 300);
        assert_eq!(sum.latest.unwrap().order, 6, "the sixth sent");
        assert_eq!(b.sacked_out, 300);
        assert_eq!(b.pipe(1000), 700);
        // The same block again is nothing new.
        let mut sum = AckSummary::default();
        b.sack(Seq(1300), Seq(1600), 100, &mut sum);
        assert_eq!(sum.newly_sacked, 0);
        // A block that covers a one-segment record in part SACKs nothing
        // (Linux's tcp_match_skb_to_sack), at either edge.
        for (l, r) in [(1650, 1700), (1600, 1650), (1650, 1750)] {
            let mut sum = AckSummary::default();
            b.sack(Seq(l), Seq(r), 100, &mut sum);
            b.check();
            assert_eq!((sum.newly_sacked, b.len()), (0, 10), "{l}:{r}");
        }
    }

    /// One TSO record of four 100-byte segments (1000..1400): a block is
    /// cut to whole segments from the record's start, its left edge
    /// rounded up and its right edge down, as tcp_match_skb_to_sack
    /// fragments the skb.
    #[test]
    fn sack_of_a_tso_record_splits_at_whole_segments() {
        let tso = || {
            let mut b = Scoreboard::default();
            b.on_send(Seq(1000), 400, t(0));
            b
        };
        // The last byte only: less than the record's last segment.
        let mut b = tso();
        let mut sum = AckSummary::default();
        b.sack(Seq(1399), Seq(1400), 100, &mut sum);
        b.check();
        assert_eq!((sum.newly_sacked, b.len()), (0, 1));
        // 1150..1400: the left edge rounds up to 1200.
        let mut sum = AckSummary::default();
        b.sack(Seq(1150), Seq(1400), 100, &mut sum);
        b.check();
        assert_eq!((sum.newly_sacked, b.len()), (200, 2));
        assert_eq!(
            b.iter().map(|s| (s.start.0, s.sacked)).collect::<Vec<_>>(),
            [(1000, false), (1200, true)]
        );
        // 1000..1150 on a fresh record: the right edge rounds down to 1100.
        let mut b = tso();
        let mut sum = AckSummary::default();
        b.sack(Seq(1000), Seq(1150), 100, &mut sum);
        b.check();
        assert_eq!((sum.newly_sacked, b.len()), (100, 2));
        // Less than a segment from the start: nothing.
        let mut b = tso();
        let mut sum = AckSummary::default();
        b.sack(Seq(1000), Seq(1050), 100, &mut sum);
        assert_eq!((sum.newly_sacked, b.len()), (0, 1));
    }

    #[test]
    fn rack_marks_older_unsacked_segments_lost_after_the_window() {
        let mut b = board();
        let mut sum = AckSummary::default();
        b.sack(Seq(1300), Seq(1400), 100, &mut sum);
        let d = sum.latest.unwrap();
        // Records 0..3 were sent at 0, 1, 2 ms; the SACKed one at 3 ms.
        let (lost, wait) = b.rack_detect(d.order, Duration::from_millis(10), t(11));
        b.check();
        assert_eq!(lost, 200, "sent at 0 and 1 ms: 11 ms passed");
        assert_eq!(wait, Some(Duration::from_millis(1)), "the one sent at 2 ms");
        assert_eq!(b.next_lost().unwrap().start, Seq(1000));
        // Retransmit the first: still lost, but in flight (once) again.
        b.on_send(Seq(1000), 100, t(12));
        b.check();
        assert_eq!((b.lost_out, b.retrans_out), (200, 100));
        assert_eq!(b.next_lost().unwrap().start, Seq(1100));
        assert_eq!(b.pipe(1000), 1000 - 100 - 200 + 100);
        // Something sent after the retransmission arrives 11 ms later: the
        // retransmission is lost too, and due again.
        b.on_send(Seq(2000), 100, t(13));
        let mut sum = AckSummary::default();
        b.sack(Seq(2000), Seq(2100), 100, &mut sum);
        let d = sum.latest.unwrap();
        let (lost, _) = b.rack_detect(d.order, Duration::from_millis(10), t(24));
        b.check();
        assert_eq!(
            lost,
            100 + 700,
            "the retransmission, and all but 1300 sent by 9 ms"
        );
        assert_eq!((b.lost_out, b.retrans_out), (900, 0));
        assert_eq!(b.next_lost().unwrap().start, Seq(1000));
    }

    #[test]
    fn cumulative_ack_trims_and_reports_reordering() {
        let mut b = board();
        let mut sum = AckSummary::default();
        b.sack(Seq(1500), Seq(1600), 100, &mut sum);
        let mut sum = AckSummary::new(t(20), None, b.high_sacked);
        // Segment 1000..1100 arrives late (never retransmitted) below a
        // SACKed one: reordering, by 1600 - 1000 bytes.
        b.ack(Seq(1150), &mut sum);
        b.check();
        assert!(sum.reordered);
        assert_eq!(sum.reorder_dist, 600);
        assert_eq!(sum.rtt, Some(Duration::from_millis(19)), "sent at 1 ms");
        assert_eq!(b.first_seq(), Some(Seq(1150)));
        let mut sum = AckSummary::default();
        b.ack(Seq(2000), &mut sum);
        b.check();
        assert!(b.is_empty());
        assert_eq!(b.sacked_out, 0);
        assert_eq!(b.high_sacked, None);
    }

    #[test]
    fn rto_marks_all_unsacked_lost_and_keeps_sacked() {
        let mut b = board();
        let mut sum = AckSummary::default();
        b.sack(Seq(1200), Seq(1400), 100, &mut sum);
        b.on_send(Seq(1000), 100, t(20)); // a retransmission in flight
        b.mark_all_lost();
        b.check();
        assert_eq!((b.sacked_out, b.lost_out, b.retrans_out), (200, 800, 0));
        assert_eq!(b.pipe(1000), 0);
        let lost: Vec<_> = std::iter::from_fn({
            let mut b2 = b.iter().copied().collect::<Vec<_>>().into_iter();
            move || b2.next()
        })
        .filter(|s| s.lost)
        .map(|s| s.start.0)
        .collect();
        assert_eq!(lost, vec![1000, 1100, 1400, 1500, 1600, 1700, 1800, 1900]);
    }

    #[test]
    fn retransmission_longer_than_a_record_splits_nothing_and_marks_all() {
        let mut b = board();
        b.mark_all_lost();
        b.clamp_record(Seq(1000), 50);
        b.check();
        assert_eq!(b.next_lost().unwrap().len(), 50);
        b.on_send(Seq(1000), 250, t(30));
        b.check();
        assert_eq!((b.retrans_out, b.lost_out), (250, 1000));
        assert_eq!(b.next_lost().unwrap().start, Seq(1250));
        // New data beyond the end appends.
        b.on_send(Seq(2000), 100, t(31));
        b.on_send(Seq(2050), 100, t(32)); // half resend, half new
        b.check();
        assert_eq!(b.last().unwrap().end, Seq(2150));
    }
}
