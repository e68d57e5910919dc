//! TCP Fast Open's client cookie cache (Linux keeps it in tcp_metrics,
//! per destination): the cookie and MSS a server last gave, and whether
//! to ask in the experimental option next. One per stack, in `Inet`;
//! bounded and expiring as Linux's tcp_metrics (a `DstCache`).

use std::net::IpAddr;
use std::time::Duration;

use crate::netinet::dst_cache::DstCache;
use crate::time::Instant;
use crate::wire::FastOpen;

/// Linux's TCP_METRICS_TIMEOUT: an entry not renewed for an hour is gone.
const TFO_EXPIRES: Duration = Duration::from_secs(3600);

/// At most this many servers are remembered.
const TFO_MAX: usize = 4096;

/// What the client remembers of one server (Linux's tcp_fastopen_metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TfoMetrics {
    /// The MSS the server's SYN-ACK offered (0: none yet).
    pub mss: u16,
    /// The server's cookie (len 0: none).
    pub cookie: FastOpen,
    /// 1: ask for a cookie in the experimental option next; 2: back to
    /// kind 34 after that failed too.
    pub try_exp: u8,
}

/// The client's Fast Open cache, one entry per server address.
pub struct TfoCache {
    entries: DstCache<TfoMetrics>,
}

impl Default for TfoCache {
    fn default() -> Self {
        TfoCache {
            entries: DstCache::new("tfo cache", TFO_MAX, TFO_EXPIRES),
        }
    }
}

impl TfoCache {
    /// Linux's tcp_fastopen_cache_get: the cached MSS (if any) and the
    /// option our SYN carries: the cookie, else a request (experimental
    /// when try_exp says so).
    pub fn get(&self, now: Instant, dst: IpAddr) -> (Option<u16>, FastOpen) {
        let m = self.entries.get(now, dst).unwrap_or_default();
        let mut c = m.cookie;
        if c.len == 0 && m.try_exp == 1 {
            c.exp = true;
        }
        ((m.mss != 0).then_some(m.mss), c)
    }

    /// Linux's tcp_fastopen_cache_set.
    pub fn set(&self, now: Instant, dst: IpAddr, mss: u16, cookie: Option<FastOpen>, try_exp: u8) {
        self.entries.update(now, dst, |m| {
            if mss != 0 {
                m.mss = mss;
            }
            match cookie {
                Some(c) if c.len > 0 => m.cookie = c,
                _ => {
                    if try_exp > m.try_exp && m.cookie.len == 0 && !m.cookie.exp {
                        m.try_exp = try_exp;
                    }
                }
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keeps_cookies_and_learns_the_experimental_form() {
        let cache = TfoCache::default();
        let now = Instant::from_millis(1000);
        let dst: IpAddr = std::net::Ipv4Addr::new(192, 0, 2, 1).into();
        assert_eq!(cache.get(now, dst), (None, FastOpen::request(false)));
        // A request answered without a cookie: try the experimental form.
        cache.set(now, dst, 1460, None, 1);
        assert_eq!(cache.get(now, dst), (Some(1460), FastOpen::request(true)));
        let c = FastOpen::cookie(&[1, 2, 3, 4], true);
        cache.set(now, dst, 940, Some(c), 0);
        assert_eq!(cache.get(now, dst), (Some(940), c));
        // Not forgotten by a SYN-ACK without one.
        cache.set(now, dst, 0, None, 2);
        assert_eq!(cache.get(now, dst), (Some(940), c));
        // Forgotten an hour after the last SYN-ACK, as tcp_metrics.
        let later = now + TFO_EXPIRES;
        assert_eq!(cache.get(later, dst), (None, FastOpen::request(false)));
    }
}
