// SPDX-License-Identifier: GPL-2.0
//! One flow table of a namespace (its front-end or its back-end flows),
//! the kernel's storage for the core's node (`btcp_core::node::FlowStore`):
//! the flows by 4-tuple, and the lingering ones by age, so that under
//! pressure the oldest is reclaimed in O(log n) instead of a new flow
//! being refused. The policy (what counts, when to reclaim) is the core's
//! `btcp_core::table`. Every key in the table is also counted in the
//! namespace's lock-free `FlowFilter`, which the table shares. The
//! flows' request bytes are counted against a budget every shard's table
//! of the same side shares (`RequestMemory`, an atomic count). A table is
//! one shard's (`btcp_core::shard`), under that shard's lock.
//!
//! Timers: each flow sits on a timer wheel (`btcp_core::wheel`) at the
//! tick of its deadline, so a timer run looks at the flows that are due
//! instead of walking the table. Should a wheel slot not grow (out of
//! memory), the flow is left unscheduled and the next turn of the wheel
//! sweeps the table once for such flows, so none is ever forgotten. The
//! wheel's slots are allocated with the first flow, so a namespace that
//! never sees one (most of a host's) costs little per shard.

use crate::btcp_core::flow::{Config as CoreConfig, Endpoint, FlowKey};
use crate::btcp_core::node::{FlowStore, Full, Machine};
use crate::btcp_core::reqbuf::grow_to;
use crate::btcp_core::table::{Admit, Occupancy};
use crate::btcp_core::wheel::{due_ticks, reschedule, schedule_at, slot_of, SLOTS, TICK_MS};
use crate::btcp_core::wire::MAX_REQUEST;
use crate::filter::FlowFilter;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::Arc;

/// A flow key in a form the red-black trees can order.
pub(crate) type Key = (u32, u16, u32, u16);

pub(crate) fn key_of(k: &FlowKey) -> Key {
    (k.client.addr, k.client.port, k.server.addr, k.server.port)
}

pub(crate) fn flow_key(k: &Key) -> FlowKey {
    FlowKey::new(Endpoint::new(k.0, k.1), Endpoint::new(k.2, k.3))
}

/// A flow's place in the age order: the count of flows that had started
/// to linger before it, plus one (0: it does not linger).
type LingerMark = u64;
/// An entry's `tick` when it is on no wheel slot.
const UNSCHEDULED: u64 = u64::MAX;

/// Request bytes the buffers of one side's tables hold (every shard's),
/// against their limit.
pub(crate) struct RequestMemory {
    used: AtomicUsize,
    max: usize,
}

impl RequestMemory {
    pub(crate) fn new(max: usize) -> Self {
        RequestMemory {
            used: AtomicUsize::new(0),
            max,
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `n` more bytes, if the limit allows.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(n).filter(|&v| v <= self.max)
            })
            .is_ok()
    }

    /// Gives `n` bytes back.
    fn give_back(&self, n: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// Grows `buf` to hold `need` bytes (see `btcp_core::reqbuf`), within
    /// the limit; `false` if it cannot.
    fn grow(&self, buf: &mut KVec<u8>, need: usize) -> bool {
        if need <= buf.len() {
            return true;
        }
        let cap = buf.capacity();
        if need > cap {
            let Some(to) = grow_to(cap, need, MAX_REQUEST) else {
                return false;
            };
            if !self.take(to.saturating_sub(cap)) {
                return false;
            }
            // A new allocation of exactly `to` bytes (reserve would double).
            let grown = KVec::with_capacity(to, GFP_ATOMIC)
                .ok()
                .and_then(|mut g| g.extend_from_slice(buf, GFP_ATOMIC).ok().map(|()| g));
            let Some(grown) = grown else {
                self.give_back(to.saturating_sub(cap));
                return false;
            };
            *buf = grown;
        }
        buf.extend_with(need.saturating_sub(buf.len()), 0, GFP_ATOMIC)
            .is_ok()
    }

    /// Frees `buf`.
    fn release(&self, buf: &mut KVec<u8>) {
        self.give_back(buf.capacity());
        *buf = KVec::new();
    }
}

/// A flow in a table: its machine, its request bytes (a front-end's while
/// it collects them, a back-end's until its stack acknowledged the
/// replay), and the table's bookkeeping.
pub(crate) struct Entry<F> {
    pub(crate) flow: F,
    pub(crate) buf: KVec<u8>,
    /// Its place in the age order, once it lingers (0 before). Plain
    /// integers rather than options keep a back-end entry, with its tree
    /// node, in a 256-byte slab object.
    mark: LingerMark,
    /// The wheel tick it is scheduled at, or `UNSCHEDULED`.
    tick: u64,
}

impl<F> Entry<F> {
    pub(crate) fn new(flow: F, buf: KVec<u8>) -> Self {
        Entry {
            flow,
            buf,
            mark: 0,
            tick: UNSCHEDULED,
        }
    }

    fn scheduled(&self) -> Option<u64> {
        (self.tick != UNSCHEDULED).then_some(self.tick)
    }
}

pub(crate) struct FlowTable<F> {
    flows: RBTree<Key, Entry<F>>,
    /// The namespace's lock-free first look, shared by its tables.
    filter: Arc<FlowFilter>,
    mem: Arc<RequestMemory>,
    /// The flows a timer run found due, and how many it has handed out.
    due: KVec<Key>,
    due_next: usize,
    /// The lingering flows, oldest first.
    by_age: RBTree<LingerMark, Key>,
    occupancy: Occupancy,
    next_mark: LingerMark,
    max: usize,
    /// The timer wheel: the keys scheduled in each slot (some stale);
    /// empty until the first flow is scheduled.
    wheel: KVec<KVec<Key>>,
    /// The next tick a timer run covers.
    next_tick: u64,
    /// A flow could not be scheduled: sweep the table at the next turn.
    sweep: bool,
}

impl<F: Machine> FlowTable<F> {
    /// A table of at most `max` live flows whose request bytes count
    /// against `mem`.
    pub(crate) fn new(
        max: usize,
        mem: Arc<RequestMemory>,
        filter: Arc<FlowFilter>,
        now: u64,
    ) -> Self {
        FlowTable {
            flows: RBTree::new(),
            filter,
            mem,
            due: KVec::new(),
            due_next: 0,
            by_age: RBTree::new(),
            occupancy: Occupancy::default(),
            next_mark: 1,
            max,
            wheel: KVec::new(),
            next_tick: now / TICK_MS,
            sweep: false,
        }
    }

    /// Allocates the wheel's slots, once; `false` if it cannot.
    fn wheel_ready(&mut self) -> bool {
        if self.wheel.is_empty() {
            let mut wheel = KVec::new();
            for _ in 0..SLOTS {
                if wheel.push(KVec::new(), GFP_ATOMIC).is_err() {
                    return false;
                }
            }
            self.wheel = wheel;
        }
        true
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Entry<F>> {
        self.flows.values()
    }

    /// Request bytes its side's flows hold, every shard's.
    pub(crate) fn request_bytes(&self) -> usize {
        self.mem.used()
    }

    /// Makes room for one more flow: `Ok(Some(v))` when the flow that
    /// lingered longest had to go, `Err(Full)` when every slot is live.
    pub(crate) fn make_room(&mut self) -> Result<Option<Entry<F>>, Full> {
        match self.occupancy.admit(self.max) {
            Admit::Insert => Ok(None),
            Admit::Full => Err(Full),
            Admit::ReclaimOldest => {
                let oldest = self.by_age.cursor_front().map(|c| *c.current().1);
                match oldest.and_then(|k| self.remove(&k)) {
                    Some(v) => Ok(Some(v)),
                    // Counts out of step with the trees: never reached,
                    // and refusing is safe.
                    None => Err(Full),
                }
            }
        }
    }

    /// Inserts a live flow (after [`FlowTable::make_room`]).
    pub(crate) fn insert(&mut self, k: Key, v: Entry<F>) -> Result {
        let cap = v.buf.capacity();
        let node = RBTreeNode::new(k, v, GFP_ATOMIC).inspect_err(|_| {
            // The entry, its buffer with it, is gone.
            self.mem.give_back(cap);
        })?;
        if let Some(old) = self.flows.insert(node) {
            // Callers remove a flow before they replace it; should one
            // not, the old flow's accounting goes with it.
            let (_, mut v) = old.to_key_value();
            self.forget(&mut v);
        } else {
            self.filter.add(&flow_key(&k));
        }
        self.occupancy.inserted();
        Ok(())
    }

    /// Removes a flow, live or lingering; its buffer is freed.
    pub(crate) fn remove(&mut self, k: &Key) -> Option<Entry<F>> {
        let mut v = self.flows.remove(k)?;
        self.forget(&mut v);
        self.filter.remove(&flow_key(k));
        Some(v)
    }

    fn forget(&mut self, v: &mut Entry<F>) {
        self.mem.release(&mut v.buf);
        match core::mem::take(&mut v.mark) {
            0 => self.occupancy.removed(false),
            m => {
                self.by_age.remove(&m);
                self.occupancy.removed(true);
            }
        }
    }

    /// After a machine ran on flow `k` (or it was inserted): it is
    /// scheduled on the wheel if its deadline moved earlier; if it started
    /// to linger, it leaves the live count and takes its place in the age
    /// order; a buffer it no longer needs is freed. A flow whose age node
    /// cannot be allocated stays counted as live until it is freed (it is
    /// then not reclaimable, which is safe).
    pub(crate) fn settle_key(&mut self, k: &Key, cfg: &CoreConfig) {
        let mark = self.next_mark;
        let wheel_ready = self.wheel_ready();
        let Some(v) = self.flows.get_mut(k) else {
            return;
        };
        let at = schedule_at(v.flow.deadline(cfg), self.next_tick);
        if reschedule(v.scheduled(), at) {
            let queued = wheel_ready
                && self
                    .wheel
                    .get_mut(slot_of(at))
                    .is_some_and(|slot| slot.push(*k, GFP_ATOMIC).is_ok());
            match queued {
                true => v.tick = at,
                false => self.sweep = true,
            }
        }
        if v.flow.lingers() && v.mark == 0 {
            if let Ok(node) = RBTreeNode::new(mark, *k, GFP_ATOMIC) {
                v.mark = mark;
                self.by_age.insert(node);
                self.next_mark = self.next_mark.saturating_add(1);
                self.occupancy.started_lingering();
            }
        }
        if !v.flow.needs_buf() && v.buf.capacity() > 0 {
            self.mem.release(&mut v.buf);
        }
    }

    /// The flows whose deadline has passed, for a timer run at `now`; the
    /// caller runs their machines and settles them (which schedules them
    /// again). Flows whose tick came but whose deadline moved later are
    /// scheduled again here.
    pub(crate) fn due(&mut self, now: u64, cfg: &CoreConfig) -> KVec<Key> {
        let mut due = KVec::new();
        let mut later = KVec::new();
        let (first, end) = due_ticks(self.next_tick, now);
        for t in first..end {
            let Some(slot) = self.wheel.get_mut(slot_of(t)) else {
                continue;
            };
            for k in core::mem::take(slot).iter() {
                let Some(v) = self.flows.get_mut(k) else {
                    continue; // freed since
                };
                if v.scheduled() != Some(t) {
                    continue; // stale: scheduled earlier since
                }
                v.tick = UNSCHEDULED;
                let to = match now >= v.flow.deadline(cfg) {
                    true => &mut due,
                    false => &mut later,
                };
                if to.push(*k, GFP_ATOMIC).is_err() {
                    self.sweep = true;
                }
            }
        }
        self.next_tick = end;
        // Once a turn, if anything was left unscheduled, sweep for it.
        if self.sweep && first / SLOTS != end / SLOTS {
            self.sweep = false;
            for (k, v) in self.flows.iter_mut() {
                if v.scheduled().is_none() && later.push(*k, GFP_ATOMIC).is_err() {
                    self.sweep = true;
                    break;
                }
            }
        }
        for k in later.iter() {
            self.settle_key(k, cfg);
        }
        due
    }
}

impl<F: Machine> FlowStore<F> for FlowTable<F> {
    type Buf = KVec<u8>;

    fn peek(&self, key: &FlowKey) -> Option<&F> {
        self.flows.get(&key_of(key)).map(|e| &e.flow)
    }

    fn get(&mut self, key: &FlowKey) -> Option<(&mut F, &mut [u8])> {
        self.flows
            .get_mut(&key_of(key))
            .map(|e| (&mut e.flow, &mut e.buf[..]))
    }

    fn grow(&mut self, key: &FlowKey, need: usize) -> bool {
        let Some(e) = self.flows.get_mut(&key_of(key)) else {
            return false;
        };
        self.mem.grow(&mut e.buf, need)
    }

    fn buffer(&mut self, len: usize) -> Option<KVec<u8>> {
        let mut buf = KVec::with_capacity(len, GFP_ATOMIC).ok()?;
        if !self.mem.take(buf.capacity()) {
            return None;
        }
        if buf.extend_with(len, 0, GFP_ATOMIC).is_err() {
            self.mem.release(&mut buf);
            return None;
        }
        Some(buf)
    }

    fn make_room(&mut self) -> Result<Option<F>, Full> {
        FlowTable::make_room(self).map(|v| v.map(|e| e.flow))
    }

    fn insert(&mut self, flow: F, buf: KVec<u8>) -> bool {
        let k = key_of(&flow.key());
        FlowTable::insert(self, k, Entry::new(flow, buf)).is_ok()
    }

    fn remove(&mut self, key: &FlowKey) -> Option<F> {
        FlowTable::remove(self, &key_of(key)).map(|e| e.flow)
    }

    fn settle(&mut self, key: &FlowKey, cfg: &CoreConfig) {
        self.settle_key(&key_of(key), cfg);
    }

    fn collect_due(&mut self, now: u64, cfg: &CoreConfig) {
        self.due = self.due(now, cfg);
        self.due_next = 0;
    }

    fn pop_due(&mut self) -> Option<FlowKey> {
        let k = self.due.get(self.due_next).map(flow_key)?;
        self.due_next = self.due_next.saturating_add(1);
        Some(k)
    }

    fn next_key(&mut self, after: Option<&FlowKey>) -> Option<FlowKey> {
        let Some(after) = after.map(key_of) else {
            return self.flows.keys().next().map(flow_key);
        };
        let cursor = self.flows.cursor_lower_bound(&after)?;
        match cursor.current() {
            (k, _) if *k != after => Some(flow_key(k)),
            _ => cursor.peek_next().map(|(k, _)| flow_key(k)),
        }
    }

    fn occupancy(&self) -> Occupancy {
        self.occupancy
    }

    fn max(&self) -> usize {
        self.max
    }
}
