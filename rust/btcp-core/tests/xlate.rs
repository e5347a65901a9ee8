//! Property tests of the translation: a client segment translated at the
//! front-end's ingress lands in the back-end's spaces, the back-end's
//! answer translated at its egress lands back in the client's view, and
//! every rewritten packet keeps valid checksums, whatever the option
//! layout (timestamps and SACK blocks at odd offsets included).
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::csum;
use btcp_core::segment::Seg;
use btcp_core::xlate::{apply, EditKind, Xlate};
use btcp_core::Flags;
use proptest::prelude::*;

const C: u32 = 0x0a01_0001;
const V: u32 = 0x0a02_0001;
const B: u32 = 0x0a03_0001;

/// An IPv4/TCP packet with the raw option bytes `opts` (padded with EOL
/// to a multiple of 4) and correct checksums.
#[allow(clippy::too_many_arguments)]
fn packet(
    src: u32,
    dst: u32,
    seq: u32,
    ack: u32,
    flags: Flags,
    window: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut o = opts.to_vec();
    while o.len() % 4 != 0 {
        o.push(0);
    }
    assert!(o.len() <= 40);
    let thl = 20 + o.len();
    let total = 20 + thl + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.to_be_bytes());
    p[16..20].copy_from_slice(&dst.to_be_bytes());
    let c = csum::ipv4_header_checksum(&p[..20]).unwrap();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = ((thl / 4) as u8) << 4;
    t[13] = flags.bits();
    t[14..16].copy_from_slice(&window.to_be_bytes());
    t[20..thl].copy_from_slice(&o);
    t[thl..].copy_from_slice(payload);
    let c = csum::tcp_ipv4_checksum(src, dst, t).unwrap();
    t[16..18].copy_from_slice(&c.to_be_bytes());
    assert!(valid(&p));
    p
}

fn valid(p: &[u8]) -> bool {
    let seg = Seg::parse(p).unwrap();
    csum::verify_ipv4_header(&p[..20])
        && csum::verify_tcp_ipv4(seg.pkt.ip.src, seg.pkt.ip.dst, &p[20..])
}

/// Options: `lead` NOPs, timestamps, `mid` NOPs, a SACK option with
/// `blocks` (fitting in 40 bytes with the rest).
fn options(lead: usize, ts: Option<(u32, u32)>, mid: usize, blocks: &[(u32, u32)]) -> Vec<u8> {
    let mut o = vec![1u8; lead];
    if let Some((v, e)) = ts {
        o.extend_from_slice(&[8, 10]);
        o.extend_from_slice(&v.to_be_bytes());
        o.extend_from_slice(&e.to_be_bytes());
    }
    o.extend(std::iter::repeat(1u8).take(mid));
    if !blocks.is_empty() {
        o.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
        for (l, r) in blocks {
            o.extend_from_slice(&l.to_be_bytes());
            o.extend_from_slice(&r.to_be_bytes());
        }
    }
    o
}

#[derive(Debug, Clone)]
struct Case {
    isn_f: u32,
    isn_b: u32,
    fe_tsval_last: u32,
    tsval_b: u32,
    ws_b: u8,
    ws_f: u8,
    /// How far into the response the client's ack is.
    acked: u32,
    client_tsval: u32,
    /// A BE TSval the client echoes (as translated), as an offset from tsval_b.
    echoed: u32,
    /// SACK blocks as offsets beyond `acked`.
    sacks: Vec<(u32, u32)>,
    lead: usize,
    mid: usize,
    window: u16,
    local: bool,
    payload: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (
            0u8..=14,
            0u8..=14,
            0u32..1 << 30,
            any::<u32>(),
            0u32..1 << 20,
        ),
        prop::collection::vec((1u32..1 << 16, 1u32..1 << 16), 0..=3),
        (0usize..4, 0usize..4, any::<u16>(), any::<bool>()),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(
                (isn_f, isn_b, fe_tsval_last, tsval_b),
                (ws_b, ws_f, acked, client_tsval, echoed),
                sacks,
                (lead, mid, window, local),
                payload,
            )| {
                let sacks = sacks
                    .into_iter()
                    .scan(0u32, |at, (gap, len)| {
                        let l = *at + gap;
                        *at = l + len;
                        Some((l, l + len))
                    })
                    .collect::<Vec<_>>();
                // Three blocks and timestamps leave 4 bytes for NOPs.
                let (lead, mid) = if sacks.len() == 3 {
                    (lead.min(2), mid.min(2))
                } else {
                    (lead, mid)
                };
                Case {
                    isn_f,
                    isn_b,
                    fe_tsval_last,
                    tsval_b,
                    ws_b,
                    ws_f,
                    acked,
                    client_tsval,
                    echoed,
                    sacks,
                    lead,
                    mid,
                    window,
                    local,
                    payload,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip_through_both_translations(c in case()) {
        let be = if c.local { V } else { B };
        let x = Xlate::new(V, be, c.isn_f, c.isn_b, c.fe_tsval_last, c.tsval_b, c.ws_b, c.ws_f);
        // What the client sees of the back-end's data and clock.
        let client_ack = c.isn_f.wrapping_add(1).wrapping_add(c.acked);
        let be_tsval_seen = x.tsval_to_client(c.tsval_b.wrapping_add(c.echoed));
        let sacks: Vec<(u32, u32)> = c
            .sacks
            .iter()
            .map(|&(l, r)| (client_ack.wrapping_add(l), client_ack.wrapping_add(r)))
            .collect();
        let opts = options(c.lead, Some((c.client_tsval, be_tsval_seen)), c.mid, &sacks);
        let mut p = packet(C, V, 7, client_ack, Flags::ACK, c.window, &opts, &c.payload);
        let seg = Seg::parse(&p).unwrap();
        let edits = x.fe_ingress(&seg).unwrap();
        apply(&mut p, &edits).unwrap();
        prop_assert!(valid(&p));
        let seg = Seg::parse(&p).unwrap();
        // At the back-end: its own spaces.
        prop_assert_eq!(seg.dst().addr, be);
        prop_assert_eq!(seg.src().addr, C);
        prop_assert_eq!(seg.seq(), 7);
        prop_assert_eq!(seg.window(), c.window);
        let be_ack = c.isn_b.wrapping_add(1).wrapping_add(c.acked);
        prop_assert_eq!(seg.ack(), be_ack);
        prop_assert_eq!(
            seg.timestamps(),
            Some((c.client_tsval, c.tsval_b.wrapping_add(c.echoed)))
        );
        for (&(l, r), &(l2, r2)) in c.sacks.iter().zip(seg.opts.sacks()) {
            prop_assert_eq!(l2, be_ack.wrapping_add(l));
            prop_assert_eq!(r2, be_ack.wrapping_add(r));
        }
        prop_assert_eq!(&p[p.len() - c.payload.len()..], &c.payload[..]);
        if c.local {
            prop_assert!(edits.iter().all(|e| e.kind == EditKind::TcpField));
        }

        // The back-end answers from where the client acknowledged, with
        // a later TSval, echoing the client's.
        let tsval = c.tsval_b.wrapping_add(c.echoed).wrapping_add(5);
        let opts = options(c.mid, Some((tsval, c.client_tsval)), c.lead, &[]);
        let mut q = packet(be, C, be_ack, 9, Flags::ACK | Flags::PSH, c.window, &opts, &c.payload);
        let seg = Seg::parse(&q).unwrap();
        let edits = x.be_egress(&seg).unwrap();
        apply(&mut q, &edits).unwrap();
        prop_assert!(valid(&q));
        let seg = Seg::parse(&q).unwrap();
        prop_assert_eq!(seg.src().addr, V);
        prop_assert_eq!(seg.seq(), client_ack, "the client sees the byte it asked for");
        prop_assert_eq!(seg.ack(), 9);
        prop_assert_eq!(seg.timestamps(), Some((be_tsval_seen.wrapping_add(5), c.client_tsval)));
        let bytes = u64::from(c.window) << c.ws_b;
        prop_assert_eq!(u64::from(seg.window()), (bytes >> c.ws_f).min(65535));
    }

    #[test]
    fn first_translated_tsval_follows_the_fes(fe_last in any::<u32>(), tsval_b in any::<u32>(), later in 0u32..1 << 30) {
        let x = Xlate::new(V, B, 0, 0, fe_last, tsval_b, 0, 0);
        prop_assert_eq!(x.tsval_to_client(tsval_b), fe_last.wrapping_add(1));
        prop_assert!(btcp_core::seq::ts_after(x.tsval_to_client(tsval_b.wrapping_add(later)), fe_last));
    }

    #[test]
    fn syn_segments_keep_their_window(win in any::<u16>(), ws_b in 0u8..=14, ws_f in 0u8..=14) {
        let x = Xlate::new(V, B, 1, 2, 3, 4, ws_b, ws_f);
        let mut p = packet(B, C, 2, 0, Flags::SYN | Flags::ACK, win, &[], &[]);
        let edits = x.be_egress(&Seg::parse(&p).unwrap()).unwrap();
        apply(&mut p, &edits).unwrap();
        prop_assert!(valid(&p));
        prop_assert_eq!(Seg::parse(&p).unwrap().window(), win);
    }
}
