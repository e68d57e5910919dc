//! OS plumbing of the shim: the TUN device, and the netlink watch of the
//! namespace's addresses (also built into the service).

pub mod rtnl;

/// The netlink helpers' libc functions: the real ones (our own hooks must
/// not see those sockets).
pub fn rtnl_sys() -> rtnl::Sys {
    let r = crate::real::real();
    rtnl::Sys {
        socket: r.socket,
        bind: r.bind,
        send: r.send,
        recv: r.recv,
        close: r.close,
    }
}
pub mod tun;
