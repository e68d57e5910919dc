//! Living beside the kernel's stack on loopback (issue 19), the shim's
//! side: a loopback connect (or UDP sendto) to an address that our stack
//! does not serve turns the socket into a kernel socket under the same fd
//! number, so a shimmed program reaches the unshimmed services of its host
//! (a database on 127.0.0.1, a local DNS or HTTP proxy).
//!
//! The same for AF_INET6 sockets and ::1 (or 127/8 v4-mapped); a bind of
//! ours on a dual-stack `[::]` (IPV6_V6ONLY off) reserves ::1 and
//! 127.0.0.1 (as `::ffff:127.0.0.1`) in the kernel, as Linux's dual-stack
//! `[::]` socket covers both.
//!
//! `SOCKSHIM_LOOPBACK`: `auto` (our stack where it has a listener or bound
//! UDP socket for the destination, the kernel otherwise), `kernel` (every
//! loopback destination goes to the kernel), `stack` (all loopback in our
//! stack, as before).
//!
//! The hand-over: a fresh kernel socket of the same type, with the
//! options set so far replayed (those the stack accepted, SO_RCVTIMEO and
//! SO_SNDTIMEO from the anchor, O_NONBLOCK, FD_CLOEXEC) and the same local
//! port if one was bound, is `dup3`ed over every descriptor of the open
//! file; the shim's fd table entries are dropped and the stack socket is
//! closed (in service mode the anchor's last close tells the service).
//! From then on every call on the fd goes to the kernel untouched. Where
//! neither stack listens, the kernel answers the connect: ECONNREFUSED,
//! exactly as Linux.
//!
//! With the stack service the reservations (below) belong to the socket:
//! the binding process passes them to the service, which holds them as
//! long as the socket and gives a copy to any other process holding it
//! (`sync_with_service`); a socket that became a kernel socket here is
//! left with the service too, for the other processes holding it to take
//! in its place (`adopt_if_moved`). service/src/reservation.rs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use stack::linux::{SOCKSHIM_ANON_PORT, SOL_SOCKSHIM};
use stack::{Domain, SockType};

use crate::config::Loopback;
use crate::driver::Shim;
use crate::fdtable::OpenFile;
use crate::ops::{self, R};
use crate::real::real;

static MODE: AtomicU8 = AtomicU8::new(0);

/// Most options remembered per socket for the replay.
const MAX_SAVED_OPTS: usize = 64;

/// Set once at initialisation from `SOCKSHIM_LOOPBACK`.
pub fn set_mode(m: Loopback) {
    let v = match m {
        Loopback::Auto => 0,
        Loopback::Kernel => 1,
        Loopback::Stack => 2,
    };
    MODE.store(v, Ordering::Relaxed);
}

pub fn mode() -> Loopback {
    match MODE.load(Ordering::Relaxed) {
        1 => Loopback::Kernel,
        2 => Loopback::Stack,
        _ => Loopback::Auto,
    }
}

/// Remember an option the stack accepted, for a later replay on a kernel
/// socket (a second setting of one option replaces the first).
pub fn note_option(of: &OpenFile, level: i32, name: i32, val: &[u8]) {
    let mut g = of.opts.lock();
    let v = g.get_or_insert_with(Default::default);
    if let Some(o) = v.iter_mut().find(|o| o.0 == level && o.1 == name) {
        o.2 = val.to_vec();
    } else if v.len() < MAX_SAVED_OPTS {
        v.push((level, name, val.to_vec()));
    }
}

/// A loopback address: 127.0.0.0/8, ::1, or 127/8 v4-mapped.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// The wildcard: 0.0.0.0, ::, or 0.0.0.0 v4-mapped.
fn is_any(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_unspecified(),
        IpAddr::V6(a) => {
            a.is_unspecified() || a.to_ipv4_mapped().is_some_and(|m| m.is_unspecified())
        }
    }
}

/// A v4-mapped address as the IPv4 one (how the stack keys its tables).
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// Is `dst` to be reached through the kernel rather than our stack? Why
/// (for the decision log), or None.
fn goes_to_kernel(s: &Shim, ty: SockType, dst: SocketAddr) -> Option<&'static str> {
    if !is_loopback(dst.ip()) {
        return None;
    }
    match mode() {
        Loopback::Stack => None,
        Loopback::Kernel => Some("SOCKSHIM_LOOPBACK=kernel"),
        // A failed question keeps the socket ours (the behaviour before).
        Loopback::Auto => (s.stack.serves(ty, canonical(dst)) == Ok(false))
            .then_some("our stack has no socket there (SOCKSHIM_LOOPBACK=auto)"),
    }
}

/// Is `dst` an address of the socket's own family (an AF_INET6 socket
/// takes v4-mapped ones; an AF_INET one only IPv4)?
fn family_fits(of: &OpenFile, dst: SocketAddr) -> bool {
    match of.domain {
        Domain::Inet => dst.is_ipv4(),
        Domain::Inet6 => dst.is_ipv6(),
    }
}

/// The decision log's line for a socket that became a kernel socket.
fn explain_move(ty: SockType, dst: SocketAddr, why: &str) {
    let what = match ty {
        SockType::Stream => "TCP connect",
        SockType::Dgram => "UDP send",
    };
    crate::decision::explain(|| format!("a {what} to {dst} went to the kernel's stack: {why}"));
}

/// Can this socket still change stacks? A TCP socket that has not yet
/// connected or listened; a UDP socket that is not connected.
fn movable(of: &OpenFile) -> bool {
    const TCP_CLOSE: u8 = 7;
    match of.ty {
        SockType::Stream => ops::sockinfo(of).is_ok_and(|i| i.tcp_state == TCP_CLOSE),
        SockType::Dgram => ops::getpeername(of).is_err(),
    }
}

/// connect(fd, addr): `Some(result)` when the connect went to the kernel
/// (the fd is a kernel socket from now on), `None` when it stays ours.
pub fn divert_connect(fd: i32, of: &Arc<OpenFile>, addr: &[u8]) -> Option<R<i32>> {
    let dst = ops::parse_sockaddr(addr, of.domain).ok()??;
    if !family_fits(of, dst) {
        return None;
    }
    let s = crate::driver::shim_if_ready()?;
    let why = goes_to_kernel(s, of.ty, dst)?;
    if !movable(of) {
        return None;
    }
    if let Err(x) = become_kernel(s, fd, of, dst) {
        return Some(Err(x));
    }
    explain_move(of.ty, dst, why);
    // SAFETY: `addr` is the caller's copied-in address, of its length.
    let r = unsafe { (real().connect)(fd, addr.as_ptr().cast(), addr.len() as libc::socklen_t) };
    Some(if r == 0 { Ok(0) } else { Err(errno()) })
}

/// sendto/sendmsg on a UDP socket to `to`: the kernel socket the caller
/// makes the real call on, when the destination is the kernel's: the
/// socket's reservation when it has one (udp_shadow.rs: a reply to a
/// kernel client), else `fd` once an unconnected socket became a kernel
/// socket.
pub fn divert_send(fd: i32, of: &Arc<OpenFile>, to: Option<&[u8]>) -> Option<i32> {
    if of.ty != SockType::Dgram {
        return None;
    }
    let Some(Ok(Some(dst))) = to.map(|b| ops::parse_sockaddr(b, of.domain)) else {
        return None;
    };
    if !family_fits(of, dst) {
        return None;
    }
    let s = crate::driver::shim_if_ready()?;
    let why = goes_to_kernel(s, of.ty, dst)?;
    if let Some([k, k4]) = reservation_fds(of) {
        // A dual-stack `[::]`'s reply to 127.0.0.1 leaves by its v4 half.
        let v4 = matches!(dst, SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some());
        return Some(if v4 && k4 >= 0 { k4 } else { k });
    }
    let moved = movable(of) && become_kernel(s, fd, of, dst).is_ok();
    if moved {
        explain_move(of.ty, dst, why);
    }
    moved.then_some(fd)
}

pub fn errno() -> i32 {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// A kernel socket set up as `of` is, put under every descriptor of `of`.
/// A socket bound on loopback already has one: its reservation (of a
/// dual-stack `[::]`'s two, the one of `dst`'s family; the other goes).
fn become_kernel(s: &Shim, fd: i32, of: &Arc<OpenFile>, dst: SocketAddr) -> R<()> {
    let real = real();
    crate::loopback_svc::sync_with_service(of);
    let reserved = of.kside.lock().take().map(|mut r| {
        r.reset_pending();
        let v4 = matches!(dst, SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some());
        let (keep, other) = if v4 && r.fd4 >= 0 {
            (r.fd4, r.fd)
        } else {
            (r.fd, r.fd4)
        };
        if other >= 0 {
            crate::driver::unprotect_and_close(other);
        }
        keep
    });
    let k = match reserved {
        Some(k) => k,
        None => high_socket(of.domain, of.ty)?,
    };
    if !of.is_nonblock() {
        // SAFETY: fcntl on our own fd.
        unsafe {
            let fl = (real.fcntl)(k, libc::F_GETFL, 0);
            (real.fcntl)(k, libc::F_SETFL, (fl & !libc::O_NONBLOCK) as libc::c_ulong);
        }
    }
    let r = setup_like(s, fd, of, k, reserved.is_none()).and_then(|()| {
        crate::loopback_svc::tell_service_moved(s, of, k);
        swap_in(s, of, k)
    });
    if crate::log::enabled(crate::config::LogLevel::Debug) {
        crate::log::debug(&format!(
            "sockshim: fd {fd} became a kernel socket (loopback): {r:?}"
        ));
    }
    // Our high copy goes; the dup3 copies remain.
    crate::driver::unprotect_and_close(k);
    r
}

/// Replay on `k` what the program set on `of` (options, timeouts, bound
/// port). Options the kernel refuses are left out: the stack took them.
fn setup_like(s: &Shim, fd: i32, of: &OpenFile, k: i32, bind: bool) -> R<()> {
    let real = real();
    for (level, name, val) in of.opts.lock().iter().flat_map(|v| v.iter()) {
        // SAFETY: `val` is a live buffer of its length.
        unsafe {
            (real.setsockopt)(
                k,
                *level,
                *name,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        };
    }
    for name in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        let mut tv = [0i64; 2];
        let mut len = 16 as libc::socklen_t;
        // SAFETY: a 16-byte struct timeval buffer; the anchor holds the
        // timeouts (ops::note_timeout).
        unsafe {
            if (real.getsockopt)(fd, libc::SOL_SOCKET, name, tv.as_mut_ptr().cast(), &mut len) == 0
                && tv != [0, 0]
            {
                (real.setsockopt)(k, libc::SOL_SOCKET, name, tv.as_ptr().cast(), len);
            }
        }
    }
    if let Some(local) = s.stack.getsockname(of.handle).ok().filter(|_| bind) {
        if local.port() != 0 && (is_any(local.ip()) || is_loopback(local.ip())) {
            kernel_bind(k, local)?;
        }
    }
    Ok(())
}

/// Put `k` under every descriptor of `of` (keeping each one's
/// FD_CLOEXEC) and forget them as stack sockets.
pub(crate) fn swap_in(s: &Shim, of: &Arc<OpenFile>, k: i32) -> R<()> {
    let real = real();
    let fds: Vec<i32> = s
        .fds
        .all_fds()
        .into_iter()
        .filter(|&f| s.fds.get(f).is_some_and(|o| Arc::ptr_eq(&o, of)))
        .collect();
    for f in fds {
        // SAFETY: fcntl/dup3 on descriptors of this process.
        let cloexec = unsafe { (real.fcntl)(f, libc::F_GETFD, 0) } & libc::FD_CLOEXEC != 0;
        let fl = if cloexec { libc::O_CLOEXEC } else { 0 };
        // The program's epoll sets keep `f`: as the kernel socket now.
        let entries = s.epoll.take_fd(f, of);
        if s.stack.remote().is_some() {
            for &(epfd, _, _) in &entries {
                // The anchor's own entry goes first: a set shared with
                // another process that still holds the anchor would
                // otherwise keep it (and its tokens) after the dup3.
                // SAFETY: epoll_ctl DEL needs no event.
                unsafe { (real.epoll_ctl)(epfd, libc::EPOLL_CTL_DEL, f, std::ptr::null_mut()) };
            }
        }
        // SAFETY: as above.
        if unsafe { (real.dup3)(k, f, fl) } < 0 {
            return Err(errno());
        }
        for (epfd, events, data) in entries {
            let mut ev = libc::epoll_event { events, u64: data };
            // SAFETY: epoll_ctl with a valid event struct.
            unsafe { (real.epoll_ctl)(epfd, libc::EPOLL_CTL_ADD, f, &mut ev) };
        }
        // The anchor under `f` is gone: the stack socket loses that
        // reference (the service learns of it through the anchor).
        if let Some(h) = ops::release(f) {
            ops::closed(h);
        }
    }
    Ok(())
}

// ---- one port space: reservations (and shadow listeners) -------------

/// The kernel socket that holds one of our loopback-covering binds' port
/// in the kernel's port space, as long as our socket lives; for a
/// listener it listens too (the shadow listener).
#[derive(Debug)]
pub struct Reservation {
    pub(crate) fd: i32,
    /// The 127.0.0.1 half of a dual-stack `[::]` bind's reservation (an
    /// AF_INET6 socket bound to `::ffff:127.0.0.1`, so what it accepts or
    /// receives is seen v4-mapped, as on the program's socket); -1 if none.
    pub(crate) fd4: i32,
    pub(crate) listening: bool,
    pub(crate) pending: std::collections::VecDeque<crate::shadow_accept::Pending>,
}

impl Reservation {
    fn close(mut self) {
        self.reset_pending();
        for k in self.kernel_fds() {
            crate::driver::unprotect_and_close(k);
        }
    }

    /// Its kernel sockets: one, or both halves of a dual-stack `[::]`.
    fn kernel_fds(&self) -> impl Iterator<Item = i32> {
        [self.fd, self.fd4].into_iter().filter(|&k| k >= 0)
    }

    /// A connection queued on a listener that stops is reset, as Linux
    /// does: SO_LINGER {1, 0} makes the close send RST.
    fn reset_pending(&mut self) {
        for p in self.pending.drain(..) {
            let lg = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt with a local struct of its size.
            unsafe {
                (real().setsockopt)(
                    p.fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&lg as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            crate::driver::unprotect_and_close(p.fd);
        }
    }
}

fn kernel_type(ty: SockType) -> i32 {
    match ty {
        SockType::Stream => libc::SOCK_STREAM,
        SockType::Dgram => libc::SOCK_DGRAM,
    }
}

/// A non-blocking, close-on-exec kernel socket at a protected high fd.
fn high_socket(domain: Domain, ty: SockType) -> R<i32> {
    let family = match domain {
        Domain::Inet => libc::AF_INET,
        Domain::Inet6 => libc::AF_INET6,
    };
    let k = crate::driver::new_high_fd(|| {
        // SAFETY: plain socket(2).
        unsafe {
            (real().socket)(
                family,
                kernel_type(ty) | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        }
    });
    if k < 0 {
        Err(errno())
    } else {
        Ok(k)
    }
}

fn is_reuse_option(level: i32, name: i32) -> bool {
    level == libc::SOL_SOCKET && (name == libc::SO_REUSEADDR || name == libc::SO_REUSEPORT)
}

fn kernel_bind(k: i32, a: SocketAddr) -> R<()> {
    let (b, len) = ops::sockaddr_bytes(a);
    // SAFETY: a sockaddr_in or sockaddr_in6 of its length.
    if unsafe { (real().bind)(k, b.as_ptr().cast(), len as libc::socklen_t) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn kernel_port(k: i32) -> u16 {
    let mut b = [0u8; 28];
    let mut len = 28 as libc::socklen_t;
    // SAFETY: a sockaddr_in6-sized buffer, its length in `len` (the port
    // is at the same place in both families).
    unsafe { (real().getsockname)(k, b.as_mut_ptr().cast(), &mut len) };
    u16::from_be_bytes([b[2], b[3]])
}

/// bind(2) of one of our sockets. A bind that covers loopback (0.0.0.0 or
/// 127.0.0.0/8) first binds a kernel socket to the same port on that
/// loopback address (127.0.0.1 for the wildcard), with the socket's
/// SO_REUSEADDR/SO_REUSEPORT: the kernel answers conflicts with its own
/// sockets exactly as Linux (EADDRINUSE...), then our stack answers
/// conflicts with ours. Port 0: the kernel picks the port, ours takes the
/// same one (another is tried if ours has it in use).
pub fn bind(s: &Shim, of: &OpenFile, a: SocketAddr) -> R<i32> {
    let stack_bind = |a: SocketAddr| s.stack.bind(of.handle, a).map(|_| 0).map_err(|x| x.0);
    let covers = is_any(a.ip()) || is_loopback(a.ip());
    if mode() == Loopback::Stack || !covers || !family_fits(of, a) || of.kside.lock().is_some() {
        return stack_bind(a);
    }
    let (kip, dual) = kernel_side_of(of, a.ip());
    // A kernel without IPv6 (disabled, or no ::1 on lo) holds nothing
    // for an AF_INET6 socket's wildcard: our stack alone answers.
    let v6 = of.domain == Domain::Inet6;
    for _ in 0..16 {
        let k = match reserve_one(of, kip, a.port()) {
            Ok(k) => k,
            Err((_, false)) if v6 => return stack_bind(a),
            // No ::1 in the kernel: a dual-stack `[::]` holds 127.0.0.1
            // alone, another wildcard is ours alone; ::1 itself is not
            // there, as Linux says (EADDRNOTAVAIL).
            Err((libc::EADDRNOTAVAIL, true)) if dual => -1,
            Err((libc::EADDRNOTAVAIL, true)) if v6 && is_any(a.ip()) => return stack_bind(a),
            Err((x, _)) => return Err(x),
        };
        let close = |ks: &[i32]| {
            for &k in ks.iter().filter(|&&k| k >= 0) {
                crate::driver::unprotect_and_close(k);
            }
        };
        // The 127.0.0.1 half of a dual-stack `[::]`: on the same port.
        let k4 = if dual {
            let v4 = Ipv4Addr::LOCALHOST.to_ipv6_mapped().into();
            let port = if k >= 0 { kernel_port(k) } else { a.port() };
            match reserve_one(of, v4, port) {
                Ok(k4) => k4,
                Err((libc::EADDRINUSE, _)) if a.port() == 0 => {
                    close(&[k]);
                    continue;
                }
                Err((x, _)) => {
                    close(&[k]);
                    return Err(x);
                }
            }
        } else {
            -1
        };
        let (k, k4) = if k >= 0 { (k, k4) } else { (k4, -1) };
        let port = kernel_port(k);
        match stack_bind(SocketAddr::new(a.ip(), port)) {
            Ok(_) => {
                // Port 0 asked: the port is the socket's by choice of the
                // kernel, so a UDP disconnect releases it (as Linux's).
                if a.port() == 0 && of.ty == SockType::Dgram {
                    let _ = s.stack.setsockopt(
                        s.now(),
                        of.handle,
                        SOL_SOCKSHIM,
                        SOCKSHIM_ANON_PORT,
                        &[],
                    );
                }
                *of.kside.lock() = Some(Box::new(Reservation {
                    fd: k,
                    fd4: k4,
                    listening: false,
                    pending: Default::default(),
                }));
                crate::loopback_svc::hand_to_service(s, of, &[k, k4]);
                // A UDP socket's reservation takes datagrams at once: it
                // joins the epoll sets that hold the socket already.
                if of.ty == SockType::Dgram {
                    for (epfd, fd) in s.epoll.entries_of(of) {
                        epoll_add(epfd, fd, of);
                    }
                }
                return Ok(0);
            }
            Err(libc::EADDRINUSE) if a.port() == 0 => close(&[k, k4]),
            Err(x) => {
                close(&[k, k4]);
                return Err(x);
            }
        }
    }
    Err(libc::EADDRINUSE)
}

/// Where in the kernel a bind of ours to `ip` is reserved: 127.0.0.1 for
/// the IPv4 wildcard, ::1 for `[::]` (and true: with IPV6_V6ONLY off it
/// covers 127.0.0.1 too, as Linux's dual-stack socket does), the
/// v4-mapped 127.0.0.1 for `::ffff:0.0.0.0`, else the address itself.
fn kernel_side_of(of: &OpenFile, ip: IpAddr) -> (IpAddr, bool) {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => (Ipv4Addr::LOCALHOST.into(), false),
        IpAddr::V6(v6) if v6.is_unspecified() => {
            let mut only = [0u8; 4];
            let v6only = ops::getsockopt(of, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &mut only)
                .is_ok_and(|_| i32::from_ne_bytes(only) != 0);
            (Ipv6Addr::LOCALHOST.into(), !v6only)
        }
        IpAddr::V6(_) if is_any(ip) => (Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), false),
        ip => (ip, false),
    }
}

/// One kernel socket of a reservation: made like `of` (its
/// SO_REUSEADDR/SO_REUSEPORT replayed) and bound to `ip`:`port`. The
/// error says whether the socket could be made at all.
fn reserve_one(of: &OpenFile, ip: IpAddr, port: u16) -> Result<i32, (i32, bool)> {
    let k = high_socket(of.domain, of.ty).map_err(|x| (x, false))?;
    for (level, name, val) in of.opts.lock().iter().flat_map(|v| v.iter()) {
        if is_reuse_option(*level, *name) {
            // SAFETY: `val` is a live buffer of its length.
            unsafe {
                (real().setsockopt)(
                    k,
                    *level,
                    *name,
                    val.as_ptr().cast(),
                    val.len() as libc::socklen_t,
                )
            };
        }
    }
    let at = SocketAddr::new(ip, port);
    let mut r = kernel_bind(k, at);
    if r == Err(libc::EADDRINUSE) && port != 0 && crate::loopback_svc::settle() {
        r = kernel_bind(k, at);
    }
    match r {
        Ok(()) => Ok(k),
        Err(x) => {
            crate::driver::unprotect_and_close(k);
            Err((x, true))
        }
    }
}

/// SO_REUSEADDR/SO_REUSEPORT set after the bind count for the kernel's
/// listen-time check too: the reservation follows.
pub fn option_set(of: &OpenFile, level: i32, name: i32, val: &[u8]) {
    if !is_reuse_option(level, name) {
        return;
    }
    crate::loopback_svc::sync_with_service(of);
    for k in of.kside.lock().iter().flat_map(|r| r.kernel_fds()) {
        // SAFETY: `val` is a live buffer of its length.
        unsafe {
            (real().setsockopt)(
                k,
                level,
                name,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        };
    }
}

/// listen(2): a socket with a reservation listens in the kernel too (the
/// shadow listener), first, so the kernel's EADDRINUSE comes before our
/// stack starts listening.
pub fn listen(s: &Shim, of: &OpenFile, backlog: i32) -> R<i32> {
    const TCP_CLOSE: u8 = 7;
    const TCP_LISTEN: u8 = 10;
    crate::loopback_svc::sync_with_service(of);
    let mut g = of.kside.lock();
    if let Some(r) = g.as_mut().filter(|_| of.ty == SockType::Stream) {
        let st = s.stack.sockinfo(of.handle).map(|i| i.tcp_state);
        if matches!(st, Ok(TCP_CLOSE | TCP_LISTEN)) {
            for k in r.kernel_fds() {
                // SAFETY: listen(2) on our reservation.
                if unsafe { (real().listen)(k, backlog) } < 0 {
                    return Err(errno());
                }
            }
            if !r.listening {
                r.listening = true;
                // Epoll sets that hold this socket already: the shadow
                // joins them (ADD made before listen).
                drop(g);
                for (epfd, fd) in s.epoll.entries_of(of) {
                    epoll_add(epfd, fd, of);
                }
            }
        }
    }
    s.stack
        .listen(of.handle, backlog)
        .map(|_| 0)
        .map_err(|x| x.0)
}

/// shutdown(2) with SHUT_RD or SHUT_RDWR stops a listener on Linux
/// (inet_shutdown disconnects it; the port stays bound and it may listen
/// again): the shadow listener stops as well, its queued connections are
/// reset, and it leaves the program's epoll sets. Called before our
/// stack's shutdown.
pub fn shutdown(s: &Shim, of: &OpenFile, how: i32) {
    if (how != libc::SHUT_RD && how != libc::SHUT_RDWR)
        || of.ty != SockType::Stream
        || shadow_fds(of).is_none()
    {
        return;
    }
    for (epfd, _) in s.epoll.entries_of(of) {
        epoll_del(epfd, of);
    }
    let mut g = of.kside.lock();
    let Some(r) = g.as_mut().filter(|r| r.listening) else {
        return;
    };
    for k in r.kernel_fds() {
        // SAFETY: shutdown(2) on our reservation.
        unsafe { (real().shutdown)(k, how) };
    }
    r.listening = false;
    r.reset_pending();
}

/// The last descriptor of `of` is gone: so is its reservation (a shadow
/// listener's queued kernel connections are reset, as Linux's are).
pub fn forget(of: &OpenFile) {
    if let Some(r) = of.kside.lock().take() {
        r.close();
    }
}

/// The kernel sockets that wake a wait on `of`: a shadow listener's, or
/// a bound UDP socket's reservation (udp_shadow.rs). The second is -1
/// but for a dual-stack `[::]` (poll(2) skips a negative fd).
pub fn shadow_fds(of: &OpenFile) -> Option<[i32; 2]> {
    crate::loopback_svc::sync_with_service(of);
    of.kside
        .lock()
        .as_ref()
        .filter(|r| r.listening || of.ty == SockType::Dgram)
        .map(|r| [r.fd, r.fd4])
}

/// The reservation's kernel sockets, whatever `of` does with them (the
/// second -1 but for a dual-stack `[::]`).
pub fn reservation_fds(of: &OpenFile) -> Option<[i32; 2]> {
    crate::loopback_svc::sync_with_service(of);
    of.kside.lock().as_ref().map(|r| [r.fd, r.fd4])
}

/// Has the kernel side of `of`'s shadow listener a connection for accept
/// (of a UDP socket's reservation, a datagram)?
pub fn shadow_ready(of: &OpenFile) -> bool {
    crate::loopback_svc::sync_with_service(of);
    let g = of.kside.lock();
    let Some(r) = g
        .as_ref()
        .filter(|r| r.listening || of.ty == SockType::Dgram)
    else {
        return false;
    };
    if !r.pending.is_empty() {
        return true;
    }
    let mut p = [r.fd, r.fd4].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: two valid pollfds (a negative fd is skipped), zero timeout.
    unsafe { (real().poll)(p.as_mut_ptr(), 2, 0) > 0 }
}

/// EPOLL_CTL_ADD of a shadow listener `fd`: its kernel side joins the
/// kernel epoll set, marked as our own entry for `fd` (epoll.rs), so a
/// kernel-side connection wakes the wait.
pub fn epoll_add(epfd: i32, fd: i32, of: &OpenFile) {
    for k in shadow_fds(of).into_iter().flatten().filter(|&k| k >= 0) {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: crate::epoll::ANCHOR_MARK | fd as u32 as u64,
        };
        // SAFETY: epoll_ctl with a valid event struct.
        unsafe { (real().epoll_ctl)(epfd, libc::EPOLL_CTL_ADD, k, &mut ev) };
    }
}

/// EPOLL_CTL_DEL: the kernel side leaves the set too.
pub fn epoll_del(epfd: i32, of: &OpenFile) {
    for k in shadow_fds(of).into_iter().flatten().filter(|&k| k >= 0) {
        // SAFETY: epoll_ctl DEL needs no event.
        unsafe { (real().epoll_ctl)(epfd, libc::EPOLL_CTL_DEL, k, std::ptr::null_mut()) };
    }
}
