//! The TUN device the service owns: attach (never create) with
//! IFF_TUN | IFF_NO_PI, and IFF_VNET_HDR with the offloads the kernel
//! takes unless turned off (the header codec and the choice of offloads
//! are the stack's, `stack::wire::virtio_net`, shared with the shim's
//! sys/tun.rs), read its MTU, wait until the kernel runs it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use stack::wire::ifreq::IfReq;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// A request for `name`, or EINVAL before any system call.
fn ifreq(name: &str) -> io::Result<IfReq> {
    IfReq::new(name).map_err(|e| io::Error::from_raw_os_error(e.0))
}

/// An attached device: its fd and how frames cross it.
pub struct Tun {
    /// Non-blocking.
    pub fd: OwnedFd,
    /// Every frame read and written starts with a `virtio_net_hdr`.
    pub vnet: bool,
    /// The `TUNSETOFFLOAD` flags the kernel took (0: none).
    pub offload_flags: u32,
    /// Why offloads were asked for and not had (one log line).
    pub fallback: Option<String>,
}

/// The attach ioctls on our fd, in the order `virtio_net::attach` makes them.
struct Ioctls<'a> {
    fd: std::os::fd::RawFd,
    name: &'a str,
}

impl stack::wire::virtio_net::TunIoctls for Ioctls<'_> {
    fn set_iff(&mut self, extra: i16) -> io::Result<()> {
        let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as i16 | extra;
        let mut req = ifreq(self.name)?.with_flags(flags);
        // SAFETY: TUNSETIFF takes a pointer to a struct ifreq, as `req` is laid out.
        if unsafe { libc::ioctl(self.fd, TUNSETIFF, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn set_vnet_hdr_len(&mut self) {
        use stack::wire::virtio_net as vn;
        let size = vn::HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer.
        unsafe { libc::ioctl(self.fd, vn::TUNSETVNETHDRSZ as libc::c_ulong, &size) };
    }

    fn set_offload(&mut self, flags: u32) -> bool {
        use stack::wire::virtio_net as vn;
        // SAFETY: TUNSETOFFLOAD takes the flags as its argument, no pointer.
        unsafe {
            libc::ioctl(
                self.fd,
                vn::TUNSETOFFLOAD as libc::c_ulong,
                flags as libc::c_ulong,
            ) == 0
        }
    }
}

/// Attach to the existing TUN device `name`. With `offload`, ask for a
/// `virtio_net_hdr` and the offloads of `OFFLOAD_ATTEMPTS`, keeping what the
/// kernel gives; without, clear the offloads an earlier process may have
/// left on the device (they outlive the fd that set them).
pub fn open_tun(name: &str, offload: bool) -> io::Result<Tun> {
    use stack::wire::virtio_net as vn;
    let cname = std::ffi::CString::new(name)?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    if unsafe { libc::if_nametoindex(cname.as_ptr()) } == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    // SAFETY: open(2) with a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open returned a fresh fd that we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let vn::Attached {
        vnet,
        offload_flags,
        fallback,
    } = vn::attach(&mut Ioctls { fd: raw, name }, offload)?;
    Ok(Tun {
        fd,
        vnet,
        offload_flags,
        fallback,
    })
}

fn ifreq_ioctl(name: &str, req_code: libc::c_ulong) -> Option<IfReq> {
    let mut req = ifreq(name).ok()?;
    // SAFETY: a datagram socket used only for the ioctl, closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return None;
    }
    // SAFETY: SIOCGIF* fill ifreq's union.
    let rc = unsafe { libc::ioctl(s, req_code, &mut req) };
    // SAFETY: s is ours.
    unsafe { libc::close(s) };
    (rc == 0).then_some(req)
}

/// The netlink helpers' libc functions (the service calls libc directly).
pub fn rtnl_sys() -> crate::rtnl::Sys {
    crate::rtnl::Sys {
        socket: libc::socket,
        bind: libc::bind,
        send: libc::send,
        recv: libc::recv,
        close: libc::close,
    }
}

/// The device's interface index (if_nametoindex), if it exists.
pub fn device_ifindex(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    (i != 0).then_some(i)
}

/// The MTU of interface `name` (SIOCGIFMTU).
pub fn device_mtu(name: &str) -> Option<usize> {
    let r = ifreq_ioctl(name, libc::SIOCGIFMTU)?;
    let mtu = r.int();
    (mtu > 0).then_some(mtu as usize)
}

/// Wait (up to `limit`) until the kernel reports `name` running; until
/// then it drops what it routes to the device.
pub fn wait_running(name: &str, limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    loop {
        if let Some(r) = ifreq_ioctl(name, libc::SIOCGIFFLAGS) {
            let flags = r.flags() as i32;
            if flags & libc::IFF_RUNNING != 0 {
                // linkwatch activates the qdisc just after, under the rtnl
                // lock: wait for that lock (shim/src/sys/tun.rs).
                if !crate::rtnl::rtnl_barrier(&rtnl_sys()) {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                return true;
            }
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(250));
    }
}
