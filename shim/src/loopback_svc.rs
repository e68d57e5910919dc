//! Loopback reservations and hand-overs shared through the stack service
//! (issue 19, SOCKSHIM_MODE=service; service/src/reservation.rs): the
//! binding process passes its reservation to the service, which holds it
//! as long as the socket has a descriptor anywhere, and another process
//! holding the socket (an exec'd image, a fork child, a receiver by
//! SCM_RIGHTS) takes a copy when it needs one; a socket that became a
//! kernel socket at a loopback connect is left with the service, and the
//! other processes holding it take that kernel socket in its place. In
//! process mode (no status region) none of this does anything.

use std::sync::Arc;

use stack::SockType;

use crate::driver::Shim;
use crate::fdtable::OpenFile;
use crate::loopback::{swap_in, Reservation};

/// With the stack service, the socket's kernel socket is left with the
/// service: another process that holds the socket too (a fork,
/// SCM_RIGHTS) takes it in its place (`adopt_if_moved`), as they share
/// the socket on Linux. (Always: `F_EXCLUSIVE` cannot tell, a forked
/// child holds the socket before it ever talks to the service.)
pub(crate) fn tell_service_moved(s: &Shim, of: &OpenFile, k: i32) {
    if let Some(r) = s.stack.remote() {
        let _ = r.moved(of.handle, k);
    }
}

/// The kernel's port space said EADDRINUSE to a reservation's bind: a
/// socket whose last descriptor is gone may still hold the port there,
/// its reservation held by the service until it sees the anchor hang up
/// (a close that returned without asking, this process's or another's).
/// True once the service has closed every such socket (`Settle`): worth
/// a second bind. False in process mode.
pub fn settle() -> bool {
    let Some(r) = crate::driver::shim_if_ready().and_then(|s| s.stack.remote()) else {
        return false;
    };
    r.settle().is_ok()
}

/// Has `of` become a kernel socket in another process (the service says
/// so in its slot)?
pub fn moved(of: &OpenFile) -> bool {
    crate::client::slot(of.handle.as_u64()).is_some_and(|sl| sl.flag(proto::region::F_MOVED))
}

/// `of`, held under `fd`, became a kernel socket in another process: take
/// that kernel socket in its place here too (every descriptor of `of`,
/// their epoll entries). True when it did: `fd` is a kernel socket now.
pub fn adopt_if_moved(fd: i32, of: &Arc<OpenFile>) -> bool {
    if !moved(of) {
        return false;
    }
    // Called outside the exports' panic guard (lib.rs `ours`).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| adopt(fd, of))).unwrap_or(false)
}

fn adopt(fd: i32, of: &Arc<OpenFile>) -> bool {
    let Some(s) = crate::driver::shim_if_ready() else {
        return false;
    };
    let Some(r) = s.stack.remote() else {
        return false;
    };
    let k = match r.reservation(of.handle, 0) {
        Ok(k) => crate::driver::to_high_fd(k),
        Err(_) => return false,
    };
    let done = swap_in(s, of, k);
    crate::driver::unprotect_and_close(k);
    crate::log::debug(&format!(
        "sockshim: fd {fd} took the kernel socket it became in another process: {done:?}"
    ));
    done.is_ok()
}

/// With the stack service, the service holds the reservation as long as
/// the socket lives (service/src/reservation.rs): the binding process
/// gives it a copy. A failure leaves the reservation to this process.
pub(crate) fn hand_to_service(s: &Shim, of: &OpenFile, ks: &[i32; 2]) {
    let Some(r) = s.stack.remote() else { return };
    let ks: Vec<i32> = ks.iter().copied().filter(|&k| k >= 0).collect();
    if let Err(x) = r.reserved(of.handle, &ks) {
        crate::log::warn_once(&format!(
            "sockshim: the service did not take a loopback reservation ({x:?}): it lasts as long as this process's descriptor"
        ));
    }
}

/// With the stack service: the service holds a reservation for `of` (its
/// slot says so) that this process has no copy of, or has one that does
/// not know it listens (an exec'd image, a socket received by
/// SCM_RIGHTS, one that another process bound or made listen after a
/// fork): take a copy, or mark it listening. Without a region, or in
/// process mode, nothing.
pub(crate) fn sync_with_service(of: &OpenFile) {
    let Some(slot) = crate::client::slot(of.handle.as_u64()) else {
        return;
    };
    if !slot.flag(proto::region::F_RESERVED) {
        return;
    }
    let listens = of.ty == SockType::Stream && slot.flag(proto::region::F_LISTENING);
    if let Some(r) = of.kside.lock().as_mut() {
        // A listener's reservation listened first (`listen`).
        r.listening |= listens;
        return;
    }
    let Some(remote) = crate::driver::shim_if_ready().and_then(|s| s.stack.remote()) else {
        return;
    };
    let mut ks = [-1; 2];
    for (i, k) in ks.iter_mut().enumerate() {
        match remote.reservation(of.handle, i as u8) {
            Ok(fd) => *k = crate::driver::to_high_fd(fd),
            Err(_) => break,
        }
    }
    if ks[0] < 0 {
        return;
    }
    let mut g = of.kside.lock();
    if g.is_some() {
        // Another thread took one meanwhile.
        drop(g);
        for k in ks.into_iter().filter(|&k| k >= 0) {
            crate::driver::unprotect_and_close(k);
        }
        return;
    }
    *g = Some(Box::new(Reservation {
        fd: ks[0],
        fd4: ks[1],
        listening: listens,
        pending: Default::default(),
    }));
}
