//! Socket buffers: a borrowed view for the hooks and an owned one for tests.

use super::bindings;
use core::ptr::NonNull;
use kernel::error::{code::EINVAL, to_result, Result};
use kernel::types::Opaque;

/// The most field edits one `SkBuff::rewrite` call takes.
pub const MAX_EDITS: usize = 16;

/// One field rewrite of an IPv4/TCP packet (see `btcp_skb_rewrite` in
/// rust/btcp_glue.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldEdit {
    /// Offset from the start of the IP header.
    pub offset: u16,
    /// 2 or 4 bytes.
    pub width: u8,
    /// An IPv4 address (fixes the IP checksum and the TCP pseudo-header).
    pub is_addr: bool,
    /// The value the field must hold now (host order).
    pub old: u32,
    /// The value to write (host order).
    pub new: u32,
}

/// A `struct sk_buff` seen from an IPv4 netfilter hook, whose data starts at
/// the IP header.
///
/// # Invariants
///
/// A `&SkBuff` always refers to a live `struct sk_buff` that stays valid and
/// is not freed for the lifetime of the reference.
#[repr(transparent)]
pub struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// Borrows the buffer behind `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct sk_buff` that outlives `'a` and is
    /// not freed or handed on (stolen, queued) while the reference is used.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a SkBuff {
        // SAFETY: `SkBuff` is a transparent wrapper of `sk_buff`, and the
        // caller guarantees that `ptr` is valid for `'a`.
        unsafe { &*ptr.cast::<SkBuff>() }
    }

    fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Length of the packet in bytes (linear part and fragments).
    pub fn len(&self) -> u32 {
        // SAFETY: by the type invariant the buffer is valid.
        unsafe { bindings::btcp_skb_len(self.as_ptr()) }
    }

    /// For a GSO or GRO packet (several TCP segments in one buffer), the
    /// payload of each segment on the wire; 0 for a plain packet.
    pub fn gso_size(&self) -> u32 {
        // SAFETY: by the type invariant the buffer is valid.
        unsafe { bindings::btcp_skb_gso_size(self.as_ptr()) }
    }

    /// Whether the packet came over its link from the host at `addr` (host
    /// order): its Ethernet source is that host's in the neighbour table,
    /// or, on the loopback, `addr` is one of this host's.
    pub fn from_neighbour(&self, addr: u32) -> bool {
        // SAFETY: by the type invariant the buffer is valid; the helper
        // only reads it and the neighbour table (under RCU).
        unsafe { bindings::btcp_skb_from_neighbour(self.as_ptr(), addr) != 0 }
    }

    /// Whether the packet carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rewrites fields of the packet and fixes its checksums with the
    /// kernel's helpers (right for CHECKSUM_PARTIAL, GSO and GRO packets).
    /// Fails, and the packet must then be dropped, if a field does not hold
    /// its `old` value, an edit is malformed, or the head cannot be made
    /// writable.
    pub fn rewrite(&self, edits: &[FieldEdit]) -> Result {
        let mut raw = [bindings::btcp_edit::default(); MAX_EDITS];
        if edits.len() > raw.len() {
            return Err(EINVAL);
        }
        for (r, e) in raw.iter_mut().zip(edits) {
            *r = bindings::btcp_edit {
                offset: e.offset,
                width: e.width,
                is_addr: u8::from(e.is_addr),
                old_val: e.old,
                new_val: e.new,
            };
        }
        let n = u32::try_from(edits.len()).map_err(|_| EINVAL)?;
        // SAFETY: by the type invariant the buffer is valid, and the hook
        // that lent it to us is its only user right now; `raw` holds `n`
        // initialised edits.
        to_result(unsafe { bindings::btcp_skb_rewrite(self.as_ptr(), raw.as_ptr(), n) })
    }

    /// Cuts a TCP segment's payload to its first `keep` bytes (a request
    /// that moves is held at the front-end; what came before it, and the
    /// acknowledgment, go on): its FIN goes too, the lengths and
    /// checksums are set anew. Fails, and the packet must then be dropped,
    /// if its headers are not whole or its head cannot be made writable.
    pub fn trim_payload(&self, keep: u32) -> Result {
        // SAFETY: by the type invariant the buffer is valid, and the hook
        // that lent it to us is its only user right now.
        to_result(unsafe { bindings::btcp_skb_trim_payload(self.as_ptr(), keep) })
    }

    /// Strips the outer header, the first `inner_offset` bytes, of an IPIP
    /// packet in PRE_ROUTING: the inner packet goes on in its place. Fails,
    /// and the packet must then be dropped, if the inner header is not a
    /// valid IPv4 header or the head cannot be made writable.
    pub fn decap(&self, inner_offset: u32) -> Result {
        // SAFETY: by the type invariant the buffer is valid, and the hook
        // that lent it to us is its only user right now.
        to_result(unsafe { bindings::btcp_skb_decap(self.as_ptr(), inner_offset) })
    }

    /// Reads `buf.len()` bytes at `offset` from the start of the packet,
    /// whether they sit in the linear area (returned in place) or in
    /// fragments (copied into `buf`). `None` if the packet is shorter.
    pub fn read<'a>(&'a self, offset: u32, buf: &'a mut [u8]) -> Option<&'a [u8]> {
        let len = u32::try_from(buf.len()).ok()?;
        // SAFETY: by the type invariant the buffer is valid; `buf` is
        // writable for `len` bytes.
        let p = unsafe {
            bindings::btcp_skb_header_pointer(self.as_ptr(), offset, len, buf.as_mut_ptr().cast())
        };
        let p = NonNull::new(p.cast_mut())?.cast::<u8>();
        // SAFETY: `skb_header_pointer` returned a pointer to `len` readable
        // bytes, either inside the buffer's linear data (alive while `self`
        // is borrowed) or inside `buf` (borrowed for `'a`). Neither is
        // written while the returned slice lives: `self` is shared, `buf`
        // is mutably borrowed by this call for `'a`.
        Some(unsafe { core::slice::from_raw_parts(p.as_ptr(), buf.len()) })
    }
}

/// An `sk_buff` owned by the caller (used by the KUnit suite to build test
/// packets); freed on drop.
///
/// # Invariants
///
/// `ptr` points to a valid `sk_buff` allocated by `alloc_skb` and owned by
/// this value alone.
pub struct OwnedSkBuff {
    ptr: NonNull<bindings::sk_buff>,
}

impl OwnedSkBuff {
    /// Allocates a linear buffer holding a copy of `data`.
    pub fn from_bytes(data: &[u8]) -> Option<Self> {
        let len = u32::try_from(data.len()).ok()?;
        // SAFETY: `alloc_skb` has no preconditions; we own the result.
        let ptr = NonNull::new(unsafe { bindings::btcp_skb_alloc(len) })?;
        let skb = OwnedSkBuff { ptr };
        // SAFETY: `skb.ptr` is valid and owned; `skb_put` checks tailroom.
        let dst = unsafe { bindings::btcp_skb_put(skb.ptr.as_ptr(), len) };
        let dst = NonNull::new(dst)?.cast::<u8>();
        // SAFETY: `skb_put` returned `len` writable bytes inside the buffer
        // that nothing else references yet.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst.as_ptr(), data.len()) };
        Some(skb)
    }
}

impl core::ops::Deref for OwnedSkBuff {
    type Target = SkBuff;

    fn deref(&self) -> &SkBuff {
        // SAFETY: by the type invariant `ptr` is valid and owned by `self`,
        // so it outlives the returned borrow.
        unsafe { SkBuff::from_raw(self.ptr.as_ptr()) }
    }
}

impl Drop for OwnedSkBuff {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the buffer; nothing else
        // frees it.
        unsafe { bindings::btcp_skb_free(self.ptr.as_ptr()) };
    }
}
