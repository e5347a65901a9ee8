//! Text output of /proc files through `struct seq_file`.

use super::bindings;
use kernel::types::Opaque;

/// A `struct seq_file` being filled by a `show` callback.
///
/// # Invariants
///
/// A `&mut SeqFile` refers to a live `seq_file` that is inside its `show`
/// callback, owned by the current task for the lifetime of the reference.
#[repr(transparent)]
pub struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// Borrows the `seq_file` behind `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be the `seq_file` passed to a running `show` callback, and
    /// the reference must not outlive that callback.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a mut SeqFile {
        // SAFETY: `SeqFile` is a transparent wrapper of `seq_file`; the
        // caller guarantees validity and exclusive use for `'a`.
        unsafe { &mut *ptr.cast::<SeqFile>() }
    }

    /// Appends `bytes` as they are (text, or a binary rendering such as
    /// netlink attributes); `Err` once the buffer overflowed.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> core::fmt::Result {
        // SAFETY: by the type invariant the seq_file is valid and ours;
        // `bytes` is readable for `bytes.len()` bytes.
        let ret =
            unsafe { bindings::btcp_seq_write(self.0.get(), bytes.as_ptr().cast(), bytes.len()) };
        // On overflow seq_file grows its buffer and calls `show` again, so
        // stop writing early.
        if ret == 0 {
            Ok(())
        } else {
            Err(core::fmt::Error)
        }
    }
}

impl core::fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes())
    }
}
