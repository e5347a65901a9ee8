//! The structured commands as edits of the configuration's text form.
//!
//! Every edit takes the text the kernel gave (`CONFIG_GET`), checks the
//! request against it with clear messages, changes whole lines, and returns
//! the new text in canonical form: parsed and rendered again by `btcp_core`,
//! the parser the module itself runs, so what is sent is what the kernel
//! will accept and show back. Nothing here talks to the kernel.

use std::fmt;

use btcp_core::config::{
    parse_state, state_name, ConfigError, ConfigErrorKind, Ipv4, NodeConfig, Peer, Policy, Pool,
    MAX_PEERS, MAX_POOLS, MAX_POOL_MEMBERS, MAX_SERVICES,
};
use btcp_core::flow::Endpoint;
use btcp_core::policy::{LardParams, MemberState};
use btcp_core::rules::{FieldKind, Match, PoolName, RuleError, RuleTable, Target};
use btcp_core::timeouts::Timeouts;

/// Why an edit was refused; the message is for the user as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError(pub String);

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EditError {}

fn err<T>(msg: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(msg.into()))
}

/// Parses a whole configuration text, naming the line at fault.
pub fn parse(text: &str) -> Result<NodeConfig, EditError> {
    NodeConfig::parse(text.as_bytes()).map_err(|e| EditError(e.to_string()))
}

/// The canonical form of `text`: what the kernel renders after taking it.
pub fn canonical(text: &str) -> Result<String, EditError> {
    Ok(parse(text)?.to_string())
}

/// Parses one line of configuration built from user input. Input with a
/// line break or a comment sign would change the line's meaning: refused.
fn parse_line(line: &str) -> Result<NodeConfig, ConfigErrorKind> {
    if line.contains(['\n', '\r', '#']) {
        return Err(ConfigErrorKind::BadText);
    }
    NodeConfig::parse(line.as_bytes()).map_err(|e| e.kind)
}

/// A word of user input that must be one word.
fn word<'a>(what: &str, s: &'a str) -> Result<&'a str, EditError> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        return err(format!("malformed {what} {s:?}"));
    }
    Ok(s)
}

/// A `VIP:PORT` argument.
pub fn parse_endpoint(s: &str) -> Result<Endpoint, EditError> {
    let s = word("service (want VIP:PORT)", s)?;
    match parse_line(&format!("service {s}")) {
        Ok(cfg) => match cfg.services().next() {
            Some(ep) => Ok(*ep),
            None => err(format!("malformed service {s:?} (want VIP:PORT)")),
        },
        Err(ConfigErrorKind::BadAddress) => err(format!(
            "malformed address in {s:?}: want a dotted-quad IPv4 address"
        )),
        Err(_) => err(format!(
            "malformed service {s:?}: want VIP:PORT, port 1-65535"
        )),
    }
}

/// A node id and IPv4 address argument pair.
pub fn parse_node(id: &str, addr: &str) -> Result<Peer, EditError> {
    let id = word("node id", id)?;
    let addr = word("address", addr)?;
    match parse_line(&format!("peer {id} {addr}")) {
        Ok(cfg) => match cfg.peers().next() {
            Some(p) => Ok(*p),
            None => err(format!("malformed node {id} {addr}")),
        },
        Err(ConfigErrorKind::BadAddress) => err(format!(
            "malformed address {addr:?}: want a dotted-quad IPv4 address"
        )),
        Err(_) => err(format!("bad node id {id:?}: want a number 0-65535")),
    }
}

/// A node id argument.
pub fn parse_node_id(id: &str) -> Result<u16, EditError> {
    parse_node(id, "0.0.0.0").map(|p| p.id)
}

pub(crate) fn endpoint_text(ep: &Endpoint) -> String {
    format!("{}:{}", Ipv4(ep.addr), ep.port)
}

/// What a rule matches, from the command line: `rule add` and `rule del`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleSpec<'a> {
    /// `--host`: `example.com` or `*.example.com`.
    pub host: Option<&'a str>,
    /// `--method`.
    pub method: Option<&'a str>,
    /// `--header NAME[:VALUE]`.
    pub header: Option<&'a str>,
    /// `--cookie NAME[:VALUE]`.
    pub cookie: Option<&'a str>,
    /// `/prefix`, `*suffix` or `=/exact`; or `sni:NAME`, a TLS server name.
    pub path: &'a str,
}

impl<'a> RuleSpec<'a> {
    /// A rule on an optional host and a path.
    pub fn path(host: Option<&'a str>, path: &'a str) -> Self {
        RuleSpec {
            host,
            path,
            ..RuleSpec::default()
        }
    }

    /// The core's match; `NAME[:VALUE]` split at the first `:`.
    fn as_match(&self) -> Result<Match<'a>, EditError> {
        let field = |kind, s: &'a str| match s.split_once(':') {
            Some((n, v)) => (kind, n.as_bytes(), Some(v.as_bytes())),
            None => (kind, s.as_bytes(), None),
        };
        let field = match (self.header, self.cookie) {
            (Some(_), Some(_)) => return err("a rule takes a header or a cookie, not both"),
            (Some(h), None) => Some(field(FieldKind::Header, h)),
            (None, Some(c)) => Some(field(FieldKind::Cookie, c)),
            (None, None) => None,
        };
        if let Some(name) = self.path.strip_prefix("sni:") {
            if self.host.is_some() || self.method.is_some() || field.is_some() {
                return err("an sni: rule matches the TLS server name alone");
            }
            return Ok(Match {
                host: Some(name.as_bytes()),
                path: b"/",
                method: None,
                field: None,
                sni: true,
            });
        }
        Ok(Match {
            host: self.host.map(str::as_bytes),
            path: self.path.as_bytes(),
            method: self.method.map(str::as_bytes),
            field,
            sni: false,
        })
    }

    /// The rule's name in messages, in the text form's order.
    fn name(&self) -> String {
        let mut words = Vec::new();
        if let Some(m) = self.method {
            words.push(format!("method:{m}"));
        }
        if let Some(h) = self.header {
            words.push(format!("header:{h}"));
        }
        if let Some(c) = self.cookie {
            words.push(format!("cookie:{c}"));
        }
        words.push(match self.host {
            Some(h) => format!("host:{h}{}", self.path),
            None => self.path.to_string(),
        });
        words.join(" ")
    }

    /// Each part one word (no blanks, line breaks or comment signs).
    fn check_words(&self) -> Result<(), EditError> {
        for (what, part) in [
            ("host", self.host),
            ("method", self.method),
            ("header", self.header),
            ("cookie", self.cookie),
            ("path", Some(self.path)),
        ] {
            if let Some(p) = part {
                word(what, p)?;
            }
        }
        Ok(())
    }
}

/// The text's lines, minus those `drop` picks, plus `add`, in canonical form.
fn rewrite(
    text: &str,
    drop: impl Fn(&str) -> bool,
    add: impl IntoIterator<Item = String>,
) -> Result<String, EditError> {
    // Lines are matched in the canonical form: one directive a line, no
    // comments, as the kernel renders it.
    let text = canonical(text)?;
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !drop(l))
        .map(str::to_string)
        .collect();
    lines.extend(add);
    let new = lines.join("\n");
    // The checks before a rewrite should make this parse; if not, say so
    // rather than send something the kernel will refuse.
    canonical(&new).map_err(|e| EditError(format!("the edited configuration is invalid: {e}")))
}

fn first_word_is(line: &str, cmd: &str) -> bool {
    line.split_ascii_whitespace().next() == Some(cmd)
}

/// Whether `line` is a `service` line for `ep`.
fn is_service_line(line: &str, ep: &Endpoint) -> bool {
    first_word_is(line, "service")
        && parse_line(line).is_ok_and(|c| c.services().next() == Some(ep))
}

/// Whether `line` is the `peer` line of node `id`.
fn is_peer_line(line: &str, id: u16) -> bool {
    first_word_is(line, "peer") && parse_line(line).is_ok_and(|c| c.peer(id).is_some())
}

/// Whether `id` is this node or a peer.
fn known_node(cfg: &NodeConfig, id: u16) -> bool {
    cfg.node.is_some_and(|n| n.id == id) || cfg.peer(id).is_some()
}

fn check_known(cfg: &NodeConfig, id: u16) -> Result<(), EditError> {
    if known_node(cfg, id) {
        return Ok(());
    }
    err(format!(
        "unknown node {id}: no such node in the configuration (add it first: btcpctl node add {id} ADDR)"
    ))
}

/// A pool name argument.
fn parse_pool_name(name: &str) -> Result<PoolName, EditError> {
    PoolName::new(name.as_bytes()).ok_or_else(|| {
        EditError(format!(
            "bad pool name {name:?}: want a lowercase letter, then a-z 0-9 _ -, at most 16"
        ))
    })
}

/// A policy argument.
fn parse_policy(policy: &str) -> Result<Policy, EditError> {
    Policy::parse(policy).ok_or_else(|| {
        let all: Vec<&str> = Policy::ALL.iter().map(|p| p.as_str()).collect();
        EditError(format!(
            "unknown policy {policy:?}: want one of {}",
            all.join(", ")
        ))
    })
}

/// A rule target argument: a configured node or pool.
fn parse_target(cfg: &NodeConfig, target: &str) -> Result<Target, EditError> {
    match Target::parse(target.as_bytes()) {
        Some(Target::Node(id)) => check_known(cfg, id).map(|()| Target::Node(id)),
        Some(Target::Pool(name)) if cfg.pool(&name).is_some() => Ok(Target::Pool(name)),
        Some(Target::Pool(name)) => err(format!(
            "unknown pool {name}: no such pool (add it first: btcpctl pool add {name} --policy P --nodes ID,...)"
        )),
        None => err(format!(
            "bad target {target:?}: want a node id (0-65535) or a pool name"
        )),
    }
}

/// A `--nodes ID[,ID...]` argument, each a configured node.
fn parse_members(cfg: &NodeConfig, nodes: &str) -> Result<Vec<u16>, EditError> {
    let mut ids = Vec::new();
    for id in nodes.split(',') {
        let id = parse_node_id(id.trim())?;
        check_known(cfg, id)?;
        if ids.contains(&id) {
            return err(format!("node {id} given twice"));
        }
        ids.push(id);
    }
    if ids.len() > MAX_POOL_MEMBERS {
        return err(format!(
            "too many nodes in a pool: at most {MAX_POOL_MEMBERS}"
        ));
    }
    Ok(ids)
}

/// The rules (by name) whose target is `target`, `default` included.
fn rules_using(cfg: &NodeConfig, target: Target) -> Vec<String> {
    cfg.rules
        .rules()
        .iter()
        .filter(|r| r.target() == target)
        .map(|r| r.to_string())
        .chain((cfg.rules.default_target() == target).then(|| "default".to_string()))
        .collect()
}

/// The pools node `id` is a member of.
fn pools_with(cfg: &NodeConfig, id: u16) -> Vec<String> {
    cfg.pools()
        .filter(|p| p.has(id))
        .map(|p| p.name.to_string())
        .collect()
}

/// The text with the lines `pick` chooses replaced by `line`, where they
/// were (so that peers and pools keep their order), in canonical form.
fn replace_in_place(
    text: &str,
    pick: impl Fn(&str) -> bool,
    line: &str,
) -> Result<String, EditError> {
    let text = canonical(text)?;
    let new: Vec<&str> = text
        .lines()
        .map(|l| if pick(l) { line } else { l })
        .collect();
    canonical(&new.join("\n"))
        .map_err(|e| EditError(format!("the edited configuration is invalid: {e}")))
}

/// Whether `line` is the `pool` line of `name`.
fn is_pool_line(line: &str, name: &PoolName) -> bool {
    first_word_is(line, "pool") && line.split_ascii_whitespace().nth(1) == Some(name.as_str())
}

/// `service add VIP:PORT`.
pub fn service_add(text: &str, ep: &str, tls: bool) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let ep = parse_endpoint(ep)?;
    if cfg.is_service(ep) {
        return err(format!(
            "duplicate service {}: already there",
            endpoint_text(&ep)
        ));
    }
    if cfg.services().count() >= MAX_SERVICES {
        return err(format!("too many services: at most {MAX_SERVICES}"));
    }
    let tls = if tls { " tls" } else { "" };
    rewrite(
        text,
        |_| false,
        [format!("service {}{tls}", endpoint_text(&ep))],
    )
}

/// `service del VIP:PORT`.
pub fn service_del(text: &str, ep: &str) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let ep = parse_endpoint(ep)?;
    if !cfg.is_service(ep) {
        return err(format!("no service {}", endpoint_text(&ep)));
    }
    rewrite(text, |l| is_service_line(l, &ep), [])
}

/// `service list`: one `VIP:PORT [tls]` a line.
pub fn service_list(cfg: &NodeConfig) -> String {
    cfg.services()
        .map(|s| endpoint_text(s) + if cfg.is_tls(*s) { " tls\n" } else { "\n" })
        .collect()
}

/// `node add ID ADDR [--local]`: a peer, or (`local`) this node itself,
/// replacing what was this node before.
pub fn node_add(text: &str, id: &str, addr: &str, local: bool) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let new = parse_node(id, addr)?;
    let addr = Ipv4(new.addr);
    if let Some(p) = cfg.peer(new.id) {
        return err(format!(
            "duplicate node {}: already there, at {}",
            new.id,
            Ipv4(p.addr)
        ));
    }
    if let Some(p) = cfg.peer_by_addr(new.addr) {
        return err(format!("duplicate address {addr}: node {} has it", p.id));
    }
    if local {
        if let Some(old) = cfg.node.filter(|n| n.id != new.id) {
            let pools = pools_with(&cfg, old.id);
            if !pools.is_empty() {
                return err(format!(
                    "this node ({}) is in pool(s) {}: change them first",
                    old.id,
                    pools.join(", ")
                ));
            }
        }
        return rewrite(
            text,
            |l| first_word_is(l, "node"),
            [format!("node {} {addr}", new.id)],
        );
    }
    if let Some(n) = cfg.node {
        if n.id == new.id {
            return err(format!(
                "duplicate node {}: it is this node ({})",
                n.id,
                Ipv4(n.addr)
            ));
        }
        if n.addr == new.addr {
            return err(format!(
                "duplicate address {addr}: this node ({}) has it",
                n.id
            ));
        }
    }
    if cfg.peers().count() >= MAX_PEERS {
        return err(format!(
            "too many nodes: at most {MAX_PEERS} besides this one"
        ));
    }
    rewrite(text, |_| false, [format!("peer {} {addr}", new.id)])
}

/// `node del ID`: a peer no rule points to.
pub fn node_del(text: &str, id: &str) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let id = parse_node_id(id)?;
    if cfg.node.is_some_and(|n| n.id == id) {
        return err(format!(
            "node {id} is this node: replace it with btcpctl node add --local ID ADDR"
        ));
    }
    if cfg.peer(id).is_none() {
        return err(format!("unknown node {id}: no such node"));
    }
    let users = rules_using(&cfg, Target::Node(id));
    if !users.is_empty() {
        return err(format!(
            "node {id} is in use by rule(s) {}: change or delete them first",
            users.join(", ")
        ));
    }
    let pools = pools_with(&cfg, id);
    if !pools.is_empty() {
        return err(format!(
            "node {id} is in pool(s) {}: change or delete them first",
            pools.join(", ")
        ));
    }
    rewrite(text, |l| is_peer_line(l, id), [])
}

/// `node set ID [--weight W] [--state up|drain|down]`: this node or a
/// peer. Draining a node stops new handoffs to it; its flows finish.
pub fn node_set(
    text: &str,
    id: &str,
    weight: Option<&str>,
    state: Option<&str>,
) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let id = parse_node_id(id)?;
    let Some(&old) = cfg.node_by_id(id) else {
        return err(format!("unknown node {id}: no such node"));
    };
    if weight.is_none() && state.is_none() {
        return err("nothing to set: give --weight and/or --state");
    }
    let mut new = old;
    if let Some(w) = weight {
        new.weight = match w.parse::<u16>() {
            Ok(v) if v > 0 && w.bytes().all(|b| b.is_ascii_digit()) => v,
            _ => return err(format!("bad weight {w:?}: want 1-65535")),
        };
    }
    if let Some(s) = state {
        new.state = parse_state(s)
            .ok_or_else(|| EditError(format!("bad state {s:?}: want up, drain or down")))?;
    }
    let local = cfg.node.is_some_and(|n| n.id == id);
    let cmd = if local { "node" } else { "peer" };
    replace_in_place(
        text,
        |l| {
            if local {
                first_word_is(l, "node")
            } else {
                is_peer_line(l, id)
            }
        },
        &format!("{cmd} {new}"),
    )
}

/// A node for `node list`: `ID ADDR [local] [weight W] [state S]`
/// (weight and state when not the defaults, 1 and up).
fn node_line(p: &Peer, local: bool) -> String {
    let mut s = format!("{} {}", p.id, Ipv4(p.addr));
    if local {
        s += " local";
    }
    if p.weight != 1 {
        s += &format!(" weight {}", p.weight);
    }
    if p.state != MemberState::Up {
        s += &format!(" state {}", state_name(p.state));
    }
    s + "\n"
}

/// `node list`: `ID ADDR`, this node first and marked `local`, with
/// weight and state unless they are the defaults.
pub fn node_list(cfg: &NodeConfig) -> String {
    let mut out = String::new();
    if let Some(n) = cfg.node {
        out += &node_line(&n, true);
    }
    for p in cfg.peers() {
        out += &node_line(p, false);
    }
    out
}

/// A LARD pool's `--t-low`, `--t-high` and `--k-ms`, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LardOpts {
    /// Below this many connections a node is underused.
    pub t_low: Option<u32>,
    /// Above this many a node is overloaded.
    pub t_high: Option<u32>,
    /// LARD/R: a server set unchanged this long loses a member.
    pub k_ms: Option<u32>,
}

impl LardOpts {
    /// None given.
    pub const NONE: LardOpts = LardOpts {
        t_low: None,
        t_high: None,
        k_ms: None,
    };

    fn given(&self) -> bool {
        *self != LardOpts::NONE
    }

    /// `base` with the options given applied to it.
    fn over(&self, base: LardParams) -> LardParams {
        LardParams {
            t_low: self.t_low.unwrap_or(base.t_low),
            t_high: self.t_high.unwrap_or(base.t_high),
            k_ms: self.k_ms.map_or(base.k_ms, u64::from),
        }
    }
}

/// `pool` with thresholds `lard`, or a message saying what is wrong.
fn with_lard(pool: Pool, lard: LardParams) -> Result<Pool, EditError> {
    let name = pool.name;
    if !pool.policy.is_lard() && lard != LardParams::DEFAULT {
        return err(format!(
            "bad pool {name}: --t-low, --t-high and --k-ms are for lard and lard-r pools"
        ));
    }
    if lard.t_low >= lard.t_high {
        return err(format!(
            "bad pool {name}: t-low {} must be below t-high {}",
            lard.t_low, lard.t_high
        ));
    }
    pool.with_lard(lard)
        .map_err(|e| EditError(format!("bad pool {name}: {e:?}")))
}

/// `pool add NAME --policy P --nodes ID[,ID...] [--t-low N] [--t-high N]
/// [--k-ms N]`.
pub fn pool_add(
    text: &str,
    name: &str,
    policy: &str,
    nodes: &str,
    lard: &LardOpts,
) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let name = parse_pool_name(name)?;
    let policy = parse_policy(policy)?;
    if cfg.pool(&name).is_some() {
        return err(format!("duplicate pool {name}: already there"));
    }
    let ids = parse_members(&cfg, nodes)?;
    if cfg.pools().count() >= MAX_POOLS {
        return err(format!("too many pools: at most {MAX_POOLS}"));
    }
    let pool =
        Pool::new(name, policy, &ids).map_err(|e| EditError(format!("bad pool {name}: {e:?}")))?;
    let pool = with_lard(pool, lard.over(LardParams::DEFAULT))?;
    rewrite(text, |_| false, [format!("pool {pool}")])
}

/// `pool set NAME [--policy P] [--nodes ID[,ID...]] [--t-low N] [--t-high
/// N] [--k-ms N]`: change a pool in place (the rules that use it keep
/// using it). What is not given stays, except LARD thresholds when the
/// policy changes to one that is not LARD: those go back to the defaults.
pub fn pool_set(
    text: &str,
    name: &str,
    policy: Option<&str>,
    nodes: Option<&str>,
    lard: &LardOpts,
) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let name = parse_pool_name(name)?;
    let Some(old) = cfg.pool(&name) else {
        return err(format!("unknown pool {name}: no such pool"));
    };
    if policy.is_none() && nodes.is_none() && !lard.given() {
        return err("nothing to set: give --policy, --nodes, --t-low, --t-high or --k-ms");
    }
    let policy = policy.map(parse_policy).transpose()?.unwrap_or(old.policy);
    let ids = match nodes {
        Some(n) => parse_members(&cfg, n)?,
        None => old.members().to_vec(),
    };
    let pool =
        Pool::new(name, policy, &ids).map_err(|e| EditError(format!("bad pool {name}: {e:?}")))?;
    let base = if policy.is_lard() {
        old.lard
    } else {
        LardParams::DEFAULT
    };
    let pool = with_lard(pool, lard.over(base))?;
    replace_in_place(text, |l| is_pool_line(l, &name), &format!("pool {pool}"))
}

/// `pool del NAME`: a pool no rule uses.
pub fn pool_del(text: &str, name: &str) -> Result<String, EditError> {
    let cfg = parse(text)?;
    let name = parse_pool_name(name)?;
    if cfg.pool(&name).is_none() {
        return err(format!("unknown pool {name}: no such pool"));
    }
    let users = rules_using(&cfg, Target::Pool(name));
    if !users.is_empty() {
        return err(format!(
            "pool {name} is in use by rule(s) {}: change or delete them first",
            users.join(", ")
        ));
    }
    rewrite(text, |l| is_pool_line(l, &name), [])
}

/// `pool list`: `NAME POLICY ID,ID...` a line, in configuration order,
/// and a LARD pool's thresholds as `t-low N t-high N k-ms N`.
pub fn pool_list(cfg: &NodeConfig) -> String {
    cfg.pools()
        .map(|p| {
            let ids: Vec<String> = p.members().iter().map(u16::to_string).collect();
            let mut line = format!("{} {} {}", p.name, p.policy, ids.join(","));
            if p.policy.is_lard() {
                let l = p.lard;
                line += &format!(" t-low {} t-high {} k-ms {}", l.t_low, l.t_high, l.k_ms);
            }
            line + "\n"
        })
        .collect()
}

fn rule_error(e: RuleError, spec: &RuleSpec<'_>) -> EditError {
    let name = spec.name();
    let path = spec.path;
    EditError(match e {
        RuleError::Duplicate => format!("duplicate rule {name}: already there"),
        RuleError::NotFound => format!("no rule {name}"),
        RuleError::Full => format!("too many rules: at most {}", btcp_core::rules::MAX_RULES),
        RuleError::BadPrefix => format!(
            "bad path prefix {path:?}: want /prefix, *suffix or =/exact, visible ASCII without ,=?#"
        ),
        RuleError::BadHost => format!(
            "bad host {:?}: want a host name or *.domain",
            spec.host.unwrap_or("")
        ),
        RuleError::BadQualifier => format!(
            "rule {name}: bad method, header or cookie (names are tokens, \
             values visible ASCII without , or #, NAME or NAME:VALUE)"
        ),
        RuleError::TooLong => format!(
            "rule {name}: too long (host and path at most 64 bytes each, method 16, \
             header or cookie name and value 64)"
        ),
    })
}

fn replace_rules(text: &str, rules: &RuleTable) -> Result<String, EditError> {
    rewrite(
        text,
        |l| first_word_is(l, "rules"),
        [format!("rules {rules}")],
    )
}

/// `rule add [--host HOST] PATH TARGET`: appended, so it matches after the
/// rules already there.
pub fn rule_add(
    text: &str,
    host: Option<&str>,
    path: &str,
    target: &str,
) -> Result<String, EditError> {
    rule_add_spec(text, &RuleSpec::path(host, path), target)
}

/// `rule add [--host HOST] [--method M] [--header|--cookie NAME[:VALUE]]
/// PATH TARGET`, TARGET a node id or a pool name.
pub fn rule_add_spec(text: &str, spec: &RuleSpec<'_>, target: &str) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    let target = parse_target(&cfg, target)?;
    spec.check_words()?;
    cfg.rules
        .add_rule(&spec.as_match()?, target)
        .map_err(|e| rule_error(e, spec))?;
    replace_rules(text, &cfg.rules)
}

/// `rule del [--host HOST] PATH`.
pub fn rule_del(text: &str, host: Option<&str>, path: &str) -> Result<String, EditError> {
    rule_del_spec(text, &RuleSpec::path(host, path))
}

/// `rule del` with qualifiers: the rule with exactly this match.
pub fn rule_del_spec(text: &str, spec: &RuleSpec<'_>) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    cfg.rules
        .remove_rule(&spec.as_match()?)
        .map_err(|e| rule_error(e, spec))?;
    replace_rules(text, &cfg.rules)
}

/// `rule default TARGET`: where requests no rule matches go (a node id or
/// a pool name).
pub fn rule_default(text: &str, target: &str) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    let target = parse_target(&cfg, target)?;
    cfg.rules.set_default_target(target);
    replace_rules(text, &cfg.rules)
}

/// `rule list`: `MATCH TARGET` in match order (the match as in the text
/// form, e.g. `method:GET host:*.example.com*.jpg`), then `default TARGET`.
pub fn rule_list(cfg: &NodeConfig) -> String {
    let mut out = String::new();
    for r in cfg.rules.rules() {
        out += &format!("{} {}\n", r.display_match(), r.target());
    }
    out += &format!("default {}\n", cfg.rules.default_target());
    out
}

/// `set key HEX`: the 32-byte cluster key as 64 hex digits.
pub fn set_key(text: &str, hex: &str) -> Result<String, EditError> {
    parse(text)?;
    let hex = hex.trim();
    if word("key", hex).is_err() || parse_line(&format!("key {hex}")).is_err() {
        return err("bad key: want 64 hex digits (32 bytes)");
    }
    rewrite(text, |l| first_word_is(l, "key"), [format!("key {hex}")])
}

/// `set key-next HEX`: the key to roll to (the core's keyroll.rs), or,
/// for `none`, no roll.
pub fn set_key_next(text: &str, hex: &str) -> Result<String, EditError> {
    parse(text)?;
    let hex = hex.trim();
    let line = if hex == "none" {
        None
    } else if word("key-next", hex).is_ok() && parse_line(&format!("key-next {hex}")).is_ok() {
        Some(format!("key-next {hex}"))
    } else {
        return err("bad key: want 64 hex digits (32 bytes)");
    };
    rewrite(text, |l| first_word_is(l, "key-next"), line)
}

/// `set key-overlap SECONDS|default`: how long each step of a key roll
/// lasts.
pub fn set_key_overlap(text: &str, secs: &str) -> Result<String, EditError> {
    parse(text)?;
    set_setting(text, "key-overlap", secs)
}

/// `set ctrl-port PORT`.
pub fn set_ctrl_port(text: &str, port: &str) -> Result<String, EditError> {
    parse(text)?;
    let port = word("port", port)?;
    if parse_line(&format!("ctrl-port {port}")).is_err() {
        return err(format!("bad port {port:?}: want 1-65535"));
    }
    rewrite(
        text,
        |l| first_word_is(l, "ctrl-port"),
        [format!("ctrl-port {port}")],
    )
}

/// `set NAME MS|default` for a timeout (`handshake-ms`, `request-ms`,
/// `handoff-ms`, `idle-ms`, `linger-ms`; see the core's timeouts.rs):
/// `default` removes the line.
pub fn set_timeout(text: &str, name: &str, ms: &str) -> Result<String, EditError> {
    parse(text)?;
    if !Timeouts::is_setting(name) {
        return err(format!("{name:?} is no timeout setting"));
    }
    set_setting(text, name, ms)
}

/// The text with the one-word setting `name` (`syncookies`,
/// `syn-backlog`, `client-flows`) set to `value`, or removed (its
/// default) for "default".
pub fn set_hostile_setting(text: &str, name: &str, value: &str) -> Result<String, EditError> {
    parse(text)?;
    if !matches!(name, "syncookies" | "syn-backlog" | "client-flows") {
        return err(format!("{name:?} is no SYN cookie or client limit setting"));
    }
    set_setting(text, name, value)
}

/// The text with `encap` set to `mode` (`none`, `ipip`), or removed (its
/// default, none) for "default".
pub fn set_encap(text: &str, mode: &str) -> Result<String, EditError> {
    parse(text)?;
    set_setting(text, "encap", mode)
}

/// Sets the line `name value` (checked as the module would), or removes
/// it for "default".
fn set_setting(text: &str, name: &str, value: &str) -> Result<String, EditError> {
    let value = word(name, value)?;
    let line = (value != "default").then(|| format!("{name} {value}"));
    if let Some(l) = &line {
        if let Err(kind) = parse_line(l) {
            let why = ConfigError { line: 1, kind }.to_string();
            let why = why.trim_start_matches("line 1: ");
            return err(format!("bad {name} {value:?}: {why}; or default"));
        }
    }
    rewrite(text, |l| first_word_is(l, name), line)
}

/// The timeouts in force, set or default, as one comment line for `show`
/// (a comment, so a shown text still parses as the same configuration).
pub fn timeouts_in_force(text: &str) -> Result<String, EditError> {
    let cfg = parse(text)?;
    Ok(format!(
        "# timeouts in force: {}\n",
        cfg.timeouts.effective()
    ))
}

/// The text with the cluster key hidden, for `show`.
pub fn redact_key(text: &str) -> String {
    text.lines()
        .map(|l| {
            if let Some(name) = ["key", "key-next"]
                .into_iter()
                .find(|k| first_word_is(l, k))
            {
                format!("{name} (hidden; btcpctl save prints it)\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// The lab's front-end, built by edits from the empty configuration.
    fn fe() -> String {
        let mut t = NodeConfig::new().to_string();
        t = node_add(&t, "1", "10.99.0.1", true).unwrap();
        for (id, addr) in [
            ("2", "10.99.0.11"),
            ("3", "10.99.0.12"),
            ("4", "10.99.0.13"),
        ] {
            t = node_add(&t, id, addr, false).unwrap();
        }
        t = service_add(&t, "10.99.0.100:80", false).unwrap();
        t = rule_add(&t, None, "/big/", "3").unwrap();
        t = rule_add(&t, Some("example.com"), "/", "4").unwrap();
        t = rule_default(&t, "2").unwrap();
        t = set_key(&t, &format!("{KEY}\n")).unwrap();
        set_timeout(&t, "linger-ms", "1500").unwrap()
    }

    #[test]
    fn builds_the_lab_front_end() {
        let t = fe();
        assert_eq!(
            t,
            format!(
                "node 1 10.99.0.1\nctrl-port 7447\npeer 2 10.99.0.11\npeer 3 10.99.0.12\n\
                 peer 4 10.99.0.13\nservice 10.99.0.100:80\n\
                 rules /big/=3,host:example.com/=4,default=2\nlinger-ms 1500\nkey {KEY}\n"
            )
        );
        // Canonical: the kernel would render exactly this back.
        assert_eq!(canonical(&t).unwrap(), t);
    }

    #[test]
    fn services() {
        let t = fe();
        let e = service_add(&t, "10.99.0.100:80", false).unwrap_err();
        assert!(e.0.starts_with("duplicate service 10.99.0.100:80"), "{e}");
        let t2 = service_add(&t, "10.99.0.101:8080", false).unwrap();
        assert_eq!(
            service_list(&parse(&t2).unwrap()),
            "10.99.0.100:80\n10.99.0.101:8080\n"
        );
        let tls = service_add(&t, "10.99.0.100:443", true).unwrap();
        assert!(tls.contains("\nservice 10.99.0.100:443 tls\n"), "{tls}");
        assert_eq!(
            service_list(&parse(&tls).unwrap()),
            "10.99.0.100:80\n10.99.0.100:443 tls\n"
        );
        let back = service_del(&tls, "10.99.0.100:443").unwrap();
        assert_eq!(service_list(&parse(&back).unwrap()), "10.99.0.100:80\n");
        let t3 = service_del(&t2, "10.99.0.100:80").unwrap();
        assert_eq!(service_list(&parse(&t3).unwrap()), "10.99.0.101:8080\n");
        assert_eq!(
            service_del(&t3, "10.99.0.100:80").unwrap_err().0,
            "no service 10.99.0.100:80"
        );
        for (bad, want) in [
            ("10.99.0.300:80", "malformed address"),
            ("10.99.0.1", "malformed service"),
            ("10.99.0.1:0", "malformed service"),
            ("10.99.0.1:80 x", "malformed service"),
            ("10.99.0.1:80\nkey 00", "malformed service"),
            ("", "malformed service"),
        ] {
            let e = service_add(&t, bad, false).unwrap_err();
            assert!(e.0.starts_with(want), "{bad:?}: {e}");
        }
        let mut t = NodeConfig::new().to_string();
        for i in 0..MAX_SERVICES {
            t = service_add(&t, &format!("10.0.0.{}:80", i + 1), false).unwrap();
        }
        assert!(service_add(&t, "10.0.1.1:80", false)
            .unwrap_err()
            .0
            .starts_with("too many services"));
    }

    #[test]
    fn nodes() {
        let t = fe();
        for (id, addr, want) in [
            ("2", "10.99.0.50", "duplicate node 2"),
            ("1", "10.99.0.50", "duplicate node 1: it is this node"),
            ("9", "10.99.0.11", "duplicate address 10.99.0.11: node 2"),
            ("9", "10.99.0.1", "duplicate address 10.99.0.1: this node"),
            ("x", "10.99.0.50", "bad node id \"x\""),
            ("70000", "10.99.0.50", "bad node id \"70000\""),
            ("9", "10.99.0", "malformed address \"10.99.0\""),
            ("9", "10.99.0.1.2", "malformed address"),
        ] {
            let e = node_add(&t, id, addr, false).unwrap_err();
            assert!(e.0.starts_with(want), "{id} {addr}: {e}");
        }
        assert_eq!(
            node_list(&parse(&t).unwrap()),
            "1 10.99.0.1 local\n2 10.99.0.11\n3 10.99.0.12\n4 10.99.0.13\n"
        );
        // In use by a rule, by the default, or this node: refused.
        let e = node_del(&t, "3").unwrap_err();
        assert_eq!(
            e.0,
            "node 3 is in use by rule(s) /big/=3: change or delete them first"
        );
        let e = node_del(&t, "2").unwrap_err();
        assert!(e.0.contains("rule(s) default"), "{e}");
        assert!(node_del(&t, "1").unwrap_err().0.contains("is this node"));
        assert_eq!(
            node_del(&t, "7").unwrap_err().0,
            "unknown node 7: no such node"
        );
        let t2 = rule_del(&t, None, "/big/").unwrap();
        let t3 = node_del(&t2, "3").unwrap();
        assert!(!t3.contains("peer 3 "), "{t3}");
        assert!(t3.contains("peer 2 ") && t3.contains("peer 4 "), "{t3}");
        // --local replaces this node.
        let t4 = node_add(&t3, "5", "10.99.0.5", true).unwrap();
        assert!(t4.starts_with("node 5 10.99.0.5\n"), "{t4}");
        assert!(node_add(&t4, "2", "10.99.0.6", true)
            .unwrap_err()
            .0
            .starts_with("duplicate node 2"));
    }

    #[test]
    fn rules() {
        let t = fe();
        let e = rule_add(&t, None, "/img/", "9").unwrap_err();
        assert!(e.0.starts_with("unknown node 9"), "{e}");
        assert!(rule_default(&t, "9")
            .unwrap_err()
            .0
            .starts_with("unknown node 9"));
        let e = rule_add(&t, None, "/big/", "2").unwrap_err();
        assert_eq!(e.0, "duplicate rule /big/: already there");
        assert!(rule_add(&t, None, "img", "2")
            .unwrap_err()
            .0
            .starts_with("bad path prefix"));
        assert!(rule_add(&t, Some("a b"), "/", "2")
            .unwrap_err()
            .0
            .starts_with("malformed host"));
        assert!(rule_add(&t, None, "/a,b", "2")
            .unwrap_err()
            .0
            .starts_with("bad path prefix"));
        let t2 = rule_add(&t, None, "/img/", "4").unwrap();
        assert_eq!(
            rule_list(&parse(&t2).unwrap()),
            "/big/ 3\nhost:example.com/ 4\n/img/ 4\ndefault 2\n"
        );
        assert_eq!(rule_del(&t2, None, "/nope").unwrap_err().0, "no rule /nope");
        // The host is part of the rule's name.
        assert_eq!(rule_del(&t2, None, "/").unwrap_err().0, "no rule /");
        let t3 = rule_del(&t2, Some("EXAMPLE.com"), "/").unwrap();
        assert_eq!(
            rule_list(&parse(&t3).unwrap()),
            "/big/ 3\n/img/ 4\ndefault 2\n"
        );
        // A TLS service's rules: by server name, nothing else.
        let t4 = rule_add(&t3, None, "sni:*.Example.com", "3").unwrap();
        assert!(t4.contains(",sni:*.example.com=3,"), "{t4}");
        assert!(rule_add(&t4, Some("a.example"), "sni:b.example", "3").is_err());
        assert!(rule_add(&t4, None, "sni:a_b.example", "3").is_err());
        let t5 = rule_del(&t4, None, "sni:*.example.com").unwrap();
        assert_eq!(parse(&t5).unwrap().rules, parse(&t3).unwrap().rules);
    }

    #[test]
    fn settings() {
        let t = fe();
        assert!(set_key(&t, "abcd").unwrap_err().0.starts_with("bad key"));
        assert!(set_key(&t, &format!("{KEY} x")).is_err());
        assert!(set_ctrl_port(&t, "0")
            .unwrap_err()
            .0
            .starts_with("bad port"));
        let t2 = set_ctrl_port(&t, "7500").unwrap();
        assert!(t2.contains("\nctrl-port 7500\n"), "{t2}");
        let c = set_hostile_setting(&t2, "syncookies", "always").unwrap();
        assert!(c.contains("\nsyncookies always\n"), "{c}");
        let c = set_hostile_setting(&c, "syn-backlog", "64").unwrap();
        assert!(c.contains("\nsyn-backlog 64\n"), "{c}");
        assert!(!set_hostile_setting(&c, "syncookies", "default")
            .unwrap()
            .contains("syncookies"));
        assert!(set_hostile_setting(&c, "syncookies", "maybe").is_err());
        let e = set_encap(&t2, "ipip").unwrap();
        assert!(e.contains("\nencap ipip\n"), "{e}");
        assert!(!set_encap(&e, "default").unwrap().contains("encap"));
        assert!(set_encap(&e, "gre").is_err());
        assert!(set_hostile_setting(&c, "syn-backlog", "0").is_err());
        let c = set_hostile_setting(&c, "client-flows", "32").unwrap();
        assert!(c.contains("\nclient-flows 32\n"), "{c}");
        assert!(set_hostile_setting(&c, "client-flows", "65536").is_err());
        let c = set_hostile_setting(&c, "client-flows", "default").unwrap();
        assert!(!c.contains("client-flows"), "{c}");
        assert!(set_hostile_setting(&c, "linger-ms", "5").is_err());
        let t3 = set_timeout(&t2, "linger-ms", "default").unwrap();
        assert!(!t3.contains("linger-ms"), "{t3}");
        assert!(set_timeout(&t, "linger-ms", "-1").is_err());
        let t4 = set_timeout(&t2, "idle-ms", "30000").unwrap();
        assert!(t4.contains("\nidle-ms 30000\n"), "{t4}");
        assert!(timeouts_in_force(&t4)
            .unwrap()
            .contains(" handoff-ms 1000 idle-ms 30000 linger-ms "));
        let e = set_timeout(&t2, "handoff-ms", "5").unwrap_err().0;
        assert!(
            e.starts_with("bad handoff-ms \"5\": timeout out of range"),
            "{e}"
        );
        assert!(set_timeout(&t2, "nap-ms", "5").is_err());
        assert_eq!(set_timeout(&t4, "idle-ms", "default").unwrap(), t2);
        let shown = redact_key(&t);
        assert!(
            !shown.contains(KEY) && shown.contains("key (hidden"),
            "{shown}"
        );
        // A key roll: the next key, hidden like the key; none ends it.
        let next = "ff".repeat(32);
        let r = set_key_next(&t, &next).unwrap();
        assert!(r.contains(&format!("\nkey-next {next}\n")), "{r}");
        let shown = redact_key(&r);
        assert!(
            !shown.contains(&next) && shown.contains("key-next (hidden"),
            "{shown}"
        );
        assert!(set_key_next(&t, "abcd").is_err());
        assert_eq!(set_key_next(&r, "none").unwrap(), t);
        let o = set_key_overlap(&r, "5").unwrap();
        assert!(o.contains("\nkey-overlap 5\n"), "{o}");
        assert!(set_key_overlap(&r, "0").is_err() && set_key_overlap(&r, "3601").is_err());
        assert_eq!(set_key_overlap(&o, "default").unwrap(), r);
    }

    #[test]
    fn edits_of_a_non_canonical_text_still_parse() {
        // What a hand-written /proc write may look like.
        let t = "# fe\n  node 1 10.0.0.1   # me\npeer 2 10.0.0.2\nrules /a/=2, default=1\n";
        let t2 = rule_add(t, None, "/b/", "1").unwrap();
        assert_eq!(
            t2,
            "node 1 10.0.0.1\nctrl-port 7447\npeer 2 10.0.0.2\nrules /a/=2,/b/=1,default=1\n"
        );
        // A bad current text is reported with its line.
        assert_eq!(
            service_add("peer 2 1.2.3", "1.2.3.4:80", false)
                .unwrap_err()
                .0,
            "line 1: bad IPv4 address"
        );
    }

    #[test]
    fn pools() {
        let t = fe();
        let t = pool_add(&t, "img", "maglev", "4,3", &LardOpts::NONE).unwrap();
        let t = pool_add(&t, "web", "lard-r", "1,2", &LardOpts::NONE).unwrap();
        assert!(
            t.contains(
                "\npool img policy maglev nodes 3,4\npool web policy lard-r nodes 1,2\nrules "
            ),
            "{t}"
        );
        assert_eq!(canonical(&t).unwrap(), t);
        assert_eq!(
            pool_list(&parse(&t).unwrap()),
            "img maglev 3,4\nweb lard-r 1,2 t-low 25 t-high 65 k-ms 20000\n"
        );
        for (name, policy, nodes, want) in [
            ("img", "wrr", "2", "duplicate pool img: already there"),
            ("Img", "wrr", "2", "bad pool name \"Img\""),
            ("9a", "wrr", "2", "bad pool name \"9a\""),
            (
                "a",
                "random",
                "2",
                "unknown policy \"random\": want one of lard, lard-r, maglev, wrr, least-conn",
            ),
            ("a", "wrr", "2,9", "unknown node 9"),
            ("a", "wrr", "2,2", "node 2 given twice"),
            ("a", "wrr", "", "malformed node id \"\""),
            ("a", "wrr", "2,x", "bad node id \"x\""),
        ] {
            let e = pool_add(&t, name, policy, nodes, &LardOpts::NONE).unwrap_err();
            assert!(e.0.starts_with(want), "{name} {policy} {nodes}: {e}");
        }
        // Rules target pools; a pool in use cannot go.
        let t2 = rule_add(&t, None, "*.jpg", "img").unwrap();
        let t2 = rule_default(&t2, "web").unwrap();
        assert!(
            t2.contains("rules /big/=3,host:example.com/=4,*.jpg=img,default=web\n"),
            "{t2}"
        );
        assert_eq!(
            pool_del(&t2, "img").unwrap_err().0,
            "pool img is in use by rule(s) *.jpg=img: change or delete them first"
        );
        assert!(pool_del(&t2, "web")
            .unwrap_err()
            .0
            .contains("rule(s) default"));
        assert_eq!(
            pool_del(&t2, "nope").unwrap_err().0,
            "unknown pool nope: no such pool"
        );
        let e = rule_add(&t2, None, "/x/", "nope").unwrap_err();
        assert!(
            e.0.starts_with("unknown pool nope: no such pool (add it first"),
            "{e}"
        );
        let e = rule_add(&t2, None, "/x/", "Nope").unwrap_err();
        assert!(e.0.starts_with("bad target \"Nope\""), "{e}");
        assert!(rule_default(&t2, "nope")
            .unwrap_err()
            .0
            .starts_with("unknown pool nope"));
        // A node in a pool cannot go either.
        let t3 = rule_del(&t2, None, "/big/").unwrap();
        assert_eq!(
            node_del(&t3, "3").unwrap_err().0,
            "node 3 is in pool(s) img: change or delete them first"
        );
        // set: in place, rules keep pointing at it.
        let t4 = pool_set(&t2, "img", Some("wrr"), None, &LardOpts::NONE).unwrap();
        assert!(
            t4.contains("\npool img policy wrr nodes 3,4\npool web"),
            "{t4}"
        );
        let t4 = pool_set(&t4, "img", None, Some("2"), &LardOpts::NONE).unwrap();
        assert!(t4.contains("\npool img policy wrr nodes 2\n"), "{t4}");
        assert!(pool_set(&t4, "img", None, None, &LardOpts::NONE)
            .unwrap_err()
            .0
            .starts_with("nothing to set"));
        assert!(pool_set(&t4, "nope", Some("wrr"), None, &LardOpts::NONE)
            .unwrap_err()
            .0
            .starts_with("unknown pool nope"));
        // Delete after the rule is gone.
        let t5 = rule_del(&t2, None, "*.jpg").unwrap();
        let t5 = pool_del(&t5, "img").unwrap();
        assert_eq!(
            pool_list(&parse(&t5).unwrap()),
            "web lard-r 1,2 t-low 25 t-high 65 k-ms 20000\n"
        );
        // Bounded.
        let mut t6 = fe();
        for i in 0..MAX_POOLS {
            t6 = pool_add(&t6, &format!("p{i}"), "wrr", "2", &LardOpts::NONE).unwrap();
        }
        assert_eq!(
            pool_add(&t6, "more", "wrr", "2", &LardOpts::NONE)
                .unwrap_err()
                .0,
            "too many pools: at most 8"
        );
        // Replacing this node while it is in a pool: refused.
        let e = node_add(&t, "9", "10.99.0.9", true).unwrap_err();
        assert_eq!(e.0, "this node (1) is in pool(s) web: change them first");
    }

    #[test]
    fn lard_thresholds() {
        let opts = |t_low, t_high, k_ms| LardOpts {
            t_low,
            t_high,
            k_ms,
        };
        let t = pool_add(&fe(), "web", "lard", "2,3", &opts(Some(10), Some(30), None)).unwrap();
        assert!(
            t.contains("\npool web policy lard nodes 2,3 t-low 10 t-high 30\n"),
            "{t}"
        );
        assert_eq!(
            pool_list(&parse(&t).unwrap()),
            "web lard 2,3 t-low 10 t-high 30 k-ms 20000\n"
        );
        // set changes only what is given.
        let t = pool_set(&t, "web", None, None, &opts(None, Some(40), Some(5000))).unwrap();
        assert!(
            t.contains("\npool web policy lard nodes 2,3 t-low 10 t-high 40 k-ms 5000\n"),
            "{t}"
        );
        let t2 = pool_set(&t, "web", Some("lard-r"), None, &LardOpts::NONE).unwrap();
        assert!(t2.contains("policy lard-r nodes 2,3 t-low 10 t-high 40 k-ms 5000\n"));
        // Away from LARD: the thresholds go back to the defaults.
        let t3 = pool_set(&t, "web", Some("wrr"), None, &LardOpts::NONE).unwrap();
        assert!(t3.contains("\npool web policy wrr nodes 2,3\n"), "{t3}");
        for (policy, o, want) in [
            (
                "wrr",
                opts(Some(1), None, None),
                "bad pool web: --t-low, --t-high and --k-ms are for lard and lard-r pools",
            ),
            (
                "lard",
                opts(Some(70), None, None),
                "bad pool web: t-low 70 must be below t-high 65",
            ),
            (
                "lard-r",
                opts(Some(5), Some(5), None),
                "bad pool web: t-low 5 must be below t-high 5",
            ),
        ] {
            assert_eq!(pool_add(&fe(), "web", policy, "2", &o).unwrap_err().0, want);
        }
        assert_eq!(
            pool_set(&t3, "web", None, None, &opts(None, None, Some(1)))
                .unwrap_err()
                .0,
            "bad pool web: --t-low, --t-high and --k-ms are for lard and lard-r pools"
        );
        assert_eq!(
            pool_set(&t, "web", None, None, &opts(Some(40), None, None))
                .unwrap_err()
                .0,
            "bad pool web: t-low 40 must be below t-high 40"
        );
    }

    #[test]
    fn node_weights_and_states() {
        let t = fe();
        let t2 = node_set(&t, "3", Some("5"), Some("drain")).unwrap();
        let t2 = node_set(&t2, "1", None, Some("down")).unwrap();
        // In place: peers keep their order.
        assert!(
            t2.starts_with(
                "node 1 10.99.0.1 state down\nctrl-port 7447\npeer 2 10.99.0.11\n\
                 peer 3 10.99.0.12 weight 5 state drain\npeer 4 10.99.0.13\n"
            ),
            "{t2}"
        );
        assert_eq!(
            node_list(&parse(&t2).unwrap()),
            "1 10.99.0.1 local state down\n2 10.99.0.11\n3 10.99.0.12 weight 5 state drain\n\
             4 10.99.0.13\n"
        );
        // Back to the defaults: the text is as before.
        let t3 = node_set(&t2, "3", Some("1"), Some("up")).unwrap();
        let t3 = node_set(&t3, "1", None, Some("up")).unwrap();
        assert_eq!(t3, t);
        for (id, w, s, want) in [
            ("9", Some("2"), None, "unknown node 9: no such node"),
            ("2", None, None, "nothing to set"),
            ("2", Some("0"), None, "bad weight \"0\": want 1-65535"),
            ("2", Some("65536"), None, "bad weight"),
            ("2", Some("+1"), None, "bad weight"),
            (
                "2",
                None,
                Some("sleep"),
                "bad state \"sleep\": want up, drain or down",
            ),
        ] {
            let e = node_set(&t, id, w, s).unwrap_err();
            assert!(e.0.starts_with(want), "{id} {w:?} {s:?}: {e}");
        }
    }

    #[test]
    fn rules_with_match_forms() {
        let t = pool_add(&fe(), "img", "least-conn", "2,3", &LardOpts::NONE).unwrap();
        let spec = |path| RuleSpec {
            path,
            ..RuleSpec::default()
        };
        let t = rule_add_spec(&t, &spec("=/index.html"), "2").unwrap();
        let wild = RuleSpec {
            host: Some("*.Example.com"),
            ..spec("*.png")
        };
        let t = rule_add_spec(&t, &wild, "img").unwrap();
        let post = RuleSpec {
            method: Some("POST"),
            header: Some("X-Tier:gold"),
            ..spec("/api/")
        };
        let t = rule_add_spec(&t, &post, "4").unwrap();
        let beta = RuleSpec {
            cookie: Some("beta"),
            ..spec("/")
        };
        let t = rule_add_spec(&t, &beta, "3").unwrap();
        assert!(
            t.contains(
                "rules /big/=3,host:example.com/=4,=/index.html=2,host:*.example.com*.png=img,\
                 method:POST header:X-Tier:gold /api/=4,cookie:beta /=3,default=2\n"
            ),
            "{t}"
        );
        assert_eq!(
            rule_list(&parse(&t).unwrap()),
            "/big/ 3\nhost:example.com/ 4\n=/index.html 2\nhost:*.example.com*.png img\n\
             method:POST header:X-Tier:gold /api/ 4\ncookie:beta / 3\ndefault 2\n"
        );
        assert_eq!(
            rule_add_spec(&t, &post, "4").unwrap_err().0,
            "duplicate rule method:POST header:X-Tier:gold /api/: already there"
        );
        // Deleting needs the whole match.
        assert_eq!(rule_del(&t, None, "/api/").unwrap_err().0, "no rule /api/");
        let t2 = rule_del_spec(&t, &post).unwrap();
        assert!(!t2.contains("method:POST"), "{t2}");
        let t2 = rule_del_spec(&t2, &wild).unwrap();
        assert!(!t2.contains("*.png"), "{t2}");
        for (s, want) in [
            (spec("*"), "bad path prefix \"*\""),
            (spec("=x"), "bad path prefix \"=x\""),
            (spec("/a b"), "malformed path"),
            (
                RuleSpec {
                    host: Some("*."),
                    ..spec("/")
                },
                "bad host \"*.\": want a host name or *.domain",
            ),
            (
                RuleSpec {
                    method: Some("GE T"),
                    ..spec("/")
                },
                "malformed method",
            ),
            (
                RuleSpec {
                    header: Some("X,Y:1"),
                    ..spec("/")
                },
                "rule header:X,Y:1 /: bad method, header or cookie",
            ),
            (
                RuleSpec {
                    cookie: Some("c:"),
                    ..spec("/")
                },
                "rule cookie:c: /: bad method, header or cookie",
            ),
            (
                RuleSpec {
                    header: Some("a"),
                    cookie: Some("b"),
                    ..spec("/")
                },
                "a rule takes a header or a cookie, not both",
            ),
            (
                RuleSpec {
                    method: Some("VERYLONGMETHODNAME"),
                    ..spec("/")
                },
                "rule method:VERYLONGMETHODNAME /: too long",
            ),
        ] {
            let e = rule_add_spec(&t, &s, "2").unwrap_err();
            assert!(e.0.starts_with(want), "{s:?}: {e}");
        }
    }
}
