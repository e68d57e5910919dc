//! IPv4 input (validate, count drops, dispatch by protocol), output (frame
//! building into pooled buffers, fragmentation of large datagrams), address
//! classification, and IP-level socket options.

use std::net::Ipv4Addr;

use crate::errno::Errno;
use crate::host::Stack;
use crate::linux::*;
use crate::netinet::in_pcb::Inpcb;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{self, Ipv4Repr, WireError};

pub(crate) fn ip_input(stack: &Stack, now: Instant, frame: &[u8]) {
    let (ip, payload) = match Ipv4Repr::parse(frame) {
        Ok(v) => v,
        Err(e) => {
            let c = match e {
                WireError::BadChecksum => &stack.stats.drop_checksum,
                WireError::Unsupported => &stack.stats.drop_fragment,
                _ => &stack.stats.drop_malformed,
            };
            Stats::bump(c);
            return;
        }
    };
    if !is_local(stack, ip.dst_addr) && !is_broadcast(stack, ip.dst_addr) {
        Stats::bump(&stack.stats.drop_not_for_us);
        return;
    }
    match ip.protocol {
        wire::IP_PROTO_TCP => crate::netinet::tcp_input::tcp_input(stack, now, &ip, payload),
        wire::IP_PROTO_UDP => crate::netinet::udp::udp_input(stack, now, &ip, payload),
        wire::IP_PROTO_ICMP => crate::netinet::icmp::icmp_input(stack, now, &ip, payload),
        _ => Stats::bump(&stack.stats.drop_unknown_proto),
    }
}

/// One of our addresses: the interface address, or loopback.
pub(crate) fn is_local(stack: &Stack, a: Ipv4Addr) -> bool {
    a == stack.config.addr || a.is_loopback()
}

pub(crate) fn is_broadcast(stack: &Stack, a: Ipv4Addr) -> bool {
    if a.is_broadcast() {
        return true;
    }
    let plen = stack.config.prefix_len.min(32) as u32;
    if plen >= 31 {
        return false;
    }
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    let net = u32::from(stack.config.addr) & mask;
    u32::from(a) == net | !mask
}

/// Can we reach `dst`? (on-link, local, or via the gateway)
pub(crate) fn route_check(stack: &Stack, dst: Ipv4Addr) -> Result<(), Errno> {
    if is_local(stack, dst) || stack.config.gateway.is_some() || dst.is_broadcast() {
        return Ok(());
    }
    let plen = stack.config.prefix_len.min(32) as u32;
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    if u32::from(dst) & mask == u32::from(stack.config.addr) & mask {
        Ok(())
    } else {
        Err(Errno::ENETUNREACH)
    }
}

/// Source address for packets to `dst` from a socket bound to `laddr`.
pub(crate) fn source_for(stack: &Stack, laddr: Ipv4Addr, dst: Ipv4Addr) -> Ipv4Addr {
    if !laddr.is_unspecified() {
        laddr
    } else if dst.is_loopback() {
        dst
    } else {
        stack.config.addr
    }
}

pub(crate) struct IpHeader {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub dont_frag: bool,
}

/// Build one IPv4 packet with a payload of `payload_len` bytes written by
/// `fill`, and queue it for the device.
pub(crate) fn ip_output(
    stack: &Stack,
    h: &IpHeader,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) {
    let mut buf = stack.frame_buf();
    buf.resize(wire::ipv4::HEADER_LEN + payload_len, 0);
    let ident = stack
        .ip_ident
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let repr = Ipv4Repr {
        src_addr: h.src,
        dst_addr: h.dst,
        protocol: h.protocol,
        payload_len,
        ttl: h.ttl,
        tos: h.tos,
        ident,
        dont_frag: h.dont_frag,
    };
    repr.emit(&mut buf[..wire::ipv4::HEADER_LEN]);
    fill(&mut buf[wire::ipv4::HEADER_LEN..]);
    stack.enqueue_frame(buf);
}

/// Send `payload` (a whole transport datagram), fragmenting it to the MTU.
pub(crate) fn ip_output_fragmented(stack: &Stack, h: &IpHeader, payload: &[u8]) {
    let hl = wire::ipv4::HEADER_LEN;
    let mtu = stack.config.mtu.max(68);
    if hl + payload.len() <= mtu {
        ip_output(stack, h, payload.len(), |b| b.copy_from_slice(payload));
        return;
    }
    let chunk = (mtu - hl) & !7;
    let ident = stack
        .ip_ident
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut off = 0;
    while off < payload.len() {
        let n = chunk.min(payload.len() - off);
        let more = off + n < payload.len();
        let mut buf = stack.frame_buf();
        buf.resize(hl + n, 0);
        let repr = Ipv4Repr {
            src_addr: h.src,
            dst_addr: h.dst,
            protocol: h.protocol,
            payload_len: n,
            ttl: h.ttl,
            tos: h.tos,
            ident,
            dont_frag: false,
        };
        repr.emit(&mut buf[..hl]);
        {
            let mut p = wire::Ipv4Packet::new_unchecked(&mut buf[..]);
            p.set_more_frags(more);
            p.set_frag_offset(off);
            p.fill_checksum();
        }
        buf[hl..].copy_from_slice(&payload[off..off + n]);
        stack.enqueue_frame(buf);
        off += n;
    }
}

/// IPPROTO_IP options shared by TCP and UDP.
pub(crate) fn ip_ctloutput_set(
    inp: &mut Inpcb,
    default_ttl: u8,
    name: i32,
    v: i32,
) -> Result<(), Errno> {
    match name {
        IP_TTL => {
            inp.ttl = match v {
                -1 => default_ttl,
                1..=255 => v as u8,
                _ => return Err(Errno::EINVAL),
            }
        }
        IP_TOS => inp.tos = (v & 0xff) as u8,
        IP_RECVERR | IP_MTU_DISCOVER => {}
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

pub(crate) fn ip_ctloutput_get(inp: &Inpcb, mtu: usize, name: i32) -> Result<i32, Errno> {
    match name {
        IP_TTL => Ok(inp.ttl as i32),
        IP_TOS => Ok(inp.tos as i32),
        IP_RECVERR => Ok(0),
        IP_MTU_DISCOVER => Ok(1),
        IP_MTU => {
            if inp.is_connected() {
                Ok(mtu as i32)
            } else {
                Err(Errno::ENOTCONN)
            }
        }
        _ => Err(Errno::ENOPROTOOPT),
    }
}
