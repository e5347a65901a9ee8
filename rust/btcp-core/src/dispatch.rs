//! Dispatch: which node gets a new connection, from the configuration's
//! rules, pools and node states and the shell's view of liveness and load.
//!
//! [`Dispatcher::pick`] goes down this list and stops at the first node it
//! finds:
//!
//! 1. the target of the first rule that matches the request (see
//!    `rules.rs`), or the default target when none matches or the request
//!    did not parse;
//! 2. the default target, if step 1 used a rule's;
//! 3. any node (this one or a peer), by least load per unit of weight.
//!
//! A target is a node id (a one-node pool) or a pool; a pool's policy
//! ([`Policy`]) picks among its members. At every step only *eligible*
//! nodes are considered: configured (this node or a peer), in state up
//! (drain and down nodes never get new work), usable (the shell's
//! liveness: this node, or a peer whose control channel is up) and not
//! yet tried by this flow (a node that refused it). `None` means no node
//! is eligible: the shell abandons the flow.
//!
//! Load is what the shell's `loads` says for a node. The kernel module
//! gives the larger of the connections this front-end has handed to it
//! and not yet seen closed, and the connections the node serves for all
//! front-ends as its last heartbeat said (at most a second old). It feeds
//! LARD, LARD/R and least-connections (and step 3).
//!
//! Policies (the algorithms are in `policy/`):
//! - `lard`, `lard-r`: LARD and LARD/R with the pool's thresholds (by
//!   default the paper's, [`LardParams::DEFAULT`]: `T_low` 25, `T_high` 65
//!   connections, `K` 20 s) and sets of up to [`LARD_SET`] members. All
//!   LARD pools share one target table, all LARD/R pools another, both
//!   the caller's ([`Dispatcher::set_target_tables`], sized to the working
//!   set; without them LARD is least-loaded). Each target hash is salted
//!   with the pool's name, so pools do not share targets; a table full of
//!   other targets evicts per 4-way bucket, least recently used first.
//! - `maglev`: Maglev consistent hashing over a table of [`MAGLEV_SIZE`]
//!   slots per pool (a prime; 17 members of equal weight hold 14 or 15
//!   each, so shares are honoured to within a slot or so). The table is
//!   built from the members that are up and usable, and rebuilt (at the
//!   next pick) when that set or a weight changes. A target whose node
//!   refused this flow is looked up again with up to [`MAGLEV_PROBES`]
//!   rehashes, then goes to the least loaded eligible member.
//! - `wrr`: smooth weighted round-robin; counters are reset when the pool's
//!   membership, weights or states change.
//! - `least-conn`: least load per unit of weight.
//!
//! The target hash (LARD, Maglev) is SipHash-2-4 of the request's host
//! (port stripped, case-folded) and path (without the query), keyed with
//! a key derived from the cluster key, so every front-end of a cluster
//! hashes alike and clients cannot aim targets at one node without the
//! key. Without a cluster key the hash key is all zeros.
//!
//! # Sizes, and the kernel
//!
//! A [`Dispatcher`] is 10,192 bytes on x86-64 ([`Dispatcher::SIZE`], for
//! a `Vec`-like `T`): per pool slot, a Maglev table with its populating
//! cursors and the WRR counters (1.3 KiB each). Allocate it once per
//! namespace (`KBox`: one order-2 allocation) from [`Dispatcher::new`], a
//! `const fn` whose value the compiler copies from a constant rather than
//! building it on the stack, and give it the LARD tables (40 bytes an
//! entry, allocated by the caller: any size, e.g. from a module
//! parameter). Call [`Dispatcher::configure`] after every configuration
//! change, in process context: it forgets pools that are gone, resets the
//! state of pools that changed, keeps the others', and sets up Maglev
//! storage (a 1 KiB temporary) so that [`Dispatcher::pick`] never does.
//! `pick` itself re-syncs a pool whose configuration changed without
//! `configure`, so a forgotten call costs state, never correctness.
//! Nothing allocates or panics; `pick` needs about 1 KiB of stack (2.3
//! KiB if it has to set up a Maglev table that `configure` did not).
//!
//! ```
//! use btcp_core::config::NodeConfig;
//! use btcp_core::dispatch::{Dispatcher, Via};
//! use btcp_core::http::DEFAULT_HEAD_LIMIT;
//! use btcp_core::rules::Request;
//!
//! let cfg = NodeConfig::parse(
//!     b"node 1 10.0.0.1\npeer 2 10.0.0.2\npeer 3 10.0.0.3 state drain\n\
//!       pool img policy wrr nodes 2,3\nrules *.jpg=img,default=1\n",
//! )
//! .unwrap();
//! let mut d: Box<Dispatcher<Vec<_>>> = Box::new(Dispatcher::new());
//! d.configure(&cfg);
//! let req = Request::parse(b"GET /a.jpg HTTP/1.1\r\nHost: h\r\n\r\n", DEFAULT_HEAD_LIMIT);
//! let pick = d.pick(&cfg, &req, |_| 0, |_| true, &[], 0).unwrap();
//! assert_eq!((pick.node, pick.via), (2, Via::Rule(0))); // 3 drains
//! // After node 2 refused it: not the draining 3, the default.
//! let pick = d.pick(&cfg, &req, |_| 0, |_| true, &[2], 0).unwrap();
//! assert_eq!((pick.node, pick.via), (1, Via::Default));
//! ```

use ::core::ops::{Deref, DerefMut};

use super::config::{NodeConfig, Policy, Pool, MAX_POOLS, MAX_POOL_MEMBERS};
use super::isn::siphash24;
use super::policy::lard::{Entry, Lard, LardParams, LardR};
use super::policy::maglev::Maglev;
use super::policy::wrr::SmoothWrr;
use super::policy::{least_conn, target_hash, Member, MemberState};
use super::rules::{PoolName, Request, Target};

/// Slots of each pool's Maglev table (a prime).
pub const MAGLEV_SIZE: usize = 251;
/// Most members of a LARD/R target's server set.
pub const LARD_SET: usize = 4;
/// Rehashes a Maglev pool tries when a target's node refused this flow.
pub const MAGLEV_PROBES: u64 = 4;

const N: usize = MAX_POOL_MEMBERS;

/// Where a pick came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The target of the rule with this index.
    Rule(usize),
    /// The default target (no rule matched, or the rule's target had no
    /// eligible node).
    Default,
    /// Neither had an eligible node: any node.
    Any,
}

/// A node for a new connection, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pick {
    /// The node's id.
    pub node: u16,
    /// How it was found.
    pub via: Via,
}

impl Pick {
    /// The pool whose policy picked the node, if a pool did.
    pub fn pool(&self, cfg: &NodeConfig) -> Option<PoolName> {
        let target = match self.via {
            Via::Rule(i) => cfg.rules.rules().get(i)?.target(),
            Via::Default => cfg.rules.default_target(),
            Via::Any => return None,
        };
        target.pool().copied()
    }
}

/// A Maglev table stored inline.
#[derive(Debug, Clone)]
struct Table([u16; MAGLEV_SIZE]);

impl Deref for Table {
    type Target = [u16];
    fn deref(&self) -> &[u16] {
        &self.0
    }
}

impl DerefMut for Table {
    fn deref_mut(&mut self) -> &mut [u16] {
        &mut self.0
    }
}

/// A pool's configuration as far as its policy state depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    policy: Policy,
    len: usize,
    ids: [u16; N],
    weights: [u16; N],
    states: [MemberState; N],
}

impl Shape {
    const EMPTY: Shape = Shape {
        policy: Policy::LeastConn,
        len: 0,
        ids: [0; N],
        weights: [0; N],
        states: [MemberState::Down; N],
    };

    fn of(cfg: &NodeConfig, pool: &Pool) -> Shape {
        let mut s = Shape::EMPTY;
        s.policy = pool.policy;
        for (i, &id) in pool.members().iter().enumerate().take(N) {
            let node = cfg.node_by_id(id);
            if let (Some(a), Some(b), Some(c)) =
                (s.ids.get_mut(i), s.weights.get_mut(i), s.states.get_mut(i))
            {
                *a = id;
                *b = node.map_or(0, |n| n.weight);
                *c = node.map_or(MemberState::Down, |n| n.state);
            }
            s.len = i.saturating_add(1);
        }
        s
    }
}

/// The policy state of one pool.
#[derive(Debug, Clone)]
struct Slot {
    /// The pool it belongs to; `None`: free.
    name: Option<PoolName>,
    shape: Shape,
    wrr: SmoothWrr<N>,
    /// Set up by `configure` (or the first pick) for Maglev pools.
    maglev: Option<Maglev<Table, N>>,
    /// The members (id, weight) the Maglev table holds; `None`: not
    /// populated.
    maglev_len: Option<usize>,
    maglev_ids: [u16; N],
    maglev_weights: [u16; N],
}

impl Slot {
    const FREE: Slot = Slot {
        name: None,
        shape: Shape::EMPTY,
        wrr: SmoothWrr::new(),
        maglev: None,
        maglev_len: None,
        maglev_ids: [0; N],
        maglev_weights: [0; N],
    };

    fn reset(&mut self, name: PoolName, shape: Shape) {
        self.name = Some(name);
        self.shape = shape;
        self.wrr.reset();
        self.maglev_len = None;
    }

    fn free(&mut self) {
        self.name = None;
        self.maglev_len = None;
    }

    fn setup_maglev(&mut self) {
        if self.maglev.is_none() {
            self.maglev = Maglev::new(Table([0; MAGLEV_SIZE])).ok();
        }
    }

    /// Maglev over `members` (eligible ones up); `live[i]`: member `i` is
    /// up and usable, whether or not this flow tried it.
    fn maglev_pick(&mut self, members: &[Member], live: &[bool], hash: u64) -> Option<u16> {
        // The table holds the live members, whatever this flow tried.
        let mut pop = [Member::new(0, 0); N];
        let mut n = 0usize;
        for (m, _) in members.iter().zip(live).filter(|(_, &l)| l) {
            if let Some(p) = pop.get_mut(n) {
                *p = Member {
                    state: MemberState::Up,
                    ..*m
                };
                n = n.saturating_add(1);
            }
        }
        let pop = pop.get(..n).unwrap_or(&[]);
        let same = self.maglev_len == Some(n)
            && pop
                .iter()
                .zip(&self.maglev_ids)
                .all(|(m, id)| m.node == *id)
            && pop
                .iter()
                .zip(&self.maglev_weights)
                .all(|(m, w)| m.weight == *w);
        if !same {
            self.setup_maglev();
            let table = self.maglev.as_mut()?;
            table.populate(pop).ok()?;
            for ((m, id), w) in pop
                .iter()
                .zip(self.maglev_ids.iter_mut())
                .zip(self.maglev_weights.iter_mut())
            {
                *id = m.node;
                *w = m.weight;
            }
            self.maglev_len = Some(n);
        }
        let table = self.maglev.as_ref()?;
        let eligible = |node: u16| members.iter().any(|m| m.node == node && m.takes_work());
        for probe in 0..=MAGLEV_PROBES {
            if let Some(node) = table.lookup(rehash(hash, probe)).filter(|&n| eligible(n)) {
                return Some(node);
            }
        }
        least_conn(members)
    }
}

/// `hash` for probe 0, a well-mixed variant of it for the others.
fn rehash(hash: u64, probe: u64) -> u64 {
    if probe == 0 {
        return hash;
    }
    // SplitMix64's finaliser over hash + probe * golden ratio.
    let mut z = hash.wrapping_add(probe.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a pick needs besides the dispatcher's own state.
struct Ctx<'c, L, U> {
    cfg: &'c NodeConfig,
    loads: L,
    usable: U,
    tried: &'c [u16],
    now_ms: u64,
    hash: u64,
    key: [u8; 16],
}

impl<L: Fn(u16) -> u32, U: Fn(u16) -> bool> Ctx<'_, L, U> {
    /// Node `id` as a policy member (up only if eligible), and whether it
    /// is live (up and usable, tried or not).
    fn member(&self, id: u16) -> (Member, bool) {
        let Some(node) = self.cfg.node_by_id(id) else {
            return (
                Member {
                    node: id,
                    weight: 0,
                    state: MemberState::Down,
                    load: 0,
                },
                false,
            );
        };
        let live = node.state == MemberState::Up && (self.usable)(id);
        let eligible = live && !self.tried.contains(&id);
        let state = match node.state {
            MemberState::Up if !eligible => MemberState::Down,
            s => s,
        };
        let m = Member {
            node: id,
            weight: node.weight,
            state,
            load: (self.loads)(id),
        };
        (m, live)
    }

    /// The target hash salted with a pool's name.
    fn salted(&self, name: &PoolName) -> u64 {
        self.hash ^ siphash24(&self.key, name.as_bytes())
    }
}

/// An entry of the LARD and LARD/R target tables the caller gives a
/// [`Dispatcher`] ([`Dispatcher::set_target_tables`]).
pub type TargetEntry = Entry<LARD_SET>;

/// Per-pool policy state for a node's configuration (see the module
/// docs); `T` holds a LARD target table.
#[derive(Debug, Clone)]
pub struct Dispatcher<T> {
    slots: [Slot; MAX_POOLS],
    lard: Lard<T, LARD_SET>,
    lard_r: LardR<T, LARD_SET>,
}

impl<T> Default for Dispatcher<T> {
    fn default() -> Self {
        Dispatcher::new()
    }
}

impl<T> Dispatcher<T> {
    /// Its size in bytes (10,192 on x86-64 for a `T` of three words).
    pub const SIZE: usize = ::core::mem::size_of::<Dispatcher<T>>();

    /// No pools known yet, and no LARD tables (LARD is least-loaded
    /// until [`Dispatcher::set_target_tables`]).
    ///
    /// Always inlined, as a copy of [`Dispatcher::EMPTY`], so that
    /// `KBox::new(Dispatcher::new(), ..)` compiles to a copy from the
    /// constant into the allocation, not a 10 KiB value on the stack.
    #[inline(always)]
    pub const fn new() -> Dispatcher<T> {
        Self::EMPTY
    }

    /// No pools known yet, as a constant (see [`Dispatcher::new`]).
    pub const EMPTY: Dispatcher<T> = Dispatcher {
        slots: [Slot::FREE; MAX_POOLS],
        lard: Lard::new(LardParams::DEFAULT),
        lard_r: LardR::new(LardParams::DEFAULT),
    };
}

impl<T: DerefMut<Target = [TargetEntry]>> Dispatcher<T> {
    /// Gives LARD and LARD/R their target tables (each all
    /// [`Entry::FREE`]; sized to hold the working set: see
    /// `policy::lard`), forgetting the targets of any earlier ones.
    pub fn set_target_tables(&mut self, lard: T, lard_r: T) {
        self.lard.set_table(lard);
        self.lard_r.set_table(lard_r);
    }

    /// The entries of the LARD and LARD/R tables.
    pub fn target_capacity(&self) -> (usize, usize) {
        (self.lard.capacity(), self.lard_r.capacity())
    }

    /// Follows a new configuration: forgets the state of pools that are
    /// gone, resets that of pools whose policy, members, weights or states
    /// changed, keeps the rest, and sets up Maglev storage. LARD targets
    /// of changed pools are not forgotten: members that left or stopped
    /// taking work are dropped from them when the target is next seen.
    pub fn configure(&mut self, cfg: &NodeConfig) {
        for s in self.slots.iter_mut() {
            if s.name.map_or(true, |n| cfg.pool(&n).is_none()) {
                s.free();
            }
        }
        for pool in cfg.pools() {
            if let Some(slot) = self.sync(cfg, pool).and_then(|i| self.slots.get_mut(i)) {
                if pool.policy == Policy::Maglev {
                    slot.setup_maglev();
                }
            }
        }
    }

    /// Forgets all state: every pool and every LARD target.
    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            s.free();
            s.wrr.reset();
        }
        self.lard.clear();
        self.lard_r.clear();
    }

    /// The node for a new connection carrying `req`, or `None` if no node
    /// is eligible (see the module docs for the order).
    ///
    /// - `cfg`: the configuration (rules, pools, node weights and states).
    /// - `loads(id)`: node `id`'s load (handed-off connections still open,
    ///   plus its reported load if the caller adds it).
    /// - `usable(id)`: whether node `id` can take a handoff now (this node;
    ///   a peer whose control channel is up).
    /// - `tried`: nodes that refused this flow already.
    /// - `now_ms`: a monotonic clock, for LARD/R's timer.
    ///
    /// The caller counts the handoff in the chosen node's load.
    pub fn pick(
        &mut self,
        cfg: &NodeConfig,
        req: &Request<'_>,
        loads: impl Fn(u16) -> u32,
        usable: impl Fn(u16) -> bool,
        tried: &[u16],
        now_ms: u64,
    ) -> Option<Pick> {
        let key = hash_key(cfg);
        // A TLS connection's target is its server name.
        let hash = match req.head() {
            Some(h) => target_hash(&key, h.hostname(), h.path),
            None => target_hash(&key, req.server_name(), b""),
        };
        let ctx = Ctx {
            cfg,
            loads,
            usable,
            tried,
            now_ms,
            hash,
            key,
        };
        let default = cfg.rules.default_target();
        let hit = cfg.rules.lookup_request(req);
        if let Some((i, rule)) = hit {
            if let Some(node) = self.pick_target(&ctx, rule.target()) {
                return Some(Pick {
                    node,
                    via: Via::Rule(i),
                });
            }
        }
        if hit.map_or(true, |(_, r)| r.target() != default) {
            if let Some(node) = self.pick_target(&ctx, default) {
                return Some(Pick {
                    node,
                    via: Via::Default,
                });
            }
        }
        let mut all = [Member::new(0, 0); N];
        let mut n = 0usize;
        for (slot, node) in all.iter_mut().zip(cfg.nodes()) {
            *slot = ctx.member(node.id).0;
            n = n.saturating_add(1);
        }
        least_conn(all.get(..n).unwrap_or(&[])).map(|node| Pick {
            node,
            via: Via::Any,
        })
    }

    fn pick_target<L: Fn(u16) -> u32, U: Fn(u16) -> bool>(
        &mut self,
        ctx: &Ctx<'_, L, U>,
        target: Target,
    ) -> Option<u16> {
        match target {
            Target::Node(id) => {
                let (m, _) = ctx.member(id);
                m.takes_work().then_some(id)
            }
            Target::Pool(name) => {
                let pool = ctx.cfg.pool(&name)?;
                self.pick_pool(ctx, pool)
            }
        }
    }

    fn pick_pool<L: Fn(u16) -> u32, U: Fn(u16) -> bool>(
        &mut self,
        ctx: &Ctx<'_, L, U>,
        pool: &Pool,
    ) -> Option<u16> {
        let mut members = [Member::new(0, 0); N];
        let mut live = [false; N];
        let mut n = 0usize;
        for ((m, l), &id) in members.iter_mut().zip(live.iter_mut()).zip(pool.members()) {
            (*m, *l) = ctx.member(id);
            n = n.saturating_add(1);
        }
        let members = members.get(..n).unwrap_or(&[]);
        if !members.iter().any(Member::takes_work) {
            return None;
        }
        let Some(slot) = self.sync(ctx.cfg, pool).and_then(|i| self.slots.get_mut(i)) else {
            return least_conn(members);
        };
        match pool.policy {
            Policy::LeastConn => least_conn(members),
            Policy::Wrr => slot.wrr.pick(members),
            Policy::Lard => {
                self.lard.set_params(pool.lard);
                self.lard.pick(members, ctx.salted(&pool.name), ctx.now_ms)
            }
            Policy::LardR => {
                self.lard_r.set_params(pool.lard);
                self.lard_r
                    .pick(members, ctx.salted(&pool.name), ctx.now_ms)
            }
            Policy::Maglev => slot.maglev_pick(members, live.get(..n).unwrap_or(&[]), ctx.hash),
        }
    }

    /// The slot of `pool`, reset if the pool changed; a free or stale slot
    /// for a pool not seen before.
    fn sync(&mut self, cfg: &NodeConfig, pool: &Pool) -> Option<usize> {
        let shape = Shape::of(cfg, pool);
        if let Some(i) = self.slots.iter().position(|s| s.name == Some(pool.name)) {
            let s = self.slots.get_mut(i)?;
            if s.shape != shape {
                s.reset(pool.name, shape);
            }
            return Some(i);
        }
        // Free, or holding a pool the configuration no longer has: with at
        // most MAX_POOLS pools configured, there is one.
        let i = self
            .slots
            .iter()
            .position(|s| s.name.map_or(true, |n| cfg.pool(&n).is_none()))?;
        self.slots.get_mut(i)?.reset(pool.name, shape);
        Some(i)
    }
}

/// The target hash key: derived from the cluster key (all zeros without
/// one), the same on every node of the cluster.
fn hash_key(cfg: &NodeConfig) -> [u8; 16] {
    let Some(k) = cfg.key else { return [0; 16] };
    let mut k0 = [0u8; 16];
    let mut msg = [0u8; 17];
    if let (Some(a), Some(b), Some(m)) = (k.get(..16), k.get(16..), msg.get_mut(..16)) {
        k0.copy_from_slice(a);
        m.copy_from_slice(b);
    }
    let mut out = [0u8; 16];
    for (label, half) in [(1u8, 0usize), (2, 8)] {
        if let Some(l) = msg.get_mut(16) {
            *l = label;
        }
        let h = siphash24(&k0, &msg);
        if let Some(dst) = out.get_mut(half..half.saturating_add(8)) {
            dst.copy_from_slice(&h.to_le_bytes());
        }
    }
    out
}
