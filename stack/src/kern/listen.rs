//! Per-listener accept queues, under the listener's own lock (no global
//! ACCEPT lock). `sol_incomp` holds half-open connections as compact
//! SYN-cache entries (no socket yet: `sonewconn` creates the socket when the
//! handshake completes); `sol_comp` holds completed connections waiting for
//! accept(), each holding one `so_count` reference of its socket.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::api::SocketHandle;
use crate::netinet::tcp_seq::Seq;
use crate::time::Instant;

/// What the peer's SYN offered, kept until the handshake completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    /// Peer's TSval, when timestamps were negotiated.
    pub ts_recent: Option<u32>,
}

/// One half-open connection (SYN received, SYN-ACK sent).
#[derive(Clone, Debug)]
pub struct SynEntry {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub iss: Seq,
    pub irs: Seq,
    pub peer: SynOptions,
    /// Our window scale, if negotiated.
    pub rcv_wscale: u8,
    pub ts_offset: u32,
    pub retransmits: u32,
    pub first_sent: Instant,
    pub rexmt_at: Instant,
}

/// A listener's queues. All under the listener's lock.
#[derive(Debug, Default)]
pub struct ListenQueues {
    pub sol_incomp: VecDeque<SynEntry>,
    pub sol_comp: VecDeque<SocketHandle>,
    /// Backlog as Linux stores it (the accept queue holds up to qlimit + 1).
    pub sol_qlimit: u32,
    pub sol_incomp_limit: usize,
}

impl ListenQueues {
    pub fn new(qlimit: u32) -> ListenQueues {
        ListenQueues {
            sol_incomp: VecDeque::new(),
            sol_comp: VecDeque::new(),
            sol_qlimit: qlimit,
            sol_incomp_limit: (qlimit as usize).clamp(16, 4096) * 2,
        }
    }

    /// Linux's sk_acceptq_is_full(): `backlog > max_backlog`.
    pub fn comp_full(&self) -> bool {
        self.sol_comp.len() > self.sol_qlimit as usize
    }

    pub fn find_incomp(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<usize> {
        self.sol_incomp
            .iter()
            .position(|e| e.local == local && e.remote == remote)
    }

    /// Remove `child` from the complete queue; true if it was there.
    pub fn remove_comp(&mut self, child: SocketHandle) -> bool {
        match self.sol_comp.iter().position(|&h| h == child) {
            Some(i) => {
                self.sol_comp.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_queue_full_like_linux() {
        let mut q = ListenQueues::new(1);
        let h = |i| SocketHandle {
            index: i,
            generation: 0,
        };
        q.sol_comp.push_back(h(1));
        assert!(!q.comp_full(), "backlog 1 admits a second connection");
        q.sol_comp.push_back(h(2));
        assert!(q.comp_full());
        assert!(q.remove_comp(h(1)));
        assert!(!q.remove_comp(h(1)));
    }
}
