//! The flow storage a host supplies to a `btcp_core::node::Node`: hash
//! maps, with timers found by a scan (exact to the millisecond, which the
//! simulated network's scenarios rely on). The kernel supplies its own
//! (`btcp/table.rs`: red-black trees and a timer wheel).

use btcp_core::backend::BeFlow;
use btcp_core::client_limit::ClientCounts;
use btcp_core::config::NodeConfig;
use btcp_core::dispatch::{Dispatcher, TargetEntry};
use btcp_core::flow::{Config, FlowKey};
use btcp_core::frontend::FeFlow;
use btcp_core::node::{Balance, FlowStore, Full, Machine, Shared, Store};
use btcp_core::table::{Admit, Occupancy};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A flow, its request bytes, and its place in the age order once it
/// lingers (0 before).
pub struct Entry<F> {
    pub flow: F,
    pub buf: Vec<u8>,
    mark: u64,
}

pub struct Table<F> {
    flows: HashMap<FlowKey, Entry<F>>,
    occupancy: Occupancy,
    max: usize,
    next_mark: u64,
    due: Vec<FlowKey>,
    /// The largest buffer any flow had, and how many buffers were freed
    /// because their flow no longer needed them.
    pub buf_peak: usize,
    pub bufs_freed: usize,
}

impl<F: Machine> Table<F> {
    pub fn new(max: usize) -> Self {
        Table {
            flows: HashMap::new(),
            occupancy: Occupancy::default(),
            max,
            next_mark: 1,
            due: Vec::new(),
            buf_peak: 0,
            bufs_freed: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &Entry<F>> {
        self.flows.values()
    }

    /// Heap bytes the table holds: its hash map's slots (with their
    /// control bytes) and the flows' buffers.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(FlowKey, Entry<F>)>() + 1;
        self.flows.capacity() * slot + self.flows.values().map(|e| e.buf.capacity()).sum::<usize>()
    }
}

impl<F: Machine> FlowStore<F> for Table<F> {
    type Buf = Vec<u8>;

    fn peek(&self, key: &FlowKey) -> Option<&F> {
        self.flows.get(key).map(|e| &e.flow)
    }

    fn get(&mut self, key: &FlowKey) -> Option<(&mut F, &mut [u8])> {
        self.flows
            .get_mut(key)
            .map(|e| (&mut e.flow, e.buf.as_mut_slice()))
    }

    fn grow(&mut self, key: &FlowKey, need: usize) -> bool {
        let Some(e) = self.flows.get_mut(key) else {
            return false;
        };
        if need > e.buf.len() {
            e.buf.resize(need, 0);
        }
        self.buf_peak = self.buf_peak.max(e.buf.len());
        true
    }

    fn buffer(&mut self, len: usize) -> Option<Vec<u8>> {
        Some(vec![0; len])
    }

    fn make_room(&mut self) -> Result<Option<F>, Full> {
        match self.occupancy.admit(self.max) {
            Admit::Insert => Ok(None),
            Admit::Full => Err(Full),
            Admit::ReclaimOldest => {
                let oldest = self
                    .flows
                    .iter()
                    .filter(|(_, e)| e.mark != 0)
                    .min_by_key(|(_, e)| e.mark)
                    .map(|(k, _)| *k);
                oldest.and_then(|k| self.remove(&k)).map(Some).ok_or(Full)
            }
        }
    }

    fn insert(&mut self, flow: F, buf: Vec<u8>) -> bool {
        let key = flow.key();
        assert!(!self.flows.contains_key(&key), "the node removes first");
        self.flows.insert(key, Entry { flow, buf, mark: 0 });
        self.occupancy.inserted();
        true
    }

    fn remove(&mut self, key: &FlowKey) -> Option<F> {
        let e = self.flows.remove(key)?;
        self.occupancy.removed(e.mark != 0);
        Some(e.flow)
    }

    fn settle(&mut self, key: &FlowKey, _: &Config) {
        let Some(e) = self.flows.get_mut(key) else {
            return;
        };
        if e.flow.lingers() && e.mark == 0 {
            e.mark = self.next_mark;
            self.next_mark += 1;
            self.occupancy.started_lingering();
        }
        if !e.flow.needs_buf() && !e.buf.is_empty() {
            e.buf = Vec::new();
            self.bufs_freed += 1;
        }
    }

    fn collect_due(&mut self, now: u64, cfg: &Config) {
        let mut due: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, e)| now >= e.flow.deadline(cfg))
            .map(|(k, _)| *k)
            .collect();
        // Hash order is random; the scenarios are deterministic.
        due.sort_by_key(|k| (k.client.addr, k.client.port, k.server.addr, k.server.port));
        due.reverse();
        self.due = due;
    }

    fn pop_due(&mut self) -> Option<FlowKey> {
        self.due.pop()
    }

    fn next_key(&mut self, after: Option<&FlowKey>) -> Option<FlowKey> {
        // In the kernel's order (its trees'): by client, then server.
        let order = |k: &FlowKey| (k.client.addr, k.client.port, k.server.addr, k.server.port);
        self.flows
            .keys()
            .filter(|k| after.map_or(true, |a| order(k) > order(a)))
            .min_by_key(|k| order(k))
            .copied()
    }

    fn occupancy(&self) -> Occupancy {
        self.occupancy
    }

    fn max(&self) -> usize {
        self.max
    }
}

/// The policies' state, over LARD tables in `Vec`s.
pub type HostDispatcher = Dispatcher<Vec<TargetEntry>>;

/// Entries of each LARD table in the tests.
pub const TARGETS: usize = 512;

/// A dispatcher with LARD tables of [`TARGETS`] entries.
pub fn host_dispatcher() -> Box<HostDispatcher> {
    let mut d = Box::new(Dispatcher::new());
    let table = || vec![TargetEntry::FREE; TARGETS];
    d.set_target_tables(table(), table());
    d
}

/// The host's storage for a node.
pub struct HostStore;

impl Store for HostStore {
    type Fe = Table<FeFlow>;
    type Be = Table<BeFlow>;
    type Config = Box<NodeConfig>;
    type Targets = Vec<TargetEntry>;
    type Dispatcher = Box<HostDispatcher>;
    type Balance = HostBalance;
    type Clients = Rc<ClientCounts>;
}

/// What the shards of one host node share: the balance, and the
/// per-client flow counts.
#[derive(Clone)]
pub struct HostBalance(
    pub Rc<RefCell<Balance<Box<HostDispatcher>>>>,
    pub Rc<ClientCounts>,
);

impl HostBalance {
    pub fn new(cfg: &NodeConfig) -> Self {
        HostBalance(
            Rc::new(RefCell::new(Balance::new(host_dispatcher(), cfg))),
            Rc::new(ClientCounts::new(0x5eed)),
        )
    }
}

impl Shared<Box<HostDispatcher>> for HostBalance {
    fn with<R>(&self, f: impl FnOnce(&mut Balance<Box<HostDispatcher>>) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

pub type HostNode = btcp_core::node::Node<HostStore>;

/// A node with configuration `text`, machines' options `base`, and at
/// most `max` flows in each table.
pub fn host_node(text: &str, base: Config, secret: [u8; 16], max: usize) -> HostNode {
    sized_node(text, base, secret, (max, max))
}

/// A node whose front-end and back-end tables hold at most `max.0` and
/// `max.1` flows.
pub fn sized_node(text: &str, base: Config, secret: [u8; 16], max: (usize, usize)) -> HostNode {
    let cfg = Box::new(NodeConfig::parse(text.as_bytes()).expect("a valid configuration"));
    let balance = HostBalance::new(&cfg);
    shard_node(&cfg, balance, base, secret, max)
}

/// One shard of a node: its own tables of at most `max.0` and `max.1`
/// flows, the configuration `cfg`, and the balance it shares.
pub fn shard_node(
    cfg: &NodeConfig,
    balance: HostBalance,
    base: Config,
    secret: [u8; 16],
    max: (usize, usize),
) -> HostNode {
    let mut node = HostNode::new(
        Table::new(max.0),
        Table::new(max.1),
        Box::new(*cfg),
        balance.clone(),
        balance.1,
        base,
        btcp_core::isn::IsnSecret::new(secret),
        // Another key for the cookies, from the same seed.
        btcp_core::syncookie::CookieKeys::new(secret.map(|b| b ^ 0x5c), 0),
    );
    // The host holds its services' VIPs (as the kernel shell sees them).
    for s in cfg.services() {
        node.vip_local(s.addr);
    }
    node
}
