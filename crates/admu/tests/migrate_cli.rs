//! `admu check|migrate|revert|recover` end to end, on the NTFS test bed (a sample volume
//! made by `admu sample create` on an ntfs-3g mount), driving the real binary.
//!
//! What "the volume is as before" means here ([`Snapshot`]): every hive's exported
//! content (`admu hive export --format json`: the machine hives and every user's
//! NTUSER.DAT/UsrClass.dat) and its raw bytes (with its logs), every file's and
//! folder's security descriptor (`system.ntfs_acl`; admu's own `ProgramData\admu` is
//! left out), the set of paths on the volume, the SAM's users and groups
//! (`admu accounts --json`) and the ProfileList (`admu list --all --json`).
//!
//! - crash at every journal point (`ADMU_FAILPOINT=N` aborts after the N-th record),
//!   then `admu recover` (run twice, as after a crash during recovery) restores it all;
//! - migrate then revert is the identity; a second migrate and a revert of a profile
//!   never migrated are refused and change nothing;
//! - after a migrate, tools we did not write judge the result: hivex and regipy (both
//!   user hives, every key and value), `ntfssecaudit` (every descriptor of the profile),
//!   impacket's secretsdump (the new account and its NT hash), and the UserChoice
//!   hashes verify for the new SID;
//! - `--acl-mode add`, `--to-existing`, and bad input on every flag, including a hive
//!   found corrupt mid-run (rolled back, the error names the file).
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value as Json;

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Crash at every journal point
// ---------------------------------------------------------------------------------------

/// Aborts `migrate` after its 1st, 2nd, … journal record until a run completes; after
/// each abort, `admu recover` (and a second `recover`, as after a crash during the
/// first) must give back exactly `before`. The completed run is reverted and compared
/// too. Returns the crash points covered and the completed run's journal.
fn crash_at_every_point(
    bed: &mut Bed,
    migrate: &[String],
    account: &str,
    label: &str,
) -> (usize, Vec<Json>) {
    let args = strs(migrate);
    let root = bed.r().to_string();
    let before = bed.snapshot();
    let mut covered = 0usize;
    let mut n = 0usize;
    loop {
        n += 1;
        assert!(n <= 64, "{label}: still aborting at failpoint {n}");
        let known = journal_dirs(bed.path());
        let out = admu_with(&args, &[("ADMU_FAILPOINT", &n.to_string())]);
        if out.status.success() {
            // Past the last record: a complete migration.
            let dir = new_journal(bed.path(), &known);
            let records = journal_records(&dir);
            assert_eq!(
                records.len(),
                n - 1,
                "{label}: a complete run writes {} records, but failpoint {} did not fire",
                records.len(),
                n - 1
            );
            assert_eq!(
                records.last().map(|r| &r["phase"]),
                Some(&Json::from("commit"))
            );
            let migrated = bed.snapshot();
            assert!(
                !differences(&before, &migrated).is_empty(),
                "{label}: the migration changed nothing"
            );
            expect_ok(
                admu(&["revert", "--root", &root, "--name", account]),
                "revert the complete run",
            );
            assert_same(
                &before,
                &bed.snapshot(),
                &format!("{label}: migrate then revert"),
            );
            return (covered, records);
        }
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "{label}: failpoint {n}: expected the process to abort: {}",
            shown(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("failpoint {n} reached")),
            "{label}: failpoint {n}: {}",
            shown(&out)
        );
        let dir = new_journal(bed.path(), &known);
        let records = journal_records(&dir);
        assert_eq!(records.len(), n, "{label}: failpoint {n}: journal records");
        let last = &records[n - 1];
        let point = format!("crash point {n} ({})", point_name(last));
        let committed = last["phase"] == "commit";
        if !committed {
            let again = admu(&args);
            expect_exit(
                &again,
                3,
                &format!("{label}: {point}: migrate again before recover"),
                "run `admu recover` first",
            );
        }
        // What is on the image, not in ntfs-3g's caches of the dead process's writes.
        bed.remount();
        let rec = expect_ok(
            admu(&["recover", "--root", &root]),
            &format!("{label}: {point}: recover"),
        );
        let says = String::from_utf8_lossy(&rec.stdout).into_owned();
        if committed {
            // The migration was complete: nothing to roll back; revert undoes it.
            assert!(
                says.contains("Nothing to recover"),
                "{label}: {point}: {says}"
            );
            expect_ok(
                admu(&["revert", "--root", &root, "--name", account]),
                &format!("{label}: {point}: revert"),
            );
            assert_same(
                &before,
                &bed.snapshot(),
                &format!("{label}: {point}, then revert"),
            );
        } else {
            assert!(
                says.contains("Rolled back unfinished migration"),
                "{label}: {point}: {says}"
            );
            let recovered = journal_records(&dir);
            assert_eq!(
                recovered.last().map(|r| (&r["phase"], &r["kind"])),
                Some((&Json::from("undo_end"), &Json::from("rollback"))),
                "{label}: {point}: the rollback is journaled"
            );
            assert_same(
                &before,
                &bed.snapshot(),
                &format!("{label}: {point}, then recover"),
            );
            // Recovery interrupted after undoing everything but before recording it:
            // the next `recover` must find nothing left to do, and break nothing.
            drop_last_record(&dir);
            let rec = expect_ok(
                admu(&["recover", "--root", &root]),
                &format!("{label}: {point}: recover again"),
            );
            assert!(
                String::from_utf8_lossy(&rec.stdout).contains("Rolled back"),
                "{label}: {point}: {}",
                shown(&rec)
            );
            assert_same(
                &before,
                &bed.snapshot(),
                &format!("{label}: {point}, then recover twice"),
            );
        }
        covered += 1;
    }
}

/// A crash in the middle of the tree step, with the unsynced tail of the descriptor log
/// lost: the first third of the files changed and logged, the second third changed but
/// its log entries lost (the last one torn), the rest not reached yet.
fn crash_mid_tree(bed: &mut Bed, migrate: &[String], tree_done: usize, label: &str) {
    let args = strs(migrate);
    let before = bed.snapshot();
    let known = journal_dirs(bed.path());
    let out = admu_with(&args, &[("ADMU_FAILPOINT", &tree_done.to_string())]);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{label}: {}",
        shown(&out)
    );
    let dir = new_journal(bed.path(), &known);
    let records = journal_records(&dir);
    assert_eq!(point_name(&records[tree_done - 1]), "after tree done");
    // The process died during the tree step: no `tree done` record.
    drop_last_record(&dir);
    let log = dir.join("backup/acl.jsonl");
    let text = std::fs::read_to_string(&log).expect("read the descriptor log");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 30,
        "{label}: only {} descriptors changed",
        lines.len()
    );
    let third = lines.len() / 3;
    // Not reached yet: put the descriptors of the last third back.
    for line in &lines[2 * third..] {
        let entry: Json = serde_json::from_str(line).expect("log entry");
        let rel = entry["p"].as_str().expect("path").replace('\\', "/");
        let Some(Ok(sd)) = before.descriptors.get(&rel) else {
            panic!("{label}: {rel} had no descriptor before");
        };
        testbed::write_ntfs_acl(&bed.path().join(&rel), sd).expect("put a descriptor back");
    }
    let torn = &lines[third][..lines[third].len() / 2];
    std::fs::write(&log, format!("{}\n{torn}", lines[..third].join("\n"))).expect("cut the log");
    bed.remount();
    let rec = expect_ok(
        admu(&["recover", "--root", bed.r()]),
        &format!("{label}: recover"),
    );
    assert!(
        String::from_utf8_lossy(&rec.stdout).contains("Rolled back"),
        "{label}: {}",
        shown(&rec)
    );
    assert_same(&before, &bed.snapshot(), &format!("{label}: recover"));
}

#[test]
fn crash_at_every_journal_point_then_recover_restores_the_volume() {
    let test = "crash_at_every_journal_point_then_recover_restores_the_volume";
    let Some(mut bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    let args = bed.migrate_args("alice", &[]);
    let (covered, records) = crash_at_every_point(&mut bed, &args, "alice", "new account");
    let steps: Vec<String> = records.iter().map(point_name).collect();
    for want in [
        "after begin",
        "after account done",
        "after ntuser done",
        "after usrclass done",
        "after tree done",
        "after profile_list done",
        "after logon_ui done",
        "after user_rights done",
        "after software_descriptors done",
        "after commit",
    ] {
        assert!(
            steps.iter().any(|s| s == want),
            "no point {want}: {steps:?}"
        );
    }
    assert_eq!(covered, records.len(), "one crash point per journal record");

    // Crashes inside the tree step, whose descriptor log is not synced per entry when
    // the SID is brand new: replace and add mode.
    let tree_done = 1 + steps
        .iter()
        .position(|s| s == "after tree done")
        .expect("tree done");
    crash_mid_tree(&mut bed, &args, tree_done, "mid-tree crash, replace mode");
    let add = bed.migrate_args("alice", &["--acl-mode", "add"]);
    crash_mid_tree(&mut bed, &add, tree_done, "mid-tree crash, add mode");
    eprintln!(
        "{test}: crash points covered: {} ({covered} journal points: {}; 2 mid-tree with a lost log tail) in {:.1?}",
        covered + 2,
        steps.join(", "),
        started.elapsed()
    );
}

#[test]
fn crash_at_every_journal_point_with_dpapi_then_recover_restores_the_volume() {
    let test = "crash_at_every_journal_point_with_dpapi_then_recover_restores_the_volume";
    let Some(mut bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let started = Instant::now();
    let args = bed.migrate_args("alice", &["--dpapi"]);
    let (covered, records) = crash_at_every_point(&mut bed, &args, "alice", "with --dpapi");
    let steps: Vec<String> = records.iter().map(point_name).collect();
    for want in ["after dpapi intent", "after dpapi done"] {
        assert!(steps.iter().any(|s| s == want), "{want}: {steps:?}");
    }
    assert_eq!(covered, records.len());
    eprintln!(
        "{test}: crash points covered: {covered} ({}) in {:.1?}",
        steps.join(", "),
        started.elapsed()
    );
}

#[test]
fn crash_at_every_journal_point_with_an_existing_account_admin_and_add_mode() {
    let test = "crash_at_every_journal_point_with_an_existing_account_admin_and_add_mode";
    let Some(mut bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    expect_ok(
        admu(&[
            "accounts",
            "add",
            "--root",
            bed.r(),
            "--name",
            "alice_local",
            "--password-env",
            PASSWORD_VAR,
        ]),
        "admu accounts add",
    );
    let args = bed.migrate_args(
        "alice_local",
        &[
            "--to-existing",
            "--admin",
            "--acl-mode",
            "add",
            "--no-default-user",
        ],
    );
    let (covered, records) =
        crash_at_every_point(&mut bed, &args, "alice_local", "existing account");
    let steps: Vec<String> = records.iter().map(point_name).collect();
    assert!(
        steps.iter().any(|s| s == "after groups done"),
        "--admin on an existing account adds it to Administrators: {steps:?}"
    );
    assert!(
        !steps
            .iter()
            .any(|s| s.contains("account") || s.contains("logon_ui")),
        "no account created, LogonUI left alone: {steps:?}"
    );
    assert_eq!(covered, records.len());
    eprintln!(
        "{test}: crash points covered: {covered} ({}) in {:.1?}",
        steps.join(", "),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// migrate, revert, and what is refused
// ---------------------------------------------------------------------------------------

#[test]
fn migrate_then_revert_is_the_identity_and_repeats_are_refused() {
    let test = "migrate_then_revert_is_the_identity_and_repeats_are_refused";
    let Some(bed) = Bed::new(test, None) else {
        return;
    };
    let started = Instant::now();
    let r = bed.r().to_string();
    let old = bed.alice_sid();
    let before = bed.snapshot();

    // A dry run and the checks change nothing, not even a journal.
    let dry = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--dry-run"]))),
        "dry run",
    );
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("Dry run: nothing was changed."),
        "{}",
        shown(&dry)
    );
    let check = admu(&[
        "check",
        "--root",
        &r,
        "--from",
        ALICE,
        "--to",
        "alice",
        "--password-env",
        PASSWORD_VAR,
    ]);
    expect_exit(&check, 0, "check", "0 failed");
    assert!(
        journal_dirs(bed.path()).is_empty(),
        "a dry run wrote a journal"
    );
    assert_same(&before, &bed.snapshot(), "dry run and check");

    let out = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--json"]))),
        "migrate",
    );
    let outcome = json_of(&out, "migrate");
    let new = outcome["new_sid"].as_str().expect("new SID").to_string();
    assert_eq!(outcome["old_sid"], old.as_str());
    assert_eq!(outcome["account_created"], true);
    let migrated = bed.snapshot();
    let old_bin = old.parse::<ntsec::Sid>().expect("SID").to_bytes();
    let outside: Vec<&String> = migrated
        .descriptors
        .iter()
        .filter(|(rel, sd)| {
            !under(rel, "Users/alice")
                && (rel.contains(&old)
                    || sd
                        .as_ref()
                        .is_ok_and(|sd| sd.windows(old_bin.len()).any(|w| w == old_bin)))
        })
        .map(|(rel, _)| rel)
        .collect();
    eprintln!("{test}: outside the profile, still named by or for the old SID: {outside:?}");
    let users: Vec<&str> = migrated.accounts["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert!(
        users.contains(&"alice"),
        "the new account is in the SAM: {users:?}"
    );
    let profile = migrated
        .profiles
        .as_array()
        .expect("profiles")
        .iter()
        .find(|p| p["key"] == new.as_str());
    assert_eq!(
        profile.map(|p| &p["path"]),
        Some(&Json::from(r"C:\Users\alice")),
        "ProfileList has the new SID's key for the same folder"
    );

    // Twice: refused, by every way of naming the profile, and nothing changes.
    for (from, to, says) in [
        (ALICE, "alice", "new name is free"),
        (ALICE, "alice2", ".ADMU"),
        (old.as_str(), "alice2", ".ADMU"),
        (
            new.as_str(),
            "alice2",
            "source is a domain or Entra account",
        ),
    ] {
        let again = admu(&[
            "migrate",
            "--root",
            &r,
            "--from",
            from,
            "--to",
            to,
            "--password-env",
            PASSWORD_VAR,
        ]);
        expect_exit(&again, 3, &format!("migrate {from} → {to} again"), says);
    }
    // Revert what was never migrated: refused.
    let carol = bed.user_sid(2);
    let bob = bed.user_sid(1);
    for (flag, who) in [
        ("--name", "carol"),
        ("--name", "bob"),
        ("--name", "nobody"),
        ("--sid", carol.as_str()),
        ("--sid", bob.as_str()),
        ("--sid", old.as_str()),
    ] {
        let out = admu(&["revert", "--root", &r, flag, who]);
        expect_exit(
            &out,
            1,
            &format!("revert {flag} {who}"),
            "nothing to revert",
        );
        let dry = admu(&["revert", "--root", &r, flag, who, "--dry-run"]);
        expect_exit(
            &dry,
            1,
            &format!("revert {flag} {who} --dry-run"),
            "nothing to revert",
        );
    }
    let dry = expect_ok(
        admu(&["revert", "--root", &r, "--name", "alice", "--dry-run"]),
        "revert --dry-run",
    );
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would revert"));
    assert_same(&migrated, &bed.snapshot(), "refused runs");

    expect_ok(admu(&["revert", "--root", &r, "--sid", &new]), "revert");
    assert_same(&before, &bed.snapshot(), "migrate then revert");
    let again = admu(&["revert", "--root", &r, "--name", "alice"]);
    expect_exit(&again, 1, "revert twice", "is reverted");
    let rec = expect_ok(
        admu(&["recover", "--root", &r]),
        "recover with nothing to do",
    );
    assert!(String::from_utf8_lossy(&rec.stdout).contains("Nothing to recover"));

    // After a revert the profile can be migrated again, and reverted again.
    expect_ok(
        admu(&strs(&bed.migrate_args("alice", &[]))),
        "migrate after revert",
    );
    expect_ok(
        admu(&["revert", "--root", &r, "--name", "alice"]),
        "revert again",
    );
    assert_same(&before, &bed.snapshot(), "second migrate then revert");
    eprintln!("{test}: {:.1?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Judged by tools we did not write
// ---------------------------------------------------------------------------------------

/// Replaces whole-SID occurrences of `old` (any letter case) by `new`.
fn replace_sid(text: &str, old: &str, new: &str) -> String {
    let upper = text.to_ascii_uppercase();
    let needle = old.to_ascii_uppercase();
    let (mut out, mut last, mut from) = (String::new(), 0, 0);
    while let Some(pos) = upper[from..].find(&needle) {
        let (start, end) = (from + pos, from + pos + needle.len());
        let before_ok = start == 0 || !matches!(upper.as_bytes()[start - 1], b'0'..=b'9' | b'-');
        let after_ok = upper
            .as_bytes()
            .get(end)
            .is_none_or(|b| !b.is_ascii_digit());
        if before_ok && after_ok {
            out.push_str(&text[last..start]);
            out.push_str(new);
            last = end;
        }
        from = end;
    }
    out.push_str(&text[last..]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// UTF-16LE data (as hex) with the SID text replaced; as it was when not UTF-16.
fn replace_sid_utf16_hex(data: &str, old: &str, new: &str) -> String {
    let bytes = unhex(data);
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let Ok(text) = String::from_utf16(&units) else {
        return data.to_string();
    };
    let mut out: Vec<u8> = replace_sid(&text, old, new)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if bytes.len() % 2 == 1 {
        out.push(bytes[bytes.len() - 1]);
    }
    hex(&out)
}

fn utf16z(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A hive as `tools/oracles/hive_dump.py` (hivex or regipy) lists it:
/// key path → value name → (type, data).
type Dump = BTreeMap<String, BTreeMap<String, (Json, Json)>>;

fn hive_dump(python: &Path, tool: &str, file: &Path) -> Dump {
    let script = testbed::repo_root().join("tools/oracles/hive_dump.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(tool)
        .arg(file)
        .output()
        .expect("run hive_dump.py");
    assert!(
        out.status.success(),
        "{tool} on {}: {}",
        file.display(),
        shown(&out)
    );
    let rows: Json = json_of(&out, tool);
    let mut dump = Dump::new();
    for row in rows.as_array().expect("rows") {
        let path = row["path"].as_str().expect("path").to_string();
        let mut values = BTreeMap::new();
        for v in row["values"].as_array().expect("values") {
            let name = v[0].as_str().expect("value name").to_string();
            values.insert(name, (v[1].clone(), v[2].clone()));
        }
        assert!(
            dump.insert(path.clone(), values).is_none(),
            "{tool}: {path} twice"
        );
    }
    dump
}

/// UserChoice keys and the root key's name, read with hivex: the inputs of the hash.
const USER_CHOICES_PY: &str = r#"
import hivex, json, sys
h = hivex.Hivex(sys.argv[1])
found = []
for root in (r"Software\Microsoft\Windows\CurrentVersion\Explorer\FileExts",
             r"Software\Microsoft\Windows\Shell\Associations\UrlAssociations"):
    node, names = h.root(), []
    for part in root.split("\\"):
        node = h.node_get_child(node, part) if node else None
        if node:
            names.append(h.node_name(node))
    if not node:
        continue
    for ext in h.node_children(node):
        uc = h.node_get_child(ext, "UserChoice")
        if not uc:
            continue
        values = {h.value_key(v).lower(): v for v in h.node_values(uc)}
        if "progid" not in values or "hash" not in values:
            continue
        found.append({
            "key": "\\".join(names + [h.node_name(ext), h.node_name(uc)]),
            "ext": h.node_name(ext),
            "prog_id": h.value_string(values["progid"]),
            "hash": h.value_string(values["hash"]),
            "last_written": h.node_timestamp(uc),
        })
json.dump({"root": h.node_name(h.root()), "user_choices": found}, sys.stdout)
"#;

fn hivex_user_choices(python: &Path, file: &Path) -> (String, Vec<Json>) {
    let out = Command::new(python)
        .args(["-c", USER_CHOICES_PY])
        .arg(file)
        .output()
        .expect("run python");
    assert!(out.status.success(), "hivex UserChoice: {}", shown(&out));
    let v = json_of(&out, "hivex UserChoice");
    (
        v["root"].as_str().expect("root").to_string(),
        v["user_choices"].as_array().expect("list").clone(),
    )
}

fn is_descriptor_value(name: &str, kind: &Json) -> bool {
    (name.eq_ignore_ascii_case("Permissions") || name.eq_ignore_ascii_case("Security"))
        && (kind == &Json::from(3) || kind == &Json::from("REG_BINARY"))
}

/// What a hive dump must look like after the migration: the old SID's text replaced by
/// the new one in key names, value names and string data; binary descriptors stored as
/// values translated; UserChoice hashes as `hashes` says (key path, lowercase → hash).
fn expected_dump(
    before: &Dump,
    hivex: bool,
    old: &str,
    new: &str,
    map: &ntsec::SidMap,
    hashes: &BTreeMap<String, String>,
) -> Dump {
    let mut out = Dump::new();
    for (path, values) in before {
        let mut after = BTreeMap::new();
        for (name, (kind, data)) in values {
            let data = if name.eq_ignore_ascii_case("Hash")
                && let Some(h) = hashes.get(&path.to_lowercase())
            {
                if hivex {
                    Json::from(hex(&utf16z(h)))
                } else {
                    Json::from(h.as_str())
                }
            } else if is_descriptor_value(name, kind) {
                let bytes = unhex(data.as_str().expect("hex"));
                match ntsec::translate_bytes(&bytes, map, ntsec::Mode::Replace) {
                    Ok(Some(t)) => Json::from(hex(&t)),
                    _ => data.clone(),
                }
            } else if hivex {
                match (kind.as_u64(), data.as_str()) {
                    (Some(1 | 2 | 7), Some(h)) => Json::from(replace_sid_utf16_hex(h, old, new)),
                    _ => data.clone(),
                }
            } else {
                match data {
                    Json::String(s) => Json::from(replace_sid(s, old, new)),
                    Json::Array(items) => Json::Array(
                        items
                            .iter()
                            .map(|i| match i {
                                Json::String(s) => Json::from(replace_sid(s, old, new)),
                                other => other.clone(),
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                }
            };
            after.insert(replace_sid(name, old, new), (kind.clone(), data));
        }
        out.insert(replace_sid(path, old, new), after);
    }
    out
}

fn flatten(d: &Dump) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    for (path, values) in d {
        out.insert(format!("key {path:?}"), Json::Null);
        for (name, (kind, data)) in values {
            out.insert(
                format!("value {path:?} {name:?}"),
                Json::Array(vec![kind.clone(), data.clone()]),
            );
        }
    }
    out
}

fn keys_and_values(d: &Dump) -> (usize, usize) {
    (d.len(), d.values().map(BTreeMap::len).sum())
}

#[test]
fn migrate_is_judged_right_by_hivex_regipy_ntfssecaudit_and_impacket() {
    let test = "migrate_is_judged_right_by_hivex_regipy_ntfssecaudit_and_impacket";
    let Some(mut bed) = Bed::new(test, None) else {
        return;
    };
    let Some(python) = testbed::python_with(test, &["hivex", "regipy", "impacket"]) else {
        return;
    };
    let Some(secretsdump) = testbed::require_oracle(test, "secretsdump.py") else {
        return;
    };
    let started = Instant::now();
    let old = bed.alice_sid();
    let profile = bed.path().join("Users/alice");
    let hives = [
        ("NTUSER.DAT", profile.join("NTUSER.DAT")),
        (
            "UsrClass.dat",
            profile.join("AppData/Local/Microsoft/Windows/UsrClass.dat"),
        ),
    ];
    let dumps_before: Vec<(Dump, Dump)> = hives
        .iter()
        .map(|(_, f)| {
            (
                hive_dump(&python, "hivex", f),
                hive_dump(&python, "regipy", f),
            )
        })
        .collect();
    let (_, choices_before) = hivex_user_choices(&python, &hives[0].1);
    let (classes_root_before, _) = hivex_user_choices(&python, &hives[1].1);
    assert_eq!(classes_root_before, format!("{old}_Classes"));
    let audit_before = bed
        .vol
        .with_unmounted(|image| testbed::ntfssecaudit_tree(image, "/Users/alice"))
        .expect("unmount")
        .expect("ntfssecaudit before");

    let out = expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--json"]))),
        "migrate",
    );
    let outcome = json_of(&out, "migrate");
    let new = outcome["new_sid"].as_str().expect("new SID").to_string();
    let map = ntsec::SidMap::from_pairs([format!("{old}={new}")]).expect("SID map");
    bed.remount();

    // UserChoice: read with hivex, every hash verifies for the new SID at the key's
    // unchanged last-write time (and verified for the old SID before).
    let (classes_root, _) = hivex_user_choices(&python, &hives[1].1);
    assert_eq!(classes_root, format!("{new}_Classes"), "UsrClass root key");
    let (_, choices) = hivex_user_choices(&python, &hives[0].1);
    assert!(!choices_before.is_empty(), "the sample has UserChoice keys");
    assert_eq!(choices.len(), choices_before.len(), "UserChoice keys kept");
    let mut hashes = BTreeMap::new();
    for (b, a) in choices_before.iter().zip(&choices) {
        let field = |v: &Json, k: &str| v[k].as_str().unwrap_or_default().to_string();
        let t = a["last_written"].as_u64().expect("timestamp");
        assert_eq!(b["key"], a["key"]);
        assert_eq!(b["prog_id"], a["prog_id"]);
        assert_eq!(
            b["last_written"], a["last_written"],
            "{}: last-write time kept",
            a["key"]
        );
        let (ext, prog) = (field(a, "ext"), field(a, "prog_id"));
        assert_eq!(
            field(b, "hash"),
            hive::userchoice::user_choice_hash(&ext, &old, &prog, t),
            "{}: the hash verified for the old SID before",
            a["key"]
        );
        let want = hive::userchoice::user_choice_hash(&ext, &new, &prog, t);
        assert_eq!(field(a, "hash"), want, "{}: hash for the new SID", a["key"]);
        hashes.insert(field(a, "key").to_lowercase(), want);
    }

    // hivex and regipy: every key and value as before, the new SID where the old was.
    for (((label, file), (hivex_before, regipy_before)), ntuser) in
        hives.iter().zip(&dumps_before).zip([true, false])
    {
        for (tool, before) in [("hivex", hivex_before), ("regipy", regipy_before)] {
            let hivex = tool == "hivex";
            let mut after = hive_dump(&python, tool, file);
            if ntuser {
                let marker = after
                    .remove(r"Software\admu")
                    .unwrap_or_else(|| panic!("{tool} {label}: no Software\\admu marker"));
                let text = |name: &str| -> String {
                    let (_, data) = &marker[name];
                    if hivex {
                        let bytes = unhex(data.as_str().expect("hex"));
                        let units: Vec<u16> = bytes
                            .chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]))
                            .take_while(|u| *u != 0)
                            .collect();
                        String::from_utf16_lossy(&units)
                    } else {
                        data.as_str()
                            .unwrap_or_default()
                            .trim_end_matches('\0')
                            .to_string()
                    }
                };
                assert_eq!(text("PreviousSid"), old, "{tool}: marker");
                assert_eq!(
                    text("PreviousProfilePath"),
                    r"C:\Users\alice",
                    "{tool}: marker"
                );
                assert_eq!(
                    text("MigrationId"),
                    outcome["migration_id"].as_str().expect("id")
                );
                assert!(marker.contains_key("MigratedAt") && marker.contains_key("AdmuVersion"));
            }
            let expected = expected_dump(before, hivex, &old, &new, &map, &hashes);
            assert_ne!(
                &expected, before,
                "{tool} {label}: no SID-bearing key or value?"
            );
            let mut problems = Vec::new();
            diff_maps(
                &format!("{tool} {label}"),
                &flatten(&expected),
                &flatten(&after),
                |e, a| format!("expected {e}, found {a}"),
                &mut problems,
            );
            assert!(
                problems.is_empty(),
                "{tool} reads {label} differently from what the migration must give:\n  {}",
                problems.join("\n  ")
            );
            assert_eq!(
                keys_and_values(&after),
                keys_and_values(before),
                "{tool} {label}"
            );
            // No trace of the old SID: not as text, not as binary.
            let old_bin = hex(&old.parse::<ntsec::Sid>().expect("SID").to_bytes());
            let all = serde_json::to_string(&flatten(&after)).expect("json");
            assert!(
                !all.to_uppercase().contains(&old.to_uppercase()),
                "{tool} {label}: old SID text left"
            );
            if hivex {
                assert!(
                    !all.contains(&old_bin),
                    "{tool} {label}: old SID left in binary data"
                );
                let utf16_old = hex(&old
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>());
                assert!(
                    !all.contains(&utf16_old),
                    "{tool} {label}: old SID left in string data"
                );
            }
        }
    }

    // ntfssecaudit (ntfs-3g's own reader of the unmounted image): every descriptor of
    // the profile is the old one with the SID replaced, every right intact.
    let audit_after = bed
        .vol
        .with_unmounted(|image| {
            (
                testbed::ntfssecaudit_tree(image, "/Users/alice"),
                testbed::ntfssecaudit_clean(image),
            )
        })
        .expect("unmount");
    let audit_after = (
        audit_after.0.expect("ntfssecaudit after"),
        audit_after.1.expect("ntfssecaudit -a"),
    );
    let (clean, report) = &audit_after.1;
    assert!(clean, "ntfssecaudit -a after the migration: {report}");
    let audit_after = audit_after.0;
    assert_eq!(
        audit_before.keys().collect::<Vec<_>>(),
        audit_after.keys().collect::<Vec<_>>(),
        "the same entries"
    );
    let old_bin = old.parse::<ntsec::Sid>().expect("SID").to_bytes();
    let new_bin = new.parse::<ntsec::Sid>().expect("SID").to_bytes();
    let names = |sd: &[u8], sid: &[u8]| sd.windows(sid.len()).any(|w| w == sid);
    let mut rewritten = 0;
    for (path, before) in &audit_before {
        let after = &audit_after[path];
        assert!(
            !names(after, &old_bin),
            "{path} still names the old SID: {}",
            sddl(&Ok(after.clone()))
        );
        let expected = ntsec::translate_bytes(before, &map, ntsec::Mode::Replace)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .unwrap_or_else(|| before.clone());
        assert_eq!(
            after,
            &expected,
            "{path}: {} → {}",
            sddl(&Ok(before.clone())),
            sddl(&Ok(after.clone()))
        );
        let (b, a) = (sddl(&Ok(before.clone())), sddl(&Ok(after.clone())));
        assert_eq!(a, replace_sid(&b, &old, &new), "{path}: rights changed");
        if names(before, &old_bin) {
            assert!(names(after, &new_bin), "{path}");
            rewritten += 1;
        }
    }
    assert!(rewritten >= 100, "only {rewritten} descriptors named alice");

    // impacket's secretsdump decrypts the SAM with SYSTEM's boot key and lists alice
    // with the NT hash of her password (computed by impacket too).
    let config = bed.path().join(CONFIG_DIR);
    let dump = Command::new(&secretsdump)
        .arg("-sam")
        .arg(config.join("SAM"))
        .arg("-system")
        .arg(config.join("SYSTEM"))
        .arg("LOCAL")
        .output()
        .expect("run secretsdump");
    let text = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        text.contains("Dumping local SAM hashes"),
        "secretsdump: {}",
        shown(&dump)
    );
    let nt = Command::new(&python)
        .args([
            "-c",
            "import sys; from impacket import ntlm; print(ntlm.compute_nthash(sys.argv[1]).hex())",
            PASSWORD,
        ])
        .output()
        .expect("run python");
    let nt = String::from_utf8_lossy(&nt.stdout).trim().to_string();
    assert_eq!(nt.len(), 32, "impacket NT hash: {nt:?}");
    let rid = new.rsplit('-').next().expect("RID");
    let line = text
        .lines()
        .find(|l| l.starts_with("alice:"))
        .unwrap_or_else(|| panic!("secretsdump lists no alice:\n{text}"));
    let fields: Vec<&str> = line.split(':').collect();
    assert_eq!(fields[1], rid, "alice's RID is the new SID's: {line}");
    assert_eq!(fields[3], nt, "alice's NT hash is her password's: {line}");
    for other in ["carol:", "Administrator:"] {
        assert!(
            text.lines().any(|l| l.starts_with(other)),
            "{other} still listed:\n{text}"
        );
    }
    eprintln!(
        "{test}: {} UserChoice hashes, {rewritten} descriptors checked, {:.1?}",
        choices.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// --acl-mode add, --to-existing
// ---------------------------------------------------------------------------------------

fn under(rel: &str, dir: &str) -> bool {
    rel == dir || rel.starts_with(&format!("{dir}/"))
}

#[test]
fn acl_mode_add_keeps_the_old_entries_adds_the_new_and_reverts() {
    let test = "acl_mode_add_keeps_the_old_entries_adds_the_new_and_reverts";
    let Some(bed) = Bed::new(test, None) else {
        return;
    };
    let started = Instant::now();
    let old = bed.alice_sid();
    let before = bed.snapshot();
    let out = expect_ok(
        admu(&strs(
            &bed.migrate_args("alice", &["--acl-mode", "add", "--json"]),
        )),
        "migrate --acl-mode add",
    );
    let new = json_of(&out, "migrate")["new_sid"]
        .as_str()
        .expect("new SID")
        .to_string();
    let map = ntsec::SidMap::from_pairs([format!("{old}={new}")]).expect("SID map");
    let (old_bin, new_bin) = (
        old.parse::<ntsec::Sid>().expect("SID").to_bytes(),
        new.parse::<ntsec::Sid>().expect("SID").to_bytes(),
    );
    let names = |sd: &[u8], sid: &[u8]| sd.windows(sid.len()).any(|w| w == sid);
    let after = bed.snapshot();
    let mut both = 0;
    for (rel, sd) in &before.descriptors {
        if rel.contains(&old) {
            continue; // renamed with the SID (recycle bin, task): carry_cli.rs checks those
        }
        let now = &after.descriptors[rel];
        let Ok(sd) = sd else {
            assert_eq!(now, &before.descriptors[rel], "{rel}");
            continue;
        };
        let now = now.as_ref().unwrap_or_else(|e| panic!("{rel}: {e}"));
        if !under(rel, "Users/alice") {
            assert_eq!(now, sd, "{rel}: outside the profile, nothing changes");
            continue;
        }
        let expected = ntsec::translate_bytes(sd, &map, ntsec::Mode::Add)
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .unwrap_or_else(|| sd.clone());
        assert_eq!(
            now,
            &expected,
            "{rel}: {} → {}",
            sddl(&Ok(sd.clone())),
            sddl(&Ok(now.clone()))
        );
        if names(sd, &old_bin) {
            assert!(
                names(now, &old_bin) && names(now, &new_bin),
                "{rel}: {}",
                sddl(&Ok(now.clone()))
            );
            // Every ACE of the old SID is still there, and the same rights for the new.
            let (b, a) = (sddl(&Ok(sd.clone())), sddl(&Ok(now.clone())));
            let old_aces: Vec<&str> = b.split(')').filter(|a| a.ends_with(&old)).collect();
            for ace in &old_aces {
                let ace = format!("{ace})");
                assert!(a.contains(&ace), "{rel}: {ace} gone from {a}");
                assert!(
                    a.contains(&replace_sid(&ace, &old, &new)),
                    "{rel}: no new ACE for {ace} in {a}"
                );
            }
            both += 1;
        }
    }
    assert!(both >= 100, "only {both} descriptors named alice");
    // The hives are converted as in replace mode (add mode is for files only): the old
    // SID is left only in the marker's PreviousSid.
    for (hive, left) in [
        ("Users/alice/NTUSER.DAT", 1),
        (
            "Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat",
            0,
        ),
    ] {
        let text = after.hives[hive].as_ref().expect("export");
        assert_eq!(
            text.matches(old.as_str()).count(),
            left,
            "{hive}: the old SID"
        );
        assert!(text.contains(&new), "{hive}: the new SID");
    }
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice"]),
        "revert",
    );
    assert_same(
        &before,
        &bed.snapshot(),
        "migrate --acl-mode add then revert",
    );
    eprintln!(
        "{test}: {both} descriptors with both SIDs, {:.1?}",
        started.elapsed()
    );
}

#[test]
fn to_existing_uses_an_account_made_by_accounts_add() {
    let test = "to_existing_uses_an_account_made_by_accounts_add";
    let Some(bed) = Bed::new(test, None) else {
        return;
    };
    let started = Instant::now();
    let r = bed.r().to_string();
    let old = bed.alice_sid();
    let added = expect_ok(
        admu(&[
            "accounts",
            "add",
            "--root",
            &r,
            "--name",
            "asmith",
            "--full-name",
            "Alice Smith",
            "--password-env",
            PASSWORD_VAR,
            "--json",
        ]),
        "admu accounts add",
    );
    let sid_of = |s: &Snapshot, name: &str| -> Option<String> {
        s.accounts["users"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["name"] == name)
            .and_then(|u| u["sid"].as_str().map(String::from))
    };
    let before = bed.snapshot();
    let sid = sid_of(&before, "asmith")
        .unwrap_or_else(|| panic!("accounts add made no asmith: {}", shown(&added)));

    // No password is needed for an existing account.
    let check = admu(&[
        "check",
        "--root",
        &r,
        "--from",
        ALICE,
        "--to",
        "asmith",
        "--to-existing",
    ]);
    expect_exit(
        &check,
        0,
        "check --to-existing",
        &format!("existing account found: asmith is {sid}"),
    );
    let out = expect_ok(
        admu(&[
            "migrate",
            "--root",
            &r,
            "--from",
            ALICE,
            "--to",
            "ASMITH",
            "--to-existing",
            "--json",
        ]),
        "migrate --to-existing",
    );
    let outcome = json_of(&out, "migrate");
    assert_eq!(outcome["account_created"], false);
    assert_eq!(
        outcome["new_sid"],
        sid.as_str(),
        "the existing account's SID"
    );
    let after = bed.snapshot();
    assert_eq!(
        after.accounts["users"], before.accounts["users"],
        "no account created or changed"
    );
    let profile = after
        .profiles
        .as_array()
        .expect("profiles")
        .iter()
        .find(|p| p["key"] == sid.as_str())
        .unwrap_or_else(|| panic!("no ProfileList key for {sid}: {}", after.profiles));
    assert_eq!(profile["path"], r"C:\Users\alice");
    let (old_bin, new_bin) = (
        old.parse::<ntsec::Sid>().expect("SID").to_bytes(),
        sid.parse::<ntsec::Sid>().expect("SID").to_bytes(),
    );
    let names = |sd: &[u8], s: &[u8]| sd.windows(s.len()).any(|w| w == s);
    let mut moved = 0;
    for (rel, sd) in &before.descriptors {
        if rel.contains(&old) {
            continue; // renamed with the SID (recycle bin, task): carry_cli.rs checks those
        }
        let (Ok(sd), Ok(now)) = (sd, &after.descriptors[rel]) else {
            continue;
        };
        if !under(rel, "Users/alice") {
            assert_eq!(now, sd, "{rel}: outside the profile, nothing changes");
            continue;
        }
        assert!(!names(now, &old_bin), "{rel} still names {old}");
        if names(sd, &old_bin) {
            assert!(names(now, &new_bin), "{rel}");
            moved += 1;
        }
    }
    assert!(moved >= 100, "{moved}");
    for hive in [
        "Users/alice/NTUSER.DAT",
        "Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat",
    ] {
        assert!(
            after.hives[hive].as_ref().expect("export").contains(&sid),
            "{hive} names {sid}"
        );
    }

    expect_ok(
        admu(&["revert", "--root", &r, "--name", "asmith"]),
        "revert",
    );
    let reverted = bed.snapshot();
    assert_same(&before, &reverted, "migrate --to-existing then revert");
    assert_eq!(
        sid_of(&reverted, "asmith"),
        Some(sid),
        "the existing account stays"
    );
    eprintln!("{test}: {:.1?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_on_every_flag_is_refused_and_changes_nothing() {
    let test = "bad_input_on_every_flag_is_refused_and_changes_nothing";
    let Some(bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    let r = bed.r().to_string();
    let before = bed.snapshot();
    let computer = bed.computer_name();
    let bob = bed.user_sid(1);
    let empty = tempfile::tempdir().expect("tempdir");
    let empty_file = empty.path().join("empty-password");
    std::fs::write(&empty_file, "\n").expect("write");
    let empty_file = empty_file.to_str().expect("UTF-8").to_string();
    let not_windows = empty.path().to_str().expect("UTF-8").to_string();
    let pw = ["--password-env", PASSWORD_VAR];

    // Refused by a preflight check (exit 3): (what, arguments after `--root R`, what the
    // output must say).
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "unknown account",
            vec!["--from", r"CORP\nobody", "--to", "alice"],
            "no such profile",
        ),
        (
            "unknown SID",
            vec!["--from", "S-1-5-21-1-2-3-4444", "--to", "alice"],
            "no such profile",
        ),
        (
            "a local account as source",
            vec!["--from", "carol", "--to", "alice"],
            "admu converts domain and Entra profiles",
        ),
        (
            "taken name (user)",
            vec!["--from", ALICE, "--to", "carol"],
            "FAIL new name is free",
        ),
        (
            "taken name (other case)",
            vec!["--from", ALICE, "--to", "ADMINISTRATOR"],
            "FAIL new name is free",
        ),
        (
            "taken name (group)",
            vec!["--from", ALICE, "--to", "Administrators"],
            "FAIL new name is free",
        ),
        (
            "the computer's name",
            vec!["--from", ALICE, "--to", &computer],
            "FAIL new name differs from the computer name",
        ),
        (
            "bad characters",
            vec!["--from", ALICE, "--to", "al/ice"],
            "FAIL new name follows Windows' rules",
        ),
        (
            "too long",
            vec!["--from", ALICE, "--to", "alice-has-a-very-long-name"],
            "FAIL new name follows Windows' rules",
        ),
        (
            "empty name",
            vec!["--from", ALICE, "--to", ""],
            "FAIL new name follows Windows' rules",
        ),
        (
            "--to-existing naming nobody",
            vec!["--from", ALICE, "--to", "nobody", "--to-existing"],
            "there is no local account named \"nobody\"",
        ),
        (
            "--to-existing naming a group",
            vec!["--from", ALICE, "--to", "Users", "--to-existing"],
            "there is no local account named",
        ),
    ];
    for (what, args, says) in &cases {
        for command in ["migrate", "check"] {
            let mut full = vec![command, "--root", r.as_str()];
            full.extend(args);
            if !args.contains(&"--to-existing") {
                full.extend(pw);
            }
            let out = admu(&full);
            expect_exit(&out, 3, &format!("{command}: {what}"), says);
        }
    }
    // Wrong flags and values: usage errors (exit 2) before anything is read.
    let usage: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "unset --password-env",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                "ADMU_NO_SUCH_VARIABLE",
            ],
            "the variable is not set",
        ),
        (
            "missing --password-file",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-file",
                "/nonexistent/pw",
            ],
            "cannot read it",
        ),
        (
            "empty --password-file",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-file",
                &empty_file,
            ],
            "the first line is empty",
        ),
        (
            "two password sources",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-file",
                &empty_file,
                "--password-env",
                PASSWORD_VAR,
            ],
            "cannot be used with",
        ),
        (
            "bad --map",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
                "--map",
                "garbage",
            ],
            "--map",
        ),
        (
            "bad --map SID",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
                "--map",
                "S-1-5-21-1-2-3-4=X",
            ],
            "--map",
        ),
        (
            "bad --acl-mode",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
                "--acl-mode",
                "remove",
            ],
            "invalid value",
        ),
        (
            "bad --threads",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
                "--threads",
                "many",
            ],
            "--threads",
        ),
        (
            "no --from",
            vec!["--to", "alice", "--password-env", PASSWORD_VAR],
            "--from",
        ),
        (
            "no --to",
            vec!["--from", ALICE, "--password-env", PASSWORD_VAR],
            "--to",
        ),
        (
            "unknown flag",
            vec![
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
                "--force",
            ],
            "unexpected argument",
        ),
    ];
    for (what, args, says) in &usage {
        let mut full = vec!["migrate", "--root", r.as_str()];
        full.extend(args);
        let out = admu(&full);
        expect_exit(&out, 2, &format!("migrate: {what}"), says);
    }
    // No password for a new account: a failed check.
    for command in ["migrate", "check"] {
        let out = admu(&[command, "--root", &r, "--from", ALICE, "--to", "alice"]);
        expect_exit(
            &out,
            3,
            &format!("{command}: no password"),
            "FAIL password given",
        );
    }
    // A volume that is not there, or not Windows.
    for (root, says) in [
        ("/nonexistent/volume", "/nonexistent/volume"),
        (not_windows.as_str(), not_windows.as_str()),
    ] {
        for command in [
            vec![
                "migrate",
                "--root",
                root,
                "--from",
                ALICE,
                "--to",
                "alice",
                "--password-env",
                PASSWORD_VAR,
            ],
            vec!["check", "--root", root, "--from", ALICE, "--to", "alice"],
            vec!["recover", "--root", root],
            vec!["revert", "--root", root, "--name", "alice"],
        ] {
            let out = admu(&command);
            expect_exit(&out, 1, &format!("{} --root {root}", command[0]), says);
        }
    }
    // --map naming the profile's own SID, which always maps to the new account.
    let alice_map = format!("{}=S-1-5-21-1-2-3-1500", bed.alice_sid());
    for dry in [false, true] {
        let mut args = vec![
            "migrate",
            "--root",
            &r,
            "--from",
            ALICE,
            "--to",
            "alice",
            "--password-env",
            PASSWORD_VAR,
            "--map",
            &alice_map,
        ];
        if dry {
            args.push("--dry-run");
        }
        let out = admu(&args);
        expect_exit(
            &out,
            3,
            &format!("migrate --map for the profile's SID (dry run: {dry})"),
            "FAIL --map leaves the profile's own SID alone",
        );
    }
    // revert: who is required, and only one way.
    let out = admu(&["revert", "--root", &r]);
    expect_exit(&out, 2, "revert without --name/--sid", "--name");
    let out = admu(&["revert", "--root", &r, "--name", "alice", "--sid", &bob]);
    expect_exit(
        &out,
        2,
        "revert with --name and --sid",
        "cannot be used with",
    );
    let out = admu(&["revert", "--root", &r, "--sid", "not-a-sid"]);
    expect_exit(&out, 1, "revert --sid not-a-sid", "nothing to revert");

    assert!(
        journal_dirs(bed.path()).is_empty(),
        "a refused run wrote a journal"
    );
    assert_same(&before, &bed.snapshot(), "after every refused run");
    eprintln!(
        "{test}: {} refused command lines, {:.1?}",
        2 * cases.len() + usage.len() + 2 + 8 + 2 + 3,
        started.elapsed()
    );
}

/// `ADMU_TEST_CORRUPT=ntuser|usrclass` truncates that hive just before its step reads
/// it: the run stops, rolls back everything it did, exits 4, and names the file. The
/// damaged hive is left as admu found it (not made worse); once it is repaired the
/// volume is exactly as before, and the migration then goes through.
#[test]
fn a_hive_found_corrupt_mid_run_rolls_back_and_names_the_file() {
    let test = "a_hive_found_corrupt_mid_run_rolls_back_and_names_the_file";
    let Some(bed) = Bed::new(test, None) else {
        return;
    };
    let started = Instant::now();
    let r = bed.r().to_string();
    let before = bed.snapshot();
    for (step, rel) in [
        ("ntuser", "Users/alice/NTUSER.DAT"),
        (
            "usrclass",
            "Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat",
        ),
    ] {
        let file = bed.path().join(rel);
        let original = before.hive_files[rel].clone();
        let known = journal_dirs(bed.path());
        let out = admu_with(
            &strs(&bed.migrate_args("alice", &[])),
            &[("ADMU_TEST_CORRUPT", step)],
        );
        expect_exit(
            &out,
            4,
            &format!("{step} corrupt"),
            "every change was rolled back",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&file.display().to_string())
                && stderr.contains("changed since preflight opened it"),
            "{step}: the error names the file {}: {stderr}",
            file.display()
        );
        let records = journal_records(&new_journal(bed.path(), &known));
        assert_eq!(
            records.last().map(|r| (&r["phase"], &r["kind"])),
            Some((&Json::from("undo_end"), &Json::from("rollback")))
        );
        let rec = expect_ok(admu(&["recover", "--root", &r]), "recover");
        assert!(String::from_utf8_lossy(&rec.stdout).contains("Nothing to recover"));

        let after = bed.snapshot();
        assert_same(
            &before.without(rel),
            &after.without(rel),
            &format!("{step} corrupt: rolled back"),
        );
        assert_eq!(
            after.hive_files[rel],
            original[..original.len() / 3],
            "{step}: the damaged hive is left as admu found it"
        );
        // The admin repairs the hive (from a backup of their own): all as before.
        std::fs::write(&file, &original).expect("repair the hive");
        assert_same(
            &before,
            &bed.snapshot(),
            &format!("{step} corrupt, repaired"),
        );
    }
    expect_ok(
        admu(&strs(&bed.migrate_args("alice", &[]))),
        "migrate after the repair",
    );
    expect_ok(admu(&["revert", "--root", &r, "--name", "alice"]), "revert");
    assert_same(
        &before,
        &bed.snapshot(),
        "migrate then revert after the failed runs",
    );
    eprintln!("{test}: {:.1?}", started.elapsed());
}
