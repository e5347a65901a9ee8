//! Property tests of the control-channel codec: every message round-trips
//! with arbitrary field values, any bytes decode without panicking, every
//! truncation is `Incomplete`, any single-byte change fails the MAC, and
//! the stream reader reassembles any chunking.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::health::{Listener, Listeners};
use btcp_core::wire::{
    self, Capabilities, FlowRef, FrameReader, HandoffAck, HandoffNack, HandoffReq, Heartbeat,
    Hello, ListenerBytes, Mac, Message, MsgType, NackReason, ReplayGuard, SendCounter, Services,
    SynOptions, Terminate, TerminateReason, WireError, HEADER_LEN, MAC_LEN, MAGIC, MAX_FRAME_LEN,
    MAX_REQUEST, VERSION,
};
use btcp_core::{config::MAX_SERVICES, flow::Endpoint};
use proptest::prelude::*;

/// A toy MAC: FNV-1a 64 under four keyed seeds. Each step of FNV-1a is a
/// bijection of the state for a fixed byte and injective in the byte for
/// a fixed state, so any single changed byte changes every output word.
struct Fnv(u64);

impl Mac for Fnv {
    fn compute(&self, data: &[u8], tag: &mut [u8; MAC_LEN]) -> Result<(), WireError> {
        for (k, out) in tag.chunks_exact_mut(8).enumerate() {
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.0.wrapping_add(k as u64);
            for &b in data {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            out.copy_from_slice(&h.to_be_bytes());
        }
        Ok(())
    }
}

const KEY: Fnv = Fnv(0x5eed);

/// A message with owned request bytes.
#[derive(Debug, Clone)]
enum Owned {
    Hello(Hello),
    Req(HandoffReq<'static>, Vec<u8>),
    Ack(HandoffAck),
    Nack(HandoffNack),
    Term(Terminate),
    /// With its listeners' bytes.
    Beat(Heartbeat<'static>, Vec<u8>),
}

impl Owned {
    /// The message as sent by `sender` (node ids set to it).
    fn message(&self, sender: u16) -> Message<'_> {
        match self {
            Owned::Hello(h) => Message::Hello(Hello {
                node_id: sender,
                ..*h
            }),
            Owned::Req(r, bytes) => Message::HandoffReq(HandoffReq {
                request: bytes,
                ..*r
            }),
            Owned::Ack(a) => Message::HandoffAck(HandoffAck {
                be_node: sender,
                ..*a
            }),
            Owned::Nack(n) => Message::HandoffNack(*n),
            Owned::Term(t) => Message::Terminate(*t),
            Owned::Beat(h, listeners) => Message::Heartbeat(Heartbeat {
                node_id: sender,
                listeners: ListenerBytes::new(listeners).unwrap(),
                ..*h
            }),
        }
    }
}

fn syn_options() -> impl Strategy<Value = SynOptions> {
    (
        any::<u16>(),
        prop::option::of(0u8..=14),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mss, wscale, sack_permitted, timestamps)| SynOptions {
            mss,
            wscale,
            sack_permitted,
            timestamps,
        })
}

fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..600),
        1 => prop::collection::vec(any::<u8>(), MAX_REQUEST - 8..=MAX_REQUEST),
    ]
}

fn handoff_req() -> impl Strategy<Value = Owned> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            syn_options(),
            any::<u16>(),
        ),
        (
            any::<u32>(),
            syn_options(),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            any::<bool>(),
        ),
        request_bytes(),
    )
        .prop_map(|(a, b, bytes)| {
            let req = HandoffReq {
                fe_flow_id: a.0,
                client_addr: a.1,
                client_port: a.2,
                vip_addr: a.3,
                vip_port: a.4,
                isn_client: a.5,
                client_opts: a.6,
                client_window: a.7,
                isn_fe: b.0,
                fe_opts: b.1,
                fe_tsval_last: b.2,
                client_tsval_last: b.3,
                client_window_last: b.4,
                request_seq: b.5,
                fin: b.6,
                request: &[],
            };
            Owned::Req(req, bytes)
        })
}

fn flow_ref() -> impl Strategy<Value = FlowRef> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<u16>(),
    )
        .prop_map(
            |(fe_flow_id, client_addr, client_port, vip_addr, vip_port)| FlowRef {
                fe_flow_id,
                client_addr,
                client_port,
                vip_addr,
                vip_port,
            },
        )
}

fn nack_reason() -> impl Strategy<Value = NackReason> {
    (1u8..=6).prop_map(|v| NackReason::from_u8(v).unwrap())
}

fn terminate_reason() -> impl Strategy<Value = TerminateReason> {
    (1u8..=3).prop_map(|v| TerminateReason::from_u8(v).unwrap())
}

fn listener() -> impl Strategy<Value = Listener> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(a, p, listening, queued, limit, oldest_ms)| Listener {
            service: Endpoint::new(a, p),
            listening,
            queued,
            limit,
            oldest_ms,
        })
}

fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec((any::<u32>(), any::<u16>()), 0..=MAX_SERVICES)
        )
            .prop_map(|(c, generation, eps)| {
                let eps: Vec<Endpoint> =
                    eps.into_iter().map(|(a, p)| Endpoint::new(a, p)).collect();
                Owned::Hello(Hello {
                    node_id: 0,
                    capabilities: Capabilities(c),
                    generation,
                    services: Services::of(&eps),
                })
            }),
        handoff_req(),
        (flow_ref(), any::<u32>(), syn_options(), any::<u32>()).prop_map(
            |(flow, isn_be, be_opts, be_tsval)| Owned::Ack(HandoffAck {
                flow,
                be_node: 0,
                isn_be,
                be_opts,
                be_tsval,
            })
        ),
        (flow_ref(), nack_reason())
            .prop_map(|(flow, reason)| Owned::Nack(HandoffNack { flow, reason })),
        (flow_ref(), terminate_reason())
            .prop_map(|(flow, reason)| Owned::Term(Terminate { flow, reason })),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec(listener(), 0..=MAX_SERVICES)
        )
            .prop_map(|(active_flows, load, timestamp_ms, l)| {
                let mut buf = [0u8; ListenerBytes::LEN];
                ListenerBytes::write(&Listeners::of(l), &mut buf);
                let h = Heartbeat {
                    node_id: 0,
                    active_flows,
                    load,
                    timestamp_ms,
                    listeners: ListenerBytes::NONE,
                };
                Owned::Beat(h, buf.to_vec())
            }),
    ]
}

fn sealed(msg: &Message<'_>, sender: u16, seq: u64) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let n = msg.encode_sealed(sender, 1, seq, &KEY, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

proptest! {
    #[test]
    fn every_message_round_trips(
        o in owned(),
        sender in any::<u16>(),
        seq in any::<u64>(),
        trailing in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let msg = o.message(sender);
        let mut buf = sealed(&msg, sender, seq);
        let n = buf.len();
        prop_assert_eq!(n, msg.frame_len());
        prop_assert!(n <= MAX_FRAME_LEN);
        // The next frame's bytes (here: anything) do not disturb this one.
        buf.extend_from_slice(&trailing);
        let (frame, used) = wire::decode_verified(&buf, &KEY).unwrap();
        prop_assert_eq!(used, n);
        prop_assert_eq!(frame.message, msg);
        prop_assert_eq!(frame.header.msg_type, msg.msg_type());
        prop_assert_eq!(frame.header.sender, sender);
        prop_assert_eq!(frame.header.seq, seq);
        prop_assert_eq!(frame.header.payload_len as usize, msg.payload_len());
        prop_assert_eq!(frame.signed, &buf[..n - MAC_LEN]);
        prop_assert_eq!(wire::decode(&buf).unwrap(), (frame, used));
        prop_assert_eq!(wire::decode_verified(&buf, &Fnv(1)).err(), Some(WireError::BadMac));
    }

    #[test]
    fn every_truncation_is_incomplete(o in owned(), sender in any::<u16>(), seq in any::<u64>()) {
        let msg = o.message(sender);
        let buf = sealed(&msg, sender, seq);
        // Long requests: every cut in the header and around the payload
        // edges, and a sample in between.
        let cuts: Vec<usize> = (0..buf.len())
            .filter(|&n| n < 100 || n + 100 > buf.len() || n % 97 == 0)
            .collect();
        for n in cuts {
            let needed = if n < 8 { HEADER_LEN } else { buf.len() };
            prop_assert_eq!(
                wire::decode(&buf[..n]).err(),
                Some(WireError::Incomplete { needed }),
                "cut at {}", n
            );
        }
    }

    #[test]
    fn any_changed_byte_is_caught(
        o in owned(),
        sender in any::<u16>(),
        seq in any::<u64>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..,
    ) {
        let msg = o.message(sender);
        let mut buf = sealed(&msg, sender, seq);
        let i = at.index(buf.len());
        buf[i] ^= xor;
        // Never a panic; never accepted under the MAC.
        let _ = wire::decode(&buf);
        prop_assert!(wire::decode_verified(&buf, &KEY).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = wire::decode(&bytes);
        let _ = wire::decode_verified(&bytes, &KEY);
    }

    #[test]
    fn header_shaped_bytes_never_panic(
        ty in 0u8..=7,
        len in prop_oneof![0u32..80, any::<u32>()],
        rest in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        // A valid-looking header over random payloads reaches the payload
        // decoders.
        let mut buf = Vec::new();
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.push(VERSION);
        buf.push(ty);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&[0; 12]);
        buf.extend_from_slice(&rest);
        match wire::decode(&buf) {
            Ok((f, used)) => {
                prop_assert_eq!(used, HEADER_LEN + len as usize + MAC_LEN);
                prop_assert!(used <= buf.len());
                prop_assert_eq!(f.header.msg_type as u8, ty);
                // What decodes re-encodes to the same bytes (MAC aside).
                let mut again = vec![0u8; used];
                let n = f.message.encode(f.header.sender, f.header.recipient, f.header.seq, &mut again).unwrap();
                prop_assert_eq!(n, used);
                prop_assert_eq!(&again[..used - MAC_LEN], &buf[..used - MAC_LEN]);
            }
            Err(WireError::UnknownType) => prop_assert!(MsgType::from_u8(ty).is_none()),
            Err(_) => {}
        }
    }

    #[test]
    fn reader_reassembles_any_chunking(
        msgs in prop::collection::vec((owned(), any::<u16>()), 1..6),
        cuts in prop::collection::vec(1usize..3000, 1..20),
    ) {
        let mut stream = Vec::new();
        let mut counter = SendCounter::new(1);
        for (o, sender) in &msgs {
            stream.extend_from_slice(&sealed(&o.message(*sender), *sender, counter.next_seq().unwrap()));
        }
        let mut storage = vec![0u8; MAX_FRAME_LEN];
        let mut kept = 0;
        let mut guard = ReplayGuard::new();
        let mut got = 0usize;
        let mut pos = 0usize;
        let mut cut = cuts.iter().cycle();
        while pos < stream.len() {
            let end = (pos + cut.next().unwrap()).min(stream.len());
            // Receive through spare()/commit(), the reader resumed over the
            // connection's buffer for each receive, as the kernel shell does.
            let mut reader = FrameReader::resume(&mut storage, kept);
            let spare = reader.spare();
            let n = (end - pos).min(spare.len());
            spare[..n].copy_from_slice(&stream[pos..pos + n]);
            reader.commit(n).unwrap();
            pos += n;
            while let Some(f) = reader.next_verified(&KEY).unwrap() {
                guard.accept(f.header.seq).unwrap();
                let (o, sender) = &msgs[got];
                prop_assert_eq!(f.message, o.message(*sender));
                got += 1;
            }
            kept = reader.suspend();
        }
        prop_assert_eq!(got, msgs.len());
        prop_assert_eq!(kept, 0);
    }

    #[test]
    fn reader_survives_garbage(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..50,
    ) {
        let mut storage = vec![0u8; 256];
        let mut reader = FrameReader::new(&mut storage);
        for piece in bytes.chunks(chunk) {
            reader.push(piece);
            match reader.next_unverified() {
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    #[test]
    fn replay_guard_matches_model(seqs in prop::collection::vec(any::<u64>(), 0..50)) {
        let mut guard = ReplayGuard::new();
        let mut max: Option<u64> = None;
        for s in seqs {
            let fresh = max.map_or(true, |m| s > m);
            prop_assert_eq!(guard.check(s).is_ok(), fresh);
            prop_assert_eq!(guard.accept(s).is_ok(), fresh);
            if fresh {
                max = Some(s);
            }
            prop_assert_eq!(guard.last(), max);
        }
    }

    #[test]
    fn out_of_range_values_refuse_to_encode(
        ws in 15u8..,
        extra in 1usize..100,
        sender in any::<u16>(),
        other in any::<u16>(),
    ) {
        let mut buf = vec![0u8; MAX_FRAME_LEN + 200];
        let ack = HandoffAck {
            flow: FlowRef::default(),
            be_node: sender,
            isn_be: 2,
            be_opts: SynOptions { mss: 1460, wscale: Some(ws), sack_permitted: false, timestamps: false },
            be_tsval: 3,
        };
        prop_assert_eq!(Message::HandoffAck(ack).encode(sender, 1, 1, &mut buf), Err(WireError::InvalidValue));
        let big = vec![0u8; MAX_REQUEST + extra];
        let opts = SynOptions { mss: 1460, wscale: None, sack_permitted: true, timestamps: true };
        let req = HandoffReq {
            fe_flow_id: 1,
            client_addr: 2,
            client_port: 3,
            vip_addr: 4,
            vip_port: 80,
            isn_client: 5,
            client_opts: opts,
            client_window: 6,
            isn_fe: 7,
            fe_opts: opts,
            fe_tsval_last: 8,
            client_tsval_last: 9,
            client_window_last: 10,
            request_seq: 6,
            fin: false,
            request: &big,
        };
        prop_assert_eq!(Message::HandoffReq(req).encode(sender, 1, 1, &mut buf), Err(WireError::TooLong));
        if other != sender {
            let hb = Heartbeat { node_id: other, active_flows: 0, load: 0, timestamp_ms: 0, listeners: ListenerBytes::NONE };
            prop_assert_eq!(Message::Heartbeat(hb).encode(sender, 1, 1, &mut buf), Err(WireError::SenderMismatch));
        }
    }
}
