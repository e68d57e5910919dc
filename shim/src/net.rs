//! Where the shim's sockets live: `Net::Local`, the stack inside this
//! process (SOCKSHIM_MODE=process, the default for now), or
//! `Net::Remote`, the shared service `sockshimd` reached through
//! `client` (SOCKSHIM_MODE=service). The socket calls have one signature
//! for both, so `ops` is written once; the driver-side calls (frames,
//! timers) are the local stack's only and do nothing for the remote one.
//!
//! `wait` on the calls that can block: the caller is about to wait on the
//! socket's anchor (it has read the token back), so the service registers
//! interest and re-arms the token (see client.rs). The local stack has
//! its own waiter lists and ignores it.

use std::net::SocketAddr;

use proto::{Body, Request};
use stack::{Domain, Errno, Instant, Readiness, RecvMeta, SockInfo, SockType, SocketHandle, Stack};

use crate::client::call;

// One per process, inside the Shim's Arc: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Net {
    Local(Stack),
    Remote(Remote),
}

/// The service for device `tun`.
pub struct Remote {
    pub tun: String,
}

fn id(h: SocketHandle) -> u64 {
    h.as_u64()
}

impl Remote {
    fn req<T>(
        &self,
        r: &Request<'_>,
        f: impl FnOnce(Body<'_>) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        call(&self.tun, r, &[], false, |rep, fd| {
            if let Some(fd) = fd {
                // SAFETY: an fd we did not ask for: close it.
                unsafe { (crate::real::real().close)(fd) };
            }
            rep.and_then(f)
        })?
    }

    fn unit(&self, r: &Request<'_>) -> Result<(), Errno> {
        self.req(r, |_| Ok(()))
    }

    /// socket(): the new socket's id and its anchor (the program's fd).
    pub fn socket(
        &self,
        domain: Domain,
        ty: SockType,
        protocol: i32,
        cloexec: bool,
    ) -> Result<(SocketHandle, i32), Errno> {
        call(
            &self.tun,
            &Request::Socket {
                domain,
                ty,
                protocol,
            },
            &[],
            cloexec,
            |rep, fd| match (rep, fd) {
                (Ok(Body::Socket { id }), Some(fd)) => Ok((SocketHandle::from_u64(id), fd)),
                (Err(e), _) => Err(e),
                // The anchor could not be received (no fd free after all).
                (Ok(Body::Socket { .. }), None) => Err(Errno::EMFILE),
                _ => Err(Errno::EIO),
            },
        )?
    }

    /// accept(): the connection, its peer and its anchor.
    pub fn accept(
        &self,
        h: SocketHandle,
        wait: bool,
        cloexec: bool,
    ) -> Result<(SocketHandle, SocketAddr, i32), Errno> {
        let r = Request::Accept { id: id(h), wait };
        call(&self.tun, &r, &[], cloexec, |rep, fd| match (rep, fd) {
            (Ok(Body::Accepted { id, peer }), Some(fd)) => {
                Ok((SocketHandle::from_u64(id), peer, fd))
            }
            (Err(e), _) => Err(e),
            (Ok(Body::Accepted { .. }), None) => Err(Errno::EMFILE),
            _ => Err(Errno::EIO),
        })?
    }

    /// Which of `fds` (received from another process) are anchors of the
    /// service's sockets: their ids, and the right to use them.
    pub fn attach(&self, fds: &[i32]) -> Vec<Option<SocketHandle>> {
        let req = Request::Attach {
            count: fds.len() as u16,
        };
        let ids = call(&self.tun, &req, fds, false, |rep, _| match rep {
            Ok(Body::Ids(v)) if v.len() == fds.len() => v,
            _ => Vec::new(),
        })
        .unwrap_or_default();
        ids.into_iter()
            .map(|id| (id != proto::NOT_AN_ANCHOR).then(|| SocketHandle::from_u64(id)))
            .collect()
    }

    /// A descriptor of `h` was closed here: the service closes the socket
    /// now if that was the last one anywhere.
    pub fn closed(&self, h: SocketHandle) {
        let _ = self.unit(&Request::Closed { id: id(h) });
    }

    /// Readiness of many sockets at once; with `wait`, interest in
    /// `events` is registered for those not ready.
    pub fn poll(&self, items: Vec<(u64, u32)>, wait: bool) -> Result<Vec<u32>, Errno> {
        self.req(&Request::Poll { items, wait }, |b| match b {
            Body::Ready(v) => Ok(v),
            _ => Err(Errno::EIO),
        })
    }
}

impl Net {
    pub fn sodup(&self, h: SocketHandle) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.sodup(h),
            // The kernel counts the anchor's references.
            Net::Remote(_) => Ok(()),
        }
    }

    pub fn close(&self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.close(now, h),
            // The anchor's last close is the service's cue.
            Net::Remote(_) => Ok(()),
        }
    }

    pub fn bind(&self, h: SocketHandle, addr: SocketAddr) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.bind(h, addr),
            Net::Remote(r) => r.unit(&Request::Bind { id: id(h), addr }),
        }
    }

    pub fn listen(&self, h: SocketHandle, backlog: i32) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.listen(h, backlog),
            Net::Remote(r) => r.unit(&Request::Listen { id: id(h), backlog }),
        }
    }

    pub fn connect(
        &self,
        now: Instant,
        h: SocketHandle,
        addr: Option<SocketAddr>,
    ) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.connect(now, h, addr),
            Net::Remote(r) => r.unit(&Request::Connect { id: id(h), addr }),
        }
    }

    pub fn connect_status(&self, h: SocketHandle, wait: bool) -> Result<bool, Errno> {
        match self {
            Net::Local(s) => s.connect_status(h),
            Net::Remote(r) => {
                match r.req(&Request::ConnectStatus { id: id(h), wait }, |_| Ok(true)) {
                    Err(Errno::EAGAIN) => Ok(false),
                    other => other,
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &self,
        now: Instant,
        h: SocketHandle,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddr>,
        wait: bool,
    ) -> Result<usize, Errno> {
        match self {
            Net::Local(s) => s.send(now, h, data, flags, to),
            Net::Remote(r) => {
                let data = &data[..data.len().min(proto::MAX_DATA)];
                let req = Request::Send {
                    id: id(h),
                    flags,
                    to,
                    wait,
                    data,
                };
                r.req(&req, |b| match b {
                    Body::Count(n) => Ok(n as usize),
                    _ => Err(Errno::EIO),
                })
            }
        }
    }

    pub fn recv(
        &self,
        now: Instant,
        h: SocketHandle,
        buf: &mut [u8],
        flags: i32,
        wait: bool,
    ) -> Result<RecvMeta, Errno> {
        match self {
            Net::Local(s) => s.recv(now, h, buf, flags),
            Net::Remote(r) => {
                let len = buf.len().min(proto::MAX_DATA) as u32;
                let req = Request::Recv {
                    id: id(h),
                    flags,
                    len,
                    wait,
                };
                r.req(&req, |b| match b {
                    Body::Recv {
                        full_len,
                        from,
                        data,
                    } if data.len() <= buf.len() => {
                        buf[..data.len()].copy_from_slice(data);
                        Ok(RecvMeta {
                            copied: data.len(),
                            full_len: full_len as usize,
                            from,
                        })
                    }
                    _ => Err(Errno::EIO),
                })
            }
        }
    }

    pub fn shutdown(&self, now: Instant, h: SocketHandle, how: i32) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.shutdown(now, h, how),
            Net::Remote(r) => r.unit(&Request::Shutdown { id: id(h), how }),
        }
    }

    fn addr(r: &Remote, req: Request<'_>) -> Result<SocketAddr, Errno> {
        r.req(&req, |b| match b {
            Body::Addr(a) => Ok(a),
            _ => Err(Errno::EIO),
        })
    }

    pub fn getsockname(&self, h: SocketHandle) -> Result<SocketAddr, Errno> {
        match self {
            Net::Local(s) => s.getsockname(h),
            Net::Remote(r) => Self::addr(r, Request::Getsockname { id: id(h) }),
        }
    }

    pub fn getpeername(&self, h: SocketHandle) -> Result<SocketAddr, Errno> {
        match self {
            Net::Local(s) => s.getpeername(h),
            Net::Remote(r) => Self::addr(r, Request::Getpeername { id: id(h) }),
        }
    }

    pub fn setsockopt(
        &self,
        now: Instant,
        h: SocketHandle,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.setsockopt(now, h, level, name, val),
            Net::Remote(r) => r.unit(&Request::Setsockopt {
                id: id(h),
                level,
                name,
                val: &val[..val.len().min(proto::MAX_OPT)],
            }),
        }
    }

    pub fn getsockopt(
        &self,
        h: SocketHandle,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        match self {
            Net::Local(s) => s.getsockopt(h, level, name, out),
            Net::Remote(r) => {
                let len = out.len().min(proto::MAX_OPT) as u32;
                r.req(
                    &Request::Getsockopt {
                        id: id(h),
                        level,
                        name,
                        len,
                    },
                    |b| match b {
                        Body::Opt { len, data } if data.len() <= out.len() => {
                            out[..data.len()].copy_from_slice(data);
                            Ok(len as usize)
                        }
                        _ => Err(Errno::EIO),
                    },
                )
            }
        }
    }

    pub fn sopoll(&self, h: SocketHandle) -> Readiness {
        match self {
            Net::Local(s) => s.sopoll(h),
            Net::Remote(r) => r
                .poll(vec![(id(h), 0)], false)
                .ok()
                .and_then(|v| v.first().copied())
                .map_or(Readiness::NVAL, |v| Readiness(v & 0xffff)),
        }
    }

    pub fn sockinfo(&self, h: SocketHandle) -> Result<SockInfo, Errno> {
        match self {
            Net::Local(s) => s.sockinfo(h),
            Net::Remote(r) => r.req(&Request::Sockinfo { id: id(h) }, |b| match b {
                Body::Info(i) => Ok(i),
                _ => Err(Errno::EIO),
            }),
        }
    }

    /// Has the stack a socket for `dst` (see `Stack::serves`)?
    pub fn serves(&self, ty: SockType, dst: SocketAddr) -> Result<bool, Errno> {
        match self {
            Net::Local(s) => Ok(s.serves(ty, dst)),
            Net::Remote(r) => r.req(&Request::Serves { ty, addr: dst }, |b| match b {
                Body::Bool(v) => Ok(v),
                _ => Err(Errno::EIO),
            }),
        }
    }

    /// When the next connection `accept` returns last received a segment
    /// (see `Stack::accept_head_rcvtime`), in stack micros.
    pub fn accept_head_rcvtime(&self, h: SocketHandle) -> Option<u64> {
        match self {
            Net::Local(s) => s.accept_head_rcvtime(h).map(|t| t.total_micros()),
            Net::Remote(r) => r
                .req(&Request::AcceptHead { id: id(h) }, |b| match b {
                    Body::Count(t) => Ok(t),
                    _ => Err(Errno::EIO),
                })
                .ok(),
        }
    }

    /// The time, before a call that takes none (the service keeps its own).
    pub fn note_time(&self, now: Instant) {
        if let Net::Local(s) = self {
            s.note_time(now);
        }
    }

    // ---- the local stack's driver side (nothing to do for the remote) --

    pub fn local(&self) -> Option<&Stack> {
        match self {
            Net::Local(s) => Some(s),
            Net::Remote(_) => None,
        }
    }

    pub fn remote(&self) -> Option<&Remote> {
        match self {
            Net::Local(_) => None,
            Net::Remote(r) => Some(r),
        }
    }
}
