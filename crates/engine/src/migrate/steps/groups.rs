//! Step: put the account in local groups: Administrators with `--admin` (for an existing
//! account; a new one is created in it), and with `--keep-groups` every builtin group
//! the old SID was in.

use super::{
    CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext, backup_machine_file,
    machine_file_hash, machine_file_undo_how, restore_machine_file,
};
use crate::error::Result;
use crate::host::{Accounts, MachineHive};
use crate::journal::record::{Done, GroupsIntent, Intent, MachineFileDone, StepId, UndoHow};
use crate::migrate::MigrateRequest;
use crate::migrate::preflight::Checks;
use crate::profiles::ADMINISTRATORS;

pub(crate) struct Groups;

/// The builtin aliases the new account must join that it is not in yet.
fn wanted(
    host: &dyn Accounts,
    req: &MigrateRequest,
    old: &ntsec::Sid,
    new: &ntsec::Sid,
    created: bool,
) -> Result<Vec<u32>> {
    let mut wanted = Vec::new();
    if req.admin && !created {
        wanted.push(ADMINISTRATORS);
    }
    if req.keep_groups {
        wanted.extend(host.builtin_aliases_of(old)?);
    }
    wanted.sort_unstable();
    wanted.dedup();
    let current = host.builtin_aliases_of(new)?;
    wanted.retain(|a| !current.contains(a));
    Ok(wanted)
}

impl Step for Groups {
    fn id(&self) -> StepId {
        StepId::Groups
    }

    fn check(&self, _: &CheckContext<'_>, _: &mut Checks) -> Result<()> {
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let created = cx.existing.is_none();
        let aliases = wanted(cx.host, cx.req, cx.old_sid, cx.new_sid, created)?;
        if aliases.is_empty() {
            return Ok(None);
        }
        Ok(Some(StepPlan {
            step: self.id(),
            summary: vec![format!(
                "add {} to local groups (builtin RIDs) {aliases:?}",
                cx.req.to
            )],
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let new = cx.account()?.sid.clone();
        let aliases = wanted(cx.host, cx.req, &cx.begin.old_sid, &new, cx.account_created)?;
        if aliases.is_empty() {
            return Ok(());
        }
        let sam_backup = backup_machine_file(cx, MachineHive::Sam, "groups")?;
        cx.intent(Intent::Groups(GroupsIntent {
            sid: new.clone(),
            aliases: aliases.clone(),
            sam_backup,
        }))?;
        for alias in &aliases {
            cx.host.add_alias_member(*alias, &new)?;
        }
        let hash = machine_file_hash(cx.host, MachineHive::Sam)?;
        cx.done(Done::Groups(MachineFileDone {
            hash,
            aliases,
            edits: 0,
        }))
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        machine_file_undo_how(cx, MachineHive::Sam, trace)
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        match how {
            UndoHow::Nothing => Ok(()),
            UndoHow::Restore => restore_machine_file(cx, MachineHive::Sam, trace),
            UndoHow::Logical => {
                if let Some(Intent::Groups(intent)) = trace.intent {
                    for alias in intent.aliases.iter().rev() {
                        cx.host.remove_alias_member(*alias, &intent.sid)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn touched_files(&self, cx: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        super::machine_file_touched(cx, MachineHive::Sam)
    }
}
