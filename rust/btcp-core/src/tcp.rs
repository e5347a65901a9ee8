//! TCP header parsing (RFC 9293).
//!
//! Options are left as raw bytes here; [`super::tcp_options`] decodes them.

use super::bytes::{read_u16, read_u32, read_u8};
use super::error::ParseError;
use super::tcp_options::TcpOptions;

/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Longest TCP header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Most option bytes a header can carry.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - MIN_HEADER_LEN;

/// Byte offset of the sequence number, for in-place rewriting.
pub const OFF_SEQ: usize = 4;
/// Byte offset of the acknowledgment number.
pub const OFF_ACK: usize = 8;
/// Byte offset of the data offset / reserved byte.
pub const OFF_DATA_OFFSET: usize = 12;
/// Byte offset of the flags byte.
pub const OFF_FLAGS: usize = 13;
/// Byte offset of the window.
pub const OFF_WINDOW: usize = 14;
/// Byte offset of the checksum.
pub const OFF_CHECKSUM: usize = 16;
/// Byte offset of the urgent pointer.
pub const OFF_URGENT: usize = 18;
/// Byte offset of the options area.
pub const OFF_OPTIONS: usize = MIN_HEADER_LEN;

/// The eight TCP flag bits of byte 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push.
    pub const PSH: Flags = Flags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: Flags = Flags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: Flags = Flags(0x80);

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    #[must_use]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// FIN is set.
    pub const fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }

    /// SYN is set.
    pub const fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }

    /// RST is set.
    pub const fn rst(self) -> bool {
        self.contains(Flags::RST)
    }

    /// PSH is set.
    pub const fn psh(self) -> bool {
        self.contains(Flags::PSH)
    }

    /// ACK is set.
    pub const fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }

    /// URG is set.
    pub const fn urg(self) -> bool {
        self.contains(Flags::URG)
    }

    /// ECE is set.
    pub const fn ece(self) -> bool {
        self.contains(Flags::ECE)
    }

    /// CWR is set.
    pub const fn cwr(self) -> bool {
        self.contains(Flags::CWR)
    }
}

impl ::core::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// The fixed fields of a TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Header length in 32-bit words (5..=15).
    pub data_offset: u8,
    /// The low nibble of byte 12 (reserved bits and `AccECN`'s AE bit), kept
    /// so that a rewritten header reproduces it.
    pub reserved: u8,
    /// Flag bits.
    pub flags: Flags,
    /// Raw (unscaled) receive window.
    pub window: u16,
    /// Checksum as found (not verified by [`TcpHeader::parse`]).
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
}

impl TcpHeader {
    /// Parses the header at the start of `segment`.
    ///
    /// Requires the whole header, options included, to be in `segment`;
    /// the payload need not be.
    ///
    /// # Errors
    ///
    /// [`ParseError::Truncated`] or [`ParseError::BadDataOffset`].
    pub fn parse(segment: &[u8]) -> Result<Self, ParseError> {
        if segment.len() < MIN_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let off = read_u8(segment, OFF_DATA_OFFSET).ok_or(ParseError::Truncated)?;
        let data_offset = off >> 4;
        if data_offset < 5 {
            return Err(ParseError::BadDataOffset);
        }
        if segment.len() < usize::from(data_offset).wrapping_mul(4) {
            return Err(ParseError::Truncated);
        }
        Ok(TcpHeader {
            src_port: read_u16(segment, 0).ok_or(ParseError::Truncated)?,
            dst_port: read_u16(segment, 2).ok_or(ParseError::Truncated)?,
            seq: read_u32(segment, OFF_SEQ).ok_or(ParseError::Truncated)?,
            ack: read_u32(segment, OFF_ACK).ok_or(ParseError::Truncated)?,
            data_offset,
            reserved: off & 0x0f,
            flags: Flags(read_u8(segment, OFF_FLAGS).ok_or(ParseError::Truncated)?),
            window: read_u16(segment, OFF_WINDOW).ok_or(ParseError::Truncated)?,
            checksum: read_u16(segment, OFF_CHECKSUM).ok_or(ParseError::Truncated)?,
            urgent: read_u16(segment, OFF_URGENT).ok_or(ParseError::Truncated)?,
        })
    }

    /// Header length in bytes, options included; also the payload offset.
    pub fn header_len(&self) -> usize {
        // data_offset is a 4-bit field when parsed; mask so a hand-built
        // value cannot make this larger than 60.
        usize::from(self.data_offset & 0x0f).wrapping_mul(4)
    }

    /// Offset of the payload from the start of the segment.
    pub fn payload_offset(&self) -> usize {
        self.header_len()
    }

    /// The raw options bytes of the header that was parsed from `segment`;
    /// empty if there are none or `segment` is not that buffer.
    pub fn options<'a>(&self, segment: &'a [u8]) -> &'a [u8] {
        segment.get(OFF_OPTIONS..self.header_len()).unwrap_or(&[])
    }

    /// The part of the payload that is in `segment` (possibly none of it).
    pub fn payload<'a>(&self, segment: &'a [u8]) -> &'a [u8] {
        segment.get(self.header_len()..).unwrap_or(&[])
    }

    /// Decodes the options of the header that was parsed from `segment`.
    pub fn parse_options(&self, segment: &[u8]) -> TcpOptions {
        TcpOptions::parse(self.options(segment))
    }

    /// Sequence space the segment occupies with `payload_len` payload
    /// bytes: the payload plus one each for SYN and FIN (wrapping, as
    /// sequence numbers do).
    pub fn seq_len(&self, payload_len: u32) -> u32 {
        payload_len
            .wrapping_add(u32::from(self.flags.syn()))
            .wrapping_add(u32::from(self.flags.fin()))
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::testdata::{GET_REQUEST, LINUX_SYN, LINUX_SYNACK};
    use super::*;

    #[test]
    fn parses_a_real_syn() {
        let seg = &LINUX_SYN[20..];
        let h = TcpHeader::parse(seg).unwrap();
        assert_eq!(h.src_port, 51234);
        assert_eq!(h.dst_port, 80);
        assert_eq!(h.seq, 0x6a2c_1b3d);
        assert_eq!(h.ack, 0);
        assert_eq!(h.data_offset, 10);
        assert_eq!(h.header_len(), 40);
        assert_eq!(h.payload_offset(), 40);
        assert_eq!(h.flags, Flags::SYN);
        assert!(h.flags.syn() && !h.flags.ack());
        assert_eq!(h.window, 64240);
        assert_eq!(h.checksum, 0x4721);
        assert_eq!(h.urgent, 0);
        assert_eq!(h.options(seg), &seg[20..40]);
        assert!(h.payload(seg).is_empty());
        assert_eq!(h.seq_len(0), 1);
        let o = h.parse_options(seg);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
    }

    #[test]
    fn parses_a_syn_ack_and_data() {
        let h = TcpHeader::parse(&LINUX_SYNACK[20..]).unwrap();
        assert_eq!(h.flags, Flags::SYN | Flags::ACK);
        assert_eq!(h.ack, 0x6a2c_1b3e);

        let seg = &GET_REQUEST[20..];
        let h = TcpHeader::parse(seg).unwrap();
        assert_eq!(h.flags, Flags::PSH | Flags::ACK);
        assert_eq!(h.header_len(), 32);
        assert_eq!(h.payload(seg), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.seq_len(27), 27);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let seg = &LINUX_SYN[20..];
        for n in 0..40 {
            assert_eq!(
                TcpHeader::parse(&seg[..n]),
                Err(ParseError::Truncated),
                "{n}"
            );
        }
        assert!(TcpHeader::parse(seg).is_ok());
    }

    #[test]
    fn rejects_short_data_offset() {
        let mut seg = [0u8; 20];
        for off in 0..5 {
            seg[12] = off << 4;
            assert_eq!(TcpHeader::parse(&seg), Err(ParseError::BadDataOffset));
        }
        seg[12] = 5 << 4;
        let h = TcpHeader::parse(&seg).unwrap();
        assert!(h.options(&seg).is_empty());
        // Data offset 15 needs all 60 bytes.
        seg[12] = 0xf0;
        assert_eq!(TcpHeader::parse(&seg), Err(ParseError::Truncated));
    }

    #[test]
    fn keeps_reserved_bits() {
        let mut seg = [0u8; 20];
        seg[12] = 0x51;
        assert_eq!(TcpHeader::parse(&seg).unwrap().reserved, 1);
    }

    #[test]
    fn flag_accessors() {
        let all = [
            (Flags::FIN, Flags::fin as fn(Flags) -> bool),
            (Flags::SYN, Flags::syn),
            (Flags::RST, Flags::rst),
            (Flags::PSH, Flags::psh),
            (Flags::ACK, Flags::ack),
            (Flags::URG, Flags::urg),
            (Flags::ECE, Flags::ece),
            (Flags::CWR, Flags::cwr),
        ];
        for (i, (flag, get)) in all.iter().enumerate() {
            assert_eq!(flag.bits(), 1 << i);
            for (other, _) in &all {
                assert_eq!(get(*other), other == flag);
            }
            assert!(get(Flags(0xff)));
            assert!(!get(Flags(0)));
        }
        let f = Flags::SYN | Flags::ACK;
        assert!(f.contains(Flags::SYN) && f.contains(Flags::SYN.union(Flags::ACK)));
        assert!(!f.contains(Flags::FIN));
    }

    #[test]
    fn seq_len_counts_syn_and_fin() {
        let h = TcpHeader {
            flags: Flags::SYN | Flags::FIN,
            ..TcpHeader::default()
        };
        assert_eq!(h.seq_len(10), 12);
        assert_eq!(h.seq_len(u32::MAX), 1);
    }
}
