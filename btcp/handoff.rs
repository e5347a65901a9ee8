// SPDX-License-Identifier: GPL-2.0
//! The kernel side of the handoff: the flow tables of one namespace and the
//! glue between packets at the hooks, the core's front-end and back-end
//! machines (`btcp_core::frontend`, `btcp_core::backend`) and the local
//! stack.
//!
//! Contexts: the hooks run in softirq (or process context with bottom
//! halves off) and take the namespace's `spin_lock_bh`; they never inject
//! into the local stack (the stack would re-enter our hooks) but queue the
//! packets for `work`, which runs in process context on btcp's workqueue,
//! drains that queue with the lock dropped, and runs the machines' timers.
//! Packets of our own making that go out (SYN/ACKs, ACKs, RSTs) are sent
//! once the lock is released.

use crate::btcp_core::backend::{BeFlow, BeOutput, BeState};
use crate::btcp_core::build::{write_icmp_frag_needed, ICMP_QUOTE_PAYLOAD};
use crate::btcp_core::classify::{classify, Class};
use crate::btcp_core::config::{Ipv4, NodeConfig, MAX_PEERS};
use crate::btcp_core::dispatch::Dispatcher;
use crate::btcp_core::flow::{Config as CoreConfig, FlowKey, Verdict as CoreVerdict};
use crate::btcp_core::frontend::{FeFlow, FeOutput, FeState, Target};
use crate::btcp_core::http::DEFAULT_HEAD_LIMIT;
use crate::btcp_core::ipv4::Ipv4Header;
use crate::btcp_core::isn::IsnSecret;
use crate::btcp_core::reqbuf::grow_to;
use crate::btcp_core::rules::Request;
use crate::btcp_core::segment::{OutSegment, Seg};
use crate::btcp_core::wire::{HandoffNack, HandoffReq, Message, NackReason, MAX_REQUEST};
use crate::btcp_core::xlate::{EditKind, Edits};
use crate::ctrl::{ChannelCfg, Ctrl, LivePeers};
use crate::filter::{FlowFilter, Services};
use crate::kernel_ext::net::{now_ms, random_bytes, Net, TimeWait};
use crate::kernel_ext::netfilter::Verdict;
use crate::kernel_ext::params;
use crate::kernel_ext::skb::{FieldEdit, SkBuff};
use crate::kernel_ext::sync_bh::SpinLockBh;
use crate::table::{key_of, Entry, FlowTable, Key, Machine};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// Longest IPv4 + TCP header.
const HEADERS_MAX: usize = 120;
/// Rounds of deferred work per run, so a run always ends.
const WORK_ROUNDS: usize = 4;

/// A front-end flow: its request bytes exist while it collects them (from
/// the first byte to the handoff's ACK). A back-end flow keeps the request
/// it replays until its stack has acknowledged it all.
type FeEntry = Entry<FeFlow>;

impl Machine for FeFlow {
    fn lingers(&self) -> bool {
        self.state() == FeState::Linger
    }
    fn deadline(&self, cfg: &CoreConfig) -> u64 {
        self.next_deadline(cfg)
    }
}

impl Machine for BeFlow {
    fn lingers(&self) -> bool {
        self.state() == BeState::Linger
    }
    fn deadline(&self, cfg: &CoreConfig) -> u64 {
        self.next_deadline(cfg)
    }
}

/// Request bytes the front-end's buffers hold, against their limit.
struct RequestMemory {
    used: usize,
    max: usize,
}

impl RequestMemory {
    /// Grows `buf` to hold `need` bytes (see `btcp_core::reqbuf`), within
    /// the limit; `false` if it cannot (the segment is then not taken and
    /// the client sends it again).
    fn grow(&mut self, buf: &mut KVec<u8>, need: usize) -> bool {
        if need <= buf.len() {
            return true;
        }
        let cap = buf.capacity();
        if need > cap {
            let Some(to) = grow_to(cap, need, MAX_REQUEST) else {
                return false;
            };
            let extra = to.saturating_sub(cap);
            if self.used.saturating_add(extra) > self.max {
                return false;
            }
            // A new allocation of exactly `to` bytes (reserve would double).
            let Ok(mut grown) = KVec::with_capacity(to, GFP_ATOMIC) else {
                return false;
            };
            if grown.extend_from_slice(buf, GFP_ATOMIC).is_err() {
                return false;
            }
            self.used = self
                .used
                .saturating_add(grown.capacity())
                .saturating_sub(cap);
            *buf = grown;
        }
        buf.extend_with(need.saturating_sub(buf.len()), 0, GFP_ATOMIC)
            .is_ok()
    }

    /// Frees `buf`.
    fn release(&mut self, buf: &mut KVec<u8>) {
        self.used = self.used.saturating_sub(buf.capacity());
        *buf = KVec::new();
    }
}

/// Work the hooks leave for process context.
enum Deferred {
    /// A front-end flow picked this node: set up the back-end side.
    LocalHandoff(FlowKey),
    /// A front-end flow picked another node: send it the HANDOFF_REQ.
    RemoteHandoff(FlowKey),
    /// A packet to inject into the local stack.
    Inject(KVec<u8>),
    /// A replayed SYN is about to be injected for this back-end flow: end
    /// a TIME-WAIT socket on its 4-tuple first.
    RecycleTimeWait(FlowKey),
    /// A message for another node (HANDOFF_ACK/NACK, TERMINATE).
    Control(u16, Message<'static>),
}

/// A message to send once the namespace's spinlock is dropped (the channel
/// sleeps); a HANDOFF_REQ carries a copy of its request bytes.
struct Outgoing {
    to: u16,
    msg: Message<'static>,
    request: KVec<u8>,
}

/// What process context does with the lock dropped.
#[derive(Default)]
struct Later {
    recycle: KVec<FlowKey>,
    injects: KVec<KVec<u8>>,
    outgoing: KVec<Outgoing>,
}

/// Everything behind the namespace's lock.
pub(crate) struct Flows {
    cfg: KBox<NodeConfig>,
    /// The machines' timeouts and limits (the timeouts come from `cfg`).
    core: CoreConfig,
    fe: FlowTable<FeFlow>,
    /// Front-end flows by flow id, for the back-ends' messages.
    fe_ids: RBTree<u32, Key>,
    be: FlowTable<BeFlow>,
    /// The front-end's request buffers, all flows together.
    req_mem: RequestMemory,
    next_id: u32,
    deferred: KVec<Deferred>,
    /// The peers the control channel says may get new handoffs.
    live: LivePeers,
    /// The pools' policy state (tables, counters), kept in step with `cfg`.
    dispatcher: KBox<Dispatcher>,
    /// Connections this front-end handed to each node and still forwards:
    /// the load the policies weigh.
    open: OpenHandoffs,
    /// Room for one packet's payload while it is copied into a request.
    scratch: KBox<[u8; 65536]>,
}

/// Forgets what the namespace knew of a front-end flow that was freed.
fn fe_forget(
    fe_ids: &mut RBTree<u32, Key>,
    open: &mut OpenHandoffs,
    req_mem: &mut RequestMemory,
    mut e: FeEntry,
) {
    fe_ids.remove(&e.flow.id());
    if let (Some(_), Some(t)) = (e.flow.xlate(), e.flow.target()) {
        open.sub(t.node, 1);
    }
    req_mem.release(&mut e.buf);
}

/// Per-node counts of open handoffs (this node and its peers).
#[derive(Default)]
struct OpenHandoffs([(u16, u32); MAX_PEERS + 1]);

impl OpenHandoffs {
    fn get(&self, node: u16) -> u32 {
        self.0
            .iter()
            .find(|(n, c)| *n == node && *c > 0)
            .map_or(0, |(_, c)| *c)
    }

    fn add(&mut self, node: u16, n: u32) {
        if let Some(slot) = self.0.iter_mut().find(|(id, c)| *id == node && *c > 0) {
            slot.1 = slot.1.saturating_add(n);
        } else if let Some(slot) = self.0.iter_mut().find(|(_, c)| *c == 0) {
            *slot = (node, n);
        }
    }

    fn sub(&mut self, node: u16, n: u32) {
        if let Some(slot) = self.0.iter_mut().find(|(id, c)| *id == node && *c > 0) {
            slot.1 = slot.1.saturating_sub(n);
        }
    }
}

impl Flows {
    /// This node's HEARTBEAT content: the connections it serves as a
    /// back-end (handed to it by any front-end), and that table's use in
    /// permille.
    fn report(&self) -> (u32, u32) {
        let live = self.be.occupancy().live();
        let load = live.saturating_mul(1000) / self.be.max().max(1);
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        (clamp(live), clamp(load))
    }

    /// A front-end flow's machine ran: it may have started to linger, or
    /// be done with its request bytes.
    fn fe_settle(&mut self, k: &Key) {
        let core = self.core;
        if let Some(e) = self.fe.settle(k, &core) {
            if !e.flow.holds_request() && e.buf.capacity() > 0 {
                self.req_mem.release(&mut e.buf);
            }
        }
    }

    /// A back-end flow's machine ran: it may have started to linger, or
    /// its stack may have acknowledged the whole replay.
    fn be_settle(&mut self, k: &Key) {
        let core = self.core;
        if let Some(e) = self.be.settle(k, &core) {
            if e.flow.replay_done() && e.buf.capacity() > 0 {
                e.buf = KVec::new();
            }
        }
    }
}

/// What btcp has done, for /proc/net/btcp/counters and the tests.
#[derive(Default)]
pub(crate) struct Stats {
    syns: AtomicU64,
    syn_table_full: AtomicU64,
    /// Handoffs this back-end refused because its table was full of live
    /// flows.
    be_table_full: AtomicU64,
    /// Lingering flows freed early to make room for new ones.
    fe_reclaimed: AtomicU64,
    be_reclaimed: AtomicU64,
    /// Request segments not taken because the request memory was used up.
    request_mem_full: AtomicU64,
    handoffs_local: AtomicU64,
    handoffs_remote: AtomicU64,
    handoff_acks: AtomicU64,
    handoff_nacks: AtomicU64,
    nack_options: AtomicU64,
    nack_refused: AtomicU64,
    nack_overloaded: AtomicU64,
    nack_bad_request: AtomicU64,
    nack_internal: AtomicU64,
    /// Flows reset because every candidate node refused them.
    handoffs_abandoned: AtomicU64,
    /// TIME-WAIT sockets ended for a replayed SYN on their 4-tuple.
    timewait_recycled: AtomicU64,
    /// Replayed SYNs whose 4-tuple had a live socket (refused in time).
    timewait_busy: AtomicU64,
    /// TCP fragments to a service address, dropped.
    fragments_dropped: AtomicU64,
    frag_needed_sent: AtomicU64,
    fe_forwarded_packets: AtomicU64,
    fe_forwarded_bytes: AtomicU64,
    be_translated_packets: AtomicU64,
    be_translated_bytes: AtomicU64,
    rewrite_failures: AtomicU64,
    handoffs_received: AtomicU64,
    handoff_repeats: AtomicU64,
    ctrl_send_failures: AtomicU64,
    injected: AtomicU64,
    inject_failures: AtomicU64,
    sent: AtomicU64,
    send_failures: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The handoff state of one namespace.
#[pin_data]
pub(crate) struct Handoff {
    #[pin]
    flows: SpinLockBh<Flows>,
    #[pin]
    ctrl: Ctrl,
    secret: IsnSecret,
    stats: Stats,
    /// The lock-free first look at packets: the keys in the tables, and
    /// the services in force.
    filter: FlowFilter,
    services: Services,
}

/// Packets to send once the lock is released.
#[derive(Default)]
struct Sends {
    packets: KVec<KVec<u8>>,
    kick: bool,
}

/// Serialises `seg` (its payload, if any, from `reqbuf`).
fn packet(seg: &OutSegment, reqbuf: &[u8]) -> Option<KVec<u8>> {
    let n = seg.packet_len();
    let mut v = KVec::from_elem(0u8, n, GFP_ATOMIC).ok()?;
    let len = seg.write(&mut v, reqbuf).ok()?;
    (len == n).then_some(v)
}

/// An ICMP "fragmentation needed" (next-hop MTU `mtu`) from the VIP to
/// the client about `seg`, which it sent.
fn icmp_frag_needed(seg: &Seg<'_>, mtu: u16) -> Option<KVec<u8>> {
    // IP header, ICMP header, the quoted IP header (options included)
    // and 8 bytes of TCP.
    let mut buf = [0u8; 20 + 8 + 60 + ICMP_QUOTE_PAYLOAD];
    let n =
        write_icmp_frag_needed(&mut buf, seg.dst().addr, seg.src().addr, mtu, seg.packet).ok()?;
    let mut v = KVec::new();
    v.extend_from_slice(buf.get(..n)?, GFP_ATOMIC).ok()?;
    Some(v)
}

fn field_edits(edits: &Edits, out: &mut [FieldEdit]) -> usize {
    let mut n = 0;
    for (dst, e) in out.iter_mut().zip(edits.iter()) {
        *dst = FieldEdit {
            offset: e.offset,
            width: e.width,
            is_addr: e.kind == EditKind::IpAddr,
            old: e.old,
            new: e.new,
        };
        n += 1;
    }
    n
}

/// One line of /proc/net/btcp/flows.
fn flow_line(
    w: &mut impl Write,
    side: &str,
    k: FlowKey,
    state: &dyn fmt::Debug,
    what: &str,
    value: u32,
) -> fmt::Result {
    let (c, s) = (k.client, k.server);
    writeln!(
        w,
        "{side} {}:{} -> {}:{} {state:?} {what} {value}",
        Ipv4(c.addr),
        c.port,
        Ipv4(s.addr),
        s.port
    )
}

/// Reads the IPv4 and TCP headers of `skb` into `buf`.
fn headers<'a>(skb: &'a SkBuff, buf: &'a mut [u8; HEADERS_MAX]) -> Option<&'a [u8]> {
    let want = usize::try_from(skb.len()).map_or(HEADERS_MAX, |l| l.min(HEADERS_MAX));
    skb.read(0, buf.get_mut(..want)?)
}

/// What a HANDOFF_REQ did to a back-end table.
enum Accepted {
    /// The same handoff again (the front-end resent it).
    Repeat(BeOutput),
    /// A new back-end flow.
    New(BeOutput),
    /// Refused, with the NACK for the front-end.
    Refused(HandoffNack),
}

/// Sets up the back-end side of the handoff `req` for connection `k` to
/// `local_addr` (our own address, or the VIP for a local handoff); `nodes`
/// is (the front-end's id, ours). A request on a lingering flow's 4-tuple
/// replaces it; the same request again is a repeat. `None`: out of memory
/// (the front-end resends).
#[allow(clippy::too_many_arguments)]
fn accept_handoff(
    be: &mut FlowTable<BeFlow>,
    filter: &FlowFilter,
    stats: &Stats,
    k: Key,
    req: &HandoffReq<'_>,
    nodes: (u16, u16),
    local_addr: u32,
    core: &CoreConfig,
    now: u64,
) -> Option<Accepted> {
    if let Some(b) = be.get_mut(&k) {
        let out = b.flow.on_repeated_req(req);
        if !out.restart {
            return Some(Accepted::Repeat(out));
        }
        be.remove(&k, filter);
    }
    match be.make_room(filter) {
        Ok(None) => {}
        Ok(Some(_oldest)) => bump(&stats.be_reclaimed, 1),
        Err(_) => {
            bump(&stats.be_table_full, 1);
            return Some(Accepted::Refused(HandoffNack {
                fe_flow_id: req.fe_flow_id,
                reason: NackReason::Overloaded,
            }));
        }
    }
    // The replay copy: exactly the request, freed once the stack has
    // acknowledged it.
    let mut buf = KVec::with_capacity(req.request.len(), GFP_ATOMIC).ok()?;
    buf.extend_from_slice(req.request, GFP_ATOMIC).ok()?;
    let (origin, own) = nodes;
    match BeFlow::on_handoff_req(req, origin, own, local_addr, &mut buf[..], core, now) {
        Ok((flow, out)) => {
            be.insert(k, Entry::new(flow, buf), filter).ok()?;
            Some(Accepted::New(out))
        }
        Err(nack) => Some(Accepted::Refused(nack)),
    }
}

impl Handoff {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let mut key = [0u8; 16];
        random_bytes(&mut key);
        let mut seed = [0u8; 4];
        random_bytes(&mut seed);
        let seed = u32::from_ne_bytes(seed);
        try_pin_init!(Handoff {
            flows <- crate::new_spinlock_bh!(Flows {
                cfg: KBox::new(NodeConfig::new(), GFP_KERNEL)?,
                core: CoreConfig::default(),
                fe: FlowTable::new(params::max_flows(), now_ms())?,
                fe_ids: RBTree::new(),
                be: FlowTable::new(params::max_flows(), now_ms())?,
                req_mem: RequestMemory {
                    used: 0,
                    max: params::max_request_bytes(),
                },
                next_id: 1,
                deferred: KVec::new(),
                live: LivePeers::default(),
                dispatcher: KBox::new(Dispatcher::new(), GFP_KERNEL)?,
                open: OpenHandoffs::default(),
                scratch: KBox::init(kernel::init::zeroed(), GFP_KERNEL)?,
            }),
            ctrl <- Ctrl::new(),
            secret: IsnSecret::new(key),
            stats: Stats::default(),
            filter: FlowFilter::new(params::hash_buckets(), seed)?,
            services: Services::new(),
        }? Error)
    }

    /// PRE_ROUTING for a packet that is no TCP segment we can read: a TCP
    /// fragment for a service address is dropped and counted. We cannot
    /// tell whose flow it belongs to, and reassembled by the stack it
    /// would bypass the front-end (clients send TCP with DF and PMTU
    /// discovery, so this costs them nothing). Anything else goes on.
    fn not_a_segment(&self, h: &[u8]) -> Verdict {
        let (Class::Fragment { protocol: 6 }, Ok(ip)) = (classify(h), Ipv4Header::parse(h)) else {
            return Verdict::Accept;
        };
        if !self.services.contains_addr(ip.dst) {
            return Verdict::Accept;
        }
        bump(&self.stats.fragments_dropped, 1);
        Verdict::Drop
    }

    /// PRE_ROUTING: client segments for the front-end, and (on the node
    /// that serves a local handoff) for the back-end behind it.
    pub(crate) fn prerouting(&self, net: &Net, skb: &SkBuff) -> Verdict {
        let mut hbuf = [0u8; HEADERS_MAX];
        let Some(h) = headers(skb, &mut hbuf) else {
            return Verdict::Accept;
        };
        let Some(seg) = Seg::parse(h) else {
            return self.not_a_segment(h);
        };
        let key = seg.key_from_client();
        let for_service = self.services.contains(seg.dst());
        if !for_service && !self.filter.may_hold(&key) {
            // Neither for a service nor any flow's: no lock.
            return Verdict::Accept;
        }
        let now = now_ms();
        let mut sends = Sends::default();
        let mut edits = [FieldEdit::default(); 16];
        let mut n_edits = 0;
        let mut local_be = false;
        let mut remote = false;
        let verdict = {
            let mut guard = self.flows.lock();
            let flows = &mut *guard;
            let k = key_of(&key);
            match flows.fe.get_mut(&k) {
                Some(e) => {
                    remote = e.flow.xlate().is_some() && !e.flow.is_local_handoff();
                    self.fe_segment(flows, &seg, skb, now, &mut sends)
                }
                None if seg.flags().syn() && for_service => {
                    self.fe_syn(flows, &seg, now, &mut sends)
                }
                None => {
                    // A client segment another front-end forwarded to us.
                    let core = flows.core;
                    if let Some(e) = flows.be.get_mut(&k) {
                        let out = e.flow.on_forwarded(&seg, &core, now);
                        self.be_output(flows, k, &out, now, &mut sends);
                    }
                    CoreVerdict::Accept
                }
            }
        };
        let verdict = match verdict {
            CoreVerdict::Accept => Verdict::Accept,
            CoreVerdict::Drop => Verdict::Drop,
            CoreVerdict::Forward(e) => {
                n_edits = field_edits(&e, &mut edits);
                if remote {
                    // Now addressed to the back-end: routed out again.
                    Verdict::Output
                } else {
                    local_be = true;
                    Verdict::Accept
                }
            }
        };
        if n_edits > 0 {
            if skb.rewrite(edits.get(..n_edits).unwrap_or(&[])).is_err() {
                bump(&self.stats.rewrite_failures, 1);
                self.flush(net, sends);
                return Verdict::Drop;
            }
            bump(&self.stats.fe_forwarded_packets, 1);
            bump(&self.stats.fe_forwarded_bytes, u64::from(skb.len()));
        }
        if local_be {
            // A local handoff: the back-end machine watches the translated
            // segment on its way into our own stack.
            self.be_forwarded(skb, now, &mut sends);
        }
        self.flush(net, sends);
        verdict
    }

    /// POST_ROUTING: what the local stack sends on handed-off connections.
    pub(crate) fn postrouting(&self, net: &Net, skb: &SkBuff) -> Verdict {
        let mut hbuf = [0u8; HEADERS_MAX];
        let Some(h) = headers(skb, &mut hbuf) else {
            return Verdict::Accept;
        };
        let Some(seg) = Seg::parse(h) else {
            return Verdict::Accept;
        };
        let flow_key = seg.key_to_client();
        if !self.filter.may_hold(&flow_key) {
            return Verdict::Accept;
        }
        let key = key_of(&flow_key);
        let now = now_ms();
        let mut sends = Sends::default();
        let out = {
            let mut guard = self.flows.lock();
            let flows = &mut *guard;
            let core = flows.core;
            let Some(e) = flows.be.get_mut(&key) else {
                return Verdict::Accept;
            };
            let out = e.flow.on_egress(&seg, &core, now);
            self.be_output(flows, key, &out, now, &mut sends);
            out
        };
        let verdict = match out.verdict {
            CoreVerdict::Accept => Verdict::Accept,
            CoreVerdict::Drop => Verdict::Drop,
            CoreVerdict::Forward(e) => {
                let mut edits = [FieldEdit::default(); 16];
                let n = field_edits(&e, &mut edits);
                if skb.rewrite(edits.get(..n).unwrap_or(&[])).is_err() {
                    bump(&self.stats.rewrite_failures, 1);
                    Verdict::Drop
                } else {
                    bump(&self.stats.be_translated_packets, 1);
                    bump(&self.stats.be_translated_bytes, u64::from(skb.len()));
                    Verdict::Accept
                }
            }
        };
        self.flush(net, sends);
        verdict
    }

    /// Process context: deferred handoffs, injections and messages, the
    /// control channel, then timers. A few rounds, so a message received
    /// is answered in the same run, and always a bounded amount of work.
    pub(crate) fn work(&self, net: &Net) {
        let mut sends = Sends::default();
        for round in 0..WORK_ROUNDS {
            let now = now_ms();
            let mut later = Later::default();
            let live = self.ctrl.live_peers();
            let (chan, report) = {
                let mut guard = self.flows.lock();
                let flows = &mut *guard;
                flows.live = live;
                self.drain(flows, now, &mut later, &mut sends);
                if round == 0 {
                    self.timers(flows, now, &mut sends);
                    self.drain(flows, now, &mut later, &mut sends);
                }
                (ChannelCfg::of(&flows.cfg), flows.report())
            };
            self.run_later(net, &mut later);
            // Messages from peers: handled under the namespace's lock,
            // their injections and replies carried out after.
            let mut received = Later::default();
            self.ctrl.work(net, &chan, report, &mut |from, msg| {
                let now = now_ms();
                let mut guard = self.flows.lock();
                let flows = &mut *guard;
                self.on_message(flows, from, msg, now, &mut sends);
                self.drain(flows, now, &mut received, &mut sends);
            });
            let busy = !received.injects.is_empty() || !received.outgoing.is_empty();
            self.run_later(net, &mut received);
            if !busy {
                break;
            }
        }
        self.flush(net, sends);
    }

    /// Moves the deferred work out from under the lock.
    fn drain(&self, flows: &mut Flows, now: u64, later: &mut Later, sends: &mut Sends) {
        for _ in 0..WORK_ROUNDS {
            let deferred = core::mem::take(&mut flows.deferred);
            if deferred.is_empty() {
                break;
            }
            for d in deferred {
                match d {
                    Deferred::Inject(p) => {
                        let _ = later.injects.push(p, GFP_ATOMIC);
                    }
                    Deferred::RecycleTimeWait(key) => {
                        let _ = later.recycle.push(key, GFP_ATOMIC);
                    }
                    Deferred::LocalHandoff(key) => self.local_handoff(flows, key, now, sends),
                    Deferred::RemoteHandoff(key) => {
                        let Some(e) = flows.fe.get(&key_of(&key)) else {
                            continue;
                        };
                        let (Some(t), req) = (e.flow.target(), e.flow.handoff_req(&e.buf[..]))
                        else {
                            continue;
                        };
                        let mut request = KVec::new();
                        if request.extend_from_slice(req.request, GFP_ATOMIC).is_err() {
                            continue;
                        }
                        let msg = Message::HandoffReq(HandoffReq {
                            request: &[],
                            ..req
                        });
                        let _ = later.outgoing.push(
                            Outgoing {
                                to: t.node,
                                msg,
                                request,
                            },
                            GFP_ATOMIC,
                        );
                    }
                    Deferred::Control(to, msg) => {
                        let _ = later.outgoing.push(
                            Outgoing {
                                to,
                                msg,
                                request: KVec::new(),
                            },
                            GFP_ATOMIC,
                        );
                    }
                }
            }
        }
    }

    /// Injections and messages, with the namespace's lock dropped.
    fn run_later(&self, net: &Net, later: &mut Later) {
        // A client may reuse its port while the back-end's stack still
        // holds the previous connection on the 4-tuple in TIME-WAIT; the
        // stack would answer the replayed SYN with an ACK unless its
        // sequence number or timestamp is newer, which a port reused
        // towards the VIP after a direct connection need not be.
        for k in later.recycle.iter() {
            let from = (k.client.addr, k.client.port);
            match net.recycle_time_wait(from, (k.server.addr, k.server.port)) {
                TimeWait::Recycled => bump(&self.stats.timewait_recycled, 1),
                TimeWait::Busy => bump(&self.stats.timewait_busy, 1),
                TimeWait::None => {}
            }
        }
        for p in later.injects.iter() {
            match net.inject_ip(p) {
                Ok(()) => bump(&self.stats.injected, 1),
                Err(_) => bump(&self.stats.inject_failures, 1),
            }
        }
        for o in later.outgoing.iter() {
            let msg = match o.msg {
                Message::HandoffReq(r) => Message::HandoffReq(HandoffReq {
                    request: &o.request,
                    ..r
                }),
                m => m,
            };
            if !self.ctrl.send(o.to, &msg) {
                bump(&self.stats.ctrl_send_failures, 1);
            }
        }
    }

    /// A message from node `from`.
    fn on_message(
        &self,
        flows: &mut Flows,
        from: u16,
        msg: &Message<'_>,
        now: u64,
        sends: &mut Sends,
    ) {
        let core = flows.core;
        match *msg {
            Message::HandoffReq(req) => {
                let key = FlowKey {
                    client: crate::btcp_core::flow::Endpoint {
                        addr: req.client_addr,
                        port: req.client_port,
                    },
                    server: crate::btcp_core::flow::Endpoint {
                        addr: flows.cfg.node.map_or(0, |n| n.addr),
                        port: req.vip_port,
                    },
                };
                let k = key_of(&key);
                let own = flows.cfg.node.map_or(0, |n| n.id);
                let accepted = accept_handoff(
                    &mut flows.be,
                    &self.filter,
                    &self.stats,
                    k,
                    &req,
                    (from, own),
                    key.server.addr,
                    &core,
                    now,
                );
                match accepted {
                    Some(Accepted::Repeat(out)) => {
                        bump(&self.stats.handoff_repeats, 1);
                        self.be_output(flows, k, &out, now, sends);
                    }
                    Some(Accepted::New(out)) => {
                        bump(&self.stats.handoffs_received, 1);
                        self.be_output(flows, k, &out, now, sends);
                    }
                    Some(Accepted::Refused(n)) => {
                        let _ = flows
                            .deferred
                            .push(Deferred::Control(from, Message::HandoffNack(n)), GFP_ATOMIC);
                    }
                    None => {}
                }
            }
            Message::HandoffAck(a) => self.to_frontend_by_id(
                flows,
                a.fe_flow_id,
                Message::HandoffAck(a),
                from,
                now,
                sends,
            ),
            Message::HandoffNack(n) => self.to_frontend_by_id(
                flows,
                n.fe_flow_id,
                Message::HandoffNack(n),
                from,
                now,
                sends,
            ),
            Message::Terminate(t) => {
                self.to_frontend_by_id(flows, t.fe_flow_id, Message::Terminate(t), from, now, sends)
            }
            _ => {}
        }
    }

    /// A message about front-end flow `id`, which must be handed to `from`.
    fn to_frontend_by_id(
        &self,
        flows: &mut Flows,
        id: u32,
        msg: Message<'_>,
        from: u16,
        now: u64,
        sends: &mut Sends,
    ) {
        let found = flows.fe_ids.get(&id).copied().filter(|k| {
            flows
                .fe
                .get(k)
                .is_some_and(|e| e.flow.target().is_some_and(|t| t.node == from))
        });
        if let Some(k) = found {
            self.to_frontend(flows, k, msg, from, now, sends);
        }
    }

    fn flush(&self, net: &Net, sends: Sends) {
        for p in sends.packets.iter() {
            match net.send_ip(p) {
                Ok(()) => bump(&self.stats.sent, 1),
                Err(_) => bump(&self.stats.send_failures, 1),
            }
        }
        if sends.kick {
            net.kick();
        }
    }

    /// A SYN to one of our services.
    fn fe_syn(&self, flows: &mut Flows, seg: &Seg<'_>, now: u64, sends: &mut Sends) -> CoreVerdict {
        let core = flows.core;
        bump(&self.stats.syns, 1);
        match flows.fe.make_room(&self.filter) {
            Ok(None) => {}
            Ok(Some(oldest)) => {
                bump(&self.stats.fe_reclaimed, 1);
                let Flows {
                    fe_ids,
                    open,
                    req_mem,
                    ..
                } = &mut *flows;
                fe_forget(fe_ids, open, req_mem, oldest);
            }
            Err(_) => {
                bump(&self.stats.syn_table_full, 1);
                return CoreVerdict::Drop;
            }
        }
        let id = flows.next_id;
        flows.next_id = flows.next_id.wrapping_add(1).max(1);
        if flows.fe_ids.get(&id).is_some() {
            // Ids wrapped onto a flow still alive (4 billion flows later).
            return CoreVerdict::Drop;
        }
        let Some((flow, out)) = FeFlow::on_syn(seg, id, &self.secret, &core, now) else {
            return CoreVerdict::Drop;
        };
        // No request buffer yet: it comes with the first request byte.
        let key = key_of(&flow.key());
        let entry = Entry::new(flow, KVec::new());
        let Ok(id_node) = RBTreeNode::new(id, key, GFP_ATOMIC) else {
            return CoreVerdict::Drop;
        };
        if flows.fe.insert(key, entry, &self.filter).is_err() {
            return CoreVerdict::Drop;
        }
        flows.fe_ids.insert(id_node);
        flows.fe_settle(&key);
        if let Some(p) = out.reply.as_ref().and_then(|r| packet(r, &[])) {
            let _ = sends.packets.push(p, GFP_ATOMIC);
        }
        CoreVerdict::Drop
    }

    /// Any other client segment of a front-end flow.
    fn fe_segment(
        &self,
        flows: &mut Flows,
        seg: &Seg<'_>,
        skb: &SkBuff,
        now: u64,
        sends: &mut Sends,
    ) -> CoreVerdict {
        let core = flows.core;
        let key = key_of(&seg.key_from_client());
        let Flows {
            fe,
            scratch,
            req_mem,
            ..
        } = &mut *flows;
        let Some(e) = fe.get_mut(&key) else {
            return CoreVerdict::Accept;
        };
        // The payload matters only while the request is being collected.
        let plen = seg.payload_len() as usize;
        let payload: &[u8] = if plen > 0 && e.flow.holds_request() {
            let off = seg.pkt.payload_offset as u32;
            if !req_mem.grow(&mut e.buf, e.flow.request_needs(plen)) {
                bump(&self.stats.request_mem_full, 1);
            }
            match scratch.get_mut(..plen).and_then(|b| skb.read(off, b)) {
                Some(p) => p,
                None => return CoreVerdict::Drop,
            }
        } else {
            &[]
        };
        // Handed off: a GRO packet's wire segments are what must fit the
        // back-end's MSS.
        let mut seg = *seg;
        if e.flow.xlate().is_some() {
            seg.gso_size = skb.gso_size();
        }
        let seg = &seg;
        let out = e.flow.on_segment(seg, payload, &mut e.buf, &core, now);
        let (verdict, restart) = (out.verdict, out.restart);
        if let Some(mtu) = out.frag_needed {
            // Too big for the back-end's link: tell the client, from the
            // VIP, quoting the segment as it sent it.
            let queued = icmp_frag_needed(seg, mtu)
                .is_some_and(|p| sends.packets.push(p, GFP_ATOMIC).is_ok());
            let stat = match queued {
                true => &self.stats.frag_needed_sent,
                false => &self.stats.send_failures,
            };
            bump(stat, 1);
        }
        self.fe_output(flows, key, out, now, sends);
        if restart {
            return self.fe_syn(flows, seg, now, sends);
        }
        verdict
    }

    /// Carries out a front-end output (all but its verdict).
    fn fe_output(
        &self,
        flows: &mut Flows,
        key: Key,
        out: FeOutput<'_>,
        now: u64,
        sends: &mut Sends,
    ) {
        if let Some(p) = out.reply.as_ref().and_then(|r| packet(r, &[])) {
            let _ = sends.packets.push(p, GFP_ATOMIC);
        }
        if let Some(p) = out.to_backend.as_ref().and_then(|r| packet(r, &[])) {
            let _ = sends.packets.push(p, GFP_ATOMIC);
        }
        if out.dispatch {
            self.dispatch(flows, key, now, sends);
        }
        if out.free {
            if let Some(e) = flows.fe.remove(&key, &self.filter) {
                let Flows {
                    fe_ids,
                    open,
                    req_mem,
                    ..
                } = &mut *flows;
                fe_forget(fe_ids, open, req_mem, e);
            }
        } else {
            flows.fe_settle(&key);
        }
    }

    /// Picks a back-end for a flow whose request is complete and hands it
    /// off.
    fn dispatch(&self, flows: &mut Flows, key: Key, now: u64, sends: &mut Sends) {
        let core = flows.core;
        let Flows {
            fe,
            cfg,
            deferred,
            live,
            dispatcher,
            open,
            be,
            ..
        } = &mut *flows;
        let Some(e) = fe.get_mut(&key) else { return };
        let own = cfg.node;
        // The rule's target (a node, or a pool and its policy), else the
        // default target, else any node; only nodes that are up, live (or
        // ourselves) and have not refused this flow.
        let usable = |n: u16| own.is_some_and(|me| me.id == n) || live.contains(n);
        let req = Request::parse(e.flow.request(&e.buf[..]), DEFAULT_HEAD_LIMIT);
        // A node's load: the connections we handed it and still forward,
        // or what it serves for every front-end (its last HEARTBEAT; our
        // own table for ourselves), whichever is more. The two overlap,
        // so they are not added.
        let served_here = u32::try_from(be.occupancy().live()).unwrap_or(u32::MAX);
        let loads = |n: u16| {
            let served = match own {
                Some(me) if me.id == n => served_here,
                _ => live.served(n),
            };
            open.get(n).max(served)
        };
        let picked = dispatcher.pick(cfg, &req, loads, usable, e.flow.tried(), now);
        let node = match picked {
            Some(p) => p.node,
            // Not even configured as a node: hand off to our own stack.
            None if own.is_none() && cfg.peers().next().is_none() && e.flow.tried().is_empty() => 0,
            None => {
                bump(&self.stats.handoffs_abandoned, 1);
                let out = e.flow.abandon(&core, now);
                self.fe_output(flows, key, out, now, sends);
                return;
            }
        };
        let flow_key = e.flow.key();
        let target = Target::resolve(cfg, node, flow_key.server.addr);
        let out = e.flow.handoff(target, &e.buf[..], &core, now);
        if out.control.is_some() {
            if target.is_local(flow_key.server.addr) {
                bump(&self.stats.handoffs_local, 1);
                if deferred
                    .push(Deferred::LocalHandoff(flow_key), GFP_ATOMIC)
                    .is_ok()
                {
                    sends.kick = true;
                }
            } else {
                bump(&self.stats.handoffs_remote, 1);
                if deferred
                    .push(Deferred::RemoteHandoff(flow_key), GFP_ATOMIC)
                    .is_ok()
                {
                    sends.kick = true;
                }
            }
        }
    }

    /// Process context: the back-end side of a local handoff.
    fn local_handoff(&self, flows: &mut Flows, key: FlowKey, now: u64, sends: &mut Sends) {
        let core = flows.core;
        let k = key_of(&key);
        let own = flows.cfg.node.map_or(0, |n| n.id);
        let Flows { fe, be, .. } = &mut *flows;
        let Some(fe_entry) = fe.get_mut(&k) else {
            return;
        };
        let req = fe_entry.flow.handoff_req(&fe_entry.buf[..]);
        let local_addr = key.server.addr;
        let filter = &self.filter;
        match accept_handoff(
            be,
            filter,
            &self.stats,
            k,
            &req,
            (own, own),
            local_addr,
            &core,
            now,
        ) {
            Some(Accepted::Repeat(out) | Accepted::New(out)) => {
                self.be_output(flows, k, &out, now, sends)
            }
            Some(Accepted::Refused(nack)) => {
                self.to_frontend(flows, k, Message::HandoffNack(nack), own, now, sends)
            }
            None => {}
        }
    }

    /// Carries out a back-end output (all but its verdict).
    fn be_output(&self, flows: &mut Flows, key: Key, out: &BeOutput, now: u64, sends: &mut Sends) {
        let origin;
        {
            let Flows { be, deferred, .. } = &mut *flows;
            let Some(e) = be.get_mut(&key) else { return };
            origin = e.flow.origin();
            let syn = out.inject.is_some_and(|s| s.flags.syn() && !s.flags.ack());
            if syn {
                let _ = deferred.push(Deferred::RecycleTimeWait(e.flow.key()), GFP_ATOMIC);
            }
            if let Some(p) = out.inject.as_ref().and_then(|s| packet(s, &[])) {
                if deferred.push(Deferred::Inject(p), GFP_ATOMIC).is_ok() {
                    sends.kick = true;
                }
            }
            for s in out.replay.segments() {
                if let Some(p) = packet(&s, &e.buf[..]) {
                    if deferred.push(Deferred::Inject(p), GFP_ATOMIC).is_ok() {
                        sends.kick = true;
                    }
                }
            }
            if let Some(p) = out.to_client.as_ref().and_then(|s| packet(s, &[])) {
                let _ = sends.packets.push(p, GFP_ATOMIC);
            }
        }
        if let Some(msg) = out.control {
            let own = flows.cfg.node.map_or(0, |n| n.id);
            if origin == own {
                self.to_frontend(flows, key, msg, origin, now, sends);
            } else if flows
                .deferred
                .push(Deferred::Control(origin, msg), GFP_ATOMIC)
                .is_ok()
            {
                sends.kick = true;
            }
        }
        if out.free {
            flows.be.remove(&key, &self.filter);
        } else {
            flows.be_settle(&key);
        }
    }

    /// A control message for the front-end flow `key` of this node, from
    /// the back-end machine of node `from` (this node's own, or a peer's
    /// over the control channel).
    fn to_frontend(
        &self,
        flows: &mut Flows,
        key: Key,
        msg: Message<'_>,
        from: u16,
        now: u64,
        sends: &mut Sends,
    ) {
        let core = flows.core;
        let Some(e) = flows.fe.get_mut(&key) else {
            return;
        };
        let out = match msg {
            Message::HandoffAck(ack) => {
                // Counted once per handoff: a resent HANDOFF_REQ is
                // answered again, and the copy changes nothing.
                let waiting = e.flow.state() == FeState::HandingOff;
                let out = e.flow.on_handoff_ack(&ack, &core, now);
                if waiting && e.flow.state() == FeState::Forwarding {
                    bump(&self.stats.handoff_acks, 1);
                    if let Some(t) = e.flow.target() {
                        flows.open.add(t.node, 1);
                    }
                }
                out
            }
            Message::HandoffNack(nack) => {
                bump(&self.stats.handoff_nacks, 1);
                let by_reason = match nack.reason {
                    NackReason::OptionsIncompatible => &self.stats.nack_options,
                    NackReason::Refused => &self.stats.nack_refused,
                    NackReason::Overloaded => &self.stats.nack_overloaded,
                    NackReason::BadRequest => &self.stats.nack_bad_request,
                    NackReason::Internal => &self.stats.nack_internal,
                };
                bump(by_reason, 1);
                e.flow.on_handoff_nack(&nack, from, &core, now)
            }
            Message::Terminate(t) => e.flow.on_terminate(&t, &core, now),
            _ => return,
        };
        self.fe_output(flows, key, out, now, sends);
    }

    /// A client segment the front-end translated into a local handoff's
    /// back-end spaces, on its way into our stack.
    fn be_forwarded(&self, skb: &SkBuff, now: u64, sends: &mut Sends) {
        let mut hbuf = [0u8; HEADERS_MAX];
        let Some(h) = headers(skb, &mut hbuf) else {
            return;
        };
        let Some(seg) = Seg::parse(h) else { return };
        let key = key_of(&seg.key_from_client());
        let mut guard = self.flows.lock();
        let flows = &mut *guard;
        let core = flows.core;
        let Some(e) = flows.be.get_mut(&key) else {
            return;
        };
        let out = e.flow.on_forwarded(&seg, &core, now);
        self.be_output(flows, key, &out, now, sends);
    }

    /// Runs every flow whose deadline has passed (the tables' timer
    /// wheels give them; no walk over every flow).
    fn timers(&self, flows: &mut Flows, now: u64, sends: &mut Sends) {
        let core = flows.core;
        let due = flows.fe.due(now, &core);
        for k in due.iter() {
            let Some(e) = flows.fe.get_mut(k) else {
                continue;
            };
            let out = e.flow.on_tick(&e.buf[..], &core, now);
            let resend = out.control.is_some();
            // Owned again: the resent request is rebuilt from the flow.
            let out = FeOutput {
                verdict: out.verdict,
                reply: out.reply,
                control: None,
                to_backend: out.to_backend,
                dispatch: out.dispatch,
                free: out.free,
                restart: out.restart,
                frag_needed: out.frag_needed,
            };
            if resend {
                let fk = e.flow.key();
                let d = match e.flow.is_local_handoff() {
                    true => Deferred::LocalHandoff(fk),
                    false => Deferred::RemoteHandoff(fk),
                };
                if flows.deferred.push(d, GFP_ATOMIC).is_ok() {
                    sends.kick = true;
                }
            }
            self.fe_output(flows, *k, out, now, sends);
        }
        let due = flows.be.due(now, &core);
        for k in due.iter() {
            let Some(e) = flows.be.get_mut(k) else {
                continue;
            };
            let out = e.flow.on_tick(&core, now);
            self.be_output(flows, *k, &out, now, sends);
        }
    }

    /// Replaces the configuration with `text`, all or nothing; on a parse
    /// error, `why` gets the reason ("line N: ...").
    pub(crate) fn configure(&self, text: &[u8], why: &mut impl Write) -> Result {
        // Parsed in place on the heap, then swapped in whole.
        let mut cfg = KBox::new(NodeConfig::new(), GFP_KERNEL)?;
        cfg.parse_into(text).map_err(|e| {
            let _ = write!(why, "{e}");
            EINVAL
        })?;
        let old = {
            let mut flows = self.flows.lock();
            // Every timeout the text leaves out is back at its default.
            flows.core = cfg.timeouts.flow_config();
            self.services.set(&cfg);
            let old = core::mem::replace(&mut flows.cfg, cfg);
            let Flows {
                cfg, dispatcher, ..
            } = &mut *flows;
            dispatcher.configure(cfg);
            old
        };
        drop(old);
        Ok(())
    }

    /// Writes the configuration in its own text form. Under the lock is
    /// fine: `seq_file` output only fills a kernel buffer.
    pub(crate) fn render_config(&self, w: &mut impl Write) -> fmt::Result {
        write!(w, "{}", *self.flows.lock().cfg)
    }

    pub(crate) fn render_flows(&self, w: &mut impl Write) -> fmt::Result {
        let guard = self.flows.lock();
        // Each table's flows (live + lingering), its parts and its limit;
        // the front-end's request bytes buffered.
        let (fe, be) = (guard.fe.occupancy(), guard.be.occupancy());
        writeln!(
            w,
            "fe_flows {} live {} lingering {} max {} request_bytes {}",
            fe.total(),
            fe.live(),
            fe.lingering(),
            guard.fe.max(),
            guard.req_mem.used
        )?;
        writeln!(
            w,
            "be_flows {} live {} lingering {} max {} filter_slots {}",
            be.total(),
            be.live(),
            be.lingering(),
            guard.be.max(),
            self.filter.slots()
        )?;
        for e in guard.fe.values() {
            flow_line(w, "fe", e.flow.key(), &e.flow.state(), "id", e.flow.id())?;
        }
        for e in guard.be.values() {
            let origin = u32::from(e.flow.origin());
            flow_line(w, "be", e.flow.key(), &e.flow.state(), "from", origin)?;
        }
        Ok(())
    }

    pub(crate) fn render_stats(&self, w: &mut impl Write) -> fmt::Result {
        let s = &self.stats;
        let rows: [(&str, &AtomicU64); 32] = [
            ("syns", &s.syns),
            ("syn_table_full", &s.syn_table_full),
            ("be_table_full", &s.be_table_full),
            ("fe_reclaimed", &s.fe_reclaimed),
            ("be_reclaimed", &s.be_reclaimed),
            ("request_mem_full", &s.request_mem_full),
            ("handoffs_local", &s.handoffs_local),
            ("handoffs_remote", &s.handoffs_remote),
            ("handoff_acks", &s.handoff_acks),
            ("handoff_nacks", &s.handoff_nacks),
            ("nack_options", &s.nack_options),
            ("nack_refused", &s.nack_refused),
            ("nack_overloaded", &s.nack_overloaded),
            ("nack_bad_request", &s.nack_bad_request),
            ("nack_internal", &s.nack_internal),
            ("handoffs_abandoned", &s.handoffs_abandoned),
            ("timewait_recycled", &s.timewait_recycled),
            ("timewait_busy", &s.timewait_busy),
            ("fragments_dropped", &s.fragments_dropped),
            ("frag_needed_sent", &s.frag_needed_sent),
            ("fe_forwarded_packets", &s.fe_forwarded_packets),
            ("fe_forwarded_bytes", &s.fe_forwarded_bytes),
            ("be_translated_packets", &s.be_translated_packets),
            ("be_translated_bytes", &s.be_translated_bytes),
            ("rewrite_failures", &s.rewrite_failures),
            ("handoffs_received", &s.handoffs_received),
            ("handoff_repeats", &s.handoff_repeats),
            ("ctrl_send_failures", &s.ctrl_send_failures),
            ("injected", &s.injected),
            ("inject_failures", &s.inject_failures),
            ("sent", &s.sent),
            ("send_failures", &s.send_failures),
        ];
        for (name, v) in rows {
            writeln!(w, "{name} {}", v.load(Ordering::Relaxed))?;
        }
        self.ctrl.render(w)
    }
}
