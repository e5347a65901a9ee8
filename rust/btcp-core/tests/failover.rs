//! A front-end dies with a connection handed off (issue 13, item 4;
//! Documentation/handoff.md, "When a front-end dies"): the back-end
//! declares it dead, announces the connection to the standby, which makes
//! a forwarding flow of it; once the standby owns the VIP, the client's
//! segments reach the back-end through it, and the back-end takes it as
//! the flow's front-end. Byte-exact both ways, both tables empty after the
//! linger (the harness, `common/mod.rs`, checks it all).
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

/// The client has read this much of the response.
fn mid_download(n: &Net) -> bool {
    n.got.len() > 256 * 1024
}

/// The server has read this much of the upload.
fn mid_upload(n: &Net) -> bool {
    n.server_req.len() > 100_000
}

fn check_taken_over(net: &Net) {
    let be = net.be_side().stats();
    assert_eq!(be.flows_announced, 1);
    assert_eq!(be.orphans_adopted, 1);
    assert_eq!(net.fe_stats().flows_adopted, 1);
    assert_eq!(net.stats.announces, 1);
    assert!(net.fe_died_at.is_some());
    assert!(
        net.stats.lost_to_dead_fe > 0,
        "the client sent nothing meanwhile"
    );
}

#[test]
fn a_download_goes_on_through_the_standby() {
    let net = run(Scenario {
        fe_dies_when: Some(mid_download),
        ..Scenario::new()
    });
    check_taken_over(&net);
}

#[test]
fn an_upload_goes_on_through_the_standby() {
    let mut s = Scenario::new();
    s.client.sends = vec![
        (always, post_head(400_000)),
        (|n: &Net| n.t > 50, post_body(400_000)),
    ];
    s.server.respond_when = all_read;
    s.body_len = 64 * 1024;
    s.fe_dies_when = Some(mid_upload);
    let net = run(s);
    check_taken_over(&net);
}

#[test]
fn a_tunnelled_download_goes_on_through_the_standby() {
    let net = run(Scenario {
        fe_extra: "encap ipip",
        fe_dies_when: Some(mid_download),
        ..Scenario::new()
    });
    check_taken_over(&net);
    assert!(net.stats.tunnelled > 0);
}

/// While the connection waits for a new front-end, only a live peer's
/// forwarding adopts it: a segment another host on the back-end's link
/// forges (a blind spoofer who knows the 4-tuple) is dropped and counted,
/// and the download then goes on through the standby.
#[test]
fn only_a_peer_adopts_an_orphaned_connection() {
    let mut net = Net::new(Scenario {
        fe_dies_when: Some(mid_download),
        ..Scenario::new()
    });
    let announced = |n: &Net| n.be_side().stats().flows_announced == 1;
    net.run_until(announced, 20_000);
    let other_host = 0x0a03_0063; // 10.3.0.99
    let forged = net.forwarded_segment(Flags::ACK, &[]);
    net.inject_at_be(forged, other_host);
    net.run_for(10);
    let be = net.be_side().stats();
    assert_eq!((be.forward_foreign, be.orphans_adopted), (1, 0));
    net.run(60_000);
    check_delivery(&net);
    check_taken_over(&net);
}

/// A planned switch: the VIP moves to the standby while the front-end
/// lives. The standby asks the back-end for its connections
/// (FLOW_QUERY), which makes it their front-end at once; until the
/// announcement arrives it drops the client's segments of the connection
/// instead of letting a stack reset them, and the client sends them
/// again.
#[test]
fn a_download_goes_on_when_the_vip_moves() {
    let net = run(Scenario {
        vip_moves_when: Some(mid_download),
        ..Scenario::new()
    });
    let be = net.be_side().stats();
    assert_eq!((be.flows_handed_over, be.flows_announced), (1, 0));
    let standby = net.fe_stats();
    assert_eq!(standby.flows_adopted, 1);
    assert!(
        standby.takeover_held > 0,
        "nothing came before the announcement"
    );
    assert!(net.vip_moved_at.is_some() && net.fe_died_at.is_none());
}

/// The VIP moves after the back-end declared the front-end dead and
/// announced its connection: the query hands it to the standby all the
/// same (the copy it had is refreshed).
#[test]
fn a_death_then_the_vip_taken() {
    let net = run(Scenario {
        fe_dies_when: Some(mid_download),
        vip_moves_when: Some(|n: &Net| n.fe_died_at.is_some_and(|d| n.t >= d + TAKEOVER_MS)),
        ..Scenario::new()
    });
    let be = net.be_side().stats();
    assert_eq!(be.flows_announced, 1);
    assert!(be.flows_handed_over <= 1);
}
