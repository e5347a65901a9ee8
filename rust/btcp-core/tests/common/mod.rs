//! The simulated network shared by `sim.rs` and `faults.rs`: a real TCP
//! implementation (smoltcp) plays the client and the back-end's stack; two
//! `btcp_core::node::Node`s, the code the kernel module runs, sit in
//! between as the front-end and back-end nodes (one node for a local
//! handoff), and this network does for them what the kernel shell does,
//! over links with latency and scripted faults (loss, duplication, delay),
//! on a deterministic virtual clock (1 ms steps).
//!
//! ```text
//!   client C (smoltcp) ──5 ms──► FE node 1 ──1 ms──► BE stack B (smoltcp)
//!          ▲                      │  ▲ control channel (wire codec, 2 ms, FIFO)
//!          │                      ▼  │
//!          └──────────5 ms─────── BE node 2: egress rewrite, injection
//! ```
//!
//! Checked on every packet: IPv4 and TCP checksums of everything delivered
//! to either stack; the client only ever hears from V:80, never a SYN but
//! the front-end's, and its PAWS view (TSvals, in the order they are sent
//! to it, never go backwards); the front-end's SYN/ACKs and the replayed
//! SYNs carry no option we do not understand and no ECN flag; segment
//! sizes respect the MSS each receiver announced; the back-end stack only
//! sees acknowledgments, SACK edges and TS echoes of its own sequence
//! space and clock. At the end (see [`run`]): the response byte for byte,
//! the bytes as the back-end's server read them, and both flow tables
//! empty after the linger.
//!
//! smoltcp 0.12 speaks MSS, window scaling, SACK (it sends SACK blocks; it
//! ignores received ones) and timestamps (with a `fn() -> u32` generator:
//! the clocks below read thread-local virtual clocks); it does no PAWS,
//! so the PAWS check is ours. Its ISNs come from a PCG generator seeded by
//! the interface's `random_seed`: [`seed_for_isn`] inverts it to pick an ISN.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    missing_docs
)]

pub mod store;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, VecDeque};

pub use btcp_core::backend::BeState;
pub use btcp_core::csum;
pub use btcp_core::flow::{Config, Endpoint, FlowKey, SideOptions, Verdict};
pub use btcp_core::frontend::FeState;
pub use btcp_core::isn::IsnSecret;
pub use btcp_core::node::{Disposition, FlowStore, Io, Side, Tunnelled};
pub use btcp_core::segment::{OutSegment, Seg};
pub use btcp_core::seq;
pub use btcp_core::tcp::Flags;
pub use btcp_core::wire::{self, Mac, Message, TerminateReason, WireError, MAC_LEN};
pub use btcp_core::xlate;

use store::{host_node, HostNode};

use btcp_core::tcp_options::{
    RawOptions, KIND_MSS, KIND_SACK_PERMITTED, KIND_TIMESTAMPS, KIND_WSCALE,
};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
pub use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

// ---------------------------------------------------------------------------
// Addresses, clocks, parameters

pub const C: u32 = 0x0a01_0001; // 10.1.0.1, the client
pub const V: u32 = 0x0a02_0001; // 10.2.0.1, the VIP on the front-end
pub const FE_ADDR: u32 = 0x0a02_0002; // 10.2.0.2, the front-end's own
pub const B: u32 = 0x0a03_0001; // 10.3.0.1, the back-end
pub const PORT: u16 = 80;
pub const CLIENT_PORT: u16 = 49152;
pub const FE_NODE: u16 = 1;
pub const BE_NODE: u16 = 2;
/// A third node the front-end knows as live, which never answers (it died
/// and its heartbeats have not been missed yet); see [`Silent`].
pub const SILENT_NODE: u16 = 3;
/// The standby front-end that takes the VIP over when the front-end dies
/// ([`Scenario::fe_dies_when`]), and its own address (10.2.0.3).
pub const STANDBY_NODE: u16 = 5;
pub const STANDBY_ADDR: u32 = 0x0a02_0003;
/// After the front-end's death: when the back-end declares it dead (its
/// `peer-dead-ms`), and when the standby owns the VIP (VRRP's takeover;
/// the client's segments reach no one before).
pub const FE_DEAD_MS: u64 = 1_200;
pub const TAKEOVER_MS: u64 = 2_000;
/// After a planned switch: when the standby's shell notices the VIP (its
/// 100 ms tick).
pub const VIP_SEEN_MS: u64 = 100;

/// Where the front-end's rules put the silent node [`SILENT_NODE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silent {
    /// It does not exist.
    None,
    /// Every request goes to it first; the back-end is the other node.
    First,
    /// Every request goes to the back-end first; the silent node is the
    /// other node.
    Second,
}

pub const CLIENT_LINK_MS: u64 = 5;
pub const FE_BE_LINK_MS: u64 = 1;
pub const CTRL_MS: u64 = 2;
pub const BODY_LEN: usize = 1 << 20;
/// smoltcp 0.12 sizes segments as if there were no TCP options, so with
/// timestamps on a full-sized segment is 12 bytes over its MTU and is not
/// sent. The MTUs are raised to leave room: the client's MSS becomes 1472
/// (the FE clamps it to 1460, so the client's segments fit), and the
/// back-end sends at most the client's 1472 plus options within 1600.
pub const CLIENT_MTU: usize = 1512;
pub const BE_MTU: usize = 1600;
/// The MTU with which smoltcp, timestamps on, can send `mss`-byte
/// segments (see [`CLIENT_MTU`]); it then announces `mss + 12`, and only
/// works if its peer's MSS is at most `mss`. Without timestamps an MTU of
/// `mss + 40` announces `mss` exactly.
pub const fn mtu_for_mss(mss: usize) -> usize {
    mss + 40 + 12
}

/// A TSval clock: `t * mul / div + offset` for `t` in virtual ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsClock {
    pub mul: u64,
    pub div: u64,
    pub offset: u32,
}

impl TsClock {
    pub fn at(&self, t: u64) -> u32 {
        ((t * self.mul / self.div) as u32).wrapping_add(self.offset)
    }
}

/// The client's TSval clock: milliseconds plus an offset.
pub const CLIENT_CLOCK: TsClock = TsClock {
    mul: 1,
    div: 1,
    offset: 1_000_000,
};
/// The back-end's TSval clock: three ticks per millisecond, from just
/// below the wrap, so translated timestamps cross it.
pub const BE_CLOCK: TsClock = TsClock {
    mul: 3,
    div: 1,
    offset: 0xffff_f000,
};

thread_local! {
    static NOW: Cell<u64> = const { Cell::new(0) };
    static CLIENT_TS: Cell<TsClock> = const { Cell::new(CLIENT_CLOCK) };
    static BE_TS: Cell<TsClock> = const { Cell::new(BE_CLOCK) };
}

pub fn now() -> u64 {
    NOW.with(Cell::get)
}

/// Sets the virtual clock (for a network other than [`Net`]'s).
pub fn set_now(t: u64) {
    NOW.with(|n| n.set(t));
}

pub fn client_tsval() -> u32 {
    CLIENT_TS.with(|c| c.get().at(now()))
}

pub fn be_tsval() -> u32 {
    BE_TS.with(|c| c.get().at(now()))
}

pub fn ip(a: u32) -> IpAddress {
    let [a, b, c, d] = a.to_be_bytes();
    IpAddress::v4(a, b, c, d)
}

/// The request: a GET whose head spans three segments.
pub fn request() -> Vec<u8> {
    let mut r = b"GET /big/file HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for i in 0..40 {
        r.extend_from_slice(format!("X-Pad-{i:02}: {}\r\n", "p".repeat(60)).as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r
}

pub fn body_byte(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 9)) as u8
}

pub fn response_with(body_len: usize) -> Vec<u8> {
    let mut r =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n")
            .into_bytes();
    r.extend((0..body_len).map(body_byte));
    r
}

pub fn response() -> Vec<u8> {
    response_with(BODY_LEN)
}

// ---------------------------------------------------------------------------
// Choosing smoltcp's ISNs

const PCG_M: u64 = 0xbb2e_fcec_3c39_611d;
const PCG_A: u64 = 0x7590_ef39;

fn pcg_out(s: u64) -> u32 {
    let shift = 29 - (s >> 61);
    (s >> shift) as u32
}

fn pcg_inverse_m() -> u64 {
    // Newton's iteration for the inverse of an odd number mod 2^64.
    let mut x = PCG_M;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(PCG_M.wrapping_mul(x)));
    }
    assert_eq!(x.wrapping_mul(PCG_M), 1);
    x
}

/// The `random_seed` that makes a fresh smoltcp 0.12 interface (features
/// medium-ip, proto-ipv4: one `rand_u16` for the IPv4 ident at creation)
/// pick `isn` for its first TCP connection (the second draw, at `connect`
/// or when a listening socket gets its SYN). Scenarios assert the ISN
/// they got, so a smoltcp change cannot silently void them.
pub fn seed_for_isn(isn: u32) -> u64 {
    let inv = pcg_inverse_m();
    for low in 0..1024u64 {
        // Top three bits clear: the output is bits 29..61, i.e. `isn`.
        let s2 = (u64::from(isn) << 29) | low;
        assert_eq!(pcg_out(s2), isn);
        let s1 = s2.wrapping_sub(PCG_A).wrapping_mul(inv);
        let seed = s1.wrapping_sub(PCG_A).wrapping_mul(inv);
        let n = pcg_out(s1);
        // The ident loop draws again on a zero.
        if (n ^ (n >> 16)) as u16 != 0 {
            return seed;
        }
    }
    unreachable!()
}

// ---------------------------------------------------------------------------
// A smoltcp host on a queue-backed IP device

pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
    pub mtu: usize,
}

pub struct RxToken(Vec<u8>);
pub struct TxToken<'a>(&'a mut Vec<Vec<u8>>);

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

pub struct Host {
    pub iface: Interface,
    pub dev: QueueDevice,
    pub sockets: SocketSet<'static>,
    pub handle: SocketHandle,
}

impl Host {
    pub fn new(
        addr: u32,
        seed: u64,
        mtu: usize,
        rx: usize,
        tx: usize,
        ts: Option<fn() -> u32>,
    ) -> Host {
        let mut dev = QueueDevice {
            rx: VecDeque::new(),
            tx: vec![],
            mtu,
        };
        let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
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

    pub fn sock(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.handle)
    }

    pub fn sock_ref(&self) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket<'static>>(self.handle)
    }

    pub fn poll(&mut self, t: u64) -> Vec<Vec<u8>> {
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

/// Where a packet or message can be hit by a fault. Every packet or
/// message of a kind is counted (1-based), faulted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// Client SYN on its way to the front-end.
    ClientSyn,
    /// Client pure ACK (the handshake's third ACK is the first).
    ClientAck,
    /// Client segment with payload (with or without FIN).
    ClientData,
    /// Client FIN without payload.
    ClientFin,
    /// Client RST.
    ClientRst,
    /// The front-end's SYN/ACK.
    FeSynAck,
    /// Any other segment the front-end crafts for the client (ACK, FIN, RST).
    FeReply,
    /// HANDOFF_REQ on the control channel.
    HandoffReq,
    /// HANDOFF_ACK on the control channel.
    HandoffAck,
    /// HANDOFF_CONFIRM on the control channel.
    HandoffConfirm,
    /// HANDOFF_CANCEL on the control channel.
    HandoffCancel,
    /// HANDOFF_MORE on the control channel.
    HandoffMore,
    /// Back-end segment with payload, on its way to the client.
    BeData,
    /// Back-end segment without payload, on its way to the client.
    BeCtl,
}

/// What happens to the n-th packet of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It is lost.
    Lose,
    /// It arrives, and a copy arrives `after` ms later (on the control
    /// channel, a TCP stream, only [`Fault::Lose`] and [`Fault::Delay`]
    /// make sense: the machines' own resends are the duplicates).
    Dup { after: u64 },
    /// It arrives `ms` later than it would: packets sent after it overtake
    /// it (reordering). On the control channel the stream stays in order:
    /// later messages wait behind it (head-of-line blocking).
    Delay { ms: u64 },
}

/// A condition on the network, evaluated every step.
pub type Cond = fn(&Net) -> bool;

pub fn always(_: &Net) -> bool {
    true
}

/// The server's default: it answers once it has the request head.
pub fn head_read(n: &Net) -> bool {
    n.server_req.windows(4).any(|w| w == b"\r\n\r\n")
}

/// The server answers once it has read everything the client sends.
pub fn all_read(n: &Net) -> bool {
    n.server_req.len() >= n.client_bytes().len()
}

#[derive(Clone, Copy)]
pub enum ClientClose {
    /// After the whole response and the server's FIN (the default).
    AfterResponse,
    /// Right after the last byte is written to the socket: the FIN may
    /// ride on the last data segment.
    AfterSend,
    /// When the condition holds.
    When(Cond),
    /// Never by itself (abort scenarios).
    Never,
}

#[derive(Clone)]
pub struct ClientSpec {
    /// Byte runs to send, in order, each once its condition holds (and the
    /// previous one was issued).
    pub sends: Vec<(Cond, Vec<u8>)>,
    /// Most bytes handed to the socket per application call (1: one-byte
    /// segments, with Nagle off).
    pub write_max: usize,
    pub nagle: bool,
    /// Delayed ACKs (ms); `None` acknowledges at once.
    pub ack_delay: Option<u64>,
    pub close: ClientClose,
    /// Abort (RST) when the condition holds.
    pub abort_when: Option<Cond>,
    /// Read only while the condition holds (a stalled reader otherwise).
    pub read_when: Cond,
    /// Most bytes read per application call (a slow reader).
    pub read_max: usize,
}

impl Default for ClientSpec {
    fn default() -> ClientSpec {
        ClientSpec {
            sends: vec![(always, request())],
            write_max: usize::MAX,
            nagle: true,
            ack_delay: None,
            close: ClientClose::AfterResponse,
            abort_when: None,
            read_when: always,
            read_max: usize::MAX,
        }
    }
}

#[derive(Clone)]
pub struct ServerSpec {
    /// Start sending the response when this holds.
    pub respond_when: Cond,
    /// Close once the whole response is queued.
    pub close_after_response: bool,
    /// Close (also) when this holds.
    pub close_when: Option<Cond>,
}

impl Default for ServerSpec {
    fn default() -> ServerSpec {
        ServerSpec {
            respond_when: head_read,
            close_after_response: true,
            close_when: None,
        }
    }
}

#[derive(Clone)]
pub struct Scenario {
    /// Faults on the n-th (1-based) packet of each listed kind.
    pub faults: Vec<(Point, usize, Fault)>,
    pub cfg: Config,
    /// Hand off to the front-end itself: the "back-end stack" is the
    /// front-end's own stack at V, no control channel round trip.
    pub local: bool,
    pub client_rx: usize,
    pub client_tx: usize,
    pub be_rx: usize,
    pub be_tx: usize,
    pub client_mtu: usize,
    pub be_mtu: usize,
    /// Forwarded client segments may exceed the MSS the back-end stack
    /// announced (the client agreed a larger one with the front-end).
    pub oversize_to_be_ok: bool,
    /// The stacks' TSval clocks (`None`: timestamps off).
    pub client_ts: Option<TsClock>,
    pub be_ts: Option<TsClock>,
    /// The stacks' ISNs (`None`: whatever their default seeds give).
    pub client_isn: Option<u32>,
    pub be_isn: Option<u32>,
    /// The front-end's ISN secret.
    pub secret: [u8; 16],
    /// Added to the virtual time to make each machine's `now_ms` (nodes
    /// booted at different times).
    pub fe_clock_offset: u64,
    pub be_clock_offset: u64,
    /// A middlebox on the client's link rewriting its SYNs.
    pub syn_mangle: Option<fn(Vec<u8>) -> Vec<u8>>,
    /// Keep-alives from the back-end stack (ms).
    pub be_keep_alive: Option<u64>,
    pub body_len: usize,
    pub client: ClientSpec,
    pub server: ServerSpec,
    /// More lines for the front-end's configuration (`syncookies always`).
    pub fe_extra: &'static str,
    /// A node that never answers, and where the rules put it.
    pub silent: Silent,
    /// The front-end dies once this holds; the standby takes over (see
    /// [`STANDBY_NODE`]).
    pub fe_dies_when: Option<Cond>,
    /// The VIP moves to the standby once this holds, the front-end alive
    /// (a planned switch): no outage; the standby's shell sees the VIP
    /// [`VIP_SEEN_MS`] later and sends the back-end a FLOW_QUERY.
    pub vip_moves_when: Option<Cond>,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario {
            faults: vec![],
            cfg: Config {
                handoff_ms: 300,
                linger_ms: 1_000,
                idle_ms: 30_000,
                ..Config::default()
            },
            local: false,
            client_rx: 256 * 1024,
            client_tx: 16 * 1024,
            be_rx: 128 * 1024,
            be_tx: 128 * 1024,
            client_mtu: CLIENT_MTU,
            be_mtu: BE_MTU,
            oversize_to_be_ok: false,
            client_ts: Some(CLIENT_CLOCK),
            be_ts: Some(BE_CLOCK),
            client_isn: None,
            be_isn: None,
            secret: *b"0123456789abcdef",
            fe_clock_offset: 0,
            be_clock_offset: 0,
            syn_mangle: None,
            be_keep_alive: None,
            body_len: BODY_LEN,
            client: ClientSpec::default(),
            server: ServerSpec::default(),
            fe_extra: "",
            silent: Silent::None,
            fe_dies_when: None,
            vip_moves_when: None,
        }
    }

    /// The front-end answers every SYN with a cookie.
    pub fn cookies(mut self) -> Scenario {
        self.fe_extra = "syncookies always\n";
        self
    }

    pub fn fault(mut self, p: Point, nth: usize, f: Fault) -> Scenario {
        self.faults.push((p, nth, f));
        self
    }

    pub fn lose(self, p: Point, nth: usize) -> Scenario {
        self.fault(p, nth, Fault::Lose)
    }

    pub fn dup(self, p: Point, nth: usize, after: u64) -> Scenario {
        self.fault(p, nth, Fault::Dup { after })
    }

    pub fn delay(self, p: Point, nth: usize, ms: u64) -> Scenario {
        self.fault(p, nth, Fault::Delay { ms })
    }

    /// The client sends these byte runs (replacing the default request).
    pub fn sends(mut self, sends: Vec<(Cond, Vec<u8>)>) -> Scenario {
        self.client.sends = sends;
        self
    }

    /// Makes the front-end pick ISN_f within 250 below `isn` for a SYN
    /// that arrives at the usual time (t = 1 + CLIENT_LINK_MS), by
    /// choosing how long the front-end node has been up.
    pub fn fe_isn_near(mut self, isn: u32) -> Scenario {
        let key = FlowKey::new(Endpoint::new(C, CLIENT_PORT), Endpoint::new(V, PORT));
        let base = IsnSecret::new(self.secret).isn(&key, 1 + CLIENT_LINK_MS);
        let ticks = isn.wrapping_sub(base) / 250;
        self.fe_clock_offset = u64::from(ticks);
        self
    }
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario::new()
    }
}

// ---------------------------------------------------------------------------
// The toy MAC for the control channel (the kernel uses HMAC-SHA256)

pub struct ToyMac;

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

#[derive(Clone)]
pub enum Event {
    /// A packet from the client arriving at the front-end.
    ToFe(Vec<u8>),
    /// A packet arriving at the client.
    ToClient(Vec<u8>),
    /// A forwarded client packet arriving at the back-end node.
    ToBe(Vec<u8>),
    /// A client packet someone else put on the back-end's link.
    ForgedToBe(Vec<u8>, u32),
    /// A control frame arriving at the back-end / front-end.
    CtrlToBe(Vec<u8>),
    CtrlToFe(Vec<u8>),
    /// An ICMP "fragmentation needed" from the front-end arriving at the
    /// client: its path MTU drops to this (see `split_to_mtu`).
    PmtuToClient(u16),
}

/// A POST head for a body of `body_len` bytes.
pub fn post_head(body_len: usize) -> Vec<u8> {
    format!("POST /big/upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: {body_len}\r\n\r\n")
        .into_bytes()
}

/// `len` bytes of body, not repeating within 26.
pub fn post_body(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `pkt` inside an IPIP header from `src` to its own destination, as the
/// kernel's front-end sends it.
pub fn ipip(src: u32, pkt: &[u8]) -> Vec<u8> {
    let total = u16::try_from(pkt.len() + 20).unwrap();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6] = pkt[6] & 0x40; // the inner DF
    p[8] = 64;
    p[9] = btcp_core::encap::IPPROTO_IPIP;
    p[12..16].copy_from_slice(&src.to_be_bytes());
    p[16..20].copy_from_slice(&pkt[16..20]);
    let sum = csum::ipv4_header_checksum(&p).unwrap();
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(pkt);
    p
}

/// What a node asked for during one call, carried out by the network
/// after it (as the kernel shell carries it out after its lock).
pub enum Action {
    Transmit(Side, OutSegment),
    Inject(Vec<u8>),
    /// A sealed control frame for a node.
    Send(u16, Message<'static>, Vec<u8>),
    /// An ICMP "fragmentation needed" (MTU) quoting this client packet.
    FragNeeded(u16, Vec<u8>),
}

/// The [`Io`] of one node for one call.
pub struct Actions {
    node: u16,
    seq: u64,
    /// The address of the host the segment in hand came from over its
    /// link (`None`: none, a timer or a control message).
    from: Option<u32>,
    pub list: Vec<Action>,
    /// What the node recorded for its metrics.
    pub recorded: Vec<btcp_core::metrics::Event>,
}

impl Actions {
    /// The [`Io`] of node `node` for one call, its control messages
    /// numbered from `seq` on.
    pub fn new(node: u16, seq: u64) -> Actions {
        Actions {
            node,
            seq,
            from: None,
            list: vec![],
            recorded: vec![],
        }
    }

    /// The segment in hand came over the link from `addr`.
    pub fn sent_from(mut self, addr: u32) -> Actions {
        self.from = Some(addr);
        self
    }

    /// The last control message number used.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl Io for Actions {
    fn transmit(&mut self, from: Side, seg: &OutSegment) {
        self.list.push(Action::Transmit(from, *seg));
    }

    fn inject(&mut self, seg: &OutSegment, payload: &[u8]) {
        self.list.push(Action::Inject(write(seg, payload)));
    }

    fn recycle_time_wait(&mut self, _: FlowKey) {
        // smoltcp keeps no TIME-WAIT socket the replayed SYN could meet.
    }

    fn sent_by(&mut self, addr: u32) -> bool {
        self.from == Some(addr)
    }

    fn send(&mut self, to: u16, msg: &Message<'_>) {
        self.seq += 1;
        let mut buf = vec![0u8; wire::MAX_FRAME_LEN];
        let n = msg
            .encode_sealed(self.node, to, self.seq, &ToyMac, &mut buf)
            .unwrap();
        buf.truncate(n);
        // The message again, owned, for the fault points.
        let kind = match msg {
            Message::HandoffReq(r) => Message::HandoffReq(wire::HandoffReq { request: &[], ..*r }),
            Message::HandoffAck(a) => Message::HandoffAck(*a),
            Message::HandoffNack(n) => Message::HandoffNack(*n),
            Message::Terminate(t) => Message::Terminate(*t),
            Message::HandoffConfirm(d) => Message::HandoffConfirm(*d),
            Message::HandoffCancel(d) => Message::HandoffCancel(*d),
            Message::FlowAnnounce(a) => Message::FlowAnnounce(*a),
            Message::HandoffMore(m) => Message::HandoffMore(wire::HandoffMore { bytes: &[], ..*m }),
            Message::FlowQuery(q) => Message::FlowQuery(*q),
            Message::MoveRelease(r) => Message::MoveRelease(*r),
            Message::MoveReleased(r) => Message::MoveReleased(*r),
            Message::MoveKept(k) => Message::MoveKept(*k),
            m => panic!("unexpected {m:?}"),
        };
        self.list.push(Action::Send(to, kind, buf));
    }

    fn frag_needed(&mut self, seg: &Seg<'_>, mtu: u16) {
        self.list.push(Action::FragNeeded(mtu, seg.packet.to_vec()));
    }

    fn record(&mut self, ev: &btcp_core::metrics::Event) {
        self.recorded.push(*ev);
    }
}

#[derive(Default)]
pub struct Stats {
    /// Client packets the front-end sent inside IPIP, and the largest
    /// outer packet.
    pub tunnelled: usize,
    pub tunnelled_max: usize,
    pub to_client: usize,
    pub to_be_stack: usize,
    pub injected: usize,
    pub handoff_reqs: usize,
    pub handoff_acks: usize,
    pub handoff_nacks: usize,
    pub handoff_confirms: usize,
    /// Messages to the silent node (which never gets them).
    pub to_silent: Vec<wire::MsgType>,
    pub handoff_cancels: usize,
    pub terminates: Vec<TerminateReason>,
    /// Faults that fired, in order.
    pub fired: Vec<(Point, usize, Fault)>,
    pub fe_flows_created: usize,
    /// The front-end's largest request buffer, and how many it freed
    /// when a handoff was acknowledged.
    pub fe_buf_peak: usize,
    pub fe_bufs_freed: usize,
    pub be_flows_created: usize,
    /// Client segments reaching the front-end, by kind and the front-end
    /// flow's state on arrival (`None`: no flow).
    pub fe_in: HashMap<(Point, Option<FeState>), usize>,
    /// Client data segments that reached the front-end ahead of earlier
    /// bytes still missing there (reordered or after a loss).
    pub fe_data_ahead: usize,
    /// Client segments carrying both payload and FIN.
    pub client_fin_with_data: usize,
    /// Zero windows the client advertised.
    pub client_zero_windows: usize,
    /// Client segments forwarded to the back-end stack whose payload is
    /// larger than the MSS that stack announced.
    pub oversize_to_be: usize,
    /// ICMP "fragmentation needed" errors the client got from the
    /// front-end.
    pub frag_needed: usize,
    /// Segments the front-end crafted for the client, by flags.
    pub fe_replies: Vec<Flags>,
    /// RSTs the back-end stack did not take: not at its rcv_nxt.
    pub rsts_challenged: usize,
    /// Segments the back-end crafted for the client (aborts).
    pub be_to_client_crafted: usize,
    /// Client segments delivered to the back-end stack with SACK blocks.
    pub sacks_to_be: usize,
    /// When the client first sent a FIN and first received one; when the
    /// back-end stack first sent a FIN and first received one.
    pub client_fin_sent: Option<u64>,
    pub client_fin_rcvd: Option<u64>,
    pub be_fin_sent: Option<u64>,
    pub be_fin_rcvd: Option<u64>,
    /// Client segments sent to the VIP while no front-end owned it.
    pub lost_to_dead_fe: usize,
    /// FLOW_ANNOUNCEs the (standby) front-end got.
    pub announces: usize,
    /// HANDOFF_MOREs the back-end got.
    pub handoff_mores: usize,
    /// Client data segments sent again (their start below the highest
    /// sequence number sent).
    pub client_retransmits: usize,
}

pub struct Net {
    pub sc: Scenario,
    pub t: u64,
    pub events: BTreeMap<(u64, u64), Event>,
    next_ev: u64,
    pub seen: HashMap<Point, usize>,
    /// When the last control message in each direction (to BE, to FE) is
    /// delivered: the channel is a stream.
    ctrl_last: [u64; 2],
    pub client: Host,
    pub be_host: Host,
    pub be_addr: u32,
    /// The front-end node; in a local handoff also the back-end node.
    pub fe_node: HostNode,
    /// The back-end node (idle in a local handoff).
    pub be_node: HostNode,
    /// The node in `fe_node`, and its address (the standby's after the
    /// front-end died).
    pub fe_id: u16,
    pub fe_addr: u32,
    /// When the front-end died.
    pub fe_died_at: Option<u64>,
    /// When the VIP moved to the standby, the front-end alive.
    pub vip_moved_at: Option<u64>,
    ctrl_seq: u64,
    // Checks
    pub last_tsval_to_client: Option<u32>,
    pub be_tsval_max: Option<u32>,
    /// The back-end stack's ISN and highest sequence number sent + 1.
    pub be_isn: Option<u32>,
    pub be_snd_max: u32,
    /// The highest acknowledgment the back-end stack sent (its rcv_nxt).
    pub be_rcv_nxt: Option<u32>,
    /// Segments put on the client's link by [`Net::inject_from_client`]:
    /// (seq, payload length, flags).
    pub forged: Vec<(u32, u32, Flags)>,
    /// The MSS the back-end stack announced in its SYN/ACK.
    pub be_mss: Option<u16>,
    /// The options the front-end agreed with the client.
    pub fe_agreed: Option<SideOptions>,
    /// The SYN that made the front-end's flow, as the front-end saw it.
    pub client_syn: Option<Vec<u8>>,
    /// The client's ISN and MSS as its SYN reached the front-end.
    pub client_isn: Option<u32>,
    pub client_mss: Option<u16>,
    /// The client's highest sequence number sent + 1.
    pub client_snd_max: u32,
    /// The client's path MTU to the VIP, once an ICMP lowered it.
    pub client_pmtu: Option<usize>,
    /// Highest client data sequence number to reach the front-end + 1.
    fe_data_max: Option<u32>,
    /// The front-end's SYN/ACK sequence number (ISN_f).
    pub fe_isn: Option<u32>,
    /// Highest sequence number (the client's view) sent to the client + 1.
    pub to_client_snd_max: Option<u32>,
    // Applications
    pub req: Vec<u8>,
    pub resp: Vec<u8>,
    next_send: usize,
    outbox: Vec<u8>,
    pub got: Vec<u8>,
    pub client_closed: bool,
    pub client_aborted: bool,
    pub server_req: Vec<u8>,
    responding: bool,
    pub server_sent: usize,
    pub server_closed: bool,
    pub stats: Stats,
}

impl Net {
    pub fn new(sc: Scenario) -> Net {
        NOW.with(|n| n.set(0));
        CLIENT_TS.with(|c| c.set(sc.client_ts.unwrap_or(CLIENT_CLOCK)));
        BE_TS.with(|c| c.set(sc.be_ts.unwrap_or(BE_CLOCK)));
        let be_addr = if sc.local { V } else { B };
        let mut client = Host::new(
            C,
            sc.client_isn.map_or(u64::from(C), seed_for_isn),
            sc.client_mtu,
            sc.client_rx,
            sc.client_tx,
            sc.client_ts.map(|_| client_tsval as fn() -> u32),
        );
        client.sock().set_nagle_enabled(sc.client.nagle);
        client
            .sock()
            .set_ack_delay(sc.client.ack_delay.map(Duration::from_millis));
        let mut be_host = Host::new(
            be_addr,
            sc.be_isn.map_or(u64::from(be_addr), seed_for_isn),
            sc.be_mtu,
            sc.be_rx,
            sc.be_tx,
            sc.be_ts.map(|_| be_tsval as fn() -> u32),
        );
        be_host
            .sock()
            .set_keep_alive(sc.be_keep_alive.map(Duration::from_millis));
        be_host.sock().listen(PORT).unwrap();
        // The front-end's control address; the back-end's is B.
        let f = "10.2.0.2";
        let fe_text = match sc.local {
            true => {
                format!("node {FE_NODE} {f}\nservice 10.2.0.1:{PORT}\nrules default={FE_NODE}\n")
            }
            // The front-end is no back-end itself (the network has one
            // back-end stack): it drains.
            false => {
                let rules = match sc.silent {
                    Silent::First => format!("rules default={SILENT_NODE}\n"),
                    _ => format!("rules /big/={BE_NODE},default={BE_NODE}\n"),
                };
                let silent = match sc.silent {
                    Silent::None => String::new(),
                    _ => format!("peer {SILENT_NODE} 10.3.0.9\n"),
                };
                format!(
                    "node {FE_NODE} {f} state drain\npeer {BE_NODE} 10.3.0.1\n{silent}\
                     service 10.2.0.1:{PORT}\n{rules}"
                )
            }
        };
        let fe_text = fe_text + sc.fe_extra;
        let mut fe_node = host_node(&fe_text, sc.cfg, sc.secret, 4096);
        let mut live = btcp_core::node::LivePeers::default();
        live.add(BE_NODE, 0);
        if sc.silent != Silent::None {
            live.add(SILENT_NODE, 0);
        }
        fe_node.set_live(live);
        let standby = match sc.fe_dies_when.or(sc.vip_moves_when) {
            Some(_) => format!("peer {STANDBY_NODE} 10.2.0.3\n"),
            None => String::new(),
        };
        let be_node = host_node(
            &format!("node {BE_NODE} 10.3.0.1\npeer {FE_NODE} {f}\n{standby}"),
            sc.cfg,
            sc.secret,
            4096,
        );
        let req = sc
            .client
            .sends
            .iter()
            .flat_map(|(_, b)| b.clone())
            .collect();
        let resp = response_with(sc.body_len);
        Net {
            sc,
            t: 0,
            events: BTreeMap::new(),
            next_ev: 0,
            seen: HashMap::new(),
            ctrl_last: [0; 2],
            client,
            be_host,
            be_addr,
            fe_node,
            be_node,
            fe_id: FE_NODE,
            fe_addr: FE_ADDR,
            fe_died_at: None,
            vip_moved_at: None,
            ctrl_seq: 0,
            last_tsval_to_client: None,
            be_tsval_max: None,
            be_isn: None,
            be_snd_max: 0,
            be_rcv_nxt: None,
            forged: Vec::new(),
            be_mss: None,
            fe_agreed: None,
            client_syn: None,
            client_isn: None,
            client_mss: None,
            client_snd_max: 0,
            client_pmtu: None,
            fe_data_max: None,
            fe_isn: None,
            to_client_snd_max: None,
            req,
            resp,
            next_send: 0,
            outbox: vec![],
            got: vec![],
            client_closed: false,
            client_aborted: false,
            server_req: vec![],
            responding: false,
            server_sent: 0,
            server_closed: false,
            stats: Stats::default(),
        }
    }

    pub fn cfg(&self) -> Config {
        self.sc.cfg
    }

    /// The front-end machine's clock.
    pub fn fe_now(&self) -> u64 {
        self.t + self.sc.fe_clock_offset
    }

    /// The back-end machine's clock.
    pub fn be_now(&self) -> u64 {
        self.t + self.sc.be_clock_offset
    }

    /// Everything the client sends, in order.
    pub fn client_bytes(&self) -> &[u8] {
        &self.req
    }

    /// The state of the (only) front-end flow, if any.
    pub fn fe_state(&self) -> Option<FeState> {
        self.fe_node.fe().values().next().map(|e| e.flow.state())
    }

    pub fn be_state(&self) -> Option<BeState> {
        self.be_side().be().values().next().map(|e| e.flow.state())
    }

    /// The node whose stack serves the connection.
    pub fn be_side(&self) -> &HostNode {
        match self.sc.local {
            true => &self.fe_node,
            false => &self.be_node,
        }
    }

    fn be_side_mut(&mut self) -> &mut HostNode {
        match self.sc.local {
            true => &mut self.fe_node,
            false => &mut self.be_node,
        }
    }

    /// The front-end node's counters.
    pub fn fe_stats(&self) -> btcp_core::node::NodeStats {
        *self.fe_node.stats()
    }

    /// Flows in the front-end's and the back-end's tables.
    pub fn fe_flows(&self) -> usize {
        self.fe_node.fe().len()
    }

    pub fn be_flows(&self) -> usize {
        self.be_side().be().len()
    }

    pub fn client_state(&self) -> tcp::State {
        self.client.sock_ref().state()
    }

    pub fn server_state(&self) -> tcp::State {
        self.be_host.sock_ref().state()
    }

    /// Whether the client has handed every byte to its socket.
    pub fn all_sent(&self) -> bool {
        self.next_send == self.sc.client.sends.len() && self.outbox.is_empty()
    }

    /// Schedules `ev` after `delay` ms, applying the scenario's faults.
    fn send(&mut self, point: Option<Point>, delay: u64, ev: Event) {
        let mut at = vec![delay];
        if let Some(p) = point {
            let n = self.seen.entry(p).or_insert(0);
            *n += 1;
            let n = *n;
            for &(fp, nth, f) in &self.sc.faults {
                if fp != p || nth != n {
                    continue;
                }
                self.stats.fired.push((p, n, f));
                match f {
                    Fault::Lose => at.clear(),
                    Fault::Dup { after } => at.push(delay + after),
                    Fault::Delay { ms } => at = vec![delay + ms],
                }
            }
        }
        let ctrl_dir = match ev {
            Event::CtrlToBe(_) => Some(0),
            Event::CtrlToFe(_) => Some(1),
            _ => None,
        };
        for d in at {
            let mut when = self.t + d;
            if let Some(dir) = ctrl_dir {
                when = when.max(self.ctrl_last[dir]);
                self.ctrl_last[dir] = when;
            }
            self.next_ev += 1;
            self.events.insert((when, self.next_ev), ev.clone());
        }
    }

    /// Puts a crafted packet on the client's link to the front-end, as if
    /// the client (or someone spoofing it) sent it.
    pub fn inject_from_client(&mut self, pkt: Vec<u8>) {
        trace(self.t, "forged", &pkt);
        let seg = Seg::parse(&pkt).expect("a TCP segment");
        self.forged
            .push((seg.seq(), seg.payload_len(), seg.flags()));
        self.send(None, CLIENT_LINK_MS, Event::ToFe(pkt));
    }

    // --- links ------------------------------------------------------------

    fn client_out(&mut self, mut pkt: Vec<u8>) {
        let seg = Seg::parse(&pkt).expect("client sends TCP");
        if seg.flags().syn() {
            if let Some(m) = self.sc.syn_mangle {
                pkt = m(pkt);
            }
        }
        match self.client_pmtu {
            Some(pmtu) if pkt.len() > pmtu => {
                for p in split_to_mtu(&pkt, pmtu) {
                    self.client_out_one(p);
                }
            }
            _ => self.client_out_one(pkt),
        }
    }

    fn client_out_one(&mut self, pkt: Vec<u8>) {
        trace(self.t, "client out", &pkt);
        let seg = Seg::parse(&pkt).expect("client sends TCP");
        assert_eq!(
            seg.dst(),
            Endpoint::new(V, PORT),
            "the client talks to the VIP"
        );
        if seg.payload_len() > 0 && seq::before(seg.seq(), self.client_snd_max) {
            self.stats.client_retransmits += 1;
        }
        if !seg.flags().rst() && seq::after(seg.end_seq(), self.client_snd_max) {
            self.client_snd_max = seg.end_seq();
        }
        if seg.window() == 0 && !seg.flags().syn() && !seg.flags().rst() {
            self.stats.client_zero_windows += 1;
        }
        if seg.flags().fin() && self.stats.client_fin_sent.is_none() {
            self.stats.client_fin_sent = Some(self.t);
        }
        let point = client_point(&seg);
        self.send(Some(point), CLIENT_LINK_MS, Event::ToFe(pkt));
    }

    /// A packet on its way to the client, from the FE or the BE. The PAWS
    /// check is on the order packets are sent in (reordering on the link
    /// is the network's, not the translation's).
    fn send_to_client(&mut self, pkt: Vec<u8>, point: Option<Point>) {
        let seg = Seg::parse(&pkt).unwrap();
        if let Some((tsval, _)) = seg.timestamps() {
            if let Some(last) = self.last_tsval_to_client {
                assert!(
                    !seq::ts_before(tsval, last),
                    "PAWS: TSval {tsval:#x} after {last:#x} at t={}",
                    self.t
                );
            }
            self.last_tsval_to_client = Some(tsval);
        }
        if !seg.flags().rst() {
            let end = seg.end_seq();
            if self.to_client_snd_max.map_or(true, |m| seq::after(end, m)) {
                self.to_client_snd_max = Some(end);
            }
        }
        if let Some(mss) = self.client_mss {
            assert!(
                seg.payload_len() <= u32::from(mss),
                "a {}-byte segment to a client that announced MSS {mss}",
                seg.payload_len()
            );
        }
        self.send(point, CLIENT_LINK_MS, Event::ToClient(pkt));
    }

    /// The [`Io`] for a call into node `node`.
    fn actions(&self, node: u16) -> Actions {
        Actions {
            node,
            seq: self.ctrl_seq,
            from: None,
            list: vec![],
            recorded: vec![],
        }
    }

    /// Carries out what a node asked for, in order.
    fn perform(&mut self, acts: Actions) {
        self.ctrl_seq = acts.seq;
        let to_be_delay = if self.sc.local { 0 } else { FE_BE_LINK_MS };
        for a in acts.list {
            match a {
                Action::Transmit(side, s) => {
                    let p = write(&s, &[]);
                    if s.dst.addr != C {
                        // An RST for the back-end's side, as if from the client.
                        self.send(None, to_be_delay, Event::ToBe(p));
                        continue;
                    }
                    match side {
                        Side::Fe => {
                            self.stats.fe_replies.push(s.flags);
                            let point = if s.flags.syn() {
                                assert_only_known_options(&p, "the front-end's SYN/ACK");
                                self.fe_isn = Some(s.seq);
                                Point::FeSynAck
                            } else {
                                Point::FeReply
                            };
                            self.send_to_client(p, Some(point));
                        }
                        Side::Be => {
                            self.stats.be_to_client_crafted += 1;
                            self.send_to_client(p, None);
                        }
                    }
                }
                Action::Inject(p) => self.deliver_to_be_stack(p, true),
                Action::Send(to, msg, frame) => {
                    assert!(!self.sc.local, "a local handoff sends no message");
                    if to == SILENT_NODE {
                        self.stats.to_silent.push(msg.msg_type());
                        continue;
                    }
                    if to == FE_NODE && self.fe_id != FE_NODE {
                        continue; // the front-end left the network
                    }
                    if matches!(msg, Message::HandoffReq(_)) {
                        self.stats.handoff_reqs += 1;
                    }
                    let point = match msg {
                        Message::HandoffReq(_) => Some(Point::HandoffReq),
                        Message::HandoffAck(_) => Some(Point::HandoffAck),
                        Message::HandoffConfirm(_) => Some(Point::HandoffConfirm),
                        Message::HandoffCancel(_) => Some(Point::HandoffCancel),
                        Message::HandoffMore(_) => Some(Point::HandoffMore),
                        _ => None,
                    };
                    let ev = match to {
                        BE_NODE => Event::CtrlToBe(frame),
                        _ => Event::CtrlToFe(frame),
                    };
                    self.send(point, CTRL_MS, ev);
                }
                Action::FragNeeded(mtu, p) => {
                    let mut icmp = [0u8; 128];
                    btcp_core::build::write_icmp_frag_needed(&mut icmp, V, C, mtu, &p)
                        .expect("an ICMP error quoting the packet");
                    self.send(None, CLIENT_LINK_MS, Event::PmtuToClient(mtu));
                }
            }
        }
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
        if seg.flags().syn() {
            assert_eq!(
                Some(seg.seq()),
                self.fe_isn,
                "the only SYN the client sees is the front-end's"
            );
        }
        if let Some((_, tsecr)) = seg.timestamps() {
            if seg.flags().ack() && !seg.flags().rst() {
                assert!(
                    !seq::ts_after(tsecr, client_tsval()),
                    "the client's TS echoed from the future"
                );
            }
        }
        if seg.flags().fin() && self.stats.client_fin_rcvd.is_none() {
            self.stats.client_fin_rcvd = Some(self.t);
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
        if injected && seg.flags().syn() {
            assert_only_known_options(&pkt, "the replayed SYN");
        }
        // What a spoofer forged is checked by the stack, not by us.
        let forged = !injected
            && self
                .forged
                .contains(&(seg.seq(), seg.payload_len(), seg.flags()));
        if let (Some(isn), true, false) =
            (self.be_isn, seg.flags().ack() && !seg.flags().syn(), forged)
        {
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
        if let Some(mss) = self.be_mss {
            if seg.payload_len() > u32::from(mss) {
                assert!(
                    !injected,
                    "replayed {} bytes to a stack with MSS {mss}",
                    seg.payload_len()
                );
                self.stats.oversize_to_be += 1;
            }
        }
        if !seg.opts.sacks().is_empty() {
            self.stats.sacks_to_be += 1;
        }
        if seg.flags().fin() && self.stats.be_fin_rcvd.is_none() {
            self.stats.be_fin_rcvd = Some(self.t);
        }
        if injected {
            self.stats.injected += 1;
        } else {
            self.stats.to_be_stack += 1;
        }
        if seg.flags().rst() && self.be_rcv_nxt.is_some_and(|n| n != seg.seq()) {
            // smoltcp takes any RST in its window (RFC 793); Linux, which
            // the module runs on, takes one only at rcv_nxt and answers
            // the others with a challenge ACK (RFC 5961 3.2). Play Linux:
            // not taken (its challenge ACK left out).
            self.stats.rsts_challenged += 1;
            return;
        }
        self.be_host.dev.rx.push_back(pkt);
    }

    // --- the front-end node ----------------------------------------------

    fn fe_input(&mut self, pkt: Vec<u8>) {
        if self.fe_died_at.is_some_and(|d| self.t < d + TAKEOVER_MS) {
            self.stats.lost_to_dead_fe += 1;
            return;
        }
        let now = self.fe_now();
        let seg = Seg::parse(&pkt).unwrap();
        let key = seg.key_from_client();
        let f = seg.flags();
        if f.fin() && seg.payload_len() > 0 {
            self.stats.client_fin_with_data += 1;
        }
        if seg.payload_len() > 0 && !f.syn() {
            if self.fe_data_max.is_some_and(|m| seq::after(seg.seq(), m)) {
                self.stats.fe_data_ahead += 1;
            }
            if self
                .fe_data_max
                .map_or(true, |m| seq::after(seg.end_seq(), m))
            {
                self.fe_data_max = Some(seg.end_seq());
            }
        }
        let before = self.fe_node.fe().peek(&key).copied();
        *self
            .stats
            .fe_in
            .entry((client_point(&seg), before.map(|f| f.state())))
            .or_insert(0) += 1;
        if let (Some(flow), false) = (before, f.syn()) {
            let mss = flow.agreed().mss;
            assert!(
                seg.payload_len() <= u32::from(mss),
                "the client sent {} bytes; we agreed MSS {mss}",
                seg.payload_len()
            );
        }
        let mut acts = self.actions(self.fe_id);
        let mut payload = seg.pkt.payload(&pkt);
        let disposition = self
            .fe_node
            .on_client_segment(&seg, &mut payload, 0, now, &mut acts);
        let after = self.fe_node.fe().peek(&key).copied();
        if let Some(flow) = after.filter(|a| before.map(|b| b.id()) != Some(a.id())) {
            self.stats.fe_flows_created += 1;
            self.client_isn = Some(flow.isn_client());
            self.fe_agreed = Some(flow.agreed());
            self.client_syn = Some(pkt.clone());
            self.fe_data_max = Some(flow.isn_client().wrapping_add(1));
            self.client_mss = seg.opts.mss;
        }
        self.perform(acts);
        if let Disposition::Forward {
            edits,
            local,
            tunnel_from,
        } = disposition
        {
            let mut p = pkt;
            let was = Seg::parse(&p).map(|s| (s.seq(), s.payload_len(), s.flags()));
            if let Some(keep) = edits.keep {
                // A request held at the front-end (per-request dispatch).
                let len = xlate::trim_payload(&mut p, keep).unwrap();
                p.truncate(len);
            }
            xlate::apply(&mut p, &edits).unwrap();
            if edits.keep.is_some() && was.is_some_and(|w| self.forged.contains(&w)) {
                // What is left of a spoofer's segment is still one.
                let s = Seg::parse(&p).unwrap();
                self.forged.push((s.seq(), s.payload_len(), s.flags()));
            }
            if let Some(src) = tunnel_from {
                p = ipip(src, &p);
                self.stats.tunnelled += 1;
                self.stats.tunnelled_max = self.stats.tunnelled_max.max(p.len());
                assert!(p.len() <= self.sc.be_mtu, "{} bytes tunnelled", p.len());
            }
            let delay = if local { 0 } else { FE_BE_LINK_MS };
            self.send(None, delay, Event::ToBe(p));
        }
    }

    fn fe_ctrl(&mut self, frame: Vec<u8>) {
        let now = self.fe_now();
        let (f, _) = wire::decode_verified(&frame, &ToyMac).unwrap();
        if std::env::var_os("BTCP_SIM_TRACE").is_some() {
            eprintln!("{:6} ctrl to fe   {:?}", self.t, f.message);
        }
        assert_eq!((f.header.sender, f.header.recipient), (BE_NODE, self.fe_id));
        match &f.message {
            Message::FlowAnnounce(_) => self.stats.announces += 1,
            Message::HandoffAck(_) => self.stats.handoff_acks += 1,
            Message::HandoffNack(_) => self.stats.handoff_nacks += 1,
            Message::Terminate(t) => self.stats.terminates.push(t.reason),
            m => panic!("unexpected {m:?}"),
        }
        let mut acts = self.actions(self.fe_id);
        self.fe_node
            .on_message(f.header.sender, &f.message, now, &mut acts);
        self.perform(acts);
    }

    // --- the back-end node -----------------------------------------------

    fn be_ctrl(&mut self, frame: Vec<u8>) {
        let now = self.be_now();
        let (f, _) = wire::decode_verified(&frame, &ToyMac).unwrap();
        if std::env::var_os("BTCP_SIM_TRACE").is_some() {
            eprintln!("{:6} ctrl to be   {:?}", self.t, f.message.msg_type());
        }
        assert_eq!((f.header.sender, f.header.recipient), (self.fe_id, BE_NODE));
        match f.message {
            Message::HandoffReq(_) => {}
            Message::HandoffConfirm(_) => self.stats.handoff_confirms += 1,
            Message::HandoffCancel(_) => self.stats.handoff_cancels += 1,
            Message::HandoffMore(_) => self.stats.handoff_mores += 1,
            Message::FlowQuery(_) => {}
            m => panic!("unexpected {m:?}"),
        }
        let mut acts = self.actions(BE_NODE);
        self.be_node
            .on_message(f.header.sender, &f.message, now, &mut acts);
        self.perform(acts);
    }

    /// The back-end side's clock and node id.
    fn be_side_now(&self) -> (u64, u16) {
        match self.sc.local {
            true => (self.fe_now(), FE_NODE),
            false => (self.be_now(), BE_NODE),
        }
    }

    /// A forwarded client packet arriving at the back-end node: its node
    /// watches it on its way into the stack.
    /// A client segment reaching the back-end node: in a local handoff
    /// the front-end's translated one; else one forwarded over the link
    /// from `from` (the front-end, unless forged).
    fn be_ingress(&mut self, pkt: Vec<u8>, from: u32) {
        let (now, id) = self.be_side_now();
        if let Some(t) = btcp_core::encap::ipip_packet(&pkt) {
            // As the kernel does: the inner segment, judged by the outer
            // source.
            let inner = pkt[t.inner_offset..].to_vec();
            let seg = Seg::parse(&inner).unwrap();
            let mut acts = self.actions(id);
            match self.be_node.on_tunnelled(&seg, t.outer_src, now, &mut acts) {
                Tunnelled::Decap => self.deliver_to_be_stack(inner, false),
                Tunnelled::Drop => trace(self.t, "be dropped", &pkt),
                Tunnelled::NotOurs => panic!("an IPIP packet for no flow"),
            }
            self.perform(acts);
            return;
        }
        let seg = Seg::parse(&pkt).unwrap();
        let mut acts = self.actions(id);
        acts.from = Some(from);
        let taken = if self.sc.local {
            self.be_side_mut().on_forwarded(&seg, now, &mut acts);
            true
        } else {
            let mut payload: &[u8] = seg.pkt.payload(&pkt);
            let d = self
                .be_node
                .on_client_segment(&seg, &mut payload, 0, now, &mut acts);
            match d {
                Disposition::Accept => true,
                Disposition::Drop => false,
                d => panic!("the back-end node forwarded a forwarded segment: {d:?}"),
            }
        };
        if taken {
            self.deliver_to_be_stack(pkt, false);
        } else {
            trace(self.t, "be dropped", &pkt);
        }
        self.perform(acts);
    }

    /// Puts a crafted client packet on the back-end's link from another
    /// host there (`from`), as if the front-end had forwarded it.
    /// A client segment as it reaches the back-end after the front-end
    /// forwarded it (to B, in the back-end's sequence space): at the
    /// client's next sequence number, acknowledging what it was sent.
    pub fn forwarded_segment(&self, flags: Flags, payload: &[u8]) -> Vec<u8> {
        let xlate = self
            .be_side()
            .be()
            .values()
            .next()
            .unwrap()
            .flow
            .xlate()
            .unwrap();
        let seg = OutSegment {
            src: Endpoint::new(C, CLIENT_PORT),
            dst: Endpoint::new(B, PORT),
            seq: self.client_snd_max,
            ack: xlate.ack_to_be(self.to_client_snd_max.unwrap()),
            flags,
            window: 65535,
            payload_len: u32::try_from(payload.len()).unwrap(),
            ..OutSegment::default()
        };
        write(&seg, payload)
    }

    pub fn inject_at_be(&mut self, pkt: Vec<u8>, from: u32) {
        trace(self.t, "forged at be", &pkt);
        let inner =
            btcp_core::encap::ipip_packet(&pkt).map_or(&pkt[..], |t| &pkt[t.inner_offset..]);
        let seg = Seg::parse(inner).expect("a TCP segment");
        self.forged
            .push((seg.seq(), seg.payload_len(), seg.flags()));
        self.send(None, FE_BE_LINK_MS, Event::ForgedToBe(pkt, from));
    }

    /// A packet the back-end stack sends.
    fn be_egress(&mut self, pkt: Vec<u8>) {
        trace(self.t, "be out", &pkt);
        let (now, id) = self.be_side_now();
        let seg = Seg::parse(&pkt).unwrap();
        if let Some((tsval, _)) = seg.timestamps() {
            if self.be_tsval_max.map_or(true, |m| seq::ts_after(tsval, m)) {
                self.be_tsval_max = Some(tsval);
            }
        }
        if seg.flags().syn() {
            self.be_isn = Some(seg.seq());
            self.be_snd_max = seg.seq().wrapping_add(1);
            self.be_mss = seg.opts.mss;
        }
        if seg.flags().ack()
            && !seg.flags().rst()
            && self.be_rcv_nxt.map_or(true, |n| seq::after(seg.ack(), n))
        {
            self.be_rcv_nxt = Some(seg.ack());
        }
        if seq::after(seg.end_seq(), self.be_snd_max) {
            self.be_snd_max = seg.end_seq();
        }
        if seg.flags().fin() && self.stats.be_fin_sent.is_none() {
            self.stats.be_fin_sent = Some(self.t);
        }
        let mut acts = self.actions(id);
        let mut payload = seg.pkt.payload(&pkt);
        let verdict = self
            .be_side_mut()
            .on_egress(&seg, &mut payload, now, &mut acts);
        // No flow's, or let through unchanged: nobody on the network
        // listens to B:80's own packets.
        if let Verdict::Forward(edits) = verdict {
            let mut p = pkt;
            xlate::apply(&mut p, &edits).unwrap();
            let seg = Seg::parse(&p).unwrap();
            if seg.dst().addr == C {
                let point = if seg.payload_len() > 0 {
                    Point::BeData
                } else {
                    Point::BeCtl
                };
                self.send_to_client(p, Some(point));
            } else {
                self.deliver_to_be_stack(p, false);
            }
        }
        self.perform(acts);
    }

    // --- applications ------------------------------------------------------

    fn client_app(&mut self) {
        let t = self.t;
        if t == 1 && !self.client.sock().is_open() && !self.client_aborted {
            let cx = self.client.iface.context();
            let s = self
                .client
                .sockets
                .get_mut::<tcp::Socket<'static>>(self.client.handle);
            s.connect(cx, (ip(V), PORT), CLIENT_PORT).unwrap();
        }
        if self.client_aborted {
            return;
        }
        if let Some(c) = self.sc.client.abort_when {
            if c(self) {
                self.client.sock().abort();
                self.client_aborted = true;
                self.client_closed = true;
                return;
            }
        }
        let may_send = self.client.sock().may_send();
        if may_send {
            while self.next_send < self.sc.client.sends.len()
                && (self.sc.client.sends[self.next_send].0)(self)
            {
                let bytes = self.sc.client.sends[self.next_send].1.clone();
                self.outbox.extend_from_slice(&bytes);
                self.next_send += 1;
            }
            if !self.outbox.is_empty() {
                let n = self.outbox.len().min(self.sc.client.write_max);
                let sent = self.client.sock().send_slice(&self.outbox[..n]).unwrap();
                self.outbox.drain(..sent);
            }
        }
        let read = (self.sc.client.read_when)(self);
        let read_max = self.sc.client.read_max;
        let s = self
            .client
            .sockets
            .get_mut::<tcp::Socket<'static>>(self.client.handle);
        if read {
            let mut left = read_max;
            while left > 0 && s.can_recv() {
                let got = &mut self.got;
                let n = s
                    .recv(|b| {
                        let n = b.len().min(left);
                        got.extend_from_slice(&b[..n]);
                        (n, n)
                    })
                    .unwrap();
                left -= n;
            }
        }
        if self.client_closed {
            return;
        }
        let close = match self.sc.client.close {
            ClientClose::AfterResponse => {
                let s = self.client.sock_ref();
                self.all_sent() && !s.may_recv() && self.got.len() >= self.resp.len()
            }
            ClientClose::AfterSend => self.all_sent(),
            ClientClose::When(c) => c(self),
            ClientClose::Never => false,
        };
        if close {
            self.client.sock().close();
            self.client_closed = true;
        }
    }

    fn server_app(&mut self) {
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
        if !self.responding && (self.sc.server.respond_when)(self) {
            self.responding = true;
        }
        let resp = &self.resp;
        let s = self
            .be_host
            .sockets
            .get_mut::<tcp::Socket<'static>>(self.be_host.handle);
        if self.responding && s.may_send() {
            while self.server_sent < resp.len() && s.can_send() {
                let n = s.send_slice(&resp[self.server_sent..]).unwrap();
                if n == 0 {
                    break;
                }
                self.server_sent += n;
            }
            if self.server_sent == resp.len()
                && !self.server_closed
                && self.sc.server.close_after_response
            {
                s.close();
                self.server_closed = true;
            }
        }
        if let Some(c) = self.sc.server.close_when {
            if !self.server_closed && c(self) {
                self.be_host.sock().close();
                self.server_closed = true;
            }
        }
    }

    // --- the loop ------------------------------------------------------------

    fn tick_machines(&mut self) {
        let mut acts = self.actions(self.fe_id);
        self.fe_node.on_timers(self.fe_now(), &mut acts);
        self.perform(acts);
        if !self.sc.local {
            let mut acts = self.actions(BE_NODE);
            self.be_node.on_timers(self.be_now(), &mut acts);
            self.perform(acts);
        }
        // What the tables and nodes counted, for the scenarios.
        let fe = self.fe_node.fe();
        self.stats.fe_buf_peak = fe.buf_peak;
        self.stats.fe_bufs_freed = fe.bufs_freed;
        self.stats.be_flows_created = self.be_side().stats().handoffs_received as usize;
    }

    pub fn step(&mut self) {
        self.t += 1;
        NOW.with(|n| n.set(self.t));
        self.fail_over();
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > self.t {
                break;
            }
            match entry.remove() {
                Event::ToFe(p) => self.fe_input(p),
                Event::ToClient(p) => self.deliver_to_client(p),
                Event::ToBe(p) => self.be_ingress(p, self.fe_addr),
                Event::ForgedToBe(p, from) => self.be_ingress(p, from),
                Event::CtrlToBe(f) => self.be_ctrl(f),
                Event::CtrlToFe(f) => self.fe_ctrl(f),
                Event::PmtuToClient(mtu) => {
                    self.stats.frag_needed += 1;
                    let mtu = usize::from(mtu);
                    self.client_pmtu = Some(self.client_pmtu.map_or(mtu, |m| m.min(mtu)));
                }
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

    /// The front-end's death and what follows, as [`Scenario::fe_dies_when`]
    /// asks: at the death, the standby (configured as the front-end, with
    /// the back-end as its peer) replaces the front-end node, and what was
    /// in flight to or from the dead one is lost; the back-end declares
    /// it dead [`FE_DEAD_MS`] later; the client's segments reach the
    /// standby from [`TAKEOVER_MS`] on.
    fn fail_over(&mut self) {
        self.move_vip();
        let Some(dies) = self.sc.fe_dies_when else {
            return;
        };
        match self.fe_died_at {
            None if dies(self) => {
                self.fe_died_at = Some(self.t);
                self.standby_in(true);
            }
            Some(d) if self.t == d + FE_DEAD_MS => {
                let mut live = btcp_core::node::LivePeers::default();
                live.add(STANDBY_NODE, 0);
                live.add_dead(FE_NODE, 0);
                self.be_node.set_live(live);
            }
            // The standby holds the VIP; its shell sees it (here without
            // the FLOW_QUERY the kernel's sends, unless the scenario moves
            // the VIP too: the back-end's announcement on the death alone
            // must do).
            Some(d) if self.t == d + TAKEOVER_MS && self.sc.vip_moves_when.is_none() => {
                self.fe_node.vip_local(V);
            }
            _ => {}
        }
    }

    /// The standby replaces the front-end node; what was in flight to or
    /// from the front-end is lost (and, if it `died`, what the client
    /// was sending to it).
    fn standby_in(&mut self, died: bool) {
        let text = format!(
            "node {STANDBY_NODE} 10.2.0.3 state drain\npeer {BE_NODE} 10.3.0.1\n\
             service 10.2.0.1:{PORT}\nrules default={BE_NODE}\n{}",
            self.sc.fe_extra
        );
        self.fe_node = host_node(&text, self.sc.cfg, *b"standby secret!!", 4096);
        // Its shell has not seen the VIP become its own yet.
        self.fe_node.vip_lost(V);
        let mut live = btcp_core::node::LivePeers::default();
        live.add(BE_NODE, 0);
        self.fe_node.set_live(live);
        self.fe_id = STANDBY_NODE;
        self.fe_addr = STANDBY_ADDR;
        self.events.retain(|_, e| match e {
            Event::ToFe(_) => !died,
            Event::CtrlToFe(_) | Event::ToBe(_) => false,
            _ => true,
        });
    }

    /// A planned switch, as [`Scenario::vip_moves_when`] asks.
    fn move_vip(&mut self) {
        let Some(moves) = self.sc.vip_moves_when else {
            return;
        };
        match self.vip_moved_at {
            None if moves(self) => {
                self.vip_moved_at = Some(self.t);
                self.standby_in(false);
            }
            Some(m) if self.t == m + VIP_SEEN_MS => {
                let now = self.fe_now();
                let mut acts = self.actions(self.fe_id);
                self.fe_node.vip_taken(V, now, &mut acts);
                acts.send(BE_NODE, &Message::FlowQuery(wire::FlowQuery { vip: V }));
                self.perform(acts);
            }
            _ => {}
        }
    }

    pub fn done(&mut self) -> bool {
        let client_state = self.client.sock().state();
        self.client_closed
            && matches!(client_state, tcp::State::Closed | tcp::State::TimeWait)
            && self.fe_flows() == 0
            && self.be_flows() == 0
            && self.events.is_empty()
    }

    /// Steps until `cond` holds; panics after `limit_ms`.
    pub fn run_until(&mut self, cond: Cond, limit_ms: u64) {
        while !cond(self) {
            assert!(self.t < limit_ms, "{}", self.describe("condition not met"));
            self.step();
        }
    }

    /// Steps for `ms`.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.t + ms;
        while self.t < end {
            self.step();
        }
    }

    /// Runs until done or `limit_ms`; returns the virtual time taken.
    pub fn run(&mut self, limit_ms: u64) -> u64 {
        while self.t < limit_ms {
            self.step();
            if self.done() {
                return self.t;
            }
        }
        panic!(
            "{}",
            self.describe(&format!("not done after {limit_ms} ms"))
        );
    }

    pub fn describe(&self, what: &str) -> String {
        format!(
            "{what} (t={}): got {} of {} bytes, server read {} of {}, client {:?}, server {:?}, \
             fe flows {:?}, be flows {:?}, faults {:?}",
            self.t,
            self.got.len(),
            self.resp.len(),
            self.server_req.len(),
            self.req.len(),
            self.client_state(),
            self.server_state(),
            self.fe_node
                .fe()
                .values()
                .map(|e| e.flow.state())
                .collect::<Vec<_>>(),
            self.be_side()
                .be()
                .values()
                .map(|e| e.flow.state())
                .collect::<Vec<_>>(),
            self.stats.fired,
        )
    }
}

/// The kind of a client segment.
pub fn client_point(seg: &Seg<'_>) -> Point {
    let f = seg.flags();
    if f.syn() {
        Point::ClientSyn
    } else if seg.payload_len() > 0 {
        Point::ClientData
    } else if f.rst() {
        Point::ClientRst
    } else if f.fin() {
        Point::ClientFin
    } else {
        Point::ClientAck
    }
}

/// With `BTCP_SIM_TRACE` set, prints one line per packet.
/// The client's segment `pkt` cut into segments of at most `mtu` bytes,
/// as a stack that learnt that path MTU would send it (smoltcp has no
/// path MTU discovery: its segment size comes from the interface's MTU,
/// fixed when the interface is made). The pieces keep the headers and
/// timestamps; PSH and FIN ride on the last. SACK blocks are not kept
/// (the scenarios that use this send data, not SACKs).
fn split_to_mtu(pkt: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let seg = Seg::parse(pkt).unwrap();
    let off = seg.pkt.payload_offset;
    let payload = &pkt[off..off + seg.payload_len() as usize];
    let head = off;
    if payload.is_empty() || head >= mtu {
        return vec![pkt.to_vec()];
    }
    let f = seg.flags();
    let last_flags = f;
    let mid_flags = Flags(f.0 & !(Flags::FIN.0 | Flags::PSH.0));
    let chunks: Vec<&[u8]> = payload.chunks(mtu - head).collect();
    let n = chunks.len();
    let mut seq = seg.seq();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let out = OutSegment {
                src: seg.src(),
                dst: seg.dst(),
                seq,
                ack: seg.ack(),
                flags: if i + 1 == n { last_flags } else { mid_flags },
                window: seg.window(),
                ts: seg.timestamps(),
                payload_off: 0,
                payload_len: c.len() as u32,
                ..OutSegment::default()
            };
            seq = seq.wrapping_add(c.len() as u32);
            write(&out, c)
        })
        .collect()
}

pub fn trace(t: u64, what: &str, p: &[u8]) {
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

pub fn write(s: &OutSegment, reqbuf: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; s.packet_len()];
    let n = s.write(&mut buf, reqbuf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

/// Both checksums of `p` are right.
pub fn assert_valid(p: &[u8]) {
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

/// A SYN we crafted carries only options we understand, no ECN flag and
/// no reserved bit (AccECN's AE).
pub fn assert_only_known_options(p: &[u8], what: &str) {
    let seg = Seg::parse(p).unwrap();
    for opt in RawOptions::new(seg.pkt.options(p)) {
        let opt = opt.unwrap_or_else(|e| panic!("{what}: malformed options {e:?}"));
        assert!(
            [KIND_MSS, KIND_WSCALE, KIND_SACK_PERMITTED, KIND_TIMESTAMPS].contains(&opt.kind),
            "{what} carries option kind {}",
            opt.kind
        );
    }
    let f = seg.flags();
    assert!(!f.ece() && !f.cwr(), "{what} carries ECN flags");
    let reserved = p[seg.pkt.tcp_offset + 12] & 0x0f;
    assert_eq!(reserved, 0, "{what} sets reserved/AE bits");
}

/// Runs `sc` to completion and checks the outcome: the server read
/// exactly the client's bytes, the client got the response byte for byte,
/// every scripted fault happened, one flow each side, tables empty.
pub fn run(sc: Scenario) -> Net {
    run_within(sc, 60_000)
}

pub fn run_within(sc: Scenario, limit_ms: u64) -> Net {
    let faults = sc.faults.clone();
    let oversize_ok = sc.oversize_to_be_ok;
    let mut net = Net::new(sc);
    let took = net.run(limit_ms);
    check_delivery(&net);
    assert_eq!(
        net.stats.fired.len(),
        faults.len(),
        "every scripted fault happened: {:?} vs {:?}",
        net.stats.fired,
        faults
    );
    assert_eq!(net.stats.fe_flows_created, 1);
    assert_eq!(net.stats.be_flows_created, 1);
    if !oversize_ok {
        assert_eq!(net.stats.oversize_to_be, 0, "segments above the BE's MSS");
    }
    if std::env::var_os("BTCP_SIM_TRACE").is_some() {
        let mut fe_in: Vec<_> = net.stats.fe_in.iter().collect();
        fe_in.sort_by_key(|(k, _)| format!("{k:?}"));
        eprintln!("client segments at the FE by (kind, state): {fe_in:?}");
    }
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

/// Byte-exact delivery both ways.
pub fn check_delivery(net: &Net) {
    assert_eq!(
        net.server_req.len(),
        net.req.len(),
        "the server read as many bytes as the client sent"
    );
    assert!(
        net.server_req == net.req,
        "the server read the client's bytes as sent"
    );
    assert_eq!(net.got.len(), net.resp.len());
    assert!(net.got == net.resp, "the response arrived byte for byte");
}
