//! The reference a blocking call holds on its socket while it waits
//! (invariant 1: an in-progress call holds one `so_count`). Linux's
//! recv/accept/connect/send hold the file from `fdget` to their return, so
//! a close() of the descriptor by another thread leaves the call waiting
//! and the connection open; the call later returns what arrives, and the
//! socket closes when the call lets go of the last reference.
//!
//! In-process stack: one `sodup` while waiting, released with the stack's
//! `close` (which is `soclose` if it was the last). Service: the kernel
//! counts the anchor's references, so the call holds a duplicate of the
//! anchor at a high, protected number and waits on it; dropping it tells
//! the service (`Closed`) when no descriptor of the open file is left here.
//!
//! The service's duplicate outlives the call, one per thread (`Dup` with
//! `in_use` false): a thread that blocks on the same socket again (a
//! server waiting for each request) reuses it, where a dup and a close
//! per wait were two of the program's six system calls per TCP_RR
//! transaction. It is closed when the thread waits on another socket,
//! when the open file's last descriptor here goes (`file_gone`, before
//! the service is told, so a last close still hangs the anchor up) and
//! in a fork child. A kept duplicate is no reference of a call: it is
//! not counted by `calls_on`/`holds`, and it never outlives the
//! descriptors it was taken beside.
//!
//! A call takes its reference only when it is about to wait, after a
//! first try (which in service mode may be a round trip). Linux's call
//! holds the file from its start, so a close() by another thread in
//! between must not end it either: each blocking call counts itself on
//! its open file from its start (`Entering`), and when the last
//! descriptor goes while such calls are in progress, a reference is kept
//! for them (`keep_for_calls`: a duplicate of the anchor, or a `sodup`)
//! and released by the last of them to return, which then tells the
//! service as a last close would have.

use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use crate::driver::{Shim, SHIM_FD_BASE};
use crate::fdtable::OpenFile;
use crate::real::real;

/// One reference a call took: a duplicate of the anchor (service), or
/// a `sodup` in-process (`fd` -1, counted for `refcheck`).
struct Dup {
    fd: i32,
    h: stack::SocketHandle,
    /// The open file it was taken from (identity only).
    file: usize,
    thread: std::thread::ThreadId,
    /// A call waits on it now (a kept duplicate has false).
    in_use: bool,
}

/// The references of this process's calls, waiting or kept (a handful:
/// one per thread that blocked on a socket).
static DUPS: Mutex<Vec<Dup>> = Mutex::new(Vec::new());

fn file_id(of: &OpenFile) -> usize {
    of as *const OpenFile as usize
}

impl Dup {
    /// A reference this thread takes on `of` now (`fd` -1: a sodup).
    fn in_use(fd: i32, of: &OpenFile) -> Dup {
        Dup {
            fd,
            h: of.handle,
            file: file_id(of),
            thread: std::thread::current().id(),
            in_use: true,
        }
    }
}

/// Calls of this process waiting on `h` (each holds one reference).
pub fn calls_on(h: stack::SocketHandle) -> u32 {
    DUPS.lock().iter().filter(|d| d.in_use && d.h == h).count() as u32
}

/// Does a call of this process wait on `h` (service mode)? Then the
/// process still holds the socket though no descriptor is left.
pub fn holds(h: stack::SocketHandle) -> bool {
    DUPS.lock().iter().any(|d| d.in_use && d.h == h)
}

/// `AnchorWait`'s mark of a reference kept for calls in the in-process
/// stack (a `sodup`); a positive mark is a duplicate of the anchor.
const KEPT_STACK_REF: i32 = -1;

/// A blocking call on `of`, from its start to its return (Linux's fdget
/// to fdput): counted on the open file, so that a close of its last
/// descriptor meanwhile keeps the socket for it (`keep_for_calls`).
/// Made before a `CallRef`, so dropped after it.
pub struct Entering<'a> {
    s: &'a Shim,
    of: &'a OpenFile,
}

impl<'a> Entering<'a> {
    pub fn start(s: &'a Shim, of: &'a OpenFile) -> Entering<'a> {
        of.anchor_wait.call_starts();
        Entering { s, of }
    }
}

impl Drop for Entering<'_> {
    fn drop(&mut self) {
        let kept = self.of.anchor_wait.call_ends();
        if kept == 0 {
            return;
        }
        let h = self.of.handle;
        {
            let mut dups = DUPS.lock();
            let fd = if kept == KEPT_STACK_REF { -1 } else { kept };
            if let Some(i) = dups.iter().position(|d| d.fd == fd && d.h == h && d.in_use) {
                dups.swap_remove(i);
            }
        }
        if let Some(st) = self.s.stack.local() {
            let _ = st.close(self.s.now(), h);
            self.s.after_op();
            return;
        }
        let _ = self
            .of
            .anchor
            .compare_exchange(kept, -1, Ordering::Relaxed, Ordering::Relaxed);
        crate::driver::unprotect_and_close(kept);
        // The last close, put off until now.
        crate::ops::closed(h);
    }
}

/// The last descriptor of `of` here is being closed (`fd`, still open;
/// None when it is gone already): if calls on it are in progress, keep a
/// reference for them, released by the last one to return (`Entering`).
/// Returns whether one is kept: then the service must not be told of the
/// close yet.
pub fn keep_for_calls(s: &Shim, of: &OpenFile, fd: Option<i32>) -> bool {
    of.anchor_wait.keep_for_calls(|| {
        if let Some(st) = s.stack.local() {
            if st.sodup(of.handle).is_err() {
                return 0;
            }
            DUPS.lock().push(Dup::in_use(-1, of));
            return KEPT_STACK_REF;
        }
        let Some(fd) = fd else { return 0 };
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) of the closing descriptor (still
        // open) to a number at SHIM_FD_BASE or above.
        let d = unsafe { (real().fcntl)(fd, libc::F_DUPFD_CLOEXEC, SHIM_FD_BASE as libc::c_ulong) };
        if d <= 0 {
            return 0;
        }
        crate::driver::protect(d);
        // In use, so no thread reuses or closes it as its own; a fork
        // child closes it with the rest (`forget_in_child`).
        DUPS.lock().push(Dup::in_use(d, of));
        of.anchor.store(d, Ordering::Relaxed);
        d
    })
}

/// One waiting call's reference; released on drop.
pub struct CallRef<'a> {
    s: &'a Shim,
    of: &'a OpenFile,
    /// Service: the duplicate of the anchor (-1 in-process).
    anchor: i32,
}

impl<'a> CallRef<'a> {
    /// Take the reference, or the errno when the socket is already gone
    /// (every descriptor closed before the call got here: EBADF).
    pub fn take(s: &'a Shim, of: &'a OpenFile) -> Result<CallRef<'a>, i32> {
        if let Some(st) = s.stack.local() {
            st.sodup(of.handle).map_err(|e| e.0)?;
            DUPS.lock().push(Dup::in_use(-1, of));
            return Ok(CallRef { s, of, anchor: -1 });
        }
        let a = of.anchor();
        if a < 0 {
            return Err(libc::EBADF);
        }
        let me = std::thread::current().id();
        let mut dups = DUPS.lock();
        // This thread's kept duplicate: of this open file, reused; of
        // another one, closed (a wait in a signal handler can nest, so
        // only duplicates no call of ours waits on).
        let mut i = 0;
        while i < dups.len() {
            let d = &mut dups[i];
            if d.thread == me && !d.in_use {
                if d.file == file_id(of) && d.h == of.handle {
                    d.in_use = true;
                    return Ok(CallRef {
                        s,
                        of,
                        anchor: d.fd,
                    });
                }
                crate::driver::unprotect_and_close(dups.swap_remove(i).fd);
                continue;
            }
            i += 1;
        }
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) of the anchor to a number at
        // SHIM_FD_BASE or above, so the program's lowest free fd is kept.
        let d = unsafe { (real().fcntl)(a, libc::F_DUPFD_CLOEXEC, SHIM_FD_BASE as libc::c_ulong) };
        if d < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
        crate::driver::protect(d);
        dups.push(Dup::in_use(d, of));
        Ok(CallRef { s, of, anchor: d })
    }

    /// The descriptor to wait on (service): the call's own duplicate.
    pub fn anchor(&self) -> i32 {
        self.anchor
    }
}

impl Drop for CallRef<'_> {
    fn drop(&mut self) {
        if let Some(st) = self.s.stack.local() {
            {
                let mut dups = DUPS.lock();
                let h = self.of.handle;
                if let Some(i) = dups.iter().position(|d| d.fd < 0 && d.h == h) {
                    dups.swap_remove(i);
                }
            }
            let _ = st.close(self.s.now(), self.of.handle);
            self.s.after_op();
            return;
        }
        let gone = self.of.fd_count.load(Ordering::Relaxed) == 0;
        // Calls still in progress hold the socket through a kept
        // reference: the last of them tells the service (`Entering`).
        let kept = gone && self.of.anchor_wait.kept_for_calls();
        {
            let mut dups = DUPS.lock();
            if let Some(i) = dups.iter().position(|d| d.fd == self.anchor && d.in_use) {
                if gone {
                    // No descriptor left: the duplicate must not keep
                    // the socket open.
                    crate::driver::unprotect_and_close(dups.swap_remove(i).fd);
                } else {
                    dups[i].in_use = false;
                }
            }
        }
        // Was this the last reference here? Then the service checks for
        // the anchor's hang-up (the last one anywhere) and closes it.
        if gone && !kept {
            crate::ops::closed(self.of.handle);
        }
    }
}

/// The last descriptor of `of` in this process is being closed: close the
/// duplicates no call waits on (before the service is told, so that it
/// sees the hang-up if this was the last reference anywhere).
pub fn file_gone(of: &OpenFile) {
    let mut dups = DUPS.lock();
    let mut i = 0;
    while i < dups.len() {
        let d = &dups[i];
        if d.fd >= 0 && d.file == file_id(of) && d.h == of.handle && !d.in_use {
            crate::driver::unprotect_and_close(dups.swap_remove(i).fd);
        } else {
            i += 1;
        }
    }
}

/// Held across fork() (pthread_atfork prepare), so that the child finds
/// the list whole and unlocked.
pub fn lock_for_fork() {
    std::mem::forget(DUPS.lock());
}

/// After fork(), in the parent and in the child.
pub fn unlock_after_fork() {
    // SAFETY: paired with `lock_for_fork` in this process image, which
    // leaked a guard of this lock.
    unsafe { DUPS.force_unlock() }
}

/// In a fork child: close every duplicate (no call of the child waits on
/// one, and a kept one would hold the socket open after the child closed
/// its descriptors). The list was unlocked first (`unlock_after_fork`).
pub fn forget_in_child() {
    for d in DUPS.lock().drain(..) {
        if d.fd >= 0 {
            crate::driver::unprotect_and_close_in_child(d.fd);
        }
    }
}
