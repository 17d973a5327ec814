//! `admu check|migrate --jc-bind …` end to end: the sample volume on the NTFS test bed
//! (with an agent's `jcagent.conf`) against the stand-in JumpCloud (`crates/jcstandin`),
//! which validates every request against the official API specs.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Output};

use common::*;
use jcstandin::{KeyFormat, StandIn};
use serde_json::Value as Json;

fn admu_jc(args: &[String], jc: &StandIn) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .env(PASSWORD_VAR, PASSWORD)
        .env("JC_API_KEY", jc.api_key())
        .output()
        .expect("run admu")
}

/// The agent's files where Windows keeps them, on the volume.
fn install_agent(bed: &Bed, jc: &StandIn, system: &str) {
    let dir = bed.path().join("Program Files/JumpCloud/Plugins/Contrib");
    jc.agent(system)
        .write_files(&dir, KeyFormat::Pkcs8)
        .expect("write the agent's files");
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn migrate_binds_the_user_reports_status_and_checks_first() {
    let test = "migrate_binds_the_user_reports_status_and_checks_first";
    let Some(bed) = Bed::new(test, Some(20)) else {
        return;
    };
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("alice", None);
    jc.add_user("a.ice", None);
    jc.add_user("bob.smith", Some("bob"));
    jc.update_system(&system, |s| {
        s.attributes
            .push(serde_json::json!({"name": "site", "value": "berlin"}));
    });
    let url = jc.url().to_string();
    let jc_flags = ["--jc-bind", "--jc-url", url.as_str()];

    // No agent on the volume yet: refused before anything changes.
    let before = bed.snapshot();
    let out = admu_jc(&with(bed.migrate_args("alice", &jc_flags), &[]), &jc);
    expect_exit(&out, 1, "no agent", "jcagent.conf");
    install_agent(&bed, &jc, &system);
    let before = {
        let _ = before;
        bed.snapshot()
    };

    // check: every JumpCloud check passes for alice; an unknown user and a JumpCloud
    // user whose Local User Account name differs fail, with reasons; nothing changes.
    let check = |to: &str, extra: &[&str]| {
        let mut args: Vec<String> = [
            "check",
            "--root",
            bed.r(),
            "--from",
            ALICE,
            "--to",
            to,
            "--password-env",
            PASSWORD_VAR,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(jc_flags.iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        admu_jc(&args, &jc)
    };
    let ok = check("alice", &[]);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert_eq!(ok.status.code(), Some(0), "{}", shown(&ok));
    for name in [
        "JumpCloud API key and organisation",
        "JumpCloud knows this device",
        "JumpCloud user exists",
    ] {
        assert!(text.contains(&format!("pass {name}")), "{text}");
    }
    let unknown = check("alice", &["--jc-user", "alixe"]);
    expect_exit(
        &unknown,
        3,
        "unknown JumpCloud user",
        "FAIL JumpCloud user exists",
    );
    let regex = check("alice", &["--jc-user", "a.ce"]);
    expect_exit(
        &regex,
        3,
        "a.ce must not match alice or a.ice",
        "FAIL JumpCloud user exists",
    );
    let renamed = check("alice", &["--jc-user", "bob.smith"]);
    expect_exit(&renamed, 3, "systemUsername", "--to bob");
    assert_same(&before, &bed.snapshot(), "checks change nothing");

    // migrate: bound as admin, primary user, status Complete; other attributes survive.
    let out = admu_jc(
        &bed.migrate_args(
            "alice",
            &[
                "--jc-bind",
                "--jc-url",
                &url,
                "--jc-admin",
                "--jc-primary-user",
                "--jc-report-status",
                "--json",
            ],
        ),
        &jc,
    );
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let outcome: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    let bind = outcome["after"]
        .as_array()
        .expect("after")
        .iter()
        .find(|a| a["action"] == "bind")
        .expect("a bind report");
    assert_eq!(bind["ok"], true, "{bind}");
    let assoc = jc.associations();
    assert!(
        assoc
            .iter()
            .any(|a| a.user_id == user && a.system_id == system && a.sudo()),
        "{assoc:?}"
    );
    let state = jc.system(&system);
    assert_eq!(state.primary_user.as_deref(), Some(user.as_str()));
    assert_eq!(state.attribute("admu"), Some(&Json::from("Complete")));
    assert_eq!(state.attribute("site"), Some(&Json::from("berlin")));
    let description = state.description_json().expect("a JSON description");
    let entry = description
        .as_array()
        .expect("per-user entries")
        .iter()
        .find(|e| e["sid"] == bed.alice_sid().as_str())
        .expect("alice's entry");
    assert_eq!(entry["st"], "Complete");
    assert_eq!(entry["un"], "alice");
    jc.assert_no_violations();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(&jc.api_key()),
        "the API key never appears in the output"
    );
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
}

#[test]
fn jumpcloud_refusals_name_their_cause() {
    let test = "jumpcloud_refusals_name_their_cause";
    let Some(bed) = Bed::new(test, Some(10)) else {
        return;
    };
    let jc = StandIn::start();
    let system = jc.add_system("PC-2");
    jc.add_user("alice", None);
    install_agent(&bed, &jc, &system);
    let url = jc.url().to_string();
    let check = |extra: &[&str], env_key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_admu"));
        cmd.args(["check", "--root", bed.r(), "--from", ALICE, "--to", "alice"])
            .args([
                "--password-env",
                PASSWORD_VAR,
                "--jc-bind",
                "--jc-url",
                &url,
            ])
            .args(extra)
            .env(PASSWORD_VAR, PASSWORD)
            .env_remove("JC_API_KEY");
        if let Some(k) = env_key {
            cmd.env("JC_API_KEY", k);
        }
        cmd.output().expect("run admu")
    };
    expect_exit(&check(&[], None), 2, "no API key", "JC_API_KEY");
    expect_exit(
        &check(&[], Some("wrong")),
        3,
        "a wrong key",
        "FAIL JumpCloud API key",
    );
    jc.add_org("Second tenant");
    expect_exit(
        &check(&[], Some(&jc.api_key())),
        3,
        "a multi-tenant key without --jc-org-id",
        "Second tenant",
    );
    let org = jc.default_org();
    let out = check(&["--jc-org-id", &org], Some(&jc.api_key()));
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let insecure = Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(["check", "--root", bed.r(), "--from", ALICE, "--to", "alice"])
        .args(["--password-env", PASSWORD_VAR, "--jc-bind"])
        .args(["--jc-url", "http://jumpcloud.example.com"])
        .env(PASSWORD_VAR, PASSWORD)
        .env("JC_API_KEY", "k")
        .output()
        .expect("run admu");
    expect_exit(&insecure, 2, "plain http to a remote host", "--jc-url");
    // Installing the agent is for the live system only.
    let out = Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(strs(&bed.migrate_args("alice", &["--jc-install-agent"])))
        .env(PASSWORD_VAR, PASSWORD)
        .env("JC_CONNECT_KEY", "abc123")
        .output()
        .expect("run admu");
    expect_exit(&out, 2, "--jc-install-agent offline", "--jc-install-agent");
    // System context: the agent's own key signs; no API key needed.
    let out = check(&["--jc-system-context", "--jc-org-id", &org], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("pass JumpCloud knows this device"),
        "{}",
        shown(&out)
    );
    jc.assert_no_violations();
}
