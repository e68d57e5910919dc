//! Attaching to the TUN device: check that the named interface exists in
//! this network namespace (TUNSETIFF would otherwise silently create a new,
//! unconfigured one), read its MTU, open /dev/net/tun and attach with
//! IFF_TUN | IFF_NO_PI. Failures come back as an `AttachError` whose message
//! tells the user how to fix it.

use std::ffi::c_ulong;
use std::fmt;
use std::os::fd::RawFd;

use stack::Errno;

use crate::real::real;
use crate::sys::{close, last_errno};

const TUNSETIFF: c_ulong = 0x4004_54ca;
const IFF_TUN: i16 = 0x0001;
const IFF_NO_PI: i16 = 0x1000;

/// `struct ifreq`: the name, then a 24-byte union (flags, mtu, index...).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> IfReq {
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            data: [0; 24],
        };
        let n = name.len().min(libc::IFNAMSIZ - 1);
        r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        r
    }
    fn int(&self) -> i32 {
        i32::from_ne_bytes(self.data[..4].try_into().unwrap_or([0; 4]))
    }
}

/// An attached TUN device.
#[derive(Debug)]
pub struct Tun {
    /// Non-blocking, close-on-exec fd of /dev/net/tun attached to the device.
    pub fd: RawFd,
    pub mtu: usize,
}

/// Why the device could not be attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachError {
    Missing { name: String },
    NoTunDriver(Errno),
    Busy { name: String },
    NotTun { name: String },
    Permission { name: String, errno: Errno },
    Other { name: String, errno: Errno },
}

impl AttachError {
    /// The errno the failing socket call returns (documented in README).
    pub fn errno(&self) -> Errno {
        match self {
            AttachError::Permission { .. } => Errno::EACCES,
            _ => Errno::ENETDOWN,
        }
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::Missing { name } => write!(
                f,
                "TUN device {name} does not exist in this network namespace; \
                 run `scripts/netns-up NAME` and start the program with \
                 `ip netns exec NAME ...` (or set SOCKSHIM_TUN)"
            ),
            AttachError::NoTunDriver(e) => write!(
                f,
                "cannot open /dev/net/tun ({e}); load the tun module (modprobe tun)"
            ),
            AttachError::Busy { name } => write!(
                f,
                "TUN device {name} is busy (another process is attached to it); \
                 one shimmed process per device: run `scripts/netns-up` for \
                 another namespace or set SOCKSHIM_TUN to a free device"
            ),
            AttachError::NotTun { name } => write!(
                f,
                "interface {name} is not a TUN device without packet info; \
                 recreate it with `scripts/netns-up NAME`"
            ),
            AttachError::Permission { name, errno } => write!(
                f,
                "no permission to attach TUN device {name} ({errno}); run as \
                 root or create the device with `ip tuntap add dev {name} mode tun user $USER`"
            ),
            AttachError::Other { name, errno } => {
                write!(f, "cannot attach TUN device {name}: {errno}")
            }
        }
    }
}

/// Index and MTU of interface `name` in this namespace (kernel ioctls on a
/// short-lived kernel datagram socket).
fn interface_mtu(name: &str) -> Result<usize, AttachError> {
    // SAFETY: plain socket creation.
    let s = unsafe { (real().socket)(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(AttachError::Other {
            name: name.into(),
            errno: last_errno(),
        });
    }
    let mut req = IfReq::new(name);
    // SAFETY: SIOCGIFINDEX reads and writes a `struct ifreq`, which `req` is.
    let r = unsafe { (real().ioctl)(s, libc::SIOCGIFINDEX as c_ulong, &mut req as *mut IfReq) };
    if r < 0 {
        let e = last_errno();
        close(s);
        return Err(if e == Errno(libc::ENODEV) {
            AttachError::Missing { name: name.into() }
        } else {
            AttachError::Other {
                name: name.into(),
                errno: e,
            }
        });
    }
    let mut req = IfReq::new(name);
    // SAFETY: as above, SIOCGIFMTU on a `struct ifreq`.
    let r = unsafe { (real().ioctl)(s, libc::SIOCGIFMTU as c_ulong, &mut req as *mut IfReq) };
    let mtu = if r < 0 {
        1500
    } else {
        req.int().max(68) as usize
    };
    close(s);
    Ok(mtu)
}

/// Attaches to the existing TUN device `name`.
pub fn attach(name: &str) -> Result<Tun, AttachError> {
    let mtu = interface_mtu(name)?;
    // SAFETY: the path is a NUL-terminated literal.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        let e = last_errno();
        return Err(match e.0 {
            libc::EACCES | libc::EPERM => AttachError::Permission {
                name: name.into(),
                errno: e,
            },
            _ => AttachError::NoTunDriver(e),
        });
    }
    let mut req = IfReq::new(name);
    req.data[..2].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `req` is.
    let r = unsafe { (real().ioctl)(fd, TUNSETIFF, &mut req as *mut IfReq) };
    if r < 0 {
        let e = last_errno();
        close(fd);
        let name = name.to_string();
        return Err(match e.0 {
            libc::EBUSY => AttachError::Busy { name },
            libc::EINVAL => AttachError::NotTun { name },
            libc::EPERM | libc::EACCES => AttachError::Permission { name, errno: e },
            _ => AttachError::Other { name, errno: e },
        });
    }
    Ok(Tun { fd, mtu })
}
