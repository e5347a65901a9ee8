//! The back-end's per-connection state machine (Documentation/handoff.md, steps 5 and
//! 7, and the back-end half of step 8).
//!
//! On a HANDOFF_REQ the back-end replays the client's handshake into its
//! own, unmodified TCP stack: it injects the client's SYN, captures and
//! drops the stack's SYN/ACK (learning ISN_b and the stack's options),
//! injects the ACK and the request bytes, and answers the front-end with a
//! HANDOFF_ACK. From then on it rewrites every segment the stack sends to
//! the client ([`super::xlate`]), watches FIN and RST both ways, and after
//! the close and a linger sends TERMINATE and frees the flow. Sans-IO:
//! every input returns a [`BeOutput`].
//!
//! ```text
//!  HANDOFF_REQ ──► SynSent ──stack's SYN/ACK, options fit──► Held ──HANDOFF_CONFIRM──► Established ──FINs acked / RST (TERMINATE)──► Linger ──► free
//!   (inject SYN)     │  (drop it; inject ACK; HANDOFF_ACK)  │      (inject the request)  │ replay not acked, idle:
//!                    │                                      │                             └─ RST both ways ─► Linger
//!                    │      HANDOFF_CANCEL, no decision in time: RST into the stack, free (TERMINATE if timed out)
//!                    └─ options do not fit / stack RST / no SYN/ACK ─► NACK (+ RST into the stack), free
//! ```
//!
//! A local handoff (the front-end is this node) skips `Held`: its answer
//! cannot be lost or late, so the request goes in with the ACK.
//!
//! # How the shell drives it
//!
//! - HANDOFF_REQ for a 4-tuple (client, `B:vip_port`) without a flow:
//!   [`BeFlow::on_handoff_req`]; it copies the request into the flow's
//!   buffer. With a flow: [`BeFlow::on_repeated_req`].
//! - Every segment the local stack sends to the client of a flow (egress,
//!   before routing): [`BeFlow::on_egress`].
//! - Every segment from the client of a flow that arrives forwarded by the
//!   front-end (ingress, before the local stack): [`BeFlow::on_forwarded`].
//! - A timer: [`BeFlow::on_tick`] at or after [`BeFlow::next_deadline`].
//!
//! In every output: apply [`BeOutput::verdict`] to the packet in hand;
//! inject [`BeOutput::inject`] then every segment of [`BeOutput::replay`]
//! into the local stack (marked, so our hooks let them through), in that
//! order; send [`BeOutput::to_client`] to the client; send
//! [`BeOutput::control`] to [`BeFlow::origin`]; free the flow if
//! [`BeOutput::free`]. Injected and sent segments are described by fields;
//! replayed payload is a range of the flow's request buffer
//! ([`OutSegment::write`] takes the buffer).
//!
//! # Behaviour the design left open, as defined here
//!
//! - The replayed SYN carries the client's options as the front-end
//!   agreed them: the client's MSS; its window scale only if the
//!   front-end agreed window scaling; SACK-permitted and timestamps only
//!   if the front-end agreed them (TSval = the client's latest TSval). Its
//!   window is the client's SYN window. No ECN.
//! - Compatibility: the front-end agreed timestamps and the stack's
//!   SYN/ACK has none, or window scaling and the SYN/ACK has none: NACK
//!   ([`NackReason::OptionsIncompatible`]), with an RST injected so the
//!   stack forgets the embryonic connection. SACK on one side only is
//!   harmless (the back-end then just ignores SACK blocks) and accepted; so
//!   is an MSS below the front-end's.
//! - The window in injected segments is what the stack must believe the
//!   client's window is: the client's latest raw window, which the stack
//!   scales by the client's shift (it saw the option in the replayed SYN);
//!   if the stack does not scale, the raw window pre-shifted by the
//!   client's shift, capped at 65535.
//! - Request bytes are injected in segments of at most the stack's MSS and
//!   within the window of its SYN/ACK; the rest follows as the stack's
//!   ACKs open the window. Bytes not acknowledged within
//!   [`Config::handoff_ms`] are injected again ([`Config::handoff_resends`]
//!   times); after that the connection is reset both ways. The request
//!   stays in the shell's buffer until the stack has acknowledged it all.
//! - HANDOFF_ACK is sent as soon as the stack's SYN/ACK fits. For a local
//!   handoff the ACK and the request are injected at once; for a peer's,
//!   only on its HANDOFF_CONFIRM (`Held`): a front-end that got no answer
//!   in time may have offered the connection to another node, and only
//!   the node it confirms may ever answer the client. Until then the
//!   stack's side stays half-open (SYN_RECV), out of the server's accept
//!   queue, so it sends the client nothing and the server never sees a
//!   connection without its request (a server stopping gracefully would
//!   close such an "idle" one): HANDOFF_CANCEL, or no decision within
//!   [`hold_ms`] (the front-end's longest wait on one back-end and a
//!   [`Config::handoff_ms`] more), ends it with an RST injected into the
//!   stack; a timed-out hold also sends TERMINATE (a confirm may have been
//!   lost with its channel). Forwarded client segments are dropped while
//!   held (the client retransmits), as is anything the stack sends (its
//!   SYN/ACK retransmitted) but an RST (the connection is gone: NACK, as in
//!   `SynSent`). A cancel after the confirm is ignored: the front-end
//!   never sends one, and a served connection is never ended by one.
//!   A repeated HANDOFF_REQ for the same handoff (same flow id and ISNs)
//!   gets the same HANDOFF_ACK again (the front-end resends when an answer
//!   is lost) or nothing while the SYN/ACK is awaited. A different request
//!   for the 4-tuple is refused, unless the old flow is only lingering: then
//!   it is replaced.
//! - A SYN/ACK from the stack after the replay (our injected ACK was lost)
//!   is dropped and answered by injecting the ACK and the unacknowledged
//!   request bytes again. No SYN/ACK ever reaches the client.
//! - Close: both FINs acknowledged (each by the other side), or an RST
//!   either way, starts the linger and sends TERMINATE to the front-end at
//!   once (so it takes the client's next SYN on the 4-tuple as a new
//!   connection); segments are still translated while the linger lasts;
//!   at its end the flow is freed. A client RST counts only at the
//!   stack's next expected sequence number or the client's send edge
//!   (RFC 5961): the stack challenges any other. No packet either way for
//!   [`Config::idle_ms`]: RST both ways.
//! - A forwarded client segment changes the machine only if the stack
//!   accepts it: in the receive window the stack last advertised, and
//!   acknowledging nothing it has not sent nor more than a client window
//!   before what the client acknowledged (RFC 9293 3.10.7.4, RFC 5961
//!   5.2); a SYN never does. Everything still goes to the stack, which
//!   answers what it refuses. The front-end has dropped most of what a
//!   blind spoofer sends already; what it cannot judge (an
//!   acknowledgment of bytes the stack has not sent yet) is judged here.
//! - A SYN/ACK from the stack for another client ISN (the front-end
//!   forwarded a new SYN on a busy 4-tuple) is dropped and its embryonic
//!   connection reset.

use super::bytes::as_usize;
use super::flow::{deadline, Config, Endpoint, FlowKey, SideOptions, Verdict};
use super::framing::ResponseStream;
use super::segment::{OutSegment, Seg};
use super::seq;
use super::tcp::Flags;
use super::tcp_options::MAX_WSCALE;
use super::wire::{
    FlowAnnounce, FlowRef, HandoffAck, HandoffDecision, HandoffMore, HandoffNack, HandoffReq,
    KeepReason, Message, MoveKept, MoveRelease, MoveReleased, NackReason, Terminate,
    TerminateReason,
};
use super::xlate::Xlate;

/// How long a held handoff waits for the front-end's decision: longer
/// than the front-end waits on one back-end (a HANDOFF_REQ and its
/// [`Config::handoff_resends`], [`Config::handoff_ms`] each), by one more
/// [`Config::handoff_ms`]. Safety does not rest on it (only a confirm
/// releases the request); it bounds what a lost decision costs.
pub fn hold_ms(cfg: &Config) -> u64 {
    cfg.handoff_ms
        .saturating_mul(u64::from(cfg.handoff_resends).saturating_add(2))
}

/// How long a back-end asked to release a connection waits for its
/// responses to complete and be acknowledged before it keeps the
/// connection ([`KeepReason::Unfinished`]): as long as a client has to
/// send a request head ([`Config::request_ms`]).
pub fn release_ms(cfg: &Config) -> u64 {
    cfg.request_ms
}

/// Where a release the front-end asked for (per-request dispatch) is; a
/// repeated MOVE_RELEASE gets the answer again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleaseState {
    /// None asked for.
    None,
    /// Waiting for the responses.
    Pending,
    /// Released: the stack's socket is gone; nothing goes either way
    /// until the linger ends.
    Released,
    /// Kept, for this reason.
    Kept(KeepReason),
}

/// Where the back-end flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BeState {
    /// The replayed SYN is injected; waiting for the stack's SYN/ACK.
    SynSent,
    /// The replayed handshake is complete and HANDOFF_ACK sent; the
    /// request waits for the front-end's HANDOFF_CONFIRM (a handoff from a
    /// peer only). The stack has nothing to answer yet, so nothing of it
    /// reaches the client, and a HANDOFF_CANCEL ends it silently.
    Held,
    /// Replayed; the stack's segments are translated to the client.
    Established,
    /// Over: still translating until the linger ends.
    Linger,
}

/// Request bytes to inject into the local stack, as a run of data
/// segments; iterate with [`Replay::segments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replay {
    /// The client's endpoint (source of the injected segments).
    pub src: Endpoint,
    /// The local endpoint `B:v`.
    pub dst: Endpoint,
    /// Client sequence number of the first byte.
    pub seq: u32,
    /// Acknowledgment number (the back-end's space).
    pub ack: u32,
    /// Window field.
    pub window: u16,
    /// Timestamps `(TSval, TSecr)`, if in use.
    pub ts: Option<(u32, u32)>,
    /// Offset of the first byte in the flow's request buffer.
    pub off: u32,
    /// Bytes to inject.
    pub len: u32,
    /// Largest payload per segment (the stack's MSS).
    pub mss: u16,
    /// A FIN follows the last byte (on the last segment).
    pub fin: bool,
}

impl Replay {
    /// Whether there is nothing to inject.
    pub fn is_empty(&self) -> bool {
        self.len == 0 && !self.fin
    }

    /// The segments, in order.
    pub fn segments(&self) -> ReplaySegments {
        ReplaySegments {
            replay: *self,
            done: 0,
            finished: self.is_empty(),
        }
    }
}

/// Iterator over the segments of a [`Replay`].
#[derive(Debug, Clone)]
pub struct ReplaySegments {
    replay: Replay,
    done: u32,
    finished: bool,
}

impl Iterator for ReplaySegments {
    type Item = OutSegment;

    fn next(&mut self) -> Option<OutSegment> {
        if self.finished {
            return None;
        }
        let r = &self.replay;
        let left = r.len.saturating_sub(self.done);
        let n = left.min(u32::from(r.mss.max(1)));
        let last = n == left;
        let mut flags = Flags::ACK;
        if last && n > 0 {
            flags = flags | Flags::PSH;
        }
        if last && r.fin {
            flags = flags | Flags::FIN;
        }
        let seg = OutSegment {
            src: r.src,
            dst: r.dst,
            seq: r.seq.wrapping_add(self.done),
            ack: r.ack,
            flags,
            window: r.window,
            ts: r.ts,
            payload_off: r.off.saturating_add(self.done),
            payload_len: n,
            ..OutSegment::default()
        };
        self.done = self.done.saturating_add(n);
        self.finished = last;
        Some(seg)
    }
}

/// What the shell must do after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BeOutput {
    /// What to do with the packet in hand (if the input was a packet).
    pub verdict: Verdict,
    /// A segment to inject into the local stack first (SYN, ACK or RST).
    pub inject: Option<OutSegment>,
    /// Request bytes to inject after [`BeOutput::inject`].
    pub replay: Replay,
    /// A segment to send to the client (an RST when we abort), from the VIP.
    pub to_client: Option<OutSegment>,
    /// A message for the front-end ([`BeFlow::origin`]): HANDOFF_ACK,
    /// HANDOFF_NACK or TERMINATE.
    pub control: Option<Message<'static>>,
    /// Free the flow.
    pub free: bool,
    /// With `free` (from [`BeFlow::on_repeated_req`]): the request is for a
    /// new connection on the 4-tuple; handle it with
    /// [`BeFlow::on_handoff_req`] after freeing.
    pub restart: bool,
}

/// One handed-off connection at the back-end. 176 bytes on x86-64; the request
/// bytes live in a buffer the shell owns and passes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeFlow {
    state: BeState,
    /// (client, `B:v`).
    key: FlowKey,
    /// `V:v`.
    vip: Endpoint,
    origin: u16,
    node: u16,
    fe_flow_id: u32,
    isn_c: u32,
    isn_f: u32,
    isn_b: u32,
    /// The options of the replayed SYN.
    client_opts: SideOptions,
    /// The options the front-end agreed with the client.
    fe_opts: SideOptions,
    /// The options of the stack's SYN/ACK.
    be_opts: SideOptions,
    client_window: u16,
    client_tsval: u32,
    fe_tsval_last: u32,
    tsval_b: u32,
    req_len: u32,
    fin: bool,
    /// First request byte (client space) the stack has not acknowledged.
    replay_una: u32,
    /// First request byte not injected yet.
    replay_nxt: u32,
    /// Right edge of the stack's receive window (client space).
    be_edge: u32,
    /// Latest acknowledgment from the client (back-end space).
    client_ack: u32,
    /// The stack's next expected client sequence number, as its ACKs
    /// show it.
    be_rcv_nxt: u32,
    /// Next client sequence number (from the request and forwarded segments).
    client_nxt: u32,
    /// Highest back-end sequence number sent, plus one (back-end space).
    be_nxt: u32,
    /// Where each side's FIN is, once seen (`*_fin_seen`): flat fields, not
    /// options, keep the flow in its slab object.
    client_fin_seq: u32,
    be_fin_seq: u32,
    client_fin_seen: bool,
    be_fin_seen: bool,
    client_fin_acked: bool,
    be_fin_acked: bool,
    deadline: u64,
    last_seen: u64,
    resends: u8,
    /// Its front-end was declared dead and the flow announced to the
    /// others ([`BeFlow::announcement`]): whichever forwards its client's
    /// segments first becomes its front-end ([`BeFlow::adopt`]).
    orphaned: bool,
    /// The responses the stack sent, framed up to `be_nxt` (each new byte
    /// as it goes out), for per-request dispatch.
    responses: ResponseStream,
    /// The front-end asked for the connection ([`BeFlow::on_release`]):
    /// from the client's `release_seq` on, once `release_requests`
    /// responses are complete (modulo 2^16); while it waits, `deadline`
    /// is when it gives up (the replay is done by then).
    release: ReleaseState,
    release_seq: u32,
    release_requests: u16,
}

impl BeFlow {
    /// A HANDOFF_REQ from node `origin` for a 4-tuple without a flow: the
    /// new flow and the SYN to inject. `node` is this node's id (it goes
    /// in the HANDOFF_ACK), `local_addr` the address the replayed
    /// connection is for (`B`; the VIP itself for a local handoff). The
    /// request is copied into `reqbuf`, the flow's buffer, which the shell
    /// keeps until the flow is freed.
    ///
    /// # Errors
    ///
    /// The NACK to send back when the request is inconsistent
    /// ([`NackReason::BadRequest`]: the request does not start right after
    /// the client's SYN, or the front-end agreed options the client did not
    /// offer) or does not fit `reqbuf` ([`NackReason::Internal`]).
    #[allow(clippy::too_many_arguments)]
    pub fn on_handoff_req(
        req: &HandoffReq<'_>,
        origin: u16,
        node: u16,
        local_addr: u32,
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> Result<(BeFlow, BeOutput), HandoffNack> {
        let nack = |reason| HandoffNack {
            flow: FlowRef::of(req),
            reason,
        };
        let client = SideOptions::from(req.client_opts);
        let fe = SideOptions::from(req.fe_opts);
        let consistent = req.request_seq == req.isn_client.wrapping_add(1)
            && (!fe.ts || client.ts)
            && (!fe.sack || client.sack)
            && (fe.wscale.is_none() || client.wscale.is_some());
        if !consistent {
            return Err(nack(NackReason::BadRequest));
        }
        let len = req.request.len();
        let dst = reqbuf
            .get_mut(..len)
            .ok_or_else(|| nack(NackReason::Internal))?;
        dst.copy_from_slice(req.request);
        let req_len = u32::try_from(len).map_err(|_| nack(NackReason::Internal))?;
        // What the replayed SYN carries: the client's options as agreed.
        let client_opts = SideOptions {
            mss: client.mss,
            wscale: if fe.wscale.is_some() {
                client.wscale
            } else {
                None
            },
            sack: client.sack && fe.sack,
            ts: fe.ts,
        };
        let key = FlowKey::new(
            Endpoint::new(req.client_addr, req.client_port),
            Endpoint::new(local_addr, req.vip_port),
        );
        let end_data = req.request_seq.wrapping_add(req_len);
        let flow = BeFlow {
            state: BeState::SynSent,
            key,
            vip: Endpoint::new(req.vip_addr, req.vip_port),
            origin,
            node,
            fe_flow_id: req.fe_flow_id,
            isn_c: req.isn_client,
            isn_f: req.isn_fe,
            isn_b: 0,
            client_opts,
            fe_opts: fe,
            be_opts: SideOptions::default(),
            client_window: req.client_window_last,
            client_tsval: req.client_tsval_last,
            fe_tsval_last: req.fe_tsval_last,
            tsval_b: 0,
            req_len,
            fin: req.fin,
            replay_una: req.request_seq,
            replay_nxt: req.request_seq,
            be_edge: req.request_seq,
            client_ack: 0,
            be_rcv_nxt: req.request_seq,
            client_nxt: end_data.wrapping_add(u32::from(req.fin)),
            be_nxt: 0,
            client_fin_seq: end_data,
            be_fin_seq: 0,
            client_fin_seen: req.fin,
            be_fin_seen: false,
            client_fin_acked: false,
            be_fin_acked: false,
            deadline: deadline(now_ms, cfg.handoff_ms),
            last_seen: now_ms,
            resends: 0,
            orphaned: false,
            responses: ResponseStream::new(),
            release: ReleaseState::None,
            release_seq: 0,
            release_requests: 0,
        };
        let syn = OutSegment {
            src: key.client,
            dst: key.server,
            seq: req.isn_client,
            flags: Flags::SYN,
            window: req.client_window,
            mss: Some(client_opts.mss),
            wscale: client_opts.wscale,
            sack_perm: client_opts.sack,
            ts: client_opts.ts.then_some((req.client_tsval_last, 0)),
            ..OutSegment::default()
        };
        let out = BeOutput {
            inject: Some(syn),
            ..BeOutput::default()
        };
        Ok((flow, out))
    }

    /// The flow's state.
    pub fn state(&self) -> BeState {
        self.state
    }

    /// The flow's key (client, `B:v`).
    pub fn key(&self) -> FlowKey {
        self.key
    }

    /// The VIP endpoint the client talks to.
    pub fn vip(&self) -> Endpoint {
        self.vip
    }

    /// The front-end node that handed the flow off (where control
    /// messages go, and the only node whose forwarded packets are valid).
    pub fn origin(&self) -> u16 {
        self.origin
    }

    /// The request bytes the flow holds for its replay.
    pub fn request_len(&self) -> usize {
        as_usize(self.req_len)
    }

    /// Whether the flow waits for a new front-end (its first one died).
    pub fn orphaned(&self) -> bool {
        self.orphaned
    }

    /// What a new front-end needs to forward this connection's client
    /// segments here, when its front-end died: `None` unless the flow is
    /// replayed and live (a held one waits for a decision no one will
    /// send, and expires; a lingering one is over). Marks the flow
    /// orphaned.
    pub fn announcement(&mut self) -> Option<FlowAnnounce> {
        if self.state != BeState::Established {
            return None;
        }
        self.orphaned = true;
        let x = self.xlate_now();
        let client_ack = x.seq_to_client(self.client_ack);
        // The client can acknowledge what we sent, and what we may still
        // send into the window it last told us of.
        let window =
            u32::try_from(u64::from(self.client_window) << self.client_shift()).unwrap_or(u32::MAX);
        let client_edge = seq::max(
            x.seq_to_client(self.be_nxt),
            client_ack.wrapping_add(window),
        );
        Some(FlowAnnounce {
            flow: self.flow_ref(),
            isn_client: self.isn_c,
            client_opts: self.client_opts.to_wire(),
            fe_opts: self.fe_opts.to_wire(),
            be_opts: self.be_opts.to_wire(),
            isn_fe: self.isn_f,
            isn_be: self.isn_b,
            ts_delta: x.ts_delta,
            client_nxt: self.client_nxt,
            client_ack,
            client_edge,
            client_window: self.client_window,
            client_tsval: self.client_tsval,
            client_fin: self.client_fin_seen,
        })
    }

    /// Node `node` forwarded the orphaned flow's client segment: it is the
    /// flow's front-end now (its messages go there).
    pub fn adopt(&mut self, node: u16) {
        self.origin = node;
        self.orphaned = false;
    }

    /// The client's sequence number of the first request byte (the
    /// HANDOFF_REQ must say so: right after the client's SYN).
    fn request_seq(&self) -> u32 {
        self.isn_c.wrapping_add(1)
    }

    /// The client's FIN's sequence number, once seen.
    fn client_fin(&self) -> Option<u32> {
        self.client_fin_seen.then_some(self.client_fin_seq)
    }

    /// The front-end's flow id.
    pub fn fe_flow_id(&self) -> u32 {
        self.fe_flow_id
    }

    /// The local stack's ISN, once its SYN/ACK was seen.
    pub fn isn_be(&self) -> Option<u32> {
        (self.state != BeState::SynSent).then_some(self.isn_b)
    }

    /// The translation, once the replay started.
    pub fn xlate(&self) -> Option<Xlate> {
        (self.state != BeState::SynSent).then(|| self.xlate_now())
    }

    /// The translation, from the ISNs, TSvals and options it rests on
    /// (kept once, not twice: a flow is one small slab object).
    fn xlate_now(&self) -> Xlate {
        Xlate::new(
            self.vip.addr,
            self.key.server.addr,
            self.isn_f,
            self.isn_b,
            self.fe_tsval_last,
            self.tsval_b,
            self.ws_be(),
            self.fe_opts.shift(),
        )
    }

    /// Whether the stack has acknowledged the whole request (the shell
    /// may then release the request buffer's memory early).
    pub fn replay_done(&self) -> bool {
        self.state != BeState::SynSent && self.replay_una == self.replay_end()
    }

    /// When [`BeFlow::on_tick`] has something to do.
    pub fn next_deadline(&self, cfg: &Config) -> u64 {
        match self.state {
            BeState::SynSent | BeState::Held | BeState::Linger => self.deadline,
            BeState::Established => {
                let idle = deadline(self.last_seen, cfg.idle_ms);
                if self.replay_done() && self.release != ReleaseState::Pending {
                    idle
                } else {
                    idle.min(self.deadline)
                }
            }
        }
    }

    /// A HANDOFF_REQ for this flow's 4-tuple while the flow exists. The
    /// same handoff again (the front-end resent it): the same HANDOFF_ACK,
    /// or nothing while the SYN/ACK is awaited. Another connection: a NACK,
    /// or, if this flow only lingers, `free` and `restart`.
    pub fn on_repeated_req(&mut self, req: &HandoffReq<'_>) -> BeOutput {
        let same = req.fe_flow_id == self.fe_flow_id
            && req.isn_client == self.isn_c
            && req.isn_fe == self.isn_f;
        if !same {
            if self.state == BeState::Linger {
                return BeOutput {
                    free: true,
                    restart: true,
                    ..BeOutput::default()
                };
            }
            return BeOutput {
                control: Some(Message::HandoffNack(HandoffNack {
                    flow: FlowRef::of(req),
                    reason: NackReason::BadRequest,
                })),
                ..BeOutput::default()
            };
        }
        match self.state {
            BeState::SynSent => BeOutput::default(),
            BeState::Held | BeState::Established | BeState::Linger => BeOutput {
                control: Some(self.handoff_ack()),
                ..BeOutput::default()
            },
        }
    }

    /// A segment the local stack sends to the client.
    pub fn on_egress(&mut self, seg: &Seg<'_>, cfg: &Config, now_ms: u64) -> BeOutput {
        let f = seg.flags();
        if f.syn() {
            if f.ack() {
                return self.on_local_synack(seg, cfg, now_ms);
            }
            return BeOutput::default();
        }
        if self.release == ReleaseState::Released {
            // Its socket is gone; nothing of it may reach the client.
            return BeOutput::default();
        }
        if matches!(self.state, BeState::SynSent | BeState::Held) {
            if f.rst() && (!f.ack() || seg.ack() == self.isn_c.wrapping_add(1)) {
                // The stack refused the replayed SYN (no listener), or
                // dropped the held connection.
                return self.nack(NackReason::Refused, false);
            }
            return BeOutput::default();
        }
        self.last_seen = now_ms;
        let verdict = match self.xlate_now().be_egress(seg) {
            Ok(edits) => Verdict::Forward(edits),
            Err(_) => Verdict::Drop,
        };
        if f.rst() {
            let control = self.start_linger(TerminateReason::Rst, cfg, now_ms);
            return BeOutput {
                verdict,
                control,
                ..BeOutput::default()
            };
        }
        // A pure ACK of replayed bytes only tells the client what the
        // front-end told it already (it acknowledged the whole request):
        // keep such old ACKs, and their windows, away from it.
        let old_ack = f.ack()
            && !f.fin()
            && seg.payload_len() == 0
            && seq::before(seg.ack(), self.replay_end());
        let verdict = if old_ack { Verdict::Drop } else { verdict };
        let end = seg.end_seq();
        if seq::after(end, self.be_nxt) {
            self.be_nxt = end;
        }
        if f.fin() {
            self.be_fin_seq = seg.seq().wrapping_add(seg.payload_len());
            self.be_fin_seen = true;
        }
        let mut replay = Replay::default();
        if f.ack() {
            let ack = seg.ack();
            if seq::after(ack, self.be_rcv_nxt) {
                self.be_rcv_nxt = ack;
            }
            let una = seq::min(ack, self.replay_end());
            if seq::after(una, self.replay_una) {
                // Progress: the re-injection timer starts again.
                self.replay_una = una;
                self.resends = 0;
                if self.state == BeState::Established {
                    self.deadline = deadline(now_ms, cfg.handoff_ms);
                }
            }
            if seq::after(self.replay_una, self.replay_nxt) {
                self.replay_nxt = self.replay_una;
            }
            let wnd = u64::from(seg.window()) << self.ws_be();
            let edge = ack.wrapping_add(u32::try_from(wnd).unwrap_or(u32::MAX));
            if seq::after(edge, self.be_edge) {
                self.be_edge = edge;
            }
            if let Some(fin) = self.client_fin() {
                if seq::after(ack, fin) {
                    self.client_fin_acked = true;
                }
            }
            if self.state == BeState::Established {
                replay = self.replay_from(self.replay_nxt, false);
            }
        }
        let control = self.check_closed(cfg, now_ms);
        let out = BeOutput {
            verdict,
            replay,
            control,
            ..BeOutput::default()
        };
        self.release_check(out, cfg, now_ms)
    }

    /// Reads a segment the stack sends, before [`BeFlow::on_egress`], for
    /// where its responses end: its bytes past those seen, through
    /// `read(offset, buf)`, which copies payload bytes from `offset` on
    /// into `buf` and says how many (bytes in a body are passed over
    /// unread). Bytes it cannot show, or a gap, make the stream opaque:
    /// the connection is then never released.
    pub fn frame_egress(&mut self, seg: &Seg<'_>, read: &mut dyn FnMut(u32, &mut [u8]) -> usize) {
        let len = seg.payload_len();
        let serving = matches!(self.state, BeState::Established | BeState::Linger);
        if len == 0 || !serving || self.responses.is_opaque() || seg.flags().syn() {
            return;
        }
        let end = seg.seq().wrapping_add(len);
        if !seq::after(end, self.be_nxt) {
            return;
        }
        if seq::after(seg.seq(), self.be_nxt) {
            self.responses = ResponseStream::opaque();
            return;
        }
        let mut at = seq::distance(seg.seq(), self.be_nxt);
        let mut chunk = [0u8; 64];
        while at < len {
            let left = len.saturating_sub(at);
            let n = u32::try_from(self.responses.skippable())
                .unwrap_or(u32::MAX)
                .min(left);
            if n > 0 {
                self.responses.skip(u64::from(n));
                at = at.saturating_add(n);
                continue;
            }
            let want = as_usize(left).min(chunk.len());
            let buf = chunk.get_mut(..want).unwrap_or(&mut []);
            let got = read(at, buf).min(want);
            if got == 0 {
                self.responses = ResponseStream::opaque();
                return;
            }
            self.responses.feed(buf.get(..got).unwrap_or(&[]));
            at = at.saturating_add(u32::try_from(got).unwrap_or(u32::MAX));
        }
    }

    /// MOVE_RELEASE for this flow from its front-end: the connection
    /// leaves this node once the responses to the `requests` requests
    /// before `seq` are sent and acknowledged (checked now and on every
    /// segment after; [`release_ms`] at most, then it is kept). A repeat
    /// gets the same answer; a release the flow cannot give is answered
    /// with [`MoveKept`] at once.
    pub fn on_release(&mut self, r: &MoveRelease, cfg: &Config, now_ms: u64) -> BeOutput {
        if r.flow != self.flow_ref() {
            return BeOutput::default();
        }
        let repeat = self.release != ReleaseState::None && self.release_seq == r.seq;
        if repeat || self.release == ReleaseState::Released {
            return BeOutput {
                control: repeat.then(|| self.release_answer()).flatten(),
                ..BeOutput::default()
            };
        }
        self.release_seq = r.seq;
        // Modulo 2^16, as the responses are counted.
        self.release_requests = r.requests as u16;
        if self.state == BeState::Established && seq::after(r.ack, self.be_nxt) {
            // Its stack would have dropped the segments: so is the request.
            self.release = ReleaseState::Kept(KeepReason::Unacceptable);
            return BeOutput {
                control: self.release_answer(),
                ..BeOutput::default()
            };
        }
        if self.state != BeState::Established || !self.replay_done() {
            // Still replaying the request (or not serving): not now.
            self.release = ReleaseState::Kept(KeepReason::Closing);
            return BeOutput {
                control: self.release_answer(),
                ..BeOutput::default()
            };
        }
        self.release = ReleaseState::Pending;
        // The replay is done: its timer is free for the wait.
        self.deadline = deadline(now_ms, release_ms(cfg));
        self.release_check(BeOutput::default(), cfg, now_ms)
    }

    /// The answer given to the release, if it was.
    fn release_answer(&self) -> Option<Message<'static>> {
        match self.release {
            ReleaseState::None | ReleaseState::Pending => None,
            ReleaseState::Released => Some(Message::MoveReleased(MoveReleased {
                flow: self.flow_ref(),
                seq: self.release_seq,
                server_nxt: self.xlate_now().seq_to_client(self.be_nxt),
            })),
            ReleaseState::Kept(reason) => Some(Message::MoveKept(MoveKept {
                flow: self.flow_ref(),
                seq: self.release_seq,
                reason,
            })),
        }
    }

    /// A pending release's answer, if it can be given now, added to `out`.
    fn release_check(&mut self, mut out: BeOutput, cfg: &Config, now_ms: u64) -> BeOutput {
        if self.release != ReleaseState::Pending {
            return out;
        }
        let closing =
            self.state != BeState::Established || self.client_fin_seen || self.be_fin_seen;
        self.release = if closing {
            ReleaseState::Kept(KeepReason::Closing)
        } else if self.responses.is_opaque() {
            ReleaseState::Kept(KeepReason::Unframed)
        } else if self.releasable() {
            // In at its next expected byte, an RST ends the stack's socket
            // silently (an RST is never answered).
            out.inject = Some(OutSegment {
                src: self.key.client,
                dst: self.key.server,
                seq: self.be_rcv_nxt,
                flags: Flags::RST,
                ..OutSegment::default()
            });
            self.state = BeState::Linger;
            self.deadline = deadline(now_ms, cfg.linger_ms);
            ReleaseState::Released
        } else if now_ms >= self.deadline {
            ReleaseState::Kept(KeepReason::Unfinished)
        } else {
            ReleaseState::Pending
        };
        // A TERMINATE of the same input (a close) goes first: it says more.
        out.control = out.control.or(self.release_answer());
        out
    }

    /// Whether the connection can leave now: the stack got every client
    /// byte before the release point and nothing after, answered every
    /// request with a complete response, sent it all, and the client
    /// acknowledged it all.
    fn releasable(&self) -> bool {
        self.be_rcv_nxt == self.release_seq
            && self.client_nxt == self.release_seq
            && self.responses.between()
            && self.responses.complete() == self.release_requests
            && self.client_ack == self.be_nxt
    }

    /// The local stack's SYN/ACK to the replayed SYN (the shell may call
    /// this directly, or let [`BeFlow::on_egress`] do it). Always dropped.
    pub fn on_local_synack(&mut self, seg: &Seg<'_>, cfg: &Config, now_ms: u64) -> BeOutput {
        if seg.ack() != self.isn_c.wrapping_add(1) {
            // The stack took a SYN of another connection on the 4-tuple
            // (one the front-end forwarded): it is no handoff of ours, and
            // the stack must not answer it later, when no flow is here to
            // drop its SYN/ACK.
            return BeOutput {
                inject: Some(OutSegment {
                    src: self.key.client,
                    dst: self.key.server,
                    seq: seg.ack(),
                    flags: Flags::RST,
                    ..OutSegment::default()
                }),
                ..BeOutput::default()
            };
        }
        match self.state {
            BeState::SynSent => {}
            // The stack's SYN/ACK again (its retransmission timer): held,
            // the handshake waits for the confirm.
            BeState::Held => return BeOutput::default(),
            BeState::Established => {
                // The stack did not get our ACK: inject it and the
                // unacknowledged request again.
                if seg.seq() != self.isn_b {
                    return BeOutput::default();
                }
                return BeOutput {
                    inject: Some(self.ack_seg()),
                    replay: self.replay_from(self.replay_una, false),
                    ..BeOutput::default()
                };
            }
            BeState::Linger => return BeOutput::default(),
        }
        let be = SideOptions::from_tcp(&seg.opts);
        self.be_opts = be;
        self.isn_b = seg.seq();
        self.tsval_b = seg.timestamps().map_or(0, |t| t.0);
        if (self.fe_opts.ts && !be.ts) || (self.fe_opts.wscale.is_some() && be.wscale.is_none()) {
            return self.nack(NackReason::OptionsIncompatible, true);
        }
        self.client_ack = self.isn_b.wrapping_add(1);
        self.be_nxt = self.isn_b.wrapping_add(1);
        // The SYN/ACK's window is never scaled.
        self.be_edge = self.request_seq().wrapping_add(u32::from(seg.window()));
        self.last_seen = now_ms;
        let control = Some(self.handoff_ack());
        if self.origin != self.node {
            // The stack's side stays half-open (SYN_RECV) until the
            // confirm: not in its accept queue, so the server never sees
            // a connection it may not answer, nor one without its request.
            self.state = BeState::Held;
            self.deadline = deadline(now_ms, hold_ms(cfg));
            return BeOutput {
                control,
                ..BeOutput::default()
            };
        }
        self.state = BeState::Established;
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        BeOutput {
            inject: Some(self.ack_seg()),
            replay: self.replay_from(self.replay_una, false),
            control,
            ..BeOutput::default()
        }
    }

    /// HANDOFF_CONFIRM for this flow from its front-end: a held flow
    /// completes the stack's handshake and gives it the request; anything
    /// else ignores it (a repeat).
    pub fn on_confirm(&mut self, d: &HandoffDecision, cfg: &Config, now_ms: u64) -> BeOutput {
        if self.state != BeState::Held || d.flow != self.flow_ref() {
            return BeOutput::default();
        }
        self.state = BeState::Established;
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        self.last_seen = now_ms;
        BeOutput {
            inject: Some(self.ack_seg()),
            replay: self.replay_from(self.replay_una, false),
            ..BeOutput::default()
        }
    }

    /// HANDOFF_MORE for this flow: the client's bytes that came at the
    /// front-end while the handoff was pending, just past the request,
    /// join it (`reqbuf` is the flow's buffer, grown by the shell to
    /// [`BeFlow::request_len`] plus the bytes) and are replayed after it
    /// (at once if the request is already, else with it on the confirm).
    /// Bytes that overlap what the flow has are taken from where it ends;
    /// others (a gap, after a FIN, another flow's) change nothing: the
    /// client sends them again.
    pub fn on_more(
        &mut self,
        m: &HandoffMore<'_>,
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> BeOutput {
        let end = self.request_seq().wrapping_add(self.req_len);
        let len = u32::try_from(m.bytes.len()).unwrap_or(u32::MAX);
        let skip = seq::distance(m.seq, end);
        let live = matches!(self.state, BeState::Held | BeState::Established);
        if m.flow != self.flow_ref() || !live || self.fin || seq::after(m.seq, end) || skip >= len {
            return BeOutput::default();
        }
        let (Some(src), Some(dst)) = (
            m.bytes.get(as_usize(skip)..),
            reqbuf.get_mut(as_usize(self.req_len)..),
        ) else {
            return BeOutput::default();
        };
        let Some(dst) = dst.get_mut(..src.len()) else {
            return BeOutput::default();
        };
        dst.copy_from_slice(src);
        let taken = len.saturating_sub(skip);
        self.req_len = self.req_len.saturating_add(taken);
        let new_end = end.wrapping_add(taken);
        if seq::after(new_end, self.client_nxt) {
            self.client_nxt = new_end;
        }
        if self.state != BeState::Established {
            return BeOutput::default();
        }
        // The replay's timer runs again for the new bytes.
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        self.resends = 0;
        BeOutput {
            replay: self.replay_from(self.replay_nxt, false),
            ..BeOutput::default()
        }
    }

    /// HANDOFF_CANCEL for this flow from its front-end: a flow not yet
    /// confirmed ends silently (an RST into the stack, nothing to the
    /// client, no answer); a confirmed one ignores it.
    pub fn on_cancel(&mut self, d: &HandoffDecision) -> BeOutput {
        let undecided = matches!(self.state, BeState::SynSent | BeState::Held);
        if !undecided || d.flow != self.flow_ref() {
            return BeOutput::default();
        }
        BeOutput {
            inject: Some(self.local_rst()),
            free: true,
            ..BeOutput::default()
        }
    }

    /// A client segment forwarded by the front-end (already translated to
    /// our spaces); it goes to the local stack unchanged.
    pub fn on_forwarded(&mut self, seg: &Seg<'_>, cfg: &Config, now_ms: u64) -> BeOutput {
        let mut out = BeOutput {
            verdict: Verdict::Accept,
            ..BeOutput::default()
        };
        match self.state {
            BeState::SynSent => return out,
            // The client's segments wait for the confirm (it retransmits).
            BeState::Held => return BeOutput::default(),
            // No socket is left to take it; the stack would reset the client.
            BeState::Linger if self.release == ReleaseState::Released => {
                return BeOutput::default()
            }
            BeState::Established | BeState::Linger => {}
        }
        // Whatever the stack answers keeps the flow alive (its answer
        // would, on egress).
        self.last_seen = now_ms;
        let f = seg.flags();
        if f.syn() {
            // In a synchronized state the stack only ever answers it with a
            // challenge ACK (RFC 5961 4.2).
            return out;
        }
        if f.rst() {
            // Only an RST the stack takes ends the flow (RFC 5961 3.2: at
            // exactly its next expected sequence number; we also take the
            // client's send edge, where the stack's would be once the
            // bytes in flight arrive). Others it answers with a challenge
            // ACK, which goes to the client like any other segment.
            if seg.seq() == self.be_rcv_nxt || seg.seq() == self.client_nxt {
                out.control = self.start_linger(TerminateReason::Rst, cfg, now_ms);
            }
            return out;
        }
        if !self.acceptable(seg) {
            // The stack drops it (and may answer it); we learn nothing.
            return out;
        }
        self.client_window = seg.window();
        if let Some((tsval, _)) = seg.timestamps() {
            if seq::ts_after(tsval, self.client_tsval) {
                self.client_tsval = tsval;
            }
        }
        let end = seg.end_seq();
        if seq::after(end, self.client_nxt) {
            self.client_nxt = end;
        }
        if f.fin() {
            self.client_fin_seq = seg.seq().wrapping_add(seg.payload_len());
            self.client_fin_seen = true;
        }
        if seq::after(seg.ack(), self.client_ack) {
            self.client_ack = seg.ack();
        }
        if let Some(fin) = self.be_fin_seen.then_some(self.be_fin_seq) {
            if seq::after(seg.ack(), fin) {
                self.be_fin_acked = true;
            }
        }
        if self.replaying(seg) {
            out.verdict = Verdict::Drop;
        }
        out.control = self.check_closed(cfg, now_ms);
        self.release_check(out, cfg, now_ms)
    }

    /// Whether `seg` carries only bytes we replayed and the stack has not
    /// acknowledged yet: a client's retransmission of bytes the front-end
    /// kept, or of a request that moved. It is dropped: passed on, it
    /// could reach the stack before our copy (injected after the lock is
    /// dropped), whose older TSval PAWS would then refuse (RFC 7323 5.3);
    /// the replay's timer delivers the bytes.
    fn replaying(&self, seg: &Seg<'_>) -> bool {
        seg.payload_len() > 0
            && !seg.flags().fin()
            && !seq::before(seg.seq(), self.replay_una)
            && !seq::after(seg.end_seq(), self.replay_nxt)
    }

    /// Whether the local stack accepts a forwarded client segment (not SYN
    /// or RST): in the receive window it last advertised (RFC 9293
    /// 3.10.7.4), with an ACK of nothing it has not sent and nothing more
    /// than a client window before what the client acknowledged already
    /// (RFC 5961 5.2). A blind spoofer's segment fails it.
    fn acceptable(&self, seg: &Seg<'_>) -> bool {
        if !seg.flags().ack() {
            return false;
        }
        let in_window =
            !seq::before(seg.end_seq(), self.be_rcv_nxt) && !seq::after(seg.seq(), self.be_edge);
        let max_wnd = u32::from(u16::MAX) << self.client_shift();
        let oldest = self.client_ack.wrapping_sub(max_wnd);
        in_window && seq::between(seg.ack(), oldest, self.be_nxt)
    }

    /// Timers: the SYN/ACK wait, replay re-injection, idle and linger.
    pub fn on_tick(&mut self, cfg: &Config, now_ms: u64) -> BeOutput {
        if now_ms < self.next_deadline(cfg) {
            return BeOutput::default();
        }
        match self.state {
            BeState::SynSent => self.nack(NackReason::Refused, true),
            BeState::Held => BeOutput {
                inject: Some(self.local_rst()),
                control: Some(Message::Terminate(Terminate {
                    flow: self.flow_ref(),
                    reason: TerminateReason::Timeout,
                })),
                free: true,
                ..BeOutput::default()
            },
            BeState::Linger => BeOutput {
                free: true,
                ..BeOutput::default()
            },
            BeState::Established => {
                if self.release == ReleaseState::Pending {
                    return self.release_check(BeOutput::default(), cfg, now_ms);
                }
                let idle = now_ms >= deadline(self.last_seen, cfg.idle_ms);
                if !idle && self.resends < cfg.handoff_resends {
                    self.resends = self.resends.saturating_add(1);
                    self.deadline = deadline(now_ms, cfg.handoff_ms);
                    return BeOutput {
                        inject: Some(self.ack_seg()),
                        replay: self.replay_from(self.replay_una, true),
                        ..BeOutput::default()
                    };
                }
                self.abort(cfg, now_ms)
            }
        }
    }

    /// Resets the connection both ways and lingers.
    fn abort(&mut self, cfg: &Config, now_ms: u64) -> BeOutput {
        let local = OutSegment {
            src: self.key.client,
            dst: self.key.server,
            seq: self.client_nxt,
            flags: Flags::RST,
            ..OutSegment::default()
        };
        let client = OutSegment {
            src: self.vip,
            dst: self.key.client,
            seq: self.xlate_now().seq_to_client(self.be_nxt),
            ack: self.client_nxt,
            flags: Flags::RST | Flags::ACK,
            ..OutSegment::default()
        };
        let control = self.start_linger(TerminateReason::Timeout, cfg, now_ms);
        BeOutput {
            inject: Some(local),
            to_client: Some(client),
            control,
            ..BeOutput::default()
        }
    }

    /// Refuses the handoff and frees the flow; `rst` injects an RST so the
    /// stack drops its embryonic connection.
    fn nack(&self, reason: NackReason, rst: bool) -> BeOutput {
        let inject = rst.then_some(self.local_rst());
        BeOutput {
            inject,
            control: Some(Message::HandoffNack(HandoffNack {
                flow: self.flow_ref(),
                reason,
            })),
            free: true,
            ..BeOutput::default()
        }
    }

    /// An RST that ends the stack's connection before the request went
    /// in: it answers an RST with nothing.
    fn local_rst(&self) -> OutSegment {
        OutSegment {
            src: self.key.client,
            dst: self.key.server,
            seq: self.isn_c.wrapping_add(1),
            flags: Flags::RST,
            ..OutSegment::default()
        }
    }

    fn handoff_ack(&self) -> Message<'static> {
        Message::HandoffAck(HandoffAck {
            flow: self.flow_ref(),
            be_node: self.node,
            isn_be: self.isn_b,
            be_opts: self.be_opts.to_wire(),
            be_tsval: self.tsval_b,
        })
    }

    /// Starts the linger (once): returns the TERMINATE that tells the
    /// front-end at once, so that it too lingers and takes the client's
    /// next SYN on the 4-tuple as a new connection.
    fn start_linger(
        &mut self,
        reason: TerminateReason,
        cfg: &Config,
        now_ms: u64,
    ) -> Option<Message<'static>> {
        if self.state == BeState::Linger {
            return None;
        }
        self.state = BeState::Linger;
        self.deadline = deadline(now_ms, cfg.linger_ms);
        Some(Message::Terminate(Terminate {
            flow: self.flow_ref(),
            reason,
        }))
    }

    /// The front-end flow this one was handed off from.
    pub fn flow_ref(&self) -> FlowRef {
        FlowRef {
            fe_flow_id: self.fe_flow_id,
            client_addr: self.key.client.addr,
            client_port: self.key.client.port,
            vip_addr: self.vip.addr,
            vip_port: self.vip.port,
        }
    }

    fn check_closed(&mut self, cfg: &Config, now_ms: u64) -> Option<Message<'static>> {
        if self.client_fin_acked && self.be_fin_acked {
            return self.start_linger(TerminateReason::Fin, cfg, now_ms);
        }
        None
    }

    /// The stack's window scale shift in effect: only if the replayed SYN
    /// offered scaling and the SYN/ACK answered it.
    fn ws_be(&self) -> u8 {
        match (self.client_opts.wscale, self.be_opts.wscale) {
            (Some(_), Some(s)) => s.min(MAX_WSCALE),
            _ => 0,
        }
    }

    /// The shift the client scales its windows by (as the front-end
    /// agreed it).
    fn client_shift(&self) -> u8 {
        if self.fe_opts.wscale.is_some() {
            self.client_opts.shift()
        } else {
            0
        }
    }

    /// The client's window as the stack must read it.
    fn window_for_be(&self) -> u16 {
        if self.be_opts.wscale.is_some() && self.client_opts.wscale.is_some() {
            return self.client_window;
        }
        let bytes = u64::from(self.client_window) << self.client_shift();
        u16::try_from(bytes).unwrap_or(u16::MAX)
    }

    fn ts(&self) -> Option<(u32, u32)> {
        self.client_opts
            .ts
            .then_some((self.client_tsval, self.tsval_b))
    }

    /// The ACK completing the replayed handshake.
    fn ack_seg(&self) -> OutSegment {
        OutSegment {
            src: self.key.client,
            dst: self.key.server,
            seq: self.replay_una,
            ack: self.client_ack,
            flags: Flags::ACK,
            window: self.window_for_be(),
            ts: self.ts(),
            ..OutSegment::default()
        }
    }

    /// Client sequence number just past the request (and its FIN).
    fn replay_end(&self) -> u32 {
        self.request_seq()
            .wrapping_add(self.req_len)
            .wrapping_add(u32::from(self.fin))
    }

    /// The request bytes from `from` (client space) that fit the stack's
    /// window (at least one segment if `force`), and the FIN if it follows
    /// them.
    fn replay_from(&mut self, from: u32, force: bool) -> Replay {
        let end_data = self.request_seq().wrapping_add(self.req_len);
        if !seq::before(from, self.replay_end()) {
            return Replay::default();
        }
        let mss = self.be_opts.mss.max(1);
        let mut limit = self.be_edge;
        if force {
            limit = seq::max(limit, from.wrapping_add(u32::from(mss)));
        }
        let stop = seq::min(end_data, limit);
        let len = if seq::before(from, stop) {
            seq::distance(from, stop)
        } else {
            0
        };
        let fin = self.fin && from.wrapping_add(len) == end_data;
        if len == 0 && !fin {
            return Replay::default();
        }
        let next = from.wrapping_add(len).wrapping_add(u32::from(fin));
        if seq::after(next, self.replay_nxt) {
            self.replay_nxt = next;
        }
        Replay {
            src: self.key.client,
            dst: self.key.server,
            seq: from,
            ack: self.client_ack,
            window: self.window_for_be(),
            ts: self.ts(),
            off: seq::distance(self.request_seq(), from),
            len,
            mss,
            fin,
        }
    }
}
