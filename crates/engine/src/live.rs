//! What only a running Windows has — who runs admu, loaded profiles, sessions, processes
//! holding files, logon rights, domain and Entra membership, restarting — as the
//! [`Live`] trait (implemented by `crates/windows`), and the decisions about it as pure
//! functions, so they are tested on Linux with Windows-shaped inputs.

use std::path::Path;

use ntsec::Sid;
use serde::Serialize;

use crate::error::Result;

/// Who admu runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunningAs {
    /// `NT AUTHORITY\SYSTEM` (an RMM, Intune, a JumpCloud Command).
    System,
    /// An elevated administrator.
    Administrator,
    /// Not elevated: admu cannot work.
    NotElevated,
}

/// An interactive session (WTS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: u32,
    /// `DOMAIN\user`.
    pub user: String,
    pub sid: Option<Sid>,
    /// Active, Disconnected, …
    pub state: String,
}

/// A process that has a file open (Restart Manager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileHolder {
    pub pid: u32,
    /// The image or application name.
    pub image: String,
    pub session: u32,
    /// `DOMAIN\user` the process runs as, when known.
    pub user: Option<String>,
    /// A service, when the holder is one.
    pub service: Option<String>,
}

/// The machine's directory membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JoinState {
    /// The Active Directory domain (NetBIOS name), when joined to one.
    pub ad_domain: Option<String>,
    /// The workgroup, when in one.
    pub workgroup: Option<String>,
    /// The Entra tenant, when Entra-joined (`NetGetAadJoinInformation`).
    pub entra_tenant: Option<String>,
    /// Registered to Entra only as a workplace (not joined): nothing to leave.
    pub workplace_joined: bool,
}

/// What a running Windows offers the engine.
pub trait Live {
    fn running_as(&self) -> Result<RunningAs>;
    /// The subkeys of `HKEY_USERS` (SIDs, `<SID>_Classes`, `.DEFAULT`).
    fn loaded_hives(&self) -> Result<Vec<String>>;
    fn sessions(&self) -> Result<Vec<Session>>;
    /// The processes that hold any of these files open.
    fn file_holders(&self, files: &[&Path]) -> Result<Vec<FileHolder>>;
    /// Signs a session out and waits for it to end.
    fn logoff(&self, session: u32) -> Result<()>;
    /// Whether `sid` holds `SeDenyInteractiveLogonRight`.
    fn logon_denied(&self, sid: &Sid) -> Result<bool>;
    /// Grants or removes `SeDenyInteractiveLogonRight` for `sid`.
    fn set_logon_denied(&self, sid: &Sid, denied: bool) -> Result<()>;
    fn join_state(&self) -> Result<JoinState>;
    /// Leaves the Active Directory domain (`NetUnjoinDomain`).
    fn leave_ad_domain(&self) -> Result<()>;
    /// Leaves Entra (the 64-bit `dsregcmd.exe /leave`; needs SYSTEM).
    fn leave_entra(&self) -> Result<()>;
    /// Restarts the machine after `delay_secs`, giving `reason`.
    fn reboot(&self, delay_secs: u32, reason: &str) -> Result<()>;
}

/// The privileges the file-security backend enables: read and write any descriptor,
/// owner and SACL regardless of the DACL.
pub const FILE_SECURITY_PRIVILEGES: [&str; 4] = [
    "SeBackupPrivilege",
    "SeRestorePrivilege",
    "SeTakeOwnershipPrivilege",
    "SeSecurityPrivilege",
];

/// A Win32 path in its long form (`\\?\C:\…`, `\\?\UNC\server\share\…`), so paths
/// longer than 260 characters work and nothing is normalised away. Forward slashes
/// become backslashes; an already long path is left as it is.
pub fn long_path(path: &str) -> String {
    let path = path.replace('/', "\\");
    if path.starts_with(r"\\?\") || path.starts_with(r"\\.\") {
        return path;
    }
    if let Some(unc) = path.strip_prefix(r"\\") {
        return format!(r"\\?\UNC\{unc}");
    }
    format!(r"\\?\{path}")
}

/// Whether the user of `sid` is signed in or their profile is loaded, from what
/// Windows shows; the reason names the sessions or the loaded hive.
pub fn profile_in_use(sid: &Sid, loaded_hives: &[String], sessions: &[Session]) -> Option<String> {
    let own: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.sid.as_ref() == Some(sid))
        .collect();
    if !own.is_empty() {
        let list: Vec<String> = own
            .iter()
            .map(|s| format!("session {} ({}, {})", s.id, s.user, s.state))
            .collect();
        return Some(format!(
            "{} is signed in: {}. Sign them out, or pass --logoff to have admu sign them out",
            own[0].user,
            list.join(", ")
        ));
    }
    let text = sid.to_string();
    let hive = loaded_hives.iter().find(|k| {
        k.eq_ignore_ascii_case(&text) || k.eq_ignore_ascii_case(&format!("{text}_Classes"))
    });
    hive.map(|k| {
        format!(
            "HKEY_USERS\\{k} is loaded although nobody of that account is signed in: a \
             service or a scheduled task runs as the user, or Windows has not unloaded the \
             profile yet. Stop it, or restart Windows, then run admu again"
        )
    })
}

/// The message for files held open by processes.
pub fn describe_holders(files: &[&Path], holders: &[FileHolder]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    if holders.is_empty() {
        return format!("{} are not held open by any process", names.join(", "));
    }
    let list: Vec<String> = holders
        .iter()
        .map(|h| {
            let mut s = format!("{} (PID {}, session {}", h.image, h.pid, h.session);
            if let Some(u) = &h.user {
                s.push_str(&format!(", user {u}"));
            }
            if let Some(svc) = &h.service {
                s.push_str(&format!(", service {svc}"));
            }
            s.push(')');
            s
        })
        .collect();
    format!(
        "{} held open by {}: close those programs (or stop the services) and run admu \
         again; admu never ends processes by itself",
        names.join(", "),
        list.join("; ")
    )
}

/// How to leave the directory, decided before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LeavePlan {
    /// `dsregcmd /leave` first (Entra or hybrid).
    pub entra: bool,
    /// Then `NetUnjoinDomain`.
    pub ad: bool,
}

/// The leave-domain decision table: AD-joined → unjoin; Entra-joined → `dsregcmd
/// /leave` (needs SYSTEM); hybrid → both, Entra first; a workgroup machine or one only
/// workplace-registered has nothing to leave (an error, before anything changes).
pub fn leave_plan(
    join: &JoinState,
    running_as: RunningAs,
) -> std::result::Result<LeavePlan, String> {
    let plan = LeavePlan {
        entra: join.entra_tenant.is_some(),
        ad: join.ad_domain.is_some(),
    };
    if !plan.entra && !plan.ad {
        return Err(format!(
            "--leave-domain: this computer is in no domain and not Entra-joined ({}): nothing \
             to leave; run without --leave-domain",
            match (&join.workgroup, join.workplace_joined) {
                (Some(w), true) => format!("workgroup {w}, only workplace-registered to Entra"),
                (Some(w), false) => format!("workgroup {w}"),
                (None, true) => "only workplace-registered to Entra".to_string(),
                (None, false) => "no membership found".to_string(),
            }
        ));
    }
    if plan.entra && running_as != RunningAs::System {
        return Err(format!(
            "--leave-domain: leaving Entra ID (tenant {}) with dsregcmd /leave works only as \
             SYSTEM; run admu as SYSTEM (a JumpCloud Command, Intune, an RMM, or `psexec -s`), \
             or run without --leave-domain and leave the tenant later",
            join.entra_tenant.as_deref().unwrap_or("?")
        ));
    }
    Ok(plan)
}

/// The Task Scheduler task that finishes an interrupted migration at the next start.
pub const RECOVER_TASK: &str = "admu recover";

/// `schtasks.exe` arguments that register `admu recover` to run as SYSTEM at the next
/// start (replacing an earlier registration), for a run that ended with an unfinished
/// journal: the machine does not start its next session half-migrated.
pub fn recover_task_create(exe: &Path, log: &Path) -> Vec<String> {
    vec![
        "/Create".into(),
        "/F".into(),
        "/RU".into(),
        "SYSTEM".into(),
        "/SC".into(),
        "ONSTART".into(),
        "/RL".into(),
        "HIGHEST".into(),
        "/TN".into(),
        RECOVER_TASK.into(),
        "/TR".into(),
        format!(
            "\"{}\" recover --log-file \"{}\"",
            exe.display(),
            log.display()
        ),
    ]
}

/// `schtasks.exe` arguments that remove that task again.
pub fn recover_task_delete() -> Vec<String> {
    ["/Delete", "/F", "/TN", RECOVER_TASK]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Refuses a run that is not elevated, saying how to run it.
pub fn require_elevation(running_as: RunningAs) -> std::result::Result<(), String> {
    match running_as {
        RunningAs::System | RunningAs::Administrator => Ok(()),
        RunningAs::NotElevated => Err(
            "admu changes accounts, registry and file security: run it from an elevated \
             prompt (Run as administrator) or as SYSTEM"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> Sid {
        s.parse().expect("SID")
    }

    #[test]
    fn the_recover_task_runs_admu_as_system_at_start() {
        let args = recover_task_create(
            Path::new(r"C:\Program Files\admu\admu.exe"),
            Path::new(r"C:\Windows\Temp\admu-recover.jsonl"),
        );
        let text = args.join(" ");
        assert!(text.contains("/RU SYSTEM /SC ONSTART"), "{text}");
        assert!(
            text.ends_with(r#"/TR "C:\Program Files\admu\admu.exe" recover --log-file "C:\Windows\Temp\admu-recover.jsonl""#),
            "{text}"
        );
        assert_eq!(
            recover_task_delete().join(" "),
            "/Delete /F /TN admu recover"
        );
    }

    #[test]
    fn long_paths_take_the_verbatim_prefix_once() {
        assert_eq!(long_path(r"C:\Users\alice"), r"\\?\C:\Users\alice");
        assert_eq!(long_path("C:/Users/alice/x"), r"\\?\C:\Users\alice\x");
        assert_eq!(long_path(r"\\srv\share\a"), r"\\?\UNC\srv\share\a");
        assert_eq!(long_path(r"\\?\C:\x"), r"\\?\C:\x");
        let deep = format!(r"C:\Users\alice\{}", "d\\".repeat(200));
        assert!(long_path(&deep).starts_with(r"\\?\C:\") && long_path(&deep).len() > 260);
    }

    #[test]
    fn a_signed_in_user_or_a_loaded_hive_is_named() {
        let alice = sid("S-1-5-21-1-2-3-1103");
        let sessions = vec![Session {
            id: 2,
            user: r"CORP\alice".into(),
            sid: Some(alice.clone()),
            state: "Disconnected".into(),
        }];
        let why = profile_in_use(&alice, &[], &sessions).expect("in use");
        assert!(
            why.contains("session 2") && why.contains("--logoff"),
            "{why}"
        );
        let hives = vec![
            ".DEFAULT".to_string(),
            "S-1-5-21-1-2-3-1103_Classes".to_string(),
        ];
        let why = profile_in_use(&alice, &hives, &[]).expect("loaded");
        assert!(
            why.contains("HKEY_USERS") && why.contains("_Classes"),
            "{why}"
        );
        assert_eq!(profile_in_use(&alice, &[".DEFAULT".into()], &[]), None);
    }

    #[test]
    fn holders_are_named_with_pid_session_user_and_service() {
        let f = Path::new(r"C:\Users\alice\NTUSER.DAT");
        let holders = vec![
            FileHolder {
                pid: 4242,
                image: "OneDrive.exe".into(),
                session: 1,
                user: Some(r"CORP\alice".into()),
                service: None,
            },
            FileHolder {
                pid: 900,
                image: "svchost.exe".into(),
                session: 0,
                user: None,
                service: Some("ProfSvc".into()),
            },
        ];
        let m = describe_holders(&[f], &holders);
        assert!(
            m.contains("OneDrive.exe (PID 4242, session 1, user CORP\\alice)"),
            "{m}"
        );
        assert!(
            m.contains("service ProfSvc") && m.contains("never ends processes"),
            "{m}"
        );
    }

    #[test]
    fn the_leave_domain_decision_table() {
        let ad = JoinState {
            ad_domain: Some("CORP".into()),
            ..JoinState::default()
        };
        let entra = JoinState {
            entra_tenant: Some("contoso.onmicrosoft.com".into()),
            workgroup: Some("WORKGROUP".into()),
            ..JoinState::default()
        };
        let hybrid = JoinState {
            ad_domain: Some("CORP".into()),
            entra_tenant: Some("contoso".into()),
            ..JoinState::default()
        };
        let workgroup = JoinState {
            workgroup: Some("WORKGROUP".into()),
            ..JoinState::default()
        };
        let both = LeavePlan {
            entra: true,
            ad: true,
        };
        for who in [RunningAs::System, RunningAs::Administrator] {
            assert_eq!(
                leave_plan(&ad, who),
                Ok(LeavePlan {
                    entra: false,
                    ad: true
                })
            );
        }
        assert_eq!(
            leave_plan(&entra, RunningAs::System),
            Ok(LeavePlan {
                entra: true,
                ad: false
            })
        );
        assert_eq!(leave_plan(&hybrid, RunningAs::System), Ok(both));
        for j in [&entra, &hybrid] {
            let e = leave_plan(j, RunningAs::Administrator).expect_err("needs SYSTEM");
            assert!(e.contains("only as SYSTEM"), "{e}");
        }
        let e = leave_plan(&workgroup, RunningAs::System).expect_err("nothing to leave");
        assert!(e.contains("workgroup WORKGROUP"), "{e}");
        assert!(require_elevation(RunningAs::NotElevated).is_err());
        assert!(require_elevation(RunningAs::Administrator).is_ok());
    }
}
