//! The front-end's per-connection state machine (Documentation/handoff.md, steps 1-4
//! and 6, and the front-end half of step 8).
//!
//! The front-end answers a client's SYN to a VIP itself, collects the
//! request into a buffer the shell owns, asks the shell to pick a
//! back-end, sends the back-end a HANDOFF_REQ, and once the handoff is
//! acknowledged forwards every client segment to the back-end with the
//! [`super::xlate`] edits. Sans-IO: every input returns an [`FeOutput`]
//! saying what to do; nothing here sends, allocates or reads a clock.
//!
//! ```text
//!  SYN ──► SynRcvd ──ACK──► Receiving ──head complete / buffer full / FIN──► Dispatching
//!                                                                             │ handoff(target)
//!         Linger ◄── NACK with no tries left, no answer after resends ── HandingOff
//!           ▲  (RST to the client)                     NACK, no answer in time │ ▲ (dispatch again)
//!           │                                                              ▼ │
//!           └──── TERMINATE, client RST, idle ◄──── Forwarding ◄──HANDOFF_ACK─┘
//! ```
//!
//! # How the shell drives it
//!
//! - A SYN (no ACK) to a VIP:port without a flow: [`FeFlow::on_syn`]; keep
//!   the flow, send the SYN/ACK in [`FeOutput::reply`], drop the SYN.
//! - Every other segment from the client of a flow: [`FeFlow::on_segment`]
//!   with the payload and the flow's request buffer.
//! - [`FeOutput::dispatch`]: choose a back-end (e.g. [`FeFlow::select`] with
//!   the rule table, avoiding [`FeFlow::tried`]) and call
//!   [`FeFlow::handoff`] right away; send its [`FeOutput::control`] request
//!   to that node (or, for a local handoff, hand it to this node's own
//!   [`super::backend`] machine).
//! - Control messages for the flow: [`FeFlow::on_handoff_ack`],
//!   [`FeFlow::on_handoff_nack`], [`FeFlow::on_terminate`]. A
//!   HANDOFF_ACK goes to the flow if it comes from any node the flow was
//!   offered to ([`FeFlow::tried`]): a late one is answered with a cancel.
//! - A timer: [`FeFlow::on_tick`] at or after [`FeFlow::next_deadline`]
//!   (a periodic sweep calling it for every flow is fine too).
//!
//! In every output: apply [`FeOutput::verdict`] to the packet in hand,
//! send [`FeOutput::reply`] to the client, [`FeOutput::to_backend`] to the
//! back-end, send [`FeOutput::control`] and [`FeOutput::decision`], and
//! free the flow if [`FeOutput::free`] (then, if [`FeOutput::restart`],
//! handle the packet again as a new SYN).
//!
//! # Behaviour the design left open, as defined here
//!
//! - SYN/ACK options: MSS `min(client's, ours)`; window scale only if the
//!   client sent one and the configuration has one; SACK and timestamps
//!   only if the client offered them and the configuration allows; no
//!   other option ever, and no ECN (ECE/CWR in the SYN are ignored, so the
//!   connection is not ECN-capable; the replayed SYN carries none either).
//!   The MSS cannot change after the handoff: a back-end whose stack
//!   announces less still takes the flow (its replayed request is cut to
//!   its MSS). Its MSS says how big a packet its link takes, so a client
//!   segment that would not fit (IP and TCP options plus the payload of
//!   one wire segment above the back-end's MSS) is not forwarded if it
//!   has DF set: it is dropped and answered with an ICMP "fragmentation
//!   needed" announcing an MTU of the back-end's MSS + 40
//!   ([`FeOutput::frag_needed`]), as a router on a smaller-MTU link would
//!   (RFC 1191); the client's stack lowers its path MTU to the VIP and
//!   sends smaller segments. Without DF the segment is forwarded as it is
//!   (the network fragments it). Local handoffs cross no link: no check.
//! - The SYN/ACK is not retransmitted by us: a client whose SYN/ACK was
//!   lost retransmits its SYN and gets the same SYN/ACK again (as with SYN
//!   cookies, which this is meant to become). A SYN with another ISN in
//!   SYN-RECEIVED restarts the flow.
//! - Out-of-order segments are dropped and answered with a duplicate ACK;
//!   bytes beyond the buffer are dropped (they are outside the window we
//!   advertised). Every in-order data segment is ACKed at once, with the
//!   window set to the free buffer space.
//! - Dispatch happens when the head is complete (CRLF CRLF), the buffer is
//!   full, or the client sent FIN (the request goes with its FIN flag). A
//!   FIN before any byte gets our own FIN, a graceful close as a server would
//!   make (HTTP clients close idle pre-opened connections): nothing to hand off.
//! - Our TSval clock freezes when the flow starts dispatching: re-ACKs sent
//!   while the handoff is pending repeat the last TSval, so the
//!   `fe_tsval_last` in the HANDOFF_REQ stays the latest TSval the client
//!   saw, and `ts_delta` keeps the client's PAWS check happy.
//! - While the shell picks a back-end, retransmitted request bytes are
//!   ACKed again. Once the HANDOFF_REQ is out we send the client nothing
//!   but an RST: the back-end may be answering it already, with TSvals
//!   newer than our frozen one (a re-ACK would then fail the client's
//!   PAWS check). New bytes, FINs, retransmissions and pure ACKs (e.g. of
//!   response data the back-end sent before our HANDOFF_ACK arrived) are
//!   dropped silently: the client or the back-end retransmits them.
//! - No answer to a HANDOFF_REQ to a peer within [`Config::handoff_ms`]:
//!   the flow is dispatched again ([`FeOutput::dispatch`]), and if the
//!   shell finds another node it goes there, with a HANDOFF_CANCEL to
//!   the first ([`FeOutput::decision`]). This is safe because a peer that
//!   took a handoff holds the request back from its stack until we send
//!   it HANDOFF_CONFIRM, which we do only for the node the flow is handed
//!   to, when its HANDOFF_ACK arrives (`backend.rs`): until then its
//!   stack has nothing to answer, so the client hears from one back-end
//!   only. A late HANDOFF_ACK from a node the flow was taken from is
//!   answered with another cancel (the first may have been lost with its
//!   channel; the back-end also gives up on its own). If no other node
//!   can take it ([`FeFlow::abandon`]), the HANDOFF_REQ is sent again to
//!   the same back-end, [`Config::handoff_resends`] times in all, then the
//!   client is reset. A local handoff is never moved on a timeout: its
//!   answer cannot be lost. A NACK (which a back-end sends only when it
//!   holds no state for the flow) lets the shell dispatch again; NACKs
//!   and timeouts together reach at most [`Config::handoff_tries`]
//!   back-ends.
//! - A client RST before the handoff counts only at exactly the next
//!   expected sequence number (RFC 5961 3.2); one elsewhere in the window
//!   gets a challenge ACK (none once the HANDOFF_REQ is out, see above).
//!   It frees the flow (after a linger once a HANDOFF_REQ went out; a
//!   HANDOFF_ACK arriving during that linger is answered with an RST to
//!   the back-end, so it does not keep a connection nobody will use).
//! - After the handoff client segments are forwarded, and the back-end's
//!   stack judges them; the back-end machine sends TERMINATE when the
//!   connection is over, which starts our linger; [`Config::idle_ms`]
//!   without an acceptable segment frees a forwarding flow (the back-end
//!   times out on its own).
//! - Blind injection (RFC 5961). Our sequence space is the client's, so we
//!   check what we forward as a stack would: a segment starting more than
//!   the back-end's largest possible window (65535 shifted by its window
//!   scale) from the client's next sequence number, or acknowledging
//!   more than a client window before its latest acknowledgment or past
//!   the right edge of the window it advertised (the back-end can have
//!   sent nothing beyond it), is dropped and counted
//!   ([`FeOutput::refused`]). An RST elsewhere in the window than at the
//!   next sequence number, and any SYN, go on for the stack to challenge
//!   and change nothing here. Only acceptable segments move our record
//!   of the client (next sequence number, acknowledgment, timestamp, idle
//!   timer). The back-end machine applies the same rules with what only
//!   it knows (`backend.rs`).
//! - A SYN on the 4-tuple of a handed-off flow is a new connection once
//!   the flow lingers (the back-end said the connection is over), or an
//!   acceptable FIN or the client's RST at its next sequence number went
//!   through: the flow is freed and the SYN handled anew
//!   ([`FeOutput::restart`]), as a stack's TIME-WAIT takes a new SYN. The
//!   FIN counts because a client opens a new connection on the 4-tuple
//!   only once its side of the old one is closed, and that new SYN can
//!   overtake the back-end's TERMINATE. "A SYN" is what a stack's
//!   TIME-WAIT would take for a new connection: a sequence number past
//!   the old connection's, or a newer timestamp; a stale copy of the old
//!   SYN is forwarded like any segment. Before that, the SYN is
//!   forwarded, and the back-end's stack answers it as RFC 5961 4.2 says
//!   (a challenge ACK).

use super::bytes::as_usize;
use super::config::NodeConfig;
use super::flow::{deadline, Config, Endpoint, FlowKey, SideOptions, Verdict};
use super::framing::BodyFramer;
use super::http::{find_head_end_from, malformed_from};
use super::isn::IsnSecret;
use super::rules::RuleTable;
use super::segment::{OutSegment, Seg};
use super::seq;
use super::syncookie::{ts_decode, ts_encode, CookieKeys, SynOpts};
use super::tcp::Flags;
use super::tls::{parse_client_hello, HelloError};
use super::wire::{
    FlowAnnounce, FlowRef, HandoffAck, HandoffDecision, HandoffMore, HandoffNack, HandoffReq,
    Message, MoveRelease, Terminate,
};
use super::xlate::Xlate;

mod moves;
pub use moves::Stays;

/// The smallest back-end MSS the front-end asks clients to fit into
/// (Linux's smallest path MTU, 552, less 40).
pub const MIN_PMTU_MSS: u16 = 512;

/// Most back-ends a flow remembers having tried ([`FeFlow::tried`]).
pub const MAX_TRIED: usize = 4;

/// Where the front-end flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeState {
    /// Our SYN/ACK is out; waiting for the client's ACK.
    SynRcvd,
    /// Collecting the request.
    Receiving,
    /// The request is complete: waiting for the shell to pick a back-end.
    Dispatching,
    /// HANDOFF_REQ sent; waiting for HANDOFF_ACK or NACK.
    HandingOff,
    /// Handed off: client segments are translated and forwarded.
    Forwarding,
    /// Handed off, and a request head the client sent after it is being
    /// collected (per-request dispatch, `moves.rs`): its bytes are held,
    /// what comes before them is forwarded.
    Collecting,
    /// Handed off, and the request held belongs on another node: the
    /// target was asked to release the connection (MOVE_RELEASE).
    Releasing,
    /// Over: stray segments are absorbed (or still forwarded, if the flow
    /// was handed off) until the linger time ends.
    Linger,
}

/// The back-end a flow is handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Target {
    /// The back-end's node id (a HANDOFF_ACK must come from it).
    pub node: u16,
    /// The back-end's address `B`; the VIP's own address for a local
    /// handoff.
    pub addr: u32,
}

impl Target {
    /// Where node `node`, as dispatch picked it, is for a flow to the
    /// service address `vip`: this node's own stack (the VIP's address)
    /// when it is this node, or, with no such node configured, this node
    /// (node 0 if it has no id); a peer's control address otherwise.
    pub fn resolve(cfg: &NodeConfig, node: u16, vip: u32) -> Target {
        let own = cfg.node;
        match (own, cfg.peer(node)) {
            (Some(me), _) if me.id == node => Target { node, addr: vip },
            (_, Some(peer)) => Target {
                node,
                addr: peer.addr,
            },
            (me, None) => Target {
                node: me.map_or(0, |m| m.id),
                addr: vip,
            },
        }
    }

    /// Whether a handoff to this target stays on this node (the one test
    /// of "local"; the translation agrees: [`Xlate::is_local`]).
    pub fn is_local(&self, vip: u32) -> bool {
        self.addr == vip
    }
}

/// What the shell must do after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeOutput<'b> {
    /// What to do with the packet in hand (if the input was a packet).
    pub verdict: Verdict,
    /// A segment to send to the client (SYN/ACK, ACK or RST), from the VIP.
    pub reply: Option<OutSegment>,
    /// A HANDOFF_REQ to send to [`FeFlow::target`]'s node; the request
    /// bytes borrow the flow's request buffer.
    pub control: Option<HandoffReq<'b>>,
    /// A segment for the back-end's stack, as if from the client (an RST
    /// when a HANDOFF_ACK arrives for a flow we already gave up): send it
    /// to the target's address (for a local handoff, inject it locally).
    pub to_backend: Option<OutSegment>,
    /// Pick a back-end and call [`FeFlow::handoff`].
    pub dispatch: bool,
    /// Free the flow.
    pub free: bool,
    /// With `free`: the packet in hand is a new connection's SYN on the
    /// same 4-tuple; handle it with [`FeFlow::on_syn`] after freeing.
    pub restart: bool,
    /// The packet in hand (dropped) is too big for the back-end's link:
    /// send the client an ICMP "fragmentation needed" from the VIP,
    /// quoting the packet as the client sent it, with this next-hop MTU
    /// (`build::write_icmp_frag_needed`).
    pub frag_needed: Option<u16>,
    /// The packet in hand (dropped) is a client segment after the handoff
    /// that no stack would accept (RFC 5961): count it.
    pub refused: bool,
    /// The flow no longer counts against its client's `client-flows`
    /// (handed off, or over): give its count back.
    pub client_done: bool,
    /// The connection is over: it no longer counts in this node's open
    /// handoffs (give its count back).
    pub open_done: Option<u16>,
    /// A HANDOFF_CONFIRM or HANDOFF_CANCEL to send to this node (a peer).
    pub decision: Option<(u16, Message<'static>)>,
    /// Bytes came while the handoff was pending: send the target
    /// [`FeFlow::unsent_request`] (after the decision).
    pub more: bool,
    /// A request head starts this far into the payload of the segment in
    /// hand (whose verdict cuts it there): grow the request buffer to
    /// [`FeFlow::request_needs`] for the rest and call [`FeFlow::hold`].
    pub hold: Option<u32>,
    /// Ask the target to release the connection (per-request dispatch):
    /// send it this (a local target: our own back-end side).
    pub release: Option<MoveRelease>,
    /// Node `.0`, the target, released the connection: it moves (count
    /// it), `.1` ms after it was first asked.
    pub moved: Option<(u16, u64)>,
}

impl FeOutput<'_> {
    fn drop_with(reply: Option<OutSegment>) -> FeOutput<'static> {
        FeOutput {
            reply,
            ..FeOutput::default()
        }
    }

    fn refused() -> FeOutput<'static> {
        FeOutput {
            refused: true,
            ..FeOutput::default()
        }
    }

    fn freed(reply: Option<OutSegment>) -> FeOutput<'static> {
        FeOutput {
            reply,
            free: true,
            ..FeOutput::default()
        }
    }
}

/// The most a client segment may carry beyond 40 bytes of headers to
/// reach a back-end whose stack announced MSS `be_mss` (0: no check). A
/// local handoff crosses no link. Below what stacks take as a path MTU
/// (Linux: 552) the client could not comply: no check then. An
/// encapsulating front-end's outer header takes its share.
fn be_mss_check(be_mss: u16, xlate: &Xlate, cfg: &Config) -> u16 {
    let be_mss = be_mss.saturating_sub(cfg.encap_overhead);
    if xlate.is_local() || be_mss < MIN_PMTU_MSS {
        0
    } else {
        be_mss
    }
}

/// Where a client RST's sequence number falls.
enum RstCheck {
    /// At the next expected sequence number: the connection is reset.
    Exact,
    /// Elsewhere in the window: a challenge ACK.
    InWindow,
    /// Outside the window: ignored.
    Outside,
}

/// What a client segment after the handoff may do (RFC 5961).
enum FwdCheck {
    /// Acceptable: forward it and record what it says.
    Take,
    /// For the back-end's stack to answer: forward it, record nothing.
    Pass,
    /// No stack would accept it: drop it.
    Refuse,
}

/// One client connection at the front-end. 144 bytes on x86-64; the request
/// bytes live in a buffer the shell owns and passes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeFlow {
    state: FeState,
    key: FlowKey,
    id: u32,
    isn_c: u32,
    isn_f: u32,
    client_opts: SideOptions,
    client_syn_window: u16,
    agreed: SideOptions,
    /// Next client sequence number expected.
    rcv_nxt: u32,
    /// Bytes in the request buffer.
    req_len: u32,
    /// Of those, the bytes the HANDOFF_REQ to the current target carried;
    /// the rest came while the handoff was pending and follow it in a
    /// HANDOFF_MORE once it is acknowledged.
    sent_len: u32,
    /// Bytes of the buffer already searched for the end of the head.
    searched: u32,
    /// The buffer's capacity ([`Config::request_cap`] at the SYN).
    cap: u32,
    /// The client's FIN is in the request.
    fin: bool,
    /// The client's latest raw window.
    client_window: u16,
    /// The client's latest TSval.
    client_tsval: u32,
    ts_offset: u32,
    /// The last TSval we sent.
    fe_tsval_last: u32,
    /// Our TSval no longer advances (dispatch started).
    ts_frozen: bool,
    /// A TLS service's connection: the request is a ClientHello.
    tls: bool,
    /// The current state's deadline.
    deadline: u64,
    /// When a client segment was last seen (forwarding idle timer).
    last_seen: u64,
    target: Target,
    tried: [u16; MAX_TRIED],
    tries: u8,
    resends: u8,
    /// Dispatching again because the target did not answer in time: the
    /// next [`FeFlow::handoff`] cancels it, [`FeFlow::abandon`] falls
    /// back on it.
    timed_out: bool,
    /// The flow was handed off (xlate is valid).
    handed_off: bool,
    /// After the handoff, an acceptable client FIN, or its RST at its
    /// next sequence number, went through.
    client_closed: bool,
    /// After the handoff, the end of the client's sequence space seen in
    /// acceptable segments.
    fwd_nxt: u32,
    /// After the handoff, the client's highest acknowledgment (our space)
    /// and the right edge of the window it advertised with it: the
    /// back-end can have sent nothing past the edge.
    fwd_ack: u32,
    fwd_edge: u32,
    /// The MSS the back-end's stack announced (0: a local handoff, or
    /// not handed off): the most a client segment may carry beyond 40
    /// bytes of headers to reach it whole.
    be_mss: u16,
    /// Counted against its client address's `client-flows` (the node sets
    /// it when it inserts the flow; cleared once handed off or over).
    counted: bool,
    /// Counted in the node's open handoffs to its target, the load the
    /// policies weigh (set when the handoff is acknowledged; cleared once
    /// the connection is over, so a lingering flow is no load).
    open: bool,
    /// What the translation rests on besides what the flow keeps anyway
    /// (the translation is computed from them, [`FeFlow::xlate`]): the
    /// back-end stack's ISN, the TSval offset, its window scale.
    isn_b: u32,
    ts_delta: u32,
    ws_be: u8,
    /// Per-request dispatch (`moves.rs`): the client's stream after the
    /// handoff is framed up to `framed` (`body` the message being
    /// passed); the target's stack got `requests` requests since its
    /// handoff (modulo 2^16); `reading` until the connection is pinned.
    /// While a request is held, it starts at `framed`.
    body: BodyFramer,
    framed: u32,
    requests: u16,
    reading: bool,
    /// The client's latest TSecr: the TSval it got last, which a move's
    /// next back-end must not go below.
    tsecr: u32,
}

impl FeFlow {
    /// A client's SYN to a VIP (`seg` is SYN without ACK, RST or FIN): the
    /// new flow, with the SYN/ACK to send in [`FeOutput::reply`] (drop the
    /// SYN). `id` is the flow id the shell chose (it comes back in the
    /// back-end's messages). `None` for anything that is not a plain SYN:
    /// drop it.
    pub fn on_syn(
        seg: &Seg<'_>,
        id: u32,
        secret: &IsnSecret,
        cfg: &Config,
        now_ms: u64,
    ) -> Option<(FeFlow, FeOutput<'static>)> {
        let f = seg.flags();
        if !f.syn() || f.ack() || f.rst() || f.fin() {
            return None;
        }
        let key = seg.key_from_client();
        let client_opts = SideOptions::from_tcp(&seg.opts);
        let client_tsval = seg.timestamps().map_or(0, |t| t.0);
        let mut flow = FeFlow::syn_rcvd_flow(
            key,
            (seg.seq(), seg.window(), client_tsval),
            client_opts,
            id,
            secret,
            cfg,
            now_ms,
        );
        flow.isn_f = secret.isn(&key, now_ms);
        let synack = flow.synack(now_ms);
        Some((flow, FeOutput::drop_with(Some(synack))))
    }

    /// A SYN-RECEIVED flow on `key` whose client's SYN had sequence
    /// number, window and TSval `syn` and options `client_opts`; its ISN
    /// is for the caller to set.
    fn syn_rcvd_flow(
        key: FlowKey,
        syn: (u32, u16, u32),
        client_opts: SideOptions,
        id: u32,
        secret: &IsnSecret,
        cfg: &Config,
        now_ms: u64,
    ) -> FeFlow {
        let (isn_c, window, client_tsval) = syn;
        let agreed = SideOptions {
            mss: client_opts.mss.min(cfg.announced_mss()).max(1),
            wscale: match (client_opts.wscale, cfg.wscale) {
                (Some(_), Some(ours)) => Some(ours.min(super::tcp_options::MAX_WSCALE)),
                _ => None,
            },
            sack: client_opts.sack && cfg.sack,
            ts: client_opts.ts && cfg.ts,
        };
        let ts_offset = secret.ts_offset(&key);
        FeFlow {
            state: FeState::SynRcvd,
            key,
            id,
            isn_c,
            isn_f: 0,
            client_opts,
            client_syn_window: window,
            agreed,
            rcv_nxt: isn_c.wrapping_add(1),
            req_len: 0,
            sent_len: 0,
            searched: 0,
            cap: cfg.request_cap(),
            fin: false,
            client_window: window,
            client_tsval,
            ts_offset,
            fe_tsval_last: clock(now_ms).wrapping_add(ts_offset),
            ts_frozen: false,
            tls: false,
            deadline: deadline(now_ms, cfg.handshake_ms),
            last_seen: now_ms,
            target: Target::default(),
            tried: [0; MAX_TRIED],
            tries: 0,
            resends: 0,
            timed_out: false,
            handed_off: false,
            client_closed: false,
            fwd_nxt: 0,
            fwd_ack: 0,
            fwd_edge: 0,
            be_mss: 0,
            counted: false,
            open: false,
            isn_b: 0,
            ts_delta: 0,
            ws_be: 0,
            body: BodyFramer::done(),
            framed: 0,
            requests: 0,
            reading: false,
            tsecr: 0,
        }
    }

    /// A connection another front-end handed off to `target`, as its
    /// back-end announces it after that front-end died
    /// ([`FlowAnnounce`]): a forwarding flow, as if this node had handed
    /// it off, that keeps the first front-end's flow id (the back-end's
    /// messages name it). `None` if the announcement is not consistent.
    pub fn adopted(
        a: &FlowAnnounce,
        target: Target,
        secret: &IsnSecret,
        cfg: &Config,
        now_ms: u64,
    ) -> Option<FeFlow> {
        let key = FlowKey::new(
            Endpoint::new(a.flow.client_addr, a.flow.client_port),
            Endpoint::new(a.flow.vip_addr, a.flow.vip_port),
        );
        if target.is_local(key.server.addr) {
            return None;
        }
        let client_opts = SideOptions::from(a.client_opts);
        let mut flow = FeFlow::syn_rcvd_flow(
            key,
            (a.isn_client, a.client_window, a.client_tsval),
            client_opts,
            a.flow.fe_flow_id,
            secret,
            cfg,
            now_ms,
        );
        let agreed = SideOptions::from(a.fe_opts);
        let ws_be = match agreed.wscale {
            Some(_) => a.be_opts.wscale.unwrap_or(0),
            None => 0,
        };
        flow.agreed = agreed;
        flow.isn_f = a.isn_fe;
        flow.isn_b = a.isn_be;
        flow.ts_delta = a.ts_delta;
        flow.ws_be = ws_be.min(super::tcp_options::MAX_WSCALE);
        flow.ts_frozen = true;
        flow.rcv_nxt = a.client_nxt;
        flow.target = target;
        flow.tried = [target.node; MAX_TRIED];
        flow.tries = 1;
        flow.handed_off = true;
        flow.client_closed = a.client_fin;
        flow.fwd_nxt = a.client_nxt;
        flow.fwd_ack = a.client_ack;
        flow.fwd_edge = a.client_edge;
        flow.be_mss = be_mss_check(a.be_opts.mss, &flow.xlate_now(), cfg);
        flow.state = FeState::Forwarding;
        Some(flow)
    }

    /// The SYN/ACK that answers SYN `seg` with a cookie (`syncookie.rs`)
    /// instead of a flow: its sequence number the cookie, its TSval
    /// carrying the client's window scale and SACK choice. Without
    /// timestamps there is nowhere to keep those, and neither is offered.
    pub fn cookie_synack(
        seg: &Seg<'_>,
        keys: &CookieKeys,
        secret: &IsnSecret,
        cfg: &Config,
        now_ms: u64,
    ) -> Option<OutSegment> {
        let f = seg.flags();
        if !f.syn() || f.ack() || f.rst() || f.fin() {
            return None;
        }
        let key = seg.key_from_client();
        let mut client_opts = SideOptions::from_tcp(&seg.opts);
        let with_ts = client_opts.ts && cfg.ts;
        if !with_ts {
            client_opts.wscale = None;
            client_opts.sack = false;
        }
        let offer = client_opts.mss.min(cfg.announced_mss());
        let (cookie, mss) = keys.make(&key, seg.seq(), offer, now_ms);
        client_opts.mss = mss;
        let tsval = seg.timestamps().map_or(0, |t| t.0);
        let mut flow = FeFlow::syn_rcvd_flow(
            key,
            (seg.seq(), seg.window(), tsval),
            client_opts,
            0,
            secret,
            cfg,
            now_ms,
        );
        flow.isn_f = cookie;
        let mut synack = flow.synack(now_ms);
        let opts = SynOpts {
            mss,
            wscale: client_opts.wscale,
            sack: client_opts.sack,
            ecn: false,
        };
        synack.ts = synack.ts.map(|(v, e)| (ts_encode(v, &opts), e));
        Some(synack)
    }

    /// The SYN-RECEIVED flow a third ACK `seg` stands for, whose cookie
    /// the caller has checked (`mss` is what it encodes); `None` if its
    /// timestamp cannot be the echo of a cookie SYN/ACK. Run `seg` through
    /// [`FeFlow::on_segment`] next, as for any flow.
    pub fn from_cookie(
        seg: &Seg<'_>,
        mss: u16,
        id: u32,
        secret: &IsnSecret,
        cfg: &Config,
        now_ms: u64,
    ) -> Option<FeFlow> {
        let opts = match seg.timestamps() {
            Some((_, tsecr)) if cfg.ts => ts_decode(tsecr, mss)?,
            _ => SynOpts {
                mss,
                ..SynOpts::default()
            },
        };
        let client_opts = SideOptions {
            mss,
            wscale: opts.wscale,
            sack: opts.sack,
            ts: seg.timestamps().is_some() && cfg.ts,
        };
        let key = seg.key_from_client();
        let tsval = seg.timestamps().map_or(0, |t| t.0);
        // The SYN's window is not known: the ACK's, in the SYN's unscaled
        // form (the back-end's stack learns the real one from the next
        // segment).
        let scaled = u32::from(seg.window()) << opts.wscale.unwrap_or(0).min(14);
        let window = u16::try_from(scaled).unwrap_or(u16::MAX);
        let isn_c = seg.seq().wrapping_sub(1);
        let mut flow = FeFlow::syn_rcvd_flow(
            key,
            (isn_c, window, tsval),
            client_opts,
            id,
            secret,
            cfg,
            now_ms,
        );
        flow.isn_f = seg.ack().wrapping_sub(1);
        Some(flow)
    }

    /// The flow's state.
    pub fn state(&self) -> FeState {
        self.state
    }

    /// The flow's key (client, VIP).
    pub fn key(&self) -> FlowKey {
        self.key
    }

    /// The flow id given to [`FeFlow::on_syn`].
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Our ISN (ISN_f).
    pub fn isn_fe(&self) -> u32 {
        self.isn_f
    }

    /// The client's ISN (ISN_c).
    pub fn isn_client(&self) -> u32 {
        self.isn_c
    }

    /// The options the client's SYN carried.
    pub fn client_options(&self) -> SideOptions {
        self.client_opts
    }

    /// The options our SYN/ACK carried (`wscale` is our shift).
    pub fn agreed(&self) -> SideOptions {
        self.agreed
    }

    /// How many request bytes are buffered.
    pub fn request_len(&self) -> usize {
        usize::try_from(self.req_len).unwrap_or(0)
    }

    /// The buffered request: the first [`FeFlow::request_len`] bytes of
    /// the flow's buffer.
    pub fn request<'b>(&self, reqbuf: &'b [u8]) -> &'b [u8] {
        reqbuf.get(..self.request_len()).unwrap_or(reqbuf)
    }

    /// How long the request buffer must be for a segment with
    /// `payload_len` bytes to be taken whole (bounded by the flow's
    /// request limit): the shell grows its buffer to this before
    /// [`FeFlow::on_segment`]. A shorter buffer takes nothing and the
    /// client sends again.
    pub fn request_needs(&self, payload_len: usize) -> usize {
        as_usize(self.req_len)
            .saturating_add(payload_len)
            .min(as_usize(self.cap))
    }

    /// The connection is to a TLS service: what the client sends first is
    /// a ClientHello, complete when its record is ([`crate::tls`]).
    pub fn set_tls(&mut self) {
        self.tls = true;
    }

    /// Whether it is a TLS service's connection.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the flow still needs its request bytes: until a back-end
    /// acknowledged the handoff (a HANDOFF_REQ may be resent, or sent to
    /// another node after a NACK). After that the shell frees the buffer.
    pub fn holds_request(&self) -> bool {
        let collecting = !self.handed_off
            && matches!(
                self.state,
                FeState::SynRcvd | FeState::Receiving | FeState::Dispatching | FeState::HandingOff
            );
        collecting || matches!(self.state, FeState::Collecting | FeState::Releasing)
    }

    /// Whether the client's FIN is part of the request.
    pub fn request_fin(&self) -> bool {
        self.fin
    }

    /// The back-end chosen by the last [`FeFlow::handoff`].
    pub fn target(&self) -> Option<Target> {
        (self.tries > 0).then_some(self.target)
    }

    /// When the handoff in flight was last offered (its HANDOFF_REQ sent):
    /// its timer runs [`Config::handoff_ms`] from there. `None` unless
    /// handing off.
    pub fn offered_at(&self, cfg: &Config) -> Option<u64> {
        (self.state == FeState::HandingOff).then(|| self.deadline.saturating_sub(cfg.handoff_ms))
    }

    /// Whether the flow is handed (or being handed) to this node's own
    /// stack.
    pub fn is_local_handoff(&self) -> bool {
        self.target()
            .is_some_and(|t| t.is_local(self.key.server.addr))
    }

    /// Whether the flow is being dispatched again because its target did
    /// not answer in time.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The nodes handed to so far, oldest first (the last is the current
    /// target; the others refused, or did not answer in time).
    pub fn tried(&self) -> &[u16] {
        let n = usize::from(self.tries).min(MAX_TRIED);
        self.tried.get(..n).unwrap_or(&[])
    }

    /// The translation, once the handoff is acknowledged.
    pub fn xlate(&self) -> Option<Xlate> {
        self.handed_off.then(|| self.xlate_now())
    }

    /// The translation to the current target (meaningful once handed off).
    fn xlate_now(&self) -> Xlate {
        Xlate {
            vip: self.key.server.addr,
            be_addr: self.target.addr,
            isn_fe: self.isn_f,
            isn_be: self.isn_b,
            ts_delta: self.ts_delta,
            ws_be: self.ws_be,
            ws_fe: self.agreed.shift().min(super::tcp_options::MAX_WSCALE),
        }
    }

    /// The last TSval sent to the client.
    pub fn fe_tsval_last(&self) -> u32 {
        self.fe_tsval_last
    }

    /// When [`FeFlow::on_tick`] has something to do: the current state's
    /// deadline (for forwarding flows, the idle deadline).
    pub fn next_deadline(&self, cfg: &Config) -> u64 {
        match self.state {
            FeState::Forwarding => deadline(self.last_seen, cfg.idle_ms),
            FeState::Collecting | FeState::Releasing => {
                deadline(self.last_seen, cfg.idle_ms).min(self.deadline)
            }
            _ => self.deadline,
        }
    }

    /// Whether client segments go to the target (handed off and not over;
    /// a request may be held meanwhile, `moves.rs`).
    pub fn is_forwarding(&self) -> bool {
        matches!(
            self.state,
            FeState::Forwarding | FeState::Collecting | FeState::Releasing
        )
    }

    /// The node the rule table picks for the buffered request (its
    /// default node when the head does not parse).
    pub fn select(&self, reqbuf: &[u8], rules: &RuleTable) -> u16 {
        let req = self.request(reqbuf);
        let head = super::http::parse_head(req, as_usize(self.cap));
        rules.select(head.ok().as_ref())
    }

    /// The first of `candidates` (in the shell's order of preference)
    /// that has not refused this flow yet ([`FeFlow::tried`]): after a
    /// NACK the flow goes to another node rather than back to the one that
    /// refused it. `None` when every candidate refused: the shell then
    /// calls [`FeFlow::abandon`].
    pub fn untried(&self, candidates: impl IntoIterator<Item = u16>) -> Option<u16> {
        let tried = self.tried();
        candidates.into_iter().find(|n| !tried.contains(n))
    }

    /// No node is left to hand the flow to (in [`FeState::Dispatching`]).
    /// If it is dispatched again because its target did not answer in
    /// time, and resends are left, the HANDOFF_REQ goes to that target
    /// again ([`FeOutput::control`]; `reqbuf` is the flow's request
    /// buffer); otherwise the client is reset and the flow lingers (a
    /// target that did not answer gets a cancel). Does nothing in other
    /// states.
    pub fn abandon<'b>(&mut self, reqbuf: &'b [u8], cfg: &Config, now_ms: u64) -> FeOutput<'b> {
        if self.state != FeState::Dispatching {
            return FeOutput::default();
        }
        let timed_out = ::core::mem::take(&mut self.timed_out);
        if timed_out && self.resends < cfg.handoff_resends {
            self.resends = self.resends.saturating_add(1);
            self.state = FeState::HandingOff;
            self.deadline = deadline(now_ms, cfg.handoff_ms);
            return FeOutput {
                control: Some(self.handoff_req(reqbuf)),
                ..FeOutput::default()
            };
        }
        let rst = self.rst_seg();
        let decision = timed_out.then(|| self.cancel(self.target.node));
        FeOutput {
            decision,
            ..self.linger(cfg, now_ms, Some(rst))
        }
    }

    /// A HANDOFF_CANCEL for this flow, to `node`.
    fn cancel(&self, node: u16) -> (u16, Message<'static>) {
        (node, Message::HandoffCancel(self.decision_for()))
    }

    /// The flow as the back-end's messages name it.
    fn decision_for(&self) -> HandoffDecision {
        HandoffDecision {
            flow: FlowRef {
                fe_flow_id: self.id,
                client_addr: self.key.client.addr,
                client_port: self.key.client.port,
                vip_addr: self.key.server.addr,
                vip_port: self.key.server.port,
            },
        }
    }

    /// A segment from the client of a flow handed to a peer that has been
    /// declared dead for longer than [`Config::dead_grace_ms`] (the shell
    /// checks that): the connection cannot go on, so the segment is
    /// answered with an RST from the VIP at the acknowledgment it carries
    /// (the client's next expected sequence number, so its stack takes the
    /// RST at once and the application can retry) and the flow lingers. A
    /// segment no stack would accept (a blind spoofer's) gets nothing, nor
    /// does an RST. Does nothing unless forwarding.
    pub fn on_target_dead(
        &mut self,
        seg: &Seg<'_>,
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        if !self.is_forwarding() {
            return FeOutput::default();
        }
        if matches!(self.fwd_check(seg), FwdCheck::Refuse) {
            return FeOutput::refused();
        }
        let f = seg.flags();
        let reply = (!f.rst() && f.ack()).then(|| OutSegment {
            src: self.key.server,
            dst: self.key.client,
            seq: seg.ack(),
            flags: Flags::RST,
            ..OutSegment::default()
        });
        self.linger(cfg, now_ms, reply)
    }

    /// A segment from the client (anything but the SYN that created the
    /// flow). `payload` is the segment's payload (the shell copies it out
    /// of the skb; only needed while a request is collected or held, or
    /// may start in it after the handoff: [`FeFlow::needs_payload`]), and
    /// `reqbuf` the flow's request buffer, at least
    /// [`FeFlow::request_needs`] long for this segment's payload.
    pub fn on_segment(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        self.on_client_segment(seg, payload, reqbuf, cfg, now_ms, &mut |_| true)
    }

    /// [`FeFlow::on_segment`], where `stays` says whether the current
    /// target may serve a request head the client sent after the handoff
    /// (per-request dispatch, [`Config::moves`]; `moves.rs`).
    pub fn on_client_segment(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
        stays: Stays<'_>,
    ) -> FeOutput<'static> {
        if !self.handed_off {
            self.last_seen = now_ms;
        }
        let f = seg.flags();
        let over = self.state == FeState::Linger || self.client_closed;
        if f.syn() && !f.ack() && over && self.is_new_syn(seg) {
            return FeOutput {
                free: true,
                restart: true,
                ..FeOutput::default()
            };
        }
        match self.state {
            FeState::SynRcvd => self.syn_rcvd(seg, payload, reqbuf, cfg, now_ms),
            FeState::Receiving => self.receiving(seg, payload, reqbuf, cfg, now_ms),
            FeState::Dispatching | FeState::HandingOff => {
                self.pending(seg, payload, reqbuf, cfg, now_ms)
            }
            FeState::Forwarding if self.reading => {
                let out = self.forward(seg, now_ms);
                self.read_forwarded(seg, payload, out, stays)
            }
            FeState::Forwarding => self.forward(seg, now_ms),
            FeState::Collecting | FeState::Releasing => {
                self.holding(seg, payload, reqbuf, cfg, now_ms, stays)
            }
            FeState::Linger => {
                if self.handed_off {
                    self.forward(seg, now_ms)
                } else if seg.flags().fin() && self.fin && self.req_len == 0 {
                    // Our FIN/ACK to an idle close was lost: send it again.
                    let fin = self.fin_seg(now_ms);
                    FeOutput::drop_with(Some(fin))
                } else {
                    FeOutput::default()
                }
            }
        }
    }

    fn syn_rcvd(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        let f = seg.flags();
        if f.rst() {
            return if seg.seq() == self.rcv_nxt {
                FeOutput::freed(None)
            } else {
                FeOutput::default()
            };
        }
        if f.syn() {
            if f.ack() {
                return FeOutput::default();
            }
            if seg.seq() == self.isn_c {
                // Our SYN/ACK was lost: the same again.
                let synack = self.synack(now_ms);
                return FeOutput::drop_with(Some(synack));
            }
            return FeOutput {
                free: true,
                restart: true,
                ..FeOutput::default()
            };
        }
        if !f.ack() {
            return FeOutput::default();
        }
        if seg.ack() != self.isn_f.wrapping_add(1) {
            // Not an answer to our SYN/ACK (RFC 9293 3.10.7.4).
            let rst = OutSegment {
                src: self.key.server,
                dst: self.key.client,
                seq: seg.ack(),
                flags: Flags::RST,
                ..OutSegment::default()
            };
            return FeOutput::drop_with(Some(rst));
        }
        self.state = FeState::Receiving;
        self.deadline = deadline(now_ms, cfg.request_ms);
        self.receiving(seg, payload, reqbuf, cfg, now_ms)
    }

    fn receiving(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        let f = seg.flags();
        if f.rst() {
            return match self.rst_check(seg) {
                RstCheck::Exact => FeOutput::freed(None),
                RstCheck::InWindow => FeOutput::drop_with(Some(self.ack_seg(now_ms))),
                RstCheck::Outside => FeOutput::default(),
            };
        }
        if f.syn() {
            let ack = self.ack_seg(now_ms);
            return FeOutput::drop_with(Some(ack));
        }
        if !f.ack() || seg.ack() != self.isn_f.wrapping_add(1) {
            return FeOutput::default();
        }
        self.note_client(seg);
        let len = seg
            .payload_len()
            .min(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        if len == 0 && !f.fin() {
            return FeOutput::default();
        }
        if seq::after(seg.seq(), self.rcv_nxt) {
            // Out of order: drop, and a duplicate ACK says where we are.
            let ack = self.ack_seg(now_ms);
            return FeOutput::drop_with(Some(ack));
        }
        let skip = seq::distance(seg.seq(), self.rcv_nxt);
        // The shell grows its buffer to `request_needs`; one it could not
        // grow takes nothing (never written past), and the client resends.
        if skip < len {
            let taken = self.append_request(payload, skip, len, reqbuf);
            if taken == Some(len.saturating_sub(skip)) && f.fin() {
                self.fin = true;
                self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            }
        } else if skip == len && f.fin() {
            self.fin = true;
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        }
        let ack = self.ack_seg(now_ms);
        let searched = as_usize(self.searched);
        let buffered = reqbuf.get(..as_usize(self.req_len)).unwrap_or(&[]);
        // A head that can already be seen to be malformed (bare LF line
        // ends, a TLS ClientHello) is dispatched at once, as the rules
        // place requests that do not parse, not held to the deadline.
        let complete = match self.tls {
            // Whole, or seen not to be one: either way it goes now.
            true => parse_client_hello(buffered) != Err(HelloError::Incomplete),
            false => {
                find_head_end_from(buffered, searched).is_some()
                    || malformed_from(buffered, searched)
            }
        };
        self.searched = self.req_len;
        if self.fin && self.req_len == 0 {
            // The client closed without asking anything, as HTTP clients
            // do with idle pre-opened connections: close as a server
            // would, with our own FIN, and linger for its last ACK.
            let fin = self.fin_seg(now_ms);
            return self.linger(cfg, now_ms, Some(fin));
        }
        // Full also when the space left is below one unit of our window
        // scale: the window we advertise is then 0 and the client could
        // never send the rest.
        let free = self.cap.saturating_sub(self.req_len);
        let full = free
            .checked_shr(u32::from(self.agreed.shift()))
            .unwrap_or(0)
            == 0;
        if complete || full || self.fin {
            self.state = FeState::Dispatching;
            self.ts_frozen = true;
            self.deadline = deadline(now_ms, cfg.handoff_ms);
            return FeOutput {
                reply: Some(ack),
                dispatch: true,
                ..FeOutput::default()
            };
        }
        FeOutput::drop_with(Some(ack))
    }

    /// Client segments while the handoff is pending.
    fn pending(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        // Once the HANDOFF_REQ is out, nothing but an RST goes to the
        // client from here (see the module docs).
        let quiet = self.state == FeState::HandingOff;
        let f = seg.flags();
        if f.rst() {
            return match self.rst_check(seg) {
                RstCheck::Exact if quiet => self.linger(cfg, now_ms, None),
                RstCheck::Exact => FeOutput::freed(None),
                RstCheck::InWindow if !quiet => FeOutput::drop_with(Some(self.ack_seg(now_ms))),
                _ => FeOutput::default(),
            };
        }
        if f.syn() {
            if quiet {
                return FeOutput::default();
            }
            let ack = self.ack_seg(now_ms);
            return FeOutput::drop_with(Some(ack));
        }
        self.note_client(seg);
        let carries = seg.payload_len() > 0 || f.fin();
        if carries && seq::before(seg.seq(), self.rcv_nxt) && !quiet {
            let ack = self.ack_seg(now_ms);
            return FeOutput::drop_with(Some(ack));
        }
        self.keep_pending(seg, payload, reqbuf);
        FeOutput::default()
    }

    /// Keeps the client's next bytes (a pipelined request, a body) that
    /// arrive while the handoff is pending, after the request, within the
    /// request limit: a HANDOFF_REQ not sent yet carries them, else a
    /// HANDOFF_MORE once the handoff is acknowledged. Not acknowledged:
    /// the back-end's stack does that once it has them (if they are lost,
    /// the client sends them again). Nothing follows a FIN.
    fn keep_pending(&mut self, seg: &Seg<'_>, payload: &[u8], reqbuf: &mut [u8]) {
        if self.fin || !seg.flags().ack() || seg.ack() != self.isn_f.wrapping_add(1) {
            return;
        }
        let len = seg
            .payload_len()
            .min(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        let skip = seq::distance(seg.seq(), self.rcv_nxt);
        if seq::after(seg.seq(), self.rcv_nxt) || skip >= len {
            return;
        }
        self.append_request(payload, skip, len, reqbuf);
    }

    /// Appends a segment's payload from `skip` on (the bytes before it we
    /// have) to the request, within the request limit: the bytes taken,
    /// or `None` if the buffer (grown by the shell to `request_needs`)
    /// could not hold them, and the client sends them again.
    fn append_request(
        &mut self,
        payload: &[u8],
        skip: u32,
        len: u32,
        reqbuf: &mut [u8],
    ) -> Option<u32> {
        let take = len
            .saturating_sub(skip)
            .min(self.cap.saturating_sub(self.req_len));
        let (from, to) = (as_usize(skip), as_usize(skip.saturating_add(take)));
        let at = as_usize(self.req_len);
        let src = payload.get(from..to)?;
        let dst = reqbuf.get_mut(at..at.checked_add(src.len())?)?;
        dst.copy_from_slice(src);
        self.req_len = self.req_len.saturating_add(take);
        self.rcv_nxt = self.rcv_nxt.wrapping_add(take);
        Some(take)
    }

    /// The bytes kept while the handoff was pending that its HANDOFF_REQ
    /// did not carry, as the HANDOFF_MORE that follows the confirm (`None`
    /// if there are none). `reqbuf` is the flow's request buffer.
    pub fn unsent_request<'b>(&self, reqbuf: &'b [u8]) -> Option<HandoffMore<'b>> {
        let bytes = reqbuf.get(as_usize(self.sent_len)..self.request_len())?;
        (self.state == FeState::Forwarding && !bytes.is_empty()).then(|| HandoffMore {
            flow: self.decision_for().flow,
            seq: self.isn_c.wrapping_add(1).wrapping_add(self.sent_len),
            bytes,
        })
    }

    /// A client segment after the handoff. It goes to the back-end's
    /// stack unless no stack would accept it, and changes our state only
    /// if it is acceptable (RFC 5961; see the module docs).
    fn forward(&mut self, seg: &Seg<'_>, now_ms: u64) -> FeOutput<'static> {
        let f = seg.flags();
        let taken = match self.fwd_check(seg) {
            FwdCheck::Refuse => return FeOutput::refused(),
            FwdCheck::Pass => false,
            FwdCheck::Take => true,
        };
        if self.be_mss > 0
            && seg.pkt.ip.dont_fragment()
            && seg.wire_size_over_40() > u32::from(self.be_mss)
        {
            return FeOutput {
                verdict: Verdict::Drop,
                frag_needed: Some(self.be_mss.saturating_add(40)),
                ..FeOutput::default()
            };
        }
        let verdict = match self.xlate_now().fe_ingress(seg) {
            Ok(edits) => Verdict::Forward(edits),
            Err(_) => Verdict::Drop,
        };
        if taken {
            self.last_seen = now_ms;
            if f.rst() {
                self.client_closed = true;
            } else {
                self.client_closed |= f.fin();
                self.note_forwarded(seg);
            }
        }
        FeOutput {
            verdict,
            ..FeOutput::default()
        }
    }

    /// Whether a client segment after the handoff may change our state,
    /// may only pass to the back-end's stack (which answers it, with a
    /// challenge ACK or a duplicate ACK), or is dropped. Our sequence
    /// space is the client's, so we know where its next byte is; the
    /// back-end's receive window is at most what its window scale can
    /// say; the client can acknowledge nothing past the right edge of the
    /// window it advertised.
    fn fwd_check(&self, seg: &Seg<'_>) -> FwdCheck {
        let f = seg.flags();
        if f.syn() {
            // In a synchronized state, only ever answered with a challenge
            // ACK (RFC 5961 4.2); a new connection's SYN was taken before.
            return FwdCheck::Pass;
        }
        let wnd = u32::from(u16::MAX) << self.ws_be;
        let lo = self.fwd_nxt.wrapping_sub(wnd);
        let hi = self.fwd_nxt.wrapping_add(wnd);
        if !seq::between(seg.seq(), lo, hi) {
            return FwdCheck::Refuse;
        }
        if f.rst() {
            // RFC 5961 3.2: only at the next sequence number; elsewhere in
            // the window the stack challenges it.
            return if seg.seq() == self.fwd_nxt {
                FwdCheck::Take
            } else {
                FwdCheck::Pass
            };
        }
        if !f.ack() {
            return FwdCheck::Refuse;
        }
        // RFC 5961 5.2: [SND.UNA - MAX.SND.WND, SND.NXT], from the
        // client's side of it.
        let max_wnd = u32::from(u16::MAX) << self.client_shift();
        let oldest = self.fwd_ack.wrapping_sub(max_wnd);
        if !seq::between(seg.ack(), oldest, self.fwd_edge) {
            return FwdCheck::Refuse;
        }
        FwdCheck::Take
    }

    /// Records an acceptable client segment after the handoff.
    fn note_forwarded(&mut self, seg: &Seg<'_>) {
        if let Some((tsval, tsecr)) = seg.timestamps() {
            if seq::ts_after(tsecr, self.tsecr) {
                self.tsecr = tsecr;
            }
            // RFC 7323 3.4: only from segments at or before the left edge.
            if seq::before_eq(seg.seq(), self.fwd_nxt) && seq::ts_after(tsval, self.client_tsval) {
                self.client_tsval = tsval;
            }
        }
        let end = seg.end_seq();
        if seq::after(end, self.fwd_nxt) {
            self.fwd_nxt = end;
        }
        let ack = seg.ack();
        if seq::after(ack, self.fwd_ack) {
            self.fwd_ack = ack;
        }
        let edge = ack.wrapping_add(self.client_window_bytes(seg.window()));
        if seq::after(edge, self.fwd_edge) {
            self.fwd_edge = edge;
        }
    }

    /// The client's scale for its windows: what it announced, if we agreed
    /// to scaling.
    fn client_shift(&self) -> u8 {
        match self.agreed.wscale {
            Some(_) => self.client_opts.shift(),
            None => 0,
        }
    }

    /// A client window field in bytes.
    fn client_window_bytes(&self, raw: u16) -> u32 {
        u32::from(raw) << self.client_shift()
    }

    /// Hands the flow to `target` (in [`FeState::Dispatching`], after
    /// [`FeOutput::dispatch`]): returns the HANDOFF_REQ to send it, whose
    /// request bytes borrow `reqbuf`. Does nothing in other states.
    pub fn handoff<'b>(
        &mut self,
        target: Target,
        reqbuf: &'b [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'b> {
        if self.state != FeState::Dispatching {
            return FeOutput::default();
        }
        // The target that did not answer in time may have taken the
        // connection: it must end its side unheard.
        let previous = self.target.node;
        let decision = ::core::mem::take(&mut self.timed_out)
            .then(|| self.cancel(previous))
            .filter(|_| previous != target.node);
        if let Some(slot) = self.tried.get_mut(usize::from(self.tries)) {
            *slot = target.node;
        }
        self.tries = self.tries.saturating_add(1);
        self.target = target;
        self.sent_len = self.req_len;
        self.resends = 0;
        self.state = FeState::HandingOff;
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        FeOutput {
            control: Some(self.handoff_req(reqbuf)),
            decision,
            ..FeOutput::default()
        }
    }

    /// The HANDOFF_REQ for the current handoff (also what a resend sends).
    pub fn handoff_req<'b>(&self, reqbuf: &'b [u8]) -> HandoffReq<'b> {
        HandoffReq {
            fe_flow_id: self.id,
            client_addr: self.key.client.addr,
            client_port: self.key.client.port,
            vip_addr: self.key.server.addr,
            vip_port: self.key.server.port,
            isn_client: self.isn_c,
            client_opts: self.client_opts.to_wire(),
            client_window: self.client_syn_window,
            isn_fe: self.isn_f,
            fe_opts: self.agreed.to_wire(),
            fe_tsval_last: self.fe_tsval_last,
            client_tsval_last: self.client_tsval,
            client_window_last: self.client_window,
            request_seq: self.isn_c.wrapping_add(1),
            fin: self.fin,
            request: reqbuf.get(..as_usize(self.sent_len)).unwrap_or(&[]),
        }
    }

    /// A HANDOFF_ACK for this flow from node `ack.be_node`: from now on
    /// client segments are forwarded, and a peer gets its
    /// HANDOFF_CONFIRM ([`FeOutput::decision`], again for a repeated
    /// ACK: the first confirm may have been lost with its channel). From
    /// a node the flow was offered to before, or after we gave the flow
    /// up, it is answered with a HANDOFF_CANCEL (a local handoff: an RST
    /// to the back-end's side, [`FeOutput::to_backend`]).
    pub fn on_handoff_ack(
        &mut self,
        ack: &HandoffAck,
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        if ack.flow.fe_flow_id != self.id || !self.tried().contains(&ack.be_node) {
            return FeOutput::default();
        }
        let current = ack.be_node == self.target.node;
        let gave_up = self.state == FeState::Linger && !self.handed_off;
        let local = self.is_local_handoff();
        if !current || (gave_up && !local) {
            return FeOutput {
                decision: Some(self.cancel(ack.be_node)),
                ..FeOutput::default()
            };
        }
        let confirm = (!local).then(|| {
            let d = self.decision_for();
            (ack.be_node, Message::HandoffConfirm(d))
        });
        if self.is_forwarding() {
            return FeOutput {
                decision: confirm,
                ..FeOutput::default()
            };
        }
        if gave_up {
            // We gave up (client reset, or no answer in time) but our own
            // back-end side took the connection: reset it too.
            let rst = OutSegment {
                src: self.key.client,
                dst: Endpoint::new(self.target.addr, self.key.server.port),
                seq: self.rcv_nxt,
                flags: Flags::RST,
                ..OutSegment::default()
            };
            return FeOutput {
                to_backend: Some(rst),
                ..FeOutput::default()
            };
        }
        if self.state != FeState::HandingOff {
            return FeOutput::default();
        }
        // The back-end scales its windows only if our SYN (replayed with
        // the client's options) carried window scaling, i.e. if we agreed.
        let ws_be = match self.agreed.wscale {
            Some(_) => ack.be_opts.wscale.unwrap_or(0),
            None => 0,
        };
        self.isn_b = ack.isn_be;
        self.ts_delta = Xlate::ts_delta_for(self.fe_tsval_last, ack.be_tsval);
        self.ws_be = ws_be.min(super::tcp_options::MAX_WSCALE);
        self.handed_off = true;
        self.fwd_nxt = self.rcv_nxt;
        self.fwd_ack = self.isn_f.wrapping_add(1);
        self.fwd_edge = self
            .fwd_ack
            .wrapping_add(self.client_window_bytes(self.client_window));
        self.be_mss = be_mss_check(ack.be_opts.mss, &self.xlate_now(), cfg);
        self.state = FeState::Forwarding;
        self.last_seen = now_ms;
        FeOutput {
            client_done: self.leave_client_count(),
            decision: confirm,
            more: self.req_len != self.sent_len,
            ..FeOutput::default()
        }
    }

    /// A HANDOFF_NACK for this flow from node `from`: dispatch again
    /// ([`FeOutput::dispatch`]) if tries are left, else reset the client.
    pub fn on_handoff_nack(
        &mut self,
        nack: &HandoffNack,
        from: u16,
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        if nack.flow.fe_flow_id != self.id
            || self.state != FeState::HandingOff
            || from != self.target.node
        {
            return FeOutput::default();
        }
        if self.tries < cfg.handoff_tries {
            self.state = FeState::Dispatching;
            self.deadline = deadline(now_ms, cfg.handoff_ms);
            return FeOutput {
                dispatch: true,
                ..FeOutput::default()
            };
        }
        let rst = self.rst_seg();
        self.linger(cfg, now_ms, Some(rst))
    }

    /// This node took the flow's VIP again after losing it: a forwarding
    /// flow from before may be of a connection that ended meanwhile (the
    /// back-ends announce the others again, which replaces them), so it
    /// lingers, still forwarding late segments.
    pub fn retire(&mut self, cfg: &Config, now_ms: u64) -> FeOutput<'static> {
        if !self.is_forwarding() {
            return FeOutput::default();
        }
        self.linger(cfg, now_ms, None)
    }

    /// TERMINATE from the back-end: the connection is over; linger, then
    /// free.
    pub fn on_terminate(&mut self, t: &Terminate, cfg: &Config, now_ms: u64) -> FeOutput<'static> {
        // Another flow's (an earlier connection on this 4-tuple), or late.
        if t.flow.fe_flow_id != self.id || self.state == FeState::Linger {
            return FeOutput::default();
        }
        self.linger(cfg, now_ms, None)
    }

    /// Timers: the handshake, slow-request, handoff, idle and linger
    /// deadlines. `reqbuf` is the flow's request buffer (a resent
    /// HANDOFF_REQ borrows it).
    pub fn on_tick<'b>(&mut self, reqbuf: &'b [u8], cfg: &Config, now_ms: u64) -> FeOutput<'b> {
        if now_ms < self.next_deadline(cfg) {
            return FeOutput::default();
        }
        match self.state {
            FeState::SynRcvd | FeState::Linger | FeState::Forwarding => FeOutput::freed(None),
            FeState::Collecting | FeState::Releasing
                if now_ms >= deadline(self.last_seen, cfg.idle_ms) =>
            {
                FeOutput::freed(None)
            }
            FeState::Collecting | FeState::Releasing => self.holding_timeout(cfg, now_ms),
            FeState::Receiving => {
                let rst = self.rst_seg();
                FeOutput::freed(Some(rst))
            }
            FeState::Dispatching => {
                let rst = self.rst_seg();
                self.linger(cfg, now_ms, Some(rst))
            }
            FeState::HandingOff => {
                if !self.is_local_handoff() && self.tries < cfg.handoff_tries {
                    // Offer it elsewhere (see the module's docs).
                    self.state = FeState::Dispatching;
                    self.timed_out = true;
                    self.deadline = deadline(now_ms, cfg.handoff_ms);
                    return FeOutput {
                        dispatch: true,
                        ..FeOutput::default()
                    };
                }
                if self.resends < cfg.handoff_resends {
                    self.resends = self.resends.saturating_add(1);
                    self.deadline = deadline(now_ms, cfg.handoff_ms);
                    return FeOutput {
                        control: Some(self.handoff_req(reqbuf)),
                        ..FeOutput::default()
                    };
                }
                let rst = self.rst_seg();
                self.linger(cfg, now_ms, Some(rst))
            }
        }
    }

    fn linger(
        &mut self,
        cfg: &Config,
        now_ms: u64,
        reply: Option<OutSegment>,
    ) -> FeOutput<'static> {
        self.state = FeState::Linger;
        self.deadline = deadline(now_ms, cfg.linger_ms);
        FeOutput {
            client_done: self.leave_client_count(),
            open_done: self.leave_open_count(),
            ..FeOutput::drop_with(reply)
        }
    }

    /// Counts the flow in its target's open handoffs (the node's
    /// bookkeeping of load): the node whose count it joins, if it has a
    /// target.
    pub fn count_open(&mut self) -> Option<u16> {
        self.open = self.target().is_some();
        self.counted_open()
    }

    /// The node whose open handoffs count the flow, if any.
    pub fn counted_open(&self) -> Option<u16> {
        self.target().filter(|_| self.open).map(|t| t.node)
    }

    /// The flow stops counting in its target's open handoffs; the node
    /// whose count it was in.
    fn leave_open_count(&mut self) -> Option<u16> {
        let node = self.counted_open();
        self.open = false;
        node
    }

    /// Counts the flow against its client address's `client-flows` (the
    /// node's bookkeeping, `client_limit.rs`).
    pub fn count_client(&mut self) {
        self.counted = true;
    }

    /// Whether the flow counts against its client's `client-flows`.
    pub fn counts_for_client(&self) -> bool {
        self.counted
    }

    /// The flow stops counting against its client's `client-flows`;
    /// whether it did.
    fn leave_client_count(&mut self) -> bool {
        core::mem::replace(&mut self.counted, false)
    }

    /// Records the client's window and timestamp from an acceptable segment.
    fn note_client(&mut self, seg: &Seg<'_>) {
        self.client_window = seg.window();
        if let Some((tsval, _)) = seg.timestamps() {
            // RFC 7323 3.4: only from segments at or before the left edge.
            if seq::before_eq(seg.seq(), self.rcv_nxt) && !seq::ts_before(tsval, self.client_tsval)
            {
                self.client_tsval = tsval;
            }
        }
    }

    /// An RST is acceptable in the window we advertise (RFC 9293; we do
    /// not bother with RFC 5961 challenge ACKs for the short life of an
    /// unhanded flow).
    /// Whether a SYN on the 4-tuple of this (closed) connection starts a new
    /// one. Before the handoff: any other ISN. After it, what the old
    /// connection's TIME-WAIT in a stack would take (RFC 6191, Linux's
    /// `tcp_timewait_state_process`): a sequence number past everything
    /// the client sent, or a newer timestamp. Anything else (a stale copy
    /// of the old SYN) is forwarded for the back-end's stack to answer.
    fn is_new_syn(&self, seg: &Seg<'_>) -> bool {
        if !self.handed_off {
            return seg.seq() != self.isn_c;
        }
        seq::after(seg.seq(), self.fwd_nxt)
            || seg
                .timestamps()
                .is_some_and(|(tsval, _)| seq::ts_after(tsval, self.client_tsval))
    }

    /// Where a client RST's sequence number falls (RFC 5961 3.2).
    fn rst_check(&self, seg: &Seg<'_>) -> RstCheck {
        let wnd = self.cap.saturating_sub(self.req_len).max(1);
        if seg.seq() == self.rcv_nxt {
            RstCheck::Exact
        } else if seq::between(seg.seq(), self.rcv_nxt, self.rcv_nxt.wrapping_add(wnd)) {
            RstCheck::InWindow
        } else {
            RstCheck::Outside
        }
    }

    /// Our TSval now (frozen once dispatching started).
    fn tsval(&mut self, now_ms: u64) -> u32 {
        if !self.ts_frozen {
            let t = clock(now_ms).wrapping_add(self.ts_offset);
            if seq::ts_after(t, self.fe_tsval_last) {
                self.fe_tsval_last = t;
            }
        }
        self.fe_tsval_last
    }

    fn ts_option(&mut self, now_ms: u64) -> Option<(u32, u32)> {
        if self.agreed.ts {
            Some((self.tsval(now_ms), self.client_tsval))
        } else {
            None
        }
    }

    fn synack(&mut self, now_ms: u64) -> OutSegment {
        OutSegment {
            src: self.key.server,
            dst: self.key.client,
            seq: self.isn_f,
            ack: self.isn_c.wrapping_add(1),
            flags: Flags::SYN | Flags::ACK,
            // SYN windows are never scaled.
            window: u16::try_from(self.cap).unwrap_or(u16::MAX),
            mss: Some(self.agreed.mss),
            wscale: self.agreed.wscale,
            sack_perm: self.agreed.sack,
            ts: self.ts_option(now_ms),
            ..OutSegment::default()
        }
    }

    fn ack_seg(&mut self, now_ms: u64) -> OutSegment {
        let free = self.cap.saturating_sub(self.req_len);
        let window = u16::try_from(free >> self.agreed.shift()).unwrap_or(u16::MAX);
        OutSegment {
            src: self.key.server,
            dst: self.key.client,
            seq: self.isn_f.wrapping_add(1),
            ack: self.rcv_nxt,
            flags: Flags::ACK,
            window,
            ts: self.ts_option(now_ms),
            ..OutSegment::default()
        }
    }

    /// Our FIN, acknowledging everything the client sent (its FIN too).
    fn fin_seg(&mut self, now_ms: u64) -> OutSegment {
        let ack = self.ack_seg(now_ms);
        OutSegment {
            flags: Flags::FIN | Flags::ACK,
            ..ack
        }
    }

    fn rst_seg(&self) -> OutSegment {
        OutSegment {
            src: self.key.server,
            dst: self.key.client,
            seq: self.isn_f.wrapping_add(1),
            ack: self.rcv_nxt,
            flags: Flags::RST | Flags::ACK,
            ..OutSegment::default()
        }
    }
}

/// Our millisecond clock as a 32-bit TSval base (wrapping).
fn clock(now_ms: u64) -> u32 {
    // Truncation is the point: TSvals wrap.
    now_ms as u32
}
