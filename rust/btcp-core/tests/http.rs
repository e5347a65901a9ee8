//! Property tests of the request-head scanner: generated requests parse to
//! what was generated, whatever follows the head; any bytes and any
//! mutation of a request are handled without panicking; incremental head
//! search agrees with a full search. Then one table per RFC 9112 rule
//! (framing, bare CR/LF, obs-fold, NUL, header names, sizes) of heads
//! accepted and refused.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::http::{
    find_head_end, find_head_end_from, malformed_from, parse_head, HttpError, TargetForm, Version,
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

/// `buf` fed in the chunks `cuts` makes, each call looking at what is new
/// (as the front-end does): malformed at some point.
fn malformed_in_steps(buf: &[u8], cuts: &[usize]) -> bool {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
    ends.push(buf.len());
    ends.sort_unstable();
    let mut searched = 0;
    let mut bad = false;
    for end in ends {
        bad |= malformed_from(&buf[..end], searched);
        searched = end;
    }
    bad
}

proptest! {
    /// A well-formed head is never taken for a malformed one, at any point
    /// of its arrival.
    #[test]
    fn well_formed_heads_are_never_malformed(
        req in request(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let head = req.bytes();
        let before_end = &head[..head.len() - 1];
        prop_assert!(!malformed_in_steps(before_end, &cuts));
    }

    /// What is called malformed never parses, whatever follows; and
    /// looking at it in steps finds what looking at it whole finds.
    #[test]
    fn malformed_starts_never_parse(
        req in request(),
        at in any::<prop::sample::Index>(),
        junk in prop::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8), Just(b' '), Just(b'g'), any::<u8>()],
            1..4,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        tail in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let head = req.bytes();
        let i = at.index(head.len());
        let mut buf = head[..i].to_vec();
        buf.extend_from_slice(&junk);
        if find_head_end(&buf).is_some() {
            return Ok(());
        }
        let whole = malformed_from(&buf, 0);
        prop_assert_eq!(malformed_in_steps(&buf, &cuts), whole);
        if whole {
            for rest in [&tail[..], b"\r\n\r\n", b"\n\r\n\r\n"] {
                let mut full = buf.clone();
                full.extend_from_slice(rest);
                full.extend_from_slice(b"\r\n\r\n");
                prop_assert!(parse_head(&full, DEFAULT_HEAD_LIMIT).is_err(), "{:?}", String::from_utf8_lossy(&full));
            }
        }
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
            check_slices(buf, &h)?;
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

// ---------------------------------------------------------------------
// RFC 9112 rule tables: for each rule, heads that parse (with what they
// parse to) and heads that are refused (with the reason).

use btcp_core::http::{Body, InvalidReason as R, MAX_HEADERS, MAX_METHOD_LEN};

/// A GET head for `host: h` with `headers` (each `name: value`, or a raw
/// line) between the request line and the blank line.
fn get(headers: &[&str]) -> Vec<u8> {
    with_line("GET / HTTP/1.1", headers)
}

fn with_line(request_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut s = format!("{request_line}\r\nHost: h\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

#[track_caller]
fn accept(buf: &[u8]) -> btcp_core::http::RequestHead<'_> {
    match parse_head(buf, DEFAULT_HEAD_LIMIT) {
        Ok(h) => {
            assert_eq!(h.head_len, buf.len(), "{:?}", String::from_utf8_lossy(buf));
            h
        }
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(buf)),
    }
}

/// The framing of `buf`, which must parse; checks `content_length()`.
#[track_caller]
fn body_of(buf: &[u8]) -> Body {
    let h = accept(buf);
    let want = match h.body {
        Body::Length(n) => Some(n),
        Body::None | Body::Chunked => None,
    };
    assert_eq!(h.content_length(), want);
    h.body
}

#[track_caller]
fn reject(buf: &[u8], why: R) {
    assert_eq!(
        parse_head(buf, DEFAULT_HEAD_LIMIT),
        Err(HttpError::Invalid(why)),
        "{:?}",
        String::from_utf8_lossy(buf)
    );
}

#[test]
fn rule_content_length() {
    let ok: &[(&str, u64)] = &[
        ("Content-Length: 0", 0),
        ("Content-Length: 5", 5),
        ("content-length:5", 5),
        ("CONTENT-LENGTH: \t 5 \t", 5),
        ("Content-Length: 007", 7),
        ("Content-Length: 18446744073709551615", u64::MAX),
    ];
    for (line, n) in ok {
        assert_eq!(body_of(&get(&[line])), Body::Length(*n));
    }
    let bad: &[(&[&str], R)] = &[
        // Duplicate lines: refused even when they agree (RFC 9110 §8.6 MAY
        // accept; we don't).
        (
            &["Content-Length: 5", "Content-Length: 5"],
            R::DuplicateContentLength,
        ),
        (
            &["Content-Length: 5", "content-length: 6"],
            R::DuplicateContentLength,
        ),
        (
            &["Content-Length: 0", "X: y", "Content-Length: 0"],
            R::DuplicateContentLength,
        ),
        // Lists: also refused, identical or not.
        (&["Content-Length: 5, 5"], R::BadContentLength),
        (&["Content-Length: 5,5"], R::BadContentLength),
        (&["Content-Length: 5, 6"], R::BadContentLength),
        (&["Content-Length: ,5"], R::BadContentLength),
        // Not 1*DIGIT below 2^64.
        (&["Content-Length:"], R::BadContentLength),
        (&["Content-Length:  "], R::BadContentLength),
        (&["Content-Length: +5"], R::BadContentLength),
        (&["Content-Length: -1"], R::BadContentLength),
        (&["Content-Length: 0x5"], R::BadContentLength),
        (&["Content-Length: 5 5"], R::BadContentLength),
        (&["Content-Length: 5;"], R::BadContentLength),
        (&["Content-Length: 5.0"], R::BadContentLength),
        (&["Content-Length: \u{661}"], R::BadContentLength),
        (
            &["Content-Length: 18446744073709551616"],
            R::BadContentLength,
        ),
        (
            &["Content-Length: 99999999999999999999999"],
            R::BadContentLength,
        ),
    ];
    for (lines, why) in bad {
        reject(&get(lines), *why);
    }
}

#[test]
fn rule_content_length_with_transfer_encoding() {
    for lines in [
        &["Content-Length: 5", "Transfer-Encoding: chunked"][..],
        &["Transfer-Encoding: chunked", "Content-Length: 5"],
        &["Content-Length: 0", "Transfer-Encoding: chunked"],
        &["Transfer-Encoding: gzip", "Content-Length: 5"],
        &["transfer-encoding: chunked", "X: y", "content-length: 5"],
    ] {
        reject(&get(lines), R::ContentLengthWithTransferEncoding);
    }
    // In HTTP/1.0 too: both faults, the conflict is reported.
    reject(
        &with_line(
            "POST / HTTP/1.0",
            &["Content-Length: 5", "Transfer-Encoding: chunked"],
        ),
        R::ContentLengthWithTransferEncoding,
    );
}

#[test]
fn rule_transfer_encoding() {
    for value in [
        "chunked",
        "Chunked",
        "CHUNKED",
        " chunked ",
        "gzip, chunked",
        "gzip,chunked",
        "x-custom , deflate ,\tchunked",
        "gzip;q=1, chunked",
        "gzip; a=b ;c=d, chunked",
        "gzip;, chunked",
        ", chunked",
        "chunked ,",
        "gzip,, ,chunked",
    ] {
        let buf = get(&[&format!("Transfer-Encoding: {value}")]);
        assert_eq!(body_of(&buf), Body::Chunked, "{value:?}");
    }
    let bad: &[(&str, R)] = &[
        // §6.3: chunked must be the final coding of a request.
        ("gzip", R::TransferEncodingNotChunked),
        ("identity", R::TransferEncodingNotChunked),
        ("chunked, gzip", R::TransferEncodingNotChunked),
        ("chunkedx", R::TransferEncodingNotChunked),
        ("xchunked", R::TransferEncodingNotChunked),
        // Empty, chunked twice or with parameters, not a coding list.
        ("", R::BadTransferEncoding),
        (",", R::BadTransferEncoding),
        (" , ,", R::BadTransferEncoding),
        ("chunked, chunked", R::BadTransferEncoding),
        ("chunked, gzip, chunked", R::BadTransferEncoding),
        ("chunked;", R::BadTransferEncoding),
        ("chunked;a=b", R::BadTransferEncoding),
        ("gzip chunked", R::BadTransferEncoding),
        ("\"chunked\"", R::BadTransferEncoding),
        ("gzip;q=\"1\", chunked", R::BadTransferEncoding),
        ("gzip;q, chunked", R::BadTransferEncoding),
        ("gzip;=1, chunked", R::BadTransferEncoding),
        ("gzip;q=, chunked", R::BadTransferEncoding),
        ("gzip;q=1=2, chunked", R::BadTransferEncoding),
        ("\u{e9}, chunked", R::BadTransferEncoding),
    ];
    for (value, why) in bad {
        reject(&get(&[&format!("Transfer-Encoding: {value}")]), *why);
    }
    // One line only: a second one is refused even where joining the two
    // would give a valid list.
    for lines in [
        &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"][..],
        &["Transfer-Encoding: gzip", "transfer-encoding: chunked"],
        &[
            "Transfer-Encoding: chunked",
            "X: y",
            "TRANSFER-ENCODING: gzip",
        ],
    ] {
        reject(&get(lines), R::DuplicateTransferEncoding);
    }
    // HTTP/1.0 has no transfer codings (§6.1).
    reject(
        &with_line("POST / HTTP/1.0", &["Transfer-Encoding: chunked"]),
        R::TransferEncodingInHttp10,
    );
    // Lookalike names are other headers.
    let buf = get(&["Transfer-Encodings: gzip", "X-Transfer-Encoding: gzip"]);
    assert_eq!(body_of(&buf), Body::None);
}

#[test]
fn rule_no_body_without_framing() {
    for req in [
        &b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST / HTTP/1.0\r\n\r\n",
    ] {
        assert_eq!(body_of(req), Body::None);
    }
    assert_eq!(
        body_of(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n"),
        Body::Length(3)
    );
}

#[test]
fn rule_bare_cr_and_lf() {
    let cr: &[&[u8]] = &[
        b"GET / HTTP/1.1\rHost: h\r\n\r\n",
        b"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET\r/ HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX\r: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n\r\n",
        b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\rTransfer-Encoding: chunked\r\n\r\n",
    ];
    for req in cr {
        reject(req, R::BareCr);
    }
    let lf: &[&[u8]] = &[
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\n\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    for req in lf {
        reject(req, R::BareLf);
    }
    // A head with bare LF line ends only never completes.
    assert_eq!(
        parse_head(b"GET / HTTP/1.1\nHost: h\n\n", DEFAULT_HEAD_LIMIT),
        Err(HttpError::Incomplete)
    );
    // CR and LF after the head are not the head's business.
    accept_prefix(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", b"\r\r\n\nx\r");
}

/// `head` followed by `rest` parses to a head of `head.len()`.
#[track_caller]
fn accept_prefix(head: &[u8], rest: &[u8]) {
    let buf = [head, rest].concat();
    assert_eq!(
        parse_head(&buf, DEFAULT_HEAD_LIMIT).unwrap().head_len,
        head.len()
    );
}

#[test]
fn rule_obs_fold() {
    for lines in [
        &["X: a", " b"][..],
        &["X: a", "\tb"],
        &["X: a", "  "],
        &["X: a", " Host: h2"],
        &["Content-Length: 5", " 5"],
        &["Transfer-Encoding: gzip,", " chunked"],
    ] {
        reject(&get(lines), R::ObsFold);
    }
    // Whitespace-led line right after the request line (§2.2).
    reject(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", R::ObsFold);
    reject(b"GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", R::ObsFold);
    // Whitespace inside and around a value is fine, and trimmed.
    let buf = get(&["X: \t a \t b \t"]);
    accept(&buf);
}

#[test]
fn rule_nul() {
    let nul: &[&[u8]] = &[
        b"\0GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"G\0T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\0\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\n\0Host: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: \0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\0\r\n\r\n",
        // Even where another fault comes first in the line.
        b"get / HTTP/1.1\r\nHost: h\r\nX: \0\r\n\r\n",
    ];
    for req in nul {
        reject(req, R::Nul);
    }
    // NUL in the body is fine.
    accept_prefix(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
        b"\0\0\0",
    );
}

#[test]
fn rule_header_names() {
    for lines in [
        &["X : y"][..],
        &["X\t: y"],
        &["Content-Length : 5"],
        &["Content-Length\t: 5"],
        &["Transfer-Encoding : chunked"],
        &[": y"],
        &["X(: y"],
        &["X\"y: z"],
        &["X/y: z"],
        &["X y: z"],
        &["\u{e9}: z"],
    ] {
        reject(&get(lines), R::BadHeaderName);
    }
    reject(&get(&["X"]), R::MissingColon);
    reject(&get(&["X y"]), R::MissingColon);
    for line in ["X:y", "X:", "X-Y_z.~!#$%&'*+^`|: y", "X: a:b"] {
        accept(&get(&[line]));
    }
    // A header of exactly one token named Content-Length with a colon in
    // its value is a bad Content-Length, not another header.
    reject(&get(&["Content-Length: 5:5"]), R::BadContentLength);
}

#[test]
fn rule_control_bytes_in_values() {
    for b in (0x01u8..0x20).chain([0x7f]) {
        if b == b'\t' || b == b'\r' || b == b'\n' {
            continue;
        }
        let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\nX: a".to_vec();
        buf.push(b);
        buf.extend_from_slice(b"b\r\n\r\n");
        reject(&buf, R::ControlInHeader);
    }
    // obs-text is allowed in values.
    accept(b"GET / HTTP/1.1\r\nHost: h\r\nX: \x80\xff\r\n\r\n");
}

#[test]
fn rule_sizes() {
    // Head limit: a head of exactly the limit parses, one byte less doesn't.
    let req = get(&["X: y"]);
    assert!(parse_head(&req, req.len()).is_ok());
    assert_eq!(parse_head(&req, req.len() - 1), Err(HttpError::TooLarge));
    assert_eq!(
        parse_head(&req[..req.len() - 1], req.len()),
        Err(HttpError::Incomplete)
    );
    // A head with no end within the default limit.
    let mut big = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    big.resize(DEFAULT_HEAD_LIMIT, b'a');
    assert_eq!(
        parse_head(&big, DEFAULT_HEAD_LIMIT),
        Err(HttpError::TooLarge)
    );

    // Method length.
    let m = "A".repeat(MAX_METHOD_LEN);
    accept(&with_line(&format!("{m} / HTTP/1.1"), &[]));
    reject(&with_line(&format!("{m}A / HTTP/1.1"), &[]), R::BadMethod);

    // Header count: Host plus MAX_HEADERS - 1 others is the most.
    let others: Vec<String> = (1..MAX_HEADERS).map(|i| format!("X-{i}: v")).collect();
    let refs: Vec<&str> = others.iter().map(String::as_str).collect();
    accept(&get(&refs));
    let mut more = refs.clone();
    more.push("X-last: v");
    reject(&get(&more), R::TooManyHeaders);
    // Empty-valued headers count too.
    let empties = vec!["X:"; MAX_HEADERS];
    reject(&get(&empties), R::TooManyHeaders);
}

#[test]
fn slices_lie_within_the_buffer() {
    for req in [
        &b"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"GET http://h?x HTTP/1.0\r\n\r\n",
        b"GET HTTPS://h:8/ HTTP/1.0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a?b HTTP/1.1\r\nHost: \r\n\r\n",
    ] {
        let h = accept(req);
        assert!(h.path.starts_with(b"/") || h.path == b"*");
        check_slices(req, &h).unwrap();
    }
}

/// Every slice of `h` lies within `buf`.
fn check_slices(buf: &[u8], h: &btcp_core::http::RequestHead<'_>) -> Result<(), TestCaseError> {
    let range = buf.as_ptr_range();
    let within = |s: &[u8]| {
        let r = s.as_ptr_range();
        range.start <= r.start && r.end <= range.end
    };
    for s in [h.method, h.target, h.path]
        .into_iter()
        .chain(h.query)
        .chain(h.host)
        .chain(h.hostname())
    {
        prop_assert!(within(s), "{:?} not in {:?}", s, buf);
    }
    Ok(())
}
