//! TX timestamps of TCP data (SO_TIMESTAMPING, Linux's tcp_tx_timestamp,
//! tcp_ack_tstamp, skb_tstamp_tx): each send on a socket asking for them
//! marks its last byte; when that byte first leaves, a SCHED
//! (SOF_TIMESTAMPING_TX_SCHED) and a SND (SOF_TIMESTAMPING_TX_SOFTWARE)
//! timestamp go to the error queue, and an ACK one (SOF_TIMESTAMPING_TX_ACK)
//! when it is cumulatively acknowledged. With SOF_TIMESTAMPING_OPT_ID the
//! entry's key is the byte's offset from the origin set with the option.
//!
//! Not kept: hardware timestamps, RX timestamps (SOF_TIMESTAMPING_RX_*,
//! SCM_TIMESTAMPING on reads), OPT_STATS/OPT_PKTINFO, the bytes of the
//! packet an entry carries without OPT_TSONLY (it reads as truncated), and
//! SO_TIMESTAMPING on other sockets than TCP (ENOPROTOOPT).

use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::linux::{
    SCM_TSTAMP_ACK, SCM_TSTAMP_SCHED, SCM_TSTAMP_SND, SOF_TIMESTAMPING_OPT_ID,
    SOF_TIMESTAMPING_OPT_ID_TCP, SOF_TIMESTAMPING_OPT_TSONLY, SOF_TIMESTAMPING_TX_ACK,
    SOF_TIMESTAMPING_TX_SCHED, SOF_TIMESTAMPING_TX_SOFTWARE,
};
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::{TcpCb, TcpState};
use crate::time::Instant;

const TX_ANY: u32 =
    SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK;

/// setsockopt(SO_TIMESTAMPING) to `flags` (sock_set_timestamping):
/// turning OPT_ID on sets the key origin at SND.UNA (at the next byte to
/// be written with OPT_ID_TCP); not on a closed or listening socket.
pub(crate) fn tcp_set_timestamping(tp: &mut TcpCb, flags: u32, snd_cc: usize) -> Result<(), Errno> {
    let prior = tp.tsflags();
    if flags & SOF_TIMESTAMPING_OPT_ID != 0 && prior & SOF_TIMESTAMPING_OPT_ID == 0 {
        if matches!(tp.t_state, TcpState::Closed | TcpState::Listen) {
            return Err(Errno::EINVAL);
        }
        let origin = if flags & SOF_TIMESTAMPING_OPT_ID_TCP != 0 {
            tp.snd_buf_seq + snd_cc
        } else {
            tp.snd_una
        };
        tp.rare_mut().tskey = origin;
    }
    if flags != prior {
        tp.rare_mut().tsflags = flags;
        tp.rare_release();
    }
    Ok(())
}

/// A send queued data ending at the send buffer's end: mark its last byte
/// if the socket asks for TX timestamps (tcp_tx_timestamp).
pub(crate) fn tcp_tx_timestamp(so: &mut Socket) {
    let end = so.so_snd.ring().len();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    if tp.tsflags() & TX_ANY == 0 || end == 0 {
        return;
    }
    let last = tp.snd_buf_seq + (end - 1);
    tp.rare_mut().tx_tstamps.push_back((last, false));
}

/// The entry key for byte `seq`: its offset from the origin with OPT_ID,
/// else 0.
fn key(flags: u32, tskey: Seq, seq: Seq) -> u32 {
    if flags & SOF_TIMESTAMPING_OPT_ID != 0 {
        (seq - tskey) as u32
    } else {
        0
    }
}

/// Queue the timestamps of `stages` for each of `keys` at `now`.
fn tcp_tstamp_queue(
    so: &mut Socket,
    flags: u32,
    stages: &[(u32, u32)],
    keys: &[u32],
    now: Instant,
) {
    let tsonly = flags & SOF_TIMESTAMPING_OPT_TSONLY != 0;
    for &k in keys {
        for &(bit, stage) in stages {
            if flags & bit != 0 {
                so.so_tstamp(stage, k, now, tsonly);
            }
        }
    }
}

/// New data `[seq, seq + len)` left at `now`: a marked byte in it that had
/// not left yet has its SCHED and SND timestamps.
pub(crate) fn tcp_tstamp_sent(so: &mut Socket, seq: Seq, len: usize, now: Instant) {
    let Some(r) = so.so_pcb.tcp_mut().and_then(|tp| tp.rare.as_mut()) else {
        return;
    };
    if r.tx_tstamps.is_empty() || len == 0 {
        return;
    }
    let flags = r.tsflags;
    let end = seq + len;
    let mut keys = Vec::new();
    for (last, sent) in r.tx_tstamps.iter_mut() {
        if !*sent && seq.le(*last) && last.lt(end) {
            *sent = true;
            keys.push(key(flags, r.tskey, *last));
        }
    }
    if flags & SOF_TIMESTAMPING_TX_ACK == 0 {
        r.tx_tstamps.retain(|(_, sent)| !sent);
    }
    let stages = [
        (SOF_TIMESTAMPING_TX_SCHED, SCM_TSTAMP_SCHED),
        (SOF_TIMESTAMPING_TX_SOFTWARE, SCM_TSTAMP_SND),
    ];
    tcp_tstamp_queue(so, flags, &stages, &keys, now);
}

/// SND.UNA reached `ackno` at `now`: marked bytes below it have their ACK
/// timestamp.
pub(crate) fn tcp_tstamp_acked(so: &mut Socket, ackno: Seq, now: Instant) {
    let Some(r) = so.so_pcb.tcp_mut().and_then(|tp| tp.rare.as_mut()) else {
        return;
    };
    let flags = r.tsflags;
    let mut keys = Vec::new();
    while let Some(&(last, _)) = r.tx_tstamps.front() {
        if !last.lt(ackno) {
            break;
        }
        r.tx_tstamps.pop_front();
        keys.push(key(flags, r.tskey, last));
    }
    let stages = [(SOF_TIMESTAMPING_TX_ACK, SCM_TSTAMP_ACK)];
    tcp_tstamp_queue(so, flags, &stages, &keys, now);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::kern::errqueue::{decode_stamp, HEAD_LEN};
    use crate::linux::*;
    use crate::testing::trace::{self, me, peer, recv_all, send, t0, Seg, ME};
    use crate::wire::{TcpFlags, TcpOptions};
    use crate::{Config, Errno, SockType, SocketHandle, Stack};

    const ACK: TcpFlags = TcpFlags::ACK;

    fn accepted(s: &Stack) -> (SocketHandle, u32) {
        let opts = TcpOptions {
            mss: Some(1000),
            ..TcpOptions::default()
        };
        trace::accepted_with(s, opts)
    }

    /// (stage, key, when, truncated) of the next error-queue entry.
    fn next(s: &Stack, c: SocketHandle) -> Result<(u32, u32, u64, bool), Errno> {
        let mut b = [0u8; 64];
        let m = s.recv(t0(), c, &mut b, MSG_ERRQUEUE)?;
        assert_eq!((m.copied, m.from), (HEAD_LEN, None));
        let u32_at = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        assert_eq!((u32_at(0), b[4]), (42, SO_EE_ORIGIN_TIMESTAMPING), "ENOMSG");
        let at = decode_stamp(&b[..m.copied]).unwrap().total_micros();
        Ok((u32_at(8), u32_at(12), at, m.full_len > 0))
    }

    /// timestamping/server.pkt: two writes of 2000 bytes; each last byte
    /// has SCHED and SND when it leaves and ACK when acknowledged, keyed
    /// from SND.UNA at the setsockopt (OPT_ID): 1999 and 3999.
    #[test]
    fn last_byte_of_each_send_is_timestamped() {
        let s = Stack::new(Config::new(ME, 24));
        let (c, iss) = accepted(&s);
        let flags = SOF_TIMESTAMPING_TX_SCHED
            | SOF_TIMESTAMPING_TX_SOFTWARE
            | SOF_TIMESTAMPING_TX_ACK
            | SOF_TIMESTAMPING_OPT_ID;
        s.setsockopt(t0(), c, SOL_SOCKET, SO_TIMESTAMPING, &flags.to_ne_bytes())
            .unwrap();
        assert_eq!(s.send(t0(), c, &[1; 2000], 0, None), Ok(2000));
        assert_eq!(s.send(t0(), c, &[1; 2000], 0, None), Ok(2000));
        assert_eq!(recv_all(&s).len(), 4);
        let t1 = t0() + Duration::from_millis(10);
        send(&s, t1, &Seg::new(peer(5000), me(8080), 1, iss + 2000, ACK));
        let t2 = t0() + Duration::from_millis(20);
        send(&s, t2, &Seg::new(peer(5000), me(8080), 1, iss + 4000, ACK));
        let (t0us, t1us, t2us) = (t0().total_micros(), t1.total_micros(), t2.total_micros());
        let want = [
            (SCM_TSTAMP_SCHED, 1999, t0us),
            (SCM_TSTAMP_SND, 1999, t0us),
            (SCM_TSTAMP_SCHED, 3999, t0us),
            (SCM_TSTAMP_SND, 3999, t0us),
            (SCM_TSTAMP_ACK, 1999, t1us),
            (SCM_TSTAMP_ACK, 3999, t2us),
        ];
        for w in want {
            assert_eq!(next(&s, c), Ok((w.0, w.1, w.2, true)));
        }
        assert_eq!(next(&s, c), Err(Errno::EAGAIN));
    }

    /// A byte that cannot leave yet (window full) is timestamped when it
    /// does; without OPT_ID the key is 0; with OPT_TSONLY nothing is
    /// truncated. Other sockets than TCP do not take the option.
    #[test]
    fn timestamp_when_the_byte_leaves() {
        let s = Stack::new(Config::new(ME, 24));
        let (c, iss) = accepted(&s);
        let flags = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_OPT_TSONLY;
        s.setsockopt(t0(), c, SOL_SOCKET, SO_TIMESTAMPING, &flags.to_ne_bytes())
            .unwrap();
        let mut b = [0u8; 4];
        s.getsockopt(c, SOL_SOCKET, SO_TIMESTAMPING, &mut b)
            .unwrap();
        assert_eq!(u32::from_ne_bytes(b), flags);
        assert_eq!(s.send(t0(), c, &[1; 11000], 0, None), Ok(11000));
        assert_eq!(recv_all(&s).len(), 10, "the initial window");
        assert_eq!(next(&s, c), Err(Errno::EAGAIN), "the last byte waits");
        let t1 = t0() + Duration::from_millis(10);
        send(&s, t1, &Seg::new(peer(5000), me(8080), 1, iss + 10000, ACK));
        assert!(!recv_all(&s).is_empty());
        assert_eq!(
            next(&s, c),
            Ok((SCM_TSTAMP_SCHED, 0, t1.total_micros(), false))
        );

        let u = s.socket(SockType::Dgram, 0).unwrap();
        let r = s.setsockopt(t0(), u, SOL_SOCKET, SO_TIMESTAMPING, &flags.to_ne_bytes());
        assert_eq!(r, Err(Errno::ENOPROTOOPT));
        let bad = 1u32 << 20;
        let r = s.setsockopt(t0(), c, SOL_SOCKET, SO_TIMESTAMPING, &bad.to_ne_bytes());
        assert_eq!(r, Err(Errno::EINVAL));
    }
}
