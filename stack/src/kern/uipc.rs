//! The socket layer's operations (FreeBSD's uipc_socket.c): create, close,
//! free, abort, accept, receive, shutdown. They manage references and
//! buffers and call into the protocol through `Protosw`; see
//! `kern::socket` for the life-cycle rules they keep.

use crate::api::{RecvMeta, SockType, SocketHandle};
use crate::errno::Errno;
use crate::host::Stack;
use crate::kern::protosw::Protosw;
use crate::kern::sockbuf::SockBuf;
use crate::kern::socket::{QState, SoState, Socket};
use crate::linux::{MSG_DONTWAIT, MSG_ERRQUEUE, MSG_OOB, MSG_PEEK, MSG_TRUNC, SHUT_RDWR};
use crate::netinet::in_pcb::{Inpcb, Pcb};
use crate::netinet::tcp_usrreq::TCP_USRREQS;
use crate::netinet::tcp_var::TcpCb;
use crate::netinet::udp::UDP_USRREQS;
use crate::stats::Stats;
use crate::time::Instant;

impl Socket {
    /// The protocol switch entry for this socket's type.
    pub(crate) fn proto(&self) -> &'static dyn Protosw {
        match self.so_type {
            SockType::Stream => &TCP_USRREQS,
            SockType::Dgram => &UDP_USRREQS,
        }
    }
}

impl Stack {
    /// socket(2): a new socket holding one descriptor reference.
    pub(crate) fn socreate(&self, ty: SockType, protocol: i32) -> Result<SocketHandle, Errno> {
        let ok = match ty {
            SockType::Stream => protocol == 0 || protocol == crate::linux::IPPROTO_TCP,
            SockType::Dgram => protocol == 0 || protocol == crate::linux::IPPROTO_UDP,
        };
        if !ok {
            return Err(Errno::EPROTONOSUPPORT);
        }
        let sys = &self.sysctl();
        let inp = Inpcb::new(sys.ip_default_ttl);
        let (pcb, rcv, snd) = match ty {
            SockType::Stream => (
                Pcb::Tcp(Box::new(TcpCb::new(inp))),
                SockBuf::stream(sys.tcp_rmem[1]),
                SockBuf::stream(sys.tcp_wmem[1]),
            ),
            SockType::Dgram => (
                Pcb::Udp(inp),
                SockBuf::dgram(sys.rmem_default),
                SockBuf::dgram(sys.wmem_default),
            ),
        };
        let (h, sref) = self.slot_insert(|h| Socket::new(h, ty, pcb, rcv, snd));
        let mut so = crate::kern::lockorder::so_lock(&sref);
        match so.proto().pru_attach(self, &mut so) {
            Ok(()) => {
                so.attached = true;
                Ok(h)
            }
            Err(e) => {
                // pru_attach failed: no pru_detach; release the slot directly.
                so.so_count = 0;
                so.freed = true;
                drop(so);
                self.slot_remove(h);
                Err(e)
            }
        }
    }

    /// Drop one descriptor reference; the last one runs `soclose`.
    pub(crate) fn sorele(&self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        self.with_socket(h, |so| {
            debug_assert!(so.so_count > 0, "sorele: so_count already 0");
            if so.so_qstate != QState::None || so.so_count == 0 {
                return Err(Errno::EBADF);
            }
            so.so_count -= 1;
            if so.so_count == 0 {
                self.soclose(now, so);
            }
            Ok(())
        })
    }

    /// The last descriptor is gone: abort queued connections of a listener,
    /// let the protocol close (it may take PROTOREF), then `sofree`.
    fn soclose(&self, now: Instant, so: &mut Socket) {
        self.solisten_abort(now, so);
        so.so_state.set(SoState::NOFDREF);
        so.proto().pru_close(self, now, so);
        self.sowakeup(so.handle);
        self.sofree(so);
    }

    /// The socket stops listening (last close, or the protocol's unlisten:
    /// shutdown(SHUT_RD), connect(AF_UNSPEC)): its queues go, and every
    /// connection still on the complete queue is aborted, exactly once.
    pub(crate) fn solisten_abort(&self, now: Instant, so: &mut Socket) {
        if let Some(q) = so.so_listen.take() {
            so.so_options.acceptconn = false;
            for child in q.sol_comp {
                self.soabort(now, child);
            }
        }
    }

    /// Abort a connection taken off a closing listener's queue: RST, then
    /// drop the queue's reference. Called with the listener locked
    /// (listener before child).
    fn soabort(&self, now: Instant, child: SocketHandle) {
        let Ok(cref) = self.lookup(child) else { return };
        let Some(mut c) = Stack::lock_live(&cref) else {
            return;
        };
        c.so_qstate = QState::None;
        c.so_head = None;
        Stats::bump(&self.stats.pru_abort_calls);
        c.proto().pru_abort(self, now, &mut c);
        c.so_count -= 1;
        self.sofree(&mut c);
    }

    /// The only way a socket is freed. Returns without freeing while a
    /// consumer reference, PROTOREF or a listen queue holds it.
    pub(crate) fn sofree(&self, so: &mut Socket) {
        if !so.may_free() {
            return;
        }
        debug_assert!(
            so.attached && !so.detached,
            "sofree: pru_detach must run exactly once"
        );
        Stats::bump(&self.stats.pru_detach_calls);
        so.proto().pru_detach(self, so);
        so.detached = true;
        so.freed = true;
        so.so_rcv.clear();
        so.so_snd.clear();
        self.sowakeup(so.handle);
        self.slot_remove(so.handle);
    }

    /// accept(2), never blocking.
    pub(crate) fn soaccept(
        &self,
        h: SocketHandle,
    ) -> Result<(SocketHandle, std::net::SocketAddrV4), Errno> {
        self.with_socket(h, |l| {
            if l.so_type == SockType::Dgram {
                return Err(Errno::EOPNOTSUPP);
            }
            let Some(q) = l.so_listen.as_mut() else {
                return Err(Errno::EINVAL);
            };
            while let Some(child) = q.sol_comp.pop_front() {
                let Ok(cref) = self.lookup(child) else {
                    continue;
                };
                let Some(mut c) = Stack::lock_live(&cref) else {
                    continue;
                };
                c.so_qstate = QState::None;
                c.so_head = None;
                // As Linux: a connection reset while queued is still
                // returned; its first recv reports ECONNRESET.
                let peer = c.so_pcb.inp().foreign();
                return Ok((child, peer));
            }
            Err(Errno::EAGAIN)
        })
    }

    /// recv(2) on a locked socket, never blocking.
    pub(crate) fn soreceive(
        &self,
        now: Instant,
        so: &mut Socket,
        buf: &mut [u8],
        flags: i32,
    ) -> Result<RecvMeta, Errno> {
        let peek = flags & MSG_PEEK != 0;
        if flags & MSG_ERRQUEUE != 0 {
            // No error queue is kept (IP_RECVERR is not supported): Linux
            // answers EAGAIN for an empty one, before anything else.
            return Err(Errno::EAGAIN);
        }
        match so.so_type {
            SockType::Stream => {
                if so.is_listening() {
                    return Err(Errno::ENOTCONN);
                }
                if flags & MSG_OOB != 0 {
                    // No urgent data is ever held for MSG_OOB (tcp_recv_urg).
                    return Err(Errno::EINVAL);
                }
                let avail = so.so_rcv.ring().len();
                if avail > 0 {
                    let n = avail.min(buf.len());
                    let ring = so.so_rcv.ring_mut();
                    if flags & MSG_TRUNC != 0 && !peek {
                        ring.consume(n);
                    } else if peek {
                        ring.read_at(0, &mut buf[..n]);
                    } else {
                        ring.pop(&mut buf[..n]);
                    }
                    if !peek && n > 0 {
                        so.proto().pru_rcvd(self, now, so);
                    }
                    return Ok(RecvMeta {
                        copied: n,
                        full_len: n,
                        from: None,
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
                let state = so.so_pcb.tcp().map(|tp| tp.t_state);
                if state == Some(crate::netinet::tcp_var::TcpState::Closed) {
                    return Err(Errno::ENOTCONN);
                }
                Err(Errno::EAGAIN)
            }
            SockType::Dgram => {
                if let Some((from, full_len, copied)) = so.so_rcv.peek_dgram(buf) {
                    if !peek {
                        so.so_rcv.pop_dgram();
                    }
                    return Ok(RecvMeta {
                        copied,
                        full_len,
                        from: Some(from),
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
        }
    }

    /// shutdown(2).
    pub(crate) fn soshutdown(&self, now: Instant, h: SocketHandle, how: i32) -> Result<(), Errno> {
        if !(0..=SHUT_RDWR).contains(&how) {
            // Linux checks the socket first: a stale handle is EBADF.
            self.lookup(h)?;
            return Err(Errno::EINVAL);
        }
        self.with_socket(h, |so| {
            let r = so.proto().pru_shutdown(self, now, so, how);
            self.sowakeup(so.handle);
            r
        })
    }
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
