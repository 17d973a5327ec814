//! `admu sample create`: a volume in a folder, its JSON report, and refusal to overwrite.

use std::process::{Command, Output};

fn admu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

#[test]
fn sample_create_builds_a_volume_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("vol");
    let target = target.to_str().unwrap();
    let args = [
        "sample",
        "create",
        target,
        "--seed",
        "5",
        "--files",
        "100",
        "--hive-keys",
        "600",
    ];
    let out = admu(&[&args[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["seed"], 5);
    let users = report["users"].as_array().unwrap();
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["logon_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CORP\\alice", "AzureAD\\bob", ".\\carol"]);
    assert_eq!(report["descriptors_set"], false);
    assert!(
        std::path::Path::new(target)
            .join("Windows/System32/config/SAM")
            .is_file()
    );

    // A second run into the same folder refuses instead of mixing two volumes.
    let again = admu(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a Windows folder"));
}

#[test]
fn sample_create_prints_a_readable_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = admu(&[
        "sample",
        "create",
        dir.path().to_str().unwrap(),
        "--seed",
        "9",
        "--files",
        "80",
        "--hive-keys",
        "500",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "CORP\\alice",
        "AzureAD\\bob",
        "S-1-12-1-",
        "SOFTWARE",
        "NOT set",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}
