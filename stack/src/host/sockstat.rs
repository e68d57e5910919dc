//! The whole-stack socket listing `sockshim stat` shows (the `ss -tin`
//! view): every socket alive, queued children and TIME_WAIT included,
//! with its addresses, queues, references, buffer memory, running timers
//! and, for TCP, its TCP_INFO (`ss -tinmo`).

use std::net::SocketAddr;
use std::time::Duration;

use super::Stack;
use crate::api::{SockInfo, SockType, SocketHandle};
use crate::kern::lockorder::so_lock;
use crate::kern::socket::Socket;
use crate::kern::sotable::SoCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_info::{self, TcpInfo};
use crate::netinet::tcp_var::TcpState;
use crate::time::Instant;

/// One socket as `Stack::socket_table` reports it.
#[derive(Clone, Debug)]
pub struct SocketRow {
    pub handle: SocketHandle,
    pub ty: SockType,
    pub local: SocketAddr,
    /// None while unconnected.
    pub remote: Option<SocketAddr>,
    pub info: SockInfo,
    /// TCP sockets only.
    pub tcp: Option<TcpInfo>,
    /// `so_count`: descriptors (one per holder in the service), calls in
    /// progress and a listen-queue entry.
    pub refs: u32,
    /// On a listener's complete queue, not yet accepted.
    pub queued: bool,
    /// Buffer memory as `ss -m`'s skmem: storage held by the receive and
    /// send buffers (r, t) and their limits (rb, tb).
    pub rmem_alloc: usize,
    pub rcvbuf: usize,
    pub wmem_alloc: usize,
    pub sndbuf: usize,
    /// TCP's running timers (FreeBSD's callout names) and the time left
    /// on each, earliest first.
    pub timers: Vec<(&'static str, Duration)>,
}

/// A connection's running timers, time left from `now`, earliest first.
fn timers_of(so: &Socket, now: Instant) -> Vec<(&'static str, Duration)> {
    let Some(tp) = so.so_pcb.tcp() else {
        return Vec::new();
    };
    let t = &tp.t_timers;
    // A listener's retransmission timer runs its SYN cache.
    let rexmt = if tp.t_state == TcpState::Listen {
        "syncache"
    } else {
        "rexmt"
    };
    let mut v: Vec<(&'static str, Duration)> = [
        (rexmt, t.rexmt),
        ("persist", t.persist),
        ("keep", t.keep),
        ("2msl", t.twomsl),
        ("delack", t.delack),
        ("tlp", t.tlp),
        ("reo", t.reo),
    ]
    .into_iter()
    .filter_map(|(n, d)| d.map(|d| (n, d.saturating_duration_since(now))))
    .collect();
    v.sort_by_key(|&(_, d)| d);
    v
}

impl Stack {
    /// Every socket alive, in handle order, timers as time left from `now`. Each socket is locked in turn,
    /// never two at once and never under the table lock (`SoTable::all`).
    pub fn socket_table(&self, now: Instant) -> Vec<SocketRow> {
        let mut rows: Vec<SocketRow> = self
            .kern
            .all()
            .iter()
            .map(|sref| {
                let so = so_lock(sref);
                let pr = self.pr(&so);
                SocketRow {
                    handle: so.handle,
                    ty: so.so_type,
                    local: pr.pru_sockaddr(&so),
                    remote: pr.pru_peeraddr(&so).ok(),
                    info: pr.pru_sockinfo(&so),
                    tcp: match so.so_type {
                        SockType::Stream => tcp_info::tcp_info_of(self, &so).ok(),
                        SockType::Dgram => None,
                    },
                    refs: so.so_count(),
                    queued: so.is_queued(),
                    rmem_alloc: so.so_rcv.allocated(),
                    rcvbuf: so.so_rcv.sb_hiwat(),
                    wmem_alloc: so.so_snd.allocated(),
                    sndbuf: so.so_snd.sb_hiwat(),
                    timers: timers_of(&so, now),
                }
            })
            .collect();
        rows.sort_by_key(|r| r.handle.as_u64());
        rows
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::api::SockType;
    use crate::testing::pair::Pair;

    #[test]
    fn lists_listener_connection_and_udp_with_their_state() {
        let mut p = Pair::new(3);
        let (l, c, s) = p.connected(80);
        let u = p.b.socket(SockType::Dgram, 0).unwrap();
        let rows = p.b.socket_table(p.now);
        let row = |h| rows.iter().find(|r| r.handle == h).unwrap();
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(row(l).info.listening);
        assert_eq!(row(l).local.port(), 80);
        assert_eq!(row(l).remote, None);
        let srv = row(s);
        assert_eq!(srv.info.tcp_state, 1, "ESTABLISHED");
        assert_eq!(srv.remote, Some(p.a.getsockname(c).unwrap()));
        let ti = srv.tcp.expect("TCP_INFO of a TCP socket");
        assert!(ti.tcpi_snd_cwnd > 0 && ti.tcpi_rto > 0);
        assert!(row(u).tcp.is_none());
        assert!(row(u).timers.is_empty());
        for h in [l, s, u] {
            assert_eq!((row(h).refs, row(h).queued), (1, false), "{:?}", row(h));
        }
        assert!(row(s).rcvbuf > 0 && row(s).sndbuf > 0);
    }

    #[test]
    fn shows_references_queue_entries_memory_and_timers() {
        let mut p = Pair::new(4);
        let (l, c, s) = p.connected(80);
        p.b.sodup(s).unwrap();
        // A second connection left on the complete queue.
        let c2 = p.a.socket(SockType::Stream, 0).unwrap();
        let to = p.b.getsockname(l).unwrap();
        let _ = p.a.connect(p.now, c2, Some(to));
        p.drive();
        // Unacknowledged data: storage held and the retransmission timer on.
        p.a.send(p.now, c, b"hello", 0, None).unwrap();
        let rows = p.a.socket_table(p.now);
        let cli = rows.iter().find(|r| r.handle == c).unwrap();
        assert!(cli.wmem_alloc >= 5, "{cli:?}");
        assert_eq!(cli.timers.first().map(|t| t.0), Some("rexmt"), "{cli:?}");
        assert!(cli.timers.iter().all(|t| t.1 <= Duration::from_secs(7200)));
        let rows = p.b.socket_table(p.now);
        let row = |h| rows.iter().find(|r| r.handle == h).unwrap();
        assert_eq!(row(s).refs, 2, "a descriptor and its dup");
        let q: Vec<_> = rows.iter().filter(|r| r.queued).collect();
        assert_eq!(q.len(), 1, "{rows:?}");
        assert_eq!(q[0].refs, 1, "the queue entry's reference");
        assert_eq!(row(l).refs, 1);
        // A closes first, then B (both descriptors, its data read): A's
        // connection sits in TIME_WAIT holding no reference, with its 2MSL
        // timer.
        p.drive();
        p.b.recv(p.now, s, &mut [0; 8], 0).unwrap();
        p.a.close(p.now, c).unwrap();
        p.drive();
        p.b.close(p.now, s).unwrap();
        p.b.close(p.now, s).unwrap();
        p.drive_for(Duration::from_millis(100));
        let rows = p.a.socket_table(p.now);
        let tw = rows
            .iter()
            .find(|r| r.handle == c)
            .unwrap_or_else(|| panic!("{rows:?}"));
        assert_eq!((tw.info.tcp_state, tw.refs), (6, 0), "{tw:?}");
        assert_eq!(tw.timers.first().map(|t| t.0), Some("2msl"), "{tw:?}");
    }
}
