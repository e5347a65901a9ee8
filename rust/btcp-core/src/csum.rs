//! Internet checksum (RFC 1071) and incremental updates (RFC 1624).
//!
//! Sums here are folded 16-bit ones-complement sums, not complemented; a
//! checksum field holds the complement of the sum over the data with that
//! field taken as zero. A folded sum is 0x0000 only when every byte is zero,
//! so for real headers it is in 1..=0xFFFF, and the checksum is never 0xFFFF.
//!
//! The kernel shell fixes checksums of packets it rewrites with
//! `inet_proto_csum_replace*`, which also handles `CHECKSUM_PARTIAL` skbs;
//! these functions are for crafted packets, host tests and checking.

use super::ipv4;
use super::tcp;

/// Ones-complement addition of two 16-bit values (end-around carry).
pub fn add(a: u16, b: u16) -> u16 {
    let (s, carry) = a.overflowing_add(b);
    // With a carry `s` is at most 0xFFFE, so adding it back cannot wrap.
    s.wrapping_add(u16::from(carry))
}

/// Folds a wide sum of 16-bit words into 16 bits with end-around carries.
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    // The loop leaves at most 16 significant bits.
    (sum & 0xffff) as u16
}

/// Folded ones-complement sum of `data` as big-endian 16-bit words; an odd
/// final byte is padded with a zero byte. Exact for any slice shorter than
/// 2^48 bytes.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        let (hi, lo) = match *w {
            [hi, lo] => (hi, lo),
            _ => (0, 0),
        };
        acc = acc.wrapping_add(u64::from(u16::from_be_bytes([hi, lo])));
    }
    if let Some(&last) = words.remainder().first() {
        acc = acc.wrapping_add(u64::from(u16::from_be_bytes([last, 0])));
    }
    fold(acc)
}

/// The checksum of `data`: the complement of its sum.
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// Sum of the IPv4 pseudo-header (RFC 9293 3.1) for a transport segment of
/// `len` bytes. Addresses in host order.
pub fn pseudo_header_sum(src: u32, dst: u32, protocol: u8, len: u16) -> u16 {
    let words = [
        src >> 16,
        src & 0xffff,
        dst >> 16,
        dst & 0xffff,
        u32::from(protocol),
        u32::from(len),
    ];
    fold(
        words
            .iter()
            .fold(0u64, |acc, &w| acc.wrapping_add(u64::from(w))),
    )
}

/// TCP checksum of `segment` (header, options and payload) sent from `src`
/// to `dst`, ignoring whatever its checksum field holds. `None` if the
/// segment is shorter than a TCP header or longer than 65535 bytes.
pub fn tcp_ipv4_checksum(src: u32, dst: u32, segment: &[u8]) -> Option<u16> {
    if segment.len() < tcp::MIN_HEADER_LEN {
        return None;
    }
    let len = u16::try_from(segment.len()).ok()?;
    let before = segment.get(..tcp::OFF_CHECKSUM)?;
    let after = segment.get(tcp::OFF_CHECKSUM.checked_add(2)?..)?;
    // Both parts start at even offsets, so their sums simply add.
    let s = add(
        add(
            pseudo_header_sum(src, dst, ipv4::PROTO_TCP, len),
            sum(before),
        ),
        sum(after),
    );
    Some(!s)
}

/// Whether `segment`'s TCP checksum is right for `src` -> `dst`.
pub fn verify_tcp_ipv4(src: u32, dst: u32, segment: &[u8]) -> bool {
    let Ok(len) = u16::try_from(segment.len()) else {
        return false;
    };
    add(
        pseudo_header_sum(src, dst, ipv4::PROTO_TCP, len),
        sum(segment),
    ) == 0xffff
}

/// IPv4 header checksum of `header` (exactly the header bytes, options
/// included), ignoring whatever its checksum field holds. `None` if shorter
/// than 20 bytes.
pub fn ipv4_header_checksum(header: &[u8]) -> Option<u16> {
    if header.len() < ipv4::MIN_HEADER_LEN {
        return None;
    }
    let before = header.get(..ipv4::OFF_CHECKSUM)?;
    let after = header.get(ipv4::OFF_CHECKSUM.checked_add(2)?..)?;
    Some(!add(sum(before), sum(after)))
}

/// Whether the checksum of `header` (exactly the header bytes) is right.
pub fn verify_ipv4_header(header: &[u8]) -> bool {
    header.len() >= ipv4::MIN_HEADER_LEN && sum(header) == 0xffff
}

/// New checksum after a 16-bit word of the data changed from `old` to
/// `new`: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`.
///
/// Unlike eqn. 2 this never produces 0xFFFF for nonzero data, and it equals
/// a full recomputation whenever the data after the change is not all
/// zeros, which always holds for an IPv4 header (version nibble) and for a
/// TCP segment (the pseudo-header carries protocol 6).
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    !add(add(!csum, !old), new)
}

/// [`update16`] for an aligned 32-bit field such as an address, a sequence
/// number or a timestamp.
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let s = add(!csum, !hi(old));
    let s = add(s, !lo(old));
    let s = add(s, hi(new));
    !add(s, lo(new))
}

/// [`update16`] for bytes at `offset` in the checksummed data changing from
/// `old` to `new`, for any offset and length (the shorter slice counts as
/// zero-padded). An odd offset puts each byte in the other half of its
/// word; RFC 1071's byte-order independence lets us sum as if aligned and
/// swap.
pub fn update_bytes(csum: u16, offset: usize, old: &[u8], new: &[u8]) -> u16 {
    let (mut o, mut n) = (sum(old), sum(new));
    if offset % 2 == 1 {
        o = o.swap_bytes();
        n = n.swap_bytes();
    }
    !add(add(!csum, !o), n)
}

fn hi(v: u32) -> u16 {
    // Truncation is the point: the upper word.
    (v >> 16) as u16
}

fn lo(v: u32) -> u16 {
    // Truncation is the point: the lower word.
    (v & 0xffff) as u16
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

    const C: u32 = 0xc0a8_0068;
    const S: u32 = 0xc0a8_0001;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these bytes is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[]), 0);
        assert_eq!(sum(&[0, 0, 0]), 0);
    }

    #[test]
    fn add_and_fold_carry_around() {
        assert_eq!(add(0xffff, 0x0001), 0x0001);
        assert_eq!(add(0xffff, 0xffff), 0xffff);
        assert_eq!(add(0x8000, 0x8000), 0x0001);
        assert_eq!(add(0, 0), 0);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0xffff_ffff_ffff_ffff), 0xffff);
        assert_eq!(fold(0), 0);
    }

    #[test]
    fn real_packets_verify() {
        for (p, src, dst) in [
            (&LINUX_SYN[..], C, S),
            (&LINUX_SYNACK[..], S, C),
            (&LINUX_ACK_SACK[..], C, S),
            (&GET_REQUEST[..], C, S),
        ] {
            assert!(verify_ipv4_header(&p[..20]));
            assert_eq!(
                ipv4_header_checksum(&p[..20]),
                Some(u16::from_be_bytes([p[10], p[11]]))
            );
            let seg = &p[20..];
            assert!(verify_tcp_ipv4(src, dst, seg));
            assert!(!verify_tcp_ipv4(dst, src ^ 1, seg));
            assert_eq!(
                tcp_ipv4_checksum(src, dst, seg),
                Some(u16::from_be_bytes([seg[16], seg[17]]))
            );
        }
    }

    #[test]
    fn corrupted_packets_do_not_verify() {
        let mut p = GET_REQUEST;
        p[60] ^= 0x01;
        assert!(!verify_tcp_ipv4(C, S, &p[20..]));
        p[8] = 63;
        assert!(!verify_ipv4_header(&p[..20]));
        assert!(!verify_ipv4_header(&p[..19]));
    }

    #[test]
    fn length_limits() {
        assert_eq!(tcp_ipv4_checksum(C, S, &[0; 19]), None);
        assert_eq!(ipv4_header_checksum(&[0; 19]), None);
        let big = [0u8; 65536];
        assert_eq!(tcp_ipv4_checksum(C, S, &big), None);
        assert!(!verify_tcp_ipv4(C, S, &big));
        assert!(tcp_ipv4_checksum(C, S, &big[..65535]).is_some());
    }

    #[test]
    fn rfc1624_example_gives_zero_not_ffff() {
        // RFC 1624 section 4: eqn. 2 would give 0xFFFF here; eqn. 3 gives 0.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn update32_follows_a_dnat() {
        // Rewrite the SYN's destination 192.168.0.1 -> 10.0.0.2, as the FE does.
        let mut p = LINUX_SYN;
        let new_dst: u32 = 0x0a00_0002;
        let ip_c = update32(u16::from_be_bytes([p[10], p[11]]), S, new_dst);
        let tcp_c = update32(u16::from_be_bytes([p[36], p[37]]), S, new_dst);
        p[16..20].copy_from_slice(&new_dst.to_be_bytes());
        assert_eq!(Some(ip_c), ipv4_header_checksum(&p[..20]));
        assert_eq!(Some(tcp_c), tcp_ipv4_checksum(C, new_dst, &p[20..]));
    }

    #[test]
    fn update16_and_update_bytes_follow_field_changes() {
        let mut p = LINUX_ACK_SACK;
        let seg_c = u16::from_be_bytes([p[36], p[37]]);
        // Window 502 -> 0x1234 (bytes 34..36 of the packet, offset 14 of the segment).
        let c1 = update16(seg_c, 502, 0x1234);
        // TS echo at segment offset 28..32 via the byte-range helper.
        let old: [u8; 4] = p[48..52].try_into().unwrap();
        let new = [0xde, 0xad, 0xbe, 0xef];
        let c2 = update_bytes(c1, 28, &old, &new);
        p[34..36].copy_from_slice(&0x1234u16.to_be_bytes());
        p[48..52].copy_from_slice(&new);
        assert_eq!(Some(c2), tcp_ipv4_checksum(C, S, &p[20..]));
    }

    #[test]
    fn update_bytes_at_odd_offsets() {
        let mut data = *b"\x45\x00hello, checksum world";
        let c0 = checksum(&data);
        let mut c = c0;
        for (off, new) in [
            (3usize, &b"J"[..]),
            (5, b"xyz"),
            (0, b"\x46\x01"),
            (7, b""),
            (21, b"!"),
        ] {
            let mut old = [0u8; 3];
            old[..new.len()].copy_from_slice(&data[off..off + new.len()]);
            c = update_bytes(c, off, &old[..new.len()], new);
            data[off..off + new.len()].copy_from_slice(new);
            assert_eq!(c, checksum(&data), "offset {off}");
        }
        assert_ne!(c, c0);
    }
}
