//! Exports that move data: send/recv and their variants (sendto, sendmsg,
//! sendmmsg, recvfrom, recvmsg, recvmmsg, read, write, readv, writev,
//! sendfile, the FORTIFY __*_chk entry points).

use libc::{c_int, c_void, size_t, sockaddr, socklen_t, ssize_t};
use stack::netinet::ip_cmsg;
use stack::SockType;

use crate::fdtable::OpenFile;
use crate::ops::{self, R};
use crate::real::real;
use crate::uaccess::{self, MAX_RW_COUNT, UIO_MAXIOV};
use crate::{
    addr_in, buf_mut, buf_ref, guard, ours, put_addr, set_errno, UserAddr, SOCKADDR_STORAGE,
};

/// # Safety
/// Standard sendto(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            let len = len.min(MAX_RW_COUNT);
            if !uaccess::access_ok(buf as usize, len) {
                return Err(libc::EFAULT);
            }
            let to = if addr.is_null() {
                None
            } else {
                Some(addr_in(addr, alen)?)
            };
            let to = to.as_ref().map(UserAddr::bytes);
            if let Some(k) = crate::loopback::divert_send(fd, &of, to) {
                // SAFETY: the caller's arguments, to a kernel socket.
                let n = unsafe { (real().sendto)(k, buf, len, flags, addr, alen) };
                return if n < 0 {
                    Err(crate::loopback::errno())
                } else {
                    Ok(n)
                };
            }
            // SAFETY: buf/len from the caller.
            match unsafe { buf_ref(buf, len) } {
                Ok(data) => ops::send(&of, data, flags, to).map(|n| n as ssize_t),
                Err(_) => Err(ops::send_fault(&of, flags, to)),
            }
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().sendto)(fd, buf, len, flags, addr, alen) },
    }
}

/// # Safety
/// Standard send(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) },
        // SAFETY: pass-through.
        None => unsafe { (real().send)(fd, buf, len, flags) },
    }
}

/// # Safety
/// Standard write(2) contract.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe { sendto(fd, buf, len, 0, std::ptr::null(), 0) },
        // SAFETY: pass-through.
        None => unsafe { (real().write)(fd, buf, len) },
    }
}

/// Linux `import_iovec` after the count check: the caller's iovec array
/// (EFAULT if unreadable), EINVAL for a negative length, the total
/// truncated to MAX_RW_COUNT.
pub(crate) fn iovecs_in(iov: *const libc::iovec, n: usize) -> R<Vec<libc::iovec>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: iovec (pointer, length) accepts any bit pattern.
    let mut v = unsafe { uaccess::read_array(iov, n) }?;
    let mut total = 0usize;
    for e in &mut v {
        if e.iov_len > isize::MAX as usize {
            return Err(libc::EINVAL);
        }
        e.iov_len = e.iov_len.min(MAX_RW_COUNT - total);
        total += e.iov_len;
    }
    Ok(v)
}

pub(crate) fn iov_total(iovs: &[libc::iovec]) -> usize {
    iovs.iter().map(|v| v.iov_len).sum()
}

/// Linux `__copy_msghdr` + `import_iovec` for sendmsg (`send`: the
/// destination is copied in) and recvmsg.
pub(crate) fn msghdr_in(m: &libc::msghdr, send: bool) -> R<(Option<UserAddr>, Vec<libc::iovec>)> {
    let namelen = if m.msg_name.is_null() {
        0
    } else {
        m.msg_namelen as i32
    };
    if namelen < 0 {
        return Err(libc::EINVAL);
    }
    let namelen = (namelen as usize).min(SOCKADDR_STORAGE) as socklen_t;
    let name = if send && namelen > 0 {
        Some(addr_in(m.msg_name as *const sockaddr, namelen)?)
    } else {
        None
    };
    if m.msg_iovlen > UIO_MAXIOV {
        return Err(libc::EMSGSIZE);
    }
    Ok((name, iovecs_in(m.msg_iov, m.msg_iovlen)?))
}

/// A datagram's IP_TOS, IP_TTL, IPV6_TCLASS, IPV6_HOPLIMIT and UDP_SEGMENT
/// control messages on sendmsg, checked as Linux's ip_cmsg_send,
/// ip6_datagram_send_ctl and udp_cmsg_send check them (EINVAL), as
/// SOCKSHIM_SEND_ONCE's bytes; None when there are none. Other control
/// messages are ignored.
fn send_cmsgs(m: &libc::msghdr) -> R<Option<[u8; 8]>> {
    const HDR: usize = 16;
    const OPTMEM_MAX: usize = 1 << 16;
    let len = m.msg_controllen;
    if m.msg_control.is_null() || len < HDR {
        return Ok(None);
    }
    if len > OPTMEM_MAX {
        return Err(libc::ENOBUFS);
    }
    // SAFETY: u8 accepts any bit pattern; the range is checked by the copy.
    let c = unsafe { uaccess::read_array(m.msg_control as *const u8, len) }?;
    let mut once = stack::netinet::in_pcb::SendOnce::default();
    let mut any = false;
    let mut off = 0;
    while off + HDR <= c.len() {
        let clen = u64::from_ne_bytes(c[off..off + 8].try_into().unwrap_or_default()) as usize;
        if clen < HDR || clen > c.len() - off {
            return Err(libc::EINVAL);
        }
        let level = i32::from_ne_bytes(c[off + 8..off + 12].try_into().unwrap_or_default());
        let ty = i32::from_ne_bytes(c[off + 12..off + 16].try_into().unwrap_or_default());
        let data = &c[off + HDR..off + clen];
        let int = || match *data {
            [a, b, c, d] => Ok(i32::from_ne_bytes([a, b, c, d])),
            _ => Err(libc::EINVAL),
        };
        let byte = |v: i32, lo: i32| {
            if (lo..=255).contains(&v) {
                Ok((v >= 0).then_some(v as u8))
            } else {
                Err(libc::EINVAL)
            }
        };
        match (level, ty) {
            (libc::SOL_IP, libc::IP_TOS) => {
                let v = match *data {
                    [b] => i32::from(b),
                    _ => int()?,
                };
                once.tos = byte(v, 0)?;
            }
            (libc::SOL_IP, libc::IP_TTL) => once.ttl = byte(int()?, 1)?,
            // -1 is kept as it is (an int the header takes as 0xff).
            (libc::SOL_IPV6, libc::IPV6_TCLASS) => {
                once.tclass = byte(int()?, -1)?.or(Some(0xff));
            }
            (libc::SOL_IPV6, libc::IPV6_HOPLIMIT) => once.hops = byte(int()?, -1)?,
            // udp_cmsg_send: UDP_SEGMENT's u16 exactly; any other SOL_UDP
            // message is EINVAL.
            (libc::SOL_UDP, stack::linux::UDP_SEGMENT) => match *data {
                [a, b] => once.gso_size = Some(u16::from_ne_bytes([a, b])),
                _ => return Err(libc::EINVAL),
            },
            (libc::SOL_UDP, _) => return Err(libc::EINVAL),
            _ => {
                off += clen.div_ceil(8) * 8;
                continue;
            }
        }
        any = true;
        off += clen.div_ceil(8) * 8;
    }
    Ok(any.then(|| once.to_bytes()))
}

/// readv/writev's count check (Linux: EINVAL beyond UIO_MAXIOV).
pub(crate) fn iovcnt(n: c_int) -> R<usize> {
    if (0..=UIO_MAXIOV as c_int).contains(&n) {
        Ok(n as usize)
    } else {
        Err(libc::EINVAL)
    }
}

/// Send the data of user iovecs (gathered; EFAULT as Linux orders it).
pub(crate) fn send_iovecs(
    of: &OpenFile,
    iovs: &[libc::iovec],
    flags: c_int,
    to: Option<&[u8]>,
) -> R<ssize_t> {
    match uaccess::gather(iovs) {
        Ok(data) => ops::send(of, &data, flags, to).map(|n| n as ssize_t),
        Err(_) => Err(ops::send_fault(of, flags, to)),
    }
}

/// Receive into user iovecs: probed first (a fault must not consume
/// data), then received into a shim buffer. Returns (bytes, full length,
/// sender, the data): the caller scatters it with its other outputs.
/// What `recv_iovecs` returns: bytes received, the datagram's full length,
/// its sender, the bytes, its arrival (for control messages).
type RecvOut = (
    usize,
    usize,
    Option<std::net::SocketAddr>,
    Vec<u8>,
    Option<stack::DgramInfo>,
);

pub(crate) fn recv_iovecs(of: &OpenFile, iovs: &[libc::iovec], flags: c_int) -> R<RecvOut> {
    let regions: Vec<(usize, usize)> = iovs
        .iter()
        .map(|v| (v.iov_base as usize, v.iov_len))
        .collect();
    if uaccess::readable(&regions).is_err() {
        let (n, full, from) = ops::recv_fault(of, flags)?;
        return Ok((n, full, from, Vec::new(), None));
    }
    let mut tmp = vec![0u8; iov_total(iovs)];
    let (got, full, from, info) = ops::recv_info(of, &mut tmp, flags)?;
    tmp.truncate(got);
    Ok((got, full, from, tmp, info))
}

/// # Safety
/// Standard writev(2) contract.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            let iovs = iovecs_in(iov, iovcnt(n)?)?;
            if iov_total(&iovs) == 0 {
                return Ok(0); // vfs_writev: nothing to write, no protocol call
            }
            send_iovecs(&of, &iovs, 0, None)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().writev)(fd, iov, n) },
    }
}

/// # Safety
/// Standard sendmsg(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: msghdr accepts any bit pattern.
            let m = unsafe { uaccess::read_val(msg) }?;
            let (name, iovs) = msghdr_in(&m, true)?;
            if let Some(k) =
                crate::loopback::divert_send(fd, &of, name.as_ref().map(UserAddr::bytes))
            {
                // SAFETY: the caller's arguments, to a kernel socket.
                let n = unsafe { (real().sendmsg)(k, msg, flags) };
                return if n < 0 {
                    Err(crate::loopback::errno())
                } else {
                    Ok(n)
                };
            }
            if of.ty == SockType::Dgram {
                if let Some(once) = send_cmsgs(&m)? {
                    ops::send_once(&of, once)?;
                }
            }
            send_iovecs(&of, &iovs, flags, name.as_ref().map(UserAddr::bytes))
        }),
        None => {
            // SAFETY: the caller's message, read through uaccess.
            unsafe { mark_sent_rights(msg) };
            // SAFETY: pass-through.
            unsafe { (real().sendmsg)(fd, msg, flags) }
        }
    }
}

/// Our sockets sent by SCM_RIGHTS (service mode) may be held by the
/// receiver from now on: their O_NONBLOCK is the anchor's (nonblock.rs).
/// A message the kernel would refuse (EFAULT) is left to it.
///
/// # Safety
/// `msg` is the caller's sendmsg argument (read only through uaccess).
unsafe fn mark_sent_rights(msg: *const libc::msghdr) {
    let Some(s) = crate::driver::shim_if_ready() else {
        return;
    };
    if msg.is_null() || s.stack.remote().is_none() {
        return;
    }
    // SAFETY: msghdr accepts any bit pattern; read_val checks the address.
    let Ok(m) = (unsafe { uaccess::read_val(msg) }) else {
        return;
    };
    if m.msg_control.is_null() || m.msg_controllen == 0 || m.msg_controllen > 1 << 16 {
        return;
    }
    let mut ctl = vec![0u8; m.msg_controllen];
    if uaccess::copy_in(m.msg_control as usize, &mut ctl).is_err() {
        return;
    }
    let mut local = m;
    local.msg_control = ctl.as_mut_ptr().cast();
    // SAFETY: the control messages now live in `ctl`, of the same length.
    let fds = unsafe { rights_in(&local) };
    let files: Vec<_> = fds.into_iter().filter_map(ours).collect();
    crate::nonblock::may_be_shared(&files);
}

/// The descriptors carried by the SCM_RIGHTS messages of `msg`.
///
/// # Safety
/// `msg`'s control buffer is readable for `msg_controllen` bytes.
unsafe fn rights_in(msg: *const libc::msghdr) -> Vec<c_int> {
    let mut fds = Vec::new();
    // SAFETY: walking control messages within the buffer (CMSG_NXTHDR
    // stops at its end).
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(msg);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let k = ((*cm).cmsg_len.saturating_sub(libc::CMSG_LEN(0) as usize)) / 4;
                let p = libc::CMSG_DATA(cm) as *const c_int;
                for i in 0..k {
                    fds.push(std::ptr::read_unaligned(p.add(i)));
                }
            }
            cm = libc::CMSG_NXTHDR(msg, cm);
        }
    }
    fds
}

/// # Safety
/// Standard recvfrom(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            let len = len.min(MAX_RW_COUNT);
            if !uaccess::access_ok(buf as usize, len) {
                return Err(libc::EFAULT);
            }
            // SAFETY: buf/len from the caller.
            let (n, full, from) = match unsafe { buf_mut(buf, len) } {
                Ok(b) => ops::recv(&of, b, flags)?,
                Err(_) => ops::recv_fault(&of, flags)?,
            };
            if !addr.is_null() {
                put_addr(from, addr, alen)?;
            }
            let ret = if flags & libc::MSG_TRUNC != 0 && of.ty == SockType::Dgram {
                full
            } else {
                n
            };
            Ok(ret as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().recvfrom)(fd, buf, len, flags, addr, alen) },
    }
}

/// # Safety
/// Standard recv(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    match ours(fd) {
        // SAFETY: same contract.
        Some(_) => unsafe {
            recvfrom(
                fd,
                buf,
                len,
                flags,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        // SAFETY: pass-through.
        None => unsafe { (real().recv)(fd, buf, len, flags) },
    }
}

/// # Safety
/// Standard read(2) contract.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    match ours(fd) {
        // sock_read_iter: a zero-length read returns 0 without the protocol.
        Some(_) if len == 0 => 0,
        // SAFETY: same contract.
        Some(_) => unsafe { recvfrom(fd, buf, len, 0, std::ptr::null_mut(), std::ptr::null_mut()) },
        // SAFETY: pass-through.
        None => unsafe { (real().read)(fd, buf, len) },
    }
}

/// # Safety
/// Standard readv(2) contract.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            let iovs = iovecs_in(iov, iovcnt(n)?)?;
            if iov_total(&iovs) == 0 {
                return Ok(0); // vfs_readv: nothing to read, no protocol call
            }
            let (got, _, _, data, _) = recv_iovecs(&of, &iovs, 0)?;
            uaccess::scatter(&iovs, &data)?;
            Ok(got as ssize_t)
        }),
        // SAFETY: pass-through.
        None => unsafe { (real().readv)(fd, iov, n) },
    }
}

/// A TCP_CM_INQ control message (CMSG_SPACE(4) bytes) for a socket with
/// TCP_INQ on, after the read.
fn inq_cmsg(of: &OpenFile) -> Option<Vec<u8>> {
    let inq = ops::sockinfo(of).ok()?.inq_hint?;
    Some(ip_cmsg::cmsg(
        libc::SOL_TCP,
        stack::linux::TCP_CM_INQ,
        &(inq.min(i32::MAX as usize) as i32).to_ne_bytes(),
    ))
}

/// The control messages a datagram's receiver asked for (timestamps,
/// IP_PKTINFO, ...): its arrival on the stack's monotonic clock is moved
/// to CLOCK_REALTIME here, which the stack does not know.
fn dgram_cmsgs(info: &stack::DgramInfo) -> Vec<Vec<u8>> {
    if info.want == 0 {
        return Vec::new();
    }
    ip_cmsg::ip_cmsg_recv(info, ops::realtime_of(info.stamp))
}

/// # Safety
/// Standard recvmsg(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    match ours(fd) {
        Some(of) => guard(|| {
            // SAFETY: msghdr accepts any bit pattern.
            let m = unsafe { uaccess::read_val(msg) }?;
            let (_, iovs) = msghdr_in(&m, false)?;
            if flags & libc::MSG_ERRQUEUE != 0 {
                return super::errqueue::recvmsg_errqueue(&of, msg, &m, &iovs);
            }
            let (got, full, from, data, info) = recv_iovecs(&of, &iovs, flags)?;
            // Outputs in Linux's order, in one copy: the data, the sender
            // (move_addr_to_user, only with a msg_name), the control
            // message, msg_flags and msg_controllen.
            let mut parts: Vec<(usize, &[u8])> = Vec::new();
            let mut off = 0;
            // TCP's MSG_TRUNC counts the bytes without copying them.
            let copy = !(of.ty == SockType::Stream && flags & libc::MSG_TRUNC != 0);
            for v in iovs.iter().filter(|_| copy) {
                let k = v.iov_len.min(data.len() - off);
                if k > 0 {
                    parts.push((v.iov_base as usize, &data[off..off + k]));
                }
                off += k;
            }
            let name = from.map(ops::sockaddr_bytes);
            let kaddr: &[u8] = name.as_ref().map_or(&[], |(b, n)| &b[..*n]);
            let klen = kaddr.len() as socklen_t;
            let mut mflags: c_int = if full > got { libc::MSG_TRUNC } else { 0 };
            if flags & libc::MSG_OOB != 0 && full > 0 {
                mflags |= libc::MSG_OOB; // tcp_recv_urg: the urgent byte
            }
            // Control messages: a datagram's (timestamps, IP_PKTINFO, ...)
            // and TCP_CM_INQ when TCP_INQ is on, copied as put_cmsg does
            // (truncated to the room given, MSG_CTRUNC when one does not
            // fit whole).
            let mut records = info.map(|i| dgram_cmsgs(&i)).unwrap_or_default();
            records.extend(inq_cmsg(&of));
            let control = if records.is_empty() {
                Vec::new()
            } else if m.msg_control.is_null() {
                mflags |= libc::MSG_CTRUNC;
                Vec::new()
            } else {
                let (c, ctrunc) = ip_cmsg::put_cmsgs(m.msg_controllen, &records);
                if ctrunc {
                    mflags |= libc::MSG_CTRUNC;
                }
                c
            };
            let controllen: size_t = control.len();
            if controllen > 0 {
                parts.push((m.msg_control as usize, &control[..]));
            }
            let at = |off: usize| msg as usize + off;
            if !m.msg_name.is_null() {
                let n = (m.msg_namelen as usize).min(kaddr.len());
                parts.push((m.msg_name as usize, &kaddr[..n]));
                // SAFETY: socklen_t has no padding.
                let b = unsafe { uaccess::bytes_of(&klen) };
                parts.push((at(std::mem::offset_of!(libc::msghdr, msg_namelen)), b));
            }
            // SAFETY: c_int and size_t have no padding.
            let (fb, cb) = unsafe { (uaccess::bytes_of(&mflags), uaccess::bytes_of(&controllen)) };
            parts.push((at(std::mem::offset_of!(libc::msghdr, msg_flags)), fb));
            parts.push((at(std::mem::offset_of!(libc::msghdr, msg_controllen)), cb));
            uaccess::copy_out(&parts)?;
            let ret = if flags & libc::MSG_TRUNC != 0 && of.ty == SockType::Dgram {
                full
            } else {
                got
            };
            Ok(ret as ssize_t)
        }),
        None => {
            // SAFETY: pass-through.
            let n = unsafe { (real().recvmsg)(fd, msg, flags) };
            if n >= 0 {
                // SAFETY: the kernel just filled *msg.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                    adopt_rights(msg)
                }));
            }
            n
        }
    }
}

/// Descriptors received by SCM_RIGHTS may be our sockets' anchors, sent
/// by another shimmed process (service mode).
///
/// # Safety
/// `msg` was just filled by a successful recvmsg.
unsafe fn adopt_rights(msg: *mut libc::msghdr) {
    // Only SCM_RIGHTS matters, and only with the service (which this
    // process may not have needed yet: then it starts using it now).
    // SAFETY: reading the header the kernel filled.
    if unsafe { (*msg).msg_controllen } == 0
        || std::env::var_os("SOCKSHIM_MODE").is_none_or(|m| m != "service")
        || crate::driver::shim().is_err()
    {
        return;
    }
    // SAFETY: the control messages the kernel wrote.
    let fds = unsafe { rights_in(msg) };
    if !fds.is_empty() {
        ops::adopt_received(&fds);
    }
}

/// # Safety
/// Standard __recv_chk contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as recv.
    unsafe { recv(fd, buf, len, flags) }
}

/// # Safety
/// Standard __recvfrom_chk contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as recvfrom.
    unsafe { recvfrom(fd, buf, len, flags, addr, alen) }
}

/// # Safety
/// Standard __read_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
) -> ssize_t {
    if len > buflen {
        // SAFETY: the FORTIFY failure path aborts.
        unsafe { libc::abort() };
    }
    // SAFETY: same contract as read.
    unsafe { read(fd, buf, len) }
}

/// sendfile(2) from a kernel file to a stack socket: read the file here
/// and send through the stack (offset semantics as the kernel's).
///
/// # Safety
/// Standard sendfile(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off_t,
    count: size_t,
) -> ssize_t {
    let Some(of) = ours(out_fd) else {
        // SAFETY: pass-through.
        return unsafe { (real().sendfile)(out_fd, in_fd, offset, count) };
    };
    guard(|| {
        let mut buf = vec![0u8; count.min(1 << 20)];
        // SAFETY: offset valid per the caller when non-null.
        let start = if offset.is_null() {
            None
        } else {
            Some(unsafe { *offset })
        };
        let n = match start {
            // SAFETY: reading into our buffer.
            Some(off) => unsafe {
                libc::pread(in_fd, buf.as_mut_ptr() as *mut c_void, buf.len(), off)
            },
            // SAFETY: reading into our buffer (read of a kernel fd passes through).
            None => unsafe { (real().read)(in_fd, buf.as_mut_ptr() as *mut c_void, buf.len()) },
        };
        if n < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
        let sent = ops::send(&of, &buf[..n as usize], 0, None)?;
        match start {
            // SAFETY: offset valid per the caller.
            Some(off) => unsafe { *offset = off + sent as libc::off_t },
            None if sent < n as usize => {
                // Give back what was read but not sent.
                // SAFETY: lseek on the caller's file.
                unsafe {
                    libc::lseek(
                        in_fd,
                        sent as libc::off_t - n as libc::off_t,
                        libc::SEEK_CUR,
                    )
                };
            }
            None => {}
        }
        Ok(sent as ssize_t)
    })
}

/// # Safety
/// Standard sendfile64 contract.
#[no_mangle]
pub unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off64_t,
    count: size_t,
) -> ssize_t {
    if ours(out_fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().sendfile64)(out_fd, in_fd, offset, count) };
    }
    // SAFETY: off_t and off64_t are the same type on 64-bit Linux.
    unsafe { sendfile(out_fd, in_fd, offset as *mut libc::off_t, count) }
}

/// The address of entry `i` of a user mmsghdr array (not dereferenced).
pub(crate) fn mmsg_at(msgs: *mut libc::mmsghdr, i: libc::c_uint) -> *mut libc::mmsghdr {
    msgs.wrapping_add(i as usize)
}

/// Store the byte count of one mmsghdr entry.
pub(crate) fn put_msg_len(m: *mut libc::mmsghdr, r: ssize_t) -> R<()> {
    let len = r as libc::c_uint;
    let at = m as usize + std::mem::offset_of!(libc::mmsghdr, msg_len);
    // SAFETY: c_uint has no padding.
    uaccess::copy_out(&[(at, unsafe { uaccess::bytes_of(&len) })])
}

/// # Safety
/// Standard sendmmsg(2) contract.
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
) -> c_int {
    if ours(fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().sendmmsg)(fd, msgs, n, flags) };
    }
    let mut done = 0;
    while done < n.min(UIO_MAXIOV as libc::c_uint) {
        let m = mmsg_at(msgs, done);
        // SAFETY: same contract as sendmsg (which copies the msghdr in).
        let r = unsafe { sendmsg(fd, m as *const libc::msghdr, flags) };
        if r < 0 || put_msg_len(m, r).is_err() {
            if r >= 0 {
                set_errno(libc::EFAULT);
            }
            return if done > 0 { done as c_int } else { -1 };
        }
        done += 1;
    }
    done as c_int
}

/// # Safety
/// Standard recvmmsg(2) contract (the timeout is checked between messages,
/// as Linux does).
// Exported by trace.rs (SOCKSHIM_TRACE), which calls this.
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
    timeout: *mut libc::timespec,
) -> c_int {
    if ours(fd).is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().recvmmsg)(fd, msgs, n, flags, timeout) };
    }
    // The timeout (do_recvmmsg): checked after each datagram, never while
    // a receive blocks (Linux's own known limit); what is left is written
    // back when at least one datagram came.
    let end = if timeout.is_null() {
        None
    } else {
        // SAFETY: timespec accepts any bit pattern; read_val checks access.
        let ts = match unsafe { uaccess::read_val(timeout) } {
            Ok(t) => t,
            Err(e) => {
                set_errno(e);
                return -1;
            }
        };
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            set_errno(libc::EINVAL);
            return -1;
        }
        let d = std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        Some(std::time::Instant::now() + d)
    };
    let mut done = 0;
    let mut left = std::time::Duration::ZERO;
    let mut fl = flags & !libc::MSG_WAITFORONE;
    while done < n.min(UIO_MAXIOV as libc::c_uint) {
        let m = mmsg_at(msgs, done);
        // SAFETY: same contract as recvmsg (which copies the msghdr in).
        let r = unsafe { recvmsg(fd, m as *mut libc::msghdr, fl) };
        if r < 0 || put_msg_len(m, r).is_err() {
            if r >= 0 {
                set_errno(libc::EFAULT);
            }
            if done == 0 {
                return -1;
            }
            break;
        }
        done += 1;
        if flags & libc::MSG_WAITFORONE != 0 {
            fl |= libc::MSG_DONTWAIT;
        }
        if let Some(end) = end {
            left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
        }
    }
    if end.is_some() && done > 0 {
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: timespec is plain integers with no padding.
        if uaccess::copy_out(&[(timeout as usize, unsafe { uaccess::bytes_of(&ts) })]).is_err() {
            set_errno(libc::EFAULT);
            return -1;
        }
    }
    done as c_int
}
