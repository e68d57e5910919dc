//! Life-cycle tests, one per rule of the socket reference model (DESIGN
//! invariants 1-6), on a two-stack `Pair` with `check_invariants()` after
//! every step. Each ends with zero sockets after TIME_WAIT expiry.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::linux::*;
use crate::testing::pair::{Pair, A_ADDR, B_ADDR};
use crate::{Errno, SockType};

fn drain_to_zero(p: &mut Pair) {
    p.drive_for(Duration::from_secs(200));
    assert_eq!(p.a.socket_count(), 0, "stack A holds no sockets at the end");
    assert_eq!(p.b.socket_count(), 0, "stack B holds no sockets at the end");
}

#[test]
fn close_with_unsent_data_sends_fin_after_data() {
    let mut p = Pair::new(1);
    let (l, c, s) = p.connected(80);
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let n = p.a.send(p.now, c, &data, 0, None).unwrap();
    assert!(n > 0);
    p.a.close(p.now, c).unwrap();
    p.drive();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match p.b.recv(p.now, s, &mut buf, 0) {
            Ok(m) if m.copied == 0 => break,
            Ok(m) => got.extend_from_slice(&buf[..m.copied]),
            Err(Errno::EAGAIN) => {
                p.drive_for(Duration::from_millis(100));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(got, data[..n].to_vec(), "every byte, then EOF");
    p.b.close(p.now, s).unwrap();
    p.b.close(p.now, l).unwrap();
    drain_to_zero(&mut p);
}

/// shutdown(SHUT_RD) and connect(AF_UNSPEC) on a listener stop it
/// listening through the same soabort as its last close: every queued
/// connection is aborted once, and counted.
#[test]
fn unlisten_aborts_queued_connections_through_soabort() {
    for (seed, unspec) in [(40, false), (41, true)] {
        let mut p = Pair::new(seed);
        let l = p.listener_b(80, 16);
        for _ in 0..3 {
            let c = p.a.socket(SockType::Stream, 0).unwrap();
            let _ =
                p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
        }
        p.drive();
        assert_eq!(p.b.socket_count(), 4, "listener + 3 queued");
        let before = p.b.stats();
        if unspec {
            p.b.connect(p.now, l, None).unwrap();
        } else {
            p.b.shutdown(p.now, l, SHUT_RD).unwrap();
        }
        let after = p.b.stats();
        assert_eq!(after.pru_abort_calls - before.pru_abort_calls, 3);
        assert_eq!(after.tcp_rst_sent - before.tcp_rst_sent, 3, "one RST each");
        assert_eq!(p.b.socket_count(), 1, "only the former listener is left");
        p.b.check_invariants();
        p.b.close(p.now, l).unwrap();
        assert_eq!(p.b.socket_count(), 0);
    }
}

#[test]
fn closing_listener_aborts_each_queued_connection_once() {
    let mut p = Pair::new(2);
    let l = p.listener_b(80, 16);
    let clients: Vec<_> = (0..5)
        .map(|_| {
            let c = p.a.socket(SockType::Stream, 0).unwrap();
            assert_eq!(
                p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into())),
                Err(Errno::EINPROGRESS)
            );
            c
        })
        .collect();
    p.drive();
    assert_eq!(p.b.socket_count(), 6, "listener + 5 queued");
    let before = p.b.stats();
    p.b.close(p.now, l).unwrap();
    let after = p.b.stats();
    assert_eq!(after.tcp_rst_sent - before.tcp_rst_sent, 5, "one RST each");
    assert_eq!(
        after.pru_detach_calls - before.pru_detach_calls,
        6,
        "pru_detach once each (+ listener)"
    );
    assert_eq!(after.pru_abort_calls - before.pru_abort_calls, 5);
    assert_eq!(p.b.socket_count(), 0);
    p.drive();
    let mut buf = [0u8; 8];
    for c in clients {
        assert_eq!(p.a.recv(p.now, c, &mut buf, 0), Err(Errno::ECONNRESET));
        p.a.close(p.now, c).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn rst_for_queued_connection_is_still_accepted_like_linux() {
    let mut p = Pair::new(3);
    let l = p.listener_b(80, 16);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    assert!(p.b.sopoll(l).contains(crate::Readiness::IN));
    // Abort the client with SO_LINGER 0: it sends RST to the queued child.
    let mut lg = [0u8; 8];
    lg[..4].copy_from_slice(&1i32.to_ne_bytes());
    p.a.setsockopt(p.now, c, SOL_SOCKET, SO_LINGER, &lg)
        .unwrap();
    p.a.close(p.now, c).unwrap();
    p.drive();
    // Linux (the oracle, c-tests/025) returns the reset connection from
    // accept; it is dead, its PCB kept (INP_DROPPED), nothing is lost.
    assert!(p.b.sopoll(l).contains(crate::Readiness::IN));
    let (s, _) = p.b.accept(l).expect("the reset connection is returned");
    let mut buf = [0u8; 4];
    assert_eq!(p.b.recv(p.now, s, &mut buf, 0), Err(Errno::ECONNRESET));
    assert_eq!(p.b.recv(p.now, s, &mut buf, 0).map(|m| m.copied), Ok(0));
    assert_eq!(p.b.getpeername(s), Err(Errno::ENOTCONN));
    assert_eq!(p.b.send(p.now, s, b"x", 0, None), Err(Errno::EPIPE));
    assert_eq!(p.b.accept(l), Err(Errno::EAGAIN));
    p.b.close(p.now, s).unwrap();
    p.b.close(p.now, l).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn accept_empty_says_what_accept_would() {
    let mut p = Pair::new(3);
    let u = p.b.socket(SockType::Dgram, 0).unwrap();
    assert!(!p.b.accept_empty(u), "a datagram socket: EOPNOTSUPP");
    let l = p.b.socket(SockType::Stream, 0).unwrap();
    p.b.bind(l, SocketAddrV4::new(B_ADDR, 80)).unwrap();
    assert!(!p.b.accept_empty(l), "not listening: EINVAL");
    assert_eq!(p.b.accept(l).map(|_| ()), Err(Errno::EINVAL));
    p.b.listen(l, 16).unwrap();
    assert!(p.b.accept_empty(l));
    assert_eq!(p.b.accept(l).map(|_| ()), Err(Errno::EAGAIN));
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    assert!(!p.b.accept_empty(l), "a connection is queued");
    let (s, _) = p.b.accept(l).unwrap();
    assert!(p.b.accept_empty(l), "taken");
    for h in [s, l, u] {
        p.b.close(p.now, h).unwrap();
    }
    p.a.close(p.now, c).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn is_dev_bound_follows_the_listener_and_its_children() {
    let mut p = Pair::new(3);
    let l = p.b.socket(SockType::Stream, 0).unwrap();
    assert!(!p.b.is_dev_bound(l), "a new socket is bound to no device");
    let dev = p.b.config().ifindex.to_ne_bytes();
    p.b.setsockopt(p.now, l, SOL_SOCKSHIM, SOCKSHIM_BOUND_DEV, &dev)
        .unwrap();
    assert!(p.b.is_dev_bound(l), "SO_BINDTODEVICE noted");
    p.b.bind(l, SocketAddrV4::new(B_ADDR, 80)).unwrap();
    p.b.listen(l, 16).unwrap();
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    let (s, _) = p.b.accept(l).expect("a connection on the bound device");
    assert!(
        p.b.is_dev_bound(s),
        "the child copies the listener's binding"
    );
    p.b.setsockopt(
        p.now,
        l,
        SOL_SOCKSHIM,
        SOCKSHIM_BOUND_DEV,
        &0u32.to_ne_bytes(),
    )
    .unwrap();
    assert!(!p.b.is_dev_bound(l), "unbound again");
    for h in [s, l] {
        p.b.close(p.now, h).unwrap();
    }
    p.a.close(p.now, c).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn dup_keeps_the_socket_alive() {
    let mut p = Pair::new(4);
    let (l, c, s) = p.connected(80);
    p.a.sodup(c).unwrap();
    p.a.close(p.now, c).unwrap();
    p.drive();
    assert_eq!(
        p.a.send(p.now, c, b"still here", 0, None),
        Ok(10),
        "the dup'd reference keeps it open"
    );
    p.drive();
    let mut buf = [0u8; 32];
    assert_eq!(p.b.recv(p.now, s, &mut buf, 0).map(|m| m.copied), Ok(10));
    assert_eq!(
        p.b.recv(p.now, s, &mut buf, 0),
        Err(Errno::EAGAIN),
        "no FIN yet"
    );
    p.a.close(p.now, c).unwrap();
    p.drive();
    assert_eq!(
        p.b.recv(p.now, s, &mut buf, 0).map(|m| m.copied),
        Ok(0),
        "last close sends FIN"
    );
    assert_eq!(
        p.a.send(p.now, c, b"x", 0, None),
        Err(Errno::EBADF),
        "handle is dead for the app"
    );
    p.b.close(p.now, s).unwrap();
    p.b.close(p.now, l).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn socket_freed_exactly_when_last_reference_and_protoref_go() {
    let mut p = Pair::new(5);
    let (l, c, s) = p.connected(80);
    p.a.close(p.now, c).unwrap();
    assert_eq!(p.a.socket_count(), 1, "FIN_WAIT_1: PROTOREF keeps it");
    p.drive();
    assert_eq!(p.a.socket_count(), 1, "FIN_WAIT_2");
    p.b.close(p.now, s).unwrap();
    p.drive_for(Duration::from_secs(1));
    assert_eq!(
        p.b.socket_count(),
        1,
        "B's LAST_ACK child freed once acked; listener remains"
    );
    assert_eq!(p.a.socket_count(), 1, "A in TIME_WAIT");
    p.drive_for(Duration::from_secs(58));
    assert_eq!(p.a.socket_count(), 1, "still TIME_WAIT before 60 s");
    p.drive_for(Duration::from_secs(3));
    assert_eq!(p.a.socket_count(), 0, "freed at TIME_WAIT expiry");
    p.b.close(p.now, l).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn time_wait_does_not_hold_the_port_against_reuseaddr() {
    let mut p = Pair::new(6);
    let (l, c, s) = p.connected(80);
    p.b.close(p.now, s).unwrap(); // B closes first: B's child goes to TIME_WAIT
    p.drive();
    p.a.close(p.now, c).unwrap();
    p.drive_for(Duration::from_secs(1));
    p.b.close(p.now, l).unwrap();
    let l2 = p.b.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.b.bind(l2, SocketAddrV4::new(B_ADDR, 80)),
        Err(Errno::EADDRINUSE),
        "TIME_WAIT holds the port"
    );
    p.b.setsockopt(p.now, l2, SOL_SOCKET, SO_REUSEADDR, &1i32.to_ne_bytes())
        .unwrap();
    assert_eq!(
        p.b.bind(l2, SocketAddrV4::new(B_ADDR, 80)),
        Err(Errno::EADDRINUSE),
        "the child lacked SO_REUSEADDR"
    );
    p.b.close(p.now, l2).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn pru_detach_runs_once_per_socket() {
    let mut p = Pair::new(7);
    let before = (p.a.stats(), p.b.stats());
    let (l, c, s) = p.connected(80);
    p.a.close(p.now, c).unwrap();
    p.b.close(p.now, s).unwrap();
    p.b.close(p.now, l).unwrap();
    drain_to_zero(&mut p);
    let (a, b) = (p.a.stats(), p.b.stats());
    assert_eq!(a.pru_detach_calls - before.0.pru_detach_calls, 1);
    assert_eq!(b.pru_detach_calls - before.1.pru_detach_calls, 2);
    assert_eq!(a.sockets_created, a.sockets_freed);
    assert_eq!(b.sockets_created, b.sockets_freed);
}

#[test]
fn udp_echo_between_stacks() {
    let mut p = Pair::new(8);
    let srv = p.b.socket(SockType::Dgram, 0).unwrap();
    p.b.bind(srv, SocketAddrV4::new(B_ADDR, 53)).unwrap();
    let cli = p.a.socket(SockType::Dgram, 0).unwrap();
    assert_eq!(
        p.a.send(
            p.now,
            cli,
            b"ping",
            0,
            Some(SocketAddrV4::new(B_ADDR, 53).into())
        ),
        Ok(4)
    );
    p.drive();
    let mut buf = [0u8; 2];
    let m = p.b.recv(p.now, srv, &mut buf, 0).unwrap();
    assert_eq!(
        (m.copied, m.full_len),
        (2, 4),
        "MSG_TRUNC semantics: full length reported"
    );
    let from = m.from.unwrap();
    assert_eq!(from.ip(), A_ADDR);
    let port = from.port();
    let range = p.a.config().sysctl.port_range;
    assert!(
        (range.0..=range.1).contains(&port),
        "ephemeral port {port} in range"
    );
    p.b.send(p.now, srv, b"pong", 0, Some(from)).unwrap();
    p.drive();
    let mut buf = [0u8; 8];
    let m = p.a.recv(p.now, cli, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"pong");
    p.a.close(p.now, cli).unwrap();
    p.b.close(p.now, srv).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn udp_to_closed_port_reports_econnrefused_on_connected_socket() {
    let mut p = Pair::new(9);
    let cli = p.a.socket(SockType::Dgram, 0).unwrap();
    p.a.connect(p.now, cli, Some(SocketAddrV4::new(B_ADDR, 9999).into()))
        .unwrap();
    p.a.send(p.now, cli, b"x", 0, None).unwrap();
    p.drive();
    let mut buf = [0u8; 8];
    assert_eq!(p.a.recv(p.now, cli, &mut buf, 0), Err(Errno::ECONNREFUSED));
    assert_eq!(p.a.recv(p.now, cli, &mut buf, 0), Err(Errno::EAGAIN));
    p.a.close(p.now, cli).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn connect_to_closed_port_is_refused() {
    let mut p = Pair::new(10);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 1).into()));
    p.drive();
    assert_eq!(p.a.connect_status(c), Err(Errno::ECONNREFUSED));
    p.a.close(p.now, c).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn bind_errors_match_linux() {
    let p = Pair::new(11);
    let s1 = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.a.bind(s1, SocketAddrV4::new([10, 9, 9, 9].into(), 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
    p.a.bind(s1, SocketAddrV4::new(A_ADDR, 80)).unwrap();
    assert_eq!(
        p.a.bind(s1, SocketAddrV4::new(A_ADDR, 81)),
        Err(Errno::EINVAL),
        "already bound"
    );
    let s2 = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.a.bind(s2, SocketAddrV4::new([0, 0, 0, 0].into(), 80)),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(
        p.a.socket(SockType::Stream, 17),
        Err(Errno::EPROTONOSUPPORT)
    );
}

#[test]
fn half_close_lets_data_flow_the_other_way() {
    let mut p = Pair::new(12);
    let (l, c, s) = p.connected(80);
    p.a.shutdown(p.now, c, SHUT_WR).unwrap();
    p.drive();
    let mut buf = [0u8; 16];
    assert_eq!(p.b.recv(p.now, s, &mut buf, 0).map(|m| m.copied), Ok(0));
    p.b.send(p.now, s, b"reply", 0, None).unwrap();
    p.drive();
    assert_eq!(p.a.recv(p.now, c, &mut buf, 0).map(|m| m.copied), Ok(5));
    for (st, h) in [(&p.a, c), (&p.b, s), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn loopback_connection_inside_one_stack() {
    let mut p = Pair::new(13);
    let l = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.bind(l, SocketAddrV4::new([127, 0, 0, 1].into(), 9000))
        .unwrap();
    p.a.listen(l, 4).unwrap();
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.a.connect(
            p.now,
            c,
            Some(SocketAddrV4::new([127, 0, 0, 1].into(), 9000).into())
        ),
        Err(Errno::EINPROGRESS)
    );
    p.drive();
    assert_eq!(p.frames_a_to_b, 0, "loopback never reaches the link");
    assert_eq!(p.a.connect_status(c), Ok(true));
    let (s, peer) = p.a.accept(l).unwrap();
    assert_eq!(peer.ip(), std::net::Ipv4Addr::LOCALHOST);
    p.a.send(p.now, c, b"self", 0, None).unwrap();
    p.drive();
    let mut buf = [0u8; 8];
    assert_eq!(p.a.recv(p.now, s, &mut buf, 0).map(|m| m.copied), Ok(4));
    for h in [c, s, l] {
        p.a.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn failed_connect_leaves_the_socket_reusable_like_linux() {
    let mut p = Pair::new(14);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 1).into()));
    p.drive();
    let before = p.a.getsockname(c).unwrap();
    assert_ne!(before.port(), 0, "autobound by connect");
    assert_eq!(p.a.connect_status(c), Err(Errno::ECONNREFUSED));
    // Linux (checked with python3 in a netns): the refused socket keeps
    // reporting its ephemeral port, on the wildcard address, though the
    // port is released: another socket may bind it.
    assert_eq!(
        p.a.getsockname(c),
        Ok(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, before.port()).into()),
        "getsockname keeps the released port"
    );
    let other = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.bind(other, SocketAddrV4::new(A_ADDR, before.port()))
        .expect("the port is free again");
    p.a.close(p.now, other).unwrap();
    let r = p.a.sopoll(c);
    assert!(
        r.contains(crate::Readiness::HUP | crate::Readiness::OUT)
            && !r.contains(crate::Readiness::IN)
    );
    let l = p.listener_b(1, 4);
    assert_eq!(
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 1).into())),
        Err(Errno::EINPROGRESS)
    );
    p.drive();
    assert_eq!(
        p.a.connect_status(c),
        Ok(true),
        "a second connect on the same socket works"
    );
    let (s, _) = p.b.accept(l).unwrap();
    for (st, h) in [(&p.a, c), (&p.b, s), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn shutdown_in_syn_sent_then_connect_again_starts_afresh_like_linux() {
    // Linux's inet_shutdown disconnects a SYN_SENT socket: its automatic
    // port is released (another socket may bind it), and a later connect
    // is a new one, from a new port (tcp_disconnect at the shutdown).
    let mut p = Pair::new(16);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 1).into())),
        Err(Errno::EINPROGRESS),
        "SYN_SENT (no answer taken yet)"
    );
    let old = p.a.getsockname(c).unwrap().port();
    p.a.shutdown(p.now, c, SHUT_RDWR).unwrap();
    let other = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.bind(other, SocketAddrV4::new(A_ADDR, old))
        .expect("the released port may be bound by another socket");
    let l = p.listener_b(2, 4);
    assert_eq!(
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 2).into())),
        Err(Errno::EINPROGRESS)
    );
    let new = p.a.getsockname(c).unwrap().port();
    assert_ne!(new, old, "a new port: the old one is another socket's now");
    p.drive();
    assert_eq!(
        p.a.connect_status(c),
        Ok(true),
        "the new connection is made"
    );
    let (s, peer) = p.b.accept(l).unwrap();
    assert_eq!(peer.port(), new);
    for (st, h) in [(&p.a, c), (&p.a, other), (&p.b, s), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn connect_after_shutdown_of_a_refused_connect_is_einval_like_linux() {
    // Checked on Linux 6.18 (python3, loopback): a non-blocking connect
    // refused before anyone looked, then shutdown (ENOTCONN): every later
    // connect is EINVAL (SS_DISCONNECTING), and SO_ERROR still holds
    // ECONNREFUSED.
    let mut p = Pair::new(17);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let to = Some(SocketAddrV4::new(B_ADDR, 1).into());
    assert_eq!(p.a.connect(p.now, c, to), Err(Errno::EINPROGRESS));
    p.drive();
    assert_eq!(p.a.shutdown(p.now, c, SHUT_RDWR), Err(Errno::ENOTCONN));
    for _ in 0..2 {
        assert_eq!(p.a.connect(p.now, c, to), Err(Errno::EINVAL));
    }
    let mut v = [0u8; 4];
    p.a.getsockopt(c, SOL_SOCKET, SO_ERROR, &mut v).unwrap();
    assert_eq!(i32::from_ne_bytes(v), Errno::ECONNREFUSED.0);
    p.a.close(p.now, c).unwrap();
    drain_to_zero(&mut p);
}

#[test]
fn reset_in_close_wait_reports_epipe_like_linux() {
    let mut p = Pair::new(15);
    let (l, c, s) = p.connected(80);
    p.b.shutdown(p.now, s, SHUT_WR).unwrap(); // A goes to CLOSE_WAIT
    p.drive();
    let mut lg = [0u8; 8];
    lg[..4].copy_from_slice(&1i32.to_ne_bytes());
    p.b.setsockopt(p.now, s, SOL_SOCKET, SO_LINGER, &lg)
        .unwrap();
    p.b.close(p.now, s).unwrap(); // RST
    p.drive();
    assert_eq!(p.a.send(p.now, c, b"x", 0, None), Err(Errno::EPIPE));
    for (st, h) in [(&p.a, c), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn time_wait_socket_looks_closed_to_its_owner() {
    let mut p = Pair::new(16);
    let (l, c, s) = p.connected(80);
    p.a.shutdown(p.now, c, SHUT_RDWR).unwrap();
    p.drive();
    p.b.close(p.now, s).unwrap();
    p.drive_for(Duration::from_secs(1));
    assert_eq!(
        p.a.getpeername(c),
        Err(Errno::ENOTCONN),
        "TIME_WAIT belongs to a minisocket on Linux"
    );
    assert_eq!(p.a.shutdown(p.now, c, SHUT_RDWR), Err(Errno::ENOTCONN));
    for (st, h) in [(&p.a, c), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn reuseaddr_sockets_share_a_port_until_one_listens() {
    let p = Pair::new(17);
    let mk = || {
        let s = p.a.socket(SockType::Stream, 0).unwrap();
        p.a.setsockopt(p.now, s, SOL_SOCKET, SO_REUSEADDR, &1i32.to_ne_bytes())
            .unwrap();
        p.a.bind(s, SocketAddrV4::new(A_ADDR, 700)).unwrap();
        s
    };
    let (x, y) = (mk(), mk());
    assert_eq!(p.a.listen(x, 5), Ok(()));
    assert_eq!(p.a.listen(y, 5), Err(Errno::EADDRINUSE));
    p.a.close(p.now, x).unwrap();
    assert_eq!(p.a.listen(y, 5), Ok(()));
    let u = p.a.socket(SockType::Dgram, 0).unwrap();
    assert_eq!(p.a.accept(u).map(|_| ()), Err(Errno::EOPNOTSUPP));
}

#[test]
fn send_buffer_autotunes_unless_the_application_set_it() {
    let mut p = Pair::new(18);
    let (l, c, s) = p.connected(80);
    let mut v = [0u8; 4];
    p.a.getsockopt(c, SOL_SOCKET, SO_SNDBUF, &mut v).unwrap();
    assert!(
        i32::from_ne_bytes(v) > 16384,
        "grown with the congestion window"
    );
    let d = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.setsockopt(p.now, d, SOL_SOCKET, SO_SNDBUF, &8192i32.to_ne_bytes())
        .unwrap();
    let _ =
        p.a.connect(p.now, d, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    p.a.getsockopt(d, SOL_SOCKET, SO_SNDBUF, &mut v).unwrap();
    assert_eq!(
        i32::from_ne_bytes(v),
        16384,
        "SO_SNDBUF set: doubled, never autotuned"
    );
    let (s2, _) = p.b.accept(l).unwrap();
    for (st, h) in [(&p.a, c), (&p.a, d), (&p.b, s), (&p.b, s2), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

#[test]
fn new_syn_reuses_a_time_wait_tuple_at_once() {
    let mut p = Pair::new(19);
    let (l, c, s) = p.connected(80);
    let port = p.a.getsockname(c).unwrap().port();
    p.b.close(p.now, s).unwrap(); // the server closes first: its side goes to TIME_WAIT
    p.drive();
    p.a.close(p.now, c).unwrap();
    p.drive_for(Duration::from_secs(1));
    assert_eq!(p.b.socket_count(), 2, "listener + the TIME_WAIT connection");
    let c2 = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.bind(c2, SocketAddrV4::new(A_ADDR, port)).unwrap();
    let start = p.now;
    assert_eq!(
        p.a.connect(p.now, c2, Some(SocketAddrV4::new(B_ADDR, 80).into())),
        Err(Errno::EINPROGRESS)
    );
    p.drive_for(Duration::from_millis(50));
    assert_eq!(
        p.a.connect_status(c2),
        Ok(true),
        "no SYN retransmission needed"
    );
    assert!(p.now - start <= Duration::from_millis(50));
    let (s2, peer) = p.b.accept(l).unwrap();
    assert_eq!(peer.port(), port, "the same 4-tuple, reopened");
    for (st, h) in [(&p.a, c2), (&p.b, s2), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}

/// The handle of the first connection queued on listener `l` of `st`.
fn first_queued(st: &crate::Stack, l: crate::SocketHandle) -> crate::SocketHandle {
    let lref = st.lookup(l).unwrap();
    let so = crate::kern::lockorder::so_lock(&lref);
    so.so_listen().expect("listening").sol_comp[0]
}

/// A connection on a listen queue has no descriptor before accept() (on
/// Linux the fd does not exist yet): no call of the API reaches it, not
/// even with its handle guessed, and drain_changed does not hand it out.
/// Once accepted it is reported as changed and works.
#[test]
fn queued_connection_is_unreachable_before_accept() {
    let mut p = Pair::new(50);
    let l = p.listener_b(80, 4);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    assert_eq!(p.a.connect_status(c), Ok(true));
    p.a.send(p.now, c, b"early", 0, None).unwrap();
    p.drive();
    let q = first_queued(&p.b, l);
    let mut changed = Vec::new();
    p.b.drain_changed(&mut changed);
    assert!(changed.contains(&l), "the listener is reported");
    assert!(!changed.contains(&q), "the queued connection is not");

    let mut buf = [0u8; 16];
    let now = p.now;
    assert_eq!(p.b.recv(now, q, &mut buf, MSG_PEEK), Err(Errno::EBADF));
    assert_eq!(p.b.send(now, q, b"x", 0, None), Err(Errno::EBADF));
    assert_eq!(p.b.sodup(q), Err(Errno::EBADF), "no reference to dup");
    assert_eq!(p.b.close(now, q), Err(Errno::EBADF));
    assert_eq!(p.b.shutdown(now, q, SHUT_WR), Err(Errno::EBADF));
    assert_eq!(p.b.shutdown(now, q, 7), Err(Errno::EBADF));
    assert_eq!(p.b.getsockname(q), Err(Errno::EBADF));
    assert_eq!(p.b.getpeername(q), Err(Errno::EBADF));
    assert_eq!(
        p.b.setsockopt(now, q, SOL_SOCKET, SO_KEEPALIVE, &1i32.to_ne_bytes()),
        Err(Errno::EBADF)
    );
    assert_eq!(p.b.connect_status(q), Err(Errno::EBADF));
    assert_eq!(p.b.sopoll(q), crate::Readiness::NVAL);
    assert_eq!(p.b.sockinfo(q).err(), Some(Errno::EBADF));
    p.b.check_invariants();

    let (s, _) = p.b.accept(l).unwrap();
    assert_eq!(s, q);
    // What the caller already holds stays; each socket comes once.
    changed = vec![l];
    p.b.drain_changed(&mut changed);
    assert_eq!(changed[0], l, "the caller's entries are kept");
    assert!(changed.contains(&s), "reported once accepted");
    let mut tail = changed[1..].to_vec();
    tail.dedup();
    assert_eq!(
        tail.len(),
        changed.len() - 1,
        "no socket twice: {changed:?}"
    );
    let m = p.b.recv(p.now, s, &mut buf, 0).unwrap();
    assert_eq!(&buf[..m.copied], b"early", "nothing was taken while queued");
    p.b.sodup(s).unwrap();
    p.b.check_invariants();
    for (st, h) in [(&p.b, s), (&p.b, s), (&p.b, l), (&p.a, c)] {
        st.close(p.now, h).unwrap();
    }
    drain_to_zero(&mut p);
}
