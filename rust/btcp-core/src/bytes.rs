//! Bounds-checked big-endian field access.
//!
//! Every read and write of a packet field goes through here so that a short
//! buffer yields `None` instead of an index panic (a `BUG()` in the kernel).

/// A length or offset in a buffer (saturating: a `u32` always fits on
/// the targets we build for).
pub(super) fn as_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Reads the byte at `off`.
pub(super) fn read_u8(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// Reads a big-endian `u16` at `off`.
pub(super) fn read_u16(buf: &[u8], off: usize) -> Option<u16> {
    let b = buf.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes(<[u8; 2]>::try_from(b).ok()?))
}

/// Reads a big-endian `u32` at `off`.
pub(super) fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes(<[u8; 4]>::try_from(b).ok()?))
}

/// Copies `src` into `buf` at `off`; `None` (and nothing written) if it does not fit.
pub(super) fn write_bytes(buf: &mut [u8], off: usize, src: &[u8]) -> Option<()> {
    let dst = buf.get_mut(off..off.checked_add(src.len())?)?;
    dst.copy_from_slice(src);
    Some(())
}

/// Writes a big-endian `u16` at `off`.
pub(super) fn write_u16(buf: &mut [u8], off: usize, v: u16) -> Option<()> {
    write_bytes(buf, off, &v.to_be_bytes())
}

/// Writes a big-endian `u32` at `off`.
pub(super) fn write_u32(buf: &mut [u8], off: usize, v: u32) -> Option<()> {
    write_bytes(buf, off, &v.to_be_bytes())
}
