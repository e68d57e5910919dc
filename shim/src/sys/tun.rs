//! Open and attach a TUN device (IFF_TUN | IFF_NO_PI), and read its MTU.

use std::io;

use crate::real::real;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

fn ifreq(name: &str) -> io::Result<IfReq> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let mut r = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: [0; 24],
    };
    r.name[..b.len()].copy_from_slice(b);
    Ok(r)
}

/// Attach to the existing TUN device `name` (never create one: TUNSETIFF
/// would silently make a new, unconfigured device) and wait until it is
/// running; returns a non-blocking, close-on-exec fd.
pub fn open_tun(name: &str) -> io::Result<i32> {
    let mut req = ifreq(name)?;
    let cname =
        std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    if unsafe { libc::if_nametoindex(cname.as_ptr()) } == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as i16;
    req.data[..2].copy_from_slice(&flags.to_ne_bytes());
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
    // SAFETY: TUNSETIFF takes a pointer to a struct ifreq, which `req` is laid out as.
    let rc = unsafe { (real().ioctl)(fd, TUNSETIFF, &mut req as *mut IfReq as libc::c_ulong) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: fd is ours and open.
        unsafe { (real().close)(fd) };
        return Err(e);
    }
    // Attaching turns the carrier on; until linkwatch has run, the kernel
    // drops what it routes to the device (a first UDP reply, an ICMP error).
    wait_running(name, std::time::Duration::from_secs(1));
    Ok(fd)
}

/// The MTU of interface `name` (SIOCGIFMTU).
/// The device's interface index (if_nametoindex), if it exists.
pub fn device_ifindex(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    (i != 0).then_some(i)
}

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
    let mtu = i32::from_ne_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]);
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
        let flags = i16::from_ne_bytes([req.data[0], req.data[1]]) as i32;
        if rc == 0 && flags & libc::IFF_RUNNING != 0 {
            // linkwatch marks the device running just before it activates
            // the queueing discipline: give that step a moment to finish.
            std::thread::sleep(std::time::Duration::from_millis(10));
            break true;
        }
        if start.elapsed() >= limit {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    // SAFETY: s is ours.
    unsafe { (real().close)(s) };
    running
}
