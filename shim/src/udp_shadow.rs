//! The UDP shadow (issue 19): a UDP socket of ours bound to loopback or
//! the wildcard holds a kernel UDP socket on the same port (its
//! reservation, loopback.rs). A kernel program's datagram to that port
//! lands there: a receive takes datagrams from both stacks (ours first
//! when both have one), poll, select and epoll see both, and a send to a
//! loopback address only the kernel serves leaves through the
//! reservation, so the reply comes from the address the client sent to.
//! A datagram from the kernel carries no control messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use stack::linux::{MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC};
use stack::SockType;

use crate::driver::Shim;
use crate::fdtable::OpenFile;
use crate::ops::R;
use crate::real::real;

/// The kernel sockets behind a bound UDP socket of ours, if it has them
/// (the second -1 but for a dual-stack `[::]`: its 127.0.0.1 half).
pub fn reservation(of: &OpenFile) -> Option<[i32; 2]> {
    if of.ty != SockType::Dgram {
        return None;
    }
    crate::loopback::reservation_fds(of)
}

/// A datagram from the kernel side, without waiting: None when there is
/// none. (copied, full length, sender).
fn kernel_recv(k: i32, buf: &mut [u8], flags: i32) -> Option<R<(usize, usize, SocketAddr)>> {
    let mut sa = [0u8; 28];
    let mut len = sa.len() as libc::socklen_t;
    let fl = (flags & MSG_PEEK) | MSG_TRUNC | MSG_DONTWAIT;
    // SAFETY: our buffers, of their lengths.
    let n = unsafe {
        (real().recvfrom)(
            k,
            buf.as_mut_ptr().cast(),
            buf.len(),
            fl,
            sa.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if n < 0 {
        let e = crate::loopback::errno();
        return (e != libc::EAGAIN).then_some(Err(e));
    }
    let port = u16::from_be_bytes([sa[2], sa[3]]);
    let from = if u16::from_ne_bytes([sa[0], sa[1]]) as i32 == libc::AF_INET6 {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&sa[8..24]);
        let scope = u32::from_ne_bytes([sa[24], sa[25], sa[26], sa[27]]);
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, scope))
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7])), port)
    };
    let full = n as usize;
    Some(Ok((full.min(buf.len()), full, from)))
}

pub type RecvInfo = (usize, usize, Option<SocketAddr>, Option<stack::DgramInfo>);

/// recv on a UDP socket with a reservation: the next datagram of either
/// stack, waiting for both unless non-blocking (SO_RCVTIMEO: EAGAIN when
/// it passes; a signal: EINTR unless SA_RESTART would restart it).
pub fn recv(s: &Shim, of: &OpenFile, ks: [i32; 2], buf: &mut [u8], flags: i32) -> R<RecvInfo> {
    let nonblock = of.is_nonblock() || flags & MSG_DONTWAIT != 0;
    let deadline = crate::wait::deadline_after(of.timeout(true));
    let local = s.stack.local().is_some();
    let evfd = if local {
        crate::wait::thread_evfd()
    } else {
        -1
    };
    let fl = if nonblock {
        flags | MSG_DONTWAIT
    } else {
        flags
    };
    let mut held: Option<crate::callref::CallRef> = None;
    // With the service, a blocking receive's first round tries once, with
    // its wait registered (as ops::recv_info): a round trip less.
    let mut arm_first = !nonblock && !local;
    loop {
        let tries: &[bool] = if std::mem::take(&mut arm_first) {
            &[true]
        } else {
            &[false, true]
        };
        for &wait in tries {
            if wait {
                if nonblock {
                    return Err(libc::EAGAIN);
                }
                if held.is_none() {
                    held = Some(crate::callref::CallRef::take(s, of)?);
                }
                if local {
                    s.register(of.handle, evfd);
                } else {
                    crate::wait::drain_token(held.as_ref().map_or(-1, |h| h.anchor()));
                }
            }
            let r = s.stack.recv(s.now(), of.handle, of.ty, buf, fl, wait);
            s.after_op();
            let out = match r {
                Ok(m) => Some(Ok((m.copied, m.full_len, m.from, m.info))),
                Err(stack::Errno::EAGAIN) => ks
                    .iter()
                    .filter(|&&k| k >= 0)
                    .find_map(|&k| kernel_recv(k, buf, flags))
                    .map(|r| r.map(|(n, full, from)| (n, full, Some(from), None))),
                Err(x) => Some(Err(x.0)),
            };
            if let Some(out) = out {
                if wait && local {
                    s.unregister(of.handle, evfd);
                }
                return out;
            }
        }
        let first = if local {
            evfd
        } else {
            held.as_ref().map_or(-1, |h| h.anchor())
        };
        let w = crate::shadow_accept::wait_any(&[first, ks[0], ks[1]], deadline);
        if local {
            s.unregister(of.handle, evfd);
            crate::wait::drain(evfd);
        }
        match w {
            Err(libc::EINTR) if deadline.is_none() && crate::wait::handlers_restart() => {}
            Err(x) => return Err(x),
            Ok(()) => {}
        }
    }
}
