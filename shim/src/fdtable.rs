//! Application fd → stack socket. Each fd given to the program is a real
//! kernel fd (an "anchor": an unbound AF_UNIX datagram socket, so fstat says
//! socket and numbers never collide with files). dup'd fds share one
//! `OpenFile` (O_NONBLOCK and timeouts belong to the open file
//! description) and each holds one `so_count` reference in the stack.
//! The table also counts this process's descriptors per socket (whatever
//! open file they belong to): in service mode, a socket with none left
//! here is no longer this process's (`Closed` with `last`).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use stack::{Domain, SockType, SocketHandle};

/// Socket options noted for a loopback replay: (level, name, value).
pub type SavedOpts = Vec<(i32, i32, Vec<u8>)>;

/// One open file description of a stack socket.
#[derive(Debug)]
pub struct OpenFile {
    pub handle: SocketHandle,
    /// AF_INET or AF_INET6: which sockaddr the socket takes and gives.
    pub domain: Domain,
    pub ty: SockType,
    /// O_NONBLOCK: this process's copy (nonblock.rs decides when the
    /// anchor's is read instead).
    pub nonblock: AtomicBool,
    /// Another process may hold this open file, or may have: O_NONBLOCK
    /// is read from the slot (nonblock.rs).
    pub nb_shared: AtomicBool,
    /// The service's copy of O_NONBLOCK may differ from `nonblock` (set
    /// while the open file was this process's alone; nonblock.rs).
    pub nb_dirty: AtomicBool,
    /// SO_RCVTIMEO / SO_SNDTIMEO in microseconds; 0 = none.
    pub rcvtimeo_us: AtomicU64,
    pub sndtimeo_us: AtomicU64,
    /// Descriptors referring to this open file description.
    pub fd_count: std::sync::atomic::AtomicU32,
    /// One of those descriptors (its anchor), for waits on the anchor.
    pub anchor: AtomicI32,
    /// Options set so far (level, name, value), replayed on the kernel
    /// socket that replaces this one for a loopback connect (loopback.rs).
    /// Boxed once the first is noted (memory per held connection).
    pub opts: parking_lot::Mutex<Option<Box<SavedOpts>>>,
    /// The kernel socket reserving this socket's loopback port, and the
    /// shadow listener's connections taken from it (loopback.rs). Boxed:
    /// most sockets never have one (memory per held connection).
    pub kside: parking_lot::Mutex<Option<Box<crate::loopback::Reservation>>>,
    /// Threads blocked on this open file in service mode (anchorwait.rs).
    pub anchor_wait: crate::anchorwait::AnchorWait,
    /// A thread's connect went as `ConnectPost` and has not returned yet:
    /// another thread's connect meanwhile takes the reply path (ops.rs).
    pub connect_posted: AtomicBool,
}

impl OpenFile {
    pub fn new(handle: SocketHandle, domain: Domain, ty: SockType, nonblock: bool) -> OpenFile {
        OpenFile {
            handle,
            domain,
            ty,
            nonblock: AtomicBool::new(nonblock),
            nb_shared: AtomicBool::new(false),
            nb_dirty: AtomicBool::new(nonblock),
            rcvtimeo_us: AtomicU64::new(0),
            sndtimeo_us: AtomicU64::new(0),
            fd_count: std::sync::atomic::AtomicU32::new(0),
            anchor: AtomicI32::new(-1),
            opts: parking_lot::Mutex::new(None),
            kside: parking_lot::Mutex::new(None),
            anchor_wait: Default::default(),
            connect_posted: AtomicBool::new(false),
        }
    }

    /// A descriptor of this open file in this process (-1: none known).
    pub fn anchor(&self) -> i32 {
        self.anchor.load(Ordering::Relaxed)
    }

    pub fn is_nonblock(&self) -> bool {
        crate::nonblock::get(self)
    }

    pub fn set_nonblock(&self, on: bool) {
        crate::nonblock::set(self, on)
    }

    pub fn timeout(&self, recv: bool) -> Option<Duration> {
        let us = if recv {
            &self.rcvtimeo_us
        } else {
            &self.sndtimeo_us
        }
        .load(Ordering::Relaxed);
        (us > 0).then(|| Duration::from_micros(us))
    }
}

/// fd → OpenFile, indexed by fd number.
#[derive(Default)]
pub struct FdTable {
    slots: RwLock<Vec<Option<Arc<OpenFile>>>>,
    /// Descriptors in `slots` per socket. Changed only under `slots`'
    /// write lock (lock order: slots, then this).
    per_socket: parking_lot::Mutex<stack::hash::FastMap<SocketHandle, u32>>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<Arc<OpenFile>> {
        if fd < 0 {
            return None;
        }
        self.slots.read().get(fd as usize).and_then(|s| s.clone())
    }

    /// Put `f` at `fd`. Returns the entry that was still there (its
    /// descriptor was closed behind the shim's back and the kernel reused
    /// the number): the caller releases its reference (`ops::install`).
    #[must_use = "a replaced entry still holds a socket reference"]
    pub fn insert(&self, fd: i32, f: Arc<OpenFile>) -> Option<Arc<OpenFile>> {
        f.fd_count.fetch_add(1, Ordering::Relaxed);
        let _ = f
            .anchor
            .compare_exchange(-1, fd, Ordering::Relaxed, Ordering::Relaxed);
        let mut s = self.slots.write();
        let i = fd as usize;
        if s.len() <= i {
            s.resize(i + 1, None);
        }
        let h = f.handle;
        let old = s[i].replace(f);
        let mut n = self.per_socket.lock();
        *n.entry(h).or_insert(0) += 1;
        if let Some(o) = &old {
            Self::uncount(&mut n, o.handle);
            if o.anchor() == fd {
                o.anchor.store(Self::other_fd(&s, o), Ordering::Relaxed);
            }
        }
        old
    }

    /// Another descriptor of `of` than the one just taken out of `slots`
    /// (its `fd_count` still counts that one), or -1. The table is
    /// searched only when there is one: closing a descriptor that is its
    /// open file's only one, the rule, costs O(1), not a walk of every
    /// descriptor (issue 18: 10 % of a 10,000-connection teardown).
    fn other_fd(slots: &[Option<Arc<OpenFile>>], of: &Arc<OpenFile>) -> i32 {
        if of.fd_count.load(Ordering::Relaxed) <= 1 {
            return -1;
        }
        slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|x| Arc::ptr_eq(x, of)))
            .map_or(-1, |i| i as i32)
    }

    fn uncount(n: &mut stack::hash::FastMap<SocketHandle, u32>, h: SocketHandle) {
        if let Some(c) = n.get_mut(&h) {
            *c -= 1;
            if *c == 0 {
                n.remove(&h);
            }
        }
    }

    /// Descriptors of socket `h` in this process (any open file).
    pub fn count_of(&self, h: SocketHandle) -> u32 {
        self.per_socket.lock().get(&h).copied().unwrap_or(0)
    }

    pub fn remove(&self, fd: i32) -> Option<Arc<OpenFile>> {
        if fd < 0 {
            return None;
        }
        let mut slots = self.slots.write();
        let of = slots.get_mut(fd as usize).and_then(|s| s.take())?;
        Self::uncount(&mut self.per_socket.lock(), of.handle);
        if of.anchor() == fd {
            // Waits use another descriptor of the same open file, if any.
            of.anchor
                .store(Self::other_fd(&slots, &of), Ordering::Relaxed);
        }
        Some(of)
    }

    /// Every descriptor that is a stack socket, ascending.
    pub fn all_fds(&self) -> Vec<i32> {
        self.slots
            .read()
            .iter()
            .enumerate()
            .filter_map(|(fd, s)| s.as_ref().map(|_| fd as i32))
            .collect()
    }

    /// Every open file in the table, each once.
    pub fn files(&self) -> Vec<Arc<OpenFile>> {
        let mut v: Vec<Arc<OpenFile>> = self.slots.read().iter().flatten().cloned().collect();
        v.sort_by_key(|f| Arc::as_ptr(f) as usize);
        v.dedup_by(|a, b| Arc::ptr_eq(a, b));
        v
    }

    /// An open file of socket `h` in this process, if any (a socket has
    /// one open file description: a descriptor of it received by
    /// SCM_RIGHTS joins that one, as in the kernel).
    pub fn file_of(&self, h: SocketHandle) -> Option<Arc<OpenFile>> {
        self.slots
            .read()
            .iter()
            .flatten()
            .find(|f| f.handle == h)
            .cloned()
    }

    /// Fast check without cloning.
    pub fn contains(&self, fd: i32) -> bool {
        fd >= 0
            && self
                .slots
                .read()
                .get(fd as usize)
                .is_some_and(|s| s.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.slots.read().iter().all(|s| s.is_none())
    }

    /// Removes every entry, returning the fds that were stack sockets (at
    /// exit, when the kernel would close them all).
    pub fn take_all(&self) -> Vec<(i32, Arc<OpenFile>)> {
        let mut slots = self.slots.write();
        self.per_socket.lock().clear();
        slots
            .iter_mut()
            .enumerate()
            .filter_map(|(fd, s)| s.take().map(|f| (fd as i32, f)))
            .collect()
    }

    /// Holds the write lock across fork() so the child never inherits it
    /// held by another thread (pthread_atfork prepare handler).
    pub fn lock_for_fork(&self) {
        std::mem::forget(self.slots.write());
    }

    /// Releases the lock taken by `lock_for_fork` (parent and child handlers).
    pub fn unlock_after_fork(&self) {
        // SAFETY: paired with `lock_for_fork` in this process image, which
        // leaked a write guard of this lock.
        unsafe { self.slots.force_unlock_write() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_file_stays_small() {
        // One per held connection (issue 18: memory per connection); the
        // loopback options, reservation and sleepers are boxed when used.
        let n = std::mem::size_of::<OpenFile>();
        assert!(n <= 96, "OpenFile is {n} bytes (at most 96)");
    }

    fn handle_free_file() -> Option<Arc<OpenFile>> {
        let st = stack::Stack::new(stack::Config::new(std::net::Ipv4Addr::new(10, 7, 0, 2), 24));
        let h = st.socket(SockType::Stream, 0).ok()?;
        Some(Arc::new(OpenFile::new(
            h,
            Domain::Inet,
            SockType::Stream,
            false,
        )))
    }

    #[test]
    fn take_all_empties_the_table_lowest_fd_first() {
        let Some(f) = handle_free_file() else { return };
        let t = FdTable::default();
        let _ = t.insert(7, f.clone());
        let _ = t.insert(3, f.clone());
        let fds: Vec<i32> = t.take_all().into_iter().map(|(fd, _)| fd).collect();
        assert_eq!(fds, vec![3, 7]);
        assert!(t.is_empty());
    }

    #[test]
    fn fork_lock_round_trip_leaves_the_table_usable() {
        let Some(f) = handle_free_file() else { return };
        let t = FdTable::default();
        t.lock_for_fork();
        t.unlock_after_fork();
        let _ = t.insert(4, f);
        assert!(t.contains(4));
    }

    #[test]
    fn waits_move_to_another_descriptor_when_the_anchor_fd_closes() {
        let Some(f) = handle_free_file() else { return };
        let t = FdTable::default();
        let _ = t.insert(4, f.clone());
        let _ = t.insert(9, f.clone());
        let _ = t.insert(6, f.clone());
        assert_eq!(f.anchor(), 4, "the first descriptor is the one waits use");
        // As ops::release does: remove, then count the descriptor out.
        let close = |fd| {
            t.remove(fd);
            f.fd_count.fetch_sub(1, Ordering::Relaxed);
        };
        close(9);
        assert_eq!(f.anchor(), 4, "closing another one changes nothing");
        close(4);
        assert_eq!(f.anchor(), 6, "then a remaining descriptor takes over");
        // The last one: no other to look for.
        close(6);
        assert_eq!(f.anchor(), -1);
        assert_eq!(t.all_fds(), Vec::<i32>::new());
        let _ = t.insert(3, f.clone());
        assert_eq!((f.anchor(), t.all_fds()), (3, vec![3]));
    }

    #[test]
    fn an_entry_replaced_behind_the_shims_back_is_returned_with_its_waits_moved() {
        let Some(old) = handle_free_file() else {
            return;
        };
        let Some(new) = handle_free_file() else {
            return;
        };
        let t = FdTable::default();
        let _ = t.insert(4, old.clone());
        let _ = t.insert(8, old.clone());
        // fd 4 was closed by a raw syscall and the kernel gave the number
        // to a new socket.
        let replaced = t.insert(4, new.clone()).expect("the old entry comes back");
        assert!(Arc::ptr_eq(&replaced, &old));
        assert_eq!(old.anchor(), 8, "waits move to the old file's other fd");
        assert_eq!(new.anchor(), 4);
        assert!(t.insert(5, new.clone()).is_none());
    }

    #[test]
    fn dup_shares_one_open_file() {
        let t = FdTable::default();
        assert!(t.is_empty());
        let h = stack::Stack::new(stack::Config::new([10, 0, 0, 1].into(), 24))
            .socket(SockType::Stream, 0)
            .unwrap();
        let f = Arc::new(OpenFile::new(h, Domain::Inet, SockType::Stream, false));
        let _ = t.insert(5, f.clone());
        let _ = t.insert(9, f);
        t.get(5).unwrap().nonblock.store(true, Ordering::Relaxed);
        assert!(
            t.get(9).unwrap().is_nonblock(),
            "O_NONBLOCK is per open file description"
        );
        assert!(t.remove(5).is_some());
        assert!(!t.contains(5) && t.contains(9));
        assert!(t.get(-1).is_none());
    }

    #[test]
    fn descriptors_are_counted_per_socket_across_open_files() {
        let st = stack::Stack::new(stack::Config::new([10, 7, 0, 2].into(), 24));
        let (Ok(h), Ok(h2)) = (
            st.socket(SockType::Stream, 0),
            st.socket(SockType::Stream, 0),
        ) else {
            return;
        };
        let f = Arc::new(OpenFile::new(h, Domain::Inet, SockType::Stream, false));
        let other = Arc::new(OpenFile::new(h2, Domain::Inet, SockType::Stream, false));
        let t = FdTable::default();
        // Two open files of one socket (as after an SCM_RIGHTS hand-off to
        // ourselves, or a fork child's attach), one of them dup'ed.
        let g = Arc::new(OpenFile::new(h, Domain::Inet, SockType::Stream, false));
        let _ = t.insert(4, f.clone());
        let _ = t.insert(5, f.clone());
        let _ = t.insert(8, g);
        assert_eq!(t.count_of(h), 3);
        t.remove(4);
        t.remove(8);
        assert_eq!(t.count_of(h), 1, "fd 5 still holds it");
        t.remove(5);
        assert_eq!(t.count_of(h), 0, "the last descriptor here is gone");
        // An fd reused for another socket (dup2 over it) uncounts the old.
        let _ = t.insert(6, f.clone());
        let _ = t.insert(6, other.clone());
        assert_eq!((t.count_of(h), t.count_of(other.handle)), (0, 1));
        t.take_all();
        assert_eq!(t.count_of(other.handle), 0);
    }
}
