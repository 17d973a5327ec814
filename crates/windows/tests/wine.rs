//! The live host against the Windows it runs on. Under Wine 8 (the test suite's
//! Windows) only some of it is real: this test asserts what Wine really provides and
//! prints the rest, saying what Wine cannot show.
#![cfg(windows)]

use engine::host::{Accounts, Host, MachineHive, MigrationHost, Registry, Volume, VolumeEdit};
use engine::live::RunningAs;
use engine::profiles::PROFILE_LIST;
use windows_host::WindowsHost;

#[test]
fn live_host_reads_wine() {
    let host = WindowsHost::open().expect("open the live host");
    println!("host: {}", host.describe());
    println!(
        "Windows folder {}, system drive {}, SACLs {}",
        host.windows_dir().display(),
        host.system_drive().display(),
        if host.with_sacl() {
            "read and written"
        } else {
            "left alone (no SeSecurityPrivilege)"
        }
    );

    let machine = host.machine_sid().expect("machine SID");
    println!("machine SID: {machine}");
    assert!(machine.to_string().starts_with("S-1-5-21-"), "{machine}");
    let computer = host.computer_name().expect("computer name");
    println!("computer name: {computer}");
    assert!(!computer.is_empty());

    // Wine lists only the user running it.
    let users = host.users().expect("users");
    for u in &users {
        println!(
            "user {} RID {} {} disabled={} last logon {:?} full name {:?}",
            u.name, u.rid, u.sid, u.disabled, u.last_logon, u.full_name
        );
    }
    let me = std::env::var("USERNAME").unwrap_or_default();
    assert!(
        users.iter().any(|u| u.name.eq_ignore_ascii_case(&me)),
        "the current user {me:?} is among {users:?}"
    );
    assert!(users.iter().all(|u| u.sid.is_in_domain(&machine)));

    let list = host
        .key(MachineHive::Software, PROFILE_LIST)
        .expect("read ProfileList")
        .expect("ProfileList exists");
    println!(
        "HKLM\\SOFTWARE\\{PROFILE_LIST}: {} values, subkeys {:?}, last written {:#x}",
        list.values.len(),
        list.subkeys,
        list.last_written
    );
    for v in &list.values {
        println!("  {} (type {}) = {:?}", v.name, v.kind, v.string());
    }
    for sub in &list.subkeys {
        let key = host
            .key(MachineHive::Software, &format!(r"{PROFILE_LIST}\{sub}"))
            .expect("read a profile")
            .expect("a listed subkey exists");
        println!(
            "  {sub}: ProfileImagePath {:?}",
            key.string("ProfileImagePath")
        );
    }
    assert!(
        host.key(MachineHive::Software, r"Microsoft\no such key\anywhere")
            .expect("a missing key is not an error")
            .is_none()
    );
    match host.key(MachineHive::Sam, r"SAM\Domains\Account") {
        Ok(k) => println!(
            "HKLM\\SAM\\SAM\\Domains\\Account: {}",
            if k.is_some() { "readable" } else { "missing" }
        ),
        Err(e) => println!("HKLM\\SAM: {e}"),
    }

    // Wine keeps a ProfileList entry for its user.
    let mine = users
        .iter()
        .find(|u| u.name.eq_ignore_ascii_case(&me))
        .expect("the current user");
    assert!(
        list.subkeys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&mine.sid.to_string())),
        "ProfileList has {}",
        mine.sid
    );

    let live = host.live().expect("the Windows host is live");
    let hives = live.loaded_hives().expect("loaded hives");
    println!("HKEY_USERS: {hives:?}");
    assert!(
        hives.iter().any(|h| h.eq_ignore_ascii_case(".DEFAULT")),
        "HKEY_USERS has .DEFAULT"
    );
    // The user running Wine has their hive loaded: the engine's rule says so.
    let in_use = engine::live::profile_in_use(&mine.sid, &hives, &[]);
    println!("profile_in_use({}): {in_use:?}", mine.sid);
    assert!(in_use.is_some_and(|why| why.contains("HKEY_USERS")));

    let join = live.join_state().expect("join state");
    println!("join state: {join:?}");
    assert_eq!(join.ad_domain, None, "Wine is in no domain");
    assert!(join.workgroup.is_some(), "Wine is in a workgroup");
    assert_eq!(
        join.entra_tenant, None,
        "Wine has no NetGetAadJoinInformation: no tenant"
    );
    assert!(!join.workplace_joined);
    println!(
        "leave_plan: {:?}",
        engine::live::leave_plan(&join, RunningAs::System)
    );

    // Wine's token is an elevated administrator's (not SYSTEM).
    let running_as = live.running_as().expect("running as");
    println!("running as: {running_as:?}");
    assert_eq!(running_as, RunningAs::Administrator);

    match live.sessions() {
        Ok(s) => println!("sessions: {s:?}"),
        Err(e) => println!("sessions: Wine cannot list them: {e}"),
    }
    let admins = host.alias_members(544);
    println!("Administrators (S-1-5-32-544): {admins:?}");
    println!(
        "name_in_use({me:?}): {:?}",
        host.name_in_use(&me).map_err(|e| e.to_string())
    );
    println!(
        "name_in_use(\"no-such-admu-user\"): {:?}",
        host.name_in_use("no-such-admu-user")
            .map_err(|e| e.to_string())
    );
    if let Some(u) = users.first() {
        println!(
            "builtin_aliases_of({}): {:?}",
            u.sid,
            host.builtin_aliases_of(&u.sid).map_err(|e| e.to_string())
        );
        println!(
            "logon_denied({}): {:?}",
            u.sid,
            live.logon_denied(&u.sid).map_err(|e| e.to_string())
        );
    }

    // Files: paths, free space, descriptors (which Wine synthesizes: it stores no ACLs).
    let windows = host.host_path("%SystemRoot%").expect("%SystemRoot% exists");
    println!("host_path(%SystemRoot%) = {}", windows.display());
    assert!(
        windows
            .to_string_lossy()
            .eq_ignore_ascii_case(&host.windows_dir().to_string_lossy()),
        "the environment and GetSystemWindowsDirectoryW agree"
    );
    assert_eq!(
        host.host_path(r"\\server\share\x"),
        None,
        "UNC is not local"
    );
    assert_eq!(host.host_path(r"C:\no\such\admu\folder"), None);
    let free = host.free_space().expect("free space");
    println!(
        "free space on {}: {free} bytes",
        host.system_drive().display()
    );
    assert!(free > 0);
    println!(
        "volume_root_path(ProgramData\\admu) = {:?}",
        host.volume_root_path(r"ProgramData\admu")
    );

    let dir = tempfile_dir();
    let file = dir.join("NTUSER.DAT");
    std::fs::write(&file, b"regf").expect("write a file");
    let backend = host.file_security().expect("a descriptor backend");
    let mut sd = Vec::new();
    match backend.read(&file, &mut sd) {
        Ok(()) => {
            let text = ntsec::SecurityDescriptor::from_bytes(&sd)
                .map(|d| d.to_sddl())
                .unwrap_or_else(|e| format!("unparsable: {e}"));
            println!(
                "descriptor of {} ({} bytes): {text}",
                file.display(),
                sd.len()
            );
            println!("  (Wine synthesizes descriptors; it does not store file ACLs)");
        }
        Err(e) => println!("descriptor of {}: Wine cannot read it: {e}", file.display()),
    }
    let holders = live.file_holders(&[file.as_path()]);
    println!(
        "file_holders({}): {holders:?} (Wine's Restart Manager is a stub)",
        file.display()
    );
    let private = dir.join("private");
    std::fs::create_dir(&private).expect("make a folder");
    println!(
        "make_private: {:?}",
        engine::host::PrivateFiles::make_private(&host, &private)
    );
    println!(
        "check_private: {:?} (Wine does not keep the descriptor it was given)",
        engine::host::PrivateFiles::check_private(&host, &private)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Registry edits on the live registry (Wine's is real, kept by wineserver): applied,
/// read back, and undone as a whole when one of them fails.
#[test]
fn registry_edits_apply_and_roll_back_under_wine() {
    use engine::host::{RegEdit, RegistryEdit};

    let mut host = WindowsHost::open().expect("open the live host");
    let root = format!("admu-test-{}", std::process::id());
    let key = format!(r"{root}\Sub\Leaf");
    let sz = |text: &str| -> Vec<u8> {
        text.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    };
    let set = |name: &str, kind: u32, data: Vec<u8>| RegEdit::SetValue {
        path: key.clone(),
        name: name.into(),
        kind,
        data,
    };
    host.apply(
        MachineHive::Software,
        &[
            RegEdit::CreateKey { path: key.clone() },
            set("Text", 1, sz(r"C:\Users\alice")),
            set("Number", 4, 7u32.to_le_bytes().to_vec()),
            set("", 3, vec![1, 2, 3]),
        ],
    )
    .expect("apply");
    let k = host
        .key(MachineHive::Software, &key)
        .expect("read")
        .expect("created");
    assert_eq!(k.name, "Leaf");
    assert_eq!(k.string("text").as_deref(), Some(r"C:\Users\alice"));
    assert_eq!(k.value("Text").map(|v| v.data.len()), Some(30), "NUL kept");
    assert_eq!(k.dword("Number"), Some(7));
    assert_eq!(k.value("").map(|v| v.data.clone()), Some(vec![1, 2, 3]));
    assert!(k.last_written > 0);
    let parent = host
        .key(MachineHive::Software, &format!(r"{root}\Sub"))
        .expect("read")
        .expect("the parents were created too");
    assert_eq!(parent.subkeys, vec!["Leaf".to_string()]);

    // A failing edit (a value in a key that does not exist) undoes the ones before it.
    let failing = [
        set("Number", 4, 8u32.to_le_bytes().to_vec()),
        RegEdit::DeleteValue {
            path: key.clone(),
            name: "Text".into(),
        },
        RegEdit::CreateKey {
            path: format!(r"{root}\New\Deeper"),
        },
        RegEdit::SetValue {
            path: format!(r"{root}\Missing"),
            name: "X".into(),
            kind: 4,
            data: vec![0; 4],
        },
    ];
    let e = host
        .apply(MachineHive::Software, &failing)
        .expect_err("a value in a missing key");
    println!("failed as it should: {e}");
    let k = host
        .key(MachineHive::Software, &key)
        .expect("read")
        .expect("still there");
    assert_eq!(k.dword("Number"), Some(7), "the DWORD is back");
    assert_eq!(
        k.string("Text").as_deref(),
        Some(r"C:\Users\alice"),
        "the deleted value is back"
    );
    assert!(
        host.key(MachineHive::Software, &format!(r"{root}\New"))
            .expect("read")
            .is_none(),
        "the created keys are gone, from the first new one down"
    );

    // A deleted tree comes back whole when a later edit fails.
    let e = host.apply(
        MachineHive::Software,
        &[
            RegEdit::DeleteKey {
                path: format!(r"{root}\Sub"),
            },
            RegEdit::SetValue {
                path: format!(r"{root}\Missing"),
                name: "X".into(),
                kind: 4,
                data: vec![0; 4],
            },
        ],
    );
    assert!(e.is_err());
    let k = host
        .key(MachineHive::Software, &key)
        .expect("read")
        .expect("the deleted tree is back");
    assert_eq!(k.dword("Number"), Some(7));

    // A key renamed keeps its values and subkeys; renaming again finds nothing to do;
    // a failure later renames it back.
    let rename = |path: String, new_name: &str| RegEdit::RenameKey {
        path,
        new_name: new_name.into(),
    };
    let sub = format!(r"{root}\Sub");
    let renamed = format!(r"{root}\Renamed");
    host.apply(
        MachineHive::Software,
        &[
            rename(sub.clone(), "Renamed"),
            rename(sub.clone(), "Renamed"),
        ],
    )
    .expect("rename");
    let k = host
        .key(MachineHive::Software, &format!(r"{renamed}\Leaf"))
        .expect("read")
        .expect("the subkey moved with its parent");
    assert_eq!(k.dword("Number"), Some(7));
    assert!(
        host.key(MachineHive::Software, &sub)
            .expect("read")
            .is_none()
    );
    let e = host.apply(
        MachineHive::Software,
        &[
            rename(renamed.clone(), "Sub"),
            RegEdit::SetValue {
                path: format!(r"{root}\Missing"),
                name: "X".into(),
                kind: 4,
                data: vec![0; 4],
            },
        ],
    );
    assert!(e.is_err());
    assert!(
        host.key(MachineHive::Software, &renamed)
            .expect("read")
            .is_some(),
        "renamed back after the failure"
    );
    host.apply(MachineHive::Software, &[rename(renamed, "Sub")])
        .expect("rename back");

    host.apply(
        MachineHive::Software,
        &[
            RegEdit::DeleteValue {
                path: key.clone(),
                name: "no such value".into(),
            },
            RegEdit::DeleteValue {
                path: format!(r"{root}\no such key"),
                name: "x".into(),
            },
            RegEdit::DeleteKey { path: root.clone() },
            RegEdit::DeleteKey { path: root.clone() },
        ],
    )
    .expect("deleting what is not there is fine");
    assert!(
        host.key(MachineHive::Software, &root)
            .expect("read")
            .is_none()
    );
    assert!(
        host.apply(
            MachineHive::Software,
            &[RegEdit::DeleteKey {
                path: String::new()
            }]
        )
        .is_err(),
        "the root of a hive is never deleted"
    );
}

/// A fresh folder under the temp folder.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("admu-wine-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make the test folder");
    dir
}
