//! The reassembly queues (FreeBSD's ipq, for both families): fragments
//! of one datagram per (source, destination, identification, protocol),
//! with Linux's rules and limits (see `ip_reass`, which feeds them).
//!
//! As Linux: an exact duplicate fragment is dropped; a fragment
//! overlapping another kills its whole datagram (RFC 5722, and Linux for
//! IPv4 since 4.19); a datagram longer than 65535 bytes, or a last
//! fragment disagreeing with what arrived, kills it too. Memory is bounded
//! by a high threshold, each fragment counted with an overhead as Linux
//! counts a buffer's truesize; datagrams older than the timeout go.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use crate::time::Instant;

/// What a queued fragment costs besides its bytes (Linux counts the
/// buffer's truesize, a few hundred bytes more than the data).
pub const FRAG_OVERHEAD: usize = 256;

/// Largest reassembled payload: what a 16-bit length can carry.
pub const MAX_DATAGRAM: usize = 65535;

/// One datagram being reassembled.
#[derive(Debug, Hash, PartialEq, Eq, Clone, Copy)]
pub struct ReassKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ident: u32,
    pub proto: u8,
}

#[derive(Debug)]
struct Reass {
    created: Instant,
    /// The first fragment's headers, once it arrived: IPv4's header, or
    /// IPv6's fixed header and unfragmentable part.
    head: Option<Vec<u8>>,
    /// Data by offset, never overlapping.
    frags: BTreeMap<usize, Vec<u8>>,
    /// Total length of the data, once the last fragment arrived.
    total: Option<usize>,
    /// Memory charged (data plus overhead per fragment).
    mem: usize,
}

/// The reassembly queues of one stack.
#[derive(Debug, Default)]
pub struct ReassTable {
    queues: HashMap<ReassKey, Reass>,
    mem: usize,
    /// The queues in the order they were made, per family (IPv4, IPv6):
    /// the oldest is at the front. Entries of queues gone since are
    /// skipped when met.
    order: [VecDeque<(Instant, ReassKey)>; 2],
}

/// A datagram dropped unfinished at its timeout.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired {
    pub key: ReassKey,
    /// The first fragment's headers and (up to `QUOTE_MAX` bytes of) its
    /// data, when it had arrived: what the ICMP time exceeded quotes.
    pub first: Option<(Vec<u8>, Vec<u8>)>,
}

/// Most of a first fragment's data kept for the ICMP error's quote.
const QUOTE_MAX: usize = 1280;

/// What a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Queued; the datagram is not complete.
    Pending,
    /// The datagram is complete: its first fragment's headers and data.
    Complete(Vec<u8>, Vec<u8>),
    /// Dropped (the datagram too, when it was killed).
    Dropped,
}

impl ReassTable {
    /// Memory charged to all queues.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether no datagram is being reassembled.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    fn kill(&mut self, key: &ReassKey) {
        if let Some(q) = self.queues.remove(key) {
            self.mem -= q.mem;
        }
    }

    /// The oldest live queue of a family, dropping the entries of queues
    /// gone since.
    fn oldest(&mut self, family: usize) -> Option<(Instant, ReassKey)> {
        while let Some(&(at, key)) = self.order[family].front() {
            if self.queues.get(&key).is_some_and(|q| q.created == at) {
                return Some((at, key));
            }
            self.order[family].pop_front();
        }
        None
    }

    /// Drop the entries of finished datagrams from `order[family]` once
    /// they outnumber the live ones: behind one datagram that waits out its
    /// timeout, datagrams completed meanwhile would otherwise leave an
    /// entry each, growing with the rate for up to ipfrag_time. Halving
    /// keeps it amortized O(1) per datagram.
    fn compact_order(&mut self, family: usize) {
        let order = &mut self.order[family];
        if order.len() <= 2 * self.queues.len() + 16 {
            return;
        }
        let queues = &self.queues;
        order.retain(|(at, key)| queues.get(key).is_some_and(|q| q.created == *at));
    }

    /// When the oldest datagram of either family times out (IPv4's after
    /// `t4`, IPv6's after `t6`).
    pub fn next_expiry(&mut self, t4: Duration, t6: Duration) -> Option<Instant> {
        let a = self.oldest(0).map(|(at, _)| at + t4);
        let b = self.oldest(1).map(|(at, _)| at + t6);
        a.into_iter().chain(b).min()
    }

    /// Drop the datagrams that have waited their family's timeout, oldest
    /// first: O(expired).
    pub fn expire(&mut self, now: Instant, t4: Duration, t6: Duration) -> Vec<Expired> {
        let mut out = Vec::new();
        for (family, timeout) in [(0, t4), (1, t6)] {
            while let Some((at, key)) = self.oldest(family) {
                if now.saturating_duration_since(at) < timeout {
                    break;
                }
                self.order[family].pop_front();
                let Some(q) = self.queues.remove(&key) else {
                    continue;
                };
                self.mem -= q.mem;
                let first = q.head.map(|h| {
                    let mut d = q.frags.get(&0).cloned().unwrap_or_default();
                    d.truncate(QUOTE_MAX);
                    (h, d)
                });
                out.push(Expired { key, first });
            }
        }
        out
    }

    /// Queue `data` at `offset` (`more`: not the last fragment); `head` is
    /// called for the first fragment's headers.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        now: Instant,
        key: ReassKey,
        offset: usize,
        more: bool,
        data: &[u8],
        head: impl FnOnce() -> Vec<u8>,
        high_thresh: usize,
    ) -> Outcome {
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            self.kill(&key);
            return Outcome::Dropped;
        }
        let cost = data.len() + FRAG_OVERHEAD;
        if !self.queues.contains_key(&key) {
            if self.mem + cost > high_thresh {
                return Outcome::Dropped;
            }
            let q = Reass {
                created: now,
                head: None,
                frags: BTreeMap::new(),
                total: None,
                mem: 0,
            };
            self.queues.insert(key, q);
            let family = usize::from(key.src.is_ipv6());
            self.order[family].push_back((now, key));
            self.compact_order(family);
        }
        let q = self.queues.get_mut(&key).expect("queue present");
        // An exact duplicate is dropped; any other overlap kills the datagram.
        if q.frags.get(&offset).is_some_and(|d| d.len() == data.len()) {
            return Outcome::Dropped;
        }
        let before = q.frags.range(..offset).next_back();
        let after = q.frags.range(offset..).next();
        let overlaps = before.is_some_and(|(o, d)| o + d.len() > offset)
            || after.is_some_and(|(o, _)| *o < end)
            || (data.is_empty() && more);
        let bad_end = match q.total {
            Some(t) => end > t || (!more && end != t),
            None => {
                !more
                    && q.frags
                        .last_key_value()
                        .is_some_and(|(o, d)| o + d.len() > end)
            }
        };
        if overlaps || bad_end || self.mem + cost > high_thresh {
            self.kill(&key);
            return Outcome::Dropped;
        }
        if !more {
            q.total = Some(end);
        }
        if offset == 0 {
            q.head = Some(head());
        }
        q.frags.insert(offset, data.to_vec());
        q.mem += cost;
        self.mem += cost;
        // Complete: the last fragment is in and the data has no hole.
        let Some(total) = q.total else {
            return Outcome::Pending;
        };
        if q.head.is_none() {
            return Outcome::Pending;
        }
        let mut next = 0;
        for (o, d) in &q.frags {
            if *o != next {
                return Outcome::Pending;
            }
            next += d.len();
        }
        if next != total {
            return Outcome::Pending;
        }
        let q = self.queues.remove(&key).expect("queue present");
        self.mem -= q.mem;
        let mut whole = Vec::with_capacity(total);
        for d in q.frags.into_values() {
            whole.extend_from_slice(&d);
        }
        Outcome::Complete(q.head.unwrap_or_default(), whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ident: u32) -> ReassKey {
        ReassKey {
            src: "10.0.0.9".parse().unwrap(),
            dst: "10.0.0.1".parse().unwrap(),
            ident,
            proto: 17,
        }
    }

    const T: Instant = Instant::ZERO;
    const HIGH: usize = 4 << 20;

    fn add(t: &mut ReassTable, k: u32, off: usize, more: bool, data: &[u8]) -> Outcome {
        t.add(T, key(k), off, more, data, || b"HDR".to_vec(), HIGH)
    }

    #[test]
    fn in_and_out_of_order() {
        let mut t = ReassTable::default();
        assert_eq!(add(&mut t, 1, 8, true, &[2; 8]), Outcome::Pending);
        assert_eq!(add(&mut t, 1, 16, false, &[3; 3]), Outcome::Pending);
        assert_eq!(t.len(), 1);
        let mut want = vec![1; 8];
        want.extend([2; 8]);
        want.extend([3; 3]);
        assert_eq!(
            add(&mut t, 1, 0, true, &[1; 8]),
            Outcome::Complete(b"HDR".to_vec(), want)
        );
        assert_eq!((t.len(), t.mem()), (0, 0));
    }

    #[test]
    fn duplicates_overlaps_and_bad_ends() {
        let mut t = ReassTable::default();
        assert_eq!(add(&mut t, 1, 0, true, &[1; 16]), Outcome::Pending);
        assert_eq!(
            add(&mut t, 1, 0, true, &[1; 16]),
            Outcome::Dropped,
            "duplicate"
        );
        assert_eq!(t.len(), 1, "a duplicate leaves the datagram");
        assert_eq!(
            add(&mut t, 1, 8, true, &[2; 16]),
            Outcome::Dropped,
            "overlap"
        );
        assert_eq!((t.len(), t.mem()), (0, 0), "an overlap kills the datagram");
        // The last fragment ending before data already queued.
        assert_eq!(add(&mut t, 2, 16, true, &[1; 8]), Outcome::Pending);
        assert_eq!(add(&mut t, 2, 0, false, &[1; 8]), Outcome::Dropped);
        assert!(t.is_empty());
        // Two last fragments that disagree; data past the end.
        assert_eq!(add(&mut t, 3, 8, false, &[1; 8]), Outcome::Pending);
        assert_eq!(add(&mut t, 3, 16, false, &[1; 8]), Outcome::Dropped);
        assert_eq!(add(&mut t, 4, 8, false, &[1; 8]), Outcome::Pending);
        assert_eq!(add(&mut t, 4, 16, true, &[1; 8]), Outcome::Dropped);
        // Longer than 65535 bytes.
        assert_eq!(add(&mut t, 5, 65528, true, &[1; 16]), Outcome::Dropped);
        assert!(t.is_empty());
    }

    #[test]
    fn memory_limit_and_timeout() {
        let mut t = ReassTable::default();
        let frag = vec![0u8; 1000];
        let per = 1000 + FRAG_OVERHEAD;
        let high = 10 * per;
        for i in 0..10 {
            let r = t.add(T, key(i), 0, true, &frag, Vec::new, high);
            assert_eq!(r, Outcome::Pending);
        }
        assert_eq!(t.mem(), 10 * per);
        assert_eq!(
            t.add(T, key(99), 0, true, &frag, Vec::new, high),
            Outcome::Dropped,
            "over ipfrag_high_thresh"
        );
        let (t4, t6) = (Duration::from_secs(30), Duration::from_secs(60));
        assert_eq!(t.next_expiry(t4, t6), Some(T + t4));
        let later = T + Duration::from_secs(29);
        assert!(t.expire(later, t4, t6).is_empty());
        let later = T + t4;
        let gone = t.expire(later, t4, t6);
        assert_eq!(gone.len(), 10);
        assert_eq!(gone[0].key, key(0), "oldest first");
        assert_eq!(gone[0].first, Some((Vec::new(), frag[..1000].to_vec())));
        assert_eq!(t.next_expiry(t4, t6), None);
        assert_eq!((t.len(), t.mem()), (0, 0));
    }

    #[test]
    fn expiry_follows_each_family_and_skips_finished_datagrams() {
        let mut t = ReassTable::default();
        let (t4, t6) = (Duration::from_secs(30), Duration::from_secs(60));
        let mut k6 = key(7);
        k6.src = "fd00::9".parse().unwrap();
        let head = || vec![0x45];
        // IPv6 first, then two IPv4 datagrams; one of those completes.
        t.add(T, k6, 8, true, &[1; 8], head, 1 << 20);
        let t1 = T + Duration::from_secs(1);
        t.add(t1, key(1), 0, true, &[1; 8], head, 1 << 20);
        t.add(t1, key(2), 8, true, &[1; 8], head, 1 << 20);
        let done = t.add(t1, key(1), 8, false, &[2; 8], head, 1 << 20);
        assert!(matches!(done, Outcome::Complete(..)));
        assert_eq!(t.next_expiry(t4, t6), Some(t1 + t4));
        let gone = t.expire(t1 + t4, t4, t6);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].key, key(2));
        assert_eq!(gone[0].first, None, "its first fragment never came");
        assert_eq!(t.next_expiry(t4, t6), Some(T + t6));
        assert_eq!(t.expire(T + t6, t4, t6).len(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn finished_datagrams_behind_a_waiting_one_do_not_pile_up() {
        let mut t = ReassTable::default();
        let (t4, t6) = (Duration::from_secs(30), Duration::from_secs(60));
        let head = || vec![0x45];
        // One datagram waits for its timeout; 10,000 complete behind it.
        t.add(T, key(0), 8, true, &[1; 8], head, 1 << 20);
        for i in 1..=10_000 {
            t.add(T, key(i), 0, true, &[1; 8], head, 1 << 20);
            let done = t.add(T, key(i), 8, false, &[1; 8], head, 1 << 20);
            assert!(matches!(done, Outcome::Complete(..)));
        }
        assert_eq!(t.len(), 1);
        assert!(t.order[0].len() <= 2 + 16, "{} entries", t.order[0].len());
        assert_eq!(t.next_expiry(t4, t6), Some(T + t4), "the waiting one kept");
        assert_eq!(t.expire(T + t4, t4, t6).len(), 1);
    }
}
