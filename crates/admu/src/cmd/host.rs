//! Which machine a command works on: a mounted volume (`--root`, the offline host) or
//! the Windows admu runs on (the live host, Windows only).

use std::path::Path;

use engine::host::MigrationHost;

use crate::exit::{CommandError, Exit};

/// Opens the offline host on `root`, or the live host without it.
pub fn open(root: Option<&Path>) -> Result<Box<dyn MigrationHost>, CommandError> {
    match root {
        Some(root) => offline::OfflineHost::open(root)
            .map(|h| Box::new(h) as Box<dyn MigrationHost>)
            .map_err(|e| CommandError::new(Exit::Failed, e)),
        None => live(),
    }
}

#[cfg(windows)]
fn live() -> Result<Box<dyn MigrationHost>, CommandError> {
    windows_host::WindowsHost::open()
        .map(|h| Box::new(h) as Box<dyn MigrationHost>)
        .map_err(|e| CommandError::new(Exit::Failed, e))
}

#[cfg(not(windows))]
fn live() -> Result<Box<dyn MigrationHost>, CommandError> {
    Err(CommandError::new(
        Exit::Usage,
        anyhow::anyhow!(
            "--root VOLUME is required here: without it admu works on the Windows it runs on, \
             and this is not Windows. Mount the Windows volume (ntfs-3g) and give its mount point"
        ),
    ))
}
