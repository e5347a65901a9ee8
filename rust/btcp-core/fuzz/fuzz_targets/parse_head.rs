//! `http::parse_head` on arbitrary bytes: it must not panic (overflow
//! checks are on, as in the kernel), every slice it returns must lie within
//! the input, and its result must be consistent with the input. A start
//! `http::malformed_from` calls malformed must never parse, however it
//! ends.
//!
//! The first byte picks the head limit (small limits exercise the
//! `TooLarge` path); the rest is the buffer.
#![no_main]

use btcp_core::http::{
    find_head_end, malformed_from, parse_head, Body, HttpError, DEFAULT_HEAD_LIMIT,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let limit = if sel < 0x80 {
        DEFAULT_HEAD_LIMIT
    } else {
        usize::from(sel - 0x80) * 4
    };
    check(buf, limit);
});

fn check(buf: &[u8], limit: usize) {
    let range = buf.as_ptr_range();
    let within = |s: &[u8]| {
        let r = s.as_ptr_range();
        range.start <= r.start && r.end <= range.end
    };
    let window = &buf[..limit.min(buf.len())];
    match parse_head(buf, limit) {
        Ok(h) => {
            let slices = [h.method, h.target, h.path]
                .into_iter()
                .chain(h.query)
                .chain(h.host)
                .chain(h.hostname());
            for s in slices {
                assert!(within(s), "slice {s:?} outside the input");
            }
            assert!(h.head_len <= buf.len() && h.head_len <= limit);
            assert_eq!(find_head_end(window), Some(h.head_len));
            let head = &buf[..h.head_len];
            assert!(head.ends_with(b"\r\n\r\n"));
            assert!(!head.contains(&0));
            assert!(!h.method.is_empty() && !h.target.is_empty() && !h.path.is_empty());
            assert_eq!(
                h.content_length(),
                match h.body {
                    Body::Length(n) => Some(n),
                    Body::None | Body::Chunked => None,
                }
            );
            // Bytes after the head do not matter.
            assert_eq!(parse_head(head, limit), Ok(h));
        }
        Err(HttpError::Incomplete) => {
            assert!(buf.len() < limit);
            assert_eq!(find_head_end(buf), None);
            if malformed_from(buf, 0) {
                let mut ended = buf.to_vec();
                ended.extend_from_slice(b"\r\n\r\n");
                assert!(
                    parse_head(&ended, DEFAULT_HEAD_LIMIT).is_err(),
                    "called malformed"
                );
            }
        }
        Err(HttpError::TooLarge) => {
            assert!(buf.len() >= limit);
            assert_eq!(find_head_end(window), None);
        }
        Err(HttpError::Invalid(_)) => {
            assert!(find_head_end(window).is_some());
        }
    }
}
