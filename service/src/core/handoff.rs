//! Accept without a round trip (docs/architecture.md, "Accept without a
//! round trip"): a listener held by one client (with a status region, no
//! loopback reservation) gets each completed connection handed over with
//! its readiness. The service takes the connection off the queue
//! (`Stack::accept_handed`: it stays in the backlog), makes its anchor,
//! attaches it to the client as an `Accept` would, and writes into the
//! listener's anchor a record naming it (proto::handoff) with the new
//! anchor attached, where the token would have gone.
//!
//! The client writes one byte back into a connection's anchor when its
//! accept takes it. The service reads those bytes only when it needs to
//! know (never woken by them): before it hands more than
//! `MAX_UNTAKEN`, when an `Accept` comes, and when a handed connection's
//! anchor hangs up. A connection whose anchors all went before it was
//! taken never reached a program (the listener's last close purged the
//! record, its reader died): it is reset, as Linux resets the connections
//! still queued on a listener when it closes.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recv, sendmsg, ControlMessage, MsgFlags};
use proto::handoff::{self, Handed};
use stack::{Errno, SocketHandle};

use super::{Core, Session};

/// Connections handed on one listener and not yet taken, at most.
const MAX_UNTAKEN: usize = 8;

/// A socket's part in hand-offs (`SockEntry::handoff`).
#[derive(Default)]
pub(super) struct Handoff {
    /// A connection: the listener it was handed on, until taken.
    pub by: Option<u64>,
    /// A listener: its connections handed and not yet taken, and how
    /// many it handed in all (its slot's `S_RX_HEAD`).
    pub handed: Vec<u64>,
    pub total: u64,
}

impl Core {
    /// The client (its connection's key) that listener `id` hands its
    /// connections to now, if it does: held by one client with a region,
    /// listening, without a loopback reservation.
    pub(super) fn handoff_owner(&self, id: u64) -> Option<RawFd> {
        let e = self.socks.get(&id)?;
        if e.views.len() != 1 || !e.views[0].alive() || !e.kside.is_empty() || e.moved {
            return None;
        }
        let listening = self
            .stack
            .sockinfo(SocketHandle::from_u64(id))
            .is_ok_and(|i| i.listening);
        listening.then(|| e.views[0].owner())
    }

    /// In `sync_token`: a listener with connections queued that hands
    /// them over gets no token now; the loop hands them (`hand_off`),
    /// whose records make its anchor readable. True if so.
    pub(super) fn handoff_instead_of_token(&mut self, id: u64) -> bool {
        let h = SocketHandle::from_u64(id);
        if self.stack.accept_empty(h) {
            return false;
        }
        let Some(key) = self.handoff_owner(id) else {
            return false;
        };
        if !self.handoffs.iter().any(|&(l, _)| l == id) {
            self.handoffs.push((id, key));
        }
        true
    }

    /// The listeners waiting for `hand_off`, with their holders' keys.
    pub fn take_handoffs(&mut self) -> Vec<(u64, RawFd)> {
        std::mem::take(&mut self.handoffs)
    }

    /// Hand listener `id`'s queued connections to `sess`, its only holder
    /// (as many as `MAX_UNTAKEN` and the client's caps allow); whatever
    /// stays queued gets the token as usual.
    pub fn hand_off(&mut self, sess: &mut Session, id: u64) {
        let h = SocketHandle::from_u64(id);
        while self.handoff_owner(id) == Some(sess.key) && !self.stack.accept_empty(h) {
            if self.untaken(id) >= MAX_UNTAKEN {
                break;
            }
            // Past half a cap, every connection is asked for (as spares).
            if self.held(sess) * 2 >= self.limits.sockets || self.admit_accept(sess, h).is_err() {
                break;
            }
            // No descriptor for its anchor: the connection stays queued,
            // and the program's accept says why (the token below).
            let Ok(pair) = super::anchor_pair() else {
                break;
            };
            let Ok((nh, peer)) = self.stack.accept_handed(h) else {
                break;
            };
            let b = self.anchor_register(sess, nh, pair);
            let nid = nh.as_u64();
            if let Some(e) = self.socks.get_mut(&nid) {
                e.handoff.get_or_insert_with(Default::default).by = Some(id);
            }
            if let Some(l) = self.socks.get_mut(&id) {
                let h = l.handoff.get_or_insert_with(Default::default);
                h.handed.push(nid);
                h.total += 1;
            }
            let rec = handoff::encode(&Handed {
                listener: id,
                id: nid,
                peer,
            });
            // The listener's slot shows the queue without it before the
            // record can be read (a client that took every record sees
            // nothing queued and does not ask).
            self.publish(id);
            let sent = self
                .socks
                .get(&id)
                .is_some_and(|l| send_record(&l.anchor, &rec, &b));
            // Our copy of B goes: the record holds the one in flight. If it
            // could not be written, the hang-up resets the connection.
            drop(b);
            if !sent {
                break;
            }
            // Data that came with the connection, into its ring now.
            self.rx_push(nid);
            self.sync_token(nid);
        }
        if !self.stack.accept_empty(h) {
            if let Some(e) = self.socks.get_mut(&id) {
                crate::anchor::put_token(e.anchor.as_fd(), &mut e.tokens);
            }
        }
    }

    /// A listener's holder could not be found for its hand-off: the token.
    pub fn handoff_token(&mut self, id: u64) {
        if let Some(e) = self.socks.get_mut(&id) {
            crate::anchor::put_token(e.anchor.as_fd(), &mut e.tokens);
        }
    }

    /// Connections handed on listener `id` and not yet taken (those taken
    /// since last looked leave its backlog).
    pub(super) fn untaken(&mut self, id: u64) -> usize {
        let Some(l) = self.socks.get_mut(&id) else {
            return 0;
        };
        let Some(lh) = l.handoff.as_mut().filter(|h| !h.handed.is_empty()) else {
            return 0;
        };
        let list = std::mem::take(&mut lh.handed);
        let mut left = Vec::with_capacity(list.len());
        for c in list {
            match self.socks.get_mut(&c) {
                Some(e) if e.handoff.as_ref().is_some_and(|h| h.by == Some(id)) => {
                    if taken(&e.anchor) {
                        e.handoff = None;
                        self.stack.handed_taken(SocketHandle::from_u64(id));
                    } else {
                        left.push(c);
                    }
                }
                // Closed meanwhile (`handed_close` counted it).
                _ => {}
            }
        }
        let n = left.len();
        if let Some(l) = self.socks.get_mut(&id) {
            if let Some(h) = l.handoff.as_mut() {
                h.handed = left;
            }
        }
        n
    }

    /// Before an `Accept` by message on listener `id`: EINPROGRESS while
    /// a connection handed on it may still be unread in its anchor (its
    /// record was written before this reply: the client reads it now).
    pub(super) fn accept_after_handed(&mut self, id: u64) -> Result<(), Errno> {
        if self.handed_unread(id) {
            Err(Errno::EINPROGRESS)
        } else {
            Ok(())
        }
    }

    /// Is a connection handed on listener `id` still unread in its
    /// anchor (readable, though no longer in the stack's queue)?
    pub(super) fn handed_unread(&mut self, id: u64) -> bool {
        self.untaken(id) > 0
            && self
                .socks
                .get(&id)
                .is_some_and(|l| crate::anchor::unread(l.anchor.as_fd()) > 0)
    }

    /// Handed connection `id` closes (its anchor hung up, or `Closed`):
    /// if no program took it, a reset, as Linux's for a connection left in
    /// the queue of a closed listener. It leaves the listener's backlog.
    pub(super) fn handed_close(&mut self, id: u64) {
        let Some(e) = self.socks.get_mut(&id) else {
            return;
        };
        let Some(l) = e.handoff.take().and_then(|h| h.by) else {
            return;
        };
        if !taken(&e.anchor) {
            let linger0 = [1i32.to_ne_bytes(), 0i32.to_ne_bytes()].concat();
            let h = SocketHandle::from_u64(id);
            let _ =
                self.stack
                    .setsockopt(self.clock, h, libc::SOL_SOCKET, libc::SO_LINGER, &linger0);
        }
        if let Some(le) = self.socks.get_mut(&l) {
            if let Some(h) = le.handoff.as_mut() {
                h.handed.retain(|&c| c != id);
            }
        }
        self.stack.handed_taken(SocketHandle::from_u64(l));
    }
}

/// Did the client write its byte into this anchor (its accept took the
/// connection)?
fn taken(a: &OwnedFd) -> bool {
    let mut b = [0u8; 16];
    matches!(recv(a.as_raw_fd(), &mut b, MsgFlags::MSG_DONTWAIT), Ok(n) if n > 0)
}

/// Write `rec` into the listener's anchor `a` with `b` attached.
fn send_record(a: &OwnedFd, rec: &[u8], b: &OwnedFd) -> bool {
    let iov = [std::io::IoSlice::new(rec)];
    let fds = [b.as_raw_fd()];
    let cm = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        a.as_raw_fd(),
        &iov,
        &cm,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .is_ok()
}
