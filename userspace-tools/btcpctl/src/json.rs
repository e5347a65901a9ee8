//! `btcpctl show --json` and `btcpctl flows --json`: the configuration
//! (the cluster keys left out, as `show` hides them) and the flow table as
//! JSON, for scripts that would otherwise scrape the text.

use btcp_core::config::{state_name, Ipv4, NodeConfig, Peer};
use serde_json::{json, Map, Value};

use crate::edit::endpoint_text;

fn node(p: &Peer) -> Value {
    json!({
        "id": p.id,
        "addr": Ipv4(p.addr).to_string(),
        "weight": p.weight,
        "state": state_name(p.state),
    })
}

/// The configuration: this node, its peers, services, pools, rules and
/// settings (timeouts as in force); whether keys are set, not the keys.
pub fn config(cfg: &NodeConfig) -> Value {
    let services: Vec<Value> = cfg
        .services()
        .map(|s| json!({ "service": endpoint_text(s), "tls": cfg.is_tls(*s) }))
        .collect();
    let pools: Vec<Value> = cfg
        .pools()
        .map(|p| {
            let mut v = json!({
                "name": p.name.as_str(),
                "policy": p.policy.to_string(),
                "nodes": p.members(),
            });
            if p.policy.is_lard() {
                v["t_low"] = p.lard.t_low.into();
                v["t_high"] = p.lard.t_high.into();
                v["k_ms"] = p.lard.k_ms.into();
            }
            v
        })
        .collect();
    let rules: Vec<Value> = cfg
        .rules
        .rules()
        .iter()
        .map(
            |r| json!({ "match": r.display_match().to_string(), "target": r.target().to_string() }),
        )
        .collect();
    json!({
        "node": cfg.node.as_ref().map(node),
        "peers": cfg.peers().map(node).collect::<Vec<_>>(),
        "ctrl_port": cfg.ctrl_port,
        "services": services,
        "pools": pools,
        "rules": rules,
        "default": cfg.rules.default_target().to_string(),
        "timeouts": cfg.timeouts.effective().to_string(),
        "syncookies": cfg.syncookies.name(),
        "syn_backlog": cfg.syn_backlog,
        "client_flows": cfg.client_flows,
        "encap": cfg.encap.name(),
        "key_set": cfg.key.is_some(),
        "key_next_set": cfg.key_next.is_some(),
        "key_overlap_s": cfg.key_overlap_s,
    })
}

/// The flow table's text (/proc/net/btcp/flows) as JSON: `fe` and `be`,
/// each its header's `word number` pairs, and `flows`, one object per flow
/// line (`side`, `client`, `server`, `state`, and `id` or `from`). A line
/// of another shape is an error: the text changed under btcpctl.
pub fn flows(text: &str) -> Result<Value, String> {
    let mut out = Map::new();
    let mut flows = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            [side @ ("fe_flows" | "be_flows"), total, rest @ ..] => {
                let mut h = Map::new();
                h.insert("total".into(), number(total, line)?);
                for pair in rest.chunks(2) {
                    let [k, v] = pair else {
                        return Err(format!("odd header: {line}"));
                    };
                    h.insert((*k).into(), number(v, line)?);
                }
                out.insert(side.trim_end_matches("_flows").into(), h.into());
            }
            [side @ ("fe" | "be"), client, "->", server, state, what @ ("id" | "from"), v] => {
                flows.push(json!({
                    "side": side,
                    "client": client,
                    "server": server,
                    "state": state,
                    *what: number(v, line)?,
                }));
            }
            [] => {}
            _ => return Err(format!("a flows line btcpctl does not know: {line}")),
        }
    }
    out.insert("flows".into(), flows.into());
    Ok(out.into())
}

fn number(s: &str, line: &str) -> Result<Value, String> {
    s.parse::<u64>()
        .map(Value::from)
        .map_err(|_| format!("not a number '{s}' in: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_read_as_the_module_writes_them() {
        let text = "fe_flows 2 live 1 lingering 1 max 64005 request_bytes 0\n\
                    be_flows 0 live 0 lingering 0 max 64005 filter_slots 65536 shards 32\n\
                    fe 10.99.0.10:50380 -> 10.99.0.100:80 Forwarding id 3\n\
                    be 10.99.0.10:44326 -> 10.99.0.2:80 Held from 1\n";
        let v = flows(text).unwrap();
        assert_eq!(v["fe"]["live"], 1);
        assert_eq!(v["be"]["shards"], 32);
        assert_eq!(v["flows"][0]["state"], "Forwarding");
        assert_eq!(v["flows"][0]["id"], 3);
        assert_eq!(v["flows"][1]["from"], 1);
        assert!(flows("fe 1.2.3.4:5 -> x\n").is_err());
        assert!(flows("fe_flows 2 live\n").is_err());
    }

    #[test]
    fn the_configuration_without_its_keys() {
        let cfg = crate::edit::parse(
            "node 1 10.2.0.2\npeer 2 10.3.0.1 weight 3\nservice 10.2.0.1:443 tls\n\
             pool web policy lard nodes 1,2\nrules /img/=2,sni:a.example=web,default=web\n\
             key 0000000000000000000000000000000000000000000000000000000000000001\n",
        )
        .unwrap();
        let v = config(&cfg);
        assert_eq!(v["node"]["id"], 1);
        assert_eq!(v["peers"][0]["weight"], 3);
        assert_eq!(v["services"][0]["tls"], true);
        assert_eq!(v["pools"][0]["nodes"], json!([1, 2]));
        assert!(v["pools"][0]["t_low"].is_number());
        assert_eq!(v["rules"].as_array().unwrap().len(), 2);
        assert_eq!(v["default"], "web");
        assert_eq!(v["key_set"], true);
        assert!(!v.to_string().contains("0001"), "no key in the output");
    }
}
