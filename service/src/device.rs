//! The TUN device the service owns: attach (never create) with
//! IFF_TUN | IFF_NO_PI, and IFF_VNET_HDR with the offloads the kernel
//! takes unless turned off (the header codec and the choice of offloads
//! are the stack's, `stack::wire::virtio_net`, shared with the shim's
//! sys/tun.rs), read its MTU, wait until the kernel runs it.

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

/// Attach to the existing TUN device `name`. With `offload`, ask for a
/// `virtio_net_hdr` and the offloads of `OFFLOAD_ATTEMPTS`, keeping what the
/// kernel gives; without, clear the offloads an earlier process may have
/// left on the device (they outlive the fd that set them).
pub fn open_tun(name: &str, offload: bool) -> io::Result<Tun> {
    use stack::wire::virtio_net::{self as vn, IFF_VNET_HDR};
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
    let attach = |extra: i16| -> io::Result<()> {
        let mut req = ifreq(name)?;
        let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as i16 | extra;
        req.data[..2].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: TUNSETIFF takes a pointer to a struct ifreq, as `req` is laid out.
        if unsafe { libc::ioctl(raw, TUNSETIFF, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: TUNSETOFFLOAD takes the flags as its argument, no pointer.
    let setoffload = |flags: u32| unsafe {
        libc::ioctl(
            raw,
            vn::TUNSETOFFLOAD as libc::c_ulong,
            flags as libc::c_ulong,
        ) == 0
    };
    let mut fallback = None;
    let vnet = offload
        && match attach(IFF_VNET_HDR) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                fallback = Some(format!("IFF_VNET_HDR refused ({e})"));
                false
            }
            Err(e) => return Err(e),
        };
    if !vnet {
        attach(0)?;
    }
    let mut offload_flags = 0;
    if vnet {
        let size = vn::HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer. The
        // kernel's default is the same 10 bytes, so a failure is harmless.
        unsafe { libc::ioctl(raw, vn::TUNSETVNETHDRSZ as libc::c_ulong, &size) };
        offload_flags = vn::negotiate(setoffload);
        if offload_flags == 0 {
            fallback = Some("TUNSETOFFLOAD refused every offload".into());
        }
    } else {
        setoffload(0);
    }
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
