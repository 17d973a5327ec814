//! Step (`--sweep-files`): file and folder descriptors naming the old SID outside the
//! profile folder (a folder the user created and shared, `C:\Projects\shared`, files the
//! user owns elsewhere). They can be shared data other people rely on, so without the
//! flag nothing changes: `admu check` and the dry run say how many there are
//! ("not changed; --sweep-files would translate N files") and the plan lists them.
//!
//! The walk is streamed (a stack of folders still to read; links and junctions are not
//! followed) over the whole volume but the migrated profile (the tree step's) and admu's
//! own folder. Each descriptor is translated as the profile's (the request's SID map and
//! ACL mode); the old and new descriptor go into the descriptor log, synced, before the
//! file changes, so undo (revert, recover) restores exactly the files changed.

use std::path::{Path, PathBuf};

use ntsec::{FileSecurity, SecurityDescriptor, Sid, SidMap};

use super::acl_log::{DescriptorLog, Tail, read_descriptor_log, restore_from_log};
use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::error::{Error, Result};
use crate::host::{MachineHive, Volume};
use crate::journal::record::{Done, Intent, StepId, SweepDone, SweepIntent, UndoHow};
use crate::migrate::preflight::Checks;
use crate::profiles::Profile;

/// The descriptor log's name in the backup folder.
const LOG: &str = "sweep_acl.jsonl";
/// How many files the check and the plan name.
const LISTED: usize = 20;

pub(crate) struct SweepFiles;

/// Where the walk goes: the volume root, minus the migrated profile, admu's folder and
/// the old SID's recycle bin (the `outside_profile` step's).
struct Scope {
    root: PathBuf,
    skip: Vec<PathBuf>,
}

impl Scope {
    /// Whether the walk leaves `path` out (compared as Windows compares paths).
    fn skipped(&self, path: &Path) -> bool {
        self.skip.iter().any(|s| crate::paths::same_path(s, path))
    }
}

fn scope(host: &dyn Volume, source: &Profile) -> Option<Scope> {
    let root = host.host_path(r"%SystemDrive%\")?;
    let mut skip: Vec<PathBuf> = source.host_path.iter().cloned().collect();
    skip.extend(host.host_path(r"%SystemDrive%\ProgramData\admu"));
    if let Some(sid) = &source.sid {
        skip.extend(host.host_path(&format!(r"%SystemDrive%\$Recycle.Bin\{sid}")));
    }
    Some(Scope { root, skip })
}

/// Counts of a walk.
#[derive(Debug, Default)]
struct Walked {
    seen: u64,
    /// Entries whose descriptor names the old SID and would change.
    found: u64,
    changed: u64,
    failed: u64,
    /// The first few found, volume-relative.
    listed: Vec<String>,
    first_error: Option<String>,
}

/// Walks the scope and calls `each` with every entry whose descriptor names `old` and
/// translates to something else (old and new descriptor). Reading errors skip the entry.
fn walk(
    scope: &Scope,
    backend: &dyn FileSecurity,
    old: &Sid,
    map: &SidMap,
    mode: ntsec::Mode,
    mut each: impl FnMut(&Path, &[u8], &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut seen = 0u64;
    let mut buf = Vec::new();
    let mut dirs = vec![scope.root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if scope.skipped(&path) {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && !kind.is_symlink() {
                dirs.push(path.clone());
            }
            seen += 1;
            if backend.read(&path, &mut buf).is_err() {
                continue;
            }
            let names = SecurityDescriptor::from_bytes(&buf)
                .map(|sd| sd.sids().any(|s| s == old))
                .unwrap_or(false);
            if !names {
                continue;
            }
            if let Ok(Some(new)) = ntsec::translate_bytes(&buf, map, mode) {
                each(&path, &buf, &new)?;
            }
        }
    }
    Ok(seen)
}

/// Counts (and names the first few of) the files the sweep would change.
fn survey(
    host: &dyn Volume,
    source: &Profile,
    old: &Sid,
    map: &SidMap,
    mode: ntsec::Mode,
) -> Result<Option<Walked>> {
    let (Some(backend), Some(scope)) = (host.file_security(), scope(host, source)) else {
        return Ok(None);
    };
    let mut w = Walked::default();
    w.seen = walk(&scope, backend, old, map, mode, |path, _, _| {
        w.found += 1;
        if w.listed.len() < LISTED {
            w.listed.push(super::super::relative(&scope.root, path));
        }
        Ok(())
    })?;
    Ok(Some(w))
}

fn listing(w: &Walked) -> Vec<String> {
    let mut lines: Vec<String> = w.listed.iter().map(|p| format!("  {p}")).collect();
    if w.found > w.listed.len() as u64 {
        lines.push(format!("  … and {} more", w.found - w.listed.len() as u64));
    }
    lines
}

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t SweepIntent> {
    match trace.intent? {
        Intent::SweepFiles(i) => Some(i),
        _ => None,
    }
}

fn check_log_name(name: &str) -> Result<()> {
    if name == LOG {
        Ok(())
    } else {
        Err(Error::Journal(format!(
            "the sweep step names descriptor log {name:?}, not {LOG}: the journal was edited"
        )))
    }
}

impl Step for SweepFiles {
    fn id(&self) -> StepId {
        StepId::SweepFiles
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        let Some(source) = cx.source else {
            return Ok(());
        };
        let Some(old) = &source.sid else {
            return Ok(());
        };
        // Live, the walk covers the whole system drive: too slow for a check that runs
        // again as the window's fields change. It runs when asked to translate.
        let live = cx.host.machine_hive_file(MachineHive::Software).is_none();
        if live && !cx.req.sweep_files {
            c.add(
                "files outside the profile",
                true,
                format!(
                    "not scanned (it walks the whole drive): admu sids --sid {old} --files \
                     all lists them; --sweep-files translates them"
                ),
            );
            return Ok(());
        }
        // The new SID is not known yet: a placeholder (the Null SID, never a profile's)
        // shows what would change.
        let mut map = cx.req.extra_map.clone();
        let placeholder: Sid = "S-1-0-0"
            .parse()
            .map_err(|e| Error::Invalid(format!("{e}")))?;
        map.insert(old.clone(), placeholder)
            .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
        let Some(w) = survey(cx.host, source, old, &map, cx.req.acl_mode)? else {
            return Ok(());
        };
        if w.found == 0 {
            return Ok(());
        }
        let mut reason = if cx.req.sweep_files {
            format!(
                "{} files and folders outside the profile name {old}: --sweep-files \
                 translates them",
                w.found
            )
        } else {
            format!(
                "{} files and folders outside the profile name {old}: not changed; \
                 --sweep-files would translate {} files",
                w.found, w.found
            )
        };
        for line in listing(&w) {
            reason.push('\n');
            reason.push_str(&line);
        }
        c.add("files outside the profile", true, reason);
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let Some(w) = survey(cx.host, cx.source, cx.old_sid, cx.map, cx.req.acl_mode)? else {
            return Ok(None);
        };
        if w.found == 0 {
            return Ok(None);
        }
        let mut summary = vec![if cx.req.sweep_files {
            format!(
                "files outside the profile: {} of {} entries name {} and are translated",
                w.found, w.seen, cx.old_sid
            )
        } else {
            format!(
                "files outside the profile: {} name {}: not changed; --sweep-files would \
                 translate {} files",
                w.found, cx.old_sid, w.found
            )
        }];
        summary.extend(listing(&w));
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        if !cx.req.sweep_files {
            return Ok(());
        }
        let map = cx.sid_map()?;
        let old = cx.begin.old_sid.clone();
        let Some(scope) = scope(cx.host, cx.source) else {
            return Ok(());
        };
        let backend = cx
            .host
            .file_security()
            .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
        // Is there anything? (Most volumes have nothing: no records then.)
        let mut any = false;
        walk(&scope, backend, &old, &map, cx.req.acl_mode, |_, _, _| {
            any = true;
            Ok(())
        })?;
        if !any {
            return Ok(());
        }
        let places = top_level(&scope)?;
        cx.intent(Intent::SweepFiles(SweepIntent {
            log: LOG.into(),
            places,
        }))?;
        let log = DescriptorLog::create(cx.host, &cx.backups().join(LOG), &cx.root, true)?;
        let backend = cx
            .host
            .file_security()
            .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
        let mut w = Walked::default();
        w.seen = walk(
            &scope,
            backend,
            &old,
            &map,
            cx.req.acl_mode,
            |path, before, after| {
                log.record(path, before, after).map_err(Error::io(path))?;
                match backend.write(path, after) {
                    Ok(()) => w.changed += 1,
                    Err(e) => {
                        w.failed += 1;
                        tracing::warn!(path = %path.display(), "descriptor not written: {e}");
                        w.first_error
                            .get_or_insert_with(|| format!("{}: {e}", path.display()));
                    }
                }
                Ok(())
            },
        )?;
        log.finish()?;
        if let Some(e) = &w.first_error
            && !cx.req.allow_partial
        {
            return Err(Error::Invalid(format!(
                "{} descriptors outside the profile could not be written (first: {e}); \
                 rolled back (or pass --allow-partial)",
                w.failed
            )));
        }
        cx.done(Done::SweepFiles(SweepDone {
            seen: w.seen,
            changed: w.changed,
            failed: w.failed,
        }))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        if let Some(i) = intent(trace) {
            check_log_name(&i.log)?;
            if cx.host.file_security().is_none() {
                return Err(Error::Refused(
                    "this migration rewrote file descriptors (--sweep-files), and this volume \
                     exposes none: mount it with ntfs-3g to undo them. Nothing was changed"
                        .into(),
                ));
            }
            read_descriptor_log(
                &cx.backups.join(&i.log),
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
        check_log_name(&i.log)?;
        let backend = cx
            .host
            .file_security()
            .ok_or_else(|| Error::Invalid("the volume exposes no security descriptors".into()))?;
        // Every entry was synced before its file changed: the log names them all.
        restore_from_log(
            backend,
            &cx.root,
            &cx.backups.join(&i.log),
            &i.places,
            Tail::Durable,
        )?;
        Ok(())
    }

    fn touched_files(&self, _: &UndoContext<'_>, _: &Trace<'_>) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// The volume's top-level entries but the skipped ones, volume-relative: the log may
/// name paths below these only.
fn top_level(scope: &Scope) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(&scope.root).map_err(Error::io(&scope.root))?;
    Ok(entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| !scope.skipped(p))
        .map(|p| super::super::relative(&scope.root, &p))
        .collect())
}
