//! Every check before a migration, each with its reason; nothing is changed. ADMU's
//! checks (admu-reference §c) and ours.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::steps::{CheckContext, STEPS};
use super::{HivePaths, MigrateRequest, find_source, hive_paths, profile_sid};
use crate::convert::UserHive;
use crate::error::{Error, Result};
use crate::host::{LocalUser, MachineHive, MigrationHost};
use crate::profiles::{PROFILE_LIST, Profile, ProfileKind, ProfileState};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub reason: String,
}

/// All checks, and what they found out: the source profile, its user hives opened (logs
/// replayed) and checked once for the whole run, and the existing account to use.
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    pub checks: Vec<Check>,
    /// What the migration will not carry (not a failure).
    pub notices: Vec<super::notices::Notice>,
    #[serde(skip)]
    pub source: Option<Profile>,
    #[serde(skip)]
    pub(crate) hives: Option<OpenedHives>,
    /// With `--to-existing`: the account to use.
    #[serde(skip)]
    pub existing: Option<LocalUser>,
}

/// Size and modification time of a file, to notice that it changed between preflight
/// and the step that uses what preflight read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> Result<FileStamp> {
        let meta = std::fs::metadata(path).map_err(Error::io(path))?;
        Ok(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// A user hive as preflight opened it.
#[derive(Debug, Clone)]
pub(crate) struct OpenedHive {
    pub path: PathBuf,
    pub stamp: FileStamp,
    /// Taken by the step that converts it.
    pub hive: Option<hive::Hive>,
}

/// Both user hives of the profile.
#[derive(Debug, Clone)]
pub(crate) struct OpenedHives {
    pub ntuser: OpenedHive,
    pub usrclass: OpenedHive,
}

impl OpenedHives {
    pub fn get(&self, which: UserHive) -> &OpenedHive {
        match which {
            UserHive::NtUser => &self.ntuser,
            UserHive::UsrClass => &self.usrclass,
        }
    }

    pub fn get_mut(&mut self, which: UserHive) -> &mut OpenedHive {
        match which {
            UserHive::NtUser => &mut self.ntuser,
            UserHive::UsrClass => &mut self.usrclass,
        }
    }

    pub fn paths(&self) -> HivePaths {
        HivePaths {
            ntuser: self.ntuser.path.clone(),
            usrclass: self.usrclass.path.clone(),
        }
    }
}

impl Preflight {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// The checks found so far.
#[derive(Debug, Default)]
pub(crate) struct Checks(pub Vec<Check>);

impl Checks {
    pub fn add(&mut self, name: &'static str, passed: bool, reason: impl Into<String>) -> bool {
        self.0.push(Check {
            name,
            passed,
            reason: reason.into(),
        });
        passed
    }
}

/// Windows stores these names on the profile folder of a migrated profile.
const MIGRATED_FOLDER_SUFFIXES: [&str; 2] = [".ADMU", ".WORKGROUP"];

/// Runs every check. Checks that depend on a failed one are still listed, as failed
/// with the reason, so the admin sees everything at once.
pub fn preflight(host: &dyn MigrationHost, req: &MigrateRequest) -> Result<Preflight> {
    let mut c = Checks::default();
    check_journals(host, &mut c)?;
    let source = check_source(host, req, &mut c)?;
    let hives = match &source {
        Some(p) => open_hives(p, &mut c),
        None => None,
    };
    let existing = if req.to_existing {
        host.users()?
            .into_iter()
            .find(|u| u.name.eq_ignore_ascii_case(&req.to))
    } else {
        None
    };
    check_live(host, req, source.as_ref(), hives.as_ref(), &mut c)?;
    let cx = CheckContext {
        host,
        req,
        existing: existing.as_ref(),
        source: source.as_ref(),
    };
    for step in STEPS {
        step.check(&cx, &mut c)?;
    }
    if let Some(device) = &req.device {
        c.0.extend(device.check(&req.to));
    }
    if let Some(h) = &hives {
        let need = backup_bytes(host, &h.paths());
        match host.free_space() {
            Ok(free) => {
                c.add(
                    "free space for the backups",
                    free >= need,
                    format!("{} MiB needed, {} MiB free", need >> 20, free >> 20),
                );
            }
            Err(e) => {
                c.add("free space for the backups", false, e.to_string());
            }
        }
    }
    let mut notices = source
        .as_ref()
        .map(|p| super::notices::notices(host, p, hives.as_ref()))
        .unwrap_or_default();
    // MDM enrollments and Windows Hello state (steps/mdm.rs, steps/hello.rs).
    notices.extend(super::steps::identity_notices(host, req, source.as_ref()));
    Ok(Preflight {
        checks: c.0,
        notices,
        source,
        hives,
        existing,
    })
}

/// What only the running Windows can say: who runs admu, whether the user is signed
/// in or the profile loaded, which processes hold the hives, how to leave the domain.
/// Offline, the live-only options are refused.
fn check_live(
    host: &dyn MigrationHost,
    req: &MigrateRequest,
    source: Option<&Profile>,
    hives: Option<&OpenedHives>,
    c: &mut Checks,
) -> Result<()> {
    let Some(live) = host.live() else {
        let asked: Vec<&str> = [
            (req.logoff, "--logoff"),
            (req.leave_domain, "--leave-domain"),
            (req.reboot.is_some(), "--reboot"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, flag)| *flag)
        .collect();
        if !asked.is_empty() {
            c.add(
                "options fit an offline volume",
                false,
                format!(
                    "{} work on the live system only: run admu on the Windows it migrates,                      without --root",
                    asked.join(", ")
                ),
            );
        }
        return Ok(());
    };
    let running_as = live.running_as()?;
    let elevated = crate::live::require_elevation(running_as);
    c.add(
        "admu runs elevated or as SYSTEM",
        elevated.is_ok(),
        elevated
            .err()
            .unwrap_or_else(|| format!("running as {running_as:?}")),
    );
    if let Some(sid) = source.and_then(|p| p.sid.as_ref()) {
        let sessions = live.sessions()?;
        let loaded = live.loaded_hives()?;
        let in_use = crate::live::profile_in_use(sid, &loaded, &sessions);
        let signed_in = sessions.iter().any(|s| s.sid.as_ref() == Some(sid));
        let ok = in_use.is_none() || (req.logoff && signed_in);
        c.add(
            "the user is signed out and the profile unloaded",
            ok,
            match (&in_use, ok) {
                (None, _) => "no session and no loaded hive for this SID".to_string(),
                (Some(_), true) => "--logoff: admu signs the user's sessions out first".into(),
                (Some(why), false) => why.clone(),
            },
        );
    }
    if let Some(h) = hives {
        let files = [h.ntuser.path.as_path(), h.usrclass.path.as_path()];
        let holders = live.file_holders(&files)?;
        c.add(
            "no process holds the user hives",
            holders.is_empty(),
            crate::live::describe_holders(&files, &holders),
        );
    }
    if req.leave_domain {
        let plan = crate::live::leave_plan(&live.join_state()?, running_as);
        c.add(
            "--leave-domain can leave",
            plan.is_ok(),
            match plan {
                Ok(p) => format!(
                    "after the migration: {}{}",
                    if p.entra { "dsregcmd /leave" } else { "" },
                    match (p.entra, p.ad) {
                        (true, true) => ", then NetUnjoinDomain",
                        (false, true) => "NetUnjoinDomain",
                        _ => "",
                    }
                ),
                Err(e) => e,
            },
        );
    }
    Ok(())
}

fn check_journals(host: &dyn MigrationHost, c: &mut Checks) -> Result<()> {
    let journals = super::find_journals(host)?;
    let unfinished: Vec<_> = journals.iter().filter(|j| !j.finished).collect();
    c.add(
        "no unfinished migration",
        unfinished.is_empty(),
        match unfinished.first() {
            None => "no unfinished journal on the volume".to_string(),
            Some(j) => format!(
                "{} journal(s) did not finish (first: {}, {}): run `admu recover` first",
                unfinished.len(),
                j.id,
                j.status
            ),
        },
    );
    Ok(())
}

/// The source profile and the checks about it.
fn check_source(
    host: &dyn MigrationHost,
    req: &MigrateRequest,
    c: &mut Checks,
) -> Result<Option<Profile>> {
    let p = match find_source(host, &req.from) {
        Ok(p) => p,
        Err(e) => {
            c.add("source profile exists", false, e.to_string());
            return Ok(None);
        }
    };
    let path = p.path.clone().unwrap_or_default();
    c.add(
        "source profile exists",
        true,
        format!("{} ({}) at {path}", p.account, p.key),
    );
    let kind_ok = matches!(p.kind, ProfileKind::Domain | ProfileKind::Entra);
    c.add(
        "source is a domain or Entra account",
        kind_ok,
        format!(
            "{:?} account{}",
            p.kind,
            if kind_ok {
                ""
            } else {
                ": admu converts domain and Entra profiles"
            }
        ),
    );
    let folder_upper = path.to_uppercase();
    let migrated = p.states.contains(&ProfileState::Migrated)
        || MIGRATED_FOLDER_SUFFIXES
            .iter()
            .any(|s| folder_upper.ends_with(s));
    c.add(
        "profile folder is not a migrated one",
        !migrated,
        if migrated {
            format!("{path} ends with .ADMU/.WORKGROUP: this profile was already migrated")
        } else {
            path.clone()
        },
    );
    let refcount = profile_refcount(host, &p.key)?;
    c.add(
        "profile is not loaded",
        refcount == 0,
        if refcount == 0 {
            "RefCount is 0".to_string()
        } else {
            format!(
                "ProfileList RefCount is {refcount}: the profile is loaded, or Windows did not \
                 unload it cleanly; log the user off (or reboot) first"
            )
        },
    );
    match profile_sid(&p) {
        Err(e) => {
            c.add("source SID is valid", false, e.to_string());
        }
        // The profile's SID always maps to the new account: a `--map` for it would be
        // silently overridden.
        Ok(old) => {
            if let Some(to) = req.extra_map.get(&old) {
                c.add(
                    "--map leaves the profile's own SID alone",
                    false,
                    format!("--map {old}={to}: the profile's SID maps to the new account"),
                );
            }
        }
    }
    Ok(Some(p))
}

/// Opens both user hives once (replaying their logs) and checks them; the steps
/// convert what was opened here.
fn open_hives(p: &Profile, c: &mut Checks) -> Option<OpenedHives> {
    let paths = match hive_paths(p) {
        Ok(h) => h,
        Err(e) => {
            c.add("both user hives present and readable", false, e.to_string());
            return None;
        }
    };
    let mut problems = Vec::new();
    let mut marker = None;
    let mut open = |file: &Path| -> Option<OpenedHive> {
        let stamp = match FileStamp::of(file) {
            Ok(s) => s,
            Err(e) => {
                problems.push(e.to_string());
                return None;
            }
        };
        match hive::Hive::open(file) {
            Ok(hv) => {
                let report = hv.check();
                if !report.is_ok() {
                    problems.push(format!(
                        "{}: {} structural errors",
                        file.display(),
                        report.errors()
                    ));
                }
                if hv.on_disk().flags & 1 != 0 {
                    problems.push(format!(
                        "{}: KTM transactions are pending; let Windows load the profile once",
                        file.display()
                    ));
                }
                Some(OpenedHive {
                    path: file.to_path_buf(),
                    stamp,
                    hive: Some(hv),
                })
            }
            Err(e) => {
                problems.push(format!("{}: {e}", file.display()));
                None
            }
        }
    };
    let ntuser = open(&paths.ntuser);
    let usrclass = open(&paths.usrclass);
    if let Some(hv) = ntuser.as_ref().and_then(|o| o.hive.as_ref()) {
        marker = crate::convert::read_marker(hv).ok().flatten();
        check_shell_folders(c, hv);
    }
    c.add(
        "both user hives present and readable",
        problems.is_empty(),
        if problems.is_empty() {
            "NTUSER.DAT and UsrClass.dat read and validate (logs replayed)".to_string()
        } else {
            problems.join("; ")
        },
    );
    c.add(
        "hive carries no admu marker",
        marker.is_none(),
        match &marker {
            Some(m) => format!(
                "already migrated by admu from {} ({})",
                m.previous_sid, m.migration_id
            ),
            None => "no Software\\admu marker".to_string(),
        },
    );
    Some(OpenedHives {
        ntuser: ntuser?,
        usrclass: usrclass?,
    })
}

pub(crate) fn profile_refcount(host: &dyn MigrationHost, key: &str) -> Result<u32> {
    Ok(host
        .key(MachineHive::Software, &format!(r"{PROFILE_LIST}\{key}"))?
        .and_then(|k| k.dword("RefCount"))
        .unwrap_or(0))
}

/// Shell folders redirected to a network share would not follow a local account.
fn check_shell_folders(c: &mut Checks, hive: &hive::Hive) {
    const KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders";
    let mut unc = Vec::new();
    if let Ok(Some(key)) = hive.key(KEY)
        && let Ok(values) = key.values()
    {
        for v in values {
            if let Ok(data) = v.data() {
                let text = hive::value::utf16_until_nul(&data);
                if crate::paths::is_unc(&text) {
                    unc.push(format!("{} = {text}", v.name()));
                }
            }
        }
    }
    c.add(
        "shell folders are not redirected to a network share",
        unc.is_empty(),
        if unc.is_empty() {
            "no UNC paths in User Shell Folders".to_string()
        } else {
            unc.join("; ")
        },
    );
}

/// Room for the hive backups, with a margin for the descriptor journal.
fn backup_bytes(host: &dyn MigrationHost, h: &HivePaths) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let machine: u64 = [MachineHive::Sam, MachineHive::Software]
        .iter()
        .filter_map(|w| host.machine_hive_file(*w))
        .map(|p| size(&p) * 2)
        .sum();
    2 * (size(&h.ntuser) + size(&h.usrclass)) + machine + (64 << 20)
}
