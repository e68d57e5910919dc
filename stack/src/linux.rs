//! Linux ABI constants the socket API speaks: address families, socket
//! types, option levels and names, message flags. Values are Linux's.

pub const AF_UNSPEC: i32 = 0;
pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;

pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;

pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_ICMP: i32 = 1;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const IPPROTO_IPV6: i32 = 41;
pub const SOL_IPV6: i32 = IPPROTO_IPV6;
// IPPROTO_IPV6 options (linux/in6.h).
pub const IPV6_UNICAST_HOPS: i32 = 16;
pub const IPV6_MULTICAST_HOPS: i32 = 18;
pub const IPV6_MULTICAST_LOOP: i32 = 19;
pub const IPV6_V6ONLY: i32 = 26;
pub const IPV6_RECVERR: i32 = 25;
pub const IPV6_MULTICAST_ALL: i32 = 29;
pub const IPV6_RECVPKTINFO: i32 = 49;
pub const IPV6_PKTINFO: i32 = 50;
pub const IPV6_RECVHOPLIMIT: i32 = 51;
pub const IPV6_HOPLIMIT: i32 = 52;
pub const IPV6_RECVTCLASS: i32 = 66;
pub const IPV6_RECVORIGDSTADDR: i32 = 74;
pub const IPV6_ORIGDSTADDR: i32 = 74;
pub const IPV6_TCLASS: i32 = 67;
pub const IPV6_MULTICAST_IF: i32 = 17;
pub const IPV6_JOIN_GROUP: i32 = 20;
pub const IPV6_LEAVE_GROUP: i32 = 21;
pub const IPV6_MTU_DISCOVER: i32 = 23;
pub const IPV6_MTU: i32 = 24;
pub const IPV6_DONTFRAG: i32 = 62;
/// IPV6_MTU_DISCOVER values (Linux's IPV6_PMTUDISC_*).
pub const IPV6_PMTUDISC_DO: u8 = 2;
pub const IPV6_PMTUDISC_PROBE: u8 = 3;
pub const IPV6_PMTUDISC_OMIT: u8 = 5;

pub const SOL_SOCKET: i32 = 1;
pub const SOL_IP: i32 = IPPROTO_IP;
pub const SOL_TCP: i32 = IPPROTO_TCP;

pub const SO_DEBUG: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_DONTROUTE: i32 = 5;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_OOBINLINE: i32 = 10;
pub const SO_NO_CHECK: i32 = 11;
/// A level no Linux socket has: the shim's private getsockopt for SIOCGSTAMP
/// (name `SOCKSHIM_SIOCGSTAMP`: 8 bytes, the time on the stack's clock in
/// microseconds), so the ioctl needs no message of its own in service mode.
pub const SOL_SOCKSHIM: i32 = -0x5353;
pub const SOCKSHIM_SIOCGSTAMP: i32 = 1;
/// SIOCATMARK through the same level: an int, 1 at the urgent mark.
pub const SOCKSHIM_SIOCATMARK: i32 = 2;
/// setsockopt at the same level: the next datagram's IP_TOS / IP_TTL /
/// IPV6_TCLASS / IPV6_HOPLIMIT / UDP_SEGMENT, from sendmsg's control
/// messages (8 bytes: a mask of which follow, 1 tos, 2 ttl, 4 tclass, 8 hop
/// limit, 16 segment size, then the four byte values and the u16). The
/// stack's next send on the socket takes them.
pub const SOCKSHIM_SEND_ONCE: i32 = 3;
/// setsockopt at the same level: the port this socket is bound to was
/// chosen for it (the shim binds a wildcard or loopback port 0 on the
/// port the kernel picked for its reservation), so a disconnect releases
/// it as Linux releases a port bound without SOCK_BINDPORT_LOCK.
pub const SOCKSHIM_ANON_PORT: i32 = 4;
/// setsockopt at the same level: the socket's SO_BINDTOIFINDEX as the
/// kernel accepted it on the anchor (a u32; 0: none), so the stack limits
/// what the socket receives to that interface.
pub const SOCKSHIM_BOUND_DEV: i32 = 5;
/// The loopback device's interface index (always 1 on Linux).
pub const LOOPBACK_IFINDEX: u32 = 1;
/// Linux's lo MTU (what a route over loopback reports).
pub const LOOPBACK_MTU: usize = 65536;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PASSSEC: i32 = 34;
pub const SO_TIMESTAMP: i32 = 29;
pub const SO_TIMESTAMPNS: i32 = 35;
pub const SO_RXQ_OVFL: i32 = 40;
pub const SO_WIFI_STATUS: i32 = 41;
pub const SO_NOFCS: i32 = 43;
pub const SO_SELECT_ERR_QUEUE: i32 = 45;
pub const SO_BUSY_POLL: i32 = 46;
/// Socket filters; getsockopt(SO_GET_FILTER) shares SO_ATTACH_FILTER's number.
pub const SO_ATTACH_FILTER: i32 = 26;
pub const SO_DETACH_FILTER: i32 = 27;
pub const SO_GET_FILTER: i32 = SO_ATTACH_FILTER;
pub const SO_LOCK_FILTER: i32 = 44;
pub const SO_PRIORITY: i32 = 12;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_RCVLOWAT: i32 = 18;
pub const SO_SNDLOWAT: i32 = 19;
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
pub const SO_MARK: i32 = 36;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;
pub const SO_MEMINFO: i32 = 55;
pub const SO_ZEROCOPY: i32 = 60;
/// sock_extended_err's origins (the error queue, kern/errqueue.rs), and
/// the code of MSG_ZEROCOPY completions.
pub const SO_EE_ORIGIN_LOCAL: u8 = 1;
pub const SO_EE_ORIGIN_ICMP: u8 = 2;
pub const SO_EE_ORIGIN_ICMP6: u8 = 3;
pub const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
pub const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;
/// SO_TIMESTAMPING (and its y2038 twin) and its SOF_TIMESTAMPING_* bits.
pub const SO_TIMESTAMPING: i32 = 37;
pub const SO_TIMESTAMPING_NEW: i32 = 65;
pub const SCM_TIMESTAMPING: i32 = SO_TIMESTAMPING;
pub const SOF_TIMESTAMPING_TX_SOFTWARE: u32 = 1 << 1;
pub const SOF_TIMESTAMPING_OPT_ID: u32 = 1 << 7;
pub const SOF_TIMESTAMPING_TX_SCHED: u32 = 1 << 8;
pub const SOF_TIMESTAMPING_TX_ACK: u32 = 1 << 9;
pub const SOF_TIMESTAMPING_OPT_TSONLY: u32 = 1 << 11;
pub const SOF_TIMESTAMPING_OPT_ID_TCP: u32 = 1 << 16;
/// Every SOF_TIMESTAMPING_* bit Linux 6.18 knows (SOF_TIMESTAMPING_MASK).
pub const SOF_TIMESTAMPING_MASK: u32 = (1 << 18) - 1;
/// A TX timestamp's sock_extended_err: origin, and ee_info's stage.
pub const SO_EE_ORIGIN_TIMESTAMPING: u8 = 4;
pub const SCM_TSTAMP_SND: u32 = 0;
pub const SCM_TSTAMP_SCHED: u32 = 1;
pub const SCM_TSTAMP_ACK: u32 = 2;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_CORK: i32 = 3;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;
pub const TCP_SYNCNT: i32 = 7;
pub const TCP_LINGER2: i32 = 8;
pub const TCP_DEFER_ACCEPT: i32 = 9;
pub const TCP_WINDOW_CLAMP: i32 = 10;
pub const TCP_INFO: i32 = 11;
pub const TCP_QUICKACK: i32 = 12;
pub const TCP_USER_TIMEOUT: i32 = 18;
pub const TCP_CONGESTION: i32 = 13;
pub const TCP_FASTOPEN: i32 = 23;
pub const TCP_NOTSENT_LOWAT: i32 = 25;
pub const TCP_FASTOPEN_CONNECT: i32 = 30;
pub const TCP_FASTOPEN_KEY: i32 = 33;
pub const TCP_FASTOPEN_NO_COOKIE: i32 = 34;

/// Socket options whose Linux code reads a sysctl live (net.ipv4.tcp_fastopen
/// for the Fast Open ones): the shim and service re-read the namespace's
/// sysctls before them, as they do at socket().
pub fn rereads_sysctl(level: i32, name: i32) -> bool {
    level == IPPROTO_TCP && matches!(name, TCP_FASTOPEN | TCP_FASTOPEN_CONNECT)
}
pub const TCP_CC_INFO: i32 = 26;
pub const TCP_INQ: i32 = 36;
/// The recvmsg control message TCP_INQ asks for (same number).
pub const TCP_CM_INQ: i32 = TCP_INQ;

pub const UDP_CORK: i32 = 1;
/// setsockopt(SOL_UDP): the payload bytes of each datagram a send is cut
/// into (0: off); also a sendmsg control message of a u16.
pub const UDP_SEGMENT: i32 = 103;
/// setsockopt(SOL_UDP): take super-datagrams whole, their segment size
/// reported by a control message of the same name (an int).
pub const UDP_GRO: i32 = 104;

pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;
pub const IP_RECVERR: i32 = 11;
pub const IP_HDRINCL: i32 = 3;
pub const IP_RECVOPTS: i32 = 6;
pub const IP_RETOPTS: i32 = 7;
pub const IP_RECVTTL: i32 = 12;
pub const IP_RECVTOS: i32 = 13;
pub const IP_FREEBIND: i32 = 15;
pub const IP_PASSSEC: i32 = 18;
pub const IP_TRANSPARENT: i32 = 19;
pub const IP_RECVORIGDSTADDR: i32 = 20;
pub const IP_NODEFRAG: i32 = 22;
pub const IP_CHECKSUM: i32 = 23;
pub const IP_BIND_ADDRESS_NO_PORT: i32 = 24;
pub const IP_RECVFRAGSIZE: i32 = 25;
pub const IP_MTU_DISCOVER: i32 = 10;
pub const IP_MTU: i32 = 14;
pub const IP_PKTINFO: i32 = 8;
pub const IP_MULTICAST_TTL: i32 = 33;
pub const IP_MULTICAST_LOOP: i32 = 34;
pub const IP_MULTICAST_IF: i32 = 32;
pub const IP_ADD_MEMBERSHIP: i32 = 35;
pub const IP_DROP_MEMBERSHIP: i32 = 36;
pub const IP_MULTICAST_ALL: i32 = 49;
pub const MCAST_JOIN_GROUP: i32 = 42;
pub const MCAST_LEAVE_GROUP: i32 = 45;
pub const IP_UNBLOCK_SOURCE: i32 = 37;
pub const IP_BLOCK_SOURCE: i32 = 38;
pub const IP_ADD_SOURCE_MEMBERSHIP: i32 = 39;
pub const IP_DROP_SOURCE_MEMBERSHIP: i32 = 40;
pub const MCAST_BLOCK_SOURCE: i32 = 43;
pub const MCAST_UNBLOCK_SOURCE: i32 = 44;
pub const MCAST_JOIN_SOURCE_GROUP: i32 = 46;
pub const MCAST_LEAVE_SOURCE_GROUP: i32 = 47;
pub const IP_MSFILTER: i32 = 41;
pub const MCAST_MSFILTER: i32 = 48;
pub const MCAST_EXCLUDE: u32 = 0;
pub const MCAST_INCLUDE: u32 = 1;

/// How many bytes of the caller's buffer a getsockopt reads before it
/// answers (Linux reads the group from the value of these options): the
/// shim hands them in with the call, so the stack finds them in `out`.
pub fn getsockopt_input_len(level: i32, name: i32) -> usize {
    match (level, name) {
        (IPPROTO_IP, IP_MSFILTER) => 16,
        (IPPROTO_IP, MCAST_MSFILTER) => 144,
        (IPPROTO_IPV6, MCAST_MSFILTER) => 144,
        _ => 0,
    }
}

pub const MSG_OOB: i32 = 0x1;
pub const MSG_PEEK: i32 = 0x2;
pub const MSG_DONTROUTE: i32 = 0x4;
pub const MSG_TRUNC: i32 = 0x20;
pub const MSG_DONTWAIT: i32 = 0x40;
pub const MSG_EOR: i32 = 0x80;
pub const MSG_WAITALL: i32 = 0x100;
pub const MSG_ERRQUEUE: i32 = 0x2000;
pub const MSG_NOSIGNAL: i32 = 0x4000;
pub const MSG_MORE: i32 = 0x8000;
pub const MSG_FASTOPEN: i32 = 0x2000_0000;
pub const MSG_ZEROCOPY: i32 = 0x0400_0000;
pub const MSG_CMSG_CLOEXEC: i32 = 0x4000_0000;
/// Private to sockshim (a bit Linux's send path leaves unused; the shim
/// clears it from a program's flags): this stream send continues a call
/// that already copied bytes, so an error is reported but stays pending,
/// as Linux's tcp_sendmsg returns what it copied and leaves `sk_err` set.
pub const MSG_SOCKSHIM_COPIED: i32 = 0x1000_0000;
/// Private to sockshim, cleared from a program's flags like the one above:
/// this stream send retries after its call slept for send space, so it
/// copies only once the socket is writeable (Linux wakes such a writer
/// from sk_stream_write_space, when sk_stream_is_writeable: a third of
/// the send queue free), not as soon as one byte fits.
pub const MSG_SOCKSHIM_WAITED: i32 = 0x0100_0000;

pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;
