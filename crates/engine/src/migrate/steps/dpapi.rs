//! Step (`--dpapi`): carry the user's DPAPI master keys to the new account. Every master
//! key in `AppData\Roaming\Microsoft\Protect\<old SID>` is opened with what was given
//! (the old password, or the domain's backup key) and re-protected for the new SID and
//! the new account's password (local-account derivation) in a new
//! `Protect\<new SID>` folder, with the same GUIDs, so every secret saved under them
//! (Credential Manager, browsers, Wi-Fi…) still opens. `Preferred` is copied, and
//! `Protect\CREDHIST` is replaced by a fresh, empty history (backed up) that the new
//! keys reference. The old folder is left untouched; the new files get the old ones'
//! attributes and descriptors, translated to the new SID.
//!
//! Undo deletes the files the journal lists, then the new folder, and puts `CREDHIST`
//! back from its backup.

use std::path::{Path, PathBuf};

use dpapi::{BackupKey, CredHistFile, MasterKey, MasterKeyFile, Reprotect};
use ntsec::{Sid, SidMap};

use super::{CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext};
use crate::error::{Error, Result};
use crate::journal::record::{Done, DpapiDone, DpapiIntent, Intent, StepId, UndoHow};
use crate::migrate::preflight::Checks;
use crate::migrate::{DpapiSource, MigrateRequest, store};

/// Where Windows keeps a user's master keys, below the profile folder.
const PROTECT: &str = r"AppData\Roaming\Microsoft\Protect";
const CREDHIST: &str = "CREDHIST";
const PREFERRED: &str = "Preferred";

pub(crate) struct DpapiStep;

/// One master key file of the old folder and whether it opened.
struct KeyState {
    guid: String,
    path: PathBuf,
    file: Option<MasterKeyFile>,
    key: Option<MasterKey>,
    /// Why it did not open (wrong password, no domain backup block, corrupt file…).
    problem: Option<String>,
}

/// What opens the keys, loaded once.
enum Opener<'a> {
    Password(&'a str),
    Backup(Box<BackupKey>),
}

impl Opener<'_> {
    fn load(source: &DpapiSource) -> Result<Opener<'_>> {
        Ok(match source {
            DpapiSource::OldPassword(p) => Opener::Password(p.expose()),
            DpapiSource::BackupKey(path) => {
                Opener::Backup(Box::new(BackupKey::read_pvk(path).map_err(|e| {
                    Error::Invalid(format!(
                        "the domain DPAPI backup key {}: {e}",
                        path.display()
                    ))
                })?))
            }
        })
    }

    fn describe(&self) -> &'static str {
        match self {
            Opener::Password(_) => "the old password",
            Opener::Backup(_) => "the domain backup key",
        }
    }
}

/// The master key files (named by their GUID) of a `Protect\<SID>` folder, each opened
/// with `opener`, sorted by GUID.
fn open_keys(dir: &Path, old_sid: &Sid, opener: &Opener<'_>) -> Result<Vec<KeyState>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<ntsec::Guid>().is_err() || !entry.path().is_file() {
            continue;
        }
        let path = entry.path();
        let mut state = KeyState {
            guid: name.to_lowercase(),
            path: path.clone(),
            file: None,
            key: None,
            problem: None,
        };
        match MasterKeyFile::read(&path) {
            Err(e) => state.problem = Some(format!("corrupt master key file: {e}")),
            Ok(file) => {
                let opened = match opener {
                    Opener::Password(p) => file.decrypt_with_password(old_sid, p).map(|(k, _)| k),
                    Opener::Backup(k) => file.decrypt_with_backup_key(k).map(|s| s.master_key),
                };
                match opened {
                    Ok(key) => state.key = Some(key),
                    Err(dpapi::Error::WrongKey { .. }) => {
                        state.problem = Some(match opener {
                            Opener::Password(_) => format!(
                                "does not open with the old password and {old_sid} (wrong \
                                 password, or protected by a password this key was not \
                                 given)"
                            ),
                            Opener::Backup(_) => "does not open with the domain backup key \
                                 given (protected by another domain's key)"
                                .into(),
                        })
                    }
                    Err(e) => state.problem = Some(format!("{}: {e}", path.display())),
                }
                state.file = Some(file);
            }
        }
        out.push(state);
    }
    out.sort_by(|a, b| a.guid.cmp(&b.guid));
    Ok(out)
}

/// The old account's `Protect` folder and `Protect\<old SID>`, when they exist.
fn folders(profile_folder: &Path, old_sid: &Sid) -> Option<(PathBuf, PathBuf)> {
    let protect = crate::paths::resolve(profile_folder, PROTECT)?;
    let old = crate::paths::resolve(&protect, &old_sid.to_string())?;
    old.is_dir().then_some((protect, old))
}

fn suite_text(file: &MasterKeyFile) -> String {
    match file.master_key.as_ref() {
        Some(b) => format!("{}/{}", b.cipher_alg, b.hash_alg),
        None => "no master key block".into(),
    }
}

fn intent<'t>(trace: &Trace<'t>) -> Option<&'t DpapiIntent> {
    match trace.intent? {
        Intent::Dpapi(i) => Some(i),
        _ => None,
    }
}

/// The keys that did not open, one line each.
fn failures(keys: &[KeyState]) -> Vec<String> {
    keys.iter()
        .filter_map(|k| k.problem.as_ref().map(|p| format!("{}: {p}", k.guid)))
        .collect()
}

fn dpapi_error(e: dpapi::Error) -> Error {
    Error::Invalid(format!("DPAPI: {e}"))
}

impl Step for DpapiStep {
    fn id(&self) -> StepId {
        StepId::Dpapi
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        let req: &MigrateRequest = cx.req;
        let Some(source) = &req.dpapi else {
            return Ok(());
        };
        c.add(
            "DPAPI: the new account's password",
            req.password.is_some(),
            if req.password.is_some() {
                "given: the master keys are re-protected with it"
            } else if req.to_existing {
                "--dpapi re-protects the master keys with the account's password, which admu \
                 cannot know for an existing account: give it (--password-file/--password-env)"
            } else {
                "--dpapi needs the new account's password (--password-file/--password-env)"
            },
        );
        // The source profile is checked elsewhere; without it there is nothing to say.
        let Ok(profile) = super::super::find_source(cx.host, &req.from) else {
            return Ok(());
        };
        let (Some(folder), Some(old_sid)) = (&profile.host_path, &profile.sid) else {
            return Ok(());
        };
        let Some((protect, old_dir)) = folders(folder, old_sid) else {
            c.add(
                "DPAPI master keys open",
                false,
                format!(r"--dpapi: the profile has no {PROTECT}\{old_sid} folder"),
            );
            return Ok(());
        };
        if let Some(user) = cx.existing
            && crate::paths::resolve(&protect, &user.sid.to_string()).is_some()
        {
            c.add(
                "DPAPI master keys open",
                false,
                format!(
                    r"{PROTECT}\{} exists already: the account has master keys",
                    user.sid
                ),
            );
            return Ok(());
        }
        let opener = match Opener::load(source) {
            Ok(o) => o,
            Err(e) => {
                c.add("DPAPI master keys open", false, e.to_string());
                return Ok(());
            }
        };
        let keys = open_keys(&old_dir, old_sid, &opener)?;
        let bad = failures(&keys);
        let good = keys.len() - bad.len();
        if keys.is_empty() {
            c.add(
                "DPAPI master keys open",
                false,
                format!(r"no master key files in {PROTECT}\{old_sid}"),
            );
        } else if bad.is_empty() {
            c.add(
                "DPAPI master keys open",
                true,
                format!(
                    "all {} master keys open with {}",
                    keys.len(),
                    opener.describe()
                ),
            );
        } else {
            c.add(
                "DPAPI master keys open",
                req.dpapi_partial,
                format!(
                    "{good} of {} master keys open with {}; {} do not: {}{}",
                    keys.len(),
                    opener.describe(),
                    bad.len(),
                    bad.join("; "),
                    if req.dpapi_partial {
                        " (--dpapi-partial: they are left behind)"
                    } else {
                        " (give what opens them, or carry the others with --dpapi-partial)"
                    }
                ),
            );
        }
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let Some(source) = &cx.req.dpapi else {
            return Ok(None);
        };
        let Some(folder) = &cx.source.host_path else {
            return Ok(None);
        };
        let Some((_, old_dir)) = folders(folder, cx.old_sid) else {
            return Ok(None);
        };
        let opener = Opener::load(source)?;
        let keys = open_keys(&old_dir, cx.old_sid, &opener)?;
        let mut summary = Vec::new();
        for k in &keys {
            let alg = k.file.as_ref().map(suite_text).unwrap_or_default();
            summary.push(match &k.problem {
                None => format!(
                    r"master key {} ({alg}): re-protect for {} in {PROTECT}\{}",
                    k.guid, cx.new_sid, cx.new_sid
                ),
                Some(p) => format!("master key {}: left behind: {p}", k.guid),
            });
        }
        summary.push(format!(
            r"copy Preferred; replace {PROTECT}\{CREDHIST} with a fresh, empty history; \
             {PROTECT}\{} stays as it is",
            cx.old_sid
        ));
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let Some(source) = &cx.req.dpapi else {
            return Ok(());
        };
        let password = cx
            .req
            .password
            .as_ref()
            .ok_or_else(|| Error::Refused("--dpapi needs the new account's password".into()))?
            .expose()
            .to_string();
        let old_sid = cx.begin.old_sid.clone();
        let new_sid = cx.account()?.sid.clone();
        let folder = cx
            .source
            .host_path
            .clone()
            .ok_or_else(|| Error::NotFound("the profile folder vanished".into()))?;
        let (protect, old_dir) = folders(&folder, &old_sid).ok_or_else(|| {
            Error::NotFound(format!(r"the profile has no {PROTECT}\{old_sid} folder"))
        })?;
        let opener = Opener::load(source)?;
        let keys = open_keys(&old_dir, &old_sid, &opener)?;
        let bad = failures(&keys);
        if !bad.is_empty() && !cx.req.dpapi_partial {
            return Err(Error::Refused(format!(
                "DPAPI master keys that do not open: {}",
                bad.join("; ")
            )));
        }
        let new_dir = protect.join(new_sid.to_string());
        if crate::paths::resolve(&protect, &new_sid.to_string()).is_some() {
            return Err(Error::Invalid(format!(
                "{} exists already: the new account has master keys",
                new_dir.display()
            )));
        }

        // Everything is computed before the intent; nothing is written yet.
        let mut rng = dpapi::OsRng;
        let credhist_guid = dpapi::guid::random(&mut rng).map_err(dpapi_error)?;
        let mut writes: Vec<(PathBuf, Vec<u8>, PathBuf)> = Vec::new();
        for k in &keys {
            let (Some(file), Some(key)) = (&k.file, &k.key) else {
                continue;
            };
            let new = file
                .reprotect(
                    key,
                    &Reprotect {
                        sid: Some(&new_sid),
                        password: &password,
                        credhist: Some(credhist_guid),
                        old_sid: Some(&old_sid),
                        ..Reprotect::default()
                    },
                    &mut rng,
                )
                .map_err(|e| Error::Invalid(format!("{}: {e}", k.path.display())))?;
            let name = k.path.file_name().map(|n| n.to_owned()).unwrap_or_default();
            writes.push((new_dir.join(name), new.to_bytes(), k.path.clone()));
        }
        if let Some(preferred) = crate::paths::resolve(&old_dir, PREFERRED) {
            let bytes = std::fs::read(&preferred).map_err(Error::io(&preferred))?;
            writes.push((new_dir.join(PREFERRED), bytes, preferred));
        }
        let credhist_bytes = CredHistFile::new_empty(credhist_guid)
            .to_bytes()
            .map_err(dpapi_error)?;
        let credhist = crate::paths::resolve(&protect, CREDHIST);
        let credhist_backup = match &credhist {
            Some(file) => Some(store::backup_file(
                cx.host,
                &cx.backups(),
                "dpapi-credhist",
                file,
            )?),
            None => None,
        };
        let credhist = credhist.unwrap_or_else(|| protect.join(CREDHIST));
        cx.intent(Intent::Dpapi(DpapiIntent {
            folder: cx.relative(&new_dir),
            files: writes.iter().map(|(p, _, _)| cx.relative(p)).collect(),
            credhist: cx.relative(&credhist),
            credhist_backup: credhist_backup.clone(),
        }))?;

        let map = cx.sid_map()?;
        std::fs::create_dir(&new_dir).map_err(Error::io(&new_dir))?;
        self.give_metadata(cx, &old_dir, &new_dir, &map)?;
        for (path, bytes, like) in &writes {
            write_new(path, bytes)?;
            self.give_metadata(cx, like, path, &map)?;
        }
        crate::journal::sync_dir(&new_dir)?;
        if credhist_backup.is_some() {
            store::replace_file(cx.host, &credhist, &credhist_bytes)?;
        } else {
            write_new(&credhist, &credhist_bytes)?;
            if let Some((_, _, like)) = writes.first() {
                cx.host
                    .copy_metadata(like, &credhist)
                    .map_err(Error::io(&credhist))?;
            }
        }
        crate::journal::sync_dir(&protect)?;
        let done = DpapiDone {
            folder: cx.relative(&new_dir),
            keys: keys.len() - bad.len(),
            left_behind: keys
                .iter()
                .filter(|k| k.problem.is_some())
                .map(|k| k.guid.clone())
                .collect(),
        };
        cx.done(Done::Dpapi(done))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        let Some(i) = intent(trace) else {
            return Ok(());
        };
        let protect = format!(r"{}\{PROTECT}\", cx.begin.profile_folder).to_lowercase();
        let folder = i.folder.to_lowercase();
        let inside = |p: &str, prefix: &str| p.to_lowercase().starts_with(prefix);
        let plain_name = |p: &str, prefix: &str| {
            let rest = &p[prefix.len().min(p.len())..];
            !rest.is_empty() && !rest.contains(['\\', '/'])
        };
        let ok = inside(&i.folder, &protect)
            && plain_name(&folder, &protect)
            && i.credhist.to_lowercase() == format!("{protect}{}", CREDHIST.to_lowercase())
            && i.files.iter().all(|f| {
                let prefix = format!(r"{folder}\");
                inside(f, &prefix) && plain_name(&f.to_lowercase(), &prefix)
            });
        if !ok {
            return Err(Error::Journal(format!(
                r"the dpapi step names files outside {}\{PROTECT}: the journal was edited; \
                 nothing was changed",
                cx.begin.profile_folder
            )));
        }
        if let Some(b) = &i.credhist_backup {
            store::verify_backup(&cx.backups, b)?;
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
        for f in &i.files {
            let path = cx.path(f)?;
            remove_if_there(&path)?;
        }
        let folder = cx.path(&i.folder)?;
        match std::fs::remove_dir(&folder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(
                    "{}: left in place ({e}): it holds files admu did not write",
                    folder.display()
                );
            }
        }
        if let Some(parent) = folder.parent()
            && parent.is_dir()
        {
            crate::journal::sync_dir(parent)?;
        }
        let credhist = cx.path(&i.credhist)?;
        match &i.credhist_backup {
            Some(b) => {
                if !store::matches_backup(&credhist, b) {
                    store::restore_backup(cx.host, &cx.backups, b, &credhist)?;
                }
            }
            None => remove_if_there(&credhist)?,
        }
        Ok(())
    }

    fn touched_files(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Vec<PathBuf> {
        intent(trace)
            .and_then(|i| cx.path(&i.credhist).ok())
            .into_iter()
            .collect()
    }
}

impl DpapiStep {
    /// Gives `to` the attributes and descriptor of `like`, the descriptor translated to
    /// the new SID (so the tree step finds nothing left to change in it).
    fn give_metadata(
        &self,
        cx: &RunContext<'_>,
        like: &Path,
        to: &Path,
        map: &SidMap,
    ) -> Result<()> {
        cx.host.copy_metadata(like, to).map_err(Error::io(to))?;
        if let Some(backend) = cx.host.file_security() {
            let mut sd = Vec::new();
            if backend.read(to, &mut sd).is_ok()
                && let Some(new) = ntsec::translate_bytes(&sd, map, cx.req.acl_mode)
                    .map_err(|e| Error::Invalid(format!("{}: {e}", to.display())))?
            {
                backend.write(to, &new).map_err(Error::io(to))?;
            }
        }
        Ok(())
    }
}

/// Creates a file that must not exist yet, durably.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(Error::io(path))?;
    f.write_all(bytes).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path)(e)),
    }
}
