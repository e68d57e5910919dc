//! IP output for both families (frame building into pooled buffers,
//! fragmentation of large datagrams: IPv4's, and IPv6's fragment header),
//! address classification and routing checks, and IP-level socket options.
//! Input is `ip_input` and `ip6_input`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;

use crate::errno::Errno;
use crate::kern::sk_filter::FilterCx;
use crate::kern::socket::Socket;
use crate::linux::*;
use crate::netinet::in_pcb::Inpcb;
use crate::netinet::inet::InetCx;
use crate::stats::Stats;
use crate::wire::{self, ipv6ext, Ipv4Repr, Ipv6Repr};

/// One of our addresses: the interface addresses, or lo's as the
/// namespace has them now (in_ifaddr.rs).
pub(crate) fn is_local(cx: &impl InetCx, a: IpAddr) -> bool {
    let dev = match a {
        IpAddr::V4(v) => v == cx.config().addr,
        IpAddr::V6(v) => Some(v) == cx.config().addr6,
    };
    dev || cx.inet().lo.is_local(a)
}

/// An IPv4 broadcast address (limited, or our subnet's). IPv6 has none.
pub(crate) fn is_broadcast(cx: &impl InetCx, a: IpAddr) -> bool {
    let IpAddr::V4(a) = a else {
        return false;
    };
    if a.is_broadcast() || cx.inet().lo.is_broadcast(a) {
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

/// Is `dst` on the link of `addr`/`plen`?
fn on_link6(addr: Ipv6Addr, plen: u8, dst: Ipv6Addr) -> bool {
    let plen = u32::from(plen.min(128));
    let mask = if plen == 0 {
        0
    } else {
        u128::MAX << (128 - plen)
    };
    u128::from(addr) & mask == u128::from(dst) & mask
}

/// Can we reach `dst`? (on-link, local, or via the gateway). A socket
/// bound to lo (SO_BINDTODEVICE, `oif`) reaches only ::1 in IPv6, whose
/// other local routes are not on lo (ip6_route_output: ENETUNREACH; IPv4
/// sends into lo, `oif_route`).
pub(crate) fn route_check(cx: &impl InetCx, dst: IpAddr, oif: u8) -> Result<(), Errno> {
    if oif == crate::netinet::in_pcb::DEV_LO
        && dst.is_ipv6()
        && !dst.is_loopback()
        && !dst.is_multicast()
    {
        return Err(Errno::ENETUNREACH);
    }
    if is_local(cx, dst) || is_broadcast(cx, dst) {
        return Ok(());
    }
    // ::1 no longer on lo: without an IPv6 address of ours source
    // selection fails first (EADDRNOTAVAIL), else there is no route (a
    // loopback address is never routed, ip6_route_output). IPv4 routes
    // 127.0.0.1 then as any other address (by the gateway, if any).
    if let IpAddr::V6(d) = dst {
        if d.is_loopback() {
            return Err(match cx.config().addr6 {
                Some(_) => Errno::ENETUNREACH,
                None => Errno::EADDRNOTAVAIL,
            });
        }
    }
    let c = cx.config();
    match dst {
        IpAddr::V4(d) => {
            if c.gateway.is_some() || d.is_broadcast() {
                return Ok(());
            }
            let plen = c.prefix_len.min(32) as u32;
            let mask = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen)
            };
            if u32::from(d) & mask == u32::from(c.addr) & mask {
                Ok(())
            } else {
                Err(Errno::ENETUNREACH)
            }
        }
        IpAddr::V6(d) => match c.addr6 {
            // ff00::/8 is routed to the device (its multicast route).
            Some(a)
                if c.gateway6.is_some() || d.is_multicast() || on_link6(a, c.prefix_len6, d) =>
            {
                Ok(())
            }
            _ => Err(Errno::ENETUNREACH),
        },
    }
}

/// The destination a send or connect to `dst` really goes to: 0.0.0.0
/// (INADDR_ANY) means this host, as Linux routes it: the socket's bound
/// address, or 127.0.0.1 for an unbound socket (ip_route_output_key_hash_rcu).
/// `::` means loopback whatever the bound address (tcp_v6_connect,
/// ip6_datagram_connect, udpv6_sendmsg's "BSD'ism"): ::1, or 127.0.0.1
/// (::ffff:127.0.0.1) for a socket bound to a v4-mapped address.
pub(crate) fn dst_this_host(laddr: IpAddr, dst: SocketAddr) -> SocketAddr {
    match (dst.ip(), laddr) {
        (IpAddr::V4(d), IpAddr::V4(l)) if d.is_unspecified() && !l.is_unspecified() => {
            SocketAddr::new(laddr, dst.port())
        }
        (IpAddr::V4(d), _) if d.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), dst.port())
        }
        (IpAddr::V6(d), IpAddr::V4(l)) if d.is_unspecified() && !l.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), dst.port())
        }
        (IpAddr::V6(d), _) if d.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), dst.port())
        }
        _ => dst,
    }
}

/// Source address for packets to `dst` from a socket bound to `laddr`.
/// A socket bound to a multicast or broadcast address sends from the
/// interface's address (Linux's inet_bind leaves inet_saddr 0 for them).
/// A socket bound to the device (SO_BINDTODEVICE, `oif`) sends to
/// loopback from the device's address, as it routes it there.
pub(crate) fn source_for(cx: &impl InetCx, laddr: IpAddr, dst: IpAddr, oif: u8) -> IpAddr {
    if !laddr.is_unspecified() && !laddr.is_multicast() && !is_broadcast(cx, laddr) {
        return laddr;
    }
    let by_device = oif_route(cx, oif, dst) == OifRoute::Device;
    match dst {
        IpAddr::V4(d) if d.is_loopback() && !by_device && is_local(cx, dst) => dst,
        IpAddr::V4(d) if !by_device && cx.inet().lo.source_for(d).is_some() => {
            cx.inet().lo.source_for(d).map_or(dst, IpAddr::V4)
        }
        IpAddr::V4(_) => cx.config().addr.into(),
        IpAddr::V6(d) if d.is_loopback() && !by_device && is_local(cx, dst) => dst,
        IpAddr::V6(_) => cx.config().addr6.unwrap_or(Ipv6Addr::UNSPECIFIED).into(),
    }
}

/// Is `a` the device's own address (not loopback's)?
pub(crate) fn is_dev_addr(cx: &impl InetCx, a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a == cx.config().addr,
        IpAddr::V6(a) => Some(a) == cx.config().addr6,
    }
}

/// Where a packet goes by its socket's SO_BINDTODEVICE, as Linux's route
/// lookup with that device as output interface (c-test 287).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OifRoute {
    /// As any packet: ours are looped back, the rest go to the device.
    Any,
    /// Out through the device even to a loopback address (Linux takes
    /// the device's routes, the default one, as loopback's are on lo).
    Device,
    /// Sent into lo to an address not ours: no one takes it (Linux says
    /// the send succeeded).
    Lost,
}

pub(crate) fn oif_route(cx: &impl InetCx, oif: u8, dst: IpAddr) -> OifRoute {
    use crate::netinet::in_pcb::{DEV_LO, DEV_OURS};
    let unicast = !dst.is_multicast() && !is_broadcast(cx, dst);
    match oif {
        DEV_LO if unicast && !is_local(cx, dst) => OifRoute::Lost,
        DEV_OURS if is_local(cx, dst) && !is_dev_addr(cx, dst) => OifRoute::Device,
        _ => OifRoute::Any,
    }
}

/// The interface SO_BINDTODEVICE matches a received packet against: the
/// one it came in on, but a packet looped back to the device's address
/// counts as the device's, as Linux's (its local route is on the device).
pub(crate) fn arrival(cx: &impl InetCx, ip: &IpIn) -> crate::netinet::in_pcb::Arrival {
    let dev = cx.config().ifindex;
    let i = if ip.ifindex == LOOPBACK_IFINDEX && is_dev_addr(cx, ip.dst) {
        dev
    } else {
        ip.ifindex
    };
    crate::netinet::in_pcb::Arrival(i, dev)
}

/// A whole packet of `payload` under `h`, ident 0: a copy for local input
/// (a multicast or broadcast looped back), which never leaves.
pub(crate) fn ip_packet(h: &IpHeader, payload: &[u8]) -> Vec<u8> {
    let hl = h.header_len();
    let mut f = vec![0u8; hl];
    match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Repr {
            src_addr: s,
            dst_addr: d,
            protocol: h.protocol,
            payload_len: payload.len(),
            ttl: h.ttl,
            tos: h.tos,
            ident: 0,
            dont_frag: h.dont_frag,
        }
        .emit(&mut f),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Repr {
            src_addr: s,
            dst_addr: d,
            next_header: h.protocol,
            payload_len: payload.len(),
            hop_limit: h.ttl,
            traffic_class: h.tos,
            flow_label: 0,
        }
        .emit(&mut f),
        _ => {}
    }
    f.extend_from_slice(payload);
    f
}

/// Queue a built frame by `h`'s route (`oif_route`).
fn ip_transmit(cx: &impl InetCx, h: &IpHeader, frame: Vec<u8>, meta: crate::offload::TxMeta) {
    match oif_route(cx, h.oif, h.dst) {
        OifRoute::Any => cx.transmit_meta(frame, meta),
        OifRoute::Device => cx.transmit_on_device(frame, meta),
        OifRoute::Lost => Stats::bump(&cx.stats().drop_no_route),
    }
}

/// The destination of a built frame (either family), if it has one.
pub(crate) fn frame_dst(frame: &[u8]) -> Option<IpAddr> {
    match frame.first()? >> 4 {
        4 => {
            let d: [u8; 4] = frame.get(16..20)?.try_into().ok()?;
            Some(Ipv4Addr::from(d).into())
        }
        6 => {
            let d: [u8; 16] = frame.get(24..40)?.try_into().ok()?;
            Some(Ipv6Addr::from(d).into())
        }
        _ => None,
    }
}

/// What the transports need of a received packet's IP header (either
/// family), with the whole packet for the ICMP errors that quote it.
pub(crate) struct IpIn<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The packet as received, from its IP header on.
    pub packet: &'a [u8],
    /// The transport checksum was checked by the device or left partial
    /// by the local kernel: not verified again.
    pub csum_ok: bool,
    /// A UDP super-datagram's piece size (udp_gso.rs), else 0.
    pub udp_gso_size: u16,
    /// The interface it came in on: the device, or loopback.
    pub ifindex: u32,
    /// Read in a batch (`RxMeta::batch`): an ACK may wait for its end.
    pub batch: bool,
}

/// Run the socket's filter (SO_ATTACH_FILTER) over a transport segment
/// `seg` of `ip` whose header is `hdr` bytes (Linux's
/// `sk_filter_trim_cap` with that cap): None drops it (counted), else
/// how many bytes of `seg` to keep.
pub(crate) fn sk_filter_run(
    cx: &impl InetCx,
    so: &Socket,
    ip: &IpIn,
    seg: &[u8],
    hdr: usize,
) -> Option<usize> {
    let Some(f) = so.so_filter.as_deref() else {
        return Some(seg.len());
    };
    // Where `seg` sits in the packet (it is a part of it).
    let at = (seg.as_ptr() as usize).wrapping_sub(ip.packet.as_ptr() as usize);
    let (net, transport) = match ip.packet.get(at..at.wrapping_add(seg.len())) {
        Some(_) => (&ip.packet[..at + seg.len()], at),
        None => (seg, 0),
    };
    let fcx = FilterCx {
        net,
        transport,
        payload: transport + hdr,
        protocol: if ip.dst.is_ipv4() { 0x0800 } else { 0x86dd },
        pkttype: if ip.dst.is_multicast() {
            2
        } else if is_broadcast(cx, ip.dst) {
            1
        } else {
            0
        },
        ifindex: ip.ifindex,
        loopback: ip.ifindex == LOOPBACK_IFINDEX,
    };
    let r = f.verdict(&fcx, seg.len(), hdr);
    if r.is_none() {
        Stats::bump(&cx.stats().drop_sk_filter);
    }
    r
}

/// What ip_output needs of a packet's header; `src` and `dst` are of one
/// family, which decides the header built. For IPv6 `ttl` is the hop limit
/// and `tos` the traffic class.
pub(crate) struct IpHeader {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub dont_frag: bool,
    /// The sending socket's SO_BINDTODEVICE (`in_pcb::DEV_*`), which
    /// decides the route (`oif_route`).
    pub oif: u8,
}

impl IpHeader {
    fn header_len(&self) -> usize {
        match self.dst {
            IpAddr::V4(_) => wire::ipv4::HEADER_LEN,
            IpAddr::V6(_) => wire::ipv6::HEADER_LEN,
        }
    }

    /// Writes the header for a payload of `payload_len` bytes into
    /// `buf[..header_len]`; false (nothing written) for mixed families.
    fn emit(&self, cx: &impl InetCx, buf: &mut [u8], payload_len: usize) -> bool {
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let ident = cx.inet().ip_ident.fetch_add(1, Ordering::Relaxed);
                Ipv4Repr {
                    src_addr: src,
                    dst_addr: dst,
                    protocol: self.protocol,
                    payload_len,
                    ttl: self.ttl,
                    tos: self.tos,
                    ident,
                    dont_frag: self.dont_frag,
                }
                .emit(&mut buf[..wire::ipv4::HEADER_LEN]);
                true
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                Ipv6Repr {
                    src_addr: src,
                    dst_addr: dst,
                    next_header: self.protocol,
                    payload_len,
                    hop_limit: self.ttl,
                    traffic_class: self.tos,
                    flow_label: 0,
                }
                .emit(&mut buf[..wire::ipv6::HEADER_LEN]);
                true
            }
            _ => false,
        }
    }
}

/// Build one IP packet with a payload of `payload_len` bytes written by
/// `fill`, and queue it for the device. A header mixing families (a bug)
/// is dropped and counted, never sent.
pub(crate) fn ip_output(
    cx: &impl InetCx,
    h: &IpHeader,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) {
    ip_output_gso(cx, h, payload_len, fill, None)
}

/// How the device cuts a super-frame: payload pieces of `piece` bytes,
/// each behind the `l4_hdr` bytes of transport header (TCP's, see
/// tcp_tso.rs, or with `udp` UDP's 8, see udp_gso.rs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gso {
    pub piece: u16,
    pub l4_hdr: usize,
    pub udp: bool,
}

/// `ip_output` for a super-frame when `gso` is given: the device cuts it
/// (or, to our own address, loopback takes it whole).
pub(crate) fn ip_output_gso(
    cx: &impl InetCx,
    h: &IpHeader,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
    gso: Option<Gso>,
) {
    ip_output_data(cx, h, payload_len, (&[], &[]), fill, gso)
}

/// `ip_output_gso` of a payload made of `head` bytes that `fill` writes
/// (zeroed first: a transport header) and then `data`, copied once into
/// the frame behind them. `fill` sees the whole payload, `data` included
/// (a checksum covers it). The data bytes are not zeroed before they are
/// copied: for a 64 KiB super-segment that memset was a fifth of a
/// shimmed bulk sender's instructions.
pub(crate) fn ip_output_data(
    cx: &impl InetCx,
    h: &IpHeader,
    head: usize,
    data: (&[u8], &[u8]),
    fill: impl FnOnce(&mut [u8]),
    gso: Option<Gso>,
) {
    let hl = h.header_len();
    let payload_len = head + data.0.len() + data.1.len();
    let mut buf = cx.frame_buf();
    buf.reserve(hl + payload_len);
    buf.resize(hl + head, 0);
    buf.extend_from_slice(data.0);
    buf.extend_from_slice(data.1);
    if !h.emit(cx, &mut buf, payload_len) {
        debug_assert!(false, "ip_output: mixed families {} > {}", h.src, h.dst);
        Stats::bump(&cx.stats().drop_malformed);
        return;
    }
    fill(&mut buf[hl..]);
    let meta = match gso {
        Some(g) => crate::offload::TxMeta {
            gso_size: g.piece,
            v6: h.dst.is_ipv6(),
            udp: g.udp,
            csum_start: hl as u16,
            hdr_len: (hl + g.l4_hdr) as u16,
        },
        None => crate::offload::TxMeta::NONE,
    };
    ip_transmit(cx, h, buf, meta);
}

/// Send `payload` (a whole transport datagram), fragmenting it to `mtu`:
/// IPv4 fragments, or IPv6 fragments with a fragment header (RFC 8200
/// §4.5) each carrying a multiple of 8 bytes but the last.
pub(crate) fn ip_output_fragmented(cx: &impl InetCx, h: &IpHeader, payload: &[u8], mtu: usize) {
    let hl = h.header_len();
    let v6 = h.dst.is_ipv6();
    let mtu = mtu.max(if v6 { wire::ipv6::MIN_MTU } else { 68 });
    if hl + payload.len() <= mtu {
        ip_output(cx, h, payload.len(), |b| b.copy_from_slice(payload));
        return;
    }
    let fh = if v6 { ipv6ext::FRAGMENT_HEADER_LEN } else { 0 };
    let chunk = (mtu - hl - fh) & !7;
    let ident = cx.inet().ip_ident.fetch_add(1, Ordering::Relaxed);
    let ident6 = cx.inet().ip6_ident.fetch_add(1, Ordering::Relaxed);
    let mut off = 0;
    while off < payload.len() {
        let n = chunk.min(payload.len() - off);
        let more = off + n < payload.len();
        let mut buf = cx.frame_buf();
        buf.resize(hl + fh + n, 0);
        match (h.src, h.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let repr = Ipv4Repr {
                    src_addr: src,
                    dst_addr: dst,
                    protocol: h.protocol,
                    payload_len: n,
                    ttl: h.ttl,
                    tos: h.tos,
                    ident,
                    dont_frag: false,
                };
                repr.emit(&mut buf[..hl]);
                let mut p = wire::Ipv4Packet::new_unchecked(&mut buf[..]);
                p.set_more_frags(more);
                p.set_frag_offset(off);
                p.fill_checksum();
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let repr = Ipv6Repr {
                    src_addr: src,
                    dst_addr: dst,
                    next_header: ipv6ext::FRAGMENT,
                    payload_len: fh + n,
                    hop_limit: h.ttl,
                    traffic_class: h.tos,
                    flow_label: 0,
                };
                repr.emit(&mut buf[..hl]);
                let om = (off as u16 & 0xfff8) | u16::from(more);
                buf[hl] = h.protocol;
                buf[hl + 1] = 0;
                buf[hl + 2..hl + 4].copy_from_slice(&om.to_be_bytes());
                buf[hl + 4..hl + 8].copy_from_slice(&ident6.to_be_bytes());
            }
            _ => {
                Stats::bump(&cx.stats().drop_malformed);
                return;
            }
        }
        buf[hl + fh..].copy_from_slice(&payload[off..off + n]);
        ip_transmit(cx, h, buf, crate::offload::TxMeta::NONE);
        off += n;
    }
}

/// Linux's IP_PMTUDISC_OMIT, the largest IP_MTU_DISCOVER value.
const IP_PMTUDISC_OMIT: i32 = 5;
const IP_PMTUDISC_WANT: u8 = 1;
const IP_PMTUDISC_DO: u8 = 2;
const IP_PMTUDISC_PROBE: u8 = 3;
const IP_PMTUDISC_INTERFACE: u8 = 4;

/// Whether a datagram under IP_MTU_DISCOVER `pmtudisc` is never cut to the
/// MTU (EMSGSIZE instead): DO, PROBE and INTERFACE (Linux's
/// `!ip_sk_ignore_df`).
pub(crate) fn ip_never_fragments(pmtudisc: u8) -> bool {
    matches!(
        pmtudisc,
        IP_PMTUDISC_DO | IP_PMTUDISC_PROBE | IP_PMTUDISC_INTERFACE
    )
}

/// Whether a datagram under `pmtudisc` carries DF (Linux's __ip_make_skb):
/// always with DO and PROBE, with WANT (the default) when it `fits` the
/// MTU whole; never with DONT, INTERFACE or OMIT.
pub(crate) fn ip_sets_df(pmtudisc: u8, fits: bool) -> bool {
    match pmtudisc {
        IP_PMTUDISC_DO | IP_PMTUDISC_PROBE => true,
        IP_PMTUDISC_WANT => fits,
        _ => false,
    }
}

/// The value of an IPPROTO_IP int option as Linux's do_ip_setsockopt reads
/// it: 4 bytes, or with a shorter optlen one unsigned byte; no bytes at all
/// mean 0, except for options that insist on a value (EINVAL). Options we
/// do not know (or that take a struct) are ENOPROTOOPT whatever the length.
pub(crate) fn ip_setsockopt_val(name: i32, val: &[u8]) -> Result<i32, Errno> {
    match name {
        IP_TOS | IP_TTL | IP_RECVERR | IP_MTU_DISCOVER | IP_PKTINFO | IP_MULTICAST_TTL
        | IP_MULTICAST_LOOP => {}
        _ if ip_flag_bit(name).is_some() => {}
        _ => return Err(Errno::ENOPROTOOPT),
    }
    match val {
        [a, b, c, d, ..] => Ok(i32::from_ne_bytes([*a, *b, *c, *d])),
        [b, ..] => Ok(*b as i32),
        [] if matches!(name, IP_TTL | IP_MULTICAST_TTL | IP_MULTICAST_LOOP) => Err(Errno::EINVAL),
        [] => Ok(0),
    }
}

/// The boolean IPPROTO_IP options kept as bits of `Inpcb::ip_flags`: read
/// back 0 or 1, as Linux's do_ip_setsockopt keeps them (in cmsg_flags or
/// the inet flags). IP_FREEBIND, IP_TRANSPARENT and IP_BIND_ADDRESS_NO_PORT
/// are kept but change nothing here; IP_RECVTTL, IP_RECVTOS, IP_RECVOPTS,
/// IP_RETOPTS, IP_RECVORIGDSTADDR, IP_PASSSEC, IP_CHECKSUM and
/// IP_RECVFRAGSIZE would each ask for a control message that recvmsg does
/// not deliver yet.
pub(crate) fn ip_flag_bit(name: i32) -> Option<u32> {
    match name {
        IP_RECVOPTS
        | IP_RETOPTS
        | IP_RECVTTL
        | IP_RECVTOS
        | IP_FREEBIND
        | IP_PASSSEC
        | IP_TRANSPARENT
        | IP_RECVORIGDSTADDR
        | IP_CHECKSUM
        | IP_BIND_ADDRESS_NO_PORT
        | IP_RECVFRAGSIZE
        | IP_PKTINFO => Some(1 << name),
        _ => None,
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
        // ip_recv_error's fragment sizes: datagram sockets only.
        IP_RECVFRAGSIZE if stream => return Err(Errno::EINVAL),
        _ => {
            let bit = ip_flag_bit(name).ok_or(Errno::ENOPROTOOPT)?;
            if v != 0 {
                inp.ip_flags |= bit;
            } else {
                inp.ip_flags &= !bit;
            }
        }
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
        IP_MTU_DISCOVER => Ok(inp.pmtudisc as i32),
        IP_MULTICAST_TTL => Ok(inp.mc_ttl as i32),
        IP_MULTICAST_LOOP => Ok(inp.mc_loop as i32),
        // Raw sockets' options: they read 0 on TCP and UDP (set: ENOPROTOOPT).
        IP_NODEFRAG | IP_HDRINCL => Ok(0),
        IP_MTU => {
            if inp.is_connected() {
                Ok(mtu as i32)
            } else {
                Err(Errno::ENOTCONN)
            }
        }
        _ => match ip_flag_bit(name) {
            Some(bit) => Ok((inp.ip_flags & bit != 0) as i32),
            None => Err(Errno::ENOPROTOOPT),
        },
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

    #[test]
    fn unspecified_destination_is_this_host_per_family() {
        let sa = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 7);
        let any4: IpAddr = Ipv4Addr::UNSPECIFIED.into();
        let any6: IpAddr = Ipv6Addr::UNSPECIFIED.into();
        let self4: IpAddr = "10.7.0.2".parse().unwrap();
        let self6: IpAddr = "fd00:7::2".parse().unwrap();
        assert_eq!(dst_this_host(any4, sa("0.0.0.0")), sa("127.0.0.1"));
        assert_eq!(
            dst_this_host(self4, sa("0.0.0.0")),
            sa("10.7.0.2"),
            "v4: the bound address"
        );
        assert_eq!(dst_this_host(any6, sa("::")), sa("::1"));
        assert_eq!(
            dst_this_host(self6, sa("::")),
            sa("::1"),
            "v6: loopback even when bound"
        );
        assert_eq!(
            dst_this_host(self4, sa("::")),
            sa("127.0.0.1"),
            "bound v4-mapped"
        );
        assert_eq!(dst_this_host(any6, sa("fd00:7::1")), sa("fd00:7::1"));
    }
}
