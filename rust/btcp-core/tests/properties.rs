//! Property tests: incremental checksums equal full recomputation, parsers
//! never panic or point outside their input, sequence arithmetic behaves.
//!
//! Debug test builds have overflow checks on, like the kernel, so an
//! arithmetic overflow on packet data fails here as a panic.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::build::{write_ipv4_tcp, write_tcp_options};
use btcp_core::csum;
use btcp_core::seq;
use btcp_core::tcp_options::{self, RawOptions, TcpOption, MAX_SACK_BLOCKS};
use btcp_core::{classify, find_option, Class, Flags, Ipv4Header, TcpHeader, TcpOptions};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Checksums

/// One change to a packet: a 16-bit word, a 32-bit field, or any byte range.
#[derive(Debug, Clone)]
enum Edit {
    Word { at: usize, new: u16 },
    Long { at: usize, new: u32 },
    Bytes { at: usize, new: Vec<u8> },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u16>()).prop_map(|(at, new)| Edit::Word { at, new }),
        (any::<usize>(), any::<u32>()).prop_map(|(at, new)| Edit::Long { at, new }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(at, new)| Edit::Bytes { at, new }),
    ]
}

/// Applies `e` to `data`, keeping off the checksum field at `csum_at`, and
/// returns the checksum updated incrementally; `None` if it does not fit.
fn apply(data: &mut [u8], csum_at: usize, c: u16, e: &Edit) -> Option<u16> {
    let clear = |at: usize, len: usize| at + len <= csum_at || at >= csum_at + 2;
    match e {
        Edit::Word { at, new } => {
            // update16 is for aligned words.
            let at = (at % data.len()) & !1;
            if at + 2 > data.len() || !clear(at, 2) {
                return None;
            }
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            Some(csum::update16(c, old, *new))
        }
        Edit::Long { at, new } => {
            let at = (at % data.len()) & !1;
            if at + 4 > data.len() || !clear(at, 4) {
                return None;
            }
            let old = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            data[at..at + 4].copy_from_slice(&new.to_be_bytes());
            Some(csum::update32(c, old, *new))
        }
        Edit::Bytes { at, new } => {
            let at = at % data.len();
            if at + new.len() > data.len() || !clear(at, new.len()) {
                return None;
            }
            let old = data[at..at + new.len()].to_vec();
            data[at..at + new.len()].copy_from_slice(new);
            Some(csum::update_bytes(c, at, &old, new))
        }
    }
}

proptest! {
    #[test]
    fn tcp_checksum_updates_match_recomputation(
        mut src in any::<u32>(),
        mut dst in any::<u32>(),
        mut seg in prop::collection::vec(any::<u8>(), 20..300),
        edits in prop::collection::vec(edit(), 1..8),
        addr_changes in prop::collection::vec((any::<bool>(), any::<u32>()), 0..3),
    ) {
        let mut c = csum::tcp_ipv4_checksum(src, dst, &seg).unwrap();
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        prop_assert!(csum::verify_tcp_ipv4(src, dst, &seg));
        for e in &edits {
            if let Some(new_c) = apply(&mut seg, 16, c, e) {
                c = new_c;
                prop_assert_eq!(Some(c), csum::tcp_ipv4_checksum(src, dst, &seg));
            }
        }
        // Address rewrites touch only the pseudo-header.
        for (which, new) in addr_changes {
            let addr = if which { &mut src } else { &mut dst };
            c = csum::update32(c, *addr, new);
            *addr = new;
            prop_assert_eq!(Some(c), csum::tcp_ipv4_checksum(src, dst, &seg));
        }
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        prop_assert!(csum::verify_tcp_ipv4(src, dst, &seg));
    }

    #[test]
    fn ipv4_checksum_updates_match_recomputation(
        mut hdr in prop::collection::vec(any::<u8>(), 20..=60),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        // Version nibble 4: real headers are never all zeros.
        hdr[0] = 0x40 | (hdr[0] & 0x0f);
        let mut c = csum::ipv4_header_checksum(&hdr).unwrap();
        for e in &edits {
            if let Some(new_c) = apply(&mut hdr, 10, c, e) {
                if hdr[0] >> 4 != 4 {
                    // Keep the version, as a rewriter would; undo via another update.
                    let fixed = 0x40 | (hdr[0] & 0x0f);
                    c = csum::update_bytes(new_c, 0, &[hdr[0]], &[fixed]);
                    hdr[0] = fixed;
                } else {
                    c = new_c;
                }
                prop_assert_eq!(Some(c), csum::ipv4_header_checksum(&hdr));
            }
        }
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        prop_assert!(csum::verify_ipv4_header(&hdr));
    }

    #[test]
    fn update16_is_eqn3_for_any_nonzero_data(data in prop::collection::vec(any::<u8>(), 2..64), new in any::<u16>()) {
        // Any data that stays nonzero after the change, not only packets.
        let mut data = data;
        data[0] |= 0x80;
        let old = u16::from_be_bytes([data[0], data[1]]);
        let c = csum::checksum(&data);
        let new = new | 0x8000;
        data[0..2].copy_from_slice(&new.to_be_bytes());
        prop_assert_eq!(csum::update16(c, old, new), csum::checksum(&data));
        prop_assert_ne!(csum::update16(c, old, new), 0xffff);
    }
}

// ---------------------------------------------------------------------------
// Parsers never panic and never point outside their input

/// Option-shaped bytes: mostly plausible kinds and lengths, sometimes junk.
fn option_bytes() -> impl Strategy<Value = Vec<u8>> {
    let one = prop_oneof![
        Just(vec![0u8]),
        Just(vec![1u8]),
        (any::<u16>()).prop_map(|m| {
            let b = m.to_be_bytes();
            vec![2, 4, b[0], b[1]]
        }),
        (any::<u8>()).prop_map(|w| vec![3, 3, w]),
        Just(vec![4u8, 2]),
        (1usize..=4, any::<u64>()).prop_map(|(n, x)| {
            let mut v = vec![5, (2 + 8 * n) as u8];
            for i in 0..n {
                v.extend_from_slice(&(x.rotate_left(i as u32 * 8)).to_be_bytes());
            }
            v
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| {
            let mut v = vec![8, 10];
            v.extend_from_slice(&a.to_be_bytes());
            v.extend_from_slice(&b.to_be_bytes());
            v
        }),
        (
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(k, l, mut d)| {
                d.insert(0, l);
                d.insert(0, k);
                d
            }),
    ];
    prop::collection::vec(one, 0..8).prop_map(|v| v.concat())
}

fn check_options(opts: &[u8]) -> Result<(), TestCaseError> {
    let summary = TcpOptions::parse(opts);
    prop_assert!(usize::from(summary.sack_count) <= MAX_SACK_BLOCKS);
    prop_assert!(summary.wscale.unwrap_or(0) <= tcp_options::MAX_WSCALE);
    let mut errors = 0;
    let mut last_end = 0;
    for item in RawOptions::new(opts) {
        match item {
            Ok(o) => {
                prop_assert!(o.offset >= last_end);
                prop_assert!(o.offset + o.total_len() <= opts.len());
                prop_assert_eq!(opts[o.offset], o.kind);
                prop_assert_eq!(usize::from(opts[o.offset + 1]), o.total_len());
                last_end = o.offset + o.total_len();
                if let TcpOption::Sack(b) = o.decode() {
                    prop_assert!(usize::from(b.count) <= MAX_SACK_BLOCKS);
                }
            }
            Err(e) => {
                errors += 1;
                prop_assert!(e.offset < opts.len());
                prop_assert!(summary.malformed);
            }
        }
    }
    prop_assert!(errors <= 1);
    for kind in 0..=255u8 {
        if let Some((off, len)) = find_option(opts, kind) {
            prop_assert!(off + len <= opts.len());
            prop_assert_eq!(opts[off], kind);
            prop_assert!(tcp_options::valid_len(kind, len));
        }
    }
    // What the summary took is what find_option finds.
    prop_assert_eq!(
        summary.timestamps.is_some(),
        find_option(opts, tcp_options::KIND_TIMESTAMPS).is_some()
    );
    prop_assert_eq!(
        summary.mss.is_some(),
        find_option(opts, tcp_options::KIND_MSS).is_some()
    );
    prop_assert_eq!(
        summary.sack_count > 0,
        find_option(opts, tcp_options::KIND_SACK).is_some()
    );
    Ok(())
}

fn check_packet(p: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(ip) = Ipv4Header::parse(p) {
        prop_assert!(ip.header_len() <= p.len());
        prop_assert!(ip.header_len() <= usize::from(ip.total_len));
        prop_assert!(ip.options(p).len() <= 40);
        let _ = (ip.is_fragment(), ip.frag_offset(), ip.payload_len());
    }
    if let Ok(tcp) = TcpHeader::parse(p) {
        prop_assert!(tcp.header_len() <= p.len());
        prop_assert!(tcp.payload_offset() <= p.len());
        let _ = tcp.parse_options(p);
        // Accessors given the wrong buffer must not panic either.
        let _ = (
            tcp.options(&p[..p.len() / 2]),
            tcp.payload(&p[..p.len() / 3]),
        );
        check_options(tcp.options(p))?;
    }
    match classify(p) {
        Class::Tcp(t) => {
            prop_assert!(t.tcp_offset <= p.len());
            prop_assert!(t.payload_offset <= p.len());
            prop_assert_eq!(t.payload_offset, t.tcp_offset + t.tcp.header_len());
            prop_assert!(t.payload_offset + t.payload_len <= usize::from(t.ip.total_len));
            prop_assert!(t.kind().index() < btcp_core::SegmentKind::COUNT);
            prop_assert!(t.options_offset() <= t.payload_offset);
            prop_assert_eq!(t.options(p).len(), t.payload_offset - t.options_offset());
            prop_assert!(t.payload(p).len() <= t.payload_len);
            prop_assert!(t.payload(p).len() <= p.len() - t.payload_offset);
        }
        Class::NotTcp { protocol } => prop_assert_ne!(protocol, 6),
        Class::Fragment { .. } | Class::Malformed(_) => {}
    }
    Ok(())
}

/// Random bytes nudged towards IPv4/TCP so the deep paths are reached.
fn packetish() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 0..140),
        option_bytes(),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(mut v, opts, shape, doff_noise)| {
            if shape && v.len() >= 40 {
                v[0] = 0x45;
                v[6] &= 0x40; // DF at most: not a fragment
                v[7] = 0;
                v[9] = 6;
                let olen = opts.len().min(40) & !3;
                v.truncate(40);
                v.extend_from_slice(&opts[..olen]);
                // The right data offset, or one word too many.
                v[32] = ((((20 + olen) / 4) as u8) << 4) ^ (doff_noise & 0x10);
                v.extend_from_slice(&[0xab; 7]);
                // A total length near the real one: a bit short, or past the buffer.
                let tot = (v.len() as u16 + u16::from(doff_noise & 0x0f)).saturating_sub(8);
                v[2..4].copy_from_slice(&tot.to_be_bytes());
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic(p in prop::collection::vec(any::<u8>(), 0..200)) {
        check_packet(&p)?;
        check_options(&p)?;
        if p.len() > 20 {
            check_packet(&p[20..])?;
        }
    }

    #[test]
    fn packet_shaped_bytes_never_panic(p in packetish()) {
        check_packet(&p)?;
    }

    #[test]
    fn option_shaped_bytes_never_panic(opts in option_bytes()) {
        check_options(&opts)?;
    }
}

// ---------------------------------------------------------------------------
// Writers round-trip through the parsers

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        prop::option::of(any::<u16>()),
        prop::option::of(0u8..=14),
        any::<bool>(),
        prop::option::of((any::<u32>(), any::<u32>())),
        prop::array::uniform4((any::<u32>(), any::<u32>())),
        0u8..=4,
    )
        .prop_map(
            |(mss, wscale, sack_permitted, timestamps, mut sack_blocks, sack_count)| {
                // Unused slots are zero after parsing.
                for b in sack_blocks.iter_mut().skip(usize::from(sack_count)) {
                    *b = (0, 0);
                }
                TcpOptions {
                    mss,
                    wscale,
                    sack_permitted,
                    timestamps,
                    sack_blocks,
                    sack_count,
                    ..TcpOptions::default()
                }
            },
        )
}

proptest! {
    #[test]
    fn written_packets_parse_back(
        src in any::<u32>(), dst in any::<u32>(),
        ports in (any::<u16>(), any::<u16>()),
        seq_ack in (any::<u32>(), any::<u32>()),
        flags in any::<u8>(), window in any::<u16>(), id in any::<u16>(),
        opts in options(),
        payload in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let ip = Ipv4Header { src, dst, ttl: 64, id, frag: 0x4000, ..Ipv4Header::default() };
        let tcp = TcpHeader {
            src_port: ports.0, dst_port: ports.1, seq: seq_ack.0, ack: seq_ack.1,
            flags: Flags(flags), window, ..TcpHeader::default()
        };
        let mut buf = [0u8; 220];
        let Ok(n) = write_ipv4_tcp(&mut buf, &ip, &tcp, &opts, &payload) else {
            // Only an options set that cannot fit may fail.
            prop_assert!(write_tcp_options(&mut [0u8; 40], &opts).is_err());
            return Ok(());
        };
        let p = &buf[..n];
        let Class::Tcp(t) = classify(p) else { panic!("not TCP: {:?}", classify(p)) };
        prop_assert!(csum::verify_ipv4_header(&p[..20]));
        prop_assert!(csum::verify_tcp_ipv4(src, dst, &p[20..]));
        prop_assert_eq!((t.ip.src, t.ip.dst, t.ip.id), (src, dst, id));
        prop_assert_eq!((t.tcp.src_port, t.tcp.dst_port), ports);
        prop_assert_eq!((t.tcp.seq, t.tcp.ack, t.tcp.flags, t.tcp.window), (seq_ack.0, seq_ack.1, Flags(flags), window));
        prop_assert_eq!(&p[t.payload_offset..], &payload[..]);
        prop_assert_eq!(t.payload_len, payload.len());
        let back = t.tcp.parse_options(&p[20..]);
        prop_assert_eq!(back, opts);
    }
}

// ---------------------------------------------------------------------------
// Sequence arithmetic

proptest! {
    #[test]
    fn before_after_antisymmetric(a in any::<u32>(), b in any::<u32>()) {
        prop_assert_eq!(seq::before(a, b), seq::after(b, a));
        prop_assert_eq!(seq::before_eq(a, b), !seq::after(a, b));
        prop_assert_eq!(seq::after_eq(a, b), !seq::before(a, b));
        let d = b.wrapping_sub(a);
        if d == 0 {
            prop_assert!(!seq::before(a, b) && !seq::before(b, a));
        } else if d != 0x8000_0000 {
            prop_assert!(seq::before(a, b) != seq::before(b, a));
            prop_assert_eq!(seq::before(a, b), d < 0x8000_0000);
        }
        prop_assert_eq!(seq::ts_before(a, b), seq::before(a, b));
    }

    #[test]
    fn forward_steps_are_after(a in any::<u32>(), d in 1u32..0x8000_0000) {
        prop_assert!(seq::before(a, a.wrapping_add(d)));
        prop_assert!(seq::after(seq::add(a, d), a));
        prop_assert_eq!(seq::distance(a, seq::add(a, d)), d);
        prop_assert_eq!(seq::max(a, a.wrapping_add(d)), a.wrapping_add(d));
        prop_assert_eq!(seq::min(a, a.wrapping_add(d)), a);
    }

    #[test]
    fn between_matches_distances(x in any::<u32>(), lo in any::<u32>(), hi in any::<u32>()) {
        prop_assert_eq!(seq::between(x, lo, hi), seq::distance(lo, x) <= seq::distance(lo, hi));
        prop_assert!(seq::between(lo, lo, hi) && seq::between(hi, lo, hi));
    }

    #[test]
    fn translation_round_trips(x in any::<u32>(), isn_a in any::<u32>(), isn_b in any::<u32>(), y in any::<u32>()) {
        let there = seq::translate(x, isn_a, isn_b);
        prop_assert_eq!(seq::translate(there, isn_b, isn_a), x);
        let s = seq::Shift::new(isn_a, isn_b);
        prop_assert_eq!(s.forward(x), there);
        prop_assert_eq!(s.backward(there), x);
        prop_assert_eq!(s.inverse().forward(there), x);
        // Translation preserves order and distance.
        prop_assert_eq!(seq::before(x, y), seq::before(s.forward(x), s.forward(y)));
        prop_assert_eq!(seq::distance(x, y), seq::distance(s.forward(x), s.forward(y)));
    }
}
