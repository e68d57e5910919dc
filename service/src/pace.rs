//! How much the loop reads from one source (the device, a client's
//! connection) in a turn. A source that comes in bursts (bulk transfer,
//! many requests queued) is read until EAGAIN, as before; one that gives
//! one item per turn (request/response: one frame from the device, one
//! `Post` from the program, then quiet) is read once, since the read
//! that would find it empty was one of sockshimd's nine system calls per
//! TCP_RR transaction. What a single read leaves behind is not lost: the
//! loop's epoll set is level-triggered, so the next turn's `epoll_wait`
//! reports the source again at once, and a source ready on `BURST`
//! turns in a row is read until EAGAIN from then on. (Ready on the next
//! turn alone is no burst: a client making one call after another, as
//! a TCP_CRR server's accept, reads and close, sends its next request
//! as soon as it has the reply.)

/// Turns in a row on which a source read once was ready: a burst.
const BURST: u32 = 3;

/// One source's pace (pure: the loop tells it what its reads got).
#[derive(Debug, Default, Clone, Copy)]
pub struct Pace {
    /// Read one item per turn.
    one: bool,
    /// The last turn that read something.
    last: u64,
    /// Turns in a row (up to `last`) that read something.
    streak: u32,
}

impl Pace {
    /// Reads to try in this turn (fewer when one says EAGAIN).
    pub fn budget(&self, max: usize) -> usize {
        if self.one {
            1
        } else {
            max
        }
    }

    /// This turn's reads got `got` items.
    pub fn note(&mut self, turn: u64, got: usize) {
        if got > 0 {
            let next = self.last.wrapping_add(1) == turn;
            self.streak = if next { self.streak + 1 } else { 1 };
            self.last = turn;
        }
        if self.one {
            // Ready turn after turn: a burst.
            if got > 0 && self.streak >= BURST {
                self.one = false;
            }
        } else if got <= 1 {
            // Read to EAGAIN and found one item (or none).
            self.one = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_item_per_turn_is_read_once_and_a_burst_to_eagain() {
        let mut p = Pace::default();
        assert_eq!(p.budget(256), 256, "a new source is read to EAGAIN");
        p.note(1, 1);
        // Request/response: an item every other turn, one read each.
        for turn in [3, 5, 7, 9] {
            assert_eq!(p.budget(256), 1);
            p.note(turn, 1);
        }
        // One call after another: ready on the next turn, once.
        p.note(10, 1);
        assert_eq!(p.budget(256), 1, "ready on two turns in a row is no burst");
        // More was left: the source is ready turn after turn.
        p.note(11, 1);
        assert_eq!(p.budget(256), 256, "a burst is read to EAGAIN");
        p.note(12, 40);
        p.note(13, 17);
        assert_eq!(p.budget(256), 256);
        // A drain that found one item: back to one read per turn.
        p.note(15, 1);
        assert_eq!(p.budget(256), 1);
        // A spurious wake-up (nothing read) changes nothing.
        p.note(16, 0);
        assert_eq!(p.budget(256), 1);
        p.note(18, 1);
        p.note(19, 1);
        assert_eq!(p.budget(256), 1);
    }
}
