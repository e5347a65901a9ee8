//! Simulated network: a real TCP implementation (smoltcp) plays the client
//! and the back-end's stack; the front-end and back-end machines sit in
//! between doing what the kernel shell will do, over links with latency
//! and scripted loss, on a deterministic virtual clock (1 ms steps).
//!
//! ```text
//!   client C (smoltcp) ──5 ms──► FE (FeFlow)  ──1 ms──► BE stack B (smoltcp)
//!          ▲                      │  ▲ control channel (wire codec, 2 ms)
//!          │                      ▼  │
//!          └──────────5 ms─────── BE (BeFlow): egress rewrite, injection
//! ```
//!
//! Checked on every packet: IPv4 and TCP checksums of everything delivered
//! to either stack; the client only ever hears from V:80, and its PAWS
//! view (TSvals never go backwards); the back-end stack only sees
//! acknowledgments, SACK edges and TS echoes of its own sequence space and
//! clock. At the end: the response byte for byte, the request as the
//! back-end's server read it, and both flow tables empty after the linger.
//!
//! smoltcp 0.12 speaks MSS, window scaling, SACK (it sends SACK blocks; it
//! ignores received ones) and timestamps (with a `fn() -> u32` generator:
//! the clocks below read a thread-local virtual clock); it does no PAWS,
//! so the PAWS check is ours.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, VecDeque};

use btcp_core::backend::{BeFlow, BeOutput};
use btcp_core::csum;
use btcp_core::flow::{Config, Endpoint, FlowKey, Verdict};
use btcp_core::frontend::{FeFlow, FeOutput, FeState, Target};
use btcp_core::isn::IsnSecret;
use btcp_core::rules::RuleTable;
use btcp_core::segment::{OutSegment, Seg};
use btcp_core::seq;
use btcp_core::wire::{self, Mac, Message, WireError, MAC_LEN};
use btcp_core::xlate;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

// ---------------------------------------------------------------------------
// Addresses, clocks, parameters

const C: u32 = 0x0a01_0001; // 10.1.0.1, the client
const V: u32 = 0x0a02_0001; // 10.2.0.1, the VIP on the front-end
const B: u32 = 0x0a03_0001; // 10.3.0.1, the back-end
const PORT: u16 = 80;
const CLIENT_PORT: u16 = 49152;
const FE_NODE: u16 = 1;
const BE_NODE: u16 = 2;

const CLIENT_LINK_MS: u64 = 5;
const FE_BE_LINK_MS: u64 = 1;
const CTRL_MS: u64 = 2;
const BODY_LEN: usize = 1 << 20;
/// smoltcp 0.12 sizes segments as if there were no TCP options, so with
/// timestamps on a full-sized segment is 12 bytes over its MTU and is not
/// sent. The MTUs are raised to leave room: the client's MSS becomes 1472
/// (the FE clamps it to 1460, so the client's segments fit), and the
/// back-end sends at most the client's 1472 plus options within 1600.
const CLIENT_MTU: usize = 1512;
const BE_MTU: usize = 1600;

thread_local! {
    static NOW: Cell<u64> = const { Cell::new(0) };
}

fn now() -> u64 {
    NOW.with(Cell::get)
}

/// The client's TSval clock: milliseconds plus an offset.
fn client_tsval() -> u32 {
    (now() as u32).wrapping_add(1_000_000)
}

/// The back-end's TSval clock: three ticks per millisecond, from just
/// below the wrap, so translated timestamps cross it.
fn be_tsval() -> u32 {
    (now() as u32).wrapping_mul(3).wrapping_add(0xffff_f000)
}

fn ip(a: u32) -> IpAddress {
    let [a, b, c, d] = a.to_be_bytes();
    IpAddress::v4(a, b, c, d)
}

/// The request: a GET whose head spans three segments.
fn request() -> Vec<u8> {
    let mut r = b"GET /big/file HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for i in 0..40 {
        r.extend_from_slice(format!("X-Pad-{i:02}: {}\r\n", "p".repeat(60)).as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r
}

fn body_byte(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 9)) as u8
}

fn response() -> Vec<u8> {
    let mut r =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY_LEN}\r\nConnection: close\r\n\r\n")
            .into_bytes();
    r.extend((0..BODY_LEN).map(body_byte));
    r
}

// ---------------------------------------------------------------------------
// A smoltcp host on a queue-backed IP device

struct QueueDevice {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    mtu: usize,
}

struct RxToken(Vec<u8>);
struct TxToken<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let p = self.rx.pop_front()?;
        Some((RxToken(p), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

struct Host {
    iface: Interface,
    dev: QueueDevice,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
}

impl Host {
    fn new(addr: u32, mtu: usize, rx: usize, tx: usize, ts: Option<fn() -> u32>) -> Host {
        let mut dev = QueueDevice {
            rx: VecDeque::new(),
            tx: vec![],
            mtu,
        };
        let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
        cfg.random_seed = u64::from(addr);
        let mut iface = Interface::new(cfg, &mut dev, Instant::from_millis(0));
        iface.update_ip_addrs(|a| a.push(IpCidr::new(ip(addr), 8)).unwrap());
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; rx]),
            tcp::SocketBuffer::new(vec![0; tx]),
        );
        sock.set_tsval_generator(ts);
        sock.set_ack_delay(None);
        let mut sockets = SocketSet::new(vec![]);
        let handle = sockets.add(sock);
        Host {
            iface,
            dev,
            sockets,
            handle,
        }
    }

    fn sock(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.handle)
    }

    fn poll(&mut self, t: u64) -> Vec<Vec<u8>> {
        self.iface.poll(
            Instant::from_millis(t as i64),
            &mut self.dev,
            &mut self.sockets,
        );
        std::mem::take(&mut self.dev.tx)
    }
}

// ---------------------------------------------------------------------------
// Scenario description

/// Where a packet or message can be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Point {
    /// Client SYN on its way to the front-end.
    ClientSyn,
    /// Client pure ACK (the handshake's third ACK is the first).
    ClientAck,
    /// Client segment with payload.
    ClientData,
    /// The front-end's SYN/ACK.
    FeSynAck,
    /// HANDOFF_REQ on the control channel.
    HandoffReq,
    /// HANDOFF_ACK on the control channel.
    HandoffAck,
    /// Back-end segment with payload, on its way to the client.
    BeData,
}

#[derive(Clone)]
struct Scenario {
    /// Drop the n-th (1-based) packet of each listed kind.
    losses: Vec<(Point, usize)>,
    cfg: Config,
    /// Hand off to the front-end itself: the "back-end stack" is the
    /// front-end's own stack at V, no control channel round trip.
    local: bool,
    be_rx: usize,
    client_ts: bool,
    be_ts: bool,
}

impl Scenario {
    fn new() -> Scenario {
        Scenario {
            losses: vec![],
            cfg: Config {
                handoff_ms: 300,
                linger_ms: 1_000,
                idle_ms: 30_000,
                ..Config::default()
            },
            local: false,
            be_rx: 128 * 1024,
            client_ts: true,
            be_ts: true,
        }
    }

    fn lose(mut self, p: Point, nth: usize) -> Scenario {
        self.losses.push((p, nth));
        self
    }
}

// ---------------------------------------------------------------------------
// The toy MAC for the control channel (the kernel uses HMAC-SHA256)

struct ToyMac;

impl Mac for ToyMac {
    fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
        *tag = [0x5a; MAC_LEN];
        for (i, b) in data.iter().enumerate() {
            tag[i % MAC_LEN] = tag[i % MAC_LEN].rotate_left(3) ^ b;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The network

enum Event {
    /// A packet from the client arriving at the front-end.
    ToFe(Vec<u8>),
    /// A packet arriving at the client.
    ToClient(Vec<u8>),
    /// A forwarded client packet arriving at the back-end node.
    ToBe(Vec<u8>),
    /// A control frame arriving at the back-end / front-end.
    CtrlToBe(Vec<u8>),
    CtrlToFe(Vec<u8>),
}

struct FeEntry {
    flow: FeFlow,
    buf: Vec<u8>,
}

struct BeEntry {
    flow: BeFlow,
    buf: Vec<u8>,
}

#[derive(Default)]
struct Stats {
    to_client: usize,
    to_be_stack: usize,
    injected: usize,
    handoff_reqs: usize,
    handoff_acks: usize,
    dropped: Vec<Point>,
    fe_flows_created: usize,
    be_flows_created: usize,
}

struct Net {
    sc: Scenario,
    t: u64,
    events: BTreeMap<(u64, u64), Event>,
    next_ev: u64,
    seen: HashMap<Point, usize>,
    client: Host,
    be_host: Host,
    be_addr: u32,
    secret: IsnSecret,
    rules: RuleTable,
    fe: HashMap<FlowKey, FeEntry>,
    fe_ids: HashMap<u32, FlowKey>,
    next_id: u32,
    be: HashMap<FlowKey, BeEntry>,
    ctrl_seq: u64,
    // Checks
    last_tsval_to_client: Option<u32>,
    be_tsval_max: Option<u32>,
    be_isn: Option<u32>,
    be_snd_max: u32,
    // Applications
    req: Vec<u8>,
    resp: Vec<u8>,
    sent_request: bool,
    got: Vec<u8>,
    client_closed: bool,
    server_req: Vec<u8>,
    server_sent: usize,
    server_closed: bool,
    stats: Stats,
}

impl Net {
    fn new(sc: Scenario) -> Net {
        NOW.with(|n| n.set(0));
        let be_addr = if sc.local { V } else { B };
        let client = Host::new(
            C,
            CLIENT_MTU,
            256 * 1024,
            16 * 1024,
            sc.client_ts.then_some(client_tsval as fn() -> u32),
        );
        let mut be_host = Host::new(
            be_addr,
            BE_MTU,
            sc.be_rx,
            128 * 1024,
            sc.be_ts.then_some(be_tsval as fn() -> u32),
        );
        be_host.sock().listen(PORT).unwrap();
        let mut rules = RuleTable::new(if sc.local { FE_NODE } else { BE_NODE });
        rules.add(None, b"/big/", BE_NODE).unwrap();
        if sc.local {
            rules = RuleTable::new(FE_NODE);
        }
        Net {
            sc,
            t: 0,
            events: BTreeMap::new(),
            next_ev: 0,
            seen: HashMap::new(),
            client,
            be_host,
            be_addr,
            secret: IsnSecret::new(*b"0123456789abcdef"),
            rules,
            fe: HashMap::new(),
            fe_ids: HashMap::new(),
            next_id: 100,
            be: HashMap::new(),
            ctrl_seq: 0,
            last_tsval_to_client: None,
            be_tsval_max: None,
            be_isn: None,
            be_snd_max: 0,
            req: request(),
            resp: response(),
            sent_request: false,
            got: vec![],
            client_closed: false,
            server_req: vec![],
            server_sent: 0,
            server_closed: false,
            stats: Stats::default(),
        }
    }

    fn cfg(&self) -> Config {
        self.sc.cfg
    }

    /// Schedules `ev` after `delay` ms unless the scenario loses it.
    fn send(&mut self, point: Option<Point>, delay: u64, ev: Event) {
        if let Some(p) = point {
            let n = self.seen.entry(p).or_insert(0);
            *n += 1;
            let n = *n;
            if self.sc.losses.contains(&(p, n)) {
                self.stats.dropped.push(p);
                return;
            }
        }
        self.next_ev += 1;
        self.events.insert((self.t + delay, self.next_ev), ev);
    }

    // --- links ------------------------------------------------------------

    fn client_out(&mut self, pkt: Vec<u8>) {
        trace(self.t, "client out", &pkt);
        let seg = Seg::parse(&pkt).expect("client sends TCP");
        assert_eq!(
            seg.dst(),
            Endpoint::new(V, PORT),
            "the client talks to the VIP"
        );
        let f = seg.flags();
        let point = if f.syn() {
            Point::ClientSyn
        } else if seg.payload_len() > 0 {
            Point::ClientData
        } else if f.ack() && !f.fin() && !f.rst() {
            Point::ClientAck
        } else {
            // FIN, RST: never lost in these scenarios.
            self.send(None, CLIENT_LINK_MS, Event::ToFe(pkt));
            return;
        };
        self.send(Some(point), CLIENT_LINK_MS, Event::ToFe(pkt));
    }

    /// A packet on its way to the client, from the FE or the BE.
    fn send_to_client(&mut self, pkt: Vec<u8>, point: Option<Point>) {
        self.send(point, CLIENT_LINK_MS, Event::ToClient(pkt));
    }

    fn ctrl(&mut self, to_be: bool, msg: &Message<'_>) {
        self.ctrl_seq += 1;
        let sender = if to_be || self.sc.local {
            FE_NODE
        } else {
            BE_NODE
        };
        let mut buf = vec![0u8; wire::MAX_FRAME_LEN];
        let n = msg
            .encode_sealed(sender, self.ctrl_seq, &ToyMac, &mut buf)
            .unwrap();
        buf.truncate(n);
        let (point, ev) = match msg {
            Message::HandoffReq(_) => (Some(Point::HandoffReq), Event::CtrlToBe(buf)),
            Message::HandoffAck(_) => (Some(Point::HandoffAck), Event::CtrlToFe(buf)),
            _ if to_be => (None, Event::CtrlToBe(buf)),
            _ => (None, Event::CtrlToFe(buf)),
        };
        let delay = if self.sc.local { 0 } else { CTRL_MS };
        self.send(point, delay, ev);
    }

    // --- checks on delivery ----------------------------------------------

    fn deliver_to_client(&mut self, pkt: Vec<u8>) {
        trace(self.t, "to client", &pkt);
        assert_valid(&pkt);
        let seg = Seg::parse(&pkt).unwrap();
        assert_eq!(
            seg.src(),
            Endpoint::new(V, PORT),
            "the client only hears from V:80"
        );
        assert_eq!(seg.dst(), Endpoint::new(C, CLIENT_PORT));
        if let Some((tsval, tsecr)) = seg.timestamps() {
            if let Some(last) = self.last_tsval_to_client {
                assert!(
                    !seq::ts_before(tsval, last),
                    "PAWS: TSval {tsval:#x} after {last:#x} at t={}",
                    self.t
                );
            }
            self.last_tsval_to_client = Some(tsval);
            if seg.flags().ack() && !seg.flags().rst() {
                assert!(
                    !seq::ts_after(tsecr, client_tsval()),
                    "the client's TS echoed from the future"
                );
            }
        }
        self.stats.to_client += 1;
        self.client.dev.rx.push_back(pkt);
    }

    fn deliver_to_be_stack(&mut self, pkt: Vec<u8>, injected: bool) {
        trace(
            self.t,
            if injected { "inject" } else { "to be stack" },
            &pkt,
        );
        assert_valid(&pkt);
        let seg = Seg::parse(&pkt).unwrap();
        assert_eq!(seg.dst(), Endpoint::new(self.be_addr, PORT));
        assert_eq!(seg.src(), Endpoint::new(C, CLIENT_PORT));
        if let (Some(isn), true) = (self.be_isn, seg.flags().ack() && !seg.flags().syn()) {
            let ack = seg.ack();
            assert!(
                seq::between(ack, isn, self.be_snd_max),
                "ack {ack:#x} outside the back-end's space [{isn:#x}, {:#x}]",
                self.be_snd_max
            );
            for &(l, r) in seg.opts.sacks() {
                assert!(
                    seq::between(l, isn, self.be_snd_max) && seq::between(r, isn, self.be_snd_max),
                    "SACK block outside the back-end's space"
                );
            }
            if let (Some((_, ecr)), Some(max)) = (seg.timestamps(), self.be_tsval_max) {
                assert!(
                    !seq::ts_after(ecr, max),
                    "TSecr {ecr:#x} is not a back-end TSval (latest {max:#x})"
                );
            }
        }
        if injected {
            self.stats.injected += 1;
        } else {
            self.stats.to_be_stack += 1;
        }
        self.be_host.dev.rx.push_back(pkt);
    }

    // --- the front-end node ----------------------------------------------

    fn fe_input(&mut self, pkt: Vec<u8>) {
        let cfg = self.cfg();
        let seg = Seg::parse(&pkt).unwrap();
        let key = seg.key_from_client();
        let payload = seg.pkt.payload(&pkt).to_vec();
        let out = match self.fe.get_mut(&key) {
            Some(e) => e.flow.on_segment(&seg, &payload, &mut e.buf, &cfg, self.t),
            None => {
                let id = self.next_id;
                match FeFlow::on_syn(&seg, id, &self.secret, &cfg, self.t) {
                    Some((flow, out)) => {
                        self.next_id += 1;
                        self.stats.fe_flows_created += 1;
                        let buf = vec![0; cfg.request_buf as usize];
                        self.fe.insert(key, FeEntry { flow, buf });
                        self.fe_ids.insert(id, key);
                        out
                    }
                    // Not ours: a kernel would let its own stack see it.
                    None => return,
                }
            }
        };
        let restart = out.free && out.restart;
        self.fe_handle(key, out, Some(pkt.clone()));
        if restart {
            self.fe_input(pkt);
        }
    }

    fn fe_handle(&mut self, key: FlowKey, out: FeOutput<'_>, pkt: Option<Vec<u8>>) {
        let FeOutput {
            verdict,
            reply,
            control,
            to_backend,
            dispatch,
            free,
            ..
        } = out;
        if let Some(s) = to_backend {
            let delay = if self.sc.local { 0 } else { FE_BE_LINK_MS };
            self.send(None, delay, Event::ToBe(write(&s, &[])));
        }
        if let (Verdict::Forward(edits), Some(mut p)) = (verdict, pkt) {
            xlate::apply(&mut p, &edits).unwrap();
            let delay = if self.sc.local { 0 } else { FE_BE_LINK_MS };
            self.send(None, delay, Event::ToBe(p));
        }
        if let Some(r) = reply {
            let point = r.flags.syn().then_some(Point::FeSynAck);
            let p = write(&r, &[]);
            self.send_to_client(p, point);
        }
        if let Some(req) = control {
            self.stats.handoff_reqs += 1;
            self.ctrl(true, &Message::HandoffReq(req));
        }
        if dispatch {
            self.dispatch(key);
        }
        if free {
            let e = self.fe.remove(&key).unwrap();
            self.fe_ids.remove(&e.flow.id());
        }
    }

    /// What the shell does on `dispatch`: ask the rule table, hand off.
    fn dispatch(&mut self, key: FlowKey) {
        let cfg = self.cfg();
        let e = self.fe.get_mut(&key).unwrap();
        let node = e.flow.select(&e.buf, &self.rules);
        let addr = if node == FE_NODE { V } else { B };
        let req_frame = {
            let out = e.flow.handoff(Target { node, addr }, &e.buf, &cfg, self.t);
            let req = out.control.expect("a handoff request");
            let mut buf = vec![0u8; wire::MAX_FRAME_LEN];
            let n = Message::HandoffReq(req)
                .encode(FE_NODE, 0, &mut buf)
                .unwrap();
            buf.truncate(n);
            buf
        };
        // Re-decode so the message does not borrow the flow table.
        let (frame, _) = wire::decode(&req_frame).unwrap();
        self.stats.handoff_reqs += 1;
        self.ctrl(true, &frame.message);
    }

    fn fe_ctrl(&mut self, frame: Vec<u8>) {
        let cfg = self.cfg();
        let (f, _) = wire::decode_verified(&frame, &ToyMac).unwrap();
        if std::env::var_os("BTCP_SIM_TRACE").is_some() {
            eprintln!("{:6} ctrl to fe   {:?}", self.t, f.message);
        }
        assert_eq!(
            f.header.sender,
            if self.sc.local { FE_NODE } else { BE_NODE }
        );
        let (id, which) = match &f.message {
            Message::HandoffAck(a) => (a.fe_flow_id, 0),
            Message::HandoffNack(n) => (n.fe_flow_id, 1),
            Message::Terminate(t) => (t.fe_flow_id, 2),
            m => panic!("unexpected {m:?}"),
        };
        let Some(&key) = self.fe_ids.get(&id) else {
            return;
        };
        let e = self.fe.get_mut(&key).unwrap();
        let out = match &f.message {
            Message::HandoffAck(a) => {
                self.stats.handoff_acks += 1;
                e.flow.on_handoff_ack(a, &cfg, self.t)
            }
            Message::HandoffNack(n) => e.flow.on_handoff_nack(n, f.header.sender, &cfg, self.t),
            Message::Terminate(t) => e.flow.on_terminate(t, &cfg, self.t),
            _ => unreachable!("{which}"),
        };
        self.fe_handle(key, out, None);
    }

    // --- the back-end node -----------------------------------------------

    fn be_ctrl(&mut self, frame: Vec<u8>) {
        let cfg = self.cfg();
        let (f, _) = wire::decode_verified(&frame, &ToyMac).unwrap();
        if std::env::var_os("BTCP_SIM_TRACE").is_some() {
            eprintln!("{:6} ctrl to be   {:?}", self.t, f.message.msg_type());
        }
        assert_eq!(f.header.sender, FE_NODE);
        let Message::HandoffReq(req) = f.message else {
            panic!("unexpected {:?}", f.message);
        };
        let key = FlowKey::new(
            Endpoint::new(req.client_addr, req.client_port),
            Endpoint::new(self.be_addr, req.vip_port),
        );
        let out = match self.be.get_mut(&key) {
            Some(e) => e.flow.on_repeated_req(&req),
            None => {
                let mut buf = vec![0; wire::MAX_REQUEST];
                // In a local handoff the front-end is its own back-end.
                let node = if self.sc.local { FE_NODE } else { BE_NODE };
                match BeFlow::on_handoff_req(
                    &req,
                    FE_NODE,
                    node,
                    self.be_addr,
                    &mut buf,
                    &cfg,
                    self.t,
                ) {
                    Ok((flow, out)) => {
                        self.stats.be_flows_created += 1;
                        self.be.insert(key, BeEntry { flow, buf });
                        out
                    }
                    Err(nack) => {
                        self.ctrl(false, &Message::HandoffNack(nack));
                        return;
                    }
                }
            }
        };
        self.be_handle(key, out, None);
    }

    /// A forwarded client packet arriving at the back-end node.
    fn be_ingress(&mut self, pkt: Vec<u8>) {
        let cfg = self.cfg();
        let seg = Seg::parse(&pkt).unwrap();
        let key = seg.key_from_client();
        let Some(e) = self.be.get_mut(&key) else {
            // No flow (any more): the stack handles it as it would.
            self.deliver_to_be_stack(pkt, false);
            return;
        };
        let out = e.flow.on_forwarded(&seg, &cfg, self.t);
        self.be_handle(key, out, Some(pkt));
    }

    /// A packet the back-end stack sends.
    fn be_egress(&mut self, pkt: Vec<u8>) {
        trace(self.t, "be out", &pkt);
        let cfg = self.cfg();
        let seg = Seg::parse(&pkt).unwrap();
        if let Some((tsval, _)) = seg.timestamps() {
            if self.be_tsval_max.map_or(true, |m| seq::ts_after(tsval, m)) {
                self.be_tsval_max = Some(tsval);
            }
        }
        if seg.flags().syn() {
            self.be_isn = Some(seg.seq());
            self.be_snd_max = seg.seq().wrapping_add(1);
        }
        if seq::after(seg.end_seq(), self.be_snd_max) {
            self.be_snd_max = seg.end_seq();
        }
        let key = seg.key_to_client();
        let Some(e) = self.be.get_mut(&key) else {
            return;
        };
        let out = e.flow.on_egress(&seg, &cfg, self.t);
        self.be_handle(key, out, Some(pkt));
    }

    fn be_handle(&mut self, key: FlowKey, out: BeOutput, pkt: Option<Vec<u8>>) {
        let BeOutput {
            verdict,
            inject,
            replay,
            to_client,
            control,
            free,
            ..
        } = out;
        match (verdict, pkt) {
            (Verdict::Forward(edits), Some(mut p)) => {
                xlate::apply(&mut p, &edits).unwrap();
                let seg = Seg::parse(&p).unwrap();
                if seg.dst().addr == C {
                    let point = (seg.payload_len() > 0).then_some(Point::BeData);
                    self.send_to_client(p, point);
                } else {
                    self.deliver_to_be_stack(p, false);
                }
            }
            (Verdict::Accept, Some(p)) => self.deliver_to_be_stack(p, false),
            _ => {}
        }
        if let Some(s) = inject {
            self.deliver_to_be_stack(write(&s, &[]), true);
        }
        if !replay.is_empty() {
            let buf = self.be[&key].buf.clone();
            for s in replay.segments() {
                self.deliver_to_be_stack(write(&s, &buf), true);
            }
        }
        if let Some(s) = to_client {
            self.send_to_client(write(&s, &[]), None);
        }
        if let Some(m) = control {
            self.ctrl(false, &m);
        }
        if free {
            self.be.remove(&key);
        }
    }

    // --- applications ------------------------------------------------------

    fn client_app(&mut self) {
        let t = self.t;
        let resp_len = self.resp.len();
        if t == 1 && !self.client.sock().is_open() {
            let cx = self.client.iface.context();
            let s = self
                .client
                .sockets
                .get_mut::<tcp::Socket<'static>>(self.client.handle);
            s.connect(cx, (ip(V), PORT), CLIENT_PORT).unwrap();
        }
        let s = self
            .client
            .sockets
            .get_mut::<tcp::Socket<'static>>(self.client.handle);
        if s.may_send() && !self.sent_request {
            assert_eq!(s.send_slice(&self.req).unwrap(), self.req.len());
            self.sent_request = true;
        }
        while s.can_recv() {
            let got = &mut self.got;
            s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        if self.sent_request && !s.may_recv() && !self.client_closed && self.got.len() >= resp_len {
            s.close();
            self.client_closed = true;
        }
    }

    fn server_app(&mut self) {
        let resp = &self.resp;
        let s = self
            .be_host
            .sockets
            .get_mut::<tcp::Socket<'static>>(self.be_host.handle);
        while s.can_recv() {
            let r = &mut self.server_req;
            s.recv(|b| {
                r.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        let head_done = self.server_req.windows(4).any(|w| w == b"\r\n\r\n");
        if head_done && s.may_send() {
            while self.server_sent < resp.len() && s.can_send() {
                let n = s.send_slice(&resp[self.server_sent..]).unwrap();
                if n == 0 {
                    break;
                }
                self.server_sent += n;
            }
            if self.server_sent == resp.len() && !self.server_closed {
                s.close();
                self.server_closed = true;
            }
        }
    }

    // --- the loop ------------------------------------------------------------

    fn tick_machines(&mut self) {
        let cfg = self.cfg();
        let keys: Vec<FlowKey> = self.fe.keys().copied().collect();
        for key in keys {
            let e = self.fe.get_mut(&key).unwrap();
            if self.t < e.flow.next_deadline(&cfg) {
                continue;
            }
            let buf = e.buf.clone();
            let out = e.flow.on_tick(&buf, &cfg, self.t);
            self.fe_handle(key, out, None);
        }
        let keys: Vec<FlowKey> = self.be.keys().copied().collect();
        for key in keys {
            let e = self.be.get_mut(&key).unwrap();
            if self.t < e.flow.next_deadline(&cfg) {
                continue;
            }
            let out = e.flow.on_tick(&cfg, self.t);
            self.be_handle(key, out, None);
        }
    }

    fn step(&mut self) {
        self.t += 1;
        NOW.with(|n| n.set(self.t));
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > self.t {
                break;
            }
            match entry.remove() {
                Event::ToFe(p) => self.fe_input(p),
                Event::ToClient(p) => self.deliver_to_client(p),
                Event::ToBe(p) => self.be_ingress(p),
                Event::CtrlToBe(f) => self.be_ctrl(f),
                Event::CtrlToFe(f) => self.fe_ctrl(f),
            }
        }
        for _ in 0..2 {
            self.client_app();
            for p in self.client.poll(self.t) {
                self.client_out(p);
            }
            self.server_app();
            for p in self.be_host.poll(self.t) {
                self.be_egress(p);
            }
        }
        self.tick_machines();
    }

    fn done(&mut self) -> bool {
        let client_state = self.client.sock().state();
        self.client_closed
            && matches!(client_state, tcp::State::Closed | tcp::State::TimeWait)
            && self.fe.is_empty()
            && self.be.is_empty()
            && self.events.is_empty()
    }

    /// Runs until done or `limit_ms`; returns the virtual time taken.
    fn run(&mut self, limit_ms: u64) -> u64 {
        while self.t < limit_ms {
            self.step();
            if self.done() {
                return self.t;
            }
        }
        panic!(
            "not done after {limit_ms} ms: got {} of {} bytes, client {:?}, server {:?}, \
             fe flows {:?}, be flows {:?}, dropped {:?}",
            self.got.len(),
            self.resp.len(),
            self.client.sock().state(),
            self.be_host.sock().state(),
            self.fe.values().map(|e| e.flow.state()).collect::<Vec<_>>(),
            self.be.values().map(|e| e.flow.state()).collect::<Vec<_>>(),
            self.stats.dropped,
        );
    }
}

/// With `BTCP_SIM_TRACE` set, prints one line per packet.
fn trace(t: u64, what: &str, p: &[u8]) {
    if std::env::var_os("BTCP_SIM_TRACE").is_none() {
        return;
    }
    let seg = Seg::parse(p).unwrap();
    let f = seg.flags();
    let flags: String = [
        (f.syn(), 'S'),
        (f.ack(), '.'),
        (f.fin(), 'F'),
        (f.rst(), 'R'),
        (f.psh(), 'P'),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, c)| *c)
    .collect();
    eprintln!(
        "{t:6} {what:12} {:08x}:{} > {:08x}:{} [{flags}] seq {:08x} ack {:08x} win {} len {} ts {:x?} sack {:x?}",
        seg.src().addr,
        seg.src().port,
        seg.dst().addr,
        seg.dst().port,
        seg.seq(),
        seg.ack(),
        seg.window(),
        seg.payload_len(),
        seg.timestamps(),
        seg.opts.sacks(),
    );
}

fn write(s: &OutSegment, reqbuf: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; s.packet_len()];
    let n = s.write(&mut buf, reqbuf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

/// Both checksums of `p` are right.
fn assert_valid(p: &[u8]) {
    let seg = Seg::parse(p).unwrap();
    let hl = seg.pkt.ip.header_len();
    assert!(csum::verify_ipv4_header(&p[..hl]), "bad IPv4 checksum");
    assert!(
        csum::verify_tcp_ipv4(
            seg.pkt.ip.src,
            seg.pkt.ip.dst,
            &p[hl..usize::from(seg.pkt.ip.total_len)]
        ),
        "bad TCP checksum"
    );
}

/// Runs `sc` to completion and checks the outcome.
fn run(sc: Scenario) -> Net {
    let losses = sc.losses.clone();
    let mut net = Net::new(sc);
    let took = net.run(60_000);
    assert_eq!(
        net.server_req,
        request(),
        "the server read the request as sent"
    );
    let resp = response();
    assert_eq!(net.got.len(), resp.len());
    assert!(net.got == resp, "the response arrived byte for byte");
    assert_eq!(
        net.stats.dropped.len(),
        losses.len(),
        "every scripted loss happened: {:?} vs {:?}",
        net.stats.dropped,
        losses
    );
    assert_eq!(net.stats.fe_flows_created, 1);
    assert_eq!(net.stats.be_flows_created, 1);
    eprintln!(
        "done in {took} ms virtual: {} packets to the client, {} forwarded, {} injected, \
         {} HANDOFF_REQ, {} HANDOFF_ACK",
        net.stats.to_client,
        net.stats.to_be_stack,
        net.stats.injected,
        net.stats.handoff_reqs,
        net.stats.handoff_acks
    );
    net
}

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
    sc.client_ts = false;
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
    sc.be_ts = false;
    sc.cfg.handoff_tries = 1;
    let mut net = Net::new(sc);
    while net.t < 5_000 {
        net.step();
    }
    assert_eq!(net.stats.fe_flows_created, 1);
    assert_eq!(net.stats.be_flows_created, 1);
    assert!(net.be.is_empty(), "the BE kept nothing");
    assert!(net.fe.is_empty(), "the FE freed the flow after its linger");
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
    assert_eq!(net.stats.handoff_reqs, 1);
    let _ = FeState::Forwarding;
}
