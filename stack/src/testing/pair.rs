//! `Pair`: stacks A (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2) on one
//! virtual link.
//! `drive()` runs both until quiet, advancing virtual time to the next
//! event, and calls `check_invariants()` on both after every step.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use crate::config::Config;
use crate::faults::{FaultSpec, FaultyLink};
use crate::time::Instant;
use crate::{Domain, Errno, SockType, SocketHandle, Stack};

pub const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const A_ADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub const B_ADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// Link impairments of the pair's virtual link (both directions).
pub type LinkParams = FaultSpec;

pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    pub params: LinkParams,
    a_to_b: FaultyLink,
    b_to_a: FaultyLink,
    pub frames_a_to_b: u64,
    pub frames_b_to_a: u64,
    /// What A's device does with A's frames (each stack's `Config::offloads`
    /// says what it may send).
    pub a_device: Device,
    /// The longest frame A's device put on the link.
    pub max_frame_a_to_b: usize,
    /// A rate limit with a drop-tail queue before the A-to-B link.
    pub bottleneck: Option<super::bottleneck::Bottleneck>,
}

/// A's device in a `Pair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Frames pass as they are.
    Plain,
    /// Frames go through a `virtio_net_hdr` and are cut and checksummed
    /// as the kernel does (`gso::kernel_segment`): B sees MTU frames.
    KernelSegments,
    /// Frames go through a `virtio_net_hdr` and reach B whole with it, as
    /// the kernel hands its own super-frames to a TUN reader.
    Whole,
}

impl Pair {
    pub fn new(seed: u64) -> Pair {
        Pair::with_config(seed, |_| {})
    }

    pub fn with_config(seed: u64, tweak: impl Fn(&mut Config)) -> Pair {
        let mut ca = Config::new(A_ADDR, 24);
        ca.seed = seed.wrapping_mul(2).wrapping_add(1);
        ca.secret = ca.seed;
        let mut cb = Config::new(B_ADDR, 24);
        cb.seed = seed.wrapping_mul(2).wrapping_add(2);
        cb.secret = cb.seed;
        ca.addr6 = Some(A_ADDR6);
        cb.addr6 = Some(B_ADDR6);
        tweak(&mut ca);
        tweak(&mut cb);
        Pair {
            a: Stack::new(ca),
            b: Stack::new(cb),
            now: Instant::from_millis(1000),
            params: LinkParams {
                delay: Duration::from_millis(1),
                ..Default::default()
            },
            a_to_b: FaultyLink::new(seed ^ 0xabcdef),
            b_to_a: FaultyLink::new(seed ^ 0xfedcba),
            frames_a_to_b: 0,
            frames_b_to_a: 0,
            a_device: Device::Plain,
            max_frame_a_to_b: 0,
            bottleneck: None,
        }
    }

    /// Move frames onto the link and deliver those due. True if anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for to_b in [true, false] {
            loop {
                let from = if to_b { &self.a } else { &self.b };
                let mut hdr = [0u8; crate::wire::virtio_net::HDR_LEN];
                let frames = match (to_b, self.a_device) {
                    (true, Device::KernelSegments) => from.poll_transmit_vnet(&mut hdr).map(|f| {
                        let h = crate::wire::virtio_net::VirtioNetHdr::parse(&hdr).unwrap();
                        super::gso::kernel_segment(&h, &f)
                    }),
                    (true, Device::Whole) => from.poll_transmit_vnet(&mut hdr).map(|f| {
                        let mut v = hdr.to_vec();
                        v.extend_from_slice(&f);
                        vec![v]
                    }),
                    _ => from.poll_transmit().map(|f| vec![f]),
                };
                let Some(frames) = frames else {
                    break;
                };
                moved = true;
                for frame in frames {
                    if to_b {
                        self.frames_a_to_b += 1;
                        self.max_frame_a_to_b = self.max_frame_a_to_b.max(frame.len());
                    } else {
                        self.frames_b_to_a += 1;
                    }
                    let mut at = self.now;
                    if let (true, Some(b)) = (to_b, self.bottleneck.as_mut()) {
                        match b.admit(self.now, frame.len()) {
                            Some(t) => at = t,
                            None => continue,
                        }
                    }
                    let link = if to_b {
                        &mut self.a_to_b
                    } else {
                        &mut self.b_to_a
                    };
                    link.push(&self.params, at, frame);
                }
            }
        }
        // Deliver due frames in time order, A->B before B->A at one instant.
        for to_b in [true, false] {
            loop {
                let link = if to_b {
                    &mut self.a_to_b
                } else {
                    &mut self.b_to_a
                };
                let Some(frame) = link.pop_due(self.now) else {
                    break;
                };
                moved = true;
                let to = if to_b { &self.b } else { &self.a };
                if to_b && self.a_device == Device::Whole {
                    to.handle_vnet_frame(self.now, &frame);
                } else {
                    to.handle_frame(self.now, &frame);
                }
                self.check();
            }
        }
        for s in [&self.a, &self.b] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
                moved = true;
                self.check();
            }
        }
        moved
    }

    pub fn check(&self) {
        self.a.check_invariants();
        self.b.check_invariants();
    }

    /// The next instant anything is scheduled.
    fn next_event(&self) -> Option<Instant> {
        [
            self.a_to_b.next_due(),
            self.b_to_a.next_due(),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run until nothing is in flight and no timer is due before `limit`
    /// from now; returns the virtual time spent.
    pub fn drive_for(&mut self, limit: Duration) -> Duration {
        let start = self.now;
        let end = self.now + limit;
        loop {
            while self.step() {}
            match self.next_event() {
                Some(t) if t <= end => self.now = self.now.max(t),
                _ => break,
            }
        }
        self.now = self.now.max(end);
        self.now - start
    }

    /// Drive for up to 10 virtual seconds.
    pub fn drive(&mut self) {
        self.drive_for(Duration::from_secs(10));
    }

    /// A TCP listener on B:port with `backlog`.
    pub fn listener_b(&self, port: u16, backlog: i32) -> SocketHandle {
        let l = self.b.socket(SockType::Stream, 0).unwrap();
        self.b.bind(l, SocketAddrV4::new(B_ADDR, port)).unwrap();
        self.b.listen(l, backlog).unwrap();
        l
    }

    /// Listener on B:port, connection from A, accepted on B.
    /// Returns (listener on B, client on A, server socket on B).
    pub fn connected(&mut self, port: u16) -> (SocketHandle, SocketHandle, SocketHandle) {
        let l = self.listener_b(port, 16);
        let c = self.a.socket(SockType::Stream, 0).unwrap();
        assert_eq!(
            self.a
                .connect(self.now, c, Some(SocketAddrV4::new(B_ADDR, port).into())),
            Err(Errno::EINPROGRESS)
        );
        self.drive();
        assert_eq!(self.a.connect_status(c), Ok(true), "connect completes");
        let (s, peer) = self.b.accept(l).expect("accept");
        assert_eq!(peer.ip(), A_ADDR);
        (l, c, s)
    }

    /// `connected` over IPv6: an AF_INET6 listener on B's `[::]:port`
    /// (dual stack), an AF_INET6 client on A connecting to `[fd00::2]`.
    pub fn connected6(&mut self, port: u16) -> (SocketHandle, SocketHandle, SocketHandle) {
        let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
        let l = self
            .b
            .socket_in(Domain::Inet6, SockType::Stream, 0)
            .unwrap();
        self.b.bind(l, any6).unwrap();
        self.b.listen(l, 16).unwrap();
        let c = self
            .a
            .socket_in(Domain::Inet6, SockType::Stream, 0)
            .unwrap();
        let to = SocketAddr::new(B_ADDR6.into(), port);
        assert_eq!(
            self.a.connect(self.now, c, Some(to)),
            Err(Errno::EINPROGRESS)
        );
        self.drive();
        assert_eq!(self.a.connect_status(c), Ok(true), "connect completes");
        let (s, peer) = self.b.accept(l).expect("accept");
        assert_eq!(peer.ip(), A_ADDR6);
        (l, c, s)
    }

    /// Send all of `data` from `from` on stack `src_is_a`, reading it at
    /// `to`; returns what was received once `expect` bytes arrived.
    pub fn transfer(
        &mut self,
        src_is_a: bool,
        from: SocketHandle,
        to: SocketHandle,
        data: &[u8],
    ) -> Vec<u8> {
        let mut sent = 0;
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 65536];
        let mut idle = 0;
        while got.len() < data.len() {
            let (s, r) = if src_is_a {
                (&self.a, &self.b)
            } else {
                (&self.b, &self.a)
            };
            let mut progressed = false;
            if sent < data.len() {
                match s.send(self.now, from, &data[sent..], 0, None) {
                    Ok(n) => {
                        sent += n;
                        progressed = true;
                    }
                    Err(Errno::EAGAIN) => {}
                    Err(e) => panic!("send failed: {e:?}"),
                }
            }
            loop {
                match r.recv(self.now, to, &mut buf, 0) {
                    Ok(m) if m.copied > 0 => {
                        got.extend_from_slice(&buf[..m.copied]);
                        progressed = true;
                    }
                    Ok(_) => panic!("unexpected EOF after {} bytes", got.len()),
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("recv failed: {e:?}"),
                }
            }
            if !self.step() {
                match self.next_event() {
                    Some(t) => self.now = self.now.max(t),
                    None if !progressed => {
                        idle += 1;
                        assert!(
                            idle < 3,
                            "transfer stalled at {} of {} bytes",
                            got.len(),
                            data.len()
                        );
                    }
                    None => {}
                }
            }
        }
        got
    }
}
