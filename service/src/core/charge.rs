//! The per-client limits applied (the caps and their errnos are in
//! `crate::limits`): the sockets a client holds, counted when it takes one
//! more (socket, accept), and the buffer bytes each socket reserves,
//! charged to the client that made it at creation and again when
//! SO_SNDBUF or SO_RCVBUF changes it (FreeBSD's `chgsbsize` at
//! `sbreserve`). Receive buffer autotuning is not charged: the cap is on
//! what the program asked for.

use stack::{Errno, SocketHandle};

use super::{Core, Session};

impl Core {
    /// The buffer bytes socket `h` reserves: its SO_SNDBUF and SO_RCVBUF.
    fn sb_of(&self, h: SocketHandle) -> u64 {
        [libc::SO_SNDBUF, libc::SO_RCVBUF]
            .iter()
            .map(|&name| {
                let mut v = [0u8; 4];
                match self.stack.getsockopt(h, libc::SOL_SOCKET, name, &mut v) {
                    Ok(4) => u64::from(u32::from_ne_bytes(v)),
                    _ => 0,
                }
            })
            .sum()
    }

    /// Charge socket `id`'s maker for what its buffers reserve now.
    pub(super) fn sb_recharge(&mut self, id: u64) {
        let now = self.sb_of(SocketHandle::from_u64(id));
        if let Some(e) = self.socks.get_mut(&id) {
            e.sb_owner.change(e.sb_charged, now);
            e.sb_charged = now;
        }
    }

    /// The sockets `sess` holds. Ids of sockets closed since (their last
    /// descriptor went while another process held them, or by a hang-up)
    /// are dropped here, when they could count against the cap.
    pub(super) fn held(&self, sess: &mut Session) -> usize {
        if sess.attached.len() >= self.limits.sockets {
            sess.attached.retain(|id| self.socks.contains_key(id));
        }
        sess.attached.len()
    }

    /// May `sess` take one more socket, which would reserve `more` bytes?
    /// EMFILE past the count, ENOBUFS past the memory.
    pub(super) fn admit(&self, sess: &mut Session, more: u64) -> Result<(), Errno> {
        let held = self.held(sess);
        self.limits.admit(held, sess.sb.get(), more)
    }

    /// A socket just made for `sess` (`h`, not yet in the table): refused
    /// (and closed, nothing was sent for it) if it would take `sess` past
    /// a cap.
    pub(super) fn admit_new(
        &mut self,
        sess: &mut Session,
        now: stack::Instant,
        h: SocketHandle,
    ) -> Result<(), Errno> {
        let more = self.sb_of(h);
        self.admit(sess, more).inspect_err(|_| {
            let _ = self.stack.close(now, h);
        })
    }

    /// What an accept on listener `h` would add: the connection inherits
    /// the listener's buffer sizes, as on Linux.
    pub(super) fn admit_accept(&self, sess: &mut Session, h: SocketHandle) -> Result<(), Errno> {
        self.admit(sess, self.sb_of(h))
    }
}
