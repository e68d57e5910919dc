//! `Stack`: one host's TCP/IP stack behind a POSIX-shaped API that takes
//! `&self` and locks internally (DESIGN "Locking inside the stack"):
//!
//! - `slots`: handle → socket (`Arc<Mutex<Socket>>`); `RwLock`, leaf.
//! - `pcbinfo`: port and connection tables; `RwLock`, leaf.
//! - one `Mutex` per socket covering socket, PCB, buffers, accept queues.
//! - `txq`, `timers`, `changed`, `rng`: small leaf mutexes held only to
//!   push or pop.
//! - `sysctl`: the current tunables; `RwLock` over an `Arc`, leaf, held
//!   only to clone or replace the `Arc`.
//!
//! Lock order: a listener's lock before its child's; a socket lock before
//! any leaf lock; never two unrelated sockets; never a socket lock while a
//! leaf lock is held.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::api::{Readiness, RecvMeta, SockInfo, SockType, SocketHandle};
use crate::config::{Config, Sysctl};
use crate::errno::Errno;
use crate::kern::lockorder::{so_lock, SockGuard};
use crate::kern::socket::Socket;
use crate::netinet::in_pcb::PcbInfo;
use crate::rng::Rng;
use crate::stats::{Stats, StatsSnapshot};
use crate::time::Instant;

pub(crate) type SocketRef = Arc<Mutex<Socket>>;

#[derive(Default)]
pub(crate) struct Slots {
    entries: Vec<(u32, Option<SocketRef>)>,
    free: Vec<u32>,
    live: usize,
}

impl Slots {
    fn insert(&mut self, make: impl FnOnce(SocketHandle) -> Socket) -> (SocketHandle, SocketRef) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push((0, None));
                (self.entries.len() - 1) as u32
            }
        };
        let slot = &mut self.entries[index as usize];
        let handle = SocketHandle {
            index,
            generation: slot.0,
        };
        let sref = Arc::new(Mutex::new(make(handle)));
        slot.1 = Some(sref.clone());
        self.live += 1;
        (handle, sref)
    }

    fn get(&self, h: SocketHandle) -> Option<SocketRef> {
        match self.entries.get(h.index as usize) {
            Some((generation, Some(s))) if *generation == h.generation => Some(s.clone()),
            _ => None,
        }
    }

    fn remove(&mut self, h: SocketHandle) {
        if let Some(slot) = self.entries.get_mut(h.index as usize) {
            if slot.0 == h.generation && slot.1.is_some() {
                slot.1 = None;
                slot.0 = slot.0.wrapping_add(1);
                self.free.push(h.index);
                self.live -= 1;
            }
        }
    }

    fn all(&self) -> Vec<SocketRef> {
        self.entries.iter().filter_map(|(_, s)| s.clone()).collect()
    }
}

/// Frames waiting for the device, and a pool of spent buffers.
#[derive(Default)]
pub(crate) struct TxQueue {
    frames: VecDeque<Vec<u8>>,
    pool: Vec<Vec<u8>>,
}

const TX_POOL_MAX: usize = 256;
const CHANGED_MAX: usize = 1 << 16;

/// One stack instance. All methods take `&self`.
pub struct Stack {
    pub(crate) config: Config,
    /// The tunables now in force: `config.sysctl` until [`Stack::set_sysctl`].
    sysctl: RwLock<Arc<Sysctl>>,
    pub(crate) slots: RwLock<Slots>,
    pub(crate) pcbinfo: RwLock<PcbInfo>,
    txq: Mutex<TxQueue>,
    timers: Mutex<BinaryHeap<Reverse<(Instant, SocketHandle)>>>,
    changed: Mutex<Vec<SocketHandle>>,
    pub(crate) rng: Mutex<Rng>,
    pub(crate) isn_key: [u64; 2],
    pub(crate) stats: Stats,
    pub(crate) ip_ident: AtomicU16,
    /// The latest `now` seen, in micros (for work with no `now` argument).
    last_now: AtomicU64,
}

impl Stack {
    pub fn new(config: Config) -> Stack {
        let mut rng = Rng::new(config.seed);
        let mut key_rng = Rng::new(config.secret);
        let isn_key = [key_rng.next_u64(), key_rng.next_u64()];
        let ident = rng.next_u32() as u16;
        Stack {
            sysctl: RwLock::new(Arc::new(config.sysctl.clone())),
            config,
            slots: RwLock::new(Slots::default()),
            pcbinfo: RwLock::new(PcbInfo::default()),
            txq: Mutex::new(TxQueue::default()),
            timers: Mutex::new(BinaryHeap::new()),
            changed: Mutex::new(Vec::new()),
            rng: Mutex::new(rng),
            isn_key,
            stats: Stats::default(),
            ip_ident: AtomicU16::new(ident),
            last_now: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sysctls in force. Like Linux, each use reads the current value:
    /// a socket created after [`Stack::set_sysctl`] gets the new buffer
    /// sizes, and a SYN sent after it the new window scale.
    pub fn sysctl(&self) -> Arc<Sysctl> {
        self.sysctl.read().clone()
    }

    /// Replace the sysctls (the shim re-reads /proc/sys when a socket is
    /// created, as Linux reads them then). Existing sockets keep what they
    /// already derived from the old values.
    pub fn set_sysctl(&self, sysctl: Sysctl) {
        let mut cur = self.sysctl.write();
        if **cur != sysctl {
            *cur = Arc::new(sysctl);
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub(crate) fn saw_now(&self, now: Instant) {
        self.last_now
            .fetch_max(now.total_micros(), Ordering::Relaxed);
    }

    /// The latest `now` any call brought in.
    pub fn last_now(&self) -> Instant {
        Instant::from_micros(self.last_now.load(Ordering::Relaxed))
    }

    // ---- slot table -------------------------------------------------

    pub(crate) fn lookup(&self, h: SocketHandle) -> Result<SocketRef, Errno> {
        self.slots.read().get(h).ok_or(Errno::EBADF)
    }

    /// Lock `h`, failing with EBADF if it is stale or freed.
    pub(crate) fn with_socket<R>(
        &self,
        h: SocketHandle,
        f: impl FnOnce(&mut Socket) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let sref = self.lookup(h)?;
        let mut so = so_lock(&sref);
        // Freed, or alive only through PROTOREF after the last close: to
        // the application the handle is gone.
        if so.freed || (so.so_count == 0 && so.so_qstate == crate::kern::socket::QState::None) {
            return Err(Errno::EBADF);
        }
        let r = f(&mut so);
        drop(so);
        r
    }

    pub(crate) fn lock_live(sref: &SocketRef) -> Option<SockGuard<'_>> {
        let so = so_lock(sref);
        (!so.freed).then_some(so)
    }

    pub(crate) fn slot_insert(
        &self,
        make: impl FnOnce(SocketHandle) -> Socket,
    ) -> (SocketHandle, SocketRef) {
        Stats::bump(&self.stats.sockets_created);
        self.slots.write().insert(make)
    }

    pub(crate) fn slot_remove(&self, h: SocketHandle) {
        Stats::bump(&self.stats.sockets_freed);
        self.slots.write().remove(h);
    }

    /// Sockets alive, including ones held only by PROTOREF or a listen queue.
    pub fn socket_count(&self) -> usize {
        self.slots.read().live
    }

    // ---- transmit queue ---------------------------------------------

    /// A cleared buffer from the pool.
    pub(crate) fn frame_buf(&self) -> Vec<u8> {
        let mut b = self.txq.lock().pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    pub(crate) fn enqueue_frame(&self, frame: Vec<u8>) {
        Stats::bump(&self.stats.frames_out);
        self.txq.lock().frames.push_back(frame);
    }

    /// Next IPv4 packet to write to the device, if any. Packets addressed
    /// to this host itself (its address, 127.0.0.0/8) never reach the
    /// device: they are fed back into input here, where no lock is held.
    pub fn poll_transmit(&self) -> Option<Vec<u8>> {
        loop {
            let frame = self.txq.lock().frames.pop_front()?;
            let dst = frame
                .get(16..20)
                .map(|d| std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]));
            match dst {
                Some(d) if crate::netinet::ip::is_local(self, d) => {
                    self.handle_frame(self.last_now(), &frame);
                    self.recycle(frame);
                }
                _ => return Some(frame),
            }
        }
    }

    /// Give a transmitted frame's buffer back for reuse.
    pub fn recycle(&self, frame: Vec<u8>) {
        let mut q = self.txq.lock();
        if q.pool.len() < TX_POOL_MAX && frame.capacity() <= 70_000 {
            q.pool.push(frame);
        }
    }

    // ---- timers -----------------------------------------------------

    pub(crate) fn schedule(&self, h: SocketHandle, at: Instant) {
        self.timers.lock().push(Reverse((at, h)));
    }

    /// Earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.lock().peek().map(|Reverse((at, _))| *at)
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&self, now: Instant) {
        self.saw_now(now);
        loop {
            let due = {
                let mut t = self.timers.lock();
                match t.peek() {
                    Some(Reverse((at, _))) if *at <= now => t.pop().map(|Reverse((_, h))| h),
                    _ => None,
                }
            };
            let Some(h) = due else { break };
            if let Ok(sref) = self.lookup(h) {
                if let Some(mut so) = Self::lock_live(&sref) {
                    crate::netinet::tcp_timer::tcp_timers(self, now, &mut so);
                }
            }
        }
    }

    // ---- readiness changes ------------------------------------------

    pub(crate) fn sowakeup(&self, h: SocketHandle) {
        let mut c = self.changed.lock();
        if c.last() != Some(&h) && c.len() < CHANGED_MAX {
            c.push(h);
        }
    }

    /// Append the sockets whose readiness may have changed since the last
    /// call (each at most once).
    pub fn drain_changed(&self, out: &mut Vec<SocketHandle>) {
        let start = out.len();
        out.append(&mut self.changed.lock());
        out[start..].sort_unstable();
        let mut tail = out.split_off(start);
        tail.dedup();
        out.append(&mut tail);
    }

    // ---- input ------------------------------------------------------

    /// Feed one IPv4 packet received from the device.
    pub fn handle_frame(&self, now: Instant, frame: &[u8]) {
        self.saw_now(now);
        Stats::bump(&self.stats.frames_in);
        crate::netinet::ip::ip_input(self, now, frame);
    }

    // ---- the socket API ---------------------------------------------

    /// socket(AF_INET, ty, protocol): a new socket with so_count = 1.
    pub fn socket(&self, ty: SockType, protocol: i32) -> Result<SocketHandle, Errno> {
        self.socreate(ty, protocol)
    }

    /// A new descriptor refers to `h` (dup): so_count += 1.
    pub fn sodup(&self, h: SocketHandle) -> Result<(), Errno> {
        self.with_socket(h, |so| {
            so.so_count += 1;
            Ok(())
        })
    }

    /// One descriptor reference is gone; the last one closes the socket.
    pub fn close(&self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        self.saw_now(now);
        self.sorele(now, h)
    }

    pub fn bind(&self, h: SocketHandle, addr: SocketAddrV4) -> Result<(), Errno> {
        self.with_socket(h, |so| so.proto().pru_bind(self, so, addr))
    }

    pub fn listen(&self, h: SocketHandle, backlog: i32) -> Result<(), Errno> {
        self.with_socket(h, |so| so.proto().pru_listen(self, so, backlog))
    }

    /// Never blocks: EAGAIN when no connection is queued.
    pub fn accept(&self, h: SocketHandle) -> Result<(SocketHandle, SocketAddrV4), Errno> {
        self.soaccept(h)
    }

    /// Never blocks: TCP returns EINPROGRESS; follow with `connect_status`.
    /// `None` is AF_UNSPEC (dissolve the association).
    pub fn connect(
        &self,
        now: Instant,
        h: SocketHandle,
        addr: Option<SocketAddrV4>,
    ) -> Result<(), Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| so.proto().pru_connect(self, now, so, addr))
    }

    /// For a connect in progress: Ok(true) connected, Ok(false) still
    /// connecting, Err(e) failed (the pending error is consumed). This is
    /// the end of a blocking connect(2), with Linux's results.
    pub fn connect_status(&self, h: SocketHandle) -> Result<bool, Errno> {
        self.with_socket(h, |so| so.proto().pru_connect_status(self, so))
    }

    /// Never blocks: EAGAIN when no space. `flags` are MSG_* bits.
    pub fn send(
        &self,
        now: Instant,
        h: SocketHandle,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| so.proto().pru_send(self, now, so, data, flags, to))
    }

    /// Never blocks: EAGAIN when nothing to read. `flags` are MSG_* bits.
    pub fn recv(
        &self,
        now: Instant,
        h: SocketHandle,
        buf: &mut [u8],
        flags: i32,
    ) -> Result<RecvMeta, Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| self.soreceive(now, so, buf, flags))
    }

    /// `how` is SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub fn shutdown(&self, now: Instant, h: SocketHandle, how: i32) -> Result<(), Errno> {
        self.saw_now(now);
        self.soshutdown(now, h, how)
    }

    pub fn getsockname(&self, h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        self.with_socket(h, |so| Ok(so.local()))
    }

    pub fn getpeername(&self, h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        self.with_socket(h, |so| so.proto().pru_peeraddr(so))
    }

    /// Linux option semantics; `val` is the option's raw bytes.
    pub fn setsockopt(
        &self,
        now: Instant,
        h: SocketHandle,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| self.sosetopt(now, so, level, name, val))
    }

    /// Writes the option's raw bytes into `out` (truncated like Linux) and
    /// returns the length Linux would report in optlen.
    pub fn getsockopt(
        &self,
        h: SocketHandle,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        self.with_socket(h, |so| self.sogetopt(so, level, name, out))
    }

    /// Current readiness (POLL* bits). A stale handle reports NVAL.
    pub fn sopoll(&self, h: SocketHandle) -> Readiness {
        self.with_socket(h, |so| Ok(so.proto().pru_sopoll(so)))
            .unwrap_or(Readiness::NVAL)
    }

    pub fn sockinfo(&self, h: SocketHandle) -> Result<SockInfo, Errno> {
        self.with_socket(h, |so| Ok(so.proto().pru_sockinfo(so)))
    }

    /// Does any TCP connection still have data or a FIN not yet
    /// acknowledged? (The shim's exit grace period waits on this.)
    pub fn has_unsent_data(&self) -> bool {
        self.slots.read().all().iter().any(|sref| {
            let so = so_lock(sref);
            so.so_pcb.tcp().is_some_and(|tp| {
                tp.t_state.synchronized()
                    && tp.t_state != crate::netinet::tcp_var::TcpState::TimeWait
                    && (tp.snd_una != tp.snd_max || so.so_snd.cc() > 0)
            })
        })
    }

    /// Assert every invariant of DESIGN.md over the whole stack (tests call
    /// this after every step).
    pub fn check_invariants(&self) {
        let all = self.slots.read().all();
        let live = all.len();
        assert_eq!(live, self.slots.read().live, "slot count");
        for sref in &all {
            let so = so_lock(sref);
            so.check_invariants();
            so.proto().pru_check(self, &so);
            if let Some(q) = &so.so_listen {
                for &child in &q.sol_comp {
                    let c = self
                        .lookup(child)
                        .expect("queued child is in the slot table");
                    let c = so_lock(&c);
                    assert_eq!(
                        c.so_head,
                        Some(so.handle),
                        "queued child points at its listener"
                    );
                }
            }
        }
    }
}
