//! Delivery-rate sampling as Linux's tcp_rate.c (draft-cheng-iccrg-
//! delivery-rate-estimation): each transmission remembers how much the
//! peer had delivered and when (`TxRate`, Linux's TCP_SKB_CB(skb)->tx, on
//! the scoreboard's record); an ACK that delivers data turns the most
//! recently sent of the segments it delivered into a rate sample
//! (`RateSample`: segments delivered over the longer of the send and the
//! ACK intervals); a send that finds the pipe not full marks the
//! connection application-limited until that flight is delivered.
//! Congestion control (BBR) reads the sample; TCP_INFO the last one.
//!
//! What lasts the connection's life is small and inline (`TcpRate`, 16
//! bytes); the interval's clock (`RateClock`) lives on the scoreboard,
//! which exists only while data is in flight, as Linux resets it when a
//! send finds nothing in flight.

use std::time::Duration;

pub use super::tcp_rate_var::{RateClock, RateFrom, RateSample, TcpRate, TxRate};
use super::tcp_sack_send::sack_active;
use super::tcp_var::TcpCb;
use crate::time::Instant;

/// Segments in flight (Linux's tcp_packets_in_flight): RFC 6675's pipe
/// with SACK, else the flight, in MSS units rounded up.
pub(crate) fn tcp_packets_in_flight(tp: &TcpCb) -> u32 {
    let bytes = if sack_active(tp) {
        super::tcp_sack_send::tcp_pipe(tp)
    } else {
        tp.flight()
    };
    bytes.div_ceil(tp.t_maxseg.max(1)) as u32
}

/// The send path (Linux's tcp_rate_check_app_limited, at each sendmsg):
/// less than a segment unsent, the window not full and every lost
/// segment retransmitted, so what follows is limited by the application,
/// not the network, until this flight is delivered.
pub(crate) fn tcp_rate_check_app_limited(tp: &mut TcpCb, unsent: usize) {
    let in_flight = tcp_packets_in_flight(tp);
    let cwnd = (tp.cwnd / tp.t_maxseg.max(1)) as u32;
    if unsent < tp.t_maxseg && in_flight < cwnd && tp.rec.sb.lost_out <= tp.rec.sb.retrans_out {
        tp.rate.app_limited = match tp.delivered.wrapping_add(in_flight) {
            0 => 1,
            n => n,
        };
    }
}

/// An ACK's rate sample (Linux's tcp_rate_gen), after the scoreboard and
/// tp.delivered took it: `acked_sacked` segments newly delivered,
/// `losses` newly marked lost, `from` the most recently sent of the
/// delivered segments, `min_rtt` the path's smallest RTT (a sample over a
/// shorter interval is not trusted).
pub(crate) fn tcp_rate_gen(
    tp: &mut TcpCb,
    now: Instant,
    acked_sacked: u32,
    losses: u32,
    prior_in_flight: u32,
    from: Option<RateFrom>,
) -> RateSample {
    let r = &mut tp.rate;
    if r.app_limited != 0 && (tp.delivered.wrapping_sub(r.app_limited) as i32) > 0 {
        r.app_limited = 0; // the limited flight is delivered
    }
    let mut rs = RateSample {
        acked_sacked,
        losses,
        prior_in_flight,
        ..RateSample::NONE
    };
    let in_flight = tp.rec.is_live() && !tp.rec.sb.is_empty();
    if in_flight {
        let clock = &mut tp.rec.sb.clock;
        if acked_sacked > 0 {
            clock.delivered_mstamp = now;
        }
        if let Some(f) = from {
            // The next sample's send interval starts at this one's send.
            clock.first_tx = f.xmit;
        }
    }
    let Some(f) = from else {
        return rs;
    };
    rs.prior_delivered = f.tx.delivered;
    rs.is_app_limited = f.tx.app_limited;
    rs.is_retrans = f.retrans;
    if !f.retrans {
        rs.rtt_us = Some(usecs(now.saturating_duration_since(f.xmit)));
    }
    let delivered = tp.delivered.wrapping_sub(f.tx.delivered);
    let snd = f.xmit.saturating_duration_since(f.tx.first_tx);
    let ack = now.saturating_duration_since(f.tx.delivered_mstamp);
    let interval = usecs(snd.max(ack));
    rs.delivered = Some(delivered);
    // A sample over less than the minimum RTT would overestimate (a
    // spurious retransmission's delivery): none.
    if tp.rec.rack.min_rtt().is_some_and(|m| interval < usecs(m)) {
        return rs;
    }
    rs.interval_us = Some(interval);
    // TCP_INFO keeps the last sample not application-limited, or an
    // application-limited one faster than it.
    let r = &mut tp.rate;
    let faster =
        u64::from(delivered) * u64::from(r.interval_us) >= u64::from(r.delivered) * interval;
    if !rs.is_app_limited || faster {
        r.delivered = delivered;
        r.interval_us = interval.min(u32::MAX.into()) as u32;
        r.sample_app_limited = rs.is_app_limited;
    }
    rs
}

/// TCP_INFO's tcpi_delivery_rate (bytes per second) of the last sample
/// kept, and whether it was application-limited.
pub(crate) fn tcp_delivery_rate(tp: &TcpCb) -> (u64, bool) {
    let r = &tp.rate;
    let rate = if r.delivered != 0 && r.interval_us != 0 {
        u64::from(r.delivered) * tp.t_maxseg as u64 * 1_000_000 / u64::from(r.interval_us)
    } else {
        0
    };
    (rate, r.sample_app_limited)
}

fn usecs(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
