//! Where a SID appears on a machine (`admu sids`): in every hive of the volume (machine
//! hives, `DEFAULT`, every profile's NTUSER.DAT and UsrClass.dat) as a key name, a value
//! name, string data, binary SID data and in security descriptors; in file and folder
//! names and file descriptors; in scheduled-task XML. Read-only, streamed: hives are
//! walked key by key, files one at a time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ntsec::{SecurityDescriptor, Sid};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::host::{Host, MachineHive};
use crate::profiles::{DiscoverOptions, discover};

/// Which files to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileScope {
    /// The whole volume.
    All,
    /// The profile folders of profiles that belong to the SID.
    Profile,
    /// No files (hives and tasks only).
    None,
}

/// A part of a security descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SdPart {
    Owner,
    Group,
    Dacl,
    Sacl,
}

/// What names the SID at a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum What {
    KeyName,
    ValueName {
        value: String,
    },
    /// REG_SZ, REG_EXPAND_SZ or REG_MULTI_SZ text holding the SID.
    StringData {
        value: String,
    },
    /// Binary data holding the SID's bytes.
    BinarySid {
        value: String,
    },
    /// Key descriptors: `count` keys share one naming the SID; `key` is the first.
    KeyDescriptor {
        parts: Vec<SdPart>,
    },
    FileName,
    FileDescriptor {
        parts: Vec<SdPart>,
    },
    /// A scheduled task's `UserId` or `Author` (by SID or by account name).
    TaskPrincipal {
        field: String,
        text: String,
    },
}

/// One place where the SID appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// `SOFTWARE`, `NTUSER.DAT of CORP\alice`, `file`, `task`.
    pub area: String,
    /// The key path in the hive, or the Windows-relative file path.
    pub location: String,
    #[serde(flatten)]
    pub what: What,
    /// How many: occurrences in one value, keys sharing a descriptor, files in a folder.
    pub count: u64,
}

/// Options of a census.
#[derive(Clone, Copy)]
pub struct CensusOptions<'a> {
    pub files: FileScope,
    /// Called every 4096 files with the number scanned.
    pub progress: Option<&'a dyn Fn(u64)>,
}

impl std::fmt::Debug for CensusOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CensusOptions")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// Every place on `host` that names `sid`.
pub fn census(host: &dyn Host, sid: &Sid, options: CensusOptions<'_>) -> Result<Vec<Place>> {
    let needle = Needle::new(sid);
    let mut places = Vec::new();
    for which in [
        MachineHive::Software,
        MachineHive::System,
        MachineHive::Sam,
        MachineHive::Security,
    ] {
        if let Some(file) = host.host_path(&format!(
            r"C:\Windows\System32\config\{}",
            which.file_name()
        )) {
            scan_hive_file(&file, which.file_name(), &needle, &mut places)?;
        }
    }
    if let Some(file) = host.host_path(r"C:\Windows\System32\config\DEFAULT") {
        scan_hive_file(&file, "DEFAULT", &needle, &mut places)?;
    }
    let profiles = discover(host, DiscoverOptions::default())?;
    let mut own_folders = Vec::new();
    for p in &profiles {
        let Some(folder) = &p.host_path else { continue };
        if p.sid.as_ref() == Some(sid) {
            own_folders.push(folder.clone());
        }
        for (rel, label) in [
            ("NTUSER.DAT", "NTUSER.DAT"),
            (
                r"AppData\Local\Microsoft\Windows\UsrClass.dat",
                "UsrClass.dat",
            ),
        ] {
            if let Some(file) = crate::paths::resolve(folder, rel) {
                let area = format!("{label} of {}", p.account);
                scan_hive_file(&file, &area, &needle, &mut places)?;
            }
        }
    }
    let names: Vec<String> = profiles
        .iter()
        .filter(|p| p.sid.as_ref() == Some(sid))
        .map(|p| p.account.to_lowercase())
        .collect();
    if let Some(tasks) = host.host_path(r"C:\Windows\System32\Tasks") {
        scan_tasks(&tasks, &tasks, &needle, &names, &mut places);
    }
    let root = host.host_path(r"C:\");
    match (options.files, root) {
        (FileScope::None, _) | (_, None) => {}
        (FileScope::All, Some(root)) => {
            scan_files(
                host,
                &root,
                &root,
                &own_folders,
                &needle,
                options,
                &mut places,
            )?;
        }
        (FileScope::Profile, Some(root)) => {
            for folder in &own_folders {
                scan_files(host, &root, folder, &[], &needle, options, &mut places)?;
            }
        }
    }
    Ok(places)
}

/// The SID as text (upper and lower case) and as bytes.
struct Needle {
    text: String,
    bytes: Vec<u8>,
    sid: Sid,
}

impl Needle {
    fn new(sid: &Sid) -> Needle {
        Needle {
            text: sid.to_string().to_lowercase(),
            bytes: sid.to_bytes(),
            sid: sid.clone(),
        }
    }

    fn in_text(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.text)
    }

    fn count_bytes(&self, data: &[u8]) -> u64 {
        if data.len() < self.bytes.len() {
            return 0;
        }
        data.windows(self.bytes.len())
            .filter(|w| *w == self.bytes.as_slice())
            .count() as u64
    }

    /// The parts of a descriptor that name the SID.
    fn parts(&self, sd: &[u8]) -> Vec<SdPart> {
        let Ok(sd) = SecurityDescriptor::from_bytes(sd) else {
            return Vec::new();
        };
        let mut parts = Vec::new();
        if sd.owner.as_ref() == Some(&self.sid) {
            parts.push(SdPart::Owner);
        }
        if sd.group.as_ref() == Some(&self.sid) {
            parts.push(SdPart::Group);
        }
        let names = |acl: &Option<ntsec::Acl>| {
            acl.as_ref()
                .is_some_and(|a| a.aces.iter().any(|ace| ace.sid() == Some(&self.sid)))
        };
        if names(&sd.dacl) {
            parts.push(SdPart::Dacl);
        }
        if names(&sd.sacl) {
            parts.push(SdPart::Sacl);
        }
        parts
    }
}

/// Walks one hive file, key by key.
fn scan_hive_file(file: &Path, area: &str, needle: &Needle, out: &mut Vec<Place>) -> Result<()> {
    let wrap = |source| Error::Hive {
        path: file.to_path_buf(),
        source,
    };
    let hive = hive::Hive::open(file).map_err(wrap)?;
    // Descriptors are shared: parse each sk cell once.
    let mut sk_parts: HashMap<u32, (Vec<SdPart>, u64)> = HashMap::new();
    for sk in hive.security_cells().map_err(wrap)? {
        let parts = needle.parts(sk.descriptor());
        if !parts.is_empty() {
            sk_parts.insert(sk.offset(), (parts, u64::from(sk.reference_count())));
        }
    }
    let mut sk_rows: HashSet<u32> = HashSet::new();
    let mut place = |location: &str, what: What, count: u64| {
        out.push(Place {
            area: area.to_string(),
            location: location.to_string(),
            what,
            count,
        });
    };
    let root = hive.root().map_err(wrap)?;
    let mut stack = vec![(root, String::new())];
    while let Some((key, path)) = stack.pop() {
        if needle.in_text(&key.name()) {
            let at = if path.is_empty() {
                key.name()
            } else {
                path.clone()
            };
            place(&at, What::KeyName, 1);
        }
        if let Some((parts, keys)) = sk_parts.get(&key.security_offset()) {
            // One row per descriptor, at its first key; counted from the sk cell below.
            if sk_rows.insert(key.security_offset()) {
                place(
                    &path,
                    What::KeyDescriptor {
                        parts: parts.clone(),
                    },
                    *keys,
                );
            }
        }
        for v in key.values().map_err(wrap)? {
            let name = v.name();
            if needle.in_text(&name) {
                place(
                    &path,
                    What::ValueName {
                        value: name.clone(),
                    },
                    1,
                );
            }
            let Ok(data) = v.data() else { continue };
            match v.kind() {
                1 | 2 | 7 => {
                    // The whole data: a REG_MULTI_SZ holds several NUL-separated strings.
                    let units: Vec<u16> = data
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    let text = String::from_utf16_lossy(&units).to_lowercase();
                    let n = text.matches(&needle.text).count() as u64;
                    if n > 0 {
                        place(&path, What::StringData { value: name }, n);
                    }
                }
                _ => {
                    let n = needle.count_bytes(&data);
                    if n > 0 {
                        place(&path, What::BinarySid { value: name }, n);
                    }
                }
            }
        }
        for sub in key.subkeys().map_err(wrap)? {
            let p = if path.is_empty() {
                sub.name()
            } else {
                format!(r"{path}\{}", sub.name())
            };
            stack.push((sub, p));
        }
    }
    Ok(())
}

/// Scheduled tasks: the XML files under `System32\Tasks`, UTF-16 or UTF-8.
fn scan_tasks(root: &Path, dir: &Path, needle: &Needle, names: &[String], out: &mut Vec<Place>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            scan_tasks(root, &path, needle, names, out);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = decode_xml(&bytes);
        for field in ["UserId", "Author"] {
            for value in elements(&text, field) {
                let lower = value.to_lowercase();
                if lower.contains(&needle.text) || names.contains(&lower) {
                    out.push(Place {
                        area: "task".into(),
                        location: windows_relative(root, &path, r"Windows\System32\Tasks"),
                        what: What::TaskPrincipal {
                            field: field.into(),
                            text: value.clone(),
                        },
                        count: 1,
                    });
                }
            }
        }
    }
}

/// Text of an XML file: UTF-16LE with a BOM (as Task Scheduler writes), else UTF-8.
pub fn decode_xml(bytes: &[u8]) -> String {
    match bytes {
        [0xFF, 0xFE, rest @ ..] => String::from_utf16_lossy(
            &rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        ),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The texts of every `<name>…</name>` element (no attributes on these in task XML).
pub fn elements(text: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end + close.len()..];
    }
    found
}

fn windows_relative(root: &Path, path: &Path, prefix: &str) -> String {
    let rel = path
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().replace('/', "\\"))
        .unwrap_or_else(|_| path.display().to_string());
    if prefix.is_empty() {
        rel
    } else {
        format!(r"{prefix}\{rel}")
    }
}

/// Walks files (no links followed): names and descriptors naming the SID. Files below
/// one of `aggregate` (the SID's own profile folders) are summed into one row per folder.
fn scan_files(
    host: &dyn Host,
    root: &Path,
    start: &Path,
    aggregate: &[PathBuf],
    needle: &Needle,
    options: CensusOptions<'_>,
    out: &mut Vec<Place>,
) -> Result<()> {
    let backend = host.file_security();
    let mut sums: HashMap<PathBuf, (u64, Vec<SdPart>)> = HashMap::new();
    let mut buf = Vec::new();
    let mut seen = 0u64;
    let mut stack = vec![start.to_path_buf()];
    while let Some(path) = stack.pop() {
        seen += 1;
        if seen.is_multiple_of(4096)
            && let Some(p) = options.progress
        {
            p(seen);
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir()
            && !meta.file_type().is_symlink()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
        let rel = windows_relative(root, &path, "");
        let under = aggregate.iter().find(|f| path.starts_with(f));
        if path != start
            && under.is_none()
            && path
                .file_name()
                .is_some_and(|n| needle.in_text(&n.to_string_lossy()))
        {
            out.push(Place {
                area: "file".into(),
                location: rel.clone(),
                what: What::FileName,
                count: 1,
            });
        }
        let Some(backend) = backend else { continue };
        if backend.read(&path, &mut buf).is_err() {
            continue;
        }
        let parts = needle.parts(&buf);
        if parts.is_empty() {
            continue;
        }
        match under {
            Some(folder) => {
                let entry = sums.entry(folder.clone()).or_default();
                entry.0 += 1;
                for p in parts {
                    if !entry.1.contains(&p) {
                        entry.1.push(p);
                    }
                }
            }
            None => out.push(Place {
                area: "file".into(),
                location: rel,
                what: What::FileDescriptor { parts },
                count: 1,
            }),
        }
    }
    for (folder, (count, parts)) in sums {
        out.push(Place {
            area: "file".into(),
            location: format!(r"{}\**", windows_relative(root, &folder, "")),
            what: What::FileDescriptor { parts },
            count,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_xml_elements_are_read_in_either_encoding() {
        let xml = "<Task><Principals><Principal><UserId>S-1-5-21-1-2-3-1103</UserId>\
                   </Principal></Principals><RegistrationInfo><Author>CORP\\alice</Author>\
                   </RegistrationInfo></Task>";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        for bytes in [utf16, xml.as_bytes().to_vec()] {
            let text = decode_xml(&bytes);
            assert_eq!(elements(&text, "UserId"), ["S-1-5-21-1-2-3-1103"]);
            assert_eq!(elements(&text, "Author"), [r"CORP\alice"]);
        }
        assert!(elements("<UserId>unclosed", "UserId").is_empty());
    }

    #[test]
    fn needles_find_text_bytes_and_descriptor_parts() {
        let sid: Sid = "S-1-5-21-1-2-3-1103".parse().unwrap();
        let n = Needle::new(&sid);
        assert!(n.in_text("Software\\S-1-5-21-1-2-3-1103_Classes"));
        assert!(!n.in_text("S-1-5-21-1-2-3-11030"[..18].as_ref()));
        let mut data = vec![0u8; 3];
        data.extend(sid.to_bytes());
        data.extend(sid.to_bytes());
        assert_eq!(n.count_bytes(&data), 2);
        let sd =
            SecurityDescriptor::from_sddl(&format!("O:{sid}G:SYD:(A;;FA;;;SY)(A;;FA;;;{sid})"))
                .unwrap()
                .to_bytes()
                .unwrap();
        assert_eq!(n.parts(&sd), [SdPart::Owner, SdPart::Dacl]);
    }
}
