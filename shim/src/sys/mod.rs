//! OS plumbing of the shim: the TUN device, the netlink watch of the
//! namespace's addresses (also built into the service), and the driver
//! thread's timer slack.

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

/// This thread's sleeps end within 1 us of their timeout instead of the
/// default 50 us (PR_SET_TIMERSLACK): the driver thread releases paced
/// data on a microsecond timer, as Linux's pacing hrtimer does.
pub fn timer_slack_1us() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer and touches no
    // memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
}
