//! Device offloads as the stack sees them (FreeBSD's `if_hwassist` and
//! `if_hw_tsomax`): what the interface can finish for us on output (cut a
//! TCP super-segment into MSS pieces, finish its checksum: TSO), and what a
//! received frame says about itself (checksum already checked or left
//! partial by the sending kernel, a GRO/GSO super-frame). The driver turns
//! these into and out of `virtio_net_hdr` (`wire::virtio_net`).

/// What the interface does for us on output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// TCP over IPv4 may leave as super-segments (TSO4).
    pub tso4: bool,
    /// TCP over IPv6 may leave as super-segments (TSO6).
    pub tso6: bool,
    /// UDP super-datagrams (UDP_SEGMENT) may leave whole, both families
    /// (USO4 and USO6, which the kernel takes only together).
    pub uso: bool,
}

/// The largest TCP payload one super-segment carries: the IP packet must
/// fit its 16-bit length with the largest headers (IPv6 40 + TCP 60).
pub const TSO_MAX_PAYLOAD: usize = 65_535 - 40 - 60;

/// How the device must treat a frame the stack queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxMeta {
    /// 0: an ordinary frame, checksums complete. Otherwise a TCP
    /// super-segment (or with `udp` a UDP super-datagram) to cut into
    /// pieces of this many payload bytes; its transport checksum field
    /// holds only the pseudo-header sum (partial).
    pub gso_size: u16,
    pub v6: bool,
    /// A UDP super-datagram (UDP_SEGMENT): each piece is a datagram.
    pub udp: bool,
    /// Where the transport header starts (the IP header's length).
    pub csum_start: u16,
    /// IP and transport headers' length: what each piece repeats.
    pub hdr_len: u16,
}

impl TxMeta {
    pub const NONE: TxMeta = TxMeta {
        gso_size: 0,
        v6: false,
        udp: false,
        csum_start: 0,
        hdr_len: 0,
    };
}

/// What the device says of a received frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// The transport checksum was checked by the kernel, or left partial
    /// by it (a frame that never left the machine): not verified again.
    pub csum_ok: bool,
    /// A TCP super-frame (GRO/GSO), longer than the MTU: one segment; or
    /// a UDP super-datagram (`udp_gso_size` set).
    pub gso: bool,
    /// A UDP super-datagram's piece size: it stands for datagrams of this
    /// many payload bytes (the last shorter), split for a socket without
    /// UDP_GRO (udp_gso.rs). 0 for anything else.
    pub udp_gso_size: u16,
    /// One of a batch of frames read together: an ACK for in-order data
    /// may wait for the batch's end (`Stack::end_rx_batch`, one ACK for
    /// the batch's segments of a connection: tcp_ackbatch.rs).
    pub batch: bool,
}
