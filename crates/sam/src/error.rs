//! Errors of the SAM layer. Each names the hive file and the key or record involved and,
//! where there is one, what to do about it.

/// Result alias for the SAM layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading or changing local accounts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hive engine failed (I/O, corrupt cell, …); its message names the offset.
    #[error("{file}: {source}")]
    Hive {
        file: String,
        #[source]
        source: hive::Error,
    },
    /// A key every SAM or SYSTEM hive has is missing.
    #[error("{file}: key {key} is missing: {hint}")]
    MissingKey {
        file: String,
        key: String,
        hint: &'static str,
    },
    /// A record (F, V, C value, class name…) is malformed.
    #[error("{file}: {record}: {reason}")]
    Record {
        file: String,
        record: String,
        reason: String,
    },
    /// Hashes cannot be read or written without the SYSTEM hive's boot key.
    #[error(
        "{file}: password hashes are encrypted with the boot key kept in the SYSTEM hive; \
         open the SAM together with its SYSTEM (Windows/System32/config/SYSTEM)"
    )]
    NeedSystem { file: String },
    /// The boot key does not decrypt this SAM: the SYSTEM belongs to another machine.
    #[error(
        "{sam}: the boot key of {system} does not decrypt this SAM ({reason}); the two hives \
         are not from the same Windows installation"
    )]
    WrongSystem {
        sam: String,
        system: String,
        reason: String,
    },
    /// An account name Windows would refuse.
    #[error("invalid account name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    /// The name is already used by a user, group or alias (compared without case).
    #[error("{file}: the name {name:?} is already used by {taken_by}; choose another name")]
    NameTaken {
        file: String,
        name: String,
        taken_by: String,
    },
    /// No such user.
    #[error("{file}: no local user {who}")]
    NoSuchUser { file: String, who: String },
    /// No such alias (local group).
    #[error("{file}: no local group (alias) with RID {rid:#x}")]
    NoSuchAlias { file: String, rid: u32 },
    /// A request that makes no sense for the account (e.g. deleting a built-in one).
    #[error("{file}: {reason}")]
    Refused { file: String, reason: String },
    /// The edited hive failed validation; nothing was written.
    #[error("{file}: not saved, the edited hive failed validation: {findings}")]
    CheckFailed { file: String, findings: String },
    /// A volume layout problem (hive file not found under the root).
    #[error("{path}: {reason}")]
    Volume { path: String, reason: String },
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl Error {
    /// Wraps a hive-engine error with the file it concerns.
    pub(crate) fn hive(file: &str) -> impl FnOnce(hive::Error) -> Error + '_ {
        move |source| Error::Hive {
            file: file.to_string(),
            source,
        }
    }

    /// A malformed record.
    pub(crate) fn record(
        file: &str,
        record: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Record {
            file: file.to_string(),
            record: record.into(),
            reason: reason.into(),
        }
    }
}
