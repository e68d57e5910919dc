//! loom model checks of the socket model (invariants 1, 2, 4 and 6 of
//! DESIGN.md) over the real code: built with `RUSTFLAGS="--cfg loom"`
//! (scripts/loom), kern/sync.rs gives the stack loom's locks, and loom
//! runs each model under every interleaving of its lock operations (up to
//! its preemption bound). After each, every socket is freed exactly once
//! (`sockets_freed`, `pru_detach_calls`), nothing is used after its free
//! (a freed handle answers EBADF; `check_invariants` walks the table), and
//! a queued connection is either accepted or aborted exactly once.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;

use crate::testing::trace::{recv_all, Seg, PEER};
use crate::time::Instant;
use crate::wire::TcpFlags;
use crate::{Config, Errno, SockType, Stack};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// Run `f` under loom and print how many interleavings it explored.
fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    RUNS.store(0, Ordering::Relaxed);
    loom::model(move || {
        RUNS.fetch_add(1, Ordering::Relaxed);
        f()
    });
    eprintln!("{name}: {} interleavings", RUNS.load(Ordering::Relaxed));
}

fn now() -> Instant {
    Instant::from_millis(10_000)
}

fn stack() -> Arc<Stack> {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    c.sysctl.tcp_sack = false;
    c.sysctl.tcp_window_scaling = false;
    Arc::new(Stack::new(c))
}

/// A listener on :80 with `n` completed connections on its queue (from
/// PEER ports 5000..), not accepted.
fn listener_with_queued(s: &Stack, n: u16) -> crate::SocketHandle {
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, SocketAddr::new(ME.into(), 80)).unwrap();
    s.listen(l, 8).unwrap();
    for i in 0..n {
        let from = SocketAddr::new(PEER.into(), 5000 + i);
        let to = SocketAddr::new(ME.into(), 80);
        s.handle_frame(
            now(),
            &Seg::new(from, to, 1000, 0, TcpFlags::SYN).to_frame(),
        );
        let sa = recv_all(s).pop().expect("a SYN-ACK");
        let ack = Seg::new(from, to, 1001, sa.seq.wrapping_add(1), TcpFlags::ACK);
        s.handle_frame(now(), &ack.to_frame());
    }
    l
}

/// Invariant 1: an in-progress call holds its own reference. The call's
/// release and the descriptor's close race; whichever is last frees the
/// socket, once.
#[test]
fn a_call_reference_and_the_descriptor_close_free_the_socket_once() {
    model("call reference vs close", || {
        let s = stack();
        let h = s.socket(SockType::Stream, 0).unwrap();
        s.sodup(h).unwrap(); // the blocking call's reference
        let s2 = s.clone();
        let call = thread::spawn(move || {
            // The call works on the socket, then lets go of it.
            let mut b = [0u8; 4];
            let r = s2.recv(now(), h, &mut b, crate::linux::MSG_DONTWAIT);
            assert_eq!(r.err(), Some(Errno::ENOTCONN));
            s2.close(now(), h).unwrap();
        });
        s.close(now(), h).unwrap();
        call.join().unwrap();
        let st = s.stats();
        assert_eq!((st.sockets_freed, st.pru_detach_calls), (1, 1));
        assert_eq!(s.socket_count(), 0);
        assert_eq!(s.close(now(), h), Err(Errno::EBADF), "no use after free");
        s.check_invariants();
    });
}

/// Invariant 6: accept() on one thread and close() of the listener on
/// another, with a connection queued. The connection is either accepted
/// (and then closed by its owner) or aborted by the listener's close,
/// exactly once; the listener is freed once.
#[test]
fn accept_racing_the_listener_close_loses_nothing() {
    model("accept vs listener close", || {
        let s = stack();
        let l = listener_with_queued(&s, 1);
        let before = s.stats();
        let s2 = s.clone();
        let acceptor = thread::spawn(move || s2.accept(l).ok().map(|(c, _)| c));
        s.close(now(), l).unwrap();
        let got = acceptor.join().unwrap();
        let st = s.stats();
        let aborted = st.pru_abort_calls - before.pru_abort_calls;
        match got {
            Some(c) => {
                assert_eq!(aborted, 0, "an accepted connection is not aborted");
                s.close(now(), c).unwrap();
            }
            None => assert_eq!(aborted, 1, "the queued connection is aborted once"),
        }
        s.check_invariants();
        // The listener is gone; the connection is gone or closing (FIN
        // sent, its PCB kept by TCP until the peer answers).
        assert_eq!(s.accept(l), Err(Errno::EBADF));
        assert!(s.socket_count() <= 1);
    });
}

/// The handshake's last ACK (sonewconn on the driver's thread) racing the
/// listener's close: the new connection is either never made, or made
/// and aborted exactly once; nothing is freed twice.
#[test]
fn sonewconn_racing_the_listener_close_frees_each_socket_once() {
    model("sonewconn vs listener close", || {
        let s = stack();
        let l = s.socket(SockType::Stream, 0).unwrap();
        let me = SocketAddr::new(ME.into(), 80);
        s.bind(l, me).unwrap();
        s.listen(l, 8).unwrap();
        let from = SocketAddr::new(PEER.into(), 5000);
        s.handle_frame(
            now(),
            &Seg::new(from, me, 1000, 0, TcpFlags::SYN).to_frame(),
        );
        let sa = recv_all(&s).pop().expect("a SYN-ACK");
        let s2 = s.clone();
        let driver = thread::spawn(move || {
            let ack = Seg::new(from, me, 1001, sa.seq.wrapping_add(1), TcpFlags::ACK);
            s2.handle_frame(now(), &ack.to_frame());
        });
        s.close(now(), l).unwrap();
        driver.join().unwrap();
        let st = s.stats();
        assert!(st.sockets_freed <= st.sockets_created);
        assert_eq!(
            st.sockets_created - st.sockets_freed,
            s.socket_count() as u64,
            "every socket not in the table was freed exactly once"
        );
        assert_eq!(
            st.pru_abort_calls,
            st.sockets_created - 1,
            "a child made is aborted once"
        );
        s.check_invariants();
    });
}

/// Invariant 2: TCP's sofree (a reset drops PROTOREF) races the program's
/// calls on the descriptor: the socket stays until the descriptor's close,
/// which frees it, once.
#[test]
fn a_reset_while_the_descriptor_is_in_use_frees_the_socket_at_its_close() {
    model("reset vs calls and close", || {
        let s = stack();
        let l = listener_with_queued(&s, 1);
        let (c, peer) = s.accept(l).unwrap();
        s.close(now(), l).unwrap();
        let _ = recv_all(&s);
        let before = s.stats();
        let s2 = s.clone();
        let me = SocketAddr::new(ME.into(), 80);
        let rst = Seg::new(peer, me, 1001, 0, TcpFlags::RST);
        let wire = thread::spawn(move || s2.handle_frame(now(), &rst.to_frame()));
        let mut b = [0u8; 4];
        let r = s.recv(now(), c, &mut b, crate::linux::MSG_DONTWAIT);
        assert!(
            matches!(
                r.as_ref().err(),
                Some(&Errno::EAGAIN) | Some(&Errno::ECONNRESET)
            ) || r.is_ok(),
            "{r:?}"
        );
        wire.join().unwrap();
        let r2 = s.recv(now(), c, &mut b, 0).map(|m| m.copied);
        assert_ne!(r2, Err(Errno::EBADF), "no use after free");
        assert!(
            r.err() == Some(Errno::ECONNRESET) || r2 == Err(Errno::ECONNRESET),
            "the reset was taken: {r2:?}"
        );
        assert_eq!(
            s.close(now(), c),
            Ok(()),
            "the descriptor's socket is still there"
        );
        let st = s.stats();
        assert_eq!(st.sockets_freed - before.sockets_freed, 1);
        assert_eq!(st.pru_detach_calls - before.pru_detach_calls, 1);
        assert_eq!(s.socket_count(), 0);
        s.check_invariants();
    });
}
