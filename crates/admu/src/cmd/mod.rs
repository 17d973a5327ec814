//! The `admu` subcommands, one module per command group.

pub mod accounts;
#[cfg(target_os = "linux")]
pub mod acl;
pub mod dpapi;
pub mod fleet;
pub mod hive;
pub mod host;
pub mod info;
pub mod jc;
pub mod list;
pub mod migrate;
pub mod report;
pub mod sample;
pub mod sids;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_out(format_args!("{text}"));
    Ok(())
}

/// Writes a line to stdout. When the reader has gone (`admu … | head`), admu stops
/// quietly with success, as command-line tools do, instead of panicking.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// `println!` through [`write_out`].
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cmd::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cmd::write_out(format_args!($($arg)*))
    };
}

/// A password from `--password-file` (its first line) or `--password-env`, never from
/// the command line. `None` when neither flag was given.
pub fn read_password(
    file: Option<&std::path::Path>,
    env: Option<&str>,
) -> Result<Option<String>, crate::exit::CommandError> {
    use crate::exit::{CommandError, Exit};
    let usage = |msg: String| CommandError::new(Exit::Usage, anyhow::anyhow!(msg));
    let password = match (file, env) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                usage(format!(
                    "--password-file {}: cannot read it: {e}",
                    file.display()
                ))
            })?;
            let line = text.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                return Err(usage(format!(
                    "--password-file {}: the first line is empty",
                    file.display()
                )));
            }
            line
        }
        (None, Some(var)) => {
            engine::child_env::secret_var(var);
            let value = std::env::var(var).map_err(|_| {
                usage(format!(
                    "--password-env {var}: the variable is not set (or not Unicode)"
                ))
            })?;
            if value.is_empty() {
                return Err(usage(format!(
                    "--password-env {var}: the password is empty"
                )));
            }
            value
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(password))
}

/// How SIDs are translated (ADMT's modes), for `--mode`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// Old SID becomes the new one (owner, group, every ACE).
    Replace,
    /// Keep the old ACE and add the same ACE for the new SID right after it.
    Add,
    /// Drop the ACEs of the old SID.
    Remove,
}

impl From<ModeArg> for ntsec::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Replace => ntsec::Mode::Replace,
            ModeArg::Add => ntsec::Mode::Add,
            ModeArg::Remove => ntsec::Mode::Remove,
        }
    }
}
