//! The stack's locks and their order, checked in debug builds
//! (docs/architecture.md, "Locks and their order"):
//! 1. a thread holds at most one socket lock, except that while holding a
//!    listener's lock it may take the lock of a connection queued on (or
//!    being created for) that listener: listener before child, never two
//!    unrelated sockets;
//! 2. every other lock is a leaf (`LeafMutex`, `LeafRwLock`: the socket
//!    table, the changed list, the PCB tables, the transmit queue, the
//!    timer heap, the RNG, the sysctls): it may be taken while socket locks
//!    are held, but no socket lock and no other leaf may be taken while a
//!    leaf is held.
//!
//! `SockGuard` and `LeafGuard` record the locks a thread holds and assert
//! the rules on every acquisition. A socket lock taken under a leaf is
//! refused before it blocks, so a violation panics instead of deadlocking.

use std::ops::{Deref, DerefMut};

use crate::kern::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(debug_assertions)]
use crate::api::SocketHandle;
use crate::kern::socket::{Socket, SocketRef};

/// A lock this thread holds.
#[cfg(debug_assertions)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Socket(SocketHandle),
    Leaf(&'static str),
}

#[cfg(all(debug_assertions, not(loom)))]
thread_local! {
    static HELD: std::cell::RefCell<Vec<Held>> = const { std::cell::RefCell::new(Vec::new()) };
}

// loom runs its threads on one OS thread: its own thread-locals.
#[cfg(all(debug_assertions, loom))]
loom::thread_local! {
    static HELD: std::cell::RefCell<Vec<Held>> = std::cell::RefCell::new(Vec::new());
}

/// Panic if this thread holds a leaf lock (rule 2): nothing may be taken
/// under a leaf.
#[cfg(debug_assertions)]
fn assert_no_leaf_held(taking: &dyn std::fmt::Display) {
    HELD.with(|h| {
        if let Some(Held::Leaf(leaf)) = h.borrow().iter().rev().find(|x| matches!(x, Held::Leaf(_)))
        {
            panic!("lock order: {taking} taken while holding the leaf lock `{leaf}`");
        }
    });
}

#[cfg(debug_assertions)]
fn forget_held(what: Held) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if let Some(pos) = h.iter().rposition(|x| *x == what) {
            h.remove(pos);
        }
    });
}

/// A locked socket.
pub struct SockGuard<'a> {
    guard: MutexGuard<'a, Socket>,
    #[cfg(debug_assertions)]
    handle: SocketHandle,
}

/// Lock a socket, asserting the lock order in debug builds.
pub fn so_lock(sref: &SocketRef) -> SockGuard<'_> {
    #[cfg(debug_assertions)]
    assert_no_leaf_held(&"a socket lock");
    let guard = sref.lock();
    #[cfg(debug_assertions)]
    {
        let handle = guard.handle;
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            let outer = h.iter().rev().find_map(|x| match x {
                Held::Socket(s) => Some(*s),
                Held::Leaf(_) => None,
            });
            if let Some(outer) = outer {
                assert!(
                    guard.so_head == Some(outer),
                    "lock order: {handle:?} taken while holding {outer:?}, which is not its listener"
                );
            }
            h.push(Held::Socket(handle));
        });
        SockGuard { guard, handle }
    }
    #[cfg(not(debug_assertions))]
    SockGuard { guard }
}

impl Drop for SockGuard<'_> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        forget_held(Held::Socket(self.handle));
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

/// A held leaf lock: the inner guard `G`, and the record of it.
pub struct LeafGuard<G> {
    guard: G,
    #[cfg(debug_assertions)]
    name: &'static str,
}

/// Record that this thread takes the leaf `name`, asserting rule 2 first.
fn leaf_enter(_name: &'static str) {
    #[cfg(debug_assertions)]
    {
        assert_no_leaf_held(&format_args!("the leaf lock `{_name}`"));
        HELD.with(|h| h.borrow_mut().push(Held::Leaf(_name)));
    }
}

impl<G> LeafGuard<G> {
    fn new(_name: &'static str, guard: G) -> LeafGuard<G> {
        LeafGuard {
            guard,
            #[cfg(debug_assertions)]
            name: _name,
        }
    }
}

impl<G> Drop for LeafGuard<G> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        forget_held(Held::Leaf(self.name));
    }
}

impl<G: Deref> Deref for LeafGuard<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for LeafGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

/// A leaf `Mutex`: held only to push, pop or look up, with nothing taken
/// under it.
pub struct LeafMutex<T> {
    name: &'static str,
    lock: Mutex<T>,
}

impl<T> LeafMutex<T> {
    pub fn new(name: &'static str, value: T) -> LeafMutex<T> {
        LeafMutex {
            name,
            lock: Mutex::new(value),
        }
    }

    pub fn lock(&self) -> LeafGuard<MutexGuard<'_, T>> {
        leaf_enter(self.name);
        LeafGuard::new(self.name, self.lock.lock())
    }
}

/// A leaf `RwLock`: held only to look up, insert or remove, with nothing
/// taken under it.
pub struct LeafRwLock<T> {
    name: &'static str,
    lock: RwLock<T>,
}

impl<T> LeafRwLock<T> {
    pub fn new(name: &'static str, value: T) -> LeafRwLock<T> {
        LeafRwLock {
            name,
            lock: RwLock::new(value),
        }
    }

    pub fn read(&self) -> LeafGuard<RwLockReadGuard<'_, T>> {
        leaf_enter(self.name);
        LeafGuard::new(self.name, self.lock.read())
    }

    pub fn write(&self) -> LeafGuard<RwLockWriteGuard<'_, T>> {
        leaf_enter(self.name);
        LeafGuard::new(self.name, self.lock.write())
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;
    use crate::{Config, SockType, Stack};

    fn stack() -> Stack {
        Stack::new(Config::new([10, 0, 0, 1].into(), 24))
    }

    #[test]
    #[should_panic(expected = "lock order")]
    fn two_unrelated_socket_locks_are_refused() {
        let s = stack();
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let b = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let _ga = so_lock(&a);
        let _gb = so_lock(&b);
    }

    #[test]
    fn one_lock_at_a_time_is_fine() {
        let s = stack();
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let b = s.lookup(s.socket(SockType::Dgram, 0).unwrap()).unwrap();
        drop(so_lock(&a));
        drop(so_lock(&b));
        let _again = so_lock(&a);
    }

    /// The deadlock of issue 15 in one thread: the socket table held (as a
    /// walk over it once did) while a socket is locked.
    #[test]
    #[should_panic(expected = "a socket lock taken while holding the leaf lock `socket table`")]
    fn a_socket_lock_under_the_table_lock_is_refused() {
        let s = stack();
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let table = LeafRwLock::new("socket table", ());
        let _t = table.read();
        let _ga = so_lock(&a);
    }

    #[test]
    #[should_panic(expected = "the leaf lock `b` taken while holding the leaf lock `a`")]
    fn a_leaf_under_a_leaf_is_refused() {
        let a = LeafMutex::new("a", 0);
        let b = LeafRwLock::new("b", 0);
        let _ga = a.lock();
        let _gb = b.write();
    }

    #[test]
    fn leaves_under_a_socket_lock_and_in_turn_are_fine() {
        let s = stack();
        let a = s.lookup(s.socket(SockType::Stream, 0).unwrap()).unwrap();
        let l1 = LeafMutex::new("l1", 0);
        let l2 = LeafRwLock::new("l2", 0);
        let _ga = so_lock(&a);
        *l1.lock() += 1;
        *l2.write() += 1;
        let r = l2.read();
        assert_eq!(*r, 1);
        drop(r);
        assert_eq!(*l1.lock(), 1);
        drop(_ga);
        // Every record was dropped: a socket lock may be taken again.
        let _again = so_lock(&a);
    }
}
