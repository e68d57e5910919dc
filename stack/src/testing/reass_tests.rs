//! Fragment reassembly through the stack's face (IPv4 and IPv6 frames
//! built by hand): out of order, duplicates, an overlap that kills the
//! datagram, the timeout, and the UDP datagram that comes out whole.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::time::Instant;
use crate::wire::{self, ipv6ext, Ipv4Packet, Ipv4Repr, Ipv6Repr, UdpRepr};
use crate::{Config, Domain, Errno, SockType, Stack};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const ME6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9);

fn stack() -> (Stack, crate::SocketHandle, crate::SocketHandle) {
    let mut c = Config::new(ME, 24);
    c.addr6 = Some(ME6);
    let s = Stack::new(c);
    let u4 = s.socket(SockType::Dgram, 0).unwrap();
    s.bind(u4, SocketAddr::new(ME.into(), 53)).unwrap();
    let u6 = s.socket_in(Domain::Inet6, SockType::Dgram, 0).unwrap();
    let only = 1i32.to_ne_bytes();
    s.setsockopt(Instant::ZERO, u6, 41, 26, &only).unwrap();
    s.bind(u6, SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 53))
        .unwrap();
    (s, u4, u6)
}

/// A UDP datagram (header and `n` pattern bytes) from the peer to port 53.
fn datagram(n: usize, v6: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
    let d = UdpRepr {
        src_port: 1000,
        dst_port: 53,
        payload: &payload,
    };
    let mut b = vec![0u8; d.buffer_len()];
    if v6 {
        d.emit(&mut b, PEER6, ME6);
    } else {
        d.emit(&mut b, PEER, ME);
    }
    b
}

/// IPv4 fragment of `dgram` at `off..off+len`.
fn frag4(dgram: &[u8], off: usize, len: usize, ident: u16) -> Vec<u8> {
    let end = (off + len).min(dgram.len());
    let ip = Ipv4Repr {
        src_addr: PEER,
        dst_addr: ME,
        protocol: wire::IP_PROTO_UDP,
        payload_len: end - off,
        ttl: 64,
        tos: 0,
        ident,
        dont_frag: false,
    };
    let mut f = vec![0u8; ip.buffer_len()];
    ip.emit(&mut f);
    f[20..].copy_from_slice(&dgram[off..end]);
    let mut p = Ipv4Packet::new_unchecked(&mut f[..]);
    p.set_more_frags(end < dgram.len());
    p.set_frag_offset(off);
    p.fill_checksum();
    f
}

/// IPv6 fragment of `dgram` at `off..off+len`.
fn frag6(dgram: &[u8], off: usize, len: usize, ident: u32) -> Vec<u8> {
    let end = (off + len).min(dgram.len());
    let ip = Ipv6Repr {
        src_addr: PEER6,
        dst_addr: ME6,
        next_header: ipv6ext::FRAGMENT,
        payload_len: 8 + end - off,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut f = vec![0u8; ip.buffer_len()];
    ip.emit(&mut f);
    let om = (off as u16) | u16::from(end < dgram.len());
    f[40] = wire::IP_PROTO_UDP;
    f[42..44].copy_from_slice(&om.to_be_bytes());
    f[44..48].copy_from_slice(&ident.to_be_bytes());
    f[48..].copy_from_slice(&dgram[off..end]);
    f
}

fn recv_len(s: &Stack, h: crate::SocketHandle) -> Result<usize, Errno> {
    let mut b = vec![0u8; 70000];
    s.recv(Instant::ZERO, h, &mut b, 0).map(|m| m.copied)
}

#[test]
fn out_of_order_with_a_duplicate_is_reassembled() {
    let (s, u4, u6) = stack();
    for v6 in [false, true] {
        let d = datagram(3000, v6);
        let f = |off| {
            if v6 {
                frag6(&d, off, 1232, 7)
            } else {
                frag4(&d, off, 1480, 7)
            }
        };
        let offs: Vec<usize> = if v6 {
            vec![2464, 0, 1232]
        } else {
            vec![2960, 0, 1480]
        };
        let t = Instant::from_millis(10);
        s.handle_frame(t, &f(offs[0]));
        s.handle_frame(t, &f(offs[0]));
        s.handle_frame(t, &f(offs[1]));
        assert_eq!(recv_len(&s, if v6 { u6 } else { u4 }), Err(Errno::EAGAIN));
        s.handle_frame(t, &f(offs[2]));
        assert_eq!(recv_len(&s, if v6 { u6 } else { u4 }), Ok(3000));
        s.check_invariants();
    }
    let st = s.stats();
    assert_eq!(
        (st.reassembled, st.drop_fragment),
        (2, 2),
        "duplicates dropped"
    );
}

#[test]
fn an_overlap_kills_the_datagram() {
    let (s, u4, u6) = stack();
    let d = datagram(3000, false);
    s.handle_frame(Instant::ZERO, &frag4(&d, 0, 1480, 9));
    s.handle_frame(Instant::ZERO, &frag4(&d, 1472, 1480, 9));
    s.handle_frame(Instant::ZERO, &frag4(&d, 1480, 1480, 9));
    s.handle_frame(Instant::ZERO, &frag4(&d, 2960, 1480, 9));
    assert_eq!(recv_len(&s, u4), Err(Errno::EAGAIN));
    let d6 = datagram(3000, true);
    s.handle_frame(Instant::ZERO, &frag6(&d6, 0, 1232, 9));
    s.handle_frame(Instant::ZERO, &frag6(&d6, 1224, 1232, 9));
    for off in [1232, 2464] {
        s.handle_frame(Instant::ZERO, &frag6(&d6, off, 1232, 9));
    }
    assert_eq!(recv_len(&s, u6), Err(Errno::EAGAIN));
    assert_eq!(s.stats().reassembled, 0);
}

#[test]
fn fragments_older_than_ipfrag_time_are_dropped() {
    let (s, u4, u6) = stack();
    let d = datagram(3000, false);
    let d6 = datagram(3000, true);
    let t0 = Instant::from_millis(1);
    s.handle_frame(t0, &frag4(&d, 0, 1480, 3));
    s.handle_frame(t0, &frag6(&d6, 0, 1232, 3));
    // IPv4's 30 s are over, IPv6's 60 s are not.
    let t1 = t0 + Duration::from_secs(30);
    s.handle_frame(t1, &frag4(&d, 1480, 1480, 3));
    s.handle_frame(t1, &frag4(&d, 2960, 1480, 3));
    s.handle_frame(t1, &frag6(&d6, 1232, 1232, 3));
    s.handle_frame(t1, &frag6(&d6, 2464, 1232, 3));
    assert_eq!(recv_len(&s, u4), Err(Errno::EAGAIN));
    assert_eq!(recv_len(&s, u6), Ok(3000));
    assert_eq!(s.stats().drop_reass_timeout, 1);
}

/// Every frame the stack sent since the last call.
fn sent(s: &Stack) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

#[test]
fn a_timed_out_datagram_is_answered_with_time_exceeded_if_its_first_fragment_came() {
    let (s, _, _) = stack();
    let d = datagram(3000, false);
    let d6 = datagram(3000, true);
    let t0 = Instant::from_millis(1);
    // With its first fragment (ident 3), without (ident 4), and IPv6's.
    let first = frag4(&d, 0, 1480, 3);
    s.handle_frame(t0, &first);
    s.handle_frame(t0, &frag4(&d, 1480, 1480, 4));
    let first6 = frag6(&d6, 0, 1232, 5);
    s.handle_frame(t0, &first6);
    assert!(sent(&s).is_empty());
    // The stack's own timer, with no socket timer armed: IPv4's 30 s.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    s.handle_timeout(t0 + Duration::from_secs(30));
    let out = sent(&s);
    assert_eq!(
        out.len(),
        1,
        "one time exceeded, for the datagram whose first fragment came"
    );
    let ip = Ipv4Packet::new_checked(&out[0][..]).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (ME, PEER));
    let msg = wire::Icmpv4Repr::parse(ip.payload()).unwrap();
    let wire::Icmpv4Repr::TimeExceeded { code, original } = msg else {
        panic!("{msg:?}");
    };
    assert_eq!(code, wire::icmpv4::time_exceeded::REASSEMBLY);
    assert_eq!(
        original,
        &first[..548],
        "the first fragment as it came, 548 bytes of it"
    );
    assert_eq!(s.stats().drop_reass_timeout, 2);
    // IPv6's 60 s.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    s.handle_timeout(t0 + Duration::from_secs(60));
    let out = sent(&s);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][6], wire::IP_PROTO_ICMPV6);
    let msg = wire::Icmpv6Repr::parse(&out[0][40..], ME6, PEER6).unwrap();
    let wire::Icmpv6Repr::TimeExceeded { code, original } = msg else {
        panic!("{msg:?}");
    };
    assert_eq!(code, wire::icmpv6::time_exceeded::REASSEMBLY);
    assert_eq!(
        original,
        &first6[..original.len()],
        "the first fragment as it came"
    );
    assert_eq!(original.len(), 1280 - 48);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.stats().drop_reass_timeout, 3);
}
