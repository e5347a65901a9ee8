//! Blind attacks on a handed-off connection (issue 11, item 2; RFC 5961):
//! a spoofer who knows the 4-tuple but not the sequence space sends RSTs,
//! SYNs, FINs and data as the client into a running download. None may
//! end it or corrupt it, and neither machine may change its state on a
//! segment the back-end's stack would not accept. The harness
//! (`common/mod.rs`) checks every packet as in `sim.rs`.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use common::*;

/// A segment from the client's endpoint to the VIP, as a spoofer would
/// craft it.
fn forged(seq: u32, ack: u32, flags: Flags, ts: Option<(u32, u32)>, payload: &[u8]) -> Vec<u8> {
    write(
        &OutSegment {
            src: Endpoint::new(C, CLIENT_PORT),
            dst: Endpoint::new(V, PORT),
            seq,
            ack,
            flags,
            window: 65535,
            ts,
            payload_off: 0,
            payload_len: u32::try_from(payload.len()).unwrap(),
            ..OutSegment::default()
        },
        payload,
    )
}

/// A download the client reads slowly, so it is still running when the
/// attack comes.
fn download() -> Net {
    let mut s = Scenario {
        body_len: 256 * 1024,
        ..Scenario::new()
    };
    s.client.read_max = 64;
    let mut net = Net::new(s);
    net.run_until(|n| n.got.len() > 8_000, 10_000);
    assert_eq!(net.fe_state(), Some(FeState::Forwarding));
    assert_eq!(net.be_state(), Some(BeState::Established));
    net
}

/// Sends `pkts` one by one, a client link apart, and checks after each
/// that neither machine took it for the end of the connection.
fn attack(net: &mut Net, pkts: Vec<Vec<u8>>) {
    for p in pkts {
        net.inject_from_client(p);
        net.run_for(2 * CLIENT_LINK_MS + FE_BE_LINK_MS);
        // Bytes where the client's next request would start are held as
        // its head until they make one (per-request dispatch).
        let fe = net.fe_state();
        assert!(
            matches!(fe, Some(FeState::Forwarding | FeState::Collecting)),
            "the FE took it: {fe:?}"
        );
        assert_eq!(net.be_state(), Some(BeState::Established), "the BE took it");
        assert_ne!(net.server_state(), tcp::State::Closed, "the stack took it");
    }
}

/// The download completes byte-exact on the one connection it started
/// on, and ends as a normal close.
fn completes(mut net: Net) {
    net.run(120_000);
    check_delivery(&net);
    assert_eq!(net.stats.fe_flows_created, 1, "the FE started a new flow");
    assert_eq!(net.stats.be_flows_created, 1);
    if !net.sc.local {
        assert_eq!(net.stats.terminates, vec![TerminateReason::Fin]);
    }
}

/// Offsets from the client's next sequence number a spoofer may land on:
/// in the window but not exact, and outside it both ways.
const OFFSETS: [u32; 8] = [
    1,
    100,
    1 << 16,
    1 << 20,
    1 << 24,
    1 << 31,
    0u32.wrapping_sub(1),
    0u32.wrapping_sub(1 << 20),
];

/// The acknowledgments a spoofer's segment at offset `o` tries: outside
/// the window any, and in it only ones no stack takes (of data never
/// sent, or older than a window), since a segment in the window with a
/// good acknowledgment is not blind (RFC 5961's accepted residue).
fn blind_acks(o: u32, ack: u32) -> Vec<u32> {
    let bad = vec![ack.wrapping_add(1 << 30), ack.wrapping_sub(1 << 30)];
    let in_window = o < 1 << 18 || o > 0u32.wrapping_sub(1 << 18);
    if in_window {
        bad
    } else {
        [vec![ack], bad].concat()
    }
}

/// `flags` segments with `payload` at every offset and at the next
/// sequence number itself, each with every blind acknowledgment.
fn at_blind_points(nxt: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<Vec<u8>> {
    OFFSETS
        .iter()
        .chain(&[0])
        .flat_map(|&o| blind_acks(o, ack).into_iter().map(move |a| (o, a)))
        .map(|(o, a)| forged(nxt.wrapping_add(o), a, flags, None, payload))
        .collect()
}

#[test]
fn spoofed_rsts_then_a_syn_do_not_end_the_connection() {
    let mut net = download();
    let nxt = net.client_snd_max;
    let rsts = OFFSETS
        .iter()
        .map(|&o| forged(nxt.wrapping_add(o), 0, Flags::RST, None, &[]))
        .collect();
    attack(&mut net, rsts);
    // A SYN a closed connection's TIME-WAIT would take (past the old
    // sequence space, newer timestamp): the connection is not closed, so
    // it is nothing but a SYN in ESTABLISHED (RFC 5961 4.2).
    let ts = Some((client_tsval().wrapping_add(1 << 20), 0));
    let syn = forged(nxt.wrapping_add(1 << 30), 0, Flags::SYN, ts, &[]);
    attack(&mut net, vec![syn]);
    completes(net);
}

#[test]
fn spoofed_fins_then_a_syn_do_not_end_the_connection() {
    let mut net = download();
    let nxt = net.client_snd_max;
    let ack = net.to_client_snd_max.unwrap();
    // At the next sequence number itself too, acknowledging data never
    // sent, or far in the past (RFC 5961 5.2).
    let fins = at_blind_points(nxt, ack, Flags::FIN | Flags::ACK, &[]);
    attack(&mut net, fins);
    let syn = forged(nxt.wrapping_add(1 << 30), 0, Flags::SYN, None, &[]);
    attack(&mut net, vec![syn]);
    completes(net);
}

#[test]
fn spoofed_data_does_not_reach_the_stream() {
    let mut net = download();
    let nxt = net.client_snd_max;
    let ack = net.to_client_snd_max.unwrap();
    let junk = [b'X'; 100];
    // At the very next sequence number too, but with an acknowledgment
    // the client could not send: no stack takes it.
    let data = at_blind_points(nxt, ack, Flags::ACK, &junk);
    // Each followed by an RST where its end would put the client's next
    // sequence number, had a machine taken it.
    let data = data
        .into_iter()
        .flat_map(|d| {
            let end = Seg::parse(&d).unwrap().end_seq();
            [d, forged(end, 0, Flags::RST, None, &[])]
        })
        .collect();
    attack(&mut net, data);
    assert!(
        net.fe_stats().forward_refused >= 10,
        "the FE dropped and counted those outside the window"
    );
    completes(net);
}

#[test]
fn spoofed_timestamps_do_not_move_the_clocks() {
    // Segments outside the window carrying a TSval far ahead: were either
    // machine to take that TSval as the client's, its later segments
    // would fail PAWS at the stack, or its TIME-WAIT test would pass.
    let mut net = download();
    let nxt = net.client_snd_max;
    let ack = net.to_client_snd_max.unwrap();
    let ts = Some((client_tsval().wrapping_add(1 << 30), 0));
    let pkts = vec![
        forged(nxt.wrapping_add(1 << 31), ack, Flags::ACK, ts, &[0; 10]),
        forged(
            nxt.wrapping_add(1 << 31),
            ack,
            Flags::ACK | Flags::FIN,
            ts,
            &[],
        ),
        forged(nxt.wrapping_add(1 << 30), 0, Flags::SYN, ts, &[]),
    ];
    attack(&mut net, pkts);
    completes(net);
}

#[test]
fn data_acknowledging_unsent_bytes_passes_the_front_end_but_not_the_back_end() {
    // Inside the window the client advertised, past what the back-end's
    // stack has sent (its server has not answered yet): only the back-end
    // can tell. The front-end holds its bytes as the start of the next
    // request (they would reach a back-end only with a MOVE_RELEASE, whose
    // acknowledgment the old back-end checks, or never: a head that does
    // not end is let go after request-ms); the back-end machine must not
    // count its bytes as the client's, which an RST at their end would
    // show.
    let mut s = Scenario::new();
    s.server.respond_when = |n: &Net| n.t > 300 && head_read(n);
    let mut net = Net::new(s);
    net.run_until(|n| n.t > 100, 1_000);
    assert_eq!(net.be_state(), Some(BeState::Established));
    let nxt = net.client_snd_max;
    let unsent = net.fe_isn.unwrap().wrapping_add(1000);
    let refused = net.fe_stats().forward_refused;
    let junk = [b'X'; 100];
    attack(&mut net, vec![forged(nxt, unsent, Flags::ACK, None, &junk)]);
    assert_eq!(
        net.fe_stats().forward_refused,
        refused,
        "the FE let it through"
    );
    attack(
        &mut net,
        vec![forged(nxt.wrapping_add(100), 0, Flags::RST, None, &[])],
    );
    completes(net);
}

#[test]
fn local_handoff_spoofed_rst_then_syn() {
    let mut s = Scenario {
        body_len: 256 * 1024,
        ..Scenario::new()
    };
    s.local = true;
    s.client.read_max = 64;
    let mut net = Net::new(s);
    net.run_until(|n| n.got.len() > 8_000, 10_000);
    let nxt = net.client_snd_max;
    let ts = Some((client_tsval().wrapping_add(1 << 20), 0));
    attack(
        &mut net,
        vec![
            forged(nxt.wrapping_add(100), 0, Flags::RST, None, &[]),
            forged(nxt.wrapping_add(1 << 30), 0, Flags::SYN, ts, &[]),
        ],
    );
    completes(net);
}

#[test]
fn a_segment_forged_at_the_back_end_by_another_host_is_dropped() {
    // Someone on the back-end's link who sees the connection sends the
    // client's next bytes, with the right acknowledgment, straight to
    // the back-end as if the front-end had forwarded them: the back-end
    // takes forwarded segments only from the front-end that handed the
    // flow off (issue 11, item 3), so nothing reaches its stack.
    let mut net = download();
    let nxt = net.client_snd_max;
    let xlate = net
        .fe_node
        .fe()
        .values()
        .next()
        .unwrap()
        .flow
        .xlate()
        .unwrap();
    let ack = xlate.ack_to_be(net.to_client_snd_max.unwrap());
    let forged_be = |seq, flags, payload: &[u8]| {
        let s = OutSegment {
            src: Endpoint::new(C, CLIENT_PORT),
            dst: Endpoint::new(B, PORT),
            seq,
            ack,
            flags,
            window: 65535,
            payload_len: u32::try_from(payload.len()).unwrap(),
            ..OutSegment::default()
        };
        write(&s, payload)
    };
    let other_host = 0x0a03_0063; // 10.3.0.99
    net.inject_at_be(
        forged_be(nxt, Flags::ACK | Flags::PSH, b"GET /evil HTTP/1.1\r\n\r\n"),
        other_host,
    );
    net.inject_at_be(forged_be(nxt, Flags::RST, &[]), other_host);
    net.run_for(2 * FE_BE_LINK_MS + 1);
    assert_eq!(net.be_node.stats().forward_foreign, 2);
    assert_eq!(net.be_state(), Some(BeState::Established));
    completes(net);
}
