//! sockshimd, the stack service: one TUN device and one `stack::Stack` per
//! network namespace, shared by every shimmed process (docs/architecture.md,
//! "The stack service"). The binary is `main.rs`; the parts live here so
//! that tests drive them without a device.

pub mod anchor;
pub mod capture;
pub mod core;
pub mod cpus;
pub mod device;
pub mod idle;
pub mod limits;
pub mod listener;
pub mod pace;
pub mod region;
pub mod reservation;
/// The netlink watch of the namespace's addresses, the shim's own file.
#[path = "../../shim/src/sys/rtnl.rs"]
pub mod rtnl;
pub mod run;
pub mod startup;
pub mod stat;
