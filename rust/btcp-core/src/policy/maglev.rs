//! Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
//! Reliable Software Network Load Balancer", NSDI 2016, §3.4).
//!
//! A lookup table of prime size `M` maps `hash % M` to a node. Each member
//! derives, from two hashes of its node id, an `offset` in `0..M` and a
//! `skip` in `1..M`; its preference list is `offset, offset + skip,
//! offset + 2 skip, ... (mod M)`, a permutation of the slots because `M`
//! is prime. Members take turns claiming their next preferred free slot
//! until the table is full. Each member ends up with about `M / N` slots,
//! and when a member joins or leaves only about `1 / N` of the slots
//! change hands (a few more than that, unlike a hash ring, but the table
//! is balanced and a lookup is one array read).
//!
//! Weights: a member's turn comes at a rate proportional to its weight.
//! In every round each member adds its weight to a credit and claims one
//! slot when the credit reaches the largest weight in the pool (then pays
//! that much), so the heaviest member claims every round and the others
//! in proportion. Equal weights give the paper's plain round-robin.
//!
//! Only members that take work (up, weight > 0) populate the table;
//! repopulate after any change of state, weight or membership. The node
//! ids are hashed with a fixed public key: the table must come out the
//! same on every front-end, and nothing about it is secret. It depends on
//! the pool's order (who claims first), so keep that order stable, e.g.
//! sorted by node id, with new members appended.
//!
//! Sizes: the paper uses `M = 65537` ([`DEFAULT_SIZE`], 128 KiB of `u16`)
//! for up to a few hundred back-ends (`M` should be well above `100 N` to
//! keep the imbalance under a percent); small primes such as 251 or 4099
//! are fine for tests and tiny pools.
//!
//! ```
//! use btcp_core::policy::maglev::Maglev;
//! use btcp_core::policy::{target_hash, Member};
//!
//! let pool = [Member::new(1, 1), Member::new(2, 1), Member::new(3, 2)];
//! let mut storage = [0u16; 251];
//! let mut m: Maglev<_, 8> = Maglev::new(&mut storage[..]).unwrap();
//! assert_eq!(m.populate(&pool), Ok(3));
//! let node = m.lookup(target_hash(&[0; 16], None, b"/index.html")).unwrap();
//! assert!([1, 2, 3].contains(&node));
//! ```

use ::core::ops::DerefMut;

use super::super::isn::siphash24;
use super::Member;

/// The paper's table size: a prime above 65536.
pub const DEFAULT_SIZE: usize = 65537;

/// The fixed key for hashing node ids (see the module docs).
const NODE_KEY: [u8; 16] = *b"btcp maglev node";

/// Marks a free slot while populating (slots hold member indices then).
const FREE: u16 = u16::MAX;

/// Why a table could not be set up or populated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaglevError {
    /// The table's length is not a prime (or is above `u32::MAX`).
    NotPrime,
    /// More members take work than the capacity `N` (or 65535).
    TooManyMembers,
}

/// One member's progress through its preference list while populating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    node: u16,
    weight: u16,
    /// The next slot in this member's preference list.
    pos: u64,
    skip: u64,
    credit: u32,
}

impl Cursor {
    const EMPTY: Cursor = Cursor {
        node: 0,
        weight: 0,
        pos: 0,
        skip: 1,
        credit: 0,
    };

    /// Offset and skip from two independent hashes of the node id.
    fn new(m: &Member, size: u64) -> Cursor {
        let id = m.node.to_le_bytes();
        let [a, b] = id;
        let h1 = siphash24(&NODE_KEY, &[b'o', a, b]);
        let h2 = siphash24(&NODE_KEY, &[b's', a, b]);
        let offset = h1.checked_rem(size).unwrap_or(0);
        let skip = h2
            .checked_rem(size.saturating_sub(1))
            .unwrap_or(0)
            .saturating_add(1);
        Cursor {
            node: m.node,
            weight: m.weight,
            pos: offset,
            skip,
            credit: 0,
        }
    }

    /// The current slot; moves on to the next one in the preference list.
    fn advance(&mut self, size: u64) -> u64 {
        let here = self.pos;
        // pos, skip < size <= u32::MAX: the sum cannot overflow.
        let next = self.pos.saturating_add(self.skip);
        self.pos = if next >= size {
            next.saturating_sub(size)
        } else {
            next
        };
        here
    }
}

/// A Maglev lookup table in caller-provided storage `T` (a `&mut [u16]`,
/// `Vec<u16>`, `Box<[u16]>`, ...) of prime length, for pools of at most
/// `N` members that take work.
///
/// The struct itself holds `N` cursors of 32 bytes for populating; the
/// table is wherever `T` keeps it.
#[derive(Debug, Clone)]
pub struct Maglev<T, const N: usize> {
    table: T,
    cursors: [Cursor; N],
    /// Members in the table; 0 means lookups give `None`.
    members: usize,
}

impl<T: DerefMut<Target = [u16]>, const N: usize> Maglev<T, N> {
    /// An empty table (every lookup `None`) over `table`.
    ///
    /// # Errors
    ///
    /// [`MaglevError::NotPrime`] if the length is not a prime of at most
    /// `u32::MAX`.
    pub fn new(table: T) -> Result<Self, MaglevError> {
        let len = u64::try_from(table.len()).map_err(|_| MaglevError::NotPrime)?;
        if len > u64::from(u32::MAX) || !is_prime(len) {
            return Err(MaglevError::NotPrime);
        }
        Ok(Maglev {
            table,
            cursors: [Cursor::EMPTY; N],
            members: 0,
        })
    }

    /// Fills the table from the members of `pool` that take work and
    /// returns how many there are. With none, lookups give `None`.
    ///
    /// Takes `O(M · N)` steps at worst (very uneven weights), `O(M log M)`
    /// with equal ones: do it when the pool changes, not per connection.
    ///
    /// # Errors
    ///
    /// [`MaglevError::TooManyMembers`]; the table is left as it was.
    pub fn populate(&mut self, pool: &[Member]) -> Result<usize, MaglevError> {
        let size = u64::try_from(self.table.len()).map_err(|_| MaglevError::NotPrime)?;
        let count = pool.iter().filter(|m| m.takes_work()).count();
        if count > N || count >= usize::from(FREE) {
            return Err(MaglevError::TooManyMembers);
        }
        for (c, m) in self
            .cursors
            .iter_mut()
            .zip(pool.iter().filter(|m| m.takes_work()))
        {
            *c = Cursor::new(m, size);
        }
        self.members = count;
        let cursors = self.cursors.get_mut(..count).unwrap_or(&mut []);
        let max_weight = cursors.iter().map(|c| c.weight).max().unwrap_or(0);
        if max_weight == 0 {
            return Ok(0);
        }

        self.table.fill(FREE);
        let mut filled: u64 = 0;
        // The heaviest member claims a slot every round, so `size` rounds
        // always fill the table.
        'rounds: for _ in 0..size {
            for (i, c) in cursors.iter_mut().enumerate() {
                c.credit = c.credit.saturating_add(u32::from(c.weight));
                if c.credit < u32::from(max_weight) {
                    continue;
                }
                c.credit = c.credit.saturating_sub(u32::from(max_weight));
                // A preference list visits every slot within `size` steps,
                // and one is still free.
                for _ in 0..size {
                    let slot = usize::try_from(c.advance(size)).unwrap_or(usize::MAX);
                    if let Some(s) = self.table.get_mut(slot).filter(|s| **s == FREE) {
                        // i < count < FREE: fits.
                        *s = u16::try_from(i).unwrap_or(FREE);
                        filled = filled.saturating_add(1);
                        break;
                    }
                }
                if filled >= size {
                    break 'rounds;
                }
            }
        }

        // Member indices to node ids (the first member for any slot left
        // free, which the loop above rules out).
        let first = cursors.first().map_or(0, |c| c.node);
        for s in self.table.iter_mut() {
            *s = cursors.get(usize::from(*s)).map_or(first, |c| c.node);
        }
        Ok(count)
    }

    /// The node for a target hash, or `None` if the table is empty.
    pub fn lookup(&self, hash: u64) -> Option<u16> {
        if self.members == 0 {
            return None;
        }
        let size = u64::try_from(self.table.len()).ok()?;
        let slot = usize::try_from(hash.checked_rem(size)?).ok()?;
        self.table.get(slot).copied()
    }

    /// Members in the table at the last [`Maglev::populate`].
    pub fn members(&self) -> usize {
        self.members
    }

    /// The table: slot -> node id (meaningless while
    /// [`Maglev::members`] is 0).
    pub fn table(&self) -> &[u16] {
        &self.table
    }

    /// Gives the storage back.
    pub fn into_inner(self) -> T {
        self.table
    }
}

/// Whether `n` is prime, by trial division (at most 65536 steps for
/// `n <= u32::MAX`).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d: u64 = 2;
    while d.saturating_mul(d) <= n {
        if n.checked_rem(d) == Some(0) {
            return false;
        }
        d = d.saturating_add(1);
    }
    true
}
