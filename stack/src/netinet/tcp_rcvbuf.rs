//! Receive-buffer autotuning (Linux's dynamic right-sizing,
//! tcp_rcv_space_adjust): unless the application fixed SO_RCVBUF, the
//! receive buffer (and so the window we offer) grows to about twice what
//! the application reads in one round trip, up to tcp_rmem[2], so a fast
//! sender is not held to the 128 KiB default. Measured when the
//! application reads (`pru_rcvd`); the buffer never shrinks.
//!
//! Also the release of the receive buffer's storage: large storage is
//! kept while the reader empties the buffer (`SockBuf::stream_rcv`), and
//! the rbuf timer (`TcpCb::rbuf_armed`) frees it once no data has arrived for
//! `TCP_RBUF_IDLE`, so an idle connection holds no buffer memory (as
//! Linux reclaims a socket's forward allocation).

use std::time::Duration;

use crate::kern::socket::Socket;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::{RcvSpace, TcpState, TCP_RBUF_IDLE};
use crate::time::Instant;

/// With no RTT measured yet (a pure receiver times nothing), a round trip
/// is taken as this long.
const RTT_UNKNOWN: Duration = Duration::from_millis(1);

/// After the application read: an emptied buffer that kept its storage
/// arms the release timer; true if it was armed now (the caller then
/// syncs the timer heap; nothing else changes for a buffer that kept
/// nothing).
pub(crate) fn tcp_rbuf_arm(so: &mut Socket) -> bool {
    if !so.so_rcv.ring().holds_idle_storage() {
        return false;
    }
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return false;
    };
    if tp.rbuf_armed || matches!(tp.t_state, TcpState::Closed | TcpState::Listen) {
        return false;
    }
    tp.rbuf_armed = true;
    true
}

/// The rbuf timer, due `TCP_RBUF_IDLE` after the last data: free the kept
/// storage if the buffer is still empty. Data since it was armed moved it
/// later (not due yet); data still queued stops it (the read that empties
/// the buffer arms it again).
pub(crate) fn tcp_timer_rbuf(now: Instant, so: &mut Socket) {
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if !tp.rbuf_armed || tp.lrcvtime + TCP_RBUF_IDLE > now {
        return;
    }
    tp.rbuf_armed = false;
    so.so_rcv.ring_mut().release_if_empty();
}

/// After the application read: if it read more in the last round trip
/// than in the one before, grow the buffer to twice that plus 16 MSS.
pub(crate) fn tcp_rcv_space_adjust(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    if so.so_rcv.user_locked {
        return;
    }
    let queued = so.so_rcv.ring().len();
    let hiwat = so.so_rcv.sb_hiwat();
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
        .srtt()
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

    /// Storage held by B's receive buffer for `s`.
    fn rcv_storage(p: &Pair, s: crate::SocketHandle) -> usize {
        let sref = p.b.lookup(s).unwrap();
        let so = crate::kern::lockorder::so_lock(&sref);
        so.so_rcv.ring().allocated()
    }

    #[test]
    fn receive_storage_is_kept_while_busy_and_released_after_idle() {
        use crate::netinet::tcp_var::TCP_RBUF_IDLE;
        use std::time::Duration;
        let mut p = Pair::new(22);
        let (_l, c, s) = p.connected(80);
        // A small exchange keeps nothing: the storage goes on empty.
        assert_eq!(p.transfer(true, c, s, b"hello"), b"hello");
        assert_eq!(rcv_storage(&p, s), 0, "small storage released on read");
        let data: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        assert!(p.transfer(true, c, s, &data) == data);
        let kept = rcv_storage(&p, s);
        assert!(
            kept >= crate::kern::ringbuf::KEEP_STORAGE,
            "kept across the reads that emptied it: {kept}"
        );
        // Data again before the idle time is up: still kept, and the
        // release waits for the idle time after the last data.
        p.drive_for(TCP_RBUF_IDLE / 2);
        assert!(p.transfer(true, c, s, &data[..1 << 20]) == data[..1 << 20]);
        p.drive_for(TCP_RBUF_IDLE * 3 / 4);
        assert!(rcv_storage(&p, s) > 0, "busy half a period ago: kept");
        p.drive_for(TCP_RBUF_IDLE / 2 + Duration::from_millis(10));
        assert_eq!(rcv_storage(&p, s), 0, "idle: released by the timer");
        // Busy again: the storage comes back and works.
        assert!(p.transfer(true, c, s, &data) == data);
        assert!(rcv_storage(&p, s) > 0);
        p.drive_for(TCP_RBUF_IDLE * 2 + Duration::from_millis(10));
        assert_eq!(rcv_storage(&p, s), 0);
    }
}
