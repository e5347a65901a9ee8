// SPDX-License-Identifier: GPL-2.0
//! KUnit cases of the flow table (btcp/table.rs) on the kernel's own
//! red-black trees and allocator: lingering flows reclaimed oldest first,
//! live ones never; the timer wheel gives a flow no earlier than its
//! deadline and keeps no count of flows that left; the lock-free filter
//! follows the table.

use crate::btcp_core::flow::{Config as CoreConfig, Endpoint, FlowKey};
use crate::btcp_core::node::{FlowStore, Machine};
use crate::filter::FlowFilter;
use crate::table::{flow_key, key_of, Entry, FlowTable, RequestMemory};
use core::ffi::c_int;
use kernel::prelude::*;
use kernel::sync::Arc;

macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return line!() as c_int;
        }
    };
}

/// A flow whose state and deadline a case sets by hand.
struct Flow {
    port: u16,
    over: bool,
    deadline: u64,
}

impl Machine for Flow {
    fn key(&self) -> FlowKey {
        key(self.port)
    }
    fn lingers(&self) -> bool {
        self.over
    }
    fn deadline(&self, _: &CoreConfig) -> u64 {
        self.deadline
    }
    fn needs_buf(&self) -> bool {
        false
    }
}

fn flow(port: u16, deadline: u64) -> Entry<Flow> {
    Entry::new(
        Flow {
            port,
            over: false,
            deadline,
        },
        KVec::new(),
    )
}

/// A table of at most `max` flows and the filter it shares.
fn table(max: usize, seed: u32, now: u64) -> Option<(FlowTable<Flow>, Arc<FlowFilter>)> {
    let filter = Arc::new(FlowFilter::new(1024, seed).ok()?, GFP_KERNEL).ok()?;
    let mem = Arc::new(RequestMemory::new(usize::MAX), GFP_KERNEL).ok()?;
    let t = FlowTable::new(max, mem, filter.clone(), now);
    Some((t, filter))
}

fn key(port: u16) -> FlowKey {
    FlowKey::new(
        Endpoint::new(0x0a63_000a, port),
        Endpoint::new(0x0a63_0064, 80),
    )
}

/// A full table reclaims the flow that has lingered longest, and refuses
/// only when every flow is live; the filter follows every change.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_table_reclaims_oldest() -> c_int {
    let cfg = CoreConfig::default();
    let Some((mut t, filter)) = table(3, 1, 0) else {
        return line!() as c_int;
    };
    for port in 1..=3 {
        check!(matches!(t.make_room(), Ok(None)));
        check!(t.insert(key_of(&key(port)), flow(port, 60_000)).is_ok());
        t.settle_key(&key_of(&key(port)), &cfg);
        check!(filter.may_hold(&key(port)));
    }
    check!(t.make_room().is_err());
    // Flows 2 then 1 end (in that order): 2 has lingered longest.
    for port in [2u16, 1] {
        if let Some((f, _)) = FlowStore::get(&mut t, &key(port)) {
            f.over = true;
        }
        t.settle_key(&key_of(&key(port)), &cfg);
    }
    let o = t.occupancy();
    check!((o.live(), o.lingering()) == (1, 2));
    check!(matches!(t.make_room(), Ok(Some(_))));
    check!(t.peek(&key(2)).is_none() && t.peek(&key(1)).is_some());
    check!(!filter.may_hold(&key(2)));
    check!(t.insert(key_of(&key(4)), flow(4, 60_000)).is_ok());
    check!(matches!(t.make_room(), Ok(Some(_))));
    check!(t.peek(&key(1)).is_none());
    check!(t.insert(key_of(&key(5)), flow(5, 60_000)).is_ok());
    // Three live flows: full.
    check!(t.make_room().is_err());
    for port in [3u16, 4, 5] {
        check!(t.remove(&key_of(&key(port))).is_some());
        check!(!filter.may_hold(&key(port)));
    }
    check!(t.occupancy().total() == 0);
    0
}

/// The wheel gives each flow once its deadline has passed, not before,
/// and a deadline moved later is looked at again, not run.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_table_wheel() -> c_int {
    let cfg = CoreConfig::default();
    let Some((mut t, _)) = table(16, 2, 1_000) else {
        return line!() as c_int;
    };
    // Deadlines 1.25 s, 3 s and 120 s (beyond the 51.2 s horizon).
    for (port, d) in [(1u16, 1_250u64), (2, 3_000), (3, 120_000)] {
        check!(t.insert(key_of(&key(port)), flow(port, d)).is_ok());
        t.settle_key(&key_of(&key(port)), &cfg);
    }
    check!(t.due(1_100, &cfg).is_empty());
    check!(t.due(1_200, &cfg).is_empty());
    let due = t.due(1_300, &cfg);
    check!(due.len() == 1 && due.first() == Some(&key_of(&key(1))));
    check!(t.remove(&key_of(&key(1))).is_some());
    // Flow 2's deadline moves to 10 s: at 3 s it is looked at, not run.
    if let Some((f, _)) = FlowStore::get(&mut t, &key(2)) {
        f.deadline = 10_000;
    }
    check!(t.due(3_000, &cfg).is_empty());
    let mut seen = 0;
    for now in (3_100..=130_000u64).step_by(100) {
        for k in t.due(now, &cfg).iter() {
            let d = t.peek(&flow_key(k)).map_or(0, |f| f.deadline);
            check!(now >= d && now < d + 200);
            seen += 1;
            let _ = t.remove(k);
        }
    }
    check!(seen == 2 && t.occupancy().total() == 0);
    0
}

/// `next_key` walks every flow once, in key order, from the start or
/// from any key, one that left the table included (the walk a dead
/// front-end's back-end makes, `node/failover.rs`).
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_table_walk() -> c_int {
    let cfg = CoreConfig::default();
    let Some((mut t, _)) = table(16, 3, 0) else {
        return line!() as c_int;
    };
    check!(t.next_key(None).is_none());
    for port in [7u16, 3, 9, 1] {
        check!(t.insert(key_of(&key(port)), flow(port, 60_000)).is_ok());
        t.settle_key(&key_of(&key(port)), &cfg);
    }
    let mut seen = [0u16; 4];
    let (mut n, mut at) = (0usize, None);
    while let Some(k) = t.next_key(at.as_ref()) {
        match seen.get_mut(n) {
            Some(s) => *s = k.client.port,
            None => return line!() as c_int,
        }
        n += 1;
        at = Some(k);
    }
    check!(seen == [1, 3, 7, 9]);
    // From a key no longer there: the next one after it.
    check!(t.remove(&key_of(&key(3))).is_some());
    check!(t.next_key(Some(&key(3))).map(|k| k.client.port) == Some(7));
    check!(t.next_key(Some(&key(9))).is_none());
    0
}

/// A flow's entry, with the red-black tree node around it (three links
/// and the 12-byte key, padded to 40 bytes), fits a 256-byte slab object,
/// front-end and back-end alike.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_table_entry_size() -> c_int {
    use crate::btcp_core::backend::BeFlow;
    use crate::btcp_core::frontend::FeFlow;
    const NODE: usize = 40;
    check!(core::mem::size_of::<kernel::bindings::rb_node>() == 24);
    check!(NODE + core::mem::size_of::<Entry<FeFlow>>() <= 256);
    check!(NODE + core::mem::size_of::<Entry<BeFlow>>() <= 256);
    0
}
