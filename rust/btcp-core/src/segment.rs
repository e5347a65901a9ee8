//! Segments in and out of the flow machines.
//!
//! [`Seg`] is a TCP segment a hook saw, parsed once by the shell and
//! handed to a machine. [`OutSegment`] is a segment a machine wants sent
//! (to the client) or injected (into the local stack), described by its
//! fields; [`OutSegment::write`] turns it into IPv4/TCP bytes with
//! [`super::build`], or the kernel shell builds the skb itself from the
//! fields.

use super::build::{write_ipv4_tcp, write_tcp_options};
use super::classify::{classify, Class, TcpPacket};
use super::error::BuildError;
use super::flow::{Endpoint, FlowKey};
use super::ipv4::{self, Ipv4Header};
use super::tcp::{self, Flags, TcpHeader};
use super::tcp_options::TcpOptions;

/// A parsed TCP segment: its headers, decoded options, and the packet
/// bytes from the IPv4 header on (at least the headers; the payload need
/// not be there).
#[derive(Debug, Clone, Copy)]
pub struct Seg<'p> {
    /// The headers and offsets.
    pub pkt: TcpPacket,
    /// The decoded TCP options.
    pub opts: TcpOptions,
    /// The packet, from the start of the IPv4 header.
    pub packet: &'p [u8],
    /// For a GSO/GRO packet (several segments in one buffer), the payload
    /// of each segment on the wire; 0 for a plain segment. The shell sets
    /// it from the `sk_buff`.
    pub gso_size: u32,
}

impl<'p> Seg<'p> {
    /// Parses `packet` (from the IPv4 header on); `None` unless it is an
    /// unfragmented TCP segment with intact headers.
    pub fn parse(packet: &'p [u8]) -> Option<Seg<'p>> {
        match classify(packet) {
            Class::Tcp(pkt) => Some(Seg::new(pkt, packet)),
            _ => None,
        }
    }

    /// A segment from an already classified packet.
    pub fn new(pkt: TcpPacket, packet: &'p [u8]) -> Seg<'p> {
        let opts = TcpOptions::parse(pkt.options(packet));
        Seg {
            pkt,
            opts,
            packet,
            gso_size: 0,
        }
    }

    /// The largest packet this segment puts on the wire, beyond the
    /// 40 bytes of IP and TCP headers without options: IP and TCP options
    /// plus the payload of one wire segment (what a peer's MSS bounds).
    pub fn wire_size_over_40(&self) -> u32 {
        let each = if self.gso_size > 0 {
            self.gso_size.min(self.payload_len())
        } else {
            self.payload_len()
        };
        let ip_opts = self
            .pkt
            .ip
            .header_len()
            .saturating_sub(ipv4::MIN_HEADER_LEN);
        let tcp_opts = self
            .pkt
            .tcp
            .header_len()
            .saturating_sub(tcp::MIN_HEADER_LEN);
        let opts = u32::try_from(ip_opts.saturating_add(tcp_opts)).unwrap_or(u32::MAX);
        each.saturating_add(opts)
    }

    /// The sender.
    pub fn src(&self) -> Endpoint {
        Endpoint::new(self.pkt.ip.src, self.pkt.tcp.src_port)
    }

    /// The receiver.
    pub fn dst(&self) -> Endpoint {
        Endpoint::new(self.pkt.ip.dst, self.pkt.tcp.dst_port)
    }

    /// The flow key of a segment sent by the client (client = source).
    pub fn key_from_client(&self) -> FlowKey {
        FlowKey::new(self.src(), self.dst())
    }

    /// The flow key of a segment sent to the client (client = destination).
    pub fn key_to_client(&self) -> FlowKey {
        FlowKey::new(self.dst(), self.src())
    }

    /// The flags.
    pub fn flags(&self) -> Flags {
        self.pkt.tcp.flags
    }

    /// The sequence number.
    pub fn seq(&self) -> u32 {
        self.pkt.tcp.seq
    }

    /// The acknowledgment number (meaningful only with ACK set).
    pub fn ack(&self) -> u32 {
        self.pkt.tcp.ack
    }

    /// The raw window field.
    pub fn window(&self) -> u16 {
        self.pkt.tcp.window
    }

    /// Payload length according to the IP header (at most 65535).
    pub fn payload_len(&self) -> u32 {
        u32::try_from(self.pkt.payload_len).unwrap_or(u32::MAX)
    }

    /// Sequence space the segment occupies: payload, plus one each for
    /// SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.pkt.tcp.seq_len(self.payload_len())
    }

    /// The sequence number just past the segment.
    pub fn end_seq(&self) -> u32 {
        self.seq().wrapping_add(self.seq_len())
    }

    /// The `(TSval, TSecr)` pair, if the segment carries timestamps.
    pub fn timestamps(&self) -> Option<(u32, u32)> {
        self.opts.timestamps
    }
}

/// TTL of crafted packets (Linux's default).
pub const CRAFTED_TTL: u8 = 64;

/// A segment a machine wants sent or injected, by its fields.
///
/// Crafted packets carry a 20-byte IPv4 header with DF set, ID 0, TOS 0
/// and TTL [`CRAFTED_TTL`], and the options below in Linux's layout (see
/// [`super::build::write_tcp_options`]); nothing else, so an option we do
/// not understand is never echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutSegment {
    /// Source.
    pub src: Endpoint,
    /// Destination.
    pub dst: Endpoint,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 unless ACK is set).
    pub ack: u32,
    /// Flags.
    pub flags: Flags,
    /// Raw window field.
    pub window: u16,
    /// MSS option (SYNs only).
    pub mss: Option<u16>,
    /// Window scale option (SYNs only).
    pub wscale: Option<u8>,
    /// SACK-permitted option (SYNs only).
    pub sack_perm: bool,
    /// Timestamps option `(TSval, TSecr)`.
    pub ts: Option<(u32, u32)>,
    /// Offset of the payload in the flow's request buffer.
    pub payload_off: u32,
    /// Payload length (0: no payload).
    pub payload_len: u32,
}

impl OutSegment {
    /// The TCP options, for [`super::build`].
    pub fn tcp_options(&self) -> TcpOptions {
        TcpOptions {
            mss: self.mss,
            wscale: self.wscale,
            sack_permitted: self.sack_perm,
            timestamps: self.ts,
            ..TcpOptions::default()
        }
    }

    /// The TCP header (checksum and data offset are computed on writing).
    pub fn tcp_header(&self) -> TcpHeader {
        TcpHeader {
            src_port: self.src.port,
            dst_port: self.dst.port,
            seq: self.seq,
            ack: self.ack,
            data_offset: 0,
            reserved: 0,
            flags: self.flags,
            window: self.window,
            checksum: 0,
            urgent: 0,
        }
    }

    /// The IPv4 header (total length and checksum are computed on writing).
    pub fn ip_header(&self) -> Ipv4Header {
        Ipv4Header {
            ihl: 5,
            tos: 0,
            total_len: 0,
            id: 0,
            frag: ipv4::FLAG_DF,
            ttl: CRAFTED_TTL,
            protocol: ipv4::PROTO_TCP,
            checksum: 0,
            src: self.src.addr,
            dst: self.dst.addr,
        }
    }

    /// The payload bytes within `reqbuf`, the flow's request buffer.
    ///
    /// # Errors
    ///
    /// [`BuildError::BufferTooSmall`] if they are not all in `reqbuf`.
    pub fn payload<'b>(&self, reqbuf: &'b [u8]) -> Result<&'b [u8], BuildError> {
        let off = usize::try_from(self.payload_off).map_err(|_| BuildError::BufferTooSmall)?;
        let len = usize::try_from(self.payload_len).map_err(|_| BuildError::BufferTooSmall)?;
        let end = off.checked_add(len).ok_or(BuildError::BufferTooSmall)?;
        reqbuf.get(off..end).ok_or(BuildError::BufferTooSmall)
    }

    /// Length of the whole IPv4 packet [`OutSegment::write`] produces.
    pub fn packet_len(&self) -> usize {
        let olen = write_tcp_options(&mut [0u8; tcp::MAX_OPTIONS_LEN], &self.tcp_options())
            .unwrap_or(tcp::MAX_OPTIONS_LEN);
        (ipv4::MIN_HEADER_LEN + tcp::MIN_HEADER_LEN)
            .saturating_add(olen)
            .saturating_add(usize::try_from(self.payload_len).unwrap_or(usize::MAX))
    }

    /// Writes the IPv4 packet at the start of `buf`, taking the payload
    /// from `reqbuf` (the flow's request buffer; pass `&[]` when
    /// [`OutSegment::payload_len`] is 0). Returns its length.
    ///
    /// # Errors
    ///
    /// As [`write_ipv4_tcp`], and [`BuildError::BufferTooSmall`] if the
    /// payload is not in `reqbuf`.
    pub fn write(&self, buf: &mut [u8], reqbuf: &[u8]) -> Result<usize, BuildError> {
        let payload = self.payload(reqbuf)?;
        write_ipv4_tcp(
            buf,
            &self.ip_header(),
            &self.tcp_header(),
            &self.tcp_options(),
            payload,
        )
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::csum;
    use super::super::testdata::{GET_REQUEST, LINUX_SYN};
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let out = OutSegment {
            src: Endpoint::new(0x0a00_0001, 80),
            dst: Endpoint::new(0x0a00_0002, 40000),
            seq: 7,
            ack: 9,
            flags: Flags::ACK | Flags::PSH,
            window: 100,
            ts: Some((5, 6)),
            payload_off: 2,
            payload_len: 3,
            ..OutSegment::default()
        };
        let mut buf = [0u8; 128];
        let n = out.write(&mut buf, b"abcdef").unwrap();
        assert_eq!(n, out.packet_len());
        let seg = Seg::parse(&buf[..n]).unwrap();
        assert_eq!(seg.src(), out.src);
        assert_eq!(seg.dst(), out.dst);
        assert_eq!((seg.seq(), seg.ack(), seg.window()), (7, 9, 100));
        assert_eq!(seg.timestamps(), Some((5, 6)));
        assert_eq!(seg.pkt.payload(&buf[..n]), b"cde");
        assert_eq!(seg.seq_len(), 3);
        assert_eq!(seg.end_seq(), 10);
        assert!(csum::verify_tcp_ipv4(
            out.src.addr,
            out.dst.addr,
            &buf[20..n]
        ));
        assert!(csum::verify_ipv4_header(&buf[..20]));
        assert_eq!(buf[6] & 0x40, 0x40, "DF");
        assert_eq!(out.write(&mut buf, b"ab"), Err(BuildError::BufferTooSmall));
    }

    #[test]
    fn keys_and_lengths() {
        let syn = Seg::parse(&LINUX_SYN).unwrap();
        assert_eq!(syn.key_from_client().client, syn.src());
        assert_eq!(syn.key_to_client().client, syn.dst());
        assert_eq!(syn.seq_len(), 1);
        let get = Seg::parse(&GET_REQUEST).unwrap();
        assert_eq!(get.payload_len(), 27);
        assert!(Seg::parse(&GET_REQUEST[..30]).is_none());
    }
}
