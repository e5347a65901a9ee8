//! `tls::parse_client_hello` on arbitrary bytes: it must not panic
//! (overflow checks are on, as in the kernel), the name it returns must lie
//! within the input and be a DNS name, and its answer must not change with
//! what follows the record, nor come early: every prefix of a hello it
//! reads is `Incomplete`, every prefix of a start it refuses is refused or
//! `Incomplete`.
#![no_main]

use btcp_core::tls::{is_host_name, parse_client_hello, HelloError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|buf: &[u8]| {
    let range = buf.as_ptr_range();
    match parse_client_hello(buf) {
        Ok(h) => {
            assert!(h.len <= buf.len());
            if let Some(name) = h.server_name {
                let r = name.as_ptr_range();
                assert!(range.start <= r.start && r.end <= range.end);
                assert!(is_host_name(name));
            }
            // Bytes after the record do not matter.
            assert_eq!(parse_client_hello(&buf[..h.len]), Ok(h));
            for n in [0, 1, 5, h.len / 2, h.len - 1] {
                assert_eq!(
                    parse_client_hello(&buf[..n.min(h.len - 1)]),
                    Err(HelloError::Incomplete)
                );
            }
        }
        Err(HelloError::Incomplete) => {}
        Err(e) => {
            // Said as soon as it was seen, and not taken back by more bytes.
            let mut more = buf.to_vec();
            more.extend_from_slice(&[0; 64]);
            assert_eq!(parse_client_hello(&more).err(), Some(e));
        }
    }
});
