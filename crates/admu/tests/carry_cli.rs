//! The per-user machine state outside the profile (docs/migration.md, "machine_keys"):
//! after `admu migrate` hivex reads SOFTWARE and finds every SID-named key and value
//! carried to the new SID (moved or copied as documented), the task cache renamed and
//! its descriptors translated; `admu revert` puts it all back (the snapshot comparison).
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value as Json;

/// Key path → (value name → hex data), as hivex reads SOFTWARE.
fn software(python: &std::path::Path, bed: &Bed) -> BTreeMap<String, BTreeMap<String, String>> {
    let file = bed.path().join("Windows/System32/config/SOFTWARE");
    let dump = testbed::hive_dump(python, "hivex", &file);
    dump.as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            let values = k["values"]
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
            (
                k["path"].as_str().unwrap_or_default().to_lowercase(),
                values,
            )
        })
        .collect()
}

fn utf16z_hex(text: &str) -> String {
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// alice's OneDrive task file in `System32\Tasks`.
fn before_task_path(bed: &Bed, sid: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(bed.path().join("Windows/System32/Tasks"))
        .ok()?
        .map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.as_ref()
                .is_some_and(|p| p.to_string_lossy().contains(sid))
        })
        .flatten()
}

#[test]
fn machine_keys_are_carried_to_the_new_sid_and_reverted() {
    let test = "machine_keys_are_carried_to_the_new_sid_and_reverted";
    let Some(python) = testbed::python_with(test, &["hivex"]) else {
        return;
    };
    let Some(bed) = Bed::new(test, Some(20)) else {
        return;
    };
    let old = bed.alice_sid();
    let before = bed.snapshot();
    let sw_before = software(&python, &bed);
    let task_before = std::fs::read(before_task_path(&bed, &old).expect("a task of alice"))
        .expect("read the task");
    let out = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--json"]))),
        "migrate",
    );
    let outcome: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    let new = outcome["new_sid"].as_str().expect("new SID").to_string();
    let sw = software(&python, &bed);
    let key = |p: &str| p.to_lowercase();
    let has = |p: String| sw.contains_key(&key(&p));
    for parent in [
        r"Microsoft\Windows\CurrentVersion\Installer\UserData",
        r"Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore",
    ] {
        if sw_before.contains_key(&key(&format!(r"{parent}\{old}"))) {
            assert!(has(format!(r"{parent}\{new}")), "{parent}: moved to {new}");
            assert!(
                !has(format!(r"{parent}\{old}")),
                "{parent}: moved, not copied"
            );
        }
    }
    let mut copied = 0;
    for parent in [
        r"Microsoft\Windows\CurrentVersion\Group Policy\State",
        r"Microsoft\Windows\CurrentVersion\Group Policy\DataStore",
        r"Microsoft\IdentityStore\Cache",
    ] {
        let from = format!(r"{parent}\{old}");
        for (path, values) in sw_before.iter().filter(|(p, _)| p.starts_with(&key(&from))) {
            let to = path.replacen(&key(&old), &key(&new), 1);
            assert_eq!(sw.get(&to), Some(values), "{path} copied to {to}");
            assert_eq!(sw.get(path), Some(values), "{path} kept");
            copied += 1;
        }
    }
    let guid_rows: Vec<_> = sw
        .iter()
        .filter(|(p, _)| p.contains(r"\profileguid\"))
        .filter_map(|(_, v)| v.get("SidString"))
        .collect();
    assert!(
        guid_rows.contains(&&utf16z_hex(&new)),
        "ProfileGuid SidString names {new}"
    );
    assert!(
        !guid_rows.contains(&&utf16z_hex(&old)),
        "no ProfileGuid names {old}"
    );
    let tree = key(r"Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree");
    let tasks: Vec<&String> = sw.keys().filter(|p| p.starts_with(&tree)).collect();
    assert!(
        tasks.iter().any(|p| p.contains(&key(&new))),
        "task key renamed: {tasks:?}"
    );
    assert!(!tasks.iter().any(|p| p.contains(&key(&old))), "{tasks:?}");
    let old_sd_hex: String = ntsec::Sid::to_bytes(&old.parse().expect("SID"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for (path, values) in sw.iter().filter(|(p, _)| p.starts_with(&tree)) {
        if let Some(sd) = values.get("SD") {
            assert!(!sd.contains(&old_sd_hex), "{path}: SD still names {old}");
        }
    }
    // Files outside the profile: the recycle bin and the task's XML, renamed and rewritten.
    let bin = bed.path().join("$Recycle.Bin");
    assert!(
        bin.join(&new).is_dir() && !bin.join(&old).exists(),
        "recycle bin renamed"
    );
    let ini = bin.join(&new).join("desktop.ini");
    let sd = ntsec::SecurityDescriptor::from_bytes(&testbed::read_ntfs_acl(&ini).expect("SD"))
        .expect("parse");
    let names: Vec<String> = sd.sids().map(|s| s.to_string()).collect();
    assert!(names.contains(&new) && !names.contains(&old), "{names:?}");
    let tasks = bed.path().join("Windows/System32/Tasks");
    let task = std::fs::read_dir(&tasks)
        .expect("tasks")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains(&new))
        .expect("the task file renamed to the new SID");
    let bytes = std::fs::read(&task).expect("task XML");
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "still UTF-16 with a BOM");
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let xml = String::from_utf16(&units).expect("UTF-16");
    assert!(xml.contains(&format!("<UserId>{new}</UserId>")), "{xml}");
    assert!(!xml.contains(&old), "{xml}");
    let old_task = task.with_file_name(
        task.file_name()
            .expect("name")
            .to_string_lossy()
            .replace(&new, &old),
    );
    assert!(
        before_task_path(&bed, &old).is_none(),
        "the old task name is gone while migrated"
    );
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
    assert_same(&before, &bed.snapshot(), "migrate then revert");
    assert_eq!(
        std::fs::read(&old_task).expect("the task is back"),
        task_before,
        "the task XML is byte-identical after revert"
    );
    eprintln!("{test}: {copied} keys copied, task cache renamed, all reverted");
}
