//! The service's logic, free of the event loop: the stack, the table of
//! sockets with their anchors, and what each request does. The loop hands
//! it a decoded request, the client's `Session` and the time; it answers
//! with a `Reply` and, for `Socket`/`Accept`, the anchor end to pass.
//!
//! A client names only sockets it holds: `Session::attached` lists the
//! ids it created, accepted or proved by passing their anchor (`Attach`);
//! any other id is EBADF, whatever its value.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use proto::{region, Body, Reply, Request};
use stack::hash::{FastMap, FastSet};
use stack::{Errno, Instant, Readiness, SocketHandle, Stack};

use crate::anchor;
use crate::limits::{Limits, SbCharge};
use crate::region::Region;

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
    /// The outcome of a `ConnectPost` known at once (anything but "in
    /// progress"), kept for the socket's next `ConnectStatus`, which
    /// answers it: the client had no reply to read it from.
    connect_posted: Option<Result<(), Errno>>,
    /// A saw the hang-up once (it never comes back: no B can be made
    /// again once every one is gone), so it is not asked twice.
    hung: bool,
    /// Counts readiness changes (edge-triggered epoll in the clients
    /// reports an entry again only after a change).
    changes: u16,
    /// The status regions of the clients holding the socket, where its
    /// slot is published (`publish`). One alive: that client holds it
    /// alone and may use the fast paths.
    views: Vec<Rc<Region>>,
    /// Connected to a peer beyond the device (`region::F_REMOTE_PEER`),
    /// found once the connection is open.
    remote_peer: Option<bool>,
    /// The receive ring lent to the socket (`rx`), and bytes taken back
    /// from a ring, served before the stack's queue.
    rx: Option<rx::Rx>,
    pending: Vec<u8>,
    /// SO_RCVLOWAT as last set (rings only while it is 1).
    lowat: usize,
    /// Tokens written into the anchor that may be unread (anchor.rs).
    tokens: u8,
    /// O_NONBLOCK of the open file as a holder last set it (`SetNonblock`),
    /// published to every holder (`region::F_NONBLOCK`).
    nonblock: bool,
    /// The kernel sockets of its loopback reservation, closed with it
    /// (issue 19, reservation.rs); empty if it has none. After `Moved`:
    /// the kernel socket it became, and `moved` is set.
    kside: Vec<OwnedFd>,
    moved: bool,
    /// The buffer bytes this socket reserves (SO_SNDBUF + SO_RCVBUF),
    /// charged to the client that made it (limits.rs).
    sb_charged: u64,
    sb_owner: SbCharge,
    /// Accept without a round trip (handoff.rs): a listener's
    /// connections handed over and not taken, or the listener a
    /// connection was handed on. Boxed: most sockets never have one
    /// (memory per held connection).
    handoff: Option<Box<handoff::Handoff>>,
}

/// One client connection's rights.
#[derive(Default)]
pub struct Session {
    pub attached: FastSet<u64>,
    /// Runs as the service's uid or root: may create sockets. Any other
    /// client only uses sockets it holds (attached by their anchors), and
    /// the connections accepted on them.
    pub trusted: bool,
    /// This client's status region (made at `Hello`), if it could be made.
    pub region: Option<Rc<Region>>,
    /// The loop's key for this client's connection (its fd).
    pub key: RawFd,
    /// The buffer bytes the sockets this client made reserve (limits.rs).
    pub sb: SbCharge,
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
    /// The anchors of sockets made ahead by the request being served
    /// (`spares.rs`), passed after its own.
    spare_bs: Vec<OwnedFd>,
    scratch: Vec<u8>,
    /// `Post`s refused because the socket had no room for all of the
    /// data (an error or reset came first, or a client that posts without
    /// looking at its region): the data is dropped, as a reset drops what
    /// the send buffer held.
    pub posts_refused: u64,
    /// The time of the request or loop turn being served (for the stack
    /// calls the receive rings make).
    pub clock: Instant,
    /// What one client may hold (limits.rs).
    pub limits: Limits,
    /// Listeners with connections to hand over, and their holders' keys
    /// (handoff.rs; the loop has the sessions).
    handoffs: Vec<(u64, RawFd)>,
}

/// How long one read of the namespace's sysctls stands for `Socket`.
const SYSCTL_REREAD_US: u64 = 10_000;

/// Events always mirrored into the token: readable, error, hang-up.
const ALWAYS: u32 =
    Readiness::IN.0 | Readiness::ERR.0 | Readiness::HUP.0 | Readiness::RDHUP.0 | Readiness::PRI.0;

fn os_err(e: nix::errno::Errno) -> Errno {
    Errno(e as i32)
}

/// A new anchor pair. The service's own descriptor table full is the
/// system's file table full for the program (ENFILE, as Linux's
/// `alloc_file` says when `fs.file-max` is reached), not its own (EMFILE).
pub(crate) fn anchor_pair() -> Result<(OwnedFd, OwnedFd, u64), Errno> {
    anchor::pair().map_err(|e| match e {
        nix::errno::Errno::EMFILE => Errno::ENFILE,
        e => os_err(e),
    })
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
            spare_bs: Vec::new(),
            scratch: vec![0; proto::MAX_DATA],
            posts_refused: 0,
            clock: Instant::from_micros(0),
            limits: Limits::default(),
            handoffs: Vec::new(),
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
        let pair = anchor_pair()?;
        Ok(self.anchor_register(sess, h, pair))
    }

    /// The entry for stack socket `h` around a pair made by `anchor_pair`
    /// (made first where a failure must leave `h` where it was: a queued
    /// connection stays queued).
    fn anchor_register(
        &mut self,
        sess: &mut Session,
        h: SocketHandle,
        (a, b, ino): (OwnedFd, OwnedFd, u64),
    ) -> OwnedFd {
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
                connect_posted: None,
                hung: false,
                changes: 0,
                views: sess.region.iter().cloned().collect(),
                remote_peer: None,
                rx: None,
                pending: Vec::new(),
                lowat: 1,
                tokens: 0,
                nonblock: false,
                kside: Vec::new(),
                moved: false,
                sb_charged: 0,
                sb_owner: sess.sb.clone(),
                handoff: None,
            },
        );
        self.sb_recharge(id);
        sess.attached.insert(id);
        self.publish(id);
        b
    }

    /// The last descriptor of `id` is gone: the socket's last `so_count`
    /// reference, held by the service, goes too (`soclose`).
    ///
    /// The slots are cleared last: a client that finds its slot gone
    /// returns from close() without asking (`slot_gone` in the shim) and
    /// may bind the port at once, in our stack and in the kernel's port
    /// space, so both are free by then (c-test 301).
    pub fn close_socket(&mut self, now: Instant, id: u64) {
        self.handed_close(id);
        self.connecting.remove(&id);
        let _ = self.rx_close(id);
        if let Some(mut e) = self.socks.remove(&id) {
            e.sb_owner.change(e.sb_charged, 0);
            self.by_ino.remove(&e.b_ino);
            self.by_anchor.remove(&e.anchor.as_raw_fd());
            let _ = self.stack.close(now, SocketHandle::from_u64(id));
            // The loopback reservation's kernel sockets.
            e.kside.clear();
            for v in &e.views {
                v.write_slot(id, None);
            }
        }
    }

    /// Is every descriptor of socket `id` gone (its anchor hung up), the
    /// socket not closed yet? (A hang-up seen once is not asked again.)
    pub fn anchor_gone(&mut self, id: u64) -> bool {
        let Some(e) = self.socks.get_mut(&id) else {
            return false;
        };
        e.hung = e.hung || anchor::hung_up(e.anchor.as_fd());
        e.hung
    }

    /// The socket of anchor `fd`, if every B is gone (A sees the hang-up).
    /// The loop asks this when epoll reports the anchor, and before it
    /// serves the holders' queued requests, not after: an event can be
    /// stale (the fd number was another socket's anchor when epoll
    /// reported it), and a holder that posts and closes while its queue
    /// is being served must not have that close seen before its posts.
    pub fn hung_up_socket(&mut self, fd: RawFd) -> Option<u64> {
        let id = self.socket_of_anchor(fd)?;
        self.anchor_gone(id).then_some(id)
    }

    /// The connections of the clients holding socket `id`: their queued
    /// requests (a `Post` sent before the program's close) are served
    /// before the hang-up closes the socket.
    pub fn holders(&self, id: u64) -> Vec<RawFd> {
        self.socks
            .get(&id)
            .map(|e| {
                e.views
                    .iter()
                    .filter(|v| v.alive())
                    .map(|v| v.owner())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The anchor's poll said hang-up: close if every B is really gone
    /// (no holder's queue served first: the loop does that, run.rs).
    pub fn anchor_event(&mut self, now: Instant, fd: RawFd) {
        if let Some(id) = self.hung_up_socket(fd) {
            self.close_socket(now, id);
        }
    }

    /// Make the token of `id` match its readiness and waiters' interest.
    pub fn sync_token(&mut self, id: u64) {
        // The slot before the token: a client woken by it, or one that
        // reads the token back and then looks at its slot, sees it fresh.
        self.publish(id);
        if !self.socks.contains_key(&id) {
            return;
        }
        let mut r = self.stack.sopoll(SocketHandle::from_u64(id)).0;
        if self.rx_readable(id) {
            r |= Readiness::IN.0;
        }
        let Some(e) = self.socks.get(&id) else {
            return;
        };
        if r & (ALWAYS | e.interest) == 0 {
            return;
        }
        // A listener that hands its connections over: their records
        // make the anchor readable instead (handoff.rs).
        if r & !Readiness::IN.0 & ALWAYS == 0 && self.handoff_instead_of_token(id) {
            return;
        }
        if let Some(e) = self.socks.get_mut(&id) {
            anchor::put_token(e.anchor.as_fd(), &mut e.tokens);
            e.interest = 0;
        }
    }

    /// Write the state of `id` into the slot of every client holding it
    /// (dropping the regions of clients gone).
    pub fn publish(&mut self, id: u64) {
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        e.views.retain(|v| v.alive());
        if e.views.is_empty() {
            return;
        }
        let h = SocketHandle::from_u64(id);
        let mut r = self.stack.sopoll(h).0 as u64 & 0xffff;
        let info = self.stack.sockinfo(h).ok();
        // Readable as rx_readable says: bytes taken back (pending), and
        // with the stack's queue at least SO_RCVLOWAT of them. The slot
        // said not readable once SO_RCVLOWAT was above 1, whatever was
        // queued: a client that read the token back then believed the slot
        // and slept on with the data there (c-test 121 in flakeproof).
        let queued = info.map_or(0, |i| i.rcv_cc);
        if !e.pending.is_empty() && (e.lowat <= 1 || e.pending.len() + queued >= e.lowat) {
            r |= Readiness::IN.0 as u64;
        }
        let mut ready = r | (e.changes as u64) << 16;
        let (ring, rx_head) = e.rx.as_ref().map_or((0, 0), |rx| rx.slot_words());
        // A listener has no ring: the word counts its handed connections.
        let rx_head = rx_head.max(e.handoff.as_ref().map_or(0, |h| h.total));
        if e.rx.as_ref().is_some_and(|rx| rx.waiting()) {
            ready |= region::F_RX_WAITING;
        }
        if e.views.len() == 1 {
            ready |= region::F_EXCLUSIVE;
        }
        // ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2: an empty queue is EAGAIN.
        if info.is_some_and(|i| matches!(i.tcp_state, 1 | 4 | 5)) {
            ready |= region::F_STREAM_OPEN;
            e.remote_peer.get_or_insert_with(|| {
                let cfg = self.stack.config();
                self.stack.getpeername(h).is_ok_and(|p| {
                    // An IPv4-mapped peer is its IPv4 address.
                    let ip = p.ip().to_canonical();
                    let ours = match ip {
                        std::net::IpAddr::V4(a) => a == cfg.addr,
                        std::net::IpAddr::V6(a) => Some(a) == cfg.addr6,
                    };
                    !ours && !ip.is_loopback() && !ip.is_unspecified()
                })
            });
        }
        // Found while open, kept through the close (CLOSE_WAIT...): the
        // client's close of such a socket takes no round trip (net.rs).
        if e.remote_peer == Some(true) {
            ready |= region::F_REMOTE_PEER;
        }
        if info.is_some_and(|i| i.listening) {
            ready |= region::F_LISTENING;
            if e.views.len() == 1 && e.kside.is_empty() && !e.moved {
                ready |= region::F_HANDOFF;
            }
        }
        if e.handoff.as_ref().is_some_and(|h| !h.handed.is_empty()) {
            ready |= region::F_HANDOFF;
        }
        if e.nonblock {
            ready |= region::F_NONBLOCK;
        }
        if e.moved {
            ready |= region::F_MOVED;
        } else if !e.kside.is_empty() {
            ready |= region::F_RESERVED;
        }
        let slot = region::Slot {
            id,
            ready,
            rcv_cc: info.map_or(0, |i| i.rcv_cc as u64) + e.pending.len() as u64,
            snd_space: info.map_or(0, |i| i.snd_space as u64),
            ring,
            rx_head,
            snd_used: info.map_or(0, |i| i.snd_cc as u64),
        };
        for v in &e.views {
            v.write_slot(id, Some(&slot));
        }
    }

    /// `sess` now holds `id` too (attached): its region joins the views.
    fn add_view(&mut self, sess: &Session, id: u64) {
        let Some(reg) = &sess.region else { return };
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        if !e.views.iter().any(|v| Rc::ptr_eq(v, reg)) {
            e.views.push(reg.clone());
        }
        if e.views.len() > 1 {
            // Held by several clients: no ring, every read by message.
            self.rx_revoke(id);
        }
        self.publish(id);
    }

    /// `sess` closed its last descriptor of `id` (`Closed` with `last`):
    /// it no longer holds the socket (its later requests naming it are
    /// EBADF, as a closed descriptor's are), its slot is cleared, and a
    /// socket it shared with one other client is that client's alone
    /// again: back on the region's fast paths (accept, fork, the child
    /// serves, the parent closes its copy).
    fn release_view(&mut self, sess: &mut Session, id: u64) {
        sess.attached.remove(&id);
        let Some(reg) = &sess.region else { return };
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        let before = e.views.len();
        e.views.retain(|v| !Rc::ptr_eq(v, reg));
        if e.views.len() < before {
            reg.write_slot(id, None);
            // Its ring, if it had one (held alone until now), comes
            // back: what it left unread stays readable by the others.
            if e.rx.is_some() {
                self.rx_revoke(id);
            }
        }
        self.publish(id);
    }

    /// The client's connection closed: its region is no longer written,
    /// and a socket it shared may now be another client's alone.
    pub fn session_gone(&mut self, sess: &Session) {
        if let Some(r) = &sess.region {
            r.kill();
            for &id in &sess.attached {
                // What it left unread in its ring stays readable by the
                // other holders.
                if self.socks.get(&id).is_some_and(|e| e.rx.is_some()) {
                    self.rx_revoke(id);
                }
                self.publish(id);
            }
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
                // The socket layer's side of the completed connect now,
                // as `ConnectStatus` would do it: a client that sees the
                // connection open in its slot returns without asking.
                let _ = self.stack.connect_status(*h);
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
            // Received data moves to the socket's ring (if it has one)
            // before its slot is written and its token set.
            self.rx_push(h.as_u64());
            self.sync_token(h.as_u64());
        }
    }

    /// Linux reads net.ipv4.tcp_fastopen live when a Fast Open call is
    /// made (and tcp_ecn when a SYN comes), not only at socket(): re-read
    /// the namespace's sysctls in those calls and in listen().
    fn fastopen_sysctl(&self) {
        if let Some(read) = self.read_sysctl {
            self.stack.set_sysctl(read());
        }
    }

    /// `Reserved`/`Moved`: `fds` are `count` kernel sockets fit for socket
    /// `id` (reservation.rs), which the client holds.
    fn check_kernel_sockets(
        &self,
        sess: &Session,
        id: u64,
        count: u16,
        fds: &[OwnedFd],
    ) -> Result<(), Errno> {
        let h = self.check(sess, id)?;
        if fds.len() != count as usize {
            return Err(Errno::EINVAL);
        }
        let mut ty = [0u8; 4];
        self.stack
            .getsockopt(h, libc::SOL_SOCKET, libc::SO_TYPE, &mut ty)?;
        let ty = match i32::from_ne_bytes(ty) {
            libc::SOCK_DGRAM => stack::SockType::Dgram,
            _ => stack::SockType::Stream,
        };
        crate::reservation::check(fds, ty)
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

    /// Carry out one request as the loop does: the reply encoded (None for
    /// a `Post`, which has none) with the descriptors to pass, and the
    /// request's socket published, so that the client's next call sees
    /// what this one did. (The loop then writes frames out and publishes
    /// every other socket that changed before it sends the reply.)
    pub fn serve(
        &mut self,
        sess: &mut Session,
        now: Instant,
        req: Request<'_>,
        fds: Vec<OwnedFd>,
    ) -> (Option<Vec<u8>>, Vec<OwnedFd>) {
        let posted = matches!(
            req,
            Request::Post { .. }
                | Request::RxMore { .. }
                | Request::ClosedPost { .. }
                | Request::SetsockoptPost { .. }
                | Request::ConnectPost { .. }
        );
        let id = req.socket_id();
        self.clock = now;
        let (reply, pass) = self.handle(sess, now, req, fds);
        let b = (!posted).then(|| proto::msg::encode_reply(&reply));
        drop(reply);
        if let Some(id) = id {
            self.publish(id);
        }
        let mut pass: Vec<OwnedFd> = pass.into_iter().collect();
        pass.append(&mut self.spare_bs);
        (b, pass)
    }

    /// Carry out one request. `fds` are the descriptors that came with it
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
            Request::Hello { version } if version == proto::VERSION => {
                // The status region rides with the reply; a client without
                // one (memfd refused) takes the message path for all.
                return match Region::new(sess.key) {
                    Ok((r, fd)) => {
                        sess.region = Some(Rc::new(r));
                        (Ok(Body::None), Some(fd))
                    }
                    Err(_) => (Ok(Body::None), None),
                };
            }
            Request::Hello { .. } => Err(Errno::EPROTONOSUPPORT),
            // The event loop serves these (run.rs): they see the device.
            Request::Stat { .. } | Request::Capture => Err(Errno::EOPNOTSUPP),
            Request::Socket { .. } if !sess.trusted => return (Err(Errno::EACCES), None),
            Request::Socket {
                domain,
                ty,
                protocol,
                spares,
            } => return self.socket(sess, now, domain, ty, protocol, spares),
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
                    .collect::<Vec<u64>>();
                for &id in &ids {
                    if id != proto::NOT_AN_ANCHOR {
                        self.add_view(sess, id);
                    }
                }
                Ok(Body::Ids(ids))
            }
            Request::ClosedPost { id } => {
                return self.handle(sess, now, Request::Closed { id, last: true }, fds);
            }
            Request::SetsockoptPost {
                id,
                level,
                name,
                val,
            } => {
                let r = self.handle(
                    sess,
                    now,
                    Request::Setsockopt {
                        id,
                        level,
                        name,
                        val,
                    },
                    fds,
                );
                if r.0.is_err() {
                    self.posts_refused += 1;
                }
                return (Ok(Body::None), None);
            }
            // The loop has settled every close by now (run/settle.rs).
            Request::Settle => Ok(Body::None),
            Request::Closed { id, last } => {
                if sess.attached.contains(&id) {
                    if self.anchor_gone(id) {
                        self.close_socket(now, id);
                        sess.attached.remove(&id);
                    } else if last {
                        self.release_view(sess, id);
                    }
                }
                Ok(Body::None)
            }
            Request::Bind { id, addr } => self
                .check(sess, id)
                .and_then(|h| self.stack.bind(h, addr))
                .map(|_| Body::None),
            Request::Listen { id, backlog } => {
                // As the shim: a listener takes the sysctls now in force.
                self.fastopen_sysctl();
                self.check(sess, id)
                    .and_then(|h| self.stack.listen(h, backlog))
                    .map(|_| Body::None)
            }
            Request::Accept { id, wait } => {
                // Past a cap the connection stays queued (Linux's accept
                // finds no descriptor before it dequeues).
                // The anchor too is made before the dequeue (with no
                // descriptor for it, the connection stays queued), and
                // only when there is one to take: an accept that finds
                // the queue empty makes no socket pair to throw away.
                let r = self.check(sess, id).and_then(|h| {
                    self.accept_after_handed(id)?;
                    self.admit_accept(sess, h)?;
                    let pair = if self.stack.accept_empty(h) {
                        None
                    } else {
                        Some(anchor_pair()?)
                    };
                    let got = self.stack.accept(h)?;
                    Ok((got, pair.map_or_else(anchor_pair, Ok)?))
                });
                self.waited(id, wait, Readiness::IN, &r);
                let ((nh, peer), pair) = match r {
                    Ok(v) => v,
                    Err(e) => return (Err(e), None),
                };
                self.sync_token(id);
                let b = self.anchor_register(sess, nh, pair);
                return (
                    Ok(Body::Accepted {
                        id: nh.as_u64(),
                        peer,
                    }),
                    Some(b),
                );
            }
            Request::ConnectPost { id, addr } => {
                let wait = Request::Connect {
                    id,
                    addr: Some(addr),
                    wait: true,
                };
                let r = self.handle(sess, now, wait, fds).0.map(|_| ());
                if !matches!(r, Err(Errno::EINPROGRESS | Errno::EALREADY)) {
                    // Known at once: the client sleeps on its anchor with
                    // nobody to wake it but this token, and asks.
                    // The slot first, as every token (`sync_token`).
                    self.publish(id);
                    if let Some(e) = self.socks.get_mut(&id) {
                        e.connect_posted = Some(r);
                        anchor::put_token(e.anchor.as_fd(), &mut e.tokens);
                    }
                }
                return (Ok(Body::None), None);
            }
            Request::Connect { id, addr, wait } => {
                if let Some(e) = self.socks.get_mut(&id) {
                    e.connect_posted = None;
                }
                // A blocking connect that completed over loopback (no
                // device frame, so `after_frame` did not see it) and that
                // the client saw done in its slot, without ConnectStatus:
                // the socket layer's side of it first, as `after_frame`
                // does, so that this connect is EISCONN (Linux's
                // SS_CONNECTED), not the once-only 0 of a connect that
                // completed unseen (gVisor's ConnectOnEstablishedConnection).
                if self.connecting.contains(&id) {
                    if let Ok(h) = self.check(sess, id) {
                        let r = self.stack.sopoll(h);
                        if r.contains(Readiness::OUT) && !r.intersects(Readiness::ERR) {
                            self.connecting.remove(&id);
                            let _ = self.stack.connect_status(h);
                        }
                    }
                }
                let r = self
                    .check(sess, id)
                    .and_then(|h| self.stack.connect(now, h, addr))
                    .map(|_| Body::None);
                if wait && matches!(r, Err(Errno::EINPROGRESS | Errno::EALREADY)) {
                    // As `ConnectStatus` with `wait` would register.
                    self.waited(id, true, Readiness::OUT, &Err::<(), _>(Errno::EAGAIN));
                    self.connecting.insert(id);
                }
                r
            }
            Request::ConnectStatus { id, wait } => {
                if let Some(e) = self.socks.get_mut(&id) {
                    if sess.attached.contains(&id) {
                        if let Some(r) = e.connect_posted.take() {
                            return (r.map(|()| Body::Bool(true)), None);
                        }
                    }
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
            Request::RxMore { id } => {
                if self.check(sess, id).is_ok() {
                    self.rx_push(id);
                    self.sync_token(id);
                }
                Ok(Body::None)
            }
            Request::Post { id, flags, data } => {
                // The client has told its program the send is done: take
                // all of it or none (never a part: the stream would skip).
                const PLAIN: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_MORE;
                let taken = self.check(sess, id).ok().is_some_and(|h| {
                    let room = self.stack.sockinfo(h).map_or(0, |i| i.snd_space);
                    flags & !PLAIN == 0
                        && room >= data.len()
                        && self.stack.send(now, h, data, flags, None) == Ok(data.len())
                });
                if !taken {
                    self.posts_refused += 1;
                }
                self.publish(id);
                if let Some(r) = &sess.region {
                    r.add_posted(data.len() as u64);
                }
                Ok(Body::None)
            }
            Request::Recv {
                id,
                flags,
                len,
                wait,
            } => {
                let len = (len as usize).min(self.scratch.len());
                if self.check(sess, id).is_ok() {
                    // Asked by message: the ring (if any) comes back, and
                    // what it held is served first.
                    self.rx_revoke(id);
                    let got = self.recv_pending(id, len, flags);
                    if let Some(Err(e)) = got {
                        self.waited(id, wait, Readiness::IN, &Err::<(), _>(e));
                        return (Err(e), None);
                    }
                    if let Some(Ok(n)) = got {
                        self.sync_token(id);
                        // Rings serve streams only: no datagram details,
                        // a receive timestamp if asked for.
                        let info = self
                            .check(sess, id)
                            .ok()
                            .and_then(|h| self.stack.stream_rcv_info(h))
                            .filter(|_| n > 0);
                        return (
                            Ok(Body::Recv {
                                full_len: n as u64,
                                from: None,
                                data: &self.scratch[..n],
                                info,
                            }),
                            None,
                        );
                    }
                }
                let r = self
                    .check(sess, id)
                    .and_then(|h| self.stack.recv(now, h, &mut self.scratch[..len], flags));
                let r = r.map(|m| (m.copied, m.full_len, m.from, m.info));
                self.waited(id, wait, Readiness::IN, &r);
                if r.is_ok() {
                    self.sync_token(id);
                }
                r.map(|(copied, full_len, from, info)| Body::Recv {
                    full_len: full_len as u64,
                    from,
                    data: &self.scratch[..copied],
                    info,
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
            } => {
                let lowat = (level, name) == (libc::SOL_SOCKET, libc::SO_RCVLOWAT);
                let r = self
                    .check(sess, id)
                    .inspect(|_| {
                        if stack::linux::rereads_sysctl(level, name) {
                            self.fastopen_sysctl();
                        }
                    })
                    .and_then(|h| self.stack.setsockopt(now, h, level, name, val))
                    .map(|_| Body::None);
                if lowat && r.is_ok() {
                    self.rx_lowat(id);
                }
                if level == libc::SOL_SOCKET
                    && matches!(
                        name,
                        libc::SO_SNDBUF
                            | libc::SO_RCVBUF
                            | libc::SO_SNDBUFFORCE
                            | libc::SO_RCVBUFFORCE
                    )
                    && r.is_ok()
                {
                    self.sb_recharge(id);
                }
                r
            }
            Request::Getsockopt {
                id,
                level,
                name,
                len,
                val,
            } => {
                let len = (len as usize).min(proto::MAX_OPT);
                let h = match self.check(sess, id) {
                    Ok(h) => h,
                    Err(e) => return (Err(e), None),
                };
                // SIOCATMARK: bytes in the ring or `pending` come before
                // the mark, so the reader is not at it yet.
                let before_mark = level == stack::linux::SOL_SOCKSHIM
                    && name == stack::linux::SOCKSHIM_SIOCATMARK
                    && self.rx_unread(id) > 0;
                let out = &mut self.scratch[..len];
                // The caller's value, for the options that read it first
                // (the decoder checked it is no longer than `len`).
                out.fill(0);
                out[..val.len()].copy_from_slice(val);
                self.stack.note_time(now);
                self.stack
                    .getsockopt(h, level, name, out)
                    .inspect(|&n| {
                        if before_mark {
                            out[..n.min(4)].fill(0);
                        }
                    })
                    .map(|n| Body::Opt {
                        len: n as u64,
                        data: &self.scratch[..n.min(len)],
                    })
            }
            Request::Sockinfo { id } => {
                let r = self.check(sess, id).and_then(|h| self.stack.sockinfo(h));
                let extra = self.rx_unread(id);
                r.map(|mut i| {
                    i.rcv_cc += extra;
                    i.inq += extra;
                    i.inq_hint = i.inq_hint.map(|v| v + extra);
                    Body::Info(i)
                })
            }
            Request::Poll { items, wait } => {
                let mut ready = Vec::with_capacity(items.len());
                for &(id, ev) in &items {
                    let r = match self.check(sess, id) {
                        Ok(h) if self.rx_readable(id) || self.handed_unread(id) => {
                            (self.stack.sopoll(h).0 & 0xffff) | Readiness::IN.0
                        }
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
            // `serve` publishes the slots before the reply.
            Request::SetNonblock { id, on } => self.check(sess, id).map(|_| {
                if let Some(e) = self.socks.get_mut(&id) {
                    e.nonblock = on;
                }
                Body::None
            }),
            Request::Reserved { id, count } => {
                let r = self.check_kernel_sockets(sess, id, count, &fds);
                match (r, self.socks.get_mut(&id)) {
                    (Ok(()), Some(e)) if e.kside.is_empty() && !e.moved => {
                        e.kside = fds;
                        Ok(Body::None)
                    }
                    (Ok(()), _) => Err(Errno::EINVAL),
                    (Err(x), _) => Err(x),
                }
            }
            Request::Moved { id } => {
                let r = self.check_kernel_sockets(sess, id, 1, &fds);
                match (r, self.socks.get_mut(&id)) {
                    (Ok(()), Some(e)) if !e.moved => {
                        // The reservation (if it was not the one moved
                        // to) is closed here.
                        e.kside = fds;
                        e.moved = true;
                        Ok(Body::None)
                    }
                    (Ok(()), _) => Err(Errno::EINVAL),
                    (Err(x), _) => Err(x),
                }
            }
            Request::Reservation { id, index } => {
                let r = self.check(sess, id).and_then(|_| {
                    let e = self.socks.get(&id).ok_or(Errno::EBADF)?;
                    let k = e.kside.get(index as usize).ok_or(Errno::ENOENT)?;
                    k.try_clone()
                        .map_err(|x| Errno(x.raw_os_error().unwrap_or(libc::EMFILE)))
                });
                return match r {
                    Ok(k) => (Ok(Body::None), Some(k)),
                    Err(x) => (Err(x), None),
                };
            }
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

#[cfg(test)]
mod region_tests;

mod charge;
#[cfg(test)]
mod limit_tests;

mod handoff;
#[cfg(test)]
mod handoff_tests;
#[cfg(test)]
mod roundtrip_tests;
mod rx;
mod spares;
