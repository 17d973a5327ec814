//! Every check before a migration, each with its reason; nothing is changed. ADMU's
//! checks (admu-reference §c) and ours.

use serde::Serialize;

use super::{HivePaths, MigrateRequest, find_source, hive_paths, profile_sid};
use crate::error::Result;
use crate::host::{LocalUser, MachineHive, MigrationHost};
use crate::profiles::{PROFILE_LIST, Profile, ProfileKind, ProfileState};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub reason: String,
}

/// All checks, and what they found out.
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    pub checks: Vec<Check>,
    #[serde(skip)]
    pub source: Option<Profile>,
    #[serde(skip)]
    pub hives: Option<HivePaths>,
    /// With `--to-existing`: the account to use.
    #[serde(skip)]
    pub existing: Option<LocalUser>,
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

struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, name: &'static str, passed: bool, reason: impl Into<String>) -> bool {
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
    let mut c = Checks(Vec::new());
    let unfinished = super::find_journals(host)?
        .into_iter()
        .filter(|j| !j.finished)
        .count();
    c.add(
        "no unfinished migration",
        unfinished == 0,
        if unfinished == 0 {
            "no unfinished journal on the volume".to_string()
        } else {
            format!("{unfinished} migration(s) did not finish: run `admu recover` first")
        },
    );

    let source = match find_source(host, &req.from) {
        Ok(p) => {
            c.add(
                "source profile exists",
                true,
                format!(
                    "{} ({}) at {}",
                    p.account,
                    p.key,
                    p.path.clone().unwrap_or_default()
                ),
            );
            Some(p)
        }
        Err(e) => {
            c.add("source profile exists", false, e.to_string());
            None
        }
    };
    let mut hives = None;
    if let Some(p) = &source {
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
        let path = p.path.clone().unwrap_or_default();
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
                format!("ProfileList RefCount is {refcount}: the profile is loaded, or Windows did not unload it cleanly; log the user off (or reboot) first")
            },
        );
        match hive_paths(p) {
            Ok(h) => {
                let mut marker = None;
                let mut problems = Vec::new();
                for file in [&h.ntuser, &h.usrclass] {
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
                            if file == &h.ntuser {
                                marker = crate::convert::read_marker(&hv).ok().flatten();
                                check_shell_folders(&mut c, &hv);
                            }
                        }
                        Err(e) => problems.push(format!("{}: {e}", file.display())),
                    }
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
                hives = Some(h);
            }
            Err(e) => {
                c.add("both user hives present and readable", false, e.to_string());
            }
        }
    }

    // The target account.
    let name_rule = sam::validate_name(&req.to);
    c.add(
        "new name follows Windows' rules",
        name_rule.is_ok(),
        match &name_rule {
            Ok(()) => format!("{:?}: 1-20 characters, none of \"/\\[]:;|=,+*?<>@", req.to),
            Err(e) => e.to_string(),
        },
    );
    match host.computer_name() {
        Ok(computer) => {
            let same = computer.eq_ignore_ascii_case(&req.to);
            c.add(
                "new name differs from the computer name",
                !same,
                if same {
                    format!("the computer is called {computer}")
                } else {
                    format!("computer is {computer}")
                },
            );
        }
        Err(e) => {
            c.add(
                "new name differs from the computer name",
                false,
                format!("cannot read the computer name: {e}"),
            );
        }
    }
    let mut existing = None;
    if req.to_existing {
        let user = host
            .users()?
            .into_iter()
            .find(|u| u.name.eq_ignore_ascii_case(&req.to));
        c.add(
            "existing account found",
            user.is_some(),
            match &user {
                Some(u) => format!("{} is {}", u.name, u.sid),
                None => format!(
                    "--to-existing: there is no local account named {:?}",
                    req.to
                ),
            },
        );
        existing = user;
    } else {
        let taken = host.name_in_use(&req.to)?;
        c.add(
            "new name is free",
            taken.is_none(),
            taken.unwrap_or_else(|| "no user, group or alias has this name".into()),
        );
        c.add(
            "password given",
            req.password.is_some(),
            if req.password.is_some() {
                "from --password-file or --password-env".to_string()
            } else {
                "the new account needs a password: --password-file FILE or --password-env VAR"
                    .to_string()
            },
        );
    }

    c.add(
        "file descriptors can be rewritten",
        host.file_security().is_some(),
        if host.file_security().is_some() {
            "the volume exposes NTFS security descriptors".to_string()
        } else {
            "the volume exposes no NTFS security descriptors (mount it with ntfs-3g)".to_string()
        },
    );
    if let Some(h) = &hives {
        let need = backup_bytes(host, h);
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
    if let Some(p) = &source {
        // The SID must parse for every later step.
        match profile_sid(p) {
            Err(e) => {
                c.add("source SID is valid", false, e.to_string());
            }
            // The profile's SID always maps to the new account: a `--map` for it would
            // be silently overridden.
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
    }
    Ok(Preflight {
        checks: c.0,
        source,
        hives,
        existing,
    })
}

fn profile_refcount(host: &dyn MigrationHost, key: &str) -> Result<u32> {
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
