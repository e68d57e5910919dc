//! Safe Rust implementations of the intercepted calls on stack sockets.
//! Each returns Ok(value) or Err(errno); lib.rs turns that into the C
//! return value and sets errno once. Pointers arrive already converted to
//! slices and addresses by lib.rs.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use stack::linux::*;
use stack::{Domain, Errno, Readiness, SockType, SocketHandle};

use crate::anchorwait::Role;
use crate::callref::CallRef;
use crate::driver::{shim, Shim};
use crate::fdslot::FdSlot;
use crate::fdtable::OpenFile;
use crate::net::Net;
use crate::real::real;
use crate::sigwindow::{Pending, SigWindow};
use crate::wait::{block, deadline_after, drain, thread_evfd};

pub type R<T> = Result<T, i32>;

fn e(x: Errno) -> i32 {
    x.0
}

/// Run `op` until it stops saying EAGAIN, blocking between tries unless
/// the socket (or this call) is non-blocking. `op` gets `wait`: true on
/// the try made just before sleeping (the service then arms the anchor).
pub fn blocking<T>(
    s: &Shim,
    of: &OpenFile,
    nonblock: bool,
    recv_side: bool,
    op: impl FnMut(&Shim, bool) -> Result<T, Errno>,
) -> R<T> {
    blocking_armed(s, of, nonblock, recv_side, false, op)
}

/// `blocking`, where with `armed` the call already tried once and the
/// service registered its wait then (`Connect` with `wait`): with the
/// service, the first round goes to sleep on the anchor without trying
/// again when it can (see `blocking_on_anchor`).
fn blocking_armed<T>(
    s: &Shim,
    of: &OpenFile,
    nonblock: bool,
    recv_side: bool,
    armed: bool,
    mut op: impl FnMut(&Shim, bool) -> Result<T, Errno>,
) -> R<T> {
    // Counted on the open file from its start: a close meanwhile keeps the
    // socket for this call (callref.rs). Dropped after any `CallRef`.
    let _entering = (!nonblock).then(|| crate::callref::Entering::start(s, of));
    let deadline = deadline_after(of.timeout(recv_side));
    // Signals that come while the call prepares its sleep (sigwindow.rs).
    let mut win = SigWindow::open(!nonblock);
    if s.stack.remote().is_some() {
        let arm = if armed { Arm::Done } else { Arm::No };
        return blocking_on_anchor(s, of, nonblock, deadline, arm, op, &mut win);
    }
    // Taken before the first wait, held until the call returns.
    let mut held = None;
    loop {
        let r = op(s, false);
        if recv_side {
            s.after_recv();
        } else {
            s.after_op();
        }
        match r {
            Err(Errno::EAGAIN) if !nonblock => {}
            r => return r.map_err(e),
        }
        if held.is_none() {
            held = Some(CallRef::take(s, of)?);
        }
        let evfd = thread_evfd();
        s.register(of.handle, evfd);
        let r = op(s, true);
        s.after_op();
        match r {
            Err(Errno::EAGAIN) => {}
            r => {
                s.unregister(of.handle, evfd);
                return r.map_err(e);
            }
        }
        if let Some(budget) = busy_poll_budget(s, of) {
            if s.busy_poll(evfd, budget, deadline) {
                s.unregister(of.handle, evfd);
                continue;
            }
        }
        match win.before_sleep(deadline.is_none()) {
            Ok(Pending::None) => {}
            r => {
                s.unregister(of.handle, evfd);
                r?;
                continue; // restarted, as the kernel's -ERESTARTSYS
            }
        }
        // On the device itself when no other thread is (devwait.rs);
        // a sender waits for the driver, which takes the ACKs in
        // parallel with it (bulk traffic).
        let b = recv_side
            .then(|| s.sleep_on_device(evfd, deadline))
            .flatten()
            .unwrap_or_else(|| block(evfd, deadline));
        s.unregister(of.handle, evfd);
        b?;
    }
}

/// How the first round of `blocking_on_anchor` tries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arm {
    /// A try without the wait, then one with it.
    No,
    /// None: the caller's try registered the wait.
    Done,
    /// One try, with the wait.
    First,
}

/// A blocking call with the service whose first try registers its wait
/// (`op` with `wait`) instead of trying without it first.
fn blocking_armed_first<T>(
    s: &Shim,
    of: &OpenFile,
    op: impl FnMut(&Shim, bool) -> Result<T, Errno>,
) -> R<T> {
    let deadline = deadline_after(of.timeout(true));
    let mut win = SigWindow::open(true);
    blocking_on_anchor(s, of, false, deadline, Arm::First, op, &mut win)
}

/// How long a blocking call on `of` polls the device before it sleeps:
/// the socket's SO_BUSY_POLL when set, else SOCKSHIM_BUSY_POLL_US (Linux's
/// sk_ll_usec, which net.core.busy_read gives its default); None for 0.
fn busy_poll_budget(s: &Shim, of: &OpenFile) -> Option<std::time::Duration> {
    let st = s.stack.local()?;
    let mut v = [0u8; 4];
    let own = match st.getsockopt(of.handle, SOL_SOCKET, SO_BUSY_POLL, &mut v) {
        Ok(4) => u32::from_ne_bytes(v),
        _ => 0,
    };
    let us = if own != 0 { own } else { s.busy_poll_us };
    (us != 0).then(|| std::time::Duration::from_micros(u64::from(us)))
}

/// The service's way: try; read the anchor's token back and try again
/// with `wait` (the service re-arms the token if the socket is ready or
/// when it becomes so); then sleep in the kernel on the anchor (the call's
/// own duplicate of it, which keeps the socket open if another thread
/// closes the descriptor meanwhile). With other threads of the process
/// already waiting on the socket, on this thread's eventfd instead, woken
/// by the one on the anchor (anchorwait.rs).
///
/// A socket this process alone holds (never shared, the slot says
/// exclusive) waited on without a deadline reads its token back in the
/// sleep itself, one system call where a read back and a peek were two
/// (per TCP_RR transaction). That never loses a wake-up: a token is read
/// back only by a sleep, and every sleep is followed by a new try; a
/// token unread at the try (stale or new) ends the next sleep at once.
///
/// `Arm::Done`: the caller's own try registered the wait (a `Connect`
/// with `wait`). Where the sleep itself reads the token, the first round
/// then sleeps at once: two round trips fewer per blocking connect. A
/// token the service wrote before is harmless there too: it ends that
/// sleep, and the next round tries again as any round does.
/// `Arm::First`: the first round's only try registers the wait (a
/// blocking datagram receive): one round trip fewer per receive that
/// sleeps.
fn blocking_on_anchor<T>(
    s: &Shim,
    of: &OpenFile,
    nonblock: bool,
    deadline: Option<std::time::Instant>,
    arm: Arm,
    mut op: impl FnMut(&Shim, bool) -> Result<T, Errno>,
    win: &mut SigWindow,
) -> R<T> {
    let mut held = None;
    let mut armed = arm == Arm::Done;
    let mut arm_first = arm == Arm::First;
    loop {
        if !armed && !std::mem::take(&mut arm_first) {
            match op(s, false) {
                Err(Errno::EAGAIN) if !nonblock => {}
                r => return r.map_err(e),
            }
        }
        let anchor = match &held {
            Some(h) => CallRef::anchor(h),
            None => held.insert(CallRef::take(s, of)?).anchor(),
        };
        // One thread owns the anchor's token; others of this process
        // waiting on the socket sleep on their eventfds (anchorwait.rs).
        let take_in_sleep = deadline.is_none() && alone(of);
        let role = of.anchor_wait.enter(anchor, !take_in_sleep);
        let skip = std::mem::take(&mut armed) && take_in_sleep && matches!(role, Role::Owner(_));
        if !skip {
            match op(s, true) {
                Err(Errno::EAGAIN) => {}
                r => return r.map_err(e),
            }
        }
        // Spin on the slot a little before sleeping (proto::spin).
        let idle_from = std::time::Instant::now();
        if crate::client::spin_for_change(of.handle.as_u64(), idle_from) {
            continue;
        }
        if win.before_sleep(deadline.is_none())? == Pending::Restart {
            continue; // restarted, as the kernel's -ERESTARTSYS
        }
        match role {
            Role::Owner(_) if take_in_sleep => crate::wait::take_token_blocking(anchor)?,
            Role::Owner(_) => crate::wait::block_anchor(anchor, deadline)?,
            Role::Sleeper(_, evfd) => block(evfd, deadline)?,
        }
        crate::client::slept_on_anchor(idle_from.elapsed());
    }
}

/// Does this process alone hold the socket, and has it always (no fork,
/// SCM_RIGHTS or exec since it was made)?
fn alone(of: &OpenFile) -> bool {
    !of.nb_shared.load(Ordering::Relaxed)
        && crate::client::slot(of.handle.as_u64())
            .is_some_and(|s| s.flag(proto::region::F_EXCLUSIVE))
}

/// Length of a sockaddr_in6 without its scope id (RFC 2133's): Linux
/// takes it.
const SIN6_LEN_RFC2133: usize = 24;

/// The address a bind, connect or sendto names, for a socket of `domain`:
/// a sockaddr_in for AF_INET, a sockaddr_in6 (24 bytes at least, the scope
/// id read from 28) for AF_INET6; AF_UNSPEC is `None`; any other family,
/// or the other family's address, EAFNOSUPPORT; too short, EINVAL.
pub fn parse_sockaddr(addr: &[u8], domain: Domain) -> R<Option<SocketAddr>> {
    if addr.len() < 2 {
        return Err(libc::EINVAL);
    }
    let family = u16::from_ne_bytes([addr[0], addr[1]]) as i32;
    let min = match domain {
        Domain::Inet => 16,
        Domain::Inet6 => SIN6_LEN_RFC2133,
    };
    match family {
        AF_UNSPEC => Ok(None),
        _ if addr.len() < min => Err(libc::EINVAL),
        AF_INET if domain == Domain::Inet => {
            let port = u16::from_be_bytes([addr[2], addr[3]]);
            let ip = Ipv4Addr::new(addr[4], addr[5], addr[6], addr[7]);
            Ok(Some(SocketAddrV4::new(ip, port).into()))
        }
        libc::AF_INET6 if domain == Domain::Inet6 => {
            let port = u16::from_be_bytes([addr[2], addr[3]]);
            let flow = u32::from_be_bytes([addr[4], addr[5], addr[6], addr[7]]);
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&addr[8..24]);
            let scope = match addr.get(24..28) {
                Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                None => 0,
            };
            Ok(Some(
                SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope).into(),
            ))
        }
        _ => Err(libc::EAFNOSUPPORT),
    }
}

/// The destination of a connect or sendto on `of`: as `parse_sockaddr`,
/// except that an AF_INET6 UDP socket also takes a sockaddr_in (16 bytes
/// are enough), as the IPv4 address v4-mapped, as Linux's
/// ip6_datagram_connect and udpv6_sendmsg do (TCP does not: EINVAL or
/// EAFNOSUPPORT).
pub fn parse_dest(of: &OpenFile, addr: &[u8]) -> R<Option<SocketAddr>> {
    let inet = addr.len() >= 2 && u16::from_ne_bytes([addr[0], addr[1]]) as i32 == AF_INET;
    if of.domain == Domain::Inet6 && of.ty == SockType::Dgram && inet {
        return Ok(parse_sockaddr(addr, Domain::Inet)?.map(|a| match a {
            SocketAddr::V4(a) => SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0).into(),
            v6 => v6,
        }));
    }
    parse_sockaddr(addr, of.domain)
}

/// Longest sockaddr the shim writes: a sockaddr_in6.
pub const SOCKADDR_MAX: usize = 28;

/// A sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) for `a`, and its
/// length.
pub fn sockaddr_bytes(a: SocketAddr) -> ([u8; SOCKADDR_MAX], usize) {
    let mut b = [0u8; SOCKADDR_MAX];
    match a {
        SocketAddr::V4(a) => {
            b[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            (b, 16)
        }
        SocketAddr::V6(a) => {
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            (b, 28)
        }
    }
}

pub fn socket(domain: Domain, ty: SockType, flags: i32, protocol: i32) -> R<i32> {
    let s = shim()?;
    let cloexec = if flags & libc::SOCK_CLOEXEC != 0 {
        libc::SOCK_CLOEXEC
    } else {
        0
    };
    let st = match &s.stack {
        Net::Local(st) => st,
        Net::Remote(r) => {
            let (h, anchor) = r.socket(domain, ty, protocol, cloexec != 0).map_err(e)?;
            let of = Arc::new(OpenFile::new(h, domain, ty, false));
            install(s, anchor, of.clone());
            if flags & libc::SOCK_NONBLOCK != 0 {
                of.set_nonblock(true); // on the anchor too (nonblock.rs)
            }
            return Ok(anchor);
        }
    };
    // Linux reads the namespace's sysctls when a socket is created (buffer
    // sizes) and when it connects (window scale): a change made after the
    // shim attached must count (read again at most every 10 ms).
    if let Some(sysctl) = crate::sysctl::refresh() {
        st.set_sysctl(sysctl);
    }
    let h = st.socket_in(domain, ty, protocol).map_err(e)?;
    let anchor = crate::driver::new_anchor(cloexec != 0);
    if anchor < 0 {
        // SAFETY: reading this thread's errno.
        let err = unsafe { *libc::__errno_location() };
        let _ = st.close(s.now(), h);
        return Err(err);
    }
    install(
        s,
        anchor,
        Arc::new(OpenFile::new(
            h,
            domain,
            ty,
            flags & libc::SOCK_NONBLOCK != 0,
        )),
    );
    Ok(anchor)
}

/// The fd is gone: drop its stack reference (the caller closes the
/// anchor). With the service, returns the socket to tell it about once
/// the anchor is closed (`closed`).
/// None too while calls in progress keep the socket: the last of them
/// tells it (callref.rs).
pub fn release(fd: i32) -> Option<SocketHandle> {
    let s = crate::driver::shim_if_ready()?;
    let of = s.fds.remove(fd)?;
    let kept = release_entry(s, &of, Some(fd));
    s.stack.remote().filter(|_| !kept).map(|_| of.handle)
}

/// One descriptor of `of` is gone (`fd`, if it is still open): its
/// reference goes. Returns whether it was the last and calls in progress
/// keep the socket (callref.rs).
fn release_entry(s: &Shim, of: &Arc<OpenFile>, fd: Option<i32>) -> bool {
    let mut kept = false;
    if of.fd_count.fetch_sub(1, Ordering::Relaxed) == 1 {
        kept = crate::callref::keep_for_calls(s, of, fd);
        // The open file is gone: epoll registrations go with it, and the
        // duplicates its waits kept (callref.rs).
        s.epoll.forget_file(of);
        crate::loopback::forget(of);
        crate::callref::file_gone(of);
    }
    let _ = s.stack.close(s.now(), of.handle);
    s.after_op();
    kept
}

/// Put `of` in the fd table at `fd` (a new descriptor the kernel just
/// gave). An entry still at `fd` lost its descriptor behind the shim's
/// back (a raw close syscall): its reference is released now, as the
/// close would have (else its socket would never close).
pub fn install(s: &Shim, fd: i32, of: Arc<OpenFile>) {
    if let Some(old) = s.fds.insert(fd, of) {
        let kept = release_entry(s, &old, None);
        if let Some(r) = s.stack.remote().filter(|_| !kept) {
            let h = old.handle;
            r.closed(h, s.fds.count_of(h) == 0 && !crate::callref::holds(h));
        }
    }
}

/// Descriptors that arrived by SCM_RIGHTS (service mode): those that are
/// anchors of the service's sockets become stack sockets here too.
pub fn adopt_received(fds: &[i32]) {
    let Some(s) = crate::driver::shim_if_ready() else {
        return;
    };
    let Some(r) = s.stack.remote() else { return };
    let socks: Vec<i32> = fds
        .iter()
        .copied()
        .filter(|&fd| {
            // SAFETY: fstat into a local struct.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            unsafe { libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK }
        })
        .collect();
    for chunk in socks.chunks(proto::MAX_ATTACH) {
        for (fd, h) in chunk.iter().zip(r.attach(chunk)) {
            let Some(h) = h else { continue };
            // A socket this process already holds: the same open file.
            if let Some(of) = s.fds.file_of(h) {
                install(s, *fd, of);
                continue;
            }
            let mut v = [0u8; 4];
            let ty = match s.stack.getsockopt(h, SOL_SOCKET, SO_TYPE, &mut v) {
                Ok(_) if i32::from_ne_bytes(v) == libc::SOCK_DGRAM => SockType::Dgram,
                Ok(_) => SockType::Stream,
                Err(_) => continue,
            };
            let domain = match s.stack.getsockopt(h, SOL_SOCKET, libc::SO_DOMAIN, &mut v) {
                Ok(_) if i32::from_ne_bytes(v) == libc::AF_INET6 => Domain::Inet6,
                _ => Domain::Inet,
            };
            let of = Arc::new(OpenFile::new(h, domain, ty, false));
            install(s, *fd, of.clone());
            crate::nonblock::adopted(&of);
        }
    }
}

/// After the kernel closed a descriptor of `h` (service mode): if it was
/// the last one anywhere, the service closes the socket before close()
/// returns, as Linux does; if it was this process's last, the service
/// stops counting this process as a holder.
pub fn closed(h: SocketHandle) {
    if let Some(s) = crate::driver::shim_if_ready() {
        if let Some(r) = s.stack.remote() {
            // No descriptor of it left here: this process no longer holds
            // it (another may now hold it alone).
            // A call still waiting on it holds it too (callref.rs).
            r.closed(h, s.fds.count_of(h) == 0 && !crate::callref::holds(h));
        }
    }
}

pub fn bind(of: &OpenFile, addr: &[u8]) -> R<i32> {
    let s = shim()?;
    let a = match parse_sockaddr(addr, of.domain)? {
        Some(a) => a,
        // Linux accepts AF_UNSPEC as AF_INET for INADDR_ANY only.
        None if of.domain == Domain::Inet && addr.len() >= 16 && addr[4..8] == [0, 0, 0, 0] => {
            SocketAddrV4::new(
                Ipv4Addr::UNSPECIFIED,
                u16::from_be_bytes([addr[2], addr[3]]),
            )
            .into()
        }
        None => return Err(libc::EAFNOSUPPORT),
    };
    let r = crate::loopback::bind(s, of, a);
    s.after_op();
    r
}

pub fn listen(of: &OpenFile, backlog: i32) -> R<i32> {
    let s = shim()?;
    // A listener answers SYNs under the sysctls in force now (Linux reads
    // tcp_ecn and tcp_fastopen live): re-read them, not throttled.
    fastopen_sysctl(s);
    let r = crate::loopback::listen(s, of, backlog);
    s.after_op();
    r
}

pub fn accept(of: &OpenFile, flags: i32) -> R<(i32, SocketAddr)> {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(libc::EINVAL);
    }
    let s = shim()?;
    let cloexec = flags & libc::SOCK_CLOEXEC != 0;
    // Linux reserves the descriptor before it takes a connection off the
    // queue or waits for one (fdslot.rs): with no fd free, accept fails
    // (EMFILE) and the connection stays queued for a later accept; a file
    // opened while it waits takes the next number. In-process the number
    // is held by the new anchor itself. (This thread's wake-up eventfd is
    // made first, so it never sits between the program's fds.)
    let mut slot = match &s.stack {
        Net::Remote(_) => FdSlot::reserve()?,
        Net::Local(st) => {
            let evfd = crate::wait::thread_evfd_leaving_room();
            // A non-blocking accept that finds the queue empty (an epoll
            // server calls accept until EAGAIN): EAGAIN without an anchor,
            // after Linux's check that a number is free (`FdSlot::probe`).
            if evfd >= 0
                && of.is_nonblock()
                && st.accept_empty(of.handle)
                && crate::loopback::shadow_fds(of).is_none()
            {
                FdSlot::probe(evfd)?;
                return Err(libc::EAGAIN);
            }
            FdSlot::anchor(cloexec)?
        }
    };
    // A shadow listener takes connections from the kernel's stack too.
    if let Some(r) = crate::shadow_accept::accept(s, of, flags, &mut slot) {
        return r;
    }
    if let Net::Remote(r) = &s.stack {
        let (h, peer, anchor) = blocking(s, of, of.is_nonblock(), true, |_, wait| {
            let anchor = of.anchor.load(Ordering::Relaxed);
            r.accept(of.handle, anchor, wait, cloexec, &mut slot)
        })?;
        let new = Arc::new(OpenFile::new(h, of.domain, of.ty, false));
        install(s, anchor, new.clone());
        inherit_bound_dev(s, of, anchor);
        if flags & libc::SOCK_NONBLOCK != 0 {
            new.set_nonblock(true); // on the anchor too (nonblock.rs)
        }
        return Ok((anchor, peer));
    }
    let (h, peer) = blocking(s, of, of.is_nonblock(), true, |s, _| {
        s.stack
            .local()
            .map_or(Err(Errno::EIO), |st| st.accept(of.handle))
    })?;
    let anchor = slot.fd();
    install(
        s,
        anchor,
        Arc::new(OpenFile::new(
            h,
            of.domain,
            of.ty,
            flags & libc::SOCK_NONBLOCK != 0,
        )),
    );
    slot.keep();
    inherit_bound_dev(s, of, anchor);
    Ok((anchor, peer))
}

/// A connect that went as `ConnectPost`: the open file's mark, cleared
/// when the call returns.
struct PostedConnect<'a>(&'a OpenFile);

impl Drop for PostedConnect<'_> {
    fn drop(&mut self) {
        self.0.connect_posted.store(false, Ordering::Release);
    }
}

/// TCP's connect checks the socket's state before the address (Linux
/// `__inet_stream_connect`: only an unconnected socket reaches
/// `tcp_v4_connect`'s length and family checks): the error for an address
/// that does not parse, given the state.
fn connect_addr_error(of: &OpenFile, addr: &[u8], parse_err: i32) -> i32 {
    const TCP_SYN_SENT: u8 = 2;
    const TCP_CLOSE: u8 = 7;
    if of.ty != SockType::Stream || addr.len() < 2 {
        return parse_err;
    }
    match sockinfo(of).map(|i| i.tcp_state) {
        Ok(TCP_CLOSE) | Err(_) => parse_err,
        Ok(TCP_SYN_SENT) => libc::EALREADY,
        Ok(_) => libc::EISCONN,
    }
}

pub fn connect(of: &OpenFile, addr: &[u8]) -> R<i32> {
    let s = shim()?;
    let a = parse_dest(of, addr).map_err(|x| connect_addr_error(of, addr, x))?;
    // A blocking connect with the service registers its wait with the
    // connect itself (see blocking_armed).
    let wait = s.stack.remote().is_some() && !of.is_nonblock();
    // Where the sleep reads the token (a stream socket held alone, no
    // SO_SNDTIMEO) it needs no reply either: EINPROGRESS is assumed, and
    // an outcome the service knows at once comes with the token, from
    // `ConnectStatus` (one wake-up of the program fewer per connection).
    // One thread of the process at a time: another one's connect on the
    // socket meanwhile gets its own answer (EALREADY, EISCONN).
    let posted = match a {
        Some(to)
            if wait
                && of.ty == SockType::Stream
                && of.timeout(false).is_none()
                && alone(of)
                && !of.connect_posted.swap(true, Ordering::AcqRel) =>
        {
            let ok = s.stack.connect_post(of.handle, to);
            if !ok {
                of.connect_posted.store(false, Ordering::Release);
            }
            ok.then_some(PostedConnect(of))
        }
        _ => None,
    };
    let r = match posted {
        Some(_) => Err(Errno::EINPROGRESS),
        None => s.stack.connect(s.now(), of.handle, a, wait),
    };
    s.after_op();
    match r {
        Ok(()) if a.is_none() && of.ty == SockType::Dgram => {
            // A disconnect that released the port: so does the kernel side.
            if s.stack.getsockname(of.handle).is_ok_and(|n| n.port() == 0) {
                crate::loopback::forget(of);
            }
            Ok(0)
        }
        Ok(()) => Ok(0),
        Err(x @ (Errno::EINPROGRESS | Errno::EALREADY)) if posted.is_none() && of.is_nonblock() => {
            Err(e(x))
        }
        // A blocking connect (or a second one while the first is still in
        // progress, as Linux) waits up to SO_SNDTIMEO for the outcome.
        Err(x @ (Errno::EINPROGRESS | Errno::EALREADY)) => {
            let armed = wait;
            let done = blocking_armed(s, of, false, false, armed, |s, wait| {
                // The service completed the connect when it saw it open
                // (its wait was registered with the connect): the slot
                // says so without a message.
                if armed && !wait && crate::client::open_alone(of.handle.as_u64()) {
                    return Ok(true);
                }
                match s.stack.connect_status(of.handle, wait) {
                    Ok(false) => Err(Errno::EAGAIN),
                    other => other,
                }
            });
            match done {
                Ok(_) => Ok(0),
                Err(libc::EAGAIN) => Err(e(x)), // SO_SNDTIMEO expired
                // Interrupted before a posted connect's outcome was read:
                // an outcome known at once is the call's, as Linux's
                // connect returns it before it ever sleeps.
                Err(libc::EINTR) if posted.is_some() => {
                    match s.stack.connect_status(of.handle, false) {
                        Ok(true) => Ok(0),
                        Ok(false) => Err(libc::EINTR),
                        Err(x) => Err(e(x)),
                    }
                }
                Err(x) => Err(x),
            }
        }
        Err(x) => Err(e(x)),
    }
}

/// EPIPE raises SIGPIPE unless MSG_NOSIGNAL, on stream sockets only
/// (Linux's UDP returns EPIPE after shutdown without a signal).
fn sigpipe(of: &OpenFile, flags: i32, r: R<usize>) -> R<usize> {
    if r == Err(libc::EPIPE) && flags & MSG_NOSIGNAL == 0 && of.ty == SockType::Stream {
        // SAFETY: raising a signal in this thread, as the kernel would.
        unsafe { libc::raise(libc::SIGPIPE) };
    }
    r
}

pub fn send(of: &OpenFile, data: &[u8], flags: i32, to: Option<&[u8]>) -> R<usize> {
    let s = shim()?;
    let flags = flags & !(MSG_SOCKSHIM_COPIED | MSG_SOCKSHIM_WAITED);
    let fastopen = of.ty == SockType::Stream && flags & MSG_FASTOPEN != 0;
    if fastopen {
        fastopen_sysctl(s);
    }
    let to = match to {
        Some(b) if of.ty == SockType::Dgram => parse_dest(of, b)?,
        // TCP Fast Open: sendto() connects; AF_UNSPEC is EOPNOTSUPP (Linux).
        Some(b) if fastopen => match parse_sockaddr(b, of.domain)? {
            None => return Err(libc::EOPNOTSUPP),
            a => a,
        },
        _ => None,
    };
    let nonblock = of.is_nonblock() || flags & MSG_DONTWAIT != 0;
    // The stack never blocks; MSG_DONTWAIT tells it this call would not
    // either (TCP: a Fast Open sendto() answers EINPROGRESS, not EAGAIN).
    let flags = if nonblock {
        flags | MSG_DONTWAIT
    } else {
        flags
    };
    if of.ty == SockType::Dgram || data.is_empty() {
        let r = blocking(s, of, nonblock, false, |s, wait| {
            s.stack.send(s.now(), of.handle, data, flags, to, wait)
        });
        return sigpipe(of, flags, r);
    }
    // A blocking stream send sends everything unless interrupted. Only the
    // first part may open a Fast Open connection (the rest follows it).
    // Once the call has slept for space, each try says so: the stack then
    // copies only when the socket is writeable, as Linux wakes a writer.
    let mut sent = 0;
    let mut slept = false;
    while sent < data.len() {
        let (fl, to) = match sent {
            0 => (flags, to),
            _ => (flags & !MSG_FASTOPEN | MSG_SOCKSHIM_COPIED, None),
        };
        let r = blocking(s, of, nonblock, false, |s, wait| {
            let fl = if slept { fl | MSG_SOCKSHIM_WAITED } else { fl };
            let r = s
                .stack
                .send(s.now(), of.handle, &data[sent..], fl, to, wait);
            slept |= wait && r == Err(Errno::EAGAIN);
            r
        });
        match r {
            Ok(n) => sent += n,
            // Linux returns what it copied whatever stopped it (a signal,
            // SO_SNDTIMEO, a reset); an error stays pending for the next call.
            Err(_) if sent > 0 => return Ok(sent),
            Err(x) => return sigpipe(of, flags, Err(x)),
        }
        if nonblock {
            break;
        }
    }
    Ok(sent)
}

/// What Linux answers for a send whose data cannot be read: the
/// protocol's checks run before the copy, so their errors come first
/// (TCP: an empty send tells them, and waits for a connection in progress
/// as Linux does); otherwise EFAULT.
pub fn send_fault(of: &OpenFile, flags: i32, to: Option<&[u8]>) -> i32 {
    match of.ty {
        SockType::Stream => match send(of, &[], flags, None) {
            Ok(_) => libc::EFAULT,
            Err(x) => x,
        },
        SockType::Dgram => {
            if flags & MSG_OOB != 0 {
                return libc::EOPNOTSUPP;
            }
            match to.map(|b| parse_dest(of, b)) {
                Some(Err(x)) => x,
                Some(Ok(Some(_))) => libc::EFAULT,
                Some(Ok(None)) | None if getpeername(of).is_err() => libc::EDESTADDRREQ,
                _ => libc::EFAULT,
            }
        }
    }
}

/// What Linux answers for a receive into a buffer that cannot be written:
/// it waits for data as usual, then fails the copy with EFAULT; TCP keeps
/// the data queued, UDP drops the datagram (unless MSG_PEEK). An end of
/// file or an empty datagram copies nothing and succeeds.
pub fn recv_fault(of: &OpenFile, flags: i32) -> R<(usize, usize, Option<SocketAddr>)> {
    let mut one = [0u8; 1];
    match of.ty {
        SockType::Stream => match recv(of, &mut one, flags | MSG_PEEK) {
            Ok((0, _, from)) => Ok((0, 0, from)),
            Ok(_) => Err(libc::EFAULT),
            Err(x) => Err(x),
        },
        SockType::Dgram => match recv(of, &mut one, flags) {
            Ok((_, 0, from)) => Ok((0, 0, from)),
            Ok(_) => Err(libc::EFAULT),
            Err(x) => Err(x),
        },
    }
}

/// The next entry of the socket's error queue (stack::kern::errqueue):
/// its `sock_extended_err`, offender and timestamp bytes, what it quoted
/// of the payload (at most `room` bytes), the payload's full length and
/// the original destination. Never blocks: EAGAIN when empty.
pub fn recv_errqueue(of: &OpenFile, room: usize) -> R<ErrEntry> {
    let s = shim()?;
    let head = stack::kern::errqueue::HEAD_LEN;
    let mut buf = vec![0u8; head + room.min(proto::MAX_DATA - head)];
    let r = s.stack.recv(
        s.now(),
        of.handle,
        of.ty,
        &mut buf,
        MSG_ERRQUEUE | MSG_DONTWAIT,
        false,
    );
    s.after_op();
    match r {
        Ok(m) if m.copied >= head => {
            let payload = buf[head..m.copied].to_vec();
            buf.truncate(head);
            Ok(ErrEntry {
                head: buf,
                payload,
                full_len: m.full_len,
                dest: m.from,
            })
        }
        Ok(_) => Err(libc::EAGAIN),
        Err(x) => Err(e(x)),
    }
}

/// One error queue entry as `recv_errqueue` reads it.
pub struct ErrEntry {
    /// `sock_extended_err`, the offender's sockaddr (28 bytes), a TX
    /// timestamp's time (errqueue::HEAD_LEN bytes in all).
    pub head: Vec<u8>,
    pub payload: Vec<u8>,
    pub full_len: usize,
    pub dest: Option<SocketAddr>,
}

/// Returns (bytes, datagram length, sender).
pub fn recv(of: &OpenFile, buf: &mut [u8], flags: i32) -> R<(usize, usize, Option<SocketAddr>)> {
    recv_info(of, buf, flags).map(|(n, full, from, _)| (n, full, from))
}

/// `recv`, with a datagram's arrival (for recvmsg's control messages).
pub fn recv_info(
    of: &OpenFile,
    buf: &mut [u8],
    flags: i32,
) -> R<(usize, usize, Option<SocketAddr>, Option<stack::DgramInfo>)> {
    let s = shim()?;
    if flags & MSG_ERRQUEUE != 0 {
        // recv(2) without a control buffer: the entry goes, its quoted
        // payload is the data.
        let e = recv_errqueue(of, buf.len())?;
        buf[..e.payload.len()].copy_from_slice(&e.payload);
        return Ok((e.payload.len(), e.full_len, e.dest, None));
    }
    // A bound UDP socket with a kernel reservation takes from both.
    if let Some(k) = crate::udp_shadow::reservation(of) {
        return crate::udp_shadow::recv(s, of, k, buf, flags);
    }
    // The error queue never blocks, nor does MSG_OOB (tcp_recv_urg).
    let nonblock = of.is_nonblock() || flags & (MSG_DONTWAIT | MSG_ERRQUEUE | MSG_OOB) != 0;
    let waitall = flags & MSG_WAITALL != 0 && of.ty == SockType::Stream && flags & MSG_PEEK == 0;
    // A blocking datagram receive with the service registers its wait
    // with its first try: no slot tells a datagram socket's EAGAIN
    // without a message, so a try without the wait would cost a round
    // trip of its own (three per receive that sleeps, not two).
    let arm_first = !nonblock && of.ty == SockType::Dgram && s.stack.remote().is_some();
    let mut got = 0;
    loop {
        let op = |s: &Shim, wait: bool| {
            // The stack never blocks; MSG_DONTWAIT tells it this call
            // would not either (UDP after SHUT_RD: EAGAIN, not 0).
            let fl = if nonblock {
                flags | MSG_DONTWAIT
            } else {
                flags
            };
            s.stack
                .recv(s.now(), of.handle, of.ty, &mut buf[got..], fl, wait)
        };
        let r = if arm_first {
            blocking_armed_first(s, of, op)
        } else {
            blocking(s, of, nonblock, true, op)
        };
        match r {
            Ok(m) => {
                if !waitall || m.copied == 0 {
                    return Ok((
                        got + m.copied,
                        if got == 0 { m.full_len } else { got + m.copied },
                        m.from,
                        m.info,
                    ));
                }
                got += m.copied;
                if got >= buf.len() {
                    return Ok((got, got, None, None));
                }
            }
            Err(x) if got > 0 => {
                let _ = x;
                return Ok((got, got, None, None));
            }
            Err(x) => return Err(x),
        }
    }
}

pub fn shutdown(of: &OpenFile, how: i32) -> R<i32> {
    let s = shim()?;
    crate::loopback::shutdown(s, of, how);
    let r = s
        .stack
        .shutdown(s.now(), of.handle, how)
        .map(|_| 0)
        .map_err(e);
    s.after_op();
    r
}

pub fn getsockname(of: &OpenFile) -> R<SocketAddr> {
    shim()?.stack.getsockname(of.handle).map_err(e)
}

pub fn getpeername(of: &OpenFile) -> R<SocketAddr> {
    shim()?.stack.getpeername(of.handle).map_err(e)
}

const SO_RCVTIMEO_NEW: i32 = 66;
const SO_SNDTIMEO_NEW: i32 = 67;

/// SO_RCVTIMEO / SO_SNDTIMEO (old or 64-bit name): Some(true) for the
/// receive timeout, Some(false) for the send timeout.
pub fn timeout_option(level: i32, name: i32) -> Option<bool> {
    match (level, name) {
        (SOL_SOCKET, SO_RCVTIMEO_OLD | SO_RCVTIMEO_NEW) => Some(true),
        (SOL_SOCKET, SO_SNDTIMEO_OLD | SO_SNDTIMEO_NEW) => Some(false),
        _ => None,
    }
}

const SO_BINDTOIFINDEX: i32 = 62;

/// SO_BINDTODEVICE and SO_BINDTOIFINDEX live on the anchor, a kernel
/// socket of this namespace, which has our devices' names (lo, the TUN):
/// the kernel checks them as for its own sockets (CAP_NET_RAW: EPERM;
/// ENODEV; EINVAL) and reads them back; `note_bound_dev` tells the stack.
pub fn anchor_option(level: i32, name: i32) -> bool {
    level == SOL_SOCKET && (name == libc::SO_BINDTODEVICE || name == SO_BINDTOIFINDEX)
}

/// After the anchor took a device binding: the stack learns the interface
/// index it came to, and delivers the socket only what arrives there.
pub fn note_bound_dev(anchor: i32, of: &OpenFile) {
    let Ok(s) = shim() else { return };
    if let Some(idx) = anchor_bound_ifindex(anchor) {
        let v = (idx as u32).to_ne_bytes();
        let _ = s.stack.setsockopt(
            s.now(),
            of.handle,
            stack::linux::SOL_SOCKSHIM,
            stack::linux::SOCKSHIM_BOUND_DEV,
            &v,
        );
    }
}

/// The device index an anchor is bound to (SO_BINDTOIFINDEX, 0: none), as
/// the kernel keeps it; None if the kernel could not say.
fn anchor_bound_ifindex(anchor: i32) -> Option<i32> {
    let mut idx: i32 = 0;
    let mut len = 4 as libc::socklen_t;
    // SAFETY: reading an int option of our own anchor into a local.
    let r = unsafe {
        (real().getsockopt)(
            anchor,
            SOL_SOCKET,
            SO_BINDTOIFINDEX,
            (&mut idx as *mut i32).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(idx)
}

/// A connection accepted on a device-bound listener is bound to the same
/// device (Linux's sk_clone copies sk_bound_dev_if; the stack's child PCB
/// copies the listener's): the binding is copied from the listener's
/// anchor to the new one, where getsockopt reads it. In-process the stack
/// knows whether the listener is bound at all (`note_bound_dev` told it),
/// so an unbound listener's accept asks the kernel nothing: one system
/// call less per accepted connection (issue 18). The service's stack is
/// another process's: there the anchor is asked.
pub(crate) fn inherit_bound_dev(s: &Shim, listener: &OpenFile, anchor: i32) {
    if s.stack
        .local()
        .is_some_and(|st| !st.is_dev_bound(listener.handle))
    {
        return;
    }
    let idx = anchor_bound_ifindex(listener.anchor.load(Ordering::Relaxed)).unwrap_or(0);
    if idx != 0 {
        // SAFETY: setting an int option on our own anchor from a local.
        unsafe {
            (real().setsockopt)(
                anchor,
                SOL_SOCKET,
                SO_BINDTOIFINDEX,
                (&idx as *const i32).cast(),
                4,
            )
        };
    }
}

/// The socket timeouts live on the anchor, a kernel socket: lib.rs passes
/// setsockopt/getsockopt of them straight to it, so the kernel validates
/// (EINVAL, EDOM, EFAULT) and rounds to its jiffies exactly as for its own
/// sockets (with HZ=250, 1.25 s reads back as 1.252 s). After a successful
/// set, this reads the effective value back for the shim's own waits.
/// A negative tv_sec means "never wait" on Linux (0 jiffies): stored as 1 µs.
pub fn note_timeout(anchor: i32, of: &OpenFile, recv: bool, val: &[u8]) {
    let slot = if recv {
        &of.rcvtimeo_us
    } else {
        &of.sndtimeo_us
    };
    let negative = val
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .is_some_and(|b| i64::from_ne_bytes(b) < 0);
    if negative {
        slot.store(1, Ordering::Relaxed);
        return;
    }
    let mut tv = [0i64; 2];
    let mut len = 16 as libc::socklen_t;
    let name = if recv {
        SO_RCVTIMEO_OLD
    } else {
        SO_SNDTIMEO_OLD
    };
    // SAFETY: `tv` is a valid 16-byte out-buffer, `len` says so.
    let r = unsafe {
        (crate::real::real().getsockopt)(anchor, SOL_SOCKET, name, tv.as_mut_ptr().cast(), &mut len)
    };
    if r == 0 {
        let us = (tv[0].max(0) as u64).saturating_mul(1_000_000) + tv[1].max(0) as u64;
        slot.store(us, Ordering::Relaxed);
    }
}

/// An accepted socket starts with its listener's SO_RCVTIMEO/SO_SNDTIMEO,
/// as Linux's sk_clone copies them: copy the listener anchor's values to
/// the new anchor and the shim's copies to the new open file.
pub fn inherit_timeouts(listener_anchor: i32, listener: &OpenFile, child_anchor: i32) {
    let Some(s) = crate::driver::shim_if_ready() else {
        return;
    };
    let Some(child) = s.fds.get(child_anchor) else {
        return;
    };
    for (name, from, to) in [
        (SO_RCVTIMEO_OLD, &listener.rcvtimeo_us, &child.rcvtimeo_us),
        (SO_SNDTIMEO_OLD, &listener.sndtimeo_us, &child.sndtimeo_us),
    ] {
        let us = from.load(Ordering::Relaxed);
        if us == 0 {
            continue;
        }
        to.store(us, Ordering::Relaxed);
        let mut tv = [0i64; 2];
        let mut len = 16 as libc::socklen_t;
        let real = crate::real::real();
        // SAFETY: 16-byte buffers for a struct timeval, lengths to match.
        unsafe {
            if (real.getsockopt)(
                listener_anchor,
                SOL_SOCKET,
                name,
                tv.as_mut_ptr().cast(),
                &mut len,
            ) == 0
            {
                (real.setsockopt)(child_anchor, SOL_SOCKET, name, tv.as_ptr().cast(), len);
            }
        }
    }
}

/// Linux reads net.ipv4.tcp_fastopen live in the Fast Open calls (and
/// tcp_ecn when a SYN comes): re-read the namespace's sysctls first in
/// those calls and in listen() (the service does its own).
fn fastopen_sysctl(s: &Shim) {
    if let Net::Local(st) = &s.stack {
        st.set_sysctl(crate::sysctl::read_sysctl());
    }
}

pub fn setsockopt(of: &OpenFile, level: i32, name: i32, val: &[u8]) -> R<i32> {
    let s = shim()?;
    if stack::linux::rereads_sysctl(level, name) {
        fastopen_sysctl(s);
    }
    let r = s
        .stack
        .setsockopt(s.now(), of.handle, level, name, val)
        .map(|_| 0)
        .map_err(e);
    s.after_op();
    if r.is_ok() {
        crate::loopback::note_option(of, level, name, val);
        crate::loopback::option_set(of, level, name, val);
    }
    r
}

pub fn getsockopt(of: &OpenFile, level: i32, name: i32, out: &mut [u8]) -> R<usize> {
    let s = shim()?;
    s.stack.note_time(s.now());
    let r = s.stack.getsockopt(of.handle, level, name, out).map_err(e);
    s.after_op();
    r
}

/// A time on the stack's clock (CLOCK_MONOTONIC, in the shim and the
/// service alike) as CLOCK_REALTIME: (seconds, nanoseconds).
pub fn realtime_of(t: stack::Instant) -> (i64, u32) {
    let mut mono = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut real = mono;
    // SAFETY: clock_gettime writes into the timespecs.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono);
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut real);
    }
    let ns = |t: &libc::timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
    let age = (ns(&mono) - t.total_micros() as i128 * 1000).max(0);
    let at = ns(&real) - age;
    (
        at.div_euclid(1_000_000_000) as i64,
        at.rem_euclid(1_000_000_000) as u32,
    )
}

/// SIOCGSTAMP / SIOCGSTAMPNS: the socket's kept receive time as
/// CLOCK_REALTIME (the stack's private getsockopt level, so both modes
/// serve it without a message of their own).
pub fn siocgstamp(of: &OpenFile) -> R<(i64, u32)> {
    let s = shim()?;
    s.stack.note_time(s.now());
    let mut b = [0u8; 8];
    s.stack
        .getsockopt(
            of.handle,
            stack::linux::SOL_SOCKSHIM,
            stack::linux::SOCKSHIM_SIOCGSTAMP,
            &mut b,
        )
        .map_err(e)?;
    Ok(realtime_of(stack::Instant::from_micros(
        u64::from_ne_bytes(b),
    )))
}

/// sendmsg's per-datagram IP options (SOCKSHIM_SEND_ONCE's bytes), for
/// the send that follows.
pub fn send_once(of: &OpenFile, once: [u8; 8]) -> R<()> {
    let s = shim()?;
    s.stack
        .setsockopt(
            s.now(),
            of.handle,
            stack::linux::SOL_SOCKSHIM,
            stack::linux::SOCKSHIM_SEND_ONCE,
            &once,
        )
        .map_err(e)
}

/// SIOCATMARK: is the reader at the urgent mark?
pub fn siocatmark(of: &OpenFile) -> R<bool> {
    let mut b = [0u8; 4];
    shim()?
        .stack
        .getsockopt(
            of.handle,
            stack::linux::SOL_SOCKSHIM,
            stack::linux::SOCKSHIM_SIOCATMARK,
            &mut b,
        )
        .map_err(e)?;
    Ok(i32::from_ne_bytes(b) != 0)
}

/// FIONREAD / SIOCOUTQ values.
pub fn sockinfo(of: &OpenFile) -> R<stack::SockInfo> {
    shim()?.stack.sockinfo(of.handle).map_err(e)
}

/// Readiness of a stack socket in POLL* bits (as poll reports them).
pub fn readiness(s: &Shim, h: SocketHandle) -> i16 {
    let r = s.stack.sopoll(h);
    let mut v = r.0 as i16;
    if r.contains(Readiness::NVAL) {
        v = libc::POLLNVAL;
    }
    v
}

/// poll(2) over any mix of stack sockets and kernel fds.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> R<i32> {
    let s = shim()?;
    if let Net::Remote(r) = &s.stack {
        return poll_remote(s, r, fds, timeout_ms);
    }
    let deadline = (timeout_ms >= 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    let evfd = thread_evfd();
    let files: Vec<Option<Arc<OpenFile>>> = fds.iter().map(|p| s.fds.get(p.fd)).collect();
    let handles: Vec<Option<SocketHandle>> = files
        .iter()
        .map(|f| f.as_ref().map(|of| of.handle))
        .collect();
    // Shadow listeners (loopback.rs): the kernel side wakes the wait too.
    let shadows: Vec<i32> = files
        .iter()
        .flatten()
        .filter_map(|of| crate::loopback::shadow_fds(of))
        .flatten()
        .collect();
    let mut kernel: Vec<libc::pollfd> = Vec::with_capacity(fds.len() + 1);
    loop {
        for h in handles.iter().flatten() {
            s.register(*h, evfd);
        }
        // Compute readiness now (after registering: no lost wake-up).
        let mut count = 0;
        kernel.clear();
        for ((p, h), f) in fds.iter_mut().zip(&handles).zip(&files) {
            match h {
                Some(h) => {
                    let always = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
                    let mut r = readiness(s, *h);
                    if !shadows.is_empty()
                        && f.as_ref().is_some_and(|f| crate::loopback::shadow_ready(f))
                    {
                        r |= libc::POLLIN;
                    }
                    p.revents = r & (p.events | always);
                    if p.revents != 0 {
                        count += 1;
                    }
                }
                None => kernel.push(libc::pollfd {
                    fd: p.fd,
                    events: p.events,
                    revents: 0,
                }),
            }
        }
        if !kernel.is_empty() {
            // SAFETY: `kernel` is a valid pollfd array of its length.
            let n = unsafe { (real().poll)(kernel.as_mut_ptr(), kernel.len() as libc::nfds_t, 0) };
            if n < 0 {
                unregister_all(s, &handles, evfd);
                // SAFETY: reading this thread's errno.
                return Err(unsafe { *libc::__errno_location() });
            }
        }
        let mut ki = kernel.iter();
        for (p, h) in fds.iter_mut().zip(&handles) {
            if h.is_none() {
                p.revents = ki.next().map_or(0, |k| k.revents);
                if p.revents != 0 {
                    count += 1;
                }
            }
        }
        let expired = deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if count > 0 || expired {
            unregister_all(s, &handles, evfd);
            return Ok(count);
        }
        // Busy polling (SOCKSHIM_BUSY_POLL_US, as Linux's net.core.busy_poll
        // for poll and select): read the device before sleeping; a stack
        // event signals our eventfd. Kernel fds' events wait for the next
        // turn (at most the budget), as in epoll_wait.
        if s.busy_poll_us != 0 && handles.iter().any(Option::is_some) && timeout_ms != 0 {
            let budget = std::time::Duration::from_micros(u64::from(s.busy_poll_us));
            if s.busy_poll(evfd, budget, deadline) {
                unregister_all(s, &handles, evfd);
                continue;
            }
        }
        // Block on the kernel fds plus our eventfd.
        kernel.push(libc::pollfd {
            fd: evfd,
            events: libc::POLLIN,
            revents: 0,
        });
        for &fd in &shadows {
            kernel.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let ms = crate::wait::poll_timeout(deadline);
        // On the device too when no other thread is (devwait.rs), unless
        // waiting to send (see `blocking`).
        let sending = fds
            .iter()
            .zip(&handles)
            .any(|(p, h)| h.is_some() && p.events & libc::POLLOUT != 0);
        let (r, err, _) = if sending {
            // SAFETY: valid pollfd array.
            let r = unsafe { (real().poll)(kernel.as_mut_ptr(), kernel.len() as libc::nfds_t, ms) };
            // SAFETY: reading this thread's errno.
            (r, unsafe { *libc::__errno_location() }, false)
        } else {
            s.poll_with_device(&mut kernel, ms)
        };
        unregister_all(s, &handles, evfd);
        drain(evfd);
        if r < 0 {
            return Err(err);
        }
    }
}

fn unregister_all(s: &Shim, handles: &[Option<SocketHandle>], evfd: i32) {
    for h in handles.iter().flatten() {
        s.unregister(*h, evfd);
    }
}

/// poll(2) with the service: the stack sockets' readiness from one `Poll`
/// request (after reading their tokens back, so that the service re-arms
/// them), the kernel fds' from the kernel; then a real poll over the
/// kernel fds and the anchors, which the service's tokens wake.
fn poll_remote(
    s: &Shim,
    r: &crate::net::Remote,
    fds: &mut [libc::pollfd],
    timeout_ms: i32,
) -> R<i32> {
    let deadline = (timeout_ms >= 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    let files: Vec<Option<Arc<OpenFile>>> = fds.iter().map(|p| s.fds.get(p.fd)).collect();
    let mut first = true;
    loop {
        let items: Vec<(i32, u64, u32)> = fds
            .iter()
            .zip(&files)
            .filter_map(|(p, f)| {
                f.as_ref()
                    .map(|f| (p.fd, f.handle.as_u64(), p.events as u16 as u32))
            })
            .collect();
        let ready = if items.is_empty() {
            Vec::new()
        } else if first {
            let v = items.iter().map(|&(_, id, ev)| (id, ev)).collect();
            r.poll(v, false).map_err(e)?
        } else {
            // Tokens read back (but where the region shows the event they
            // stand for) and interest registered: see Remote::poll_armed.
            r.poll_armed(&items).map_err(e)?
        };
        let mut kernel: Vec<libc::pollfd> = fds
            .iter()
            .zip(&files)
            .filter(|(_, f)| f.is_none())
            .map(|(p, _)| libc::pollfd {
                fd: p.fd,
                events: p.events,
                revents: 0,
            })
            .collect();
        if !kernel.is_empty() {
            // SAFETY: `kernel` is a valid pollfd array of its length.
            let n = unsafe { (real().poll)(kernel.as_mut_ptr(), kernel.len() as libc::nfds_t, 0) };
            if n < 0 {
                // SAFETY: reading this thread's errno.
                return Err(unsafe { *libc::__errno_location() });
            }
        }
        let (mut ri, mut ki, mut count) = (ready.iter(), kernel.iter(), 0);
        let always = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
        for (p, f) in fds.iter_mut().zip(&files) {
            p.revents = if f.is_some() {
                let v = ri.next().copied().unwrap_or(0) & 0xffff;
                let mut v = if v & Readiness::NVAL.0 != 0 {
                    libc::POLLNVAL
                } else {
                    v as u16 as i16
                };
                if f.as_ref().is_some_and(|f| crate::loopback::shadow_ready(f)) {
                    v |= libc::POLLIN;
                }
                v & (p.events | always)
            } else {
                ki.next().map_or(0, |k| k.revents)
            };
            if p.revents != 0 {
                count += 1;
            }
        }
        let expired = deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if count > 0 || expired {
            return Ok(count);
        }
        if first {
            // Read the tokens back and ask again with interest registered
            // before sleeping: no wake-up is lost in between.
            first = false;
            continue;
        }
        for (p, f) in fds.iter().zip(&files) {
            if let Some(f) = f {
                kernel.push(libc::pollfd {
                    fd: p.fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
                // A shadow listener's kernel side wakes the wait too.
                for fd in crate::loopback::shadow_fds(f).into_iter().flatten() {
                    kernel.push(libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    });
                }
            }
        }
        let ms = crate::wait::poll_timeout(deadline);
        // SAFETY: valid pollfd array.
        let n = unsafe { (real().poll)(kernel.as_mut_ptr(), kernel.len() as libc::nfds_t, ms) };
        if n < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
    }
}
