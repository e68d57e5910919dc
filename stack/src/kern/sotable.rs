//! The socket table (handle → socket), the list of sockets whose readiness
//! changed, and the protocol switch table the stack's face hands in; with
//! `SoCx`, what the socket layer needs from the stack that carries it.
//!
//! # Locking
//! `slots` is a leaf `RwLock` taken only to look up, insert or remove;
//! `changed` is a leaf `Mutex` held only to push or drain. Both are leaves
//! (`kern::lockorder`): taken while a socket lock is held, never the other
//! way round, and no socket is locked while either is held. The protocol
//! table is fixed at construction and needs no lock.

use crate::kern::sync::Mutex;
use std::sync::Arc;

use crate::api::{SockType, SocketHandle};
use crate::config::{Config, Sysctl};
use crate::errno::Errno;
use crate::kern::lockorder::{so_lock, LeafMutex, LeafRwLock, SockGuard};
use crate::kern::protosw::Protosw;
use crate::kern::socket::{QState, Socket, SocketRef};
use crate::stats::Stats;

/// What the socket layer needs from the stack that carries it: the socket
/// table, the configuration (SOL_SOCKET limits) and the counters. The
/// stack's face implements it and passes itself to every socket-layer
/// function, which hands it on to the protocol (`Protosw<C>`).
pub trait SoCx: Sized + Sync + 'static {
    fn sockets(&self) -> &SoTable<Self>;
    fn config(&self) -> &Config;
    fn stats(&self) -> &Stats;
    /// The tunables in force now (each use reads them, as Linux's code
    /// does; the face may replace them while sockets live).
    fn sysctl(&self) -> Arc<Sysctl>;

    /// The protocol switch entry of `so` (FreeBSD's `so->so_proto`).
    fn pr(&self, so: &Socket) -> &'static dyn Protosw<Self> {
        self.sockets().pr(so)
    }
}

#[derive(Default)]
struct Slots {
    entries: Vec<(u32, Option<SocketRef>)>,
    free: Vec<u32>,
    live: usize,
}

impl Slots {
    fn insert(&mut self, make: impl FnOnce(SocketHandle) -> Socket) -> (SocketHandle, SocketRef) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push((0, None));
                (self.entries.len() - 1) as u32
            }
        };
        let slot = &mut self.entries[index as usize];
        let handle = SocketHandle {
            index,
            generation: slot.0,
        };
        let sref = Arc::new(Mutex::new(make(handle)));
        slot.1 = Some(sref.clone());
        self.live += 1;
        (handle, sref)
    }

    fn get(&self, h: SocketHandle) -> Option<SocketRef> {
        match self.entries.get(h.index as usize) {
            Some((generation, Some(s))) if *generation == h.generation => Some(s.clone()),
            _ => None,
        }
    }

    fn remove(&mut self, h: SocketHandle) {
        if let Some(slot) = self.entries.get_mut(h.index as usize) {
            if slot.0 == h.generation && slot.1.is_some() {
                slot.1 = None;
                slot.0 = slot.0.wrapping_add(1);
                self.free.push(h.index);
                self.live -= 1;
            }
        }
    }

    fn all(&self) -> Vec<SocketRef> {
        self.entries.iter().filter_map(|(_, s)| s.clone()).collect()
    }
}

const CHANGED_MAX: usize = 1 << 16;

/// The socket layer's tables. `C` is the stack that carries it (see `SoCx`).
pub struct SoTable<C: 'static> {
    slots: LeafRwLock<Slots>,
    changed: LeafMutex<Vec<SocketHandle>>,
    /// The protocol switch (FreeBSD's `inetsw`): one entry per socket type
    /// and protocol, registered by the stack's face.
    protosw: Vec<&'static dyn Protosw<C>>,
}

impl<C: SoCx> SoTable<C> {
    pub fn new(protosw: Vec<&'static dyn Protosw<C>>) -> SoTable<C> {
        SoTable {
            slots: LeafRwLock::new("socket table", Slots::default()),
            changed: LeafMutex::new("changed list", Vec::new()),
            protosw,
        }
    }

    /// FreeBSD's pffindproto: the entry serving (type, protocol), protocol
    /// 0 meaning the type's default.
    pub fn pffindproto(&self, ty: SockType, protocol: i32) -> Option<u8> {
        self.protosw
            .iter()
            .position(|p| p.pr_type() == ty && (protocol == 0 || protocol == p.pr_protocol()))
            .map(|i| i as u8)
    }

    pub fn pr(&self, so: &Socket) -> &'static dyn Protosw<C> {
        self.protosw[so.so_proto as usize]
    }

    pub fn lookup(&self, h: SocketHandle) -> Result<SocketRef, Errno> {
        self.slots.read().get(h).ok_or(Errno::EBADF)
    }

    /// Lock `h` for a call of the application, failing with EBADF if it is
    /// stale or freed, alive only through PROTOREF after the last close, or
    /// a connection still on a listen queue: it has no descriptor before
    /// accept() hands it out (on Linux the fd does not exist yet), so only
    /// the queue refers to it.
    pub fn with_socket<R>(
        &self,
        h: SocketHandle,
        f: impl FnOnce(&mut Socket) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let sref = self.lookup(h)?;
        let mut so = so_lock(&sref);
        if so.is_freed() || so.so_count == 0 || so.so_qstate != QState::None {
            return Err(Errno::EBADF);
        }
        let r = f(&mut so);
        drop(so);
        r
    }

    pub fn insert(
        &self,
        stats: &Stats,
        make: impl FnOnce(SocketHandle) -> Socket,
    ) -> (SocketHandle, SocketRef) {
        Stats::bump(&stats.sockets_created);
        self.slots.write().insert(make)
    }

    pub fn remove(&self, stats: &Stats, h: SocketHandle) {
        Stats::bump(&stats.sockets_freed);
        self.slots.write().remove(h);
    }

    /// Sockets alive, including ones held only by PROTOREF or a listen queue.
    pub fn count(&self) -> usize {
        self.slots.read().live
    }

    /// Every socket alive (for whole-stack walks: invariants, exit drain).
    /// The table lock is released before this returns: a walk locks the
    /// sockets afterwards, one at a time (a walk holding it deadlocked
    /// against `sofree`, which removes a slot with its socket locked).
    pub fn all(&self) -> Vec<SocketRef> {
        self.slots.read().all()
    }

    /// `h`'s readiness may have changed (FreeBSD's sowakeup): note it for
    /// the next `drain_changed`.
    pub fn sowakeup(&self, h: SocketHandle) {
        let mut c = self.changed.lock();
        if c.last() != Some(&h) && c.len() < CHANGED_MAX {
            c.push(h);
        }
    }

    /// Append the sockets whose readiness may have changed since the last
    /// call (each at most once). A connection still on a listen queue is
    /// left out: it has no descriptor yet (`soaccept` reports it when it
    /// hands it out).
    pub fn drain_changed(&self, out: &mut Vec<SocketHandle>) {
        let start = out.len();
        out.append(&mut self.changed.lock());
        out[start..].sort_unstable();
        // Dedup and filter in place (no allocation: this runs after every
        // stack call). The changed list is released: the sockets may be
        // locked now.
        let mut kept = start;
        for i in start..out.len() {
            let h = out[i];
            if (kept > start && out[kept - 1] == h) || self.is_queued(h) {
                continue;
            }
            out[kept] = h;
            kept += 1;
        }
        out.truncate(kept);
    }

    /// Is `h` a connection on a listener's queue, not yet accepted?
    fn is_queued(&self, h: SocketHandle) -> bool {
        self.lookup(h)
            .is_ok_and(|sref| so_lock(&sref).so_qstate != QState::None)
    }

    /// Assert every socket-layer invariant of DESIGN.md over the whole table,
    /// and each protocol's (`pru_check`).
    /// Call it when no other thread works on the stack: it looks at the
    /// sockets one at a time.
    pub fn check_invariants(&self, cx: &C) {
        let (all, live) = {
            let slots = self.slots.read();
            (slots.all(), slots.live)
        };
        assert_eq!(all.len(), live, "slot count");
        // (connection, the listener it names) for every queued connection.
        let mut queued = Vec::new();
        for sref in &all {
            let so = so_lock(sref);
            so.check_invariants();
            self.pr(&so).pru_check(cx, &so);
            if let Some(head) = so.so_head {
                queued.push((so.handle, head));
            }
            if let Some(q) = &so.so_listen {
                for (i, &child) in q.sol_comp.iter().enumerate() {
                    assert!(
                        !q.sol_comp.iter().skip(i + 1).any(|&c| c == child),
                        "{child:?} is on {:?}'s queue twice",
                        so.handle
                    );
                    let c = self
                        .lookup(child)
                        .expect("queued child is in the slot table");
                    let c = so_lock(&c);
                    assert_eq!(
                        c.so_head,
                        Some(so.handle),
                        "queued child points at its listener"
                    );
                }
            }
        }
        // The reverse: a connection that names a listener is on its queue.
        for (child, head) in queued {
            let l = self
                .lookup(head)
                .expect("a queued child's listener is in the slot table");
            let l = so_lock(&l);
            assert!(
                l.so_listen().is_some_and(|q| q.sol_comp.contains(&child)),
                "{child:?} names {head:?} as its listener but is not on its queue"
            );
        }
    }
}

/// Lock a socket unless it has been freed (a handle found in a protocol
/// table may reach a socket that sofree released meanwhile).
pub fn lock_live(sref: &SocketRef) -> Option<SockGuard<'_>> {
    let so = so_lock(sref);
    (!so.is_freed()).then_some(so)
}

#[cfg(test)]
mod tests {
    use super::Slots;
    use crate::kern::socket::Socket;
    use crate::{Domain, SockType};

    /// Removing a stale handle (a second sofree of one socket, were a
    /// guard to fail) changes nothing: not the socket that reuses the slot,
    /// and the index is not freed twice, so two new sockets never share it
    /// (cargo mutants: `&&` -> `||` in `remove` survived every other test).
    #[test]
    fn a_stale_remove_leaves_the_slot_to_its_new_socket() {
        let mut s = Slots::default();
        let mk = |h| Socket::new(h, Domain::Inet, SockType::Stream, 0);
        let (h, _) = s.insert(mk);
        s.remove(h);
        s.remove(h);
        assert_eq!((s.live, s.free.len()), (0, 1));
        let (a, _) = s.insert(mk);
        assert_eq!(a.index, h.index);
        s.remove(h);
        assert!(s.get(a).is_some(), "the stale remove took the new socket");
        let (b, _) = s.insert(mk);
        assert_ne!(a.index, b.index);
        assert_eq!(s.live, 2);
        assert!(s.get(h).is_none() && s.get(b).is_some());
    }
}
