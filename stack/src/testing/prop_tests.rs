//! Property tests: random API calls and random or malformed frames applied
//! to two stacks never panic, and the invariants hold after every step.

use std::net::SocketAddrV4;
use std::time::Duration;

use proptest::prelude::*;

use crate::testing::pair::{Pair, A_ADDR, B_ADDR};
use crate::testing::trace::Seg;
use crate::time::Instant;
use crate::wire::TcpFlags;
use crate::{Config, SockType, SocketHandle, Stack};

#[derive(Debug, Clone)]
enum Op {
    Socket(bool, bool),
    Bind(bool, usize, u16),
    Listen(bool, usize, i32),
    Connect(bool, usize, u16),
    Accept(bool, usize),
    Send(bool, usize, usize),
    Recv(bool, usize, usize),
    Shutdown(bool, usize, i32),
    Close(bool, usize),
    Dup(bool, usize),
    Garbage(bool, Vec<u8>),
    Segment(bool, u16, u16, u32, u32, u8, Vec<u8>),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let port = prop_oneof![Just(80u16), Just(81u16), 0u16..3];
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(a, t)| Op::Socket(a, t)),
        (any::<bool>(), 0..8usize, port.clone()).prop_map(|(a, i, p)| Op::Bind(a, i, p)),
        (any::<bool>(), 0..8usize, -1..4i32).prop_map(|(a, i, b)| Op::Listen(a, i, b)),
        (any::<bool>(), 0..8usize, port.clone()).prop_map(|(a, i, p)| Op::Connect(a, i, p)),
        (any::<bool>(), 0..8usize).prop_map(|(a, i)| Op::Accept(a, i)),
        (any::<bool>(), 0..8usize, 0..5000usize).prop_map(|(a, i, n)| Op::Send(a, i, n)),
        (any::<bool>(), 0..8usize, 0..5000usize).prop_map(|(a, i, n)| Op::Recv(a, i, n)),
        (any::<bool>(), 0..8usize, -1..4i32).prop_map(|(a, i, h)| Op::Shutdown(a, i, h)),
        (any::<bool>(), 0..8usize).prop_map(|(a, i)| Op::Close(a, i)),
        (any::<bool>(), 0..8usize).prop_map(|(a, i)| Op::Dup(a, i)),
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(a, v)| Op::Garbage(a, v)),
        (
            any::<bool>(),
            port.clone(),
            port,
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(a, s, d, q, k, f, p)| Op::Segment(a, s, d, q, k, f, p)),
        (0u16..3000).prop_map(Op::Advance),
    ]
}

/// PROPTEST_CASES if set (scripts/fuzz), else `default`.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pick(v: &[SocketHandle], i: usize) -> Option<SocketHandle> {
    if v.is_empty() {
        None
    } else {
        Some(v[i % v.len()])
    }
}

proptest! {
    // 96 cases in CI; scripts/fuzz sets PROPTEST_CASES for a long run.
    #![proptest_config(ProptestConfig::with_cases(cases_or(96)))]

    #[test]
    fn random_calls_and_frames_never_break_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut p = Pair::new(77);
        let mut handles: [Vec<SocketHandle>; 2] = [Vec::new(), Vec::new()];
        for op in ops {
            let now = p.now;
            let side = |a: bool| if a { 0 } else { 1 };
            match op {
                Op::Socket(a, tcp) => {
                    let s = if a { &p.a } else { &p.b };
                    if let Ok(h) = s.socket(if tcp { SockType::Stream } else { SockType::Dgram }, 0) {
                        handles[side(a)].push(h);
                    }
                }
                Op::Bind(a, i, port) => if let Some(h) = pick(&handles[side(a)], i) {
                    let (s, ip) = if a { (&p.a, A_ADDR) } else { (&p.b, B_ADDR) };
                    let _ = s.bind(h, SocketAddrV4::new(ip, port));
                },
                Op::Listen(a, i, b) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    let _ = s.listen(h, b);
                },
                Op::Connect(a, i, port) => if let Some(h) = pick(&handles[side(a)], i) {
                    let (s, ip) = if a { (&p.a, B_ADDR) } else { (&p.b, A_ADDR) };
                    let _ = s.connect(now, h, Some(SocketAddrV4::new(ip, port).into()));
                    let _ = s.connect_status(h);
                },
                Op::Accept(a, i) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    if let Ok((c, _)) = s.accept(h) {
                        handles[side(a)].push(c);
                    }
                },
                Op::Send(a, i, n) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    let _ = s.send(now, h, &vec![0x5a; n], 0, None);
                },
                Op::Recv(a, i, n) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    let mut buf = vec![0; n];
                    let _ = s.recv(now, h, &mut buf, 0);
                },
                Op::Shutdown(a, i, how) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    let _ = s.shutdown(now, h, how);
                },
                Op::Close(a, i) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    if s.close(now, h).is_ok() {
                        let v = &mut handles[side(a)];
                        if let Some(pos) = v.iter().position(|x| *x == h) {
                            v.remove(pos);
                        }
                    }
                },
                Op::Dup(a, i) => if let Some(h) = pick(&handles[side(a)], i) {
                    let s = if a { &p.a } else { &p.b };
                    if s.sodup(h).is_ok() {
                        handles[side(a)].push(h);
                    }
                },
                Op::Garbage(a, v) => {
                    let s = if a { &p.a } else { &p.b };
                    s.handle_frame(now, &v);
                },
                Op::Segment(a, sp, dp, seq, ack, f, payload) => {
                    let (s, from, to) = if a { (&p.a, B_ADDR, A_ADDR) } else { (&p.b, A_ADDR, B_ADDR) };
                    let seg = Seg::new(SocketAddrV4::new(from, sp.max(1)), SocketAddrV4::new(to, dp), seq, ack, TcpFlags(f))
                        .with_payload(&payload);
                    s.handle_frame(now, &seg.to_frame());
                },
                Op::Advance(ms) => { p.drive_for(Duration::from_millis(ms as u64)); },
            }
            p.check();
            while p.step() {}
        }
        // Close everything; after TIME_WAIT and retries nothing may remain.
        for (i, v) in handles.iter().enumerate() {
            for &h in v {
                let s = if i == 0 { &p.a } else { &p.b };
                let _ = s.close(p.now, h);
            }
        }
        p.drive_for(Duration::from_secs(600));
        prop_assert_eq!(p.a.socket_count(), 0);
        prop_assert_eq!(p.b.socket_count(), 0);
    }

    #[test]
    fn arbitrary_bytes_into_handle_frame_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = Stack::new(Config::new(A_ADDR, 24));
        s.handle_frame(Instant::from_millis(1), &bytes);
        let mut ip = bytes.clone();
        if ip.len() >= 20 {
            ip[0] = 0x45;
            ip[12..16].copy_from_slice(&B_ADDR.octets());
            ip[16..20].copy_from_slice(&A_ADDR.octets());
            s.handle_frame(Instant::from_millis(2), &ip);
        }
        s.check_invariants();
    }
}
