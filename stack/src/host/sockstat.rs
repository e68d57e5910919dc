//! The whole-stack socket listing `sockshim stat` shows (the `ss -tin`
//! view): every socket alive, queued children and TIME_WAIT included,
//! with its addresses, queues and, for TCP, its TCP_INFO.

use std::net::SocketAddr;

use super::Stack;
use crate::api::{SockInfo, SockType, SocketHandle};
use crate::kern::lockorder::so_lock;
use crate::kern::sotable::SoCx;
use crate::netinet::tcp_info::{self, TcpInfo};

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
}

impl Stack {
    /// Every socket alive, in handle order. Each socket is locked in turn,
    /// never two at once and never under the table lock (`SoTable::all`).
    pub fn socket_table(&self) -> Vec<SocketRow> {
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
                }
            })
            .collect();
        rows.sort_by_key(|r| r.handle.as_u64());
        rows
    }
}

#[cfg(test)]
mod tests {
    use crate::api::SockType;
    use crate::testing::pair::Pair;

    #[test]
    fn lists_listener_connection_and_udp_with_their_state() {
        let mut p = Pair::new(3);
        let (l, c, s) = p.connected(80);
        let u = p.b.socket(SockType::Dgram, 0).unwrap();
        let rows = p.b.socket_table();
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
    }
}
