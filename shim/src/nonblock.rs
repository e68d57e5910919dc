//! O_NONBLOCK of a stack socket's open file description. Linux keeps it on
//! the open file, so an `fcntl(F_SETFL)` or `FIONBIO` in one process is
//! seen by every other process holding the socket (after fork, SCM_RIGHTS
//! or exec). In service mode the anchor is that open file (a unix socket
//! the kernel shares the same way), so the flag is written there too, as
//! the anchor's SO_PRIORITY (`ANCHOR_NONBLOCK`), which AF_UNIX ignores;
//! the anchor's own O_NONBLOCK cannot carry it, since the shim's waits
//! are blocking reads of the anchor.
//!
//! Each `OpenFile` keeps its own copy (`nonblock`), which is all that is
//! read while the open file has never left this process: the fast path
//! costs no system call. Once it may have been shared (`nb_shared`: a
//! fork, a descriptor sent or received by SCM_RIGHTS or inherited across
//! exec, a slot without `F_EXCLUSIVE`), the anchor's copy is read
//! instead (one getsockopt per call that asks), for good: the service's
//! `F_EXCLUSIVE` cannot tell that it is ours alone again, since a forked
//! child holds the anchor before it ever talks to the service. Every
//! change is written to both.

use std::sync::atomic::Ordering;

use crate::fdtable::OpenFile;
use crate::real::real;

/// The anchor's SO_PRIORITY when the open file is non-blocking (0 when
/// not: a new anchor's).
const ANCHOR_NONBLOCK: i32 = 1;

fn in_service() -> bool {
    crate::driver::shim_if_ready().is_some_and(|s| s.stack.remote().is_some())
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

/// Is the open file non-blocking now?
pub fn get(of: &OpenFile) -> bool {
    let local = of.nonblock.load(Ordering::Relaxed);
    if !in_service() {
        return local;
    }
    let alone = crate::client::slot(of.handle.as_u64()).map(|s| s.flag(proto::region::F_EXCLUSIVE));
    if alone == Some(false) {
        of.nb_shared.store(true, Ordering::Relaxed);
    } else if !of.nb_shared.load(Ordering::Relaxed) {
        return local;
    }
    let Some(v) = anchor_get(of.anchor()) else {
        return local;
    };
    of.nonblock.store(v, Ordering::Relaxed);
    v
}

/// Make the open file non-blocking or blocking (F_SETFL, FIONBIO, and
/// SOCK_NONBLOCK at creation).
pub fn set(of: &OpenFile, on: bool) {
    of.nonblock.store(on, Ordering::Relaxed);
    if in_service() {
        anchor_set(of.anchor(), on);
    }
}

/// These open files may now be held by another process too (a fork, an
/// SCM_RIGHTS send).
pub fn may_be_shared(files: &[std::sync::Arc<OpenFile>]) {
    for f in files {
        f.nb_shared.store(true, Ordering::Relaxed);
    }
}

/// An open file that came from elsewhere (SCM_RIGHTS, exec): its flag is
/// the anchor's.
pub fn adopted(of: &OpenFile) {
    of.nb_shared.store(true, Ordering::Relaxed);
    if let Some(v) = anchor_get(of.anchor()) {
        of.nonblock.store(v, Ordering::Relaxed);
    }
}
