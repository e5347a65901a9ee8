//! Types shared by the front-end and back-end flow machines: endpoints and
//! flow keys, one side's negotiated TCP options, and the configuration
//! (timeouts and limits).
//!
//! Time is a `u64` count of milliseconds from any fixed origin, passed in
//! by the caller as `now_ms` (the kernel shell uses `jiffies_to_msecs`);
//! the machines only compare and add to it, saturating.

use super::wire::{SynOptions, DEFAULT_MSS, MAX_REQUEST, MAX_WSCALE};
use super::xlate::Edits;

/// An IPv4 address and TCP port, both in host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Endpoint {
    /// IPv4 address, host order (`a.b.c.d` is `a << 24 | ...`).
    pub addr: u32,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint from its parts.
    pub const fn new(addr: u32, port: u16) -> Endpoint {
        Endpoint { addr, port }
    }
}

/// A connection as one node sees it: the client's endpoint and the local
/// (server) endpoint. At the front-end the server is the VIP `V:v`; at the
/// back-end it is `B:v` (or `V:v` again for a local handoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// The client `C:c`.
    pub client: Endpoint,
    /// The local end: `V:v` at the front-end, `B:v` at the back-end.
    pub server: Endpoint,
}

impl FlowKey {
    /// A key from its parts.
    pub const fn new(client: Endpoint, server: Endpoint) -> FlowKey {
        FlowKey { client, server }
    }
}

/// The TCP options one side of a handshake sent (or, for the front-end's
/// SYN/ACK, agreed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SideOptions {
    /// Maximum segment size ([`DEFAULT_MSS`] when the SYN had none).
    pub mss: u16,
    /// Window scale shift (0..=14), if the option was sent.
    pub wscale: Option<u8>,
    /// SACK-permitted was sent.
    pub sack: bool,
    /// Timestamps were sent.
    pub ts: bool,
}

impl Default for SideOptions {
    fn default() -> SideOptions {
        SideOptions {
            mss: DEFAULT_MSS,
            wscale: None,
            sack: false,
            ts: false,
        }
    }
}

impl SideOptions {
    /// The options of a parsed SYN or SYN/ACK: an absent or zero MSS
    /// becomes [`DEFAULT_MSS`], a window scale above 14 becomes 14.
    pub fn from_tcp(o: &super::tcp_options::TcpOptions) -> SideOptions {
        SideOptions {
            mss: match o.mss {
                Some(0) | None => DEFAULT_MSS,
                Some(m) => m,
            },
            wscale: o.wscale.map(|w| w.min(MAX_WSCALE)),
            sack: o.sack_permitted,
            ts: o.timestamps.is_some(),
        }
    }

    /// The window scale shift in effect for this side's windows: its
    /// option's value, or 0 without one.
    pub fn shift(&self) -> u8 {
        self.wscale.unwrap_or(0).min(MAX_WSCALE)
    }

    /// As the control channel carries them.
    pub fn to_wire(self) -> SynOptions {
        SynOptions {
            mss: self.mss,
            wscale: self.wscale.map(|w| w.min(MAX_WSCALE)),
            sack_permitted: self.sack,
            timestamps: self.ts,
        }
    }
}

impl From<SynOptions> for SideOptions {
    fn from(o: SynOptions) -> SideOptions {
        SideOptions {
            mss: o.mss,
            wscale: o.wscale.map(|w| w.min(MAX_WSCALE)),
            sack: o.sack_permitted,
            ts: o.timestamps,
        }
    }
}

impl From<SideOptions> for SynOptions {
    fn from(o: SideOptions) -> SynOptions {
        o.to_wire()
    }
}

/// What to do with the packet a machine was handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    /// Drop it (`NF_DROP`): the machine consumed it or it is not wanted.
    #[default]
    Drop,
    /// Let it go on unchanged (`NF_ACCEPT`).
    Accept,
    /// Apply the edits (see [`super::xlate`]) and let it go on: at the
    /// front-end's ingress its destination is then the back-end (or, for
    /// a local handoff, still the VIP, so it goes up the local stack); at
    /// the back-end's egress its source is the VIP and it goes straight to
    /// the client. An empty list means "unchanged".
    Forward(Edits),
}

impl Verdict {
    /// Whether the packet is dropped.
    pub fn is_drop(&self) -> bool {
        matches!(self, Verdict::Drop)
    }
}

/// Timeouts and limits for both machines. All times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Front-end: how long a flow may sit in SYN-RECEIVED (our SYN/ACK
    /// sent, no valid ACK yet) before it is freed silently.
    pub handshake_ms: u64,
    /// Front-end: how long a client has, from the completed handshake,
    /// to deliver a complete request head (slow clients get an RST).
    pub request_ms: u64,
    /// Front-end: how long to wait for a HANDOFF_ACK or NACK before
    /// resending the HANDOFF_REQ (to the same back-end).
    /// Back-end: how long to wait for the local stack's SYN/ACK, and for
    /// it to acknowledge replayed request bytes before re-injecting them.
    pub handoff_ms: u64,
    /// Front-end: how many times a HANDOFF_REQ is resent to the same
    /// back-end after [`Config::handoff_ms`] without an answer before the
    /// client is reset. Back-end: how many times unacknowledged replayed
    /// bytes are re-injected before the connection is reset.
    pub handoff_resends: u8,
    /// Front-end: how many back-ends a flow may be dispatched to in all
    /// (the first plus one per NACK) before the client is reset.
    pub handoff_tries: u8,
    /// Both: how long a finished flow keeps its translation state for
    /// stray and retransmitted segments before it is freed.
    pub linger_ms: u64,
    /// Both: how long a handed-off flow may see no packet at all before
    /// it is reset (back-end) or freed (front-end).
    pub idle_ms: u64,
    /// Both: how long a peer may stay silent before it gets no new
    /// handoffs (`peer.rs`); HEARTBEATs go out four times as often.
    pub peer_dead_ms: u64,
    /// Front-end: how long after a peer was declared dead the connections
    /// handed to it are kept, in case it comes back, before their
    /// clients' next segments get an RST ([`super::frontend::FeFlow::on_target_dead`]).
    pub dead_grace_ms: u64,
    /// Front-end: bytes of request buffered per flow (at most
    /// [`MAX_REQUEST`], what a HANDOFF_REQ can carry). The shell's
    /// per-flow buffer must be at least this long.
    pub request_buf: u32,
    /// Front-end: the MSS we announce (clamped to the client's).
    pub mss: u16,
    /// Front-end: the window scale we announce when the client offers
    /// one; `None` disables window scaling. Should be what the back-ends'
    /// stacks use (Linux: 7 with default buffers), though any value works.
    pub wscale: Option<u8>,
    /// Front-end: agree to SACK when the client offers it. Every back-end
    /// must have SACK on (a back-end without it still works, less well).
    pub sack: bool,
    /// Front-end: agree to timestamps when the client offers them. Every
    /// back-end must have them on, or it refuses handoffs with a NACK.
    pub ts: bool,
    /// Front-end: bytes the forwarding encapsulation adds to every packet
    /// to a remote back-end (`encap.rs`); the MSS we announce and the
    /// segment sizes we forward leave room for it.
    pub encap_overhead: u16,
    /// Front-end: per-request dispatch (`frontend/moves.rs`): each
    /// request a client sends on a handed-off HTTP connection is read,
    /// and one whose rule names another node moves the connection there.
    /// Off: the first request decides for the whole connection.
    pub moves: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            handshake_ms: 30_000,
            request_ms: 10_000,
            handoff_ms: 1_000,
            handoff_resends: 3,
            handoff_tries: 3,
            linger_ms: 60_000,
            idle_ms: 600_000,
            peer_dead_ms: super::peer::PEER_DEAD_MS,
            dead_grace_ms: 5_000,
            // MAX_REQUEST is 16 KiB and fits a u32.
            request_buf: MAX_REQUEST as u32,
            mss: 1460,
            wscale: Some(7),
            sack: true,
            ts: true,
            encap_overhead: 0,
            moves: true,
        }
    }
}

impl Config {
    /// The request buffer size actually used: [`Config::request_buf`]
    /// clamped to 1..=[`MAX_REQUEST`].
    pub fn request_cap(&self) -> u32 {
        // MAX_REQUEST is 16 KiB and fits a u32.
        self.request_buf.clamp(1, MAX_REQUEST as u32)
    }

    /// The MSS we announce to clients: [`Config::mss`], less what the
    /// encapsulation takes.
    pub fn announced_mss(&self) -> u16 {
        self.mss.saturating_sub(self.encap_overhead).max(1)
    }
}

/// `now + ms`, saturating: a deadline.
pub(super) fn deadline(now_ms: u64, ms: u64) -> u64 {
    now_ms.saturating_add(ms)
}

#[cfg(test)]
mod tests {
    use super::super::tcp_options::TcpOptions;
    use super::*;

    #[test]
    fn options_from_a_syn() {
        let o = TcpOptions {
            mss: Some(1400),
            wscale: Some(9),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        let s = SideOptions::from_tcp(&o);
        assert_eq!(
            s,
            SideOptions {
                mss: 1400,
                wscale: Some(9),
                sack: true,
                ts: true
            }
        );
        assert_eq!(SideOptions::from(s.to_wire()), s);
        assert_eq!(s.shift(), 9);
        let bare = SideOptions::from_tcp(&TcpOptions::default());
        assert_eq!(bare, SideOptions::default());
        assert_eq!(bare.shift(), 0);
        let zero = TcpOptions {
            mss: Some(0),
            ..TcpOptions::default()
        };
        assert_eq!(SideOptions::from_tcp(&zero).mss, DEFAULT_MSS);
    }

    #[test]
    fn request_cap_is_bounded() {
        let mut c = Config::default();
        assert_eq!(c.request_cap(), 16 * 1024);
        c.request_buf = 1 << 20;
        assert_eq!(c.request_cap(), 16 * 1024);
        c.request_buf = 0;
        assert_eq!(c.request_cap(), 1);
        assert_eq!(deadline(u64::MAX, 5), u64::MAX);
    }
}
