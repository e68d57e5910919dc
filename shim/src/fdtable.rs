//! The application's fd numbers that are stack sockets: fd → shared
//! `OpenFile`. Each such fd is a real kernel fd (an "anchor": an unbound
//! AF_UNIX datagram socket) so numbers are allocated by the kernel, lowest
//! free first, and `fstat`, `close_range` and exec behave. dup'ed fds share
//! one `OpenFile`, as they share one open file description in the kernel.
//!
//! The table is a vector indexed by fd behind a reader-writer lock; a global
//! flag lets the hot pass-through path (read/write/close of ordinary files)
//! skip the lock entirely until the first stack socket exists.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use stack::{SockType, SocketHandle};

/// One open stack socket as the program's descriptors see it (the kernel's
/// "open file description"): shared by all fds dup'ed from one another.
#[derive(Debug)]
pub struct OpenFile {
    pub handle: SocketHandle,
    pub sotype: SockType,
    /// O_NONBLOCK, which belongs to the open file description.
    pub nonblock: AtomicBool,
    /// SO_RCVTIMEO / SO_SNDTIMEO, kept by the shim (the stack never blocks).
    pub rcvtimeo: SockTimeout,
    pub sndtimeo: SockTimeout,
}

impl OpenFile {
    pub fn new(handle: SocketHandle, sotype: SockType, nonblock: bool) -> OpenFile {
        OpenFile {
            handle,
            sotype,
            nonblock: AtomicBool::new(nonblock),
            rcvtimeo: SockTimeout::default(),
            sndtimeo: SockTimeout::default(),
        }
    }

    pub fn is_nonblocking(&self) -> bool {
        self.nonblock.load(Ordering::Relaxed)
    }
}

/// A socket timeout: None = wait forever (Linux's 0/0), Some(ZERO) = do not
/// wait (a negative tv_sec was set).
#[derive(Debug)]
pub struct SockTimeout(AtomicU64);

const FOREVER: u64 = u64::MAX;

impl Default for SockTimeout {
    fn default() -> Self {
        SockTimeout(AtomicU64::new(FOREVER))
    }
}

impl SockTimeout {
    pub fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            FOREVER => None,
            us => Some(Duration::from_micros(us)),
        }
    }
    pub fn set(&self, t: Option<Duration>) {
        let us = t.map_or(FOREVER, |d| d.as_micros().min(FOREVER as u128 - 1) as u64);
        self.0.store(us, Ordering::Relaxed);
    }
}

/// fd → entry map. Generic so its logic is tested without a stack.
pub struct FdTable<T> {
    slots: RwLock<Vec<Option<Arc<T>>>>,
    populated: AtomicBool,
}

impl<T> Default for FdTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FdTable<T> {
    pub const fn new() -> FdTable<T> {
        FdTable {
            slots: RwLock::new(Vec::new()),
            populated: AtomicBool::new(false),
        }
    }

    /// The entry of `fd`, if it is one of ours. Lock-free until the first insert.
    pub fn get(&self, fd: RawFd) -> Option<Arc<T>> {
        if fd < 0 || !self.populated.load(Ordering::Acquire) {
            return None;
        }
        self.slots.read().get(fd as usize)?.clone()
    }

    pub fn contains(&self, fd: RawFd) -> bool {
        if fd < 0 || !self.populated.load(Ordering::Acquire) {
            return false;
        }
        matches!(self.slots.read().get(fd as usize), Some(Some(_)))
    }

    /// Makes `fd` refer to `entry`; returns what it referred to before.
    pub fn insert(&self, fd: RawFd, entry: Arc<T>) -> Option<Arc<T>> {
        assert!(fd >= 0, "fd table insert of a negative fd");
        let mut slots = self.slots.write();
        let i = fd as usize;
        if slots.len() <= i {
            slots.resize_with(i + 1, || None);
        }
        self.populated.store(true, Ordering::Release);
        slots[i].replace(entry)
    }

    pub fn remove(&self, fd: RawFd) -> Option<Arc<T>> {
        if fd < 0 || !self.populated.load(Ordering::Acquire) {
            return None;
        }
        self.slots.write().get_mut(fd as usize)?.take()
    }

    /// Removes every entry with first <= fd <= last.
    pub fn remove_range(&self, first: u32, last: u32) -> Vec<(RawFd, Arc<T>)> {
        if !self.populated.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut slots = self.slots.write();
        let end = (last as usize).saturating_add(1).min(slots.len());
        let start = (first as usize).min(end);
        slots[start..end]
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.take().map(|e| ((start + i) as RawFd, e)))
            .collect()
    }

    /// Every (fd, entry), lowest fd first.
    pub fn entries(&self) -> Vec<(RawFd, Arc<T>)> {
        self.slots
            .read()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.clone().map(|e| (i as RawFd, e)))
            .collect()
    }

    /// Forgets every entry (the forked child's view after it closed them).
    pub fn clear(&self) -> Vec<(RawFd, Arc<T>)> {
        let mut slots = self.slots.write();
        let out = slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.take().map(|e| (i as RawFd, e)))
            .collect();
        out
    }

    /// Holds the write lock across fork() so the child never inherits it
    /// locked by another thread (see runtime's atfork handlers).
    pub fn lock_for_fork(&self) {
        std::mem::forget(self.slots.write());
    }

    /// Releases the lock taken by `lock_for_fork`.
    pub fn unlock_after_fork(&self) {
        // SAFETY: called exactly once after `lock_for_fork` in the same
        // process image (parent or child), which leaked a write guard.
        unsafe { self.slots.force_unlock_write() }
    }
}

/// The process's table of stack-socket fds.
pub static TABLE: FdTable<OpenFile> = FdTable::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_answers_without_entries() {
        let t: FdTable<u32> = FdTable::new();
        assert!(t.get(3).is_none());
        assert!(t.get(-1).is_none());
        assert!(t.remove(3).is_none());
        assert!(t.remove_range(0, u32::MAX).is_empty());
    }

    #[test]
    fn dup_shares_the_entry_and_remove_leaves_the_other() {
        let t = FdTable::new();
        let e = Arc::new(7u32);
        assert!(t.insert(5, e.clone()).is_none());
        assert!(t.insert(9, e.clone()).is_none());
        assert!(Arc::ptr_eq(&t.get(5).unwrap(), &t.get(9).unwrap()));
        assert_eq!(*t.remove(5).unwrap(), 7);
        assert!(t.get(5).is_none());
        assert_eq!(*t.get(9).unwrap(), 7);
        assert!(t.contains(9) && !t.contains(5));
    }

    #[test]
    fn insert_over_an_entry_returns_the_old_one() {
        let t = FdTable::new();
        t.insert(4, Arc::new(1u32));
        assert_eq!(*t.insert(4, Arc::new(2u32)).unwrap(), 1);
        assert_eq!(*t.get(4).unwrap(), 2);
    }

    #[test]
    fn remove_range_is_inclusive_and_clamped() {
        let t = FdTable::new();
        for fd in [3, 4, 10, 11] {
            t.insert(fd, Arc::new(fd as u32));
        }
        let got: Vec<RawFd> = t
            .remove_range(4, 10)
            .into_iter()
            .map(|(fd, _)| fd)
            .collect();
        assert_eq!(got, vec![4, 10]);
        let got: Vec<RawFd> = t
            .remove_range(0, u32::MAX)
            .into_iter()
            .map(|(fd, _)| fd)
            .collect();
        assert_eq!(got, vec![3, 11]);
        assert!(t.entries().is_empty());
    }

    #[test]
    fn fork_lock_round_trip() {
        let t: FdTable<u32> = FdTable::new();
        t.lock_for_fork();
        t.unlock_after_fork();
        t.insert(1, Arc::new(1));
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.clear().len(), 1);
    }

    #[test]
    fn socket_timeouts_default_to_forever() {
        let t = SockTimeout::default();
        assert_eq!(t.get(), None);
        t.set(Some(Duration::from_millis(1500)));
        assert_eq!(t.get(), Some(Duration::from_millis(1500)));
        t.set(Some(Duration::ZERO));
        assert_eq!(t.get(), Some(Duration::ZERO));
        t.set(None);
        assert_eq!(t.get(), None);
    }
}
