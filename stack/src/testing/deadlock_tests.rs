//! Lock-order races on real threads (issue 15): a walk over the whole stack
//! (`has_unsent_data`, which the shim runs at exit; `drain_changed`) loops in one thread while another creates and closes
//! sockets, whose `sofree` removes the slot under the table's write lock
//! with the socket still locked. A walk that held the table lock while
//! locking each socket deadlocked against it within milliseconds. A
//! watchdog fails the test instead of letting it hang.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::testing::pair::A_ADDR;
use crate::time::Instant;
use crate::{Config, SockType, Stack};

/// How long the two threads race, and how long the watchdog waits for both
/// to finish after that before it declares a deadlock.
const RACE: Duration = Duration::from_millis(600);
const WATCHDOG: Duration = Duration::from_secs(10);

/// Run `walk` in a loop against socket creation and close (64 live TCP
/// sockets, one replaced per turn, some listening, some connecting) until
/// `RACE` is over; fail if either thread does not finish in `WATCHDOG`.
fn race_walk_against_close(what: &str, walk: fn(&Stack)) {
    let s = Arc::new(Stack::new(Config::new(A_ADDR, 24)));
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<&'static str>();

    let (st, stp, tx) = (s.clone(), stop.clone(), done_tx.clone());
    let closer = std::thread::spawn(move || {
        let now = Instant::from_millis(0);
        let mut live: Vec<_> = Vec::new();
        let mut turns = 0u64;
        while !stp.load(Ordering::Relaxed) {
            let h = st.socket(SockType::Stream, 0).unwrap();
            match turns % 3 {
                0 => {
                    st.listen(h, 4).unwrap();
                }
                1 => {
                    let dst = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
                    let _ = st.connect(now, h, Some(dst.into()));
                }
                _ => {}
            }
            live.push(h);
            if live.len() > 64 {
                let old = live.remove(0);
                st.close(now, old).unwrap();
            }
            while st.poll_transmit().is_some() {}
            turns += 1;
        }
        for h in live {
            st.close(now, h).unwrap();
        }
        let _ = tx.send("closer");
    });
    let (st, stp, tx) = (s.clone(), stop.clone(), done_tx);
    let walker = std::thread::spawn(move || {
        while !stp.load(Ordering::Relaxed) {
            walk(&st);
        }
        let _ = tx.send("walker");
    });

    std::thread::sleep(RACE);
    stop.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        match done_rx.recv_timeout(WATCHDOG) {
            Ok(_) => {}
            // A thread that panicked dropped its sender without sending.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The hung threads are left behind: the test binary exits
                // when the harness is done with it.
                panic!("deadlock: {what} against socket/close did not finish within {WATCHDOG:?}");
            }
        }
    }
    closer.join().expect("closer thread");
    walker.join().expect("walker thread");
    s.check_invariants();
}

#[test]
fn has_unsent_data_does_not_deadlock_against_close() {
    race_walk_against_close("has_unsent_data", |s| {
        std::hint::black_box(s.has_unsent_data());
    });
}

#[test]
fn drain_changed_does_not_deadlock_against_close() {
    race_walk_against_close("drain_changed", |s| {
        let mut out = Vec::new();
        s.drain_changed(&mut out);
        for h in out {
            std::hint::black_box(s.sopoll(h));
        }
    });
}
