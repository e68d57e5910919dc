//! An application thread that blocks sleeps on the TUN device itself
//! (in-process mode), so the kernel wakes it for the frame it waits for,
//! and the driver thread stays off the device meanwhile.
//!
//! Before, a blocking call slept on its eventfd: the kernel woke the
//! driver for the answer, the driver read it and woke the thread: two
//! context switches per frame (perf: 21 % of a TCP_CRR server's time in
//! finish_task_switch, 4 % in eventfd_write). Now one thread at a time
//! (the *sleeper*) polls its eventfd and the device; woken by a frame it
//! reads it and runs the stack itself, as a NAPI poll runs in the context
//! that was woken. Other threads sleep on their eventfds as before.
//!
//! The driver leaves the device to the sleeper (the kernel would wake
//! both for each frame), and takes it back within `HANDBACK` of the
//! sleeper's leaving: a sleeper leaves at every wake-up and normally
//! comes back within microseconds, so the driver is not woken for that;
//! it polls without the device with a short timeout instead, doubled
//! while no sleeper came and went (an idle program), and a sleeper that
//! leaves a driver sleeping longer than `HANDBACK` wakes it.
//!
//! Not with SOCKSHIM_FAULTS (their inbound queue is the driver's), nor
//! while busy pollers hold the device (driver.rs).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::driver::{monotonic_us, Shim};
use crate::real::real;

/// How long at most the device goes unwatched after a sleeper left it.
const HANDBACK_US: u64 = 1_000;
/// The driver's longest sleep off the device while a sleeper holds it.
const MAX_OFF_US: u64 = 64_000;
/// A poll that returns within this many microseconds did not sleep: the
/// frames it reports were queued before (as the driver's `BURST_US`).
const NO_SLEEP_US: u64 = 20;
/// Frames found queued at once that make a backlog (bulk traffic).
const BACKLOG_FRAMES: usize = 3;
/// Frames a sleeper reads at most when they were queued before its sleep.
const BURST_FRAMES: usize = 64;
/// How long sleepers leave the device to the driver after a backlog.
const BULK_HOLD_US: u64 = 20_000;
/// The spare last entry of a `poll_slots` array (the device's when this
/// thread sleeps on it; fd -1: poll would ignore it).
const DEVICE_SLOT: libc::pollfd = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

/// The entries of `slots` to poll: all, the spare last one set to the
/// device (`tun_fd`, readable), when this thread sleeps on it; else all
/// but the spare.
fn arm_device_slot(slots: &mut [libc::pollfd], tun_fd: i32, sleeping: bool) -> usize {
    let spare = slots.len() - 1;
    if !sleeping {
        return spare;
    }
    slots[spare] = libc::pollfd {
        fd: tun_fd,
        events: libc::POLLIN,
        revents: 0,
    };
    slots.len()
}

/// The sleeper's token and the driver's side of the hand-over.
#[derive(Default)]
pub struct DeviceWait {
    /// An application thread sleeps on the device now.
    sleeper: AtomicBool,
    /// Sleeps begun (the driver sees whether sleepers come and go).
    sleeps: AtomicU64,
    /// When the driver, sleeping off the device, wakes at the latest
    /// (monotonic us); 0 while it watches the device.
    driver_off_until: AtomicU64,
    /// Until when (monotonic us) no thread sleeps on the device: a
    /// sleeper found a backlog of frames queued, the mark of bulk
    /// traffic, where the driver reading in parallel with the
    /// application (its bursts, the ACKs it sends while the application
    /// copies) is worth more than a saved hand-off.
    bulk_until: AtomicU64,
}

/// What the driver does this turn (its own state between turns).
#[derive(Default)]
pub struct DriverTurn {
    sleeps_seen: u64,
    off_us: u64,
}

impl DriverTurn {
    /// The driver left the device to a sleeper, and no sleep began since
    /// its last turn: a thread that slept that long through queued frames
    /// is not reading them (cancelled in its poll, say), so the driver
    /// reads what is queued itself after this turn's sleep.
    pub fn same_sleep(&self) -> bool {
        self.off_us > HANDBACK_US
    }
}

impl DeviceWait {
    /// The driver, before it sleeps: Some(timeout in us) when it leaves
    /// the device to a sleeper this turn. With the sleeper's `leave` this
    /// is Dekker's handshake: the driver announces its sleep off the
    /// device, then looks for the sleeper; a sleeper leaves, then looks
    /// for the announcement and wakes a long sleep.
    pub fn driver_leaves(&self, turn: &mut DriverTurn) -> Option<u64> {
        if !self.sleeper.load(Ordering::SeqCst) {
            self.driver_off_until.store(0, Ordering::SeqCst);
            turn.off_us = 0;
            return None;
        }
        let sleeps = self.sleeps.load(Ordering::Relaxed);
        turn.off_us = if sleeps != turn.sleeps_seen || turn.off_us == 0 {
            HANDBACK_US
        } else {
            (turn.off_us * 2).min(MAX_OFF_US)
        };
        turn.sleeps_seen = sleeps;
        self.driver_off_until
            .store(monotonic_us() + turn.off_us, Ordering::SeqCst);
        if !self.sleeper.load(Ordering::SeqCst) {
            self.driver_off_until.store(0, Ordering::SeqCst);
            turn.off_us = 0;
            return None;
        }
        Some(turn.off_us)
    }

    /// Bulk traffic was seen lately (`bulk_until`).
    fn bulk(&self) -> bool {
        let until = self.bulk_until.load(Ordering::Relaxed);
        until != 0 && monotonic_us() < until
    }

    /// Become the sleeper (false: another thread is, or bulk traffic).
    fn enter(&self) -> bool {
        if self.bulk() {
            return false;
        }
        if self
            .sleeper
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Stop being the sleeper: true when the driver sleeps off the device
    /// for longer than `HANDBACK_US` and must be woken to take it back.
    fn leave(&self) -> bool {
        self.sleeper.store(false, Ordering::SeqCst);
        let until = self.driver_off_until.load(Ordering::SeqCst);
        until != 0 && until > monotonic_us() + HANDBACK_US
    }
}

impl Shim {
    /// Could this thread be the sleeper now (in-process, no faults, no
    /// busy pollers, no other sleeper)? A hint: `poll_with_device` decides.
    pub fn device_free(&self) -> bool {
        self.stack.local().is_some()
            && !self.has_faults()
            && !self.has_busy_pollers()
            && !self.devwait.sleeper.load(Ordering::Relaxed)
            && !self.devwait.bulk()
    }

    /// poll(2) over `pfds` and, when this thread can be the sleeper, the
    /// device too; woken by a frame, read it and run the stack here
    /// before returning (wake-ups of this thread's own eventfd absorbed:
    /// the caller looks at its sockets again next). Returns poll's count
    /// of ready entries of `pfds` (the device not counted), its errno, and
    /// whether a frame was read.
    pub fn poll_with_device(&self, pfds: &mut Vec<libc::pollfd>, ms: i32) -> (i32, i32, bool) {
        pfds.push(DEVICE_SLOT);
        let r = self.poll_slots(pfds, ms);
        pfds.pop();
        r
    }

    /// `poll_with_device` of one fd (an eventfd, an epoll fd): the pollfd
    /// array on the stack, so a blocking call's sleep allocates nothing
    /// (a heap vector grown by the device's entry cost a malloc and a
    /// realloc per sleep, about 500 instructions).
    pub fn poll_one_with_device(&self, pfd: &mut libc::pollfd, ms: i32) -> (i32, i32, bool) {
        let mut slots = [*pfd, DEVICE_SLOT];
        let r = self.poll_slots(&mut slots, ms);
        *pfd = slots[0];
        r
    }

    /// `poll_with_device` over `slots`, whose last entry is spare: the
    /// device's, when this thread becomes the sleeper, else not polled.
    fn poll_slots(&self, slots: &mut [libc::pollfd], ms: i32) -> (i32, i32, bool) {
        let sleeper = match self.stack.local() {
            Some(st) if !self.has_faults() && !self.has_busy_pollers() => {
                self.devwait.enter().then_some(st)
            }
            _ => None,
        };
        let n = arm_device_slot(slots, self.tun_fd, sleeper.is_some());
        let t0 = monotonic_us();
        // SAFETY: slots[..n] is a valid pollfd array of n entries.
        let mut r = unsafe { (real().poll)(slots.as_mut_ptr(), n as libc::nfds_t, ms) };
        // SAFETY: reading this thread's errno (before any other call).
        let errno = unsafe { *libc::__errno_location() };
        let Some(st) = sleeper else {
            return (r, errno, false);
        };
        if self.devwait.leave() {
            self.wake_driver();
        }
        let dev = slots[n - 1].revents;
        if r > 0 && dev != 0 {
            r -= 1;
        }
        let frame = dev & libc::POLLIN != 0;
        if frame {
            // Woken by a frame: that one (the answer this thread waits
            // for; the poll says when another is queued, as the driver
            // reads one per wake-up outside bursts). Frames queued before
            // the sleep may be more: read them, and a backlog leaves the
            // device to the driver for a while (`bulk_until`).
            let queued = monotonic_us().saturating_sub(t0) < NO_SLEEP_US;
            crate::wait::absorb_own_wakeups(|| {
                let got = self.try_rx(st, if queued { BURST_FRAMES } else { 1 });
                if got >= BACKLOG_FRAMES {
                    self.devwait
                        .bulk_until
                        .store(monotonic_us() + BULK_HOLD_US, Ordering::Relaxed);
                }
                if got > 0 {
                    st.handle_timeout(self.now());
                }
                self.after_op();
            });
        }
        (r, errno, frame)
    }

    /// A blocking call's sleep: until `evfd` is signalled or a frame
    /// came (`poll_with_device`), or `deadline` passes (EAGAIN), or a
    /// signal comes (EINTR, unless every handler restarts and there is no
    /// deadline: then Ok, and the caller tries again, as the kernel would
    /// restart). None when this thread cannot be the sleeper: sleep on
    /// `evfd` alone (`wait::block`, a restartable read).
    pub fn sleep_on_device(&self, evfd: i32, deadline: Option<Instant>) -> Option<Result<(), i32>> {
        if !self.device_free() {
            return None;
        }
        let ms = crate::wait::poll_timeout(deadline);
        if ms == 0 && deadline.is_some() {
            return Some(Err(libc::EAGAIN));
        }
        let mut pfd = libc::pollfd {
            fd: evfd,
            events: libc::POLLIN,
            revents: 0,
        };
        let (r, errno, frame) = self.poll_one_with_device(&mut pfd, ms);
        if r < 0 {
            return Some(match errno {
                libc::EINTR if deadline.is_none() && crate::wait::handlers_restart() => Ok(()),
                x => Err(x),
            });
        }
        if pfd.revents & libc::POLLIN != 0 {
            crate::wait::drain_signalled(evfd);
        }
        // A frame read at the deadline: one more try first.
        if r == 0 && !frame && deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Err(libc::EAGAIN));
        }
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sleeper's poll covers the caller's fd and the device in the
    /// spare slot (on the stack, no vector); anyone else's leaves the
    /// spare out. A pipe stands for the device.
    #[test]
    fn the_spare_slot_is_the_device_only_for_the_sleeper() {
        let mut p = [0i32; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        // SAFETY: one byte from a live buffer to the pipe's write end.
        assert_eq!(unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) }, 1);
        let own = libc::pollfd {
            fd: p[1],
            events: libc::POLLIN,
            revents: 0,
        };
        let mut slots = [own, DEVICE_SLOT];
        assert_eq!(arm_device_slot(&mut slots, p[0], false), 1);
        assert_eq!(slots[1].fd, -1, "not polled, not touched");
        let mut slots = [own, DEVICE_SLOT];
        let n = arm_device_slot(&mut slots, p[0], true);
        assert_eq!(n, 2);
        // SAFETY: slots[..n] is a valid pollfd array.
        let r = unsafe { libc::poll(slots.as_mut_ptr(), n as libc::nfds_t, 0) };
        assert_eq!(r, 1, "the device (pipe) is readable, the write end is not");
        assert_eq!(slots[1].revents, libc::POLLIN);
        assert_eq!(slots[0].revents, 0);
        // SAFETY: closing the two fds pipe gave.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }

    #[test]
    fn one_sleeper_at_a_time() {
        let d = DeviceWait::default();
        assert!(d.enter());
        assert!(!d.enter(), "a second thread sleeps on its eventfd");
        assert!(!d.leave(), "the driver is on the device");
        assert!(d.enter());
    }

    #[test]
    fn the_driver_leaves_the_device_only_to_a_sleeper() {
        let d = DeviceWait::default();
        let mut t = DriverTurn::default();
        assert_eq!(d.driver_leaves(&mut t), None);
        assert!(d.enter());
        assert_eq!(d.driver_leaves(&mut t), Some(HANDBACK_US));
        assert!(!t.same_sleep());
        // The same sleep goes on: the driver looks less often, and reads
        // what the sleeper left queued.
        assert_eq!(d.driver_leaves(&mut t), Some(2 * HANDBACK_US));
        assert!(t.same_sleep());
        assert_eq!(d.driver_leaves(&mut t), Some(4 * HANDBACK_US));
        // A sleeper leaving a long sleep wakes the driver.
        assert!(d.leave());
        // Sleepers come and go: back to the short timeout.
        assert!(d.enter());
        assert_eq!(d.driver_leaves(&mut t), Some(HANDBACK_US));
        assert!(!d.leave(), "within the hand-back time: no wake-up");
        assert_eq!(d.driver_leaves(&mut t), None);
        assert_eq!(d.driver_off_until.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn no_sleeper_while_bulk() {
        let d = DeviceWait::default();
        d.bulk_until
            .store(monotonic_us() + BULK_HOLD_US, Ordering::Relaxed);
        assert!(!d.enter(), "bulk traffic: the driver keeps the device");
        d.bulk_until.store(monotonic_us(), Ordering::Relaxed);
        assert!(d.enter(), "the hold is over");
    }

    #[test]
    fn the_timeout_is_bounded() {
        let d = DeviceWait::default();
        let mut t = DriverTurn::default();
        assert!(d.enter());
        let mut last = 0;
        for _ in 0..20 {
            last = d.driver_leaves(&mut t).unwrap();
        }
        assert_eq!(last, MAX_OFF_US);
    }
}
