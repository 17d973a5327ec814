//! The sample volume on an ordinary folder: determinism, hive validity, UserChoice hashes,
//! and spot checks of the realism checklist (windows-profile-state.md, end).
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod common;

use common::{dword, open, path, sddl, small, text};
use hive::Severity;
use sample::AccountKind;

const PROFILE_LIST: &str = "Microsoft\\Windows NT\\CurrentVersion\\ProfileList";

#[test]
fn the_same_seed_gives_identical_hives_and_files() {
    let (a, ra) = small(7);
    let (b, rb) = small(7);
    assert_eq!(ra.hives, rb.hives);
    for h in &ra.hives {
        let (x, y) = (
            std::fs::read(path(a.path(), &h.path)).unwrap(),
            std::fs::read(path(b.path(), &h.path)).unwrap(),
        );
        assert!(x == y, "{} differs between two runs with seed 7", h.path);
    }
    let doc = |root: &std::path::Path| {
        std::fs::read(root.join("Users/carol/Documents/Report 8.docx")).ok()
    };
    assert_eq!(doc(a.path()), doc(b.path()));
    let (_c, rc) = small(8);
    assert_ne!(ra.users[0].sid, rc.users[0].sid, "another seed, other SIDs");
}

#[test]
fn every_hive_is_clean_and_valid() {
    let (dir, report) = small(11);
    assert!(report.hives.len() >= 11, "{:?}", report.hives);
    for h in &report.hives {
        let hive = open(dir.path(), &h.path);
        assert!(!hive.on_disk().dirty(), "{} is dirty", h.path);
        let check = hive.check();
        let errors: Vec<_> = check
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", h.path);
        let file = path(dir.path(), &h.path);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for ext in ["LOG1", "LOG2"] {
            let log = std::fs::read_dir(file.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .eq_ignore_ascii_case(&format!("{name}.{ext}"))
                })
                .unwrap_or_else(|| panic!("{} has no {ext}", h.path));
            assert_eq!(std::fs::metadata(log).unwrap().len(), 0);
        }
    }
}

#[test]
fn user_choice_hashes_are_valid_for_the_owner() {
    let (dir, report) = small(12);
    for user in &report.users {
        assert!(user.user_choices.len() >= 8);
        let hive = open(dir.path(), &user.ntuser.path);
        for uc in &user.user_choices {
            let key = hive.key(&uc.key).unwrap().unwrap();
            let prog_id = text(&hive, &uc.key, "ProgId");
            let hash = text(&hive, &uc.key, "Hash");
            let expected = hive::userchoice::user_choice_hash(
                &uc.ext,
                &user.sid,
                &prog_id,
                key.last_written(),
            );
            assert_eq!(hash, expected, "{}: {}", user.name, uc.key);
            assert!(
                sddl(&hive, &uc.key).contains(&format!("D:AI(D;;DC;;;{})", user.sid)),
                "UserChoice starts with the deny ACE"
            );
        }
        let urls = user
            .user_choices
            .iter()
            .filter(|u| u.key.contains("UrlAssociations"))
            .count();
        assert!(urls >= 2);
    }
}

#[test]
fn profile_list_names_every_profile_and_the_temp_pair() {
    let (dir, report) = small(13);
    let sw = open(dir.path(), "Windows\\System32\\config\\SOFTWARE");
    assert_eq!(
        text(&sw, PROFILE_LIST, "ProfilesDirectory"),
        "%SystemDrive%\\Users"
    );
    assert_eq!(
        dword(&sw, &format!("{PROFILE_LIST}\\S-1-5-18"), "Flags"),
        0xC
    );
    assert!(
        text(
            &sw,
            &format!("{PROFILE_LIST}\\S-1-5-19"),
            "ProfileImagePath"
        )
        .ends_with("LocalService")
    );
    for user in &report.users {
        let key = format!("{PROFILE_LIST}\\{}", user.profile_list_key);
        assert_eq!(text(&sw, &key, "ProfileImagePath"), user.profile_path);
        assert_eq!(dword(&sw, &key, "State"), 0);
        assert_eq!(dword(&sw, &key, "RefCount"), 0);
        assert_eq!(dword(&sw, &key, "FullProfile"), 1);
        assert_ne!(dword(&sw, &key, "LocalProfileLoadTimeHigh"), 0);
        let sid_bytes = sw
            .key(&key)
            .unwrap()
            .unwrap()
            .value("Sid")
            .unwrap()
            .unwrap()
            .data()
            .unwrap()
            .to_vec();
        assert_eq!(
            ntsec::Sid::from_bytes(&sid_bytes).unwrap().0.to_string(),
            user.sid
        );
    }
    // alice: `.bak` holds her real profile, the live key a TEMP profile.
    let alice = report
        .users
        .iter()
        .find(|u| u.kind == AccountKind::Domain)
        .unwrap();
    assert!(alice.sid.starts_with("S-1-5-21-") && alice.sid.starts_with(&report.domain_sid));
    let live = format!("{PROFILE_LIST}\\{}", alice.sid);
    assert_eq!(text(&sw, &live, "ProfileImagePath"), "C:\\Users\\TEMP");
    assert_eq!(dword(&sw, &live, "State") & 0x800, 0x800);
    let guid = text(&sw, &format!("{PROFILE_LIST}\\{}.bak", alice.sid), "Guid");
    assert_eq!(
        text(
            &sw,
            &format!("Microsoft\\Windows NT\\CurrentVersion\\ProfileGuid\\{guid}"),
            "SidString"
        ),
        alice.sid
    );
    let bob = report
        .users
        .iter()
        .find(|u| u.kind == AccountKind::Entra)
        .unwrap();
    assert!(bob.sid.starts_with("S-1-12-1-"));
    assert_eq!(bob.logon_name, "AzureAD\\bob");
    let carol = report
        .users
        .iter()
        .find(|u| u.kind == AccountKind::Local)
        .unwrap();
    assert!(carol.sid.starts_with(&format!("{}-", report.machine_sid)));
}

#[test]
fn software_keeps_the_names_of_domain_and_entra_accounts() {
    let (dir, report) = small(14);
    let sw = open(dir.path(), "Windows\\System32\\config\\SOFTWARE");
    let alice = &report.users[0];
    let bob = &report.users[1];
    let ui = "Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI";
    assert_eq!(text(&sw, ui, "LastLoggedOnUser"), "CORP\\alice");
    assert_eq!(text(&sw, ui, "LastLoggedOnUserSID"), alice.sid);
    assert_eq!(text(&sw, ui, "SelectedUserSID"), alice.sid);
    assert!(
        sw.key(&format!("{ui}\\UserTile"))
            .unwrap()
            .unwrap()
            .value(&bob.sid)
            .unwrap()
            .is_some()
    );
    let cache = format!(
        "Microsoft\\IdentityStore\\Cache\\{0}\\IdentityCache\\{0}",
        bob.sid
    );
    assert_eq!(text(&sw, &cache, "SAMName"), "bob");
    assert!(text(&sw, &cache, "UserName").starts_with("bob@"));
    let gp = "Microsoft\\Windows\\CurrentVersion\\Group Policy";
    assert!(
        text(
            &sw,
            &format!("{gp}\\State\\{}", alice.sid),
            "Distinguished-Name"
        )
        .starts_with("CN=Alice")
    );
    assert_eq!(
        text(
            &sw,
            &format!("{gp}\\DataStore\\{}\\0", alice.sid),
            "szTargetName"
        ),
        "CORP\\alice"
    );
    let tasks = dir.path().join("Windows/System32/Tasks");
    let xml = std::fs::read(tasks.join(format!("OneDrive Standalone Update Task-{}", alice.sid)))
        .unwrap();
    let units: Vec<u16> = xml[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert!(String::from_utf16_lossy(&units).contains(&format!("<UserId>{}</UserId>", alice.sid)));
}

#[test]
fn user_hives_look_like_windows_own() {
    let (dir, report) = small(15);
    for user in &report.users {
        let nt = open(dir.path(), &user.ntuser.path);
        let top: Vec<String> = nt
            .root()
            .unwrap()
            .subkeys()
            .unwrap()
            .iter()
            .map(|k| k.name())
            .collect();
        for want in [
            "AppEvents",
            "Console",
            "Control Panel",
            "Environment",
            "EUDC",
            "Keyboard Layout",
            "Network",
            "Printers",
            "Software",
            "System",
        ] {
            assert!(
                top.iter().any(|t| t == want),
                "{}: no {want} in {top:?}",
                user.name
            );
        }
        assert!(nt.key("Software\\Classes").unwrap().is_none());
        assert!(nt.key("Volatile Environment").unwrap().is_none());
        assert_eq!(
            nt.on_disk().embedded_name,
            format!("\\??\\C:\\Users\\{}\\ntuser.dat", user.name)
        );
        assert!(
            (1150..1300).contains(&user.ntuser.keys),
            "{} keys",
            user.ntuser.keys
        );
        // Descriptor families: many keys share few sk cells, all naming the user.
        let cells = nt.security_cells().unwrap();
        assert!((20..60).contains(&cells.len()), "{} sk cells", cells.len());
        let with_user = cells.iter().filter(|s| {
            ntsec::SecurityDescriptor::from_bytes(s.descriptor())
                .unwrap()
                .sids()
                .any(|x| x.to_string() == user.sid)
        });
        assert!(with_user.count() + 2 >= cells.len());
        let all: Vec<String> = cells
            .iter()
            .map(|s| {
                ntsec::SecurityDescriptor::from_bytes(s.descriptor())
                    .unwrap()
                    .to_sddl()
            })
            .collect();
        assert!(
            all.iter().any(|s| s.contains(&format!("O:{}G:", user.sid))),
            "user-created family"
        );
        assert!(
            all.iter().any(|s| s.contains("OICIIO;GA;;;SY")),
            "Group Policy IO ACEs"
        );
        assert!(
            all.iter().any(|s| s.contains("(ML;OICI;NW;;;LW)")),
            "Low label"
        );
        assert!(
            all.iter().any(|s| s.contains("NW;;;HI")),
            "High label on ProtectedRoots"
        );
        assert!(
            all.iter().any(|s| s.contains("S-1-5-80-956008885")),
            "TrustedInstaller"
        );
        assert!(
            all.iter().any(|s| s.starts_with("O:BAG:SYD:P(")),
            "protected root"
        );
        let sf = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Shell Folders";
        assert_eq!(
            text(&nt, sf, "Personal"),
            format!("{}\\Documents", user.profile_path)
        );
        let roots = "Software\\Microsoft\\Windows Search\\ProcessedSearchRoots\\0000";
        assert_eq!(
            text(&nt, roots, ""),
            format!("defaultroot://{{{}}}/", user.sid)
        );
        let gm = "Software\\Microsoft\\Windows\\CurrentVersion\\Group Policy\\GroupMembership";
        assert_eq!(
            dword(&nt, gm, "Count") as usize,
            nt.key(gm).unwrap().unwrap().value_count() as usize - 1
        );

        let uc = open(dir.path(), &user.usrclass.path);
        assert_eq!(uc.root().unwrap().name(), format!("{}_Classes", user.sid));
        assert!(
            uc.on_disk()
                .embedded_name
                .ends_with("\\Microsoft\\Windows\\UsrClass.dat")
        );
        let mrt = uc.key("Local Settings\\MrtCache").unwrap().unwrap();
        let names: Vec<String> = mrt.subkeys().unwrap().iter().map(|k| k.name()).collect();
        assert!(
            names
                .iter()
                .any(|n| n.contains(&format!("{}-MergedResources-", user.sid)))
        );
        for sub in [
            "MuiCache",
            "MrtCache",
            "Software\\Microsoft\\Windows\\CurrentVersion\\AppModel",
            "Software\\Microsoft\\Windows\\CurrentVersion\\AppContainer",
        ] {
            assert!(
                uc.key(&format!("Local Settings\\{sub}")).unwrap().is_some(),
                "{sub}"
            );
        }
    }
}

#[test]
fn the_tree_has_known_folders_hive_companions_and_junctions() {
    let (dir, report) = small(16);
    assert!(!report.descriptors_set, "a tempdir is not NTFS");
    assert!(report.descriptors_note.is_some());
    for user in &report.users {
        let root = dir.path().join("Users").join(&user.name);
        for f in [
            "Desktop",
            "Documents",
            "Downloads",
            "AppData/Local",
            "AppData/LocalLow",
            "AppData/Roaming",
            "Documents/desktop.ini",
            "ntuser.ini",
            "ntuser.dat.LOG1",
        ] {
            assert!(root.join(f).exists(), "{}: {f}", user.name);
        }
        let tm = std::fs::read_dir(&root)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".TMContainer")
            })
            .count();
        assert_eq!(tm, 2);
        assert!(
            root.join(format!(
                "AppData/Roaming/Microsoft/Protect/{}/Preferred",
                user.sid
            ))
            .is_file()
        );
        assert!(
            root.join("AppData/Local/Microsoft/Windows/UsrClass.dat.LOG2")
                .is_file()
        );
        let total = user.tree.files + user.tree.folders + user.tree.junctions;
        assert!(total >= 150, "{total} entries");
        assert_eq!(user.tree.junctions, 16);
        #[cfg(unix)]
        {
            let target = std::fs::read_link(root.join("My Documents")).unwrap();
            assert_eq!(target, std::path::PathBuf::from("Documents"));
            assert!(root.join("Application Data").join("Microsoft").is_dir());
        }
    }
    assert!(dir.path().join("Users/Default/NTUSER.DAT").is_file());
    assert!(
        dir.path()
            .join("Windows/ServiceProfiles/NetworkService/NTUSER.DAT")
            .is_file()
    );
    assert!(
        dir.path()
            .join(format!("$Recycle.Bin/{}/desktop.ini", report.users[2].sid))
            .is_file()
    );
}

#[test]
fn hive_keys_scale_linearly_with_bounded_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let options = sample::Options {
        seed: Some(3),
        files: 60,
        hive_keys: 20_000,
    };
    let report = sample::create(dir.path(), &options).unwrap();
    let alice = &report.users[0];
    assert!(
        (19_900..20_100).contains(&alice.ntuser.keys),
        "{}",
        alice.ntuser.keys
    );
    let nt = open(dir.path(), &alice.ntuser.path);
    let widest = nt
        .all_key_offsets()
        .unwrap()
        .into_iter()
        .map(|k| nt.key_at(k).unwrap().subkey_count())
        .max()
        .unwrap();
    assert!(widest <= 40, "a key with {widest} subkeys");
    assert!(
        sample::create(dir.path(), &options).is_err(),
        "refuses a folder that has a volume"
    );
}
