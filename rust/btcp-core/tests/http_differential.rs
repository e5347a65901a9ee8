//! Differential test of `http::parse_head` against the `httparse` crate.
//!
//! Request heads are generated from a grammar whose every part (method,
//! separators, target, version, line ends, header names, colons, values)
//! is usually valid and sometimes one of a pool of faults, and some heads
//! are then mutated byte-wise. On all of them:
//!
//! - **Whenever we accept a head, httparse parses it completely**, to the
//!   same head length, method, target, version and number of header
//!   lines, and its Host, Content-Length and Transfer-Encoding headers
//!   agree with our `host` and `body`.
//!
//! The one exception: httparse refuses a target that is not UTF-8 (its
//! `path` is a `&str`), where we pass bytes above 0x7F through as nginx
//! does; that is asserted instead.
//!
//! httparse checks syntax only, and is more lenient, so the converse does
//! not hold. Where we are stricter (each case is asserted below: httparse
//! parses the head, we refuse it with the given reason):
//!
//! - lowercase method, method over `MAX_METHOD_LEN`: `BadMethod`;
//! - empty line before the request line (§2.2 MAY skip): `EmptyRequestLine`;
//! - bare LF as a line end (§2.2 MAY accept): `BareLf`;
//! - target not in origin, absolute or asterisk form, with `#`, `*`
//!   without OPTIONS, authority form: `BadTarget`;
//! - Host missing (HTTP/1.1), twice, or not a host: `MissingHost`,
//!   `DuplicateHost`, `BadHost`;
//! - Content-Length twice (even equal), a list (even `5, 5`), not digits:
//!   `DuplicateContentLength`, `BadContentLength`;
//! - Content-Length with Transfer-Encoding:
//!   `ContentLengthWithTransferEncoding`;
//! - Transfer-Encoding not ending in chunked, chunked twice or with a
//!   parameter, empty, on two lines, in HTTP/1.0:
//!   `TransferEncodingNotChunked`, `BadTransferEncoding`,
//!   `DuplicateTransferEncoding`, `TransferEncodingInHttp10`;
//! - more than `MAX_HEADERS` header lines: `TooManyHeaders`.
//!
//! Faults both refuse (also asserted): NUL, bare CR, obs-fold, whitespace
//! before the colon, control bytes in values or the target, bad versions,
//! extra spaces in the request line.
//!
//! Case counts are bounded (about 8,000 heads in all) so that the whole
//! file runs in a few seconds in a debug build.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::cell::Cell;

use btcp_core::http::{
    parse_head, Body, HttpError, InvalidReason as R, TargetForm, Version, DEFAULT_HEAD_LIMIT,
    MAX_HEADERS, MAX_METHOD_LEN,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// What httparse made of a head.
#[derive(Debug)]
struct Theirs {
    len: usize,
    method: Vec<u8>,
    target: Vec<u8>,
    minor: u8,
    headers: Vec<(String, Vec<u8>)>,
}

/// httparse's verdict: `Ok(Some(_))` for a complete head, `Ok(None)` for a
/// partial one. Room for more headers than we accept, so that httparse's
/// own limit never decides.
fn theirs(buf: &[u8]) -> Result<Option<Theirs>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS + 28];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(len) => Ok(Some(Theirs {
            len,
            method: req.method.unwrap().as_bytes().to_vec(),
            target: req.path.unwrap().as_bytes().to_vec(),
            minor: req.version.unwrap(),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect(),
        })),
    }
}

fn show(buf: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(buf))
}

/// The differential property. Returns whether we accepted `buf`.
fn check_agree(buf: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(h) = parse_head(buf, DEFAULT_HEAD_LIMIT) else {
        return Ok(false);
    };
    if std::str::from_utf8(h.target).is_err() {
        // The one place httparse is stricter: its target is a `&str`.
        prop_assert_eq!(theirs(buf).err(), Some(httparse::Error::Token));
        return Ok(true);
    }
    let t = match theirs(buf) {
        Ok(Some(t)) => t,
        other => {
            return Err(TestCaseError::fail(format!(
                "we accept {}, httparse: {other:?}",
                show(buf)
            )))
        }
    };
    prop_assert_eq!(t.len, h.head_len, "{}", show(buf));
    prop_assert_eq!(&t.method[..], h.method);
    prop_assert_eq!(&t.target[..], h.target);
    let minor = match h.version {
        Version::Http10 => 0,
        Version::Http11 => 1,
    };
    prop_assert_eq!(t.minor, minor);
    // We accepted, so every line ends in CRLF: the request line, the
    // header lines and the blank line.
    let crlfs = buf[..h.head_len]
        .windows(2)
        .filter(|w| w == b"\r\n")
        .count();
    prop_assert_eq!(t.headers.len(), crlfs - 2, "{}", show(buf));

    let named = |n: &str| -> Vec<&[u8]> {
        t.headers
            .iter()
            .filter(|(name, _)| name == n)
            .map(|(_, v)| &v[..])
            .collect()
    };
    let host = named("host");
    prop_assert!(host.len() <= 1);
    if h.form != TargetForm::Absolute {
        prop_assert_eq!(h.host, host.first().copied());
    }
    let cl = named("content-length");
    let te = named("transfer-encoding");
    match h.body {
        Body::None => prop_assert!(cl.is_empty() && te.is_empty()),
        Body::Length(n) => {
            prop_assert!(te.is_empty() && cl.len() == 1);
            let v: u64 = std::str::from_utf8(cl[0]).unwrap().parse().unwrap();
            prop_assert_eq!(v, n);
        }
        Body::Chunked => {
            prop_assert!(cl.is_empty() && te.len() == 1);
            let v = String::from_utf8_lossy(te[0]).to_ascii_lowercase();
            prop_assert!(v.trim_end_matches([' ', '\t', ',']).ends_with("chunked"));
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------------
// The grammar.

fn pick(items: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    prop::sample::select(items)
        .prop_map(|s| s.as_bytes().to_vec())
        .boxed()
}

fn re(regex: &'static str) -> BoxedStrategy<Vec<u8>> {
    regex.prop_map(String::into_bytes).boxed()
}

/// Usually `valid`, sometimes `faulty`.
fn mostly(valid: BoxedStrategy<Vec<u8>>, faulty: BoxedStrategy<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![12 => valid, 1 => faulty].boxed()
}

fn method() -> BoxedStrategy<Vec<u8>> {
    mostly(
        prop_oneof![
            pick(&[
                "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE", "M-SEARCH"
            ]),
            re("[A-Z][A-Z0-9_.-]{0,12}"),
        ]
        .boxed(),
        prop_oneof![
            pick(&["get", "Get", "", "G(T", "G\"T", "GET\0", "G\u{e9}T", "CONNECT"]),
            Just(vec![b'A'; MAX_METHOD_LEN + 1]),
            re("[!-~]{1,8}"),
        ]
        .boxed(),
    )
}

fn sp() -> BoxedStrategy<Vec<u8>> {
    mostly(pick(&[" "]), pick(&["  ", "\t", "", " \t", "\r", "\0"]))
}

/// An origin-form target.
const ORIGIN: &str = "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){1,4}(\\?[A-Za-z0-9=&?/%._-]{0,10})?";

fn target() -> BoxedStrategy<Vec<u8>> {
    mostly(
        prop_oneof![
            4 => re(ORIGIN),
            1 => re(concat!(
                "(http|HTTP|https|hTTpS)://[a-z0-9.-]{1,10}(:[0-9]{1,4})?",
                "(/[a-z0-9]{0,5}){0,2}(\\?[a-z=]{0,5})?"
            )),
            1 => pick(&["*", "/caf\u{e9}", "/\u{7ff}?\u{80}", "/a\"b<c>{d}|e^`\\"]),
        ]
        .boxed(),
        prop_oneof![
            pick(&[
                "a/b",
                "/a#b",
                "/a\x01",
                "/\x7f",
                "h:443",
                "http://u@h/",
                "",
                "http://",
                "ftp://h/",
                "//",
                "http:///x",
                "/a\0b",
                "http://h\"/",
            ]),
            re("[ -~]{0,12}"),
        ]
        .boxed(),
    )
}

fn version() -> BoxedStrategy<Vec<u8>> {
    mostly(
        pick(&["HTTP/1.1", "HTTP/1.0"]),
        pick(&[
            "HTTP/1.2",
            "HTTP/2.0",
            "http/1.1",
            "HTTP/1.10",
            "HTTP/1",
            "",
            "HTTP/1.1 ",
            "HTTP/0.9",
            "HTTP/1.1\0",
        ]),
    )
}

fn eol() -> BoxedStrategy<Vec<u8>> {
    mostly(
        pick(&["\r\n"]),
        pick(&["\n", "\r", "\r\r\n", "\n\r", " \r\n", "\0\r\n"]),
    )
}

fn header_name() -> BoxedStrategy<Vec<u8>> {
    mostly(
        prop_oneof![
            4 => pick(&[
                "Accept",
                "User-Agent",
                "X-Forwarded-For",
                "Connection",
                "Cookie",
                "Transfer-Encodings",
            ]),
            4 => re("X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}"),
            1 => pick(&["Host", "host", "HOST"]),
            1 => pick(&[
                "Content-Length",
                "content-length",
                "Transfer-Encoding",
                "TRANSFER-ENCODING",
            ]),
        ]
        .boxed(),
        pick(&[
            "Host ",
            "Content-Length ",
            "Transfer-Encoding\t",
            " Host",
            "\tX",
            "X y",
            "",
            "X(",
            "Ho\0st",
            "X\r",
            "\u{e9}",
        ]),
    )
}

fn colon() -> BoxedStrategy<Vec<u8>> {
    mostly(
        pick(&[":", ": ", ":\t", ":  "]),
        pick(&["", " :", ";", "\t:"]),
    )
}

fn header_value() -> BoxedStrategy<Vec<u8>> {
    mostly(
        prop_oneof![
            pick(&[
                "h",
                "example.com",
                "a:80",
                "[::1]:8080",
                "0",
                "5",
                "007",
                "chunked",
                "Chunked",
                "gzip, chunked",
                "gzip;q=1, chunked",
                "",
                " ",
                "keep-alive",
                "text/html, */*;q=0.8",
                "\u{e9}\u{80}",
                "a\tb",
            ]),
            re("[ -~]{0,16}"),
        ]
        .boxed(),
        pick(&[
            "5, 5",
            "+5",
            "-1",
            "gzip",
            "chunked, gzip",
            "chunked, chunked",
            "chunked;",
            "a b",
            "a\x01b",
            "a\x7f",
            "a\0b",
            "a\rb",
            "a\nb",
            "18446744073709551616",
            "u@h",
            "\"chunked\"",
        ]),
    )
}

/// A header line: name, colon, value, line end.
fn header() -> BoxedStrategy<Vec<u8>> {
    (header_name(), colon(), header_value(), eol())
        .prop_map(|(n, c, v, e)| [n, c, v, e].concat())
        .boxed()
}

/// A request head from the grammar, then bytes after it.
fn grammar_head() -> impl Strategy<Value = Vec<u8>> {
    (
        mostly(pick(&[""]), pick(&["\r\n", "\n", " ", "\r\n\r\n"])),
        (method(), sp(), target(), sp(), version(), eol()),
        // Usually a Host line, at a random place among the others.
        prop::option::weighted(0.85, (re("[a-z0-9.-]{1,12}(:[0-9]{1,5})?"), eol())),
        prop::collection::vec(header(), 0..6),
        any::<prop::sample::Index>(),
        mostly(pick(&["\r\n"]), pick(&["\n", "\r", " \r\n"])),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(
            |(lead, (m, s1, t, s2, v, e), host, mut headers, at, end, after)| {
                if let Some((h, e)) = host {
                    let line = [b"Host: ".to_vec(), h, e].concat();
                    headers.insert(at.index(headers.len() + 1), line);
                }
                [lead, m, s1, t, s2, v, e, headers.concat(), end, after].concat()
            },
        )
}

/// Byte edits: replace, insert or delete, with bytes that matter to HTTP.
fn mutated(buf: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        prop::sample::select(&b"\0\r\n \t:,;#/?@\"\x7f\x80\xffaA5"[..]),
        any::<u8>(),
    ];
    prop::collection::vec((0u8..3, any::<prop::sample::Index>(), byte), 1..4).prop_map(
        move |edits| {
            let mut buf = buf.clone();
            for (op, at, b) in edits {
                let i = at.index(buf.len() + 1);
                match op {
                    0 if i < buf.len() => buf[i] = b,
                    1 => buf.insert(i, b),
                    _ if i < buf.len() => {
                        buf.remove(i);
                    }
                    _ => buf.push(b),
                }
            }
            buf
        },
    )
}

fn any_head() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => grammar_head().boxed(),
        1 => grammar_head().prop_flat_map(mutated).boxed(),
    ]
}

/// Runs `check_agree` on `cases` heads from `strategy`; returns how many
/// we accepted.
fn run_differential(strategy: impl Strategy<Value = Vec<u8>>, cases: u32) -> u32 {
    let accepted = Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |buf| {
        if check_agree(&buf)? {
            accepted.set(accepted.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    accepted.get()
}

/// Grammar heads with faults and mutations: agreement whenever we accept,
/// and the mix is neither all accepted nor all refused.
#[test]
fn accepted_heads_agree_with_httparse() {
    let cases = 4000;
    let accepted = run_differential(any_head(), cases);
    eprintln!("differential: we accepted {accepted} of {cases} generated heads");
    // Most parts are valid, so many heads are; faults make many not.
    assert!(
        accepted > cases / 10 && accepted < cases * 9 / 10,
        "accepted {accepted} of {cases}"
    );
}

// ---------------------------------------------------------------------
// Valid heads, and the faults where we are stricter than httparse.

/// A valid request, rendered with CRLF line ends.
#[derive(Debug, Clone)]
struct Req {
    lead: String,
    method: String,
    target: String,
    version: &'static str,
    /// Header lines without their line end; Host is first.
    headers: Vec<String>,
    /// Line end after the request line and after each header.
    eols: Vec<&'static str>,
}

impl Req {
    fn bytes(&self) -> Vec<u8> {
        let mut s = format!(
            "{}{} {} {}",
            self.lead, self.method, self.target, self.version
        );
        s.push_str(self.eols[0]);
        for (i, h) in self.headers.iter().enumerate() {
            s.push_str(h);
            s.push_str(self.eols[i + 1]);
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

fn valid_req() -> impl Strategy<Value = Req> {
    (
        prop_oneof![
            prop::sample::select(&["GET", "POST", "HEAD", "PUT", "OPTIONS", "PURGE"][..])
                .prop_map(str::to_string),
            "[A-Z][A-Z0-9-]{0,10}",
        ],
        prop_oneof![
            4 => ORIGIN,
            1 => "http://[a-z0-9.-]{1,10}(:[0-9]{1,4})?(/[a-z0-9]{0,5}){0,2}",
        ],
        prop::sample::select(&["HTTP/1.1", "HTTP/1.0"][..]),
        "[a-z0-9.-]{1,12}(:[0-9]{1,5})?",
        prop::collection::vec(("X-[A-Za-z0-9-]{1,8}", "[!-~]([ -~]{0,14}[!-~])?"), 0..5),
        prop::sample::select(
            &[
                None,
                Some("Content-Length: 12"),
                Some("Transfer-Encoding: chunked"),
            ][..],
        ),
    )
        .prop_map(|(method, target, version, host, others, framing)| {
            let mut headers = vec![format!("Host: {host}")];
            headers.extend(others.into_iter().map(|(n, v)| format!("{n}: {v}")));
            // Chunked framing needs HTTP/1.1.
            if let Some(f) = framing.filter(|f| version == "HTTP/1.1" || f.starts_with("Content")) {
                headers.push(f.to_string());
            }
            // A last header, so that a fault in a line end is never the
            // blank line's.
            headers.push("X-Last: 1".to_string());
            Req {
                lead: String::new(),
                method,
                target,
                version,
                eols: vec!["\r\n"; headers.len() + 1],
                headers,
            }
        })
}

/// Valid heads: both parse them, and agree.
#[test]
fn valid_heads_are_accepted_by_both() {
    let cases = 1000;
    let accepted = run_differential(valid_req().prop_map(|r| r.bytes()), cases);
    assert_eq!(accepted, cases);
}

/// Where we are stricter than httparse.
#[derive(Debug, Clone, Copy)]
enum Strict {
    LowercaseMethod,
    LongMethod,
    LeadingEmptyLine,
    BareLfAfterRequestLine,
    BareLfAfterHeader,
    FragmentInTarget,
    RelativeTarget,
    AsteriskNotOptions,
    AuthorityForm,
    MissingHost,
    DuplicateHost,
    BadHost,
    DuplicateContentLength,
    ContentLengthList,
    ContentLengthNotDigits,
    ContentLengthWithTransferEncoding,
    TransferEncodingNotChunked,
    ChunkedTwice,
    DuplicateTransferEncoding,
    TransferEncodingInHttp10,
    TooManyHeaders,
}

const STRICT: &[Strict] = &[
    Strict::LowercaseMethod,
    Strict::LongMethod,
    Strict::LeadingEmptyLine,
    Strict::BareLfAfterRequestLine,
    Strict::BareLfAfterHeader,
    Strict::FragmentInTarget,
    Strict::RelativeTarget,
    Strict::AsteriskNotOptions,
    Strict::AuthorityForm,
    Strict::MissingHost,
    Strict::DuplicateHost,
    Strict::BadHost,
    Strict::DuplicateContentLength,
    Strict::ContentLengthList,
    Strict::ContentLengthNotDigits,
    Strict::ContentLengthWithTransferEncoding,
    Strict::TransferEncodingNotChunked,
    Strict::ChunkedTwice,
    Strict::DuplicateTransferEncoding,
    Strict::TransferEncodingInHttp10,
    Strict::TooManyHeaders,
];

/// Drops the framing headers of `r`.
fn unframed(r: &mut Req) {
    r.headers
        .retain(|h| !h.starts_with("Content-Length") && !h.starts_with("Transfer-Encoding"));
    r.eols.truncate(r.headers.len() + 1);
}

/// Adds a header line before the last one.
fn add(r: &mut Req, line: &str) {
    let at = r.headers.len() - 1;
    r.headers.insert(at, line.to_string());
    r.eols.push("\r\n");
}

/// Applies `fault` to a valid `r`; returns the reason we give.
fn inject(r: &mut Req, fault: Strict, pick: usize) -> R {
    let choose = |xs: &[&'static str]| xs[pick % xs.len()];
    match fault {
        Strict::LowercaseMethod => {
            r.method = r.method.to_ascii_lowercase();
            R::BadMethod
        }
        Strict::LongMethod => {
            r.method.push_str(&"A".repeat(MAX_METHOD_LEN));
            R::BadMethod
        }
        Strict::LeadingEmptyLine => {
            r.lead = choose(&["\r\n", "\r\n\r\n"]).to_string();
            R::EmptyRequestLine
        }
        Strict::BareLfAfterRequestLine => {
            r.eols[0] = "\n";
            R::BareLf
        }
        Strict::BareLfAfterHeader => {
            r.eols[1 + pick % (r.headers.len() - 1)] = "\n";
            R::BareLf
        }
        Strict::FragmentInTarget => {
            r.target.push_str(choose(&["#", "#frag", "#a?b"]));
            R::BadTarget
        }
        Strict::RelativeTarget => {
            r.target = choose(&["a/b", "index.html", "../x", "%2F", "http:/x"]).to_string();
            R::BadTarget
        }
        Strict::AsteriskNotOptions => {
            r.method = "GET".to_string();
            r.target = "*".to_string();
            R::BadTarget
        }
        Strict::AuthorityForm => {
            r.method = choose(&["CONNECT", "GET"]).to_string();
            r.target = choose(&["h:443", "example.com:80", "[::1]:8080"]).to_string();
            R::BadTarget
        }
        Strict::MissingHost => {
            r.version = "HTTP/1.1";
            r.headers.remove(0);
            r.eols.pop();
            R::MissingHost
        }
        Strict::DuplicateHost => {
            add(r, choose(&["Host: h", "host: other", "HOST:"]));
            R::DuplicateHost
        }
        Strict::BadHost => {
            r.headers[0] = format!(
                "Host: {}",
                choose(&["a b", "a/b", "u@h", "h\"", "a?b", "a#b", "<h>"])
            );
            R::BadHost
        }
        Strict::DuplicateContentLength => {
            unframed(r);
            add(r, "Content-Length: 5");
            add(
                r,
                choose(&[
                    "Content-Length: 5",
                    "content-length: 6",
                    "CONTENT-LENGTH: 05",
                ]),
            );
            R::DuplicateContentLength
        }
        Strict::ContentLengthList => {
            unframed(r);
            add(
                r,
                choose(&[
                    "Content-Length: 5, 5",
                    "Content-Length: 5,5",
                    "Content-Length: 5, 6",
                ]),
            );
            R::BadContentLength
        }
        Strict::ContentLengthNotDigits => {
            unframed(r);
            add(
                r,
                choose(&[
                    "Content-Length: +5",
                    "Content-Length: -1",
                    "Content-Length: 0x10",
                    "Content-Length: 5 5",
                    "Content-Length: 1e3",
                    "Content-Length:",
                    "Content-Length: 18446744073709551616",
                ]),
            );
            R::BadContentLength
        }
        Strict::ContentLengthWithTransferEncoding => {
            unframed(r);
            add(r, "Content-Length: 5");
            add(
                r,
                choose(&["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"]),
            );
            R::ContentLengthWithTransferEncoding
        }
        Strict::TransferEncodingNotChunked => {
            unframed(r);
            r.version = "HTTP/1.1";
            add(
                r,
                choose(&[
                    "Transfer-Encoding: gzip",
                    "Transfer-Encoding: identity",
                    "Transfer-Encoding: chunked, gzip",
                    "Transfer-Encoding: chunked-x",
                ]),
            );
            R::TransferEncodingNotChunked
        }
        Strict::ChunkedTwice => {
            unframed(r);
            r.version = "HTTP/1.1";
            add(
                r,
                choose(&[
                    "Transfer-Encoding: chunked, chunked",
                    "Transfer-Encoding: chunked;",
                    "Transfer-Encoding: ,",
                    "Transfer-Encoding:",
                ]),
            );
            R::BadTransferEncoding
        }
        Strict::DuplicateTransferEncoding => {
            unframed(r);
            r.version = "HTTP/1.1";
            add(r, "Transfer-Encoding: gzip");
            add(r, "Transfer-Encoding: chunked");
            R::DuplicateTransferEncoding
        }
        Strict::TransferEncodingInHttp10 => {
            unframed(r);
            r.version = "HTTP/1.0";
            add(r, "Transfer-Encoding: chunked");
            R::TransferEncodingInHttp10
        }
        Strict::TooManyHeaders => {
            while r.headers.len() <= MAX_HEADERS {
                add(r, "X-Many: 1");
            }
            R::TooManyHeaders
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Each fault where we are stricter, injected into a valid head:
    /// httparse parses it completely, we refuse it for that reason.
    #[test]
    fn stricter_than_httparse(
        mut req in valid_req(),
        fault in prop::sample::select(STRICT),
        pick in any::<usize>(),
    ) {
        let why = inject(&mut req, fault, pick);
        let buf = req.bytes();
        let t = theirs(&buf);
        prop_assert!(
            matches!(t, Ok(Some(ref t)) if t.len == buf.len()),
            "httparse on {}: {:?}", show(&buf), t
        );
        prop_assert_eq!(
            parse_head(&buf, DEFAULT_HEAD_LIMIT),
            Err(HttpError::Invalid(why)),
            "{}", show(&buf)
        );
    }
}

/// Faults that both refuse.
#[test]
fn both_refuse() {
    let cases: &[(&[u8], R)] = &[
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", R::Nul),
        (b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", R::Nul),
        (b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", R::BareCr),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", R::BareCr),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            R::ObsFold,
        ),
        (b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", R::ObsFold),
        (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", R::BadHeaderName),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\n",
            R::BadHeaderName,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
            R::ControlInHeader,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n",
            R::ControlInHeader,
        ),
        (
            b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n",
            R::ControlInTarget,
        ),
        (b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", R::ControlInTarget),
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", R::UnsupportedVersion),
        (b"GET / http/1.1\r\nHost: h\r\n\r\n", R::BadVersion),
        (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadRequestLine),
        (b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", R::BadRequestLine),
        (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod),
        (b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", R::BadHeaderName),
        (b"GET / HTTP/1.1\r\nHost h\r\n\r\n", R::MissingColon),
    ];
    for (buf, why) in cases {
        assert_eq!(
            parse_head(buf, DEFAULT_HEAD_LIMIT),
            Err(HttpError::Invalid(*why)),
            "{}",
            show(buf)
        );
        assert!(theirs(buf).is_err(), "httparse accepts {}", show(buf));
    }
}

/// Targets with bytes above 0x7F: ours passes them through, httparse
/// wants UTF-8.
#[test]
fn non_utf8_targets() {
    let utf8 = "GET /caf\u{e9}?q=\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n".as_bytes();
    assert!(check_agree(utf8).unwrap());
    let latin1 = b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(
        parse_head(latin1, DEFAULT_HEAD_LIMIT).unwrap().path,
        b"/caf\xe9"
    );
    assert_eq!(theirs(latin1).err(), Some(httparse::Error::Token));
}

/// Each stricter case once, as a readable table (the property above
/// draws them at random).
#[test]
fn stricter_table() {
    let base = Req {
        lead: String::new(),
        method: "POST".to_string(),
        target: "/a?b".to_string(),
        version: "HTTP/1.1",
        headers: vec![
            "Host: h".to_string(),
            "X-A: b".to_string(),
            "X-Last: 1".to_string(),
        ],
        eols: vec!["\r\n"; 4],
    };
    for &fault in STRICT {
        for pick in 0..8 {
            let mut r = base.clone();
            let why = inject(&mut r, fault, pick);
            let buf = r.bytes();
            assert!(
                matches!(theirs(&buf), Ok(Some(_))),
                "{fault:?}: httparse on {}",
                show(&buf)
            );
            assert_eq!(
                parse_head(&buf, DEFAULT_HEAD_LIMIT),
                Err(HttpError::Invalid(why)),
                "{fault:?}: {}",
                show(&buf)
            );
        }
    }
}
