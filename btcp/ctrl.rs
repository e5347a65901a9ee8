// SPDX-License-Identifier: GPL-2.0
//! The control channel of one namespace: kernel TCP connections to the
//! other nodes, carrying framed messages authenticated with HMAC-SHA256
//! under the cluster key (`btcp_core::wire`).
//!
//! Each node sends its messages over a connection it opens to each peer,
//! and receives over the connections its peers open to it: two TCP
//! connections per pair, each used in one direction. That makes "who
//! connects" a non-question (no simultaneous-open tie-breaks) and lets each
//! side reconnect on its own. A received frame is acted on only if its MAC
//! verifies, its sender is the peer configured at the connection's source
//! address, its recipient is this node (the MAC covers both ids), and its
//! sequence number is above the last one accepted from that peer. Each
//! link (peer) has its own send counter, started from the wall clock in
//! milliseconds (shifted left 16), so it keeps growing across module
//! reloads.
//!
//! Everything here runs in process context, from the namespace's work,
//! under the channel's mutex; socket callbacks only kick the work. The
//! policy (backoff, heartbeats, liveness, which frames to act on) is the
//! core's `btcp_core::peer`, the framing and its send counter
//! `btcp_core::wire`; this file is their socket I/O.

use crate::btcp_core::config::{Ipv4, NodeConfig, Peer, MAX_PEERS};
use crate::btcp_core::flow::Endpoint;
use crate::btcp_core::health::{Listener, Listeners, Unfit};
use crate::btcp_core::keyroll::{Key, KeyRoll, Slot};
use crate::btcp_core::metrics::{encode, Full, Record, Sink};
use crate::btcp_core::node::LivePeers;
use crate::btcp_core::peer::{accept_frame, heartbeat_ms, PeerLink, PEER_DEAD_MS};
use crate::btcp_core::scope;
use crate::btcp_core::wire::{
    Capabilities, FlowRef, FrameReader, HandoffNack, Heartbeat, Hello, ListenerBytes, Mac, Message,
    NackReason, ReplayGuard, SendCounter, Services, WireError, MAC_LEN, MAX_FRAME_LEN,
};
use crate::kernel_ext::heap::drain_front;
use crate::kernel_ext::hmac::HmacSha256;
use crate::kernel_ext::net::{now_ms, real_ms, Net};
use crate::kernel_ext::socket::{KernelSocket, Recv, State};
use kernel::prelude::*;
use kernel::sync::Mutex;

/// Most bytes queued for one peer before new messages are dropped (the
/// machines retry what matters).
const OUT_MAX: usize = 1 << 20;
/// Most inbound connections (a peer reconnecting leaves old ones to close).
const INBOUND_MAX: usize = 64;
/// Our connection to a peer is given up (and redialled) once what we sent
/// has gone unacknowledged this long. Heartbeats keep data in flight, so
/// a cut link is noticed within this time; without it TCP would back its
/// retransmissions off exponentially, and after an outage of T seconds the
/// peer could stay silent for up to T more (120 s at most) once the link
/// came back.
const USER_TIMEOUT_MS: u32 = 5_000;

struct Outbound {
    id: u16,
    addr: u32,
    sock: Option<KernelSocket>,
    out: KVec<u8>,
    link: PeerLink,
    /// This link's sequence numbers, kept across reconnects; from the
    /// wall clock, so they keep growing across module reloads.
    seq: SendCounter,
    /// The services it fronts, from its last HELLO: what it may hand us.
    fronts: Option<Services>,
}

impl Outbound {
    fn connected(&self) -> bool {
        self.sock
            .as_ref()
            .is_some_and(|s| s.state() == State::Connected)
    }

    /// May get new handoffs (`PeerLink::live`), peers being declared dead
    /// after `dead_ms` of silence.
    fn live(&self, now: u64, dead_ms: u64) -> bool {
        self.link.live(self.connected(), now, dead_ms)
    }
}

struct Inbound {
    sock: KernelSocket,
    /// The configured peer at the connection's source address.
    peer: Option<u16>,
    /// `MAX_FRAME_LEN` bytes for `wire::FrameReader`, the first `kept`
    /// of them received and not yet a whole frame.
    buf: KVec<u8>,
    kept: usize,
    dead: bool,
}

/// What the channel is set up for, to notice configuration changes. The
/// keys are not part of it: they change under a running channel (`Keys`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Setup {
    node: u16,
    addr: u32,
    port: u16,
}

/// The cluster keys in use, with a MAC for each (`btcp_core::keyroll`).
struct Keys {
    roll: KeyRoll,
    /// By slot: `key`, `key-next`.
    macs: [Option<HmacSha256>; 2],
}

impl Keys {
    fn new(roll: KeyRoll) -> Keys {
        let mac = |slot| roll.key(slot).and_then(|k| HmacSha256::new(k).ok());
        Keys {
            roll,
            macs: [mac(Slot::Key), mac(Slot::Next)],
        }
    }

    /// Follows the configuration; the MACs are rebuilt if a key changed.
    fn follow(&mut self, key: Key, next: Option<Key>, overlap_s: u32, now: u64) {
        if self.roll.update(key, next, overlap_s, now) {
            *self = Keys::new(self.roll);
        }
    }

    fn mac(&self, slot: Slot) -> Option<&HmacSha256> {
        let i = match slot {
            Slot::Key => 0,
            Slot::Next => 1,
        };
        self.macs.get(i).and_then(Option::as_ref)
    }

    /// What frames are sealed with now.
    fn sealing(&self, now: u64) -> Option<&HmacSha256> {
        self.mac(self.roll.sealing(now))
    }

    /// What a received frame may be sealed with now.
    fn opening(&self, now: u64) -> Opening<'_> {
        let open = |slot| self.mac(slot).filter(|_| self.roll.opens(slot, now));
        Opening([open(Slot::Key), open(Slot::Next)])
    }

    /// Where the roll stands, for /proc.
    fn state(&self, now: u64) -> &'static str {
        match (self.roll.key(Slot::Next), self.roll.settled(now)) {
            (None, _) => "none",
            (Some(_), true) => "done",
            (Some(_), false) if self.roll.sealing(now) == Slot::Key => "opening-next",
            (Some(_), false) => "sealing-next",
        }
    }
}

/// The keys a received frame may be sealed with: either will do.
struct Opening<'a>([Option<&'a HmacSha256>; 2]);

impl Mac for Opening<'_> {
    fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
        match self.0.iter().flatten().next() {
            Some(m) => m.compute(data, tag),
            None => Err(WireError::MacFailure),
        }
    }

    fn verify(&self, data: &[u8], tag: &[u8; MAC_LEN]) -> Result<(), WireError> {
        let mut result = Err(WireError::BadMac);
        for m in self.0.iter().flatten() {
            result = m.verify(data, tag);
            if result.is_ok() {
                break;
            }
        }
        result
    }
}

impl Inner {
    /// The channel's counters, named as `render` and `render_metrics`
    /// show them.
    fn counters(&self) -> [(&'static str, u64); 5] {
        [
            ("ctrl_frames_in", self.frames_in),
            ("ctrl_frames_out", self.frames_out),
            ("ctrl_frames_rejected", self.frames_rejected),
            ("ctrl_dials", self.dials),
            ("ctrl_out_of_scope", self.out_of_scope),
        ]
    }
}

struct Inner {
    setup: Option<Setup>,
    /// The setup whose listen failed, already reported.
    listen_failed: Option<Setup>,
    keys: Option<Keys>,
    listener: Option<KernelSocket>,
    peers: KVec<Outbound>,
    inbound: KVec<Inbound>,
    /// Replay guards by peer id, kept across reconnects.
    guards: KVec<(u16, ReplayGuard)>,
    frames_in: u64,
    frames_out: u64,
    frames_rejected: u64,
    /// Connections dialled to peers.
    dials: u64,
    /// What our HELLOs say we front, and how many we have sent.
    services: Services,
    hellos: u32,
    /// HANDOFF_REQs refused by `scope::check`.
    out_of_scope: u64,
    /// The `peer-dead-ms` setting.
    dead_ms: u64,
    /// What our own listeners are unfit for (of `services`), and when
    /// that was looked at.
    own: Unfit,
    own_at: Option<u64>,
}

/// The control channel of a namespace.
#[pin_data]
pub(crate) struct Ctrl {
    #[pin]
    inner: Mutex<Inner>,
}

/// What the channel needs of the node's configuration, copied out from
/// under the namespace's spinlock (the channel sleeps).
#[derive(Clone, Copy)]
pub(crate) struct ChannelCfg {
    node: Option<Peer>,
    port: u16,
    key: Option<Key>,
    key_next: Option<Key>,
    key_overlap_s: u32,
    peers: [Option<Peer>; MAX_PEERS],
    dead_ms: u64,
}

impl ChannelCfg {
    /// Whether `addr` is a node of the cluster: this one or a peer.
    fn is_node(&self, addr: u32) -> bool {
        self.node.is_some_and(|n| n.addr == addr) || self.peer_by_addr(addr).is_some()
    }

    pub(crate) fn of(cfg: &NodeConfig) -> Self {
        let mut peers = [None; MAX_PEERS];
        for (slot, p) in peers.iter_mut().zip(cfg.peers()) {
            *slot = Some(*p);
        }
        ChannelCfg {
            node: cfg.node,
            port: cfg.ctrl_port,
            key: cfg.key,
            key_next: cfg.key_next,
            key_overlap_s: cfg.key_overlap_s,
            peers,
            dead_ms: cfg.timeouts.flow_config().peer_dead_ms,
        }
    }

    fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter().flatten()
    }

    fn peer(&self, id: u16) -> Option<&Peer> {
        self.peers().find(|p| p.id == id)
    }

    fn peer_by_addr(&self, addr: u32) -> Option<&Peer> {
        self.peers().find(|p| p.addr == addr)
    }
}

/// A message received from a peer, handed to the caller.
pub(crate) type OnMessage<'a> = &'a mut dyn FnMut(u16, &Message<'_>);

impl Ctrl {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Ctrl {
            inner <- kernel::new_mutex!(Inner {
                setup: None,
                listen_failed: None,
                keys: None,
                listener: None,
                peers: KVec::new(),
                inbound: KVec::new(),
                guards: KVec::new(),
                frames_in: 0,
                frames_out: 0,
                frames_rejected: 0,
                dials: 0,
                services: Services::NONE,
                hellos: 0,
                out_of_scope: 0,
                dead_ms: PEER_DEAD_MS,
                own: Unfit::default(),
                own_at: None,
            }),
        })
    }

    /// Runs the channel: follows the configuration, accepts, connects,
    /// sends what is queued, receives and hands each authenticated
    /// message to `on_msg` (which must not call `send`: queue replies and
    /// send them after this returns).
    /// `report` is this node's HEARTBEAT content (connections served
    /// here, flow table use in permille).
    pub(crate) fn work(
        &self,
        net: &Net,
        cfg: &ChannelCfg,
        report: (u32, u32),
        on_msg: OnMessage<'_>,
    ) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        inner.follow(net, cfg);
        if inner.setup.is_none() {
            return;
        }
        inner.accept(net, cfg);
        inner.connect(net);
        inner.heartbeat(net, report);
        inner.flush();
        inner.receive(cfg, on_msg);
        inner.flush();
    }

    /// Tells every peer the services this node fronts now, if they
    /// changed. Called before the shards get a new configuration, so a
    /// HANDOFF_REQ for a new service never goes out before the HELLO
    /// that announces it (each link delivers in order).
    pub(crate) fn announce(&self, cfg: &NodeConfig) {
        let services = Services::of(cfg.services());
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if inner.services == services {
            return;
        }
        inner.services = services;
        for i in 0..inner.peers.len() {
            if inner.peers.get(i).is_some_and(|p| p.sock.is_some()) {
                inner.hello(i);
            }
        }
    }

    /// Queues `msg` for node `to` (sent by the next `work`). False if the
    /// channel is not set up, `to` is unknown or its queue is full.
    pub(crate) fn send(&self, to: u16, msg: &Message<'_>) -> bool {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let Some(i) = inner.peers.iter().position(|p| p.id == to) else {
            return false;
        };
        inner.queue(i, msg)
    }

    /// Queues `msg` for every peer whose connection is up.
    pub(crate) fn send_all(&self, msg: &Message<'_>) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        for i in 0..inner.peers.len() {
            if inner.peers.get(i).is_some_and(|p| p.sock.is_some()) {
                inner.queue(i, msg);
            }
        }
    }

    /// The peers that may get new handoffs now (see `Outbound::live`), and
    /// those declared dead, for how long.
    pub(crate) fn live_peers(&self) -> LivePeers {
        let g = self.inner.lock();
        let now = now_ms();
        let mut live = LivePeers::default();
        live.set_own(g.own);
        for p in g.peers.iter() {
            if p.live(now, g.dead_ms) {
                let (served, unfit) = p.link.report().map_or((0, Unfit::default()), |r| {
                    (
                        r.active_flows,
                        Unfit::assess(g.services.iter(), &r.listeners),
                    )
                });
                live.add_unfit(p.id, served, unfit);
            } else if let Some(dead_for) = p.link.dead_for(now, g.dead_ms) {
                live.add_dead(p.id, dead_for);
            }
        }
        live
    }

    /// One line per peer for /proc/net/btcp/counters.
    pub(crate) fn render(&self, w: &mut impl core::fmt::Write) -> core::fmt::Result {
        let g = self.inner.lock();
        for (name, v) in g.counters() {
            writeln!(w, "{name} {v}")?;
        }
        let now = now_ms();
        if let Some(k) = g.keys.as_ref() {
            writeln!(w, "ctrl_key_roll {}", k.state(now))?;
        }
        for p in g.peers.iter() {
            write!(
                w,
                "ctrl_peer {} {} {} queued {}",
                p.id,
                if p.connected() { "up" } else { "down" },
                if p.live(now, g.dead_ms) {
                    "live"
                } else {
                    "silent"
                },
                p.out.len()
            )?;
            if let Some(ago) = p.link.heard_ago(now) {
                write!(w, " heard_ms_ago {ago}")?;
            }
            if let Some(r) = p.link.report() {
                write!(w, " serves {} load {}", r.active_flows, r.load)?;
                for l in r.listeners.iter() {
                    let s = l.service;
                    match l.listening {
                        true => write!(
                            w,
                            " listen {}:{} backlog {}/{} oldest_ms {}",
                            Ipv4(s.addr),
                            s.port,
                            l.queued,
                            l.limit,
                            l.oldest_ms
                        )?,
                        false => write!(w, " no-listener {}:{}", Ipv4(s.addr), s.port)?,
                    }
                }
            }
            writeln!(w)?;
        }
        Ok(())
    }

    /// The channel's figures as metric records: its counters, and per
    /// peer its state and last report (what `render` writes as text).
    pub(crate) fn render_metrics(&self, out: &mut impl Sink) -> Result<(), Full> {
        let g = self.inner.lock();
        for (name, v) in g.counters() {
            encode(&Record::counter(name, v), out)?;
        }
        let now = now_ms();
        for p in g.peers.iter() {
            let peer = |name, v: u64| Record {
                peer: Some(p.id),
                ..Record::gauge(name, v)
            };
            encode(&peer("peer_connected", u64::from(p.connected())), out)?;
            encode(&peer("peer_live", u64::from(p.live(now, g.dead_ms))), out)?;
            encode(&peer("peer_queued_bytes", p.out.len() as u64), out)?;
            if let Some(ago) = p.link.heard_ago(now) {
                encode(&peer("peer_heard_ms_ago", ago), out)?;
            }
            let Some(r) = p.link.report() else {
                continue;
            };
            encode(&peer("peer_serves", u64::from(r.active_flows)), out)?;
            encode(&peer("peer_load_permille", u64::from(r.load)), out)?;
            for l in r.listeners.iter() {
                let service = |name, v: u32| Record {
                    service: Some(l.service),
                    ..peer(name, u64::from(v))
                };
                encode(&service("peer_listening", u32::from(l.listening)), out)?;
                encode(&service("peer_accept_queue", l.queued), out)?;
                encode(&service("peer_accept_limit", l.limit), out)?;
                encode(&service("peer_accept_oldest_ms", l.oldest_ms), out)?;
            }
        }
        Ok(())
    }
}

/// At namespace exit every connection is aborted: a graceful close would
/// leave sockets and timers behind in a namespace that is going away.
impl Drop for Inner {
    fn drop(&mut self) {
        self.teardown();
    }
}

impl Inner {
    fn teardown(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
        for p in core::mem::take(&mut self.peers) {
            if let Some(s) = p.sock {
                s.abort();
            }
        }
        for i in core::mem::take(&mut self.inbound) {
            i.sock.abort();
        }
        self.setup = None;
    }

    /// Rebuilds the channel when this node's id, address or port changed
    /// or its key went, the peer list when peers came or went, and the
    /// MACs when a key changed (`Keys`).
    fn follow(&mut self, net: &Net, cfg: &ChannelCfg) {
        let want = match (cfg.node, cfg.key) {
            (Some(n), Some(_)) => Some(Setup {
                node: n.id,
                addr: n.addr,
                port: cfg.port,
            }),
            _ => None,
        };
        let now = now_ms();
        self.dead_ms = cfg.dead_ms;
        match (cfg.key, self.keys.as_mut()) {
            (None, _) => self.keys = None,
            (Some(key), Some(k)) => k.follow(key, cfg.key_next, cfg.key_overlap_s, now),
            (Some(key), None) => {
                let roll = KeyRoll::new(key, cfg.key_next, cfg.key_overlap_s, now);
                self.keys = Some(Keys::new(roll));
            }
        }
        if want != self.setup {
            self.teardown();
            let Some(s) = want else { return };
            let Ok(listener) = KernelSocket::listen(net, s.addr, s.port) else {
                // Retried every tick (the address may come up later);
                // said once per configuration.
                if self.listen_failed != Some(s) {
                    pr_warn!("ctrl: cannot listen on {}:{}\n", Ipv4(s.addr), s.port);
                    self.listen_failed = Some(s);
                }
                return;
            };
            self.listen_failed = None;
            let mut listener = listener;
            if let Ok(k) = net.kicker() {
                listener.set_callback(k);
            }
            self.listener = Some(listener);
            self.setup = Some(s);
        }
        // Peers: drop the ones no longer configured, add new ones (on
        // every run, so only when they differ: rebuilding allocates).
        let same = self.peers.len() == cfg.peers().count()
            && self
                .peers
                .iter()
                .all(|p| cfg.peer(p.id).is_some_and(|c| c.addr == p.addr));
        if same {
            return;
        }
        for p in core::mem::take(&mut self.peers) {
            if cfg.peer(p.id).is_some_and(|c| c.addr == p.addr) {
                let _ = self.peers.push(p, GFP_KERNEL);
            } else if let Some(s) = p.sock {
                s.abort();
            }
        }
        for c in cfg.peers() {
            if self.peers.iter().all(|p| p.id != c.id) {
                let _ = self.peers.push(
                    Outbound {
                        id: c.id,
                        addr: c.addr,
                        sock: None,
                        out: KVec::new(),
                        link: PeerLink::new(),
                        seq: SendCounter::new(real_ms() << 16),
                        fronts: None,
                    },
                    GFP_KERNEL,
                );
            }
        }
    }

    fn accept(&mut self, net: &Net, cfg: &ChannelCfg) {
        let Some(l) = self.listener.as_ref() else {
            return;
        };
        while let Ok(Some(mut sock)) = l.accept() {
            let peer = sock
                .peer()
                .ok()
                .and_then(|(addr, _)| cfg.peer_by_addr(addr))
                .map(|p| p.id);
            if peer.is_none() || self.inbound.len() >= INBOUND_MAX {
                // Not a configured node: refuse at once.
                sock.abort();
                continue;
            }
            if let Ok(k) = net.kicker() {
                sock.set_callback(k);
            }
            sock.set_nodelay();
            let Ok(buf) = KVec::from_elem(0u8, MAX_FRAME_LEN, GFP_KERNEL) else {
                sock.abort();
                continue;
            };
            let _ = self.inbound.push(
                Inbound {
                    sock,
                    peer,
                    buf,
                    kept: 0,
                    dead: false,
                },
                GFP_KERNEL,
            );
        }
    }

    fn connect(&mut self, net: &Net) {
        let Some(setup) = self.setup else { return };
        let now = now_ms();
        for i in 0..self.peers.len() {
            let Some(p) = self.peers.get_mut(i) else {
                break;
            };
            let dead = match p.sock.as_ref() {
                None => true,
                Some(s) => s.state() == State::Closed || s.error().is_some(),
            };
            if !dead || !p.link.may_dial(now) {
                continue;
            }
            if let Some(s) = p.sock.take() {
                s.abort();
            }
            // Frames half-sent on a dead connection are lost with it, and
            // a new one starts with our HELLO; the machines resend what
            // matters.
            p.out = KVec::new();
            p.link.dialled(now);
            self.dials += 1;
            let Ok(k) = net.kicker() else { continue };
            if let Ok(s) = KernelSocket::connect_with_callback(net, p.addr, setup.port, k) {
                s.set_nodelay();
                s.set_user_timeout(USER_TIMEOUT_MS);
                p.sock = Some(s);
                self.hello(i);
            }
        }
    }

    /// Queues a HELLO with the services we front for peer `i`.
    fn hello(&mut self, i: usize) {
        let Some(setup) = self.setup else { return };
        self.hellos = self.hellos.wrapping_add(1);
        let msg = Message::Hello(Hello {
            node_id: setup.node,
            capabilities: Capabilities::BACKEND,
            generation: self.hellos,
            services: self.services,
        });
        self.queue(i, &msg);
    }

    /// Seals `msg` onto peer `i`'s queue. False if the channel is not set
    /// up or the queue is full.
    fn queue(&mut self, i: usize, msg: &Message<'_>) -> bool {
        let now = now_ms();
        let (Some(setup), Some(mac)) =
            (self.setup, self.keys.as_ref().and_then(|k| k.sealing(now)))
        else {
            return false;
        };
        let Some(p) = self.peers.get_mut(i) else {
            return false;
        };
        let n = msg.frame_len();
        if p.out.len().saturating_add(n) > OUT_MAX {
            return false;
        }
        let start = p.out.len();
        if p.out.extend_with(n, 0, GFP_KERNEL).is_err() {
            return false;
        }
        let ok = match (p.seq.next_seq(), p.out.get_mut(start..)) {
            (Ok(seq), Some(buf)) => msg.encode_sealed(setup.node, p.id, seq, mac, buf).is_ok(),
            _ => false,
        };
        if !ok {
            // Roll back: rebuild the queue without the failed frame.
            let mut keep = KVec::new();
            let _ = keep.extend_from_slice(p.out.get(..start).unwrap_or(&[]), GFP_KERNEL);
            p.out = keep;
            return false;
        }
        self.frames_out += 1;
        true
    }

    /// A HEARTBEAT to every connected peer four times per `peer-dead-ms`
    /// (`peer::heartbeat_ms`): it tells the peer we are alive, how loaded
    /// we are, and how our listeners for the services it fronts are
    /// (`btcp_core::health`). Our own listeners are looked at as often.
    fn heartbeat(&mut self, net: &Net, (active_flows, load): (u32, u32)) {
        let Some(setup) = self.setup else { return };
        let now = now_ms();
        let every = heartbeat_ms(self.dead_ms);
        if self.own_at.map_or(true, |t| now.saturating_sub(t) >= every) {
            self.own_at = Some(now);
            self.own = Unfit::assess(self.services.iter(), &listeners(net, self.services.iter()));
        }
        for i in 0..self.peers.len() {
            let Some(p) = self.peers.get(i) else { break };
            if !(p.connected() && p.link.heartbeat_due(now, self.dead_ms)) {
                continue;
            }
            let mut buf = [0u8; ListenerBytes::LEN];
            let theirs = listeners(net, p.fronts.iter().flat_map(|f| f.iter()));
            let msg = Message::Heartbeat(Heartbeat {
                node_id: setup.node,
                active_flows,
                load,
                timestamp_ms: real_ms(),
                listeners: ListenerBytes::write(&theirs, &mut buf),
            });
            if self.queue(i, &msg) {
                if let Some(p) = self.peers.get_mut(i) {
                    p.link.heartbeat_sent(now);
                }
            }
        }
    }

    fn flush(&mut self) {
        let now = now_ms();
        for p in self.peers.iter_mut() {
            let Some(s) = p.sock.as_ref() else { continue };
            if s.state() != State::Connected {
                continue;
            }
            p.link.connected(now);
            match s.send(&p.out) {
                Ok(0) => {}
                Ok(n) => drain_front(&mut p.out, n),
                Err(_) => {
                    if let Some(s) = p.sock.take() {
                        s.abort();
                    }
                    p.out = KVec::new();
                }
            }
        }
    }

    fn receive(&mut self, cfg: &ChannelCfg, on_msg: OnMessage<'_>) {
        // NACKs for requests out of scope, queued once the receive is done.
        let mut refused: KVec<(u16, HandoffNack)> = KVec::new();
        let Inner {
            setup,
            keys,
            inbound,
            guards,
            peers,
            frames_in,
            frames_rejected,
            out_of_scope,
            ..
        } = self;
        let now = now_ms();
        let (Some(keys), Some(own)) = (keys.as_ref(), setup.map(|s| s.node)) else {
            return;
        };
        let mac = &keys.opening(now);
        for c in inbound.iter_mut() {
            // The connection's buffer, its first `kept` bytes a frame's
            // start from an earlier receive.
            let mut reader = FrameReader::resume(&mut c.buf, c.kept);
            while !c.dead {
                let spare = reader.spare();
                if spare.is_empty() {
                    // Cannot be (a frame that fits is whole by then), and
                    // would never move again.
                    c.dead = true;
                    break;
                }
                let n = match c.sock.recv(spare) {
                    Ok(Recv::Data(n)) => n,
                    Ok(Recv::WouldBlock) => break,
                    Ok(Recv::Closed) | Err(_) => {
                        c.dead = true;
                        break;
                    }
                };
                if reader.commit(n).is_err() {
                    c.dead = true;
                    break;
                }
                // Every whole frame received.
                loop {
                    match reader.next_verified(mac) {
                        Ok(Some(frame)) => {
                            let guard = guard_of(guards, c.peer);
                            if !guard.is_some_and(|g| accept_frame(own, c.peer, &frame, g)) {
                                *frames_rejected += 1;
                                c.dead = true;
                                break;
                            }
                            *frames_in += 1;
                            let Some(p) = peers.iter_mut().find(|p| Some(p.id) == c.peer) else {
                                continue;
                            };
                            let report = match frame.message {
                                Message::Heartbeat(ref h) => Some(h),
                                _ => None,
                            };
                            p.link.heard(now, report);
                            match frame.message {
                                Message::Hello(h) => p.fronts = Some(h.services),
                                Message::HandoffReq(r) => {
                                    let fronts = p.fronts.as_ref();
                                    if scope::check(&r, fronts, |a| cfg.is_node(a)).is_err() {
                                        *out_of_scope += 1;
                                        let nack = HandoffNack {
                                            flow: FlowRef::of(&r),
                                            reason: NackReason::OutOfScope,
                                        };
                                        let _ = refused.push((p.id, nack), GFP_KERNEL);
                                        continue;
                                    }
                                    on_msg(frame.header.sender, &frame.message);
                                }
                                // Only a peer that fronts the VIP may take
                                // its connections (its HELLO said so).
                                Message::FlowQuery(q) => {
                                    let fronts = p.fronts.as_ref();
                                    if fronts.is_some_and(|f| f.iter().any(|s| s.addr == q.vip)) {
                                        on_msg(frame.header.sender, &frame.message);
                                    } else {
                                        *out_of_scope += 1;
                                    }
                                }
                                _ => on_msg(frame.header.sender, &frame.message),
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            // Out of step, forged, or a frame that can
                            // never fit: nothing more on this connection
                            // can be trusted.
                            *frames_rejected += 1;
                            c.dead = true;
                            break;
                        }
                    }
                }
            }
            c.kept = reader.suspend();
        }
        if inbound.iter().any(|c| c.dead) {
            for c in core::mem::take(inbound) {
                if c.dead {
                    c.sock.abort();
                } else {
                    let _ = inbound.push(c, GFP_KERNEL);
                }
            }
        }
        for (id, nack) in refused.iter() {
            if let Some(i) = self.peers.iter().position(|p| p.id == *id) {
                self.queue(i, &Message::HandoffNack(*nack));
            }
        }
    }
}

/// Peer `peer`'s replay guard (made on its first frame), kept across
/// reconnects for as long as the key is.
fn guard_of(guards: &mut KVec<(u16, ReplayGuard)>, peer: Option<u16>) -> Option<&mut ReplayGuard> {
    let peer = peer?;
    if guards.iter().all(|(id, _)| *id != peer)
        && guards.push((peer, ReplayGuard::new()), GFP_KERNEL).is_err()
    {
        return None;
    }
    guards
        .iter_mut()
        .find(|(id, _)| *id == peer)
        .map(|(_, g)| g)
}

/// Our listeners for `services`, as a HEARTBEAT reports them.
fn listeners<'a>(net: &Net, services: impl Iterator<Item = &'a Endpoint>) -> Listeners {
    Listeners::of(services.map(|&service| {
        let q = net.listener(service.addr, service.port);
        Listener {
            service,
            listening: q.is_some(),
            queued: q.map_or(0, |q| q.queued),
            limit: q.map_or(0, |q| q.limit),
            oldest_ms: q.map_or(0, |q| q.oldest_ms),
        }
    }))
}
