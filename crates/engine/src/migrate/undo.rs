//! Undoing migrations: rolling back one that did not commit (`recover`, or a failed
//! run), and reverting a committed one (`revert`). Both are journaled in the
//! migration's own journal (undo begin, per step the way it is undone and that it was,
//! undo end), so a killed undo is finished by the next `recover` the same way; and
//! every step's undo is idempotent. Nothing changes before every backup and the
//! descriptor log are checked.

use std::path::PathBuf;

use serde::Serialize;

use super::steps::{STEPS, Step, Trace, UndoContext};
use super::store;
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost};
use crate::journal::record::{Begin, Done, Entry, Intent, Record, StepId, UndoHow, UndoKind};
use crate::journal::{BACKUP_DIR, Journal};

/// Where a journal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No usable first record yet: the run died before it started changing things.
    Empty,
    /// Steps ran, no commit: an interrupted (or failed) migration.
    Unfinished,
    Committed,
    RollingBack,
    RolledBack,
    Reverting,
    Reverted,
    /// Had no usable first record and was closed: nothing had happened.
    Abandoned,
}

impl Status {
    /// Nothing left to do for `recover`.
    pub fn finished(self) -> bool {
        matches!(
            self,
            Status::Committed | Status::RolledBack | Status::Reverted | Status::Abandoned
        )
    }

    fn of(records: &[Record]) -> Status {
        let mut status = Status::Empty;
        for r in records {
            status = match (&r.entry, status) {
                (Entry::Abandoned { .. }, _) => Status::Abandoned,
                (Entry::Begin(_), _) => Status::Unfinished,
                (Entry::Commit(_), _) => Status::Committed,
                (Entry::UndoBegin { kind }, _) | (Entry::UndoEnd { kind }, _) => {
                    let end = matches!(r.entry, Entry::UndoEnd { .. });
                    match (kind, end) {
                        (UndoKind::Rollback, false) => Status::RollingBack,
                        (UndoKind::Rollback, true) => Status::RolledBack,
                        (UndoKind::Revert, false) => Status::Reverting,
                        (UndoKind::Revert, true) => Status::Reverted,
                    }
                }
                (_, s) => s,
            };
        }
        status
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Empty => "empty (interrupted before it started)",
            Status::Unfinished => "unfinished",
            Status::Committed => "committed",
            Status::RollingBack => "rolling back (interrupted)",
            Status::RolledBack => "rolled back",
            Status::Reverting => "reverting (interrupted)",
            Status::Reverted => "reverted",
            Status::Abandoned => "abandoned (nothing had happened)",
        })
    }
}

/// A migration journal found on the volume.
#[derive(Debug, Clone, Serialize)]
pub struct Unfinished {
    pub id: String,
    pub dir: PathBuf,
    pub status: Status,
    pub finished: bool,
    pub old_sid: Option<String>,
    pub new_sid: Option<String>,
    pub account: Option<String>,
    /// Why the journal cannot be used, when it cannot (edited, unreadable).
    pub refused: Option<String>,
}

fn begin_of(records: &[Record]) -> Option<&Begin> {
    match records.first().map(|r| &r.entry) {
        Some(Entry::Begin(b)) => Some(b),
        _ => None,
    }
}

fn new_sid_of(records: &[Record]) -> Option<ntsec::Sid> {
    records.iter().find_map(|r| match &r.entry {
        Entry::Done(Done::Account(d)) => Some(d.sid.clone()),
        Entry::Intent(Intent::Groups(i)) => Some(i.sid.clone()),
        Entry::Intent(Intent::Tree(i)) => Some(i.new_sid.clone()),
        Entry::Commit(c) => Some(c.new_sid.clone()),
        _ => None,
    })
}

/// Every journal on the volume, oldest first. Reads only.
pub fn find_journals(host: &dyn MigrationHost) -> Result<Vec<Unfinished>> {
    let dir = store::migrations_dir(host)?;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if !path.join(crate::journal::JOURNAL_FILE).is_file() {
            continue;
        }
        let id = e.file_name().to_string_lossy().into_owned();
        match Journal::read(&path) {
            Ok(read) => {
                let records = read.records;
                let begin = begin_of(&records);
                let status = Status::of(&records);
                let commit = records.iter().find_map(|r| match &r.entry {
                    Entry::Commit(c) => Some(c.account.clone()),
                    _ => None,
                });
                found.push(Unfinished {
                    id,
                    dir: path,
                    status,
                    finished: status.finished(),
                    old_sid: begin.map(|b| b.old_sid.to_string()),
                    new_sid: new_sid_of(&records).map(|s| s.to_string()),
                    account: commit.or_else(|| begin.map(|b| b.to.clone())),
                    refused: None,
                });
            }
            Err(e) => found.push(Unfinished {
                id,
                dir: path,
                status: Status::Unfinished,
                finished: false,
                old_sid: None,
                new_sid: None,
                account: None,
                refused: Some(e.to_string()),
            }),
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Finishes every unfinished journal on the volume under the volume lock: rolls back
/// interrupted migrations and rollbacks, finishes interrupted reverts, closes journals
/// that never started. Returns what it did.
pub fn recover(host: &mut dyn MigrationHost) -> Result<Vec<Unfinished>> {
    let _lock = store::lock_volume(host, "recover")?;
    let mut done = Vec::new();
    let journals = find_journals(host)?;
    // Backups of journals whose undo finished have no further use (an undo killed
    // after its last record left them).
    for j in journals.iter().filter(|j| {
        matches!(
            j.status,
            Status::RolledBack | Status::Reverted | Status::Abandoned
        )
    }) {
        let backups = j.dir.join(BACKUP_DIR);
        if backups.exists() {
            let _ = std::fs::remove_dir_all(&backups);
        }
    }
    for j in journals.iter().filter(|j| j.status == Status::Committed) {
        release_pending_block(host, j)?;
    }
    for j in journals.into_iter().filter(|j| !j.finished) {
        if let Some(why) = &j.refused {
            return Err(Error::Journal(why.clone()));
        }
        if j.status == Status::Empty {
            // Nothing happened, nothing will be restored from it: a cut between its
            // creation and its descriptor is mended instead of refused.
            for p in [j.dir.clone(), j.dir.join(crate::journal::JOURNAL_FILE)] {
                host.make_private(&p).map_err(Error::io(&p))?;
            }
        } else {
            store::check_journal_private(host, &j.dir)?;
        }
        let mut journal = Journal::open(&j.dir)?;
        let status = match j.status {
            Status::Empty => {
                close_empty(host, &mut journal)?;
                Status::Abandoned
            }
            Status::Reverting => {
                undo(host, &mut journal, UndoKind::Revert)?;
                Status::Reverted
            }
            _ => {
                undo(host, &mut journal, UndoKind::Rollback)?;
                Status::RolledBack
            }
        };
        done.push(Unfinished {
            status,
            finished: true,
            ..j
        });
    }
    Ok(done)
}

/// A committed migration killed before it lifted `--block-logon`: lift it now (the
/// live system only; offline the block is in a registry admu does not edit).
fn release_pending_block(host: &mut dyn MigrationHost, j: &Unfinished) -> Result<()> {
    let records = Journal::read(&j.dir)?.records;
    let block = super::steps::trace_of(&records, StepId::BlockLogon);
    let released = records.iter().any(|r| {
        matches!(
            &r.entry,
            Entry::After {
                action: crate::journal::record::AfterAction::ReleaseLogon,
                ok: true,
                ..
            }
        )
    });
    if !block.started() || released {
        return Ok(());
    }
    let Some(live) = host.live() else {
        tracing::warn!(
            "migration {} blocked the old account's logon on the live system; run `admu \
             recover` there to lift it",
            j.id
        );
        return Ok(());
    };
    super::steps::block_logon::release(live, &block)?;
    store::check_journal_private(host, &j.dir)?;
    let mut journal = Journal::open(&j.dir)?;
    journal.append(Entry::After {
        action: crate::journal::record::AfterAction::ReleaseLogon,
        ok: true,
        detail: "lifted by recover".into(),
    })
}

/// A journal without a usable first record: the run died before its begin record was
/// durable, so no step ran. Closed after checking that no backup was taken.
fn close_empty(host: &dyn MigrationHost, journal: &mut Journal) -> Result<()> {
    let backups = journal.dir().join(BACKUP_DIR);
    let any = std::fs::read_dir(&backups)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if any {
        return Err(Error::Journal(format!(
            "{}: the journal has no begin record but {} holds backups: something happened \
             that the journal does not say. Nothing was changed; inspect it by hand",
            journal.dir().display(),
            backups.display()
        )));
    }
    let _ = host;
    journal.append(Entry::Abandoned {
        reason: "no usable first record and no backups: the run stopped before any change".into(),
    })
}

/// Undoes a committed migration of the account named `name` or with SID `sid`, under
/// the volume lock.
pub fn revert(host: &mut dyn MigrationHost, who: &str) -> Result<Unfinished> {
    let _lock = store::lock_volume(host, "revert")?;
    let found = find_revertible(host, who)?;
    store::check_journal_private(host, &found.dir)?;
    let mut journal = Journal::open(&found.dir)?;
    revert_preflight(host, &journal)?;
    undo(host, &mut journal, UndoKind::Revert)?;
    Ok(Unfinished {
        status: Status::Reverted,
        finished: true,
        ..found
    })
}

/// The committed migration `who` (account name or new SID) names.
pub fn find_revertible(host: &dyn MigrationHost, who: &str) -> Result<Unfinished> {
    let wanted = who.trim();
    let journals = find_journals(host)?;
    if let Some(refused) = journals.iter().find_map(|j| j.refused.as_ref()) {
        // An edited journal may be the one asked for: say so instead of guessing.
        return Err(Error::Journal(refused.clone()));
    }
    let candidates: Vec<Unfinished> = journals
        .into_iter()
        .filter(|j| {
            j.account
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(wanted))
                || j.new_sid
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
        })
        .collect();
    if let Some(j) = candidates
        .iter()
        .rev()
        .find(|j| j.status == Status::Committed)
    {
        return Ok(j.clone());
    }
    let why = match candidates.last() {
        Some(j) if j.status == Status::Reverting => format!(
            "its revert {} was interrupted: run `admu recover` to finish it",
            j.id
        ),
        Some(j) => format!("its migration {} is {}", j.id, j.status),
        None => "admu has not migrated a profile to it on this volume".to_string(),
    };
    Err(Error::NotFound(format!(
        "nothing to revert for {wanted:?}: {why}"
    )))
}

/// Checks made before a revert changes anything.
fn revert_preflight(host: &dyn MigrationHost, journal: &Journal) -> Result<()> {
    let records = journal.records();
    let begin = begin_of(records)
        .ok_or_else(|| Error::Journal(format!("{}: no begin record", journal.dir().display())))?;
    let root = super::volume_root(host)?;
    let mut problems = Vec::new();
    if let Some(new) = new_sid_of(records) {
        let refcount = super::preflight::profile_refcount(host, &new.to_string())?;
        if refcount != 0 {
            problems.push(format!(
                "the profile is loaded (ProfileList\\{new} RefCount {refcount}): log the user \
                 off or reboot first"
            ));
        }
    }
    for rel in [&begin.ntuser, &begin.usrclass] {
        let file = super::absolute(&root, rel)?;
        match hive::Hive::open(&file) {
            Ok(h) if h.on_disk().flags & 1 != 0 => problems.push(format!(
                "{}: KTM transactions are pending; let Windows load the profile once",
                file.display()
            )),
            Ok(h) if !h.check().is_ok() => {
                problems.push(format!(
                    "{}: the hive has structural errors",
                    file.display()
                ));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", file.display())),
        }
    }
    let need: u64 = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Intent(i) => i.backup(),
            _ => None,
        })
        .flat_map(|b| b.files.iter().map(|f| f.len))
        .sum::<u64>()
        + (16 << 20);
    match host.free_space() {
        Ok(free) if free < need => problems.push(format!(
            "{} MiB free, {} MiB needed to put the backups back",
            free >> 20,
            need >> 20
        )),
        Ok(_) => {}
        Err(e) => problems.push(e.to_string()),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "revert refused, nothing was changed: {}",
            problems.join("; ")
        )))
    }
}

/// Rolls back a migration that did not commit (a failed run, holding the lock).
pub(crate) fn rollback(host: &mut dyn MigrationHost, journal: &mut Journal) -> Result<()> {
    undo(host, journal, UndoKind::Rollback)
}

/// The records of one step.
fn trace(records: &[Record], step: StepId) -> (Trace<'_>, Option<UndoHow>, bool) {
    let mut t = Trace::default();
    let mut how = None;
    let mut undone = false;
    for r in records {
        match &r.entry {
            Entry::Intent(i) if i.step() == step => t.intent = Some(i),
            Entry::Done(d) if d.step() == step => t.done = Some(d),
            Entry::UndoIntent { step: s, how: h } if *s == step => how = Some(*h),
            Entry::Undone { step: s } if *s == step => undone = true,
            _ => {}
        }
    }
    (t, how, undone)
}

/// Undoes every step the journal shows as started, last first, journaling each.
fn undo(host: &mut dyn MigrationHost, journal: &mut Journal, kind: UndoKind) -> Result<()> {
    let records: Vec<Record> = journal.records().to_vec();
    let begin = begin_of(&records).cloned().ok_or_else(|| {
        Error::Journal(format!(
            "{}: the journal has no begin record",
            journal.dir().display()
        ))
    })?;
    let root = super::volume_root(host)?;
    let mut cx = UndoContext {
        host,
        begin: &begin,
        root,
        backups: journal.backup_dir(),
        new_sid: new_sid_of(&records),
    };
    let started: Vec<(&dyn Step, Trace<'_>, Option<UndoHow>, bool)> = STEPS
        .iter()
        .rev()
        .map(|s| {
            let (t, how, undone) = trace(&records, s.id());
            (*s, t, how, undone)
        })
        .filter(|(_, t, _, undone)| t.started() && !undone)
        .collect();
    // Everything an undo would use is checked before the first change.
    for (step, t, _, _) in &started {
        step.verify(&cx, t)?;
    }
    let already = records
        .iter()
        .any(|r| matches!(&r.entry, Entry::UndoBegin { kind: k } if *k == kind));
    if !already {
        journal.append(Entry::UndoBegin { kind })?;
    }
    let mut touched = Vec::new();
    for (step, t, how, _) in &started {
        let how = match how {
            Some(h) => *h,
            None => {
                let h = step.undo_how(&cx, t)?;
                journal.append(Entry::UndoIntent {
                    step: step.id(),
                    how: h,
                })?;
                h
            }
        };
        tracing::info!(step = %step.id(), ?how, "undoing");
        step.undo(&mut cx, t, how)?;
        touched.extend(step.touched_files(&cx, t));
        journal.append(Entry::Undone { step: step.id() })?;
    }
    for which in [MachineHive::Sam, MachineHive::Software] {
        cx.host.forget_cached(which);
    }
    for file in &touched {
        store::remove_stale_temps(file);
    }
    journal.append(Entry::UndoEnd { kind })?;
    // The machine is as before: the backups (copies of the SAM and the user's hives)
    // have no further use.
    let backups = journal.backup_dir();
    if let Err(e) = std::fs::remove_dir_all(&backups) {
        tracing::warn!("cannot remove {}: {e}", backups.display());
    }
    Ok(())
}
