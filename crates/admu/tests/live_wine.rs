//! The live host (no `--root`) under Wine: `admu.exe list`, `check` and
//! `migrate --dry-run` on the Windows admu runs on. Wine has a ProfileList with its own
//! user, a registry and Win32 account calls, so the commands run end to end; it cannot
//! show real file ACLs (it synthesizes them), load binary hives, or run Restart Manager
//! and LSA policy the way Windows does, so nothing here claims Windows behaviour. What a
//! real Windows VM must show is in docs/windows-verification.md.
#![cfg(windows)]

use std::process::{Command, Output};

use serde_json::Value as Json;

fn admu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .env("ADMU_WINE_TEST_PASSWORD", "Wine-Test-Passw0rd!")
        .output()
        .expect("run admu.exe")
}

fn shown(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Wine's own user profile, from `admu list --json` on the live system.
fn wine_profile() -> Json {
    let out = admu(&["list", "--all", "--json"]);
    assert!(out.status.success(), "admu list: {}", shown(&out));
    let rows: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = rows.as_array().expect("rows").clone();
    eprintln!("live list under Wine: {} profiles", rows.len());
    for r in &rows {
        eprintln!(
            "  {} {} {} loaded={} signed_in={}",
            r["account"], r["key"], r["path"], r["loaded"], r["signed_in"]
        );
        assert!(
            r.get("loaded").is_some(),
            "live rows say whether they are loaded"
        );
    }
    rows.into_iter()
        .find(|r| r["kind"] == "local" || r["kind"] == "other" || r["kind"] == "domain")
        .expect("Wine has a user profile in ProfileList")
}

#[test]
fn live_list_check_and_dry_run_under_wine() {
    let profile = wine_profile();
    let sid = profile["key"].as_str().expect("SID").to_string();
    let check = admu(&[
        "check",
        "--from",
        &sid,
        "--to",
        "newuser",
        "--password-env",
        "ADMU_WINE_TEST_PASSWORD",
    ]);
    let code = check.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "check runs every check and exits 0 or 3: {}",
        shown(&check)
    );
    let text = String::from_utf8_lossy(&check.stdout);
    for name in [
        "source profile exists",
        "admu runs elevated or as SYSTEM",
        "new name is free",
    ] {
        assert!(
            text.contains(name),
            "check lists {name:?}: {}",
            shown(&check)
        );
    }
    assert!(
        text.lines()
            .all(|l| !l.starts_with("FAIL") || l.contains(": ")),
        "every failed check says why: {text}"
    );
    eprintln!("live check under Wine (exit {code:?}):\n{text}");

    let dry = admu(&[
        "migrate",
        "--from",
        &sid,
        "--to",
        "newuser",
        "--password-env",
        "ADMU_WINE_TEST_PASSWORD",
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("Preflight:") && text.contains("nothing was changed"),
        "the dry run prints a plan: {}",
        shown(&dry)
    );
    eprintln!(
        "live dry run under Wine (exit {:?}); Wine cannot show: real file ACLs (synthesized), \
         binary hive loading, Restart Manager holders, LSA logon rights, domain or Entra joins",
        dry.status.code()
    );
}

#[test]
fn live_only_options_are_refused_offline_style_errors_are_clear() {
    // --leave-domain on Wine's workgroup machine: refused before anything changes.
    let profile = wine_profile();
    let sid = profile["key"].as_str().expect("SID").to_string();
    let out = admu(&[
        "check",
        "--from",
        &sid,
        "--to",
        "newuser",
        "--password-env",
        "ADMU_WINE_TEST_PASSWORD",
        "--leave-domain",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--leave-domain"), "{text}");
}
