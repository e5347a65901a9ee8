// SPDX-License-Identifier: GPL-2.0
//! btcp: TCP handoff for content-aware request distribution.
//!
//! This is the module's crate root. The protocol logic is the pure core
//! (rust/btcp-core, compiled in through `#[path]`); the kernel is reached
//! only through the wrapper layer in rust/ (`kernel_ext`). This file and the
//! rest of btcp/ contain no `unsafe`.

use kernel::prelude::*;

#[path = "../rust/kernel_ext.rs"]
pub mod kernel_ext;

#[allow(unused_attributes)] // the core's crate-level `#![no_std]` is moot here
#[path = "../rust/btcp-core/src/lib.rs"]
pub mod btcp_core;

mod counters;
mod ctrl;
mod filter;
mod handoff;
mod table;

use counters::Counters;
use handoff::Handoff;
use kernel_ext::genl;
use kernel_ext::net::Net;
use kernel_ext::netfilter::{ConfigWhy, HookPoint, PernetState, ProcFile, Registration, Verdict};
use kernel_ext::seq_file::SeqFile;
use kernel_ext::skb::SkBuff;

module! {
    type: Btcp,
    name: "btcp",
    author: "btcp developers",
    description: "Bottom TCP: TCP handoff for content-aware web clusters",
    license: "GPL",
}

/// What btcp keeps in each network namespace.
#[pin_data]
struct NetState {
    net: Net,
    counters: Counters,
    #[pin]
    handoff: Handoff,
}

impl PernetState for NetState {
    fn new(net: Net) -> impl PinInit<Self, Error> {
        try_pin_init!(NetState {
            net,
            counters: Counters::new(),
            handoff <- Handoff::new(),
        }? Error)
    }

    fn hook(&self, hook: HookPoint, skb: &SkBuff) -> Verdict {
        self.counters.account(hook, skb);
        match hook {
            HookPoint::PreRouting => self.handoff.prerouting(&self.net, skb),
            HookPoint::PostRouting => self.handoff.postrouting(&self.net, skb),
            HookPoint::LocalIn | HookPoint::LocalOut => Verdict::Accept,
        }
    }

    fn work(&self, tick: bool) {
        self.handoff.work(&self.net, tick);
    }

    /// The reason of a refusal goes to `why`: the writer sees it (dmesg
    /// for /proc, the extended ack for netlink).
    fn config(&self, text: &[u8], why: &mut ConfigWhy<'_>) -> Result {
        self.handoff.configure(text, why)
    }

    fn show(&self, file: ProcFile, m: &mut SeqFile) -> core::fmt::Result {
        match file {
            ProcFile::Counters => {
                self.counters.render(m)?;
                self.handoff.render_stats(m)
            }
            ProcFile::Flows => self.handoff.render_flows(m),
            ProcFile::Config => self.handoff.render_config(m),
            ProcFile::Metrics => self.handoff.render_metrics(m),
        }
    }
}

struct Btcp {
    /// The netlink family, holding the hooks' pernet registration: the
    /// family goes first at unload, then every namespace's state.
    _genl: genl::Registration<NetState>,
}

impl kernel::Module for Btcp {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let hooks = Registration::<NetState>::register()?;
        let genl = genl::Registration::register(hooks)?;
        pr_info!("loaded: IPv4 hooks in every network namespace, netlink family btcp\n");
        Ok(Btcp { _genl: genl })
    }
}

impl Drop for Btcp {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
