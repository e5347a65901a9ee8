//! Property tests of the request-head scanner: generated requests parse to
//! what was generated, whatever follows the head; any bytes and any
//! mutation of a request are handled without panicking; incremental head
//! search agrees with a full search.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::http::{
    find_head_end, find_head_end_from, parse_head, HttpError, TargetForm, Version,
    DEFAULT_HEAD_LIMIT,
};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("HEAD".to_string()),
        "[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,15}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}){1,5}/?"
}

fn query() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[A-Za-z0-9=&?/%._-]{0,20}")
}

fn host() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}(:[0-9]{1,5})?"
}

fn other_header() -> impl Strategy<Value = (String, String)> {
    (
        "X-[A-Za-z0-9-]{1,10}",
        "[ -~]{0,30}".prop_map(|s| s.trim_matches(|c| c == ' ' || c == '\t').to_string()),
    )
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    absolute: bool,
    path: String,
    query: Option<String>,
    version: Version,
    host: Option<String>,
    headers: Vec<(String, String)>,
    host_pos: usize,
    host_name_case: u8,
    ows: (String, String),
}

fn request() -> impl Strategy<Value = Req> {
    (
        method(),
        any::<bool>(),
        path(),
        query(),
        prop_oneof![Just(Version::Http10), Just(Version::Http11)],
        prop::option::of(host()),
        prop::collection::vec(other_header(), 0..6),
        any::<prop::sample::Index>(),
        any::<u8>(),
        ("[ \t]{0,3}", "[ \t]{0,3}"),
    )
        .prop_map(
            |(method, absolute, path, query, version, host, headers, idx, case, ows)| {
                // HTTP/1.1 needs a Host.
                let host = match (version, host) {
                    (Version::Http11, None) => Some("h".to_string()),
                    (_, h) => h,
                };
                let absolute = absolute && host.is_some();
                Req {
                    method,
                    absolute,
                    path,
                    query,
                    version,
                    host,
                    host_pos: idx.index(headers.len() + 1),
                    headers,
                    host_name_case: case,
                    ows,
                }
            },
        )
}

impl Req {
    fn bytes(&self) -> Vec<u8> {
        let mut target = String::new();
        if self.absolute {
            target.push_str("http://");
            target.push_str(self.host.as_deref().unwrap());
        }
        target.push_str(&self.path);
        if let Some(q) = &self.query {
            target.push('?');
            target.push_str(q);
        }
        let version = match self.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        let mut s = format!("{} {} {}\r\n", self.method, target, version);
        let host_name: String = "host"
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if self.host_name_case >> i & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        for i in 0..=self.headers.len() {
            if i == self.host_pos {
                if let Some(h) = &self.host {
                    s.push_str(&format!("{host_name}:{}{h}{}\r\n", self.ows.0, self.ows.1));
                }
            }
            if let Some((n, v)) = self.headers.get(i) {
                s.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

proptest! {
    #[test]
    fn generated_requests_parse(
        req in request(),
        after in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let head = req.bytes();
        let mut buf = head.clone();
        buf.extend_from_slice(&after);
        let h = parse_head(&buf, DEFAULT_HEAD_LIMIT).unwrap();
        prop_assert_eq!(h.head_len, head.len());
        prop_assert_eq!(h.method, req.method.as_bytes());
        prop_assert_eq!(h.path, req.path.as_bytes());
        prop_assert_eq!(h.query, req.query.as_deref().map(str::as_bytes));
        prop_assert_eq!(h.version, req.version);
        prop_assert_eq!(h.host, req.host.as_deref().map(str::as_bytes));
        let want_form = if req.absolute { TargetForm::Absolute } else { TargetForm::Origin };
        prop_assert_eq!(h.form, want_form);
        let hostname = req.host.as_deref().map(|s| s.split(':').next().unwrap().as_bytes());
        prop_assert_eq!(h.hostname(), hostname);
        // Every prefix of the head is incomplete.
        for n in [0, 1, head.len() / 2, head.len() - 1] {
            prop_assert_eq!(parse_head(&head[..n], DEFAULT_HEAD_LIMIT), Err(HttpError::Incomplete));
        }
        // A limit below the head's length makes it too large.
        prop_assert_eq!(parse_head(&buf, head.len() - 1), Err(HttpError::TooLarge));
        prop_assert!(parse_head(&buf, head.len()).is_ok());
    }

    #[test]
    fn lowercase_methods_are_refused(req in request(), at in any::<prop::sample::Index>()) {
        let mut buf = req.bytes();
        let i = at.index(req.method.len());
        if buf[i].is_ascii_uppercase() {
            buf[i] = buf[i].to_ascii_lowercase();
            prop_assert!(matches!(parse_head(&buf, DEFAULT_HEAD_LIMIT), Err(HttpError::Invalid(_))));
        }
    }

    #[test]
    fn mutated_requests_never_panic(
        req in request(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        limit in prop_oneof![Just(DEFAULT_HEAD_LIMIT), 0usize..300],
    ) {
        let mut buf = req.bytes();
        for (at, v) in edits {
            let i = at.index(buf.len());
            buf[i] = v;
        }
        check_any(&buf, limit)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        buf in prop::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b' '), Just(b':')],
            0..300,
        ),
        limit in 0usize..400,
    ) {
        check_any(&buf, limit)?;
    }

    #[test]
    fn incremental_search_agrees(
        buf in prop::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..60),
        step in 1usize..8,
    ) {
        let want = find_head_end(&buf);
        let mut searched = 0;
        let mut got = None;
        let mut n = 0;
        while n < buf.len() {
            n = (n + step).min(buf.len());
            if let Some(e) = find_head_end_from(&buf[..n], searched) {
                got = Some(e);
                break;
            }
            searched = n;
        }
        prop_assert_eq!(got, want);
    }
}

/// Whatever the result, it is consistent with the input.
fn check_any(buf: &[u8], limit: usize) -> Result<(), TestCaseError> {
    let end = find_head_end(buf);
    match parse_head(buf, limit) {
        Ok(h) => {
            prop_assert_eq!(Some(h.head_len), end);
            prop_assert!(h.head_len <= limit && h.head_len <= buf.len());
            prop_assert!(!h.method.is_empty());
            prop_assert!(!h.path.is_empty());
            prop_assert!(!buf[..h.head_len].contains(&0));
        }
        Err(HttpError::Incomplete) => {
            prop_assert!(buf.len() < limit);
            prop_assert_eq!(end, None);
        }
        Err(HttpError::TooLarge) => prop_assert!(end.map_or(true, |e| e > limit)),
        Err(HttpError::Invalid(_)) => prop_assert!(end.is_some_and(|e| e <= limit)),
    }
    Ok(())
}
