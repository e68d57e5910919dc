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
//!
//! The remote calls answer from the status region without a message when
//! they can (docs/architecture.md, "Data path"): a receive takes what the
//! service put in the socket's receive ring, a receive or accept that
//! finds nothing is EAGAIN, a stream send with room is a `Post` (no
//! reply), a poll without `wait` reads the slots.

use std::net::SocketAddr;

use proto::{Body, Request};
use stack::{Domain, Errno, Instant, Readiness, RecvMeta, SockInfo, SockType, SocketHandle, Stack};

use crate::client::{self, call};
use crate::fdslot::FdSlot;

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

    /// Returns once the service has closed every socket whose
    /// descriptors are all gone (run/settle.rs in the service).
    pub fn settle(&self) -> Result<(), Errno> {
        self.unit(&Request::Settle)
    }

    /// O_NONBLOCK of `h`'s open file, published to every holder's slot
    /// (nonblock.rs).
    pub fn set_nonblock(&self, h: SocketHandle, on: bool) -> Result<(), Errno> {
        self.unit(&Request::SetNonblock { id: id(h), on })
    }

    /// socket(): the new socket's id and its anchor (the program's fd):
    /// a spare made ahead if one stands, else a `Socket` request (which
    /// asks for spares in a burst: client.rs, spares.rs).
    pub fn socket(
        &self,
        domain: Domain,
        ty: SockType,
        protocol: i32,
        cloexec: bool,
    ) -> Result<(SocketHandle, i32), Errno> {
        if let Some(r) = client::take_spare((domain, ty, protocol), cloexec) {
            return r.map(|(id, fd)| (SocketHandle::from_u64(id), fd));
        }
        call(
            &self.tun,
            &Request::Socket {
                domain,
                ty,
                protocol,
                spares: client::spares_wanted(),
            },
            &[],
            cloexec,
            |rep, fd| match (rep, fd) {
                (Ok(Body::Socket { id } | Body::Spares { id, .. }), Some(fd)) => {
                    Ok((SocketHandle::from_u64(id), fd))
                }
                (Err(e), _) => Err(e),
                // The anchor could not be received (no fd free after all).
                (Ok(Body::Socket { .. } | Body::Spares { .. }), None) => Err(Errno::EMFILE),
                _ => Err(Errno::EIO),
            },
        )?
    }

    /// accept(): the connection, its peer and its anchor, moved onto the
    /// number `slot` reserved (fdslot.rs).
    ///
    /// A connection the service handed over on the listener's `anchor`
    /// (handoff.rs) is taken first, with no message; the service answers
    /// EINPROGRESS to an `Accept` while one it handed may still be unread
    /// there (its record was written first, so a read now finds it).
    pub fn accept(
        &self,
        h: SocketHandle,
        anchor: i32,
        wait: bool,
        cloexec: bool,
        slot: &mut FdSlot,
    ) -> Result<(SocketHandle, SocketAddr, i32), Errno> {
        for _ in 0..3 {
            match self.accept_once(h, anchor, wait, cloexec, slot) {
                Err(Errno::EINPROGRESS) => continue,
                r => return r,
            }
        }
        Err(Errno::EAGAIN)
    }

    fn accept_once(
        &self,
        h: SocketHandle,
        anchor: i32,
        wait: bool,
        cloexec: bool,
        slot: &mut FdSlot,
    ) -> Result<(SocketHandle, SocketAddr, i32), Errno> {
        let handoff = client::slot(id(h)).is_some_and(|s| s.flag(proto::region::F_HANDOFF));
        if let Some((nid, peer, hi)) = crate::handoff::take_waiting(id(h)) {
            return self.handed(nid, peer, hi, cloexec, slot);
        }
        if handoff && anchor >= 0 {
            if let Some((nid, peer, fd)) =
                crate::handoff::accept_from_anchor(id(h), anchor, slot, cloexec)
            {
                return self.handed_here(nid, peer, fd);
            }
        }
        if nothing_to_read(h, true) {
            return Err(Errno::EAGAIN);
        }
        let r = Request::Accept { id: id(h), wait };
        let take = |slot: &mut FdSlot| {
            call(&self.tun, &r, &[], cloexec, |rep, fd| match (rep, fd) {
                (Ok(Body::Accepted { id, peer }), Some(fd)) => {
                    Ok((SocketHandle::from_u64(id), peer, slot.fill(fd, cloexec)))
                }
                (Err(e), _) => Err(e),
                (Ok(Body::Accepted { .. }), None) => Err(Errno::EMFILE),
                _ => Err(Errno::EIO),
            })?
        };
        match take(slot) {
            // No number free for the anchor to arrive (call's probe): the
            // reservation held the last one; give it to the anchor.
            Err(Errno::EMFILE) if slot.fd() >= 0 => {
                slot.give_up();
                take(slot)
            }
            r => r,
        }
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

    /// A handed connection (`id`, `peer`, its anchor `hi` at a protected
    /// high number) becomes the program's: the anchor moves onto the
    /// number `slot` reserved (or the lowest free one). A process the
    /// service did not hand it to (a fork child sharing the listener read
    /// the record) proves it holds it first, as for any anchor received.
    fn handed(
        &self,
        nid: u64,
        peer: SocketAddr,
        hi: i32,
        cloexec: bool,
        slot: &mut FdSlot,
    ) -> Result<(SocketHandle, SocketAddr, i32), Errno> {
        crate::driver::unprotect(hi);
        let fd = if slot.fd() >= 0 {
            slot.fill(hi, cloexec)
        } else {
            let fd = crate::driver::dup_low(hi, cloexec);
            // SAFETY: our own descriptor, duplicated (or not: EMFILE).
            unsafe { (crate::real::real().close)(hi) };
            if fd < 0 {
                return Err(Errno::EMFILE);
            }
            fd
        };
        self.handed_here(nid, peer, fd)
    }

    /// A handed connection whose anchor is at its number `fd` already.
    fn handed_here(
        &self,
        nid: u64,
        peer: SocketAddr,
        fd: i32,
    ) -> Result<(SocketHandle, SocketAddr, i32), Errno> {
        if client::slot(nid).is_none() {
            match self.attach(&[fd]).first() {
                Some(Some(h)) if h.as_u64() == nid => {}
                _ => {
                    // SAFETY: the descriptor just made, not the program's yet.
                    unsafe { (crate::real::real().close)(fd) };
                    return Err(Errno::ECONNABORTED);
                }
            }
        }
        Ok((SocketHandle::from_u64(nid), peer, fd))
    }

    /// Give the kernel sockets of `h`'s loopback reservation to the
    /// service, which holds them as long as the socket (issue 19).
    pub fn reserved(&self, h: SocketHandle, fds: &[i32]) -> Result<(), Errno> {
        let req = Request::Reserved {
            id: id(h),
            count: fds.len() as u16,
        };
        call(&self.tun, &req, fds, false, |rep, fd| {
            if let Some(fd) = fd {
                // SAFETY: an fd we did not ask for: close it.
                unsafe { (crate::real::real().close)(fd) };
            }
            rep.map(|_| ())
        })?
    }

    /// `h` became kernel socket `k` here (a loopback connect): the
    /// service tells the other processes holding it (issue 19).
    pub fn moved(&self, h: SocketHandle, k: i32) -> Result<(), Errno> {
        call(
            &self.tun,
            &Request::Moved { id: id(h) },
            &[k],
            false,
            |rep, fd| {
                if let Some(fd) = fd {
                    // SAFETY: an fd we did not ask for: close it.
                    unsafe { (crate::real::real().close)(fd) };
                }
                rep.map(|_| ())
            },
        )?
    }

    /// A copy of kernel socket `index` of `h`'s reservation, held by the
    /// service: at the lowest free fd, close-on-exec.
    pub fn reservation(&self, h: SocketHandle, index: u8) -> Result<i32, Errno> {
        let req = Request::Reservation { id: id(h), index };
        call(&self.tun, &req, &[], true, |rep, fd| match (rep, fd) {
            (Ok(_), Some(fd)) => Ok(fd),
            (Err(e), Some(fd)) => {
                // SAFETY: our fd, just received.
                unsafe { (crate::real::real().close)(fd) };
                Err(e)
            }
            (Err(e), None) => Err(e),
            // It could not be received (no fd free).
            (Ok(_), None) => Err(Errno::EMFILE),
        })?
    }

    /// A descriptor of `h` was closed here (`last`: this process's last
    /// one): the service closes the socket now if that was the last one
    /// anywhere.
    ///
    /// The last descriptor here of a connection to a peer beyond the
    /// device, held alone, is told without waiting for the answer: no
    /// process can see the close but by the FIN, and the anchor's
    /// hang-up would close the socket even if the message were lost. A
    /// listener, a socket with a loopback reservation or moved to the
    /// kernel, or one whose peer is on our stack (a later call here could
    /// see the close) waits, so the close is done when close() returns.
    /// A socket the service has already closed (its slot here cleared:
    /// the anchor's hang-up came first) needs no message at all.
    pub fn closed(&self, h: SocketHandle, last: bool) {
        use proto::region as r;
        let post = Request::ClosedPost { id: id(h) };
        let refuse = r::F_LISTENING | r::F_RESERVED | r::F_MOVED;
        if last && crate::handoff::any_waiting() {
            // Never accepted here: they go with the listener (reset).
            crate::handoff::listener_closed(id(h));
        }
        if last && client::send_if_alone(id(h), r::F_REMOTE_PEER, refuse, &post) {
            return;
        }
        // Closed already: the service saw the anchor hang up.
        if last && client::slot_gone(id(h)) {
            return;
        }
        let _ = self.unit(&Request::Closed { id: id(h), last });
    }

    /// Readiness of many sockets at once; with `wait`, interest in
    /// `events` is registered for those not ready.
    pub fn poll(&self, items: Vec<(u64, u32)>, wait: bool) -> Result<Vec<u32>, Errno> {
        if let Some(v) = local_poll(&items, wait) {
            return Ok(v);
        }
        let ids = crate::handoff::any_waiting().then(|| items.clone());
        let v = self.req(&Request::Poll { items, wait }, |b| match b {
            Body::Ready(v) => Ok(v),
            _ => Err(Errno::EIO),
        })?;
        Ok(match ids {
            Some(ids) => with_handed(&ids, v),
            None => v,
        })
    }
}

/// Readiness the service answered, with the listeners that have a
/// handed connection waiting in this process (handoff.rs) readable: the
/// service no longer counts it in their queue.
fn with_handed(items: &[(u64, u32)], mut v: Vec<u32>) -> Vec<u32> {
    if crate::handoff::any_waiting() {
        for (r, &(id, _)) in v.iter_mut().zip(items) {
            if crate::handoff::waiting(id) {
                *r |= Readiness::IN.0;
            }
        }
    }
    v
}

/// Events after which a receive (or accept) does not say EAGAIN.
const READABLE: u32 = Readiness::IN.0
    | Readiness::ERR.0
    | Readiness::HUP.0
    | Readiness::RDHUP.0
    | Readiness::PRI.0
    | Readiness::NVAL.0;

/// Would a receive (`listen` false) or an accept (true) on `h` find
/// nothing, by the region? Only for a socket this process holds alone,
/// with every `Post` taken unless its peer is beyond the device (a send
/// to ourselves over our own address could still be on its way). A wait that follows needs no interest
/// registered: readability is always mirrored into the anchor's token,
/// and the slot is written before the token.
fn nothing_to_read(h: SocketHandle, listen: bool) -> bool {
    use proto::region as r;
    let Some(s) = client::slot(id(h)) else {
        return false;
    };
    let kind = if listen {
        r::F_LISTENING
    } else {
        r::F_STREAM_OPEN
    };
    s.flag(r::F_EXCLUSIVE)
        && s.flag(kind)
        && s.rcv_cc == 0
        && client::ring_avail(&s) == 0
        && s.poll_value() & READABLE == 0
        && (s.flag(r::F_REMOTE_PEER) || client::posts_pending() == 0)
}

/// Options whose setsockopt on an open TCP connection (ESTABLISHED,
/// FIN_WAIT_1/2) cannot fail with a 4-byte value, as on Linux: sent
/// without waiting for the answer (`SetsockoptPost`).
const NO_REPLY_OPTS: [(i32, i32); 2] = [
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
];

/// Events the service always mirrors into the token (its `ALWAYS`).
const MIRRORED: u32 =
    Readiness::IN.0 | Readiness::ERR.0 | Readiness::HUP.0 | Readiness::RDHUP.0 | Readiness::PRI.0;

/// The readiness of `id` by its slot, as the service would answer once
/// the `pending` bytes this client posted are taken: None when they could
/// change it in ways the slot cannot tell (a peer over our own address).
/// Writability is recomputed by the stack's rule (free * 2 >= used)
/// with those bytes moved from free to used.
fn local_value(id: u64, pending: u64) -> Option<u32> {
    use proto::region as r;
    let s = client::slot(id)?;
    if pending > 0 && !s.flag(r::F_REMOTE_PEER) {
        return None;
    }
    let mut v = s.poll_value();
    if client::ring_avail(&s) > 0 || crate::handoff::waiting(id) {
        v |= Readiness::IN.0;
    }
    // A listener held alone whose service handed more connections than
    // this process took: some wait in its anchor (handoff.rs).
    if s.rx_head > 0
        && s.flag(r::F_LISTENING)
        && s.flag(r::F_EXCLUSIVE)
        && s.rx_head > crate::handoff::taken(id)
    {
        v |= Readiness::IN.0;
    }
    let out = Readiness::OUT.0 | Readiness::WRNORM.0;
    if pending > 0 && v & out != 0 {
        let free = s.snd_space.saturating_sub(pending);
        if free == 0 || free * 2 < s.snd_used + pending {
            v &= !out;
        }
    }
    Some(v)
}

/// A `Poll` answered from the slots (None: some socket has no slot, or a
/// `Post` is still in flight, or only the service can answer). With
/// `wait`, only when the service would do nothing but answer: no item
/// with a mirrored event (no token to write back), and each either ready
/// for what it asks or asking only for mirrored events (whose interest is
/// implied: their tokens are always written), e.g. a connection that has
/// nothing to read, waited for readability.
fn local_poll(items: &[(u64, u32)], wait: bool) -> Option<Vec<u32>> {
    let pending = client::posts_pending();
    items
        .iter()
        .map(|&(id, ev)| {
            let v = local_value(id, pending)?;
            let r = v & 0xffff;
            let needs_interest = r & ev == 0 && ev & !MIRRORED & 0xffff != 0;
            if wait && (r & MIRRORED != 0 || needs_interest) {
                return None;
            }
            Some(v)
        })
        .collect()
}

impl Remote {
    /// Readiness of sockets about to be waited for through their anchors
    /// (`(anchor, id, events)`): what `Poll` with `wait` answers after
    /// reading each token back, without touching what the region settles.
    /// A socket whose slot shows a mirrored event keeps its token (it
    /// stands for that event) and is answered from the slot; the others'
    /// tokens are read back, and they are answered from the slots when
    /// `local_poll` may, else by one `Poll` to the service.
    pub fn poll_armed(&self, items: &[(i32, u64, u32)]) -> Result<Vec<u32>, Errno> {
        let mut out: Vec<Option<u32>> = Vec::with_capacity(items.len());
        let pending = client::posts_pending();
        for &(fd, id, _) in items {
            match local_value(id, pending) {
                Some(v) if v & MIRRORED != 0 => out.push(Some(v)),
                _ => {
                    crate::wait::drain_token(fd);
                    out.push(None);
                }
            }
        }
        let ask: Vec<(u64, u32)> = items
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(&(_, id, ev), _)| (id, ev))
            .collect();
        let mut answers = if ask.is_empty() {
            Vec::new()
        } else {
            self.poll(ask, true)?
        }
        .into_iter();
        let v = out
            .into_iter()
            .map(|o| o.or_else(|| answers.next()).unwrap_or(Readiness::NVAL.0))
            .collect();
        // A token read back above may have been a handed connection.
        let ids: Vec<(u64, u32)> = items.iter().map(|&(_, id, ev)| (id, ev)).collect();
        Ok(with_handed(&ids, v))
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

    /// `wait`: a blocking connect (the service registers its wait when
    /// the connection is in progress; the local stack has its own).
    pub fn connect(
        &self,
        now: Instant,
        h: SocketHandle,
        addr: Option<SocketAddr>,
        wait: bool,
    ) -> Result<(), Errno> {
        match self {
            Net::Local(s) => s.connect(now, h, addr),
            Net::Remote(r) => r.unit(&Request::Connect {
                id: id(h),
                addr,
                wait,
            }),
        }
    }

    /// A blocking connect without a reply (`ConnectPost`), when the slot
    /// shows a stream socket this process holds alone, neither open nor
    /// listening, without an error: true if it was written (the caller
    /// then sleeps on the anchor as after EINPROGRESS). False: use
    /// `connect`.
    pub fn connect_post(&self, h: SocketHandle, addr: SocketAddr) -> bool {
        use proto::region as r;
        match self {
            Net::Local(_) => false,
            Net::Remote(_) => {
                let msg = Request::ConnectPost { id: id(h), addr };
                client::send_if_alone(id(h), 0, r::F_STREAM_OPEN | r::F_LISTENING, &msg)
            }
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
                const PLAIN: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | libc::MSG_MORE;
                // The post path never reports an error (it declines a
                // socket with one), so a continuing send may take it.
                let plain = flags & !stack::linux::MSG_SOCKSHIM_COPIED;
                if !wait && to.is_none() && !data.is_empty() && plain & !PLAIN == 0 {
                    if let Some(n) = client::post(id(h), plain, data)? {
                        return Ok(n);
                    }
                }
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

    /// A receive into `buf` on socket `h` of type `ty` (the socket type
    /// decides what MSG_TRUNC means: below).
    pub fn recv(
        &self,
        now: Instant,
        h: SocketHandle,
        ty: SockType,
        buf: &mut [u8],
        flags: i32,
        wait: bool,
    ) -> Result<RecvMeta, Errno> {
        match self {
            Net::Local(s) => s.recv(now, h, buf, flags),
            Net::Remote(r) => {
                const PLAIN: i32 = libc::MSG_DONTWAIT
                    | libc::MSG_PEEK
                    | libc::MSG_WAITALL
                    | libc::MSG_NOSIGNAL
                    | libc::MSG_CMSG_CLOEXEC;
                if flags & !PLAIN == 0 && !buf.is_empty() {
                    let peek = flags & libc::MSG_PEEK != 0;
                    if let Some(n) = client::ring_recv(id(h), buf, peek) {
                        // Rings serve streams only: no datagram details.
                        return Ok(RecvMeta {
                            copied: n,
                            full_len: n,
                            from: None,
                            info: None,
                        });
                    }
                    if nothing_to_read(h, false) {
                        return Err(Errno::EAGAIN);
                    }
                    if ty == SockType::Stream && client::at_eof(id(h)) {
                        return Ok(RecvMeta {
                            copied: 0,
                            full_len: 0,
                            from: None,
                            info: None,
                        });
                    }
                }
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
                        info,
                    } if data.len() <= buf.len() => {
                        // MSG_TRUNC on a stream counts the bytes without
                        // copying them (tcp_recvmsg; the service sends them
                        // all the same); a datagram's are copied and its
                        // full length returned (udp_recvmsg).
                        let discard = flags & libc::MSG_TRUNC != 0 && ty == SockType::Stream;
                        if !discard {
                            buf[..data.len()].copy_from_slice(data);
                        }
                        Ok(RecvMeta {
                            copied: data.len(),
                            full_len: full_len as usize,
                            from,
                            info,
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
            // An option that cannot fail on an open connection held alone
            // goes without waiting for the answer.
            Net::Remote(_)
                if NO_REPLY_OPTS.contains(&(level, name))
                    && val.len() >= 4
                    && client::send_if_alone(
                        id(h),
                        proto::region::F_STREAM_OPEN,
                        0,
                        &Request::SetsockoptPost {
                            id: id(h),
                            level,
                            name,
                            val: &val[..4],
                        },
                    ) =>
            {
                Ok(())
            }
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
                let input = stack::linux::getsockopt_input_len(level, name).min(len as usize);
                let val = out[..input].to_vec();
                r.req(
                    &Request::Getsockopt {
                        id: id(h),
                        level,
                        name,
                        len,
                        val: &val,
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
