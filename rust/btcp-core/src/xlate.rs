//! Packet translation between the front-end's and the back-end's views of
//! a handed-off connection (Documentation/handoff.md, steps 6, 7 and 9), as a list of
//! field edits.
//!
//! A translation is not applied here but described: each [`Edit`] names a
//! field by its offset from the start of the IPv4 header, its width, its
//! old and new value, and whether it is an address (which the IP header
//! checksum and the TCP pseudo-header cover) or a TCP field (covered by the
//! TCP checksum only). The kernel shell applies them with its own helpers,
//! which are right for every `ip_summed` state (`CHECKSUM_PARTIAL` skbs
//! from GRO or the local stack included):
//!
//! ```text
//! for e in edits:
//!     write e.new (big-endian, e.width bytes) at e.offset
//!     IpAddr:   csum_replace4(&iph->check, htonl(e.old), htonl(e.new));
//!               inet_proto_csum_replace4(&th->check, skb, htonl(e.old), htonl(e.new), true);
//!     TcpField: width 4: inet_proto_csum_replace4(&th->check, skb,
//!                            htonl(e.csum_old()), htonl(e.csum_new()), false);
//!               width 2: inet_proto_csum_replace2(&th->check, skb,
//!                            htons(e.csum_old()), htons(e.csum_new()), false);
//! ```
//!
//! [`Edit::csum_old`] and [`Edit::csum_new`] differ from `old` and `new`
//! only for a field at an odd offset (a timestamp or SACK block in an
//! unusual option layout): the ones-complement sum is byte-order
//! independent, so such a field counts as its value rotated by one byte.
//! (Equivalently, as the shell's `btcp_skb_rewrite` does: take the
//! difference of `old` and `new` with `csum_partial`, `csum_shift` it by
//! the field's offset in the TCP header, and apply it with
//! `inet_proto_csum_replace_by_diff`.) Host code and tests use [`apply`],
//! which does the same with [`super::csum`]. An [`Edit`] maps one to one
//! onto the shell's `FieldEdit` (`is_addr` is `kind == IpAddr`), and
//! [`MAX_EDITS`] is below its limit of 16.
//!
//! The translations (ISN_f, ISN_b: the front-end's and back-end's initial
//! sequence numbers; `ts_delta` chosen at handoff):
//!
//! | direction | field | rule |
//! | --- | --- | --- |
//! | FE ingress (client to BE) | daddr | V -> B (not for a local handoff) |
//! | | ack (with ACK set), each SACK edge | `x - ISN_f + ISN_b` |
//! | | TSecr | `ecr - ts_delta` |
//! | BE egress (BE to client) | saddr | B -> V (not for a local handoff) |
//! | | seq | `seq - ISN_b + ISN_f` |
//! | | TSval | `tsval + ts_delta` |
//! | | window (not on SYNs) | `min(65535, (win << ws_b) >> ws_f)` |
//!
//! The client's sequence space (its seq, the BE's ack and SACK blocks) and
//! the client's timestamps (its TSval, the BE's TSecr) are the same on both
//! sides and are left alone. Every timestamps and SACK option of a segment
//! is translated, not only the first: receivers differ on which copy wins.

use super::bytes::{read_u16, read_u32, write_u16, write_u32};
use super::csum;
use super::ipv4;
use super::segment::Seg;
use super::seq::Shift;
use super::tcp;
use super::tcp_options::{valid_len, RawOptions, KIND_SACK, KIND_TIMESTAMPS, MAX_WSCALE};

/// What a field's checksum coverage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EditKind {
    /// An IPv4 address: covered by the IP header checksum and by the TCP
    /// checksum through the pseudo-header.
    IpAddr,
    /// A TCP header or option field: covered by the TCP checksum only.
    #[default]
    TcpField,
}

/// One field change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Edit {
    /// Offset of the field from the start of the IPv4 header.
    pub offset: u16,
    /// Field width in bytes: 2 or 4.
    pub width: u8,
    /// The value the field holds (host order; for width 2, the low 16 bits).
    pub old: u32,
    /// The value to write.
    pub new: u32,
    /// Which checksums cover the field.
    pub kind: EditKind,
}

impl Edit {
    /// The old value as the checksum sees it: `old`, or, for a field at an
    /// odd offset, `old` rotated left by 8 bits within its width. Pass this
    /// (not `old`) to `inet_proto_csum_replace{2,4}`.
    pub fn csum_old(&self) -> u32 {
        self.csum_value(self.old)
    }

    /// The new value as the checksum sees it (see [`Edit::csum_old`]).
    pub fn csum_new(&self) -> u32 {
        self.csum_value(self.new)
    }

    fn csum_value(&self, v: u32) -> u32 {
        if self.offset & 1 == 0 {
            return v;
        }
        if self.width == 2 {
            // Truncation is the point: a 16-bit field.
            u32::from((v as u16).rotate_left(8))
        } else {
            v.rotate_left(8)
        }
    }
}

/// Why a translation could not be described or applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XlateError {
    /// More edits than [`MAX_EDITS`] (only a malformed option area can
    /// need that): drop the packet.
    TooManyEdits,
    /// An edit's field is not inside the packet, or the packet's headers
    /// are not there.
    OutOfBounds,
    /// A field does not hold the edit's `old` value: the edits are not for
    /// this packet.
    Mismatch,
    /// An edit's width is neither 2 nor 4.
    BadWidth,
}

impl XlateError {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            XlateError::TooManyEdits => "too many edits",
            XlateError::OutOfBounds => "edit out of bounds",
            XlateError::Mismatch => "edit does not match the packet",
            XlateError::BadWidth => "bad edit width",
        }
    }
}

impl ::core::fmt::Display for XlateError {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Room for the largest translation: an address, seq or ack, four SACK
/// blocks of two edges, TSval or TSecr, the window, and one spare.
pub const MAX_EDITS: usize = 13;

/// A fixed-capacity list of edits, in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edits {
    items: [Edit; MAX_EDITS],
    len: u8,
    /// Cut the payload to this many bytes first ([`trim_payload`]): a
    /// request that moves stays at the front-end; what came before it,
    /// and the acknowledgment, go on.
    pub keep: Option<u32>,
}

impl Edits {
    /// An empty list.
    pub fn new() -> Edits {
        Edits::default()
    }

    /// Adds an edit; one that changes nothing (`old == new`) is skipped.
    ///
    /// # Errors
    ///
    /// [`XlateError::TooManyEdits`] when full; [`XlateError::BadWidth`].
    pub fn push(&mut self, e: Edit) -> Result<(), XlateError> {
        if e.width != 2 && e.width != 4 {
            return Err(XlateError::BadWidth);
        }
        if e.old == e.new {
            return Ok(());
        }
        let slot = self
            .items
            .get_mut(usize::from(self.len))
            .ok_or(XlateError::TooManyEdits)?;
        *slot = e;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// The edits.
    pub fn as_slice(&self) -> &[Edit] {
        self.items.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many edits there are.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none (the packet goes on unchanged).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Iterates over the edits.
    pub fn iter(&self) -> ::core::slice::Iter<'_, Edit> {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a Edits {
    type Item = &'a Edit;
    type IntoIter = ::core::slice::Iter<'a, Edit>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

fn read_field(packet: &[u8], e: &Edit) -> Result<u32, XlateError> {
    let off = usize::from(e.offset);
    match e.width {
        2 => read_u16(packet, off).map(u32::from),
        4 => read_u32(packet, off),
        _ => return Err(XlateError::BadWidth),
    }
    .ok_or(XlateError::OutOfBounds)
}

/// Cuts a TCP segment's payload to its first `keep` bytes (`packet` from
/// the IPv4 header on, whole): a FIN, which came after the bytes cut, goes
/// too; the IPv4 total length and both checksums are set anew. Returns the
/// packet's new length (its old one if it carries no more than `keep`).
///
/// # Errors
///
/// [`XlateError::OutOfBounds`] if the headers are not in `packet`.
pub fn trim_payload(packet: &mut [u8], keep: u32) -> Result<usize, XlateError> {
    let oob = XlateError::OutOfBounds;
    let ihl = usize::from(packet.first().ok_or(oob)? & 0x0f).saturating_mul(4);
    let total = usize::from(read_u16(packet, 2).ok_or(oob)?);
    let doff = usize::from(packet.get(ihl.saturating_add(12)).ok_or(oob)? >> 4).saturating_mul(4);
    let start = ihl.saturating_add(doff);
    let len = start.saturating_add(usize::try_from(keep).unwrap_or(usize::MAX));
    if len >= total || total > packet.len() || start > total {
        return Ok(total);
    }
    let flags = packet.get_mut(ihl.saturating_add(13)).ok_or(oob)?;
    *flags &= !0x01;
    let new_total = u16::try_from(len).map_err(|_| oob)?;
    packet
        .get_mut(2..4)
        .ok_or(oob)?
        .copy_from_slice(&new_total.to_be_bytes());
    packet.get_mut(10..12).ok_or(oob)?.copy_from_slice(&[0, 0]);
    let ip = super::csum::ipv4_header_checksum(packet.get(..ihl).ok_or(oob)?).ok_or(oob)?;
    packet
        .get_mut(10..12)
        .ok_or(oob)?
        .copy_from_slice(&ip.to_be_bytes());
    let check = ihl.saturating_add(16);
    packet
        .get_mut(check..check.saturating_add(2))
        .ok_or(oob)?
        .copy_from_slice(&[0, 0]);
    let (src, dst) = (
        read_u32(packet, 12).ok_or(oob)?,
        read_u32(packet, 16).ok_or(oob)?,
    );
    let tcp =
        super::csum::tcp_ipv4_checksum(src, dst, packet.get(ihl..len).ok_or(oob)?).ok_or(oob)?;
    packet
        .get_mut(check..check.saturating_add(2))
        .ok_or(oob)?
        .copy_from_slice(&tcp.to_be_bytes());
    Ok(len)
}

/// Applies `edits` to `packet` (from the IPv4 header on, at least up to
/// the last edited field and the TCP checksum), updating the IPv4 header
/// and TCP checksums incrementally as the kernel helpers do. Checks
/// everything before writing anything: on error the packet is unchanged.
///
/// # Errors
///
/// [`XlateError::OutOfBounds`] if a field or a checksum is outside the
/// packet, [`XlateError::Mismatch`] if a field does not hold `old`.
pub fn apply(packet: &mut [u8], edits: &Edits) -> Result<(), XlateError> {
    let ihl = packet.first().ok_or(XlateError::OutOfBounds)? & 0x0f;
    let tcp_check = usize::from(ihl)
        .saturating_mul(4)
        .saturating_add(tcp::OFF_CHECKSUM);
    let mut tcp_sum = read_u16(packet, tcp_check).ok_or(XlateError::OutOfBounds)?;
    let mut ip_sum = read_u16(packet, ipv4::OFF_CHECKSUM).ok_or(XlateError::OutOfBounds)?;
    for e in edits {
        if read_field(packet, e)? != e.old {
            return Err(XlateError::Mismatch);
        }
    }
    for e in edits {
        let off = usize::from(e.offset);
        let written = if e.width == 2 {
            // Truncation is the point: a 16-bit field.
            write_u16(packet, off, e.new as u16)
        } else {
            write_u32(packet, off, e.new)
        };
        written.ok_or(XlateError::OutOfBounds)?;
        match e.kind {
            EditKind::IpAddr => {
                ip_sum = csum::update32(ip_sum, e.old, e.new);
                tcp_sum = csum::update32(tcp_sum, e.old, e.new);
            }
            EditKind::TcpField if e.width == 2 => {
                // Truncations are the point: 16-bit values.
                tcp_sum = csum::update16(tcp_sum, e.csum_old() as u16, e.csum_new() as u16);
            }
            EditKind::TcpField => {
                tcp_sum = csum::update32(tcp_sum, e.csum_old(), e.csum_new());
            }
        }
    }
    write_u16(packet, ipv4::OFF_CHECKSUM, ip_sum).ok_or(XlateError::OutOfBounds)?;
    write_u16(packet, tcp_check, tcp_sum).ok_or(XlateError::OutOfBounds)?;
    Ok(())
}

/// The per-flow translation state, identical at the front-end and the
/// back-end once the handoff is acknowledged (a few words: kept in both
/// flows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Xlate {
    /// The VIP `V`, the address the client talks to.
    pub vip: u32,
    /// The back-end's address `B`; equal to `vip` for a local handoff.
    pub be_addr: u32,
    /// The front-end's ISN (ISN_f).
    pub isn_fe: u32,
    /// The back-end stack's ISN (ISN_b).
    pub isn_be: u32,
    /// Added to the back-end's TSvals for the client; subtracted from the
    /// client's TSecrs for the back-end.
    pub ts_delta: u32,
    /// The back-end stack's window scale shift in effect (0 if none).
    pub ws_be: u8,
    /// The front-end's window scale shift the client applies (0 if none).
    pub ws_fe: u8,
}

impl Xlate {
    /// The translation for a handoff: `fe_tsval_last` is the last TSval
    /// the front-end sent the client, `tsval_be` the TSval of the back-end
    /// stack's SYN/ACK. Shifts above 14 count as 14.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vip: u32,
        be_addr: u32,
        isn_fe: u32,
        isn_be: u32,
        fe_tsval_last: u32,
        tsval_be: u32,
        ws_be: u8,
        ws_fe: u8,
    ) -> Xlate {
        Xlate {
            vip,
            be_addr,
            isn_fe,
            isn_be,
            ts_delta: Xlate::ts_delta_for(fe_tsval_last, tsval_be),
            ws_be: ws_be.min(MAX_WSCALE),
            ws_fe: ws_fe.min(MAX_WSCALE),
        }
    }

    /// `ts_delta` so that the back-end's first TSval, translated, is one
    /// past the last TSval the front-end sent: the client's PAWS check
    /// never sees time go backwards. `(fe_tsval_last + 1) - tsval_be`.
    pub fn ts_delta_for(fe_tsval_last: u32, tsval_be: u32) -> u32 {
        fe_tsval_last.wrapping_add(1).wrapping_sub(tsval_be)
    }

    /// Whether this is a local handoff (no address rewriting).
    pub fn is_local(&self) -> bool {
        self.vip == self.be_addr
    }

    /// The front-end's sequence space to the back-end's.
    pub fn seq_shift(&self) -> Shift {
        Shift::new(self.isn_fe, self.isn_be)
    }

    /// A sequence number of the back-end's space (its seq) in the
    /// front-end's (what the client sees).
    pub fn seq_to_client(&self, seq: u32) -> u32 {
        self.seq_shift().backward(seq)
    }

    /// An acknowledgment or SACK edge of the client (front-end space) in
    /// the back-end's space.
    pub fn ack_to_be(&self, ack: u32) -> u32 {
        self.seq_shift().forward(ack)
    }

    /// A back-end TSval as the client sees it.
    pub fn tsval_to_client(&self, tsval: u32) -> u32 {
        tsval.wrapping_add(self.ts_delta)
    }

    /// A client TSecr as the back-end sees it.
    pub fn tsecr_to_be(&self, tsecr: u32) -> u32 {
        tsecr.wrapping_sub(self.ts_delta)
    }

    /// A back-end window field rescaled for the client:
    /// `min(65535, (win << ws_be) >> ws_fe)`.
    pub fn window_to_client(&self, win: u16) -> u16 {
        let bytes = u64::from(win) << self.ws_be.min(MAX_WSCALE);
        let raw = bytes >> self.ws_fe.min(MAX_WSCALE);
        u16::try_from(raw).unwrap_or(u16::MAX)
    }

    /// The edits for a client segment at the front-end's ingress, on its
    /// way to the back-end: daddr to B, ack and SACK edges to the
    /// back-end's space, TSecr back to the back-end's clock.
    ///
    /// # Errors
    ///
    /// [`XlateError::TooManyEdits`] for a segment with a malformed option
    /// area (more SACK and timestamp options than fit): drop it.
    pub fn fe_ingress(&self, seg: &Seg<'_>) -> Result<Edits, XlateError> {
        let mut edits = Edits::new();
        edits.push(Edit {
            offset: field_offset(ipv4::OFF_DST)?,
            width: 4,
            old: seg.pkt.ip.dst,
            new: self.be_addr,
            kind: EditKind::IpAddr,
        })?;
        if seg.flags().ack() {
            edits.push(Edit {
                offset: field_offset(seg.pkt.tcp_offset.saturating_add(tcp::OFF_ACK))?,
                width: 4,
                old: seg.ack(),
                new: self.ack_to_be(seg.ack()),
                kind: EditKind::TcpField,
            })?;
        }
        for_each_option(seg, |kind, at, data_len| {
            if kind == KIND_TIMESTAMPS {
                // TSecr: the second word.
                let off = at.saturating_add(6);
                let old = read_u32(seg.packet, off).ok_or(XlateError::OutOfBounds)?;
                return edits.push(tcp_field(off, old, self.tsecr_to_be(old))?);
            }
            let mut off = at.saturating_add(2);
            let end = off.saturating_add(data_len);
            while off.saturating_add(4) <= end {
                let old = read_u32(seg.packet, off).ok_or(XlateError::OutOfBounds)?;
                edits.push(tcp_field(off, old, self.ack_to_be(old))?)?;
                off = off.saturating_add(4);
            }
            Ok(())
        })?;
        Ok(edits)
    }

    /// The edits for a back-end segment at the back-end's egress, on its
    /// way to the client: saddr to V, seq to the front-end's space, TSval
    /// to the client's view of our clock, window rescaled (except on
    /// SYNs, whose window is never scaled).
    ///
    /// # Errors
    ///
    /// [`XlateError::TooManyEdits`] for a segment with a malformed option
    /// area: drop it.
    pub fn be_egress(&self, seg: &Seg<'_>) -> Result<Edits, XlateError> {
        let mut edits = Edits::new();
        edits.push(Edit {
            offset: field_offset(ipv4::OFF_SRC)?,
            width: 4,
            old: seg.pkt.ip.src,
            new: self.vip,
            kind: EditKind::IpAddr,
        })?;
        edits.push(Edit {
            offset: field_offset(seg.pkt.tcp_offset.saturating_add(tcp::OFF_SEQ))?,
            width: 4,
            old: seg.seq(),
            new: self.seq_to_client(seg.seq()),
            kind: EditKind::TcpField,
        })?;
        if !seg.flags().syn() {
            edits.push(Edit {
                offset: field_offset(seg.pkt.tcp_offset.saturating_add(tcp::OFF_WINDOW))?,
                width: 2,
                old: u32::from(seg.window()),
                new: u32::from(self.window_to_client(seg.window())),
                kind: EditKind::TcpField,
            })?;
        }
        for_each_option(seg, |kind, at, _| {
            if kind != KIND_TIMESTAMPS {
                // The back-end's SACK blocks are in the client's space.
                return Ok(());
            }
            let off = at.saturating_add(2);
            let old = read_u32(seg.packet, off).ok_or(XlateError::OutOfBounds)?;
            edits.push(tcp_field(off, old, self.tsval_to_client(old))?)
        })?;
        Ok(edits)
    }
}

fn field_offset(off: usize) -> Result<u16, XlateError> {
    u16::try_from(off).map_err(|_| XlateError::OutOfBounds)
}

fn tcp_field(off: usize, old: u32, new: u32) -> Result<Edit, XlateError> {
    Ok(Edit {
        offset: field_offset(off)?,
        width: 4,
        old,
        new,
        kind: EditKind::TcpField,
    })
}

/// Calls `f(kind, offset of the kind byte from the IP header, data
/// length)` for every well-formed timestamps and SACK option of `seg`.
fn for_each_option<F>(seg: &Seg<'_>, mut f: F) -> Result<(), XlateError>
where
    F: FnMut(u8, usize, usize) -> Result<(), XlateError>,
{
    let base = seg.pkt.options_offset();
    for opt in RawOptions::new(seg.pkt.options(seg.packet)).map_while(Result::ok) {
        let wanted = opt.kind == KIND_TIMESTAMPS || opt.kind == KIND_SACK;
        if wanted && valid_len(opt.kind, opt.total_len()) {
            f(opt.kind, base.saturating_add(opt.offset), opt.data.len())?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::build::write_ipv4_tcp;
    use super::super::testdata::{GET_REQUEST, LINUX_ACK_SACK, LINUX_SYNACK};
    use super::super::{Flags, Ipv4Header, TcpHeader, TcpOptions};
    use super::*;

    const V: u32 = 0xc0a8_0001;
    const B: u32 = 0x0a00_0002;

    fn xl() -> Xlate {
        Xlate::new(V, B, 0x1122_3300, 0xfff0_0000, 0x1000, 0xffff_fff0, 2, 7)
    }

    fn verify(p: &[u8]) -> bool {
        let ip = Ipv4Header::parse(p).unwrap();
        csum::verify_ipv4_header(&p[..ip.header_len()])
            && csum::verify_tcp_ipv4(
                ip.src,
                ip.dst,
                &p[ip.header_len()..usize::from(ip.total_len)],
            )
    }

    #[test]
    fn fe_ingress_of_a_real_ack_with_sacks() {
        let x = xl();
        let mut p = LINUX_ACK_SACK;
        let seg = Seg::parse(&p).unwrap();
        let (ack, (tsval, tsecr)) = (seg.ack(), seg.timestamps().unwrap());
        let sacks = seg.opts;
        let edits = x.fe_ingress(&seg).unwrap();
        // daddr, ack, 2 SACK blocks x 2, TSecr.
        assert_eq!(edits.len(), 7);
        assert_eq!(edits.as_slice()[0].kind, EditKind::IpAddr);
        apply(&mut p, &edits).unwrap();
        assert!(verify(&p));
        let out = Seg::parse(&p).unwrap();
        assert_eq!(out.dst().addr, B);
        assert_eq!(
            out.ack(),
            ack.wrapping_sub(0x1122_3300).wrapping_add(0xfff0_0000)
        );
        assert_eq!(
            out.timestamps(),
            Some((tsval, tsecr.wrapping_sub(x.ts_delta)))
        );
        for (a, b) in sacks.sacks().iter().zip(out.opts.sacks()) {
            assert_eq!(b.0, x.ack_to_be(a.0));
            assert_eq!(b.1, x.ack_to_be(a.1));
        }
        // The same edits no longer match the rewritten packet.
        assert_eq!(apply(&mut p, &edits), Err(XlateError::Mismatch));
    }

    #[test]
    fn be_egress_of_real_data() {
        let x = xl();
        // GET_REQUEST stands in for a back-end data segment.
        let mut p = GET_REQUEST;
        let seg = Seg::parse(&GET_REQUEST).unwrap();
        let edits = x.be_egress(&seg).unwrap();
        apply(&mut p, &edits).unwrap();
        assert!(verify(&p));
        let out = Seg::parse(&p).unwrap();
        assert_eq!(out.src().addr, V);
        assert_eq!(out.seq(), x.seq_to_client(seg.seq()));
        assert_eq!(out.window(), x.window_to_client(seg.window()));
        let (tv, te) = seg.timestamps().unwrap();
        assert_eq!(out.timestamps(), Some((tv.wrapping_add(x.ts_delta), te)));
        assert_eq!(out.pkt.payload(&p), seg.pkt.payload(&GET_REQUEST));
    }

    #[test]
    fn syn_windows_are_not_rescaled() {
        let x = xl();
        let seg = Seg::parse(&LINUX_SYNACK).unwrap();
        let edits = x.be_egress(&seg).unwrap();
        assert!(edits.iter().all(|e| e.width == 4));
    }

    #[test]
    fn ts_delta_keeps_paws_happy() {
        let x = Xlate::new(V, B, 0, 0, 0xffff_fff0, 0x10, 0, 0);
        assert_eq!(x.tsval_to_client(0x10), 0xffff_fff1);
        assert!(super::super::seq::after(
            x.tsval_to_client(0x10),
            0xffff_fff0
        ));
        assert_eq!(x.tsecr_to_be(x.tsval_to_client(0x1234)), 0x1234);
    }

    #[test]
    fn window_rescaling() {
        let mut x = xl();
        assert_eq!(x.window_to_client(1024), 32);
        x.ws_be = 14;
        x.ws_fe = 0;
        assert_eq!(x.window_to_client(1), 16384);
        assert_eq!(x.window_to_client(65535), 65535);
        x.ws_be = 0;
        x.ws_fe = 7;
        assert_eq!(x.window_to_client(127), 0);
        assert_eq!(x.window_to_client(128), 1);
    }

    #[test]
    fn local_handoff_keeps_addresses() {
        let x = Xlate::new(V, V, 1, 2, 30, 4, 7, 7);
        assert!(x.is_local());
        let seg = Seg::parse(&LINUX_ACK_SACK).unwrap();
        let e = x.fe_ingress(&seg).unwrap();
        assert!(e.iter().all(|e| e.kind == EditKind::TcpField));
        // A segment from V (a SYN/ACK, so no window edit): seq and TSval only.
        let seg = Seg::parse(&LINUX_SYNACK).unwrap();
        let e = x.be_egress(&seg).unwrap();
        assert!(e.iter().all(|e| e.kind == EditKind::TcpField));
        assert_eq!(e.len(), 2);
    }

    /// An ACK from the client to V whose 20 option bytes are `opts`, with
    /// correct checksums.
    fn with_options(opts: &[u8; 20]) -> [u8; 60] {
        let ip = Ipv4Header {
            ihl: 5,
            ttl: 64,
            protocol: 6,
            src: 0x0a00_0001,
            dst: V,
            ..Ipv4Header::default()
        };
        let tcp = TcpHeader {
            src_port: 1234,
            dst_port: 80,
            seq: 1,
            ack: 0x1122_3310,
            flags: Flags::ACK,
            window: 100,
            ..TcpHeader::default()
        };
        let mut p = [0u8; 60];
        write_ipv4_tcp(&mut p, &ip, &tcp, &TcpOptions::default(), &[]).unwrap();
        p[40..60].copy_from_slice(opts);
        p[2..4].copy_from_slice(&60u16.to_be_bytes());
        p[32] = 10 << 4;
        p[10..12].fill(0);
        let c = csum::ipv4_header_checksum(&p[..20]).unwrap();
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[36..38].fill(0);
        let c = csum::tcp_ipv4_checksum(0x0a00_0001, V, &p[20..]).unwrap();
        p[36..38].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&p));
        p
    }

    #[test]
    fn odd_offsets_keep_checksums_right() {
        // An unknown 3-byte option puts the timestamps at an odd offset,
        // and a NOP then puts the SACK block at an odd offset too.
        let mut p = with_options(&[
            0x22, 3, 0, // unknown kind, length 3
            8, 10, 0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22, 0x33, 0x44, // TS
            1, 1, 1, 1, 1, 1, 0, // padding
        ]);
        let seg = Seg::parse(&p).unwrap();
        let edits = xl().fe_ingress(&seg).unwrap();
        let ecr = edits.iter().find(|e| e.offset == 40 + 3 + 6).unwrap();
        assert_eq!(ecr.offset % 2, 1);
        assert_eq!(ecr.csum_old(), ecr.old.rotate_left(8));
        apply(&mut p, &edits).unwrap();
        assert!(verify(&p));
        assert_eq!(
            Seg::parse(&p).unwrap().timestamps(),
            Some((0xaabb_ccdd, 0x1122_3344u32.wrapping_sub(xl().ts_delta)))
        );

        let mut p = with_options(&[
            1, 5, 10, 0x11, 0x22, 0x33, 0x20, 0x11, 0x22, 0x33, 0x40, // NOP + SACK
            1, 1, 1, 1, 1, 1, 1, 1, 0, // padding
        ]);
        let seg = Seg::parse(&p).unwrap();
        let edits = xl().fe_ingress(&seg).unwrap();
        assert_eq!(edits.len(), 4);
        apply(&mut p, &edits).unwrap();
        assert!(verify(&p));
        let out = Seg::parse(&p).unwrap();
        assert_eq!(
            out.opts.sacks(),
            &[(xl().ack_to_be(0x1122_3320), xl().ack_to_be(0x1122_3340))]
        );

        let odd = Edit {
            offset: 41,
            width: 2,
            old: 0x1234,
            new: 0x5678,
            kind: EditKind::TcpField,
        };
        assert_eq!((odd.csum_old(), odd.csum_new()), (0x3412, 0x7856));
    }

    #[test]
    fn edits_list_limits() {
        let mut e = Edits::new();
        let f = |i: u32| Edit {
            offset: 0,
            width: 4,
            old: i,
            new: i + 1,
            kind: EditKind::TcpField,
        };
        for i in 0..MAX_EDITS as u32 {
            e.push(f(i)).unwrap();
        }
        assert_eq!(e.push(f(99)), Err(XlateError::TooManyEdits));
        let mut e = Edits::new();
        e.push(Edit {
            old: 5,
            new: 5,
            ..f(0)
        })
        .unwrap();
        assert!(e.is_empty());
        assert_eq!(e.push(Edit { width: 3, ..f(0) }), Err(XlateError::BadWidth));
        let mut short = [0x45u8, 0, 0];
        assert_eq!(
            apply(&mut short, &Edits::new()),
            Err(XlateError::OutOfBounds)
        );
        assert_eq!(
            XlateError::Mismatch.as_str(),
            "edit does not match the packet"
        );
    }
}
