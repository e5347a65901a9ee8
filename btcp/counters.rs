// SPDX-License-Identifier: GPL-2.0
//! Per-hook TCP counters of one network namespace, shown in
//! /proc/net/btcp/counters.

use crate::btcp_core::{classify, Class, SegmentKind};
use crate::kernel_ext::netfilter::HookPoint;
use crate::kernel_ext::skb::SkBuff;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

/// Longest IPv4 header (60) plus longest TCP header (60): all that
/// classification needs, whether or not it is in the linear area.
const HEADERS_MAX: usize = 120;

/// Segment kinds in the column order of the proc file.
const KINDS: [(SegmentKind, &str); SegmentKind::COUNT] = [
    (SegmentKind::Syn, "syn"),
    (SegmentKind::SynAck, "synack"),
    (SegmentKind::Ack, "ack"),
    (SegmentKind::Data, "data"),
    (SegmentKind::Fin, "fin"),
    (SegmentKind::Rst, "rst"),
    (SegmentKind::Other, "other"),
];

/// Counters of one hook. Hooks run on every CPU at once; relaxed atomics
/// are enough since each counter is independent.
#[derive(Default)]
struct HookCounters {
    /// TCP segments seen.
    packets: AtomicU64,
    /// Their IP lengths (headers included).
    bytes: AtomicU64,
    /// Their TCP payload bytes.
    payload: AtomicU64,
    /// Segments by kind, indexed by `SegmentKind::index`.
    kinds: [AtomicU64; SegmentKind::COUNT],
    /// IPv4 packets that did not parse, or TCP with a broken header.
    malformed: AtomicU64,
    /// TCP fragments (counted, never classified).
    fragments: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// TCP traffic seen at each hook of a namespace.
#[derive(Default)]
pub(crate) struct Counters {
    hooks: [HookCounters; 4],
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Classifies the IPv4 packet in `skb` and counts it at `hook` if it is
    /// TCP (or claims to be and is broken).
    pub(crate) fn account(&self, hook: HookPoint, skb: &SkBuff) {
        let mut buf = [0u8; HEADERS_MAX];
        let want = usize::try_from(skb.len()).map_or(HEADERS_MAX, |l| l.min(HEADERS_MAX));
        let Some(headers) = buf.get_mut(..want) else {
            return;
        };
        let Some(packet) = skb.read(0, headers) else {
            return;
        };
        let Some(c) = self.hooks.get(hook.index()) else {
            return;
        };
        match classify(packet) {
            Class::Tcp(seg) => {
                bump(&c.packets, 1);
                bump(&c.bytes, u64::from(seg.ip.total_len));
                bump(&c.payload, seg.payload_len as u64);
                if let Some(k) = c.kinds.get(seg.kind().index()) {
                    bump(k, 1);
                }
            }
            Class::Fragment { protocol } if protocol == crate::btcp_core::ipv4::PROTO_TCP => {
                bump(&c.fragments, 1)
            }
            Class::Malformed(_) => bump(&c.malformed, 1),
            Class::NotTcp { .. } | Class::Fragment { .. } => {}
        }
    }

    /// A copy of the counters of `hook`.
    pub(crate) fn snapshot(&self, hook: HookPoint) -> Snapshot {
        let mut snap = Snapshot::default();
        if let Some(c) = self.hooks.get(hook.index()) {
            snap.packets = get(&c.packets);
            snap.bytes = get(&c.bytes);
            snap.payload = get(&c.payload);
            for (dst, src) in snap.kinds.iter_mut().zip(c.kinds.iter()) {
                *dst = get(src);
            }
            snap.malformed = get(&c.malformed);
            snap.fragments = get(&c.fragments);
        }
        snap
    }

    /// Writes the table: one header line, one line per hook.
    pub(crate) fn render(&self, w: &mut impl Write) -> fmt::Result {
        write!(
            w,
            "{:<12} {:>10} {:>12} {:>12}",
            "hook", "packets", "bytes", "payload"
        )?;
        for (_, name) in KINDS {
            write!(w, " {name:>8}")?;
        }
        writeln!(w, " {:>9} {:>9}", "malformed", "fragments")?;
        for hook in HookPoint::ALL {
            let s = self.snapshot(hook);
            write!(
                w,
                "{:<12} {:>10} {:>12} {:>12}",
                hook.name(),
                s.packets,
                s.bytes,
                s.payload
            )?;
            for (kind, _) in KINDS {
                write!(w, " {:>8}", s.kind(kind))?;
            }
            writeln!(w, " {:>9} {:>9}", s.malformed, s.fragments)?;
        }
        Ok(())
    }
}

/// The counters of one hook at one moment.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) payload: u64,
    pub(crate) kinds: [u64; SegmentKind::COUNT],
    pub(crate) malformed: u64,
    pub(crate) fragments: u64,
}

impl Snapshot {
    /// Segments of `kind`.
    pub(crate) fn kind(&self, kind: SegmentKind) -> u64 {
        self.kinds.get(kind.index()).copied().unwrap_or(0)
    }
}
