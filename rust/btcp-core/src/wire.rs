//! The control-channel codec: framed, authenticated messages between the
//! nodes' kernel modules (Documentation/control-channel.md).
//!
//! Frames travel over one persistent TCP connection per pair of nodes. All
//! integers are big-endian. A frame is a fixed [`HEADER_LEN`]-byte header,
//! a payload of at most [`MAX_PAYLOAD`] bytes, and a [`MAC_LEN`]-byte MAC
//! trailer:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | magic [`MAGIC`] (`0xB7C9`) |
//! | 2 | 1 | version [`VERSION`] (7) |
//! | 3 | 1 | message type ([`MsgType`]) |
//! | 4 | 4 | payload length |
//! | 8 | 8 | sequence number: a per-direction counter, for replay protection |
//! | 16 | 2 | sender node id |
//! | 18 | 2 | recipient node id |
//! | 20 | n | payload |
//! | 20 + n | 32 | MAC (HMAC-SHA256) over bytes `0..20 + n` |
//!
//! The codec does no cryptography: [`Message::encode`] reserves the MAC
//! bytes (zeroed), and [`seal`] fills them in through a [`Mac`]
//! implementation supplied by the caller (the kernel shell's HMAC-SHA256
//! from the crypto API; a toy in host tests). [`decode`] parses a frame
//! without checking its MAC, for fuzzing and tests; a receiver uses
//! [`decode_verified`], which checks the MAC before it looks at the
//! payload.
//!
//! Payload layouts (sizes in bytes) are in each message's docs. Every
//! field is validated on decode: enum values, flag bits, window scales,
//! lengths, and that the payload holds exactly the message and nothing
//! more.
//!
//! A receiver, for each frame, in this order:
//! 1. [`decode_verified`] (or [`FrameReader::next_verified`]);
//! 2. checks that [`Header::sender`] is the node this connection was
//!    authenticated as (a frame reflected back to its sender then fails)
//!    and [`Header::recipient`] is itself (a frame captured on another
//!    link then fails: the MAC covers both ids);
//! 3. [`ReplayGuard::accept`]s the sequence number; only then acts on it.
//!
//! Any error other than [`WireError::Incomplete`] means the byte stream can
//! no longer be trusted to be in step: close the connection.
//!
//! Sequence numbers must never repeat on one link (sender, recipient)
//! under one key: a sender keeps one [`SendCounter`] per peer across
//! reconnects (or the cluster rotates the key), and the receiver keeps its
//! [`ReplayGuard`] per peer likewise.
//!
//! ```
//! use btcp_core::wire::{self, Mac, Message, Heartbeat, ListenerBytes, ReplayGuard, WireError, MAC_LEN};
//!
//! // A toy MAC for the example; the kernel uses HMAC-SHA256.
//! struct Xor(u8);
//! impl Mac for Xor {
//!     fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
//!         *tag = [self.0; MAC_LEN];
//!         for (i, b) in data.iter().enumerate() {
//!             tag[i % MAC_LEN] ^= b;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let msg = Message::Heartbeat(Heartbeat {
//!     node_id: 2,
//!     active_flows: 10,
//!     load: 250,
//!     timestamp_ms: 1_700_000_000_000,
//!     listeners: ListenerBytes::NONE,
//! });
//! let mut buf = [0u8; 256];
//! let n = msg.encode_sealed(2, 5, 1, &Xor(7), &mut buf).unwrap();
//!
//! let mut guard = ReplayGuard::new();
//! let (frame, used) = wire::decode_verified(&buf[..n], &Xor(7)).unwrap();
//! assert_eq!(used, n);
//! assert_eq!((frame.header.sender, frame.header.recipient), (2, 5));
//! guard.accept(frame.header.seq).unwrap();
//! assert_eq!(frame.message, msg);
//! // The same frame again is a replay; a wrong key fails the MAC.
//! assert_eq!(guard.accept(frame.header.seq), Err(WireError::Replay));
//! assert_eq!(wire::decode_verified(&buf[..n], &Xor(8)).err(), Some(WireError::BadMac));
//! ```

use ::core::fmt;

use super::config::MAX_SERVICES;
use super::flow::Endpoint;
use super::health::{Listener, Listeners};

/// First two bytes of every frame.
pub const MAGIC: u16 = 0xB7C9;
/// The protocol version this codec speaks.
pub const VERSION: u8 = 7;
/// Length of the frame header.
pub const HEADER_LEN: usize = 20;
/// Length of the MAC trailer (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Most request bytes a [`HandoffReq`] can carry: the front-end's request
/// buffer (Documentation/handoff.md, step 2).
pub const MAX_REQUEST: usize = 16 * 1024;
/// Largest payload: a [`HandoffReq`] with [`MAX_REQUEST`] bytes, plus
/// room for fields a later version may add.
pub const MAX_PAYLOAD: usize = MAX_REQUEST + 256;
/// Largest frame; a receive buffer of this size always holds a whole frame.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD + MAC_LEN;
/// The MSS a SYN without an MSS option implies (RFC 9293 §3.7.1); what
/// [`SynOptions::from_tcp_options`] records for such a SYN.
pub const DEFAULT_MSS: u16 = 536;
/// Largest valid window scale shift (RFC 7323 §2.3).
pub const MAX_WSCALE: u8 = 14;

/// Offset of the version.
const OFF_VERSION: usize = 2;
/// Offset of the message type.
const OFF_TYPE: usize = 3;
/// Offset of the payload length.
const OFF_LEN: usize = 4;
/// Offset of the sequence number.
const OFF_SEQ: usize = 8;
/// Offset of the sender node id.
const OFF_SENDER: usize = 16;
/// Offset of the recipient node id.
const OFF_RECIPIENT: usize = 18;

/// Why a frame could not be encoded, decoded or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer ends before the frame does; read more bytes from the
    /// stream until the buffer holds at least `needed` bytes in total (the
    /// whole frame once its length field has arrived, else the header).
    Incomplete {
        /// Total bytes, from the start of the frame, needed to go on.
        needed: usize,
    },
    /// The frame does not start with [`MAGIC`].
    BadMagic,
    /// The version is not [`VERSION`].
    BadVersion,
    /// The message type is not one this version knows.
    UnknownType,
    /// The reserved header field, or a reserved flag bit, is not zero.
    BadReserved,
    /// The payload length is above [`MAX_PAYLOAD`], or the request bytes
    /// of a [`HandoffReq`] above [`MAX_REQUEST`].
    TooLong,
    /// The payload ends before the message's fields do.
    Truncated,
    /// The payload has bytes after the message's last field.
    TrailingBytes,
    /// A field holds a value outside its range: an unknown reason code, a
    /// window scale above [`MAX_WSCALE`], a scale given with its presence
    /// bit clear.
    InvalidValue,
    /// A node id in the payload differs from the header's sender.
    SenderMismatch,
    /// The output (or [`FrameReader`]) buffer is too small for the frame.
    BufferTooSmall,
    /// The MAC does not match.
    BadMac,
    /// The [`Mac`] implementation could not compute a MAC.
    MacFailure,
    /// The sequence number is not above the last one accepted.
    Replay,
    /// The sender's sequence counter is used up.
    CounterExhausted,
}

impl WireError {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            WireError::Incomplete { .. } => "incomplete frame",
            WireError::BadMagic => "bad magic",
            WireError::BadVersion => "unsupported version",
            WireError::UnknownType => "unknown message type",
            WireError::BadReserved => "reserved bits set",
            WireError::TooLong => "too long",
            WireError::Truncated => "truncated payload",
            WireError::TrailingBytes => "trailing bytes in payload",
            WireError::InvalidValue => "invalid field value",
            WireError::SenderMismatch => "node id differs from sender",
            WireError::BufferTooSmall => "buffer too small",
            WireError::BadMac => "bad MAC",
            WireError::MacFailure => "MAC computation failed",
            WireError::Replay => "replayed sequence number",
            WireError::CounterExhausted => "sequence counter exhausted",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Incomplete { needed } => write!(f, "incomplete frame: need {needed} bytes"),
            e => f.write_str(e.as_str()),
        }
    }
}

/// The message authentication code over a frame's header and payload.
///
/// The kernel shell implements it with HMAC-SHA256 under the cluster key;
/// host tests plug in a toy.
pub trait Mac {
    /// Computes the tag of `data` into `tag`.
    ///
    /// # Errors
    ///
    /// [`WireError::MacFailure`] if the implementation fails (e.g. the
    /// crypto API returned an error).
    fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError>;

    /// Checks `tag` against `data`. The default computes the tag and
    /// compares in constant time; an implementation may override it with
    /// its own constant-time compare (`crypto_memneq`).
    ///
    /// # Errors
    ///
    /// [`WireError::BadMac`] on a mismatch, or what [`Mac::compute`] gives.
    fn verify(&self, data: &[u8], tag: &[u8; MAC_LEN]) -> Result<(), WireError> {
        let mut want = [0u8; MAC_LEN];
        self.compute(data, &mut want)?;
        if ct_eq(&want, tag) {
            Ok(())
        } else {
            Err(WireError::BadMac)
        }
    }
}

/// Compares two tags without an early exit on the first difference.
fn ct_eq(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// [`Hello`].
    Hello = 1,
    /// [`HandoffReq`].
    HandoffReq = 2,
    /// [`HandoffAck`].
    HandoffAck = 3,
    /// [`HandoffNack`].
    HandoffNack = 4,
    /// [`Terminate`].
    Terminate = 5,
    /// [`Heartbeat`].
    Heartbeat = 6,
    /// [`HandoffDecision`]: the back-end serves the connection.
    HandoffConfirm = 7,
    /// [`HandoffDecision`]: the back-end ends its side silently.
    HandoffCancel = 8,
    /// [`FlowAnnounce`].
    FlowAnnounce = 9,
    /// [`HandoffMore`].
    HandoffMore = 10,
    /// [`FlowQuery`].
    FlowQuery = 11,
    /// [`MoveRelease`].
    MoveRelease = 12,
    /// [`MoveReleased`].
    MoveReleased = 13,
    /// [`MoveKept`].
    MoveKept = 14,
}

impl MsgType {
    /// The type with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<MsgType> {
        match v {
            1 => Some(MsgType::Hello),
            2 => Some(MsgType::HandoffReq),
            3 => Some(MsgType::HandoffAck),
            4 => Some(MsgType::HandoffNack),
            5 => Some(MsgType::Terminate),
            6 => Some(MsgType::Heartbeat),
            7 => Some(MsgType::HandoffConfirm),
            8 => Some(MsgType::HandoffCancel),
            9 => Some(MsgType::FlowAnnounce),
            10 => Some(MsgType::HandoffMore),
            11 => Some(MsgType::FlowQuery),
            12 => Some(MsgType::MoveRelease),
            13 => Some(MsgType::MoveReleased),
            14 => Some(MsgType::MoveKept),
            _ => None,
        }
    }

    /// Length of the fixed part of this type's payload (all of it except
    /// a [`HandoffReq`]'s request bytes).
    pub const fn fixed_len(self) -> usize {
        match self {
            MsgType::Hello => Hello::LEN,
            MsgType::HandoffReq => HandoffReq::FIXED_LEN,
            MsgType::HandoffAck => HandoffAck::LEN,
            MsgType::HandoffNack => HandoffNack::LEN,
            MsgType::Terminate => Terminate::LEN,
            MsgType::Heartbeat => Heartbeat::LEN,
            MsgType::HandoffConfirm | MsgType::HandoffCancel => HandoffDecision::LEN,
            MsgType::FlowAnnounce => FlowAnnounce::LEN,
            MsgType::HandoffMore => HandoffMore::FIXED_LEN,
            MsgType::FlowQuery => FlowQuery::LEN,
            MsgType::MoveRelease => MoveRelease::LEN,
            MsgType::MoveReleased => MoveReleased::LEN,
            MsgType::MoveKept => MoveKept::LEN,
        }
    }
}

/// Why a back-end refused a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NackReason {
    /// The back-end's TCP options cannot honour what the front-end agreed
    /// (e.g. timestamps agreed, off on the back-end).
    OptionsIncompatible = 1,
    /// No listener on the service port, or the replayed SYN was refused.
    Refused = 2,
    /// The back-end is over its flow or load limit.
    Overloaded = 3,
    /// The handoff request was inconsistent.
    BadRequest = 4,
    /// Any other failure (allocation, injection).
    Internal = 5,
    /// The sender may not hand off this connection to this node: it did
    /// not announce the VIP:port in its HELLO, or the client address
    /// cannot be a client's (`crate::scope`).
    OutOfScope = 6,
}

impl NackReason {
    /// The reason with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<NackReason> {
        match v {
            1 => Some(NackReason::OptionsIncompatible),
            2 => Some(NackReason::Refused),
            3 => Some(NackReason::Overloaded),
            4 => Some(NackReason::BadRequest),
            5 => Some(NackReason::Internal),
            6 => Some(NackReason::OutOfScope),
            _ => None,
        }
    }
}

/// Why a handed-off connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TerminateReason {
    /// Orderly close: both FINs acknowledged.
    Fin = 1,
    /// Reset by either side.
    Rst = 2,
    /// State timed out.
    Timeout = 3,
    /// Another front-end forwards the connection now (after its first
    /// front-end died): drop the copy of it we announced you.
    Moved = 4,
}

impl TerminateReason {
    /// The reason with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<TerminateReason> {
        match v {
            1 => Some(TerminateReason::Fin),
            2 => Some(TerminateReason::Rst),
            3 => Some(TerminateReason::Timeout),
            4 => Some(TerminateReason::Moved),
            _ => None,
        }
    }
}

/// Why a back-end keeps a connection it was asked to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeepReason {
    /// Its responses did not complete within the release wait.
    Unfinished = 1,
    /// Its response stream cannot be framed (a body until the close, a
    /// protocol switch): it can never be released.
    Unframed = 2,
    /// It is closing (a FIN or RST either way) or not established.
    Closing = 3,
    /// The client's acknowledgment with the request is of bytes the
    /// stack never sent: the request may be a spoofer's.
    Unacceptable = 4,
}

impl KeepReason {
    /// The reason with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<KeepReason> {
        match v {
            1 => Some(KeepReason::Unfinished),
            2 => Some(KeepReason::Unframed),
            3 => Some(KeepReason::Closing),
            4 => Some(KeepReason::Unacceptable),
            _ => None,
        }
    }
}

/// Node capability bits carried by [`Hello`]; bits this version does not
/// name are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// The node's TCP stack offers SACK.
    pub const SACK: Capabilities = Capabilities(1 << 0);
    /// The node's TCP stack offers timestamps.
    pub const TIMESTAMPS: Capabilities = Capabilities(1 << 1);
    /// The node's TCP stack offers window scaling.
    pub const WSCALE: Capabilities = Capabilities(1 << 2);
    /// The node can act as a back-end (accepts handoffs).
    pub const BACKEND: Capabilities = Capabilities(1 << 3);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    #[must_use]
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }
}

/// The TCP options of one handshake side, as a handoff carries them.
///
/// Encoded in 4 bytes: MSS (2), flags (1: bit 0 window scale present,
/// bit 1 SACK permitted, bit 2 timestamps, others zero), window scale (1:
/// 0..=14 if present, else 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SynOptions {
    /// Maximum segment size ([`DEFAULT_MSS`] if the SYN had none).
    pub mss: u16,
    /// Window scale shift, at most [`MAX_WSCALE`].
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps in use.
    pub timestamps: bool,
}

impl SynOptions {
    /// Encoded length.
    pub const LEN: usize = 4;
    const F_WSCALE: u8 = 1 << 0;
    const F_SACK: u8 = 1 << 1;
    const F_TS: u8 = 1 << 2;

    /// The options a parsed SYN carried; an absent MSS becomes
    /// [`DEFAULT_MSS`], a window scale above 14 becomes 14.
    pub fn from_tcp_options(o: &super::tcp_options::TcpOptions) -> SynOptions {
        SynOptions {
            mss: o.mss.unwrap_or(DEFAULT_MSS),
            wscale: o.wscale.map(|w| w.min(MAX_WSCALE)),
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps.is_some(),
        }
    }

    fn check(&self) -> Result<(), WireError> {
        match self.wscale {
            Some(w) if w > MAX_WSCALE => Err(WireError::InvalidValue),
            _ => Ok(()),
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        let mut flags = 0u8;
        if self.wscale.is_some() {
            flags |= Self::F_WSCALE;
        }
        if self.sack_permitted {
            flags |= Self::F_SACK;
        }
        if self.timestamps {
            flags |= Self::F_TS;
        }
        w.u16(self.mss)?;
        w.u8(flags)?;
        w.u8(self.wscale.unwrap_or(0))
    }

    fn read(r: &mut Reader<'_>) -> Result<SynOptions, WireError> {
        let mss = r.u16()?;
        let flags = r.u8()?;
        let ws = r.u8()?;
        if flags & !(Self::F_WSCALE | Self::F_SACK | Self::F_TS) != 0 {
            return Err(WireError::BadReserved);
        }
        let wscale = if flags & Self::F_WSCALE != 0 {
            Some(ws)
        } else if ws != 0 {
            return Err(WireError::InvalidValue);
        } else {
            None
        };
        let o = SynOptions {
            mss,
            wscale,
            sack_permitted: flags & Self::F_SACK != 0,
            timestamps: flags & Self::F_TS != 0,
        };
        o.check()?;
        Ok(o)
    }
}

/// First message on each connection a node dials, and again whenever its
/// services change: who it is and which VIP:port services it fronts, so
/// the peer takes HANDOFF_REQs from it for those only (`crate::scope`).
///
/// Payload (59 bytes): node id (2), capabilities (4), generation (4),
/// service count (1, at most [`MAX_SERVICES`]), then [`MAX_SERVICES`]
/// slots of address (4) and port (2), the first `count` used, the rest
/// zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hello {
    /// The sender's node id; must equal the header's sender.
    pub node_id: u16,
    /// What the sender supports.
    pub capabilities: Capabilities,
    /// Counts the sender's HELLOs since its module loaded: a later one
    /// replaces what an earlier one said.
    pub generation: u32,
    /// The services the sender fronts.
    pub services: Services,
}

impl Hello {
    /// Payload length.
    pub const LEN: usize = 11 + MAX_SERVICES * 6;
}

/// Up to [`MAX_SERVICES`] VIP:port endpoints, as a [`Hello`] carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Services {
    len: u8,
    eps: [Endpoint; MAX_SERVICES],
}

impl Services {
    /// No service.
    pub const NONE: Services = Services {
        len: 0,
        eps: [Endpoint::new(0, 0); MAX_SERVICES],
    };

    /// The first [`MAX_SERVICES`] of `eps` (a configuration holds no more).
    pub fn of<'a>(eps: impl IntoIterator<Item = &'a Endpoint>) -> Services {
        let mut s = Services::NONE;
        for (slot, ep) in s.eps.iter_mut().zip(eps) {
            *slot = *ep;
            s.len = s.len.saturating_add(1);
        }
        s
    }

    /// The endpoints, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.eps.iter().take(usize::from(self.len))
    }

    /// Whether `ep` is one of them.
    pub fn contains(&self, ep: Endpoint) -> bool {
        self.iter().any(|e| *e == ep)
    }
}

/// Front-end to back-end: take over this connection (Documentation/handoff.md, step 4).
///
/// Payload (53 bytes + request): `fe_flow_id` (4), `client_addr` (4),
/// `client_port` (2), `vip_addr` (4), `vip_port` (2), `isn_client` (4),
/// `client_opts` (4), `client_window` (2), `isn_fe` (4), `fe_opts` (4),
/// `fe_tsval_last` (4), `client_tsval_last` (4), `client_window_last` (2),
/// `request_seq` (4), flags (1: bit 0 `fin`, others zero), request length
/// (4, at most [`MAX_REQUEST`]), request bytes. Addresses are IPv4 in
/// host order as `u32` (`a.b.c.d` is `a << 24 | ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffReq<'a> {
    /// The front-end's id for the flow, echoed in replies.
    pub fe_flow_id: u32,
    /// Client IPv4 address.
    pub client_addr: u32,
    /// Client port.
    pub client_port: u16,
    /// Service (VIP) IPv4 address.
    pub vip_addr: u32,
    /// Service port.
    pub vip_port: u16,
    /// The client's ISN (from its SYN).
    pub isn_client: u32,
    /// The options of the client's SYN.
    pub client_opts: SynOptions,
    /// The raw window of the client's SYN.
    pub client_window: u16,
    /// The front-end's ISN (from its SYN/ACK).
    pub isn_fe: u32,
    /// The options the front-end agreed in its SYN/ACK.
    pub fe_opts: SynOptions,
    /// The latest `TSval` the front-end sent.
    pub fe_tsval_last: u32,
    /// The latest `TSval` the client sent.
    pub client_tsval_last: u32,
    /// The client's latest raw (unscaled) window.
    pub client_window_last: u16,
    /// Sequence number of the first byte of `request`.
    pub request_seq: u32,
    /// The client has already sent its FIN (after `request`).
    pub fin: bool,
    /// The buffered request bytes, at most [`MAX_REQUEST`].
    pub request: &'a [u8],
}

impl HandoffReq<'_> {
    /// Payload length without the request bytes.
    pub const FIXED_LEN: usize = 53;
    const F_FIN: u8 = 1 << 0;
}

/// The front-end flow a back-end's message is about: its id and its
/// connection as the front-end knows it (client, VIP), by which the
/// front-end finds the flow (no index by id), the id cross-checking it.
///
/// Encoded (16 bytes): `fe_flow_id` (4), `client_addr` (4), `client_port`
/// (2), `vip_addr` (4), `vip_port` (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowRef {
    /// The front-end's flow id from the request.
    pub fe_flow_id: u32,
    /// Client IPv4 address.
    pub client_addr: u32,
    /// Client port.
    pub client_port: u16,
    /// The VIP the client connected to.
    pub vip_addr: u32,
    /// The service port.
    pub vip_port: u16,
}

impl FlowRef {
    /// Encoded length.
    pub const LEN: usize = 16;

    /// The flow `req` hands off.
    pub fn of(req: &HandoffReq<'_>) -> FlowRef {
        FlowRef {
            fe_flow_id: req.fe_flow_id,
            client_addr: req.client_addr,
            client_port: req.client_port,
            vip_addr: req.vip_addr,
            vip_port: req.vip_port,
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u32(self.fe_flow_id)?;
        w.u32(self.client_addr)?;
        w.u16(self.client_port)?;
        w.u32(self.vip_addr)?;
        w.u16(self.vip_port)
    }

    fn read(r: &mut Reader<'_>) -> Result<FlowRef, WireError> {
        Ok(FlowRef {
            fe_flow_id: r.u32()?,
            client_addr: r.u32()?,
            client_port: r.u16()?,
            vip_addr: r.u32()?,
            vip_port: r.u16()?,
        })
    }
}

/// Back-end to front-end: the handoff succeeded (Documentation/handoff.md, step 5).
///
/// Payload (30 bytes): the flow ([`FlowRef`], 16), `be_node` (2),
/// `isn_be` (4), `be_opts` (4), `be_tsval` (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffAck {
    /// The front-end flow.
    pub flow: FlowRef,
    /// The back-end's node id; must equal the header's sender.
    pub be_node: u16,
    /// The back-end TCP's ISN (from the SYN/ACK it answered the replay with).
    pub isn_be: u32,
    /// The options of the back-end's SYN/ACK.
    pub be_opts: SynOptions,
    /// The back-end's `TSval` in that SYN/ACK (0 without timestamps).
    pub be_tsval: u32,
}

impl HandoffAck {
    /// Payload length.
    pub const LEN: usize = 30;
}

/// Back-end to front-end: the handoff was refused.
///
/// Payload (17 bytes): the flow ([`FlowRef`], 16), reason (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffNack {
    /// The front-end flow.
    pub flow: FlowRef,
    /// Why.
    pub reason: NackReason,
}

impl HandoffNack {
    /// Payload length.
    pub const LEN: usize = 17;
}

/// Back-end to front-end: the connection is over, free the flow.
///
/// Payload (17 bytes): the flow ([`FlowRef`], 16), reason (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Terminate {
    /// The front-end flow.
    pub flow: FlowRef,
    /// Why.
    pub reason: TerminateReason,
}

impl Terminate {
    /// Payload length.
    pub const LEN: usize = 17;
}

/// Front-end to back-end: what becomes of a handoff the back-end
/// acknowledged (Documentation/handoff.md, step 6). A back-end that took
/// a handoff from a peer holds the request back from its stack until the
/// front-end confirms, so a front-end that gave up waiting and offered
/// the connection elsewhere can cancel it before the stack says anything
/// to the client. Sent as [`Message::HandoffConfirm`] (serve it) or
/// [`Message::HandoffCancel`] (end the local side silently).
///
/// Payload (16 bytes): the flow ([`FlowRef`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffDecision {
    /// The front-end flow.
    pub flow: FlowRef,
}

impl HandoffDecision {
    /// Payload length.
    pub const LEN: usize = FlowRef::LEN;
}

/// Front-end to back-end, after HANDOFF_CONFIRM (or, for a local
/// handoff, straight to its own back-end side): the client's bytes that
/// came while the handoff was pending, which the HANDOFF_REQ did not
/// carry (a pipelined request, a body), to replay after the request.
///
/// Payload (24 bytes and the bytes): the flow ([`FlowRef`], 16), `seq`
/// (4), the bytes' length (4, at most [`MAX_REQUEST`]), the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandoffMore<'a> {
    /// The front-end flow.
    pub flow: FlowRef,
    /// The client's sequence number of the first byte (just past what
    /// the HANDOFF_REQ carried).
    pub seq: u32,
    /// The bytes.
    pub bytes: &'a [u8],
}

impl HandoffMore<'_> {
    /// Payload length without the bytes.
    pub const FIXED_LEN: usize = 24;
}

/// A node to its peers: it holds the VIP `vip` now (VRRP gave it the
/// address): each peer announces to it every connection it serves
/// through that VIP that another front-end handed it (or this one,
/// before its module was reloaded), and makes it their front-end
/// (Documentation/handoff.md, "When the VIP moves").
///
/// Payload (4 bytes): `vip` (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowQuery {
    /// The VIP.
    pub vip: u32,
}

impl FlowQuery {
    /// Payload length.
    pub const LEN: usize = 4;
}

/// Front-end to back-end: the client sent a request that belongs on
/// another node (Documentation/dispatch.md, "Per-request dispatch"): release
/// the connection once the responses to the `requests` requests the
/// stack got before client sequence number `seq` are sent and
/// acknowledged, and say so ([`MoveReleased`]), or keep it
/// ([`MoveKept`]). Sent again, the same answer comes again.
///
/// Payload (28 bytes): the flow ([`FlowRef`], 16), `seq` (4), `requests`
/// (4), `ack` (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MoveRelease {
    /// The front-end flow.
    pub flow: FlowRef,
    /// The client's sequence number of the request that moves: the stack
    /// gets nothing from there on.
    pub seq: u32,
    /// Requests the back-end's stack got on this connection before `seq`.
    pub requests: u32,
    /// The client's highest acknowledgment, the request's included (the
    /// back-end's space): only the back-end knows whether its stack sent
    /// that much, as its stack would check the request's segments.
    pub ack: u32,
}

impl MoveRelease {
    /// Payload length.
    pub const LEN: usize = 28;
}

/// Back-end to front-end: the connection is released. Its stack's socket
/// is gone (nothing reached the client); the next back-end's replay
/// starts where this one ended.
///
/// The client's latest acknowledgment echoes the TSval the next back-end
/// must not go below (its clock runs in milliseconds, as Linux's does):
/// the front-end saw it.
///
/// Payload (24 bytes): the flow ([`FlowRef`], 16), `seq` (4),
/// `server_nxt` (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MoveReleased {
    /// The front-end flow.
    pub flow: FlowRef,
    /// The release's `seq` ([`MoveRelease::seq`]).
    pub seq: u32,
    /// The next sequence number the client expects from the server (the
    /// front-end's space: every byte before it is acknowledged).
    pub server_nxt: u32,
}

impl MoveReleased {
    /// Payload length.
    pub const LEN: usize = 24;
}

/// Back-end to front-end: the connection stays here; send the held
/// request on (HANDOFF_MORE at `seq`).
///
/// Payload (21 bytes): the flow ([`FlowRef`], 16), `seq` (4), reason (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MoveKept {
    /// The front-end flow.
    pub flow: FlowRef,
    /// The release's `seq`.
    pub seq: u32,
    /// Why.
    pub reason: KeepReason,
}

impl MoveKept {
    /// Payload length.
    pub const LEN: usize = 21;
}

/// Back-end to the front-ends it knows: a connection it serves whose
/// front-end was declared dead, with everything a front-end needs to
/// forward the client's segments to it (Documentation/handoff.md, "When a
/// front-end dies"). The back-end is the sender; a front-end that fronts
/// the service makes a forwarding flow of it, so whichever takes the VIP
/// over carries the connection on.
///
/// Payload (63 bytes): the flow ([`FlowRef`], 16), `isn_client` (4),
/// `client_opts` (4), `fe_opts` (4), `be_opts` (4), `isn_fe` (4),
/// `isn_be` (4), `ts_delta` (4), `client_nxt` (4), `client_ack` (4),
/// `client_edge` (4), `client_window` (2), `client_tsval` (4), flags (1:
/// bit 0 the client's FIN was seen, others zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowAnnounce {
    /// The connection and the flow id its first front-end gave it (the
    /// back-end's messages keep naming it so).
    pub flow: FlowRef,
    /// The client's ISN.
    pub isn_client: u32,
    /// The options of the client's SYN.
    pub client_opts: SynOptions,
    /// The options the front-end agreed with the client.
    pub fe_opts: SynOptions,
    /// The options of the back-end stack's SYN/ACK.
    pub be_opts: SynOptions,
    /// The front-end's ISN (the client's view of the server).
    pub isn_fe: u32,
    /// The back-end stack's ISN.
    pub isn_be: u32,
    /// The translation's timestamp offset (`Xlate::ts_delta`).
    pub ts_delta: u32,
    /// The client's next sequence number, as far as the back-end saw.
    pub client_nxt: u32,
    /// The client's latest acknowledgment (the front-end's space).
    pub client_ack: u32,
    /// The most the client can acknowledge: past everything the back-end
    /// sent and the window the client last advertised (the front-end's
    /// space).
    pub client_edge: u32,
    /// The client's latest raw window.
    pub client_window: u16,
    /// The client's latest TSval.
    pub client_tsval: u32,
    /// The client's FIN was seen.
    pub client_fin: bool,
}

impl FlowAnnounce {
    /// Payload length.
    pub const LEN: usize = 63;
    const F_FIN: u8 = 1 << 0;
}

/// Periodic liveness and load report, for the dispatcher.
///
/// Payload (171 bytes): node id (2), active flows (4), load (4),
/// timestamp (8), then the listeners (`crate::health`): their count (1,
/// at most [`MAX_SERVICES`]) and [`MAX_SERVICES`] entries of 19 bytes,
/// those past the count all zero: service address (4) and port (2),
/// flags (1: bit 0 listening, others zero), accept queue length (4),
/// its limit (4), the oldest queued connection's wait in ms (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat<'a> {
    /// The sender's node id; must equal the header's sender.
    pub node_id: u16,
    /// Connections the sender serves as a back-end, for every front-end
    /// (front-ends weigh it as the node's load).
    pub active_flows: u32,
    /// Load in permille of capacity (may exceed 1000 when overloaded).
    pub load: u32,
    /// The sender's clock, in milliseconds.
    pub timestamp_ms: u64,
    /// The sender's listeners for the services the recipient fronts (as
    /// its [`Hello`] announced them), as they go on the wire: a
    /// [`Listeners`] is too large to be carried in every [`Message`].
    pub listeners: ListenerBytes<'a>,
}

impl Heartbeat<'_> {
    /// Payload length.
    pub const LEN: usize = 18 + ListenerBytes::LEN;
}

/// A [`Heartbeat`]'s listeners in their wire form (see there), always
/// well-formed: written from a [`Listeners`], or checked when decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerBytes<'a>(&'a [u8]);

impl<'a> ListenerBytes<'a> {
    /// Length on the wire.
    pub const LEN: usize = 1 + MAX_SERVICES * 19;
    /// Listener flag: a socket listens.
    const F_LISTENING: u8 = 1;
    /// No listener reported.
    pub const NONE: ListenerBytes<'static> = ListenerBytes(&[0; ListenerBytes::LEN]);

    /// `bytes`, if they are well-formed listeners.
    ///
    /// # Errors
    ///
    /// As [`decode`] for a HEARTBEAT's listeners.
    pub fn new(bytes: &'a [u8]) -> Result<ListenerBytes<'a>, WireError> {
        Self::read(bytes).map(|_| ListenerBytes(bytes))
    }

    /// `l` written into `buf`.
    pub fn write(l: &Listeners, buf: &'a mut [u8; ListenerBytes::LEN]) -> ListenerBytes<'a> {
        let mut w = Writer {
            buf: &mut buf[..],
            pos: 0,
        };
        // Cannot fail: the buffer is exactly as long as what is written.
        let _ = Self::write_to(l, &mut w);
        ListenerBytes(buf)
    }

    fn write_to(l: &Listeners, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u8(l.len)?;
        for e in l.entries.iter() {
            w.u32(e.service.addr)?;
            w.u16(e.service.port)?;
            w.u8(if e.listening { Self::F_LISTENING } else { 0 })?;
            w.u32(e.queued)?;
            w.u32(e.limit)?;
            w.u32(e.oldest_ms)?;
        }
        Ok(())
    }

    /// Checks `bytes` (exactly [`Self::LEN`] of them) as [`decode`] does.
    fn read(bytes: &[u8]) -> Result<Listeners, WireError> {
        let mut r = Reader { buf: bytes };
        let len = r.u8()?;
        if usize::from(len) > MAX_SERVICES {
            return Err(WireError::InvalidValue);
        }
        let mut l = Listeners {
            len,
            ..Listeners::NONE
        };
        for (i, e) in l.entries.iter_mut().enumerate() {
            let service = Endpoint::new(r.u32()?, r.u16()?);
            let flags = r.u8()?;
            if flags & !Self::F_LISTENING != 0 {
                return Err(WireError::BadReserved);
            }
            *e = Listener {
                service,
                listening: flags & Self::F_LISTENING != 0,
                queued: r.u32()?,
                limit: r.u32()?,
                oldest_ms: r.u32()?,
            };
            if i >= usize::from(len) && *e != Listener::default() {
                return Err(WireError::BadReserved);
            }
        }
        match r.buf.is_empty() {
            true => Ok(l),
            false => Err(WireError::TrailingBytes),
        }
    }

    /// The listeners.
    pub fn listeners(&self) -> Listeners {
        // Well-formed by construction.
        Self::read(self.0).unwrap_or(Listeners::NONE)
    }
}

/// A control message; request bytes are borrowed from the frame buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message<'a> {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`HandoffReq`].
    HandoffReq(HandoffReq<'a>),
    /// See [`HandoffAck`].
    HandoffAck(HandoffAck),
    /// See [`HandoffNack`].
    HandoffNack(HandoffNack),
    /// See [`Terminate`].
    Terminate(Terminate),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat<'a>),
    /// See [`HandoffDecision`]: serve the connection.
    HandoffConfirm(HandoffDecision),
    /// See [`HandoffDecision`]: end it silently.
    HandoffCancel(HandoffDecision),
    /// See [`FlowAnnounce`].
    FlowAnnounce(FlowAnnounce),
    /// See [`HandoffMore`].
    HandoffMore(HandoffMore<'a>),
    /// See [`FlowQuery`].
    FlowQuery(FlowQuery),
    /// See [`MoveRelease`].
    MoveRelease(MoveRelease),
    /// See [`MoveReleased`].
    MoveReleased(MoveReleased),
    /// See [`MoveKept`].
    MoveKept(MoveKept),
}

impl<'a> Message<'a> {
    /// The message's type.
    pub const fn msg_type(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::HandoffReq(_) => MsgType::HandoffReq,
            Message::HandoffAck(_) => MsgType::HandoffAck,
            Message::HandoffNack(_) => MsgType::HandoffNack,
            Message::Terminate(_) => MsgType::Terminate,
            Message::Heartbeat(_) => MsgType::Heartbeat,
            Message::HandoffConfirm(_) => MsgType::HandoffConfirm,
            Message::HandoffCancel(_) => MsgType::HandoffCancel,
            Message::FlowAnnounce(_) => MsgType::FlowAnnounce,
            Message::HandoffMore(_) => MsgType::HandoffMore,
            Message::FlowQuery(_) => MsgType::FlowQuery,
            Message::MoveRelease(_) => MsgType::MoveRelease,
            Message::MoveReleased(_) => MsgType::MoveReleased,
            Message::MoveKept(_) => MsgType::MoveKept,
        }
    }

    /// Payload length (saturating; an oversize request fails to encode).
    pub fn payload_len(&self) -> usize {
        let fixed = self.msg_type().fixed_len();
        match self {
            Message::HandoffReq(r) => fixed.saturating_add(r.request.len()),
            Message::HandoffMore(m) => fixed.saturating_add(m.bytes.len()),
            _ => fixed,
        }
    }

    /// Length of the whole frame: header, payload and MAC (saturating).
    pub fn frame_len(&self) -> usize {
        HEADER_LEN
            .saturating_add(self.payload_len())
            .saturating_add(MAC_LEN)
    }

    /// Checks what [`decode`] would reject, so that nothing is sent that
    /// the peer refuses.
    fn check(&self, sender: u16) -> Result<(), WireError> {
        let node = match self {
            Message::Hello(h) => Some(h.node_id),
            Message::HandoffAck(a) => Some(a.be_node),
            Message::Heartbeat(h) => Some(h.node_id),
            _ => None,
        };
        if node.is_some_and(|n| n != sender) {
            return Err(WireError::SenderMismatch);
        }
        match self {
            Message::HandoffReq(r) => {
                if r.request.len() > MAX_REQUEST {
                    return Err(WireError::TooLong);
                }
                r.client_opts.check()?;
                r.fe_opts.check()
            }
            Message::HandoffAck(a) => a.be_opts.check(),
            Message::HandoffMore(m) if m.bytes.len() > MAX_REQUEST => Err(WireError::TooLong),
            Message::FlowAnnounce(a) => {
                a.client_opts.check()?;
                a.fe_opts.check()?;
                a.be_opts.check()
            }
            _ => Ok(()),
        }
    }

    /// Writes the frame (header, payload, zeroed MAC) into the start of
    /// `buf` and returns its length; [`seal`] then fills in the MAC.
    ///
    /// `sender` is this node's id, `recipient` the peer's; `seq` the next
    /// value of this link's [`SendCounter`].
    ///
    /// # Errors
    ///
    /// [`WireError::BufferTooSmall`]; [`WireError::TooLong`] for request
    /// bytes above [`MAX_REQUEST`]; [`WireError::InvalidValue`] for a window
    /// scale above 14; [`WireError::SenderMismatch`] if the message's node
    /// id is not `sender`. Nothing is written on error.
    pub fn encode(
        &self,
        sender: u16,
        recipient: u16,
        seq: u64,
        buf: &mut [u8],
    ) -> Result<usize, WireError> {
        self.check(sender)?;
        let payload_len = self.payload_len();
        let len32 = u32::try_from(payload_len).map_err(|_| WireError::TooLong)?;
        let total = self.frame_len();
        let out = buf.get_mut(..total).ok_or(WireError::BufferTooSmall)?;
        let mut w = Writer { buf: out, pos: 0 };
        w.u16(MAGIC)?;
        w.u8(VERSION)?;
        w.u8(self.msg_type() as u8)?;
        w.u32(len32)?;
        w.u64(seq)?;
        w.u16(sender)?;
        w.u16(recipient)?;
        self.write_payload(&mut w)?;
        w.bytes(&[0u8; MAC_LEN])?;
        Ok(w.pos)
    }

    /// [`Message::encode`], then [`seal`] with `mac`.
    ///
    /// # Errors
    ///
    /// As [`Message::encode`], or [`WireError::MacFailure`].
    pub fn encode_sealed<M: Mac + ?Sized>(
        &self,
        sender: u16,
        recipient: u16,
        seq: u64,
        mac: &M,
        buf: &mut [u8],
    ) -> Result<usize, WireError> {
        let n = self.encode(sender, recipient, seq, buf)?;
        seal(buf.get_mut(..n).ok_or(WireError::BufferTooSmall)?, mac)?;
        Ok(n)
    }

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        match self {
            Message::Hello(h) => {
                w.u16(h.node_id)?;
                w.u32(h.capabilities.0)?;
                w.u32(h.generation)?;
                w.u8(h.services.len)?;
                for ep in h.services.eps.iter() {
                    w.u32(ep.addr)?;
                    w.u16(ep.port)?;
                }
                Ok(())
            }
            Message::HandoffReq(r) => {
                w.u32(r.fe_flow_id)?;
                w.u32(r.client_addr)?;
                w.u16(r.client_port)?;
                w.u32(r.vip_addr)?;
                w.u16(r.vip_port)?;
                w.u32(r.isn_client)?;
                r.client_opts.write(w)?;
                w.u16(r.client_window)?;
                w.u32(r.isn_fe)?;
                r.fe_opts.write(w)?;
                w.u32(r.fe_tsval_last)?;
                w.u32(r.client_tsval_last)?;
                w.u16(r.client_window_last)?;
                w.u32(r.request_seq)?;
                w.u8(if r.fin { HandoffReq::F_FIN } else { 0 })?;
                w.request_bytes(r.request)
            }
            Message::HandoffAck(a) => {
                a.flow.write(w)?;
                w.u16(a.be_node)?;
                w.u32(a.isn_be)?;
                a.be_opts.write(w)?;
                w.u32(a.be_tsval)
            }
            Message::HandoffNack(n) => {
                n.flow.write(w)?;
                w.u8(n.reason as u8)
            }
            Message::Terminate(t) => {
                t.flow.write(w)?;
                w.u8(t.reason as u8)
            }
            Message::Heartbeat(h) => {
                w.u16(h.node_id)?;
                w.u32(h.active_flows)?;
                w.u32(h.load)?;
                w.u64(h.timestamp_ms)?;
                w.bytes(h.listeners.0)
            }
            Message::HandoffConfirm(d) | Message::HandoffCancel(d) => d.flow.write(w),
            Message::FlowQuery(q) => w.u32(q.vip),
            Message::MoveRelease(m) => {
                m.flow.write(w)?;
                w.u32(m.seq)?;
                w.u32(m.requests)?;
                w.u32(m.ack)
            }
            Message::MoveReleased(m) => {
                m.flow.write(w)?;
                w.u32(m.seq)?;
                w.u32(m.server_nxt)
            }
            Message::MoveKept(m) => {
                m.flow.write(w)?;
                w.u32(m.seq)?;
                w.u8(m.reason as u8)
            }
            Message::HandoffMore(m) => {
                m.flow.write(w)?;
                w.u32(m.seq)?;
                w.request_bytes(m.bytes)
            }
            Message::FlowAnnounce(a) => {
                a.flow.write(w)?;
                w.u32(a.isn_client)?;
                a.client_opts.write(w)?;
                a.fe_opts.write(w)?;
                a.be_opts.write(w)?;
                w.u32(a.isn_fe)?;
                w.u32(a.isn_be)?;
                w.u32(a.ts_delta)?;
                w.u32(a.client_nxt)?;
                w.u32(a.client_ack)?;
                w.u32(a.client_edge)?;
                w.u16(a.client_window)?;
                w.u32(a.client_tsval)?;
                w.u8(if a.client_fin { FlowAnnounce::F_FIN } else { 0 })
            }
        }
    }

    /// Decodes a payload of type `ty` sent by `sender`; the payload must
    /// hold exactly one message.
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`], [`WireError::TrailingBytes`],
    /// [`WireError::InvalidValue`], [`WireError::BadReserved`],
    /// [`WireError::TooLong`] or [`WireError::SenderMismatch`].
    pub fn decode_payload(
        ty: MsgType,
        sender: u16,
        payload: &'a [u8],
    ) -> Result<Message<'a>, WireError> {
        let mut r = Reader { buf: payload };
        let msg = match ty {
            MsgType::Hello => {
                let node_id = r.u16()?;
                let capabilities = Capabilities(r.u32()?);
                let generation = r.u32()?;
                let len = r.u8()?;
                if usize::from(len) > MAX_SERVICES {
                    return Err(WireError::InvalidValue);
                }
                let mut services = Services {
                    len,
                    ..Services::NONE
                };
                for (i, ep) in services.eps.iter_mut().enumerate() {
                    *ep = Endpoint::new(r.u32()?, r.u16()?);
                    if i >= usize::from(len) && *ep != Endpoint::default() {
                        return Err(WireError::BadReserved);
                    }
                }
                Message::Hello(Hello {
                    node_id,
                    capabilities,
                    generation,
                    services,
                })
            }
            MsgType::HandoffReq => {
                let fe_flow_id = r.u32()?;
                let client_addr = r.u32()?;
                let client_port = r.u16()?;
                let vip_addr = r.u32()?;
                let vip_port = r.u16()?;
                let isn_client = r.u32()?;
                let client_opts = SynOptions::read(&mut r)?;
                let client_window = r.u16()?;
                let isn_fe = r.u32()?;
                let fe_opts = SynOptions::read(&mut r)?;
                let fe_tsval_last = r.u32()?;
                let client_tsval_last = r.u32()?;
                let client_window_last = r.u16()?;
                let request_seq = r.u32()?;
                let flags = r.u8()?;
                if flags & !HandoffReq::F_FIN != 0 {
                    return Err(WireError::BadReserved);
                }
                let request = r.request_bytes()?;
                Message::HandoffReq(HandoffReq {
                    fe_flow_id,
                    client_addr,
                    client_port,
                    vip_addr,
                    vip_port,
                    isn_client,
                    client_opts,
                    client_window,
                    isn_fe,
                    fe_opts,
                    fe_tsval_last,
                    client_tsval_last,
                    client_window_last,
                    request_seq,
                    fin: flags & HandoffReq::F_FIN != 0,
                    request,
                })
            }
            MsgType::HandoffAck => Message::HandoffAck(HandoffAck {
                flow: FlowRef::read(&mut r)?,
                be_node: r.u16()?,
                isn_be: r.u32()?,
                be_opts: SynOptions::read(&mut r)?,
                be_tsval: r.u32()?,
            }),
            MsgType::HandoffNack => Message::HandoffNack(HandoffNack {
                flow: FlowRef::read(&mut r)?,
                reason: NackReason::from_u8(r.u8()?).ok_or(WireError::InvalidValue)?,
            }),
            MsgType::Terminate => Message::Terminate(Terminate {
                flow: FlowRef::read(&mut r)?,
                reason: TerminateReason::from_u8(r.u8()?).ok_or(WireError::InvalidValue)?,
            }),
            MsgType::Heartbeat => {
                let node_id = r.u16()?;
                let active_flows = r.u32()?;
                let load = r.u32()?;
                let timestamp_ms = r.u64()?;
                let listeners = ListenerBytes::new(r.bytes(ListenerBytes::LEN)?)?;
                Message::Heartbeat(Heartbeat {
                    node_id,
                    active_flows,
                    load,
                    timestamp_ms,
                    listeners,
                })
            }
            MsgType::HandoffConfirm => Message::HandoffConfirm(HandoffDecision {
                flow: FlowRef::read(&mut r)?,
            }),
            MsgType::HandoffCancel => Message::HandoffCancel(HandoffDecision {
                flow: FlowRef::read(&mut r)?,
            }),
            MsgType::FlowQuery => Message::FlowQuery(FlowQuery { vip: r.u32()? }),
            MsgType::MoveRelease => Message::MoveRelease(MoveRelease {
                flow: FlowRef::read(&mut r)?,
                seq: r.u32()?,
                requests: r.u32()?,
                ack: r.u32()?,
            }),
            MsgType::MoveReleased => Message::MoveReleased(MoveReleased {
                flow: FlowRef::read(&mut r)?,
                seq: r.u32()?,
                server_nxt: r.u32()?,
            }),
            MsgType::MoveKept => Message::MoveKept(MoveKept {
                flow: FlowRef::read(&mut r)?,
                seq: r.u32()?,
                reason: KeepReason::from_u8(r.u8()?).ok_or(WireError::InvalidValue)?,
            }),
            MsgType::HandoffMore => {
                let flow = FlowRef::read(&mut r)?;
                let seq = r.u32()?;
                Message::HandoffMore(HandoffMore {
                    flow,
                    seq,
                    bytes: r.request_bytes()?,
                })
            }
            MsgType::FlowAnnounce => {
                let mut a = FlowAnnounce {
                    flow: FlowRef::read(&mut r)?,
                    isn_client: r.u32()?,
                    client_opts: SynOptions::read(&mut r)?,
                    fe_opts: SynOptions::read(&mut r)?,
                    be_opts: SynOptions::read(&mut r)?,
                    isn_fe: r.u32()?,
                    isn_be: r.u32()?,
                    ts_delta: r.u32()?,
                    client_nxt: r.u32()?,
                    client_ack: r.u32()?,
                    client_edge: r.u32()?,
                    client_window: r.u16()?,
                    client_tsval: r.u32()?,
                    ..FlowAnnounce::default()
                };
                match r.u8()? {
                    0 => {}
                    FlowAnnounce::F_FIN => a.client_fin = true,
                    _ => return Err(WireError::BadReserved),
                }
                Message::FlowAnnounce(a)
            }
        };
        if !r.buf.is_empty() {
            return Err(WireError::TrailingBytes);
        }
        msg.check(sender)?;
        Ok(msg)
    }
}

/// The fixed header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Message type.
    pub msg_type: MsgType,
    /// Payload length, at most [`MAX_PAYLOAD`].
    pub payload_len: u32,
    /// Sequence number.
    pub seq: u64,
    /// Sender node id.
    pub sender: u16,
    /// Recipient node id.
    pub recipient: u16,
}

impl Header {
    /// Parses and validates the header at the start of `buf`.
    ///
    /// Fields are checked as soon as they are in `buf`, so a stream that
    /// is not ours fails on its first bytes rather than after a header's
    /// worth.
    ///
    /// # Errors
    ///
    /// [`WireError::BadMagic`], [`WireError::BadVersion`],
    /// [`WireError::UnknownType`], [`WireError::TooLong`], or
    /// [`WireError::Incomplete`] if `buf`
    /// holds a valid prefix of a header. An empty `buf` is incomplete.
    pub fn parse(buf: &[u8]) -> Result<Header, WireError> {
        let magic = MAGIC.to_be_bytes();
        if buf.iter().zip(magic.iter()).any(|(a, b)| a != b) {
            return Err(WireError::BadMagic);
        }
        if buf.get(OFF_VERSION).is_some_and(|&v| v != VERSION) {
            return Err(WireError::BadVersion);
        }
        let msg_type = match buf.get(OFF_TYPE) {
            Some(&t) => Some(MsgType::from_u8(t).ok_or(WireError::UnknownType)?),
            None => None,
        };
        let payload_len = match field::<4>(buf, OFF_LEN) {
            Some(b) => {
                let len = u32::from_be_bytes(b);
                if usize::try_from(len).map_or(true, |l| l > MAX_PAYLOAD) {
                    return Err(WireError::TooLong);
                }
                Some(len)
            }
            None => None,
        };
        let needed = payload_len.map_or(HEADER_LEN, frame_len_for);
        match (
            msg_type,
            payload_len,
            field::<8>(buf, OFF_SEQ),
            field::<2>(buf, OFF_SENDER),
            field::<2>(buf, OFF_RECIPIENT),
        ) {
            (Some(msg_type), Some(payload_len), Some(seq), Some(sender), Some(recipient))
                if buf.len() >= HEADER_LEN =>
            {
                Ok(Header {
                    msg_type,
                    payload_len,
                    seq: u64::from_be_bytes(seq),
                    sender: u16::from_be_bytes(sender),
                    recipient: u16::from_be_bytes(recipient),
                })
            }
            _ => Err(WireError::Incomplete { needed }),
        }
    }

    /// Length of the whole frame this header starts.
    pub fn frame_len(&self) -> usize {
        frame_len_for(self.payload_len)
    }
}

/// Frame length for a payload length (saturating; callers bound it first).
fn frame_len_for(payload_len: u32) -> usize {
    usize::try_from(payload_len)
        .unwrap_or(usize::MAX)
        .saturating_add(HEADER_LEN)
        .saturating_add(MAC_LEN)
}

/// `N` bytes at `off`, if all are in `buf`.
fn field<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let b = buf.get(off..off.checked_add(N)?)?;
    <[u8; N]>::try_from(b).ok()
}

/// A decoded frame, borrowing from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// The message.
    pub message: Message<'a>,
    /// The bytes the MAC covers: header and payload.
    pub signed: &'a [u8],
    /// The MAC trailer.
    pub mac: &'a [u8; MAC_LEN],
}

impl Frame<'_> {
    /// Checks the MAC with `mac`.
    ///
    /// # Errors
    ///
    /// [`WireError::BadMac`] or [`WireError::MacFailure`].
    pub fn verify<M: Mac + ?Sized>(&self, mac: &M) -> Result<(), WireError> {
        mac.verify(self.signed, self.mac)
    }
}

/// One complete frame, split up but not decoded.
struct Parts<'a> {
    header: Header,
    signed: &'a [u8],
    payload: &'a [u8],
    mac: &'a [u8; MAC_LEN],
}

impl<'a> Parts<'a> {
    /// Splits the frame at the start of `buf`.
    fn split(buf: &'a [u8]) -> Result<Parts<'a>, WireError> {
        let header = Header::parse(buf)?;
        let len = header.frame_len();
        let frame = buf
            .get(..len)
            .ok_or(WireError::Incomplete { needed: len })?;
        let (signed, mac) = frame
            .split_last_chunk::<MAC_LEN>()
            .ok_or(WireError::Truncated)?;
        let payload = signed.get(HEADER_LEN..).ok_or(WireError::Truncated)?;
        Ok(Parts {
            header,
            signed,
            payload,
            mac,
        })
    }

    /// Decodes the payload.
    fn decode(self) -> Result<(Frame<'a>, usize), WireError> {
        let h = self.header;
        let message = Message::decode_payload(h.msg_type, h.sender, self.payload)?;
        let frame = Frame {
            header: h,
            message,
            signed: self.signed,
            mac: self.mac,
        };
        Ok((frame, h.frame_len()))
    }
}

/// Decodes the frame at the start of `buf` without checking its MAC, and
/// returns it with the number of bytes it took. Bytes after the frame (the
/// next frames of the stream) are left alone. For fuzzing and tests; a
/// receiver uses [`decode_verified`].
///
/// Never panics, whatever `buf` holds.
///
/// # Errors
///
/// [`WireError::Incomplete`] if `buf` holds a valid prefix of a frame;
/// otherwise what [`Header::parse`] and [`Message::decode_payload`] give.
pub fn decode(buf: &[u8]) -> Result<(Frame<'_>, usize), WireError> {
    Parts::split(buf)?.decode()
}

/// Decodes the frame at the start of `buf` after checking its MAC with
/// `mac` (the payload is not looked at before that), and returns it with
/// the number of bytes it took. The caller then checks the sender and the
/// [`ReplayGuard`].
///
/// # Errors
///
/// As [`decode`], plus [`WireError::BadMac`] and [`WireError::MacFailure`].
pub fn decode_verified<'a, M: Mac + ?Sized>(
    buf: &'a [u8],
    mac: &M,
) -> Result<(Frame<'a>, usize), WireError> {
    let parts = Parts::split(buf)?;
    mac.verify(parts.signed, parts.mac)?;
    parts.decode()
}

/// Computes the MAC of an encoded frame (exactly one, as
/// [`Message::encode`] wrote it) into its trailer.
///
/// # Errors
///
/// [`WireError::BufferTooSmall`] if `frame` is shorter than a header and
/// MAC, or [`WireError::MacFailure`].
pub fn seal<M: Mac + ?Sized>(frame: &mut [u8], mac: &M) -> Result<(), WireError> {
    if frame.len() < HEADER_LEN.saturating_add(MAC_LEN) {
        return Err(WireError::BufferTooSmall);
    }
    let (signed, tag) = frame
        .split_last_chunk_mut::<MAC_LEN>()
        .ok_or(WireError::BufferTooSmall)?;
    mac.compute(signed, tag)
}

/// The sending side's sequence counter for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCounter {
    next: Option<u64>,
}

impl SendCounter {
    /// A counter whose first value is `first` (e.g. 1, or a value
    /// persisted from before a reconnect).
    pub const fn new(first: u64) -> SendCounter {
        SendCounter { next: Some(first) }
    }

    /// The next sequence number to send.
    ///
    /// # Errors
    ///
    /// [`WireError::CounterExhausted`] after `u64::MAX` has been handed
    /// out; the key must be rotated.
    pub fn next_seq(&mut self) -> Result<u64, WireError> {
        let seq = self.next.ok_or(WireError::CounterExhausted)?;
        self.next = seq.checked_add(1);
        Ok(seq)
    }

    /// The value [`SendCounter::next_seq`] will return, if any.
    pub const fn peek(&self) -> Option<u64> {
        self.next
    }
}

/// Rejects replayed frames: accepts only strictly increasing sequence
/// numbers, one guard per direction of each connection (and kept across
/// reconnects for as long as the key is).
///
/// Call [`ReplayGuard::accept`] only after the MAC has been verified, or a
/// forged frame could push the window forward and block real ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayGuard {
    last: Option<u64>,
}

impl ReplayGuard {
    /// A guard that accepts any first sequence number.
    pub const fn new() -> ReplayGuard {
        ReplayGuard { last: None }
    }

    /// A guard that has already accepted `last`.
    pub const fn after(last: u64) -> ReplayGuard {
        ReplayGuard { last: Some(last) }
    }

    /// The last sequence number accepted, if any.
    pub const fn last(&self) -> Option<u64> {
        self.last
    }

    /// Whether `seq` would be accepted, without recording it.
    ///
    /// # Errors
    ///
    /// [`WireError::Replay`] if `seq` is not above the last accepted.
    pub fn check(&self, seq: u64) -> Result<(), WireError> {
        match self.last {
            Some(last) if seq <= last => Err(WireError::Replay),
            _ => Ok(()),
        }
    }

    /// Accepts `seq` if it is above every sequence number accepted so far.
    ///
    /// # Errors
    ///
    /// [`WireError::Replay`], and the guard is unchanged.
    pub fn accept(&mut self, seq: u64) -> Result<(), WireError> {
        self.check(seq)?;
        self.last = Some(seq);
        Ok(())
    }
}

/// Reassembles frames from a TCP byte stream in a buffer the caller owns
/// (at least [`MAX_FRAME_LEN`] bytes to take any frame).
///
/// Receive into [`FrameReader::spare`] and [`FrameReader::commit`] the
/// count (or [`FrameReader::push`] bytes), then take frames with
/// [`FrameReader::next_verified`] until it returns `Ok(None)`.
#[derive(Debug)]
pub struct FrameReader<'b> {
    buf: &'b mut [u8],
    start: usize,
    end: usize,
}

impl<'b> FrameReader<'b> {
    /// A reader over `buf`, initially empty.
    pub fn new(buf: &'b mut [u8]) -> FrameReader<'b> {
        FrameReader {
            buf,
            start: 0,
            end: 0,
        }
    }

    /// A reader over `buf` whose first `buffered` bytes were received
    /// earlier (what [`FrameReader::suspend`] returned): a connection's
    /// reader between receives, its buffer kept by the caller.
    pub fn resume(buf: &'b mut [u8], buffered: usize) -> FrameReader<'b> {
        let end = buffered.min(buf.len());
        FrameReader { buf, start: 0, end }
    }

    /// Ends this use of the buffer: the bytes not yet taken as frames
    /// move to its front, and their count is returned for
    /// [`FrameReader::resume`].
    pub fn suspend(mut self) -> usize {
        self.compact();
        self.end
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Moves the buffered bytes to the front of the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start <= self.end && self.end <= self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end = self.end.saturating_sub(self.start);
        } else {
            // Unreachable by the invariants; drop everything rather than panic.
            self.end = 0;
        }
        self.start = 0;
    }

    /// The free space after the buffered bytes, to receive into; follow
    /// with [`FrameReader::commit`].
    pub fn spare(&mut self) -> &mut [u8] {
        self.compact();
        self.buf.get_mut(self.end..).unwrap_or(&mut [])
    }

    /// Records that `n` bytes were written into [`FrameReader::spare`].
    ///
    /// # Errors
    ///
    /// [`WireError::BufferTooSmall`] if `n` exceeds the spare space
    /// (nothing is recorded).
    pub fn commit(&mut self, n: usize) -> Result<(), WireError> {
        let end = self.end.checked_add(n).ok_or(WireError::BufferTooSmall)?;
        if end > self.buf.len() {
            return Err(WireError::BufferTooSmall);
        }
        self.end = end;
        Ok(())
    }

    /// Copies as much of `data` as fits and returns how much that was.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = data.len().min(spare.len());
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
            self.end = self.end.saturating_add(n);
            n
        } else {
            0
        }
    }

    /// The next frame, after checking its MAC; `Ok(None)` until a whole
    /// frame has arrived.
    ///
    /// # Errors
    ///
    /// As [`decode_verified`], except that an incomplete frame is
    /// `Ok(None)`, or [`WireError::BufferTooSmall`] if it can never fit.
    /// After an error the stream is out of step: close the connection.
    pub fn next_verified<M: Mac + ?Sized>(
        &mut self,
        mac: &M,
    ) -> Result<Option<Frame<'_>>, WireError> {
        self.next_with(|b| decode_verified(b, mac))
    }

    /// The next frame without checking its MAC (tests only; see
    /// [`decode`]).
    ///
    /// # Errors
    ///
    /// As [`FrameReader::next_verified`], without the MAC errors.
    pub fn next_unverified(&mut self) -> Result<Option<Frame<'_>>, WireError> {
        self.next_with(decode)
    }

    fn next_with<'s, F>(&'s mut self, decode_fn: F) -> Result<Option<Frame<'s>>, WireError>
    where
        F: FnOnce(&'s [u8]) -> Result<(Frame<'s>, usize), WireError>,
    {
        let cap = self.buf.len();
        let data: &'s [u8] = self.buf.get(self.start..self.end).unwrap_or(&[]);
        match decode_fn(data) {
            Ok((frame, used)) => {
                self.start = self.start.saturating_add(used).min(self.end);
                Ok(Some(frame))
            }
            Err(WireError::Incomplete { needed }) if needed > cap => Err(WireError::BufferTooSmall),
            Err(WireError::Incomplete { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Appends to the output frame; the caller has sized the buffer.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    /// `src`'s length (4) and `src` (client bytes).
    fn request_bytes(&mut self, src: &[u8]) -> Result<(), WireError> {
        self.u32(u32::try_from(src.len()).map_err(|_| WireError::TooLong)?)?;
        self.bytes(src)
    }

    fn bytes(&mut self, src: &[u8]) -> Result<(), WireError> {
        let end = self
            .pos
            .checked_add(src.len())
            .ok_or(WireError::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(WireError::BufferTooSmall)?;
        dst.copy_from_slice(src);
        self.pos = end;
        Ok(())
    }

    fn u8(&mut self, v: u8) -> Result<(), WireError> {
        self.bytes(&[v])
    }

    fn u16(&mut self, v: u16) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }

    fn u32(&mut self, v: u32) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }

    fn u64(&mut self, v: u64) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }
}

/// Consumes a payload from the front.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A length (4) and that many client bytes, at most [`MAX_REQUEST`].
    fn request_bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.u32()?).map_err(|_| WireError::TooLong)?;
        if len > MAX_REQUEST {
            return Err(WireError::TooLong);
        }
        self.bytes(len)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or(WireError::Truncated)?;
        self.buf = rest;
        Ok(*head)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let head = self.buf.get(..n).ok_or(WireError::Truncated)?;
        self.buf = self.buf.get(n..).unwrap_or(&[]);
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    /// Toy MAC: a keyed byte sum spread over the tag.
    struct Toy(u8);

    impl Mac for Toy {
        fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
            let mut acc = self.0;
            *tag = [0; MAC_LEN];
            for (i, b) in data.iter().enumerate() {
                acc = acc.wrapping_mul(31).wrapping_add(*b);
                tag[i % MAC_LEN] ^= acc;
            }
            tag[0] ^= self.0;
            Ok(())
        }
    }

    struct Broken;

    impl Mac for Broken {
        fn compute(&self, _: &[u8], _: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
            Err(WireError::MacFailure)
        }
    }

    const OPTS: SynOptions = SynOptions {
        mss: 1460,
        wscale: Some(7),
        sack_permitted: true,
        timestamps: true,
    };

    const REQUEST: &[u8] = b"GET /img/a.jpg HTTP/1.1\r\nHost: example.com\r\n\r\n";

    fn sample_req() -> HandoffReq<'static> {
        HandoffReq {
            fe_flow_id: 0xdead_beef,
            client_addr: 0xc0a8_0068,
            client_port: 51234,
            vip_addr: 0x0a00_0001,
            vip_port: 80,
            isn_client: 0x6a2c_1b3d,
            client_opts: OPTS,
            client_window: 64240,
            isn_fe: 0x1122_3344,
            fe_opts: SynOptions {
                wscale: None,
                sack_permitted: false,
                ..OPTS
            },
            fe_tsval_last: 7,
            client_tsval_last: 8,
            client_window_last: 502,
            request_seq: 0x6a2c_1b3e,
            fin: true,
            request: REQUEST,
        }
    }

    fn samples() -> Vec<(u16, Message<'static>)> {
        vec![
            (
                3,
                Message::Hello(Hello {
                    node_id: 3,
                    capabilities: Capabilities::SACK.union(Capabilities::TIMESTAMPS),
                    generation: 42,
                    services: Services::of(&[
                        Endpoint::new(0x0a63_0064, 80),
                        Endpoint::new(0x0a63_0064, 443),
                    ]),
                }),
            ),
            (1, Message::HandoffReq(sample_req())),
            (
                2,
                Message::HandoffAck(HandoffAck {
                    flow: SAMPLE_FLOW,
                    be_node: 2,
                    isn_be: 0x9988_7766,
                    be_opts: OPTS,
                    be_tsval: 0xffff_ffff,
                }),
            ),
            (
                2,
                Message::HandoffNack(HandoffNack {
                    flow: SAMPLE_FLOW,
                    reason: NackReason::Overloaded,
                }),
            ),
            (
                2,
                Message::Terminate(Terminate {
                    flow: SAMPLE_FLOW,
                    reason: TerminateReason::Rst,
                }),
            ),
            (
                4,
                Message::Heartbeat(Heartbeat {
                    node_id: 4,
                    active_flows: 100,
                    load: 1500,
                    timestamp_ms: u64::MAX,
                    listeners: SAMPLE_LISTENERS,
                }),
            ),
            (2, Message::FlowAnnounce(sample_announce())),
            (5, Message::FlowQuery(FlowQuery { vip: 0x0a63_0064 })),
            (
                1,
                Message::MoveRelease(MoveRelease {
                    flow: SAMPLE_FLOW,
                    seq: 0xffff_fff0,
                    requests: 3,
                    ack: 0x7fff_ffff,
                }),
            ),
            (
                2,
                Message::MoveReleased(MoveReleased {
                    flow: SAMPLE_FLOW,
                    seq: 7,
                    server_nxt: 0x8000_0001,
                }),
            ),
            (
                2,
                Message::MoveKept(MoveKept {
                    flow: SAMPLE_FLOW,
                    seq: 7,
                    reason: KeepReason::Unframed,
                }),
            ),
            (
                1,
                Message::HandoffMore(HandoffMore {
                    flow: SAMPLE_FLOW,
                    seq: 0xffff_fff0,
                    bytes: b"POST body bytes",
                }),
            ),
        ]
    }

    fn sample_announce() -> FlowAnnounce {
        FlowAnnounce {
            flow: SAMPLE_FLOW,
            isn_client: 0x0102_0304,
            client_opts: OPTS,
            fe_opts: OPTS,
            be_opts: SynOptions { mss: 1460, ..OPTS },
            isn_fe: 0xdead_beef,
            isn_be: 0x9988_7766,
            ts_delta: 0xffff_fff0,
            client_nxt: 0x0102_0400,
            client_ack: 0xdead_c000,
            client_edge: 0xdeae_0000,
            client_window: 502,
            client_tsval: 77,
            client_fin: true,
        }
    }

    #[test]
    fn flow_announce_flags_are_checked() {
        let msg = Message::FlowAnnounce(sample_announce());
        let mut buf = [0u8; 256];
        let n = msg.encode(2, 1, 9, &mut buf).unwrap();
        assert_eq!(n, HEADER_LEN + FlowAnnounce::LEN + MAC_LEN);
        let flags = HEADER_LEN + FlowAnnounce::LEN - 1;
        assert_eq!(buf[flags], 1);
        buf[flags] = 2;
        assert_eq!(decode(&buf[..n]).err(), Some(WireError::BadReserved));
    }

    /// One listener: 10.99.0.100:80, listening, 3 queued of 511, the
    /// oldest waiting 40 ms.
    const SAMPLE_LISTENERS: ListenerBytes<'static> = ListenerBytes(&{
        let mut b = [0u8; ListenerBytes::LEN];
        let entry = [
            1, 0x0a, 0x63, 0x00, 0x64, 0, 80, 1, 0, 0, 0, 3, 0, 0, 0x01, 0xff, 0, 0, 0, 40,
        ];
        let mut i = 0;
        while i < entry.len() {
            b[i] = entry[i];
            i += 1;
        }
        b
    });

    #[test]
    fn heartbeat_listeners_round_trip_and_are_checked() {
        let web = Listener {
            service: Endpoint::new(0x0a63_0064, 80),
            listening: true,
            queued: 3,
            limit: 511,
            oldest_ms: 40,
        };
        assert_eq!(SAMPLE_LISTENERS.listeners(), Listeners::of([web]));
        let mut buf = [0u8; ListenerBytes::LEN];
        assert_eq!(
            ListenerBytes::write(&Listeners::of([web]), &mut buf),
            SAMPLE_LISTENERS
        );
        let bad = |f: &dyn Fn(&mut [u8; ListenerBytes::LEN])| {
            let mut b = [0u8; ListenerBytes::LEN];
            b.copy_from_slice(SAMPLE_LISTENERS.0);
            f(&mut b);
            ListenerBytes::read(&b).err()
        };
        assert_eq!(bad(&|b| b[0] = 9), Some(WireError::InvalidValue));
        assert_eq!(bad(&|b| b[7] = 3), Some(WireError::BadReserved));
        assert_eq!(bad(&|b| b[20 + 6] = 1), Some(WireError::BadReserved));
        assert_eq!(bad(&|b| b[0] = 2), None, "a second entry, all zero");
    }

    const SAMPLE_FLOW: FlowRef = FlowRef {
        fe_flow_id: 9,
        client_addr: 1,
        client_port: 2,
        vip_addr: 3,
        vip_port: 4,
    };

    fn sealed(sender: u16, seq: u64, msg: &Message<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_FRAME_LEN];
        // Every sample to node 77.
        let n = msg
            .encode_sealed(sender, 77, seq, &Toy(1), &mut buf)
            .unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn every_type_round_trips() {
        for (i, (sender, msg)) in samples().iter().enumerate() {
            let seq = 1000 + i as u64;
            let buf = sealed(*sender, seq, msg);
            assert_eq!(buf.len(), msg.frame_len());
            assert_eq!(buf.len(), HEADER_LEN + msg.payload_len() + MAC_LEN);
            let (frame, used) = decode_verified(&buf, &Toy(1)).unwrap();
            assert_eq!(used, buf.len());
            assert_eq!(frame.message, *msg);
            assert_eq!(
                frame.header,
                Header {
                    msg_type: msg.msg_type(),
                    payload_len: msg.payload_len() as u32,
                    seq,
                    sender: *sender,
                    recipient: 77,
                }
            );
            assert_eq!(frame.signed, &buf[..buf.len() - MAC_LEN]);
            assert_eq!(&frame.mac[..], &buf[buf.len() - MAC_LEN..]);
            frame.verify(&Toy(1)).unwrap();
            assert_eq!(frame.verify(&Toy(2)), Err(WireError::BadMac));
            // Unverified decode sees the same.
            assert_eq!(decode(&buf).unwrap(), (frame, used));
        }
    }

    #[test]
    fn header_layout_is_as_documented() {
        let msg = Message::HandoffNack(HandoffNack {
            flow: FlowRef {
                fe_flow_id: 0x0102_0304,
                client_addr: 0x0a00_0001,
                client_port: 0x1234,
                vip_addr: 0x0a00_0064,
                vip_port: 80,
            },
            reason: NackReason::Refused,
        });
        let mut buf = [0xaau8; 96];
        let n = msg
            .encode(0x0a0b, 0x0c0d, 0x1122_3344_5566_7788, &mut buf)
            .unwrap();
        assert_eq!(n, HEADER_LEN + 17 + MAC_LEN);
        assert_eq!(
            &buf[..37],
            &[
                0xb7, 0xc9, 7, 4, 0, 0, 0, 17, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                0x0a, 0x0b, 0x0c, 0x0d, // header
                1, 2, 3, 4, 0x0a, 0, 0, 1, 0x12, 0x34, 0x0a, 0, 0, 0x64, 0, 80, // flow
                2   // reason
            ]
        );
        // The MAC is reserved as zeros; bytes after the frame are untouched.
        assert!(buf[37..n].iter().all(|&b| b == 0));
        assert!(buf[n..].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn handoff_req_payload_layout() {
        let (sender, msg) = samples()[1];
        let buf = sealed(sender, 5, &msg);
        let p = &buf[HEADER_LEN..buf.len() - MAC_LEN];
        assert_eq!(p.len(), HandoffReq::FIXED_LEN + REQUEST.len());
        assert_eq!(&p[..4], &[0xde, 0xad, 0xbe, 0xef]);
        // Client options: MSS 1460, all flags, wscale 7.
        assert_eq!(&p[20..24], &[0x05, 0xb4, 0b111, 7]);
        // FE options: timestamps only.
        assert_eq!(&p[30..34], &[0x05, 0xb4, 0b100, 0]);
        // fin flag, request length, request.
        assert_eq!(p[48], 1);
        assert_eq!(&p[49..53], &(REQUEST.len() as u32).to_be_bytes());
        assert_eq!(&p[53..], REQUEST);
    }

    #[test]
    fn every_truncation_is_incomplete() {
        for (sender, msg) in samples() {
            let buf = sealed(sender, 1, &msg);
            for n in 0..buf.len() {
                let want = if n < OFF_LEN + 4 {
                    HEADER_LEN
                } else {
                    buf.len()
                };
                assert_eq!(
                    decode(&buf[..n]),
                    Err(WireError::Incomplete { needed: want }),
                    "{:?} cut at {n}",
                    msg.msg_type()
                );
                assert_eq!(
                    decode_verified(&buf[..n], &Toy(1)).err(),
                    Some(WireError::Incomplete { needed: want })
                );
            }
        }
    }

    #[test]
    fn trailing_stream_bytes_are_left_alone() {
        let (s, m) = samples()[0];
        let mut buf = sealed(s, 1, &m);
        let n = buf.len();
        buf.extend_from_slice(&sealed(s, 2, &m));
        let (f, used) = decode_verified(&buf, &Toy(1)).unwrap();
        assert_eq!((used, f.header.seq), (n, 1));
        let (f, _) = decode_verified(&buf[used..], &Toy(1)).unwrap();
        assert_eq!(f.header.seq, 2);
    }

    #[test]
    fn corrupted_header_fields() {
        let (s, m) = samples()[3];
        let good = sealed(s, 1, &m);
        let bad = |off: usize, v: u8| {
            let mut b = good.clone();
            b[off] = v;
            b
        };
        assert_eq!(decode(&bad(0, 0xb6)), Err(WireError::BadMagic));
        assert_eq!(decode(&bad(1, 0)), Err(WireError::BadMagic));
        // Detected from the first wrong byte on.
        assert_eq!(decode(&[0x47]), Err(WireError::BadMagic));
        assert_eq!(decode(&[0xb7, 0xc9, 2]), Err(WireError::BadVersion));
        assert_eq!(decode(&bad(2, 0)), Err(WireError::BadVersion));
        for t in [0u8, 15, 0x80, 0xff] {
            assert_eq!(decode(&bad(3, t)), Err(WireError::UnknownType), "{t}");
        }
        // The recipient is any id; the MAC covers it.
        assert_eq!(decode(&bad(18, 1)).unwrap().0.header.recipient, 0x014d);
        assert_eq!(
            decode_verified(&bad(19, 0x80), &Toy(1)).err(),
            Some(WireError::BadMac)
        );
        // Length: oversize, longer than the buffer, shorter than the message.
        assert_eq!(decode(&bad(4, 1)), Err(WireError::TooLong));
        let mut b = good.clone();
        b[4..8].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_be_bytes());
        assert_eq!(decode(&b[..8]), Err(WireError::TooLong));
        b[4..8].copy_from_slice(&(MAX_PAYLOAD as u32).to_be_bytes());
        assert_eq!(
            decode(&b),
            Err(WireError::Incomplete {
                needed: MAX_FRAME_LEN
            })
        );
        assert_eq!(decode(&bad(7, 4)), Err(WireError::Truncated));
        assert_eq!(decode(&bad(7, 0)), Err(WireError::Truncated));
        // A longer length takes the MAC's first byte into the payload.
        assert_eq!(
            decode(&bad(7, 18)),
            Err(WireError::Incomplete {
                needed: good.len() + 1
            })
        );
        let mut longer = bad(7, 18);
        longer.push(0);
        assert_eq!(decode(&longer), Err(WireError::TrailingBytes));
        // Any flipped bit fails the MAC (sender and seq are covered too).
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x01;
            assert!(decode_verified(&b, &Toy(1)).is_err(), "{i}");
        }
        let mut b = good.clone();
        b[17] ^= 1;
        assert_eq!(decode_verified(&b, &Toy(1)).err(), Some(WireError::BadMac));
    }

    #[test]
    fn invalid_payload_values() {
        // NACK reason, TERMINATE reason.
        for (idx, off) in [
            (3usize, HEADER_LEN + FlowRef::LEN),
            (4, HEADER_LEN + FlowRef::LEN),
        ] {
            let (s, m) = samples()[idx];
            let good = sealed(s, 1, &m);
            let past = if idx == 3 { 7 } else { 5 };
            for v in [0u8, past, 0xff] {
                let mut b = good.clone();
                b[off] = v;
                assert_eq!(decode(&b), Err(WireError::InvalidValue), "{idx} {v}");
            }
        }
        // HELLO: more services than a configuration holds; a slot past
        // the count that is not zero.
        let (s, m) = samples()[0];
        let good = sealed(s, 1, &m);
        let count = HEADER_LEN + 10;
        assert_eq!(good[count], 2);
        let mut b = good.clone();
        b[count] = MAX_SERVICES as u8 + 1;
        assert_eq!(decode(&b), Err(WireError::InvalidValue));
        let mut b = good.clone();
        b[count + 1 + 2 * 6 + 5] = 1;
        assert_eq!(decode(&b), Err(WireError::BadReserved));
        let mut b = good.clone();
        b[count] = 3;
        // A zero slot counted in is a service (0.0.0.0:0, fronted by no one).
        let services = match decode(&b) {
            Ok((
                Frame {
                    message: Message::Hello(h),
                    ..
                },
                _,
            )) => h.services.iter().count(),
            _ => 0,
        };
        assert_eq!(services, 3);
        // Options in a HANDOFF_ACK: wscale above 14, scale without its bit,
        // reserved flag bits.
        let (s, m) = samples()[2];
        let good = sealed(s, 1, &m);
        let opt = HEADER_LEN + FlowRef::LEN + 6;
        let mut b = good.clone();
        b[opt + 3] = 15;
        assert_eq!(decode(&b), Err(WireError::InvalidValue));
        b[opt + 2] = 0b110;
        b[opt + 3] = 1;
        assert_eq!(decode(&b), Err(WireError::InvalidValue));
        b[opt + 2] = 0b1111;
        assert_eq!(decode(&b), Err(WireError::BadReserved));
        // HANDOFF_REQ flag bits and request length.
        let (s, m) = samples()[1];
        let good = sealed(s, 1, &m);
        let mut b = good.clone();
        b[HEADER_LEN + 48] = 2;
        assert_eq!(decode(&b), Err(WireError::BadReserved));
        let mut b = good.clone();
        b[HEADER_LEN + 52] += 1;
        assert_eq!(decode(&b), Err(WireError::Truncated));
        let mut b = good.clone();
        b[HEADER_LEN + 52] -= 1;
        assert_eq!(decode(&b), Err(WireError::TrailingBytes));
        let mut b = good.clone();
        b[HEADER_LEN + 49..HEADER_LEN + 53]
            .copy_from_slice(&(MAX_REQUEST as u32 + 1).to_be_bytes());
        assert_eq!(decode(&b), Err(WireError::TooLong));
        // Node ids must match the sender.
        let (_, m) = samples()[5];
        let mut b = sealed(4, 1, &m);
        b[17] = 5;
        assert_eq!(decode(&b), Err(WireError::SenderMismatch));
    }

    #[test]
    fn encode_refuses_what_decode_would() {
        let mut buf = vec![0u8; MAX_FRAME_LEN + 10];
        let big = vec![0u8; MAX_REQUEST + 1];
        let mut req = sample_req();
        req.request = &big;
        assert_eq!(
            Message::HandoffReq(req).encode(1, 2, 1, &mut buf),
            Err(WireError::TooLong)
        );
        req.request = &big[..MAX_REQUEST];
        let n = Message::HandoffReq(req).encode(1, 2, 1, &mut buf).unwrap();
        assert!(n <= MAX_FRAME_LEN);
        assert!(decode(&buf[..n]).is_ok());
        req.client_opts.wscale = Some(15);
        assert_eq!(
            Message::HandoffReq(req).encode(1, 2, 1, &mut buf),
            Err(WireError::InvalidValue)
        );
        let (_, hello) = samples()[0];
        assert_eq!(
            hello.encode(9, 2, 1, &mut buf),
            Err(WireError::SenderMismatch)
        );
        // Too small a buffer: error, nothing written.
        let mut small = [0x55u8; 40];
        assert_eq!(
            hello.encode(3, 2, 1, &mut small),
            Err(WireError::BufferTooSmall)
        );
        assert!(small.iter().all(|&b| b == 0x55));
        assert_eq!(
            hello.encode_sealed(3, 2, 1, &Broken, &mut buf),
            Err(WireError::MacFailure)
        );
        assert_eq!(
            seal(&mut [0u8; 51], &Toy(1)),
            Err(WireError::BufferTooSmall)
        );
    }

    #[test]
    fn replay_guard_accepts_strictly_increasing() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.last(), None);
        g.accept(0).unwrap();
        assert_eq!(g.accept(0), Err(WireError::Replay));
        g.accept(5).unwrap();
        assert_eq!(g.check(5), Err(WireError::Replay));
        assert_eq!(g.accept(3), Err(WireError::Replay));
        assert_eq!(g.last(), Some(5));
        g.check(6).unwrap();
        assert_eq!(g.last(), Some(5));
        g.accept(u64::MAX).unwrap();
        assert_eq!(g.accept(u64::MAX), Err(WireError::Replay));
        assert_eq!(g.accept(6), Err(WireError::Replay));
        let mut g = ReplayGuard::after(10);
        assert_eq!(g.accept(10), Err(WireError::Replay));
        g.accept(11).unwrap();
    }

    #[test]
    fn send_counter_runs_out() {
        let mut c = SendCounter::new(u64::MAX - 1);
        assert_eq!(c.next_seq(), Ok(u64::MAX - 1));
        assert_eq!(c.peek(), Some(u64::MAX));
        assert_eq!(c.next_seq(), Ok(u64::MAX));
        assert_eq!(c.next_seq(), Err(WireError::CounterExhausted));
        assert_eq!(c.peek(), None);
    }

    #[test]
    fn frame_reader_reassembles_a_stream() {
        let mut stream = Vec::new();
        for (i, (s, m)) in samples().iter().enumerate() {
            stream.extend_from_slice(&sealed(*s, i as u64 + 1, m));
        }
        for chunk in [1usize, 3, 7, 64, 1000] {
            let mut storage = vec![0u8; MAX_FRAME_LEN];
            let mut r = FrameReader::new(&mut storage);
            let mut got = Vec::new();
            let mut guard = ReplayGuard::new();
            for piece in stream.chunks(chunk) {
                let mut rest = piece;
                while !rest.is_empty() {
                    let n = r.push(rest);
                    rest = &rest[n..];
                    while let Some(f) = r.next_verified(&Toy(1)).unwrap() {
                        guard.accept(f.header.seq).unwrap();
                        got.push(f.message.msg_type());
                    }
                }
            }
            assert_eq!(r.buffered(), 0);
            let want: Vec<_> = samples().iter().map(|(_, m)| m.msg_type()).collect();
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn frame_reader_spare_commit_and_errors() {
        let (s, m) = samples()[1];
        let frame = sealed(s, 1, &m);
        let mut storage = vec![0u8; frame.len() + 4];
        let mut r = FrameReader::new(&mut storage);
        let spare = r.spare();
        assert_eq!(spare.len(), frame.len() + 4);
        spare[..10].copy_from_slice(&frame[..10]);
        r.commit(10).unwrap();
        assert_eq!(r.next_unverified(), Ok(None));
        let spare = r.spare();
        spare[..frame.len() - 10].copy_from_slice(&frame[10..]);
        assert_eq!(r.commit(usize::MAX), Err(WireError::BufferTooSmall));
        assert_eq!(r.commit(frame.len() + 1), Err(WireError::BufferTooSmall));
        r.commit(frame.len() - 10).unwrap();
        assert_eq!(r.next_unverified().unwrap().unwrap().message, m);
        assert_eq!(r.buffered(), 0);
        // A frame that can never fit.
        let mut tiny = [0u8; 64];
        let mut r = FrameReader::new(&mut tiny);
        r.push(&frame[..30]);
        assert_eq!(r.next_unverified(), Err(WireError::BufferTooSmall));
        // A bad MAC and garbage are errors.
        let mut storage = vec![0u8; MAX_FRAME_LEN];
        let mut r = FrameReader::new(&mut storage);
        r.push(&frame);
        assert_eq!(r.next_verified(&Toy(9)), Err(WireError::BadMac));
        let mut r = FrameReader::new(&mut storage);
        r.push(b"GET / HTTP/1.1\r\n");
        assert_eq!(r.next_verified(&Toy(1)), Err(WireError::BadMagic));
    }

    #[test]
    fn syn_options_from_parsed_syn() {
        use super::super::tcp_options::TcpOptions;
        let mut o = TcpOptions {
            mss: Some(1400),
            wscale: Some(9),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        assert_eq!(
            SynOptions::from_tcp_options(&o),
            SynOptions {
                mss: 1400,
                wscale: Some(9),
                sack_permitted: true,
                timestamps: true
            }
        );
        o.mss = None;
        o.wscale = Some(200);
        o.timestamps = None;
        let s = SynOptions::from_tcp_options(&o);
        assert_eq!((s.mss, s.wscale, s.timestamps), (536, Some(14), false));
    }

    #[test]
    fn errors_display() {
        assert_eq!(WireError::BadMac.to_string(), "bad MAC");
        assert_eq!(
            WireError::Incomplete { needed: 20 }.to_string(),
            "incomplete frame: need 20 bytes"
        );
        for t in 0..=255u8 {
            if let Some(m) = MsgType::from_u8(t) {
                assert_eq!(m as u8, t);
            }
            if let Some(r) = NackReason::from_u8(t) {
                assert_eq!(r as u8, t);
            }
            if let Some(r) = TerminateReason::from_u8(t) {
                assert_eq!(r as u8, t);
            }
        }
        assert!(Capabilities(0b1011).contains(Capabilities::BACKEND));
        assert!(!Capabilities(0b0011).contains(Capabilities::WSCALE));
    }
}
