//! poll/ppoll/select/pselect over any mix of stack sockets and kernel fds.
//! Sets without stack sockets go to the real call (lib.rs). Otherwise:
//! loop { readiness of stack sockets from the stack; kernel fds through a
//! real ppoll — zero timeout if something is ready, else blocking, together
//! with this thread's eventfd, which sits on the wait lists of the stack
//! sockets in the set }. The blocking ppoll carries the caller's signal
//! mask and returns EINTR on a signal exactly as the kernel's would.

use std::sync::Arc;
use std::time::Duration;

use stack::{Errno, SocketHandle};

use crate::fdtable::{OpenFile, TABLE};
use crate::guard;
use crate::readiness::{self, FdBits};
use crate::runtime;
use crate::sys;
use crate::wait::{deadline_after, Registration};

/// True if any fd in the set is a stack socket.
pub fn has_stack_fds(fds: &[libc::pollfd]) -> bool {
    fds.iter().any(|p| p.fd >= 0 && TABLE.contains(p.fd))
}

fn remaining(deadline: Option<u64>) -> Option<Duration> {
    deadline.map(|d| Duration::from_micros(d.saturating_sub(sys::monotonic_micros())))
}

/// The emulated poll: fills `revents`, returns the count of ready entries.
pub fn poll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    sigmask: Option<&libc::sigset_t>,
) -> Result<usize, Errno> {
    if fds.len() as u64 > sys::nofile_limit() {
        return Err(Errno::EINVAL);
    }
    let deadline = deadline_after(timeout);
    let files: Vec<Option<Arc<OpenFile>>> = fds
        .iter()
        .map(|p| if p.fd >= 0 { TABLE.get(p.fd) } else { None })
        .collect();
    let shim = runtime::for_socket().ok();
    let kernel: Vec<usize> = (0..fds.len())
        .filter(|&i| fds[i].fd >= 0 && files[i].is_none())
        .collect();
    let mut handles: Vec<SocketHandle> = files.iter().flatten().map(|f| f.handle).collect();
    handles.sort_unstable();
    handles.dedup();
    let mut registration: Option<Registration> = None;
    let mut kset: Vec<libc::pollfd> = Vec::with_capacity(kernel.len() + 1);
    loop {
        let mut count = 0;
        for (i, file) in files.iter().enumerate() {
            fds[i].revents = 0;
            if let Some(f) = file {
                let ready = match shim {
                    Some(s) => s.stack.sopoll(f.handle),
                    None => stack::Readiness::NVAL,
                };
                fds[i].revents = readiness::revents(ready, fds[i].events);
                if fds[i].revents != 0 {
                    count += 1;
                }
            }
        }
        let wait = if count > 0 {
            Some(Duration::ZERO)
        } else {
            remaining(deadline)
        };
        let blocking = wait != Some(Duration::ZERO);
        if blocking && registration.is_none() {
            if let Some(s) = shim {
                // Register, then look again: no wake-up can be lost.
                registration = Some(Registration::new(s, handles.clone(), false)?);
                continue;
            }
        }
        kset.clear();
        kset.extend(kernel.iter().map(|&i| libc::pollfd {
            fd: fds[i].fd,
            events: fds[i].events,
            revents: 0,
        }));
        let event_slot = match (&registration, blocking) {
            (Some(r), true) => {
                kset.push(libc::pollfd {
                    fd: r.eventfd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                Some(kset.len() - 1)
            }
            _ => None,
        };
        if !kset.is_empty() || blocking {
            guard::outside(|| sys::ppoll(&mut kset, wait, sigmask))?;
        }
        for (k, &i) in kernel.iter().enumerate() {
            fds[i].revents = kset[k].revents;
            if fds[i].revents != 0 {
                count += 1;
            }
        }
        if count > 0 || !blocking {
            return Ok(count);
        }
        if let Some(slot) = event_slot {
            if kset[slot].revents & libc::POLLIN != 0 {
                let _ = sys::eventfd_wait(kset[slot].fd);
            }
        }
        // Woken, or the timeout passed: look again (a final zero-wait pass).
    }
}

/// The emulated select: sets are rewritten in place; returns the count.
pub fn select(
    nfds: usize,
    mut r: FdBits,
    mut w: FdBits,
    mut e: FdBits,
    timeout: Option<Duration>,
    sigmask: Option<&libc::sigset_t>,
) -> Result<usize, Errno> {
    let mut polled = readiness::select_to_poll(nfds, &r, &w, &e);
    poll(&mut polled, timeout, sigmask)?;
    readiness::poll_to_select(nfds, &polled, &mut r, &mut w, &mut e)
}
