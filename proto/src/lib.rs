//! The protocol between the shim (`libsockshim.so`, the client) and the
//! stack service `sockshimd`: the service's name, the control messages and
//! their byte encoding, and the configuration both read from SOCKSHIM_*.
//! See docs/architecture.md, "The stack service".
//!
//! Everything here is pure: no OS calls. Decoding never panics on any
//! input (a property test feeds it garbage): a malformed message is an
//! `Err(Malformed)`, which the service answers and then cuts the client.

#![forbid(unsafe_code)]

pub mod config;
pub mod handoff;
pub mod msg;
pub mod name;
pub mod region;
pub mod spin;
pub mod wire;

pub use msg::{Body, Reply, Request};
pub use wire::Malformed;

/// Protocol version; the first message of a connection is `Hello` with it.
pub const VERSION: u32 = 11;

/// Most bytes of data one `Send` or `Recv` message carries (a larger send
/// is several messages; a datagram is at most 65,507 bytes).
pub const MAX_DATA: usize = 65_536;

/// Longest message either side sends or accepts (a SOCK_SEQPACKET record).
pub const MAX_MSG: usize = MAX_DATA + 256;

/// Most anchors one `Attach` message passes by SCM_RIGHTS (Linux allows
/// 253 per message).
pub const MAX_ATTACH: usize = 64;

/// Most sockets one `Socket` request may have made ahead (`spares`;
/// 16 since version 11: a client asks for more while its batches are all
/// taken in time, shim/src/spares.rs).
pub const MAX_SPARES: usize = 16;

/// The id `Attach` answers for a descriptor that is no anchor of the
/// service (socket ids are stack handles; 0 is a valid one).
pub const NOT_AN_ANCHOR: u64 = u64::MAX;

/// Most sockets one `Poll` message asks about.
pub const MAX_POLL: usize = 4096;

/// Longest socket option value carried: a socket filter of BPF_MAXINSNS
/// instructions after its 4-byte status (stack::kern::sk_filter).
pub const MAX_OPT: usize = 4 + 4096 * 8;
