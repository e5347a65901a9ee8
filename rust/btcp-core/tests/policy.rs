//! Dispatch policies: LARD and LARD/R, Maglev, smooth weighted
//! round-robin and least connections, each against the property it is
//! for (locality under load, minimal disruption, exact proportions,
//! least load per weight), plus what all share: members that take no
//! work are never picked, and an empty pool gives `None`.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::collections::HashMap;

use btcp_core::policy::lard::{Entry, Lard, LardParams, LardR};
use btcp_core::policy::least_conn::least_conn;
use btcp_core::policy::maglev::{is_prime, Maglev, MaglevError, DEFAULT_SIZE};
use btcp_core::policy::wrr::SmoothWrr;
use btcp_core::policy::{target_hash, Member, MemberState};
use proptest::prelude::*;

const KEY: [u8; 16] = *b"policy test key!";

/// Up members with these weights, node ids 1, 2, ...
/// LARD over a table of `n` free entries.
fn lard_over(n: usize, params: LardParams) -> Lard<Vec<Entry<1>>, 1> {
    Lard::with_table(params, vec![Entry::FREE; n])
}

/// LARD/R with sets of `R` over a table of `n` free entries.
fn lard_r_over<const R: usize>(n: usize, params: LardParams) -> LardR<Vec<Entry<R>>, R> {
    LardR::with_table(params, vec![Entry::FREE; n])
}

fn pool(weights: &[u16]) -> Vec<Member> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Member::new(i as u16 + 1, w))
        .collect()
}

fn member(pool: &mut [Member], node: u16) -> &mut Member {
    pool.iter_mut().find(|m| m.node == node).unwrap()
}

fn with_state(mut m: Member, state: MemberState) -> Member {
    m.state = state;
    m
}

fn state() -> impl Strategy<Value = MemberState> {
    prop_oneof![
        4 => Just(MemberState::Up),
        1 => Just(MemberState::Drain),
        1 => Just(MemberState::Down),
    ]
}

/// Pools of up to 8 members with distinct node ids, any state, weights
/// (0 included) and loads.
fn any_pool() -> impl Strategy<Value = Vec<Member>> {
    prop::collection::vec((0u16..6, state(), 0u32..100), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (weight, state, load))| Member {
                node: 10 + 3 * i as u16,
                weight,
                state,
                load,
            })
            .collect()
    })
}

fn maglev(size: usize, pool: &[Member]) -> Maglev<Vec<u16>, 64> {
    let mut m = Maglev::new(vec![0; size]).unwrap();
    m.populate(pool).unwrap();
    m
}

/// Slots per node.
fn slots(m: &Maglev<Vec<u16>, 64>) -> HashMap<u16, usize> {
    let mut count = HashMap::new();
    for &n in m.table() {
        *count.entry(n).or_insert(0) += 1;
    }
    count
}

// ---------------------------------------------------------------------------
// Common

#[test]
fn empty_pool_gives_none() {
    assert_eq!(least_conn(&[]), None);
    assert_eq!(SmoothWrr::<4>::new().pick(&[]), None);
    assert_eq!(lard_over(16, LardParams::DEFAULT).pick(&[], 1, 0), None);
    assert_eq!(
        lard_r_over::<4>(16, LardParams::DEFAULT).pick(&[], 1, 0),
        None
    );
    let mut m: Maglev<_, 4> = Maglev::new(vec![0u16; 251]).unwrap();
    assert_eq!(m.lookup(1), None);
    assert_eq!(m.populate(&[]), Ok(0));
    assert_eq!(m.lookup(1), None);
}

#[test]
fn pool_without_usable_members_gives_none() {
    let p = [
        with_state(Member::new(1, 1), MemberState::Drain),
        with_state(Member::new(2, 1), MemberState::Down),
        Member::new(3, 0),
    ];
    assert_eq!(least_conn(&p), None);
    assert_eq!(SmoothWrr::<4>::new().pick(&p), None);
    let mut lard = lard_over(16, LardParams::DEFAULT);
    assert_eq!(lard.pick(&p, 1, 0), None);
    assert_eq!(lard.targets(), 0);
    assert_eq!(
        lard_r_over::<4>(16, LardParams::DEFAULT).pick(&p, 1, 0),
        None
    );
    let mut m = maglev(251, &pool(&[1, 1]));
    assert_eq!(m.populate(&p), Ok(0));
    assert_eq!(m.lookup(7), None);
}

proptest! {
    /// Every policy picks a member that takes work, and picks one whenever
    /// there is one, whatever the pool and history.
    #[test]
    fn only_members_taking_work_are_picked(
        p in any_pool(),
        targets in prop::collection::vec(0u64..32, 1..40),
    ) {
        let ok = |pick: Option<u16>| match pick {
            Some(n) => p.iter().any(|m| m.node == n && m.takes_work()),
            None => !p.iter().any(Member::takes_work),
        };
        let mut wrr = SmoothWrr::<8>::new();
        let mut lard = lard_over(16, LardParams { t_low: 20, t_high: 50, k_ms: 5 });
        let mut lard_r = lard_r_over::<3>(16, LardParams { t_low: 20, t_high: 50, k_ms: 5 });
        let m = maglev(251, &p);
        for (now, &t) in targets.iter().enumerate() {
            let now = now as u64;
            prop_assert!(ok(least_conn(&p)));
            prop_assert!(ok(wrr.pick(&p)));
            prop_assert!(ok(lard.pick(&p, t, now)));
            prop_assert!(ok(lard_r.pick(&p, t, now)));
            prop_assert!(ok(m.lookup(target_hash(&KEY, None, &t.to_le_bytes()))));
        }
    }
}

#[test]
fn target_hash_keys_on_host_and_path() {
    let h = |host: Option<&str>, path: &str| {
        target_hash(&KEY, host.map(str::as_bytes), path.as_bytes())
    };
    assert_eq!(h(Some("Example.COM"), "/a"), h(Some("example.com"), "/a"));
    assert_ne!(h(Some("example.com"), "/a"), h(Some("example.org"), "/a"));
    assert_ne!(h(Some("example.com"), "/a"), h(None, "/a"));
    assert_eq!(h(Some(""), "/a"), h(None, "/a"));
    assert_ne!(h(None, "/a"), h(None, "/A"));
    assert_ne!(h(None, "/a"), target_hash(&[0; 16], None, b"/a"));
    // Hosts longer than one 64-byte chunk: case folding and distinctness.
    let long = "x".repeat(100);
    assert_eq!(h(Some(&long), "/"), h(Some(&long.to_uppercase()), "/"));
    assert_ne!(h(Some(&long), "/"), h(Some(&"x".repeat(101)), "/"));
}

// ---------------------------------------------------------------------------
// Smooth weighted round-robin

#[test]
fn wrr_matches_nginx_for_5_1_1() {
    let p = pool(&[5, 1, 1]);
    let mut wrr = SmoothWrr::<3>::new();
    let picks: Vec<u16> = (0..14).map(|_| wrr.pick(&p).unwrap()).collect();
    // a a b a c a a, twice.
    assert_eq!(picks, [1, 1, 2, 1, 3, 1, 1, 1, 1, 2, 1, 3, 1, 1]);
}

#[test]
fn wrr_skips_members_taking_no_work_and_past_capacity() {
    let mut p = pool(&[1, 1, 1, 1]);
    p[1].state = MemberState::Drain;
    p[2].state = MemberState::Down;
    let mut wrr = SmoothWrr::<3>::new();
    // Node 4 is past the capacity of 3: only node 1 is left.
    assert!((0..10).all(|_| wrr.pick(&p) == Some(1)));
    p[1].state = MemberState::Up;
    wrr.reset();
    let picks: Vec<u16> = (0..4).map(|_| wrr.pick(&p).unwrap()).collect();
    assert_eq!(picks, [1, 2, 1, 2]);
}

proptest! {
    /// From a reset, every `total weight` picks give each member exactly
    /// its weight, and no member waits longer than its fair gap.
    #[test]
    fn wrr_proportions_are_exact_per_period(weights in prop::collection::vec(1u16..20, 1..8)) {
        let p = pool(&weights);
        let total: usize = weights.iter().map(|&w| usize::from(w)).sum();
        let mut wrr = SmoothWrr::<8>::new();
        for _period in 0..3 {
            let mut count = vec![0usize; weights.len()];
            for _ in 0..total {
                count[usize::from(wrr.pick(&p).unwrap() - 1)] += 1;
            }
            for (c, &w) in count.iter().zip(&weights) {
                prop_assert_eq!(*c, usize::from(w));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Least connections

proptest! {
    #[test]
    fn least_conn_picks_least_load_per_weight(p in any_pool()) {
        let Some(n) = least_conn(&p) else {
            prop_assert!(!p.iter().any(Member::takes_work));
            return Ok(());
        };
        let best = p.iter().find(|m| m.node == n).unwrap();
        for m in p.iter().filter(|m| m.takes_work()) {
            let (a, b) = (
                u64::from(best.load) * u64::from(m.weight),
                u64::from(m.load) * u64::from(best.weight),
            );
            prop_assert!(a <= b, "{best:?} picked over {m:?}");
        }
        // The pick does not depend on the pool's order.
        let mut rev = p.clone();
        rev.reverse();
        prop_assert_eq!(least_conn(&rev), Some(n));
    }
}

#[test]
fn least_conn_breaks_ties_by_weight_then_node() {
    let mut p = pool(&[1, 2, 2]);
    p[0].load = 3;
    p[1].load = 6;
    p[2].load = 6;
    // 3/1 = 6/2 = 6/2: the heavier ones, then the lower node id.
    assert_eq!(least_conn(&p), Some(2));
    p[1].load = 7;
    assert_eq!(least_conn(&p), Some(3));
    p[2].load = 8;
    assert_eq!(least_conn(&p), Some(1));
    // Huge loads and weights do not overflow.
    let big = [
        Member {
            load: u32::MAX,
            ..Member::new(1, u16::MAX)
        },
        Member {
            load: u32::MAX - 1,
            ..Member::new(2, u16::MAX)
        },
    ];
    assert_eq!(least_conn(&big), Some(2));
}

// ---------------------------------------------------------------------------
// Maglev

#[test]
fn maglev_needs_a_prime_size() {
    for n in [0usize, 1, 4, 250, 65536] {
        assert_eq!(
            Maglev::<_, 4>::new(vec![0u16; n]).err(),
            Some(MaglevError::NotPrime)
        );
    }
    for n in [2usize, 3, 251, 4099, DEFAULT_SIZE] {
        assert!(Maglev::<_, 4>::new(vec![0u16; n]).is_ok(), "{n}");
    }
    let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
    assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    assert!(is_prime(4_294_967_291) && !is_prime(4_294_967_295));
}

#[test]
fn maglev_equal_weights_share_slots_evenly() {
    let p = pool(&[1; 10]);
    let m = maglev(DEFAULT_SIZE, &p);
    let count = slots(&m);
    assert_eq!(count.len(), 10);
    // Everyone claims one slot per round: shares differ by at most one.
    let (lo, hi) = (count.values().min().unwrap(), count.values().max().unwrap());
    assert!(hi - lo <= 1, "{count:?}");
    // And targets spread within a few percent of even.
    let mut hits: HashMap<u16, usize> = HashMap::new();
    let n = 100_000;
    for i in 0..n {
        let t = target_hash(&KEY, None, format!("/file/{i}").as_bytes());
        *hits.entry(m.lookup(t).unwrap()).or_insert(0) += 1;
    }
    for (&node, &h) in &hits {
        let share = h as f64 / (n as f64 / 10.0);
        assert!((0.95..1.05).contains(&share), "node {node}: {share}");
    }
}

#[test]
fn maglev_shares_follow_weights() {
    let p = pool(&[1, 2, 3, 4, 10]);
    let m = maglev(DEFAULT_SIZE, &p);
    let count = slots(&m);
    for mem in &p {
        let want = DEFAULT_SIZE as f64 * f64::from(mem.weight) / 20.0;
        let got = count[&mem.node] as f64;
        assert!((got / want - 1.0).abs() < 0.01, "{mem:?}: {got} vs {want}");
    }
}

#[test]
fn maglev_adding_a_node_moves_about_one_nth() {
    let mut p = pool(&[1; 10]);
    let before = maglev(DEFAULT_SIZE, &p);
    p.push(Member::new(11, 1));
    let after = maglev(DEFAULT_SIZE, &p);
    let (mut to_new, mut between_old) = (0, 0);
    for (&a, &b) in before.table().iter().zip(after.table()) {
        if a != b {
            if b == 11 {
                to_new += 1;
            } else {
                between_old += 1;
            }
        }
    }
    // The newcomer takes its 1/11 share, all of it from others ...
    let share = DEFAULT_SIZE / 11;
    assert!(to_new >= share - 1 && to_new <= share + 1, "{to_new}");
    // ... and only a little shuffles between the old nodes (Maglev trades
    // this for balance; a ring would move none).
    let frac = between_old as f64 / DEFAULT_SIZE as f64;
    assert!(
        frac < 0.01,
        "{between_old} moved between old nodes ({frac})"
    );
}

#[test]
fn maglev_removing_a_node_moves_mostly_its_targets() {
    let p = pool(&[1; 10]);
    let before = maglev(DEFAULT_SIZE, &p);
    let mut q = p.clone();
    q[4].state = MemberState::Down;
    let after = maglev(DEFAULT_SIZE, &q);
    let mut others_moved = 0;
    for (&a, &b) in before.table().iter().zip(after.table()) {
        assert_ne!(b, 5);
        if a != b && a != 5 {
            others_moved += 1;
        }
    }
    let frac = others_moved as f64 / DEFAULT_SIZE as f64;
    assert!(frac < 0.01, "{others_moved} moved between remaining nodes");
    // Back up: the very same table as before.
    assert_eq!(maglev(DEFAULT_SIZE, &p).table(), before.table());
}

#[test]
fn maglev_populate_error_keeps_the_table() {
    let mut m: Maglev<_, 2> = Maglev::new(vec![0u16; 251]).unwrap();
    assert_eq!(m.populate(&pool(&[1, 1])), Ok(2));
    let table = m.table().to_vec();
    assert_eq!(
        m.populate(&pool(&[1, 1, 1])),
        Err(MaglevError::TooManyMembers)
    );
    assert_eq!(m.table(), table);
    assert_eq!(m.members(), 2);
    // Members that take no work do not count against the capacity.
    let mut p = pool(&[1, 1, 1]);
    p[0].state = MemberState::Drain;
    assert_eq!(m.populate(&p), Ok(2));
}

proptest! {
    /// The table holds exactly the members that take work (when there are
    /// fewer than slots), and is a function of the pool.
    #[test]
    fn maglev_table_holds_exactly_the_usable_members(p in any_pool()) {
        let m = maglev(251, &p);
        let count = slots(&m);
        let usable: Vec<u16> = p.iter().filter(|m| m.takes_work()).map(|m| m.node).collect();
        prop_assert_eq!(m.members(), usable.len());
        if usable.is_empty() {
            prop_assert_eq!(m.lookup(0), None);
        } else {
            let mut nodes: Vec<u16> = count.keys().copied().collect();
            nodes.sort_unstable();
            prop_assert_eq!(nodes, usable);
        }
        let again = maglev(251, &p);
        prop_assert_eq!(again.table(), m.table());
    }
}

// ---------------------------------------------------------------------------
// LARD

/// Small thresholds, so that a few connections reach them.
const SMALL: LardParams = LardParams {
    t_low: 2,
    t_high: 4,
    k_ms: 1000,
};

#[derive(Debug, Clone)]
enum Event {
    /// A request for one of a few targets; the connection stays open.
    Request(u64),
    /// A connection to the member at this index closes.
    Close(usize),
    /// The member at this index changes state.
    State(usize, MemberState),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0u64..12).prop_map(Event::Request),
        4 => (0usize..6).prop_map(Event::Close),
        1 => (0usize..6, state()).prop_map(|(i, s)| Event::State(i, s)),
    ]
}

/// Runs `events` through `pick`, checking LARD's load rule on every pick:
/// no node above T_high while one below T_low is up.
fn run_lard(
    n: usize,
    events: &[Event],
    mut pick: impl FnMut(&[Member], u64, u64) -> Option<u16>,
) -> Result<(), TestCaseError> {
    let mut p = pool(&vec![1; n]);
    for (now, e) in events.iter().enumerate() {
        match *e {
            Event::Request(t) => {
                let Some(node) = pick(&p, t, now as u64 * 100) else {
                    prop_assert!(!p.iter().any(Member::takes_work));
                    continue;
                };
                let chosen = *member(&mut p, node);
                prop_assert!(chosen.takes_work());
                let underused = p.iter().any(|m| m.takes_work() && m.load < SMALL.t_low);
                prop_assert!(
                    !(chosen.load > SMALL.t_high && underused),
                    "picked {chosen:?} from {p:?}"
                );
                member(&mut p, node).load += 1;
            }
            Event::Close(i) => {
                if let Some(m) = p.get_mut(i % n) {
                    m.load = m.load.saturating_sub(1);
                }
            }
            Event::State(i, s) => p[i % n].state = s,
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn lard_never_overloads_while_a_node_is_underused(
        n in 1usize..6,
        events in prop::collection::vec(event(), 1..200),
    ) {
        let mut lard = lard_over(16, SMALL);
        run_lard(n, &events, |p, t, now| lard.pick(p, t, now))?;
    }

    #[test]
    fn lard_r_never_overloads_while_a_node_is_underused(
        n in 1usize..6,
        events in prop::collection::vec(event(), 1..200),
    ) {
        let mut lard = lard_r_over::<3>(16, SMALL);
        run_lard(n, &events, |p, t, now| {
            let pick = lard.pick(p, t, now);
            // A set only ever holds members that took work when it changed,
            // without repeats, and the pick is one of them.
            let set = lard.servers(t);
            if let Some(node) = pick {
                assert!(set.contains(&node), "{node} not in {set:?}");
            }
            let mut sorted = set.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), set.len());
            pick
        })?;
    }
}

#[test]
fn lard_keeps_a_target_on_its_server_while_load_allows() {
    let mut p = pool(&[1, 1, 1]);
    let mut lard = lard_over(64, SMALL);
    let mut home = HashMap::new();
    for round in 0..3 {
        for t in 0..6u64 {
            let n = lard.pick(&p, t, round).unwrap();
            assert_eq!(*home.entry(t).or_insert(n), n, "target {t} moved");
            // Requests finish quickly: loads stay at T_high at most.
            member(&mut p, n).load = (member(&mut p, n).load + 1).min(SMALL.t_high);
        }
    }
    // New targets were spread by load: all three nodes got some.
    let mut nodes: Vec<u16> = home.values().copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(nodes, [1, 2, 3]);
}

#[test]
fn lard_moves_a_target_off_an_overloaded_server() {
    let mut p = pool(&[1, 1, 1]);
    let mut lard = lard_over(64, SMALL);
    assert_eq!(lard.pick(&p, 7, 0), Some(1));
    // Above T_high with node 3 below T_low: move to the least loaded.
    p[0].load = SMALL.t_high + 1;
    p[1].load = SMALL.t_low;
    p[2].load = SMALL.t_low - 1;
    assert_eq!(lard.pick(&p, 7, 1), Some(3));
    assert_eq!(lard.server(7), Some(3));
    // Above T_high but nobody below T_low: stay.
    p[2].load = SMALL.t_high + 1;
    p[1].load = SMALL.t_high;
    assert_eq!(lard.pick(&p, 7, 2), Some(3));
    // At 2 T_high: move regardless.
    p[2].load = 2 * SMALL.t_high;
    assert_eq!(lard.pick(&p, 7, 3), Some(2));
    // Its server going down or draining also moves it.
    p[1].state = MemberState::Drain;
    assert_eq!(lard.pick(&p, 7, 4), Some(1));
}

#[test]
fn lard_table_evicts_the_least_recently_used_target() {
    // Four entries: a single bucket.
    let p = pool(&[1]);
    let mut lard = lard_over(4, LardParams::DEFAULT);
    for t in 0..4u64 {
        lard.pick(&p, t, t);
    }
    lard.pick(&p, 0, 10);
    assert_eq!(lard.targets(), 4);
    lard.pick(&p, 4, 11);
    assert_eq!(lard.targets(), 4);
    assert_eq!(lard.server(1), None, "target 1 was the least recently used");
    for t in [0, 2, 3, 4] {
        assert_eq!(lard.server(t), Some(1));
    }
    lard.clear();
    assert_eq!(lard.targets(), 0);
    // Without a table, or with an empty one, LARD is plain least-loaded.
    let mut none = Lard::<Vec<Entry<1>>, 1>::new(LardParams::DEFAULT);
    let mut q = pool(&[1, 1]);
    q[0].load = 1;
    assert_eq!(none.pick(&q, 1, 0), Some(2));
    assert_eq!(none.capacity(), 0);
    let mut none = lard_over(0, LardParams::DEFAULT);
    let mut q = pool(&[1, 1]);
    q[0].load = 1;
    assert_eq!(none.pick(&q, 1, 0), Some(2));
    assert_eq!(
        lard_r_over::<4>(0, LardParams::DEFAULT).pick(&q, 1, 0),
        Some(2)
    );
    assert_eq!(
        lard_r_over::<0>(4, LardParams::DEFAULT).pick(&q, 1, 0),
        Some(2)
    );
}

#[test]
fn lard_admission_limit_is_the_papers() {
    let d = LardParams::default();
    assert_eq!(
        d,
        LardParams {
            t_low: 25,
            t_high: 65,
            k_ms: 20_000
        }
    );
    assert_eq!(d.admission_limit(4), 3 * 65 + 25 - 1);
    assert_eq!(d.admission_limit(1), 24);
    assert_eq!(d.admission_limit(0), 0);
    assert_eq!(d.admission_limit(u32::MAX), u32::MAX);
    let none_low = LardParams { t_low: 0, ..d };
    assert_eq!(none_low.admission_limit(1), 0);
}

// ---------------------------------------------------------------------------
// LARD/R

#[test]
fn lard_r_set_grows_under_load_and_shrinks_after_k() {
    let mut p = pool(&[1, 1, 1, 1]);
    let mut lard = lard_r_over::<4>(64, SMALL);
    assert_eq!(lard.pick(&p, 9, 0), Some(1));
    assert_eq!(lard.servers(9), [1]);
    // Node 1 overloaded, node 3 underused and least loaded: 3 joins.
    p[0].load = 5;
    p[1].load = 2;
    p[2].load = 0;
    p[3].load = 1;
    assert_eq!(lard.pick(&p, 9, 10), Some(3));
    assert_eq!(lard.servers(9), [1, 3]);
    // Not overloaded: the least loaded member of the set serves.
    p[2].load = 3;
    assert_eq!(lard.pick(&p, 9, 20), Some(3));
    // Both members at 2 T_high: the least loaded node joins, underused
    // or not.
    p[0].load = 8;
    p[2].load = 8;
    p[1].load = 3;
    p[3].load = 3;
    assert_eq!(lard.pick(&p, 9, 30), Some(2));
    assert_eq!(lard.servers(9), [1, 3, 2]);

    // The load goes away; within K of the last change the set stays.
    for m in &mut p {
        m.load = 0;
    }
    p[2].load = 1;
    assert_eq!(lard.pick(&p, 9, 30 + SMALL.k_ms), Some(1));
    assert_eq!(lard.servers(9), [1, 3, 2]);
    // Unchanged for more than K: the most loaded member (3) leaves.
    assert_eq!(lard.pick(&p, 9, 31 + SMALL.k_ms), Some(1));
    assert_eq!(lard.servers(9), [1, 2]);
    // One member per K, down to one.
    assert_eq!(lard.pick(&p, 9, 32 + SMALL.k_ms), Some(1));
    assert_eq!(lard.servers(9), [1, 2]);
    assert_eq!(lard.pick(&p, 9, 32 + 2 * SMALL.k_ms), Some(1));
    assert_eq!(lard.servers(9), [1]);
    assert_eq!(lard.pick(&p, 9, 33 + 5 * SMALL.k_ms), Some(1));
    assert_eq!(lard.servers(9), [1]);
}

#[test]
fn lard_r_full_set_replaces_its_most_loaded_member() {
    let mut p = pool(&[1, 1, 1]);
    let mut lard = lard_r_over::<2>(64, SMALL);
    lard.pick(&p, 5, 0);
    p[0].load = 5;
    assert_eq!(lard.pick(&p, 5, 1), Some(2));
    assert_eq!(lard.servers(5), [1, 2]);
    p[0].load = 9;
    p[1].load = 5;
    assert_eq!(lard.pick(&p, 5, 2), Some(3));
    assert_eq!(lard.servers(5), [3, 2]);
}

#[test]
fn lard_r_drops_members_that_stop_taking_work() {
    let mut p = pool(&[1, 1, 1]);
    let mut lard = lard_r_over::<4>(64, SMALL);
    lard.pick(&p, 5, 0);
    p[0].load = 5;
    assert_eq!(lard.pick(&p, 5, 1), Some(2));
    p[0].load = 0;
    p[0].state = MemberState::Down;
    assert_eq!(lard.pick(&p, 5, 2), Some(2));
    assert_eq!(lard.servers(5), [2]);
    p[1].state = MemberState::Drain;
    assert_eq!(lard.pick(&p, 5, 3), Some(3));
    assert_eq!(lard.servers(5), [3]);
}

#[test]
fn lard_r_long_stable_set_trades_members_when_it_grows() {
    // As in the paper, the shrink check uses the time of the previous
    // change: a set unchanged for K that must grow also drops its most
    // loaded member, so a single server is replaced, not joined.
    let mut p = pool(&[1, 1]);
    let mut lard = lard_r_over::<4>(64, SMALL);
    lard.pick(&p, 5, 0);
    p[0].load = 5;
    assert_eq!(lard.pick(&p, 5, 2 * SMALL.k_ms), Some(2));
    assert_eq!(lard.servers(5), [2]);
}
