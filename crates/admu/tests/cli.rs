//! The binary's contract with scripts: version, help and usage errors.
#![cfg(test)]

use std::process::Command;

fn admu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

#[test]
fn version_prints_name_and_version() {
    let out = admu(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), format!("admu {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_exits_zero() {
    let out = admu(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: admu"));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = admu(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
