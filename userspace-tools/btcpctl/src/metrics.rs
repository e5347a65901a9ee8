//! `btcpctl stats --format prometheus|json`: the module's figures as it
//! sends them (`METRICS_GET`: one nested `METRIC` attribute per figure,
//! typed; rust/btcp-core/src/metrics.rs encodes them), printed in
//! Prometheus' text exposition format (what node_exporter's textfile
//! collector reads) or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Cursor;
use std::net::Ipv4Addr;

use btcp_core::metrics::attr;
use neli::attr::Attribute;
use neli::genl::Nlattr;
use neli::types::{Buffer, GenlBuffer};
use neli::FromBytesWithInput;
use serde::Serialize;

/// One figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metric {
    /// Its name, e.g. `handoffs_remote` (Documentation/admin-guide.md).
    pub name: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// The value; a histogram's count.
    pub value: u64,
    /// The peer node it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<u16>,
    /// The service, `VIP:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// A histogram's sum, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum_ms: Option<u64>,
    /// A histogram's buckets, cumulative, in order; the last is +Inf.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<Bucket>,
}

/// A histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Its upper bound in milliseconds; `None` is +Inf.
    pub le_ms: Option<u64>,
    /// Observations at most `le_ms`.
    pub count: u64,
}

type Attrs = GenlBuffer<u16, Buffer>;

/// The attributes in `bytes` (a message's payload after its headers, or a
/// nested attribute's).
fn attrs(bytes: &[u8]) -> Result<Attrs, String> {
    Attrs::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len())
        .map_err(|e| format!("bad attributes: {e}"))
}

fn fixed<const N: usize>(a: &Nlattr<u16, Buffer>) -> Result<[u8; N], String> {
    <[u8; N]>::try_from(a.payload().as_ref()).map_err(|_| {
        format!(
            "attribute {} is {} bytes, not {N}",
            a.nla_type().nla_type(),
            a.payload().as_ref().len()
        )
    })
}

fn string(a: &Nlattr<u16, Buffer>) -> Result<String, String> {
    let b = a.payload().as_ref();
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    String::from_utf8(b.to_vec()).map_err(|_| "a name that is not UTF-8".to_string())
}

/// One `METRIC` attribute's payload.
pub fn parse(payload: &[u8]) -> Result<Metric, String> {
    let mut m = Metric {
        name: String::new(),
        kind: "counter",
        value: 0,
        peer: None,
        service: None,
        pool: None,
        sum_ms: None,
        buckets: Vec::new(),
    };
    let (mut addr, mut port) = (None, None);
    for a in attrs(payload)?.iter() {
        match *a.nla_type().nla_type() {
            attr::NAME => m.name = string(a)?,
            attr::KIND => {
                m.kind = match fixed::<1>(a)?[0] {
                    0 => "counter",
                    1 => "gauge",
                    2 => "histogram",
                    k => return Err(format!("unknown kind {k}")),
                }
            }
            attr::VALUE => m.value = u64::from_ne_bytes(fixed(a)?),
            attr::PEER => m.peer = Some(u16::from_ne_bytes(fixed(a)?)),
            attr::SERVICE_ADDR => addr = Some(Ipv4Addr::from(u32::from_ne_bytes(fixed(a)?))),
            attr::SERVICE_PORT => port = Some(u16::from_ne_bytes(fixed(a)?)),
            attr::POOL => m.pool = Some(string(a)?),
            attr::SUM_MS => m.sum_ms = Some(u64::from_ne_bytes(fixed(a)?)),
            attr::BUCKET => {
                let (mut le, mut count) = (None, None);
                for b in attrs(a.payload().as_ref())?.iter() {
                    match *b.nla_type().nla_type() {
                        attr::LE_MS => le = Some(u64::from_ne_bytes(fixed(b)?)),
                        attr::COUNT => count = Some(u64::from_ne_bytes(fixed(b)?)),
                        _ => {}
                    }
                }
                let (Some(le), Some(count)) = (le, count) else {
                    return Err("a bucket without its bound or count".into());
                };
                m.buckets.push(Bucket {
                    le_ms: (le != u64::MAX).then_some(le),
                    count,
                });
            }
            // Newer modules may say more: what is not known is left out.
            _ => {}
        }
    }
    if m.name.is_empty()
        || !m
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!("a figure with a bad name '{}'", m.name));
    }
    if let (Some(a), Some(p)) = (addr, port) {
        m.service = Some(format!("{a}:{p}"));
    }
    Ok(m)
}

/// Every `METRIC` attribute among `bytes`' attributes.
pub fn parse_all(bytes: &[u8]) -> Result<Vec<Metric>, String> {
    attrs(bytes)?
        .iter()
        .filter(|a| *a.nla_type().nla_type() == attr::METRIC)
        .map(|a| parse(a.payload().as_ref()))
        .collect()
}

/// What `# HELP` says of a family; the node's own counters are described
/// in Documentation/admin-guide.md.
fn help(name: &str) -> String {
    let known = [
        ("peer_connected", "whether the control channel to the peer is up (1) or not (0)"),
        ("peer_live", "whether the peer is live: heard from within peer-dead-ms"),
        ("peer_queued_bytes", "control-channel bytes queued for the peer"),
        ("peer_heard_ms_ago", "milliseconds since the peer was last heard from"),
        ("peer_serves", "connections the peer serves, from its last heartbeat"),
        ("peer_load_permille", "the peer's flow table use, in permille, from its last heartbeat"),
        ("peer_listening", "whether something listens for the service on the peer"),
        ("peer_accept_queue", "connections in the peer's accept queue for the service"),
        ("peer_accept_limit", "the peer's accept queue limit (listen backlog) for the service"),
        ("peer_accept_oldest_ms", "how long the oldest connection in the peer's accept queue has waited"),
        ("peer_handoffs", "connections offered to the node (this node's own stack included)"),
        ("peer_handoff_acks", "handoffs the node took"),
        ("peer_handoff_nacks", "handoffs the node refused"),
        ("peer_handoff_timeouts", "handoffs the node did not answer within handoff-ms"),
        ("peer_handoff_rtt", "from a HANDOFF_REQ to its HANDOFF_ACK (millisecond clock)"),
        ("peer_move_wait", "from the first MOVE_RELEASE to the node's MOVE_RELEASED: how long a request that moves waited (millisecond clock)"),
        ("service_handoffs", "connections of the service handed to the node"),
        ("pool_picks", "connections the pool's policy gave the node"),
        ("metrics_untracked", "events with no slot left to count them in (more nodes, services or pools than the module keeps)"),
        ("fe_flows_live", "front-end connections not over"),
        ("be_flows_live", "back-end connections not over"),
    ];
    match known.iter().find(|(n, _)| *n == name) {
        Some((_, h)) => format!("btcp: {h}"),
        None => format!("btcp counter {name} (Documentation/admin-guide.md)"),
    }
}

/// A label value, escaped as the exposition format asks.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Milliseconds as seconds, as short as exact.
fn seconds(ms: u64) -> String {
    format!("{}", ms as f64 / 1000.0)
}

fn labels(m: &Metric, extra: Option<(&str, String)>) -> String {
    let mut l: Vec<(&str, String)> = Vec::new();
    if let Some(p) = m.peer {
        l.push(("peer", p.to_string()));
    }
    if let Some(s) = &m.service {
        l.push(("service", s.clone()));
    }
    if let Some(p) = &m.pool {
        l.push(("pool", p.clone()));
    }
    l.extend(extra);
    if l.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The figures in Prometheus' text exposition format (version 0.0.4):
/// `btcp_` names, counters ending in `_total`, round trips as a
/// histogram in seconds; each family's samples together under its
/// `# HELP` and `# TYPE`.
pub fn prometheus(ms: &[Metric]) -> String {
    // Families in the order first seen, samples in their order.
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut by_family: BTreeMap<&str, Vec<&Metric>> = BTreeMap::new();
    for m in ms {
        let v = by_family.entry(&m.name).or_default();
        if v.is_empty() {
            order.push((&m.name, m.kind));
        }
        v.push(m);
    }
    let mut out = String::new();
    for (name, kind) in order {
        let family = match kind {
            "counter" => format!("btcp_{name}_total"),
            "histogram" => format!("btcp_{name}_seconds"),
            _ => format!("btcp_{name}"),
        };
        let _ = writeln!(out, "# HELP {family} {}", help(name));
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for m in by_family.get(name).into_iter().flatten() {
            if m.kind != kind {
                continue; // one kind per family: a clash is left out
            }
            if kind != "histogram" {
                let _ = writeln!(out, "{family}{} {}", labels(m, None), m.value);
                continue;
            }
            for b in &m.buckets {
                let le = b.le_ms.map_or("+Inf".to_string(), seconds);
                let _ = writeln!(
                    out,
                    "{family}_bucket{} {}",
                    labels(m, Some(("le", le))),
                    b.count
                );
            }
            let _ = writeln!(
                out,
                "{family}_sum{} {}",
                labels(m, None),
                seconds(m.sum_ms.unwrap_or(0))
            );
            let _ = writeln!(out, "{family}_count{} {}", labels(m, None), m.value);
        }
    }
    out
}

/// The figures as a JSON array.
pub fn json(ms: &[Metric]) -> String {
    serde_json::to_string_pretty(ms).unwrap_or_else(|_| "[]".into()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use btcp_core::flow::Endpoint;
    use btcp_core::metrics::{encode, Event, Full, Histogram, Metrics, Record, Sink};

    struct Bytes(Vec<u8>);
    impl Sink for Bytes {
        fn put(&mut self, b: &[u8]) -> Result<(), Full> {
            self.0.extend_from_slice(b);
            Ok(())
        }
    }

    fn encoded(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = Bytes(Vec::new());
        for r in records {
            encode(r, &mut out).unwrap();
        }
        out.0
    }

    /// What the module's encoder writes, neli reads back alike.
    #[test]
    fn records_read_back_as_written() {
        let h = Histogram {
            cumulative: [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4],
            sum_ms: 9000,
        };
        let bytes = encoded(&[
            Record::counter("syns", 12),
            Record {
                peer: Some(3),
                service: Some(Endpoint::new(0x0a63_0064, 443)),
                ..Record::gauge("peer_accept_queue", 7)
            },
            Record {
                pool: Some("web-2"),
                peer: Some(2),
                ..Record::counter("pool_picks", 5)
            },
            Record {
                peer: Some(2),
                kind: btcp_core::metrics::Kind::Histogram,
                hist: Some(h),
                ..Record::counter("peer_handoff_rtt", 4)
            },
        ]);
        let ms = parse_all(&bytes).unwrap();
        assert_eq!(ms.len(), 4);
        assert_eq!(
            (ms[0].name.as_str(), ms[0].kind, ms[0].value),
            ("syns", "counter", 12)
        );
        assert_eq!(ms[1].service.as_deref(), Some("10.99.0.100:443"));
        assert_eq!((ms[1].peer, ms[1].kind), (Some(3), "gauge"));
        assert_eq!(ms[2].pool.as_deref(), Some("web-2"));
        assert_eq!(ms[3].buckets.len(), 12);
        assert_eq!(
            ms[3].buckets[0],
            Bucket {
                le_ms: Some(1),
                count: 1
            }
        );
        assert_eq!(
            ms[3].buckets[11],
            Bucket {
                le_ms: None,
                count: 4
            }
        );
        assert_eq!(ms[3].sum_ms, Some(9000));
    }

    #[test]
    fn the_exposition_groups_families_and_names_histograms_in_seconds() {
        let m = Metrics::new();
        for (node, rtt_ms) in [(2, 0), (2, 3), (3, 1500)] {
            m.record(&Event::Answered { node, rtt_ms });
        }
        let cfg = btcp_core::config::NodeConfig::parse(
            b"node 1 10.2.0.2\npeer 2 10.3.0.1\npeer 3 10.3.0.2\npool web policy least-conn nodes 2,3\nrules default=web\n",
        ).unwrap();
        let mut out = Bytes(Vec::new());
        m.encode(&cfg, &mut out).unwrap();
        let text = prometheus(&parse_all(&out.0).unwrap());
        let family = |f: &str| text.lines().filter(|l| l.starts_with(f)).count();
        // Two peers' samples under one HELP and one TYPE.
        assert_eq!(family("# TYPE btcp_peer_handoff_acks_total counter"), 1);
        assert_eq!(family("btcp_peer_handoff_acks_total{"), 2);
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_bucket{peer=\"2\",le=\"0.001\"} 1\n"));
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_bucket{peer=\"2\",le=\"0.005\"} 2\n"));
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_bucket{peer=\"3\",le=\"2\"} 1\n"));
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_bucket{peer=\"3\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_sum{peer=\"3\"} 1.5\n"));
        assert!(text.contains("btcp_peer_handoff_rtt_seconds_count{peer=\"2\"} 2\n"));
        assert!(text.contains("btcp_metrics_untracked_total 0\n"));
        let j: serde_json::Value =
            serde_json::from_str(&json(&parse_all(&out.0).unwrap())).unwrap();
        assert!(j
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "peer_handoff_rtt" && m["peer"] == 3));
    }

    #[test]
    fn bad_records_are_errors() {
        let bytes = encoded(&[Record::counter("Bad-Name", 1)]);
        assert!(parse_all(&bytes).is_err());
        assert!(parse_all(&[8, 0, 4, 0, 1]).is_err(), "cut short");
    }
}
