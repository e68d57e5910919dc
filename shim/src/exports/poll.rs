//! poll, ppoll, select and pselect over any mix of stack sockets and
//! kernel fds (the emulation itself is `ops::poll`).

use libc::{c_int, size_t};

use crate::driver::shim_if_ready;
use crate::guard;
use crate::ops::{self, R};
use crate::real::real;
use crate::uaccess;

/// The pollfd array of a poll(2) that involves a stack socket, copied in.
/// None when the kernel should see the call as it is: no stack socket in
/// it, or arguments the kernel rejects itself (more entries than
/// RLIMIT_NOFILE: EINVAL; an unreadable array: EFAULT). The limit is only
/// looked up for more than 64 entries (one syscall less on the usual path).
pub(crate) fn poll_args(fds: *const libc::pollfd, n: libc::nfds_t) -> Option<Vec<libc::pollfd>> {
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
pub(crate) fn poll_copied(
    fds: *mut libc::pollfd,
    v: &mut [libc::pollfd],
    timeout: c_int,
) -> R<c_int> {
    let r = ops::poll(v, timeout)?;
    // SAFETY: pollfd (int, short, short) has no padding.
    uaccess::copy_out(&[(fds as usize, unsafe { uaccess::slice_bytes(v) })])?;
    Ok(r)
}

/// Run `f` with the signal mask `sigmask` (already copied in) applied.
pub(crate) fn with_sigmask<T>(sigmask: Option<&libc::sigset_t>, f: impl FnOnce() -> T) -> T {
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
pub(crate) fn timespec_ms(ts: *const libc::timespec) -> Option<c_int> {
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
pub(crate) fn sigmask_in(sigmask: *const libc::sigset_t) -> Option<Option<libc::sigset_t>> {
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
pub(crate) struct SelectSets {
    n: c_int,
    sets: [Option<libc::fd_set>; 3],
}

/// Bytes of an fd_set that select(2) reads and writes for `n` fds (whole
/// longs, as the kernel's FDS_BYTES).
pub(crate) fn fds_bytes(n: c_int) -> usize {
    let bits = 8 * std::mem::size_of::<libc::c_long>();
    (n.max(0) as usize).div_ceil(bits) * std::mem::size_of::<libc::c_long>()
}

/// The arguments of a select(2) that involves a stack socket, copied in
/// with the timeout in ms; None when the kernel should see the call as it
/// is (no stack socket, negative nfds, unreadable or invalid arguments).
pub(crate) fn select_args(
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
pub(crate) fn select_copied(
    sets: &SelectSets,
    user: [*mut libc::fd_set; 3],
    timeout: c_int,
) -> R<c_int> {
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

impl SelectSets {
    fn isset(&self, i: usize, fd: c_int) -> bool {
        // SAFETY: FD_ISSET on our own copy, fd < FD_SETSIZE.
        self.sets[i]
            .as_ref()
            .is_some_and(|set| unsafe { libc::FD_ISSET(fd, set) })
    }
}
