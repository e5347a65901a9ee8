//! Property tests of the dispatch rule table against a plain `Vec` model:
//! selection (host exact and wildcard, path prefix, suffix and exact,
//! method, header and cookie qualifiers, node and pool targets),
//! add/remove, and the text form's round trip.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::http::{parse_head, DEFAULT_HEAD_LIMIT};
use btcp_core::rules::{
    FieldKind, Match, PathKind, PoolName, Request, RuleError, RuleTable, Target, MAX_RULES,
};
use proptest::prelude::*;

/// Small alphabets so that rules collide and overlap often.
fn host() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("a.com".to_string()),
        Just("A.com".to_string()),
        Just("*.a.com".to_string()),
        Just("*.A.com".to_string()),
        Just("b.org".to_string()),
        "[a-zA-Z0-9.-]{1,6}",
    ])
}

/// A path pattern as written: prefix, suffix or exact.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "/[ab/]{0,4}",
        1 => "\\*[ab./]{1,3}",
        1 => "=/[ab/]{0,3}",
    ]
}

fn method() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string())
    ])
}

type ModelField = (FieldKind, String, Option<String>);

fn field() -> impl Strategy<Value = Option<ModelField>> {
    let kind = prop_oneof![Just(FieldKind::Header), Just(FieldKind::Cookie)];
    let name = prop_oneof![Just("x".to_string()), Just("y".to_string())];
    let value = prop::option::of(prop_oneof![Just("1".to_string()), Just("2".to_string())]);
    prop::option::weighted(0.3, (kind, name, value))
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        any::<u16>().prop_map(Target::Node),
        prop_oneof![Just("p"), Just("q"), Just("img-2")]
            .prop_map(|n| Target::Pool(PoolName::new(n.as_bytes()).unwrap())),
    ]
}

#[derive(Debug, Clone)]
struct ModelRule {
    host: Option<String>,
    path: String,
    method: Option<String>,
    field: Option<ModelField>,
    target: Target,
}

impl ModelRule {
    fn as_match(&self) -> Match<'_> {
        Match {
            host: self.host.as_deref().map(str::as_bytes),
            path: self.path.as_bytes(),
            method: self.method.as_deref().map(str::as_bytes),
            field: self
                .field
                .as_ref()
                .map(|(k, n, v)| (*k, n.as_bytes(), v.as_deref().map(str::as_bytes))),
            sni: false,
        }
    }

    fn same(&self, other: &ModelRule) -> bool {
        let lower = |h: &Option<String>| h.as_ref().map(|h| h.to_ascii_lowercase());
        lower(&self.host) == lower(&other.host)
            && self.path == other.path
            && self.method == other.method
            && self.field == other.field
    }

    /// Whether a request matches, written independently of rules.rs.
    fn matches(&self, probe: &Probe) -> bool {
        let host_ok = match (&self.host, &probe.host) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(got)) => {
                let (want, got) = (want.to_ascii_lowercase(), got.to_ascii_lowercase());
                match want.strip_prefix("*.") {
                    Some(domain) => {
                        got.ends_with(&format!(".{domain}")) && got.len() > domain.len() + 1
                    }
                    None => want == got,
                }
            }
        };
        let path_ok = if let Some(s) = self.path.strip_prefix('*') {
            probe.path.ends_with(s)
        } else if let Some(e) = self.path.strip_prefix('=') {
            probe.path == e
        } else {
            probe.path.starts_with(&self.path)
        };
        let method_ok = self.method.as_ref().map_or(true, |m| *m == probe.method);
        let field_ok = match &self.field {
            None => true,
            Some((kind, name, value)) => {
                let got = match kind {
                    FieldKind::Header => probe.headers.iter().find(|(n, _)| n == name),
                    FieldKind::Cookie => probe.cookies.iter().find(|(n, _)| n == name),
                };
                match (got, value) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some((_, v)), Some(want)) => v == want,
                }
            }
        };
        host_ok && path_ok && method_ok && field_ok
    }
}

fn rule() -> impl Strategy<Value = ModelRule> {
    (host(), path(), method(), field(), target()).prop_map(|(host, path, method, field, target)| {
        ModelRule {
            host,
            path,
            method,
            field,
            target,
        }
    })
}

#[derive(Debug, Clone)]
struct Probe {
    host: Option<String>,
    path: String,
    method: String,
    /// One value per name (the model does not do repeated headers).
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
}

impl Probe {
    fn request(&self) -> String {
        // HTTP/1.1 requires a Host.
        let version = if self.host.is_some() { "1.1" } else { "1.0" };
        let mut r = format!("{} {} HTTP/{version}\r\n", self.method, self.path);
        if let Some(h) = &self.host {
            r += &format!("Host: {h}:8080\r\n");
        }
        for (n, v) in &self.headers {
            r += &format!("{n}: {v}\r\n");
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            r += &format!("Cookie: {}\r\n", c.join("; "));
        }
        r + "\r\n"
    }
}

fn probe() -> impl Strategy<Value = Probe> {
    let host = prop::option::weighted(
        0.9,
        prop_oneof![
            Just("a.com".to_string()),
            Just("x.a.com".to_string()),
            Just("x.Y.A.com".to_string()),
            Just("b.org".to_string()),
            Just("c.b.org".to_string()),
            Just("xa.com".to_string()),
        ],
    );
    let kv = || {
        prop::collection::btree_map(
            prop_oneof![Just("x".to_string()), Just("y".to_string())],
            prop_oneof![Just("1".to_string()), Just("2".to_string())],
            0..3,
        )
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
    };
    (
        host,
        "/[ab/.]{0,5}",
        prop_oneof![Just("GET".to_string()), Just("POST".to_string())],
        kv(),
        kv(),
    )
        .prop_map(|(host, path, method, headers, cookies)| Probe {
            host,
            path,
            method,
            headers,
            cookies,
        })
}

#[derive(Debug, Clone)]
enum Op {
    Add(ModelRule),
    Remove(ModelRule),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => rule().prop_map(Op::Add),
        1 => rule().prop_map(Op::Remove),
    ]
}

proptest! {
    #[test]
    fn table_matches_model(
        ops in prop::collection::vec(op(), 0..80),
        default in target(),
        probes in prop::collection::vec(probe(), 1..20),
    ) {
        let mut t = RuleTable::new(0);
        t.set_default_target(default);
        let mut model: Vec<ModelRule> = Vec::new();
        for op in ops {
            match op {
                Op::Add(r) => {
                    let got = t.add_rule(&r.as_match(), r.target);
                    let want = if model.iter().any(|m| m.same(&r)) {
                        Err(RuleError::Duplicate)
                    } else if model.len() == MAX_RULES {
                        Err(RuleError::Full)
                    } else {
                        model.push(r);
                        Ok(())
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Remove(r) => {
                    let got = t.remove_rule(&r.as_match());
                    let want = match model.iter().position(|m| m.same(&r)) {
                        Some(i) => Ok(model.remove(i).target),
                        None => Err(RuleError::NotFound),
                    };
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
        for (r, m) in t.rules().iter().zip(&model) {
            let host = m.host.as_ref().map(|h| h.to_ascii_lowercase());
            let (wild, host) = match host.as_deref().map(|h| h.strip_prefix("*.").ok_or(h)) {
                Some(Ok(h)) => (true, Some(h.to_string())),
                Some(Err(h)) => (false, Some(h.to_string())),
                None => (false, None),
            };
            prop_assert_eq!(r.host(), host.as_deref().map(str::as_bytes));
            prop_assert_eq!(r.host_is_wildcard(), wild);
            let kind = match m.path.as_bytes()[0] {
                b'*' => PathKind::Suffix,
                b'=' => PathKind::Exact,
                _ => PathKind::Prefix,
            };
            prop_assert_eq!(r.path_kind(), kind);
            let stripped = if kind == PathKind::Prefix { &m.path[..] } else { &m.path[1..] };
            prop_assert_eq!(r.path(), stripped.as_bytes());
            prop_assert_eq!(r.method(), m.method.as_deref().map(str::as_bytes));
            prop_assert_eq!(r.target(), m.target);
        }
        for p in probes {
            let want = model.iter().position(|m| m.matches(&p));
            let req_text = p.request();
            let req = Request::parse(req_text.as_bytes(), DEFAULT_HEAD_LIMIT);
            prop_assert!(req.head().is_some(), "{:?}", req_text);
            prop_assert_eq!(t.lookup_request(&req).map(|(i, _)| i), want, "{:?}", req_text);
            let want_target = want.map_or(default, |i| model[i].target);
            prop_assert_eq!(t.target(&req), want_target);
            // Rules without qualifiers, through the legacy lookups.
            let plain: Vec<&ModelRule> =
                model.iter().filter(|m| m.method.is_none() && m.field.is_none()).collect();
            let want_plain = plain.iter().find(|m| m.matches(&p)).map_or(default, |m| m.target);
            let hostname = p.host.as_deref().map(str::as_bytes);
            prop_assert_eq!(
                t.select_path(hostname, p.path.as_bytes()),
                want_plain.node().unwrap_or(u16::MAX)
            );
            // select(head): methods too, fields never.
            let head = parse_head(req_text.as_bytes(), DEFAULT_HEAD_LIMIT).unwrap();
            let want_head = model
                .iter()
                .find(|m| m.field.is_none() && m.matches(&p))
                .map_or(default, |m| m.target);
            prop_assert_eq!(t.select(Some(&head)), want_head.node().unwrap_or(u16::MAX));
        }
        prop_assert_eq!(t.select(None), default.node().unwrap_or(u16::MAX));
        prop_assert_eq!(t.target(&Request::unparsed()), default);
        // The text form round-trips.
        let text = t.to_string();
        prop_assert_eq!(RuleTable::parse(text.as_bytes()).unwrap(), t);
    }

    #[test]
    fn arbitrary_text_never_panics(
        text in prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                Just(b','), Just(b'='), Just(b'/'), Just(b':'), Just(b' '), Just(b'1'),
                Just(b'*'), Just(b'.'), Just(b'a'),
            ],
            0..120,
        ),
    ) {
        if let Ok(t) = RuleTable::parse(&text) {
            prop_assert_eq!(RuleTable::parse(t.to_string().as_bytes()).unwrap(), t);
        }
    }

    #[test]
    fn arbitrary_words_round_trip(
        items in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    Just("method:GET"), Just("method:PUT"), Just("header:x:1"), Just("header:X"),
                    Just("cookie:c:v=w"), Just("cookie:c"), Just("host:a.b/x"), Just("host:*.a.b*.c"),
                    Just("host:A.b=/i"), Just("/"), Just("*.jpg"), Just("=/i"), Just(" "), Just("\t"),
                ],
                0..5,
            ).prop_map(|w| w.join(" ")),
            0..6,
        ),
        targets in prop::collection::vec(prop_oneof![Just("1"), Just("p"), Just("x y")], 6),
    ) {
        // Whatever parses renders canonically: parse(display(t)) == t and
        // display is a fixpoint.
        let mut parts: Vec<String> =
            items.iter().zip(&targets).map(|(i, t)| format!("{i}={t}")).collect();
        parts.push("default=1".into());
        let text = parts.join(",");
        if let Ok(t) = RuleTable::parse(text.as_bytes()) {
            let once = t.to_string();
            let again = RuleTable::parse(once.as_bytes()).unwrap();
            prop_assert_eq!(&again, &t);
            prop_assert_eq!(again.to_string(), once);
        }
    }

    #[test]
    fn structured_text_parses(
        items in prop::collection::vec(rule(), 0..40),
        default in target(),
        default_at in any::<prop::sample::Index>(),
    ) {
        // Each item written in a shuffled but valid word order.
        let mut parts: Vec<String> = items
            .iter()
            .map(|r| {
                let mut words = Vec::new();
                let host = r.host.as_ref().map_or(String::new(), |h| format!("host:{h}"));
                words.push(format!("{host}{}", r.path));
                if let Some(m) = &r.method {
                    words.push(format!("method:{m}"));
                }
                if let Some((k, n, v)) = &r.field {
                    let k = if *k == FieldKind::Header { "header" } else { "cookie" };
                    let v = v.as_ref().map_or(String::new(), |v| format!(":{v}"));
                    words.insert(0, format!("{k}:{n}{v}"));
                }
                format!("{}={}", words.join(" "), r.target)
            })
            .collect();
        parts.insert(default_at.index(parts.len() + 1), format!("default={default}"));
        let text = parts.join(",");
        // The model: add in order, the first error names its item.
        let mut t = RuleTable::new(0);
        t.set_default_target(default);
        let mut first_err = None;
        let mut item = 0;
        for (i, part) in parts.iter().enumerate() {
            if part.starts_with("default=") {
                continue;
            }
            let r = &items[item];
            item += 1;
            if let Err(e) = t.add_rule(&r.as_match(), r.target) {
                first_err = Some((i + 1, e));
                break;
            }
        }
        match (RuleTable::parse(text.as_bytes()), first_err) {
            (Ok(got), None) => prop_assert_eq!(got, t),
            (Err(e), Some((i, want))) => {
                prop_assert_eq!(e.item, i);
                prop_assert_eq!(e.kind, btcp_core::rules::ParseErrorKind::Rule(want));
            }
            (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
        }
    }
}
