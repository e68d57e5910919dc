//! Packet-trace helpers: build exact TCP segments for a stack, and read the
//! segments it sends back as owned values that tests compare field by field.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, TcpFlags, TcpOptions, TcpRepr};
use crate::Stack;

/// An owned TCP segment as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn new(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, ack: u32, flags: TcpFlags) -> Seg {
        Seg {
            src,
            dst,
            seq,
            ack,
            flags,
            window: 65535,
            options: TcpOptions::default(),
            payload: Vec::new(),
        }
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
        let ip = Ipv4Repr {
            src_addr: *self.src.ip(),
            dst_addr: *self.dst.ip(),
            protocol: wire::IP_PROTO_TCP,
            payload_len: tcp.buffer_len(),
            ttl: 64,
            tos: 0,
            ident: 0,
            dont_frag: true,
        };
        let mut f = vec![0u8; ip.buffer_len()];
        ip.emit(&mut f[..20]);
        tcp.emit(&mut f[20..], *self.src.ip(), *self.dst.ip());
        f
    }

    pub fn parse(frame: &[u8]) -> Option<Seg> {
        let (ip, payload) = Ipv4Repr::parse(frame).ok()?;
        if ip.protocol != wire::IP_PROTO_TCP {
            return None;
        }
        let t = TcpRepr::parse(payload, ip.src_addr, ip.dst_addr).ok()?;
        Some(Seg {
            src: SocketAddrV4::new(ip.src_addr, t.src_port),
            dst: SocketAddrV4::new(ip.dst_addr, t.dst_port),
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            options: t.options,
            payload: t.payload.to_vec(),
        })
    }
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
