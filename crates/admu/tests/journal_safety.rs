//! The journal cannot be broken by an attacker, a second admin or a torn write, on the
//! NTFS test bed with the real binary:
//!
//! - `ProgramData\admu` and everything in it is private to SYSTEM and Administrators
//!   (judged by `getfattr` and by ntfs-3g's `ntfssecaudit` on the unmounted image);
//! - a changed backup, a descriptor log naming a path outside the profile or holding
//!   bad hex, an edited or unprotected journal, an inverse edit aimed elsewhere: each is
//!   refused (exit 6) and nothing changes;
//! - read-only commands never write journals; a journal whose first record is torn is
//!   closed as "nothing happened";
//! - the volume lock refuses a second run (exit 7) and names the holder; two runs
//!   started together never both change the volume;
//! - a descriptor that cannot be written rolls the migration back unless
//!   `--allow-partial`; `--to-existing` refuses an account that has a profile.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value as Json;

/// The descriptors admu gives its folders and files.
const PRIVATE_DIR: &str = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
const PRIVATE_FILE: &str = "O:BAG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)";

fn sddl_of(bytes: &[u8]) -> String {
    ntsec::SecurityDescriptor::from_bytes(bytes)
        .map(|sd| sd.to_sddl())
        .unwrap_or_else(|e| format!("unparsable: {e}"))
}

/// `getfattr -e hex -n system.ntfs_acl PATH`: the descriptor as ntfs-3g hands it out.
fn getfattr(path: &Path) -> Vec<u8> {
    let out = Command::new("getfattr")
        .args(["-h", "-e", "hex", "-n", "system.ntfs_acl"])
        .arg(path)
        .output()
        .expect("run getfattr");
    assert!(
        out.status.success(),
        "getfattr {}: {:?}",
        path.display(),
        out
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("system.ntfs_acl=0x"))
        .expect("getfattr printed the attribute");
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn migrate_ok(bed: &Bed) -> PathBuf {
    let known = journal_dirs(bed.path());
    expect_ok(admu(&strs(&bed.migrate_args("alice", &[]))), "migrate");
    new_journal(bed.path(), &known)
}

fn admin_dir(bed: &Bed) -> PathBuf {
    bed.path().join("ProgramData/admu")
}

#[test]
fn the_journal_folder_is_private_to_system_and_administrators() {
    let test = "the_journal_folder_is_private_to_system_and_administrators";
    let Some(mut bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let journal = migrate_ok(&bed);
    let mut checked = 0;
    let mut expect = |path: &Path| {
        let want = if path.is_dir() {
            PRIVATE_DIR
        } else {
            PRIVATE_FILE
        };
        assert_eq!(sddl_of(&getfattr(path)), want, "{}", path.display());
        checked += 1;
    };
    let admu_dir = admin_dir(&bed);
    for p in [
        admu_dir.clone(),
        admu_dir.join("migrations"),
        admu_dir.join("lock"),
        journal.clone(),
        journal.join("journal.jsonl"),
        journal.join("backup"),
        journal.join("backup/acl.jsonl"),
    ] {
        expect(&p);
    }
    for entry in std::fs::read_dir(journal.join("backup")).expect("backups") {
        let dir = entry.expect("entry").path();
        if dir.is_dir() {
            expect(&dir);
            for f in std::fs::read_dir(&dir).expect("backup files") {
                expect(&f.expect("entry").path());
            }
        }
    }
    assert!(checked >= 12, "only {checked} paths checked");
    // ntfs-3g's own auditor, reading the unmounted image, agrees.
    let audit = bed
        .vol
        .with_unmounted(|image| testbed::ntfssecaudit_tree(image, "/ProgramData/admu"))
        .expect("unmount")
        .expect("ntfssecaudit");
    assert!(
        audit.len() >= checked,
        "ntfssecaudit saw {} paths",
        audit.len()
    );
    for (path, sd) in &audit {
        let text = sddl_of(sd);
        assert!(
            text == PRIVATE_DIR || text == PRIVATE_FILE,
            "ntfssecaudit: {path}: {text}"
        );
    }
    eprintln!(
        "{test}: {checked} paths private (getfattr), {} (ntfssecaudit)",
        audit.len()
    );
}

/// Rewrites a file's bytes.
type Edit = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// One way to tamper with a committed migration's journal, and how to put it back.
struct Tamper {
    what: &'static str,
    file: PathBuf,
    edit: Edit,
    says: &'static str,
}

fn replace_first_line_matching(text: &[u8], needle: &str, f: impl Fn(&str) -> String) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.contains(needle) {
                done = true;
                f(l)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "no line contains {needle:?}");
    (lines.join("\n") + "\n").into_bytes()
}

#[test]
fn tampered_journals_and_backups_are_refused_and_nothing_changes() {
    let test = "tampered_journals_and_backups_are_refused_and_nothing_changes";
    let Some(bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let before = bed.snapshot();
    let journal = migrate_ok(&bed);
    let migrated = bed.snapshot();
    let root = bed.r().to_string();
    let backup = journal.join("backup");
    let sam_backup = std::fs::read_dir(backup.join("account"))
        .expect("account backup")
        .map(|e| e.expect("entry").path())
        .find(|p| p.file_name().is_some_and(|n| n == "SAM"))
        .expect("SAM backup");
    let profile = bed.path().join("Users/alice");
    let sddl_everyone = ntsec::SecurityDescriptor::from_sddl("O:BAG:SYD:(A;;FA;;;WD)")
        .expect("sddl")
        .to_bytes()
        .expect("bytes");
    let cases = vec![
        Tamper {
            what: "a changed NTUSER.DAT backup",
            file: backup.join("ntuser/NTUSER.DAT"),
            edit: Box::new(|b| {
                let mut b = b.to_vec();
                b[4096] ^= 0xff;
                b
            }),
            says: "was changed after it was taken",
        },
        Tamper {
            what: "a changed SAM backup",
            file: sam_backup,
            edit: Box::new(|b| {
                let mut b = b.to_vec();
                b[0x1000 + 100] ^= 1;
                b
            }),
            says: "was changed after it was taken",
        },
        Tamper {
            what: "a descriptor log entry outside the profile",
            file: backup.join("acl.jsonl"),
            edit: Box::new(|b| {
                replace_first_line_matching(b, "\"p\"", |l| {
                    let v: Json = serde_json::from_str(l).expect("entry");
                    serde_json::json!({"p": r"Windows\System32\config\SAM", "o": v["o"], "n": v["n"]})
                        .to_string()
                })
            }),
            says: "is not below the migrated profile",
        },
        Tamper {
            what: "a descriptor log entry with .. in its path",
            file: backup.join("acl.jsonl"),
            edit: Box::new(|b| {
                replace_first_line_matching(b, "\"p\"", |l| {
                    let v: Json = serde_json::from_str(l).expect("entry");
                    serde_json::json!({"p": r"Users\alice\..\..\Windows", "o": v["o"], "n": v["n"]})
                        .to_string()
                })
            }),
            says: "is not below the migrated profile",
        },
        Tamper {
            what: "non-ASCII in a hex field",
            file: backup.join("acl.jsonl"),
            edit: Box::new(|b| {
                replace_first_line_matching(b, "\"o\"", |l| {
                    let v: Json = serde_json::from_str(l).expect("entry");
                    serde_json::json!({"p": v["p"], "o": "0\u{e9}1", "n": v["n"]}).to_string()
                })
            }),
            says: "hex text has",
        },
        Tamper {
            what: "an edited journal line",
            file: journal.join("journal.jsonl"),
            edit: Box::new(|b| {
                replace_first_line_matching(b, "\"phase\":\"commit\"", |l| {
                    l.replacen("\"seq\":", "\"seq\":9", 1)
                })
            }),
            says: "sequence number",
        },
        Tamper {
            what: "an inverse edit aimed at another key",
            file: journal.join("journal.jsonl"),
            edit: Box::new(|b| {
                replace_first_line_matching(b, "\"step\":\"logon_ui\",\"hive\"", |l| {
                    l.replace(
                        r"Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI",
                        r"Microsoft\\Windows\\CurrentVersion\\Run",
                    )
                })
            }),
            says: "which admu never changes",
        },
    ];
    for case in &cases {
        let original = std::fs::read(&case.file).expect("read the file to tamper with");
        let sd = testbed::read_ntfs_acl(&case.file).expect("its descriptor");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&case.file)
            .expect("open for tampering");
        f.write_all(&(case.edit)(&original)).expect("tamper");
        drop(f);
        testbed::write_ntfs_acl(&case.file, &sd).expect("keep it private");
        let out = admu(&["revert", "--root", &root, "--name", "alice"]);
        expect_exit(&out, 6, case.what, case.says);
        assert_same(&migrated, &bed.snapshot(), case.what);
        std::fs::write(&case.file, &original).expect("put it back");
    }
    // Someone opened the journal to everyone: refused too.
    let jfile = journal.join("journal.jsonl");
    let private = testbed::read_ntfs_acl(&jfile).expect("descriptor");
    testbed::write_ntfs_acl(&jfile, &sddl_everyone).expect("open it up");
    let out = admu(&["revert", "--root", &root, "--name", "alice"]);
    expect_exit(&out, 6, "an unprotected journal", "not private");
    assert_same(&migrated, &bed.snapshot(), "an unprotected journal");
    testbed::write_ntfs_acl(&jfile, &private).expect("protect it again");
    assert!(profile.is_dir());
    expect_ok(
        admu(&["revert", "--root", &root, "--name", "alice"]),
        "revert",
    );
    assert_same(&before, &bed.snapshot(), "revert after the refusals");
    eprintln!(
        "{test}: {} tamperings refused, nothing changed",
        cases.len() + 1
    );
}

#[test]
fn read_only_commands_leave_journals_alone_and_torn_first_records_close_cleanly() {
    let test = "read_only_commands_leave_journals_alone_and_torn_first_records_close_cleanly";
    let Some(mut bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let root = bed.r().to_string();
    let before = bed.snapshot();
    // An interrupted migration with a torn last record.
    let known = journal_dirs(bed.path());
    let out = admu_with(
        &strs(&bed.migrate_args("alice", &[])),
        &[("ADMU_FAILPOINT", "4")],
    );
    assert!(
        !out.status.success(),
        "the failpoint fired: {}",
        shown(&out)
    );
    let dir = new_journal(bed.path(), &known);
    let jfile = dir.join("journal.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&jfile)
        .expect("open");
    f.write_all(br#"{"seq":5,"time":1,"phase":"intent","st"#)
        .expect("tear");
    drop(f);
    bed.remount();
    let torn = std::fs::read(&jfile).expect("journal");
    let password = [(PASSWORD_VAR, PASSWORD)];
    for args in [
        vec!["check", "--root", &root, "--from", ALICE, "--to", "alice2"],
        vec!["list", "--root", &root, "--all"],
        vec!["revert", "--root", &root, "--name", "alice", "--dry-run"],
    ] {
        let _ = admu_with(&args, &password);
        assert_eq!(std::fs::read(&jfile).expect("journal"), torn, "{args:?}");
    }
    let dry = admu_with(&strs(&bed.migrate_args("alice", &["--dry-run"])), &password);
    expect_exit(
        &dry,
        3,
        "dry run with an unfinished journal",
        "admu recover",
    );
    assert_eq!(std::fs::read(&jfile).expect("journal"), torn, "--dry-run");
    let rec = expect_ok(admu(&["recover", "--root", &root]), "recover");
    assert!(all_text(&rec).contains("Rolled back"), "{}", shown(&rec));
    assert_same(&before, &bed.snapshot(), "recover of a torn journal");
    let records = journal_records(&dir);
    assert!(
        records.iter().all(|r| r["seq"].is_u64()),
        "every line parses"
    );

    // A run that died while writing its first record: closed as nothing happened.
    let known = journal_dirs(bed.path());
    let out = admu_with(
        &strs(&bed.migrate_args("alice", &[])),
        &[("ADMU_FAILPOINT", "1")],
    );
    assert!(!out.status.success());
    let dir = new_journal(bed.path(), &known);
    let jfile = dir.join("journal.jsonl");
    let text = std::fs::read(&jfile).expect("journal");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&jfile)
        .and_then(|f| f.set_len(text.len() as u64 / 2))
        .expect("tear the first record");
    bed.remount();
    let again = admu_with(&strs(&bed.migrate_args("alice", &[])), &password);
    expect_exit(&again, 3, "migrate over an empty journal", "admu recover");
    let rec = expect_ok(
        admu(&["recover", "--root", &root]),
        "recover an empty journal",
    );
    assert!(
        all_text(&rec).contains("Closed empty journal"),
        "{}",
        shown(&rec)
    );
    let records = journal_records(&dir);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["phase"], "abandoned");
    assert_same(&before, &bed.snapshot(), "an empty journal closed");
    expect_ok(
        admu_with(&strs(&bed.migrate_args("alice", &[])), &password),
        "migrate after closing it",
    );
    expect_ok(
        admu(&["revert", "--root", &root, "--name", "alice"]),
        "revert",
    );
    assert_same(
        &before,
        &bed.snapshot(),
        "migrate and revert after all that",
    );
}

#[test]
fn the_volume_lock_refuses_a_second_run_and_names_the_holder() {
    let test = "the_volume_lock_refuses_a_second_run_and_names_the_holder";
    let Some(bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let root = bed.r().to_string();
    let before = bed.snapshot();
    // Another admu holds the lock (this test process, posing as one).
    expect_exit(
        &admu(&["recover", "--root", &root]),
        0,
        "a first recover creates admu's folder",
        "Nothing to recover",
    );
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(admin_dir(&bed).join("lock"))
        .expect("the lock file");
    lock.try_lock().expect("take the lock");
    std::fs::write(
        admin_dir(&bed).join("lock.owner"),
        r#"{"pid":4242,"command":"migrate","since":133500000000000000}"#,
    )
    .expect("owner");
    let password = [(PASSWORD_VAR, PASSWORD)];
    for args in [
        bed.migrate_args("alice", &[]),
        vec!["recover".into(), "--root".into(), root.clone()],
        vec![
            "revert".into(),
            "--root".into(),
            root.clone(),
            "--name".into(),
            "alice".into(),
        ],
    ] {
        let out = admu_with(&strs(&args), &password);
        expect_exit(&out, 7, &args[0], "process 4242");
    }
    assert_same(&before, &bed.snapshot(), "refused while locked");
    drop(lock);

    // Two runs started together: never both change the volume.
    let spawn = |to: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_admu"));
        cmd.args(strs(&bed.migrate_args(to, &[])))
            .env(PASSWORD_VAR, PASSWORD);
        cmd.output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("alice"));
        let b = s.spawn(|| spawn("alice_two"));
        (
            a.join().expect("thread").expect("run a"),
            b.join().expect("thread").expect("run b"),
        )
    });
    let codes = [a.status.code(), b.status.code()];
    let ok = codes.iter().filter(|c| **c == Some(0)).count();
    assert_eq!(
        ok,
        1,
        "exactly one run migrates: {}\n{}",
        shown(&a),
        shown(&b)
    );
    let loser = if a.status.success() { &b } else { &a };
    let code = loser.status.code();
    assert!(
        code == Some(7) || code == Some(3),
        "the other is refused (busy, or the profile is already migrated): {}",
        shown(loser)
    );
    let rec = expect_ok(admu(&["recover", "--root", &root]), "recover");
    assert!(
        all_text(&rec).contains("Nothing to recover"),
        "{}",
        shown(&rec)
    );
    let name = if a.status.success() {
        "alice"
    } else {
        "alice_two"
    };
    expect_ok(admu(&["revert", "--root", &root, "--name", name]), "revert");
    assert_same(&before, &bed.snapshot(), "after the race and a revert");
    eprintln!("{test}: second runs refused with exit 7; race: codes {codes:?}");
}

#[test]
fn descriptor_failures_roll_back_unless_allow_partial_and_to_existing_checks_profiles() {
    let test = "descriptor_failures_roll_back_unless_allow_partial_and_to_existing_checks_profiles";
    let Some(bed) = Bed::new(test, Some(30)) else {
        return;
    };
    let root = bed.r().to_string();
    let before = bed.snapshot();
    let deny = [
        ("ADMU_TEST_DENY_DESCRIPTOR", "NTUSER.DAT"),
        (PASSWORD_VAR, PASSWORD),
    ];
    let out = admu_with(&strs(&bed.migrate_args("alice", &[])), &deny);
    expect_exit(
        &out,
        4,
        "a descriptor that cannot be written",
        "--allow-partial",
    );
    assert!(all_text(&out).contains("NTUSER.DAT"), "{}", shown(&out));
    assert_same(&before, &bed.snapshot(), "rolled back");
    let leftovers: Vec<String> = walk_names(bed.path())
        .into_iter()
        .filter(|n| n.contains(".admu-") && n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let out = admu_with(
        &strs(&bed.migrate_args("alice", &["--allow-partial"])),
        &deny,
    );
    let out = expect_ok(out, "--allow-partial");
    let text = all_text(&out);
    assert!(
        text.contains("not translated") && text.contains("NTUSER.DAT"),
        "every failure is listed: {text}"
    );
    expect_ok(
        admu(&["revert", "--root", &root, "--name", "alice"]),
        "revert",
    );
    assert_same(&before, &bed.snapshot(), "partial migration reverted");

    // carol is a local account with a profile of her own.
    let carol = [
        "check",
        "--root",
        &root,
        "--from",
        ALICE,
        "--to",
        "carol",
        "--to-existing",
    ];
    let out = admu(&carol);
    expect_exit(
        &out,
        3,
        "--to-existing onto a profile",
        "already has a profile",
    );
    let mut replace = carol.to_vec();
    replace.push("--replace-existing-profile");
    let out = admu(&replace);
    assert!(
        all_text(&out).contains("pass the existing account has no profile of its own"),
        "{}",
        shown(&out)
    );
    assert_same(&before, &bed.snapshot(), "checks change nothing");
}

fn walk_names(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let ft = e.file_type().expect("type");
            if ft.is_dir() && !ft.is_symlink() {
                stack.push(e.path());
            }
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}
