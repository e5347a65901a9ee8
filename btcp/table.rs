// SPDX-License-Identifier: GPL-2.0
//! One flow table of a namespace (its front-end or its back-end flows):
//! the flows by 4-tuple, and the lingering ones by age, so that under
//! pressure the oldest is reclaimed in O(log n) instead of a new flow
//! being refused. The policy (what counts, when to reclaim) is the core's
//! `btcp_core::table`. Every key in the table is also counted in the
//! namespace's lock-free `FlowFilter`, which the methods that add and
//! remove flows take.
//!
//! Timers: each flow sits on a timer wheel (`btcp_core::wheel`) at the
//! tick of its deadline, so a timer run looks at the flows that are due
//! instead of walking the table. Should a wheel slot not grow (out of
//! memory), the flow is left unscheduled and the next turn of the wheel
//! sweeps the table once for such flows, so none is ever forgotten.

use crate::btcp_core::flow::{Config as CoreConfig, Endpoint, FlowKey};
use crate::btcp_core::table::{Admit, Occupancy};
use crate::btcp_core::wheel::{due_ticks, reschedule, schedule_at, slot_of, SLOTS, TICK_MS};
use crate::filter::FlowFilter;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// A flow key in a form the red-black trees can order.
pub(crate) type Key = (u32, u16, u32, u16);

pub(crate) fn key_of(k: &FlowKey) -> Key {
    (k.client.addr, k.client.port, k.server.addr, k.server.port)
}

fn flow_key(k: &Key) -> FlowKey {
    FlowKey::new(Endpoint::new(k.0, k.1), Endpoint::new(k.2, k.3))
}

/// A flow's place in the age order: the count of flows that had started
/// to linger before it, plus one (0: it does not linger).
type LingerMark = u64;
/// An entry's `tick` when it is on no wheel slot.
const UNSCHEDULED: u64 = u64::MAX;

/// What a table needs to know of a flow's machine.
pub(crate) trait Machine {
    /// Whether the flow is over and only lingers.
    fn lingers(&self) -> bool;
    /// When the machine next has something to do on its own.
    fn deadline(&self, cfg: &CoreConfig) -> u64;
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

/// A new flow could not be admitted: every slot holds a live flow.
pub(crate) struct Full;

pub(crate) struct FlowTable<F> {
    flows: RBTree<Key, Entry<F>>,
    /// The lingering flows, oldest first.
    by_age: RBTree<LingerMark, Key>,
    occupancy: Occupancy,
    next_mark: LingerMark,
    max: usize,
    /// The timer wheel: the keys scheduled in each slot (some stale).
    wheel: KVec<KVec<Key>>,
    /// The next tick a timer run covers.
    next_tick: u64,
    /// A flow could not be scheduled: sweep the table at the next turn.
    sweep: bool,
}

impl<F: Machine> FlowTable<F> {
    pub(crate) fn new(max: usize, now: u64) -> Result<Self> {
        let mut wheel = KVec::with_capacity(SLOTS as usize, GFP_KERNEL)?;
        for _ in 0..SLOTS {
            wheel.push(KVec::new(), GFP_KERNEL)?;
        }
        Ok(FlowTable {
            flows: RBTree::new(),
            by_age: RBTree::new(),
            occupancy: Occupancy::default(),
            next_mark: 1,
            max,
            wheel,
            next_tick: now / TICK_MS,
            sweep: false,
        })
    }

    pub(crate) fn get(&self, k: &Key) -> Option<&Entry<F>> {
        self.flows.get(k)
    }

    pub(crate) fn get_mut(&mut self, k: &Key) -> Option<&mut Entry<F>> {
        self.flows.get_mut(k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Entry<F>> {
        self.flows.values()
    }

    pub(crate) fn occupancy(&self) -> Occupancy {
        self.occupancy
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Makes room for one more flow: `Ok(Some(v))` when the flow that
    /// lingered longest had to go (the caller forgets what else it knew
    /// of it), `Err(Full)` when every slot is live.
    pub(crate) fn make_room(&mut self, filter: &FlowFilter) -> Result<Option<Entry<F>>, Full> {
        match self.occupancy.admit(self.max) {
            Admit::Insert => Ok(None),
            Admit::Full => Err(Full),
            Admit::ReclaimOldest => {
                let oldest = self.by_age.cursor_front().map(|c| *c.current().1);
                match oldest.and_then(|k| self.remove(&k, filter)) {
                    Some(v) => Ok(Some(v)),
                    // Counts out of step with the trees: never reached,
                    // and refusing is safe.
                    None => Err(Full),
                }
            }
        }
    }

    /// Inserts a live flow (after [`FlowTable::make_room`]).
    pub(crate) fn insert(&mut self, k: Key, v: Entry<F>, filter: &FlowFilter) -> Result {
        let node = RBTreeNode::new(k, v, GFP_ATOMIC)?;
        if let Some(old) = self.flows.insert(node) {
            // Callers remove a flow before they replace it; should one
            // not, the old flow's accounting goes with it.
            let (_, mut v) = old.to_key_value();
            self.forget(&mut v);
        } else {
            filter.add(&flow_key(&k));
        }
        self.occupancy.inserted();
        Ok(())
    }

    /// Removes a flow, live or lingering.
    pub(crate) fn remove(&mut self, k: &Key, filter: &FlowFilter) -> Option<Entry<F>> {
        let mut v = self.flows.remove(k)?;
        self.forget(&mut v);
        filter.remove(&flow_key(k));
        Some(v)
    }

    fn forget(&mut self, v: &mut Entry<F>) {
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
    /// order. A flow whose age node cannot be allocated stays counted as
    /// live until it is freed (it is then not reclaimable, which is safe).
    /// Returns the flow, for the caller's own bookkeeping.
    pub(crate) fn settle(&mut self, k: &Key, cfg: &CoreConfig) -> Option<&mut Entry<F>> {
        let mark = self.next_mark;
        let v = self.flows.get_mut(k)?;
        let at = schedule_at(v.flow.deadline(cfg), self.next_tick);
        if reschedule(v.scheduled(), at) {
            let queued = self
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
        Some(v)
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
            let _ = self.settle(k, cfg);
        }
        due
    }
}
