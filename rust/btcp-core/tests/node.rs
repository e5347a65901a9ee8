//! The node (`btcp_core::node`) on many flows at once, as the kernel runs
//! it: tables that fill and reclaim, the flow-id map, where a handoff
//! goes and what happens when it is refused or unanswered, and its
//! timers. One connection end to end through two nodes is the simulated
//! network's job (`sim.rs`, `faults.rs`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "common/store.rs"]
#[allow(dead_code, unreachable_pub)]
mod store;

use btcp_core::flow::{Config, Endpoint, FlowKey};
use btcp_core::frontend::FeState;
use btcp_core::health::{Listener, Listeners, Unfit, ACCEPT_STALL_MS};
use btcp_core::metrics::{Event, Metrics};
use btcp_core::node::{Disposition, FlowStore, Io, LivePeers, Side};
use btcp_core::rules::PoolName;
use btcp_core::segment::{OutSegment, Seg};
use btcp_core::tcp::Flags;
use btcp_core::wire::{
    FlowAnnounce, FlowRef, HandoffAck, HandoffNack, Message, NackReason, SynOptions, Terminate,
    TerminateReason,
};
use store::{host_node, shard_node, sized_node, HostBalance, HostNode};

const VIP: u32 = 0x0a02_0001;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/// Everything a node asked for, in order.
#[derive(Default, Debug)]
struct Log {
    to_client: Vec<Flags>,
    /// The last segment to the client: (from, seq).
    last_to_client: (Endpoint, u32),
    synack_seq: u32,
    /// The last SYN/ACK's timestamps, window scale and SACK-permitted.
    synack_opts: (Option<(u32, u32)>, Option<u8>, bool),
    /// The client's SYN options each HANDOFF_REQ carried.
    req_opts: Vec<btcp_core::wire::SynOptions>,
    injected: usize,
    /// (to, the flow) of each HANDOFF_REQ.
    reqs: Vec<(u16, FlowRef)>,
    others: Vec<(u16, Message<'static>)>,
    /// What the node counted for the metrics.
    events: Vec<Event>,
}

impl Io for Log {
    fn transmit(&mut self, _: Side, seg: &OutSegment) {
        if seg.flags.syn() {
            self.synack_seq = seg.seq;
            self.synack_opts = (seg.ts, seg.wscale, seg.sack_perm);
        }
        self.to_client.push(seg.flags);
        self.last_to_client = (seg.src, seg.seq);
    }
    fn inject(&mut self, _: &OutSegment, _: &[u8]) {
        self.injected += 1;
    }
    fn recycle_time_wait(&mut self, _: FlowKey) {}
    fn send(&mut self, to: u16, msg: &Message<'_>) {
        match *msg {
            Message::HandoffReq(r) => {
                self.reqs.push((to, FlowRef::of(&r)));
                self.req_opts.push(r.client_opts);
            }
            Message::HandoffAck(a) => self.others.push((to, Message::HandoffAck(a))),
            Message::HandoffNack(n) => self.others.push((to, Message::HandoffNack(n))),
            Message::Terminate(t) => self.others.push((to, Message::Terminate(t))),
            Message::HandoffCancel(d) => self.others.push((to, Message::HandoffCancel(d))),
            Message::HandoffConfirm(d) => self.others.push((to, Message::HandoffConfirm(d))),
            _ => {}
        }
    }
    fn frag_needed(&mut self, _: &Seg<'_>, _: u16) {}
    fn sent_by(&mut self, _: u32) -> bool {
        true
    }
    fn record(&mut self, ev: &Event) {
        self.events.push(*ev);
    }
}

fn client(i: u16) -> Endpoint {
    Endpoint::new(0x0a01_0001, 10_000 + i)
}

fn packet(src: Endpoint, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
    packet_to(80, src, seq, ack, flags, payload)
}

/// A client's packet to the VIP's `port`.
fn packet_to(
    port: u16,
    src: Endpoint,
    seq: u32,
    ack: u32,
    flags: Flags,
    payload: &[u8],
) -> Vec<u8> {
    let s = OutSegment {
        src,
        dst: Endpoint::new(VIP, port),
        seq,
        ack,
        flags,
        window: 65_535,
        mss: flags.syn().then_some(1460),
        payload_len: payload.len() as u32,
        ..OutSegment::default()
    };
    let mut p = vec![0; s.packet_len()];
    s.write(&mut p, payload).unwrap();
    p
}

fn feed(node: &mut HostNode, pkt: &[u8], now: u64, log: &mut Log) -> Disposition {
    let seg = Seg::parse(pkt).unwrap();
    let mut payload = seg.pkt.payload(pkt);
    node.on_client_segment(&seg, &mut payload, 0, now, log)
}

const TWO_PEERS: &str = "node 1 10.2.0.2\npeer 2 10.3.0.1\npeer 3 10.3.0.2\n\
                         service 10.2.0.1:80\npool web policy least-conn nodes 2,3\n\
                         rules default=web\n";

fn node(text: &str, max: usize) -> HostNode {
    let mut n = host_node(text, Config::default(), [1; 16], max);
    n.set_live(live_2_3());
    n
}

fn live_2_3() -> LivePeers {
    let mut live = LivePeers::default();
    live.add(2, 0);
    live.add(3, 0);
    live
}

/// Client `i` connects and sends the request: returns its next sequence
/// and acknowledgment numbers.
fn connect(n: &mut HostNode, i: u16, now: u64, log: &mut Log) -> (u32, u32) {
    let isn = 1_000 * u32::from(i);
    assert_eq!(
        feed(n, &packet(client(i), isn, 0, Flags::SYN, &[]), now, log),
        Disposition::Drop
    );
    let ack = log.synack_seq.wrapping_add(1);
    let seq = isn + 1;
    feed(
        n,
        &packet(client(i), seq, ack, Flags::ACK | Flags::PSH, REQUEST),
        now,
        log,
    );
    (seq + REQUEST.len() as u32, ack)
}

fn ack_from(be: u16, flow: FlowRef) -> Message<'static> {
    Message::HandoffAck(HandoffAck {
        flow,
        be_node: be,
        isn_be: 77,
        be_opts: SynOptions {
            mss: 1460,
            wscale: None,
            sack_permitted: false,
            timestamps: false,
        },
        be_tsval: 0,
    })
}

fn key(i: u16) -> FlowKey {
    FlowKey::new(client(i), Endpoint::new(VIP, 80))
}

#[test]
fn a_full_table_refuses_then_reclaims_the_oldest_lingering_flow() {
    let mut n = node(TWO_PEERS, 3);
    let mut log = Log::default();
    for i in 0..3 {
        connect(&mut n, i, 0, &mut log);
    }
    // Three live flows: the fourth SYN is dropped and counted.
    feed(
        &mut n,
        &packet(client(3), 5, 0, Flags::SYN, &[]),
        0,
        &mut log,
    );
    assert_eq!(n.stats().syn_table_full, 1);
    assert!(n.fe().peek(&key(3)).is_none());
    // Flows 1 then 0 are handed off and end: they linger, 1 longest.
    for i in [1u16, 0] {
        let (to, flow) = *log
            .reqs
            .iter()
            .find(|(_, f)| f.client_port == client(i).port)
            .unwrap();
        n.on_message(to, &ack_from(to, flow), 0, &mut log);
        let end = Message::Terminate(Terminate {
            flow,
            reason: TerminateReason::Fin,
        });
        n.on_message(to, &end, 0, &mut log);
        assert_eq!(n.fe().peek(&key(i)).unwrap().state(), FeState::Linger);
    }
    assert_eq!(
        (n.fe().occupancy().live(), n.fe().occupancy().lingering()),
        (1, 2)
    );
    // Two new clients take the lingering slots, oldest first.
    connect(&mut n, 4, 1, &mut log);
    assert!(n.fe().peek(&key(1)).is_none() && n.fe().peek(&key(0)).is_some());
    connect(&mut n, 5, 1, &mut log);
    assert!(n.fe().peek(&key(0)).is_none());
    assert_eq!(n.stats().fe_reclaimed, 2);
    // A late message for a reclaimed flow finds nothing; one for an
    // earlier connection on a 4-tuple in use does not match its id.
    let (to, old) = log.reqs[0];
    n.on_message(to, &ack_from(to, old), 2, &mut log);
    let (to4, new) = *log
        .reqs
        .iter()
        .find(|(_, f)| f.client_port == client(4).port)
        .unwrap();
    let stale = FlowRef {
        fe_flow_id: new.fe_flow_id ^ 1,
        ..new
    };
    n.on_message(to4, &ack_from(to4, stale), 2, &mut log);
    assert_eq!(n.fe().peek(&key(4)).unwrap().state(), FeState::HandingOff);
    assert_eq!(n.stats().handoff_acks, 2, "only the two above");
}

#[test]
fn handoffs_spread_by_open_connections_and_an_ack_starts_forwarding() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    let (seq, ack) = connect(&mut n, 0, 0, &mut log);
    let (to, id) = log.reqs[0];
    n.on_message(to, &ack_from(to, id), 0, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Forwarding);
    assert_eq!(n.stats().handoff_acks, 1);
    // The next connection goes to the node with fewer open handoffs.
    connect(&mut n, 1, 0, &mut log);
    assert_ne!(log.reqs[1].0, to, "least-conn weighs the open handoff");
    // A client segment of the first flow is forwarded to its back-end.
    let d = feed(
        &mut n,
        &packet(client(0), seq, ack, Flags::ACK, &[]),
        1,
        &mut log,
    );
    assert!(
        matches!(d, Disposition::Forward { local: false, .. }),
        "{d:?}"
    );
    // An ACK from a node that was not asked is ignored.
    let other = if to == 2 { 3 } else { 2 };
    let (_, id1) = log.reqs[1];
    n.on_message(to, &ack_from(to, id1), 1, &mut log);
    assert_eq!(n.fe().peek(&key(1)).unwrap().state(), FeState::HandingOff);
    n.on_message(other, &ack_from(other, id1), 1, &mut log);
    assert_eq!(n.fe().peek(&key(1)).unwrap().state(), FeState::Forwarding);
}

/// What back-end `be`'s FLOW_ANNOUNCE of client `i`'s connection to
/// port `port` says, the client's next sequence number at 5,000 and our
/// ISN at 9,000.
fn announce(i: u16, port: u16) -> FlowAnnounce {
    let opts = SynOptions {
        mss: 1460,
        wscale: None,
        sack_permitted: false,
        timestamps: false,
    };
    FlowAnnounce {
        flow: FlowRef {
            fe_flow_id: 42,
            client_addr: client(i).addr,
            client_port: client(i).port,
            vip_addr: VIP,
            vip_port: port,
        },
        isn_client: 4_000,
        client_opts: opts,
        fe_opts: opts,
        be_opts: opts,
        isn_fe: 9_000,
        isn_be: 70_000,
        client_nxt: 5_000,
        client_ack: 9_500,
        client_edge: 20_000,
        client_window: 65_535,
        ..FlowAnnounce::default()
    }
}

#[test]
fn an_announced_connection_is_adopted_unless_it_is_ours() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    // Back-end 3 announces client 5's connection: we forward it there,
    // into its sequence space, and count it as node 3's load.
    n.on_message(3, &Message::FlowAnnounce(announce(5, 80)), 0, &mut log);
    let flow = *n.fe().peek(&key(5)).unwrap();
    assert_eq!(flow.state(), FeState::Forwarding);
    assert_eq!((flow.id(), flow.target().unwrap().node), (42, 3));
    assert_eq!(n.stats().flows_adopted, 1);
    let d = feed(
        &mut n,
        &packet(client(5), 5_000, 9_600, Flags::ACK, b"x"),
        1,
        &mut log,
    );
    assert!(
        matches!(d, Disposition::Forward { local: false, .. }),
        "{d:?}"
    );
    connect(&mut n, 0, 1, &mut log);
    assert_eq!(log.reqs[0].0, 2, "the adopted connection is node 3's load");
    // A blind segment is refused as for any forwarded flow.
    let blind = packet(client(5), 5_000 + (1 << 30), 9_600, Flags::ACK, b"x");
    assert_eq!(feed(&mut n, &blind, 2, &mut log), Disposition::Drop);
    // Its back-end's TERMINATE ends it, as for a flow we handed off.
    let end = Message::Terminate(Terminate {
        flow: announce(5, 80).flow,
        reason: TerminateReason::Fin,
    });
    n.on_message(3, &end, 3, &mut log);
    assert_eq!(n.fe().peek(&key(5)).unwrap().state(), FeState::Linger);
    // A lingering flow gives way to an announcement; a live one of ours
    // does not (we did not die: the back-end was wrong); nor does a
    // port we do not front.
    n.on_message(2, &Message::FlowAnnounce(announce(5, 80)), 4, &mut log);
    assert_eq!(n.fe().peek(&key(5)).unwrap().target().unwrap().node, 2);
    n.on_message(2, &Message::FlowAnnounce(announce(0, 80)), 4, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::HandingOff);
    n.on_message(2, &Message::FlowAnnounce(announce(6, 8080)), 4, &mut log);
    let other_port = FlowKey::new(client(6), Endpoint::new(VIP, 8080));
    assert!(n.fe().peek(&other_port).is_none());
    assert_eq!(n.stats().flows_adopted, 2);
}

/// A node that takes a VIP (back): its forwarding flows from before
/// linger (a back-end's announcement brings back those still open), and
/// segments of connections it does not know are dropped for a while,
/// not left to its stack to reset: their announcement is on its way. A
/// VIP that is not ours yet holds them too.
#[test]
fn taking_a_vip_retires_old_flows_and_holds_unknown_segments() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    let (seq, ack) = connect(&mut n, 0, 0, &mut log);
    let (to, id) = log.reqs[0];
    n.on_message(to, &ack_from(to, id), 0, &mut log);
    let unknown = packet(client(9), 5, 6, Flags::ACK, b"x");
    assert_eq!(feed(&mut n, &unknown, 1, &mut log), Disposition::Accept);
    n.vip_lost(VIP);
    assert_eq!(feed(&mut n, &unknown, 2, &mut log), Disposition::Drop);
    n.vip_taken(VIP, 3, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Linger);
    // A lingering flow still forwards its client's late segments.
    let late = packet(client(0), seq, ack, Flags::ACK, &[]);
    assert!(matches!(
        feed(&mut n, &late, 4, &mut log),
        Disposition::Forward { .. }
    ));
    let hold = btcp_core::node::failover::TAKEOVER_HOLD_MS;
    assert_eq!(
        feed(&mut n, &unknown, 3 + hold - 1, &mut log),
        Disposition::Drop
    );
    assert_eq!(
        feed(&mut n, &unknown, 3 + hold, &mut log),
        Disposition::Accept
    );
    assert_eq!(n.stats().takeover_held, 2);
}

#[test]
fn a_connection_that_ended_is_no_load_while_it_lingers() {
    // Clients 0 and 1 go to nodes 2 and 3 (least-conn, ties to the first).
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    for i in 0..2 {
        connect(&mut n, i, 0, &mut log);
        let (to, id) = log.reqs[usize::from(i)];
        assert_eq!(to, 2 + i);
        n.on_message(to, &ack_from(to, id), 0, &mut log);
    }
    // Node 3's connection ends: the flow lingers for late packets, but
    // node 3 has nothing open, so the next connection goes there (LARD
    // and least-conn weigh open connections; counting lingering flows
    // made every node look overloaded under Connection: close).
    let (_, id1) = log.reqs[1];
    let end = Message::Terminate(Terminate {
        flow: id1,
        reason: TerminateReason::Fin,
    });
    n.on_message(3, &end, 1, &mut log);
    assert_eq!(n.fe().peek(&key(1)).unwrap().state(), FeState::Linger);
    connect(&mut n, 2, 2, &mut log);
    assert_eq!(log.reqs[2].0, 3, "a lingering flow is no load");
}

#[test]
fn a_dead_back_ends_clients_are_reset_after_the_grace_only() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    let (seq, ack) = connect(&mut n, 0, 0, &mut log);
    let (to, id) = log.reqs[0];
    n.on_message(to, &ack_from(to, id), 0, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Forwarding);
    let grace = n.flow_config().dead_grace_ms;
    let other = 5 - to;
    let dead = |for_ms| {
        let mut l = LivePeers::default();
        l.add(other, 0);
        l.add_dead(to, for_ms);
        l
    };
    // A request its pool may serve where it is: it goes on untouched.
    let data = packet(client(0), seq, ack + 100, Flags::ACK, REQUEST);
    // Declared dead, within the grace: forwarded as ever (it may be back).
    n.set_live(dead(grace - 1));
    let d = feed(&mut n, &data, 10, &mut log);
    assert!(matches!(d, Disposition::Forward { .. }), "{d:?}");
    // Back within the grace: nothing was reset.
    n.set_live(live_2_3());
    let d = feed(&mut n, &data, 20, &mut log);
    assert!(matches!(d, Disposition::Forward { .. }), "{d:?}");
    assert_eq!(n.stats().dead_target_resets, 0);
    // Dead past the grace: a segment no stack takes changes nothing...
    n.set_live(dead(grace));
    let blind = packet(client(0), seq.wrapping_add(1 << 30), ack, Flags::ACK, b"x");
    assert_eq!(feed(&mut n, &blind, 30, &mut log), Disposition::Drop);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Forwarding);
    // ...the client's next one gets an RST at the acknowledgment it
    // carries, from the VIP, and the flow lingers.
    let before = log.to_client.len();
    assert_eq!(feed(&mut n, &data, 40, &mut log), Disposition::Drop);
    assert_eq!(log.to_client[before..], [Flags::RST]);
    assert_eq!(log.last_to_client, (Endpoint::new(VIP, 80), ack + 100));
    assert_eq!(n.stats().dead_target_resets, 1);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Linger);
}

#[test]
fn new_connections_skip_a_node_with_no_listener_and_an_overloaded_one_if_they_can() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    let web = Endpoint::new(VIP, 80);
    let unfit = |listening, oldest_ms| {
        let l = Listener {
            service: web,
            listening,
            queued: 1,
            limit: 511,
            oldest_ms,
        };
        Unfit::assess(&[web], &Listeners::of([l]))
    };
    let (none, stalled) = (unfit(false, 0), unfit(true, ACCEPT_STALL_MS));
    let health = |two, three| {
        let mut l = LivePeers::default();
        l.add_unfit(2, 0, two);
        l.add_unfit(3, 0, three);
        l.set_own(none);
        l
    };
    // Least-connections would alternate; nothing listens on 2.
    n.set_live(health(none, Unfit::default()));
    for i in 0..4 {
        connect(&mut n, i, 0, &mut log);
    }
    assert!(log.reqs.iter().all(|&(to, _)| to == 3), "{:?}", log.reqs);
    // 3 stalled, 2 still not listening (nor this node): 3, the last resort.
    n.set_live(health(none, stalled));
    connect(&mut n, 4, 0, &mut log);
    assert_eq!(log.reqs[4].0, 3);
    assert_eq!(n.stats().picks_overloaded, 1);
    // 2 listening but stalled, 3 serving again with five connections more
    // than 2: 3.
    n.set_live(health(stalled, Unfit::default()));
    connect(&mut n, 5, 0, &mut log);
    assert_eq!(log.reqs[5].0, 3);
    // Nothing listens anywhere: the client is reset, nothing is offered.
    n.set_live(health(none, none));
    connect(&mut n, 6, 0, &mut log);
    assert_eq!(log.reqs.len(), 6);
    assert_eq!(n.stats().handoffs_abandoned, 1);
    assert!(log.to_client.last().is_some_and(|f| f.rst()));
    assert_eq!(n.stats().picks_overloaded, 1);
}

#[test]
fn a_head_seen_to_be_malformed_is_handed_off_at_once() {
    // Bare LF line ends, and the start of a TLS ClientHello: neither will
    // ever end in CRLF CRLF, so neither waits for the head deadline.
    for (i, head) in [
        &b"GET / HTTP/1.1\nHost: a\n\n"[..],
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
    ]
    .into_iter()
    .enumerate()
    {
        let mut n = node(TWO_PEERS, 16);
        let mut log = Log::default();
        let c = client(i as u16);
        feed(&mut n, &packet(c, 1_000, 0, Flags::SYN, &[]), 0, &mut log);
        let ack = log.synack_seq.wrapping_add(1);
        feed(
            &mut n,
            &packet(c, 1_001, ack, Flags::ACK | Flags::PSH, head),
            1,
            &mut log,
        );
        assert_eq!(log.reqs.len(), 1, "handed off at once: {head:?}");
        assert_eq!(n.stats().handoffs_remote, 1);
    }
}

#[test]
fn a_tls_service_is_dispatched_by_the_client_hellos_server_name() {
    const TLS: &str = "node 1 10.2.0.2\npeer 2 10.3.0.1\npeer 3 10.3.0.2\n\
                       service 10.2.0.1:80\nservice 10.2.0.1:443 tls\n\
                       rules sni:a.example=3,sni:*.b.example=2,/=3,default=2\n";
    // A ClientHello asking for `name` (none: no server_name extension).
    let hello = |name: Option<&[u8]>| {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut exts = vec![];
        if let Some(n) = name {
            let list_len = (n.len() + 3) as u16;
            exts.extend_from_slice(&[0, 0]);
            exts.extend_from_slice(&(list_len + 2).to_be_bytes());
            exts.extend_from_slice(&list_len.to_be_bytes());
            exts.push(0);
            exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
            exts.extend_from_slice(n);
        }
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        rec.push(1);
        rec.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        rec.extend_from_slice(&body);
        rec
    };
    let cases: [(Option<&[u8]>, u16); 4] = [
        (Some(b"a.example"), 3),
        (Some(b"www.b.example"), 2),
        // No name, or a name no rule has: the default (HTTP rules, here
        // `/`, never match a TLS connection).
        (None, 2),
        (Some(b"c.example"), 2),
    ];
    for (i, (name, want)) in cases.into_iter().enumerate() {
        let mut n = node(TLS, 16);
        let mut log = Log::default();
        let c = client(i as u16);
        feed(
            &mut n,
            &packet_to(443, c, 1_000, 0, Flags::SYN, &[]),
            0,
            &mut log,
        );
        let ack = log.synack_seq.wrapping_add(1);
        let rec = hello(name);
        // The record in two segments: nothing goes before it is whole.
        let (a, b) = rec.split_at(rec.len() / 2);
        feed(
            &mut n,
            &packet_to(443, c, 1_001, ack, Flags::ACK, a),
            1,
            &mut log,
        );
        assert!(log.reqs.is_empty(), "{name:?}: handed off half a hello");
        let seq = 1_001 + a.len() as u32;
        feed(
            &mut n,
            &packet_to(443, c, seq, ack, Flags::ACK | Flags::PSH, b),
            2,
            &mut log,
        );
        assert_eq!(log.reqs.len(), 1, "{name:?}");
        assert_eq!(log.reqs[0].0, want, "{name:?}");
    }
    // An HTTP request to the TLS port is not a hello: the default, at once.
    let mut n = node(TLS, 16);
    let mut log = Log::default();
    let c = client(9);
    feed(
        &mut n,
        &packet_to(443, c, 1_000, 0, Flags::SYN, &[]),
        0,
        &mut log,
    );
    let ack = log.synack_seq.wrapping_add(1);
    feed(
        &mut n,
        &packet_to(443, c, 1_001, ack, Flags::ACK, b"GET /"),
        1,
        &mut log,
    );
    assert_eq!(log.reqs.len(), 1);
    assert_eq!(log.reqs[0].0, 2);
}

#[test]
fn a_refused_handoff_goes_to_the_other_node() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    let (first, id) = log.reqs[0];
    let nack = Message::HandoffNack(HandoffNack {
        flow: id,
        reason: NackReason::Overloaded,
    });
    n.on_message(first, &nack, 1, &mut log);
    assert_eq!(n.stats().nack_overloaded, 1);
    assert_eq!(log.reqs.len(), 2);
    assert_ne!(
        log.reqs[1].0, first,
        "the node that refused is not asked again"
    );
    // Refused there too: the pool is used up, and the fallback is any
    // usable node, this one included (its own stack).
    n.on_message(log.reqs[1].0, &nack, 2, &mut log);
    assert_eq!(n.stats().handoffs_local, 1);
    assert_eq!(n.stats().handoffs_abandoned, 0);
    // Where this node's own back-end side refuses too (its table holds no
    // flow), the tries are used up and the client is reset.
    let mut n = sized_node(TWO_PEERS, Config::default(), [1; 16], (16, 0));
    n.set_live(live_2_3());
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    let nack = Message::HandoffNack(HandoffNack {
        flow: log.reqs[0].1,
        reason: NackReason::Refused,
    });
    n.on_message(log.reqs[0].0, &nack, 1, &mut log);
    let nack = Message::HandoffNack(HandoffNack {
        flow: log.reqs[1].1,
        reason: NackReason::Refused,
    });
    n.on_message(log.reqs[1].0, &nack, 2, &mut log);
    assert_eq!(n.stats().be_table_full, 1);
    assert_eq!(n.stats().handoffs_abandoned, 0);
    assert!(log.to_client.last().unwrap().rst(), "the client is reset");
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Linger);
}

/// The metrics: an offer through the pool, its round trip when answered,
/// a refusal, a timeout; what a `Metrics` makes of them.
#[test]
fn figures_count_offers_round_trips_refusals_and_timeouts() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    let service = Endpoint::new(VIP, 80);
    let web = PoolName::new(b"web");
    connect(&mut n, 0, 10, &mut log);
    let (first, id) = log.reqs[0];
    n.on_message(first, &ack_from(first, id), 17, &mut log);
    let offered = |node| Event::Offered {
        node,
        service,
        pool: web,
    };
    assert_eq!(
        log.events,
        [
            offered(first),
            Event::Answered {
                node: first,
                rtt_ms: 7
            }
        ]
    );
    // A repeated ACK is no second round trip.
    n.on_message(first, &ack_from(first, id), 30, &mut log);
    assert_eq!(log.events.len(), 2);
    // A second connection: refused by the first node, unanswered by the
    // other.
    log.events.clear();
    connect(&mut n, 1, 100, &mut log);
    let (a, id) = log.reqs[1];
    let nack = Message::HandoffNack(HandoffNack {
        flow: id,
        reason: NackReason::Overloaded,
    });
    n.on_message(a, &nack, 101, &mut log);
    let b = log.reqs[2].0;
    n.on_timers(101 + n.flow_config().handoff_ms, &mut log);
    assert_eq!(
        log.events[..4],
        [
            offered(a),
            Event::Refused { node: a },
            offered(b),
            Event::TimedOut { node: b }
        ]
    );
    let m = Metrics::new();
    for e in log.events.iter().chain(
        [Event::Answered {
            node: first,
            rtt_ms: 7,
        }]
        .iter(),
    ) {
        m.record(e);
    }
    let h = m.rtt(first);
    assert_eq!((h.count(), h.sum_ms), (1, 7));
    assert_eq!(h.cumulative[..4], [0, 0, 0, 1], "in the 10 ms bucket");
}

#[test]
fn an_unanswered_handoff_goes_to_the_other_nodes_then_the_client_is_reset() {
    let mut n = node(TWO_PEERS, 16);
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    let cfg = n.flow_config();
    let cancels = |log: &Log| -> Vec<u16> {
        let c = log.others.iter();
        c.filter(|(_, m)| matches!(m, Message::HandoffCancel(_)))
            .map(|(to, _)| *to)
            .collect()
    };
    // No answer in time: the other peer gets it, the first a cancel.
    let mut now = cfg.handoff_ms;
    n.on_timers(now, &mut log);
    assert_eq!(log.reqs.len(), 2);
    let (first, second) = (log.reqs[0].0, log.reqs[1].0);
    assert_ne!(first, second);
    assert_eq!(cancels(&log), [first]);
    // Nor from that one: this node's own stack, the last untried node.
    now += cfg.handoff_ms;
    n.on_timers(now, &mut log);
    assert_eq!(cancels(&log), [first, second]);
    assert_eq!(n.stats().handoffs_local, 1);
    assert_eq!(n.stats().handoffs_redispatched, 2);
    // Its stack never answers the replayed SYN (this test's Io injects
    // nothing): refused, and with every try used the client is reset.
    now += cfg.handoff_ms;
    n.on_timers(now, &mut log);
    assert!(log.to_client.last().unwrap().rst());
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Linger);
    assert_eq!(log.reqs.len(), 2, "no peer got it again");
    // It lingers, then the timers free it.
    now += cfg.linger_ms;
    n.on_timers(now, &mut log);
    assert_eq!(n.fe().occupancy().total(), 0);
}

#[test]
fn an_unanswered_handoff_with_no_other_node_is_resent_then_the_client_reset() {
    // One peer, and this node drains: nowhere else to go.
    let text = "node 1 10.2.0.2 state drain\npeer 2 10.3.0.1\n\
                service 10.2.0.1:80\nrules default=2\n";
    let mut n = node(text, 16);
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    let cfg = n.flow_config();
    let mut now = 0;
    for _ in 0..cfg.handoff_resends {
        now += cfg.handoff_ms;
        n.on_timers(now, &mut log);
    }
    assert_eq!(log.reqs.len(), 1 + usize::from(cfg.handoff_resends));
    assert!(
        log.reqs.iter().all(|r| *r == log.reqs[0]),
        "resent to the same node"
    );
    assert!(log.others.is_empty(), "no cancel for a resend");
    now += cfg.handoff_ms;
    n.on_timers(now, &mut log);
    assert!(log.to_client.last().unwrap().rst());
    assert!(matches!(log.others[..], [(2, Message::HandoffCancel(_))]));
    now += cfg.linger_ms;
    n.on_timers(now, &mut log);
    assert_eq!(n.fe().occupancy().total(), 0);
}

#[test]
fn a_local_handoff_never_leaves_the_node() {
    let text = "node 1 10.2.0.2\nservice 10.2.0.1:80\nrules default=1\n";
    let mut n = node(text, 16);
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    assert!(log.reqs.is_empty(), "no message on the control channel");
    assert_eq!(n.stats().handoffs_local, 1);
    assert_eq!(n.stats().handoffs_received, 1);
    // The back-end side injected the replayed SYN into the local stack.
    assert_eq!(log.injected, 1);
    assert!(n
        .be()
        .peek(&FlowKey::new(client(0), Endpoint::new(VIP, 80)))
        .is_some());
}

/// A request pipelined behind the first while a local handoff waits for
/// the stack's SYN/ACK is kept, and the back-end side replays it after
/// the first (nothing is left to the client's retransmission).
#[test]
fn a_local_handoff_takes_the_bytes_that_came_while_it_was_pending() {
    let text = "node 1 10.2.0.2\nservice 10.2.0.1:80\nrules default=1\n";
    let mut n = node(text, 16);
    let mut log = Log::default();
    let (seq, ack) = connect(&mut n, 0, 0, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::HandingOff);
    let more = packet(client(0), seq, ack, Flags::ACK | Flags::PSH, REQUEST);
    assert_eq!(feed(&mut n, &more, 1, &mut log), Disposition::Drop);
    // The stack answers the replayed SYN: the handoff is acknowledged,
    // the request and the bytes that followed it are replayed.
    let synack = OutSegment {
        src: Endpoint::new(VIP, 80),
        dst: client(0),
        seq: 500_000,
        ack: 1,
        flags: Flags::SYN | Flags::ACK,
        window: 65_535,
        mss: Some(1460),
        ..OutSegment::default()
    };
    let mut p = vec![0; synack.packet_len()];
    synack.write(&mut p, &[]).unwrap();
    n.on_egress(&Seg::parse(&p).unwrap(), &mut &[][..], 2, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::Forwarding);
    assert_eq!(n.stats().handoff_more, 1);
    let be = n.be().peek(&key(0)).unwrap();
    assert_eq!(be.request_len(), 2 * REQUEST.len());
}

#[test]
fn a_node_without_configuration_serves_locally() {
    let mut n = node("service 10.2.0.1:80\n", 16);
    let mut log = Log::default();
    connect(&mut n, 0, 0, &mut log);
    assert!(log.reqs.is_empty());
    assert_eq!(n.stats().handoffs_local, 1);
}

#[test]
fn a_back_end_full_of_live_flows_refuses_with_overloaded() {
    let mut be = host_node(
        "node 2 10.3.0.1\npeer 1 10.2.0.2\n",
        Config::default(),
        [2; 16],
        1,
    );
    let mut log = Log::default();
    // Two front-end flows' HANDOFF_REQs, as the channel carries them.
    let mut sent = Vec::new();
    struct Grab<'a>(&'a mut Vec<Vec<u8>>);
    impl Io for Grab<'_> {
        fn transmit(&mut self, _: Side, _: &OutSegment) {}
        fn inject(&mut self, _: &OutSegment, _: &[u8]) {}
        fn recycle_time_wait(&mut self, _: FlowKey) {}
        fn send(&mut self, _: u16, msg: &Message<'_>) {
            let mut buf = vec![0; btcp_core::wire::MAX_FRAME_LEN];
            let n = msg.encode(1, 2, 1, &mut buf).unwrap();
            buf.truncate(n);
            self.0.push(buf);
        }
        fn frag_needed(&mut self, _: &Seg<'_>, _: u16) {}
        fn sent_by(&mut self, _: u32) -> bool {
            true
        }
    }
    let mut fe = node(TWO_PEERS, 16);
    for i in 0..2 {
        let isn = 1_000 * u32::from(i);
        feed(
            &mut fe,
            &packet(client(i), isn, 0, Flags::SYN, &[]),
            0,
            &mut log,
        );
        let ack = log.synack_seq.wrapping_add(1);
        let seg = packet(client(i), isn + 1, ack, Flags::ACK | Flags::PSH, REQUEST);
        let s = Seg::parse(&seg).unwrap();
        let mut payload = s.pkt.payload(&seg);
        fe.on_client_segment(&s, &mut payload, 0, 0, &mut Grab(&mut sent));
    }
    assert_eq!(sent.len(), 2);
    for frame in &sent {
        let (f, _) = btcp_core::wire::decode(frame).unwrap();
        be.on_message(1, &f.message, 0, &mut log);
    }
    assert_eq!(be.stats().handoffs_received, 1);
    assert_eq!(be.stats().be_table_full, 1);
    let nacks: Vec<_> = log
        .others
        .iter()
        .filter(|(to, m)| {
            *to == 1 && matches!(m, Message::HandoffNack(n) if n.reason == NackReason::Overloaded)
        })
        .collect();
    assert_eq!(nacks.len(), 1);
}

/// A namespace's node split into shards, as the kernel runs it: each
/// connection's packets and messages go to its client's shard, and the
/// shards share one balance, so the pools weigh every shard's handoffs.
#[test]
fn shards_share_the_balance_and_route_by_client() {
    use btcp_core::config::NodeConfig;
    use btcp_core::node::NodeStats;
    use btcp_core::shard;
    let cfg = NodeConfig::parse(TWO_PEERS.as_bytes()).unwrap();
    let balance = HostBalance::new(&cfg);
    let (n, seed) = (4, 0x5eed);
    let mut shards: Vec<HostNode> = (0..n)
        .map(|i| {
            let max = shard::limit(64, n, i);
            let mut s = shard_node(
                &cfg,
                balance.clone(),
                Config::default(),
                [1; 16],
                (max, max),
            );
            s.set_live(live_2_3());
            s
        })
        .collect();
    let mut log = Log::default();
    let mut used = [0usize; 4];
    for i in 0..16u16 {
        let s = shard::of(client(i), seed, n);
        used[s] += 1;
        connect(&mut shards[s], i, 0, &mut log);
        // Answered at once: the next connection sees this one as open.
        let (to, flow) = *log.reqs.last().unwrap();
        assert_eq!(flow.client_port, client(i).port);
        let ack = ack_from(to, flow);
        let back = shard::client_of(&ack).unwrap();
        assert_eq!(back, client(i));
        shards[shard::of(back, seed, n)].on_message(to, &ack, 0, &mut log);
        assert_eq!(
            shards[s].fe().peek(&key(i)).unwrap().state(),
            FeState::Forwarding
        );
    }
    assert!(used.iter().filter(|&&u| u > 0).count() >= 3, "{used:?}");
    // Least connections over the whole node: 8 each, although every
    // shard alone saw only a few of the handoffs.
    let to = |node: u16| log.reqs.iter().filter(|(t, _)| *t == node).count();
    assert_eq!((to(2), to(3)), (8, 8));
    let mut all = NodeStats::default();
    for s in &shards {
        all.merge(s.stats());
    }
    assert_eq!(
        (all.syns, all.handoff_acks, all.handoffs_remote),
        (16, 16, 16)
    );
    let total: usize = shards.iter().map(|s| s.fe().occupancy().live()).sum();
    assert_eq!(total, 16);
}

/// A client SYN with the options of a modern stack (MSS 1460, window
/// scale 7, SACK, timestamps), or none of them.
fn syn_with(src: Endpoint, isn: u32, full: bool) -> Vec<u8> {
    let s = OutSegment {
        src,
        dst: Endpoint::new(VIP, 80),
        seq: isn,
        flags: Flags::SYN,
        window: 64_240,
        mss: Some(1460),
        wscale: full.then_some(7),
        sack_perm: full,
        ts: full.then_some((5_000, 0)),
        ..OutSegment::default()
    };
    let mut p = vec![0; s.packet_len()];
    s.write(&mut p, &[]).unwrap();
    p
}

/// The third ACK (with the request on it, as a fast client sends it),
/// echoing the SYN/ACK's timestamp if there was one.
fn third_ack(src: Endpoint, seq: u32, ack: u32, echo: Option<u32>) -> Vec<u8> {
    let s = OutSegment {
        src,
        dst: Endpoint::new(VIP, 80),
        seq,
        ack,
        flags: Flags::ACK | Flags::PSH,
        window: 502,
        ts: echo.map(|e| (5_001, e)),
        payload_len: REQUEST.len() as u32,
        ..OutSegment::default()
    };
    let mut p = vec![0; s.packet_len()];
    s.write(&mut p, REQUEST).unwrap();
    p
}

const COOKIES: &str = "node 1 10.2.0.2\npeer 2 10.3.0.1\npeer 3 10.3.0.2\n\
                       service 10.2.0.1:80\npool web policy least-conn nodes 2,3\n\
                       rules default=web\nsyncookies always\n";

#[test]
fn a_cookie_handshake_keeps_no_state_until_the_third_ack_and_hands_off() {
    for full in [true, false] {
        let mut n = node(COOKIES, 16);
        let mut log = Log::default();
        let now = 1_000_000;
        feed(&mut n, &syn_with(client(1), 77, full), now, &mut log);
        // Answered, and nothing kept.
        assert_eq!(n.stats().cookies_sent, 1);
        assert_eq!(n.fe().occupancy().total(), 0);
        let (ts, wscale, sack) = log.synack_opts;
        assert_eq!((wscale.is_some(), sack, ts.is_some()), (full, full, full));
        let cookie = log.synack_seq;
        // A wrong answer makes nothing; the stack behind resets it.
        let bad = third_ack(client(1), 78, cookie.wrapping_add(2), ts.map(|t| t.0));
        assert_eq!(feed(&mut n, &bad, now + 5, &mut log), Disposition::Accept);
        assert_eq!(
            (n.stats().cookies_rejected, n.fe().occupancy().total()),
            (1, 0)
        );
        // The right one, with the request on it: the flow is made and the
        // request handed off, the client's options recovered.
        let good = third_ack(client(1), 78, cookie.wrapping_add(1), ts.map(|t| t.0));
        assert_eq!(feed(&mut n, &good, now + 10, &mut log), Disposition::Drop);
        assert_eq!(n.stats().cookies_validated, 1);
        let flow = n.fe().peek(&key(1)).unwrap();
        assert_eq!(flow.state(), FeState::HandingOff);
        assert_eq!(flow.isn_fe(), cookie);
        assert_eq!(log.reqs.len(), 1);
        let o = log.req_opts[0];
        assert_eq!(o.mss, 1460);
        assert_eq!(
            (o.wscale, o.sack_permitted, o.timestamps),
            (full.then_some(7), full, full)
        );
        // The same third ACK again (the client resent it): the flow takes
        // it as a duplicate, no second flow or handoff.
        feed(&mut n, &good, now + 20, &mut log);
        assert_eq!((n.fe().occupancy().total(), log.reqs.len()), (1, 1));
    }
}

#[test]
fn a_cookie_expires_and_is_bound_to_its_connection() {
    let mut n = node(COOKIES, 16);
    let mut log = Log::default();
    let now = 1_000_000;
    feed(&mut n, &syn_with(client(1), 77, true), now, &mut log);
    let (cookie, ts) = (log.synack_seq, log.synack_opts.0.map(|t| t.0));
    // Another client (port) with the same numbers, a changed ISN.
    feed(
        &mut n,
        &third_ack(client(2), 78, cookie.wrapping_add(1), ts),
        now,
        &mut log,
    );
    feed(
        &mut n,
        &third_ack(client(1), 79, cookie.wrapping_add(1), ts),
        now,
        &mut log,
    );
    // Four minutes later, with no cookie sent since, a bare ACK is not
    // even looked at; with cookies out again, the old one is too old.
    let late = now + 4 * btcp_core::syncookie::SLOT_MS;
    let old = third_ack(client(1), 78, cookie.wrapping_add(1), ts);
    feed(&mut n, &old, late, &mut log);
    assert_eq!(n.stats().cookies_rejected, 2);
    feed(&mut n, &syn_with(client(5), 9, true), late, &mut log);
    feed(&mut n, &old, late, &mut log);
    assert_eq!(n.stats().cookies_rejected, 3);
    assert_eq!(n.fe().occupancy().total(), 0);
}

#[test]
fn auto_cookies_start_at_the_backlog_and_stop_below_it() {
    let text = COOKIES.replace("syncookies always", "syn-backlog 3");
    let mut n = node(&text, 16);
    let mut log = Log::default();
    // Three half-open flows: the fourth SYN gets a cookie.
    let mut synack0 = 0;
    for i in 0..4 {
        feed(&mut n, &syn_with(client(i), 1_000, false), 0, &mut log);
        if i == 0 {
            synack0 = log.synack_seq;
        }
    }
    assert_eq!((n.fe().occupancy().total(), n.stats().cookies_sent), (3, 1));
    // Client 0 completes its handshake: below the backlog again, and the
    // next SYN gets a flow.
    let ack = third_ack(client(0), 1_001, synack0.wrapping_add(1), None);
    feed(&mut n, &ack, 1, &mut log);
    assert_eq!(n.fe().peek(&key(0)).unwrap().state(), FeState::HandingOff);
    assert_eq!(n.stats().cookies_validated, 0, "a flow of its own");
    feed(&mut n, &syn_with(client(9), 1_000, false), 2, &mut log);
    assert_eq!((n.fe().occupancy().total(), n.stats().cookies_sent), (4, 1));
    // Half-open flows that time out leave the count too.
    let mut quiet = Log::default();
    n.on_timers(60_000, &mut quiet);
    for i in 10..13 {
        feed(&mut n, &syn_with(client(i), 1_000, false), 60_001, &mut log);
    }
    assert_eq!(n.stats().cookies_sent, 1);
}

/// `client-flows` (`client_limit.rs`): an address holding its share of
/// flows before their handoff gets cookies and no state; its cookie ACKs
/// are refused while it is still over; a flow handed off or gone gives
/// its share back; other addresses are not affected; the count is the
/// namespace's, whichever shard a flow is in.
#[test]
fn a_client_address_holds_at_most_client_flows_before_handoff() {
    use btcp_core::config::NodeConfig;
    let text = format!("{TWO_PEERS}client-flows 3\n");
    let cfg = NodeConfig::parse(text.as_bytes()).unwrap();
    let balance = HostBalance::new(&cfg);
    // Two shards sharing the counts: the address's flows in both.
    let mut shards: Vec<HostNode> = (0..2)
        .map(|_| {
            let mut s = shard_node(&cfg, balance.clone(), Config::default(), [1; 16], (16, 16));
            s.set_live(live_2_3());
            s
        })
        .collect();
    let mut log = Log::default();
    for i in 0..3u16 {
        let s = &mut shards[usize::from(i % 2)];
        feed(s, &syn_with(client(i), 1_000, false), 0, &mut log);
    }
    let held: usize = shards.iter().map(|s| s.fe().occupancy().total()).sum();
    assert_eq!(held, 3);
    // The fourth: a cookie, no flow; its good ACK is refused with an RST.
    feed(
        &mut shards[1],
        &syn_with(client(3), 1_000, false),
        1,
        &mut log,
    );
    let cookie = log.synack_seq;
    assert_eq!(shards[1].stats().cookies_sent, 1);
    assert_eq!(shards[1].stats().client_limited, 1);
    let ack = third_ack(client(3), 1_001, cookie.wrapping_add(1), None);
    assert_eq!(feed(&mut shards[1], &ack, 2, &mut log), Disposition::Drop);
    assert_eq!(shards[1].stats().client_limited, 2);
    assert!(log.to_client.last().is_some_and(|f| f.rst()));
    assert!(shards[1].fe().peek(&key(3)).is_none());
    // Another address is not limited.
    let other = Endpoint::new(0x0a01_0002, 10_000);
    feed(&mut shards[1], &syn_with(other, 1_000, false), 3, &mut log);
    assert_eq!(shards[1].stats().client_limited, 2);
    // Client 0's flow is handed off: its share comes back, and the
    // address gets a flow again.
    let s0 = &mut shards[0];
    let isn_f = s0.fe().peek(&key(0)).unwrap().isn_fe();
    feed(
        s0,
        &third_ack(client(0), 1_001, isn_f.wrapping_add(1), None),
        5,
        &mut log,
    );
    let (to, flow) = *log.reqs.last().unwrap();
    s0.on_message(to, &ack_from(to, flow), 6, &mut log);
    assert_eq!(s0.fe().peek(&key(0)).unwrap().state(), FeState::Forwarding);
    feed(
        &mut shards[1],
        &syn_with(client(4), 1_000, false),
        7,
        &mut log,
    );
    assert!(shards[1].fe().peek(&key(4)).is_some(), "room again");
    // Half-open flows that time out give theirs back too: three fit
    // again, and a fourth does not.
    for s in &mut shards {
        s.on_timers(60_000, &mut Log::default());
    }
    for i in 5..9u16 {
        feed(
            &mut shards[0],
            &syn_with(client(i), 1_000, false),
            60_001,
            &mut log,
        );
    }
    let fresh = (5..9u16).filter(|&i| shards[0].fe().peek(&key(i)).is_some());
    assert_eq!(fresh.count(), 3);
}

#[test]
fn over_client_flows_without_cookies_a_syn_is_dropped() {
    let text = format!("{TWO_PEERS}client-flows 1\nsyncookies never\n");
    let mut n = node(&text, 16);
    let mut log = Log::default();
    feed(&mut n, &syn_with(client(0), 1_000, false), 0, &mut log);
    let replies = log.to_client.len();
    feed(&mut n, &syn_with(client(1), 1_000, false), 1, &mut log);
    assert_eq!(log.to_client.len(), replies, "no answer");
    assert_eq!((n.stats().client_limited, n.stats().cookies_sent), (1, 0));
    assert_eq!(n.fe().occupancy().total(), 1);
}
