//! Locality-aware request distribution: LARD and LARD/R (Pai et al.,
//! "Locality-Aware Request Distribution in Cluster-based Network
//! Servers", ASPLOS 1998, §2.2–2.3).
//!
//! Requests for one target (a hash of its path, or host and path: see
//! [`super::target_hash`]) go to the same server while load allows, so
//! each server's cache holds its share of the working set instead of all
//! servers caching the same hot content. Load is a member's
//! [`Member::load`] (active connections); `T_low` is the load below which
//! a server is underused, `T_high` the load above which it delays
//! requests noticeably.
//!
//! Basic LARD ([`Lard`]) maps a target to one server:
//!
//! ```text
//! if server[t] is unassigned (or no longer takes work):
//!     server[t] <- least loaded node
//! else if (server[t].load > T_high and some node has load < T_low)
//!         or server[t].load >= 2 T_high:
//!     server[t] <- least loaded node
//! send to server[t]
//! ```
//!
//! LARD/R ([`LardR`]) maps a target to a set of servers, for content too
//! hot for one:
//!
//! ```text
//! if set[t] is empty:
//!     set[t] <- { least loaded node }
//! n <- least loaded in set[t];  m <- most loaded in set[t] (other than n)
//! if (n.load > T_high and some node has load < T_low) or n.load >= 2 T_high:
//!     n <- least loaded node; add n to set[t]
//! if |set[t]| > 1 and now - set[t].last_change > K:
//!     remove m from set[t]
//! if set[t] changed: set[t].last_change <- now
//! send to n
//! ```
//!
//! So a set grows while its members are overloaded and shrinks by one
//! member per `K` it stays unchanged. Members that stopped taking work
//! are dropped from a set (or unassigned) when their target is next seen.
//! A set holds at most `R` servers; growing a full set replaces its most
//! loaded member instead.
//!
//! Defaults ([`LardParams::DEFAULT`]) are the paper's: `T_low = 25`,
//! `T_high = 65` connections, `K = 20 s`. The paper also caps the
//! connections the front-end admits at `(n - 1) T_high + T_low - 1` for
//! `n` back-ends, so that the thresholds stay meaningful; that is
//! [`LardParams::admission_limit`], for the caller to enforce.
//!
//! # The bounded target table
//!
//! The paper's table grows with the number of targets; here the caller
//! gives it a table of entries (`T`, any `DerefMut<Target = [Entry<R>]>`:
//! a `Vec`, the kernel's `KVVec`, an array) whose size it chooses, and
//! without one a policy is plain least-loaded. The table is 4-way
//! set-associative: a target's hash picks a bucket of 4 entries, and a
//! new target takes a free entry of its bucket or evicts the least
//! recently used one there. Lookups cost 4 comparisons, eviction is LRU
//! per bucket (close to global LRU for a table much larger than the hot
//! set), and an evicted target is simply reassigned to the least loaded
//! node when it comes back: locality lost, never correctness. So the table
//! should hold the working set: size it at least twice the targets a site
//! serves often. A remainder of the length past a multiple of 4 is unused;
//! an entry is 25 bytes plus 2 per set member, padded to 8 (40 for
//! `R = 4`).
//!
//! ```
//! use btcp_core::policy::lard::{Entry, Lard, LardParams};
//! use btcp_core::policy::Member;
//!
//! let mut pool = [Member::new(1, 1), Member::new(2, 1)];
//! let mut lard = Lard::with_table(LardParams::DEFAULT, vec![Entry::<1>::FREE; 64]);
//! let a = lard.pick(&pool, 0xa, 0).unwrap();
//! pool.iter_mut().find(|m| m.node == a).unwrap().load += 1;
//! let b = lard.pick(&pool, 0xb, 0).unwrap();
//! assert_ne!(a, b); // new targets go to the least loaded node
//! assert_eq!(lard.pick(&pool, 0xa, 1), Some(a)); // and then stay there
//! ```

use ::core::ops::{Deref, DerefMut};

use super::{least_loaded, usable, Member};

/// Entries per bucket of the target table.
const WAYS: usize = 4;

/// LARD's thresholds and timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LardParams {
    /// Below this load a node counts as underused.
    pub t_low: u32,
    /// Above this load a node counts as overloaded; at twice this it is
    /// relieved even if no node is underused.
    pub t_high: u32,
    /// LARD/R: a server set unchanged for this long loses a member.
    pub k_ms: u64,
}

impl LardParams {
    /// The paper's values: 25, 65 and 20 s.
    pub const DEFAULT: LardParams = LardParams {
        t_low: 25,
        t_high: 65,
        k_ms: 20_000,
    };

    /// The paper's cap on connections the front-end should admit with
    /// `nodes` back-ends up: `(nodes - 1) T_high + T_low - 1`.
    pub fn admission_limit(&self, nodes: u32) -> u32 {
        if nodes == 0 {
            return 0;
        }
        // In 64 bits this cannot overflow; clamp to u32 at the end.
        let limit = u64::from(nodes.saturating_sub(1))
            .saturating_mul(u64::from(self.t_high))
            .saturating_add(u64::from(self.t_low))
            .saturating_sub(1);
        u32::try_from(limit).unwrap_or(u32::MAX)
    }

    /// Whether `n` should hand its target (or share it) with the least
    /// loaded node: `n` is overloaded while a node is underused, or is
    /// at twice the high threshold.
    fn should_move(&self, pool: &[Member], n: &Member) -> bool {
        let underused = pool.iter().any(|m| m.takes_work() && m.load < self.t_low);
        (n.load > self.t_high && underused) || n.load >= self.t_high.saturating_mul(2)
    }
}

impl Default for LardParams {
    fn default() -> Self {
        LardParams::DEFAULT
    }
}

/// A target and its server set: one slot of a target table (see the
/// module docs), free as [`Entry::FREE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<const R: usize> {
    target: u64,
    last_used_ms: u64,
    last_change_ms: u64,
    /// Servers in `set`; 0 marks a free entry.
    len: u8,
    set: [u16; R],
}

impl<const R: usize> Entry<R> {
    /// A free slot: what a table starts with.
    pub const FREE: Entry<R> = Entry {
        target: 0,
        last_used_ms: 0,
        last_change_ms: 0,
        len: 0,
        set: [0; R],
    };

    fn servers(&self) -> &[u16] {
        self.set.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Sets the servers to exactly `node`.
    fn assign(&mut self, node: u16, now_ms: u64) {
        if let Some(first) = self.set.first_mut() {
            *first = node;
            self.len = 1;
        }
        self.last_change_ms = now_ms;
    }

    /// Appends `node` if there is room.
    fn push(&mut self, node: u16) -> bool {
        match self.set.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = node;
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Removes the server at index `i`, keeping the others' order.
    fn remove(&mut self, i: usize) {
        if let Some(tail) = self.set.get_mut(i..usize::from(self.len)) {
            tail.rotate_left(1);
            self.len = self.len.saturating_sub(1);
        }
    }

    /// Drops servers that left the pool or stopped taking work; whether
    /// any was dropped.
    fn retain_usable(&mut self, pool: &[Member]) -> bool {
        let before = self.len;
        let mut i = 0;
        while let Some(&node) = self.servers().get(i) {
            if usable(pool, node).is_some() {
                i = i.saturating_add(1);
            } else {
                self.remove(i);
            }
        }
        self.len != before
    }
}

// The bounded, 4-way set-associative target table (see the module docs),
// over the caller's entries.

/// The bucket of `target` in a table of `n` entries; empty when `n` is 0.
fn bucket_range(target: u64, n: usize) -> ::core::ops::Range<usize> {
    let ways = WAYS.min(n);
    let buckets = n.checked_div(ways).unwrap_or(0);
    let b = u64::try_from(buckets)
        .ok()
        .and_then(|n| target.checked_rem(n))
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0);
    let start = b.saturating_mul(ways);
    start..start.saturating_add(ways)
}

/// A policy's target table: the caller's entries, if it gave any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TargetTable<T>(Option<T>);

impl<T> TargetTable<T> {
    /// The entry of `target`, if the table holds it.
    fn find<const R: usize>(&self, target: u64) -> Option<&Entry<R>>
    where
        T: Deref<Target = [Entry<R>]>,
    {
        let entries = self.0.as_deref()?;
        entries
            .get(bucket_range(target, entries.len()))?
            .iter()
            .find(|e| e.len > 0 && e.target == target)
    }

    /// The entry for `target`, marked used at `now_ms`: the existing one,
    /// else a free or the least recently used entry of its bucket,
    /// emptied. `None` without a table, or with one of no entries.
    fn entry<const R: usize>(&mut self, target: u64, now_ms: u64) -> Option<&mut Entry<R>>
    where
        T: DerefMut<Target = [Entry<R>]>,
    {
        let entries = self.0.as_deref_mut()?;
        let range = bucket_range(target, entries.len());
        let bucket = entries.get_mut(range)?;
        let hit = bucket.iter().position(|e| e.len > 0 && e.target == target);
        let i = match hit {
            Some(i) => i,
            None => {
                let (i, _) = bucket
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| (e.len > 0, e.last_used_ms))?;
                i
            }
        };
        let e = bucket.get_mut(i)?;
        if hit.is_none() {
            *e = Entry::FREE;
            e.target = target;
            e.last_change_ms = now_ms;
        }
        e.last_used_ms = now_ms;
        Some(e)
    }

    /// Forgets every target.
    fn clear<const R: usize>(&mut self)
    where
        T: DerefMut<Target = [Entry<R>]>,
    {
        if let Some(t) = self.0.as_deref_mut() {
            t.fill(Entry::FREE);
        }
    }

    /// Targets in the table.
    fn targets<const R: usize>(&self) -> usize
    where
        T: Deref<Target = [Entry<R>]>,
    {
        self.0
            .as_deref()
            .map_or(0, |t| t.iter().filter(|e| e.len > 0).count())
    }

    /// Entries of the table (0 without one).
    fn capacity<const R: usize>(&self) -> usize
    where
        T: Deref<Target = [Entry<R>]>,
    {
        self.0.as_deref().map_or(0, <[Entry<R>]>::len)
    }
}

/// Basic LARD: each target on one server, over a table of `Entry<R>`
/// (only a set's first member is used: `R` lets it share a table type
/// with [`LardR`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lard<T, const R: usize> {
    params: LardParams,
    table: TargetTable<T>,
}

impl<T, const R: usize> Lard<T, R> {
    /// No table yet: plain least-loaded until [`Lard::set_table`].
    pub const fn new(params: LardParams) -> Self {
        Lard {
            params,
            table: TargetTable(None),
        }
    }
}

impl<T: DerefMut<Target = [Entry<R>]>, const R: usize> Lard<T, R> {
    /// Over `table`, whose entries are all [`Entry::FREE`] (or targets
    /// kept from before).
    pub fn with_table(params: LardParams, table: T) -> Self {
        Lard {
            params,
            table: TargetTable(Some(table)),
        }
    }

    /// Uses `table` from now on (the targets of the old one are gone).
    pub fn set_table(&mut self, table: T) {
        self.table = TargetTable(Some(table));
    }

    /// The thresholds in use.
    pub fn params(&self) -> LardParams {
        self.params
    }

    /// Uses `params` from now on (the targets stay where they are).
    pub fn set_params(&mut self, params: LardParams) {
        self.params = params;
    }

    /// Forgets every target (e.g. after the pool changed a lot).
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// The node for a request for `target` at `now_ms`, or `None` if no
    /// member takes work (then the table is left alone).
    pub fn pick(&mut self, pool: &[Member], target: u64, now_ms: u64) -> Option<u16> {
        let least = least_loaded(pool)?;
        let params = self.params;
        let Some(e) = self.table.entry(target, now_ms) else {
            // No table: plain least-loaded.
            return Some(least.node);
        };
        let current = e.servers().first().and_then(|&n| usable(pool, n));
        match current {
            Some(n) if !params.should_move(pool, n) => Some(n.node),
            _ => {
                e.assign(least.node, now_ms);
                Some(least.node)
            }
        }
    }

    /// The server `target` is assigned to, if it is in the table.
    pub fn server(&self, target: u64) -> Option<u16> {
        self.table.find(target)?.servers().first().copied()
    }

    /// Targets in the table.
    pub fn targets(&self) -> usize {
        self.table.targets()
    }

    /// Entries of the table (0 without one).
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }
}

/// LARD/R: each target on a set of up to `R` servers, over a table of
/// `Entry<R>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LardR<T, const R: usize> {
    params: LardParams,
    table: TargetTable<T>,
}

impl<T, const R: usize> LardR<T, R> {
    /// No table yet: plain least-loaded until [`LardR::set_table`].
    pub const fn new(params: LardParams) -> Self {
        LardR {
            params,
            table: TargetTable(None),
        }
    }
}

impl<T: DerefMut<Target = [Entry<R>]>, const R: usize> LardR<T, R> {
    /// Over `table`, whose entries are all [`Entry::FREE`] (or targets
    /// kept from before).
    pub fn with_table(params: LardParams, table: T) -> Self {
        LardR {
            params,
            table: TargetTable(Some(table)),
        }
    }

    /// Uses `table` from now on (the targets of the old one are gone).
    pub fn set_table(&mut self, table: T) {
        self.table = TargetTable(Some(table));
    }

    /// The thresholds in use.
    pub fn params(&self) -> LardParams {
        self.params
    }

    /// Uses `params` from now on (the targets stay where they are).
    pub fn set_params(&mut self, params: LardParams) {
        self.params = params;
    }

    /// Forgets every target.
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// The node for a request for `target` at `now_ms`, or `None` if no
    /// member takes work (then the table is left alone).
    pub fn pick(&mut self, pool: &[Member], target: u64, now_ms: u64) -> Option<u16> {
        let least = least_loaded(pool)?;
        let params = self.params;
        let Some(e) = self.table.entry(target, now_ms) else {
            return Some(least.node);
        };
        let mut changed = e.retain_usable(pool);
        // R = 0 leaves no room for a set: plain least-loaded.
        if e.len == 0 && !e.push(least.node) {
            return Some(least.node);
        }

        // Least and most loaded members of the set, as indices into it;
        // on equal loads the first is the least and the last the most, so
        // that they differ whenever the set has two members.
        let load = |node: u16| usable(pool, node).map_or(u32::MAX, |m| m.load);
        let servers = e.servers();
        let mut lo = 0;
        let mut hi = servers.len().saturating_sub(1);
        for (i, &s) in servers.iter().enumerate() {
            let l = load(s);
            if servers.get(lo).map_or(true, |&x| l < load(x)) {
                lo = i;
            }
            if servers.get(hi).map_or(true, |&x| l > load(x)) {
                hi = i;
            }
        }
        let (Some(&n), Some(&m)) = (servers.get(lo), servers.get(hi)) else {
            return Some(least.node);
        };
        let mut pick = n;

        if usable(pool, n).is_some_and(|s| params.should_move(pool, s))
            && !servers.contains(&least.node)
        {
            pick = least.node;
            changed = true;
            if !e.push(least.node) {
                // Full: the newcomer replaces the most loaded member.
                if let Some(slot) = e.set.get_mut(hi) {
                    *slot = least.node;
                }
            }
        }
        let idle = now_ms.saturating_sub(e.last_change_ms) > params.k_ms;
        if e.len > 1 && idle {
            // Remove m unless it was just replaced or is the one we send to.
            if let Some(i) = e.servers().iter().position(|&s| s == m && s != pick) {
                e.remove(i);
                changed = true;
            }
        }
        if changed {
            e.last_change_ms = now_ms;
        }
        Some(pick)
    }

    /// The server set of `target` (empty if it is not in the table).
    pub fn servers(&self, target: u64) -> &[u16] {
        self.table.find(target).map_or(&[], Entry::servers)
    }

    /// Targets in the table.
    pub fn targets(&self) -> usize {
        self.table.targets()
    }

    /// Entries of the table (0 without one).
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }
}
