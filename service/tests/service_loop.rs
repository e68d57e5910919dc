//! The service's event loop driven end to end over unix sockets, without a
//! TUN device (a socket pair stands in for it; the traffic is loopback
//! inside the stack): a client that sends garbage is cut off while another
//! client's transfer goes on; the service exits once idle.

use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, socketpair, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};
use proto::msg::decode_reply;
use proto::{Body, Request};
use service::core::Core;
use service::limits::Limits;
use service::run::Service;
use stack::{Config, Errno, Stack};

const ME: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);

fn start(tag: &str, idle: Duration) -> (String, std::thread::JoinHandle<()>) {
    start_with(tag, idle, Limits::default())
}

fn start_with(tag: &str, idle: Duration, limits: Limits) -> (String, std::thread::JoinHandle<()>) {
    let name = format!("sockshimd-test/{}-{tag}", std::process::id());
    let listener = service::listener::bind_name(name.as_bytes()).unwrap();
    let (dev, _peer) = socketpair(
        AddressFamily::Unix,
        SockType::Datagram,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let h = std::thread::spawn(move || {
        let _keep = _peer;
        let mut core = Core::new(Stack::new(Config::new(ME, 24)));
        core.limits = limits;
        Service::new(core, dev, listener, idle).unwrap().run();
    });
    (name, h)
}

struct Client {
    conn: OwnedFd,
}

impl Client {
    fn connect(name: &str) -> Client {
        let conn = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        connect(
            conn.as_raw_fd(),
            &UnixAddr::new_abstract(name.as_bytes()).unwrap(),
        )
        .unwrap();
        let c = Client { conn };
        assert_eq!(
            c.call(&Request::Hello {
                version: proto::VERSION
            })
            .0,
            Ok(Body::None).map(|_: Body| 0u64)
        );
        c
    }

    fn send_raw(&self, b: &[u8]) {
        sendmsg::<()>(
            self.conn.as_raw_fd(),
            &[IoSlice::new(b)],
            &[],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
    }

    /// One call: Ok(a number from the body) or the errno, and a passed fd.
    fn call(&self, req: &Request<'_>) -> (Result<u64, Errno>, Option<OwnedFd>, Vec<u8>) {
        self.send_raw(&req.encode());
        let mut buf = vec![0u8; proto::MAX_MSG];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let m = recvmsg::<()>(
            self.conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let mut fd = None;
        for c in m.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: just received, ours alone.
                fd = v.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        let n = m.bytes;
        let rep = decode_reply(&buf[..n]).expect("replies decode");
        let (v, data) = match rep {
            Ok(Body::Socket { id }) | Ok(Body::Accepted { id, .. }) => (Ok(id), vec![]),
            Ok(Body::Count(n)) => (Ok(n), vec![]),
            Ok(Body::Recv { data, .. }) => (Ok(data.len() as u64), data.to_vec()),
            Ok(_) => (Ok(0), vec![]),
            Err(e) => (Err(e), vec![]),
        };
        (v, fd, data)
    }

    /// The service answered EINVAL (or nothing) and closed this connection.
    fn is_cut(&self) -> bool {
        let mut b = [0u8; 64];
        for _ in 0..2 {
            match nix::sys::socket::recv(self.conn.as_raw_fd(), &mut b, MsgFlags::empty()) {
                Ok(0) => return true,
                Ok(n) => assert_eq!(decode_reply(&b[..n]), Ok(Err(Errno::EINVAL))),
                Err(_) => return false,
            }
        }
        false
    }
}

fn wait_readable(fd: &OwnedFd) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(
        unsafe { libc::poll(&mut p, 1, 5000) },
        1,
        "woken within 5 s"
    );
}

fn drain(fd: &OwnedFd) {
    let mut b = [0u8; 16];
    let _ = nix::sys::socket::recv(fd.as_raw_fd(), &mut b, MsgFlags::MSG_DONTWAIT);
}

const STREAM: Request<'static> = Request::Socket {
    domain: stack::Domain::Inet,
    ty: stack::SockType::Stream,
    protocol: 0,
    spares: 0,
};

/// A 1 MiB transfer between two clients of service `name`, over a
/// connection to port `port`; `midway` runs once half of it has arrived.
fn transfer(name: &str, port: u16, midway: impl FnOnce()) {
    let srv = Client::connect(name);
    let cli = Client::connect(name);
    let (l, la, _) = srv.call(&STREAM);
    let (l, la) = (l.unwrap(), la.unwrap());
    let addr = SocketAddr::from(SocketAddrV4::new(ME, port));
    assert_eq!(srv.call(&Request::Bind { id: l, addr }).0, Ok(0));
    assert_eq!(srv.call(&Request::Listen { id: l, backlog: 4 }).0, Ok(0));
    let (k, _ka, _) = cli.call(&STREAM);
    let k = k.unwrap();
    let r = cli
        .call(&Request::Connect {
            id: k,
            addr: Some(addr),
            wait: false,
        })
        .0;
    assert!(matches!(r, Ok(_) | Err(Errno::EINPROGRESS)), "{r:?}");
    let (a, aa) = loop {
        drain(&la);
        match srv.call(&Request::Accept { id: l, wait: true }) {
            (Ok(id), Some(fd), _) => break (id, fd),
            (Err(Errno::EAGAIN), _, _) => wait_readable(&la),
            other => panic!("accept: {:?}", other.0),
        }
    };
    let total = 1 << 20;
    let chunk = vec![7u8; 16 << 10];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut midway = Some(midway);
    let deadline = Instant::now() + Duration::from_secs(20);
    while got < total {
        assert!(Instant::now() < deadline, "transfer stalled at {got}");
        if sent < total {
            let n = (total - sent).min(chunk.len());
            if let Ok(n) = cli
                .call(&Request::Send {
                    id: k,
                    flags: 0,
                    to: None,
                    wait: false,
                    data: &chunk[..n],
                })
                .0
            {
                sent += n as usize;
            }
        }
        if got > total / 2 {
            if let Some(f) = midway.take() {
                f();
            }
        }
        drain(&aa);
        let (r, _, data) = srv.call(&Request::Recv {
            id: a,
            flags: 0,
            len: 65536,
            wait: true,
        });
        match r {
            Ok(n) => {
                assert!(data.iter().all(|b| *b == 7));
                got += n as usize;
            }
            Err(Errno::EAGAIN) if sent < total => {}
            Err(Errno::EAGAIN) => wait_readable(&aa),
            Err(e) => panic!("recv: {e:?}"),
        }
    }
    assert!(midway.is_none(), "ran midway");
    assert_eq!(got, total);
}

#[test]
fn garbage_from_one_client_does_not_disturb_another_clients_transfer() {
    let (name, _svc) = start("garbage", Duration::from_secs(60));
    transfer(&name, 9000, || {
        // Mid-transfer, another client sends garbage of every kind.
        for g in [&b""[..], b"\xff\xff", b"\x0a\x00garbage", &[0u8; 300][..]] {
            let bad = Client::connect(&name);
            bad.send_raw(g);
            assert!(bad.is_cut(), "a malformed client is cut off: {g:?}");
        }
    });
}

#[test]
fn a_client_at_its_caps_gets_emfile_then_enobufs_while_another_clients_transfer_goes_on() {
    // Room for 4 sockets, and buffers for 3 at the defaults.
    let one = {
        let c = Core::new(Stack::new(Config::new(ME, 24)));
        let mut v = [0u8; 4];
        let h = c
            .stack
            .socket_in(stack::Domain::Inet, stack::SockType::Stream, 0)
            .unwrap();
        let mut sum = 0;
        for name in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
            c.stack
                .getsockopt(h, libc::SOL_SOCKET, name, &mut v)
                .unwrap();
            sum += u64::from(u32::from_ne_bytes(v));
        }
        sum
    };
    let limits = Limits {
        sockets: 3,
        sbsize: 3 * one + one / 2,
    };
    let (name, _svc) = start_with("caps", Duration::from_secs(60), limits);
    transfer(&name, 9001, || {
        let greedy = Client::connect(&name);
        let mut held = vec![];
        for _ in 0..3 {
            let (id, fd, _) = greedy.call(&STREAM);
            held.push((id.expect("within the caps"), fd.unwrap()));
        }
        assert_eq!(greedy.call(&STREAM).0, Err(Errno::EMFILE), "past the count");
        // A bigger receive buffer on one, another closed: within the
        // count, past the memory.
        let big = (one as i32).to_ne_bytes();
        let r = greedy.call(&Request::Setsockopt {
            id: held[0].0,
            level: libc::SOL_SOCKET,
            name: libc::SO_RCVBUF,
            val: &big,
        });
        assert_eq!(r.0, Ok(0));
        let (id, fd) = held.pop().unwrap();
        drop(fd);
        assert_eq!(greedy.call(&Request::Closed { id, last: true }).0, Ok(0));
        assert_eq!(
            greedy.call(&STREAM).0,
            Err(Errno::ENOBUFS),
            "past the memory"
        );
    });
}

#[test]
fn the_service_exits_when_idle_and_not_before() {
    let (name, svc) = start("idle", Duration::from_millis(300));
    let c = Client::connect(&name);
    let (id, anchor, _) = c.call(&Request::Socket {
        domain: stack::Domain::Inet,
        ty: stack::SockType::Dgram,
        protocol: 0,
        spares: 0,
    });
    id.unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!svc.is_finished(), "a client with a socket keeps it alive");
    drop(anchor);
    drop(c);
    let t0 = Instant::now();
    while !svc.is_finished() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "idle service did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "exited before the idle period"
    );
}
