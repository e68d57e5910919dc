//! The service's event loop driven end to end over unix sockets, without a
//! TUN device (a socket pair stands in for it; the traffic is loopback
//! inside the stack): a client that sends garbage is cut off while another
//! client's transfer goes on; the service exits once idle.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use proto::msg::decode_reply;
use proto::Request;
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

mod common;
use common::{Answer, Client};

/// One call, the service answering from its own thread.
fn call(c: &Client, req: &Request<'_>) -> Answer {
    c.send_raw(&req.encode());
    c.reply(true).expect("a reply")
}

/// A client that said `Hello`.
fn hello(name: &str) -> Client {
    let c = Client::open(name);
    let hello = Request::Hello {
        version: proto::VERSION,
    };
    assert_eq!(call(&c, &hello).0, Ok(0));
    c
}

/// The service answered EINVAL (or nothing) and closed this connection.
fn is_cut(c: &Client) -> bool {
    let mut b = [0u8; 64];
    for _ in 0..2 {
        match nix::sys::socket::recv(c.conn.as_raw_fd(), &mut b, MsgFlags::empty()) {
            Ok(0) => return true,
            Ok(n) => assert_eq!(decode_reply(&b[..n]), Ok(Err(Errno::EINVAL))),
            Err(_) => return false,
        }
    }
    false
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
    let srv = hello(name);
    let cli = hello(name);
    let (l, la, _) = call(&srv, &STREAM);
    let (l, la) = (l.unwrap(), la.unwrap());
    let addr = SocketAddr::from(SocketAddrV4::new(ME, port));
    assert_eq!(call(&srv, &Request::Bind { id: l, addr }).0, Ok(0));
    assert_eq!(call(&srv, &Request::Listen { id: l, backlog: 4 }).0, Ok(0));
    let (k, _ka, _) = call(&cli, &STREAM);
    let k = k.unwrap();
    let r = call(
        &cli,
        &Request::Connect {
            id: k,
            addr: Some(addr),
            wait: false,
        },
    )
    .0;
    assert!(matches!(r, Ok(_) | Err(Errno::EINPROGRESS)), "{r:?}");
    let (a, aa) = loop {
        // Held by one client: the connection comes on the anchor.
        if let Some(got) = common::read_anchor(&la) {
            break got;
        }
        match call(&srv, &Request::Accept { id: l, wait: true }) {
            (Ok(id), Some(fd), _) => break (id, fd),
            (Err(Errno::EINPROGRESS), _, _) => continue,
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
            if let Ok(n) = call(
                &cli,
                &Request::Send {
                    id: k,
                    flags: 0,
                    to: None,
                    wait: false,
                    data: &chunk[..n],
                },
            )
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
        let (r, _, data) = call(
            &srv,
            &Request::Recv {
                id: a,
                flags: 0,
                len: 65536,
                wait: true,
            },
        );
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
            let bad = hello(&name);
            bad.send_raw(g);
            assert!(is_cut(&bad), "a malformed client is cut off: {g:?}");
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
        let greedy = hello(&name);
        let mut held = vec![];
        for _ in 0..3 {
            let (id, fd, _) = call(&greedy, &STREAM);
            held.push((id.expect("within the caps"), fd.unwrap()));
        }
        assert_eq!(
            call(&greedy, &STREAM).0,
            Err(Errno::EMFILE),
            "past the count"
        );
        // A bigger receive buffer on one, another closed: within the
        // count, past the memory.
        let big = (one as i32).to_ne_bytes();
        let r = call(
            &greedy,
            &Request::Setsockopt {
                id: held[0].0,
                level: libc::SOL_SOCKET,
                name: libc::SO_RCVBUF,
                val: &big,
            },
        );
        assert_eq!(r.0, Ok(0));
        let (id, fd) = held.pop().unwrap();
        drop(fd);
        assert_eq!(call(&greedy, &Request::Closed { id, last: true }).0, Ok(0));
        assert_eq!(
            call(&greedy, &STREAM).0,
            Err(Errno::ENOBUFS),
            "past the memory"
        );
    });
}

#[test]
fn the_service_exits_when_idle_and_not_before() {
    let (name, svc) = start("idle", Duration::from_millis(300));
    let c = hello(&name);
    let (id, anchor, _) = call(
        &c,
        &Request::Socket {
            domain: stack::Domain::Inet,
            ty: stack::SockType::Dgram,
            protocol: 0,
            spares: 0,
        },
    );
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
