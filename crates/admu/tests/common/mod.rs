//! Helpers shared by the end-to-end tests of the migration commands: running the real
//! `admu` binary, the NTFS test bed with a sample volume on it, snapshots of a volume's
//! whole state and their differences, and reading journals.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

pub const SEED: &str = "7";
pub const PASSWORD: &str = "Tr0ub4dor&3 migrated";
pub const PASSWORD_VAR: &str = "ADMU_MIGRATE_TEST_PASSWORD";
pub const ALICE: &str = r"CORP\alice";
pub const SIGABRT: i32 = 6;

// ---------------------------------------------------------------------------------------
// Running admu
// ---------------------------------------------------------------------------------------

pub fn admu_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_admu"));
    cmd.args(args)
        .env(PASSWORD_VAR, PASSWORD)
        // The sample's old domain password, for runs with --dpapi.
        .env("ADMU_OLD_PASSWORD", "Alice-Old-Passw0rd!")
        .env_remove("ADMU_FAILPOINT")
        .env_remove("ADMU_TEST_CORRUPT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run admu")
}

pub fn admu(args: &[&str]) -> Output {
    admu_with(args, &[])
}

pub fn shown(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn all_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn expect_ok(o: Output, what: &str) -> Output {
    assert!(o.status.success(), "{what} failed: {}", shown(&o));
    o
}

#[track_caller]
pub fn expect_exit(o: &Output, code: i32, what: &str, says: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: expected exit {code}: {}",
        shown(o)
    );
    assert!(
        all_text(o).contains(says),
        "{what}: the output does not say {says:?}: {}",
        shown(o)
    );
}

pub fn json_of(o: &Output, what: &str) -> Json {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}): {}", shown(o)))
}

// ---------------------------------------------------------------------------------------
// The test bed: a sample volume on an ntfs-3g mount
// ---------------------------------------------------------------------------------------

pub struct Bed {
    pub vol: testbed::NtfsImage,
    root: String,
    report: Json,
}

impl Bed {
    /// A fresh NTFS image with `admu sample create --seed 7` on it (`files`: `--files`,
    /// `None` for the default size). `None` after a visible skip off CI.
    pub fn new(test: &str, files: Option<usize>) -> Option<Bed> {
        let vol = testbed::NtfsImage::for_test(test)?;
        let root = vol.path().to_str().expect("UTF-8 mount path").to_string();
        let mut args = vec!["sample", "create", &root, "--seed", SEED, "--json"];
        let files = files.map(|n| n.to_string());
        if let Some(n) = &files {
            args.extend(["--files", n]);
        }
        let out = expect_ok(admu(&args), "admu sample create");
        let report = json_of(&out, "sample create");
        assert_eq!(
            report["descriptors_set"], true,
            "the sample must carry real descriptors on ntfs-3g: {report}"
        );
        assert_eq!(report["users"][0]["logon_name"], ALICE);
        Some(Bed { vol, root, report })
    }

    pub fn path(&self) -> &Path {
        self.vol.path()
    }

    pub fn r(&self) -> &str {
        &self.root
    }

    /// alice's domain SID (the profile's old SID).
    pub fn alice_sid(&self) -> String {
        self.report["users"][0]["sid"]
            .as_str()
            .expect("alice's SID")
            .to_string()
    }

    pub fn user_sid(&self, i: usize) -> String {
        self.report["users"][i]["sid"]
            .as_str()
            .expect("user SID")
            .to_string()
    }

    pub fn computer_name(&self) -> String {
        self.report["computer_name"]
            .as_str()
            .expect("computer name")
            .to_string()
    }

    pub fn remount(&mut self) {
        self.vol.remount().expect("remount the NTFS image");
    }

    /// `admu migrate --root V --from CORP\alice --to NAME --password-env VAR` + `extra`.
    pub fn migrate_args(&self, to: &str, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "migrate",
            "--root",
            self.r(),
            "--from",
            ALICE,
            "--to",
            to,
            "--password-env",
            PASSWORD_VAR,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::take(self.path())
    }
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------
// The state of a volume, and how two states differ
// ---------------------------------------------------------------------------------------

/// Everything the issue calls "the state of the volume".
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Hive (path relative to the root) → `admu hive export --format json`, or the error.
    pub hives: BTreeMap<String, Result<String, String>>,
    /// Raw bytes of every hive and of the files beside it that belong to it (logs,
    /// transaction files).
    pub hive_files: BTreeMap<String, Vec<u8>>,
    /// Every path on the volume (but `ProgramData/admu`) → its security descriptor.
    pub descriptors: BTreeMap<String, Result<Vec<u8>, String>>,
    /// `admu accounts --json`: the SAM's users and groups.
    pub accounts: Json,
    /// `admu list --all --json`: the ProfileList.
    pub profiles: Json,
}

pub const MACHINE_HIVES: [&str; 5] = ["SYSTEM", "SAM", "SOFTWARE", "SECURITY", "DEFAULT"];
pub const CONFIG_DIR: &str = "Windows/System32/config";

pub fn is_admu_dir(rel: &str) -> bool {
    rel.eq_ignore_ascii_case("ProgramData/admu")
}

/// Every entry below `root` (links not followed), as (relative path, file type).
pub fn walk(root: &Path) -> Vec<(String, std::fs::FileType)> {
    let mut out = vec![(
        String::new(),
        std::fs::symlink_metadata(root).expect("root").file_type(),
    )];
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry"))
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if is_admu_dir(&child) {
                continue;
            }
            let kind = e.file_type().expect("file type");
            if kind.is_dir() {
                stack.push(child.clone());
            }
            out.push((child, kind));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn is_hive(rel: &str) -> bool {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    name.eq_ignore_ascii_case("NTUSER.DAT")
        || name.eq_ignore_ascii_case("UsrClass.dat")
        || (parent.eq_ignore_ascii_case(CONFIG_DIR) && MACHINE_HIVES.contains(&name))
}

pub fn export_hive(file: &Path) -> Result<String, String> {
    let file = file.to_str().expect("UTF-8 path");
    let out = admu(&["hive", "export", file, "--format", "json"]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

impl Snapshot {
    pub fn take(root: &Path) -> Snapshot {
        let entries = walk(root);
        let mut descriptors = BTreeMap::new();
        let mut hives = BTreeMap::new();
        let mut hive_files = BTreeMap::new();
        let regular: Vec<&String> = entries
            .iter()
            .filter(|(_, k)| k.is_file())
            .map(|(p, _)| p)
            .collect();
        for (rel, _) in &entries {
            let sd = testbed::read_ntfs_acl(&root.join(rel)).map_err(|e| e.to_string());
            descriptors.insert(rel.clone(), sd);
        }
        for rel in regular.iter().filter(|p| is_hive(p)) {
            hives.insert((*rel).clone(), export_hive(&root.join(rel)));
            let lower = rel.to_ascii_lowercase();
            // The hive and what belongs to it: `.LOG1`, `.LOG2`, `{GUID}.TM.blf` … (FIFOs,
            // which ntfs-3g shows for some empty system files, are never opened).
            for f in regular
                .iter()
                .filter(|f| f.to_ascii_lowercase().starts_with(&lower))
            {
                let bytes = std::fs::read(root.join(f)).expect("read a hive file");
                hive_files.insert((*f).clone(), bytes);
            }
        }
        let r = root.to_str().expect("UTF-8 root");
        let accounts = json_of(
            &expect_ok(admu(&["accounts", "--root", r, "--json"]), "admu accounts"),
            "accounts",
        );
        let profiles = json_of(
            &expect_ok(admu(&["list", "--root", r, "--all", "--json"]), "admu list"),
            "list",
        );
        Snapshot {
            hives,
            hive_files,
            descriptors,
            accounts,
            profiles,
        }
    }

    /// The snapshot without one file (a hive and its own files), for comparisons that
    /// must leave it out.
    pub fn without(&self, rel: &str) -> Snapshot {
        let mut s = self.clone();
        s.hives.remove(rel);
        s.hive_files.remove(rel);
        s
    }
}

pub fn sddl(sd: &Result<Vec<u8>, String>) -> String {
    match sd {
        Ok(bytes) => ntsec::SecurityDescriptor::from_bytes(bytes)
            .map(|d| d.to_sddl())
            .unwrap_or_else(|e| format!("<unparsable descriptor: {e}>")),
        Err(e) => format!("<unreadable: {e}>"),
    }
}

pub fn first_line_difference(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            let cut = |s: Option<&&str>| {
                s.map(|s| s.chars().take(300).collect::<String>())
                    .unwrap_or_else(|| "<none>".into())
            };
            return format!(
                "first difference at line {}:\n      before: {}\n      after:  {}",
                i + 1,
                cut(x),
                cut(y)
            );
        }
    }
    "same lines".into()
}

pub fn diff_maps<V: PartialEq>(
    what: &str,
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
    show: impl Fn(&V, &V) -> String,
    out: &mut Vec<String>,
) {
    const SHOWN: usize = 8;
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let changed: Vec<&String> = before
        .iter()
        .filter(|(k, v)| after.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    if !gone.is_empty() {
        out.push(format!(
            "{what}: {} gone: {:?}",
            gone.len(),
            &gone[..gone.len().min(SHOWN)]
        ));
    }
    if !new.is_empty() {
        out.push(format!(
            "{what}: {} new: {:?}",
            new.len(),
            &new[..new.len().min(SHOWN)]
        ));
    }
    for k in changed.iter().take(SHOWN) {
        out.push(format!("{what} {k}: {}", show(&before[*k], &after[*k])));
    }
    if changed.len() > SHOWN {
        out.push(format!("{what}: … {} changed in all", changed.len()));
    }
}

/// Every way `after` differs from `before`, readable.
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    diff_maps(
        "hive export",
        &before.hives,
        &after.hives,
        |a, b| match (a, b) {
            (Ok(a), Ok(b)) => first_line_difference(a, b),
            _ => format!("before {a:?}, after {b:?}"),
        },
        &mut out,
    );
    diff_maps(
        "hive bytes",
        &before.hive_files,
        &after.hive_files,
        |a, b| {
            let at = a.iter().zip(b.iter()).position(|(x, y)| x != y);
            format!(
                "{} → {} bytes, first different byte at {:?}",
                a.len(),
                b.len(),
                at.map(|i| format!("{i:#x}"))
            )
        },
        &mut out,
    );
    diff_maps(
        "descriptor",
        &before.descriptors,
        &after.descriptors,
        |a, b| format!("\n      before: {}\n      after:  {}", sddl(a), sddl(b)),
        &mut out,
    );
    for (what, a, b) in [
        ("accounts (SAM)", &before.accounts, &after.accounts),
        ("profiles (ProfileList)", &before.profiles, &after.profiles),
    ] {
        if a != b {
            let pretty = |v: &Json| serde_json::to_string_pretty(v).unwrap_or_default();
            out.push(format!(
                "{what}: {}",
                first_line_difference(&pretty(a), &pretty(b))
            ));
        }
    }
    out
}

#[track_caller]
pub fn assert_same(before: &Snapshot, after: &Snapshot, label: &str) {
    let d = differences(before, after);
    assert!(
        d.is_empty(),
        "{label}: the volume is not as it was before:\n  {}",
        d.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Journals
// ---------------------------------------------------------------------------------------

pub fn journal_dirs(root: &Path) -> BTreeSet<PathBuf> {
    let dir = root.join("ProgramData/admu/migrations");
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("journal dir entry").path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The one journal a run added.
#[track_caller]
pub fn new_journal(root: &Path, known: &BTreeSet<PathBuf>) -> PathBuf {
    let added: Vec<PathBuf> = journal_dirs(root).difference(known).cloned().collect();
    assert_eq!(added.len(), 1, "expected one new journal, found {added:?}");
    added.into_iter().next().expect("one journal")
}

pub fn journal_records(dir: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("read the journal");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line {l:?}: {e}")))
        .collect()
}

/// Drops the journal's last record (as if the process died before writing it).
pub fn drop_last_record(dir: &Path) {
    let path = dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&path).expect("read the journal");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    let mut kept = lines.join("\n");
    if !kept.is_empty() {
        kept.push('\n');
    }
    std::fs::write(&path, kept).expect("rewrite the journal");
}

pub fn point_name(r: &Json) -> String {
    match r["step"].as_str() {
        Some(step) => format!("after {step} {}", r["phase"].as_str().unwrap_or("?")),
        None => format!("after {}", r["phase"].as_str().unwrap_or("?")),
    }
}
