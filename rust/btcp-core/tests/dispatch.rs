//! The dispatcher: rules to pools to policies, node states, liveness and
//! refusals, and the fallback order; each policy's behaviour seen through
//! it; and properties over random configurations (a drained, down, dead
//! or tried node is never picked; `None` only when no node is eligible;
//! the pick comes from the first target with an eligible node).
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::collections::{HashMap, HashSet};

use btcp_core::config::{NodeConfig, MAX_POOLS};
use btcp_core::dispatch::{Pick, TargetEntry, Via, MAGLEV_SIZE};
use btcp_core::http::DEFAULT_HEAD_LIMIT;
use btcp_core::policy::MemberState;
use btcp_core::rules::{Request, Target};
use proptest::prelude::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn cfg(text: &str) -> NodeConfig {
    NodeConfig::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Node 1 (this one) and peers 2..=5 at 10.0.0.N, the key, and `extra`.
fn cluster(extra: &str) -> NodeConfig {
    cfg(&format!(
        "node 1 10.0.0.1\npeer 2 10.0.0.2\npeer 3 10.0.0.3\npeer 4 10.0.0.4\npeer 5 10.0.0.5\n\
         key {KEY}\n{extra}"
    ))
}

fn get(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

type Dispatcher = btcp_core::dispatch::Dispatcher<Vec<TargetEntry>>;

/// A dispatcher with LARD tables of 512 entries.
fn empty() -> Box<Dispatcher> {
    let mut d = Box::new(Dispatcher::new());
    d.set_target_tables(vec![TargetEntry::FREE; 512], vec![TargetEntry::FREE; 512]);
    d
}

fn fresh(cfg: &NodeConfig) -> Box<Dispatcher> {
    let mut d = empty();
    d.configure(cfg);
    d
}

/// A pick with no load, everyone usable, nothing tried.
fn pick(d: &mut Dispatcher, cfg: &NodeConfig, req: &str) -> Option<Pick> {
    let req = Request::parse(req.as_bytes(), DEFAULT_HEAD_LIMIT);
    d.pick(cfg, &req, |_| 0, |_| true, &[], 0)
}

fn node(d: &mut Dispatcher, cfg: &NodeConfig, req: &str) -> u16 {
    pick(d, cfg, req).unwrap().node
}

/// The node for `GET path` (host `h`) at `now` with these loads, everyone
/// usable, nothing tried.
fn node_under_load(
    d: &mut Dispatcher,
    cfg: &NodeConfig,
    path: &str,
    load: &HashMap<u16, u32>,
    now: u64,
) -> u16 {
    let r = get("h", path);
    let r = Request::parse(r.as_bytes(), DEFAULT_HEAD_LIMIT);
    let loads = |n| load.get(&n).copied().unwrap_or(0);
    d.pick(cfg, &r, loads, |_| true, &[], now).unwrap().node
}

#[test]
fn size_fits_one_allocation() {
    // Reported in dispatch.rs's docs: 10,192 bytes on x86-64 (the LARD
    // tables are the caller's).
    eprintln!("Dispatcher::SIZE = {}", Dispatcher::SIZE);
    const _: () = assert!(Dispatcher::SIZE < 16 * 1024);
    assert_eq!(Dispatcher::SIZE, std::mem::size_of::<Dispatcher>());
}

#[test]
fn lard_without_a_table_is_least_loaded_and_a_table_keeps_targets() {
    let c = cluster("pool web policy lard nodes 2,3\nrules /=web,default=1\n");
    let mut d = Box::new(Dispatcher::new());
    d.configure(&c);
    assert_eq!(d.target_capacity(), (0, 0));
    let mut load = HashMap::from([(2, 1), (3, 0)]);
    assert_eq!(node_under_load(&mut d, &c, "/a", &load, 0), 3);
    load.insert(3, 2);
    assert_eq!(node_under_load(&mut d, &c, "/a", &load, 1), 2, "no memory");
    d.set_target_tables(vec![TargetEntry::FREE; 64], vec![TargetEntry::FREE; 64]);
    assert_eq!(d.target_capacity(), (64, 64));
    assert_eq!(node_under_load(&mut d, &c, "/a", &load, 2), 2);
    load.insert(2, 3);
    assert_eq!(node_under_load(&mut d, &c, "/a", &load, 3), 2, "kept");
}

#[test]
fn rules_route_to_pools() {
    let c = cluster(
        "pool img policy least-conn nodes 2\npool css policy wrr nodes 3\n\
         pool api policy maglev nodes 4\npool home policy lard nodes 5\n\
         pool sub policy lard-r nodes 2,3\n\
         rules =/index.html=home,*.jpg=img,host:*.example.com*.css=css,host:*.example.com/=sub,\
         method:POST /api/=api,header:X-Beta:1 /=4,cookie:tier:gold /=5,default=1\n",
    );
    let mut d = fresh(&c);
    let cases = [
        (get("h", "/index.html"), 5, Via::Rule(0)),
        (get("h", "/index.html?x"), 5, Via::Rule(0)),
        (get("h", "/index.htm"), 1, Via::Default),
        (get("h", "/a/b.jpg"), 2, Via::Rule(1)),
        (get("www.example.com", "/a/b.jpg"), 2, Via::Rule(1)),
        (get("www.example.com", "/s.css"), 3, Via::Rule(2)),
        (get("example.com", "/s.css"), 1, Via::Default),
        (get("a.b.example.com", "/"), 2, Via::Rule(3)),
        (
            "POST /api/x HTTP/1.1\r\nHost: h\r\n\r\n".into(),
            4,
            Via::Rule(4),
        ),
        (get("h", "/api/x"), 1, Via::Default),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nX-Beta: 1\r\n\r\n".into(),
            4,
            Via::Rule(5),
        ),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; tier=gold\r\n\r\n".into(),
            5,
            Via::Rule(6),
        ),
        (
            "GET / HTTP/1.1\r\nHost: h\r\nCookie: tier=silver\r\n\r\n".into(),
            1,
            Via::Default,
        ),
        ("garbage\r\n\r\n".into(), 1, Via::Default),
    ];
    for (req, want, via) in cases {
        let p = pick(&mut d, &c, &req).unwrap();
        assert_eq!((p.node, p.via), (want, via), "{req:?}");
    }
}

#[test]
fn drained_and_down_nodes_get_no_new_work() {
    let c = cluster("pool web policy wrr nodes 2,3,4\nrules /=web,default=5\n");
    let mut d = fresh(&c);
    let seen: HashSet<u16> = (0..30).map(|_| node(&mut d, &c, &get("h", "/"))).collect();
    assert_eq!(seen, HashSet::from([2, 3, 4]));
    // Drain 3, take 4 down: only 2 is picked.
    let c2 = cfg(&c
        .to_string()
        .replace("peer 3 10.0.0.3\n", "peer 3 10.0.0.3 state drain\n")
        .replace("peer 4 10.0.0.4\n", "peer 4 10.0.0.4 state down\n"));
    d.configure(&c2);
    for _ in 0..30 {
        assert_eq!(node(&mut d, &c2, &get("h", "/")), 2);
    }
    // Draining 2 as well: the pool is empty, the default takes over.
    let c3 = cfg(&c2
        .to_string()
        .replace("peer 2 10.0.0.2\n", "peer 2 10.0.0.2 state drain\n"));
    d.configure(&c3);
    assert_eq!(
        pick(&mut d, &c3, &get("h", "/")),
        Some(Pick {
            node: 5,
            via: Via::Default
        })
    );
    // A drained default and a drained rule node: any node, least loaded.
    let c4 = cfg(&c3
        .to_string()
        .replace("peer 5 10.0.0.5\n", "peer 5 10.0.0.5 state drain\n"));
    let p = pick(&mut d, &c4, &get("h", "/")).unwrap();
    assert_eq!((p.node, p.via), (1, Via::Any));
    let c5 = cfg(&c4
        .to_string()
        .replace("node 1 10.0.0.1\n", "node 1 10.0.0.1 state down\n"));
    assert_eq!(pick(&mut d, &c5, &get("h", "/")), None);
}

#[test]
fn usable_and_tried_nodes() {
    let c = cluster("pool web policy least-conn nodes 2,3\nrules /=web,default=4\n");
    let mut d = fresh(&c);
    let text = get("h", "/");
    let req = Request::parse(text.as_bytes(), DEFAULT_HEAD_LIMIT);
    let loads = |n: u16| if n == 2 { 0 } else { 10 };
    let p = |d: &mut Dispatcher, usable: &dyn Fn(u16) -> bool, tried: &[u16]| {
        d.pick(&c, &req, loads, usable, tried, 0)
    };
    assert_eq!(p(&mut d, &|_| true, &[]).unwrap().node, 2);
    // 2 refused: 3, though busier.
    assert_eq!(p(&mut d, &|_| true, &[2]).unwrap().node, 3);
    // 2 is not reachable: 3.
    assert_eq!(p(&mut d, &|n| n != 2, &[]).unwrap().node, 3);
    // Both refused: the default, 4.
    let got = p(&mut d, &|_| true, &[2, 3]).unwrap();
    assert_eq!((got.node, got.via), (4, Via::Default));
    // And 4 too: any other node, least loaded per weight (1 and 5 tie at
    // 10: the lower id).
    let got = p(&mut d, &|_| true, &[2, 3, 4]).unwrap();
    assert_eq!((got.node, got.via), (1, Via::Any));
    let got = p(&mut d, &|n| n != 1, &[2, 3, 4]).unwrap();
    assert_eq!(got.node, 5);
    assert_eq!(p(&mut d, &|_| true, &[1, 2, 3, 4, 5]), None);
    assert_eq!(p(&mut d, &|_| false, &[]), None);
}

#[test]
fn wrr_proportions_and_reset() {
    let c = cluster(
        "peer 6 10.0.0.6 weight 5\npool web policy wrr nodes 6,2,3\nrules /=web,default=1\n",
    );
    let mut d = fresh(&c);
    let seq: Vec<u16> = (0..7).map(|_| node(&mut d, &c, &get("h", "/"))).collect();
    // nginx's smooth WRR over {2: 1, 3: 1, 6: 5}, in member order 2, 3, 6.
    assert_eq!(seq, [6, 6, 2, 6, 3, 6, 6]);
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for _ in 0..700 {
        *counts.entry(node(&mut d, &c, &get("h", "/"))).or_default() += 1;
    }
    assert_eq!(counts, HashMap::from([(6, 500), (2, 100), (3, 100)]));
    // Reconfiguring with the same pool keeps the sequence going; a weight
    // change restarts it.
    let mut d2 = fresh(&c);
    let first: Vec<u16> = (0..3).map(|_| node(&mut d2, &c, &get("h", "/"))).collect();
    d2.configure(&cfg(&c.to_string()));
    let rest: Vec<u16> = (0..4).map(|_| node(&mut d2, &c, &get("h", "/"))).collect();
    assert_eq!([first, rest].concat(), seq);
    let c2 = cfg(&c.to_string().replace("weight 5", "weight 2"));
    d2.configure(&c2);
    let seq2: Vec<u16> = (0..4).map(|_| node(&mut d2, &c2, &get("h", "/"))).collect();
    assert_eq!(seq2, [6, 2, 3, 6]);
}

#[test]
fn maglev_is_consistent() {
    let text = "pool web policy maglev nodes 2,3,4,5\nrules /=web,default=1\n";
    let c = cluster(text);
    let mut d = fresh(&c);
    let paths: Vec<String> = (0..400).map(|i| format!("/obj/{i}")).collect();
    let before: Vec<u16> = paths
        .iter()
        .map(|p| node(&mut d, &c, &get("h", p)))
        .collect();
    // Stable, and the same on another front-end with the same key.
    let mut other = fresh(&c);
    for (p, &n) in paths.iter().zip(&before) {
        assert_eq!(node(&mut d, &c, &get("h", p)), n);
        assert_eq!(node(&mut other, &c, &get("H", p)), n);
    }
    // Spread over the members.
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for &n in &before {
        *counts.entry(n).or_default() += 1;
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|&c| c > 50), "{counts:?}");
    // Node 3 goes away (not usable): only its targets move.
    let req = |p: &str| get("h", p);
    let after: Vec<u16> = paths
        .iter()
        .map(|p| {
            let r = req(p);
            let r = Request::parse(r.as_bytes(), DEFAULT_HEAD_LIMIT);
            d.pick(&c, &r, |_| 0, |n| n != 3, &[], 0).unwrap().node
        })
        .collect();
    let moved_others = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| **b != 3 && a != b)
        .count();
    assert!(after.iter().all(|&n| n != 3));
    // Maglev moves a few more than the minimum; with 251 slots, a handful.
    assert!(moved_others < paths.len() / 10, "{moved_others} moved");
    // A refused target goes elsewhere in the pool, consistently.
    let r = req("/obj/7");
    let r = Request::parse(r.as_bytes(), DEFAULT_HEAD_LIMIT);
    let first = d.pick(&c, &r, |_| 0, |_| true, &[], 0).unwrap().node;
    let second = d.pick(&c, &r, |_| 0, |_| true, &[first], 0).unwrap();
    assert_ne!(second.node, first);
    assert_eq!(second.via, Via::Rule(0));
    assert_eq!(
        d.pick(&c, &r, |_| 0, |_| true, &[first], 0).unwrap(),
        second
    );
    // A different key hashes differently.
    let c_other_key = cfg(&c.to_string().replace(&KEY[..4], "ffff"));
    let mut d3 = fresh(&c_other_key);
    let differ = paths
        .iter()
        .zip(&before)
        .filter(|(p, &n)| node(&mut d3, &c_other_key, &get("h", p)) != n)
        .count();
    assert!(differ > paths.len() / 2, "{differ}");
    const _: () = assert!(MAGLEV_SIZE == 251);
}

#[test]
fn maglev_weights() {
    let c = cluster(
        "peer 6 10.0.0.6 weight 3\npool web policy maglev nodes 2,6\nrules /=web,default=1\n",
    );
    let mut d = fresh(&c);
    let n6 = (0..2000)
        .filter(|i| node(&mut d, &c, &get("h", &format!("/{i}"))) == 6)
        .count();
    // 3/4 of the slots, give or take.
    assert!((1350..1650).contains(&n6), "{n6}");
}

#[test]
fn lard_keeps_targets_and_moves_them_under_load() {
    let c = cluster("pool web policy lard nodes 2,3\nrules /=web,default=1\n");
    let mut d = fresh(&c);
    let mut load: HashMap<u16, u32> = HashMap::new();
    let go = |d: &mut Dispatcher, path: &str, load: &HashMap<u16, u32>, now| {
        node_under_load(d, &c, path, load, now)
    };
    let a = go(&mut d, "/a", &load, 0);
    *load.entry(a).or_default() += 1;
    let b = go(&mut d, "/b", &load, 0);
    assert_ne!(a, b, "a new target goes to the least loaded member");
    // Targets stay while load allows, even if unbalanced.
    load.insert(a, 50);
    load.insert(b, 0);
    assert_eq!(go(&mut d, "/a", &load, 1), a);
    // Over T_high (65) with the other under T_low (25): moved.
    load.insert(a, 66);
    assert_eq!(go(&mut d, "/a", &load, 2), b);
    assert_eq!(go(&mut d, "/a", &load, 3), b);
}

#[test]
fn lard_uses_each_pools_thresholds() {
    // Two LARD pools over the same nodes: `low` moves a target off a node
    // above 8 connections while another is under 4; `std` keeps the
    // paper's 65/25.
    let c = cluster(
        "pool low policy lard nodes 2,3 t-low 4 t-high 8\npool std policy lard nodes 2,3\n\
         rules /low/=low,/=std,default=1\n",
    );
    let mut d = fresh(&c);
    let mut load: HashMap<u16, u32> = HashMap::new();
    let mut go = |path: &str, load: &HashMap<u16, u32>| node_under_load(&mut d, &c, path, load, 0);
    let a = go("/low/x", &load);
    assert_eq!(
        go("/std/x", &load),
        a,
        "both start on the least loaded, first"
    );
    let other = if a == 2 { 3 } else { 2 };
    load.insert(a, 9);
    load.insert(other, 3);
    assert_eq!(go("/low/x", &load), other, "9 > t-high 8 with 3 < t-low 4");
    assert_eq!(go("/std/x", &load), a, "9 is well under the paper's 65");
}

#[test]
fn lard_r_grows_a_set_under_load() {
    let c = cluster("pool web policy lard-r nodes 2,3,4\nrules /=web,default=1\n");
    let mut d = fresh(&c);
    let mut load: HashMap<u16, u32> = HashMap::new();
    let go = |d: &mut Dispatcher, load: &HashMap<u16, u32>, now| {
        node_under_load(d, &c, "/hot", load, now)
    };
    let first = go(&mut d, &load, 0);
    load.insert(first, 70);
    let second = go(&mut d, &load, 1);
    assert_ne!(second, first);
    // Both in the set now: the less loaded of the two gets it.
    load.insert(second, 10);
    assert_eq!(go(&mut d, &load, 2), second);
    load.insert(second, 80);
    load.insert(first, 30);
    assert_eq!(go(&mut d, &load, 3), first);
    // Pools do not share targets: the same path in another LARD/R pool
    // is assigned afresh, to that pool's members.
    let c2 = cluster(
        "pool web policy lard-r nodes 2,3,4\npool other policy lard-r nodes 5\n\
         rules host:o/=other,/=web,default=1\n",
    );
    d.configure(&c2);
    let r = get("o", "/hot");
    let r = Request::parse(r.as_bytes(), DEFAULT_HEAD_LIMIT);
    assert_eq!(d.pick(&c2, &r, |_| 0, |_| true, &[], 4).unwrap().node, 5);
}

#[test]
fn least_conn_uses_load_per_weight() {
    let c = cluster(
        "peer 6 10.0.0.6 weight 4\npool web policy least-conn nodes 2,3,6\nrules /=web,default=1\n",
    );
    let mut d = fresh(&c);
    let r = get("h", "/");
    let r = Request::parse(r.as_bytes(), DEFAULT_HEAD_LIMIT);
    let loads = |n: u16| match n {
        2 => 3,
        3 => 2,
        6 => 7, // 7/4 < 2
        _ => 0,
    };
    assert_eq!(d.pick(&c, &r, loads, |_| true, &[], 0).unwrap().node, 6);
    let loads = |n: u16| match n {
        2 => 3,
        3 => 1,
        6 => 7,
        _ => 0,
    };
    assert_eq!(d.pick(&c, &r, loads, |_| true, &[], 0).unwrap().node, 3);
}

#[test]
fn node_targets_and_pools_of_this_node() {
    let c = cluster("pool local policy wrr nodes 1,2\nrules /l/=local,/3/=3,default=4\n");
    let mut d = fresh(&c);
    let seen: HashSet<u16> = (0..4)
        .map(|_| node(&mut d, &c, &get("h", "/l/x")))
        .collect();
    assert_eq!(seen, HashSet::from([1, 2]));
    assert_eq!(node(&mut d, &c, &get("h", "/3/x")), 3);
    let c2 = cfg(&c
        .to_string()
        .replace("peer 3 10.0.0.3\n", "peer 3 10.0.0.3 state drain\n"));
    assert_eq!(
        pick(&mut d, &c2, &get("h", "/3/x")),
        Some(Pick {
            node: 4,
            via: Via::Default
        })
    );
    // A node id that is not configured is never picked.
    let c3 = cluster("rules /9/=9,default=2\n");
    assert_eq!(node(&mut fresh(&c3), &c3, &get("h", "/9/")), 2);
}

#[test]
fn configure_follows_pool_changes() {
    // Pools come and go, more over time than there are slots; picks stay
    // within each pool without configure, too.
    let mut d = empty();
    for round in 0..3 * MAX_POOLS {
        let mut text = String::new();
        let mut rules = Vec::new();
        for i in 0..MAX_POOLS {
            let member = 2 + ((round + i) % 4);
            text += &format!("pool p{}x{i} policy maglev nodes {member}\n", round % 3);
            rules.push(format!("/{i}/=p{}x{i}", round % 3));
        }
        text += &format!("rules {},default=1\n", rules.join(","));
        let c = cluster(&text);
        if round % 2 == 0 {
            d.configure(&c);
        }
        for i in 0..MAX_POOLS {
            let want = (2 + ((round + i) % 4)) as u16;
            assert_eq!(node(&mut d, &c, &get("h", &format!("/{i}/x"))), want);
        }
    }
    d.clear();
}

/// A random cluster: nodes 1..=n with weights and states, pools over
/// them, rules to pools and nodes.
#[derive(Debug, Clone)]
struct World {
    text: String,
    nodes: Vec<(u16, MemberState)>,
}

fn world() -> impl Strategy<Value = World> {
    let state = prop_oneof![
        6 => Just(MemberState::Up),
        1 => Just(MemberState::Drain),
        1 => Just(MemberState::Down),
    ];
    let policy = prop_oneof![
        Just("lard"),
        Just("lard-r"),
        Just("maglev"),
        Just("wrr"),
        Just("least-conn")
    ];
    (
        prop::collection::vec((1u16..5, state), 1..8),
        prop::collection::vec((policy, prop::collection::vec(0usize..8, 1..5)), 0..5),
        prop::collection::vec((0usize..3, 0usize..10), 0..6),
        0usize..10,
    )
        .prop_map(|(nodes, pools, rules, default)| {
            let states = ["up", "drain", "down"];
            let st = |s: MemberState| states[s as usize];
            let mut text = String::new();
            let mut out = Vec::new();
            for (i, (w, s)) in nodes.iter().enumerate() {
                let id = i as u16 + 1;
                let cmd = if i == 0 { "node" } else { "peer" };
                text += &format!("{cmd} {id} 10.0.0.{id} weight {w} state {}\n", st(*s));
                out.push((id, *s));
            }
            let mut names = Vec::new();
            for (i, (policy, members)) in pools.iter().enumerate() {
                let mut ids: Vec<u16> = members
                    .iter()
                    .map(|m| (m % nodes.len()) as u16 + 1)
                    .collect();
                ids.sort();
                ids.dedup();
                let ids: Vec<String> = ids.iter().map(u16::to_string).collect();
                text += &format!("pool p{i} policy {policy} nodes {}\n", ids.join(","));
                names.push(format!("p{i}"));
            }
            // Targets: a pool, or a node id (possibly unconfigured).
            let target = |k: usize| {
                if !names.is_empty() && k % 2 == 0 {
                    names[k / 2 % names.len()].clone()
                } else {
                    (k % (nodes.len() + 2) + 1).to_string()
                }
            };
            let paths = ["/a/", "*.jpg", "=/a/x.jpg"];
            let items: Vec<String> = rules
                .iter()
                .map(|(p, t)| format!("{}={}", paths[*p], target(*t)))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut items: Vec<String> = items;
            items.sort();
            items.dedup_by(|a, b| a.split('=').next() == b.split('=').next());
            text += &format!(
                "key {KEY}\nrules {}default={}\n",
                items.iter().map(|i| format!("{i},")).collect::<String>(),
                target(default)
            );
            World { text, nodes: out }
        })
}

proptest! {
    #[test]
    fn picks_are_eligible_and_in_order(
        w in world(),
        reqs in prop::collection::vec(
            (
                prop_oneof![Just("/a/x.jpg"), Just("/a/y"), Just("/b.jpg"), Just("/c")],
                prop::collection::vec(0u32..100, 8),
                prop::collection::vec(any::<bool>(), 8),
                prop::collection::vec(1u16..9, 0..4),
            ),
            1..40,
        ),
        configure in any::<bool>(),
    ) {
        let c = NodeConfig::parse(w.text.as_bytes());
        // Rules with duplicate keys are filtered above; anything else must
        // parse.
        let c = c.map_err(|e| TestCaseError::fail(format!("{e}: {}", w.text)))?;
        // Display round-trips the generated text.
        prop_assert_eq!(NodeConfig::parse(c.to_string().as_bytes()).unwrap(), c);
        let mut d = empty();
        if configure {
            d.configure(&c);
        }
        for (now, (path, loads, usable, tried)) in reqs.into_iter().enumerate() {
            let text = get("h", path);
            let req = Request::parse(text.as_bytes(), DEFAULT_HEAD_LIMIT);
            let load = |n: u16| loads[usize::from(n) % 8];
            let up = |n: u16| usable[usize::from(n) % 8];
            let eligible = |n: u16| {
                w.nodes.iter().any(|&(id, s)| id == n && s == MemberState::Up)
                    && up(n)
                    && !tried.contains(&n)
            };
            let got = d.pick(&c, &req, load, up, &tried, now as u64 * 1000);
            // Eligible members of a target, in the model.
            let members = |t: Target| -> Vec<u16> {
                match t {
                    Target::Node(n) => vec![n],
                    Target::Pool(name) => c.pool(&name).unwrap().members().to_vec(),
                }
                .into_iter()
                .filter(|&n| eligible(n))
                .collect()
            };
            let hit = c.rules.lookup_request(&req);
            let default = c.rules.default_target();
            let mut want: Vec<(Via, Vec<u16>)> = Vec::new();
            if let Some((i, r)) = hit {
                want.push((Via::Rule(i), members(r.target())));
            }
            if hit.map_or(true, |(_, r)| r.target() != default) {
                want.push((Via::Default, members(default)));
            }
            want.push((Via::Any, w.nodes.iter().map(|n| n.0).filter(|&n| eligible(n)).collect()));
            match want.into_iter().find(|(_, m)| !m.is_empty()) {
                None => prop_assert_eq!(got, None),
                Some((via, m)) => {
                    let got = got.unwrap();
                    prop_assert_eq!(got.via, via);
                    prop_assert!(m.contains(&got.node), "{:?} not in {:?}", got, m);
                    prop_assert!(eligible(got.node));
                }
            }
        }
    }
}

/// Where a picked node is: decided once, by `Target::resolve`, and local
/// exactly when it is this node's own stack.
#[test]
fn picked_nodes_resolve_to_one_place() {
    use btcp_core::frontend::Target;
    let vip = 0x0a63_0064;
    let cfg = NodeConfig::parse(b"node 1 10.99.0.1\npeer 2 10.99.0.11").unwrap();
    let me = Target::resolve(&cfg, 1, vip);
    assert_eq!(me, Target { node: 1, addr: vip });
    assert!(me.is_local(vip));
    let peer = Target::resolve(&cfg, 2, vip);
    assert_eq!(
        peer,
        Target {
            node: 2,
            addr: 0x0a63_000b
        }
    );
    assert!(!peer.is_local(vip));
    // A node that is not configured: this node.
    assert_eq!(Target::resolve(&cfg, 9, vip), me);
    // No node configured at all: node 0, locally.
    let bare = NodeConfig::parse(b"").unwrap();
    assert_eq!(
        Target::resolve(&bare, 3, vip),
        Target { node: 0, addr: vip }
    );
}
