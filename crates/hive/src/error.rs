//! Errors of the hive engine. Every structural error names the file offset where the
//! problem is, so an admin (or a bug report) can find it with a hex editor.

use std::path::PathBuf;

/// Result alias for the hive engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading, editing or writing a hive.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a registry hive: {reason}")]
    NotAHive { reason: String },
    #[error("corrupt hive at file offset {offset:#x}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    #[error("key not found: {path}")]
    KeyNotFound { path: String },
    #[error("value not found: {name:?} in {key}")]
    ValueNotFound { key: String, name: String },
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("security descriptor at file offset {offset:#x}: {source}")]
    Security {
        offset: u64,
        #[source]
        source: ntsec::Error,
    },
    #[error("the hive would exceed the 4 GiB a regf file can address")]
    TooLarge,
}

impl Error {
    /// A structural error at a cell offset (relative to the hive bins), reported as a
    /// file offset.
    pub(crate) fn corrupt(cell: u32, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            offset: u64::from(cell) + crate::base::BASE_BLOCK_SIZE as u64,
            reason: reason.into(),
        }
    }

    /// Prefixes a path, for errors raised before the file was known.
    pub fn in_file(self, path: &std::path::Path) -> Error {
        match self {
            Error::Corrupt { offset, reason } => Error::Corrupt {
                offset,
                reason: format!("{reason} (in {})", path.display()),
            },
            Error::NotAHive { reason } => Error::NotAHive {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        }
    }
}
