//! The frame around every intercepted call: a per-thread reentrancy flag
//! (libc functions we call may call our exports again: those nested calls go
//! straight to libc), `catch_unwind` so no panic crosses `extern "C"`, and
//! errno set exactly once, at the end (left untouched on success).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use stack::Errno;

use crate::sys;

thread_local! {
    /// True while this thread runs shim code. A `const` Copy cell has no
    /// destructor, so it is usable until the thread is gone.
    static IN_SHIM: Cell<bool> = const { Cell::new(false) };
}

/// True when the caller is the shim itself (a nested call): pass it to libc.
pub fn busy() -> bool {
    IN_SHIM.with(|c| c.get())
}

/// Runs one intercepted call. `fail` is what the C function returns on error
/// (-1 nearly always). On error errno is set to the error; on success errno
/// is restored to its value at entry, so our internal calls leave no trace.
pub fn run<T>(fail: T, op: impl FnOnce() -> Result<T, Errno>) -> T {
    let saved_errno = sys::errno();
    let was_inside = IN_SHIM.with(|c| c.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(op));
    IN_SHIM.with(|c| c.set(was_inside));
    match outcome {
        Ok(Ok(value)) => {
            sys::set_errno(saved_errno);
            value
        }
        Ok(Err(e)) => {
            sys::set_errno(e.0);
            fail
        }
        Err(_) => {
            crate::log_error!("internal panic caught at the C boundary; returning EIO");
            sys::set_errno(Errno::EIO.0);
            fail
        }
    }
}

/// Runs `f` (a blocking system call) with the thread marked as outside the
/// shim, so a signal handler that interrupts it and uses sockets reaches the
/// shim like any other code. No shim lock may be held across this.
pub fn outside<R>(f: impl FnOnce() -> R) -> R {
    let was_inside = IN_SHIM.with(|c| c.replace(false));
    let r = f();
    IN_SHIM.with(|c| c.set(was_inside));
    r
}

/// Runs shim-internal work that may call libc functions we export (logging,
/// reading /proc, spawning the driver): those nested calls go to libc.
pub fn inside<R>(f: impl FnOnce() -> R) -> R {
    let was_inside = IN_SHIM.with(|c| c.replace(true));
    let r = f();
    IN_SHIM.with(|c| c.set(was_inside));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_sets_errno_only_on_error_and_restores_it_on_success() {
        sys::set_errno(7);
        let v = run(-1, || {
            sys::set_errno(99);
            Ok(5)
        });
        assert_eq!(v, 5);
        assert_eq!(sys::errno(), 7);
        let v = run(-1, || Err::<i32, _>(Errno::ECONNREFUSED));
        assert_eq!(v, -1);
        assert_eq!(sys::errno(), Errno::ECONNREFUSED.0);
    }

    #[test]
    fn run_turns_a_panic_into_eio() {
        let v = run(-1, || -> Result<i32, Errno> { panic!("boom") });
        assert_eq!(v, -1);
        assert_eq!(sys::errno(), Errno::EIO.0);
    }

    #[test]
    fn nested_calls_see_busy() {
        assert!(!busy());
        run(0, || {
            assert!(busy());
            outside(|| assert!(!busy()));
            assert!(busy());
            Ok(0)
        });
        assert!(!busy());
    }
}
