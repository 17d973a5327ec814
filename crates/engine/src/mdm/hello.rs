//! Windows Hello state bound to a user's SID, read only.
//!
//! - **NGC containers** (PIN, Windows Hello for Business keys):
//!   `Windows\ServiceProfiles\LocalService\AppData\Local\Microsoft\Ngc\{GUID}`, one per
//!   enrolled user; its `1.dat` holds the owner's SID as UTF-16LE text (forensic
//!   write-ups of the NGC folder; `../shared/docs/windows-profile-state.md` §5). The
//!   keys in it are TPM-bound and useless to another SID, so the container cannot be
//!   carried: clearing it lets the new account set up a PIN again.
//! - **Biometric templates** (fingerprint, face): the Windows Biometric Service keeps
//!   one database per sensor, `Windows\System32\WinBioDatabase\{GUID}.DAT`, configured
//!   under `SYSTEM\CurrentControlSet\Services\WbioSrvc\Service Provider\Databases\{GUID}`
//!   (`FilePath`, `BiometricType`…) (Microsoft's Windows Biometric Framework
//!   documentation; Gilles Laurent, "Windows Biometric Framework", glsft.free.fr, 2018).
//!   In the system pool each identity is the Windows account's SID. The file format is
//!   private and shared by every user of the sensor, so admu never edits it: it reports
//!   whether the old SID's bytes appear in it (a heuristic), which is what makes
//!   Windows say "That fingerprint has already been set up by another account"
//!   (JumpCloud ADMU issue #104).

use std::path::Path;

use ntsec::Sid;
use serde::Serialize;

use crate::error::Result;
use crate::host::{Host, MachineHive};

/// The NGC folder, volume-relative.
pub const NGC_DIR: &str = r"Windows\ServiceProfiles\LocalService\AppData\Local\Microsoft\Ngc";
/// The biometric databases, volume-relative.
pub const WINBIO_DIR: &str = r"Windows\System32\WinBioDatabase";
/// The Windows Biometric Service's database list below the control set.
pub const WINBIO_DATABASES: &str = r"Services\WbioSrvc\Service Provider\Databases";

/// One NGC container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NgcContainer {
    pub guid: String,
    /// Volume-relative folder.
    pub folder: String,
    /// The SID its `1.dat` names (`None`: unreadable or not a SID).
    pub sid: Option<String>,
    pub files: usize,
}

/// One biometric database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BioDatabase {
    /// Volume-relative file.
    pub file: String,
    pub len: u64,
    /// Whether the user's SID (binary or text) appears in it (`None`: not read).
    pub names_sid: Option<bool>,
    /// `BiometricType` of its registry entry, when listed there.
    pub biometric_type: Option<u32>,
}

/// Windows Hello state, for a user when a SID is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HelloState {
    pub containers: Vec<NgcContainer>,
    pub databases: Vec<BioDatabase>,
    /// Why the NGC folder could not be read (live: only SYSTEM may).
    pub unreadable: Option<String>,
}

impl HelloState {
    /// The containers of `sid`.
    pub fn of<'a>(&'a self, sid: &str) -> impl Iterator<Item = &'a NgcContainer> + use<'a> {
        let sid = sid.to_string();
        self.containers.iter().filter(move |c| {
            c.sid
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&sid))
        })
    }
}

/// The SID text in an NGC `1.dat` (UTF-16LE up to the first NUL).
pub fn sid_of_dat(bytes: &[u8]) -> Option<String> {
    let text = hive::value::utf16_until_nul(bytes);
    let text = text.trim();
    text.parse::<Sid>().ok().map(|s| s.to_string())
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}

/// Reads the NGC containers and biometric databases; with `sid`, each database is
/// searched for it.
pub fn survey(host: &dyn Host, sid: Option<&Sid>) -> Result<HelloState> {
    let mut state = HelloState::default();
    if let Some(dir) = host.host_path(&format!(r"%SystemDrive%\{NGC_DIR}")) {
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut found: Vec<_> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .collect();
                found.sort_by_key(|e| e.file_name());
                for e in found {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !super::is_guid(&name) {
                        continue;
                    }
                    let path = e.path();
                    let owner = crate::paths::resolve(&path, "1.dat")
                        .and_then(|f| std::fs::read(f).ok())
                        .and_then(|b| sid_of_dat(&b));
                    state.containers.push(NgcContainer {
                        folder: format!(r"{NGC_DIR}\{name}"),
                        guid: name,
                        sid: owner,
                        files: count_files(&path),
                    });
                }
            }
            Err(e) => state.unreadable = Some(format!("{}: {e}", dir.display())),
        }
    }
    state.databases = databases(host, sid)?;
    Ok(state)
}

/// The biometric databases: the files of `WinBioDatabase`, with their registry entry.
fn databases(host: &dyn Host, sid: Option<&Sid>) -> Result<Vec<BioDatabase>> {
    let Some(dir) = host.host_path(&format!(r"%SystemDrive%\{WINBIO_DIR}")) else {
        return Ok(Vec::new());
    };
    let listed = registered(host)?;
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.to_ascii_lowercase().ends_with(".dat") {
            continue;
        }
        let names_sid = sid.map(|s| {
            std::fs::read(e.path())
                .ok()
                .map(|bytes| contains_sid(&bytes, s))
        });
        out.push(BioDatabase {
            file: format!(r"{WINBIO_DIR}\{name}"),
            len: e.metadata().map(|m| m.len()).unwrap_or(0),
            names_sid: names_sid.flatten(),
            biometric_type: listed
                .iter()
                .find(|(file, _)| file.eq_ignore_ascii_case(&name))
                .and_then(|(_, t)| *t),
        });
    }
    Ok(out)
}

/// `(file name, BiometricType)` of every database the service lists.
fn registered(host: &dyn Host) -> Result<Vec<(String, Option<u32>)>> {
    let n = host
        .key(MachineHive::System, "Select")?
        .and_then(|k| k.dword("Current"))
        .unwrap_or(1);
    let base = format!(r"ControlSet{n:03}\{WINBIO_DATABASES}");
    let Some(list) = host.key(MachineHive::System, &base)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for db in &list.subkeys {
        if let Some(k) = host.key(MachineHive::System, &format!(r"{base}\{db}"))? {
            let file = k
                .string("FilePath")
                .and_then(|p| p.rsplit('\\').next().map(str::to_string))
                .unwrap_or_else(|| format!("{db}.DAT"));
            out.push((file, k.dword("BiometricType")));
        }
    }
    Ok(out)
}

/// Whether `bytes` hold the SID, binary or as UTF-16 text.
pub fn contains_sid(bytes: &[u8], sid: &Sid) -> bool {
    let binary = sid.to_bytes();
    let text: Vec<u8> = sid
        .to_string()
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    [binary, text]
        .iter()
        .any(|needle| bytes.windows(needle.len()).any(|w| w == needle.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_owner_of_a_container() {
        let sid = "S-1-5-21-1-2-3-1104";
        let mut dat: Vec<u8> = sid.encode_utf16().flat_map(u16::to_le_bytes).collect();
        dat.extend([0, 0, 7, 7]);
        assert_eq!(sid_of_dat(&dat).as_deref(), Some(sid));
        assert_eq!(sid_of_dat(b"\x01\x02"), None);
        let parsed: Sid = sid.parse().expect("SID");
        let mut db = vec![0u8; 40];
        db.extend(parsed.to_bytes());
        assert!(contains_sid(&db, &parsed));
        assert!(!contains_sid(&db[..44], &parsed));
    }
}
