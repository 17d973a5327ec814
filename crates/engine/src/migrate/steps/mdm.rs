//! Step `mdm` (`--remove-mdm`): removes every MDM enrollment but JumpCloud's, found in
//! the registry or as EnterpriseMgmt tasks (`crate::mdm`): the SOFTWARE keys named by
//! its GUID (ADMU's list), its TaskCache entries, its certificates in the machine `MY`
//! store, and the residue that blocks a new enrollment (`MmpcEnrollmentFlag` set to 0
//! as ADMU does; `ExternallyManaged` deleted when no enrollment is kept). Unlike ADMU,
//! every change is journaled: the SOFTWARE edits with their inverse and a backup of the
//! hive (as the registry steps do), the task folders moved into the journal's backup
//! folder; revert and recover put everything back.

use super::{
    CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext, backup_machine_file,
    machine_file_hash, machine_file_undo_how, moves, restore_machine_file,
};
use crate::error::{Error, Result};
use crate::host::{MachineHive, RegEdit, Registry};
use crate::journal::record::{Done, Intent, MdmDone, MdmIntent, Moved, StepId, UndoHow};
use crate::mdm::{
    ENROLLMENTS, MY_CERTS, MdmState, PER_GUID, TASK_CACHE, TASK_INDEXES, TASK_PATH, TASKS_DIR,
};
use crate::migrate::preflight::Checks;

pub(crate) struct MdmStep;

/// The backup folder of the moved task folders (the SOFTWARE backup has `mdm`).
const TASKS_LABEL: &str = "mdm_tasks";

/// What the step would do.
struct Work {
    enrollments: Vec<String>,
    edits: Vec<RegEdit>,
    /// Task folders (volume-relative) and the GUID that names their backup.
    folders: Vec<(String, String)>,
    certificates: usize,
}

fn work(state: &MdmState) -> Work {
    let mut w = Work {
        enrollments: Vec::new(),
        edits: Vec::new(),
        folders: Vec::new(),
        certificates: 0,
    };
    let delete = |path: String, edits: &mut Vec<RegEdit>| {
        if !edits.iter().any(|e| e.path().eq_ignore_ascii_case(&path)) {
            edits.push(RegEdit::DeleteKey { path });
        }
    };
    for e in state.removable() {
        w.enrollments.push(format!(
            "{} ({})",
            e.guid,
            e.provider.as_deref().unwrap_or("no provider")
        ));
        for k in &e.keys {
            delete(k.clone(), &mut w.edits);
        }
        for c in &e.certificates {
            let before = w.edits.len();
            delete(format!(r"{MY_CERTS}\{}", c.thumbprint), &mut w.edits);
            w.certificates += w.edits.len() - before;
        }
        if let Some(f) = &e.task_folder {
            w.folders.push((f.clone(), e.guid.clone()));
        }
    }
    let jumpcloud_enrolled = state.enrollments.iter().any(|e| e.jumpcloud);
    if state.residue.mmpc_enrollment_flag.is_some_and(|v| v != 0) && !jumpcloud_enrolled {
        w.edits.push(RegEdit::SetValue {
            path: ENROLLMENTS.into(),
            name: "MmpcEnrollmentFlag".into(),
            kind: hive::value::types::DWORD,
            data: 0u32.to_le_bytes().to_vec(),
        });
    }
    if state.residue.externally_managed.is_some() && !jumpcloud_enrolled {
        w.edits.push(RegEdit::DeleteValue {
            path: ENROLLMENTS.into(),
            name: "ExternallyManaged".into(),
        });
    }
    w
}

/// The keys below which this step may change anything (checked before an undo uses the
/// journal's inverse edits).
fn roots() -> Vec<String> {
    let mut r: Vec<String> = PER_GUID.iter().map(|s| s.to_string()).collect();
    r.push(MY_CERTS.into());
    r.push(format!(r"{TASK_CACHE}\Tree{TASK_PATH}"));
    r.push(format!(r"{TASK_CACHE}\Tasks"));
    r.extend(TASK_INDEXES.iter().map(|i| format!(r"{TASK_CACHE}\{i}")));
    r
}

fn allowed(path: &str) -> bool {
    let lower = path.to_lowercase();
    lower == ENROLLMENTS.to_lowercase()
        || roots()
            .iter()
            .any(|r| lower.starts_with(&format!(r"{}\", r.to_lowercase())))
}

/// Whether the journal may hold `e`: deletions (creations, for the undo) of keys below
/// the step's roots, and value changes there or of the residue values on the
/// Enrollments key itself.
fn edit_allowed(e: &RegEdit, undo: bool) -> bool {
    let on_enrollments = e.path().eq_ignore_ascii_case(ENROLLMENTS);
    match e {
        RegEdit::DeleteKey { path } if !undo => allowed(path) && !on_enrollments,
        RegEdit::CreateKey { path } if undo => allowed(path) && !on_enrollments,
        RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name } => {
            allowed(path)
                && (!on_enrollments
                    || ["MmpcEnrollmentFlag", "ExternallyManaged"]
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case(name)))
        }
        _ => false,
    }
}

/// The edits that rebuild a SOFTWARE key and everything below it (keys first, then
/// values).
fn rebuild(host: &dyn Registry, path: &str, out: &mut Vec<RegEdit>) -> Result<()> {
    super::machine_keys::copy_tree(host, MachineHive::Software, path, path, out)
}

/// The edits that put back what `edits` change, read before the change; the groups
/// run last edit first.
fn inverse(host: &dyn Registry, edits: &[RegEdit]) -> Result<Vec<RegEdit>> {
    let mut groups = Vec::new();
    for e in edits {
        let mut g = Vec::new();
        match e {
            RegEdit::DeleteKey { path } => rebuild(host, path, &mut g)?,
            RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name } => {
                g.push(super::registry::value_inverse(
                    host,
                    MachineHive::Software,
                    path,
                    name,
                )?);
            }
            other => {
                return Err(Error::Invalid(format!(
                    "the mdm step does not make {other:?}"
                )));
            }
        }
        groups.push(g);
    }
    Ok(groups.into_iter().rev().flatten().collect())
}

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t MdmIntent> {
    match trace.intent? {
        Intent::Mdm(i) => Some(i),
        _ => None,
    }
}

/// One line per enrollment for check and plan.
pub(crate) fn describe(e: &crate::mdm::Enrollment) -> String {
    format!(
        "{} (provider {}, UPN {}), found in {}: {} keys, {} tasks, {} certificates",
        e.guid,
        e.provider.as_deref().unwrap_or("-"),
        e.upn.as_deref().unwrap_or("-"),
        e.found_in,
        e.keys.len(),
        e.tasks.len(),
        e.certificates.len()
    )
}

/// Notes for `admu check`: the enrollments found, and whether they stay.
pub(crate) fn notices(
    host: &dyn crate::host::MigrationHost,
    req: &crate::migrate::MigrateRequest,
) -> Vec<crate::migrate::Notice> {
    let state = match crate::mdm::survey(host) {
        Ok(s) => s,
        Err(e) => {
            return vec![crate::migrate::Notice {
                what: "MDM enrollments",
                detail: format!("cannot be read: {e}"),
            }];
        }
    };
    state
        .enrollments
        .iter()
        .map(|e| crate::migrate::Notice {
            what: "MDM enrollment",
            detail: format!(
                "{}; {}",
                describe(e),
                match (e.jumpcloud, req.remove_mdm) {
                    (true, _) => "JumpCloud's: kept",
                    (false, true) => "removed by --remove-mdm (journaled)",
                    (false, false) =>
                        "stays: the device remains managed by it (--remove-mdm removes it)",
                }
            ),
        })
        .collect()
}

impl Step for MdmStep {
    fn id(&self) -> StepId {
        StepId::Mdm
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        if !cx.req.remove_mdm {
            return Ok(());
        }
        let state = crate::mdm::survey(cx.host)?;
        let remove: Vec<String> = state.removable().map(describe).collect();
        let kept: Vec<String> = state
            .enrollments
            .iter()
            .filter(|e| e.jumpcloud)
            .map(|e| e.guid.clone())
            .collect();
        c.add(
            "MDM enrollments (--remove-mdm)",
            true,
            format!(
                "{}{}",
                if remove.is_empty() {
                    "none to remove".to_string()
                } else {
                    format!("to remove: {}", remove.join("; "))
                },
                if kept.is_empty() {
                    String::new()
                } else {
                    format!("; JumpCloud's kept: {}", kept.join(", "))
                }
            ),
        );
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        if !cx.req.remove_mdm {
            return Ok(None);
        }
        let state = crate::mdm::survey(cx.host)?;
        let w = work(&state);
        if w.edits.is_empty() && w.folders.is_empty() {
            return Ok(None);
        }
        let mut summary: Vec<String> = state
            .removable()
            .map(|e| format!("remove enrollment {}", describe(e)))
            .collect();
        summary.extend(
            state
                .enrollments
                .iter()
                .filter(|e| e.jumpcloud)
                .map(|e| format!("keep JumpCloud's enrollment {}", describe(e))),
        );
        for e in &w.edits {
            summary.push(match e {
                RegEdit::DeleteKey { path } => format!(r"delete SOFTWARE\{path}"),
                RegEdit::SetValue { path, name, .. } => format!(r"set SOFTWARE\{path}\{name} = 0"),
                RegEdit::DeleteValue { path, name } => format!(r"delete SOFTWARE\{path}\{name}"),
                other => format!("{other:?}"),
            });
        }
        for (f, _) in &w.folders {
            summary.push(format!("move {f} into the journal's backup"));
        }
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: serde_json::to_value(&state).ok(),
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        if !cx.req.remove_mdm {
            return Ok(());
        }
        let state = crate::mdm::survey(cx.host)?;
        let w = work(&state);
        if w.edits.is_empty() && w.folders.is_empty() {
            return Ok(());
        }
        let inverse = inverse(cx.host, &w.edits)?;
        let mut moved: Vec<Moved> = Vec::new();
        for (folder, guid) in &w.folders {
            moved.push(moves::plan_move(&cx.root, folder, TASKS_LABEL, guid)?);
        }
        let backup = backup_machine_file(cx, MachineHive::Software, self.id().name())?;
        cx.intent(Intent::Mdm(MdmIntent {
            enrollments: w.enrollments.clone(),
            hive: MachineHive::Software,
            edits: w.edits.clone(),
            inverse,
            backup,
            moves: moved.clone(),
        }))?;
        moves::move_out(cx, &moved)?;
        cx.host.apply(MachineHive::Software, &w.edits)?;
        cx.done(Done::Mdm(MdmDone {
            hash: machine_file_hash(cx.host, MachineHive::Software)?,
            removed: w.enrollments,
            edits: w.edits.len(),
            task_folders: moved.len(),
            certificates: w.certificates,
        }))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        let Some(i) = intent(trace) else {
            return Ok(());
        };
        if i.hive != MachineHive::Software {
            return Err(Error::Journal(format!(
                "the mdm step names the {} hive, which it never changes: the journal was \
                 edited; nothing was changed",
                i.hive.file_name()
            )));
        }
        let bad_edit = i.edits.iter().find(|e| !edit_allowed(e, false));
        let bad_inverse = i.inverse.iter().find(|e| !edit_allowed(e, true));
        if let Some(e) = bad_edit.or(bad_inverse) {
            return Err(Error::Journal(format!(
                "the journal's mdm edits touch {}, which admu never changes: the journal was \
                 edited; nothing was changed",
                e.path()
            )));
        }
        if let Some(b) = &i.backup {
            crate::migrate::store::verify_backup(&cx.backups, b)?;
        }
        moves::verify(cx, &i.moves, &[TASKS_DIR], TASKS_LABEL)
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        machine_file_undo_how(cx, MachineHive::Software, trace)
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        let Some(i) = intent(trace) else {
            return Ok(());
        };
        match how {
            UndoHow::Nothing => {}
            UndoHow::Restore => restore_machine_file(cx, MachineHive::Software, trace)?,
            UndoHow::Logical => cx.host.apply(i.hive, &i.inverse)?,
        }
        // The folders go back whatever the registry needed: a move is undone only where
        // it happened.
        moves::move_back(cx, &i.moves)
    }

    fn touched_files(&self, cx: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        super::machine_file_touched(cx, MachineHive::Software)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_step_s_keys_are_allowed() {
        assert!(allowed(r"Microsoft\Enrollments"));
        assert!(allowed(r"Microsoft\Enrollments\Status\ABC"));
        assert!(allowed(&format!(r"{MY_CERTS}\0123")));
        assert!(allowed(&format!(
            r"{TASK_CACHE}\Tree\Microsoft\Windows\EnterpriseMgmt\X"
        )));
        assert!(!allowed(
            r"Microsoft\Windows NT\CurrentVersion\ProfileList\S-1-5-18"
        ));
        assert!(!allowed(&format!(r"{TASK_CACHE}\Tree\OneDrive")));
        assert!(!allowed(r"Microsoft\EnrollmentsX"));
    }

    #[test]
    fn only_the_kinds_of_edit_the_step_makes_are_allowed() {
        let key = r"Microsoft\Enrollments\ABC".to_string();
        let delete = RegEdit::DeleteKey { path: key.clone() };
        let create = RegEdit::CreateKey { path: key.clone() };
        assert!(edit_allowed(&delete, false) && !edit_allowed(&delete, true));
        assert!(edit_allowed(&create, true) && !edit_allowed(&create, false));
        let rename = RegEdit::RenameKey {
            path: key.clone(),
            new_name: "x".into(),
        };
        assert!(!edit_allowed(&rename, false) && !edit_allowed(&rename, true));
        // The Enrollments key itself: never deleted; only its residue values change.
        let root = RegEdit::DeleteKey {
            path: ENROLLMENTS.into(),
        };
        assert!(!edit_allowed(&root, false));
        let flag = RegEdit::DeleteValue {
            path: ENROLLMENTS.into(),
            name: "MmpcEnrollmentFlag".into(),
        };
        assert!(edit_allowed(&flag, false) && edit_allowed(&flag, true));
        let other = RegEdit::DeleteValue {
            path: ENROLLMENTS.into(),
            name: "Something".into(),
        };
        assert!(!edit_allowed(&other, true));
    }
}
