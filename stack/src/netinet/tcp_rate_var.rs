//! Delivery-rate sampling's state (tcp_rate.rs has the ACK and send
//! steps): what each transmission remembers (`TxRate`, on the
//! scoreboard's record), the sampling interval's clock (`RateClock`, on
//! the scoreboard while data is in flight), what lasts the connection's
//! life (`TcpRate`, inline on the TcpCb, 16 bytes) and one ACK's sample
//! (`RateSample`); the per-segment steps the scoreboard calls.

use crate::time::Instant;

/// What a transmission remembers of the connection's delivery state
/// (Linux's TCP_SKB_CB(skb)->tx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxRate {
    /// tp.delivered when it left.
    pub delivered: u32,
    /// The connection was application-limited when it left.
    pub app_limited: bool,
    /// When the latest delivery before it happened, and when the first
    /// segment of its sampling interval was sent.
    pub delivered_mstamp: Instant,
    pub first_tx: Instant,
}

impl TxRate {
    pub const ZERO: TxRate = TxRate {
        delivered: 0,
        app_limited: false,
        delivered_mstamp: Instant::ZERO,
        first_tx: Instant::ZERO,
    };
}

/// The sampling interval's clock (Linux's tp->delivered_mstamp and
/// tp->first_tx_mstamp), reset by a send with nothing in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateClock {
    pub delivered_mstamp: Instant,
    pub first_tx: Instant,
}

impl RateClock {
    pub const ZERO: RateClock = RateClock {
        delivered_mstamp: Instant::ZERO,
        first_tx: Instant::ZERO,
    };
}

/// The most recently sent of the segments one ACK delivered (Linux's
/// tcp_rate_skb_delivered keeps its snapshot in the rate sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateFrom {
    pub order: u64,
    /// When it was (last) sent.
    pub xmit: Instant,
    pub tx: TxRate,
    /// It was ever retransmitted (TCPCB_RETRANS).
    pub retrans: bool,
}

/// What lasts the connection's life (inline on the TcpCb): the
/// application-limited mark (Linux's tp->app_limited: the delivered count
/// that ends it; 0: not limited) and the last sample TCP_INFO reports
/// (rate_delivered, rate_interval_us, rate_app_limited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRate {
    pub app_limited: u32,
    pub delivered: u32,
    pub interval_us: u32,
    pub sample_app_limited: bool,
}

impl Default for TcpRate {
    /// A new socket is application-limited until its first sample (Linux's
    /// tcp_init_sock: app_limited ~0U, rate_app_limited 1).
    fn default() -> TcpRate {
        TcpRate {
            app_limited: u32::MAX,
            delivered: 0,
            interval_us: 0,
            sample_app_limited: true,
        }
    }
}

/// One ACK's rate sample (Linux's struct rate_sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSample {
    /// Segments delivered over the interval, and the interval in
    /// microseconds; None when the ACK gives no valid sample.
    pub delivered: Option<u32>,
    pub interval_us: Option<u64>,
    /// tp.delivered when the sampled segment left.
    pub prior_delivered: u32,
    /// Segments this ACK newly delivered (acknowledged or SACKed), and
    /// segments it newly marked lost.
    pub acked_sacked: u32,
    pub losses: u32,
    /// Segments in flight before the ACK (Linux's rs->prior_in_flight).
    pub prior_in_flight: u32,
    pub is_app_limited: bool,
    pub is_retrans: bool,
    /// The RTT of the sampled segment when it was not retransmitted
    /// (Linux's rs->rtt_us), microseconds.
    pub rtt_us: Option<u64>,
}

impl RateSample {
    /// No sample: nothing delivered, nothing lost.
    pub const NONE: RateSample = RateSample {
        delivered: None,
        interval_us: None,
        prior_delivered: 0,
        acked_sacked: 0,
        losses: 0,
        prior_in_flight: 0,
        is_app_limited: false,
        is_retrans: false,
        rtt_us: None,
    };

    /// The delivery rate in bytes per second of `mss`-byte segments.
    pub fn rate(&self, mss: usize) -> Option<u64> {
        let (d, i) = (self.delivered?, self.interval_us?);
        (i > 0).then(|| u64::from(d) * mss as u64 * 1_000_000 / i)
    }
}

/// A transmission's snapshot (Linux's tcp_rate_skb_sent): with nothing in
/// flight a new interval starts now.
pub(crate) fn tcp_rate_skb_sent(
    clock: &mut RateClock,
    nothing_in_flight: bool,
    now: Instant,
    delivered: u32,
    app_limited: bool,
) -> TxRate {
    if nothing_in_flight {
        *clock = RateClock {
            delivered_mstamp: now,
            first_tx: now,
        };
    }
    TxRate {
        delivered,
        app_limited,
        delivered_mstamp: clock.delivered_mstamp,
        first_tx: clock.first_tx,
    }
}

/// A segment the ACK delivered (Linux's tcp_rate_skb_delivered): the most
/// recently sent one gives the sample.
pub(crate) fn tcp_rate_skb_delivered(from: &mut Option<RateFrom>, d: RateFrom) {
    if from.is_none_or(|f| d.order > f.order) {
        *from = Some(d);
    }
}
