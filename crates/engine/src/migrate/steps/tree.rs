//! Step: rewrite the descriptor of every file and folder of the profile that names a
//! mapped SID. Before each file changes, its old and new descriptor go into the
//! descriptor log (`backup\acl.jsonl`), which is what the undo restores from.

use std::path::{Path, PathBuf};

use super::acl_log::{DescriptorLog, Tail, read_descriptor_log, restore_from_log};
use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::error::{Error, Result};
use crate::journal::record::{Done, Intent, StepId, TreeDone, TreeIntent, UndoHow};
use crate::migrate::preflight::Checks;
use ntsec::{FileSecurity, Mode, SidMap, TreeOptions};

/// The descriptor log's name in the backup folder.
const ACL_LOG: &str = "acl.jsonl";

pub(crate) struct ProfileTree;

impl ProfileTree {
    fn intent<'t>(trace: &Trace<'t>) -> Option<&'t TreeIntent> {
        match trace.intent? {
            Intent::Tree(i) => Some(i),
            _ => None,
        }
    }
}

impl Step for ProfileTree {
    fn id(&self) -> StepId {
        StepId::Tree
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        let ok = cx.host.file_security().is_some();
        c.add(
            "file descriptors can be rewritten",
            ok,
            if ok {
                "the volume exposes NTFS security descriptors"
            } else {
                "the volume exposes no NTFS security descriptors (mount it with ntfs-3g)"
            },
        );
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let (Some(backend), Some(folder)) = (cx.host.file_security(), &cx.source.host_path) else {
            return Ok(None);
        };
        let options = TreeOptions {
            mode: cx.req.acl_mode,
            dry_run: true,
            ..TreeOptions::new(cx.map)
        };
        let report = ntsec::translate_tree(folder, backend, &options).map_err(Error::io(folder))?;
        Ok(Some(StepPlan {
            step: self.id(),
            summary: vec![format!(
                "profile folder: {} entries, {} descriptors would change, {} unreadable",
                report.seen, report.changed, report.errors_total
            )],
            changes: Vec::new(),
            report: serde_json::to_value(&report).ok(),
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let map = cx.sid_map()?;
        let new_sid = cx.account()?.sid.clone();
        let folder = cx
            .source
            .host_path
            .clone()
            .ok_or_else(|| Error::NotFound("the profile folder vanished".into()))?;
        let log_path = cx.backups().join(ACL_LOG);
        let sid_is_new = cx.account_created;
        cx.intent(Intent::Tree(TreeIntent {
            folder: cx.relative(&folder),
            log: ACL_LOG.into(),
            sid_is_new,
            new_sid,
            mode: cx.req.acl_mode,
        }))?;
        let log = DescriptorLog::create(cx.host, &log_path, &cx.root, !sid_is_new)?;
        let record = |path: &Path, old: &[u8], new: &[u8]| log.record(path, old, new);
        let volume = cx
            .host
            .file_security()
            .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
        let denied = deny_for_test(volume);
        let backend: &dyn FileSecurity = match &denied {
            Some(d) => d,
            None => volume,
        };
        let req = cx.req;
        let progress = |p: &ntsec::files::Progress| {
            req.report(crate::migrate::ProgressEvent {
                step: StepId::Tree,
                done: p.seen,
                total: None,
                message: format!(
                    "{} files and folders, {} descriptors changed, {} failed",
                    p.seen, p.changed, p.errors
                ),
            });
        };
        let options = TreeOptions {
            mode: cx.req.acl_mode,
            threads: cx.req.threads,
            progress: Some(&progress),
            on_change: Some(&record),
            max_error_details: if cx.req.allow_partial {
                usize::MAX
            } else {
                1000
            },
            ..TreeOptions::new(&map)
        };
        let report =
            ntsec::translate_tree(&folder, backend, &options).map_err(Error::io(&folder))?;
        let logged = log.finish()?;
        for e in &report.errors {
            tracing::warn!(path = %e.path.display(), "{}", e.reason);
        }
        if report.errors_total > 0 && !cx.req.allow_partial {
            let first = report
                .errors
                .first()
                .map(|e| format!("{}: {}", e.path.display(), e.reason))
                .unwrap_or_default();
            return Err(Error::Invalid(format!(
                "{} of {} descriptors in {} could not be handled (first: {first}); nothing \
                 may stay half-translated, so the migration is rolled back. Fix the cause, or \
                 accept these files keeping the old SID with --allow-partial",
                report.errors_total,
                report.seen,
                folder.display()
            )));
        }
        cx.done(Done::Tree(TreeDone { report, logged }))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        if let Some(intent) = Self::intent(trace) {
            check_log_name(&intent.log)?;
            read_descriptor_log(
                &cx.backups.join(&intent.log),
                std::slice::from_ref(&intent.folder),
                log_tail(intent),
                |_, _, _| Ok(()),
            )?;
        }
        Ok(())
    }

    fn undo_how(&self, _: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        trace.logical_once_started()
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        let Some(intent) = Self::intent(trace) else {
            return Ok(());
        };
        if how == UndoHow::Nothing {
            return Ok(());
        }
        check_log_name(&intent.log)?;
        let backend = cx
            .host
            .file_security()
            .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
        restore_from_log(
            backend,
            &cx.root,
            &cx.backups.join(&intent.log),
            std::slice::from_ref(&intent.folder),
            log_tail(intent),
        )?;
        // Entries lost with the unsynced tail of the log: a brand-new SID names exactly
        // the files admu changed, so mapping it back restores them.
        if intent.sid_is_new {
            let folder = cx.path(&intent.folder)?;
            let mut map = SidMap::new();
            map.insert(intent.new_sid.clone(), cx.begin.old_sid.clone())
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let mode = match intent.mode {
                Mode::Replace => Mode::Replace,
                Mode::Add | Mode::Remove => Mode::Remove,
            };
            let options = TreeOptions {
                mode,
                ..TreeOptions::new(&map)
            };
            let report =
                ntsec::translate_tree(&folder, backend, &options).map_err(Error::io(&folder))?;
            if report.changed > 0 {
                tracing::info!(
                    "{} descriptors restored by SID after the log",
                    report.changed
                );
            }
        }
        Ok(())
    }

    fn touched_files(&self, _: &UndoContext<'_>, _: &Trace<'_>) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// Test hook (debug builds only): `ADMU_TEST_DENY_DESCRIPTOR=<file name>` makes writing
/// the descriptor of every entry with that name fail, as a file the volume refuses
/// would.
struct DenyWrites<'a> {
    inner: &'a dyn FileSecurity,
    name: String,
}

impl FileSecurity for DenyWrites<'_> {
    fn read_into(&self, path: &Path, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read_into(path, buf)
    }

    fn write(&self, path: &Path, descriptor: &[u8]) -> std::io::Result<()> {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(&self.name))
        {
            return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        }
        self.inner.write(path, descriptor)
    }
}

fn deny_for_test(inner: &dyn FileSecurity) -> Option<DenyWrites<'_>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let name = std::env::var("ADMU_TEST_DENY_DESCRIPTOR").ok()?;
    Some(DenyWrites { inner, name })
}

/// A log of changes that introduced a brand-new SID is synced in batches: what is lost
/// of it is found again by that SID (see `undo`).
fn log_tail(intent: &TreeIntent) -> Tail {
    if intent.sid_is_new {
        Tail::MayBeLost
    } else {
        Tail::Durable
    }
}

fn check_log_name(name: &str) -> Result<()> {
    if name != ACL_LOG {
        return Err(Error::Journal(format!(
            "the tree step names descriptor log {name:?}, not {ACL_LOG}: the journal was edited"
        )));
    }
    Ok(())
}
