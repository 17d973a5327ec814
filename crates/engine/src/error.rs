//! Errors of the engine. Each names the file, key or flag it is about and says what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Hive {
        path: PathBuf,
        #[source]
        source: hive::Error,
    },
    #[error("{root}: {reason}")]
    Volume { root: PathBuf, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("local accounts: {0}")]
    Accounts(String),
    /// A journal that cannot be trusted (edited, unprotected, backups changed): refused
    /// before anything changed.
    #[error("{0}")]
    Journal(String),
    /// Checks refused the command before it changed anything.
    #[error("{0}")]
    Refused(String),
    /// The device manager (JumpCloud) refused or failed.
    #[error("{0}")]
    Device(String),
    /// Another admu run holds the volume.
    #[error("{0}")]
    Locked(String),
}

impl Error {
    /// Wraps an I/O error with the path it is about.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
