//! IPv4 header parsing (RFC 791).
//!
//! Only the header has to be present in the buffer: in the kernel the shell
//! passes the linear part of an skb, which may end before the payload does,
//! so the total length is reported but not required to fit the buffer.

use super::bytes::{read_u16, read_u32, read_u8};
use super::error::ParseError;

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Longest IPv4 header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;

/// Byte offset of the total length field, for in-place rewriting.
pub const OFF_TOTAL_LEN: usize = 2;
/// Byte offset of the TTL field.
pub const OFF_TTL: usize = 8;
/// Byte offset of the header checksum field.
pub const OFF_CHECKSUM: usize = 10;
/// Byte offset of the source address.
pub const OFF_SRC: usize = 12;
/// Byte offset of the destination address.
pub const OFF_DST: usize = 16;

/// "Don't fragment" bit of the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
/// "More fragments" bit of the flags/fragment-offset word.
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset bits (in 8-byte units) of the flags/fragment-offset word.
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// The fixed fields of an IPv4 header. Addresses are in host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ipv4Header {
    /// Header length in 32-bit words (5..=15).
    pub ihl: u8,
    /// The DSCP/ECN byte (formerly TOS).
    pub tos: u8,
    /// Total length of the datagram, header included.
    pub total_len: u16,
    /// Identification.
    pub id: u16,
    /// Flags (DF, MF) and fragment offset, as on the wire.
    pub frag: u16,
    /// Time to live.
    pub ttl: u8,
    /// Payload protocol number.
    pub protocol: u8,
    /// Header checksum as found (not verified by [`Ipv4Header::parse`]).
    pub checksum: u16,
    /// Source address, host order.
    pub src: u32,
    /// Destination address, host order.
    pub dst: u32,
}

impl Ipv4Header {
    /// Parses the header at the start of `buf`.
    ///
    /// Checks the version, that the IHL is at least 5, that the whole header
    /// (options included) is in `buf`, and that the total length covers the
    /// header. The checksum is not verified (see [`super::csum::verify_ipv4_header`]):
    /// offloaded packets may legitimately carry a stale one.
    ///
    /// # Errors
    ///
    /// [`ParseError::Truncated`], [`ParseError::BadVersion`],
    /// [`ParseError::BadHeaderLength`] or [`ParseError::BadTotalLength`].
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        if buf.len() < MIN_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let vihl = read_u8(buf, 0).ok_or(ParseError::Truncated)?;
        if vihl >> 4 != 4 {
            return Err(ParseError::BadVersion);
        }
        let ihl = vihl & 0x0f;
        if ihl < 5 {
            return Err(ParseError::BadHeaderLength);
        }
        let hlen = usize::from(ihl).wrapping_mul(4);
        if buf.len() < hlen {
            return Err(ParseError::Truncated);
        }
        let total_len = read_u16(buf, OFF_TOTAL_LEN).ok_or(ParseError::Truncated)?;
        if usize::from(total_len) < hlen {
            return Err(ParseError::BadTotalLength);
        }
        // The length checks above make these reads infallible; `?` keeps it panic-free anyway.
        Ok(Ipv4Header {
            ihl,
            tos: read_u8(buf, 1).ok_or(ParseError::Truncated)?,
            total_len,
            id: read_u16(buf, 4).ok_or(ParseError::Truncated)?,
            frag: read_u16(buf, 6).ok_or(ParseError::Truncated)?,
            ttl: read_u8(buf, OFF_TTL).ok_or(ParseError::Truncated)?,
            protocol: read_u8(buf, 9).ok_or(ParseError::Truncated)?,
            checksum: read_u16(buf, OFF_CHECKSUM).ok_or(ParseError::Truncated)?,
            src: read_u32(buf, OFF_SRC).ok_or(ParseError::Truncated)?,
            dst: read_u32(buf, OFF_DST).ok_or(ParseError::Truncated)?,
        })
    }

    /// Header length in bytes, options included.
    pub const fn header_len(&self) -> usize {
        // ihl is a 4-bit field, so this cannot overflow.
        (self.ihl as usize).wrapping_mul(4)
    }

    /// Whether the header carries options (IHL above 5).
    pub const fn has_options(&self) -> bool {
        self.ihl > 5
    }

    /// The options bytes of the header that was parsed from `packet`;
    /// empty if there are none or `packet` is not that buffer.
    pub fn options<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet.get(MIN_HEADER_LEN..self.header_len()).unwrap_or(&[])
    }

    /// Payload length according to the header (total length minus header),
    /// whether or not the payload is all in the buffer.
    pub const fn payload_len(&self) -> usize {
        (self.total_len as usize).saturating_sub(self.header_len())
    }

    /// The "don't fragment" flag.
    pub const fn dont_fragment(&self) -> bool {
        self.frag & FLAG_DF != 0
    }

    /// The "more fragments" flag.
    pub const fn more_fragments(&self) -> bool {
        self.frag & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the wire field counts 8-byte units).
    pub const fn frag_offset(&self) -> u16 {
        // 13 bits times 8 fits in 16 bits.
        (self.frag & FRAG_OFFSET_MASK).wrapping_mul(8)
    }

    /// Whether this datagram is a fragment (first, middle or last), i.e. its
    /// payload is not the whole transport segment.
    pub const fn is_fragment(&self) -> bool {
        self.more_fragments() || self.frag & FRAG_OFFSET_MASK != 0
    }

    /// Source address as on the wire.
    pub const fn src_bytes(&self) -> [u8; 4] {
        self.src.to_be_bytes()
    }

    /// Destination address as on the wire.
    pub const fn dst_bytes(&self) -> [u8; 4] {
        self.dst.to_be_bytes()
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::testdata::{GET_REQUEST, LINUX_SYN};
    use super::*;

    #[test]
    fn parses_a_real_syn() {
        let h = Ipv4Header::parse(&LINUX_SYN).unwrap();
        assert_eq!(h.ihl, 5);
        assert_eq!(h.header_len(), 20);
        assert!(!h.has_options());
        assert_eq!(h.total_len, 60);
        assert_eq!(h.id, 0x1c46);
        assert!(h.dont_fragment());
        assert!(!h.more_fragments());
        assert!(!h.is_fragment());
        assert_eq!(h.frag_offset(), 0);
        assert_eq!(h.ttl, 64);
        assert_eq!(h.protocol, PROTO_TCP);
        assert_eq!(h.checksum, 0x9cbc);
        assert_eq!(h.src, 0xc0a8_0068);
        assert_eq!(h.dst, 0xc0a8_0001);
        assert_eq!(h.src_bytes(), [192, 168, 0, 104]);
        assert_eq!(h.dst_bytes(), [192, 168, 0, 1]);
        assert_eq!(h.payload_len(), 40);
        assert!(h.options(&LINUX_SYN).is_empty());
    }

    #[test]
    fn only_the_header_need_be_present() {
        // The linear part of an skb may stop after the headers.
        let h = Ipv4Header::parse(&GET_REQUEST[..20]).unwrap();
        assert_eq!(usize::from(h.total_len), GET_REQUEST.len());
        assert_eq!(h.payload_len(), GET_REQUEST.len() - 20);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for n in 0..20 {
            assert_eq!(
                Ipv4Header::parse(&LINUX_SYN[..n]),
                Err(ParseError::Truncated),
                "{n}"
            );
        }
    }

    #[test]
    fn rejects_other_versions() {
        let mut p = LINUX_SYN;
        p[0] = 0x65;
        assert_eq!(Ipv4Header::parse(&p), Err(ParseError::BadVersion));
        p[0] = 0x05;
        assert_eq!(Ipv4Header::parse(&p), Err(ParseError::BadVersion));
    }

    #[test]
    fn rejects_short_ihl() {
        let mut p = LINUX_SYN;
        for ihl in 0..5 {
            p[0] = 0x40 | ihl;
            assert_eq!(Ipv4Header::parse(&p), Err(ParseError::BadHeaderLength));
        }
    }

    #[test]
    fn options_must_be_in_the_buffer() {
        let mut p = LINUX_SYN;
        p[0] = 0x46;
        assert_eq!(Ipv4Header::parse(&p[..20]), Err(ParseError::Truncated));
        assert_eq!(Ipv4Header::parse(&p[..23]), Err(ParseError::Truncated));
        let h = Ipv4Header::parse(&p[..24]).unwrap();
        assert!(h.has_options());
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.options(&p), &p[20..24]);
        // A buffer that is not the parsed one cannot make options() panic.
        assert!(h.options(&p[..10]).is_empty());
        // IHL 15 is the longest header.
        p[0] = 0x4f;
        assert_eq!(Ipv4Header::parse(&p[..59]), Err(ParseError::Truncated));
        assert_eq!(Ipv4Header::parse(&p).unwrap().header_len(), MAX_HEADER_LEN);
    }

    #[test]
    fn total_length_must_cover_the_header() {
        let mut p = LINUX_SYN;
        p[2] = 0;
        p[3] = 19;
        assert_eq!(Ipv4Header::parse(&p), Err(ParseError::BadTotalLength));
        p[3] = 20;
        assert_eq!(Ipv4Header::parse(&p).unwrap().payload_len(), 0);
    }

    #[test]
    fn fragments() {
        let mut p = LINUX_SYN;
        // First fragment: MF set, offset 0.
        p[6] = 0x20;
        p[7] = 0;
        let h = Ipv4Header::parse(&p).unwrap();
        assert!(h.is_fragment() && h.more_fragments() && !h.dont_fragment());
        // Last fragment: offset 185 units = 1480 bytes, MF clear.
        p[6] = 0x00;
        p[7] = 185;
        let h = Ipv4Header::parse(&p).unwrap();
        assert!(h.is_fragment() && !h.more_fragments());
        assert_eq!(h.frag_offset(), 1480);
        // Largest offset: 0x1fff units.
        p[6] = 0x1f;
        p[7] = 0xff;
        assert_eq!(Ipv4Header::parse(&p).unwrap().frag_offset(), 0xfff8);
    }
}
