//! `--remove-mdm` and `--remove-hello` end to end on the NTFS test bed (a sample volume
//! on an ntfs-3g mount, whose SOFTWARE holds an Intune enrollment with its TaskCache
//! entries and device certificate, whose `Tasks\Microsoft\Windows\EnterpriseMgmt\<GUID>`
//! holds its tasks, and whose NGC folder holds alice's Hello container), driving the
//! real binary. Judges: hivex (python3-hivex) for the SOFTWARE hive, the filesystem for
//! the task files and containers (bytes and descriptors), and the whole-volume
//! [`Snapshot`] for "as before".
//!
//! - the enrollment found in the registry and as tasks, only in the registry (task
//!   folder gone), only as tasks (`Enrollments\<GUID>` deleted with hivex): each is
//!   removed, a JumpCloud enrollment beside it is kept, `admu list`/`check`/`--dry-run`
//!   name them, and revert gives back the volume exactly;
//! - migrate with both flags aborted after every journal record, then `admu recover`
//!   (twice) gives back the volume exactly, and the complete run reverts exactly.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::*;

const TASKS: &str = "Windows/System32/Tasks/Microsoft/Windows/EnterpriseMgmt";
const NGC: &str = "Windows/ServiceProfiles/LocalService/AppData/Local/Microsoft/Ngc";
const SOFTWARE: &str = "Windows/System32/config/SOFTWARE";
const JC_GUID: &str = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D";

/// hivex on SOFTWARE: `exists KEY…` (JSON list of booleans), `value KEY NAME` (the
/// string), `delete KEY`, `jumpcloud GUID` (adds a JumpCloud enrollment), `dump KEY…`
/// (every key below, its values as type and hex), `touch` (adds a key, as Windows
/// writing the hive would change it).
const HIVEX_PY: &str = r#"
import hivex, json, sys
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
h = hivex.Hivex(path, write=cmd in ("delete", "jumpcloud", "touch"))
def find(key):
    node = h.root()
    for part in key.split("\\"):
        node = h.node_get_child(node, part)
        if not node:
            return None
    return node
def sz(text):
    return (text + "\0").encode("utf-16-le")
if cmd == "exists":
    json.dump([find(k) is not None for k in args], sys.stdout)
elif cmd == "value":
    v = h.node_get_value(find(args[0]), args[1])
    print(h.value_string(v))
elif cmd == "delete":
    h.node_delete_child(find(args[0]))
    h.commit(None)
elif cmd == "dump":
    out = {}
    def walk(node, path):
        out[path] = {h.value_key(v): [h.value_value(v)[0], h.value_value(v)[1].hex()]
                     for v in h.node_values(node)}
        for c in h.node_children(node):
            walk(c, path + "\\" + h.node_name(c))
    for k in args:
        node = find(k)
        if node:
            walk(node, k)
    json.dump(out, sys.stdout, sort_keys=True)
elif cmd == "touch":
    h.node_add_child(h.root(), "written-by-windows")
    h.commit(None)
elif cmd == "jumpcloud":
    parent = find(r"Microsoft\Enrollments")
    node = h.node_add_child(parent, args[0])
    h.node_set_values(node, [
        {"key": "ProviderID", "t": 1, "value": sz("JumpCloud")},
        {"key": "UPN", "t": 1, "value": sz("alice@jumpcloud.example")},
    ])
    h.commit(None)
"#;

fn hivex(python: &Path, root: &Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .args(["-c", HIVEX_PY])
        .arg(root.join(SOFTWARE))
        .args(args)
        .output()
        .expect("run python3 hivex");
    assert!(out.status.success(), "hivex {args:?}: {}", shown(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn exists(python: &Path, root: &Path, keys: &[String]) -> Vec<bool> {
    let mut args = vec!["exists"];
    args.extend(keys.iter().map(String::as_str));
    serde_json::from_str(&hivex(python, root, &args)).expect("hivex exists JSON")
}

/// The one GUID-named folder in `dir`.
fn only_child(root: &Path, dir: &str) -> String {
    let names: Vec<String> = std::fs::read_dir(root.join(dir))
        .expect("read folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{dir}: {names:?}");
    names[0].clone()
}

/// Every file below `dir` (relative) with its bytes and descriptor.
fn contents(root: &Path, dir: &str) -> BTreeMap<String, (Vec<u8>, String)> {
    let mut out = BTreeMap::new();
    let base = root.join(dir);
    if !base.exists() {
        return out;
    }
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(&base).expect("below").display().to_string();
            let sd = sddl(&testbed::read_ntfs_acl(&p).map_err(|e| e.to_string()));
            if p.is_dir() {
                stack.push(p.clone());
                out.insert(rel, (Vec::new(), sd));
            } else {
                out.insert(rel, (std::fs::read(&p).expect("read"), sd));
            }
        }
    }
    out
}

/// The enrollment's keys the step must remove.
fn enrollment_keys(python: &Path, root: &Path, guid: &str) -> Vec<String> {
    let thumb = hivex(
        python,
        root,
        &[
            "value",
            &format!(r"Microsoft\Enrollments\{guid}"),
            "DMPCertThumbPrint",
        ],
    );
    let mut keys: Vec<String> = [
        r"Microsoft\Enrollments\Status",
        r"Microsoft\EnterpriseResourceManager\Tracked",
        r"Microsoft\PolicyManager\Providers",
        r"Microsoft\PolicyManager\AdmxInstalled",
        r"Microsoft\Provisioning\OMADM\Accounts",
        r"Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree\Microsoft\Windows\EnterpriseMgmt",
    ]
    .iter()
    .map(|p| format!(r"{p}\{guid}"))
    .collect();
    keys.push(format!(
        r"Microsoft\SystemCertificates\MY\Certificates\{thumb}"
    ));
    keys
}

struct Variant {
    bed: Bed,
    python: PathBuf,
    guid: String,
    keys: Vec<String>,
}

fn variant(test: &str) -> Option<Variant> {
    let bed = Bed::new(test, Some(20))?;
    let python = testbed::python_with(test, &["hivex"])?;
    let guid = only_child(bed.path(), TASKS);
    let mut keys = enrollment_keys(&python, bed.path(), &guid);
    keys.push(format!(r"Microsoft\Enrollments\{guid}"));
    assert_eq!(
        exists(&python, bed.path(), &keys),
        vec![true; keys.len()],
        "the sample has the enrollment's keys: {keys:?}"
    );
    Some(Variant {
        bed,
        python,
        guid,
        keys,
    })
}

/// `migrate --remove-mdm` removes the enrollment (registry keys as hivex sees them, the
/// task folder), keeps JumpCloud's, and `revert` gives back the volume exactly.
fn remove_then_revert(v: &Variant, label: &str, has_tasks: bool) {
    let (root, r) = (v.bed.path(), v.bed.r());
    hivex(&v.python, root, &["jumpcloud", JC_GUID]);
    let jc_key = format!(r"Microsoft\Enrollments\{JC_GUID}");
    let list = expect_ok(admu(&["list", "--root", r]), "list");
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.contains(&v.guid) && listed.contains("MS DM Server") && listed.contains(JC_GUID),
        "{label}: list: {listed}"
    );
    let line = listed
        .lines()
        .find(|l| l.contains(&v.guid))
        .unwrap_or_default();
    let found = if has_tasks {
        "registry and tasks"
    } else {
        "registry"
    };
    assert!(line.ends_with(found), "{label}: list: {listed}");
    let mut check = v.bed.migrate_args("alice", &["--remove-mdm"]);
    check[0] = "check".into();
    let out = expect_ok(admu(&strs(&check)), "check --remove-mdm");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("MDM enrollments (--remove-mdm)") && said.contains("JumpCloud's kept"),
        "{label}: check: {said}"
    );
    let dry = expect_ok(
        admu(&strs(
            &v.bed.migrate_args("alice", &["--remove-mdm", "--dry-run"]),
        )),
        "dry run",
    );
    let planned = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        planned.contains(&format!("remove enrollment {}", v.guid))
            && planned.contains("keep JumpCloud's enrollment"),
        "{label}: dry run: {planned}"
    );
    let before = v.bed.snapshot();
    let tasks_before = contents(root, TASKS);
    expect_ok(
        admu(&strs(&v.bed.migrate_args("alice", &["--remove-mdm"]))),
        &format!("{label}: migrate --remove-mdm"),
    );
    let gone = exists(&v.python, root, &v.keys);
    assert_eq!(
        gone,
        vec![false; v.keys.len()],
        "{label}: hivex still sees {:?}",
        v.keys
    );
    assert_eq!(
        exists(&v.python, root, std::slice::from_ref(&jc_key)),
        vec![true],
        "{label}: JumpCloud's"
    );
    assert!(
        !root.join(TASKS).join(&v.guid).exists(),
        "{label}: task folder"
    );
    expect_ok(
        admu(&["revert", "--root", r, "--name", "alice"]),
        &format!("{label}: revert"),
    );
    assert_same(
        &before,
        &v.bed.snapshot(),
        &format!("{label}: migrate then revert"),
    );
    assert_eq!(
        tasks_before,
        contents(root, TASKS),
        "{label}: task files after revert"
    );
    let mut keys = v.keys.clone();
    keys.retain(|k| has_tasks || !k.contains("EnterpriseMgmt"));
    assert_eq!(
        exists(&v.python, root, &keys),
        vec![true; keys.len()],
        "{label}: revert"
    );
}

#[test]
fn remove_mdm_found_in_registry_and_tasks_then_revert() {
    let test = "remove_mdm_found_in_registry_and_tasks_then_revert";
    let Some(v) = variant(test) else { return };
    remove_then_revert(&v, "registry and tasks", true);
}

#[test]
fn remove_mdm_found_only_in_registry_then_revert() {
    let test = "remove_mdm_found_only_in_registry_then_revert";
    let Some(mut v) = variant(test) else { return };
    std::fs::remove_dir_all(v.bed.path().join(TASKS).join(&v.guid)).expect("drop the tasks");
    v.keys.retain(|k| !k.contains("EnterpriseMgmt"));
    remove_then_revert(&v, "registry only", false);
}

#[test]
fn remove_mdm_found_only_as_tasks_then_revert() {
    let test = "remove_mdm_found_only_as_tasks_then_revert";
    let Some(mut v) = variant(test) else { return };
    let thumb_key = v
        .keys
        .iter()
        .find(|k| k.contains("SystemCertificates"))
        .cloned()
        .expect("certificate key");
    // Without its Enrollments key the enrollment names no certificate and no provider:
    // the orphan's certificate stays (nothing ties it to the tasks).
    let key = format!(r"Microsoft\Enrollments\{}", v.guid);
    hivex(&v.python, v.bed.path(), &["delete", &key]);
    v.keys.retain(|k| *k != key && *k != thumb_key);
    let (root, r) = (v.bed.path(), v.bed.r());
    let list = expect_ok(admu(&["list", "--root", r]), "list");
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("found in tasks"),
        "{}",
        shown(&list)
    );
    let before = v.bed.snapshot();
    expect_ok(
        admu(&strs(&v.bed.migrate_args("alice", &["--remove-mdm"]))),
        "migrate --remove-mdm, tasks only",
    );
    assert_eq!(exists(&v.python, root, &v.keys), vec![false; v.keys.len()]);
    assert_eq!(exists(&v.python, root, &[thumb_key]), vec![true]);
    assert!(!root.join(TASKS).join(&v.guid).exists());
    expect_ok(admu(&["revert", "--root", r, "--name", "alice"]), "revert");
    assert_same(
        &before,
        &v.bed.snapshot(),
        "tasks only: migrate then revert",
    );
}

/// Windows wrote SOFTWARE after the migration: revert undoes the step logically, and
/// the inverse edits rebuild every removed key with its values (hivex's dump of them
/// is as before); the task folder comes back byte for byte.
#[test]
fn remove_mdm_is_reverted_logically_after_windows_wrote_software() {
    let test = "remove_mdm_is_reverted_logically_after_windows_wrote_software";
    let Some(v) = variant(test) else { return };
    let (root, r) = (v.bed.path(), v.bed.r());
    let mut args = vec!["dump"];
    args.extend(v.keys.iter().map(String::as_str));
    let dumped = hivex(&v.python, root, &args);
    let tasks_before = contents(root, TASKS);
    let known = journal_dirs(root);
    expect_ok(
        admu(&strs(&v.bed.migrate_args("alice", &["--remove-mdm"]))),
        "migrate --remove-mdm",
    );
    let dir = new_journal(root, &known);
    assert_eq!(exists(&v.python, root, &v.keys), vec![false; v.keys.len()]);
    hivex(&v.python, root, &["touch"]);
    expect_ok(admu(&["revert", "--root", r, "--name", "alice"]), "revert");
    let how = journal_records(&dir)
        .into_iter()
        .find(|rec| rec["phase"] == "undo_intent" && rec["step"] == "mdm")
        .map(|rec| rec["how"].clone());
    assert_eq!(
        how,
        Some("logical".into()),
        "the mdm step is undone logically"
    );
    assert_eq!(hivex(&v.python, root, &args), dumped, "the keys rebuilt");
    assert_eq!(
        tasks_before,
        contents(root, TASKS),
        "task files after revert"
    );
}

/// `--remove-hello` alone: check, list and the dry run name alice's container and the
/// biometric database that holds her SID; the container moves into the journal's
/// backup, the database is not touched, and revert gives back the volume exactly.
#[test]
fn remove_hello_moves_the_container_and_leaves_the_biometric_database() {
    let test = "remove_hello_moves_the_container_and_leaves_the_biometric_database";
    let Some(bed) = Bed::new(test, Some(20)) else {
        return;
    };
    let (root, r) = (bed.path(), bed.r());
    let ngc = only_child(root, NGC);
    let sid = bed.alice_sid();
    let list = expect_ok(admu(&["list", "--root", r]), "list");
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&ngc) && l.contains(&sid) && l.contains(ALICE)),
        "list: {listed}"
    );
    let mut check = bed.migrate_args("alice", &[]);
    check[0] = "check".into();
    let said = all_text(&expect_ok(admu(&strs(&check)), "check"));
    assert!(
        said.contains("note Windows Hello (PIN) container")
            && said.contains("--remove-hello clears it")
            && said.contains("note biometric templates"),
        "check: {said}"
    );
    let dry = expect_ok(
        admu(&strs(
            &bed.migrate_args("alice", &["--remove-hello", "--dry-run"]),
        )),
        "dry run",
    );
    let planned = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        planned.contains(&format!(r"Ngc\{ngc} (4 files) into the journal's backup"))
            && planned.contains("WinBioDatabase"),
        "dry run: {planned}"
    );
    let before = bed.snapshot();
    let (ngc_before, bio_before) = (
        contents(root, NGC),
        contents(root, "Windows/System32/WinBioDatabase"),
    );
    let known = journal_dirs(root);
    expect_ok(
        admu(&strs(&bed.migrate_args("alice", &["--remove-hello"]))),
        "migrate --remove-hello",
    );
    let dir = new_journal(root, &known);
    assert!(!root.join(NGC).join(&ngc).exists(), "the container left");
    let moved = contents(&dir.join("backup/hello"), &ngc);
    let kept: BTreeMap<String, (Vec<u8>, String)> = ngc_before
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&format!("{ngc}/"))
                .map(|rest| (rest.to_string(), v.clone()))
        })
        .collect();
    assert_eq!(
        moved, kept,
        "the container in the backup, bytes and descriptors"
    );
    assert_eq!(
        bio_before,
        contents(root, "Windows/System32/WinBioDatabase"),
        "the biometric database is never changed"
    );
    expect_ok(admu(&["revert", "--root", r, "--name", "alice"]), "revert");
    assert_same(&before, &bed.snapshot(), "remove-hello then revert");
    assert_eq!(
        ngc_before,
        contents(root, NGC),
        "the container after revert"
    );
}

/// What revert would move back is checked first: a moved file changed in the backup,
/// or a journal that names a place outside the step's, is refused (exit 6) with nothing
/// changed; put right, the revert runs.
#[test]
fn tampered_moves_are_refused_before_anything_changes() {
    let test = "tampered_moves_are_refused_before_anything_changes";
    let Some(bed) = Bed::new(test, Some(20)) else {
        return;
    };
    let (root, r) = (bed.path(), bed.r());
    let ngc = only_child(root, NGC);
    let before = bed.snapshot();
    let known = journal_dirs(root);
    expect_ok(
        admu(&strs(
            &bed.migrate_args("alice", &["--remove-mdm", "--remove-hello"]),
        )),
        "migrate",
    );
    let dir = new_journal(root, &known);
    let migrated = bed.snapshot();
    let dat = dir.join("backup/hello").join(&ngc).join("1.dat");
    let good = std::fs::read(&dat).expect("moved 1.dat");
    let mut bad = good.clone();
    bad.push(0);
    std::fs::write(&dat, &bad).expect("tamper");
    let out = admu(&["revert", "--root", r, "--name", "alice"]);
    expect_exit(
        &out,
        6,
        "a changed moved file",
        "were changed after they were moved",
    );
    assert_same(&migrated, &bed.snapshot(), "refused revert");
    std::fs::write(&dat, &good).expect("put it right");
    let journal = dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).expect("journal");
    let edited = text.replace(
        r#""from":"Windows\\ServiceProfiles"#,
        r#""from":"Windows\\System32\\config\\x\\ServiceProfiles"#,
    );
    assert_ne!(edited, text, "the journal names the container");
    std::fs::write(&journal, &edited).expect("edit the journal");
    let out = admu(&["revert", "--root", r, "--name", "alice"]);
    expect_exit(
        &out,
        6,
        "a move outside the step's places",
        "outside the places",
    );
    assert_same(&migrated, &bed.snapshot(), "refused revert");
    std::fs::write(&journal, &text).expect("put it right");
    expect_ok(admu(&["revert", "--root", r, "--name", "alice"]), "revert");
    assert_same(&before, &bed.snapshot(), "revert after the refusals");
}

/// Both flags, aborted after every journal record; recover (twice) and revert give back
/// the volume, the task files and the Hello container exactly.
#[test]
fn remove_mdm_and_hello_crash_at_every_journal_point_then_recover() {
    let test = "remove_mdm_and_hello_crash_at_every_journal_point_then_recover";
    let Some(v) = variant(test) else { return };
    let mut bed = v.bed;
    let root = bed.r().to_string();
    let args = bed.migrate_args("alice", &["--remove-mdm", "--remove-hello"]);
    let ngc = only_child(bed.path(), NGC);
    let before = bed.snapshot();
    let files_before = (contents(bed.path(), TASKS), contents(bed.path(), NGC));
    let same_files = |bed: &Bed, label: &str| {
        assert_eq!(
            files_before,
            (contents(bed.path(), TASKS), contents(bed.path(), NGC)),
            "{label}: task files or Hello container differ"
        );
    };
    let mut n = 0usize;
    loop {
        n += 1;
        assert!(n <= 64, "still aborting at failpoint {n}");
        let known = journal_dirs(bed.path());
        let out = admu_with(&strs(&args), &[("ADMU_FAILPOINT", &n.to_string())]);
        let dir = new_journal(bed.path(), &known);
        let records = journal_records(&dir);
        if out.status.success() {
            let steps: Vec<String> = records.iter().map(point_name).collect();
            for want in [
                "after mdm intent",
                "after mdm done",
                "after hello intent",
                "after hello done",
            ] {
                assert!(steps.iter().any(|s| s == want), "{want}: {steps:?}");
            }
            // The container is in the journal's backup, with its bytes.
            let moved = dir.join("backup/hello").join(&ngc);
            assert!(moved.join("1.dat").is_file(), "{}", moved.display());
            assert!(!bed.path().join(NGC).join(&ngc).exists());
            assert!(!bed.path().join(TASKS).join(&v.guid).exists());
            assert_eq!(
                exists(&v.python, bed.path(), &v.keys),
                vec![false; v.keys.len()]
            );
            expect_ok(
                admu(&["revert", "--root", &root, "--name", "alice"]),
                "revert",
            );
            assert_same(&before, &bed.snapshot(), "migrate then revert");
            same_files(&bed, "migrate then revert");
            eprintln!("{test}: {} crash points: {}", n - 1, steps.join(", "));
            return;
        }
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "failpoint {n}: {}",
            shown(&out)
        );
        let point = format!("crash point {n} ({})", point_name(&records[n - 1]));
        bed.remount();
        let committed = records[n - 1]["phase"] == "commit";
        expect_ok(
            admu(&["recover", "--root", &root]),
            &format!("{point}: recover"),
        );
        if committed {
            expect_ok(
                admu(&["revert", "--root", &root, "--name", "alice"]),
                &format!("{point}: revert"),
            );
        } else {
            drop_last_record(&dir);
            expect_ok(
                admu(&["recover", "--root", &root]),
                &format!("{point}: recover again"),
            );
        }
        assert_same(&before, &bed.snapshot(), &point);
        same_files(&bed, &point);
    }
}
