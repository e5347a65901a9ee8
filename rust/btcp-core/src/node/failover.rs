//! When a front-end dies (Documentation/handoff.md, "When a front-end
//! dies"): its back-ends hold everything needed to forward their flows,
//! so each announces the connections that front-end handed it to the
//! other nodes ([`FlowAnnounce`]). A node that fronts the service makes a
//! forwarding flow of each; whichever of them takes the VIP over (VRRP)
//! then forwards the clients' segments, and the back-end takes the first
//! node that does as the flow's front-end, telling the others to drop
//! their copies.
//!
//! When the VIP moves (Documentation/handoff.md, "When the VIP moves"):
//! the node that takes it asks its peers for its connections
//! ([`FlowQuery`]); each back-end announces to it every connection it
//! serves through that VIP and makes it their front-end at once, the old
//! front-end told to drop its copy. That covers a planned switch (the old
//! front-end alive), a standby faster than the back-ends' verdict of
//! death, and a front-end whose module was reloaded. Meanwhile the node
//! that took the VIP holds back segments of connections it does not know
//! yet ([`TAKEOVER_HOLD_MS`]) instead of letting its stack reset them.
//!
//! The walk over the back-end flows is paced ([`ORPHANS_PER_RUN`] per
//! timer run and shard), so a front-end's death holds no lock for long
//! and fills no control-channel queue at once.

use super::super::backend::BeFlow;
use super::super::flow::{Endpoint, FlowKey};
use super::super::frontend::{FeFlow, FeState, Target};
use super::super::wire::{FlowAnnounce, FlowQuery, Message, Terminate, TerminateReason};
use super::{bump, Io, Node, Shared, Store};

use super::FlowStore;

/// Back-end flows a shard looks at per timer run while announcing: with
/// 64 shards, under 1 MB of announcements per peer per 100 ms tick (a
/// peer's queue holds 1 MiB, `btcp/ctrl.rs`), about 80,000 flows a
/// second; a table of one shard (up to 2,047 flows) is done in 1.6 s.
const ORPHANS_PER_RUN: usize = 128;

/// How long a node that took a VIP drops the segments of connections it
/// does not know (the back-ends' announcements are on their way) rather
/// than letting its stack answer them with an RST: the clients send them
/// again.
pub const TAKEOVER_HOLD_MS: u64 = 2_000;

/// Most VIP takers one walk serves at once (a later one replaces the
/// oldest; the walk starts again for it).
const MAX_TAKERS: usize = 4;

/// A walk over the back-end flows (a step per [`ORPHANS_PER_RUN`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Walk {
    /// The last key looked at (`None`: from the first).
    after: Option<FlowKey>,
    /// Announce the flows whose front-end is dead.
    deaths: bool,
    /// Nodes that took a VIP: (node, VIP address).
    takers: [Option<(u16, u32)>; MAX_TAKERS],
}

impl<S: Store> Node<S> {
    /// The live peers changed: if one was newly declared dead, the
    /// back-end flows it handed us are announced (from the first flow on;
    /// flows announced already are skipped).
    pub(super) fn note_deaths(&mut self, before: &super::LivePeers) {
        if self
            .live
            .dead_ids()
            .any(|id| before.dead_for(id).is_none() && id != self.own_id())
        {
            let mut walk = self.walk.unwrap_or_default();
            walk.after = None;
            walk.deaths = true;
            self.walk = Some(walk);
        }
    }

    /// Node `from` (maybe this one) holds VIP `q.vip` now: the walk hands
    /// it every connection we serve through that VIP.
    fn start_handover(&mut self, from: u16, q: &FlowQuery) {
        bump(&mut self.stats.flow_queries);
        let mut walk = self.walk.unwrap_or_default();
        walk.after = None;
        let taker = Some((from, q.vip));
        if !walk.takers.contains(&taker) {
            walk.takers.rotate_right(1);
            if let Some(first) = walk.takers.first_mut() {
                *first = taker;
            }
        }
        self.walk = Some(walk);
    }

    /// A peer's FLOW_QUERY: it took a VIP.
    pub(super) fn on_flow_query(&mut self, from: u16, q: &FlowQuery) {
        self.start_handover(from, q);
    }

    /// VIP `vip` is one of this node's addresses (the shell looks): a
    /// segment of an unknown connection to it goes to the stack, which
    /// resets it, as any host's would.
    pub fn vip_local(&mut self, vip: u32) {
        if !self.local_vips.contains(&vip) {
            if let Some(slot) = self.local_vips.iter_mut().find(|v| **v == 0) {
                *slot = vip;
            }
        }
    }

    /// VIP `vip` is no longer one of this node's addresses.
    pub fn vip_lost(&mut self, vip: u32) {
        for v in self.local_vips.iter_mut().filter(|v| **v == vip) {
            *v = 0;
        }
    }

    /// This node took VIP `vip` (the shell saw the address appear, or
    /// loaded with it): its own back-end side's connections through it
    /// are its own front-end side's now, and for [`TAKEOVER_HOLD_MS`]
    /// segments of connections not known yet are dropped, not reset, while
    /// the back-ends' announcements come. The shell sends the peers a
    /// FLOW_QUERY.
    pub fn vip_taken(&mut self, vip: u32, now: u64, io: &mut impl Io) {
        self.vip_local(vip);
        self.takeover_until = now.saturating_add(TAKEOVER_HOLD_MS);
        let own = self.own_id();
        self.start_handover(own, &FlowQuery { vip });
        self.retire_forwarding(vip, now, io);
    }

    /// Lingers every forwarding flow to `vip` (`FeFlow::retire`): one walk
    /// over the front-end table, when a VIP comes (back) to this node.
    fn retire_forwarding(&mut self, vip: u32, now: u64, io: &mut impl Io) {
        let cfg = self.flow_cfg;
        let mut after = None;
        while let Some(key) = self.fe.next_key(after.as_ref()) {
            after = Some(key);
            if key.server.addr != vip {
                continue;
            }
            let Some((flow, _)) = self.fe.get(&key) else {
                continue;
            };
            let out = flow.retire(&cfg, now);
            self.fe_output(key, out, now, io);
        }
    }

    /// Whether a client segment of no flow of ours, to our service at
    /// `vip`, is dropped rather than left to the stack: we just took the
    /// VIP, or it reached us before the shell saw the VIP become ours (its
    /// connection's announcement cannot have come yet).
    pub(super) fn holds_unknown(&mut self, vip: u32, now: u64) -> bool {
        let held = now < self.takeover_until || !self.local_vips.contains(&vip);
        if held {
            bump(&mut self.stats.takeover_held);
        }
        held
    }

    /// Announces up to [`ORPHANS_PER_RUN`] more flows of the walk under
    /// way, if one is.
    pub(super) fn announce_orphans(&mut self, now: u64, io: &mut impl Io) {
        let Some(mut walk) = self.walk else {
            return;
        };
        for _ in 0..ORPHANS_PER_RUN {
            let Some(key) = self.be.next_key(walk.after.as_ref()) else {
                self.walk = None;
                return;
            };
            walk.after = Some(key);
            let vip = self.be.peek(&key).map(|f| f.vip().addr);
            let taker = walk
                .takers
                .iter()
                .flatten()
                .find(|&&(_, v)| Some(v) == vip)
                .map(|&(n, _)| n);
            match taker {
                Some(node) => self.hand_over(key, node, now, io),
                None if walk.deaths => self.announce(key, now, io),
                None => {}
            }
        }
        self.walk = Some(walk);
    }

    /// Hands back-end flow `key` to node `to`, which took its VIP: it is
    /// the flow's front-end now (announced to it; our own front-end side
    /// at once), and the front-end before (and every copy announced on a
    /// death) drops its own.
    fn hand_over(&mut self, key: FlowKey, to: u16, now: u64, io: &mut impl Io) {
        let own = self.own_id();
        let Some((flow, _)) = self.be.get(&key) else {
            return;
        };
        let (old, was_orphaned) = (flow.origin(), flow.orphaned());
        // A local handoff's connection is bound to the VIP's address in
        // our own stack: it cannot follow the VIP.
        if flow.key().server == flow.vip() {
            return;
        }
        let Some(a) = flow.announcement() else {
            return;
        };
        flow.adopt(to);
        let fe_key = flow_vip_key(flow);
        let moved = terminate(flow, TerminateReason::Moved);
        bump(&mut self.stats.flows_handed_over);
        if to == own {
            self.adopt(own, &a, now);
        } else {
            io.send(to, &Message::FlowAnnounce(a));
        }
        if was_orphaned {
            self.tell_copies(fe_key, moved, Some(to), now, io);
        } else if old == own && to != own {
            self.fe_message(fe_key, moved, own, now, io);
        } else if old != to {
            io.send(old, &moved);
        }
    }

    /// Announces back-end flow `key` if the front-end that handed it to
    /// us is dead: to every live peer, and to our own front-end side if
    /// we front its service.
    fn announce(&mut self, key: FlowKey, now: u64, io: &mut impl Io) {
        let own = self.own_id();
        let Some((flow, _)) = self.be.get(&key) else {
            return;
        };
        let origin = flow.origin();
        if origin == own || flow.orphaned() || self.live.dead_for(origin).is_none() {
            return;
        }
        let vip = flow.vip();
        let Some(a) = flow.announcement() else {
            return;
        };
        bump(&mut self.stats.flows_announced);
        let msg = Message::FlowAnnounce(a);
        for peer in self.live.ids() {
            io.send(peer, &msg);
        }
        if self.cfg.is_service(vip) {
            self.adopt(own, &a, now);
        }
    }

    /// A back-end's announcement (`from`, maybe this node): a forwarding
    /// flow to it, if we front the service and hold no live flow of the
    /// connection (ours wins: we did not die).
    pub(super) fn adopt(&mut self, from: u16, a: &FlowAnnounce, now: u64) {
        let vip = Endpoint::new(a.flow.vip_addr, a.flow.vip_port);
        let key = FlowKey::new(Endpoint::new(a.flow.client_addr, a.flow.client_port), vip);
        let addr = match self.cfg.node_by_id(from) {
            Some(n) if self.cfg.is_service(vip) => n.addr,
            _ => return,
        };
        // A lingering flow gives way; so does our own live one of the
        // connection, handed to the announcing node (the back-end's view
        // of where the client is now is newer). Another live one stays:
        // we did not die, only the channel to us did.
        let replaceable = self.fe.peek(&key).map(|f| {
            f.state() == FeState::Linger
                || (f.id() == a.flow.fe_flow_id && f.target().is_some_and(|t| t.node == from))
        });
        match replaceable {
            Some(true) => {
                if let Some(old) = self.fe.remove(&key) {
                    self.fe_forget(&old);
                }
            }
            Some(false) => return,
            None => {}
        }
        let target = Target { node: from, addr };
        let cfg = self.flow_cfg;
        let Some(mut flow) = FeFlow::adopted(a, target, &self.secret, &cfg, now) else {
            return;
        };
        if !self.fe_room() {
            return;
        }
        let open = flow.count_open();
        if !self.fe.insert(flow, Default::default()) {
            return;
        }
        if let Some(n) = open {
            self.balance.with(|b| b.open.add(n));
        }
        self.fe.settle(&key, &cfg);
        bump(&mut self.stats.flows_adopted);
    }

    /// Which node forwarded a segment of an orphaned back-end flow whose
    /// front-end was `origin`, as `came_from` answers for a node's
    /// address: this node (its own front-end side took the VIP), a live
    /// peer, or `origin` itself (only the channel to it had failed).
    pub(super) fn forwarder(
        &self,
        origin: u16,
        mut came_from: impl FnMut(u32) -> bool,
    ) -> Option<u16> {
        let own = self.own_id();
        core::iter::once(own)
            .chain(self.live.ids())
            .chain(core::iter::once(origin))
            .find(|&id| self.cfg.node_by_id(id).is_some_and(|p| came_from(p.addr)))
    }

    /// Node `node` forwards orphaned flow `key` now: it is the flow's
    /// front-end; the others drop the copies we announced them.
    pub(super) fn adopted_by(&mut self, key: FlowKey, node: u16, now: u64, io: &mut impl Io) {
        let Some((flow, _)) = self.be.get(&key) else {
            return;
        };
        flow.adopt(node);
        let (moved, fe_key) = (terminate(flow, TerminateReason::Moved), flow_vip_key(flow));
        bump(&mut self.stats.orphans_adopted);
        self.tell_copies(fe_key, moved, Some(node), now, io);
    }

    /// Sends `msg` (a TERMINATE) about an announced flow to every node
    /// that may hold a copy of it but `except`: the live peers, and our
    /// own front-end side.
    pub(super) fn tell_copies(
        &mut self,
        fe_key: FlowKey,
        msg: Message<'static>,
        except: Option<u16>,
        now: u64,
        io: &mut impl Io,
    ) {
        let own = self.own_id();
        for peer in self.live.ids().filter(|&p| Some(p) != except) {
            io.send(peer, &msg);
        }
        if except != Some(own) && self.cfg.is_service(fe_key.server) {
            self.fe_message(fe_key, msg, own, now, io);
        }
    }
}

/// A TERMINATE for back-end flow `flow`'s connection.
fn terminate(flow: &BeFlow, reason: TerminateReason) -> Message<'static> {
    Message::Terminate(Terminate {
        flow: flow.flow_ref(),
        reason,
    })
}

/// The connection's key at a front-end: (client, VIP).
fn flow_vip_key(flow: &BeFlow) -> FlowKey {
    FlowKey::new(flow.key().client, flow.vip())
}
