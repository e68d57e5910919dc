//! Connections the service hands over with a listener's readiness
//! (proto::handoff; docs/architecture.md, "Accept without a round trip"):
//! a listener held by this process alone gets each completed connection
//! as a record on its anchor, with the connection's anchor attached, so
//! accept() takes it with no message to the service.
//!
//! Every read of an anchor goes through `read_anchor`, which keeps the
//! descriptor a record brings (a plain read would close it, and with it
//! the connection). A record read by anything but an accept (a poll
//! reading tokens back, a wait) waits here, in this process's list, with
//! its anchor at a protected high number, until an accept takes it.
//!
//! A connection counts as accepted once the program has it: `take` writes
//! one byte back into its anchor, which the service reads when it needs
//! to know (never woken by it). A connection whose every anchor goes
//! before that never reached a program: the service resets it, as Linux
//! resets the connections still queued on a listener at its close. So
//! closing a listener here closes the anchors of its records still
//! listed, and a fork child closes its copies of the parent's.

use std::net::SocketAddr;

use std::sync::atomic::{AtomicUsize, Ordering};

use libc::c_void;
use parking_lot::Mutex;
use proto::handoff::{self, Handed, READ_BUF};

use crate::real::real;

/// A record read and not yet taken: what it says, its anchor (protected,
/// high number), and the pid that read it (a fork child's copy is not
/// its to take).
struct Waiting {
    h: Handed,
    fd: i32,
    pid: i32,
}

static WAITING: Mutex<Vec<Waiting>> = Mutex::new(Vec::new());
/// `WAITING.len()`, read without the lock by every readiness check.
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Per listener: connections handed on it that this process's accepts
/// took (`taken`).
static TAKEN: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// This process's pid (the shim keeps it, set again in a fork child).
fn pid() -> i32 {
    match crate::driver::shim_any() {
        Some(s) => s.pid.load(Ordering::Relaxed),
        // SAFETY: getpid has no preconditions.
        None => unsafe { libc::getpid() },
    }
}

/// Does any record wait in this process's list?
pub fn any_waiting() -> bool {
    COUNT.load(Ordering::Relaxed) != 0
}

/// Read what `anchor` holds (tokens, and at most one record), as recv(2)
/// with `flags` would: the count of bytes, or -1 with errno. A record's
/// anchor moves to a protected high number and waits for an accept.
///
/// A non-blocking read holds `FD_ALLOC` (a record's descriptor lands at
/// the lowest free number for a moment, as client.rs's replies do); a
/// blocking one cannot (another thread of the process may be the one
/// whose call ends the sleep): a record arriving in a sleep may land
/// above a number another thread's new socket takes at that instant.
pub fn read_anchor(anchor: i32, flags: i32) -> isize {
    let _alloc = (flags & libc::MSG_DONTWAIT != 0).then(|| crate::driver::FD_ALLOC.lock());
    let (n, rec) = receive(anchor, flags | libc::MSG_CMSG_CLOEXEC);
    if let Some((h, fd)) = rec {
        let hi = crate::driver::to_high_fd(fd);
        if crate::driver::is_protected(hi) {
            let mut g = WAITING.lock();
            g.push(Waiting {
                h,
                fd: hi,
                pid: pid(),
            });
            COUNT.store(g.len(), Ordering::Relaxed);
        } else {
            // No high number free: the connection is lost (the service
            // resets it); a limit, as a record dropped with MSG_CTRUNC.
            // SAFETY: closing the descriptor just received.
            unsafe { (real().close)(fd) };
        }
    }
    n
}

/// An accept on `listener` reads its `anchor` itself: a record's anchor
/// lands on the number `slot` reserved (given up for it just before the
/// read, so it is the lowest free one, as the kernel's accept would
/// give, even with no other number free), close-on-exec as `cloexec`
/// says. Only when something is there to read (FIONREAD); the number is
/// reserved again if no record came.
pub fn accept_from_anchor(
    listener: u64,
    anchor: i32,
    slot: &mut crate::fdslot::FdSlot,
    cloexec: bool,
) -> Option<(u64, SocketAddr, i32)> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n` (the real ioctl: the
    // shim's own would answer for the listener, not its anchor).
    let r = unsafe {
        (real().ioctl)(
            anchor,
            libc::FIONREAD as libc::c_ulong,
            &mut n as *mut libc::c_int as libc::c_ulong,
        )
    };
    if r < 0 || n <= 0 {
        return None;
    }
    let flags = libc::MSG_DONTWAIT | if cloexec { libc::MSG_CMSG_CLOEXEC } else { 0 };
    let reserved = slot.fd() >= 0;
    let rec = {
        let _alloc = crate::driver::FD_ALLOC.lock();
        slot.give_up();
        receive(anchor, flags).1
    };
    match rec {
        Some((h, fd)) if h.listener == listener => {
            confirm(listener, fd);
            Some((h.id, h.peer, fd))
        }
        other => {
            if let Some((_, fd)) = other {
                // Not this listener's (cannot be): not ours to keep.
                // SAFETY: closing the descriptor just received.
                unsafe { (real().close)(fd) };
            }
            if reserved {
                if let Ok(s) = crate::fdslot::FdSlot::reserve() {
                    *slot = s;
                }
            }
            None
        }
    }
}

/// One recvmsg of an anchor: the bytes read (or -1 with errno), and the
/// record with its descriptor (wherever the kernel put it) if one came.
fn receive(anchor: i32, flags: i32) -> (isize, Option<(Handed, i32)>) {
    let mut buf = [0u8; READ_BUF];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    // Room for one descriptor (a record carries exactly one).
    let mut cbuf = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; its pointers are set below.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf.as_mut_ptr() as *mut c_void;
    mh.msg_controllen = std::mem::size_of_val(&cbuf);
    {
        // SAFETY: a valid msghdr over live buffers.
        let n = unsafe { (real().recvmsg)(anchor, &mut mh, flags) };
        if n < 0 {
            return (n, None);
        }
        let mut got = -1;
        // SAFETY: walking the control messages the kernel wrote into cbuf.
        unsafe {
            let mut cm = libc::CMSG_FIRSTHDR(&mh);
            while !cm.is_null() {
                if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                    let k = ((*cm).cmsg_len - libc::CMSG_LEN(0) as usize) / 4;
                    let p = libc::CMSG_DATA(cm) as *const i32;
                    for i in 0..k {
                        let f = std::ptr::read_unaligned(p.add(i));
                        if got < 0 {
                            got = f;
                        } else {
                            (real().close)(f);
                        }
                    }
                }
                cm = libc::CMSG_NXTHDR(&mh, cm);
            }
        }
        if got < 0 {
            return (n, None);
        }
        match handoff::decode(&buf[..n as usize]) {
            Ok(Some(h)) => (n, Some((h, got))),
            _ => {
                // A descriptor without a record: not ours to keep.
                // SAFETY: closing the descriptor just received.
                unsafe { (real().close)(got) };
                (n, None)
            }
        }
    }
}

/// The oldest record of `listener` this process read and listed: its
/// id, peer and anchor (protected, high number).
pub fn take_waiting(listener: u64) -> Option<(u64, SocketAddr, i32)> {
    if !any_waiting() {
        return None;
    }
    let me = pid();
    let mut g = WAITING.lock();
    let i = g
        .iter()
        .position(|w| w.h.listener == listener && w.pid == me)?;
    let w = g.remove(i);
    COUNT.store(g.len(), Ordering::Relaxed);
    drop(g);
    confirm(listener, w.fd);
    Some((w.h.id, w.h.peer, w.fd))
}

/// An accept took a connection handed on `listener` (anchor `fd`): the
/// byte the service reads when it needs to know, and this process's
/// count of connections it took there.
fn confirm(listener: u64, fd: i32) {
    let one = [1u8];
    // SAFETY: a non-blocking send of one byte from a local buffer.
    unsafe {
        (real().send)(
            fd,
            one.as_ptr() as *const c_void,
            1,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    let mut t = TAKEN.lock();
    match t.iter_mut().find(|(l, _)| *l == listener) {
        Some((_, n)) => *n += 1,
        None => t.push((listener, 1)),
    }
}

/// Connections handed on `listener` that accepts of this process took.
/// With the count the service publishes (the listener's `S_RX_HEAD`),
/// a listener held alone is readable while the service handed more
/// than were taken: records unread in its anchor, or listed here.
pub fn taken(listener: u64) -> u64 {
    TAKEN
        .lock()
        .iter()
        .find(|(l, _)| *l == listener)
        .map_or(0, |&(_, n)| n)
}

/// Does a record of `listener` wait in this process (readable)?
pub fn waiting(listener: u64) -> bool {
    if !any_waiting() {
        return false;
    }
    let me = pid();
    WAITING
        .lock()
        .iter()
        .any(|w| w.h.listener == listener && w.pid == me)
}

/// The listener's last descriptor here closed: the connections whose
/// records wait were never accepted, so their anchors go (the service
/// resets them, as Linux the connections queued on a closed listener).
pub fn listener_closed(listener: u64) {
    TAKEN.lock().retain(|(l, _)| *l != listener);
    let mut g = WAITING.lock();
    g.retain(|w| {
        let gone = w.h.listener == listener;
        if gone {
            crate::driver::unprotect_and_close(w.fd);
        }
        !gone
    });
    COUNT.store(g.len(), Ordering::Relaxed);
}

/// In a fork child (atfork): the records waiting are the parent's;
/// close our copies (skipped if another thread held the list at fork:
/// `take` then passes over them by their pid).
pub fn in_child() {
    if let Some(mut g) = WAITING.try_lock() {
        for w in g.drain(..) {
            crate::driver::unprotect_and_close_in_child(w.fd);
        }
        COUNT.store(0, Ordering::Relaxed);
    }
}
