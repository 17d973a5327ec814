//! `admu migrate --dpapi` on the NTFS test bed, with impacket's `dpapi.py` as the
//! independent reader: the sample's master keys open with alice's old domain password
//! and with the domain backup key `admu sample create --dpapi-backup-key` saves; after
//! the migration the new `Protect\<new SID>` keys open with the new SID and password to
//! the same master keys, and every Credential Manager file still decrypts to the same
//! secret. `admu revert` puts the volume back; bad input changes nothing.

#![allow(clippy::panic, reason = "test helpers report what they found")]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const OLD_PASSWORD: &str = sample::protect::OLD_PASSWORD;

struct Impacket {
    python: PathBuf,
    dpapi_py: PathBuf,
}

impl Impacket {
    fn find(test: &str) -> Option<Impacket> {
        let python = testbed::python_with(test, &["impacket"])?;
        let dpapi_py = testbed::require_oracle(test, "dpapi.py")?;
        Some(Impacket { python, dpapi_py })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(&self.dpapi_py)
            .args(args)
            .output()
            .expect("run dpapi.py");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The master key `dpapi.py masterkey ARGS` prints (hex).
    fn masterkey(&self, file: &Path, args: &[&str]) -> String {
        let mut full = vec!["masterkey", "-file", file.to_str().expect("UTF-8")];
        full.extend_from_slice(args);
        let text = self.run(&full);
        text.lines()
            .find_map(|l| l.trim().strip_prefix("Decrypted key: 0x"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("dpapi.py masterkey {args:?} on {}: {text}", file.display()))
    }

    /// (target, user name, secret) of a Credential Manager file.
    fn credential(&self, file: &Path, key_hex: &str) -> (String, String, String) {
        let key = format!("0x{key_hex}");
        let text = self.run(&[
            "credential",
            "-file",
            file.to_str().expect("UTF-8"),
            "-key",
            &key,
        ]);
        let field = |name: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim() == name).then(|| v.trim().trim_end_matches('\0').to_string())
                })
                .collect()
        };
        let (target, user, unknown) = (field("Target"), field("Username"), field("Unknown"));
        assert!(
            !target.is_empty() && !user.is_empty() && !unknown.is_empty(),
            "dpapi.py credential {}: {text}",
            file.display()
        );
        (
            target[0].clone(),
            user[0].clone(),
            unknown.last().cloned().unwrap_or_default(),
        )
    }
}

fn protect(bed: &Bed) -> PathBuf {
    bed.path()
        .join("Users/alice/AppData/Roaming/Microsoft/Protect")
}

fn credentials_dir(bed: &Bed) -> PathBuf {
    bed.path()
        .join("Users/alice/AppData/Roaming/Microsoft/Credentials")
}

/// Master key files of a `Protect\<SID>` folder, by GUID.
fn key_files(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().len() == 36)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect()
}

/// Every file below a folder with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|(_, kind)| kind.is_file())
        .map(|(rel, _)| {
            let bytes = std::fs::read(dir.join(&rel)).expect("read");
            (rel, bytes)
        })
        .collect()
}

/// The domain backup key of the sample (seed 7), from `admu sample create
/// --dpapi-backup-key` into a scratch folder.
fn backup_pvk(dir: &tempfile::TempDir) -> PathBuf {
    let pvk = dir.path().join("backup.pvk");
    let vol = dir.path().join("vol");
    expect_ok(
        admu(&[
            "sample",
            "create",
            vol.to_str().expect("UTF-8"),
            "--seed",
            SEED,
            "--files",
            "20",
            "--hive-keys",
            "200",
            "--dpapi-backup-key",
            pvk.to_str().expect("UTF-8"),
        ]),
        "admu sample create --dpapi-backup-key",
    );
    assert!(
        !contents(&vol)
            .values()
            .any(|b| b.starts_with(&0xb0b5_f11e_u32.to_le_bytes())),
        "the backup key must not be on the volume"
    );
    pvk
}

/// The new SID's folder next to the old one.
fn new_folder(bed: &Bed, old: &str) -> (String, PathBuf) {
    let found: Vec<_> = std::fs::read_dir(protect(bed))
        .expect("Protect")
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("S-1-") && n != old
        })
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    assert_eq!(found.len(), 1, "one new Protect folder: {found:?}");
    found[0].clone()
}

/// Before: the keys open in impacket with the old SID + password and with the .pvk.
/// Returns GUID → key (hex) and credential file → (target, user, secret).
type Before = (
    BTreeMap<String, String>,
    BTreeMap<String, (String, String, String)>,
);

fn before(o: &Impacket, bed: &Bed, pvk: &Path) -> Before {
    let old = bed.alice_sid();
    let keys = key_files(&protect(bed).join(&old));
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut out = BTreeMap::new();
    for (guid, file) in &keys {
        let by_password = o.masterkey(file, &["-sid", &old, "-password", OLD_PASSWORD]);
        let by_pvk = o.masterkey(file, &["-pvk", pvk.to_str().expect("UTF-8")]);
        assert_eq!(by_password, by_pvk, "{guid}");
        out.insert(guid.clone(), by_password);
    }
    let preferred = std::fs::read(protect(bed).join(&old).join("Preferred")).expect("Preferred");
    let preferred = dpapi::Preferred::parse(&preferred).expect("Preferred parses");
    let key = &out[&preferred.guid.to_string()];
    let mut creds = BTreeMap::new();
    for e in std::fs::read_dir(credentials_dir(bed))
        .expect("Credentials")
        .flatten()
    {
        let c = o.credential(&e.path(), key);
        creds.insert(e.file_name().to_string_lossy().into_owned(), c);
    }
    let expected: Vec<(String, String, String)> = sample::protect::CREDENTIALS
        .iter()
        .map(|(t, u, s)| (t.to_string(), u.to_string(), s.to_string()))
        .collect();
    let mut got: Vec<_> = creds.values().cloned().collect();
    got.sort();
    let mut want = expected;
    want.sort();
    assert_eq!(got, want, "the sample's saved credentials");
    (out, creds)
}

/// After: the new folder's keys open with the new SID + password to the same keys, and
/// every credential file decrypts with them to the same secret.
fn after(o: &Impacket, bed: &Bed, was: &Before) -> PathBuf {
    let old = bed.alice_sid();
    let (new_sid, dir) = new_folder(bed, &old);
    let keys = key_files(&dir);
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        was.0.keys().collect::<Vec<_>>()
    );
    for (guid, file) in &keys {
        let key = o.masterkey(file, &["-sid", &new_sid, "-password", PASSWORD]);
        assert_eq!(&key, &was.0[guid], "{guid}: the same master key");
        let text = o.run(&[
            "masterkey",
            "-file",
            file.to_str().expect("UTF-8"),
            "-sid",
            &old,
            "-password",
            OLD_PASSWORD,
        ]);
        assert!(
            !text.contains("Decrypted key: 0x"),
            "old SID + password: {text}"
        );
    }
    let preferred_old = std::fs::read(protect(bed).join(&old).join("Preferred")).expect("old");
    let preferred_new = std::fs::read(dir.join("Preferred")).expect("new Preferred");
    assert_eq!(preferred_old, preferred_new);
    let preferred = dpapi::Preferred::parse(&preferred_new).expect("parses");
    let key = &was.0[&preferred.guid.to_string()];
    for (name, secret) in &was.1 {
        let c = o.credential(&credentials_dir(bed).join(name), key);
        assert_eq!(&c, secret, "{name}");
    }
    let credhist = std::fs::read(protect(bed).join("CREDHIST")).expect("CREDHIST");
    assert_eq!(credhist.len(), 24, "a fresh, empty CREDHIST");
    // admu dpapi agrees: every new key opens with the new password.
    let out = expect_ok(
        admu_with(
            &["--json", "dpapi", "--root", bed.r(), "--sid", &new_sid],
            &[("ADMU_OLD_PASSWORD", PASSWORD)],
        ),
        "admu dpapi on the new SID",
    );
    let listing = json_of(&out, "admu dpapi");
    for k in listing["master_keys"].as_array().expect("keys") {
        assert_eq!(k["opens"], true, "{listing}");
    }
    dir
}

fn migrate_and_revert(test: &str, extra: &[&str], env: &[(&str, &str)]) {
    let Some(bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let Some(o) = Impacket::find(test) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let pvk = backup_pvk(&scratch);
    let was = before(&o, &bed, &pvk);
    let snapshot = bed.snapshot();
    let protect_before = contents(&protect(&bed));
    let mut args = bed.migrate_args("alice.local", &["--dpapi"]);
    let pvk_text = pvk.to_str().expect("UTF-8").to_string();
    for a in extra {
        args.push(if *a == "PVK" {
            pvk_text.clone()
        } else {
            a.to_string()
        });
    }
    expect_ok(admu_with(&strs(&args), env), "admu migrate --dpapi");
    let dir = after(&o, &bed, &was);
    expect_ok(
        admu(&["revert", "--root", bed.r(), "--name", "alice.local"]),
        "admu revert",
    );
    assert!(!dir.exists(), "revert removes {}", dir.display());
    assert_eq!(
        contents(&protect(&bed)),
        protect_before,
        "revert puts Protect back byte for byte"
    );
    assert_same(&snapshot, &bed.snapshot(), "migrate --dpapi, then revert");
}

#[test]
fn migrate_dpapi_with_the_old_password_carries_the_master_keys() {
    migrate_and_revert(
        "migrate_dpapi_with_the_old_password_carries_the_master_keys",
        &[],
        &[("ADMU_OLD_PASSWORD", OLD_PASSWORD)],
    );
}

#[test]
fn migrate_dpapi_with_the_domain_backup_key_carries_the_master_keys() {
    migrate_and_revert(
        "migrate_dpapi_with_the_domain_backup_key_carries_the_master_keys",
        &["--dpapi-backup-key", "PVK"],
        &[],
    );
}

#[test]
fn wrong_old_password_or_corrupt_master_key_changes_nothing() {
    const TEST: &str = "wrong_old_password_or_corrupt_master_key_changes_nothing";
    let Some(bed) = Bed::new(TEST, Some(40)) else {
        return;
    };
    let old = bed.alice_sid();
    let keys = key_files(&protect(&bed).join(&old));
    let snapshot = bed.snapshot();
    let protect_before = contents(&protect(&bed));
    let args = bed.migrate_args("alice.local", &["--dpapi"]);
    let out = admu_with(&strs(&args), &[("ADMU_OLD_PASSWORD", "not her password")]);
    expect_exit(&out, 3, "wrong old password", "DPAPI master keys");
    for guid in keys.keys() {
        assert!(
            all_text(&out).contains(guid.as_str()),
            "names {guid}: {}",
            shown(&out)
        );
    }
    assert_same(&snapshot, &bed.snapshot(), "wrong old password");
    assert_eq!(contents(&protect(&bed)), protect_before);

    // A truncated master key file: named, refused, nothing changed.
    let (guid, file) = keys.iter().next().expect("a key");
    let bytes = std::fs::read(file).expect("read");
    std::fs::write(file, &bytes[..100]).expect("truncate");
    let snapshot = bed.snapshot();
    let out = admu_with(&strs(&args), &[("ADMU_OLD_PASSWORD", OLD_PASSWORD)]);
    expect_exit(&out, 3, "corrupt master key", "corrupt master key file");
    assert!(all_text(&out).contains(guid.as_str()), "{}", shown(&out));
    assert_same(&snapshot, &bed.snapshot(), "corrupt master key");
    assert!(
        std::fs::read_dir(protect(&bed))
            .expect("Protect")
            .flatten()
            .all(
                |e| !e.file_name().to_string_lossy().starts_with("S-1-5-21-")
                    || e.file_name().to_string_lossy() == old
            ),
        "no new folder"
    );
    // --dpapi-partial carries the other key.
    let args = bed.migrate_args("alice.local", &["--dpapi", "--dpapi-partial"]);
    expect_ok(
        admu_with(&strs(&args), &[("ADMU_OLD_PASSWORD", OLD_PASSWORD)]),
        "migrate --dpapi --dpapi-partial",
    );
    let (_, dir) = new_folder(&bed, &old);
    let carried = key_files(&dir);
    assert_eq!(carried.len(), 1, "{carried:?}");
    assert!(!carried.contains_key(guid.as_str()));
}
