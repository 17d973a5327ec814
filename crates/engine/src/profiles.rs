//! Profile discovery: one row per `ProfileList` entry, with whose it is (and where that
//! name came from), what kind of account, where it lives, when it was last used, whether
//! the account is a local administrator, and what state it is in.

use std::path::PathBuf;

use ntsec::{Sid, SidKind};
use serde::Serialize;

use crate::error::Result;
use crate::host::{Host, MachineHive, RegKey};

/// `SOFTWARE\…\ProfileList`.
pub const PROFILE_LIST: &str = r"Microsoft\Windows NT\CurrentVersion\ProfileList";
/// `SOFTWARE\…\LogonUI`.
pub const LOGON_UI: &str = r"Microsoft\Windows\CurrentVersion\Authentication\LogonUI";
/// The alias RID of BUILTIN\Administrators.
pub const ADMINISTRATORS: u32 = 544;
/// ProfileList `State` bit: Windows loaded a temporary profile.
pub const STATE_TEMPORARY: u32 = 0x800;
/// The suffix ADMU (and admu) give the old profile path of a migrated profile.
pub const MIGRATED_SUFFIX: &str = ".ADMU";

/// What kind of account owns a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    Local,
    Domain,
    Entra,
    Service,
    Other,
}

/// Where an account name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NameSource {
    Sam,
    IdentityStore,
    GroupPolicy,
    LogonUi,
    WellKnown,
}

/// A profile's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileState {
    Ok,
    /// The profile folder does not exist.
    MissingFolder,
    /// The folder exists but holds no NTUSER.DAT.
    MissingHive,
    /// Windows loaded a temporary profile (State bit 0x800 or a TEMP folder).
    Temp,
    /// A `<SID>.bak` key: the User Profile Service's backup of a profile it could not load.
    Bak,
    /// Already migrated: the old path carries the `.ADMU` marker.
    Migrated,
}

/// One row of `admu list`.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The ProfileList key name (the SID, possibly with `.bak`).
    pub key: String,
    /// The SID, when the key name is one.
    pub sid: Option<Sid>,
    /// `DOMAIN\user`, `AzureAD\user`, a local name, or `UNKNOWN`.
    pub account: String,
    pub account_source: Option<NameSource>,
    pub kind: ProfileKind,
    /// `ProfileImagePath` as stored (Windows path).
    pub path: Option<String>,
    /// Where that is on this host.
    pub host_path: Option<PathBuf>,
    /// FILETIME of the last use: ProfileList load/unload times, else NTUSER.DAT's mtime.
    pub last_used: Option<u64>,
    pub local_admin: bool,
    pub states: Vec<ProfileState>,
    /// Bytes under the profile folder (with `--size`).
    pub size: Option<u64>,
    /// Live only: `HKEY_USERS\<SID>` is loaded now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<bool>,
    /// Live only: the sessions signed in as this account (`DOMAIN\user (id)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<Vec<String>>,
}

impl Profile {
    /// Service profiles (SYSTEM, LOCAL SERVICE, NETWORK SERVICE), hidden by default.
    pub fn is_service(&self) -> bool {
        self.kind == ProfileKind::Service
    }
}

/// Options for [`discover`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscoverOptions {
    /// Walk each profile folder and add up its size (streamed, links not followed).
    pub size: bool,
}

/// Lists every profile in ProfileList. A broken entry (no path, missing folder,
/// unparsable SID) becomes a row saying so, never an error; only an unreadable SOFTWARE
/// hive is an error.
pub fn discover(host: &dyn Host, options: DiscoverOptions) -> Result<Vec<Profile>> {
    let Some(list) = host.key(MachineHive::Software, PROFILE_LIST)? else {
        return Ok(Vec::new());
    };
    // Without a readable SAM the rows still come (from SOFTWARE), but names of local
    // accounts and admin membership are unknown: say so rather than guess.
    let machine_sid = host.machine_sid().ok();
    let local_users = host.users().unwrap_or_else(|e| {
        tracing::warn!("local accounts unavailable, local names and admin rights unknown: {e}");
        Vec::new()
    });
    let admins = host.alias_members(ADMINISTRATORS).unwrap_or_default();
    let logon_ui = host.key(MachineHive::Software, LOGON_UI)?;
    let live = match host.live() {
        Some(l) => Some((l.loaded_hives()?, l.sessions()?)),
        None => None,
    };
    let mut rows = Vec::new();
    for key_name in &list.subkeys {
        let Some(key) = host.key(
            MachineHive::Software,
            &format!(r"{PROFILE_LIST}\{key_name}"),
        )?
        else {
            continue;
        };
        let sid_text = key_name.strip_suffix(".bak").unwrap_or(key_name);
        let sid: Option<Sid> = sid_text.parse().ok();
        let kind = classify(sid.as_ref(), machine_sid.as_ref());
        let (account, account_source) = match &sid {
            Some(sid) => name_of(host, sid, kind, &local_users, logon_ui.as_ref())?,
            None => (None, None),
        };
        let path = key.string("ProfileImagePath");
        let host_path = path.as_deref().and_then(|p| host.host_path(p));
        let hive_path = host_path
            .as_ref()
            .and_then(|p| crate::paths::resolve(p, "NTUSER.DAT"));
        let states = states_of(
            key_name,
            &key,
            path.as_deref(),
            host_path.as_ref(),
            hive_path.as_ref(),
        );
        let last_used = profile_times(&key).or_else(|| hive_path.as_ref().and_then(mtime));
        let size = match (&host_path, options.size) {
            (Some(p), true) => Some(tree_size(p)),
            _ => None,
        };
        let (loaded, signed_in) = match (&live, &sid) {
            (Some((hives, sessions)), Some(sid)) => {
                let text = sid.to_string();
                (
                    Some(hives.iter().any(|h| h.eq_ignore_ascii_case(&text))),
                    Some(
                        sessions
                            .iter()
                            .filter(|s| s.sid.as_ref() == Some(sid))
                            .map(|s| format!("{} ({})", s.user, s.id))
                            .collect(),
                    ),
                )
            }
            _ => (None, None),
        };
        rows.push(Profile {
            loaded,
            signed_in,
            key: key_name.clone(),
            local_admin: sid.as_ref().is_some_and(|s| admins.contains(s)),
            account: account.unwrap_or_else(|| format!("UNKNOWN ({sid_text})")),
            account_source,
            sid,
            kind,
            path,
            host_path,
            last_used,
            states,
            size,
        });
    }
    Ok(rows)
}

/// Local if the SID is in the machine's domain, Entra for S-1-12-1, domain for other
/// S-1-5-21 SIDs, service for SYSTEM / LOCAL SERVICE / NETWORK SERVICE.
pub fn classify(sid: Option<&Sid>, machine_sid: Option<&Sid>) -> ProfileKind {
    let Some(sid) = sid else {
        return ProfileKind::Other;
    };
    let text = sid.to_string();
    if matches!(text.as_str(), "S-1-5-18" | "S-1-5-19" | "S-1-5-20") {
        return ProfileKind::Service;
    }
    if text.starts_with("S-1-12-1-") {
        return ProfileKind::Entra;
    }
    match (sid.kind(), machine_sid) {
        (SidKind::LocalOrDomainAccount, Some(m)) if sid.is_in_domain(m) => ProfileKind::Local,
        (SidKind::LocalOrDomainAccount, _) => ProfileKind::Domain,
        _ => ProfileKind::Other,
    }
}

fn name_of(
    host: &dyn Host,
    sid: &Sid,
    kind: ProfileKind,
    local_users: &[crate::host::LocalUser],
    logon_ui: Option<&RegKey>,
) -> Result<(Option<String>, Option<NameSource>)> {
    if let Some(u) = local_users.iter().find(|u| &u.sid == sid) {
        return Ok((Some(u.name.clone()), Some(NameSource::Sam)));
    }
    if let Some(name) = sid.well_known_name() {
        return Ok((Some(name.to_string()), Some(NameSource::WellKnown)));
    }
    let s = sid.to_string();
    if let Some(cache) = host.key(
        MachineHive::Software,
        &format!(r"Microsoft\IdentityStore\Cache\{s}\IdentityCache\{s}"),
    )? && let Some(sam_name) = cache.string("SAMName").filter(|n| !n.is_empty())
    {
        let name = if kind == ProfileKind::Entra {
            format!(r"AzureAD\{sam_name}")
        } else {
            sam_name
        };
        return Ok((Some(name), Some(NameSource::IdentityStore)));
    }
    if let Some(ds) = host.key(
        MachineHive::Software,
        &format!(r"Microsoft\Windows\CurrentVersion\Group Policy\DataStore\{s}\0"),
    )? && let Some(target) = ds.string("szTargetName").filter(|n| !n.is_empty())
    {
        return Ok((Some(target), Some(NameSource::GroupPolicy)));
    }
    if let Some(ui) = logon_ui
        && ui.string("LastLoggedOnUserSID").as_deref() == Some(s.as_str())
        && let Some(name) = ui
            .string("LastLoggedOnSAMUser")
            .or_else(|| ui.string("LastLoggedOnUser"))
    {
        return Ok((Some(name), Some(NameSource::LogonUi)));
    }
    Ok((None, None))
}

fn states_of(
    key_name: &str,
    key: &RegKey,
    path: Option<&str>,
    host_path: Option<&PathBuf>,
    hive_path: Option<&PathBuf>,
) -> Vec<ProfileState> {
    let mut states = Vec::new();
    if key_name.ends_with(".bak") {
        states.push(ProfileState::Bak);
    }
    let folder = path.and_then(|p| p.rsplit('\\').next()).unwrap_or("");
    let upper = folder.to_uppercase();
    if key.dword("State").is_some_and(|s| s & STATE_TEMPORARY != 0)
        || upper == "TEMP"
        || upper.starts_with("TEMP.")
    {
        states.push(ProfileState::Temp);
    }
    if path.is_some_and(|p| p.to_uppercase().ends_with(MIGRATED_SUFFIX)) {
        states.push(ProfileState::Migrated);
    }
    // A migrated profile's old path is a marker (`….ADMU`), not a folder.
    if !states.contains(&ProfileState::Migrated) {
        if host_path.is_none() {
            states.push(ProfileState::MissingFolder);
        } else if hive_path.is_none() {
            states.push(ProfileState::MissingHive);
        }
    }
    if states.is_empty() {
        states.push(ProfileState::Ok);
    }
    states
}

/// The later of the last load and unload times in ProfileList, if any is set.
fn profile_times(key: &RegKey) -> Option<u64> {
    let pair = |lo: &str, hi: &str| {
        let t = (u64::from(key.dword(hi)?) << 32) | u64::from(key.dword(lo)?);
        (t != 0).then_some(t)
    };
    let load = pair("LocalProfileLoadTimeLow", "LocalProfileLoadTimeHigh");
    let unload = pair("LocalProfileUnloadTimeLow", "LocalProfileUnloadTimeHigh");
    load.into_iter().chain(unload).max()
}

fn mtime(path: &PathBuf) -> Option<u64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(116_444_736_000_000_000 + (since.as_nanos() / 100) as u64)
}

/// Adds up file sizes below `root`, one open directory per level, links not followed.
pub fn tree_size(root: &std::path::Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}
