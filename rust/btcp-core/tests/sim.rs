//! Simulated network: a real TCP implementation (smoltcp) plays the client
//! and the back-end's stack; the front-end and back-end machines sit in
//! between doing what the kernel shell will do, over links with latency
//! and scripted loss, on a deterministic virtual clock (1 ms steps). The
//! harness, and what it checks on every packet, is in `common/mod.rs`;
//! `faults.rs` adds duplication, reordering, resets, closes and option
//! mismatches.
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

// ---------------------------------------------------------------------------
// Scenarios

#[test]
fn full_handoff() {
    let net = run(Scenario::new());
    assert_eq!(net.stats.handoff_reqs, 1);
    assert_eq!(net.stats.handoff_acks, 1);
    // The FE handled the handshake and the request only; all response
    // bytes went from the back-end straight to the client.
    assert!(net.stats.to_client > (BODY_LEN / 1460));
    // The request buffer held what arrived, and was freed by the ACK.
    assert_eq!(net.stats.fe_buf_peak, request().len());
    assert_eq!(net.stats.fe_bufs_freed, 1);
}

/// SYN cookies (`syncookie.rs`): the front-end keeps nothing until the
/// third ACK, and the flow it then makes hands off like any other.
#[test]
fn cookie_handoff() {
    let net = run(Scenario::new().cookies());
    assert_eq!(net.stats.handoff_acks, 1);
    assert_eq!(net.fe_stats().cookies_sent, 1);
    assert_eq!(net.fe_stats().cookies_validated, 1);
}

#[test]
fn cookie_lost_third_ack() {
    // The client's request segment brings the cookie back instead.
    let net = run(Scenario::new().cookies().lose(Point::ClientAck, 1));
    assert_eq!(net.fe_stats().cookies_validated, 1);
}

#[test]
fn cookie_lost_synack() {
    // The SYN again: another cookie, and no state either time.
    let net = run(Scenario::new().cookies().lose(Point::FeSynAck, 1));
    assert_eq!(net.fe_stats().cookies_sent, 2);
}

#[test]
fn cookie_without_timestamps() {
    // No timestamps: the cookie keeps the MSS only; neither window
    // scaling nor SACK is offered, and the handoff still works.
    let mut sc = Scenario::new().cookies();
    sc.client_ts = None;
    let net = run(sc);
    assert_eq!(net.fe_stats().cookies_validated, 1);
}

#[test]
fn cookie_local_handoff() {
    let mut sc = Scenario::new().cookies();
    sc.local = true;
    let net = run(sc);
    assert_eq!(net.fe_stats().cookies_validated, 1);
}

#[test]
fn lost_syn() {
    run(Scenario::new().lose(Point::ClientSyn, 1));
}

#[test]
fn lost_synack() {
    run(Scenario::new().lose(Point::FeSynAck, 1));
}

#[test]
fn lost_third_ack() {
    run(Scenario::new().lose(Point::ClientAck, 1));
}

#[test]
fn lost_first_request_segment() {
    run(Scenario::new().lose(Point::ClientData, 1));
}

#[test]
fn lost_middle_request_segment() {
    run(Scenario::new().lose(Point::ClientData, 2));
}

#[test]
fn lost_handoff_req() {
    let net = run(Scenario::new().lose(Point::HandoffReq, 1));
    assert_eq!(net.stats.handoff_reqs, 2, "the FE resent it");
}

#[test]
fn lost_handoff_ack() {
    let net = run(Scenario::new().lose(Point::HandoffAck, 1));
    assert_eq!(net.stats.handoff_reqs, 2, "the FE resent the request");
    assert_eq!(
        net.stats.handoff_acks, 1,
        "the BE answered it with the same ACK"
    );
}

#[test]
fn lost_first_response_segment() {
    run(Scenario::new().lose(Point::BeData, 1));
}

#[test]
fn lost_client_ack() {
    // The 10th pure ACK is well into the response.
    run(Scenario::new().lose(Point::ClientAck, 10));
}

#[test]
fn lost_everything_once() {
    let mut sc = Scenario::new();
    for p in [
        Point::ClientSyn,
        Point::FeSynAck,
        Point::ClientAck,
        Point::ClientData,
        Point::HandoffReq,
        Point::HandoffAck,
        Point::BeData,
    ] {
        sc = sc.lose(p, 1);
    }
    run(sc.lose(Point::BeData, 50).lose(Point::ClientAck, 20));
}

#[test]
fn without_timestamps() {
    let mut sc = Scenario::new();
    sc.cfg.ts = false;
    run(sc);
}

#[test]
fn client_without_timestamps() {
    let mut sc = Scenario::new();
    sc.client_ts = None;
    run(sc.lose(Point::BeData, 3));
}

#[test]
fn without_window_scaling_or_sack() {
    let mut sc = Scenario::new();
    sc.cfg.wscale = None;
    sc.cfg.sack = false;
    run(sc.lose(Point::BeData, 2));
}

#[test]
fn backend_with_a_small_receive_window() {
    // The request (about 3 KiB) does not fit the stack's first window: the
    // replay continues as the stack's ACKs open it.
    let mut sc = Scenario::new();
    sc.be_rx = 1024;
    let net = run(sc);
    assert!(net.stats.injected >= 4);
}

#[test]
fn backend_without_timestamps_is_refused() {
    // The FE agreed timestamps; the BE stack has none: NACK, and with no
    // other back-end left the client is reset. Nothing is half-open.
    let mut sc = Scenario::new();
    sc.be_ts = None;
    sc.cfg.handoff_tries = 1;
    let mut net = Net::new(sc);
    while net.t < 5_000 {
        net.step();
    }
    assert_eq!(net.stats.fe_flows_created, 1);
    assert_eq!(net.stats.be_flows_created, 1);
    assert_eq!(net.be_flows(), 0, "the BE kept nothing");
    assert_eq!(net.fe_flows(), 0, "the FE freed the flow after its linger");
    assert!(net.got.is_empty());
    assert!(matches!(net.client.sock().state(), tcp::State::Closed));
    assert!(matches!(
        net.be_host.sock().state(),
        tcp::State::Listen | tcp::State::Closed
    ));
}

#[test]
fn local_handoff() {
    let mut sc = Scenario::new();
    sc.local = true;
    let net = run(sc.lose(Point::BeData, 1));
    // The node handed the connection to its own back-end side: no
    // message on the control channel.
    assert_eq!(net.fe_node.stats().handoffs_local, 1);
    assert_eq!(net.fe_node.stats().handoffs_received, 1);
    assert_eq!(net.stats.handoff_reqs, 0);
}
