//! Path MTU learnt per destination (ip_pmtu.rs) as Linux uses it: an ICMP
//! fragmentation needed or Packet Too Big about one socket's packet lowers
//! IP_MTU / IPV6_MTU, the size UDP fragments to, the MSS of a new TCP
//! connection, and makes a datagram that may not be fragmented fail with
//! EMSGSIZE; after mtu_expires the device's MTU is back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::Config;
use crate::linux::*;
use crate::testing::trace::{peer, t0, Seg, ME};
use crate::time::Instant;
use crate::wire::{self, icmpv4, icmpv6, Icmpv4Repr, Icmpv6Repr, Ipv6Repr, TcpFlags};
use crate::{Domain, Errno, SockType, SocketHandle, Stack};

const ME6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9);

fn stack() -> Stack {
    let mut c = Config::new(ME, 24);
    c.addr6 = Some(ME6);
    c.sysctl.tcp_timestamps = false;
    Stack::new(c)
}

fn frames(s: &Stack) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn get_int(s: &Stack, h: SocketHandle, level: i32, name: i32) -> Result<i32, Errno> {
    let mut b = [0u8; 4];
    s.getsockopt(h, level, name, &mut b)
        .map(|_| i32::from_ne_bytes(b))
}

fn set_int(s: &Stack, now: Instant, h: SocketHandle, level: i32, name: i32, v: i32) {
    s.setsockopt(now, h, level, name, &v.to_ne_bytes()).unwrap();
}

/// A router's fragmentation needed about our packet `ours`.
fn frag_needed(s: &Stack, now: Instant, ours: &[u8], mtu: u16) {
    let msg = Icmpv4Repr::DstUnreachable {
        code: icmpv4::dst_unreachable::FRAG_NEEDED,
        next_hop_mtu: mtu,
        original: &ours[..28],
    };
    let router = Ipv4Addr::new(10, 0, 0, 254);
    s.handle_frame(now, &crate::testing::trace::icmp4_frame(router, &msg));
}

/// A router's Packet Too Big about our packet `ours`.
fn packet_too_big(s: &Stack, now: Instant, ours: &[u8], mtu: u32) {
    let router: Ipv6Addr = "fd00::fe".parse().unwrap();
    let msg = Icmpv6Repr::PacketTooBig {
        mtu,
        original: &ours[..icmpv6::MAX_QUOTE.min(ours.len())],
    };
    let mut m = vec![0u8; msg.buffer_len()];
    msg.emit(&mut m, router, ME6);
    let ip = Ipv6Repr {
        src_addr: router,
        dst_addr: ME6,
        next_header: wire::IP_PROTO_ICMPV6,
        payload_len: m.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut f = vec![0u8; ip.buffer_len()];
    ip.emit(&mut f);
    f[40..].copy_from_slice(&m);
    s.handle_frame(now, &f);
}

#[test]
fn frag_needed_lowers_the_path_for_udp_and_new_tcp_connections() {
    let s = stack();
    let u = s.socket(SockType::Dgram, 0).unwrap();
    s.connect(t0(), u, Some(peer(7))).unwrap();
    assert_eq!(get_int(&s, u, IPPROTO_IP, IP_MTU), Ok(1500));
    assert_eq!(s.send(t0(), u, &[1; 100], 0, None), Ok(100));
    let f = frames(&s).remove(0);
    assert_eq!(f[6] & 0x40, 0x40, "DF on a datagram that fits (WANT)");
    frag_needed(&s, t0(), &f, 1000);
    assert_eq!(s.stats().pmtu_updates, 1);
    assert_eq!(get_int(&s, u, IPPROTO_IP, IP_MTU), Ok(1000));
    // The connected socket's pending error first (Linux's __udp4_lib_err).
    assert_eq!(s.send(t0(), u, &[2; 10], 0, None), Err(Errno::EMSGSIZE));
    // Fragmented to the path's MTU, not the device's.
    assert_eq!(s.send(t0(), u, &[2; 1400], 0, None), Ok(1400));
    let f = frames(&s);
    assert_eq!(f.len(), 2);
    assert!(
        f.iter().all(|f| f.len() <= 1000),
        "{:?}",
        f.iter().map(Vec::len)
    );
    // IP_PMTUDISC_DO: too big for the path is EMSGSIZE; PROBE holds a
    // datagram to the device's MTU instead.
    set_int(&s, t0(), u, IPPROTO_IP, IP_MTU_DISCOVER, 2);
    assert_eq!(s.send(t0(), u, &[3; 1400], 0, None), Err(Errno::EMSGSIZE));
    assert_eq!(s.send(t0(), u, &[3; 900], 0, None), Ok(900));
    set_int(&s, t0(), u, IPPROTO_IP, IP_MTU_DISCOVER, 3);
    assert_eq!(s.send(t0(), u, &[3; 1400], 0, None), Ok(1400));
    assert_eq!(s.send(t0(), u, &[3; 1480], 0, None), Err(Errno::EMSGSIZE));
    frames(&s);
    // A new TCP connection to the same host takes the path's MSS.
    let c = s.socket(SockType::Stream, 0).unwrap();
    let _ = s.connect(t0(), c, Some(peer(80)));
    let syn = Seg::parse(&frames(&s)[0]).unwrap();
    assert_eq!(syn.options.mss, Some(1460), "we offer the device's");
    let mut sa = Seg::new(
        peer(80),
        syn.src,
        5000,
        syn.seq + 1,
        TcpFlags::SYN | TcpFlags::ACK,
    );
    sa.options.mss = Some(1460);
    s.handle_frame(t0(), &sa.to_frame());
    assert_eq!(get_int(&s, c, IPPROTO_TCP, TCP_MAXSEG), Ok(960));
    // Another host is not concerned.
    let v = s.socket(SockType::Dgram, 0).unwrap();
    let other = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 8).into(), 7);
    s.connect(t0(), v, Some(other)).unwrap();
    assert_eq!(get_int(&s, v, IPPROTO_IP, IP_MTU), Ok(1500));
    // Ten minutes on, the device's MTU is back.
    let later = t0() + Duration::from_secs(601);
    assert_eq!(s.send(later, u, &[4; 10], 0, None), Ok(10));
    assert_eq!(get_int(&s, u, IPPROTO_IP, IP_MTU), Ok(1500));
}

#[test]
fn packet_too_big_lowers_the_ipv6_path() {
    let s = stack();
    let u = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    let to = SocketAddr::new(IpAddr::V6(PEER6), 7);
    assert_eq!(get_int(&s, u, IPPROTO_IPV6, IPV6_MTU), Err(Errno::ENOTCONN));
    s.connect(t0(), u, Some(to)).unwrap();
    assert_eq!(get_int(&s, u, IPPROTO_IPV6, IPV6_MTU), Ok(1500));
    assert_eq!(s.send(t0(), u, &[1; 100], 0, None), Ok(100));
    let f = frames(&s).remove(0);
    packet_too_big(&s, t0(), &f, 1300);
    assert_eq!(get_int(&s, u, IPPROTO_IPV6, IPV6_MTU), Ok(1300));
    assert_eq!(s.send(t0(), u, &[2; 10], 0, None), Err(Errno::EMSGSIZE));
    assert_eq!(s.send(t0(), u, &[2; 1400], 0, None), Ok(1400));
    let f = frames(&s);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.len() <= 1300));
    // IPV6_DONTFRAG, or IPV6_PMTUDISC_DO: EMSGSIZE instead.
    set_int(&s, t0(), u, IPPROTO_IPV6, IPV6_DONTFRAG, 1);
    assert_eq!(s.send(t0(), u, &[3; 1400], 0, None), Err(Errno::EMSGSIZE));
    set_int(&s, t0(), u, IPPROTO_IPV6, IPV6_DONTFRAG, 0);
    set_int(&s, t0(), u, IPPROTO_IPV6, IPV6_MTU_DISCOVER, 2);
    assert_eq!(s.send(t0(), u, &[3; 1400], 0, None), Err(Errno::EMSGSIZE));
    assert_eq!(s.send(t0(), u, &[3; 1200], 0, None), Ok(1200));
    // Below IPv6's minimum a Packet Too Big counts as 1280.
    let v = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    s.connect(t0(), v, Some(to)).unwrap();
    s.send(t0(), v, &[5; 10], 0, None).unwrap();
    let f = frames(&s).remove(0);
    packet_too_big(&s, t0(), &f, 600);
    assert_eq!(get_int(&s, v, IPPROTO_IPV6, IPV6_MTU), Ok(1280));
}
