//! Running a migration, step by step, journaled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ntsec::{Mode, Sid, SidMap, TreeOptions};
use serde::Serialize;
use serde_json::json;

use super::files::{backup_hive, hash_file};
use super::preflight::{Preflight, preflight};
use super::{MigrateRequest, profile_sid};
use crate::convert::{Conversion, ConversionReport, Marker, UserHive, convert_user_hive};
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost, NewAccount, RegEdit};
use crate::journal::{Journal, MIGRATIONS_DIR, Phase};
use crate::profiles::{LOGON_UI, MIGRATED_SUFFIX, PROFILE_LIST, Profile};

/// Journal step names, in order.
pub(crate) mod step {
    pub const BEGIN: &str = "begin";
    pub const ACCOUNT: &str = "account";
    pub const ALIAS: &str = "alias";
    pub const NTUSER: &str = "ntuser";
    pub const USRCLASS: &str = "usrclass";
    pub const TREE: &str = "tree";
    pub const PROFILE_LIST: &str = "profile_list";
    pub const LOGON_UI: &str = "logon_ui";
    pub const COMMIT: &str = "commit";
    pub const ROLLBACK: &str = "rollback";
    pub const REVERT: &str = "revert";
}

/// The descriptor log of the tree step: one JSON line per rewritten file.
pub(crate) const ACL_LOG: &str = "acl.jsonl";
/// The password tile provider Windows shows for local accounts.
const PASSWORD_PROVIDER: &str = "{60B78E88-EAD8-445C-9CFD-0B87F74EA6CD}";

/// What a completed migration did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub migration_id: String,
    pub journal: PathBuf,
    pub account: String,
    pub account_created: bool,
    pub old_sid: String,
    pub new_sid: String,
    pub profile_path: String,
    pub aliases_added: Vec<u32>,
    pub ntuser: ConversionReport,
    pub usrclass: ConversionReport,
    pub tree: ntsec::TreeReport,
    pub profile_list: Vec<RegEdit>,
    pub logon_ui: Vec<RegEdit>,
}

/// Why a migration did not complete.
#[derive(Debug)]
pub enum MigrateError {
    /// A preflight check failed; nothing was changed.
    Preflight(Box<Preflight>),
    /// Something failed before any change (nothing to roll back).
    Failed(Box<Error>),
    /// A step failed and everything was rolled back.
    RolledBack { error: Box<Error>, journal: PathBuf },
    /// A step failed and the rollback failed too: run `admu recover`.
    NeedsRecover {
        error: Box<Error>,
        rollback: Box<Error>,
        journal: PathBuf,
    },
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Preflight(p) => {
                let failed: Vec<String> = p
                    .failures()
                    .map(|c| format!("{}: {}", c.name, c.reason))
                    .collect();
                write!(
                    f,
                    "preflight failed, nothing was changed: {}",
                    failed.join("; ")
                )
            }
            MigrateError::Failed(e) => write!(f, "{e}"),
            MigrateError::RolledBack { error, journal } => {
                write!(
                    f,
                    "{error}; every change was rolled back (journal {})",
                    journal.display()
                )
            }
            MigrateError::NeedsRecover {
                error,
                rollback,
                journal,
            } => write!(
                f,
                "{error}; the rollback failed too ({rollback}): run `admu recover` (journal {})",
                journal.display()
            ),
        }
    }
}

impl std::error::Error for MigrateError {}

fn detail<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A path relative to the volume root, for the journal (host paths may differ between
/// a crash and the recovery, e.g. another mount point).
pub(crate) fn relative(host_root: &Path, path: &Path) -> String {
    path.strip_prefix(host_root)
        .map(|p| p.to_string_lossy().replace('/', "\\"))
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

/// The migrations folder on the volume, created when missing.
pub(crate) fn migrations_dir(host: &dyn MigrationHost) -> Result<PathBuf> {
    let program_data = host
        .volume_root_path("ProgramData")
        .ok_or_else(|| Error::NotFound("the volume has no root".into()))?;
    let dir = program_data.join("admu").join("migrations");
    let _ = MIGRATIONS_DIR;
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    Ok(dir)
}

/// The volume root as a host path.
pub(crate) fn volume_root(host: &dyn MigrationHost) -> Result<PathBuf> {
    host.volume_root_path("")
        .ok_or_else(|| Error::NotFound("the volume has no root".into()))
}

/// Runs a migration. On failure after the first change it rolls back; the error says
/// whether that worked.
pub fn migrate<H: MigrationHost>(
    host: &mut H,
    req: &MigrateRequest,
) -> std::result::Result<Outcome, MigrateError> {
    let pre = preflight(host, req).map_err(|e| MigrateError::Failed(Box::new(e)))?;
    if !pre.passed() {
        return Err(MigrateError::Preflight(Box::new(pre)));
    }
    let (Some(source), Some(hives)) = (pre.source.clone(), pre.hives.clone()) else {
        return Err(MigrateError::Failed(Box::new(Error::Invalid(
            "preflight found no source profile".into(),
        ))));
    };
    let old_sid = profile_sid(&source).map_err(|e| MigrateError::Failed(Box::new(e)))?;
    let root = volume_root(host).map_err(|e| MigrateError::Failed(Box::new(e)))?;
    let migrations = migrations_dir(host).map_err(|e| MigrateError::Failed(Box::new(e)))?;
    // The id has a one-second stamp: a run retried within the same second (after a
    // rollback) gets a suffix instead of failing on the existing journal.
    let stamp = migration_id(&old_sid);
    let mut id = stamp.clone();
    for n in 2.. {
        if !migrations.join(&id).exists() {
            break;
        }
        id = format!("{stamp}-{n}");
    }
    let dir = migrations.join(&id);
    let mut journal = Journal::create(&dir).map_err(|e| MigrateError::Failed(Box::new(e)))?;
    let begin = json!({
        "id": id,
        "from": req.from,
        "to": req.to,
        "old_sid": old_sid.to_string(),
        "profile_key": source.key,
        "profile_path": source.path,
        "ntuser": relative(&root, &hives.ntuser),
        "usrclass": relative(&root, &hives.usrclass),
        "profile_folder": source.host_path.as_ref().map(|p| relative(&root, p)),
        "to_existing": req.to_existing,
        "acl_mode": req.acl_mode,
        "extra_map": req.extra_map,
        "admu_version": env!("CARGO_PKG_VERSION"),
    });
    journal
        .append(step::BEGIN, Phase::Intent, begin)
        .map_err(|e| MigrateError::Failed(Box::new(e)))?;
    tracing::info!(migration = %id, "migration journal at {}", dir.display());

    match run_steps(
        host,
        req,
        &pre,
        &source,
        &hives,
        &old_sid,
        &root,
        &mut journal,
        &id,
    ) {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            tracing::error!("{error}; rolling back");
            match super::undo::rollback(host, &mut journal) {
                Ok(()) => Err(MigrateError::RolledBack {
                    error: Box::new(error),
                    journal: dir,
                }),
                Err(rollback) => Err(MigrateError::NeedsRecover {
                    error: Box::new(error),
                    rollback: Box::new(rollback),
                    journal: dir,
                }),
            }
        }
    }
}

fn migration_id(old: &Sid) -> String {
    let now = hive::export::filetime_to_rfc3339(hive::edit::filetime_now());
    let stamp: String = now
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    format!("{stamp}-{}", old.rid().unwrap_or(0))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the steps share this state"
)]
fn run_steps<H: MigrationHost>(
    host: &mut H,
    req: &MigrateRequest,
    pre: &Preflight,
    source: &Profile,
    hives: &super::HivePaths,
    old_sid: &Sid,
    root: &Path,
    journal: &mut Journal,
    id: &str,
) -> Result<Outcome> {
    // 2. The local account.
    let (account, created) = match &pre.existing {
        Some(u) => (u.clone(), false),
        None => {
            let backup = backup_machine_hive(host, journal, MachineHive::Sam, "sam")?;
            journal.append(
                step::ACCOUNT,
                Phase::Intent,
                json!({"name": req.to, "backup": backup}),
            )?;
            let password = req
                .password
                .as_ref()
                .ok_or_else(|| Error::Invalid("no password for the new account".into()))?;
            let comment = format!("Migrated by admu from {}", source.account);
            let user = host.create_user(&NewAccount {
                name: &req.to,
                full_name: "",
                comment: &comment,
                password: password.expose(),
                admin: req.admin,
            })?;
            let hash = machine_hive_hash(host, MachineHive::Sam)?;
            journal.append(
                step::ACCOUNT,
                Phase::Done,
                json!({"rid": user.rid, "sid": user.sid.to_string(), "name": user.name, "sam_hash": hash}),
            )?;
            (user, true)
        }
    };
    let new_sid = account.sid.clone();
    let mut wanted_aliases: Vec<u32> = Vec::new();
    if req.admin && !created {
        wanted_aliases.push(crate::profiles::ADMINISTRATORS);
    }
    if req.keep_groups {
        wanted_aliases.extend(host.builtin_aliases_of(old_sid)?);
    }
    wanted_aliases.sort_unstable();
    wanted_aliases.dedup();
    let mut aliases_added = Vec::new();
    let current = host.builtin_aliases_of(&new_sid)?;
    for alias in wanted_aliases.into_iter().filter(|a| !current.contains(a)) {
        if host.machine_hive_file(MachineHive::Sam).is_some()
            && !journal.records().iter().any(|r| r.step == step::ACCOUNT)
        {
            backup_machine_hive(host, journal, MachineHive::Sam, "sam")?;
        }
        journal.append(
            step::ALIAS,
            Phase::Intent,
            json!({"alias": alias, "sid": new_sid.to_string()}),
        )?;
        host.add_alias_member(alias, &new_sid)?;
        let hash = machine_hive_hash(host, MachineHive::Sam)?;
        journal.append(
            step::ALIAS,
            Phase::Done,
            json!({"alias": alias, "sid": new_sid.to_string(), "sam_hash": hash}),
        )?;
        aliases_added.push(alias);
    }

    // 3. The user hives.
    let mut map = req.extra_map.clone();
    map.insert(old_sid.clone(), new_sid.clone())
        .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
    let marker = Marker {
        previous_sid: old_sid.to_string(),
        previous_profile_path: source.path.clone().unwrap_or_default(),
        migrated_at: hive::edit::filetime_now(),
        admu_version: env!("CARGO_PKG_VERSION").to_string(),
        migration_id: id.to_string(),
    };
    let conversion = Conversion {
        old: old_sid.clone(),
        new: new_sid.clone(),
        extra: req.extra_map.clone(),
        mode: Mode::Replace,
        marker: Some(marker),
    };
    let ntuser = convert_step(
        host,
        journal,
        root,
        &hives.ntuser,
        UserHive::NtUser,
        &conversion,
        step::NTUSER,
    )?;
    let usrclass = convert_step(
        host,
        journal,
        root,
        &hives.usrclass,
        UserHive::UsrClass,
        &conversion,
        step::USRCLASS,
    )?;

    // 4. The profile tree.
    let folder = source
        .host_path
        .clone()
        .ok_or_else(|| Error::NotFound("the profile folder vanished".into()))?;
    let tree = tree_step(host, journal, root, &folder, &map, req, created)?;

    // 5. ProfileList.
    let profile_list = planned_profile_list_edits(host, source, &new_sid)?;
    registry_step(host, journal, step::PROFILE_LIST, &profile_list)?;

    // 6. LogonUI.
    let computer = host.computer_name().unwrap_or_default();
    let logon_ui = if req.set_default_user {
        let edits = planned_logon_ui_edits(&new_sid, &account.name, &computer);
        registry_step(host, journal, step::LOGON_UI, &edits)?;
        edits
    } else {
        Vec::new()
    };

    // 7. Commit.
    journal.append(
        step::COMMIT,
        Phase::Done,
        json!({"new_sid": new_sid.to_string(), "account": account.name, "created": created, "aliases_added": aliases_added}),
    )?;
    Ok(Outcome {
        migration_id: id.to_string(),
        journal: journal.dir().to_path_buf(),
        account: account.name,
        account_created: created,
        old_sid: old_sid.to_string(),
        new_sid: new_sid.to_string(),
        profile_path: source.path.clone().unwrap_or_default(),
        aliases_added,
        ntuser,
        usrclass,
        tree,
        profile_list,
        logon_ui,
    })
}

/// Backs up a machine hive file (once per label) and returns the backup's name.
fn backup_machine_hive(
    host: &dyn MigrationHost,
    journal: &Journal,
    which: MachineHive,
    label: &str,
) -> Result<Option<String>> {
    let Some(file) = host.machine_hive_file(which) else {
        return Ok(None);
    };
    let dir = journal.backup_dir().join(label);
    if !dir.exists() {
        backup_hive(&file, &journal.backup_dir(), label)?;
    }
    Ok(Some(label.to_string()))
}

fn machine_hive_hash(host: &dyn MigrationHost, which: MachineHive) -> Result<Option<String>> {
    host.machine_hive_file(which)
        .map(|p| hash_file(&p))
        .transpose()
}

fn convert_step(
    host: &dyn MigrationHost,
    journal: &mut Journal,
    root: &Path,
    file: &Path,
    which: UserHive,
    conversion: &Conversion,
    name: &str,
) -> Result<ConversionReport> {
    corrupt_for_test(name, file);
    backup_hive(file, &journal.backup_dir(), name)?;
    journal.append(
        name,
        Phase::Intent,
        json!({"file": relative(root, file), "backup": name}),
    )?;
    let wrap = |source| Error::Hive {
        path: file.to_path_buf(),
        source,
    };
    let mut hive = hive::Hive::open(file).map_err(wrap)?;
    let report = convert_user_hive(&mut hive, which, conversion)?;
    let check = hive.check();
    if !check.is_ok() {
        let first = check
            .findings
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        return Err(Error::Invalid(format!(
            "{}: the converted hive failed validation: {first}",
            file.display()
        )));
    }
    let keep = |tmp: &Path, target: &Path| host.copy_metadata(target, tmp);
    hive.save_with(hive::SaveOptions {
        before_rename: Some(&keep),
        ..hive::SaveOptions::default()
    })
    .map_err(wrap)?;
    let hash = hash_file(file)?;
    journal.append(
        name,
        Phase::Done,
        json!({"file": relative(root, file), "hash": hash, "report": detail(&report)}),
    )?;
    Ok(report)
}

/// Test hook (debug builds only): `ADMU_TEST_CORRUPT=<step>` truncates that step's
/// hive just before the step reads it, as a hive found corrupt mid-run would be.
fn corrupt_for_test(name: &str, file: &Path) {
    if cfg!(debug_assertions)
        && std::env::var("ADMU_TEST_CORRUPT").is_ok_and(|v| v == name)
        && let Ok(meta) = std::fs::metadata(file)
        && let Ok(f) = std::fs::OpenOptions::new().write(true).open(file)
    {
        let _ = f.set_len(meta.len() / 3);
    }
}

/// How often the descriptor log is made durable when the new SID is brand new (a
/// crash can then lose the last entries; undo finds those files by the new SID).
const ACL_LOG_SYNC_EVERY: usize = 512;

fn tree_step(
    host: &dyn MigrationHost,
    journal: &mut Journal,
    root: &Path,
    folder: &Path,
    map: &SidMap,
    req: &MigrateRequest,
    sid_is_new: bool,
) -> Result<ntsec::TreeReport> {
    let backend = host
        .file_security()
        .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
    let log_path = journal.backup_dir().join(ACL_LOG);
    journal.append(
        step::TREE,
        Phase::Intent,
        json!({"folder": relative(root, folder), "log": ACL_LOG, "sid_is_new": sid_is_new}),
    )?;
    let log = std::fs::File::create(&log_path).map_err(Error::io(&log_path))?;
    let state = Mutex::new((std::io::BufWriter::new(log), 0usize, None::<std::io::Error>));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let record = |path: &Path, old: &[u8], new: &[u8]| -> std::io::Result<()> {
        let line = json!({"p": relative(root, path), "o": hex(old), "n": hex(new)});
        let mut guard = state
            .lock()
            .map_err(|_| std::io::Error::other("descriptor log lock poisoned"))?;
        let (writer, count, _) = &mut *guard;
        writeln!(writer, "{line}")?;
        *count += 1;
        // A reused SID cannot be told apart from the old state, so every entry must be
        // durable before its file changes; a new SID can be found again after a crash.
        if !sid_is_new || (*count).is_multiple_of(ACL_LOG_SYNC_EVERY) {
            writer.flush()?;
            writer.get_ref().sync_data()?;
        }
        Ok(())
    };
    let options = TreeOptions {
        mode: req.acl_mode,
        threads: req.threads,
        on_change: Some(&record),
        ..TreeOptions::new(map)
    };
    let report = ntsec::translate_tree(folder, backend, &options).map_err(Error::io(folder))?;
    let mut guard = state
        .lock()
        .map_err(|_| Error::Invalid("descriptor log lock poisoned".into()))?;
    let (writer, _, _) = &mut *guard;
    writer.flush().map_err(Error::io(&log_path))?;
    writer.get_ref().sync_all().map_err(Error::io(&log_path))?;
    drop(guard);
    for e in &report.errors {
        tracing::warn!(path = %e.path.display(), "{}", e.reason);
    }
    journal.append(step::TREE, Phase::Done, detail(&report))?;
    Ok(report)
}

/// The ProfileList changes: a key for the new SID with the old key's values, and the
/// old key's path marked `.ADMU`.
pub(crate) fn planned_profile_list_edits(
    host: &dyn MigrationHost,
    source: &Profile,
    new_sid: &Sid,
) -> Result<Vec<RegEdit>> {
    let old_key = format!(r"{PROFILE_LIST}\{}", source.key);
    let new_key = format!(r"{PROFILE_LIST}\{new_sid}");
    let old = host
        .key(MachineHive::Software, &old_key)?
        .ok_or_else(|| Error::NotFound(format!("{old_key} vanished")))?;
    let mut edits = vec![RegEdit::CreateKey {
        path: new_key.clone(),
    }];
    for v in &old.values {
        let lower = v.name.to_ascii_lowercase();
        // Guid/ProfileGuid belong to the AD account; Sid, State and RefCount are reset.
        if matches!(lower.as_str(), "sid" | "state" | "refcount" | "guid") {
            continue;
        }
        edits.push(RegEdit::SetValue {
            path: new_key.clone(),
            name: v.name.clone(),
            kind: v.kind,
            data: v.data.clone(),
        });
    }
    edits.push(RegEdit::SetValue {
        path: new_key.clone(),
        name: "Sid".into(),
        kind: hive::value::types::BINARY,
        data: new_sid.to_bytes(),
    });
    for name in ["State", "RefCount"] {
        edits.push(RegEdit::SetValue {
            path: new_key.clone(),
            name: name.into(),
            kind: hive::value::types::DWORD,
            data: 0u32.to_le_bytes().to_vec(),
        });
    }
    if let Some(path) = old.string("ProfileImagePath") {
        edits.push(RegEdit::SetValue {
            path: old_key,
            name: "ProfileImagePath".into(),
            kind: old.value("ProfileImagePath").map_or(2, |v| v.kind),
            data: hive::value::encode_sz(&format!("{path}{MIGRATED_SUFFIX}")),
        });
    }
    Ok(edits)
}

pub(crate) fn planned_logon_ui_edits(new_sid: &Sid, name: &str, computer: &str) -> Vec<RegEdit> {
    let set = |value: &str, text: &str| RegEdit::SetValue {
        path: LOGON_UI.into(),
        name: value.into(),
        kind: hive::value::types::SZ,
        data: hive::value::encode_sz(text),
    };
    vec![
        RegEdit::CreateKey {
            path: LOGON_UI.into(),
        },
        set("LastLoggedOnUser", &format!(r".\{name}")),
        set("LastLoggedOnSAMUser", &format!(r"{computer}\{name}")),
        set("LastLoggedOnUserSID", &new_sid.to_string()),
        set("LastLoggedOnDisplayName", name),
        set("SelectedUserSID", &new_sid.to_string()),
        RegEdit::CreateKey {
            path: format!(r"{LOGON_UI}\UserTile"),
        },
        RegEdit::SetValue {
            path: format!(r"{LOGON_UI}\UserTile"),
            name: new_sid.to_string(),
            kind: hive::value::types::SZ,
            data: hive::value::encode_sz(PASSWORD_PROVIDER),
        },
    ]
}

/// The edits that put back what `edits` change, computed from the current state.
pub(crate) fn inverse_edits(
    host: &dyn MigrationHost,
    which: MachineHive,
    edits: &[RegEdit],
) -> Result<Vec<RegEdit>> {
    let mut inverse = Vec::new();
    for e in edits {
        match e {
            RegEdit::CreateKey { path } => {
                if host.key(which, path)?.is_none() {
                    inverse.push(RegEdit::DeleteKey { path: path.clone() });
                }
            }
            RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name } => {
                let old = host.key(which, path)?.and_then(|k| k.value(name).cloned());
                inverse.push(match old {
                    Some(v) => RegEdit::SetValue {
                        path: path.clone(),
                        name: v.name,
                        kind: v.kind,
                        data: v.data,
                    },
                    None => RegEdit::DeleteValue {
                        path: path.clone(),
                        name: name.clone(),
                    },
                });
            }
            RegEdit::DeleteKey { path } => {
                return Err(Error::Invalid(format!(
                    "deleting {path} cannot be journaled"
                )));
            }
        }
    }
    // Undo in reverse: values before the keys they live in are deleted.
    inverse.reverse();
    Ok(inverse)
}

fn registry_step(
    host: &mut dyn MigrationHost,
    journal: &mut Journal,
    name: &str,
    edits: &[RegEdit],
) -> Result<()> {
    let inverse = inverse_edits(host, MachineHive::Software, edits)?;
    let backup = backup_machine_hive(host, journal, MachineHive::Software, name)?;
    journal.append(
        name,
        Phase::Intent,
        json!({"edits": edits, "inverse": inverse, "backup": backup}),
    )?;
    host.apply(MachineHive::Software, edits)?;
    let hash = machine_hive_hash(host, MachineHive::Software)?;
    journal.append(name, Phase::Done, json!({"software_hash": hash}))?;
    Ok(())
}
