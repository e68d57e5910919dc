//! The exported libc symbols, one file per family of calls.

pub mod epoll;
pub mod errqueue;
pub mod fd;
pub mod io;
pub mod mem;
pub mod poll;
pub mod signal;
pub mod socket;
pub mod splice;
