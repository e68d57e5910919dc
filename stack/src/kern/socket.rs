//! The socket: its reference count, state bits and buffers, and the socket
//! layer's life-cycle functions.
//!
//! # Life cycle and references (the FreeBSD 2006 model)
//!
//! A socket is created by `socreate` with `so_count == 1`: the reference of
//! the descriptor that `socket()` returns. Every further descriptor (dup)
//! takes one more (`sodup`); a listen queue entry holds one for a connection
//! not yet accepted, which `accept()` hands over to the new descriptor.
//!
//! The protocol holds no `so_count` reference. Instead, when the last
//! descriptor goes (`soclose`) while the protocol still has work to do (a
//! FIN to deliver, TIME_WAIT), the protocol sets `SoState::PROTOREF`: a
//! strong protocol reference. When it is done it clears `PROTOREF` and calls
//! `sofree()`.
//!
//! `sofree()` is the only way a socket is freed. It returns without freeing
//! while `so_count > 0`, while `PROTOREF` is set, or while the socket sits
//! on a listen queue. Freeing calls `pru_detach` exactly once (it cannot
//! fail) and removes the socket and its PCB from every table. The PCB
//! (`so_pcb`) exists for the socket's whole life: a dead connection is
//! marked `INP_DROPPED`, never discarded early.
//!
//! # Locking
//! (s) = the socket's own lock (`Mutex<Socket>`), which covers the socket,
//! its buffers, its PCB and, for a listener, its accept queues. Lock order:
//! a listener before one of its children; never two unrelated sockets.
//! Table locks (`pcbinfo`, the slot table) are leaves: taken while a socket
//! lock is held, never the other way round.

use std::any::Any;
use std::fmt;

use crate::api::{Domain, SockType, SocketHandle};
use crate::errno::Errno;
use crate::kern::listen::ListenQueues;
use crate::kern::sockbuf::SockBuf;
use crate::time::Instant;

/// `so_state` bits: the life-cycle references only. FreeBSD's connection
/// bits (SS_ISCONNECTING, SS_ISCONNECTED, SS_ISDISCONNECTING,
/// SS_ISDISCONNECTED) are not kept: Linux answers from `sock->state` (our
/// `sock_state`) and the protocol's state, and nothing here read them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoState(pub u32);

impl SoState {
    /// The last descriptor is gone (soclose ran).
    pub const NOFDREF: u32 = 0x0100;
    /// The protocol holds a strong reference (see module doc).
    pub const PROTOREF: u32 = 0x4000;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    pub fn set(&mut self, bit: u32) {
        self.0 |= bit;
    }
    pub fn clear(&mut self, bit: u32) {
        self.0 &= !bit;
    }
}

/// `so_rcv.sb_state` / `so_snd.sb_state` collapsed into two flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SbState {
    /// SBS_CANTRCVMORE: no more data will arrive (FIN, SHUT_RD, reset).
    pub cantrcvmore: bool,
    /// SBS_CANTSENDMORE: no more data may be sent (SHUT_WR, close).
    pub cantsendmore: bool,
    /// The peer's FIN was received (Linux's SOCK_DONE): reads return 0.
    pub fin_received: bool,
}

/// Boolean socket options (SOL_SOCKET).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoOptions {
    pub acceptconn: bool,
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub keepalive: bool,
    pub broadcast: bool,
    pub oobinline: bool,
    pub dontroute: bool,
    pub debug: bool,
    /// SO_LINGER: Some(seconds) when l_onoff is set.
    pub linger: Option<u32>,
    /// The l_linger getsockopt(SO_LINGER) reports: the last one set with
    /// l_onoff on (Linux's sk_lingertime / HZ); an l_onoff 0 turns
    /// lingering off but keeps the time.
    pub lingertime: i32,
    pub priority: u32,
    /// SO_MARK.
    pub mark: u32,
    /// SO_RCVBUF was set (Linux's SOCK_RCVBUF_LOCK): the buffer no longer
    /// grows on its own, and TCP caps SO_RCVLOWAT at half of it.
    pub rcvbuf_lock: bool,
    /// SO_ZEROCOPY: a send with MSG_ZEROCOPY gets a completion on the
    /// error queue once its data is acknowledged.
    pub zerocopy: bool,
    /// SO_NO_CHECK (Linux's sk_no_check_tx: stored; our UDP always sums).
    pub no_check: bool,
    /// SO_TIMESTAMP / SO_TIMESTAMPNS (Linux's SOCK_RCVTSTAMP and
    /// SOCK_RCVTSTAMPNS flags: NS implies the first).
    pub rcvtstamp: bool,
    pub rcvtstampns: bool,
    /// Flags Linux keeps and reads back that change nothing here: SO_RXQ_OVFL,
    /// SO_WIFI_STATUS, SO_NOFCS, SO_SELECT_ERR_QUEUE.
    pub rxq_ovfl: bool,
    pub wifi_status: bool,
    pub nofcs: bool,
    pub select_err_queue: bool,
    /// SO_BUSY_POLL microseconds (stored; no busy polling here).
    pub busy_poll: u32,
    /// SIOCGSTAMP was asked (Linux's SOCK_TIMESTAMP): arrivals are kept.
    pub stamp_ioctl: bool,
    /// SO_LOCK_FILTER (Linux's SOCK_FILTER_LOCKED): the filter can no
    /// longer be attached, detached or unlocked.
    pub lock_filter: bool,
}

/// Linux's sk_stamp, what SIOCGSTAMP reports: nothing received yet
/// (ENOENT); a datagram was read while no timestamps were on (the ioctl
/// then reports its own time and keeps it); or an arrival time, kept once
/// SIOCGSTAMP turned timestamping on (SOCK_TIMESTAMP) and no SO_TIMESTAMP
/// message took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoStamp {
    Unset,
    Zero,
    At(Instant),
}

/// The socket's connect(2) state as Linux's `sock->state` tracks it (it
/// moves on calls, not on packets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockState {
    Unconnected,
    Connecting,
    Connected,
    Disconnecting,
}

/// Where a socket sits relative to a listener's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QState {
    None,
    /// On `so_head`'s complete queue, waiting for accept().
    Comp,
}

/// The protocol control block as the socket layer holds it (`so_pcb`):
/// opaque. The protocol's `pru_attach` puts it there and only the protocol
/// looks inside; it stays until the socket is freed (invariant 3).
#[derive(Default)]
pub struct SoPcb(Option<Box<dyn Any + Send>>);

impl SoPcb {
    pub fn set<T: Any + Send>(&mut self, pcb: T) {
        self.0 = Some(Box::new(pcb));
    }
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref()?.downcast_ref()
    }
    pub fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()?.downcast_mut()
    }
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for SoPcb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "SoPcb(..)"
        } else {
            "SoPcb(none)"
        })
    }
}

/// Where a socket stands with its protocol. It only moves forward:
/// Embryonic → Attached (pru_attach succeeded) → Freed (sofree ran
/// pru_detach), or Embryonic → Unattached (pru_attach failed: released
/// without pru_detach). Only the socket layer moves it (the field is
/// private to `kern`), through `attached()`, `unattached()` and
/// `detached()`, each of which asserts the state it leaves: pru_detach
/// twice, or without an attach, cannot happen unnoticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoLife {
    Embryonic,
    Attached,
    Unattached,
    Freed,
}

/// A socket and its lock, shared by the socket table and whoever is
/// working on it.
pub type SocketRef = std::sync::Arc<crate::kern::sync::Mutex<Socket>>;

/// Urgent data as Linux's `tp->urg_data` keeps it: a mark announced by an
/// urgent pointer whose byte has not arrived, the byte itself (for
/// recv(MSG_OOB)), or the byte already read by MSG_OOB (the mark stays
/// until the reader passes it). The urgent byte stays in the receive
/// buffer; without SO_OOBINLINE the reader skips it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoUrg {
    None,
    NotYet,
    Valid(u8),
    Read,
}

/// One socket. Every field is under the socket's lock (s).
#[derive(Debug)]
pub struct Socket {
    pub handle: SocketHandle,
    pub so_type: SockType,
    /// AF_INET or AF_INET6 (a connection made by `sonewconn` has its
    /// listener's).
    pub so_domain: Domain,
    /// Index of the socket's protocol in the protocol switch table.
    pub so_proto: u8,
    /// Consumer references: descriptors and listen-queue entries. Only the
    /// socket layer counts them.
    pub(in crate::kern) so_count: u32,
    pub so_state: SoState,
    pub sock_state: SockState,
    pub sb_state: SbState,
    pub so_options: SoOptions,
    /// What SIOCGSTAMP reports (Linux's sk_stamp).
    pub so_stamp: SoStamp,
    /// Pending asynchronous error (SO_ERROR), reported once.
    pub so_error: Option<Errno>,
    /// MSG_ZEROCOPY: the next send's notification id (Linux's sk_zckey)
    /// and the error queue of completed ranges [lo, hi] (MSG_ERRQUEUE).
    pub so_zckey: u32,
    /// Boxed when used: most sockets never queue one.
    pub so_errqueue: Option<Box<std::collections::VecDeque<crate::kern::errqueue::SoErr>>>,
    /// SO_ATTACH_FILTER's program (Linux's sk_filter), run on every
    /// datagram or segment the socket takes; a connection made by
    /// `sonewconn` shares its listener's.
    pub so_filter: Option<std::sync::Arc<crate::kern::sk_filter::SkFilter>>,
    /// Urgent data (TCP): where the mark is and what of its byte we hold
    /// (Linux's urg_data; FreeBSD's so_oobmark counts the same way).
    pub so_urg: SoUrg,
    /// Bytes the reader must still consume before the mark: the urgent
    /// byte is then first in `so_rcv` (when it has arrived). Meaningful
    /// while `so_urg` is not `None`.
    pub so_oobmark: usize,
    pub so_rcv: SockBuf,
    pub so_snd: SockBuf,
    /// The protocol control block: present for the socket's whole life.
    pub so_pcb: SoPcb,
    /// Accept queues when listening (`solisten_proto`, `solisten_abort`).
    /// Boxed: only listeners have one.
    pub(in crate::kern) so_listen: Option<Box<ListenQueues>>,
    /// The listener whose complete queue holds this socket.
    pub(in crate::kern) so_head: Option<SocketHandle>,
    pub(in crate::kern) so_qstate: QState,
    /// Attached, freed...: moved only by the socket layer.
    pub(in crate::kern) so_life: SoLife,
}

impl Socket {
    /// A socket with no PCB and no buffer reservation yet: `pru_attach`
    /// (or `sonewconn` and then `pru_attach`) provides them.
    pub(in crate::kern) fn new(
        handle: SocketHandle,
        so_domain: Domain,
        so_type: SockType,
        so_proto: u8,
    ) -> Socket {
        let (rcv, snd) = match so_type {
            SockType::Stream => (SockBuf::stream_rcv(0), SockBuf::stream(0)),
            SockType::Dgram => (SockBuf::dgram(0), SockBuf::dgram(0)),
        };
        Socket {
            handle,
            so_type,
            so_domain,
            so_proto,
            so_count: 1,
            so_state: SoState::default(),
            sock_state: SockState::Unconnected,
            sb_state: SbState::default(),
            so_options: SoOptions::default(),
            so_stamp: SoStamp::Unset,
            so_error: None,
            so_zckey: 0,
            so_errqueue: None,
            so_filter: None,
            so_urg: SoUrg::None,
            so_oobmark: 0,
            so_rcv: rcv,
            so_snd: snd,
            so_pcb: SoPcb::default(),
            so_listen: None,
            so_head: None,
            so_qstate: QState::None,
            so_life: SoLife::Embryonic,
        }
    }

    /// A listener's complete queue and backlog.
    pub fn so_listen(&self) -> Option<&ListenQueues> {
        self.so_listen.as_deref()
    }

    pub fn life(&self) -> SoLife {
        self.so_life
    }

    /// Consumer references (descriptors, in-progress calls, a queue entry):
    /// read-only outside the socket layer (`sockshim stat`'s `refs`).
    pub fn so_count(&self) -> u32 {
        self.so_count
    }

    /// On a listener's complete queue, not yet accepted (the queue entry
    /// holds one of `so_count`).
    pub fn is_queued(&self) -> bool {
        self.so_qstate == QState::Comp
    }

    /// Released: any handle still reaching the socket is stale.
    pub fn is_freed(&self) -> bool {
        matches!(self.so_life, SoLife::Freed | SoLife::Unattached)
    }

    /// pru_attach succeeded.
    pub(in crate::kern) fn attached(&mut self) {
        debug_assert_eq!(
            self.so_life,
            SoLife::Embryonic,
            "{:?}: attached twice",
            self.handle
        );
        debug_assert!(
            self.so_pcb.is_present(),
            "{:?}: pru_attach left no PCB",
            self.handle
        );
        self.so_life = SoLife::Attached;
    }

    /// pru_attach failed: released without pru_detach.
    pub(in crate::kern) fn unattached(&mut self) {
        debug_assert_eq!(
            self.so_life,
            SoLife::Embryonic,
            "{:?}: unattached after attach",
            self.handle
        );
        self.so_life = SoLife::Unattached;
    }

    /// pru_detach has run (in sofree, exactly once): the socket is freed.
    pub(in crate::kern) fn detached(&mut self) {
        debug_assert_eq!(
            self.so_life,
            SoLife::Attached,
            "{:?}: pru_detach runs exactly once, after a successful pru_attach",
            self.handle
        );
        self.so_life = SoLife::Freed;
    }

    /// sofree's condition: no consumer reference, no protocol reference,
    /// not on a listen queue, not yet freed.
    pub fn may_free(&self) -> bool {
        self.so_count == 0
            && !self.so_state.has(SoState::PROTOREF)
            && self.so_qstate == QState::None
            && !self.is_freed()
    }

    pub fn is_listening(&self) -> bool {
        self.so_options.acceptconn
    }

    /// Take the pending error (SO_ERROR semantics).
    pub fn take_error(&mut self) -> Option<Errno> {
        self.so_error.take()
    }

    /// The connection is gone: nothing more is sent or received.
    pub fn soisdisconnected(&mut self) {
        self.sb_state.cantsendmore = true;
        self.sb_state.cantrcvmore = true;
    }

    /// A MSG_ZEROCOPY send `id` completed: queue it for MSG_ERRQUEUE,
    /// extending the last queued range when it follows on (Linux's
    /// skb_zerocopy_notify_extend).
    pub fn so_zerocopy_done(&mut self, id: u32) {
        use crate::kern::errqueue::SoErr;
        let q = self.so_errqueue.get_or_insert_with(Default::default);
        match q.back_mut() {
            Some(SoErr::Zerocopy(_, hi)) if hi.wrapping_add(1) == id => *hi = id,
            _ => q.push_back(SoErr::Zerocopy(id, id)),
        }
    }

    /// A TX timestamp (SO_TIMESTAMPING): `stage` (SCM_TSTAMP_*) of the
    /// byte whose key is `key` happened at `at` (Linux's
    /// __skb_complete_tx_timestamp).
    /// `tsonly`: SOF_TIMESTAMPING_OPT_TSONLY (no copy of the packet).
    pub fn so_tstamp(&mut self, stage: u32, key: u32, at: Instant, tsonly: bool) {
        let e = crate::kern::errqueue::SoErr::Tstamp {
            stage,
            key,
            at,
            tsonly,
        };
        crate::kern::errqueue::sock_queue_err(&mut self.so_errqueue, self.so_rcv.sb_hiwat(), e);
    }

    pub fn socantsendmore(&mut self) {
        self.sb_state.cantsendmore = true;
    }

    pub fn socantrcvmore(&mut self) {
        self.sb_state.cantrcvmore = true;
    }

    /// The KASSERTs of this socket alone.
    pub fn check_invariants(&self) {
        assert!(
            !self.is_freed(),
            "{:?}: freed socket still reachable ({:?})",
            self.handle,
            self.so_life
        );
        assert_eq!(
            self.so_life,
            SoLife::Attached,
            "{:?}: socket without a successful pru_attach",
            self.handle
        );
        assert!(
            self.so_pcb.is_present(),
            "{:?}: attached socket without a PCB",
            self.handle
        );
        assert!(
            self.so_count > 0
                || self.so_state.has(SoState::PROTOREF)
                || self.so_qstate != QState::None,
            "{:?}: unreferenced socket not freed (so_count 0, no PROTOREF, not queued)",
            self.handle
        );
        assert_eq!(
            self.so_qstate == QState::Comp,
            self.so_head.is_some(),
            "{:?}: so_head vs so_qstate",
            self.handle
        );
        if self.so_qstate == QState::Comp {
            assert_eq!(
                self.so_count, 1,
                "{:?}: a queued socket holds exactly the queue's reference",
                self.handle
            );
        }
        assert_eq!(
            self.so_listen.is_some(),
            self.so_options.acceptconn,
            "{:?}: SO_ACCEPTCONN vs queues",
            self.handle
        );
    }
}
