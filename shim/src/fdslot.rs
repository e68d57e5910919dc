//! The descriptor number accept(2) will return, reserved when the call
//! starts. Linux's `__sys_accept4_file` takes the number with
//! `get_unused_fd_flags` before it blocks and puts the new socket there
//! with `fd_install` at the end, so a file another thread opens while
//! accept waits gets the next number, and the connection the lowest one
//! free at the call's start. (c-test 298_accept_reserved_fd.)
//!
//! The number is held by a placeholder: in-process the new connection's
//! anchor itself (made before the wait, it becomes the program's fd); with
//! the service, whose anchor arrives by SCM_RIGHTS wherever the kernel puts
//! it, an `O_PATH` descriptor of "/" (reads and writes on it fail with
//! EBADF, as on a number not installed; close-on-exec), which the arriving
//! anchor replaces by `dup3`. A kernel connection of a shadow listener
//! (shadow_accept.rs) is moved onto the number the same way.
//!
//! While a number is reserved, no other thread sees a socket there (the fd
//! table has no entry for it), its close(2) fails with EBADF and a dup2(2)
//! onto it with EBUSY, as Linux's for a number reserved but not installed.
//! A fork child drops the reservations (the number is free there, as
//! Linux's `dup_fd` leaves it).
//!
//! Left as is: a close_range(2) over the number by another thread closes
//! the placeholder, where Linux skips it.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::ops::R;
use crate::real::real;

/// The reserved numbers (a handful: one per thread in accept).
static RESERVED: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// `RESERVED.len()`, read without the lock by every close.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn errno() -> i32 {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// One reserved number; the placeholder is closed on drop unless the
/// number became the program's descriptor (`keep`, `fill`).
#[derive(Debug)]
pub struct FdSlot {
    /// The number, -1 once given up (`keep`, `fill`, `give_up`).
    fd: i32,
}

impl FdSlot {
    /// The lowest free number, held by an `O_PATH` placeholder; EMFILE
    /// (or ENFILE) when none is free, as accept's `get_unused_fd_flags`.
    pub fn reserve() -> R<FdSlot> {
        let _alloc = crate::driver::FD_ALLOC.lock();
        // SAFETY: openat(2) of a constant path; the raw syscall, as libc's
        // open may be interposed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        } as i32;
        Self::hold(fd)
    }

    /// The lowest free number, held by a new anchor (in-process), which
    /// becomes the accepted socket's (`keep`).
    pub fn anchor(cloexec: bool) -> R<FdSlot> {
        Self::hold(crate::driver::new_anchor(cloexec))
    }

    /// Is a number free? Linux's accept takes one before it looks at the
    /// queue, so a non-blocking accept on an empty queue with no number
    /// free is EMFILE, not EAGAIN. Asked of the kernel without making
    /// anything: accept4(2) on `not_a_socket` (a descriptor of ours that is
    /// no socket) takes a number, then fails with ENOTSOCK and gives it
    /// back. One cheap system call, where making an anchor and closing it
    /// again (socket(2) and close(2) of an AF_UNIX socket) cost a new
    /// inode each time: 8 % of a shimmed epoll server's time, which calls
    /// accept until EAGAIN after each connection.
    pub fn probe(not_a_socket: i32) -> R<()> {
        // SAFETY: accept4 with null address pointers; it fails before
        // touching anything (ENOTSOCK) or at the number (EMFILE).
        let r = unsafe {
            libc::syscall(
                libc::SYS_accept4,
                not_a_socket,
                std::ptr::null_mut::<libc::sockaddr>(),
                std::ptr::null_mut::<libc::socklen_t>(),
                0,
            )
        };
        match (r, errno()) {
            (r, _) if r >= 0 => {
                // Cannot happen on a descriptor that is no socket; give
                // the number back all the same.
                // SAFETY: the descriptor the kernel just made for us.
                unsafe { (real().close)(r as i32) };
                Ok(())
            }
            (_, libc::ENOTSOCK) => Ok(()),
            (_, e) => Err(e),
        }
    }

    fn hold(fd: i32) -> R<FdSlot> {
        if fd < 0 {
            return Err(errno());
        }
        let mut g = RESERVED.lock();
        g.push(fd);
        COUNT.store(g.len(), Ordering::Relaxed);
        Ok(FdSlot { fd })
    }

    /// The reserved number (-1 once given up).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// The placeholder stays as the program's descriptor (an anchor made
    /// by `anchor`, installed in the fd table by the caller first).
    pub fn keep(&mut self) -> i32 {
        let fd = self.fd;
        unreserve(fd);
        self.fd = -1;
        fd
    }

    /// `got` moves onto the reserved number (close-on-exec as `cloexec`
    /// says) and is closed; returns the number. Without a number (given
    /// up by `give_up`) or if dup3 fails, `got` stays where it is.
    pub fn fill(&mut self, got: i32, cloexec: bool) -> i32 {
        if self.fd < 0 || got == self.fd {
            return self.keep_or(got);
        }
        let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
        // SAFETY: dup3 of our own fd onto our own placeholder.
        if unsafe { (real().dup3)(got, self.fd, flags) } < 0 {
            self.release();
            return got;
        }
        // SAFETY: `got` is ours and now duplicated onto the number.
        unsafe { (real().close)(got) };
        self.keep()
    }

    fn keep_or(&mut self, got: i32) -> i32 {
        if self.fd == got {
            self.keep()
        } else {
            got
        }
    }

    /// Give the number up (the placeholder held the last free one, and
    /// an anchor arriving by SCM_RIGHTS needs one): the anchor then takes
    /// the lowest free number on arrival, as before reservations.
    pub fn give_up(&mut self) {
        self.release();
    }

    /// Close the placeholder: the number is free again.
    fn release(&mut self) {
        if self.fd >= 0 {
            unreserve(self.fd);
            // SAFETY: closing our own placeholder.
            unsafe { (real().close)(self.fd) };
            self.fd = -1;
        }
    }
}

impl Drop for FdSlot {
    fn drop(&mut self) {
        self.release();
    }
}

fn unreserve(fd: i32) {
    let mut g = RESERVED.lock();
    g.retain(|&r| r != fd);
    COUNT.store(g.len(), Ordering::Relaxed);
}

/// Is `fd` reserved by an accept of this process (not yet installed)?
pub fn is_reserved(fd: i32) -> bool {
    COUNT.load(Ordering::Relaxed) != 0 && RESERVED.lock().contains(&fd)
}

/// In a fork child: no accept of the child reserved anything; close the
/// placeholders it inherited. Skipped if another thread of the parent
/// held the list at fork (the child then keeps them; rare).
pub fn forget_in_child() {
    if let Some(mut g) = RESERVED.try_lock() {
        for fd in g.drain(..) {
            // SAFETY: the child's copy of a placeholder.
            unsafe { (real().close)(fd) };
        }
        COUNT.store(0, Ordering::Relaxed);
    }
}
