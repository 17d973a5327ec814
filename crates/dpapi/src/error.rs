//! Errors of the DPAPI formats. A structural error names the file offset where the
//! problem is (relative to the start of the structure that was parsed: the file, for
//! the file-level parsers), so an admin or a bug report can find it with a hex editor.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading, decrypting or writing a DPAPI structure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The data ends before a field or a section it announces.
    #[error(
        "{what} is truncated at offset {offset:#x}: {field} needs {needed} bytes, {available} left"
    )]
    Truncated {
        what: String,
        field: String,
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// A field has a value the format does not allow.
    #[error("corrupt {what} at offset {offset:#x}: {reason}")]
    Corrupt {
        what: String,
        offset: u64,
        reason: String,
    },
    /// An algorithm identifier (`ALG_ID`) this crate does not implement.
    #[error(
        "unknown {kind} algorithm id {id:#06x} in {what} at offset {offset:#x}; \
         known: {known}"
    )]
    UnknownAlgorithm {
        /// `hash` or `cipher`.
        kind: &'static str,
        id: u32,
        what: String,
        offset: u64,
        known: &'static str,
    },
    /// The structure is well formed but the key (password, SID, master key, RSA key) is
    /// not the one that protects it: an HMAC, a signature or a padding check failed.
    #[error("{what}: {reason}")]
    WrongKey { what: String, reason: String },
    /// A request that makes no sense (a key of the wrong length, an unsupported
    /// combination when writing…).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An RSA operation failed for a reason other than a wrong key.
    #[error("RSA: {0}")]
    Rsa(String),
    /// The random number generator failed.
    #[error("no randomness: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn corrupt(what: &str, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            what: what.to_string(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn wrong_key(what: &str, reason: impl Into<String>) -> Error {
        Error::WrongKey {
            what: what.to_string(),
            reason: reason.into(),
        }
    }

    /// Moves the offsets of an error raised inside a sub-structure by the sub-structure's
    /// position in its file, and names the enclosing structure.
    pub(crate) fn within(self, base: u64, outer: &str) -> Error {
        match self {
            Error::Truncated {
                what,
                field,
                offset,
                needed,
                available,
            } => Error::Truncated {
                what: format!("{outer}: {what}"),
                field,
                offset: offset + base,
                needed,
                available,
            },
            Error::Corrupt {
                what,
                offset,
                reason,
            } => Error::Corrupt {
                what: format!("{outer}: {what}"),
                offset: offset + base,
                reason,
            },
            Error::UnknownAlgorithm {
                kind,
                id,
                what,
                offset,
                known,
            } => Error::UnknownAlgorithm {
                kind,
                id,
                what: format!("{outer}: {what}"),
                offset: offset + base,
                known,
            },
            other => other,
        }
    }

    /// Prefixes a file path to the description, for errors raised before the file was
    /// known.
    pub fn in_file(self, path: &std::path::Path) -> Error {
        let name = path.display().to_string();
        match self {
            Error::Truncated {
                what,
                field,
                offset,
                needed,
                available,
            } => Error::Truncated {
                what: format!("{name}: {what}"),
                field,
                offset,
                needed,
                available,
            },
            Error::Corrupt {
                what,
                offset,
                reason,
            } => Error::Corrupt {
                what: format!("{name}: {what}"),
                offset,
                reason,
            },
            Error::UnknownAlgorithm {
                kind,
                id,
                what,
                offset,
                known,
            } => Error::UnknownAlgorithm {
                kind,
                id,
                what: format!("{name}: {what}"),
                offset,
                known,
            },
            Error::WrongKey { what, reason } => Error::WrongKey {
                what: format!("{name}: {what}"),
                reason,
            },
            other => other,
        }
    }

    /// The file offset an error names, if it names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Truncated { offset, .. }
            | Error::Corrupt { offset, .. }
            | Error::UnknownAlgorithm { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
