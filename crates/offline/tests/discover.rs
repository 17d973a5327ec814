//! Profile discovery on volumes built from real hives and on broken volumes.
#![cfg(test)]

use std::path::Path;

use engine::profiles::{DiscoverOptions, ProfileKind, ProfileState, discover};
use hive::{Hive, NewHive};
use offline::OfflineHost;

const DOMAIN_SID: &str = "S-1-5-21-2036804247-3058324640-2116585241-1673";

fn sd() -> Vec<u8> {
    ntsec::SecurityDescriptor::from_sddl("O:BAG:SYD:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)")
        .unwrap()
        .to_bytes()
        .unwrap()
}

fn sid_bytes(s: &str) -> Vec<u8> {
    s.parse::<ntsec::Sid>().unwrap().to_bytes()
}

/// A SOFTWARE hive with the given ProfileList entries (key, path, State).
fn software(dir: &Path, entries: &[(&str, &str, u32)]) {
    let security = sd();
    let mut h = Hive::new_empty(&NewHive {
        root_name: "ROOT",
        minor_version: 5,
        root_security: &security,
        embedded_name: r"\SystemRoot\System32\Config\SOFTWARE",
        timestamp: 0,
    })
    .unwrap();
    let list = h.create_key_path(engine::profiles::PROFILE_LIST).unwrap();
    h.set_value(
        list,
        "ProfilesDirectory",
        2,
        &hive::value::encode_sz(r"%SystemDrive%\Users"),
    )
    .unwrap();
    for (key, path, state) in entries {
        let k = h.create_key(list, key).unwrap();
        h.set_value(k, "ProfileImagePath", 2, &hive::value::encode_sz(path))
            .unwrap();
        h.set_value(k, "State", 4, &state.to_le_bytes()).unwrap();
        let sid = key.trim_end_matches(".bak");
        h.set_value(k, "Sid", 3, &sid_bytes(sid)).unwrap();
        h.set_value(
            k,
            "LocalProfileLoadTimeLow",
            4,
            &0x1234_5678u32.to_le_bytes(),
        )
        .unwrap();
        h.set_value(
            k,
            "LocalProfileLoadTimeHigh",
            4,
            &0x01D9_0000u32.to_le_bytes(),
        )
        .unwrap();
    }
    let config = dir.join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    h.save_as(config.join("SOFTWARE")).unwrap();
}

#[test]
fn real_domain_hive_is_classified_and_broken_rows_say_why() {
    let Some(ntuser) = testbed::fixture("real_domain_hive_is_classified", "regipy/NTUSER.DAT")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    software(
        dir.path(),
        &[
            ("S-1-5-18", r"%systemroot%\system32\config\systemprofile", 0),
            (DOMAIN_SID, r"D:\Users\vibranium", 0),
            ("S-1-5-21-1-2-3-1004", r"C:\Users\gone", 0),
            ("S-1-5-21-1-2-3-1005", r"C:\Users\nohive", 0),
            ("S-1-5-21-1-2-3-1006.bak", r"C:\Users\nohive", 0),
            ("S-1-5-21-1-2-3-1006", r"C:\Users\TEMP", 0x800),
            ("S-1-12-1-1-2-3-4", r"C:\Users\old.ADMU", 0),
        ],
    );
    // The profile folder in other letter case than ProfileImagePath: Windows would not mind.
    std::fs::create_dir_all(dir.path().join("Users/VIBRANIUM")).unwrap();
    std::fs::copy(&ntuser, dir.path().join("Users/VIBRANIUM/ntuser.dat")).unwrap();
    std::fs::create_dir_all(dir.path().join("Users/nohive")).unwrap();
    std::fs::create_dir_all(dir.path().join("Users/old.ADMU")).unwrap();
    std::fs::write(dir.path().join("Users/old.ADMU/ntuser.dat"), b"").unwrap();

    let host = OfflineHost::open(dir.path()).unwrap();
    let rows = discover(&host, DiscoverOptions { size: true }).unwrap();
    let row = |key: &str| rows.iter().find(|r| r.key == key).unwrap();

    let system = row("S-1-5-18");
    assert_eq!(system.kind, ProfileKind::Service);
    assert!(system.is_service());

    let domain = row(DOMAIN_SID);
    assert_eq!(domain.kind, ProfileKind::Domain);
    assert_eq!(domain.states, [ProfileState::Ok]);
    assert_eq!(domain.size, Some(786_432));
    assert!(
        domain.account.starts_with("UNKNOWN"),
        "no name source on this volume: {}",
        domain.account
    );
    assert!(domain.last_used.is_some());

    assert_eq!(
        row("S-1-5-21-1-2-3-1004").states,
        [ProfileState::MissingFolder]
    );
    assert_eq!(
        row("S-1-5-21-1-2-3-1005").states,
        [ProfileState::MissingHive]
    );
    assert!(
        row("S-1-5-21-1-2-3-1006.bak")
            .states
            .contains(&ProfileState::Bak)
    );
    assert!(
        row("S-1-5-21-1-2-3-1006")
            .states
            .contains(&ProfileState::Temp)
    );
    let migrated = row("S-1-12-1-1-2-3-4");
    assert_eq!(migrated.kind, ProfileKind::Entra);
    assert_eq!(migrated.states, [ProfileState::Migrated]);
}

#[test]
fn volumes_that_cannot_be_used_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let err = OfflineHost::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a Windows system volume"), "{err}");

    std::fs::create_dir_all(dir.path().join("Windows/System32/config")).unwrap();
    let host = OfflineHost::open(dir.path()).unwrap();
    let err = discover(&host, DiscoverOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("SOFTWARE"), "{err}");

    std::fs::write(
        dir.path().join("Windows/System32/config/SOFTWARE"),
        b"garbage",
    )
    .unwrap();
    let host = OfflineHost::open(dir.path()).unwrap();
    let err = discover(&host, DiscoverOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SOFTWARE") && err.contains("not a registry hive"),
        "{err}"
    );

    let mut hiber = vec![0u8; 4096];
    hiber[..4].copy_from_slice(b"HIBR");
    std::fs::write(dir.path().join("hiberfil.sys"), &hiber).unwrap();
    let err = OfflineHost::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("Fast Startup"), "{err}");
}

#[test]
fn a_corrupt_sam_still_lists_profiles() {
    let dir = tempfile::tempdir().unwrap();
    software(dir.path(), &[(DOMAIN_SID, r"C:\Users\someone", 0)]);
    std::fs::write(
        dir.path().join("Windows/System32/config/SAM"),
        vec![0x42u8; 8192],
    )
    .unwrap();
    let host = OfflineHost::open(dir.path()).unwrap();
    let rows = discover(&host, DiscoverOptions::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].local_admin);
    assert_eq!(rows[0].states, [ProfileState::MissingFolder]);
    let err = host.sam().unwrap_err().to_string();
    assert!(err.contains("SAM"), "{err}");
}
