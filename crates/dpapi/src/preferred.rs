//! `Protect\<SID>\Preferred`: which master key new blobs use, and until when.
//!
//! ```text
//! 0x00  16  GUID of the preferred master key
//! 0x10   8  FILETIME (UTC, 100 ns since 1601) after which Windows makes a new key
//! ```

use std::path::Path;

use ntsec::Guid;

use crate::error::{Error, Result};
use crate::reader::Reader;

/// Windows makes a new master key 90 days after the preferred one's creation.
pub const KEY_LIFETIME_DAYS: u64 = 90;
/// 100-ns intervals from 1601-01-01 to 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// The `Preferred` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferred {
    pub guid: Guid,
    /// Expiry as a FILETIME.
    pub expires: u64,
    /// Bytes after the 24 (Windows writes none).
    pub extra: Vec<u8>,
}

impl Preferred {
    /// A `Preferred` naming `guid`, expiring at `expires` (a FILETIME).
    pub fn new(guid: Guid, expires: u64) -> Preferred {
        Preferred {
            guid,
            expires,
            extra: Vec::new(),
        }
    }

    pub fn parse(data: &[u8]) -> Result<Preferred> {
        let mut r = Reader::new(data, "Preferred file");
        Ok(Preferred {
            guid: r.guid("GUID")?,
            expires: r.u64("expiry")?,
            extra: r.rest().to_vec(),
        })
    }

    pub fn read(path: &Path) -> Result<Preferred> {
        let data = crate::error::read_file(path)?;
        Preferred::parse(&data).map_err(|e| e.in_file(path))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.guid.0.to_vec();
        out.extend_from_slice(&self.expires.to_le_bytes());
        out.extend_from_slice(&self.extra);
        out
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A FILETIME from seconds since the Unix epoch.
pub fn filetime_from_unix(seconds: u64) -> u64 {
    FILETIME_UNIX_EPOCH.saturating_add(seconds.saturating_mul(10_000_000))
}

/// Seconds since the Unix epoch from a FILETIME (0 before 1970).
pub fn unix_from_filetime(filetime: u64) -> u64 {
    filetime.saturating_sub(FILETIME_UNIX_EPOCH) / 10_000_000
}

/// The expiry Windows gives a key created at `created` (a FILETIME): 90 days later.
pub fn default_expiry(created: u64) -> u64 {
    created.saturating_add(KEY_LIFETIME_DAYS * 86_400 * 10_000_000)
}
