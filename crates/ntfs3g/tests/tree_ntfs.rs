//! Translating a profile-like tree on a real NTFS volume (ntfs-3g), judged by ntfs-3g's
//! own auditor on the unmounted image: every descriptor is exactly what it should be and
//! nothing else changed.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::path::Path;

use ntfs3g::NtfsXattr;
use ntsec::{Mode, SecurityDescriptor, SidMap, TreeOptions, translate_tree};

const OLD: &str = "S-1-5-21-1004336348-1177238915-682003330-1103";
const NEW: &str = "S-1-5-21-3623811015-3361044348-30300820-1001";
const DOMAIN_USERS: &str = "S-1-5-21-1004336348-1177238915-682003330-513";

/// Real-looking descriptors: explicit and inherited ACEs, deny ACEs, SACLs with audit
/// and mandatory-label ACEs, owner = old SID, and some without the old SID at all.
fn templates() -> Vec<String> {
    vec![
        format!("O:{OLD}G:{DOMAIN_USERS}D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{OLD})"),
        format!("O:{OLD}G:{DOMAIN_USERS}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{OLD})"),
        format!("O:BAG:SYD:AI(D;;WD;;;{OLD})(A;OICIID;FA;;;SY)(A;OICIID;0x1301bf;;;{OLD})"),
        format!("O:{OLD}G:SYD:PAI(A;;FA;;;{OLD})(A;;FR;;;WD)S:AI(AU;SAFA;FA;;;{OLD})(ML;;NW;;;LW)"),
        "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)".to_string(),
        format!("O:SYG:SYD:P(D;OICI;CC;;;WD)(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{OLD})"),
    ]
}

fn sd(sddl: &str) -> Vec<u8> {
    SecurityDescriptor::from_sddl(sddl)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn profile_tree_translation_checked_by_ntfssecaudit() {
    let Some(mut vol) =
        testbed::NtfsImage::for_test("profile_tree_translation_checked_by_ntfssecaudit")
    else {
        return;
    };
    let root = vol.path().join("Users").join("alice");
    let templates = templates();
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut n = 0;
    let mut set = |p: &Path, written: &mut BTreeMap<String, Vec<u8>>| {
        let bytes = sd(&templates[n % templates.len()]);
        n += 1;
        testbed::write_ntfs_acl(p, &bytes).unwrap();
        let rel = format!("/{}", p.strip_prefix(vol.path()).unwrap().display());
        written.insert(rel, bytes);
    };
    std::fs::create_dir_all(&root).unwrap();
    set(&root, &mut written);
    for dir in [
        "Desktop",
        "Documents",
        "Documents/Projects",
        "AppData",
        "AppData/Local",
        "AppData/Roaming",
        "AppData/Roaming/Microsoft",
    ] {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        set(&d, &mut written);
        for i in 0..7 {
            let f = d.join(format!("file{i}.txt"));
            std::fs::write(&f, format!("content {i}")).unwrap();
            set(&f, &mut written);
        }
    }
    // A legacy junction appears as a symlink: its own descriptor is translated, the
    // link is not followed.
    let link = root.join("Application Data");
    std::os::unix::fs::symlink("AppData/Roaming", &link).unwrap();
    let link_sd = testbed::read_ntfs_acl(&link).ok();

    let map = SidMap::from_pairs([format!("{OLD}={NEW}")]).unwrap();
    let expected: BTreeMap<String, Vec<u8>> = written
        .iter()
        .map(|(p, b)| {
            let out = ntsec::translate_bytes(b, &map, Mode::Replace)
                .unwrap()
                .unwrap_or_else(|| b.clone());
            (p.clone(), out)
        })
        .collect();
    let with_old = written.iter().filter(|(p, b)| expected[*p] != **b).count() as u64;

    let backend = NtfsXattr::detect(&root).unwrap();
    let dry = translate_tree(
        &root,
        &backend,
        &TreeOptions {
            dry_run: true,
            ..TreeOptions::new(&map)
        },
    )
    .unwrap();
    assert_eq!(dry.changed, with_old, "{dry:?}");
    assert_eq!(
        testbed::read_ntfs_acl(&root).unwrap(),
        written["/Users/alice"],
        "dry run wrote"
    );

    let report = translate_tree(&root, &backend, &TreeOptions::new(&map)).unwrap();
    assert_eq!(report.errors, vec![], "{report:?}");
    let link_changed = link_sd.as_deref().is_some_and(|b| {
        ntsec::translate_bytes(b, &map, Mode::Replace)
            .unwrap()
            .is_some()
    });
    assert_eq!(
        report.seen,
        written.len() as u64 + 1,
        "every entry and the link"
    );
    assert_eq!(report.changed, with_old + u64::from(link_changed));

    // Idempotent: a second run finds nothing to change.
    let again = translate_tree(
        &root,
        &backend,
        &TreeOptions {
            threads: 2,
            ..TreeOptions::new(&map)
        },
    )
    .unwrap();
    assert_eq!(again.changed, 0);

    vol.with_unmounted(|image| {
        let audited = testbed::ntfssecaudit_tree(image, "/Users").unwrap();
        for (path, want) in &expected {
            let got = audited
                .get(path)
                .unwrap_or_else(|| panic!("ntfssecaudit did not list {path}"));
            assert_eq!(
                got, want,
                "{path}: descriptor on disk differs from the expected translation"
            );
        }
        let (clean, text) = testbed::ntfssecaudit_clean(image).unwrap();
        assert!(clean, "ntfssecaudit -a found errors:\n{text}");
    })
    .unwrap();
}

#[test]
fn unreadable_entries_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"x").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b"), b"y").unwrap();
    // Not an NTFS volume: every read fails, the walk still visits everything.
    let map = SidMap::from_pairs([format!("{OLD}={NEW}")]).unwrap();
    let report = translate_tree(dir.path(), &NtfsXattr::NTFS_3G, &TreeOptions::new(&map)).unwrap();
    assert_eq!(report.seen, 4);
    assert_eq!(report.errors_total, 4);
    assert!(
        report.errors[0]
            .reason
            .contains("cannot read the security descriptor")
    );
    assert!(
        translate_tree(
            &dir.path().join("missing"),
            &NtfsXattr::NTFS_3G,
            &TreeOptions::new(&map)
        )
        .is_err()
    );
}
