//! Our SAMs judged by tools we did not write: impacket's `secretsdump.py` (users and the
//! NT hashes of the passwords we set), Debian's `samdump2` and `chntpw -l` (users,
//! administrators), regipy's SAM and SYSTEM plugins (machine SID, flags, boot key,
//! computer name). Generated pairs of both schemes are checked after every kind of
//! write; the real fixtures are checked as read and after edits.
#![cfg(test)]
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sam::{AliasDomain, KeyScheme, NewUser, PairSpec, Sam, alias, crypto, generate_pair};
use serde_json::Value as Json;

const EMPTY_NT: &str = "31d6cfe0d16ae931b73c59d7e0c089c0";

struct Oracles {
    secretsdump: PathBuf,
    samdump2: PathBuf,
    chntpw: PathBuf,
    python: PathBuf,
}

fn oracles(test: &str) -> Option<Oracles> {
    Some(Oracles {
        secretsdump: testbed::require_oracle(test, "secretsdump.py")?,
        samdump2: testbed::require_oracle(test, "samdump2")?,
        chntpw: testbed::require_oracle(test, "chntpw")?,
        python: testbed::python_with(test, &["regipy"])?,
    })
}

fn run(program: &Path, args: &[&Path]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name:rid:lm:nt:::` lines of secretsdump → rid → (name, nt).
fn secretsdump(o: &Oracles, sam: &Path, system: &Path) -> BTreeMap<u32, (String, String)> {
    let out = Command::new(&o.secretsdump)
        .arg("-sam")
        .arg(sam)
        .arg("-system")
        .arg(system)
        .arg("LOCAL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Dumping local SAM hashes"),
        "secretsdump failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hash_lines(&text, "")
}

fn hash_lines(text: &str, strip: &str) -> BTreeMap<u32, (String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l
                .trim_start_matches(strip)
                .trim_start_matches("*disabled* ");
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[1].parse::<u32>().is_ok())
                .then(|| (f[1].parse().unwrap(), (f[0].to_string(), f[3].to_string())))
        })
        .collect()
}

/// `chntpw -l`: rid → (name, admin, disabled-or-locked).
fn chntpw(o: &Oracles, sam: &Path) -> BTreeMap<u32, (String, bool, bool)> {
    run(&o.chntpw, &[Path::new("-l"), sam])
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let rid = u32::from_str_radix(cells.get(1)?, 16).ok()?;
            Some((
                rid,
                (
                    cells[2].to_string(),
                    cells[3] == "ADMIN",
                    cells[4] == "dis/lock",
                ),
            ))
        })
        .collect()
}

fn regipy(o: &Oracles, sam: &Path, system: Option<&Path>) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/regipy_sam.py");
    let mut cmd = Command::new(&o.python);
    cmd.arg(script).arg(sam);
    if let Some(s) = system {
        cmd.arg(s);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "regipy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Where a user's name starts in its `V` data area.
fn name_offset(sam: &Sam, rid: u32) -> u32 {
    let key = sam
        .hive()
        .key(&format!(r"SAM\Domains\Account\Users\{rid:08X}"))
        .unwrap()
        .unwrap();
    let v = key.value("V").unwrap().unwrap().data().unwrap();
    u32::from_le_bytes(v[0x0C..0x10].try_into().unwrap())
}

/// Every oracle against what we read (with `passwords` we set, by RID).
fn assert_oracles_agree(
    o: &Oracles,
    sam_path: &Path,
    system_path: &Path,
    passwords: &BTreeMap<u32, &str>,
    label: &str,
) {
    let ours = Sam::open_with_system(sam_path, system_path).unwrap();
    ours.validate().unwrap();
    let users = ours.users().unwrap();
    let admins = ours
        .alias(AliasDomain::Builtin, alias::ADMINISTRATORS)
        .unwrap()
        .members;
    let scheme = ours.scheme().unwrap();

    let dumped = secretsdump(o, sam_path, system_path);
    assert_eq!(
        dumped.keys().copied().collect::<Vec<_>>(),
        users.iter().map(|u| u.rid).collect::<Vec<_>>(),
        "{label}: secretsdump users"
    );
    for user in &users {
        let (name, nt) = &dumped[&user.rid];
        assert_eq!(
            name, &user.name,
            "{label}: secretsdump name of {}",
            user.rid
        );
        let ours_nt = ours
            .nt_hash(user.rid)
            .unwrap()
            .map_or(EMPTY_NT.to_string(), |h| crypto::hex(&h));
        assert_eq!(
            nt, &ours_nt,
            "{label}: secretsdump NT hash of {}",
            user.name
        );
        if let Some(pw) = passwords.get(&user.rid) {
            assert_eq!(
                nt,
                &crypto::hex(&crypto::nt_hash(pw)),
                "{label}: NT hash of the password we set for {}",
                user.name
            );
        }
    }

    // samdump2 3.0 reads RC4 hashes only, and takes only the low byte of the name's
    // offset in V: names stored past 0x100 come out as garbage (so it does for Windows'
    // own accounts in the turbinia SAM).
    let samdump = hash_lines(&run(&o.samdump2, &[system_path, sam_path]), "");
    assert_eq!(
        samdump.keys().collect::<Vec<_>>(),
        dumped.keys().collect::<Vec<_>>(),
        "{label}: samdump2 users"
    );
    for (rid, (name, nt)) in &samdump {
        if name_offset(&ours, *rid) < 0x100 {
            assert_eq!(name, &dumped[rid].0, "{label}: samdump2 name of {rid}");
        }
        if scheme == KeyScheme::Rc4 {
            assert_eq!(nt, &dumped[rid].1, "{label}: samdump2 hash of {rid}");
        }
    }

    let listed = chntpw(o, sam_path);
    assert_eq!(listed.len(), users.len(), "{label}: chntpw users");
    for user in &users {
        let (name, admin, off) = &listed[&user.rid];
        assert_eq!(name, &user.name, "{label}: chntpw name");
        assert_eq!(
            *admin,
            admins.contains(&user.sid),
            "{label}: chntpw admin flag of {}",
            user.name
        );
        assert_eq!(
            *off,
            user.disabled(),
            "{label}: chntpw disabled flag of {}",
            user.name
        );
    }

    let json = regipy(o, sam_path, Some(system_path));
    assert_eq!(
        json["sam"]["machine_sid"],
        ours.machine_sid().unwrap().to_string(),
        "{label}: regipy machine SID"
    );
    let regipy_users: Vec<(u64, u64)> = json["sam"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["rid"].as_u64().unwrap(), u["flags"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(u64, u64)> = users
        .iter()
        .map(|u| (u64::from(u.rid), u64::from(u.flags)))
        .collect();
    assert_eq!(regipy_users, expected, "{label}: regipy samparse");
    let system = ours.system().unwrap();
    assert_eq!(
        json["system"]["bootkey"],
        crypto::hex(&system.boot_key),
        "{label}: regipy boot key"
    );
    assert_eq!(
        json["system"]["computer_name"].as_str(),
        system.computer_name.as_deref(),
        "{label}: regipy computer name"
    );
}

#[test]
fn generated_pairs_agree_with_every_oracle_after_every_write() {
    let Some(o) = oracles("generated_pairs_agree_with_every_oracle_after_every_write") else {
        return;
    };
    for scheme in [KeyScheme::Aes, KeyScheme::Rc4] {
        let dir = tempfile::tempdir().unwrap();
        let pair = generate_pair(&PairSpec {
            seed: Some(11),
            scheme,
            ..PairSpec::default()
        })
        .unwrap();
        let files = pair.write_to(dir.path()).unwrap();
        let mut passwords = BTreeMap::new();
        let label = |step: &str| format!("{scheme:?} after {step}");
        assert_oracles_agree(
            &o,
            &files.sam,
            &files.system,
            &passwords,
            &label("generation"),
        );

        let open = || Sam::open_with_system(&files.sam, &files.system).unwrap();
        let mut s = open();
        let alice = s
            .create_user(&NewUser {
                name: "alice",
                password: Some("Alice pw 1"),
                admin: true,
                ..NewUser::default()
            })
            .unwrap();
        let bob = s
            .create_user(&NewUser {
                name: "Bob.Smith",
                password: Some("hunter2"),
                full_name: "Bob Smith",
                ..NewUser::default()
            })
            .unwrap();
        let owner = s
            .create_user(&NewUser {
                name: "owner",
                password: Some("Owner-2024"),
                setup_account: true,
                ..NewUser::default()
            })
            .unwrap();
        s.save().unwrap();
        passwords.insert(alice.rid, "Alice pw 1");
        passwords.insert(bob.rid, "hunter2");
        passwords.insert(owner.rid, "Owner-2024");
        assert_oracles_agree(&o, &files.sam, &files.system, &passwords, &label("create"));

        let mut s = open();
        s.set_password(bob.rid, "n3w pässword").unwrap();
        s.save().unwrap();
        passwords.insert(bob.rid, "n3w pässword");
        assert_oracles_agree(
            &o,
            &files.sam,
            &files.system,
            &passwords,
            &label("set password"),
        );

        let mut s = open();
        s.set_disabled(alice.rid, true).unwrap();
        assert!(
            s.add_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &bob.sid)
                .unwrap()
        );
        s.save().unwrap();
        assert_oracles_agree(
            &o,
            &files.sam,
            &files.system,
            &passwords,
            &label("disable + add to Administrators"),
        );

        let mut s = open();
        s.set_disabled(alice.rid, false).unwrap();
        assert!(
            s.remove_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &bob.sid)
                .unwrap()
        );
        s.delete_user(alice.rid).unwrap();
        s.save().unwrap();
        passwords.remove(&alice.rid);
        assert_oracles_agree(&o, &files.sam, &files.system, &passwords, &label("delete"));
        assert!(open().users().unwrap().iter().all(|u| u.rid != alice.rid));
    }
}

fn copy_fixture(test: &str, name: &str, dir: &Path) -> Option<PathBuf> {
    let src = testbed::fixture(test, name)?;
    let dst = dir.join(name.replace('/', "_"));
    std::fs::copy(src, &dst).unwrap();
    let mut perms = std::fs::metadata(&dst).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&dst, perms).unwrap();
    Some(dst)
}

/// chntpw and regipy (no SYSTEM for the fixtures) against what we read.
fn assert_fixture_agrees(o: &Oracles, path: &Path, label: &str) {
    let ours = Sam::open(path).unwrap();
    let users = ours.users().unwrap();
    let admins = ours
        .alias(AliasDomain::Builtin, alias::ADMINISTRATORS)
        .unwrap()
        .members;
    let listed = chntpw(o, path);
    let expected: BTreeMap<u32, (String, bool, bool)> = users
        .iter()
        .map(|u| {
            (
                u.rid,
                (u.name.clone(), admins.contains(&u.sid), u.disabled()),
            )
        })
        .collect();
    assert_eq!(listed, expected, "{label}: chntpw");
    let json = regipy(o, path, None);
    assert_eq!(
        json["sam"]["machine_sid"],
        ours.machine_sid().unwrap().to_string(),
        "{label}: regipy SID"
    );
    let theirs: Vec<(u64, u64, u64)> = json["sam"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["rid"].as_u64().unwrap(),
                u["flags"].as_u64().unwrap(),
                u["login_count"].as_u64().unwrap(),
            )
        })
        .collect();
    let ours_rows: Vec<(u64, u64, u64)> = users
        .iter()
        .map(|u| {
            (
                u64::from(u.rid),
                u64::from(u.flags),
                u64::from(u.logon_count),
            )
        })
        .collect();
    assert_eq!(theirs, ours_rows, "{label}: regipy samparse");
}

#[test]
fn fixtures_read_as_chntpw_and_regipy_read_them_also_after_edits() {
    let test = "fixtures_read_as_chntpw_and_regipy_read_them_also_after_edits";
    let Some(o) = oracles(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, victim) in [("regipy/SAM", 1000), ("turbinia/SAM", 1005)] {
        let Some(path) = copy_fixture(test, name, dir.path()) else {
            return;
        };
        assert_fixture_agrees(&o, &path, name);
        // Edits that need no boot key: disable, group membership, delete.
        let mut s = Sam::open(&path).unwrap();
        let before = s.users().unwrap().len();
        let admin = s.user(500).unwrap();
        s.set_disabled(500, !admin.disabled()).unwrap();
        let guest = s.account_sid(501).unwrap();
        s.add_alias_member(AliasDomain::Builtin, alias::REMOTE_DESKTOP_USERS, &guest)
            .unwrap();
        s.delete_user(victim).unwrap();
        s.save().unwrap();
        assert_fixture_agrees(&o, &path, &format!("{name} after edits"));
        let s = Sam::open(&path).unwrap();
        assert_eq!(s.users().unwrap().len(), before - 1);
        assert_ne!(s.user(500).unwrap().disabled(), admin.disabled());
        assert!(
            s.aliases_of(&guest)
                .unwrap()
                .iter()
                .any(|a| a.rid == alias::REMOTE_DESKTOP_USERS)
        );
    }
}
