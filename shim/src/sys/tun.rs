//! Open and attach a TUN device (IFF_TUN | IFF_NO_PI, with IFF_VNET_HDR and
//! the offloads the kernel takes unless turned off), and read its MTU. The
//! header codec and the offload choice are the stack's
//! (`stack::wire::virtio_net`), shared with sockshimd's device.rs.

use std::io;

use crate::real::real;

use stack::wire::ifreq::IfReq;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// A request for `name`, or EINVAL before any system call.
fn ifreq(name: &str) -> io::Result<IfReq> {
    IfReq::new(name).map_err(|e| io::Error::from_raw_os_error(e.0))
}

/// An attached device: its fd and how frames cross it.
pub struct Tun {
    /// Non-blocking, close-on-exec.
    pub fd: i32,
    /// Every frame read and written starts with a `virtio_net_hdr`.
    pub vnet: bool,
    /// The `TUNSETOFFLOAD` flags the kernel took (0: none).
    pub offload_flags: u32,
    /// Why offloads were asked for and not had (one log line).
    pub fallback: Option<String>,
}

/// The attach ioctls on our fd, in the order `virtio_net::attach` makes
/// them, through the real libc (never our own exports).
struct Ioctls<'a> {
    fd: i32,
    name: &'a str,
}

impl stack::wire::virtio_net::TunIoctls for Ioctls<'_> {
    fn set_iff(&mut self, extra: i16) -> io::Result<()> {
        let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as i16 | extra;
        let mut req = ifreq(self.name)?.with_flags(flags);
        // SAFETY: TUNSETIFF takes a pointer to a struct ifreq, which `req` is laid out as.
        let rc =
            unsafe { (real().ioctl)(self.fd, TUNSETIFF, &mut req as *mut IfReq as libc::c_ulong) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn set_vnet_hdr_len(&mut self) {
        use stack::wire::virtio_net as vn;
        let size = vn::HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer.
        unsafe {
            (real().ioctl)(
                self.fd,
                vn::TUNSETVNETHDRSZ as libc::c_ulong,
                &size as *const libc::c_int as libc::c_ulong,
            )
        };
    }

    fn set_offload(&mut self, flags: u32) -> bool {
        use stack::wire::virtio_net as vn;
        // SAFETY: TUNSETOFFLOAD takes the flags as its argument, no pointer.
        unsafe {
            (real().ioctl)(
                self.fd,
                vn::TUNSETOFFLOAD as libc::c_ulong,
                flags as libc::c_ulong,
            ) == 0
        }
    }
}

/// Attach to the existing TUN device `name` (never create one: TUNSETIFF
/// would silently make a new, unconfigured device) and wait until it is
/// running. With `offload`, ask for a `virtio_net_hdr` and the offloads of
/// `OFFLOAD_ATTEMPTS`, keeping what the kernel gives; without, clear the
/// offloads an earlier process may have left on the device.
pub fn open_tun(name: &str, offload: bool) -> io::Result<Tun> {
    use stack::wire::virtio_net as vn;
    let cname =
        std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
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
    let attached = vn::attach(&mut Ioctls { fd, name }, offload);
    let vn::Attached {
        vnet,
        offload_flags,
        fallback,
    } = match attached {
        Ok(a) => a,
        Err(e) => {
            // SAFETY: fd is ours and open.
            unsafe { (real().close)(fd) };
            return Err(e);
        }
    };
    // Attaching turns the carrier on; until linkwatch has run, the kernel
    // drops what it routes to the device (a first UDP reply, an ICMP error).
    wait_running(name, std::time::Duration::from_secs(1));
    Ok(Tun {
        fd,
        vnet,
        offload_flags,
        fallback,
    })
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
    let mut req = ifreq(name).ok()?;
    // SAFETY: a datagram socket used only for the ioctl, closed below.
    let s = unsafe { (real().socket)(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return None;
    }
    // SAFETY: SIOCGIFMTU fills the int at the start of ifreq's union.
    let rc =
        unsafe { (real().ioctl)(s, libc::SIOCGIFMTU, &mut req as *mut IfReq as libc::c_ulong) };
    // SAFETY: s is ours.
    unsafe { (real().close)(s) };
    if rc < 0 {
        return None;
    }
    let mtu = req.int();
    (mtu > 0).then_some(mtu as usize)
}

/// Wait (up to `limit`) until the kernel reports `name` running (carrier
/// up and, in the same linkwatch step, its queueing discipline active).
/// Until then the kernel drops what it routes to the device, which can be
/// up to a second after attach.
pub fn wait_running(name: &str, limit: std::time::Duration) -> bool {
    let Ok(mut req) = ifreq(name) else {
        return false;
    };
    // SAFETY: a datagram socket used only for the ioctl, closed below.
    let s = unsafe { (real().socket)(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return false;
    }
    let start = std::time::Instant::now();
    let running = loop {
        // SAFETY: SIOCGIFFLAGS fills the short at the start of ifreq's union.
        let rc = unsafe {
            (real().ioctl)(
                s,
                libc::SIOCGIFFLAGS,
                &mut req as *mut IfReq as libc::c_ulong,
            )
        };
        let flags = req.flags() as i32;
        if rc == 0 && flags & libc::IFF_RUNNING != 0 {
            // linkwatch marks the device running just before it activates
            // the queueing discipline, both under the rtnl lock: wait for
            // that lock (10 ms, the old fixed wait, without netlink). Was
            // 10 ms always, and a 2 ms poll step: 12 ms of the first
            // connection of every process (issue 18, the first block).
            if !crate::sys::rtnl::rtnl_barrier(&crate::sys::rtnl_sys()) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            break true;
        }
        if start.elapsed() >= limit {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_micros(250));
    };
    // SAFETY: s is ours.
    unsafe { (real().close)(s) };
    running
}
