//! Saving: a clean hive (sequence numbers equal, checksum right) written to a temporary
//! file beside the target, fsynced, and renamed over it, so the target is either the old
//! file or the complete new one, never half of each.
//!
//! Unchanged pages are not rewritten from memory: when the hive was read from a file
//! that is still as it was (length and modification time) and no log was replayed, the
//! temporary file is first a copy of that file (`std::io::copy` between files, which is
//! `copy_file_range` on Linux and a plain copy elsewhere), then the base block and every
//! 4 KiB page changed since ([`DirtyPages`]) are written over it. Otherwise every byte
//! is written. Either way the result is the same bytes, fsynced before the rename.
//!
//! Transaction logs: after the primary is safely in place, `save` empties `.LOG1`/`.LOG2`
//! (truncates them to 0 bytes, keeping the files and their security), which is what a
//! clean hive with nothing left to recover looks like. The primary is clean, so Windows
//! would ignore their old entries anyway; emptying them keeps a later recovery or a
//! forensic tool from mistaking stale entries for pending ones.
//!
//! KTM files (`NTUSER.DAT{GUID}.TM.blf`, `…regtrans-ms`) beside user hives belong to the
//! transactional registry (TxR). admu never touches them: they only matter while a
//! transaction is pending, and Windows recreates them when they are missing. A hive
//! whose base block says transactions are pending (flag 0x1) is refused by `save`
//! unless [`SaveOptions::allow_pending_transactions`] is set, because Windows could try
//! to apply those transactions to a hive that no longer matches them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::base::{self, off, read_u32, write_u32, write_u64};
use crate::edit::filetime_now;
use crate::error::{Error, Result};
use crate::hive::Hive;

/// Base-block flag: the hive has pending KTM transactions.
pub const FLAG_PENDING_TRANSACTIONS: u32 = 0x1;

/// Called with (temporary file, target) before the rename, to carry over what the file
/// system keeps outside the file's bytes (on NTFS: the security descriptor and the
/// hidden/system attributes of `NTUSER.DAT`).
pub type BeforeRename<'a> = &'a dyn Fn(&Path, &Path) -> std::io::Result<()>;

/// How to save.
#[derive(Default, Clone, Copy)]
pub struct SaveOptions<'a> {
    /// Save even though the base block says KTM transactions are pending.
    pub allow_pending_transactions: bool,
    /// See [`BeforeRename`].
    pub before_rename: Option<BeforeRename<'a>>,
}

impl std::fmt::Debug for SaveOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveOptions")
            .field(
                "allow_pending_transactions",
                &self.allow_pending_transactions,
            )
            .field("before_rename", &self.before_rename.is_some())
            .finish()
    }
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SaveReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub sequence: u32,
    /// Logs emptied after the primary was in place.
    pub logs_emptied: Vec<PathBuf>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Hive {
    /// Marks the in-memory base block clean: both sequence numbers one past the
    /// current primary sequence, timestamp now, checksum recomputed. Returns the
    /// sequence number.
    pub fn finish_base_block(&mut self) -> u32 {
        finish_base_block(&mut self.data)
    }

    /// Saves over the file the hive was opened from and empties its logs.
    pub fn save(&mut self) -> Result<SaveReport> {
        self.save_with(SaveOptions::default())
    }

    /// [`Hive::save`] with options.
    pub fn save_with(&mut self, options: SaveOptions<'_>) -> Result<SaveReport> {
        let path = self.path.clone().ok_or_else(|| {
            Error::Invalid("the hive was not read from a file; use save_as".into())
        })?;
        let mut report = self.save_as_with(&path, options)?;
        report.logs_emptied = empty_logs(&self.logs_found)?;
        Ok(report)
    }

    /// Writes the hive to `path` atomically (temp file, fsync, rename, fsync of the
    /// directory). An existing file at `path` is replaced only when everything is
    /// written; on any error it is untouched and the temp file is removed.
    pub fn save_as(&mut self, path: impl AsRef<Path>) -> Result<SaveReport> {
        self.save_as_with(path.as_ref(), SaveOptions::default())
    }

    /// [`Hive::save_as`] with options.
    pub fn save_as_with(&mut self, path: &Path, options: SaveOptions<'_>) -> Result<SaveReport> {
        let flags = read_u32(&self.data, off::FLAGS).unwrap_or(0);
        if flags & FLAG_PENDING_TRANSACTIONS != 0 && !options.allow_pending_transactions {
            return Err(Error::Invalid(format!(
                "{}: the hive has pending KTM transactions (base-block flag 0x1); let Windows load \
                 and unload it once (log the user on and off), then try again",
                path.display()
            )));
        }
        let sequence = self.finish_base_block();
        match self.source.as_ref().filter(|s| s.unchanged()) {
            Some(source) => {
                write_patched(path, source, &self.data, &self.dirty, options.before_rename)?
            }
            None => write_atomically(path, &self.data, options.before_rename)?,
        }
        if self.source.as_ref().is_some_and(|s| s.path == path) {
            // The file is now exactly `data`.
            self.source = Source::of(path, self.data.len() as u64);
            self.dirty = DirtyPages::default();
        }
        Ok(SaveReport {
            path: path.to_path_buf(),
            bytes: self.data.len() as u64,
            sequence,
            logs_emptied: Vec::new(),
        })
    }
}

/// Marks a 4096-byte base block clean: both sequence
/// numbers one past the primary sequence, timestamp now, checksum recomputed. Returns
/// the sequence number.
pub(crate) fn finish_base_block(block: &mut [u8]) -> u32 {
    let seq = read_u32(block, off::PRIMARY_SEQ)
        .unwrap_or(0)
        .wrapping_add(1);
    write_u32(block, off::PRIMARY_SEQ, seq);
    write_u32(block, off::SECONDARY_SEQ, seq);
    write_u64(block, off::TIMESTAMP, filetime_now());
    base::fix_checksum(block);
    seq
}

/// Truncates a saved primary's logs to 0 bytes (keeping the files), each synced.
pub(crate) fn empty_logs(logs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    for log in logs {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(log)
            .map_err(io_err(log))?;
        f.set_len(0).map_err(io_err(log))?;
        f.sync_all().map_err(io_err(log))?;
    }
    Ok(logs.to_vec())
}

/// The size of the pages [`DirtyPages`] tracks.
const PAGE: usize = 4096;

/// The 4 KiB pages of a hive's bytes changed since they were read (one bit each).
#[derive(Debug, Clone, Default)]
pub struct DirtyPages(Vec<u64>);

impl DirtyPages {
    /// Marks the bytes `from..to` changed.
    pub(crate) fn mark(&mut self, from: usize, to: usize) {
        if to <= from {
            return;
        }
        let (first, last) = (from / PAGE, (to - 1) / PAGE);
        if self.0.len() <= last / 64 {
            self.0.resize(last / 64 + 1, 0);
        }
        for page in first..=last {
            self.0[page / 64] |= 1 << (page % 64);
        }
    }

    /// The changed pages as byte ranges (runs merged), clipped to `len`.
    fn ranges(&self, len: usize) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for (w, bits) in self.0.iter().enumerate().filter(|(_, b)| **b != 0) {
            for bit in (0..64).filter(|b| bits & (1 << b) != 0) {
                let from = (w * 64 + bit) * PAGE;
                let to = (from + PAGE).min(len);
                if from >= to {
                    continue;
                }
                match out.last_mut() {
                    Some(last) if last.1 == from => last.1 = to,
                    _ => out.push((from, to)),
                }
            }
        }
        out
    }
}

/// The file a hive's bytes were read from, as it was then.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
}

impl Source {
    /// Reads a file, noting its length and modification time first.
    pub(crate) fn read(path: &Path) -> Result<(Vec<u8>, Source)> {
        let mut file = File::open(path).map_err(io_err(path))?;
        let meta = file.metadata().map_err(io_err(path))?;
        let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut data).map_err(io_err(path))?;
        let source = Source {
            path: path.to_path_buf(),
            len: data.len() as u64,
            // Without a modification time the file can never be trusted unchanged.
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        };
        Ok((data, source))
    }

    /// The file at `path` as it is now, when it is `len` bytes long.
    fn of(path: &Path, len: u64) -> Option<Source> {
        let meta = std::fs::metadata(path).ok()?;
        (meta.len() == len).then_some(Source {
            path: path.to_path_buf(),
            len,
            modified: meta.modified().ok()?,
        })
    }

    /// Whether the file still has the length and modification time it had.
    fn unchanged(&self) -> bool {
        self.modified != SystemTime::UNIX_EPOCH
            && std::fs::metadata(&self.path).is_ok_and(|m| {
                m.len() == self.len && m.modified().is_ok_and(|t| t == self.modified)
            })
    }
}

/// The temporary file beside `path` (and its folder) that a save writes first.
pub(crate) fn temp_path(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.admu-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    Ok((dir, tmp))
}

/// Fsyncs the temporary file, runs the hook, renames it over `path`, fsyncs the folder;
/// on any error the temporary file is removed and `path` left as it was.
pub(crate) fn finish_atomically(
    dir: &Path,
    tmp: &Path,
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<()>,
    before_rename: Option<BeforeRename<'_>>,
) -> Result<()> {
    let result = (|| {
        let mut f = File::create(tmp).map_err(io_err(tmp))?;
        write(&mut f)?;
        f.sync_all().map_err(io_err(tmp))?;
        drop(f);
        if let Some(hook) = before_rename {
            hook(tmp, path).map_err(io_err(path))?;
        }
        std::fs::rename(tmp, path).map_err(io_err(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    before_rename: Option<BeforeRename<'_>>,
) -> Result<()> {
    let (dir, tmp) = temp_path(path)?;
    let write = |f: &mut File| f.write_all(bytes).map_err(io_err(&tmp));
    finish_atomically(&dir, &tmp, path, write, before_rename)
}

/// Writes `bytes` to `path` like [`write_atomically`], copying the pages not in `dirty`
/// from `source` (which holds the bytes they had when read) instead of from memory.
fn write_patched(
    path: &Path,
    source: &Source,
    bytes: &[u8],
    dirty: &DirtyPages,
    before_rename: Option<BeforeRename<'_>>,
) -> Result<()> {
    let (dir, tmp) = temp_path(path)?;
    let write = |f: &mut File| {
        let from = File::open(&source.path).map_err(io_err(&source.path))?;
        let keep = source.len.min(bytes.len() as u64);
        let copied = std::io::copy(&mut (&from).take(keep), f).map_err(io_err(&tmp))?;
        if copied != keep {
            return Err(Error::Invalid(format!(
                "{}: shorter than when it was read ({copied} of {keep} bytes)",
                source.path.display()
            )));
        }
        let keep = usize::try_from(keep).map_err(|_| Error::TooLarge)?;
        let mut ranges = dirty.ranges(bytes.len());
        ranges.push((0, PAGE.min(bytes.len())));
        if bytes.len() > keep {
            ranges.push((keep, bytes.len()));
        }
        for (at, end) in ranges {
            f.seek(SeekFrom::Start(at as u64)).map_err(io_err(&tmp))?;
            f.write_all(&bytes[at..end]).map_err(io_err(&tmp))?;
        }
        Ok(())
    };
    finish_atomically(&dir, &tmp, path, write, before_rename)
}

/// Makes a rename durable: fsync of the directory (a no-op where directories cannot be
/// opened, i.e. on Windows, whose rename is already journaled by NTFS).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A file written through a temporary file beside it and renamed into place only by
/// [`AtomicFile::commit`]: for outputs too large to hold in memory (exports). Dropped
/// without commit, it removes the temporary file and leaves the target as it was.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<std::io::BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target`.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{} is not a file path", target.display())))?;
        let tmp = dir.join(format!(
            ".{}.admu-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        Ok(AtomicFile {
            tmp,
            target: target.to_path_buf(),
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flushes, fsyncs, renames over the target and fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        let writer = self
            .file
            .take()
            .ok_or_else(|| Error::Invalid("atomic file already finished".into()))?;
        let file = writer.into_inner().map_err(|e| Error::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(io_err(&self.target))?;
        let dir = self
            .target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        sync_dir(dir)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("atomic file already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
