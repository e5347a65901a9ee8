//! The per-client limit (Documentation/configuration.md, "Per-client
//! limit"): how many front-end flows each client address holds before
//! their handoff (handshake, request, dispatch), against `client-flows`.
//!
//! A namespace's shards split flows by client endpoint, so one address's
//! flows are in every shard: the count is kept once per namespace, in a
//! count-min sketch every shard updates with atomics (no lock). Each
//! address counts in one cell of each of [`ROWS`] rows, picked by a seeded
//! hash (a client cannot aim its flows at another's cells); its count is
//! the least of them, so it is exact unless every one of its cells is
//! shared, and then only too high. 2 KiB whatever the number of clients.

use core::sync::atomic::{AtomicU16, Ordering};

use super::table::mix;

/// Independent hashes per address.
pub const ROWS: usize = 2;
/// Cells per row.
pub const COLS: usize = 512;
/// The default `client-flows`.
pub const DEFAULT_CLIENT_FLOWS: u32 = 256;
/// The largest `client-flows` (a cell's range).
pub const MAX_CLIENT_FLOWS: u32 = u16::MAX as u32;

/// Buffering flows per client address, approximately from above.
pub struct ClientCounts {
    cells: [[AtomicU16; COLS]; ROWS],
    seed: u32,
}

impl ClientCounts {
    /// Empty counts, hashed with `seed` (random, per namespace).
    pub fn new(seed: u32) -> ClientCounts {
        ClientCounts {
            cells: [const { [const { AtomicU16::new(0) }; COLS] }; ROWS],
            seed,
        }
    }

    /// `addr`'s cell in each row.
    fn cells(&self, addr: u32) -> impl Iterator<Item = &AtomicU16> {
        self.cells.iter().zip(0u32..).filter_map(move |(row, r)| {
            let h = mix(self.seed.wrapping_add(r), &[addr]);
            row.get(usize::try_from(h).ok()? % COLS)
        })
    }

    /// The flows `addr` holds (at least; more if all its cells are
    /// shared).
    pub fn count(&self, addr: u32) -> u32 {
        self.cells(addr)
            .map(|c| u32::from(c.load(Ordering::Relaxed)))
            .min()
            .unwrap_or(0)
    }

    /// One flow more for `addr` (saturating).
    pub fn add(&self, addr: u32) {
        for c in self.cells(addr) {
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_add(1));
        }
    }

    /// One flow fewer for `addr` (after an [`ClientCounts::add`] for it).
    pub fn sub(&self, addr: u32) {
        for c in self.cells(addr) {
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    extern crate std;
    use super::*;

    #[test]
    fn counts_each_address_and_gives_back() {
        let c = ClientCounts::new(7);
        for _ in 0..5 {
            c.add(0x0a00_0001);
        }
        c.add(0x0a00_0002);
        assert_eq!(c.count(0x0a00_0001), 5);
        assert_eq!(c.count(0x0a00_0002), 1);
        assert_eq!(c.count(0x0a00_0003), 0);
        for _ in 0..5 {
            c.sub(0x0a00_0001);
        }
        c.sub(0x0a00_0001); // one too many: stays at 0
        assert_eq!(c.count(0x0a00_0001), 0);
        assert_eq!(c.count(0x0a00_0002), 1);
    }

    #[test]
    fn a_busy_address_rarely_limits_another() {
        // One address holding 1,000 flows: of 100,000 others, only those
        // sharing both of its cells (about 1 in COLS^2) see them.
        let c = ClientCounts::new(0x5eed);
        for _ in 0..1000 {
            c.add(0xc0a8_0001);
        }
        let hit = (0..100_000u32)
            .map(|i| 0x0a00_0000 + i)
            .filter(|&a| c.count(a) > 0)
            .count();
        assert!(hit < 10, "{hit} addresses saw the busy one's flows");
    }
}
