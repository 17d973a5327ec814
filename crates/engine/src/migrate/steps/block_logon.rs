//! Step (live, `--block-logon`): the old account is denied interactive logon
//! (`SeDenyInteractiveLogonRight`) while its profile is converted, so nobody signs in
//! half-way. The right is lifted again right after the commit, by every rollback, by
//! `recover` and by `revert` (ADMU once shipped a lockout here: lifting is idempotent
//! and journaled).

use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::error::{Error, Result};
use crate::journal::record::{BlockLogonDone, BlockLogonIntent, Done, Intent, StepId, UndoHow};
use crate::live::Live;
use crate::migrate::preflight::Checks;

pub(crate) struct BlockLogon;

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t BlockLogonIntent> {
    match trace.intent? {
        Intent::BlockLogon(i) => Some(i),
        _ => None,
    }
}

/// Lifts the block a journal records, unless the account was denied before admu.
pub(crate) fn release(live: &dyn Live, trace: &Trace<'_>) -> Result<()> {
    match intent(trace) {
        Some(i) if !i.already_denied => live.set_logon_denied(&i.sid, false),
        _ => Ok(()),
    }
}

impl Step for BlockLogon {
    fn id(&self) -> StepId {
        StepId::BlockLogon
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        if cx.req.block_logon {
            let live = cx.host.live().is_some();
            c.add(
                "--block-logon can be applied",
                live,
                if live {
                    "the old account is denied interactive logon during the migration"
                } else {
                    "--block-logon works on the live system only (run admu on the Windows it \
                     migrates, without --root); offline nobody can log on anyway"
                },
            );
        }
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        if !cx.req.block_logon {
            return Ok(None);
        }
        Ok(Some(StepPlan {
            step: self.id(),
            summary: vec![format!(
                "deny {} interactive logon (SeDenyInteractiveLogonRight) until the migration \
                 ends; lifted after the commit, by rollback, recover and revert",
                cx.old_sid
            )],
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        if !cx.req.block_logon {
            return Ok(());
        }
        let sid = cx.begin.old_sid.clone();
        let live = cx
            .host
            .live()
            .ok_or_else(|| Error::Invalid("--block-logon needs the live system".into()))?;
        let already_denied = live.logon_denied(&sid)?;
        cx.intent(Intent::BlockLogon(BlockLogonIntent {
            sid: sid.clone(),
            already_denied,
        }))?;
        if !already_denied {
            let live = cx
                .host
                .live()
                .ok_or_else(|| Error::Invalid("--block-logon needs the live system".into()))?;
            live.set_logon_denied(&sid, true)?;
        }
        cx.done(Done::BlockLogon(BlockLogonDone { sid }))
    }

    fn undo_how(&self, _: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        Ok(match intent(trace) {
            Some(i) if !i.already_denied => UndoHow::Logical,
            _ => UndoHow::Nothing,
        })
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        if how == UndoHow::Nothing {
            return Ok(());
        }
        match cx.host.live() {
            Some(live) => release(live, trace),
            None => Err(Error::Invalid(
                "the old account's interactive logon was blocked on the live system; run \
                 `admu recover` there (without --root) to lift it"
                    .into(),
            )),
        }
    }

    fn touched_files(&self, _: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}
