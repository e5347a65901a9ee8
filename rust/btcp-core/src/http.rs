//! A strict parser for the head of an HTTP/1.x request (RFC 9112), enough
//! to dispatch on (Documentation/handoff.md, step 3) and to know how the body that may
//! follow the head is framed.
//!
//! Where RFC 9112 lets a recipient choose between leniency and refusal, we
//! refuse: a scanner that reads a request differently from the back-end's
//! server is a request-smuggling vector, and a refused request only loses
//! its content routing (see below).
//!
//! What it accepts:
//! - The head ends at the first CRLF CRLF ([`find_head_end`]) within the
//!   caller's limit ([`DEFAULT_HEAD_LIMIT`] for the front-end). A bare
//!   `\n\n` does not end it, and a bare CR or bare LF anywhere in it is an
//!   error (§2.2 allows accepting a bare LF as a line end; we do not).
//!   No empty lines may precede the request line (§2.2 allows skipping them).
//!   A NUL byte anywhere in the head is an error.
//! - Request line `method SP target SP version`, single spaces (§3; no
//!   lenient whitespace).
//!   The method is a token (RFC 9110 §5.6.2) of at most
//!   [`MAX_METHOD_LEN`] bytes with no lowercase letters: RFC 9110 allows
//!   any token and methods are case-sensitive, but every registered method
//!   is uppercase, and `get` is a typo or a probe. Unknown methods
//!   (`PURGE`, `M-SEARCH`) are accepted.
//! - Targets in origin-form (`/path?query`), absolute-form
//!   (`http://host[:port]/path?query`, scheme `http` or `https` in any
//!   case, no userinfo), and asterisk-form (`*`, for `OPTIONS` only).
//!   Authority-form (`CONNECT`) is refused: we are not a proxy. Control
//!   bytes, spaces and `#` are refused in targets; bytes above 0x7F are
//!   allowed (as nginx does). No percent-decoding or dot-segment removal:
//!   [`RequestHead::path`] is the raw bytes before `?`.
//! - Version `HTTP/1.0` or `HTTP/1.1`, exactly (case-sensitive, §2.3).
//! - At most [`MAX_HEADERS`] header lines `name: value` with a token name,
//!   no whitespace between name and colon (§5.1: MUST reject), no
//!   obsolete line folding and no whitespace-led line right after the
//!   request line (§5.2, §2.2: we take the reject option), no control bytes
//!   except HTAB in values. Optional whitespace around the value is
//!   trimmed.
//! - `Host`: name matched case-insensitively; at most one; required in
//!   HTTP/1.1; value checked against RFC 3986 host and port characters
//!   (§3.2: all three MUST be answered 400).
//!   For an absolute-form target the target's authority is the host
//!   (§3.2.2), and a `Host` header is still validated.
//!
//! Message framing (§6), the result in [`RequestHead::body`]:
//! - `Content-Length` must be one header line whose value is 1*DIGIT below
//!   2^64. More than one line is refused even if the values agree, and so
//!   is a list: RFC 9110 §8.6 says a recipient MAY accept `5, 5` (or two
//!   lines of `5`) as `5`, but some servers refuse it and some take the
//!   first element, so accepting it buys nothing and risks disagreement.
//! - `Transfer-Encoding` must be one header line (a second line would be
//!   joined to the first as a list, RFC 9110 §5.3, which servers do
//!   differently; nginx refuses it) whose value is a list of transfer
//!   codings (tokens, case-insensitive, with optional `;name=token`
//!   parameters; quoted-string parameter values are refused; empty list
//!   elements are ignored as RFC 9110 §5.6.1 requires). The final coding
//!   must be `chunked` (§6.3: otherwise a request's length cannot be
//!   determined and the server MUST answer 400), `chunked` may appear only
//!   once (§7.1) and takes no parameters (not even an empty `chunked;`).
//!   Other codings before it (`gzip, chunked`) are the back-end's business
//!   (it may answer 501).
//! - `Content-Length` together with `Transfer-Encoding` is refused (§6.1
//!   allows a server to drop the Content-Length instead; a front-end and a
//!   back-end that disagreed on that would disagree on the body), and so is
//!   `Transfer-Encoding` in HTTP/1.0 (§6.1: the framing is faulty).
//! - With neither, a request has no body (§6.3 item 7).
//!
//! A request that fails goes to the service's default back-end, whose
//! real server answers it (400, 431, ...): the errors only have to say
//! why, for counters. Nothing here panics on any input, and every slice in
//! a [`RequestHead`] lies within the buffer passed in.
//!
//! The tests: tables of accepted and refused heads per rule
//! (`tests/http.rs`), a differential test against the `httparse` crate on
//! generated heads (`tests/http_differential.rs`), and a cargo-fuzz target
//! (`fuzz/`, run by `scripts/fuzz.sh`).
//!
//! ```
//! use btcp_core::http::{parse_head, Body, Version, DEFAULT_HEAD_LIMIT};
//!
//! let buf = b"GET /img/a.jpg?w=100 HTTP/1.1\r\nHost: Example.com:8080\r\n\r\nGET /next";
//! let head = parse_head(buf, DEFAULT_HEAD_LIMIT).unwrap();
//! assert_eq!(head.method, b"GET");
//! assert_eq!(head.path, b"/img/a.jpg");
//! assert_eq!(head.query, Some(&b"w=100"[..]));
//! assert_eq!(head.version, Version::Http11);
//! assert_eq!(head.host, Some(&b"Example.com:8080"[..]));
//! assert_eq!(head.hostname(), Some(&b"Example.com"[..]));
//! // No Content-Length or Transfer-Encoding: no body.
//! assert_eq!(head.body, Body::None);
//! // The pipelined request after the head is not looked at.
//! assert_eq!(&buf[head.head_len..], b"GET /next");
//! ```

use ::core::fmt;

/// Default limit on the head's length: the front-end's request buffer.
pub const DEFAULT_HEAD_LIMIT: usize = 16 * 1024;
/// Longest method accepted.
pub const MAX_METHOD_LEN: usize = 32;
/// Most header lines accepted (Apache's default `LimitRequestFields`).
pub const MAX_HEADERS: usize = 100;

/// The blank line that ends a head.
const HEAD_END: &[u8; 4] = b"\r\n\r\n";

/// Why a request head was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpError {
    /// No CRLF CRLF yet, within the limit: wait for more bytes.
    Incomplete,
    /// The head does not end within the limit.
    TooLarge,
    /// The head is malformed.
    Invalid(InvalidReason),
}

impl HttpError {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpError::Incomplete => "incomplete head",
            HttpError::TooLarge => "head too large",
            HttpError::Invalid(r) => r.as_str(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Invalid(r) => write!(f, "invalid request: {}", r.as_str()),
            e => f.write_str(e.as_str()),
        }
    }
}

/// What is wrong with a malformed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// A NUL byte somewhere in the head.
    Nul,
    /// A CR not followed by LF.
    BareCr,
    /// An LF not preceded by CR.
    BareLf,
    /// The head starts with an empty line.
    EmptyRequestLine,
    /// The request line is not `method SP target SP version`.
    BadRequestLine,
    /// The method is empty, too long, not a token or has lowercase letters.
    BadMethod,
    /// The target is not in origin, absolute or (for OPTIONS) asterisk form.
    BadTarget,
    /// The target has a control byte.
    ControlInTarget,
    /// The request line has no version (an HTTP/0.9 request).
    MissingVersion,
    /// The version is not `HTTP/` digit `.` digit.
    BadVersion,
    /// An HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// A header line starts with whitespace (obsolete line folding).
    ObsFold,
    /// A header line has no colon.
    MissingColon,
    /// A header name is empty, not a token, or followed by whitespace.
    BadHeaderName,
    /// A header value has a control byte other than HTAB.
    ControlInHeader,
    /// More than one Host header.
    DuplicateHost,
    /// The Host (or target authority) has characters a host cannot have.
    BadHost,
    /// An HTTP/1.1 request without Host.
    MissingHost,
    /// A Content-Length that is not a decimal number below 2^64.
    BadContentLength,
    /// More than one Content-Length.
    DuplicateContentLength,
    /// Both Content-Length and Transfer-Encoding.
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request.
    TransferEncodingInHttp10,
    /// More than one Transfer-Encoding header line.
    DuplicateTransferEncoding,
    /// A Transfer-Encoding that is not a list of codings, is empty, has
    /// `chunked` more than once or with parameters.
    BadTransferEncoding,
    /// A Transfer-Encoding whose final coding is not `chunked`.
    TransferEncodingNotChunked,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
}

impl InvalidReason {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidReason::Nul => "NUL byte",
            InvalidReason::BareCr => "bare CR",
            InvalidReason::BareLf => "bare LF",
            InvalidReason::EmptyRequestLine => "empty request line",
            InvalidReason::BadRequestLine => "malformed request line",
            InvalidReason::BadMethod => "bad method",
            InvalidReason::BadTarget => "bad request target",
            InvalidReason::ControlInTarget => "control byte in target",
            InvalidReason::MissingVersion => "missing version",
            InvalidReason::BadVersion => "bad version",
            InvalidReason::UnsupportedVersion => "unsupported version",
            InvalidReason::ObsFold => "obsolete line folding",
            InvalidReason::MissingColon => "header line without colon",
            InvalidReason::BadHeaderName => "bad header name",
            InvalidReason::ControlInHeader => "control byte in header value",
            InvalidReason::DuplicateHost => "duplicate Host",
            InvalidReason::BadHost => "bad Host",
            InvalidReason::MissingHost => "missing Host",
            InvalidReason::BadContentLength => "bad Content-Length",
            InvalidReason::DuplicateContentLength => "duplicate Content-Length",
            InvalidReason::ContentLengthWithTransferEncoding => {
                "Content-Length with Transfer-Encoding"
            }
            InvalidReason::TransferEncodingInHttp10 => "Transfer-Encoding in HTTP/1.0",
            InvalidReason::DuplicateTransferEncoding => "duplicate Transfer-Encoding",
            InvalidReason::BadTransferEncoding => "bad Transfer-Encoding",
            InvalidReason::TransferEncodingNotChunked => "Transfer-Encoding not ending in chunked",
            InvalidReason::TooManyHeaders => "too many header lines",
        }
    }
}

impl From<InvalidReason> for HttpError {
    fn from(r: InvalidReason) -> HttpError {
        HttpError::Invalid(r)
    }
}

/// HTTP version of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// Form of the request target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`.
    Origin,
    /// `http://authority/path?query`.
    Absolute,
    /// `*` (OPTIONS).
    Asterisk,
}

/// How the body after the head is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// Neither Content-Length nor Transfer-Encoding: no body; bytes after
    /// the head are the next request.
    None,
    /// `Content-Length: n`: the next `n` bytes are the body.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`: a chunked body follows,
    /// ending with its last chunk and trailer section.
    Chunked,
}

/// The parts of a request head that dispatch needs, borrowing the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHead<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a [u8],
    /// The request target as sent.
    pub target: &'a [u8],
    /// The target's form.
    pub form: TargetForm,
    /// The path, without query: from the target's first `/` up to `?`;
    /// `/` for an absolute-form target without a path (the second `/` of
    /// its `http://`, so that every slice here lies within the buffer);
    /// `*` for asterisk-form.
    pub path: &'a [u8],
    /// What follows `?` in the target, if there is a `?`.
    pub query: Option<&'a [u8]>,
    /// The version.
    pub version: Version,
    /// The host as sent, port included: an absolute-form target's
    /// authority, else the Host header's value without surrounding
    /// whitespace (possibly empty). `None` without either (HTTP/1.0).
    pub host: Option<&'a [u8]>,
    /// How the body after the head is framed.
    pub body: Body,
    /// Length of the head, up to and including the blank line; the body
    /// or the next pipelined request starts here.
    pub head_len: usize,
}

impl<'a> RequestHead<'a> {
    /// The host without its port (`[v6]` literals keep their brackets);
    /// compare it case-insensitively.
    pub fn hostname(&self) -> Option<&'a [u8]> {
        self.host.map(strip_port)
    }

    /// The Content-Length, if the body is framed by one.
    pub fn content_length(&self) -> Option<u64> {
        match self.body {
            Body::Length(n) => Some(n),
            Body::None | Body::Chunked => None,
        }
    }
}

/// `host` without a trailing `:port`.
fn strip_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        return match host.iter().position(|&b| b == b']') {
            Some(i) => host.get(..=i).unwrap_or(host),
            None => host,
        };
    }
    match host.iter().rposition(|&b| b == b':') {
        Some(i) => host.get(..i).unwrap_or(host),
        None => host,
    }
}

/// Offset just past the first CRLF CRLF in `buf`: the length of the head.
///
/// A bare `\n\n` does not count: RFC 9112 allows a recipient to accept
/// bare LF line endings, but a scanner that agreed with some back-ends
/// and not others would be a smuggling vector, so we are strict; such a
/// request ends up at the default back-end once the buffer fills.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    find_head_end_from(buf, 0)
}

/// [`find_head_end`] for a buffer that grows: `searched` bytes of it have
/// already been searched without success, so only the new bytes (and the
/// three before them) are looked at.
pub fn find_head_end_from(buf: &[u8], searched: usize) -> Option<usize> {
    let start = searched.saturating_sub(HEAD_END.len().saturating_sub(1));
    let i = buf
        .get(start..)?
        .windows(HEAD_END.len())
        .position(|w| w == HEAD_END)?;
    start.checked_add(i)?.checked_add(HEAD_END.len())
}

/// Whether the start of a request, `buf` (no CRLF CRLF in it yet), can
/// already be seen never to be a head [`parse_head`] accepts, whatever
/// follows: a NUL, a bare CR or bare LF (every line of a head ends in
/// CRLF, and these come before its end), or a first line whose method is
/// not an upper-case token of at most [`MAX_METHOD_LEN`] bytes followed
/// by a space (a TLS ClientHello or an SSH banner, say). `searched`: the
/// length already looked at by an earlier call, as for
/// [`find_head_end_from`]; only the bytes after it (and the one before
/// them) are looked at again, and the method's (a bounded prefix).
pub fn malformed_from(buf: &[u8], searched: usize) -> bool {
    let method = buf.get(..=MAX_METHOD_LEN).unwrap_or(buf);
    let bad_method = match method.iter().position(|&b| b == b' ') {
        Some(0) => true,
        Some(n) => !method.iter().take(n).all(|&b| is_method_char(b)),
        None => method.len() > MAX_METHOD_LEN || !method.iter().all(|&b| is_method_char(b)),
    };
    let from = searched.saturating_sub(1);
    let new = buf.get(from..).unwrap_or(&[]);
    let bare = new.windows(2).any(|w| match w {
        [b'\r', next] => *next != b'\n',
        [prev, b'\n'] => *prev != b'\r',
        _ => false,
    });
    // A LF first in the buffer has no CR before it.
    let lf_first = from == 0 && new.first() == Some(&b'\n');
    bad_method || bare || lf_first || new.contains(&0)
}

fn is_method_char(b: u8) -> bool {
    is_tchar(b) && !b.is_ascii_lowercase()
}

/// Parses the request head at the start of `buf`, which must end within
/// `limit` bytes. Bytes after the head (a body, pipelined requests) are
/// not looked at.
///
/// # Errors
///
/// [`HttpError::Incomplete`] if `buf` holds no CRLF CRLF yet and is shorter
/// than `limit`; [`HttpError::TooLarge`] if the head does not end within
/// `limit` bytes; [`HttpError::Invalid`] with the reason otherwise.
pub fn parse_head(buf: &[u8], limit: usize) -> Result<RequestHead<'_>, HttpError> {
    let window = buf.get(..limit).unwrap_or(buf);
    let Some(head_len) = find_head_end(window) else {
        return Err(if buf.len() >= limit {
            HttpError::TooLarge
        } else {
            HttpError::Incomplete
        });
    };
    // The head without its final CRLF CRLF.
    let head = buf
        .get(..head_len.saturating_sub(HEAD_END.len()))
        .unwrap_or(&[]);
    if head.contains(&0) {
        return Err(InvalidReason::Nul.into());
    }
    let mut lines = Lines { rest: head };
    let request_line = lines.next_line()?.unwrap_or(&[]);
    let (method, target, version) = parse_request_line(request_line)?;
    let t = parse_target(method, target)?;

    let mut host_header: Option<&[u8]> = None;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut count = 0usize;
    while let Some(line) = lines.next_line()? {
        count = count.saturating_add(1);
        if count > MAX_HEADERS {
            return Err(InvalidReason::TooManyHeaders.into());
        }
        let (name, value) = parse_header_line(line)?;
        if name.eq_ignore_ascii_case(b"host") {
            if host_header.is_some() {
                return Err(InvalidReason::DuplicateHost.into());
            }
            if !valid_host(value) {
                return Err(InvalidReason::BadHost.into());
            }
            host_header = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() {
                return Err(InvalidReason::DuplicateContentLength.into());
            }
            content_length = Some(parse_decimal(value).ok_or(InvalidReason::BadContentLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if transfer_encoding.is_some() {
                return Err(InvalidReason::DuplicateTransferEncoding.into());
            }
            transfer_encoding = Some(value);
        }
    }
    let body = match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => return Err(InvalidReason::ContentLengthWithTransferEncoding.into()),
        (Some(_), None) if version == Version::Http10 => {
            return Err(InvalidReason::TransferEncodingInHttp10.into())
        }
        (Some(te), None) => {
            check_transfer_encoding(te)?;
            Body::Chunked
        }
        (None, Some(n)) => Body::Length(n),
        (None, None) => Body::None,
    };
    if version == Version::Http11 && host_header.is_none() {
        return Err(InvalidReason::MissingHost.into());
    }
    Ok(RequestHead {
        method,
        target,
        form: t.form,
        path: t.path,
        query: t.query,
        version,
        host: t.authority.or(host_header),
        body,
        head_len,
    })
}

/// Checks a Transfer-Encoding value: a list of transfer codings
/// (RFC 9112 §7) whose last is `chunked`, which appears only once and
/// without parameters. Empty list elements are skipped (RFC 9110 §5.6.1);
/// parameters are `;name=token`, and empty ones (`gzip;`) are skipped too
/// (RFC 9110 §5.6.6).
fn check_transfer_encoding(value: &[u8]) -> Result<(), InvalidReason> {
    // Whether the last coding so far is chunked; None before the first.
    let mut last_chunked: Option<bool> = None;
    let mut seen_chunked = false;
    for element in value.split(|&b| b == b',') {
        let element = trim_ows(element);
        if element.is_empty() {
            continue;
        }
        let mut parts = element.split(|&b| b == b';');
        let coding = trim_ows(parts.next().unwrap_or(&[]));
        if !is_token(coding) {
            return Err(InvalidReason::BadTransferEncoding);
        }
        for param in parts {
            let param = trim_ows(param);
            if param.is_empty() {
                continue;
            }
            let (name, value) =
                split_once(param, b'=').ok_or(InvalidReason::BadTransferEncoding)?;
            if !is_token(name) || !is_token(value) {
                return Err(InvalidReason::BadTransferEncoding);
            }
        }
        let chunked = coding.eq_ignore_ascii_case(b"chunked");
        // `chunked` takes no parameters, not even an empty `;`.
        if chunked && (element.len() != coding.len() || seen_chunked) {
            return Err(InvalidReason::BadTransferEncoding);
        }
        seen_chunked |= chunked;
        last_chunked = Some(chunked);
    }
    match last_chunked {
        None => Err(InvalidReason::BadTransferEncoding),
        Some(false) => Err(InvalidReason::TransferEncodingNotChunked),
        Some(true) => Ok(()),
    }
}

/// Splits the head into CRLF-terminated lines; the head passed in has had
/// its final CRLF CRLF removed, so its last line has no terminator.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    /// The next line, checked for bare CR and LF; `None` at the end.
    fn next_line(&mut self) -> Result<Option<&'a [u8]>, HttpError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (line, rest) = match self.rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => (
                self.rest.get(..i).unwrap_or(&[]),
                self.rest.get(i.saturating_add(2)..).unwrap_or(&[]),
            ),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        if line.contains(&b'\r') {
            return Err(InvalidReason::BareCr.into());
        }
        if line.contains(&b'\n') {
            return Err(InvalidReason::BareLf.into());
        }
        Ok(Some(line))
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token` of RFC 9110 §5.6.2: one or more `tchar`.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Splits `line` at the first `sep`.
fn split_once(line: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = line.iter().position(|&b| b == sep)?;
    Some((line.get(..i)?, line.get(i.checked_add(1)?..)?))
}

fn parse_request_line(line: &[u8]) -> Result<(&[u8], &[u8], Version), HttpError> {
    if line.is_empty() {
        return Err(InvalidReason::EmptyRequestLine.into());
    }
    let (method, rest) = split_once(line, b' ').ok_or(InvalidReason::BadRequestLine)?;
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method
            .iter()
            .all(|&b| is_tchar(b) && !b.is_ascii_lowercase())
    {
        return Err(InvalidReason::BadMethod.into());
    }
    let (target, version) = split_once(rest, b' ').ok_or(InvalidReason::MissingVersion)?;
    if target.is_empty() {
        return Err(InvalidReason::BadRequestLine.into());
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(InvalidReason::UnsupportedVersion.into())
        }
        [] => return Err(InvalidReason::MissingVersion.into()),
        v if v.contains(&b' ') => return Err(InvalidReason::BadRequestLine.into()),
        _ => return Err(InvalidReason::BadVersion.into()),
    };
    Ok((method, target, version))
}

/// The parts of a request target.
struct Target<'a> {
    form: TargetForm,
    authority: Option<&'a [u8]>,
    path: &'a [u8],
    query: Option<&'a [u8]>,
}

fn parse_target<'a>(method: &[u8], target: &'a [u8]) -> Result<Target<'a>, HttpError> {
    if target.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(InvalidReason::ControlInTarget.into());
    }
    if target.contains(&b'#') {
        return Err(InvalidReason::BadTarget.into());
    }
    if target == b"*" {
        if method != b"OPTIONS" {
            return Err(InvalidReason::BadTarget.into());
        }
        return Ok(Target {
            form: TargetForm::Asterisk,
            authority: None,
            path: target,
            query: None,
        });
    }
    // `root`: a `/` of the target, the path when the target has none.
    let (path_query, form, authority, root) = if target.first() == Some(&b'/') {
        (target, TargetForm::Origin, None, target.get(..1))
    } else {
        let after_scheme = strip_prefix_ignore_case(target, b"http://")
            .or_else(|| strip_prefix_ignore_case(target, b"https://"))
            .ok_or(InvalidReason::BadTarget)?;
        // The second `/` of `http://`.
        let root = target
            .len()
            .checked_sub(after_scheme.len())
            .and_then(|n| target.get(n.checked_sub(1)?..n));
        let end = after_scheme
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after_scheme.len());
        let authority = after_scheme.get(..end).unwrap_or(&[]);
        if authority.is_empty() || authority.contains(&b'@') || !valid_host(authority) {
            return Err(InvalidReason::BadTarget.into());
        }
        (
            after_scheme.get(end..).unwrap_or(&[]),
            TargetForm::Absolute,
            Some(authority),
            root,
        )
    };
    let (path, query) = match split_once(path_query, b'?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let path: &'a [u8] = if path.is_empty() {
        root.unwrap_or(b"/")
    } else {
        path
    };
    Ok(Target {
        form,
        authority,
        path,
        query,
    })
}

/// `s` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Name and trimmed value of a header line.
fn parse_header_line(line: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(InvalidReason::ObsFold.into());
    }
    let (name, value) = split_once(line, b':').ok_or(InvalidReason::MissingColon)?;
    if !is_token(name) {
        return Err(InvalidReason::BadHeaderName.into());
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(InvalidReason::ControlInHeader.into());
    }
    Ok((name, trim_ows(value)))
}

/// `v` without leading and trailing SP and HTAB.
fn trim_ows(v: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ows(b)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i.saturating_add(1));
    v.get(start..end).unwrap_or(&[])
}

/// RFC 3986 `host [ ":" port ]` characters: unreserved, sub-delims, `%`,
/// `:`, and the brackets of IP literals.
fn valid_host(h: &[u8]) -> bool {
    h.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%:[]".contains(&b))
}

/// A non-empty run of ASCII digits as a `u64`.
fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?
                .checked_add(u64::from(b.wrapping_sub(b'0')))
        } else {
            None
        }
    })
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use InvalidReason as R;

    const L: usize = DEFAULT_HEAD_LIMIT;

    #[test]
    fn malformed_starts_are_seen_before_the_head_ends() {
        let cases: &[(&[u8], bool)] = &[
            (b"", false),
            (b"GET", false),
            (b"GET / HTTP/1.1\r", false),
            (b"GET / HTTP/1.1\r\nHost: h\r\n\r", false),
            (b"M-SEARCH * HTTP/1.1\r\n", false),
            (b"GET / HTTP/1.1\n", true),
            (b"GET / HTTP/1.1\r\nHost: h\n\n", true),
            (b"\n", true),
            (b"GET / HTTP/1.1\rX", true),
            (b"GET /\0", true),
            (b"get / HTTP/1.1\r\n", true),
            (b" GET", true),
            (b"\x16\x03\x01\x02\x00\x01", true),
            (b"SSH-2.0-OpenSSH_9.2\r\n", true),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", false),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", true),
        ];
        for &(buf, want) in cases {
            assert_eq!(
                malformed_from(buf, 0),
                want,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        // Only the new bytes, and the one before them, are looked at again.
        assert!(!malformed_from(b"GET / HTTP/1.1\r\nA: \0b", 21));
        assert!(malformed_from(b"GET / HTTP/1.1\r\nA: \nb", 19));
    }

    #[test]
    fn head_end() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"", None),
            (b"\r\n\r", None),
            (b"\r\n\r\n", Some(4)),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Some(27)),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n", Some(27)),
            (b"GET / HTTP/1.1\nHost: a\n\n", None),
            (b"GET / HTTP/1.1\r\nHost: a\n\r\n", None),
            (b"a\r\n\r\r\n\r\n", Some(8)),
        ];
        for (buf, want) in cases {
            assert_eq!(find_head_end(buf), *want, "{:?}", std::str::from_utf8(buf));
        }
    }

    #[test]
    fn head_end_incremental() {
        let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        // Feeding byte by byte and resuming finds the same end.
        let mut searched = 0;
        let mut found = None;
        for n in 0..=req.len() {
            if let Some(e) = find_head_end_from(&req[..n], searched) {
                found = Some(e);
                break;
            }
            searched = n;
        }
        assert_eq!(found, Some(27));
        assert_eq!(find_head_end_from(req, 26), Some(27));
        assert_eq!(find_head_end_from(req, usize::MAX), None);
    }

    fn ok(buf: &[u8]) -> RequestHead<'_> {
        parse_head(buf, L)
            .map_err(|e| (e, String::from_utf8_lossy(buf).into_owned()))
            .unwrap()
    }

    fn b(s: Option<&str>) -> Option<&[u8]> {
        s.map(str::as_bytes)
    }

    #[test]
    fn accepts() {
        use TargetForm::{Absolute, Asterisk, Origin};
        use Version::{Http10, Http11};
        // (request, method, path, query, version, host, hostname, form)
        #[allow(clippy::type_complexity)]
        let cases: &[(
            &str,
            &str,
            &str,
            Option<&str>,
            Version,
            Option<&str>,
            Option<&str>,
            TargetForm,
        )] = &[
            (
                "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
                "GET",
                "/",
                None,
                Http11,
                Some("example.com"),
                Some("example.com"),
                Origin,
            ),
            (
                "GET /a/b?x=1&y=2 HTTP/1.1\r\nhOsT:   Ex.COM:8080 \t\r\n\r\n",
                "GET",
                "/a/b",
                Some("x=1&y=2"),
                Http11,
                Some("Ex.COM:8080"),
                Some("Ex.COM"),
                Origin,
            ),
            (
                "GET /? HTTP/1.1\r\nHost: a\r\n\r\n",
                "GET",
                "/",
                Some(""),
                Http11,
                Some("a"),
                Some("a"),
                Origin,
            ),
            // Query-like bytes after the first '?' stay in the query.
            (
                "GET /a?b?c/d HTTP/1.1\r\nHost: a\r\n\r\n",
                "GET",
                "/a",
                Some("b?c/d"),
                Http11,
                Some("a"),
                Some("a"),
                Origin,
            ),
            // HTTP/1.0 needs no Host.
            (
                "HEAD /index.html HTTP/1.0\r\n\r\n",
                "HEAD",
                "/index.html",
                None,
                Http10,
                None,
                None,
                Origin,
            ),
            // Any uppercase token is a method.
            (
                "M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n",
                "M-SEARCH",
                "/x",
                None,
                Http11,
                Some("h"),
                Some("h"),
                Origin,
            ),
            (
                "PURGE /x HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
                "PURGE",
                "/x",
                None,
                Http11,
                Some("h"),
                Some("h"),
                Origin,
            ),
            // Absolute form: the authority is the host, not the Host header.
            (
                "GET http://www.Example.org:81/pub/x.html?q HTTP/1.1\r\nHost: other\r\n\r\n",
                "GET",
                "/pub/x.html",
                Some("q"),
                Http11,
                Some("www.Example.org:81"),
                Some("www.Example.org"),
                Absolute,
            ),
            (
                "GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET",
                "/",
                None,
                Http11,
                Some("h"),
                Some("h"),
                Absolute,
            ),
            (
                "GET http://h?x HTTP/1.0\r\n\r\n",
                "GET",
                "/",
                Some("x"),
                Http10,
                Some("h"),
                Some("h"),
                Absolute,
            ),
            (
                "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                "GET",
                "/",
                None,
                Http11,
                Some("[::1]:8080"),
                Some("[::1]"),
                Origin,
            ),
            // An empty Host is allowed (RFC 9112 §3.2).
            (
                "GET / HTTP/1.1\r\nHost:\r\n\r\n",
                "GET",
                "/",
                None,
                Http11,
                Some(""),
                Some(""),
                Origin,
            ),
            (
                "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
                "OPTIONS",
                "*",
                None,
                Http11,
                Some("h"),
                Some("h"),
                Asterisk,
            ),
            // Raw UTF-8 in the path and in values is passed through.
            (
                "GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\nX-Any: \u{e9}\r\n\r\n",
                "GET",
                "/caf\u{e9}",
                None,
                Http11,
                Some("h"),
                Some("h"),
                Origin,
            ),
        ];
        for (req, method, path, query, version, host, hostname, form) in cases {
            let h = ok(req.as_bytes());
            assert_eq!(h.method, method.as_bytes(), "{req}");
            assert_eq!(h.path, path.as_bytes(), "{req}");
            assert_eq!(h.query, b(*query), "{req}");
            assert_eq!(h.version, *version, "{req}");
            assert_eq!(h.host, b(*host), "{req}");
            assert_eq!(h.hostname(), b(*hostname), "{req}");
            assert_eq!(h.form, *form, "{req}");
            assert_eq!(h.head_len, req.len(), "{req}");
            assert!(req.as_bytes()[req.find(' ').unwrap() + 1..].starts_with(h.target));
        }
    }

    #[test]
    fn bytes_after_the_head_are_ignored() {
        let cases: &[(&[u8], &[u8])] = &[
            // Pipelined requests, even broken ones.
            (
                b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
                b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
            ),
            (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b"\0\0garbage\r\r\n"),
            (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b"\r\n"),
            // A body.
            (
                b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n",
                b"a=1&b=2",
            ),
            (
                b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"3\r\nabc\r\n0\r\n\r\n",
            ),
        ];
        for (head, rest) in cases {
            let buf = [*head, *rest].concat();
            let h = ok(&buf);
            assert_eq!(
                h.head_len,
                head.len(),
                "{:?}",
                String::from_utf8_lossy(&buf)
            );
        }
        let h = ok(cases[3].0);
        assert_eq!((h.body, h.content_length()), (Body::Length(7), Some(7)));
        let h = ok(cases[4].0);
        assert_eq!((h.body, h.content_length()), (Body::Chunked, None));
        let h = ok(cases[0].0);
        assert_eq!((h.body, h.content_length()), (Body::None, None));
    }

    #[test]
    fn rejects() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"", HttpError::Incomplete),
            (b"GET / HTTP/1.1\r\nHost: h\r\n", HttpError::Incomplete),
            (b"GET / HTTP/1.1\nHost: h\n\n", HttpError::Incomplete),
            (b"\r\n\r\n", R::EmptyRequestLine.into()),
            (b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", R::EmptyRequestLine.into()),
            (b"GET / HTTP/1.1\r\nHost: h\0\r\n\r\n", R::Nul.into()),
            (b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", R::Nul.into()),
            (b"GET / HTTP/1.1\rHost: h\r\n\r\n", R::BareCr.into()),
            (b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", R::BareCr.into()),
            (b"GET / HTTP/1.1\nHost: h\r\n\r\n", R::BareLf.into()),
            (b"GET / HTTP/1.1\r\nA: b\nHost: h\r\n\r\n", R::BareLf.into()),
            // Methods.
            (b"get / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod.into()),
            (b"Get / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod.into()),
            (b" GET / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod.into()),
            (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod.into()),
            (b"G\tT / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadMethod.into()),
            (
                b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\nHost: h\r\n\r\n",
                R::BadMethod.into(),
            ),
            // Request line shape.
            (b"GET\r\n\r\n", R::BadRequestLine.into()),
            (b"GET /\r\n\r\n", R::MissingVersion.into()),
            (b"GET / \r\n\r\n", R::MissingVersion.into()),
            (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", R::BadRequestLine.into()),
            (b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", R::BadRequestLine.into()),
            (b"GET / x HTTP/1.1\r\nHost: h\r\n\r\n", R::BadRequestLine.into()),
            // Versions.
            (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", R::UnsupportedVersion.into()),
            (b"GET / HTTP/0.9\r\n\r\n", R::UnsupportedVersion.into()),
            (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", R::UnsupportedVersion.into()),
            (b"GET / http/1.1\r\nHost: h\r\n\r\n", R::BadVersion.into()),
            (b"GET / HTTP/1.10\r\nHost: h\r\n\r\n", R::BadVersion.into()),
            (b"GET / HTTP/1\r\nHost: h\r\n\r\n", R::BadVersion.into()),
            // Targets.
            (b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", R::ControlInTarget.into()),
            (b"GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", R::ControlInTarget.into()),
            (b"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", R::ControlInTarget.into()),
            (b"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            (b"GET http://h\"/ HTTP/1.1\r\nHost: h\r\n\r\n", R::BadTarget.into()),
            // Headers.
            (b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", R::ObsFold.into()),
            (b"GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", R::ObsFold.into()),
            (b"GET / HTTP/1.1\r\nHost h\r\n\r\n", R::MissingColon.into()),
            (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", R::BadHeaderName.into()),
            (b"GET / HTTP/1.1\r\n: h\r\n\r\n", R::BadHeaderName.into()),
            (b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", R::BadHeaderName.into()),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", R::ControlInHeader.into()),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n", R::ControlInHeader.into()),
            // Host.
            (b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n", R::DuplicateHost.into()),
            (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", R::DuplicateHost.into()),
            (
                b"GET http://h/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                R::DuplicateHost.into(),
            ),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", R::BadHost.into()),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", R::BadHost.into()),
            (b"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", R::BadHost.into()),
            (b"GET / HTTP/1.1\r\n\r\n", R::MissingHost.into()),
            (b"GET / HTTP/1.1\r\nHostname: h\r\n\r\n", R::MissingHost.into()),
            (b"GET http://h/ HTTP/1.1\r\n\r\n", R::MissingHost.into()),
            // Framing.
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
                R::BadContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
                R::BadContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
                R::BadContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
                R::BadContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
                R::BadContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
                R::DuplicateContentLength.into(),
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                R::ContentLengthWithTransferEncoding.into(),
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                R::TransferEncodingInHttp10.into(),
            ),
            // Garbage.
            (b"\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\r\n\r\n", R::BadRequestLine.into()),
            (b"\x16\x03\x01\x02\x00\x01\r\n\r\n", R::Nul.into()),
            (b"\xff\xfe\xfd \xfc \xfb\r\n\r\n", R::BadMethod.into()),
            (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", R::BadRequestLine.into()),
        ];
        for (buf, want) in cases {
            assert_eq!(
                parse_head(buf, L),
                Err(*want),
                "{:?}",
                std::str::from_utf8(buf)
            );
        }
    }

    #[test]
    fn limits() {
        // A 20 KiB header against a 16 KiB limit.
        let mut big = Vec::new();
        big.extend_from_slice(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
        big.resize(20 * 1024, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_head(&big, 16 * 1024), Err(HttpError::TooLarge));
        // Only part of it arrived yet: still too large once the limit is reached.
        assert_eq!(
            parse_head(&big[..16 * 1024], 16 * 1024),
            Err(HttpError::TooLarge)
        );
        assert_eq!(
            parse_head(&big[..16 * 1024 - 1], 16 * 1024),
            Err(HttpError::Incomplete)
        );
        // With a bigger limit it parses.
        assert_eq!(parse_head(&big, 32 * 1024).unwrap().head_len, big.len());
        // A head of exactly the limit is fine; one byte more is not.
        let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(parse_head(req, req.len()).is_ok());
        assert_eq!(parse_head(req, req.len() - 1), Err(HttpError::TooLarge));
        assert_eq!(parse_head(req, 0), Err(HttpError::TooLarge));
        // Bytes past the limit after a complete head do not matter.
        let mut long = req.to_vec();
        long.resize(100, b'x');
        assert!(parse_head(&long, req.len()).is_ok());
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let req = b"GET /a?b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n";
        for n in 0..req.len() {
            assert_eq!(parse_head(&req[..n], L), Err(HttpError::Incomplete), "{n}");
        }
        assert!(parse_head(req, L).is_ok());
    }

    #[test]
    fn errors_display() {
        assert_eq!(HttpError::TooLarge.to_string(), "head too large");
        assert_eq!(
            HttpError::Invalid(R::BareCr).to_string(),
            "invalid request: bare CR"
        );
        assert_eq!(HttpError::Invalid(R::Nul).as_str(), "NUL byte");
    }

    #[test]
    fn helpers() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(strip_port(b"h:80"), b"h");
        assert_eq!(strip_port(b"h"), b"h");
        assert_eq!(strip_port(b"[::1"), b"[::1");
        assert_eq!(strip_port(b"[::1]"), b"[::1]");
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"+1"), None);
    }
}
