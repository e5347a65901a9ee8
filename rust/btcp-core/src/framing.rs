//! Where HTTP/1.1 messages end in a byte stream (RFC 9112 §6), read as the
//! bytes pass, a segment at a time, keeping a few bytes of state and no
//! copy of the stream: what per-request dispatch needs to know where the
//! next request of a persistent connection starts (the front-end, behind
//! the request heads it parses with [`super::http`]) and when the
//! responses to the requests a back-end got are complete (the back-end,
//! which reads the response heads here too).
//!
//! A stream this cannot frame with certainty becomes opaque, for good:
//! a body framed by the connection's close (a response with neither
//! Content-Length nor chunked coding), a switch of protocols (101), a
//! malformed chunk or head. Such a connection is never moved.
//!
//! Responses are read leniently where that cannot misplace a boundary
//! (the server is ours; a bare LF ends a line), strictly where it could:
//! a Content-Length that is not all digits, or two that differ, make the
//! stream opaque. What the response answers is not known here: a
//! response to HEAD carries no body whatever its Content-Length says, so
//! the front-end moves no connection that has sent a HEAD request.

use super::http::Body;

/// What a [`BodyFramer`] did with a run of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the run that belong to the body.
    pub used: usize,
    /// The body ended after those: the rest is the next message.
    pub done: bool,
}

/// Where in a body the framer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// `left` bytes of a Content-Length body (or of a chunk's data) to go.
    Length,
    /// A chunk-size's hex digits.
    ChunkSize,
    /// A chunk extension, up to its line's end.
    ChunkExt,
    /// `left` bytes of chunk data to go.
    ChunkData,
    /// The CRLF after a chunk's data.
    ChunkDataEnd,
    /// At the start of a trailer line (after the last chunk).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// The body ended.
    Done,
    /// Malformed: the message's end cannot be known.
    Bad,
}

/// Skips one message body, framed by Content-Length or chunked coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyFramer {
    state: BodyState,
    /// Bytes left of the body or of the current chunk; a chunk-size's
    /// value while its digits are read.
    left: u64,
    /// Digits of the current chunk-size read (a zero-digit size is bad).
    digits: u8,
    /// A CR was just seen (chunk lines end in CRLF; a bare LF is taken).
    cr: bool,
}

/// Longest chunk-size accepted, in hex digits (below 2^64).
const MAX_CHUNK_DIGITS: u8 = 16;

impl BodyFramer {
    /// The framer of a body framed as `body` says ([`Body::None`]: already done).
    pub fn new(body: Body) -> BodyFramer {
        let (state, left) = match body {
            Body::None | Body::Length(0) => (BodyState::Done, 0),
            Body::Length(n) => (BodyState::Length, n),
            Body::Chunked => (BodyState::ChunkSize, 0),
        };
        BodyFramer {
            state,
            left,
            digits: 0,
            cr: false,
        }
    }

    /// A framer whose body is over (or that has none).
    pub const fn done() -> BodyFramer {
        BodyFramer {
            state: BodyState::Done,
            left: 0,
            digits: 0,
            cr: false,
        }
    }

    /// A framer that never ends (a body framed by the connection's close,
    /// or one that cannot be framed).
    pub fn opaque() -> BodyFramer {
        BodyFramer {
            state: BodyState::Bad,
            ..BodyFramer::new(Body::None)
        }
    }

    /// Whether the body ended.
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// Whether the body can never be seen to end.
    pub fn is_opaque(&self) -> bool {
        self.state == BodyState::Bad
    }

    /// Bytes the framer can pass over without reading them (a
    /// Content-Length body's or a chunk's data): the shell may skip those
    /// with [`BodyFramer::skip`] instead of copying them out.
    pub fn skippable(&self) -> u64 {
        match self.state {
            BodyState::Length | BodyState::ChunkData => self.left,
            _ => 0,
        }
    }

    /// Passes over `n` bytes, at most [`BodyFramer::skippable`].
    pub fn skip(&mut self, n: u64) {
        let n = n.min(self.skippable());
        self.left = self.left.saturating_sub(n);
        if self.left == 0 {
            match self.state {
                BodyState::Length => self.state = BodyState::Done,
                BodyState::ChunkData => {
                    self.state = BodyState::ChunkDataEnd;
                    self.cr = false;
                }
                _ => {}
            }
        }
    }

    /// Reads the next bytes of the stream: how many belong to the body,
    /// and whether it ended there.
    pub fn feed(&mut self, bytes: &[u8]) -> Progress {
        let mut used = 0usize;
        while self.state != BodyState::Done && self.state != BodyState::Bad {
            let rest = bytes.get(used..).unwrap_or(&[]);
            let skippable = self.skippable();
            if skippable > 0 {
                let n = u64::try_from(rest.len()).unwrap_or(u64::MAX).min(skippable);
                self.skip(n);
                used = used.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
                if rest.is_empty() {
                    break;
                }
                continue;
            }
            let Some(&b) = rest.first() else { break };
            used = used.saturating_add(1);
            self.chunk_byte(b);
        }
        let used = used.min(bytes.len());
        Progress {
            used,
            done: self.state == BodyState::Done,
        }
    }

    /// One byte of chunked coding's framing (RFC 9112 §7.1).
    fn chunk_byte(&mut self, b: u8) {
        let was_cr = ::core::mem::replace(&mut self.cr, b == b'\r');
        if b == b'\r' {
            if was_cr {
                self.state = BodyState::Bad;
            }
            return;
        }
        self.state = match self.state {
            BodyState::ChunkSize => match (b, hex(b)) {
                (_, Some(d)) if !was_cr && self.digits < MAX_CHUNK_DIGITS => {
                    self.digits = self.digits.saturating_add(1);
                    self.left = (self.left << 4) | u64::from(d);
                    BodyState::ChunkSize
                }
                (b';' | b' ' | b'\t', _) if self.digits > 0 && !was_cr => BodyState::ChunkExt,
                (b'\n', _) if self.digits > 0 => self.end_size_line(),
                _ => BodyState::Bad,
            },
            BodyState::ChunkExt => match b {
                b'\n' => self.end_size_line(),
                _ if was_cr || b == 0 => BodyState::Bad,
                _ => BodyState::ChunkExt,
            },
            BodyState::ChunkDataEnd => match b {
                b'\n' => {
                    self.digits = 0;
                    BodyState::ChunkSize
                }
                _ => BodyState::Bad,
            },
            BodyState::TrailerStart => match b {
                b'\n' => BodyState::Done,
                _ if was_cr => BodyState::Bad,
                _ => BodyState::TrailerLine,
            },
            BodyState::TrailerLine => match b {
                b'\n' => BodyState::TrailerStart,
                _ if was_cr || b == 0 => BodyState::Bad,
                _ => BodyState::TrailerLine,
            },
            BodyState::Length | BodyState::ChunkData | BodyState::Done | BodyState::Bad => {
                self.state
            }
        };
    }

    /// The end of a chunk-size line: its data follows, or the trailer
    /// after the last (zero-size) chunk.
    fn end_size_line(&mut self) -> BodyState {
        self.cr = false;
        if self.left == 0 {
            BodyState::TrailerStart
        } else {
            BodyState::ChunkData
        }
    }
}

/// A hex digit's value.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Where in a response head the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadState {
    /// The status line, `pos` bytes in.
    Status,
    /// The rest of the status line (the reason phrase).
    Reason,
    /// At the start of a field line (or of the blank line ending the head).
    LineStart,
    /// A field name, `pos` bytes in.
    Name,
    /// A field value.
    Value,
}

/// Which field's name or value is being read: while the name is read,
/// the one it may still be (the two differ from their first byte on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Other,
    ContentLength,
    TransferEncoding,
}

const CONTENT_LENGTH: &[u8] = b"content-length";
const TRANSFER_ENCODING: &[u8] = b"transfer-encoding";
const CHUNKED: &[u8] = b"chunked";
const STATUS_PREFIX: &[u8] = b"HTTP/1.";
/// Bytes of `HTTP/1.x NNN`.
const STATUS_LEN: u8 = 12;
/// A name or coding matched nothing we read.
const NO_MATCH: u8 = u8::MAX;

/// Flag bits of a [`HeadScan`].
const F_BAD: u8 = 1 << 0;
const F_LENGTH: u8 = 1 << 1;
const F_TE: u8 = 1 << 2;
const F_CHUNKED: u8 = 1 << 3;
const F_DIGITS: u8 = 1 << 4;
const F_ENDED: u8 = 1 << 5;

/// Reads one response head, byte by byte, for how its body is framed.
/// Eight bytes: a Content-Length's value is read into the caller's
/// accumulator (the body framer's count, unused until the head ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeadScan {
    state: HeadState,
    /// Bytes into the status line, the name, or the current
    /// Transfer-Encoding element's match of `chunked` ([`NO_MATCH`]).
    pos: u8,
    field: Field,
    flags: u8,
    status: u16,
}

impl HeadScan {
    const fn new() -> HeadScan {
        HeadScan {
            state: HeadState::Status,
            pos: 0,
            field: Field::Other,
            flags: 0,
            status: 0,
        }
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// One byte of the head, with `length` the Content-Length
    /// accumulator; true once the head ended (the byte was its last).
    fn byte(&mut self, b: u8, length: &mut u64) -> bool {
        if b == b'\r' {
            // Line ends are LF; a CR before one is allowed anywhere.
            return false;
        }
        match self.state {
            HeadState::Status => self.status_byte(b),
            HeadState::Reason => {
                if b == b'\n' {
                    self.state = HeadState::LineStart;
                }
            }
            HeadState::LineStart => {
                if b == b'\n' {
                    return true;
                }
                self.state = HeadState::Name;
                self.pos = 0;
                self.field = match b.to_ascii_lowercase() {
                    b'c' => Field::ContentLength,
                    b't' => Field::TransferEncoding,
                    _ => Field::Other,
                };
                return self.byte(b, length);
            }
            HeadState::Name => match b {
                b':' => self.start_value(length),
                b'\n' => {
                    // A field line without a colon.
                    self.set(F_BAD, true);
                    self.state = HeadState::LineStart;
                }
                _ => {
                    let want = match self.field {
                        Field::ContentLength => CONTENT_LENGTH,
                        Field::TransferEncoding => TRANSFER_ENCODING,
                        Field::Other => &[],
                    };
                    self.pos = advance_match(self.pos, want, b.to_ascii_lowercase());
                    if self.pos == NO_MATCH {
                        self.field = Field::Other;
                    }
                }
            },
            HeadState::Value => {
                if b == b'\n' {
                    self.end_value();
                    self.state = HeadState::LineStart;
                } else {
                    self.value_byte(b, length);
                }
            }
        }
        false
    }

    fn status_byte(&mut self, b: u8) {
        let i = usize::from(self.pos);
        let ok = match i {
            0..=6 => STATUS_PREFIX.get(i) == Some(&b),
            7 => b.is_ascii_digit(),
            8 => b == b' ',
            _ => b.is_ascii_digit(),
        };
        if !ok {
            self.set(F_BAD, true);
            self.state = if b == b'\n' {
                HeadState::LineStart
            } else {
                HeadState::Reason
            };
            return;
        }
        if i >= 9 {
            self.status = self
                .status
                .wrapping_mul(10)
                .wrapping_add(u16::from(b.wrapping_sub(b'0')));
        }
        self.pos = self.pos.saturating_add(1);
        if self.pos == STATUS_LEN {
            self.state = HeadState::Reason;
        }
    }

    fn start_value(&mut self, length: &mut u64) {
        let whole = match self.field {
            Field::ContentLength => CONTENT_LENGTH.len(),
            Field::TransferEncoding => TRANSFER_ENCODING.len(),
            Field::Other => 0,
        };
        if usize::from(self.pos) != whole {
            self.field = Field::Other;
        }
        match self.field {
            Field::ContentLength => {
                // A second Content-Length line: we do not guess.
                if self.has(F_LENGTH) {
                    self.set(F_BAD, true);
                }
                *length = 0;
            }
            // A second Transfer-Encoding line continues the list.
            Field::TransferEncoding => self.set(F_TE, true),
            Field::Other => {}
        }
        self.set(F_DIGITS, false);
        self.set(F_ENDED, false);
        self.pos = 0;
        self.state = HeadState::Value;
    }

    fn value_byte(&mut self, b: u8, length: &mut u64) {
        let ws = b == b' ' || b == b'\t';
        match self.field {
            Field::Other => {}
            Field::ContentLength => {
                if ws {
                    let digits = self.has(F_DIGITS);
                    self.set(F_ENDED, digits);
                } else if b.is_ascii_digit() && !self.has(F_ENDED) {
                    match length
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b.wrapping_sub(b'0'))))
                    {
                        Some(v) => *length = v,
                        None => self.set(F_BAD, true),
                    }
                    self.set(F_DIGITS, true);
                } else {
                    self.set(F_BAD, true);
                }
            }
            Field::TransferEncoding => {
                if b == b',' {
                    // An empty element changes nothing; a new one starts.
                    if self.pos != 0 {
                        self.set(F_CHUNKED, false);
                    }
                    self.pos = 0;
                    self.set(F_ENDED, false);
                } else if ws {
                    let started = self.pos != 0;
                    if started {
                        self.set(F_ENDED, true);
                    }
                } else if self.has(F_ENDED) {
                    self.pos = NO_MATCH;
                } else {
                    self.pos = advance_match(self.pos, CHUNKED, b.to_ascii_lowercase());
                }
            }
        }
    }

    fn end_value(&mut self) {
        match self.field {
            Field::Other => {}
            Field::ContentLength => {
                if self.has(F_DIGITS) {
                    self.set(F_LENGTH, true);
                } else {
                    self.set(F_BAD, true);
                }
            }
            Field::TransferEncoding => {
                if self.pos != 0 {
                    let chunked = usize::from(self.pos) == CHUNKED.len();
                    self.set(F_CHUNKED, chunked);
                }
            }
        }
    }

    /// How the body after this (complete) head is framed, with `length`
    /// its Content-Length if it had one: `None` for an interim (1xx)
    /// response, which another head follows.
    fn framing(&self, length: u64) -> Option<BodyFramer> {
        let status = self.status;
        if self.has(F_BAD) || status == 101 || !(100..=599).contains(&status) {
            return Some(BodyFramer::opaque());
        }
        if status < 200 {
            return None;
        }
        if status == 204 || status == 304 {
            return Some(BodyFramer::new(Body::None));
        }
        if self.has(F_TE) {
            return Some(if self.has(F_CHUNKED) {
                BodyFramer::new(Body::Chunked)
            } else {
                BodyFramer::opaque()
            });
        }
        Some(if self.has(F_LENGTH) {
            BodyFramer::new(Body::Length(length))
        } else {
            BodyFramer::opaque()
        })
    }
}

/// How far a name matches `want` after lowercase byte `l`.
fn advance_match(pos: u8, want: &[u8], l: u8) -> u8 {
    if pos != NO_MATCH && want.get(usize::from(pos)) == Some(&l) {
        pos.saturating_add(1)
    } else {
        NO_MATCH
    }
}

/// The responses a back-end's stack sends on one connection, counted as
/// they complete. Feed it every byte of the stream, in order, once. 24
/// bytes: it lives in every back-end flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseStream {
    /// The body being passed ([`BodyFramer::is_done`]: between bodies,
    /// and its count is the head's Content-Length accumulator).
    body: BodyFramer,
    head: HeadScan,
    /// Final (non-1xx) responses complete, modulo 2^16.
    complete: u16,
}

impl Default for ResponseStream {
    fn default() -> ResponseStream {
        ResponseStream::new()
    }
}

impl ResponseStream {
    /// A connection's stream before its first response.
    pub const fn new() -> ResponseStream {
        ResponseStream {
            body: BodyFramer::done(),
            head: HeadScan::new(),
            complete: 0,
        }
    }

    /// A stream that can no longer be framed (bytes of it were not seen).
    pub fn opaque() -> ResponseStream {
        ResponseStream {
            body: BodyFramer::opaque(),
            ..ResponseStream::new()
        }
    }

    /// Final responses complete so far, modulo 2^16.
    pub fn complete(&self) -> u16 {
        self.complete
    }

    /// Whether the stream is between responses: the last one complete,
    /// nothing of another seen.
    pub fn between(&self) -> bool {
        self.body.is_done() && self.head == HeadScan::new()
    }

    /// Whether the stream cannot be framed any more.
    pub fn is_opaque(&self) -> bool {
        self.body.is_opaque()
    }

    /// Bytes that can be passed over unread ([`BodyFramer::skippable`]).
    pub fn skippable(&self) -> u64 {
        self.body.skippable()
    }

    /// Passes over `n` bytes, at most [`ResponseStream::skippable`].
    pub fn skip(&mut self, n: u64) {
        if self.body.skippable() > 0 {
            self.body.skip(n);
            self.body_progress();
        }
    }

    /// Reads the next bytes of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.is_opaque() {
            if !self.body.is_done() {
                let p = self.body.feed(bytes);
                bytes = bytes.get(p.used..).unwrap_or(&[]);
                self.body_progress();
                continue;
            }
            let Some((&b, rest)) = bytes.split_first() else {
                break;
            };
            bytes = rest;
            if self.head.byte(b, &mut self.body.left) {
                self.end_head();
            } else if self.head.has(F_BAD) {
                // Its framing is lost already (not HTTP/1.x: a TLS
                // service's stream, say): no need to read on to the end
                // of a head that may never come.
                self.body = BodyFramer::opaque();
            }
        }
    }

    fn end_head(&mut self) {
        let framing = self.head.framing(self.body.left);
        self.head = HeadScan::new();
        match framing {
            Some(body) => {
                self.body = body;
                self.body_progress_from_head();
            }
            // An interim response: another head follows.
            None => self.body = BodyFramer::done(),
        }
    }

    /// A body that is empty from the start ends its response at once.
    fn body_progress_from_head(&mut self) {
        if self.body.is_done() {
            self.complete = self.complete.wrapping_add(1);
        }
    }

    fn body_progress(&mut self) {
        if self.body.is_done() {
            self.body = BodyFramer::done();
            self.complete = self.complete.wrapping_add(1);
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn body_end(body: Body, stream: &[u8]) -> Option<usize> {
        let mut f = BodyFramer::new(body);
        let p = f.feed(stream);
        p.done.then_some(p.used)
    }

    #[test]
    fn bodies_end_where_their_framing_says() {
        assert_eq!(body_end(Body::None, b"GET"), Some(0));
        assert_eq!(body_end(Body::Length(3), b"abcdef"), Some(3));
        assert_eq!(body_end(Body::Length(7), b"abcdef"), None);
        let chunked = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\nGET";
        assert_eq!(body_end(Body::Chunked, chunked), Some(chunked.len() - 3));
        let trailer = b"1\r\na\r\n0\r\nX-T: 1\r\n\r\nnext";
        assert_eq!(body_end(Body::Chunked, trailer), Some(trailer.len() - 4));
        let bare = b"A\nabcdefghij\n0\n\n";
        assert_eq!(body_end(Body::Chunked, bare), Some(bare.len()));
    }

    #[test]
    fn malformed_chunks_are_opaque() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"4\r\nWikiX",
            b"11111111111111111\r\n",
            b"1\r\r\n",
        ] {
            let mut f = BodyFramer::new(Body::Chunked);
            let p = f.feed(bad);
            assert!(f.is_opaque() && !p.done, "{:?}", core::str::from_utf8(bad));
        }
    }

    fn responses(stream: &[u8]) -> (u16, bool) {
        let mut s = ResponseStream::new();
        s.feed(stream);
        (s.complete(), s.between())
    }

    #[test]
    fn responses_are_counted_as_they_complete() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(responses(ok), (1, true));
        assert_eq!(responses(&ok[..ok.len() - 1]), (0, false));
        let two = b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n";
        assert_eq!(responses(two), (2, true));
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n";
        assert_eq!(responses(interim), (1, true));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(responses(chunked), (1, true));
        let bare_lf = b"HTTP/1.0 200 OK\nContent-Length: 1\n\nx";
        assert_eq!(responses(bare_lf), (1, true));
    }

    #[test]
    fn unframeable_responses_are_opaque() {
        for r in [
            &b"HTTP/1.1 200 OK\r\n\r\nuntil close"[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"SSH-2.0\r\n\r\n",
        ] {
            let mut s = ResponseStream::new();
            s.feed(r);
            assert!(
                s.is_opaque() && s.complete() == 0,
                "{:?}",
                core::str::from_utf8(r)
            );
        }
    }

    #[test]
    fn a_stream_that_is_not_http_is_opaque_at_its_first_byte() {
        let mut s = ResponseStream::new();
        s.feed(&[0x16, 0x03, 0x03, 0x00, 0x7a, 0x02]);
        assert!(s.is_opaque());
        assert_eq!(s.skippable(), 0);
    }

    #[test]
    fn a_stream_fits_in_a_flow() {
        assert_eq!(core::mem::size_of::<ResponseStream>(), 24);
    }

    #[test]
    fn skipping_is_reading_without_looking() {
        let mut s = ResponseStream::new();
        s.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        assert_eq!(s.skippable(), 100_000);
        s.skip(60_000);
        s.feed(&[0u8; 39_999]);
        assert_eq!(s.complete(), 0);
        s.skip(1);
        assert!(s.between() && s.complete() == 1);
    }
}
