//! Internet protocol control blocks (`Inpcb`) and the lookup tables
//! (`PcbInfo`, FreeBSD's pcbinfo): bound ports with their sharing flags,
//! TCP connections by 4-tuple, TCP listeners and UDP sockets by port.
//!
//! One table for both families. Addresses are `IpAddr`s kept canonical:
//! IPv4 traffic is `V4` whatever the socket's family, so an AF_INET6
//! socket talking to an IPv4 peer (dual stack) is found by the same
//! 4-tuple as an AF_INET one; the v4-mapped form (`::ffff:a.b.c.d`) is
//! only what such a socket shows its user (`Inpcb::user_addr`). A
//! wildcard `::` of a socket without IPV6_V6ONLY also covers IPv4.
//!
//! `PcbInfo` sits behind one `RwLock` in the stack, taken only to look up,
//! insert or remove, never across protocol work (DESIGN invariant 7). It
//! stores handles, never locks sockets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::hash::FastMap;

use crate::api::{Domain, SocketHandle};
use crate::errno::Errno;

/// The connection is dead (reset, timed out, aborted); the PCB stays until
/// the socket is freed.
pub const INP_DROPPED: u32 = 0x01;
/// TCP is in TIME_WAIT.
pub const INP_TIMEWAIT: u32 = 0x02;
/// The local port was chosen automatically (autobind / bind to port 0 on connect).
pub const INP_ANONPORT: u32 = 0x04;
/// `Inpcb::rxopt6` bits: IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT,
/// IPV6_RECVTCLASS, IPV6_RECVORIGDSTADDR, IPV6_RECVERR.
pub const RX6_PKTINFO: u8 = 1;
pub const RX6_HOPLIMIT: u8 = 2;
pub const RX6_TCLASS: u8 = 4;
pub const RX6_ORIGDSTADDR: u8 = 8;
pub const RX6_RECVERR: u8 = 16;

/// The application bound a specific local address.
pub const INP_BOUNDADDR: u32 = 0x08;
/// TCP has been through a connection: it sent a SYN (connect), or a
/// listener made it. Linux 6.18 then refuses listen() for good (EINVAL),
/// also once the connection is over and the socket is SS_UNCONNECTED
/// again: after a refused connect, connect(AF_UNSPEC), shutdown() in
/// SYN_SENT, and after a new bind (observed on the kernel, c-test 400; a
/// connect that fails before its SYN, ENETUNREACH, leaves listen()
/// allowed). tcp_disconnect keeps it.
pub const INP_WASCONNECTED: u32 = 0x10;

/// A datagram's own IP_TOS/IP_TTL (IPv4) or IPV6_TCLASS/IPV6_HOPLIMIT
/// (IPv6), and its UDP_SEGMENT size, from sendmsg's control messages: the
/// next send takes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOnce {
    pub tos: Option<u8>,
    pub ttl: Option<u8>,
    pub tclass: Option<u8>,
    pub hops: Option<u8>,
    /// UDP_SEGMENT for this send (0 included: no segmentation), in place
    /// of the socket's.
    pub gso_size: Option<u16>,
}

impl SendOnce {
    /// From SOCKSHIM_SEND_ONCE's bytes (linux.rs).
    pub fn from_bytes(b: &[u8]) -> Option<SendOnce> {
        let [mask, tos, ttl, tclass, hops, g0, g1, ..] = *b else {
            return None;
        };
        let bit = |n: u8, v: u8| (mask & n != 0).then_some(v);
        Some(SendOnce {
            tos: bit(1, tos),
            ttl: bit(2, ttl),
            tclass: bit(4, tclass),
            hops: bit(8, hops),
            gso_size: (mask & 16 != 0).then_some(u16::from_ne_bytes([g0, g1])),
        })
    }

    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (i, (n, v)) in [
            (1, self.tos),
            (2, self.ttl),
            (4, self.tclass),
            (8, self.hops),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = v {
                b[0] |= n;
                b[1 + i] = v;
            }
        }
        if let Some(g) = self.gso_size {
            b[0] |= 16;
            b[5..7].copy_from_slice(&g.to_ne_bytes());
        }
        b
    }

    /// This datagram's header fields on `inp` (a copy): what was given
    /// replaces the socket's options, for the destination's family.
    pub fn apply(self, inp: &mut Inpcb, v6: bool) {
        if v6 {
            if let Some(t) = self.tclass {
                inp.tclass = t;
            }
            if let Some(h) = self.hops {
                inp.hops6 = i16::from(h);
                inp.mc_hops6 = i16::from(h);
            }
        } else {
            if let Some(t) = self.tos {
                inp.tos = t;
            }
            if let Some(t) = self.ttl {
                inp.ttl = t;
                inp.mc_ttl = t;
            }
        }
    }
}

/// `Inpcb::bound_dev` and `PortUser::dev`: no device, loopback, the TUN
/// device, another device.
pub const DEV_NONE: u8 = 0;
pub const DEV_LO: u8 = 1;
pub const DEV_OURS: u8 = 2;
pub const DEV_OTHER: u8 = 3;

/// The `bound_dev` value of SO_BINDTOIFINDEX `ifindex` (0: none).
pub fn bound_dev_of(ifindex: u32, dev_ifindex: u32) -> u8 {
    match ifindex {
        0 => DEV_NONE,
        crate::linux::LOOPBACK_IFINDEX => DEV_LO,
        i if i == dev_ifindex => DEV_OURS,
        _ => DEV_OTHER,
    }
}

/// May a socket bound to `dev` take a packet that came in on `ifindex`
/// (0: any, for lookups that are not about a packet)? Linux's
/// inet_sk_bound_dev_eq in compute_score.
pub fn dev_takes(dev: u8, ifindex: u32, dev_ifindex: u32) -> bool {
    ifindex == 0 || dev == DEV_NONE || dev == bound_dev_of(ifindex, dev_ifindex)
}

/// `Inpcb::pmtu6`: IPV6_MTU_DISCOVER (0..=5) in the low bits,
/// IPV6_MULTICAST_IF's interface in `PMTU6_MCIF`, IPV6_DONTFRAG on top.
pub const PMTU6_DISC: u8 = 0x07;
pub const PMTU6_MCIF: u8 = 0x18;
pub const MCIF6_LO: u8 = 0x08;
pub const MCIF6_DEV: u8 = 0x10;
pub const BOUND_DEV: u8 = 0x60;
const BOUND_DEV_SHIFT: u32 = 5;
pub const PMTU6_DONTFRAG: u8 = 0x80;

/// Addressing common to TCP and UDP. (s)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inpcb {
    /// The socket's family (AF_INET6 sockets may carry IPv4 too).
    pub family: Domain,
    /// IPV6_V6ONLY: an AF_INET6 socket that carries IPv6 alone.
    pub v6only: bool,
    /// Local and foreign addresses, canonical (see the module comment).
    pub laddr: IpAddr,
    pub lport: u16,
    pub faddr: IpAddr,
    pub fport: u16,
    pub inp_flags: u32,
    /// The automatically chosen port a disconnect released (a refused or
    /// dissolved connect: `tcp_disconnect`). Linux's `inet_sport` keeps
    /// it, so getsockname still reports it, though nothing holds it any
    /// more; a later bind or connect sets `lport`, which takes precedence.
    pub lport_released: u16,
    pub ttl: u8,
    pub tos: u8,
    /// IP_RECVERR.
    pub recverr: bool,
    /// The boolean IPPROTO_IP options (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS,
    /// IP_FREEBIND, ...): bit `1 << name`, as `ip::ip_flag_bit` says.
    pub ip_flags: u32,
    /// IP_MTU_DISCOVER (IP_PMTUDISC_*; Linux's default is WANT, 1).
    pub pmtudisc: u8,
    /// IP_MULTICAST_TTL (default 1).
    pub mc_ttl: u8,
    /// IP_MULTICAST_LOOP (default on).
    pub mc_loop: bool,
    /// IPV6_UNICAST_HOPS (-1: net.ipv6.conf.default.hop_limit).
    pub hops6: i16,
    /// IPV6_TCLASS.
    pub tclass: u8,
    /// The IPPROTO_IPV6 receive options (Linux's `np->rxopt` bits):
    /// `RX6_*` bits, each asking for a control message (ip_cmsg.rs), and
    /// IPV6_RECVERR (stored and reported).
    pub rxopt6: u8,
    /// IPV6_MULTICAST_HOPS (-1: 1).
    pub mc_hops6: i16,
    /// IPV6_MULTICAST_LOOP (default on).
    pub mc_loop6: bool,
    /// IP_MULTICAST_IF: interface index (0: none) and address.
    pub mc_ifindex: u32,
    pub mc_addr: Ipv4Addr,
    /// IP_MULTICAST_ALL: receive IPv4 groups other sockets joined (on
    /// by default for AF_INET only: Linux's inet6_create leaves it off).
    pub mc_all: bool,
    /// IPV6_MULTICAST_ALL (default on): the same for IPv6 groups.
    pub mc_all6: bool,
    /// UDP_SEGMENT: cut each send into datagrams of this many bytes (0: off).
    pub udp_gso_size: u16,
    /// UDP_GRO: take super-datagrams whole (udp_gso.rs).
    pub udp_gro: bool,
    /// The next datagram's own TOS/TTL/segment size (sendmsg's control
    /// messages), kept as `SendOnce::to_bytes` (8 bytes where the parsed
    /// form takes 12: every TCP connection carries this PCB).
    pub send_once: [u8; 8],
    /// Small options packed in one byte (TcpCb's size is pinned):
    /// IPV6_MTU_DISCOVER (IPV6_PMTUDISC_*, WANT by default) in
    /// `PMTU6_DISC`, IPV6_MULTICAST_IF's interface in `PMTU6_MCIF`
    /// (`MCIF6_LO` or `MCIF6_DEV`: the stack has no other, and Linux
    /// refuses an index it does not know), SO_BINDTODEVICE in
    /// `BOUND_DEV` (`bound_dev()`), IPV6_DONTFRAG as `PMTU6_DONTFRAG`.
    pub pmtu6: u8,
}

impl Inpcb {
    /// IPV6_MTU_DISCOVER.
    pub fn pmtudisc6(&self) -> u8 {
        self.pmtu6 & PMTU6_DISC
    }

    /// IPV6_DONTFRAG.
    pub fn dontfrag6(&self) -> bool {
        self.pmtu6 & PMTU6_DONTFRAG != 0
    }

    /// SO_BINDTODEVICE as the stack sees it: `DEV_NONE`, `DEV_LO`,
    /// `DEV_OURS` (the TUN device) or `DEV_OTHER` (another device of the
    /// namespace: nothing of ours arrives there).
    pub fn bound_dev(&self) -> u8 {
        (self.pmtu6 & BOUND_DEV) >> BOUND_DEV_SHIFT
    }

    pub fn set_bound_dev(&mut self, dev: u8) {
        self.pmtu6 = (self.pmtu6 & !BOUND_DEV) | ((dev << BOUND_DEV_SHIFT) & BOUND_DEV);
    }

    /// An AF_INET PCB.
    pub fn new(ttl: u8) -> Inpcb {
        Inpcb::new_in(Domain::Inet, ttl, false)
    }

    /// A PCB of `family` (`v6only` counts for AF_INET6 only).
    pub fn new_in(family: Domain, ttl: u8, v6only: bool) -> Inpcb {
        let any = unspecified(family);
        Inpcb {
            family,
            v6only: v6only && family == Domain::Inet6,
            laddr: any,
            lport: 0,
            faddr: any,
            fport: 0,
            inp_flags: 0,
            lport_released: 0,
            ttl,
            tos: 0,
            recverr: false,
            ip_flags: 0,
            pmtudisc: 1,
            mc_ttl: 1,
            mc_loop: true,
            hops6: -1,
            tclass: 0,
            rxopt6: 0,
            mc_hops6: -1,
            mc_loop6: true,
            mc_ifindex: 0,
            mc_addr: Ipv4Addr::UNSPECIFIED,
            mc_all: family == Domain::Inet,
            mc_all6: true,
            udp_gso_size: 0,
            udp_gro: false,
            send_once: [0; 8],
            pmtu6: 1,
        }
    }

    /// TTL and TOS (IPv4) or hop limit and traffic class (IPv6) of what
    /// this socket sends to `dst`; `default_hops6` is
    /// net.ipv6.conf.default.hop_limit.
    pub fn ttl_tos_to(&self, dst: IpAddr, default_hops6: u8) -> (u8, u8) {
        match dst {
            IpAddr::V4(_) => (self.ttl, self.tos),
            IpAddr::V6(_) => match self.hops6 {
                h @ 0..=255 => (h as u8, self.tclass),
                _ => (default_hops6, self.tclass),
            },
        }
    }
    /// Local address and port, canonical.
    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(self.laddr, self.lport)
    }
    /// Foreign address and port, canonical.
    pub fn foreign(&self) -> SocketAddr {
        SocketAddr::new(self.faddr, self.fport)
    }
    /// `ip`:`port` as this socket's user sees it: an AF_INET6 socket
    /// shows IPv4 addresses v4-mapped (an unspecified IPv4 one as `::`).
    pub fn user_addr(&self, ip: IpAddr, port: u16) -> SocketAddr {
        match (self.family, ip) {
            (Domain::Inet6, IpAddr::V4(a)) if a.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)
            }
            (Domain::Inet6, IpAddr::V4(a)) => SocketAddr::new(a.to_ipv6_mapped().into(), port),
            _ => SocketAddr::new(ip, port),
        }
    }
    /// The unspecified address of this socket's family.
    pub fn any(&self) -> IpAddr {
        unspecified(self.family)
    }
    pub fn is_connected(&self) -> bool {
        self.fport != 0
    }
}

/// The unspecified address of `family`.
pub fn unspecified(family: Domain) -> IpAddr {
    match family {
        Domain::Inet => Ipv4Addr::UNSPECIFIED.into(),
        Domain::Inet6 => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// An address as the PCB tables keep it: v4-mapped IPv6 taken as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Does a socket bound to `bound` (with `v6only`) take what is sent to
/// `dst`? Its own address, or the wildcard of `dst`'s family; `::`
/// without IPV6_V6ONLY takes IPv4 too.
pub fn addr_takes(bound: IpAddr, v6only: bool, dst: IpAddr) -> bool {
    if bound == dst {
        return true;
    }
    match bound {
        IpAddr::V4(a) => a.is_unspecified() && dst.is_ipv4(),
        IpAddr::V6(a) => a.is_unspecified() && (dst.is_ipv6() || !v6only),
    }
}

/// Which port namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One user of a port, with the flags bind conflicts are decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortUser {
    pub handle: SocketHandle,
    pub addr: IpAddr,
    /// IPV6_V6ONLY of an AF_INET6 user bound to `::`.
    pub v6only: bool,
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub listening: bool,
    /// For UDP demultiplexing: the connected peer, if any.
    pub foreign: Option<SocketAddr>,
    /// SO_BINDTODEVICE (`Inpcb::bound_dev`): what arrives on another
    /// interface is not for this socket.
    pub dev: u8,
}

/// The interface a packet came in on and the TUN device's index, for
/// SO_BINDTODEVICE (`ANY_ARRIVAL`: a lookup not about a packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival(pub u32, pub u32);

pub const ANY_ARRIVAL: Arrival = Arrival(0, 0);

/// (local, foreign) of a TCP connection, canonical addresses.
pub type FourTuple = (SocketAddr, SocketAddr);

/// The users of one port: those that bound it themselves (binds,
/// listeners, connected sockets, in bind order, which decides among equal
/// candidates), and the connections accepted on a listener there, found
/// by handle: a server holding many connections on one port adds and
/// removes each in O(1), and a SYN's listener lookup never walks them
/// (Linux keeps children in the listener's bind bucket too, for bind
/// conflicts only).
///
/// A client holds one port per connection (its ephemeral port, one
/// binder): the children and the fast path, which few ports have, are
/// boxed (`more`), so the table's entry is 40 bytes, not 96 (issue 18:
/// 92 bytes per held client connection at 10,000, the table's spare
/// capacity included).
#[derive(Debug, Default)]
struct PortUsers {
    bound: Vec<PortUser>,
    more: Option<Box<PortMore>>,
}

/// What few ports have (see `PortUsers`).
#[derive(Debug, Default)]
struct PortMore {
    children: FastMap<SocketHandle, Child>,
    /// TCP's SO_REUSEPORT fast path (Linux's tb->fastreuseport).
    fast: FastReuseport,
}

/// Linux's bind-bucket SO_REUSEPORT fast path (tb->fastreuseport, kept by
/// inet_csk_update_fastreuse): a TCP bind with SO_REUSEPORT that matches
/// it succeeds without looking at the port's users, so what a user set
/// or cleared after its own bind is not seen there (c-test 286).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum FastReuseport {
    #[default]
    Off,
    /// The first binder had SO_REUSEPORT: any SO_REUSEPORT bind matches.
    Any,
    /// Set again by a later SO_REUSEPORT binder: a bind matches on an
    /// overlapping address.
    Strict { addr: IpAddr, v6only: bool },
}

impl FastReuseport {
    /// sk_reuseport_match (same uid always).
    fn matches(self, user: &PortUser) -> bool {
        if !user.reuseport {
            return false;
        }
        match self {
            FastReuseport::Off => false,
            FastReuseport::Any => true,
            // Not symmetric, unlike a conflict: the fast path's address
            // matches itself, and its own wildcard matches what that
            // wildcard takes; a new wildcard does not match a specific
            // fast-path address. IPv4's wildcard also matches a `::`
            // without IPV6_V6ONLY (Linux compares their IPv4 addresses,
            // both 0), not another IPv6 address (checked on Linux 6.18).
            FastReuseport::Strict { addr, v6only } => {
                let a = user.addr;
                addr == a
                    || addr.is_unspecified()
                        && (addr.is_ipv4() == a.is_ipv4() || addr.is_ipv6() && !v6only)
                    || addr == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                        && a == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                        && !user.v6only
            }
        }
    }

    /// inet_csk_update_fastreuse after `user` bound (or listened) on a
    /// port whose bucket was `empty` before.
    fn after_bind(&mut self, empty: bool, user: &PortUser) {
        *self = match (user.reuseport, empty) {
            (false, _) => FastReuseport::Off,
            (true, true) => FastReuseport::Any,
            (true, false) if self.matches(user) => *self,
            (true, false) => FastReuseport::Strict {
                addr: user.addr,
                v6only: user.v6only,
            },
        };
    }
}

/// An accepted connection's entry: what a bind conflict looks at (20
/// bytes, not a `PortUser`'s 64: one entry per held connection). A child
/// does not listen, and no TCP lookup reads its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Child {
    addr: IpAddr,
    v6only: bool,
    reuseaddr: bool,
    reuseport: bool,
}

impl Child {
    fn of(u: &PortUser) -> Child {
        Child {
            addr: u.addr,
            v6only: u.v6only,
            reuseaddr: u.reuseaddr,
            reuseport: u.reuseport,
        }
    }

    fn user(&self, handle: SocketHandle) -> PortUser {
        PortUser {
            handle,
            addr: self.addr,
            v6only: self.v6only,
            reuseaddr: self.reuseaddr,
            reuseport: self.reuseport,
            listening: false,
            foreign: None,
            dev: DEV_NONE,
        }
    }
}

impl PortUsers {
    /// Most ports have one binder (every connect's ephemeral port): room
    /// for one, not Vec's first growth of four (64 bytes each).
    fn push_bound(&mut self, user: PortUser) {
        if self.bound.capacity() == 0 {
            self.bound.reserve_exact(1);
        }
        self.bound.push(user);
    }

    fn is_empty(&self) -> bool {
        self.bound.is_empty() && self.children_len() == 0
    }

    fn iter(&self) -> impl Iterator<Item = PortUser> + '_ {
        self.bound.iter().copied().chain(
            self.more
                .iter()
                .flat_map(|m| m.children.iter().map(|(h, c)| c.user(*h))),
        )
    }

    fn fast(&self) -> FastReuseport {
        self.more.as_ref().map_or(FastReuseport::Off, |m| m.fast)
    }

    /// inet_csk_update_fastreuse (`FastReuseport::after_bind`).
    fn fast_after_bind(&mut self, empty: bool, user: &PortUser) {
        let mut f = self.fast();
        f.after_bind(empty, user);
        if f != FastReuseport::Off || self.more.is_some() {
            self.more_mut().fast = f;
        }
    }

    fn more_mut(&mut self) -> &mut PortMore {
        self.more.get_or_insert_with(Default::default)
    }

    fn children_len(&self) -> usize {
        self.more.as_ref().map_or(0, |m| m.children.len())
    }

    fn child_mut(&mut self, handle: SocketHandle) -> Option<&mut Child> {
        self.more.as_mut()?.children.get_mut(&handle)
    }

    fn has_child(&self, handle: SocketHandle) -> bool {
        self.more
            .as_ref()
            .is_some_and(|m| m.children.contains_key(&handle))
    }

    /// Remove a child; the box goes with the last of what it held.
    fn remove_child(&mut self, handle: SocketHandle) -> Option<Child> {
        let m = self.more.as_mut()?;
        let c = m.children.remove(&handle);
        if m.children.is_empty() && m.fast == FastReuseport::Off {
            self.more = None;
        }
        c
    }
}

#[derive(Debug, Default)]
pub struct PcbInfo {
    ports: FastMap<(Proto, u16), PortUsers>,
    pub tcp_conns: crate::netinet::in_pcb_conns::ConnTable,
    /// Multicast group memberships of every socket.
    pub mc: crate::netinet::mc_table::McTable,
}

/// Do two users' bound addresses overlap (Linux's inet_rcv_saddr_equal
/// with wildcards): equal, or one is a wildcard taking the other's
/// family (`::` without IPV6_V6ONLY takes IPv4's).
fn overlaps(a: &PortUser, b: &PortUser) -> bool {
    let covers = |w: &PortUser, x: IpAddr| {
        w.addr.is_unspecified()
            && (w.addr.is_ipv4() == x.is_ipv4() || (w.addr.is_ipv6() && !w.v6only))
    };
    a.addr == b.addr || covers(a, b.addr) || covers(b, a.addr)
}

/// A well-mixed hash of a flow's addresses (splitmix64's finaliser), to
/// spread flows over a SO_REUSEPORT group.
fn flow_hash(local: SocketAddr, remote: SocketAddr) -> u32 {
    let fold = |a: IpAddr| match a {
        IpAddr::V4(v) => u64::from(u32::from(v)),
        IpAddr::V6(v) => {
            let b = u128::from(v);
            (b as u64) ^ ((b >> 64) as u64).rotate_left(17)
        }
    };
    let mut x = (fold(remote.ip()) << 32 ^ fold(local.ip()))
        ^ (u64::from(remote.port()) << 16 | u64::from(local.port())).rotate_left(40);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 32) as u32
}

/// Linux's reciprocal_scale: `hash` mapped onto 0..n.
fn reciprocal_scale(hash: u32, n: usize) -> usize {
    ((u64::from(hash) * n as u64) >> 32) as usize
}

impl PcbInfo {
    /// Would `user` conflict with the current users of `port` (Linux's
    /// inet_bind_conflict / udp_lib_lport_inuse, same-uid case)? For TCP
    /// only the *other* socket's listening matters: `user` may listen while
    /// sharing (both SO_REUSEADDR) with bound or TIME_WAIT sockets, as a
    /// server restarting on its port does.
    pub fn conflicts(&self, proto: Proto, port: u16, user: &PortUser) -> bool {
        let Some(users) = self.ports.get(&(proto, port)) else {
            return false;
        };
        // The flags are read now, as Linux reads sk_reuse and sk_reuseport
        // when it checks (set after bind: `reuse_changed`). Sockets bound
        // to two different devices never conflict.
        let mut rivals = users.iter().filter(|u| {
            u.handle != user.handle
                && overlaps(u, user)
                && (u.dev == DEV_NONE || user.dev == DEV_NONE || u.dev == user.dev)
        });
        match proto {
            Proto::Tcp => {
                !users.fast().matches(user)
                    && rivals.any(|u| {
                        // Share only if both set SO_REUSEPORT, or both
                        // set SO_REUSEADDR and the other does not listen
                        // (inet_bind_conflict).
                        let shared = u.reuseaddr && user.reuseaddr && !u.listening;
                        !(u.reuseport && user.reuseport || shared)
                    })
            }
            // udp_lib_lport_inuse: the newest user that both do not share
            // by SO_REUSEADDR decides alone (SO_REUSEPORT on both: free).
            Proto::Udp => users
                .bound
                .iter()
                .rev()
                .find(|u| {
                    u.handle != user.handle
                        && overlaps(u, user)
                        && (u.dev == DEV_NONE || user.dev == DEV_NONE || u.dev == user.dev)
                        && !(u.reuseaddr && user.reuseaddr)
                })
                .is_some_and(|u| !(u.reuseport && user.reuseport)),
        }
    }

    /// Record `user` on `port` (0 picks an ephemeral port from `range`
    /// starting at `start`: a free one, else, for UDP once none is free, one
    /// whose users it may share, as Linux's SO_REUSEADDR UDP sockets do;
    /// TCP never shares here, as inet_csk_find_open_port). Returns
    /// the port.
    pub fn bind(
        &mut self,
        proto: Proto,
        port: u16,
        user: PortUser,
        range: (u16, u16),
        start: u32,
    ) -> Result<u16, Errno> {
        let port = if port == 0 {
            let (lo, hi) = range;
            let span = (hi - lo) as u32 + 1;
            let candidates = || (0..span).map(|i| lo + ((start.wrapping_add(i)) % span) as u16);
            candidates()
                .find(|p| self.ports.get(&(proto, *p)).is_none_or(PortUsers::is_empty))
                .or_else(|| {
                    // Only UDP shares; TCP's bind(0) keeps to free ports.
                    (proto == Proto::Udp)
                        .then(|| candidates().find(|p| !self.conflicts(proto, *p, &user)))
                        .flatten()
                })
                .ok_or(Errno::EADDRINUSE)?
        } else {
            if self.conflicts(proto, port, &user) {
                return Err(Errno::EADDRINUSE);
            }
            port
        };
        let v = self.ports.entry((proto, port)).or_default();
        let empty = v.is_empty();
        v.fast_after_bind(empty, &user);
        v.push_bound(user);
        Ok(port)
    }

    /// A bound TCP socket starts listening as `me` (its flags now):
    /// EADDRINUSE if that conflicts, as Linux's inet_csk_listen_start
    /// asks get_port again.
    pub fn listen(&mut self, port: u16, me: PortUser) -> Result<(), Errno> {
        if self.conflicts(Proto::Tcp, port, &me) {
            return Err(Errno::EADDRINUSE);
        }
        self.update(Proto::Tcp, port, me.handle, |u| *u = me);
        if let Some(v) = self.ports.get_mut(&(Proto::Tcp, port)) {
            v.fast_after_bind(false, &me);
        }
        Ok(())
    }

    /// Record `user` on `port` without a conflict check (a connection
    /// accepted on a listener shares the listener's port).
    pub fn add_user(&mut self, proto: Proto, port: u16, user: PortUser) {
        let v = self.ports.entry((proto, port)).or_default();
        if user.listening {
            v.push_bound(user);
        } else {
            v.more_mut().children.insert(user.handle, Child::of(&user));
        }
    }

    /// Update the flags of `handle` on `port`.
    pub fn update(
        &mut self,
        proto: Proto,
        port: u16,
        handle: SocketHandle,
        f: impl FnOnce(&mut PortUser),
    ) {
        let Some(v) = self.ports.get_mut(&(proto, port)) else {
            return;
        };
        if let Some(c) = v.child_mut(handle) {
            let mut u = c.user(handle);
            f(&mut u);
            // A connection that listens now (after AF_UNSPEC dissolved
            // it) is looked up as a listener.
            if u.listening {
                v.remove_child(handle);
                v.push_bound(u);
            } else {
                *c = Child::of(&u);
            }
        } else if let Some(u) = v.bound.iter_mut().find(|u| u.handle == handle) {
            f(u);
        }
    }

    pub fn unbind(&mut self, proto: Proto, port: u16, handle: SocketHandle) {
        if let Some(v) = self.ports.get_mut(&(proto, port)) {
            if v.remove_child(handle).is_none() {
                v.bound.retain(|u| u.handle != handle);
            }
            if v.is_empty() {
                self.ports.remove(&(proto, port));
            }
        }
    }

    /// The sockets that bound `port` themselves (accepted connections
    /// are not among them), in bind order.
    pub fn users(&self, proto: Proto, port: u16) -> &[PortUser] {
        self.ports
            .get(&(proto, port))
            .map(|v| v.bound.as_slice())
            .unwrap_or(&[])
    }

    /// Is `handle` recorded on `port` (bound there or accepted there)?
    pub fn has_user(&self, proto: Proto, port: u16, handle: SocketHandle) -> bool {
        self.ports
            .get(&(proto, port))
            .is_some_and(|v| v.has_child(handle) || v.bound.iter().any(|u| u.handle == handle))
    }

    /// The TCP connection of the 4-tuple `local`-`remote`, if any.
    pub fn tcp_conn(&self, local: SocketAddr, remote: SocketAddr) -> Option<SocketHandle> {
        self.tcp_conns.get(&(local, remote)).copied()
    }

    /// The best TCP listener for a SYN to `local` from `remote`: exact
    /// address before the wildcard of the packet's family, before a
    /// dual-stack `::`. A SO_REUSEPORT listener stands for its group (the
    /// listening SO_REUSEPORT sockets on the same address), of which the
    /// flow's hash picks one (Linux's reuseport_select_sock): every
    /// segment of one handshake finds the same listener.
    pub fn tcp_listener(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        arrival: Arrival,
    ) -> Option<SocketHandle> {
        let users = self.users(Proto::Tcp, local.port());
        let ip = local.ip();
        let best = users
            .iter()
            .filter(|u| u.listening && addr_takes(u.addr, u.v6only, ip))
            .filter(|u| dev_takes(u.dev, arrival.0, arrival.1))
            .min_by_key(|u| match u.addr {
                a if a == ip => 0,
                a if a.is_ipv4() == ip.is_ipv4() => 1,
                _ => 2,
            })?;
        if !best.reuseport {
            return Some(best.handle);
        }
        let group: Vec<&PortUser> = users
            .iter()
            .filter(|u| {
                u.listening && u.reuseport && u.addr == best.addr && u.v6only == best.v6only
            })
            .filter(|u| dev_takes(u.dev, arrival.0, arrival.1))
            .collect();
        let i = reciprocal_scale(flow_hash(local, remote), group.len());
        Some(group[i].handle)
    }

    /// The best UDP socket for a datagram: connected exact match, then bound
    /// address, then wildcard (the last bound of equals, as Linux's
    /// SO_REUSEADDR sharers); an unconnected SO_REUSEPORT socket stands for
    /// its group (same address, SO_REUSEPORT, unconnected), of which the
    /// flow's hash picks one (Linux's reuseport_select_sock).
    pub fn udp_lookup(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        arrival: Arrival,
    ) -> Option<SocketHandle> {
        let users = self.users(Proto::Udp, local.port());
        let addr_ok = |u: &PortUser| {
            addr_takes(u.addr, u.v6only, local.ip()) && dev_takes(u.dev, arrival.0, arrival.1)
        };
        let best = users
            .iter()
            .filter(|u| addr_ok(u))
            .max_by_key(|u| {
                let conn = match u.foreign {
                    Some(f) if f == remote => 2,
                    Some(_) => -10,
                    None => 0,
                };
                conn + i32::from(u.addr == local.ip())
            })
            .filter(|u| u.foreign.is_none_or(|f| f == remote))?;
        if !best.reuseport || best.foreign.is_some() {
            return Some(best.handle);
        }
        let group: Vec<&PortUser> = users
            .iter()
            .filter(|u| u.reuseport && u.foreign.is_none() && u.addr == best.addr)
            .filter(|u| addr_ok(u))
            .collect();
        let i = reciprocal_scale(flow_hash(local, remote), group.len());
        Some(group[i].handle)
    }

    pub fn port_count(&self) -> usize {
        self.ports
            .values()
            .map(|v| v.bound.len() + v.children_len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(i: u32, reuseaddr: bool) -> PortUser {
        PortUser {
            handle: SocketHandle {
                index: i,
                generation: 0,
            },
            addr: Ipv4Addr::UNSPECIFIED.into(),
            v6only: false,
            reuseaddr,
            reuseport: false,
            listening: false,
            foreign: None,
            dev: DEV_NONE,
        }
    }

    /// Issue 18: a client holds one port entry per connection.
    #[test]
    fn a_port_with_one_binder_takes_a_small_entry_and_no_box() {
        assert!(std::mem::size_of::<PortUsers>() <= 32);
        let mut pi = PcbInfo::default();
        let p = pi
            .bind(Proto::Tcp, 0, user(1, false), (40000, 40009), 3)
            .unwrap();
        assert!(pi.ports[&(Proto::Tcp, p)].more.is_none());
        // A listener's children come and go with their box.
        let mut l = user(2, false);
        l.listening = true;
        pi.bind(Proto::Tcp, 7000, l, (0, 0), 0).unwrap();
        pi.add_user(Proto::Tcp, 7000, user(3, false));
        assert!(pi.has_user(Proto::Tcp, 7000, user(3, false).handle));
        assert_eq!(pi.port_count(), 3);
        pi.unbind(Proto::Tcp, 7000, user(3, false).handle);
        assert!(pi.ports[&(Proto::Tcp, 7000)].more.is_none());
        assert_eq!(pi.port_count(), 2);
    }

    #[test]
    fn bind_conflicts_follow_linux() {
        let mut t = PcbInfo::default();
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(1, false), (32768, 60999), 0),
            Ok(80)
        );
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0),
            Err(Errno::EADDRINUSE)
        );
        t.unbind(Proto::Tcp, 80, user(1, false).handle);
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(1, true), (32768, 60999), 0),
            Ok(80)
        );
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0),
            Ok(80),
            "both SO_REUSEADDR"
        );
        t.update(Proto::Tcp, 80, user(1, true).handle, |u| u.listening = true);
        assert!(
            t.conflicts(Proto::Tcp, 80, &user(3, true)),
            "a listener blocks even with SO_REUSEADDR"
        );
        assert_eq!(
            t.bind(Proto::Udp, 80, user(9, false), (32768, 60999), 0),
            Ok(80),
            "udp is its own space"
        );
    }

    #[test]
    fn listen_may_share_with_reuseaddr_users_that_do_not_listen() {
        let mut t = PcbInfo::default();
        // A TIME_WAIT connection (SO_REUSEADDR inherited) holds port 80.
        t.bind(Proto::Tcp, 80, user(1, true), (32768, 60999), 0)
            .unwrap();
        t.bind(Proto::Tcp, 80, user(2, true), (32768, 60999), 0)
            .unwrap();
        let mut me = user(2, true);
        me.listening = true;
        assert!(
            !t.conflicts(Proto::Tcp, 80, &me),
            "listen over a non-listening SO_REUSEADDR user"
        );
        t.update(Proto::Tcp, 80, me.handle, |u| u.listening = true);
        let mut other = user(1, true);
        other.listening = true;
        assert!(
            t.conflicts(Proto::Tcp, 80, &other),
            "a second listener conflicts with the first"
        );
        assert!(
            t.conflicts(Proto::Tcp, 80, &user(3, false)),
            "without SO_REUSEADDR the port is in use"
        );
    }

    fn at(i: u32, addr: &str, v6only: bool) -> PortUser {
        PortUser {
            addr: addr.parse().unwrap(),
            v6only,
            ..user(i, false)
        }
    }

    #[test]
    fn cross_family_bind_conflicts_follow_linux() {
        let range = (32768, 60999);
        let conflict = |a: PortUser, b: PortUser| {
            let mut t = PcbInfo::default();
            t.bind(Proto::Tcp, 80, a, range, 0).unwrap();
            t.conflicts(Proto::Tcp, 80, &b)
        };
        // `::` without V6ONLY takes IPv4 too; with it, only IPv6.
        assert!(conflict(at(1, "::", false), at(2, "0.0.0.0", false)));
        assert!(conflict(at(1, "0.0.0.0", false), at(2, "::", false)));
        assert!(conflict(at(1, "::", false), at(2, "10.7.0.2", false)));
        assert!(!conflict(at(1, "::", true), at(2, "0.0.0.0", false)));
        assert!(!conflict(at(1, "0.0.0.0", false), at(2, "::", true)));
        assert!(conflict(at(1, "::", true), at(2, "::", false)));
        assert!(conflict(at(1, "::", true), at(2, "fd00:7::2", false)));
        // A specific address of one family never meets the other's.
        assert!(!conflict(
            at(1, "fd00:7::2", false),
            at(2, "0.0.0.0", false)
        ));
        assert!(!conflict(
            at(1, "10.7.0.2", false),
            at(2, "fd00:7::2", false)
        ));
        assert!(!conflict(
            at(1, "10.7.0.2", false),
            at(2, "10.7.0.3", false)
        ));
    }

    #[test]
    fn listeners_by_family_and_wildcard() {
        let range = (32768, 60999);
        let mut t = PcbInfo::default();
        let mut dual = at(1, "::", false);
        dual.listening = true;
        t.bind(Proto::Tcp, 80, dual, range, 0).unwrap();
        let v4: SocketAddr = "10.7.0.2:80".parse().unwrap();
        let v6: SocketAddr = "[fd00:7::2]:80".parse().unwrap();
        let peer: SocketAddr = "10.7.0.1:5000".parse().unwrap();
        let peer6: SocketAddr = "[fd00:7::1]:5000".parse().unwrap();
        assert_eq!(t.tcp_listener(v4, peer, ANY_ARRIVAL), Some(dual.handle));
        assert_eq!(t.tcp_listener(v6, peer6, ANY_ARRIVAL), Some(dual.handle));
        // A more specific IPv4 listener wins for IPv4 (both SO_REUSEPORT).
        let mut exact = at(2, "10.7.0.2", false);
        exact.listening = true;
        t.add_user(Proto::Tcp, 80, exact);
        assert_eq!(t.tcp_listener(v4, peer, ANY_ARRIVAL), Some(exact.handle));
        assert_eq!(t.tcp_listener(v6, peer6, ANY_ARRIVAL), Some(dual.handle));
        // A V6ONLY wildcard does not take IPv4.
        let mut t = PcbInfo::default();
        let mut only = at(3, "::", true);
        only.listening = true;
        t.bind(Proto::Tcp, 80, only, range, 0).unwrap();
        assert_eq!(t.tcp_listener(v4, peer, ANY_ARRIVAL), None);
        assert_eq!(t.tcp_listener(v6, peer6, ANY_ARRIVAL), Some(only.handle));
    }

    #[test]
    fn user_addresses_of_an_inet6_socket_are_v4_mapped() {
        let inp = Inpcb::new_in(Domain::Inet6, 64, false);
        assert_eq!(inp.laddr, "::".parse::<IpAddr>().unwrap());
        assert_eq!(
            inp.user_addr("10.7.0.1".parse().unwrap(), 5),
            "[::ffff:10.7.0.1]:5".parse().unwrap()
        );
        assert_eq!(
            inp.user_addr("0.0.0.0".parse().unwrap(), 5),
            "[::]:5".parse().unwrap()
        );
        let inp4 = Inpcb::new(64);
        assert_eq!(
            inp4.user_addr("10.7.0.1".parse().unwrap(), 5),
            "10.7.0.1:5".parse().unwrap()
        );
        assert!(!Inpcb::new_in(Domain::Inet, 64, true).v6only);
    }

    #[test]
    fn accepted_connections_block_binds_but_not_the_listener_lookup() {
        let mut t = PcbInfo::default();
        let mut l = user(1, true);
        l.addr = Ipv4Addr::new(10, 0, 0, 1).into();
        t.bind(Proto::Tcp, 80, l, (32768, 60999), 0).unwrap();
        t.update(Proto::Tcp, 80, l.handle, |u| u.listening = true);
        for i in 2..1000 {
            let mut c = user(i, true);
            c.addr = l.addr;
            t.add_user(Proto::Tcp, 80, c);
        }
        let local = SocketAddr::new(l.addr, 80);
        let peer = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 9).into(), 5000);
        assert_eq!(t.tcp_listener(local, peer, ANY_ARRIVAL), Some(l.handle));
        assert!(t.has_user(Proto::Tcp, 80, user(500, true).handle));
        assert_eq!(t.users(Proto::Tcp, 80).len(), 1, "children are not binders");
        t.unbind(Proto::Tcp, 80, l.handle);
        assert!(
            t.conflicts(Proto::Tcp, 80, &user(5000, false)),
            "an accepted connection holds the port against a bind without SO_REUSEADDR"
        );
        for i in 2..1000 {
            t.unbind(Proto::Tcp, 80, user(i, true).handle);
        }
        assert_eq!(t.port_count(), 0);
        assert!(!t.conflicts(Proto::Tcp, 80, &user(5000, false)));
    }

    #[test]
    fn reuseport_group_spreads_flows_evenly() {
        let mut t = PcbInfo::default();
        for i in 0..4 {
            let mut u = user(i, false);
            u.reuseport = true;
            t.bind(Proto::Udp, 53, u, (32768, 60999), 0).unwrap();
        }
        let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 53);
        let mut counts = [0u32; 4];
        for port in 32768..(32768 + 4000) {
            let remote = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
            let h = t.udp_lookup(local, remote, ANY_ARRIVAL).unwrap();
            assert_eq!(
                t.udp_lookup(local, remote, ANY_ARRIVAL),
                Some(h),
                "one flow, one socket"
            );
            counts[h.index as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn reuseport_listeners_share_connections() {
        let mut t = PcbInfo::default();
        for i in 0..3 {
            let mut u = user(i, false);
            u.reuseport = true;
            t.bind(Proto::Tcp, 80, u, (32768, 60999), 0).unwrap();
            t.update(Proto::Tcp, 80, u.handle, |u| u.listening = true);
        }
        let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 80);
        let mut counts = [0u32; 3];
        for port in 32768..(32768 + 3000) {
            let remote = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
            let h = t.tcp_listener(local, remote, ANY_ARRIVAL).unwrap();
            assert_eq!(
                t.tcp_listener(local, remote, ANY_ARRIVAL),
                Some(h),
                "one flow, one listener"
            );
            counts[h.index as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn ephemeral_ports_come_from_range() {
        let mut t = PcbInfo::default();
        let a = t
            .bind(Proto::Udp, 0, user(1, false), (40000, 40001), 7)
            .unwrap();
        let b = t
            .bind(Proto::Udp, 0, user(2, false), (40000, 40001), 7)
            .unwrap();
        assert_ne!(a, b);
        assert!((40000..=40001).contains(&a));
        assert_eq!(
            t.bind(Proto::Udp, 0, user(3, false), (40000, 40001), 7),
            Err(Errno::EADDRINUSE)
        );
        // Sharers of a full range share a port.
        let mut t = PcbInfo::default();
        let a = t.bind(Proto::Udp, 0, user(1, true), (40000, 40000), 7);
        assert_eq!(a, Ok(40000));
        assert_eq!(
            t.bind(Proto::Udp, 0, user(2, true), (40000, 40000), 7),
            Ok(40000)
        );
        assert_eq!(
            t.bind(Proto::Udp, 0, user(3, false), (40000, 40000), 7),
            Err(Errno::EADDRINUSE)
        );
        let mut t = PcbInfo::default();
        t.bind(Proto::Tcp, 0, user(1, true), (40000, 40000), 7)
            .unwrap();
        assert_eq!(
            t.bind(Proto::Tcp, 0, user(2, true), (40000, 40000), 7),
            Err(Errno::EADDRINUSE),
            "TCP does not share an ephemeral port"
        );
    }

    #[test]
    fn send_once_round_trips_and_applies_per_family() {
        let once = SendOnce {
            tos: Some(0x20),
            ttl: None,
            tclass: Some(0xb8),
            hops: Some(9),
            gso_size: Some(1400),
        };
        assert_eq!(SendOnce::from_bytes(&once.to_bytes()), Some(once));
        let zero = SendOnce {
            gso_size: Some(0),
            ..SendOnce::default()
        };
        assert_eq!(SendOnce::from_bytes(&zero.to_bytes()), Some(zero));
        assert_eq!(SendOnce::from_bytes(&[1, 2, 3]), None, "too short");
        let mut inp = Inpcb::new(64);
        once.apply(&mut inp, false);
        assert_eq!(
            (inp.tos, inp.ttl, inp.tclass),
            (0x20, 64, 0),
            "IPv4: tos only"
        );
        let mut inp = Inpcb::new(64);
        once.apply(&mut inp, true);
        assert_eq!(
            (inp.tos, inp.tclass, inp.hops6),
            (0, 0xb8, 9),
            "IPv6: tclass, hops"
        );
    }

    #[test]
    fn reuse_flags_are_read_when_checking() {
        let range = (32768, 60999);
        let rp = |i: u32| PortUser {
            reuseport: true,
            ..user(i, false)
        };
        // UDP: the newest user decides (udp_lib_lport_inuse).
        let mut t = PcbInfo::default();
        t.bind(Proto::Udp, 80, user(1, false), range, 0).unwrap();
        t.update(Proto::Udp, 80, user(1, false).handle, |u| {
            u.reuseport = true
        });
        assert_eq!(
            t.bind(Proto::Udp, 80, rp(2), range, 0),
            Ok(80),
            "set after bind"
        );
        t.update(Proto::Udp, 80, user(1, false).handle, |u| {
            u.reuseport = false
        });
        assert_eq!(t.bind(Proto::Udp, 80, rp(3), range, 0), Ok(80), "2 decides");
        t.unbind(Proto::Udp, 80, rp(2).handle);
        t.unbind(Proto::Udp, 80, rp(3).handle);
        assert_eq!(
            t.bind(Proto::Udp, 80, rp(3), range, 0),
            Err(Errno::EADDRINUSE),
            "1 alone decides"
        );
        // TCP: the first binder's SO_REUSEPORT opens the fast path, which a
        // later clear does not close; SO_REUSEADDR is read live.
        let mut t = PcbInfo::default();
        t.bind(Proto::Tcp, 80, rp(1), range, 0).unwrap();
        t.update(Proto::Tcp, 80, rp(1).handle, |u| u.reuseport = false);
        assert_eq!(t.bind(Proto::Tcp, 80, rp(2), range, 0), Ok(80));
        let mut t = PcbInfo::default();
        t.bind(Proto::Tcp, 80, user(1, true), range, 0).unwrap();
        t.update(Proto::Tcp, 80, user(1, true).handle, |u| {
            u.reuseaddr = false
        });
        assert_eq!(
            t.bind(Proto::Tcp, 80, user(2, true), range, 0),
            Err(Errno::EADDRINUSE)
        );
        let mut l = rp(1);
        l.listening = true;
        let mut t = PcbInfo::default();
        t.bind(Proto::Tcp, 80, user(1, false), range, 0).unwrap();
        assert_eq!(t.listen(80, l), Ok(()));
        assert_eq!(
            t.listen(
                80,
                PortUser {
                    listening: true,
                    ..rp(2)
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn the_strict_reuseport_fast_path_matches_on_its_address_like_linux() {
        // Checked on Linux 6.18 (python3, a netns of its own): the first
        // user has SO_REUSEADDR alone, the second SO_REUSEADDR and
        // SO_REUSEPORT (shared by SO_REUSEADDR, it sets the bucket's fast
        // path STRICT on its address), the third SO_REUSEPORT alone: the
        // slow check would refuse it (the first user has no SO_REUSEPORT),
        // so the fast path's address decides (sk_reuseport_match).
        let range = (32768, 60999);
        let third = |first: PortUser, second: PortUser, me: PortUser| {
            let mut t = PcbInfo::default();
            let ra = |u: PortUser| PortUser {
                reuseaddr: true,
                ..u
            };
            let rp = |u: PortUser| PortUser {
                reuseport: true,
                ..u
            };
            t.bind(Proto::Tcp, 80, ra(first), range, 0).unwrap();
            t.bind(Proto::Tcp, 80, rp(ra(second)), range, 0).unwrap();
            t.bind(Proto::Tcp, 80, rp(me), range, 0)
        };
        let inuse = Err(Errno::EADDRINUSE);
        let any4 = || at(1, "0.0.0.0", false);
        // The same address as the fast path's: in.
        assert_eq!(
            third(any4(), at(2, "10.7.0.2", false), at(3, "10.7.0.2", false)),
            Ok(80)
        );
        // Another address: the slow check, which refuses.
        assert_eq!(
            third(any4(), at(2, "10.7.0.2", false), at(3, "10.7.0.3", false)),
            inuse
        );
        // The fast path's wildcard takes a specific address.
        assert_eq!(
            third(
                at(1, "10.7.0.2", false),
                at(2, "0.0.0.0", false),
                at(3, "10.7.0.2", false)
            ),
            Ok(80)
        );
        // `::` without IPV6_V6ONLY takes IPv4; with it, not.
        assert_eq!(
            third(any4(), at(2, "::", false), at(3, "10.7.0.2", false)),
            Ok(80)
        );
        assert_eq!(
            third(any4(), at(2, "::", true), at(3, "10.7.0.2", false)),
            inuse
        );
        // The new user's wildcard does not match the fast path's specific
        // address (only the fast path's own wildcard matches).
        assert_eq!(
            third(any4(), at(2, "10.7.0.2", false), at(3, "0.0.0.0", false)),
            inuse
        );
        assert_eq!(
            third(
                at(1, "::", false),
                at(2, "fd00:7::2", false),
                at(3, "::", false)
            ),
            inuse
        );
        // IPv4's wildcard matches a dual-stack `::`, not a V6ONLY one nor
        // a specific IPv6 address.
        let v6 = || at(1, "fd00:7::2", false);
        assert_eq!(
            third(v6(), at(2, "0.0.0.0", false), at(3, "::", false)),
            Ok(80)
        );
        assert_eq!(
            third(v6(), at(2, "0.0.0.0", false), at(3, "::", true)),
            inuse
        );
        assert_eq!(
            third(v6(), at(2, "0.0.0.0", false), at(3, "fd00:7::2", false)),
            inuse
        );
        // A bind that matches the fast path leaves it as it was (Linux's
        // inet_csk_update_fastreuse resets it only on a mismatch): ANY
        // stays ANY, and a STRICT wildcard is not narrowed to the address
        // of a bind it took.
        let mut t = PcbInfo::default();
        let rp = |u: PortUser| PortUser {
            reuseport: true,
            ..u
        };
        t.bind(Proto::Tcp, 80, rp(at(1, "0.0.0.0", false)), range, 0)
            .unwrap();
        t.bind(Proto::Tcp, 80, rp(at(2, "10.7.0.2", false)), range, 0)
            .unwrap();
        t.update(Proto::Tcp, 80, at(1, "0.0.0.0", false).handle, |u| {
            u.reuseport = false
        });
        assert_eq!(
            t.bind(Proto::Tcp, 80, rp(at(3, "10.7.0.3", false)), range, 0),
            Ok(80),
            "still ANY"
        );
        let mut t = PcbInfo::default();
        let first = PortUser {
            reuseaddr: true,
            ..at(1, "10.7.0.2", false)
        };
        t.bind(Proto::Tcp, 80, first, range, 0).unwrap();
        let wild = PortUser {
            reuseaddr: true,
            ..rp(at(2, "0.0.0.0", false))
        };
        t.bind(Proto::Tcp, 80, wild, range, 0).unwrap();
        t.bind(Proto::Tcp, 80, rp(at(3, "10.7.0.3", false)), range, 0)
            .unwrap();
        assert_eq!(
            t.bind(Proto::Tcp, 80, rp(at(4, "10.7.0.2", false)), range, 0),
            Ok(80),
            "still STRICT on 0.0.0.0"
        );
        // `::` matches IPv6 addresses whether V6ONLY or not.
        assert_eq!(
            third(v6(), at(2, "::", true), at(3, "fd00:7::2", false)),
            Ok(80)
        );
    }
}
