//! The generic netlink family "btcp" (rust/glue_genl.c): `CONFIG_GET`,
//! `CONFIG_SET`, `STATS_GET` and `FLOWS_GET` on the caller's network
//! namespace, answered by that namespace's `PernetState::show` and
//! `PernetState::config`.

use super::bindings;
use super::netfilter::{self, PernetState};
use kernel::prelude::*;

/// Keeps the family registered until dropped, together with the pernet
/// registration whose states it reaches.
///
/// It owns that registration, so the order is fixed by construction: the
/// family comes after the namespaces' states exist and goes (waiting for
/// running commands) before any of them is torn down.
pub struct Registration<T: PernetState> {
    _pernet: netfilter::Registration<T>,
}

impl<T: PernetState> Registration<T> {
    /// Registers the family on top of `pernet`; on error `pernet` is
    /// dropped (unregistered) too.
    pub fn register(pernet: netfilter::Registration<T>) -> Result<Self> {
        // SAFETY: the pernet ops are registered (`pernet` is proof) and stay
        // so until after `btcp_genl_unregister` in `drop`.
        let ret = unsafe { bindings::btcp_genl_register() };
        kernel::error::to_result(ret)?;
        Ok(Registration { _pernet: pernet })
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: the family was registered in `register`. This waits for
        // running commands; the pernet registration is dropped after this
        // body returns, so no command can reach a state being torn down.
        unsafe { bindings::btcp_genl_unregister() };
    }
}
