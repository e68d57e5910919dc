//! `struct ifreq` (include/uapi/linux/if.h) as the kernel lays it out: an
//! interface name and a 24-byte union, the argument of the interface ioctls
//! the drivers make (TUNSETIFF, SIOCGIFMTU, SIOCGIFFLAGS). Building and
//! reading it is pure; the ioctls stay with the drivers (the shim's
//! in-process device and sockshimd's).

use crate::errno::Errno;

/// `IFNAMSIZ`: the name's bytes with its NUL.
pub const IFNAMSIZ: usize = 16;

/// `struct ifreq`: pass `&mut IfReq` where the kernel wants a pointer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfReq {
    pub name: [u8; IFNAMSIZ],
    pub data: [u8; 24],
}

impl IfReq {
    /// A request for interface `name`, the union zeroed. EINVAL for a name
    /// Linux would not take: empty, too long for IFNAMSIZ, or with a NUL.
    pub fn new(name: &str) -> Result<IfReq, Errno> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() >= IFNAMSIZ || b.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let mut r = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; 24],
        };
        r.name[..b.len()].copy_from_slice(b);
        Ok(r)
    }

    /// With `ifr_flags` (the union's first short) set.
    pub fn with_flags(mut self, flags: i16) -> IfReq {
        self.data[..2].copy_from_slice(&flags.to_ne_bytes());
        self
    }

    /// `ifr_flags`, the union read as a short (SIOCGIFFLAGS).
    pub fn flags(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    /// `ifr_mtu`, the union read as an int (SIOCGIFMTU).
    pub fn int(&self) -> i32 {
        i32::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_linux_refuses_are_einval() {
        assert_eq!(IfReq::new(""), Err(Errno::EINVAL));
        assert_eq!(IfReq::new("a-name-far-too-long"), Err(Errno::EINVAL));
        assert_eq!(IfReq::new("nul\0inside"), Err(Errno::EINVAL));
        let r = IfReq::new("sockshim0").unwrap();
        assert_eq!(&r.name[..10], b"sockshim0\0");
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn flags_and_int_read_the_union_start() {
        let r = IfReq::new("tun0").unwrap().with_flags(0x1001);
        assert_eq!(r.flags(), 0x1001);
        assert_eq!(r.int() & 0xffff, 0x1001);
    }
}
