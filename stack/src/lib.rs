//! sockshim's TCP/IP stack: sans-IO, no threads, no clock, no OS calls.
//! Time and frames come in as arguments; frames and timeouts go out through
//! `poll_transmit` / `poll_timeout`. The socket layer follows the FreeBSD
//! 2006 socket/PCB reference model (see `kern`).

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod errno;
pub mod faults;
pub mod hash;
mod host;
pub mod kern;
pub mod linux;
pub mod netinet;
pub mod offload;
mod rng;
pub mod stats;
pub mod time;
pub mod wire;

pub use api::{DgramInfo, Domain, Readiness, RecvMeta, SockInfo, SockType, SocketHandle};
pub use config::{Config, Sysctl};
pub use errno::Errno;
pub use host::SocketRow;
pub use host::Stack;
pub use offload::{Offloads, RxMeta, TxMeta};
pub use stats::StatsSnapshot;
pub use time::Instant;

#[cfg(test)]
mod testing;
