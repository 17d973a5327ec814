//! `admu list` on the sample volume gives exactly the rows the sample was built with.
#![cfg(test)]

use std::process::Command;

fn admu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

#[test]
fn list_on_the_sample_volume_gives_the_expected_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vol");
    let made = admu(&[
        "sample",
        "create",
        root.to_str().unwrap(),
        "--seed",
        "11",
        "--files",
        "40",
        "--json",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();

    let out = admu(&["list", "--root", root.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, String, String, bool, Vec<String>)> = rows
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_string(),
                r["account_source"].as_str().unwrap_or("-").to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["local_admin"].as_bool().unwrap(),
                r["states"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let mut got = summary.clone();
    got.sort();
    let s = |x: &str| x.to_string();
    let mut want = vec![
        (
            s(r"AzureAD\bob"),
            s("IdentityStore"),
            s("entra"),
            false,
            vec![s("ok")],
        ),
        (
            s(r"CORP\alice"),
            s("GroupPolicy"),
            s("domain"),
            false,
            vec![s("temp"), s("missing-folder")],
        ),
        (
            s(r"CORP\alice"),
            s("GroupPolicy"),
            s("domain"),
            false,
            vec![s("bak")],
        ),
        (s("carol"), s("Sam"), s("local"), true, vec![s("ok")]),
    ];
    want.sort();
    assert_eq!(got, want, "rows: {rows:#?}");

    // The SIDs are the ones the sample was built with.
    let users = report["users"].as_array().unwrap();
    for u in users {
        let sid = u["sid"].as_str().unwrap();
        assert!(rows.iter().any(|r| r["sid"] == sid), "{sid} not listed");
    }

    // Service profiles only with --all; sizes with --size.
    let all = admu(&[
        "list",
        "--root",
        root.to_str().unwrap(),
        "--json",
        "--all",
        "--size",
    ]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(all.len(), rows.len() + 3);
    let carol = all.iter().find(|r| r["account"] == "carol").unwrap();
    assert!(carol["size"].as_u64().unwrap() > 0);
}

#[test]
fn info_reads_the_sample_machines_name_domain_and_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vol");
    let made = admu(&[
        "sample",
        "create",
        root.to_str().unwrap(),
        "--seed",
        "5",
        "--files",
        "10",
        "--json",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let out = admu(&["info", "--root", root.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &info["machine"];
    assert_eq!(m["computer_name"], report["computer_name"]);
    // The sample is hybrid: "CORP (corp.example.com)" and "<tenant domain> (<id>)".
    let domain = report["domain"].as_str().unwrap();
    let tenant = report["tenant"].as_str().unwrap();
    assert_eq!(
        format!(
            "{} ({})",
            m["ad_domain"].as_str().unwrap(),
            m["ad_dns_domain"].as_str().unwrap()
        ),
        domain
    );
    assert!(
        tenant.ends_with(&format!("({})", m["entra_tenant_id"].as_str().unwrap())),
        "{tenant} vs {m}"
    );
    assert!(
        info["join"]
            .as_str()
            .unwrap()
            .starts_with("hybrid: AD domain"),
        "{info}"
    );
    assert_eq!(info["migrations"], serde_json::json!([]));
}
