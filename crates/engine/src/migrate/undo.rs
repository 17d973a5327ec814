//! Undoing migrations: rolling back an interrupted or failed one (`recover`) and
//! reverting a completed one (`revert`). Both replay the journal backwards.
//!
//! A file that admu changed is put back from its backup when it still holds exactly
//! what admu wrote (the journal keeps its hash); when Windows has used it since (a
//! revert after the user logged on), the change is undone logically instead: the SID
//! mapped back, the registry edits inverted, the account deleted.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use ntsec::{Mode, Sid, SidMap, TreeOptions};
use serde::Serialize;

use super::files::{hash_file, restore_file};
use super::run::{ACL_LOG, step, volume_root};
use crate::convert::{Conversion, UserHive, convert_user_hive};
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost, RegEdit};
use crate::journal::{Journal, Phase, Record};

/// A migration journal found on the volume.
#[derive(Debug, Clone, Serialize)]
pub struct Unfinished {
    pub id: String,
    pub dir: PathBuf,
    /// committed, rolled back, reverted, or unfinished.
    pub status: String,
    pub finished: bool,
    pub old_sid: Option<String>,
    pub new_sid: Option<String>,
    pub account: Option<String>,
}

fn status_of(j: &Journal) -> &'static str {
    let last_terminal = j.records().iter().rev().find(|r| {
        matches!(
            r.step.as_str(),
            step::COMMIT | step::ROLLBACK | step::REVERT
        ) && r.phase == Phase::Done
    });
    match last_terminal.map(|r| r.step.as_str()) {
        Some(step::COMMIT) => "committed",
        Some(step::ROLLBACK) => "rolled back",
        Some(step::REVERT) => "reverted",
        _ => "unfinished",
    }
}

/// Every journal on the volume, oldest first.
pub fn find_journals(host: &dyn MigrationHost) -> Result<Vec<Unfinished>> {
    let Some(program_data) = host.volume_root_path("ProgramData") else {
        return Ok(Vec::new());
    };
    let dir = program_data.join("admu").join("migrations");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if !path.join("journal.jsonl").is_file() {
            continue;
        }
        let j = Journal::open(&path)?;
        let begin = j.records().first();
        let account_done = j.last_of(step::ACCOUNT).filter(|r| r.phase == Phase::Done);
        let commit = j.last_of(step::COMMIT);
        let status = status_of(&j);
        found.push(Unfinished {
            id: e.file_name().to_string_lossy().into_owned(),
            dir: path,
            status: status.to_string(),
            finished: status != "unfinished",
            old_sid: begin.and_then(|r| r.detail["old_sid"].as_str().map(String::from)),
            new_sid: commit
                .and_then(|r| r.detail["new_sid"].as_str().map(String::from))
                .or_else(|| account_done.and_then(|r| r.detail["sid"].as_str().map(String::from))),
            account: commit
                .and_then(|r| r.detail["account"].as_str().map(String::from))
                .or_else(|| begin.and_then(|r| r.detail["to"].as_str().map(String::from))),
        });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Rolls back every unfinished migration on the volume; returns what it rolled back.
pub fn recover<H: MigrationHost>(host: &mut H) -> Result<Vec<Unfinished>> {
    let mut done = Vec::new();
    for j in find_journals(host)?.into_iter().filter(|j| !j.finished) {
        let mut journal = Journal::open(&j.dir)?;
        rollback(host, &mut journal)?;
        done.push(j);
    }
    Ok(done)
}

/// Undoes a committed migration of the account named `name` or with SID `sid`.
pub fn revert<H: MigrationHost>(host: &mut H, who: &str) -> Result<Unfinished> {
    let wanted = who.trim();
    let candidates: Vec<Unfinished> = find_journals(host)?
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
    let Some(found) = candidates
        .iter()
        .rev()
        .find(|j| j.status == "committed")
        .cloned()
    else {
        let why = match candidates.last() {
            Some(j) => format!("its migration {} is {}", j.id, j.status),
            None => "admu has not migrated a profile to it on this volume".to_string(),
        };
        return Err(Error::NotFound(format!(
            "nothing to revert for {wanted:?}: {why}"
        )));
    };
    let mut journal = Journal::open(&found.dir)?;
    undo(host, &mut journal, true)?;
    journal.append(step::REVERT, Phase::Done, serde_json::Value::Null)?;
    let _ = std::fs::remove_dir_all(journal.backup_dir());
    Ok(Unfinished {
        status: "reverted".into(),
        ..found
    })
}

/// Rolls back a migration that did not commit, and records that it did.
pub(crate) fn rollback(host: &mut dyn MigrationHost, journal: &mut Journal) -> Result<()> {
    undo(host, journal, false)?;
    journal.append(step::ROLLBACK, Phase::Done, serde_json::Value::Null)
}

/// Undoes every step the journal shows as started, last first.
fn undo(host: &mut dyn MigrationHost, journal: &mut Journal, after_commit: bool) -> Result<()> {
    let records: Vec<Record> = journal.records().to_vec();
    let begin = records
        .first()
        .filter(|r| r.step == step::BEGIN)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{}: journal has no begin record",
                journal.dir().display()
            ))
        })?;
    let old_sid: Sid = parse_sid(&begin.detail["old_sid"])?;
    let new_sid: Option<Sid> = records
        .iter()
        .find(|r| r.step == step::ACCOUNT && r.phase == Phase::Done)
        .map(|r| parse_sid(&r.detail["sid"]))
        .transpose()?
        .or_else(|| {
            records
                .iter()
                .find(|r| r.step == step::ALIAS)
                .and_then(|r| parse_sid(&r.detail["sid"]).ok())
        })
        .or_else(|| {
            records
                .iter()
                .find(|r| r.step == step::COMMIT)
                .and_then(|r| parse_sid(&r.detail["new_sid"]).ok())
        });
    let root = volume_root(host)?;
    let backups = journal.backup_dir();
    let started = |name: &str| records.iter().any(|r| r.step == name);
    let done = |name: &str| {
        records
            .iter()
            .rev()
            .find(|r| r.step == name && r.phase == Phase::Done)
    };
    let _ = after_commit;

    let software_steps = [step::LOGON_UI, step::PROFILE_LIST];
    for (i, name) in software_steps.into_iter().enumerate() {
        if !started(name) {
            continue;
        }
        // Already undone (an earlier recovery got this far): SOFTWARE is as it was
        // before this step or before an earlier one. Undoing again would re-apply the
        // inverse edits to a hive that no longer has what they undo.
        if let Some(file) = host.machine_hive_file(MachineHive::Software)
            && software_steps[i..]
                .iter()
                .any(|s| started(s) && matches_backup(&backups.join(s), &file))
        {
            continue;
        }
        let intent = records
            .iter()
            .find(|r| r.step == name && r.phase == Phase::Intent)
            .ok_or_else(|| Error::Invalid(format!("{name}: no intent record")))?;
        let expected =
            done(name).and_then(|r| r.detail["software_hash"].as_str().map(String::from));
        let backup = backups.join(name).join(MachineHive::Software.file_name());
        undo_machine_file(
            host,
            MachineHive::Software,
            &backup,
            expected.as_deref(),
            || {
                serde_json::from_value::<Vec<RegEdit>>(intent.detail["inverse"].clone())
                    .map_err(|e| Error::Invalid(format!("{name}: unreadable inverse edits: {e}")))
            },
        )?;
    }

    if started(step::TREE) {
        let intent = records
            .iter()
            .find(|r| r.step == step::TREE && r.phase == Phase::Intent)
            .ok_or_else(|| Error::Invalid("tree: no intent record".into()))?;
        let folder = root.join(
            intent.detail["folder"]
                .as_str()
                .unwrap_or_default()
                .replace('\\', "/"),
        );
        let sid_is_new = intent.detail["sid_is_new"].as_bool().unwrap_or(false);
        let mode: Mode =
            serde_json::from_value(begin.detail["acl_mode"].clone()).unwrap_or(Mode::Replace);
        undo_tree(
            host,
            &root,
            &backups.join(ACL_LOG),
            &folder,
            &old_sid,
            new_sid.as_ref(),
            sid_is_new,
            mode,
        )?;
    }

    for (name, which) in [
        (step::USRCLASS, UserHive::UsrClass),
        (step::NTUSER, UserHive::NtUser),
    ] {
        if !started(name) {
            continue;
        }
        let file_rel = begin.detail[name]
            .as_str()
            .unwrap_or_default()
            .replace('\\', "/");
        let file = root.join(file_rel);
        if matches_backup(&backups.join(name), &file) {
            continue; // never changed, or already restored
        }
        let expected = done(name).and_then(|r| r.detail["hash"].as_str().map(String::from));
        let current = hash_file(&file).ok();
        let untouched_since = expected.is_none() || current == expected;
        if untouched_since {
            restore_hive_with_logs(host, &backups.join(name), &file)?;
        } else if let Some(new) = &new_sid {
            // Windows used the hive since: map the SID back instead.
            tracing::warn!(
                "{} changed since the migration; undoing the SID change logically",
                file.display()
            );
            let mut hive = hive::Hive::open(&file).map_err(|source| Error::Hive {
                path: file.clone(),
                source,
            })?;
            let extra: SidMap =
                serde_json::from_value(begin.detail["extra_map"].clone()).unwrap_or_default();
            let inverse_extra = extra.inverse().unwrap_or_default();
            convert_user_hive(
                &mut hive,
                which,
                &Conversion {
                    old: new.clone(),
                    new: old_sid.clone(),
                    extra: inverse_extra,
                    mode: Mode::Replace,
                    marker: None,
                },
            )?;
            if let Some(k) = hive
                .key(crate::convert::MARKER_KEY)
                .map_err(|source| Error::Hive {
                    path: file.clone(),
                    source,
                })?
            {
                let off = k.offset();
                hive.delete_key(off).map_err(|source| Error::Hive {
                    path: file.clone(),
                    source,
                })?;
            }
            let keep = |tmp: &Path, target: &Path| host.copy_metadata(target, tmp);
            hive.save_with(hive::SaveOptions {
                before_rename: Some(&keep),
                ..hive::SaveOptions::default()
            })
            .map_err(|source| Error::Hive {
                path: file.clone(),
                source,
            })?;
        }
    }

    if started(step::ACCOUNT) || started(step::ALIAS) {
        let last_sam_hash = records
            .iter()
            .rev()
            .filter(|r| {
                matches!(r.step.as_str(), step::ACCOUNT | step::ALIAS) && r.phase == Phase::Done
            })
            .find_map(|r| r.detail["sam_hash"].as_str().map(String::from));
        let backup = backups.join("sam").join(MachineHive::Sam.file_name());
        let created_rid = done(step::ACCOUNT)
            .and_then(|r| r.detail["rid"].as_u64())
            .map(|r| r as u32);
        let aliases: Vec<u32> = records
            .iter()
            .filter(|r| r.step == step::ALIAS && r.phase == Phase::Intent)
            .filter_map(|r| r.detail["alias"].as_u64().map(|a| a as u32))
            .collect();
        let restored = match (host.machine_hive_file(MachineHive::Sam), backup.is_file()) {
            (Some(file), true) => {
                let current = hash_file(&file).ok();
                if matches_backup(&backups.join("sam"), &file) {
                    true // never changed, or already restored
                } else if last_sam_hash.is_none() || current == last_sam_hash {
                    restore_hive_with_logs(host, &backups.join("sam"), &file)?;
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
        if !restored {
            if let Some(sid) = &new_sid {
                for alias in aliases.iter().rev() {
                    host.remove_alias_member(*alias, sid)?;
                }
            }
            if let Some(rid) = created_rid {
                host.delete_user(rid)?;
            } else if started(step::ACCOUNT)
                && let Some(name) = begin.detail["to"].as_str()
                && let Some(u) = host
                    .users()?
                    .into_iter()
                    .find(|u| u.name.eq_ignore_ascii_case(name))
                && !begin.detail["to_existing"].as_bool().unwrap_or(false)
            {
                // Created, but the process died before journaling it.
                host.delete_user(u.rid)?;
            }
        }
    }
    Ok(())
}

fn parse_sid(v: &serde_json::Value) -> Result<Sid> {
    v.as_str()
        .ok_or_else(|| Error::Invalid("journal lacks a SID".into()))?
        .parse()
        .map_err(|e| Error::Invalid(format!("journal SID: {e}")))
}

/// Restores a machine hive from its backup when it still holds what admu wrote, else
/// applies the logical inverse.
fn undo_machine_file(
    host: &mut dyn MigrationHost,
    which: MachineHive,
    backup: &Path,
    expected_hash: Option<&str>,
    inverse: impl FnOnce() -> Result<Vec<RegEdit>>,
) -> Result<()> {
    if let Some(file) = host.machine_hive_file(which)
        && backup.is_file()
    {
        let current = hash_file(&file).ok();
        if expected_hash.is_none() || current.as_deref() == expected_hash {
            let dir = backup.parent().map(Path::to_path_buf).unwrap_or_default();
            restore_hive_with_logs(host, &dir, &file)?;
            return Ok(());
        }
    }
    let edits = inverse()?;
    host.apply(which, &edits)
}

/// True when a hive and the logs beside it hold exactly what the backup folder made by
/// `backup_hive` holds: the change the backup was taken for is not (or no longer) there.
/// Lets an undo run again after a crash during recovery without undoing twice.
fn matches_backup(backup_dir: &Path, file: &Path) -> bool {
    let (Some(dir), Ok(entries)) = (file.parent(), std::fs::read_dir(backup_dir)) else {
        return false;
    };
    let primary_name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    let mut primary_seen = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let target = if name.to_uppercase() == primary_name {
            primary_seen = true;
            file.to_path_buf()
        } else {
            dir.join(&name)
        };
        match (std::fs::read(e.path()), std::fs::read(&target)) {
            (Ok(saved), Ok(now)) if saved == now => {}
            _ => return false,
        }
    }
    primary_seen
}

/// Puts a hive and its logs back from a backup folder made by `backup_hive`.
fn restore_hive_with_logs(host: &dyn MigrationHost, backup_dir: &Path, file: &Path) -> Result<()> {
    let dir = file
        .parent()
        .ok_or_else(|| Error::Invalid(format!("{} has no folder", file.display())))?;
    let entries = std::fs::read_dir(backup_dir).map_err(Error::io(backup_dir))?;
    let primary_name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let target = if name.to_uppercase() == primary_name {
            file.to_path_buf()
        } else {
            dir.join(&name)
        };
        restore_file(host, &e.path(), &target)?;
    }
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "the tree undo needs the whole journal context"
)]
fn undo_tree(
    host: &dyn MigrationHost,
    root: &Path,
    log: &Path,
    folder: &Path,
    old_sid: &Sid,
    new_sid: Option<&Sid>,
    sid_is_new: bool,
    mode: Mode,
) -> Result<()> {
    let backend = host
        .file_security()
        .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
    if log.is_file() {
        let file = std::fs::File::open(log).map_err(Error::io(log))?;
        let mut buf = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                break; // a torn last line: its file was not written
            };
            let path = root.join(entry["p"].as_str().unwrap_or_default().replace('\\', "/"));
            let (Some(old), Some(new)) = (unhex(&entry["o"]), unhex(&entry["n"])) else {
                continue;
            };
            if backend.read(&path, &mut buf).is_err() {
                tracing::warn!(path = %path.display(), "cannot read the descriptor to restore it");
                continue;
            }
            if buf == new {
                backend.write(&path, &old).map_err(Error::io(&path))?;
            }
        }
    }
    // Entries lost with the unsynced tail of the log: a brand-new SID names exactly the
    // files admu changed, so mapping it back restores them.
    if sid_is_new && let Some(new) = new_sid {
        let map = SidMap::from_pairs([format!("{new}={old_sid}")])
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let inverse_mode = match mode {
            Mode::Replace => Mode::Replace,
            Mode::Add | Mode::Remove => Mode::Remove,
        };
        let options = TreeOptions {
            mode: inverse_mode,
            ..TreeOptions::new(&map)
        };
        let report = ntsec::translate_tree(folder, backend, &options).map_err(Error::io(folder))?;
        if report.changed > 0 {
            tracing::info!(
                "{} descriptors restored by SID after the log",
                report.changed
            );
        }
    }
    Ok(())
}

fn unhex(v: &serde_json::Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
