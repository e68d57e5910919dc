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
/// know with EINVAL; TSO needs CSUM). USO is not offered: the kernel would
/// then hand us UDP super-datagrams to split, which the stack does not do
/// (see the README's limits).
/// TSO_ECN is not offered either: the kernel then segments a super-segment
/// with CWR itself, so each segment we see carries its own flags.
pub const OFFLOAD_ATTEMPTS: [u32; 3] = [
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
        VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: if meta.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            hdr_len: meta.hdr_len,
            gso_size: meta.gso_size,
            csum_start: meta.csum_start,
            csum_offset: TCP_CHECKSUM_OFFSET,
        }
    }

    /// What the stack needs to know of a received frame. UDP
    /// super-datagrams (never offered, see `OFFLOAD_ATTEMPTS`) and unknown
    /// GSO types are `Unsupported`: the frame is dropped and counted.
    pub fn rx_meta(&self) -> Result<RxMeta> {
        let gso = match self.gso_type & !GSO_ECN {
            GSO_NONE => false,
            GSO_TCPV4 | GSO_TCPV6 => true,
            _ => return Err(WireError::Unsupported),
        };
        Ok(RxMeta {
            csum_ok: self.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0,
            gso,
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
            csum_start: 40,
            hdr_len: 72,
        };
        let h = VirtioNetHdr::for_tx(&m);
        assert_eq!(h.gso_type, GSO_TCPV6);
        assert_eq!(h.flags, F_NEEDS_CSUM);
        assert_eq!((h.hdr_len, h.gso_size), (72, 1428));
        assert_eq!((h.csum_start, h.csum_offset), (40, 16));
    }

    #[test]
    fn rx_meta_trusts_partial_or_checked_and_refuses_udp_gso() {
        let mut h = VirtioNetHdr::default();
        assert_eq!(
            h.rx_meta(),
            Ok(RxMeta {
                csum_ok: false,
                gso: false
            })
        );
        h.flags = F_DATA_VALID;
        assert!(h.rx_meta().unwrap().csum_ok);
        h.flags = F_NEEDS_CSUM;
        h.gso_type = GSO_TCPV4 | GSO_ECN;
        assert_eq!(
            h.rx_meta(),
            Ok(RxMeta {
                csum_ok: true,
                gso: true
            })
        );
        for t in [GSO_UDP, GSO_UDP_L4, 9] {
            h.gso_type = t;
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
                tso6: false
            }
        );
        assert_eq!(
            Offloads::from_tun_flags(OFFLOAD_ATTEMPTS[0]),
            Offloads {
                tso4: true,
                tso6: true
            }
        );
    }

    #[test]
    fn negotiation_falls_back_in_order() {
        assert_eq!(negotiate(|_| true), OFFLOAD_ATTEMPTS[0]);
        // A device that refuses TSO6 keeps TSO4.
        assert_eq!(negotiate(|f| f & TUN_F_TSO6 == 0), TUN_F_CSUM | TUN_F_TSO4);
        assert_eq!(negotiate(|f| f == TUN_F_CSUM), TUN_F_CSUM);
        assert_eq!(negotiate(|_| false), 0);
        // USO and UFO are never offered.
        for f in OFFLOAD_ATTEMPTS {
            assert_eq!(f & (TUN_F_UFO | TUN_F_USO4 | TUN_F_USO6 | TUN_F_TSO_ECN), 0);
        }
    }
}
