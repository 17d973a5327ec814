//! File-level helpers for journaled steps: durable backups, content hashes, and
//! restoring a backup over a file while keeping the file's security and attributes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::host::MigrationHost;
use crate::journal::{durable_copy, sync_dir};

/// SHA-256 of a file, hex.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(Error::io(path))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A hive file and the logs beside it, as (original, backup) pairs.
pub fn backup_hive(file: &Path, backup_dir: &Path, label: &str) -> Result<Vec<(PathBuf, PathBuf)>> {
    let dir = backup_dir.join(label);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let mut pairs = Vec::new();
    let mut files = vec![file.to_path_buf()];
    files.extend(hive::hive::find_logs(file).map_err(|source| Error::Hive {
        path: file.to_path_buf(),
        source,
    })?);
    for original in files {
        let name = original
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{} has no file name", original.display())))?;
        let copy = dir.join(name);
        durable_copy(&original, &copy)?;
        pairs.push((original, copy));
    }
    Ok(pairs)
}

/// Puts `backup`'s bytes back at `target` atomically, keeping `target`'s descriptor and
/// attributes (a missing target is simply recreated from the backup).
pub fn restore_file(host: &dyn MigrationHost, backup: &Path, target: &Path) -> Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| Error::Invalid(format!("{} has no folder", target.display())))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.admu-restore.tmp"));
    durable_copy(backup, &tmp)?;
    if target.exists() {
        host.copy_metadata(target, &tmp)
            .map_err(Error::io(target))?;
    }
    std::fs::rename(&tmp, target).map_err(Error::io(target))?;
    sync_dir(dir)
}
