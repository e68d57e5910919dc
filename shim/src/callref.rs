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

use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use crate::driver::{Shim, SHIM_FD_BASE};
use crate::fdtable::OpenFile;
use crate::real::real;

/// The anchor duplicates held by calls now waiting (closed in a fork
/// child, whose copies of them no call holds); -1 for a call's `sodup`
/// in-process (counted for `refcheck`).
static HELD: Mutex<Vec<(i32, stack::SocketHandle)>> = Mutex::new(Vec::new());

/// Calls of this process waiting on `h` (each holds one reference).
pub fn calls_on(h: stack::SocketHandle) -> u32 {
    HELD.lock().iter().filter(|&&(_, x)| x == h).count() as u32
}

/// Does a call of this process wait on `h` (service mode)? Then the
/// process still holds the socket though no descriptor is left.
pub fn holds(h: stack::SocketHandle) -> bool {
    HELD.lock().iter().any(|&(_, x)| x == h)
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
            HELD.lock().push((-1, of.handle));
            return Ok(CallRef { s, of, anchor: -1 });
        }
        let a = of.anchor();
        if a < 0 {
            return Err(libc::EBADF);
        }
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) of the anchor to a number at
        // SHIM_FD_BASE or above, so the program's lowest free fd is kept.
        let d = unsafe { (real().fcntl)(a, libc::F_DUPFD_CLOEXEC, SHIM_FD_BASE as libc::c_ulong) };
        if d < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
        crate::driver::protect(d);
        HELD.lock().push((d, of.handle));
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
                let mut held = HELD.lock();
                let h = self.of.handle;
                if let Some(i) = held.iter().position(|&(d, x)| d < 0 && x == h) {
                    held.swap_remove(i);
                }
            }
            let _ = st.close(self.s.now(), self.of.handle);
            self.s.after_op();
            return;
        }
        HELD.lock().retain(|&(d, _)| d != self.anchor);
        crate::driver::unprotect_and_close(self.anchor);
        // Was this the last reference here? Then the service checks for
        // the anchor's hang-up (the last one anywhere) and closes it.
        if self.of.fd_count.load(Ordering::Relaxed) == 0 {
            crate::ops::closed(self.of.handle);
        }
    }
}

/// In a fork child: close the duplicates the parent's waiting calls hold
/// (no call of the child holds them).
pub fn forget_in_child() {
    let Some(mut held) = HELD.try_lock() else {
        return;
    };
    for (d, _) in held.drain(..) {
        if d >= 0 {
            crate::driver::unprotect_and_close_in_child(d);
        }
    }
}
