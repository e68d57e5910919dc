//! IPv4 output (frame building into pooled buffers, fragmentation of large
//! datagrams), address classification and routing checks, and IP-level
//! socket options. Input is `ip_input`.

use std::net::Ipv4Addr;

use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::in_pcb::Inpcb;
use crate::netinet::inet::InetCx;
use crate::wire::{self, Ipv4Repr};

/// One of our addresses: the interface address, or loopback.
pub(crate) fn is_local(cx: &impl InetCx, a: Ipv4Addr) -> bool {
    a == cx.config().addr || a.is_loopback()
}

pub(crate) fn is_broadcast(cx: &impl InetCx, a: Ipv4Addr) -> bool {
    if a.is_broadcast() {
        return true;
    }
    let plen = cx.config().prefix_len.min(32) as u32;
    if plen >= 31 {
        return false;
    }
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    let net = u32::from(cx.config().addr) & mask;
    u32::from(a) == net | !mask
}

/// Can we reach `dst`? (on-link, local, or via the gateway)
pub(crate) fn route_check(cx: &impl InetCx, dst: Ipv4Addr) -> Result<(), Errno> {
    if is_local(cx, dst) || cx.config().gateway.is_some() || dst.is_broadcast() {
        return Ok(());
    }
    let plen = cx.config().prefix_len.min(32) as u32;
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    if u32::from(dst) & mask == u32::from(cx.config().addr) & mask {
        Ok(())
    } else {
        Err(Errno::ENETUNREACH)
    }
}

/// Source address for packets to `dst` from a socket bound to `laddr`.
pub(crate) fn source_for(cx: &impl InetCx, laddr: Ipv4Addr, dst: Ipv4Addr) -> Ipv4Addr {
    if !laddr.is_unspecified() {
        laddr
    } else if dst.is_loopback() {
        dst
    } else {
        cx.config().addr
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
    cx: &impl InetCx,
    h: &IpHeader,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) {
    let mut buf = cx.frame_buf();
    buf.resize(wire::ipv4::HEADER_LEN + payload_len, 0);
    let ident = cx
        .inet()
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
    cx.transmit(buf);
}

/// Send `payload` (a whole transport datagram), fragmenting it to the MTU.
pub(crate) fn ip_output_fragmented(cx: &impl InetCx, h: &IpHeader, payload: &[u8]) {
    let hl = wire::ipv4::HEADER_LEN;
    let mtu = cx.config().mtu.max(68);
    if hl + payload.len() <= mtu {
        ip_output(cx, h, payload.len(), |b| b.copy_from_slice(payload));
        return;
    }
    let chunk = (mtu - hl) & !7;
    let ident = cx
        .inet()
        .ip_ident
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut off = 0;
    while off < payload.len() {
        let n = chunk.min(payload.len() - off);
        let more = off + n < payload.len();
        let mut buf = cx.frame_buf();
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
        cx.transmit(buf);
        off += n;
    }
}

/// Linux's IP_PMTUDISC_OMIT, the largest IP_MTU_DISCOVER value.
const IP_PMTUDISC_OMIT: i32 = 5;

/// The value of an IPPROTO_IP int option as Linux's do_ip_setsockopt reads
/// it: 4 bytes, or with a shorter optlen one unsigned byte; no bytes at all
/// mean 0, except for options that insist on a value (EINVAL). Options we
/// do not know (or that take a struct) are ENOPROTOOPT whatever the length.
pub(crate) fn ip_setsockopt_val(name: i32, val: &[u8]) -> Result<i32, Errno> {
    match name {
        IP_TOS | IP_TTL | IP_RECVERR | IP_MTU_DISCOVER | IP_PKTINFO | IP_MULTICAST_TTL
        | IP_MULTICAST_LOOP => {}
        _ => return Err(Errno::ENOPROTOOPT),
    }
    match val {
        [a, b, c, d, ..] => Ok(i32::from_ne_bytes([*a, *b, *c, *d])),
        [b, ..] => Ok(*b as i32),
        [] if matches!(name, IP_TTL | IP_MULTICAST_TTL | IP_MULTICAST_LOOP) => Err(Errno::EINVAL),
        [] => Ok(0),
    }
}

/// Write an IPPROTO_IP int option as Linux's do_ip_getsockopt does: a
/// caller's buffer shorter than an int gets a single byte when the value
/// fits one, otherwise the int truncated to the buffer. Returns optlen.
pub(crate) fn ip_getsockopt_put(out: &mut [u8], v: i32) -> usize {
    if !out.is_empty() && out.len() < 4 && (0..=255).contains(&v) {
        out[0] = v as u8;
        return 1;
    }
    let n = out.len().min(4);
    out[..n].copy_from_slice(&v.to_ne_bytes()[..n]);
    n
}

/// IPPROTO_IP options shared by TCP and UDP (Linux's do_ip_setsockopt).
/// `stream`: a TCP socket, whose IP_TOS keeps the ECN bits to TCP and
/// which has no multicast TTL.
pub(crate) fn ip_ctloutput_set(
    inp: &mut Inpcb,
    default_ttl: u8,
    stream: bool,
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
        IP_TOS => {
            // inet->tos is a u8: bits above the low byte are dropped.
            let v = if stream {
                (v & !INET_ECN_MASK) | (inp.tos as i32 & INET_ECN_MASK)
            } else {
                v
            };
            inp.tos = v as u8;
        }
        IP_RECVERR => inp.recverr = v != 0,
        IP_PKTINFO => inp.pktinfo = v != 0,
        IP_MTU_DISCOVER => {
            if !(0..=IP_PMTUDISC_OMIT).contains(&v) {
                return Err(Errno::EINVAL);
            }
            inp.pmtudisc = v as u8;
        }
        IP_MULTICAST_TTL => {
            if stream {
                return Err(Errno::EINVAL);
            }
            inp.mc_ttl = match v {
                -1 => 1,
                0..=255 => v as u8,
                _ => return Err(Errno::EINVAL),
            }
        }
        IP_MULTICAST_LOOP => inp.mc_loop = v != 0,
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// The two ECN bits of the TOS byte.
const INET_ECN_MASK: i32 = 3;

pub(crate) fn ip_ctloutput_get(inp: &Inpcb, mtu: usize, name: i32) -> Result<i32, Errno> {
    match name {
        IP_TTL => Ok(inp.ttl as i32),
        IP_TOS => Ok(inp.tos as i32),
        IP_RECVERR => Ok(inp.recverr as i32),
        IP_PKTINFO => Ok(inp.pktinfo as i32),
        IP_MTU_DISCOVER => Ok(inp.pmtudisc as i32),
        IP_MULTICAST_TTL => Ok(inp.mc_ttl as i32),
        IP_MULTICAST_LOOP => Ok(inp.mc_loop as i32),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_options_accept_one_byte_like_linux() {
        assert_eq!(ip_setsockopt_val(IP_TTL, &77i32.to_ne_bytes()), Ok(77));
        assert_eq!(ip_setsockopt_val(IP_TTL, &[200]), Ok(200), "unsigned byte");
        assert_eq!(ip_setsockopt_val(IP_TTL, &[]), Err(Errno::EINVAL));
        assert_eq!(ip_setsockopt_val(IP_TOS, &[]), Ok(0), "no bytes mean 0");
        assert_eq!(ip_setsockopt_val(9999, &[1]), Err(Errno::ENOPROTOOPT));
        assert_eq!(ip_setsockopt_val(IP_MTU, &[0; 4]), Err(Errno::ENOPROTOOPT));
    }

    #[test]
    fn short_get_buffer_gets_one_byte() {
        let mut b = [0xee; 4];
        assert_eq!(ip_getsockopt_put(&mut b[..1], 77), 1);
        assert_eq!(b, [77, 0xee, 0xee, 0xee]);
        let mut b = [0xee; 4];
        assert_eq!(ip_getsockopt_put(&mut b[..2], 300), 2, "too big for a byte");
        assert_eq!(&b[..2], &300i32.to_ne_bytes()[..2]);
        assert_eq!(ip_getsockopt_put(&mut [], 5), 0);
        let mut b = [0u8; 8];
        assert_eq!(ip_getsockopt_put(&mut b, 5), 4);
    }

    #[test]
    fn tos_keeps_ecn_bits_on_tcp_only() {
        let mut inp = Inpcb::new(64);
        ip_ctloutput_set(&mut inp, 64, true, IP_TOS, 0xff).unwrap();
        assert_eq!(inp.tos, 0xfc);
        ip_ctloutput_set(&mut inp, 64, true, IP_TOS, 0x103).unwrap();
        assert_eq!(inp.tos, 0, "0x100 after the ECN bits, truncated to u8");
        let mut inp = Inpcb::new(64);
        ip_ctloutput_set(&mut inp, 64, false, IP_TOS, 0xff).unwrap();
        assert_eq!(inp.tos, 0xff);
        assert_eq!(
            ip_ctloutput_set(&mut inp, 64, true, IP_MULTICAST_TTL, 1),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            ip_ctloutput_set(&mut inp, 64, false, IP_MTU_DISCOVER, 6),
            Err(Errno::EINVAL)
        );
        ip_ctloutput_set(&mut inp, 64, false, IP_TTL, 1).unwrap();
        ip_ctloutput_set(&mut inp, 64, false, IP_TTL, -1).unwrap();
        assert_eq!(inp.ttl, 64, "-1 restores the default");
    }
}
