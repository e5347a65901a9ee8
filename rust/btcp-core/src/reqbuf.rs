//! How a front-end's request buffer grows: it exists only while request
//! bytes are collected and holds what arrived, growing to the limit, so a
//! flow that waits for its handshake or a client that sends a short
//! request costs little (a flood of SYNs none at all).

/// The smallest allocation: one short request head.
pub const MIN_CAPACITY: usize = 512;

/// The capacity to grow a buffer of capacity `cap` to, so that it holds
/// `needed` bytes, in a buffer never larger than `limit`: double, at least
/// [`MIN_CAPACITY`], at least `needed`, at most `limit`. `None` when
/// `needed` exceeds `limit` or `cap` already suffices.
pub fn grow_to(cap: usize, needed: usize, limit: usize) -> Option<usize> {
    if needed <= cap || needed > limit {
        return None;
    }
    Some(
        cap.saturating_mul(2)
            .max(MIN_CAPACITY)
            .max(needed)
            .min(limit),
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;

    #[test]
    fn grows_by_doubling_within_the_limit() {
        assert_eq!(grow_to(0, 1, 16384), Some(512));
        assert_eq!(grow_to(0, 700, 16384), Some(700));
        assert_eq!(grow_to(512, 513, 16384), Some(1024));
        assert_eq!(grow_to(12000, 12001, 16384), Some(16384));
        assert_eq!(grow_to(16384, 16385, 16384), None);
        assert_eq!(grow_to(1024, 1000, 16384), None);
        assert_eq!(grow_to(0, 100, 64), None);
        assert_eq!(grow_to(0, 64, 64), Some(64));
        assert_eq!(grow_to(usize::MAX, usize::MAX, usize::MAX), None);
    }
}
