//! Translating readiness between the stack's POLL* bits, poll(2)'s revents
//! and select(2)'s fd_sets, with Linux's rules: POLLERR/POLLHUP/POLLNVAL are
//! always reported; select's read set fires on IN/HUP/ERR, its write set on
//! OUT/ERR, its except set on PRI; a closed fd in a set is EBADF.
//! Pure functions over plain values, unit-tested here.

use stack::{Errno, Readiness};

const POLLIN: i16 = libc::POLLIN;
const POLLPRI: i16 = libc::POLLPRI;
const POLLOUT: i16 = libc::POLLOUT;
const POLLERR: i16 = libc::POLLERR;
const POLLHUP: i16 = libc::POLLHUP;
const POLLNVAL: i16 = libc::POLLNVAL;
const POLLRDNORM: i16 = libc::POLLRDNORM;
const POLLRDBAND: i16 = libc::POLLRDBAND;
const POLLWRNORM: i16 = libc::POLLWRNORM;
const POLLWRBAND: i16 = libc::POLLWRBAND;

/// Linux's select masks (fs/select.c).
const POLLIN_SET: i16 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET: i16 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET: i16 = POLLPRI;

/// revents of a stack socket for requested `events`.
pub fn revents(ready: Readiness, events: i16) -> i16 {
    let mut r = ready.0 as i16;
    if r & POLLIN != 0 {
        r |= POLLRDNORM;
    }
    if r & POLLOUT != 0 {
        r |= POLLWRNORM;
    }
    r & (events | POLLERR | POLLHUP | POLLNVAL)
}

/// A select(2) fd_set as 64-bit words (fd n is bit n % 64 of word n / 64).
pub type FdBits<'a> = Option<&'a mut [u64]>;

fn bit(set: &Option<&mut [u64]>, fd: usize) -> bool {
    set.as_ref()
        .and_then(|w| w.get(fd / 64))
        .is_some_and(|w| w & (1u64 << (fd % 64)) != 0)
}

fn set_bit(set: &mut Option<&mut [u64]>, fd: usize, on: bool) {
    if let Some(word) = set.as_mut().and_then(|w| w.get_mut(fd / 64)) {
        if on {
            *word |= 1u64 << (fd % 64);
        } else {
            *word &= !(1u64 << (fd % 64));
        }
    }
}

/// The poll(2) request equivalent to select's three sets for fds < nfds.
pub fn select_to_poll(nfds: usize, r: &FdBits, w: &FdBits, e: &FdBits) -> Vec<libc::pollfd> {
    let mut out = Vec::new();
    for fd in 0..nfds {
        let mut events = 0;
        if bit(r, fd) {
            events |= POLLIN_SET;
        }
        if bit(w, fd) {
            events |= POLLOUT_SET;
        }
        if bit(e, fd) {
            events |= POLLEX_SET;
        }
        if events != 0 {
            out.push(libc::pollfd {
                fd: fd as i32,
                events,
                revents: 0,
            });
        }
    }
    out
}

/// Writes poll results back into select's sets (clearing every other bit
/// below nfds) and returns select's count; EBADF if any fd was invalid.
pub fn poll_to_select(
    nfds: usize,
    polled: &[libc::pollfd],
    r: &mut FdBits,
    w: &mut FdBits,
    e: &mut FdBits,
) -> Result<usize, Errno> {
    if polled.iter().any(|p| p.revents & POLLNVAL != 0) {
        return Err(Errno::EBADF);
    }
    let mut result: Vec<(usize, bool, bool, bool)> = Vec::with_capacity(polled.len());
    for p in polled {
        let fd = p.fd as usize;
        let rev = p.revents;
        result.push((
            fd,
            bit(r, fd) && rev & POLLIN_SET != 0,
            bit(w, fd) && rev & POLLOUT_SET != 0,
            bit(e, fd) && rev & POLLEX_SET != 0,
        ));
    }
    // Linux writes back whole words: bits up to the word boundary clear.
    for fd in 0..nfds.div_ceil(64) * 64 {
        set_bit(r, fd, false);
        set_bit(w, fd, false);
        set_bit(e, fd, false);
    }
    let mut count = 0;
    for (fd, rd, wr, ex) in result {
        set_bit(r, fd, rd);
        set_bit(w, fd, wr);
        set_bit(e, fd, ex);
        count += rd as usize + wr as usize + ex as usize;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(events: i16) -> (bool, bool, bool) {
        (
            events & POLLIN != 0,
            events & POLLOUT != 0,
            events & POLLPRI != 0,
        )
    }

    #[test]
    fn errors_and_hangups_are_always_reported() {
        let ready = Readiness::IN | Readiness::HUP | Readiness::ERR;
        assert_eq!(revents(ready, POLLOUT), POLLHUP | POLLERR);
        assert_eq!(revents(Readiness::IN, POLLIN), POLLIN);
        assert_eq!(revents(Readiness::IN, POLLRDNORM), POLLRDNORM);
        assert_eq!(revents(Readiness::OUT, POLLWRNORM | POLLIN), POLLWRNORM);
        assert_eq!(revents(Readiness::NVAL, 0), POLLNVAL);
        assert_eq!(revents(Readiness::RDHUP, POLLIN), 0);
        assert_eq!(
            revents(Readiness::RDHUP | Readiness::IN, POLLIN | libc::POLLRDHUP),
            POLLIN | libc::POLLRDHUP
        );
    }

    #[test]
    fn select_round_trip() {
        let mut rw = [0u64; 2];
        let mut ww = [0u64; 2];
        rw[0] = (1 << 3) | (1 << 5);
        ww[1] = 1 << 6; // fd 70
        let (mut r, mut w, mut e): (FdBits, FdBits, FdBits) = (Some(&mut rw), Some(&mut ww), None);
        let mut polled = select_to_poll(71, &r, &w, &e);
        assert_eq!(
            polled.iter().map(|p| p.fd).collect::<Vec<_>>(),
            vec![3, 5, 70]
        );
        assert_eq!(wants(polled[0].events), (true, false, false));
        assert_eq!(wants(polled[2].events), (false, true, false));
        polled[0].revents = POLLHUP; // readable: EOF
        polled[1].revents = 0;
        polled[2].revents = POLLOUT;
        assert_eq!(poll_to_select(71, &polled, &mut r, &mut w, &mut e), Ok(2));
        assert_eq!(rw[0], 1 << 3);
        assert_eq!(ww[1], 1 << 6);
    }

    #[test]
    fn select_counts_each_set_and_errors_wake_both() {
        let mut rw = [1u64 << 4];
        let mut ww = [1u64 << 4];
        let (mut r, mut w, mut e): (FdBits, FdBits, FdBits) = (Some(&mut rw), Some(&mut ww), None);
        let mut polled = select_to_poll(5, &r, &w, &e);
        polled[0].revents = POLLERR;
        assert_eq!(poll_to_select(5, &polled, &mut r, &mut w, &mut e), Ok(2));
    }

    #[test]
    fn invalid_fd_is_ebadf() {
        let mut rw = [1u64 << 9];
        let (mut r, mut w, mut e): (FdBits, FdBits, FdBits) = (Some(&mut rw), None, None);
        let mut polled = select_to_poll(10, &r, &w, &e);
        polled[0].revents = POLLNVAL;
        assert_eq!(
            poll_to_select(10, &polled, &mut r, &mut w, &mut e),
            Err(Errno::EBADF)
        );
    }

    #[test]
    fn bits_beyond_nfds_are_ignored() {
        let mut rw = [(1u64 << 2) | (1 << 40)];
        let (r, w, e): (FdBits, FdBits, FdBits) = (Some(&mut rw), None, None);
        assert_eq!(select_to_poll(10, &r, &w, &e).len(), 1);
    }
}
