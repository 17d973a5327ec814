//! Errors of the generator; each names the file or hive it was writing.

use std::path::{Path, PathBuf};

/// What can go wrong while building a sample volume.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The hive engine refused an edit or a save.
    #[error("{hive}: {source}")]
    Hive {
        hive: String,
        #[source]
        source: hive::Error,
    },
    /// A descriptor or SID template did not parse (a bug in the generator's tables).
    #[error("security descriptor: {0}")]
    Security(#[from] ntsec::Error),
    /// The DPAPI files could not be built.
    #[error("DPAPI: {0}")]
    Dpapi(#[from] dpapi::Error),
    /// The target folder is not usable (e.g. not empty).
    #[error("{}: {reason}", path.display())]
    Target { path: PathBuf, reason: String },
    /// The SAM/SYSTEM builder failed.
    #[error("SAM/SYSTEM: {0}")]
    Sam(String),
    /// An inconsistency inside the generator.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the path to an I/O error.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
