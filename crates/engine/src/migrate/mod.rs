//! The in-place migration of a domain or Entra profile to a local account, journaled so
//! that a crash at any point can be rolled back (`recover`) and a completed migration
//! undone (`revert`).
//!
//! Steps ([`steps`]), each journaled (intent with hashed backups, then done): the local
//! account; its local groups; NTUSER.DAT and UsrClass.dat (descriptors, SID-named keys
//! and values, UserChoice hashes, marker); the profile tree's descriptors; ProfileList;
//! LogonUI; then the commit record. Preflight runs every step's checks first and opens
//! the user hives once for the whole run. Every mutating command holds the volume lock.
//!
//! Recovery policy: an interrupted migration is always rolled **back**, whatever step
//! it reached. Every step keeps what it needs to be undone exactly (file backups taken
//! before the change, the old descriptor of every file before it is rewritten), so
//! rolling back is always possible, while rolling forward would need the password and
//! options of the interrupted run. After a rollback, `admu migrate` can simply run again.

mod notices;
mod plan;
mod preflight;
pub mod run;
mod steps;
pub mod store;
mod undo;

use std::path::{Path, PathBuf};

use ntsec::{Mode, Sid, SidMap};
use serde::Serialize;

pub use notices::Notice;
pub use plan::{Plan, PlannedAccount, plan};
pub use preflight::{Check, Preflight, preflight};
pub use run::{MigrateError, Outcome, migrate};
pub use steps::{Change, StepPlan};
pub use undo::{Status, Unfinished, find_journals, find_revertible, recover, revert};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::profiles::{DiscoverOptions, Profile, ProfileState, discover};

/// A password, kept out of `Debug` output and logs, and zeroed when dropped.
#[derive(Clone)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// What opens the old account's DPAPI master keys.
#[derive(Debug, Clone)]
pub enum DpapiSource {
    /// The old (domain) account's password.
    OldPassword(Secret),
    /// The domain's DPAPI backup private key, a `.pvk` file as a DC exports it.
    BackupKey(PathBuf),
}

/// Where a running migration is, for progress bars and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressEvent {
    pub step: crate::journal::StepId,
    /// Items done in this step (files for the tree), when it counts any.
    pub done: u64,
    /// Items in all, when known.
    pub total: Option<u64>,
    pub message: String,
}

/// A progress callback; called from the migration's thread (and the tree's workers).
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// What to migrate and how.
#[derive(Clone)]
pub struct MigrateRequest {
    /// `DOMAIN\user`, `AzureAD\user`, or a SID.
    pub from: String,
    /// The local account to create (or, with `to_existing`, to use).
    pub to: String,
    pub password: Option<Secret>,
    pub to_existing: bool,
    pub admin: bool,
    /// Also put the new account in the local groups the old SID was in.
    pub keep_groups: bool,
    /// How file descriptors are translated (replace by default; add keeps the old ACEs).
    pub acl_mode: Mode,
    /// Further SID mappings (e.g. the old domain's groups), applied to descriptors.
    pub extra_map: SidMap,
    /// Make the new account the last-logged-on user at the logon screen.
    pub set_default_user: bool,
    /// Worker threads for the file tree.
    pub threads: usize,
    /// Commit even when some file descriptors cannot be rewritten (each is listed);
    /// without it such a failure rolls the migration back.
    pub allow_partial: bool,
    /// With `to_existing`: let the migrated profile replace the account's own
    /// ProfileList entry.
    pub replace_existing_profile: bool,
    /// Live: sign the old account's sessions out first (never anyone else's).
    pub logoff: bool,
    /// Live: deny the old account interactive logon for the duration.
    pub block_logon: bool,
    /// Live: leave the AD domain / Entra after the commit (a failure is a warning).
    pub leave_domain: bool,
    /// Live: restart this many seconds after the migration.
    pub reboot: Option<u32>,
    /// Carry the user's DPAPI master keys (`Protect\<SID>`) to the new account, opened
    /// with the old password or the domain's backup key.
    pub dpapi: Option<DpapiSource>,
    /// With `dpapi`: carry the master keys that open and leave the others behind,
    /// instead of refusing.
    pub dpapi_partial: bool,
    /// Remove the non-JumpCloud MDM enrollments (registry, EnterpriseMgmt tasks,
    /// certificates), journaled (steps/mdm.rs).
    pub remove_mdm: bool,
    /// Clear the old SID's Windows Hello (NGC) containers so the user can enrol again,
    /// journaled (steps/hello.rs).
    pub remove_hello: bool,
    /// Also translate file descriptors naming the old SID outside the profile (shared
    /// data; report-only without it).
    pub sweep_files: bool,
    /// Told when a step starts and as the tree walk goes.
    pub progress: Option<ProgressSink>,
    /// The device manager that takes the account over (JumpCloud): checked in
    /// preflight, told the status, binds the user after the commit.
    pub device: Option<std::sync::Arc<dyn crate::device::DeviceManager>>,
}

impl std::fmt::Debug for MigrateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateRequest")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("to_existing", &self.to_existing)
            .field("admin", &self.admin)
            .field(
                "device",
                &self.device.as_ref().map(|d| d.name().to_string()),
            )
            .finish_non_exhaustive()
    }
}

impl MigrateRequest {
    /// Reports progress, when someone listens.
    pub fn report(&self, event: ProgressEvent) {
        if let Some(sink) = &self.progress {
            (sink.0)(&event);
        }
    }
}

impl MigrateRequest {
    /// A request with admu's defaults.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        MigrateRequest {
            from: from.into(),
            to: to.into(),
            password: None,
            to_existing: false,
            admin: false,
            keep_groups: false,
            acl_mode: Mode::Replace,
            extra_map: SidMap::new(),
            set_default_user: true,
            threads: 1,
            allow_partial: false,
            replace_existing_profile: false,
            logoff: false,
            block_logon: false,
            leave_domain: false,
            reboot: None,
            dpapi: None,
            dpapi_partial: false,
            remove_mdm: false,
            remove_hello: false,
            sweep_files: false,
            progress: None,
            device: None,
        }
    }
}

/// The profile a request names: the ProfileList entry that holds the real profile
/// (for a `<SID>` / `<SID>.bak` pair, the one not pointing at a TEMP folder).
pub fn find_source(host: &dyn Host, from: &str) -> Result<Profile> {
    let rows = discover(host, DiscoverOptions::default())?;
    let wanted = from.trim();
    let matches: Vec<&Profile> = rows
        .iter()
        .filter(|p| {
            p.account.eq_ignore_ascii_case(wanted)
                || p.sid
                    .as_ref()
                    .is_some_and(|s| s.to_string().eq_ignore_ascii_case(wanted))
                || p.key.eq_ignore_ascii_case(wanted)
        })
        .collect();
    if matches.is_empty() {
        let known: Vec<String> = rows
            .iter()
            .filter(|p| !p.is_service())
            .map(|p| format!("{} ({})", p.account, p.key))
            .collect();
        return Err(Error::NotFound(format!(
            "--from {wanted:?}: no such profile on {}; profiles here: {}",
            host.describe(),
            known.join(", ")
        )));
    }
    let usable = |p: &&&Profile| !p.states.contains(&ProfileState::Temp);
    let best = matches
        .iter()
        .find(|p| usable(p) && !p.states.contains(&ProfileState::Bak))
        .or_else(|| matches.iter().find(usable))
        .or_else(|| matches.first())
        .ok_or_else(|| Error::NotFound(format!("--from {wanted:?}: no usable profile")))?;
    Ok((*best).clone())
}

/// The SID a profile row belongs to.
fn profile_sid(p: &Profile) -> Result<Sid> {
    p.sid
        .clone()
        .ok_or_else(|| Error::Invalid(format!("ProfileList key {:?} is not a SID", p.key)))
}

/// The two user hives of a profile, as Windows paths below the profile folder.
pub const NTUSER: &str = "NTUSER.DAT";
pub const USRCLASS: &str = r"AppData\Local\Microsoft\Windows\UsrClass.dat";

/// Host paths of a profile's user hives.
#[derive(Debug, Clone, Serialize)]
pub struct HivePaths {
    pub ntuser: PathBuf,
    pub usrclass: PathBuf,
}

fn hive_paths(profile: &Profile) -> Result<HivePaths> {
    let folder = profile.host_path.as_ref().ok_or_else(|| {
        Error::NotFound(format!(
            "{}: the profile folder does not exist",
            profile.account
        ))
    })?;
    let find = |rel: &str| {
        crate::paths::resolve(folder, rel)
            .ok_or_else(|| Error::NotFound(format!("{}: missing {rel}", folder.display())))
    };
    Ok(HivePaths {
        ntuser: find(NTUSER)?,
        usrclass: find(USRCLASS)?,
    })
}

/// A path relative to the volume root, for the journal (host paths may differ between
/// a crash and the recovery, e.g. another mount point).
pub(crate) fn relative(host_root: &Path, path: &Path) -> String {
    path.strip_prefix(host_root)
        .map(|p| p.to_string_lossy().replace('/', "\\"))
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

/// The host path of a journal's volume-relative path; one that would leave the volume
/// (absolute, or with `..`) is refused.
pub(crate) fn absolute(host_root: &Path, relative: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = relative
        .split(['\\', '/'])
        .filter(|p| !p.is_empty())
        .collect();
    if relative.starts_with(['\\', '/'])
        || relative.contains(':')
        || parts.iter().any(|p| *p == ".." || *p == ".")
    {
        return Err(Error::Journal(format!(
            "the journal names {relative:?}, which is not a path inside the volume: the \
             journal was edited; nothing was changed"
        )));
    }
    Ok(parts.iter().fold(host_root.to_path_buf(), |p, c| p.join(c)))
}

/// The volume root as a host path.
pub(crate) fn volume_root(host: &dyn crate::host::MigrationHost) -> Result<PathBuf> {
    host.volume_root_path("")
        .ok_or_else(|| Error::NotFound("the volume has no root".into()))
}
