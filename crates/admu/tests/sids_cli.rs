//! `admu sids` on the sample volume finds every place the sample planted the user's SID,
//! and nothing for a SID that is not there.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::process::Command;

use serde_json::Value as Json;

fn admu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .args(args)
        .output()
        .expect("run admu")
}

fn json(args: &[&str]) -> Json {
    let out = admu(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn sids_finds_every_planted_place_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("vol");
    let r = root.to_str().expect("UTF-8");
    let report = json(&[
        "sample", "create", r, "--seed", "3", "--files", "20", "--json",
    ]);
    let alice = report["users"][0]["sid"].as_str().expect("alice's SID");
    let rows = json(&["sids", "--root", r, "--sid", alice, "--json"]);
    let rows = rows.as_array().expect("rows");
    let has = |area: &str, what: &str, location_part: &str| {
        rows.iter().any(|p| {
            p["area"].as_str().is_some_and(|a| a.starts_with(area))
                && p["what"] == what
                && p["location"]
                    .as_str()
                    .is_some_and(|l| l.contains(location_part))
        })
    };
    let profile_list = format!(r"ProfileList\{alice}");
    let expected = [
        ("SOFTWARE", "key_name", profile_list.as_str()),
        ("SOFTWARE", "binary_sid", profile_list.as_str()),
        ("SOFTWARE", "key_name", r"Installer\UserData"),
        ("SOFTWARE", "key_name", r"AppxAllUserStore"),
        ("SOFTWARE", "key_name", r"TaskCache\Tree"),
        ("SOFTWARE", "string_data", r"ProfileGuid"),
        ("SOFTWARE", "value_name", r"LogonUI\UserTile"),
        ("NTUSER.DAT of CORP\\alice", "key_descriptor", ""),
        ("UsrClass.dat of CORP\\alice", "key_name", "_Classes"),
        (
            "UsrClass.dat of CORP\\alice",
            "binary_sid",
            "ActivatableClasses",
        ),
        ("task", "task_principal", r"Windows\System32\Tasks"),
        // A machine key granted to alice, and her user rights (SECURITY).
        ("SOFTWARE", "key_descriptor", r"Contoso\FieldSync"),
        ("SOFTWARE", "key_descriptor", r"Contoso\FieldSync\Settings"),
        ("SECURITY", "key_name", r"Policy\Accounts"),
        ("SECURITY", "binary_sid", r"Policy\Accounts"),
        ("file", "file_name", "$Recycle.Bin"),
    ];
    for (area, what, location) in expected {
        assert!(
            has(area, what, location),
            "no {what} row in {area} at {location}: {rows:#?}"
        );
    }
    for row in rows {
        assert!(row["count"].as_u64().is_some_and(|n| n > 0), "{row}");
    }
    // Every key-name row really holds the SID in its path.
    for row in rows.iter().filter(|p| p["what"] == "key_name") {
        let loc = row["location"].as_str().unwrap_or_default().to_lowercase();
        assert!(loc.contains(&alice.to_lowercase()), "{row}");
    }
    // A SID no one has: no rows.
    let none = json(&[
        "sids",
        "--root",
        r,
        "--sid",
        "S-1-5-21-1-2-3-4242",
        "--json",
    ]);
    assert_eq!(none, serde_json::json!([]));
    // What cannot be carried is said before anything changes.
    let out = admu(&[
        "check",
        "--root",
        r,
        "--from",
        r"CORP\alice",
        "--to",
        "alice2",
        "--json",
    ]);
    let pre: Json = serde_json::from_slice(&out.stdout).expect("check JSON");
    let notes: Vec<&str> = pre["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter_map(|n| n["what"].as_str())
        .collect();
    assert!(notes.contains(&"DPAPI master keys"), "{notes:?}");
    let bad = admu(&["sids", "--root", r, "--sid", "S-1-x"]);
    assert_eq!(bad.status.code(), Some(2), "a bad --sid is a usage error");
}
