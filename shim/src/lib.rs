//! libsockshim.so: the exported libc symbols. Each export is thin: look the
//! fd up, convert raw pointers to slices, call the safe function in `ops`,
//! set errno once. Anything not ours (other families, files, pipes) goes to
//! the real libc function untouched. No panic crosses `extern "C"`: each
//! body runs under `catch_unwind` and a panic becomes -1/EIO.

pub mod config;
pub mod driver;
pub mod epoll;
pub mod fdtable;
pub mod log;
pub mod ops;
pub mod real;
pub mod stdio;
pub mod sys;
pub mod wait;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libc::{c_int, c_ulong, c_void, size_t, sockaddr, socklen_t, ssize_t};
use stack::SockType;

use crate::driver::shim_if_ready;
use crate::fdtable::OpenFile;
use crate::ops::R;
use crate::real::real;

fn set_errno(e: i32) {
    // SAFETY: errno is thread-local and always valid to write.
    unsafe { *libc::__errno_location() = e };
}

/// Run `f`; map Err(errno) to -1 with errno set, and a panic to -1/EIO.
fn guard<T: From<i8>>(f: impl FnOnce() -> R<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(e);
            T::from(-1)
        }
        Err(_) => {
            log::error("sockshim: internal error (panic) caught at the C boundary; returning EIO");
            set_errno(libc::EIO);
            T::from(-1)
        }
    }
}

fn ours(fd: c_int) -> Option<Arc<OpenFile>> {
    if driver::FORKED.load(Ordering::Relaxed) {
        if driver::shim_any().is_some_and(|s| s.fds.contains(fd)) {
            log::warn_once(
                "sockshim: a forked child used a socket inherited from its parent; sharing \
                 stack sockets across fork() is not supported yet (the call fails)",
            );
        }
        return None;
    }
    shim_if_ready()?.fds.get(fd)
}

/// True when a descriptor-destroying call (close, dup2, close_range) must
/// leave the shim's tables alone: in a vfork child they are the parent's.
fn foreign_process() -> bool {
    shim_if_ready().is_some() && driver::in_vfork_child()
}

/// Copy `a` into a caller's (addr, addrlen) pair, truncating like Linux.
///
/// # Safety
/// `addr` must be valid for `*len` bytes when non-null; `len` valid when non-null.
unsafe fn put_addr(a: std::net::SocketAddrV4, addr: *mut sockaddr, len: *mut socklen_t) -> R<()> {
    if addr.is_null() || len.is_null() {
        return Ok(());
    }
    // SAFETY: caller guarantees len is valid.
    let l = unsafe { *len } as i32;
    if l < 0 {
        return Err(libc::EINVAL);
    }
    let b = ops::sockaddr_bytes(a);
    let n = (l as usize).min(b.len());
    // SAFETY: addr valid for l >= n bytes.
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), addr as *mut u8, n) };
    // SAFETY: len valid.
    unsafe { *len = b.len() as socklen_t };
    Ok(())
}

/// # Safety
/// `addr` valid for `len` bytes when non-null.
unsafe fn addr_slice<'a>(addr: *const sockaddr, len: socklen_t) -> R<&'a [u8]> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    if (len as i32) < 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: caller guarantees addr is valid for len bytes.
    Ok(unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) })
}

/// # Safety
/// `buf` valid for `len` bytes when non-null.
unsafe fn buf_mut<'a>(buf: *mut c_void, len: size_t) -> R<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: caller guarantees buf is valid for len bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, len) })
}

/// # Safety
/// `buf` valid for `len` bytes when non-null.
unsafe fn buf_ref<'a>(buf: *const c_void, len: size_t) -> R<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: caller guarantees buf is valid for len bytes.
    Ok(unsafe { std::slice::from_raw_parts(buf as *const u8, len) })
}

/// # Safety
/// Standard socket(2) contract.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let base = ty & 0xf;
    let flags = ty & !0xf;
    let st = match base {
        libc::SOCK_STREAM if protocol == 0 || protocol == libc::IPPROTO_TCP => {
            Some(SockType::Stream)
        }
        libc::SOCK_DGRAM if protocol == 0 || protocol == libc::IPPROTO_UDP => Some(SockType::Dgram),
        _ => None,
    };
    match st {
        Some(st) if domain == libc::AF_INET && !driver::FORKED.load(Ordering::Relaxed) => {
            if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
                set_errno(libc::EINVAL);
                return -1;
            }
            guard(|| ops::socket(st, flags, protocol))
        }
        // SAFETY: pass-through with the caller's arguments.
        _ => unsafe { (real().socket)(domain, ty, protocol) },
    }
}

/// # Safety
/// Standard socketpair(2) contract.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    if domain == libc::AF_INET {
        set_errno(libc::EOPNOTSUPP);
        return -1;
    }
    // SAFETY: pass-through.
    unsafe { (real().socketpair)(domain, ty, protocol, sv) }
}

/// # Safety
/// Standard bind(2) contract.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    match ours(fd) {
        // SAFETY: addr/len from the caller.
        Some(of) => guard(|| ops::bind(&of, unsafe { addr_slice(addr, len) }?)),
        // SAFETY: pass-through.
        None => unsafe { (real().bind)(fd, addr, len) },
    }
}

/// # Safety
/// Standard listen(2) contract.
#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| ops::listen(&of, backlog)),
        // SAFETY: pass-through.
        None => unsafe { (real().listen)(fd, backlog) },
    }
}

/// # Safety
/// Standard accept4(2) contract.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| {
            let (nfd, peer) = ops::accept(&of, flags)?;
            ops::inherit_timeouts(fd, &of, nfd);
            // SAFETY: addr/len from the caller.
            unsafe { put_addr(peer, addr, len) }?;
            Ok(nfd)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().accept4)(fd, addr, len, flags) },
    }
}

/// # Safety
/// Standard accept(2) contract.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match ours(fd) {
        // SAFETY: same contract as accept4.
        Some(_) => unsafe { accept4(fd, addr, len, 0) },
        // SAFETY: pass-through.
        None => unsafe { (real().accept)(fd, addr, len) },
    }
}

/// # Safety
/// Standard connect(2) contract.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    match ours(fd) {
        // SAFETY: addr/len from the caller.
        Some(of) => guard(|| ops::connect(&of, unsafe { addr_slice(addr, len) }?)),
        // SAFETY: pass-through.
        None => unsafe { (real().connect)(fd, addr, len) },
    }
}

/// # Safety
/// Standard sendto(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: buf/len and addr/alen from the caller.
            let data = unsafe { buf_ref(buf, len) }?;
            let to = if addr.is_null() {
                None
            } else {
                Some(unsafe { addr_slice(addr, alen) }?)
            };
            ops::send(&of, data, flags, to).map(|n| n as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().sendto)(fd, buf, len, flags, addr, alen) },
    }
}

/// # Safety
/// Standard send(2) contract.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) },
        // SAFETY: pass-through.
        None => unsafe { (real().send)(fd, buf, len, flags) },
    }
}

/// # Safety
/// Standard write(2) contract.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe { sendto(fd, buf, len, 0, std::ptr::null(), 0) },
        // SAFETY: pass-through.
        None => unsafe { (real().write)(fd, buf, len) },
    }
}

/// Gather an iovec array.
///
/// # Safety
/// `iov` valid for `n` entries, each valid for its length.
unsafe fn gather(iov: *const libc::iovec, n: c_int) -> R<Vec<u8>> {
    if !(0..=1024).contains(&n) {
        return Err(libc::EINVAL);
    }
    if n > 0 && iov.is_null() {
        return Err(libc::EFAULT);
    }
    let mut v = Vec::new();
    for i in 0..n as usize {
        // SAFETY: iov valid for n entries.
        let io = unsafe { *iov.add(i) };
        // SAFETY: each entry valid for its length.
        v.extend_from_slice(unsafe { buf_ref(io.iov_base, io.iov_len) }?);
    }
    Ok(v)
}

/// Scatter `data` into an iovec array.
///
/// # Safety
/// As `gather`.
unsafe fn scatter(iov: *const libc::iovec, n: c_int, data: &[u8]) -> R<()> {
    let mut off = 0;
    for i in 0..n.max(0) as usize {
        if off >= data.len() {
            break;
        }
        // SAFETY: iov valid for n entries.
        let io = unsafe { *iov.add(i) };
        // SAFETY: each entry valid for its length.
        let dst = unsafe { buf_mut(io.iov_base, io.iov_len) }?;
        let k = dst.len().min(data.len() - off);
        dst[..k].copy_from_slice(&data[off..off + k]);
        off += k;
    }
    Ok(())
}

/// # Safety
/// `iov` valid for `n` entries.
unsafe fn iov_len(iov: *const libc::iovec, n: c_int) -> usize {
    // SAFETY: iov valid for n entries.
    (0..n.max(0) as usize)
        .map(|i| unsafe { (*iov.add(i)).iov_len })
        .sum()
}

/// # Safety
/// Standard writev(2) contract.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: iov from the caller.
            let data = unsafe { gather(iov, n) }?;
            ops::send(&of, &data, 0, None).map(|n| n as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().writev)(fd, iov, n) },
    }
}

/// # Safety
/// Standard sendmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            if msg.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: msg valid per the caller.
            let m = unsafe { &*msg };
            // SAFETY: msg fields valid per the caller.
            let data = unsafe { gather(m.msg_iov, m.msg_iovlen as c_int) }?;
            let to = if m.msg_name.is_null() {
                None
            } else {
                // SAFETY: msg_name valid for msg_namelen.
                Some(unsafe { addr_slice(m.msg_name as *const sockaddr, m.msg_namelen) }?)
            };
            ops::send(&of, &data, flags, to).map(|n| n as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().sendmsg)(fd, msg, flags) },
    }
}

/// # Safety
/// Standard recvfrom(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: buf/len from the caller.
            let b = unsafe { buf_mut(buf, len) }?;
            let (n, full, from) = ops::recv(&of, b, flags)?;
            match from {
                // SAFETY: addr/alen from the caller.
                Some(f) => unsafe { put_addr(f, addr, alen) }?,
                // A stream socket reports no address: addrlen becomes 0.
                // SAFETY: alen valid per the caller when non-null.
                None if !addr.is_null() && !alen.is_null() => unsafe { *alen = 0 },
                None => {}
            }
            let ret = if flags & libc::MSG_TRUNC != 0 && of.ty == SockType::Dgram {
                full
            } else {
                n
            };
            Ok(ret as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().recvfrom)(fd, buf, len, flags, addr, alen) },
    }
}

/// # Safety
/// Standard recv(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe {
            recvfrom(
                fd,
                buf,
                len,
                flags,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        // SAFETY: pass-through.
        None => unsafe { (real().recv)(fd, buf, len, flags) },
    }
}

/// # Safety
/// Standard read(2) contract.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe { recvfrom(fd, buf, len, 0, std::ptr::null_mut(), std::ptr::null_mut()) },
        // SAFETY: pass-through.
        None => unsafe { (real().read)(fd, buf, len) },
    }
}

/// # Safety
/// Standard readv(2) contract.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: iov from the caller.
            let mut tmp = vec![0u8; unsafe { iov_len(iov, n) }];
            let (got, _, _) = ops::recv(&of, &mut tmp, 0)?;
            // SAFETY: iov from the caller.
            unsafe { scatter(iov, n, &tmp[..got]) }?;
            Ok(got as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().readv)(fd, iov, n) },
    }
}

/// # Safety
/// Standard recvmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            if msg.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: msg valid per the caller.
            let m = unsafe { &mut *msg };
            // SAFETY: iov from the caller.
            let mut tmp = vec![0u8; unsafe { iov_len(m.msg_iov, m.msg_iovlen as c_int) }];
            let (got, full, from) = ops::recv(&of, &mut tmp, flags)?;
            // SAFETY: iov from the caller.
            unsafe { scatter(m.msg_iov, m.msg_iovlen as c_int, &tmp[..got]) }?;
            m.msg_flags = if full > got { libc::MSG_TRUNC } else { 0 };
            m.msg_controllen = 0;
            match from {
                Some(f) if !m.msg_name.is_null() => {
                    let mut l = m.msg_namelen;
                    // SAFETY: msg_name valid for msg_namelen.
                    unsafe { put_addr(f, m.msg_name as *mut sockaddr, &mut l) }?;
                    m.msg_namelen = l;
                }
                _ => m.msg_namelen = 0,
            }
            let ret = if flags & libc::MSG_TRUNC != 0 && of.ty == SockType::Dgram {
                full
            } else {
                got
            };
            Ok(ret as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().recvmsg)(fd, msg, flags) },
    }
}

/// # Safety
/// Standard __recv_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as recv.
    unsafe { recv(fd, buf, len, flags) }
}

/// # Safety
/// Standard __recvfrom_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as recvfrom.
    unsafe { recvfrom(fd, buf, len, flags, addr, alen) }
}

/// # Safety
/// Standard __read_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as read.
    unsafe { read(fd, buf, len) }
}

/// # Safety
/// Standard close(2) contract.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if driver::is_protected(fd) {
        return 0;
    }
    if driver::FORKED.load(Ordering::Relaxed) {
        driver::forget_inherited(fd);
    } else if foreign_process() {
        // A vfork child: its close is its own.
    } else if ours(fd).is_some() {
        let _ = catch_unwind(AssertUnwindSafe(|| ops::release(fd)));
    } else if let Some(s) = shim_if_ready() {
        s.epoll.close_epoll(fd);
    }
    // SAFETY: pass-through (closes the anchor, or a kernel fd).
    unsafe { (real().close)(fd) }
}

/// # Safety
/// Standard shutdown(2) contract.
#[no_mangle]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| ops::shutdown(&of, how)),
        // SAFETY: pass-through.
        None => unsafe { (real().shutdown)(fd, how) },
    }
}

/// # Safety
/// Standard setsockopt(2) contract.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    match ours(fd) {
        Some(of) => match ops::timeout_option(level, name) {
            Some(recv) => {
                // SAFETY: pass-through to the anchor (see ops::note_timeout).
                let r = unsafe { (real().setsockopt)(fd, level, name, val, len) };
                if r == 0 {
                    // SAFETY: the kernel just read `len` bytes at `val`.
                    let v = unsafe { buf_ref(val, len as usize) }.unwrap_or(&[]);
                    let _ = catch_unwind(AssertUnwindSafe(|| ops::note_timeout(fd, &of, recv, v)));
                }
                r
            }
            None => guard(|| {
                if (len as i32) < 0 {
                    return Err(libc::EINVAL);
                }
                // SAFETY: val/len from the caller.
                let v = unsafe { buf_ref(val, len as usize) }?;
                ops::setsockopt(&of, level, name, v)
            }),
        },
        // SAFETY: pass-through.
        None => unsafe { (real().setsockopt)(fd, level, name, val, len) },
    }
}

/// # Safety
/// Standard getsockopt(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    match ours(fd) {
        // The anchor holds the socket timeouts (see ops::note_timeout).
        Some(_) if ops::timeout_option(level, name).is_some() => {
            // SAFETY: pass-through to the anchor.
            unsafe { (real().getsockopt)(fd, level, name, val, len) }
        }
        Some(of) => guard(|| {
            if len.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: len valid per the caller.
            let l = unsafe { *len } as i32;
            if l < 0 {
                return Err(libc::EINVAL);
            }
            // SAFETY: val valid for l bytes.
            let out = unsafe { buf_mut(val, l as usize) }?;
            let n = ops::getsockopt(&of, level, name, out)?;
            // SAFETY: len valid.
            unsafe { *len = n as socklen_t };
            Ok(0)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().getsockopt)(fd, level, name, val, len) },
    }
}

/// # Safety
/// Standard getsockname(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| {
            let a = ops::getsockname(&of)?;
            // SAFETY: addr/len from the caller.
            unsafe { put_addr(a, addr, len) }.map(|_| 0)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().getsockname)(fd, addr, len) },
    }
}

/// # Safety
/// Standard getpeername(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| {
            let a = ops::getpeername(&of)?;
            // SAFETY: addr/len from the caller.
            unsafe { put_addr(a, addr, len) }.map(|_| 0)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().getpeername)(fd, addr, len) },
    }
}

/// After the kernel duplicated a stack socket's anchor `old` onto `new`.
fn adopt_dup(of: &Arc<OpenFile>, new: c_int) {
    if let Some(s) = shim_if_ready() {
        if s.stack.sodup(of.handle).is_ok() {
            s.fds.insert(new, of.clone());
        }
    }
}

/// fcntl with the variadic argument read as one machine word (how the
/// x86_64 and aarch64 Linux ABIs pass it for every fcntl command).
///
/// # Safety
/// Standard fcntl(2) contract.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    let Some(of) = ours(fd) else {
        // SAFETY: pass-through.
        return unsafe { (real().fcntl)(fd, cmd, arg) };
    };
    match cmd {
        libc::F_GETFL => {
            // SAFETY: fcntl on the anchor.
            let fl = unsafe { (real().fcntl)(fd, cmd, arg) };
            if fl < 0 {
                return fl;
            }
            (fl & !libc::O_NONBLOCK)
                | if of.is_nonblock() {
                    libc::O_NONBLOCK
                } else {
                    0
                }
        }
        libc::F_SETFL => {
            of.nonblock
                .store(arg as c_int & libc::O_NONBLOCK != 0, Ordering::Relaxed);
            0
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: duplicating the anchor.
            let nfd = unsafe { (real().fcntl)(fd, cmd, arg) };
            if nfd >= 0 {
                adopt_dup(&of, nfd);
            }
            nfd
        }
        // SAFETY: other commands act on the anchor (FD_CLOEXEC etc.).
        _ => unsafe { (real().fcntl)(fd, cmd, arg) },
    }
}

/// # Safety
/// Standard fcntl(2) contract.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: same contract.
    unsafe { fcntl(fd, cmd, arg) }
}

const TIOCOUTQ: c_ulong = 0x5411;

/// ioctl with the variadic argument read as one machine word.
///
/// # Safety
/// Standard ioctl(2) contract.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: c_ulong) -> c_int {
    let Some(of) = ours(fd) else {
        // SAFETY: pass-through.
        return unsafe { (real().ioctl)(fd, req, arg) };
    };
    guard(|| {
        let p = arg as *mut c_int;
        if p.is_null() {
            return Err(libc::EFAULT);
        }
        match req {
            libc::FIONBIO => {
                // SAFETY: FIONBIO takes an int*.
                of.nonblock.store(unsafe { *p } != 0, Ordering::Relaxed);
            }
            libc::FIONREAD => {
                let i = ops::sockinfo(&of)?;
                // SAFETY: FIONREAD takes an int*.
                unsafe { *p = i.rcv_cc as c_int };
            }
            TIOCOUTQ => {
                let i = ops::sockinfo(&of)?;
                // SAFETY: SIOCOUTQ takes an int*.
                unsafe { *p = i.snd_cc as c_int };
            }
            _ => return Err(libc::ENOTTY),
        }
        Ok(0)
    })
}

/// # Safety
/// Standard dup(2) contract.
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: pass-through (duplicates the anchor for a stack socket).
    let nfd = unsafe { (real().dup)(fd) };
    if nfd >= 0 {
        if let Some(of) = ours(fd) {
            adopt_dup(&of, nfd);
        }
    }
    nfd
}

/// # Safety
/// Standard dup3(2) contract.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if driver::is_protected(new) {
        set_errno(libc::EBADF);
        return -1;
    }
    if driver::FORKED.load(Ordering::Relaxed) || foreign_process() {
        // A forked or vfork child: its descriptors are its own; the
        // parent's tables are left alone.
        // SAFETY: pass-through.
        let r = unsafe { (real().dup3)(old, new, flags) };
        if r >= 0 && driver::FORKED.load(Ordering::Relaxed) {
            driver::forget_inherited(new);
        }
        return r;
    }
    let src = ours(old);
    // SAFETY: pass-through.
    let r = unsafe { (real().dup3)(old, new, flags) };
    if r >= 0 && old != new {
        if ours(new).is_some() {
            let _ = catch_unwind(AssertUnwindSafe(|| ops::release(new)));
        }
        if let Some(of) = src {
            adopt_dup(&of, new);
        }
    }
    r
}

/// # Safety
/// Standard dup2(2) contract.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if driver::is_protected(new) {
        set_errno(libc::EBADF);
        return -1;
    }
    if driver::FORKED.load(Ordering::Relaxed) || foreign_process() {
        // As in dup3: a child's descriptors are its own.
        // SAFETY: pass-through.
        let r = unsafe { (real().dup2)(old, new) };
        if r >= 0 && old != new && driver::FORKED.load(Ordering::Relaxed) {
            driver::forget_inherited(new);
        }
        return r;
    }
    let src = ours(old);
    // SAFETY: pass-through.
    let r = unsafe { (real().dup2)(old, new) };
    if r >= 0 && old != new {
        if ours(new).is_some() {
            let _ = catch_unwind(AssertUnwindSafe(|| ops::release(new)));
        }
        if let Some(of) = src {
            adopt_dup(&of, new);
        }
    }
    r
}

fn any_ours(fds: &[libc::pollfd]) -> bool {
    shim_if_ready().is_some_and(|s| {
        !driver::FORKED.load(Ordering::Relaxed) && fds.iter().any(|p| s.fds.contains(p.fd))
    })
}

/// # Safety
/// Standard poll(2) contract.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout: c_int) -> c_int {
    let slice: &mut [libc::pollfd] = if fds.is_null() || n == 0 {
        &mut []
    } else {
        // SAFETY: fds valid for n entries per the caller.
        unsafe { std::slice::from_raw_parts_mut(fds, n as usize) }
    };
    if !any_ours(slice) {
        // SAFETY: pass-through.
        return unsafe { (real().poll)(fds, n, timeout) };
    }
    guard(|| ops::poll(slice, timeout))
}

/// # Safety
/// Standard __poll_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut libc::pollfd,
    n: libc::nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    if (fdslen / std::mem::size_of::<libc::pollfd>()) < n as usize {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as poll.
    unsafe { poll(fds, n, timeout) }
}

/// # Safety
/// Standard ppoll(2) contract. The signal mask is applied around the wait.
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut libc::pollfd,
    n: libc::nfds_t,
    ts: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let slice: &mut [libc::pollfd] = if fds.is_null() || n == 0 {
        &mut []
    } else {
        // SAFETY: fds valid for n entries per the caller.
        unsafe { std::slice::from_raw_parts_mut(fds, n as usize) }
    };
    if !any_ours(slice) {
        // SAFETY: pass-through.
        return unsafe { (real().ppoll)(fds, n, ts, sigmask) };
    }
    let timeout = if ts.is_null() {
        -1
    } else {
        // SAFETY: ts valid per the caller.
        let t = unsafe { *ts };
        (t.tv_sec.saturating_mul(1000) + ((t.tv_nsec + 999_999) / 1_000_000)).min(i32::MAX as i64)
            as c_int
    };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    if !sigmask.is_null() {
        // SAFETY: valid sigset pointers.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, sigmask, &mut old) };
    }
    let r = guard(|| ops::poll(slice, timeout));
    if !sigmask.is_null() {
        // SAFETY: restoring the saved mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    r
}

/// select(2) through the poll emulation when a stack socket is in a set.
///
/// # Safety
/// Standard select(2) contract.
#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    rd: *mut libc::fd_set,
    wr: *mut libc::fd_set,
    ex: *mut libc::fd_set,
    tv: *mut libc::timeval,
) -> c_int {
    let Some(s) = shim_if_ready() else {
        // SAFETY: pass-through.
        return unsafe { (real().select)(nfds, rd, wr, ex, tv) };
    };
    let isset = |set: *mut libc::fd_set, fd: c_int| {
        // SAFETY: set valid per the caller when non-null.
        !set.is_null() && unsafe { libc::FD_ISSET(fd, set) }
    };
    let mine = (0..nfds.clamp(0, libc::FD_SETSIZE as c_int))
        .any(|fd| (isset(rd, fd) || isset(wr, fd) || isset(ex, fd)) && s.fds.contains(fd));
    if !mine {
        // SAFETY: pass-through.
        return unsafe { (real().select)(nfds, rd, wr, ex, tv) };
    }
    let mut pfds = Vec::new();
    for fd in 0..nfds.clamp(0, libc::FD_SETSIZE as c_int) {
        let mut ev = 0;
        if isset(rd, fd) {
            ev |= libc::POLLIN;
        }
        if isset(wr, fd) {
            ev |= libc::POLLOUT;
        }
        if isset(ex, fd) {
            ev |= libc::POLLPRI;
        }
        if ev != 0 {
            pfds.push(libc::pollfd {
                fd,
                events: ev,
                revents: 0,
            });
        }
    }
    let timeout = if tv.is_null() {
        -1
    } else {
        // SAFETY: tv valid per the caller.
        let t = unsafe { *tv };
        if t.tv_sec < 0 || t.tv_usec < 0 {
            set_errno(libc::EINVAL);
            return -1;
        }
        (t.tv_sec.saturating_mul(1000) + ((t.tv_usec + 999) / 1000)).min(i32::MAX as i64) as c_int
    };
    let r = guard(|| ops::poll(&mut pfds, timeout));
    if r < 0 {
        return r;
    }
    for set in [rd, wr, ex] {
        if !set.is_null() {
            // SAFETY: set valid per the caller.
            unsafe { libc::FD_ZERO(set) };
        }
    }
    let mut count = 0;
    for p in &pfds {
        if p.revents & libc::POLLNVAL != 0 {
            set_errno(libc::EBADF);
            return -1;
        }
        let r_ok = p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
            && p.events & libc::POLLIN != 0;
        let w_ok =
            p.revents & (libc::POLLOUT | libc::POLLERR) != 0 && p.events & libc::POLLOUT != 0;
        let e_ok = p.revents & libc::POLLPRI != 0 && p.events & libc::POLLPRI != 0;
        for (ok, set) in [(r_ok, rd), (w_ok, wr), (e_ok, ex)] {
            if ok {
                // SAFETY: set valid per the caller.
                unsafe { libc::FD_SET(p.fd, set) };
                count += 1;
            }
        }
    }
    count
}

/// # Safety
/// Standard pselect(2) contract.
#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    rd: *mut libc::fd_set,
    wr: *mut libc::fd_set,
    ex: *mut libc::fd_set,
    ts: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if shim_if_ready().is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().pselect)(nfds, rd, wr, ex, ts, sigmask) };
    }
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let tvp = if ts.is_null() {
        std::ptr::null_mut()
    } else {
        // SAFETY: ts valid per the caller.
        let t = unsafe { *ts };
        tv.tv_sec = t.tv_sec;
        tv.tv_usec = t.tv_nsec / 1000;
        &mut tv as *mut libc::timeval
    };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    if !sigmask.is_null() {
        // SAFETY: valid sigset pointers.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, sigmask, &mut old) };
    }
    // SAFETY: same contract as select.
    let r = unsafe { select(nfds, rd, wr, ex, tvp) };
    if !sigmask.is_null() {
        // SAFETY: restoring the saved mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    r
}

/// sendfile(2) from a kernel file to a stack socket: read the file here
/// and send through the stack (offset semantics as the kernel's).
///
/// # Safety
/// Standard sendfile(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off_t,
    count: size_t,
) -> ssize_t {
    let Some(of) = ours(out_fd) else {
        // SAFETY: pass-through.
        return unsafe { (real().sendfile)(out_fd, in_fd, offset, count) };
    };
    guard(|| {
        let mut buf = vec![0u8; count.min(1 << 20)];
        // SAFETY: offset valid per the caller when non-null.
        let start = if offset.is_null() {
            None
        } else {
            Some(unsafe { *offset })
        };
        let n = match start {
            // SAFETY: reading into our buffer.
            Some(off) => unsafe {
                libc::pread(in_fd, buf.as_mut_ptr() as *mut c_void, buf.len(), off)
            },
            // SAFETY: reading into our buffer (read of a kernel fd passes through).
            None => unsafe { (real().read)(in_fd, buf.as_mut_ptr() as *mut c_void, buf.len()) },
        };
        if n < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
        let sent = ops::send(&of, &buf[..n as usize], 0, None)?;
        match start {
            // SAFETY: offset valid per the caller.
            Some(off) => unsafe { *offset = off + sent as libc::off_t },
            None if sent < n as usize => {
                // Give back what was read but not sent.
                // SAFETY: lseek on the caller's file.
                unsafe {
                    libc::lseek(
                        in_fd,
                        sent as libc::off_t - n as libc::off_t,
                        libc::SEEK_CUR,
                    )
                };
            }
            None => {}
        }
        Ok(sent as ssize_t)
    })
}

/// # Safety
/// Standard sendfile64 contract.
#[no_mangle]
pub unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off64_t,
    count: size_t,
) -> ssize_t {
    if ours(out_fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().sendfile64)(out_fd, in_fd, offset, count) };
    }
    // SAFETY: off_t and off64_t are the same type on 64-bit Linux.
    unsafe { sendfile(out_fd, in_fd, offset as *mut libc::off_t, count) }
}

/// # Safety
/// Standard sendmmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
) -> c_int {
    if ours(fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().sendmmsg)(fd, msgs, n, flags) };
    }
    let mut done = 0;
    while done < n.min(1024) {
        // SAFETY: msgs valid for n entries per the caller.
        let m = unsafe { &mut *msgs.add(done as usize) };
        // SAFETY: same contract as sendmsg.
        let r = unsafe { sendmsg(fd, &m.msg_hdr, flags) };
        if r < 0 {
            return if done > 0 { done as c_int } else { -1 };
        }
        m.msg_len = r as libc::c_uint;
        done += 1;
    }
    done as c_int
}

/// # Safety
/// Standard recvmmsg(2) contract (the timeout is checked between messages,
/// as Linux does).
#[no_mangle]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
    timeout: *mut libc::timespec,
) -> c_int {
    if ours(fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().recvmmsg)(fd, msgs, n, flags, timeout) };
    }
    let mut done = 0;
    let mut fl = flags & !libc::MSG_WAITFORONE;
    while done < n.min(1024) {
        // SAFETY: msgs valid for n entries per the caller.
        let m = unsafe { &mut *msgs.add(done as usize) };
        // SAFETY: same contract as recvmsg.
        let r = unsafe { recvmsg(fd, &mut m.msg_hdr, fl) };
        if r < 0 {
            return if done > 0 { done as c_int } else { -1 };
        }
        m.msg_len = r as libc::c_uint;
        done += 1;
        if flags & libc::MSG_WAITFORONE != 0 {
            fl |= libc::MSG_DONTWAIT;
        }
    }
    done as c_int
}

/// close_range(2): stack sockets in the range are released; the shim's own
/// fds are skipped (the program's close "succeeds", ours stay open).
///
/// # Safety
/// Standard close_range(2) contract.
#[no_mangle]
pub unsafe extern "C" fn close_range(
    first: libc::c_uint,
    last: libc::c_uint,
    flags: c_int,
) -> c_int {
    if first > last {
        set_errno(libc::EINVAL);
        return -1;
    }
    let cloexec_only = flags & libc::CLOSE_RANGE_CLOEXEC as c_int != 0;
    if !cloexec_only && driver::FORKED.load(Ordering::Relaxed) {
        let top = last.min(65535) as c_int;
        for fd in first as c_int..=top {
            driver::forget_inherited(fd);
        }
    } else if !cloexec_only && !foreign_process() {
        if let Some(s) = shim_if_ready() {
            let top = last.min(65535) as c_int;
            for fd in first as c_int..=top {
                if s.fds.contains(fd) {
                    let _ = catch_unwind(AssertUnwindSafe(|| ops::release(fd)));
                }
            }
        }
    }
    // Close the range around our protected fds.
    let mut lo = first;
    for p in driver::protected_fds() {
        let p = p as libc::c_uint;
        if p < lo || p > last {
            continue;
        }
        if p > lo {
            // SAFETY: pass-through on a sub-range.
            let r = unsafe { (real().close_range)(lo, p - 1, flags) };
            if r < 0 {
                return r;
            }
        }
        lo = p + 1;
    }
    if lo <= last {
        // SAFETY: pass-through on the remaining range.
        return unsafe { (real().close_range)(lo, last, flags) };
    }
    0
}

/// closefrom(3): glibc implements it with an internal close_range call that
/// our close_range never sees, which would close the shim's own fds (TUN
/// device, eventfds) and leak stack sockets; route it through ours.
///
/// # Safety
/// Standard closefrom(3) contract.
#[no_mangle]
pub unsafe extern "C" fn closefrom(lowfd: c_int) {
    // SAFETY: same contract as close_range over [lowfd, max].
    unsafe { close_range(lowfd.max(0) as libc::c_uint, libc::c_uint::MAX, 0) };
}

/// # Safety
/// Standard epoll_ctl(2) contract.
#[no_mangle]
pub unsafe extern "C" fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    ev: *mut libc::epoll_event,
) -> c_int {
    match (ours(fd), shim_if_ready()) {
        (Some(of), Some(s)) => guard(|| {
            // SAFETY: ev valid per the caller when non-null.
            let e = if ev.is_null() {
                None
            } else {
                Some(unsafe { *ev })
            };
            s.epoll.ctl(s, epfd, op, fd, of, e).map(|_| 0)
        }),
        // SAFETY: pass-through.
        _ => unsafe { (real().epoll_ctl)(epfd, op, fd, ev) },
    }
}

/// # Safety
/// Standard epoll_wait(2) contract.
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: same contract.
    unsafe { epoll_pwait(epfd, events, max, timeout, std::ptr::null()) }
}

/// # Safety
/// Standard epoll_pwait(2) contract.
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let set = shim_if_ready().and_then(|s| s.epoll.get(epfd).map(|set| (s, set)));
    let Some((s, set)) = set else {
        // SAFETY: pass-through.
        return unsafe { (real().epoll_pwait)(epfd, events, max, timeout, sigmask) };
    };
    if max <= 0 || events.is_null() {
        set_errno(if max <= 0 { libc::EINVAL } else { libc::EFAULT });
        return -1;
    }
    // SAFETY: events valid for max entries per the caller.
    let out = unsafe { std::slice::from_raw_parts_mut(events, max as usize) };
    // SAFETY: an all-zero sigset_t is a valid value to be overwritten.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    if !sigmask.is_null() {
        // SAFETY: valid sigset pointers.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, sigmask, &mut old) };
    }
    let r = guard(|| {
        s.epoll
            .wait(s, epfd, &set, out, timeout)
            .map(|n| n as c_int)
    });
    if !sigmask.is_null() {
        // SAFETY: restoring the saved mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    r
}

/// # Safety
/// Standard epoll_pwait2(2) contract.
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait2(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    ts: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if shim_if_ready().and_then(|s| s.epoll.get(epfd)).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().epoll_pwait2)(epfd, events, max, ts, sigmask) };
    }
    let timeout = if ts.is_null() {
        -1
    } else {
        // SAFETY: ts valid per the caller.
        let t = unsafe { *ts };
        (t.tv_sec.saturating_mul(1000) + (t.tv_nsec + 999_999) / 1_000_000).min(i32::MAX as i64)
            as c_int
    };
    // SAFETY: same contract.
    unsafe { epoll_pwait(epfd, events, max, timeout, sigmask) }
}

/// fdopen(3): a stack socket gets a cookie stream (see `stdio`).
///
/// # Safety
/// Standard fdopen(3) contract.
#[no_mangle]
pub unsafe extern "C" fn fdopen(fd: c_int, mode: *const libc::c_char) -> *mut libc::FILE {
    match ours(fd) {
        // SAFETY: mode per fdopen's contract.
        Some(of) => unsafe { stdio::fdopen_socket(fd, of, mode) },
        // SAFETY: pass-through.
        None => unsafe { (real().fdopen)(fd, mode) },
    }
}
