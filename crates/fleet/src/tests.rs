//! Tests of the pure parts together: discovery, plan, script, parse.

use jumpcloud::{InsightUser, System, SystemUser};
use serde_json::json;

use crate::plan::Action;
use crate::script::{ExeSource, ScriptOptions, jobs, render, split};
use crate::{Inventory, discover, parse, plan};

const ALICE: &str = "S-1-5-21-1-2-3-1104";
const BOB: &str = "S-1-12-1-5-6-7-8";

fn system(id: &str, host: &str, os: &str, desc: Option<&str>) -> System {
    let mut v =
        json!({"_id": id, "hostname": host, "os": os, "serialNumber": format!("SN-{host}")});
    if let Some(d) = desc {
        v["description"] = json!(d);
    }
    System::from_json(v).unwrap()
}

fn iu(system: &str, name: &str, sid: &str, kind: &str) -> InsightUser {
    InsightUser {
        system_id: system.into(),
        username: name.into(),
        uuid: sid.into(),
        kind: kind.into(),
        directory: format!(r"C:\Users\{name}"),
        ..InsightUser::default()
    }
}

fn user(id: &str, name: &str, local: Option<&str>) -> SystemUser {
    SystemUser {
        id: id.into(),
        username: name.into(),
        system_username: local.map(str::to_owned),
    }
}

fn inventory() -> Inventory {
    Inventory {
        systems: vec![
            system("s1", "PC-1", "Windows", None),
            system(
                "s2",
                "PC-2",
                "Windows",
                Some(r#"[{"sid":"S-1-5-21-1-2-3-1105","un":"dave","st":"Complete"}]"#),
            ),
            system("m1", "MAC-1", "Mac OS X", None),
        ],
        insight: vec![
            iu("s1", "Administrator", "S-1-5-21-9-9-9-500", "local"),
            iu("s1", "carol", "S-1-5-21-9-9-9-1001", "local"),
            iu("s1", "alice", ALICE, "roaming"),
            iu("s1", "bob", BOB, "roaming"),
            iu("s2", "Administrator", "S-1-5-21-8-8-8-500", "local"),
            iu("s2", "dave", "S-1-5-21-1-2-3-1105", "roaming"),
        ],
        users: vec![
            user("u1", "alice", None),
            user("u2", "bob.smith", Some("bob")),
            user("u3", "carol", None),
            user("u4", "dave", None),
        ],
    }
}

const HEAD: &str = "SID,LocalPath,LocalComputerName,LocalUsername,JumpCloudUserName,JumpCloudUserID,JumpCloudSystemID,SerialNumber\n";

#[test]
fn discovery_prefills_users() {
    let d = discover(&inventory());
    let rows: Vec<(&str, &str, &str)> = d
        .iter()
        .map(|d| {
            (
                d.row.sid.as_str(),
                d.row.jump_cloud_user_name.as_str(),
                d.row.local_username.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (ALICE, "alice", "alice"),
            (BOB, "", "bob"),
            ("S-1-5-21-1-2-3-1105", "dave", "dave")
        ]
    );
    assert_eq!(d[0].row.jump_cloud_user_id, "u1");
    assert_eq!(d[0].row.serial_number, "SN-PC-1");
    assert_eq!(d[2].source, "both");
    assert_eq!(d[2].state.as_deref(), Some("Complete"));
}

#[test]
fn plan_accepts_a_good_csv_and_skips_completed() {
    let csv = format!(
        "{HEAD}{ALICE},C:\\Users\\alice,PC-1,alice,alice,,s1,\n{BOB},C:\\Users\\bob,PC-1,bob,bob.smith,u2,s1,\nS-1-5-21-1-2-3-1105,,PC-2,dave,dave,,s2,\nS-1-5-21-1-2-3-1200,,PC-2,x,,,s2,\n"
    );
    let p = plan::plan("d.csv", &csv, &inventory()).unwrap();
    assert_eq!(p.devices.len(), 2);
    assert_eq!(p.devices[0].rows[0].row.jump_cloud_user_id, "u1");
    assert_eq!(p.devices[1].rows[0].action, Action::AlreadyComplete);
    assert_eq!(p.devices[1].rows[1].action, Action::NotSelected);
    assert_eq!(p.migrations(), 2);
    assert_eq!(p.active().count(), 1);
}

#[test]
fn plan_reports_every_kind_of_error() {
    let csv = format!(
        "{HEAD}\
         not-a-sid,,PC-1,alice,alice,,s1,\n\
         {ALICE},,PC-1,alice,alice,,s1,\n\
         {ALICE},,PC-1,alice2,alice,,s1,\n\
         {BOB},,PC-1,bob,nobody,,s1,\n\
         S-1-5-21-1-2-3-1300,,PC-1,carol,carol,,s1,\n\
         S-1-5-21-1-2-3-1301,,PC-1,bad/name,alice,,s1,\n\
         S-1-5-21-1-2-3-1302,,MAC-1,x,alice,,m1,\n\
         S-1-5-21-1-2-3-1303,,PC-9,x,alice,,nope,\n\
         S-1-5-21-1-2-3-1304,,PC-1,bob,bob.smith,u9,s1,\n\
         S-1-5-21-1-2-3-1305,,PC-2,alice,alice,,s1,\n\
         S-1-5-21-1-2-3-1306,,PC-1,...,alice,,s1,\n\
         S-1-5-21-1-2-3-1307,,PC-1,abcdefghijklmnopqrstuvwxyz,alice,,s1,\n"
    );
    let problems = plan::plan("d.csv", &csv, &inventory()).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |prefix: &str, says: &str| {
        assert!(
            text.iter()
                .any(|t| t.starts_with(prefix) && t.contains(says)),
            "no {prefix} … {says} in {text:#?}"
        );
    };
    has("d.csv:2:1:", "not a domain");
    has("d.csv:4:1:", "appears again");
    has("d.csv:4:", "alice2");
    has("d.csv:5:", "no JumpCloud user is named \"nobody\"");
    has("d.csv:6:", "already a local account");
    has("d.csv:7:", "Windows refuses");
    has("d.csv:8:", "not Windows");
    has("d.csv:9:", "JumpCloud has no system nope");
    has("d.csv:10:", "has the id u2, not u9");
    has("d.csv:11:", "PC-1 in JumpCloud, not PC-2");
    has("d.csv:12:", "only dots");
    has("d.csv:13:", "at most 20");
    has("d.csv:3:", "new name of another profile");
    let col = problems.iter().find(|p| p.line == 7).map(|p| p.column);
    assert_eq!(col, Some(27), "the LocalUsername column of line 7");
    let missing = plan::plan("d.csv", "SID,LocalUsername\n", &inventory()).unwrap_err();
    assert!(missing[0].to_string().contains("header"));
}

fn options(exe: ExeSource) -> ScriptOptions {
    ScriptOptions {
        name: "admu fleet".into(),
        api: vec!["--jc-region".into(), "eu".into()],
        bind: true,
        admin: true,
        primary_user: false,
        logoff: false,
        leave_domain: true,
        reboot: Some(30),
        exe,
    }
}

#[test]
fn script_holds_no_secret_and_reads_back() {
    let csv = format!("{HEAD}{ALICE},,PC-1,alice,alice,,s1,\n{BOB},,PC-1,bob,bob.smith,,s1,\n");
    let p = plan::plan("d.csv", &csv, &inventory()).unwrap();
    let o = options(ExeSource::Download {
        url: "https://files.example.com/admu.exe".into(),
        sha256: "ab".repeat(32),
    });
    let text = render(&o, "admu fleet", &jobs(&p));
    assert!(text.contains(&"AB".repeat(32)));
    assert!(text.contains("Get-FileHash -Algorithm SHA256"));
    assert!(!text.to_lowercase().contains("api-key"));
    let parsed = parse::parse(&text).unwrap();
    let inv = parsed.invocations("s1");
    assert_eq!(inv.len(), 2);
    assert_eq!(inv[0][..3], ["migrate", "--from", ALICE]);
    assert!(inv[0].contains(&"--jc-system-context".to_owned()));
    assert!(
        !inv[0].contains(&"--leave-domain".to_owned()),
        "only the last"
    );
    assert!(inv[1].ends_with(&["--leave-domain".to_owned(), "--reboot=30".to_owned()]));
    assert!(parsed.invocations("s2").is_empty());
    // Downloaded into a folder users cannot create files in, under a random name.
    assert!(text.contains(r"$dir = 'C:\Program Files\admu\fleet'"));
    assert!(!text.contains(r"Windows\Temp"));
    // The device goes by its system key only.
    assert!(!text.contains("COMPUTERNAME -eq") && !text.contains("-ne $env:COMPUTERNAME"));
    let installed = render(&options(ExeSource::Installed), "n", &jobs(&p));
    assert!(installed.contains(r"'C:\Program Files\admu\admu.exe'"));
}

#[test]
fn quoting_cannot_be_escaped() {
    let q = crate::script::ps_quote("a'b");
    assert_eq!(q, "'a''b'");
    // Non-ASCII text (here a right single quote and a letter whose UTF-8 holds the
    // byte cp1252 reads as one) goes in as base64: the script is ASCII only.
    let tricky = "jos\u{e9}\u{2019}; Remove-Item C:\\ \u{112}";
    let encoded = crate::script::ps_quote(tricky);
    assert!(encoded.is_ascii(), "{encoded}");
    assert!(encoded.starts_with("([Text.Encoding]::UTF8.GetString("));
    let line = format!("@({q},{encoded},'x')");
    assert_eq!(parse::quoted_strings(&line).unwrap(), ["a'b", tricky, "x"]);
    let text = render(
        &options(ExeSource::Installed),
        "x\nRemove-Item C:\\ \u{2019}",
        &[],
    );
    assert!(
        !text.contains("\nRemove-Item"),
        "the name stays in its comment"
    );
    assert!(text.is_ascii());
}

#[test]
fn splits_under_the_limit() {
    let many: Vec<crate::script::Job> = (0..300)
        .map(|i| crate::script::Job {
            system_id: format!("{i:024x}"),
            hostname: format!("DESKTOP-{i:05}"),
            runs: vec![vec![
                "--from".into(),
                format!("S-1-5-21-1111111111-2222222222-3333333333-{i}"),
                "--to".into(),
                "someone".into(),
                "--jc-user".into(),
                "someone".into(),
                "--jc-user-id".into(),
                "0".repeat(24),
            ]],
        })
        .collect();
    let o = options(ExeSource::Installed);
    let scripts = split(&o, &many).unwrap();
    assert!(scripts.len() >= 2, "{}", scripts.len());
    assert_eq!(scripts[1].name, "admu fleet (2)");
    let mut all = Vec::new();
    for s in &scripts {
        assert!(s.text.chars().count() <= jumpcloud::COMMAND_TEXT_LIMIT);
        let parsed = parse::parse(&s.text).unwrap();
        assert_eq!(parsed.jobs.len(), s.system_ids.len());
        all.extend(s.system_ids.clone());
    }
    assert_eq!(all.len(), 300);
    let huge = vec![crate::script::Job {
        system_id: "x".into(),
        hostname: "X".into(),
        runs: vec![vec!["y".repeat(40_000)]],
    }];
    assert!(split(&o, &huge).unwrap_err().contains("alone"));
}

#[test]
fn passwords_are_random_and_complex() {
    let a = crate::random_password().unwrap();
    let b = crate::random_password().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    assert!(a.ends_with("aA1!"));
}
