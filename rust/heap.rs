// SPDX-License-Identifier: GPL-2.0
//! Heap helpers the kernel crate lacks.
//!
//! Large values are copied straight into a heap allocation. The kernel
//! stack is 16 KiB: `UniqueArc::new(value)` may build `value` in a stack
//! frame first (whether it does is the compiler's choice, and a change of
//! kernel or compiler once turned a configuration of 8 KiB into a double
//! fault at load), so what is several KiB never goes through one.

use kernel::alloc::{AllocError, Flags, KVec};
use kernel::init::Zeroable;
use kernel::sync::UniqueArc;

/// A `UniqueArc` holding a copy of `*src`, copied from where it is into
/// the allocation.
pub fn unique_arc_copy<T: Copy>(src: &T, flags: Flags) -> Result<UniqueArc<T>, AllocError> {
    let mut arc = UniqueArc::<T>::new_uninit(flags)?;
    // SAFETY: `arc` is a fresh allocation for one `T`, so the destination is
    // valid for a write of one `T`, aligned, and cannot overlap `src`, a
    // live reference; `T: Copy`, so a bitwise copy is a valid `T` that owns
    // nothing `*src` also owns.
    unsafe { arc.as_mut_ptr().copy_from_nonoverlapping(src, 1) };
    // SAFETY: the copy above initialised the whole value.
    Ok(unsafe { arc.assume_init() })
}

// SAFETY: `Metrics` (rust/btcp-core/src/metrics.rs) is made of atomic
// integers and arrays of them only, so all zero bytes is a valid value: the
// one `Metrics::new` builds. It is several KiB, so it is initialised in
// place with `kernel::init::zeroed()` rather than built on the stack.
unsafe impl Zeroable for crate::btcp_core::metrics::Metrics {}

/// Drops the first `n` bytes of `v` (all of them if `n` is past its end),
/// keeping its allocation: 6.12's `KVec` has no `drain` or `truncate`, and a
/// queue that is written and sent on every run should not be reallocated
/// on each.
pub fn drain_front(v: &mut KVec<u8>, n: usize) {
    let len = v.len();
    let n = n.min(len);
    v.as_mut_slice().copy_within(n.., 0);
    // SAFETY: `len - n <= len`, so the new length is within the
    // initialised part, and `u8` has no destructor to skip.
    unsafe { v.set_len(len - n) };
}
