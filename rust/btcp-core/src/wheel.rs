//! Timer-wheel arithmetic for the flow tables: each flow sits in the slot
//! of the tick its deadline falls in, so a timer run looks only at the
//! flows whose tick has come, not at every flow.
//!
//! The wheel is lazy. A flow is scheduled at the tick of its deadline,
//! clamped to the wheel's horizon; when its tick comes the shell checks
//! the flow's real deadline (packets may have pushed it later: an idle
//! deadline moves with every packet) and schedules it again if it is not
//! due. A deadline that moves earlier schedules the flow again at once;
//! its old entry is stale and skipped (the flow remembers the one tick
//! it is scheduled at). So each flow costs O(1) per horizon or per
//! deadline change, whatever the number of flows.

/// The wheel's resolution: the shell's timer period.
pub const TICK_MS: u64 = 100;
/// Slots: the horizon is `SLOTS * TICK_MS` (51.2 s); later deadlines are
/// looked at once per horizon until they are near.
pub const SLOTS: u64 = 512;

/// The tick a deadline falls in (rounded up: a flow is never looked at
/// before its deadline's tick).
pub fn tick_of(deadline_ms: u64) -> u64 {
    deadline_ms.div_ceil(TICK_MS)
}

/// The tick to schedule a flow whose deadline is `deadline_ms` at, when
/// the next tick the wheel will run is `next`: its deadline's tick,
/// never in the past, never beyond the horizon.
pub fn schedule_at(deadline_ms: u64, next: u64) -> u64 {
    tick_of(deadline_ms).clamp(next, next.saturating_add(SLOTS - 1))
}

/// Whether a flow scheduled at `current` (if at all) must be scheduled
/// again at `at`: it is not scheduled, or `at` is earlier.
pub fn reschedule(current: Option<u64>, at: u64) -> bool {
    current.map_or(true, |c| at < c)
}

/// The slot of tick `t`.
pub fn slot_of(t: u64) -> usize {
    usize::try_from(t % SLOTS).unwrap_or(0)
}

/// The ticks a timer run at `now_ms` covers when the next tick to run is
/// `next`: from `next` up to `now`'s tick, at most one turn of the wheel
/// (a run late by more than a turn still sees every slot once). Returns
/// (first, end), end exclusive; empty when `now` is before `next`'s tick.
pub fn due_ticks(next: u64, now_ms: u64) -> (u64, u64) {
    let now_tick = now_ms / TICK_MS;
    let end = now_tick.saturating_add(1).min(next.saturating_add(SLOTS));
    (next, end.max(next))
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
    fn ticks_round_up_and_stay_in_the_horizon() {
        assert_eq!(tick_of(0), 0);
        assert_eq!(tick_of(1), 1);
        assert_eq!(tick_of(100), 1);
        assert_eq!(tick_of(101), 2);
        assert_eq!(tick_of(u64::MAX), u64::MAX / 100 + 1);
        // Past deadlines go to the next run; far ones to the horizon.
        assert_eq!(schedule_at(50, 10), 10);
        assert_eq!(schedule_at(1_250, 10), 13);
        assert_eq!(schedule_at(600_000, 10), 10 + SLOTS - 1);
        assert_eq!(schedule_at(u64::MAX, u64::MAX), u64::MAX);
        assert!(reschedule(None, 5));
        assert!(reschedule(Some(6), 5));
        assert!(!reschedule(Some(5), 5));
        assert!(!reschedule(Some(5), 9));
    }

    #[test]
    fn a_run_covers_each_tick_once() {
        // Runs every 100 ms (or late, or early) see every tick exactly once.
        extern crate std;
        let mut seen = std::vec::Vec::new();
        let mut next = 3;
        for now in [350, 351, 420, 999, 1000, 1000, 90_000, 90_050] {
            let (a, b) = due_ticks(next, now);
            seen.extend(a..b);
            next = b;
        }
        let mut sorted = seen.clone();
        sorted.dedup();
        assert_eq!(sorted, seen, "no tick twice");
        assert_eq!(seen.first(), Some(&3));
        // A run 89 s late covers one turn, then carries on from there.
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(due_ticks(10, 500), (10, 10));
        assert_eq!(slot_of(SLOTS + 3), 3);
    }

    #[test]
    fn a_flow_is_looked_at_no_earlier_than_its_deadline() {
        for deadline in [0u64, 1, 99, 100, 101, 12_345, 51_199, 51_200, 600_000] {
            let mut next = 0;
            let mut at = schedule_at(deadline, next);
            let mut looks = 0;
            // Run the wheel every 100 ms until the flow is due.
            for now in (0..700_000u64).step_by(100) {
                let (a, b) = due_ticks(next, now);
                next = b;
                if (a..b).contains(&at) {
                    looks += 1;
                    if now >= deadline {
                        assert!(now < deadline + 2 * TICK_MS, "{deadline}: late at {now}");
                        break;
                    }
                    at = schedule_at(deadline, next);
                }
            }
            assert!(
                looks <= 2 + deadline / (SLOTS * TICK_MS),
                "{deadline}: {looks}"
            );
        }
    }
}
