//! admu's exit codes. `docs/exit-codes.md` is the user-facing table; keep them in step.

use std::process::ExitCode;

/// Why admu stopped. Each variant has its own exit code so that an RMM or a script can
/// tell "nothing happened" from "something happened and was rolled back" from "a person
/// must run `admu recover`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok,
    /// The command failed before changing anything (bad input file, I/O error, …).
    Failed,
    /// The command line was wrong (unknown flag, missing argument, bad value).
    Usage,
    /// A check found problems: a preflight check failed or a validation (`hive check`)
    /// reported findings. Nothing was changed.
    CheckFailed,
    /// A migration failed and was rolled back: the machine is as it was before.
    RolledBack,
    /// A migration failed and could not be rolled back automatically: run `admu recover`.
    NeedsRecover,
    /// A journal cannot be trusted (edited, not private, a backup changed): refused,
    /// nothing was changed.
    JournalRefused,
    /// Another admu run holds the volume's lock; nothing was changed.
    Busy,
    /// The migration is done (and revertible), but the device manager (JumpCloud)
    /// could not bind the user.
    DeviceFailed,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::CheckFailed => 3,
            Exit::RolledBack => 4,
            Exit::NeedsRecover => 5,
            Exit::JournalRefused => 6,
            Exit::Busy => 7,
            Exit::DeviceFailed => 8,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// An error that knows which exit code it stands for.
#[derive(Debug)]
pub struct CommandError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl CommandError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        CommandError {
            exit,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for CommandError {
    fn from(error: E) -> Self {
        CommandError::new(Exit::Failed, error)
    }
}

/// A flag or its value is wrong (exit 2).
pub fn usage(e: impl std::fmt::Display) -> CommandError {
    CommandError::new(Exit::Usage, anyhow::anyhow!("{e}"))
}

/// The work itself failed (exit 1).
pub fn failed(e: impl std::fmt::Display) -> CommandError {
    CommandError::new(Exit::Failed, anyhow::anyhow!("{e}"))
}

/// The exit code of an engine error that stopped a command before it changed anything.
pub fn engine_error(e: engine::Error) -> CommandError {
    let exit = match &e {
        engine::Error::Journal(_) => Exit::JournalRefused,
        engine::Error::Locked(_) => Exit::Busy,
        engine::Error::Refused(_) => Exit::CheckFailed,
        _ => Exit::Failed,
    };
    CommandError::new(exit, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Exit::Ok,
            Exit::Failed,
            Exit::Usage,
            Exit::CheckFailed,
            Exit::RolledBack,
            Exit::NeedsRecover,
            Exit::JournalRefused,
            Exit::Busy,
            Exit::DeviceFailed,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Usage.code(), 2, "clap's own usage errors exit with 2");
    }
}
