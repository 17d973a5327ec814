//! `admu fleet discover|plan|run|status`, `admu report` and `admu migrate
//! --from-description` end to end against the stand-in JumpCloud (`crates/jcstandin`,
//! every request validated against the official specs). Devices are simulated: a test
//! takes the runs JumpCloud queued, reads the command text the way the device's
//! PowerShell would (`fleet::parse`), runs those `admu migrate` invocations on a sample
//! volume (`--root`), and records the exit code and output as the command's result.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;
mod fleet_support;

use std::path::Path;
use std::process::Command;

use common::*;
use fleet_support::*;
use jcstandin::StandIn;
use serde_json::{Value as Json, json};

#[test]
fn discover_paginates_a_200_device_org() {
    let jc = StandIn::start();
    let hosts: Vec<String> = (0..200).map(|i| format!("PC-{i:03}")).collect();
    for (i, id) in jc.add_systems(&hosts).into_iter().enumerate() {
        let machine = format!("S-1-5-21-100-200-{}", 1000 + i);
        jc.add_insight_user(&id, "Administrator", &format!("{machine}-500"), "local");
        jc.add_insight_user(
            &id,
            &format!("user{i}"),
            &format!("S-1-5-21-7-8-9-{}", 2000 + i),
            "roaming",
        );
        if i % 10 == 0 {
            jc.add_insight_user(
                &id,
                &format!("AzureAD\\entra{i}"),
                &format!("S-1-12-1-1-2-3-{i}"),
                "roaming",
            );
        }
    }
    let mac = jc.add_system("MAC-1");
    jc.update_system(&mac, |s| s.os = "Mac OS X".into());
    jc.add_insight_user(&mac, "macuser", "S-1-5-21-7-8-9-9999", "roaming");
    for i in (0..200).step_by(2) {
        jc.add_user(&format!("user{i}"), None);
    }
    jc.add_user("entra0", Some("e0"));

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("devices.csv");
    let start = std::time::Instant::now();
    let out = fleet(&["discover", "-o", file.to_str().expect("utf-8")], &jc);
    eprintln!("discover took {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("systems: 100/201") && err.contains("systems: 201/201"),
        "{err}"
    );
    let text = std::fs::read_to_string(&file).expect("the CSV");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], fleet::HEADERS.join(","));
    assert_eq!(
        lines.len(),
        1 + 200 + 20,
        "one row per domain or Entra profile"
    );
    assert!(!text.contains("macuser"), "only Windows systems");
    let user0 = lines
        .iter()
        .find(|l| l.contains("S-1-5-21-7-8-9-2000"))
        .expect("user0");
    assert!(
        user0.contains(",user0,user0,6"),
        "JumpCloud user prefilled: {user0}"
    );
    let user1 = lines
        .iter()
        .find(|l| l.contains("S-1-5-21-7-8-9-2001"))
        .expect("user1");
    assert!(user1.contains(",user1,,,"), "no JumpCloud user1: {user1}");
    let entra = lines
        .iter()
        .find(|l| l.contains("S-1-12-1-1-2-3-0"))
        .expect("entra0");
    assert!(
        entra.contains(",e0,entra0,"),
        "Local User Account name: {entra}"
    );
    let pages: Vec<String> = jc
        .requests()
        .iter()
        .filter(|r| r.path == "/api/systems")
        .map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "skip")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(pages, ["0", "100", "200"]);

    // The same as JSON, and plan accepts the discovered file as it is.
    let out = fleet(&["discover", "--json"], &jc);
    let rows = json_of(&out, "discover --json");
    assert_eq!(rows.as_array().map(Vec::len), Some(220));
    assert_eq!(rows[0]["source"], "insights");
    let out = fleet(&["plan", "--csv", file.to_str().expect("utf-8")], &jc);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("101 migration(s) on 100 device(s)"),
        "{}",
        shown(&out)
    );
    // 200 devices do not fit in one command: the dry run shows the parts.
    let every: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            if f[0].starts_with("S-1-5-21-7-8-9-") {
                (f[3], f[4], f[5]) = ("user0", "user0", "");
            }
            f.join(",") + "\n"
        })
        .collect();
    let all = dir.path().join("all.csv");
    std::fs::write(&all, every).expect("write");
    let out = fleet(
        &[
            "run",
            "--csv",
            all.to_str().expect("utf-8"),
            "--jc-bind",
            "--dry-run",
            "--json",
        ],
        &jc,
    );
    let scripts = json_of(&out, "run --dry-run --json");
    let scripts = scripts.as_array().expect("scripts");
    assert!(scripts.len() >= 2, "{}", scripts.len());
    assert_eq!(scripts[1]["name"], "admu fleet (2)");
    let mut systems = 0;
    for s in scripts {
        assert!(s["text"].as_str().expect("text").chars().count() <= 32_767);
        systems += s["system_ids"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(systems, 200, "every device in exactly one part");
    assert!(jc.commands().is_empty(), "a dry run sends nothing");
    jc.assert_no_violations();
}

#[test]
fn plan_names_every_error_with_file_line_and_column() {
    let jc = StandIn::start();
    let pc1 = jc.add_system("PC-1");
    let mac = jc.add_system("MAC-1");
    jc.update_system(&mac, |s| s.os = "Mac OS X".into());
    jc.add_insight_user(&pc1, "Administrator", "S-1-5-21-9-9-9-500", "local");
    jc.add_insight_user(&pc1, "carol", "S-1-5-21-9-9-9-1001", "local");
    jc.add_user("alice", None);
    jc.add_user("carol", None);
    let alice = "S-1-5-21-1-2-3-1104";
    let doc = csv(&[
        ["not-a-sid", "", "PC-1", "alice", "alice", "", &pc1, ""],
        [alice, "", "PC-1", "alice", "alice", "", &pc1, ""],
        [alice, "", "PC-1", "alice", "alice", "", &pc1, ""],
        [
            "S-1-5-21-1-2-3-1105",
            "",
            "PC-1",
            "carol",
            "carol",
            "",
            &pc1,
            "",
        ],
        [
            "S-1-5-21-1-2-3-1106",
            "",
            "PC-1",
            "x",
            "nobody",
            "",
            &pc1,
            "",
        ],
        [
            "S-1-5-21-1-2-3-1107",
            "",
            "PC-1",
            "a*b",
            "alice",
            "",
            &pc1,
            "",
        ],
        [
            "S-1-5-21-1-2-3-1108",
            "",
            "MAC-1",
            "m",
            "alice",
            "",
            &mac,
            "",
        ],
        [
            "S-1-5-21-1-2-3-1109",
            "",
            "PC-9",
            "m",
            "alice",
            "",
            "5f0000000000000000000099",
            "",
        ],
        [
            "S-1-5-21-1-2-3-1110",
            "",
            "PC-1",
            "abcdefghijklmnopqrstuv",
            "alice",
            "",
            &pc1,
            "",
        ],
        [
            "S-1-5-21-1-2-3-1111",
            "",
            "PC-1",
            " . ",
            "alice",
            "",
            &pc1,
            "",
        ],
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, doc).expect("write CSV");
    let name = file.to_str().expect("utf-8");
    let out = fleet(&["plan", "--csv", name], &jc);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    for (line_col, says) in [
        ("2:1", "not a domain"),
        ("4:1", "appears again"),
        ("4:27", "new name of another profile"),
        ("5:", "already a local account"),
        ("6:", "no JumpCloud user is named \"nobody\""),
        ("7:", "Windows refuses"),
        ("8:", "not Windows"),
        ("9:", "JumpCloud has no system"),
        ("10:", "at most 20"),
        ("11:", "only dots and spaces"),
    ] {
        let prefix = format!("{name}:{line_col}");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(says)),
            "no {prefix}… {says:?} in:\n{err}"
        );
    }
    assert!(err.contains("nothing was sent"), "{err}");
    // A missing header, and run refuses the same file before sending anything.
    std::fs::write(&file, "SID,LocalUsername\nS-1-5-21-1-2-3-1,a\n").expect("write");
    expect_exit(
        &fleet(&["plan", "--csv", name], &jc),
        3,
        "headers",
        "the header JumpCloudUserName is missing",
    );
    let before = jc.request_count();
    expect_exit(
        &fleet(&["run", "--csv", name, "--jc-bind"], &jc),
        3,
        "run checks first",
        "header",
    );
    assert!(jc.commands().is_empty(), "nothing was created");
    assert!(
        jc.requests()[before..].iter().all(|r| r.method == "GET"),
        "only reads"
    );
    // Unpinned downloads and runs without a bind are usage errors.
    expect_exit(
        &fleet(
            &[
                "run",
                "--csv",
                name,
                "--jc-bind",
                "--exe-url",
                "https://x/admu.exe",
            ],
            &jc,
        ),
        2,
        "unpinned",
        "--exe-sha256",
    );
    expect_exit(
        &fleet(
            &[
                "run",
                "--csv",
                name,
                "--jc-bind",
                "--exe-url",
                "http://x/admu.exe",
                "--exe-sha256",
                &"a".repeat(64),
            ],
            &jc,
        ),
        2,
        "plain http",
        "https://",
    );
    expect_exit(
        &fleet(&["run", "--csv", name], &jc),
        2,
        "no bind",
        "--jc-bind",
    );
    jc.assert_no_violations();
}

/// A device as the tests know it: its system id and a sample volume.
#[test]
fn run_one_device_fails_others_complete_status_and_rerun() {
    let test = "run_one_device_fails_others_complete_status_and_rerun";
    let (Some(bed1), Some(bed2)) = (
        Bed::new(&format!("{test}_1"), Some(10)),
        Bed::new(&format!("{test}_2"), Some(10)),
    ) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let jc = StandIn::start();
    let alice = jc.add_user("alice", None);
    let bob = jc.add_user("bob", None);
    let devices = [
        Device {
            id: jc.add_system("PC-1"),
            root: bed1.path().to_path_buf(),
        },
        Device {
            id: jc.add_system("PC-2"),
            root: bed2.path().to_path_buf(),
        },
        // A plain folder: no NTFS descriptors, so this device's preflight fails.
        Device {
            id: jc.add_system("PC-3"),
            root: plain_sample(scratch.path(), "pc3"),
        },
    ];
    let sid = bed1.alice_sid();
    let mut rows = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        install_agent(&d.root, &jc, &d.id);
        jc.add_insight_user(
            &d.id,
            "Administrator",
            "S-1-5-21-3132172802-1732127179-1780359642-500",
            "local",
        );
        jc.add_insight_user(&d.id, "alice", &sid, "roaming");
        rows.push([
            sid.clone(),
            r"C:\Users\alice".to_owned(),
            format!("PC-{}", i + 1),
            "alice".into(),
            "alice".into(),
            String::new(),
            d.id.clone(),
            String::new(),
        ]);
        if i == 0 {
            // Two users on PC-1, migrated one after the other.
            jc.add_insight_user(&d.id, "AzureAD\\bob", &bed1.user_sid(1), "roaming");
            rows.push([
                bed1.user_sid(1),
                r"C:\Users\bob".to_owned(),
                "PC-1".into(),
                "bob".into(),
                "bob".into(),
                String::new(),
                d.id.clone(),
                String::new(),
            ]);
        }
    }
    let rows: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect();
    let file = scratch.path().join("devices.csv");
    std::fs::write(&file, csv(&rows)).expect("write CSV");
    let name = file.to_str().expect("utf-8");

    // Dry run: the text and the systems, nothing sent.
    let out = fleet(
        &[
            "run",
            "--csv",
            name,
            "--jc-bind",
            "--jc-primary-user",
            "--leave-domain",
            "--reboot",
            "--dry-run",
        ],
        &jc,
    );
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("--jc-system-context") && text.contains(r"C:\Program Files\admu\admu.exe"),
        "{text}"
    );
    assert!(text.contains("'--leave-domain','--reboot=30'"), "{text}");
    assert!(!text.contains(&jc.api_key()), "no API key in the command");
    assert!(jc.commands().is_empty(), "a dry run sends nothing");

    // The run: one Windows command, bound to the three systems, run on them.
    let out = fleet(
        &["run", "--csv", name, "--jc-bind", "--jc-primary-user"],
        &jc,
    );
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let commands = jc.commands();
    assert_eq!(commands.len(), 1);
    let c = &commands[0];
    assert_eq!(
        (c.name(), &c.body["commandType"], &c.body["shell"]),
        ("admu fleet", &json!("windows"), &json!("powershell"))
    );
    assert!(!c.text().contains(&jc.api_key()) && c.text().contains("RandomNumberGenerator"));
    let mut bound = jc.command_systems(&c.id);
    bound.sort();
    let mut ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    assert_eq!(bound, ids);
    let (code, s) = status_json(&jc);
    assert_eq!((code, s["totals"]["pending"].as_u64()), (3, Some(4)), "{s}");
    // A device that has started: InProgress, still exit 3.
    jc.update_system(&devices[1].id, |s| {
        if let Some(d) = &s.description {
            s.description = Some(d.replace("\"Pending\"", "\"InProgress\""));
        }
    });
    let (code, s) = status_json(&jc);
    assert_eq!(
        (code, s["totals"]["in_progress"].as_u64()),
        (3, Some(1)),
        "{s}"
    );

    // The devices run it: two complete, the plain folder fails with its reason.
    let volumes: Vec<(&str, &Path)> = devices
        .iter()
        .map(|d| (d.id.as_str(), d.root.as_path()))
        .collect();
    let ran = play_devices(&jc, &volumes);
    assert_eq!(ran.len(), 3);
    let (code, s) = status_json(&jc);
    assert_eq!(code, 1, "a device failed: {s}");
    assert_eq!(
        (
            s["totals"]["complete"].as_u64(),
            s["totals"]["error"].as_u64()
        ),
        (Some(3), Some(1)),
        "{s}"
    );
    let failed = s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["state"] == "Error")
        .expect("an Error row");
    assert_eq!(failed["hostname"], "PC-3");
    assert!(
        failed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NTFS security descriptors"),
        "{failed}"
    );
    let out = fleet(&["status"], &jc);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains("4 total: 3 complete, 0 in progress, 0 pending, 1 error"),
        "{table}"
    );
    // What a device writes is shown, never acted on by the admin's terminal.
    jc.update_system(&devices[2].id, |s| {
        if let Some(d) = &s.description {
            s.description = Some(d.replace(
                "NTFS security descriptors",
                "NTFS security descriptors\\u001b]0;owned\\u0007\\u001b[2J",
            ));
        }
    });
    let out = fleet(&["status"], &jc);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !table.contains('\u{1b}') && table.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"),
        "{table}"
    );
    // PC-1 migrated alice, then bob (the last bind makes bob its primary user).
    for (d, primary) in devices[..2].iter().zip([&bob, &alice]) {
        let state = jc.system(&d.id);
        assert_eq!(state.attribute("admu"), Some(&json!("Complete")));
        assert_eq!(state.primary_user.as_deref(), Some(primary.as_str()));
    }
    let assoc = jc.associations();
    for user in [&alice, &bob] {
        assert!(
            assoc
                .iter()
                .any(|a| &a.user_id == user && a.system_id == devices[0].id)
        );
    }
    assert_eq!(
        jc.system(&devices[2].id).attribute("admu"),
        Some(&json!("Error"))
    );

    // Re-run: the completed devices are skipped; only PC-3 is run again.
    let out = fleet(
        &["run", "--csv", name, "--jc-bind", "--jc-primary-user"],
        &jc,
    );
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .matches("already Complete")
            .count()
            == 3,
        "{}",
        shown(&out)
    );
    assert_eq!(jc.commands().len(), 1, "the command is updated by name");
    let runs = jc.take_runs();
    assert_eq!(
        runs.iter()
            .map(|r| r.system_id.as_str())
            .collect::<Vec<_>>(),
        [devices[2].id.as_str()]
    );
    let parsed = fleet::parse::parse(&runs[0].text).expect("parse");
    assert_eq!(parsed.jobs.len(), 1, "the script holds PC-3 only");
    let (code, s) = status_json(&jc);
    assert_eq!(
        (code, s["totals"]["pending"].as_u64()),
        (3, Some(1)),
        "PC-3 is Pending again: {s}"
    );
    jc.assert_no_violations();
}

#[test]
fn report_then_migrate_from_description() {
    let test = "report_then_migrate_from_description";
    let Some(bed) = Bed::new(test, Some(10)) else {
        return;
    };
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let alice = jc.add_user("alice", None);
    install_agent(bed.path(), &jc, &system);
    let url = jc.url().to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_admu"))
            .args(args)
            .args(["--root", bed.r(), "--jc-url", &url])
            .env_remove("JC_API_KEY")
            .env("NO_COLOR", "1")
            .output()
            .expect("run admu")
    };
    let out = run(&["report", "--jc-report-status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let state = jc.system(&system);
    let d = state.description_json().expect("a JSON description");
    let entries = d.as_array().expect("entries");
    assert_eq!(entries.len(), 2, "alice and bob: {d}");
    assert!(
        entries.iter().all(|e| e["st"] == "Skip"
            && e["localPath"]
                .as_str()
                .is_some_and(|p| p.starts_with("C:/Users/"))),
        "{d}"
    );
    assert_eq!(state.attribute("admu"), Some(&json!("Pending")));
    // Discovery sees them, from the description.
    let found = json_of(&fleet(&["discover", "--json"], &jc), "discover");
    assert_eq!(found.as_array().map(Vec::len), Some(2), "{found}");
    assert_eq!(found[0]["source"], "description");

    // The admin marks alice Pending; the device migrates it, bound as her.
    let sid = bed.alice_sid();
    jc.update_system(&system, |s| {
        let mut d: Json = s
            .description
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Json::Null);
        if let Some(items) = d.as_array_mut() {
            for e in items.iter_mut().filter(|e| e["sid"] == sid.as_str()) {
                e["st"] = json!("Pending");
                e["un"] = json!("alice");
                e["uid"] = json!(alice);
            }
        }
        s.description = Some(d.to_string());
    });
    let out = run(&["migrate", "--from-description", "--jc-report-status"]);
    expect_exit(&out, 2, "needs system context", "--jc-system-context");
    let out = run(&[
        "migrate",
        "--from-description",
        "--jc-system-context",
        "--jc-report-status",
        "--jc-bind",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let state = jc.system(&system);
    let d = state.description_json().expect("JSON");
    let entry = d
        .as_array()
        .and_then(|a| a.iter().find(|e| e["sid"] == sid.as_str()).cloned())
        .expect("alice");
    assert_eq!(entry["st"], "Complete", "{d}");
    assert!(
        jc.associations()
            .iter()
            .any(|a| a.user_id == alice && a.system_id == system)
    );
    let (code, s) = status_json(&jc);
    assert_eq!(
        (code, s["totals"]["complete"].as_u64()),
        (0, Some(1)),
        "{s}"
    );
    let out = fleet(&["status", "--watch", "--interval", "1"], &jc);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1/1 done"),
        "{}",
        shown(&out)
    );
    // Nothing is Pending any more: a second run does nothing.
    let out = run(&["migrate", "--from-description", "--jc-system-context"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    jc.assert_no_violations();
}
