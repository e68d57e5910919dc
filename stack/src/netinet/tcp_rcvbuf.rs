//! Receive-buffer autotuning (Linux's dynamic right-sizing,
//! tcp_rcv_space_adjust): unless the application fixed SO_RCVBUF, the
//! receive buffer (and so the window we offer) grows to about twice what
//! the application reads in one round trip, up to tcp_rmem[2], so a fast
//! sender is not held to the 128 KiB default. Measured when the
//! application reads (`pru_rcvd`); the buffer never shrinks.

use std::time::Duration;

use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::RcvSpace;
use crate::time::Instant;

/// With no RTT measured yet (a pure receiver times nothing), a round trip
/// is taken as this long.
const RTT_UNKNOWN: Duration = Duration::from_millis(1);

/// After the application read: if it read more in the last round trip
/// than in the one before, grow the buffer to twice that plus 16 MSS.
pub(crate) fn tcp_rcv_space_adjust(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    if so.so_rcv.user_locked {
        return;
    }
    let queued = so.so_rcv.ring().len();
    let hiwat = so.so_rcv.sb_hiwat;
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if !tp.t_state.synchronized() {
        return;
    }
    // What the application has read up to (Linux's copied_seq).
    let copied_seq = Seq(tp.rcv_nxt.0.wrapping_sub(queued as u32));
    let mss = tp.t_maxseg.max(536);
    let Some(start) = tp.rcvq.seq else {
        tp.rcvq = RcvSpace {
            space: (10 * mss).min(hiwat),
            seq: Some(copied_seq),
            time: now,
        };
        return;
    };
    let rtt = tp
        .srtt
        .unwrap_or(RTT_UNKNOWN)
        .max(Duration::from_micros(50));
    if now.saturating_duration_since(tp.rcvq.time) < rtt {
        return;
    }
    let copied = copied_seq.diff(start).max(0) as usize;
    if copied > tp.rcvq.space {
        let rmem = cx.sysctl().tcp_rmem;
        let want = (2 * copied + 16 * mss).min(rmem[2].max(rmem[1]));
        tp.rcvq.space = copied;
        if want > hiwat {
            so.so_rcv.set_hiwat(want);
        }
    }
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.rcvq.seq = Some(copied_seq);
        tp.rcvq.time = now;
    }
}

#[cfg(test)]
mod tests {
    use crate::linux::{SOL_SOCKET, SO_RCVBUF};
    use crate::testing::pair::Pair;

    fn rcvbuf(p: &Pair, h: crate::SocketHandle) -> i32 {
        let mut v = [0u8; 4];
        p.b.getsockopt(h, SOL_SOCKET, SO_RCVBUF, &mut v).unwrap();
        i32::from_ne_bytes(v)
    }

    /// 8 MiB from A to B over a 2 ms round trip: the virtual time it
    /// took, and B's SO_RCVBUF after.
    fn bulk(user_rcvbuf: Option<i32>) -> (std::time::Duration, i32) {
        let mut p = Pair::new(21);
        let (_l, c, s) = p.connected(80);
        if let Some(b) = user_rcvbuf {
            p.b.setsockopt(p.now, s, SOL_SOCKET, SO_RCVBUF, &b.to_ne_bytes())
                .unwrap();
        }
        let data: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
        let t0 = p.now;
        assert!(p.transfer(true, c, s, &data) == data);
        let took = p.now - t0;
        (took, rcvbuf(&p, s))
    }

    #[test]
    fn receive_buffer_grows_with_what_the_reader_takes() {
        let (auto, grown) = bulk(None);
        assert!(grown > 131_072, "grown from the 128 KiB default: {grown}");
        assert!(grown <= 6_291_456, "at most tcp_rmem[2]: {grown}");
        let (fixed, kept) = bulk(Some(65_536));
        assert_eq!(kept, 131_072, "SO_RCVBUF set: doubled, never autotuned");
        assert!(
            auto * 2 < fixed,
            "a larger window is faster: {auto:?} against {fixed:?}"
        );
    }
}
