//! `wait-drained`: whether a node still has connections open, read from
//! its counters (the text of /proc/net/btcp/counters).

/// Connections not over on this node: as a front-end (handed off or
/// still being received) and as a back-end (handed to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// `fe_flows_live`: connections this node fronts.
    pub fe: u64,
    /// `be_flows_live`: connections handed to this node.
    pub be: u64,
}

impl Live {
    /// Whether nothing is open: btcp can be unloaded without cutting a
    /// connection.
    pub fn drained(&self) -> bool {
        self.fe == 0 && self.be == 0
    }
}

/// The `fe_flows_live` and `be_flows_live` lines of `counters`; `None` if
/// either is missing (a module too old to say).
pub fn live(counters: &str) -> Option<Live> {
    let field = |name: &str| {
        counters.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(name))
                .then(|| w.next()?.parse().ok())
                .flatten()
        })
    };
    Some(Live {
        fe: field("fe_flows_live")?,
        be: field("be_flows_live")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_counts() {
        let text = "syns 4\nfe_flows_live 2\nbe_flows_live 0\nsent 9\n";
        assert_eq!(live(text), Some(Live { fe: 2, be: 0 }));
        assert!(!live(text).unwrap().drained());
        assert!(live("fe_flows_live 0\nbe_flows_live 0\n")
            .unwrap()
            .drained());
    }

    #[test]
    fn missing_or_bad_counts_are_none() {
        assert_eq!(live("fe_flows_live 0\n"), None);
        assert_eq!(live("fe_flows_live x\nbe_flows_live 0\n"), None);
        assert_eq!(live(""), None);
    }
}
