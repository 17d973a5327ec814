//! Step: the user's files Windows keeps outside the profile folder, by SID: the recycle
//! bin (`$Recycle.Bin\<SID>`, renamed to the new SID with every descriptor in it
//! translated) and scheduled tasks that run as the user (`System32\Tasks\…`: the XML's
//! `UserId`/`URI` by SID and `Author` by `DOMAIN\name` rewritten, the file renamed when
//! its name holds the SID, its descriptor translated). The registry side of tasks is the
//! `machine_keys` step.

use std::path::{Path, PathBuf};

use ntsec::{SidMap, TreeOptions};

use super::acl_log::{DescriptorLog, Tail, read_descriptor_log, restore_from_log};
use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::census::{decode_xml, elements};
use crate::convert::replace_sid_text;
use crate::error::{Error, Result};
use crate::host::Volume;
use crate::journal::record::{
    Done, Intent, OutsideDone, OutsideIntent, Rename, Rewrite, StepId, UndoHow,
};
use crate::migrate::preflight::Checks;
use crate::migrate::store;

const LOG: &str = "outside_acl.jsonl";
const RECYCLE_BIN: &str = r"$Recycle.Bin";
const TASKS: &str = r"Windows\System32\Tasks";

pub(crate) struct OutsideProfile;

/// What the step would do on this volume.
struct Work {
    renames: Vec<Rename>,
    /// Task files to rewrite (volume-relative, before renaming) and their new text.
    rewrites: Vec<(String, String)>,
}

fn relative_in(host: &dyn Volume, rel: &str) -> Option<PathBuf> {
    host.host_path(&format!(r"C:\{rel}"))
}

/// Finds the recycle bin and the task files of the old SID.
fn survey(
    host: &dyn Volume,
    old: &str,
    new: &str,
    old_account: &str,
    new_author: &str,
) -> Result<Work> {
    let mut work = Work {
        renames: Vec::new(),
        rewrites: Vec::new(),
    };
    if let Some(bin) = relative_in(host, &format!(r"{RECYCLE_BIN}\{old}")) {
        let name = bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if relative_in(host, &format!(r"{RECYCLE_BIN}\{new}")).is_some() {
            return Err(Error::Invalid(format!(
                r"{RECYCLE_BIN}\{new} exists already: the new account has a recycle bin"
            )));
        }
        work.renames.push(Rename {
            from: format!(r"{RECYCLE_BIN}\{name}"),
            to: format!(r"{RECYCLE_BIN}\{new}"),
        });
    }
    let Some(tasks) = relative_in(host, TASKS) else {
        return Ok(work);
    };
    let mut stack = vec![tasks.clone()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(Error::io(&dir))?;
        for e in entries.flatten() {
            let path = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
                continue;
            }
            let rel_in_tasks = path
                .strip_prefix(&tasks)
                .map(|p| p.to_string_lossy().replace('/', "\\"))
                .unwrap_or_default();
            let rel = format!(r"{TASKS}\{rel_in_tasks}");
            let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
            let text = decode_xml(&bytes);
            let by_author = elements(&text, "Author")
                .iter()
                .any(|a| a.eq_ignore_ascii_case(old_account));
            let mut rewritten = replace_sid_text(&text, old, new);
            if by_author {
                let base = rewritten.clone().unwrap_or_else(|| text.clone());
                rewritten = Some(base.replace(
                    &format!("<Author>{old_account}</Author>"),
                    &format!("<Author>{new_author}</Author>"),
                ));
            }
            if let Some(t) = rewritten {
                work.rewrites.push((rel.clone(), t));
            }
            if let Some(renamed) = replace_sid_text(&rel_in_tasks, old, new) {
                work.renames.push(Rename {
                    from: rel,
                    to: format!(r"{TASKS}\{renamed}"),
                });
            }
        }
    }
    Ok(work)
}

/// UTF-16LE with a BOM, as Task Scheduler writes its XML.
fn encode_task(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t OutsideIntent> {
    match trace.intent? {
        Intent::OutsideProfile(i) => Some(i),
        _ => None,
    }
}

impl Step for OutsideProfile {
    fn id(&self) -> StepId {
        StepId::OutsideProfile
    }

    fn check(&self, _: &CheckContext<'_>, _: &mut Checks) -> Result<()> {
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let computer = cx.host.computer_name().unwrap_or_default();
        let work = survey(
            cx.host,
            &cx.old_sid.to_string(),
            &cx.new_sid.to_string(),
            &cx.source.account,
            &format!(r"{computer}\{}", cx.req.to),
        )?;
        if work.renames.is_empty() && work.rewrites.is_empty() {
            return Ok(None);
        }
        let mut summary: Vec<String> = work
            .renames
            .iter()
            .map(|r| format!("rename {} -> {}", r.from, r.to))
            .collect();
        summary.extend(
            work.rewrites
                .iter()
                .map(|(f, _)| format!("rewrite the task's principal: {f}")),
        );
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let account = cx.account()?.clone();
        let computer = cx.host.computer_name().unwrap_or_default();
        let (old, new) = (cx.begin.old_sid.to_string(), account.sid.to_string());
        let work = survey(
            cx.host,
            &old,
            &new,
            &cx.source.account,
            &format!(r"{computer}\{}", account.name),
        )?;
        if work.renames.is_empty() && work.rewrites.is_empty() {
            return Ok(());
        }
        let backups = cx.backups();
        let mut rewrites = Vec::new();
        for (i, (rel, _)) in work.rewrites.iter().enumerate() {
            let file = super::super::absolute(&cx.root, rel)?;
            let label = format!("outside-{i}");
            let backup = store::backup_file(cx.host, &backups, &label, &file)?;
            rewrites.push(Rewrite {
                file: rel.clone(),
                backup,
            });
        }
        // Where everything is once renamed: the places whose descriptors are translated.
        let mut places: Vec<String> = work.renames.iter().map(|r| r.to.clone()).collect();
        for (f, _) in &work.rewrites {
            if !work.renames.iter().any(|r| &r.from == f) {
                places.push(f.clone());
            }
        }
        cx.intent(Intent::OutsideProfile(OutsideIntent {
            renames: work.renames.clone(),
            rewrites,
            places: places.clone(),
        }))?;
        for (rel, text) in &work.rewrites {
            let file = super::super::absolute(&cx.root, rel)?;
            store::replace_file(cx.host, &file, &encode_task(text))?;
        }
        for r in &work.renames {
            let from = super::super::absolute(&cx.root, &r.from)?;
            let to = super::super::absolute(&cx.root, &r.to)?;
            std::fs::rename(&from, &to).map_err(Error::io(&from))?;
            if let Some(parent) = to.parent() {
                crate::journal::sync_dir(parent)?;
            }
        }
        let descriptors = translate(cx, &places, &old, &new)?;
        cx.done(Done::OutsideProfile(OutsideDone {
            renamed: work.renames.len(),
            rewritten: work.rewrites.len(),
            descriptors,
        }))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        if let Some(i) = intent(trace) {
            for r in &i.rewrites {
                store::verify_backup(&cx.backups, &r.backup)?;
            }
            for r in &i.renames {
                for p in [&r.from, &r.to] {
                    if !p.starts_with(RECYCLE_BIN) && !p.starts_with(TASKS) {
                        return Err(Error::Journal(format!(
                            "the journal renames {p}, outside the places this step changes: \
                             it was edited; nothing was changed"
                        )));
                    }
                }
            }
            read_descriptor_log(
                &cx.backups.join(LOG),
                &i.places,
                Tail::Durable,
                |_, _, _| Ok(()),
            )?;
        }
        Ok(())
    }

    fn undo_how(&self, _: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        trace.logical_once_started()
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        let Some(i) = intent(trace) else {
            return Ok(());
        };
        if how == UndoHow::Nothing {
            return Ok(());
        }
        if let Some(backend) = cx.host.file_security() {
            restore_from_log(
                backend,
                &cx.root,
                &cx.backups.join(LOG),
                &i.places,
                Tail::Durable,
            )?;
        }
        for r in i.renames.iter().rev() {
            let from = cx.path(&r.from)?;
            let to = cx.path(&r.to)?;
            if to.exists() && !from.exists() {
                std::fs::rename(&to, &from).map_err(Error::io(&to))?;
                if let Some(parent) = from.parent() {
                    crate::journal::sync_dir(parent)?;
                }
            }
        }
        for r in &i.rewrites {
            let file = cx.path(&r.file)?;
            if !store::matches_backup(&file, &r.backup) {
                store::restore_backup(cx.host, &cx.backups, &r.backup, &file)?;
            }
        }
        Ok(())
    }

    fn touched_files(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Vec<PathBuf> {
        intent(trace)
            .map(|i| {
                i.rewrites
                    .iter()
                    .filter_map(|r| cx.path(&r.file).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Translates the descriptors of the renamed and rewritten places, logged.
fn translate(cx: &mut RunContext<'_>, places: &[String], old: &str, new: &str) -> Result<u64> {
    let Some(backend) = cx.host.file_security() else {
        return Ok(0);
    };
    let mut map = SidMap::new();
    map.insert(
        old.parse().map_err(|e| Error::Invalid(format!("{e}")))?,
        new.parse().map_err(|e| Error::Invalid(format!("{e}")))?,
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let log = DescriptorLog::create(cx.host, &cx.backups().join(LOG), &cx.root, true)?;
    let record = |path: &Path, o: &[u8], n: &[u8]| log.record(path, o, n);
    let options = TreeOptions {
        mode: cx.req.acl_mode,
        on_change: Some(&record),
        ..TreeOptions::new(&map)
    };
    let mut failed = Vec::new();
    for rel in places {
        let path = super::super::absolute(&cx.root, rel)?;
        let report = ntsec::translate_tree(&path, backend, &options).map_err(Error::io(&path))?;
        failed.extend(report.errors);
    }
    let logged = log.finish()?;
    if let Some(e) = failed.first()
        && !cx.req.allow_partial
    {
        return Err(Error::Invalid(format!(
            "{}: {}; rolled back (or pass --allow-partial)",
            e.path.display(),
            e.reason
        )));
    }
    Ok(logged)
}
