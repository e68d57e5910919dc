//! A bounded, expiring per-destination cache: what the stack learnt about
//! one remote address (a path MTU, a Fast Open cookie), as Linux keeps in
//! its route exceptions and tcp_metrics. A leaf lock; a full cache forgets
//! its expired entries first, then the one closest to expiry, so a host
//! that talks to many destinations cannot grow it without end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::kern::lockorder::LeafMutex;
use crate::time::Instant;

/// One destination's value and when it lapses.
struct Entry<V> {
    value: V,
    expires: Instant,
}

/// The cache: at most `max` destinations, each kept for `ttl` after it
/// was last written.
pub struct DstCache<V> {
    entries: LeafMutex<HashMap<IpAddr, Entry<V>>>,
    max: usize,
    ttl: Duration,
}

impl<V: Copy + Default> DstCache<V> {
    /// An empty cache named `name` (the lock-order checker's name).
    pub fn new(name: &'static str, max: usize, ttl: Duration) -> Self {
        DstCache {
            entries: LeafMutex::new(name, HashMap::new()),
            max,
            ttl,
        }
    }

    /// The value in force for `dst` at `now`; an expired entry is dropped.
    pub fn get(&self, now: Instant, dst: IpAddr) -> Option<V> {
        let mut t = self.entries.lock();
        match t.get(&dst) {
            Some(e) if e.expires > now => Some(e.value),
            Some(_) => {
                t.remove(&dst);
                None
            }
            None => None,
        }
    }

    /// Lets `change` edit `dst`'s value (the default if none is in force)
    /// and keeps the result for another `ttl` if it returns true; nothing
    /// is written when it returns false. Returns what `change` returned.
    pub fn update(&self, now: Instant, dst: IpAddr, change: impl FnOnce(&mut V) -> bool) -> bool {
        let mut t = self.entries.lock();
        let mut value = t
            .get(&dst)
            .filter(|e| e.expires > now)
            .map_or_else(V::default, |e| e.value);
        if !change(&mut value) {
            return false;
        }
        if t.len() >= self.max && !t.contains_key(&dst) {
            t.retain(|_, e| e.expires > now);
            if t.len() >= self.max {
                if let Some(k) = t.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k) {
                    t.remove(&k);
                }
            }
        }
        let expires = now + self.ttl;
        t.insert(dst, Entry { value, expires });
        true
    }

    /// How many destinations are held (expired ones included until met).
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether no destination is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Instant {
        Instant::from_millis(1000 + s * 1000)
    }

    fn dst(i: u32) -> IpAddr {
        std::net::Ipv4Addr::from(0x0a00_0000 + i).into()
    }

    #[test]
    fn a_value_lives_ttl_after_its_last_write_and_a_refused_change_writes_nothing() {
        let c: DstCache<u32> = DstCache::new("test cache", 8, Duration::from_secs(10));
        assert_eq!(c.get(t(0), dst(1)), None);
        assert!(!c.update(t(0), dst(1), |_| false));
        assert!(c.is_empty());
        assert!(c.update(t(0), dst(1), |v| {
            *v += 5;
            true
        }));
        assert_eq!(c.get(t(9), dst(1)), Some(5));
        assert!(c.update(t(9), dst(1), |v| {
            *v += 1;
            true
        }));
        assert_eq!(c.get(t(18), dst(1)), Some(6), "the write renewed it");
        assert_eq!(c.get(t(19), dst(1)), None, "expired");
        assert!(c.is_empty(), "and dropped when met");
        assert!(
            c.update(t(19), dst(1), |v| *v == 0),
            "an expired value reads as the default"
        );
    }

    #[test]
    fn a_full_cache_forgets_expired_entries_then_the_closest_to_expiry() {
        let c: DstCache<u8> = DstCache::new("test cache", 4, Duration::from_secs(10));
        for i in 0..4 {
            assert!(c.update(t(u64::from(i)), dst(i), |_| true));
        }
        assert!(c.update(t(4), dst(9), |_| true));
        assert_eq!(c.len(), 4);
        assert_eq!(c.get(t(4), dst(0)), None, "the oldest went");
        assert!(c.update(t(13), dst(10), |_| true));
        assert_eq!(c.len(), 2, "1, 2 and 3 had expired: 9 and 10 are left");
        for i in 0..100 {
            assert!(c.update(t(20), dst(100 + i), |_| true));
        }
        assert_eq!(c.len(), 4);
    }
}
