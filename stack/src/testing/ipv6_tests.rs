//! IPv6 and dual stack through the stack's face: TCP and UDP over IPv6
//! between two stacks (a lossy transfer included), IPv4 peers of an
//! AF_INET6 socket seen v4-mapped, IPV6_V6ONLY, cross-family bind
//! conflicts, ICMPv6 (echo, port unreachable, neighbour discovery dropped),
//! extension headers on input, ::1 loopback, fragmented output, and
//! arbitrary IPv6 frames (no panic).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use proptest::prelude::*;

use crate::linux::*;
use crate::testing::pair::{Pair, A_ADDR, A_ADDR6, B_ADDR, B_ADDR6};
use crate::testing::trace::Seg;
use crate::time::Instant;
use crate::wire::{self, icmpv6, ipv6ext, Icmpv6Repr, Ipv6Repr, TcpFlags, UdpRepr};
use crate::{Config, Domain, Errno, SockType, Stack};

fn sa(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

fn mapped(ip: std::net::Ipv4Addr, port: u16) -> SocketAddr {
    sa(ip.to_ipv6_mapped(), port)
}

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| ((i * 13 + (i >> 8)) as u8) ^ salt).collect()
}

fn set_int(s: &Stack, now: Instant, h: crate::SocketHandle, level: i32, name: i32, v: i32) {
    s.setsockopt(now, h, level, name, &v.to_ne_bytes()).unwrap();
}

#[test]
fn tcp_over_ipv6_names_and_transfer() {
    let mut p = Pair::new(3);
    let (l, c, s) = p.connected6(80);
    assert_eq!(p.a.getpeername(c), Ok(sa(B_ADDR6, 80)));
    assert_eq!(p.b.getsockname(s), Ok(sa(B_ADDR6, 80)));
    assert_eq!(p.b.getsockname(l), Ok(sa(Ipv6Addr::UNSPECIFIED, 80)));
    let local = p.a.getsockname(c).unwrap();
    assert_eq!(local.ip(), A_ADDR6);
    assert_eq!(p.b.getpeername(s), Ok(local));
    let data = pattern(300_000, 1);
    assert!(p.transfer(true, c, s, &data) == data);
    let back = pattern(100_000, 2);
    assert!(p.transfer(false, s, c, &back) == back);
    for (st, h) in [(&p.a, c), (&p.b, s), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    p.drive_for(Duration::from_secs(300));
    assert_eq!((p.a.socket_count(), p.b.socket_count()), (0, 0));
}

#[test]
fn one_mib_each_way_over_a_lossy_ipv6_link() {
    for seed in 1..=5 {
        let mut p = Pair::new(seed);
        let (_l, c, s) = p.connected6(443);
        p.params = super::loss_tests::lossy();
        let up = pattern(1 << 20, seed as u8);
        assert!(p.transfer(true, c, s, &up) == up, "seed {seed}: A->B");
        let down = pattern(1 << 20, !(seed as u8));
        assert!(p.transfer(false, s, c, &down) == down, "seed {seed}: B->A");
    }
}

#[test]
fn ipv4_peer_of_a_dual_stack_listener_is_v4_mapped() {
    let mut p = Pair::new(4);
    let l = p.b.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    p.b.bind(l, sa(Ipv6Addr::UNSPECIFIED, 8080)).unwrap();
    p.b.listen(l, 4).unwrap();
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ = p.a.connect(p.now, c, Some(sa(B_ADDR, 8080)));
    p.drive();
    assert_eq!(p.a.connect_status(c), Ok(true));
    let (s, peer) = p.b.accept(l).unwrap();
    let cport = p.a.getsockname(c).unwrap().port();
    assert_eq!(peer, mapped(A_ADDR, cport));
    assert_eq!(p.b.getpeername(s), Ok(mapped(A_ADDR, cport)));
    assert_eq!(p.b.getsockname(s), Ok(mapped(B_ADDR, 8080)));
    assert_eq!(p.a.getpeername(c), Ok(sa(B_ADDR, 8080)));
    let data = pattern(50_000, 7);
    assert!(p.transfer(false, s, c, &data) == data);
}

#[test]
fn v6only_listener_refuses_ipv4_and_takes_ipv6() {
    let mut p = Pair::new(5);
    let l = p.b.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    set_int(&p.b, p.now, l, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    p.b.bind(l, sa(Ipv6Addr::UNSPECIFIED, 8080)).unwrap();
    p.b.listen(l, 4).unwrap();
    let c4 = p.a.socket(SockType::Stream, 0).unwrap();
    let _ = p.a.connect(p.now, c4, Some(sa(B_ADDR, 8080)));
    p.drive();
    assert_eq!(p.a.connect_status(c4), Err(Errno::ECONNREFUSED));
    let c6 = p.a.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    let _ = p.a.connect(p.now, c6, Some(sa(B_ADDR6, 8080)));
    p.drive();
    assert_eq!(p.a.connect_status(c6), Ok(true));
    // A v4-mapped destination of a V6ONLY socket is unreachable, and a
    // v4-mapped bind is refused.
    let o = p.a.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    set_int(&p.a, p.now, o, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    assert_eq!(
        p.a.connect(p.now, o, Some(mapped(B_ADDR, 8080))),
        Err(Errno::ENETUNREACH)
    );
    assert_eq!(p.a.bind(o, mapped(A_ADDR, 0)), Err(Errno::EINVAL));
}

#[test]
fn v4_mapped_connect_from_an_inet6_socket_speaks_ipv4() {
    let mut p = Pair::new(6);
    let l = p.listener_b(81, 4);
    let c = p.a.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    let _ = p.a.connect(p.now, c, Some(mapped(B_ADDR, 81)));
    p.drive();
    assert_eq!(p.a.connect_status(c), Ok(true));
    let (_s, peer) = p.b.accept(l).unwrap();
    assert_eq!(peer.ip(), A_ADDR, "the listener is AF_INET: plain IPv4");
    assert_eq!(p.a.getpeername(c), Ok(mapped(B_ADDR, 81)));
    assert_eq!(p.a.getsockname(c).unwrap().ip(), A_ADDR.to_ipv6_mapped());
}

#[test]
fn cross_family_bind_conflicts_like_linux() {
    let s = Stack::new(Config::new(A_ADDR, 24));
    let v4 = s.socket(SockType::Stream, 0).unwrap();
    s.bind(v4, sa(std::net::Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    let dual = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    assert_eq!(
        s.bind(dual, sa(Ipv6Addr::UNSPECIFIED, 80)),
        Err(Errno::EADDRINUSE)
    );
    let only = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    set_int(&s, Instant::ZERO, only, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    s.bind(only, sa(Ipv6Addr::UNSPECIFIED, 80)).unwrap();
    assert_eq!(
        s.setsockopt(
            Instant::ZERO,
            only,
            IPPROTO_IPV6,
            IPV6_V6ONLY,
            &0i32.to_ne_bytes()
        ),
        Err(Errno::EINVAL),
        "not after bind"
    );
    // Family mismatches of the address itself.
    let x = s.socket(SockType::Dgram, 0).unwrap();
    assert_eq!(
        s.bind(x, sa(Ipv6Addr::LOCALHOST, 1)),
        Err(Errno::EAFNOSUPPORT)
    );
    let y = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    assert_eq!(s.bind(y, sa(A_ADDR, 1)), Err(Errno::EAFNOSUPPORT));
    assert_eq!(
        s.bind(y, sa("fd00::99".parse::<Ipv6Addr>().unwrap(), 1)),
        Err(Errno::EADDRNOTAVAIL)
    );
    // Unbound: `::`, port 0; SO_DOMAIN says AF_INET6.
    assert_eq!(s.getsockname(y), Ok(sa(Ipv6Addr::UNSPECIFIED, 0)));
    let mut b = [0u8; 4];
    s.getsockopt(y, SOL_SOCKET, SO_DOMAIN, &mut b).unwrap();
    assert_eq!(i32::from_ne_bytes(b), AF_INET6);
}

#[test]
fn udp_over_ipv6_and_v4_mapped_datagrams() {
    let mut p = Pair::new(7);
    let srv = p.b.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    p.b.bind(srv, sa(Ipv6Addr::UNSPECIFIED, 53)).unwrap();
    let c6 = p.a.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    p.a.send(p.now, c6, b"six", 0, Some(sa(B_ADDR6, 53)))
        .unwrap();
    let c4 = p.a.socket(SockType::Dgram, 0).unwrap();
    p.a.send(p.now, c4, b"four", 0, Some(sa(B_ADDR, 53)))
        .unwrap();
    p.drive();
    let mut buf = [0u8; 16];
    let m = p.b.recv(p.now, srv, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"six");
    let from6 = m.from.unwrap();
    assert_eq!(from6.ip(), A_ADDR6);
    let m = p.b.recv(p.now, srv, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"four");
    let from4 = m.from.unwrap();
    assert_eq!(from4.ip(), A_ADDR.to_ipv6_mapped());
    // Replies to both, the IPv4 one through its mapped address.
    p.b.send(p.now, srv, b"r6", 0, Some(from6)).unwrap();
    p.b.send(p.now, srv, b"r4", 0, Some(from4)).unwrap();
    p.drive();
    let m = p.a.recv(p.now, c6, &mut buf, 0).unwrap();
    assert_eq!(
        (&buf[..m.copied], m.from),
        (&b"r6"[..], Some(sa(B_ADDR6, 53)))
    );
    let m = p.a.recv(p.now, c4, &mut buf, 0).unwrap();
    assert_eq!(
        (&buf[..m.copied], m.from),
        (&b"r4"[..], Some(sa(B_ADDR, 53)))
    );
    // A datagram too big for one packet goes out in three fragments and
    // is reassembled, both families, both ways.
    let big = pattern(3000, 3);
    let mut got = vec![0u8; 4000];
    p.a.send(p.now, c6, &big, 0, Some(sa(B_ADDR6, 53))).unwrap();
    p.a.send(p.now, c4, &big, 0, Some(sa(B_ADDR, 53))).unwrap();
    p.drive();
    assert_eq!(p.b.stats().reassembled, 2);
    assert_eq!(
        p.b.stats().frags_queued,
        4,
        "two of three wait per datagram"
    );
    for from in [from6, from4] {
        let m = p.b.recv(p.now, srv, &mut got, 0).unwrap();
        assert_eq!((m.copied, m.from), (3000, Some(from)));
        assert!(got[..3000] == big[..]);
        p.b.send(p.now, srv, &big, 0, Some(from)).unwrap();
    }
    p.drive();
    for c in [c6, c4] {
        let m = p.a.recv(p.now, c, &mut got, 0).unwrap();
        assert_eq!(m.copied, 3000);
        assert!(got[..3000] == big[..]);
    }
    assert_eq!(p.a.stats().reassembled, 2);
}

#[test]
fn icmpv6_port_unreachable_reaches_a_connected_udp_socket() {
    let mut p = Pair::new(8);
    let c = p.a.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    p.a.connect(p.now, c, Some(sa(B_ADDR6, 9999))).unwrap();
    p.a.send(p.now, c, b"x", 0, None).unwrap();
    let icmp_before = p.b.stats().icmp_out;
    p.drive();
    assert_eq!(p.b.stats().icmp_out, icmp_before + 1);
    assert_eq!(p.a.send(p.now, c, b"y", 0, None), Err(Errno::ECONNREFUSED));
    // TCP to a closed port is refused by RST.
    let t = p.a.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    let _ = p.a.connect(p.now, t, Some(sa(B_ADDR6, 1)));
    p.drive();
    assert_eq!(p.a.connect_status(t), Err(Errno::ECONNREFUSED));
}

#[test]
fn ipv6_recverr_queues_icmpv6_and_local_errors() {
    use crate::kern::errqueue::{HEAD_LEN, SO_EE_ORIGIN_ICMP6, SO_EE_ORIGIN_LOCAL};
    let mut p = Pair::new(9);
    let c = p.a.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    set_int(&p.a, p.now, c, IPPROTO_IPV6, IPV6_RECVERR, 1);
    let mut buf = [0u8; 128];
    assert_eq!(
        p.a.recv(p.now, c, &mut buf, MSG_ERRQUEUE).map(|m| m.copied),
        Err(Errno::EAGAIN)
    );
    // An unconnected socket hears of a port unreachable under IPV6_RECVERR.
    p.a.send(p.now, c, b"hello", 0, Some(sa(B_ADDR6, 9999)))
        .unwrap();
    p.drive();
    assert!(p.a.sopoll(c).contains(crate::Readiness::ERR));
    let m = p.a.recv(p.now, c, &mut buf, MSG_ERRQUEUE).unwrap();
    assert_eq!((m.copied, m.full_len), (HEAD_LEN + 5, 5));
    assert_eq!(m.from, Some(sa(B_ADDR6, 9999)), "the original destination");
    assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()), 111);
    assert_eq!(&buf[4..7], &[SO_EE_ORIGIN_ICMP6, 1, 4], "type 1, code 4");
    assert_eq!(u16::from_ne_bytes([buf[16], buf[17]]), AF_INET6 as u16);
    assert_eq!(&buf[24..40], &B_ADDR6.octets(), "the offender");
    assert_eq!(&buf[HEAD_LEN..HEAD_LEN + 5], b"hello", "the quoted payload");
    assert!(
        !p.a.sopoll(c).contains(crate::Readiness::ERR),
        "queue empty, error taken"
    );
    // A datagram too big for IPv6: EMSGSIZE, and a local error queued
    // with the MTU and no offender; no pending error.
    let big = vec![0u8; 70_000];
    assert_eq!(
        p.a.send(p.now, c, &big, 0, Some(sa(B_ADDR6, 9999))),
        Err(Errno::EMSGSIZE)
    );
    let m = p.a.recv(p.now, c, &mut buf, MSG_ERRQUEUE).unwrap();
    assert_eq!((m.copied, m.from), (HEAD_LEN, Some(sa(B_ADDR6, 9999))));
    assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()), 90);
    assert_eq!(buf[4], SO_EE_ORIGIN_LOCAL);
    assert_eq!(&buf[16..44], &[0u8; 28], "no offender");
    let mut err = [0u8; 4];
    p.a.getsockopt(c, SOL_SOCKET, SO_ERROR, &mut err).unwrap();
    assert_eq!(err, [0; 4]);
    // Without IPV6_RECVERR nothing is queued.
    set_int(&p.a, p.now, c, IPPROTO_IPV6, IPV6_RECVERR, 0);
    let _ = p.a.send(p.now, c, &big, 0, Some(sa(B_ADDR6, 9999)));
    p.a.send(p.now, c, b"x", 0, Some(sa(B_ADDR6, 9999)))
        .unwrap();
    p.drive();
    assert_eq!(
        p.a.recv(p.now, c, &mut buf, MSG_ERRQUEUE).map(|m| m.copied),
        Err(Errno::EAGAIN)
    );
}

#[test]
fn ipv6_loopback_inside_one_stack() {
    let s = Stack::new(Config::new(A_ADDR, 24));
    let now = Instant::from_millis(5);
    let l = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    s.bind(l, sa(Ipv6Addr::LOCALHOST, 7000)).unwrap();
    s.listen(l, 2).unwrap();
    let c = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    let _ = s.connect(now, c, Some(sa(Ipv6Addr::LOCALHOST, 7000)));
    assert!(s.poll_transmit().is_none(), "nothing leaves for ::1");
    assert_eq!(s.connect_status(c), Ok(true));
    let (a, peer) = s.accept(l).unwrap();
    assert_eq!(peer.ip(), Ipv6Addr::LOCALHOST);
    s.send(now, c, b"hi", 0, None).unwrap();
    assert!(s.poll_transmit().is_none(), "delivered to itself");
    let mut b = [0u8; 4];
    let m = s.recv(now, a, &mut b, 0).unwrap();
    assert_eq!(&b[..m.copied], b"hi");
}

/// A frame from the peer fd00::9 to us (fd00::1) with `next_header` and
/// `payload` as given.
fn frame6(next_header: u8, payload: &[u8]) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: "fd00::9".parse().unwrap(),
        dst_addr: A_ADDR6,
        next_header,
        payload_len: payload.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut f = vec![0u8; ip.buffer_len()];
    ip.emit(&mut f);
    f[40..].copy_from_slice(payload);
    f
}

fn one_stack() -> Stack {
    let mut c = Config::new(A_ADDR, 24);
    c.addr6 = Some(A_ADDR6);
    Stack::new(c)
}

fn sent_icmpv6(s: &Stack) -> Vec<(u8, u8, u32)> {
    let mut v = Vec::new();
    while let Some(f) = s.poll_transmit() {
        let (ip, payload) = Ipv6Repr::parse(&f).expect("an IPv6 frame");
        assert_eq!(ip.next_header, wire::IP_PROTO_ICMPV6);
        let m = Icmpv6Repr::parse(payload, ip.src_addr, ip.dst_addr).unwrap();
        let word = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
        v.push((payload[0], payload[1], word));
        if let Icmpv6Repr::EchoReply { data, .. } = m {
            assert_eq!(data, b"ping");
        }
    }
    v
}

#[test]
fn icmpv6_echo_and_neighbour_discovery() {
    let s = one_stack();
    let peer: Ipv6Addr = "fd00::9".parse().unwrap();
    let echo = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 1,
        data: b"ping",
    };
    let mut m = vec![0u8; echo.buffer_len()];
    echo.emit(&mut m, peer, A_ADDR6);
    s.handle_frame(Instant::ZERO, &frame6(wire::IP_PROTO_ICMPV6, &m));
    assert_eq!(
        sent_icmpv6(&s),
        vec![(icmpv6::msg_type::ECHO_REPLY, 0, 7 << 16 | 1)]
    );
    // A neighbour solicitation to the solicited-node multicast address and
    // a router solicitation to ff02::2: dropped, counted, unanswered.
    for (dst, ty) in [
        ("ff02::1:ff00:1", icmpv6::msg_type::NEIGHBOR_SOLICIT),
        ("ff02::2", icmpv6::msg_type::ROUTER_SOLICIT),
    ] {
        let dst: Ipv6Addr = dst.parse().unwrap();
        let msg = Icmpv6Repr::Other {
            msg_type: ty,
            code: 0,
        };
        let mut m = vec![0u8; msg.buffer_len()];
        msg.emit(&mut m, peer, dst);
        let mut f = frame6(wire::IP_PROTO_ICMPV6, &m);
        f[24..40].copy_from_slice(&dst.octets());
        s.handle_frame(Instant::ZERO, &f);
    }
    assert_eq!(s.stats().drop_ndisc, 2);
    assert!(s.poll_transmit().is_none());
}

#[test]
fn extension_headers_are_walked_or_answered() {
    let s = one_stack();
    let l = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    s.bind(l, sa(Ipv6Addr::UNSPECIFIED, 80)).unwrap();
    s.listen(l, 4).unwrap();
    // A SYN behind hop-by-hop (router alert) and destination options.
    let peer: Ipv6Addr = "fd00::9".parse().unwrap();
    let syn = Seg::new(sa(peer, 5555), sa(A_ADDR6, 80), 100, 0, TcpFlags::SYN).to_frame();
    let tcp = &syn[40..];
    let mut payload = vec![
        ipv6ext::DEST_OPTS,
        0,
        ipv6ext::opt::ROUTER_ALERT,
        2,
        0,
        0,
        1,
        0,
    ];
    payload.extend_from_slice(&[wire::IP_PROTO_TCP, 0, 1, 4, 0, 0, 0, 0]);
    payload.extend_from_slice(tcp);
    s.handle_frame(Instant::ZERO, &frame6(ipv6ext::HOP_BY_HOP, &payload));
    let f = s.poll_transmit().expect("a SYN-ACK");
    let synack = Seg::parse(&f).unwrap();
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(synack.ack, 101);
    assert!(s.poll_transmit().is_none());
    // An unknown option whose action bits say "discard and tell".
    let mut bad = vec![wire::IP_PROTO_TCP, 0, 0x9e, 4, 0, 0, 0, 0];
    bad.extend_from_slice(tcp);
    s.handle_frame(Instant::ZERO, &frame6(ipv6ext::DEST_OPTS, &bad));
    assert_eq!(
        sent_icmpv6(&s),
        vec![(icmpv6::msg_type::PARAM_PROBLEM, 2, 42)]
    );
    // An unknown upper-layer protocol: Parameter Problem at the fixed
    // header's next header byte.
    s.handle_frame(Instant::ZERO, &frame6(253, b"whatever"));
    assert_eq!(
        sent_icmpv6(&s),
        vec![(icmpv6::msg_type::PARAM_PROBLEM, 1, 6)]
    );
    // A first fragment: queued for reassembly; one of 12 bytes with more
    // to come (not a multiple of 8): dropped.
    let mut frag = vec![wire::IP_PROTO_UDP, 0, 0, 1, 0, 0, 0, 9];
    frag.extend_from_slice(&[0; 16]);
    s.handle_frame(Instant::ZERO, &frame6(ipv6ext::FRAGMENT, &frag));
    assert_eq!(s.stats().frags_queued, 1);
    frag.truncate(20);
    frag[7] = 10;
    s.handle_frame(Instant::ZERO, &frame6(ipv6ext::FRAGMENT, &frag));
    assert_eq!(s.stats().drop_fragment, 1);
    assert!(s.poll_transmit().is_none());
    // Not for us; from a v4-mapped source.
    let mut other = frame6(ipv6ext::NO_NEXT_HEADER, b"");
    other[39] = 0x77;
    s.handle_frame(Instant::ZERO, &other);
    assert_eq!(s.stats().drop_not_for_us, 1);
    let mut spoof = frame6(ipv6ext::NO_NEXT_HEADER, b"");
    spoof[8..24].copy_from_slice(&A_ADDR.to_ipv6_mapped().octets());
    s.handle_frame(Instant::ZERO, &spoof);
    assert!(s.poll_transmit().is_none());
}

#[test]
fn packet_too_big_lowers_the_mss_and_resends_at_once() {
    let s = one_stack();
    let t = Instant::from_millis(100);
    let l = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
    s.bind(l, sa(Ipv6Addr::UNSPECIFIED, 80)).unwrap();
    s.listen(l, 4).unwrap();
    let peer = sa("fd00::9".parse::<Ipv6Addr>().unwrap(), 5555);
    let me = sa(A_ADDR6, 80);
    let syn = Seg::new(peer, me, 100, 0, TcpFlags::SYN).with_options(wire::TcpOptions {
        mss: Some(1440),
        ..wire::TcpOptions::default()
    });
    s.handle_frame(t, &syn.to_frame());
    let synack = Seg::parse(&s.poll_transmit().unwrap()).unwrap();
    assert_eq!(synack.options.mss, Some(1440), "1500 - 60 over IPv6");
    s.handle_frame(
        t,
        &Seg::new(peer, me, 101, synack.seq + 1, TcpFlags::ACK).to_frame(),
    );
    let (c, _) = s.accept(l).unwrap();
    s.setsockopt(t, c, IPPROTO_TCP, TCP_NODELAY, &1i32.to_ne_bytes())
        .unwrap();
    s.send(t, c, &pattern(4000, 5), 0, None).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = s.poll_transmit() {
        frames.push(f);
    }
    let first = Seg::parse(&frames[0]).unwrap();
    assert_eq!(first.payload.len(), 1440);
    // A router on the way: the path takes 1280 bytes.
    let router: Ipv6Addr = "fd00::fe".parse().unwrap();
    let ptb = Icmpv6Repr::PacketTooBig {
        mtu: 1280,
        original: &frames[0][..icmpv6::MAX_QUOTE.min(frames[0].len())],
    };
    let mut m = vec![0u8; ptb.buffer_len()];
    ptb.emit(&mut m, router, A_ADDR6);
    let mut f = frame6(wire::IP_PROTO_ICMPV6, &m);
    f[8..24].copy_from_slice(&router.octets());
    s.handle_frame(t, &f);
    let again: Vec<Seg> = std::iter::from_fn(|| s.poll_transmit())
        .filter_map(|f| Seg::parse(&f))
        .collect();
    assert!(
        !again.is_empty(),
        "what was in flight is sent again at once"
    );
    assert_eq!(again[0].seq, first.seq);
    assert!(again.iter().all(|g| g.payload.len() <= 1220), "1280 - 60");
    let mut b = [0u8; 4];
    s.getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mut b).unwrap();
    assert_eq!(i32::from_ne_bytes(b), 1220);
    assert_eq!(s.stats().tcp_pmtu_updates, 1);
    // A bigger MTU later changes nothing; one below 1280 counts as 1280.
    let ptb = Icmpv6Repr::PacketTooBig {
        mtu: 1000,
        original: &frames[0][..icmpv6::MAX_QUOTE.min(frames[0].len())],
    };
    ptb.emit(&mut m, router, A_ADDR6);
    let mut f = frame6(wire::IP_PROTO_ICMPV6, &m);
    f[8..24].copy_from_slice(&router.octets());
    s.handle_frame(t, &f);
    assert_eq!(s.stats().tcp_pmtu_updates, 1);
}

#[test]
fn udp_without_a_checksum_is_dropped_over_ipv6() {
    let s = one_stack();
    let u = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    s.bind(u, sa(Ipv6Addr::UNSPECIFIED, 53)).unwrap();
    let peer: Ipv6Addr = "fd00::9".parse().unwrap();
    let d = UdpRepr {
        src_port: 1,
        dst_port: 53,
        payload: b"q",
    };
    let mut b = vec![0u8; d.buffer_len()];
    d.emit(&mut b, peer, A_ADDR6);
    s.handle_frame(Instant::ZERO, &frame6(wire::IP_PROTO_UDP, &b));
    let mut buf = [0u8; 4];
    assert_eq!(s.recv(Instant::ZERO, u, &mut buf, 0).unwrap().copied, 1);
    b[6] = 0;
    b[7] = 0;
    s.handle_frame(Instant::ZERO, &frame6(wire::IP_PROTO_UDP, &b));
    assert_eq!(s.recv(Instant::ZERO, u, &mut buf, 0), Err(Errno::EAGAIN));
}

#[test]
fn hop_limit_and_traffic_class_on_the_wire() {
    let s = one_stack();
    let u = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    let to = sa("fd00::9".parse::<Ipv6Addr>().unwrap(), 9);
    s.send(Instant::ZERO, u, b"a", 0, Some(to)).unwrap();
    let (ip, _) = Ipv6Repr::parse(&s.poll_transmit().unwrap())
        .map(|(r, p)| (r, p.len()))
        .unwrap();
    assert_eq!(
        (ip.hop_limit, ip.traffic_class, ip.src_addr),
        (64, 0, A_ADDR6)
    );
    set_int(&s, Instant::ZERO, u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 5);
    set_int(&s, Instant::ZERO, u, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
    s.send(Instant::ZERO, u, b"a", 0, Some(to)).unwrap();
    let (ip, _) = Ipv6Repr::parse(&s.poll_transmit().unwrap())
        .map(|(r, p)| (r, p.len()))
        .unwrap();
    assert_eq!((ip.hop_limit, ip.traffic_class), (5, 0x28));
    // No route to another prefix without a gateway; with one, fine.
    let far = sa("2001:db8::1".parse::<Ipv6Addr>().unwrap(), 9);
    assert_eq!(
        s.send(Instant::ZERO, u, b"a", 0, Some(far)),
        Err(Errno::ENETUNREACH)
    );
}

proptest! {
    #[test]
    fn arbitrary_ipv6_frames_never_panic(
        nh in prop_oneof![Just(0u8), Just(6), Just(17), Just(43), Just(44), Just(58), Just(60), any::<u8>()],
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        to_us in any::<bool>(),
    ) {
        let s = one_stack();
        let l = s.socket_in(Domain::Inet6, SockType::Stream, 0).unwrap();
        s.bind(l, sa(Ipv6Addr::UNSPECIFIED, 80)).unwrap();
        s.listen(l, 4).unwrap();
        let mut f = frame6(nh, &payload);
        if !to_us {
            f[24] = 0xff;
        }
        s.handle_frame(Instant::ZERO, &f);
        // Truncated and padded variants too.
        s.handle_frame(Instant::ZERO, &f[..f.len().min(45)]);
        f.extend_from_slice(&[0; 3]);
        s.handle_frame(Instant::ZERO, &f);
        while s.poll_transmit().is_some() {}
        s.check_invariants();
    }
}
