//! The per-node timeouts an operator may set in the configuration
//! (`handshake-ms`, `request-ms`, `handoff-ms`, `idle-ms`, `linger-ms`).
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

/// The timeouts a configuration sets; `None` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// How long a SYN-RECEIVED flow waits for the client's ACK.
    pub handshake_ms: Option<u32>,
    /// How long a client has to send a complete request head.
    pub request_ms: Option<u32>,
    /// How long a HANDOFF_REQ (or a back-end's replay) waits for its
    /// answer before it is sent again.
    pub handoff_ms: Option<u32>,
    /// How long a handed-off flow may see no packet before it is ended.
    pub idle_ms: Option<u32>,
    /// How long a closed flow keeps its translation state.
    pub linger_ms: Option<u32>,
}

/// A setting's name and where it lives in [`Timeouts`] and [`Config`].
struct Setting {
    name: &'static str,
    /// Smallest value accepted: 0 only where "at once" means something.
    min: u32,
    get: fn(&Timeouts) -> Option<u32>,
    set: fn(&mut Timeouts, u32),
    read: fn(&Config) -> u64,
    apply: fn(&mut Config, u64),
}

const SETTINGS: [Setting; 5] = [
    Setting {
        name: "handshake-ms",
        min: 1,
        get: |t| t.handshake_ms,
        set: |t, v| t.handshake_ms = Some(v),
        read: |c| c.handshake_ms,
        apply: |c, v| c.handshake_ms = v,
    },
    Setting {
        name: "request-ms",
        min: 1,
        get: |t| t.request_ms,
        set: |t, v| t.request_ms = Some(v),
        read: |c| c.request_ms,
        apply: |c, v| c.request_ms = v,
    },
    Setting {
        name: "handoff-ms",
        // Below this a resend would race the answer on any real link.
        min: 10,
        get: |t| t.handoff_ms,
        set: |t, v| t.handoff_ms = Some(v),
        read: |c| c.handoff_ms,
        apply: |c, v| c.handoff_ms = v,
    },
    Setting {
        name: "idle-ms",
        min: 1,
        get: |t| t.idle_ms,
        set: |t, v| t.idle_ms = Some(v),
        read: |c| c.idle_ms,
        apply: |c, v| c.idle_ms = v,
    },
    Setting {
        name: "linger-ms",
        min: 0,
        get: |t| t.linger_ms,
        set: |t, v| t.linger_ms = Some(v),
        read: |c| c.linger_ms,
        apply: |c, v| c.linger_ms = v,
    },
];

impl Timeouts {
    /// Every timeout at its default.
    pub const DEFAULT: Timeouts = Timeouts {
        handshake_ms: None,
        request_ms: None,
        handoff_ms: None,
        idle_ms: None,
        linger_ms: None,
    };

    /// Whether `name` is a timeout setting.
    pub fn is_setting(name: &str) -> bool {
        SETTINGS.iter().any(|s| s.name == name)
    }

    /// Sets `name` from its text `value` (decimal milliseconds); `Err` for
    /// an unknown name or a value out of range.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigErrorKind> {
        let s = SETTINGS
            .iter()
            .find(|s| s.name == name)
            .ok_or(ConfigErrorKind::UnknownCommand)?;
        let v = value
            .parse::<u32>()
            .ok()
            .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(ConfigErrorKind::BadNumber)?;
        if v < s.min || v > MAX_TIMEOUT_MS {
            return Err(ConfigErrorKind::BadTimeout);
        }
        (s.set)(self, v);
        Ok(())
    }

    /// The machines' configuration: the defaults, with these set.
    pub fn flow_config(&self) -> Config {
        let mut c = Config::default();
        for s in SETTINGS.iter() {
            if let Some(v) = (s.get)(self) {
                (s.apply)(&mut c, u64::from(v));
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
        for s in SETTINGS.iter() {
            if let Some(v) = (s.get)(self) {
                writeln!(f, "{} {v}", s.name)?;
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
        for (i, s) in SETTINGS.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{} {}", s.name, (s.read)(&self.0))?;
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
        let mut c2 = c.clone();
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
            "handshake-ms 30000 request-ms 2500 handoff-ms 1000 idle-ms 600000 linger-ms 60000"
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
