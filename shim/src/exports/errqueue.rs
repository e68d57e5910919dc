//! recvmsg(MSG_ERRQUEUE), Linux's ip_recv_error / ipv6_recv_error: one
//! entry of the socket's error queue as an IP_RECVERR (AF_INET) or
//! IPV6_RECVERR (AF_INET6) control message holding its
//! `sock_extended_err` and the offender's address (zeroed for a local
//! error or a MSG_ZEROCOPY completion), the quoted payload as the data
//! (MSG_TRUNC when cut), the original destination as the name, and
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
    let ee_len = stack::kern::errqueue::EE_LEN;
    let data_len = ee_len + addr_len;
    // SAFETY: CMSG_SPACE and CMSG_LEN are arithmetic.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(data_len as u32) as usize,
            libc::CMSG_LEN(data_len as u32) as usize,
        )
    };
    let hdr = libc::cmsghdr {
        cmsg_len: len as _,
        cmsg_level: level,
        cmsg_type: ty,
    };
    let mut c = vec![0u8; space];
    let h = std::mem::size_of::<libc::cmsghdr>();
    // SAFETY: cmsghdr is plain integers with no padding on Linux.
    c[..h].copy_from_slice(unsafe { uaccess::bytes_of(&hdr) });
    c[h..h + data_len].copy_from_slice(&e.head[..data_len]);
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
