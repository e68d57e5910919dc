//! Internet protocol control blocks (`Inpcb`) and the lookup tables
//! (`PcbInfo`, FreeBSD's pcbinfo): bound ports with their sharing flags,
//! TCP connections by 4-tuple, TCP listeners and UDP sockets by port.
//!
//! `PcbInfo` sits behind one `RwLock` in the stack, taken only to look up,
//! insert or remove, never across protocol work (DESIGN invariant 7). It
//! stores handles, never locks sockets.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::api::SocketHandle;
use crate::errno::Errno;

/// The connection is dead (reset, timed out, aborted); the PCB stays until
/// the socket is freed.
pub const INP_DROPPED: u32 = 0x01;
/// TCP is in TIME_WAIT.
pub const INP_TIMEWAIT: u32 = 0x02;
/// The local port was chosen automatically (autobind / bind to port 0 on connect).
pub const INP_ANONPORT: u32 = 0x04;
/// The application bound a specific local address.
pub const INP_BOUNDADDR: u32 = 0x08;

/// Addressing common to TCP and UDP. (s)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inpcb {
    pub laddr: Ipv4Addr,
    pub lport: u16,
    pub faddr: Ipv4Addr,
    pub fport: u16,
    pub inp_flags: u32,
    /// The automatically chosen port a disconnect released (a refused or
    /// dissolved connect: `tcp_disconnect`). Linux's `inet_sport` keeps
    /// it, so getsockname still reports it, though nothing holds it any
    /// more; a later bind or connect sets `lport`, which takes precedence.
    pub lport_released: u16,
    pub ttl: u8,
    pub tos: u8,
    /// IP_RECVERR.
    pub recverr: bool,
    /// IP_PKTINFO (stored and reported; no control message is delivered).
    pub pktinfo: bool,
    /// IP_MTU_DISCOVER (IP_PMTUDISC_*; Linux's default is WANT, 1).
    pub pmtudisc: u8,
    /// IP_MULTICAST_TTL (default 1).
    pub mc_ttl: u8,
    /// IP_MULTICAST_LOOP (default on).
    pub mc_loop: bool,
}

impl Inpcb {
    pub fn new(ttl: u8) -> Inpcb {
        Inpcb {
            laddr: Ipv4Addr::UNSPECIFIED,
            lport: 0,
            faddr: Ipv4Addr::UNSPECIFIED,
            fport: 0,
            inp_flags: 0,
            lport_released: 0,
            ttl,
            tos: 0,
            recverr: false,
            pktinfo: false,
            pmtudisc: 1,
            mc_ttl: 1,
            mc_loop: true,
        }
    }
    pub fn local(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.laddr, self.lport)
    }
    pub fn foreign(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.faddr, self.fport)
    }
    pub fn is_connected(&self) -> bool {
        self.fport != 0
    }
    pub fn dropped(&self) -> bool {
        self.inp_flags & INP_DROPPED != 0
    }
}

/// Which port namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One user of a port, with the flags bind conflicts are decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortUser {
    pub handle: SocketHandle,
    pub addr: Ipv4Addr,
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub listening: bool,
    /// For UDP demultiplexing: the connected peer, if any.
    pub foreign: Option<SocketAddrV4>,
}

/// (local, foreign) of a TCP connection.
pub type FourTuple = (SocketAddrV4, SocketAddrV4);

#[derive(Debug, Default)]
pub struct PcbInfo {
    ports: HashMap<(Proto, u16), Vec<PortUser>>,
    pub tcp_conns: HashMap<FourTuple, SocketHandle>,
}

fn overlaps(a: Ipv4Addr, b: Ipv4Addr) -> bool {
    a.is_unspecified() || b.is_unspecified() || a == b
}

impl PcbInfo {
    /// Would `user` conflict with the current users of `port` (Linux's
    /// inet_bind_conflict / udp_lib_lport_inuse, same-uid case)? For TCP
    /// only the *other* socket's listening matters: `user` may listen while
    /// sharing (both SO_REUSEADDR) with bound or TIME_WAIT sockets, as a
    /// server restarting on its port does.
    pub fn conflicts(&self, proto: Proto, port: u16, user: &PortUser) -> bool {
        let Some(users) = self.ports.get(&(proto, port)) else {
            return false;
        };
        users
            .iter()
            .filter(|u| u.handle != user.handle && overlaps(u.addr, user.addr))
            .any(|u| {
                if u.reuseport && user.reuseport {
                    return false;
                }
                match proto {
                    // Share only if both set SO_REUSEADDR and the other
                    // does not listen (inet_csk_bind_conflict).
                    Proto::Tcp => !u.reuseaddr || !user.reuseaddr || u.listening,
                    Proto::Udp => !(u.reuseaddr && user.reuseaddr),
                }
            })
    }

    /// Record `user` on `port` (0 picks an ephemeral port from `range`
    /// starting at `start`). Returns the port.
    pub fn bind(
        &mut self,
        proto: Proto,
        port: u16,
        user: PortUser,
        range: (u16, u16),
        start: u32,
    ) -> Result<u16, Errno> {
        let port = if port == 0 {
            let (lo, hi) = range;
            let span = (hi - lo) as u32 + 1;
            (0..span)
                .map(|i| lo + ((start.wrapping_add(i)) % span) as u16)
                .find(|p| self.ports.get(&(proto, *p)).is_none_or(|v| v.is_empty()))
                .ok_or(Errno::EADDRINUSE)?
        } else {
            if self.conflicts(proto, port, &user) {
                return Err(Errno::EADDRINUSE);
            }
            port
        };
        self.ports.entry((proto, port)).or_default().push(user);
        Ok(port)
    }

    /// Record `user` on `port` without a conflict check (a connection
    /// accepted on a listener shares the listener's port).
    pub fn add_user(&mut self, proto: Proto, port: u16, user: PortUser) {
        self.ports.entry((proto, port)).or_default().push(user);
    }

    /// Update the flags of `handle` on `port`.
    pub fn update(
        &mut self,
        proto: Proto,
        port: u16,
        handle: SocketHandle,
        f: impl FnOnce(&mut PortUser),
    ) {
        if let Some(u) = self
            .ports
            .get_mut(&(proto, port))
            .and_then(|v| v.iter_mut().find(|u| u.handle == handle))
        {
            f(u);
        }
    }

    pub fn unbind(&mut self, proto: Proto, port: u16, handle: SocketHandle) {
        if let Some(v) = self.ports.get_mut(&(proto, port)) {
            v.retain(|u| u.handle != handle);
            if v.is_empty() {
                self.ports.remove(&(proto, port));
            }
        }
    }

    pub fn users(&self, proto: Proto, port: u16) -> &[PortUser] {
        self.ports
            .get(&(proto, port))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// The best TCP listener for a SYN to `local`: exact address before wildcard.
    pub fn tcp_listener(&self, local: SocketAddrV4) -> Option<SocketHandle> {
        let users = self.users(Proto::Tcp, local.port());
        users
            .iter()
            .find(|u| u.listening && u.addr == *local.ip())
            .or_else(|| {
                users
                    .iter()
                    .find(|u| u.listening && u.addr.is_unspecified())
            })
            .map(|u| u.handle)
    }

    /// The best UDP socket for a datagram: connected exact match, then bound
    /// address, then wildcard.
    pub fn udp_lookup(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<SocketHandle> {
        let users = self.users(Proto::Udp, local.port());
        let addr_ok = |u: &PortUser| u.addr == *local.ip() || u.addr.is_unspecified();
        users
            .iter()
            .filter(|u| addr_ok(u))
            .max_by_key(|u| {
                let conn = match u.foreign {
                    Some(f) if f == remote => 2,
                    Some(_) => -10,
                    None => 0,
                };
                conn + i32::from(u.addr == *local.ip())
            })
            .filter(|u| u.foreign.is_none_or(|f| f == remote))
            .map(|u| u.handle)
    }

    pub fn port_count(&self) -> usize {
        self.ports.values().map(|v| v.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(i: u32, reuseaddr: bool) -> PortUser {
        PortUser {
            handle: SocketHandle {
                index: i,
                generation: 0,
            },
            addr: Ipv4Addr::UNSPECIFIED,
            reuseaddr,
            reuseport: false,
            listening: false,
            foreign: None,
        }
    }

    #[test]
    fn bind_conflicts_follow_linux() {
        let mut t = PcbInfo::default();
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(1, false), (32768, 60999), 0),
            Ok(80)
        );
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0),
            Err(Errno::EADDRINUSE)
        );
        t.unbind(Proto::Tcp, 80, user(1, false).handle);
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(1, true), (32768, 60999), 0),
            Ok(80)
        );
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0),
            Ok(80),
            "both SO_REUSEADDR"
        );
        t.update(Proto::Tcp, 80, user(1, true).handle, |u| u.listening = true);
        assert!(
            t.conflicts(Proto::Tcp, 80, &user(3, true)),
            "a listener blocks even with SO_REUSEADDR"
        );
        assert_eq!(
            t.bind(Proto::Udp, 80, user(9, false), (32768, 60999), 0),
            Ok(80),
            "udp is its own space"
        );
    }

    #[test]
    fn listen_may_share_with_reuseaddr_users_that_do_not_listen() {
        let mut t = PcbInfo::default();
        // A TIME_WAIT connection (SO_REUSEADDR inherited) holds port 80.
        t.bind(Proto::Tcp, 80, user(1, true), (32768, 60999), 0)
            .unwrap();
        t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0)
            .unwrap();
        let mut me = user(2, true);
        me.listening = true;
        assert!(
            !t.conflicts(Proto::Tcp, 80, &me),
            "listen over a non-listening SO_REUSEADDR user"
        );
        t.update(Proto::Tcp, 80, me.handle, |u| u.listening = true);
        let mut other = user(1, true);
        other.listening = true;
        assert!(
            t.conflicts(Proto::Tcp, 80, &other),
            "a second listener conflicts with the first"
        );
        assert!(
            t.conflicts(Proto::Tcp, 80, &user(3, false)),
            "without SO_REUSEADDR the port is in use"
        );
    }

    #[test]
    fn ephemeral_ports_come_from_range() {
        let mut t = PcbInfo::default();
        let a = t
            .bind(Proto::Udp, 0, user(1, false), (40000, 40001), 7)
            .unwrap();
        let b = t
            .bind(Proto::Udp, 0, user(2, false), (40000, 40001), 7)
            .unwrap();
        assert_ne!(a, b);
        assert!((40000..=40001).contains(&a));
        assert_eq!(
            t.bind(Proto::Udp, 0, user(3, false), (40000, 40001), 7),
            Err(Errno::EADDRINUSE)
        );
    }
}
