//! A windowed running maximum (Kathleen Nichols' algorithm, as Linux's
//! lib/win_minmax.c): the largest value seen within the last `win` time
//! units, kept as the best, second-best and third-best samples of
//! successive sub-windows, so that when the best ages out the next is
//! already known. BBR's bottleneck-bandwidth filter uses it with time in
//! round trips.

/// One sample: when (in the caller's time unit) and its value; u32 both,
/// as Linux's struct minmax_sample (the filter is 24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sample {
    t: u32,
    v: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WinMax {
    s: [Sample; 3],
}

impl WinMax {
    /// The current maximum.
    pub fn get(&self) -> u32 {
        self.s[0].v
    }

    /// Forget everything: `v` at `t` is the only sample.
    pub fn reset(&mut self, t: u32, v: u32) -> u32 {
        self.s = [Sample { t, v }; 3];
        v
    }

    /// Take `v` measured at `t`; returns the maximum over the window.
    pub fn update(&mut self, win: u32, t: u32, v: u32) -> u32 {
        let new = Sample { t, v };
        // A new best, or the newest kept sample is older than the window.
        if v >= self.s[0].v || t.wrapping_sub(self.s[2].t) > win {
            return self.reset(t, v);
        }
        if v >= self.s[1].v {
            self.s[1] = new;
            self.s[2] = new;
        } else if v >= self.s[2].v {
            self.s[2] = new;
        }
        self.age(win, new)
    }

    /// Move the kept samples along as the window passes them: the best
    /// leaves after a whole window; the second and third choices are
    /// refreshed after a quarter and a half of one.
    fn age(&mut self, win: u32, new: Sample) -> u32 {
        let dt = new.t.wrapping_sub(self.s[0].t);
        if dt > win {
            self.s = [self.s[1], self.s[2], new];
            if new.t.wrapping_sub(self.s[0].t) > win {
                self.s = [self.s[1], self.s[2], new];
            }
        } else if self.s[1].t == self.s[0].t && dt > win / 4 {
            self.s[1] = new;
            self.s[2] = new;
        } else if self.s[2].t == self.s[1].t && dt > win / 2 {
            self.s[2] = new;
        }
        self.s[0].v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maximum_lasts_one_window_then_the_next_best_takes_over() {
        let mut m = WinMax::default();
        assert_eq!(m.update(10, 0, 100), 100);
        assert_eq!(m.update(10, 3, 60), 100);
        assert_eq!(m.update(10, 6, 80), 100);
        assert_eq!(m.update(10, 10, 50), 100, "still within the window");
        // Round 11: the 100 of round 0 is older than the window.
        assert_eq!(m.update(10, 11, 40), 80);
        assert_eq!(m.update(10, 30, 10), 10, "everything aged out");
        assert_eq!(m.update(10, 31, 20), 20, "a new best resets");
    }
}
