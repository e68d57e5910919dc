//! The addresses of the loopback interface as the namespace has them now
//! (FreeBSD's in_ifaddr list; Linux's local routes on lo). At start they
//! are Linux's 127.0.0.1/8 and ::1/128; the driver reports every change
//! made in the namespace (`ip addr`, RTM_NEWADDR and RTM_DELADDR on a
//! netlink socket: `Stack::set_lo_addrs`), and the routing checks in
//! `ip.rs` read them.
//!
//! Linux makes the whole prefix of an IPv4 address on lo local (its prefix
//! route is a local one when the device is loopback), but for the prefix's
//! broadcast address, which is a broadcast route; an IPv6 address on lo is
//! local alone. The device's address is not here: the stack's own
//! (`Config::addr`), not the kernel's side of the device.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// One address on lo and its prefix length.
pub type LoAddr = (IpAddr, u8);

/// lo's addresses. Read on every packet's address check, changed only
/// when the namespace's addresses change: while they are Linux's defaults
/// (`usual`) no lock is taken.
#[derive(Debug)]
pub struct LoAddrs {
    usual: AtomicBool,
    table: RwLock<Vec<LoAddr>>,
}

fn defaults() -> Vec<LoAddr> {
    vec![
        (Ipv4Addr::LOCALHOST.into(), 8),
        (Ipv6Addr::LOCALHOST.into(), 128),
    ]
}

/// The network mask of an IPv4 prefix length.
fn mask4(plen: u8) -> u32 {
    match plen.min(32) {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

impl Default for LoAddrs {
    fn default() -> Self {
        LoAddrs {
            usual: AtomicBool::new(true),
            table: RwLock::new(defaults()),
        }
    }
}

impl LoAddrs {
    /// lo's addresses are now `addrs` (a whole dump; order kept, the first
    /// of a prefix is its primary, the source chosen for it).
    pub fn set(&self, addrs: &[LoAddr]) {
        let mut v: Vec<LoAddr> = Vec::with_capacity(addrs.len());
        for &(a, p) in addrs {
            let p = if a.is_ipv4() { p.min(32) } else { p.min(128) };
            if !v.contains(&(a, p)) {
                v.push((a, p));
            }
        }
        let mut sorted = v.clone();
        sorted.sort();
        let mut usual = defaults();
        usual.sort();
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        *t = v;
        self.usual.store(sorted == usual, Ordering::Release);
    }

    fn with<R>(&self, f: impl FnOnce(&[LoAddr]) -> R) -> R {
        f(&self.table.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Is `a` local by lo's addresses?
    pub fn is_local(&self, a: IpAddr) -> bool {
        if self.usual.load(Ordering::Acquire) {
            return a.is_loopback();
        }
        self.with(|t| {
            t.iter().any(|&(l, p)| match (l, a) {
                (IpAddr::V4(l), IpAddr::V4(a)) => {
                    let (m, a) = (mask4(p), u32::from(a));
                    m & a == m & u32::from(l) && (p >= 31 || a != u32::from(l) | !m)
                }
                (IpAddr::V6(l), IpAddr::V6(a)) => l == a,
                _ => false,
            })
        })
    }

    /// Is `a` the broadcast address of a prefix on lo (besides
    /// 127.255.255.255, which `Ipv4Addr::is_loopback` already counts)?
    pub fn is_broadcast(&self, a: Ipv4Addr) -> bool {
        if self.usual.load(Ordering::Acquire) {
            return false;
        }
        self.with(|t| {
            t.iter().any(|&(l, p)| match l {
                IpAddr::V4(l) if p < 31 => u32::from(a) == u32::from(l) | !mask4(p),
                _ => false,
            })
        })
    }

    /// The address of lo whose prefix holds `dst` (the first), the source
    /// Linux's route to it gives: None for 127/8 while usual.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.usual.load(Ordering::Acquire) {
            return None;
        }
        self.with(|t| {
            t.iter().find_map(|&(l, p)| match l {
                IpAddr::V4(l) if mask4(p) & u32::from(dst) == mask4(p) & u32::from(l) => Some(l),
                _ => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn follows_the_namespace() {
        let lo = LoAddrs::default();
        assert!(lo.is_local(ip("127.0.0.1")) && lo.is_local(ip("::1")));
        assert!(!lo.is_local(ip("192.0.2.1")));
        lo.set(&[
            (ip("127.0.0.1"), 8),
            (ip("::1"), 128),
            (ip("192.0.2.1"), 24),
        ]);
        assert!(lo.is_local(ip("192.0.2.1")) && lo.is_local(ip("192.0.2.254")));
        assert!(!lo.is_local(ip("192.0.2.255")), "a broadcast route");
        assert!(lo.is_broadcast("192.0.2.255".parse().unwrap()));
        assert_eq!(
            lo.source_for("192.0.2.9".parse().unwrap()),
            Some("192.0.2.1".parse().unwrap())
        );
        lo.set(&[(ip("::1"), 128)]);
        assert!(!lo.is_local(ip("127.0.0.1")), "127.0.0.1/8 deleted");
        lo.set(&[(ip("127.0.0.1"), 8)]);
        assert!(!lo.is_local(ip("::1")), "::1 deleted");
        lo.set(&[(ip("::1"), 128), (ip("127.0.0.1"), 8)]);
        assert!(lo.usual.load(Ordering::Relaxed), "back to Linux's");
    }
}
