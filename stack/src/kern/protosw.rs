//! The protocol switch: what the socket layer asks of a protocol
//! (FreeBSD's `struct protosw` and its `pr_usrreqs`). The socket layer
//! reaches a protocol only through this trait, and holds its PCB only as an
//! opaque `SoPcb`: anything it needs to know about the connection
//! (addresses, whether it is connected) it asks here. `C` is the stack
//! that carries both (`SoCx`); the protocol receives it with every call.
//! `pru_detach` and `pru_abort` cannot fail: they return nothing.

use std::net::SocketAddr;

use crate::api::{Readiness, RecvMeta, SockInfo, SockType};
use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::time::Instant;

pub trait Protosw<C>: Sync {
    /// The socket type this entry serves (FreeBSD's pr_type).
    fn pr_type(&self) -> SockType;
    /// Its protocol number (IPPROTO_*), what SO_PROTOCOL reports.
    fn pr_protocol(&self) -> i32;
    /// Create the protocol state of a new socket: its PCB, and for a
    /// socket with no buffer reservation yet (one made by socket(2), not by
    /// `sonewconn`) the protocol's default buffer sizes (`soreserve`).
    fn pru_attach(&self, cx: &C, so: &mut Socket) -> Result<(), Errno>;
    /// The socket is being freed: leave every table. Called exactly once,
    /// only after a successful `pru_attach`.
    fn pru_detach(&self, cx: &C, so: &mut Socket);
    fn pru_bind(&self, cx: &C, so: &mut Socket, addr: SocketAddr) -> Result<(), Errno>;
    fn pru_listen(&self, cx: &C, so: &mut Socket, backlog: i32) -> Result<(), Errno>;
    fn pru_connect(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        addr: Option<SocketAddr>,
    ) -> Result<(), Errno>;
    fn pru_connect_status(&self, cx: &C, so: &mut Socket) -> Result<bool, Errno>;
    fn pru_send(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddr>,
    ) -> Result<usize, Errno>;
    /// The application consumed receive-buffer data (window update).
    fn pru_rcvd(&self, cx: &C, now: Instant, so: &mut Socket);
    fn pru_shutdown(&self, cx: &C, now: Instant, so: &mut Socket, how: i32) -> Result<(), Errno>;
    /// The last descriptor is gone (`soclose`). The protocol may set
    /// PROTOREF to keep the socket while it finishes the connection.
    fn pru_close(&self, cx: &C, now: Instant, so: &mut Socket);
    /// Tear the connection down at once (RST), e.g. a queued connection
    /// of a closing listener.
    fn pru_abort(&self, cx: &C, now: Instant, so: &mut Socket);
    /// The peer's address of a connection being accepted (FreeBSD's
    /// pru_accept): reported even if it was reset while queued.
    fn pru_accept(&self, so: &Socket) -> SocketAddr;
    /// accept(2) looked at the listener's queue (and took a connection
    /// if there was one). TCP lets loopback SYNs that wait for room in
    /// (tcp_synwait.rs). Nothing by default.
    fn pru_accepted(&self, _cx: &C, _l: &mut Socket) {}
    /// getsockname(2).
    fn pru_sockaddr(&self, so: &Socket) -> SocketAddr;
    /// getpeername(2).
    fn pru_peeraddr(&self, so: &Socket) -> Result<SocketAddr, Errno>;
    /// A connection-oriented protocol with no connection (soreceive's
    /// ENOTCONN, FreeBSD's PR_CONNREQUIRED test).
    fn pru_rcv_notconn(&self, so: &Socket) -> bool;
    fn pru_sopoll(&self, so: &Socket) -> Readiness;
    fn pru_sockinfo(&self, so: &Socket) -> SockInfo;
    /// SO_RCVLOWAT, already clamped to be non-negative: the protocol sets
    /// `so_rcv.sb_lowat` within its own limits.
    fn pru_rcvlowat(&self, cx: &C, so: &mut Socket, lowat: usize);
    /// setsockopt at any level but SOL_SOCKET, and the SOL_SOCKET options
    /// the protocol follows too (SO_KEEPALIVE). `val` is the caller's bytes.
    fn pru_ctloutput_set(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno>;
    /// getsockopt at any level but SOL_SOCKET: writes the value into `out`
    /// (truncated as Linux does) and returns the optlen to report.
    fn pru_ctloutput_get(
        &self,
        cx: &C,
        so: &Socket,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno>;
    /// recv(MSG_OOB): the urgent byte (FreeBSD's pru_rcvoob). Never
    /// blocks. Protocols without urgent data: EINVAL.
    fn pru_rcvoob(
        &self,
        _so: &mut Socket,
        _buf: &mut [u8],
        _flags: i32,
    ) -> Result<RecvMeta, Errno> {
        Err(Errno::EINVAL)
    }
    /// The control messages (`api::CMSG_WANT_*`) the protocol's options
    /// ask recvmsg for, besides SOL_SOCKET's timestamps.
    fn pru_cmsg_want(&self, _so: &Socket) -> u16 {
        0
    }
    /// Protocol KASSERTs for `check_invariants`.
    fn pru_check(&self, cx: &C, so: &Socket);
    /// SO_ERROR with no error pending: the protocol's soft error, taken
    /// (Linux's sk_err_soft: TCP's last ICMP error). None by default.
    fn pru_take_softerror(&self, _so: &mut Socket) -> Option<Errno> {
        None
    }
}
