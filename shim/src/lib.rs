//! libsockshim.so: the exported libc symbols. Each export is thin: look the
//! fd up, check and copy user memory as Linux does (EFAULT, not a crash:
//! see `uaccess`), call the safe function in `ops`, set errno once. Anything not ours (other families, files, pipes) goes to
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
pub mod uaccess;
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
use crate::uaccess::{MAX_RW_COUNT, UIO_MAXIOV};

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

/// Linux `move_addr_to_user`: copy the address `a` (none: a zero-length
/// address, as TCP's recvfrom reports) into the caller's (addr, addrlen)
/// pair, truncated to *addrlen; *addrlen becomes the full length.
fn put_addr(a: Option<std::net::SocketAddrV4>, addr: *mut sockaddr, len: *mut socklen_t) -> R<()> {
    // SAFETY: socklen_t accepts any bit pattern.
    let l = unsafe { uaccess::read_val(len) }? as i32;
    if l < 0 {
        return Err(libc::EINVAL);
    }
    let b = a.map(ops::sockaddr_bytes);
    let kaddr: &[u8] = b.as_ref().map_or(&[], |b| &b[..]);
    let klen = kaddr.len() as socklen_t;
    let n = (l as usize).min(kaddr.len());
    // SAFETY: socklen_t has no padding.
    let klen_bytes = unsafe { uaccess::bytes_of(&klen) };
    uaccess::copy_out(&[(addr as usize, &kaddr[..n]), (len as usize, klen_bytes)])
}

/// Longest option value the shim copies (longer ones are truncated; no
/// TCP, UDP or IP option is near it).
const MAX_OPTLEN: usize = 1024;

/// Size of `struct sockaddr_storage`: the longest address Linux accepts.
const SOCKADDR_STORAGE: usize = 128;

/// A socket address copied in from the caller.
struct UserAddr {
    buf: [u8; SOCKADDR_STORAGE],
    len: usize,
}

impl UserAddr {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Linux `move_addr_to_kernel`: EINVAL for a negative or oversized
/// length, EFAULT for unreadable memory; a zero length reads nothing.
fn addr_in(addr: *const sockaddr, len: socklen_t) -> R<UserAddr> {
    let l = len as i32;
    if l < 0 || l as usize > SOCKADDR_STORAGE {
        return Err(libc::EINVAL);
    }
    let mut a = UserAddr {
        buf: [0; SOCKADDR_STORAGE],
        len: l as usize,
    };
    uaccess::copy_in(addr as usize, &mut a.buf[..l as usize])?;
    Ok(a)
}

/// The caller's data buffer for the stack to write into, once probed.
/// Err(EFAULT) when part of it is not mapped (the caller then asks the
/// protocol what Linux would answer before copying: `ops::recv_fault`).
///
/// # Safety
/// The memory, once probed, must stay mapped and unaliased during the call
/// (the C contract of every call taking a buffer).
unsafe fn buf_mut<'a>(buf: *mut c_void, len: size_t) -> R<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    uaccess::readable(&[(buf as usize, len)])?;
    // SAFETY: probed readable just now; writable per the caller's contract
    // (a read-only buffer is the documented gap of the probe).
    Ok(unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, len) })
}

/// The caller's data buffer for the stack to read, once probed.
///
/// # Safety
/// As `buf_mut`.
unsafe fn buf_ref<'a>(buf: *const c_void, len: size_t) -> R<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    uaccess::readable(&[(buf as usize, len)])?;
    // SAFETY: probed readable just now.
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
        Some(of) => guard(|| ops::bind(&of, addr_in(addr, len)?.bytes())),
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
            if !addr.is_null() {
                if let Err(e) = put_addr(Some(peer), addr, len) {
                    // Linux drops the new connection when the address
                    // cannot be stored.
                    ops::release(nfd);
                    // SAFETY: closing the anchor we just created.
                    unsafe { (real().close)(nfd) };
                    return Err(e);
                }
            }
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
        Some(of) => guard(|| ops::connect(&of, addr_in(addr, len)?.bytes())),
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
            let len = len.min(MAX_RW_COUNT);
            if !uaccess::access_ok(buf as usize, len) {
                return Err(libc::EFAULT);
            }
            let to = if addr.is_null() {
                None
            } else {
                Some(addr_in(addr, alen)?)
            };
            let to = to.as_ref().map(UserAddr::bytes);
            // SAFETY: buf/len from the caller.
            match unsafe { buf_ref(buf, len) } {
                Ok(data) => ops::send(&of, data, flags, to).map(|n| n as ssize_t),
                Err(_) => Err(ops::send_fault(&of, flags, to)),
            }
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

/// Linux `import_iovec` after the count check: the caller's iovec array
/// (EFAULT if unreadable), EINVAL for a negative length, the total
/// truncated to MAX_RW_COUNT.
fn iovecs_in(iov: *const libc::iovec, n: usize) -> R<Vec<libc::iovec>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: iovec (pointer, length) accepts any bit pattern.
    let mut v = unsafe { uaccess::read_array(iov, n) }?;
    let mut total = 0usize;
    for e in &mut v {
        if e.iov_len > isize::MAX as usize {
            return Err(libc::EINVAL);
        }
        e.iov_len = e.iov_len.min(MAX_RW_COUNT - total);
        total += e.iov_len;
    }
    Ok(v)
}

fn iov_total(iovs: &[libc::iovec]) -> usize {
    iovs.iter().map(|v| v.iov_len).sum()
}

/// Linux `__copy_msghdr` + `import_iovec` for sendmsg (`send`: the
/// destination is copied in) and recvmsg.
fn msghdr_in(m: &libc::msghdr, send: bool) -> R<(Option<UserAddr>, Vec<libc::iovec>)> {
    let namelen = if m.msg_name.is_null() {
        0
    } else {
        m.msg_namelen as i32
    };
    if namelen < 0 {
        return Err(libc::EINVAL);
    }
    let namelen = (namelen as usize).min(SOCKADDR_STORAGE) as socklen_t;
    let name = if send && namelen > 0 {
        Some(addr_in(m.msg_name as *const sockaddr, namelen)?)
    } else {
        None
    };
    if m.msg_iovlen > UIO_MAXIOV {
        return Err(libc::EMSGSIZE);
    }
    Ok((name, iovecs_in(m.msg_iov, m.msg_iovlen)?))
}

/// readv/writev's count check (Linux: EINVAL beyond UIO_MAXIOV).
fn iovcnt(n: c_int) -> R<usize> {
    if (0..=UIO_MAXIOV as c_int).contains(&n) {
        Ok(n as usize)
    } else {
        Err(libc::EINVAL)
    }
}

/// Send the data of user iovecs (gathered; EFAULT as Linux orders it).
fn send_iovecs(of: &OpenFile, iovs: &[libc::iovec], flags: c_int, to: Option<&[u8]>) -> R<ssize_t> {
    match uaccess::gather(iovs) {
        Ok(data) => ops::send(of, &data, flags, to).map(|n| n as ssize_t),
        Err(_) => Err(ops::send_fault(of, flags, to)),
    }
}

/// Receive into user iovecs: probed first (a fault must not consume
/// data), then received into a shim buffer. Returns (bytes, full length,
/// sender, the data): the caller scatters it with its other outputs.
fn recv_iovecs(
    of: &OpenFile,
    iovs: &[libc::iovec],
    flags: c_int,
) -> R<(usize, usize, Option<std::net::SocketAddrV4>, Vec<u8>)> {
    let regions: Vec<(usize, usize)> = iovs
        .iter()
        .map(|v| (v.iov_base as usize, v.iov_len))
        .collect();
    if uaccess::readable(&regions).is_err() {
        let (n, full, from) = ops::recv_fault(of, flags)?;
        return Ok((n, full, from, Vec::new()));
    }
    let mut tmp = vec![0u8; iov_total(iovs)];
    let (got, full, from) = ops::recv(of, &mut tmp, flags)?;
    tmp.truncate(got);
    Ok((got, full, from, tmp))
}

/// # Safety
/// Standard writev(2) contract.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            let iovs = iovecs_in(iov, iovcnt(n)?)?;
            if iov_total(&iovs) == 0 {
                return Ok(0); // vfs_writev: nothing to write, no protocol call
            }
            send_iovecs(&of, &iovs, 0, None)
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
            // SAFETY: msghdr accepts any bit pattern.
            let m = unsafe { uaccess::read_val(msg) }?;
            let (name, iovs) = msghdr_in(&m, true)?;
            send_iovecs(&of, &iovs, flags, name.as_ref().map(UserAddr::bytes))
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
            let len = len.min(MAX_RW_COUNT);
            if !uaccess::access_ok(buf as usize, len) {
                return Err(libc::EFAULT);
            }
            // SAFETY: buf/len from the caller.
            let (n, full, from) = match unsafe { buf_mut(buf, len) } {
                Ok(b) => ops::recv(&of, b, flags)?,
                Err(_) => ops::recv_fault(&of, flags)?,
            };
            if !addr.is_null() {
                put_addr(from, addr, alen)?;
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
        // sock_read_iter: a zero-length read returns 0 without the protocol.
        Some(_) if len == 0 => 0,
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
            let iovs = iovecs_in(iov, iovcnt(n)?)?;
            if iov_total(&iovs) == 0 {
                return Ok(0); // vfs_readv: nothing to read, no protocol call
            }
            let (got, _, _, data) = recv_iovecs(&of, &iovs, 0)?;
            uaccess::scatter(&iovs, &data)?;
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
            // SAFETY: msghdr accepts any bit pattern.
            let m = unsafe { uaccess::read_val(msg) }?;
            let (_, iovs) = msghdr_in(&m, false)?;
            let (got, full, from, data) = recv_iovecs(&of, &iovs, flags)?;
            // Outputs in Linux's order, in one copy: the data, the sender
            // (move_addr_to_user, only with a msg_name), msg_flags and
            // msg_controllen (no control data is produced).
            let mut parts: Vec<(usize, &[u8])> = Vec::new();
            let mut off = 0;
            for v in &iovs {
                let k = v.iov_len.min(data.len() - off);
                if k > 0 {
                    parts.push((v.iov_base as usize, &data[off..off + k]));
                }
                off += k;
            }
            let name = from.map(ops::sockaddr_bytes);
            let kaddr: &[u8] = name.as_ref().map_or(&[], |b| &b[..]);
            let klen = kaddr.len() as socklen_t;
            let mflags: c_int = if full > got { libc::MSG_TRUNC } else { 0 };
            let controllen: size_t = 0;
            let at = |off: usize| msg as usize + off;
            if !m.msg_name.is_null() {
                let n = (m.msg_namelen as usize).min(kaddr.len());
                parts.push((m.msg_name as usize, &kaddr[..n]));
                // SAFETY: socklen_t has no padding.
                let b = unsafe { uaccess::bytes_of(&klen) };
                parts.push((at(std::mem::offset_of!(libc::msghdr, msg_namelen)), b));
            }
            // SAFETY: c_int and size_t have no padding.
            let (fb, cb) = unsafe { (uaccess::bytes_of(&mflags), uaccess::bytes_of(&controllen)) };
            parts.push((at(std::mem::offset_of!(libc::msghdr, msg_flags)), fb));
            parts.push((at(std::mem::offset_of!(libc::msghdr, msg_controllen)), cb));
            uaccess::copy_out(&parts)?;
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
                    // The kernel just read a struct timeval at `val`.
                    let mut tv = [0u8; 16];
                    let n = (len as usize).min(tv.len());
                    let v = match uaccess::copy_in(val as usize, &mut tv[..n]) {
                        Ok(()) => &tv[..n],
                        Err(_) => &[],
                    };
                    let _ = catch_unwind(AssertUnwindSafe(|| ops::note_timeout(fd, &of, recv, v)));
                }
                r
            }
            None => guard(|| {
                if (len as i32) < 0 {
                    return Err(libc::EINVAL);
                }
                let mut v = vec![0u8; (len as usize).min(MAX_OPTLEN)];
                uaccess::copy_in(val as usize, &mut v)?;
                ops::setsockopt(&of, level, name, &v)
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
            // SAFETY: socklen_t accepts any bit pattern.
            let l = unsafe { uaccess::read_val(len) }? as i32;
            if l < 0 {
                return Err(libc::EINVAL);
            }
            let mut out = vec![0u8; (l as usize).min(MAX_OPTLEN)];
            let n = ops::getsockopt(&of, level, name, &mut out)?;
            let n_len = n as socklen_t;
            // SAFETY: socklen_t has no padding.
            let lb = unsafe { uaccess::bytes_of(&n_len) };
            uaccess::copy_out(&[(val as usize, &out[..n]), (len as usize, lb)])?;
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
            put_addr(Some(a), addr, len).map(|_| 0)
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
            put_addr(Some(a), addr, len).map(|_| 0)
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
            // The anchor's open file keeps the other flags (O_APPEND,
            // O_ASYNC...) as Linux's does; O_NONBLOCK is the shim's.
            // SAFETY: fcntl on the anchor.
            let r = unsafe { (real().fcntl)(fd, cmd, arg & !(libc::O_NONBLOCK as c_ulong)) };
            if r == 0 {
                of.nonblock
                    .store(arg as c_int & libc::O_NONBLOCK != 0, Ordering::Relaxed);
            }
            r
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
        let put = |v: usize| {
            let v = v as c_int;
            // SAFETY: c_int has no padding.
            uaccess::copy_out(&[(p as usize, unsafe { uaccess::bytes_of(&v) })])
        };
        match req {
            libc::FIONBIO => {
                // SAFETY: c_int accepts any bit pattern.
                let v = unsafe { uaccess::read_val(p) }?;
                of.nonblock.store(v != 0, Ordering::Relaxed);
            }
            libc::FIONREAD | TIOCOUTQ => {
                let i = ops::sockinfo(&of)?;
                if i.listening {
                    return Err(libc::EINVAL); // tcp_ioctl: not on a listener
                }
                put(if req == libc::FIONREAD {
                    i.rcv_cc
                } else {
                    i.snd_cc
                })?;
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

/// The pollfd array of a poll(2) that involves a stack socket, copied in.
/// None when the kernel should see the call as it is: no stack socket in
/// it, or arguments the kernel rejects itself (more entries than
/// RLIMIT_NOFILE: EINVAL; an unreadable array: EFAULT). The limit is only
/// looked up for more than 64 entries (one syscall less on the usual path).
fn poll_args(fds: *const libc::pollfd, n: libc::nfds_t) -> Option<Vec<libc::pollfd>> {
    let s = shim_if_ready()?;
    if n == 0 || s.fds.is_empty() {
        return None;
    }
    if n > 64 {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one struct rlimit that we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0
            || n > rl.rlim_cur
            || n > 1 << 20
        {
            return None;
        }
    }
    // SAFETY: pollfd accepts any bit pattern.
    let v = unsafe { uaccess::read_array(fds, n as usize) }.ok()?;
    v.iter().any(|p| s.fds.contains(p.fd)).then_some(v)
}

/// Poll the copied-in array and copy the results back out.
fn poll_copied(fds: *mut libc::pollfd, v: &mut [libc::pollfd], timeout: c_int) -> R<c_int> {
    let r = ops::poll(v, timeout)?;
    // SAFETY: pollfd (int, short, short) has no padding.
    uaccess::copy_out(&[(fds as usize, unsafe { uaccess::slice_bytes(v) })])?;
    Ok(r)
}

/// Run `f` with the signal mask `sigmask` (already copied in) applied.
fn with_sigmask<T>(sigmask: Option<&libc::sigset_t>, f: impl FnOnce() -> T) -> T {
    let Some(mask) = sigmask else {
        return f();
    };
    // SAFETY: an all-zero sigset_t is a valid value to be overwritten.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset pointers.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, &mut old) };
    let r = f();
    // SAFETY: restoring the saved mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    r
}

/// A user timespec as a poll timeout in ms: Some(-1) for none, None when
/// it cannot be read or is invalid (the kernel then answers EFAULT/EINVAL).
fn timespec_ms(ts: *const libc::timespec) -> Option<c_int> {
    if ts.is_null() {
        return Some(-1);
    }
    // SAFETY: timespec accepts any bit pattern.
    let t = unsafe { uaccess::read_val(ts) }.ok()?;
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return None;
    }
    Some(
        (t.tv_sec.saturating_mul(1000) + ((t.tv_nsec + 999_999) / 1_000_000)).min(i32::MAX as i64)
            as c_int,
    )
}

/// A user sigset: Some(None) for none, None when unreadable.
fn sigmask_in(sigmask: *const libc::sigset_t) -> Option<Option<libc::sigset_t>> {
    if sigmask.is_null() {
        return Some(None);
    }
    // SAFETY: sigset_t accepts any bit pattern.
    unsafe { uaccess::read_val(sigmask) }.ok().map(Some)
}

/// # Safety
/// Standard poll(2) contract.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout: c_int) -> c_int {
    let Some(mut v) = poll_args(fds, n) else {
        // SAFETY: pass-through.
        return unsafe { (real().poll)(fds, n, timeout) };
    };
    guard(|| poll_copied(fds, &mut v, timeout))
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
    let args = poll_args(fds, n).and_then(|v| Some((v, timespec_ms(ts)?, sigmask_in(sigmask)?)));
    let Some((mut v, timeout, mask)) = args else {
        // SAFETY: pass-through.
        return unsafe { (real().ppoll)(fds, n, ts, sigmask) };
    };
    with_sigmask(mask.as_ref(), || {
        guard(|| poll_copied(fds, &mut v, timeout))
    })
}

/// The sets of a select(2), copied in: `nfds` bounded by FD_SETSIZE.
struct SelectSets {
    n: c_int,
    sets: [Option<libc::fd_set>; 3],
}

impl SelectSets {
    fn isset(&self, i: usize, fd: c_int) -> bool {
        // SAFETY: FD_ISSET on our own copy, fd < FD_SETSIZE.
        self.sets[i]
            .as_ref()
            .is_some_and(|set| unsafe { libc::FD_ISSET(fd, set) })
    }
}

/// Bytes of an fd_set that select(2) reads and writes for `n` fds (whole
/// longs, as the kernel's FDS_BYTES).
fn fds_bytes(n: c_int) -> usize {
    let bits = 8 * std::mem::size_of::<libc::c_long>();
    (n.max(0) as usize).div_ceil(bits) * std::mem::size_of::<libc::c_long>()
}

/// The arguments of a select(2) that involves a stack socket, copied in
/// with the timeout in ms; None when the kernel should see the call as it
/// is (no stack socket, negative nfds, unreadable or invalid arguments).
fn select_args(
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
    tv: *const libc::timeval,
) -> Option<(SelectSets, c_int)> {
    let s = shim_if_ready()?;
    if nfds < 0 || s.fds.is_empty() {
        return None;
    }
    let n = nfds.min(libc::FD_SETSIZE as c_int);
    let bytes = fds_bytes(n);
    // SAFETY: an all-zero fd_set is the empty set.
    let mut copies: [libc::fd_set; 3] = unsafe { std::mem::zeroed() };
    let mut t = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    {
        let mut reads = uaccess::Reads::new();
        for (set, copy) in sets.iter().zip(copies.iter_mut()) {
            if !set.is_null() {
                // SAFETY: fd_set is plain bits: its bytes may be written.
                let b = unsafe { uaccess::bytes_of_mut(copy) };
                reads = reads.copy(*set as usize, &mut b[..bytes]);
            }
        }
        if !tv.is_null() {
            // SAFETY: timeval is two longs: its bytes may be written.
            reads = reads.copy(tv as usize, unsafe { uaccess::bytes_of_mut(&mut t) });
        }
        reads.run().ok()?;
    }
    let timeout = if tv.is_null() {
        -1
    } else if t.tv_sec < 0 || t.tv_usec < 0 {
        return None;
    } else {
        (t.tv_sec.saturating_mul(1000) + ((t.tv_usec + 999) / 1000)).min(i32::MAX as i64) as c_int
    };
    let mut out = SelectSets {
        n,
        sets: [None, None, None],
    };
    for i in 0..3 {
        if !sets[i].is_null() {
            out.sets[i] = Some(copies[i]);
        }
    }
    let mine = (0..n).any(|fd| (0..3).any(|i| out.isset(i, fd)) && s.fds.contains(fd));
    mine.then_some((out, timeout))
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
    let Some((sets, timeout)) = select_args(nfds, [rd, wr, ex], tv) else {
        // SAFETY: pass-through.
        return unsafe { (real().select)(nfds, rd, wr, ex, tv) };
    };
    guard(|| select_copied(&sets, [rd, wr, ex], timeout))
}

/// The select emulation over copied-in sets; the result sets are copied
/// back out.
fn select_copied(sets: &SelectSets, user: [*mut libc::fd_set; 3], timeout: c_int) -> R<c_int> {
    let mut pfds = Vec::new();
    for fd in 0..sets.n {
        let mut ev = 0;
        for (i, bit) in [libc::POLLIN, libc::POLLOUT, libc::POLLPRI]
            .iter()
            .enumerate()
        {
            if sets.isset(i, fd) {
                ev |= bit;
            }
        }
        if ev != 0 {
            pfds.push(libc::pollfd {
                fd,
                events: ev,
                revents: 0,
            });
        }
    }
    ops::poll(&mut pfds, timeout)?;
    // SAFETY: an all-zero fd_set is the empty set.
    let mut res: [libc::fd_set; 3] = unsafe { std::mem::zeroed() };
    let mut count = 0;
    for p in &pfds {
        if p.revents & libc::POLLNVAL != 0 {
            return Err(libc::EBADF);
        }
        let r_ok = p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
            && p.events & libc::POLLIN != 0;
        let w_ok =
            p.revents & (libc::POLLOUT | libc::POLLERR) != 0 && p.events & libc::POLLOUT != 0;
        let e_ok = p.revents & libc::POLLPRI != 0 && p.events & libc::POLLPRI != 0;
        for (i, ok) in [r_ok, w_ok, e_ok].into_iter().enumerate() {
            if ok {
                // SAFETY: FD_SET on our own copy, fd < FD_SETSIZE.
                unsafe { libc::FD_SET(p.fd, &mut res[i]) };
                count += 1;
            }
        }
    }
    let bytes = fds_bytes(sets.n);
    let mut parts: Vec<(usize, &[u8])> = Vec::new();
    for (set, r) in user.iter().zip(res.iter()) {
        if !set.is_null() {
            // SAFETY: fd_set is plain bits without padding.
            parts.push((*set as usize, &unsafe { uaccess::bytes_of(r) }[..bytes]));
        }
    }
    uaccess::copy_out(&parts)?;
    Ok(count)
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
    let args = select_args(nfds, [rd, wr, ex], std::ptr::null())
        .and_then(|(sets, _)| Some((sets, timespec_ms(ts)?, sigmask_in(sigmask)?)));
    let Some((sets, timeout, mask)) = args else {
        // SAFETY: pass-through.
        return unsafe { (real().pselect)(nfds, rd, wr, ex, ts, sigmask) };
    };
    with_sigmask(mask.as_ref(), || {
        guard(|| select_copied(&sets, [rd, wr, ex], timeout))
    })
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

/// The address of entry `i` of a user mmsghdr array (not dereferenced).
fn mmsg_at(msgs: *mut libc::mmsghdr, i: libc::c_uint) -> *mut libc::mmsghdr {
    msgs.wrapping_add(i as usize)
}

/// Store the byte count of one mmsghdr entry.
fn put_msg_len(m: *mut libc::mmsghdr, r: ssize_t) -> R<()> {
    let len = r as libc::c_uint;
    let at = m as usize + std::mem::offset_of!(libc::mmsghdr, msg_len);
    // SAFETY: c_uint has no padding.
    uaccess::copy_out(&[(at, unsafe { uaccess::bytes_of(&len) })])
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
    while done < n.min(UIO_MAXIOV as libc::c_uint) {
        let m = mmsg_at(msgs, done);
        // SAFETY: same contract as sendmsg (which copies the msghdr in).
        let r = unsafe { sendmsg(fd, m as *const libc::msghdr, flags) };
        if r < 0 || put_msg_len(m, r).is_err() {
            if r >= 0 {
                set_errno(libc::EFAULT);
            }
            return if done > 0 { done as c_int } else { -1 };
        }
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
    while done < n.min(UIO_MAXIOV as libc::c_uint) {
        let m = mmsg_at(msgs, done);
        // SAFETY: same contract as recvmsg (which copies the msghdr in).
        let r = unsafe { recvmsg(fd, m as *mut libc::msghdr, fl) };
        if r < 0 || put_msg_len(m, r).is_err() {
            if r >= 0 {
                set_errno(libc::EFAULT);
            }
            return if done > 0 { done as c_int } else { -1 };
        }
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
    // Linux: EP_MAX_EVENTS, then access_ok (the pages are checked when
    // the events are copied out).
    let ev_size = std::mem::size_of::<libc::epoll_event>();
    if max <= 0 || max as usize > i32::MAX as usize / ev_size {
        set_errno(libc::EINVAL);
        return -1;
    }
    if !uaccess::access_ok(events as usize, max as usize * ev_size) {
        set_errno(libc::EFAULT);
        return -1;
    }
    let zero = libc::epoll_event { events: 0, u64: 0 };
    let mut out = vec![zero; (max as usize).min(1024)];
    let Some(mask) = sigmask_in(sigmask) else {
        set_errno(libc::EFAULT);
        return -1;
    };
    with_sigmask(mask.as_ref(), || {
        guard(|| {
            let n = s.epoll.wait(s, epfd, &set, &mut out, timeout)?;
            uaccess::copy_out(&[(events as usize, &epoll_events_bytes(&out[..n]))])?;
            Ok(n as c_int)
        })
    })
}

/// The C layout of `evs` (packed on x86_64, padded on other targets),
/// built field by field so that no padding byte is read.
fn epoll_events_bytes(evs: &[libc::epoll_event]) -> Vec<u8> {
    let size = std::mem::size_of::<libc::epoll_event>();
    let data_at = std::mem::offset_of!(libc::epoll_event, u64);
    let mut b = vec![0u8; std::mem::size_of_val(evs)];
    for (e, chunk) in evs.iter().zip(b.chunks_exact_mut(size)) {
        let (events, data) = (e.events, e.u64);
        chunk[..4].copy_from_slice(&events.to_ne_bytes());
        chunk[data_at..data_at + 8].copy_from_slice(&data.to_ne_bytes());
    }
    b
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

/// munmap(2): mappings change, so probed buffers are forgotten.
///
/// # Safety
/// Standard munmap(2) contract.
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().munmap)(addr, len) }
}

/// mprotect(2): see munmap.
///
/// # Safety
/// Standard mprotect(2) contract.
#[no_mangle]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().mprotect)(addr, len, prot) }
}

/// mremap(2) with its optional fifth argument read as one word: see munmap.
///
/// # Safety
/// Standard mremap(2) contract.
#[no_mangle]
pub unsafe extern "C" fn mremap(
    old: *mut c_void,
    old_len: size_t,
    new_len: size_t,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().mremap)(old, old_len, new_len, flags, new_addr) }
}
