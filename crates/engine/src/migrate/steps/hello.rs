//! Step `hello` (`--remove-hello`): the old SID's Windows Hello (NGC) containers are
//! moved into the journal's backup folder, so the new account can set up a PIN again;
//! revert and recover move them back. The biometric databases (`WinBioDatabase\*.DAT`)
//! are a private format shared by every user of a sensor: they are reported, never
//! changed (`crate::mdm::hello`).

use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext, moves};
use crate::error::Result;
use crate::journal::record::{Done, HelloDone, HelloIntent, Intent, StepId, UndoHow};
use crate::mdm::hello::{HelloState, NGC_DIR};
use crate::migrate::preflight::Checks;

pub(crate) struct HelloStep;

const LABEL: &str = "hello";

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t HelloIntent> {
    match trace.intent? {
        Intent::Hello(i) => Some(i),
        _ => None,
    }
}

/// What stays behind: biometric databases that name the SID.
pub(crate) fn biometric_note(state: &HelloState) -> Option<String> {
    let named: Vec<&str> = state
        .databases
        .iter()
        .filter(|d| d.names_sid == Some(true))
        .map(|d| d.file.as_str())
        .collect();
    (!named.is_empty()).then(|| {
        format!(
            "the biometric database {} holds templates of the old SID: admu does not edit \
             that format; remove the fingerprint or face in Settings > Accounts > Sign-in \
             options as the old user before migrating, or reset the sensor's database on \
             Windows, else Windows says the fingerprint is set up by another account",
            named.join(", ")
        )
    })
}

/// Notes for `admu check`: the old SID's Hello containers and biometric templates.
pub(crate) fn notices(
    host: &dyn crate::host::MigrationHost,
    req: &crate::migrate::MigrateRequest,
    sid: &ntsec::Sid,
) -> Vec<crate::migrate::Notice> {
    let state = match crate::mdm::hello::survey(host, Some(sid)) {
        Ok(s) => s,
        Err(e) => {
            return vec![crate::migrate::Notice {
                what: "Windows Hello",
                detail: format!("cannot be read: {e}"),
            }];
        }
    };
    let mut out = Vec::new();
    let mine: Vec<&str> = state
        .of(&sid.to_string())
        .map(|c| c.folder.as_str())
        .collect();
    if !mine.is_empty() {
        out.push(crate::migrate::Notice {
            what: "Windows Hello (PIN) container",
            detail: format!(
                "{} names {sid}: its keys are bound to the old SID; {}",
                mine.join(", "),
                if req.remove_hello {
                    "--remove-hello moves it into the journal's backup so the new account can \
                     set up a PIN"
                } else {
                    "it stays (--remove-hello clears it so the new account can set up a PIN)"
                }
            ),
        });
    }
    if let Some(why) = &state.unreadable {
        out.push(crate::migrate::Notice {
            what: "Windows Hello (PIN) container",
            detail: format!("the NGC folder cannot be read: {why}"),
        });
    }
    if let Some(note) = biometric_note(&state) {
        out.push(crate::migrate::Notice {
            what: "biometric templates",
            detail: note,
        });
    }
    out
}

impl Step for HelloStep {
    fn id(&self) -> StepId {
        StepId::Hello
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        if !cx.req.remove_hello {
            return Ok(());
        }
        let source = crate::migrate::find_source(cx.host, &cx.req.from).ok();
        let Some(sid) = source.and_then(|p| p.sid) else {
            return Ok(());
        };
        let state = crate::mdm::hello::survey(cx.host, Some(&sid))?;
        let mine: Vec<&str> = state
            .of(&sid.to_string())
            .map(|c| c.guid.as_str())
            .collect();
        let readable = state.unreadable.is_none();
        c.add(
            "Windows Hello containers (--remove-hello)",
            readable,
            match (&state.unreadable, mine.is_empty()) {
                (Some(why), _) => {
                    format!("the NGC folder cannot be read ({why}): run admu as SYSTEM to clear it")
                }
                (None, true) => format!("{sid} has no NGC container"),
                (None, false) => format!(
                    "{} NGC containers of {sid} will move into the journal's backup: {}",
                    mine.len(),
                    mine.join(", ")
                ),
            },
        );
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        if !cx.req.remove_hello {
            return Ok(None);
        }
        let state = crate::mdm::hello::survey(cx.host, Some(cx.old_sid))?;
        let old = cx.old_sid.to_string();
        let mut summary: Vec<String> = state
            .of(&old)
            .map(|c| {
                format!(
                    "move {} ({} files) into the journal's backup",
                    c.folder, c.files
                )
            })
            .collect();
        if summary.is_empty() {
            return Ok(None);
        }
        summary.extend(biometric_note(&state));
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: serde_json::to_value(&state).ok(),
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        if !cx.req.remove_hello {
            return Ok(());
        }
        let sid = cx.begin.old_sid.clone();
        let state = crate::mdm::hello::survey(cx.host, Some(&sid))?;
        let mut moved = Vec::new();
        for c in state.of(&sid.to_string()) {
            moved.push(moves::plan_move(&cx.root, &c.folder, LABEL, &c.guid)?);
        }
        if moved.is_empty() {
            return Ok(());
        }
        cx.intent(Intent::Hello(HelloIntent {
            sid,
            moves: moved.clone(),
        }))?;
        moves::move_out(cx, &moved)?;
        cx.done(Done::Hello(HelloDone {
            containers: moved.len(),
        }))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        match intent(trace) {
            Some(i) => moves::verify(cx, &i.moves, &[NGC_DIR], LABEL),
            None => Ok(()),
        }
    }

    fn undo_how(&self, _: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        trace.logical_once_started()
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, _: UndoHow) -> Result<()> {
        match intent(trace) {
            Some(i) => moves::move_back(cx, &i.moves),
            None => Ok(()),
        }
    }

    fn touched_files(&self, _: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}
