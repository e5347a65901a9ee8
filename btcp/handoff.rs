// SPDX-License-Identifier: GPL-2.0
//! The kernel shell of one namespace's node (`btcp_core::node`): it reads
//! packets at the hooks, calls the node under a shard's lock, applies
//! its verdicts and edits, and carries out what it asks for
//! (`btcp_core::node::Io`) once the lock is dropped. The node's flow
//! tables are `table::FlowTable`s.
//!
//! Locks: the namespace's flows are split between shards
//! (`btcp_core::shard`), each a node with its own tables under its own
//! `spin_lock_bh`; a packet or message takes only the lock of its
//! client's shard, and one that is neither for a service nor any flow's
//! takes none (`filter`). The shards share the load-balancing state
//! (`btcp_core::node::Balance`) under one more lock, taken inside a
//! shard's once or twice per connection; no code holds two shards'
//! locks. The configuration is shared by every shard (an `Arc`) and
//! replaced whole, shard by shard.
//!
//! Contexts: the hooks run in softirq (or process context with bottom
//! halves off) and take a shard's `spin_lock_bh`; they never inject
//! into the local stack (the stack would re-enter our hooks) nor send on
//! the control channel (it sleeps) but queue that work for `work`, which
//! runs in process context on btcp's workqueue, carries it out with the
//! lock dropped, feeds the node the channel's messages, and runs its
//! timers. Packets of the node's making that go out (SYN/ACKs, ACKs,
//! RSTs) are sent once the lock is released.

use crate::btcp_core::build::{write_icmp_frag_needed, ICMP_QUOTE_PAYLOAD};
use crate::btcp_core::classify::{classify, Class};
use crate::btcp_core::client_limit::ClientCounts;
use crate::btcp_core::config::{Ipv4, NodeConfig, MAX_SERVICES};
use crate::btcp_core::dispatch::{Dispatcher, TargetEntry};
use crate::btcp_core::encap::{ipip_packet, IpipPacket};
use crate::btcp_core::flow::{Config as CoreConfig, Endpoint, FlowKey, Verdict as CoreVerdict};
use crate::btcp_core::ipv4::Ipv4Header;
use crate::btcp_core::isn::IsnSecret;
use crate::btcp_core::metrics::{encode, Event, Full, Metrics, Record, Sink};
use crate::btcp_core::node::{
    Balance, Disposition, FlowStore, Io, LivePeers, Node, NodeStats, Payload, Served, Shared, Side,
    Store, Tunnelled,
};
use crate::btcp_core::segment::{OutSegment, Seg};
use crate::btcp_core::shard;
use crate::btcp_core::syncookie::CookieKeys;
use crate::btcp_core::table::Occupancy;
use crate::btcp_core::wire::{FlowQuery, HandoffMore, HandoffReq, Message};
use crate::btcp_core::xlate::{EditKind, Edits};
use crate::btcp_core::{backend::BeFlow, frontend::FeFlow};
use crate::ctrl::{ChannelCfg, Ctrl};
use crate::filter::{FlowFilter, Services};
use crate::kernel_ext::heap::unique_arc_copy;
use crate::kernel_ext::net::{now_ms, random_bytes, Net, TimeWait};
use crate::kernel_ext::netfilter::Verdict;
use crate::kernel_ext::params;
use crate::kernel_ext::seq_file::SeqFile;
use crate::kernel_ext::skb::{FieldEdit, SkBuff};
use crate::kernel_ext::sync_bh::SpinLockBh;
use crate::table::{FlowTable, RequestMemory};
use core::fmt::{self, Write};
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// Longest IPv4 + TCP header.
const HEADERS_MAX: usize = 120;
/// Rounds of deferred work per run, so a run always ends.
const WORK_ROUNDS: usize = 4;

/// The kernel's storage for a node.
pub(crate) struct KernelStore;

impl Store for KernelStore {
    type Fe = FlowTable<FeFlow>;
    type Be = FlowTable<BeFlow>;
    type Config = Arc<NodeConfig>;
    type Targets = KVVec<TargetEntry>;
    type Dispatcher = KBox<KernelDispatcher>;
    type Balance = KernelBalance;
    type Clients = Arc<ClientCounts>;
}

/// The balance the namespace's shards share, under its own lock (taken
/// inside a shard's).
#[derive(Clone)]
pub(crate) struct KernelBalance(Arc<SpinLockBh<Balance<KBox<KernelDispatcher>>>>);

/// The policies' state, over LARD tables of `lard_targets` entries.
type KernelDispatcher = Dispatcher<KVVec<TargetEntry>>;

impl Shared<KBox<KernelDispatcher>> for KernelBalance {
    fn with<R>(&self, f: impl FnOnce(&mut Balance<KBox<KernelDispatcher>>) -> R) -> R {
        f(&mut self.0.lock())
    }
}

/// Work the node leaves for process context, in the order it asked.
enum Deferred {
    /// A packet to inject into the local stack.
    Inject(KVec<u8>),
    /// End a TIME-WAIT socket on this 4-tuple (a replayed SYN follows).
    RecycleTimeWait(FlowKey),
    /// A message for a peer; a HANDOFF_REQ's request bytes in the vector.
    Control(u16, Message<'static>, KVec<u8>),
}

/// One shard: everything behind its lock.
struct Shard {
    node: Node<KernelStore>,
    deferred: KVec<Deferred>,
}

type ShardLock = Pin<KBox<SpinLockBh<Shard>>>;

/// What a namespace's shards share, as they are made
/// ([`Handoff::shard_new`]).
struct SharedParts<'a> {
    filter: &'a Arc<FlowFilter>,
    fe_mem: &'a Arc<RequestMemory>,
    be_mem: &'a Arc<RequestMemory>,
    cfg: &'a Arc<NodeConfig>,
    balance: &'a KernelBalance,
    clients: &'a Arc<ClientCounts>,
    secret: IsnSecret,
    now: u64,
}

/// A shard's lock and its bit in `Handoff::pending`.
#[derive(Clone, Copy)]
struct ShardRef<'a> {
    lock: &'a SpinLockBh<Shard>,
    bit: u64,
}

/// Packets to send once the lock is released.
#[derive(Default)]
struct Sends {
    packets: KVec<KVec<u8>>,
    /// Shards that left the work something (a bit each, as in
    /// `Handoff::pending`): the work must run.
    pending: u64,
}

/// What the work keeps between runs (only it takes the lock).
#[derive(Default)]
struct WorkState {
    /// The live peers the shards were last told of.
    live: LivePeers,
    /// The back-end flows of all shards, as of the last tick.
    served: Served,
    /// The service VIPs at the last tick, and those of them that were this
    /// namespace's addresses (0: a free slot).
    service_vips: [u32; MAX_SERVICES],
    local_vips: [u32; MAX_SERVICES],
}

/// What changed since the last tick (0: a free slot): service VIPs that
/// became this namespace's addresses (VRRP gave them to us: `taken`), VIPs
/// that came with the configuration already ours (`appeared`: at load,
/// or a service added), and those that stopped being ours.
#[derive(Default)]
struct VipChanges {
    taken: [u32; MAX_SERVICES],
    appeared: [u32; MAX_SERVICES],
    lost: [u32; MAX_SERVICES],
}

/// The node's [`Io`] while the lock is held: packets for the hook to send
/// after it, the rest for process context.
struct KernelIo<'a> {
    sends: &'a mut Sends,
    deferred: &'a mut KVec<Deferred>,
    stats: &'a Stats,
    metrics: &'a Metrics,
    /// The packet in hand, if the call is for one that arrived.
    skb: Option<&'a SkBuff>,
    /// The shard's bit in `Handoff::pending`.
    bit: u64,
}

impl KernelIo<'_> {
    fn defer(&mut self, d: Deferred) {
        if self.deferred.push(d, GFP_ATOMIC).is_ok() {
            self.sends.pending |= self.bit;
        }
    }
}

impl Io for KernelIo<'_> {
    fn transmit(&mut self, _: Side, seg: &OutSegment) {
        if let Some(p) = packet(seg, &[]) {
            let _ = self.sends.packets.push(p, GFP_ATOMIC);
        }
    }

    fn inject(&mut self, seg: &OutSegment, payload: &[u8]) {
        if let Some(p) = packet(seg, payload) {
            self.defer(Deferred::Inject(p));
        }
    }

    fn recycle_time_wait(&mut self, key: FlowKey) {
        self.defer(Deferred::RecycleTimeWait(key));
    }

    fn send(&mut self, to: u16, msg: &Message<'_>) {
        // Owned: the request bytes copied, the rest is plain data.
        let mut request = KVec::new();
        let msg = match *msg {
            Message::HandoffReq(r) => {
                if request.extend_from_slice(r.request, GFP_ATOMIC).is_err() {
                    return; // the front-end resends
                }
                Message::HandoffReq(HandoffReq { request: &[], ..r })
            }
            Message::HandoffAck(a) => Message::HandoffAck(a),
            Message::HandoffNack(n) => Message::HandoffNack(n),
            Message::Terminate(t) => Message::Terminate(t),
            Message::HandoffConfirm(d) => Message::HandoffConfirm(d),
            Message::HandoffCancel(d) => Message::HandoffCancel(d),
            Message::FlowAnnounce(a) => Message::FlowAnnounce(a),
            Message::HandoffMore(m) => {
                if request.extend_from_slice(m.bytes, GFP_ATOMIC).is_err() {
                    return; // the client sends them again
                }
                Message::HandoffMore(HandoffMore { bytes: &[], ..m })
            }
            Message::MoveRelease(m) => Message::MoveRelease(m),
            Message::MoveReleased(m) => Message::MoveReleased(m),
            Message::MoveKept(m) => Message::MoveKept(m),
            // Sent by the shell itself, never through a node.
            Message::Hello(_) | Message::Heartbeat(_) | Message::FlowQuery(_) => return,
        };
        self.defer(Deferred::Control(to, msg, request));
    }

    fn sent_by(&mut self, addr: u32) -> bool {
        self.skb.is_some_and(|skb| skb.from_neighbour(addr))
    }

    fn record(&mut self, ev: &Event) {
        self.metrics.record(ev);
    }

    fn frag_needed(&mut self, seg: &Seg<'_>, mtu: u16) {
        let queued = icmp_frag_needed(seg, mtu)
            .is_some_and(|p| self.sends.packets.push(p, GFP_ATOMIC).is_ok());
        let stat = match queued {
            true => &self.stats.frag_needed_sent,
            false => &self.stats.send_failures,
        };
        bump(stat, 1);
    }
}

/// The payload of the packet in hand, read when the node asks: copied out
/// whole while a request is collected or read (a connection's first packets,
/// a request head after the handoff), a few bytes at a time where a response
/// head is.
struct SkbPayload<'a> {
    skb: &'a SkBuff,
    offset: u32,
    len: usize,
    copy: KVec<u8>,
}

impl Payload for SkbPayload<'_> {
    fn bytes(&mut self) -> Option<&[u8]> {
        self.copy = KVec::from_elem(0u8, self.len, GFP_ATOMIC).ok()?;
        self.skb.read(self.offset, &mut self.copy)
    }

    fn read_at(&mut self, offset: u32, buf: &mut [u8]) -> usize {
        let left = self.len.saturating_sub(offset as usize);
        let n = buf.len().min(left);
        let Some(dst) = buf.get_mut(..n) else {
            return 0;
        };
        let mut tmp = [0u8; 64];
        let Some(tmp) = tmp.get_mut(..n) else {
            return 0;
        };
        match self.skb.read(self.offset.saturating_add(offset), tmp) {
            Some(src) if src.len() == n => {
                dst.copy_from_slice(src);
                n
            }
            _ => 0,
        }
    }
}

/// What only the shell sees, for /proc/net/btcp/counters (the node
/// counts the rest).
#[derive(Default)]
pub(crate) struct Stats {
    /// TIME-WAIT sockets ended for a replayed SYN on their 4-tuple.
    timewait_recycled: AtomicU64,
    /// Replayed SYNs whose 4-tuple had a live socket (refused in time).
    timewait_busy: AtomicU64,
    /// TCP fragments to a service address, dropped.
    fragments_dropped: AtomicU64,
    frag_needed_sent: AtomicU64,
    fe_forwarded_packets: AtomicU64,
    fe_forwarded_bytes: AtomicU64,
    /// Of the forwarded packets, those sent inside IPIP (`encap ipip`).
    fe_tunnelled_packets: AtomicU64,
    /// IPIP packets from a front-end whose outer header we stripped.
    be_decapsulated_packets: AtomicU64,
    be_translated_packets: AtomicU64,
    be_translated_bytes: AtomicU64,
    rewrite_failures: AtomicU64,
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
    /// A power of two of them (`btcp_core::shard::count`).
    shards: KVec<ShardLock>,
    /// Picks a client's shard; random per namespace.
    seed: u32,
    balance: KernelBalance,
    #[pin]
    ctrl: Ctrl,
    stats: Stats,
    /// Per peer, service and pool; lock-free.
    metrics: Metrics,
    /// The lock-free first look at packets: the keys in the tables, and
    /// the services in force.
    filter: Arc<FlowFilter>,
    services: Services,
    /// Shards with deferred work, a bit each (`shard::MAX_SHARDS` is 64):
    /// a kicked run visits only those, a tick all of them.
    pending: AtomicU64,
    #[pin]
    work_state: Mutex<WorkState>,
}

/// Shard `i`'s bit in `Handoff::pending` (all bits past the 64th).
fn shard_bit(i: usize) -> u64 {
    u32::try_from(i)
        .ok()
        .and_then(|i| 1u64.checked_shl(i))
        .unwrap_or(u64::MAX)
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

impl Handoff {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let mut key = [0u8; 16];
        random_bytes(&mut key);
        let mut seeds = [0u8; 8];
        random_bytes(&mut seeds);
        let [a, b, c, d, e, f, g, h] = seeds;
        let (filter_seed, shard_seed) = (
            u32::from_ne_bytes([a, b, c, d]),
            u32::from_ne_bytes([e, f, g, h]),
        );
        let parts = FlowFilter::new(params::hash_buckets(), filter_seed)
            .and_then(|f| Arc::new(f, GFP_KERNEL).map_err(Error::from))
            .and_then(|filter| {
                let (shards, balance) = Self::shards(&filter, IsnSecret::new(key))?;
                Ok((filter, shards, balance))
            });
        let (filter, shards, balance) = match parts {
            Ok((f, s, b)) => (Ok(f), Ok(s), Ok(b)),
            Err(e) => (Err(e), Err(e), Err(e)),
        };
        try_pin_init!(Handoff {
            shards: shards?,
            seed: shard_seed,
            balance: balance?,
            ctrl <- Ctrl::new(),
            stats: Stats::default(),
            metrics <- kernel::init::zeroed(),
            filter: filter?,
            services: Services::new(),
            pending: AtomicU64::new(0),
            work_state <- kernel::new_mutex!(WorkState::default()),
        }? Error)
    }

    /// The namespace's shards, each with its part of the tables' limits,
    /// all sharing the filter, the request memory, the configuration (none
    /// yet) and the balance. Not inlined: its frame stays out of
    /// [`Handoff::new`]'s.
    #[inline(never)]
    fn shards(
        filter: &Arc<FlowFilter>,
        secret: IsnSecret,
    ) -> Result<(KVec<ShardLock>, KernelBalance)> {
        let max = params::max_flows();
        let n = shard::count(max);
        let cfg: Arc<NodeConfig> = unique_arc_copy(&NodeConfig::EMPTY, GFP_KERNEL)?.into();
        let balance = Self::balance_new(&cfg)?;
        // The front-end's request bytes are bounded; a back-end's replay
        // copy is what a peer's handoff carried.
        let fe_mem = Arc::new(RequestMemory::new(params::max_request_bytes()), GFP_KERNEL)?;
        let be_mem = Arc::new(RequestMemory::new(usize::MAX), GFP_KERNEL)?;
        let clients = Self::clients_new()?;
        let shared = SharedParts {
            filter,
            fe_mem: &fe_mem,
            be_mem: &be_mem,
            cfg: &cfg,
            balance: &balance,
            clients: &clients,
            secret,
            now: now_ms(),
        };
        let mut shards = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            shards.push(
                Self::shard_new(&shared, shard::limit(max, n, i), i, n)?,
                GFP_KERNEL,
            )?;
        }
        Ok((shards, balance))
    }

    /// The namespace's balance: the dispatcher (with its LARD target
    /// tables) and the open-connection counts. Not inlined, as the next
    /// two: each builds a large value in its own frame, and they are
    /// called one after the other, not nested.
    #[inline(never)]
    fn balance_new(cfg: &Arc<NodeConfig>) -> Result<KernelBalance> {
        let mut dispatcher = KBox::new(Dispatcher::new(), GFP_KERNEL)?;
        let targets = params::lard_targets();
        dispatcher.set_target_tables(
            KVVec::from_elem(TargetEntry::FREE, targets, GFP_KERNEL)?,
            KVVec::from_elem(TargetEntry::FREE, targets, GFP_KERNEL)?,
        );
        Ok(KernelBalance(Arc::pin_init(
            crate::new_spinlock_bh!(Balance::new(dispatcher, cfg)),
            GFP_KERNEL,
        )?))
    }

    /// Per-client counts, hashed with a seed of the namespace's own.
    #[inline(never)]
    fn clients_new() -> Result<Arc<ClientCounts>> {
        let mut seed = [0u8; 4];
        random_bytes(&mut seed);
        Ok(Arc::new(
            ClientCounts::new(u32::from_ne_bytes(seed)),
            GFP_KERNEL,
        )?)
    }

    /// Shard `i` of `n`, its tables of `limit` flows each.
    #[inline(never)]
    fn shard_new(shared: &SharedParts<'_>, limit: usize, i: usize, n: usize) -> Result<ShardLock> {
        let mut cookie_key = [0u8; 16];
        random_bytes(&mut cookie_key);
        let now = shared.now;
        let mut node = Node::new(
            FlowTable::new(limit, shared.fe_mem.clone(), shared.filter.clone(), now),
            FlowTable::new(limit, shared.be_mem.clone(), shared.filter.clone(), now),
            shared.cfg.clone(),
            shared.balance.clone(),
            shared.clients.clone(),
            CoreConfig::default(),
            shared.secret,
            CookieKeys::new(cookie_key, now),
        );
        node.set_shard(i, n);
        KBox::pin_init(
            crate::new_spinlock_bh!(Shard {
                node,
                deferred: KVec::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The shard of the connection whose client is `client` (there is
    /// always one: `new` makes at least one).
    fn shard(&self, client: Endpoint) -> Option<ShardRef<'_>> {
        self.shard_at(shard::of(client, self.seed, self.shards.len()))
    }

    /// Shard `i`.
    fn shard_at(&self, i: usize) -> Option<ShardRef<'_>> {
        self.shards.get(i).map(|s| ShardRef {
            lock: s.as_ref().get_ref(),
            bit: shard_bit(i),
        })
    }

    /// Runs `f` on the shard's node under its lock, with the I/O it asks
    /// for collected in `sends` and the shard's deferred work (`skb`: the
    /// packet in hand, if any).
    fn on_node<R>(
        &self,
        shard: ShardRef<'_>,
        sends: &mut Sends,
        skb: Option<&SkBuff>,
        f: impl FnOnce(&mut Node<KernelStore>, &mut KernelIo<'_>) -> R,
    ) -> R {
        let mut guard = shard.lock.lock();
        let Shard { node, deferred } = &mut *guard;
        let mut io = KernelIo {
            sends,
            deferred,
            stats: &self.stats,
            metrics: &self.metrics,
            skb,
            bit: shard.bit,
        };
        f(node, &mut io)
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
            if let Some(t) = ipip_packet(h) {
                return self.tunnelled(net, skb, h, t);
            }
            return self.not_a_segment(h);
        };
        if !self.services.contains(seg.dst()) && !self.filter.may_hold(&seg.key_from_client()) {
            // Neither for a service nor any flow's: no lock.
            return Verdict::Accept;
        }
        let Some(shard) = self.shard(seg.src()) else {
            return Verdict::Accept;
        };
        let now = now_ms();
        let mut sends = Sends::default();
        let mut payload = SkbPayload {
            skb,
            offset: u32::try_from(seg.pkt.payload_offset).unwrap_or(u32::MAX),
            len: seg.payload_len() as usize,
            copy: KVec::new(),
        };
        let disposition = self.on_node(shard, &mut sends, Some(skb), |node, io| {
            node.on_client_segment(&seg, &mut payload, skb.gso_size(), now, io)
        });
        drop(payload);
        let verdict = match disposition {
            Disposition::Accept => Verdict::Accept,
            Disposition::Drop => Verdict::Drop,
            Disposition::Forward {
                edits,
                local,
                tunnel_from,
            } => {
                let mut fields = [FieldEdit::default(); 16];
                let n = field_edits(&edits, &mut fields);
                // A request that moves stays here: its bytes are cut first.
                let cut = edits.keep.map_or(Ok(()), |k| skb.trim_payload(k));
                if cut.is_err() || skb.rewrite(fields.get(..n).unwrap_or(&[])).is_err() {
                    bump(&self.stats.rewrite_failures, 1);
                    self.flush(net, sends);
                    return Verdict::Drop;
                }
                bump(&self.stats.fe_forwarded_packets, 1);
                bump(&self.stats.fe_forwarded_bytes, u64::from(skb.len()));
                if local {
                    // A local handoff: the back-end side watches the
                    // translated segment on its way into our own stack.
                    self.be_forwarded(skb, now, &mut sends);
                    Verdict::Accept
                } else if let Some(src) = tunnel_from {
                    // Inside IPIP from our address (`encap ipip`).
                    bump(&self.stats.fe_tunnelled_packets, 1);
                    Verdict::Tunnel(src)
                } else {
                    // Now addressed to the back-end: routed out again.
                    Verdict::Output
                }
            }
        };
        self.flush(net, sends);
        verdict
    }

    /// PRE_ROUTING for an IPIP packet: a client segment a front-end
    /// tunnelled to one of our back-end flows goes in, its outer header
    /// stripped, only if it came from that front-end; anything else that
    /// is for one of our flows is dropped, and the rest left alone.
    fn tunnelled(&self, net: &Net, skb: &SkBuff, h: &[u8], t: IpipPacket) -> Verdict {
        let Some(seg) = h.get(t.inner_offset..).and_then(Seg::parse) else {
            return Verdict::Accept;
        };
        if !self.filter.may_hold(&seg.key_from_client()) {
            return Verdict::Accept;
        }
        let Some(shard) = self.shard(seg.src()) else {
            return Verdict::Accept;
        };
        let now = now_ms();
        let mut sends = Sends::default();
        let taken = self.on_node(shard, &mut sends, Some(skb), |node, io| {
            node.on_tunnelled(&seg, t.outer_src, now, io)
        });
        let verdict = match taken {
            Tunnelled::NotOurs => Verdict::Accept,
            Tunnelled::Drop => Verdict::Drop,
            Tunnelled::Decap => {
                let offset = u32::try_from(t.inner_offset).unwrap_or(u32::MAX);
                if skb.decap(offset).is_ok() {
                    bump(&self.stats.be_decapsulated_packets, 1);
                    Verdict::Accept
                } else {
                    bump(&self.stats.rewrite_failures, 1);
                    Verdict::Drop
                }
            }
        };
        self.flush(net, sends);
        verdict
    }

    /// A client segment the front-end translated into a local handoff's
    /// back-end spaces, on its way into our stack.
    fn be_forwarded(&self, skb: &SkBuff, now: u64, sends: &mut Sends) {
        let mut hbuf = [0u8; HEADERS_MAX];
        let Some(h) = headers(skb, &mut hbuf) else {
            return;
        };
        let Some(seg) = Seg::parse(h) else { return };
        let Some(shard) = self.shard(seg.src()) else {
            return;
        };
        self.on_node(shard, sends, Some(skb), |node, io| {
            node.on_forwarded(&seg, now, io)
        });
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
        if !self.filter.may_hold(&seg.key_to_client()) {
            return Verdict::Accept;
        }
        let Some(shard) = self.shard(seg.dst()) else {
            return Verdict::Accept;
        };
        let now = now_ms();
        let mut sends = Sends::default();
        let mut payload = SkbPayload {
            skb,
            offset: u32::try_from(seg.pkt.payload_offset).unwrap_or(u32::MAX),
            len: seg.payload_len() as usize,
            copy: KVec::new(),
        };
        let verdict = self.on_node(shard, &mut sends, None, |node, io| {
            node.on_egress(&seg, &mut payload, now, io)
        });
        drop(payload);
        let verdict = match verdict {
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

    /// Process context: the shards' deferred work and timers, the control
    /// channel and its messages. A few rounds, so a message received is
    /// answered in the same run, and always a bounded amount of work. A
    /// kicked run visits only the shards that left work (it runs for
    /// every connection's messages, and a namespace has up to 64 shards);
    /// the tick, and a change of live peers, visit all of them.
    pub(crate) fn work(&self, net: &Net, tick: bool) {
        let mut sends = Sends::default();
        let mut state = self.work_state.lock();
        // What the channel needs of the configuration (the same in every
        // shard).
        let Some(chan) = self
            .shards
            .first()
            .map(|s| ChannelCfg::of(s.lock().node.config()))
        else {
            return;
        };
        let vips = match tick {
            true => self.vip_changes(net, &mut state),
            false => VipChanges::default(),
        };
        for round in 0..WORK_ROUNDS {
            let live = self.ctrl.live_peers();
            let all = (tick && round == 0) || live != state.live;
            let pending = self.pending.swap(0, Ordering::Acquire);
            let mut served = Served::default();
            for (i, shard) in self.shards.iter().enumerate() {
                if !all && pending & shard_bit(i) == 0 {
                    continue;
                }
                let now = now_ms();
                let shard = ShardRef {
                    lock: shard.as_ref().get_ref(),
                    bit: shard_bit(i),
                };
                let later = self.on_node(shard, &mut sends, None, |node, io| {
                    if tick && round == 0 {
                        for &v in vips.taken.iter().filter(|&&v| v != 0) {
                            node.vip_taken(v, now, io);
                        }
                        for &v in vips.appeared.iter().filter(|&&v| v != 0) {
                            node.vip_local(v);
                        }
                        for &v in vips.lost.iter().filter(|&&v| v != 0) {
                            node.vip_lost(v);
                        }
                    }
                    if all {
                        node.set_live(live);
                        if node.cookie_key_due(now) {
                            let mut key = [0u8; 16];
                            random_bytes(&mut key);
                            node.rotate_cookie_key(key, now);
                        }
                        served = served.plus(node.served());
                    }
                    if tick && round == 0 {
                        node.on_timers(now, io);
                    }
                    core::mem::take(io.deferred)
                });
                self.run_later(net, later);
            }
            if all {
                state.live = live;
                state.served = served;
                let here = u32::try_from(served.live).unwrap_or(u32::MAX);
                self.balance.with(|b| b.set_served_here(here));
            }
            // We took a VIP: the peers hand us its connections.
            if round == 0 {
                let ours = Iterator::chain(vips.taken.iter(), vips.appeared.iter());
                for &vip in ours.filter(|&&v| v != 0) {
                    self.ctrl.send_all(&Message::FlowQuery(FlowQuery { vip }));
                }
            }
            // Messages from peers: each handled under its flow's shard's
            // lock (a FLOW_QUERY, about every flow, under each shard's in
            // turn), what they ask for carried out after.
            let mut received = KVec::new();
            self.ctrl
                .work(net, &chan, state.served.heartbeat(), &mut |from, msg| {
                    let now = now_ms();
                    let mut deliver = |shard: ShardRef<'_>| {
                        let later = self.on_node(shard, &mut sends, None, |node, io| {
                            node.on_message(from, msg, now, io);
                            core::mem::take(io.deferred)
                        });
                        for d in later {
                            let _ = received.push(d, GFP_ATOMIC);
                        }
                    };
                    if matches!(msg, Message::FlowQuery(_)) {
                        (0..self.shards.len())
                            .filter_map(|i| self.shard_at(i))
                            .for_each(&mut deliver);
                    } else if let Some(shard) = shard::client_of(msg).and_then(|c| self.shard(c)) {
                        deliver(shard);
                    }
                });
            let busy = !received.is_empty();
            self.run_later(net, received);
            if !busy {
                break;
            }
        }
        // Kicks asked for while here are this run's own work, done.
        sends.pending = 0;
        self.flush(net, sends);
    }

    /// Which service VIPs became, or stopped being, our addresses since
    /// the last tick (`state.local_vips` follows).
    fn vip_changes(&self, net: &Net, state: &mut WorkState) -> VipChanges {
        let mut vips = [0u32; MAX_SERVICES];
        if let Some(s) = self.shards.first() {
            let guard = s.lock();
            for (slot, svc) in vips.iter_mut().zip(guard.node.config().services()) {
                *slot = svc.addr;
            }
        }
        let mut changes = VipChanges::default();
        let mut now_local = [0u32; MAX_SERVICES];
        let (mut t, mut a, mut n) = (0, 0, 0);
        for &vip in vips.iter().filter(|&&v| v != 0) {
            if now_local.contains(&vip) || !net.is_local_addr(vip) {
                continue;
            }
            if let Some(slot) = now_local.get_mut(n) {
                *slot = vip;
                n += 1;
            }
            if state.local_vips.contains(&vip) {
                continue;
            }
            let (list, i) = match state.service_vips.contains(&vip) {
                true => (&mut changes.taken, &mut t),
                false => (&mut changes.appeared, &mut a),
            };
            if let Some(slot) = list.get_mut(*i) {
                *slot = vip;
                *i += 1;
            }
        }
        let mut l = 0;
        for &vip in state.local_vips.iter().filter(|&&v| v != 0) {
            if !now_local.contains(&vip) {
                if let Some(slot) = changes.lost.get_mut(l) {
                    *slot = vip;
                    l += 1;
                }
            }
        }
        state.local_vips = now_local;
        state.service_vips = vips;
        changes
    }

    /// Injections, TIME-WAIT ends and messages, with the lock dropped, in
    /// the order the node asked for them.
    fn run_later(&self, net: &Net, later: KVec<Deferred>) {
        for d in later.iter() {
            match d {
                // A client may reuse its port while the back-end's stack
                // still holds the previous connection on the 4-tuple in
                // TIME-WAIT; the stack would answer the replayed SYN with
                // an ACK unless its sequence number or timestamp is newer,
                // which a port reused towards the VIP after a direct
                // connection need not be.
                Deferred::RecycleTimeWait(k) => {
                    let from = (k.client.addr, k.client.port);
                    match net.recycle_time_wait(from, (k.server.addr, k.server.port)) {
                        TimeWait::Recycled => bump(&self.stats.timewait_recycled, 1),
                        TimeWait::Busy => bump(&self.stats.timewait_busy, 1),
                        TimeWait::None => {}
                    }
                }
                Deferred::Inject(p) => match net.inject_ip(p) {
                    Ok(()) => bump(&self.stats.injected, 1),
                    Err(_) => bump(&self.stats.inject_failures, 1),
                },
                Deferred::Control(to, msg, request) => {
                    let msg = match *msg {
                        Message::HandoffReq(r) => Message::HandoffReq(HandoffReq { request, ..r }),
                        Message::HandoffMore(m) => Message::HandoffMore(HandoffMore {
                            bytes: request,
                            ..m
                        }),
                        m => m,
                    };
                    if !self.ctrl.send(*to, &msg) {
                        bump(&self.stats.ctrl_send_failures, 1);
                    }
                }
            }
        }
    }

    fn flush(&self, net: &Net, sends: Sends) {
        for p in sends.packets.iter() {
            match net.send_ip(p) {
                Ok(()) => bump(&self.stats.sent, 1),
                Err(_) => bump(&self.stats.send_failures, 1),
            }
        }
        if sends.pending != 0 {
            self.pending.fetch_or(sends.pending, Ordering::Release);
            net.kick();
        }
    }

    /// Replaces the configuration with `text`, all or nothing; on a parse
    /// error, `why` gets the reason ("line N: ...").
    pub(crate) fn configure(&self, text: &[u8], why: &mut impl Write) -> Result {
        // Parsed in place on the heap, then put in force whole: the
        // balance first, then each shard (a packet meanwhile sees the old
        // configuration or the new one, never a mix).
        let mut cfg = unique_arc_copy(&NodeConfig::EMPTY, GFP_KERNEL)?;
        cfg.parse_into(text).map_err(|e| {
            let _ = write!(why, "{e}");
            EINVAL
        })?;
        let cfg: Arc<NodeConfig> = cfg.into();
        self.balance.with(|b| b.configure(&cfg));
        self.services.set(&cfg);
        self.ctrl.announce(&cfg);
        for shard in self.shards.iter() {
            let old = shard.lock().node.configure(cfg.clone());
            // The last reference to the old one is freed here, unlocked.
            drop(old);
        }
        Ok(())
    }

    /// Writes the configuration in its own text form (every shard has
    /// the same). Under the lock is fine: `seq_file` output only fills a
    /// kernel buffer.
    pub(crate) fn render_config(&self, w: &mut impl Write) -> fmt::Result {
        match self.shards.first() {
            Some(s) => write!(w, "{}", s.lock().node.config()),
            None => Ok(()),
        }
    }

    pub(crate) fn render_flows(&self, w: &mut impl Write) -> fmt::Result {
        // Each side's flows (live + lingering) over all shards, its limit
        // and the front-end's request bytes buffered; then every flow.
        let (mut fe_all, mut be_all) = (Occupancy::default(), Occupancy::default());
        let (mut fmax, mut bmax, mut request_bytes) = (0usize, 0usize, 0);
        for s in self.shards.iter() {
            let guard = s.lock();
            let (fe, be) = (guard.node.fe(), guard.node.be());
            fe_all = fe_all.plus(fe.occupancy());
            be_all = be_all.plus(be.occupancy());
            fmax = fmax.saturating_add(FlowStore::max(fe));
            bmax = bmax.saturating_add(FlowStore::max(be));
            request_bytes = fe.request_bytes();
        }
        writeln!(
            w,
            "fe_flows {} live {} lingering {} max {} request_bytes {}",
            fe_all.total(),
            fe_all.live(),
            fe_all.lingering(),
            fmax,
            request_bytes
        )?;
        writeln!(
            w,
            "be_flows {} live {} lingering {} max {} filter_slots {} shards {}",
            be_all.total(),
            be_all.live(),
            be_all.lingering(),
            bmax,
            self.filter.slots(),
            self.shards.len()
        )?;
        for s in self.shards.iter() {
            let guard = s.lock();
            for e in guard.node.fe().values() {
                flow_line(w, "fe", e.flow.key(), &e.flow.state(), "id", e.flow.id())?;
            }
            for e in guard.node.be().values() {
                let origin = u32::from(e.flow.origin());
                flow_line(w, "be", e.flow.key(), &e.flow.state(), "from", origin)?;
            }
        }
        Ok(())
    }

    /// Every shard's counters added up, and the front-end's and back-end's
    /// flows.
    fn node_totals(&self) -> (NodeStats, Occupancy, Occupancy) {
        let mut node = NodeStats::default();
        let (mut fe, mut be) = (Occupancy::default(), Occupancy::default());
        for s in self.shards.iter() {
            let guard = s.lock();
            node.merge(guard.node.stats());
            fe = fe.plus(guard.node.fe().occupancy());
            be = be.plus(guard.node.be().occupancy());
        }
        (node, fe, be)
    }

    pub(crate) fn render_stats(&self, w: &mut impl Write) -> fmt::Result {
        let (node, fe, be) = self.node_totals();
        for (name, v) in node.rows() {
            writeln!(w, "{name} {v}")?;
        }
        // Connections not over, as a front-end and as a back-end: what
        // `btcpctl wait-drained` waits to see at 0.
        writeln!(w, "fe_flows_live {}", fe.live())?;
        writeln!(w, "be_flows_live {}", be.live())?;
        for (name, v) in self.shell_rows() {
            writeln!(w, "{name} {v}")?;
        }
        self.ctrl.render(w)
    }

    /// What the `METRICS_GET` dump carries (rust/btcp-core/src/metrics.rs):
    /// what `render_stats` writes, as typed records, and the per-peer,
    /// per-service and per-pool figures.
    pub(crate) fn render_metrics(&self, m: &mut SeqFile) -> fmt::Result {
        let out = &mut SeqSink(m);
        let (node, fe, be) = self.node_totals();
        for (name, v) in node.rows() {
            encode(&Record::counter(name, v), out).map_err(|_| fmt::Error)?;
        }
        for (name, v) in self.shell_rows() {
            encode(&Record::counter(name, v), out).map_err(|_| fmt::Error)?;
        }
        for (name, v) in [("fe_flows_live", fe.live()), ("be_flows_live", be.live())] {
            encode(&Record::gauge(name, v as u64), out).map_err(|_| fmt::Error)?;
        }
        // The channel's lock sleeps: taken before any shard's.
        self.ctrl.render_metrics(out).map_err(|_| fmt::Error)?;
        // Under a shard's lock for the configuration's names: the records
        // only fill a kernel buffer.
        match self.shards.first() {
            Some(s) => self.metrics.encode(s.lock().node.config(), out),
            None => Ok(()),
        }
        .map_err(|_| fmt::Error)
    }

    /// The shell's own counters.
    fn shell_rows(&self) -> [(&'static str, u64); 16] {
        let s = &self.stats;
        let rows: [(&str, &AtomicU64); 16] = [
            ("timewait_recycled", &s.timewait_recycled),
            ("timewait_busy", &s.timewait_busy),
            ("fragments_dropped", &s.fragments_dropped),
            ("frag_needed_sent", &s.frag_needed_sent),
            ("fe_forwarded_packets", &s.fe_forwarded_packets),
            ("fe_forwarded_bytes", &s.fe_forwarded_bytes),
            ("fe_tunnelled_packets", &s.fe_tunnelled_packets),
            ("be_decapsulated_packets", &s.be_decapsulated_packets),
            ("be_translated_packets", &s.be_translated_packets),
            ("be_translated_bytes", &s.be_translated_bytes),
            ("rewrite_failures", &s.rewrite_failures),
            ("ctrl_send_failures", &s.ctrl_send_failures),
            ("injected", &s.injected),
            ("inject_failures", &s.inject_failures),
            ("sent", &s.sent),
            ("send_failures", &s.send_failures),
        ];
        rows.map(|(name, v)| (name, v.load(Ordering::Relaxed)))
    }
}

/// Metric records straight into a `seq_file` (binary: they are netlink
/// attributes).
struct SeqSink<'a>(&'a mut SeqFile);

impl Sink for SeqSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.0.write_bytes(bytes).map_err(|_| Full)
    }
}
