//! Out-of-order segment bookkeeping for TCP reassembly. The bytes themselves
//! are written straight into the receive ring beyond its in-order tail; this
//! records which sequence ranges past `rcv_nxt` are filled, in a bounded
//! list allocated whole when the first hole opens and released when the
//! last one fills (no allocation per segment; none, and 8 bytes in the
//! TcpCb, on a connection that never sees reordering or loss).

use super::tcp_seq::Seq;

/// At most this many holes are tracked; a segment that would need more is dropped.
pub const MAX_RANGES: usize = 16;

#[derive(Debug, Default)]
pub struct Reass {
    /// None while no hole is open (boxed: 8 bytes on every connection).
    holes: Option<Box<Holes>>,
}

#[derive(Debug)]
struct Holes {
    /// Sorted, disjoint, non-adjacent [start, end) ranges, all beyond rcv_nxt.
    ranges: Vec<(Seq, Seq)>,
    /// The range touched last (reported first in SACK, RFC 2018).
    last: Option<(Seq, Seq)>,
}

impl Reass {
    pub fn new() -> Reass {
        Reass { holes: None }
    }

    /// The storage held, in bytes (tests of memory per connection).
    pub fn storage(&self) -> usize {
        self.holes.as_ref().map_or(0, |h| {
            std::mem::size_of::<Holes>() + h.ranges.capacity() * std::mem::size_of::<(Seq, Seq)>()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.holes.is_none()
    }

    /// Record [start, end). Returns false (recording nothing) if it would
    /// exceed MAX_RANGES.
    pub fn insert(&mut self, start: Seq, end: Seq) -> bool {
        if !start.lt(end) {
            return true;
        }
        let h = self.holes.get_or_insert_with(|| {
            Box::new(Holes {
                ranges: Vec::with_capacity(MAX_RANGES),
                last: None,
            })
        });
        let mut s = start;
        let mut e = end;
        // Merge with every overlapping or adjacent range.
        let mut i = 0;
        while i < h.ranges.len() {
            let (rs, re) = h.ranges[i];
            if re.lt(s) || e.lt(rs) {
                i += 1;
                continue;
            }
            s = s.min(rs);
            e = e.max(re);
            h.ranges.remove(i);
        }
        if h.ranges.len() >= MAX_RANGES {
            return false;
        }
        let pos = h
            .ranges
            .iter()
            .position(|&(rs, _)| s.lt(rs))
            .unwrap_or(h.ranges.len());
        h.ranges.insert(pos, (s, e));
        h.last = Some((s, e));
        true
    }

    /// If the first range starts at or before `rcv_nxt`, remove it and return
    /// its end (the new rcv_nxt).
    pub fn take_contiguous(&mut self, rcv_nxt: Seq) -> Option<Seq> {
        let h = self.holes.as_mut()?;
        let &(s, e) = h.ranges.first()?;
        if !s.le(rcv_nxt) {
            return None;
        }
        h.ranges.remove(0);
        if h.last.is_some_and(|(_, le)| le.le(e)) {
            h.last = None;
        }
        if h.ranges.is_empty() {
            self.holes = None;
        }
        Some(e.max(rcv_nxt))
    }

    /// Up to `n` SACK blocks, the most recently changed first.
    pub fn sack_blocks(&self, n: usize) -> impl Iterator<Item = (Seq, Seq)> + '_ {
        let (ranges, last): (&[(Seq, Seq)], _) = match &self.holes {
            Some(h) => (&h.ranges, h.last),
            None => (&[], None),
        };
        let first = last.and_then(|l| ranges.iter().copied().find(|r| r.0.le(l.0) && l.1.le(r.1)));
        first
            .into_iter()
            .chain(ranges.iter().copied().filter(move |r| Some(*r) != first))
            .take(n)
    }

    pub fn clear(&mut self) {
        self.holes = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_takes_in_order() {
        let mut r = Reass::new();
        assert!(r.insert(Seq(20), Seq(30)));
        assert!(r.insert(Seq(40), Seq(50)));
        assert!(r.insert(Seq(30), Seq(40)));
        assert_eq!(
            r.sack_blocks(4).collect::<Vec<_>>(),
            vec![(Seq(20), Seq(50))]
        );
        assert_eq!(r.take_contiguous(Seq(10)), None);
        assert_eq!(r.take_contiguous(Seq(25)), Some(Seq(50)));
        assert!(r.is_empty());
        assert_eq!(r.storage(), 0, "no holes: no storage");
    }

    #[test]
    fn storage_only_while_a_hole_is_open() {
        let mut r = Reass::new();
        assert_eq!(r.storage(), 0, "a new connection holds none");
        r.insert(Seq(20), Seq(30));
        assert!(r.storage() > 0);
        r.insert(Seq(40), Seq(50));
        assert_eq!(r.take_contiguous(Seq(20)), Some(Seq(30)));
        assert!(r.storage() > 0, "one hole left");
        r.clear();
        assert_eq!(r.storage(), 0);
    }

    #[test]
    fn bounded_number_of_ranges() {
        let mut r = Reass::new();
        for i in 0..MAX_RANGES as u32 {
            assert!(r.insert(Seq(i * 10), Seq(i * 10 + 5)));
        }
        assert!(!r.insert(Seq(1000), Seq(1001)));
        assert!(r.insert(Seq(5), Seq(10)), "merging needs no new slot");
    }

    #[test]
    fn sack_reports_latest_first() {
        let mut r = Reass::new();
        r.insert(Seq(100), Seq(110));
        r.insert(Seq(200), Seq(210));
        r.insert(Seq(150), Seq(160));
        let b: Vec<_> = r.sack_blocks(3).collect();
        assert_eq!(b[0], (Seq(150), Seq(160)));
        assert_eq!(b.len(), 3);
    }
}
