//! The structured commands as edits of the configuration's text form.
//!
//! Every edit takes the text the kernel gave (`CONFIG_GET`), checks the
//! request against it with clear messages, changes whole lines, and returns
//! the new text in canonical form: parsed and rendered again by `btcp_core`,
//! the parser the module itself runs, so what is sent is what the kernel
//! will accept and show back. Nothing here talks to the kernel.

use std::fmt;

use btcp_core::config::{ConfigErrorKind, Ipv4, NodeConfig, Peer, MAX_PEERS, MAX_SERVICES};
use btcp_core::flow::Endpoint;
use btcp_core::rules::{RuleError, RuleTable};

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

fn endpoint_text(ep: &Endpoint) -> String {
    format!("{}:{}", Ipv4(ep.addr), ep.port)
}

fn rule_name(host: Option<&str>, prefix: &str) -> String {
    match host {
        Some(h) => format!("host:{h}{prefix}"),
        None => prefix.to_string(),
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

/// `service add VIP:PORT`.
pub fn service_add(text: &str, ep: &str) -> Result<String, EditError> {
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
    rewrite(text, |_| false, [format!("service {}", endpoint_text(&ep))])
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

/// `service list`: one `VIP:PORT` a line.
pub fn service_list(cfg: &NodeConfig) -> String {
    cfg.services().map(|s| endpoint_text(s) + "\n").collect()
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
    let users: Vec<String> = cfg
        .rules
        .rules()
        .iter()
        .filter(|r| r.node() == id)
        .map(|r| r.to_string())
        .chain((cfg.rules.default_node() == id).then(|| "default".to_string()))
        .collect();
    if !users.is_empty() {
        return err(format!(
            "node {id} is in use by rule(s) {}: change or delete them first",
            users.join(", ")
        ));
    }
    rewrite(text, |l| is_peer_line(l, id), [])
}

/// `node list`: `ID ADDR`, this node first and marked `local`.
pub fn node_list(cfg: &NodeConfig) -> String {
    let mut out = String::new();
    if let Some(n) = cfg.node {
        out += &format!("{} {} local\n", n.id, Ipv4(n.addr));
    }
    for p in cfg.peers() {
        out += &format!("{} {}\n", p.id, Ipv4(p.addr));
    }
    out
}

fn rule_error(e: RuleError, host: Option<&str>, prefix: &str) -> EditError {
    let name = rule_name(host, prefix);
    EditError(match e {
        RuleError::Duplicate => format!("duplicate rule {name}: already there"),
        RuleError::NotFound => format!("no rule {name}"),
        RuleError::Full => format!("too many rules: at most {}", btcp_core::rules::MAX_RULES),
        RuleError::BadPrefix => {
            format!("bad path prefix {prefix:?}: want /..., visible ASCII without ,=?#")
        }
        RuleError::BadHost => format!("bad host {:?}", host.unwrap_or("")),
        RuleError::TooLong => format!("rule {name}: host or prefix too long (at most 64 bytes)"),
    })
}

fn replace_rules(text: &str, rules: &RuleTable) -> Result<String, EditError> {
    rewrite(
        text,
        |l| first_word_is(l, "rules"),
        [format!("rules {rules}")],
    )
}

/// `rule add [--host HOST] PREFIX NODE`: appended, so it matches after the
/// rules already there.
pub fn rule_add(
    text: &str,
    host: Option<&str>,
    prefix: &str,
    node: &str,
) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    let node = parse_node_id(node)?;
    check_known(&cfg, node)?;
    if let Some(h) = host {
        word("host", h)?;
    }
    cfg.rules
        .add(host.map(str::as_bytes), prefix.as_bytes(), node)
        .map_err(|e| rule_error(e, host, prefix))?;
    replace_rules(text, &cfg.rules)
}

/// `rule del [--host HOST] PREFIX`.
pub fn rule_del(text: &str, host: Option<&str>, prefix: &str) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    cfg.rules
        .remove(host.map(str::as_bytes), prefix.as_bytes())
        .map_err(|e| rule_error(e, host, prefix))?;
    replace_rules(text, &cfg.rules)
}

/// `rule default NODE`: where requests no rule matches go.
pub fn rule_default(text: &str, node: &str) -> Result<String, EditError> {
    let mut cfg = parse(text)?;
    let node = parse_node_id(node)?;
    check_known(&cfg, node)?;
    cfg.rules.set_default(node);
    replace_rules(text, &cfg.rules)
}

/// `rule list`: `[host:HOST]PREFIX NODE` in match order, then `default NODE`.
pub fn rule_list(cfg: &NodeConfig) -> String {
    let mut out = String::new();
    for r in cfg.rules.rules() {
        let s = r.to_string();
        // A rule's text form is `[host:HOST]PREFIX=NODE`; the node follows
        // the last `=`.
        let (lhs, node) = s.rsplit_once('=').unwrap_or((&s, ""));
        out += &format!("{lhs} {node}\n");
    }
    out += &format!("default {}\n", cfg.rules.default_node());
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

/// `set linger-ms MS|default`.
pub fn set_linger_ms(text: &str, ms: &str) -> Result<String, EditError> {
    parse(text)?;
    let ms = word("linger time", ms)?;
    let line = (ms != "default").then(|| format!("linger-ms {ms}"));
    if let Some(l) = &line {
        if parse_line(l).is_err() {
            return err(format!(
                "bad linger time {ms:?}: want milliseconds or default"
            ));
        }
    }
    rewrite(text, |l| first_word_is(l, "linger-ms"), line)
}

/// The text with the cluster key hidden, for `show`.
pub fn redact_key(text: &str) -> String {
    text.lines()
        .map(|l| {
            if first_word_is(l, "key") {
                "key (hidden; btcpctl save prints it)\n".to_string()
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
        t = service_add(&t, "10.99.0.100:80").unwrap();
        t = rule_add(&t, None, "/big/", "3").unwrap();
        t = rule_add(&t, Some("example.com"), "/", "4").unwrap();
        t = rule_default(&t, "2").unwrap();
        t = set_key(&t, &format!("{KEY}\n")).unwrap();
        set_linger_ms(&t, "1500").unwrap()
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
        let e = service_add(&t, "10.99.0.100:80").unwrap_err();
        assert!(e.0.starts_with("duplicate service 10.99.0.100:80"), "{e}");
        let t2 = service_add(&t, "10.99.0.101:8080").unwrap();
        assert_eq!(
            service_list(&parse(&t2).unwrap()),
            "10.99.0.100:80\n10.99.0.101:8080\n"
        );
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
            let e = service_add(&t, bad).unwrap_err();
            assert!(e.0.starts_with(want), "{bad:?}: {e}");
        }
        let mut t = NodeConfig::new().to_string();
        for i in 0..MAX_SERVICES {
            t = service_add(&t, &format!("10.0.0.{}:80", i + 1)).unwrap();
        }
        assert!(service_add(&t, "10.0.1.1:80")
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
        let t3 = set_linger_ms(&t2, "default").unwrap();
        assert!(!t3.contains("linger-ms"), "{t3}");
        assert!(set_linger_ms(&t, "-1").is_err());
        let shown = redact_key(&t);
        assert!(
            !shown.contains(KEY) && shown.contains("key (hidden"),
            "{shown}"
        );
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
            service_add("peer 2 1.2.3", "1.2.3.4:80").unwrap_err().0,
            "line 1: bad IPv4 address"
        );
    }
}
