//! The socket lock and its order, checked in debug builds. A thread may
//! hold one socket lock, and while holding a listener's lock it may take the
//! lock of a connection queued on (or being created for) that listener:
//! listener before child, never two unrelated sockets. `SockGuard` records
//! the locks a thread holds and asserts the rule on every acquisition.

use std::ops::{Deref, DerefMut};

use parking_lot::MutexGuard;

#[cfg(debug_assertions)]
use crate::api::SocketHandle;
use crate::kern::socket::Socket;
use crate::kern::sotable::SocketRef;

#[cfg(debug_assertions)]
thread_local! {
    static HELD: std::cell::RefCell<Vec<SocketHandle>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A locked socket.
pub struct SockGuard<'a> {
    guard: MutexGuard<'a, Socket>,
    #[cfg(debug_assertions)]
    handle: SocketHandle,
}

/// Lock a socket, asserting the lock order in debug builds.
pub fn so_lock(sref: &SocketRef) -> SockGuard<'_> {
    let guard = sref.lock();
    #[cfg(debug_assertions)]
    {
        let handle = guard.handle;
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(&outer) = h.last() {
                assert!(
                    guard.so_head == Some(outer),
                    "lock order: {handle:?} taken while holding {outer:?}, which is not its listener"
                );
            }
            h.push(handle);
        });
        SockGuard { guard, handle }
    }
    #[cfg(not(debug_assertions))]
    SockGuard { guard }
}

impl Drop for SockGuard<'_> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(pos) = h.iter().rposition(|x| *x == self.handle) {
                h.remove(pos);
            }
        });
    }
}

impl Deref for SockGuard<'_> {
    type Target = Socket;
    fn deref(&self) -> &Socket {
        &self.guard
    }
}

impl DerefMut for SockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Socket {
        &mut self.guard
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;
    use crate::{Config, SockType, Stack};

    #[test]
    #[should_panic(expected = "lock order")]
    fn two_unrelated_socket_locks_are_refused() {
        let s = Stack::new(Config::new([10, 0, 0, 1].into(), 24));
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let b = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let _ga = so_lock(&a);
        let _gb = so_lock(&b);
    }

    #[test]
    fn one_lock_at_a_time_is_fine() {
        let s = Stack::new(Config::new([10, 0, 0, 1].into(), 24));
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let b = s.lookup(s.socket(SockType::Dgram, 0).unwrap()).unwrap();
        drop(so_lock(&a));
        drop(so_lock(&b));
        let _again = so_lock(&a);
    }
}
