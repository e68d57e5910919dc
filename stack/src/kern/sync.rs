//! The lock types the stack is built on: parking_lot's, or, when built
//! with `RUSTFLAGS="--cfg loom"`, loom's behind the same face, so that
//! loom model-checks the real socket model (kern/loom_tests.rs,
//! scripts/loom) rather than a copy of it. Every lock of the stack comes
//! from here (through kern/lockorder.rs and kern/sotable.rs).

#[cfg(not(loom))]
pub use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(loom)]
pub use loom_face::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(loom)]
mod loom_face {
    pub use loom::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

    /// loom's Mutex with parking_lot's face (no poisoning).
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub fn new(v: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(v))
        }

        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// loom's RwLock with parking_lot's face.
    #[derive(Debug)]
    pub struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub fn new(v: T) -> RwLock<T> {
            RwLock(loom::sync::RwLock::new(v))
        }

        pub fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }

        pub fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
    }
}
