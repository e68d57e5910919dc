//! Exports that install signal handlers: sigaction, signal (with its
//! aliases bsd_signal and ssignal) and sysv_signal. Each keeps the
//! program's handler and installs the shim's trampoline in its place
//! (`sighandlers.rs`), so a blocking socket call can tell that a handler
//! ran in its thread while it prepared its sleep.

use std::panic::{catch_unwind, AssertUnwindSafe};

use libc::{c_int, sighandler_t};

use crate::real::real;
use crate::sighandlers;

fn real_sigaction(sig: c_int, act: Option<&libc::sigaction>, old: &mut libc::sigaction) -> c_int {
    let act = act.map_or(std::ptr::null(), |a| a as *const libc::sigaction);
    // SAFETY: `act` is null or a valid action; `old` a valid place.
    unsafe { (real().sigaction)(sig, act, old) }
}

/// # Safety
/// Standard sigaction(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    let run = || {
        // SAFETY: the caller passes null or valid pointers (sigaction's
        // contract); the kernel would fault on bad ones, libc too.
        let (act, old) = unsafe { (act.as_ref(), old.as_mut()) };
        sighandlers::install(sig, act, old, real_sigaction)
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| {
        // SAFETY: as above, straight to libc.
        unsafe { (real().sigaction)(sig, act, old) }
    })
}

/// signal(), bsd_signal(), sysv_signal() through libc (which picks the
/// flags: SA_RESTART unless siginterrupt said otherwise, or System V's
/// one-shot), then the trampoline put in the handler's place.
fn through_libc(
    sig: c_int,
    handler: sighandler_t,
    libc_fn: unsafe extern "C" fn(c_int, sighandler_t) -> sighandler_t,
) -> sighandler_t {
    let run = || {
        let prev = sighandlers::kept(sig);
        // SAFETY: libc's own function with the caller's arguments.
        let was = unsafe { libc_fn(sig, handler) };
        if was == libc::SIG_ERR {
            return was;
        }
        // SAFETY: plain data, filled by the kernel.
        let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
        let installed = (real_sigaction(sig, None, &mut cur) == 0).then_some(cur);
        sighandlers::wrap_installed(sig, installed, was, prev, |s, k| {
            // SAFETY: plain data for the unwanted old action.
            let mut o: libc::sigaction = unsafe { std::mem::zeroed() };
            real_sigaction(s, Some(k), &mut o);
        })
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(libc::SIG_ERR)
}

/// # Safety
/// Standard signal(2) contract.
#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    through_libc(sig, handler, real().signal)
}

/// # Safety
/// glibc's alias of signal().
#[no_mangle]
pub unsafe extern "C" fn bsd_signal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    through_libc(sig, handler, real().signal)
}

/// # Safety
/// glibc's alias of signal().
#[no_mangle]
pub unsafe extern "C" fn ssignal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    through_libc(sig, handler, real().signal)
}

/// # Safety
/// Standard sysv_signal(3) contract.
#[no_mangle]
pub unsafe extern "C" fn sysv_signal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    through_libc(sig, handler, real().sysv_signal)
}

/// # Safety
/// glibc's name of sysv_signal(), which <signal.h> maps signal() to under
/// _XOPEN_SOURCE without _DEFAULT_SOURCE.
#[no_mangle]
pub unsafe extern "C" fn __sysv_signal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    through_libc(sig, handler, real().sysv_signal)
}
