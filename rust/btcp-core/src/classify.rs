//! One-pass classification of an IPv4 packet, for per-hook counters and
//! for finding a packet's flow.
//!
//! The kernel shell passes the packet from its IPv4 header on, as far as it
//! is linear; the IP and TCP headers must be in it (the shell pulls them),
//! the payload need not be. Lengths come from the headers, not the buffer.

use super::error::ParseError;
use super::ipv4::{self, Ipv4Header};
use super::tcp::{self, TcpHeader};

/// A TCP segment in an unfragmented IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket {
    /// The IPv4 header.
    pub ip: Ipv4Header,
    /// The TCP header.
    pub tcp: TcpHeader,
    /// Offset of the TCP header from the start of the packet.
    pub tcp_offset: usize,
    /// Offset of the TCP payload from the start of the packet; never past
    /// the end of the buffer that was classified.
    pub payload_offset: usize,
    /// TCP payload length according to the IP total length (it may extend
    /// past a buffer holding only the linear part).
    pub payload_len: usize,
}

impl TcpPacket {
    /// The segment's kind, for counting.
    pub fn kind(&self) -> SegmentKind {
        SegmentKind::of(self.tcp.flags, self.payload_len)
    }

    /// Offset of the TCP options area from the start of the packet; add an
    /// offset from [`super::tcp_options::find_option`] to it to rewrite an
    /// option in place.
    pub fn options_offset(&self) -> usize {
        self.tcp_offset.saturating_add(tcp::OFF_OPTIONS)
    }

    /// The TCP options bytes of `packet`, the buffer that was classified.
    pub fn options<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.options_offset()..self.payload_offset)
            .unwrap_or(&[])
    }

    /// The part of the payload that is in `packet`, the buffer that was
    /// classified (possibly none of it).
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        let end = self.payload_offset.saturating_add(self.payload_len);
        let avail = packet.get(self.payload_offset..).unwrap_or(&[]);
        avail
            .get(..end.saturating_sub(self.payload_offset))
            .unwrap_or(avail)
    }
}

/// Coarse kind of a TCP segment. The first matching rule wins: RST, SYN+ACK,
/// SYN, FIN, data, ACK, other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// RST set.
    Rst,
    /// SYN and ACK set.
    SynAck,
    /// SYN without ACK.
    Syn,
    /// FIN set (with or without data).
    Fin,
    /// Carries payload.
    Data,
    /// ACK only, no payload.
    Ack,
    /// Anything else (no ACK, SYN, FIN or RST: scans and junk).
    Other,
}

impl SegmentKind {
    /// Number of kinds, to size a counter array.
    pub const COUNT: usize = 7;

    /// Classifies by flags and payload length.
    pub fn of(flags: tcp::Flags, payload_len: usize) -> SegmentKind {
        if flags.rst() {
            SegmentKind::Rst
        } else if flags.syn() && flags.ack() {
            SegmentKind::SynAck
        } else if flags.syn() {
            SegmentKind::Syn
        } else if flags.fin() {
            SegmentKind::Fin
        } else if payload_len > 0 {
            SegmentKind::Data
        } else if flags.ack() {
            SegmentKind::Ack
        } else {
            SegmentKind::Other
        }
    }

    /// A dense index in `0..COUNT`, for counter arrays.
    pub fn index(self) -> usize {
        match self {
            SegmentKind::Rst => 0,
            SegmentKind::SynAck => 1,
            SegmentKind::Syn => 2,
            SegmentKind::Fin => 3,
            SegmentKind::Data => 4,
            SegmentKind::Ack => 5,
            SegmentKind::Other => 6,
        }
    }
}

/// What [`classify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A TCP segment.
    Tcp(TcpPacket),
    /// A valid IPv4 datagram of another protocol.
    NotTcp {
        /// Its protocol number.
        protocol: u8,
    },
    /// An IPv4 fragment (any protocol): the transport header is absent or
    /// describes more than this datagram carries.
    Fragment {
        /// Its protocol number.
        protocol: u8,
    },
    /// Not a parseable IPv4 packet, or TCP with a broken header.
    Malformed(ParseError),
}

impl Class {
    /// The TCP segment, if this is one.
    pub fn tcp(&self) -> Option<&TcpPacket> {
        match self {
            Class::Tcp(p) => Some(p),
            _ => None,
        }
    }
}

/// Classifies the IPv4 packet at the start of `packet`.
pub fn classify(packet: &[u8]) -> Class {
    let ip = match Ipv4Header::parse(packet) {
        Ok(ip) => ip,
        Err(e) => return Class::Malformed(e),
    };
    if ip.is_fragment() {
        return Class::Fragment {
            protocol: ip.protocol,
        };
    }
    if ip.protocol != ipv4::PROTO_TCP {
        return Class::NotTcp {
            protocol: ip.protocol,
        };
    }
    let tcp_offset = ip.header_len();
    let Some(segment) = packet.get(tcp_offset..) else {
        return Class::Malformed(ParseError::Truncated);
    };
    let tcp = match TcpHeader::parse(segment) {
        Ok(tcp) => tcp,
        Err(e) => return Class::Malformed(e),
    };
    // The TCP header must fit in the datagram the IP header describes.
    let Some(payload_len) = ip.payload_len().checked_sub(tcp.header_len()) else {
        return Class::Malformed(ParseError::BadTotalLength);
    };
    Class::Tcp(TcpPacket {
        ip,
        tcp,
        tcp_offset,
        payload_offset: tcp_offset.saturating_add(tcp.header_len()),
        payload_len,
    })
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::tcp::Flags;
    use super::super::testdata::{GET_REQUEST, LINUX_ACK_SACK, LINUX_SYN, LINUX_SYNACK};
    use super::*;

    fn tcp(p: &[u8]) -> TcpPacket {
        *classify(p).tcp().unwrap()
    }

    #[test]
    fn real_handshake_and_request() {
        let syn = tcp(&LINUX_SYN);
        assert_eq!(syn.kind(), SegmentKind::Syn);
        assert_eq!(
            (syn.tcp_offset, syn.payload_offset, syn.payload_len),
            (20, 60, 0)
        );
        assert_eq!(syn.tcp.dst_port, 80);
        assert_eq!(syn.ip.src, 0xc0a8_0068);
        assert_eq!(tcp(&LINUX_SYNACK).kind(), SegmentKind::SynAck);
        assert_eq!(tcp(&LINUX_ACK_SACK).kind(), SegmentKind::Ack);
        let get = tcp(&GET_REQUEST);
        assert_eq!(get.kind(), SegmentKind::Data);
        assert_eq!(get.payload_len, 27);
        assert_eq!(&GET_REQUEST[get.payload_offset..][..4], b"GET ");
        assert_eq!(
            get.payload(&GET_REQUEST),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        assert_eq!(get.options_offset(), 40);
        assert_eq!(get.options(&GET_REQUEST), &GET_REQUEST[40..52]);
        // Ethernet padding past the IP total length is not payload.
        let mut padded = [0u8; 90];
        padded[..79].copy_from_slice(&GET_REQUEST);
        assert_eq!(tcp(&padded).payload(&padded).len(), 27);
    }

    #[test]
    fn only_the_headers_need_be_linear() {
        let get = tcp(&GET_REQUEST[..52]);
        assert_eq!(get.payload_offset, 52);
        assert_eq!(get.payload_len, 27);
        assert!(get.payload(&GET_REQUEST[..52]).is_empty());
        assert_eq!(get.payload(&GET_REQUEST[..60]), b"GET / HT");
    }

    #[test]
    fn kinds_by_precedence() {
        let f = |flags: Flags, len| SegmentKind::of(flags, len);
        assert_eq!(f(Flags::RST | Flags::ACK, 0), SegmentKind::Rst);
        assert_eq!(f(Flags::RST | Flags::SYN, 0), SegmentKind::Rst);
        assert_eq!(f(Flags::SYN | Flags::ACK, 0), SegmentKind::SynAck);
        assert_eq!(f(Flags::SYN, 5), SegmentKind::Syn);
        assert_eq!(f(Flags::FIN | Flags::ACK, 10), SegmentKind::Fin);
        assert_eq!(f(Flags::ACK | Flags::PSH, 1), SegmentKind::Data);
        assert_eq!(f(Flags::ACK, 0), SegmentKind::Ack);
        assert_eq!(f(Flags(0), 0), SegmentKind::Other);
        assert_eq!(f(Flags::URG | Flags::PSH, 0), SegmentKind::Other);
    }

    #[test]
    fn kind_indexes_are_dense() {
        let all = [
            SegmentKind::Rst,
            SegmentKind::SynAck,
            SegmentKind::Syn,
            SegmentKind::Fin,
            SegmentKind::Data,
            SegmentKind::Ack,
            SegmentKind::Other,
        ];
        assert_eq!(all.len(), SegmentKind::COUNT);
        let mut seen = [false; SegmentKind::COUNT];
        for k in all {
            seen[k.index()] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn other_protocols_and_fragments() {
        let mut p = LINUX_SYN;
        p[9] = 17;
        assert_eq!(classify(&p), Class::NotTcp { protocol: 17 });
        assert!(classify(&p).tcp().is_none());
        let mut p = LINUX_SYN;
        p[6] = 0x20;
        assert_eq!(classify(&p), Class::Fragment { protocol: 6 });
        p[6] = 0x00;
        p[7] = 0x01;
        assert_eq!(classify(&p), Class::Fragment { protocol: 6 });
    }

    #[test]
    fn malformed() {
        assert_eq!(classify(&[]), Class::Malformed(ParseError::Truncated));
        assert_eq!(
            classify(&LINUX_SYN[..19]),
            Class::Malformed(ParseError::Truncated)
        );
        // IP header fine, TCP header cut short.
        assert_eq!(
            classify(&LINUX_SYN[..30]),
            Class::Malformed(ParseError::Truncated)
        );
        assert_eq!(
            classify(&LINUX_SYN[..59]),
            Class::Malformed(ParseError::Truncated)
        );
        let mut p = LINUX_SYN;
        p[0] = 0x60;
        assert_eq!(classify(&p), Class::Malformed(ParseError::BadVersion));
        // Total length shorter than IP + TCP headers.
        let mut p = LINUX_SYN;
        p[3] = 59;
        assert_eq!(classify(&p), Class::Malformed(ParseError::BadTotalLength));
        let mut p = LINUX_SYN;
        p[32] = 0x40;
        assert_eq!(classify(&p), Class::Malformed(ParseError::BadDataOffset));
    }
}
