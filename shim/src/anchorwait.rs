//! Several threads of a process blocked on one stack socket in service
//! mode (one sends while another receives, c-test 162): they share one
//! wake-up channel, the anchor, whose token the service writes once for
//! the interest a waiter registered, and which a waiter reads back before
//! it registers its own. Read back by the wrong thread, a token was lost
//! with the interest it answered, and its thread slept on: 162 hung.
//!
//! So one waiter at a time owns the anchor (reads its token back, registers
//! its interest, sleeps on it); the others register their interest and
//! sleep on their own thread's eventfd. Whenever the owner wakes (a
//! token, a timeout, a signal) or takes the anchor over (reading back a
//! token that may be another's), it wakes every sleeper, which looks at
//! its socket again. Each still blocks in a restartable read, so
//! SA_RESTART and EINTR behave as for one waiter.
//!
//! The same lock also counts the calls in progress on the open file and
//! notes the reference kept for them when its last descriptor closes
//! before they took their own (`callref::Entering`): two more small
//! fields here, not another lock in every open file (memory per
//! connection).

use parking_lot::Mutex;

use crate::real::real;

/// The waiters of one open file (in `OpenFile`).
#[derive(Debug, Default)]
pub struct AnchorWait {
    st: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// A thread owns the anchor.
    owned: bool,
    /// Calls in progress (`callref::Entering`).
    calls: u16,
    /// The reference kept for them (callref.rs: its in-process mark, or a duplicate of
    /// the anchor); 0: none.
    kept: i32,
    /// The eventfds of the other waiters (boxed: 8 bytes while there are
    /// none, as on almost every open file: memory per connection).
    #[allow(clippy::box_collection)] // 8 bytes, not Vec's 24, while empty
    sleepers: Option<Box<Vec<i32>>>,
}

impl State {
    fn take_sleepers(&mut self) -> Vec<i32> {
        self.sleepers.take().map(|b| *b).unwrap_or_default()
    }
}

/// This thread's part in one round of waiting; released on drop.
pub enum Role<'a> {
    /// Sleeps on the anchor.
    Owner(&'a AnchorWait),
    /// Sleeps on this eventfd.
    Sleeper(&'a AnchorWait, i32),
}

fn wake(evfd: i32) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes to a thread's eventfd.
    unsafe { (real().write)(evfd, &one as *const u64 as *const libc::c_void, 8) };
}

impl AnchorWait {
    /// Take a role before registering interest: the first waiter owns the
    /// anchor and reads its token back (waking the sleepers: the token
    /// may have been one of theirs); the others become sleepers. With
    /// `read_back` false the owner reads the token back in its sleep
    /// instead (`wait::take_token_blocking`).
    pub fn enter(&self, anchor: i32, read_back: bool) -> Role<'_> {
        let mut st = self.st.lock();
        if !st.owned {
            st.owned = true;
            if read_back {
                crate::wait::drain_token(anchor);
            }
            for e in st.take_sleepers() {
                wake(e);
            }
            return Role::Owner(self);
        }
        let e = crate::wait::thread_evfd();
        crate::wait::drain(e);
        st.sleepers.get_or_insert_with(Default::default).push(e);
        Role::Sleeper(self, e)
    }

    /// A call on this open file starts.
    pub fn call_starts(&self) {
        let mut st = self.st.lock();
        st.calls = st.calls.saturating_add(1);
    }

    /// A call ends: the reference kept for the calls, to release, when it
    /// was the last one (0: nothing to release).
    pub fn call_ends(&self) -> i32 {
        let mut st = self.st.lock();
        st.calls = st.calls.saturating_sub(1);
        if st.calls == 0 {
            std::mem::take(&mut st.kept)
        } else {
            0
        }
    }

    /// The last descriptor goes while calls are in progress: `keep()`
    /// takes a reference for them (its mark, 0 if it could not), unless
    /// one is kept already. Whether one is kept now.
    pub fn keep_for_calls(&self, keep: impl FnOnce() -> i32) -> bool {
        let mut st = self.st.lock();
        if st.calls > 0 && st.kept == 0 {
            st.kept = keep();
        }
        st.kept != 0
    }

    /// Is a reference kept for calls in progress?
    pub fn kept_for_calls(&self) -> bool {
        self.st.lock().kept != 0
    }

    /// Sleepers now (tests).
    #[cfg(test)]
    fn sleepers(&self) -> usize {
        self.st.lock().sleepers.as_ref().map_or(0, |v| v.len())
    }
}

impl Drop for Role<'_> {
    fn drop(&mut self) {
        match self {
            Role::Owner(w) => {
                let mut st = w.st.lock();
                st.owned = false;
                for e in st.take_sleepers() {
                    wake(e);
                }
            }
            Role::Sleeper(w, e) => {
                let mut st = w.st.lock();
                if let Some(v) = st.sleepers.as_mut() {
                    v.retain(|x| x != e);
                    if v.is_empty() {
                        st.sleepers = None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: i32) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn a_reference_is_kept_only_for_calls_in_progress_and_given_back_by_the_last() {
        let w = AnchorWait::default();
        // No call in progress: a last close keeps nothing.
        assert!(!w.keep_for_calls(|| panic!("nothing to keep for")));
        w.call_starts();
        w.call_starts();
        assert!(w.keep_for_calls(|| 77));
        // Kept once, not again for the same calls.
        assert!(w.keep_for_calls(|| panic!("kept already")));
        assert!(w.kept_for_calls());
        assert_eq!(w.call_ends(), 0, "another call is still in progress");
        assert_eq!(w.call_ends(), 77, "the last call gives it back");
        assert!(!w.kept_for_calls());
        assert_eq!(w.call_ends(), 0, "never below zero");
        // A reference that could not be taken is not noted.
        w.call_starts();
        assert!(!w.keep_for_calls(|| 0));
        assert_eq!(w.call_ends(), 0);
    }

    #[test]
    fn the_owner_leaving_wakes_every_sleeper() {
        let w = AnchorWait::default();
        let owner = w.enter(-1, true);
        assert!(matches!(owner, Role::Owner(_)));
        // A second waiter (this thread's eventfd stands for its own).
        let sleeper = w.enter(-1, true);
        let Role::Sleeper(_, e) = sleeper else {
            panic!("the second waiter sleeps on its eventfd")
        };
        assert!(!readable(e));
        assert_eq!(w.sleepers(), 1);
        drop(owner);
        assert!(readable(e), "woken when the owner wakes or leaves");
        assert_eq!(w.sleepers(), 0);
        drop(sleeper);
        // The next waiter owns the anchor again.
        assert!(matches!(w.enter(-1, true), Role::Owner(_)));
    }
}
