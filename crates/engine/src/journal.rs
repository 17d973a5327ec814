//! The migration journal: an append-only file of JSON lines under the volume's
//! `ProgramData\admu\migrations\<id>\`, each line fsynced before the step it announces
//! starts ("intent") and after it finished ("done"). After a crash the journal says
//! exactly which steps ran, and the backups beside it hold what is needed to undo them.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where migrations are journaled, relative to the volume root.
pub const MIGRATIONS_DIR: &str = r"ProgramData\admu\migrations";
const JOURNAL_FILE: &str = "journal.jsonl";
const BACKUP_DIR: &str = "backup";

/// Whether a step is about to run or has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Intent,
    Done,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// FILETIME when it was written.
    pub time: u64,
    pub step: String,
    pub phase: Phase,
    /// Step-specific facts (what was changed, where the backup is).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    records: Vec<Record>,
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

impl Journal {
    /// Starts a new journal in `dir` (created; must not exist yet).
    pub fn create(dir: &Path) -> Result<Journal> {
        if dir.exists() {
            return Err(Error::Invalid(format!(
                "journal {} already exists",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join(BACKUP_DIR)).map_err(io(dir))?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            records: Vec::new(),
        })
    }

    /// Opens an existing journal for recovery or revert. A torn last line (the process
    /// died while writing it) is dropped: its step never started.
    pub fn open(dir: &Path) -> Result<Journal> {
        let path = dir.join(JOURNAL_FILE);
        let reader = BufReader::new(File::open(&path).map_err(io(&path))?);
        let mut records = Vec::new();
        let mut good_len = 0u64;
        for line in reader.split(b'\n') {
            let line = line.map_err(io(&path))?;
            match serde_json::from_slice::<Record>(&line) {
                Ok(r) => {
                    good_len += line.len() as u64 + 1;
                    records.push(r);
                }
                Err(_) => break,
            }
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if file.metadata().map_err(io(&path))?.len() != good_len {
            file.set_len(good_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            records,
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
    pub fn append(&mut self, step: &str, phase: Phase, detail: serde_json::Value) -> Result<()> {
        let record = Record {
            seq: self.records.len() as u64 + 1,
            time: hive::edit::filetime_now(),
            step: step.to_string(),
            phase,
            detail,
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

    /// The last record of a step, if any.
    pub fn last_of(&self, step: &str) -> Option<&Record> {
        self.records.iter().rev().find(|r| r.step == step)
    }

    /// True when `step` has a `done` record.
    pub fn is_done(&self, step: &str) -> bool {
        self.records
            .iter()
            .any(|r| r.step == step && r.phase == Phase::Done)
    }
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

/// Copies a file durably (data and directory entry), for backups.
pub fn durable_copy(from: &Path, to: &Path) -> Result<u64> {
    let n = std::fs::copy(from, to).map_err(io(from))?;
    File::open(to).and_then(|f| f.sync_all()).map_err(io(to))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_torn_lines_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join("m1");
        let mut j = Journal::create(&jdir).unwrap();
        j.append(
            "account",
            Phase::Intent,
            serde_json::json!({"name": "alice"}),
        )
        .unwrap();
        j.append("account", Phase::Done, serde_json::json!({"rid": 1001}))
            .unwrap();
        drop(j);
        // A half-written third line, as a crash mid-write leaves it.
        let path = jdir.join(JOURNAL_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":3,\"time\":1,\"st").unwrap();
        drop(f);

        let mut j = Journal::open(&jdir).unwrap();
        assert_eq!(j.records().len(), 2);
        assert!(j.is_done("account"));
        assert_eq!(j.last_of("account").unwrap().detail["rid"], 1001);
        j.append("hives", Phase::Intent, serde_json::Value::Null)
            .unwrap();
        let j = Journal::open(&jdir).unwrap();
        assert_eq!(j.records().len(), 3);
        assert_eq!(j.records()[2].seq, 3);
        assert!(Journal::create(&jdir).is_err(), "never overwrite a journal");
    }
}
