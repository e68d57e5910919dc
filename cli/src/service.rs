//! Talking to the namespace's stack service `sockshimd` from the CLI (the
//! live tools: `stat`, `capture`): connect to its abstract name, say hello,
//! one request and its reply at a time.

use nix::sys::socket::{
    connect, recv, send, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use std::os::fd::{AsRawFd, OwnedFd};

use proto::{msg::decode_reply, Body, Request};

pub struct Service {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Service {
    /// Connect to the service of device `tun` in this namespace. The
    /// error is one line saying why and what to do.
    pub fn connect(tun: &str) -> Result<Service, String> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| format!("socket: {e}"))?;
        let addr = UnixAddr::new_abstract(&proto::name::service_name(tun))
            .map_err(|e| format!("service name: {e}"))?;
        connect(fd.as_raw_fd(), &addr).map_err(|e| match e {
            nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOENT => format!(
                "no stack service for device '{tun}' in this network namespace: the live tools \
                 need SOCKSHIM_MODE=service (a program in process mode keeps its stack to \
                 itself); run inside the program's namespace (ip netns exec NAME ...)"
            ),
            e => format!("cannot reach the stack service for '{tun}': {e}"),
        })?;
        let mut s = Service {
            fd,
            buf: vec![0; proto::MAX_MSG + 1],
        };
        s.call(&Request::Hello {
            version: proto::VERSION,
        })?;
        Ok(s)
    }

    /// Send `req` with `fd` attached (SCM_RIGHTS); Ok when the service
    /// accepted it.
    pub fn call_with_fd(&mut self, req: &Request<'_>, fd: &OwnedFd) -> Result<(), String> {
        let raw = [fd.as_raw_fd()];
        let cm = [ControlMessage::ScmRights(&raw)];
        let b = req.encode();
        let iov = [std::io::IoSlice::new(&b)];
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cm, MsgFlags::MSG_NOSIGNAL, None)
            .map_err(|e| format!("service: {e}"))?;
        self.reply().map(|_| ())
    }

    /// Send `req`; the reply's body, re-encoded as owned bytes (the text
    /// of a `Body::Text`, nothing for others).
    pub fn call(&mut self, req: &Request<'_>) -> Result<Vec<u8>, String> {
        send(self.fd.as_raw_fd(), &req.encode(), MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| format!("service: {e}"))?;
        self.reply()
    }

    fn reply(&mut self) -> Result<Vec<u8>, String> {
        let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())
            .map_err(|e| format!("service: {e}"))?;
        if n == 0 {
            return Err("the stack service closed the connection".into());
        }
        match decode_reply(&self.buf[..n]) {
            Ok(Ok(Body::Text(t))) => Ok(t.to_vec()),
            Ok(Ok(_)) => Ok(Vec::new()),
            Ok(Err(e)) if e.0 == libc_eacces() => {
                Err("the stack service refused: run as root or as the service's user".into())
            }
            Ok(Err(e)) => Err(format!(
                "the stack service answered {}",
                std::io::Error::from_raw_os_error(e.0)
            )),
            Err(m) => Err(format!("the stack service's reply does not decode: {m:?}")),
        }
    }
}

fn libc_eacces() -> i32 {
    nix::errno::Errno::EACCES as i32
}
