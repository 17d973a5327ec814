//! Bad input: a wrong password, truncated and corrupt files, unknown algorithm ids.
//! Every case must give an error that says what and where; none may panic (a mutation
//! loop over our own files and a proptest over random bytes check that).
#![cfg(test)]

use dpapi::{
    AlgId, BackupKey, BlobOptions, CipherSuite, CredHistFile, CredentialFile, Derivation,
    DomainBackup, DpapiBlob, Error, MasterKey, MasterKeyFile, NewMasterKeyFile, PreKey, Preferred,
    SeededRng, Sid,
};
use proptest::prelude::*;

const SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1106";
const PASSWORD: &str = "Right password";

fn sid() -> Sid {
    SID.parse().unwrap()
}

/// A domain user's master key file with every section; `rounds` low to keep the loops fast.
fn sample_file(
    suite: CipherSuite,
    rounds: u32,
    seed: u64,
) -> (MasterKeyFile, MasterKey, BackupKey) {
    let mut rng = SeededRng::new(seed);
    let backup = BackupKey::generate(&mut rng, 1024).unwrap();
    let key = MasterKey::generate(&mut rng).unwrap();
    let file = MasterKeyFile::create(
        &NewMasterKeyFile {
            guid: dpapi::guid::random(&mut rng).unwrap(),
            key: &key,
            sid: &sid(),
            password: PASSWORD,
            derivation: Derivation::DomainNt,
            suite,
            rounds,
            credhist: dpapi::guid::random(&mut rng).unwrap(),
            dpapi_system: None,
            local_key: None,
            domain_backup: Some(DomainBackup {
                public_key: &backup.public_key(),
                key_guid: dpapi::guid::random(&mut rng).unwrap(),
            }),
        },
        &mut rng,
    )
    .unwrap();
    (file, key, backup)
}

#[test]
fn wrong_password_is_a_clear_error() {
    for suite in [CipherSuite::TripleDesSha1, CipherSuite::Aes256Sha512] {
        let (file, key, _) = sample_file(suite, 4000, 1);
        let err = file
            .decrypt_with_password(&sid(), "Wrong password")
            .unwrap_err();
        assert!(matches!(err, Error::WrongKey { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("HMAC check failed"), "{text}");
        assert!(text.contains(SID), "names the SID it tried: {text}");
        // Right password, wrong SID: the same.
        let other: Sid = "S-1-5-21-1004336348-1177238915-682003330-1107"
            .parse()
            .unwrap();
        assert!(matches!(
            file.decrypt_with_password(&other, PASSWORD),
            Err(Error::WrongKey { .. })
        ));
        // A wrong master key on a blob.
        let mut rng = SeededRng::new(2);
        let blob = DpapiBlob::encrypt(
            b"x",
            &key,
            file.guid().unwrap(),
            &BlobOptions {
                suite,
                ..BlobOptions::default()
            },
            &mut rng,
        )
        .unwrap();
        let wrong = MasterKey::generate(&mut rng).unwrap();
        let err = blob.decrypt(&wrong, None).unwrap_err();
        assert!(matches!(err, Error::WrongKey { .. }), "{err}");
        assert!(
            err.to_string().contains(&file.guid().unwrap().to_string()),
            "{err}"
        );
        // A wrong RSA key on the domain backup block.
        let other_key = BackupKey::generate(&mut rng, 1024).unwrap();
        let err = file.decrypt_with_backup_key(&other_key).unwrap_err();
        assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    }
}

#[test]
fn truncated_master_key_files_name_the_offset() {
    let (file, _, _) = sample_file(CipherSuite::Aes256Sha512, 10, 3);
    let bytes = file.to_bytes();
    let sections = [
        (0x80usize, "master key block"),
        (0x80 + 176, "backup block"),
        (0x80 + 176 + 144, "CREDHIST reference"),
        (0x80 + 176 + 144 + 20, "domain backup block"),
    ];
    for len in 0..bytes.len() {
        let err = MasterKeyFile::parse(&bytes[..len]).unwrap_err();
        let Error::Truncated { offset, field, .. } = &err else {
            panic!("cut at {len}: {err}");
        };
        assert!(*offset as usize <= len, "cut at {len}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("offset {offset:#x}")), "{text}");
        if len >= 0x80 {
            // Past the header, the error names the section that does not fit, at its start.
            let (start, name) = sections.iter().rev().find(|(s, _)| *s <= len).unwrap();
            assert_eq!(
                (*offset as usize, field.as_str()),
                (*start, *name),
                "cut at {len}: {text}"
            );
        }
    }
    assert_eq!(MasterKeyFile::parse(&bytes).unwrap(), file);
}

#[test]
fn unknown_algorithm_ids_are_named_with_their_offset() {
    let (file, _, _) = sample_file(CipherSuite::TripleDesSha1, 10, 4);
    let mut bytes = file.to_bytes();
    // The master key block's cipher ALG_ID at 0x80 + 28.
    bytes[0x80 + 28..0x80 + 32].copy_from_slice(&0x6609u32.to_le_bytes());
    let parsed = MasterKeyFile::parse(&bytes).unwrap();
    assert_eq!(parsed.to_bytes(), bytes, "unknown ids still round-trip");
    let err = parsed.decrypt_with_password(&sid(), PASSWORD).unwrap_err();
    let Error::UnknownAlgorithm {
        kind, id, offset, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*kind, *id, *offset), ("cipher", 0x6609, 0x9c));
    let text = err.to_string();
    assert!(
        text.contains("0x6609") && text.contains("0x9c") && text.contains("CALG_3DES"),
        "{text}"
    );

    // The hash ALG_ID of the backup block.
    let mut bytes = file.to_bytes();
    let at = 0x80 + 136 + 24;
    bytes[at..at + 4].copy_from_slice(&0x8003u32.to_le_bytes());
    let parsed = MasterKeyFile::parse(&bytes).unwrap();
    let err = parsed.decrypt_local_key(&sid(), None).unwrap_err();
    assert_eq!(err.offset(), Some(at as u64), "{err}");
    assert!(err.to_string().contains("0x8003"), "{err}");

    // In a blob.
    let mut rng = SeededRng::new(5);
    let key = MasterKey::generate(&mut rng).unwrap();
    let mut blob = DpapiBlob::encrypt(
        b"x",
        &key,
        file.guid().unwrap(),
        &BlobOptions::default(),
        &mut rng,
    )
    .unwrap();
    blob.hash_alg = AlgId(0x1234);
    let err = blob.decrypt(&key, None).unwrap_err();
    assert!(
        matches!(err, Error::UnknownAlgorithm { id: 0x1234, .. }),
        "{err}"
    );
}

#[test]
fn corrupt_fields_give_errors_with_offsets() {
    let (file, _, _) = sample_file(CipherSuite::Aes256Sha512, 10, 6);
    // Rounds beyond any Windows value.
    let mut bytes = file.to_bytes();
    bytes[0x80 + 20..0x80 + 24].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = MasterKeyFile::parse(&bytes)
        .unwrap()
        .decrypt_with_password(&sid(), PASSWORD)
        .unwrap_err();
    assert_eq!(err.offset(), Some(0x80 + 20), "{err}");
    // A section length pointing past the end.
    let mut bytes = file.to_bytes();
    bytes[0x78..0x80].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = MasterKeyFile::parse(&bytes).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    // Ciphertext that is not whole blocks.
    let mut broken = file.clone();
    broken.master_key.as_mut().unwrap().ciphertext.pop();
    let err = broken.decrypt_with_password(&sid(), PASSWORD).unwrap_err();
    assert_eq!(err.offset(), Some(0x80 + 32), "{err}");
    // A bad GUID text.
    let mut broken = file.clone();
    broken.guid_text[0] = b'x';
    assert_eq!(broken.guid().unwrap_err().offset(), Some(0x0c));
    // A PVK with the wrong magic, and a truncated one.
    let mut rng = SeededRng::new(7);
    let pvk = BackupKey::generate(&mut rng, 1024)
        .unwrap()
        .to_pvk()
        .unwrap();
    let mut bad = pvk.clone();
    bad[0] ^= 1;
    assert_eq!(BackupKey::from_pvk(&bad).unwrap_err().offset(), Some(0));
    let err = BackupKey::from_pvk(&pvk[..100]).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    // A CREDHIST whose link length points before the file.
    let mut credhist = CredHistFile::new_empty(file.guid().unwrap())
        .to_bytes()
        .unwrap();
    credhist[20..24].copy_from_slice(&100u32.to_le_bytes());
    assert_eq!(
        CredHistFile::parse(&credhist).unwrap_err().offset(),
        Some(20)
    );
    // A pre-key of the wrong kind on the master key block.
    let err = file
        .decrypt_with_prekey(&PreKey::from_bytes(&[0; 20]))
        .unwrap_err();
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
}

/// Every parser and decryptor over every single-byte change of our own files: errors
/// are fine, panics are not, and whatever parses writes back the same bytes.
#[test]
fn mutation_loop_over_our_files_never_panics() {
    let (file, key, backup) = sample_file(CipherSuite::TripleDesSha1, 2, 8);
    let (aes_file, _, _) = sample_file(CipherSuite::Aes256Sha512, 2, 9);
    let mut rng = SeededRng::new(10);
    let blob = DpapiBlob::encrypt(
        b"secret",
        &key,
        file.guid().unwrap(),
        &BlobOptions::default(),
        &mut rng,
    )
    .unwrap();
    let cred = CredentialFile::new(blob.clone()).to_bytes().unwrap();
    let pvk = backup.to_pvk().unwrap();
    let preferred = Preferred::new(file.guid().unwrap(), 133_000_000_000_000_000).to_bytes();
    let mut credhist = CredHistFile::new_empty(file.guid().unwrap());
    credhist
        .push_password_change(
            &dpapi::sha1_password("old"),
            &dpapi::nt_hash("old"),
            &sid(),
            &PreKey::from_password(&sid(), PASSWORD, Derivation::DomainNt).unwrap(),
            CipherSuite::Aes256Sha512,
            2,
            dpapi::guid::random(&mut rng).unwrap(),
            &mut rng,
        )
        .unwrap();
    let credhist = credhist.to_bytes().unwrap();
    let files: [(&str, Vec<u8>); 7] = [
        ("master key 3DES", file.to_bytes()),
        ("master key AES", aes_file.to_bytes()),
        ("blob", blob.to_bytes().unwrap()),
        ("credential", cred),
        ("pvk", pvk),
        ("preferred", preferred),
        ("credhist", credhist),
    ];
    for (name, original) in &files {
        let parsed = MasterKeyFile::parse(original).ok();
        let keys = Keys::new(&key, &backup, parsed.as_ref());
        for pos in 0..original.len() {
            for value in [0x00u8, 0xff, original[pos] ^ 0x01, original[pos] ^ 0x80] {
                if value == original[pos] {
                    continue;
                }
                let mut bytes = original.clone();
                bytes[pos] = value;
                exercise(name, &bytes, &keys);
            }
        }
        for len in 0..original.len() {
            exercise(name, &original[..len], &keys);
        }
    }
}

/// What `exercise` decrypts with.
struct Keys<'a> {
    prekey: PreKey,
    sid: Sid,
    key: &'a MasterKey,
    backup: &'a BackupKey,
    /// RSA decryption is slow in debug builds: only a domain block that differs from
    /// this one is decrypted.
    domain: Option<dpapi::DomainKeyBlock>,
}

impl<'a> Keys<'a> {
    fn new(key: &'a MasterKey, backup: &'a BackupKey, original: Option<&MasterKeyFile>) -> Self {
        Keys {
            prekey: PreKey::from_password(&sid(), PASSWORD, Derivation::DomainNt).unwrap(),
            sid: sid(),
            key,
            backup,
            domain: original.and_then(|f| f.domain_key.clone()),
        }
    }
}

fn exercise(name: &str, bytes: &[u8], keys: &Keys<'_>) {
    if let Ok(f) = MasterKeyFile::parse(bytes) {
        assert_eq!(f.to_bytes(), bytes, "{name}");
        let slow =
            |b: &Option<dpapi::MasterKeyBlock>| b.as_ref().is_some_and(|b| b.rounds > 100_000);
        if !slow(&f.master_key) {
            let _ = f.decrypt_with_prekey(&keys.prekey);
        }
        if !slow(&f.backup_key) {
            let _ = f.decrypt_local_key(&keys.sid, None);
        }
        if f.domain_key != keys.domain {
            let _ = f.decrypt_with_backup_key(keys.backup);
        }
        let _ = f.guid();
    }
    if let Ok(b) = DpapiBlob::parse(bytes) {
        assert_eq!(b.to_bytes().unwrap(), bytes, "{name}");
        let _ = b.decrypt(keys.key, None);
    }
    if let Ok(c) = CredentialFile::parse(bytes) {
        assert_eq!(c.to_bytes().unwrap(), bytes, "{name}");
        let _ = c.blob.decrypt(keys.key, None);
    }
    if let Ok(k) = BackupKey::from_pvk(bytes) {
        let _ = k.to_pvk();
    }
    if let Ok(p) = Preferred::parse(bytes) {
        assert_eq!(p.to_bytes(), bytes, "{name}");
    }
    if let Ok(c) = CredHistFile::parse(bytes) {
        assert_eq!(c.to_bytes().unwrap(), bytes, "{name}");
        for e in &c.entries {
            let _ = e.decrypt(&keys.prekey);
        }
    }
    let _ = dpapi::CredentialBlob::parse(bytes);
    let _ = dpapi::DpapiSystem::parse(bytes);
}

fn shared_sample() -> &'static (MasterKeyFile, MasterKey, BackupKey) {
    static SAMPLE: std::sync::OnceLock<(MasterKeyFile, MasterKey, BackupKey)> =
        std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| sample_file(CipherSuite::Aes256Sha512, 2, 12))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (_, key, backup) = shared_sample();
        exercise("random", &bytes, &Keys::new(key, backup, None));
    }

    #[test]
    fn random_edits_of_a_master_key_file_never_panic(
        edits in proptest::collection::vec((0usize..600, any::<u8>()), 1..8),
        cut in 0usize..700,
    ) {
        let (file, key, backup) = shared_sample();
        let mut bytes = file.to_bytes();
        for (pos, value) in edits {
            if let Some(b) = bytes.get_mut(pos) {
                *b = value;
            }
        }
        bytes.truncate(cut);
        exercise("edited master key", &bytes, &Keys::new(key, backup, Some(file)));
    }
}
