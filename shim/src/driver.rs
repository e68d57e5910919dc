//! The driver thread: owns reading the TUN device and the stack's timers.
//! It sleeps in a real poll() on the TUN fd and its wake eventfd with the
//! stack's next timeout, feeds every received frame to the stack (64 KiB
//! buffer: frames larger than the MTU are passed on, never cut), fires
//! timers, then runs the common epilogue (transmit, wake waiters).
//! All signals are blocked here so the program's handlers run on its own
//! threads, as they would without the shim.

use std::time::Duration;

use crate::runtime::{Shim, DEADLINE_COMPUTING, DEADLINE_NONE};
use crate::sys;

/// Frames read per wake-up before timers and output get a turn.
const BATCH: usize = 64;
const FRAME_BUFFER: usize = 64 * 1024;

fn block_all_signals() {
    // SAFETY: `set` is a valid sigset initialised by sigfillset before use;
    // pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

pub fn run(shim: &'static Shim) {
    block_all_signals();
    crate::guard::inside(|| {
        let mut buf = vec![0u8; FRAME_BUFFER];
        loop {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                one_round(shim, &mut buf);
            }));
            if r.is_err() {
                crate::log_error!("driver: internal panic; continuing");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
}

fn one_round(shim: &Shim, buf: &mut [u8]) {
    shim.set_driver_deadline(DEADLINE_COMPUTING);
    let timeout_at = shim.stack.poll_timeout().map(|t| t.total_micros());
    shim.set_driver_deadline(timeout_at.unwrap_or(DEADLINE_NONE));
    let now = sys::monotonic_micros();
    let sleep = timeout_at.map(|t| Duration::from_micros(t.saturating_sub(now)));
    let mut fds = [
        libc::pollfd {
            fd: shim.tun_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: shim.driver_wake_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    if sleep != Some(Duration::ZERO) {
        match sys::ppoll(&mut fds, sleep, None) {
            Ok(_) => {}
            Err(e) if e.0 == libc::EINTR => return,
            Err(e) => {
                crate::log_error!("driver: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        }
    }
    if fds[1].revents & libc::POLLIN != 0 {
        let _ = sys::eventfd_wait(shim.driver_wake_fd());
    }
    if fds[0].revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        crate::warn_once!("driver: TUN device reports an error; is it still up?");
        std::thread::sleep(Duration::from_millis(10));
    }
    if fds[0].revents & libc::POLLIN != 0 {
        read_frames(shim, buf);
    }
    let now = sys::now();
    if shim
        .stack
        .poll_timeout()
        .is_some_and(|t| t.total_micros() <= now.total_micros())
    {
        shim.stack.handle_timeout(now);
    }
    shim.flush_transmit();
    shim.wake_changed();
}

fn read_frames(shim: &Shim, buf: &mut [u8]) {
    for _ in 0..BATCH {
        // SAFETY: `buf` is a valid writable buffer of its length.
        let n = unsafe {
            (crate::real::real().read)(shim.tun_fd(), buf.as_mut_ptr().cast(), buf.len())
        };
        if n <= 0 {
            if n < 0 && sys::errno() != libc::EAGAIN && sys::errno() != libc::EINTR {
                crate::log_debug!("driver: TUN read failed: {}", sys::last_errno());
            }
            return;
        }
        let frame = &buf[..n as usize];
        shim.stack.handle_frame(sys::now(), frame);
        // Acks and window updates go out promptly during a burst.
        shim.flush_transmit();
    }
}
