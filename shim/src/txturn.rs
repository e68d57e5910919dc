//! One writer of the TUN device at a time. Frames leave the stack's
//! transmit queue in order, but `Shim::flush` runs on every thread that
//! made some (the application's after its call, the driver after input):
//! two threads each popped a frame and wrote it, and the second write
//! could enter the kernel first. A TUN write runs the kernel's receive
//! path in the writer's context, so the kernel saw our segments out of
//! order (iperf3 -t3 with the shim sending: TcpExtTCPOFOQueue 92-100 on
//! the kernel receiver, 46-91 of our retransmissions answered by a
//! D-SACK as spurious, under load 26).
//!
//! `TxTurn::run` lets one thread drain the queue; a thread that finds the
//! turn taken leaves a mark and returns at once, and the drainer drains
//! again when it sees the mark after giving the turn back, so no frame
//! is left behind and no thread waits on another's writes (flat
//! combining). `run_wait` waits for the turn (the exit path, which must
//! know the queue is written before the process ends).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[derive(Debug, Default)]
pub struct TxTurn {
    /// A thread is draining now.
    busy: AtomicBool,
    /// Frames may have been queued since the drainer last looked.
    again: AtomicBool,
}

impl TxTurn {
    pub const fn new() -> TxTurn {
        TxTurn {
            busy: AtomicBool::new(false),
            again: AtomicBool::new(false),
        }
    }

    /// Call `drain` (write every frame queued) unless another thread is
    /// draining: that one then drains once more for us. The sum of what
    /// this thread's drains returned.
    pub fn run(&self, mut drain: impl FnMut() -> usize) -> usize {
        let mut sent = 0;
        // SeqCst on both sides: a drainer's `busy = false` then `again`
        // load, against another thread's `again = true` then `busy` swap:
        // at least one of the two sees the other's store.
        self.again.store(true, SeqCst);
        while self.again.load(SeqCst) {
            if self.busy.swap(true, SeqCst) {
                return sent;
            }
            self.again.store(false, SeqCst);
            sent += drain();
            self.busy.store(false, SeqCst);
        }
        sent
    }

    /// As `run`, but wait (yielding) while another thread drains, then
    /// drain: when it returns, every frame queued before the call is
    /// written.
    pub fn run_wait(&self, mut drain: impl FnMut() -> usize) -> usize {
        while self.busy.swap(true, SeqCst) {
            std::thread::yield_now();
        }
        self.again.store(false, SeqCst);
        let sent = drain();
        self.busy.store(false, SeqCst);
        // Threads that found the turn taken meanwhile left their mark
        // and went: their frames are ours to write, as in `run`.
        if self.again.load(SeqCst) {
            sent + self.run(drain)
        } else {
            sent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Several threads queue numbered frames and flush through one turn:
    /// every frame is written, and in the order queued.
    #[test]
    fn frames_leave_in_order_and_none_is_left() {
        struct Dev {
            queue: Mutex<std::collections::VecDeque<u64>>,
            wire: Mutex<Vec<u64>>,
            turn: TxTurn,
        }
        let dev = Arc::new(Dev {
            queue: Mutex::new(Default::default()),
            wire: Mutex::new(Vec::new()),
            turn: TxTurn::new(),
        });
        let next = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (dev, next) = (dev.clone(), next.clone());
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        {
                            let mut n = next.lock().unwrap();
                            dev.queue.lock().unwrap().push_back(*n);
                            *n += 1;
                        }
                        dev.turn.run(|| {
                            let mut k = 0;
                            loop {
                                let Some(f) = dev.queue.lock().unwrap().pop_front() else {
                                    return k;
                                };
                                // The pop and the write are not under one
                                // lock: only the turn keeps their order.
                                std::hint::spin_loop();
                                dev.wire.lock().unwrap().push(f);
                                k += 1;
                            }
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let wire = dev.wire.lock().unwrap();
        assert_eq!(wire.len(), 80_000, "every frame written");
        assert!(wire.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn run_wait_drains_even_when_the_turn_was_free() {
        let turn = TxTurn::new();
        let mut left = 3;
        let sent = turn.run_wait(|| std::mem::take(&mut left));
        assert_eq!(sent, 3);
        assert_eq!(turn.run(|| 1), 1, "the turn is given back");
    }
}
