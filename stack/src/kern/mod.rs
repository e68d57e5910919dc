//! The socket layer (FreeBSD's sys/kern uipc_*): sockets, their buffers and
//! reference counts, listen queues, and the protocol switch.

pub mod listen;
pub mod lockorder;
pub mod protosw;
pub mod ringbuf;
pub mod sockbuf;
pub mod socket;
pub mod sockopt;
pub mod uipc;

#[cfg(test)]
mod lifecycle_tests;
