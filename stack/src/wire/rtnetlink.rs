//! The rtnetlink messages a driver exchanges with the kernel to follow
//! lo's addresses (netinet/in_ifaddr.rs): the RTM_GETADDR dump request,
//! and the RTM_NEWADDR messages of its answer read into (address, prefix
//! length) pairs; and the RTM_GETQDISC dump the driver asks for only to
//! wait for the rtnl lock (`dump_over` says when its answer ended). Views
//! over bytes in the host's byte order, as netlink has them; the socket
//! I/O is the driver's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The multicast groups that tell of IPv4 and IPv6 address changes
/// (`nl_groups` of a bound NETLINK_ROUTE socket).
pub const RTMGRP_IPV4_IFADDR: u32 = 0x10;
pub const RTMGRP_IPV6_IFADDR: u32 = 0x100;

const NLMSG_HDR: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_GETQDISC: u16 = 38;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// A dump request of type `ty`: the header (pid 0, the kernel), then a
/// zeroed family message (AF_UNSPEC: everything) filling `N` bytes.
fn dump_request<const N: usize>(ty: u16, seq: u32) -> [u8; N] {
    let mut b = [0u8; N];
    b[0..4].copy_from_slice(&(N as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&ty.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b
}

/// A request for every address of the namespace (RTM_GETADDR dump, an
/// ifaddrmsg).
pub fn getaddr_dump_request(seq: u32) -> [u8; 24] {
    dump_request(RTM_GETADDR, seq)
}

/// A request for every queueing discipline of the namespace (RTM_GETQDISC
/// dump, a tcmsg).
pub fn getqdisc_dump_request(seq: u32) -> [u8; 36] {
    dump_request(RTM_GETQDISC, seq)
}

/// Read one buffer of a dump's answer for its end only: true once it
/// holds NLMSG_DONE or an error; a malformed message ends the buffer.
pub fn dump_over(buf: &[u8]) -> bool {
    walk(buf, |_, _| {})
}

/// Walk the messages of one buffer of a dump's answer, giving `each` the
/// type and body of every message before the end: true once the buffer
/// holds NLMSG_DONE or an error; a malformed message ends the buffer.
fn walk(buf: &[u8], mut each: impl FnMut(u16, &[u8])) -> bool {
    let mut at = 0;
    while at + NLMSG_HDR <= buf.len() {
        let (Some(len), Some(ty)) = (u32_at(buf, at), u16_at(buf, at + 4)) else {
            return false;
        };
        let len = len as usize;
        if len < NLMSG_HDR || at + len > buf.len() {
            return false;
        }
        if matches!(ty, NLMSG_DONE | NLMSG_ERROR) {
            return true;
        }
        each(ty, &buf[at + NLMSG_HDR..at + len]);
        at += align4(len);
    }
    false
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One RTM_NEWADDR's body (ifaddrmsg and attributes): the address of
/// interface `ifindex`, if it is that interface's.
fn new_addr(body: &[u8], ifindex: u32) -> Option<(IpAddr, u8)> {
    let (family, plen) = (*body.first()?, *body.get(1)?);
    if u32_at(body, 4)? != ifindex {
        return None;
    }
    let (mut local, mut address) = (None, None);
    let mut at = 8;
    while at + 4 <= body.len() {
        let len = usize::from(u16_at(body, at)?);
        let ty = u16_at(body, at + 2)?;
        let data = body.get(at + 4..at + len.max(4))?;
        let ip: Option<IpAddr> = match (family, data.len()) {
            (AF_INET, 4) => Some(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?).into()),
            (AF_INET6, 16) => Some(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?).into()),
            _ => None,
        };
        match ty {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            _ => {}
        }
        if len < 4 {
            break;
        }
        at += align4(len);
    }
    Some((local.or(address)?, plen))
}

/// Read one buffer of a dump's answer: the addresses of interface
/// `ifindex` go into `out`. True once the dump is over (NLMSG_DONE, or an
/// error); a malformed message ends the buffer.
pub fn parse_addrs(buf: &[u8], ifindex: u32, out: &mut Vec<(IpAddr, u8)>) -> bool {
    walk(buf, |ty, body| {
        if ty == RTM_NEWADDR {
            out.extend(new_addr(body, ifindex));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn addr(family: u8, plen: u8, ifindex: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![family, plen, 0, 0];
        b.extend_from_slice(&ifindex.to_ne_bytes());
        for (ty, data) in attrs {
            b.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
            b.extend_from_slice(&ty.to_ne_bytes());
            b.extend_from_slice(data);
            while b.len() % 4 != 0 {
                b.push(0);
            }
        }
        b
    }

    #[test]
    fn a_dump_is_over_at_done_or_error() {
        let req = getqdisc_dump_request(7);
        assert_eq!(u32_at(&req, 0), Some(36));
        assert_eq!(u16_at(&req, 4), Some(RTM_GETQDISC));
        assert_eq!(u32_at(&req, 8), Some(7));
        let mut buf = msg(36, &[0; 20]);
        assert!(!dump_over(&buf), "a qdisc, not the end");
        buf.extend(msg(NLMSG_DONE, &[0; 4]));
        assert!(dump_over(&buf));
        assert!(dump_over(&msg(NLMSG_ERROR, &[0; 20])));
        assert!(!dump_over(&buf[..20]), "cut short: not over");
        assert!(!dump_over(&[]));
    }

    #[test]
    fn reads_the_addresses_of_one_interface() {
        let mut buf = msg(
            RTM_NEWADDR,
            &addr(
                AF_INET,
                8,
                1,
                &[(IFA_ADDRESS, &[127, 0, 0, 1]), (IFA_LOCAL, &[127, 0, 0, 1])],
            ),
        );
        buf.extend(msg(
            RTM_NEWADDR,
            &addr(AF_INET, 24, 2, &[(IFA_LOCAL, &[10, 7, 0, 1])]),
        ));
        let mut six = [0u8; 16];
        six[15] = 1;
        buf.extend(msg(
            RTM_NEWADDR,
            &addr(AF_INET6, 128, 1, &[(IFA_ADDRESS, &six)]),
        ));
        let mut out = Vec::new();
        assert!(!parse_addrs(&buf, 1, &mut out), "no NLMSG_DONE yet");
        assert_eq!(
            out,
            vec![
                ("127.0.0.1".parse().unwrap(), 8),
                ("::1".parse().unwrap(), 128)
            ]
        );
        assert!(parse_addrs(&msg(NLMSG_DONE, &[0; 4]), 1, &mut out));
        // Cut short or lying about its length: nothing read, no panic.
        for n in 0..buf.len() {
            parse_addrs(&buf[..n], 1, &mut Vec::new());
        }
        let mut bad = buf.clone();
        bad[16 + 8] = 2; // an attribute shorter than its header
        parse_addrs(&bad, 1, &mut Vec::new());
        assert_eq!(getaddr_dump_request(7)[8], 7);
    }
}
