//! Bounds-checked little-endian reading: every read names the structure, the field and
//! the offset when the data is too short.

use crate::error::{Error, Result};
use ntsec::Guid;

/// A cursor over a byte slice that never reads past its end.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { data, pos: 0, what }
    }

    /// The offset of the next byte, relative to the start of the data.
    pub(crate) fn offset(&self) -> u64 {
        self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let available = self.remaining();
        if n > available {
            return Err(Error::Truncated {
                what: self.what.to_string(),
                field: field.to_string(),
                offset: self.offset(),
                needed: n as u64,
                available: available as u64,
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A length taken from a wider field (u64), checked against what is left.
    pub(crate) fn bytes_u64(&mut self, n: u64, field: &str) -> Result<&'a [u8]> {
        let available = self.remaining() as u64;
        if n > available {
            return Err(Error::Truncated {
                what: self.what.to_string(),
                field: field.to_string(),
                offset: self.offset(),
                needed: n,
                available,
            });
        }
        // n <= remaining, which fits usize.
        self.bytes(n as usize, field)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        let slice = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn guid(&mut self, field: &str) -> Result<Guid> {
        Ok(Guid(self.array(field)?))
    }

    /// A u32 length followed by that many bytes.
    pub(crate) fn counted(&mut self, field: &str) -> Result<&'a [u8]> {
        let len = self.u32(field)?;
        self.bytes_u64(u64::from(len), field)
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        out
    }
}

/// Little-endian writing helpers.
pub(crate) trait Put {
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    /// A u32 length, then the bytes.
    fn put_counted(&mut self, bytes: &[u8]) -> Result<()>;
}

impl Put for Vec<u8> {
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_counted(&mut self, bytes: &[u8]) -> Result<()> {
        self.put_u32(len32(bytes.len())?);
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A length as the u32 the formats store.
pub(crate) fn len32(len: usize) -> Result<u32> {
    u32::try_from(len)
        .map_err(|_| Error::Invalid(format!("{len} bytes do not fit a 32-bit length")))
}
