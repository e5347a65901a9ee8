//! Dispatch policies: which member of a server pool gets a new connection.
//!
//! Every policy here is a pure function or a small state machine over a
//! caller-owned pool. Nothing allocates, reads a clock or panics: tables
//! and per-member state live in caller-provided storage (fixed-capacity
//! arrays sized by const generics, or a slice the caller owns), and time
//! comes in as milliseconds.
//!
//! The common model is a pool of [`Member`]s: a node id, a weight, a state
//! ([`MemberState`]) and a load (the connections this front-end has handed
//! to the node and not yet seen closed, optionally plus what the node
//! reports). Only members that [`Member::takes_work`] (up, weight > 0) get
//! new work; a pick returns the chosen node id, or `None` when no member
//! can take it. The caller bumps the chosen member's load when it hands
//! the connection off; the policies only read it.
//!
//! - [`lard`]: LARD and LARD/R (Pai et al., ASPLOS 1998) — content-aware,
//!   keeps a target on one server (or a small set) while load allows.
//! - [`maglev`]: Maglev consistent hashing (Eisenbud et al., NSDI 2016) —
//!   a target maps to one node; few targets move when the pool changes.
//! - [`wrr`]: smooth weighted round-robin, as in nginx.
//! - [`least_conn`]: least load per unit of weight.
//!
//! Content-aware policies key on a target hash: [`target_hash`] of the
//! request's host and path.
//!
//! ```
//! use btcp_core::policy::{least_conn, target_hash, Member, MemberState};
//!
//! let mut pool = [Member::new(1, 1), Member::new(2, 2), Member::new(3, 1)];
//! pool[0].load = 3;
//! pool[1].load = 4; // 4/2 = 2 per unit of weight: the least
//! pool[2].state = MemberState::Down;
//! assert_eq!(least_conn(&pool), Some(2));
//!
//! let key = [7u8; 16];
//! let h = target_hash(&key, Some(&b"Example.COM"[..]), b"/img/a.jpg");
//! assert_eq!(h, target_hash(&key, Some(&b"example.com"[..]), b"/img/a.jpg"));
//! ```

use super::isn::siphash24;

pub mod lard;
pub mod least_conn;
pub mod maglev;
pub mod wrr;

pub use lard::{Lard, LardParams, LardR};
pub use least_conn::least_conn;
pub use maglev::Maglev;
pub use wrr::SmoothWrr;

/// Whether a member gets new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Takes new connections.
    Up,
    /// Keeps its connections but gets no new ones.
    Drain,
    /// Gets nothing (failed or removed by the operator).
    Down,
}

/// One member of a server pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    /// The back-end's node id.
    pub node: u16,
    /// Relative capacity; 0 means no new work, like [`MemberState::Drain`].
    pub weight: u16,
    /// Up, draining or down.
    pub state: MemberState,
    /// Active handed-off connections as known at the front-end,
    /// optionally plus the back-end's reported load.
    pub load: u32,
}

impl Member {
    /// An up member with no load.
    pub const fn new(node: u16, weight: u16) -> Member {
        Member {
            node,
            weight,
            state: MemberState::Up,
            load: 0,
        }
    }

    /// Whether this member may get a new connection: up, with a weight.
    pub fn takes_work(&self) -> bool {
        self.state == MemberState::Up && self.weight > 0
    }
}

/// The member with node id `node`, if it is in the pool and takes work.
fn usable(pool: &[Member], node: u16) -> Option<&Member> {
    pool.iter().find(|m| m.node == node && m.takes_work())
}

/// The least-loaded member that takes work; ties go to the first in pool
/// order, so picks are reproducible.
fn least_loaded(pool: &[Member]) -> Option<&Member> {
    pool.iter()
        .filter(|m| m.takes_work())
        .fold(None, |best: Option<&Member>, m| match best {
            Some(b) if b.load <= m.load => Some(b),
            _ => Some(m),
        })
}

/// The hash of a request's target: its path, or its host and path.
///
/// Keyed SipHash-2-4, so clients cannot aim many targets at one server
/// without knowing `key`; every front-end of a cluster should use the
/// same key so that they agree. The host (port stripped) is compared
/// ASCII case-insensitively, as the rule table does; `None` and an empty
/// host hash alike. The path is hashed as given (the caller decides
/// whether the query is part of it).
pub fn target_hash(key: &[u8; 16], host: Option<&[u8]>, path: &[u8]) -> u64 {
    let mut k = *key;
    // Fold the lowercased host into the key used for the path, a chunk at
    // a time: no allocation and no length limit.
    let mut buf = [0u8; 64];
    for chunk in host.unwrap_or(&[]).chunks(buf.len()) {
        let Some(lower) = buf.get_mut(..chunk.len()) else {
            break;
        };
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        let h = siphash24(&k, lower);
        k.split_at_mut(8).0.copy_from_slice(&h.to_le_bytes());
    }
    siphash24(&k, path)
}
