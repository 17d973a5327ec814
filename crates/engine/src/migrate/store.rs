//! admu's folder on the volume (`ProgramData\admu`): the migrations' journals and
//! backups, private to SYSTEM and Administrators, and the lock that lets one mutating
//! command at a time work on a volume.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::host::{MigrationHost, PrivateFiles, to_hex};
use crate::journal::record::{Backup, BackupFile};
use crate::journal::{BACKUP_DIR, JOURNAL_FILE, create_private_dir, create_private_file, sync_dir};

const LOCK_FILE: &str = "lock";
const LOCK_OWNER_FILE: &str = "lock.owner";

/// `ProgramData\admu` on the volume (host path), whether or not it exists.
pub fn admu_dir(host: &dyn MigrationHost) -> Result<PathBuf> {
    let program_data = host
        .volume_root_path("ProgramData")
        .ok_or_else(|| Error::NotFound("the volume has no ProgramData folder".into()))?;
    Ok(program_data.join("admu"))
}

/// `ProgramData\admu\migrations`, whether or not it exists.
pub fn migrations_dir(host: &dyn MigrationHost) -> Result<PathBuf> {
    Ok(admu_dir(host)?.join("migrations"))
}

/// Creates `ProgramData\admu` and its `migrations` folder, private, when missing; an
/// existing one that is not private (made by someone else, or by an older admu) gets
/// the private descriptor, with a warning.
pub fn ensure_dirs(host: &dyn MigrationHost) -> Result<PathBuf> {
    let admu = admu_dir(host)?;
    let migrations = admu.join("migrations");
    if let Some(program_data) = admu.parent()
        && !program_data.exists()
    {
        // Every Windows has it; a bare test volume may not.
        std::fs::create_dir(program_data).map_err(Error::io(program_data))?;
    }
    for dir in [&admu, &migrations] {
        if !dir.exists() {
            create_private_dir(host, dir)?;
        } else if let Err(why) = host.check_private(dir) {
            tracing::warn!(
                "{} was not private ({why}); giving it admu's descriptor (SYSTEM and \
                 Administrators only)",
                dir.display()
            );
            host.make_private(dir).map_err(Error::io(dir))?;
        }
    }
    Ok(migrations)
}

/// Refuses a journal any part of which that an undo would use (the journal, and every
/// backup and descriptor log its records name) someone other than SYSTEM and
/// Administrators could have changed. Files a killed run created but never named in a
/// record are not used, and not checked (a power cut can leave one between its creation
/// and its descriptor).
pub fn check_journal_private(host: &dyn MigrationHost, dir: &Path) -> Result<()> {
    use crate::journal::record::{Entry, Intent};
    let mut paths = vec![dir.to_path_buf(), dir.join(JOURNAL_FILE)];
    let backups = dir.join(BACKUP_DIR);
    let records = crate::journal::Journal::read(dir)?.records;
    let named_backup = |b: &Backup, paths: &mut Vec<PathBuf>| {
        paths.push(backups.join(&b.dir));
        paths.extend(b.files.iter().map(|f| backups.join(&b.dir).join(&f.name)));
    };
    for r in &records {
        let Entry::Intent(intent) = &r.entry else {
            continue;
        };
        if let Some(b) = intent.backup() {
            named_backup(b, &mut paths);
        }
        match intent {
            Intent::Tree(t) => paths.push(backups.join(&t.log)),
            Intent::SweepFiles(s) => paths.push(backups.join(&s.log)),
            Intent::OutsideProfile(o) => {
                // The outside_profile step's descriptor log (steps/outside.rs).
                paths.push(backups.join("outside_acl.jsonl"));
                for rw in &o.rewrites {
                    named_backup(&rw.backup, &mut paths);
                }
            }
            _ => {}
        }
    }
    if paths.len() > 2 {
        paths.push(backups);
    }
    for p in paths.into_iter().filter(|p| p.exists()) {
        if let Err(why) = host.check_private(&p) {
            return Err(Error::Journal(format!(
                "{}: not private to SYSTEM and Administrators ({why}), so someone else may \
                 have changed what admu would restore from it. Nothing was changed. Check the \
                 folder; if you trust it, give it back the descriptor O:BAG:SYD:PAI(A;OICI;FA;;;SY)\
                 (A;OICI;FA;;;BA) and run the command again",
                p.display()
            )));
        }
    }
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(Error::io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(Error::io(path))?;
    Ok(to_hex(&h.finalize()))
}

/// Copies `from` into a new private file `to`, durably, hashing what it wrote.
fn private_copy(private: &dyn PrivateFiles, from: &Path, to: &Path) -> Result<BackupFile> {
    let mut src = File::open(from).map_err(Error::io(from))?;
    let mut dst = create_private_file(private, to)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(Error::io(from))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(Error::io(to))?;
        len += n as u64;
    }
    dst.sync_all().map_err(Error::io(to))?;
    Ok(BackupFile {
        name: to
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        len,
        sha256: to_hex(&hash.finalize()),
    })
}

/// Backs up a hive file and the logs beside it into `backup\<label>\`.
pub fn backup_hive(
    private: &dyn PrivateFiles,
    backup_root: &Path,
    label: &str,
    file: &Path,
) -> Result<Backup> {
    let dir = backup_root.join(label);
    create_private_dir(private, &dir)?;
    let mut originals = vec![file.to_path_buf()];
    originals.extend(hive::hive::find_logs(file).map_err(|source| Error::Hive {
        path: file.to_path_buf(),
        source,
    })?);
    let mut files = Vec::new();
    for original in originals {
        let name = original
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{} has no file name", original.display())))?;
        files.push(private_copy(private, &original, &dir.join(name))?);
    }
    sync_dir(&dir)?;
    Ok(Backup {
        dir: label.to_string(),
        files,
    })
}

/// Backs up one file (no logs) into `backup\<label>\`.
pub fn backup_file(
    private: &dyn PrivateFiles,
    backup_root: &Path,
    label: &str,
    file: &Path,
) -> Result<Backup> {
    let dir = backup_root.join(label);
    create_private_dir(private, &dir)?;
    let name = file
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} has no file name", file.display())))?;
    let copy = private_copy(private, file, &dir.join(name))?;
    sync_dir(&dir)?;
    Ok(Backup {
        dir: label.to_string(),
        files: vec![copy],
    })
}

/// Replaces a file's content atomically (temp file, fsync, rename), keeping its
/// descriptor and attributes.
pub fn replace_file(host: &dyn MigrationHost, file: &Path, bytes: &[u8]) -> Result<()> {
    atomic_replace(host, file, "write", |tmp| {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// Writes a temporary file beside `target` with `fill`, gives it `target`'s descriptor
/// and attributes (when `target` exists), and renames it over `target`, durably.
fn atomic_replace(
    host: &dyn MigrationHost,
    target: &Path,
    purpose: &str,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| Error::Invalid(format!("{} has no folder", target.display())))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.admu-{purpose}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    fill(&tmp).map_err(Error::io(&tmp))?;
    if target.exists() {
        host.copy_metadata(target, &tmp)
            .map_err(Error::io(target))?;
    }
    std::fs::rename(&tmp, target).map_err(Error::io(target))?;
    sync_dir(dir)
}

/// Checks that every file of a backup holds what it held when taken.
pub fn verify_backup(backup_root: &Path, backup: &Backup) -> Result<()> {
    if backup.dir.contains(['/', '\\']) || backup.dir.starts_with('.') {
        return Err(Error::Journal(format!(
            "backup folder {:?} is not a plain name: the journal was edited",
            backup.dir
        )));
    }
    for f in &backup.files {
        if f.name.contains(['/', '\\']) || f.name.starts_with('.') {
            return Err(Error::Journal(format!(
                "backup file {:?} is not a plain name: the journal was edited",
                f.name
            )));
        }
        let path = backup_root.join(&backup.dir).join(&f.name);
        let found = hash_file(&path).map_err(|e| {
            Error::Journal(format!(
                "{}: the backup cannot be read ({e}); nothing was changed",
                path.display()
            ))
        })?;
        if found != f.sha256 {
            return Err(Error::Journal(format!(
                "{}: the backup was changed after it was taken (SHA-256 {found}, the journal \
                 says {}); nothing was changed. Restore it from elsewhere or undo by hand",
                path.display(),
                f.sha256
            )));
        }
    }
    Ok(())
}

/// The live file a backup file stands for: the primary at `file`, logs beside it.
fn live_path(file: &Path, backup: &Backup, name: &str) -> PathBuf {
    let primary = backup.files.first().map(|f| f.name.as_str());
    if Some(name) == primary {
        file.to_path_buf()
    } else {
        file.with_file_name(name)
    }
}

/// True when the hive at `file` and its logs hold exactly what the backup holds: the
/// change the backup was taken for is not there (never made, or already undone).
pub fn matches_backup(file: &Path, backup: &Backup) -> bool {
    !backup.files.is_empty()
        && backup
            .files
            .iter()
            .all(|f| hash_file(&live_path(file, backup, &f.name)).is_ok_and(|h| h == f.sha256))
}

/// Puts a hive and its logs back from a verified backup, each file atomically and
/// keeping the live file's descriptor and attributes.
pub fn restore_backup(
    host: &dyn MigrationHost,
    backup_root: &Path,
    backup: &Backup,
    file: &Path,
) -> Result<()> {
    verify_backup(backup_root, backup)?;
    for f in &backup.files {
        let from = backup_root.join(&backup.dir).join(&f.name);
        restore_file(host, &from, &live_path(file, backup, &f.name))?;
    }
    Ok(())
}

/// Puts `backup`'s bytes back at `target` atomically, keeping `target`'s descriptor and
/// attributes (a missing target is recreated from the backup).
fn restore_file(host: &dyn MigrationHost, backup: &Path, target: &Path) -> Result<()> {
    atomic_replace(host, target, "restore", |tmp| {
        std::fs::copy(backup, tmp)?;
        File::open(tmp)?.sync_all()
    })
}

/// Removes temporary files admu's writers leave beside `file` when killed
/// (`.NAME.admu-*.tmp`).
pub fn remove_stale_temps(file: &Path) {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return;
    };
    let prefix = format!(".{}.admu-", name.to_string_lossy()).to_lowercase();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().to_lowercase();
        if n.starts_with(&prefix) && n.ends_with(".tmp") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::info!("removed stale {}", e.path().display()),
                Err(err) => tracing::warn!("cannot remove {}: {err}", e.path().display()),
            }
        }
    }
}

/// Who holds a volume's lock, as written into `lock.owner`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct LockOwner {
    pid: u32,
    command: String,
    /// FILETIME.
    since: u64,
}

/// The exclusive lock of a volume, held until dropped. The operating system releases
/// it when the process dies, so a killed run never leaves a stale lock.
#[derive(Debug)]
pub struct VolumeLock {
    file: File,
    owner: PathBuf,
}

impl Drop for VolumeLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.owner);
        let _ = self.file.unlock();
    }
}

/// Takes the volume's lock for a mutating command, or says who holds it.
pub fn lock_volume(host: &dyn MigrationHost, command: &str) -> Result<VolumeLock> {
    let admu = admu_dir(host)?;
    if !admu.exists() {
        ensure_dirs(host)?;
    }
    let path = admu.join(LOCK_FILE);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match create_private_file(host, &path) {
                Ok(f) => f,
                // Another run created it a moment ago.
                Err(_) => OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(Error::io(&path))?,
            }
        }
        Err(e) => return Err(Error::io(&path)(e)),
    };
    let owner_path = admu.join(LOCK_OWNER_FILE);
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let who = std::fs::read(&owner_path)
                .ok()
                .and_then(|b| serde_json::from_slice::<LockOwner>(&b).ok())
                .map(|o| {
                    format!(
                        "`admu {}` (process {}, since {})",
                        o.command,
                        o.pid,
                        hive::filetime::filetime_to_rfc3339(o.since)
                    )
                })
                .unwrap_or_else(|| "another admu process".into());
            return Err(Error::Locked(format!(
                "{}: {who} is working on this volume; wait for it to finish, then run this \
                 command again",
                host.describe()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path)(e)),
    }
    let owner = LockOwner {
        pid: std::process::id(),
        command: command.to_string(),
        since: hive::filetime::filetime_now(),
    };
    let _ = std::fs::remove_file(&owner_path);
    if let Ok(mut f) = create_private_file(host, &owner_path) {
        let _ = f.write_all(&serde_json::to_vec(&owner).unwrap_or_default());
    }
    Ok(VolumeLock {
        file,
        owner: owner_path,
    })
}
