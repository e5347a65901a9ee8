//! The per-node timeouts an operator may set in the configuration
//! (`handshake-ms`, `request-ms`, `handoff-ms`, `idle-ms`, `linger-ms`,
//! `peer-dead-ms`, `dead-grace-ms`).
//!
//! Each is optional: a setting left out of a configuration means its
//! default ([`Config::default`]), whatever an earlier configuration said,
//! so a saved text restores exactly. [`Timeouts::flow_config`] is the one
//! place the machines' [`Config`] is made from them.

use ::core::fmt;

use super::config::ConfigErrorKind;
use super::flow::Config;

/// The longest timeout accepted: one day.
pub const MAX_TIMEOUT_MS: u32 = 86_400_000;

/// The timeout settings, in the order they are written: name, and the
/// smallest value accepted (0 only where "at once" means something; below
/// 10 ms a handoff's resend would race its answer on any real link).
/// A peer is declared dead after at least 100 ms of silence: its
/// HEARTBEATs come every quarter of that, and a work queue's latency on a
/// busy host is tens of milliseconds.
const SETTINGS: [(&str, u32); 7] = [
    ("handshake-ms", 1),
    ("request-ms", 1),
    ("handoff-ms", 10),
    ("idle-ms", 1),
    ("linger-ms", 0),
    ("peer-dead-ms", 100),
    ("dead-grace-ms", 0),
];

/// The field of [`Config`] that setting `i` of [`SETTINGS`] sets.
fn field(c: &mut Config, i: usize) -> Option<&mut u64> {
    match i {
        0 => Some(&mut c.handshake_ms),
        1 => Some(&mut c.request_ms),
        2 => Some(&mut c.handoff_ms),
        3 => Some(&mut c.idle_ms),
        4 => Some(&mut c.linger_ms),
        5 => Some(&mut c.peer_dead_ms),
        6 => Some(&mut c.dead_grace_ms),
        _ => None,
    }
}

/// The timeouts a configuration sets, one per [`SETTINGS`] entry: how long
/// a SYN-RECEIVED flow waits for the client's ACK; a client has to send a
/// complete request head; a HANDOFF_REQ (or a back-end's replay) waits
/// for its answer before it is sent again; a handed-off flow may see no
/// packet before it is ended; a closed flow keeps its translation; a peer
/// may stay silent before it gets no new handoffs; connections handed to a
/// dead peer are kept before their clients are reset. `None`
/// is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts([Option<u32>; SETTINGS.len()]);

impl Timeouts {
    /// Every timeout at its default.
    pub const DEFAULT: Timeouts = Timeouts([None; SETTINGS.len()]);

    /// Whether `name` is a timeout setting.
    pub fn is_setting(name: &str) -> bool {
        SETTINGS.iter().any(|(n, _)| *n == name)
    }

    /// Sets `name` from its text `value` (decimal milliseconds); `Err` for
    /// an unknown name or a value out of range.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigErrorKind> {
        let (i, (_, min)) = SETTINGS
            .iter()
            .enumerate()
            .find(|(_, (n, _))| *n == name)
            .ok_or(ConfigErrorKind::UnknownCommand)?;
        let v = value
            .parse::<u32>()
            .ok()
            .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(ConfigErrorKind::BadNumber)?;
        if v < *min || v > MAX_TIMEOUT_MS {
            return Err(ConfigErrorKind::BadTimeout);
        }
        let slot = self.0.get_mut(i).ok_or(ConfigErrorKind::UnknownCommand)?;
        *slot = Some(v);
        Ok(())
    }

    /// The machines' configuration: the defaults, with these set.
    pub fn flow_config(&self) -> Config {
        self.apply(Config::default())
    }

    /// `base` (the machines' configuration, options included) with the
    /// timeouts set here in place of its own.
    pub fn apply(&self, base: Config) -> Config {
        let mut c = base;
        for (i, v) in self.0.iter().enumerate() {
            if let (Some(v), Some(f)) = (v, field(&mut c, i)) {
                *f = u64::from(*v);
            }
        }
        c
    }

    /// Every timeout in force, set or default, as `name value` pairs on one
    /// line (for `btcpctl show`).
    pub fn effective(&self) -> Effective {
        Effective(self.flow_config())
    }
}

impl fmt::Display for Timeouts {
    /// The set timeouts, one configuration line each (defaults left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ((name, _), v) in SETTINGS.iter().zip(self.0.iter()) {
            if let Some(v) = v {
                writeln!(f, "{name} {v}")?;
            }
        }
        Ok(())
    }
}

/// Every timeout in force; see [`Timeouts::effective`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective(Config);

impl fmt::Display for Effective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut c = self.0;
        for (i, (name, _)) in SETTINGS.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name} {}", field(&mut c, i).map_or(0, |v| *v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    extern crate std;
    use super::super::config::NodeConfig;
    use super::*;

    #[test]
    fn a_setting_left_out_is_its_default() {
        let d = Config::default();
        let c = NodeConfig::parse(b"linger-ms 0\nhandoff-ms 250\nidle-ms 5000").unwrap();
        let f = c.timeouts.flow_config();
        assert_eq!((f.linger_ms, f.handoff_ms, f.idle_ms), (0, 250, 5000));
        assert_eq!(
            (f.handshake_ms, f.request_ms),
            (d.handshake_ms, d.request_ms)
        );
        // Written back: only what was set, in a fixed order.
        let text = std::format!("{}", c.timeouts);
        assert_eq!(text, "handoff-ms 250\nidle-ms 5000\nlinger-ms 0\n");
        // A later text without them restores every default.
        let mut c2 = c;
        c2.parse_into(b"ctrl-port 7447").unwrap();
        assert_eq!(c2.timeouts, Timeouts::DEFAULT);
        assert_eq!(c2.timeouts.flow_config(), d);
    }

    #[test]
    fn effective_lists_every_timeout() {
        let mut t = Timeouts::DEFAULT;
        t.set("request-ms", "2500").unwrap();
        assert_eq!(
            std::format!("{}", t.effective()),
            "handshake-ms 30000 request-ms 2500 handoff-ms 1000 idle-ms 600000 linger-ms 60000 \
             peer-dead-ms 1200 dead-grace-ms 5000"
        );
        assert_eq!(t.set("nope-ms", "1"), Err(ConfigErrorKind::UnknownCommand));
        assert_eq!(t.set("idle-ms", "+5"), Err(ConfigErrorKind::BadNumber));
        assert_eq!(
            t.set("idle-ms", "99999999999"),
            Err(ConfigErrorKind::BadNumber)
        );
        assert_eq!(t.set("linger-ms", "86400000"), Ok(()));
    }
}
