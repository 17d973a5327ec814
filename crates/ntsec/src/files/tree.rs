//! Translating a whole tree: a streaming walk (one open directory per level, never the
//! whole tree in memory) that never follows symlinks or junctions, reads each entry's
//! descriptor once and writes only those that name a mapped SID.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::FileSecurity;
use crate::{Mode, SidMap, translate_bytes};

/// Called before a descriptor is written, with (path, old, new); an error skips that
/// entry (it is reported) — the migration journal uses this to record old descriptors.
pub type OnChange<'a> = &'a (dyn Fn(&Path, &[u8], &[u8]) -> std::io::Result<()> + Sync);

/// How to translate a tree.
#[derive(Clone, Copy)]
pub struct TreeOptions<'a> {
    pub map: &'a SidMap,
    pub mode: Mode,
    /// Read and count; write nothing.
    pub dry_run: bool,
    /// Worker threads besides the walker; 0 does everything on the calling thread.
    /// (ntfs-3g serves one request at a time, so more threads do not help there.)
    pub threads: usize,
    /// Called about every 1024 entries and once at the end.
    pub progress: Option<&'a (dyn Fn(&Progress) + Sync)>,
    pub on_change: Option<OnChange<'a>>,
    /// How many per-path errors to keep with their reasons (all are counted).
    pub max_error_details: usize,
}

impl std::fmt::Debug for TreeOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeOptions")
            .field("map", &self.map)
            .field("mode", &self.mode)
            .field("dry_run", &self.dry_run)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl<'a> TreeOptions<'a> {
    /// Replace mode, single thread, no callbacks.
    pub fn new(map: &'a SidMap) -> Self {
        TreeOptions {
            map,
            mode: Mode::Replace,
            dry_run: false,
            threads: 0,
            progress: None,
            on_change: None,
            max_error_details: 1000,
        }
    }
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub seen: u64,
    pub changed: u64,
    pub errors: u64,
}

/// An entry that could not be handled, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathError {
    pub path: PathBuf,
    pub reason: String,
}

/// What [`translate_tree`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeReport {
    /// Files, folders and links visited.
    pub seen: u64,
    /// Descriptors rewritten (or, in a dry run, that would be).
    pub changed: u64,
    /// Descriptors that name no mapped SID.
    pub unchanged: u64,
    /// Entries skipped because of an error (all of them, even past the details kept).
    pub errors_total: u64,
    /// The first errors, with reasons.
    pub errors: Vec<PathError>,
    pub dry_run: bool,
}

struct Shared<'a> {
    options: TreeOptions<'a>,
    backend: &'a dyn FileSecurity,
    seen: AtomicU64,
    changed: AtomicU64,
    unchanged: AtomicU64,
    errors_total: AtomicU64,
    errors: Mutex<Vec<PathError>>,
}

impl Shared<'_> {
    fn error(&self, path: &Path, reason: String) {
        self.errors_total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut list) = self.errors.lock()
            && list.len() < self.options.max_error_details
        {
            list.push(PathError {
                path: path.to_path_buf(),
                reason,
            });
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            seen: self.seen.load(Ordering::Relaxed),
            changed: self.changed.load(Ordering::Relaxed),
            errors: self.errors_total.load(Ordering::Relaxed),
        }
    }

    /// Reads, translates and (unless dry) writes one entry's descriptor.
    fn handle(&self, path: &Path, buf: &mut [u8]) {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if seen.is_multiple_of(1024)
            && let Some(progress) = self.options.progress
        {
            progress(&self.progress());
        }
        let len = match self.backend.read_into(path, buf) {
            Ok(n) => n,
            Err(e) => {
                self.error(path, format!("cannot read the security descriptor: {e}"));
                return;
            }
        };
        let old = &buf[..len];
        let new = match translate_bytes(old, self.options.map, self.options.mode) {
            Ok(Some(new)) => new,
            Ok(None) => {
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                self.error(
                    path,
                    format!("invalid security descriptor, left as it is: {e}"),
                );
                return;
            }
        };
        if !self.options.dry_run {
            if let Some(hook) = self.options.on_change
                && let Err(e) = hook(path, old, &new)
            {
                self.error(
                    path,
                    format!("not changed: recording the old descriptor failed: {e}"),
                );
                return;
            }
            if let Err(e) = self.backend.write(path, &new) {
                self.error(path, format!("cannot write the security descriptor: {e}"));
                return;
            }
        }
        self.changed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Translates the descriptors of `root` and everything below it. Symlinks and junctions
/// get their own descriptor translated but are not followed. One failing entry never
/// stops the walk; it is listed in the report. Fails only when `root` itself cannot be
/// examined.
pub fn translate_tree(
    root: &Path,
    backend: &dyn FileSecurity,
    options: &TreeOptions<'_>,
) -> std::io::Result<TreeReport> {
    let root_meta = std::fs::symlink_metadata(root)?;
    let shared = Shared {
        options: *options,
        backend,
        seen: AtomicU64::new(0),
        changed: AtomicU64::new(0),
        unchanged: AtomicU64::new(0),
        errors_total: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
    };
    if options.threads == 0 {
        let mut buf = vec![0u8; super::MAX_DESCRIPTOR];
        walk(root, root_meta.is_dir(), &shared, &mut |p| {
            shared.handle(&p, &mut buf)
        });
    } else {
        let (tx, rx) = std::sync::mpsc::sync_channel::<PathBuf>(4096);
        let rx = Mutex::new(rx);
        std::thread::scope(|scope| {
            for _ in 0..options.threads {
                scope.spawn(|| {
                    let mut buf = vec![0u8; super::MAX_DESCRIPTOR];
                    loop {
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(path) => shared.handle(&path, &mut buf),
                            Err(_) => return,
                        }
                    }
                });
            }
            walk(root, root_meta.is_dir(), &shared, &mut |p| {
                let _ = tx.send(p);
            });
            drop(tx);
        });
    }
    if let Some(progress) = options.progress {
        progress(&shared.progress());
    }
    let errors = shared.errors.into_inner().unwrap_or_default();
    Ok(TreeReport {
        seen: shared.seen.into_inner(),
        changed: shared.changed.into_inner(),
        unchanged: shared.unchanged.into_inner(),
        errors_total: shared.errors_total.into_inner(),
        errors,
        dry_run: options.dry_run,
    })
}

/// Depth-first walk: `visit` gets every path (the root first, a folder before its
/// contents). Directory types come from `readdir` (`d_type`), not `stat`.
fn walk(root: &Path, root_is_dir: bool, shared: &Shared<'_>, visit: &mut dyn FnMut(PathBuf)) {
    visit(root.to_path_buf());
    if !root_is_dir {
        return;
    }
    let mut stack: Vec<(PathBuf, std::fs::ReadDir)> = Vec::new();
    match std::fs::read_dir(root) {
        Ok(rd) => stack.push((root.to_path_buf(), rd)),
        Err(e) => shared.error(root, format!("cannot list the folder: {e}")),
    }
    while let Some((dir, entries)) = stack.last_mut() {
        let Some(next) = entries.next() else {
            stack.pop();
            continue;
        };
        let entry = match next {
            Ok(e) => e,
            Err(e) => {
                let dir = dir.clone();
                shared.error(&dir, format!("cannot list the folder: {e}"));
                stack.pop();
                continue;
            }
        };
        let path = entry.path();
        let descend = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        visit(path.clone());
        if descend {
            match std::fs::read_dir(&path) {
                Ok(rd) => stack.push((path, rd)),
                Err(e) => shared.error(&path, format!("cannot list the folder: {e}")),
            }
        }
    }
}
