//! Races of DESIGN invariants 6 and 7 on real threads: several threads
//! accept on one listener while connections complete, a listener is closed
//! while connections are queued and being accepted, and sends and receives
//! run on many connections at once. Each run checks that nothing is lost or
//! freed twice and that both stacks end empty.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::testing::pair::{A_ADDR, B_ADDR};
use crate::time::Instant;
use crate::{Config, Errno, SockType, SocketHandle, Stack};

/// Two stacks joined by a pump thread (no loss); time advances 1 ms per pass.
struct Wire {
    a: Arc<Stack>,
    b: Arc<Stack>,
    clock: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    pump: Option<std::thread::JoinHandle<()>>,
}

impl Wire {
    fn new(seed: u64) -> Wire {
        let mut ca = Config::new(A_ADDR, 24);
        ca.seed = seed;
        let mut cb = Config::new(B_ADDR, 24);
        cb.seed = seed + 1;
        let a = Arc::new(Stack::new(ca));
        let b = Arc::new(Stack::new(cb));
        let clock = Arc::new(AtomicUsize::new(1000));
        let stop = Arc::new(AtomicBool::new(false));
        let (pa, pb, pc, ps) = (a.clone(), b.clone(), clock.clone(), stop.clone());
        let pump = std::thread::spawn(move || {
            while !ps.load(Ordering::Relaxed) {
                let now = Instant::from_millis(pc.fetch_add(1, Ordering::Relaxed) as u64);
                let mut moved = false;
                while let Some(f) = pa.poll_transmit() {
                    pb.handle_frame(now, &f);
                    moved = true;
                }
                while let Some(f) = pb.poll_transmit() {
                    pa.handle_frame(now, &f);
                    moved = true;
                }
                pa.handle_timeout(now);
                pb.handle_timeout(now);
                if !moved {
                    std::thread::yield_now();
                }
            }
        });
        Wire {
            a,
            b,
            clock,
            stop,
            pump: Some(pump),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.clock.load(Ordering::Relaxed) as u64)
    }

    /// Let virtual time run until `done` or a wall-clock limit. While
    /// waiting, time jumps to the next timer of either stack, so what ends
    /// within the limit does not depend on how fast the pump turns: at
    /// 1 ms a pass a loaded machine took more than 20 s to run out a
    /// TIME_WAIT that began after the last `skip` (both stacks left with
    /// all 32 connections in TIME_WAIT, 1 run in 3 under load).
    fn wait_until(&self, mut done: impl FnMut() -> bool) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if done() {
                return true;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = next {
                let ms = t.total_micros().div_ceil(1000) as usize;
                self.clock.fetch_max(ms, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        done()
    }

    /// Check both stacks, close the clients on A and the servers and the
    /// listener on B, run past TIME_WAIT: nothing may remain.
    fn close_all_and_drain(
        &self,
        clients: &[SocketHandle],
        servers: &[SocketHandle],
        listener: SocketHandle,
    ) {
        self.a.check_invariants();
        self.b.check_invariants();
        for &c in clients {
            self.a.close(self.now(), c).unwrap();
        }
        for &s in servers {
            self.b.close(self.now(), s).unwrap();
        }
        self.b.close(self.now(), listener).unwrap();
        self.skip(200_000);
        assert!(
            self.wait_until(|| self.a.socket_count() == 0 && self.b.socket_count() == 0),
            "all freed"
        );
    }

    /// Advance virtual time by `ms` (timers such as TIME_WAIT run).
    fn skip(&self, ms: usize) {
        self.clock.fetch_add(ms, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.pump.take() {
            let _ = p.join();
        }
    }
}

#[test]
fn several_threads_accept_each_connection_exactly_once() {
    const N: usize = 64;
    let w = Wire::new(21);
    let l = w.b.socket(SockType::Stream, 0).unwrap();
    w.b.bind(l, SocketAddrV4::new(B_ADDR, 80)).unwrap();
    w.b.listen(l, 128).unwrap();
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acceptors: Vec<_> = (0..4)
        .map(|_| {
            let (b, acc) = (w.b.clone(), accepted.clone());
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while acc.lock().unwrap().len() < N && start.elapsed() < Duration::from_secs(20) {
                    match b.accept(l) {
                        Ok((h, _)) => acc.lock().unwrap().push(h),
                        Err(Errno::EAGAIN) => std::thread::yield_now(),
                        Err(e) => panic!("accept: {e:?}"),
                    }
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..N)
        .map(|_| {
            let c = w.a.socket(SockType::Stream, 0).unwrap();
            let _ =
                w.a.connect(w.now(), c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
            c
        })
        .collect();
    for t in acceptors {
        t.join().unwrap();
    }
    let mut got = accepted.lock().unwrap().clone();
    assert_eq!(got.len(), N, "every connection accepted");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), N, "no connection accepted twice");
    w.close_all_and_drain(&clients, &got, l);
}

#[test]
fn closing_a_listener_while_connections_arrive_and_are_accepted() {
    for round in 0..8u64 {
        let w = Wire::new(40 + round);
        let l = w.b.socket(SockType::Stream, 0).unwrap();
        w.b.bind(l, SocketAddrV4::new(B_ADDR, 81)).unwrap();
        w.b.listen(l, 64).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, st) = (w.b.clone(), stop.clone());
        let acceptor = std::thread::spawn(move || {
            let mut mine = Vec::new();
            while !st.load(Ordering::Relaxed) {
                match b.accept(l) {
                    Ok((h, _)) => mine.push(h),
                    Err(Errno::EAGAIN) => std::thread::yield_now(),
                    Err(Errno::EBADF) | Err(Errno::EINVAL) => break,
                    Err(e) => panic!("accept: {e:?}"),
                }
            }
            mine
        });
        let clients: Vec<_> = (0..32)
            .map(|_| {
                let c = w.a.socket(SockType::Stream, 0).unwrap();
                let _ =
                    w.a.connect(w.now(), c, Some(SocketAddrV4::new(B_ADDR, 81).into()));
                c
            })
            .collect();
        std::thread::sleep(Duration::from_millis(round));
        w.b.close(w.now(), l).unwrap();
        stop.store(true, Ordering::Relaxed);
        let mine = acceptor.join().unwrap();
        w.b.check_invariants();
        for s in mine {
            w.b.close(w.now(), s).unwrap();
        }
        for c in clients {
            w.a.close(w.now(), c).unwrap();
        }
        w.skip(200_000);
        assert!(
            w.wait_until(|| w.a.socket_count() == 0 && w.b.socket_count() == 0),
            "round {round}: a={} b={}",
            w.a.socket_count(),
            w.b.socket_count()
        );
        let s = w.b.stats();
        assert_eq!(
            s.sockets_created, s.sockets_freed,
            "round {round}: every socket freed once"
        );
        assert_eq!(
            s.pru_detach_calls, s.sockets_freed,
            "round {round}: pru_detach once per socket"
        );
    }
}

#[test]
fn concurrent_transfers_on_many_connections() {
    const CONNS: usize = 8;
    const BYTES: usize = 256 * 1024;
    let w = Wire::new(60);
    let l = w.b.socket(SockType::Stream, 0).unwrap();
    w.b.bind(l, SocketAddrV4::new(B_ADDR, 82)).unwrap();
    w.b.listen(l, 64).unwrap();
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            let c = w.a.socket(SockType::Stream, 0).unwrap();
            let _ =
                w.a.connect(w.now(), c, Some(SocketAddrV4::new(B_ADDR, 82).into()));
            c
        })
        .collect();
    let mut servers = Vec::new();
    assert!(w.wait_until(|| {
        while let Ok((s, _)) = w.b.accept(l) {
            servers.push(s);
        }
        servers.len() == CONNS
    }));
    let threads: Vec<_> = clients
        .iter()
        .zip(&servers)
        .enumerate()
        .flat_map(|(i, (&c, &s))| {
            let (a, b, clock) = (w.a.clone(), w.b.clone(), w.clock.clone());
            let now = move || Instant::from_millis(clock.load(Ordering::Relaxed) as u64);
            let now2 = now.clone();
            let sender = std::thread::spawn(move || {
                let data: Vec<u8> = (0..BYTES).map(|k| (k * 31 + i) as u8).collect();
                let mut off = 0;
                while off < BYTES {
                    match a.send(now(), c, &data[off..], 0, None) {
                        Ok(n) => off += n,
                        Err(Errno::EAGAIN) => std::thread::yield_now(),
                        Err(e) => panic!("send: {e:?}"),
                    }
                }
                a.shutdown(now(), c, crate::linux::SHUT_WR).unwrap();
            });
            let receiver = std::thread::spawn(move || {
                let mut got = Vec::with_capacity(BYTES);
                let mut buf = vec![0u8; 16384];
                loop {
                    match b.recv(now2(), s, &mut buf, 0) {
                        Ok(m) if m.copied == 0 => break,
                        Ok(m) => got.extend_from_slice(&buf[..m.copied]),
                        Err(Errno::EAGAIN) => std::thread::yield_now(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
                let want: Vec<u8> = (0..BYTES).map(|k| (k * 31 + i) as u8).collect();
                assert!(got == want, "connection {i}: bytes differ");
            });
            [sender, receiver]
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    w.close_all_and_drain(&clients, &servers, l);
}
