//! epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2 (the emulation itself
//! is `crate::epoll`).

use libc::c_int;

use crate::driver::shim_if_ready;
use crate::epoll::{with_event_buf, OUT_BUF};
use crate::exports::poll::{sigmask_in, with_sigmask};
use crate::real::real;
use crate::uaccess;
use crate::{guard, ours, set_errno};

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
    let Some(mask) = sigmask_in(sigmask) else {
        set_errno(libc::EFAULT);
        return -1;
    };
    with_sigmask(mask.as_ref(), || {
        guard(|| {
            with_event_buf(&OUT_BUF, (max as usize).min(1024), |out| {
                let n = s.epoll.wait(s, epfd, &set, out, timeout)?;
                uaccess::copy_out(&[(events as usize, &epoll_events_bytes(&out[..n]))])?;
                Ok(n as c_int)
            })
        })
    })
}

/// The C layout of `evs` (packed on x86_64, padded on other targets),
/// built field by field so that no padding byte is read.
pub(crate) fn epoll_events_bytes(evs: &[libc::epoll_event]) -> Vec<u8> {
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
