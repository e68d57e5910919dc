//! Plain data types of the stack's POSIX-shaped socket API: socket handles,
//! readiness bits, receive metadata, statistics.

use std::net::SocketAddr;

/// A reference to one socket of a [`crate::Stack`]: a slot index and the
/// slot's generation, so a stale handle never reaches a reused slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl SocketHandle {
    /// A stable number for logs and maps (index and generation packed).
    pub fn as_u64(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// The handle `as_u64` packed (the service protocol names sockets so;
    /// a forged or stale value reaches no live socket but EBADF).
    pub fn from_u64(v: u64) -> SocketHandle {
        SocketHandle {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

/// Address family of a socket (socket(2)'s domain): AF_INET or AF_INET6.
/// An AF_INET6 socket may also carry IPv4 (dual stack, RFC 4291 §2.5.5.2
/// v4-mapped addresses) unless IPV6_V6ONLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Domain {
    #[default]
    Inet,
    Inet6,
}

/// Socket type the stack implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    Stream,
    Dgram,
}

/// Readiness of a socket, as poll(2) reports it. Bit values are Linux's
/// POLL* values so the shim can pass them through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Readiness(pub u32);

impl Readiness {
    pub const IN: Readiness = Readiness(0x001);
    pub const PRI: Readiness = Readiness(0x002);
    pub const OUT: Readiness = Readiness(0x004);
    pub const ERR: Readiness = Readiness(0x008);
    pub const HUP: Readiness = Readiness(0x010);
    pub const NVAL: Readiness = Readiness(0x020);
    pub const RDNORM: Readiness = Readiness(0x040);
    pub const WRNORM: Readiness = Readiness(0x100);
    pub const RDHUP: Readiness = Readiness(0x2000);
    pub const EMPTY: Readiness = Readiness(0);

    pub fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn intersects(self, other: Readiness) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;
    fn bitor(self, o: Readiness) -> Readiness {
        Readiness(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Readiness {
    fn bitor_assign(&mut self, o: Readiness) {
        self.0 |= o.0;
    }
}

/// What one `recv` returned besides the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMeta {
    /// Bytes copied into the caller's buffer.
    pub copied: usize,
    /// For datagrams, the datagram's full length (MSG_TRUNC semantics);
    /// for streams, equal to `copied`.
    pub full_len: usize,
    /// Sender address (datagrams, and streams for recvfrom's sake).
    pub from: Option<SocketAddr>,
    /// For a datagram: how it arrived and which control messages the
    /// socket asked for (`netinet::ip_cmsg` builds them).
    pub info: Option<DgramInfo>,
}

/// `DgramInfo::want` bits: SO_TIMESTAMP, SO_TIMESTAMPNS, IP_PKTINFO,
/// IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR.
pub const CMSG_WANT_TIMESTAMP: u16 = 1;
pub const CMSG_WANT_TIMESTAMPNS: u16 = 2;
pub const CMSG_WANT_PKTINFO: u16 = 4;
pub const CMSG_WANT_TTL: u16 = 8;
pub const CMSG_WANT_TOS: u16 = 16;
pub const CMSG_WANT_ORIGDSTADDR: u16 = 32;
/// IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_ORIGDSTADDR (AF_INET6
/// sockets; IPV6_PKTINFO also for IPv4 datagrams, v4-mapped).
pub const CMSG_WANT_PKTINFO6: u16 = 64;
pub const CMSG_WANT_HOPLIMIT6: u16 = 128;
pub const CMSG_WANT_TCLASS6: u16 = 256;
pub const CMSG_WANT_ORIGDSTADDR6: u16 = 512;
/// UDP_GRO: a super-datagram's piece size (SOL_UDP, UDP_GRO, an int).
pub const CMSG_WANT_UDP_GRO: u16 = 1024;

/// How a datagram arrived, kept with it in the receive buffer, and the
/// control messages its receiver asked for (`want`: `CMSG_WANT_*` bits,
/// taken from the socket's options when it is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DgramInfo {
    /// The destination address and port in its headers.
    pub dst: SocketAddr,
    /// The interface it arrived on (1: loopback).
    pub ifindex: u32,
    /// The address IP_PKTINFO reports as ipi_spec_dst.
    pub spec_dst: std::net::IpAddr,
    /// TOS (IPv4) or traffic class, TTL or hop limit.
    pub tos: u8,
    pub ttl: u8,
    /// When it arrived (the stack's clock).
    pub stamp: crate::time::Instant,
    /// A super-datagram taken whole by a UDP_GRO socket: its piece size
    /// (the UDP_GRO control message); 0 for an ordinary datagram.
    pub gso_size: u16,
    pub want: u16,
}

impl Default for DgramInfo {
    fn default() -> DgramInfo {
        DgramInfo {
            dst: SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
            ifindex: 0,
            spec_dst: std::net::Ipv4Addr::UNSPECIFIED.into(),
            tos: 0,
            ttl: 0,
            stamp: crate::time::Instant::ZERO,
            gso_size: 0,
            want: 0,
        }
    }
}

impl RecvMeta {
    /// End of file: nothing copied, nothing more will come.
    pub const EOF: RecvMeta = RecvMeta {
        copied: 0,
        full_len: 0,
        from: None,
        info: None,
    };
}

/// Per-socket counters the shim needs for ioctls and TCP_INFO-like queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockInfo {
    /// Bytes readable now; for datagrams the next datagram's size.
    pub rcv_cc: usize,
    /// FIONREAD / SIOCINQ as Linux answers it: `rcv_cc`, except on a
    /// stream with an urgent byte arrived and still ahead of the reader
    /// (without SO_OOBINLINE), where it counts only up to the mark (0 at
    /// the mark), as Linux's tcp_inq.
    pub inq: usize,
    /// Bytes in the send queue not yet acknowledged (SIOCOUTQ).
    pub snd_cc: usize,
    /// Bytes in the send queue not yet sent (SIOCOUTQNSD).
    pub snd_unsent: usize,
    /// TCP state number as Linux's TCP_INFO reports it (0 for UDP).
    pub tcp_state: u8,
    pub listening: bool,
    /// With TCP_INQ on, the TCP_CM_INQ value recvmsg reports: unread
    /// bytes, plus one once the peer's FIN arrived (Linux's tcp_inq_hint).
    pub inq_hint: Option<usize>,
    /// Bytes a plain stream send would take now, all of them: 0 with an
    /// error pending, after SHUT_WR, outside ESTABLISHED/CLOSE_WAIT or
    /// above TCP_NOTSENT_LOWAT (the service's clients send without a
    /// round trip while it says so). Always 0 for datagram sockets.
    pub snd_space: usize,
}
