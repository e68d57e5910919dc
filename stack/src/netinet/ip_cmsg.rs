//! The control messages recvmsg gives a datagram (Linux's sock_recv_cmsgs
//! then ip_cmsg_recv_offset, in that order): SO_TIMESTAMP / SO_TIMESTAMPNS,
//! UDP_GRO's piece size (udp_recvmsg's udp_cmsg_recv), then
//! IP_PKTINFO, IP_TTL, IP_TOS and IP_ORIGDSTADDR; on an AF_INET6 socket
//! IPV6_PKTINFO, then IPV6_HOPLIMIT, IPV6_TCLASS and IPV6_ORIGDSTADDR for
//! an IPv6 datagram (udpv6_recvmsg's order), each a whole cmsghdr
//! record in the x86_64 Linux layout (16-byte header, data padded to 8),
//! built from the `DgramInfo` kept with the datagram. The caller (the
//! shim) supplies the arrival time on the real-time clock, which the
//! stack does not know, and copies the records out as put_cmsg does.

use std::net::{IpAddr, SocketAddr};

use crate::api::*;
use crate::linux::*;

/// sizeof(struct cmsghdr) on 64-bit Linux.
pub const CMSG_HDR_LEN: usize = 16;

/// CMSG_LEN(n).
pub const fn cmsg_len(n: usize) -> usize {
    CMSG_HDR_LEN + n
}

/// CMSG_SPACE(n).
pub const fn cmsg_space(n: usize) -> usize {
    CMSG_HDR_LEN + n.div_ceil(8) * 8
}

/// One record: header with cmsg_len = CMSG_LEN(data), the data, padding.
pub fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; cmsg_space(data.len())];
    b[..8].copy_from_slice(&(cmsg_len(data.len()) as u64).to_ne_bytes());
    b[8..12].copy_from_slice(&level.to_ne_bytes());
    b[12..16].copy_from_slice(&ty.to_ne_bytes());
    b[CMSG_HDR_LEN..CMSG_HDR_LEN + data.len()].copy_from_slice(data);
    b
}

/// The records a datagram's receiver asked for (`info.want`), in Linux's
/// order. `realtime`: the arrival on CLOCK_REALTIME, (seconds, nanoseconds).
pub fn ip_cmsg_recv(info: &DgramInfo, realtime: (i64, u32)) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (secs, nanos) = realtime;
    if info.want & CMSG_WANT_TIMESTAMPNS != 0 {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&secs.to_ne_bytes());
        d[8..].copy_from_slice(&i64::from(nanos).to_ne_bytes());
        out.push(cmsg(SOL_SOCKET, SO_TIMESTAMPNS, &d));
    } else if info.want & CMSG_WANT_TIMESTAMP != 0 {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&secs.to_ne_bytes());
        d[8..].copy_from_slice(&i64::from(nanos / 1000).to_ne_bytes());
        out.push(cmsg(SOL_SOCKET, SO_TIMESTAMP, &d));
    }
    // udp_cmsg_recv: a super-datagram taken whole under UDP_GRO.
    if info.want & CMSG_WANT_UDP_GRO != 0 && info.gso_size != 0 {
        let size = i32::from(info.gso_size);
        out.push(cmsg(IPPROTO_UDP, UDP_GRO, &size.to_ne_bytes()));
    }
    // ip6_datagram_recv_common_ctl: IPV6_PKTINFO, for IPv4 datagrams too
    // (their destination v4-mapped).
    if info.want & CMSG_WANT_PKTINFO6 != 0 {
        let addr = match info.dst.ip() {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        };
        let mut d = [0u8; 20];
        d[..16].copy_from_slice(&addr.octets());
        d[16..].copy_from_slice(&(info.ifindex as i32).to_ne_bytes());
        out.push(cmsg(SOL_IPV6, IPV6_PKTINFO, &d));
    }
    // ip6_datagram_recv_specific_ctl, for IPv6 datagrams.
    if let SocketAddr::V6(dst) = info.dst {
        if info.want & CMSG_WANT_HOPLIMIT6 != 0 {
            out.push(cmsg(
                SOL_IPV6,
                IPV6_HOPLIMIT,
                &i32::from(info.ttl).to_ne_bytes(),
            ));
        }
        if info.want & CMSG_WANT_TCLASS6 != 0 {
            out.push(cmsg(
                SOL_IPV6,
                IPV6_TCLASS,
                &i32::from(info.tos).to_ne_bytes(),
            ));
        }
        if info.want & CMSG_WANT_ORIGDSTADDR6 != 0 {
            let mut d = [0u8; 28];
            d[..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            d[2..4].copy_from_slice(&dst.port().to_be_bytes());
            d[8..24].copy_from_slice(&dst.ip().octets());
            out.push(cmsg(SOL_IPV6, IPV6_ORIGDSTADDR, &d));
        }
        return out;
    }
    // The IPPROTO_IP records are for IPv4 datagrams.
    let (SocketAddr::V4(dst), IpAddr::V4(spec_dst)) = (info.dst, info.spec_dst) else {
        return out;
    };
    if info.want & CMSG_WANT_PKTINFO != 0 {
        let mut d = [0u8; 12];
        d[..4].copy_from_slice(&(info.ifindex as i32).to_ne_bytes());
        d[4..8].copy_from_slice(&spec_dst.octets());
        d[8..].copy_from_slice(&dst.ip().octets());
        out.push(cmsg(SOL_IP, IP_PKTINFO, &d));
    }
    if info.want & CMSG_WANT_TTL != 0 {
        out.push(cmsg(SOL_IP, IP_TTL, &i32::from(info.ttl).to_ne_bytes()));
    }
    if info.want & CMSG_WANT_TOS != 0 {
        out.push(cmsg(SOL_IP, IP_TOS, &[info.tos]));
    }
    if info.want & CMSG_WANT_ORIGDSTADDR != 0 {
        let mut d = [0u8; 16];
        d[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
        d[2..4].copy_from_slice(&dst.port().to_be_bytes());
        d[4..8].copy_from_slice(&dst.ip().octets());
        out.push(cmsg(SOL_IP, IP_RECVORIGDSTADDR, &d));
    }
    out
}

/// Copy `records` into a control buffer of `room` bytes as Linux's
/// put_cmsg does: a record that does not fit whole is cut to the room left
/// (its header still says its full length) and sets MSG_CTRUNC; with less
/// room than a header nothing more is written. Returns the bytes to copy
/// out (their length is the msg_controllen to report) and MSG_CTRUNC.
pub fn put_cmsgs(room: usize, records: &[Vec<u8>]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut ctrunc = false;
    for r in records {
        let left = room - out.len();
        if left < CMSG_HDR_LEN {
            ctrunc = true;
            continue;
        }
        let need = u64::from_ne_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]) as usize;
        if left < need {
            ctrunc = true;
        }
        out.extend_from_slice(&r[..r.len().min(left)]);
    }
    (out, ctrunc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn info(want: u16) -> DgramInfo {
        DgramInfo {
            dst: SocketAddr::new(Ipv4Addr::new(224, 0, 2, 1).into(), 0x1234),
            ifindex: 1,
            spec_dst: Ipv4Addr::LOCALHOST.into(),
            tos: 0x10,
            ttl: 64,
            stamp: crate::time::Instant::ZERO,
            gso_size: 0,
            want,
        }
    }

    #[test]
    fn records_in_linux_order_and_layout() {
        let all = CMSG_WANT_TIMESTAMP
            | CMSG_WANT_PKTINFO
            | CMSG_WANT_TTL
            | CMSG_WANT_TOS
            | CMSG_WANT_ORIGDSTADDR;
        let r = ip_cmsg_recv(&info(all), (7, 5_000_123));
        let types: Vec<(i32, i32, usize)> = r
            .iter()
            .map(|c| {
                (
                    i32::from_ne_bytes([c[8], c[9], c[10], c[11]]),
                    i32::from_ne_bytes([c[12], c[13], c[14], c[15]]),
                    c.len(),
                )
            })
            .collect();
        assert_eq!(
            types,
            vec![
                (SOL_SOCKET, SO_TIMESTAMP, 32),
                (SOL_IP, IP_PKTINFO, 32),
                (SOL_IP, IP_TTL, 24),
                (SOL_IP, IP_TOS, 24),
                (SOL_IP, IP_RECVORIGDSTADDR, 32),
            ]
        );
        assert_eq!(&r[0][16..24], &7i64.to_ne_bytes());
        assert_eq!(&r[0][24..32], &5000i64.to_ne_bytes(), "microseconds");
        assert_eq!(&r[1][20..24], &[127, 0, 0, 1], "spec_dst");
        assert_eq!(&r[1][24..28], &[224, 0, 2, 1], "header destination");
        assert_eq!(r[3][0], 17, "IP_TOS is one byte: CMSG_LEN(1)");
        assert_eq!(r[3][16], 0x10);
        assert_eq!(&r[4][18..20], &[0x12, 0x34], "port in network order");
        let ns = ip_cmsg_recv(&info(CMSG_WANT_TIMESTAMPNS | CMSG_WANT_TIMESTAMP), (7, 5));
        assert_eq!(ns.len(), 1);
        assert_eq!(
            i32::from_ne_bytes([ns[0][12], ns[0][13], ns[0][14], ns[0][15]]),
            SO_TIMESTAMPNS
        );
        assert!(ip_cmsg_recv(&info(0), (0, 0)).is_empty());
    }

    #[test]
    fn put_cmsgs_truncates_as_put_cmsg() {
        let r = ip_cmsg_recv(&info(CMSG_WANT_TTL | CMSG_WANT_TOS), (0, 0));
        assert_eq!(put_cmsgs(64, &r), ([&r[0][..], &r[1][..]].concat(), false));
        let (b, t) = put_cmsgs(24 + 17, &r);
        assert_eq!(
            (b.len(), t),
            (41, false),
            "the last record's padding may be cut"
        );
        let (b, t) = put_cmsgs(24 + 16, &r);
        assert_eq!((b.len(), t), (40, true), "a header without its byte");
        let (b, t) = put_cmsgs(20, &r);
        assert_eq!((b.len(), t), (20, true));
        assert_eq!(put_cmsgs(8, &r), (vec![], true), "no room for a header");
    }
}
