//! ACK coalescing over one read batch of the device (what GRO gives
//! Linux: the segments of one NAPI poll that belong to one flow become
//! one skb, and so one ACK). The driver hands the stack the frames of a
//! batch marked `RxMeta::batch`; in-order data on an established
//! connection then leaves its output (the ACK, and whatever data the ACK
//! it carried lets go) for the batch's end, `Stack::end_rx_batch`, where
//! one ACK covers every segment of the batch. Anything else (a hole, a
//! duplicate ACK, SYN, FIN, RST) is answered at once, as before: the
//! sender's loss detection counts those ACKs one by one.

use crate::api::SocketHandle;
use crate::kern::socket::Socket;
use crate::kern::sotable::lock_live;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_var::TcpState;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

/// May the output that follows `seg` wait for the end of its batch? Only
/// in-order data on an established connection with nothing out of order
/// held, before it or after it (then the ACK only moves forward; a
/// duplicate ACK, a SACK or the ACK of a filled hole goes at once; the
/// caller checks "before").
pub(crate) fn tcp_output_may_wait(so: &Socket, seg: &TcpRepr) -> bool {
    let Some(tp) = so.so_pcb.tcp() else {
        return false;
    };
    !seg.payload.is_empty()
        && !seg
            .flags
            .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST | TcpFlags::URG)
        && tp.t_state == TcpState::Established
        && tp.reass.is_empty()
}

/// Leave the socket's output for the batch's end (once per socket).
pub(crate) fn tcp_output_wait(cx: &impl InetCx, so: &Socket) {
    let mut q = cx.inet().ack_batch.lock();
    if !q.contains(&so.handle) {
        q.push(so.handle);
    }
}

/// The batch's end: the output every waiting socket left (one ACK for
/// all of its segments in the batch). A socket whose reader sent a window
/// update meanwhile has nothing left to send.
pub(crate) fn tcp_output_batch_end(cx: &impl InetCx, now: Instant) {
    let waiting: Vec<SocketHandle> = std::mem::take(&mut *cx.inet().ack_batch.lock());
    for h in waiting {
        let Ok(sref) = cx.sockets().lookup(h) else {
            continue;
        };
        let Some(mut so) = lock_live(&sref) else {
            continue;
        };
        if so
            .so_pcb
            .tcp()
            .is_some_and(|tp| tp.t_state != TcpState::Closed)
        {
            tcp_output(cx, now, &mut so);
            tcp_timer_sync(cx, &mut so);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::trace::{accepted_with, me, peer, peer_data, recv_all, t0, Seg, ME};
    use crate::wire::{TcpFlags, TcpOptions};
    use crate::{Config, RxMeta, Stack};

    /// `seg` as one frame of a read batch.
    fn send_batched(s: &Stack, seg: &Seg) {
        let rx = RxMeta {
            batch: true,
            ..RxMeta::default()
        };
        s.handle_frame_meta(t0(), &seg.to_frame(), rx);
        s.check_invariants();
    }

    fn data(seq: u32, ack: u32, n: usize) -> Seg {
        peer_data(seq, ack, 0, n)
    }

    /// Four in-order segments (quick-ACK mode: each would be acknowledged
    /// at once) read in one batch: no ACK until the batch ends, then one
    /// that covers all four; the reader gets every byte.
    #[test]
    fn in_order_data_of_a_batch_is_acknowledged_once_at_its_end() {
        let s = Stack::new(Config::new(ME, 24));
        let (c, iss) = accepted_with(&s, TcpOptions::default());
        for i in 0..4u32 {
            send_batched(&s, &data(1 + i * 1000, iss, 1000));
        }
        assert!(recv_all(&s).is_empty(), "no ACK inside the batch");
        s.end_rx_batch(t0());
        let acks = recv_all(&s);
        assert_eq!(acks.len(), 1, "{acks:#?}");
        assert_eq!(acks[0].ack, 1 + 4000);
        let mut buf = vec![0; 8000];
        assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 4000);
        // The same segments outside a batch: one ACK each.
        let s = Stack::new(Config::new(ME, 24));
        let (_, iss) = accepted_with(&s, TcpOptions::default());
        for i in 0..4u32 {
            crate::testing::trace::send(&s, t0(), &data(1 + i * 1000, iss, 1000));
        }
        assert_eq!(recv_all(&s).len(), 4);
    }

    /// A hole in a batch is reported at once (the duplicate ACK carries
    /// what waited: nothing is left for the batch's end), and so is a FIN.
    #[test]
    fn a_hole_or_a_fin_is_answered_inside_the_batch() {
        let s = Stack::new(Config::new(ME, 24));
        let (_, iss) = accepted_with(&s, TcpOptions::default());
        send_batched(&s, &data(1, iss, 1000));
        assert!(recv_all(&s).is_empty());
        send_batched(&s, &data(2001, iss, 1000));
        let dup = recv_all(&s);
        assert_eq!(dup.len(), 1, "{dup:#?}");
        assert_eq!(dup[0].ack, 1001);
        // Filling the hole is answered at once too (out-of-order data
        // was held), then the batch's end has nothing left to send.
        send_batched(&s, &data(1001, iss, 1000));
        let filled = recv_all(&s);
        assert_eq!(filled.len(), 1, "{filled:#?}");
        assert_eq!(filled[0].ack, 3001);
        s.end_rx_batch(t0());
        assert!(recv_all(&s).is_empty());
        let fin = Seg::new(
            peer(5000),
            me(8080),
            3001,
            iss,
            TcpFlags::ACK | TcpFlags::FIN,
        );
        send_batched(&s, &fin);
        let acked = recv_all(&s);
        assert_eq!(acked.len(), 1, "{acked:#?}");
        assert_eq!(acked[0].ack, 3002);
    }
}
