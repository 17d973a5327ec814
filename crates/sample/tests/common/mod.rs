//! Shared helpers for the sample tests.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, reason = "test helpers")]

use std::path::{Path, PathBuf};

use hive::Hive;

/// A small sample (fast to build) in a fresh temporary folder.
pub fn small(seed: u64) -> (tempfile::TempDir, sample::Report) {
    let dir = tempfile::tempdir().unwrap();
    let report = sample::create(dir.path(), &options(seed)).unwrap();
    (dir, report)
}

/// Small sizes: enough of everything, quick to build.
pub fn options(seed: u64) -> sample::Options {
    sample::Options {
        seed: Some(seed),
        files: 150,
        hive_keys: 1200,
    }
}

/// A volume path (`Users\alice\NTUSER.DAT`) under `root`.
pub fn path(root: &Path, windows_path: &str) -> PathBuf {
    windows_path
        .split('\\')
        .fold(root.to_path_buf(), |p, part| p.join(part))
}

/// Opens a hive of the sample.
pub fn open(root: &Path, windows_path: &str) -> Hive {
    Hive::open(path(root, windows_path)).unwrap()
}

/// A REG_SZ/REG_EXPAND_SZ value as text.
pub fn text(hive: &Hive, key: &str, value: &str) -> String {
    let k = hive
        .key(key)
        .unwrap()
        .unwrap_or_else(|| panic!("missing key {key}"));
    let v = k
        .value(value)
        .unwrap()
        .unwrap_or_else(|| panic!("missing value {key}\\{value}"));
    hive::value::utf16_until_nul(&v.data().unwrap())
}

/// A REG_DWORD value.
pub fn dword(hive: &Hive, key: &str, value: &str) -> u32 {
    let k = hive.key(key).unwrap().unwrap();
    let v = k.value(value).unwrap().unwrap();
    let d = v.data().unwrap();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// The SDDL of a key's descriptor.
pub fn sddl(hive: &Hive, key: &str) -> String {
    let k = hive
        .key(key)
        .unwrap()
        .unwrap_or_else(|| panic!("missing key {key}"));
    ntsec::SecurityDescriptor::from_bytes(k.security_descriptor().unwrap())
        .unwrap()
        .to_sddl()
}
