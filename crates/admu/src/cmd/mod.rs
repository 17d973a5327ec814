//! The `admu` subcommands, one module per command group.

pub mod accounts;
#[cfg(target_os = "linux")]
pub mod acl;
pub mod hive;
pub mod list;
pub mod migrate;
pub mod sample;

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
