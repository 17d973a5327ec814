//! Reading real hives: log replay results seen through keys and values, lookups the way
//! Windows compares names, and value decoding.
#![cfg(test)]

use hive::{Data, Hive, OpenOptions};

#[test]
fn old_dirty_hive_replayed_shows_what_windows_7_recovered() {
    let test = "old_dirty_hive_replayed_shows_what_windows_7_recovered";
    let (Some(dirty), Some(recovered)) = (
        testbed::fixture(test, "yarp/OldDirtyHive/OldDirtyHive"),
        testbed::fixture(test, "yarp/OldDirtyHive/RecoveredHive_Windows7"),
    ) else {
        return;
    };
    let hive = Hive::open(&dirty).unwrap();
    let report = hive.replay_report().expect("the primary is dirty");
    assert_eq!(report.applied.len(), 1);
    assert_eq!(report.applied[0].format, hive::log::LogFormat::Old);

    assert!(
        hive.key(r"key_with_many_subkeys\1").unwrap().is_none(),
        "deleted in the log"
    );
    let found = hive
        .require_key(r"key_with_many_subkeys\5000\find_me_in_log")
        .unwrap();
    let windows = Hive::open(&recovered).unwrap();
    let expected = windows
        .require_key(r"key_with_many_subkeys\5000\find_me_in_log")
        .unwrap();
    assert_eq!(found.last_written(), expected.last_written());

    let v = hive
        .require_key(r"key_with_many_subkeys\4500")
        .unwrap()
        .value("V")
        .unwrap()
        .unwrap();
    assert_eq!(v.kind(), hive::value::types::MULTI_SZ);
    assert_eq!(
        v.decoded().unwrap(),
        Data::MultiString(vec!["a".into(), "bb".into(), "ccc".into()])
    );

    // Without logs the primary reads as it is: the deleted key is still there.
    let raw = Hive::open_with(&dirty, OpenOptions { use_logs: false }).unwrap();
    assert!(raw.key(r"key_with_many_subkeys\1").unwrap().is_some());
    assert!(
        raw.key(r"key_with_many_subkeys\5000\find_me_in_log")
            .unwrap()
            .is_none()
    );
}

#[test]
fn new_dirty_hive_replayed_matches_windows_10_bins() {
    let test = "new_dirty_hive_replayed_matches_windows_10_bins";
    let (Some(dirty), Some(recovered)) = (
        testbed::fixture(test, "yarp/NewDirtyHive1/NewDirtyHive"),
        testbed::fixture(test, "yarp/NewDirtyHive1/RecoveredHive_Windows10"),
    ) else {
        return;
    };
    let ours = Hive::open(&dirty).unwrap();
    let windows = std::fs::read(&recovered).unwrap();
    let size = 4096 + ours.bins_size() as usize;
    assert_eq!(&ours.as_bytes()[4096..size], &windows[4096..size]);
}

#[test]
fn lookups_ignore_case_like_windows() {
    let Some(file) = testbed::fixture("lookups_ignore_case_like_windows", "regipy/NTUSER.DAT")
    else {
        return;
    };
    let hive = Hive::open(&file).unwrap();
    let a = hive
        .require_key(r"Software\Microsoft\Windows\CurrentVersion\Explorer")
        .unwrap();
    let b = hive
        .require_key(r"\SOFTWARE\microsoft\WINDOWS\currentversion\explorer\")
        .unwrap();
    assert_eq!(a.offset(), b.offset());
    assert!(hive.key(r"Software\NoSuchVendor").unwrap().is_none());
    assert!(matches!(
        hive.require_key(r"Software\NoSuchVendor"),
        Err(hive::Error::KeyNotFound { .. })
    ));
    // Subkeys come back in Windows' order: ordinal over upcased names.
    let names: Vec<Vec<u16>> = hive
        .require_key("Software")
        .unwrap()
        .subkeys()
        .unwrap()
        .iter()
        .map(|k| k.raw_name().upcased())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn dirty_hive_without_logs_is_an_error_unless_asked() {
    let Some(src) = testbed::fixture(
        "dirty_hive_without_logs_is_an_error_unless_asked",
        "regipy/UsrClass.dat",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lonely = dir.path().join("UsrClass.dat");
    std::fs::copy(&src, &lonely).unwrap();
    let err = Hive::open(&lonely).unwrap_err();
    assert!(
        matches!(
            err,
            hive::Error::Log(hive::log::LogError::DirtyWithoutUsableLog { .. })
        ),
        "{err}"
    );
    let hive = Hive::open_with(&lonely, OpenOptions { use_logs: false }).unwrap();
    assert!(hive.on_disk().dirty());
}

#[test]
fn logs_are_found_in_any_letter_case() {
    let Some(src) = testbed::fixture(
        "logs_are_found_in_any_letter_case",
        "regipy/transactions_NTUSER.DAT",
    ) else {
        return;
    };
    let found = hive::hive::find_logs(&src).unwrap();
    let names: Vec<String> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2"
        ]
    );
}
