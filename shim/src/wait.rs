//! Blocking without spinning, interruptible like the kernel: each thread
//! owns one eventfd (at a protected high fd number); a blocking call puts it
//! on the wait lists of the sockets it waits for and sleeps in a real
//! `read()` of it (restarted by the kernel under SA_RESTART, EINTR
//! otherwise), or in `poll()` when a timeout applies (never restarted, as
//! Linux does for sockets with SO_RCVTIMEO/SO_SNDTIMEO). Whoever changes a
//! socket's readiness writes to the eventfds on its list (runtime.rs).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::time::Duration;

use stack::{Errno, SocketHandle};

use crate::runtime::Shim;
use crate::{guard, protected, sys};

struct ThreadEvent {
    fd: Cell<RawFd>,
}

impl Drop for ThreadEvent {
    fn drop(&mut self) {
        let fd = self.fd.get();
        if fd >= 0 {
            protected::close_own(fd);
        }
    }
}

thread_local! {
    static THREAD_EVENT: ThreadEvent = const { ThreadEvent { fd: Cell::new(-1) } };
}

/// This thread's eventfd, created on first use. While the thread is being
/// torn down a fresh one is made per call (and leaked to the caller, who
/// closes it through `Registration`).
fn thread_eventfd() -> Result<(RawFd, bool), Errno> {
    let cached = THREAD_EVENT.try_with(|t| t.fd.get()).ok();
    match cached {
        Some(fd) if fd >= 0 => Ok((fd, false)),
        Some(_) => {
            let fd = protected::move_high(sys::eventfd()?)?;
            let _ = THREAD_EVENT.try_with(|t| t.fd.set(fd));
            Ok((fd, false))
        }
        None => Ok((protected::move_high(sys::eventfd()?)?, true)),
    }
}

/// This thread's eventfd on the wait lists of some sockets; taken off them
/// when dropped. With `hold`, it also holds a descriptor reference on the
/// socket (so_count) for the time of the call, as an in-progress kernel
/// call holds its file.
pub struct Registration<'a> {
    shim: &'a Shim,
    handles: Vec<SocketHandle>,
    fd: RawFd,
    temporary_fd: bool,
    held: bool,
}

impl<'a> Registration<'a> {
    pub fn new(shim: &'a Shim, handles: Vec<SocketHandle>, hold: bool) -> Result<Self, Errno> {
        let (fd, temporary_fd) = thread_eventfd()?;
        shim.add_waiter(&handles, fd);
        let held = hold && handles.len() == 1 && shim.stack.sodup(handles[0]).is_ok();
        Ok(Registration {
            shim,
            handles,
            fd,
            temporary_fd,
            held,
        })
    }

    pub fn eventfd(&self) -> RawFd {
        self.fd
    }

    /// Sleeps until woken, `deadline` (monotonic µs) passes, or a signal.
    pub fn wait(&self, deadline: Option<u64>) -> Result<Wake, Errno> {
        match deadline {
            None => {
                guard::outside(|| sys::eventfd_wait(self.fd))?;
                Ok(Wake::Woken)
            }
            Some(deadline) => {
                let now = sys::monotonic_micros();
                if now >= deadline {
                    return Ok(Wake::TimedOut);
                }
                let mut pfd = [libc::pollfd {
                    fd: self.fd,
                    events: libc::POLLIN,
                    revents: 0,
                }];
                let left = Duration::from_micros(deadline - now);
                let n = guard::outside(|| sys::ppoll(&mut pfd, Some(left), None))?;
                if n == 0 {
                    return Ok(Wake::TimedOut);
                }
                let _ = sys::eventfd_wait(self.fd);
                Ok(Wake::Woken)
            }
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shim.remove_waiter(&self.handles, self.fd);
        if self.held {
            self.shim.release(self.handles[0]);
        }
        if self.temporary_fd {
            protected::close_own(self.fd);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    Woken,
    TimedOut,
}

/// A timeout as a monotonic deadline in µs (None = forever).
pub fn deadline_after(timeout: Option<Duration>) -> Option<u64> {
    timeout
        .map(|d| sys::monotonic_micros().saturating_add(d.as_micros().min(u64::MAX as u128) as u64))
}

/// Runs a non-blocking stack operation as a blocking call: retries it while
/// it returns EAGAIN, sleeping between tries, unless `nonblocking`. A
/// timeout returns `on_timeout`; a signal returns EINTR.
pub fn retry<T>(
    shim: &Shim,
    handle: SocketHandle,
    nonblocking: bool,
    timeout: Option<Duration>,
    on_timeout: Errno,
    mut attempt: impl FnMut(&Shim) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let first = attempt(shim);
    shim.after_call();
    match first {
        Err(Errno::EAGAIN) if !nonblocking => {}
        r => return r,
    }
    let deadline = deadline_after(timeout);
    let reg = Registration::new(shim, vec![handle], true)?;
    loop {
        let r = attempt(shim);
        shim.after_call();
        match r {
            Err(Errno::EAGAIN) => {}
            r => return r,
        }
        if reg.wait(deadline)? == Wake::TimedOut {
            return Err(on_timeout);
        }
    }
}
