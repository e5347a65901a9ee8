//! The key roll (keyroll.rs): its steps, and that nodes which got
//! `key-next` within one overlap of each other never refuse each other's
//! frames.

use btcp_core::keyroll::{Key, KeyRoll, Slot};

const K1: Key = [1; 32];
const K2: Key = [2; 32];
const OVERLAP_S: u32 = 60;
const OVERLAP: u64 = 60_000;

#[test]
fn without_a_next_key_there_is_one_key() {
    let r = KeyRoll::new(K1, None, OVERLAP_S, 0);
    for t in [0, OVERLAP, 10 * OVERLAP] {
        assert_eq!(r.sealing(t), Slot::Key);
        assert!(r.opens(Slot::Key, t) && !r.opens(Slot::Next, t));
        assert!(r.settled(t));
    }
    // key-next equal to the key is no roll.
    assert_eq!(KeyRoll::new(K1, Some(K1), OVERLAP_S, 0), r);
    assert_eq!(r.key(Slot::Next), None);
}

#[test]
fn a_roll_goes_through_its_two_steps() {
    let t0 = 5_000;
    let r = KeyRoll::new(K1, Some(K2), OVERLAP_S, t0);
    assert_eq!(r.key(Slot::Next), Some(&K2));
    // Step 1: opens both, seals with the old key.
    for t in [t0, t0 + OVERLAP - 1] {
        assert_eq!(r.sealing(t), Slot::Key);
        assert!(r.opens(Slot::Key, t) && r.opens(Slot::Next, t));
        assert!(!r.settled(t));
    }
    // Step 2: seals with the new one, still opens both.
    for t in [t0 + OVERLAP, t0 + 2 * OVERLAP - 1] {
        assert_eq!(r.sealing(t), Slot::Next);
        assert!(r.opens(Slot::Key, t) && r.opens(Slot::Next, t));
    }
    // Done: the new key only.
    let t = t0 + 2 * OVERLAP;
    assert_eq!(r.sealing(t), Slot::Next);
    assert!(!r.opens(Slot::Key, t) && r.opens(Slot::Next, t));
    assert!(r.settled(t));
}

#[test]
fn rewriting_the_configuration_keeps_the_roll_going() {
    let mut r = KeyRoll::new(K1, Some(K2), OVERLAP_S, 0);
    // Another setting written mid-roll: same keys, same start.
    assert!(!r.update(K1, Some(K2), OVERLAP_S, OVERLAP - 10));
    assert_eq!(r.sealing(OVERLAP), Slot::Next);
    // `key K2` once the roll is done: the same behaviour.
    let t = 2 * OVERLAP + 1;
    assert!(r.update(K2, None, OVERLAP_S, t));
    assert_eq!(r.sealing(t), Slot::Key);
    assert_eq!(r.key(Slot::Key), Some(&K2));
    assert!(r.opens(Slot::Key, t) && !r.opens(Slot::Next, t));
    // A different next key starts a new roll at that time.
    assert!(r.update(K2, Some(K1), OVERLAP_S, t));
    assert_eq!(r.sealing(t + OVERLAP - 1), Slot::Key);
    assert_eq!(r.sealing(t + OVERLAP), Slot::Next);
}

/// Node a got `key-next` at `ta`, node b at `tb`: whatever a seals with at
/// any moment, b opens, and the other way round.
fn agree(ta: u64, tb: u64) -> bool {
    let a = KeyRoll::new(K1, Some(K2), OVERLAP_S, ta);
    let b = KeyRoll::new(K1, Some(K2), OVERLAP_S, tb);
    let end = ta.max(tb) + 3 * OVERLAP;
    (0..=end).step_by(250).all(|t| {
        let key_of = |r: &KeyRoll, s| r.key(s).copied();
        let opens = |r: &KeyRoll, k: Option<Key>| {
            [Slot::Key, Slot::Next]
                .into_iter()
                .any(|s| r.opens(s, t) && key_of(r, s) == k)
        };
        let (sa, sb) = (key_of(&a, a.sealing(t)), key_of(&b, b.sealing(t)));
        // Before a node has the configuration, it runs on K1 alone.
        let a_now = if t < ta { Some(K1) } else { sa };
        let b_now = if t < tb { Some(K1) } else { sb };
        let b_opens = t < tb && a_now == Some(K1) || t >= tb && opens(&b, a_now);
        let a_opens = t < ta && b_now == Some(K1) || t >= ta && opens(&a, b_now);
        a_opens && b_opens
    })
}

#[test]
fn nodes_that_got_the_next_key_within_an_overlap_agree() {
    for skew in [0, 1_000, OVERLAP / 2, OVERLAP - 250] {
        assert!(agree(10_000, 10_000 + skew), "skew {skew} ms");
        assert!(agree(10_000 + skew, 10_000), "skew -{skew} ms");
    }
    // More than an overlap apart, they do not: the documented limit.
    assert!(!agree(10_000, 10_000 + OVERLAP + 1_000));
}
