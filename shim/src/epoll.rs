//! epoll emulation. The program's epoll fd is a real kernel epoll fd that
//! holds its kernel fds plus one internal eventfd (the "notifier"); stack
//! sockets live in a user-space interest list here. The stack's readiness
//! changes write to the notifier, so a blocking `epoll_wait` in the kernel
//! wakes for them; `epoll_wait` then merges kernel events with stack events
//! computed from `sopoll`, keeping EPOLLET and EPOLLONESHOT semantics.
//! While a level-triggered stack socket stays ready the notifier is left
//! readable, so the epoll fd itself polls readable (nested epoll, poll on
//! an epoll fd).
//!
//! The notifier is readable exactly while the set's ready list is not
//! empty (`Inner::signalled`, kept under the set's lock): it is written
//! when the list gains its first entry and read when a wait leaves the list
//! empty, never otherwise. Before, every wait drained it (a poll and a
//! read) and signalled it again after reporting a level-triggered entry,
//! and every turn of a wait asked the kernel set for events (a non-blocking
//! epoll_pwait) even when the poll that woke the turn had just found none
//! there: about nine of the nineteen system calls per connection of an
//! epoll server that accepts, writes and holds (issue 18).

use std::collections::VecDeque;
use std::sync::Arc;

use libc::c_void;
use parking_lot::Mutex;
use stack::hash::FastMap;
use stack::SocketHandle;

use crate::driver::{new_eventfd, Shim};
use crate::fdtable::OpenFile;
use crate::real::real;

/// Marks the notifier's entry in the kernel epoll set.
const NOTIFIER_TOKEN: u64 = 0x736f_636b_7368_696d; // "sockshim"

/// With the service, each stack socket's anchor sits in the kernel epoll
/// set too (readable = the service's token: something changed); its
/// events carry this mark and the fd in the low 32 bits.
pub const ANCHOR_MARK: u64 = 0x736f_636b_0000_0000;

fn is_ours(k: &libc::epoll_event) -> bool {
    k.u64 == NOTIFIER_TOKEN || k.u64 & 0xffff_ffff_0000_0000 == ANCHOR_MARK
}

const EPOLLET: u32 = 1 << 31;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
/// What an EPOLLEXCLUSIVE entry may ask for besides it (Linux's
/// `EPOLLEXCLUSIVE_OK_BITS`): no ONESHOT, RDHUP, PRI or RDNORM.
const EXCLUSIVE_OK: u32 = libc::EPOLLIN as u32
    | libc::EPOLLOUT as u32
    | libc::EPOLLERR as u32
    | libc::EPOLLHUP as u32
    | libc::EPOLLWAKEUP as u32
    | EPOLLET
    | EPOLLEXCLUSIVE;

/// Linux's checks of EPOLLEXCLUSIVE, made before the entry is looked up:
/// never in a MOD, and in an ADD only with `EXCLUSIVE_OK` events.
fn exclusive_allowed(op: i32, ev: Option<&libc::epoll_event>) -> bool {
    match ev {
        Some(e) if e.events & EPOLLEXCLUSIVE != 0 => {
            op == libc::EPOLL_CTL_ADD && e.events & !EXCLUSIVE_OK == 0
        }
        _ => true,
    }
}

#[derive(Debug)]
struct Interest {
    file: Arc<OpenFile>,
    events: u32,
    data: u64,
    /// ONESHOT fired: nothing more until EPOLL_CTL_MOD.
    disarmed: bool,
    /// EPOLLET: a readiness change arrived since the last report.
    pending: bool,
    /// With the service: its change count at the last report (EPOLLET
    /// reports again only after it moved).
    last_changes: Option<u16>,
    /// On the set's ready list (Linux's `ep_is_linked`).
    queued: bool,
    /// Which registration this is: a ready-list entry left behind by a
    /// deleted registration of the same fd names an older one. (u32,
    /// wrapping: a stale entry would have to outlive 2^32 registrations
    /// in its set to be taken for a new one; 8 bytes less per interest.)
    id: u32,
}

/// A set's interests and its ready list (Linux's `rdllist`): entries that
/// may be ready, in the order they became so. Only they are looked at by
/// `epoll_wait`, so a wait costs O(ready), not O(registered).
///
/// An entry goes on the list when the stack reports its socket changed
/// (in-process), when its anchor fired (service), and when it is added or
/// modified. A wait takes entries off the front; a level-triggered entry
/// that was reported goes back at the end, as `ep_send_events` does, and
/// leaves only when a later wait finds it not ready. With the service a
/// ready entry stays on the list whatever its mode (it may stop and start
/// being ready between two anchor tokens), and its change count decides
/// whether EPOLLET reports it again.
#[derive(Debug, Default)]
struct Inner {
    interests: FastMap<i32, Interest>,
    ready: VecDeque<(i32, u32)>,
    next_id: u32,
    /// The notifier was written and not read since: readable.
    signalled: bool,
}

impl Inner {
    /// Put `fd`'s entry on the ready list. Returns whether the list was
    /// empty before.
    fn enqueue(&mut self, fd: i32) -> bool {
        let Some(i) = self.interests.get_mut(&fd) else {
            return false;
        };
        if i.queued {
            return false;
        }
        i.queued = true;
        let was_empty = self.ready.is_empty();
        self.ready.push_back((fd, i.id));
        was_empty
    }

    /// Take the next live entry off the ready list.
    fn dequeue(&mut self) -> Option<i32> {
        while let Some((fd, id)) = self.ready.pop_front() {
            if let Some(i) = self.interests.get_mut(&fd) {
                if i.id == id && i.queued {
                    i.queued = false;
                    return Some(fd);
                }
            }
        }
        None
    }
}

/// One epoll instance that has (or had) stack sockets in it.
#[derive(Debug)]
pub struct EpollSet {
    pub notifier: i32,
    inner: Mutex<Inner>,
    /// A stack socket was ever registered for EPOLLOUT: a sender's set,
    /// whose waits leave the device to the driver (devwait.rs).
    wants_out: std::sync::atomic::AtomicBool,
}

impl EpollSet {
    /// Make the notifier readable (the ready list is not empty), under
    /// the set's lock.
    fn signal(&self, inner: &mut Inner) {
        if !inner.signalled {
            inner.signalled = true;
            let one: u64 = 1;
            // SAFETY: writing 8 bytes to our eventfd.
            unsafe { (real().write)(self.notifier, &one as *const u64 as *const c_void, 8) };
        }
    }

    /// Make the notifier unreadable (the ready list is empty), under the
    /// set's lock. `always`: read it even if not signalled here (someone
    /// else read it: busy polling).
    fn unsignal(&self, inner: &mut Inner, always: bool) {
        if inner.signalled || always {
            inner.signalled = false;
            let mut v = 0u64;
            // SAFETY: reading 8 bytes into v from our non-blocking eventfd
            // (EAGAIN when it was not readable).
            unsafe { (real().read)(self.notifier, &mut v as *mut u64 as *mut c_void, 8) };
        }
    }

    /// The notifier says whether the ready list holds entries, under the
    /// set's lock.
    fn settle(&self, inner: &mut Inner) {
        if inner.ready.is_empty() {
            self.unsignal(inner, false);
        } else {
            self.signal(inner);
        }
    }
}

/// A buffer of `n` events, this thread's own when it is free (no
/// allocation and no zero-filling per wait: a 256-event wait zeroed 6 KB
/// each time), a fresh one when it is in use (a wait in a signal handler
/// that interrupted a wait).
pub fn with_event_buf<T>(
    which: &'static std::thread::LocalKey<std::cell::RefCell<Vec<libc::epoll_event>>>,
    n: usize,
    f: impl FnOnce(&mut [libc::epoll_event]) -> T,
) -> T {
    let zero = libc::epoll_event { events: 0, u64: 0 };
    which.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < n {
                buf.resize(n, zero);
            }
            f(&mut buf[..n])
        }
        Err(_) => f(&mut vec![zero; n]),
    })
}

thread_local! {
    /// The events a wait returns (see `with_event_buf`).
    pub static OUT_BUF: std::cell::RefCell<Vec<libc::epoll_event>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The kernel's events read by a wait.
    static KERNEL_BUF: std::cell::RefCell<Vec<libc::epoll_event>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// One registration of a socket: the set and the fd it was added as.
type Registration = (Arc<EpollSet>, i32);

/// The registrations watching one socket. Nearly every watched socket is
/// in one set, so one is kept inline: no allocation per watched socket
/// (memory per held connection, issue 18), and `notify` copies it without
/// allocating.
#[derive(Clone, Default)]
enum Watchers {
    #[default]
    None,
    One(Registration),
    Many(Vec<Registration>),
}

impl Watchers {
    fn push(&mut self, r: Registration) {
        *self = match std::mem::take(self) {
            Watchers::None => Watchers::One(r),
            Watchers::One(a) => Watchers::Many(vec![a, r]),
            Watchers::Many(mut v) => {
                v.push(r);
                Watchers::Many(v)
            }
        };
    }

    /// Drop the registrations `gone` matches; true when none is left.
    fn remove(&mut self, gone: impl Fn(&Registration) -> bool) -> bool {
        match self {
            Watchers::None => {}
            Watchers::One(a) => {
                if gone(a) {
                    *self = Watchers::None;
                }
            }
            Watchers::Many(v) => {
                v.retain(|r| !gone(r));
                if v.len() == 1 {
                    *self = Watchers::One(v.swap_remove(0));
                } else if v.is_empty() {
                    *self = Watchers::None;
                }
            }
        }
        matches!(self, Watchers::None)
    }

    fn iter(&self) -> std::slice::Iter<'_, Registration> {
        match self {
            Watchers::None => [].iter(),
            Watchers::One(a) => std::slice::from_ref(a).iter(),
            Watchers::Many(v) => v.iter(),
        }
    }
}

/// Drop `h`'s registrations that `gone` matches, and its entry once none
/// is left.
fn unwatch(
    w: &mut FastMap<SocketHandle, Watchers>,
    h: SocketHandle,
    gone: impl Fn(&Registration) -> bool,
) {
    if w.get_mut(&h).is_some_and(|v| v.remove(gone)) {
        w.remove(&h);
    }
}

/// epfd → set.
#[derive(Default)]
pub struct EpollTable {
    sets: Mutex<FastMap<i32, Arc<EpollSet>>>,
    /// socket → (set, fd) of each registration watching it.
    watchers: Mutex<FastMap<SocketHandle, Watchers>>,
}

impl EpollTable {
    pub fn get(&self, epfd: i32) -> Option<Arc<EpollSet>> {
        self.sets.lock().get(&epfd).cloned()
    }

    /// The set for `epfd`, created (and its notifier added to the kernel
    /// set) on first use. Err(errno) if epfd is not an epoll fd.
    fn get_or_create(&self, epfd: i32) -> Result<Arc<EpollSet>, i32> {
        if let Some(s) = self.get(epfd) {
            return Ok(s);
        }
        let notifier = new_eventfd(libc::EFD_NONBLOCK);
        if notifier < 0 {
            return Err(libc::ENOMEM);
        }
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: NOTIFIER_TOKEN,
        };
        // SAFETY: epoll_ctl with a valid event struct.
        if unsafe { (real().epoll_ctl)(epfd, libc::EPOLL_CTL_ADD, notifier, &mut ev) } < 0 {
            // SAFETY: reading errno, then closing our eventfd.
            let e = unsafe { *libc::__errno_location() };
            crate::driver::unprotect_and_close(notifier);
            return Err(e);
        }
        let set = Arc::new(EpollSet {
            notifier,
            inner: Mutex::new(Inner::default()),
            wants_out: Default::default(),
        });
        self.sets.lock().insert(epfd, set.clone());
        Ok(set)
    }

    /// epoll_ctl for a stack socket `fd`.
    pub fn ctl(
        &self,
        s: &Shim,
        epfd: i32,
        op: i32,
        fd: i32,
        file: Arc<OpenFile>,
        ev: Option<libc::epoll_event>,
    ) -> Result<(), i32> {
        if matches!(op, libc::EPOLL_CTL_ADD | libc::EPOLL_CTL_MOD) && ev.is_none() {
            return Err(libc::EFAULT);
        }
        if epfd == fd || !exclusive_allowed(op, ev.as_ref()) {
            return Err(libc::EINVAL);
        }
        let set = self.get_or_create(epfd)?;
        if ev.is_some_and(|e| e.events & libc::EPOLLOUT as u32 != 0) {
            set.wants_out
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let h = file.handle;
        let mut inner = set.inner.lock();
        match op {
            libc::EPOLL_CTL_ADD => {
                let ev = ev.ok_or(libc::EFAULT)?;
                if inner.interests.contains_key(&fd) {
                    return Err(libc::EEXIST);
                }
                inner.next_id = inner.next_id.wrapping_add(1);
                let id = inner.next_id;
                inner.interests.insert(
                    fd,
                    Interest {
                        file,
                        events: ev.events,
                        data: ev.u64,
                        disarmed: false,
                        pending: true,
                        last_changes: None,
                        queued: false,
                        id,
                    },
                );
                self.watchers
                    .lock()
                    .entry(h)
                    .or_default()
                    .push((set.clone(), fd));
                crate::loopback::epoll_add(epfd, fd, &inner.interests[&fd].file);
                if s.stack.remote().is_some() {
                    // The anchor's token wakes the waiters; with
                    // EPOLLEXCLUSIVE the kernel wakes one sleeping set
                    // per token, as it does for the socket itself
                    // (nginx's workers, each with its own set on the
                    // inherited listener). In-process, a socket is only
                    // shared by this process's threads: every set wakes.
                    let mut kev = libc::epoll_event {
                        events: libc::EPOLLIN as u32 | (ev.events & EPOLLEXCLUSIVE),
                        u64: ANCHOR_MARK | fd as u32 as u64,
                    };
                    // SAFETY: epoll_ctl with a valid event struct.
                    unsafe { (real().epoll_ctl)(epfd, libc::EPOLL_CTL_ADD, fd, &mut kev) };
                }
                inner.enqueue(fd);
            }
            libc::EPOLL_CTL_MOD => {
                let ev = ev.ok_or(libc::EFAULT)?;
                let i = inner.interests.get_mut(&fd).ok_or(libc::ENOENT)?;
                if i.events & EPOLLEXCLUSIVE != 0 {
                    return Err(libc::EINVAL);
                }
                i.events = ev.events;
                i.data = ev.u64;
                i.disarmed = false;
                i.pending = true;
                i.last_changes = None;
                inner.enqueue(fd);
            }
            libc::EPOLL_CTL_DEL => {
                let gone = inner.interests.remove(&fd).ok_or(libc::ENOENT)?;
                crate::loopback::epoll_del(epfd, &gone.file);
                if s.stack.remote().is_some() {
                    // SAFETY: epoll_ctl DEL needs no event.
                    unsafe {
                        (real().epoll_ctl)(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut())
                    };
                }
                unwatch(&mut self.watchers.lock(), h, |(x, xfd)| {
                    Arc::ptr_eq(x, &set) && *xfd == fd
                });
            }
            _ => return Err(libc::EINVAL),
        }
        // Let a waiter look at the new entry at once (a deleted one needs
        // nothing: a wait skips what is no longer registered).
        if op != libc::EPOLL_CTL_DEL {
            set.signal(&mut inner);
        }
        drop(inner);
        if op != libc::EPOLL_CTL_DEL {
            s.wake_changed();
        }
        Ok(())
    }

    /// The stack socket `h` changed: put its entries on their sets' ready
    /// lists (Linux's `ep_poll_callback`) and wake the sets.
    pub fn notify(&self, h: SocketHandle) {
        let regs = match self.watchers.lock().get(&h) {
            Some(v) => v.clone(),
            None => return,
        };
        for (set, fd) in regs.iter() {
            let fd = *fd;
            let mut inner = set.inner.lock();
            if let Some(i) = inner.interests.get_mut(&fd) {
                if i.file.handle == h {
                    i.pending = true;
                    inner.enqueue(fd);
                    // Readable while the list is not empty: only the
                    // first entry writes.
                    set.signal(&mut inner);
                }
            }
        }
    }

    /// The open file `file` is gone (its last fd closed): drop it from every set.
    pub fn forget_file(&self, file: &Arc<OpenFile>) {
        let regs = self
            .watchers
            .lock()
            .remove(&file.handle)
            .unwrap_or_default();
        for (set, fd) in regs.iter() {
            let mut inner = set.inner.lock();
            if inner
                .interests
                .get(fd)
                .is_some_and(|i| Arc::ptr_eq(&i.file, file))
            {
                inner.interests.remove(fd);
            }
        }
    }

    /// Every (epoll fd, program fd) entry of the open file `file` (a
    /// listener that starts listening adds its shadow: loopback.rs).
    pub fn entries_of(&self, file: &OpenFile) -> Vec<(i32, i32)> {
        let sets: Vec<(i32, Arc<EpollSet>)> = self
            .sets
            .lock()
            .iter()
            .map(|(e, s)| (*e, s.clone()))
            .collect();
        let mut out = Vec::new();
        for (epfd, set) in sets {
            for (fd, i) in set.inner.lock().interests.iter() {
                if std::ptr::eq(Arc::as_ptr(&i.file), file) {
                    out.push((epfd, *fd));
                }
            }
        }
        out
    }

    /// `fd` (of `file`) stops being a stack socket: it became a kernel
    /// socket (loopback.rs). Its entries leave the user-space lists and
    /// come back as (epoll fd, events, data) for the kernel's sets; a
    /// disarmed EPOLLONESHOT entry comes back without events.
    pub fn take_fd(&self, fd: i32, file: &Arc<OpenFile>) -> Vec<(i32, u32, u64)> {
        let sets: Vec<(i32, Arc<EpollSet>)> = self
            .sets
            .lock()
            .iter()
            .map(|(e, s)| (*e, s.clone()))
            .collect();
        let mut out = Vec::new();
        for (epfd, set) in sets {
            let mut inner = set.inner.lock();
            if !inner
                .interests
                .get(&fd)
                .is_some_and(|i| Arc::ptr_eq(&i.file, file))
            {
                continue;
            }
            let Some(i) = inner.interests.remove(&fd) else {
                continue;
            };
            let ev = if i.disarmed {
                i.events & (EPOLLET | EPOLLONESHOT)
            } else {
                i.events
            };
            out.push((epfd, ev, i.data));
            unwatch(&mut self.watchers.lock(), file.handle, |(x, xfd)| {
                Arc::ptr_eq(x, &set) && *xfd == fd
            });
        }
        out
    }

    /// The epoll fd itself is being closed.
    pub fn close_epoll(&self, epfd: i32) {
        let Some(set) = self.sets.lock().remove(&epfd) else {
            return;
        };
        let handles: Vec<SocketHandle> = set
            .inner
            .lock()
            .interests
            .values()
            .map(|i| i.file.handle)
            .collect();
        let mut w = self.watchers.lock();
        for h in handles {
            unwatch(&mut w, h, |(x, _)| Arc::ptr_eq(x, &set));
        }
        drop(w);
        crate::driver::unprotect_and_close(set.notifier);
    }

    /// epoll_wait over the merged set. `out` holds the caller's buffer.
    pub fn wait(
        &self,
        s: &Shim,
        epfd: i32,
        set: &Arc<EpollSet>,
        out: &mut [libc::epoll_event],
        timeout_ms: i32,
    ) -> Result<usize, i32> {
        if out.is_empty() {
            return Err(libc::EINVAL);
        }
        with_event_buf(&KERNEL_BUF, out.len(), |kbuf| {
            self.wait_with(s, epfd, set, out, kbuf, timeout_ms)
        })
    }

    fn wait_with(
        &self,
        s: &Shim,
        epfd: i32,
        set: &Arc<EpollSet>,
        out: &mut [libc::epoll_event],
        kbuf: &mut [libc::epoll_event],
        timeout_ms: i32,
    ) -> Result<usize, i32> {
        let deadline = (timeout_ms >= 0).then(|| {
            std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64)
        });
        // Copy kernel events (never more than `out` holds: an edge-triggered
        // event read from the kernel is consumed) skipping the notifier.
        let take = |kbuf: &[libc::epoll_event], out: &mut [libc::epoll_event], n: &mut usize| {
            let fired: Vec<i32> = kbuf
                .iter()
                .filter(|k| k.u64 & 0xffff_ffff_0000_0000 == ANCHOR_MARK)
                .map(|k| k.u64 as u32 as i32)
                .collect();
            if !fired.is_empty() {
                let mut inner = set.inner.lock();
                for fd in fired {
                    inner.enqueue(fd);
                    // A shadow listener's kernel side fires this mark too:
                    // a new connection there is an edge (loopback.rs).
                    if let Some(i) = inner.interests.get_mut(&fd) {
                        if crate::loopback::shadow_fds(&i.file).is_some() {
                            i.pending = true;
                        }
                    }
                }
            }
            for k in kbuf {
                if !is_ours(k) && *n < out.len() {
                    out[*n] = *k;
                    *n += 1;
                }
            }
        };
        // The poll that woke this turn found the kernel set with nothing
        // ready (the device woke it): its events, if any came since, are
        // taken next time, as if they came after this wait.
        let mut kernel_quiet = false;
        loop {
            // Readiness the stack noted but nobody has dispatched yet
            // (input is handled, its ACK being written, before the
            // dispatch): on the ready lists before they are read, as
            // Linux queues an item the moment the data is queued.
            s.wake_changed();
            // Kernel events first (non-blocking), then stack events.
            let kn = if std::mem::take(&mut kernel_quiet) {
                0
            } else {
                // SAFETY: kbuf is a valid buffer of its length.
                unsafe {
                    (real().epoll_pwait)(
                        epfd,
                        kbuf.as_mut_ptr(),
                        kbuf.len() as i32,
                        0,
                        std::ptr::null(),
                    )
                }
            };
            if kn < 0 {
                // SAFETY: reading errno.
                return Err(unsafe { *libc::__errno_location() });
            }
            let mut n = 0;
            take(&kbuf[..kn as usize], out, &mut n);
            self.collect(s, set, out, &mut n);
            if n > 0 {
                return Ok(n);
            }
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    crate::wait::poll_ms(left)
                }
            };
            // Busy polling (SOCKSHIM_BUSY_POLL_US, as Linux's
            // net.core.busy_poll for epoll): read the device before
            // sleeping; a stack event signals the notifier. Kernel fds'
            // events wait for the next turn (at most the budget).
            if ms != 0 && s.busy_poll_us != 0 {
                let budget = std::time::Duration::from_micros(u64::from(s.busy_poll_us));
                if s.busy_poll(set.notifier, budget, deadline) {
                    // It read the notifier: unreadable again, and the
                    // next turn's report makes it say the list's state.
                    set.unsignal(&mut set.inner.lock(), true);
                    continue;
                }
            }
            // In-process, one thread at a time sleeps on the device too
            // (devwait.rs): a poll of the epoll fd and the device, then
            // the events are taken at the top of the loop. epoll_wait is
            // never restarted after a signal, nor is this. Not for a
            // sender's set: see `wants_out`.
            if !set.wants_out.load(std::sync::atomic::Ordering::Relaxed) && s.device_free() {
                let mut pfd = libc::pollfd {
                    fd: epfd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                let (r, err, _) = s.poll_one_with_device(&mut pfd, ms);
                if r < 0 {
                    return Err(err);
                }
                kernel_quiet = pfd.revents == 0;
                continue;
            }
            // Block in the kernel: the notifier wakes us for stack events.
            // SAFETY: kbuf is a valid buffer of its length.
            let r = unsafe {
                (real().epoll_pwait)(
                    epfd,
                    kbuf.as_mut_ptr(),
                    kbuf.len() as i32,
                    ms,
                    std::ptr::null(),
                )
            };
            if r < 0 {
                // SAFETY: reading errno.
                return Err(unsafe { *libc::__errno_location() });
            }
            take(&kbuf[..r as usize], out, &mut n);
            if n > 0 {
                self.collect(s, set, out, &mut n);
                return Ok(n);
            }
            if r == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(0);
            }
        }
    }

    /// Append ready stack entries to `out`, looking only at the ready
    /// list (as Linux's `ep_send_events`). The notifier then says whether
    /// entries remain on it (`EpollSet::settle`).
    fn collect(&self, s: &Shim, set: &Arc<EpollSet>, out: &mut [libc::epoll_event], n: &mut usize) {
        let mut moved: Vec<(i32, Arc<OpenFile>)> = Vec::new();
        let mut inner = set.inner.lock();
        // Each entry at most once per call: those re-queued during it
        // wait for the next (the list may also hold stale entries of
        // deleted registrations, which `dequeue` skips).
        let mut budget = inner.ready.len();
        let always = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
        match s.stack.remote() {
            None => {
                // Level-triggered entries reported now go back on the list
                // after the walk: taken again within it, they would be
                // reported twice in one batch.
                let mut again = Vec::new();
                while budget > 0 && *n < out.len() {
                    budget -= 1;
                    let Some(fd) = inner.dequeue() else { break };
                    let i = inner.interests.get_mut(&fd).expect("dequeued entry");
                    if i.disarmed {
                        continue;
                    }
                    let mut r = crate::ops::readiness(s, i.file.handle) as u16 as u32;
                    if crate::loopback::shadow_ready(&i.file) {
                        r |= libc::EPOLLIN as u32;
                    }
                    let ready = r & (i.events | always) & !(EPOLLET | EPOLLONESHOT);
                    if ready == 0 {
                        i.pending = false;
                        continue;
                    }
                    let et = i.events & EPOLLET != 0;
                    if et && !i.pending {
                        continue;
                    }
                    out[*n] = libc::epoll_event {
                        events: ready,
                        u64: i.data,
                    };
                    *n += 1;
                    i.pending = false;
                    if i.events & EPOLLONESHOT != 0 {
                        i.disarmed = true;
                    } else if !et {
                        again.push(fd);
                    }
                }
                for fd in again {
                    inner.enqueue(fd);
                }
            }
            Some(r) => {
                // Every listed entry's readiness in one request, after
                // reading the anchors' tokens back (the request re-arms
                // them and registers interest, so the kernel wait cannot
                // miss a change).
                let mut fds = Vec::with_capacity(budget);
                let mut items: Vec<(i32, u64, u32)> = Vec::with_capacity(budget);
                while budget > 0 {
                    budget -= 1;
                    let Some(fd) = inner.dequeue() else { break };
                    let i = &inner.interests[&fd];
                    if i.disarmed {
                        continue;
                    }
                    // Became a kernel socket in another process: taken
                    // in its place below (its events are the kernel's).
                    if crate::loopback_svc::moved(&i.file) {
                        moved.push((fd, i.file.clone()));
                        continue;
                    }
                    fds.push(fd);
                    items.push((fd, i.file.handle.as_u64(), i.events & 0xffff));
                }
                let answers = if items.is_empty() {
                    Vec::new()
                } else {
                    // Remote::poll_armed reads the tokens back, but answers
                    // from the status region what it can (a readable
                    // socket keeps its token).
                    r.poll_armed(&items).unwrap_or_default()
                };
                for (k, fd) in fds.into_iter().enumerate() {
                    let v = answers.get(k).copied().unwrap_or(libc::POLLNVAL as u32);
                    let i = inner.interests.get_mut(&fd).expect("listed entry");
                    // (A forked child's first request has just given it
                    // its own status region: look there too.)
                    if crate::loopback_svc::moved(&i.file) {
                        moved.push((fd, i.file.clone()));
                        continue;
                    }
                    let changes = (v >> 16) as u16;
                    if i.last_changes != Some(changes) {
                        i.pending = true;
                    }
                    i.last_changes = Some(changes);
                    let v = if crate::loopback::shadow_ready(&i.file) {
                        v | libc::EPOLLIN as u32
                    } else {
                        v
                    };
                    let ready = v & 0xffff & (i.events | always) & !(EPOLLET | EPOLLONESHOT);
                    if ready == 0 {
                        // Not ready: the service now watches it for us
                        // (the request registered interest), its anchor
                        // will fire.
                        i.pending = false;
                        continue;
                    }
                    let et = i.events & EPOLLET != 0;
                    let report = (!et || i.pending) && *n < out.len();
                    if report {
                        out[*n] = libc::epoll_event {
                            events: ready,
                            u64: i.data,
                        };
                        *n += 1;
                        i.pending = false;
                        if i.events & EPOLLONESHOT != 0 {
                            i.disarmed = true;
                            continue;
                        }
                    }
                    // Ready: it may stop and start again unseen: look again.
                    inner.enqueue(fd);
                }
            }
        }
        set.settle(&mut inner);
        drop(inner);
        for (fd, file) in moved {
            crate::loopback_svc::adopt_if_moved(fd, &file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> Arc<EpollSet> {
        Arc::new(EpollSet {
            notifier: -1,
            inner: Mutex::new(Inner::default()),
            wants_out: Default::default(),
        })
    }

    /// A datagram from `from` (10.7.0.1:9) to 10.7.0.2:`port`, as the
    /// device would give it.
    fn datagram_frame(port: u16) -> Vec<u8> {
        let peer = stack::Stack::new(stack::Config::new([10, 7, 0, 1].into(), 24));
        let h = peer.socket(stack::SockType::Dgram, 0).unwrap();
        let to = std::net::SocketAddr::from(([10, 7, 0, 2], port));
        peer.send(stack::Instant::ZERO, h, b"hi", 0, Some(to))
            .unwrap();
        peer.poll_transmit().expect("the datagram's frame")
    }

    #[test]
    fn a_zero_timeout_wait_sees_data_the_stack_has_not_dispatched_yet() {
        // The thread that fed a frame to the stack dispatches the change
        // (`Shim::wake_changed`) only after it has written what the input
        // made the stack send. A wait in between, by a thread that saw the
        // data (FIONREAD), must report it: Linux queues the item on the
        // ready list as the data is queued (c-test 154 failed once so).
        let st = stack::Stack::new(stack::Config::new([10, 7, 0, 2].into(), 24));
        let h = st.socket(stack::SockType::Dgram, 0).unwrap();
        st.bind(h, std::net::SocketAddr::from(([0, 0, 0, 0], 7000)))
            .unwrap();
        let shim = Shim::new(crate::net::Net::Local(st), crate::driver::Device::none(), 0);
        // SAFETY: creating an epoll fd, closed at the end.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epfd >= 0);
        let file = Arc::new(OpenFile::new(
            h,
            stack::Domain::Inet,
            stack::SockType::Dgram,
            false,
        ));
        let ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 77,
        };
        let fd = 900;
        shim.epoll
            .ctl(&shim, epfd, libc::EPOLL_CTL_ADD, fd, file, Some(ev))
            .unwrap();
        let set = shim.epoll.get(epfd).unwrap();
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
        assert_eq!(shim.epoll.wait(&shim, epfd, &set, &mut out, 0), Ok(0));
        let Some(local) = shim.stack.local() else {
            unreachable!("a local stack")
        };
        local.handle_frame(stack::Instant::ZERO, &datagram_frame(7000));
        assert!(local.sopoll(h).0 & stack::Readiness::IN.0 != 0, "queued");
        // Nobody called wake_changed: the wait itself must take the change.
        let n = shim.epoll.wait(&shim, epfd, &set, &mut out, 0);
        assert_eq!(n, Ok(1));
        assert_eq!({ out[0].u64 }, 77);
        assert_eq!(out[0].events & libc::EPOLLIN as u32, libc::EPOLLIN as u32);
        shim.epoll.close_epoll(epfd);
        // SAFETY: closing the epoll fd made above.
        unsafe { libc::close(epfd) };
    }

    #[test]
    fn what_every_watched_socket_carries_stays_small() {
        // One interest and one watcher entry per connection in an epoll
        // set (issue 18: memory per held connection).
        assert!(std::mem::size_of::<Interest>() <= 32);
        assert!(std::mem::size_of::<Watchers>() <= 24);
    }

    #[test]
    fn one_watcher_inline_then_many_then_back() {
        let (a, b) = (set(), set());
        let mut w = Watchers::default();
        w.push((a.clone(), 5));
        assert!(matches!(w, Watchers::One(_)));
        w.push((b.clone(), 5));
        w.push((a.clone(), 6));
        assert_eq!(w.iter().count(), 3);
        let of = |s: &Arc<EpollSet>| {
            let s = s.clone();
            move |(x, _): &Registration| Arc::ptr_eq(x, &s)
        };
        assert!(!w.remove(of(&a)), "b's registration is left");
        assert!(matches!(&w, Watchers::One((x, 5)) if Arc::ptr_eq(x, &b)));
        assert!(!w.remove(of(&a)), "nothing of a's: unchanged");
        assert!(w.remove(of(&b)));
        assert_eq!(w.iter().count(), 0);
    }

    #[test]
    fn a_stale_ready_entry_is_skipped_after_re_registration() {
        let mut inner = Inner::default();
        let file = |id| Interest {
            file: Arc::new(OpenFile::new(
                SocketHandle::from_u64(1),
                stack::Domain::Inet,
                stack::SockType::Stream,
                false,
            )),
            events: 0,
            data: 0,
            disarmed: false,
            pending: false,
            last_changes: None,
            queued: false,
            id,
        };
        inner.interests.insert(3, file(u32::MAX));
        assert!(inner.enqueue(3));
        // Deleted and added again (the id wraps): the old entry stays
        // on the list and names the old registration.
        inner.interests.insert(3, file(0));
        assert!(!inner.enqueue(3), "queued behind the stale entry");
        assert_eq!(inner.ready.len(), 2);
        assert_eq!(inner.dequeue(), Some(3));
        assert_eq!(inner.dequeue(), None, "the stale entry is dropped");
    }
}
