//! The TCP connection table (FreeBSD's `tcbinfo` hash, Linux's ehash):
//! (local, foreign) address pairs to the connection's socket. A key keeps
//! the addresses and ports alone (38 bytes, not two `SocketAddr`s of 32):
//! the table holds one entry per connection, so its size is part of the
//! memory per held connection (issue 18).

use std::net::{IpAddr, SocketAddr};

use crate::api::SocketHandle;
use crate::hash::FastMap;

/// (local, foreign), as `in_pcb::FourTuple` (named here again: in_pcb
/// imports this file).
type FourTuple = (SocketAddr, SocketAddr);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnKey {
    laddr: IpAddr,
    faddr: IpAddr,
    lport: u16,
    fport: u16,
}

impl ConnKey {
    fn of(t: &FourTuple) -> ConnKey {
        ConnKey {
            laddr: t.0.ip(),
            faddr: t.1.ip(),
            lport: t.0.port(),
            fport: t.1.port(),
        }
    }
}

/// Connections by (local, foreign), canonical addresses (IPv6 flow
/// labels and scopes are not part of a connection's identity here).
#[derive(Debug, Default)]
pub struct ConnTable {
    map: FastMap<ConnKey, SocketHandle>,
}

impl ConnTable {
    pub fn get(&self, t: &FourTuple) -> Option<&SocketHandle> {
        self.map.get(&ConnKey::of(t))
    }

    pub fn contains_key(&self, t: &FourTuple) -> bool {
        self.map.contains_key(&ConnKey::of(t))
    }

    pub fn insert(&mut self, t: FourTuple, h: SocketHandle) -> Option<SocketHandle> {
        self.map.insert(ConnKey::of(&t), h)
    }

    pub fn remove(&mut self, t: &FourTuple) -> Option<SocketHandle> {
        self.map.remove(&ConnKey::of(t))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(l: &str, f: &str) -> FourTuple {
        (l.parse().unwrap(), f.parse().unwrap())
    }

    #[test]
    fn finds_a_connection_by_both_ends_and_both_families() {
        let mut t = ConnTable::default();
        let h = SocketHandle {
            index: 3,
            generation: 1,
        };
        let a = tuple("10.7.0.2:80", "10.7.0.1:40000");
        let b = tuple("[fd00::2]:80", "[fd00::1]:40000");
        assert_eq!(t.insert(a, h), None);
        assert_eq!(t.get(&a), Some(&h));
        assert_eq!(t.get(&tuple("10.7.0.2:80", "10.7.0.1:40001")), None);
        assert_eq!(
            t.get(&tuple("10.7.0.1:40000", "10.7.0.2:80")),
            None,
            "ends swapped"
        );
        assert!(!t.contains_key(&b));
        t.insert(b, h);
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove(&a), Some(h));
        assert!(t.contains_key(&b) && !t.contains_key(&a));
        assert!(std::mem::size_of::<ConnKey>() <= 40, "the memory per entry");
    }
}
