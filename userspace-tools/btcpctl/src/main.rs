//! btcpctl: configure and inspect btcp, the TCP handoff module, in the
//! current network namespace, over its generic netlink family "btcp".
//!
//! The configuration travels as one text (the form of
//! /proc/net/btcp/config): `save` prints it, `restore` replaces it whole,
//! and the structured commands (`service`, `node`, `pool`, `rule`, `set`) read it,
//! edit it with the parser the module itself runs (btcp_core) and write it
//! back only if nobody changed it meanwhile. See Documentation/btcpctl.md.
//!
//! Exit status: 0 done, 1 error (bad input included), 2 bad command line.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use btcpctl::drain;
use btcpctl::edit::{self, EditError};
use btcpctl::json;
use btcpctl::metrics;
use btcpctl::nl::{self, Btcp, NlError};

#[derive(Parser)]
#[command(
    name = "btcpctl",
    version,
    about = "Configure and inspect btcp (TCP handoff) in this network namespace",
    after_help = "Acts on the caller's network namespace: ip netns exec NS btcpctl ...\n\
                  Exit status: 0 done, 1 error, 2 bad command line."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show the configuration (the cluster key hidden)
    Show {
        /// As JSON (whether keys are set, not the keys)
        #[arg(long)]
        json: bool,
    },
    /// Services: the VIP:PORTs this node fronts
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Nodes: this one (--local) and its peers, their weights and states
    #[command(subcommand)]
    Node(NodeCmd),
    /// Server pools: a policy over some nodes, for rules to target
    #[command(subcommand)]
    Pool(PoolCmd),
    /// Content rules: [host] path [method/header/cookie] -> node or pool, first match wins
    #[command(subcommand)]
    Rule(RuleCmd),
    /// Settings: cluster key, control port, timeouts
    #[command(subcommand)]
    Set(SetCmd),
    /// Print the counters (/proc/net/btcp/counters), or every figure
    /// (per peer, service and pool too) for Prometheus or as JSON
    Stats {
        /// text (the counters file), prometheus (text exposition format,
        /// for node_exporter's textfile collector) or json
        #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
        format: StatsFormat,
        /// The same as --format json
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// Print the flow table (/proc/net/btcp/flows)
    Flows {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Wait until this node has no connection open, as a front-end or a
    /// back-end: after draining it on every front-end (node set ID
    /// --state drain), btcp can then be unloaded without cutting one
    WaitDrained {
        /// Give up after this many seconds (exit status 1)
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Print the configuration in its text form, key included, for restore
    Save,
    /// Replace the whole configuration with a saved one, all or nothing
    Restore {
        /// The text to restore; - for standard input
        #[arg(default_value = "-")]
        file: String,
        /// Skip the local check and let the kernel judge the text alone
        #[arg(long)]
        no_local_check: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StatsFormat {
    Text,
    Prometheus,
    Json,
}

#[derive(Subcommand)]
enum ServiceCmd {
    /// Front a service: VIP:PORT
    Add {
        service: String,
        /// HTTPS: dispatch by the TLS server name (sni: rules)
        #[arg(long)]
        tls: bool,
    },
    /// Stop fronting a service: VIP:PORT
    Del { service: String },
    /// List the services
    List,
}

#[derive(Subcommand)]
enum NodeCmd {
    /// Add a node: ID and control-channel ADDR
    Add {
        id: String,
        addr: String,
        /// This node itself (replaces what was this node before)
        #[arg(long)]
        local: bool,
        /// Relative capacity, 1-65535 (default 1)
        #[arg(long)]
        weight: Option<String>,
        /// up, drain or down (default up)
        #[arg(long)]
        state: Option<String>,
    },
    /// Set a node's weight or state (drain: no new connections, its flows finish)
    Set {
        id: String,
        /// Relative capacity, 1-65535
        #[arg(long)]
        weight: Option<String>,
        /// up, drain or down
        #[arg(long)]
        state: Option<String>,
    },
    /// Delete a peer no rule or pool uses
    Del { id: String },
    /// List the nodes, this one first
    List,
}

#[derive(Subcommand)]
enum PoolCmd {
    /// Add a pool: NAME, a policy and its nodes
    Add {
        name: String,
        /// lard, lard-r, maglev, wrr or least-conn
        #[arg(long)]
        policy: String,
        /// Node ids, comma-separated: this node or peers
        #[arg(long)]
        nodes: String,
        #[command(flatten)]
        lard: LardArgs,
    },
    /// Change a pool's policy, nodes or LARD thresholds in place
    Set {
        name: String,
        #[arg(long)]
        policy: Option<String>,
        #[arg(long)]
        nodes: Option<String>,
        #[command(flatten)]
        lard: LardArgs,
    },
    /// Delete a pool no rule uses
    Del { name: String },
    /// List the pools: NAME POLICY NODES
    List,
}

/// LARD's thresholds, for lard and lard-r pools (default: the paper's 25,
/// 65 and 20 s).
#[derive(clap::Args)]
struct LardArgs {
    /// Connections below which a node counts as underused
    #[arg(long)]
    t_low: Option<u32>,
    /// Connections above which a node counts as overloaded
    #[arg(long)]
    t_high: Option<u32>,
    /// lard-r: milliseconds a server set stays unchanged before it shrinks
    #[arg(long)]
    k_ms: Option<u32>,
}

impl LardArgs {
    fn opts(&self) -> edit::LardOpts {
        edit::LardOpts {
            t_low: self.t_low,
            t_high: self.t_high,
            k_ms: self.k_ms,
        }
    }
}

/// What a rule matches besides its path.
#[derive(clap::Args)]
struct RuleMatch {
    /// Only for requests to this host (or *.DOMAIN: its subdomains)
    #[arg(long)]
    host: Option<String>,
    /// Only for this method (e.g. POST)
    #[arg(long)]
    method: Option<String>,
    /// Only with this header: NAME (present) or NAME:VALUE (exact value)
    #[arg(long, conflicts_with = "cookie")]
    header: Option<String>,
    /// Only with this cookie: NAME (present) or NAME:VALUE (exact value)
    #[arg(long)]
    cookie: Option<String>,
    /// /PREFIX, *SUFFIX (e.g. '*.jpg') or =/EXACT/PATH; or sni:NAME (sni:*.DOMAIN),
    /// the server name of a TLS service's connections
    path: String,
}

impl RuleMatch {
    fn spec(&self) -> edit::RuleSpec<'_> {
        edit::RuleSpec {
            host: self.host.as_deref(),
            method: self.method.as_deref(),
            header: self.header.as_deref(),
            cookie: self.cookie.as_deref(),
            path: &self.path,
        }
    }
}

#[derive(Subcommand)]
enum RuleCmd {
    /// Add a rule after the others: matching requests go to TARGET
    Add {
        #[command(flatten)]
        m: RuleMatch,
        /// A node id or a pool name
        target: String,
    },
    /// Delete the rule with exactly this match
    Del {
        #[command(flatten)]
        m: RuleMatch,
    },
    /// Send requests no rule matches to TARGET (a node id or a pool name)
    Default { target: String },
    /// List the rules in match order, then the default
    List,
}

#[derive(Subcommand)]
enum SetCmd {
    /// The 32-byte cluster key: a file holding 64 hex digits, - for standard input
    Key { file: String },
    /// The key to roll to without dropping the channel (FILE as for key, or
    /// none): set it on every node within one key-overlap
    KeyNext { file: String },
    /// Seconds each step of a key roll lasts (1-3600|default: 60)
    KeyOverlap { secs: String },
    /// The control channel's TCP port (the same on every node)
    CtrlPort { port: String },
    /// How long closed flows are kept, in milliseconds, or "default"
    LingerMs { ms: String },
    /// How long a SYN-RECEIVED flow waits for the client's ACK (ms|default)
    HandshakeMs { ms: String },
    /// How long a client has to send its request head (ms|default)
    RequestMs { ms: String },
    /// How long a handoff waits for its answer before it is resent (ms|default)
    HandoffMs { ms: String },
    /// How long a handed-off flow may be silent before it is ended (ms|default)
    IdleMs { ms: String },
    /// When SYNs are answered with cookies: auto, always, never, or default (auto)
    Syncookies { mode: String },
    /// Half-open flows before `auto` sends cookies (N|default: 256)
    SynBacklog { n: String },
    /// Flows one client address may hold before their handoff; beyond it
    /// its SYNs get cookies (N, 1-65535|default: 256)
    ClientFlows { n: String },
    /// How client packets are forwarded to remote back-ends: none (as
    /// they are, back-ends on this link), ipip, or default (none)
    Encap { mode: String },
}

/// Everything that ends a run with status 1.
#[derive(Debug)]
enum Error {
    Nl(NlError),
    Edit(EditError),
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Nl(e) => e.fmt(f),
            Error::Edit(e) => e.fmt(f),
            Error::Other(e) => f.write_str(e),
        }
    }
}

impl From<NlError> for Error {
    fn from(e: NlError) -> Self {
        Error::Nl(e)
    }
}

impl From<EditError> for Error {
    fn from(e: EditError) -> Self {
        Error::Edit(e)
    }
}

/// Reads FILE, or standard input for `-`.
fn read_input(file: &str) -> Result<String, Error> {
    let mut text = String::new();
    let res = if file == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    res.map_err(|e| Error::Other(format!("{file}: {e}")))?;
    Ok(text)
}

fn check_size(text: &str) -> Result<(), Error> {
    if text.len() > nl::CONFIG_MAX {
        return Err(Error::Other(format!(
            "the configuration would be {} bytes; the most is {}",
            text.len(),
            nl::CONFIG_MAX
        )));
    }
    Ok(())
}

/// Get, edit, set: the edit applies only to the configuration it read
/// (CONFIG_OLD); if another writer came in between, it is redone.
fn modify(f: impl Fn(&str) -> Result<String, EditError>) -> Result<(), Error> {
    let mut nl = Btcp::open()?;
    for _ in 0..8 {
        let old = nl.config_get()?;
        let new = f(&old)?;
        if new == old {
            return Ok(());
        }
        check_size(&new)?;
        match nl.config_set(&new, Some(&old)) {
            Err(e) if e.is_errno(libc::EAGAIN) => continue,
            Err(e) => return Err(Error::Other(format!("the kernel refused the change: {e}"))),
            Ok(()) => return Ok(()),
        }
    }
    Err(Error::Other(
        "the configuration kept changing while being edited; try again".into(),
    ))
}

/// A JSON value as indented text, with a final newline.
fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// Prints text as it is.
fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::Other(format!("stdout: {e}")))
}

/// The configuration, parsed, for the list commands.
fn current() -> Result<btcp_core::config::NodeConfig, Error> {
    Ok(edit::parse(&Btcp::open()?.config_get()?)?)
}

/// Polls the counters until nothing is open, or `timeout` passes.
fn wait_drained(timeout: Duration) -> Result<(), Error> {
    let mut nl = Btcp::open()?;
    let start = Instant::now();
    loop {
        let live = drain::live(&nl.stats()?).ok_or_else(|| {
            Error::Other("the module does not count its live flows (too old?)".into())
        })?;
        if live.drained() {
            return print("drained\n");
        }
        if start.elapsed() >= timeout {
            return Err(Error::Other(format!(
                "not drained after {} s: {} connections open as a front-end, {} as a back-end",
                timeout.as_secs(),
                live.fe,
                live.be
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn run(cmd: Cmd) -> Result<(), Error> {
    match cmd {
        Cmd::Show { json: true } => {
            let cfg = edit::parse(&Btcp::open()?.config_get()?)?;
            print(&pretty(&json::config(&cfg)))
        }
        Cmd::Show { json: false } => {
            let text = Btcp::open()?.config_get()?;
            print(&(edit::redact_key(&text) + &edit::timeouts_in_force(&text)?))
        }
        Cmd::Save => print(&Btcp::open()?.config_get()?),
        Cmd::Stats { format, json } => match (format, json) {
            (_, true) | (StatsFormat::Json, _) => print(&metrics::json(&Btcp::open()?.metrics()?)),
            (StatsFormat::Prometheus, _) => print(&metrics::prometheus(&Btcp::open()?.metrics()?)),
            (StatsFormat::Text, _) => print(&Btcp::open()?.stats()?),
        },
        Cmd::Flows { json: true } => {
            let v = json::flows(&Btcp::open()?.flows()?).map_err(Error::Other)?;
            print(&pretty(&v))
        }
        Cmd::Flows { json: false } => print(&Btcp::open()?.flows()?),
        Cmd::WaitDrained { timeout } => wait_drained(Duration::from_secs(timeout)),
        Cmd::Restore {
            file,
            no_local_check,
        } => {
            let text = read_input(&file)?;
            check_size(&text)?;
            let name = if file == "-" { "<stdin>" } else { &file };
            if !no_local_check {
                edit::parse(&text).map_err(|e| Error::Other(format!("{name}: {e}")))?;
            }
            Btcp::open()?.config_set(&text, None).map_err(|e| match e {
                NlError::Kernel { .. } => Error::Other(format!("the kernel refused {name}: {e}")),
                e => Error::Nl(e),
            })
        }
        Cmd::Service(c) => match c {
            ServiceCmd::Add { service, tls } => modify(|t| edit::service_add(t, &service, tls)),
            ServiceCmd::Del { service } => modify(|t| edit::service_del(t, &service)),
            ServiceCmd::List => print(&edit::service_list(&current()?)),
        },
        Cmd::Node(c) => match c {
            NodeCmd::Add {
                id,
                addr,
                local,
                weight,
                state,
            } => modify(|t| {
                let t = edit::node_add(t, &id, &addr, local)?;
                if weight.is_none() && state.is_none() {
                    return Ok(t);
                }
                edit::node_set(&t, &id, weight.as_deref(), state.as_deref())
            }),
            NodeCmd::Set { id, weight, state } => {
                modify(|t| edit::node_set(t, &id, weight.as_deref(), state.as_deref()))
            }
            NodeCmd::Del { id } => modify(|t| edit::node_del(t, &id)),
            NodeCmd::List => print(&edit::node_list(&current()?)),
        },
        Cmd::Pool(c) => match c {
            PoolCmd::Add {
                name,
                policy,
                nodes,
                lard,
            } => modify(|t| edit::pool_add(t, &name, &policy, &nodes, &lard.opts())),
            PoolCmd::Set {
                name,
                policy,
                nodes,
                lard,
            } => modify(|t| {
                edit::pool_set(t, &name, policy.as_deref(), nodes.as_deref(), &lard.opts())
            }),
            PoolCmd::Del { name } => modify(|t| edit::pool_del(t, &name)),
            PoolCmd::List => print(&edit::pool_list(&current()?)),
        },
        Cmd::Rule(c) => match c {
            RuleCmd::Add { m, target } => modify(|t| edit::rule_add_spec(t, &m.spec(), &target)),
            RuleCmd::Del { m } => modify(|t| edit::rule_del_spec(t, &m.spec())),
            RuleCmd::Default { target } => modify(|t| edit::rule_default(t, &target)),
            RuleCmd::List => print(&edit::rule_list(&current()?)),
        },
        Cmd::Set(c) => match c {
            SetCmd::Key { file } => {
                let hex = read_input(&file)?;
                modify(|t| edit::set_key(t, &hex))
            }
            SetCmd::KeyNext { file } => {
                let hex = if file == "none" {
                    file
                } else {
                    read_input(&file)?
                };
                modify(|t| edit::set_key_next(t, &hex))
            }
            SetCmd::KeyOverlap { secs } => modify(|t| edit::set_key_overlap(t, &secs)),
            SetCmd::CtrlPort { port } => modify(|t| edit::set_ctrl_port(t, &port)),
            SetCmd::LingerMs { ms } => modify(|t| edit::set_timeout(t, "linger-ms", &ms)),
            SetCmd::HandshakeMs { ms } => modify(|t| edit::set_timeout(t, "handshake-ms", &ms)),
            SetCmd::RequestMs { ms } => modify(|t| edit::set_timeout(t, "request-ms", &ms)),
            SetCmd::HandoffMs { ms } => modify(|t| edit::set_timeout(t, "handoff-ms", &ms)),
            SetCmd::IdleMs { ms } => modify(|t| edit::set_timeout(t, "idle-ms", &ms)),
            SetCmd::Syncookies { mode } => {
                modify(|t| edit::set_hostile_setting(t, "syncookies", &mode))
            }
            SetCmd::SynBacklog { n } => modify(|t| edit::set_hostile_setting(t, "syn-backlog", &n)),
            SetCmd::ClientFlows { n } => {
                modify(|t| edit::set_hostile_setting(t, "client-flows", &n))
            }
            SetCmd::Encap { mode } => modify(|t| edit::set_encap(t, &mode)),
        },
    }
}

fn main() -> ExitCode {
    // clap exits with 2 on a bad command line (0 for --help, --version).
    let cli = Cli::parse();
    match run(cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("btcpctl: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("btcpctl").chain(args.iter().copied()))
    }

    #[test]
    fn command_line() {
        Cli::command().debug_assert();
        let Cmd::Pool(PoolCmd::Add {
            name,
            policy,
            nodes,
            lard,
        }) = parse(&[
            "pool", "add", "img", "--policy", "lard", "--nodes", "2,3", "--t-high", "30",
        ])
        .unwrap()
        .cmd
        else {
            panic!("not pool add")
        };
        assert_eq!((&*name, &*policy, &*nodes), ("img", "lard", "2,3"));
        assert_eq!(
            lard.opts(),
            edit::LardOpts {
                t_high: Some(30),
                ..edit::LardOpts::NONE
            }
        );
        assert!(parse(&["pool", "set", "img", "--t-low", "-1"]).is_err());
        let Cmd::Rule(RuleCmd::Add { m, target }) = parse(&[
            "rule", "add", "--host", "*.ex.com", "--method", "GET", "--cookie", "v:2", "*.jpg",
            "img",
        ])
        .unwrap()
        .cmd
        else {
            panic!("not rule add")
        };
        let s = m.spec();
        assert_eq!(
            (s.host, s.method, s.header, s.cookie, s.path, &*target),
            (
                Some("*.ex.com"),
                Some("GET"),
                None,
                Some("v:2"),
                "*.jpg",
                "img"
            )
        );
        // Exact paths start with '=', which is no option.
        assert!(parse(&["rule", "add", "=/index.html", "2"]).is_ok());
        assert!(parse(&["rule", "del", "--header", "X", "/"]).is_ok());
        assert!(parse(&["node", "set", "3", "--state", "drain"]).is_ok());
        assert!(parse(&["node", "add", "3", "10.0.0.3", "--weight", "2"]).is_ok());
        assert!(parse(&["pool", "set", "img", "--nodes", "2"]).is_ok());
        // Header and cookie together, or a pool without a policy: usage errors.
        assert!(parse(&["rule", "add", "--header", "a", "--cookie", "b", "/", "2"]).is_err());
        assert!(parse(&["pool", "add", "img", "--nodes", "2"]).is_err());
    }
}
