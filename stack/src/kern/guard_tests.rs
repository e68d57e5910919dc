//! The socket model's guards, each exercised on its own (issue 15: these
//! are the mutations of the stack no other test caught): `sofree` refuses
//! a socket still held by a descriptor, PROTOREF or a listen queue, and a
//! freed one; `pru_detach` cannot run twice; `so_count` never wraps;
//! `check_invariants` sees a queued connection missing from its listener's
//! queue and a queue entry that does not point back; `check_invariants`'
//! own assertions, stale handles against reused slots and the receive
//! metadata of `uipc.rs` (the survivors of `scripts/mutants`,
//! docs/mutants.md).

use std::net::SocketAddrV4;

use crate::kern::lockorder::so_lock;
use crate::kern::socket::{QState, SoState};
use crate::kern::uipc;
use crate::testing::pair::{Pair, A_ADDR, B_ADDR};
use crate::{Errno, SockType, SocketHandle};

/// A listener on B with one connection from A queued on it.
fn one_queued(seed: u64) -> (Pair, SocketHandle, SocketHandle) {
    let mut p = Pair::new(seed);
    let l = p.listener_b(80, 4);
    let c = p.a.socket(SockType::Stream, 0).unwrap();
    let _ =
        p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
    p.drive();
    let q = {
        let lref = p.b.lookup(l).unwrap();
        let so = so_lock(&lref);
        so.so_listen().unwrap().sol_comp[0]
    };
    (p, l, q)
}

#[test]
fn sofree_frees_nothing_still_held_and_nothing_twice() {
    let p = Pair::new(60);
    let h = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.bind(h, SocketAddrV4::new(A_ADDR, 1234)).unwrap();
    let sref = p.a.lookup(h).unwrap();
    let before = p.a.stats();
    {
        let mut so = so_lock(&sref);
        // A descriptor holds it (so_count 1).
        uipc::sofree(&p.a, &mut so);
        assert!(!so.is_freed(), "so_count > 0");
        // Only PROTOREF holds it.
        so.so_count = 0;
        so.so_state.set(SoState::PROTOREF);
        uipc::sofree(&p.a, &mut so);
        assert!(!so.is_freed(), "PROTOREF");
        so.so_state.clear(SoState::PROTOREF);
        // Only a listen queue holds it.
        so.so_qstate = QState::Comp;
        uipc::sofree(&p.a, &mut so);
        assert!(!so.is_freed(), "on a listen queue");
        so.so_qstate = QState::None;
        so.so_count = 1;
    }
    let held = p.a.stats();
    assert_eq!(held.pru_detach_calls, before.pru_detach_calls);
    assert_eq!(held.sockets_freed, before.sockets_freed);
    assert_eq!(p.a.socket_count(), 1);
    assert_eq!(
        p.a.bind(
            p.a.socket(SockType::Stream, 0).unwrap(),
            SocketAddrV4::new(A_ADDR, 1234)
        ),
        Err(Errno::EADDRINUSE),
        "its port is still held"
    );
    p.a.check_invariants();

    p.a.close(p.now, h).unwrap();
    let closed = p.a.stats();
    assert_eq!(closed.pru_detach_calls, before.pru_detach_calls + 1);
    // A second sofree of the freed socket: no second pru_detach.
    uipc::sofree(&p.a, &mut so_lock(&sref));
    let after = p.a.stats();
    assert_eq!(after.pru_detach_calls, closed.pru_detach_calls);
    assert_eq!(after.sockets_freed, closed.sockets_freed);
    assert_eq!(p.a.close(p.now, h), Err(Errno::EBADF));
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "pru_detach runs exactly once")]
fn a_second_detach_is_caught() {
    let p = Pair::new(61);
    let sref =
        p.a.lookup(p.a.socket(SockType::Stream, 0).unwrap())
            .unwrap();
    let mut so = so_lock(&sref);
    so.detached();
    so.detached();
}

/// Releasing a reference that is not there is refused (EBADF) and counted
/// in release builds, asserted in debug builds; never a wrap to u32::MAX.
#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "so_count underflow"))]
fn so_count_underflow_is_refused_not_wrapped() {
    let p = Pair::new(62);
    let sref =
        p.a.lookup(p.a.socket(SockType::Stream, 0).unwrap())
            .unwrap();
    let mut so = so_lock(&sref);
    so.so_count = 0;
    assert_eq!(uipc::so_count_release(&p.a, &mut so), Err(Errno::EBADF));
    assert_eq!(so.so_count, 0);
    assert_eq!(p.a.stats().so_count_underflows, 1);
}

#[test]
fn so_count_overflow_is_refused_not_wrapped() {
    let p = Pair::new(63);
    let h = p.a.socket(SockType::Stream, 0).unwrap();
    let sref = p.a.lookup(h).unwrap();
    so_lock(&sref).so_count = u32::MAX;
    assert_eq!(p.a.sodup(h), Err(Errno::EMFILE));
    assert_eq!(so_lock(&sref).so_count, u32::MAX);
    so_lock(&sref).so_count = 1;
    p.a.sodup(h).unwrap();
    assert_eq!(so_lock(&sref).so_count, 2);
    p.a.close(p.now, h).unwrap();
    p.a.close(p.now, h).unwrap();
    assert_eq!(p.a.socket_count(), 0);
    assert_eq!(p.a.stats().so_count_underflows, 0);
}

#[test]
#[should_panic(expected = "but is not on its queue")]
fn check_invariants_sees_a_queued_connection_missing_from_the_queue() {
    let (p, l, q) = one_queued(64);
    p.b.check_invariants();
    let lref = p.b.lookup(l).unwrap();
    assert!(so_lock(&lref).so_listen.as_mut().unwrap().remove_comp(q));
    p.b.check_invariants();
}

#[test]
#[should_panic(expected = "its listener")]
fn check_invariants_sees_a_queue_entry_not_pointing_back() {
    let (p, l, _) = one_queued(65);
    let other = p.b.socket(SockType::Stream, 0).unwrap();
    let lref = p.b.lookup(l).unwrap();
    so_lock(&lref)
        .so_listen
        .as_mut()
        .unwrap()
        .sol_comp
        .push_back(other);
    p.b.check_invariants();
}

#[test]
#[should_panic(expected = "queue twice")]
fn check_invariants_sees_a_connection_queued_twice() {
    let (p, l, q) = one_queued(66);
    let lref = p.b.lookup(l).unwrap();
    so_lock(&lref)
        .so_listen
        .as_mut()
        .unwrap()
        .sol_comp
        .push_back(q);
    p.b.check_invariants();
}

// Socket::check_invariants' own KASSERTs, each broken on purpose (the
// mutant that empties the function survived every other test).

#[test]
#[should_panic(expected = "unreferenced socket not freed")]
fn check_invariants_sees_an_unreferenced_socket_left_alive() {
    let p = Pair::new(67);
    let h = p.a.socket(SockType::Stream, 0).unwrap();
    let sref = p.a.lookup(h).unwrap();
    let mut so = so_lock(&sref);
    so.check_invariants();
    so.so_count = 0;
    so.check_invariants();
}

#[test]
#[should_panic(expected = "a queued socket holds exactly the queue's reference")]
fn check_invariants_sees_a_queued_socket_with_a_descriptor() {
    let (p, _, q) = one_queued(68);
    let qref = p.b.lookup(q).unwrap();
    let mut so = so_lock(&qref);
    so.check_invariants();
    so.so_count = 2;
    so.check_invariants();
}

#[test]
#[should_panic(expected = "SO_ACCEPTCONN vs queues")]
fn check_invariants_sees_acceptconn_without_queues() {
    let p = Pair::new(69);
    let h = p.a.socket(SockType::Stream, 0).unwrap();
    let sref = p.a.lookup(h).unwrap();
    let mut so = so_lock(&sref);
    so.so_options.acceptconn = true;
    so.check_invariants();
}

/// A handle whose socket was freed never reaches the socket that reuses
/// its slot (the slot's generation: cargo mutants' "generation guard
/// always true" survived every other test).
#[test]
fn a_stale_handle_does_not_reach_the_socket_that_reuses_its_slot() {
    let p = Pair::new(70);
    let old = p.a.socket(SockType::Stream, 0).unwrap();
    p.a.close(p.now, old).unwrap();
    let new = p.a.socket(SockType::Stream, 0).unwrap();
    assert_eq!(new.index, old.index, "the slot is reused");
    assert_ne!(new, old);
    assert!(p.a.lookup(old).is_err());
    let to = SocketAddrV4::new(A_ADDR, 1234);
    assert_eq!(p.a.bind(old, to), Err(Errno::EBADF));
    assert_eq!(p.a.close(p.now, old), Err(Errno::EBADF));
    p.a.bind(new, to).unwrap();
    assert_eq!(p.a.socket_count(), 1);
}

/// SO_TIMESTAMPNS on a TCP socket and SO_TIMESTAMP on a UDP one: the
/// receive metadata carries what the socket asked for and the arrival
/// time (cargo mutants: dropping `want` or `stamp` from the DgramInfo of
/// `stream_rcv_info` and `soreceive_dgram` survived the stack's tests;
/// only c-test 263 covered them, end to end).
#[test]
fn receive_metadata_carries_the_timestamp_asked_for() {
    use crate::api::{CMSG_WANT_TIMESTAMP, CMSG_WANT_TIMESTAMPNS};
    use crate::linux::{SOL_SOCKET, SO_TIMESTAMP, SO_TIMESTAMPNS};
    let mut p = Pair::new(71);
    let (_, c, s) = p.connected(80);
    let on = 1i32.to_ne_bytes();
    p.b.setsockopt(p.now, s, SOL_SOCKET, SO_TIMESTAMPNS, &on)
        .unwrap();
    p.drive_for(std::time::Duration::from_millis(5));
    let sent_at = p.now;
    p.a.send(p.now, c, b"stamp", 0, None).unwrap();
    p.drive_for(std::time::Duration::from_millis(5));
    let m = p.b.recv(p.now, s, &mut [0; 8], 0).unwrap();
    let info = m.info.expect("a stream asked for timestamps has its info");
    assert_eq!(info.want, CMSG_WANT_TIMESTAMPNS);
    assert!(info.stamp >= sent_at && info.stamp <= p.now, "{info:?}");

    let u = p.b.socket(SockType::Dgram, 0).unwrap();
    p.b.bind(u, SocketAddrV4::new(B_ADDR, 53)).unwrap();
    p.b.setsockopt(p.now, u, SOL_SOCKET, SO_TIMESTAMP, &on)
        .unwrap();
    let k = p.a.socket(SockType::Dgram, 0).unwrap();
    let to = SocketAddrV4::new(B_ADDR, 53).into();
    let sent_at = p.now;
    p.a.send(p.now, k, b"dgram", 0, Some(to)).unwrap();
    p.drive_for(std::time::Duration::from_millis(5));
    let m = p.b.recv(p.now, u, &mut [0; 8], 0).unwrap();
    let info = m.info.expect("a datagram's info");
    assert_eq!(info.want, CMSG_WANT_TIMESTAMP);
    assert!(info.stamp >= sent_at && info.stamp <= p.now, "{info:?}");
}
