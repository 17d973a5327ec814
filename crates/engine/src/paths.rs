//! Windows paths on a mounted volume. Windows compares path components without regard
//! to case; an ntfs-3g mount does not, so every component is matched the Windows way.
//! Windows paths from the registry (`C:\Users\alice`, `%SystemDrive%\Users`) are mapped
//! onto the volume without assuming it was `C:`.

use std::path::{Path, PathBuf};

/// Finds `relative` (components separated by `\` or `/`) under `root`, matching each
/// component case-insensitively when the exact name does not exist. Returns the path
/// that would exist, or `None` when some component is missing.
pub fn resolve(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in relative
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".")
    {
        let exact = path.join(part);
        if std::fs::symlink_metadata(&exact).is_ok() {
            path = exact;
            continue;
        }
        let wanted = fold(part);
        let found = std::fs::read_dir(&path)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_str().is_some_and(|n| fold(n) == wanted))?;
        path = found.path();
    }
    Some(path)
}

/// Like [`resolve`] for as many leading components as exist; the rest are appended as
/// given (for a path about to be recreated below folders that may have gone).
pub fn resolve_existing(root: &Path, relative: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    let mut parts = relative
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".");
    for part in parts.by_ref() {
        match resolve(&path, part) {
            Some(found) => path = found,
            None => {
                path.push(part);
                break;
            }
        }
    }
    parts.fold(path, |p, part| p.join(part))
}

/// Like [`resolve`], but a missing last component is returned with the given spelling
/// (for files about to be created), as long as its parent exists.
pub fn resolve_for_create(root: &Path, relative: &str) -> Option<PathBuf> {
    if let Some(p) = resolve(root, relative) {
        return Some(p);
    }
    let trimmed = relative.trim_end_matches(['\\', '/']);
    let (parent, name) = trimmed.rsplit_once(['\\', '/']).unwrap_or(("", trimmed));
    Some(resolve(root, parent)?.join(name))
}

/// Case folding for comparisons, the way NTFS's upcase table does for common text.
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_uppercase).collect()
}

/// Whether two paths name the same file the way Windows compares them: component by
/// component, without regard to case (`C:\Users\JDoe` from the registry is the
/// `C:\Users\jdoe` a directory listing gives). Allocates nothing for UTF-8 paths.
pub fn same_path(a: &Path, b: &Path) -> bool {
    let mut a = a.components();
    let mut b = b.components();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let (x, y) = (
                    x.as_os_str().to_string_lossy(),
                    y.as_os_str().to_string_lossy(),
                );
                if x != y
                    && !x
                        .chars()
                        .flat_map(char::to_uppercase)
                        .eq(y.chars().flat_map(char::to_uppercase))
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Expands the environment variables Windows stores in profile paths.
pub fn expand(path: &str) -> String {
    let mut out = path.to_string();
    for (var, value) in [
        ("%SYSTEMDRIVE%", "C:"),
        ("%SYSTEMROOT%", r"C:\Windows"),
        ("%WINDIR%", r"C:\Windows"),
        ("%PROGRAMDATA%", r"C:\ProgramData"),
    ] {
        while let Some(at) = out.to_uppercase().find(var) {
            out.replace_range(at..at + var.len(), value);
        }
    }
    out
}

/// The part of a Windows path below its drive (`C:\Users\a` → `Users\a`); `None` for
/// paths that are not on a local drive (UNC `\\server\share`, relative paths).
pub fn below_drive(windows_path: &str) -> Option<&str> {
    let b = windows_path.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Some(windows_path[2..].trim_start_matches('\\'));
    }
    None
}

/// True for UNC paths (`\\server\share\…`), which a local conversion cannot reach.
pub fn is_unc(windows_path: &str) -> bool {
    windows_path.starts_with(r"\\") && !windows_path.starts_with(r"\\?\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ignoring_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Windows/System32/config")).unwrap();
        std::fs::write(dir.path().join("Windows/System32/config/SOFTWARE"), b"").unwrap();
        // On a case-insensitive file system (Windows) the given spelling already
        // exists; elsewhere the on-disk spelling is found.
        let same = |a: &Path, b: &Path| {
            if cfg!(windows) {
                a.to_string_lossy().to_lowercase().replace('\\', "/")
                    == b.to_string_lossy().to_lowercase().replace('\\', "/")
            } else {
                a == b
            }
        };
        let p = resolve(dir.path(), r"windows\system32\CONFIG\software").unwrap();
        assert!(
            same(&p, &dir.path().join("Windows/System32/config/SOFTWARE")),
            "{}",
            p.display()
        );
        assert!(resolve(dir.path(), r"Windows\nope").is_none());
        let partly = resolve_existing(dir.path(), r"WINDOWS\SYSTEM32\gone\Again");
        assert!(
            same(&partly, &dir.path().join("Windows/System32/gone/Again")),
            "{}",
            partly.display()
        );
        let created = resolve_for_create(dir.path(), r"WINDOWS\new.txt").unwrap();
        assert!(
            same(&created, &dir.path().join("Windows/new.txt")),
            "{}",
            created.display()
        );
    }

    #[test]
    fn same_path_ignores_case_per_component() {
        let p = |s: &str| PathBuf::from(s.replace('\\', std::path::MAIN_SEPARATOR_STR));
        assert!(same_path(&p(r"C:\Users\JDoe"), &p(r"C:\users\jdoe")));
        assert!(same_path(&p(r"C:\Users\Zoë"), &p(r"C:\Users\ZOË")));
        assert!(!same_path(&p(r"C:\Users\jdoe"), &p(r"C:\Users\jdoe2")));
        assert!(!same_path(&p(r"C:\Users\jdoe"), &p(r"C:\Users")));
        assert!(!same_path(&p(r"C:\Users"), &p(r"C:\Users\jdoe")));
    }

    #[test]
    fn windows_paths_map_below_any_drive() {
        assert_eq!(below_drive(r"D:\Users\bob"), Some(r"Users\bob"));
        assert_eq!(below_drive(r"\\srv\share\bob"), None);
        assert!(is_unc(r"\\srv\share\bob"));
        assert_eq!(expand(r"%SystemDrive%\Users"), r"C:\Users");
        assert_eq!(
            expand(r"%systemroot%\system32\config\systemprofile"),
            r"C:\Windows\system32\config\systemprofile"
        );
    }
}
