//! Per-listener accept queues, under the listener's own lock (no global
//! ACCEPT lock). `sol_comp` holds completed connections waiting for
//! accept(), each holding one `so_count` reference of its socket. Half-open
//! connections are the protocol's (TCP keeps them as compact SYN-cache
//! entries on the listener's PCB: no socket exists until `sonewconn`).

use std::collections::VecDeque;

use crate::api::SocketHandle;

/// A listener's complete queue and backlog. All under the listener's lock.
#[derive(Debug, Default)]
pub struct ListenQueues {
    pub sol_comp: VecDeque<SocketHandle>,
    /// Backlog as Linux stores it (the accept queue holds up to qlimit + 1).
    pub sol_qlimit: u32,
    /// Connections taken off `sol_comp` for a program that has not
    /// accepted them yet (the stack service hands them to the listener's
    /// holder ahead of its accept): they still count in the backlog, as
    /// on Linux until accept() dequeues them.
    pub sol_handed: u32,
}

impl ListenQueues {
    pub fn new(qlimit: u32) -> ListenQueues {
        ListenQueues {
            sol_comp: VecDeque::new(),
            sol_qlimit: qlimit,
            sol_handed: 0,
        }
    }

    /// Connections waiting for accept(): queued, or handed and not yet
    /// taken (Linux's sk_ack_backlog).
    pub fn waiting(&self) -> usize {
        self.sol_comp.len() + self.sol_handed as usize
    }

    /// Linux's sk_acceptq_is_full(): `backlog > max_backlog`.
    pub fn comp_full(&self) -> bool {
        self.waiting() > self.sol_qlimit as usize
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
        assert!(!q.comp_full());
        q.sol_handed = 1;
        assert!(q.comp_full(), "a handed connection is still in the backlog");
    }
}
