//! Exports that manage descriptors: close, close_range, closefrom, dup,
//! dup2, dup3, fcntl, ioctl, fdopen.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libc::{c_int, c_ulong};

use crate::driver::{self, shim_if_ready};
use crate::fdtable::OpenFile;
use crate::ops;
use crate::real::real;
use crate::uaccess;
use crate::{foreign_process, guard, ours, set_errno};

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
    } else if crate::fdslot::is_reserved(fd) {
        // Reserved by an accept in progress, not installed yet (Linux:
        // no file at that number).
        set_errno(libc::EBADF);
        return -1;
    } else if ours(fd).is_some() {
        let h = catch_unwind(AssertUnwindSafe(|| ops::release(fd)))
            .ok()
            .flatten();
        // SAFETY: closes the anchor.
        let r = unsafe { (real().close)(fd) };
        if let Some(h) = h {
            let _ = catch_unwind(AssertUnwindSafe(|| ops::closed(h)));
        }
        return r;
    } else if let Some(s) = shim_if_ready() {
        s.epoll.close_epoll(fd);
    }
    // SAFETY: pass-through (closes the anchor, or a kernel fd).
    unsafe { (real().close)(fd) }
}

/// After the kernel duplicated a stack socket's anchor onto `new`: `new`
/// takes a reference too. If the socket is gone meanwhile (another thread
/// closed its last descriptor between the kernel's dup and ours), the dup
/// fails as if the close had come first: `new` is closed, false (EBADF).
#[must_use]
pub(crate) fn adopt_dup(of: &Arc<OpenFile>, new: c_int) -> bool {
    let Some(s) = shim_if_ready() else {
        return true;
    };
    if s.stack.sodup(of.handle).is_err() {
        // SAFETY: closing the bare anchor the kernel's dup just made.
        unsafe { (real().close)(new) };
        return false;
    }
    ops::install(s, new, of.clone());
    true
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
                of.set_nonblock(arg as c_int & libc::O_NONBLOCK != 0);
            }
            r
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: duplicating the anchor.
            let nfd = unsafe { (real().fcntl)(fd, cmd, arg) };
            if nfd >= 0 && !adopt_dup(&of, nfd) {
                set_errno(libc::EBADF);
                return -1;
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

pub(crate) const TIOCOUTQ: c_ulong = 0x5411;
/// SIOCGSTAMP / SIOCGSTAMPNS (the 64-bit timeval / timespec forms).
const SIOCGSTAMP: c_ulong = 0x8906;
const SIOCGSTAMPNS: c_ulong = 0x8907;
/// SIOCATMARK: 1 when the reader is at the urgent mark.
const SIOCATMARK: c_ulong = 0x8905;
/// SIOCOUTQNSD: a TCP socket's bytes written and not yet sent.
const SIOCOUTQNSD: c_ulong = 0x894b;

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
                of.set_nonblock(v != 0);
            }
            libc::FIONREAD | TIOCOUTQ => {
                let i = ops::sockinfo(&of)?;
                if i.listening {
                    return Err(libc::EINVAL); // tcp_ioctl: not on a listener
                }
                put(if req == libc::FIONREAD {
                    i.inq
                } else {
                    i.snd_cc
                })?;
            }
            // tcp_ioctl's (UDP has no such request: ENOTTY below).
            SIOCOUTQNSD if of.ty == stack::SockType::Stream => {
                let i = ops::sockinfo(&of)?;
                if i.listening {
                    return Err(libc::EINVAL);
                }
                put(i.snd_unsent)?;
            }
            SIOCATMARK => put(ops::siocatmark(&of)? as usize)?,
            SIOCGSTAMP | SIOCGSTAMPNS => {
                let (sec, nsec) = ops::siocgstamp(&of)?;
                let frac = if req == SIOCGSTAMP {
                    i64::from(nsec / 1000)
                } else {
                    i64::from(nsec)
                };
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&sec.to_ne_bytes());
                b[8..].copy_from_slice(&frac.to_ne_bytes());
                uaccess::copy_out(&[(arg as usize, &b[..])])?;
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
            if !adopt_dup(&of, nfd) {
                set_errno(libc::EBADF);
                return -1;
            }
        }
    }
    nfd
}

/// dup2/dup3 onto `new`: `dup_real` makes the kernel duplicate (closing
/// what `new` was). A stack socket that `new` referred to loses that
/// reference; `old`'s socket gains one. In a forked or vfork child the
/// descriptors are its own and the parent's tables are left alone.
fn dup_onto(old: c_int, new: c_int, dup_real: impl FnOnce() -> c_int) -> c_int {
    if driver::is_protected(new) {
        set_errno(libc::EBADF);
        return -1;
    }
    if driver::FORKED.load(Ordering::Relaxed) || foreign_process() {
        let r = dup_real();
        if r >= 0 && old != new && driver::FORKED.load(Ordering::Relaxed) {
            driver::forget_inherited(new);
        }
        return r;
    }
    if crate::fdslot::is_reserved(new) {
        // Linux's do_dup2: a number reserved but not installed is busy.
        set_errno(libc::EBUSY);
        return -1;
    }
    let src = ours(old);
    let r = dup_real();
    if r >= 0 && old != new {
        if ours(new).is_some() {
            let _ = catch_unwind(AssertUnwindSafe(|| ops::release(new)));
        }
        if let Some(of) = src {
            if !adopt_dup(&of, new) {
                set_errno(libc::EBADF);
                return -1;
            }
        }
    }
    r
}

/// # Safety
/// Standard dup3(2) contract.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: pass-through (dup3 fails with EINVAL for old == new).
    dup_onto(old, new, || unsafe { (real().dup3)(old, new, flags) })
}

/// # Safety
/// Standard dup2(2) contract.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: pass-through.
    dup_onto(old, new, || unsafe { (real().dup2)(old, new) })
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

/// fdopen(3): a stack socket gets a cookie stream (see `stdio`).
///
/// # Safety
/// Standard fdopen(3) contract.
#[no_mangle]
pub unsafe extern "C" fn fdopen(fd: c_int, mode: *const libc::c_char) -> *mut libc::FILE {
    match ours(fd) {
        // SAFETY: mode per fdopen's contract.
        Some(of) => unsafe { crate::stdio::fdopen_socket(fd, of, mode) },
        // SAFETY: pass-through.
        None => unsafe { (real().fdopen)(fd, mode) },
    }
}
