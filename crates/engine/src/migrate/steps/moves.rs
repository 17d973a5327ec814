//! Files and folders a step removes are moved into the journal's `backup` folder
//! instead (one rename on the same volume, so each keeps its descriptor, attributes and
//! times), hashed first; undo moves them back. They stay there after the commit, for
//! `admu revert`, like every other backup.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{RunContext, UndoContext};
use crate::error::{Error, Result};
use crate::host::to_hex;
use crate::journal::record::{BackupFile, Moved};

/// Every file below `path` (or `path` itself when it is a file), relative to it and
/// hashed.
pub(crate) fn manifest(path: &Path) -> Result<Vec<BackupFile>> {
    let mut out = Vec::new();
    let mut stack = vec![(path.to_path_buf(), String::new())];
    while let Some((p, rel)) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).map_err(Error::io(&p))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(&p).map_err(Error::io(&p))?;
            for e in entries {
                let e = e.map_err(Error::io(&p))?;
                let name = e.file_name().to_string_lossy().into_owned();
                let child = if rel.is_empty() {
                    name
                } else {
                    format!(r"{rel}\{name}")
                };
                stack.push((e.path(), child));
            }
        } else {
            out.push(BackupFile {
                name: rel,
                len: meta.len(),
                sha256: hash(&p)?,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    Ok(to_hex(&Sha256::digest(&bytes)))
}

/// What a step is about to move: `from` (volume-relative, matched ignoring case as
/// Windows does; the journal keeps the spelling on the volume) to `label\name` in the
/// backup folder.
pub(crate) fn plan_move(root: &Path, from: &str, label: &str, name: &str) -> Result<Moved> {
    let exact = super::super::absolute(root, from)?;
    let path = crate::paths::resolve(root, from).unwrap_or(exact);
    Ok(Moved {
        from: super::super::relative(root, &path),
        to: format!(r"{label}\{name}"),
        files: manifest(&path)?,
    })
}

/// The host path of a move's target in the backup folder; anything but `label\name`
/// of plain names is refused (the journal was edited).
fn target(backups: &Path, m: &Moved) -> Result<PathBuf> {
    let (label, name) = target_parts(m)?;
    Ok(backups.join(label).join(name))
}

/// `label` and `name` of a move's target `label\name`.
fn target_parts(m: &Moved) -> Result<(&str, &str)> {
    let parts: Vec<&str> = m.to.split('\\').collect();
    let plain = |p: &&str| !p.is_empty() && !p.starts_with('.') && !p.contains(['/', ':']);
    if parts.len() != 2 || !parts.iter().all(plain) {
        return Err(Error::Journal(format!(
            "the journal moves {:?} to {:?}, which is not a folder of its backup: it was \
             edited; nothing was changed",
            m.from, m.to
        )));
    }
    Ok((parts[0], parts[1]))
}

/// Moves each item into the backup folder (its label folder created private).
pub(crate) fn move_out(cx: &RunContext<'_>, moves: &[Moved]) -> Result<()> {
    let backups = cx.backups();
    for m in moves {
        let from = super::super::absolute(&cx.root, &m.from)?;
        let to = target(&backups, m)?;
        if let Some(dir) = to.parent()
            && !dir.exists()
        {
            crate::journal::create_private_dir(cx.host, dir)?;
        }
        std::fs::rename(&from, &to).map_err(Error::io(&from))?;
        crate::journal::sync_dir(dir_of(&to)?)?;
        crate::journal::sync_dir(dir_of(&from)?)?;
    }
    Ok(())
}

fn dir_of(p: &Path) -> Result<&Path> {
    p.parent()
        .ok_or_else(|| Error::Invalid(format!("{} has no folder", p.display())))
}

/// Where a moved item came from on this volume: the journal's path (checked to stay
/// inside the volume), matched ignoring case as Windows does. A journal written live
/// keeps the registry's spelling, and an ntfs-3g mount compares names exactly.
fn origin(cx: &UndoContext<'_>, m: &Moved) -> Result<PathBuf> {
    cx.path(&m.from)?;
    Ok(crate::paths::resolve_existing(&cx.root, &m.from))
}

/// Moves each item back where it was, last first; idempotent (what is back already,
/// or never left, is left alone).
pub(crate) fn move_back(cx: &UndoContext<'_>, moves: &[Moved]) -> Result<()> {
    for m in moves.iter().rev() {
        let from = origin(cx, m)?;
        let to = target(&cx.backups, m)?;
        if to.exists() && !from.exists() {
            // The folder it was in may have gone since (Windows removes empty ones).
            let parent = dir_of(&from)?;
            if !parent.exists() {
                std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
            }
            std::fs::rename(&to, &from).map_err(Error::io(&to))?;
            crate::journal::sync_dir(dir_of(&from)?)?;
            crate::journal::sync_dir(dir_of(&to)?)?;
        }
    }
    Ok(())
}

/// Checks, before an undo, that every moved item is where the journal says (in the
/// backup, holding what was moved, or back in place already) and that its origin lies
/// under one of `roots` (volume-relative), and that it went to this step's `label`
/// folder under its own name.
pub(crate) fn verify(
    cx: &UndoContext<'_>,
    moves: &[Moved],
    roots: &[&str],
    label: &str,
) -> Result<()> {
    for m in moves {
        let (to_label, to_name) = target_parts(m)?;
        let own_name = m.from.rsplit('\\').next().unwrap_or_default();
        if !to_label.eq_ignore_ascii_case(label) || !to_name.eq_ignore_ascii_case(own_name) {
            return Err(Error::Journal(format!(
                "the journal moves {:?} to {:?}, not to {label}\\{own_name}: it was edited; \
                 nothing was changed",
                m.from, m.to
            )));
        }
        let lower = m.from.to_lowercase();
        if !roots
            .iter()
            .any(|r| lower.starts_with(&format!(r"{}\", r.to_lowercase())))
        {
            return Err(Error::Journal(format!(
                "the journal moves {:?}, outside the places this step changes: it was \
                 edited; nothing was changed",
                m.from
            )));
        }
        let from = origin(cx, m)?;
        let to = target(&cx.backups, m)?;
        if !to.exists() {
            continue;
        }
        if from.exists() {
            return Err(Error::Journal(format!(
                "{} is both in the backup ({}) and in place: move one away by hand; \
                 nothing was changed",
                from.display(),
                to.display()
            )));
        }
        let found = manifest(&to)?;
        if found != m.files {
            return Err(Error::Journal(format!(
                "{}: the moved files were changed after they were moved (their hashes differ \
                 from the journal's); nothing was changed",
                to.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_is_planned_with_the_spelling_on_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let task = dir
            .path()
            .join("Windows/System32/Tasks/Microsoft/Windows/EnterpriseMgmt/G1");
        std::fs::create_dir_all(&task).unwrap();
        std::fs::write(
            task.join("Schedule created by enrollment client"),
            b"<Task/>",
        )
        .unwrap();
        let m = plan_move(
            dir.path(),
            r"Windows\system32\Tasks\Microsoft\Windows\EnterpriseMgmt\G1",
            "mdm_tasks",
            "G1",
        )
        .unwrap();
        // On Windows the file system matches any spelling, so the given one is kept.
        if !cfg!(windows) {
            assert_eq!(
                m.from,
                r"Windows\System32\Tasks\Microsoft\Windows\EnterpriseMgmt\G1"
            );
        }
        assert_eq!(m.to, r"mdm_tasks\G1");
        assert_eq!(m.files.len(), 1);
        let missing = plan_move(
            dir.path(),
            r"Windows\System32\Tasks\nope",
            "mdm_tasks",
            "nope",
        );
        assert!(missing.is_err());
    }
}
