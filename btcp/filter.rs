// SPDX-License-Identifier: GPL-2.0
//! A lock-free first look at every packet, so that a packet that is not
//! for a service and belongs to no flow of the namespace (the control
//! channel's own TCP, a back-end's other traffic, anything else on the
//! node) takes no btcp lock at all.
//!
//! * [`FlowFilter`]: a counting filter of the 4-tuples in all the namespace's
//!   flow tables. Each table insertion adds one to its key's slot and
//!   each removal takes one off, under a shard's lock; packets read
//!   the slot without it. A slot at 0 means "no flow with this key": a
//!   flow is counted before any packet of it can arrive (a front-end flow
//!   is made by a SYN to a service, which always takes its shard's lock; a
//!   back-end flow exists before its replayed SYN is injected). A slot
//!   shared by other keys only sends a packet down the locked path,
//!   which finds nothing.
//! * [`Services`]: the services of the configuration in force, copied
//!   into atomics whenever it is replaced.

use crate::btcp_core::config::{NodeConfig, MAX_SERVICES};
use crate::btcp_core::flow::{Endpoint, FlowKey};
use crate::btcp_core::table::key_slot;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

pub(crate) struct FlowFilter {
    slots: KVVec<AtomicU32>,
    bits: u32,
    seed: u32,
}

impl FlowFilter {
    /// A filter of `slots` slots, rounded up to a power of two, 2^10 to
    /// 2^20 (the `hash_buckets` parameter; by default about `max_flows`).
    pub(crate) fn new(slots: usize, seed: u32) -> Result<Self> {
        let n = slots.clamp(1 << 10, 1 << 20).next_power_of_two();
        let bits = n.trailing_zeros();
        let mut slots = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            slots.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(FlowFilter { slots, bits, seed })
    }

    fn slot(&self, k: &FlowKey) -> Option<&AtomicU32> {
        self.slots.get(key_slot(k, self.seed, self.bits))
    }

    /// A flow with key `k` entered a table (under its shard's lock).
    pub(crate) fn add(&self, k: &FlowKey) {
        if let Some(s) = self.slot(k) {
            s.fetch_add(1, Ordering::Release);
        }
    }

    /// A flow with key `k` left a table (under its shard's lock).
    pub(crate) fn remove(&self, k: &FlowKey) {
        if let Some(s) = self.slot(k) {
            // Never below 0, whatever happens.
            let _ = s.fetch_update(Ordering::Release, Ordering::Relaxed, |v| v.checked_sub(1));
        }
    }

    /// The number of slots.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Whether a flow with key `k` may exist.
    pub(crate) fn may_hold(&self, k: &FlowKey) -> bool {
        self.slot(k)
            .map_or(true, |s| s.load(Ordering::Acquire) != 0)
    }
}

/// The services in force, `addr << 16 | port` each, 0 for none.
pub(crate) struct Services([AtomicU64; MAX_SERVICES]);

impl Services {
    pub(crate) fn new() -> Self {
        Services([const { AtomicU64::new(0) }; MAX_SERVICES])
    }

    fn word(ep: Endpoint) -> u64 {
        u64::from(ep.addr) << 16 | u64::from(ep.port)
    }

    /// Takes the services of `cfg` (just before the shards take `cfg`).
    pub(crate) fn set(&self, cfg: &NodeConfig) {
        let mut eps = cfg.services();
        for slot in self.0.iter() {
            let w = eps.next().map_or(0, |ep| Self::word(*ep));
            slot.store(w, Ordering::Release);
        }
    }

    /// Whether `ep` is a service (a packet to it takes the locked path).
    pub(crate) fn contains(&self, ep: Endpoint) -> bool {
        let w = Self::word(ep);
        w != 0 && self.0.iter().any(|s| s.load(Ordering::Acquire) == w)
    }

    /// Whether `addr` is a service's address, on any port.
    pub(crate) fn contains_addr(&self, addr: u32) -> bool {
        self.0.iter().any(|s| {
            let w = s.load(Ordering::Acquire);
            w != 0 && w >> 16 == u64::from(addr)
        })
    }
}
