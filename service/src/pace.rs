//! How much the loop reads from one source (the device, a client's
//! connection) in a turn. A source that comes in bursts (bulk transfer,
//! many requests queued) is read until EAGAIN, as before; one that gives
//! one item per turn (request/response: one frame from the device, one
//! `Post` from the program, then quiet) is read once, since the read
//! that would find it empty was one of sockshimd's nine system calls per
//! TCP_RR transaction. What a single read leaves behind is not lost: the
//! loop's epoll set is level-triggered, so the next turn's `epoll_wait`
//! reports the source again at once, and a source ready again on the
//! very next turn is read until EAGAIN from then on.

/// One source's pace (pure: the loop tells it what its reads got).
#[derive(Debug, Default, Clone, Copy)]
pub struct Pace {
    /// Read one item per turn.
    one: bool,
    /// The last turn that read something.
    last: u64,
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
        if self.one {
            // Ready again on the turn right after a read: a burst.
            if got > 0 && self.last.wrapping_add(1) == turn {
                self.one = false;
            }
        } else if got <= 1 {
            // Read to EAGAIN and found one item (or none).
            self.one = true;
        }
        if got > 0 {
            self.last = turn;
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
        // More was left: the source is ready again on the next turn.
        assert_eq!(p.budget(256), 1);
        p.note(10, 1);
        assert_eq!(p.budget(256), 256, "a burst is read to EAGAIN");
        p.note(11, 40);
        p.note(12, 17);
        assert_eq!(p.budget(256), 256);
        // A drain that found one item: back to one read per turn.
        p.note(14, 1);
        assert_eq!(p.budget(256), 1);
        // A spurious wake-up (nothing read) changes nothing.
        p.note(15, 0);
        assert_eq!(p.budget(256), 1);
        p.note(17, 1);
        assert_eq!(p.budget(256), 1);
    }
}
