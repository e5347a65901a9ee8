//! HMAC-SHA256 from the kernel crypto API (rust/glue_crypto.c), the MAC of
//! control channel frames: it implements the core's [`wire::Mac`].

use super::bindings;
use crate::btcp_core::wire::{self, WireError};
use core::ptr::NonNull;
use kernel::error::{code::EINVAL, to_result, Error, Result};

/// Length of an HMAC-SHA256 tag.
pub const MAC_LEN: usize = 32;

/// An "hmac(sha256)" transform of the crypto API with its key set.
///
/// Creating and dropping it may sleep (process context); computing and
/// verifying tags works in any context and from many CPUs at once.
///
/// # Invariants
///
/// `ptr` points to a live `struct btcp_hmac` whose key is set, owned by
/// this value alone and freed exactly once, in `Drop`.
pub struct HmacSha256 {
    ptr: NonNull<bindings::btcp_hmac>,
}

// SAFETY: the transform may be used and freed from any thread.
unsafe impl Send for HmacSha256 {}
// SAFETY: after `setkey` the transform is read-only: each digest keeps its
// state on the caller's stack (`crypto_shash_tfm_digest`), so concurrent
// `&self` calls are fine.
unsafe impl Sync for HmacSha256 {}

impl HmacSha256 {
    /// A transform keyed with `key` (copied; wipe your copy when done).
    /// An empty key is refused with `EINVAL`. Process context.
    pub fn new(key: &[u8]) -> Result<Self> {
        let len = u32::try_from(key.len()).map_err(|_| EINVAL)?;
        let mut out = core::ptr::null_mut();
        // SAFETY: `key` is readable for `len` bytes and only copied; `out`
        // is writable.
        to_result(unsafe { bindings::btcp_hmac_new(key.as_ptr().cast(), len, &mut out) })?;
        // INVARIANT: on success the glue set `out` to a keyed transform that
        // only we hold.
        Ok(HmacSha256 {
            ptr: NonNull::new(out).ok_or(EINVAL)?,
        })
    }

    /// The tag of `data`.
    pub fn tag(&self, data: &[u8]) -> Result<[u8; MAC_LEN]> {
        let mut out = [0u8; MAC_LEN];
        self.tag_into(data, &mut out)?;
        Ok(out)
    }

    /// The tag of `data`, into `out`.
    pub fn tag_into(&self, data: &[u8], out: &mut [u8; MAC_LEN]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: by the type invariant the transform is live and keyed;
        // `data` is readable for `len` bytes; `out` is writable for the 32
        // bytes of a SHA-256 digest (the glue checked the digest size).
        to_result(unsafe {
            bindings::btcp_hmac_digest(
                self.ptr.as_ptr(),
                data.as_ptr().cast(),
                len,
                out.as_mut_ptr(),
            )
        })
    }

    /// Checks `tag` against `data` in constant time (`crypto_memneq`):
    /// `Ok(())` if it matches, `EBADMSG` if not, another error if the
    /// hash could not be computed.
    pub fn verify_tag(&self, data: &[u8], tag: &[u8; MAC_LEN]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: as in `tag_into`; `tag` is readable for 32 bytes.
        to_result(unsafe {
            bindings::btcp_hmac_verify(self.ptr.as_ptr(), data.as_ptr().cast(), len, tag.as_ptr())
        })
    }
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the transform and free it
        // exactly once, here.
        unsafe { bindings::btcp_hmac_free(self.ptr.as_ptr()) };
    }
}

// The core's tag length is ours.
const _: () = assert!(wire::MAC_LEN == MAC_LEN);

impl wire::Mac for HmacSha256 {
    fn compute(&self, data: &[u8], tag: &mut [u8; wire::MAC_LEN]) -> Result<(), WireError> {
        self.tag_into(data, tag).map_err(|_| WireError::MacFailure)
    }

    fn verify(&self, data: &[u8], tag: &[u8; wire::MAC_LEN]) -> Result<(), WireError> {
        match self.verify_tag(data, tag) {
            Ok(()) => Ok(()),
            Err(e) if e == Error::from_errno(-(kernel::bindings::EBADMSG as i32)) => {
                Err(WireError::BadMac)
            }
            Err(_) => Err(WireError::MacFailure),
        }
    }
}
