//! A byte ring buffer with a hard capacity whose storage is allocated
//! when data arrives and released when it empties (as Linux frees an skb
//! once it is read), so an idle socket holds no buffer memory and the data
//! path allocates only while a buffer fills. Storage grows by doubling, a
//! power of two, up to the capacity rounded up to one: a capacity raised
//! in small steps (receive-buffer autotuning) then costs no new storage
//! and no copy of the held bytes at each step, only at each doubling.
//! Small storage is never zero-filled: only the bytes written so far are
//! initialised (the storage `Vec`'s length), the rest is spare capacity.
//! Large storage (`ZEROED_STORAGE` or more) is allocated zeroed, which
//! the allocator gives as fresh pages it does not write (calloc of an
//! mmap'd chunk): a device read into it (`tail_room`) needs no memset.
//! A ring set to keep large storage (`set_keep`, a TCP receive buffer)
//! keeps it across empties, so a busy connection does not map and fault in
//! fresh pages on every refill; its owner releases it once the connection
//! has gone idle (`release_if_empty`, from the TCP timer).

#[derive(Debug, Default)]
pub struct RingBuf {
    /// The ring: `storage.capacity()` bytes (its size) of which the first
    /// `storage.len()` have been written at least once; no storage (size
    /// 0) while nothing is held.
    storage: Vec<u8>,
    /// Offsets and counts as u32 (a socket buffer is at most `i32::MAX`
    /// bytes, as Linux's sk_rcvbuf): two rings per connection, 48 bytes
    /// each (issue 18).
    head: u32,
    len: u32,
    capacity: u32,
    /// How far past the head bytes were written (out-of-order bytes past
    /// `len` included): the storage is released only when this is 0.
    ahead: u32,
    /// The size of the last storage released (saturating): a buffer that
    /// empties and fills again at a high rate starts there, not at the
    /// minimum.
    hint: u32,
    /// Storage of `KEEP_STORAGE` or more is kept when the ring empties.
    keep: bool,
}

/// A count as stored (every count is at most the capacity, a u32).
fn n32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The smallest storage allocated.
const MIN_STORAGE: usize = 256;
/// Storage of this size or more is allocated zeroed (calloc: glibc maps
/// fresh zero pages for it, 128 KiB being its default mmap threshold,
/// which it raises only to the size of a mapped chunk freed, smaller
/// than the next doubling) instead of zero-filled when a read in place
/// first needs it: that memset was 9-23 % of a shimmed receiver's
/// instructions while its buffer grew.
const ZEROED_STORAGE: usize = 128 << 10;
/// A ring set to keep storage (`set_keep`) keeps storage of this size or
/// more when it empties (smaller storage is cheap to map again).
pub const KEEP_STORAGE: usize = 64 << 10;

impl RingBuf {
    pub fn new(capacity: usize) -> RingBuf {
        RingBuf {
            capacity: n32(capacity),
            ..RingBuf::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.len) as usize
    }
    /// Bytes of memory held by the storage (the ring's size).
    pub fn allocated(&self) -> usize {
        self.storage.capacity()
    }

    fn head(&self) -> usize {
        self.head as usize
    }
    fn ahead(&self) -> usize {
        self.ahead as usize
    }

    /// Change the hard capacity. Set below the current length, the ring
    /// keeps what it holds and takes nothing more until it has drained
    /// below it (as Linux's sk_rcvbuf set below sk_rmem_alloc).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = n32(capacity);
    }

    /// Make the ring hold at least `need` bytes (need <= capacity),
    /// linearising. The new size is a power of two, at most the capacity
    /// rounded up to one (the bytes beyond the capacity are never filled:
    /// `free` counts from the capacity).
    fn grow_to(&mut self, need: usize) {
        let old = self.allocated();
        if need <= old {
            return;
        }
        let start = if old == 0 {
            (self.hint as usize).min(self.capacity())
        } else {
            old
        };
        let mut size = start.max(MIN_STORAGE).next_power_of_two();
        while size < need {
            size *= 2;
        }
        let size = size.min(self.capacity().max(need).next_power_of_two());
        // Keep every written byte at its offset from the head, including
        // bytes written past `len` by `write_at` (out-of-order data).
        let held = self.ahead().min(old);
        let first = held.min(old - self.head());
        let new = if size >= ZEROED_STORAGE {
            let mut new = vec![0u8; size];
            self.copy_phys(&mut new[..first], self.head());
            self.copy_phys(&mut new[first..held], 0);
            new
        } else {
            let mut new = Vec::with_capacity(size);
            self.copy_out_phys(&mut new, self.head(), first);
            self.copy_out_phys(&mut new, 0, held - first);
            new
        };
        self.storage = new;
        self.head = 0;
    }

    /// Copy the ring's bytes from physical position `from` into `out`
    /// (zeroed: bytes never written stay zero).
    fn copy_phys(&self, out: &mut [u8], from: usize) {
        let k = out.len().min(self.storage.len().saturating_sub(from));
        out[..k].copy_from_slice(&self.storage[from..from + k]);
    }

    /// Append `n` bytes of the ring from physical position `from` to
    /// `out` (bytes never written read as zero: a gap between
    /// out-of-order bytes).
    fn copy_out_phys(&self, out: &mut Vec<u8>, from: usize, n: usize) {
        let init = self.storage.len();
        let k = n.min(init.saturating_sub(from));
        if k > 0 {
            out.extend_from_slice(&self.storage[from..from + k]);
        }
        out.resize(out.len() + n - k, 0);
    }

    /// Keep storage of `KEEP_STORAGE` or more when the ring empties; the
    /// owner releases it with `release_if_empty`.
    pub fn set_keep(&mut self) {
        self.keep = true;
    }

    /// Storage is held with nothing in it (kept across an empty).
    pub fn holds_idle_storage(&self) -> bool {
        self.len == 0 && self.ahead == 0 && self.allocated() > 0
    }

    /// Release the storage once nothing is held in it; true if released.
    pub fn release_if_empty(&mut self) -> bool {
        if !self.holds_idle_storage() {
            return false;
        }
        self.hint = n32(self.allocated());
        self.storage = Vec::new();
        self.head = 0;
        true
    }

    /// Write `data` at physical position `at` (at + data.len() <= size),
    /// initialising whatever lies before it (within the storage's
    /// capacity: it never reallocates).
    fn put(&mut self, at: usize, data: &[u8]) {
        let init = self.storage.len();
        if at + data.len() <= init {
            self.storage[at..at + data.len()].copy_from_slice(data);
        } else if at >= init {
            self.storage.resize(at, 0);
            self.storage.extend_from_slice(data);
        } else {
            let k = init - at;
            self.storage[at..].copy_from_slice(&data[..k]);
            self.storage.extend_from_slice(&data[k..]);
        }
    }

    /// The stored bytes as at most two slices, oldest first.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        if self.len == 0 {
            return (&[], &[]);
        }
        let cap = self.allocated();
        let end = self.head() + self.len();
        if end <= cap {
            (&self.storage[self.head()..end], &[])
        } else {
            (&self.storage[self.head()..], &self.storage[..end - cap])
        }
    }

    /// `len` bytes starting `offset` past the head, as at most two slices.
    pub fn slices_at(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let (a, b) = self.as_slices();
        let end = (offset + len).min(self.len());
        let offset = offset.min(end);
        if offset >= a.len() {
            (&b[offset - a.len()..end - a.len()], &[])
        } else if end <= a.len() {
            (&a[offset..end], &[])
        } else {
            (&a[offset..], &b[..end - a.len()])
        }
    }

    /// Append as much of `data` as fits; returns the count appended.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.write_at(self.len(), &data[..n]);
        self.len += n32(n);
        n
    }

    /// Write `data` at `offset` past the head without changing the length
    /// (out-of-order reassembly); bytes beyond capacity are not written.
    /// Returns the count written.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.capacity() {
            return 0;
        }
        let n = data.len().min(self.capacity() - offset);
        if n == 0 {
            return 0;
        }
        self.grow_to(offset + n);
        let cap = self.allocated();
        let start = (self.head() + offset) % cap;
        let first = n.min(cap - start);
        self.put(start, &data[..first]);
        if first < n {
            self.put(0, &data[first..n]);
        }
        self.ahead = self.ahead.max(n32(offset + n));
        n
    }

    /// Extend the length by `n` bytes already written with `write_at`.
    pub fn commit(&mut self, n: usize) {
        debug_assert!(self.len() + n <= self.ahead());
        self.len = n32(self.len() + n).min(self.ahead);
    }

    /// The free space right after the held bytes, as one slice of at most
    /// `max` bytes, for a caller to write the next bytes into in place
    /// (the device read straight into the buffer: tcp_rxplace.rs), then
    /// `commit_placed` what it wrote. Empty when bytes are held past the
    /// length (out-of-order data lives there). Grows the storage as a
    /// push of `max` bytes would, and initialises it once (a ring never
    /// hands out memory it has not written).
    pub fn tail_room(&mut self, max: usize) -> &mut [u8] {
        if self.ahead != self.len {
            return &mut [];
        }
        let want = max.min(self.free());
        if want == 0 {
            return &mut [];
        }
        self.grow_to(self.len() + want);
        let cap = self.allocated();
        if self.storage.len() < cap {
            self.storage.resize(cap, 0);
        }
        let tail = (self.head() + self.len()) % cap;
        // Contiguous: up to the storage's end, or to the head once wrapped.
        let end = if tail >= self.head() && self.len() < cap {
            cap
        } else {
            self.head()
        };
        let n = (end - tail).min(want);
        &mut self.storage[tail..tail + n]
    }

    /// Extend the length by `n` bytes written through `tail_room`.
    pub fn commit_placed(&mut self, n: usize) {
        debug_assert!(self.ahead == self.len && n <= self.free());
        let n = n.min(self.free());
        self.len += n32(n);
        self.ahead = self.ahead.max(self.len);
    }

    /// Copy bytes starting `offset` past the head into `out`; returns count.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len() {
            return 0;
        }
        let n = out.len().min(self.len() - offset);
        let cap = self.allocated();
        let start = (self.head() + offset) % cap;
        let first = n.min(cap - start);
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        out[first..n].copy_from_slice(&self.storage[..n - first]);
        n
    }

    /// Drop `n` bytes from the head.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        if n == 0 {
            return;
        }
        let k = n32(n);
        self.len -= k;
        self.ahead = self.ahead.saturating_sub(k).max(self.len);
        // The head moves even when empty: bytes past `len` keep their offsets.
        self.head = n32((self.head() + n) % self.allocated());
        if self.len == 0 && self.ahead == 0 {
            // Nothing held: kept storage refills from its start, as fresh
            // storage would (the same hot pages, no wrap).
            self.head = 0;
        }
        if !self.keep || self.allocated() < KEEP_STORAGE {
            self.release_if_empty();
        }
    }

    /// Copy out and consume up to `out.len()` bytes.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.read_at(0, out);
        self.consume(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_wraps_and_grows_lazily() {
        let mut r = RingBuf::new(10_000);
        assert_eq!(r.allocated(), 0);
        let data: Vec<u8> = (0..9000u32).map(|i| i as u8).collect();
        assert_eq!(r.push(&data), 9000);
        assert_eq!(r.allocated(), 16_384, "a power of two");
        let mut out = vec![0; 5000];
        assert_eq!(r.pop(&mut out), 5000);
        assert_eq!(&out[..], &data[..5000]);
        assert_eq!(r.push(&data[..4000]), 4000); // wraps
        let mut all = vec![0; 8000];
        assert_eq!(r.pop(&mut all), 8000);
        assert_eq!(&all[..4000], &data[5000..]);
        assert_eq!(&all[4000..], &data[..4000]);
        assert!(r.is_empty());
    }

    #[test]
    fn write_at_then_commit_reassembles() {
        let mut r = RingBuf::new(100);
        assert_eq!(r.write_at(10, b"world"), 5);
        assert_eq!(r.push(b"hello....."), 10);
        r.commit(5);
        let mut out = [0u8; 15];
        assert_eq!(r.read_at(0, &mut out), 15);
        assert_eq!(&out, b"hello.....world");
        assert_eq!(r.write_at(98, b"xyz"), 2);
        assert_eq!(r.write_at(100, b"x"), 0);
    }

    #[test]
    fn slices_at_spans_the_wrap() {
        let mut r = RingBuf::new(8192);
        let data: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        r.push(&data);
        r.consume(6000);
        r.push(&data[..5000]);
        let (a, b) = r.slices_at(1000, 3000);
        let joined: Vec<u8> = a.iter().chain(b).copied().collect();
        let mut expect = vec![0; 3000];
        r.read_at(1000, &mut expect);
        assert_eq!(joined, expect);
        assert_eq!(
            r.slices_at(7000, 10).0.len() + r.slices_at(7000, 10).1.len(),
            10
        );
    }

    #[test]
    fn growth_and_consume_keep_out_of_order_bytes() {
        let mut r = RingBuf::new(1 << 20);
        r.push(&[1; 100]);
        r.write_at(5000, b"later"); // beyond len, forces growth past 4096
        r.write_at(20_000, b"much later"); // growth again
        let mut sink = vec![0; 100];
        r.pop(&mut sink); // empty now; head must not jump back
        r.push(&vec![2; 4900]);
        r.commit(5);
        let mut out = [0u8; 5];
        assert_eq!(r.read_at(4900, &mut out), 5);
        assert_eq!(&out, b"later");
        let mut fill = vec![0u8; 19_900 - 4905];
        fill.fill(3);
        r.push(&fill);
        let before = r.len();
        r.commit(10);
        let mut out = [0u8; 10];
        r.read_at(before, &mut out);
        assert_eq!(&out, b"much later");
    }

    #[test]
    fn storage_is_released_when_empty_and_regrows() {
        let mut r = RingBuf::new(1 << 20);
        r.push(b"x");
        assert_eq!(r.allocated(), MIN_STORAGE);
        let mut one = [0u8; 1];
        assert_eq!(r.pop(&mut one), 1);
        assert_eq!(r.allocated(), 0, "an empty buffer holds no storage");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        r.push(&data);
        let mut out = vec![0u8; 100_000];
        assert_eq!(r.pop(&mut out), 100_000);
        assert_eq!(out, data);
        assert_eq!(r.allocated(), 0);
        // Filling again starts at the size last released.
        r.push(b"y");
        assert!(r.allocated() >= 100_000);
    }

    #[test]
    fn out_of_order_bytes_keep_the_storage_and_survive_growth() {
        let mut r = RingBuf::new(1 << 20);
        r.push(&[7; 200]);
        r.write_at(250, b"ooo"); // a hole at 200..250
        let mut sink = [0u8; 200];
        r.pop(&mut sink);
        assert!(r.allocated() > 0, "bytes past len keep the storage");
        // A wrapped write while part of the ring was never written.
        r.push(&[1; 50]);
        r.commit(3);
        let mut out = [0u8; 53];
        assert_eq!(r.read_at(0, &mut out), 53);
        assert_eq!(&out[50..], b"ooo");
        r.write_at(5100, b"far");
        r.push(&vec![2; 5000]); // growth copies the held bytes
        let mut all = vec![0u8; 5053];
        assert_eq!(r.pop(&mut all), 5053);
        assert_eq!(&all[50..53], b"ooo");
        assert!(r.allocated() > 0, "\"far\" is still ahead");
    }

    #[test]
    fn kept_storage_survives_empties_until_released() {
        let mut r = RingBuf::new(1 << 20);
        r.set_keep();
        // Below the keep size an empty ring still releases.
        r.push(&[1; 1000]);
        let mut out = vec![0u8; 1 << 17];
        r.pop(&mut out);
        assert_eq!(r.allocated(), 0);
        let data: Vec<u8> = (0..(1u32 << 17)).map(|i| (i % 249) as u8).collect();
        r.push(&data);
        let held = r.allocated();
        assert!(held >= 1 << 17);
        assert_eq!(r.pop(&mut out), 1 << 17);
        assert_eq!(out, data);
        assert!(r.holds_idle_storage());
        assert_eq!(r.allocated(), held, "kept across the empty");
        // Emptied with the head mid-ring, then refilled in place from the
        // start: one slice, no wrap.
        r.push(&data[..100_000]);
        assert_eq!(r.pop(&mut out[..100_000]), 100_000);
        r.push(&data[..40_000]);
        assert_eq!(r.allocated(), held);
        assert_eq!(r.as_slices().0.len(), 40_000, "refilled from the start");
        assert_eq!(r.pop(&mut out[..40_000]), 40_000);
        assert_eq!(&out[..40_000], &data[..40_000]);
        r.push(&data[..5000]);
        assert!(!r.release_if_empty(), "not while bytes are held");
        let mut five = vec![0u8; 5000];
        assert_eq!(r.pop(&mut five), 5000);
        assert_eq!(&five[..], &data[..5000]);
        assert!(r.release_if_empty());
        assert_eq!(r.allocated(), 0);
        assert!(!r.holds_idle_storage());
    }

    #[test]
    fn tail_room_takes_bytes_in_place_and_wraps() {
        let mut r = RingBuf::new(1024);
        r.push(&[1; 300]);
        let room = r.tail_room(10_000);
        assert_eq!(room.len(), 724, "up to the capacity");
        room[..200].fill(2);
        r.commit_placed(200);
        let mut out = vec![0u8; 400];
        assert_eq!(r.pop(&mut out), 400);
        assert_eq!(&out[..300], &[1; 300][..]);
        assert_eq!(&out[300..], &[2; 100][..]);
        // 100 held at 400..500: the room runs to the storage's end, then
        // (once that is taken) from its start up to the head.
        let alloc = r.allocated();
        assert_eq!(alloc, 1024);
        let room = r.tail_room(10_000);
        assert_eq!(room.len(), alloc - 500);
        let n = room.len();
        room.fill(3);
        r.commit_placed(n);
        let room = r.tail_room(10_000);
        assert_eq!(room.len(), 400, "from the start up to the head");
        room.fill(4);
        r.commit_placed(400);
        assert_eq!(r.free(), 0);
        assert!(r.tail_room(10).is_empty());
        let mut all = vec![0u8; 1024];
        assert_eq!(r.pop(&mut all), 1024);
        assert_eq!(&all[..100], &[2; 100][..]);
        assert!(all[100..624].iter().all(|&b| b == 3));
        assert!(all[624..].iter().all(|&b| b == 4));
        // Out-of-order bytes past the length: no room in place.
        r.write_at(10, b"x");
        assert!(r.tail_room(100).is_empty());
    }

    /// A capacity raised in small steps while the ring is full (receive
    /// autotuning under a slow reader) moves the held bytes only when the
    /// storage doubles: the storage stays a power of two, and the bytes
    /// past the capacity are never handed out.
    #[test]
    fn a_capacity_raised_in_steps_regrows_only_at_doublings() {
        let mut r = RingBuf::new(100_000);
        let data: Vec<u8> = (0..400_000u32).map(|i| (i % 247) as u8).collect();
        let mut pushed = r.push(&data);
        assert_eq!(pushed, 100_000);
        let mut sizes = vec![r.allocated()];
        let mut cap = 100_000;
        while cap < 400_000 {
            cap += 10_000;
            r.set_capacity(cap);
            pushed += r.push(&data[pushed..]);
            assert_eq!(r.len(), cap, "filled to the capacity, no further");
            if sizes.last() != Some(&r.allocated()) {
                sizes.push(r.allocated());
            }
            let room = r.tail_room(1 << 20);
            assert!(room.is_empty(), "no room past the capacity");
        }
        assert_eq!(sizes, [131_072, 262_144, 524_288], "one per doubling");
        let mut out = vec![0u8; 400_000];
        assert_eq!(r.pop(&mut out), 400_000);
        assert_eq!(out, data);
    }

    /// Storage from `ZEROED_STORAGE` on is allocated zeroed (all of it
    /// initialised: a read in place needs no fill), and growth into it
    /// keeps wrapped and out-of-order bytes where they were.
    #[test]
    fn large_storage_is_allocated_zeroed_and_keeps_what_it_held() {
        let mut r = RingBuf::new(1 << 20);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        r.push(&data[..60_000]);
        assert_eq!(r.allocated(), 65_536);
        let mut out = vec![0u8; 200_000];
        assert_eq!(r.pop(&mut out[..50_000]), 50_000);
        r.push(&data[60_000..100_000]); // wraps: 50,000 held
        r.write_at(100_000, b"ooo"); // out of order, past a hole: grows
        assert_eq!(r.allocated(), ZEROED_STORAGE);
        assert_eq!(r.storage.len(), ZEROED_STORAGE, "all initialised");
        r.push(&data[100_000..150_000]); // fills the hole
        r.commit(3);
        assert_eq!(r.pop(&mut out[..100_003]), 100_003);
        assert_eq!(&out[..100_000], &data[50_000..150_000]);
        assert_eq!(&out[100_000..100_003], b"ooo");
        // A read in place into fresh large storage: the whole room, no fill.
        let mut r = RingBuf::new(1 << 20);
        r.push(&data);
        assert_eq!(r.storage.len(), 262_144);
        assert_eq!(r.tail_room(60_000).len(), 60_000);
        assert_eq!(r.storage.len(), 262_144, "no growth, no fill");
    }

    #[test]
    fn full_buffer_refuses_more() {
        let mut r = RingBuf::new(4);
        assert_eq!(r.push(b"abcdef"), 4);
        assert_eq!(r.push(b"g"), 0);
        assert_eq!(r.free(), 0);
    }
}
