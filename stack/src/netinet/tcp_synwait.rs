//! Loopback SYNs that wait for room in a busy accept queue.
//!
//! Linux drops a SYN that finds its listener's accept queue full
//! (`sk_acceptq_is_full`, LISTENOVERFLOWS) and the connector sends it again
//! a second later. On loopback the SYN is processed in the connector's own
//! thread, and the kernel's scheduler usually lets the woken acceptors run
//! before one connector can fill a queue: gVisor's TcpPortReuseMultiThread
//! (10,000 connects to three SO_REUSEPORT listeners of backlog 40, one
//! thread each accepting) sees 1-3 such drops on this machine's kernel. In
//! our stack the whole loopback handshake runs inline in the connecting
//! thread, two to three times faster than the kernel's, and nothing makes
//! it give way to the acceptors: it filled a queue within one scheduler
//! slice 60 times in 10,000 connects, each drop a second lost.
//!
//! So a SYN that arrived over loopback and finds the accept queue full
//! waits in the listener's SYN cache instead of being dropped, **if the
//! listener is drained** (an accept(2) has looked at its queue since
//! listen) and for at most `SYNWAIT_MAX`; meanwhile its connector
//! sleeps in connect() as it would for the retransmission. Each accept
//! that leaves room lets as many waiting SYNs in as there is room
//! (`syncache_accepted`), in arrival order; at its deadline a SYN goes in
//! if there is room, else it is dropped and counted as Linux drops it.
//! A program sees the SYN arrive later, as when the kernel's softirq is
//! deferred to ksoftirqd; nothing else. A listener nobody accepts from
//! (the backlog cases) drops at once, as before; one whose program
//! stopped accepting drops `SYNWAIT_MAX` later, which its connector cannot
//! tell (its retransmission is due a second after its SYN either way).
//! SYNs from the device are never held: the peer's timing is the peer's.

use std::net::SocketAddr;
use std::time::Duration;

use crate::kern::socket::Socket;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_var::{SynWait, TcpCb};
use crate::time::Instant;
use crate::wire::TcpRepr;

/// The longest a SYN waits for room (well under the 1 s retransmission
/// that a drop costs the connector).
pub const SYNWAIT_MAX: Duration = Duration::from_millis(250);

fn tcpcb(l: &mut Socket) -> &mut TcpCb {
    l.so_pcb
        .tcp_mut()
        .expect("a TCP listener has a TcpCb for its whole life")
}

/// A SYN that found the accept queue full: keep it to wait for room, if
/// it came over loopback (`segment` is then the segment as it arrived)
/// and the listener is drained. False: drop it as before.
pub(crate) fn synwait_hold(
    now: Instant,
    l: &mut Socket,
    (local, remote): (SocketAddr, SocketAddr),
    seg: &TcpRepr,
    segment: Option<&[u8]>,
    ip_ecn: u8,
) -> bool {
    let Some(segment) = segment else {
        return false;
    };
    let sc = tcpcb(l).syncache();
    // At most a SYN cache's worth; one per 4-tuple (a retransmitted SYN
    // keeps the first one's place).
    if !sc.accepting || sc.waiting.len() >= sc.limit {
        return false;
    }
    if sc
        .waiting
        .iter()
        .any(|w| w.local == local && w.remote == remote)
    {
        return true;
    }
    sc.waiting.push_back(SynWait {
        local,
        remote,
        segment: segment.to_vec(),
        keep: seg.payload.len(),
        ip_ecn,
        until: now + SYNWAIT_MAX,
    });
    true
}

/// The SYNs to let in now, oldest first: as many as the accept queue has
/// room for, counting the half-open entries (each will want a place when
/// its ACK comes). With `expire`, those past their deadline that find no
/// room are removed too: the second list (the caller drops and counts
/// them).
pub(crate) fn synwait_take(
    now: Instant,
    l: &mut Socket,
    expire: bool,
) -> (Vec<SynWait>, Vec<SynWait>) {
    let room = l.so_listen().map_or(0, |q| {
        (q.sol_qlimit as usize + 1).saturating_sub(q.waiting())
    });
    let sc = tcpcb(l).syncache();
    let n = room.saturating_sub(sc.entries.len()).min(sc.waiting.len());
    let admit: Vec<SynWait> = sc.waiting.drain(..n).collect();
    let mut expired = Vec::new();
    if expire {
        let (gone, kept): (Vec<SynWait>, Vec<SynWait>) = std::mem::take(&mut sc.waiting)
            .into_iter()
            .partition(|w| w.until <= now);
        sc.waiting = kept.into();
        expired = gone;
    }
    (admit, expired)
}

/// The earliest deadline of a waiting SYN.
pub(crate) fn synwait_next(l: &mut Socket) -> Option<Instant> {
    let tp = l.so_pcb.tcp_mut()?;
    tp.syncache().waiting.iter().map(|w| w.until).min()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddrV4;
    use std::time::Duration;

    use crate::testing::pair::Pair;
    use crate::{Errno, SockType};

    const LO: [u8; 4] = [127, 0, 0, 1];

    /// A listener on 127.0.0.1:9000 with backlog 0 (one connection fills
    /// it, as Linux's sk_acceptq_is_full), and a socket connecting to it.
    fn listener(p: &Pair) -> crate::SocketHandle {
        let l = p.a.socket(SockType::Stream, 0).unwrap();
        p.a.bind(l, SocketAddrV4::new(LO.into(), 9000)).unwrap();
        p.a.listen(l, 0).unwrap();
        l
    }

    fn connect(p: &mut Pair) -> crate::SocketHandle {
        let c = p.a.socket(SockType::Stream, 0).unwrap();
        let to = SocketAddrV4::new(LO.into(), 9000).into();
        assert_eq!(p.a.connect(p.now, c, Some(to)), Err(Errno::EINPROGRESS));
        p.drive_for(Duration::from_millis(1));
        c
    }

    #[test]
    fn a_loopback_syn_waits_for_the_accept_of_a_drained_listener() {
        let mut p = Pair::new(31);
        let l = listener(&p);
        assert_eq!(p.a.accept(l), Err(Errno::EAGAIN), "someone accepts");
        let c1 = connect(&mut p);
        assert_eq!(p.a.connect_status(c1), Ok(true));
        let c2 = connect(&mut p);
        p.drive_for(Duration::from_millis(100));
        assert_eq!(p.a.connect_status(c2), Ok(false), "its SYN waits");
        assert_eq!(p.a.stats().drop_listen_overflow, 0, "not dropped");
        let (s1, _) = p.a.accept(l).unwrap();
        p.drive_for(Duration::from_millis(1));
        assert_eq!(
            p.a.connect_status(c2),
            Ok(true),
            "let in by the accept, not by its retransmission a second later"
        );
        let (s2, peer) = p.a.accept(l).unwrap();
        assert_eq!(peer, p.a.getsockname(c2).unwrap());
        assert_eq!(p.a.stats().drop_listen_overflow, 0);
        for h in [c1, c2, s1, s2, l] {
            p.a.close(p.now, h).unwrap();
        }
    }

    #[test]
    fn a_listener_nobody_accepts_from_drops_the_syn_at_once() {
        let mut p = Pair::new(32);
        let l = listener(&p);
        let c1 = connect(&mut p);
        assert_eq!(p.a.connect_status(c1), Ok(true));
        let c2 = connect(&mut p);
        assert_eq!(p.a.stats().drop_listen_overflow, 1, "Linux's drop");
        assert_eq!(p.a.connect_status(c2), Ok(false));
        // Its retransmission a second later finds room once accepted.
        assert!(p.a.accept(l).is_ok());
        p.drive_for(Duration::from_millis(900));
        assert_eq!(p.a.connect_status(c2), Ok(false), "waits for its RTO");
        p.drive_for(Duration::from_millis(200));
        assert_eq!(p.a.connect_status(c2), Ok(true));
    }

    #[test]
    fn a_waiting_syn_is_dropped_at_its_deadline_if_no_room_came() {
        let mut p = Pair::new(33);
        let l = listener(&p);
        assert_eq!(p.a.accept(l), Err(Errno::EAGAIN));
        let c1 = connect(&mut p);
        assert_eq!(p.a.connect_status(c1), Ok(true));
        let c2 = connect(&mut p);
        p.drive_for(super::SYNWAIT_MAX - Duration::from_millis(10));
        assert_eq!(p.a.stats().drop_listen_overflow, 0, "still waiting");
        p.drive_for(Duration::from_millis(20));
        assert_eq!(
            p.a.stats().drop_listen_overflow,
            1,
            "dropped at the deadline"
        );
        assert_eq!(p.a.connect_status(c2), Ok(false));
        // An accept now finds nothing waiting: c2 comes with its
        // retransmission, a second after its first SYN.
        assert!(p.a.accept(l).is_ok());
        p.drive_for(Duration::from_millis(100));
        assert_eq!(p.a.connect_status(c2), Ok(false));
        p.drive_for(Duration::from_millis(800));
        assert_eq!(p.a.connect_status(c2), Ok(true));
    }
}
