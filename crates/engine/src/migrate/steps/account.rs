//! Step: create the local account the profile goes to (skipped with `--to-existing`).

use super::{
    CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext, backup_machine_file,
    machine_file_hash, machine_file_undo_how, restore_machine_file,
};
use crate::error::{Error, Result};
use crate::host::{MachineHive, NewAccount};
use crate::journal::record::{AccountDone, AccountIntent, Done, Intent, StepId, UndoHow};
use crate::migrate::preflight::Checks;

pub(crate) struct CreateAccount;

impl Step for CreateAccount {
    fn id(&self) -> StepId {
        StepId::Account
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        let req = cx.req;
        let name_rule = sam::validate_name(&req.to);
        c.add(
            "new name follows Windows' rules",
            name_rule.is_ok(),
            match &name_rule {
                Ok(()) => format!("{:?}: 1-20 characters, none of \"/\\[]:;|=,+*?<>@", req.to),
                Err(e) => e.to_string(),
            },
        );
        match cx.host.computer_name() {
            Ok(computer) => {
                let same = computer.eq_ignore_ascii_case(&req.to);
                c.add(
                    "new name differs from the computer name",
                    !same,
                    if same {
                        format!("the computer is called {computer}")
                    } else {
                        format!("computer is {computer}")
                    },
                );
            }
            Err(e) => {
                c.add(
                    "new name differs from the computer name",
                    false,
                    format!("cannot read the computer name: {e}"),
                );
            }
        }
        if req.to_existing {
            c.add(
                "existing account found",
                cx.existing.is_some(),
                match cx.existing {
                    Some(u) => format!("{} is {}", u.name, u.sid),
                    None => format!(
                        "--to-existing: there is no local account named {:?}",
                        req.to
                    ),
                },
            );
            return Ok(());
        }
        let taken = cx.host.name_in_use(&req.to)?;
        c.add(
            "new name is free",
            taken.is_none(),
            taken.unwrap_or_else(|| "no user, group or alias has this name".into()),
        );
        c.add(
            "password given",
            req.password.is_some(),
            if req.password.is_some() {
                "from --password-file or --password-env".to_string()
            } else {
                "the new account needs a password: --password-file FILE or --password-env VAR"
                    .to_string()
            },
        );
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let summary = match cx.existing {
            Some(u) => format!("use existing account {} ({})", u.name, u.sid),
            None => format!(
                "create local account {} ({}; the RID is assigned at creation){}",
                cx.req.to,
                cx.new_sid,
                if cx.req.admin {
                    ", member of Users and Administrators"
                } else {
                    ", member of Users"
                }
            ),
        };
        Ok(Some(StepPlan {
            step: self.id(),
            summary: vec![summary],
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        if let Some(existing) = cx.existing.clone() {
            cx.account = Some(existing);
            return Ok(());
        }
        let password = cx
            .req
            .password
            .clone()
            .ok_or_else(|| Error::Invalid("no password for the new account".into()))?;
        let sam_backup = backup_machine_file(cx, MachineHive::Sam, "account")?;
        cx.intent(Intent::Account(AccountIntent {
            name: cx.req.to.clone(),
            sam_backup,
        }))?;
        let comment = format!("Migrated by admu from {}", cx.source.account);
        let user = cx.host.create_user(&NewAccount {
            name: &cx.req.to,
            full_name: "",
            comment: &comment,
            password: password.expose(),
            admin: cx.req.admin,
        })?;
        let sam_hash = machine_file_hash(cx.host, MachineHive::Sam)?;
        cx.done(Done::Account(AccountDone {
            rid: user.rid,
            sid: user.sid.clone(),
            name: user.name.clone(),
            sam_hash,
        }))?;
        cx.account = Some(user);
        cx.account_created = true;
        Ok(())
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        machine_file_undo_how(cx, MachineHive::Sam, trace)
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        match how {
            UndoHow::Nothing => Ok(()),
            UndoHow::Restore => restore_machine_file(cx, MachineHive::Sam, trace),
            UndoHow::Logical => {
                let Some(Intent::Account(intent)) = trace.intent else {
                    return Ok(());
                };
                // The RID when the creation was journaled; else the name, which
                // preflight proved free, so an account holding it now is ours.
                let rid = match trace.done {
                    Some(Done::Account(d)) => Some(d.rid),
                    _ => None,
                };
                let user = cx.host.users()?.into_iter().find(|u| match rid {
                    Some(rid) => u.rid == rid,
                    None => u.name.eq_ignore_ascii_case(&intent.name),
                });
                if let Some(u) = user {
                    cx.host.delete_user(u.rid)?;
                }
                Ok(())
            }
        }
    }

    fn touched_files(&self, cx: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        super::machine_file_touched(cx, MachineHive::Sam)
    }
}
