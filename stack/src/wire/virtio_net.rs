//! The `virtio_net_hdr` that a TUN device opened with `IFF_VNET_HDR` puts
//! before every frame (include/uapi/linux/virtio_net.h, 10 bytes, the
//! host's byte order, little-endian here), and the `TUNSETOFFLOAD` flags
//! offered to the kernel. Pure byte handling shared by both drivers (the
//! shim's in-process device and sockshimd's): the ioctls themselves stay
//! with them.
//!
//! On read the header says whether the kernel left the transport checksum
//! partial (`NEEDS_CSUM`, it then holds only the pseudo-header sum) or has
//! checked it (`DATA_VALID`), and whether the frame is a GSO super-frame
//! (`gso_type`, `gso_size` bytes of payload per wire segment). On write it
//! asks the kernel to finish a partial checksum and to cut a TCP
//! super-segment into `gso_size` pieces (TSO done by the kernel).

use super::{Result, WireError};
use crate::offload::{Offloads, RxMeta, TxMeta};

/// Where TCP's checksum field is in its header.
const TCP_CHECKSUM_OFFSET: u16 = 16;
/// Where UDP's checksum lies in its header.
const UDP_CHECKSUM_OFFSET: u16 = 6;

/// The header's length (no `num_buffers`: `TUNSETVNETHDRSZ` 10).
pub const HDR_LEN: usize = 10;

/// `flags`: the checksum from `csum_start` on is partial; finish it and
/// store it at `csum_start + csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum was checked (the kernel's CHECKSUM_UNNECESSARY).
pub const F_DATA_VALID: u8 = 2;

pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Or'ed into `gso_type`: the TCP super-segment carries ECN's CWR.
pub const GSO_ECN: u8 = 0x80;

/// `TUNSETIFF` flag: a `virtio_net_hdr` before every frame.
pub const IFF_VNET_HDR: i16 = 0x4000;
/// `_IOW('T', 208, unsigned int)`: the offloads the kernel may use towards
/// us (the argument is the flags themselves).
pub const TUNSETOFFLOAD: u64 = 0x4004_54d0;
/// `_IOW('T', 216, int)`: the header's size (a pointer to an int).
pub const TUNSETVNETHDRSZ: u64 = 0x4004_54d8;

/// `TUNSETOFFLOAD` flags (include/uapi/linux/if_tun.h): what the kernel may
/// hand us unfinished.
pub const TUN_F_CSUM: u32 = 0x01;
pub const TUN_F_TSO4: u32 = 0x02;
pub const TUN_F_TSO6: u32 = 0x04;
pub const TUN_F_TSO_ECN: u32 = 0x08;
pub const TUN_F_UFO: u32 = 0x10;
pub const TUN_F_USO4: u32 = 0x20;
pub const TUN_F_USO6: u32 = 0x40;

/// What a driver offers with `TUNSETOFFLOAD`, best first: it tries each
/// until the kernel takes one (an older kernel refuses flags it does not
/// know with EINVAL; TSO needs CSUM; USO4 and USO6 go together). With USO
/// the kernel may hand us UDP super-datagrams, which udp_gso.rs splits for
/// a socket without UDP_GRO.
/// TSO_ECN is not offered: the kernel then segments a super-segment
/// with CWR itself, so each segment we see carries its own flags.
pub const OFFLOAD_ATTEMPTS: [u32; 4] = [
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
    TUN_F_CSUM | TUN_F_TSO4,
    TUN_F_CSUM,
];

/// Walk `OFFLOAD_ATTEMPTS` with `try_set` (the TUNSETOFFLOAD ioctl):
/// the flags taken, or 0 when the kernel took none.
pub fn negotiate(mut try_set: impl FnMut(u32) -> bool) -> u32 {
    OFFLOAD_ATTEMPTS
        .iter()
        .copied()
        .find(|&f| try_set(f))
        .unwrap_or(0)
}

/// The ioctls that attach a TUN device, made by a driver (the shim's
/// in-process device, sockshimd's); `attach` decides their order and what
/// a refusal means, so the two drivers do it one way.
pub trait TunIoctls {
    /// `TUNSETIFF` with `IFF_TUN | IFF_NO_PI | extra`.
    fn set_iff(&mut self, extra: i16) -> std::io::Result<()>;
    /// `TUNSETVNETHDRSZ` to `HDR_LEN`. A failure is harmless: the kernel's
    /// default is the same 10 bytes.
    fn set_vnet_hdr_len(&mut self);
    /// `TUNSETOFFLOAD` with `flags`: whether the kernel took them.
    fn set_offload(&mut self, flags: u32) -> bool;
}

/// How an attached device carries frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attached {
    /// Every frame read and written starts with a `virtio_net_hdr`.
    pub vnet: bool,
    /// The `TUNSETOFFLOAD` flags the kernel took (0: none).
    pub offload_flags: u32,
    /// Why offloads were asked for and not had (one log line).
    pub fallback: Option<String>,
}

/// Attach a TUN device through `dev`. With `offload`, ask for a
/// `virtio_net_hdr` (a kernel that refuses it with EINVAL gets plain
/// frames) and the offloads of `OFFLOAD_ATTEMPTS`, keeping what the kernel
/// gives. Without, clear the offloads an earlier process may have left on
/// the device: they outlive the fd that set them, and without a header we
/// must not be sent super-frames.
pub fn attach(dev: &mut impl TunIoctls, offload: bool) -> std::io::Result<Attached> {
    let mut fallback = None;
    let vnet = offload
        && match dev.set_iff(IFF_VNET_HDR) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(crate::errno::Errno::EINVAL.0) => {
                fallback = Some(format!("IFF_VNET_HDR refused ({e})"));
                false
            }
            Err(e) => return Err(e),
        };
    if !vnet {
        dev.set_iff(0)?;
        dev.set_offload(0);
        return Ok(Attached {
            vnet,
            offload_flags: 0,
            fallback,
        });
    }
    dev.set_vnet_hdr_len();
    let offload_flags = negotiate(|f| dev.set_offload(f));
    if offload_flags == 0 {
        fallback = Some("TUNSETOFFLOAD refused every offload".into());
    }
    Ok(Attached {
        vnet,
        offload_flags,
        fallback,
    })
}

impl Offloads {
    /// From the `TUNSETOFFLOAD` flags the kernel took. The flags say what
    /// the kernel may send us; a TUN device segments what we write
    /// whatever they are, and TSO is used only when the kernel also takes
    /// our partial checksums (`TUN_F_CSUM`).
    pub fn from_tun_flags(flags: u32) -> Offloads {
        let csum = flags & TUN_F_CSUM != 0;
        Offloads {
            tso4: csum && flags & TUN_F_TSO4 != 0,
            tso6: csum && flags & TUN_F_TSO6 != 0,
            uso: csum && flags & TUN_F_USO4 != 0 && flags & TUN_F_USO6 != 0,
        }
    }
}

/// `virtio_net_hdr`, fields in host meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Bytes of headers (IP + TCP) before the payload a GSO frame cuts.
    pub hdr_len: u16,
    /// Payload bytes per segment of a GSO frame.
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// The header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<VirtioNetHdr> {
        let b: &[u8; HDR_LEN] = buf
            .get(..HDR_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(WireError::Truncated)?;
        let w = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Ok(VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: w(2),
            gso_size: w(4),
            csum_start: w(6),
            csum_offset: w(8),
        })
    }

    pub fn emit(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// The header for a frame the stack queued with `meta`: all zero for
    /// an ordinary frame (checksums complete, no segmentation).
    pub fn for_tx(meta: &TxMeta) -> VirtioNetHdr {
        if meta.gso_size == 0 {
            return VirtioNetHdr::default();
        }
        let (gso_type, csum_offset) = match (meta.udp, meta.v6) {
            (true, _) => (GSO_UDP_L4, UDP_CHECKSUM_OFFSET),
            (false, true) => (GSO_TCPV6, TCP_CHECKSUM_OFFSET),
            (false, false) => (GSO_TCPV4, TCP_CHECKSUM_OFFSET),
        };
        VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type,
            hdr_len: meta.hdr_len,
            gso_size: meta.gso_size,
            csum_start: meta.csum_start,
            csum_offset,
        }
    }

    /// What the stack needs to know of a received frame. Old UFO
    /// (`GSO_UDP`, never offered), a UDP super-datagram without a piece
    /// size and unknown GSO types are `Unsupported`: the frame is dropped
    /// and counted.
    pub fn rx_meta(&self) -> Result<RxMeta> {
        let (gso, udp_gso_size) = match self.gso_type & !GSO_ECN {
            GSO_NONE => (false, 0),
            GSO_TCPV4 | GSO_TCPV6 => (true, 0),
            GSO_UDP_L4 if self.gso_size != 0 => (true, self.gso_size),
            _ => return Err(WireError::Unsupported),
        };
        Ok(RxMeta {
            csum_ok: self.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0,
            gso,
            udp_gso_size,
            batch: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_emit_are_inverse_and_little_endian() {
        let h = VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 52,
            gso_size: 1448,
            csum_start: 20,
            csum_offset: 16,
        };
        let b = h.emit();
        assert_eq!(b, [1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0]);
        assert_eq!(VirtioNetHdr::parse(&b), Ok(h));
        assert_eq!(VirtioNetHdr::parse(&b[..9]), Err(WireError::Truncated));
    }

    #[test]
    fn tx_header_for_ordinary_and_super_frames() {
        assert_eq!(VirtioNetHdr::for_tx(&TxMeta::NONE).emit(), [0; HDR_LEN]);
        let m = TxMeta {
            gso_size: 1428,
            v6: true,
            udp: false,
            csum_start: 40,
            hdr_len: 72,
        };
        let h = VirtioNetHdr::for_tx(&m);
        assert_eq!(h.gso_type, GSO_TCPV6);
        assert_eq!(h.flags, F_NEEDS_CSUM);
        assert_eq!((h.hdr_len, h.gso_size), (72, 1428));
        assert_eq!((h.csum_start, h.csum_offset), (40, 16));
        let u = VirtioNetHdr::for_tx(&TxMeta {
            gso_size: 1200,
            v6: false,
            udp: true,
            csum_start: 20,
            hdr_len: 28,
        });
        assert_eq!(u.gso_type, GSO_UDP_L4, "both families");
        assert_eq!((u.hdr_len, u.csum_start, u.csum_offset), (28, 20, 6));
    }

    #[test]
    fn rx_meta_trusts_partial_or_checked_and_refuses_ufo() {
        let mut h = VirtioNetHdr::default();
        assert_eq!(h.rx_meta(), Ok(RxMeta::default()));
        h.flags = F_DATA_VALID;
        assert!(h.rx_meta().unwrap().csum_ok);
        h.flags = F_NEEDS_CSUM;
        h.gso_type = GSO_TCPV4 | GSO_ECN;
        assert_eq!(
            h.rx_meta(),
            Ok(RxMeta {
                csum_ok: true,
                gso: true,
                udp_gso_size: 0,
                batch: false,
            })
        );
        h.gso_type = GSO_UDP_L4;
        h.gso_size = 1200;
        assert_eq!(
            h.rx_meta(),
            Ok(RxMeta {
                csum_ok: true,
                gso: true,
                udp_gso_size: 1200,
                batch: false,
            })
        );
        for (t, size) in [(GSO_UDP, 1200), (GSO_UDP_L4, 0), (9, 1200)] {
            h.gso_type = t;
            h.gso_size = size;
            assert_eq!(h.rx_meta(), Err(WireError::Unsupported));
        }
    }

    #[test]
    fn tso_needs_checksum_offload() {
        assert_eq!(Offloads::from_tun_flags(0), Offloads::default());
        assert_eq!(Offloads::from_tun_flags(TUN_F_TSO4), Offloads::default());
        assert_eq!(
            Offloads::from_tun_flags(TUN_F_CSUM | TUN_F_TSO4),
            Offloads {
                tso4: true,
                tso6: false,
                uso: false,
            }
        );
        assert_eq!(
            Offloads::from_tun_flags(OFFLOAD_ATTEMPTS[0]),
            Offloads {
                tso4: true,
                tso6: true,
                uso: true,
            }
        );
        assert!(
            !Offloads::from_tun_flags(TUN_F_CSUM | TUN_F_USO4).uso,
            "USO4 alone is not USO"
        );
    }

    #[test]
    fn negotiation_falls_back_in_order() {
        assert_eq!(negotiate(|_| true), OFFLOAD_ATTEMPTS[0]);
        // A device that refuses TSO6 keeps TSO4.
        assert_eq!(negotiate(|f| f & TUN_F_TSO6 == 0), TUN_F_CSUM | TUN_F_TSO4);
        assert_eq!(negotiate(|f| f == TUN_F_CSUM), TUN_F_CSUM);
        assert_eq!(negotiate(|_| false), 0);
        // A kernel without USO keeps TSO.
        assert_eq!(
            negotiate(|f| f & TUN_F_USO4 == 0),
            TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6
        );
        // UFO and TSO_ECN are never offered; USO4 and USO6 only together.
        for f in OFFLOAD_ATTEMPTS {
            assert_eq!(f & (TUN_F_UFO | TUN_F_TSO_ECN), 0);
            assert_eq!(f & TUN_F_USO4 == 0, f & TUN_F_USO6 == 0);
        }
    }

    /// A device that records the ioctls made and refuses what it is told to.
    struct FakeTun {
        calls: Vec<String>,
        refuse_vnet: Option<i32>,
        takes: u32,
    }

    impl TunIoctls for FakeTun {
        fn set_iff(&mut self, extra: i16) -> std::io::Result<()> {
            self.calls.push(format!("iff {extra:#x}"));
            match self.refuse_vnet {
                Some(e) if extra == IFF_VNET_HDR => Err(std::io::Error::from_raw_os_error(e)),
                _ => Ok(()),
            }
        }
        fn set_vnet_hdr_len(&mut self) {
            self.calls.push("hdrsz".into());
        }
        fn set_offload(&mut self, flags: u32) -> bool {
            self.calls.push(format!("offload {flags:#x}"));
            flags == 0 || flags & !self.takes == 0
        }
    }

    fn fake(refuse_vnet: Option<i32>, takes: u32) -> FakeTun {
        FakeTun {
            calls: Vec::new(),
            refuse_vnet,
            takes,
        }
    }

    #[test]
    fn attach_keeps_the_best_offloads_the_kernel_takes() {
        let mut dev = fake(None, TUN_F_CSUM | TUN_F_TSO4);
        let a = attach(&mut dev, true).unwrap();
        assert!(a.vnet);
        assert_eq!(a.offload_flags, TUN_F_CSUM | TUN_F_TSO4);
        assert_eq!(a.fallback, None);
        assert_eq!(
            dev.calls,
            [
                "iff 0x4000",
                "hdrsz",
                "offload 0x67",
                "offload 0x7",
                "offload 0x3"
            ]
        );
    }

    #[test]
    fn attach_falls_back_to_plain_frames_on_einval_only() {
        let mut dev = fake(Some(22), TUN_F_CSUM);
        let a = attach(&mut dev, true).unwrap();
        assert!(!a.vnet);
        assert!(a.fallback.unwrap().contains("IFF_VNET_HDR refused"));
        assert_eq!(dev.calls, ["iff 0x4000", "iff 0x0", "offload 0x0"]);
        let mut dev = fake(Some(1), TUN_F_CSUM);
        assert_eq!(attach(&mut dev, true).unwrap_err().raw_os_error(), Some(1));
    }

    #[test]
    fn attach_without_offload_clears_what_an_earlier_process_left() {
        let mut dev = fake(None, 0);
        let a = attach(&mut dev, false).unwrap();
        assert_eq!((a.vnet, a.offload_flags, a.fallback), (false, 0, None));
        assert_eq!(dev.calls, ["iff 0x0", "offload 0x0"]);
    }

    #[test]
    fn attach_says_why_when_every_offload_is_refused() {
        let mut dev = fake(None, 0);
        let a = attach(&mut dev, true).unwrap();
        assert!(a.vnet);
        assert_eq!(a.offload_flags, 0);
        assert!(a.fallback.unwrap().contains("refused every offload"));
    }
}
