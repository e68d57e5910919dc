//! A client's status region, the service's side (layout: `proto::region`).
//! One memfd per client connection, made at `Hello` and passed with its
//! reply. For each socket the client holds, the slot at the socket's index
//! says its readiness, bytes readable, room to send, whether the client
//! holds it alone and which receive ring it lent it; the header counts the
//! `Post` bytes taken; the rings carry received data.
//!
//! The client could write any of it (it holds the memfd), so the service
//! reads back only the consumer words, each validated (`consumed`), and a
//! ring's unread bytes when it takes the ring back (the client's own
//! stream: what it changes there only it, or a process it handed the
//! socket to, receives). Slots are written under a sequence lock (odd
//! while writing), which the client's reader retries on.

use std::cell::{Cell, RefCell};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{fence, AtomicU64, Ordering};

use proto::region::{self, Slot};

/// One client's mapped region. Dropped (unmapped) when the client is gone
/// and no socket still refers to it.
pub struct Region {
    base: *mut u8,
    /// The client's connection is open (slots of a dead one are no longer
    /// written, and its sockets stop counting it as a holder).
    alive: Cell<bool>,
    /// The key of the client connection it belongs to.
    owner: std::os::fd::RawFd,
    /// Rings not lent, and the generation of each ring's next lending.
    free_rings: RefCell<Vec<u16>>,
    gens: RefCell<Vec<u16>>,
}

impl Region {
    /// A new region and the memfd to pass to the client (read-only use).
    pub fn new(owner: std::os::fd::RawFd) -> std::io::Result<(Region, OwnedFd)> {
        // SAFETY: a constant NUL-terminated name; flags are plain bits.
        let fd = unsafe {
            libc::memfd_create(
                c"sockshim-status".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: memfd_create just returned this fd; we own it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        // SAFETY: plain syscalls on our fd. The size is sealed, so the
        // client cannot shrink the file under our mapping (a SIGBUS).
        unsafe {
            if libc::ftruncate(raw, region::REGION_LEN as libc::off_t) < 0
                || libc::fcntl(
                    raw,
                    libc::F_ADD_SEALS,
                    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
                ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        // SAFETY: mapping REGION_LEN bytes of a file of that size, shared.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                region::REGION_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                raw,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let r = Region {
            base: p as *mut u8,
            alive: Cell::new(true),
            owner,
            free_rings: RefCell::new((0..region::RINGS as u16).rev().collect()),
            gens: RefCell::new(vec![0; region::RINGS]),
        };
        r.word(region::H_MAGIC)
            .store(region::MAGIC, Ordering::Release);
        Ok((r, fd))
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        assert!(off.is_multiple_of(8) && off + 8 <= region::REGION_LEN);
        // SAFETY: in bounds (checked above) of our live mapping, 8-byte
        // aligned (the mapping is page-aligned); only atomics touch it.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    pub fn owner(&self) -> std::os::fd::RawFd {
        self.owner
    }

    pub fn alive(&self) -> bool {
        self.alive.get()
    }

    /// The client's connection closed.
    pub fn kill(&self) {
        self.alive.set(false);
    }

    /// Publish the state of the socket `id` (None: clear its slot).
    pub fn write_slot(&self, id: u64, s: Option<&Slot>) {
        let Some(off) = region::slot_offset(region::index_of(id)) else {
            return;
        };
        let seq = self.word(off + region::S_SEQ);
        let v = seq.load(Ordering::Relaxed);
        seq.store(v.wrapping_add(1) | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let id_word = if s.is_some() { id.wrapping_add(1) } else { 0 };
        let s = s.copied().unwrap_or_default();
        self.word(off + region::S_ID)
            .store(id_word, Ordering::Relaxed);
        self.word(off + region::S_READY)
            .store(s.ready, Ordering::Relaxed);
        self.word(off + region::S_RCV_CC)
            .store(s.rcv_cc, Ordering::Relaxed);
        self.word(off + region::S_SND_SPACE)
            .store(s.snd_space, Ordering::Relaxed);
        self.word(off + region::S_RING)
            .store(s.ring, Ordering::Relaxed);
        self.word(off + region::S_RX_HEAD)
            .store(s.rx_head, Ordering::Relaxed);
        self.word(off + region::S_SND_USED)
            .store(s.snd_used, Ordering::Relaxed);
        seq.store((v | 1).wrapping_add(1), Ordering::Release);
    }

    /// `n` more bytes of `Post` data taken (after the slot shows them).
    pub fn add_posted(&self, n: u64) {
        self.word(region::H_POSTED).fetch_add(n, Ordering::Release);
    }

    /// Lend a ring: (index, generation), its consumer word reset.
    pub fn lend_ring(&self) -> Option<(u16, u16)> {
        let i = self.free_rings.borrow_mut().pop()?;
        let mut gens = self.gens.borrow_mut();
        let g = &mut gens[i as usize];
        *g = g.wrapping_add(1);
        let off = region::consumer_offset(i as usize)?;
        self.word(off)
            .store(region::consumer_word(*g, 0), Ordering::Release);
        Some((i, *g))
    }

    /// Take ring `i` of generation `gen` back: the client's next swap on
    /// it fails. Returns the bytes the client had consumed (validated by
    /// the caller).
    pub fn revoke_ring(&self, i: u16) -> u64 {
        let Some(off) = region::consumer_offset(i as usize) else {
            return 0;
        };
        let w = self.word(off).fetch_or(region::C_REVOKED, Ordering::AcqRel);
        self.free_rings.borrow_mut().push(i);
        w
    }

    /// The consumer word of ring `i` (as the client left it: hostile).
    pub fn consumer(&self, i: u16) -> u64 {
        region::consumer_offset(i as usize).map_or(0, |off| self.word(off).load(Ordering::Acquire))
    }

    /// Copy `data` into ring `i` at stream position `pos` (wrapping).
    pub fn ring_write(&self, i: u16, pos: u64, data: &[u8]) {
        let Some(base) = region::ring_offset(i as usize) else {
            return;
        };
        let n = data.len().min(region::RING_SIZE);
        let at = (pos % region::RING_SIZE as u64) as usize;
        let first = n.min(region::RING_SIZE - at);
        // SAFETY: both ranges lie inside ring `i` of our live mapping
        // (at + first <= RING_SIZE, n - first <= at); the client reads
        // only bytes it has not consumed, which we never overwrite.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(base + at), first);
            std::ptr::copy_nonoverlapping(data[first..n].as_ptr(), self.base.add(base), n - first);
        }
    }

    /// Copy `out.len()` bytes of ring `i` from stream position `pos`.
    pub fn ring_read(&self, i: u16, pos: u64, out: &mut [u8]) {
        let Some(base) = region::ring_offset(i as usize) else {
            return;
        };
        let n = out.len().min(region::RING_SIZE);
        let at = (pos % region::RING_SIZE as u64) as usize;
        let first = n.min(region::RING_SIZE - at);
        // SAFETY: as in ring_write, reading instead.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(base + at), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.base.add(base),
                out[first..n].as_mut_ptr(),
                n - first,
            );
        }
    }

    /// What a client does to take bytes: write ring `i`'s consumer word.
    #[cfg(test)]
    pub fn set_consumer(&self, i: u16, w: u64) {
        if let Some(off) = region::consumer_offset(i as usize) {
            self.word(off).store(w, Ordering::Release);
        }
    }

    #[cfg(test)]
    pub fn read_word(&self, off: usize) -> u64 {
        self.word(off).load(Ordering::Acquire)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; no reference into
        // it outlives `self` (`word` borrows self).
        unsafe { libc::munmap(self.base as *mut libc::c_void, region::REGION_LEN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_written_whole_with_an_even_sequence_and_cleared() {
        let (r, _fd) = Region::new(-1).unwrap();
        assert_eq!(r.read_word(region::H_MAGIC), region::MAGIC);
        let id = (7u64 << 32) | 3;
        let s = Slot {
            id,
            ready: 1 | region::F_EXCLUSIVE,
            rcv_cc: 10,
            snd_space: 20,
            ring: 1,
            rx_head: 30,
            snd_used: 40,
        };
        r.write_slot(id, Some(&s));
        let off = region::slot_offset(3).unwrap();
        assert_eq!(r.read_word(off + region::S_SEQ) % 2, 0);
        assert_eq!(r.read_word(off + region::S_ID), id + 1);
        assert_eq!(r.read_word(off + region::S_READY), 1 | region::F_EXCLUSIVE);
        assert_eq!(r.read_word(off + region::S_RCV_CC), 10);
        assert_eq!(r.read_word(off + region::S_SND_SPACE), 20);
        assert_eq!(r.read_word(off + region::S_RX_HEAD), 30);
        r.write_slot(id, None);
        assert_eq!(r.read_word(off + region::S_ID), 0);
        assert_eq!(r.read_word(off + region::S_SEQ) % 2, 0);
        // An index beyond the region has no slot: nothing written.
        r.write_slot(u32::MAX as u64, Some(&s));
        r.add_posted(5);
        assert_eq!(r.read_word(region::H_POSTED), 5);
    }
}

#[cfg(test)]
mod ring_tests {
    use super::*;

    #[test]
    fn a_ring_wraps_and_a_lending_resets_its_word_with_a_new_generation() {
        let (r, _fd) = Region::new(-1).unwrap();
        let (i, g) = r.lend_ring().unwrap();
        assert_eq!(r.consumer(i), region::consumer_word(g, 0));
        let data: Vec<u8> = (0..100u8).collect();
        let pos = region::RING_SIZE as u64 - 40; // wraps after 40 bytes
        r.ring_write(i, pos, &data);
        let mut out = vec![0u8; 100];
        r.ring_read(i, pos, &mut out);
        assert_eq!(out, data);
        let w = r.revoke_ring(i);
        assert_eq!(w, region::consumer_word(g, 0));
        assert_ne!(r.consumer(i) & region::C_REVOKED, 0);
        // Lent again (the free list is a stack): a new generation.
        let (j, g2) = r.lend_ring().unwrap();
        assert_eq!((j, g2), (i, g.wrapping_add(1)));
        assert_eq!(r.consumer(j), region::consumer_word(g2, 0));
        for _ in 1..region::RINGS {
            assert!(r.lend_ring().is_some());
        }
        assert!(r.lend_ring().is_none(), "every ring lent");
    }
}
