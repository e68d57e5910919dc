//! Proportional Rate Reduction (RFC 6937, Linux's tcp_cwnd_reduction):
//! during fast recovery the congestion window is set on every ACK so
//! that what is sent tracks what the peer received, scaled by
//! ssthresh / the window at the start of recovery, and once the pipe
//! falls below ssthresh it grows back towards it by slow start (PRR-SSRB).
//! Bytes, not packets: one "packet" of Linux's arithmetic is one MSS.

/// Per-recovery state (RFC 6937's prr_delivered, prr_out, RecoverFS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prr {
    /// Bytes the peer received (cumulatively or by SACK) since recovery
    /// began.
    pub delivered: usize,
    /// Bytes sent (new or retransmitted) since recovery began.
    pub out: usize,
    /// The congestion window when recovery began (Linux's prior_cwnd,
    /// RFC 6937's RecoverFS).
    pub prior_cwnd: usize,
}

impl Prr {
    pub const ZERO: Prr = Prr {
        delivered: 0,
        out: 0,
        prior_cwnd: 0,
    };

    /// Recovery begins with congestion window `cwnd` (tcp_init_cwnd_reduction).
    pub fn start(cwnd: usize) -> Prr {
        Prr {
            delivered: 0,
            out: 0,
            prior_cwnd: cwnd.max(1),
        }
    }

    /// An ACK delivered `newly` bytes (cumulatively or by SACK): the
    /// new congestion window, pipe + what may be sent now, given the pipe
    /// after the ACK, ssthresh and the MSS (Linux 6.x's
    /// tcp_cwnd_reduction). Above ssthresh the proportional part; at or
    /// below, as much as was delivered and not yet answered, one MSS more
    /// when SND.UNA advanced and nothing was newly marked lost (PRR-SSRB,
    /// else PRR-CRB), never beyond ssthresh. `sndcnt` is rounded up to
    /// whole segments, as Linux counts packets; the first call of a
    /// recovery always allows one segment (the fast retransmit). None
    /// (the window unchanged) when nothing was delivered.
    pub fn cwnd_on_ack(
        &mut self,
        newly: usize,
        pipe: usize,
        ssthresh: usize,
        mss: usize,
        ssrb: bool,
    ) -> Option<usize> {
        let mss = mss.max(1);
        if newly == 0 {
            return None;
        }
        self.delivered += newly;
        let sndcnt = if pipe > ssthresh {
            // Proportional part: ceil(delivered * ssthresh / RecoverFS) - out.
            let want =
                (self.delivered as u128 * ssthresh as u128).div_ceil(self.prior_cwnd as u128);
            (want as usize).saturating_sub(self.out)
        } else {
            let mut n = self.delivered.saturating_sub(self.out).max(newly);
            if ssrb {
                n += mss;
            }
            (ssthresh - pipe).min(n)
        };
        let mut sndcnt = sndcnt.div_ceil(mss) * mss;
        if self.out == 0 {
            sndcnt = sndcnt.max(mss);
        }
        Some(pipe + sndcnt)
    }

    /// `n` bytes left during recovery.
    pub fn sent(&mut self, n: usize) {
        self.out += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6937's first example, in segments of 1 byte: cwnd 20, one loss,
    /// ssthresh 10. PRR sends one segment for about every two delivered,
    /// never a burst, and ends with the pipe at ssthresh.
    #[test]
    fn rfc6937_example_halves_smoothly() {
        let mss = 1;
        let mut p = Prr::start(20);
        let mut pipe = 19; // one lost, already marked
        let mut sent_per_ack = Vec::new();
        for _ in 0..19 {
            pipe -= 1; // one more delivered (SACKed)
            let cwnd = p.cwnd_on_ack(1, pipe, 10, mss, false).unwrap();
            let n = cwnd.saturating_sub(pipe);
            p.sent(n);
            pipe += n;
            sent_per_ack.push(n);
        }
        assert_eq!(sent_per_ack[0], 1, "the fast retransmit goes at once");
        assert!(
            sent_per_ack.iter().all(|&n| n <= 1),
            "no burst: {sent_per_ack:?}"
        );
        assert_eq!(
            p.out, 10,
            "ssthresh/RecoverFS of the 19 delivered, rounded up"
        );
        assert_eq!(pipe, 10);
    }

    /// Below ssthresh (heavy loss) PRR-SSRB grows the pipe back by at most
    /// one MSS more than was delivered per ACK that advances SND.UNA;
    /// PRR-CRB (no advance, or a new loss) by what was delivered.
    #[test]
    fn ssrb_grows_by_delivered_plus_one() {
        let mut p = Prr::start(20_000);
        p.sent(1000);
        let cwnd = p.cwnd_on_ack(1000, 2000, 10_000, 1000, true);
        // max(delivered - out = 0, newly = 1000) + 1 MSS = 2000 may be sent.
        assert_eq!(cwnd, Some(2000 + 2000));
        let cwnd = p.cwnd_on_ack(1000, 2000, 10_000, 1000, false);
        assert_eq!(cwnd, Some(2000 + 1000), "CRB: what was delivered");
        // Close to ssthresh the room left caps it.
        let cwnd = p.cwnd_on_ack(1000, 9500, 10_000, 1000, true);
        assert_eq!(
            cwnd,
            Some(9500 + 1000),
            "500 bytes of room round up to one MSS"
        );
        assert_eq!(p.cwnd_on_ack(0, 9500, 10_000, 1000, true), None);
    }
}
