//! The service's event loop, the stack's driver: one thread, one epoll
//! set over the device, the listening socket, every client connection and
//! every anchor. Each turn reads frames into the stack, answers requests
//! (one message in, one reply out, never blocking), closes sockets whose
//! last descriptor went, fires timers, writes frames out and refreshes
//! the readiness tokens of the sockets that changed. It returns when the
//! service has been idle long enough (`Idle`).
//!
//! A client that sends something that does not decode, or that does not
//! read its replies, is answered EINVAL (if possible) and cut off; other
//! clients never notice.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use proto::{msg::encode_reply, Request};
use stack::Errno;

use crate::capture::Dir;
use crate::core::{Core, Session};
use crate::idle::Idle;
use crate::listener;
use crate::pace::Pace;
use proto::spin::Spin;

mod settle;

const K_DEVICE: u64 = 1 << 62;
const K_LISTENER: u64 = 2 << 62;
const K_CLIENT: u64 = 3 << 62;
const K_MASK: u64 = 3 << 62;

/// Requests served from one client before looking at the others.
const BATCH: usize = 32;

/// The longest the loop spins before sleeping, by default (microseconds),
/// and then only while a CPU is idle (cpus.rs): with every CPU busy, on
/// this shared two-CPU machine, the spin did not pay (docs/architecture.md,
/// "Doorbells and spinning"). SOCKSHIM_SPIN_US sets the limit and spins
/// whatever the load (0: never).
const SPIN_LIMIT_US: u32 = 50;

/// The longest the loop sleeps without a timer due (microseconds).
const MAX_SLEEP_US: u64 = 60_000_000;

pub struct Service {
    pub core: Core,
    device: OwnedFd,
    listener: OwnedFd,
    epoll: Epoll,
    clients: stack::hash::FastMap<RawFd, (OwnedFd, Session, Pace)>,
    /// Turns of the loop so far, and the device's pace (pace.rs).
    turn: u64,
    dev_pace: Pace,
    idle: Idle,
    uid: u32,
    buf: Vec<u8>,
    /// SOCKSHIM_FAULTS impairments between the device and the stack (None:
    /// frames pass straight through).
    pub faults: Option<stack::faults::DeviceFaults>,
    /// The device was opened with IFF_VNET_HDR: a `virtio_net_hdr` before
    /// every frame both ways (offloads; never with `faults`).
    pub vnet: bool,
    /// `sockshim capture` clients' copies of every frame.
    capture: crate::capture::Captures,
    /// SOCKSHIM_LOG=debug: the stack's counters on stderr as each client
    /// goes (tests read them from SOCKSHIM_SERVICE_LOG).
    pub log_counters: bool,
    /// Serving other clients' queues before a close (settle.rs): not
    /// again from one of those.
    settling: bool,
}

/// CLOCK_MONOTONIC in stack time: one clock for every process.
pub fn now() -> stack::Instant {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0);
    stack::Instant::from_micros(t)
}

impl Service {
    /// `device` is the TUN fd (in tests, any fd that carries one frame per
    /// read and write); `listener` the bound name.
    pub fn new(
        core: Core,
        device: OwnedFd,
        listener: OwnedFd,
        idle: Duration,
    ) -> nix::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(&device, EpollEvent::new(EpollFlags::EPOLLIN, K_DEVICE))?;
        epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, K_LISTENER))?;
        Ok(Service {
            core,
            device,
            listener,
            epoll,
            clients: stack::hash::FastMap::default(),
            turn: 0,
            dev_pace: Pace::default(),
            idle: Idle::new(idle, std::time::Instant::now()),
            uid: nix::unistd::geteuid().as_raw(),
            buf: vec![0; proto::MAX_MSG + 1],
            faults: None,
            vnet: false,
            capture: Default::default(),
            log_counters: false,
            settling: false,
        })
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Serve until idle.
    pub fn run(&mut self) {
        // This thread's sleeps end within 1 us of their timeout instead of
        // the default 50 us: paced data leaves on a microsecond timer, as
        // Linux's pacing hrtimer releases it.
        // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer, no memory.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
        let mut lp = Turns::new();
        while !self.turn(&mut lp, None) {}
    }

    /// One turn of the loop: wait for events (at most `wait` when given,
    /// else until the next timer), serve them, fire timers, write frames
    /// out. True when the service has been idle long enough to exit.
    pub fn turn(&mut self, lp: &mut Turns, wait: Option<EpollTimeout>) -> bool {
        let mut n = 0;
        // The gap a sleep measures counts from the end of the work.
        let idle_from = std::time::Instant::now();
        if lp.worked
            && lp.spin.budget() > 0
            && lp.idle_cpu.as_mut().is_none_or(|c| c.now(idle_from))
        {
            let start = idle_from;
            let budget = Duration::from_micros(lp.spin.budget() as u64);
            loop {
                n = self
                    .epoll
                    .wait(&mut lp.events, EpollTimeout::ZERO)
                    .unwrap_or(0);
                let waited = start.elapsed();
                if n > 0 {
                    lp.spin.hit(waited.as_micros() as u32);
                    break;
                }
                if waited >= budget {
                    lp.spin.miss();
                    break;
                }
                std::hint::spin_loop();
            }
        }
        if n == 0 {
            n = match wait {
                Some(t) => self.epoll.wait(&mut lp.events, t).unwrap_or(0),
                None => self.wait_us(&mut lp.events, self.timeout_us()),
            };
            if n > 0 && lp.worked {
                lp.spin.slept(idle_from.elapsed().as_micros() as u64);
            }
        }
        lp.worked = n > 0;
        self.turn += 1;
        for ev in &lp.events[..n] {
            let data = ev.data();
            match data & K_MASK {
                K_DEVICE => self.input(&mut lp.frame),
                K_LISTENER => self.accept_clients(),
                K_CLIENT => self.serve_client((data & !K_MASK) as RawFd),
                _ => {
                    // Every descriptor gone: first serve what the holders
                    // had queued by then (a `Post` the program sent
                    // before its last close, all in once the hang-up
                    // shows), then close. Looked at in that order: an
                    // event may be stale, and a holder may post and close
                    // while its queue is served.
                    let Some(id) = self.core.hung_up_socket(data as RawFd) else {
                        continue;
                    };
                    for key in self.core.holders(id) {
                        self.serve_queued(key);
                    }
                    self.core.close_socket(now(), id)
                }
            }
        }
        self.watch_new_anchors();
        self.deliver_held();
        let t = now();
        self.core.clock = t;
        self.core.stack.handle_timeout(t);
        self.flush();
        self.core.sync_changed();
        self.hand_offs();
        // Moving data into receive rings can open windows: send those.
        self.flush();
        let idle = self.clients.is_empty() && self.core.is_empty();
        self.idle.update(std::time::Instant::now(), idle)
    }

    /// Microseconds until the next timer (a pacing release is due tens
    /// of them away), a frame the faults hold, or the idle exit.
    fn timeout_us(&self) -> u64 {
        let n = now().total_micros();
        let mut us = match self.core.stack.poll_timeout() {
            Some(t) => t.total_micros().saturating_sub(n).min(MAX_SLEEP_US),
            None => MAX_SLEEP_US,
        };
        if let Some(t) = self.faults.as_ref().and_then(|f| f.next_due()) {
            us = us.min(t.total_micros().saturating_sub(n));
        }
        if let Some(left) = self.idle.remaining(std::time::Instant::now()) {
            us = us.min(left.as_micros() as u64 + 1000);
        }
        us
    }

    /// epoll_pwait2: wait for events at most `us` microseconds (the loop
    /// thread's timer slack is 1 us, see main). The count of events.
    fn wait_us(&self, events: &mut [EpollEvent], us: u64) -> usize {
        let ts = libc::timespec {
            tv_sec: (us / 1_000_000) as libc::time_t,
            tv_nsec: (us % 1_000_000 * 1000) as libc::c_long,
        };
        let max = events.len().min(i32::MAX as usize) as i32;
        // SAFETY: EpollEvent is a transparent wrapper of epoll_event, and
        // `events` holds `max` of them for the kernel to fill; ts is a
        // valid timespec; no signal mask.
        let n = unsafe {
            libc::epoll_pwait2(
                self.epoll.0.as_raw_fd(),
                events.as_mut_ptr().cast::<libc::epoll_event>(),
                max,
                &ts,
                std::ptr::null(),
            )
        };
        if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::ENOSYS {
            // A kernel before 5.11, or valgrind (which does not know the
            // call): epoll_wait, the timeout rounded up to milliseconds.
            let ms = us.div_ceil(1000).min(i32::MAX as u64) as i32;
            // SAFETY: as above, without the timespec.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.0.as_raw_fd(),
                    events.as_mut_ptr().cast::<libc::epoll_event>(),
                    max,
                    ms,
                )
            };
            return usize::try_from(n).unwrap_or(0);
        }
        usize::try_from(n).unwrap_or(0)
    }

    fn input(&mut self, frame: &mut [u8]) {
        let mut got = 0;
        for _ in 0..self.dev_pace.budget(256) {
            if self.vnet && self.faults.is_none() && self.capture.active() == 0 {
                // A connection's payload may go straight into its receive
                // buffer (the stack's tcp_rxplace.rs): one readv.
                let dev = &self.device;
                let read = |a: &mut [u8], b: &mut [u8], c: &mut [u8]| {
                    let mut iov = [IoSliceMut::new(a), IoSliceMut::new(b), IoSliceMut::new(c)];
                    nix::sys::uio::readv(dev, &mut iov).map_or(-1, |n| n as isize)
                };
                if self.core.stack.read_vnet_frame(now(), true, frame, read) <= 0 {
                    break;
                }
                self.core.after_frame();
                got += 1;
                continue;
            }
            match nix::unistd::read(self.device.as_raw_fd(), frame) {
                Ok(n) if n > 0 && self.vnet => {
                    let t = now();
                    let hl = stack::wire::virtio_net::HDR_LEN.min(n);
                    let st = &self.core.stack;
                    self.capture.handle_in(st, t, &frame[hl..n], || {
                        st.handle_vnet_frame_batch(t, &frame[..n], true)
                    });
                    self.core.after_frame();
                }
                Ok(n) if n > 0 => match self.faults.as_mut() {
                    Some(faults) => faults.push_inbound(now(), &frame[..n]),
                    None => {
                        let t = now();
                        let st = &self.core.stack;
                        let rx = stack::RxMeta {
                            batch: true,
                            ..stack::RxMeta::default()
                        };
                        self.capture.handle_in(st, t, &frame[..n], || {
                            st.handle_frame_meta(t, &frame[..n], rx)
                        });
                        self.core.after_frame();
                    }
                },
                _ => break,
            }
            got += 1;
        }
        if got > 0 {
            // One ACK per connection for the batch's in-order data.
            self.core.stack.end_rx_batch(now());
        }
        self.dev_pace.note(self.turn, got);
        self.deliver_held();
    }

    /// With faults: hand the stack the inbound frames now due (the
    /// outbound ones leave in `flush`).
    fn deliver_held(&mut self) {
        let Some(faults) = self.faults.as_mut() else {
            return;
        };
        let t = now();
        while let Some(f) = faults.pop_inbound(t) {
            let st = &self.core.stack;
            self.capture.handle_in(st, t, &f, || st.handle_frame(t, &f));
            self.core.after_frame();
        }
    }

    /// Write every queued frame to the device (through the faults, when
    /// configured: what they hold back leaves on a later turn).
    pub fn flush(&mut self) {
        let t = now();
        if self.vnet {
            let mut hdr = [0u8; stack::wire::virtio_net::HDR_LEN];
            while let Some(f) = self.core.stack.poll_transmit_vnet(&mut hdr) {
                self.capture.frame(t, Dir::Out, &f);
                let iov = [IoSlice::new(&hdr), IoSlice::new(&f)];
                let _ = nix::sys::uio::writev(&self.device, &iov);
                self.core.stack.recycle(f);
            }
            return;
        }
        while let Some(f) = self.core.stack.poll_transmit() {
            self.capture.frame(t, Dir::Out, &f);
            match self.faults.as_mut() {
                Some(faults) => faults.push_outbound(t, f),
                None => {
                    let _ = nix::unistd::write(&self.device, &f);
                    self.core.stack.recycle(f);
                }
            }
        }
        if let Some(faults) = self.faults.as_mut() {
            while let Some(f) = faults.pop_outbound(t) {
                let _ = nix::unistd::write(&self.device, &f);
            }
        }
    }

    /// Hand listeners' queued connections to their holders (the core's
    /// hand-off, core/handoff.rs), and publish what that changed.
    fn hand_offs(&mut self) {
        for _ in 0..4 {
            let list = self.core.take_handoffs();
            if list.is_empty() {
                return;
            }
            for (id, key) in list {
                match self.clients.get_mut(&key) {
                    Some((_, sess, _)) => self.core.hand_off(sess, id),
                    None => self.core.handoff_token(id),
                }
            }
            self.flush();
            self.core.sync_changed();
            self.watch_new_anchors();
        }
        // Still more (a listener changing every time): tokens, as before.
        for (id, _) in self.core.take_handoffs() {
            self.core.handoff_token(id);
        }
    }

    fn watch_new_anchors(&mut self) {
        for fd in std::mem::take(&mut self.core.new_anchors) {
            if self.core.socket_of_anchor(fd).is_none() {
                continue; // already closed again
            }
            // SAFETY: the core owns this fd and keeps it open while it is
            // in `socket_of_anchor`; we only borrow it for the epoll call.
            let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let _ = self
                .epoll
                .add(b, EpollEvent::new(EpollFlags::EPOLLRDHUP, fd as u32 as u64));
        }
    }

    fn accept_clients(&mut self) {
        while let Ok(Some((fd, trusted))) = listener::accept_client(&self.listener, self.uid) {
            let key = fd.as_raw_fd();
            let ev = EpollEvent::new(EpollFlags::EPOLLIN, K_CLIENT | key as u32 as u64);
            if self.epoll.add(&fd, ev).is_ok() {
                let sess = Session {
                    trusted,
                    key,
                    ..Session::default()
                };
                self.clients.insert(key, (fd, sess, Pace::default()));
            }
        }
    }

    fn drop_client(&mut self, key: RawFd) {
        if let Some((fd, sess, _)) = self.clients.remove(&key) {
            let _ = self.epoll.delete(&fd);
            self.core.session_gone(&sess);
            if self.log_counters {
                eprintln!("sockshimd: stack counters: {:?}", self.core.stack.stats());
            }
        }
    }

    /// Serve `key`'s requests at its pace (pace.rs).
    fn serve_client(&mut self, key: RawFd) {
        let Some(&(_, _, pace)) = self.clients.get(&key) else {
            return;
        };
        let mut got = 0;
        for _ in 0..pace.budget(BATCH) {
            match self.one_request(key) {
                Ok(Some(_)) => got += 1,
                Ok(None) => break,
                Err(()) => {
                    self.drop_client(key);
                    return;
                }
            }
        }
        if let Some((_, _, pace)) = self.clients.get_mut(&key) {
            pace.note(self.turn, got);
        }
    }

    /// Serve every request `key` has queued now, however many: the bytes
    /// its connection holds (FIONREAD of a SOCK_SEQPACKET socket counts
    /// every queued record), and no more, so a client that keeps writing
    /// cannot hold the loop here. Called once a socket's hang-up shows:
    /// what its holder wrote before its last close (its `Post`s, a
    /// program's last reply) is all queued by then, and all taken before
    /// the close. (It once served at most 32: an nginx worker that
    /// answered a batch of connections while sockshimd waited for a CPU
    /// had more queued, and lost a response's body.)
    fn serve_queued(&mut self, key: RawFd) {
        let Some((conn, _, _)) = self.clients.get(&key) else {
            return;
        };
        let mut left = queued_bytes(conn.as_fd());
        while left > 0 {
            match self.one_request(key) {
                Ok(Some(len)) => left = left.saturating_sub(len.max(1)),
                Ok(None) => break,
                Err(()) => {
                    self.drop_client(key);
                    return;
                }
            }
        }
    }

    /// Ok(Some(length of the request served)); Ok(None): nothing waiting;
    /// Err: cut the client.
    fn one_request(&mut self, key: RawFd) -> Result<Option<usize>, ()> {
        // The buffer is taken out while the request is served, so that the
        // request may borrow it while other clients' queues are served
        // first (settle.rs); those get a buffer of their own.
        let mut buf = std::mem::take(&mut self.buf);
        if buf.is_empty() {
            buf = vec![0; proto::MAX_MSG + 1];
        }
        let r = self.serve_from(key, &mut buf);
        self.buf = buf;
        r
    }

    fn serve_from(&mut self, key: RawFd, buf: &mut [u8]) -> Result<Option<usize>, ()> {
        let Some((conn, _, _)) = self.clients.get(&key) else {
            return Ok(None);
        };
        let mut cmsg = nix::cmsg_space!([RawFd; proto::MAX_ATTACH]);
        let (len, fds, truncated) = {
            let mut iov = [IoSliceMut::new(buf)];
            let m = match recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                Err(nix::errno::Errno::EINTR) => return Ok(Some(0)),
                Err(_) => return Err(()),
            };
            let mut fds = Vec::new();
            if let Ok(cmsgs) = m.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        // SAFETY: the kernel just installed these fds for
                        // us; owning them closes them when handled.
                        fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                    }
                }
            }
            let trunc = m
                .flags
                .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
            (m.bytes, fds, trunc)
        };
        if len == 0 && fds.is_empty() {
            return Err(()); // the client hung up
        }
        let bytes = &buf[..len];
        let req = if truncated || len > proto::MAX_MSG {
            Err(proto::Malformed("message too long"))
        } else {
            Request::decode(bytes)
        };
        let req = match req {
            Ok(r) => r,
            Err(_) => {
                let b = encode_reply(&Err(Errno::EINVAL));
                let _ = send_reply(conn.as_fd(), &b, &[]);
                return Err(());
            }
        };
        // Closes this request must come after, not served yet.
        let again = self.settle_before(key, &req);
        let Some((_, sess, _)) = self.clients.get_mut(&key) else {
            return Ok(None);
        };
        let text;
        let (reply, pass) = match req {
            Request::Stat { .. } if !sess.trusted => {
                (Some(encode_reply(&Err(Errno::EACCES))), Vec::new())
            }
            Request::Stat { skip } => {
                text = crate::stat::stat_text(
                    &self.core,
                    self.clients.len(),
                    self.faults.as_ref(),
                    skip,
                );
                (
                    Some(encode_reply(&Ok(proto::Body::Text(&text)))),
                    Vec::new(),
                )
            }
            Request::Capture if !sess.trusted => {
                (Some(encode_reply(&Err(Errno::EACCES))), Vec::new())
            }
            Request::Capture => match <[OwnedFd; 1]>::try_from(fds) {
                Ok([fd]) => {
                    self.capture.add(fd);
                    (Some(encode_reply(&Ok(proto::Body::None))), Vec::new())
                }
                Err(_) => (Some(encode_reply(&Err(Errno::EINVAL))), Vec::new()),
            },
            req => {
                let r = self.core.serve(sess, now(), req, fds);
                match again {
                    // The port was in use: served again once every close
                    // that has returned anywhere is done.
                    Some(req) if self.in_use(&r.0) => {
                        self.settle_all(key);
                        let Some((_, sess, _)) = self.clients.get_mut(&key) else {
                            return Ok(None);
                        };
                        self.core.serve(sess, now(), req, Vec::new())
                    }
                    _ => r,
                }
            }
        };
        self.flush();
        // Every slot the request changed is written before its reply, so
        // the client's next call sees what this one did.
        self.core.sync_changed();
        self.hand_offs();
        self.flush();
        let Some(b) = reply else {
            return Ok(Some(len)); // a Post has no reply
        };
        let Some((conn, _, _)) = self.clients.get(&key) else {
            return Ok(None);
        };
        let r = send_reply(conn.as_fd(), &b, &pass);
        r.map(|_| Some(len)).map_err(|_| ())
    }
}

/// The bytes of every record queued on a client's connection (0 if the
/// kernel will not say).
fn queued_bytes(conn: std::os::fd::BorrowedFd<'_>) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    let r = unsafe { libc::ioctl(conn.as_raw_fd(), libc::FIONREAD, &mut n) };
    if r < 0 {
        0
    } else {
        n.max(0) as usize
    }
}

/// The loop's own state from one turn to the next (`Service::turn`).
pub struct Turns {
    events: Vec<EpollEvent>,
    /// The largest frame plus its virtio_net_hdr: never cut.
    frame: Vec<u8>,
    /// Adaptive spinning (proto::spin): after a turn with work, look
    /// again without sleeping for the learnt budget (the client's next
    /// request, or the peer's answer, often comes within it), then sleep.
    /// SOCKSHIM_SPIN_US is the limit (0: never spin).
    spin: Spin,
    /// Unset SOCKSHIM_SPIN_US: spin only while a CPU is idle.
    idle_cpu: Option<crate::cpus::IdleCpu>,
    worked: bool,
}

impl Turns {
    pub fn new() -> Turns {
        let limit = std::env::var("SOCKSHIM_SPIN_US").ok();
        Turns {
            events: vec![EpollEvent::empty(); 256],
            frame: vec![0u8; 65_536 + stack::wire::virtio_net::HDR_LEN],
            spin: Spin::new(Spin::limit_from(limit.as_deref(), SPIN_LIMIT_US)),
            idle_cpu: limit.is_none().then(crate::cpus::IdleCpu::new),
            worked: false,
        }
    }
}

impl Default for Turns {
    fn default() -> Turns {
        Turns::new()
    }
}

/// Send one reply, with `fds` attached (in order). Never blocks: a client
/// that does not read its replies is cut off.
fn send_reply(conn: std::os::fd::BorrowedFd<'_>, b: &[u8], fds: &[OwnedFd]) -> nix::Result<()> {
    let iov = [IoSlice::new(b)];
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cm;
    let cms: &[ControlMessage] = if raw.is_empty() {
        &[]
    } else {
        cm = [ControlMessage::ScmRights(&raw)];
        &cm
    };
    sendmsg::<()>(
        conn.as_raw_fd(),
        &iov,
        cms,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}
