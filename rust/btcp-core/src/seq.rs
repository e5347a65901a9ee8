//! Sequence number and timestamp arithmetic modulo 2^32.
//!
//! Comparisons follow Linux's `before()`/`after()`: `a` is before `b` when
//! `b - a`, taken modulo 2^32, is in 1..2^31. Two values exactly 2^31
//! apart are each "before" the other, as in Linux; RFC 1982 leaves that
//! case undefined and nothing sane keeps such values in one window.

/// `a` comes strictly before `b` in sequence space.
pub fn before(a: u32, b: u32) -> bool {
    // Reinterpreting the wrapped difference as signed is the whole trick.
    (a.wrapping_sub(b) as i32) < 0
}

/// `a` comes strictly after `b`.
pub fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `a` is before or equal to `b`.
pub fn before_eq(a: u32, b: u32) -> bool {
    !after(a, b)
}

/// `a` is after or equal to `b`.
pub fn after_eq(a: u32, b: u32) -> bool {
    !before(a, b)
}

/// `x` lies in the inclusive range `lo..=hi`, walking forward from `lo`
/// (Linux's `between(x, lo, hi)`). The range may wrap through zero.
pub fn between(x: u32, lo: u32, hi: u32) -> bool {
    hi.wrapping_sub(lo) >= x.wrapping_sub(lo)
}

/// The later of `a` and `b` in sequence space.
pub fn max(a: u32, b: u32) -> u32 {
    if after(b, a) {
        b
    } else {
        a
    }
}

/// The earlier of `a` and `b` in sequence space.
pub fn min(a: u32, b: u32) -> u32 {
    if before(b, a) {
        b
    } else {
        a
    }
}

/// `a + n` modulo 2^32.
pub fn add(a: u32, n: u32) -> u32 {
    a.wrapping_add(n)
}

/// How far `to` is ahead of `from`, modulo 2^32 (`to - from`).
pub fn distance(from: u32, to: u32) -> u32 {
    to.wrapping_sub(from)
}

/// Moves `x` from the space that starts at `from_isn` to the one that
/// starts at `to_isn`: `x - from_isn + to_isn`, wrapping.
pub fn translate(x: u32, from_isn: u32, to_isn: u32) -> u32 {
    x.wrapping_sub(from_isn).wrapping_add(to_isn)
}

/// A fixed offset between two sequence (or timestamp) spaces, precomputed
/// once per flow so each packet costs one wrapping add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shift {
    /// What to add to a value of the source space, modulo 2^32.
    pub delta: u32,
}

impl Shift {
    /// The shift that maps `from_isn` to `to_isn`.
    pub fn new(from_isn: u32, to_isn: u32) -> Shift {
        Shift {
            delta: to_isn.wrapping_sub(from_isn),
        }
    }

    /// Maps a value of the source space into the target space.
    pub fn forward(self, x: u32) -> u32 {
        x.wrapping_add(self.delta)
    }

    /// Maps a value of the target space back into the source space.
    pub fn backward(self, x: u32) -> u32 {
        x.wrapping_sub(self.delta)
    }

    /// The shift going the other way.
    #[must_use]
    pub fn inverse(self) -> Shift {
        Shift {
            delta: self.delta.wrapping_neg(),
        }
    }
}

/// TCP timestamp `a` is older than `b` (RFC 7323 PAWS, Linux's
/// `(s32)(a - b) < 0`).
pub fn ts_before(a: u32, b: u32) -> bool {
    before(a, b)
}

/// TCP timestamp `a` is newer than `b`.
pub fn ts_after(a: u32, b: u32) -> bool {
    after(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_across_the_wrap() {
        assert!(before(0xffff_fff0, 0x10));
        assert!(after(0x10, 0xffff_fff0));
        assert!(!before(0x10, 0xffff_fff0));
        assert!(before(1, 2) && !before(2, 1));
        assert!(!before(5, 5) && !after(5, 5));
        assert!(before_eq(5, 5) && after_eq(5, 5));
        assert!(before_eq(u32::MAX, 0) && !after_eq(u32::MAX, 0));
        // Just under half the space apart is still ordered.
        assert!(before(0, 0x7fff_ffff) && !before(0x7fff_ffff, 0));
    }

    #[test]
    fn half_the_space_apart_is_ambiguous_as_in_linux() {
        assert!(before(0, 0x8000_0000) && before(0x8000_0000, 0));
    }

    #[test]
    fn between_is_inclusive_and_wraps() {
        assert!(between(5, 5, 10) && between(10, 5, 10) && between(7, 5, 10));
        assert!(!between(4, 5, 10) && !between(11, 5, 10));
        assert!(between(0, 0xffff_fff0, 0x10));
        assert!(between(0xffff_ffff, 0xffff_fff0, 0x10));
        assert!(!between(0x11, 0xffff_fff0, 0x10));
        assert!(between(3, 3, 3) && !between(4, 3, 3));
    }

    #[test]
    fn max_and_min() {
        assert_eq!(max(0xffff_fff0, 0x10), 0x10);
        assert_eq!(min(0xffff_fff0, 0x10), 0xffff_fff0);
        assert_eq!(max(7, 7), 7);
    }

    #[test]
    fn arithmetic_wraps() {
        assert_eq!(add(u32::MAX, 2), 1);
        assert_eq!(distance(u32::MAX, 1), 2);
        assert_eq!(distance(1, u32::MAX), u32::MAX - 1);
    }

    #[test]
    fn translation_between_spaces() {
        // FE space starts at ISN_f, BE space at ISN_b.
        let (isn_f, isn_b) = (0xffff_ff00u32, 0x0000_1000u32);
        assert_eq!(translate(isn_f, isn_f, isn_b), isn_b);
        assert_eq!(translate(isn_f.wrapping_add(0x200), isn_f, isn_b), 0x1200);
        let s = Shift::new(isn_f, isn_b);
        assert_eq!(s.forward(isn_f.wrapping_add(1)), isn_b.wrapping_add(1));
        assert_eq!(s.backward(s.forward(12345)), 12345);
        assert_eq!(s.inverse().forward(isn_b), isn_f);
        assert_eq!(Shift::default().forward(9), 9);
    }

    #[test]
    fn timestamps_compare_like_paws() {
        assert!(ts_before(0xffff_fffe, 3));
        assert!(ts_after(3, 0xffff_fffe));
        assert!(!ts_before(3, 3));
        // ts_delta as chosen at handoff keeps the first translated TSval
        // after the last one the FE sent.
        let (fe_last, tsval_b) = (0x8000_0010u32, 0x0000_0100u32);
        let ts = Shift::new(tsval_b, fe_last.wrapping_add(1));
        assert!(ts_after(ts.forward(tsval_b), fe_last));
    }
}
