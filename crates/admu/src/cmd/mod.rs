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
    println!("{text}");
    Ok(())
}
