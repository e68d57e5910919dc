//! The layout of a client's status region: shared memory (a memfd the
//! service creates for each client connection and passes with the reply
//! to `Hello`) in which the service publishes, for every socket that
//! client holds, what the client needs to answer some calls without a
//! round trip (docs/architecture.md, "Data path"). The service maps it
//! read-write, the client read-only: nothing in it is ever read back by
//! the service, so a client cannot feed the service anything through it.
//!
//! Everything is a little-endian-native `u64` word read and written with
//! atomic operations (the pointer work is the shim's and the service's;
//! this module only says where things are). The region is an array of
//! 64-byte slots: slot 0 is the header, slot `index + 1` describes the
//! socket whose stack handle has that index (the handle's generation is
//! in the slot's `ID` word, so a slot left by a closed socket never
//! passes for a new one).
//!
//! A slot is written under a sequence lock: `SEQ` odd while the service
//! writes; a reader copies the words and retries when `SEQ` was odd or
//! changed.
//!
//! Receive rings: after the slots, `RINGS` rings of `RING_SIZE` bytes
//! that the service lends to stream sockets the client holds alone. The
//! service copies received data into the socket's ring and raises the
//! slot's `RX_HEAD` (bytes pushed since the ring was lent); the client
//! takes bytes by advancing the ring's consumer word (the only part the
//! client writes; mapped read-write, the rest read-only) with a
//! compare-and-swap. The service takes a ring back by setting the word's
//! `REVOKED` bit (an atomic OR): from then on the client's swap fails and
//! it asks the service, which serves what was left unread. The word also
//! carries the lending's generation, so a ring lent again is never
//! mistaken for the old one. The service reads the word as hostile: a
//! consumed count outside what it pushed is clamped.

/// Bytes in one slot (and in the header).
pub const SLOT: usize = 64;

/// Sockets (stack handle indices) a region has slots for; a socket whose
/// index is beyond has none and always takes the message path.
pub const MAX_SLOTS: usize = 1 << 17;

/// Receive rings per client, and the size of each.
pub const RINGS: usize = 256;
pub const RING_SIZE: usize = 64 * 1024;

/// Where the rings start (page-aligned, after the slots).
pub const RINGS_OFF: usize = (SLOT * (MAX_SLOTS + 1)).next_multiple_of(4096);

/// The consumer words, one per ring, each on its own cache line: the
/// only part the client maps writable (page-aligned).
pub const CONSUMERS_OFF: usize = RINGS_OFF + RINGS * RING_SIZE;
pub const CONSUMERS_LEN: usize = (RINGS * SLOT).next_multiple_of(4096);

/// Size of a region (about 24 MiB of address space; the memfd's pages
/// exist only where something was written).
pub const REGION_LEN: usize = CONSUMERS_OFF + CONSUMERS_LEN;

/// Byte offset of ring `i`, and of its consumer word.
pub fn ring_offset(i: usize) -> Option<usize> {
    (i < RINGS).then(|| RINGS_OFF + i * RING_SIZE)
}
pub fn consumer_offset(i: usize) -> Option<usize> {
    (i < RINGS).then(|| CONSUMERS_OFF + i * SLOT)
}

/// Consumer word: bytes taken (low 47 bits), the lending's generation
/// (16 bits), revoked (top bit).
pub const C_COUNT: u64 = (1 << 47) - 1;
pub const C_GEN_SHIFT: u32 = 47;
pub const C_REVOKED: u64 = 1 << 63;

pub fn consumer_word(gen: u16, count: u64) -> u64 {
    (gen as u64) << C_GEN_SHIFT | (count & C_COUNT)
}
pub fn consumer_gen(w: u64) -> u16 {
    (w >> C_GEN_SHIFT) as u16
}

/// Header words (byte offsets from the region's start).
/// `MAGIC`: what a region starts with.
pub const H_MAGIC: usize = 0;
/// Bytes of `Post` data the service has taken so far from this client
/// (written after the slot of that socket shows the send).
pub const H_POSTED: usize = 8;

pub const MAGIC: u64 = 0x736f_636b_7368_6d31; // "sockshm1"

/// Slot words (byte offsets from the slot's start).
pub const S_SEQ: usize = 0;
/// The socket's id (`SocketHandle::as_u64`) + 1; 0: the slot is unused.
pub const S_ID: usize = 8;
/// Readiness as a `Poll` reply gives it (POLL* bits in the low 16 bits,
/// the count of readiness changes in the next 16) and flags above.
pub const S_READY: usize = 16;
/// Bytes readable now (FIONREAD).
pub const S_RCV_CC: usize = 24;
/// Bytes a plain stream `send` would take now, all of them (0 with an
/// error pending, after shutdown, or outside ESTABLISHED/CLOSE_WAIT).
pub const S_SND_SPACE: usize = 32;
/// The ring lent to the socket: index + 1 in the low 16 bits (0: none),
/// the lending's generation in the next 16.
pub const S_RING: usize = 40;
/// Bytes pushed into that ring since it was lent.
pub const S_RX_HEAD: usize = 48;
/// Bytes in the send queue (sent and unsent): with `S_SND_SPACE`, the
/// client can tell whether the socket stays writable once its posts in
/// flight are taken (the stack's rule: free * 2 >= used).
pub const S_SND_USED: usize = 56;

const _: () = assert!(S_SND_USED + 8 <= SLOT && H_POSTED + 8 <= SLOT);

/// Flags in `S_READY` (above the 32 bits of readiness).
/// This client is the only one holding the socket: the fast paths may be
/// used (a socket shared with another process always takes messages).
pub const F_EXCLUSIVE: u64 = 1 << 32;
/// A TCP socket in a state where an empty receive queue means EAGAIN
/// (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2).
pub const F_STREAM_OPEN: u64 = 1 << 33;
/// A listening socket (an empty queue means accept's EAGAIN).
pub const F_LISTENING: u64 = 1 << 34;
/// A connected socket whose peer is on the other side of the device (not
/// an address of this stack): nothing the client posts can make it
/// readable before the service has written its slot again. Kept once
/// found, through the connection's close.
pub const F_REMOTE_PEER: u64 = 1 << 35;
/// The service holds more received data than the ring had room for: a
/// client that takes bytes from the ring sends `RxMore` (no reply).
pub const F_RX_WAITING: u64 = 1 << 36;
/// The socket's open file is non-blocking (O_NONBLOCK, which Linux keeps
/// on the open file: set by any process holding it, `SetNonblock`), so a
/// process that shares the socket reads it here without a system call.
pub const F_NONBLOCK: u64 = 1 << 40;
/// The service holds a loopback reservation for the socket (issue 19): a
/// process that has no copy of it asks for one (`Request::Reservation`).
pub const F_RESERVED: u64 = 1 << 37;
/// The socket became a kernel socket in another process (a loopback
/// connect, issue 19): a process still holding it takes that kernel
/// socket in its place (`Request::Reservation`, index 0).
pub const F_MOVED: u64 = 1 << 38;
/// A listener whose completed connections the service hands to its
/// holder on the anchor (`handoff`), or one with handed connections not
/// yet taken: an accept reads the anchor before it asks.
pub const F_HANDOFF: u64 = 1 << 41;

/// Byte offset of the slot for a socket handle index, if it has one.
pub fn slot_offset(index: u32) -> Option<usize> {
    let i = index as usize;
    (i < MAX_SLOTS).then(|| SLOT * (i + 1))
}

/// The index part of a socket id (`SocketHandle::as_u64`).
pub fn index_of(id: u64) -> u32 {
    id as u32
}

/// One slot's words, as a reader copied them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub id: u64,
    pub ready: u64,
    pub rcv_cc: u64,
    pub snd_space: u64,
    pub ring: u64,
    pub rx_head: u64,
    pub snd_used: u64,
}

impl Slot {
    /// Readiness bits as `Poll` gives them (POLL* and the change count).
    pub fn poll_value(&self) -> u32 {
        self.ready as u32
    }

    pub fn flag(&self, f: u64) -> bool {
        self.ready & f != 0
    }

    /// The ring lent to the socket and its generation, if one is.
    pub fn ring(&self) -> Option<(usize, u16)> {
        let i = (self.ring & 0xffff) as usize;
        (i > 0 && i <= RINGS).then(|| (i - 1, (self.ring >> 16) as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_lies_inside_the_region_and_after_the_header() {
        assert_eq!(slot_offset(0), Some(SLOT));
        let last = slot_offset((MAX_SLOTS - 1) as u32).unwrap();
        assert_eq!(slot_offset(MAX_SLOTS as u32), None);
        assert_eq!(slot_offset(u32::MAX), None);
        assert!(RINGS_OFF >= last + SLOT && RINGS_OFF.is_multiple_of(4096));
        assert_eq!(ring_offset(RINGS - 1).unwrap() + RING_SIZE, CONSUMERS_OFF);
        assert!(CONSUMERS_OFF.is_multiple_of(4096));
        assert!(consumer_offset(RINGS - 1).unwrap() + 8 <= REGION_LEN);
        assert_eq!((ring_offset(RINGS), consumer_offset(RINGS)), (None, None));
        let w = consumer_word(0xbeef, 12345);
        assert_eq!(
            (consumer_gen(w), w & C_COUNT, w & C_REVOKED),
            (0xbeef, 12345, 0)
        );
        let s = Slot {
            ring: 3 | 7 << 16,
            ..Slot::default()
        };
        assert_eq!(s.ring(), Some((2, 7)));
        assert_eq!(Slot::default().ring(), None);
    }
}
