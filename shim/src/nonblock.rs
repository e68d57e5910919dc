//! O_NONBLOCK of a stack socket's open file description. Linux keeps it on
//! the open file, so an `fcntl(F_SETFL)` or `FIONBIO` in one process is
//! seen by every other process holding the socket (after fork, SCM_RIGHTS
//! or exec).
//!
//! Each `OpenFile` keeps its own copy (`nonblock`), which is all that is
//! read while the open file has never left this process: the fast path
//! costs no system call. Once it may have been shared (`nb_shared`: a
//! fork, a descriptor sent or received by SCM_RIGHTS or inherited across
//! exec, a slot without `F_EXCLUSIVE`), the flag is read from the
//! socket's slot in the status region (`region::F_NONBLOCK`), which the
//! service writes for every holder when one of them sets it
//! (`SetNonblock`, answered after every slot is written): still no system
//! call. Read the slot for good: the service's `F_EXCLUSIVE` cannot tell
//! that it is ours alone again, since a forked child holds the anchor
//! before it ever talks to the service.
//!
//! A change while the open file is ours alone is only noted (`nb_dirty`:
//! a round trip per accept4(SOCK_NONBLOCK) would cost every connection);
//! the service is told before the open file can be shared: before fork()
//! (pthread_atfork prepare), before an SCM_RIGHTS send, and when the
//! slot first says shared.
//!
//! The flag is also written on the anchor (as its SO_PRIORITY,
//! `ANCHOR_NONBLOCK`, which AF_UNIX ignores; the anchor's own O_NONBLOCK
//! cannot carry it, since the shim's waits are blocking reads of it). It
//! is read from there where no slot is: a forked child before its first
//! call to the service, and a program that received the socket or
//! inherited it across exec, which also corrects the service's copy if
//! the sender never told it (an exec leaves no time to).

use std::sync::atomic::Ordering;

use crate::fdtable::OpenFile;
use crate::real::real;

/// The anchor's SO_PRIORITY when the open file is non-blocking (0 when
/// not: a new anchor's).
const ANCHOR_NONBLOCK: i32 = 1;

fn remote() -> Option<&'static crate::net::Remote> {
    crate::driver::shim_if_ready().and_then(|s| s.stack.remote())
}

/// The anchor's copy (None: not readable, e.g. no anchor in this process).
pub fn anchor_get(anchor: i32) -> Option<bool> {
    if anchor < 0 {
        return None;
    }
    crate::real::getsockopt_int(anchor, libc::SOL_SOCKET, libc::SO_PRIORITY)
        .map(|v| v == ANCHOR_NONBLOCK)
}

fn anchor_set(anchor: i32, on: bool) {
    if anchor < 0 {
        return;
    }
    let v: i32 = if on { ANCHOR_NONBLOCK } else { 0 };
    // SAFETY: an int-sized in-buffer with its length.
    unsafe {
        (real().setsockopt)(
            anchor,
            libc::SOL_SOCKET,
            libc::SO_PRIORITY,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
}

/// The slot's copy (None: no slot for it in this process now).
fn slot_get(of: &OpenFile) -> Option<bool> {
    crate::client::slot(of.handle.as_u64()).map(|s| s.flag(proto::region::F_NONBLOCK))
}

/// Tell the service this open file's flag (it writes every holder's slot
/// before it answers).
fn tell(r: &crate::net::Remote, of: &OpenFile, on: bool) {
    of.nb_dirty.store(false, Ordering::Relaxed);
    let _ = r.set_nonblock(of.handle, on);
}

/// From now on the open file may be held elsewhere: the service's copy
/// first becomes ours.
fn share(r: &crate::net::Remote, of: &OpenFile) {
    if of.nb_dirty.load(Ordering::Relaxed) {
        tell(r, of, of.nonblock.load(Ordering::Relaxed));
    }
    of.nb_shared.store(true, Ordering::Relaxed);
}

/// Is the open file non-blocking now?
pub fn get(of: &OpenFile) -> bool {
    let local = of.nonblock.load(Ordering::Relaxed);
    let Some(r) = remote() else {
        return local;
    };
    let alone = crate::client::slot(of.handle.as_u64()).map(|s| s.flag(proto::region::F_EXCLUSIVE));
    if alone == Some(false) && !of.nb_shared.load(Ordering::Relaxed) {
        share(r, of);
    } else if !of.nb_shared.load(Ordering::Relaxed) {
        return local;
    }
    let Some(v) = slot_get(of).or_else(|| anchor_get(of.anchor())) else {
        return local;
    };
    of.nonblock.store(v, Ordering::Relaxed);
    v
}

/// Make the open file non-blocking or blocking (F_SETFL, FIONBIO, and
/// SOCK_NONBLOCK at creation).
pub fn set(of: &OpenFile, on: bool) {
    of.nonblock.store(on, Ordering::Relaxed);
    let Some(r) = remote() else {
        return;
    };
    anchor_set(of.anchor(), on);
    if of.nb_shared.load(Ordering::Relaxed) {
        tell(r, of, on);
    } else {
        of.nb_dirty.store(true, Ordering::Relaxed);
    }
}

/// These open files may now be held by another process too (before a
/// fork, before an SCM_RIGHTS send, and in both processes after a fork).
pub fn may_be_shared(files: &[std::sync::Arc<OpenFile>]) {
    match remote() {
        Some(r) => files.iter().for_each(|f| share(r, f)),
        None => files
            .iter()
            .for_each(|f| f.nb_shared.store(true, Ordering::Relaxed)),
    }
}

/// An open file that came from elsewhere (SCM_RIGHTS, exec): its flag is
/// the anchor's, which every holder writes; the service's copy is set
/// to it if it differs (a program that exec'd never told the service).
pub fn adopted(of: &OpenFile) {
    of.nb_shared.store(true, Ordering::Relaxed);
    of.nb_dirty.store(false, Ordering::Relaxed);
    let Some(v) = anchor_get(of.anchor()) else {
        return;
    };
    of.nonblock.store(v, Ordering::Relaxed);
    if let Some(r) = remote() {
        if slot_get(of).is_some_and(|s| s != v) {
            tell(r, of, v);
        }
    }
}
