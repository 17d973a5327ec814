//! Running a migration: preflight, the journal's begin record, every step in order,
//! commit; on a failure after the first record, the rollback.

use std::path::PathBuf;

use serde::Serialize;

use super::preflight::{Preflight, preflight};
use super::steps::{RunContext, STEPS};
use super::{MigrateRequest, profile_sid, store};
use crate::device::{DeviceReport, DeviceState};
use crate::error::{Error, Result};
use crate::host::MigrationHost;
use crate::journal::record::{AfterAction, Begin, Commit, Done, FORMAT};
use crate::journal::{Entry, Journal};

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
    /// What each step did, in order (steps with nothing to do are absent).
    pub steps: Vec<Done>,
    /// What ran after the commit (lifting the logon block, leaving the domain, the
    /// restart) and how it went.
    pub after: Vec<AfterReport>,
    /// Things that went wrong after the commit: the migration stands, but these need a
    /// look (e.g. the domain could not be left).
    pub warnings: Vec<String>,
}

/// One action after the commit.
#[derive(Debug, Clone, Serialize)]
pub struct AfterReport {
    pub action: AfterAction,
    pub ok: bool,
    pub detail: String,
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
            MigrateError::RolledBack { error, journal } => write!(
                f,
                "{error}; every change was rolled back (journal {})",
                journal.display()
            ),
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

fn failed(e: Error) -> MigrateError {
    MigrateError::Failed(Box::new(e))
}

/// Runs a migration under the volume lock. On failure after the first change it rolls
/// back; the error says whether that worked.
pub fn migrate(
    host: &mut dyn MigrationHost,
    req: &MigrateRequest,
) -> std::result::Result<Outcome, MigrateError> {
    let _lock = store::lock_volume(host, "migrate").map_err(failed)?;
    if req.logoff {
        sign_out(host, req).map_err(failed)?;
    }
    let mut pre = preflight(host, req).map_err(failed)?;
    if !pre.passed() {
        return Err(MigrateError::Preflight(Box::new(pre)));
    }
    let (Some(source), Some(hives)) = (pre.source.take(), pre.hives.take()) else {
        return Err(failed(Error::Invalid(
            "preflight found no source profile".into(),
        )));
    };
    let old_sid = profile_sid(&source).map_err(failed)?;
    let profile_path = source.path.clone().unwrap_or_default();
    let report = |state: DeviceState, message: &str| {
        if let Some(device) = &req.device {
            let r = DeviceReport {
                sid: &old_sid.to_string(),
                local_path: &profile_path,
                username: &req.to,
                state,
                message,
            };
            if let Err(e) = device.report(&r) {
                tracing::warn!("{}: status report failed: {e}", device.name());
            }
        }
    };
    report(DeviceState::InProgress, "migration started");
    let root = super::volume_root(host).map_err(failed)?;
    let migrations = store::ensure_dirs(host).map_err(failed)?;
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
    let mut journal = Journal::create(&dir, host).map_err(failed)?;
    let relative = |p: &std::path::Path| super::relative(&root, p);
    let begin = Begin {
        format: FORMAT,
        id: id.clone(),
        from: req.from.clone(),
        to: req.to.clone(),
        old_sid: old_sid.clone(),
        profile_key: source.key.clone(),
        profile_path: source.path.clone().unwrap_or_default(),
        profile_folder: source
            .host_path
            .as_deref()
            .map(relative)
            .unwrap_or_default(),
        ntuser: relative(&hives.ntuser.path),
        usrclass: relative(&hives.usrclass.path),
        to_existing: req.to_existing,
        acl_mode: req.acl_mode,
        extra_map: req.extra_map.clone(),
        admu_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    journal
        .append(Entry::Begin(begin.clone()))
        .map_err(failed)?;
    tracing::info!(migration = %id, "migration journal at {}", dir.display());

    let result = {
        let mut cx = RunContext {
            host: &mut *host,
            journal: &mut journal,
            req,
            begin: &begin,
            root,
            source: &source,
            hives,
            existing: pre.existing.clone(),
            account: None,
            account_created: false,
            done: Vec::new(),
        };
        run_steps(&mut cx).map(|()| {
            let account = cx.account.clone();
            (account, cx.account_created, std::mem::take(&mut cx.done))
        })
    };
    match result {
        Ok((Some(account), created, steps)) => {
            let after = after_commit(host, &mut journal, req);
            let bound = after
                .iter()
                .find(|a| a.action == AfterAction::Bind)
                .is_none_or(|a| a.ok);
            report(
                if bound {
                    DeviceState::Complete
                } else {
                    DeviceState::Error
                },
                if bound {
                    "migration complete"
                } else {
                    "migrated, but binding the user to this device failed"
                },
            );
            let warnings = after
                .iter()
                .filter(|a| !a.ok)
                .map(|a| format!("{:?}: {}", a.action, a.detail))
                .collect();
            Ok(Outcome {
                migration_id: id,
                journal: dir,
                account: account.name,
                account_created: created,
                old_sid: old_sid.to_string(),
                new_sid: account.sid.to_string(),
                profile_path: begin.profile_path,
                steps,
                after,
                warnings,
            })
        }
        Ok((None, ..)) => Err(failed(Error::Invalid("no account was chosen".into()))),
        Err(error) => {
            tracing::error!("{error}; rolling back");
            report(DeviceState::Error, &error.to_string());
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

/// Every step in order, then the commit record.
fn run_steps(cx: &mut RunContext<'_>) -> Result<()> {
    for step in STEPS {
        tracing::debug!(step = %step.id(), "running");
        cx.req.report(super::ProgressEvent {
            step: step.id(),
            done: 0,
            total: None,
            message: format!("{}: starting", step.id()),
        });
        step.apply(cx)?;
    }
    let account = cx.account()?.clone();
    cx.journal.append(Entry::Commit(Commit {
        new_sid: account.sid,
        account: account.name,
        created: cx.account_created,
    }))
}

/// `--logoff`: signs out the sessions of the account being migrated (nobody else's)
/// before the checks.
fn sign_out(host: &dyn MigrationHost, req: &MigrateRequest) -> Result<()> {
    let Some(live) = host.live() else {
        return Ok(()); // preflight refuses --logoff offline
    };
    let Some(sid) = super::find_source(host, &req.from)?.sid else {
        return Ok(());
    };
    for session in live.sessions()? {
        if session.sid.as_ref() == Some(&sid) {
            tracing::info!(session = session.id, user = %session.user, "signing out");
            live.logoff(session.id)?;
        }
    }
    Ok(())
}

/// After the commit: lift the logon block, leave the directory, bind the user to the
/// device manager, schedule the restart. Each is journaled; none rolls the migration
/// back.
fn after_commit(
    host: &mut dyn MigrationHost,
    journal: &mut Journal,
    req: &MigrateRequest,
) -> Vec<AfterReport> {
    let records = journal.records().to_vec();
    let mut reports: Vec<AfterReport> = Vec::new();
    let mut record = |action: AfterAction, result: Result<String>| {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => (false, e.to_string()),
        };
        if let Err(e) = journal.append(Entry::After {
            action,
            ok,
            detail: detail.clone(),
        }) {
            tracing::warn!("cannot journal {action:?}: {e}");
        }
        reports.push(AfterReport { action, ok, detail });
    };
    let mut left_domain = false;
    if let Some(live) = host.live() {
        let block = super::steps::trace_of(&records, crate::journal::StepId::BlockLogon);
        if block.started() {
            record(
                AfterAction::ReleaseLogon,
                super::steps::block_logon::release(live, &block)
                    .map(|()| "the old account may log on again".into()),
            );
        }
        if req.leave_domain {
            left_domain = leave(live, &mut record);
        }
    }
    if let Some(device) = &req.device {
        let progress = |m: &str| tracing::info!("{}: {m}", device.name());
        record(AfterAction::Bind, device.bind(left_domain, &progress));
    }
    if let (Some(live), Some(delay)) = (host.live(), req.reboot) {
        record(
            AfterAction::Reboot,
            live.reboot(delay, "admu migrated a profile to a local account")
                .map(|()| format!("restart in {delay} s")),
        );
    }
    reports
}

/// Leaves Entra and/or the AD domain as the decision table says; true when all of it
/// worked.
fn leave(
    live: &dyn crate::live::Live,
    record: &mut dyn FnMut(AfterAction, Result<String>),
) -> bool {
    let plan = live
        .join_state()
        .and_then(|j| Ok(crate::live::leave_plan(&j, live.running_as()?)));
    match plan {
        Ok(Ok(plan)) => {
            let mut ok = true;
            if plan.entra {
                let r = live.leave_entra().map(|()| "left Entra ID".to_string());
                ok &= r.is_ok();
                record(AfterAction::LeaveEntra, r);
            }
            if plan.ad {
                let r = live
                    .leave_ad_domain()
                    .map(|()| "left the domain".to_string());
                ok &= r.is_ok();
                record(AfterAction::LeaveAdDomain, r);
            }
            ok
        }
        Ok(Err(why)) => {
            record(AfterAction::LeaveAdDomain, Err(Error::Refused(why)));
            false
        }
        Err(e) => {
            record(AfterAction::LeaveAdDomain, Err(e));
            false
        }
    }
}

fn migration_id(old: &ntsec::Sid) -> String {
    let now = hive::filetime::filetime_to_rfc3339(hive::filetime::filetime_now());
    let stamp: String = now
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    format!("{stamp}-{}", old.rid().unwrap_or(0))
}
