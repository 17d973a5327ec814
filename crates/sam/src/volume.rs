//! Finding the SAM and SYSTEM hives on a mounted Windows volume. Windows' paths ignore
//! case, an ntfs-3g mount does not (`Windows/System32/config` may be `WINDOWS/system32/CONFIG`),
//! so each component is matched without regard to case.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The hives' folder below the volume root.
pub const CONFIG_DIR: [&str; 3] = ["Windows", "System32", "config"];

/// The hive files of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HivePaths {
    pub sam: PathBuf,
    /// `None` when the volume has no SYSTEM hive (listing still works; hashes do not).
    pub system: Option<PathBuf>,
}

/// Resolves `root/part/part/…`, matching each part without regard to case (an exact
/// match wins over a case-folded one). `None` when a part does not exist.
pub fn resolve_case_insensitive(root: &Path, parts: &[&str]) -> Result<Option<PathBuf>> {
    let mut path = root.to_path_buf();
    for part in parts {
        let exact = path.join(part);
        if exact.exists() {
            path = exact;
            continue;
        }
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Volume {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let wanted = part.to_lowercase();
        let found = entries.filter_map(|e| e.ok()).find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.to_lowercase() == wanted)
        });
        match found {
            Some(entry) => path = entry.path(),
            None => return Ok(None),
        }
    }
    Ok(Some(path))
}

/// The SAM (required) and SYSTEM (optional) of the volume mounted at `root`.
pub fn find_hives(root: &Path) -> Result<HivePaths> {
    if !root.is_dir() {
        return Err(Error::Volume {
            path: root.display().to_string(),
            reason: "not a directory; give the root of a mounted Windows volume".into(),
        });
    }
    let file = |name: &str| -> Result<Option<PathBuf>> {
        let mut parts = CONFIG_DIR.to_vec();
        parts.push(name);
        Ok(resolve_case_insensitive(root, &parts)?.filter(|p| p.is_file()))
    };
    let sam = file("SAM")?.ok_or_else(|| Error::Volume {
        path: root.display().to_string(),
        reason: "no Windows/System32/config/SAM here; is this the root of a Windows system volume?"
            .into(),
    })?;
    Ok(HivePaths {
        sam,
        system: file("SYSTEM")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_hives_whatever_the_case() {
        // On a case-insensitive file system (Windows) the path comes back as asked for,
        // so compare contents, not spellings.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("WINDOWS").join("system32").join("Config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("sam"), b"sam").unwrap();
        let found = find_hives(dir.path()).unwrap();
        assert_eq!(std::fs::read(&found.sam).unwrap(), b"sam");
        assert_eq!(found.system, None);
        std::fs::write(config.join("SYSTEM"), b"system").unwrap();
        let system = find_hives(dir.path()).unwrap().system.unwrap();
        assert_eq!(std::fs::read(system).unwrap(), b"system");
        assert!(find_hives(&dir.path().join("WINDOWS")).is_err());
        assert!(find_hives(&dir.path().join("missing")).is_err());
    }
}
