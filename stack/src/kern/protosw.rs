//! The protocol switch: what the socket layer asks of a protocol
//! (FreeBSD's `pr_usrreqs`). TCP and UDP implement it. `pru_detach` and
//! `pru_abort` cannot fail: they return nothing.

use std::net::SocketAddrV4;

use crate::api::{Readiness, SockInfo};
use crate::errno::Errno;
use crate::host::Stack;
use crate::kern::socket::Socket;
use crate::time::Instant;

pub(crate) trait Protosw: Sync {
    /// Set up the protocol state of a new socket (buffers, defaults).
    fn pru_attach(&self, stack: &Stack, so: &mut Socket) -> Result<(), Errno>;
    /// The socket is being freed: leave every table. Called exactly once,
    /// only after a successful `pru_attach`.
    fn pru_detach(&self, stack: &Stack, so: &mut Socket);
    fn pru_bind(&self, stack: &Stack, so: &mut Socket, addr: SocketAddrV4) -> Result<(), Errno>;
    fn pru_listen(&self, stack: &Stack, so: &mut Socket, backlog: i32) -> Result<(), Errno>;
    fn pru_connect(
        &self,
        stack: &Stack,
        now: Instant,
        so: &mut Socket,
        addr: Option<SocketAddrV4>,
    ) -> Result<(), Errno>;
    fn pru_connect_status(&self, stack: &Stack, so: &mut Socket) -> Result<bool, Errno>;
    fn pru_send(
        &self,
        stack: &Stack,
        now: Instant,
        so: &mut Socket,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno>;
    /// The application consumed receive-buffer data (window update).
    fn pru_rcvd(&self, stack: &Stack, now: Instant, so: &mut Socket);
    fn pru_shutdown(
        &self,
        stack: &Stack,
        now: Instant,
        so: &mut Socket,
        how: i32,
    ) -> Result<(), Errno>;
    /// The last descriptor is gone (`soclose`). The protocol may set
    /// PROTOREF to keep the socket while it finishes the connection.
    fn pru_close(&self, stack: &Stack, now: Instant, so: &mut Socket);
    /// Tear the connection down at once (RST), e.g. a queued connection
    /// of a closing listener.
    fn pru_abort(&self, stack: &Stack, now: Instant, so: &mut Socket);
    fn pru_peeraddr(&self, so: &Socket) -> Result<SocketAddrV4, Errno>;
    fn pru_sopoll(&self, so: &Socket) -> Readiness;
    fn pru_sockinfo(&self, so: &Socket) -> SockInfo;
    fn pru_ctloutput_set(
        &self,
        stack: &Stack,
        now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        val: i32,
    ) -> Result<(), Errno>;
    /// An int option's value (TCP_INFO, a struct, is `tcp_info`'s).
    fn pru_ctloutput_get(
        &self,
        stack: &Stack,
        so: &Socket,
        level: i32,
        name: i32,
    ) -> Result<i32, Errno>;
    /// Protocol KASSERTs for `check_invariants`.
    fn pru_check(&self, stack: &Stack, so: &Socket);
}
