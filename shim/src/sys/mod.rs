//! OS plumbing of the shim: the TUN device.

pub mod tun;
