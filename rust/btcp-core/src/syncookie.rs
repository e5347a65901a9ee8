//! SYN cookies (RFC 4987 §3.6): a SYN/ACK whose sequence number carries
//! what the front-end would otherwise keep for a half-open connection, so
//! a SYN flood costs it no state. The third ACK of the handshake brings
//! the cookie back (its acknowledgment number minus one); it is checked
//! before any state exists.
//!
//! The cookie (32 bits), for a SYN with sequence number `isn_c` on
//! 4-tuple `k` in time slot `t` (`now_ms / SLOT_MS`, about a minute):
//!
//! ```text
//! cookie = H(k) + isn_c + (t << 24) + (i << 22) + (H(k, t, isn_c, i) mod 2^22)
//! ```
//!
//! with `i` the index of the client's MSS in [`MSS_TABLE`] and `H`
//! SipHash-2-4 under the cookie secret, tagged apart from the ISN's and
//! the timestamp offset's uses of it. Taking `H(k) + isn_c` off again
//! leaves the slot in the top 8 bits (the cookie's age, at most
//! [`MAX_AGE_SLOTS`]), the index below it, and a 22-bit MAC of the
//! connection, its slot, the client's ISN and the index: a blind guess,
//! or any change to the cookie or the ISN, passes with odds 2^-22 per
//! slot of age.
//!
//! The options a cookie cannot hold in 32 bits (window scale, SACK, ECN)
//! ride in the low 6 bits of our SYN/ACK's TSval when the client uses
//! timestamps ([`ts_encode`]), and come back in its TSecr. Without
//! timestamps a cookie-born connection has neither window scaling nor
//! SACK, as with Linux.
//!
//! The secret rotates: [`CookieKeys::rotate`] puts a new key in force from
//! the current slot, and the previous key stays good for the cookies of
//! the slots before, until they expire.

use super::flow::FlowKey;
use super::isn::siphash24;

/// A time slot, in milliseconds (2^16: about a minute).
pub const SLOT_MS: u64 = 1 << 16;
/// A cookie is good in the slot it was made in and this many after
/// (two to three minutes, as Linux's `MAX_SYNCOOKIE_AGE`).
pub const MAX_AGE_SLOTS: u32 = 2;
/// The MSS values a cookie can encode; a client's MSS is rounded down to
/// one of them (the common values of IPv4 paths).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// Low TSval bits that carry the options.
pub const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
/// The window-scale field when the client offered none.
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;
const TS_ECN: u32 = 1 << 5;

const LOW_BITS: u32 = 24;
const LOW_MASK: u32 = (1 << LOW_BITS) - 1;
/// Where the MSS index sits in the low 24 bits.
const IDX_SHIFT: u32 = 22;
const MAC_MASK: u32 = (1 << IDX_SHIFT) - 1;
const TAG_TUPLE: u8 = 0xc1;
const TAG_SLOT: u8 = 0xc4;

/// When a front-end answers SYNs with cookies (the `syncookies` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookieMode {
    /// Once the half-open flows reach the `syn-backlog` setting.
    #[default]
    Auto,
    /// For every SYN.
    Always,
    /// Never (a SYN flood fills the table; SYNs are then dropped).
    Never,
}

impl CookieMode {
    /// The mode named `s` (`auto`, `always`, `never`).
    pub fn parse(s: &str) -> Option<CookieMode> {
        match s {
            "auto" => Some(CookieMode::Auto),
            "always" => Some(CookieMode::Always),
            "never" => Some(CookieMode::Never),
            _ => None,
        }
    }

    /// Its name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            CookieMode::Auto => "auto",
            CookieMode::Always => "always",
            CookieMode::Never => "never",
        }
    }
}

/// Half-open flows of a namespace before `auto` sends cookies (Linux's
/// `tcp_max_syn_backlog` for a small host).
pub const DEFAULT_SYN_BACKLOG: u32 = 256;

/// What the client's SYN said that a cookie-born flow needs back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynOpts {
    /// Its MSS, as encoded (rounded down to [`MSS_TABLE`]).
    pub mss: u16,
    /// Its window scale, if it offered one (0 to 14).
    pub wscale: Option<u8>,
    /// It permitted SACK.
    pub sack: bool,
    /// It asked for ECN.
    pub ecn: bool,
}

/// Why a returning cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Made too long ago (or in the future).
    Expired,
    /// Not a cookie of ours for this connection.
    Invalid,
}

/// The cookie secret: the key in force and the one before it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CookieKeys {
    current: [u8; 16],
    previous: [u8; 16],
    /// The slot from which `current` makes the cookies.
    since: u32,
}

impl core::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieKeys(..)")
    }
}

/// The time slot of `now_ms`.
pub fn slot(now_ms: u64) -> u32 {
    // Truncation is the point: the slot count wraps (8 bits are sent).
    (now_ms / SLOT_MS) as u32
}

/// The index in [`MSS_TABLE`] of the largest entry not above `mss` (the
/// smallest entry for anything below it).
pub fn mss_index(mss: u16) -> u32 {
    let mut idx = 0u32;
    for (i, &m) in (0u32..).zip(MSS_TABLE.iter()) {
        if mss >= m {
            idx = i;
        }
    }
    idx
}

impl CookieKeys {
    /// Keys from 16 random bytes, in force from the slot of `now_ms`.
    pub const fn new(key: [u8; 16], now_ms: u64) -> CookieKeys {
        CookieKeys {
            current: key,
            previous: key,
            since: (now_ms / SLOT_MS) as u32,
        }
    }

    /// Puts `key` in force from the slot of `now_ms`; the key before stays
    /// good for the cookies it made until they expire. Rotate at most once
    /// per [`MAX_AGE_SLOTS`] + 1 slots, or cookies of a key two rotations
    /// back, still young, are refused (their clients retry the SYN).
    pub fn rotate(&mut self, key: [u8; 16], now_ms: u64) {
        self.previous = self.current;
        self.current = key;
        self.since = slot(now_ms);
    }

    /// Slots since the key in force was put in force.
    pub fn age(&self, now_ms: u64) -> u32 {
        slot(now_ms).wrapping_sub(self.since)
    }

    /// The key that made (or makes) the cookies of slot `t`.
    fn key_for(&self, t: u32) -> &[u8; 16] {
        // Slots before `since` (in wrapping order, within an age) are the
        // previous key's.
        let behind = self.since.wrapping_sub(t);
        if behind != 0 && behind <= MAX_AGE_SLOTS {
            &self.previous
        } else {
            &self.current
        }
    }

    /// `H` of the 4-tuple, a slot and the client's ISN (0 and 0 for the
    /// tuple's own hash).
    fn hash(key: &[u8; 16], tag: u8, k: &FlowKey, t: u32, isn_c: u32) -> u32 {
        let mut m = [0u8; 21];
        let parts: [&[u8]; 7] = [
            &k.client.addr.to_be_bytes(),
            &k.server.addr.to_be_bytes(),
            &k.client.port.to_be_bytes(),
            &k.server.port.to_be_bytes(),
            &t.to_be_bytes(),
            &isn_c.to_be_bytes(),
            &[tag],
        ];
        let mut n = 0usize;
        for part in parts {
            for &b in part {
                if let Some(slot) = m.get_mut(n) {
                    *slot = b;
                }
                n = n.saturating_add(1);
            }
        }
        // Truncation is the point: 32-bit sequence space.
        siphash24(key, &m) as u32
    }

    /// A cookie's low 24 bits: the MSS index on top of the MAC of the
    /// tuple, the slot, the client's ISN and the index.
    fn low_bits(key: &[u8; 16], k: &FlowKey, t: u32, isn_c: u32, idx: u32) -> u32 {
        // The index is below 4: the tag's two low bits.
        let tag = TAG_SLOT | (idx & 3) as u8;
        let mac = Self::hash(key, tag, k, t, isn_c) & MAC_MASK;
        idx.wrapping_shl(IDX_SHIFT) & LOW_MASK | mac
    }

    /// The cookie for a SYN on `k` with sequence number `isn_c` and MSS
    /// `mss`, at `now_ms`: our ISN for the SYN/ACK, and the MSS it
    /// encodes (to announce no larger one).
    pub fn make(&self, k: &FlowKey, isn_c: u32, mss: u16, now_ms: u64) -> (u32, u16) {
        let t = slot(now_ms);
        let key = self.key_for(t);
        let idx = mss_index(mss);
        let low = Self::low_bits(key, k, t, isn_c, idx);
        let cookie = Self::hash(key, TAG_TUPLE, k, 0, 0)
            .wrapping_add(isn_c)
            .wrapping_add(t.wrapping_shl(LOW_BITS))
            .wrapping_add(low);
        let mss = MSS_TABLE.get(idx as usize).copied().unwrap_or(MSS_TABLE[0]);
        (cookie, mss)
    }

    /// Checks the cookie a third ACK brings back: `cookie` is its
    /// acknowledgment number minus one, `isn_c` its sequence number minus
    /// one. Returns the MSS the cookie encodes.
    ///
    /// # Errors
    ///
    /// [`CookieError::Expired`] if it is older than [`MAX_AGE_SLOTS`]
    /// slots, [`CookieError::Invalid`] if it is not ours.
    pub fn check(
        &self,
        k: &FlowKey,
        isn_c: u32,
        cookie: u32,
        now_ms: u64,
    ) -> Result<u16, CookieError> {
        let now = slot(now_ms);
        // What the tuple's hash and the client's ISN do not explain: the
        // slot's low 8 bits on top, the slot hash plus the index below.
        let rest = cookie.wrapping_sub(isn_c);
        let for_tuple = |key: &[u8; 16]| rest.wrapping_sub(Self::hash(key, TAG_TUPLE, k, 0, 0));
        // The slot it says, under each key that may have made it (the
        // previous one only for slots before the current one's).
        for key in [&self.current, &self.previous] {
            let v = for_tuple(key);
            let age = now.wrapping_sub(v >> LOW_BITS) & 0xff;
            if age > MAX_AGE_SLOTS {
                continue;
            }
            let t = now.wrapping_sub(age);
            if self.key_for(t) != key {
                continue;
            }
            let idx = (v & LOW_MASK) >> IDX_SHIFT;
            match MSS_TABLE.get(idx as usize) {
                Some(&mss) if v & LOW_MASK == Self::low_bits(key, k, t, isn_c, idx) => {
                    return Ok(mss)
                }
                _ => {}
            }
        }
        // Not ours now; say "expired" when the slot bits are those of an
        // old cookie of the current key (for the counters only).
        let age = now.wrapping_sub(for_tuple(&self.current) >> LOW_BITS) & 0xff;
        match age > MAX_AGE_SLOTS && age < 0x80 {
            true => Err(CookieError::Expired),
            false => Err(CookieError::Invalid),
        }
    }
}

/// The options a TSval carries for a cookie-born connection, in its low
/// [`TS_BITS`] bits.
pub fn ts_options(o: &SynOpts) -> u32 {
    let ws = o.wscale.map_or(TS_NO_WSCALE, |w| u32::from(w.min(14)));
    ws | if o.sack { TS_SACK } else { 0 } | if o.ecn { TS_ECN } else { 0 }
}

/// Our SYN/ACK's TSval with the options in its low bits: never later
/// than `tsval` (our clock must not run ahead), at most 63 earlier.
pub fn ts_encode(tsval: u32, o: &SynOpts) -> u32 {
    let v = (tsval & !TS_MASK) | ts_options(o);
    // Later than the clock: take it from the previous 64.
    match v.wrapping_sub(tsval) as i32 > 0 {
        true => v.wrapping_sub(1 << TS_BITS),
        false => v,
    }
}

/// The options a third ACK's TSecr brings back (the MSS comes from the
/// cookie); `None` if the bits cannot be ours (a window scale above 14).
pub fn ts_decode(tsecr: u32, mss: u16) -> Option<SynOpts> {
    let ws = tsecr & TS_NO_WSCALE;
    let wscale = match ws {
        TS_NO_WSCALE => None,
        // At most 14 (RFC 7323 §2.3); 15 is "none" above.
        w if w <= 14 => Some(w as u8),
        _ => return None,
    };
    Some(SynOpts {
        mss,
        wscale,
        sack: tsecr & TS_SACK != 0,
        ecn: tsecr & TS_ECN != 0,
    })
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::super::flow::Endpoint;
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey::new(
            Endpoint::new(0x0a01_0001, port),
            Endpoint::new(0x0a02_0001, 80),
        )
    }

    const T0: u64 = 1_000 * SLOT_MS + 123;

    #[test]
    fn a_cookie_comes_back_with_its_mss_for_every_table_entry() {
        let keys = CookieKeys::new([3; 16], T0);
        for (mss, want) in [
            (100, 536),
            (536, 536),
            (1299, 536),
            (1300, 1300),
            (1459, 1440),
            (1460, 1460),
            (9000, 1460),
        ] {
            for isn_c in [0u32, 1, 0x7fff_ffff, u32::MAX] {
                let (c, enc) = keys.make(&key(1), isn_c, mss, T0);
                assert_eq!(enc, want);
                assert_eq!(keys.check(&key(1), isn_c, c, T0), Ok(want));
                // Good for the slot it was made in and MAX_AGE_SLOTS after.
                let late = T0 + u64::from(MAX_AGE_SLOTS) * SLOT_MS;
                assert_eq!(keys.check(&key(1), isn_c, c, late), Ok(want));
                let too_late = T0 + u64::from(MAX_AGE_SLOTS + 1) * SLOT_MS;
                assert_eq!(
                    keys.check(&key(1), isn_c, c, too_late),
                    Err(CookieError::Expired)
                );
            }
        }
    }

    #[test]
    fn a_cookie_is_bound_to_its_connection_and_secret() {
        let keys = CookieKeys::new([3; 16], T0);
        let (c, _) = keys.make(&key(1), 5000, 1460, T0);
        assert!(keys.check(&key(2), 5000, c, T0).is_err());
        for d in [1u32, 2, 3, u32::MAX, 1 << 22] {
            assert!(keys.check(&key(1), 5000u32.wrapping_add(d), c, T0).is_err());
        }
        let other = CookieKeys::new([4; 16], T0);
        assert!(other.check(&key(1), 5000, c, T0).is_err());
        // Any single flipped bit is refused.
        for bit in 0..32 {
            assert!(
                keys.check(&key(1), 5000, c ^ (1 << bit), T0).is_err(),
                "bit {bit}"
            );
        }
        // Blind guesses: about 2^-22 each per slot of age, so none of
        // 100,000 passes.
        let mut x = 0x1234_5678u32;
        let mut passed = 0;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            passed += usize::from(keys.check(&key(1), 5000, x, T0).is_ok());
        }
        assert_eq!(passed, 0);
    }

    #[test]
    fn the_slot_counter_wraps() {
        // Slot 255 to 257 (the 8 bits sent wrap through 0).
        let t = 255 * SLOT_MS;
        let keys = CookieKeys::new([9; 16], t);
        let (c, _) = keys.make(&key(7), 42, 1440, t);
        assert_eq!(keys.check(&key(7), 42, c, t + 2 * SLOT_MS), Ok(1440));
        assert!(keys.check(&key(7), 42, c, t + 3 * SLOT_MS).is_err());
        // And 256 slots later the same bits are long expired.
        assert!(keys.check(&key(7), 42, c, t + 256 * SLOT_MS).is_err());
    }

    #[test]
    fn a_rotated_secret_keeps_young_cookies_good() {
        let mut keys = CookieKeys::new([1; 16], T0);
        let (old, _) = keys.make(&key(1), 10, 1460, T0);
        keys.rotate([2; 16], T0 + SLOT_MS);
        let (new, _) = keys.make(&key(1), 10, 1460, T0 + SLOT_MS);
        assert_ne!(old, new);
        assert_eq!(keys.check(&key(1), 10, old, T0 + SLOT_MS), Ok(1460));
        assert_eq!(keys.check(&key(1), 10, new, T0 + SLOT_MS), Ok(1460));
        assert_eq!(keys.check(&key(1), 10, old, T0 + 2 * SLOT_MS), Ok(1460));
        assert!(keys.check(&key(1), 10, old, T0 + 3 * SLOT_MS).is_err());
        // A second rotation retires the first key; the second one's young
        // cookies stay good.
        let (young, _) = keys.make(&key(1), 10, 1460, T0 + 3 * SLOT_MS);
        keys.rotate([3; 16], T0 + 4 * SLOT_MS);
        let first = CookieKeys::new([1; 16], T0 + 4 * SLOT_MS);
        let (c, _) = first.make(&key(1), 10, 1460, T0 + 4 * SLOT_MS);
        assert!(keys.check(&key(1), 10, c, T0 + 4 * SLOT_MS).is_err());
        assert_eq!(keys.check(&key(1), 10, young, T0 + 5 * SLOT_MS), Ok(1460));
    }

    #[test]
    fn timestamps_carry_every_option_combination() {
        for ws in (0..=14u8).map(Some).chain([None]) {
            for sack in [false, true] {
                for ecn in [false, true] {
                    let o = SynOpts {
                        mss: 1300,
                        wscale: ws,
                        sack,
                        ecn,
                    };
                    for tsval in [0u32, 1, 63, 64, 0x8000_0000, u32::MAX] {
                        let v = ts_encode(tsval, &o);
                        let behind = tsval.wrapping_sub(v);
                        assert!(behind < 64, "{tsval} -> {v}");
                        assert_eq!(ts_decode(v, 1300), Some(o));
                    }
                }
            }
        }
        // A window scale field of 15 means none; nothing is above it, but
        // a TSecr with the bits of an impossible scale is refused.
        assert_eq!(ts_decode(0xf, 536).unwrap().wscale, None);
        assert_eq!(
            ts_options(&SynOpts {
                wscale: Some(200),
                ..SynOpts::default()
            }) & 0xf,
            14
        );
    }

    #[test]
    fn mss_rounds_down_to_the_table() {
        assert_eq!(mss_index(0), 0);
        assert_eq!(mss_index(1439), 1);
        assert_eq!(mss_index(1440), 2);
        assert_eq!(mss_index(u16::MAX), 3);
    }
}
