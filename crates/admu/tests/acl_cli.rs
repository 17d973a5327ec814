//! `admu acl …` on a real NTFS volume (ntfs-3g test bed).
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::process::{Command, Output};

fn admu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

const OLD: &str = "S-1-5-21-1004336348-1177238915-682003330-1103";
const NEW: &str = "S-1-5-21-3623811015-3361044348-30300820-1001";

#[test]
fn show_and_translate_a_tree() {
    let Some(vol) = testbed::NtfsImage::for_test("show_and_translate_a_tree") else {
        return;
    };
    let dir = vol.path().join("Users/alice");
    std::fs::create_dir_all(dir.join("Documents")).unwrap();
    std::fs::write(dir.join("Documents/a.txt"), b"a").unwrap();
    let sddl = format!("O:{OLD}G:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;{OLD})");
    let sd = ntsec::SecurityDescriptor::from_sddl(&sddl)
        .unwrap()
        .to_bytes()
        .unwrap();
    for p in [
        dir.clone(),
        dir.join("Documents"),
        dir.join("Documents/a.txt"),
    ] {
        testbed::write_ntfs_acl(&p, &sd).unwrap();
    }
    let shown = admu(&["acl", "show", dir.to_str().unwrap()]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), sddl);

    let map = format!("{OLD}={NEW}");
    let dry = admu(&[
        "acl",
        "translate",
        dir.to_str().unwrap(),
        "--map",
        &map,
        "--dry-run",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(report["seen"], 3);
    assert_eq!(report["changed"], 3);
    assert_eq!(testbed::read_ntfs_acl(&dir).unwrap(), sd, "dry run wrote");

    let real = admu(&["acl", "translate", dir.to_str().unwrap(), "--map", &map]);
    assert!(real.status.success());
    let text = String::from_utf8_lossy(&real.stdout);
    assert!(
        text.contains("3 seen, changed 3, unchanged 0, skipped 0"),
        "{text}"
    );
    let after = admu(&[
        "acl",
        "show",
        dir.join("Documents/a.txt").to_str().unwrap(),
        "--json",
    ]);
    let shown: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(shown["owner"], NEW);
    assert!(!shown["sddl"].as_str().unwrap().contains(OLD));
}

#[test]
fn not_ntfs_and_bad_map_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = admu(&["acl", "show", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NTFS"));
    let out = admu(&[
        "acl",
        "translate",
        dir.path().to_str().unwrap(),
        "--map",
        "x=y",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn hive_translate_in_place_keeps_the_files_descriptor() {
    let Some(vol) =
        testbed::NtfsImage::for_test("hive_translate_in_place_keeps_the_files_descriptor")
    else {
        return;
    };
    let Some(src) = testbed::fixture(
        "hive_translate_in_place_keeps_the_files_descriptor",
        "regipy/NTUSER.DAT",
    ) else {
        return;
    };
    let file = vol.path().join("NTUSER.DAT");
    std::fs::copy(&src, &file).unwrap();
    let sd =
        ntsec::SecurityDescriptor::from_sddl(&format!("O:{OLD}G:SYD:(A;;FA;;;SY)(A;;FA;;;{OLD})"))
            .unwrap()
            .to_bytes()
            .unwrap();
    testbed::write_ntfs_acl(&file, &sd).unwrap();
    let map = "S-1-5-21-2036804247-3058324640-2116585241-1673=S-1-5-21-1-2-3-1001";
    let out = admu(&["hive", "translate", file.to_str().unwrap(), "--map", map]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        testbed::read_ntfs_acl(&file).unwrap(),
        sd,
        "the saved hive lost its descriptor"
    );
}
