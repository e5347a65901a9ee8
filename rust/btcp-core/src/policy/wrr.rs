//! Smooth weighted round-robin, as nginx does it
//! (`ngx_http_upstream_get_peer`).
//!
//! Each pick adds every eligible member's weight to its `current`, picks
//! the member with the largest `current` (the first one on ties) and
//! subtracts the total weight from it. Over any `total` consecutive picks
//! from a reset each member is picked exactly `weight` times, and picks of
//! a heavy member are spread out rather than bunched: weights {5, 1, 1}
//! give `a a b a c a a`.
//!
//! The state is one counter per pool position, in a fixed-capacity array:
//! `current[i]` belongs to `pool[i]`. Call [`SmoothWrr::reset`] when
//! members are added, removed or reordered. Members past the capacity `N`
//! are never picked. Members that do not take work are skipped and their
//! counter is left alone, as nginx leaves a down peer's.

use super::Member;

/// Smooth weighted round-robin over a pool of at most `N` members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmoothWrr<const N: usize> {
    current: [i64; N],
}

impl<const N: usize> Default for SmoothWrr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SmoothWrr<N> {
    /// Fresh state: every counter at zero.
    pub const fn new() -> Self {
        SmoothWrr { current: [0; N] }
    }

    /// Back to fresh state, e.g. after the pool changed.
    pub fn reset(&mut self) {
        self.current = [0; N];
    }

    /// The next node, or `None` if no member (within capacity) takes work.
    pub fn pick(&mut self, pool: &[Member]) -> Option<u16> {
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for (i, (m, cur)) in pool.iter().zip(self.current.iter_mut()).enumerate() {
            if !m.takes_work() {
                continue;
            }
            let w = i64::from(m.weight);
            // Bounded by the total weight, far from i64's range; saturating
            // only to satisfy the no-overflow lint.
            *cur = cur.saturating_add(w);
            total = total.saturating_add(w);
            if best.map_or(true, |(_, b)| *cur > b) {
                best = Some((i, *cur));
            }
        }
        let (i, _) = best?;
        let cur = self.current.get_mut(i)?;
        *cur = cur.saturating_sub(total);
        pool.get(i).map(|m| m.node)
    }
}
