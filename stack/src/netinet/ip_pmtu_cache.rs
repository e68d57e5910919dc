//! The per-destination path MTU cache itself (Linux's route exceptions):
//! what ICMP errors taught about each destination, until it expires.
//! Bounded (a `DstCache`). One per stack, in `Inet`; `ip_pmtu` reads and
//! feeds it.

use std::net::IpAddr;
use std::time::Duration;

use crate::netinet::dst_cache::DstCache;
use crate::time::Instant;
use crate::wire;

/// Linux's net.ipv4.route.mtu_expires (and IPv6's) default.
pub const MTU_EXPIRES: Duration = Duration::from_secs(600);

/// Linux's net.ipv4.route.min_pmtu default: an IPv4 path is not believed
/// below it.
pub const IPV4_MIN_PMTU: usize = 552;

/// At most this many destinations are remembered.
const PMTU_MAX: usize = 4096;

/// The cache: the learnt path MTU per destination (0: none).
pub struct PmtuCache {
    entries: DstCache<usize>,
}

impl Default for PmtuCache {
    fn default() -> Self {
        PmtuCache {
            entries: DstCache::new("pmtu cache", PMTU_MAX, MTU_EXPIRES),
        }
    }
}

impl PmtuCache {
    /// A router said packets to `dst` must not exceed `mtu`. Lowers the
    /// path (never below IPv6's 1280 or IPv4's min_pmtu, never above the
    /// device's `dev_mtu`); a larger figure than what is known is ignored
    /// (the path grows back only when the entry expires). True if the
    /// path MTU changed.
    pub fn update(&self, now: Instant, dst: IpAddr, mtu: usize, dev_mtu: usize) -> bool {
        let floor = if dst.is_ipv6() {
            wire::ipv6::MIN_MTU
        } else {
            IPV4_MIN_PMTU
        };
        let mtu = mtu.max(floor);
        self.entries.update(now, dst, |known| {
            let lower = mtu < if *known == 0 { dev_mtu } else { *known };
            if lower {
                *known = mtu;
            }
            lower
        })
    }

    /// The learnt path MTU to `dst`, if one is in force at `now`.
    pub fn get(&self, now: Instant, dst: IpAddr) -> Option<usize> {
        self.entries.get(now, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Instant {
        Instant::from_millis(1000 + s * 1000)
    }

    #[test]
    fn a_path_lowers_expires_and_never_grows_from_icmp() {
        let c = PmtuCache::default();
        let dst: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(c.get(t(0), dst), None);
        assert!(c.update(t(0), dst, 1200, 1500));
        assert_eq!(c.get(t(1), dst), Some(1200));
        assert!(!c.update(t(1), dst, 1400, 1500), "an ICMP never raises it");
        assert!(!c.update(t(1), dst, 1500, 1500));
        assert!(c.update(t(2), dst, 1000, 1500));
        assert!(c.update(t(2), dst, 100, 1500), "to the floor");
        assert_eq!(c.get(t(3), dst), Some(IPV4_MIN_PMTU));
        assert_eq!(c.get(t(2 + 599), dst), Some(IPV4_MIN_PMTU));
        assert_eq!(c.get(t(2 + 600), dst), None, "expired after mtu_expires");
        let d6: IpAddr = "fd00:7::1".parse().unwrap();
        assert!(c.update(t(0), d6, 600, 1500));
        assert_eq!(c.get(t(0), d6), Some(wire::ipv6::MIN_MTU));
        assert!(!c.update(t(0), d6, 2000, 1500), "above the device's");
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = PmtuCache::default();
        for i in 0..(PMTU_MAX as u32 + 100) {
            let dst: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 + i).into();
            assert!(c.update(t(u64::from(i % 7)), dst, 1000, 1500));
        }
        assert_eq!(c.entries.len(), PMTU_MAX);
    }
}
