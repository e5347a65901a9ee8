//! `framing` on arbitrary bytes: a response stream and a chunked body
//! must not panic (overflow checks are on, as in the kernel), and their
//! counts must not depend on how the bytes are cut: the first byte picks
//! a segment size, the stream is fed whole and in segments.
#![no_main]

use btcp_core::framing::{BodyFramer, ResponseStream};
use btcp_core::http::Body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let cut = usize::from(sel % 64) + 1;
    let mut whole = ResponseStream::new();
    whole.feed(buf);
    let mut cut_up = ResponseStream::new();
    for seg in buf.chunks(cut) {
        let k = cut_up.skippable().min(seg.len() as u64);
        cut_up.skip(k);
        cut_up.feed(&seg[k as usize..]);
    }
    assert_eq!(whole, cut_up);

    let mut body = BodyFramer::new(Body::Chunked);
    let p = body.feed(buf);
    assert!(p.used <= buf.len());
    assert!(!p.done || !body.is_opaque());
    let mut again = BodyFramer::new(Body::Chunked);
    let mut used = 0;
    for seg in buf.chunks(cut) {
        let q = again.feed(seg);
        used += q.used;
        if q.done || q.used < seg.len() {
            break;
        }
    }
    assert_eq!((used, again.is_done()), (p.used, p.done));
});
