//! `Socket`, and the sockets made ahead with it ("spares"). A client that
//! makes sockets in a burst (a TCP_CRR client, a crawler) asks for a few
//! more of the same kind with its `Socket` request: the service makes
//! them now and passes their anchors after the new socket's, and the
//! client's next socket() calls take one each without a round trip
//! (docs/architecture.md, "Sockets made ahead").
//!
//! A spare is an ordinary socket of the client from the moment it is made
//! (its anchor is one `so_count` reference; its hang-up closes it; it
//! counts toward the client's caps), so nothing here outlives the
//! request. The client may take one only while the namespace's sysctls it
//! was made with still stand: `fresh_us` in the reply, what is left of
//! the read's `SYSCTL_REREAD_US` (a `Socket` re-reads them at most that
//! often, so a spare taken in time is no staler than a socket made then;
//! one that asks for spares re-reads them once half of it went, so a
//! batch stands at least that long).

use std::os::fd::OwnedFd;

use proto::{Body, Reply};
use stack::{Domain, Errno, Instant, SockType, SocketHandle};

use super::{Core, Session, SYSCTL_REREAD_US};

impl Core {
    /// socket(domain, ty, protocol) for `sess`, and up to `spares` more of
    /// the same kind (`MAX_SPARES` at most, none past half of a cap).
    pub(super) fn socket(
        &mut self,
        sess: &mut Session,
        now: Instant,
        domain: Domain,
        ty: SockType,
        protocol: i32,
        spares: u8,
    ) -> (Reply<'static>, Option<OwnedFd>) {
        if let Err(e) = self.admit(sess, 0) {
            return (Err(e), None);
        }
        // As Linux, the namespace's sysctls count from the next socket on
        // (see Stack::set_sysctl).
        let mut age = 0;
        if let Some(read) = self.read_sysctl {
            let last = self
                .sysctl_read_at
                .map(|t| now.total_micros().saturating_sub(t.total_micros()));
            // A batch of spares is read for afresh once half the window
            // went: spares made with an old read would expire before a
            // fast client took them all (and it would then ask for fewer).
            let stands = if spares > 0 {
                SYSCTL_REREAD_US / 2
            } else {
                SYSCTL_REREAD_US
            };
            match last {
                Some(a) if a < stands => age = a,
                _ => {
                    self.sysctl_read_at = Some(now);
                    self.stack.set_sysctl(read());
                }
            }
        }
        let (h, b) = match self.socket_one(sess, now, (domain, ty, protocol)) {
            Ok(v) => v,
            Err(e) => return (Err(e), None),
        };
        let id = h.as_u64();
        if spares == 0 {
            return (Ok(Body::Socket { id }), Some(b));
        }
        let mut ids = Vec::new();
        while ids.len() < (spares as usize).min(proto::MAX_SPARES) && self.room_for_spare(sess) {
            match self.socket_one(sess, now, (domain, ty, protocol)) {
                Ok((s, sb)) => {
                    ids.push(s.as_u64());
                    self.spare_bs.push(sb);
                }
                Err(_) => break,
            }
        }
        let body = Body::Spares {
            id,
            spares: ids,
            fresh_us: SYSCTL_REREAD_US - age,
        };
        (Ok(body), Some(b))
    }

    /// One new socket of `sess` with its anchor, within its caps.
    fn socket_one(
        &mut self,
        sess: &mut Session,
        now: Instant,
        (domain, ty, protocol): (Domain, SockType, i32),
    ) -> Result<(SocketHandle, OwnedFd), Errno> {
        let h = self.stack.socket_in(domain, ty, protocol)?;
        self.admit_new(sess, now, h)?;
        match self.anchor_new(sess, h) {
            Ok(b) => Ok((h, b)),
            Err(e) => {
                let _ = self.stack.close(now, h);
                Err(e)
            }
        }
    }

    /// Spares count toward the caps as the sockets they are; made only
    /// while `sess` holds under half of each, so that a client near a cap
    /// is never refused a socket or a connection for spares it holds.
    fn room_for_spare(&self, sess: &mut Session) -> bool {
        let held = self.held(sess);
        held.saturating_mul(2) < self.limits.sockets
            && sess.sb.get().saturating_mul(2) < self.limits.sbsize
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use proto::{Body, Request};
    use stack::{Domain, Errno, Instant, SockType, Sysctl};

    use super::super::tests::{core, ok, t, trusted};
    use super::super::{Core, Session};

    fn socket_req(spares: u8) -> Request<'static> {
        Request::Socket {
            domain: Domain::Inet,
            ty: SockType::Stream,
            protocol: 0,
            spares,
        }
    }

    /// A `Socket` as the loop serves it: the reply and every anchor passed.
    fn serve_socket(
        c: &mut Core,
        s: &mut Session,
        now: Instant,
        spares: u8,
    ) -> (Result<Body<'static>, Errno>, Vec<OwnedFd>) {
        let (b, fds) = c.serve(s, now, socket_req(spares), vec![]);
        let b = b.expect("a Socket has a reply");
        let rep = proto::msg::decode_reply(&b).expect("the reply decodes");
        let rep = rep.map(|body| match body {
            Body::Socket { id } => Body::Socket { id },
            Body::Spares {
                id,
                spares,
                fresh_us,
            } => Body::Spares {
                id,
                spares,
                fresh_us,
            },
            other => panic!("socket: {other:?}"),
        });
        (rep, fds)
    }

    #[test]
    fn spares_come_with_their_anchors_and_are_the_clients_own_sockets() {
        let mut c = core();
        let mut a = trusted();
        let (rep, fds) = serve_socket(&mut c, &mut a, t(), 4);
        let Ok(Body::Spares { id, spares, .. }) = rep else {
            panic!("{rep:?}")
        };
        assert_eq!(spares.len(), 4);
        assert_eq!(fds.len(), 5, "one anchor for the socket, one per spare");
        assert_eq!(c.open_sockets(), 5);
        for s in spares.iter().chain([&id]) {
            let addr = std::net::SocketAddr::from(([10, 7, 0, 2], 0));
            ok(&mut c, &mut a, Request::Bind { id: *s, addr });
        }
        // Another client cannot name them.
        let mut b = trusted();
        let (r, _) = c.handle(&mut b, t(), Request::Getsockname { id: spares[0] }, vec![]);
        assert_eq!(r.err(), Some(Errno::EBADF));
        // A spare never taken goes as any socket does: its anchor's hang-up.
        let mut fds = fds;
        let spare_b = fds.pop().unwrap();
        drop(spare_b);
        ok(
            &mut c,
            &mut a,
            Request::Closed {
                id: spares[3],
                last: true,
            },
        );
        assert_eq!(c.open_sockets(), 4);
        drop(fds);
    }

    #[test]
    fn no_spares_unless_asked_and_none_past_half_a_cap() {
        let mut c = core();
        let mut a = trusted();
        let (rep, fds) = serve_socket(&mut c, &mut a, t(), 0);
        assert!(matches!(rep, Ok(Body::Socket { .. })), "{rep:?}");
        assert_eq!(fds.len(), 1);
        drop(fds);

        let mut c = core();
        c.limits.sockets = 6;
        let mut a = trusted();
        let (rep, mut held) = serve_socket(&mut c, &mut a, t(), 4);
        let Ok(Body::Spares { spares, .. }) = rep else {
            panic!("{rep:?}")
        };
        assert_eq!(spares.len(), 2, "made while under half of the cap of 6");
        // The cap still counts every socket: 3 more, then EMFILE.
        for _ in 0..3 {
            let (rep, fds) = serve_socket(&mut c, &mut a, t(), 4);
            assert!(
                matches!(rep, Ok(Body::Spares { ref spares, .. }) if spares.is_empty()),
                "{rep:?}"
            );
            held.extend(fds);
        }
        let (rep, fds) = serve_socket(&mut c, &mut a, t(), 4);
        assert_eq!(rep.err(), Some(Errno::EMFILE));
        assert!(fds.is_empty());
        assert_eq!(c.open_sockets(), 6);
    }

    fn read_sysctl() -> Sysctl {
        READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Sysctl::default()
    }
    static READS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    #[test]
    fn spares_stand_only_as_long_as_the_sysctl_read_they_were_made_with() {
        let mut c = core();
        c.read_sysctl = Some(read_sysctl);
        let mut a = trusted();
        let at = |ms: u64| Instant::from_micros(5_000_000 + ms * 1000);
        let fresh = |rep: Result<Body<'static>, Errno>| match rep {
            Ok(Body::Spares { fresh_us, .. }) => fresh_us,
            other => panic!("{other:?}"),
        };
        let before = READS.load(std::sync::atomic::Ordering::Relaxed);
        let (rep, _fds1) = serve_socket(&mut c, &mut a, at(0), 2);
        assert_eq!(fresh(rep), 10_000, "read now: the whole 10 ms");
        let (rep, _fds2) = serve_socket(&mut c, &mut a, at(3), 2);
        assert_eq!(fresh(rep), 7_000, "the read of 3 ms ago stands 7 ms more");
        let (rep, _fds3) = serve_socket(&mut c, &mut a, at(10), 2);
        assert_eq!(fresh(rep), 10_000, "read again");
        assert_eq!(READS.load(std::sync::atomic::Ordering::Relaxed) - before, 2);
        // A batch asked for once half the window went is read for afresh
        // (it must stand long enough to be taken); a plain socket is not.
        let (rep, _fds4) = serve_socket(&mut c, &mut a, at(16), 0);
        assert!(matches!(rep, Ok(Body::Socket { .. })), "{rep:?}");
        assert_eq!(READS.load(std::sync::atomic::Ordering::Relaxed) - before, 2);
        let (rep, _fds5) = serve_socket(&mut c, &mut a, at(16), 2);
        assert_eq!(fresh(rep), 10_000, "6 ms old: read again for a batch");
        assert_eq!(READS.load(std::sync::atomic::Ordering::Relaxed) - before, 3);
    }
}
