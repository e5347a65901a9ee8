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
//! service 10.99.0.100:80       # a VIP:port this node fronts
//! rules /img/=2,/video/=3,default=1    # see rules.rs
//! linger-ms 2000               # keep closed flows this long (default 60 s)
//! key 00112233...              # 32-byte cluster key, 64 hex digits
//! ```
//!
//! `Display` writes the same form back, so a read can be written again.

use ::core::fmt;

use super::flow::Endpoint;
use super::rules::{RuleParseError, RuleTable};

/// Most peers a node knows.
pub const MAX_PEERS: usize = 16;
/// Most services (VIP:port) a node fronts.
pub const MAX_SERVICES: usize = 8;
/// The control channel's port when none is configured.
pub const DEFAULT_CTRL_PORT: u16 = 7447;
/// Length of the cluster key.
pub const KEY_LEN: usize = 32;

/// Another node of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its node id.
    pub id: u16,
    /// Its control-channel address (host order).
    pub addr: u32,
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
        };
        write!(f, "line {}: {what}", self.line)
    }
}

/// A node's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's id and control address, once set.
    pub node: Option<Peer>,
    /// The control channel's TCP port, the same on every node.
    pub ctrl_port: u16,
    peers: [Option<Peer>; MAX_PEERS],
    services: [Option<Endpoint>; MAX_SERVICES],
    /// Content rules: request -> node id.
    pub rules: RuleTable,
    /// The cluster key authenticating the control channel.
    pub key: Option<[u8; KEY_LEN]>,
    /// How long a closed connection's state is kept (TIME_WAIT and
    /// retransmitted FINs still cross the translation), if not the default.
    pub linger_ms: Option<u32>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig::new()
    }
}

impl NodeConfig {
    /// The empty configuration: no node, no peers, no services, every
    /// request to node 0.
    pub const fn new() -> NodeConfig {
        NodeConfig {
            node: None,
            ctrl_port: DEFAULT_CTRL_PORT,
            peers: [None; MAX_PEERS],
            services: [None; MAX_SERVICES],
            rules: RuleTable::new(0),
            key: None,
            linger_ms: None,
        }
    }

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

    /// The services this node fronts.
    pub fn services(&self) -> impl Iterator<Item = &Endpoint> {
        self.services.iter().flatten()
    }

    /// Whether `ep` is a VIP:port this node fronts.
    pub fn is_service(&self, ep: Endpoint) -> bool {
        self.services().any(|s| *s == ep)
    }

    /// Whether `addr` is the address of any service (on any port).
    pub fn is_service_addr(&self, addr: u32) -> bool {
        self.services().any(|s| s.addr == addr)
    }

    /// Parses `text` as a whole new configuration.
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
        self.rules.clear();
        self.rules.set_default(0);
        self.key = None;
        self.linger_ms = None;
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
                continue;
            }
            self.apply_line(cmd, &mut words).map_err(err)?;
        }
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
                let peer = Peer {
                    id: parse_node_id(arg()?)?,
                    addr: parse_ipv4(arg()?).ok_or(ConfigErrorKind::BadAddress)?,
                };
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
                let peer = Peer {
                    id: parse_node_id(arg()?)?,
                    addr: parse_ipv4(arg()?).ok_or(ConfigErrorKind::BadAddress)?,
                };
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
                let slot = self.services.iter_mut().find(|s| s.is_none());
                *slot.ok_or(ConfigErrorKind::TooMany)? = Some(ep);
            }
            "key" => self.key = Some(parse_key(arg()?)?),
            "linger-ms" => {
                let a = arg()?;
                let ms = a
                    .parse::<u32>()
                    .ok()
                    .filter(|_| a.bytes().all(|b| b.is_ascii_digit()));
                self.linger_ms = Some(ms.ok_or(ConfigErrorKind::BadNumber)?);
            }
            _ => return Err(ConfigErrorKind::UnknownCommand),
        }
        if words.next().is_some() {
            return Err(ConfigErrorKind::Arity);
        }
        Ok(())
    }
}

impl fmt::Display for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.node {
            writeln!(f, "node {} {}", n.id, Ipv4(n.addr))?;
        }
        writeln!(f, "ctrl-port {}", self.ctrl_port)?;
        for p in self.peers() {
            writeln!(f, "peer {} {}", p.id, Ipv4(p.addr))?;
        }
        for s in self.services() {
            writeln!(f, "service {}:{}", Ipv4(s.addr), s.port)?;
        }
        writeln!(f, "rules {}", self.rules)?;
        if let Some(ms) = self.linger_ms {
            writeln!(f, "linger-ms {ms}")?;
        }
        if let Some(key) = self.key {
            write!(f, "key ")?;
            for b in key {
                write!(f, "{b:02x}")?;
            }
            writeln!(f)?;
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
service 10.99.0.100:80\nrules /img/=2,/video/=3,default=1\nlinger-ms 2000\n\
key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

    #[test]
    fn full_config_round_trips() {
        let cfg = NodeConfig::parse(FULL.as_bytes()).unwrap();
        assert_eq!(
            cfg.node,
            Some(Peer {
                id: 1,
                addr: 0x0a63_0001
            })
        );
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
        assert_eq!(cfg.rules.select_path(None, b"/video/x"), 3);
        assert_eq!(cfg.key.unwrap()[31], 0x1f);
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
            (
                "service 10.0.0.1:80\nservice 10.0.0.1:80",
                2,
                ConfigErrorKind::Duplicate,
            ),
            ("ctrl-port 65536", 1, ConfigErrorKind::BadPort),
            ("key abcd", 1, ConfigErrorKind::BadKey),
            ("linger-ms -1", 1, ConfigErrorKind::BadNumber),
            ("linger-ms 1 2", 1, ConfigErrorKind::Arity),
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
}
