//! The TUN device the service owns: attach (never create) with
//! IFF_TUN | IFF_NO_PI, read its MTU, wait until the kernel runs it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

fn ifreq(name: &str) -> io::Result<IfReq> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut r = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: [0; 24],
    };
    r.name[..b.len()].copy_from_slice(b);
    Ok(r)
}

/// Attach to the existing TUN device `name`: a non-blocking fd.
pub fn open_tun(name: &str) -> io::Result<OwnedFd> {
    let mut req = ifreq(name)?;
    let cname = std::ffi::CString::new(name)?;
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
    // SAFETY: open returned a fresh fd that we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: TUNSETIFF takes a pointer to a struct ifreq, as `req` is laid out.
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&fd), TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
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

/// The MTU of interface `name`.
/// The device's interface index (if_nametoindex), if it exists.
pub fn device_ifindex(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    (i != 0).then_some(i)
}

pub fn device_mtu(name: &str) -> Option<usize> {
    let r = ifreq_ioctl(name, libc::SIOCGIFMTU)?;
    let mtu = i32::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]);
    (mtu > 0).then_some(mtu as usize)
}

/// Wait (up to `limit`) until the kernel reports `name` running; until
/// then it drops what it routes to the device.
pub fn wait_running(name: &str, limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    loop {
        if let Some(r) = ifreq_ioctl(name, libc::SIOCGIFFLAGS) {
            let flags = i16::from_ne_bytes([r.data[0], r.data[1]]) as i32;
            if flags & libc::IFF_RUNNING != 0 {
                // linkwatch activates the qdisc just after: a moment more.
                std::thread::sleep(std::time::Duration::from_millis(10));
                return true;
            }
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused_before_any_syscall() {
        assert!(ifreq("").is_err());
        assert!(ifreq("a-name-far-too-long-for-linux").is_err());
        assert!(ifreq("nul\0inside").is_err());
        assert!(ifreq("sockshim0").is_ok());
    }
}
