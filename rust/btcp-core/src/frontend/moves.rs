//! Per-request dispatch at the front-end (Documentation/dispatch.md,
//! "Per-request dispatch"): after the handoff the front-end frames the
//! client's stream ([`super::super::framing`]) and reads each request
//! head it finds. A request its rules let the current target serve goes on
//! with the segment it came in, untouched. One that belongs elsewhere
//! moves the connection:
//!
//! ```text
//!  Forwarding ──head for elsewhere──► Releasing ──MOVE_RELEASED──► Dispatching ──► HandingOff ──► Forwarding
//!      │  ▲ (head split over segments)    │  (target asked to release: MOVE_RELEASE)    (to the new target, with
//!      ▼  │ stays: pinned                 │                                               the held request)
//!   Collecting ──head for elsewhere───────┘ MOVE_KEPT, no answer: pinned / client reset
//! ```
//!
//! - The request's bytes are held (within the request limit, not
//!   acknowledged); every client segment still goes to the current target
//!   cut to the bytes before the request (its acknowledgments let the
//!   target's stack finish its response).
//! - MOVE_RELEASED says where the target's stack ended; the held request
//!   is dispatched as a new connection's would be and handed off with
//!   ISNs one before where the client and the server are, so the next
//!   back-end's replay starts there. Its TSvals start past the client's
//!   latest TSecr plus the time since (stacks count milliseconds).
//! - MOVE_KEPT, or a head that stays after it was held, pins the
//!   connection to its target: the held bytes were never acknowledged, the
//!   client sends them again, and they go on as they are.
//! - A HEAD request (its response has no body whatever its head says), a
//!   head that does not parse, one longer than the request limit, or a
//!   body that cannot be framed pins the connection too.

use super::super::bytes::as_usize;
use super::super::flow::{deadline, Config, Verdict};
use super::super::framing::BodyFramer;
use super::super::http::{find_head_end, find_head_end_from, parse_head, DEFAULT_HEAD_LIMIT};
use super::super::segment::{OutSegment, Seg};
use super::super::seq;
use super::super::tcp::{self, Flags};
use super::super::wire::{MoveKept, MoveRelease, MoveReleased};
use super::super::xlate::{Edit, EditKind};
use super::{clock, FeFlow, FeOutput, FeState, MAX_TRIED};

/// Whether the current target may serve the request whose head is given
/// (the shell's rules and pools decide).
pub type Stays<'r> = &'r mut dyn FnMut(&[u8]) -> bool;

/// What framing a forwarded segment found.
enum Found {
    /// Nothing to hold: it goes on as it is.
    Nothing,
    /// A request head starts `at` bytes into its payload: what comes
    /// before goes on, the rest is held.
    Hold { at: u32 },
    /// It may hold a head framing cannot reach (out of order): dropped,
    /// the client sends it again.
    Unreachable,
}

impl FeFlow {
    /// Starts reading requests after the handoff, if `cfg` has moves and
    /// the connection is HTTP: frames the request bytes the target got
    /// (`reqbuf`, the flow's request buffer). Called once the flow is
    /// [`FeState::Forwarding`] after a HANDOFF_ACK.
    pub fn start_framing(&mut self, reqbuf: &[u8], cfg: &Config) {
        self.reading = cfg.moves && !self.tls && self.state == FeState::Forwarding;
        self.framed = self.isn_c.wrapping_add(1);
        self.body = BodyFramer::done();
        self.requests = 0;
        let held = reqbuf.get(..self.request_len()).unwrap_or(&[]);
        self.frame_through(held);
    }

    /// Frames bytes that go to the current target without a decision
    /// (its first request and what was pipelined behind it): a head that
    /// is not whole in them pins the connection.
    fn frame_through(&mut self, mut bytes: &[u8]) {
        while self.reading && !bytes.is_empty() {
            if !self.body.is_done() {
                let p = self.body.feed(bytes);
                self.advance_framed(p.used);
                bytes = bytes.get(p.used..).unwrap_or(&[]);
                self.reading = !self.body.is_opaque();
                continue;
            }
            match find_head_end(bytes) {
                Some(len) => {
                    let head = bytes.get(..len).unwrap_or(&[]);
                    self.take_head(head);
                    bytes = bytes.get(len..).unwrap_or(&[]);
                }
                None => self.reading = false,
            }
        }
    }

    /// A complete head that goes to the current target: counted, and
    /// its body framed (a HEAD request, or one that does not parse, pins
    /// the connection).
    fn take_head(&mut self, head: &[u8]) {
        self.requests = self.requests.wrapping_add(1);
        self.advance_framed(head.len());
        match parse_head(head, DEFAULT_HEAD_LIMIT) {
            Ok(h) if h.method != b"HEAD" => self.body = BodyFramer::new(h.body),
            _ => self.reading = false,
        }
    }

    fn advance_framed(&mut self, n: usize) {
        self.framed = self
            .framed
            .wrapping_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Frames an acceptable forwarded segment's new bytes (from
    /// `framed`), deciding with `stays` on every complete head in them.
    fn frame_segment(&mut self, seg: &Seg<'_>, payload: &[u8], stays: Stays<'_>) -> Found {
        let len = seg.payload_len();
        let end = seg.seq().wrapping_add(len);
        if len == 0 || !seq::after(end, self.framed) {
            return Found::Nothing;
        }
        if seq::after(seg.seq(), self.framed) {
            // A gap before it: fine if all of it is body, which needs no
            // reading.
            let span = u64::from(seq::distance(self.framed, end));
            if self.body.skippable() >= span {
                self.body.skip(span);
                self.framed = end;
                return Found::Nothing;
            }
            return Found::Unreachable;
        }
        let mut at = seq::distance(seg.seq(), self.framed);
        while self.reading && at < len {
            // Body bytes are passed over unread (the shell need not have
            // copied them: [`FeFlow::needs_payload`]).
            let n = u32::try_from(self.body.skippable())
                .unwrap_or(u32::MAX)
                .min(len.saturating_sub(at));
            if n > 0 {
                self.body.skip(u64::from(n));
                self.framed = self.framed.wrapping_add(n);
                at = at.saturating_add(n);
                continue;
            }
            let Some(rest) = payload.get(as_usize(at)..as_usize(len)) else {
                // Bytes to read that the shell did not pass.
                return Found::Unreachable;
            };
            if !self.body.is_done() {
                let p = self.body.feed(rest);
                if p.used == 0 {
                    self.reading = false;
                    break;
                }
                self.advance_framed(p.used);
                at = at.saturating_add(u32::try_from(p.used).unwrap_or(u32::MAX));
                self.reading = !self.body.is_opaque();
                continue;
            }
            let Some(head_len) = find_head_end(rest) else {
                if rest.len() >= DEFAULT_HEAD_LIMIT {
                    self.reading = false;
                    break;
                }
                self.state = FeState::Collecting;
                return Found::Hold { at };
            };
            let head = rest.get(..head_len).unwrap_or(&[]);
            if self.moves_for(head, stays) {
                self.state = FeState::Releasing;
                return Found::Hold { at };
            }
            self.take_head(head);
            at = at.saturating_add(u32::try_from(head_len).unwrap_or(u32::MAX));
        }
        Found::Nothing
    }

    /// Whether the shell must pass this segment's payload: the flow holds
    /// or collects a request, or a request head may start in the
    /// segment's new bytes (those past the body being passed, which need
    /// no reading: an upload's segments are not copied).
    pub fn needs_payload(&self, seg: &Seg<'_>) -> bool {
        if self.holds_request() {
            return true;
        }
        let len = seg.payload_len();
        if self.state != FeState::Forwarding || !self.reading || len == 0 {
            return false;
        }
        let end = seg.seq().wrapping_add(len);
        if !seq::after(end, self.framed) {
            return false;
        }
        self.body.skippable() < u64::from(seq::distance(self.framed, end))
    }

    /// Whether a complete head moves the connection: one that parses, is
    /// no HEAD, and whose rules do not let the current target serve it.
    fn moves_for(&self, head: &[u8], stays: Stays<'_>) -> bool {
        let movable = parse_head(head, DEFAULT_HEAD_LIMIT).is_ok_and(|h| h.method != b"HEAD");
        movable && !stays(head)
    }

    /// The forwarded segment in hand, after [`FeFlow::forward`] took it,
    /// framed: `out` unchanged, or cut before a request head to hold
    /// ([`FeOutput::hold`]), or dropped.
    pub(super) fn read_forwarded(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        mut out: FeOutput<'static>,
        stays: Stays<'_>,
    ) -> FeOutput<'static> {
        let Verdict::Forward(mut edits) = out.verdict else {
            return out;
        };
        match self.frame_segment(seg, payload, stays) {
            Found::Nothing => {}
            Found::Unreachable => out.verdict = Verdict::Drop,
            Found::Hold { at } => {
                // The buffer holds the new request from its start.
                self.req_len = 0;
                edits.keep = Some(at);
                out.verdict = Verdict::Forward(edits);
                out.hold = Some(at);
            }
        }
        out
    }

    /// After [`FeOutput::hold`]: takes the payload from `at` on as the
    /// held request (`reqbuf` grown by the shell to
    /// [`FeFlow::request_needs`] for it), and, if it moves, asks the
    /// target to release the connection ([`FeOutput::release`]).
    pub fn hold(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        at: u32,
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        let len = seg
            .payload_len()
            .min(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        self.req_len = 0;
        self.searched = 0;
        self.sent_len = 0;
        self.fin = false;
        self.rcv_nxt = self.framed;
        self.take_held(seg, payload, at, len, reqbuf);
        self.resends = 0;
        if self.req_len == 0 {
            // No room to hold it (request memory is full): it stays, and
            // the client sends it again.
            self.pin();
            return FeOutput::default();
        }
        match self.state {
            FeState::Releasing => self.ask_release(cfg, now_ms),
            _ => {
                self.deadline = deadline(now_ms, cfg.request_ms);
                FeOutput::default()
            }
        }
    }

    /// Appends a segment's payload from `skip` on (of its `len` bytes) to
    /// the request held, and its FIN once every byte before it is held.
    /// Bytes the buffer cannot take come again from the client.
    fn take_held(&mut self, seg: &Seg<'_>, payload: &[u8], skip: u32, len: u32, reqbuf: &mut [u8]) {
        if self.append_request(payload, skip, len, reqbuf).is_some()
            && seg.flags().fin()
            && self.rcv_nxt == seg.end_seq().wrapping_sub(1)
        {
            self.fin = true;
        }
    }

    fn ask_release(&mut self, cfg: &Config, now_ms: u64) -> FeOutput<'static> {
        if self.state != FeState::Releasing || self.resends == 0 {
            // When it was first asked (the head search is over: its field
            // is free until the release comes).
            self.searched = clock(now_ms);
        }
        self.state = FeState::Releasing;
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        FeOutput {
            release: Some(self.release_msg()),
            ..FeOutput::default()
        }
    }

    /// The MOVE_RELEASE for the request held.
    pub fn release_msg(&self) -> MoveRelease {
        MoveRelease {
            flow: self.decision_for().flow,
            seq: self.framed,
            requests: u32::from(self.requests),
            ack: self.xlate_now().ack_to_be(self.fwd_ack),
        }
    }

    /// A client segment while a request is held (collecting its head, or
    /// waiting for the release): what comes before the request goes on
    /// (cut), the request's bytes are kept in order; a head complete at
    /// last is decided with `stays`.
    pub(super) fn holding(
        &mut self,
        seg: &Seg<'_>,
        payload: &[u8],
        reqbuf: &mut [u8],
        cfg: &Config,
        now_ms: u64,
        stays: Stays<'_>,
    ) -> FeOutput<'static> {
        // An RST goes on for the target's stack to judge (where it stands
        // is before the bytes held, which may be a spoofer's): if it takes
        // it, its TERMINATE ends the flow here.
        let mut out = self.forward(seg, now_ms);
        let f = seg.flags();
        let Verdict::Forward(mut edits) = out.verdict else {
            return out;
        };
        let held_from = self.framed;
        if seq::after(seg.end_seq(), held_from) {
            edits.keep = Some(seq::distance(seg.seq(), held_from).min(seg.payload_len()));
            let plain = !(f.rst() || f.syn());
            if plain && seq::after(seg.seq(), held_from) {
                // All of it is held: an acknowledgment at the stack's next
                // byte, as if the client had sent nothing since (never an
                // RST: where that lands is the stack's to judge).
                let at = seg.pkt.tcp_offset.saturating_add(tcp::OFF_SEQ);
                let moved = u16::try_from(at).ok().map(|offset| Edit {
                    offset,
                    width: 4,
                    old: seg.seq(),
                    new: held_from,
                    kind: EditKind::TcpField,
                });
                if moved.map_or(true, |e| edits.push(e).is_err()) {
                    return FeOutput::default();
                }
            }
            out.verdict = Verdict::Forward(edits);
        }
        // The target's stack must not take a FIN past what it got.
        self.client_closed = false;
        let len = seg
            .payload_len()
            .min(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        let skip = seq::distance(seg.seq(), self.rcv_nxt);
        if !self.fin && !seq::after(seg.seq(), self.rcv_nxt) && skip < len {
            self.take_held(seg, payload, skip, len, reqbuf);
        } else if !self.fin && f.fin() && seg.seq().wrapping_add(len) == self.rcv_nxt {
            self.fin = true;
        }
        if self.state != FeState::Collecting {
            return out;
        }
        let held = reqbuf.get(..self.request_len()).unwrap_or(&[]);
        let Some(head_len) = find_head_end_from(held, as_usize(self.searched)) else {
            self.searched = self.req_len.saturating_sub(3);
            if self.req_len >= self.cap || self.fin {
                self.pin();
            }
            return out;
        };
        let head = held.get(..head_len).unwrap_or(&[]);
        if self.moves_for(head, stays) {
            self.resends = 0;
            let release = self.ask_release(cfg, now_ms);
            return FeOutput {
                release: release.release,
                ..out
            };
        }
        self.pin();
        out
    }

    /// The connection stays with its target for good: the held bytes
    /// (never acknowledged) come again from the client and go on as they
    /// are.
    fn pin(&mut self) {
        self.reading = false;
        self.req_len = 0;
        self.fin = false;
        self.state = FeState::Forwarding;
    }

    /// MOVE_RELEASED from the target: the connection left its stack. The
    /// held request is dispatched ([`FeOutput::dispatch`]) and handed off
    /// as if it opened the connection, one sequence number before where
    /// the client and the server are.
    pub fn on_move_released(
        &mut self,
        m: &MoveReleased,
        from: u16,
        cfg: &Config,
        now_ms: u64,
    ) -> FeOutput<'static> {
        if self.state != FeState::Releasing
            || from != self.target.node
            || m.flow != self.decision_for().flow
            || m.seq != self.framed
        {
            return FeOutput::default();
        }
        let waited = clock(now_ms).wrapping_sub(self.searched);
        self.isn_c = m.seq.wrapping_sub(1);
        self.isn_f = m.server_nxt.wrapping_sub(1);
        self.client_syn_window = self.client_window;
        // The client's clock of ours: its latest TSecr, and no more than
        // a millisecond a millisecond since.
        let since = now_ms.saturating_sub(self.last_seen);
        self.fe_tsval_last = self
            .tsecr
            .wrapping_add(u32::try_from(since).unwrap_or(u32::MAX))
            .wrapping_add(1);
        self.ts_frozen = true;
        self.sent_len = 0;
        self.searched = 0;
        self.tried = [0; MAX_TRIED];
        self.tries = 0;
        self.resends = 0;
        self.timed_out = false;
        self.handed_off = false;
        self.client_closed = false;
        self.be_mss = 0;
        self.state = FeState::Dispatching;
        self.deadline = deadline(now_ms, cfg.handoff_ms);
        FeOutput {
            dispatch: true,
            open_done: self.leave_open_count(),
            moved: Some((from, u64::from(waited))),
            ..FeOutput::default()
        }
    }

    /// MOVE_KEPT from the target: the connection stays with it, pinned.
    pub fn on_move_kept(&mut self, m: &MoveKept, from: u16) -> FeOutput<'static> {
        if self.state == FeState::Releasing
            && from == self.target.node
            && m.flow == self.decision_for().flow
            && m.seq == self.framed
        {
            self.pin();
        }
        FeOutput::default()
    }

    /// Timers of a held request: a head not complete within
    /// [`Config::request_ms`] stays (pinned); a release unanswered is
    /// asked again every [`Config::handoff_ms`], and after
    /// [`Config::handoff_resends`] more the client is reset (the target
    /// is gone).
    pub(super) fn holding_timeout(&mut self, cfg: &Config, now_ms: u64) -> FeOutput<'static> {
        if self.state == FeState::Collecting {
            self.pin();
            return FeOutput::default();
        }
        let wait = super::super::backend::release_ms(cfg);
        let resends = wait
            .checked_div(cfg.handoff_ms.max(1))
            .unwrap_or(0)
            .saturating_add(u64::from(cfg.handoff_resends));
        if u64::from(self.resends) < resends {
            self.resends = self.resends.saturating_add(1);
            return self.ask_release(cfg, now_ms);
        }
        let rst = OutSegment {
            src: self.key.server,
            dst: self.key.client,
            seq: self.fwd_ack,
            flags: Flags::RST,
            ..OutSegment::default()
        };
        self.linger(cfg, now_ms, Some(rst))
    }
}
