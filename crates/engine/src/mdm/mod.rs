//! MDM enrollments and Windows Hello state on a Windows installation, read only: what
//! `admu list` and `admu check` report, and what the `mdm` and `hello` migration steps
//! remove. Nothing here changes anything.
//!
//! An enrollment is found two ways, as JumpCloud's ADMU finds them
//! (`../shared/docs/admu-reference.md`, `Get-WindowsMDMProvider`): a GUID-named key of
//! `SOFTWARE\Microsoft\Enrollments` with a `ProviderID` (ADMU also wants a `UPN`; a
//! device enrollment may have none, so admu reports it either way), and a GUID-named
//! task folder `Windows\System32\Tasks\Microsoft\Windows\EnterpriseMgmt\<GUID>`. The
//! keys named by the same GUID elsewhere in SOFTWARE are the ones ADMU's
//! `Remove-WindowsMDMProvider` deletes; the certificates are those of the machine `MY`
//! store whose thumbprint the enrollment names (`DMPCertThumbPrint`) or whose issuer
//! names its provider.

pub mod cert;
pub mod hello;

use serde::Serialize;

use crate::error::Result;
use crate::host::{Host, MachineHive};

pub const ENROLLMENTS: &str = r"Microsoft\Enrollments";
/// The task folders of enrollments (volume-relative).
pub const TASKS_DIR: &str = r"Windows\System32\Tasks\Microsoft\Windows\EnterpriseMgmt";
/// The machine `MY` store in SOFTWARE.
pub const MY_CERTS: &str = r"Microsoft\SystemCertificates\MY\Certificates";
pub const TASK_CACHE: &str = r"Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache";
/// The task path of enrollment tasks (`\Microsoft\Windows\EnterpriseMgmt\<GUID>\…`).
pub const TASK_PATH: &str = r"\Microsoft\Windows\EnterpriseMgmt";
/// TaskCache's per-trigger indexes of task GUIDs.
pub const TASK_INDEXES: [&str; 4] = ["Plain", "Boot", "Logon", "Maintenance"];

/// Parents whose `<GUID>` subkey belongs to the enrollment of that GUID (ADMU's list).
pub const PER_GUID: [&str; 9] = [
    r"Microsoft\Enrollments",
    r"Microsoft\Enrollments\Status",
    r"Microsoft\Enrollments\Context",
    r"Microsoft\EnterpriseResourceManager\Tracked",
    r"Microsoft\PolicyManager\AdmxInstalled",
    r"Microsoft\PolicyManager\Providers",
    r"Microsoft\Provisioning\OMADM\Accounts",
    r"Microsoft\Provisioning\OMADM\Logger",
    r"Microsoft\Provisioning\OMADM\Sessions",
];

/// Issuers of MDM device certificates by provider (`ProviderID` of Intune enrollments
/// is `MS DM Server`; its device certificate's issuer is the Intune device CA).
const KNOWN_ISSUERS: [(&str, &str); 1] = [("MS DM Server", "Microsoft Intune MDM Device CA")];

/// Where an enrollment was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundIn {
    Registry,
    Tasks,
    Both,
}

impl std::fmt::Display for FoundIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FoundIn::Registry => "registry",
            FoundIn::Tasks => "tasks",
            FoundIn::Both => "registry and tasks",
        })
    }
}

/// One MDM enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrollment {
    /// The GUID as the key or folder names it.
    pub guid: String,
    pub provider: Option<String>,
    pub upn: Option<String>,
    pub found_in: FoundIn,
    /// JumpCloud's own enrollment: never removed.
    pub jumpcloud: bool,
    /// Every SOFTWARE key that belongs to it (its GUID-named keys, and TaskCache's).
    pub keys: Vec<String>,
    /// Its EnterpriseMgmt task folder (volume-relative) and the task names in it.
    pub task_folder: Option<String>,
    pub tasks: Vec<String>,
    /// Its certificates in the machine `MY` store.
    pub certificates: Vec<cert::StoreCert>,
}

/// What blocks a new enrollment once the old one is gone (values of
/// `SOFTWARE\Microsoft\Enrollments`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Residue {
    pub mmpc_enrollment_flag: Option<u32>,
    pub externally_managed: Option<u32>,
}

/// The MDM state of a machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MdmState {
    pub enrollments: Vec<Enrollment>,
    pub residue: Residue,
}

impl MdmState {
    /// The enrollments `--remove-mdm` removes (all but JumpCloud's).
    pub fn removable(&self) -> impl Iterator<Item = &Enrollment> {
        self.enrollments.iter().filter(|e| !e.jumpcloud)
    }
}

/// A GUID, bare or braced, in any case.
pub fn is_guid(text: &str) -> bool {
    let t = text.trim_start_matches('{').trim_end_matches('}');
    t.len() == 36
        && t.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Reads the enrollments, their keys, tasks and certificates.
pub fn survey(host: &dyn Host) -> Result<MdmState> {
    let sw = MachineHive::Software;
    let mut state = MdmState::default();
    let mut guids: Vec<(String, bool, bool)> = Vec::new();
    if let Some(root) = host.key(sw, ENROLLMENTS)? {
        state.residue.mmpc_enrollment_flag = root.dword("MmpcEnrollmentFlag");
        state.residue.externally_managed = root.dword("ExternallyManaged");
        for name in root.subkeys.iter().filter(|n| is_guid(n)) {
            let key = host.key(sw, &format!(r"{ENROLLMENTS}\{name}"))?;
            if key.is_some_and(|k| k.string("ProviderID").is_some_and(|p| !p.is_empty())) {
                guids.push((name.clone(), true, false));
            }
        }
    }
    for folder in task_folders(host) {
        match guids.iter_mut().find(|(g, _, _)| same(g, &folder)) {
            Some(entry) => entry.2 = true,
            None => guids.push((folder, false, true)),
        }
    }
    let certs = store_certs(host)?;
    for (guid, in_registry, in_tasks) in guids {
        state
            .enrollments
            .push(enrollment(host, &guid, in_registry, in_tasks, &certs)?);
    }
    // A certificate a kept (JumpCloud) enrollment names is never removed.
    let kept: Vec<String> = state
        .enrollments
        .iter()
        .filter(|e| e.jumpcloud)
        .flat_map(|e| e.certificates.iter().map(|c| c.thumbprint.clone()))
        .collect();
    for e in state.enrollments.iter_mut().filter(|e| !e.jumpcloud) {
        e.certificates
            .retain(|c| !kept.iter().any(|k| same(k, &c.thumbprint)));
    }
    Ok(state)
}

/// The GUID-named folders of EnterpriseMgmt tasks.
fn task_folders(host: &dyn Host) -> Vec<String> {
    let Some(dir) = host.host_path(&format!(r"%SystemDrive%\{TASKS_DIR}")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_guid(n))
        .collect();
    out.sort();
    out
}

/// Every certificate of the machine `MY` store.
fn store_certs(host: &dyn Host) -> Result<Vec<cert::StoreCert>> {
    let sw = MachineHive::Software;
    let Some(store) = host.key(sw, MY_CERTS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for thumb in &store.subkeys {
        let Some(k) = host.key(sw, &format!(r"{MY_CERTS}\{thumb}"))? else {
            continue;
        };
        let (issuer, subject) = k
            .value("Blob")
            .and_then(|b| cert::cert_of_blob(&b.data))
            .map(cert::names)
            .unwrap_or((None, None));
        out.push(cert::StoreCert {
            thumbprint: thumb.clone(),
            issuer,
            subject,
        });
    }
    Ok(out)
}

fn enrollment(
    host: &dyn Host,
    guid: &str,
    in_registry: bool,
    in_tasks: bool,
    certs: &[cert::StoreCert],
) -> Result<Enrollment> {
    let sw = MachineHive::Software;
    let key = host.key(sw, &format!(r"{ENROLLMENTS}\{guid}"))?;
    let provider = key.as_ref().and_then(|k| k.string("ProviderID"));
    let upn = key
        .as_ref()
        .and_then(|k| k.string("UPN"))
        .filter(|u| !u.is_empty());
    let thumbprint = key
        .as_ref()
        .and_then(|k| k.string("DMPCertThumbPrint"))
        .map(|t| t.replace(' ', ""));
    let mut keys = Vec::new();
    for parent in PER_GUID {
        if let Some(p) = host.key(sw, parent)?
            && let Some(name) = p.subkeys.iter().find(|n| same(n, guid))
        {
            keys.push(format!(r"{parent}\{name}"));
        }
    }
    keys.extend(task_cache_keys(host, guid)?);
    let (task_folder, tasks) = if in_tasks {
        let rel = format!(r"{TASKS_DIR}\{guid}");
        let names = host
            .host_path(&format!(r"%SystemDrive%\{rel}"))
            .and_then(|d| std::fs::read_dir(d).ok())
            .map(|entries| {
                let mut n: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                n.sort();
                n
            })
            .unwrap_or_default();
        (Some(rel), names)
    } else {
        (None, Vec::new())
    };
    let issuer_for = provider.as_deref().and_then(|p| {
        KNOWN_ISSUERS
            .iter()
            .find(|(prov, _)| same(prov, p))
            .map(|(_, issuer)| *issuer)
    });
    let certificates = certs
        .iter()
        .filter(|c| {
            thumbprint
                .as_deref()
                .is_some_and(|t| same(t, &c.thumbprint))
                || c.issuer.as_deref().is_some_and(|i| {
                    issuer_for.is_some_and(|want| same(i, want))
                        || provider.as_deref().is_some_and(|p| {
                            p.len() >= 3 && i.to_lowercase().contains(&p.to_lowercase())
                        })
                })
        })
        .cloned()
        .collect();
    Ok(Enrollment {
        guid: guid.to_string(),
        jumpcloud: provider
            .as_deref()
            .is_some_and(|p| p.to_lowercase().contains("jumpcloud")),
        provider,
        upn,
        found_in: match (in_registry, in_tasks) {
            (true, true) => FoundIn::Both,
            (true, false) => FoundIn::Registry,
            _ => FoundIn::Tasks,
        },
        keys,
        task_folder,
        tasks,
        certificates,
    })
}

/// TaskCache's keys of an enrollment's tasks: the `Tree` folder, and for each task (by
/// its `Id`, or any task whose `Path` lies in the folder) `Tasks\{id}` and the trigger
/// indexes.
fn task_cache_keys(host: &dyn Host, guid: &str) -> Result<Vec<String>> {
    let sw = MachineHive::Software;
    let mut ids = Vec::new();
    let mut out = Vec::new();
    let tree_parent = format!(r"{TASK_CACHE}\Tree{TASK_PATH}");
    if let Some(parent) = host.key(sw, &tree_parent)?
        && let Some(name) = parent.subkeys.iter().find(|n| same(n, guid))
    {
        let folder = format!(r"{tree_parent}\{name}");
        if let Some(f) = host.key(sw, &folder)? {
            for task in &f.subkeys {
                if let Some(t) = host.key(sw, &format!(r"{folder}\{task}"))?
                    && let Some(id) = t.string("Id")
                {
                    ids.push(id);
                }
            }
        }
        out.push(folder);
    }
    let prefix = format!(r"{TASK_PATH}\{guid}\").to_lowercase();
    if let Some(tasks) = host.key(sw, &format!(r"{TASK_CACHE}\Tasks"))? {
        for id in &tasks.subkeys {
            let path = format!(r"{TASK_CACHE}\Tasks\{id}");
            let listed = ids.iter().any(|i| same(i, id));
            let in_folder = || -> Result<bool> {
                Ok(host
                    .key(sw, &path)?
                    .and_then(|k| k.string("Path"))
                    .is_some_and(|p| p.to_lowercase().starts_with(&prefix)))
            };
            if listed || in_folder()? {
                out.push(path);
                if !listed {
                    ids.push(id.clone());
                }
            }
        }
    }
    for index in TASK_INDEXES {
        if let Some(k) = host.key(sw, &format!(r"{TASK_CACHE}\{index}"))? {
            for id in k.subkeys.iter().filter(|s| ids.iter().any(|i| same(i, s))) {
                out.push(format!(r"{TASK_CACHE}\{index}\{id}"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_bare_or_braced() {
        assert!(is_guid("7A2C1A1E-3F0B-4C6A-9D2E-5B8F1C0D4E6A"));
        assert!(is_guid("{7a2c1a1e-3f0b-4c6a-9d2e-5b8f1c0d4e6a}"));
        assert!(!is_guid("Status"));
        assert!(!is_guid("7A2C1A1E-3F0B-4C6A-9D2E-5B8F1C0D4E6"));
        assert!(!is_guid("7A2C1A1E+3F0B-4C6A-9D2E-5B8F1C0D4E6A"));
    }
}
