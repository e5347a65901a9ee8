//! When a front-end dies (Documentation/handoff.md, "When a front-end
//! dies"): its back-ends hold everything needed to forward their flows,
//! so each announces the connections that front-end handed it to the
//! other nodes ([`FlowAnnounce`]). A node that fronts the service makes a
//! forwarding flow of each; whichever of them takes the VIP over (VRRP)
//! then forwards the clients' segments, and the back-end takes the first
//! node that does as the flow's front-end, telling the others to drop
//! their copies.
//!
//! The walk over the back-end flows is paced ([`ORPHANS_PER_RUN`] per
//! timer run and shard), so a front-end's death holds no lock for long
//! and fills no control-channel queue at once.

use super::super::backend::BeFlow;
use super::super::flow::{Endpoint, FlowKey};
use super::super::frontend::{FeFlow, FeState, Target};
use super::super::wire::{FlowAnnounce, Message, Terminate, TerminateReason};
use super::{bump, Io, Node, Shared, Store};

use super::FlowStore;

/// Back-end flows a shard looks at per timer run while announcing: with
/// 64 shards, under 1 MB of announcements per peer per 100 ms tick (a
/// peer's queue holds 1 MiB, `btcp/ctrl.rs`), about 80,000 flows a
/// second; a table of one shard (up to 2,047 flows) is done in 1.6 s.
const ORPHANS_PER_RUN: usize = 128;

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
            self.orphans = Some(None);
        }
    }

    /// Announces up to [`ORPHANS_PER_RUN`] more flows of the walk under
    /// way, if one is.
    pub(super) fn announce_orphans(&mut self, now: u64, io: &mut impl Io) {
        let Some(mut after) = self.orphans else {
            return;
        };
        for _ in 0..ORPHANS_PER_RUN {
            let Some(key) = self.be.next_key(after.as_ref()) else {
                self.orphans = None;
                return;
            };
            after = Some(key);
            self.announce(key, now, io);
        }
        self.orphans = Some(after);
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
        match self.fe.peek(&key).map(FeFlow::state) {
            Some(FeState::Linger) => {
                if let Some(old) = self.fe.remove(&key) {
                    self.fe_forget(&old);
                }
            }
            Some(_) => return,
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
