//! libsockshim.so: `LD_PRELOAD` it and a program's AF_INET sockets run on
//! sockshim's own TCP/IP stack, in the process, over a TUN device.
//!
//! This file holds only the exported C symbols. Each one: if the call is
//! not ours (not a stack socket fd, not AF_INET, or a nested call from the
//! shim itself) it goes to libc untouched; otherwise it converts the C
//! arguments to safe Rust values and calls the implementation in ops.rs,
//! io.rs or poll.rs inside `guard::run` (reentrancy flag, catch_unwind,
//! errno set once). The C-variadic fcntl/ioctl live in variadic.c and
//! forward to `sockshim_fcntl` / `sockshim_ioctl` here.

pub mod driver;
pub mod fdtable;
pub mod guard;
pub mod io;
pub mod log;
pub mod ops;
pub mod poll;
pub mod protected;
pub mod readiness;
pub mod real;
pub mod runtime;
pub mod settings;
pub mod sockaddr;
pub mod sotimeo;
pub mod sys;
pub mod wait;

pub use exports::{sockshim_fcntl, sockshim_ioctl};

/// The exported C symbols. Compiled out of `cargo test` builds, where they
/// would replace libc's socket functions inside the test harness itself
/// (only the variadic forwarders stay, as variadic.c refers to them).
mod exports {
    use std::ffi::{c_int, c_uint, c_ulong, c_void};
    use std::net::SocketAddrV4;
    use std::sync::Arc;
    use std::time::Duration;

    use libc::{
        fd_set, iovec, mmsghdr, msghdr, nfds_t, off_t, pollfd, sigset_t, size_t, sockaddr,
        socklen_t, ssize_t, timespec, timeval,
    };
    use stack::Errno;

    use crate::fdtable::{OpenFile, TABLE};
    use crate::real::{chk_fail, real};
    use crate::sockaddr::{encode, SOCKADDR_IN_LEN, SOCKADDR_STORAGE_LEN};
    use crate::{guard, io, ops, poll, protected, runtime};

    const UIO_MAXIOV: usize = 1024;
    const MSG_WAITFORONE: c_int = 0x10000;

    /// The stack socket behind `fd`, unless the shim itself is calling.
    fn ours(fd: c_int) -> Option<Arc<OpenFile>> {
        let file = TABLE.get(fd)?;
        (!guard::busy()).then_some(file)
    }

    fn isize_of(r: Result<usize, Errno>) -> Result<ssize_t, Errno> {
        r.map(|n| n as ssize_t)
    }

    /// A read-only view of a C buffer. SAFETY (callers): `p` must be valid
    /// for reads of `len` bytes for the life of the view, or null.
    unsafe fn bytes<'a>(p: *const c_void, len: usize) -> Result<&'a [u8], Errno> {
        if len == 0 {
            return Ok(&[]);
        }
        if p.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: guaranteed by the caller (the C function's contract).
        Ok(unsafe { std::slice::from_raw_parts(p.cast(), len.min(isize::MAX as usize)) })
    }

    /// A writable view of a C buffer. SAFETY (callers): `p` must be valid
    /// for writes of `len` bytes for the life of the view, or null.
    unsafe fn bytes_mut<'a>(p: *mut c_void, len: usize) -> Result<&'a mut [u8], Errno> {
        if len == 0 {
            return Ok(&mut []);
        }
        if p.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: guaranteed by the caller.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len.min(isize::MAX as usize)) })
    }

    /// A sockaddr argument as bytes (Linux: length above sockaddr_storage
    /// or negative → EINVAL). SAFETY (callers): as `bytes`.
    unsafe fn addr_bytes<'a>(p: *const sockaddr, len: socklen_t) -> Result<&'a [u8], Errno> {
        if (len as i32) < 0 || len as usize > SOCKADDR_STORAGE_LEN {
            return Err(Errno::EINVAL);
        }
        // SAFETY: forwarded contract.
        unsafe { bytes(p.cast(), len as usize) }
    }

    /// Stores an address for accept/getsockname/recvfrom like Linux's
    /// move_addr_to_user: copies min(*lenp, 16) bytes, sets *lenp to the
    /// full length (0 when there is no address). SAFETY (callers): `p`
    /// valid for *lenp bytes and `lenp` valid, or null.
    unsafe fn put_addr(
        p: *mut sockaddr,
        lenp: *mut socklen_t,
        a: Option<SocketAddrV4>,
    ) -> Result<(), Errno> {
        if p.is_null() {
            return Ok(());
        }
        if lenp.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: `lenp` is valid per the caller.
        let cap = unsafe { *lenp } as i32;
        if cap < 0 {
            return Err(Errno::EINVAL);
        }
        let full = match a {
            Some(a) => {
                let enc = encode(a);
                let n = (cap as usize).min(SOCKADDR_IN_LEN);
                // SAFETY: `p` has room for `cap` >= n bytes per the caller.
                unsafe { std::ptr::copy_nonoverlapping(enc.as_ptr(), p.cast::<u8>(), n) };
                SOCKADDR_IN_LEN
            }
            None => 0,
        };
        // SAFETY: as above.
        unsafe { *lenp = full as socklen_t };
        Ok(())
    }

    /// An iovec array. SAFETY (callers): `iov` valid for `n` entries, each
    /// describing memory valid for its length.
    unsafe fn iovecs<'a>(iov: *const iovec, n: usize) -> Result<&'a [iovec], Errno> {
        if n > UIO_MAXIOV {
            return Err(Errno::EINVAL);
        }
        if n == 0 {
            return Ok(&[]);
        }
        if iov.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: guaranteed by the caller.
        Ok(unsafe { std::slice::from_raw_parts(iov, n) })
    }

    fn iov_total(iovs: &[iovec]) -> Result<usize, Errno> {
        iovs.iter()
            .try_fold(0usize, |acc, v| acc.checked_add(v.iov_len))
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)
    }

    /// Runs `f` on the gathered bytes of `iovs`. SAFETY: as `iovecs`.
    unsafe fn with_gathered<T>(
        iovs: &[iovec],
        f: impl FnOnce(&[u8]) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        iov_total(iovs)?;
        if let [one] = iovs {
            // SAFETY: the entry describes valid memory (caller).
            return f(unsafe { bytes(one.iov_base, one.iov_len)? });
        }
        let mut all = Vec::new();
        for v in iovs {
            // SAFETY: as above.
            all.extend_from_slice(unsafe { bytes(v.iov_base, v.iov_len)? });
        }
        f(&all)
    }

    /// Runs `f` on a buffer that is scattered into `iovs` afterwards
    /// (`f` returns the result and how many bytes it filled). SAFETY: as
    /// `iovecs`, with writable memory.
    unsafe fn with_scattered<T>(
        iovs: &[iovec],
        f: impl FnOnce(&mut [u8]) -> Result<(T, usize), Errno>,
    ) -> Result<T, Errno> {
        let total = iov_total(iovs)?;
        if let [one] = iovs {
            // SAFETY: the entry describes valid writable memory (caller).
            return f(unsafe { bytes_mut(one.iov_base, one.iov_len)? }).map(|(t, _)| t);
        }
        let mut tmp = vec![0u8; total];
        let (t, filled) = f(&mut tmp)?;
        let mut src = &tmp[..filled.min(total)];
        for v in iovs {
            if src.is_empty() {
                break;
            }
            let n = v.iov_len.min(src.len());
            // SAFETY: as above.
            unsafe { bytes_mut(v.iov_base, n)? }.copy_from_slice(&src[..n]);
            src = &src[n..];
        }
        Ok(t)
    }

    // ---- socket lifecycle -------------------------------------------------

    #[no_mangle]
    pub extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
        if domain != libc::AF_INET || guard::busy() {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().socket)(domain, ty, protocol) };
        }
        guard::run(-1, || ops::socket(ty, protocol))
    }

    #[no_mangle]
    pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().bind)(fd, addr, len) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` readable bytes at `addr`.
            let a = unsafe { addr_bytes(addr, len)? };
            ops::bind(&file, a).map(|_| 0)
        })
    }

    #[no_mangle]
    pub extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().listen)(fd, backlog) };
        };
        guard::run(-1, || ops::listen(&file, backlog).map(|_| 0))
    }

    #[no_mangle]
    pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().connect)(fd, addr, len) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` readable bytes at `addr`.
            let a = unsafe { addr_bytes(addr, len)? };
            ops::connect(&file, a).map(|_| 0)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn accept4(
        fd: c_int,
        addr: *mut sockaddr,
        lenp: *mut socklen_t,
        flags: c_int,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().accept4)(fd, addr, lenp, flags) };
        };
        guard::run(-1, || {
            let (newfd, peer) = ops::accept(&file, flags)?;
            // SAFETY: the caller's address buffer and length pointer.
            if let Err(e) = unsafe { put_addr(addr, lenp, Some(peer)) } {
                let _ = ops::close(newfd);
                return Err(e);
            }
            Ok(newfd)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, lenp: *mut socklen_t) -> c_int {
        if ours(fd).is_none() {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().accept)(fd, addr, lenp) };
        }
        // SAFETY: same contract as accept4 with no flags.
        unsafe { accept4(fd, addr, lenp, 0) }
    }

    #[no_mangle]
    pub extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().shutdown)(fd, how) };
        };
        guard::run(-1, || ops::shutdown(&file, how).map(|_| 0))
    }

    #[no_mangle]
    pub unsafe extern "C" fn getsockname(
        fd: c_int,
        addr: *mut sockaddr,
        lenp: *mut socklen_t,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().getsockname)(fd, addr, lenp) };
        };
        guard::run(-1, || {
            let a = ops::getsockname(&file)?;
            if addr.is_null() {
                return Err(Errno::EFAULT);
            }
            // SAFETY: the caller's address buffer and length pointer.
            unsafe { put_addr(addr, lenp, Some(a)) }.map(|_| 0)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn getpeername(
        fd: c_int,
        addr: *mut sockaddr,
        lenp: *mut socklen_t,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().getpeername)(fd, addr, lenp) };
        };
        guard::run(-1, || {
            let a = ops::getpeername(&file)?;
            if addr.is_null() {
                return Err(Errno::EFAULT);
            }
            // SAFETY: the caller's address buffer and length pointer.
            unsafe { put_addr(addr, lenp, Some(a)) }.map(|_| 0)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn setsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        val: *const c_void,
        len: socklen_t,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().setsockopt)(fd, level, name, val, len) };
        };
        guard::run(-1, || {
            if (len as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            // SAFETY: the caller passes `len` readable bytes at `val`.
            let v = unsafe { bytes(val, len as usize)? };
            ops::setsockopt(fd, &file, level, name, v).map(|_| 0)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn getsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        val: *mut c_void,
        lenp: *mut socklen_t,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().getsockopt)(fd, level, name, val, lenp) };
        };
        guard::run(-1, || {
            if lenp.is_null() {
                return Err(Errno::EFAULT);
            }
            // SAFETY: `lenp` is the caller's valid length pointer.
            let cap = unsafe { *lenp } as i32;
            if cap < 0 {
                return Err(Errno::EINVAL);
            }
            // SAFETY: the caller passes `cap` writable bytes at `val`.
            let out = unsafe { bytes_mut(val, cap as usize)? };
            let n = ops::getsockopt(fd, &file, level, name, out)?;
            // SAFETY: as above.
            unsafe { *lenp = n as socklen_t };
            Ok(0)
        })
    }

    // ---- descriptors --------------------------------------------------------

    #[no_mangle]
    pub extern "C" fn close(fd: c_int) -> c_int {
        if protected::is_protected(fd) && !guard::busy() {
            return 0;
        }
        if ours(fd).is_none() || runtime::in_vfork_child() {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().close)(fd) };
        }
        guard::run(-1, || ops::close(fd).map(|_| 0))
    }

    #[no_mangle]
    pub extern "C" fn dup(fd: c_int) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().dup)(fd) };
        };
        guard::run(-1, || ops::dup(fd, &file))
    }

    fn dup2_is_ours(old: c_int, new: c_int) -> bool {
        !guard::busy()
            && !runtime::in_vfork_child()
            && (TABLE.contains(old) || TABLE.contains(new) || protected::is_protected(new))
    }

    #[no_mangle]
    pub extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
        if !dup2_is_ours(old, new) {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().dup2)(old, new) };
        }
        guard::run(-1, || ops::dup2(old, new, None))
    }

    #[no_mangle]
    pub extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
        if !dup2_is_ours(old, new) || old == new {
            // SAFETY: forwarded unchanged (old == new is EINVAL there).
            return unsafe { (real().dup3)(old, new, flags) };
        }
        guard::run(-1, || ops::dup2(old, new, Some(flags)))
    }

    #[no_mangle]
    pub extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
        if guard::busy() || runtime::in_vfork_child() {
            return match real().close_range {
                // SAFETY: forwarded unchanged.
                Some(f) => unsafe { f(first, last, flags) },
                // SAFETY: the raw system call with the same arguments.
                None => unsafe {
                    libc::syscall(libc::SYS_close_range, first, last, flags) as c_int
                },
            };
        }
        guard::run(-1, || ops::close_range(first, last, flags).map(|_| 0))
    }

    #[no_mangle]
    pub extern "C" fn closefrom(lowfd: c_int) {
        if guard::busy() || runtime::in_vfork_child() {
            if let Some(f) = real().closefrom {
                // SAFETY: forwarded unchanged.
                unsafe { f(lowfd) };
            }
            return;
        }
        let first = lowfd.max(0) as c_uint;
        guard::run(-1, || ops::close_range(first, c_uint::MAX, 0).map(|_| 0));
    }

    /// fcntl/fcntl64 (from variadic.c).
    #[no_mangle]
    pub extern "C" fn sockshim_fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged with the caller's argument.
            return unsafe { (real().fcntl)(fd, cmd, arg) };
        };
        guard::run(-1, || ops::fcntl(fd, &file, cmd, arg))
    }

    /// ioctl (from variadic.c).
    #[no_mangle]
    pub extern "C" fn sockshim_ioctl(fd: c_int, request: c_ulong, arg: c_ulong) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged with the caller's argument.
            return unsafe { (real().ioctl)(fd, request, arg) };
        };
        guard::run(-1, || {
            let ptr = arg as *mut c_int;
            if request == libc::FIONBIO as c_ulong {
                if ptr.is_null() {
                    return Err(Errno::EFAULT);
                }
                // SAFETY: FIONBIO's argument is a pointer to int.
                let on = unsafe { *ptr } != 0;
                return ops::set_nonblocking(fd, &file, on).map(|_| 0);
            }
            match ops::ioctl(&file, request)? {
                ops::Ioctl::IntOut(v) => {
                    if ptr.is_null() {
                        return Err(Errno::EFAULT);
                    }
                    // SAFETY: these requests take a pointer to int.
                    unsafe { *ptr = v };
                    Ok(0)
                }
                ops::Ioctl::Forward => {
                    // SAFETY: forwarded to the anchor with the caller's argument.
                    let r = unsafe { (real().ioctl)(fd, request, arg) };
                    crate::sys::check(r as isize).map(|_| r)
                }
            }
        })
    }

    // ---- data -----------------------------------------------------------------

    #[no_mangle]
    pub unsafe extern "C" fn send(
        fd: c_int,
        buf: *const c_void,
        len: size_t,
        flags: c_int,
    ) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().send)(fd, buf, len, flags) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` readable bytes.
            let data = unsafe { bytes(buf, len)? };
            isize_of(io::send(&file, data, flags, None))
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn sendto(
        fd: c_int,
        buf: *const c_void,
        len: size_t,
        flags: c_int,
        addr: *const sockaddr,
        alen: socklen_t,
    ) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().sendto)(fd, buf, len, flags, addr, alen) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes valid buffers of these lengths.
            let data = unsafe { bytes(buf, len)? };
            let to = if addr.is_null() {
                None
            } else {
                // SAFETY: as above.
                Some(unsafe { addr_bytes(addr, alen)? })
            };
            isize_of(io::send(&file, data, flags, to))
        })
    }

    /// sendmsg on a stack socket. SAFETY: `msg` valid (checked non-null).
    unsafe fn sendmsg_one(
        file: &OpenFile,
        msg: *const msghdr,
        flags: c_int,
    ) -> Result<usize, Errno> {
        if msg.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the caller's msghdr.
        let m = unsafe { &*msg };
        let to = if m.msg_name.is_null() || m.msg_namelen == 0 {
            None
        } else {
            // SAFETY: msg_name holds msg_namelen bytes.
            Some(unsafe { addr_bytes(m.msg_name.cast(), m.msg_namelen)? })
        };
        if m.msg_controllen != 0 {
            crate::warn_once!("sendmsg control messages on stack sockets are ignored");
        }
        // SAFETY: the msghdr's iovec array.
        let iovs = unsafe { iovecs(m.msg_iov, m.msg_iovlen)? };
        // SAFETY: as above.
        unsafe { with_gathered(iovs, |data| io::send(file, data, flags, to)) }
    }

    #[no_mangle]
    pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().sendmsg)(fd, msg, flags) };
        };
        // SAFETY: the caller's msghdr.
        guard::run(-1, || isize_of(unsafe { sendmsg_one(&file, msg, flags) }))
    }

    #[no_mangle]
    pub unsafe extern "C" fn sendmmsg(
        fd: c_int,
        vec: *mut mmsghdr,
        vlen: c_uint,
        flags: c_int,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().sendmmsg)(fd, vec, vlen, flags) };
        };
        guard::run(-1, || {
            let n = (vlen as usize).min(UIO_MAXIOV);
            if n > 0 && vec.is_null() {
                return Err(Errno::EFAULT);
            }
            let mut done = 0usize;
            while done < n {
                // SAFETY: `vec` holds `vlen` entries (caller).
                let entry = unsafe { &mut *vec.add(done) };
                // SAFETY: the entry's msghdr.
                match unsafe { sendmsg_one(&file, &entry.msg_hdr, flags) } {
                    Ok(sent) => entry.msg_len = sent as c_uint,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
                done += 1;
            }
            Ok(done as c_int)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn recv(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
    ) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().recv)(fd, buf, len, flags) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` writable bytes.
            let b = unsafe { bytes_mut(buf, len)? };
            isize_of(io::recv(&file, b, flags).map(|r| r.ret))
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn recvfrom(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        lenp: *mut socklen_t,
    ) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().recvfrom)(fd, buf, len, flags, addr, lenp) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` writable bytes.
            let b = unsafe { bytes_mut(buf, len)? };
            let r = io::recv(&file, b, flags)?;
            // SAFETY: the caller's address buffer and length pointer.
            unsafe { put_addr(addr, lenp, r.from)? };
            Ok(r.ret as ssize_t)
        })
    }

    /// recvmsg on a stack socket. SAFETY: `msg` valid (checked non-null).
    unsafe fn recvmsg_one(file: &OpenFile, msg: *mut msghdr, flags: c_int) -> Result<usize, Errno> {
        if msg.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the caller's msghdr.
        let m = unsafe { &mut *msg };
        // SAFETY: the msghdr's iovec array.
        let iovs = unsafe { iovecs(m.msg_iov, m.msg_iovlen)? };
        // SAFETY: as above, writable.
        let r = unsafe {
            with_scattered(iovs, |buf| {
                let r = io::recv(file, buf, flags)?;
                Ok((r, r.ret.min(buf.len())))
            })?
        };
        if !m.msg_name.is_null() {
            // SAFETY: msg_name holds msg_namelen bytes.
            unsafe { put_addr(m.msg_name.cast(), &mut m.msg_namelen, r.from)? };
        } else {
            m.msg_namelen = 0;
        }
        m.msg_controllen = 0;
        m.msg_flags = r.msg_flags;
        Ok(r.ret)
    }

    #[no_mangle]
    pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().recvmsg)(fd, msg, flags) };
        };
        // SAFETY: the caller's msghdr.
        guard::run(-1, || isize_of(unsafe { recvmsg_one(&file, msg, flags) }))
    }

    #[no_mangle]
    pub unsafe extern "C" fn recvmmsg(
        fd: c_int,
        vec: *mut mmsghdr,
        vlen: c_uint,
        flags: c_int,
        timeout: *mut timespec,
    ) -> c_int {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().recvmmsg)(fd, vec, vlen, flags, timeout) };
        };
        guard::run(-1, || {
            if !timeout.is_null() {
                crate::warn_once!("recvmmsg timeout argument on stack sockets is ignored");
            }
            let n = (vlen as usize).min(UIO_MAXIOV);
            if n > 0 && vec.is_null() {
                return Err(Errno::EFAULT);
            }
            let mut flags_now = flags & !MSG_WAITFORONE;
            let mut done = 0usize;
            while done < n {
                // SAFETY: `vec` holds `vlen` entries (caller).
                let entry = unsafe { &mut *vec.add(done) };
                // SAFETY: the entry's msghdr.
                match unsafe { recvmsg_one(&file, &mut entry.msg_hdr, flags_now) } {
                    Ok(got) => entry.msg_len = got as c_uint,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
                done += 1;
                if flags & MSG_WAITFORONE != 0 {
                    flags_now |= libc::MSG_DONTWAIT;
                }
            }
            Ok(done as c_int)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().read)(fd, buf, len) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` writable bytes.
            let b = unsafe { bytes_mut(buf, len)? };
            isize_of(io::recv(&file, b, 0).map(|r| r.ret))
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().write)(fd, buf, len) };
        };
        guard::run(-1, || {
            // SAFETY: the caller passes `len` readable bytes.
            let data = unsafe { bytes(buf, len)? };
            isize_of(io::send(&file, data, 0, None))
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().readv)(fd, iov, n) };
        };
        guard::run(-1, || {
            if n < 0 {
                return Err(Errno::EINVAL);
            }
            // SAFETY: the caller's iovec array.
            let iovs = unsafe { iovecs(iov, n as usize)? };
            // SAFETY: as above.
            isize_of(unsafe {
                with_scattered(iovs, |buf| io::recv(&file, buf, 0).map(|r| (r.ret, r.ret)))
            })
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
        let Some(file) = ours(fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().writev)(fd, iov, n) };
        };
        guard::run(-1, || {
            if n < 0 {
                return Err(Errno::EINVAL);
            }
            // SAFETY: the caller's iovec array.
            let iovs = unsafe { iovecs(iov, n as usize)? };
            // SAFETY: as above.
            isize_of(unsafe { with_gathered(iovs, |data| io::send(&file, data, 0, None)) })
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn sendfile(
        out_fd: c_int,
        in_fd: c_int,
        offset: *mut off_t,
        count: size_t,
    ) -> ssize_t {
        let Some(file) = ours(out_fd) else {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().sendfile)(out_fd, in_fd, offset, count) };
        };
        guard::run(-1, || {
            // SAFETY: `offset` is null or the caller's valid off_t.
            let off = unsafe { offset.as_mut() };
            isize_of(io::sendfile(&file, in_fd, off, count))
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn sendfile64(
        out_fd: c_int,
        in_fd: c_int,
        offset: *mut off_t,
        count: size_t,
    ) -> ssize_t {
        // SAFETY: off_t is 64-bit on the supported targets: same contract.
        unsafe { sendfile(out_fd, in_fd, offset, count) }
    }

    // ---- readiness --------------------------------------------------------------

    /// A struct timespec as a Duration (EINVAL when out of range).
    fn timespec_duration(ts: &timespec) -> Result<Duration, Errno> {
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// SAFETY (callers): `fds` valid for `nfds` entries.
    unsafe fn pollfds<'a>(fds: *mut pollfd, nfds: nfds_t) -> Option<&'a mut [pollfd]> {
        if fds.is_null() || nfds == 0 {
            return None;
        }
        // SAFETY: guaranteed by the caller.
        Some(unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) })
    }

    #[no_mangle]
    pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
        // SAFETY: the caller's pollfd array.
        let set = unsafe { pollfds(fds, nfds) };
        match set {
            Some(set) if !guard::busy() && poll::has_stack_fds(set) => {
                let t = (timeout >= 0).then(|| Duration::from_millis(timeout as u64));
                guard::run(-1, || poll::poll(set, t, None).map(|n| n as c_int))
            }
            // SAFETY: forwarded unchanged.
            _ => unsafe { (real().poll)(fds, nfds, timeout) },
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn ppoll(
        fds: *mut pollfd,
        nfds: nfds_t,
        ts: *const timespec,
        mask: *const sigset_t,
    ) -> c_int {
        // SAFETY: the caller's pollfd array.
        let set = unsafe { pollfds(fds, nfds) };
        match set {
            Some(set) if !guard::busy() && poll::has_stack_fds(set) => guard::run(-1, || {
                // SAFETY: null or the caller's valid timespec / sigset.
                let (t, m) = unsafe { (ts.as_ref(), mask.as_ref()) };
                let t = t.map(timespec_duration).transpose()?;
                poll::poll(set, t, m).map(|n| n as c_int)
            }),
            // SAFETY: forwarded unchanged.
            _ => unsafe { (real().ppoll)(fds, nfds, ts, mask) },
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn __poll_chk(
        fds: *mut pollfd,
        nfds: nfds_t,
        timeout: c_int,
        fdslen: size_t,
    ) -> c_int {
        if fdslen / std::mem::size_of::<pollfd>() < nfds as usize {
            chk_fail();
        }
        // SAFETY: same contract as poll.
        unsafe { poll(fds, nfds, timeout) }
    }

    #[no_mangle]
    pub unsafe extern "C" fn __ppoll_chk(
        fds: *mut pollfd,
        nfds: nfds_t,
        ts: *const timespec,
        mask: *const sigset_t,
        fdslen: size_t,
    ) -> c_int {
        if fdslen / std::mem::size_of::<pollfd>() < nfds as usize {
            chk_fail();
        }
        // SAFETY: same contract as ppoll.
        unsafe { ppoll(fds, nfds, ts, mask) }
    }

    /// The words of an fd_set for `nfds` fds. SAFETY: `set` null or valid
    /// for ceil(nfds / 64) words.
    unsafe fn set_words<'a>(set: *mut fd_set, nfds: usize) -> Option<&'a mut [u64]> {
        if set.is_null() {
            return None;
        }
        // SAFETY: guaranteed by the caller.
        Some(unsafe { std::slice::from_raw_parts_mut(set.cast::<u64>(), nfds.div_ceil(64)) })
    }

    /// True if any fd set in the three sets is a stack socket.
    /// SAFETY: as `set_words`.
    unsafe fn select_has_stack_fds(nfds: c_int, sets: [*mut fd_set; 3]) -> bool {
        if nfds <= 0 || guard::busy() {
            return false;
        }
        let entries = TABLE.entries();
        if entries.is_empty() {
            return false;
        }
        sets.iter().any(|&s| {
            // SAFETY: forwarded contract.
            let words = unsafe { set_words(s, nfds as usize) };
            words.is_some_and(|w| {
                entries.iter().any(|(fd, _)| {
                    let fd = *fd as usize;
                    fd < nfds as usize && w[fd / 64] & (1u64 << (fd % 64)) != 0
                })
            })
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn select(
        nfds: c_int,
        r: *mut fd_set,
        w: *mut fd_set,
        e: *mut fd_set,
        tv: *mut timeval,
    ) -> c_int {
        // SAFETY: the caller's fd_sets.
        if !unsafe { select_has_stack_fds(nfds, [r, w, e]) } {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().select)(nfds, r, w, e, tv) };
        }
        guard::run(-1, || {
            let n = nfds as usize;
            // SAFETY: null or the caller's timeval.
            let t = match unsafe { tv.as_ref() } {
                None => None,
                Some(t) if t.tv_sec < 0 || !(0..1_000_000).contains(&t.tv_usec) => {
                    return Err(Errno::EINVAL)
                }
                Some(t) => Some(Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)),
            };
            let start = crate::sys::monotonic_micros();
            // SAFETY: the caller's fd_sets, sized for nfds.
            let (rs, ws, es) = unsafe { (set_words(r, n), set_words(w, n), set_words(e, n)) };
            let res = poll::select(n, rs, ws, es, t, None);
            if let (Some(t), false) = (t, tv.is_null()) {
                let spent = Duration::from_micros(crate::sys::monotonic_micros() - start);
                let left = t.saturating_sub(spent);
                // SAFETY: `tv` is the caller's valid timeval (non-null).
                unsafe {
                    (*tv).tv_sec = left.as_secs() as libc::time_t;
                    (*tv).tv_usec = left.subsec_micros() as libc::suseconds_t;
                }
            }
            res.map(|c| c as c_int)
        })
    }

    #[no_mangle]
    pub unsafe extern "C" fn pselect(
        nfds: c_int,
        r: *mut fd_set,
        w: *mut fd_set,
        e: *mut fd_set,
        ts: *const timespec,
        mask: *const sigset_t,
    ) -> c_int {
        // SAFETY: the caller's fd_sets.
        if !unsafe { select_has_stack_fds(nfds, [r, w, e]) } {
            // SAFETY: forwarded unchanged.
            return unsafe { (real().pselect)(nfds, r, w, e, ts, mask) };
        }
        guard::run(-1, || {
            let n = nfds as usize;
            // SAFETY: null or the caller's timespec / sigset.
            let (t, m) = unsafe { (ts.as_ref(), mask.as_ref()) };
            let t = t.map(timespec_duration).transpose()?;
            // SAFETY: the caller's fd_sets, sized for nfds.
            let (rs, ws, es) = unsafe { (set_words(r, n), set_words(w, n), set_words(e, n)) };
            poll::select(n, rs, ws, es, t, m).map(|c| c as c_int)
        })
    }

    // ---- FORTIFY_SOURCE variants -------------------------------------------------

    #[no_mangle]
    pub unsafe extern "C" fn __recv_chk(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        buflen: size_t,
        flags: c_int,
    ) -> ssize_t {
        if len > buflen {
            chk_fail();
        }
        // SAFETY: same contract as recv.
        unsafe { recv(fd, buf, len, flags) }
    }

    #[no_mangle]
    pub unsafe extern "C" fn __recvfrom_chk(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        buflen: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        lenp: *mut socklen_t,
    ) -> ssize_t {
        if len > buflen {
            chk_fail();
        }
        // SAFETY: same contract as recvfrom.
        unsafe { recvfrom(fd, buf, len, flags, addr, lenp) }
    }

    #[no_mangle]
    pub unsafe extern "C" fn __read_chk(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        buflen: size_t,
    ) -> ssize_t {
        if len > buflen {
            chk_fail();
        }
        // SAFETY: same contract as read.
        unsafe { read(fd, buf, len) }
    }
}
