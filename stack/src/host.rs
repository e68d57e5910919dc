//! `Stack`: the stack's face. It assembles the parts (the socket layer's
//! table with the Internet protocols registered in it, the protocols'
//! shared state, the transmit queue and the timer heap) and exposes the
//! sans-IO calls: a POSIX-shaped socket API that takes `&self` and locks
//! internally (DESIGN "Locking inside the stack"), frame input and output,
//! timers. It holds no protocol logic: each call goes to the socket layer
//! (`kern::uipc`, `kern::sockopt`) or through the protocol switch.
//!
//! It is the context both layers work through: `SoCx` for the socket
//! layer, `InetCx` for the protocols. See docs/architecture.md.
//!
//! Locks (order: a listener before its child; a socket lock before any
//! leaf lock; never two unrelated sockets; never a socket lock while a
//! leaf lock is held):
//! - the socket table (`kern`): `RwLock`, leaf;
//! - one `Mutex` per socket covering socket, PCB, buffers, accept queue;
//! - `inet.pcbinfo`: port and connection tables; `RwLock`, leaf;
//! - `txq`, `timers`, the changed list, `inet.rng`: leaf mutexes held only
//!   to push or pop;
//! - `sysctl`: the current tunables; `RwLock` over an `Arc`, leaf, held
//!   only to clone or replace the `Arc`.

mod sockstat;
pub use sockstat::SocketRow;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::api::{Domain, Readiness, RecvMeta, SockInfo, SockType, SocketHandle};
use crate::config::{Config, Sysctl};
use crate::errno::Errno;
use crate::kern::lockorder::{so_lock, LeafMutex, LeafRwLock};
use crate::kern::protosw::Protosw;
use crate::kern::socket::Socket;
use crate::kern::sotable::{lock_live, SoCx, SoTable};
use crate::kern::{sockopt, uipc};
use crate::linux::{
    LOOPBACK_IFINDEX, SOCKSHIM_ANON_PORT, SOCKSHIM_BOUND_DEV, SOCKSHIM_SEND_ONCE,
    SOCKSHIM_SIOCATMARK, SOCKSHIM_SIOCGSTAMP, SOL_SOCKSHIM,
};
use crate::netinet::inet::{Inet, InetCx};
use crate::netinet::tcp_info::TcpInfo;
use crate::netinet::tcp_usrreq::TCP_USRREQS;
use crate::netinet::udp::UDP_USRREQS;
use crate::netinet::{igmp, ip, ip_input, ip_reass, tcp_info, tcp_timer, tcp_usrreq};
use crate::offload::{RxMeta, TxMeta};
use crate::rng::Rng;
use crate::stats::{Stats, StatsSnapshot};
use crate::time::Instant;

/// The protocol switch table handed to the socket layer (FreeBSD's
/// `inetsw`): TCP for stream sockets, UDP for datagram sockets.
fn inetsw() -> Vec<&'static dyn Protosw<Stack>> {
    vec![&TCP_USRREQS, &UDP_USRREQS]
}

/// Frames waiting for the device, and a pool of spent buffers.
#[derive(Default)]
struct TxQueue {
    /// Frames to send, with whether they go to the device whatever their
    /// destination (else ours are looped back).
    frames: VecDeque<(Vec<u8>, TxMeta, bool)>,
    /// Packets for local input, with the interface they arrive on.
    looped: VecDeque<(Vec<u8>, u32)>,
    pool: Vec<Vec<u8>>,
    /// How many buffers in `pool` are over `TX_POOL_BIG` bytes (TSO
    /// super-segments' buffers): at most `TX_POOL_BIG_MAX` are kept.
    big: usize,
}

const TX_POOL_MAX: usize = 256;
const TX_POOL_BIG: usize = 4096;
const TX_POOL_BIG_MAX: usize = 16;

/// One stack instance. All methods take `&self`.
pub struct Stack {
    config: Config,
    /// The tunables now in force: `config.sysctl` until [`Stack::set_sysctl`].
    sysctl: LeafRwLock<Arc<Sysctl>>,
    stats: Stats,
    /// The socket layer: socket table, changed list, protocol switch.
    kern: SoTable<Stack>,
    /// The Internet protocols' shared state.
    inet: Inet,
    txq: LeafMutex<TxQueue>,
    timers: LeafMutex<BinaryHeap<Reverse<(Instant, SocketHandle)>>>,
    /// The latest `now` seen, in micros (for work with no `now` argument).
    last_now: AtomicU64,
    /// Asked for lo's addresses when the namespace changed them
    /// (`set_addr_watch`).
    addr_watch: std::sync::OnceLock<AddrWatch>,
}

/// What the driver gives the stack to learn of the namespace's address
/// changes: called before a bind, a connect and `serves`, it returns lo's
/// addresses if they changed since it was last called (it reads a netlink
/// socket without waiting: the I/O is the driver's). Called from any
/// thread, with no lock of the stack's held.
pub type AddrWatch = Box<dyn Fn() -> Option<Vec<crate::netinet::in_ifaddr::LoAddr>> + Send + Sync>;

impl SoCx for Stack {
    fn sockets(&self) -> &SoTable<Stack> {
        &self.kern
    }
    fn config(&self) -> &Config {
        &self.config
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
    fn sysctl(&self) -> Arc<Sysctl> {
        self.sysctl.read().clone()
    }
}

impl InetCx for Stack {
    fn inet(&self) -> &Inet {
        &self.inet
    }

    fn frame_buf(&self) -> Vec<u8> {
        let mut q = self.txq.lock();
        let mut b = q.pool.pop().unwrap_or_default();
        if b.capacity() > TX_POOL_BIG {
            q.big -= 1;
        }
        drop(q);
        b.clear();
        b
    }

    fn transmit_meta(&self, frame: Vec<u8>, meta: TxMeta) {
        Stats::bump(&self.stats.frames_out);
        self.txq.lock().frames.push_back((frame, meta, false));
    }

    fn transmit_on_device(&self, frame: Vec<u8>, meta: TxMeta) {
        Stats::bump(&self.stats.frames_out);
        self.txq.lock().frames.push_back((frame, meta, true));
    }

    fn loop_back(&self, frame: Vec<u8>, ifindex: u32) {
        self.txq.lock().looped.push_back((frame, ifindex));
    }

    fn arm_timer(&self, h: SocketHandle, at: Instant) {
        self.timers.lock().push(Reverse((at, h)));
    }

    fn last_now(&self) -> Instant {
        Stack::last_now(self)
    }
}

impl Stack {
    pub fn new(config: Config) -> Stack {
        let rng = Rng::new(config.seed);
        let mut key_rng = Rng::new(config.secret);
        let isn_key = [key_rng.next_u64(), key_rng.next_u64()];
        Stack {
            sysctl: LeafRwLock::new("sysctl", Arc::new(config.sysctl.clone())),
            config,
            stats: Stats::default(),
            kern: SoTable::new(inetsw()),
            inet: Inet::new(rng, isn_key),
            txq: LeafMutex::new("transmit queue", TxQueue::default()),
            timers: LeafMutex::new("timer heap", BinaryHeap::new()),
            last_now: AtomicU64::new(0),
            addr_watch: std::sync::OnceLock::new(),
        }
    }

    /// lo's addresses are now `addrs` (address, prefix length), as the
    /// namespace has them (in_ifaddr.rs).
    pub fn set_lo_addrs(&self, addrs: &[crate::netinet::in_ifaddr::LoAddr]) {
        self.inet.lo.set(addrs);
    }

    /// How the stack follows the namespace's addresses (`AddrWatch`); set
    /// once.
    pub fn set_addr_watch(&self, watch: AddrWatch) {
        let _ = self.addr_watch.set(watch);
    }

    /// Before a call whose answer depends on lo's addresses: take the
    /// namespace's changes, as Linux's bind and connect see an address as
    /// soon as `ip addr` returns.
    fn addr_sync(&self) {
        if let Some(addrs) = self.addr_watch.get().and_then(|w| w()) {
            self.inet.lo.set(&addrs);
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sysctls in force. Like Linux, each use reads the current value:
    /// a socket created after [`Stack::set_sysctl`] gets the new buffer
    /// sizes, and a SYN sent after it the new window scale.
    pub fn sysctl(&self) -> Arc<Sysctl> {
        self.sysctl.read().clone()
    }

    /// Replace the sysctls (the shim re-reads /proc/sys when a socket is
    /// created, as Linux reads them then). Existing sockets keep what they
    /// already derived from the old values.
    pub fn set_sysctl(&self, sysctl: Sysctl) {
        let mut cur = self.sysctl.write();
        if **cur != sysctl {
            *cur = Arc::new(sysctl);
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    fn saw_now(&self, now: Instant) {
        self.last_now
            .fetch_max(now.total_micros(), Ordering::Relaxed);
    }

    /// Tell the stack the time before a call that takes none (getsockopt:
    /// TCP_INFO's last_data_recv and friends are measured up to it).
    pub fn note_time(&self, now: Instant) {
        self.saw_now(now);
    }

    /// The latest `now` any call brought in.
    pub fn last_now(&self) -> Instant {
        Instant::from_micros(self.last_now.load(Ordering::Relaxed))
    }

    #[cfg(test)]
    pub(crate) fn lookup(&self, h: SocketHandle) -> Result<crate::kern::socket::SocketRef, Errno> {
        self.kern.lookup(h)
    }

    pub(crate) fn with_socket<R>(
        &self,
        h: SocketHandle,
        f: impl FnOnce(&mut Socket) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        self.kern.with_socket(h, f)
    }

    /// Sockets alive, including ones held only by PROTOREF or a listen queue.
    pub fn socket_count(&self) -> usize {
        self.kern.count()
    }

    // ---- transmit queue ---------------------------------------------

    /// Next IP packet to write to the device, if any. Packets addressed
    /// to this host itself (its addresses, 127.0.0.0/8, ::1) never reach the
    /// device: they are fed back into input here, where no lock is held.
    /// Multicast and broadcast copies looped back go to input first, each
    /// on the interface it was sent by.
    pub fn poll_transmit(&self) -> Option<Vec<u8>> {
        self.poll_transmit_meta().map(|(f, _)| f)
    }

    /// The next frame for the device and what the device must do with it
    /// (`TxMeta::NONE` unless `Config::offloads` allows TSO: a driver that
    /// enables offloads must take frames from here, not `poll_transmit`).
    pub fn poll_transmit_meta(&self) -> Option<(Vec<u8>, TxMeta)> {
        loop {
            let looped = self.txq.lock().looped.pop_front();
            if let Some((frame, ifindex)) = looped {
                Stats::bump(&self.stats.frames_in);
                ip_input::ip_input(self, self.last_now(), &frame, ifindex, RxMeta::default());
                continue;
            }
            let (frame, meta, on_device) = self.txq.lock().frames.pop_front()?;
            match ip::frame_dst(&frame) {
                Some(d) if !on_device && ip::is_local(self, d) => {
                    self.saw_now(self.last_now());
                    Stats::bump(&self.stats.frames_in);
                    Stats::bump(&self.stats.frames_looped);
                    // A super-segment's checksum is partial: trusted, as
                    // Linux's loopback trusts CHECKSUM_PARTIAL; a UDP
                    // super-datagram arrives whole, as on Linux's lo.
                    let rx = RxMeta {
                        csum_ok: meta.gso_size != 0,
                        gso: meta.gso_size != 0,
                        udp_gso_size: if meta.udp { meta.gso_size } else { 0 },
                        batch: false,
                    };
                    ip_input::ip_input(self, self.last_now(), &frame, LOOPBACK_IFINDEX, rx);
                    self.recycle(frame);
                }
                _ => return Some((frame, meta)),
            }
        }
    }

    /// The next frame for a device opened with `IFF_VNET_HDR`: the frame,
    /// and its `virtio_net_hdr` written into `hdr`.
    pub fn poll_transmit_vnet(
        &self,
        hdr: &mut [u8; crate::wire::virtio_net::HDR_LEN],
    ) -> Option<Vec<u8>> {
        let (frame, meta) = self.poll_transmit_meta()?;
        *hdr = crate::wire::virtio_net::VirtioNetHdr::for_tx(&meta).emit();
        Some(frame)
    }

    /// Give a transmitted frame's buffer back for reuse.
    pub fn recycle(&self, frame: Vec<u8>) {
        let mut q = self.txq.lock();
        if q.pool.len() >= TX_POOL_MAX || frame.capacity() > 70_000 {
            return;
        }
        if frame.capacity() > TX_POOL_BIG {
            if q.big >= TX_POOL_BIG_MAX {
                return;
            }
            q.big += 1;
        }
        q.pool.push(frame);
    }

    // ---- timers -----------------------------------------------------

    /// Earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sockets = self.timers.lock().peek().map(|Reverse((at, _))| *at);
        let reass = ip_reass::reass_next_timeout(self);
        let igmp = igmp::igmp_next_timeout(self);
        sockets.into_iter().chain(reass).chain(igmp).min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&self, now: Instant) {
        self.saw_now(now);
        ip_reass::reass_timeout(self, now);
        igmp::igmp_timeout(self, now);
        // Every entry due, then each socket's timers once, in the order
        // of its first entry: a socket whose deadline moved earlier has
        // older entries left in the heap (it is never searched), and
        // each used to run tcp_timers again for the same `now` (a loaded
        // shimmed bulk sender: 131 entries per call, 45 % of its
        // instructions in tcp_timers and the heap's pops). Entries armed
        // for `now` or before by these runs are taken by the next round.
        let mut due: Vec<(usize, SocketHandle)> = Vec::new();
        loop {
            {
                let mut t = self.timers.lock();
                while let Some(Reverse((at, _))) = t.peek() {
                    if *at > now {
                        break;
                    }
                    if let Some(Reverse((_, h))) = t.pop() {
                        due.push((due.len(), h));
                    }
                }
            }
            if due.is_empty() {
                break;
            }
            if due.len() > 1 {
                due.sort_unstable_by_key(|&(i, h)| (h, i));
                due.dedup_by_key(|&mut (_, h)| h);
                due.sort_unstable_by_key(|&(i, _)| i);
            }
            for (_, h) in due.drain(..) {
                if let Ok(sref) = self.kern.lookup(h) {
                    if let Some(mut so) = lock_live(&sref) {
                        tcp_timer::tcp_timers(self, now, &mut so);
                    }
                }
            }
        }
    }

    // ---- readiness changes ------------------------------------------

    /// Append the sockets whose readiness may have changed since the last
    /// call (each at most once).
    pub fn drain_changed(&self, out: &mut Vec<SocketHandle>) {
        self.kern.drain_changed(out)
    }

    // ---- input ------------------------------------------------------

    /// Feed one IP packet (either family) received from the device.
    pub fn handle_frame(&self, now: Instant, frame: &[u8]) {
        self.handle_frame_meta(now, frame, RxMeta::default());
    }

    /// A frame from the device with what the device said of it (a
    /// super-frame is taken whole, whatever the MTU).
    pub fn handle_frame_meta(&self, now: Instant, frame: &[u8], rx: RxMeta) {
        self.saw_now(now);
        Stats::bump(&self.stats.frames_in);
        if rx.gso {
            Stats::bump(&self.stats.gso_frames_in);
        }
        if rx.csum_ok {
            Stats::bump(&self.stats.csum_trusted_in);
        }
        ip_input::ip_input(self, now, frame, self.config.ifindex, rx);
    }

    /// A frame read from a device opened with `IFF_VNET_HDR`: its
    /// `virtio_net_hdr`, then the IP packet. A header we cannot take
    /// drops the frame (counted in `drop_vnet_hdr`).
    pub fn handle_vnet_frame(&self, now: Instant, buf: &[u8]) {
        self.handle_vnet_frame_batch(now, buf, false)
    }

    /// `handle_vnet_frame` for one of a batch of frames read together
    /// (`batch`): then the caller ends the batch with `end_rx_batch`.
    pub fn handle_vnet_frame_batch(&self, now: Instant, buf: &[u8], batch: bool) {
        use crate::wire::virtio_net::{VirtioNetHdr, HDR_LEN};
        match VirtioNetHdr::parse(buf).and_then(|h| h.rx_meta()) {
            Ok(rx) => self.handle_frame_meta(now, &buf[HDR_LEN..], RxMeta { batch, ..rx }),
            Err(_) => {
                self.saw_now(now);
                Stats::bump(&self.stats.drop_vnet_hdr);
            }
        }
    }

    /// Read one frame from a device opened with `IFF_VNET_HDR` and take
    /// it as `handle_vnet_frame_batch` would. `read` reads one frame into
    /// its three slices in order (a readv) and returns its length (<= 0:
    /// none, returned as it is). The frame after a TCP super-frame is read
    /// with that connection's payload straight into its receive buffer
    /// (tcp_rxplace.rs); any other lands in `buf`, which must hold the
    /// largest frame (64 KiB and the virtio_net_hdr).
    pub fn read_vnet_frame(
        &self,
        now: Instant,
        batch: bool,
        buf: &mut [u8],
        read: impl FnOnce(&mut [u8], &mut [u8], &mut [u8]) -> isize,
    ) -> isize {
        use crate::netinet::tcp_rxplace::{tcp_read_placed, ReadPlaced};
        self.saw_now(now);
        match tcp_read_placed(self, now, batch, buf, read) {
            ReadPlaced::Nothing(n) => n,
            ReadPlaced::Taken => 1,
            ReadPlaced::Frame(n) => {
                self.handle_vnet_frame_batch(now, &buf[..n], batch);
                n as isize
            }
        }
    }

    /// The end of a batch of frames given with `RxMeta::batch`: the ACKs
    /// that waited for it leave (one per connection, tcp_ackbatch.rs).
    /// Call it before taking the frames to transmit.
    pub fn end_rx_batch(&self, now: Instant) {
        self.saw_now(now);
        crate::netinet::tcp_ackbatch::tcp_output_batch_end(self, now);
    }

    // ---- the socket API ---------------------------------------------

    /// socket(AF_INET, ty, protocol): a new socket with so_count = 1.
    pub fn socket(&self, ty: SockType, protocol: i32) -> Result<SocketHandle, Errno> {
        uipc::socreate(self, Domain::Inet, ty, protocol)
    }

    /// socket(domain, ty, protocol): AF_INET or AF_INET6.
    pub fn socket_in(
        &self,
        domain: Domain,
        ty: SockType,
        protocol: i32,
    ) -> Result<SocketHandle, Errno> {
        uipc::socreate(self, domain, ty, protocol)
    }

    /// A new descriptor refers to `h` (dup): so_count += 1.
    pub fn sodup(&self, h: SocketHandle) -> Result<(), Errno> {
        uipc::sodup(self, h)
    }

    /// One descriptor reference is gone; the last one closes the socket.
    pub fn close(&self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        self.saw_now(now);
        uipc::sorele(self, now, h)
    }

    /// An AF_INET6 socket takes IPv6 addresses only (IPv4 v4-mapped), an
    /// AF_INET one IPv4 only (EAFNOSUPPORT otherwise).
    pub fn bind(&self, h: SocketHandle, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = addr.into();
        self.addr_sync();
        self.with_socket(h, |so| self.pr(so).pru_bind(self, so, addr))
    }

    pub fn listen(&self, h: SocketHandle, backlog: i32) -> Result<(), Errno> {
        self.with_socket(h, |so| self.pr(so).pru_listen(self, so, backlog))
    }

    /// Never blocks: EAGAIN when no connection is queued.
    pub fn accept(&self, h: SocketHandle) -> Result<(SocketHandle, SocketAddr), Errno> {
        uipc::soaccept(self, h)
    }

    /// `accept` on behalf of a holder that has not asked yet (the stack
    /// service hands the connection over ahead of the call): it stays in
    /// the listener's backlog until `handed_taken`, as Linux counts a
    /// connection in its accept queue until accept() takes it.
    pub fn accept_handed(&self, h: SocketHandle) -> Result<(SocketHandle, SocketAddr), Errno> {
        uipc::soaccept_handed(self, h)
    }

    /// A connection `accept_handed` gave out reached the program, or is
    /// gone: it leaves listener `h`'s backlog.
    pub fn handed_taken(&self, h: SocketHandle) {
        uipc::sohanded_taken(self, h)
    }

    /// Would `accept` say EAGAIN now: a listening stream socket with
    /// nothing queued? Changes nothing. (The shim answers a non-blocking
    /// accept on an empty queue without preparing a descriptor for it.)
    pub fn accept_empty(&self, h: SocketHandle) -> bool {
        self.with_socket(h, |l| {
            Ok(l.so_type == SockType::Stream
                && l.so_listen().is_some_and(|q| q.sol_comp.is_empty()))
        })
        .unwrap_or(false)
    }

    /// When the connection that `accept` would return next last received a
    /// segment (None: nothing queued). The shim orders a shadow listener's
    /// kernel-side connections against it (issue 19).
    pub fn accept_head_rcvtime(&self, h: SocketHandle) -> Option<Instant> {
        // Listener before child: the lock order of soaccept.
        self.with_socket(h, |l| {
            let q = l.so_listen().ok_or(Errno::EINVAL)?;
            for &child in &q.sol_comp {
                let Ok(cref) = self.kern.lookup(child) else {
                    continue;
                };
                let Some(c) = lock_live(&cref) else {
                    continue;
                };
                use crate::netinet::so_pcb::InPcb;
                return Ok(c.so_pcb.tcp().map(|tp| tp.lrcvtime));
            }
            Ok(None)
        })
        .ok()
        .flatten()
    }

    /// Never blocks: TCP returns EINPROGRESS; follow with `connect_status`.
    /// `None` is AF_UNSPEC (dissolve the association).
    pub fn connect(
        &self,
        now: Instant,
        h: SocketHandle,
        addr: Option<SocketAddr>,
    ) -> Result<(), Errno> {
        self.saw_now(now);
        if addr.is_some() {
            self.addr_sync();
        }
        self.with_socket(h, |so| self.pr(so).pru_connect(self, now, so, addr))
    }

    /// For a connect in progress: Ok(true) connected, Ok(false) still
    /// connecting, Err(e) failed (the pending error is consumed). This is
    /// the end of a blocking connect(2), with Linux's results.
    pub fn connect_status(&self, h: SocketHandle) -> Result<bool, Errno> {
        self.with_socket(h, |so| self.pr(so).pru_connect_status(self, so))
    }

    /// Never blocks: EAGAIN when no space. `flags` are MSG_* bits.
    pub fn send(
        &self,
        now: Instant,
        h: SocketHandle,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddr>,
    ) -> Result<usize, Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| self.pr(so).pru_send(self, now, so, data, flags, to))
    }

    /// Never blocks: EAGAIN when nothing to read. `flags` are MSG_* bits.
    pub fn recv(
        &self,
        now: Instant,
        h: SocketHandle,
        buf: &mut [u8],
        flags: i32,
    ) -> Result<RecvMeta, Errno> {
        self.saw_now(now);
        self.with_socket(h, |so| uipc::soreceive(self, now, so, buf, flags))
    }

    /// `how` is SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub fn shutdown(&self, now: Instant, h: SocketHandle, how: i32) -> Result<(), Errno> {
        self.saw_now(now);
        uipc::soshutdown(self, now, h, how)
    }

    pub fn getsockname(&self, h: SocketHandle) -> Result<SocketAddr, Errno> {
        self.with_socket(h, |so| Ok(self.pr(so).pru_sockaddr(so)))
    }

    pub fn getpeername(&self, h: SocketHandle) -> Result<SocketAddr, Errno> {
        self.with_socket(h, |so| self.pr(so).pru_peeraddr(so))
    }

    /// Linux option semantics; `val` is the option's raw bytes.
    pub fn setsockopt(
        &self,
        now: Instant,
        h: SocketHandle,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        self.saw_now(now);
        if level == SOL_SOCKSHIM && name == SOCKSHIM_SEND_ONCE {
            use crate::netinet::so_pcb::InPcb;
            let once = crate::netinet::in_pcb::SendOnce::from_bytes(val).ok_or(Errno::EINVAL)?;
            return self.with_socket(h, |so| {
                if so.so_type == crate::SockType::Dgram {
                    so.so_pcb.inp_mut().send_once = once.to_bytes();
                }
                Ok(())
            });
        }
        if level == SOL_SOCKSHIM && name == SOCKSHIM_BOUND_DEV {
            let idx = val
                .get(..4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(Errno::EINVAL)?;
            return self.with_socket(h, |so| {
                crate::netinet::in_pcbbind::so_bind_dev(self, so, idx);
                Ok(())
            });
        }
        if level == SOL_SOCKSHIM && name == SOCKSHIM_ANON_PORT {
            use crate::netinet::so_pcb::InPcb;
            return self.with_socket(h, |so| {
                let inp = so.so_pcb.inp_mut();
                if inp.lport != 0 {
                    inp.inp_flags |= crate::netinet::in_pcb::INP_ANONPORT;
                }
                Ok(())
            });
        }
        self.with_socket(h, |so| sockopt::sosetopt(self, now, so, level, name, val))
    }

    /// Writes the option's raw bytes into `out` (truncated like Linux) and
    /// returns the length Linux would report in optlen.
    pub fn getsockopt(
        &self,
        h: SocketHandle,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        if level == SOL_SOCKSHIM && name == SOCKSHIM_SIOCATMARK && out.len() >= 4 {
            let at = self.with_socket(h, |so| uipc::siocatmark(so))?;
            out[..4].copy_from_slice(&i32::from(at).to_ne_bytes());
            return Ok(4);
        }
        if level == SOL_SOCKSHIM {
            if name != SOCKSHIM_SIOCGSTAMP || out.len() < 8 {
                return Err(Errno::EINVAL);
            }
            let now = self.last_now();
            let t = self.with_socket(h, |so| uipc::siocgstamp(so, now))?;
            out[..8].copy_from_slice(&t.total_micros().to_ne_bytes());
            return Ok(8);
        }
        self.with_socket(h, |so| sockopt::sogetopt(self, so, level, name, out))
    }

    /// Has this stack a socket that would take a connection (TCP: a
    /// listener) or a datagram (UDP: a bound socket) addressed to `dst`?
    /// The shim asks before a loopback connect: if not, the kernel's stack
    /// may serve it (issue 19).
    pub fn serves(&self, ty: SockType, dst: impl Into<SocketAddr>) -> bool {
        let dst = dst.into();
        self.addr_sync();
        // A loopback address no longer on lo: the stack answers (no route,
        // no source address), not the kernel.
        if !ip::is_local(self, dst.ip()) {
            return true;
        }
        let pcb = self.inet().pcbinfo.read();
        match ty {
            SockType::Stream => pcb
                .tcp_listener(dst, dst, crate::netinet::in_pcb::ANY_ARRIVAL)
                .is_some(),
            SockType::Dgram => pcb
                .users(crate::netinet::in_pcb::Proto::Udp, dst.port())
                .iter()
                .any(|u| crate::netinet::in_pcb::addr_takes(u.addr, u.v6only, dst.ip())),
        }
    }

    /// Is the socket bound to a device (SO_BINDTODEVICE, as the shim told
    /// it with `SOCKSHIM_BOUND_DEV`)? The shim asks for each accepted
    /// connection whether the listener's binding must be copied.
    pub fn is_dev_bound(&self, h: SocketHandle) -> bool {
        use crate::netinet::so_pcb::InPcb;
        self.with_socket(h, |so| {
            Ok(so.so_pcb.inp().bound_dev() != crate::netinet::in_pcb::DEV_NONE)
        })
        .unwrap_or(false)
    }

    /// Must the socket's reads come from the stack's queue: an urgent mark
    /// ahead of the reader (reads stop there, tcp_urg.rs), or receive
    /// timestamps asked for (each read reports one)? The service then
    /// lends no receive ring.
    pub fn reads_by_message(&self, h: SocketHandle) -> bool {
        self.with_socket(h, |so| {
            let o = &so.so_options;
            Ok(so.so_urg != crate::kern::socket::SoUrg::None || o.rcvtstamp || o.rcvtstampns)
        })
        .unwrap_or(false)
    }

    /// The receive timestamp a stream read reports (SO_TIMESTAMP(NS)):
    /// what `recv` gives with its data, for bytes the service served
    /// from outside the stack's queue.
    pub fn stream_rcv_info(&self, h: SocketHandle) -> Option<crate::DgramInfo> {
        self.with_socket(h, |so| Ok(uipc::stream_rcv_info(so)))
            .ok()
            .flatten()
    }

    /// Current readiness (POLL* bits). A stale handle reports NVAL.
    pub fn sopoll(&self, h: SocketHandle) -> Readiness {
        self.with_socket(h, |so| Ok(self.pr(so).pru_sopoll(so)))
            .unwrap_or(Readiness::NVAL)
    }

    pub fn sockinfo(&self, h: SocketHandle) -> Result<SockInfo, Errno> {
        self.with_socket(h, |so| Ok(self.pr(so).pru_sockinfo(so)))
    }

    /// TCP_INFO of a TCP socket (getsockopt serves the same as bytes).
    /// EOPNOTSUPP for a UDP socket, as Linux's getsockopt answers.
    pub fn tcp_info(&self, h: SocketHandle) -> Result<TcpInfo, Errno> {
        self.with_socket(h, |so| tcp_info::tcp_info_of(self, so))
    }

    /// Does any TCP connection still have data or a FIN not yet
    /// acknowledged? (The shim's exit grace period waits on this.)
    pub fn has_unsent_data(&self) -> bool {
        self.kern
            .all()
            .iter()
            .any(|sref| tcp_usrreq::tcp_unacked(&so_lock(sref)))
    }

    /// Assert every invariant of DESIGN.md over the whole stack (tests call
    /// this after every step).
    pub fn check_invariants(&self) {
        self.kern.check_invariants(self);
    }
}
