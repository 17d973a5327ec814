//! The steps of a migration. Each is a type implementing [`Step`]: its preflight checks,
//! its part of the dry-run plan, how it runs (journaling its intent, with hashed
//! backups, before it changes anything, and its result after), and how it is undone
//! from the journal alone. The orchestrator (`run`), the plan, rollback, revert and
//! recover are generic over [`STEPS`]; a new capability is a new module here.

mod account;
mod acl_log;
pub(crate) mod block_logon;
mod dpapi;
mod groups;
mod hello;
mod machine_keys;
mod machine_security;
mod mdm;
mod moves;
mod outside;
mod registry;
mod sweep;
mod tree;
mod user_hive;
mod user_rights;

use std::path::{Path, PathBuf};

use ntsec::{Sid, SidMap};
use serde::Serialize;

use super::MigrateRequest;
use super::preflight::{Checks, OpenedHives};
use super::store;
use crate::error::{Error, Result};
use crate::host::{LocalUser, MachineHive, MigrationHost};
use crate::journal::Journal;
use crate::journal::record::{Backup, Begin, Done, Intent, StepId, UndoHow};
use crate::profiles::Profile;

/// Every step, in the order a migration runs them (undo runs them backwards).
pub(crate) const STEPS: &[&dyn Step] = &[
    &block_logon::BlockLogon,
    &account::CreateAccount,
    &groups::Groups,
    &user_hive::UserHiveStep::NTUSER,
    &user_hive::UserHiveStep::USRCLASS,
    &dpapi::DpapiStep,
    &tree::ProfileTree,
    &outside::OutsideProfile,
    &sweep::SweepFiles,
    &registry::RegistryStep::PROFILE_LIST,
    &registry::RegistryStep::MACHINE_KEYS,
    &registry::RegistryStep::LOGON_UI,
    &mdm::MdmStep,
    &hello::HelloStep,
    &machine_security::MachineSecurityStep::USER_RIGHTS,
    &machine_security::MachineSecurityStep::SOFTWARE,
    &machine_security::MachineSecurityStep::SYSTEM,
    &machine_security::MachineSecurityStep::SECURITY,
];

/// One step of a migration.
pub(crate) trait Step: Sync {
    fn id(&self) -> StepId;

    /// Adds this step's preflight checks (nothing is changed).
    fn check(&self, cx: &CheckContext<'_>, checks: &mut Checks) -> Result<()>;

    /// What the step would change, computed without changing anything; `None` when it
    /// has nothing to do for this request.
    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>>;

    /// Runs the step: intent record (with hashed backups) → change → done record.
    /// Steps with nothing to do write no records.
    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()>;

    /// Checks, before an undo changes anything, that what the undo would use is
    /// intact. By default: the intent's backup still has its hashes.
    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        match trace.intent.and_then(Intent::backup) {
            Some(backup) => store::verify_backup(&cx.backups, backup),
            None => Ok(()),
        }
    }

    /// How this step's change is to be undone, from the journal and the files now.
    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow>;

    /// Undoes it. Must be idempotent: a killed undo runs again with the same `how`.
    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()>;

    /// Files whose writers may have left temporary files behind (cleaned after undo).
    fn touched_files(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Vec<PathBuf>;
}

/// Notes on the MDM enrollments and the Windows Hello state that stay as they are
/// (without `--remove-mdm` / `--remove-hello`), or that admu cannot clear.
pub(crate) fn identity_notices(
    host: &dyn MigrationHost,
    req: &MigrateRequest,
    source: Option<&Profile>,
) -> Vec<super::Notice> {
    let mut out = mdm::notices(host, req);
    if let Some(sid) = source.and_then(|p| p.sid.as_ref()) {
        out.extend(hello::notices(host, req, sid));
    }
    out
}

/// What preflight checks see.
pub(crate) struct CheckContext<'a> {
    pub host: &'a dyn MigrationHost,
    pub req: &'a MigrateRequest,
    pub existing: Option<&'a LocalUser>,
    /// The profile to migrate, when preflight found it.
    pub source: Option<&'a Profile>,
}

/// What plans see: preflight's findings and the SID the account will have.
pub(crate) struct PlanContext<'a> {
    pub host: &'a dyn MigrationHost,
    pub req: &'a MigrateRequest,
    pub source: &'a Profile,
    pub hives: &'a OpenedHives,
    pub existing: Option<&'a LocalUser>,
    pub old_sid: &'a Sid,
    pub new_sid: &'a Sid,
    pub map: &'a SidMap,
}

/// What running steps share.
pub(crate) struct RunContext<'a> {
    pub host: &'a mut dyn MigrationHost,
    pub journal: &'a mut Journal,
    pub req: &'a MigrateRequest,
    pub begin: &'a Begin,
    /// The volume root (host path).
    pub root: PathBuf,
    pub source: &'a Profile,
    /// The user hives preflight opened, replayed and checked; taken by their steps.
    pub hives: OpenedHives,
    pub existing: Option<LocalUser>,
    /// The account the profile goes to, once known.
    pub account: Option<LocalUser>,
    pub account_created: bool,
    /// What each step did, in order.
    pub done: Vec<Done>,
}

impl RunContext<'_> {
    /// The new account (after the account step).
    pub fn account(&self) -> Result<&LocalUser> {
        self.account
            .as_ref()
            .ok_or_else(|| Error::Invalid("no account to migrate to".into()))
    }

    /// Old SID → new SID plus the request's extra mappings.
    pub fn sid_map(&self) -> Result<SidMap> {
        let mut map = self.req.extra_map.clone();
        map.insert(self.begin.old_sid.clone(), self.account()?.sid.clone())
            .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
        Ok(map)
    }

    pub fn backups(&self) -> PathBuf {
        self.journal.backup_dir()
    }

    /// A path relative to the volume root, for the journal.
    pub fn relative(&self, path: &Path) -> String {
        super::relative(&self.root, path)
    }

    pub fn intent(&mut self, intent: Intent) -> Result<()> {
        self.journal.append(crate::journal::Entry::Intent(intent))
    }

    pub fn done(&mut self, done: Done) -> Result<()> {
        self.journal
            .append(crate::journal::Entry::Done(done.clone()))?;
        self.done.push(done);
        Ok(())
    }
}

/// What undoing steps share, all of it from the journal.
pub(crate) struct UndoContext<'a> {
    pub host: &'a mut dyn MigrationHost,
    pub begin: &'a Begin,
    pub root: PathBuf,
    pub backups: PathBuf,
    /// The account the profile went to, when the journal got that far.
    pub new_sid: Option<Sid>,
}

impl UndoContext<'_> {
    /// The host path of a path the journal keeps relative to the volume root.
    pub fn path(&self, relative: &str) -> Result<PathBuf> {
        super::absolute(&self.root, relative)
    }
}

/// One step's intent and done records in a journal.
pub(crate) fn trace_of(records: &[crate::journal::Record], step: StepId) -> Trace<'_> {
    let mut t = Trace::default();
    for r in records {
        match &r.entry {
            crate::journal::Entry::Intent(i) if i.step() == step => t.intent = Some(i),
            crate::journal::Entry::Done(d) if d.step() == step => t.done = Some(d),
            _ => {}
        }
    }
    t
}

/// One step's records in a journal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Trace<'a> {
    pub intent: Option<&'a Intent>,
    pub done: Option<&'a Done>,
}

impl Trace<'_> {
    pub fn started(&self) -> bool {
        self.intent.is_some()
    }

    /// The undo of a step whose own records say what to put back: logical once its
    /// intent is in the journal, nothing before.
    pub fn logical_once_started(&self) -> Result<UndoHow> {
        Ok(if self.started() {
            UndoHow::Logical
        } else {
            UndoHow::Nothing
        })
    }
}

/// One step's part of the dry run.
#[derive(Debug, Clone, Serialize)]
pub struct StepPlan {
    pub step: StepId,
    /// What the step does, in a few lines.
    pub summary: Vec<String>,
    /// Registry values before and after, where the step sets values.
    pub changes: Vec<Change>,
    /// The step's own report (hive conversion, files), as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

/// A registry value before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub key: String,
    pub value: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The undo of a step that changed a machine hive file (SAM, SOFTWARE): restore the
/// backup when the file still holds what the step wrote (or the step never finished,
/// so nothing else can have written it since), nothing when it already matches the
/// backup, and the logical inverse when Windows wrote the file since.
pub(crate) fn machine_file_undo_how(
    cx: &UndoContext<'_>,
    which: MachineHive,
    trace: &Trace<'_>,
) -> Result<UndoHow> {
    let (Some(file), Some(backup)) = (
        cx.host.machine_hive_file(which),
        trace.intent.and_then(Intent::backup),
    ) else {
        return Ok(UndoHow::Logical);
    };
    if store::matches_backup(&file, backup) {
        return Ok(UndoHow::Nothing);
    }
    let expected = trace.done.and_then(Done::machine_hash);
    let now = store::hash_file(&file).ok();
    if trace.done.is_none() || now.as_deref() == expected {
        return Ok(UndoHow::Restore);
    }
    Ok(UndoHow::Logical)
}

/// Restores a machine hive from a step's backup.
pub(crate) fn restore_machine_file(
    cx: &mut UndoContext<'_>,
    which: MachineHive,
    trace: &Trace<'_>,
) -> Result<()> {
    let file = cx.host.machine_hive_file(which).ok_or_else(|| {
        Error::Invalid(format!("{} is not a file on this host", which.file_name()))
    })?;
    let backup: &Backup = trace.intent.and_then(Intent::backup).ok_or_else(|| {
        Error::Journal(format!("{}: no backup in the journal", which.file_name()))
    })?;
    store::restore_backup(cx.host, &cx.backups, backup, &file)?;
    cx.host.forget_cached(which);
    Ok(())
}

/// The machine hive file a step changed, for the temp-file clean-up (offline only).
pub(crate) fn machine_file_touched(cx: &UndoContext<'_>, which: MachineHive) -> Vec<PathBuf> {
    cx.host.machine_hive_file(which).into_iter().collect()
}

/// Backs up a machine hive file before a step changes it (offline; `None` live).
pub(crate) fn backup_machine_file(
    cx: &RunContext<'_>,
    which: MachineHive,
    label: &str,
) -> Result<Option<Backup>> {
    match cx.host.machine_hive_file(which) {
        Some(file) => Ok(Some(store::backup_hive(
            cx.host,
            &cx.backups(),
            label,
            &file,
        )?)),
        None => Ok(None),
    }
}

/// The hash of a machine hive file after a step (offline; `None` live).
pub(crate) fn machine_file_hash(
    host: &dyn MigrationHost,
    which: MachineHive,
) -> Result<Option<String>> {
    host.machine_hive_file(which)
        .map(|p| store::hash_file(&p))
        .transpose()
}
