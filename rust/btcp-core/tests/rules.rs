//! Property tests of the dispatch rule table against a plain `Vec` model:
//! selection, add/remove, and the text form's round trip.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::http::{parse_head, DEFAULT_HEAD_LIMIT};
use btcp_core::rules::{RuleError, RuleTable, MAX_RULES};
use proptest::prelude::*;

/// Small alphabets so that rules collide and overlap often.
fn host() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("a.com".to_string()),
        Just("A.com".to_string()),
        Just("b.org".to_string()),
        "[a-zA-Z0-9.-]{1,6}",
    ])
}

fn prefix() -> impl Strategy<Value = String> {
    "/[ab/]{0,4}"
}

type ModelRule = (Option<String>, String, u16);

#[derive(Debug, Clone)]
enum Op {
    Add(Option<String>, String, u16),
    Remove(Option<String>, String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (host(), prefix(), any::<u16>()).prop_map(|(h, p, n)| Op::Add(h, p, n)),
        1 => (host(), prefix()).prop_map(|(h, p)| Op::Remove(h, p)),
    ]
}

fn same(a: &ModelRule, host: &Option<String>, prefix: &str) -> bool {
    let host_eq = match (&a.0, host) {
        (None, None) => true,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    host_eq && a.1 == prefix
}

fn model_select(model: &[ModelRule], default: u16, host: Option<&str>, path: &str) -> u16 {
    model
        .iter()
        .find(|(h, p, _)| {
            let host_ok = match (h, host) {
                (None, _) => true,
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                (Some(_), None) => false,
            };
            host_ok && path.starts_with(p.as_str())
        })
        .map_or(default, |r| r.2)
}

proptest! {
    #[test]
    fn table_matches_model(
        ops in prop::collection::vec(op(), 0..80),
        default in any::<u16>(),
        probes in prop::collection::vec((host(), prefix(), "[ab/.]{0,4}"), 1..20),
    ) {
        let mut t = RuleTable::new(default);
        let mut model: Vec<ModelRule> = Vec::new();
        for op in ops {
            match op {
                Op::Add(h, p, n) => {
                    let got = t.add(h.as_deref().map(str::as_bytes), p.as_bytes(), n);
                    let want = if model.iter().any(|r| same(r, &h, &p)) {
                        Err(RuleError::Duplicate)
                    } else if model.len() == MAX_RULES {
                        Err(RuleError::Full)
                    } else {
                        model.push((h.map(|s| s.to_ascii_lowercase()), p, n));
                        Ok(())
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Remove(h, p) => {
                    let got = t.remove(h.as_deref().map(str::as_bytes), p.as_bytes());
                    let want = match model.iter().position(|r| same(r, &h, &p)) {
                        Some(i) => Ok(model.remove(i).2),
                        None => Err(RuleError::NotFound),
                    };
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
        for (r, m) in t.rules().iter().zip(&model) {
            prop_assert_eq!(r.host(), m.0.as_deref().map(str::as_bytes));
            prop_assert_eq!(r.prefix(), m.1.as_bytes());
            prop_assert_eq!(r.node(), m.2);
        }
        for (h, p, tail) in probes {
            let path = format!("{p}{tail}");
            let want = model_select(&model, default, h.as_deref(), &path);
            prop_assert_eq!(t.select_path(h.as_deref().map(str::as_bytes), path.as_bytes()), want);
            // The same through a parsed request, with a port on the host.
            if let Some(h) = &h {
                let req = format!("GET {path} HTTP/1.1\r\nHost: {h}:8080\r\n\r\n");
                let head = parse_head(req.as_bytes(), DEFAULT_HEAD_LIMIT).unwrap();
                prop_assert_eq!(t.select(Some(&head)), want);
            }
        }
        prop_assert_eq!(t.select(None), default);
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
            ],
            0..120,
        ),
    ) {
        if let Ok(t) = RuleTable::parse(&text) {
            prop_assert_eq!(RuleTable::parse(t.to_string().as_bytes()).unwrap(), t);
        }
    }

    #[test]
    fn structured_text_parses(
        items in prop::collection::vec((host(), prefix(), any::<u16>()), 0..40),
        default in any::<u16>(),
        default_at in any::<prop::sample::Index>(),
    ) {
        let mut parts: Vec<String> = items
            .iter()
            .map(|(h, p, n)| match h {
                Some(h) => format!("host:{h}{p}={n}"),
                None => format!("{p}={n}"),
            })
            .collect();
        parts.insert(default_at.index(parts.len() + 1), format!("default={default}"));
        let text = parts.join(",");
        // The model: add in order, the first error names its item.
        let mut t = RuleTable::new(default);
        let mut first_err = None;
        let mut item = 0;
        for (i, part) in parts.iter().enumerate() {
            if part.starts_with("default=") {
                continue;
            }
            let (h, p, n) = &items[item];
            item += 1;
            if let Err(e) = t.add(h.as_deref().map(str::as_bytes), p.as_bytes(), *n) {
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
