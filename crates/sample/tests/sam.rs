//! The sample's SYSTEM + SAM: impacket's secretsdump decrypts them and lists carol with
//! the NT hash of her password; the machine SID agrees everywhere.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod common;

use std::process::Command;

#[test]
fn secretsdump_reads_the_sam_with_the_system_boot_key() {
    let Some(secretsdump) = testbed::require_oracle("secretsdump_reads_the_sam", "secretsdump.py")
    else {
        return;
    };
    let (dir, report) = common::small(41);
    let config = dir.path().join("Windows/System32/config");
    let out = Command::new(secretsdump)
        .arg("-sam")
        .arg(config.join("SAM"))
        .arg("-system")
        .arg(config.join("SYSTEM"))
        .arg("LOCAL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let carol_hash = sam::crypto::hex(&sam::crypto::nt_hash(sample::machine::CAROL_PASSWORD));
    let carol = report.users.iter().find(|u| u.name == "carol").unwrap();
    let rid = carol.sid.rsplit('-').next().unwrap();
    assert!(
        text.contains(&format!(
            "carol:{rid}:aad3b435b51404eeaad3b435b51404ee:{carol_hash}:::"
        )),
        "{text}"
    );
    for builtin in [
        "Administrator:500:",
        "Guest:501:",
        "DefaultAccount:503:",
        "setup:1000:",
    ] {
        assert!(text.contains(builtin), "{builtin} missing: {text}");
    }
}

#[test]
fn the_machine_sid_agrees_across_sam_security_and_profiles() {
    let (dir, report) = common::small(42);
    let config = dir.path().join("Windows/System32/config");
    let db = sam::Sam::open_with_system(config.join("SAM"), config.join("SYSTEM")).unwrap();
    assert_eq!(db.machine_sid().unwrap().to_string(), report.machine_sid);
    let carol = db.user_by_name("carol").unwrap();
    let profile = report.users.iter().find(|u| u.name == "carol").unwrap();
    assert_eq!(carol.sid.to_string(), profile.sid);
    assert!(
        db.verify_password(carol.rid, sample::machine::CAROL_PASSWORD)
            .unwrap()
    );
    let admins = db
        .alias(sam::AliasDomain::Builtin, sam::alias::ADMINISTRATORS)
        .unwrap();
    assert!(
        admins.members.contains(&carol.sid),
        "carol is a local administrator"
    );
    let security = common::open(dir.path(), "Windows\\System32\\config\\SECURITY");
    let v = security
        .key("Policy\\PolAcDmS")
        .unwrap()
        .unwrap()
        .value("")
        .unwrap()
        .unwrap();
    let (sid, _) = ntsec::Sid::from_bytes(&v.data().unwrap()).unwrap();
    assert_eq!(sid.to_string(), report.machine_sid);
    let system = common::open(dir.path(), "Windows\\System32\\config\\SYSTEM");
    let name = common::text(
        &system,
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        "ComputerName",
    );
    assert_eq!(name, report.computer_name);
    assert_eq!(
        common::text(
            &system,
            "ControlSet001\\Services\\Tcpip\\Parameters",
            "NV Domain"
        ),
        "corp.example.com"
    );
    let carol_hive = common::open(dir.path(), &profile.ntuser.path);
    let gm = "Software\\Microsoft\\Windows\\CurrentVersion\\Group Policy\\GroupMembership";
    assert_eq!(
        common::text(&carol_hive, gm, "Group0"),
        format!("{}-513", report.machine_sid)
    );
}
