//! The accept side of a shadow listener (issue 19, loopback.rs): a
//! listener of ours whose reservation listens in the kernel too takes
//! connections from both stacks in arrival order. Kernel connections are
//! taken off the kernel's queue one at a time (per kernel socket) and
//! stamped with TCP_INFO's last-receive time, against our stack's
//! `accept_head_rcvtime`; one from the kernel is handed over as that
//! kernel socket. A blocking accept waits on both (`wait_any`, which the
//! UDP shadow's receive uses too).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use stack::SockType;

use crate::driver::Shim;
use crate::fdslot::FdSlot;
use crate::fdtable::OpenFile;
use crate::loopback::{errno, shadow_fds, Reservation};
use crate::ops::{self, R};
use crate::real::real;

/// A connection the kernel side of a shadow listener accepted, waiting
/// for the program's accept (held at a high fd).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) fd: i32,
    /// The kernel socket it came from (one half of a dual-stack `[::]`).
    from: i32,
    peer: SocketAddr,
    /// When it last received a segment (monotonic micros), as the stack's
    /// `accept_head_rcvtime`: the order of the two queues.
    rcvtime: u64,
}

/// Take the head of the kernel's queue on each of the shadow listener's
/// kernel sockets, unless one from there is waiting already (so its
/// arrival can be ordered against our stack's queue). One at a time: the
/// rest stay in the kernel's queue, where another process sharing the
/// listener (fork) can take them.
pub(crate) fn take_kernel_side(r: &mut Reservation) {
    for from in [r.fd, r.fd4] {
        if from < 0 || r.pending.iter().any(|p| p.from == from) {
            continue;
        }
        let mut b = [0u8; 28];
        let mut len = 28 as libc::socklen_t;
        let fd = crate::driver::new_high_fd(|| {
            // SAFETY: accept4 on our listener into a local sockaddr buffer.
            unsafe {
                (real().accept4)(
                    from,
                    b.as_mut_ptr().cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            }
        });
        if fd < 0 {
            continue;
        }
        let port = u16::from_be_bytes([b[2], b[3]]);
        let peer = if u16::from_ne_bytes([b[0], b[1]]) as i32 == libc::AF_INET6 {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            SocketAddr::V6(SocketAddrV6::new(ip.into(), port, 0, scope))
        } else {
            SocketAddr::new(Ipv4Addr::new(b[4], b[5], b[6], b[7]).into(), port)
        };
        // TCP_INFO's tcpi_last_data_recv (offset 52): milliseconds since
        // it last received data, or since the handshake completed.
        let mut ti = [0u8; 104];
        let mut tl = ti.len() as libc::socklen_t;
        // SAFETY: a buffer of its length for TCP_INFO.
        unsafe {
            (real().getsockopt)(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                ti.as_mut_ptr().cast(),
                &mut tl,
            )
        };
        let ms = u32::from_ne_bytes([ti[52], ti[53], ti[54], ti[55]]) as u64;
        let rcvtime = crate::driver::monotonic_us().saturating_sub(ms * 1000);
        let at = r.pending.partition_point(|p| p.rcvtime <= rcvtime);
        r.pending.insert(
            at,
            Pending {
                fd,
                from,
                peer,
                rcvtime,
            },
        );
    }
}

/// accept(2) on a shadow listener: the next connection from either stack,
/// the older first, at the number `slot` reserved. One from the kernel is
/// handed over as that kernel socket (with the caller's flags); ours as
/// usual. `None`: `of` has no shadow listener (the caller accepts as
/// before).
pub fn accept(
    s: &Shim,
    of: &OpenFile,
    flags: i32,
    slot: &mut FdSlot,
) -> Option<R<(i32, SocketAddr)>> {
    if of.ty != SockType::Stream {
        return None;
    }
    let [res, res4] = shadow_fds(of)?;
    let cloexec = flags & libc::SOCK_CLOEXEC != 0;
    let nonblock = of.is_nonblock();
    let deadline = crate::wait::deadline_after(of.timeout(true));
    let local = s.stack.local().is_some();
    let evfd = if local {
        crate::wait::thread_evfd()
    } else {
        -1
    };
    // The call's reference while it waits (see callref.rs).
    let mut held: Option<crate::callref::CallRef> = None;
    loop {
        for wait in [false, true] {
            if wait {
                if nonblock {
                    return Some(Err(libc::EAGAIN));
                }
                if held.is_none() {
                    match crate::callref::CallRef::take(s, of) {
                        Ok(h) => held = Some(h),
                        Err(x) => return Some(Err(x)),
                    }
                }
                if local {
                    s.register(of.handle, evfd);
                } else {
                    crate::wait::drain_token(held.as_ref().map_or(-1, |h| h.anchor()));
                }
            }
            if let Some(r) = accept_one(s, of, flags, cloexec, wait, slot) {
                if wait && local {
                    s.unregister(of.handle, evfd);
                }
                return Some(r);
            }
        }
        // Sleep on both stacks: our side's wake-up (the eventfd, or the
        // service's token on the anchor) and the kernel listener.
        let first = if local {
            evfd
        } else {
            held.as_ref().map_or(-1, |h| h.anchor())
        };
        let w = wait_any(&[first, res, res4], deadline);
        if local {
            s.unregister(of.handle, evfd);
            crate::wait::drain(evfd);
        }
        match w {
            // The kernel restarts a blocking accept under SA_RESTART
            // (one without SO_RCVTIMEO); poll is not restarted, so ask.
            Err(libc::EINTR) if deadline.is_none() && crate::wait::handlers_restart() => {}
            Err(x) => return Some(Err(x)),
            Ok(()) => {}
        }
    }
}

/// One try: Some(result) when a connection was taken or an error other
/// than EAGAIN came; None when neither stack has one.
fn accept_one(
    s: &Shim,
    of: &OpenFile,
    flags: i32,
    cloexec: bool,
    wait: bool,
    slot: &mut FdSlot,
) -> Option<R<(i32, SocketAddr)>> {
    let kernel_first = {
        let mut g = of.kside.lock();
        let r = g.as_mut()?;
        take_kernel_side(r);
        let k = r.pending.front().map(|p| p.rcvtime);
        match k {
            None => false,
            Some(kt) => s
                .stack
                .accept_head_rcvtime(of.handle)
                .is_none_or(|st| kt <= st),
        }
    };
    if kernel_first {
        let p = of.kside.lock().as_mut()?.pending.pop_front()?;
        return Some(hand_over(p, flags, cloexec, slot));
    }
    match s.stack.remote() {
        Some(r) => match r.accept(
            of.handle,
            of.anchor.load(std::sync::atomic::Ordering::Relaxed),
            wait,
            cloexec,
            slot,
        ) {
            Ok((h, peer, anchor)) => Some(Ok(install_accepted(s, of, anchor, h, peer, flags))),
            Err(stack::Errno::EAGAIN) => None,
            Err(x) => Some(Err(x.0)),
        },
        None => {
            // The slot's placeholder is the anchor (FdSlot::anchor).
            let st = s.stack.local()?;
            let r = st.accept(of.handle);
            s.after_op();
            match r {
                Ok((h, peer)) => {
                    let fd = install_accepted(s, of, slot.fd(), h, peer, flags);
                    slot.keep();
                    Some(Ok(fd))
                }
                Err(x) => (x != stack::Errno::EAGAIN).then_some(Err(x.0)),
            }
        }
    }
}

/// A connection our stack accepted on listener `of` becomes the
/// program's, under `anchor`.
fn install_accepted(
    s: &Shim,
    of: &OpenFile,
    anchor: i32,
    h: stack::SocketHandle,
    peer: SocketAddr,
    flags: i32,
) -> (i32, SocketAddr) {
    let nonblock = flags & libc::SOCK_NONBLOCK != 0;
    let file = OpenFile::new(h, of.domain, of.ty, nonblock);
    ops::install(s, anchor, Arc::new(file));
    ops::inherit_bound_dev(s, of, anchor);
    (anchor, peer)
}

/// A kernel-side connection becomes the program's: at the reserved
/// number, O_NONBLOCK and FD_CLOEXEC as accept4's flags say.
fn hand_over(p: Pending, flags: i32, cloexec: bool, slot: &mut FdSlot) -> R<(i32, SocketAddr)> {
    let real = real();
    // Off the protected number first, as its own fd (the slot's dup3
    // then moves it onto the reserved number).
    let fd = crate::driver::dup_low(p.fd, cloexec);
    let err = errno();
    crate::driver::unprotect_and_close(p.fd);
    if fd < 0 {
        return Err(err);
    }
    let fd = slot.fill(fd, cloexec);
    if flags & libc::SOCK_NONBLOCK == 0 {
        // SAFETY: fcntl on the new fd.
        unsafe {
            let fl = (real.fcntl)(fd, libc::F_GETFL, 0);
            (real.fcntl)(fd, libc::F_SETFL, (fl & !libc::O_NONBLOCK) as libc::c_ulong);
        }
    }
    Ok((fd, p.peer))
}

/// Wait until one of `fds` is readable (a negative one is skipped) or
/// `deadline` passes (EAGAIN). A signal gives EINTR (poll(2) is never
/// restarted: the caller decides).
pub(crate) fn wait_any(fds: &[i32; 3], deadline: Option<std::time::Instant>) -> R<()> {
    let ms = match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(libc::EAGAIN);
            }
            crate::wait::poll_ms(left)
        }
    };
    let mut p = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: three valid pollfds.
    let r = unsafe { (real().poll)(p.as_mut_ptr(), 3, ms) };
    if r < 0 {
        return Err(errno());
    }
    if r == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
        return Err(libc::EAGAIN);
    }
    Ok(())
}
