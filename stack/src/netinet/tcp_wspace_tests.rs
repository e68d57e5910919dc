//! Write space as Linux gives it back to a writer: one that slept for
//! space copies again only once a third of its queue is free
//! (`MSG_SOCKSHIM_WAITED`, sk_stream_is_writeable), while a new call takes
//! whatever room there is (sk_stream_memory_free).

use std::time::Duration;

use super::tcp_tests::{mss, stack};
use crate::linux::{MSG_DONTWAIT, MSG_SOCKSHIM_WAITED, SOL_SOCKET, SO_SNDBUF};
use crate::testing::trace::{accepted_with, me, peer, recv_all, send, t0, Seg};
use crate::wire::TcpFlags;
use crate::{Errno, Readiness};

const ACK: TcpFlags = TcpFlags::ACK;

#[test]
fn a_writer_that_slept_waits_for_a_third_of_the_queue() {
    let s = stack();
    let (c, iss) = accepted_with(&s, mss(1460));
    s.setsockopt(t0(), c, SOL_SOCKET, SO_SNDBUF, &8192i32.to_ne_bytes())
        .unwrap();
    let chunk = [7u8; 4096];
    while s.send(t0(), c, &chunk, MSG_DONTWAIT, None).is_ok() {}
    let segs = recv_all(&s);
    assert!(segs.len() >= 2, "{} segments", segs.len());
    let waited = MSG_DONTWAIT | MSG_SOCKSHIM_WAITED;
    // One segment acknowledged: room, but not a third of the queue.
    let first_end = iss + segs[0].payload.len() as u32;
    let t = t0() + Duration::from_millis(20);
    send(&s, t, &Seg::new(peer(5000), me(8080), 1, first_end, ACK));
    assert!(!s.sopoll(c).contains(Readiness::OUT));
    assert_eq!(s.send(t, c, b"x", waited, None), Err(Errno::EAGAIN));
    assert_eq!(
        s.send(t, c, b"x", MSG_DONTWAIT, None),
        Ok(1),
        "a new call copies"
    );
    // Everything sent acknowledged: writeable, and the writer goes on.
    let last = segs.last().unwrap();
    let end = last.seq + last.payload.len() as u32;
    send(&s, t, &Seg::new(peer(5000), me(8080), 1, end, ACK));
    assert!(s.sopoll(c).contains(Readiness::OUT));
    assert_eq!(s.send(t, c, b"x", waited, None), Ok(1));
}
