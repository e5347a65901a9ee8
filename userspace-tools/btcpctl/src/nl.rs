//! The generic netlink family "btcp", as the module defines it in
//! rust/glue_genl.h (Documentation/btcpctl.md describes it).
//!
//! Requests go to the caller's network namespace (the family is netnsok):
//! `ip netns exec NS btcpctl ...` configures NS.

use std::fmt;

use crate::metrics::Metric;

use neli::consts::nl::{NlmF, Nlmsg, NlmsgerrAttr};
use neli::consts::socket::NlFamily;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;

/// The family's name and version.
pub const FAMILY: &str = "btcp";
/// The version btcpctl speaks.
pub const VERSION: u8 = 1;

/// Commands (`enum btcp_genl_cmd`).
pub mod cmd {
    /// Reply: `CONFIG`. Needs CAP_NET_ADMIN.
    pub const CONFIG_GET: u8 = 1;
    /// `CONFIG` [, `CONFIG_OLD`]. Needs CAP_NET_ADMIN.
    pub const CONFIG_SET: u8 = 2;
    /// Reply: `TEXT`, /proc/net/btcp/counters.
    pub const STATS_GET: u8 = 3;
    /// Dump: `TEXT` chunks of whole lines, /proc/net/btcp/flows.
    pub const FLOWS_GET: u8 = 4;
    /// Dump: `METRIC` attributes (rust/btcp-core/src/metrics.rs).
    pub const METRICS_GET: u8 = 5;
}

/// Attributes (`enum btcp_genl_attr`): NUL-terminated strings, but
/// `METRIC` (`btcp_core::metrics::attr::METRIC`, nested).
pub mod attr {
    /// The whole configuration text.
    pub const CONFIG: u16 = 1;
    /// Rendered text.
    pub const TEXT: u16 = 2;
    /// `CONFIG_SET` applies only if the configuration still renders as this.
    pub const CONFIG_OLD: u16 = 3;
}

/// The most a configuration text may be (`BTCP_CONFIG_MAX`).
pub const CONFIG_MAX: usize = 4096;

// The generic netlink controller (linux/genetlink.h).
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// What went wrong talking to the kernel.
#[derive(Debug)]
pub enum NlError {
    /// No family "btcp": the module is not loaded.
    NotLoaded,
    /// The kernel said EPERM: the command needs CAP_NET_ADMIN.
    Permission,
    /// The kernel refused the request: its errno and, if it said, why.
    Kernel {
        /// The (positive) errno.
        errno: i32,
        /// The extended ack's message.
        msg: Option<String>,
    },
    /// The socket or the protocol failed.
    Io(String),
}

impl NlError {
    /// Whether the kernel answered `errno`.
    pub fn is_errno(&self, e: i32) -> bool {
        matches!(self, NlError::Kernel { errno, .. } if *errno == e)
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlError::NotLoaded => write!(
                f,
                "the btcp module is not loaded (no generic netlink family \"{FAMILY}\")"
            ),
            NlError::Permission => write!(
                f,
                "permission denied: this needs CAP_NET_ADMIN (run btcpctl as root)"
            ),
            NlError::Kernel { errno, msg } => {
                let os = strerror(*errno);
                match msg {
                    Some(m) => write!(f, "{m} ({os})"),
                    None => write!(f, "{os}"),
                }
            }
            NlError::Io(e) => write!(f, "netlink: {e}"),
        }
    }
}

impl std::error::Error for NlError {}

/// The C library's text for `errno`, without Rust's " (os error N)".
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn io<E: fmt::Display>(e: E) -> NlError {
    NlError::Io(e.to_string())
}

type GenlMsg = Genlmsghdr<u8, u16>;

/// A netlink socket talking to the "btcp" family of this namespace.
pub struct Btcp {
    sock: NlSocketHandle,
    family: u16,
    seq: u32,
}

impl Btcp {
    /// Opens a socket and finds the family.
    pub fn open() -> Result<Btcp, NlError> {
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty()).map_err(io)?;
        sock.enable_ext_ack(true).map_err(io)?;
        let mut nl = Btcp {
            sock,
            family: GENL_ID_CTRL,
            seq: 0,
        };
        let mut name = FAMILY.as_bytes().to_vec();
        name.push(0);
        let replies = nl
            .request(
                GENL_ID_CTRL,
                CTRL_CMD_GETFAMILY,
                1,
                &[(CTRL_ATTR_FAMILY_NAME, name)],
                false,
            )
            .map_err(|e| {
                if e.is_errno(libc::ENOENT) {
                    NlError::NotLoaded
                } else {
                    e
                }
            })?;
        let id = replies
            .iter()
            .flat_map(|m| m.attrs().iter())
            .find(|a| *a.nla_type().nla_type() == CTRL_ATTR_FAMILY_ID)
            .and_then(|a| <[u8; 2]>::try_from(a.nla_payload().as_ref()).ok())
            .map(u16::from_ne_bytes)
            .ok_or(NlError::NotLoaded)?;
        nl.family = id;
        Ok(nl)
    }

    /// Sends one request and collects the replies' generic netlink
    /// messages, until the ack (or, for a dump, the end).
    fn request(
        &mut self,
        ty: u16,
        cmd: u8,
        version: u8,
        attrs: &[(u16, Vec<u8>)],
        dump: bool,
    ) -> Result<Vec<GenlMsg>, NlError> {
        let mut buf = GenlBuffer::new();
        for (t, payload) in attrs {
            buf.push(
                NlattrBuilder::default()
                    .nla_type(
                        AttrTypeBuilder::default()
                            .nla_type(*t)
                            .build()
                            .map_err(io)?,
                    )
                    .nla_payload(Buffer::from(payload.clone()))
                    .build()
                    .map_err(io)?,
            );
        }
        let genl = GenlmsghdrBuilder::<u8, u16>::default()
            .cmd(cmd)
            .version(version)
            .attrs(buf)
            .build()
            .map_err(io)?;
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let flags = NlmF::REQUEST | if dump { NlmF::DUMP } else { NlmF::ACK };
        let msg = NlmsghdrBuilder::default()
            .nl_type(ty)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_pid(0)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(io)?;
        self.sock.send(&msg).map_err(io)?;

        let mut out = Vec::new();
        loop {
            let (msgs, _) = self.sock.recv::<u16, GenlMsg>().map_err(io)?;
            for m in msgs {
                let m = m.map_err(io)?;
                if *m.nl_seq() != seq {
                    continue; // not ours (a late answer to an earlier request)
                }
                match m.nl_payload() {
                    NlPayload::Payload(p) if *m.nl_type() == ty => out.push(p.clone()),
                    NlPayload::Ack(_) => return Ok(out),
                    NlPayload::Err(e) => {
                        let msg = e
                            .ext_ack()
                            .iter()
                            .find(|a| *a.nla_type().nla_type() == NlmsgerrAttr::Msg)
                            .map(|a| {
                                let b = a.nla_payload().as_ref();
                                let b = b.strip_suffix(&[0]).unwrap_or(b);
                                String::from_utf8_lossy(b).into_owned()
                            });
                        return Err(NlError::Kernel {
                            errno: e.error().saturating_abs(),
                            msg,
                        });
                    }
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(NlError::Kernel {
                            errno: e.error().saturating_abs(),
                            msg: None,
                        })
                    }
                    _ if u16::from(Nlmsg::Done) == *m.nl_type() => return Ok(out),
                    _ => {}
                }
            }
        }
    }

    /// A request to the family; EPERM becomes `NlError::Permission`.
    fn call(
        &mut self,
        cmd: u8,
        attrs: &[(u16, Vec<u8>)],
        dump: bool,
    ) -> Result<Vec<GenlMsg>, NlError> {
        self.request(self.family, cmd, VERSION, attrs, dump)
            .map_err(|e| {
                if e.is_errno(libc::EPERM) {
                    NlError::Permission
                } else {
                    e
                }
            })
    }

    /// The concatenated string attributes `attr` of `msgs`.
    fn text(msgs: &[GenlMsg], attr: u16) -> Result<String, NlError> {
        let mut out = Vec::new();
        for m in msgs {
            for a in m.attrs().iter() {
                if *a.nla_type().nla_type() == attr {
                    let b = a.nla_payload().as_ref();
                    out.extend_from_slice(b.strip_suffix(&[0]).unwrap_or(b));
                }
            }
        }
        String::from_utf8(out).map_err(io)
    }

    /// `CONFIG_GET`: the configuration text.
    pub fn config_get(&mut self) -> Result<String, NlError> {
        let msgs = self.call(cmd::CONFIG_GET, &[], false)?;
        if msgs.is_empty() {
            return Err(NlError::Io("CONFIG_GET: no reply".into()));
        }
        Self::text(&msgs, attr::CONFIG)
    }

    /// `CONFIG_SET`: replaces the configuration with `text`, all or
    /// nothing; with `old`, only if it is still `old` (else EAGAIN).
    pub fn config_set(&mut self, text: &str, old: Option<&str>) -> Result<(), NlError> {
        let nul = |s: &str| {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        };
        let mut attrs = vec![(attr::CONFIG, nul(text))];
        if let Some(old) = old {
            attrs.push((attr::CONFIG_OLD, nul(old)));
        }
        self.call(cmd::CONFIG_SET, &attrs, false).map(|_| ())
    }

    /// `STATS_GET`: /proc/net/btcp/counters' text.
    pub fn stats(&mut self) -> Result<String, NlError> {
        let msgs = self.call(cmd::STATS_GET, &[], false)?;
        Self::text(&msgs, attr::TEXT)
    }

    /// `FLOWS_GET` (a dump): /proc/net/btcp/flows' text.
    pub fn flows(&mut self) -> Result<String, NlError> {
        let msgs = self.call(cmd::FLOWS_GET, &[], true)?;
        Self::text(&msgs, attr::TEXT)
    }

    /// `METRICS_GET` (a dump): every figure, typed.
    pub fn metrics(&mut self) -> Result<Vec<Metric>, NlError> {
        let msgs = self.call(cmd::METRICS_GET, &[], true)?;
        let mut out = Vec::new();
        for m in &msgs {
            for a in m.attrs().iter() {
                if *a.nla_type().nla_type() == btcp_core::metrics::attr::METRIC {
                    out.push(crate::metrics::parse(a.nla_payload().as_ref()).map_err(NlError::Io)?);
                }
            }
        }
        Ok(out)
    }
}
