//! A bounds-checked, little-endian view of a byte buffer.
//!
//! Every read names what it was reading and where, so a malformed descriptor becomes an
//! [`Error::Truncated`] that points at the exact offset instead of a panic. Offsets stay
//! absolute (relative to the buffer the caller handed in) even when the view is narrowed
//! to the end of an ACL or ACE, which keeps error messages meaningful.

use crate::error::Error;

#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    bytes: &'a [u8],
}

impl<'a> View<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The same buffer cut off at `end` (offsets stay absolute).
    pub(crate) fn limit(&self, end: usize) -> Self {
        Self {
            bytes: self.bytes.get(..end).unwrap_or(self.bytes),
        }
    }

    pub(crate) fn bytes(
        &self,
        offset: usize,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], Error> {
        offset
            .checked_add(len)
            .and_then(|end| self.bytes.get(offset..end))
            .ok_or(Error::Truncated {
                what,
                offset,
                needed: len,
                available: self.bytes.len().saturating_sub(offset),
            })
    }

    pub(crate) fn array<const N: usize>(
        &self,
        offset: usize,
        what: &'static str,
    ) -> Result<[u8; N], Error> {
        let slice = self.bytes(offset, N, what)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    pub(crate) fn u8(&self, offset: usize, what: &'static str) -> Result<u8, Error> {
        Ok(self.array::<1>(offset, what)?[0])
    }

    pub(crate) fn u32(&self, offset: usize, what: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(offset, what)?))
    }
}

/// Converts a computed size to the width of its on-disk field, or says it is too large.
pub(crate) fn size_field<T: TryFrom<usize>>(
    size: usize,
    what: &'static str,
    max: usize,
) -> Result<T, Error> {
    T::try_from(size).map_err(|_| Error::TooLarge { what, size, max })
}
