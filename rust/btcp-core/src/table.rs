//! How full a node's flow table may get (one table each for front-end and
//! back-end flows), and what a new flow does when it is full.
//!
//! Only live flows count against the limit. A flow that is over and only
//! lingers (keeping its translation for stray and retransmitted segments)
//! is cheap and is reclaimed under pressure, oldest first, the way the
//! stack recycles TIME-WAIT sockets: a new flow that finds the table full
//! takes the slot of the flow that has lingered longest. A new flow is
//! refused only when every slot holds a live flow.

/// What a new flow may do, given the table's occupancy and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// There is room.
    Insert,
    /// The table is full, but not of live flows: free the flow that has
    /// lingered longest, then insert.
    ReclaimOldest,
    /// Every slot is live: refuse (and count it).
    Full,
}

/// The flows in one table, live and lingering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Occupancy {
    live: usize,
    lingering: usize,
}

impl Occupancy {
    /// What a new flow may do in a table of at most `max` flows.
    pub fn admit(&self, max: usize) -> Admit {
        if self.total() < max {
            Admit::Insert
        } else if self.live < max && self.lingering > 0 {
            Admit::ReclaimOldest
        } else {
            Admit::Full
        }
    }

    /// A live flow was inserted.
    pub fn inserted(&mut self) {
        self.live = self.live.saturating_add(1);
    }

    /// A live flow started to linger.
    pub fn started_lingering(&mut self) {
        self.live = self.live.saturating_sub(1);
        self.lingering = self.lingering.saturating_add(1);
    }

    /// A flow was removed; `lingering`: it had started to linger.
    pub fn removed(&mut self, lingering: bool) {
        match lingering {
            true => self.lingering = self.lingering.saturating_sub(1),
            false => self.live = self.live.saturating_sub(1),
        }
    }

    /// Flows that are not over.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Flows that are over and only linger.
    pub fn lingering(&self) -> usize {
        self.lingering
    }

    /// Two tables' (or shards') flows together.
    pub fn plus(self, o: Occupancy) -> Occupancy {
        Occupancy {
            live: self.live.saturating_add(o.live),
            lingering: self.lingering.saturating_add(o.lingering),
        }
    }

    /// Every flow in the table.
    pub fn total(&self) -> usize {
        self.live.saturating_add(self.lingering)
    }
}

/// A flow key's slot in a table of `2^bits` slots, under the
/// namespace's random `seed`: the same for the key a client's segment
/// gives and the key a reply to it gives (both name the client first).
/// Seeded so that a client cannot aim many flows at one slot.
pub fn key_slot(key: &super::flow::FlowKey, seed: u32, bits: u32) -> usize {
    let bits = bits.clamp(1, 31);
    let ports = u32::from(key.client.port) << 16 | u32::from(key.server.port);
    let h = mix(seed, &[key.client.addr, key.server.addr, ports]);
    usize::try_from(h.checked_shr(32u32.saturating_sub(bits)).unwrap_or(0)).unwrap_or(0)
}

/// A seeded hash of `words`: one round of a multiply-xorshift mix per
/// word (Murmur3's finaliser constants).
pub fn mix(seed: u32, words: &[u32]) -> u32 {
    let mut h = seed;
    for &w in words {
        h = (h ^ w).wrapping_mul(0xcc9e_2d51);
        h ^= h >> 15;
        h = h.wrapping_mul(0x1b87_3593);
        h ^= h >> 13;
    }
    h
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
    fn lingering_flows_never_block_live_ones() {
        let mut o = Occupancy::default();
        assert_eq!(o.admit(2), Admit::Insert);
        o.inserted();
        o.inserted();
        assert_eq!(o.admit(2), Admit::Full);
        o.started_lingering();
        assert_eq!((o.live(), o.lingering(), o.total()), (1, 1, 2));
        assert_eq!(o.admit(2), Admit::ReclaimOldest);
        o.removed(true);
        assert_eq!(o.admit(2), Admit::Insert);
        o.inserted();
        o.started_lingering();
        o.started_lingering();
        assert_eq!(o.admit(2), Admit::ReclaimOldest);
        o.removed(true);
        o.removed(true);
        assert_eq!(o, Occupancy::default());
        assert_eq!(o.admit(0), Admit::Full);
    }

    #[test]
    fn slots_spread_and_stay_in_range() {
        use super::super::flow::{Endpoint, FlowKey};
        let key = |port: u16| {
            FlowKey::new(
                Endpoint::new(0x0a01_0001, port),
                Endpoint::new(0x0a02_0001, 80),
            )
        };
        let mut hits = [0u32; 64];
        for port in 0..6400u16 {
            let s = key_slot(&key(port), 7, 6);
            assert!(s < 64);
            if let Some(h) = hits.get_mut(s) {
                *h += 1;
            }
        }
        // 100 per slot on average: none empty, none crowded.
        assert!(hits.iter().all(|&h| (50..200).contains(&h)), "{hits:?}");
        // Another seed, another layout.
        assert_ne!(key_slot(&key(1), 7, 20), key_slot(&key(1), 8, 20));
        assert!(key_slot(&key(1), 7, 0) < 2 && key_slot(&key(1), 7, 40) < 1 << 31);
    }
}
