//! Receive rings (docs/architecture.md, "Data path"): a stream socket
//! held by one client alone gets a ring of that client's region, and the
//! service moves received data from the stack into it as it arrives, so
//! that the client's `recv` copies it out without a message. The client
//! takes bytes by advancing the ring's consumer word; the service reads
//! that word as hostile (`consumed` clamps it to what was pushed).
//!
//! The ring is taken back (`rx_revoke`: the word's REVOKED bit, set
//! atomically, makes the client's next swap fail) when a second client
//! attaches the socket, when its client goes, when the client asks by
//! message (an EOF, an error, flags the ring does not serve), and at
//! close; its unread bytes move to `pending`, which the service serves
//! before the stack's queue. Data in a ring or in `pending` counts as
//! unread everywhere the stack's queue does: readiness, FIONREAD, and the
//! reset a close with unread data sends.

use proto::region as reg;
use stack::{Errno, SocketHandle};

use super::{Core, SockEntry};

/// A ring lent to a socket.
pub(super) struct Rx {
    region: std::rc::Rc<crate::region::Region>,
    ring: u16,
    gen: u16,
    /// Bytes pushed since the ring was lent.
    head: u64,
    /// The consumer count last read (never beyond `head`).
    seen: u64,
    /// The stack held more than the ring took (`F_RX_WAITING`).
    waiting: bool,
}

impl Rx {
    /// The client's consumed count, validated: the right generation, and
    /// between what was seen before and what was pushed.
    fn consumed(&mut self) -> u64 {
        let w = self.region.consumer(self.ring);
        if reg::consumer_gen(w) == self.gen {
            self.seen = (w & reg::C_COUNT).clamp(self.seen, self.head);
        }
        self.seen
    }

    /// The slot's words for this ring: (S_RING, S_RX_HEAD).
    pub(super) fn slot_words(&self) -> (u64, u64) {
        ((self.ring as u64 + 1) | (self.gen as u64) << 16, self.head)
    }

    pub(super) fn waiting(&self) -> bool {
        self.waiting
    }
}

/// Bytes received but not yet read by the program, outside the stack's
/// queue: in the ring, or taken back into `pending`.
pub(super) fn unread(e: &mut SockEntry) -> usize {
    let ring = e.rx.as_mut().map_or(0, |rx| rx.head - rx.consumed());
    ring as usize + e.pending.len()
}

impl Core {
    /// Move what the stack has received for `id` into its ring, lending
    /// one if the socket is a stream held by one client alone.
    pub(super) fn rx_push(&mut self, id: u64) {
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        e.views.retain(|v| v.alive());
        if e.views.len() != 1 || !e.pending.is_empty() {
            return;
        }
        let h = SocketHandle::from_u64(id);
        let Ok(info) = self.stack.sockinfo(h) else {
            return;
        };
        // ESTABLISHED, FIN_WAIT_1/2, CLOSE_WAIT: data, in order.
        if info.rcv_cc == 0 || !matches!(info.tcp_state, 1 | 4 | 5 | 8) || info.listening {
            if let Some(rx) = e.rx.as_mut() {
                rx.waiting = false;
            }
            return;
        }
        // SO_RCVLOWAT above 1: reads wait for that many bytes, which the
        // client's ring reader does not do.
        if e.lowat > 1 {
            return;
        }
        // Urgent data: a read goes on up to the mark and skips its byte,
        // which the stack's queue does; receive timestamps come with each
        // read from the queue. What the ring holds came before: taken
        // back, it is served first by the same read (`recv_pending`).
        if self.stack.reads_by_message(h) {
            self.rx_revoke(id);
            return;
        }
        if e.rx.is_none() {
            let region = e.views[0].clone();
            let Some((ring, gen)) = region.lend_ring() else {
                return; // every ring lent: messages
            };
            e.rx = Some(Rx {
                region,
                ring,
                gen,
                head: 0,
                seen: 0,
                waiting: false,
            });
        }
        let Some(rx) = e.rx.as_mut() else { return };
        let room = reg::RING_SIZE - (rx.head - rx.consumed()) as usize;
        let n = room.min(info.rcv_cc).min(self.scratch.len());
        if n == 0 {
            rx.waiting = true;
            return;
        }
        let got = match self
            .stack
            .recv(self.clock, h, &mut self.scratch[..n], libc::MSG_DONTWAIT)
        {
            Ok(m) => m.copied,
            Err(_) => 0,
        };
        rx.region.ring_write(rx.ring, rx.head, &self.scratch[..got]);
        rx.head += got as u64;
        rx.waiting = info.rcv_cc > got;
    }

    /// Take the ring of `id` back; its unread bytes go to `pending`.
    pub(super) fn rx_revoke(&mut self, id: u64) {
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        let Some(mut rx) = e.rx.take() else { return };
        let w = rx.region.revoke_ring(rx.ring);
        if reg::consumer_gen(w) == rx.gen {
            rx.seen = (w & reg::C_COUNT).clamp(rx.seen, rx.head);
        }
        let left = (rx.head - rx.seen) as usize;
        let at = e.pending.len();
        e.pending.resize(at + left, 0);
        rx.region.ring_read(rx.ring, rx.seen, &mut e.pending[at..]);
    }

    /// Bytes of `id` received and unread outside the stack's queue.
    pub(super) fn rx_unread(&mut self, id: u64) -> usize {
        self.socks.get_mut(&id).map_or(0, unread)
    }

    /// Do the bytes outside the stack's queue make `id` readable? Some,
    /// and with the queue's at least SO_RCVLOWAT of them.
    pub(super) fn rx_readable(&mut self, id: u64) -> bool {
        let Some(e) = self.socks.get_mut(&id) else {
            return false;
        };
        let extra = unread(e);
        if extra == 0 {
            return false;
        }
        if e.lowat <= 1 {
            return true;
        }
        let queued = self
            .stack
            .sockinfo(SocketHandle::from_u64(id))
            .map_or(0, |i| i.rcv_cc);
        extra + queued >= e.lowat
    }

    /// SO_RCVLOWAT was set: note it (rings are lent only while it is 1).
    pub(super) fn rx_lowat(&mut self, id: u64) {
        let mut v = [0u8; 4];
        let h = SocketHandle::from_u64(id);
        let lowat = match self
            .stack
            .getsockopt(h, libc::SOL_SOCKET, libc::SO_RCVLOWAT, &mut v)
        {
            Ok(4) => i32::from_ne_bytes(v).max(1) as usize,
            _ => 1,
        };
        if let Some(e) = self.socks.get_mut(&id) {
            e.lowat = lowat;
        }
        if lowat > 1 {
            self.rx_revoke(id);
        }
    }

    /// A `Recv` by message on a socket with bytes taken back: served from
    /// `pending` first, then from the stack's queue in the same call, as
    /// one queue would (None: nothing there, ask the stack; Some(Err):
    /// a blocking read below SO_RCVLOWAT, which waits).
    pub(super) fn recv_pending(
        &mut self,
        id: u64,
        len: usize,
        flags: i32,
    ) -> Option<Result<usize, Errno>> {
        let (pending, lowat) = self.socks.get(&id).map(|e| (e.pending.len(), e.lowat))?;
        if pending > 0 && lowat > 1 && flags & libc::MSG_DONTWAIT == 0 && !self.rx_readable(id) {
            return Some(Err(Errno::EAGAIN));
        }
        let n = self.take_pending(id, len, flags)?;
        let h = SocketHandle::from_u64(id);
        let mut total = n;
        if n < len {
            if let Ok(m) = self.stack.recv(
                self.clock,
                h,
                &mut self.scratch[n..len],
                flags | libc::MSG_DONTWAIT,
            ) {
                total += m.copied;
            }
        }
        Some(Ok(total))
    }

    fn take_pending(&mut self, id: u64, len: usize, flags: i32) -> Option<usize> {
        // MSG_TRUNC on a stream counts the bytes without copying them
        // (tcp_recvmsg): the shim drops what comes back, so serving it
        // from `pending` like a read (or a peek) is that count.
        // MSG_CTRUNC is an output flag that tcp_recvmsg ignores on input
        // (gVisor's MsgTruncWithCtrunc): it was left to the stack, whose
        // queue the ring had emptied, and the read waited for good.
        const PLAIN: i32 = libc::MSG_PEEK
            | libc::MSG_DONTWAIT
            | libc::MSG_WAITALL
            | libc::MSG_NOSIGNAL
            | libc::MSG_CMSG_CLOEXEC
            | libc::MSG_TRUNC
            | libc::MSG_CTRUNC;
        let e = self.socks.get_mut(&id)?;
        // MSG_OOB, MSG_ERRQUEUE: the stack's answer.
        if e.pending.is_empty() || flags & !PLAIN != 0 {
            return None;
        }
        let n = len.min(e.pending.len()).min(self.scratch.len());
        self.scratch[..n].copy_from_slice(&e.pending[..n]);
        if flags & libc::MSG_PEEK == 0 {
            e.pending.drain(..n);
        }
        Some(n)
    }

    /// Before the last close: data still unread makes it a reset, as
    /// Linux's close with unread data (the stack's queue no longer holds
    /// what went to the ring, so say it with SO_LINGER 0).
    pub(super) fn rx_close(&mut self, id: u64) -> Result<(), Errno> {
        self.rx_revoke(id);
        if self.rx_unread(id) > 0 {
            let linger0 = [1i32.to_ne_bytes(), 0i32.to_ne_bytes()].concat();
            let h = SocketHandle::from_u64(id);
            self.stack
                .setsockopt(self.clock, h, libc::SOL_SOCKET, libc::SO_LINGER, &linger0)?;
        }
        Ok(())
    }
}
