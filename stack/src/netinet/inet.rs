//! The Internet protocols' context: the state they share (`Inet`: PCB
//! tables, ISN key, IP ident counter, RNG) and `InetCx`, the narrow view of
//! the stack they work through: transmit a frame, arm a timer, plus the
//! socket layer's `SoCx` (look a socket up, wake it, free it). The stack's
//! face implements `InetCx`; no protocol file names the face.

use std::sync::atomic::{AtomicU16, AtomicU32};

use crate::api::SocketHandle;
use crate::kern::lockorder::{LeafMutex, LeafRwLock};
use crate::kern::sotable::SoCx;
use crate::netinet::icmp_ratelimit::IcmpRateLimit;
use crate::netinet::in_pcb::PcbInfo;
use crate::netinet::ip_pmtu_cache::PmtuCache;
use crate::netinet::ipq::ReassTable;
use crate::netinet::tcp_fastopen_cache::TfoCache;
use crate::rng::Rng;
use crate::time::Instant;

/// State shared by every Internet protocol of one stack.
pub struct Inet {
    /// Port and connection tables (FreeBSD's pcbinfo); a leaf lock, taken
    /// only to look up, insert or remove.
    pub pcbinfo: LeafRwLock<PcbInfo>,
    /// Ephemeral port choice; a leaf lock.
    pub rng: LeafMutex<Rng>,
    /// RFC 6528 secret for ISNs and timestamp offsets.
    pub isn_key: [u64; 2],
    /// IPv4 identification of the next datagram.
    pub ip_ident: AtomicU16,
    /// IPv6 fragment identification of the next fragmented datagram.
    pub ip6_ident: AtomicU32,
    /// Fragments being reassembled (both families); a leaf lock, taken
    /// only to queue a fragment or take a complete datagram out.
    pub reass: LeafMutex<ReassTable>,
    /// TCP Fast Open: what the client learnt of each server.
    pub tfo_cache: TfoCache,
    /// How many ICMP errors may go, and to whom; a leaf lock.
    pub(crate) icmp_ratelimit: LeafMutex<IcmpRateLimit>,
    /// Path MTUs learnt from ICMP errors, per destination.
    pub pmtu: PmtuCache,
    /// lo's addresses as the namespace has them now.
    pub lo: crate::netinet::in_ifaddr::LoAddrs,
    /// Sockets whose output waits for the end of the device's read
    /// batch (tcp_ackbatch.rs); a leaf lock.
    pub(crate) ack_batch: LeafMutex<Vec<SocketHandle>>,
    /// The connection the next device read is for (tcp_rxplace.rs); a
    /// leaf lock.
    pub(crate) rx_place: LeafMutex<Option<PlaceHint>>,
}

impl Inet {
    pub fn new(mut rng: Rng, isn_key: [u64; 2]) -> Inet {
        let ident = rng.next_u32() as u16;
        let ident6 = rng.next_u32();
        Inet {
            pcbinfo: LeafRwLock::new("pcbinfo", PcbInfo::default()),
            rng: LeafMutex::new("inet rng", rng),
            isn_key,
            ip_ident: AtomicU16::new(ident),
            ip6_ident: AtomicU32::new(ident6),
            reass: LeafMutex::new("reassembly", ReassTable::default()),
            tfo_cache: TfoCache::default(),
            icmp_ratelimit: LeafMutex::new("icmp ratelimit", IcmpRateLimit::default()),
            pmtu: PmtuCache::default(),
            lo: Default::default(),
            ack_batch: LeafMutex::new("ack batch", Vec::new()),
            rx_place: LeafMutex::new("rx place", None),
        }
    }
}

/// The connection the device's next frame is read for (tcp_rxplace.rs),
/// the length of the headers its last super-frame came with
/// (virtio_net_hdr, IP, TCP), and of its payload: with less room than
/// that in the ring, no guess (the next one would likely not fit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlaceHint {
    pub h: SocketHandle,
    pub hdr: u16,
    pub len: u16,
}

/// What a protocol may ask of the stack that carries it, besides the
/// socket layer's context.
pub trait InetCx: SoCx {
    /// The protocols' shared state.
    fn inet(&self) -> &Inet;
    /// A cleared buffer to build an outgoing frame in.
    fn frame_buf(&self) -> Vec<u8>;
    /// Queue a built IP frame (either family) for the device.
    fn transmit(&self, frame: Vec<u8>) {
        self.transmit_meta(frame, crate::offload::TxMeta::NONE)
    }
    /// Queue a frame with what the device must do with it (TSO).
    fn transmit_meta(&self, frame: Vec<u8>, meta: crate::offload::TxMeta);
    /// Queue a frame for the device even if it is to one of our own
    /// addresses (SO_BINDTODEVICE's route, `ip::oif_route`).
    fn transmit_on_device(&self, frame: Vec<u8>, meta: crate::offload::TxMeta);
    /// Queue a whole IPv4 packet for local input as if received on
    /// interface `ifindex` (a multicast or broadcast copy looped back).
    fn loop_back(&self, frame: Vec<u8>, ifindex: u32);
    /// Call the protocol's timer for `h` at `at` (or soon after).
    fn arm_timer(&self, h: SocketHandle, at: Instant);
    /// The latest `now` the stack was given (for work called without one).
    fn last_now(&self) -> Instant;
}
