// SPDX-License-Identifier: GPL-2.0
//! btcp's module parameters (rust/glue_params.c declares them, with their
//! defaults sized from memory).

use super::bindings;

/// Most flows in each of a namespace's tables (`max_flows`).
pub fn max_flows() -> usize {
    // SAFETY: reads a module parameter; no preconditions.
    let n = unsafe { bindings::btcp_param_max_flows() };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Bytes of request a namespace's front-end buffers at once
/// (`max_request_kb`).
pub fn max_request_bytes() -> usize {
    // SAFETY: reads a module parameter; no preconditions.
    unsafe { bindings::btcp_param_max_request_bytes() }
}

/// Slots of a namespace's flow filter (`hash_buckets`), before rounding.
pub fn hash_buckets() -> usize {
    // SAFETY: reads a module parameter; no preconditions.
    let n = unsafe { bindings::btcp_param_hash_buckets() };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Entries of each of a namespace's two LARD target tables
/// (`lard_targets`).
pub fn lard_targets() -> usize {
    // SAFETY: reads a module parameter; no preconditions.
    let n = unsafe { bindings::btcp_param_lard_targets() };
    usize::try_from(n).unwrap_or(usize::MAX)
}
