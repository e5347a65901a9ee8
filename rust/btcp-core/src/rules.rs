//! A static content-dispatch rule table: fixed capacity, stored inline, no
//! allocation.
//!
//! A rule maps an optional host and a path prefix to a back-end node id.
//! [`RuleTable::select`] returns the node of the first rule, in insertion
//! order, that matches the request, or the table's default node when none
//! does or the request could not be parsed.
//!
//! Matching:
//! - The host, if the rule has one, is compared ASCII case-insensitively
//!   with the request's host without its port ([`RequestHead::hostname`]).
//!   No trailing-dot or IDNA normalisation. A rule without a host matches
//!   any host, and requests without one.
//! - The prefix is a plain byte prefix of the request path (the target
//!   before `?`, not percent-decoded, not normalised): `/img` matches
//!   `/img`, `/img/a.jpg` and also `/imgx`; write `/img/` to mean the
//!   directory only. This routes content; it is not access control.
//!
//! Limits: [`MAX_RULES`] rules, hosts of at most [`MAX_HOST_LEN`] bytes,
//! prefixes of at most [`MAX_PREFIX_LEN`] bytes. A prefix starts with `/`
//! and is visible ASCII without `,`, `=`, `?` or `#`; a host is ASCII
//! letters, digits and `-._~[]:`. Hosts are stored lowercased.
//!
//! # Text form
//!
//! For module parameters and a proc file ([`RuleTable::parse`], and
//! `Display` writes it back):
//!
//! ```text
//! text    = item *( "," item )
//! item    = rule / default          ; ASCII whitespace around items,
//! rule    = [ "host:" host ] prefix "=" node   ; and around "=", is ignored
//! default = "default=" node         ; exactly once, anywhere
//! node    = 1*5DIGIT                ; 0..=65535
//! ```
//!
//! e.g. `/img/=2,/video/=3,host:api.example.com/=4,default=1`. A host-only
//! rule is written with the prefix `/`. Rules keep their order. Errors name
//! the offending item by its 1-based position.
//!
//! ```
//! use btcp_core::http::{parse_head, DEFAULT_HEAD_LIMIT};
//! use btcp_core::rules::RuleTable;
//!
//! let t = RuleTable::parse(b"host:API.example.com/=4, /img/=2, default=1").unwrap();
//! let req = b"GET /img/a.jpg HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
//! assert_eq!(t.select(parse_head(req, DEFAULT_HEAD_LIMIT).ok().as_ref()), 2);
//! let req = b"GET /img/a.jpg HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n";
//! assert_eq!(t.select(parse_head(req, DEFAULT_HEAD_LIMIT).ok().as_ref()), 4);
//! assert_eq!(t.select(None), 1);
//! assert_eq!(t.to_string(), "host:api.example.com/=4,/img/=2,default=1");
//! ```

use ::core::fmt;

use super::http::RequestHead;

/// Most rules a table holds.
pub const MAX_RULES: usize = 32;
/// Longest host in a rule.
pub const MAX_HOST_LEN: usize = 64;
/// Longest path prefix in a rule.
pub const MAX_PREFIX_LEN: usize = 64;

/// Why a rule could not be added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleError {
    /// The table already holds [`MAX_RULES`] rules.
    Full,
    /// The host or prefix is longer than its limit.
    TooLong,
    /// A rule with the same host and prefix exists.
    Duplicate,
    /// The host is empty or has a character a host cannot have.
    BadHost,
    /// The prefix is empty, does not start with `/`, or has a character
    /// outside visible ASCII or one of `,=?#`.
    BadPrefix,
    /// No rule with that host and prefix (for [`RuleTable::remove`]).
    NotFound,
}

impl RuleError {
    /// A short static name, for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleError::Full => "rule table full",
            RuleError::TooLong => "host or prefix too long",
            RuleError::Duplicate => "duplicate rule",
            RuleError::BadHost => "bad host",
            RuleError::BadPrefix => "bad path prefix",
            RuleError::NotFound => "no such rule",
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with an item of the text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The item is empty (`,,` or a trailing comma).
    Empty,
    /// The item has no `=`.
    MissingEquals,
    /// The node id is not a decimal number in 0..=65535.
    BadNode,
    /// A second `default=`.
    DuplicateDefault,
    /// No `default=` item at all (the error's item is 0).
    MissingDefault,
    /// The rule was refused by [`RuleTable::add`].
    Rule(RuleError),
}

/// An error in the text form, naming the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleParseError {
    /// 1-based position of the offending item; 0 for the text as a whole.
    pub item: usize,
    /// What is wrong with it.
    pub kind: ParseErrorKind,
}

impl RuleParseError {
    /// A short static name for the kind, for messages.
    pub const fn as_str(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::Empty => "empty item",
            ParseErrorKind::MissingEquals => "missing '='",
            ParseErrorKind::BadNode => "bad node id",
            ParseErrorKind::DuplicateDefault => "duplicate default",
            ParseErrorKind::MissingDefault => "missing default=",
            ParseErrorKind::Rule(e) => e.as_str(),
        }
    }
}

impl fmt::Display for RuleParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.item == 0 {
            f.write_str(self.as_str())
        } else {
            write!(f, "item {}: {}", self.item, self.as_str())
        }
    }
}

/// One rule: optional host, path prefix, node.
#[derive(Clone, Copy)]
pub struct Rule {
    host: [u8; MAX_HOST_LEN],
    host_len: u8,
    prefix: [u8; MAX_PREFIX_LEN],
    prefix_len: u8,
    node: u16,
}

impl Rule {
    const EMPTY: Rule = Rule {
        host: [0; MAX_HOST_LEN],
        host_len: 0,
        prefix: [0; MAX_PREFIX_LEN],
        prefix_len: 0,
        node: 0,
    };

    /// A checked rule; the host is stored lowercased.
    fn new(host: Option<&[u8]>, prefix: &[u8], node: u16) -> Result<Rule, RuleError> {
        let mut r = Rule::EMPTY;
        if let Some(h) = host {
            if h.len() > MAX_HOST_LEN {
                return Err(RuleError::TooLong);
            }
            if h.is_empty() || !h.iter().all(|&b| is_host_byte(b)) {
                return Err(RuleError::BadHost);
            }
            let dst = r.host.get_mut(..h.len()).ok_or(RuleError::TooLong)?;
            dst.copy_from_slice(h);
            dst.make_ascii_lowercase();
            r.host_len = u8::try_from(h.len()).map_err(|_| RuleError::TooLong)?;
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(RuleError::TooLong);
        }
        if prefix.first() != Some(&b'/') || !prefix.iter().all(|&b| is_prefix_byte(b)) {
            return Err(RuleError::BadPrefix);
        }
        r.prefix
            .get_mut(..prefix.len())
            .ok_or(RuleError::TooLong)?
            .copy_from_slice(prefix);
        r.prefix_len = u8::try_from(prefix.len()).map_err(|_| RuleError::TooLong)?;
        r.node = node;
        Ok(r)
    }

    /// The host to match (lowercase), if the rule has one.
    pub fn host(&self) -> Option<&[u8]> {
        match self.host_len {
            0 => None,
            n => self.host.get(..usize::from(n)),
        }
    }

    /// The path prefix.
    pub fn prefix(&self) -> &[u8] {
        self.prefix
            .get(..usize::from(self.prefix_len))
            .unwrap_or(&[])
    }

    /// The node requests matching this rule go to.
    pub fn node(&self) -> u16 {
        self.node
    }

    /// Whether a request for `path` on `hostname` (port stripped) matches.
    pub fn matches(&self, hostname: Option<&[u8]>, path: &[u8]) -> bool {
        let host_ok = match (self.host(), hostname) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        host_ok && path.starts_with(self.prefix())
    }

    /// Same host and prefix (the host compared case-insensitively).
    fn same_key(&self, host: Option<&[u8]>, prefix: &[u8]) -> bool {
        let host_eq = match (self.host(), host) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        host_eq && self.prefix() == prefix
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.host() == other.host() && self.prefix() == other.prefix() && self.node == other.node
    }
}

impl Eq for Rule {}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rule({self})")
    }
}

impl fmt::Display for Rule {
    /// The rule in the text form, e.g. `host:example.com/api=3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = self.host() {
            write!(f, "host:{}", h.escape_ascii())?;
        }
        write!(f, "{}={}", self.prefix().escape_ascii(), self.node)
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~[]:".contains(&b)
}

fn is_prefix_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b",=?#".contains(&b)
}

/// The dispatch table: up to [`MAX_RULES`] rules and a default node.
///
/// About 4.3 KB, inline: in the kernel, allocate it (don't build it on
/// the stack) and fill it in place with [`RuleTable::parse_into`].
#[derive(Clone)]
pub struct RuleTable {
    rules: [Rule; MAX_RULES],
    len: usize,
    default_node: u16,
}

impl RuleTable {
    /// An empty table sending everything to `default_node`.
    pub const fn new(default_node: u16) -> RuleTable {
        RuleTable {
            rules: [Rule::EMPTY; MAX_RULES],
            len: 0,
            default_node,
        }
    }

    /// The node for requests no rule matches.
    pub fn default_node(&self) -> u16 {
        self.default_node
    }

    /// Sets the default node.
    pub fn set_default(&mut self, node: u16) {
        self.default_node = node;
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rules, in match order.
    pub fn rules(&self) -> &[Rule] {
        self.rules.get(..self.len).unwrap_or(&[])
    }

    /// Removes every rule; the default stays.
    pub fn clear(&mut self) {
        self.rules = [Rule::EMPTY; MAX_RULES];
        self.len = 0;
    }

    /// Appends a rule (it matches after every rule already there).
    ///
    /// # Errors
    ///
    /// [`RuleError::Full`], [`RuleError::TooLong`],
    /// [`RuleError::Duplicate`] (same host, ignoring case, and prefix),
    /// [`RuleError::BadHost`], [`RuleError::BadPrefix`]; the table is
    /// unchanged.
    pub fn add(&mut self, host: Option<&[u8]>, prefix: &[u8], node: u16) -> Result<(), RuleError> {
        let rule = Rule::new(host, prefix, node)?;
        if self.rules().iter().any(|r| r.same_key(host, prefix)) {
            return Err(RuleError::Duplicate);
        }
        let slot = self.rules.get_mut(self.len).ok_or(RuleError::Full)?;
        *slot = rule;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// Removes the rule with this host (ignoring case) and prefix, keeping
    /// the order of the others, and returns its node.
    ///
    /// # Errors
    ///
    /// [`RuleError::NotFound`].
    pub fn remove(&mut self, host: Option<&[u8]>, prefix: &[u8]) -> Result<u16, RuleError> {
        let i = self
            .rules()
            .iter()
            .position(|r| r.same_key(host, prefix))
            .ok_or(RuleError::NotFound)?;
        let tail = self.rules.get_mut(i..self.len).ok_or(RuleError::NotFound)?;
        let node = tail.first().map_or(0, Rule::node);
        if !tail.is_empty() {
            tail.rotate_left(1);
        }
        if let Some(last) = tail.last_mut() {
            *last = Rule::EMPTY;
        }
        self.len = self.len.saturating_sub(1);
        Ok(node)
    }

    /// The first rule matching `path` on `hostname` (port stripped), with
    /// its index, e.g. for per-rule hit counters.
    pub fn lookup(&self, hostname: Option<&[u8]>, path: &[u8]) -> Option<(usize, &Rule)> {
        self.rules()
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(hostname, path))
    }

    /// The node for a request: the first matching rule's, else the
    /// default. `None` (a request that did not parse) gets the default.
    pub fn select(&self, head: Option<&RequestHead<'_>>) -> u16 {
        match head {
            Some(h) => self.select_path(h.hostname(), h.path),
            None => self.default_node,
        }
    }

    /// [`RuleTable::select`] from a host (port stripped) and a path.
    pub fn select_path(&self, hostname: Option<&[u8]>, path: &[u8]) -> u16 {
        self.lookup(hostname, path)
            .map_or(self.default_node, |(_, r)| r.node)
    }

    /// A table from its text form (see the module docs).
    ///
    /// # Errors
    ///
    /// The first offending item and what is wrong with it.
    pub fn parse(text: &[u8]) -> Result<RuleTable, RuleParseError> {
        let mut t = RuleTable::new(0);
        t.parse_into(text)?;
        Ok(t)
    }

    /// Replaces this table's rules and default with those of `text`, in
    /// place. On error the table holds the items before the offending one
    /// (parse into a scratch table and swap it in on success).
    ///
    /// # Errors
    ///
    /// As [`RuleTable::parse`].
    pub fn parse_into(&mut self, text: &[u8]) -> Result<(), RuleParseError> {
        self.clear();
        let mut default = None;
        for (i, raw) in text.split(|&b| b == b',').enumerate() {
            let item = i.saturating_add(1);
            let err = |kind| RuleParseError { item, kind };
            let entry = raw.trim_ascii_compat();
            if entry.is_empty() {
                return Err(err(ParseErrorKind::Empty));
            }
            let eq = entry
                .iter()
                .rposition(|&b| b == b'=')
                .ok_or(err(ParseErrorKind::MissingEquals))?;
            let lhs = entry.get(..eq).unwrap_or(&[]).trim_ascii_compat();
            let rhs = entry
                .get(eq.saturating_add(1)..)
                .unwrap_or(&[])
                .trim_ascii_compat();
            let node = parse_node(rhs).ok_or(err(ParseErrorKind::BadNode))?;
            if lhs == b"default" {
                if default.is_some() {
                    return Err(err(ParseErrorKind::DuplicateDefault));
                }
                default = Some(node);
                continue;
            }
            let (host, prefix) = match lhs.strip_prefix(b"host:") {
                Some(rest) => {
                    let slash = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                    (
                        Some(rest.get(..slash).unwrap_or(&[])),
                        rest.get(slash..).unwrap_or(&[]),
                    )
                }
                None => (None, lhs),
            };
            self.add(host, prefix, node)
                .map_err(|e| err(ParseErrorKind::Rule(e)))?;
        }
        self.default_node = default.ok_or(RuleParseError {
            item: 0,
            kind: ParseErrorKind::MissingDefault,
        })?;
        Ok(())
    }
}

/// `trim_ascii` is newer than our MSRV (1.80 > 1.78).
trait TrimAscii {
    fn trim_ascii_compat(&self) -> &Self;
}

impl TrimAscii for [u8] {
    fn trim_ascii_compat(&self) -> &[u8] {
        let start = self
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(self.len());
        let end = self
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |i| i.saturating_add(1));
        self.get(start..end).unwrap_or(&[])
    }
}

/// 1 to 5 decimal digits, at most 65535.
fn parse_node(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 {
        return None;
    }
    let v = s.iter().try_fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?
                .checked_add(u32::from(b.wrapping_sub(b'0')))
        } else {
            None
        }
    })?;
    u16::try_from(v).ok()
}

impl PartialEq for RuleTable {
    fn eq(&self, other: &RuleTable) -> bool {
        self.default_node == other.default_node && self.rules() == other.rules()
    }
}

impl Eq for RuleTable {}

impl fmt::Debug for RuleTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleTable")
            .field("rules", &self.rules())
            .field("default_node", &self.default_node)
            .finish()
    }
}

impl fmt::Display for RuleTable {
    /// The text form: the rules in order, then `default=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.rules() {
            write!(f, "{r},")?;
        }
        write!(f, "default={}", self.default_node)
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    extern crate std;
    use super::super::http::{parse_head, DEFAULT_HEAD_LIMIT};
    use super::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    fn route(t: &RuleTable, req: &str) -> u16 {
        t.select(parse_head(req.as_bytes(), DEFAULT_HEAD_LIMIT).ok().as_ref())
    }

    fn get(host: &str, path: &str) -> std::string::String {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
    }

    #[test]
    fn first_match_wins_in_insertion_order() {
        let mut t = RuleTable::new(1);
        t.add(None, b"/img/", 2).unwrap();
        t.add(None, b"/", 9).unwrap();
        // Never reached: "/" above matches everything.
        t.add(None, b"/img/big/", 3).unwrap();
        assert_eq!(route(&t, &get("h", "/img/big/a.jpg")), 2);
        assert_eq!(route(&t, &get("h", "/index.html")), 9);
        assert_eq!(t.lookup(None, b"/x").map(|(i, _)| i), Some(1));
        // Remove "/" and the more specific rule is reached.
        assert_eq!(t.remove(None, b"/"), Ok(9));
        assert_eq!(route(&t, &get("h", "/img/big/a.jpg")), 2);
        assert_eq!(route(&t, &get("h", "/index.html")), 1);
        assert_eq!(t.rules().iter().map(Rule::node).collect::<Vec<_>>(), [2, 3]);
        // Host rules are ordered with the others.
        let t = RuleTable::parse(b"/api/=2,host:api.example.com/=3,default=1").unwrap();
        assert_eq!(route(&t, &get("api.example.com", "/api/x")), 2);
        assert_eq!(route(&t, &get("api.example.com", "/v1")), 3);
        assert_eq!(route(&t, &get("www.example.com", "/v1")), 1);
    }

    #[test]
    fn prefix_is_a_plain_byte_prefix() {
        let t = RuleTable::parse(b"/img=2,/video/=3,default=1").unwrap();
        let cases = [
            ("/img", 2),
            ("/img/a.jpg", 2),
            ("/imgx", 2),
            ("/img?x=1", 2),
            ("/Img/a.jpg", 1),
            ("/im", 1),
            ("/video/", 3),
            ("/video/a.mp4", 3),
            ("/video", 1),
            ("/videos/a", 1),
            ("/%69mg/a", 1),
            ("/", 1),
            ("http://h/img/a", 2),
        ];
        for (path, want) in cases {
            assert_eq!(route(&t, &get("h", path)), want, "{path}");
        }
        // Asterisk-form never matches a prefix.
        let mut t = RuleTable::new(1);
        t.add(None, b"/", 2).unwrap();
        assert_eq!(route(&t, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 1);
    }

    #[test]
    fn host_match_is_case_insensitive_and_ignores_port() {
        let t = RuleTable::parse(b"host:Example.COM/api=3,default=1").unwrap();
        assert_eq!(t.rules()[0].host(), Some(&b"example.com"[..]));
        let cases = [
            ("example.com", "/api", 3),
            ("EXAMPLE.com", "/api/x", 3),
            ("example.com:8080", "/api", 3),
            ("example.com.", "/api", 1),
            ("www.example.com", "/api", 1),
            ("example.co", "/api", 1),
            ("example.com", "/web", 1),
        ];
        for (host, path, want) in cases {
            assert_eq!(route(&t, &get(host, path)), want, "{host}{path}");
        }
        // Absolute-form targets give the host.
        assert_eq!(
            route(
                &t,
                "GET http://EXAMPLE.com:81/api HTTP/1.1\r\nHost: x\r\n\r\n"
            ),
            3
        );
        // HTTP/1.0 without Host: only host-less rules apply.
        assert_eq!(route(&t, "GET /api HTTP/1.0\r\n\r\n"), 1);
        assert_eq!(t.select_path(None, b"/api"), 1);
        // Unparsable requests go to the default.
        assert_eq!(
            route(&t, "get /api HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            1
        );
        assert_eq!(route(&t, "GET /api HTTP/1.1\r\nHost: example.com\r\n"), 1);
        assert_eq!(t.select(None), 1);
    }

    #[test]
    fn add_checks() {
        let mut t = RuleTable::new(0);
        let long = [b'a'; MAX_HOST_LEN + 1];
        let mut long_prefix = [b'p'; MAX_PREFIX_LEN + 1];
        long_prefix[0] = b'/';
        assert_eq!(t.add(Some(&long), b"/", 1), Err(RuleError::TooLong));
        assert_eq!(t.add(None, &long_prefix, 1), Err(RuleError::TooLong));
        assert!(t
            .add(
                Some(&long[..MAX_HOST_LEN]),
                &long_prefix[..MAX_PREFIX_LEN],
                1
            )
            .is_ok());
        assert_eq!(t.add(Some(b""), b"/", 1), Err(RuleError::BadHost));
        assert_eq!(t.add(Some(b"a b"), b"/", 1), Err(RuleError::BadHost));
        assert_eq!(t.add(Some(b"a/b"), b"/", 1), Err(RuleError::BadHost));
        assert_eq!(t.add(Some(b"a,b"), b"/", 1), Err(RuleError::BadHost));
        for p in [
            &b""[..],
            b"img",
            b"/a b",
            b"/a,b",
            b"/a=b",
            b"/a?b",
            b"/a#",
            b"/\x7f",
            b"/\xc3\xa9",
        ] {
            assert_eq!(t.add(None, p, 1), Err(RuleError::BadPrefix), "{p:?}");
        }
        t.add(Some(b"h"), b"/x", 1).unwrap();
        assert_eq!(t.add(Some(b"H"), b"/x", 2), Err(RuleError::Duplicate));
        // Different host or prefix is not a duplicate.
        t.add(None, b"/x", 2).unwrap();
        t.add(Some(b"h"), b"/x/", 2).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.remove(Some(b"H"), b"/x"), Ok(1));
        assert_eq!(t.remove(Some(b"H"), b"/x"), Err(RuleError::NotFound));
        assert_eq!(t.remove(None, b"/nope"), Err(RuleError::NotFound));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn full_table() {
        let mut t = RuleTable::new(0);
        for i in 0..MAX_RULES {
            t.add(None, format!("/{i}/").as_bytes(), i as u16).unwrap();
        }
        assert_eq!(t.len(), MAX_RULES);
        assert_eq!(t.add(None, b"/more/", 1), Err(RuleError::Full));
        // A duplicate is reported as such even when full.
        assert_eq!(t.add(None, b"/0/", 1), Err(RuleError::Duplicate));
        assert_eq!(t.select_path(None, b"/31/x"), 31);
        // Remove from the middle, the end, the start; order is kept.
        assert_eq!(t.remove(None, b"/10/"), Ok(10));
        assert_eq!(t.remove(None, b"/31/"), Ok(31));
        assert_eq!(t.remove(None, b"/0/"), Ok(0));
        let nodes: Vec<u16> = t.rules().iter().map(Rule::node).collect();
        let want: Vec<u16> = (1..31).filter(|&i| i != 10).collect();
        assert_eq!(nodes, want);
        t.add(None, b"/more/", 7).unwrap();
        assert_eq!(t.rules().last().unwrap().node(), 7);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.default_node(), 0);
        assert_eq!(t, RuleTable::new(0));
        // Removing every rule leaves a table equal to a fresh one.
        let mut t = RuleTable::new(5);
        t.add(None, b"/a", 1).unwrap();
        t.add(None, b"/b", 2).unwrap();
        t.remove(None, b"/a").unwrap();
        t.remove(None, b"/b").unwrap();
        assert_eq!(t, RuleTable::new(5));
        assert_eq!(t.to_string(), "default=5");
    }

    #[test]
    fn text_round_trip() {
        let texts = [
            "default=1",
            "/img=2,/video=3,default=1",
            "host:example.com/api=3,default=0",
            "host:a.b/=65535,/=0,host:[::1]/x/y.z=7,default=65535",
        ];
        for text in texts {
            let t = RuleTable::parse(text.as_bytes()).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(RuleTable::parse(t.to_string().as_bytes()).unwrap(), t);
        }
        // Whitespace and default placement are normalised away, hosts lowercased.
        let t = RuleTable::parse(b" default = 4 ,\n host:EX.com/a = 1 ,\t/b=02\n").unwrap();
        assert_eq!(t.to_string(), "host:ex.com/a=1,/b=2,default=4");
        assert_eq!(format!("{:?}", t.rules()[0]), "Rule(host:ex.com/a=1)");
        // parse_into replaces everything.
        let mut t2 = RuleTable::new(9);
        t2.add(None, b"/old", 9).unwrap();
        t2.parse_into(b"host:EX.com/a=1,/b=2,default=4").unwrap();
        assert_eq!(t2, t);
    }

    #[test]
    fn text_errors_name_the_item() {
        use ParseErrorKind as K;
        let e = |item, kind| RuleParseError { item, kind };
        let cases: &[(&str, RuleParseError)] = &[
            ("", e(1, K::Empty)),
            ("  ", e(1, K::Empty)),
            ("/a=1,,default=1", e(2, K::Empty)),
            ("/a=1,default=1,", e(3, K::Empty)),
            ("/a=1", e(0, K::MissingDefault)),
            ("/a", e(1, K::MissingEquals)),
            ("default=1,/a", e(2, K::MissingEquals)),
            ("/a=", e(1, K::BadNode)),
            ("/a=x", e(1, K::BadNode)),
            ("/a=-1", e(1, K::BadNode)),
            ("/a=+1", e(1, K::BadNode)),
            ("/a=65536", e(1, K::BadNode)),
            ("/a=000001", e(1, K::BadNode)),
            ("/a=1 2", e(1, K::BadNode)),
            ("default=1,default=2", e(2, K::DuplicateDefault)),
            ("default=1,img=2", e(2, K::Rule(RuleError::BadPrefix))),
            ("default=1,=2", e(2, K::Rule(RuleError::BadPrefix))),
            ("default=1,/a b=2", e(2, K::Rule(RuleError::BadPrefix))),
            ("/a=1,default=1,host:=2", e(3, K::Rule(RuleError::BadHost))),
            ("host:/a=2,default=1", e(1, K::Rule(RuleError::BadHost))),
            ("host:h=2,default=1", e(1, K::Rule(RuleError::BadPrefix))),
            ("host:h x/a=2", e(1, K::Rule(RuleError::BadHost))),
            ("/a=1,/a=2,default=1", e(2, K::Rule(RuleError::Duplicate))),
            ("host:H/a=1,host:h/a=2", e(2, K::Rule(RuleError::Duplicate))),
            ("default=1,default==2", e(2, K::Rule(RuleError::BadPrefix))),
        ];
        for (text, want) in cases {
            assert_eq!(RuleTable::parse(text.as_bytes()), Err(*want), "{text:?}");
        }
        let long = format!("/{}=1,default=1", "a".repeat(MAX_PREFIX_LEN));
        assert_eq!(
            RuleTable::parse(long.as_bytes()),
            Err(e(1, K::Rule(RuleError::TooLong)))
        );
        let many: Vec<std::string::String> = (0..=MAX_RULES).map(|i| format!("/{i}={i}")).collect();
        assert_eq!(
            RuleTable::parse(many.join(",").as_bytes()),
            Err(e(MAX_RULES + 1, K::Rule(RuleError::Full)))
        );
        assert_eq!(e(3, K::BadNode).to_string(), "item 3: bad node id");
        assert_eq!(e(0, K::MissingDefault).to_string(), "missing default=");
        assert_eq!(
            e(2, K::Rule(RuleError::Full)).to_string(),
            "item 2: rule table full"
        );
    }
}
