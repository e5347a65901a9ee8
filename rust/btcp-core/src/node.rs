//! One node of a cluster in one network namespace, without I/O: its
//! front-end and back-end flows, where a handoff goes
//! (this node or a peer, decided once, in [`Target::resolve`]), the load
//! it has handed to each node, and its timers. Like quinn-proto's
//! `Endpoint`: the shell reads headers and calls the node with packets,
//! messages and time; the node runs the machines (`frontend`, `backend`)
//! and tells the shell what to do through [`Io`] (transmit, inject into
//! the local stack, send a message, end a TIME-WAIT socket). The kernel
//! module and the simulated network of the host tests drive this same
//! code.
//!
//! The node allocates nothing: the shell supplies the flow tables and
//! their buffers ([`FlowStore`]) and the boxes for the configuration and
//! the dispatcher ([`Store`]).
//!
//! A namespace may run several nodes side by side, each a shard of its
//! flows under its own lock (the kernel does, see [`super::shard`]): a
//! connection's packets and messages all go to the shard of its client
//! endpoint, and what every shard must see alike, the load-balancing
//! state ([`Balance`]), they share through [`Shared`]. A back-end's message names the front-end
//! flow by its connection and id ([`FlowRef`]), so a flow is found by the
//! one lookup every table has.
//!
//! A handoff to this node itself (a local handoff) never leaves the node:
//! the front-end's HANDOFF_REQ goes straight to its own back-end side, and
//! that side's answers straight back.

use super::backend::{BeFlow, BeOutput, BeState};
use super::bytes::as_usize;
use super::client_limit::ClientCounts;
use super::config::{NodeConfig, MAX_PEERS, MAX_SERVICES};
use super::dispatch::{Dispatcher, TargetEntry};
use super::encap::Encap;
use super::flow::{Config, Endpoint, FlowKey, Verdict};
use super::frontend::{FeFlow, FeOutput, FeState, Target};
use super::health::Unfit;
use super::http::DEFAULT_HEAD_LIMIT;
use super::isn::IsnSecret;
use super::metrics::Event;
use super::rules::{Request, Target as RuleTarget};
use super::segment::{OutSegment, Seg};
use super::shard;
use super::syncookie::{self, CookieKeys, CookieMode};
use super::table::Occupancy;
use super::tcp::Flags;
use super::tls::parse_client_hello;
use super::wire::{
    FlowRef, HandoffDecision, HandoffMore, HandoffNack, HandoffReq, Message, MoveRelease, MsgType,
    NackReason,
};
use super::xlate::Edits;
use core::ops::{Deref, DerefMut};

pub mod failover;

/// What a table needs to know of a flow's machine.
pub trait Machine {
    /// The flow's key in its table.
    fn key(&self) -> FlowKey;
    /// Whether the flow is over and only lingers.
    fn lingers(&self) -> bool;
    /// When the machine next has something to do on its own.
    fn deadline(&self, cfg: &Config) -> u64;
    /// Whether it still needs its request bytes.
    fn needs_buf(&self) -> bool;
}

impl Machine for FeFlow {
    fn key(&self) -> FlowKey {
        FeFlow::key(self)
    }
    fn lingers(&self) -> bool {
        self.state() == FeState::Linger
    }
    fn deadline(&self, cfg: &Config) -> u64 {
        self.next_deadline(cfg)
    }
    fn needs_buf(&self) -> bool {
        self.holds_request()
    }
}

impl Machine for BeFlow {
    fn key(&self) -> FlowKey {
        BeFlow::key(self)
    }
    fn lingers(&self) -> bool {
        self.state() == BeState::Linger
    }
    fn deadline(&self, cfg: &Config) -> u64 {
        self.next_deadline(cfg)
    }
    fn needs_buf(&self) -> bool {
        !self.replay_done()
    }
}

/// A new flow could not be admitted: every slot of its table is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// One table of flows with their request bytes, supplied by the shell.
/// Only live flows count against its limit (`table::Occupancy`); the
/// table orders lingering flows by age and keeps each flow's deadline
/// where a timer run finds it without walking every flow.
pub trait FlowStore<F: Machine> {
    /// A flow's request bytes.
    type Buf: DerefMut<Target = [u8]> + Default;
    /// The flow on `key`.
    fn peek(&self, key: &FlowKey) -> Option<&F>;
    /// The flow on `key` and its request bytes.
    fn get(&mut self, key: &FlowKey) -> Option<(&mut F, &mut [u8])>;
    /// Grows `key`'s buffer to at least `need` bytes; `false` if it cannot
    /// (the memory for request bytes is used up).
    fn grow(&mut self, key: &FlowKey, need: usize) -> bool;
    /// A new buffer of `len` bytes.
    fn buffer(&mut self, len: usize) -> Option<Self::Buf>;
    /// Makes room for one more flow: `Ok(Some(flow))` when the flow that
    /// lingered longest had to go.
    fn make_room(&mut self) -> Result<Option<F>, Full>;
    /// Inserts a live flow (after [`FlowStore::make_room`]); `false`: out
    /// of memory.
    fn insert(&mut self, flow: F, buf: Self::Buf) -> bool;
    /// Removes a flow, live or lingering.
    fn remove(&mut self, key: &FlowKey) -> Option<F>;
    /// After a machine ran on `key`: schedules its deadline, moves it to
    /// the lingering flows if it started to linger, and frees its buffer
    /// if it no longer needs it ([`Machine::needs_buf`]).
    fn settle(&mut self, key: &FlowKey, cfg: &Config);
    /// Collects the flows whose deadline has passed at `now`, for
    /// [`FlowStore::pop_due`].
    fn collect_due(&mut self, now: u64, cfg: &Config);
    /// The next flow collected as due.
    fn pop_due(&mut self) -> Option<FlowKey>;
    /// The first key after `after` (the first of all with `None`) in
    /// the table's order: a walk over every flow, a step at a time.
    fn next_key(&mut self, after: Option<&FlowKey>) -> Option<FlowKey>;
    /// Its flows, live and lingering.
    fn occupancy(&self) -> Occupancy;
    /// Its limit of live flows.
    fn max(&self) -> usize;
}

/// The storage the shell supplies to a node.
pub trait Store {
    /// The front-end flows.
    type Fe: FlowStore<FeFlow>;
    /// The back-end flows.
    type Be: FlowStore<BeFlow>;
    /// A box for the configuration (it is large, and replaced whole).
    type Config: Deref<Target = NodeConfig>;
    /// A LARD target table (an array the shell allocates, sized to the
    /// working set).
    type Targets: DerefMut<Target = [TargetEntry]>;
    /// A box for the pools' policy state.
    type Dispatcher: DerefMut<Target = Dispatcher<Self::Targets>>;
    /// The load-balancing state, shared with the namespace's other shards.
    type Balance: Shared<Self::Dispatcher>;
    /// The namespace's per-client flow counts, shared with its other
    /// shards (atomics: no lock).
    type Clients: Deref<Target = ClientCounts>;
}

/// The load-balancing state every shard of a namespace's node shares:
/// the pools' policy state (round-robin turns, LARD's assignments), the
/// connections handed to each node and still open, and this node's own
/// load. Touched once or twice per connection (its dispatch, its handoff
/// acknowledged, its end), never per packet.
pub struct Balance<D> {
    dispatcher: D,
    open: OpenHandoffs,
    /// Connections this node serves as a back-end, all shards together
    /// (the shell sums them on each timer run).
    served_here: u32,
}

impl<D, T> Balance<D>
where
    D: DerefMut<Target = Dispatcher<T>>,
    T: DerefMut<Target = [TargetEntry]>,
{
    /// The balance of a node with configuration `cfg`.
    pub fn new(mut dispatcher: D, cfg: &NodeConfig) -> Self {
        dispatcher.configure(cfg);
        Balance {
            dispatcher,
            open: OpenHandoffs::default(),
            served_here: 0,
        }
    }

    /// Follows a new configuration (once per namespace, whatever the
    /// number of shards).
    pub fn configure(&mut self, cfg: &NodeConfig) {
        self.dispatcher.configure(cfg);
    }

    /// This node's back-end connections, all shards together.
    pub fn set_served_here(&mut self, served: u32) {
        self.served_here = served;
    }
}

/// Access to the [`Balance`] a node shares with the other shards (the
/// kernel: under a spinlock, taken inside a shard's lock and never the
/// other way round).
pub trait Shared<D> {
    /// Runs `f` on the balance, exclusively.
    fn with<R>(&self, f: impl FnOnce(&mut Balance<D>) -> R) -> R;
}

/// A back-end table's use: its live flows and its limit (summed over
/// shards for the HEARTBEAT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Live back-end flows.
    pub live: usize,
    /// The back-end tables' limit.
    pub max: usize,
}

impl Served {
    /// Both shards' figures together.
    pub fn plus(self, o: Served) -> Served {
        Served {
            live: self.live.saturating_add(o.live),
            max: self.max.saturating_add(o.max),
        }
    }

    /// A HEARTBEAT's content: the connections served, and the table's use
    /// in permille.
    pub fn heartbeat(self) -> (u32, u32) {
        let load = self
            .live
            .saturating_mul(1000)
            .checked_div(self.max)
            .unwrap_or(0);
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        (clamp(self.live), clamp(load))
    }
}

/// Which side of the node crafted a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The front-end: to the client from the VIP (SYN/ACK, ACK, RST), or
    /// to a back-end as if from the client (an RST).
    Fe,
    /// The back-end: to the client from the VIP (an RST when it aborts).
    Be,
}

/// What the node asks the shell to do. The shell may defer all of it
/// (the kernel does: it holds a spinlock while the node runs), but in the
/// order given, and injections after the packet in hand.
pub trait Io {
    /// Sends `seg` out, routed by its destination.
    fn transmit(&mut self, from: Side, seg: &OutSegment);
    /// Injects `seg` into the local stack as if it arrived from the
    /// network; its payload is `payload` (a back-end flow's request bytes).
    fn inject(&mut self, seg: &OutSegment, payload: &[u8]);
    /// Ends a TIME-WAIT socket on `key` before the next injection.
    fn recycle_time_wait(&mut self, key: FlowKey);
    /// Sends `msg` to peer `to` over the control channel.
    fn send(&mut self, to: u16, msg: &Message<'_>);
    /// The client segment in hand is too big for the back-end's link:
    /// send the client an ICMP "fragmentation needed" from the VIP,
    /// quoting the segment, with this next-hop MTU.
    fn frag_needed(&mut self, seg: &Seg<'_>, mtu: u16);
    /// Whether the segment in hand came over its link from the host at
    /// `addr` (its link-layer source is that host's; over the loopback,
    /// `addr` is one of this host's): a forwarded client segment is taken
    /// only from the front-end that handed its flow off.
    fn sent_by(&mut self, addr: u32) -> bool;
    /// Counts `ev` in the figures an operator scrapes (`metrics.rs`); by
    /// default, nowhere.
    fn record(&mut self, _ev: &Event) {}
}

/// The payload of the segment in hand, read only when the front-end
/// collects a request (the kernel copies it out of the packet then).
pub trait Payload {
    /// The payload; `None` if it cannot be read (drop the segment).
    fn bytes(&mut self) -> Option<&[u8]>;

    /// Copies payload bytes from `offset` on into `buf` without copying
    /// the rest: how many (0 if there are none there).
    fn read_at(&mut self, offset: u32, buf: &mut [u8]) -> usize {
        let Some(all) = self.bytes() else {
            return 0;
        };
        let from = all.get(as_usize(offset)..).unwrap_or(&[]);
        let n = from.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), from.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }
}

impl Payload for &[u8] {
    fn bytes(&mut self) -> Option<&[u8]> {
        Some(self)
    }
}

/// What to do with a client segment that reached the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Let it go on unchanged.
    Accept,
    /// Drop it.
    Drop,
    /// Apply `edits`; then route it out again to the back-end, or, for a
    /// local handoff (`local`), let it into the local stack, after
    /// [`Node::on_forwarded`] has seen it as translated.
    Forward {
        /// The translation.
        edits: Edits,
        /// The back-end is this node.
        local: bool,
        /// Send it inside an IPIP header from this address (host order)
        /// to the (rewritten) destination (`encap.rs`); `None`: as it is.
        tunnel_from: Option<u32>,
    },
}

/// What a back-end does with an IPIP packet (`encap.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnelled {
    /// Not for a flow of ours: leave it as it is.
    NotOurs,
    /// For one of our flows, from its front-end: strip the outer header
    /// and let the inner packet in.
    Decap,
    /// For one of our flows from someone else: drop it.
    Drop,
}

/// The peers that may get new handoffs: (id, the connections it said it
/// serves in its last HEARTBEAT, what its listeners are unfit for); the
/// peers declared dead: (id, for how long, in ms, when this was taken);
/// and what this node's own listeners are unfit for (`crate::health`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LivePeers {
    live: [Option<(u16, u32, Unfit)>; MAX_PEERS],
    dead: [Option<(u16, u64)>; MAX_PEERS],
    own: Unfit,
}

impl LivePeers {
    /// Peer `id`, serving `served` connections, is live and its listeners
    /// fit for every service (ignored beyond [`MAX_PEERS`]).
    pub fn add(&mut self, id: u16, served: u32) {
        self.add_unfit(id, served, Unfit::default());
    }

    /// Peer `id`, serving `served` connections, is live; its listeners are
    /// `unfit` for some services (ignored beyond [`MAX_PEERS`]).
    pub fn add_unfit(&mut self, id: u16, served: u32, unfit: Unfit) {
        if let Some(slot) = self.live.iter_mut().find(|s| s.is_none()) {
            *slot = Some((id, served, unfit));
        }
    }

    /// Peer `id` was declared dead `for_ms` ago (ignored beyond
    /// [`MAX_PEERS`]).
    pub fn add_dead(&mut self, id: u16, for_ms: u64) {
        if let Some(slot) = self.dead.iter_mut().find(|s| s.is_none()) {
            *slot = Some((id, for_ms));
        }
    }

    /// What this node's own listeners are unfit for.
    pub fn set_own(&mut self, unfit: Unfit) {
        self.own = unfit;
    }

    fn find(&self, id: u16) -> Option<&(u16, u32, Unfit)> {
        self.live.iter().flatten().find(|&&(n, _, _)| n == id)
    }

    /// Whether peer `id` may get new handoffs.
    pub fn contains(&self, id: u16) -> bool {
        self.find(id).is_some()
    }

    /// The live peers' ids.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.live.iter().flatten().map(|&(n, _, _)| n)
    }

    /// The ids of the peers declared dead.
    pub fn dead_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.dead.iter().flatten().map(|&(n, _)| n)
    }

    /// How long ago peer `id` was declared dead, if it is.
    pub fn dead_for(&self, id: u16) -> Option<u64> {
        self.dead
            .iter()
            .flatten()
            .find(|&&(n, _)| n == id)
            .map(|&(_, t)| t)
    }

    /// The connections peer `id` serves, as it last reported (0 if it is
    /// not live or has not reported).
    pub fn served(&self, id: u16) -> u32 {
        self.find(id).map_or(0, |&(_, c, _)| c)
    }

    /// Whether node `id` (`own` if it is this one) may get a new
    /// connection of our service `service` (its index in our
    /// configuration): live, with a listener, and with `strict` not
    /// overloaded.
    pub fn takes(&self, id: u16, own: bool, service: Option<usize>, strict: bool) -> bool {
        match own {
            true => self.own.takes(service, strict),
            false => self
                .find(id)
                .is_some_and(|&(_, _, u)| u.takes(service, strict)),
        }
    }
}

/// Per-node counts of open handoffs (this node and its peers): the load
/// the policies weigh.
#[derive(Debug, Clone, Copy, Default)]
struct OpenHandoffs([(u16, u32); MAX_PEERS + 1]);

impl OpenHandoffs {
    fn get(&self, node: u16) -> u32 {
        self.0
            .iter()
            .find(|(n, c)| *n == node && *c > 0)
            .map_or(0, |(_, c)| *c)
    }

    fn add(&mut self, node: u16) {
        if let Some(slot) = self.0.iter_mut().find(|(id, c)| *id == node && *c > 0) {
            slot.1 = slot.1.saturating_add(1);
        } else if let Some(slot) = self.0.iter_mut().find(|(_, c)| *c == 0) {
            *slot = (node, 1);
        }
    }

    fn sub(&mut self, node: u16) {
        if let Some(slot) = self.0.iter_mut().find(|(id, c)| *id == node && *c > 0) {
            slot.1 = slot.1.saturating_sub(1);
        }
    }
}

/// What the node has done (the shell adds what only it sees).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the names say it; Documentation/admin-guide.md lists them
pub struct NodeStats {
    pub syns: u64,
    /// SYNs dropped: every front-end slot live.
    pub syn_table_full: u64,
    /// Handoffs refused: every back-end slot live.
    pub be_table_full: u64,
    /// Lingering flows freed early to make room for new ones.
    pub fe_reclaimed: u64,
    pub be_reclaimed: u64,
    /// Request segments not taken: the request memory was used up.
    pub request_mem_full: u64,
    pub handoffs_local: u64,
    pub handoffs_remote: u64,
    pub handoff_acks: u64,
    pub handoff_nacks: u64,
    pub nack_options: u64,
    pub nack_refused: u64,
    pub nack_overloaded: u64,
    pub nack_bad_request: u64,
    pub nack_internal: u64,
    /// Refused because the back-end does not take that VIP:port or client
    /// from us (`crate::scope`).
    pub nack_out_of_scope: u64,
    /// Flows reset because every candidate node refused them.
    pub handoffs_abandoned: u64,
    pub handoffs_received: u64,
    pub handoff_repeats: u64,
    /// Front-end: handoffs offered to another node because their target
    /// did not answer in time.
    pub handoffs_redispatched: u64,
    /// Front-end: HANDOFF_CANCELs sent (to a target that did not answer
    /// in time, or answered late).
    pub handoff_cancels: u64,
    /// Back-end: held handoffs ended by their front-end's cancel.
    pub handoffs_cancelled: u64,
    /// Back-end: held handoffs ended because no decision came in time.
    pub holds_expired: u64,
    /// Front-end: connections reset because the peer serving them was
    /// dead for longer than `dead-grace-ms`.
    pub dead_target_resets: u64,
    /// Front-end: connections given to an overloaded node, every node that
    /// could take them being overloaded (`crate::health`).
    pub picks_overloaded: u64,
    /// SYNs answered with a cookie instead of a flow.
    pub cookies_sent: u64,
    /// Third ACKs whose cookie was good: a flow made from it.
    pub cookies_validated: u64,
    /// ACKs with no flow whose cookie was not ours, or expired.
    pub cookies_rejected: u64,
    /// Client segments after the handoff that no stack would accept
    /// (outside the window, or acknowledging what was never sent: RFC
    /// 5961), dropped at the front-end.
    pub forward_refused: u64,
    /// Client segments for a back-end flow that did not come from the
    /// front-end that handed it off, dropped.
    pub forward_foreign: u64,
    /// SYNs and cookie ACKs of a client address already holding its
    /// `client-flows`: answered with a cookie, or refused.
    pub client_limited: u64,
    /// Back-end: connections announced to the other front-ends because
    /// the front-end that handed them off was declared dead.
    pub flows_announced: u64,
    /// Front-end: forwarding flows made from a back-end's announcement.
    pub flows_adopted: u64,
    /// Back-end: announced connections whose client segments a new
    /// front-end forwards.
    pub orphans_adopted: u64,
    /// Front-end: handoffs followed by the client's bytes that came while
    /// they were pending (HANDOFF_MORE).
    pub handoff_more: u64,
    /// Front-end: requests after the handoff that belonged elsewhere (a
    /// MOVE_RELEASE sent, repeats included).
    pub move_releases: u64,
    /// Front-end: connections moved to another back-end (MOVE_RELEASED).
    pub moves: u64,
    /// Front-end: releases the back-end refused (MOVE_KEPT; pinned).
    pub moves_kept: u64,
    /// Back-end: connections released to move elsewhere.
    pub released: u64,
    /// Back-end: FLOW_QUERYs taken (a peer, or this node, took a VIP).
    pub flow_queries: u64,
    /// Back-end: connections handed to the node that took their VIP.
    pub flows_handed_over: u64,
    /// Front-end: segments of unknown connections to a service dropped
    /// (not reset) just after this node took the VIP.
    pub takeover_held: u64,
}

impl NodeStats {
    /// Adds another shard's counters.
    pub fn merge(&mut self, o: &NodeStats) {
        let sum = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        sum(&mut self.syns, o.syns);
        sum(&mut self.syn_table_full, o.syn_table_full);
        sum(&mut self.be_table_full, o.be_table_full);
        sum(&mut self.fe_reclaimed, o.fe_reclaimed);
        sum(&mut self.be_reclaimed, o.be_reclaimed);
        sum(&mut self.request_mem_full, o.request_mem_full);
        sum(&mut self.handoffs_local, o.handoffs_local);
        sum(&mut self.handoffs_remote, o.handoffs_remote);
        sum(&mut self.handoff_acks, o.handoff_acks);
        sum(&mut self.handoff_nacks, o.handoff_nacks);
        sum(&mut self.nack_options, o.nack_options);
        sum(&mut self.nack_refused, o.nack_refused);
        sum(&mut self.nack_overloaded, o.nack_overloaded);
        sum(&mut self.nack_bad_request, o.nack_bad_request);
        sum(&mut self.nack_internal, o.nack_internal);
        sum(&mut self.nack_out_of_scope, o.nack_out_of_scope);
        sum(&mut self.handoffs_abandoned, o.handoffs_abandoned);
        sum(&mut self.handoffs_received, o.handoffs_received);
        sum(&mut self.handoff_repeats, o.handoff_repeats);
        sum(&mut self.handoffs_redispatched, o.handoffs_redispatched);
        sum(&mut self.handoff_cancels, o.handoff_cancels);
        sum(&mut self.handoffs_cancelled, o.handoffs_cancelled);
        sum(&mut self.holds_expired, o.holds_expired);
        sum(&mut self.dead_target_resets, o.dead_target_resets);
        sum(&mut self.picks_overloaded, o.picks_overloaded);
        sum(&mut self.cookies_sent, o.cookies_sent);
        sum(&mut self.cookies_validated, o.cookies_validated);
        sum(&mut self.cookies_rejected, o.cookies_rejected);
        sum(&mut self.forward_refused, o.forward_refused);
        sum(&mut self.forward_foreign, o.forward_foreign);
        sum(&mut self.client_limited, o.client_limited);
        sum(&mut self.flows_announced, o.flows_announced);
        sum(&mut self.flows_adopted, o.flows_adopted);
        sum(&mut self.orphans_adopted, o.orphans_adopted);
        sum(&mut self.handoff_more, o.handoff_more);
        sum(&mut self.move_releases, o.move_releases);
        sum(&mut self.moves, o.moves);
        sum(&mut self.moves_kept, o.moves_kept);
        sum(&mut self.released, o.released);
        sum(&mut self.flow_queries, o.flow_queries);
        sum(&mut self.flows_handed_over, o.flows_handed_over);
        sum(&mut self.takeover_held, o.takeover_held);
    }

    /// Name and value of each counter, in a fixed order.
    pub fn rows(&self) -> [(&'static str, u64); 42] {
        [
            ("syns", self.syns),
            ("syn_table_full", self.syn_table_full),
            ("be_table_full", self.be_table_full),
            ("fe_reclaimed", self.fe_reclaimed),
            ("be_reclaimed", self.be_reclaimed),
            ("request_mem_full", self.request_mem_full),
            ("handoffs_local", self.handoffs_local),
            ("handoffs_remote", self.handoffs_remote),
            ("handoff_acks", self.handoff_acks),
            ("handoff_nacks", self.handoff_nacks),
            ("nack_options", self.nack_options),
            ("nack_refused", self.nack_refused),
            ("nack_overloaded", self.nack_overloaded),
            ("nack_bad_request", self.nack_bad_request),
            ("nack_internal", self.nack_internal),
            ("nack_out_of_scope", self.nack_out_of_scope),
            ("handoffs_abandoned", self.handoffs_abandoned),
            ("handoffs_received", self.handoffs_received),
            ("handoff_repeats", self.handoff_repeats),
            ("handoffs_redispatched", self.handoffs_redispatched),
            ("handoff_cancels", self.handoff_cancels),
            ("handoffs_cancelled", self.handoffs_cancelled),
            ("holds_expired", self.holds_expired),
            ("dead_target_resets", self.dead_target_resets),
            ("picks_overloaded", self.picks_overloaded),
            ("cookies_sent", self.cookies_sent),
            ("cookies_validated", self.cookies_validated),
            ("cookies_rejected", self.cookies_rejected),
            ("forward_refused", self.forward_refused),
            ("forward_foreign", self.forward_foreign),
            ("client_limited", self.client_limited),
            ("flows_announced", self.flows_announced),
            ("flows_adopted", self.flows_adopted),
            ("orphans_adopted", self.orphans_adopted),
            ("handoff_more", self.handoff_more),
            ("move_releases", self.move_releases),
            ("moves", self.moves),
            ("moves_kept", self.moves_kept),
            ("released", self.released),
            ("flow_queries", self.flow_queries),
            ("flows_handed_over", self.flows_handed_over),
            ("takeover_held", self.takeover_held),
        ]
    }
}

/// How long after the last cookie sent an ACK may still bring one back.
const COOKIE_LIFE_MS: u64 = (syncookie::MAX_AGE_SLOTS as u64 + 1) * syncookie::SLOT_MS;

/// The machines' configuration: `base` with the node's timeouts and its
/// encapsulation's overhead.
fn machines_config(base: Config, cfg: &NodeConfig) -> Config {
    Config {
        encap_overhead: cfg.encap.overhead(),
        moves: base.moves && cfg.moves,
        ..cfg.timeouts.apply(base)
    }
}

/// The RST that answers `seg` (RFC 9293 3.10.7.1: from its ACK number).
fn rst_for(seg: &Seg<'_>) -> OutSegment {
    OutSegment {
        src: seg.dst(),
        dst: seg.src(),
        seq: seg.ack(),
        flags: Flags::RST,
        ..OutSegment::default()
    }
}

fn bump(c: &mut u64) {
    *c = c.saturating_add(1);
}

/// What a HANDOFF_REQ did to the back-end table.
#[allow(clippy::large_enum_variant)] // a temporary, on the stack
enum Accepted {
    /// The same handoff again (the front-end resent it), or a new flow.
    Ran(BeOutput),
    /// Refused, with the NACK for the front-end.
    Refused(HandoffNack),
    /// Out of memory: nothing happened (the front-end resends).
    Nothing,
}

/// One node in one namespace.
pub struct Node<S: Store> {
    fe: S::Fe,
    be: S::Be,
    cfg: S::Config,
    balance: S::Balance,
    clients: S::Clients,
    /// The machines' options, from the shell.
    base: Config,
    /// `base` with the configuration's timeouts.
    flow_cfg: Config,
    secret: IsnSecret,
    cookies: CookieKeys,
    /// Until when a bare ACK with no flow may carry a cookie of ours (a
    /// cookie was sent recently); after, none is looked for.
    cookies_until: u64,
    /// Front-end flows in SYN-RECEIVED.
    half_open: usize,
    /// This shard's place among the namespace's: (index, count).
    shard: (usize, usize),
    live: LivePeers,
    /// Flow ids: per shard, as a 4-tuple's connections all go to one.
    next_id: u32,
    /// A walk over the back-end flows announcing those a dead front-end
    /// handed us, or handing a VIP's to the node that took it
    /// (`failover.rs`).
    walk: Option<failover::Walk>,
    /// Until when segments of unknown connections to our services are
    /// dropped: we just took a VIP (`failover::TAKEOVER_HOLD_MS`).
    takeover_until: u64,
    /// The service VIPs that are this node's addresses, as the shell last
    /// saw (0: a free slot).
    local_vips: [u32; MAX_SERVICES],
    stats: NodeStats,
}

impl<S: Store> Node<S> {
    /// A node (or one shard of it) with configuration `cfg` and the
    /// balance made for it; `base` gives the machines' options (MSS,
    /// window scale, SACK, timestamps) and the timeouts the configuration
    /// leaves out.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fe: S::Fe,
        be: S::Be,
        cfg: S::Config,
        balance: S::Balance,
        clients: S::Clients,
        base: Config,
        secret: IsnSecret,
        cookies: CookieKeys,
    ) -> Self {
        Node {
            fe,
            be,
            flow_cfg: machines_config(base, &cfg),
            cfg,
            balance,
            clients,
            base,
            secret,
            cookies,
            cookies_until: 0,
            half_open: 0,
            shard: (0, 1),
            live: LivePeers::default(),
            next_id: 1,
            walk: None,
            takeover_until: 0,
            local_vips: [0; MAX_SERVICES],
            stats: NodeStats::default(),
        }
    }

    /// Puts `cfg` in force, whole; returns the old one (to be freed where
    /// the shell may). The shared balance follows it through
    /// [`Balance::configure`], once per namespace.
    pub fn configure(&mut self, cfg: S::Config) -> S::Config {
        // Every timeout the text leaves out is back at its default.
        self.flow_cfg = machines_config(self.base, &cfg);
        core::mem::replace(&mut self.cfg, cfg)
    }

    /// The configuration in force.
    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    /// The machines' configuration in force.
    pub fn flow_config(&self) -> Config {
        self.flow_cfg
    }

    /// Its counters.
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// The front-end flows.
    pub fn fe(&self) -> &S::Fe {
        &self.fe
    }

    /// The back-end flows.
    pub fn be(&self) -> &S::Be {
        &self.be
    }

    /// This node is shard `index` of `count` (its part of the namespace's
    /// `syn-backlog`); one of one until told.
    pub fn set_shard(&mut self, index: usize, count: usize) {
        self.shard = (index, count.max(1));
    }

    /// Whether the cookie secret is due for a new key (the shell draws
    /// it): as often as a cookie can live, so the previous key always
    /// covers the cookies still young.
    pub fn cookie_key_due(&self, now: u64) -> bool {
        self.cookies.age(now) > syncookie::MAX_AGE_SLOTS
    }

    /// Puts a new cookie key in force.
    pub fn rotate_cookie_key(&mut self, key: [u8; 16], now: u64) {
        self.cookies.rotate(key, now);
    }

    /// The peers the control channel says may get new handoffs.
    pub fn set_live(&mut self, live: LivePeers) {
        let before = core::mem::replace(&mut self.live, live);
        self.note_deaths(&before);
    }

    fn own_id(&self) -> u16 {
        self.cfg.node.map_or(0, |n| n.id)
    }

    /// This node's (or shard's) back-end table use.
    pub fn served(&self) -> Served {
        Served {
            live: self.be.occupancy().live(),
            max: self.be.max(),
        }
    }

    /// Runs `f` on the balance this node shares.
    pub fn balance<R>(&self, f: impl FnOnce(&mut Balance<S::Dispatcher>) -> R) -> R {
        self.balance.with(f)
    }

    // --- packets ------------------------------------------------------

    /// A segment from a client (PRE_ROUTING): a front-end flow's, a SYN to
    /// a service, or a segment another front-end forwarded to one of our
    /// back-end flows. `payload` is read only if the front-end collects a
    /// request; `gso_size` is the packet's wire segment size (0: one
    /// segment).
    pub fn on_client_segment(
        &mut self,
        seg: &Seg<'_>,
        payload: &mut dyn Payload,
        gso_size: u32,
        now: u64,
        io: &mut impl Io,
    ) -> Disposition {
        if let Some(d) = self.fe_segment(seg, payload, gso_size, now, io) {
            return d;
        }
        if seg.flags().syn() && self.cfg.is_service(seg.dst()) {
            return self.fe_syn(seg, now, io);
        }
        if self.may_carry_cookie(seg, now) {
            if let Some(d) = self.cookie_ack(seg, payload, gso_size, now, io) {
                return d;
            }
        }
        if self.cfg.is_service(seg.dst())
            && self.be.peek(&seg.key_from_client()).is_none()
            && self.holds_unknown(seg.dst().addr, now)
        {
            return Disposition::Drop;
        }
        self.peer_forwarded(seg, now, io)
    }

    /// A client segment another front-end forwarded to us: for a back-end
    /// flow, taken only if it came from the node that handed the flow off
    /// (anyone else on the link could forge it); dropped and counted
    /// otherwise. Segments of no flow of ours go on untouched.
    fn peer_forwarded(&mut self, seg: &Seg<'_>, now: u64, io: &mut impl Io) -> Disposition {
        let key = seg.key_from_client();
        let Some((origin, orphaned)) = self.be.peek(&key).map(|f| (f.origin(), f.orphaned()))
        else {
            return Disposition::Accept;
        };
        let own = self.cfg.node.map(|n| n.id);
        if orphaned {
            let Some(node) = self.forwarder(origin, |addr| io.sent_by(addr)) else {
                bump(&mut self.stats.forward_foreign);
                return Disposition::Drop;
            };
            self.adopted_by(key, node, now, io);
        } else if Some(origin) != own {
            let from = self.cfg.node_by_id(origin).map(|p| p.addr);
            if !from.is_some_and(|addr| io.sent_by(addr)) {
                bump(&mut self.stats.forward_foreign);
                return Disposition::Drop;
            }
        }
        self.on_forwarded(seg, now, io);
        Disposition::Accept
    }

    /// The outer source of what this node tunnels, if it does.
    fn tunnel_from(&self) -> Option<u32> {
        match self.cfg.encap {
            Encap::None => None,
            Encap::Ipip => self.cfg.node.map(|n| n.addr),
        }
    }

    /// The inner segment of an IPIP packet whose outer source is
    /// `outer_src`: for a back-end flow, taken only if that is the node
    /// that handed the flow off, as `peer_forwarded` takes link-layer
    /// forwarding.
    pub fn on_tunnelled(
        &mut self,
        seg: &Seg<'_>,
        outer_src: u32,
        now: u64,
        io: &mut impl Io,
    ) -> Tunnelled {
        let key = seg.key_from_client();
        let Some((origin, orphaned)) = self.be.peek(&key).map(|f| (f.origin(), f.orphaned()))
        else {
            return Tunnelled::NotOurs;
        };
        if orphaned {
            let Some(node) = self.forwarder(origin, |addr| addr == outer_src) else {
                bump(&mut self.stats.forward_foreign);
                return Tunnelled::Drop;
            };
            self.adopted_by(key, node, now, io);
        } else if self.cfg.node_by_id(origin).map(|p| p.addr) != Some(outer_src) {
            bump(&mut self.stats.forward_foreign);
            return Tunnelled::Drop;
        }
        self.on_forwarded(seg, now, io);
        Tunnelled::Decap
    }

    /// Whether `seg`, of no front-end flow, may be the third ACK of a
    /// cookie handshake: an ACK (no SYN, no RST) to a service, of no
    /// back-end flow either, while cookies of ours may be out.
    fn may_carry_cookie(&self, seg: &Seg<'_>, now: u64) -> bool {
        let f = seg.flags();
        f.ack()
            && !f.syn()
            && !f.rst()
            && now < self.cookies_until
            && self.cfg.is_service(seg.dst())
            && self.be.peek(&seg.key_from_client()).is_none()
    }

    /// A third ACK bringing a cookie back: a good one makes the flow
    /// (as if its SYN had), which then takes the ACK as any flow would.
    /// `None`: not a cookie of ours (counted; the segment goes on as
    /// before, to the stack, which resets it).
    fn cookie_ack(
        &mut self,
        seg: &Seg<'_>,
        payload: &mut dyn Payload,
        gso_size: u32,
        now: u64,
        io: &mut impl Io,
    ) -> Option<Disposition> {
        let key = seg.key_from_client();
        let isn_c = seg.seq().wrapping_sub(1);
        let checked = self
            .cookies
            .check(&key, isn_c, seg.ack().wrapping_sub(1), now);
        let cfg = self.flow_cfg;
        let tls = self.cfg.is_tls(key.server);
        let flow = checked.ok().and_then(|mss| {
            let id = self.next_flow_id();
            let mut flow = FeFlow::from_cookie(seg, mss, id, &self.secret, &cfg, now)?;
            if tls {
                flow.set_tls();
            }
            Some(flow)
        });
        let Some(flow) = flow else {
            bump(&mut self.stats.cookies_rejected);
            return None;
        };
        bump(&mut self.stats.cookies_validated);
        if self.client_full(key.client.addr) {
            bump(&mut self.stats.client_limited);
            io.transmit(Side::Fe, &rst_for(seg));
            return Some(Disposition::Drop);
        }
        if !self.fe_room() {
            // Every slot live: the client learns at once.
            io.transmit(Side::Fe, &rst_for(seg));
            return Some(Disposition::Drop);
        }
        if !self.fe_insert_half_open(flow) {
            return Some(Disposition::Drop);
        }
        Some(
            self.fe_segment(seg, payload, gso_size, now, io)
                .unwrap_or(Disposition::Drop),
        )
    }

    /// Whether a SYN is answered with a cookie.
    fn use_cookies(&self) -> bool {
        match self.cfg.syncookies {
            CookieMode::Always => true,
            CookieMode::Never => false,
            CookieMode::Auto => {
                let (i, n) = self.shard;
                let backlog = usize::try_from(self.cfg.syn_backlog).unwrap_or(usize::MAX);
                self.half_open >= shard::limit(backlog, n, i).max(1)
            }
        }
    }

    /// Follows a front-end flow's way in or out of SYN-RECEIVED, after its
    /// machine ran (`was`: it was in it before).
    fn track_half_open(&mut self, key: &FlowKey, was: bool) {
        let is = self
            .fe
            .peek(key)
            .is_some_and(|f| f.state() == FeState::SynRcvd);
        match (was, is) {
            (true, false) => self.half_open = self.half_open.saturating_sub(1),
            (false, true) => self.half_open = self.half_open.saturating_add(1),
            _ => {}
        }
    }

    /// A client segment translated into a back-end flow's spaces, on its
    /// way into the local stack (after a local handoff's [`Disposition::
    /// Forward`], or as another front-end forwarded it).
    pub fn on_forwarded(&mut self, seg: &Seg<'_>, now: u64, io: &mut impl Io) {
        let key = seg.key_from_client();
        let cfg = self.flow_cfg;
        if let Some((flow, _)) = self.be.get(&key) {
            let out = flow.on_forwarded(seg, &cfg, now);
            self.be_output(key, &out, now, io);
        }
    }

    /// A segment the local stack sends (POST_ROUTING): on a back-end
    /// flow's connection it is translated for the client; its payload is
    /// read where a response's framing is (per-request dispatch).
    pub fn on_egress(
        &mut self,
        seg: &Seg<'_>,
        payload: &mut dyn Payload,
        now: u64,
        io: &mut impl Io,
    ) -> Verdict {
        let key = seg.key_to_client();
        let cfg = self.flow_cfg;
        let Some((flow, _)) = self.be.get(&key) else {
            return Verdict::Accept;
        };
        flow.frame_egress(seg, &mut |off, buf| payload.read_at(off, buf));
        let out = flow.on_egress(seg, &cfg, now);
        self.be_output(key, &out, now, io);
        out.verdict
    }

    /// A SYN to one of our services.
    fn fe_syn(&mut self, seg: &Seg<'_>, now: u64, io: &mut impl Io) -> Disposition {
        bump(&mut self.stats.syns);
        if self.client_full(seg.src().addr) {
            // This address holds its share: no state for it, a cookie at
            // most (its ACK is refused while it is still over).
            bump(&mut self.stats.client_limited);
            if self.cfg.syncookies != CookieMode::Never {
                self.cookie_reply(seg, now, io);
            }
            return Disposition::Drop;
        }
        if self.use_cookies() {
            self.cookie_reply(seg, now, io);
            return Disposition::Drop;
        }
        if !self.fe_room() {
            return Disposition::Drop;
        }
        let id = self.next_flow_id();
        let cfg = self.flow_cfg;
        let Some((mut flow, out)) = FeFlow::on_syn(seg, id, &self.secret, &cfg, now) else {
            return Disposition::Drop;
        };
        if self.cfg.is_tls(seg.key_from_client().server) {
            flow.set_tls();
        }
        if !self.fe_insert_half_open(flow) {
            return Disposition::Drop;
        }
        if let Some(r) = out.reply {
            io.transmit(Side::Fe, &r);
        }
        Disposition::Drop
    }

    /// Answers SYN `seg` with a cookie SYN/ACK, keeping no state.
    fn cookie_reply(&mut self, seg: &Seg<'_>, now: u64, io: &mut impl Io) {
        let cfg = self.flow_cfg;
        if let Some(synack) = FeFlow::cookie_synack(seg, &self.cookies, &self.secret, &cfg, now) {
            bump(&mut self.stats.cookies_sent);
            self.cookies_until = now.saturating_add(COOKIE_LIFE_MS);
            io.transmit(Side::Fe, &synack);
        }
    }

    /// Whether client address `addr` holds its `client-flows` already.
    fn client_full(&self, addr: u32) -> bool {
        self.clients.count(addr) >= self.cfg.client_flows
    }

    /// Room in the front-end table for one more flow, the flow that
    /// lingered longest freed if need be; `false` (counted) when every
    /// slot is live.
    fn fe_room(&mut self) -> bool {
        match self.fe.make_room() {
            Ok(None) => true,
            Ok(Some(oldest)) => {
                bump(&mut self.stats.fe_reclaimed);
                self.fe_forget(&oldest);
                true
            }
            Err(Full) => {
                bump(&mut self.stats.syn_table_full);
                false
            }
        }
    }

    /// A new connection's flow id, which tells its messages from those
    /// of an earlier connection on the same 4-tuple.
    fn next_flow_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Inserts a new flow in SYN-RECEIVED (after [`Node::fe_room`]) and
    /// schedules it. No request buffer yet: it comes with the first
    /// request byte.
    fn fe_insert_half_open(&mut self, mut flow: FeFlow) -> bool {
        let key = flow.key();
        flow.count_client();
        if !self.fe.insert(flow, Default::default()) {
            return false;
        }
        self.clients.add(key.client.addr);
        self.half_open = self.half_open.saturating_add(1);
        self.fe.settle(&key, &self.flow_cfg);
        true
    }

    /// Any other client segment of front-end flow `key`.
    /// `None`: no front-end flow has it. A forwarded segment takes one
    /// lookup, and one more to settle the flow.
    fn fe_segment(
        &mut self,
        seg: &Seg<'_>,
        payload: &mut dyn Payload,
        gso_size: u32,
        now: u64,
        io: &mut impl Io,
    ) -> Option<Disposition> {
        let cfg = self.flow_cfg;
        let key = seg.key_from_client();
        let plen = seg.payload_len() as usize;
        let (flow, buf) = self.fe.get(&key)?;
        let local = flow.is_local_handoff();
        let was_half_open = flow.state() == FeState::SynRcvd;
        // Handed off: a GRO packet's wire segments are what must fit the
        // back-end's MSS.
        let mut seg = *seg;
        if flow.xlate().is_some() {
            seg.gso_size = gso_size;
        }
        let dead = flow
            .target()
            .filter(|_| flow.is_forwarding() && !local)
            .and_then(|t| self.live.dead_for(t.node))
            .is_some_and(|t| t >= cfg.dead_grace_ms);
        // The payload matters only while the request is being collected.
        let out = if dead {
            let out = flow.on_target_dead(&seg, &cfg, now);
            if out.reply.is_some() {
                bump(&mut self.stats.dead_target_resets);
            }
            out
        } else if plen > 0 && flow.needs_payload(&seg) {
            if flow.holds_request() {
                let need = flow.request_needs(plen);
                if !self.fe.grow(&key, need) {
                    bump(&mut self.stats.request_mem_full);
                }
            }
            let Some(bytes) = payload.bytes() else {
                return Some(Disposition::Drop);
            };
            let Node { fe, cfg: ncfg, .. } = &mut *self;
            let (flow, buf) = fe.get(&key)?;
            let current = flow.target().map(|t| t.node);
            let mut stays = |head: &[u8]| stays_with(ncfg, current, head);
            let mut out = flow.on_client_segment(&seg, bytes, buf, &cfg, now, &mut stays);
            if let Some(at) = out.hold {
                let need = flow.request_needs(plen.saturating_sub(at as usize));
                if !self.fe.grow(&key, need) {
                    bump(&mut self.stats.request_mem_full);
                }
                let (flow, buf) = self.fe.get(&key)?;
                out.release = flow.hold(&seg, bytes, at, buf, &cfg, now).release;
            }
            out
        } else {
            flow.on_segment(&seg, &[], buf, &cfg, now)
        };
        if let Some(mtu) = out.frag_needed {
            // Too big for the back-end's link: tell the client, from the
            // VIP, quoting the segment as it sent it.
            io.frag_needed(&seg, mtu);
        }
        let (verdict, restart) = (out.verdict, out.restart);
        if out.refused {
            bump(&mut self.stats.forward_refused);
        }
        self.fe_output(key, out, now, io);
        if was_half_open {
            self.track_half_open(&key, true);
        }
        if restart {
            return Some(self.fe_syn(&seg, now, io));
        }
        Some(match verdict {
            Verdict::Accept => Disposition::Accept,
            Verdict::Drop => Disposition::Drop,
            Verdict::Forward(edits) => Disposition::Forward {
                edits,
                local,
                tunnel_from: self.tunnel_from().filter(|_| !local),
            },
        })
    }

    /// Carries out a front-end output (all but its verdict).
    fn fe_output(&mut self, key: FlowKey, out: FeOutput<'_>, now: u64, io: &mut impl Io) {
        if out.client_done {
            self.clients.sub(key.client.addr);
        }
        if let Some(n) = out.open_done {
            self.balance.with(|b| b.open.sub(n));
        }
        if let Some(r) = out.reply {
            io.transmit(Side::Fe, &r);
        }
        if let Some(r) = out.to_backend {
            io.transmit(Side::Fe, &r);
        }
        if let Some((to, msg)) = out.decision {
            if msg.msg_type() == MsgType::HandoffCancel {
                bump(&mut self.stats.handoff_cancels);
            }
            io.send(to, &msg);
        }
        if out.more {
            self.send_more(key, now, io);
        }
        if let Some((node, wait_ms)) = out.moved {
            bump(&mut self.stats.moves);
            io.record(&Event::Released { node, wait_ms });
        }
        if let Some(r) = out.release {
            self.send_release(key, r, now, io);
        }
        if out.dispatch {
            self.dispatch(key, now, io);
        }
        if out.free {
            if let Some(flow) = self.fe.remove(&key) {
                self.fe_forget(&flow);
            }
        } else {
            self.fe.settle(&key, &self.flow_cfg);
        }
    }

    /// Sends front-end flow `key`'s target the bytes that came while its
    /// handoff was pending (after its confirm): a peer in a HANDOFF_MORE,
    /// our own back-end side at once.
    fn send_more(&mut self, key: FlowKey, now: u64, io: &mut impl Io) {
        let own = self.own_id();
        let cfg = self.flow_cfg;
        let Node { fe, be, stats, .. } = &mut *self;
        let Some((flow, buf)) = fe.get(&key) else {
            return;
        };
        let (Some(t), Some(m)) = (flow.target(), flow.unsent_request(buf)) else {
            return;
        };
        bump(&mut stats.handoff_more);
        if !t.is_local(key.server.addr) {
            io.send(t.node, &Message::HandoffMore(m));
            return;
        }
        // A local handoff's back-end flow has the front-end's key.
        if let Some(out) = take_more(be, &key, own, &m, &cfg, now) {
            self.be_output(key, &out, now, io);
        }
    }

    /// Asks front-end flow `key`'s target to release the connection (a
    /// request on it belongs elsewhere): a peer in a MOVE_RELEASE, our own
    /// back-end side at once.
    fn send_release(&mut self, key: FlowKey, r: MoveRelease, now: u64, io: &mut impl Io) {
        let Some(t) = self.fe.peek(&key).and_then(|f| f.target()) else {
            return;
        };
        bump(&mut self.stats.move_releases);
        if !t.is_local(key.server.addr) {
            io.send(t.node, &Message::MoveRelease(r));
            return;
        }
        // A local handoff's back-end flow has the front-end's key.
        let (cfg, own) = (self.flow_cfg, self.own_id());
        let Some((flow, _)) = self.be.get(&key).filter(|(f, _)| f.origin() == own) else {
            return;
        };
        let out = flow.on_release(&r, &cfg, now);
        self.be_output(key, &out, now, io);
    }

    /// A front-end's HANDOFF_MORE for a flow it handed to us.
    fn be_more(&mut self, from: u16, m: &HandoffMore<'_>, now: u64, io: &mut impl Io) {
        let key = self.be_key(&m.flow);
        let cfg = self.flow_cfg;
        if let Some(out) = take_more(&mut self.be, &key, from, m, &cfg, now) {
            self.be_output(key, &out, now, io);
        }
    }

    /// Our back-end flow's key for front-end flow `flow` handed to us:
    /// (client, our address:the VIP's port).
    fn be_key(&self, flow: &FlowRef) -> FlowKey {
        let local_addr = self.cfg.node.map_or(0, |n| n.addr);
        FlowKey::new(
            Endpoint::new(flow.client_addr, flow.client_port),
            Endpoint::new(local_addr, flow.vip_port),
        )
    }

    /// A front-end's MOVE_RELEASE for a flow it handed to us.
    fn be_release(&mut self, from: u16, r: &MoveRelease, now: u64, io: &mut impl Io) {
        let key = self.be_key(&r.flow);
        let cfg = self.flow_cfg;
        let Some((flow, _)) = self.be.get(&key).filter(|(f, _)| f.origin() == from) else {
            return;
        };
        let out = flow.on_release(r, &cfg, now);
        if flow.state() == BeState::Linger {
            bump(&mut self.stats.released);
        }
        self.be_output(key, &out, now, io);
    }

    /// Forgets what the node knew of a front-end flow that was freed.
    fn fe_forget(&mut self, flow: &FeFlow) {
        if flow.counts_for_client() {
            self.clients.sub(flow.key().client.addr);
        }
        if let Some(n) = flow.counted_open() {
            self.balance.with(|b| b.open.sub(n));
        }
    }

    /// Picks a back-end for a flow whose request is complete and hands it
    /// off.
    fn dispatch(&mut self, key: FlowKey, now: u64, io: &mut impl Io) {
        let cfg = self.flow_cfg;
        let own = self.cfg.node;
        let own_id = self.own_id();
        let served_shard = u32::try_from(self.be.occupancy().live()).unwrap_or(u32::MAX);
        let Node {
            fe,
            be,
            cfg: node_cfg,
            balance,
            live,
            stats,
            ..
        } = &mut *self;
        let Some((flow, buf)) = fe.get(&key) else {
            return;
        };
        // The rule's target (a node, or a pool and its policy), else the
        // default target, else any node; only nodes that are up, live (or
        // ourselves), listening for the service and have not refused this
        // flow; overloaded ones only if nothing else is left.
        let service = node_cfg.services().position(|s| *s == key.server);
        let fit = |n: u16, strict| live.takes(n, own.is_some_and(|me| me.id == n), service, strict);
        let req = match flow.is_tls() {
            true => Request::tls(
                parse_client_hello(flow.request(buf))
                    .ok()
                    .and_then(|h| h.server_name),
            ),
            false => Request::parse(flow.request(buf), DEFAULT_HEAD_LIMIT),
        };
        // A node's load: the connections we handed it and still forward,
        // or what it serves for every front-end (its last HEARTBEAT; our
        // own tables for ourselves), whichever is more. The two overlap,
        // so they are not added.
        let picked = balance.with(|b| {
            let Balance {
                dispatcher,
                open,
                served_here,
            } = b;
            let loads = |n: u16| {
                let served = match own {
                    Some(me) if me.id == n => (*served_here).max(served_shard),
                    _ => live.served(n),
                };
                open.get(n).max(served)
            };
            let tried = flow.tried();
            let strict = dispatcher.pick(node_cfg, &req, loads, |n| fit(n, true), tried, now);
            strict.map(|p| (p, false)).or_else(|| {
                let any = dispatcher.pick(node_cfg, &req, loads, |n| fit(n, false), tried, now);
                any.map(|p| (p, true))
            })
        });
        if picked.is_some_and(|(_, overloaded)| overloaded) {
            bump(&mut stats.picks_overloaded);
        }
        let picked = picked.map(|(p, _)| p);
        let pool = picked.and_then(|p| p.pool(node_cfg));
        let node = match picked {
            Some(p) => p.node,
            // Not even configured as a node: hand off to our own stack.
            None if own.is_none()
                && node_cfg.peers().next().is_none()
                && flow.tried().is_empty() =>
            {
                0
            }
            None => {
                let out = flow.abandon(buf, &cfg, now);
                // A target that did not answer in time, offered the flow again.
                let answer = match (out.control, flow.target()) {
                    (Some(req), Some(t)) => offer(&req, t, own_id, be, stats, &cfg, now, io),
                    _ => {
                        bump(&mut stats.handoffs_abandoned);
                        None
                    }
                };
                let rest = without_control(&out);
                self.fe_output(key, rest, now, io);
                self.answer(key, answer, now, io);
                return;
            }
        };
        if flow.state() == FeState::Dispatching && !flow.tried().is_empty() && flow.timed_out() {
            bump(&mut stats.handoffs_redispatched);
        }
        let target = Target::resolve(node_cfg, node, key.server.addr);
        let out = flow.handoff(target, buf, &cfg, now);
        io.record(&Event::Offered {
            node,
            service: key.server,
            pool,
        });
        match target.is_local(key.server.addr) {
            true => bump(&mut stats.handoffs_local),
            false => bump(&mut stats.handoffs_remote),
        }
        let answer = out
            .control
            .and_then(|req| offer(&req, target, own_id, be, stats, &cfg, now, io));
        let rest = without_control(&out);
        self.fe_output(key, rest, now, io);
        self.answer(key, answer, now, io);
    }

    /// Carries out the back-end side's answer to a local handoff.
    fn answer(&mut self, key: FlowKey, answer: Option<Accepted>, now: u64, io: &mut impl Io) {
        match answer {
            Some(Accepted::Ran(out)) => self.be_output(key, &out, now, io),
            Some(Accepted::Refused(nack)) => {
                let own = self.own_id();
                self.fe_message(key, Message::HandoffNack(nack), own, now, io)
            }
            Some(Accepted::Nothing) | None => {}
        }
    }

    /// Carries out a back-end output (all but its verdict).
    fn be_output(&mut self, key: FlowKey, out: &BeOutput, now: u64, io: &mut impl Io) {
        let acts = out.inject.is_some()
            || !out.replay.is_empty()
            || out.to_client.is_some()
            || out.control.is_some();
        if acts {
            self.be_actions(key, out, now, io);
        }
        if out.free {
            self.be.remove(&key);
        } else {
            self.be.settle(&key, &self.flow_cfg);
        }
    }

    /// A back-end output's packets and message.
    fn be_actions(&mut self, key: FlowKey, out: &BeOutput, now: u64, io: &mut impl Io) {
        let Some((flow, buf)) = self.be.get(&key) else {
            return;
        };
        let (origin, orphaned) = (flow.origin(), flow.orphaned());
        let fe_key = FlowKey::new(flow.key().client, flow.vip());
        if let Some(s) = out.inject {
            if s.flags.syn() && !s.flags.ack() {
                // A client may reuse its port while our stack still holds
                // the previous connection on the 4-tuple in TIME-WAIT.
                io.recycle_time_wait(flow.key());
            }
            io.inject(&s, &[]);
        }
        for s in out.replay.segments() {
            io.inject(&s, buf);
        }
        if let Some(s) = out.to_client {
            io.transmit(Side::Be, &s);
        }
        if let Some(msg) = out.control {
            if orphaned {
                // No front-end took it over yet: to every copy.
                self.tell_copies(fe_key, msg, None, now, io);
            } else if origin == self.own_id() {
                self.fe_message(key, msg, origin, now, io);
            } else {
                io.send(origin, &msg);
            }
        }
    }

    // --- messages -----------------------------------------------------

    /// A message from peer `from` over the control channel.
    pub fn on_message(&mut self, from: u16, msg: &Message<'_>, now: u64, io: &mut impl Io) {
        match *msg {
            Message::HandoffReq(req) => {
                let local_addr = self.cfg.node.map_or(0, |n| n.addr);
                let key = FlowKey::new(
                    Endpoint::new(req.client_addr, req.client_port),
                    Endpoint::new(local_addr, req.vip_port),
                );
                let own = self.own_id();
                let accepted = accept_handoff(
                    &mut self.be,
                    &mut self.stats,
                    &req,
                    (from, own),
                    local_addr,
                    &self.flow_cfg,
                    now,
                );
                match accepted {
                    Accepted::Ran(out) => self.be_output(key, &out, now, io),
                    Accepted::Refused(n) => io.send(from, &Message::HandoffNack(n)),
                    Accepted::Nothing => {}
                }
            }
            Message::HandoffAck(a) => self.fe_message_from(a.flow, *msg, from, now, io),
            Message::HandoffConfirm(d) | Message::HandoffCancel(d) => {
                self.be_decision(from, &d, msg, now, io)
            }
            Message::HandoffNack(n) => self.fe_message_from(n.flow, *msg, from, now, io),
            Message::Terminate(t) => self.fe_message_from(t.flow, *msg, from, now, io),
            Message::FlowAnnounce(a) => self.adopt(from, &a, now),
            Message::HandoffMore(m) => self.be_more(from, &m, now, io),
            Message::FlowQuery(q) => self.on_flow_query(from, &q),
            Message::MoveRelease(r) => self.be_release(from, &r, now, io),
            Message::MoveReleased(m) => self.fe_message_from(m.flow, *msg, from, now, io),
            Message::MoveKept(m) => self.fe_message_from(m.flow, *msg, from, now, io),
            _ => {}
        }
    }

    /// A front-end's HANDOFF_CONFIRM or HANDOFF_CANCEL (`msg`, about
    /// `d`) for a flow it handed to us.
    fn be_decision(
        &mut self,
        from: u16,
        d: &HandoffDecision,
        msg: &Message<'_>,
        now: u64,
        io: &mut impl Io,
    ) {
        let key = self.be_key(&d.flow);
        let cfg = self.flow_cfg;
        let Some((flow, _)) = self.be.get(&key) else {
            return;
        };
        if flow.origin() != from {
            return;
        }
        let out = match msg {
            Message::HandoffConfirm(_) => flow.on_confirm(d, &cfg, now),
            _ => {
                let out = flow.on_cancel(d);
                if out.free {
                    bump(&mut self.stats.handoffs_cancelled);
                }
                out
            }
        };
        self.be_output(key, &out, now, io);
    }

    /// A message from peer `from` about front-end flow `flow`, which must
    /// have been handed to it (the machine checks the id); a HANDOFF_ACK
    /// may also come from a node the flow was offered to before (it is
    /// told to cancel).
    fn fe_message_from(
        &mut self,
        flow: FlowRef,
        msg: Message<'_>,
        from: u16,
        now: u64,
        io: &mut impl Io,
    ) {
        let key = FlowKey::new(
            Endpoint::new(flow.client_addr, flow.client_port),
            Endpoint::new(flow.vip_addr, flow.vip_port),
        );
        let ack = matches!(msg, Message::HandoffAck(_));
        let handed_to_from = self.fe.peek(&key).is_some_and(|f| {
            f.target().is_some_and(|t| t.node == from) || (ack && f.tried().contains(&from))
        });
        if handed_to_from {
            self.fe_message(key, msg, from, now, io);
        }
    }

    /// A back-end's answer for front-end flow `key`, from node `from`
    /// (this node's own back-end side, or a peer's).
    fn fe_message(
        &mut self,
        key: FlowKey,
        msg: Message<'_>,
        from: u16,
        now: u64,
        io: &mut impl Io,
    ) {
        let cfg = self.flow_cfg;
        let Some((flow, buf)) = self.fe.get(&key) else {
            return;
        };
        let out = match msg {
            Message::HandoffAck(ack) => {
                // Counted once per handoff: a resent HANDOFF_REQ is
                // answered again, and the copy changes nothing.
                let offered = flow.offered_at(&cfg);
                let out = flow.on_handoff_ack(&ack, &cfg, now);
                if let (Some(t), FeState::Forwarding) = (offered, flow.state()) {
                    // Per-request dispatch reads what follows the request.
                    flow.start_framing(buf, &cfg);
                    bump(&mut self.stats.handoff_acks);
                    io.record(&Event::Answered {
                        node: from,
                        rtt_ms: now.saturating_sub(t),
                    });
                    if let Some(n) = flow.count_open() {
                        self.balance.with(|b| b.open.add(n));
                    }
                }
                out
            }
            Message::HandoffNack(nack) => {
                let s = &mut self.stats;
                bump(&mut s.handoff_nacks);
                io.record(&Event::Refused { node: from });
                bump(match nack.reason {
                    NackReason::OptionsIncompatible => &mut s.nack_options,
                    NackReason::Refused => &mut s.nack_refused,
                    NackReason::Overloaded => &mut s.nack_overloaded,
                    NackReason::BadRequest => &mut s.nack_bad_request,
                    NackReason::Internal => &mut s.nack_internal,
                    NackReason::OutOfScope => &mut s.nack_out_of_scope,
                });
                flow.on_handoff_nack(&nack, from, &cfg, now)
            }
            Message::Terminate(t) => flow.on_terminate(&t, &cfg, now),
            Message::MoveReleased(m) => flow.on_move_released(&m, from, &cfg, now),
            Message::MoveKept(m) => {
                let was = flow.state();
                let out = flow.on_move_kept(&m, from);
                if was != flow.state() {
                    // Once a move, however often the answer came.
                    bump(&mut self.stats.moves_kept);
                }
                out
            }
            _ => return,
        };
        self.fe_output(key, out, now, io);
    }

    // --- time ---------------------------------------------------------

    /// Runs every flow whose deadline has passed (the tables find them;
    /// no walk over every flow). Call at least every
    /// [`super::wheel::TICK_MS`].
    pub fn on_timers(&mut self, now: u64, io: &mut impl Io) {
        let cfg = self.flow_cfg;
        let own = self.own_id();
        self.fe.collect_due(now, &cfg);
        while let Some(key) = self.fe.pop_due() {
            let Node { fe, be, stats, .. } = &mut *self;
            let Some((flow, buf)) = fe.get(&key) else {
                continue;
            };
            let was_half_open = flow.state() == FeState::SynRcvd;
            let waited_on = flow.offered_at(&cfg).and(flow.target()).map(|t| t.node);
            let out = flow.on_tick(buf, &cfg, now);
            // The handoff timer ran out: the node is asked again, or
            // passed over.
            if let Some(node) = waited_on {
                if flow.state() != FeState::HandingOff || out.control.is_some() {
                    io.record(&Event::TimedOut { node });
                }
            }
            // A resent HANDOFF_REQ goes where the first one went.
            let answer = match (out.control, flow.target()) {
                (Some(req), Some(t)) => offer(&req, t, own, be, stats, &cfg, now, io),
                _ => None,
            };
            let rest = without_control(&out);
            self.fe_output(key, rest, now, io);
            if was_half_open {
                self.track_half_open(&key, true);
            }
            self.answer(key, answer, now, io);
        }
        self.be.collect_due(now, &cfg);
        while let Some(key) = self.be.pop_due() {
            let Some((flow, _)) = self.be.get(&key) else {
                continue;
            };
            let held = flow.state() == BeState::Held;
            let out = flow.on_tick(&cfg, now);
            if held && out.free {
                bump(&mut self.stats.holds_expired);
            }
            self.be_output(key, &out, now, io);
        }
        self.announce_orphans(now, io);
    }
}

/// Sets up the back-end side of handoff `req` (to `local_addr`: our own
/// address, or the VIP for a local handoff); `nodes` is (the front-end's
/// id, ours). A request on a lingering flow's 4-tuple replaces it; the
/// same request again is a repeat.
fn accept_handoff<B: FlowStore<BeFlow>>(
    be: &mut B,
    stats: &mut NodeStats,
    req: &HandoffReq<'_>,
    nodes: (u16, u16),
    local_addr: u32,
    cfg: &Config,
    now: u64,
) -> Accepted {
    let key = FlowKey::new(
        Endpoint::new(req.client_addr, req.client_port),
        Endpoint::new(local_addr, req.vip_port),
    );
    if let Some((flow, _)) = be.get(&key) {
        let out = flow.on_repeated_req(req);
        if !out.restart {
            bump(&mut stats.handoff_repeats);
            return Accepted::Ran(out);
        }
        be.remove(&key);
    }
    match be.make_room() {
        Ok(None) => {}
        Ok(Some(_oldest)) => bump(&mut stats.be_reclaimed),
        Err(Full) => {
            bump(&mut stats.be_table_full);
            return Accepted::Refused(HandoffNack {
                flow: FlowRef::of(req),
                reason: NackReason::Overloaded,
            });
        }
    }
    // The replay copy: exactly the request, freed once the stack has
    // acknowledged it.
    let Some(mut buf) = be.buffer(req.request.len()) else {
        return Accepted::Nothing;
    };
    let (origin, own) = nodes;
    match BeFlow::on_handoff_req(req, origin, own, local_addr, &mut buf, cfg, now) {
        Ok((flow, out)) => {
            if !be.insert(flow, buf) {
                return Accepted::Nothing;
            }
            bump(&mut stats.handoffs_received);
            Accepted::Ran(out)
        }
        Err(nack) => Accepted::Refused(nack),
    }
}

/// Back-end flow `key` takes the bytes of HANDOFF_MORE `m` from node
/// `from` (its buffer grown for them first); `None` if it is not that
/// node's flow or its buffer cannot grow (the client sends them again).
fn take_more<B: FlowStore<BeFlow>>(
    be: &mut B,
    key: &FlowKey,
    from: u16,
    m: &HandoffMore<'_>,
    cfg: &Config,
    now: u64,
) -> Option<BeOutput> {
    let flow = be.peek(key).filter(|f| f.origin() == from)?;
    let need = flow.request_len().saturating_add(m.bytes.len());
    if !be.grow(key, need) {
        return None;
    }
    let (flow, buf) = be.get(key)?;
    Some(flow.on_more(m, buf, cfg, now))
}

/// Whether node `current` (a flow's target) may serve the request whose
/// head is `head` (per-request dispatch): its rule's target is that node,
/// or a pool it is in.
fn stays_with(cfg: &NodeConfig, current: Option<u16>, head: &[u8]) -> bool {
    let Some(node) = current else {
        return true;
    };
    let req = Request::parse(head, DEFAULT_HEAD_LIMIT);
    match cfg.rules.target(&req) {
        RuleTarget::Node(n) => n == node,
        RuleTarget::Pool(name) => cfg
            .pool(&name)
            .map_or(true, |p| p.members().contains(&node)),
    }
}

/// A front-end output without its HANDOFF_REQ (which borrows the flow's
/// request bytes), once that has been sent.
fn without_control(out: &FeOutput<'_>) -> FeOutput<'static> {
    FeOutput {
        verdict: out.verdict,
        reply: out.reply,
        control: None,
        to_backend: out.to_backend,
        dispatch: out.dispatch,
        free: out.free,
        restart: out.restart,
        frag_needed: out.frag_needed,
        refused: out.refused,
        client_done: out.client_done,
        open_done: out.open_done,
        decision: out.decision,
        more: out.more,
        hold: out.hold,
        release: out.release,
        moved: out.moved,
    }
}

/// Offers handoff `req` to `target`: a peer gets it over the control
/// channel; this node's own back-end side (a local handoff, decided by
/// [`Target::is_local`] alone) takes it at once, and its answer is
/// returned for the front-end.
#[allow(clippy::too_many_arguments)]
fn offer<B: FlowStore<BeFlow>>(
    req: &HandoffReq<'_>,
    target: Target,
    own: u16,
    be: &mut B,
    stats: &mut NodeStats,
    cfg: &Config,
    now: u64,
    io: &mut impl Io,
) -> Option<Accepted> {
    if target.is_local(req.vip_addr) {
        return Some(accept_handoff(
            be,
            stats,
            req,
            (own, own),
            req.vip_addr,
            cfg,
            now,
        ));
    }
    io.send(target.node, &Message::HandoffReq(*req));
    None
}
