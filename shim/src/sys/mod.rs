//! OS plumbing of the shim: the TUN device, and the netlink watch of the
//! namespace's addresses (also built into the service).

pub mod rtnl;
pub mod tun;
