//! Steps: convert NTUSER.DAT and UsrClass.dat to the new SID (descriptors, SID-named
//! keys and values, UserChoice hashes, admu's marker) and save them atomically with
//! their descriptor and attributes kept.

use std::path::{Path, PathBuf};

use ntsec::Mode;

use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::convert::{Conversion, Marker, UserHive, convert_user_hive};
use crate::error::{Error, Result};
use crate::host::MigrationHost;
use crate::journal::record::{Done, HiveDone, HiveIntent, Intent, StepId, UndoHow};
use crate::migrate::preflight::{Checks, OpenedHive};
use crate::migrate::store;

pub(crate) struct UserHiveStep {
    which: UserHive,
}

impl UserHiveStep {
    pub(crate) const NTUSER: UserHiveStep = UserHiveStep {
        which: UserHive::NtUser,
    };
    pub(crate) const USRCLASS: UserHiveStep = UserHiveStep {
        which: UserHive::UsrClass,
    };

    fn label(&self) -> &'static str {
        match self.which {
            UserHive::NtUser => "NTUSER.DAT",
            UserHive::UsrClass => "UsrClass.dat",
        }
    }

    fn intent<'t>(&self, trace: &Trace<'t>) -> Option<&'t HiveIntent> {
        match (self.which, trace.intent?) {
            (UserHive::NtUser, Intent::Ntuser(i)) | (UserHive::UsrClass, Intent::Usrclass(i)) => {
                Some(i)
            }
            _ => None,
        }
    }

    fn done<'t>(&self, trace: &Trace<'t>) -> Option<&'t HiveDone> {
        match (self.which, trace.done?) {
            (UserHive::NtUser, Done::Ntuser(d)) | (UserHive::UsrClass, Done::Usrclass(d)) => {
                Some(d)
            }
            _ => None,
        }
    }
}

fn hive_error(path: &Path) -> impl Fn(hive::Error) -> Error + '_ {
    move |source| Error::Hive {
        path: path.to_path_buf(),
        source,
    }
}

/// Validates a converted hive and saves it over its file, keeping the file's
/// descriptor and attributes.
fn save_checked(host: &dyn MigrationHost, hive: &mut hive::Hive, file: &Path) -> Result<()> {
    let check = hive.check();
    if !check.is_ok() {
        let first = check
            .findings
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        return Err(Error::Invalid(format!(
            "{}: the converted hive failed validation, nothing was written: {first}",
            file.display()
        )));
    }
    let keep = |tmp: &Path, target: &Path| host.copy_metadata(target, tmp);
    hive.save_with(hive::SaveOptions {
        before_rename: Some(&keep),
        ..hive::SaveOptions::default()
    })
    .map_err(hive_error(file))?;
    Ok(())
}

/// Test hook (debug builds only): `ADMU_TEST_CORRUPT=<step>` truncates that step's
/// hive file just before the step backs it up, as a hive found corrupt mid-run would be.
fn corrupt_for_test(step: StepId, file: &Path) {
    if cfg!(debug_assertions)
        && std::env::var("ADMU_TEST_CORRUPT").is_ok_and(|v| v == step.name())
        && let Ok(meta) = std::fs::metadata(file)
        && let Ok(f) = std::fs::OpenOptions::new().write(true).open(file)
    {
        let _ = f.set_len(meta.len() / 3);
    }
}

impl Step for UserHiveStep {
    fn id(&self) -> StepId {
        match self.which {
            UserHive::NtUser => StepId::Ntuser,
            UserHive::UsrClass => StepId::Usrclass,
        }
    }

    /// Both hives are checked together by preflight (it opens them once for the run).
    fn check(&self, _: &CheckContext<'_>, _: &mut Checks) -> Result<()> {
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let opened = cx.hives.get(self.which);
        let Some(mut hive) = opened.hive.clone() else {
            return Ok(None);
        };
        let report = convert_user_hive(
            &mut hive,
            self.which,
            &Conversion {
                old: cx.old_sid.clone(),
                new: cx.new_sid.clone(),
                extra: cx.req.extra_map.clone(),
                mode: Mode::Replace,
                marker: None,
            },
        )?;
        let mut summary = vec![format!(
            "{}: {} security cells changed, used by {} keys ({} merged, {} moved)",
            self.label(),
            report.security.cells_changed,
            report.security.keys_affected,
            report.security.cells_merged,
            report.security.cells_moved
        )];
        if report.root_renamed {
            summary.push("root key renamed to <new SID>_Classes".into());
        }
        summary.extend(
            report
                .keys_renamed
                .iter()
                .map(|k| format!("key renamed: {k}")),
        );
        summary.extend(
            report
                .values_rewritten
                .iter()
                .map(|v| format!("value rewritten: {v}")),
        );
        if report.user_choice_rehashed > 0 {
            summary.push(format!(
                "UserChoice hashes recomputed: {}",
                report.user_choice_rehashed
            ));
        }
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: serde_json::to_value(&report).ok(),
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let step = self.id();
        let opened: &mut OpenedHive = cx.hives.get_mut(self.which);
        let file = opened.path.clone();
        let mut hive = opened.hive.take().ok_or_else(|| {
            Error::Invalid(format!("{}: not opened by preflight", file.display()))
        })?;
        let opened_as = opened.stamp;
        corrupt_for_test(step, &file);
        // What is backed up and replaced must be what preflight opened and checked.
        if super::super::preflight::FileStamp::of(&file)? != opened_as {
            return Err(Error::Invalid(format!(
                "{} changed since preflight opened it (is the profile in use?); run the \
                 migration again",
                file.display()
            )));
        }
        let backup = store::backup_hive(cx.host, &cx.backups(), step.name(), &file)?;
        let relative = cx.relative(&file);
        let hive_intent = HiveIntent {
            file: relative.clone(),
            backup,
        };
        cx.intent(match self.which {
            UserHive::NtUser => Intent::Ntuser(hive_intent),
            UserHive::UsrClass => Intent::Usrclass(hive_intent),
        })?;
        let account = cx.account()?.clone();
        let marker = (self.which == UserHive::NtUser).then(|| Marker {
            previous_sid: cx.begin.old_sid.to_string(),
            previous_profile_path: cx.begin.profile_path.clone(),
            migrated_at: hive::filetime::filetime_now(),
            admu_version: env!("CARGO_PKG_VERSION").to_string(),
            migration_id: cx.begin.id.clone(),
        });
        let report = convert_user_hive(
            &mut hive,
            self.which,
            &Conversion {
                old: cx.begin.old_sid.clone(),
                new: account.sid.clone(),
                extra: cx.req.extra_map.clone(),
                mode: Mode::Replace,
                marker,
            },
        )?;
        save_checked(cx.host, &mut hive, &file)?;
        let done = HiveDone {
            file: relative,
            sha256: store::hash_file(&file)?,
            report,
        };
        cx.done(match self.which {
            UserHive::NtUser => Done::Ntuser(done),
            UserHive::UsrClass => Done::Usrclass(done),
        })
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        let Some(intent) = self.intent(trace) else {
            return Ok(UndoHow::Nothing);
        };
        let file = cx.path(&intent.file)?;
        if store::matches_backup(&file, &intent.backup) {
            return Ok(UndoHow::Nothing);
        }
        let expected = self.done(trace).map(|d| d.sha256.as_str());
        let now = store::hash_file(&file).ok();
        if expected.is_none() || now.as_deref() == expected {
            Ok(UndoHow::Restore)
        } else {
            Ok(UndoHow::Logical)
        }
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        let Some(intent) = self.intent(trace) else {
            return Ok(());
        };
        let file = cx.path(&intent.file)?;
        match how {
            UndoHow::Nothing => Ok(()),
            UndoHow::Restore => store::restore_backup(cx.host, &cx.backups, &intent.backup, &file),
            UndoHow::Logical => {
                let Some(new) = cx.new_sid.clone() else {
                    return Ok(());
                };
                tracing::warn!(
                    "{} changed since the migration; undoing the SID change in place",
                    file.display()
                );
                let mut hive = hive::Hive::open(&file).map_err(hive_error(&file))?;
                convert_user_hive(
                    &mut hive,
                    self.which,
                    &Conversion {
                        old: new,
                        new: cx.begin.old_sid.clone(),
                        extra: cx.begin.extra_map.inverse().unwrap_or_default(),
                        mode: Mode::Replace,
                        marker: None,
                    },
                )?;
                if let Some(k) = hive
                    .key(crate::convert::MARKER_KEY)
                    .map_err(hive_error(&file))?
                {
                    let offset = k.offset();
                    hive.delete_key(offset).map_err(hive_error(&file))?;
                }
                save_checked(cx.host, &mut hive, &file)
            }
        }
    }

    fn touched_files(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Vec<PathBuf> {
        self.intent(trace)
            .and_then(|i| cx.path(&i.file).ok())
            .into_iter()
            .collect()
    }
}
