//! Data transfer on stack sockets: send/recv in all their forms (the C
//! exports gather and scatter iovecs), with Linux's blocking rules:
//! O_NONBLOCK / MSG_DONTWAIT, SO_RCVTIMEO / SO_SNDTIMEO, MSG_WAITALL,
//! partial counts after a signal or timeout, SIGPIPE on EPIPE unless
//! MSG_NOSIGNAL; and sendfile from a file to a stack socket.

use std::net::SocketAddrV4;
use std::os::fd::RawFd;

use stack::{Errno, SockType};

use crate::fdtable::OpenFile;
use crate::runtime;
use crate::sockaddr;
use crate::sys;
use crate::wait::retry;

/// Flags the shim implements itself; the stack never sees them.
const SHIM_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_WAITALL | libc::MSG_NOSIGNAL;

/// What one receive produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The value the call returns (bytes copied, or the datagram's full
    /// length under MSG_TRUNC).
    pub ret: usize,
    /// Sender, for recvfrom/recvmsg (None for streams, as Linux).
    pub from: Option<SocketAddrV4>,
    /// msg_flags for recvmsg.
    pub msg_flags: i32,
}

fn raise_sigpipe() {
    // SAFETY: sending a signal to the calling thread.
    unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGPIPE) };
}

/// send/sendto/sendmsg/write. `to` is the raw destination address, if any.
pub fn send(file: &OpenFile, data: &[u8], flags: i32, to: Option<&[u8]>) -> Result<usize, Errno> {
    let shim = runtime::for_socket()?;
    let dest = match (file.sotype, to) {
        (SockType::Dgram, Some(raw)) => Some(sockaddr::for_sendto(raw)?),
        _ => None,
    };
    let nonblocking = file.is_nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let stack_flags = flags & !SHIM_FLAGS;
    let h = file.handle;
    let r = match file.sotype {
        SockType::Dgram => retry(
            shim,
            h,
            nonblocking,
            file.sndtimeo.get(),
            Errno::EAGAIN,
            |s| s.stack.send(sys::now(), h, data, stack_flags, dest),
        ),
        SockType::Stream => {
            let mut sent = 0usize;
            let r = retry(
                shim,
                h,
                nonblocking,
                file.sndtimeo.get(),
                Errno::EAGAIN,
                |s| loop {
                    match s
                        .stack
                        .send(sys::now(), h, &data[sent..], stack_flags, None)
                    {
                        Ok(n) => {
                            sent += n;
                            if sent == data.len() || n == 0 {
                                return Ok(());
                            }
                        }
                        Err(e) => return Err(e),
                    }
                },
            );
            match r {
                Ok(()) => Ok(sent),
                Err(_) if sent > 0 => Ok(sent),
                Err(e) => Err(e),
            }
        }
    };
    if r == Err(Errno::EPIPE) && flags & libc::MSG_NOSIGNAL == 0 {
        raise_sigpipe();
    }
    r
}

/// recv/recvfrom/recvmsg/read into one buffer.
pub fn recv(file: &OpenFile, buf: &mut [u8], flags: i32) -> Result<Received, Errno> {
    let shim = runtime::for_socket()?;
    let nonblocking = file.is_nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let stack_flags = flags & !SHIM_FLAGS;
    let h = file.handle;
    let timeout = file.rcvtimeo.get();
    let stream = file.sotype == SockType::Stream;
    let waitall = stream && flags & libc::MSG_WAITALL != 0 && flags & libc::MSG_PEEK == 0;
    if !waitall {
        let meta = retry(shim, h, nonblocking, timeout, Errno::EAGAIN, |s| {
            s.stack.recv(sys::now(), h, buf, stack_flags)
        })?;
        let truncated = !stream && meta.full_len > meta.copied;
        return Ok(Received {
            ret: if !stream && flags & libc::MSG_TRUNC != 0 {
                meta.full_len
            } else {
                meta.copied
            },
            from: if stream { None } else { meta.from },
            msg_flags: if truncated { libc::MSG_TRUNC } else { 0 },
        });
    }
    let mut got = 0usize;
    let len = buf.len();
    let r = retry(shim, h, nonblocking, timeout, Errno::EAGAIN, |s| loop {
        if got == len {
            return Ok(());
        }
        match s.stack.recv(sys::now(), h, &mut buf[got..], stack_flags) {
            Ok(m) if m.copied == 0 => return Ok(()),
            Ok(m) => got += m.copied,
            Err(Errno::EAGAIN) if got > 0 && nonblocking => return Ok(()),
            Err(e) => return Err(e),
        }
    });
    match r {
        Err(_) if got > 0 => {}
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    Ok(Received {
        ret: got,
        from: None,
        msg_flags: 0,
    })
}

/// sendfile(out = stack socket, in = file): reads the file at `offset`
/// (or its current position, which is then advanced by what was sent).
pub fn sendfile(
    file: &OpenFile,
    in_fd: RawFd,
    offset: Option<&mut i64>,
    count: usize,
) -> Result<usize, Errno> {
    runtime::for_socket()?;
    if crate::fdtable::TABLE.contains(in_fd) {
        return Err(Errno::EINVAL);
    }
    let use_position = offset.is_none();
    let mut pos = match &offset {
        Some(o) => **o,
        // SAFETY: lseek has no memory preconditions.
        None => unsafe { libc::lseek(in_fd, 0, libc::SEEK_CUR) },
    };
    if pos < 0 {
        return Err(sys::last_errno());
    }
    let mut buf = vec![0u8; count.clamp(1, 64 * 1024)];
    let mut total = 0usize;
    let mut result = Ok(());
    while total < count {
        let want = (count - total).min(buf.len());
        // SAFETY: `buf` is valid for `want` bytes.
        let n = unsafe { libc::pread(in_fd, buf.as_mut_ptr().cast(), want, pos) };
        if n < 0 {
            result = Err(sys::last_errno());
            break;
        }
        if n == 0 {
            break;
        }
        match send(file, &buf[..n as usize], 0, None) {
            Ok(sent) => {
                total += sent;
                pos += sent as i64;
                if sent < n as usize {
                    break;
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if use_position {
        // SAFETY: as above.
        unsafe { libc::lseek(in_fd, pos, libc::SEEK_SET) };
    } else if let Some(o) = offset {
        *o = pos;
    }
    match result {
        Err(e) if total == 0 => Err(e),
        _ => Ok(total),
    }
}
