//! Least connections: the member with the least load per unit of weight.
//!
//! `load / weight` is compared exactly, by cross-multiplying in 64 bits
//! (no division, no floating point in the kernel). Ties go to the larger
//! weight (more spare capacity), then to the lower node id, so the pick
//! does not depend on the pool's order.

use ::core::cmp::Ordering;

use super::Member;

/// The node of the member that takes work with the least `load / weight`,
/// or `None` if no member takes work.
pub fn least_conn(pool: &[Member]) -> Option<u16> {
    pool.iter()
        .filter(|m| m.takes_work())
        .min_by(|a, b| compare(a, b))
        .map(|m| m.node)
}

/// Orders members by `load / weight`, then larger weight, then node id.
fn compare(a: &Member, b: &Member) -> Ordering {
    // u32 * u16 always fits in u64.
    let lhs = u64::from(a.load).saturating_mul(u64::from(b.weight));
    let rhs = u64::from(b.load).saturating_mul(u64::from(a.weight));
    lhs.cmp(&rhs)
        .then(b.weight.cmp(&a.weight))
        .then(a.node.cmp(&b.node))
}
