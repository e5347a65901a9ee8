//! A static content-dispatch rule table: fixed capacity, stored inline, no
//! allocation.
//!
//! A rule maps a request to a [`Target`]: a node id, or the name of a
//! server pool (defined in the node's configuration, see `config.rs`,
//! and resolved by `dispatch.rs`). [`RuleTable::lookup_request`] returns
//! the first rule, in insertion order, that matches the request;
//! [`RuleTable::target`] its target, or the table's default target when
//! none matches or the request could not be parsed.
//!
//! A rule matches when all of its parts do:
//! - **Host** (optional). `example.com` is compared ASCII
//!   case-insensitively with the request's host without its port
//!   ([`RequestHead::hostname`]); `*.example.com` matches any subdomain
//!   (`a.example.com`, `a.b.example.com`), not the apex `example.com`. No
//!   trailing-dot or IDNA normalisation. A rule without a host matches any
//!   host, and requests without one.
//! - **Path** (required), against the request path (the target before
//!   `?`, not percent-decoded, not normalised), byte for byte:
//!   `/img/` is a prefix (`/img` also matches `/imgx`: write `/img/` for
//!   the directory), `*.jpg` a suffix (anything ending in `.jpg`), and
//!   `=/index.html` the exact path. This routes content; it is not access
//!   control.
//! - **Method** (optional): `method:POST`, compared exactly.
//! - **One header or cookie** (optional): `header:NAME:VALUE` matches a
//!   header line `NAME` (case-insensitive) whose whole value (blanks
//!   around it trimmed) is exactly `VALUE`; `cookie:NAME:VALUE` a cookie
//!   `NAME=VALUE` in any `Cookie` header line (names and values compared
//!   exactly). Without `:VALUE` they match when the header or cookie is
//!   present at all. These need the request's raw head ([`Request`]);
//!   [`RuleTable::select`], which only has the parsed head, never matches
//!   them.
//!
//! Limits: [`MAX_RULES`] rules, hosts of at most [`MAX_HOST_LEN`] bytes,
//! paths of at most [`MAX_PREFIX_LEN`] bytes (not counting `*` or `=`),
//! methods of at most [`MAX_METHOD_LEN`], a header or cookie name and
//! value of at most [`MAX_FIELD_LEN`] together. A path is visible ASCII
//! without `,`, `=`, `?` or `#`; a host is ASCII letters, digits and
//! `-._~[]:`, stored lowercased. Methods and header and cookie names are
//! tokens (RFC 9110), values visible ASCII without `,` or `#`.
//!
//! # Text form
//!
//! For the configuration ([`RuleTable::parse`]; `Display` writes it back):
//!
//! ```text
//! text      = item *( "," item )
//! item      = rule / default          ; ASCII whitespace around items,
//! rule      = *( qualifier 1*WSP ) match "=" target   ; and around "=",
//!           / "sni:" [ "*." ] host "=" target         ; TLS services only
//! default   = "default=" target       ; is ignored; default exactly once
//! match     = [ "host:" [ "*." ] host ] path
//! path      = "/" ... / "*" ... / "=/" ...   ; prefix, suffix, exact
//! qualifier = "method:" METHOD / "header:" NAME [ ":" VALUE ]
//!           / "cookie:" NAME [ ":" VALUE ]     ; method, and one of the others
//! target    = node / pool
//! node      = 1*5DIGIT                ; 0..=65535
//! pool      = a pool name: a lowercase letter, then [a-z0-9_-], 16 at most
//! ```
//!
//! e.g. `/img/=2,*.jpg=img,=/=home,host:*.example.com/=3,method:POST
//! /api/=api,sni:*.example.com=tls,default=1`. A host-only rule is written
//! with the prefix `/`. An `sni:` rule matches the server name of a TLS
//! service's ClientHello ([`Request::tls`]), and nothing of an HTTP
//! request; the other rules match HTTP requests only.
//! `Display` writes qualifiers first (method, then header or cookie), in
//! one canonical form. Rules keep their order. Errors name the offending
//! item by its 1-based position.
//!
//! ```
//! use btcp_core::http::{parse_head, DEFAULT_HEAD_LIMIT};
//! use btcp_core::rules::{Request, RuleTable, Target};
//!
//! let t = RuleTable::parse(b"host:API.example.com/=4, /img/=2, *.css=static, default=1").unwrap();
//! let req = b"GET /img/a.jpg HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
//! assert_eq!(t.select(parse_head(req, DEFAULT_HEAD_LIMIT).ok().as_ref()), 2);
//! let req = b"GET /img/a.jpg HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n";
//! assert_eq!(t.select(parse_head(req, DEFAULT_HEAD_LIMIT).ok().as_ref()), 4);
//! assert_eq!(t.select(None), 1);
//! let req = b"GET /s/site.css HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
//! let target = t.target(&Request::parse(req, DEFAULT_HEAD_LIMIT));
//! assert_eq!(target.to_string(), "static");
//! assert_eq!(t.to_string(), "host:api.example.com/=4,/img/=2,*.css=static,default=1");
//! ```

use ::core::fmt;

use super::http::{parse_head, RequestHead};

/// Most rules a table holds.
pub const MAX_RULES: usize = 32;
/// Longest host in a rule (for `*.example.com`, not counting `*.`).
pub const MAX_HOST_LEN: usize = 64;
/// Longest path in a rule (not counting the `*` or `=` marker).
pub const MAX_PREFIX_LEN: usize = 64;
/// Longest method in a rule.
pub const MAX_METHOD_LEN: usize = 16;
/// Longest header or cookie name and value in a rule, together.
pub const MAX_FIELD_LEN: usize = 64;
/// Longest pool name.
pub const MAX_POOL_NAME_LEN: usize = 16;
/// What [`RuleTable::select`] and [`RuleTable::default_node`] give for a
/// pool target: not a node. Pools are resolved by `dispatch.rs`.
pub const POOL_TARGET: u16 = u16::MAX;

/// Why a rule could not be added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleError {
    /// The table already holds [`MAX_RULES`] rules.
    Full,
    /// The host, path, method or header/cookie is longer than its limit.
    TooLong,
    /// A rule with the same host, path and qualifiers exists.
    Duplicate,
    /// The host is empty or has a character a host cannot have.
    BadHost,
    /// The path is empty, does not start with `/`, `*` or `=/`, or has a
    /// character outside visible ASCII or one of `,=?#`.
    BadPrefix,
    /// A malformed method, header or cookie qualifier.
    BadQualifier,
    /// No rule with that host, path and qualifiers (for
    /// [`RuleTable::remove`]).
    NotFound,
}

impl RuleError {
    /// A short static name, for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleError::Full => "rule table full",
            RuleError::TooLong => "host, path, method or header too long",
            RuleError::Duplicate => "duplicate rule",
            RuleError::BadHost => "bad host",
            RuleError::BadPrefix => "bad path",
            RuleError::BadQualifier => "bad method, header or cookie",
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
    /// The target is neither a node id (0..=65535) nor a pool name.
    BadTarget,
    /// A second `default=`.
    DuplicateDefault,
    /// No `default=` item at all (the error's item is 0).
    MissingDefault,
    /// Two paths, or a qualifier given twice, or both a header and a
    /// cookie.
    Syntax,
    /// The rule was refused by [`RuleTable::add_rule`].
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
            ParseErrorKind::BadTarget => "bad target (want a node id or a pool name)",
            ParseErrorKind::DuplicateDefault => "duplicate default",
            ParseErrorKind::MissingDefault => "missing default=",
            ParseErrorKind::Syntax => "malformed rule (one path; method, header, cookie once each; not both header and cookie)",
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

/// The name of a server pool: a lowercase ASCII letter, then up to 15 of
/// `a-z`, `0-9`, `_` and `-` (so that it is never a node id).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolName {
    bytes: [u8; MAX_POOL_NAME_LEN],
    len: u8,
}

impl PoolName {
    /// `name` if it is a valid pool name.
    pub fn new(name: &[u8]) -> Option<PoolName> {
        let first = *name.first()?;
        let ok = first.is_ascii_lowercase()
            && name
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok || name.len() > MAX_POOL_NAME_LEN {
            return None;
        }
        let mut p = PoolName {
            bytes: [0; MAX_POOL_NAME_LEN],
            len: u8::try_from(name.len()).ok()?,
        };
        p.bytes.get_mut(..name.len())?.copy_from_slice(name);
        Some(p)
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        ::core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Display for PoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PoolName({})", self.as_str())
    }
}

/// Where a rule sends requests: one node, or a pool of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The node with this id (a one-node pool).
    Node(u16),
    /// The pool with this name.
    Pool(PoolName),
}

impl Target {
    /// A node id (1 to 5 digits, at most 65535) or a pool name.
    pub fn parse(s: &[u8]) -> Option<Target> {
        if s.first().is_some_and(u8::is_ascii_digit) {
            parse_node(s).map(Target::Node)
        } else {
            PoolName::new(s).map(Target::Pool)
        }
    }

    /// The node, for a node target.
    pub fn node(&self) -> Option<u16> {
        match self {
            Target::Node(n) => Some(*n),
            Target::Pool(_) => None,
        }
    }

    /// The pool's name, for a pool target.
    pub fn pool(&self) -> Option<&PoolName> {
        match self {
            Target::Node(_) => None,
            Target::Pool(p) => Some(p),
        }
    }

    /// The node, or [`POOL_TARGET`] for a pool.
    fn legacy_node(&self) -> u16 {
        self.node().unwrap_or(POOL_TARGET)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(n) => write!(f, "{n}"),
            Target::Pool(p) => f.write_str(p.as_str()),
        }
    }
}

/// How a rule's path is compared with the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// The request path starts with it (written `/...`).
    Prefix,
    /// The request path ends with it (written `*...`).
    Suffix,
    /// The request path is exactly it (written `=/...`).
    Exact,
}

/// Which part of the request a rule's field qualifier looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A header line (name compared case-insensitively).
    Header,
    /// A cookie of a `Cookie` header line (name compared exactly).
    Cookie,
}

/// A header or cookie qualifier, as [`Match::field`] takes it: kind,
/// name, and the value to compare with (`None`: present at all).
pub type Field<'a> = (FieldKind, &'a [u8], Option<&'a [u8]>);

/// What a rule matches, as written (before checking): the input of
/// [`RuleTable::add_rule`] and [`RuleTable::remove_rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match<'a> {
    /// `example.com` or `*.example.com`; `None` for any host.
    pub host: Option<&'a [u8]>,
    /// `/prefix`, `*suffix` or `=/exact`.
    pub path: &'a [u8],
    /// The method, e.g. `GET`.
    pub method: Option<&'a [u8]>,
    /// A header or cookie.
    pub field: Option<Field<'a>>,
    /// `host` is a TLS server name (`sni:`): no path, no qualifier.
    pub sni: bool,
}

impl<'a> Match<'a> {
    /// A match on `host` (if any) and `path` only.
    pub fn path(host: Option<&'a [u8]>, path: &'a [u8]) -> Match<'a> {
        Match {
            host,
            path,
            method: None,
            field: None,
            sni: false,
        }
    }
}

/// A request as rules see it: its parsed head, and the raw head for the
/// header and cookie qualifiers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    head: Option<RequestHead<'a>>,
    raw: &'a [u8],
    /// A TLS ClientHello's server name.
    sni: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// Parses the head at the start of `buf` (the request bytes buffered
    /// so far) with [`parse_head`]; a head that does not parse gives a
    /// request that only default rules match.
    pub fn parse(buf: &'a [u8], limit: usize) -> Request<'a> {
        Request::from_head(parse_head(buf, limit).ok(), buf)
    }

    /// A request from a head already parsed from the start of `buf`.
    pub fn from_head(head: Option<RequestHead<'a>>, buf: &'a [u8]) -> Request<'a> {
        let raw = head
            .as_ref()
            .and_then(|h| buf.get(..h.head_len))
            .unwrap_or(&[]);
        Request {
            head,
            raw,
            sni: None,
        }
    }

    /// A TLS service's connection, by its ClientHello's server name (none:
    /// no name, or a hello that did not parse; only the default matches).
    pub fn tls(server_name: Option<&'a [u8]>) -> Request<'a> {
        Request {
            head: None,
            raw: &[],
            sni: server_name,
        }
    }

    /// The TLS server name, for a TLS service's connection.
    pub fn server_name(&self) -> Option<&'a [u8]> {
        self.sni
    }

    /// A request that did not parse.
    pub fn unparsed() -> Request<'static> {
        Request::tls(None)
    }

    /// The parsed head, if the request parsed.
    pub fn head(&self) -> Option<&RequestHead<'a>> {
        self.head.as_ref()
    }

    /// The values of the header lines named `name` (case-insensitively),
    /// blanks around them trimmed, in order.
    pub fn header_values<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'a [u8]> + 's {
        header_lines(self.raw).filter_map(move |(n, v)| n.eq_ignore_ascii_case(name).then_some(v))
    }

    /// Whether a header line `name` is there (with exactly `value`, if
    /// given).
    pub fn has_header(&self, name: &[u8], value: Option<&[u8]>) -> bool {
        self.header_values(name)
            .any(|v| value.map_or(true, |want| v == want))
    }

    /// Whether a cookie `name` is there, in any `Cookie` line (with
    /// exactly `value`, if given).
    pub fn has_cookie(&self, name: &[u8], value: Option<&[u8]>) -> bool {
        self.header_values(b"cookie").any(|line| {
            line.split(|&b| b == b';').any(|pair| {
                let pair = trim_blanks(pair);
                let (n, v) = match pair.iter().position(|&b| b == b'=') {
                    Some(i) => (
                        pair.get(..i).unwrap_or(&[]),
                        pair.get(i.saturating_add(1)..).unwrap_or(&[]),
                    ),
                    None => (pair, &[][..]),
                };
                n == name && value.map_or(true, |want| v == want)
            })
        })
    }
}

/// The `(name, value)` of each header line of a raw head (request line
/// skipped, value trimmed of blanks), up to the blank line.
fn header_lines(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    raw.split(|&b| b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let value = l.get(colon.saturating_add(1)..)?;
            Some((l.get(..colon)?, trim_blanks(value)))
        })
}

/// Without leading and trailing spaces and tabs.
fn trim_blanks(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i.saturating_add(1));
    s.get(start..end).unwrap_or(&[])
}

/// One rule: what it matches and where it sends it.
#[derive(Clone, Copy)]
pub struct Rule {
    host: [u8; MAX_HOST_LEN],
    host_len: u8,
    host_wild: bool,
    path: [u8; MAX_PREFIX_LEN],
    path_len: u8,
    path_kind: PathKind,
    method: [u8; MAX_METHOD_LEN],
    method_len: u8,
    field_kind: Option<FieldKind>,
    /// Name, then value.
    field: [u8; MAX_FIELD_LEN],
    field_name_len: u8,
    /// `None`: the field only has to be present.
    field_value_len: Option<u8>,
    /// Matches a TLS server name (`sni:`), not HTTP requests.
    sni: bool,
    target: Target,
}

/// Copies `src` into the front of `dst` and returns its length as a u8.
fn store(dst: &mut [u8], src: &[u8]) -> Result<u8, RuleError> {
    dst.get_mut(..src.len())
        .ok_or(RuleError::TooLong)?
        .copy_from_slice(src);
    u8::try_from(src.len()).map_err(|_| RuleError::TooLong)
}

impl Rule {
    const EMPTY: Rule = Rule {
        host: [0; MAX_HOST_LEN],
        host_len: 0,
        host_wild: false,
        path: [0; MAX_PREFIX_LEN],
        path_len: 0,
        path_kind: PathKind::Prefix,
        method: [0; MAX_METHOD_LEN],
        method_len: 0,
        field_kind: None,
        field: [0; MAX_FIELD_LEN],
        field_name_len: 0,
        field_value_len: None,
        sni: false,
        target: Target::Node(0),
    };

    /// A checked rule; the host is stored lowercased.
    fn new(m: &Match<'_>, target: Target) -> Result<Rule, RuleError> {
        let mut r = Rule::EMPTY;
        r.target = target;
        if m.sni {
            // A server name and nothing else: what a ClientHello has.
            if m.host.is_none() || m.method.is_some() || m.field.is_some() || m.path != b"/" {
                return Err(RuleError::BadHost);
            }
            r.sni = true;
        }
        if let Some(h) = m.host {
            let (wild, h) = match h.strip_prefix(b"*.") {
                Some(rest) => (true, rest),
                None => (false, h),
            };
            if h.len() > MAX_HOST_LEN {
                return Err(RuleError::TooLong);
            }
            if h.is_empty() || !h.iter().all(|&b| is_host_byte(b)) {
                return Err(RuleError::BadHost);
            }
            // A server name is a DNS name (what tls::parse_client_hello
            // takes), or the rule could never match.
            if m.sni && !super::tls::is_host_name(h) {
                return Err(RuleError::BadHost);
            }
            r.host_len = store(&mut r.host, h)?;
            r.host.make_ascii_lowercase();
            r.host_wild = wild;
        }
        let (kind, path) = match m.path.first() {
            Some(b'/') => (PathKind::Prefix, m.path),
            Some(b'*') => (PathKind::Suffix, m.path.get(1..).unwrap_or(&[])),
            Some(b'=') => (PathKind::Exact, m.path.get(1..).unwrap_or(&[])),
            _ => return Err(RuleError::BadPrefix),
        };
        if path.len() > MAX_PREFIX_LEN {
            return Err(RuleError::TooLong);
        }
        let starts_ok = kind != PathKind::Exact || path.first() == Some(&b'/');
        if path.is_empty() || !starts_ok || !path.iter().all(|&b| is_prefix_byte(b)) {
            return Err(RuleError::BadPrefix);
        }
        r.path_len = store(&mut r.path, path)?;
        r.path_kind = kind;
        if let Some(method) = m.method {
            if method.len() > MAX_METHOD_LEN {
                return Err(RuleError::TooLong);
            }
            if !is_name(method) {
                return Err(RuleError::BadQualifier);
            }
            r.method_len = store(&mut r.method, method)?;
        }
        if let Some((kind, name, value)) = m.field {
            let value_ok = value.map_or(true, |v| {
                !v.is_empty()
                    && v.iter()
                        .all(|&b| b.is_ascii_graphic() && b != b',' && b != b'#')
            });
            if !is_name(name) || !value_ok {
                return Err(RuleError::BadQualifier);
            }
            let v = value.unwrap_or(&[]);
            if name.len().saturating_add(v.len()) > MAX_FIELD_LEN {
                return Err(RuleError::TooLong);
            }
            r.field_name_len = store(&mut r.field, name)?;
            let rest = r.field.get_mut(name.len()..).ok_or(RuleError::TooLong)?;
            let vlen = store(rest, v)?;
            r.field_value_len = value.map(|_| vlen);
            r.field_kind = Some(kind);
        }
        Ok(r)
    }

    /// The host to match (lowercase; for `*.example.com`,
    /// `example.com`), if the rule has one.
    pub fn host(&self) -> Option<&[u8]> {
        match self.host_len {
            0 => None,
            n => self.host.get(..usize::from(n)),
        }
    }

    /// Whether the host is `*.`[`Rule::host`]: subdomains only.
    pub fn host_is_wildcard(&self) -> bool {
        self.host_wild
    }

    /// The path to compare, without its `*` or `=` marker.
    pub fn path(&self) -> &[u8] {
        self.path.get(..usize::from(self.path_len)).unwrap_or(&[])
    }

    /// How the path is compared.
    pub fn path_kind(&self) -> PathKind {
        self.path_kind
    }

    /// The method to match, if any.
    pub fn method(&self) -> Option<&[u8]> {
        match self.method_len {
            0 => None,
            n => self.method.get(..usize::from(n)),
        }
    }

    /// The header or cookie to match, if any: kind, name, value
    /// (`None`: present at all).
    pub fn field(&self) -> Option<Field<'_>> {
        let kind = self.field_kind?;
        let n = usize::from(self.field_name_len);
        let name = self.field.get(..n)?;
        let value = match self.field_value_len {
            Some(v) => Some(self.field.get(n..n.saturating_add(usize::from(v)))?),
            None => None,
        };
        Some((kind, name, value))
    }

    /// Where matching requests go.
    pub fn target(&self) -> Target {
        self.target
    }

    fn host_matches(&self, hostname: Option<&[u8]>) -> bool {
        match (self.host(), hostname) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(got)) if self.host_wild => {
                // got = label(s) "." want, at least one byte before the dot.
                let cut = got.len().saturating_sub(want.len());
                cut >= 2
                    && got.get(cut.saturating_sub(1)) == Some(&b'.')
                    && got.get(cut..).is_some_and(|t| t.eq_ignore_ascii_case(want))
            }
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
        }
    }

    fn path_matches(&self, path: &[u8]) -> bool {
        match self.path_kind {
            PathKind::Prefix => path.starts_with(self.path()),
            PathKind::Suffix => path.ends_with(self.path()),
            PathKind::Exact => path == self.path(),
        }
    }

    /// Whether the host (port stripped), path and method match; the
    /// field qualifier is checked against `req` (with `None`, a rule
    /// with a field never matches).
    fn matches_parts(
        &self,
        hostname: Option<&[u8]>,
        path: &[u8],
        method: Option<&[u8]>,
        req: Option<&Request<'_>>,
    ) -> bool {
        if self.sni {
            return false;
        }
        let method_ok = match (self.method(), method) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        let field_ok = match (self.field(), req) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((FieldKind::Header, name, value)), Some(r)) => r.has_header(name, value),
            (Some((FieldKind::Cookie, name, value)), Some(r)) => r.has_cookie(name, value),
        };
        method_ok && field_ok && self.host_matches(hostname) && self.path_matches(path)
    }

    /// Whether a request for `path` on `hostname` (port stripped) matches
    /// a rule without method, header or cookie (rules with any never
    /// match here: see [`Rule::matches_request`]).
    pub fn matches(&self, hostname: Option<&[u8]>, path: &[u8]) -> bool {
        self.matches_parts(hostname, path, None, None)
    }

    /// Whether `req` matches (a request that did not parse matches no
    /// rule).
    pub fn matches_request(&self, req: &Request<'_>) -> bool {
        if self.sni {
            return req
                .server_name()
                .is_some_and(|n| self.host_matches(Some(n)));
        }
        match req.head() {
            Some(h) => self.matches_parts(h.hostname(), h.path, Some(h.method), Some(req)),
            None => false,
        }
    }

    /// Same host, path and qualifiers (the host and header names compared
    /// case-insensitively), as a checked `other` would be.
    fn same_key(&self, other: &Rule) -> bool {
        let field_eq = match (self.field(), other.field()) {
            (None, None) => true,
            (Some((k1, n1, v1)), Some((k2, n2, v2))) => {
                let names = match k1 {
                    FieldKind::Header => n1.eq_ignore_ascii_case(n2),
                    FieldKind::Cookie => n1 == n2,
                };
                k1 == k2 && names && v1 == v2
            }
            _ => false,
        };
        self.host() == other.host()
            && self.sni == other.sni
            && self.host_wild == other.host_wild
            && self.path_kind == other.path_kind
            && self.path() == other.path()
            && self.method() == other.method()
            && field_eq
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        // Header names as written (they are shown back as written).
        self.same_key(other) && self.field() == other.field() && self.target == other.target
    }
}

impl Eq for Rule {}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rule({self})")
    }
}

/// Writes checked bytes (visible ASCII) as they are.
fn write_ascii(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes
        .iter()
        .try_for_each(|&b| write!(f, "{}", char::from(b)))
}

impl Rule {
    /// The match part of the text form: everything before `=TARGET`.
    fn fmt_match(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.method() {
            f.write_str("method:")?;
            write_ascii(f, m)?;
            f.write_str(" ")?;
        }
        if let Some((kind, name, value)) = self.field() {
            f.write_str(match kind {
                FieldKind::Header => "header:",
                FieldKind::Cookie => "cookie:",
            })?;
            write_ascii(f, name)?;
            if let Some(v) = value {
                f.write_str(":")?;
                write_ascii(f, v)?;
            }
            f.write_str(" ")?;
        }
        if let Some(h) = self.host() {
            f.write_str(match (self.sni, self.host_wild) {
                (true, true) => "sni:*.",
                (true, false) => "sni:",
                (false, true) => "host:*.",
                (false, false) => "host:",
            })?;
            write_ascii(f, h)?;
            if self.sni {
                return Ok(());
            }
        }
        f.write_str(match self.path_kind {
            PathKind::Prefix => "",
            PathKind::Suffix => "*",
            PathKind::Exact => "=",
        })?;
        write_ascii(f, self.path())
    }

    /// The rule's match in the text form, without the target: e.g.
    /// `method:GET host:*.example.com*.jpg` (for listings).
    pub fn display_match(&self) -> impl fmt::Display + '_ {
        struct M<'r>(&'r Rule);
        impl fmt::Display for M<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_match(f)
            }
        }
        M(self)
    }
}

impl fmt::Display for Rule {
    /// The rule in the text form, e.g. `host:example.com/api=3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_match(f)?;
        write!(f, "={}", self.target)
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~[]:".contains(&b)
}

fn is_prefix_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b",=?#".contains(&b)
}

/// A method, header or cookie name: an RFC 9110 token without `#` (a
/// comment in the configuration).
fn is_name(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!$%&'*+-.^_`|~".contains(&b))
}

/// The dispatch table: up to [`MAX_RULES`] rules and a default target.
///
/// About 7.6 KB (7584 bytes), inline: in the kernel, allocate it (don't build it on
/// the stack) and fill it in place with [`RuleTable::parse_into`].
#[derive(Clone, Copy)]
pub struct RuleTable {
    rules: [Rule; MAX_RULES],
    len: usize,
    default: Target,
}

impl RuleTable {
    /// An empty table sending everything to `default_node`.
    pub const fn new(default_node: u16) -> RuleTable {
        RuleTable {
            rules: [Rule::EMPTY; MAX_RULES],
            len: 0,
            default: Target::Node(default_node),
        }
    }

    /// Where requests no rule matches go.
    pub fn default_target(&self) -> Target {
        self.default
    }

    /// Sets where requests no rule matches go.
    pub fn set_default_target(&mut self, target: Target) {
        self.default = target;
    }

    /// The node for requests no rule matches; [`POOL_TARGET`] if that is
    /// a pool (see [`RuleTable::default_target`]).
    pub fn default_node(&self) -> u16 {
        self.default.legacy_node()
    }

    /// Sets the default to a node.
    pub fn set_default(&mut self, node: u16) {
        self.default = Target::Node(node);
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
    /// [`RuleError::Duplicate`] (same host, ignoring case, path and
    /// qualifiers), [`RuleError::BadHost`], [`RuleError::BadPrefix`],
    /// [`RuleError::BadQualifier`]; the table is unchanged.
    pub fn add_rule(&mut self, m: &Match<'_>, target: Target) -> Result<(), RuleError> {
        let rule = Rule::new(m, target)?;
        if self.rules().iter().any(|r| r.same_key(&rule)) {
            return Err(RuleError::Duplicate);
        }
        let slot = self.rules.get_mut(self.len).ok_or(RuleError::Full)?;
        *slot = rule;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// [`RuleTable::add_rule`] of a host (`example.com` or
    /// `*.example.com`) and path (`/prefix`, `*suffix` or `=/exact`) to a
    /// node.
    ///
    /// # Errors
    ///
    /// As [`RuleTable::add_rule`].
    pub fn add(&mut self, host: Option<&[u8]>, path: &[u8], node: u16) -> Result<(), RuleError> {
        self.add_rule(&Match::path(host, path), Target::Node(node))
    }

    /// Removes the rule with this match (host ignoring case), keeping the
    /// order of the others, and returns its target.
    ///
    /// # Errors
    ///
    /// [`RuleError::NotFound`] (also for a match that is not a valid
    /// rule).
    pub fn remove_rule(&mut self, m: &Match<'_>) -> Result<Target, RuleError> {
        let key = Rule::new(m, Target::Node(0)).map_err(|_| RuleError::NotFound)?;
        let i = self
            .rules()
            .iter()
            .position(|r| r.same_key(&key))
            .ok_or(RuleError::NotFound)?;
        let tail = self.rules.get_mut(i..self.len).ok_or(RuleError::NotFound)?;
        let target = tail.first().map_or(Target::Node(0), Rule::target);
        if !tail.is_empty() {
            tail.rotate_left(1);
        }
        if let Some(last) = tail.last_mut() {
            *last = Rule::EMPTY;
        }
        self.len = self.len.saturating_sub(1);
        Ok(target)
    }

    /// [`RuleTable::remove_rule`] of a host and path without qualifiers.
    ///
    /// # Errors
    ///
    /// [`RuleError::NotFound`].
    pub fn remove(&mut self, host: Option<&[u8]>, path: &[u8]) -> Result<Target, RuleError> {
        self.remove_rule(&Match::path(host, path))
    }

    /// The first rule without method, header or cookie matching `path`
    /// on `hostname` (port stripped), with its index.
    pub fn lookup(&self, hostname: Option<&[u8]>, path: &[u8]) -> Option<(usize, &Rule)> {
        self.rules()
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(hostname, path))
    }

    /// The first rule matching `req`, with its index (e.g. for per-rule
    /// hit counters).
    pub fn lookup_request(&self, req: &Request<'_>) -> Option<(usize, &Rule)> {
        self.rules()
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches_request(req))
    }

    /// Where `req` goes: the first matching rule's target, else the
    /// default.
    pub fn target(&self, req: &Request<'_>) -> Target {
        self.lookup_request(req)
            .map_or(self.default, |(_, r)| r.target)
    }

    /// The node for a parsed head: the first matching rule's, else the
    /// default; `None` (a request that did not parse) gets the default.
    /// Header and cookie rules never match here (the raw head is needed:
    /// [`RuleTable::target`]), and a pool target gives [`POOL_TARGET`].
    pub fn select(&self, head: Option<&RequestHead<'_>>) -> u16 {
        let rule = head.and_then(|h| {
            self.rules()
                .iter()
                .find(|r| r.matches_parts(h.hostname(), h.path, Some(h.method), None))
        });
        rule.map_or(self.default, |r| r.target).legacy_node()
    }

    /// [`RuleTable::select`] from a host (port stripped) and a path
    /// (rules with a method, header or cookie do not match).
    pub fn select_path(&self, hostname: Option<&[u8]>, path: &[u8]) -> u16 {
        self.lookup(hostname, path)
            .map_or(self.default, |(_, r)| r.target)
            .legacy_node()
    }

    /// A table from its text form (see the module docs), by value: for
    /// the host; the kernel fills an allocated table with
    /// [`RuleTable::parse_into`] instead.
    ///
    /// # Errors
    ///
    /// The first offending item and what is wrong with it.
    #[inline] // so the kernel, which never calls it, has no copy of it
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
            let target = Target::parse(rhs).ok_or(err(ParseErrorKind::BadTarget))?;
            if lhs == b"default" {
                if default.is_some() {
                    return Err(err(ParseErrorKind::DuplicateDefault));
                }
                default = Some(target);
                continue;
            }
            let m = parse_match(lhs).map_err(err)?;
            self.add_rule(&m, target)
                .map_err(|e| err(ParseErrorKind::Rule(e)))?;
        }
        self.default = default.ok_or(RuleParseError {
            item: 0,
            kind: ParseErrorKind::MissingDefault,
        })?;
        Ok(())
    }
}

/// The match of a rule item (before its `=TARGET`): whitespace-separated
/// qualifiers and one `[host:H]PATH` word, in any order.
fn parse_match(lhs: &[u8]) -> Result<Match<'_>, ParseErrorKind> {
    let mut m = Match::default();
    let mut have_path = false;
    for word in lhs
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if let Some(method) = word.strip_prefix(b"method:") {
            if m.method.is_some() {
                return Err(ParseErrorKind::Syntax);
            }
            m.method = Some(method);
        } else if let Some((kind, rest)) = word
            .strip_prefix(b"header:")
            .map(|r| (FieldKind::Header, r))
            .or_else(|| {
                word.strip_prefix(b"cookie:")
                    .map(|r| (FieldKind::Cookie, r))
            })
        {
            if m.field.is_some() {
                return Err(ParseErrorKind::Syntax);
            }
            m.field = Some(match rest.iter().position(|&b| b == b':') {
                Some(i) => (
                    kind,
                    rest.get(..i).unwrap_or(&[]),
                    Some(rest.get(i.saturating_add(1)..).unwrap_or(&[])),
                ),
                None => (kind, rest, None),
            });
        } else {
            if have_path {
                return Err(ParseErrorKind::Syntax);
            }
            have_path = true;
            if let Some(name) = word.strip_prefix(b"sni:") {
                m.sni = true;
                m.host = Some(name);
                m.path = b"/";
                continue;
            }
            match word.strip_prefix(b"host:") {
                Some(rest) => {
                    // The host ends where the path starts: at `/`, `*` or
                    // `=` (none of which a host has), after a `*.`.
                    let skip = if rest.starts_with(b"*.") { 2 } else { 0 };
                    let end = rest
                        .iter()
                        .skip(skip)
                        .position(|b| b"/*=".contains(b))
                        .map_or(rest.len(), |i| i.saturating_add(skip));
                    m.host = Some(rest.get(..end).unwrap_or(&[]));
                    m.path = rest.get(end..).unwrap_or(&[]);
                }
                None => m.path = word,
            }
        }
    }
    // No path at all: a rule needs one.
    if !have_path {
        return Err(ParseErrorKind::Rule(RuleError::BadPrefix));
    }
    Ok(m)
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
        self.default == other.default && self.rules() == other.rules()
    }
}

impl Eq for RuleTable {}

impl fmt::Debug for RuleTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleTable")
            .field("rules", &self.rules())
            .field("default", &self.default)
            .finish()
    }
}

impl fmt::Display for RuleTable {
    /// The text form: the rules in order, then `default=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.rules() {
            write!(f, "{r},")?;
        }
        write!(f, "default={}", self.default)
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

    fn nodes(t: &RuleTable) -> Vec<u16> {
        t.rules()
            .iter()
            .map(|r| r.target().node().unwrap())
            .collect()
    }

    /// The target `t` picks for a raw request, as text.
    fn target(t: &RuleTable, req: &str) -> std::string::String {
        t.target(&Request::parse(req.as_bytes(), DEFAULT_HEAD_LIMIT))
            .to_string()
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
        assert_eq!(t.remove(None, b"/"), Ok(Target::Node(9)));
        assert_eq!(route(&t, &get("h", "/img/big/a.jpg")), 2);
        assert_eq!(route(&t, &get("h", "/index.html")), 1);
        assert_eq!(nodes(&t), [2, 3]);
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
        assert_eq!(t.remove(Some(b"H"), b"/x"), Ok(Target::Node(1)));
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
        assert_eq!(t.remove(None, b"/10/"), Ok(Target::Node(10)));
        assert_eq!(t.remove(None, b"/31/"), Ok(Target::Node(31)));
        assert_eq!(t.remove(None, b"/0/"), Ok(Target::Node(0)));
        let nodes: Vec<u16> = nodes(&t);
        let want: Vec<u16> = (1..31).filter(|&i| i != 10).collect();
        assert_eq!(nodes, want);
        t.add(None, b"/more/", 7).unwrap();
        assert_eq!(t.rules().last().unwrap().target(), Target::Node(7));
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
            ("/a=", e(1, K::BadTarget)),
            ("/a=X", e(1, K::BadTarget)),
            ("/a=-1", e(1, K::BadTarget)),
            ("/a=+1", e(1, K::BadTarget)),
            ("/a=65536", e(1, K::BadTarget)),
            ("/a=000001", e(1, K::BadTarget)),
            ("/a=1 2", e(1, K::BadTarget)),
            ("/a=p q", e(1, K::BadTarget)),
            ("/a=abcdefghijklmnopq", e(1, K::BadTarget)),
            ("/a=1x", e(1, K::BadTarget)),
            ("default=1,default=2", e(2, K::DuplicateDefault)),
            ("default=1,img=2", e(2, K::Rule(RuleError::BadPrefix))),
            ("default=1,=2", e(2, K::Rule(RuleError::BadPrefix))),
            ("default=1,/a b=2", e(2, K::Syntax)),
            ("/a=1,default=1,host:=2", e(3, K::Rule(RuleError::BadHost))),
            ("host:/a=2,default=1", e(1, K::Rule(RuleError::BadHost))),
            ("host:h=2,default=1", e(1, K::Rule(RuleError::BadPrefix))),
            ("host:h x/a=2", e(1, K::Syntax)),
            ("host:h/x /y=2", e(1, K::Syntax)),
            ("method:GET method:PUT /=2", e(1, K::Syntax)),
            ("header:a cookie:b /=2", e(1, K::Syntax)),
            ("method:GET=2", e(1, K::Rule(RuleError::BadPrefix))),
            ("method: /=2", e(1, K::Rule(RuleError::BadQualifier))),
            ("method:G\x01 /=2", e(1, K::Rule(RuleError::BadQualifier))),
            ("header:X: /=2", e(1, K::Rule(RuleError::BadQualifier))),
            ("header::v /=2", e(1, K::Rule(RuleError::BadQualifier))),
            ("header:a(b:v /=2", e(1, K::Rule(RuleError::BadQualifier))),
            ("*=2", e(1, K::Rule(RuleError::BadPrefix))),
            ("==2", e(1, K::Rule(RuleError::BadPrefix))),
            ("=a=2", e(1, K::Rule(RuleError::BadPrefix))),
            ("host:*./=2", e(1, K::Rule(RuleError::BadHost))),
            ("host:*/=2", e(1, K::Rule(RuleError::BadHost))),
            ("*.jpg=1,*.jpg=2", e(2, K::Rule(RuleError::Duplicate))),
            (
                "header:x-a:1 /=1,header:X-A:1 /=2",
                e(2, K::Rule(RuleError::Duplicate)),
            ),
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
        assert_eq!(
            e(3, K::BadTarget).to_string(),
            "item 3: bad target (want a node id or a pool name)"
        );
        assert_eq!(e(0, K::MissingDefault).to_string(), "missing default=");
        assert_eq!(
            e(2, K::Rule(RuleError::Full)).to_string(),
            "item 2: rule table full"
        );
    }

    #[test]
    fn suffix_exact_and_wildcard_host() {
        let t = RuleTable::parse(
            b"=/index.html=1,*.jpg=img,host:*.example.com/api/=api,host:*.example.com*.css=css,\
              host:example.com/=apex,/static/=2,default=9",
        )
        .unwrap();
        let cases = [
            ("h", "/index.html", "1"),
            ("h", "/index.html/", "9"),
            ("h", "/a/index.html", "9"),
            ("h", "/a/b.jpg", "img"),
            ("h", "/static/b.jpg", "img"),
            ("h", "/a/b.jpg.png", "9"),
            ("h", "/a/b.JPG", "9"),
            ("h", "/a/b.jpg?x=1", "img"),
            ("www.example.com", "/api/v1", "api"),
            ("a.b.Example.COM:81", "/api/v1", "api"),
            ("example.com", "/api/v1", "apex"),
            ("xexample.com", "/api/v1", "9"),
            (".example.com", "/api/v1", "9"),
            ("www.example.com", "/s/site.css", "css"),
            ("www.example.com", "/static/x", "2"),
            ("example.com", "/static/x", "apex"),
        ];
        for (host, path, want) in cases {
            assert_eq!(target(&t, &get(host, path)), want, "{host}{path}");
        }
        assert_eq!(
            t.to_string(),
            "=/index.html=1,*.jpg=img,host:*.example.com/api/=api,host:*.example.com*.css=css,\
             host:example.com/=apex,/static/=2,default=9"
        );
        let r = &t.rules()[3];
        assert!(r.host_is_wildcard());
        assert_eq!(
            (r.host(), r.path_kind(), r.path()),
            (Some(&b"example.com"[..]), PathKind::Suffix, &b".css"[..])
        );
        // The legacy view: pools read as POOL_TARGET.
        assert_eq!(t.select_path(None, b"/a.jpg"), POOL_TARGET);
        assert_eq!(t.select_path(None, b"/index.html"), 1);
    }

    #[test]
    fn method_header_and_cookie_qualifiers() {
        let t = RuleTable::parse(
            b"method:POST /api/=writes, header:X-Tier:gold /=gold, cookie:beta:1 /=beta,\
              cookie:session /app/=sticky, header:x-canary /=canary, default=1",
        )
        .unwrap();
        let req = |method: &str, path: &str, extra: &str| {
            format!("{method} {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n")
        };
        let cases = [
            (req("POST", "/api/x", ""), "writes"),
            (req("GET", "/api/x", ""), "1"),
            (req("GET", "/", "x-tier:  gold \r\n"), "gold"),
            (req("GET", "/", "X-Tier: Gold\r\n"), "1"),
            (req("GET", "/", "X-Tier: gold, silver\r\n"), "1"),
            (req("GET", "/", "X-Tier: none\r\nX-Tier: gold\r\n"), "gold"),
            (req("GET", "/", "X-Tier-2: gold\r\n"), "1"),
            (req("GET", "/", "Cookie: a=b; beta=1; c=d\r\n"), "beta"),
            (req("GET", "/", "Cookie: a=b\r\nCookie: beta=1\r\n"), "beta"),
            (req("GET", "/", "Cookie: Beta=1\r\n"), "1"),
            (req("GET", "/", "Cookie: beta=10\r\n"), "1"),
            (req("GET", "/", "X-Cookie: beta=1\r\n"), "1"),
            (req("GET", "/app/x", "Cookie: session=\r\n"), "sticky"),
            (req("GET", "/app/x", "Cookie: sessions=1\r\n"), "1"),
            (req("GET", "/", "X-Canary: \r\n"), "canary"),
            // The body is not the head.
            (
                req("POST", "/x", "Content-Length: 14\r\n") + "X-Canary: 1\r\n\r\n",
                "1",
            ),
        ];
        for (r, want) in &cases {
            assert_eq!(target(&t, r), *want, "{r:?}");
        }
        // Without the raw head, header and cookie rules cannot match;
        // method rules still do.
        fn head(r: &str) -> RequestHead<'_> {
            parse_head(r.as_bytes(), DEFAULT_HEAD_LIMIT).unwrap()
        }
        let gold = req("GET", "/", "X-Tier: gold\r\n");
        assert_eq!(t.select(Some(&head(&gold))), 1);
        let t2 = RuleTable::parse(b"method:POST /api/=3,default=1").unwrap();
        assert_eq!(t2.select(Some(&head(&req("POST", "/api/", "")))), 3);
        assert_eq!(t2.select_path(None, b"/api/"), 1);
        // An unparsable request matches no rule.
        assert_eq!(t.target(&Request::unparsed()), Target::Node(1));
        assert_eq!(
            t.target(&Request::parse(b"POST /api/ HTTP/1.1\r\n", 64)),
            Target::Node(1)
        );
        // Canonical text: qualifiers first, method then field.
        assert_eq!(
            RuleTable::parse(b" method:GET  /\theader:A:b=c =2,default=1")
                .unwrap()
                .to_string(),
            "method:GET header:A:b=c /=2,default=1"
        );
        assert_eq!(
            t.to_string(),
            "method:POST /api/=writes,header:X-Tier:gold /=gold,cookie:beta:1 /=beta,\
             cookie:session /app/=sticky,header:x-canary /=canary,default=1"
        );
        let r = &t.rules()[1];
        assert_eq!(
            r.field(),
            Some((FieldKind::Header, &b"X-Tier"[..], Some(&b"gold"[..])))
        );
        assert_eq!(r.display_match().to_string(), "header:X-Tier:gold /");
    }

    #[test]
    fn sni_rules_match_tls_server_names_only() {
        let t = RuleTable::parse(b"sni:WWW.example.com=2, sni:*.example.net=3, /=4, default=1")
            .unwrap();
        assert_eq!(
            t.to_string(),
            "sni:www.example.com=2,sni:*.example.net=3,/=4,default=1"
        );
        let tls = |n: &'static [u8]| t.target(&Request::tls(Some(n)));
        assert_eq!(tls(b"www.Example.com"), Target::Node(2));
        assert_eq!(tls(b"a.b.example.net"), Target::Node(3));
        assert_eq!(
            tls(b"example.net"),
            Target::Node(1),
            "the apex is not a subdomain"
        );
        assert_eq!(
            tls(b"other.org"),
            Target::Node(1),
            "HTTP rules do not match TLS"
        );
        assert_eq!(t.target(&Request::tls(None)), Target::Node(1));
        let head = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
        let http = Request::parse(head, 1024);
        assert_eq!(
            t.target(&http),
            Target::Node(4),
            "sni rules do not match HTTP"
        );
        // A server name and nothing else.
        for bad in [
            &b"sni:=2,default=1"[..],
            b"sni:a.example/x=2,default=1",
            b"method:GET sni:a.example=2,default=1",
            b"sni:a_b=2,default=1",
        ] {
            assert!(
                RuleTable::parse(bad).is_err(),
                "{}",
                std::string::String::from_utf8_lossy(bad)
            );
        }
        // Same name as a host rule: a different rule.
        assert_eq!(
            RuleTable::parse(b"sni:a.example=2,host:a.example/=3,default=1").err(),
            None
        );
        assert!(RuleTable::parse(b"sni:a.example=2,sni:A.example=3,default=1").is_err());
    }

    #[test]
    fn add_and_remove_with_qualifiers() {
        let mut t = RuleTable::new(0);
        let pool = Target::Pool(PoolName::new(b"web").unwrap());
        let m = Match {
            host: Some(b"*.Example.com"),
            path: b"*.png",
            method: Some(b"GET"),
            field: Some((FieldKind::Cookie, b"v", Some(b"2"))),
            sni: false,
        };
        t.add_rule(&m, pool).unwrap();
        assert_eq!(t.add_rule(&m, Target::Node(3)), Err(RuleError::Duplicate));
        // Another method, field or host kind is another rule.
        t.add_rule(&Match { method: None, ..m }, Target::Node(3))
            .unwrap();
        t.add_rule(&Match { field: None, ..m }, Target::Node(3))
            .unwrap();
        let apex = Match {
            host: Some(b"example.com"),
            ..m
        };
        t.add_rule(&apex, Target::Node(3)).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.to_string(),
            "method:GET cookie:v:2 host:*.example.com*.png=web,cookie:v:2 host:*.example.com*.png=3,\
             method:GET host:*.example.com*.png=3,method:GET cookie:v:2 host:example.com*.png=3,\
             default=0"
        );
        assert_eq!(t.remove_rule(&m), Ok(pool));
        assert_eq!(t.remove_rule(&m), Err(RuleError::NotFound));
        assert_eq!(t.remove(None, b"*.png"), Err(RuleError::NotFound));
        assert_eq!(t.remove(None, b"bad"), Err(RuleError::NotFound));
        t.set_default_target(pool);
        assert_eq!(t.default_node(), POOL_TARGET);
        assert_eq!(t.default_target(), pool);
        // Limits.
        let long = [b'a'; MAX_FIELD_LEN];
        let too_long = Match {
            field: Some((FieldKind::Header, b"x", Some(&long))),
            ..Match::path(None, b"/")
        };
        assert_eq!(t.add_rule(&too_long, pool), Err(RuleError::TooLong));
        let just = Match {
            field: Some((FieldKind::Header, b"x", Some(&long[1..]))),
            ..Match::path(None, b"/")
        };
        t.add_rule(&just, pool).unwrap();
        let method = [b'M'; MAX_METHOD_LEN + 1];
        let m = Match {
            method: Some(&method),
            ..Match::path(None, b"/")
        };
        assert_eq!(t.add_rule(&m, pool), Err(RuleError::TooLong));
    }

    #[test]
    fn pool_names() {
        for good in ["a", "img", "a-b_c9", "abcdefghijklmnop", "default"] {
            let p = PoolName::new(good.as_bytes()).unwrap();
            assert_eq!(p.as_str(), good);
            assert_eq!(Target::parse(good.as_bytes()), Some(Target::Pool(p)));
        }
        for bad in [
            "",
            "A",
            "9a",
            "-a",
            "_a",
            "a.b",
            "a b",
            "abcdefghijklmnopq",
            "é",
        ] {
            assert_eq!(PoolName::new(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(Target::parse(b"0"), Some(Target::Node(0)));
        assert_eq!(Target::parse(b"65535"), Some(Target::Node(65535)));
        assert_eq!(Target::parse(b"65536"), None);
        assert_eq!(
            format!("{:?}", PoolName::new(b"img").unwrap()),
            "PoolName(img)"
        );
    }

    #[test]
    fn display_does_not_escape() {
        // Quotes and backslashes are path bytes: written as they are.
        let text = "/a'b\"c\\d=1,default=2";
        let t = RuleTable::parse(text.as_bytes()).unwrap();
        assert_eq!(t.to_string(), text);
    }
}
