//! The service's logic, free of the event loop: the stack, the table of
//! sockets with their anchors, and what each request does. The loop hands
//! it a decoded request, the client's `Session` and the time; it answers
//! with a `Reply` and, for `Socket`/`Accept`, the anchor end to pass.
//!
//! A client names only sockets it holds: `Session::attached` lists the
//! ids it created, accepted or proved by passing their anchor (`Attach`);
//! any other id is EBADF, whatever its value.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use proto::{Body, Reply, Request};
use stack::hash::{FastMap, FastSet};
use stack::{Errno, Instant, Readiness, SocketHandle, Stack};

use crate::anchor;

/// Most sockets one client may hold (Linux's answer past its limit).
pub const MAX_SOCKETS_PER_CLIENT: usize = 65_536;

/// One socket: the service's end of its anchor, and who waits for what.
pub struct SockEntry {
    pub anchor: OwnedFd,
    b_ino: u64,
    /// POLL* events a waiting client asked for beyond POLLIN (which is
    /// always mirrored); cleared when a token has been written for them.
    interest: u32,
    /// A blocking connect's wait saw the connection established: it
    /// completes with success even if a reset came in the same batch of
    /// frames (as Linux's connect returns 0 once woken at ESTABLISHED).
    connected_seen: bool,
    /// Counts readiness changes (edge-triggered epoll in the clients
    /// reports an entry again only after a change).
    changes: u16,
}

/// One client connection's rights.
#[derive(Default)]
pub struct Session {
    pub attached: FastSet<u64>,
    /// Runs as the service's uid or root: may create sockets. Any other
    /// client only uses sockets it holds (attached by their anchors), and
    /// the connections accepted on them.
    pub trusted: bool,
}

pub struct Core {
    pub stack: Stack,
    socks: FastMap<u64, SockEntry>,
    by_ino: FastMap<u64, u64>,
    by_anchor: FastMap<RawFd, u64>,
    /// Anchors made since the loop last looked (to watch for hang-ups).
    pub new_anchors: Vec<RawFd>,
    /// Sockets whose readiness changed and whose tokens are not synced yet.
    changed: Vec<SocketHandle>,
    /// Reads the namespace's sysctls (None in tests: the configured ones).
    pub read_sysctl: Option<fn() -> stack::Sysctl>,
    /// When `read_sysctl` last ran: a `Socket` request reads the files
    /// again only `SYSCTL_REREAD_US` later (eighteen file reads per socket
    /// otherwise; the shim does the same in process mode).
    sysctl_read_at: Option<Instant>,
    /// Sockets with a blocking connect waiting (see `connected_seen`).
    connecting: FastSet<u64>,
    scratch: Vec<u8>,
}

/// How long one read of the namespace's sysctls stands for `Socket`.
const SYSCTL_REREAD_US: u64 = 10_000;

/// Events always mirrored into the token: readable, error, hang-up.
const ALWAYS: u32 =
    Readiness::IN.0 | Readiness::ERR.0 | Readiness::HUP.0 | Readiness::RDHUP.0 | Readiness::PRI.0;

fn os_err(e: nix::errno::Errno) -> Errno {
    Errno(e as i32)
}

impl Core {
    pub fn new(stack: Stack) -> Core {
        Core {
            stack,
            socks: FastMap::default(),
            by_ino: FastMap::default(),
            by_anchor: FastMap::default(),
            new_anchors: Vec::new(),
            changed: Vec::new(),
            read_sysctl: None,
            sysctl_read_at: None,
            connecting: FastSet::default(),
            scratch: vec![0; proto::MAX_DATA],
        }
    }

    /// Sockets that still have an anchor (a descriptor somewhere).
    pub fn open_sockets(&self) -> usize {
        self.socks.len()
    }

    /// Nothing alive: no anchored socket and nothing the stack still keeps
    /// (a TIME_WAIT, a FIN being delivered).
    /// The inode of socket `id`'s program-side anchor (`sockshim stat`
    /// finds the owning pids and fds by it in /proc).
    pub fn anchor_inode(&self, id: u64) -> Option<u64> {
        self.socks.get(&id).map(|e| e.b_ino)
    }

    pub fn is_empty(&self) -> bool {
        self.socks.is_empty() && self.stack.socket_count() == 0
    }

    pub fn socket_of_anchor(&self, fd: RawFd) -> Option<u64> {
        self.by_anchor.get(&fd).copied()
    }

    /// A new entry for stack socket `h`: returns B, to pass to the client.
    fn anchor_new(&mut self, sess: &mut Session, h: SocketHandle) -> Result<OwnedFd, Errno> {
        let (a, b, ino) = anchor::pair().map_err(os_err)?;
        let id = h.as_u64();
        self.by_ino.insert(ino, id);
        self.by_anchor.insert(a.as_raw_fd(), id);
        self.new_anchors.push(a.as_raw_fd());
        self.socks.insert(
            id,
            SockEntry {
                anchor: a,
                b_ino: ino,
                interest: 0,
                connected_seen: false,
                changes: 0,
            },
        );
        sess.attached.insert(id);
        Ok(b)
    }

    /// The last descriptor of `id` is gone: the socket's last `so_count`
    /// reference, held by the service, goes too (`soclose`).
    pub fn close_socket(&mut self, now: Instant, id: u64) {
        self.connecting.remove(&id);
        if let Some(e) = self.socks.remove(&id) {
            self.by_ino.remove(&e.b_ino);
            self.by_anchor.remove(&e.anchor.as_raw_fd());
            let _ = self.stack.close(now, SocketHandle::from_u64(id));
        }
    }

    /// The anchor's poll said hang-up: close if every B is really gone.
    pub fn anchor_event(&mut self, now: Instant, fd: RawFd) {
        if let Some(id) = self.socket_of_anchor(fd) {
            if self
                .socks
                .get(&id)
                .is_some_and(|e| anchor::hung_up(e.anchor.as_fd()))
            {
                self.close_socket(now, id);
            }
        }
    }

    /// Make the token of `id` match its readiness and waiters' intereself.stack.
    pub fn sync_token(&mut self, id: u64) {
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        let r = self.stack.sopoll(SocketHandle::from_u64(id)).0;
        if r & (ALWAYS | e.interest) != 0 {
            anchor::put_token(e.anchor.as_fd());
            e.interest = 0;
        }
    }

    /// After each input frame: note blocking connects that completed,
    /// before a later frame of the same batch (a reset) hides it.
    pub fn after_frame(&mut self) {
        if self.connecting.is_empty() {
            return;
        }
        self.stack.drain_changed(&mut self.changed);
        for h in &self.changed {
            let id = h.as_u64();
            if !self.connecting.contains(&id) {
                continue;
            }
            let r = self.stack.sopoll(*h);
            if r.contains(Readiness::OUT) && !r.intersects(Readiness::ERR) {
                self.connecting.remove(&id);
                if let Some(e) = self.socks.get_mut(&id) {
                    e.connected_seen = true;
                }
            } else if r.intersects(Readiness::ERR | Readiness::NVAL) {
                self.connecting.remove(&id);
            }
        }
    }

    /// After any work: tokens for every socket whose readiness changed.
    pub fn sync_changed(&mut self) {
        let mut changed = std::mem::take(&mut self.changed);
        self.stack.drain_changed(&mut changed);
        changed.sort_unstable();
        changed.dedup();
        for h in changed {
            if let Some(e) = self.socks.get_mut(&h.as_u64()) {
                e.changes = e.changes.wrapping_add(1);
            }
            self.sync_token(h.as_u64());
        }
    }

    /// Linux reads net.ipv4.tcp_fastopen live when a Fast Open call is
    /// made, not only at socket(): re-read the namespace's sysctls.
    fn fastopen_sysctl(&self) {
        if let Some(read) = self.read_sysctl {
            self.stack.set_sysctl(read());
        }
    }

    fn check(&self, sess: &Session, id: u64) -> Result<SocketHandle, Errno> {
        if sess.attached.contains(&id) && self.socks.contains_key(&id) {
            Ok(SocketHandle::from_u64(id))
        } else {
            Err(Errno::EBADF)
        }
    }

    /// After a call that may wait: register interest when it would
    /// block, and refresh the token (the client read it before asking).
    fn waited<T>(&mut self, id: u64, wait: bool, ev: Readiness, r: &Result<T, Errno>) {
        if !wait {
            return;
        }
        if matches!(r, Err(Errno::EAGAIN)) {
            if let Some(e) = self.socks.get_mut(&id) {
                e.interest |= ev.0;
            }
        }
        self.sync_token(id);
    }

    /// Carry out one requeself.stack. `fds` are the descriptors that came with it
    /// (only `Attach` uses them; they are closed on return, so the
    /// service never keeps a client's B open).
    pub fn handle(
        &mut self,
        sess: &mut Session,
        now: Instant,
        req: Request<'_>,
        fds: Vec<OwnedFd>,
    ) -> (Reply<'_>, Option<OwnedFd>) {
        let reply = match req {
            Request::Hello { version } if version == proto::VERSION => Ok(Body::None),
            Request::Hello { .. } => Err(Errno::EPROTONOSUPPORT),
            // The event loop serves these (run.rs): they see the device.
            Request::Stat { .. } | Request::Capture => Err(Errno::EOPNOTSUPP),
            Request::Socket { .. } if !sess.trusted => return (Err(Errno::EACCES), None),
            Request::Socket {
                domain,
                ty,
                protocol,
            } => {
                if sess.attached.len() >= MAX_SOCKETS_PER_CLIENT {
                    return (Err(Errno::EMFILE), None);
                }
                // As Linux, the namespace's sysctls count from the next
                // socket on (see Stack::set_sysctl).
                if let Some(read) = self.read_sysctl {
                    let stale = self.sysctl_read_at.is_none_or(|t| {
                        now.total_micros().saturating_sub(t.total_micros()) >= SYSCTL_REREAD_US
                    });
                    if stale {
                        self.sysctl_read_at = Some(now);
                        self.stack.set_sysctl(read());
                    }
                }
                let h = match self.stack.socket_in(domain, ty, protocol) {
                    Ok(h) => h,
                    Err(e) => return (Err(e), None),
                };
                return match self.anchor_new(sess, h) {
                    Ok(b) => (Ok(Body::Socket { id: h.as_u64() }), Some(b)),
                    Err(e) => {
                        let _ = self.stack.close(now, h);
                        (Err(e), None)
                    }
                };
            }
            Request::Attach { count } => {
                if fds.len() != count as usize {
                    return (Err(Errno::EINVAL), None);
                }
                let ids = fds
                    .iter()
                    .map(|fd| {
                        let id = anchor::inode(fd.as_fd())
                            .ok()
                            .and_then(|ino| self.by_ino.get(&ino).copied())
                            .unwrap_or(proto::NOT_AN_ANCHOR);
                        if id != proto::NOT_AN_ANCHOR {
                            sess.attached.insert(id);
                        }
                        id
                    })
                    .collect();
                Ok(Body::Ids(ids))
            }
            Request::Closed { id } => {
                if sess.attached.contains(&id) {
                    if let Some(e) = self.socks.get(&id) {
                        if anchor::hung_up(e.anchor.as_fd()) {
                            self.close_socket(now, id);
                        }
                    }
                }
                Ok(Body::None)
            }
            Request::Bind { id, addr } => self
                .check(sess, id)
                .and_then(|h| self.stack.bind(h, addr))
                .map(|_| Body::None),
            Request::Listen { id, backlog } => self
                .check(sess, id)
                .and_then(|h| self.stack.listen(h, backlog))
                .map(|_| Body::None),
            Request::Accept { id, wait } => {
                let r = self.check(sess, id).and_then(|h| self.stack.accept(h));
                self.waited(id, wait, Readiness::IN, &r);
                let (nh, peer) = match r {
                    Ok(v) => v,
                    Err(e) => return (Err(e), None),
                };
                self.sync_token(id);
                if sess.attached.len() >= MAX_SOCKETS_PER_CLIENT {
                    let _ = self.stack.close(now, nh);
                    return (Err(Errno::EMFILE), None);
                }
                return match self.anchor_new(sess, nh) {
                    Ok(b) => (
                        Ok(Body::Accepted {
                            id: nh.as_u64(),
                            peer,
                        }),
                        Some(b),
                    ),
                    Err(e) => {
                        let _ = self.stack.close(now, nh);
                        (Err(e), None)
                    }
                };
            }
            Request::Connect { id, addr } => self
                .check(sess, id)
                .and_then(|h| self.stack.connect(now, h, addr))
                .map(|_| Body::None),
            Request::ConnectStatus { id, wait } => {
                if let Some(e) = self.socks.get_mut(&id) {
                    if e.connected_seen && sess.attached.contains(&id) {
                        e.connected_seen = false;
                        // The socket layer's side of a completed connect
                        // (SS_ISCONNECTED), unless a reset came since: its
                        // error is then the next call's, as on Linux.
                        let h = SocketHandle::from_u64(id);
                        if !self.stack.sopoll(h).intersects(Readiness::ERR) {
                            let _ = self.stack.connect_status(h);
                        }
                        return (Ok(Body::Bool(true)), None);
                    }
                }
                let r = self
                    .check(sess, id)
                    .and_then(|h| self.stack.connect_status(h))
                    .and_then(|done| {
                        if done {
                            Ok(Body::Bool(true))
                        } else {
                            Err(Errno::EAGAIN)
                        }
                    });
                self.waited(id, wait, Readiness::OUT, &r);
                if wait && r == Err(Errno::EAGAIN) {
                    self.connecting.insert(id);
                } else {
                    self.connecting.remove(&id);
                }
                r
            }
            Request::Send {
                id,
                flags,
                to,
                wait,
                data,
            } => {
                if flags & stack::linux::MSG_FASTOPEN != 0 {
                    self.fastopen_sysctl();
                }
                let r = self
                    .check(sess, id)
                    .and_then(|h| self.stack.send(now, h, data, flags, to))
                    .map(|n| Body::Count(n as u64));
                self.waited(id, wait, Readiness::OUT, &r);
                r
            }
            Request::Recv {
                id,
                flags,
                len,
                wait,
            } => {
                let len = (len as usize).min(self.scratch.len());
                let r = self
                    .check(sess, id)
                    .and_then(|h| self.stack.recv(now, h, &mut self.scratch[..len], flags));
                let r = r.map(|m| (m.copied, m.full_len, m.from));
                self.waited(id, wait, Readiness::IN, &r);
                if r.is_ok() {
                    self.sync_token(id);
                }
                r.map(|(copied, full_len, from)| Body::Recv {
                    full_len: full_len as u64,
                    from,
                    data: &self.scratch[..copied],
                })
            }
            Request::Shutdown { id, how } => self
                .check(sess, id)
                .and_then(|h| self.stack.shutdown(now, h, how))
                .map(|_| Body::None),
            Request::Getsockname { id } => self
                .check(sess, id)
                .and_then(|h| self.stack.getsockname(h))
                .map(Body::Addr),
            Request::Getpeername { id } => self
                .check(sess, id)
                .and_then(|h| self.stack.getpeername(h))
                .map(Body::Addr),
            Request::Setsockopt {
                id,
                level,
                name,
                val,
            } => self
                .check(sess, id)
                .inspect(|_| {
                    if stack::linux::rereads_sysctl(level, name) {
                        self.fastopen_sysctl();
                    }
                })
                .and_then(|h| self.stack.setsockopt(now, h, level, name, val))
                .map(|_| Body::None),
            Request::Getsockopt {
                id,
                level,
                name,
                len,
            } => {
                let len = (len as usize).min(proto::MAX_OPT);
                let h = match self.check(sess, id) {
                    Ok(h) => h,
                    Err(e) => return (Err(e), None),
                };
                let out = &mut self.scratch[..len];
                self.stack.note_time(now);
                self.stack
                    .getsockopt(h, level, name, out)
                    .map(|n| Body::Opt {
                        len: n as u64,
                        data: &self.scratch[..n.min(len)],
                    })
            }
            Request::Sockinfo { id } => self
                .check(sess, id)
                .and_then(|h| self.stack.sockinfo(h))
                .map(Body::Info),
            Request::Poll { items, wait } => {
                let mut ready = Vec::with_capacity(items.len());
                for &(id, ev) in &items {
                    let r = match self.check(sess, id) {
                        Ok(h) => self.stack.sopoll(h).0 & 0xffff,
                        Err(_) => Readiness::NVAL.0,
                    };
                    let changes = self.socks.get(&id).map_or(0, |e| e.changes as u32);
                    ready.push(r | changes << 16);
                    if wait && r & (ev | ALWAYS) == 0 {
                        if let Some(e) = self.socks.get_mut(&id) {
                            e.interest |= ev;
                        }
                    }
                }
                if wait {
                    for &(id, _) in &items {
                        if sess.attached.contains(&id) {
                            self.sync_token(id);
                        }
                    }
                }
                Ok(Body::Ready(ready))
            }
            Request::Serves { ty, addr } => Ok(Body::Bool(self.stack.serves(ty, addr))),
            Request::AcceptHead { id } => self.check(sess, id).and_then(|h| {
                self.stack
                    .accept_head_rcvtime(h)
                    .map(|t| Body::Count(t.total_micros()))
                    .ok_or(Errno::EAGAIN)
            }),
        };
        (reply, None)
    }
}

#[cfg(test)]
mod tests;
