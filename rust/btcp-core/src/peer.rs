//! The control channel's policy towards one peer, without I/O: when to
//! dial it again (exponential backoff), when to send it a HEARTBEAT, and
//! whether it may get new handoffs (connected and heard from recently),
//! and which received frames to act on. The kernel's channel
//! (`btcp/ctrl.rs`) is the socket I/O around it.

use super::health::Listeners;
use super::wire::{Frame, Heartbeat, ReplayGuard};

/// First wait between connection attempts to a peer.
pub const BACKOFF_MIN_MS: u64 = 100;
/// Longest wait between connection attempts to a peer.
pub const BACKOFF_MAX_MS: u64 = 5_000;
/// A peer not heard from for this long (its connection to us is up or
/// not) gets no new handoffs; after our connection to it comes up it has
/// this long to speak first. The default of the `peer-dead-ms` setting:
/// with the 100 ms work tick that applies it, a dead peer stops getting
/// connections within 1.3 s.
pub const PEER_DEAD_MS: u64 = 1_200;

/// How often a HEARTBEAT goes to each connected peer, whatever else is
/// sent (it carries the load the peer's dispatch weighs), when peers are
/// declared dead after `dead_ms` of silence: four times in that span, so
/// that one late or lost HEARTBEAT is no death.
pub fn heartbeat_ms(dead_ms: u64) -> u64 {
    (dead_ms / 4).max(1)
}

/// What the channel knows of one peer, by the clock `now` (ms) its
/// methods take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLink {
    next_try_ms: u64,
    backoff_ms: u64,
    /// When our current connection was first seen established (`None`
    /// while it is still connecting): the grace for the peer to speak
    /// runs from then, not from the attempt, which may have waited out a
    /// whole outage in SYN-SENT.
    up_ms: Option<u64>,
    /// When we last queued a HEARTBEAT for it.
    heartbeat_ms: u64,
    /// When an authenticated frame from it last arrived.
    heard_ms: Option<u64>,
    /// Its last HEARTBEAT.
    report: Option<Report>,
}

/// What a peer's last HEARTBEAT said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The connections it serves.
    pub active_flows: u32,
    /// Its flow table's use, in permille.
    pub load: u32,
    /// Its listeners for the services we front.
    pub listeners: Listeners,
}

impl Report {
    /// What `h` says.
    pub fn of(h: &Heartbeat<'_>) -> Report {
        Report {
            active_flows: h.active_flows,
            load: h.load,
            listeners: h.listeners.listeners(),
        }
    }
}

impl Default for PeerLink {
    fn default() -> Self {
        PeerLink::new()
    }
}

impl PeerLink {
    /// A peer never dialled nor heard from.
    pub const fn new() -> PeerLink {
        PeerLink {
            next_try_ms: 0,
            backoff_ms: BACKOFF_MIN_MS,
            up_ms: None,
            heartbeat_ms: 0,
            heard_ms: None,
            report: None,
        }
    }

    /// Our connection to it is down: whether to dial it now.
    pub fn may_dial(&self, now: u64) -> bool {
        now >= self.next_try_ms
    }

    /// We dial it now: the next attempt waits twice as long as this one
    /// did (up to [`BACKOFF_MAX_MS`]) unless this one comes up.
    pub fn dialled(&mut self, now: u64) {
        self.next_try_ms = now.saturating_add(self.backoff_ms);
        self.backoff_ms = self.backoff_ms.saturating_mul(2).min(BACKOFF_MAX_MS);
        self.up_ms = None;
    }

    /// Our connection to it is established (seen at `now`).
    pub fn connected(&mut self, now: u64) {
        self.up_ms.get_or_insert(now);
        self.backoff_ms = BACKOFF_MIN_MS;
    }

    /// Whether a HEARTBEAT is due on our (established) connection, with
    /// peers declared dead after `dead_ms`.
    pub fn heartbeat_due(&self, now: u64, dead_ms: u64) -> bool {
        now.saturating_sub(self.heartbeat_ms) >= heartbeat_ms(dead_ms)
    }

    /// A HEARTBEAT was queued for it.
    pub fn heartbeat_sent(&mut self, now: u64) {
        self.heartbeat_ms = now;
    }

    /// An authenticated frame from it arrived; `report` if a HEARTBEAT.
    pub fn heard(&mut self, now: u64, report: Option<&Heartbeat<'_>>) {
        self.heard_ms = Some(now);
        if let Some(h) = report {
            self.report = Some(Report::of(h));
        }
    }

    /// May get new handoffs: our connection to it is up (`connected`), and
    /// it was heard from within `dead_ms` (or the connection came up
    /// within that).
    pub fn live(&self, connected: bool, now: u64, dead_ms: u64) -> bool {
        let recent = |t: u64| now.saturating_sub(t) < dead_ms;
        connected && (self.heard_ms.is_some_and(recent) || self.up_ms.is_some_and(recent))
    }

    /// How long ago it was declared dead (`dead_ms` after it was last
    /// heard from), if it was heard from once and not since; whether our
    /// connection to it is up does not matter.
    pub fn dead_for(&self, now: u64, dead_ms: u64) -> Option<u64> {
        let ago = self.heard_ago(now)?;
        ago.checked_sub(dead_ms)
    }

    /// How long ago it was last heard from.
    pub fn heard_ago(&self, now: u64) -> Option<u64> {
        self.heard_ms.map(|h| now.saturating_sub(h))
    }

    /// Its last HEARTBEAT.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

/// Whether node `own` acts on `frame` (its MAC verified), which arrived
/// on a connection from the address of configured peer `peer` (`None`:
/// an address no peer has): its sender must be that peer, its recipient
/// `own` (a frame captured on another link is refused), and its sequence
/// number above the last one accepted from it (`guard`, the peer's, kept
/// across reconnects).
pub fn accept_frame(
    own: u16,
    peer: Option<u16>,
    frame: &Frame<'_>,
    guard: &mut ReplayGuard,
) -> bool {
    peer == Some(frame.header.sender)
        && frame.header.recipient == own
        && guard.accept(frame.header.seq).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing
    )]
    use super::*;
    use crate::health::Listener;
    use crate::wire::ListenerBytes;

    /// A frame is taken only from the connection's peer, for us, and
    /// newer than the last: a frame captured on another link (for another
    /// recipient) or replayed is refused.
    #[test]
    fn frames_are_bound_to_their_link_and_fresh() {
        use crate::wire::{self, Mac, Message, ReplayGuard, WireError, MAC_LEN};
        struct Toy;
        impl Mac for Toy {
            fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
                *tag = [0; MAC_LEN];
                for (i, b) in data.iter().enumerate() {
                    tag[i % MAC_LEN] ^= b;
                }
                Ok(())
            }
        }
        let hb = Message::Heartbeat(Heartbeat {
            node_id: 2,
            active_flows: 0,
            load: 0,
            timestamp_ms: 0,
            listeners: ListenerBytes::NONE,
        });
        let frame = |to: u16, seq: u64| {
            let mut buf = [0u8; 256];
            let n = hb.encode_sealed(2, to, seq, &Toy, &mut buf).unwrap();
            (buf, n)
        };
        let mut guard = ReplayGuard::new();
        let (b, n) = frame(1, 10);
        let (f, _) = wire::decode_verified(&b[..n], &Toy).unwrap();
        assert!(
            !accept_frame(1, Some(3), &f, &mut guard),
            "not the link's peer"
        );
        assert!(accept_frame(1, Some(2), &f, &mut guard));
        assert!(!accept_frame(1, Some(2), &f, &mut guard), "replayed");
        let (b, n) = frame(4, 11);
        let (f, _) = wire::decode_verified(&b[..n], &Toy).unwrap();
        assert!(!accept_frame(1, Some(2), &f, &mut guard), "for node 4");
        let (b, n) = frame(1, 12);
        let (f, _) = wire::decode_verified(&b[..n], &Toy).unwrap();
        assert!(
            accept_frame(1, Some(2), &f, &mut guard),
            "the refusals moved nothing"
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_when_up() {
        let mut p = PeerLink::new();
        let mut now = 0;
        let mut waits = [0u64; 8];
        for w in waits.iter_mut() {
            assert!(p.may_dial(now));
            p.dialled(now);
            *w = p.next_try_ms - now;
            assert!(!p.may_dial(now + *w - 1));
            now += *w;
        }
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        p.connected(now);
        p.dialled(now);
        assert_eq!(p.next_try_ms - now, BACKOFF_MIN_MS);
    }

    #[test]
    fn live_while_connected_and_heard_from() {
        const D: u64 = PEER_DEAD_MS;
        let mut p = PeerLink::new();
        assert!(!p.live(true, 0, D), "never up");
        p.dialled(0);
        p.connected(1_000);
        assert!(p.live(true, 1_000 + D - 1, D), "the grace to speak first");
        assert!(!p.live(true, 1_000 + D, D));
        assert!(!p.live(false, 1_001, D), "not connected");
        p.heard(7_000, None);
        assert!(p.live(true, 7_000 + D - 1, D));
        assert!(!p.live(true, 7_000 + D, D));
        assert!(p.live(true, 7_000 + 4_999, 5_000), "a longer setting");
        assert_eq!(p.dead_for(7_000 + D - 1, D), None);
        assert_eq!(p.dead_for(7_000 + D + 250, D), Some(250));
        // A reconnect's grace runs from when it comes up, not the dial.
        p.dialled(20_000);
        p.connected(50_000);
        assert!(p.live(true, 50_000 + D - 1, D));
    }

    #[test]
    fn heartbeats_four_times_per_dead_span_and_reports_are_kept() {
        const D: u64 = PEER_DEAD_MS;
        let every = heartbeat_ms(D);
        assert_eq!(every, 300);
        let mut p = PeerLink::new();
        assert!(p.heartbeat_due(every, D));
        p.heartbeat_sent(every);
        assert!(!p.heartbeat_due(2 * every - 1, D));
        assert!(p.heartbeat_due(2 * every, D));
        let web = Listener {
            service: crate::flow::Endpoint::new(0x0a63_0064, 80),
            listening: true,
            queued: 2,
            limit: 511,
            oldest_ms: 30,
        };
        let mut buf = [0; ListenerBytes::LEN];
        let h = Heartbeat {
            node_id: 2,
            active_flows: 7,
            load: 3,
            timestamp_ms: 9,
            listeners: ListenerBytes::write(&Listeners::of([web]), &mut buf),
        };
        p.heard(5, Some(&h));
        p.heard(6, None);
        let want = Report {
            active_flows: 7,
            load: 3,
            listeners: Listeners::of([web]),
        };
        assert_eq!(p.report(), Some(&want), "another frame keeps the report");
        assert_eq!(p.heard_ago(10), Some(4));
    }
}
