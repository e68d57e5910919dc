//! How much of a write TCP_NOTSENT_LOWAT lets in, as Linux's tcp_sendmsg
//! does it: data goes into skbs of the size goal (`tcp_push`), and the
//! unsent bytes are checked against the mark only before a new skb is
//! started (sk_stream_memory_free, tcp_stream_memory_free), so a write
//! stops at the first skb boundary with the mark's worth or more unsent.
//! A full skb that heads the unsent queue leaves at once as far as the
//! congestion and receive windows allow (tcp_push_one), and what left
//! makes room in that skb for more of the same write. Here too: how many
//! bytes are unsent.

use crate::kern::socket::Socket;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_push::tcp_size_goal;
use crate::netinet::tcp_var::TcpCb;

/// Bytes queued but not yet sent.
pub(crate) fn tcp_notsent(so: &Socket) -> usize {
    let snd_cc = so.so_snd.ring().len();
    so.so_pcb.tcp().map_or(0, |tp| {
        let off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
        snd_cc.saturating_sub(off)
    })
}

/// The bytes of a `len`-byte write that Linux copies on a connection with
/// `notsent` bytes unsent and TCP_NOTSENT_LOWAT `lowat` (the send
/// buffer's own limit apart).
pub(crate) fn tcp_notsent_take(tp: &TcpCb, lowat: usize, notsent: usize, len: usize) -> usize {
    let mss = tp.t_maxseg.max(1);
    let in_flight = tp.snd_nxt.diff(tp.snd_una).max(0) as usize;
    let window = tp.cwnd.min(tp.snd_wnd as usize);
    let quota = window.saturating_sub(in_flight) / mss * mss;
    notsent_take(tcp_size_goal(tp), mss, lowat, notsent, quota, len)
}

/// `tcp_notsent_take` with the connection's figures: skbs of `goal`
/// bytes, `quota` bytes (whole segments) that may leave now.
fn notsent_take(
    goal: usize,
    mss: usize,
    lowat: usize,
    mut notsent: usize,
    mut quota: usize,
    len: usize,
) -> usize {
    // The unsent bytes of the last skb (those before it taken as whole
    // skbs): a write first fills that one, with no check.
    let mut tail = match notsent {
        0 => 0,
        n => (n - 1) % goal + 1,
    };
    let mut take = 0;
    while take < len {
        if tail == 0 || tail >= goal {
            if notsent >= lowat {
                break;
            }
            tail = 0; // a new skb
        }
        let c = (goal - tail).min(len - take);
        tail += c;
        notsent += c;
        take += c;
        if tail == goal && notsent == tail {
            // Full and the first unsent skb: tcp_push_one.
            let sent = quota.min(notsent) / mss * mss;
            quota -= sent;
            notsent -= sent;
            tail = notsent;
        }
    }
    take
}

#[cfg(test)]
mod tests {
    use super::notsent_take;

    /// packetdrill's notsent_lowat/notsent-lowat-setsockopt.pkt (mark 4000)
    /// and epoll/epoll_out_edge_notsent_lowat.pkt (32000): MSS 1000, size
    /// goal 16000, an initial window of 10 segments, a 59000-byte write.
    #[test]
    fn a_write_stops_at_the_first_skb_boundary_past_the_mark() {
        // 16000 into the first skb, 10000 of it sent, the skb topped up
        // with 10000 more: 16000 unsent, past 4000.
        assert_eq!(notsent_take(16_000, 1000, 4000, 0, 10_000, 59_000), 26_000);
        // Then one more skb while below 32000.
        assert_eq!(
            notsent_take(16_000, 1000, 32_000, 0, 10_000, 59_000),
            42_000
        );
        // Nothing may leave: one skb, then the mark is passed.
        assert_eq!(notsent_take(16_000, 1000, 4000, 0, 0, 59_000), 16_000);
        // Already past the mark with a full last skb: nothing.
        assert_eq!(notsent_take(16_000, 1000, 4000, 16_000, 0, 59_000), 0);
        // Past it with room in the last skb: that room only.
        assert_eq!(notsent_take(16_000, 1000, 4000, 5000, 0, 59_000), 11_000);
        // A short write below the mark is taken whole.
        assert_eq!(notsent_take(16_000, 1000, 32_000, 0, 10_000, 500), 500);
    }
}
