//! The client side of the service protocol (SOCKSHIM_MODE=service): one
//! connection per process to `sockshimd` (docs/architecture.md, "The stack
//! service"), started on demand. `call` sends one request and returns the
//! reply, with the descriptor the service passed along (the anchor of a
//! new socket). After fork the child opens its own connection and attaches
//! every inherited socket by passing its anchor; a connection lost to the
//! service's death is ECONNRESET for that call, one line on stderr, and a
//! new service is started by the next call.
//!
//! The data path's client side lives here too (docs/architecture.md,
//! "Data path"): the status region the service passes with its reply to
//! `Hello`, mapped read-only but for the receive rings' consumer words
//! (`slot` reads a socket's published state under its sequence lock;
//! `ring_recv` takes received bytes from the socket's ring), and `post`,
//! a stream send written to the connection without waiting for a reply
//! when the region shows room.

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use libc::{c_int, c_void};
use parking_lot::Mutex;
use proto::msg::decode_reply;
use proto::{Body, Reply, Request};
use stack::Errno;

use crate::log;
use crate::real::real;
use crate::spares::{Kind, Spares};

struct Conn {
    fd: c_int,
    pid: c_int,
    buf: Vec<u8>,
    /// Sockets the service made ahead for this process (spares.rs).
    spares: Spares,
}

impl Conn {
    /// Close the connection and the spares that came on it.
    fn close(mut self) {
        crate::driver::unprotect_and_close(self.fd);
        self.spares.drain(crate::driver::unprotect_and_close);
    }
}

static CONN: Mutex<Option<Conn>> = Mutex::new(None);

/// This process's status region (null: none, or not ours after a fork).
/// Never unmapped: a thread may be reading it while another replaces it
/// (a reconnection leaves one stale mapping behind).
static REGION: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
/// `Post` bytes written on the current connection (the region's header
/// counts those the service took).
static POSTED: AtomicU64 = AtomicU64::new(0);

/// Map the region passed with the reply to `Hello` (read-only) and close
/// its descriptor; null when it is not one.
fn map_region(fd: c_int) -> *mut u8 {
    // SAFETY: mapping a file we were passed, read-only and shared; the
    // service sealed its size, so the mapping stays valid.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            proto::region::REGION_LEN,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        // SAFETY: our fd, received just now.
        unsafe { (real().close)(fd) };
        return std::ptr::null_mut();
    }
    // The consumer words, the one part we write, mapped writable in place.
    // SAFETY: replacing pages of the mapping just made, at a page-aligned
    // offset inside it, with the same file's pages at that offset.
    let c = unsafe {
        libc::mmap(
            (p as *mut u8).add(proto::region::CONSUMERS_OFF) as *mut c_void,
            proto::region::CONSUMERS_LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            proto::region::CONSUMERS_OFF as libc::off_t,
        )
    };
    // SAFETY: our fd, received just now (the mappings keep the memory).
    unsafe { (real().close)(fd) };
    if c == libc::MAP_FAILED {
        // SAFETY: unmapping what we just mapped; nobody else saw it.
        unsafe { libc::munmap(p, proto::region::REGION_LEN) };
        return std::ptr::null_mut();
    }
    let base = p as *mut u8;
    if word(base, proto::region::H_MAGIC).load(Ordering::Acquire) != proto::region::MAGIC {
        // SAFETY: unmapping what we just mapped; nobody else saw it.
        unsafe { libc::munmap(p, proto::region::REGION_LEN) };
        return std::ptr::null_mut();
    }
    base
}

fn word<'a>(base: *mut u8, off: usize) -> &'a AtomicU64 {
    debug_assert!(off.is_multiple_of(8) && off + 8 <= proto::region::REGION_LEN);
    // SAFETY: `base` is a live read-only mapping of REGION_LEN bytes that
    // is never unmapped; `off` is in bounds and 8-byte aligned (callers
    // use the layout's offsets); only atomic loads read it.
    unsafe { &*(base.add(off) as *const AtomicU64) }
}

/// After fork: the region is the parent's (its slots describe the
/// parent's view); the child uses none until it has its own connection.
pub fn forget_region() {
    REGION.store(std::ptr::null_mut(), Ordering::Release);
}

/// The published state of socket `id` in this process's region, if it
/// has one there (the service wrote it and it names this very socket).
pub fn slot(id: u64) -> Option<proto::region::Slot> {
    read_slot(id).flatten()
}

/// Has the service taken socket `id` out of this process's region (its
/// slot, read whole, names no socket or another one)? It does so when it
/// closes the socket (the anchor's hang-up after the last descriptor
/// anywhere went) or stops counting this process as a holder, and the
/// region's other writes for it are over: a later request of this
/// process is served after that close.
pub fn slot_gone(id: u64) -> bool {
    matches!(read_slot(id), Some(None))
}

/// Slot `id` read whole: None without a region (or a slot torn for too
/// long), Some(None) when it names another socket or none.
fn read_slot(id: u64) -> Option<Option<proto::region::Slot>> {
    use proto::region as r;
    let base = REGION.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    let off = r::slot_offset(r::index_of(id))?;
    let seq = word(base, off + r::S_SEQ);
    for _ in 0..64 {
        let s1 = seq.load(Ordering::Acquire);
        if s1 & 1 != 0 {
            std::hint::spin_loop();
            continue;
        }
        let s = r::Slot {
            id: word(base, off + r::S_ID).load(Ordering::Relaxed),
            ready: word(base, off + r::S_READY).load(Ordering::Relaxed),
            rcv_cc: word(base, off + r::S_RCV_CC).load(Ordering::Relaxed),
            snd_space: word(base, off + r::S_SND_SPACE).load(Ordering::Relaxed),
            ring: word(base, off + r::S_RING).load(Ordering::Relaxed),
            rx_head: word(base, off + r::S_RX_HEAD).load(Ordering::Relaxed),
            snd_used: word(base, off + r::S_SND_USED).load(Ordering::Relaxed),
        };
        std::sync::atomic::fence(Ordering::Acquire);
        if seq.load(Ordering::Relaxed) == s1 {
            return Some((s.id == id.wrapping_add(1)).then_some(r::Slot { id, ..s }));
        }
    }
    None
}

/// The client's adaptive spin (proto::spin): a blocking call spins on its
/// socket's slot for the learnt budget before sleeping on the anchor.
/// SOCKSHIM_CLIENT_SPIN_US is the limit (read at connection; 0: never).
/// Only ever `try_lock`ed: a thread never waits for it, and a child forked
/// while another thread held it just does not spin.
static SPIN: Mutex<proto::spin::Spin> = Mutex::new(proto::spin::Spin::new(0));

/// The default limit of the client's spin (microseconds): off, as the
/// service's (see SPIN_LIMIT_US in service/src/run.rs).
const CLIENT_SPIN_LIMIT_US: u32 = 0;

/// Before sleeping on the anchor of socket `id`: spin while its slot says
/// nothing new (readiness, change count, received bytes), for at most the
/// learnt budget. True when it changed (the caller tries again without
/// sleeping). `idle_from`: when the caller started waiting.
pub fn spin_for_change(id: u64, idle_from: std::time::Instant) -> bool {
    let budget = SPIN.try_lock().map_or(0, |s| s.budget());
    if budget == 0 {
        return false;
    }
    let Some(first) = slot(id) else {
        return false;
    };
    let limit = std::time::Duration::from_micros(budget as u64);
    loop {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
        let now = slot(id);
        let waited = idle_from.elapsed();
        if now.is_none_or(|s| s.ready != first.ready || s.rx_head != first.rx_head) {
            if let Some(mut s) = SPIN.try_lock() {
                s.hit(waited.as_micros() as u32);
            }
            return true;
        }
        if waited >= limit {
            if let Some(mut s) = SPIN.try_lock() {
                s.miss();
            }
            return false;
        }
    }
}

/// A blocking call woke on its anchor `slept` after it started waiting:
/// what the spin learns from the gap.
pub fn slept_on_anchor(slept: std::time::Duration) {
    if let Some(mut s) = SPIN.try_lock() {
        s.slept(slept.as_micros() as u64);
    }
}

/// The consumer word of the ring the slot `s` names, if the ring is still
/// lent to it (same generation, not taken back), with the word's value.
fn ring_word(s: &proto::region::Slot) -> Option<(&'static AtomicU64, u64, usize)> {
    use proto::region as r;
    let base = REGION.load(Ordering::Acquire);
    let (ring, gen) = s.ring()?;
    if base.is_null() || !s.flag(r::F_EXCLUSIVE) {
        return None;
    }
    let cw = word(base, r::consumer_offset(ring)?);
    let w = cw.load(Ordering::Acquire);
    (w & r::C_REVOKED == 0 && r::consumer_gen(w) == gen).then_some((cw, w, ring))
}

/// Bytes waiting in the receive ring of the socket whose slot is `s`.
pub fn ring_avail(s: &proto::region::Slot) -> u64 {
    ring_word(s).map_or(0, |(_, w, _)| {
        s.rx_head
            .saturating_sub(w & proto::region::C_COUNT)
            .min(proto::region::RING_SIZE as u64)
    })
}

/// Take (or with `peek`, copy) up to `buf.len()` received bytes of socket
/// `id` from its ring: Some(n > 0), or None when the ring is empty, taken
/// back or absent (then the service answers). Bytes go to exactly one
/// taker: a copy counts only if the swap of the consumer word from the
/// value read before the copy succeeds (a revocation or another thread's
/// take makes it fail, and the copy is thrown away).
pub fn ring_recv(id: u64, buf: &mut [u8], peek: bool) -> Option<usize> {
    use proto::region as r;
    for _ in 0..16 {
        let s = slot(id)?;
        let (cw, w, ring) = ring_word(&s)?;
        let consumed = w & r::C_COUNT;
        let avail = s.rx_head.saturating_sub(consumed).min(r::RING_SIZE as u64);
        let n = (avail as usize).min(buf.len());
        if n == 0 {
            return None;
        }
        let base = REGION.load(Ordering::Acquire);
        let ring_at = r::ring_offset(ring)?;
        let at = (consumed % r::RING_SIZE as u64) as usize;
        let first = n.min(r::RING_SIZE - at);
        // SAFETY: both ranges lie inside ring `ring` of the live mapping
        // (at + first <= RING_SIZE, n - first <= at); the service does not
        // write bytes we have not consumed, and if they were consumed by
        // another taker meanwhile the swap below fails and we retry.
        unsafe {
            std::ptr::copy_nonoverlapping(base.add(ring_at + at), buf.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(base.add(ring_at), buf[first..].as_mut_ptr(), n - first);
        }
        if peek {
            std::sync::atomic::fence(Ordering::Acquire);
            if cw.load(Ordering::Relaxed) == w {
                return Some(n);
            }
            continue;
        }
        if cw
            .compare_exchange(w, w + n as u64, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if s.flag(r::F_RX_WAITING) {
                // The service holds more than the ring had room for.
                let _ = send_async(&Request::RxMore { id }.encode());
            }
            return Some(n);
        }
    }
    None
}

/// Write `msg`, a request without a reply, if socket `id`'s slot says
/// this process holds it alone, with every flag of `need`, none of
/// `refuse` and no error: then its outcome cannot fail, or nobody can
/// tell it from the synchronous one (net.rs: close, setsockopt). False:
/// the caller takes the message path.
pub fn send_if_alone(id: u64, need: u64, refuse: u64, msg: &Request<'_>) -> bool {
    use proto::region as r;
    let bad = stack::Readiness::ERR.0 as u64;
    let mut g = CONN.lock();
    if g.as_ref().is_none_or(|c| !crate::forkmark::ours(c.pid)) {
        return false;
    }
    let Some(s) = slot(id) else { return false };
    let need = need | r::F_EXCLUSIVE;
    if s.ready & need != need || s.ready & refuse != 0 || s.ready & bad != 0 {
        return false;
    }
    write_no_reply(&mut g, &msg.encode()).is_ok()
}

/// Is socket `id` an open TCP connection (ESTABLISHED, FIN_WAIT_1/2)
/// this process holds alone, without an error?
pub fn open_alone(id: u64) -> bool {
    use proto::region as r;
    slot(id).is_some_and(|s| {
        s.flag(r::F_EXCLUSIVE)
            && s.flag(r::F_STREAM_OPEN)
            && s.poll_value() & stack::Readiness::ERR.0 == 0
    })
}

/// Is the peer's FIN all that socket `id` (a stream socket this process
/// holds alone) has left to read? Nothing queued, nothing in its ring
/// (lent and not taken back, or none lent: a ring taken back shows in
/// `rcv_cc` only once the slot is written again), the receive side shut,
/// no error and no hang-up (a reset, both sides shut: the service
/// answers those). A receive then returns 0 without a message.
pub fn at_eof(id: u64) -> bool {
    use proto::region as r;
    use stack::Readiness as Rd;
    let Some(s) = slot(id) else { return false };
    let ring_ok = s.ring().is_none() || ring_word(&s).is_some();
    s.flag(r::F_EXCLUSIVE)
        && ring_ok
        && s.rcv_cc == 0
        && ring_avail(&s) == 0
        && s.poll_value() & Rd::RDHUP.0 != 0
        && s.poll_value() & (Rd::ERR.0 | Rd::HUP.0) == 0
        && (s.flag(r::F_REMOTE_PEER) || posts_pending() == 0)
}

/// Write a request that has no reply (under the connection's lock, so it
/// stays in order with every other request of this process).
fn send_async(msg: &[u8]) -> Result<bool, Errno> {
    let mut g = CONN.lock();
    if g.as_ref().is_none_or(|c| !crate::forkmark::ours(c.pid)) {
        return Ok(false);
    }
    write_no_reply(&mut g, msg).map(|()| true)
}

/// Write `msg` on this process's connection (held in `g`), retrying on
/// EINTR; any other failure drops the connection: ECONNRESET.
fn write_no_reply(g: &mut Option<Conn>, msg: &[u8]) -> Result<(), Errno> {
    let Some(c) = g.as_ref() else {
        return Err(Errno::ECONNRESET);
    };
    loop {
        // SAFETY: sending our buffer on our connection.
        let w = unsafe {
            (real().send)(
                c.fd,
                msg.as_ptr() as *const c_void,
                msg.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if w >= 0 {
            return Ok(());
        }
        if errno() != libc::EINTR {
            if let Some(c) = g.take() {
                crate::driver::unprotect_and_close(c.fd);
            }
            forget_region();
            log::warn_once("sockshim: lost the connection to the stack service sockshimd");
            return Err(Errno::ECONNRESET);
        }
    }
}

/// `Post` bytes written that the service has not taken yet (an upper
/// bound: read the service's count first).
pub fn posts_pending() -> u64 {
    let base = REGION.load(Ordering::Acquire);
    if base.is_null() {
        return u64::MAX;
    }
    let taken = word(base, proto::region::H_POSTED).load(Ordering::Acquire);
    POSTED.load(Ordering::Acquire).saturating_sub(taken)
}

/// Smallest part of a larger send that is posted on its own.
const MIN_PARTIAL_POST: usize = 16 * 1024;

/// A stream send without a round trip: when the region shows socket `id`
/// held by this process alone, with no error and room for `data` beyond
/// what is still in flight, write a `Post` and return how many bytes it
/// carries (the program's send returns that). None: take the message
/// path. Err: the connection broke.
pub fn post(id: u64, flags: i32, data: &[u8]) -> Result<Option<usize>, Errno> {
    use proto::region as r;
    let bad = (stack::Readiness::ERR.0 | stack::Readiness::HUP.0) as u64;
    let mut g = CONN.lock();
    if g.as_ref().is_none_or(|c| !crate::forkmark::ours(c.pid)) {
        return Ok(None);
    }
    // The count of bytes taken first, then the slot: a slot is written
    // before the count grows, so `room` is never overstated.
    let pending = posts_pending();
    let Some(s) = slot(id) else { return Ok(None) };
    if !s.flag(r::F_EXCLUSIVE) || s.ready & bad != 0 {
        return Ok(None);
    }
    let room = s.snd_space.saturating_sub(pending);
    let n = (data.len() as u64).min(room).min(proto::MAX_DATA as u64) as usize;
    // A sliver of a large send is not worth a message of its own: the
    // message path takes what fits and tells the exact room.
    if n == 0 || (n < data.len() && n < MIN_PARTIAL_POST) {
        return Ok(None);
    }
    let msg = Request::Post {
        id,
        flags,
        data: &data[..n],
    }
    .encode();
    write_no_reply(&mut g, &msg)?;
    POSTED.fetch_add(n as u64, Ordering::Release);
    Ok(Some(n))
}

fn errno() -> i32 {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// The `sockshimd` beside this library (or SOCKSHIM_SERVICE_BIN).
fn service_path() -> Option<CString> {
    if let Ok(p) = std::env::var("SOCKSHIM_SERVICE_BIN") {
        return CString::new(p).ok();
    }
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr fills `info` for an address inside this library.
    if unsafe { libc::dladdr(service_path as *const c_void, &mut info) } == 0
        || info.dli_fname.is_null()
    {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    let lib = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let lib = std::path::Path::new(std::ffi::OsStr::from_bytes(lib.to_bytes()));
    CString::new(lib.parent()?.join("sockshimd").into_os_string().into_vec()).ok()
}

use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Run `sockshimd` (detaching) and return its exit code. posix_spawn runs
/// no atfork handler and the service gets a fresh image: never a forked
/// copy of this program.
fn spawn_service() -> Result<i32, i32> {
    let Some(path) = service_path() else {
        log::error("sockshim: cannot locate sockshimd next to libsockshim.so");
        return Err(libc::ENETDOWN);
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != "LD_PRELOAD")
        .filter_map(|(k, v)| {
            let mut b = k.into_vec();
            b.push(b'=');
            b.extend(v.into_vec());
            CString::new(b).ok()
        })
        .collect();
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|c| c.as_ptr() as *mut _).collect();
    envp.push(std::ptr::null_mut());
    let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let mut pid: libc::pid_t = 0;
    // SAFETY: valid NUL-terminated path, argv and envp arrays, no attrs.
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if r != 0 {
        log::error(&format!(
            "sockshim: cannot start {}: {}",
            path.to_string_lossy(),
            std::io::Error::from_raw_os_error(r)
        ));
        return Err(libc::ENETDOWN);
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for the child we just spawned.
        let w = unsafe { libc::waitpid(pid, &mut status, 0) };
        if w == pid {
            return Ok(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            });
        }
        if w < 0 && errno() != libc::EINTR {
            // Reaped by the program's own SIGCHLD handling: assume started.
            return Ok(0);
        }
    }
}

fn try_connect(name: &[u8]) -> Result<c_int, i32> {
    let _alloc = crate::driver::FD_ALLOC.lock();
    // SAFETY: socket(2) with constant arguments.
    let fd =
        unsafe { (real().socket)(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: sockaddr_un is plain data.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as u16;
    for (i, b) in name.iter().enumerate() {
        sa.sun_path[i + 1] = *b as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + 1 + name.len()) as libc::socklen_t;
    // SAFETY: a valid sockaddr_un of `len` bytes.
    let r = unsafe { (real().connect)(fd, &sa as *const _ as *const libc::sockaddr, len) };
    if r < 0 {
        let e = errno();
        // SAFETY: our fd.
        unsafe { (real().close)(fd) };
        return Err(e);
    }
    Ok(crate::driver::to_high_fd(fd))
}

/// Does a service for `tun` listen in this namespace? (Never starts one.)
pub fn service_running(tun: &str) -> bool {
    match try_connect(&proto::name::service_name(tun)) {
        Ok(fd) => {
            crate::driver::unprotect_and_close(fd);
            true
        }
        Err(_) => false,
    }
}

/// Connect to the service for `tun`, starting it if nobody listens.
fn connect_service(tun: &str) -> Result<Conn, i32> {
    let name = proto::name::service_name(tun);
    let mut spawned = false;
    for attempt in 0..200 {
        match try_connect(&name) {
            Ok(fd) => {
                let mut c = Conn {
                    fd,
                    pid: crate::forkmark::claim(),
                    buf: vec![0; proto::MAX_MSG + 1],
                    spares: Spares::default(),
                };
                let hello = Request::Hello {
                    version: proto::VERSION,
                };
                match roundtrip(&mut c, &hello.encode(), &[], false) {
                    Ok((Ok(_), passed)) => {
                        // A new region starts counting posts from zero.
                        let base = passed.first().map_or(std::ptr::null_mut(), map_region);
                        // SOCKSHIM_DATAPATH=messages: every call a message
                        // (to measure what the region saves).
                        let base = if std::env::var_os("SOCKSHIM_DATAPATH")
                            .is_some_and(|v| v == "messages")
                        {
                            std::ptr::null_mut()
                        } else {
                            base
                        };
                        POSTED.store(0, Ordering::Release);
                        REGION.store(base, Ordering::Release);
                        let limit = std::env::var("SOCKSHIM_CLIENT_SPIN_US").ok();
                        let limit =
                            proto::spin::Spin::limit_from(limit.as_deref(), CLIENT_SPIN_LIMIT_US);
                        if let Some(mut s) = SPIN.try_lock() {
                            *s = proto::spin::Spin::new(limit);
                        }
                        return Ok(c);
                    }
                    _ => {
                        crate::driver::unprotect_and_close(c.fd);
                        return Err(libc::ENETDOWN);
                    }
                }
            }
            Err(libc::ECONNREFUSED | libc::ENOENT) if !spawned => {
                spawned = true;
                match spawn_service()? {
                    0 | 3 => {}
                    4 => return Err(libc::ENETDOWN), // it said why
                    code => {
                        log::error(&format!(
                            "sockshim: the stack service sockshimd failed to start (exit {code})"
                        ));
                        return Err(libc::ENETDOWN);
                    }
                }
            }
            Err(libc::ECONNREFUSED | libc::ENOENT | libc::EAGAIN) if attempt < 199 => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                log::error(&format!(
                    "sockshim: cannot reach the stack service for '{tun}': {}",
                    std::io::Error::from_raw_os_error(e)
                ));
                return Err(libc::ENETDOWN);
            }
        }
    }
    Err(libc::ENETDOWN)
}

/// The decoded reply and the passed fd, or Err(errno) when the connection
/// broke (the caller drops it). Further fds passed with it (the anchors of
/// spares) are moved to protected high numbers (`Passed::extra`).
fn roundtrip<'b>(
    c: &'b mut Conn,
    msg: &[u8],
    pass: &[c_int],
    cloexec: bool,
) -> Result<(Reply<'b>, Passed), i32> {
    // One buffer for control messages: up to MAX_ATTACH fds.
    let mut cbuf = [0u64; (proto::MAX_ATTACH * 4 + 64) / 8];
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut c_void,
        iov_len: msg.len(),
    };
    // SAFETY: msghdr is plain data.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    if !pass.is_empty() {
        let bytes = std::mem::size_of_val(pass);
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(bytes as u32) } as usize;
        mh.msg_control = cbuf.as_mut_ptr() as *mut c_void;
        mh.msg_controllen = space;
        // SAFETY: cbuf holds `space` bytes (MAX_ATTACH fds at most), so
        // the first header and its data fit.
        unsafe {
            let cm = libc::CMSG_FIRSTHDR(&mh);
            (*cm).cmsg_level = libc::SOL_SOCKET;
            (*cm).cmsg_type = libc::SCM_RIGHTS;
            (*cm).cmsg_len = libc::CMSG_LEN(bytes as u32) as usize;
            std::ptr::copy_nonoverlapping(
                pass.as_ptr(),
                libc::CMSG_DATA(cm) as *mut c_int,
                pass.len(),
            );
        }
    }
    loop {
        // SAFETY: a valid msghdr over live buffers.
        let n = unsafe { (real().sendmsg)(c.fd, &mh, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            break;
        }
        if errno() != libc::EINTR {
            return Err(libc::ECONNRESET);
        }
    }
    let mut iov = libc::iovec {
        iov_base: c.buf.as_mut_ptr() as *mut c_void,
        iov_len: c.buf.len(),
    };
    // SAFETY: msghdr is plain data.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf.as_mut_ptr() as *mut c_void;
    mh.msg_controllen = std::mem::size_of_val(&cbuf);
    let flags = if cloexec { libc::MSG_CMSG_CLOEXEC } else { 0 };
    // The passed fd lands at the lowest free number: the program's new
    // descriptor, as the kernel's socket()/accept() would give; the
    // lock is held until any others have moved up out of the way.
    let alloc = crate::driver::FD_ALLOC.lock();
    let n = loop {
        // SAFETY: a valid msghdr over live buffers.
        let n = unsafe { (real().recvmsg)(c.fd, &mut mh, flags) };
        if n >= 0 || errno() != libc::EINTR {
            break n;
        }
    };
    if n <= 0 {
        return Err(libc::ECONNRESET);
    }
    let mut passed = Passed::default();
    let fd = &mut passed.fd;
    // SAFETY: walking the control messages the kernel wrote into cbuf.
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(&mh);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let k = ((*cm).cmsg_len - libc::CMSG_LEN(0) as usize) / 4;
                let p = libc::CMSG_DATA(cm) as *const c_int;
                for i in 0..k {
                    let f = std::ptr::read_unaligned(p.add(i));
                    if fd.is_none() {
                        *fd = Some(f);
                    } else {
                        let hi = crate::driver::to_high_fd(f);
                        if hi == f {
                            // No high number free: not kept (the batch
                            // then does not match, and goes).
                            (real().close)(f);
                        } else {
                            passed.extra.push(hi);
                        }
                    }
                }
            }
            cm = libc::CMSG_NXTHDR(&mh, cm);
        }
    }
    drop(alloc);
    match decode_reply(&c.buf[..n as usize]) {
        Ok(r) => Ok((r, passed)),
        Err(_) => {
            passed.close();
            Err(libc::ECONNRESET)
        }
    }
}

/// The descriptors passed with a reply: the first (an anchor for the
/// program) and the others, already at protected high numbers.
#[derive(Default)]
struct Passed {
    fd: Option<c_int>,
    extra: Vec<c_int>,
}

impl Passed {
    /// The first; any others are closed.
    fn first(self) -> Option<c_int> {
        self.extra
            .into_iter()
            .for_each(crate::driver::unprotect_and_close);
        self.fd
    }

    fn close(self) {
        if let Some(f) = self.fd {
            // SAFETY: our fd, just received.
            unsafe { (real().close)(f) };
        }
        self.extra
            .into_iter()
            .for_each(crate::driver::unprotect_and_close);
    }
}

/// After fork: prove to the service that this process holds each
/// inherited socket, by passing the anchors (in batches).
fn attach_all(c: &mut Conn) -> Result<(), i32> {
    let Some(s) = crate::driver::shim_any() else {
        return Ok(());
    };
    let fds: Vec<c_int> = s.fds.all_fds();
    for chunk in fds.chunks(proto::MAX_ATTACH) {
        let req = Request::Attach {
            count: chunk.len() as u16,
        };
        match roundtrip(c, &req.encode(), chunk, false)? {
            (Ok(_), _) => {}
            (Err(e), _) => return Err(e.0),
        }
    }
    Ok(())
}

/// A socket() of `kind` that goes to the service: how many sockets to
/// ask it to make ahead (spares.rs).
pub fn spares_wanted() -> u8 {
    let mut g = CONN.lock();
    match g.as_mut() {
        Some(c) if crate::forkmark::ours(c.pid) => c.spares.wanted(crate::driver::monotonic_us()),
        _ => 0,
    }
}

/// socket() of `kind` from a spare, if this process has one that still
/// stands: its id and its anchor moved to the lowest free number (as the
/// kernel's socket() would give; EMFILE if none is free), with no
/// message. None: ask the service.
pub fn take_spare(kind: Kind, cloexec: bool) -> Option<Result<(u64, c_int), Errno>> {
    let mut g = CONN.lock();
    let c = g.as_mut()?;
    if !crate::forkmark::ours(c.pid) {
        return None; // the parent's: `call` drops them
    }
    let now = crate::driver::monotonic_us();
    let (id, hi) = c
        .spares
        .take(kind, now, crate::driver::unprotect_and_close)?;
    let fd = crate::driver::dup_low(hi, cloexec);
    if fd < 0 {
        let e = errno();
        c.spares.put_back(id, hi);
        return Some(Err(Errno(e)));
    }
    crate::driver::unprotect_and_close(hi);
    Some(Ok((id, fd)))
}

/// In a forked child (atfork): the parent's spares are not ours to take;
/// close our copies now, unless another thread of the parent held the
/// connection at fork (then `call` does it on the first request).
pub fn spares_in_child() {
    if let Some(mut g) = CONN.try_lock() {
        if let Some(c) = g.as_mut() {
            c.spares.drain(crate::driver::unprotect_and_close_in_child);
        }
    }
}

/// One request to the service: `f` sees the reply and the descriptor
/// passed with it (the caller owns it). `pass` rides along by SCM_RIGHTS.
pub fn call<T>(
    tun: &str,
    req: &Request<'_>,
    pass: &[c_int],
    cloexec: bool,
    f: impl FnOnce(Reply<'_>, Option<c_int>) -> T,
) -> Result<T, Errno> {
    let mut g = CONN.lock();
    if g.as_ref().is_some_and(|c| !crate::forkmark::ours(c.pid)) {
        // Forked: the inherited connection is the parent's (and so are
        // its spares); ours is new.
        if let Some(c) = g.take() {
            c.close();
        }
        forget_region();
        let mut c = connect_service(tun).map_err(Errno)?;
        if let Err(e) = attach_all(&mut c) {
            crate::driver::unprotect_and_close(c.fd);
            return Err(Errno(e));
        }
        *g = Some(c);
    }
    if g.is_none() {
        *g = Some(connect_service(tun).map_err(Errno)?);
    }
    let c = g.as_mut().expect("connected above");
    if !c.spares.is_empty() {
        c.spares.expire(
            crate::driver::monotonic_us(),
            crate::driver::unprotect_and_close,
        );
    }
    if matches!(req, Request::Socket { .. } | Request::Accept { .. }) {
        // A descriptor must be free for the anchor before the service
        // makes the socket (or takes a connection off the queue): EMFILE
        // here, as Linux's socket() and accept() reserve it first (accept
        // holds its number already, fdslot.rs: this one is where the
        // anchor arrives before it moves there).
        // SAFETY: duplicating our own fd, closed at once.
        let probe = unsafe { (real().fcntl)(c.fd, libc::F_DUPFD_CLOEXEC, 0) };
        if probe < 0 {
            return Err(Errno(errno()));
        }
        // SAFETY: the probe is ours.
        unsafe { (real().close)(probe) };
    }
    let msg = req.encode();
    match roundtrip(c, &msg, pass, cloexec) {
        Ok((rep, passed)) => {
            let batch = match (&rep, req) {
                (
                    Ok(Body::Spares {
                        spares, fresh_us, ..
                    }),
                    &Request::Socket {
                        domain,
                        ty,
                        protocol,
                        ..
                    },
                ) if spares.len() == passed.extra.len() => {
                    Some(((domain, ty, protocol), spares.clone(), *fresh_us))
                }
                _ => None,
            };
            let Passed { fd, extra } = passed;
            let out = f(rep, fd);
            match batch {
                Some((kind, ids, fresh_us)) => {
                    let until = crate::driver::monotonic_us().saturating_add(fresh_us);
                    let fds = ids.into_iter().zip(extra).collect();
                    c.spares
                        .refill(kind, fds, until, crate::driver::unprotect_and_close);
                }
                None => extra
                    .into_iter()
                    .for_each(crate::driver::unprotect_and_close),
            }
            Ok(out)
        }
        Err(e) => {
            if let Some(c) = g.take() {
                c.close();
            }
            forget_region();
            log::warn_once("sockshim: lost the connection to the stack service sockshimd");
            Err(Errno(e))
        }
    }
}
