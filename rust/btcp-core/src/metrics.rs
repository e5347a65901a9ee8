//! What an operator scrapes (`btcpctl stats --format prometheus`;
//! Documentation/admin-guide.md, "Metrics"): figures per peer, per service
//! and per pool, and the typed netlink attributes every figure travels in
//! (`METRICS_GET`, rust/glue_genl.h).
//!
//! [`Metrics`] is all atomics, updated by every shard without a lock
//! ([`Metrics::record`]); its keys (node ids, services, pool names) claim a
//! slot the first time they are seen and keep it, so a configuration change
//! never moves a counter to another key. Keys past the slots are counted in
//! one `metrics_untracked` counter. Round trips are measured on the
//! millisecond clock the flows run on.
//!
//! A figure is one [`Record`], encoded by [`encode`] as one `METRIC`
//! attribute (nested) holding its name, kind, value and labels; a
//! histogram adds its sum and its cumulative buckets. The node's own
//! counters are records without labels.

use super::config::{NodeConfig, MAX_PEERS, MAX_POOLS, MAX_SERVICES};
use super::flow::Endpoint;
use super::rules::PoolName;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (ms) of the handoff round-trip histogram's buckets; a last
/// one takes the rest (+Inf). The channel's timeout (`handoff-ms`, 1 s by
/// default) lies inside.
pub const RTT_BOUNDS_MS: [u64; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
/// Buckets of the histogram, +Inf included.
pub const RTT_BUCKETS: usize = RTT_BOUNDS_MS.len() + 1;

/// Nodes with figures: every peer and this node (local handoffs).
pub const NODE_SLOTS: usize = MAX_PEERS + 1;
/// Services and pools with figures: twice what one configuration holds,
/// for the ones a change removed or added.
pub const SERVICE_SLOTS: usize = MAX_SERVICES * 2;
/// See [`SERVICE_SLOTS`].
pub const POOL_SLOTS: usize = MAX_POOLS * 2;

/// Netlink attribute types (`enum btcp_genl_attr` and
/// `enum btcp_metric_attr`, rust/glue_genl.h).
pub mod attr {
    /// The family's attribute holding one record (nested).
    pub const METRIC: u16 = 4;
    /// A record's name (string), e.g. `handoffs_remote`.
    pub const NAME: u16 = 1;
    /// Its [`super::Kind`] (u8).
    pub const KIND: u16 = 2;
    /// Its value (u64); a histogram's count.
    pub const VALUE: u16 = 3;
    /// Label: the peer node it is about (u16).
    pub const PEER: u16 = 4;
    /// Label: the service's address (u32, host order).
    pub const SERVICE_ADDR: u16 = 5;
    /// Label: the service's port (u16).
    pub const SERVICE_PORT: u16 = 6;
    /// Label: the pool's name (string).
    pub const POOL: u16 = 7;
    /// A histogram's sum (u64, milliseconds).
    pub const SUM_MS: u16 = 8;
    /// A histogram's bucket (nested: `LE_MS`, `COUNT`), in order.
    pub const BUCKET: u16 = 9;
    /// A bucket's upper bound (u64, milliseconds; `u64::MAX` is +Inf).
    pub const LE_MS: u16 = 1;
    /// A bucket's cumulative count (u64).
    pub const COUNT: u16 = 2;
}

/// What a record's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Only ever grows (until the module is reloaded).
    Counter = 0,
    /// Goes up and down.
    Gauge = 1,
    /// Round trips: the value is their count.
    Histogram = 2,
}

/// Something a node did that a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A connection of `service` handed off to `node`, through `pool`
    /// when a pool's policy picked it.
    Offered {
        /// The node.
        node: u16,
        /// The VIP and port.
        service: Endpoint,
        /// The pool, if any.
        pool: Option<PoolName>,
    },
    /// `node` took a handoff `rtt_ms` after it was offered.
    Answered {
        /// The node.
        node: u16,
        /// From the HANDOFF_REQ to its HANDOFF_ACK.
        rtt_ms: u64,
    },
    /// `node` refused a handoff (HANDOFF_NACK).
    Refused {
        /// The node.
        node: u16,
    },
    /// `node` did not answer a handoff in time.
    TimedOut {
        /// The node.
        node: u16,
    },
    /// `node` released a connection whose next request belonged
    /// elsewhere (per-request dispatch), `wait_ms` after it was asked:
    /// how long the request waited for the responses before it.
    Released {
        /// The node.
        node: u16,
        /// From the first MOVE_RELEASE to MOVE_RELEASED.
        wait_ms: u64,
    },
}

/// Keys that claim a slot when first seen and keep it (0: free; a key is
/// stored plus one).
struct Slots<const N: usize>([AtomicU64; N]);

impl<const N: usize> Slots<N> {
    const fn new() -> Self {
        Slots([const { AtomicU64::new(0) }; N])
    }

    /// The slot of `key`, claimed if new; `None` when every slot is taken.
    fn claim(&self, key: u64) -> Option<usize> {
        let stored = key.wrapping_add(1);
        for (i, s) in self.0.iter().enumerate() {
            match s.load(Relaxed) {
                v if v == stored => return Some(i),
                0 => match s.compare_exchange(0, stored, Relaxed, Relaxed) {
                    Ok(_) => return Some(i),
                    Err(v) if v == stored => return Some(i),
                    Err(_) => {}
                },
                _ => {}
            }
        }
        None
    }

    /// The slot of `key`, if it has one.
    fn find(&self, key: u64) -> Option<usize> {
        let stored = key.wrapping_add(1);
        self.0.iter().position(|s| s.load(Relaxed) == stored)
    }

    /// The keys with a slot, and their slots.
    fn keys(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.load(Relaxed) {
                0 => None,
                v => Some((i, v.wrapping_sub(1))),
            })
    }
}

/// One node's handoff figures.
struct NodeCounters {
    offered: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
    /// Round trips per bucket (not cumulative).
    rtt: [AtomicU64; RTT_BUCKETS],
    rtt_sum_ms: AtomicU64,
    /// Releases' waits per bucket (not cumulative).
    move_wait: [AtomicU64; RTT_BUCKETS],
    move_wait_sum_ms: AtomicU64,
}

impl NodeCounters {
    const fn new() -> Self {
        NodeCounters {
            offered: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            rtt: [const { AtomicU64::new(0) }; RTT_BUCKETS],
            rtt_sum_ms: AtomicU64::new(0),
            move_wait: [const { AtomicU64::new(0) }; RTT_BUCKETS],
            move_wait_sum_ms: AtomicU64::new(0),
        }
    }

    /// Its round trips, as read.
    fn rtt(&self) -> Histogram {
        read_histogram(&self.rtt, &self.rtt_sum_ms)
    }

    /// Its releases' waits, as read.
    fn move_wait(&self) -> Histogram {
        read_histogram(&self.move_wait, &self.move_wait_sum_ms)
    }
}

/// A histogram's buckets (not cumulative) and sum, as read.
fn read_histogram(buckets: &[AtomicU64; RTT_BUCKETS], sum_ms: &AtomicU64) -> Histogram {
    let mut h = Histogram::default();
    let mut sum = 0u64;
    for (out, b) in h.cumulative.iter_mut().zip(buckets.iter()) {
        sum = sum.saturating_add(b.load(Relaxed));
        *out = sum;
    }
    h.sum_ms = sum_ms.load(Relaxed);
    h
}

/// Counts `ms` in its bucket of [`RTT_BOUNDS_MS`].
fn observe(buckets: &[AtomicU64; RTT_BUCKETS], sum_ms: &AtomicU64, ms: u64) {
    let b = RTT_BOUNDS_MS.iter().take_while(|&&le| ms > le).count();
    if let Some(b) = buckets.get(b) {
        bump(b);
    }
    sum_ms.fetch_add(ms, Relaxed);
}

/// A histogram as read: cumulative counts per bucket of [`RTT_BOUNDS_MS`]
/// (and +Inf, the count) and the sum of the observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Histogram {
    /// Observations at most each bound; the last is all of them.
    pub cumulative: [u64; RTT_BUCKETS],
    /// Their sum, in milliseconds.
    pub sum_ms: u64,
}

impl Histogram {
    /// How many observations there are.
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The buckets' bounds in milliseconds (`u64::MAX`: +Inf) with their
    /// cumulative counts.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        RTT_BOUNDS_MS
            .iter()
            .copied()
            .chain(core::iter::once(u64::MAX))
            .zip(self.cumulative.iter().copied())
    }
}

/// The figures of one network namespace (see the module's documentation).
/// All zero bytes is its empty value: the kernel allocates it zeroed.
pub struct Metrics {
    nodes: Slots<NODE_SLOTS>,
    node: [NodeCounters; NODE_SLOTS],
    services: Slots<SERVICE_SLOTS>,
    /// Handoffs per service (its slot) and node (its slot).
    service: [[AtomicU64; NODE_SLOTS]; SERVICE_SLOTS],
    pools: Slots<POOL_SLOTS>,
    /// Handoffs a pool's policy picked, per pool and node.
    pool: [[AtomicU64; NODE_SLOTS]; POOL_SLOTS],
    untracked: AtomicU64,
}

impl Default for Metrics {
    // Inline: never compiled where unused (the kernel builds it zeroed in
    // place; a function returning it by value needs several KiB of stack).
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

/// A service as a slot key: its address and port.
fn service_key(s: Endpoint) -> u64 {
    (u64::from(s.addr) << 16) | u64::from(s.port)
}

/// A pool name as a slot key: its FNV-1a hash (names are at most 16
/// bytes; the hash never reaches `u64::MAX`'s neighbourhood by design of
/// the claim, which stores key + 1 with wrapping).
fn pool_key(p: &PoolName) -> u64 {
    p.as_bytes().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Metrics {
    /// Nothing counted yet. Several KiB: the kernel allocates it zeroed
    /// instead (see [`Default`]'s comment).
    #[inline]
    pub const fn new() -> Self {
        Metrics {
            nodes: Slots::new(),
            node: [const { NodeCounters::new() }; NODE_SLOTS],
            services: Slots::new(),
            service: [const { [const { AtomicU64::new(0) }; NODE_SLOTS] }; SERVICE_SLOTS],
            pools: Slots::new(),
            pool: [const { [const { AtomicU64::new(0) }; NODE_SLOTS] }; POOL_SLOTS],
            untracked: AtomicU64::new(0),
        }
    }

    /// Counts `ev`.
    pub fn record(&self, ev: &Event) {
        let node = |id: u16| {
            let slot = self.nodes.claim(u64::from(id));
            slot.and_then(|i| self.node.get(i).map(|c| (i, c)))
        };
        let counted = match *ev {
            Event::Offered {
                node: id,
                service,
                pool,
            } => node(id).is_some_and(|(i, c)| {
                bump(&c.offered);
                let svc = self.services.claim(service_key(service));
                let by_service = svc
                    .and_then(|s| self.service.get(s))
                    .and_then(|row| row.get(i))
                    .map(bump)
                    .is_some();
                let by_pool = match pool {
                    None => true,
                    Some(p) => self
                        .pools
                        .claim(pool_key(&p))
                        .and_then(|s| self.pool.get(s))
                        .and_then(|row| row.get(i))
                        .map(bump)
                        .is_some(),
                };
                by_service && by_pool
            }),
            Event::Answered { node: id, rtt_ms } => node(id).is_some_and(|(_, c)| {
                bump(&c.answered);
                observe(&c.rtt, &c.rtt_sum_ms, rtt_ms);
                true
            }),
            Event::Released { node: id, wait_ms } => node(id).is_some_and(|(_, c)| {
                observe(&c.move_wait, &c.move_wait_sum_ms, wait_ms);
                true
            }),
            Event::Refused { node: id } => node(id).is_some_and(|(_, c)| {
                bump(&c.refused);
                true
            }),
            Event::TimedOut { node: id } => node(id).is_some_and(|(_, c)| {
                bump(&c.timed_out);
                true
            }),
        };
        if !counted {
            bump(&self.untracked);
        }
    }

    /// The handoff round trips to `node` so far.
    pub fn rtt(&self, node: u16) -> Histogram {
        self.nodes
            .find(u64::from(node))
            .and_then(|i| self.node.get(i))
            .map_or_else(Histogram::default, NodeCounters::rtt)
    }

    /// Encodes every figure as records: per node (peers and this one),
    /// per service and per pool, then `metrics_untracked`. Services and
    /// pools are named by `cfg` (a pool no longer configured is left
    /// out: its name is not kept).
    pub fn encode(&self, cfg: &NodeConfig, out: &mut impl Sink) -> Result<(), Full> {
        for (i, key) in self.nodes.keys() {
            let (Some(c), Ok(id)) = (self.node.get(i), u16::try_from(key)) else {
                continue;
            };
            let peer = |name, value: &AtomicU64| Record {
                peer: Some(id),
                ..Record::counter(name, value.load(Relaxed))
            };
            encode(&peer("peer_handoffs", &c.offered), out)?;
            encode(&peer("peer_handoff_acks", &c.answered), out)?;
            encode(&peer("peer_handoff_nacks", &c.refused), out)?;
            encode(&peer("peer_handoff_timeouts", &c.timed_out), out)?;
            let h = c.rtt();
            encode(
                &Record {
                    kind: Kind::Histogram,
                    value: h.count(),
                    hist: Some(h),
                    ..peer("peer_handoff_rtt", &c.answered)
                },
                out,
            )?;
            let w = c.move_wait();
            encode(
                &Record {
                    kind: Kind::Histogram,
                    value: w.count(),
                    hist: Some(w),
                    ..peer("peer_move_wait", &c.answered)
                },
                out,
            )?;
        }
        for (s, key) in self.services.keys() {
            let service = Endpoint::new((key >> 16) as u32, key as u16);
            let Some(row) = self.service.get(s) else {
                continue;
            };
            self.per_node(row, out, |id, v| Record {
                peer: Some(id),
                service: Some(service),
                ..Record::counter("service_handoffs", v)
            })?;
        }
        for p in cfg.pools() {
            let Some(row) = self
                .pools
                .find(pool_key(&p.name))
                .and_then(|s| self.pool.get(s))
            else {
                continue;
            };
            let name = p.name.as_str();
            self.per_node(row, out, |id, v| Record {
                peer: Some(id),
                pool: Some(name),
                ..Record::counter("pool_picks", v)
            })?;
        }
        encode(
            &Record::counter("metrics_untracked", self.untracked.load(Relaxed)),
            out,
        )
    }

    /// One record per node with a slot, from `row` (indexed by node slot).
    fn per_node<'a>(
        &self,
        row: &[AtomicU64; NODE_SLOTS],
        out: &mut impl Sink,
        record: impl Fn(u16, u64) -> Record<'a>,
    ) -> Result<(), Full> {
        for (i, key) in self.nodes.keys() {
            if let (Some(v), Ok(id)) = (row.get(i), u16::try_from(key)) {
                encode(&record(id, v.load(Relaxed)), out)?;
            }
        }
        Ok(())
    }
}

/// One figure, as it travels (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Lower case, digits and `_`.
    pub name: &'a str,
    /// What the value is.
    pub kind: Kind,
    /// The value; a histogram's count.
    pub value: u64,
    /// Label: the peer (or this node) it is about.
    pub peer: Option<u16>,
    /// Label: the service.
    pub service: Option<Endpoint>,
    /// Label: the pool.
    pub pool: Option<&'a str>,
    /// A histogram's buckets and sum.
    pub hist: Option<Histogram>,
}

impl<'a> Record<'a> {
    /// A counter without labels.
    pub fn counter(name: &'a str, value: u64) -> Self {
        Record {
            name,
            kind: Kind::Counter,
            value,
            peer: None,
            service: None,
            pool: None,
            hist: None,
        }
    }

    /// A gauge without labels.
    pub fn gauge(name: &'a str, value: u64) -> Self {
        Record {
            kind: Kind::Gauge,
            ..Record::counter(name, value)
        }
    }
}

/// The sink had no room for a record (the kernel's renders again with
/// more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Where records are written: whole attributes, in order.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full>;
}

/// Netlink's attribute alignment.
const ALIGN: usize = 4;
const HDR: usize = 4;
const ZEROS: [u8; ALIGN] = [0; ALIGN];

fn padded(n: usize) -> usize {
    n.saturating_add(ALIGN - 1) & !(ALIGN - 1)
}

/// The length of an attribute with `payload` bytes, padding included.
fn attr_size(payload: usize) -> usize {
    padded(HDR.saturating_add(payload))
}

/// One attribute of `ty` around `payload_len` bytes: its header, then
/// the caller's payload, then padding from [`pad`].
fn header(ty: u16, payload_len: usize, out: &mut impl Sink) -> Result<(), Full> {
    let len = u16::try_from(HDR.saturating_add(payload_len)).map_err(|_| Full)?;
    out.put(&len.to_ne_bytes())?;
    out.put(&ty.to_ne_bytes())
}

fn pad(payload_len: usize, out: &mut impl Sink) -> Result<(), Full> {
    let n = padded(payload_len).saturating_sub(payload_len);
    out.put(ZEROS.get(..n).unwrap_or(&[]))
}

fn put_bytes(ty: u16, b: &[u8], out: &mut impl Sink) -> Result<(), Full> {
    header(ty, b.len(), out)?;
    out.put(b)?;
    pad(b.len(), out)
}

/// A NUL-terminated string attribute: its payload's length.
fn str_len(s: &str) -> usize {
    s.len().saturating_add(1)
}

fn put_str(ty: u16, s: &str, out: &mut impl Sink) -> Result<(), Full> {
    header(ty, str_len(s), out)?;
    out.put(s.as_bytes())?;
    out.put(&[0])?;
    pad(str_len(s), out)
}

fn bucket_size() -> usize {
    attr_size(attr_size(8).saturating_mul(2))
}

/// The payload length of `r`'s `METRIC` attribute.
fn record_len(r: &Record<'_>) -> usize {
    let mut n = attr_size(str_len(r.name))
        .saturating_add(attr_size(1))
        .saturating_add(attr_size(8));
    if r.peer.is_some() {
        n = n.saturating_add(attr_size(2));
    }
    if r.service.is_some() {
        n = n.saturating_add(attr_size(4)).saturating_add(attr_size(2));
    }
    if let Some(p) = r.pool {
        n = n.saturating_add(attr_size(str_len(p)));
    }
    if r.hist.is_some() {
        n = n
            .saturating_add(attr_size(8))
            .saturating_add(bucket_size().saturating_mul(RTT_BUCKETS));
    }
    n
}

/// Writes `r` as one `METRIC` attribute.
pub fn encode(r: &Record<'_>, out: &mut impl Sink) -> Result<(), Full> {
    header(attr::METRIC, record_len(r), out)?;
    put_str(attr::NAME, r.name, out)?;
    put_bytes(attr::KIND, &[r.kind as u8], out)?;
    put_bytes(attr::VALUE, &r.value.to_ne_bytes(), out)?;
    if let Some(p) = r.peer {
        put_bytes(attr::PEER, &p.to_ne_bytes(), out)?;
    }
    if let Some(s) = r.service {
        put_bytes(attr::SERVICE_ADDR, &s.addr.to_ne_bytes(), out)?;
        put_bytes(attr::SERVICE_PORT, &s.port.to_ne_bytes(), out)?;
    }
    if let Some(p) = r.pool {
        put_str(attr::POOL, p, out)?;
    }
    if let Some(h) = r.hist {
        put_bytes(attr::SUM_MS, &h.sum_ms.to_ne_bytes(), out)?;
        for (le, count) in h.buckets() {
            header(attr::BUCKET, attr_size(8).saturating_mul(2), out)?;
            put_bytes(attr::LE_MS, &le.to_ne_bytes(), out)?;
            put_bytes(attr::COUNT, &count.to_ne_bytes(), out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    impl Sink for Vec<u8> {
        fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
            self.extend_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn round_trips_land_in_their_buckets() {
        let m = Metrics::new();
        for ms in [0, 1, 2, 3, 1000, 5000] {
            m.record(&Event::Answered {
                node: 2,
                rtt_ms: ms,
            });
        }
        let h = m.rtt(2);
        // <=1: 0 and 1; <=2: +2; <=5: +3; ... <=1000: +1000; +Inf: 5000.
        assert_eq!(h.cumulative, [2, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6]);
        assert_eq!((h.count(), h.sum_ms), (6, 6006));
        assert_eq!(m.rtt(3), Histogram::default());
    }

    #[test]
    fn keys_keep_their_slot_and_overflow_is_counted() {
        let m = Metrics::new();
        for id in 0..NODE_SLOTS as u16 + 3 {
            m.record(&Event::Refused { node: id });
        }
        m.record(&Event::Refused { node: 0 });
        assert_eq!(m.nodes.find(0), Some(0));
        assert_eq!(m.node[0].refused.load(Relaxed), 2);
        assert_eq!(m.untracked.load(Relaxed), 3);
    }

    #[test]
    fn records_are_whole_aligned_attributes() {
        let mut out = Vec::new();
        let r = Record {
            peer: Some(7),
            service: Some(Endpoint::new(0x0a63_0064, 443)),
            pool: Some("static"),
            hist: Some(Histogram::default()),
            ..Record::counter("abc", 5)
        };
        encode(&r, &mut out).unwrap();
        let len = u16::from_ne_bytes([out[0], out[1]]) as usize;
        assert_eq!(len, out.len());
        assert_eq!(len % ALIGN, 0);
        assert_eq!(u16::from_ne_bytes([out[2], out[3]]), attr::METRIC);
    }
}
