//! splice(2) with a stack socket at one end and a kernel pipe at the
//! other, as Linux's `do_splice` answers it (6.x): the pipe's waits follow
//! SPLICE_F_NONBLOCK and the pipe's O_NONBLOCK, the socket's waits its
//! own O_NONBLOCK only (tcp_splice_read's `sock_rcvtimeo`, splice_to_socket's
//! sendmsg). Bytes move through a buffer here; nothing leaves the pipe or
//! the socket before the other end has taken it: the pipe is read with
//! tee(2) into a private pipe and consumed by what the socket accepted,
//! the TCP socket is peeked and consumed by what the pipe accepted.
//! tee(2) and vmsplice(2) take pipes only: on a stack socket the kernel
//! gives the answer Linux gives for a socket (EINVAL, EBADF).

use libc::{c_int, c_uint, c_void, loff_t, size_t, ssize_t};
use stack::SockType;

use crate::fdtable::OpenFile;
use crate::ops::{self, R};
use crate::real::real;
use crate::{guard, ours, uaccess};

/// Linux's SPLICE_F_ALL: MOVE | NONBLOCK | MORE | GIFT.
const SPLICE_F_ALL: c_uint = 0x0f;

/// Most bytes one pass through our buffer moves (a call loops).
const CHUNK: usize = 1 << 16;

/// splice(2): one end ours, the other a pipe; otherwise the kernel's.
///
/// # Safety
/// Standard splice(2) contract.
#[no_mangle]
pub unsafe extern "C" fn splice(
    fd_in: c_int,
    off_in: *mut loff_t,
    fd_out: c_int,
    off_out: *mut loff_t,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    let (sin, sout) = (ours(fd_in), ours(fd_out));
    if sin.is_none() && sout.is_none() {
        // SAFETY: pass-through.
        return unsafe { (real().splice)(fd_in, off_in, fd_out, off_out, len, flags) };
    }
    if len == 0 {
        return 0;
    }
    guard(|| {
        if flags & !SPLICE_F_ALL != 0 {
            return Err(libc::EINVAL);
        }
        let len = len.min(uaccess::MAX_RW_COUNT);
        match (sin, sout) {
            (Some(sock), None) => {
                let pipe_fl = check_ends(fd_out, false, off_out, off_in)?;
                socket_to_pipe(&sock, fd_out, pipe_fl, len, flags)
            }
            (None, Some(sock)) => {
                let pipe_fl = check_ends(fd_in, true, off_in, off_out)?;
                pipe_to_socket(fd_in, pipe_fl, &sock, len, flags)
            }
            // Two sockets: neither is a pipe.
            _ => Err(libc::EINVAL),
        }
        .map(|n| n as ssize_t)
    })
}

/// `do_splice`'s checks of the two ends, in its order: the pipe end
/// (EBADF, EINVAL when it is no pipe), the pipe's offset (ESPIPE), the
/// socket's (`offset_in`). The pipe's file status flags.
fn check_ends(pipe: c_int, read: bool, pipe_off: *mut loff_t, sock_off: *mut loff_t) -> R<c_int> {
    let Some(fl) = other_end(pipe, read)? else {
        return Err(libc::EINVAL);
    };
    if !pipe_off.is_null() {
        return Err(libc::ESPIPE);
    }
    offset_in(sock_off)?;
    Ok(fl)
}

/// The kernel end of a splice: Some(file status flags) for a pipe or
/// FIFO open the way the call uses it, None for anything else; EBADF for
/// a closed descriptor or one open the wrong way (`do_splice`'s FMODE
/// check comes before its EINVAL for two non-pipes).
fn other_end(fd: c_int, read: bool) -> R<Option<c_int>> {
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { (real().fcntl)(fd, libc::F_GETFL, 0) };
    if fl < 0 {
        return Err(libc::EBADF);
    }
    let acc = fl & libc::O_ACCMODE;
    let ok = if read {
        acc != libc::O_WRONLY
    } else {
        acc != libc::O_RDONLY
    };
    if !ok {
        return Err(libc::EBADF);
    }
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat into a local struct.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(libc::EBADF);
    }
    Ok((st.st_mode & libc::S_IFMT == libc::S_IFIFO).then_some(fl))
}

/// The socket's offset: Linux copies it in (EFAULT), then refuses it
/// (EINVAL: a socket has no position).
fn offset_in(off: *mut loff_t) -> R<()> {
    if off.is_null() {
        return Ok(());
    }
    // SAFETY: loff_t accepts any bit pattern; read_val checks access.
    unsafe { uaccess::read_val(off as *const loff_t) }?;
    Err(libc::EINVAL)
}

fn errno() -> i32 {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// poll(2) one descriptor for `events`; `ms` -1 waits. A signal gives
/// EINTR unless the kernel would have restarted the call (SA_RESTART),
/// then the wait goes on.
fn poll_one(fd: c_int, events: i16, ms: c_int) -> R<i16> {
    loop {
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { (real().poll)(&mut p, 1, ms) };
        if r >= 0 {
            return Ok(p.revents);
        }
        let x = errno();
        if x != libc::EINTR || ms == 0 || !crate::wait::handlers_restart() {
            return Err(x);
        }
    }
}

/// Linux `wait_for_space`: the bytes the pipe can take now, waiting
/// for room unless `nonblock` (EAGAIN); EPIPE (and SIGPIPE) without a
/// reader.
fn pipe_room(pipe: c_int, nonblock: bool) -> R<usize> {
    loop {
        let ev = poll_one(pipe, libc::POLLOUT, 0)?;
        if ev & libc::POLLERR != 0 {
            // SAFETY: raising a signal in this thread, as the kernel would.
            unsafe { libc::raise(libc::SIGPIPE) };
            return Err(libc::EPIPE);
        }
        if ev & libc::POLLOUT != 0 {
            // SAFETY: F_GETPIPE_SZ takes no argument.
            let size = unsafe { (real().fcntl)(pipe, libc::F_GETPIPE_SZ, 0) };
            let mut queued: c_int = 0;
            // SAFETY: FIONREAD writes one int.
            let r = unsafe {
                (real().ioctl)(
                    pipe,
                    libc::FIONREAD,
                    &mut queued as *mut c_int as libc::c_ulong,
                )
            };
            if size > 0 && r == 0 && queued < size {
                return Ok((size - queued) as usize);
            }
        }
        if nonblock {
            return Err(libc::EAGAIN);
        }
        poll_one(pipe, libc::POLLOUT, -1)?;
    }
}

/// Socket to pipe (Linux: `splice_file_to_pipe`, then tcp_splice_read):
/// room in the pipe first, then the socket's data, as much as is there.
fn socket_to_pipe(
    sock: &OpenFile,
    pipe: c_int,
    pipe_fl: c_int,
    len: usize,
    flags: c_uint,
) -> R<usize> {
    let nonblock = flags & libc::SPLICE_F_NONBLOCK != 0 || pipe_fl & libc::O_NONBLOCK != 0;
    let mut room = pipe_room(pipe, nonblock)?;
    if sock.ty == SockType::Stream && at_urgent_byte(sock)? {
        // tcp_splice_read: EAGAIN on a non-blocking socket, else 0.
        return if sock.is_nonblock() {
            Err(libc::EAGAIN)
        } else {
            Ok(0)
        };
    }
    let mut buf = vec![0u8; len.min(room).min(CHUNK)];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(room).min(CHUNK);
        if want == 0 {
            break;
        }
        // After the first bytes: only what is there now.
        let fl = if done > 0 { libc::MSG_DONTWAIT } else { 0 };
        let stream = sock.ty == SockType::Stream;
        // Nor past the urgent mark (a read stops there).
        if stream && done > 0 && ops::siocatmark(sock)? {
            break;
        }
        let peek = if stream { libc::MSG_PEEK } else { 0 };
        let got = match ops::recv(sock, &mut buf[..want], fl | peek) {
            Ok((n, _, _)) => n,
            Err(_) if done > 0 => break,
            Err(x) => return Err(x),
        };
        if got == 0 {
            break;
        }
        // SAFETY: writing our own buffer to the caller's pipe.
        let w = unsafe { (real().write)(pipe, buf.as_ptr() as *const c_void, got) };
        if w <= 0 {
            if done > 0 {
                break;
            }
            return Err(if w < 0 { errno() } else { libc::EAGAIN });
        }
        let w = w as usize;
        if stream {
            // Consume what the pipe took (peeked above, so it is there).
            ops::recv(sock, &mut buf[..w], libc::MSG_DONTWAIT)?;
        }
        done += w;
        if w < got || !stream {
            break;
        }
        room = match pipe_room(pipe, true) {
            Ok(r) => r,
            Err(_) => break,
        };
    }
    Ok(done)
}

/// Linux's tcp_read_sock stops at the urgent mark: once the urgent byte
/// is there (or was read with MSG_OOB), a splice from the mark moves
/// nothing, whether or not the byte is inline, and does not wait for
/// more; before the byte arrives it waits like any read.
fn at_urgent_byte(sock: &OpenFile) -> R<bool> {
    if !ops::siocatmark(sock)? {
        return Ok(false);
    }
    let mut one = [0u8; 1];
    let oob = libc::MSG_OOB | libc::MSG_PEEK | libc::MSG_DONTWAIT;
    Ok(ops::recv(sock, &mut one, oob) != Err(libc::EAGAIN))
}

/// A pipe made for one call, closed when dropped.
struct Scratch([c_int; 2]);

impl Scratch {
    fn new() -> R<Scratch> {
        let mut p = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into `p`.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(errno());
        }
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for fd in self.0 {
            // SAFETY: closing the descriptors this struct owns.
            unsafe { (real().close)(fd) };
        }
    }
}

/// Linux `splice_to_socket`'s wait: until the pipe has data (true), is
/// empty without a writer (false), or EAGAIN when `nonblock`.
fn pipe_data(pipe: c_int, nonblock: bool) -> R<bool> {
    loop {
        let ev = poll_one(pipe, libc::POLLIN, 0)?;
        if ev & libc::POLLIN != 0 {
            return Ok(true);
        }
        if ev & libc::POLLHUP != 0 {
            return Ok(false);
        }
        if nonblock {
            return Err(libc::EAGAIN);
        }
        poll_one(pipe, libc::POLLIN, -1)?;
    }
}

/// Pipe to socket (Linux: `splice_to_socket`): wait for pipe data, then
/// send it; the pipe loses only what the socket took.
fn pipe_to_socket(
    pipe: c_int,
    pipe_fl: c_int,
    sock: &OpenFile,
    len: usize,
    flags: c_uint,
) -> R<usize> {
    let nonblock = flags & libc::SPLICE_F_NONBLOCK != 0 || pipe_fl & libc::O_NONBLOCK != 0;
    if !pipe_data(pipe, nonblock)? {
        return Ok(0);
    }
    let scratch = Scratch::new()?;
    let mut buf = vec![0u8; len.min(CHUNK)];
    let send_flags = if flags & libc::SPLICE_F_MORE != 0 {
        libc::MSG_MORE
    } else {
        0
    };
    let mut done = 0;
    while done < len {
        let want = (len - done).min(CHUNK);
        // SAFETY: tee between two pipes, without waiting.
        let t = unsafe { libc::tee(pipe, scratch.0[1], want, libc::SPLICE_F_NONBLOCK as c_uint) };
        if t <= 0 {
            if done > 0 || t == 0 {
                break;
            }
            return Err(errno());
        }
        // SAFETY: reading the private pipe into our buffer.
        let got =
            unsafe { (real().read)(scratch.0[0], buf.as_mut_ptr() as *mut c_void, t as usize) };
        if got <= 0 {
            return Err(if got < 0 { errno() } else { libc::EIO });
        }
        let got = got as usize;
        let sent = match ops::send(sock, &buf[..got], send_flags, None) {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(x) => return Err(x),
        };
        // Take from the caller's pipe what the socket accepted.
        let mut left = sent;
        while left > 0 {
            // SAFETY: reading the caller's pipe into our buffer; the bytes
            // are there (tee saw them).
            let r = unsafe { (real().read)(pipe, buf.as_mut_ptr() as *mut c_void, left) };
            if r <= 0 {
                break;
            }
            left -= r as usize;
        }
        done += sent;
        if sent < got {
            break;
        }
        if !matches!(poll_one(pipe, libc::POLLIN, 0), Ok(ev) if ev & libc::POLLIN != 0) {
            break;
        }
    }
    Ok(done)
}
