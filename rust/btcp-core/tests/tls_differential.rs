//! Differential test of `tls::parse_client_hello` against the `tls-parser`
//! crate (Rusticata's, used by Suricata).
//!
//! ClientHellos are generated with the fields clients send (session ids,
//! cipher suites, compression methods, extensions of the types browsers
//! use, GREASE included, in any order, and a `server_name` extension with
//! a DNS name, or none), then sometimes one fault from a pool (a second
//! host name, a name with a trailing dot or a bad byte, an extension type
//! twice, a session id over 32 bytes, an odd cipher suite length, a record
//! or hello length off by one, a truncation), and sometimes a byte changed
//! anywhere. On all of them:
//!
//! - **Whenever we read a hello, tls-parser reads it too**: one record
//!   holding one ClientHello whose extensions all parse (those whose
//!   contents it reads field by field, and we only frame, are framed by
//!   the test when a changed byte makes it refuse them), and the first
//!   `host_name` of its `server_name` list is our server name (none when
//!   it has none).
//! - **A hello without faults is read**, and its name is the one
//!   generated, whichever segment boundaries it arrives in (every prefix
//!   is `Incomplete`).
//!
//! tls-parser is more lenient, so the converse does not hold: it takes an
//! extension type twice, two host names, a host name that is not a DNS
//! name, a session id over 32 bytes, bytes left in a record; we refuse
//! each (`Malformed`), asserted in `rust/btcp-core/src/tls.rs`'s tests.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::tls::{parse_client_hello, HelloError};
use proptest::prelude::*;
use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_extension_sni_content, parse_tls_plaintext,
    SNIType, TlsExtension, TlsMessage, TlsMessageHandshake,
};

#[derive(Debug, Clone)]
enum Fault {
    None,
    SecondName,
    TrailingDot,
    BadByte,
    DuplicateExtension,
    LongSession,
    OddSuites,
    RecordLenOff(i8),
    HelloLenOff(i8),
    Truncate(usize),
}

#[derive(Debug, Clone)]
struct Hello {
    session: usize,
    suites: usize,
    compressions: usize,
    /// (type, data) of the extensions other than `server_name`.
    exts: Vec<(u16, Vec<u8>)>,
    name: Option<String>,
    /// Where `server_name` goes among the others.
    name_at: usize,
    fault: Fault,
    mutate: Option<(usize, u8)>,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::None),
        1 => Just(Fault::SecondName),
        1 => Just(Fault::TrailingDot),
        1 => Just(Fault::BadByte),
        1 => Just(Fault::DuplicateExtension),
        1 => Just(Fault::LongSession),
        1 => Just(Fault::OddSuites),
        1 => prop_oneof![Just(-1i8), Just(1)].prop_map(Fault::RecordLenOff),
        1 => prop_oneof![Just(-1i8), Just(1)].prop_map(Fault::HelloLenOff),
        1 => any::<usize>().prop_map(Fault::Truncate),
    ]
}

/// What a browser sends in the extensions tls-parser reads field by
/// field: supported_groups, ec_point_formats, signature_algorithms, ALPN
/// (h2, http/1.1), extended_master_secret, supported_versions (1.3, 1.2),
/// psk_key_exchange_modes. Other types (GREASE, ALPS, ECH,
/// compress_certificate) it keeps as bytes, and get random ones here.
fn typed_data(ty: u16) -> Option<Vec<u8>> {
    Some(match ty {
        10 => vec![0, 4, 0, 29, 0, 23],
        11 => vec![1, 0],
        13 => vec![0, 4, 4, 3, 8, 4],
        16 => {
            let mut d = vec![0, 12, 2];
            d.extend_from_slice(b"h2");
            d.push(8);
            d.extend_from_slice(b"http/1.1");
            d
        }
        23 => vec![],
        43 => vec![4, 3, 4, 3, 3],
        45 => vec![1, 1],
        _ => return None,
    })
}

fn hello() -> impl Strategy<Value = Hello> {
    // Distinct types, in any order.
    let types = prop::sample::subsequence(
        vec![
            10u16, 11, 13, 16, 23, 43, 45, 27, 0x4469, 0xfe0d, 0x0a0a, 0xdada,
        ],
        0..=12,
    )
    .prop_shuffle();
    (
        0usize..=32,
        1usize..=20,
        1usize..=3,
        types,
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 12),
        prop::option::of("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}"),
        any::<prop::sample::Index>(),
        fault(),
        prop::option::weighted(0.2, (any::<usize>(), 1u8..=255)),
    )
        .prop_map(
            |(session, suites, compressions, types, datas, name, at, fault, mutate)| {
                let exts: Vec<(u16, Vec<u8>)> = types
                    .into_iter()
                    .zip(datas)
                    .map(|(ty, random)| (ty, typed_data(ty).unwrap_or(random)))
                    .collect();
                Hello {
                    session,
                    suites,
                    compressions,
                    name_at: at.index(exts.len() + 1),
                    exts,
                    name,
                    fault,
                    mutate,
                }
            },
        )
}

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

impl Hello {
    fn sni_data(&self, name: &str) -> Vec<u8> {
        let mut names: Vec<Vec<u8>> = vec![match self.fault {
            Fault::TrailingDot => format!("{name}.").into_bytes(),
            Fault::BadByte => format!("{name}_x").into_bytes(),
            _ => name.as_bytes().to_vec(),
        }];
        if matches!(self.fault, Fault::SecondName) {
            names.push(b"other.example".to_vec());
        }
        let mut list = Vec::new();
        for n in names {
            list.push(0);
            list.extend_from_slice(&u16be(n.len()));
            list.extend_from_slice(&n);
        }
        let mut d = u16be(list.len()).to_vec();
        d.extend_from_slice(&list);
        d
    }

    fn bytes(&self) -> Vec<u8> {
        let mut exts = self.exts.clone();
        if let Some(name) = &self.name {
            exts.insert(self.name_at, (0, self.sni_data(name)));
        }
        if matches!(self.fault, Fault::DuplicateExtension) {
            exts.push(exts.first().cloned().unwrap_or((10, vec![0, 2, 0, 29])));
            exts.push((10, vec![0, 2, 0, 29]));
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0x5a; 32]);
        let session = if matches!(self.fault, Fault::LongSession) {
            33
        } else {
            self.session
        };
        body.push(session as u8);
        body.extend(std::iter::repeat(0x11).take(session));
        let suites = 2 * self.suites + usize::from(matches!(self.fault, Fault::OddSuites));
        body.extend_from_slice(&u16be(suites));
        body.extend((0..suites).map(|i| i as u8));
        body.push(self.compressions as u8);
        body.extend(std::iter::repeat(0).take(self.compressions));
        let mut e = Vec::new();
        for (ty, data) in &exts {
            e.extend_from_slice(&ty.to_be_bytes());
            e.extend_from_slice(&u16be(data.len()));
            e.extend_from_slice(data);
        }
        body.extend_from_slice(&u16be(e.len()));
        body.extend_from_slice(&e);
        let off = |f: &Fault, which: bool| match (f, which) {
            (Fault::RecordLenOff(d), true) | (Fault::HelloLenOff(d), false) => isize::from(*d),
            _ => 0,
        };
        let hello_len = (body.len() as isize + off(&self.fault, false)) as u32;
        let mut hs = vec![1];
        hs.extend_from_slice(&hello_len.to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let rec_len = (hs.len() as isize + off(&self.fault, true)) as usize;
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&u16be(rec_len));
        rec.extend_from_slice(&hs);
        if let Fault::Truncate(n) = self.fault {
            rec.truncate(n % rec.len());
        }
        if let Some((at, x)) = self.mutate {
            if !rec.is_empty() {
                let i = at % rec.len();
                rec[i] ^= x;
            }
        }
        rec
    }

    fn clean(&self) -> bool {
        matches!(self.fault, Fault::None) && self.mutate.is_none()
    }
}

/// tls-parser's reading: the first host name of the one ClientHello in
/// the one record, if all of it parses.
fn reference(buf: &[u8]) -> Option<Option<Vec<u8>>> {
    let (_, plain) = parse_tls_plaintext(buf).ok()?;
    let [TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))] = &plain.msg[..] else {
        return None;
    };
    let Some(ext) = ch.ext else {
        return Some(None);
    };
    let exts = match parse_tls_client_hello_extensions(ext) {
        Ok(([], exts)) => exts,
        // It also reads the contents of the extensions it knows, which we
        // only frame (a changed byte in supported_groups): then only the
        // server_name extension is given to it, framed here.
        _ => vec![parse_tls_extension_sni_content(sni_of(ext)?).ok()?.1],
    };
    let name = exts.iter().find_map(|e| match e {
        TlsExtension::SNI(list) => list
            .iter()
            .find(|(t, _)| *t == SNIType::HostName)
            .map(|(_, n)| n.to_vec()),
        _ => None,
    });
    Some(name)
}

/// The data of the server_name extension in `ext` (type, length, data,
/// over and over; all of it used).
fn sni_of(mut ext: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    while !ext.is_empty() {
        let ty = u16::from_be_bytes([*ext.first()?, *ext.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*ext.get(2)?, *ext.get(3)?]));
        let data = ext.get(4..4 + len)?;
        if ty == 0 {
            found = Some(data);
        }
        ext = &ext[4 + len..];
    }
    Some(found.unwrap_or(&[]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn what_we_read_tls_parser_reads_alike(h in hello()) {
        let buf = h.bytes();
        let ours = parse_client_hello(&buf);
        if let Ok(got) = ours {
            let name = got.server_name.map(<[u8]>::to_vec);
            prop_assert_eq!(got.len, buf.len());
            prop_assert_eq!(reference(&buf), Some(name), "{:?}", h);
        }
        if h.clean() {
            let name = h.name.as_ref().map(|n| n.as_bytes());
            prop_assert_eq!(ours.map(|g| g.server_name), Ok(name));
            for n in 0..buf.len() {
                prop_assert_eq!(parse_client_hello(&buf[..n]), Err(HelloError::Incomplete));
            }
        }
    }
}
