//! Converting real user hives from one SID to another.
#![cfg(test)]

use engine::convert::{Conversion, Marker, UserHive, convert_user_hive, read_marker};
use hive::Hive;
use hive::userchoice::user_choice_hash;

const NEW: &str = "S-1-5-21-1111111111-2222222222-3333333333-1001";

/// Counts places where `sid` still appears as text: key names and string values.
fn sid_text_left(hive: &Hive, sid: &str) -> Vec<String> {
    let mut left = Vec::new();
    let upper = sid.to_ascii_uppercase();
    hive::export::walk(hive, hive.root().unwrap(), "", &mut |key, path| {
        if path.starts_with(r"Software\admu") {
            return Ok(()); // admu's own marker names the previous SID on purpose
        }
        if key.name().to_ascii_uppercase().contains(&upper) {
            left.push(format!("key {path}"));
        }
        for v in key.values()? {
            if matches!(v.kind(), 1 | 2 | 7) {
                let text = String::from_utf16_lossy(
                    &v.data()?
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect::<Vec<_>>(),
                );
                if text.to_ascii_uppercase().contains(&upper) {
                    left.push(format!(r"value {path}\{}", v.name()));
                }
            }
        }
        Ok(())
    })
    .unwrap();
    left
}

fn open_copy(test: &str, rel: &str, logs: &[&str]) -> Option<(tempfile::TempDir, Hive)> {
    let src = testbed::fixture(test, rel)?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(src.file_name().unwrap());
    std::fs::copy(&src, &file).unwrap();
    for l in logs {
        std::fs::copy(src.parent().unwrap().join(l), dir.path().join(l)).unwrap();
    }
    let hive = Hive::open(&file).unwrap();
    Some((dir, hive))
}

fn conversion(old: &str, marker: bool) -> Conversion {
    Conversion {
        old: old.parse().unwrap(),
        new: NEW.parse().unwrap(),
        extra: ntsec::SidMap::new(),
        mode: ntsec::Mode::Replace,
        marker: marker.then(|| Marker {
            previous_sid: old.to_string(),
            previous_profile_path: r"C:\Users\tony".into(),
            migrated_at: 133_000_000_000_000_000,
            admu_version: "0.1.0".into(),
            migration_id: "test".into(),
        }),
    }
}

#[test]
fn windows_10_ntuser_keeps_every_association() {
    let old = "S-1-5-21-2595688666-2948619230-3055395256-1001";
    let Some((_dir, mut hive)) = open_copy(
        "windows_10_ntuser_keeps_every_association",
        "regipy/transactions_NTUSER.DAT",
        &[
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2",
        ],
    ) else {
        return;
    };
    assert!(!sid_text_left(&hive, old).is_empty());
    let report = convert_user_hive(&mut hive, UserHive::NtUser, &conversion(old, true)).unwrap();
    assert_eq!(report.user_choice_rehashed, 83);
    assert!(report.user_choice_untrusted.is_empty());
    assert!(
        report
            .values_rewritten
            .iter()
            .any(|v| v.contains("ProcessedSearchRoots")),
        "{report:?}"
    );
    assert!(report.marker_written);
    assert_eq!(sid_text_left(&hive, old), Vec::<String>::new());
    assert!(hive.check().is_ok(), "{:?}", hive.check().findings);

    // Every association verifies for the new SID, with the key's unchanged time.
    let mut verified = 0;
    for root in engine::convert::USER_CHOICE_ROOTS {
        for ext in hive.require_key(root).unwrap().subkeys().unwrap() {
            let Some(choice) = ext.subkey("UserChoice").unwrap() else {
                continue;
            };
            let prog = hive::value::utf16_until_nul(
                &choice.value("ProgId").unwrap().unwrap().data().unwrap(),
            );
            let hash = hive::value::utf16_until_nul(
                &choice.value("Hash").unwrap().unwrap().data().unwrap(),
            );
            assert_eq!(
                hash,
                user_choice_hash(&ext.name(), NEW, &prog, choice.last_written())
            );
            verified += 1;
        }
    }
    assert_eq!(verified, 83);
    let marker = read_marker(&hive).unwrap().unwrap();
    assert_eq!(marker.previous_sid, old);

    let sids: Vec<String> = hive
        .security_cells()
        .unwrap()
        .iter()
        .flat_map(|s| {
            ntsec::SecurityDescriptor::from_bytes(s.descriptor())
                .unwrap()
                .sids()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(sids.iter().any(|s| s == NEW) && !sids.iter().any(|s| s == old));
}

#[test]
fn usrclass_root_and_merged_resources_follow_the_sid() {
    let old = "S-1-5-21-2734969515-1644526556-1039763013-1001";
    let Some((_dir, mut hive)) = open_copy(
        "usrclass_root_and_merged_resources_follow_the_sid",
        "regipy/UsrClass.dat",
        &["UsrClass.dat.LOG1", "UsrClass.dat.LOG2"],
    ) else {
        return;
    };
    let report = convert_user_hive(&mut hive, UserHive::UsrClass, &conversion(old, false)).unwrap();
    assert!(report.root_renamed);
    assert_eq!(hive.root().unwrap().name(), format!("{NEW}_Classes"));
    assert_eq!(
        report.keys_renamed.len(),
        17,
        "MrtCache keys named after the SID"
    );
    assert!(
        report.values_rewritten.len() >= 21,
        "{:?}",
        report.values_rewritten
    );
    assert_eq!(sid_text_left(&hive, old), Vec::<String>::new());
    assert!(hive.check().is_ok(), "{:?}", hive.check().findings);
    assert!(
        !report.marker_written,
        "the marker lives in NTUSER.DAT only"
    );
}

#[test]
fn domain_ntuser_key_names_and_search_roots_follow_the_sid() {
    let old = "S-1-5-21-2036804247-3058324640-2116585241-1673";
    let Some((_dir, mut hive)) = open_copy("domain_ntuser", "regipy/NTUSER.DAT", &[]) else {
        return;
    };
    let report = convert_user_hive(&mut hive, UserHive::NtUser, &conversion(old, true)).unwrap();
    assert_eq!(report.keys_renamed.len(), 2, "{:?}", report.keys_renamed);
    assert_eq!(
        report
            .values_rewritten
            .iter()
            .filter(|v| v.contains("ProcessedSearchRoots"))
            .count(),
        3
    );
    assert_eq!(sid_text_left(&hive, old), Vec::<String>::new());
    // The domain's other groups are left alone without --map.
    assert!(!sid_text_left(&hive, "S-1-5-21-2036804247-3058324640-2116585241-513").is_empty());
    assert!(hive.check().is_ok(), "{:?}", hive.check().findings);
}
