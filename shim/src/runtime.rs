//! The process's one stack instance and everything around it: lazy
//! initialisation on the first AF_INET socket call (settings, TUN attach,
//! sysctls, driver thread), the epilogue run after every stack call (send
//! queued frames to the TUN device, wake waiters of changed sockets, kick
//! the driver when a timer moved earlier), fork handling and the exit
//! grace period.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use stack::{Config, Errno, SocketHandle, Stack, Sysctl};

use crate::fdtable::TABLE;
use crate::settings::Settings;
use crate::{protected, sys};

/// The stack, its device and the shim-side wait lists.
pub struct Shim {
    pub stack: Stack,
    tun_fd: RawFd,
    /// Eventfd the driver sleeps on besides the TUN fd.
    driver_wake: RawFd,
    /// When the driver will next wake by itself (µs), DEADLINE_COMPUTING
    /// while it is deciding, DEADLINE_NONE when it sleeps without timeout.
    driver_deadline: AtomicU64,
    /// Socket → eventfds of the threads blocked on it.
    waiters: Mutex<HashMap<SocketHandle, Vec<RawFd>>>,
    /// Serialises writes to the device so frames keep the stack's order.
    transmit: Mutex<()>,
    /// Sockets closed by the program whose data may still be in flight.
    lingering: Mutex<Vec<SocketHandle>>,
    owner_pid: i32,
    pub mtu: usize,
    pub dropped_frames: AtomicU64,
}

pub const DEADLINE_COMPUTING: u64 = 0;
pub const DEADLINE_NONE: u64 = u64::MAX;

enum State {
    Ready(&'static Shim),
    Failed(Errno),
}

static STATE: OnceLock<State> = OnceLock::new();
/// Set in a child after fork(): the stack belongs to the parent.
static FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// The stack for a new socket, initialising it on first use.
pub fn get_or_init() -> Result<&'static Shim, Errno> {
    let state = STATE.get_or_init(init);
    if FORKED_CHILD.load(Ordering::Relaxed) {
        crate::warn_once!(
            "this process was forked (without exec) from a process using sockshim; \
             its stack and TUN device stay with the parent, so new sockets fail with ENETDOWN"
        );
        return Err(Errno::ENETDOWN);
    }
    match state {
        State::Ready(s) => Ok(s),
        State::Failed(e) => Err(*e),
    }
}

/// The stack for an operation on an existing stack socket.
pub fn for_socket() -> Result<&'static Shim, Errno> {
    if FORKED_CHILD.load(Ordering::Relaxed) {
        crate::warn_once!(
            "a forked child used a socket inherited from its parent; sharing stack \
             sockets across fork is not supported yet (EBADF)"
        );
        return Err(Errno::EBADF);
    }
    match STATE.get() {
        Some(State::Ready(s)) => Ok(s),
        _ => Err(Errno::EBADF),
    }
}

/// The stack if this process owns it, silently None otherwise (for
/// cleanup paths such as close in a forked child).
pub fn owned() -> Option<&'static Shim> {
    if FORKED_CHILD.load(Ordering::Relaxed) {
        return None;
    }
    match STATE.get() {
        Some(State::Ready(s)) => Some(s),
        _ => None,
    }
}

/// True in a child that shares our memory without owning the stack
/// (vfork / posix_spawn): there we must not touch the fd table either.
pub fn in_vfork_child() -> bool {
    match STATE.get() {
        Some(State::Ready(s)) => {
            !FORKED_CHILD.load(Ordering::Relaxed) && sys::getpid() != s.owner_pid
        }
        _ => false,
    }
}

pub fn is_forked_child() -> bool {
    FORKED_CHILD.load(Ordering::Relaxed)
}

fn read_sysctls() -> Sysctl {
    let mut sysctl = Sysctl::default();
    for path in stack::config::SYSCTL_PATHS {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/sys/{path}")) {
            if !sysctl.apply(path, &text) {
                crate::log_debug!("ignored /proc/sys/{path}: {:?}", text.trim());
            }
        }
    }
    sysctl
}

fn init() -> State {
    crate::guard::inside(|| match try_init() {
        Ok(shim) => State::Ready(shim),
        Err((e, msg)) => {
            crate::log_error!("{msg}");
            State::Failed(e)
        }
    })
}

fn try_init() -> Result<&'static Shim, (Errno, String)> {
    let settings = Settings::from_env(|k| std::env::var(k).ok())
        .map_err(|m| (Errno::EINVAL, format!("bad configuration: {m}")))?;
    let tun = sys::tun::attach(&settings.tun).map_err(|e| (e.errno(), e.to_string()))?;
    let tun_fd = protected::move_high(tun.fd).unwrap_or(tun.fd);
    let driver_wake = sys::eventfd()
        .and_then(protected::move_high)
        .map_err(|e| (Errno::ENOBUFS, format!("cannot create an eventfd: {e}")))?;
    let mtu = settings.mtu.unwrap_or(tun.mtu);
    let config = Config {
        addr: settings.addr,
        prefix_len: settings.prefix_len,
        gateway: settings.gateway,
        mtu,
        sysctl: read_sysctls(),
        seed: sys::random_u64(),
    };
    let shim: &'static Shim = Box::leak(Box::new(Shim {
        stack: Stack::new(config),
        tun_fd,
        driver_wake,
        driver_deadline: AtomicU64::new(DEADLINE_COMPUTING),
        waiters: Mutex::new(HashMap::new()),
        transmit: Mutex::new(()),
        lingering: Mutex::new(Vec::new()),
        owner_pid: sys::getpid(),
        mtu,
        dropped_frames: AtomicU64::new(0),
    }));
    std::thread::Builder::new()
        .name("sockshim-driver".into())
        .spawn(move || crate::driver::run(shim))
        .map_err(|e| {
            (
                Errno::ENOBUFS,
                format!("cannot start the driver thread: {e}"),
            )
        })?;
    // SAFETY: the handlers are `extern "C" fn()` that live for the whole
    // process (this library is never unloaded: LD_PRELOAD).
    unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
    crate::log_info!(
        "attached to {} as {}/{} gateway {:?} mtu {}",
        settings.tun,
        settings.addr,
        settings.prefix_len,
        settings.gateway,
        mtu
    );
    Ok(shim)
}

extern "C" fn fork_prepare() {
    TABLE.lock_for_fork();
}

extern "C" fn fork_parent() {
    TABLE.unlock_after_fork();
}

extern "C" fn fork_child() {
    TABLE.unlock_after_fork();
    FORKED_CHILD.store(true, Ordering::Relaxed);
    if let Some(State::Ready(s)) = STATE.get() {
        // The child's copies only: the parent keeps its device and eventfd.
        protected::close_own(s.tun_fd);
        protected::close_own(s.driver_wake);
    }
}

impl Shim {
    pub fn tun_fd(&self) -> RawFd {
        self.tun_fd
    }

    pub fn driver_wake_fd(&self) -> RawFd {
        self.driver_wake
    }

    pub fn set_driver_deadline(&self, micros: u64) {
        self.driver_deadline.store(micros, Ordering::SeqCst);
    }

    /// The epilogue of every stack call, from any thread.
    pub fn after_call(&self) {
        self.flush_transmit();
        self.wake_changed();
        self.kick_driver_if_needed();
    }

    /// Writes every frame the stack has queued to the device.
    pub fn flush_transmit(&self) {
        let _order = self.transmit.lock();
        while let Some(frame) = self.stack.poll_transmit() {
            // SAFETY: `frame` is a valid buffer of its length.
            let n = unsafe {
                (crate::real::real().write)(self.tun_fd, frame.as_ptr().cast(), frame.len())
            };
            if n < 0 {
                self.dropped_frames.fetch_add(1, Ordering::Relaxed);
                crate::log_debug!(
                    "TUN write of {} bytes failed: {}",
                    frame.len(),
                    sys::last_errno()
                );
            }
            self.stack.recycle(frame);
        }
    }

    /// Wakes the threads waiting on sockets whose readiness changed.
    pub fn wake_changed(&self) {
        let mut changed = Vec::new();
        self.stack.drain_changed(&mut changed);
        if changed.is_empty() {
            return;
        }
        let mut fds = Vec::new();
        {
            let waiters = self.waiters.lock();
            if waiters.is_empty() {
                return;
            }
            for h in &changed {
                if let Some(list) = waiters.get(h) {
                    fds.extend_from_slice(list);
                }
            }
        }
        fds.sort_unstable();
        fds.dedup();
        for fd in fds {
            sys::eventfd_signal(fd);
        }
    }

    fn kick_driver_if_needed(&self) {
        if let Some(t) = self.stack.poll_timeout() {
            let d = self.driver_deadline.load(Ordering::SeqCst);
            if d == DEADLINE_COMPUTING || t.total_micros() < d {
                sys::eventfd_signal(self.driver_wake);
            }
        }
    }

    /// Adds `fd` (a thread's eventfd) to the wait lists of `handles`.
    pub fn add_waiter(&self, handles: &[SocketHandle], fd: RawFd) {
        let mut w = self.waiters.lock();
        for h in handles {
            w.entry(*h).or_default().push(fd);
        }
    }

    pub fn remove_waiter(&self, handles: &[SocketHandle], fd: RawFd) {
        let mut w = self.waiters.lock();
        for h in handles {
            if let Some(list) = w.get_mut(h) {
                if let Some(i) = list.iter().position(|&f| f == fd) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    w.remove(h);
                }
            }
        }
    }

    /// One descriptor reference to `h` is gone (close of one fd).
    pub fn release(&self, h: SocketHandle) {
        let _ = self.stack.close(sys::now(), h);
        self.lingering.lock().push(h);
        self.after_call();
        self.prune_lingering();
    }

    fn prune_lingering(&self) {
        let mut l = self.lingering.lock();
        if l.len() > 64 {
            l.retain(|h| self.stack.sockinfo(*h).is_ok());
        }
    }

    /// At exit: close what is still open (as the kernel does) and give
    /// queued data and FINs up to `grace` to be delivered.
    fn linger_at_exit(&self, grace: Duration) {
        for (_, file) in TABLE.clear() {
            let _ = self.stack.close(sys::now(), file.handle);
            self.lingering.lock().push(file.handle);
        }
        self.after_call();
        let handles: Vec<SocketHandle> = self.lingering.lock().clone();
        let deadline = sys::monotonic_micros() + grace.as_micros() as u64;
        while sys::monotonic_micros() < deadline && handles.iter().any(|h| self.in_flight(*h)) {
            std::thread::sleep(Duration::from_millis(5));
            self.after_call();
        }
    }

    fn in_flight(&self, h: SocketHandle) -> bool {
        const FIN_WAIT1: u8 = 4;
        const LAST_ACK: u8 = 9;
        const CLOSING: u8 = 11;
        match self.stack.sockinfo(h) {
            Ok(i) => i.snd_cc > 0 || matches!(i.tcp_state, FIN_WAIT1 | LAST_ACK | CLOSING),
            Err(_) => false,
        }
    }
}

/// Exit grace period: runs from `.fini_array`, after the program's atexit
/// handlers (which may still send), while the driver thread still runs.
extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if FORKED_CHILD.load(Ordering::Relaxed) {
            return;
        }
        if let Some(State::Ready(s)) = STATE.get() {
            if sys::getpid() == s.owner_pid {
                crate::guard::inside(|| s.linger_at_exit(Duration::from_secs(2)));
            }
        }
    });
}

#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = at_exit;
