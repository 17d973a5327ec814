//! The old SID's security state outside the profile (docs/migration.md): its user rights
//! in SECURITY (`Policy\Accounts\<SID>`, copied to the new SID), the key descriptors of
//! the machine hives that name it (translated), and with `--sweep-files` the file
//! descriptors outside the profile (`C:\Projects\shared`). Judged by hivex (the account
//! objects' values), regipy (every key's descriptor) and the volume's `system.ntfs_acl`;
//! migrate then revert, and a crash after each of these steps' journal records then
//! `recover`, must give back the volume exactly.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use common::*;
use serde_json::Value as Json;

/// Every key of a hive → the SIDs its descriptor names, as regipy reads them.
const KEY_SIDS: &str = r#"
import json, sys
from regipy.registry import RegistryHive
hive = RegistryHive(sys.argv[1])
out = {}
stack = [(hive.root, "")]
while stack:
    nk, path = stack.pop()
    info = nk.get_security_key_info() or {}
    sids = set()
    for part in ("owner", "group"):
        if info.get(part):
            sids.add(info[part])
    for acl in ("dacl", "sacl"):
        for ace in info.get(acl) or []:
            if ace.get("sid"):
                sids.add(ace["sid"])
    out[path.lower()] = sorted(sids)
    for child in (nk.iter_subkeys() if nk.subkey_count else []):
        stack.append((child, child.name if not path else path + "\\" + child.name))
json.dump(out, sys.stdout)
"#;

fn key_sids(python: &Path, file: &Path) -> BTreeMap<String, Vec<String>> {
    let out = std::process::Command::new(python)
        .args(["-c", KEY_SIDS])
        .arg(file)
        .output()
        .expect("run regipy");
    assert!(
        out.status.success(),
        "regipy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("regipy JSON")
}

/// Key path (lower case) → value name → hex data, as hivex reads a hive.
fn values(python: &Path, file: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    testbed::hive_dump(python, "hivex", file)
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            let vals = k["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|v| {
                    (
                        v[0].as_str().unwrap_or_default().to_string(),
                        v[2].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            (k["path"].as_str().unwrap_or_default().to_lowercase(), vals)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn config(bed: &Bed, name: &str) -> std::path::PathBuf {
    bed.path().join(CONFIG_DIR).join(name)
}

/// `admu sids` rows for a SID.
fn sids(bed: &Bed, sid: &str) -> Vec<Json> {
    let out = expect_ok(
        admu(&["sids", "--root", bed.r(), "--sid", sid, "--json"]),
        "sids",
    );
    json_of(&out, "sids").as_array().expect("rows").clone()
}

/// Aborts a migration after each journal record whose name contains one of `steps`,
/// then recovers (twice, as after a crash during the first) and compares with `before`.
fn crash_at(bed: &mut Bed, args: &[String], steps: &[&str], label: &str) -> usize {
    let before = bed.snapshot();
    // A complete run tells which records these steps write.
    let known = journal_dirs(bed.path());
    expect_ok(admu(&strs(args)), &format!("{label}: migrate"));
    let records = journal_records(&new_journal(bed.path(), &known));
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        &format!("{label}: revert"),
    );
    assert_same(
        &before,
        &bed.snapshot(),
        &format!("{label}: migrate, revert"),
    );
    let points: Vec<(usize, String)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 1, point_name(r)))
        .filter(|(_, name)| steps.iter().any(|s| name.contains(s)))
        .collect();
    assert!(!points.is_empty(), "{label}: no records of {steps:?}");
    for (n, name) in &points {
        let out = admu_with(&strs(args), &[("ADMU_FAILPOINT", &n.to_string())]);
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "{label}: {name}: {}",
            shown(&out)
        );
        bed.remount();
        for round in ["recover", "recover again"] {
            expect_ok(
                admu(&["recover", "--root", bed.r()]),
                &format!("{label}: {name}: {round}"),
            );
            assert_same(
                &before,
                &bed.snapshot(),
                &format!("{label}: crash {name}, then {round}"),
            );
        }
    }
    points.len()
}

#[test]
fn user_rights_and_machine_key_descriptors_are_carried_reverted_and_recovered() {
    let test = "user_rights_and_machine_key_descriptors_are_carried_reverted_and_recovered";
    let Some(python) = testbed::python_with(test, &["hivex", "regipy"]) else {
        return;
    };
    let Some(mut bed) = Bed::new(test, Some(10)) else {
        return;
    };
    let old = bed.alice_sid();
    let before = bed.snapshot();
    let sec_before = values(&python, &config(&bed, "SECURITY"));
    let old_key = format!(r"policy\accounts\{}", old.to_lowercase());
    assert!(
        sec_before.contains_key(&format!(r"{old_key}\actsysac")),
        "the sample grants alice rights"
    );
    let sw_before = key_sids(&python, &config(&bed, "SOFTWARE"));
    let naming: Vec<&String> = sw_before
        .iter()
        .filter(|(_, s)| s.contains(&old))
        .map(|(p, _)| p)
        .collect();
    assert!(
        naming.iter().any(|p| p.as_str() == r"contoso\fieldsync"),
        "{naming:?}"
    );

    let dry = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--dry-run"]))),
        "dry run",
    );
    let said = all_text(&dry);
    assert!(said.contains(r"Policy\Accounts"), "{said}");
    assert!(said.contains("SeRemoteInteractiveLogonRight"), "{said}");
    assert!(said.contains("SeCreateSymbolicLinkPrivilege"), "{said}");
    assert!(said.contains("key descriptors naming"), "{said}");
    assert_same(&before, &bed.snapshot(), "the dry run changes nothing");

    let out = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--json"]))),
        "migrate",
    );
    let new = json_of(&out, "migrate")["new_sid"]
        .as_str()
        .expect("new SID")
        .to_string();
    // SECURITY: the account object copied, its Sid the new SID, the rights as they were.
    let sec = values(&python, &config(&bed, "SECURITY"));
    let new_key = format!(r"policy\accounts\{}", new.to_lowercase());
    let sid_bytes = |s: &str| hex(&s.parse::<ntsec::Sid>().expect("SID").to_bytes());
    assert_eq!(sec[&format!(r"{new_key}\sid")][""], sid_bytes(&new));
    for attribute in ["actsysac", "privilgs", "secdesc"] {
        let from = &sec_before[&format!(r"{old_key}\{attribute}")];
        assert_eq!(
            &sec[&format!(r"{new_key}\{attribute}")],
            from,
            "{attribute}"
        );
        assert_eq!(&sec[&format!(r"{old_key}\{attribute}")], from, "kept");
    }
    // Key descriptors: none names the old SID but the keys kept for it on purpose.
    for hive in ["SOFTWARE", "SYSTEM", "SECURITY"] {
        let keys = key_sids(&python, &config(&bed, hive));
        for (path, names) in &keys {
            let kept = path.contains(&old.to_lowercase());
            assert!(!names.contains(&old) || kept, "{hive} {path}: {names:?}");
        }
        if hive == "SOFTWARE" {
            assert!(keys[r"contoso\fieldsync"].contains(&new));
            assert!(keys[r"contoso\fieldsync\settings"].contains(&new));
        }
    }
    // The census agrees: what is left is the account object kept for the old SID.
    for row in sids(&bed, &old) {
        let area = row["area"].as_str().unwrap_or_default();
        if ["SOFTWARE", "SYSTEM", "SECURITY", "SAM"].contains(&area) {
            assert_ne!(row["what"], "key_descriptor", "{row}");
        }
        if area == "SECURITY" {
            let at = row["location"].as_str().unwrap_or_default().to_lowercase();
            assert!(at.starts_with(&old_key), "{row}");
        }
    }
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
    assert_same(&before, &bed.snapshot(), "migrate then revert");

    let args = bed.migrate_args("alice", &[]);
    let points = crash_at(
        &mut bed,
        &args,
        &["user_rights", "_descriptors"],
        "machine security",
    );
    eprintln!("{test}: rights copied, descriptors translated, {points} crash points recovered");
}

/// The files of `C:\Projects` the sample gave alice.
const SHARED: [&str; 6] = [
    "Projects",
    "Projects/shared",
    "Projects/shared/drafts",
    "Projects/shared/plan.txt",
    "Projects/shared/contacts.csv",
    "Projects/shared/drafts/notes.txt",
];

fn shared_sids(bed: &Bed) -> Vec<Vec<String>> {
    SHARED
        .iter()
        .map(|rel| {
            let sd = testbed::read_ntfs_acl(&bed.path().join(rel)).expect("system.ntfs_acl");
            let sd = ntsec::SecurityDescriptor::from_bytes(&sd).expect("descriptor");
            sd.sids().map(ToString::to_string).collect()
        })
        .collect()
}

#[test]
fn sweep_files_is_reported_then_translated_reverted_and_recovered() {
    let test = "sweep_files_is_reported_then_translated_reverted_and_recovered";
    let Some(mut bed) = Bed::new(test, Some(10)) else {
        return;
    };
    let old = bed.alice_sid();
    let before = bed.snapshot();
    for names in shared_sids(&bed) {
        assert!(names.contains(&old), "{names:?}");
    }
    // `admu sids` finds each of them (the sample's other file rows are its own places).
    let rows = sids(&bed, &old);
    for rel in SHARED {
        let at = rel.replace('/', "\\");
        assert!(
            rows.iter()
                .any(|r| r["what"] == "file_descriptor" && r["location"] == at.as_str()),
            "sids misses {at}: {rows:#?}"
        );
    }
    let check = admu(&["check", "--root", bed.r(), "--from", ALICE, "--to", "alice"]);
    let said = all_text(&check);
    assert!(
        said.contains("not changed; --sweep-files would translate 6 files"),
        "{said}"
    );
    assert!(said.contains(r"Projects\shared\plan.txt"), "{said}");
    let dry = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--dry-run"]))),
        "dry run",
    );
    assert!(
        all_text(&dry).contains("--sweep-files would translate 6 files"),
        "{}",
        shown(&dry)
    );

    // Without the flag: nothing outside the profile changes.
    expect_ok(admu(&strs(&bed.migrate_args("alice", &[]))), "migrate");
    for names in shared_sids(&bed) {
        assert!(names.contains(&old), "not swept: {names:?}");
    }
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
    assert_same(&before, &bed.snapshot(), "migrate (no sweep) then revert");

    let args = bed.migrate_args("alice", &["--sweep-files", "--json"]);
    let out = expect_ok(admu(&strs(&args)), "migrate --sweep-files");
    let new = json_of(&out, "migrate")["new_sid"]
        .as_str()
        .expect("new SID")
        .to_string();
    for names in shared_sids(&bed) {
        assert!(
            names.contains(&new) && !names.contains(&old),
            "swept: {names:?}"
        );
    }
    for row in sids(&bed, &old) {
        if row["what"] == "file_descriptor" {
            let at = row["location"].as_str().unwrap_or_default();
            assert!(!at.starts_with("Projects"), "{row}");
        }
    }
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
    assert_same(
        &before,
        &bed.snapshot(),
        "migrate --sweep-files then revert",
    );
    let args = bed.migrate_args("alice", &["--sweep-files"]);
    let points = crash_at(&mut bed, &args, &["sweep_files"], "sweep");
    eprintln!("{test}: 6 descriptors swept and reverted, {points} crash points recovered");
}
