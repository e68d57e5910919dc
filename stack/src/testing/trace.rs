//! Packet-trace helpers: build exact TCP segments for a stack, and read the
//! segments it sends back as owned values that tests compare field by field.
//! Either family: a segment between IPv6 addresses travels in IPv6.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, Ipv6Repr, TcpFlags, TcpOptions, TcpRepr};
use crate::Stack;

/// An owned TCP segment as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
    /// The IP header's ECN field (RFC 3168: 0 Not-ECT, 2 ECT(0), 3 CE).
    pub ecn: u8,
}

impl Seg {
    pub fn new(
        src: impl Into<SocketAddr>,
        dst: impl Into<SocketAddr>,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
    ) -> Seg {
        Seg {
            src: src.into(),
            dst: dst.into(),
            seq,
            ack,
            flags,
            window: 65535,
            options: TcpOptions::default(),
            payload: Vec::new(),
            ecn: 0,
        }
    }

    /// The segment in an IP packet whose ECN field is `ecn`.
    pub fn with_ecn(mut self, ecn: u8) -> Seg {
        self.ecn = ecn;
        self
    }

    pub fn with_payload(mut self, p: &[u8]) -> Seg {
        self.payload = p.to_vec();
        self
    }

    pub fn with_options(mut self, o: TcpOptions) -> Seg {
        self.options = o;
        self
    }

    /// The segment as a full IPv4 packet.
    pub fn to_frame(&self) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
            payload: &self.payload,
        };
        match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let ip = Ipv6Repr {
                    src_addr: src,
                    dst_addr: dst,
                    next_header: wire::IP_PROTO_TCP,
                    payload_len: tcp.buffer_len(),
                    hop_limit: 64,
                    traffic_class: self.ecn & 3,
                    flow_label: 0,
                };
                let mut f = vec![0u8; ip.buffer_len()];
                ip.emit(&mut f[..40]);
                tcp.emit(&mut f[40..], src, dst);
                f
            }
            (src, dst) => {
                let v4 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
                };
                let ip = Ipv4Repr {
                    src_addr: v4(src),
                    dst_addr: v4(dst),
                    protocol: wire::IP_PROTO_TCP,
                    payload_len: tcp.buffer_len(),
                    ttl: 64,
                    tos: self.ecn & 3,
                    ident: 0,
                    dont_frag: true,
                };
                let mut f = vec![0u8; ip.buffer_len()];
                ip.emit(&mut f[..20]);
                tcp.emit(&mut f[20..], v4(src), v4(dst));
                f
            }
        }
    }

    /// A TCP segment in an IPv4 or IPv6 frame (extension headers walked).
    pub fn parse(frame: &[u8]) -> Option<Seg> {
        let ecn = crate::netinet::tcp_ecn::ip_ecn(frame);
        let (src, dst, payload): (IpAddr, IpAddr, &[u8]) = if frame.first()? >> 4 == 6 {
            let (ip, payload) = Ipv6Repr::parse(frame).ok()?;
            let w = wire::ipv6ext::walk(ip.next_header, payload).ok()?;
            if w.protocol != wire::IP_PROTO_TCP || w.fragment.is_some() {
                return None;
            }
            (ip.src_addr.into(), ip.dst_addr.into(), &payload[w.offset..])
        } else {
            let (ip, payload) = Ipv4Repr::parse(frame).ok()?;
            if ip.protocol != wire::IP_PROTO_TCP {
                return None;
            }
            (ip.src_addr.into(), ip.dst_addr.into(), payload)
        };
        let t = TcpRepr::parse(payload, src, dst).ok()?;
        Some(Seg {
            src: SocketAddr::new(src, t.src_port),
            dst: SocketAddr::new(dst, t.dst_port),
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            options: t.options,
            payload: t.payload.to_vec(),
            ecn,
        })
    }
}

/// An ICMPv4 destination unreachable (`code`, with `mtu` for
/// fragmentation needed) from PEER to ME quoting the first 28 bytes of
/// `original`, an IPv4 packet the stack sent.
pub fn icmp4_unreach(code: u8, mtu: u16, original: &[u8]) -> Vec<u8> {
    use crate::wire::Icmpv4Repr;
    let msg = Icmpv4Repr::DstUnreachable {
        code,
        next_hop_mtu: mtu,
        original: &original[..28.min(original.len())],
    };
    icmp4_frame(PEER, &msg)
}

/// Feed a segment to `stack` at `now`.
pub fn send(stack: &Stack, now: Instant, seg: &Seg) {
    stack.handle_frame(now, &seg.to_frame());
    stack.check_invariants();
}

/// All TCP segments `stack` has queued, in order.
pub fn recv_all(stack: &Stack) -> Vec<Seg> {
    let mut v = Vec::new();
    while let Some(f) = stack.poll_transmit() {
        if let Some(s) = Seg::parse(&f) {
            v.push(s);
        }
    }
    v
}

/// Exactly one segment is queued; return it.
pub fn recv_one(stack: &Stack) -> Seg {
    let v = recv_all(stack);
    assert_eq!(v.len(), 1, "expected exactly one segment, got {v:#?}");
    v.into_iter().next().unwrap()
}

pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

/// The stack's own address in the packet-trace tests.
pub const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// The virtual clock's start in the packet-trace tests.
pub fn t0() -> Instant {
    Instant::from_millis(10_000)
}

/// Our address at `port`.
pub fn me(port: u16) -> SocketAddr {
    SocketAddr::new(ME.into(), port)
}

/// The peer's address at `port`.
pub fn peer(port: u16) -> SocketAddr {
    SocketAddr::new(PEER.into(), port)
}

/// Data from peer:5000 to me:8080 (ACK|PSH): bytes `from..from + n` of a
/// stream whose byte i is `i % 251`, so that a reader can check order.
pub fn peer_data(seq: u32, ack: u32, from: usize, n: usize) -> Seg {
    let bytes: Vec<u8> = (from..from + n).map(|i| (i % 251) as u8).collect();
    Seg::new(
        peer(5000),
        me(8080),
        seq,
        ack,
        TcpFlags::ACK | TcpFlags::PSH,
    )
    .with_payload(&bytes)
}

/// A connection accepted on me:8080 from peer:5000, whose SYN carries
/// `opts` and whose handshake takes 10 ms; nothing else is sent. Returns
/// the socket and our ISN + 1.
pub fn accepted_with(s: &Stack, opts: TcpOptions) -> (crate::SocketHandle, u32) {
    let l = s.socket(crate::SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    let syn = Seg::new(peer(5000), me(8080), 0, 0, TcpFlags::SYN).with_options(opts);
    send(s, t0(), &syn);
    let synack = recv_one(s);
    let t = t0() + std::time::Duration::from_millis(10);
    let ack = Seg::new(peer(5000), me(8080), 1, synack.seq + 1, TcpFlags::ACK);
    send(s, t, &ack);
    assert!(recv_all(s).is_empty());
    (s.accept(l).unwrap().0, synack.seq + 1)
}

/// A connection with data in flight, for loss-recovery traces: accepted
/// with [`accepted_with`] (the peer's SYN carries `opts`) on a stack of
/// `Config::new(ME, 24)`; 10 ms after the handshake (an RTT sample of
/// 10 ms) the application writes `bytes` bytes (each 7) and the stack must
/// send exactly `segs` segments of them. Nothing is acknowledged yet.
/// Returns the stack, the socket, our ISN + 1 (the first byte in flight)
/// and when the segments were sent.
pub fn in_flight(
    opts: TcpOptions,
    bytes: usize,
    segs: usize,
) -> (Stack, crate::SocketHandle, u32, Instant) {
    let s = Stack::new(crate::Config::new(ME, 24));
    let (c, iss) = accepted_with(&s, opts);
    let t = t0() + std::time::Duration::from_millis(20);
    assert_eq!(s.send(t, c, &vec![7; bytes], 0, None), Ok(bytes));
    assert_eq!(recv_all(&s).len(), segs, "segments sent for {bytes} bytes");
    (s, c, iss, t)
}

/// An ICMP message from `src` to us, in its IPv4 packet.
pub fn icmp4_frame(src: Ipv4Addr, msg: &wire::Icmpv4Repr) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: ME,
        protocol: wire::IP_PROTO_ICMP,
        payload_len: msg.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_frag: false,
    };
    let mut f = vec![0u8; ip.buffer_len()];
    ip.emit(&mut f[..20]);
    msg.emit(&mut f[20..]);
    f
}
