//! The migration journal: an append-only file of JSON lines under the volume's
//! `ProgramData\admu\migrations\<id>\`, each line fsynced before the step it announces
//! starts ("intent") and after it finished ("done"). After a crash the journal says
//! exactly which steps ran, and the backups beside it hold what is needed to undo them.
//!
//! Reading never writes: [`Journal::read`] gives the complete lines and says whether a
//! torn tail follows; only [`Journal::open`], under the volume lock, cuts that tail
//! before appending. A complete line that does not parse, or a sequence number out of
//! order, means the journal was edited: it is refused, never guessed at.

pub mod record;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub use record::{Entry, Record, StepId, UndoHow, UndoKind};

use crate::error::{Error, Result};
use crate::host::PrivateFiles;

/// Where migrations are journaled, relative to the volume root.
pub const MIGRATIONS_DIR: &str = r"ProgramData\admu\migrations";
/// The journal file in a migration's folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// The backups' folder in a migration's folder.
pub const BACKUP_DIR: &str = "backup";

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    records: Vec<Record>,
}

/// A journal as read, without changing it.
#[derive(Debug, Clone)]
pub struct JournalRead {
    pub records: Vec<Record>,
    /// Bytes after the last complete line (a write the process did not finish).
    pub torn_bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Test hook: with `ADMU_FAILPOINT=N` (debug builds only) the process aborts right
/// after writing the N-th journal record, as a power cut would stop it.
fn failpoint(seq: u64) {
    if cfg!(debug_assertions)
        && let Ok(v) = std::env::var("ADMU_FAILPOINT")
        && v.trim().parse::<u64>().ok() == Some(seq)
    {
        eprintln!("admu: failpoint {seq} reached, aborting");
        std::process::abort();
    }
}

/// Parses a journal's bytes: complete lines must all be records numbered 1, 2, 3 …; what
/// follows the last newline is a torn write. A last line holding NUL bytes counts as
/// torn too (a file system that lost the data of a write it had sized).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<JournalRead> {
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    let mut offset = 0usize;
    let mut torn_from = complete;
    let lines: Vec<&[u8]> = bytes[..complete].split_inclusive(|b| *b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let body = &line[..line.len() - 1];
        let last = i + 1 == lines.len();
        if last && body.contains(&0) {
            torn_from = offset;
            break;
        }
        let record: Record = serde_json::from_slice(body).map_err(|e| {
            Error::Journal(format!(
                "{}: line {} (byte offset {offset}) is not a journal record of this admu \
                 (format {}): {e}. The journal was edited or written by another version; \
                 nothing was changed",
                path.display(),
                i + 1,
                record::FORMAT
            ))
        })?;
        if record.seq != records.len() as u64 + 1 {
            return Err(Error::Journal(format!(
                "{}: line {} (byte offset {offset}) has sequence number {} where {} was \
                 expected: the journal was edited; nothing was changed",
                path.display(),
                i + 1,
                record.seq,
                records.len() + 1
            )));
        }
        records.push(record);
        offset += line.len();
    }
    Ok(JournalRead {
        records,
        torn_bytes: (bytes.len() - torn_from) as u64,
    })
}

impl Journal {
    /// Starts a new journal in `dir` (created; must not exist yet), readable by SYSTEM
    /// and Administrators only.
    pub fn create(dir: &Path, private: &dyn PrivateFiles) -> Result<Journal> {
        create_private_dir(private, dir)?;
        create_private_dir(private, &dir.join(BACKUP_DIR))?;
        let path = dir.join(JOURNAL_FILE);
        let file = create_private_file(private, &path)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            records: Vec::new(),
        })
    }

    /// Reads a journal without changing anything.
    pub fn read(dir: &Path) -> Result<JournalRead> {
        let path = dir.join(JOURNAL_FILE);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io(&path))?;
        parse(&path, &bytes)
    }

    /// Opens a journal to append to it (recover, revert): a torn tail is cut first, so
    /// the next record starts on a line of its own. Call only under the volume lock.
    pub fn open(dir: &Path) -> Result<Journal> {
        let path = dir.join(JOURNAL_FILE);
        let read = Journal::read(dir)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if read.torn_bytes > 0 {
            let len = file.metadata().map_err(io(&path))?.len();
            file.set_len(len.saturating_sub(read.torn_bytes))
                .map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            tracing::info!(
                "{}: cut a torn last line of {} bytes",
                path.display(),
                read.torn_bytes
            );
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            records: read.records,
        })
    }

    /// The journal's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where this migration's backups go.
    pub fn backup_dir(&self) -> PathBuf {
        self.dir.join(BACKUP_DIR)
    }

    /// Every record so far.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends a record and makes it durable before returning.
    pub fn append(&mut self, entry: Entry) -> Result<()> {
        let record = Record {
            seq: self.records.len() as u64 + 1,
            time: hive::filetime::filetime_now(),
            entry,
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| Error::Invalid(e.to_string()))?;
        line.push(b'\n');
        let path = self.dir.join(JOURNAL_FILE);
        self.file.write_all(&line).map_err(io(&path))?;
        self.file.sync_all().map_err(io(&path))?;
        let seq = record.seq;
        self.records.push(record);
        failpoint(seq);
        Ok(())
    }
}

/// Creates a folder readable by SYSTEM and Administrators only and makes its entry
/// durable in its parent.
pub fn create_private_dir(private: &dyn PrivateFiles, dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).map_err(io(dir))?;
    private.make_private(dir).map_err(io(dir))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates a new, empty file readable by SYSTEM and Administrators only (protected
/// before anything is written to it) and makes its entry durable.
pub fn create_private_file(private: &dyn PrivateFiles, path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    private.make_private(path).map_err(io(path))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(file)
}

/// Makes a directory's entries durable (no-op where directories cannot be opened).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::record::*;
    use super::*;

    #[derive(Debug)]
    struct Open;
    impl PrivateFiles for Open {
        fn make_private(&self, _: &Path) -> std::io::Result<()> {
            Ok(())
        }
        fn check_private(&self, _: &Path) -> std::result::Result<(), String> {
            Ok(())
        }
    }

    fn undone(step: StepId) -> Entry {
        Entry::Undone { step }
    }

    #[test]
    fn records_survive_reopen_and_torn_tails_are_cut_only_when_appending() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join("m1");
        let mut j = Journal::create(&jdir, &Open).unwrap();
        j.append(undone(StepId::Account)).unwrap();
        j.append(undone(StepId::Tree)).unwrap();
        drop(j);
        let path = jdir.join(JOURNAL_FILE);
        let good = std::fs::read(&path).unwrap();
        // A whole record but for its newline: not complete, so cut.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":3,"time":1,"phase":"undone","step":"groups"}"#)
            .unwrap();
        drop(f);
        let read = Journal::read(&jdir).unwrap();
        assert_eq!(read.records.len(), 2);
        assert!(read.torn_bytes > 0);
        assert_ne!(
            std::fs::read(&path).unwrap(),
            good,
            "reading changes nothing"
        );

        let mut j = Journal::open(&jdir).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), good, "the torn tail is cut");
        j.append(undone(StepId::Groups)).unwrap();
        let j = Journal::open(&jdir).unwrap();
        assert_eq!(j.records().len(), 3);
        assert_eq!(j.records()[2].seq, 3);
        assert!(Journal::create(&jdir, &Open).is_err(), "never overwrite");
    }

    #[test]
    fn edited_journals_are_refused_with_the_line_and_offset() {
        let path = Path::new("j");
        let line =
            |seq: u64| format!(r#"{{"seq":{seq},"time":1,"phase":"undone","step":"tree"}}"#) + "\n";
        let ok = line(1) + &line(2);
        assert_eq!(parse(path, ok.as_bytes()).unwrap().records.len(), 2);
        let gap = line(1) + &line(3);
        let e = parse(path, gap.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("sequence"), "{e}");
        let garbage = line(1) + "{\"seq\":2,\"phase\":\"x\u{e9}\"}\n" + &line(3);
        let e = parse(path, garbage.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("byte offset"), "{e}");
        // An empty journal, or one whose only line is torn, has no records.
        assert!(parse(path, b"").unwrap().records.is_empty());
        let torn = parse(path, b"{\"seq\":1,").unwrap();
        assert!(torn.records.is_empty() && torn.torn_bytes == 9);
        // A sized but unwritten last line reads as NULs: torn.
        let mut nul = line(1).into_bytes();
        nul.extend_from_slice(&[0u8; 20]);
        nul.push(b'\n');
        let read = parse(path, &nul).unwrap();
        assert_eq!((read.records.len(), read.torn_bytes), (1, 21));
    }
}
