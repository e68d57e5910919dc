//! Exports for creating, naming and connecting sockets and their options:
//! socket, socketpair, bind, listen, accept, accept4, connect, shutdown,
//! setsockopt, getsockopt, getsockname, getpeername.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use libc::{c_int, c_void, sockaddr, socklen_t};
use stack::{Domain, SockType};

use crate::driver;
use crate::ops;
use crate::real::real;
use crate::uaccess;
use crate::{addr_in, guard, ours, put_addr, set_errno, MAX_OPTLEN};

/// # Safety
/// Standard socket(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
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
    let dom = match domain {
        libc::AF_INET => Some(Domain::Inet),
        libc::AF_INET6 => Some(Domain::Inet6),
        _ => None,
    };
    match (st, dom) {
        (Some(st), Some(dom)) if !driver::FORKED.load(Ordering::Relaxed) => {
            if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
                set_errno(libc::EINVAL);
                return -1;
            }
            guard(|| ops::socket(dom, st, flags, protocol))
        }
        _ => {
            crate::decision::explain(|| {
                crate::decision::kernel_socket(
                    domain,
                    ty,
                    protocol,
                    driver::FORKED.load(Ordering::Relaxed),
                )
            });
            // SAFETY: pass-through with the caller's arguments.
            unsafe { (real().socket)(domain, ty, protocol) }
        }
    }
}

/// # Safety
/// Standard socketpair(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // The kernel answers for AF_INET and AF_INET6 too: it never makes a
    // pair of them (EOPNOTSUPP), but checks the type and protocol first
    // (ESOCKTNOSUPPORT, EPROTONOSUPPORT...), as our socket() would.
    // SAFETY: pass-through.
    unsafe { (real().socketpair)(domain, ty, protocol, sv) }
}

/// # Safety
/// Standard bind(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| ops::bind(&of, addr_in(addr, len)?.bytes())),
        // SAFETY: pass-through.
        None => unsafe { (real().bind)(fd, addr, len) },
    }
}

/// # Safety
/// Standard listen(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| ops::listen(&of, backlog)),
        // SAFETY: pass-through.
        None => unsafe { (real().listen)(fd, backlog) },
    }
}

/// # Safety
/// Standard accept4(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
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
                    let h = ops::release(nfd);
                    // SAFETY: closing the anchor we just created.
                    unsafe { (real().close)(nfd) };
                    if let Some(h) = h {
                        ops::closed(h);
                    }
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
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
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
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| {
            let a = addr_in(addr, len)?;
            match crate::loopback::divert_connect(fd, &of, a.bytes()) {
                Some(r) => r,
                None => ops::connect(&of, a.bytes()),
            }
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().connect)(fd, addr, len) },
    }
}

/// # Safety
/// Standard shutdown(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    match ours(fd) {
        Some(of) => guard(|| ops::shutdown(&of, how)),
        // SAFETY: pass-through.
        None => unsafe { (real().shutdown)(fd, how) },
    }
}

/// # Safety
/// Standard setsockopt(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    match ours(fd) {
        Some(of) if ops::anchor_option(level, name) => {
            // SAFETY: pass-through to the anchor (see ops::anchor_option).
            let r = unsafe { (real().setsockopt)(fd, level, name, val, len) };
            if r == 0 {
                let _ = catch_unwind(AssertUnwindSafe(|| ops::note_bound_dev(fd, &of)));
            }
            r
        }
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
                let v = if (level, name) == (libc::SOL_SOCKET, libc::SO_ATTACH_FILTER) {
                    crate::sockfilter::attach_value(val, len)?
                } else {
                    let mut v = vec![0u8; (len as usize).min(MAX_OPTLEN)];
                    uaccess::copy_in(val as usize, &mut v)?;
                    v
                };
                let r = ops::setsockopt(&of, level, name, &v);
                if r == Err(libc::ENOPROTOOPT) {
                    crate::decision::explain(|| {
                        crate::decision::option_refused("set", level, name)
                    });
                }
                r
            }),
        },
        // SAFETY: pass-through.
        None => unsafe { (real().setsockopt)(fd, level, name, val, len) },
    }
}

/// # Safety
/// Standard getsockopt(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    match ours(fd) {
        // The anchor holds the socket timeouts (see ops::note_timeout) and
        // the device binding (ops::anchor_option).
        Some(_)
            if ops::timeout_option(level, name).is_some() || ops::anchor_option(level, name) =>
        {
            // SAFETY: pass-through to the anchor.
            unsafe { (real().getsockopt)(fd, level, name, val, len) }
        }
        Some(of) if (level, name) == (libc::SOL_SOCKET, libc::SO_GET_FILTER) => {
            guard(|| {
                // SAFETY: socklen_t accepts any bit pattern.
                let l = unsafe { uaccess::read_val(len) }? as i32;
                crate::sockfilter::get_filter(&of, val as usize, len as usize, l)
            })
        }
        Some(of) => guard(|| {
            // SAFETY: socklen_t accepts any bit pattern.
            let l = unsafe { uaccess::read_val(len) }? as i32;
            if l < 0 {
                return Err(libc::EINVAL);
            }
            let mut out = vec![0u8; (l as usize).min(MAX_OPTLEN)];
            // The options that read the caller's value first (the group
            // of IP_MSFILTER) find it in `out`.
            let input = stack::linux::getsockopt_input_len(level, name).min(out.len());
            uaccess::copy_in(val as usize, &mut out[..input])?;
            let n = ops::getsockopt(&of, level, name, &mut out).inspect_err(|&e| {
                if e == libc::ENOPROTOOPT {
                    crate::decision::explain(|| {
                        crate::decision::option_refused("get", level, name)
                    });
                }
            })?;
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
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
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
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
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
