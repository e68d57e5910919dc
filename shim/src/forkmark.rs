//! Is this the process that made the service connection, or a child of
//! fork() that inherited it? A child must not use its parent's
//! connection (their requests and replies would cross) and makes its own.
//! Asking getpid() each time was a system call per `Post` (glibc no
//! longer caches the pid); instead the connection's maker writes its pid
//! into a page the kernel hands every forked child zeroed
//! (MADV_WIPEONFORK, Linux 4.14), so the check is a load. It also catches
//! a child made without pthread_atfork handlers (a raw clone(2) or
//! syscall(SYS_fork)). A vfork() child shares the page as it shares all
//! memory, and uses the connection as a thread of the parent would, under
//! its lock. Where the page cannot be had, getpid() as before.
//!
//! The page is mapped at load (SOCKSHIM_MODE=service), before `main`,
//! never later: a mapping made at the first connection landed in a hole
//! the program had just unmapped, and its buffer running into that hole
//! no longer faulted (c-test 056's EFAULT became a send of garbage).

use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// The page's first word (null: not made, getpid() instead).
static PAGE: AtomicPtr<AtomicI32> = AtomicPtr::new(std::ptr::null_mut());

fn getpid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc::getpid() }
}

/// The page (None: not made, see `make`).
fn page() -> Option<&'static AtomicI32> {
    let p = PAGE.load(Ordering::Acquire);
    // SAFETY: a live mapping of at least one page, never unmapped,
    // holding an i32 at its start (aligned).
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Map the page (once; at load, see the module comment).
fn make() -> Option<&'static AtomicI32> {
    if let Some(p) = page() {
        return Some(p);
    }
    // SAFETY: an anonymous private mapping of one page; checked below.
    let m = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if m == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: advice on the page just mapped.
    if unsafe { libc::madvise(m, 4096, libc::MADV_WIPEONFORK) } != 0 {
        // SAFETY: unmapping what we mapped above, unused.
        unsafe { libc::munmap(m, 4096) };
        return None;
    }
    let p = m.cast::<AtomicI32>();
    match PAGE.compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: as above; ours now.
        Ok(_) => Some(unsafe { &*p }),
        Err(other) => {
            // Another thread made one first: use it, drop ours.
            // SAFETY: unmapping our unused page; `other` is live.
            unsafe {
                libc::munmap(m, 4096);
                Some(&*other)
            }
        }
    }
}

extern "C" fn at_load() {
    let _ = std::panic::catch_unwind(|| {
        if std::env::var_os("SOCKSHIM_MODE").is_some_and(|m| m == "service") {
            make();
        }
    });
}

#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

/// A connection is being made by this process: what `ours` compares
/// (the pid, kept beside it for the fallback).
pub fn claim() -> i32 {
    let pid = getpid();
    if let Some(w) = page() {
        w.store(pid, Ordering::Release);
    }
    pid
}

/// Was the connection claimed (with `pid`) by this process, not by a
/// process this one was forked from?
pub fn ours(pid: i32) -> bool {
    let p = PAGE.load(Ordering::Acquire);
    if p.is_null() {
        return pid == getpid();
    }
    // SAFETY: a live mapping, never unmapped (see `page`).
    unsafe { &*p }.load(Ordering::Acquire) == pid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_is_not_the_claimer_and_the_claimer_is() {
        assert!(make().is_some(), "MADV_WIPEONFORK refused");
        let pid = claim();
        assert!(ours(pid));
        assert!(!ours(pid + 1));
        // SAFETY: fork in a test; the child only checks and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // The page was wiped in the child: not ours, whatever pid says.
            let code = if ours(pid) { 1 } else { 0 };
            // SAFETY: leave the child without running the test harness.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child: {status}"
        );
        assert!(ours(pid), "still the parent's");
    }
}
