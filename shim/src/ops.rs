//! Safe implementations of the socket calls that create, configure and
//! destroy stack sockets and their descriptors: socket, bind, listen,
//! accept, connect, shutdown, names, options, fcntl, ioctl, close, dup*,
//! close_range. Data transfer is in io.rs, readiness in poll.rs.
//!
//! Every fd given to the program is an anchor: an unbound AF_UNIX datagram
//! socket from the kernel (lowest free number, `fstat` says socket), whose
//! O_NONBLOCK and FD_CLOEXEC flags mirror the stack socket's.

use std::net::SocketAddrV4;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use stack::{Errno, SockType};

use crate::fdtable::{OpenFile, TABLE};
use crate::real::real;
use crate::runtime::{self, Shim};
use crate::sockaddr;
use crate::sotimeo;
use crate::sys;
use crate::wait::retry;
use crate::{protected, warn_once};

const SOCK_TYPE_MASK: i32 = 0xf;
const SOCK_MAX: i32 = 11;
const SIOCOUTQNSD: libc::c_ulong = 0x894b;
const F_SETSIG: i32 = 10;
const F_SETOWN_EX: i32 = 15;

/// A new anchor fd (kernel socket) with the given SOCK_* flags.
fn new_anchor(flags: i32) -> Result<RawFd, Errno> {
    // SAFETY: plain socket creation.
    let fd = unsafe { (real().socket)(libc::AF_UNIX, libc::SOCK_DGRAM | flags, 0) };
    sys::check(fd as isize).map(|_| fd)
}

fn parse_type(ty: i32) -> Result<(SockType, i32), Errno> {
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let base = ty & SOCK_TYPE_MASK;
    if !(0..SOCK_MAX).contains(&base) {
        return Err(Errno::EINVAL);
    }
    match base {
        libc::SOCK_STREAM => Ok((SockType::Stream, flags)),
        libc::SOCK_DGRAM => Ok((SockType::Dgram, flags)),
        _ => {
            warn_once!(
                "AF_INET socket type {base} is not supported by the stack (ESOCKTNOSUPPORT)"
            );
            Err(Errno::ESOCKTNOSUPPORT)
        }
    }
}

/// socket(AF_INET, ty, protocol).
pub fn socket(ty: i32, protocol: i32) -> Result<RawFd, Errno> {
    let (sotype, flags) = parse_type(ty)?;
    let shim = runtime::get_or_init()?;
    let anchor = new_anchor(flags)?;
    let r = shim.stack.socket(sotype, protocol);
    shim.after_call();
    match r {
        Ok(h) => {
            let nonblock = flags & libc::SOCK_NONBLOCK != 0;
            TABLE.insert(anchor, Arc::new(OpenFile::new(h, sotype, nonblock)));
            crate::log_debug!("socket({sotype:?}) = fd {anchor} ({})", h.as_u64());
            Ok(anchor)
        }
        Err(e) => {
            sys::close(anchor);
            Err(e)
        }
    }
}

pub fn bind(file: &OpenFile, addr: &[u8]) -> Result<(), Errno> {
    let shim = runtime::for_socket()?;
    let a = sockaddr::for_bind(addr)?;
    let r = shim.stack.bind(file.handle, a);
    shim.after_call();
    r
}

pub fn listen(file: &OpenFile, backlog: i32) -> Result<(), Errno> {
    let shim = runtime::for_socket()?;
    let r = shim.stack.listen(file.handle, backlog);
    shim.after_call();
    r
}

/// Waits for a TCP connect in progress to finish (blocking connect).
fn finish_connect(shim: &Shim, file: &OpenFile) -> Result<(), Errno> {
    let h = file.handle;
    retry(
        shim,
        h,
        false,
        file.sndtimeo.get(),
        Errno::EINPROGRESS,
        |s| match s.stack.connect_status(h) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        },
    )
}

pub fn connect(file: &OpenFile, addr: &[u8]) -> Result<(), Errno> {
    let shim = runtime::for_socket()?;
    let dst = sockaddr::for_connect(addr)?;
    let r = shim.stack.connect(sys::now(), file.handle, dst);
    shim.after_call();
    match r {
        Err(Errno::EINPROGRESS) if file.sotype == SockType::Stream && !file.is_nonblocking() => {
            finish_connect(shim, file)
        }
        r => r,
    }
}

/// accept4: a new anchor with `flags` (SOCK_NONBLOCK | SOCK_CLOEXEC).
pub fn accept(file: &OpenFile, flags: i32) -> Result<(RawFd, SocketAddrV4), Errno> {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let shim = runtime::for_socket()?;
    // Like the kernel, reserve the descriptor before taking a connection.
    let anchor = new_anchor(flags)?;
    let h = file.handle;
    let r = retry(
        shim,
        h,
        file.is_nonblocking(),
        file.rcvtimeo.get(),
        Errno::EAGAIN,
        |s| s.stack.accept(h),
    );
    match r {
        Ok((child, peer)) => {
            let nonblock = flags & libc::SOCK_NONBLOCK != 0;
            TABLE.insert(
                anchor,
                Arc::new(OpenFile::new(child, SockType::Stream, nonblock)),
            );
            Ok((anchor, peer))
        }
        Err(e) => {
            sys::close(anchor);
            Err(e)
        }
    }
}

pub fn shutdown(file: &OpenFile, how: i32) -> Result<(), Errno> {
    let shim = runtime::for_socket()?;
    let r = shim.stack.shutdown(sys::now(), file.handle, how);
    shim.after_call();
    r
}

pub fn getsockname(file: &OpenFile) -> Result<SocketAddrV4, Errno> {
    runtime::for_socket()?.stack.getsockname(file.handle)
}

pub fn getpeername(file: &OpenFile) -> Result<SocketAddrV4, Errno> {
    runtime::for_socket()?.stack.getpeername(file.handle)
}

pub fn setsockopt(
    fd: RawFd,
    file: &OpenFile,
    level: i32,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    let shim = runtime::for_socket()?;
    if let Some(dir) = sotimeo::option(level, name) {
        let t = sotimeo::set(fd, name, dir, val)?;
        sotimeo::store(file, dir, t);
        return Ok(());
    }
    let r = shim
        .stack
        .setsockopt(sys::now(), file.handle, level, name, val);
    shim.after_call();
    r
}

pub fn getsockopt(
    fd: RawFd,
    file: &OpenFile,
    level: i32,
    name: i32,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let shim = runtime::for_socket()?;
    if sotimeo::option(level, name).is_some() {
        return sotimeo::get(fd, name, out);
    }
    shim.stack.getsockopt(file.handle, level, name, out)
}

/// One more descriptor `newfd` (already made by the kernel from the
/// anchor) refers to `file`.
fn adopt_duplicate(newfd: RawFd, file: &Arc<OpenFile>) -> Result<RawFd, Errno> {
    let shim = runtime::for_socket()?;
    if let Err(e) = shim.stack.sodup(file.handle) {
        sys::close(newfd);
        return Err(e);
    }
    if let Some(old) = TABLE.insert(newfd, file.clone()) {
        shim.release(old.handle);
    }
    Ok(newfd)
}

pub fn fcntl(fd: RawFd, file: &Arc<OpenFile>, cmd: i32, arg: libc::c_ulong) -> Result<i32, Errno> {
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            runtime::for_socket()?;
            let newfd = sys::fcntl_int(fd, cmd, arg)?;
            adopt_duplicate(newfd, file)
        }
        libc::F_SETFL => {
            let r = sys::fcntl_int(fd, cmd, arg)?;
            file.nonblock
                .store(arg as i32 & libc::O_NONBLOCK != 0, Ordering::Relaxed);
            if arg as i32 & libc::O_ASYNC != 0 {
                warn_once!(
                    "O_ASYNC (SIGIO) on stack sockets is not supported: no SIGIO will be sent"
                );
            }
            Ok(r)
        }
        libc::F_SETOWN | F_SETSIG | F_SETOWN_EX => {
            warn_once!("fcntl F_SETOWN/F_SETSIG on stack sockets has no effect (no SIGIO/SIGURG)");
            sys::fcntl_int(fd, cmd, arg)
        }
        // F_GETFL (flags mirrored on the anchor), F_GETFD/F_SETFD, locks...
        _ => {
            // SAFETY: forwarded to the kernel with the caller's argument,
            // which for pointer commands is the caller's valid pointer.
            let r = unsafe { (real().fcntl)(fd, cmd, arg) };
            sys::check(r as isize).map(|_| r)
        }
    }
}

/// What an ioctl on a stack socket turned into.
pub enum Ioctl {
    /// Store this int at the argument pointer.
    IntOut(i32),
    /// Not ours: forward to the anchor.
    Forward,
}

pub fn ioctl(file: &OpenFile, request: libc::c_ulong) -> Result<Ioctl, Errno> {
    let shim = runtime::for_socket()?;
    let info = || shim.stack.sockinfo(file.handle);
    let clamp = |v: usize| v.min(i32::MAX as usize) as i32;
    match request {
        libc::FIONREAD => {
            let i = info()?;
            if i.listening {
                return Err(Errno::EINVAL);
            }
            Ok(Ioctl::IntOut(clamp(i.rcv_cc)))
        }
        libc::TIOCOUTQ => {
            let i = info()?;
            if i.listening {
                return Err(Errno::EINVAL);
            }
            Ok(Ioctl::IntOut(clamp(i.snd_cc)))
        }
        SIOCOUTQNSD => {
            let i = info()?;
            if i.listening {
                return Err(Errno::EINVAL);
            }
            Ok(Ioctl::IntOut(clamp(i.snd_unsent)))
        }
        _ => Ok(Ioctl::Forward),
    }
}

/// FIONBIO: the anchor takes the flag (so F_GETFL sees it), the socket too.
pub fn set_nonblocking(fd: RawFd, file: &OpenFile, on: bool) -> Result<(), Errno> {
    let fl = sys::fcntl_int(fd, libc::F_GETFL, 0)?;
    let fl = if on {
        fl | libc::O_NONBLOCK
    } else {
        fl & !libc::O_NONBLOCK
    };
    sys::fcntl_int(fd, libc::F_SETFL, fl as libc::c_ulong)?;
    file.nonblock.store(on, Ordering::Relaxed);
    Ok(())
}

/// close(fd) of a stack socket's anchor: one event for both.
pub fn close(fd: RawFd) -> Result<(), Errno> {
    let file = TABLE.remove(fd);
    // SAFETY: closing the anchor, which the program owns.
    let r = unsafe { (real().close)(fd) };
    if let (Some(file), Some(shim)) = (file, runtime::owned()) {
        shim.release(file.handle);
    }
    sys::check(r as isize).map(|_| ())
}

pub fn dup(fd: RawFd, file: &Arc<OpenFile>) -> Result<RawFd, Errno> {
    runtime::for_socket()?;
    // SAFETY: dup of the anchor.
    let newfd = unsafe { (real().dup)(fd) };
    sys::check(newfd as isize)?;
    adopt_duplicate(newfd, file)
}

/// dup2 (flags None) or dup3 where `oldfd` or `newfd` is a stack socket
/// or `newfd` is one of the shim's own fds.
pub fn dup2(oldfd: RawFd, newfd: RawFd, flags: Option<i32>) -> Result<RawFd, Errno> {
    if protected::is_protected(newfd) && oldfd != newfd {
        warn_once!("dup2/dup3 onto fd {newfd}, which sockshim uses internally, fails with EBUSY");
        return Err(Errno(libc::EBUSY));
    }
    let source = TABLE.get(oldfd);
    if source.is_some() {
        runtime::for_socket()?;
    }
    let displaced = if oldfd != newfd {
        TABLE.get(newfd)
    } else {
        None
    };
    // SAFETY: the kernel checks both numbers.
    let r = unsafe {
        match flags {
            None => (real().dup2)(oldfd, newfd),
            Some(f) => (real().dup3)(oldfd, newfd, f),
        }
    };
    sys::check(r as isize)?;
    if oldfd == newfd {
        return Ok(r);
    }
    if let Some(file) = &source {
        adopt_duplicate(newfd, file)?;
    } else if let Some(old) = TABLE.remove(newfd) {
        if let Some(shim) = runtime::owned() {
            shim.release(old.handle);
        }
    }
    drop(displaced);
    Ok(r)
}

/// close_range(first, last, flags): stack sockets in range are closed, the
/// shim's own fds are left open (the call still succeeds).
pub fn close_range(first: u32, last: u32, flags: i32) -> Result<(), Errno> {
    if first > last {
        return Err(Errno::EINVAL);
    }
    let cloexec_only = flags & libc::CLOSE_RANGE_CLOEXEC as i32 != 0;
    let removed = if cloexec_only {
        Vec::new()
    } else {
        TABLE.remove_range(first, last)
    };
    let keep = protected::protected_in(first, last);
    let mut result = Ok(());
    for (a, b) in protected::unprotected_ranges(first, last, &keep) {
        if let Err(e) = real_close_range(a, b, flags) {
            result = Err(e);
            break;
        }
    }
    if let Some(shim) = runtime::owned() {
        for (_, file) in removed {
            shim.release(file.handle);
        }
    }
    result
}

fn real_close_range(first: u32, last: u32, flags: i32) -> Result<(), Errno> {
    if let Some(f) = real().close_range {
        // SAFETY: close_range has no memory preconditions.
        let r = unsafe { f(first, last, flags) };
        return sys::check(r as isize).map(|_| ());
    }
    // SAFETY: the raw system call, for C libraries without the wrapper.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    sys::check(r as isize).map(|_| ())
}
