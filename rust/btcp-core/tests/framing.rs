//! Properties of `framing`: a stream of responses is counted the same
//! however it is cut into segments and whichever bytes are skipped
//! unread; a head it frames is one `httparse` parses completely, to the
//! same status and Content-Length; a request stream's bodies end where
//! the bytes after them are the next request.

use btcp_core::framing::{BodyFramer, ResponseStream};
use btcp_core::http::Body;
use proptest::prelude::*;

/// One generated response: its bytes and whether its framing is known.
fn response() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let status = prop_oneof![
        Just(200u16),
        Just(204),
        Just(304),
        Just(404),
        Just(100),
        Just(206)
    ];
    let body = prop::collection::vec(any::<u8>(), 0..300);
    let chunks = prop::collection::vec(1usize..80, 0..5);
    (
        status,
        body,
        any::<bool>(),
        chunks,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(status, body, chunked, cuts, lower, ext)| {
            let mut out = format!("HTTP/1.1 {status} X\r\nServer: t\r\n").into_bytes();
            if status == 100 {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                return (out, true);
            }
            let bodyless = status == 204 || status == 304;
            if chunked && !bodyless {
                let te = if lower {
                    "transfer-encoding"
                } else {
                    "Transfer-Encoding"
                };
                out.extend_from_slice(format!("{te}: chunked\r\n\r\n").as_bytes());
                let mut rest = &body[..];
                for c in cuts {
                    let n = c.min(rest.len());
                    if n == 0 {
                        break;
                    }
                    let e = if ext { ";a=b" } else { "" };
                    out.extend_from_slice(format!("{n:x}{e}\r\n").as_bytes());
                    out.extend_from_slice(&rest[..n]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                if !rest.is_empty() {
                    out.extend_from_slice(format!("{:X}\r\n", rest.len()).as_bytes());
                    out.extend_from_slice(rest);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                let cl = if lower {
                    "content-length"
                } else {
                    "Content-Length"
                };
                let n = if bodyless { 0 } else { body.len() };
                out.extend_from_slice(format!("{cl}:  {n} \r\n\r\n").as_bytes());
                out.extend_from_slice(&body[..n]);
            }
            (out, true)
        })
}

proptest! {
    #[test]
    fn responses_count_the_same_however_cut(
        rs in prop::collection::vec(response(), 1..6),
        cuts in prop::collection::vec(1usize..200, 1..40),
        skip_first in any::<bool>(),
    ) {
        let stream: Vec<u8> = rs.iter().flat_map(|(b, _)| b.clone()).collect();
        let mut s = ResponseStream::new();
        let mut at = 0usize;
        let mut i = 0usize;
        while at < stream.len() {
            let n = cuts[i % cuts.len()].min(stream.len() - at);
            i += 1;
            let mut seg = &stream[at..at + n];
            if skip_first {
                let k = usize::try_from(s.skippable()).unwrap_or(usize::MAX).min(seg.len());
                s.skip(k as u64);
                seg = &seg[k..];
            }
            s.feed(seg);
            at += n;
            prop_assert!(!s.is_opaque());
        }
        prop_assert_eq!(s.complete() as usize, rs.len());
        prop_assert!(s.between());
    }

    #[test]
    fn framed_heads_parse_the_same_in_httparse((bytes, _) in response()) {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut headers);
        let status = r.parse(&bytes).expect("parses");
        prop_assert!(status.is_complete());
        let mut s = ResponseStream::new();
        s.feed(&bytes[..status.unwrap()]);
        let cl = r.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length"));
        let code = r.code.unwrap_or(0);
        if code >= 200 && code != 204 && code != 304 {
            if let Some(cl) = cl {
                let n: u64 = std::str::from_utf8(cl.value).unwrap().trim().parse().unwrap();
                prop_assert_eq!(s.skippable(), n);
                prop_assert_eq!(s.between(), n == 0);
            }
        } else if code >= 200 {
            prop_assert!(s.between() && s.complete() == 1);
        }
    }

    #[test]
    fn chunked_request_bodies_end_before_the_next_request(
        body in prop::collection::vec(any::<u8>(), 0..500),
        size in 1usize..64,
        cut in 1usize..50,
    ) {
        let mut stream = Vec::new();
        for c in body.chunks(size) {
            stream.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            stream.extend_from_slice(c);
            stream.extend_from_slice(b"\r\n");
        }
        stream.extend_from_slice(b"0\r\n\r\n");
        let end = stream.len();
        stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut f = BodyFramer::new(Body::Chunked);
        let mut used = 0;
        let mut done = false;
        for seg in stream.chunks(cut) {
            let p = f.feed(seg);
            used += p.used;
            if p.done {
                done = true;
                break;
            }
            prop_assert_eq!(p.used, seg.len());
        }
        prop_assert!(done);
        prop_assert_eq!(used, end);
    }
}
