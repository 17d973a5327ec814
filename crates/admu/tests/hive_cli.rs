//! `admu hive …` as scripts use it: output shapes, exit codes, and files left alone on
//! dry runs and errors.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn admu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies a fixture (and the named logs beside it) into a temp dir.
fn copy_fixture(test: &str, rel: &str, logs: &[&str]) -> Option<(tempfile::TempDir, PathBuf)> {
    let src = testbed::fixture(test, rel)?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(src.file_name().unwrap());
    std::fs::copy(&src, &file).unwrap();
    for l in logs {
        std::fs::copy(src.parent().unwrap().join(l), dir.path().join(l)).unwrap();
    }
    Some((dir, file))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn info_reports_replay_of_a_dirty_hive() {
    let Some((_d, file)) = copy_fixture(
        "info_reports_replay_of_a_dirty_hive",
        "regipy/transactions_NTUSER.DAT",
        &[
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2",
        ],
    ) else {
        return;
    };
    let out = admu(&["hive", "info", s(&file), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["dirty"], true);
    assert_eq!(info["on_disk"]["minor_version"], 5);
    assert_eq!(info["replay"]["applied"][0]["last_sequence"], 588);
    assert_eq!(info["replay"]["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(info["keys"], 3105);

    let human = stdout(&admu(&["hive", "info", s(&file)]));
    assert!(human.contains("567 / 566 (dirty)"), "{human}");
    assert!(human.contains("sequence 566..=588"), "{human}");
}

#[test]
fn export_json_lists_every_key_and_reg_file_is_utf16() {
    let Some((dir, file)) = copy_fixture("export_json_lists_every_key", "regipy/NTUSER.DAT", &[])
    else {
        return;
    };
    let out = admu(&["hive", "export", s(&file), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1812);

    let sub = admu(&[
        "hive",
        "export",
        s(&file),
        "--key",
        r"software\microsoft",
        "--format",
        "reg",
    ]);
    let text = stdout(&sub);
    assert!(text.starts_with("Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\NTUSER.DAT\\software\\microsoft]"), "{}", &text[..200.min(text.len())]);

    let reg = dir.path().join("out.reg");
    assert!(
        admu(&["hive", "export", s(&file), "-o", s(&reg)])
            .status
            .success()
    );
    let bytes = std::fs::read(&reg).unwrap();
    assert_eq!(
        &bytes[..2],
        &[0xFF, 0xFE],
        "regedit's files start with a UTF-16LE BOM"
    );
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    assert!(text.starts_with("Windows Registry Editor Version 5.00\r\n\r\n"));
}

#[test]
fn export_of_a_missing_key_fails_and_names_it() {
    let Some((_d, file)) = copy_fixture("export_of_a_missing_key", "regipy/NTUSER.DAT", &[]) else {
        return;
    };
    let out = admu(&["hive", "export", s(&file), "--key", r"Software\Nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(r"Software\\Nope"), "{}", stderr(&out));
}

#[test]
fn translate_dry_run_writes_nothing_and_real_run_swaps_the_sid() {
    let Some((_d, file)) = copy_fixture("translate_cli", "regipy/NTUSER.DAT", &[]) else {
        return;
    };
    let old = "S-1-5-21-2036804247-3058324640-2116585241-1673";
    let new = "S-1-5-21-1111111111-2222222222-3333333333-1001";
    let map = format!("{old}={new}");
    let before = std::fs::read(&file).unwrap();

    let dry = admu(&["hive", "translate", s(&file), "--map", &map, "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("would change 21 security cells used by 1811 keys"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "dry run must not write"
    );

    let real = admu(&["hive", "translate", s(&file), "--map", &map, "--json"]);
    assert!(real.status.success(), "{}", stderr(&real));
    let outcome: serde_json::Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!(outcome["report"]["cells_changed"], 21);

    let sids = stdout(&admu(&["hive", "sids", s(&file)]));
    assert!(sids.contains(new) && !sids.contains(old), "{sids}");
    assert_eq!(admu(&["hive", "check", s(&file)]).status.code(), Some(0));
}

#[test]
fn bad_map_is_a_usage_error_and_changes_nothing() {
    let Some((_d, file)) = copy_fixture("bad_map", "regipy/NTUSER.DAT", &[]) else {
        return;
    };
    let before = std::fs::read(&file).unwrap();
    let out = admu(&[
        "hive",
        "translate",
        s(&file),
        "--map",
        "S-1-5-21-1=not-a-sid",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--map"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn check_finds_damage_and_names_the_offset() {
    let Some((_d, file)) = copy_fixture("check_finds_damage", "regipy/NTUSER.DAT", &[]) else {
        return;
    };
    assert_eq!(admu(&["hive", "check", s(&file)]).status.code(), Some(0));
    // Break the root key's parent-of-children link: point its first subkey list
    // element into the middle of a bin.
    let mut bytes = std::fs::read(&file).unwrap();
    let root = u32::from_le_bytes(bytes[36..40].try_into().unwrap()) as usize;
    let list = u32::from_le_bytes(
        bytes[4096 + root + 4 + 28..4096 + root + 4 + 32]
            .try_into()
            .unwrap(),
    ) as usize;
    bytes[4096 + list + 4 + 4..4096 + list + 4 + 8].copy_from_slice(&0x0000_1234u32.to_le_bytes());
    std::fs::write(&file, &bytes).unwrap();
    let out = admu(&["hive", "check", s(&file)]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0x1234") || stdout(&out).contains("0x2234"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn not_a_hive_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"hello, world").unwrap();
    let out = admu(&["hive", "info", s(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a registry hive"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));
}

#[test]
fn log_file_receives_json_lines() {
    let Some((dir, file)) = copy_fixture("log_file_receives_json_lines", "regipy/SAM", &[]) else {
        return;
    };
    let log = dir.path().join("admu.log");
    let out = admu(&["--log-file", s(&log), "hive", "info", s(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["fields"]["message"], "admu started");
}
