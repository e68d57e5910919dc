//! The socket layer's operations (FreeBSD's uipc_socket.c): create, close,
//! free, abort, accept, receive, shutdown, and `sonewconn` for connections a
//! listener completes. They manage references, queues and buffers and call
//! into the protocol only through `Protosw`; see `kern::socket` for the
//! life-cycle rules they keep. Each takes the stack as its context `cx`
//! (`SoCx`) and hands it on to the protocol.

use std::net::SocketAddr;

use crate::api::{
    DgramInfo, Domain, RecvMeta, SockType, SocketHandle, CMSG_WANT_TIMESTAMP, CMSG_WANT_TIMESTAMPNS,
};
use crate::errno::Errno;
use crate::kern::lockorder::so_lock;
use crate::kern::sockbuf::SockBuf;
use crate::kern::socket::{QState, SoStamp, SoState, SoUrg, SockState, Socket, SocketRef};
use crate::kern::sotable::{lock_live, SoCx};
use crate::linux::{MSG_DONTWAIT, MSG_ERRQUEUE, MSG_OOB, MSG_PEEK, MSG_TRUNC, SHUT_RDWR};
use crate::stats::Stats;
use crate::time::Instant;

/// socket(2): a new socket holding one descriptor reference; the protocol
/// serving (ty, protocol) attaches its PCB.
pub fn socreate<C: SoCx>(
    cx: &C,
    domain: Domain,
    ty: SockType,
    protocol: i32,
) -> Result<SocketHandle, Errno> {
    let Some(pr) = cx.sockets().pffindproto(ty, protocol) else {
        return Err(Errno::EPROTONOSUPPORT);
    };
    let (h, sref) = cx
        .sockets()
        .insert(cx.stats(), |h| Socket::new(h, domain, ty, pr));
    let mut so = so_lock(&sref);
    match cx.pr(&so).pru_attach(cx, &mut so) {
        Ok(()) => {
            so.attached();
            Ok(h)
        }
        Err(e) => {
            // pru_attach failed: no pru_detach; release the slot directly.
            so.so_count = 0;
            so.unattached();
            drop(so);
            cx.sockets().remove(cx.stats(), h);
            Err(e)
        }
    }
}

/// soreserve: set the buffer sizes of a socket (pru_attach calls it for a
/// socket made by socket(2)).
pub fn soreserve(so: &mut Socket, sndcc: usize, rcvcc: usize) {
    so.so_snd.set_hiwat(sndcc);
    so.so_rcv.set_hiwat(rcvcc);
}

/// Does `so` still need its buffer reservation? (Not for a socket made by
/// `sonewconn`, which inherits its listener's.)
pub fn soreserved(so: &Socket) -> bool {
    so.so_snd.sb_hiwat() != 0 && so.so_rcv.sb_hiwat() != 0
}

/// A descriptor was duplicated: so_count += 1 (EMFILE rather than a
/// wrap, should it ever reach u32::MAX).
pub fn sodup<C: SoCx>(cx: &C, h: SocketHandle) -> Result<(), Errno> {
    cx.sockets().with_socket(h, |so| {
        so.so_count = so.so_count.checked_add(1).ok_or(Errno::EMFILE)?;
        Ok(())
    })
}

/// Release one `so_count` reference. Releasing one that is not there is a
/// bug of the socket layer: asserted in debug builds; in release builds it
/// is counted (`so_count_underflows`) and refused with EBADF, never a wrap
/// and never a panic across the API.
pub(in crate::kern) fn so_count_release<C: SoCx>(cx: &C, so: &mut Socket) -> Result<(), Errno> {
    match so.so_count.checked_sub(1) {
        Some(n) => {
            so.so_count = n;
            Ok(())
        }
        None => {
            Stats::bump(&cx.stats().so_count_underflows);
            debug_assert!(false, "{:?}: so_count underflow", so.handle);
            Err(Errno::EBADF)
        }
    }
}

/// Drop one descriptor reference; the last one runs `soclose`.
pub fn sorele<C: SoCx>(cx: &C, now: Instant, h: SocketHandle) -> Result<(), Errno> {
    cx.sockets().with_socket(h, |so| {
        // with_socket refused a queued connection and one without a
        // descriptor reference.
        so_count_release(cx, so)?;
        if so.so_count == 0 {
            soclose(cx, now, so);
        }
        Ok(())
    })
}

/// The last descriptor is gone: abort queued connections of a listener,
/// let the protocol close (it may take PROTOREF), then `sofree`.
fn soclose<C: SoCx>(cx: &C, now: Instant, so: &mut Socket) {
    debug_assert_eq!(so.so_count, 0, "soclose: a descriptor still refers to it");
    solisten_abort(cx, now, so);
    so.so_state.set(SoState::NOFDREF);
    cx.pr(so).pru_close(cx, now, so);
    cx.sockets().sowakeup(so.handle);
    sofree(cx, so);
}

/// The protocol accepted listen(2) (FreeBSD's solisten_proto): give the
/// socket its complete queue, or change the backlog of a listening one.
pub fn solisten_proto(so: &mut Socket, qlimit: u32) {
    match so.so_listen.as_mut() {
        Some(q) => q.sol_qlimit = qlimit,
        None => {
            so.so_listen = Some(Box::new(crate::kern::listen::ListenQueues::new(qlimit)));
            so.so_options.acceptconn = true;
        }
    }
}

/// The socket stops listening (last close, or the protocol's unlisten:
/// shutdown(SHUT_RD), connect(AF_UNSPEC)): its queue goes, and every
/// connection still on it is aborted, exactly once, through `soabort`.
pub fn solisten_abort<C: SoCx>(cx: &C, now: Instant, so: &mut Socket) {
    if let Some(q) = so.so_listen.take() {
        so.so_options.acceptconn = false;
        for child in q.sol_comp {
            soabort(cx, now, child);
        }
    }
}

/// Abort a connection taken off a listener's complete queue: the protocol
/// resets it (pru_abort), then the queue's reference goes and `sofree`
/// runs. Called with the listener locked (listener before child).
fn soabort<C: SoCx>(cx: &C, now: Instant, child: SocketHandle) {
    let Ok(cref) = cx.sockets().lookup(child) else {
        return;
    };
    let Some(mut c) = lock_live(&cref) else {
        return;
    };
    debug_assert_eq!(c.so_qstate, QState::Comp, "soabort: not on a queue");
    debug_assert_eq!(
        c.so_count, 1,
        "soabort: a queued socket holds only the queue's reference"
    );
    c.so_qstate = QState::None;
    c.so_head = None;
    Stats::bump(&cx.stats().pru_abort_calls);
    cx.pr(&c).pru_abort(cx, now, &mut c);
    // An underflow is counted there; the queue's reference is gone either way.
    let _ = so_count_release(cx, &mut c);
    sofree(cx, &mut c);
}

/// The only way a socket is freed. Returns without freeing while a
/// consumer reference, PROTOREF or a listen queue holds it.
pub fn sofree<C: SoCx>(cx: &C, so: &mut Socket) {
    if !so.may_free() {
        return;
    }
    Stats::bump(&cx.stats().pru_detach_calls);
    cx.pr(so).pru_detach(cx, so);
    so.detached();
    so.so_rcv.clear();
    so.so_snd.clear();
    cx.sockets().sowakeup(so.handle);
    cx.sockets().remove(cx.stats(), so.handle);
}

/// A connection completed on listener `head` (locked): create its socket
/// (FreeBSD's sonewconn). It inherits the listener's options and buffer
/// sizes, is connected, holds one `so_count` reference for the complete
/// queue, and gets its PCB from the protocol's `pru_attach`. It is not on
/// the queue yet: the protocol fills in the PCB, then calls `soqinsque`.
/// None if the protocol refused the attach.
pub fn sonewconn<C: SoCx>(cx: &C, head: &Socket) -> Option<(SocketHandle, SocketRef)> {
    debug_assert!(
        head.is_listening(),
        "sonewconn: {:?} is not listening",
        head.handle
    );
    let mut rcv = SockBuf::stream_rcv(head.so_rcv.sb_hiwat());
    rcv.sb_lowat = head.so_rcv.sb_lowat;
    rcv.user_locked = head.so_rcv.user_locked;
    let mut snd = SockBuf::stream(head.so_snd.sb_hiwat());
    snd.user_locked = head.so_snd.user_locked;
    let opts = head.so_options;
    let filter = head.so_filter.clone();
    let (dom, ty, pr, listener) = (head.so_domain, head.so_type, head.so_proto, head.handle);
    let (h, cref) = cx.sockets().insert(cx.stats(), |h| {
        let mut c = Socket::new(h, dom, ty, pr);
        c.so_rcv = rcv;
        c.so_snd = snd;
        c.so_options = opts;
        c.so_filter = filter.clone();
        c.so_options.acceptconn = false;
        c.so_qstate = QState::Comp;
        c.so_head = Some(listener);
        c.sock_state = SockState::Connected;
        c
    });
    // Listener before child: the lock order allows taking the child now.
    let mut c = so_lock(&cref);
    match cx.pr(&c).pru_attach(cx, &mut c) {
        Ok(()) => c.attached(),
        Err(_) => {
            c.so_count = 0;
            c.so_qstate = QState::None;
            c.so_head = None;
            c.unattached();
            drop(c);
            cx.sockets().remove(cx.stats(), h);
            return None;
        }
    }
    drop(c);
    Some((h, cref))
}

/// Put a connection made by `sonewconn` on its listener's complete queue
/// (the listener locked) and wake the listener.
pub fn soqinsque<C: SoCx>(cx: &C, head: &mut Socket, child: SocketHandle) {
    if let Some(q) = head.so_listen.as_mut() {
        q.sol_comp.push_back(child);
    }
    cx.sockets().sowakeup(head.handle);
}

/// accept(2), never blocking.
pub fn soaccept<C: SoCx>(cx: &C, h: SocketHandle) -> Result<(SocketHandle, SocketAddr), Errno> {
    soaccept_as(cx, h, false)
}

/// `soaccept`; with `handed`, the connection still counts in the backlog
/// (`sol_handed`) when the protocol hears of the accept.
fn soaccept_as<C: SoCx>(
    cx: &C,
    h: SocketHandle,
    handed: bool,
) -> Result<(SocketHandle, SocketAddr), Errno> {
    cx.sockets().with_socket(h, |l| {
        if l.so_type == SockType::Dgram {
            return Err(Errno::EOPNOTSUPP);
        }
        let Some(q) = l.so_listen.as_mut() else {
            return Err(Errno::EINVAL);
        };
        while let Some(child) = q.sol_comp.pop_front() {
            let Ok(cref) = cx.sockets().lookup(child) else {
                continue;
            };
            let Some(mut c) = lock_live(&cref) else {
                continue;
            };
            c.so_qstate = QState::None;
            c.so_head = None;
            // As Linux: a connection reset while queued is still
            // returned; its first recv reports ECONNRESET.
            let peer = cx.pr(&c).pru_accept(&c);
            // Reachable from now on: report what changed while it was
            // queued (drain_changed left it out until now).
            cx.sockets().sowakeup(child);
            drop(c);
            if handed {
                // Still in the backlog, and no accept(2) yet: the
                // protocol hears of it at `sohanded_taken`.
                q.sol_handed = q.sol_handed.saturating_add(1);
            } else {
                cx.pr(l).pru_accepted(cx, l);
            }
            return Ok((child, peer));
        }
        cx.pr(l).pru_accepted(cx, l);
        Err(Errno::EAGAIN)
    })
}

/// `soaccept` for a program that has not called accept() yet (the stack
/// service's hand-off): the connection leaves the queue but counts in the
/// listener's backlog until `sohanded_taken`.
pub fn soaccept_handed<C: SoCx>(
    cx: &C,
    h: SocketHandle,
) -> Result<(SocketHandle, SocketAddr), Errno> {
    soaccept_as(cx, h, true)
}

/// A connection handed by `soaccept_handed` reached the program (or
/// went): it no longer counts in the backlog.
pub fn sohanded_taken<C: SoCx>(cx: &C, h: SocketHandle) {
    let _ = cx.sockets().with_socket(h, |l| {
        if let Some(q) = l.so_listen.as_mut() {
            q.sol_handed = q.sol_handed.saturating_sub(1);
        }
        // Room in the backlog: SYNs waiting for it may come in.
        cx.pr(l).pru_accepted(cx, l);
        Ok(())
    });
}

/// recv(2) on a locked socket, never blocking.
pub fn soreceive<C: SoCx>(
    cx: &C,
    now: Instant,
    so: &mut Socket,
    buf: &mut [u8],
    flags: i32,
) -> Result<RecvMeta, Errno> {
    let peek = flags & MSG_PEEK != 0;
    if flags & MSG_ERRQUEUE != 0 {
        // Empty, it is EAGAIN before anything else (Linux). An entry comes
        // back as errqueue::encode writes it (the caller makes the
        // IP_RECVERR / IPV6_RECVERR control message of it, and a TX
        // timestamp's SCM_TIMESTAMPING). An emptied queue gives its
        // storage back.
        let err = &mut so.so_error;
        let Some(e) = so
            .so_errqueue
            .as_mut()
            .and_then(|q| crate::kern::errqueue::sock_dequeue_err(q, err))
        else {
            return Err(Errno::EAGAIN);
        };
        if so.so_errqueue.as_ref().is_some_and(|q| q.is_empty()) {
            so.so_errqueue = None;
        }
        let (copied, full_len, from) = crate::kern::errqueue::encode(&e, buf);
        cx.sockets().sowakeup(so.handle);
        return Ok(RecvMeta {
            copied,
            full_len,
            from,
            info: None,
        });
    }
    match so.so_type {
        SockType::Stream => soreceive_stream(cx, now, so, buf, flags, peek),
        SockType::Dgram => {
            let want = so_cmsg_want(so) | cx.pr(so).pru_cmsg_want(so);
            soreceive_dgram(so, buf, flags, peek, want)
        }
    }
}

fn soreceive_stream<C: SoCx>(
    cx: &C,
    now: Instant,
    so: &mut Socket,
    buf: &mut [u8],
    flags: i32,
    peek: bool,
) -> Result<RecvMeta, Errno> {
    if so.is_listening() {
        return Err(Errno::ENOTCONN);
    }
    if flags & MSG_OOB != 0 {
        return cx.pr(so).pru_rcvoob(so, buf, flags);
    }
    // Urgent data (tcp_recvmsg): a read stops at the mark; one that
    // starts there skips the urgent byte unless SO_OOBINLINE, and goes on.
    let urgent = so.so_urg != SoUrg::None;
    let at_mark = urgent && so.so_oobmark == 0;
    let avail = so.so_rcv.ring().len();
    let skip = usize::from(at_mark && !so.so_options.oobinline && avail > 0);
    let mut n = (avail - skip).min(buf.len());
    if urgent && !at_mark {
        n = n.min(so.so_oobmark);
    }
    if !peek && skip == 1 && avail == 1 && !buf.is_empty() {
        // Only the urgent byte: it is passed over all the same.
        so.so_rcv.ring_mut().consume(1);
        so.so_urg = SoUrg::None;
        cx.pr(so).pru_rcvd(cx, now, so);
    }
    if avail > skip {
        let ring = so.so_rcv.ring_mut();
        // MSG_TRUNC: the bytes are counted, never copied (tcp_recvmsg),
        // and with MSG_PEEK left queued.
        if flags & MSG_TRUNC != 0 {
            if !peek {
                ring.consume(skip + n);
            }
        } else if peek {
            ring.read_at(skip, &mut buf[..n]);
        } else {
            ring.consume(skip);
            ring.pop(&mut buf[..n]);
        }
        if !peek && n > 0 {
            if at_mark {
                so.so_urg = SoUrg::None; // read past the mark
            } else if urgent {
                so.so_oobmark -= n;
            }
            cx.pr(so).pru_rcvd(cx, now, so);
        }
        let info = stream_rcv_info(so).filter(|_| n > 0);
        return Ok(RecvMeta {
            copied: n,
            full_len: n,
            from: None,
            info,
        });
    }
    if so.sb_state.fin_received {
        return Ok(RecvMeta::EOF);
    }
    if let Some(e) = so.take_error() {
        return Err(e);
    }
    if so.sb_state.cantrcvmore {
        return Ok(RecvMeta::EOF);
    }
    if cx.pr(so).pru_rcv_notconn(so) {
        return Err(Errno::ENOTCONN);
    }
    Err(Errno::EAGAIN)
}

/// SIOCATMARK (tcp_ioctl): is the reader at the urgent mark? (0 on a
/// listener); a datagram socket has no such ioctl (ENOIOCTLCMD: ENOTTY).
pub fn siocatmark(so: &Socket) -> Result<bool, Errno> {
    match so.so_type {
        SockType::Dgram => Err(Errno::ENOTTY),
        SockType::Stream => Ok(so.so_urg != SoUrg::None && so.so_oobmark == 0),
    }
}

/// SIOCGSTAMP: the kept time (`SoStamp`), `now` if a datagram was read
/// untimed (kept from then on); ENOENT before any. Turns on keeping
/// arrivals (Linux's sock_get_timestamp with SOCK_TIMESTAMP).
pub fn siocgstamp(so: &mut Socket, now: Instant) -> Result<Instant, Errno> {
    let t = match so.so_stamp {
        SoStamp::Unset => return Err(Errno::ENOENT),
        SoStamp::Zero => now,
        SoStamp::At(t) => t,
    };
    so.so_stamp = SoStamp::At(t);
    so.so_options.stamp_ioctl = true;
    Ok(t)
}

/// SO_TIMESTAMP(NS) on a stream: the last arrival (tcp_recvmsg's
/// tcp_recv_timestamp; the shim puts it before TCP_CM_INQ).
pub fn stream_rcv_info(so: &Socket) -> Option<DgramInfo> {
    let want = so_cmsg_want(so);
    (want != 0).then(|| DgramInfo {
        stamp: so.so_rcv.sb_stamp,
        want,
        ..DgramInfo::default()
    })
}

/// The SOL_SOCKET control messages a socket asks for (timestamps).
fn so_cmsg_want(so: &Socket) -> u16 {
    let o = &so.so_options;
    if o.rcvtstampns {
        CMSG_WANT_TIMESTAMPNS
    } else if o.rcvtstamp {
        CMSG_WANT_TIMESTAMP
    } else {
        0
    }
}

fn soreceive_dgram(
    so: &mut Socket,
    buf: &mut [u8],
    flags: i32,
    peek: bool,
    want: u16,
) -> Result<RecvMeta, Errno> {
    let info = so.so_rcv.front_info().map(|i| DgramInfo { want, ..i });
    if let Some((from, full_len, copied)) = so.so_rcv.peek_dgram(buf) {
        // sock_recv_timestamp: a timestamp message takes the arrival;
        // else SIOCGSTAMP's flag keeps it; else the first read marks 0.
        if want & (CMSG_WANT_TIMESTAMP | CMSG_WANT_TIMESTAMPNS) == 0 {
            if so.so_options.stamp_ioctl {
                so.so_stamp = SoStamp::At(info.map_or(Instant::ZERO, |i| i.stamp));
            } else if so.so_stamp == SoStamp::Unset {
                so.so_stamp = SoStamp::Zero;
            }
        }
        if !peek {
            so.so_rcv.pop_dgram();
        }
        return Ok(RecvMeta {
            copied,
            full_len,
            from: Some(from),
            info,
        });
    }
    if let Some(e) = so.take_error() {
        return Err(e);
    }
    if so.sb_state.cantrcvmore && flags & MSG_DONTWAIT == 0 {
        // Linux's UDP only notices SHUT_RD when it would wait
        // (__skb_wait_for_more_packets): a blocking receive
        // returns 0, a non-blocking one EAGAIN.
        return Ok(RecvMeta::EOF);
    }
    Err(Errno::EAGAIN)
}

/// shutdown(2).
pub fn soshutdown<C: SoCx>(cx: &C, now: Instant, h: SocketHandle, how: i32) -> Result<(), Errno> {
    if !(0..=SHUT_RDWR).contains(&how) {
        // Linux checks the socket first: a stale handle is EBADF.
        return cx.sockets().with_socket(h, |_| Err(Errno::EINVAL));
    }
    cx.sockets().with_socket(h, |so| {
        let r = cx.pr(so).pru_shutdown(cx, now, so, how);
        cx.sockets().sowakeup(so.handle);
        r
    })
}

#[cfg(test)]
mod tests {
    use crate::linux::*;
    use crate::testing::pair::Pair;
    use crate::{Errno, SockType};

    #[test]
    fn errqueue_is_empty_and_tcp_holds_no_urgent_data() {
        let mut p = Pair::new(31);
        let (_l, c, s) = p.connected(80);
        p.b.send(p.now, s, b"data", 0, None).unwrap();
        p.drive();
        let mut buf = [0u8; 8];
        let r = p.a.recv(p.now, c, &mut buf, MSG_OOB);
        assert_eq!(r.err(), Some(Errno::EINVAL), "MSG_OOB: no urgent data");
        let r = p.a.recv(p.now, c, &mut buf, MSG_ERRQUEUE);
        assert_eq!(r.err(), Some(Errno::EAGAIN), "empty error queue");
        let m = p.a.recv(p.now, c, &mut buf, 0).unwrap();
        assert_eq!(&buf[..m.copied], b"data", "the data stayed queued");
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        let r = p.a.recv(p.now, u, &mut buf, MSG_ERRQUEUE);
        assert_eq!(r.err(), Some(Errno::EAGAIN), "UDP: empty error queue");
        p.a.check_invariants();
    }

    #[test]
    fn udp_after_shut_rd_returns_0_only_when_it_would_wait() {
        let p = Pair::new(32);
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        let _ = p.a.shutdown(p.now, u, SHUT_RD);
        let mut buf = [0u8; 8];
        let r = p.a.recv(p.now, u, &mut buf, MSG_DONTWAIT);
        assert_eq!(r.err(), Some(Errno::EAGAIN), "non-blocking: EAGAIN");
        let m = p.a.recv(p.now, u, &mut buf, 0).unwrap();
        assert_eq!(m.copied, 0, "blocking: 0 at once");
        p.a.check_invariants();
    }
}
