//! The front-end node's packet path at scale (`make bench-scale`, not a
//! test): a node holding 10^3, 10^5 and 10^6 handed-off (forwarding)
//! flows, fed client ACKs of flows picked at random. Prints the time per
//! forwarded packet (the flow's lookup, its machine and the translation's
//! edits applied to the packet) and the heap bytes per flow of the host's
//! storage, hash maps (`tests/common/store.rs`; the kernel's,
//! `btcp/table.rs`, is measured in the lab by its slab growth).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "../tests/common/store.rs"]
#[allow(dead_code, unreachable_pub)]
mod store;

use btcp_core::flow::{Config, Endpoint};
use btcp_core::node::{Disposition, FlowStore, Io, LivePeers, Side};
use btcp_core::segment::{OutSegment, Seg};
use btcp_core::tcp::Flags;
use btcp_core::wire::{FlowRef, HandoffAck, Message, SynOptions};
use btcp_core::xlate;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use store::HostNode;

const VIP: u32 = 0x0a02_0001;
const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n";

/// What the node asked for: the last SYN/ACK's sequence number, and the
/// last HANDOFF_REQ's flow.
#[derive(Default)]
struct Seen {
    synack_seq: u32,
    req: Option<FlowRef>,
}

impl Io for Seen {
    fn transmit(&mut self, _: Side, seg: &OutSegment) {
        if seg.flags.syn() {
            self.synack_seq = seg.seq;
        }
    }
    fn inject(&mut self, _: &OutSegment, _: &[u8]) {}
    fn recycle_time_wait(&mut self, _: btcp_core::flow::FlowKey) {}
    fn send(&mut self, _: u16, msg: &Message<'_>) {
        if let Message::HandoffReq(r) = msg {
            self.req = Some(FlowRef::of(r));
        }
    }
    fn frag_needed(&mut self, _: &Seg<'_>, _: u16) {}
    fn sent_by(&mut self, _: u32) -> bool {
        true
    }
}

/// Client `i`'s address and port (up to 50,000 ports per address).
fn client(i: usize) -> Endpoint {
    let i = u32::try_from(i).unwrap();
    Endpoint::new(0x0a40_0000 + i / 50_000, 1024 + (i % 50_000) as u16)
}

fn segment(src: Endpoint, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let s = OutSegment {
        src,
        dst: Endpoint::new(VIP, 80),
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

fn feed(node: &mut HostNode, pkt: &[u8], io: &mut Seen) -> Disposition {
    let seg = Seg::parse(pkt).unwrap();
    let mut payload = seg.pkt.payload(pkt);
    node.on_client_segment(&seg, &mut payload, 0, 0, io)
}

/// A front-end node with `n` flows handed off to peer 2 and forwarding;
/// returns it with each flow's next client sequence and ack numbers.
fn forwarding(n: usize) -> (HostNode, Vec<(u32, u32)>) {
    let text = "node 1 10.2.0.2\npeer 2 10.3.0.1\nservice 10.2.0.1:80\nrules default=2\n";
    let mut node = store::host_node(text, Config::default(), [7; 16], n);
    let mut live = LivePeers::default();
    live.add(2, 0);
    node.set_live(live);
    let mut next = Vec::with_capacity(n);
    for i in 0..n {
        let c = client(i);
        let isn = (i as u32).wrapping_mul(2_654_435_761);
        let mut io = Seen::default();
        feed(&mut node, &segment(c, isn, 0, Flags::SYN, &[]), &mut io);
        let (seq, ack) = (isn.wrapping_add(1), io.synack_seq.wrapping_add(1));
        feed(
            &mut node,
            &segment(c, seq, ack, Flags::ACK | Flags::PSH, REQUEST),
            &mut io,
        );
        let ack_msg = Message::HandoffAck(HandoffAck {
            flow: io.req.expect("handed off"),
            be_node: 2,
            isn_be: isn ^ 0x5555_5555,
            be_opts: SynOptions {
                mss: 1460,
                wscale: None,
                sack_permitted: false,
                timestamps: false,
            },
            be_tsval: 0,
        });
        node.on_message(2, &ack_msg, 0, &mut io);
        next.push((seq.wrapping_add(REQUEST.len() as u32), ack));
    }
    (node, next)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fe_forward");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (mut node, next) = forwarding(n);
        let bytes = node.fe().heap_bytes();
        let live = node.fe().occupancy().live();
        assert_eq!(live, n, "every flow is live");
        println!(
            "node with {n} forwarding flows: {} heap bytes per flow (host storage; FeFlow is {} bytes)",
            bytes / n,
            std::mem::size_of::<btcp_core::frontend::FeFlow>()
        );
        // ACKs of 4,096 flows picked at random (a fixed LCG).
        let mut x = 12_345u64;
        let packets: Vec<Vec<u8>> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let i = (x >> 33) as usize % n;
                let (seq, ack) = next[i];
                segment(client(i), seq, ack, Flags::ACK, &[])
            })
            .collect();
        let mut k = 0;
        g.bench_function(format!("{n}_flows"), |b| {
            b.iter_batched_ref(
                || {
                    k = (k + 1) % packets.len();
                    packets[k].clone()
                },
                |p| {
                    let d = feed(&mut node, p, &mut Seen::default());
                    let Disposition::Forward { edits, .. } = d else {
                        panic!("not forwarded: {d:?}");
                    };
                    xlate::apply(p, &edits).unwrap();
                    black_box(p);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
