//! Property tests of the configuration text: whatever parses is written
//! back canonically (one normalisation, then a byte-identical fixpoint
//! that parses to the same configuration), and no text panics.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use btcp_core::config::NodeConfig;
use proptest::prelude::*;

/// A line, often valid, with blanks, comments and options in any order.
fn line() -> impl Strategy<Value = String> {
    let id = 1u16..7;
    let weight = prop::option::of(prop_oneof![Just("1"), Just("2"), Just("65535"), Just("0")]);
    let state = prop::option::of(prop_oneof![
        Just("up"),
        Just("drain"),
        Just("down"),
        Just("off")
    ]);
    let opts = (weight, state, any::<bool>()).prop_map(|(w, s, swap)| {
        let w = w.map(|w| format!(" weight {w}")).unwrap_or_default();
        let s = s.map(|s| format!(" state {s}")).unwrap_or_default();
        if swap {
            format!("{s}{w}")
        } else {
            format!("{w}{s}")
        }
    });
    let policy = prop_oneof![
        Just("lard"),
        Just("lard-r"),
        Just("maglev"),
        Just("wrr"),
        Just("least-conn"),
        Just("rr"),
    ];
    let pool_name = prop_oneof![Just("img"), Just("web"), Just("a-1"), Just("Bad")];
    let members = prop::collection::vec(1u16..8, 1..5)
        .prop_map(|v| v.iter().map(u16::to_string).collect::<Vec<_>>().join(","));
    let target = prop_oneof![
        (1u16..7).prop_map(|n| n.to_string()),
        Just("img".to_string()),
        Just("web".to_string()),
    ];
    let matcher = prop_oneof![
        Just("/a/"),
        Just("*.jpg"),
        Just("=/i.html"),
        Just("host:*.ex.com/"),
        Just("host:EX.com*.css"),
        Just("method:POST /api/"),
        Just("header:X-A:1 /"),
        Just("cookie:c /"),
    ];
    let rules = (
        prop::collection::vec((matcher, target.clone()), 0..4),
        target,
        any::<bool>(),
    )
        .prop_map(|(items, default, spaced)| {
            let sep = if spaced { " , " } else { "," };
            let mut parts: Vec<String> = items.iter().map(|(m, t)| format!("{m}={t}")).collect();
            parts.push(format!("default={default}"));
            format!("rules {}", parts.join(sep))
        });
    let body = prop_oneof![
        (id.clone(), opts.clone()).prop_map(|(i, o)| format!("node {i} 10.0.0.{i}{o}")),
        (id, opts).prop_map(|(i, o)| format!("peer {i} 10.0.0.{i}{o}")),
        (pool_name, policy, members, any::<bool>()).prop_map(|(n, p, m, swap)| {
            if swap {
                format!("pool {n} nodes {m} policy {p}")
            } else {
                format!("pool {n} policy {p} nodes {m}")
            }
        }),
        rules,
        Just("service 10.0.0.100:80".to_string()),
        Just("ctrl-port 7500".to_string()),
        Just("linger-ms 1500".to_string()),
        Just("linger-ms 0".to_string()),
        Just("handshake-ms 5000".to_string()),
        Just("request-ms 0".to_string()),
        Just("handoff-ms 250".to_string()),
        Just("idle-ms 86400000".to_string()),
        Just("key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f".to_string()),
    ];
    (
        body,
        prop_oneof![Just(""), Just("  "), Just("\t")],
        prop_oneof![Just(""), Just(" # note"), Just("\r")],
    )
        .prop_map(|(b, lead, tail)| format!("{lead}{b}{tail}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn display_is_canonical(lines in prop::collection::vec(line(), 0..14)) {
        let text = lines.join("\n");
        // About a quarter of these texts parse.
        if let Ok(cfg) = NodeConfig::parse(text.as_bytes()) {
            let once = cfg.to_string();
            let again = NodeConfig::parse(once.as_bytes());
            prop_assert!(again.is_ok(), "{:?} -> {:?}: {:?}", text, once, again);
            let again = again.unwrap();
            prop_assert_eq!(&again, &cfg);
            prop_assert_eq!(again.to_string(), once);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            Just(b'\n'), Just(b' '), Just(b','), Just(b'='), Just(b'1'),
        ],
        0..200,
    )) {
        if let Ok(cfg) = NodeConfig::parse(&text) {
            let once = cfg.to_string();
            prop_assert_eq!(NodeConfig::parse(once.as_bytes()).unwrap().to_string(), once);
        }
    }
}

#[test]
fn some_generated_texts_parse() {
    // The generator above is not all errors: a typical valid text.
    let text = "node 1 10.0.0.1 state drain weight 2\npeer 2 10.0.0.2\n\
                pool web nodes 2,1 policy lard-r\n\
                rules host:*.ex.com/=web , cookie:c /=2 , default=1\n";
    let cfg = NodeConfig::parse(text.as_bytes()).unwrap();
    assert_eq!(
        cfg.to_string(),
        "node 1 10.0.0.1 weight 2 state drain\nctrl-port 7447\npeer 2 10.0.0.2\n\
         pool web policy lard-r nodes 1,2\nrules host:*.ex.com/=web,cookie:c /=2,default=1\n"
    );
}
