//! epoll emulation. The program's epoll fd is a real kernel epoll fd that
//! holds its kernel fds plus one internal eventfd (the "notifier"); stack
//! sockets live in a user-space interest list here. The stack's readiness
//! changes write to the notifier, so a blocking `epoll_wait` in the kernel
//! wakes for them; `epoll_wait` then merges kernel events with stack events
//! computed from `sopoll`, keeping EPOLLET and EPOLLONESHOT semantics.
//! While a level-triggered stack socket stays ready the notifier is left
//! readable, so the epoll fd itself polls readable (nested epoll, poll on
//! an epoll fd).

use std::collections::HashMap;
use std::sync::Arc;

use libc::c_void;
use parking_lot::Mutex;
use stack::SocketHandle;

use crate::driver::{new_eventfd, Shim};
use crate::fdtable::OpenFile;
use crate::real::real;

/// Marks the notifier's entry in the kernel epoll set.
const NOTIFIER_TOKEN: u64 = 0x736f_636b_7368_696d; // "sockshim"

/// With the service, each stack socket's anchor sits in the kernel epoll
/// set too (readable = the service's token: something changed); its
/// events carry this mark and the fd in the low 32 bits.
const ANCHOR_MARK: u64 = 0x736f_636b_0000_0000;

fn is_ours(k: &libc::epoll_event) -> bool {
    k.u64 == NOTIFIER_TOKEN || k.u64 & 0xffff_ffff_0000_0000 == ANCHOR_MARK
}

const EPOLLET: u32 = 1 << 31;
const EPOLLONESHOT: u32 = 1 << 30;

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
    /// With the service: ask about this entry at the next wait (new or
    /// modified, its anchor fired, or it was ready when last asked). Any
    /// other entry was not ready when asked, and the service then armed its
    /// anchor for the events it waits for: it would have fired.
    recheck: bool,
}

/// One epoll instance that has (or had) stack sockets in it.
#[derive(Debug)]
pub struct EpollSet {
    pub notifier: i32,
    interests: Mutex<HashMap<i32, Interest>>,
}

impl EpollSet {
    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our eventfd.
        unsafe { (real().write)(self.notifier, &one as *const u64 as *const c_void, 8) };
    }

    fn drain(&self) {
        crate::wait::drain(self.notifier);
    }
}

/// epfd → set.
#[derive(Default)]
pub struct EpollTable {
    sets: Mutex<HashMap<i32, Arc<EpollSet>>>,
    /// socket → sets watching it.
    watchers: Mutex<HashMap<SocketHandle, Vec<Arc<EpollSet>>>>,
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
        let notifier = new_eventfd();
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
            interests: Mutex::new(HashMap::new()),
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
        if epfd == fd {
            return Err(libc::EINVAL);
        }
        let set = self.get_or_create(epfd)?;
        let h = file.handle;
        let mut list = set.interests.lock();
        match op {
            libc::EPOLL_CTL_ADD => {
                let ev = ev.ok_or(libc::EFAULT)?;
                if list.contains_key(&fd) {
                    return Err(libc::EEXIST);
                }
                list.insert(
                    fd,
                    Interest {
                        file,
                        events: ev.events,
                        data: ev.u64,
                        disarmed: false,
                        pending: true,
                        last_changes: None,
                        recheck: true,
                    },
                );
                self.watchers.lock().entry(h).or_default().push(set.clone());
                if s.stack.remote().is_some() {
                    let mut kev = libc::epoll_event {
                        events: libc::EPOLLIN as u32,
                        u64: ANCHOR_MARK | fd as u32 as u64,
                    };
                    // SAFETY: epoll_ctl with a valid event struct.
                    unsafe { (real().epoll_ctl)(epfd, libc::EPOLL_CTL_ADD, fd, &mut kev) };
                }
            }
            libc::EPOLL_CTL_MOD => {
                let ev = ev.ok_or(libc::EFAULT)?;
                let i = list.get_mut(&fd).ok_or(libc::ENOENT)?;
                if ev.events & libc::EPOLLEXCLUSIVE as u32 != 0
                    || i.events & libc::EPOLLEXCLUSIVE as u32 != 0
                {
                    return Err(libc::EINVAL);
                }
                i.events = ev.events;
                i.data = ev.u64;
                i.disarmed = false;
                i.pending = true;
                i.last_changes = None;
                i.recheck = true;
            }
            libc::EPOLL_CTL_DEL => {
                list.remove(&fd).ok_or(libc::ENOENT)?;
                if s.stack.remote().is_some() {
                    // SAFETY: epoll_ctl DEL needs no event.
                    unsafe {
                        (real().epoll_ctl)(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut())
                    };
                }
                let mut w = self.watchers.lock();
                if let Some(v) = w.get_mut(&h) {
                    if let Some(pos) = v.iter().position(|x| Arc::ptr_eq(x, &set)) {
                        v.swap_remove(pos);
                    }
                    if v.is_empty() {
                        w.remove(&h);
                    }
                }
            }
            _ => return Err(libc::EINVAL),
        }
        drop(list);
        // Let a waiter re-evaluate at once.
        set.signal();
        s.wake_changed();
        Ok(())
    }

    /// The stack socket `h` changed: mark its entries and wake the sets.
    pub fn notify(&self, h: SocketHandle) {
        let sets: Vec<Arc<EpollSet>> = match self.watchers.lock().get(&h) {
            Some(v) => v.clone(),
            None => return,
        };
        for set in sets {
            for i in set.interests.lock().values_mut() {
                if i.file.handle == h {
                    i.pending = true;
                }
            }
            set.signal();
        }
    }

    /// The open file `file` is gone (its last fd closed): drop it from every set.
    pub fn forget_file(&self, file: &Arc<OpenFile>) {
        let sets: Vec<Arc<EpollSet>> = self
            .watchers
            .lock()
            .remove(&file.handle)
            .unwrap_or_default();
        for set in sets {
            set.interests
                .lock()
                .retain(|_, i| !Arc::ptr_eq(&i.file, file));
        }
    }

    /// The epoll fd itself is being closed.
    pub fn close_epoll(&self, epfd: i32) {
        let Some(set) = self.sets.lock().remove(&epfd) else {
            return;
        };
        let mut w = self.watchers.lock();
        for v in w.values_mut() {
            v.retain(|x| !Arc::ptr_eq(x, &set));
        }
        w.retain(|_, v| !v.is_empty());
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
        let deadline = (timeout_ms >= 0).then(|| {
            std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64)
        });
        let mut kbuf = vec![libc::epoll_event { events: 0, u64: 0 }; out.len()];
        // Copy kernel events (never more than `out` holds: an edge-triggered
        // event read from the kernel is consumed) skipping the notifier.
        let take = |kbuf: &[libc::epoll_event], out: &mut [libc::epoll_event], n: &mut usize| {
            let fired: Vec<i32> = kbuf
                .iter()
                .filter(|k| k.u64 & 0xffff_ffff_0000_0000 == ANCHOR_MARK)
                .map(|k| k.u64 as u32 as i32)
                .collect();
            if !fired.is_empty() {
                let mut list = set.interests.lock();
                for fd in fired {
                    if let Some(i) = list.get_mut(&fd) {
                        i.recheck = true;
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
        loop {
            set.drain();
            // Kernel events first (non-blocking), then stack events.
            // SAFETY: kbuf is a valid buffer of its length.
            let kn = unsafe {
                (real().epoll_pwait)(
                    epfd,
                    kbuf.as_mut_ptr(),
                    kbuf.len() as i32,
                    0,
                    std::ptr::null(),
                )
            };
            if kn < 0 {
                // SAFETY: reading errno.
                return Err(unsafe { *libc::__errno_location() });
            }
            let mut n = 0;
            take(&kbuf[..kn as usize], out, &mut n);
            if self.collect(s, set, out, &mut n) {
                set.signal();
            }
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
                    left.as_micros().div_ceil(1000) as i32
                }
            };
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
                if self.collect(s, set, out, &mut n) {
                    set.signal();
                }
                return Ok(n);
            }
            if r == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(0);
            }
        }
    }

    /// Append ready stack entries to `out`. Returns whether some
    /// level-triggered entry remains ready after this report.
    fn collect(
        &self,
        s: &Shim,
        set: &Arc<EpollSet>,
        out: &mut [libc::epoll_event],
        n: &mut usize,
    ) -> bool {
        let mut still = false;
        let mut list = set.interests.lock();
        // With the service: every armed entry's readiness in one request,
        // after reading the anchors' tokens back (the request re-arms them
        // and registers interest, so the kernel wait below cannot miss a
        // change).
        let remote: Option<Vec<u32>> = s.stack.remote().map(|r| {
            let items: Vec<(u64, u32)> = list
                .iter()
                .filter(|(_, i)| !i.disarmed && i.recheck)
                .map(|(fd, i)| {
                    crate::wait::drain_token(*fd);
                    (i.file.handle.as_u64(), i.events & 0xffff)
                })
                .collect();
            if items.is_empty() {
                return Vec::new();
            }
            r.poll(items, true).unwrap_or_default()
        });
        let mut rv = remote.as_ref().map(|v| v.iter());
        for i in list.values_mut() {
            if i.disarmed || (remote.is_some() && !i.recheck) {
                continue;
            }
            let always = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
            let r = match rv.as_mut() {
                None => crate::ops::readiness(s, i.file.handle) as u16 as u32,
                Some(it) => {
                    let v = it.next().copied().unwrap_or(libc::POLLNVAL as u32);
                    let changes = (v >> 16) as u16;
                    if i.last_changes != Some(changes) {
                        i.pending = true;
                    }
                    i.last_changes = Some(changes);
                    v & 0xffff
                }
            };
            let ready = r & (i.events | always) & !(EPOLLET | EPOLLONESHOT);
            if remote.is_some() {
                // Not ready: the service now watches it for us (the
                // request registered interest), its anchor will fire.
                // Ready: it may stop and start again unseen: look again.
                i.recheck = ready != 0;
            }
            if ready == 0 {
                i.pending = false;
                continue;
            }
            let et = i.events & EPOLLET != 0;
            if et && !i.pending {
                continue;
            }
            if *n >= out.len() {
                still = true;
                i.recheck = true;
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
                still = true;
                i.recheck = true;
            }
        }
        still
    }
}
