//! Rolling the cluster key without taking the control channel down.
//!
//! `key-next K2` on a node whose key is K1 starts a roll there, in two
//! steps of `key-overlap` seconds each, timed from when the node got it:
//!
//! 1. it opens frames sealed with K1 or K2 and still seals with K1;
//! 2. it seals with K2 and still opens both;
//! 3. after the second step it opens K2 only: the roll is done.
//!
//! Set on every node within one overlap, no node seals with K2 before
//! every node opens it, and none stops opening K1 before every node seals
//! with K2, so no frame is refused and no link goes down. Writing `key K2`
//! (without `key-next`) afterwards makes the new key the configured one;
//! a node already sealing with K2 and no longer opening K1 sees no change.
//! Any other change of `key` takes effect at once (links whose peers do
//! not have it yet are refused and redialled, as before rolls existed).

use super::config::KEY_LEN;

/// The default `key-overlap`, in seconds.
pub const DEFAULT_KEY_OVERLAP_S: u32 = 60;
/// The longest `key-overlap`, in seconds.
pub const MAX_KEY_OVERLAP_S: u32 = 3600;

/// A cluster key.
pub type Key = [u8; KEY_LEN];

/// One of the two keys a node may hold during a roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `key`, as configured.
    Key,
    /// `key-next`, as configured.
    Next,
}

/// A node's keys and where its roll stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRoll {
    key: Key,
    next: Option<Key>,
    /// When this node got `next` (ms, monotonic).
    since: u64,
    overlap_ms: u64,
}

impl KeyRoll {
    /// The keys of a configuration read at `now`.
    pub fn new(key: Key, next: Option<Key>, overlap_s: u32, now: u64) -> KeyRoll {
        KeyRoll {
            key,
            next: next.filter(|n| *n != key),
            since: now,
            overlap_ms: u64::from(overlap_s).saturating_mul(1000),
        }
    }

    /// Follows a configuration written at `now`: a `key-next` seen before
    /// keeps its start time. Returns whether a key changed (the caller
    /// rebuilds what it derived from them).
    pub fn update(&mut self, key: Key, next: Option<Key>, overlap_s: u32, now: u64) -> bool {
        let next = next.filter(|n| *n != key);
        let changed = key != self.key || next != self.next;
        let since = if next.is_some() && next == self.next && key == self.key {
            self.since
        } else {
            now
        };
        *self = KeyRoll {
            since,
            ..KeyRoll::new(key, next, overlap_s, now)
        };
        changed
    }

    /// The key a slot holds.
    pub fn key(&self, slot: Slot) -> Option<&Key> {
        match slot {
            Slot::Key => Some(&self.key),
            Slot::Next => self.next.as_ref(),
        }
    }

    /// Milliseconds into the roll, if one is under way.
    fn roll_elapsed(&self, now: u64) -> Option<u64> {
        self.next.map(|_| now.saturating_sub(self.since))
    }

    /// The key frames are sealed with at `now`.
    pub fn sealing(&self, now: u64) -> Slot {
        match self.roll_elapsed(now) {
            Some(t) if t >= self.overlap_ms => Slot::Next,
            _ => Slot::Key,
        }
    }

    /// Whether frames sealed with `slot`'s key are opened at `now`.
    pub fn opens(&self, slot: Slot, now: u64) -> bool {
        match (slot, self.roll_elapsed(now)) {
            (Slot::Key, None) => true,
            (Slot::Key, Some(t)) => t < self.overlap_ms.saturating_mul(2),
            (Slot::Next, t) => t.is_some(),
        }
    }

    /// Whether the roll is finished (or there is none): the next key, if
    /// any, is the only one in use.
    pub fn settled(&self, now: u64) -> bool {
        self.next.is_none() || !self.opens(Slot::Key, now)
    }
}
