//! A node's configuration, as written to and read from
//! `/proc/net/btcp/config` of its network namespace.
//!
//! One command per line; `#` starts a comment; blank lines are ignored. A
//! write replaces the whole configuration, all or nothing: a bad line
//! leaves the old configuration in force and the error names the line.
//!
//! ```text
//! node 1 10.99.0.1             # this node's id and control address
//! ctrl-port 7447               # TCP port of the control channel (default)
//! peer 2 10.99.0.11            # another node of the cluster
//! peer 3 10.99.0.12 weight 2 state drain   # weight 1 and state up by default
//! service 10.99.0.100:80       # a VIP:port this node fronts
//! pool img policy maglev nodes 2,3    # a server pool (see dispatch.rs)
//! pool web policy lard-r nodes 2,3 t-low 10 t-high 30   # LARD thresholds
//! rules /img/=img,/video/=3,default=1  # see rules.rs; targets: node or pool
//! linger-ms 2000               # keep closed flows this long (default 60 s)
//! handshake-ms 30000           # timeouts (see timeouts.rs); left out: default
//! syncookies auto              # SYN cookies: auto (default), always, never
//! syn-backlog 256              # half-open flows before `auto` sends cookies
//! client-flows 256             # flows one client address may hold before handoff
//! encap none                   # forwarding to back-ends: none (default) or ipip
//! moves on                     # per-request dispatch: on (default) or off
//! key 00112233...              # 32-byte cluster key, 64 hex digits
//! key-next 44556677...         # the key to roll to (see keyroll.rs)
//! key-overlap 60               # seconds each roll step lasts (default 60)
//! ```
//!
//! `node` and `peer` take `weight W` (1..=65535, default 1) and `state
//! up|drain|down` (default up), in either order. `pool NAME policy P
//! nodes ID[,ID...]` (either order) names a pool of this node and/or
//! peers, with a policy of `lard`, `lard-r`, `maglev`, `wrr` or
//! `least-conn`; its members are kept sorted by id. A `lard` or `lard-r`
//! pool also takes `t-low N`, `t-high N` (connections per node, `t-low` <
//! `t-high`) and `k-ms N` (LARD/R's set-shrink time); the defaults are the
//! paper's ([`LardParams::DEFAULT`]). Pool members and the
//! pools that rules name are checked once the whole text is read, so the
//! lines may come in any order; the error names the pool's or the rules'
//! line.
//!
//! `Display` writes the same form back, canonically (defaults left out,
//! members sorted), so a read can be written again.

use ::core::fmt;

use super::client_limit::{DEFAULT_CLIENT_FLOWS, MAX_CLIENT_FLOWS};
use super::encap::Encap;
use super::flow::Endpoint;
use super::keyroll::{DEFAULT_KEY_OVERLAP_S, MAX_KEY_OVERLAP_S};
use super::policy::{LardParams, MemberState};
use super::rules::{PoolName, RuleParseError, RuleTable, Target};
use super::syncookie::{CookieMode, DEFAULT_SYN_BACKLOG};
use super::timeouts::Timeouts;

/// The largest `syn-backlog`.
pub const MAX_SYN_BACKLOG: u32 = 1 << 20;

/// Most peers a node knows.
pub const MAX_PEERS: usize = 16;
/// Most services (VIP:port) a node fronts.
pub const MAX_SERVICES: usize = 8;
/// The control channel's port when none is configured.
pub const DEFAULT_CTRL_PORT: u16 = 7447;
/// Length of the cluster key.
pub const KEY_LEN: usize = 32;
/// Most pools a node defines.
pub const MAX_POOLS: usize = 8;
/// Most members of a pool: every peer and this node.
pub const MAX_POOL_MEMBERS: usize = MAX_PEERS + 1;

/// A node of the cluster: this one or a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its node id.
    pub id: u16,
    /// Its control-channel address (host order).
    pub addr: u32,
    /// Its relative capacity, 1..=65535 (default 1).
    pub weight: u16,
    /// Whether it gets new connections: [`MemberState::Drain`] and
    /// [`MemberState::Down`] nodes get none (default up).
    pub state: MemberState,
}

impl Peer {
    /// An up node of weight 1.
    pub const fn new(id: u16, addr: u32) -> Peer {
        Peer {
            id,
            addr,
            weight: 1,
            state: MemberState::Up,
        }
    }
}

/// A node state's name in the text form: `up`, `drain` or `down`.
pub const fn state_name(s: MemberState) -> &'static str {
    match s {
        MemberState::Up => "up",
        MemberState::Drain => "drain",
        MemberState::Down => "down",
    }
}

/// A node state from its name.
pub fn parse_state(s: &str) -> Option<MemberState> {
    match s {
        "up" => Some(MemberState::Up),
        "drain" => Some(MemberState::Drain),
        "down" => Some(MemberState::Down),
        _ => None,
    }
}

/// How a pool picks among its members (see `dispatch.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// LARD: each target on one member while load allows.
    Lard,
    /// LARD/R: each target on a set of members, grown under load.
    LardR,
    /// Maglev consistent hashing of the target.
    Maglev,
    /// Smooth weighted round-robin.
    Wrr,
    /// Least load per unit of weight.
    LeastConn,
}

impl Policy {
    /// Every policy.
    pub const ALL: [Policy; 5] = [
        Policy::Lard,
        Policy::LardR,
        Policy::Maglev,
        Policy::Wrr,
        Policy::LeastConn,
    ];

    /// Its name in the text form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Policy::Lard => "lard",
            Policy::LardR => "lard-r",
            Policy::Maglev => "maglev",
            Policy::Wrr => "wrr",
            Policy::LeastConn => "least-conn",
        }
    }

    /// A policy from its name.
    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// LARD or LARD/R: the policies that use a pool's LARD thresholds.
    pub const fn is_lard(self) -> bool {
        matches!(self, Policy::Lard | Policy::LardR)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server pool: a name, a policy and its members' node ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Its name, which rules use as a target.
    pub name: PoolName,
    /// How it picks a member.
    pub policy: Policy,
    /// LARD's thresholds (used by `lard` and `lard-r` pools).
    pub lard: LardParams,
    members: [u16; MAX_POOL_MEMBERS],
    len: u8,
}

impl Pool {
    /// A pool of `members` (kept sorted by id), with the default LARD
    /// thresholds.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::BadNodeId`] for no members,
    /// [`ConfigErrorKind::TooMany`] for more than [`MAX_POOL_MEMBERS`],
    /// [`ConfigErrorKind::Duplicate`] for a member given twice.
    pub fn new(name: PoolName, policy: Policy, members: &[u16]) -> Result<Pool, ConfigErrorKind> {
        if members.is_empty() {
            return Err(ConfigErrorKind::BadNodeId);
        }
        let mut p = Pool {
            name,
            policy,
            lard: LardParams::DEFAULT,
            members: [0; MAX_POOL_MEMBERS],
            len: u8::try_from(members.len()).map_err(|_| ConfigErrorKind::TooMany)?,
        };
        let dst = p
            .members
            .get_mut(..members.len())
            .ok_or(ConfigErrorKind::TooMany)?;
        dst.copy_from_slice(members);
        dst.sort_unstable();
        if dst.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(ConfigErrorKind::Duplicate);
        }
        Ok(p)
    }

    /// The members' node ids, ascending.
    pub fn members(&self) -> &[u16] {
        self.members.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether node `id` is a member.
    pub fn has(&self, id: u16) -> bool {
        self.members().contains(&id)
    }

    /// This pool with LARD thresholds `lard`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::BadLard`] unless the policy is `lard` or
    /// `lard-r` (or `lard` is the default) and `t_low < t_high`.
    pub fn with_lard(mut self, lard: LardParams) -> Result<Pool, ConfigErrorKind> {
        if (!self.policy.is_lard() && lard != LardParams::DEFAULT) || lard.t_low >= lard.t_high {
            return Err(ConfigErrorKind::BadLard);
        }
        self.lard = lard;
        Ok(self)
    }
}

/// What a configuration line got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The first word is no known command.
    UnknownCommand,
    /// Too few or too many words for the command.
    Arity,
    /// A node id that is not a number in 0..=65535.
    BadNodeId,
    /// A malformed IPv4 address.
    BadAddress,
    /// A malformed or zero port.
    BadPort,
    /// The key is not 64 hex digits.
    BadKey,
    /// The rule text did not parse.
    BadRules(RuleParseError),
    /// The same peer id or address, or the same service, twice; or a peer
    /// with this node's own id.
    Duplicate,
    /// More peers or services than the fixed tables hold.
    TooMany,
    /// `node` given twice.
    NodeTwice,
    /// A line that is not UTF-8 or holds control characters.
    BadText,
    /// A malformed number.
    BadNumber,
    /// A timeout out of its range (see `timeouts.rs`).
    BadTimeout,
    /// A weight that is not a number in 1..=65535.
    BadWeight,
    /// A state that is not `up`, `drain` or `down`.
    BadState,
    /// A pool name that is not a lowercase letter and up to 15 more of
    /// `a-z0-9_-`.
    BadPoolName,
    /// A policy that is not `lard`, `lard-r`, `maglev`, `wrr` or
    /// `least-conn`.
    BadPolicy,
    /// An unknown option word, or one given twice.
    BadOption,
    /// LARD thresholds on a pool whose policy is not `lard` or `lard-r`,
    /// or `t-low` not below `t-high`.
    BadLard,
    /// A pool member that is neither this node nor a peer.
    UnknownNode(u16),
    /// A rule (or the default) names no configured pool.
    UnknownPool(PoolName),
}

/// A configuration error and the 1-based line it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ConfigErrorKind::UnknownCommand => "unknown command",
            ConfigErrorKind::Arity => "wrong number of arguments",
            ConfigErrorKind::BadNodeId => "bad node id",
            ConfigErrorKind::BadAddress => "bad IPv4 address",
            ConfigErrorKind::BadPort => "bad port",
            ConfigErrorKind::BadKey => "key must be 64 hex digits",
            ConfigErrorKind::BadRules(e) => return write!(f, "line {}: rules: {e}", self.line),
            ConfigErrorKind::Duplicate => "duplicate",
            ConfigErrorKind::TooMany => "too many entries",
            ConfigErrorKind::NodeTwice => "node given twice",
            ConfigErrorKind::BadText => "not printable text",
            ConfigErrorKind::BadNumber => "bad number",
            ConfigErrorKind::BadTimeout => {
                "timeout out of range (want 1 ms to 1 day; linger-ms may be 0, handoff-ms at least 10)"
            }
            ConfigErrorKind::BadWeight => "bad weight (want 1-65535)",
            ConfigErrorKind::BadState => "bad state (want up, drain or down)",
            ConfigErrorKind::BadPoolName => {
                "bad pool name (want a lowercase letter, then a-z 0-9 _ -, 16 at most)"
            }
            ConfigErrorKind::BadPolicy => {
                "bad policy (want lard, lard-r, maglev, wrr or least-conn)"
            }
            ConfigErrorKind::BadOption => "unknown or repeated option",
            ConfigErrorKind::BadLard => {
                "t-low, t-high and k-ms are for lard and lard-r pools, with t-low below t-high"
            }
            ConfigErrorKind::UnknownNode(id) => {
                return write!(
                    f,
                    "line {}: unknown node {id} (not this node or a peer)",
                    self.line
                )
            }
            ConfigErrorKind::UnknownPool(p) => {
                return write!(f, "line {}: rules: unknown pool {p}", self.line)
            }
        };
        write!(f, "line {}: {what}", self.line)
    }
}

/// A node's whole configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's id and control address, once set.
    pub node: Option<Peer>,
    /// The control channel's TCP port, the same on every node.
    pub ctrl_port: u16,
    peers: [Option<Peer>; MAX_PEERS],
    services: [Option<Endpoint>; MAX_SERVICES],
    /// Which of `services` (same slot) are TLS: dispatched by the server
    /// name of the client's ClientHello.
    tls: [bool; MAX_SERVICES],
    pools: [Option<Pool>; MAX_POOLS],
    /// Content rules: request -> node or pool.
    pub rules: RuleTable,
    /// The cluster key authenticating the control channel.
    pub key: Option<[u8; KEY_LEN]>,
    /// The key the channel rolls to, without going down (`keyroll.rs`).
    pub key_next: Option<[u8; KEY_LEN]>,
    /// Seconds each step of a key roll lasts.
    pub key_overlap_s: u32,
    /// The flows' timeouts that differ from the defaults (the linger:
    /// how long a closed connection's translation is kept for TIME_WAIT
    /// and retransmitted FINs; handshake, request head, handoff, idle).
    pub timeouts: Timeouts,
    /// When SYNs are answered with cookies (see `syncookie.rs`).
    pub syncookies: CookieMode,
    /// Half-open front-end flows of the namespace before `auto` cookies.
    pub syn_backlog: u32,
    /// Front-end flows one client address may hold before their handoff
    /// (`client_limit.rs`).
    pub client_flows: u32,
    /// How client packets are forwarded to remote back-ends (`encap.rs`).
    pub encap: Encap,
    /// Per-request dispatch: each request of a keep-alive connection is
    /// dispatched by its own content (`frontend/moves.rs`); off, the first
    /// request decides for the connection.
    pub moves: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig::new()
    }
}

impl NodeConfig {
    /// The empty configuration: no node, no peers, no services, every
    /// request to node 0.
    ///
    /// A `NodeConfig` is 8 KiB: the kernel copies [`NodeConfig::EMPTY`]
    /// straight into an allocation (`heap.rs`) instead of building this
    /// value on its stack. `Copy` for that reason only.
    pub const fn new() -> NodeConfig {
        NodeConfig::EMPTY
    }

    /// The empty configuration, as a constant (see [`NodeConfig::new`]).
    pub const EMPTY: NodeConfig = NodeConfig {
        node: None,
        ctrl_port: DEFAULT_CTRL_PORT,
        peers: [None; MAX_PEERS],
        services: [None; MAX_SERVICES],
        tls: [false; MAX_SERVICES],
        pools: [None; MAX_POOLS],
        rules: RuleTable::new(0),
        key: None,
        key_next: None,
        key_overlap_s: DEFAULT_KEY_OVERLAP_S,
        timeouts: Timeouts::DEFAULT,
        syncookies: CookieMode::Auto,
        syn_backlog: DEFAULT_SYN_BACKLOG,
        client_flows: DEFAULT_CLIENT_FLOWS,
        encap: Encap::None,
        moves: true,
    };

    /// The configured peers.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter().flatten()
    }

    /// The peer with node id `id`.
    pub fn peer(&self, id: u16) -> Option<&Peer> {
        self.peers().find(|p| p.id == id)
    }

    /// The peer whose control address is `addr`.
    pub fn peer_by_addr(&self, addr: u32) -> Option<&Peer> {
        self.peers().find(|p| p.addr == addr)
    }

    /// This node, then the peers.
    pub fn nodes(&self) -> impl Iterator<Item = &Peer> {
        Iterator::chain(self.node.iter(), self.peers())
    }

    /// This node or the peer with id `id`.
    pub fn node_by_id(&self, id: u16) -> Option<&Peer> {
        self.nodes().find(|p| p.id == id)
    }

    /// The pools, in the order they were given.
    pub fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.iter().flatten()
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &PoolName) -> Option<&Pool> {
        self.pools().find(|p| p.name == *name)
    }

    /// The services this node fronts.
    pub fn services(&self) -> impl Iterator<Item = &Endpoint> {
        self.services.iter().flatten()
    }

    /// Whether `ep` is a VIP:port this node fronts.
    pub fn is_service(&self, ep: Endpoint) -> bool {
        self.services().any(|s| *s == ep)
    }

    /// Whether `ep` is a TLS service (`service VIP:PORT tls`).
    pub fn is_tls(&self, ep: Endpoint) -> bool {
        self.services
            .iter()
            .zip(self.tls.iter())
            .any(|(s, &tls)| tls && *s == Some(ep))
    }

    /// Whether `addr` is the address of any service (on any port).
    pub fn is_service_addr(&self, addr: u32) -> bool {
        self.services().any(|s| s.addr == addr)
    }

    /// Parses `text` as a whole new configuration, by value: for the host;
    /// the kernel parses into an allocated one with
    /// [`NodeConfig::parse_into`].
    #[inline] // so the kernel, which never calls it, has no copy of it
    pub fn parse(text: &[u8]) -> Result<NodeConfig, ConfigError> {
        let mut cfg = NodeConfig::new();
        cfg.parse_into(text)?;
        Ok(cfg)
    }

    /// Replaces `self` with the configuration `text`, in place (a
    /// `NodeConfig` is several KiB: the kernel keeps it off the stack).
    /// On error `self` holds a partial configuration: parse into a spare
    /// and swap it in on success.
    pub fn parse_into(&mut self, text: &[u8]) -> Result<(), ConfigError> {
        self.node = None;
        self.ctrl_port = DEFAULT_CTRL_PORT;
        self.peers = [None; MAX_PEERS];
        self.services = [None; MAX_SERVICES];
        self.tls = [false; MAX_SERVICES];
        self.pools = [None; MAX_POOLS];
        self.rules.clear();
        self.rules.set_default(0);
        self.key = None;
        self.key_next = None;
        self.key_overlap_s = DEFAULT_KEY_OVERLAP_S;
        self.timeouts = Timeouts::DEFAULT;
        self.syncookies = CookieMode::Auto;
        self.syn_backlog = DEFAULT_SYN_BACKLOG;
        self.client_flows = DEFAULT_CLIENT_FLOWS;
        self.encap = Encap::None;
        self.moves = true;
        // Lines of the pools (by slot) and of the rules, for the checks at
        // the end.
        let mut pool_lines = [0usize; MAX_POOLS];
        let mut rules_line = 0;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i.saturating_add(1);
            let err = |kind| ConfigError { line, kind };
            let raw = raw.split(|&b| b == b'#').next().unwrap_or(&[]);
            let s = ::core::str::from_utf8(raw).map_err(|_| err(ConfigErrorKind::BadText))?;
            if s.chars().any(|c| c.is_control() && c != '\t' && c != '\r') {
                return Err(err(ConfigErrorKind::BadText));
            }
            let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
            let mut words = s.split_ascii_whitespace();
            let Some(cmd) = words.next() else { continue };
            if cmd == "rules" {
                // The rule text ignores blanks around its items, so
                // `a=1, default=2` works too.
                let rest = s.get(cmd.len()..).unwrap_or("");
                self.rules
                    .parse_into(rest.as_bytes())
                    .map_err(|e| err(ConfigErrorKind::BadRules(e)))?;
                rules_line = line;
                continue;
            }
            self.apply_line(cmd, &mut words).map_err(err)?;
            if cmd == "pool" {
                let n = self.pools().count().saturating_sub(1);
                if let Some(l) = pool_lines.get_mut(n) {
                    *l = line;
                }
            }
        }
        self.check_references(&pool_lines, rules_line)
    }

    /// Pools' members are this node or peers; pools that rules name
    /// exist.
    fn check_references(
        &self,
        pool_lines: &[usize; MAX_POOLS],
        rules_line: usize,
    ) -> Result<(), ConfigError> {
        for (pool, &line) in self.pools().zip(pool_lines) {
            if let Some(&id) = pool
                .members()
                .iter()
                .find(|&&id| self.node_by_id(id).is_none())
            {
                return Err(ConfigError {
                    line,
                    kind: ConfigErrorKind::UnknownNode(id),
                });
            }
        }
        let targets = self.rules.rules().iter().map(|r| r.target());
        for target in Iterator::chain(targets, [self.rules.default_target()]) {
            if let Target::Pool(name) = target {
                if self.pool(&name).is_none() {
                    return Err(ConfigError {
                        line: rules_line,
                        kind: ConfigErrorKind::UnknownPool(name),
                    });
                }
            }
        }
        Ok(())
    }

    /// `node`/`peer` options after the address: `weight W`, `state S`.
    fn node_options<'a>(
        peer: &mut Peer,
        words: &mut impl Iterator<Item = &'a str>,
    ) -> Result<(), ConfigErrorKind> {
        let (mut weight, mut state) = (None, None);
        while let Some(opt) = words.next() {
            let val = words.next().ok_or(ConfigErrorKind::Arity)?;
            match opt {
                "weight" if weight.is_none() => weight = Some(parse_weight(val)?),
                "state" if state.is_none() => {
                    state = Some(parse_state(val).ok_or(ConfigErrorKind::BadState)?);
                }
                _ => return Err(ConfigErrorKind::BadOption),
            }
        }
        peer.weight = weight.unwrap_or(1);
        peer.state = state.unwrap_or(MemberState::Up);
        Ok(())
    }

    /// `pool NAME policy P nodes ID[,ID...]`, after `pool`.
    fn pool_line<'a>(
        &mut self,
        words: &mut impl Iterator<Item = &'a str>,
    ) -> Result<(), ConfigErrorKind> {
        let name = words.next().ok_or(ConfigErrorKind::Arity)?;
        let name = PoolName::new(name.as_bytes()).ok_or(ConfigErrorKind::BadPoolName)?;
        let (mut policy, mut nodes) = (None, None);
        let (mut t_low, mut t_high, mut k_ms) = (None, None, None);
        let mut ids = [0u16; MAX_POOL_MEMBERS];
        while let Some(opt) = words.next() {
            let val = words.next().ok_or(ConfigErrorKind::Arity)?;
            match opt {
                "t-low" if t_low.is_none() => t_low = Some(parse_u32(val)?),
                "t-high" if t_high.is_none() => t_high = Some(parse_u32(val)?),
                "k-ms" if k_ms.is_none() => k_ms = Some(parse_u32(val)?),
                "policy" if policy.is_none() => {
                    policy = Some(Policy::parse(val).ok_or(ConfigErrorKind::BadPolicy)?);
                }
                "nodes" if nodes.is_none() => {
                    let mut n = 0usize;
                    for id in val.split(',') {
                        let slot = ids.get_mut(n).ok_or(ConfigErrorKind::TooMany)?;
                        *slot = parse_node_id(id)?;
                        n = n.saturating_add(1);
                    }
                    nodes = Some(n);
                }
                _ => return Err(ConfigErrorKind::BadOption),
            }
        }
        let (Some(policy), Some(n)) = (policy, nodes) else {
            return Err(ConfigErrorKind::Arity);
        };
        let d = LardParams::DEFAULT;
        let lard = LardParams {
            t_low: t_low.unwrap_or(d.t_low),
            t_high: t_high.unwrap_or(d.t_high),
            k_ms: k_ms.map_or(d.k_ms, u64::from),
        };
        let pool = Pool::new(name, policy, ids.get(..n).unwrap_or(&[]))?.with_lard(lard)?;
        if self.pool(&name).is_some() {
            return Err(ConfigErrorKind::Duplicate);
        }
        let slot = self.pools.iter_mut().find(|p| p.is_none());
        *slot.ok_or(ConfigErrorKind::TooMany)? = Some(pool);
        Ok(())
    }

    fn apply_line<'a>(
        &mut self,
        cmd: &str,
        words: &mut impl Iterator<Item = &'a str>,
    ) -> Result<(), ConfigErrorKind> {
        let mut arg = || words.next().ok_or(ConfigErrorKind::Arity);
        match cmd {
            "node" => {
                let mut peer = Peer::new(
                    parse_node_id(arg()?)?,
                    parse_ipv4(arg()?).ok_or(ConfigErrorKind::BadAddress)?,
                );
                NodeConfig::node_options(&mut peer, words)?;
                if self.node.is_some() {
                    return Err(ConfigErrorKind::NodeTwice);
                }
                if self.peer(peer.id).is_some() {
                    return Err(ConfigErrorKind::Duplicate);
                }
                self.node = Some(peer);
            }
            "ctrl-port" => self.ctrl_port = parse_port(arg()?)?,
            "peer" => {
                let mut peer = Peer::new(
                    parse_node_id(arg()?)?,
                    parse_ipv4(arg()?).ok_or(ConfigErrorKind::BadAddress)?,
                );
                NodeConfig::node_options(&mut peer, words)?;
                let own = self.node.is_some_and(|n| n.id == peer.id);
                if own || self.peer(peer.id).is_some() || self.peer_by_addr(peer.addr).is_some() {
                    return Err(ConfigErrorKind::Duplicate);
                }
                let slot = self.peers.iter_mut().find(|p| p.is_none());
                *slot.ok_or(ConfigErrorKind::TooMany)? = Some(peer);
            }
            "service" => {
                let ep = parse_endpoint(arg()?)?;
                if self.is_service(ep) {
                    return Err(ConfigErrorKind::Duplicate);
                }
                let tls = match words.next() {
                    None => false,
                    Some("tls") => true,
                    Some(_) => return Err(ConfigErrorKind::BadOption),
                };
                let i = self.services.iter().position(Option::is_none);
                let i = i.ok_or(ConfigErrorKind::TooMany)?;
                if let (Some(s), Some(t)) = (self.services.get_mut(i), self.tls.get_mut(i)) {
                    *s = Some(ep);
                    *t = tls;
                }
            }
            "pool" => self.pool_line(words)?,
            "key" => self.key = Some(parse_key(arg()?)?),
            "key-next" => self.key_next = Some(parse_key(arg()?)?),
            "key-overlap" => match parse_u32(arg()?)? {
                n @ 1..=MAX_KEY_OVERLAP_S => self.key_overlap_s = n,
                _ => return Err(ConfigErrorKind::BadNumber),
            },
            t if Timeouts::is_setting(t) => self.timeouts.set(t, arg()?)?,
            "syncookies" => {
                self.syncookies = CookieMode::parse(arg()?).ok_or(ConfigErrorKind::BadOption)?;
            }
            "syn-backlog" => match parse_u32(arg()?)? {
                n @ 1..=MAX_SYN_BACKLOG => self.syn_backlog = n,
                _ => return Err(ConfigErrorKind::BadNumber),
            },
            "client-flows" => match parse_u32(arg()?)? {
                n @ 1..=MAX_CLIENT_FLOWS => self.client_flows = n,
                _ => return Err(ConfigErrorKind::BadNumber),
            },
            "encap" => self.encap = Encap::parse(arg()?).ok_or(ConfigErrorKind::BadOption)?,
            "moves" => {
                self.moves = match arg()? {
                    "on" => true,
                    "off" => false,
                    _ => return Err(ConfigErrorKind::BadOption),
                }
            }
            _ => return Err(ConfigErrorKind::UnknownCommand),
        }
        if words.next().is_some() {
            return Err(ConfigErrorKind::Arity);
        }
        Ok(())
    }
}

impl fmt::Display for Peer {
    /// `ID ADDR`, then `weight W` and `state S` unless they are the
    /// defaults: a `node` or `peer` line without its command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, Ipv4(self.addr))?;
        if self.weight != 1 {
            write!(f, " weight {}", self.weight)?;
        }
        if self.state != MemberState::Up {
            write!(f, " state {}", state_name(self.state))?;
        }
        Ok(())
    }
}

impl fmt::Display for Pool {
    /// `NAME policy P nodes A,B`: a `pool` line without its command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} policy {} nodes ", self.name, self.policy)?;
        for (i, id) in self.members().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{id}")?;
        }
        let (l, d) = (self.lard, LardParams::DEFAULT);
        if l.t_low != d.t_low {
            write!(f, " t-low {}", l.t_low)?;
        }
        if l.t_high != d.t_high {
            write!(f, " t-high {}", l.t_high)?;
        }
        if l.k_ms != d.k_ms {
            write!(f, " k-ms {}", l.k_ms)?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.node {
            writeln!(f, "node {n}")?;
        }
        writeln!(f, "ctrl-port {}", self.ctrl_port)?;
        for p in self.peers() {
            writeln!(f, "peer {p}")?;
        }
        for (s, &tls) in self.services.iter().zip(self.tls.iter()) {
            let Some(s) = s else { continue };
            writeln!(
                f,
                "service {}:{}{}",
                Ipv4(s.addr),
                s.port,
                if tls { " tls" } else { "" }
            )?;
        }
        for p in self.pools() {
            writeln!(f, "pool {p}")?;
        }
        writeln!(f, "rules {}", self.rules)?;
        write!(f, "{}", self.timeouts)?;
        if self.syncookies != CookieMode::Auto {
            writeln!(f, "syncookies {}", self.syncookies.name())?;
        }
        if self.syn_backlog != DEFAULT_SYN_BACKLOG {
            writeln!(f, "syn-backlog {}", self.syn_backlog)?;
        }
        if self.client_flows != DEFAULT_CLIENT_FLOWS {
            writeln!(f, "client-flows {}", self.client_flows)?;
        }
        if self.encap != Encap::None {
            writeln!(f, "encap {}", self.encap.name())?;
        }
        if !self.moves {
            writeln!(f, "moves off")?;
        }
        for (name, key) in [("key", self.key), ("key-next", self.key_next)] {
            let Some(key) = key else { continue };
            write!(f, "{name} ")?;
            for b in key {
                write!(f, "{b:02x}")?;
            }
            writeln!(f)?;
        }
        if self.key_overlap_s != DEFAULT_KEY_OVERLAP_S {
            writeln!(f, "key-overlap {}", self.key_overlap_s)?;
        }
        Ok(())
    }
}

/// Displays a host-order IPv4 address in dotted-quad form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4(pub u32);

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// Parses a dotted-quad IPv4 address (exactly four decimal parts, no
/// leading zeros) into host order.
pub fn parse_ipv4(s: &str) -> Option<u32> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(u32::from_be_bytes(out))
}

fn parse_node_id(s: &str) -> Result<u16, ConfigErrorKind> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigErrorKind::BadNodeId);
    }
    s.parse().map_err(|_| ConfigErrorKind::BadNodeId)
}

fn parse_weight(s: &str) -> Result<u16, ConfigErrorKind> {
    match s.parse::<u16>() {
        Ok(w) if w != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(w),
        _ => Err(ConfigErrorKind::BadWeight),
    }
}

/// A decimal number in `0..=u32::MAX` (digits only: no sign, no spaces).
fn parse_u32(s: &str) -> Result<u32, ConfigErrorKind> {
    s.parse::<u32>()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(ConfigErrorKind::BadNumber)
}

fn parse_port(s: &str) -> Result<u16, ConfigErrorKind> {
    match s.parse::<u16>() {
        Ok(p) if p != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(ConfigErrorKind::BadPort),
    }
}

fn parse_endpoint(s: &str) -> Result<Endpoint, ConfigErrorKind> {
    let (addr, port) = s.rsplit_once(':').ok_or(ConfigErrorKind::BadPort)?;
    Ok(Endpoint {
        addr: parse_ipv4(addr).ok_or(ConfigErrorKind::BadAddress)?,
        port: parse_port(port)?,
    })
}

fn parse_key(s: &str) -> Result<[u8; KEY_LEN], ConfigErrorKind> {
    let mut key = [0u8; KEY_LEN];
    let hex = s.as_bytes();
    if hex.len() != KEY_LEN.saturating_mul(2) {
        return Err(ConfigErrorKind::BadKey);
    }
    let digit = |i: usize| -> Result<u8, ConfigErrorKind> {
        let c = hex.get(i).copied().ok_or(ConfigErrorKind::BadKey)?;
        let d = (c as char).to_digit(16).ok_or(ConfigErrorKind::BadKey)?;
        u8::try_from(d).map_err(|_| ConfigErrorKind::BadKey)
    };
    for (i, k) in key.iter_mut().enumerate() {
        let at = i.saturating_mul(2);
        *k = digit(at)?.wrapping_shl(4) | digit(at.saturating_add(1))?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    extern crate std;
    use std::string::ToString;

    const FULL: &str = "node 1 10.99.0.1\nctrl-port 7447\npeer 2 10.99.0.11\npeer 3 10.99.0.12\n\
service 10.99.0.100:80\nservice 10.99.0.100:443 tls\nrules /img/=2,/video/=3,default=1\nlinger-ms 2000\n\
syncookies always\nsyn-backlog 64\nclient-flows 8\nencap ipip\nmoves off\n\
key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\
key-next 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100\n\
key-overlap 5\n";

    #[test]
    fn full_config_round_trips() {
        let cfg = NodeConfig::parse(FULL.as_bytes()).unwrap();
        assert_eq!(cfg.node, Some(Peer::new(1, 0x0a63_0001)));
        assert_eq!(cfg.peer(3).map(|p| p.addr), Some(0x0a63_000c));
        assert_eq!(cfg.peer_by_addr(0x0a63_000b).map(|p| p.id), Some(2));
        assert!(cfg.is_service(Endpoint {
            addr: 0x0a63_0064,
            port: 80
        }));
        assert!(!cfg.is_service(Endpoint {
            addr: 0x0a63_0064,
            port: 81
        }));
        assert!(cfg.is_tls(Endpoint::new(0x0a63_0064, 443)));
        assert!(!cfg.is_tls(Endpoint::new(0x0a63_0064, 80)));
        assert!(!cfg.moves);
        assert_eq!(cfg.rules.select_path(None, b"/video/x"), 3);
        assert_eq!(cfg.key.unwrap()[31], 0x1f);
        assert_eq!(cfg.key_next.unwrap()[31], 0x00);
        assert_eq!(cfg.key_overlap_s, 5);
        assert_eq!(cfg.to_string(), FULL);
        assert_eq!(NodeConfig::parse(cfg.to_string().as_bytes()).unwrap(), cfg);
    }

    #[test]
    fn comments_blank_lines_and_spaced_rules() {
        let cfg =
            NodeConfig::parse(b"# a node\n\n  node 7 1.2.3.4   # me\nrules /a/=2, default=7\r\n")
                .unwrap();
        assert_eq!(cfg.node.map(|n| n.id), Some(7));
        assert_eq!(cfg.rules.select_path(None, b"/a/b"), 2);
        assert_eq!(cfg.rules.select_path(None, b"/b"), 7);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, usize, ConfigErrorKind)] = &[
            ("frob 1", 1, ConfigErrorKind::UnknownCommand),
            (
                "node 1 10.0.0.1\nnode 2 10.0.0.2",
                2,
                ConfigErrorKind::NodeTwice,
            ),
            ("node 1", 1, ConfigErrorKind::Arity),
            ("node 1 10.0.0.1 extra", 1, ConfigErrorKind::Arity),
            ("node x 10.0.0.1", 1, ConfigErrorKind::BadNodeId),
            ("node 70000 10.0.0.1", 1, ConfigErrorKind::BadNodeId),
            ("\npeer 2 10.0.0.256", 2, ConfigErrorKind::BadAddress),
            ("peer 2 10.0.0", 1, ConfigErrorKind::BadAddress),
            ("peer 2 010.0.0.1", 1, ConfigErrorKind::BadAddress),
            (
                "peer 2 10.0.0.1\npeer 2 10.0.0.2",
                2,
                ConfigErrorKind::Duplicate,
            ),
            (
                "peer 2 10.0.0.1\npeer 3 10.0.0.1",
                2,
                ConfigErrorKind::Duplicate,
            ),
            (
                "node 2 10.0.0.9\npeer 2 10.0.0.1",
                2,
                ConfigErrorKind::Duplicate,
            ),
            ("service 10.0.0.1", 1, ConfigErrorKind::BadPort),
            ("service 10.0.0.1:0", 1, ConfigErrorKind::BadPort),
            ("service 10.0.0.1:443 ssl", 1, ConfigErrorKind::BadOption),
            ("service 10.0.0.1:443 tls tls", 1, ConfigErrorKind::Arity),
            (
                "service 10.0.0.1:80\nservice 10.0.0.1:80",
                2,
                ConfigErrorKind::Duplicate,
            ),
            ("ctrl-port 65536", 1, ConfigErrorKind::BadPort),
            ("key abcd", 1, ConfigErrorKind::BadKey),
            ("linger-ms -1", 1, ConfigErrorKind::BadNumber),
            ("linger-ms 1 2", 1, ConfigErrorKind::Arity),
            ("syncookies sometimes", 1, ConfigErrorKind::BadOption),
            ("encap gre", 1, ConfigErrorKind::BadOption),
            ("moves maybe", 1, ConfigErrorKind::BadOption),
            ("encap", 1, ConfigErrorKind::Arity),
            ("syncookies", 1, ConfigErrorKind::Arity),
            ("syn-backlog 0", 1, ConfigErrorKind::BadNumber),
            ("syn-backlog 1048577", 1, ConfigErrorKind::BadNumber),
            ("client-flows 0", 1, ConfigErrorKind::BadNumber),
            ("client-flows 65536", 1, ConfigErrorKind::BadNumber),
            ("key-next abcd", 1, ConfigErrorKind::BadKey),
            ("key-overlap 0", 1, ConfigErrorKind::BadNumber),
            ("key-overlap 3601", 1, ConfigErrorKind::BadNumber),
            ("handshake-ms 0", 1, ConfigErrorKind::BadTimeout),
            ("handoff-ms 9", 1, ConfigErrorKind::BadTimeout),
            ("idle-ms 86400001", 1, ConfigErrorKind::BadTimeout),
            ("request-ms 1e3", 1, ConfigErrorKind::BadNumber),
            ("idle-ms", 1, ConfigErrorKind::Arity),
            ("node 1 1.2.3.4\x01", 1, ConfigErrorKind::BadText),
        ];
        for (text, line, kind) in cases {
            let e = NodeConfig::parse(text.as_bytes()).unwrap_err();
            assert_eq!((e.line, e.kind), (*line, *kind), "{text:?}");
            assert!(e.to_string().starts_with(&std::format!("line {line}: ")));
        }
        let e = NodeConfig::parse(b"rules /a=1").unwrap_err();
        assert!(matches!(e.kind, ConfigErrorKind::BadRules(_)), "{e:?}");
    }

    #[test]
    fn tables_are_bounded() {
        let mut text = std::string::String::new();
        for i in 0..=MAX_PEERS {
            text.push_str(&std::format!("peer {} 10.0.1.{}\n", i + 2, i + 2));
        }
        let e = NodeConfig::parse(text.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.kind), (MAX_PEERS + 1, ConfigErrorKind::TooMany));
    }

    #[test]
    fn empty_text_is_the_empty_config() {
        assert_eq!(NodeConfig::parse(b"").unwrap(), NodeConfig::new());
        assert_eq!(NodeConfig::new().rules.select(None), 0);
    }

    #[test]
    fn ipv4_parsing() {
        assert_eq!(parse_ipv4("0.0.0.0"), Some(0));
        assert_eq!(parse_ipv4("255.255.255.255"), Some(u32::MAX));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "a.b.c.d",
            "1.2.3.-4",
            "+1.2.3.4",
            "1.2.3.04",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
    }

    #[test]
    fn pools_weights_and_states() {
        // Out of order: pools before their peers, rules before the pools,
        // options either way round, members unsorted.
        let text = "rules /img/=img, *.css=3, default=web\n\
                    pool web nodes 3,1,2 policy wrr\n\
                    pool img policy maglev nodes 3,2\n\
                    node 1 10.0.0.1 state drain\n\
                    peer 2 10.0.0.2 state up weight 3\n\
                    peer 3 10.0.0.3 weight 1 state down\n";
        let cfg = NodeConfig::parse(text.as_bytes()).unwrap();
        let canonical = "node 1 10.0.0.1 state drain\nctrl-port 7447\n\
                         peer 2 10.0.0.2 weight 3\npeer 3 10.0.0.3 state down\n\
                         pool web policy wrr nodes 1,2,3\npool img policy maglev nodes 2,3\n\
                         rules /img/=img,*.css=3,default=web\n";
        assert_eq!(cfg.to_string(), canonical);
        assert_eq!(NodeConfig::parse(canonical.as_bytes()).unwrap(), cfg);
        let web = PoolName::new(b"web").unwrap();
        let pool = cfg.pool(&web).unwrap();
        assert_eq!((pool.policy, pool.members()), (Policy::Wrr, &[1, 2, 3][..]));
        assert!(pool.has(2) && !pool.has(4));
        assert_eq!(cfg.pools().count(), 2);
        assert_eq!(cfg.node_by_id(1).map(|n| n.state), Some(MemberState::Drain));
        assert_eq!(cfg.node_by_id(2).map(|n| n.weight), Some(3));
        assert_eq!(cfg.node_by_id(4), None);
        assert_eq!(
            cfg.nodes().map(|n| n.id).collect::<std::vec::Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(cfg.rules.default_target(), Target::Pool(web));
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.as_str()), Some(p));
        }
        // Bare node ids in rules need not be configured (as before).
        NodeConfig::parse(b"rules /a=9,default=0").unwrap();
    }

    #[test]
    fn lard_thresholds_per_pool() {
        let text = "node 1 10.0.0.1\npeer 2 10.0.0.2\n\
                    pool a policy lard-r nodes 1,2 k-ms 5000 t-high 30 t-low 10\n\
                    pool b policy lard nodes 1,2 t-high 100\n\
                    pool c policy lard nodes 2 t-low 25 t-high 65 k-ms 20000\n";
        let cfg = NodeConfig::parse(text.as_bytes()).unwrap();
        let lard = |name: &[u8]| cfg.pool(&PoolName::new(name).unwrap()).unwrap().lard;
        let p = |t_low, t_high, k_ms| LardParams {
            t_low,
            t_high,
            k_ms,
        };
        assert_eq!(lard(b"a"), p(10, 30, 5000));
        assert_eq!(lard(b"b"), p(25, 100, 20_000));
        assert_eq!(lard(b"c"), LardParams::DEFAULT);
        // Written back in a fixed order, defaults left out.
        let shown = cfg.to_string();
        assert!(shown.contains("pool a policy lard-r nodes 1,2 t-low 10 t-high 30 k-ms 5000\n"));
        assert!(shown.contains("pool b policy lard nodes 1,2 t-high 100\n"));
        assert!(shown.contains("pool c policy lard nodes 2\n"));
        assert_eq!(NodeConfig::parse(shown.as_bytes()).unwrap(), cfg);
    }

    #[test]
    fn pool_and_option_errors() {
        use ConfigErrorKind as K;
        let img = PoolName::new(b"img").unwrap();
        let cases: &[(&str, usize, ConfigErrorKind)] = &[
            ("peer 2 10.0.0.2 weight 0", 1, K::BadWeight),
            ("peer 2 10.0.0.2 weight 65536", 1, K::BadWeight),
            ("peer 2 10.0.0.2 weight +1", 1, K::BadWeight),
            ("peer 2 10.0.0.2 state sleeping", 1, K::BadState),
            ("node 2 10.0.0.2 state", 1, K::Arity),
            ("peer 2 10.0.0.2 weight 2 weight 3", 1, K::BadOption),
            ("peer 2 10.0.0.2 colour red", 1, K::BadOption),
            ("pool", 1, K::Arity),
            ("pool img", 1, K::Arity),
            ("pool img policy wrr", 1, K::Arity),
            ("pool img nodes 1", 1, K::Arity),
            ("pool Img policy wrr nodes 1", 1, K::BadPoolName),
            ("pool 1mg policy wrr nodes 1", 1, K::BadPoolName),
            ("pool img policy random nodes 1", 1, K::BadPolicy),
            ("pool img policy wrr nodes 1, 2", 1, K::BadNodeId),
            ("pool img policy wrr nodes 1 2", 1, K::Arity),
            ("pool img policy wrr nodes 1,,2", 1, K::BadNodeId),
            ("pool img policy wrr nodes 1,x", 1, K::BadNodeId),
            ("pool img policy wrr nodes 1,2,1", 1, K::Duplicate),
            ("pool img policy wrr policy lard nodes 1", 1, K::BadOption),
            ("pool img policy wrr nodes 1 nodes 2", 1, K::BadOption),
            ("pool img policy wrr nodes 1 t-low 5", 1, K::BadLard),
            ("pool img policy maglev nodes 1 k-ms 5", 1, K::BadLard),
            ("pool img policy lard nodes 1 t-low 65", 1, K::BadLard),
            (
                "pool img policy lard nodes 1 t-low 9 t-high 9",
                1,
                K::BadLard,
            ),
            ("pool img policy lard nodes 1 t-high 0", 1, K::BadLard),
            ("pool img policy lard nodes 1 t-low -1", 1, K::BadNumber),
            (
                "pool img policy lard nodes 1 t-high 4294967296",
                1,
                K::BadNumber,
            ),
            (
                "pool img policy lard nodes 1 t-low 1 t-low 2",
                1,
                K::BadOption,
            ),
            ("pool img policy lard nodes 1 t-low", 1, K::Arity),
            (
                "node 1 10.0.0.1\npool img policy wrr nodes 1\npool img policy lard nodes 1",
                3,
                K::Duplicate,
            ),
            (
                "node 1 10.0.0.1\npeer 2 10.0.0.2\npool img policy wrr nodes 1,2,3",
                3,
                K::UnknownNode(3),
            ),
            (
                "pool img policy wrr nodes 7\nnode 1 10.0.0.1",
                1,
                K::UnknownNode(7),
            ),
            (
                "node 1 10.0.0.1\n\nrules /a/=img,default=1",
                3,
                K::UnknownPool(img),
            ),
            ("rules default=img\n", 1, K::UnknownPool(img)),
        ];
        for (text, line, kind) in cases {
            let e = NodeConfig::parse(text.as_bytes()).unwrap_err();
            assert_eq!((e.line, e.kind), (*line, *kind), "{text:?}");
            assert!(e.to_string().starts_with(&std::format!("line {line}: ")));
        }
        let e = NodeConfig::parse(b"pool img policy wrr nodes 7").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: unknown node 7 (not this node or a peer)"
        );
        let e = NodeConfig::parse(b"rules default=img").unwrap_err();
        assert_eq!(e.to_string(), "line 1: rules: unknown pool img");
        // Bounded: pools and members.
        let mut text = std::string::String::from("node 1 10.0.0.1\n");
        for i in 0..=MAX_POOLS {
            text.push_str(&std::format!("pool p{i} policy wrr nodes 1\n"));
        }
        let e = NodeConfig::parse(text.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.kind), (MAX_POOLS + 2, ConfigErrorKind::TooMany));
        let ids: std::vec::Vec<std::string::String> =
            (0..=MAX_POOL_MEMBERS).map(|i| i.to_string()).collect();
        let text = std::format!("pool p policy wrr nodes {}", ids.join(","));
        let e = NodeConfig::parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::TooMany);
    }
}
