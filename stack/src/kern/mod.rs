//! The socket layer (FreeBSD's sys/kern uipc_*): the socket table,
//! sockets with their buffers and reference counts, listen queues, SOL_SOCKET
//! options, and the protocol switch through which alone it reaches a
//! protocol. It never names a protocol or the stack's face: the face hands
//! it a protocol table (`SoTable::new`) and itself as the context (`SoCx`).

pub mod errqueue;
pub mod listen;
pub mod lockorder;
pub mod protosw;
pub mod ringbuf;
pub mod sk_filter;
pub mod sockbuf;
pub mod socket;
pub mod sockopt;
pub mod sotable;
pub mod sync;
pub mod uipc;

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(test)]
mod guard_tests;

#[cfg(test)]
mod lifecycle_tests;
