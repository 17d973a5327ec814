//! The in-place migration of a domain or Entra profile to a local account, journaled so
//! that a crash at any point can be rolled back (`recover`) and a completed migration
//! undone (`revert`).
//!
//! Steps, each journaled (intent, then done) with the backups it needs: preflight
//! (nothing changed); the local account; NTUSER.DAT and UsrClass.dat (descriptors,
//! SID-named keys and values, UserChoice hashes, marker); the profile tree's
//! descriptors; ProfileList; LogonUI; commit.
//!
//! Recovery policy: an interrupted migration is always rolled **back**, whatever step
//! it reached. Every step keeps what it needs to be undone exactly (file backups taken
//! before the change, the old descriptor of every file before it is rewritten), so
//! rolling back is always possible, while rolling forward would need the password and
//! options of the interrupted run. After a rollback, `admu migrate` can simply run again.

mod files;
mod plan;
mod preflight;

mod undo;

use std::path::PathBuf;

use ntsec::{Mode, Sid, SidMap};
use serde::Serialize;

pub use plan::{Plan, plan};
pub use preflight::{Check, Preflight, preflight};
pub mod run;
pub use run::{Outcome, migrate};
pub use undo::{Unfinished, find_journals, recover, revert};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::profiles::{DiscoverOptions, Profile, ProfileState, discover};

/// A password, kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct Secret(String);

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

/// What to migrate and how.
#[derive(Debug, Clone)]
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
