//! What the service's loop tests share: a client connection speaking the
//! protocol (one request, one reply), and a reply as the tests read it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use proto::msg::decode_reply;
use proto::Body;
use stack::Errno;

/// A reply: Ok(a number from the body: a socket id, a count) or the
/// errno, the descriptor passed with it, the data received.
pub type Answer = (Result<u64, Errno>, Option<OwnedFd>, Vec<u8>);

pub struct Client {
    pub conn: OwnedFd,
}

impl Client {
    /// Connect to the service named `name` (no `Hello` yet).
    pub fn open(name: &str) -> Client {
        let conn = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        let addr = UnixAddr::new_abstract(name.as_bytes()).unwrap();
        connect(conn.as_raw_fd(), &addr).unwrap();
        Client { conn }
    }

    /// Write one message (a request, or garbage).
    pub fn send_raw(&self, b: &[u8]) {
        let iov = [IoSlice::new(b)];
        sendmsg::<()>(self.conn.as_raw_fd(), &iov, &[], MsgFlags::empty(), None).unwrap();
    }

    /// Read one reply; without `wait`, None when there is none yet.
    pub fn reply(&self, wait: bool) -> Option<Answer> {
        let mut buf = vec![0u8; proto::MAX_MSG];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
        if !wait {
            flags |= MsgFlags::MSG_DONTWAIT;
        }
        let m = match recvmsg::<()>(self.conn.as_raw_fd(), &mut iov, Some(&mut cmsg), flags) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) if !wait => return None,
            Err(e) => panic!("reply: {e}"),
        };
        let mut fd = None;
        for c in m.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: just received, ours alone.
                fd = v.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        let n = m.bytes;
        let (v, data) = match decode_reply(&buf[..n]).expect("replies decode") {
            Ok(Body::Socket { id }) | Ok(Body::Accepted { id, .. }) => (Ok(id), vec![]),
            Ok(Body::Count(n)) => (Ok(n), vec![]),
            Ok(Body::Recv { data, .. }) => (Ok(data.len() as u64), data.to_vec()),
            Ok(_) => (Ok(0), vec![]),
            Err(e) => (Err(e), vec![]),
        };
        Some((v, fd, data))
    }
}

/// Read what a listener's anchor holds without blocking: its tokens, and
/// a connection the service handed over with its readiness
/// (proto::handoff), if one came: its id and anchor, taken (the byte
/// that tells the service an accept has it is written back).
pub fn read_anchor(a: &OwnedFd) -> Option<(u64, OwnedFd)> {
    let mut buf = [0u8; proto::handoff::READ_BUF];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let m = recvmsg::<()>(
            a.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .ok()?;
        let mut fd = None;
        for c in m.cmsgs().ok()? {
            if let ControlMessageOwned::ScmRights(v) = c {
                for f in v {
                    // SAFETY: installed for us by the kernel just now.
                    let f = unsafe { OwnedFd::from_raw_fd(f) };
                    fd.get_or_insert(f);
                }
            }
        }
        (m.bytes, fd)
    };
    let rec = proto::handoff::decode(&buf[..n]).expect("tokens or a record")?;
    let fd = fd.expect("a record brings its anchor");
    nix::sys::socket::send(fd.as_raw_fd(), &[1], MsgFlags::MSG_DONTWAIT).unwrap();
    Some((rec.id, fd))
}
