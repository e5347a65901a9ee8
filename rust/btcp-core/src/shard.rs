//! How a namespace's flows are split between shards, each a
//! [`super::node::Node`] under its own lock, so that packets of different
//! connections on different cores do not wait for one another (as
//! conntrack's and IPVS's hashed locks do).
//!
//! A connection belongs to the shard of its client endpoint (address and
//! port): the one thing every packet and message of it names alike, in
//! both directions, at the front-end (client to VIP), at the back-end
//! (client to its own address or the VIP) and in the control channel's
//! messages. A local handoff's two sides therefore share a shard.
//!
//! The limits are split too: shard `i` holds at most its part of
//! `max_flows`, the parts adding up to it exactly. Lingering flows are
//! reclaimed within a shard, so a shard needs enough flows for that to
//! be fair: below [`MIN_SHARD_FLOWS`] flows per shard there are fewer
//! shards, and a small table (a test of the limit) is one shard, exact.

use super::flow::Endpoint;
use super::table::mix;
use super::wire::Message;

/// The most shards a namespace runs.
pub const MAX_SHARDS: usize = 64;
/// The fewest flows a shard is made for.
pub const MIN_SHARD_FLOWS: usize = 1024;

/// Shards for tables of at most `max_flows` flows: a power of two, 1 to
/// [`MAX_SHARDS`], with at least [`MIN_SHARD_FLOWS`] each when there are
/// more than one.
pub fn count(max_flows: usize) -> usize {
    // The largest power of two that leaves each shard its minimum.
    let per = max_flows / MIN_SHARD_FLOWS;
    per.checked_ilog2()
        .and_then(|b| 1usize.checked_shl(b))
        .unwrap_or(1)
        .clamp(1, MAX_SHARDS)
}

/// Shard `i`'s part of a limit of `max` split `shards` ways: the parts
/// differ by at most one and add up to `max`.
pub fn limit(max: usize, shards: usize, i: usize) -> usize {
    let Some(each) = max.checked_div(shards) else {
        return max;
    };
    let extra = max.checked_rem(shards).unwrap_or(0);
    each.saturating_add(usize::from(i < extra))
}

/// The shard of the connection whose client is `client`, among `shards`
/// (a power of two), under the namespace's random `seed`: a client
/// cannot aim its connections at one shard.
pub fn of(client: Endpoint, seed: u32, shards: usize) -> usize {
    let h = mix(seed, &[client.addr, u32::from(client.port)]);
    let mask = shards.saturating_sub(1);
    usize::try_from(h).unwrap_or(0) & mask
}

/// The client endpoint a message's flow belongs to, for [`of`]; `None`
/// for messages about no flow.
pub fn client_of(msg: &Message<'_>) -> Option<Endpoint> {
    let r = match msg {
        Message::HandoffReq(r) => return Some(Endpoint::new(r.client_addr, r.client_port)),
        Message::HandoffAck(a) => a.flow,
        Message::HandoffNack(n) => n.flow,
        Message::Terminate(t) => t.flow,
        Message::HandoffConfirm(d) | Message::HandoffCancel(d) => d.flow,
        Message::FlowAnnounce(a) => a.flow,
        Message::HandoffMore(m) => m.flow,
        Message::MoveRelease(m) => m.flow,
        Message::MoveReleased(m) => m.flow,
        Message::MoveKept(m) => m.flow,
        Message::Hello(_) | Message::Heartbeat(_) | Message::FlowQuery(_) => return None,
    };
    Some(Endpoint::new(r.client_addr, r.client_port))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;

    #[test]
    fn shard_counts_follow_the_table_size() {
        for (max, want) in [
            (0, 1),
            (48, 1),
            (1023, 1),
            (2048, 2),
            (4095, 2),
            (4096, 4),
            (65_536, 64),
            (1 << 20, 64),
            (usize::MAX, 64),
        ] {
            assert_eq!(count(max), want, "max_flows {max}");
        }
        for max in [1usize, 1500, 3000, 5000, 100_000, 999_999] {
            let n = count(max);
            assert!(n.is_power_of_two() && n <= MAX_SHARDS);
            assert!(n == 1 || max / n >= MIN_SHARD_FLOWS, "{max}: {n}");
        }
    }

    #[test]
    fn limits_add_up_exactly() {
        for (max, shards) in [(48, 1), (4096, 4), (4097, 4), (65_535, 64), (7, 8)] {
            let parts = (0..shards).map(|i| limit(max, shards, i));
            assert_eq!(parts.clone().sum::<usize>(), max);
            let (lo, hi) = (parts.clone().min().unwrap(), parts.max().unwrap());
            assert!(hi - lo <= 1, "{max} over {shards}: {lo}..{hi}");
        }
        assert_eq!(limit(5, 0, 0), 5);
    }

    #[test]
    fn clients_spread_over_shards() {
        let mut hits = [0u32; 64];
        for i in 0..6400u32 {
            let ep = Endpoint::new(0x0a01_0000 + i % 4, 20_000 + (i / 4) as u16);
            hits[of(ep, 99, 64)] += 1;
        }
        // 100 each on average: none empty, none crowded.
        assert!(hits.iter().all(|&h| (50..200).contains(&h)), "{hits:?}");
        let ep = Endpoint::new(0x0a01_0001, 40_000);
        assert_eq!(of(ep, 1, 1), 0);
        assert!((0..32).any(|s| of(ep, s, 64) != of(ep, 0, 64)));
    }
}
