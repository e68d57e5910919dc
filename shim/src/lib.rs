//! libsockshim.so. The exported libc symbols live in `exports/`, one file
//! per family of calls; this file holds what they share. Each export is
//! thin: look the fd up, check and copy user memory as Linux does (EFAULT,
//! not a crash: see `uaccess`), call the safe function in `ops`, set errno
//! once. Anything not ours (other families, files, pipes) goes to the real
//! libc function untouched. No panic crosses `extern "C"`: each body runs
//! under `catch_unwind` (`guard`) and a panic becomes -1/EIO.

pub mod anchorwait;
pub mod callref;
pub mod client;
pub mod config;
pub mod decision;
pub mod devwait;
pub mod driver;
pub mod epoll;
pub mod exports;
pub mod fdslot;
pub mod fdtable;
pub mod forkmark;
pub mod handoff;
pub mod inherit;
pub mod log;
pub mod loopback;
pub mod loopback_svc;
pub mod net;
pub mod nonblock;
pub mod ops;
pub mod real;
pub mod refcheck;
pub mod shadow_accept;
pub mod sighandlers;
pub mod sigwindow;
pub mod sockfilter;
pub mod spares;
pub mod stdio;
pub mod sys;
pub mod sysctl;
pub mod trace;
pub mod txturn;
pub mod uaccess;
pub mod udp_shadow;
pub mod wait;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libc::{c_int, c_void, size_t, sockaddr, socklen_t};

use crate::driver::shim_if_ready;
use crate::fdtable::OpenFile;
use crate::ops::R;

pub(crate) fn set_errno(e: i32) {
    // SAFETY: errno is thread-local and always valid to write.
    unsafe { *libc::__errno_location() = e };
}

/// Run `f`; map Err(errno) to -1 with errno set, and a panic to -1/EIO.
pub(crate) fn guard<T: From<i8>>(f: impl FnOnce() -> R<T>) -> T {
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

pub(crate) fn ours(fd: c_int) -> Option<Arc<OpenFile>> {
    if driver::FORKED.load(Ordering::Relaxed) {
        if driver::shim_any().is_some_and(|s| s.fds.contains(fd)) {
            log::warn_once(
                "sockshim: a forked child used a socket inherited from its parent; sharing \
                 stack sockets across fork() is not supported yet (the call fails)",
            );
        }
        return None;
    }
    let of = shim_if_ready()?.fds.get(fd)?;
    // Service mode: it may have become a kernel socket in another process
    // (loopback.rs); then it is one here too, passed through.
    if crate::loopback_svc::adopt_if_moved(fd, &of) {
        return None;
    }
    Some(of)
}

/// True when a descriptor-destroying call (close, dup2, close_range) must
/// leave the shim's tables alone: in a vfork child they are the parent's.
pub(crate) fn foreign_process() -> bool {
    shim_if_ready().is_some() && driver::in_vfork_child()
}

/// Linux `move_addr_to_user`: copy the address `a` (none: a zero-length
/// address, as TCP's recvfrom reports) into the caller's (addr, addrlen)
/// pair, truncated to *addrlen; *addrlen becomes the full length.
pub(crate) fn put_addr(
    a: Option<std::net::SocketAddr>,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> R<()> {
    // SAFETY: socklen_t accepts any bit pattern.
    let l = unsafe { uaccess::read_val(len) }? as i32;
    if l < 0 {
        return Err(libc::EINVAL);
    }
    let b = a.map(ops::sockaddr_bytes);
    let kaddr: &[u8] = b.as_ref().map_or(&[], |(b, n)| &b[..*n]);
    let klen = kaddr.len() as socklen_t;
    let n = (l as usize).min(kaddr.len());
    // SAFETY: socklen_t has no padding.
    let klen_bytes = unsafe { uaccess::bytes_of(&klen) };
    uaccess::copy_out(&[(addr as usize, &kaddr[..n]), (len as usize, klen_bytes)])
}

/// Longest option value the shim copies (longer ones are truncated): the
/// largest is IPPROTO_IPV6's MCAST_MSFILTER group_filter, 8,336 bytes with
/// net.ipv6.mld_max_msf's 64 sources (IPv4's: 1,424 with igmp_max_msf's
/// 10). The service protocol carries up to `proto::MAX_OPT`.
pub(crate) const MAX_OPTLEN: usize = 16384;

/// Size of `struct sockaddr_storage`: the longest address Linux accepts.
pub(crate) const SOCKADDR_STORAGE: usize = 128;

/// A socket address copied in from the caller.
pub(crate) struct UserAddr {
    pub(crate) buf: [u8; SOCKADDR_STORAGE],
    pub(crate) len: usize,
}

impl UserAddr {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Linux `move_addr_to_kernel`: EINVAL for a negative or oversized
/// length, EFAULT for unreadable memory; a zero length reads nothing.
pub(crate) fn addr_in(addr: *const sockaddr, len: socklen_t) -> R<UserAddr> {
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
pub(crate) unsafe fn buf_mut<'a>(buf: *mut c_void, len: size_t) -> R<&'a mut [u8]> {
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
pub(crate) unsafe fn buf_ref<'a>(buf: *const c_void, len: size_t) -> R<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    uaccess::readable(&[(buf as usize, len)])?;
    // SAFETY: probed readable just now.
    Ok(unsafe { std::slice::from_raw_parts(buf as *const u8, len) })
}
