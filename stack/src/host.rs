//! `Stack`: one host's TCP/IP stack behind a POSIX-shaped, internally locked
//! API. (Skeleton: bodies are filled in by the stack-core work.)

use std::net::SocketAddrV4;

use crate::api::{Readiness, RecvMeta, SockInfo, SockType, SocketHandle};
use crate::config::Config;
use crate::errno::Errno;
use crate::time::Instant;

/// One stack instance. All methods take `&self`; see DESIGN.md for locking.
pub struct Stack {
    config: Config,
}

impl Stack {
    pub fn new(config: Config) -> Stack {
        Stack { config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feed one IPv4 packet received from the device.
    pub fn handle_frame(&self, _now: Instant, _frame: &[u8]) {}

    /// Next IPv4 packet to write to the device, if any.
    pub fn poll_transmit(&self) -> Option<Vec<u8>> {
        None
    }

    /// Give a transmitted frame's buffer back for reuse.
    pub fn recycle(&self, _frame: Vec<u8>) {}

    /// Earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    pub fn handle_timeout(&self, _now: Instant) {}

    /// Append the sockets whose readiness may have changed since the last call.
    pub fn drain_changed(&self, _out: &mut Vec<SocketHandle>) {}

    /// socket(AF_INET, ty, protocol): a new socket with so_count = 1.
    pub fn socket(&self, _ty: SockType, _protocol: i32) -> Result<SocketHandle, Errno> {
        Err(Errno::ENOSYS)
    }

    /// A new descriptor refers to `h` (dup): so_count += 1.
    pub fn sodup(&self, _h: SocketHandle) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    /// One descriptor reference is gone; the last one closes the socket.
    pub fn close(&self, _now: Instant, _h: SocketHandle) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    pub fn bind(&self, _h: SocketHandle, _addr: SocketAddrV4) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    pub fn listen(&self, _h: SocketHandle, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    /// Never blocks: EAGAIN when no connection is queued.
    pub fn accept(&self, _h: SocketHandle) -> Result<(SocketHandle, SocketAddrV4), Errno> {
        Err(Errno::ENOSYS)
    }

    /// Never blocks: TCP returns EINPROGRESS; follow with `connect_status`.
    /// `None` is AF_UNSPEC (dissolve a UDP association).
    pub fn connect(
        &self,
        _now: Instant,
        _h: SocketHandle,
        _addr: Option<SocketAddrV4>,
    ) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    /// For a connect in progress: Ok(true) connected, Ok(false) still
    /// connecting, Err(e) failed (the pending error is consumed).
    pub fn connect_status(&self, _h: SocketHandle) -> Result<bool, Errno> {
        Err(Errno::ENOSYS)
    }

    /// Never blocks: EAGAIN when no space. `flags` are MSG_* bits.
    pub fn send(
        &self,
        _now: Instant,
        _h: SocketHandle,
        _data: &[u8],
        _flags: i32,
        _to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
        Err(Errno::ENOSYS)
    }

    /// Never blocks: EAGAIN when nothing to read. `flags` are MSG_* bits.
    pub fn recv(
        &self,
        _now: Instant,
        _h: SocketHandle,
        _buf: &mut [u8],
        _flags: i32,
    ) -> Result<RecvMeta, Errno> {
        Err(Errno::ENOSYS)
    }

    /// `how` is SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub fn shutdown(&self, _now: Instant, _h: SocketHandle, _how: i32) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    pub fn getsockname(&self, _h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        Err(Errno::ENOSYS)
    }

    pub fn getpeername(&self, _h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        Err(Errno::ENOSYS)
    }

    /// Linux option semantics; `val` is the option's raw bytes.
    pub fn setsockopt(
        &self,
        _now: Instant,
        _h: SocketHandle,
        _level: i32,
        _name: i32,
        _val: &[u8],
    ) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    /// Writes the option's raw bytes into `out` (truncated like Linux) and
    /// returns the length Linux would report in optlen.
    pub fn getsockopt(
        &self,
        _h: SocketHandle,
        _level: i32,
        _name: i32,
        _out: &mut [u8],
    ) -> Result<usize, Errno> {
        Err(Errno::ENOSYS)
    }

    /// Current readiness (POLL* bits). A stale handle reports NVAL.
    pub fn sopoll(&self, _h: SocketHandle) -> Readiness {
        Readiness::NVAL
    }

    pub fn sockinfo(&self, _h: SocketHandle) -> Result<SockInfo, Errno> {
        Err(Errno::ENOSYS)
    }

    /// Sockets alive (including ones held only by PROTOREF).
    pub fn socket_count(&self) -> usize {
        0
    }

    /// Assert every invariant of DESIGN.md over the whole stack (tests).
    pub fn check_invariants(&self) {}
}
