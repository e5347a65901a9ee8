//! TCP options: a raw iterator, typed decoding and a summary.
//!
//! Defined behaviour for bad input, matching what Linux's
//! `tcp_parse_options()` does where it has an opinion:
//! - EOL ends the list; whatever follows it is padding and is ignored.
//! - NOP is skipped.
//! - A kind whose length byte is missing, is below 2, or runs past the end
//!   of the area ends the list: the iterator yields one error and stops,
//!   because nothing after it can be delimited. The summary keeps what it
//!   had and sets `malformed`.
//! - A known kind with the wrong length for it is ignored and sets
//!   `malformed`; parsing goes on with the next option.
//! - A known kind seen again: the first well-formed one wins and
//!   `duplicate` is set.
//! - Unknown kinds are counted and remembered in a bitmap, never decoded.

use super::bytes::{read_u16, read_u32};

/// End of option list.
pub const KIND_EOL: u8 = 0;
/// No-operation (padding).
pub const KIND_NOP: u8 = 1;
/// Maximum segment size (RFC 9293).
pub const KIND_MSS: u8 = 2;
/// Window scale (RFC 7323).
pub const KIND_WSCALE: u8 = 3;
/// SACK permitted (RFC 2018).
pub const KIND_SACK_PERMITTED: u8 = 4;
/// SACK blocks (RFC 2018).
pub const KIND_SACK: u8 = 5;
/// Timestamps (RFC 7323).
pub const KIND_TIMESTAMPS: u8 = 8;

/// Total length of an MSS option.
pub const LEN_MSS: usize = 4;
/// Total length of a window scale option.
pub const LEN_WSCALE: usize = 3;
/// Total length of a SACK-permitted option.
pub const LEN_SACK_PERMITTED: usize = 2;
/// Total length of a timestamps option.
pub const LEN_TIMESTAMPS: usize = 10;
/// Length of one SACK block (left and right edge).
pub const LEN_SACK_BLOCK: usize = 8;
/// Most SACK blocks an option can carry in 40 bytes of options.
pub const MAX_SACK_BLOCKS: usize = 4;
/// Largest window scale shift; larger values are treated as this (RFC 7323 2.3).
pub const MAX_WSCALE: u8 = 14;

/// One kind/length/data option as found on the wire (never EOL or NOP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Option kind.
    pub kind: u8,
    /// Offset of the kind byte within the options area.
    pub offset: usize,
    /// The option's data, after the kind and length bytes.
    pub data: &'a [u8],
}

impl<'a> RawOption<'a> {
    /// Length of the whole option, kind and length bytes included (the
    /// value of the length byte).
    pub fn total_len(&self) -> usize {
        self.data.len().saturating_add(2)
    }

    /// Decodes the option by kind, checking its length.
    pub fn decode(&self) -> TcpOption<'a> {
        let bad = TcpOption::BadLength {
            kind: self.kind,
            data: self.data,
        };
        if !valid_len(self.kind, self.total_len()) {
            return bad;
        }
        let decoded = match self.kind {
            KIND_MSS => read_u16(self.data, 0).map(TcpOption::Mss),
            KIND_WSCALE => self.data.first().copied().map(TcpOption::WindowScale),
            KIND_SACK_PERMITTED => Some(TcpOption::SackPermitted),
            KIND_TIMESTAMPS => read_u32(self.data, 0)
                .zip(read_u32(self.data, 4))
                .map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }),
            KIND_SACK => SackBlocks::from_bytes(self.data).map(TcpOption::Sack),
            kind => Some(TcpOption::Unknown {
                kind,
                data: self.data,
            }),
        };
        decoded.unwrap_or(bad)
    }
}

/// Whether `total_len` is a valid length for an option of `kind`; any
/// length is valid for kinds we do not know.
pub fn valid_len(kind: u8, total_len: usize) -> bool {
    match kind {
        KIND_MSS => total_len == LEN_MSS,
        KIND_WSCALE => total_len == LEN_WSCALE,
        KIND_SACK_PERMITTED => total_len == LEN_SACK_PERMITTED,
        KIND_TIMESTAMPS => total_len == LEN_TIMESTAMPS,
        KIND_SACK => {
            // Whole blocks only (written without `%`: clippy's
            // is_multiple_of suggestion would need rustc 1.87).
            let bytes = total_len.saturating_sub(2);
            let n = bytes / LEN_SACK_BLOCK;
            (1..=MAX_SACK_BLOCKS).contains(&n) && n.checked_mul(LEN_SACK_BLOCK) == Some(bytes)
        }
        _ => true,
    }
}

/// Up to [`MAX_SACK_BLOCKS`] SACK blocks, as (left edge, right edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    /// The blocks; only the first `count` are meaningful.
    pub blocks: [(u32, u32); MAX_SACK_BLOCKS],
    /// How many blocks are meaningful.
    pub count: u8,
}

impl SackBlocks {
    /// Decodes the data of a SACK option; `None` unless it is 1 to 4 whole blocks.
    pub fn from_bytes(data: &[u8]) -> Option<SackBlocks> {
        if !valid_len(KIND_SACK, data.len().saturating_add(2)) {
            return None;
        }
        let mut out = SackBlocks::default();
        for (slot, chunk) in out.blocks.iter_mut().zip(data.chunks(LEN_SACK_BLOCK)) {
            *slot = (read_u32(chunk, 0)?, read_u32(chunk, 4)?);
            out.count = out.count.saturating_add(1);
        }
        Some(out)
    }

    /// The meaningful blocks.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        self.blocks.get(..usize::from(self.count)).unwrap_or(&[])
    }
}

/// A decoded option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift as sent (not clamped).
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks.
    Sack(SackBlocks),
    /// Timestamps.
    Timestamps {
        /// The sender's timestamp value.
        tsval: u32,
        /// The echoed timestamp.
        tsecr: u32,
    },
    /// A known kind whose length is wrong for it.
    BadLength {
        /// Option kind.
        kind: u8,
        /// The data as found.
        data: &'a [u8],
    },
    /// A kind we do not interpret.
    Unknown {
        /// Option kind.
        kind: u8,
        /// The data as found.
        data: &'a [u8],
    },
}

/// How the option list was broken where [`RawOptions`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformation {
    /// A kind byte is the last byte of the area, so its length is missing.
    MissingLength,
    /// The length byte is 0 or 1, which cannot even cover kind and length.
    LengthTooSmall,
    /// The option runs past the end of the area.
    PastEnd,
}

/// The error item [`RawOptions`] yields before stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionError {
    /// Offset of the offending kind byte within the options area.
    pub offset: usize,
    /// The offending kind.
    pub kind: u8,
    /// What is wrong.
    pub reason: Malformation,
}

/// Iterator over the kind/length/data options of an options area.
///
/// Skips NOPs, stops at EOL or the end, and on a structurally broken
/// option yields one `Err` and then stops. Never reads out of bounds.
#[derive(Debug, Clone)]
pub struct RawOptions<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> RawOptions<'a> {
    /// Iterates over `opts`, the bytes between the fixed TCP header and the payload.
    pub fn new(opts: &'a [u8]) -> Self {
        RawOptions {
            buf: opts,
            pos: 0,
            done: false,
        }
    }

    fn fail(&mut self, kind: u8, reason: Malformation) -> Result<RawOption<'a>, OptionError> {
        self.done = true;
        Err(OptionError {
            offset: self.pos,
            kind,
            reason,
        })
    }
}

impl<'a> Iterator for RawOptions<'a> {
    type Item = Result<RawOption<'a>, OptionError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(&kind) = self.buf.get(self.pos) else {
                break;
            };
            match kind {
                KIND_EOL => break,
                KIND_NOP => {
                    self.pos = self.pos.saturating_add(1);
                }
                _ => {
                    let Some(&len) = self.buf.get(self.pos.saturating_add(1)) else {
                        return Some(self.fail(kind, Malformation::MissingLength));
                    };
                    let len = usize::from(len);
                    if len < 2 {
                        return Some(self.fail(kind, Malformation::LengthTooSmall));
                    }
                    let end = self.pos.saturating_add(len);
                    let Some(data) = self.buf.get(self.pos.saturating_add(2)..end) else {
                        return Some(self.fail(kind, Malformation::PastEnd));
                    };
                    let opt = RawOption {
                        kind,
                        offset: self.pos,
                        data,
                    };
                    self.pos = end;
                    return Some(Ok(opt));
                }
            }
        }
        self.done = true;
        None
    }
}

impl ::core::iter::FusedIterator for RawOptions<'_> {}

/// Finds the first well-formed option of `kind` in `opts` and returns its
/// (offset of the kind byte, total length).
///
/// "Well-formed" means a length valid for the kind (see [`valid_len`]), so
/// a caller rewriting timestamps or SACK blocks in place can rely on the
/// length; this is the same option [`TcpOptions::parse`] takes. EOL and NOP
/// are never found. Options after a structurally broken one are not seen.
pub fn find_option(opts: &[u8], kind: u8) -> Option<(usize, usize)> {
    RawOptions::new(opts)
        .map_while(Result::ok)
        .find(|o| o.kind == kind && valid_len(o.kind, o.total_len()))
        .map(|o| (o.offset, o.total_len()))
}

/// Summary of the options of one segment, for handshake and translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift, clamped to [`MAX_WSCALE`].
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps as (`TSval`, `TSecr`).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks as (left, right); only the first `sack_count` are meaningful.
    pub sack_blocks: [(u32, u32); MAX_SACK_BLOCKS],
    /// Number of meaningful entries in `sack_blocks`.
    pub sack_count: u8,
    /// Number of options of unknown kind (saturating).
    pub unknown_count: u8,
    /// Bitmap of unknown kinds seen: bit `k % 64` of word `k / 64`.
    pub unknown_kinds: [u64; 4],
    /// Some option was broken: a wrong length for its kind, or a length
    /// that made the rest of the list unreadable.
    pub malformed: bool,
    /// Some known kind appeared more than once (the first was kept).
    pub duplicate: bool,
}

impl TcpOptions {
    /// Summarises the options area `opts` following the rules in the module docs.
    pub fn parse(opts: &[u8]) -> TcpOptions {
        let mut out = TcpOptions::default();
        let mut seen_sack = false;
        for item in RawOptions::new(opts) {
            let Ok(raw) = item else {
                out.malformed = true;
                break;
            };
            match raw.decode() {
                TcpOption::Mss(v) => keep_first(&mut out.mss, v, &mut out.duplicate),
                TcpOption::WindowScale(v) => {
                    keep_first(&mut out.wscale, v.min(MAX_WSCALE), &mut out.duplicate);
                }
                TcpOption::SackPermitted => {
                    out.duplicate |= out.sack_permitted;
                    out.sack_permitted = true;
                }
                TcpOption::Timestamps { tsval, tsecr } => {
                    keep_first(&mut out.timestamps, (tsval, tsecr), &mut out.duplicate);
                }
                TcpOption::Sack(blocks) => {
                    if seen_sack {
                        out.duplicate = true;
                    } else {
                        seen_sack = true;
                        out.sack_blocks = blocks.blocks;
                        out.sack_count = blocks.count;
                    }
                }
                TcpOption::BadLength { .. } => out.malformed = true,
                TcpOption::Unknown { kind, .. } => out.note_unknown(kind),
            }
        }
        out
    }

    /// The meaningful SACK blocks.
    pub fn sacks(&self) -> &[(u32, u32)] {
        self.sack_blocks
            .get(..usize::from(self.sack_count))
            .unwrap_or(&[])
    }

    /// Whether an option of unknown `kind` was seen.
    pub fn saw_unknown(&self, kind: u8) -> bool {
        let (word, bit) = kind_bit(kind);
        self.unknown_kinds.get(word).is_some_and(|w| w & bit != 0)
    }

    fn note_unknown(&mut self, kind: u8) {
        self.unknown_count = self.unknown_count.saturating_add(1);
        let (word, bit) = kind_bit(kind);
        if let Some(w) = self.unknown_kinds.get_mut(word) {
            *w |= bit;
        }
    }
}

/// Word index and bit mask of `kind` in the unknown-kinds bitmap.
fn kind_bit(kind: u8) -> (usize, u64) {
    (usize::from(kind >> 6), 1u64 << (kind & 63))
}

/// Stores `v` unless a value is already there, in which case flags a duplicate.
fn keep_first<T>(slot: &mut Option<T>, v: T, duplicate: &mut bool) {
    if slot.is_some() {
        *duplicate = true;
    } else {
        *slot = Some(v);
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::testdata::{LINUX_ACK_SACK, LINUX_SYN};
    use super::*;

    fn syn_opts() -> &'static [u8] {
        &LINUX_SYN[40..60]
    }

    fn kinds(opts: &[u8]) -> ([(u8, usize); 12], usize, Option<OptionError>) {
        let mut out = [(0u8, 0usize); 12];
        let mut n = 0;
        let mut err = None;
        for item in RawOptions::new(opts) {
            match item {
                Ok(o) => {
                    out[n] = (o.kind, o.offset);
                    n += 1;
                }
                Err(e) => err = Some(e),
            }
        }
        (out, n, err)
    }

    #[test]
    fn linux_syn_summary() {
        let o = TcpOptions::parse(syn_opts());
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((0x0a1b_2c3d, 0)));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sacks().is_empty());
        assert_eq!(o.unknown_count, 0);
        assert!(!o.malformed && !o.duplicate);
    }

    #[test]
    fn linux_syn_raw() {
        let (k, n, err) = kinds(syn_opts());
        assert_eq!(
            &k[..n],
            &[
                (KIND_MSS, 0),
                (KIND_SACK_PERMITTED, 4),
                (KIND_TIMESTAMPS, 6),
                (KIND_WSCALE, 17)
            ]
        );
        assert_eq!(err, None);
        let ts = RawOptions::new(syn_opts()).nth(2).unwrap().unwrap();
        assert_eq!(ts.total_len(), 10);
        assert_eq!(
            ts.decode(),
            TcpOption::Timestamps {
                tsval: 0x0a1b_2c3d,
                tsecr: 0
            }
        );
    }

    #[test]
    fn linux_ack_with_sack() {
        let opts = &LINUX_ACK_SACK[40..72];
        let o = TcpOptions::parse(opts);
        assert_eq!(o.timestamps, Some((0x0a1b_2c50, 0x1122_3350)));
        assert_eq!(
            o.sacks(),
            &[(0x9988_7800, 0x9988_7900), (0x9988_7a00, 0x9988_7b00)]
        );
        assert_eq!(o.mss, None);
        assert!(!o.malformed && !o.duplicate);
        assert_eq!(find_option(opts, KIND_TIMESTAMPS), Some((2, 10)));
        assert_eq!(find_option(opts, KIND_SACK), Some((14, 18)));
        assert_eq!(find_option(opts, KIND_MSS), None);
        assert_eq!(find_option(opts, KIND_NOP), None);
        assert_eq!(find_option(opts, KIND_EOL), None);
    }

    #[test]
    fn empty_and_padding_only() {
        assert_eq!(TcpOptions::parse(&[]), TcpOptions::default());
        assert_eq!(TcpOptions::parse(&[1, 1, 1, 1]), TcpOptions::default());
        assert_eq!(TcpOptions::parse(&[0, 0, 0, 0]), TcpOptions::default());
        assert_eq!(RawOptions::new(&[1, 1, 0, 7]).count(), 0);
    }

    #[test]
    fn eol_ends_the_list_and_garbage_after_it_is_ignored() {
        let opts = [2, 4, 5, 0xb4, 0, 0xff, 0x00, 0x22, 8, 1];
        let o = TcpOptions::parse(&opts);
        assert_eq!(o.mss, Some(1460));
        assert!(!o.malformed);
        assert_eq!(o.unknown_count, 0);
        assert_eq!(find_option(&opts, 0x22), None);
    }

    #[test]
    fn zero_and_one_length_stop_the_list() {
        for len in [0u8, 1] {
            let opts = [2, 4, 5, 0xb4, 0x22, len, 3, 3, 7];
            let (k, n, err) = kinds(&opts);
            assert_eq!(&k[..n], &[(KIND_MSS, 0)]);
            assert_eq!(
                err,
                Some(OptionError {
                    offset: 4,
                    kind: 0x22,
                    reason: Malformation::LengthTooSmall
                })
            );
            let o = TcpOptions::parse(&opts);
            assert_eq!(o.mss, Some(1460));
            assert_eq!(o.wscale, None, "nothing after a broken length is trusted");
            assert!(o.malformed);
        }
    }

    #[test]
    fn missing_length_byte() {
        let (_, n, err) = kinds(&[1, 1, 1, 5]);
        assert_eq!(n, 0);
        assert_eq!(err.unwrap().reason, Malformation::MissingLength);
        assert_eq!(err.unwrap().offset, 3);
        assert!(TcpOptions::parse(&[1, 1, 1, 5]).malformed);
    }

    #[test]
    fn option_running_past_the_end() {
        let opts = [1, 8, 10, 0, 0, 0, 1];
        let (_, n, err) = kinds(&opts);
        assert_eq!(n, 0);
        assert_eq!(
            err,
            Some(OptionError {
                offset: 1,
                kind: 8,
                reason: Malformation::PastEnd
            })
        );
        let o = TcpOptions::parse(&opts);
        assert!(o.malformed && o.timestamps.is_none());
        assert_eq!(find_option(&opts, KIND_TIMESTAMPS), None);
        // The longest length byte on the shortest area.
        assert!(TcpOptions::parse(&[0x22, 0xff]).malformed);
    }

    #[test]
    fn iterator_is_fused_after_an_error() {
        let mut it = RawOptions::new(&[0x22, 0, 2, 4, 5, 0xb4]);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
        assert!(it.next().is_none());
    }

    #[test]
    fn wrong_length_for_a_known_kind_is_skipped() {
        // MSS with length 3, then a good window scale.
        let opts = [2, 3, 5, 1, 3, 3, 7, 0];
        let o = TcpOptions::parse(&opts);
        assert_eq!(o.mss, None);
        assert_eq!(o.wscale, Some(7));
        assert!(o.malformed && !o.duplicate);
        let first = RawOptions::new(&opts).next().unwrap().unwrap();
        assert_eq!(
            first.decode(),
            TcpOption::BadLength {
                kind: KIND_MSS,
                data: &[5]
            }
        );
        for bad in [
            &[8u8, 6, 0, 0, 0, 1][..],
            &[4, 3, 0],
            &[3, 2],
            &[3, 4, 7, 0],
            &[5, 2],
            &[5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let o = TcpOptions::parse(bad);
            assert!(o.malformed, "{bad:?}");
            assert_eq!(
                o,
                TcpOptions {
                    malformed: true,
                    ..TcpOptions::default()
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_bad_first_copy_does_not_hide_a_good_second() {
        let opts = [8, 6, 0, 0, 0, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 3];
        let o = TcpOptions::parse(&opts);
        assert_eq!(o.timestamps, Some((2, 3)));
        assert!(o.malformed && !o.duplicate);
        assert_eq!(find_option(&opts, KIND_TIMESTAMPS), Some((6, 10)));
    }

    #[test]
    fn duplicates_keep_the_first() {
        let opts = [
            2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18, // MSS 1460 then 536
            3, 3, 7, 3, 3, 2, // WS 7 then 2
            4, 2, 4, 2, // SACK_PERM twice
            8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // TS 1
            8, 10, 0, 0, 0, 9, 0, 0, 0, 0, // TS 9
        ];
        let o = TcpOptions::parse(&opts);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 0)));
        assert!(o.duplicate && !o.malformed);
        for pair in [&opts[..8], &opts[8..14], &opts[14..18], &opts[18..38]] {
            assert!(TcpOptions::parse(pair).duplicate, "{pair:?}");
        }
        let sacks = [5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4];
        let o = TcpOptions::parse(&sacks);
        assert_eq!(o.sacks(), &[(1, 2)]);
        assert!(o.duplicate);
        assert_eq!(find_option(&sacks, KIND_SACK), Some((0, 10)));
    }

    #[test]
    fn unknown_kinds_are_counted_not_decoded() {
        // TFO cookie request, MPTCP capable, experimental 254 with magic.
        let opts = [34, 2, 30, 4, 0, 0x81, 254, 4, 0xf9, 0x89, 2, 4, 5, 0xb4];
        let o = TcpOptions::parse(&opts);
        assert_eq!(o.unknown_count, 3);
        assert!(o.saw_unknown(34) && o.saw_unknown(30) && o.saw_unknown(254));
        assert!(!o.saw_unknown(2) && !o.saw_unknown(0) && !o.saw_unknown(255));
        assert_eq!(o.mss, Some(1460));
        assert!(!o.malformed && !o.duplicate);
        assert_eq!(find_option(&opts, 30), Some((2, 4)));
        let raw = RawOptions::new(&opts).next().unwrap().unwrap();
        assert_eq!(
            raw.decode(),
            TcpOption::Unknown {
                kind: 34,
                data: &[]
            }
        );
        // The count saturates.
        let mut many = [2u8; 600];
        for k in many.iter_mut().step_by(2) {
            *k = 0x22;
        }
        assert_eq!(TcpOptions::parse(&many).unknown_count, u8::MAX);
    }

    #[test]
    fn window_scale_is_clamped() {
        let o = TcpOptions::parse(&[3, 3, 15]);
        assert_eq!(o.wscale, Some(MAX_WSCALE));
        assert_eq!(TcpOptions::parse(&[3, 3, 255]).wscale, Some(14));
        assert_eq!(TcpOptions::parse(&[3, 3, 14]).wscale, Some(14));
        // The raw decoding keeps what was sent.
        let raw = RawOptions::new(&[3, 3, 15]).next().unwrap().unwrap();
        assert_eq!(raw.decode(), TcpOption::WindowScale(15));
    }

    #[test]
    fn sack_lengths() {
        assert!(!valid_len(KIND_SACK, 2));
        for n in 1..=4 {
            assert!(valid_len(KIND_SACK, 2 + 8 * n));
            assert!(!valid_len(KIND_SACK, 3 + 8 * n));
        }
        assert!(!valid_len(KIND_SACK, 2 + 8 * 5));
        // Five blocks only fit in a longer area than TCP allows, but the
        // iterator does not care: the decoder must refuse it.
        let mut five = [0u8; 42];
        five[0] = 5;
        five[1] = 42;
        let o = TcpOptions::parse(&five);
        assert!(o.malformed && o.sacks().is_empty());
        let mut four = [0u8; 34];
        four[0] = 5;
        four[1] = 34;
        assert_eq!(TcpOptions::parse(&four).sack_count, 4);
        assert_eq!(
            SackBlocks::from_bytes(&[0; 8]).unwrap().as_slice(),
            &[(0, 0)]
        );
        assert!(SackBlocks::from_bytes(&[0; 7]).is_none());
        assert!(SackBlocks::from_bytes(&[]).is_none());
    }
}
