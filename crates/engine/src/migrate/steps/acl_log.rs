//! The descriptor log: one JSON line per file or folder whose security descriptor a
//! step rewrites, holding the old and the new descriptor, written before the file
//! changes. Undo restores from it; every entry is checked before any is used.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::{PrivateFiles, parse_hex, to_hex};
use crate::journal::create_private_file;

/// How often the log is made durable when every change can be found again anyway.
const SYNC_EVERY: u64 = 512;

/// Whether the end of a descriptor log may be missing after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Every entry was made durable before its file changed: all of it must be readable.
    Durable,
    /// Entries were made durable in batches; the caller finds the rest another way.
    MayBeLost,
}

/// One line of the descriptor log.
#[derive(Debug, Serialize, Deserialize)]
struct LogEntry {
    /// Relative to the volume root.
    p: String,
    /// The descriptor before, hex.
    o: String,
    /// The descriptor admu wrote, hex.
    n: String,
}

/// A descriptor log being written (shared by worker threads).
#[derive(Debug)]
pub(crate) struct DescriptorLog {
    path: PathBuf,
    root: PathBuf,
    /// Make every entry durable before its file changes (when a crash could not find
    /// the changed files otherwise).
    sync_each: bool,
    state: Mutex<(std::io::BufWriter<std::fs::File>, u64)>,
}

impl DescriptorLog {
    /// Creates the log, private, at `path`; paths in it are relative to `root`.
    pub fn create(
        private: &dyn PrivateFiles,
        path: &Path,
        root: &Path,
        sync_each: bool,
    ) -> Result<DescriptorLog> {
        let file = create_private_file(private, path)?;
        Ok(DescriptorLog {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
            sync_each,
            state: Mutex::new((std::io::BufWriter::new(file), 0)),
        })
    }

    /// Logs one change (called before the file is written).
    pub fn record(&self, path: &Path, old: &[u8], new: &[u8]) -> std::io::Result<()> {
        let entry = LogEntry {
            p: super::super::relative(&self.root, path),
            o: to_hex(old),
            n: to_hex(new),
        };
        let mut guard = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("descriptor log lock poisoned"))?;
        let (writer, count) = &mut *guard;
        serde_json::to_writer(&mut *writer, &entry)?;
        writer.write_all(b"\n")?;
        *count += 1;
        if self.sync_each || (*count).is_multiple_of(SYNC_EVERY) {
            writer.flush()?;
            writer.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Makes everything durable; returns the number of entries.
    pub fn finish(self) -> Result<u64> {
        let (mut writer, count) = self
            .state
            .into_inner()
            .map_err(|_| Error::Invalid("descriptor log lock poisoned".into()))?;
        writer.flush().map_err(Error::io(&self.path))?;
        writer.get_ref().sync_all().map_err(Error::io(&self.path))?;
        Ok(count)
    }
}

/// Whether a volume-relative path lies at or below one of `allowed` (also relative),
/// with no `.` or `..` component.
fn inside(path: &str, allowed: &[String]) -> bool {
    if path.split(['\\', '/']).any(|c| c == ".." || c == ".") {
        return false;
    }
    let lower = path.to_lowercase();
    allowed.iter().any(|a| {
        let a = a.trim_end_matches('\\').to_lowercase();
        lower == a || lower.strip_prefix(&a).is_some_and(|r| r.starts_with('\\'))
    })
}

/// Reads a descriptor log, checking every entry before the caller acts on any: each
/// path must lie below one of `allowed` (relative to the volume root), each descriptor
/// must be valid hex and parse. Only a torn last line (no newline) is skipped. `each`
/// gets (relative path, old, new).
///
/// With [`Tail::MayBeLost`] (a log not made durable entry by entry, whose changes the
/// caller can find again without it), a log that cannot be read to its end (a volume
/// cut off mid-append returns I/O errors there, as ntfs-3g does after its daemon dies)
/// ends the read with a warning instead of failing the undo.
pub(crate) fn read_descriptor_log(
    log: &Path,
    allowed: &[String],
    tail: Tail,
    mut each: impl FnMut(&str, Vec<u8>, Vec<u8>) -> Result<()>,
) -> Result<u64> {
    let lost = |e: std::io::Error, count: u64| -> Result<u64> {
        if tail == Tail::MayBeLost {
            tracing::warn!(
                log = %log.display(),
                "the descriptor log cannot be read past entry {count} ({e}); the rest is \
                 found by SID"
            );
            Ok(count)
        } else {
            Err(Error::Journal(format!(
                "{}: cannot be read ({e}); every entry of this log was made durable before \
                 its file changed, so the volume is damaged. Check it (chkdsk, or ntfsfix on \
                 Linux) and run recover again",
                log.display()
            )))
        }
    };
    let file = match std::fs::File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return lost(e, 0),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let (mut offset, mut count) = (0u64, 0u64);
    loop {
        line.clear();
        let n = match reader.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => return lost(e, count),
        };
        if n == 0 || line.last() != Some(&b'\n') {
            break; // end, or a torn last line whose file was never written
        }
        let bad = |why: String| {
            Error::Journal(format!(
                "{}: entry at byte offset {offset}: {why}; the log was edited. Nothing was \
                 changed",
                log.display()
            ))
        };
        let entry: LogEntry =
            serde_json::from_slice(&line[..n - 1]).map_err(|e| bad(e.to_string()))?;
        if !inside(&entry.p, allowed) {
            return Err(bad(format!(
                "{:?} is not below the migrated profile or the other places the step \
                 changed ({allowed:?})",
                entry.p
            )));
        }
        let old = parse_hex(&entry.o).map_err(|e| bad(format!("old descriptor: {e}")))?;
        let new = parse_hex(&entry.n).map_err(|e| bad(format!("new descriptor: {e}")))?;
        for sd in [&old, &new] {
            ntsec::SecurityDescriptor::from_bytes(sd)
                .map_err(|e| bad(format!("not a security descriptor: {e}")))?;
        }
        each(&entry.p, old, new)?;
        offset += n as u64;
        count += 1;
    }
    Ok(count)
}

/// Puts back the old descriptor of every logged file that still holds the one admu
/// wrote (idempotent).
pub(crate) fn restore_from_log(
    backend: &dyn ntsec::FileSecurity,
    root: &Path,
    log: &Path,
    allowed: &[String],
    tail: Tail,
) -> Result<u64> {
    let mut buf = Vec::new();
    let mut restored = 0;
    read_descriptor_log(log, allowed, tail, |rel, old, new| {
        let path = super::super::absolute(root, rel)?;
        if backend.read(&path, &mut buf).is_err() {
            tracing::warn!(path = %path.display(), "cannot read the descriptor to restore it");
            return Ok(());
        }
        if buf == new {
            backend.write(&path, &old).map_err(Error::io(&path))?;
            restored += 1;
        }
        Ok(())
    })?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_paths_are_below_a_prefix_without_dot_segments() {
        let allowed = vec![
            r"Users\alice".to_string(),
            r"$Recycle.Bin\S-1-5-21-9".into(),
        ];
        assert!(inside(r"Users\alice", &allowed));
        assert!(inside(r"users\ALICE\Desktop\a.txt", &allowed));
        assert!(inside(r"$Recycle.Bin\S-1-5-21-9\desktop.ini", &allowed));
        assert!(!inside(r"Users\alice2\x", &allowed));
        assert!(!inside(r"Users\alice\..\bob", &allowed));
        assert!(!inside(r"Windows\System32\config\SAM", &allowed));
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_log_is_an_error_unless_its_tail_may_be_lost() {
        // A directory opens but cannot be read: the stand-in for a log whose clusters a
        // crash left unreadable.
        let dir = std::env::temp_dir().join(format!("admu-acl-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let allowed = vec![r"Users\alice".to_string()];
        let lost = read_descriptor_log(&dir, &allowed, Tail::MayBeLost, |_, _, _| Ok(()));
        assert_eq!(lost.unwrap(), 0);
        let durable = read_descriptor_log(&dir, &allowed, Tail::Durable, |_, _, _| Ok(()));
        let message = durable.unwrap_err().to_string();
        assert!(message.contains("run recover again"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
