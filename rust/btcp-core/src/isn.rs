//! SipHash-2-4 and the front-end's initial sequence numbers and timestamp
//! offsets.
//!
//! The ISN follows RFC 6528: `ISN = M + F(4-tuple, secret)`, where `M` is
//! a clock (here milliseconds times 250, the RFC's 4 µs tick, coarsened to
//! the caller's millisecond clock) and `F` is SipHash-2-4 keyed with a
//! 128-bit secret the shell draws from `get_random_bytes()` at load time.
//! Consecutive connections on one 4-tuple get increasing ISNs, and ISNs of
//! other tuples cannot be predicted from ours.
//!
//! The per-flow timestamp offset follows Linux (`secure_tcp_ts_off`): a
//! keyed hash of the addresses, so an observer cannot learn our uptime
//! from TSval and different peers see unrelated clocks.
//!
//! A SYN-cookie ISN (a coarse time slot and the MSS index hashed in as
//! well) is `syncookie.rs`'s.

use super::flow::FlowKey;

/// SipHash-2-4 of `data` under the 128-bit `key` (Aumasson and Bernstein,
/// "SipHash: a fast short-input PRF", 2012): the key's bytes 0..8 and
/// 8..16 are `k0` and `k1` as little-endian words, and the result is the
/// 64-bit value of the reference implementation.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(key.split_at(8).0);
    let k0 = u64::from_le_bytes(k);
    k.copy_from_slice(key.split_at(8).1);
    let k1 = u64::from_le_bytes(k);
    let mut s = SipState::new(k0, k1);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        s.compress(u64::from_le_bytes(w));
    }
    // The last word: the remaining bytes, zero-padded, with the message
    // length modulo 256 in the top byte.
    let mut last = [0u8; 8];
    for (dst, src) in last.iter_mut().zip(chunks.remainder()) {
        *dst = *src;
    }
    // Truncation to the low byte is the specification.
    last[7] = (data.len() & 0xff) as u8;
    s.compress(u64::from_le_bytes(last));
    s.finish()
}

/// The four words of SipHash state.
struct SipState {
    v: [u64; 4],
}

impl SipState {
    fn new(k0: u64, k1: u64) -> SipState {
        SipState {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
        }
    }

    fn round(&mut self) {
        let [mut v0, mut v1, mut v2, mut v3] = self.v;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13);
        v1 ^= v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16);
        v3 ^= v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21);
        v3 ^= v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17);
        v1 ^= v2;
        v2 = v2.rotate_left(32);
        self.v = [v0, v1, v2, v3];
    }

    /// Absorbs one message word with two rounds (the "2" of 2-4).
    fn compress(&mut self, m: u64) {
        let [v0, v1, v2, v3] = self.v;
        self.v = [v0, v1, v2, v3 ^ m];
        self.round();
        self.round();
        let [v0, v1, v2, v3] = self.v;
        self.v = [v0 ^ m, v1, v2, v3];
    }

    /// Four finalization rounds (the "4").
    fn finish(mut self) -> u64 {
        let [v0, v1, v2, v3] = self.v;
        self.v = [v0, v1, v2 ^ 0xff, v3];
        self.round();
        self.round();
        self.round();
        self.round();
        let [v0, v1, v2, v3] = self.v;
        v0 ^ v1 ^ v2 ^ v3
    }
}

/// The front-end's secret and the values derived from it.
///
/// The shell fills the key from `get_random_bytes()` once per network
/// namespace (or module load) and never exposes it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IsnSecret {
    key: [u8; 16],
}

impl ::core::fmt::Debug for IsnSecret {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        // Never print the key.
        f.write_str("IsnSecret(..)")
    }
}

/// Domain separation between the two uses of the key.
const TAG_ISN: u8 = 1;
const TAG_TS: u8 = 2;

impl IsnSecret {
    /// A secret from 16 random bytes.
    pub const fn new(key: [u8; 16]) -> IsnSecret {
        IsnSecret { key }
    }

    /// The keyed hash of a flow's addresses (and ports, if `ports`).
    fn hash(&self, tag: u8, key: &FlowKey, ports: bool) -> u64 {
        let mut m = [0u8; 13];
        let c = key.client.addr.to_be_bytes();
        let s = key.server.addr.to_be_bytes();
        let (cp, sp) = if ports {
            (key.client.port.to_be_bytes(), key.server.port.to_be_bytes())
        } else {
            ([0; 2], [0; 2])
        };
        let parts: [&[u8]; 5] = [&c, &s, &cp, &sp, &[tag]];
        let mut n = 0usize;
        for part in parts {
            for &b in part {
                if let Some(slot) = m.get_mut(n) {
                    *slot = b;
                }
                n = n.saturating_add(1);
            }
        }
        siphash24(&self.key, &m)
    }

    /// The initial sequence number for a connection from `key.client` to
    /// `key.server` at `now_ms` (RFC 6528).
    pub fn isn(&self, key: &FlowKey, now_ms: u64) -> u32 {
        // Truncations are the point: 32-bit sequence space.
        let f = self.hash(TAG_ISN, key, true) as u32;
        let m = (now_ms as u32).wrapping_mul(250);
        f.wrapping_add(m)
    }

    /// The per-flow offset added to our millisecond clock to make our
    /// TSval (Linux's `secure_tcp_ts_off`: addresses only).
    pub fn ts_offset(&self, key: &FlowKey) -> u32 {
        // Truncation is the point.
        self.hash(TAG_TS, key, false) as u32
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;
    use super::super::flow::Endpoint;
    use super::*;

    /// Key 00 01 .. 0f, message 00 01 .. n-1: the reference
    /// implementation's `vectors_sip64` for n = 0..=16, and n = 32.
    const VECTORS: [(usize, u64); 18] = [
        (0, 0x726f_db47_dd0e_0e31),
        (1, 0x74f8_39c5_93dc_67fd),
        (2, 0x0d6c_8009_d9a9_4f5a),
        (3, 0x8567_6696_d7fb_7e2d),
        (4, 0xcf27_94e0_2771_87b7),
        (5, 0x1876_5564_cd99_a68d),
        (6, 0xcbc9_466e_58fe_e3ce),
        (7, 0xab02_00f5_8b01_d137),
        (8, 0x93f5_f579_9a93_2462),
        (9, 0x9e00_82df_0ba9_e4b0),
        (10, 0x7a5d_bbc5_94dd_b9f3),
        (11, 0xf4b3_2f46_226b_ada7),
        (12, 0x751e_8fbc_860e_e5fb),
        (13, 0x14ea_5627_c084_3d90),
        (14, 0xf723_ca90_8e7a_f2ee),
        (15, 0xa129_ca61_49be_45e5),
        (16, 0x3f2a_cc7f_57c2_9bdb),
        (32, 0x7127_512f_72f2_7cce),
    ];

    fn key() -> [u8; 16] {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    #[test]
    fn reference_vectors() {
        let mut msg = [0u8; 64];
        for (i, b) in msg.iter_mut().enumerate() {
            *b = i as u8;
        }
        for (n, want) in VECTORS {
            assert_eq!(siphash24(&key(), &msg[..n]), want, "length {n}");
        }
    }

    #[test]
    fn paper_appendix_example() {
        // Appendix A: the 15-byte message 00..0e.
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(&key(), &msg), 0xa129_ca61_49be_45e5);
    }

    fn flow(port: u16) -> FlowKey {
        FlowKey::new(
            Endpoint::new(0x0a01_0001, port),
            Endpoint::new(0x0a02_0001, 80),
        )
    }

    #[test]
    fn isn_depends_on_tuple_secret_and_clock() {
        let s = IsnSecret::new(key());
        let a = s.isn(&flow(40000), 1000);
        assert_eq!(a, s.isn(&flow(40000), 1000));
        assert_ne!(a, s.isn(&flow(40001), 1000));
        assert_ne!(a, IsnSecret::new([9; 16]).isn(&flow(40000), 1000));
        // The clock advances the ISN by 250 per millisecond.
        assert_eq!(s.isn(&flow(40000), 1004), a.wrapping_add(1000));
        // No panic at the ends of the clock.
        let _ = s.isn(&flow(1), u64::MAX);
    }

    #[test]
    fn ts_offset_ignores_ports_and_hides_the_key() {
        let s = IsnSecret::new(key());
        assert_eq!(s.ts_offset(&flow(1)), s.ts_offset(&flow(2)));
        assert_ne!(
            s.ts_offset(&flow(1)),
            IsnSecret::new([1; 16]).ts_offset(&flow(1))
        );
        assert_eq!(std::format!("{s:?}"), "IsnSecret(..)");
    }
}
