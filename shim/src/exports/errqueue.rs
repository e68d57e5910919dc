//! recvmsg(MSG_ERRQUEUE), Linux's ip_recv_error / ipv6_recv_error: one
//! entry of the socket's error queue as an IP_RECVERR (AF_INET) or
//! IPV6_RECVERR (AF_INET6) control message holding its
//! `sock_extended_err` and the offender's address (zeroed for a local
//! error, a MSG_ZEROCOPY completion or a TX timestamp), after a TX
//! timestamp's SCM_TIMESTAMPING (its time in CLOCK_REALTIME, the other two
//! timespecs zero, as Linux's software stamps), the quoted payload as the
//! data (MSG_TRUNC when cut), the original destination as the name, and
//! MSG_ERRQUEUE in msg_flags (MSG_CTRUNC when the control buffer is short).

use libc::{c_int, size_t, socklen_t, ssize_t};
use stack::Domain;

use crate::fdtable::OpenFile;
use crate::ops::{self, R};
use crate::uaccess;

pub(crate) fn recvmsg_errqueue(
    of: &OpenFile,
    msg: *mut libc::msghdr,
    m: &libc::msghdr,
    iovs: &[libc::iovec],
) -> R<ssize_t> {
    let room = super::io::iov_total(iovs);
    let e = ops::recv_errqueue(of, room)?;
    let (level, ty, addr_len) = match of.domain {
        Domain::Inet6 => (
            libc::SOL_IPV6,
            libc::IPV6_RECVERR,
            std::mem::size_of::<libc::sockaddr_in6>(),
        ),
        Domain::Inet => (
            libc::SOL_IP,
            libc::IP_RECVERR,
            std::mem::size_of::<libc::sockaddr_in>(),
        ),
    };
    let h = std::mem::size_of::<libc::cmsghdr>();
    let mut c = Vec::new();
    // One control message (level, type, data) at the end of `c`; where it
    // ends without its padding.
    let push = |c: &mut Vec<u8>, level: c_int, ty: c_int, data: &[u8]| {
        // SAFETY: CMSG_SPACE and CMSG_LEN are arithmetic.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(data.len() as u32) as usize,
                libc::CMSG_LEN(data.len() as u32) as usize,
            )
        };
        let hdr = libc::cmsghdr {
            cmsg_len: len as _,
            cmsg_level: level,
            cmsg_type: ty,
        };
        let at = c.len();
        c.resize(at + space, 0);
        // SAFETY: cmsghdr is plain integers with no padding on Linux.
        c[at..at + h].copy_from_slice(unsafe { uaccess::bytes_of(&hdr) });
        c[at + h..at + h + data.len()].copy_from_slice(data);
        at + len
    };
    if let Some(at) = stack::kern::errqueue::decode_stamp(&e.head) {
        let (sec, nsec) = ops::realtime_of(at);
        let mut ts = [0u8; 48];
        ts[..8].copy_from_slice(&sec.to_ne_bytes());
        ts[8..16].copy_from_slice(&(nsec as i64).to_ne_bytes());
        push(&mut c, libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &ts);
    }
    let data_len = stack::kern::errqueue::EE_LEN + addr_len;
    let len = push(&mut c, level, ty, &e.head[..data_len]);
    let space = c.len();
    let mut mflags: c_int = libc::MSG_ERRQUEUE;
    if e.full_len > e.payload.len() {
        mflags |= libc::MSG_TRUNC;
    }
    let mut controllen: size_t = 0;
    if !m.msg_control.is_null() {
        let room = m.msg_controllen;
        if room < len {
            mflags |= libc::MSG_CTRUNC;
        }
        if room >= h {
            controllen = room.min(space);
        }
    }
    let mut parts: Vec<(usize, &[u8])> = Vec::new();
    let mut off = 0;
    for v in iovs {
        let k = v.iov_len.min(e.payload.len() - off);
        if k > 0 {
            parts.push((v.iov_base as usize, &e.payload[off..off + k]));
        }
        off += k;
    }
    let name = e.dest.map(ops::sockaddr_bytes);
    let kaddr: &[u8] = name.as_ref().map_or(&[], |(b, n)| &b[..*n]);
    if !m.msg_name.is_null() {
        let n = (m.msg_namelen as usize).min(kaddr.len());
        parts.push((m.msg_name as usize, &kaddr[..n]));
    }
    if controllen > 0 {
        parts.push((m.msg_control as usize, &c[..controllen]));
    }
    let at = |off: usize| msg as usize + off;
    let namelen = kaddr.len() as socklen_t;
    // SAFETY: c_int, size_t and socklen_t have no padding.
    let (fb, cb, nb) = unsafe {
        (
            uaccess::bytes_of(&mflags),
            uaccess::bytes_of(&controllen),
            uaccess::bytes_of(&namelen),
        )
    };
    if !m.msg_name.is_null() {
        parts.push((at(std::mem::offset_of!(libc::msghdr, msg_namelen)), nb));
    }
    parts.push((at(std::mem::offset_of!(libc::msghdr, msg_flags)), fb));
    parts.push((at(std::mem::offset_of!(libc::msghdr, msg_controllen)), cb));
    uaccess::copy_out(&parts)?;
    Ok(e.payload.len() as ssize_t)
}
