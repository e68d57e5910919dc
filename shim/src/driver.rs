//! The shim's global state and its I/O thread. `Shim` owns the stack, the
//! TUN fd and the waiter registry; `shim()` initialises it lazily on the
//! first AF_INET socket call. The driver thread reads the TUN device, runs
//! input and timers, and wakes waiters. Output needs no hand-off: whoever
//! worked on the stack calls `flush()`, writing frames to the TUN fd.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libc::c_void;
use parking_lot::Mutex;
use stack::hash::FastMap;
use stack::{Config, SocketHandle, Stack};

use crate::net::{Net, Remote};

use crate::config::{LogLevel, Mode, ShimConfig};
use crate::fdtable::FdTable;
use crate::log;
use crate::real::real;

/// Where the shim's own fds go (above what programs normally use).
pub const SHIM_FD_BASE: i32 = 900;

pub struct Shim {
    /// The stack in this process, or the service's (SOCKSHIM_MODE).
    pub stack: Net,
    pub fds: FdTable,
    pub epoll: crate::epoll::EpollTable,
    pub tun_fd: i32,
    /// The device was opened with IFF_VNET_HDR: every frame crosses it
    /// behind a `virtio_net_hdr` (offloads, SOCKSHIM_OFFLOAD).
    tun_vnet: bool,
    /// SOCKSHIM_FAULTS impairments between the TUN fd and the stack (the
    /// same `DeviceFaults` sockshimd uses); None: frames pass straight.
    faults: Option<Mutex<stack::faults::DeviceFaults>>,
    driver_wake_fd: i32,
    /// The driver's current timer deadline (stack micros), to know when an
    /// application thread must wake it for an earlier timer.
    driver_deadline: AtomicU64,
    /// Sockets → eventfds of threads blocked on them.
    waiters: Mutex<FastMap<SocketHandle, Vec<i32>>>,
    /// The buffer frames are read from the device into. Whoever holds it
    /// is the one reader of the device: frames reach the stack in the
    /// order the device gave them (the driver, an application thread
    /// that takes it for `rx_inline`, a busy poller). A std mutex: the driver waiting
    /// for it spins briefly, then sleeps on a futex (parking_lot's spin
    /// calls sched_yield, 0.4 system calls per TCP_CRR transaction).
    rx: std::sync::Mutex<Vec<u8>>,
    /// The process that owns this state (a fork child in service mode
    /// takes it over; a vfork child never does).
    pub pid: AtomicI32,
    /// SOCKSHIM_BUSY_POLL_US: the default busy-poll time of a blocking
    /// call (a socket's SO_BUSY_POLL, when set, decides instead).
    pub busy_poll_us: u32,
    /// Blocking calls whose answer busy polling took from the device
    /// itself (they never slept, nor waited for the driver thread).
    busy_poll_hits: AtomicU64,
    /// Threads busy polling the device now: the driver thread leaves the
    /// device to them (it would race them for each frame and win, woken
    /// by the kernel), as a NAPI instance has one poller at a time.
    busy_pollers: AtomicU32,
    /// The driver thread sleeps without watching the device (busy pollers
    /// have it): the last poller to leave wakes it.
    driver_off_device: AtomicBool,
    /// Whose turn it is to write the device (txturn.rs): one thread at a
    /// time, so that frames reach the kernel in the order queued.
    tx_turn: crate::txturn::TxTurn,
    /// An application thread sleeping on the device (devwait.rs).
    pub(crate) devwait: crate::devwait::DeviceWait,
}

static SHIM: OnceLock<Result<Arc<Shim>, i32>> = OnceLock::new();

/// Set in a forked child: the stack belongs to the parent.
pub static FORKED: AtomicBool = AtomicBool::new(false);

/// The shim's own fds (TUN, eventfds): a program closing them "succeeds"
/// but leaves them open.
static PROTECTED: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Close one of the shim's own fds.
pub fn unprotect_and_close(fd: i32) {
    PROTECTED.lock().retain(|&p| p != fd);
    // SAFETY: closing our own fd.
    unsafe { (real().close)(fd) };
}

/// `unprotect_and_close` in a fork child, where another thread of the
/// parent may have held the lock at fork(): the fd is closed anyway.
pub fn unprotect_and_close_in_child(fd: i32) {
    if let Some(mut p) = PROTECTED.try_lock() {
        p.retain(|&x| x != fd);
    }
    // SAFETY: closing our own fd.
    unsafe { (real().close)(fd) };
}

/// One of the shim's own fds becomes an ordinary one (the caller moves
/// or closes it).
pub fn unprotect(fd: i32) {
    PROTECTED.lock().retain(|&p| p != fd);
}

/// Protect one of the shim's own fds (at SHIM_FD_BASE or above).
pub fn protect(fd: i32) {
    PROTECTED.lock().push(fd);
}

/// The protected fds, ascending.
pub fn protected_fds() -> Vec<i32> {
    let mut v = PROTECTED.lock().clone();
    v.sort_unstable();
    v
}

pub fn is_protected(fd: i32) -> bool {
    fd >= SHIM_FD_BASE && PROTECTED.lock().contains(&fd)
}

/// Move `fd` to a high number, close-on-exec; returns the new fd.
pub fn to_high_fd(fd: i32) -> i32 {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an fd we own; the old one is closed.
    let hi = unsafe { (real().fcntl)(fd, libc::F_DUPFD_CLOEXEC, SHIM_FD_BASE as libc::c_ulong) };
    if hi < 0 {
        return fd;
    }
    // SAFETY: closing our own fd.
    unsafe { (real().close)(fd) };
    PROTECTED.lock().push(hi);
    hi
}

/// A protected duplicate of `fd` among the shim's high numbers (one
/// fcntl: nothing is taken from the low numbers); negative on failure.
pub fn dup_high(fd: i32) -> i32 {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor of this process.
    let hi = unsafe { (real().fcntl)(fd, libc::F_DUPFD_CLOEXEC, SHIM_FD_BASE as libc::c_ulong) };
    if hi >= 0 {
        PROTECTED.lock().push(hi);
    }
    hi
}

/// A duplicate of one of the shim's own fds (`fd`) at the lowest free
/// number, as the kernel would give a new descriptor, close-on-exec if
/// `cloexec`; negative on failure (errno set: EMFILE when none is free).
pub fn dup_low(fd: i32, cloexec: bool) -> i32 {
    let cmd = if cloexec {
        libc::F_DUPFD_CLOEXEC
    } else {
        libc::F_DUPFD
    };
    let _alloc = FD_ALLOC.lock();
    // SAFETY: fcntl(F_DUPFD*) on a descriptor of this process.
    unsafe { (real().fcntl)(fd, cmd, 0) }
}

/// Serialises the shim's own fd allocations: an eventfd briefly holds a
/// low number before it moves up, and must not make a concurrent anchor
/// (the program's fd) land on a higher number than the kernel would give.
pub static FD_ALLOC: Mutex<()> = Mutex::new(());

pub fn new_eventfd(flags: i32) -> i32 {
    let _alloc = FD_ALLOC.lock();
    // SAFETY: eventfd(2) has no pointer arguments.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | flags) };
    if fd < 0 {
        return fd;
    }
    to_high_fd(fd)
}

/// A kernel fd made by `make` (a loopback reservation, a shadow
/// listener's connection: loopback.rs), moved to a protected high number
/// under the allocation lock; negative: `make` failed.
pub fn new_high_fd(make: impl FnOnce() -> i32) -> i32 {
    let _alloc = FD_ALLOC.lock();
    let fd = make();
    if fd < 0 {
        return fd;
    }
    to_high_fd(fd)
}

/// A new anchor: an unbound AF_UNIX datagram socket at the lowest free fd.
pub fn new_anchor(cloexec: bool) -> i32 {
    let _alloc = FD_ALLOC.lock();
    let flags = if cloexec { libc::SOCK_CLOEXEC } else { 0 };
    // SAFETY: socket(2) with constant arguments.
    unsafe { (real().socket)(libc::AF_UNIX, libc::SOCK_DGRAM | flags, 0) }
}

/// A secret shared by every shimmed process of this boot (Linux keys its
/// ISNs with one per-boot secret too): derived from the kernel's boot id.
fn boot_secret() -> u64 {
    match std::fs::read_to_string("/proc/sys/kernel/random/boot_id") {
        Ok(id) => id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        }),
        Err(_) => random_seed(),
    }
}

/// CLOCK_MONOTONIC in microseconds: one clock for every process, so ISNs
/// and timestamps keep increasing across processes.
pub(crate) fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    unsafe { libc::getrandom(b.as_mut_ptr() as *mut c_void, b.len(), 0) };
    u64::from_ne_bytes(b)
}

/// The shim, initialised on first use. Err(errno) when the device cannot
/// be used (a one-line explanation was printed).
pub fn shim() -> Result<&'static Arc<Shim>, i32> {
    if FORKED.load(Ordering::Relaxed) {
        log::warn_once(
            "sockshim: sockets inherited across fork() without exec are not supported yet",
        );
        return Err(libc::EBADF);
    }
    SHIM.get_or_init(init).as_ref().map_err(|e| *e)
}

/// The shim whatever process this is (a forked child included): for fd
/// table bookkeeping only, never for stack calls.
pub fn shim_any() -> Option<&'static Arc<Shim>> {
    SHIM.get().and_then(|r| r.as_ref().ok())
}

/// True in a child that shares the parent's memory without owning its
/// stack: vfork() and posix_spawn() children, where no atfork handler runs.
/// Such a child closes and dup2s its own descriptors before exec; it must
/// not touch the fd table, the epoll table or the stack, which are the
/// parent's (python's subprocess closes every fd above 2 this way).
pub fn in_vfork_child() -> bool {
    // SAFETY: getpid has no preconditions (glibc does not cache it).
    !FORKED.load(Ordering::Relaxed)
        && shim_any().is_some_and(|s| unsafe { libc::getpid() } != s.pid.load(Ordering::Relaxed))
}

/// In a forked child: forget an inherited stack-socket fd that is being
/// closed, so the number can be reused for something else. The parent
/// still holds the socket; the child never touches the stack.
pub fn forget_inherited(fd: i32) {
    if let Some(s) = shim_any() {
        s.fds.remove(fd);
    }
}

/// The shim if it was already initialised (no side effects).
pub fn shim_if_ready() -> Option<&'static Arc<Shim>> {
    if FORKED.load(Ordering::Relaxed) {
        return None;
    }
    SHIM.get().and_then(|r| r.as_ref().ok())
}

fn init() -> Result<Arc<Shim>, i32> {
    let cfg = match ShimConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(msg) => {
            log::error(&format!("sockshim: bad configuration: {msg}"));
            return Err(libc::EINVAL);
        }
    };
    log::set_level(cfg.log);
    crate::loopback::set_mode(cfg.loopback);
    if cfg.mode == Mode::Service {
        // The service owns the device and the stack; this process only
        // talks to it (connecting lazily, on the first call).
        let shim = Arc::new(Shim::new(
            Net::Remote(Remote {
                tun: cfg.tun.clone(),
            }),
            Device::none(),
            0,
        ));
        // SAFETY: registering plain extern "C" functions without captures.
        unsafe {
            libc::pthread_atfork(
                Some(atfork_prepare),
                Some(atfork_parent),
                Some(atfork_child),
            );
        }
        return Ok(shim);
    }
    let tun = match crate::sys::tun::open_tun(&cfg.tun, cfg.use_offloads()) {
        Ok(t) => t,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::ENETDOWN);
            let hint = if errno == libc::EBUSY {
                "another process is attached to it; each shimmed process needs its own device (SOCKSHIM_TUN) or namespace"
            } else {
                "create it first (scripts/netns-up NAME, then run inside that namespace), or set SOCKSHIM_TUN"
            };
            log::error(&format!(
                "sockshim: cannot attach TUN device '{}': {e}; {hint}.",
                cfg.tun
            ));
            return Err(if errno == libc::EBUSY {
                libc::EBUSY
            } else {
                libc::ENETDOWN
            });
        }
    };
    if let Some(why) = &tun.fallback {
        log::info(&format!(
            "sockshim: TUN offloads not available on {}: {why}; one frame per MTU",
            cfg.tun
        ));
    }
    let tun_vnet = tun.vnet;
    let offloads = stack::Offloads::from_tun_flags(tun.offload_flags);
    let tun = to_high_fd(tun.fd);
    let mtu = cfg
        .mtu
        .or_else(|| crate::sys::tun::device_mtu(&cfg.tun))
        .unwrap_or(1500);
    let mut sc = Config::new(cfg.addr, cfg.prefix_len);
    sc.gateway = cfg.gateway;
    sc.addr6 = cfg.addr6;
    sc.prefix_len6 = cfg.prefix_len6;
    sc.gateway6 = cfg.gateway6;
    sc.mtu = mtu;
    sc.offloads = offloads;
    if let Some(i) = crate::sys::tun::device_ifindex(&cfg.tun) {
        sc.ifindex = i;
    }
    sc.sysctl = crate::sysctl::read_sysctl();
    sc.seed = random_seed();
    sc.secret = boot_secret();
    let stack = Stack::new(sc);
    if let Some(w) = crate::sys::rtnl::AddrWatch::open(crate::sys::rtnl_sys(), to_high_fd) {
        stack.set_addr_watch(Box::new(move || w.poll()));
    }
    let device = Device {
        tun_fd: tun,
        tun_vnet,
        faults: stack::faults::DeviceFaults::from_spec(cfg.faults).map(Mutex::new),
        driver_wake_fd: new_eventfd(0),
    };
    let shim = Arc::new(Shim::new(Net::Local(stack), device, cfg.busy_poll_us));
    if log::enabled(LogLevel::Info) {
        log::info(&format!(
            "sockshim: attached to {} as {}/{} mtu {mtu}",
            cfg.tun, cfg.addr, cfg.prefix_len
        ));
    }
    let s2 = shim.clone();
    std::thread::Builder::new()
        .name("sockshim-driver".into())
        .spawn(move || {
            // The program's signals go to the program's threads.
            crate::sigwindow::block_in_this_thread();
            crate::sys::timer_slack_1us();
            // A panic in the driver must not unwind into anything; log it.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver_loop(&s2))).is_err()
            {
                log::error("sockshim: driver thread panicked; network I/O stopped");
            }
        })
        .map_err(|_| libc::EAGAIN)?;
    // SAFETY: registering plain extern "C" functions without captures.
    unsafe {
        libc::pthread_atfork(
            Some(atfork_prepare),
            Some(atfork_parent),
            Some(atfork_child),
        );
    }
    Ok(shim)
}

extern "C" fn atfork_prepare() {
    if let Some(s) = shim_any() {
        if s.stack.remote().is_some() {
            // The child will hold every socket: the service learns the
            // O_NONBLOCK flags set meanwhile first (nonblock.rs).
            crate::nonblock::may_be_shared(&s.fds.files());
        }
        s.fds.lock_for_fork();
        crate::callref::lock_for_fork();
    }
}

extern "C" fn atfork_parent() {
    if let Some(s) = shim_any() {
        crate::callref::unlock_after_fork();
        s.fds.unlock_after_fork();
        if s.stack.remote().is_some() {
            crate::nonblock::may_be_shared(&s.fds.files());
        }
    }
}

extern "C" fn atfork_child() {
    crate::fdslot::forget_in_child();
    if let Some(s) = shim_any() {
        s.fds.unlock_after_fork();
        crate::callref::unlock_after_fork();
        if s.stack.remote().is_some() {
            // The service serves the child too: it takes the state over
            // (and connects anew on its first call, see client.rs).
            // SAFETY: getpid has no preconditions.
            s.pid.store(unsafe { libc::getpid() }, Ordering::Relaxed);
            crate::uaccess::forget_pid();
            crate::client::forget_region();
            crate::client::spares_in_child();
            crate::handoff::in_child();
            crate::callref::forget_in_child();
            crate::nonblock::may_be_shared(&s.fds.files());
            return;
        }
    }
    FORKED.store(true, Ordering::Relaxed);
    crate::uaccess::forget_pid();
}

/// At process exit, do what the kernel does for a dying process's sockets:
/// close every one still open (FIN, or RST for unaccepted connections) and
/// keep delivering unsent data and FINs, here for at most 2 s.
///
/// It runs from `.fini_array`, i.e. after every atexit handler of the
/// program (which may still send), while the driver thread still runs;
/// not from atexit(), whose handlers registered before our lazy init would
/// run after it. `_exit()` and fatal signals skip it (see README limits).
extern "C" fn at_exit() {
    if FORKED.load(Ordering::Relaxed) || in_vfork_child() {
        return;
    }
    let Some(s) = shim_if_ready() else { return };
    // With the service, the kernel closes the anchors at exit and the
    // service sends what is left: nothing to do here.
    let Some(st) = s.stack.local() else { return };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if std::env::var_os("SOCKSHIM_CHECK_REFS").is_some_and(|v| v == "1") {
            for m in crate::refcheck::mismatches(s, st) {
                log::error(&m);
            }
        }
        for (_, of) in s.fds.take_all() {
            let _ = st.close(s.now(), of.handle);
        }
        s.after_op();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        s.flush_wait();
        while st.has_unsent_data() && std::time::Instant::now() < deadline {
            s.flush_wait();
            std::thread::sleep(Duration::from_millis(5));
        }
        if log::enabled(LogLevel::Debug) {
            log::debug(&format!(
                "sockshim: stack counters at exit: {:?}",
                st.stats()
            ));
            let hits = s.busy_poll_hits.load(Ordering::Relaxed);
            if s.busy_poll_us != 0 || hits != 0 {
                log::debug(&format!(
                    "sockshim: busy poll answered {hits} blocking calls"
                ));
            }
            if let Some(f) = &s.faults {
                let (i, o) = f.lock().counters();
                log::debug(&format!(
                    "sockshim: faults at exit: inbound {i:?} outbound {o:?}"
                ));
            }
        }
    }));
}

#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = at_exit;

/// What a shim with a stack of its own reads and wakes: the TUN device,
/// its impairments, the driver thread's eventfd.
pub(crate) struct Device {
    pub tun_fd: i32,
    pub tun_vnet: bool,
    pub faults: Option<Mutex<stack::faults::DeviceFaults>>,
    pub driver_wake_fd: i32,
}

impl Device {
    /// No device (service mode: the service has it; unit tests).
    pub fn none() -> Device {
        Device {
            tun_fd: -1,
            tun_vnet: false,
            faults: None,
            driver_wake_fd: -1,
        }
    }
}

impl Shim {
    /// The shim's state around `stack`, before any socket or thread.
    pub(crate) fn new(stack: Net, device: Device, busy_poll_us: u32) -> Shim {
        Shim {
            stack,
            fds: FdTable::default(),
            epoll: crate::epoll::EpollTable::default(),
            tun_fd: device.tun_fd,
            tun_vnet: device.tun_vnet,
            faults: device.faults,
            driver_wake_fd: device.driver_wake_fd,
            driver_deadline: AtomicU64::new(u64::MAX),
            waiters: Mutex::new(FastMap::default()),
            rx: std::sync::Mutex::new(Vec::new()),
            // SAFETY: getpid has no preconditions.
            pid: AtomicI32::new(unsafe { libc::getpid() }),
            busy_poll_us,
            busy_poll_hits: AtomicU64::new(0),
            busy_pollers: AtomicU32::new(0),
            driver_off_device: AtomicBool::new(false),
            tx_turn: crate::txturn::TxTurn::new(),
            devwait: Default::default(),
        }
    }
}

impl Shim {
    pub fn now(&self) -> stack::Instant {
        stack::Instant::from_micros(monotonic_us())
    }

    /// Write every queued frame to the TUN device (through the faults when
    /// configured: what they hold back leaves on a later flush). Returns
    /// the count of frames the stack gave that the kernel answers at once
    /// (`calls_for_answer`): what `rx_inline` may read back.
    pub fn flush(&self) -> usize {
        let Some(st) = self.stack.local() else {
            return 0;
        };
        self.tx_turn.run(|| self.drain_tx(st))
    }

    /// `flush`, waiting while another thread writes: every frame queued
    /// before the call is on the device when it returns (the exit path).
    fn flush_wait(&self) -> usize {
        let Some(st) = self.stack.local() else {
            return 0;
        };
        self.tx_turn.run_wait(|| self.drain_tx(st))
    }

    /// Write every frame the stack has queued; the caller has the turn.
    /// The count of them that call for an answer.
    fn drain_tx(&self, st: &Stack) -> usize {
        let mut sent = 0;
        if let Some(faults) = &self.faults {
            let now = self.now();
            let mut f = faults.lock();
            while let Some(frame) = st.poll_transmit() {
                sent += usize::from(calls_for_answer(&frame));
                f.push_outbound(now, frame);
            }
            while let Some(frame) = f.pop_outbound(now) {
                self.write_tun(&frame);
            }
            return sent;
        }
        if self.tun_vnet {
            let mut hdr = [0u8; stack::wire::virtio_net::HDR_LEN];
            while let Some(frame) = st.poll_transmit_vnet(&mut hdr) {
                let iov = [
                    libc::iovec {
                        iov_base: hdr.as_mut_ptr() as *mut c_void,
                        iov_len: hdr.len(),
                    },
                    libc::iovec {
                        iov_base: frame.as_ptr() as *mut c_void,
                        iov_len: frame.len(),
                    },
                ];
                // SAFETY: two initialised buffers that outlive the call,
                // written (not modified) to our TUN fd.
                unsafe { (real().writev)(self.tun_fd, iov.as_ptr(), 2) };
                sent += usize::from(calls_for_answer(&frame));
                st.recycle(frame);
            }
            return sent;
        }
        while let Some(frame) = st.poll_transmit() {
            self.write_tun(&frame);
            sent += usize::from(calls_for_answer(&frame));
            st.recycle(frame);
        }
        sent
    }

    /// Read up to `budget` frames from the device into `buf` and give them
    /// to the stack (or the faults); the count read. The caller holds `rx`.
    fn rx_frames(&self, st: &Stack, buf: &mut Vec<u8>, budget: usize) -> usize {
        // The largest frame plus its virtio_net_hdr: never cut.
        buf.resize(65536 + stack::wire::virtio_net::HDR_LEN, 0);
        let mut got = 0;
        while got < budget {
            if self.tun_vnet && self.faults.is_none() {
                // A connection's payload may go straight into its receive
                // buffer (the stack's tcp_rxplace.rs): one readv.
                let fd = self.tun_fd;
                if st.read_vnet_frame(self.now(), true, buf, |a, b, c| readv3(fd, a, b, c)) <= 0 {
                    break;
                }
                got += 1;
                continue;
            }
            // SAFETY: reading into our 64 KiB buffer from the TUN fd.
            let n =
                unsafe { (real().read)(self.tun_fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
            if n <= 0 {
                break;
            }
            got += 1;
            self.input(st, &buf[..n as usize]);
        }
        if got > 0 {
            // One ACK per connection for the batch's in-order data.
            st.end_rx_batch(self.now());
        }
        got
    }

    /// `rx_frames` unless another thread reads the device now (then 0):
    /// frames reach the stack in the order the device gave them.
    pub(crate) fn try_rx(&self, st: &Stack, budget: usize) -> usize {
        match self.rx.try_lock() {
            Ok(mut b) => self.rx_frames(st, &mut b, budget),
            // A panic while it was held left nothing to repair in a buffer.
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.rx_frames(st, &mut p.into_inner(), budget)
            }
            Err(std::sync::TryLockError::WouldBlock) => 0,
        }
    }

    /// On an application thread, after it wrote frames: read what the
    /// kernel already answered. A TUN write runs the kernel's side of the
    /// exchange before it returns (a SYN-ACK to our SYN, the ACK of our
    /// data or FIN), so the answer is often queued on the device now;
    /// taking it here saves the wait for the driver to read it and wake
    /// this thread (a blocking connect() returns without sleeping). Only
    /// when no other thread reads the device (the driver, on its own
    /// schedule, takes whatever is left) and without faults (their
    /// inbound queue is the driver's).
    ///
    /// At most one frame per frame `sent` that calls for an answer is
    /// read: the kernel answers such a frame with one as a rule (a
    /// SYN-ACK, an ACK; a super-frame is one skb to it, one ACK), and a
    /// bare ACK or a RST with none (`calls_for_answer`), so once that
    /// many came
    /// the read that would find the device empty (EAGAIN: a system call,
    /// 1 to 2.5 of the 22-23 per TCP_CRR transaction of a shimmed client:
    /// after the SYN-ACK and after the ACK of the request) is not made.
    /// What more there is wakes the driver's level-triggered poll.
    fn rx_inline(&self, st: &Stack, sent: usize) {
        if self.faults.is_some() {
            return;
        }
        if self.try_rx(st, sent.min(RX_INLINE_BUDGET)) > 0 {
            self.flush();
        }
    }

    /// A frame read from the device: through the faults when configured,
    /// else to the stack (behind its virtio_net_hdr with offloads), as one
    /// of a batch that `rx_frames` ends.
    fn input(&self, st: &Stack, frame: &[u8]) {
        match &self.faults {
            Some(f) => f.lock().push_inbound(self.now(), frame),
            None if self.tun_vnet => st.handle_vnet_frame_batch(self.now(), frame, true),
            None => st.handle_frame_meta(self.now(), frame, BATCH),
        }
    }

    /// Busy polling (SOCKSHIM_BUSY_POLL_US, SO_BUSY_POLL): instead of
    /// sleeping at once, a thread about to block reads the device itself
    /// for up to `budget` (never past `deadline`), as Linux's sk_busy_loop
    /// polls the NIC's queue, so an answer is taken without waking the
    /// driver and then this thread. True when the socket changed (its
    /// waiter eventfd `evfd` was signalled, and is drained): try again.
    /// Not under SOCKSHIM_FAULTS (their delays run on the driver's clock).
    pub fn busy_poll(&self, evfd: i32, budget: Duration, deadline: Option<Instant>) -> bool {
        let Some(st) = self.stack.local() else {
            return false;
        };
        if self.faults.is_some() {
            return false;
        }
        let mut end = Instant::now() + budget;
        if let Some(d) = deadline {
            end = end.min(d);
        }
        self.busy_pollers.fetch_add(1, Ordering::SeqCst);
        let changed = self.busy_poll_device(st, evfd, end);
        // The last poller out hands the device back to the driver thread
        // (see `device_left_to_pollers` for the other half).
        if self.busy_pollers.fetch_sub(1, Ordering::SeqCst) == 1
            && self.driver_off_device.load(Ordering::SeqCst)
        {
            self.wake_driver();
        }
        changed
    }

    fn busy_poll_device(&self, st: &Stack, evfd: i32, end: Instant) -> bool {
        loop {
            // One frame at a time, as the device's one reader (`rx`).
            if self.try_rx(st, 1) > 0 {
                st.handle_timeout(self.now());
                self.after_op();
                if crate::wait::take_signal(evfd) {
                    self.busy_poll_hits.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
            } else if crate::wait::take_signal(evfd) {
                // The driver thread read the answer first and woke us.
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::hint::spin_loop();
        }
    }

    /// Whether the driver thread leaves the device to busy pollers this
    /// turn. With `busy_poll`'s exit this is Dekker's handshake: the
    /// driver announces it is off the device, then looks for pollers; a
    /// poller leaves, then looks for the announcement. One of them sees
    /// the other, so the device is never left unwatched.
    fn device_left_to_pollers(&self) -> bool {
        if self.busy_pollers.load(Ordering::SeqCst) == 0 {
            self.driver_off_device.store(false, Ordering::SeqCst);
            return false;
        }
        self.driver_off_device.store(true, Ordering::SeqCst);
        if self.busy_pollers.load(Ordering::SeqCst) == 0 {
            self.driver_off_device.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// SOCKSHIM_FAULTS impairs the device (its inbound queue is the
    /// driver's).
    pub(crate) fn has_faults(&self) -> bool {
        self.faults.is_some()
    }

    /// Threads busy polling the device now.
    pub(crate) fn has_busy_pollers(&self) -> bool {
        self.busy_pollers.load(Ordering::SeqCst) != 0
    }

    fn write_tun(&self, frame: &[u8]) {
        // SAFETY: writing an initialised buffer to our TUN fd.
        unsafe { (real().write)(self.tun_fd, frame.as_ptr() as *const c_void, frame.len()) };
    }

    /// The driver's next deadline: the stack's timer or a frame the faults
    /// hold back, whichever is first.
    fn next_deadline(&self, st: &Stack) -> Option<stack::Instant> {
        let held = self.faults.as_ref().and_then(|f| f.lock().next_due());
        match (st.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// After any stack call: send frames (and take the answers already
    /// queued, `rx_inline`), wake waiters whose sockets changed, and wake
    /// the driver if a timer moved earlier.
    pub fn after_op(&self) {
        let Some(st) = self.stack.local() else { return };
        let sent = self.flush();
        if sent > 0 {
            self.rx_inline(st, sent);
        }
        self.after_input(st);
    }

    /// After a receive: as `after_op`, but what the frames it sent (a
    /// window update) bring back is left to the driver thread: a bulk
    /// sender's next super-frames, which the driver reads into the ring
    /// while this thread copies out of it (read here, they made one
    /// thread do both copies of every byte, the other idle).
    pub fn after_recv(&self) {
        let Some(st) = self.stack.local() else { return };
        self.after_input(st);
    }

    /// After input (the driver): wake waiters, and the driver if a timer
    /// moved earlier.
    fn after_input(&self, st: &Stack) {
        self.flush();
        self.wake_changed();
        if let Some(t) = self.next_deadline(st) {
            if t.total_micros() < self.driver_deadline.load(Ordering::Relaxed) {
                self.wake_driver();
            }
        }
    }

    pub(crate) fn wake_driver(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our eventfd.
        unsafe { (real().write)(self.driver_wake_fd, &one as *const u64 as *const c_void, 8) };
    }

    pub fn wake_changed(&self) {
        let Some(st) = self.stack.local() else { return };
        thread_local! {
            /// The changed sockets (no allocation per call).
            static CHANGED: std::cell::Cell<Vec<SocketHandle>> =
                const { std::cell::Cell::new(Vec::new()) };
        }
        // At exit (after the thread-local destructors) a fresh one.
        let mut changed = CHANGED.try_with(|c| c.take()).unwrap_or_default();
        // The waiters' lock is held from the drain until every set has its
        // entries: a thread that drains after another (an epoll_wait making
        // sure nothing is pending, `EpollTable::wait`) returns only once
        // what the other took is on the ready lists. Without it, data a
        // FIONREAD already saw could be missing from a zero-timeout
        // epoll_wait (c-test 154, once under load), which Linux's
        // ep_poll_callback, run as the data is queued, never allows.
        let w = self.waiters.lock();
        st.drain_changed(&mut changed);
        if changed.is_empty() {
            drop(w);
            let _ = CHANGED.try_with(|c| c.set(changed));
            return;
        }
        for &h in &changed {
            self.epoll.notify(h);
        }
        for h in changed.drain(..) {
            if let Some(fds) = w.get(&h) {
                for &fd in fds {
                    if crate::wait::absorbed(fd) {
                        continue;
                    }
                    let one: u64 = 1;
                    // SAFETY: writing 8 bytes to a waiter's eventfd.
                    unsafe { (real().write)(fd, &one as *const u64 as *const c_void, 8) };
                }
            }
        }
        drop(w);
        let _ = CHANGED.try_with(|c| c.set(changed));
    }

    pub fn register(&self, h: SocketHandle, fd: i32) {
        self.waiters.lock().entry(h).or_default().push(fd);
    }

    pub fn unregister(&self, h: SocketHandle, fd: i32) {
        let mut w = self.waiters.lock();
        if let Some(v) = w.get_mut(&h) {
            if let Some(i) = v.iter().position(|x| *x == fd) {
                v.swap_remove(i);
            }
            if v.is_empty() {
                w.remove(&h);
            }
        }
    }
}

/// One readv of a frame from `fd` into three buffers in order; its length.
fn readv3(fd: i32, a: &mut [u8], b: &mut [u8], c: &mut [u8]) -> isize {
    let iov = [a, b, c].map(|s| libc::iovec {
        iov_base: s.as_mut_ptr() as *mut c_void,
        iov_len: s.len(),
    });
    // SAFETY: three writable buffers that outlive the call.
    unsafe { (real().readv)(fd, iov.as_ptr(), 3) }
}

/// A frame without a virtio_net_hdr, read as one of a batch.
const BATCH: stack::RxMeta = stack::RxMeta {
    csum_ok: false,
    gso: false,
    udp_gso_size: 0,
    batch: true,
};

/// Frames an application thread reads at most after its write (see
/// `rx_inline`): the answers to what it sent, not the driver's backlog.
const RX_INLINE_BUDGET: usize = 8;

/// Whether the kernel answers `frame` (an IP packet we send) at once, as
/// a rule: anything but a TCP segment that is a bare ACK (no data, SYN
/// or FIN) or a RST. Linux answers neither (a keepalive or window probe,
/// a bare ACK it does answer, is the exception: the driver reads that
/// answer). After the ACK of a TCP_CRR response the inline read found
/// the device empty: an EAGAIN per connection.
fn calls_for_answer(frame: &[u8]) -> bool {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    // The TCP segment and its length (the IP payload's).
    let (tcp, len) = match frame.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(frame[0] & 0x0f) * 4;
            if frame.len() < ihl + 20 || frame[9] != libc::IPPROTO_TCP as u8 {
                return true;
            }
            let total = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
            (&frame[ihl..], total.saturating_sub(ihl))
        }
        Some(6) => {
            if frame.len() < 60 || frame[6] != libc::IPPROTO_TCP as u8 {
                return true;
            }
            (
                &frame[40..],
                usize::from(u16::from_be_bytes([frame[4], frame[5]])),
            )
        }
        _ => return true,
    };
    let flags = tcp[13];
    let header = usize::from(tcp[12] >> 4) * 4;
    flags & RST == 0 && (flags & (SYN | FIN) != 0 || len > header)
}

/// A driver poll that returns within this many microseconds did not sleep
/// (or hardly): the frames it reports were queued while the driver
/// worked, and more may follow them.
const BURST_US: u64 = 20;

/// The longest the driver sleeps without a timer due (microseconds).
const MAX_SLEEP_US: u64 = 60_000_000;

fn driver_loop(s: &Shim) {
    let Some(st) = s.stack.local() else { return };
    // The last wakeup found more than one frame queued.
    let mut burst = true;
    let mut turn = crate::devwait::DriverTurn::default();
    loop {
        let now = s.now();
        // Microseconds: a pacing release is due tens of them away (the
        // stack's timers are as fine; this thread's timer slack is 1 us).
        let timeout_us = match s.next_deadline(st) {
            Some(t) => {
                s.driver_deadline.store(t.total_micros(), Ordering::Relaxed);
                let d = t.total_micros().saturating_sub(now.total_micros());
                d.min(MAX_SLEEP_US)
            }
            None => {
                s.driver_deadline.store(u64::MAX, Ordering::Relaxed);
                MAX_SLEEP_US
            }
        };
        // poll(2) skips a negative fd: the device is the pollers' now,
        // or an application thread's that sleeps on it (devwait.rs),
        // until it leaves (this poll's timeout bounds the hand-back).
        let mut off_device = s.device_left_to_pollers();
        let mut timeout_us = timeout_us;
        if !off_device && s.faults.is_none() {
            if let Some(us) = s.devwait.driver_leaves(&mut turn) {
                off_device = true;
                timeout_us = timeout_us.min(us);
            }
        }
        let mut pfd = [
            libc::pollfd {
                fd: if off_device { -1 } else { s.tun_fd },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: s.driver_wake_fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ts = libc::timespec {
            tv_sec: (timeout_us / 1_000_000) as libc::time_t,
            tv_nsec: (timeout_us % 1_000_000 * 1000) as libc::c_long,
        };
        // SAFETY: pfd is a valid array of 2 pollfds, ts a valid timespec;
        // no signal mask.
        unsafe { (real().ppoll)(pfd.as_mut_ptr(), 2, &ts, std::ptr::null()) };
        let slept_us = s.now().total_micros().saturating_sub(now.total_micros());
        if pfd[1].revents & libc::POLLIN != 0 {
            let mut v = 0u64;
            // SAFETY: reading 8 bytes from our eventfd into v.
            unsafe { (real().read)(s.driver_wake_fd, &mut v as *mut u64 as *mut c_void, 8) };
        }
        // Frames a sleeper did not take in a whole turn (devwait.rs).
        let unread = off_device && turn.same_sleep();
        // A poller that started meanwhile takes the frame itself.
        if (pfd[0].revents & libc::POLLIN != 0 || unread)
            && s.busy_pollers.load(Ordering::SeqCst) == 0
        {
            // Read until the device is empty when frames come in bursts:
            // the last wakeup found several, or this poll did not sleep
            // (they queued while we worked). Otherwise one frame per
            // wakeup is the rule (a request, its response, an ACK): read
            // it and let the next poll say whether another came, instead
            // of a read that returns EAGAIN (a system call per wakeup; the
            // poll is level-triggered, so nothing is left behind).
            // An application thread may have taken them (`rx_inline`).
            let budget = if burst || unread || slept_us < BURST_US {
                256
            } else {
                1
            };
            let mut buf = s.rx.lock().unwrap_or_else(|p| p.into_inner());
            let got = s.rx_frames(st, &mut buf, budget);
            drop(buf);
            burst = got > 1;
        }
        if let Some(f) = &s.faults {
            // Frames now due, taken out before the stack runs (flush,
            // from any thread, takes the same lock).
            let now = s.now();
            let due: Vec<Vec<u8>> = {
                let mut f = f.lock();
                std::iter::from_fn(|| f.pop_inbound(now)).collect()
            };
            for frame in due {
                st.handle_frame(now, &frame);
            }
        }
        st.handle_timeout(s.now());
        s.after_input(st);
    }
}

#[cfg(test)]
mod tests {
    use super::calls_for_answer;

    /// An IPv4 (or IPv6) TCP frame with `flags` and `data` bytes of payload.
    fn tcp(v6: bool, flags: u8, data: usize) -> Vec<u8> {
        let mut seg = vec![0u8; 20 + data];
        seg[12] = 5 << 4;
        seg[13] = flags;
        let mut f = if v6 {
            let mut h = vec![0u8; 40];
            h[0] = 6 << 4;
            h[4..6].copy_from_slice(&(seg.len() as u16).to_be_bytes());
            h[6] = 6;
            h
        } else {
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + seg.len()) as u16).to_be_bytes());
            h[9] = 6;
            h
        };
        f.extend_from_slice(&seg);
        f
    }

    /// What the inline read after a write waits for: a SYN's SYN-ACK,
    /// data's or a FIN's ACK, anything not TCP (an echo request's reply);
    /// not for a bare ACK or a RST, which the kernel leaves unanswered.
    #[test]
    fn bare_acks_and_resets_call_for_no_answer() {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        for v6 in [false, true] {
            assert!(calls_for_answer(&tcp(v6, SYN, 0)));
            assert!(calls_for_answer(&tcp(v6, SYN | ACK, 0)));
            assert!(calls_for_answer(&tcp(v6, ACK, 1)), "data");
            assert!(calls_for_answer(&tcp(v6, FIN | ACK, 0)));
            assert!(!calls_for_answer(&tcp(v6, ACK, 0)), "a bare ACK");
            assert!(!calls_for_answer(&tcp(v6, RST | ACK, 0)));
            assert!(!calls_for_answer(&tcp(v6, RST, 5)), "a RST with data");
        }
        let mut udp = tcp(false, ACK, 0);
        udp[9] = 17;
        assert!(calls_for_answer(&udp), "not TCP");
        assert!(calls_for_answer(&[]), "nothing to parse: as before");
        assert!(calls_for_answer(&tcp(false, ACK, 0)[..30]), "cut short");
    }
}
