//! TCP sequence number arithmetic (RFC 9293 §3.4): 32-bit numbers compared
//! modulo 2^32, as FreeBSD's SEQ_LT/SEQ_GT macros do.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A sequence number. Ordering is modular, so it is not `Ord`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    pub fn lt(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) < 0
    }
    pub fn le(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) <= 0
    }
    pub fn gt(self, o: Seq) -> bool {
        o.lt(self)
    }
    pub fn ge(self, o: Seq) -> bool {
        o.le(self)
    }
    pub fn max(self, o: Seq) -> Seq {
        if self.lt(o) {
            o
        } else {
            self
        }
    }
    pub fn min(self, o: Seq) -> Seq {
        if self.lt(o) {
            self
        } else {
            o
        }
    }
    /// `self - o` as a signed distance.
    pub fn diff(self, o: Seq) -> i32 {
        self.0.wrapping_sub(o.0) as i32
    }
}

impl Add<usize> for Seq {
    type Output = Seq;
    fn add(self, n: usize) -> Seq {
        Seq(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<usize> for Seq {
    fn add_assign(&mut self, n: usize) {
        self.0 = self.0.wrapping_add(n as u32);
    }
}

impl Sub<Seq> for Seq {
    type Output = usize;
    /// Distance `self - o`; callers guarantee `o <= self`.
    fn sub(self, o: Seq) -> usize {
        let d = self.diff(o);
        debug_assert!(d >= 0, "Seq sub underflow: {} - {}", self.0, o.0);
        d.max(0) as usize
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = Seq(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b.0, 2);
        assert!(a.lt(b) && b.gt(a) && a.le(a) && a.ge(a));
        assert_eq!(b - a, 4);
        assert_eq!(a.diff(b), -4);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
