//! Writers for crafted packets (SYN/ACKs, ACKs, replayed SYNs).
//!
//! Each writer checks sizes first and writes nothing on error, so a short
//! buffer is an `Err`, never a panic or a half-written header.

use super::bytes::{write_bytes, write_u16, write_u32};
use super::csum;
use super::error::BuildError;
use super::ipv4::{self, Ipv4Header};
use super::tcp::{self, TcpHeader};
use super::tcp_options::{
    TcpOptions, KIND_MSS, KIND_NOP, KIND_SACK, KIND_SACK_PERMITTED, KIND_TIMESTAMPS, KIND_WSCALE,
    LEN_MSS, LEN_SACK_BLOCK, LEN_SACK_PERMITTED, LEN_TIMESTAMPS, LEN_WSCALE, MAX_WSCALE,
};

/// Appends to a byte buffer, failing instead of overrunning it.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BuildError> {
        write_bytes(self.buf, self.pos, bytes).ok_or(BuildError::OptionsTooLong)?;
        self.pos = self.pos.saturating_add(bytes.len());
        Ok(())
    }

    fn put_u16(&mut self, v: u16) -> Result<(), BuildError> {
        self.put(&v.to_be_bytes())
    }

    fn put_u32(&mut self, v: u32) -> Result<(), BuildError> {
        self.put(&v.to_be_bytes())
    }
}

/// The option kinds' length bytes; all lengths are tiny constants.
fn len_byte(len: usize) -> u8 {
    u8::try_from(len).unwrap_or(u8::MAX)
}

/// Writes the known options of `opts` into `buf` in the order and
/// alignment Linux uses (`tcp_options_write()`): MSS; SACK-permitted folded
/// into the timestamps' padding, or NOP-padded alone; NOP-padded window
/// scale; NOP-padded SACK blocks. Unknown kinds are never written (we do
/// not echo what we do not understand). Returns the length written, a
/// multiple of 4 and at most 40.
///
/// # Errors
///
/// [`BuildError::OptionsTooLong`] past 40 bytes (e.g. MSS, timestamps,
/// window scale and four SACK blocks), [`BuildError::BufferTooSmall`] if
/// `buf` cannot hold them.
pub fn write_tcp_options(buf: &mut [u8], opts: &TcpOptions) -> Result<usize, BuildError> {
    let mut area = [0u8; tcp::MAX_OPTIONS_LEN];
    let mut c = Cursor {
        buf: &mut area,
        pos: 0,
    };
    if let Some(mss) = opts.mss {
        c.put(&[KIND_MSS, len_byte(LEN_MSS)])?;
        c.put_u16(mss)?;
    }
    if let Some((tsval, tsecr)) = opts.timestamps {
        if opts.sack_permitted {
            c.put(&[KIND_SACK_PERMITTED, len_byte(LEN_SACK_PERMITTED)])?;
        } else {
            c.put(&[KIND_NOP, KIND_NOP])?;
        }
        c.put(&[KIND_TIMESTAMPS, len_byte(LEN_TIMESTAMPS)])?;
        c.put_u32(tsval)?;
        c.put_u32(tsecr)?;
    } else if opts.sack_permitted {
        c.put(&[
            KIND_NOP,
            KIND_NOP,
            KIND_SACK_PERMITTED,
            len_byte(LEN_SACK_PERMITTED),
        ])?;
    }
    if let Some(ws) = opts.wscale {
        c.put(&[
            KIND_NOP,
            KIND_WSCALE,
            len_byte(LEN_WSCALE),
            ws.min(MAX_WSCALE),
        ])?;
    }
    let sacks = opts.sacks();
    if !sacks.is_empty() {
        let len = sacks.len().saturating_mul(LEN_SACK_BLOCK).saturating_add(2);
        c.put(&[KIND_NOP, KIND_NOP, KIND_SACK, len_byte(len)])?;
        for &(left, right) in sacks {
            c.put_u32(left)?;
            c.put_u32(right)?;
        }
    }
    let n = c.pos;
    let src = area.get(..n).ok_or(BuildError::OptionsTooLong)?;
    write_bytes(buf, 0, src).ok_or(BuildError::BufferTooSmall)?;
    Ok(n)
}

/// Writes a TCP segment (header from `hdr`, options from `opts`, then
/// `payload`) at the start of `buf`, for `src` -> `dst` (host order).
/// The data offset and checksum are computed; `hdr`'s are ignored.
/// Returns the segment length.
///
/// # Errors
///
/// As [`write_tcp_options`], plus [`BuildError::PacketTooLong`] past 65535
/// bytes and [`BuildError::BufferTooSmall`] if `buf` cannot hold it.
pub fn write_tcp_segment(
    buf: &mut [u8],
    src: u32,
    dst: u32,
    hdr: &TcpHeader,
    opts: &TcpOptions,
    payload: &[u8],
) -> Result<usize, BuildError> {
    let mut area = [0u8; tcp::MAX_OPTIONS_LEN];
    let olen = write_tcp_options(&mut area, opts)?;
    let options = area.get(..olen).ok_or(BuildError::OptionsTooLong)?;
    let hlen = tcp::MIN_HEADER_LEN.saturating_add(olen);
    let total = hlen
        .checked_add(payload.len())
        .filter(|&t| u16::try_from(t).is_ok())
        .ok_or(BuildError::PacketTooLong)?;
    let seg = buf.get_mut(..total).ok_or(BuildError::BufferTooSmall)?;
    let data_offset = len_byte(hlen / 4);
    // `seg` is exactly `total` bytes long, so none of these can fail.
    let ok = write_u16(seg, 0, hdr.src_port)
        .and_then(|()| write_u16(seg, 2, hdr.dst_port))
        .and_then(|()| write_u32(seg, tcp::OFF_SEQ, hdr.seq))
        .and_then(|()| {
            write_bytes(
                seg,
                tcp::OFF_DATA_OFFSET,
                &[(data_offset << 4) | (hdr.reserved & 0x0f), hdr.flags.bits()],
            )
        })
        .and_then(|()| write_u32(seg, tcp::OFF_ACK, hdr.ack))
        .and_then(|()| write_u16(seg, tcp::OFF_WINDOW, hdr.window))
        .and_then(|()| write_u16(seg, tcp::OFF_CHECKSUM, 0))
        .and_then(|()| write_u16(seg, tcp::OFF_URGENT, hdr.urgent))
        .and_then(|()| write_bytes(seg, tcp::OFF_OPTIONS, options))
        .and_then(|()| write_bytes(seg, hlen, payload))
        .and_then(|()| csum::tcp_ipv4_checksum(src, dst, seg))
        .and_then(|c| write_u16(seg, tcp::OFF_CHECKSUM, c));
    ok.ok_or(BuildError::BufferTooSmall)?;
    Ok(total)
}

/// Writes a 20-byte IPv4 header (no options) from `hdr` at the start of
/// `buf`, with IHL 5 and a computed checksum; `hdr`'s are ignored.
/// Returns 20.
///
/// # Errors
///
/// [`BuildError::BufferTooSmall`] if `buf` is shorter than 20 bytes.
pub fn write_ipv4_header(buf: &mut [u8], hdr: &Ipv4Header) -> Result<usize, BuildError> {
    let h = buf
        .get_mut(..ipv4::MIN_HEADER_LEN)
        .ok_or(BuildError::BufferTooSmall)?;
    let ok = write_bytes(h, 0, &[0x45, hdr.tos])
        .and_then(|()| write_u16(h, ipv4::OFF_TOTAL_LEN, hdr.total_len))
        .and_then(|()| write_u16(h, 4, hdr.id))
        .and_then(|()| write_u16(h, 6, hdr.frag))
        .and_then(|()| write_bytes(h, ipv4::OFF_TTL, &[hdr.ttl, hdr.protocol]))
        .and_then(|()| write_u16(h, ipv4::OFF_CHECKSUM, 0))
        .and_then(|()| write_u32(h, ipv4::OFF_SRC, hdr.src))
        .and_then(|()| write_u32(h, ipv4::OFF_DST, hdr.dst))
        .and_then(|()| csum::ipv4_header_checksum(h))
        .and_then(|c| write_u16(h, ipv4::OFF_CHECKSUM, c));
    ok.ok_or(BuildError::BufferTooSmall)?;
    Ok(ipv4::MIN_HEADER_LEN)
}

/// Writes a whole IPv4/TCP packet: the IP header from `ip` (its total
/// length and protocol are set to match) followed by the segment as
/// [`write_tcp_segment`] writes it, addressed with `ip`'s addresses.
/// IP options are not written. Returns the packet length.
///
/// # Errors
///
/// As [`write_tcp_segment`], with the 65535-byte limit on the whole packet.
pub fn write_ipv4_tcp(
    buf: &mut [u8],
    ip: &Ipv4Header,
    tcp: &TcpHeader,
    opts: &TcpOptions,
    payload: &[u8],
) -> Result<usize, BuildError> {
    // Size everything before writing anything.
    let olen = write_tcp_options(&mut [0u8; tcp::MAX_OPTIONS_LEN], opts)?;
    let total = (ipv4::MIN_HEADER_LEN + tcp::MIN_HEADER_LEN)
        .checked_add(olen)
        .and_then(|t| t.checked_add(payload.len()))
        .and_then(|t| u16::try_from(t).ok())
        .ok_or(BuildError::PacketTooLong)?;
    if buf.len() < usize::from(total) {
        return Err(BuildError::BufferTooSmall);
    }
    let seg_buf = buf
        .get_mut(ipv4::MIN_HEADER_LEN..)
        .ok_or(BuildError::BufferTooSmall)?;
    write_tcp_segment(seg_buf, ip.src, ip.dst, tcp, opts, payload)?;
    let hdr = Ipv4Header {
        ihl: 5,
        total_len: total,
        protocol: ipv4::PROTO_TCP,
        ..*ip
    };
    write_ipv4_header(buf, &hdr)?;
    Ok(usize::from(total))
}

/// ICMP type "destination unreachable".
pub const ICMP_DEST_UNREACH: u8 = 3;
/// Its code "fragmentation needed and DF set" (RFC 1191).
pub const ICMP_FRAG_NEEDED: u8 = 4;
/// Bytes of the offending packet an ICMP error quotes beyond its IP
/// header: the 8 that RFC 792 asks for (the TCP ports and sequence
/// number, which is what a stack matches the error to its socket with).
pub const ICMP_QUOTE_PAYLOAD: usize = 8;
/// Length of an ICMP error header (type, code, checksum, 4 more bytes).
const ICMP_HEADER_LEN: usize = 8;

/// Writes an IPv4 ICMP "fragmentation needed" error (RFC 1191) from `src`
/// to `dst` announcing `mtu` as the next hop's MTU, quoting the offending
/// packet `offending` (from its IPv4 header on: the header with its
/// options and the first [`ICMP_QUOTE_PAYLOAD`] bytes after it). Returns
/// the packet length: 20 + 8 + the quote.
///
/// # Errors
///
/// [`BuildError::BufferTooSmall`] if `offending` is shorter than its own
/// header and 8 bytes, or `buf` cannot hold the error.
pub fn write_icmp_frag_needed(
    buf: &mut [u8],
    src: u32,
    dst: u32,
    mtu: u16,
    offending: &[u8],
) -> Result<usize, BuildError> {
    let ihl = offending
        .first()
        .map(|b| usize::from(b & 0x0f) * 4)
        .filter(|&l| l >= ipv4::MIN_HEADER_LEN)
        .ok_or(BuildError::BufferTooSmall)?;
    let quote = offending
        .get(..ihl.saturating_add(ICMP_QUOTE_PAYLOAD))
        .ok_or(BuildError::BufferTooSmall)?;
    let icmp_len = ICMP_HEADER_LEN.saturating_add(quote.len());
    let total = ipv4::MIN_HEADER_LEN.saturating_add(icmp_len);
    let total16 = u16::try_from(total).map_err(|_| BuildError::PacketTooLong)?;
    let icmp = buf
        .get_mut(ipv4::MIN_HEADER_LEN..total)
        .ok_or(BuildError::BufferTooSmall)?;
    // Type, code, checksum 0, unused 0, next-hop MTU; then the quote.
    let [m0, m1] = mtu.to_be_bytes();
    write_bytes(
        icmp,
        0,
        &[ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 0, 0, 0, 0, m0, m1],
    )
    .and_then(|()| write_bytes(icmp, ICMP_HEADER_LEN, quote))
    .ok_or(BuildError::BufferTooSmall)?;
    let c = csum::checksum(icmp);
    write_u16(icmp, 2, c).ok_or(BuildError::BufferTooSmall)?;
    let hdr = Ipv4Header {
        ihl: 5,
        tos: 0,
        total_len: total16,
        id: 0,
        frag: 0,
        ttl: 64,
        protocol: ipv4::PROTO_ICMP,
        checksum: 0,
        src,
        dst,
    };
    write_ipv4_header(buf, &hdr)?;
    Ok(total)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::testdata::{GET_REQUEST, LINUX_ACK_SACK, LINUX_SYN, LINUX_SYNACK};
    use super::*;

    /// Parses a whole packet back into what the writers take.
    fn parts(p: &[u8]) -> (Ipv4Header, TcpHeader, TcpOptions, &[u8]) {
        let ip = Ipv4Header::parse(p).unwrap();
        let seg = &p[ip.header_len()..];
        let tcp = TcpHeader::parse(seg).unwrap();
        (ip, tcp, tcp.parse_options(seg), tcp.payload(seg))
    }

    #[test]
    fn icmp_frag_needed_quotes_the_header_and_8_bytes() {
        let mut buf = [0u8; 128];
        let n =
            write_icmp_frag_needed(&mut buf, 0x0a63_0064, 0x0a63_0002, 1280, &GET_REQUEST).unwrap();
        assert_eq!(n, 20 + 8 + 20 + 8);
        let p = &buf[..n];
        let ip = Ipv4Header::parse(p).unwrap();
        assert_eq!(
            (ip.protocol, ip.src, ip.dst, ip.ttl),
            (1, 0x0a63_0064, 0x0a63_0002, 64)
        );
        assert_eq!(usize::from(ip.total_len), n);
        assert!(csum::verify_ipv4_header(&p[..20]));
        assert_eq!(&p[20..28], &[3, 4, p[22], p[23], 0, 0, 0x05, 0x00]);
        assert_eq!(csum::checksum(&p[20..]), 0, "ICMP checksum verifies");
        assert_eq!(&p[28..], &GET_REQUEST[..28]);
        // Too short to quote, or too small a buffer: errors, nothing else.
        assert!(write_icmp_frag_needed(&mut buf, 1, 2, 1280, &GET_REQUEST[..27]).is_err());
        assert!(write_icmp_frag_needed(&mut buf[..55], 1, 2, 1280, &GET_REQUEST).is_err());
        assert!(write_icmp_frag_needed(&mut buf, 1, 2, 1280, &[0x44; 40]).is_err());
    }

    #[test]
    fn reproduces_real_packets_byte_for_byte() {
        for p in [&LINUX_SYN[..], &LINUX_SYNACK, &LINUX_ACK_SACK, &GET_REQUEST] {
            let (ip, tcp, opts, payload) = parts(p);
            let mut buf = [0u8; 128];
            let n = write_ipv4_tcp(&mut buf, &ip, &tcp, &opts, payload).unwrap();
            assert_eq!(&buf[..n], p);
        }
    }

    #[test]
    fn option_layouts() {
        let mut buf = [0u8; 40];
        let ts_only = TcpOptions {
            timestamps: Some((1, 2)),
            ..TcpOptions::default()
        };
        let n = write_tcp_options(&mut buf, &ts_only).unwrap();
        assert_eq!(&buf[..n], &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        let sack_perm_only = TcpOptions {
            mss: Some(536),
            sack_permitted: true,
            ..TcpOptions::default()
        };
        let n = write_tcp_options(&mut buf, &sack_perm_only).unwrap();
        assert_eq!(&buf[..n], &[2, 4, 2, 0x18, 1, 1, 4, 2]);
        let clamped = TcpOptions {
            wscale: Some(200),
            ..TcpOptions::default()
        };
        let n = write_tcp_options(&mut buf, &clamped).unwrap();
        assert_eq!(&buf[..n], &[1, 3, 3, 14]);
        assert_eq!(write_tcp_options(&mut buf, &TcpOptions::default()), Ok(0));
    }

    #[test]
    fn unknown_options_are_not_echoed() {
        let o = TcpOptions::parse(&[34, 2, 2, 4, 5, 0xb4]);
        let mut buf = [0u8; 40];
        let n = write_tcp_options(&mut buf, &o).unwrap();
        assert_eq!(&buf[..n], &[2, 4, 5, 0xb4]);
    }

    #[test]
    fn options_that_do_not_fit() {
        let o = TcpOptions {
            mss: Some(1460),
            timestamps: Some((1, 2)),
            wscale: Some(7),
            sack_blocks: [(1, 2); 4],
            sack_count: 4,
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 60];
        assert_eq!(
            write_tcp_options(&mut buf, &o),
            Err(BuildError::OptionsTooLong)
        );
        // Timestamps leave room for three blocks, as in Linux.
        let three = TcpOptions {
            mss: None,
            wscale: None,
            sack_count: 3,
            ..o
        };
        assert_eq!(write_tcp_options(&mut buf, &three), Ok(40));
        assert_eq!(buf[40..], [0; 20]);
    }

    #[test]
    fn short_buffers_are_errors_and_untouched() {
        let (ip, tcp, opts, payload) = parts(&GET_REQUEST);
        for n in 0..GET_REQUEST.len() {
            let mut buf = [0u8; 79];
            assert_eq!(
                write_ipv4_tcp(&mut buf[..n], &ip, &tcp, &opts, payload),
                Err(BuildError::BufferTooSmall)
            );
            assert_eq!(buf, [0; 79], "{n}");
        }
        let mut buf = [0u8; 8];
        assert_eq!(
            write_tcp_options(&mut buf, &opts),
            Err(BuildError::BufferTooSmall)
        );
        assert_eq!(buf, [0; 8]);
        assert_eq!(
            write_ipv4_header(&mut buf, &ip),
            Err(BuildError::BufferTooSmall)
        );
    }

    #[test]
    fn too_long_packets() {
        let (ip, tcp, opts, _) = parts(&GET_REQUEST);
        let payload = [0u8; 65536];
        let mut buf = [0u8; 16];
        assert_eq!(
            write_ipv4_tcp(&mut buf, &ip, &tcp, &opts, &payload[..65535 - 52 + 1]),
            Err(BuildError::PacketTooLong)
        );
        assert_eq!(
            write_tcp_segment(&mut buf, 0, 0, &tcp, &opts, &payload),
            Err(BuildError::PacketTooLong)
        );
    }
}
