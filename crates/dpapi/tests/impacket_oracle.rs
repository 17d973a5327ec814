//! What we write, read by impacket's `dpapi.py` (an independent implementation):
//!
//! 1. master keys we write, both cipher generations and every derivation, decrypt in
//!    `dpapi.py masterkey -file F -sid SID -password P` to the key we put in;
//! 2. a master key we write with a domain backup block decrypts in `dpapi.py masterkey
//!    -file F -pvk KEY.pvk` with the `.pvk` we write;
//! 3. blobs we encrypt decrypt in `dpapi.py unprotect -file BLOB -key 0x…` (with and
//!    without entropy), and a Credential Manager file we write in `dpapi.py credential`;
//! 4. a re-protected key decrypts with the new SID and password, not the old ones;
//!
//! and the empty CREDHIST we write is read by `dpapi.py credhist` as empty.
#![cfg(test)]

mod common;

use common::{Impacket, hex, impacket, to_hex, write_temp};
use dpapi::{
    AccessCheck, BackupKey, BlobOptions, CipherSuite, CredHistFile, CredentialBlob, CredentialFile,
    Derivation, DomainBackup, DpapiBlob, MasterKey, MasterKeyFile, NewMasterKeyFile, Reprotect,
    SeededRng, Sid,
};

const DOMAIN_SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1106";
const LOCAL_SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1001";

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn oracle(test: &str) -> Option<(Impacket, tempfile::TempDir)> {
    Some((impacket(test)?, tempfile::tempdir().unwrap()))
}

#[allow(clippy::too_many_arguments)]
fn new_file(
    rng: &mut SeededRng,
    key: &MasterKey,
    sid: &Sid,
    password: &str,
    derivation: Derivation,
    suite: CipherSuite,
    domain_backup: Option<DomainBackup<'_>>,
) -> MasterKeyFile {
    let guid = dpapi::guid::random(rng).unwrap();
    let credhist = dpapi::guid::random(rng).unwrap();
    MasterKeyFile::create(
        &NewMasterKeyFile {
            guid,
            key,
            sid,
            password,
            derivation,
            suite,
            rounds: suite.default_rounds(),
            credhist,
            dpapi_system: None,
            local_key: None,
            domain_backup,
        },
        rng,
    )
    .unwrap()
}

#[test]
fn master_keys_we_write_open_in_impacket_with_sid_and_password() {
    const TEST: &str = "master_keys_we_write_open_in_impacket_with_sid_and_password";
    let mut rng = SeededRng::new(1);
    let oracle = oracle(TEST);
    for suite in [CipherSuite::TripleDesSha1, CipherSuite::Aes256Sha512] {
        for (derivation, who) in [
            (Derivation::LocalSha1, LOCAL_SID),
            (Derivation::DomainNt, DOMAIN_SID),
            (Derivation::DomainNtPbkdf2, DOMAIN_SID),
        ] {
            let key = MasterKey::generate(&mut rng).unwrap();
            let password = format!("Pässword {suite:?} {derivation:?}");
            let file = new_file(
                &mut rng,
                &key,
                &sid(who),
                &password,
                derivation,
                suite,
                None,
            );
            let bytes = file.to_bytes();
            assert_eq!(MasterKeyFile::parse(&bytes).unwrap(), file);
            // Layout as Windows writes it.
            let expected = match suite {
                CipherSuite::TripleDesSha1 => (136, 104),
                CipherSuite::Aes256Sha512 => (176, 144),
            };
            let sizes = (
                file.master_key.as_ref().unwrap().to_bytes().len(),
                file.backup_key.as_ref().unwrap().to_bytes().len(),
            );
            assert_eq!(sizes, expected, "{suite:?}");
            assert_eq!(bytes.len(), 128 + expected.0 + expected.1 + 20);
            let (ours, how) = file.decrypt_with_password(&sid(who), &password).unwrap();
            assert_eq!((ours, how), (key.clone(), derivation));

            let Some((o, dir)) = &oracle else { continue };
            let path = write_temp(dir, &format!("{suite:?}-{derivation:?}"), &bytes);
            let (theirs, text) = o.masterkey_with_password(&path, who, &password);
            assert_eq!(
                theirs.as_deref(),
                Some(key.as_bytes()),
                "{suite:?} {derivation:?}: {text}"
            );
        }
    }
}

#[test]
fn domain_backup_block_opens_in_impacket_with_the_pvk_we_write() {
    const TEST: &str = "domain_backup_block_opens_in_impacket_with_the_pvk_we_write";
    let mut rng = SeededRng::new(2);
    let backup = BackupKey::generate(&mut rng, 2048).unwrap();
    let pvk = backup.to_pvk().unwrap();
    assert_eq!(&pvk[..4], &0xb0b5f11eu32.to_le_bytes());
    assert_eq!(BackupKey::from_pvk(&pvk).unwrap().to_pvk().unwrap(), pvk);
    let public = backup.public_key();
    let key_guid = dpapi::guid::random(&mut rng).unwrap();
    let owner = sid(DOMAIN_SID);
    let oracle = oracle(TEST);
    for suite in [CipherSuite::TripleDesSha1, CipherSuite::Aes256Sha512] {
        let key = MasterKey::generate(&mut rng).unwrap();
        let file = new_file(
            &mut rng,
            &key,
            &owner,
            "Domain password 1",
            Derivation::DomainNt,
            suite,
            Some(DomainBackup {
                public_key: &public,
                key_guid,
            }),
        );
        assert_eq!(file.policy, 0, "a domain user's policy");
        let domain = file.domain_key.as_ref().unwrap();
        assert_eq!(
            (
                domain.version,
                domain.encrypted_secret.len(),
                domain.access_check.len()
            ),
            (2, 256, 88),
            "as in Windows' own domain master keys"
        );
        let bytes = file.to_bytes();
        let parsed = MasterKeyFile::parse(&bytes).unwrap();
        let secret = parsed.decrypt_with_backup_key(&backup).unwrap();
        assert_eq!(secret.master_key, key);
        assert_eq!(secret.access_check, AccessCheck::Verified(owner.clone()));

        let Some((o, dir)) = &oracle else { continue };
        let key_path = write_temp(dir, "backup.pvk", &pvk);
        let path = write_temp(dir, &format!("domain-{suite:?}"), &bytes);
        let (theirs, text) = o.masterkey(&[
            "-file",
            path.to_str().unwrap(),
            "-pvk",
            key_path.to_str().unwrap(),
        ]);
        assert_eq!(theirs.as_deref(), Some(key.as_bytes()), "{text}");
        // And by password, as the domain user.
        let (theirs, text) = o.masterkey_with_password(&path, DOMAIN_SID, "Domain password 1");
        assert_eq!(theirs.as_deref(), Some(key.as_bytes()), "{text}");
    }
}

#[test]
fn blobs_we_encrypt_open_in_impacket_unprotect() {
    const TEST: &str = "blobs_we_encrypt_open_in_impacket_unprotect";
    let mut rng = SeededRng::new(3);
    let key = MasterKey::generate(&mut rng).unwrap();
    let guid = dpapi::guid::random(&mut rng).unwrap();
    let oracle = oracle(TEST);
    let cases: [(CipherSuite, Option<&str>, &[u8]); 4] = [
        (
            CipherSuite::Aes256Sha512,
            None,
            b"a saved secret of some length, 48 bytes long...",
        ),
        (
            CipherSuite::Aes256Sha512,
            Some("app entropy"),
            b"with entropy",
        ),
        (CipherSuite::TripleDesSha1, None, b"old generation"),
        (CipherSuite::Aes256Sha512, None, b""),
    ];
    for (i, (suite, entropy, plain)) in cases.into_iter().enumerate() {
        let blob = DpapiBlob::encrypt(
            plain,
            &key,
            guid,
            &BlobOptions {
                suite,
                description: "admu test",
                flags: 0,
                entropy: entropy.map(str::as_bytes),
            },
            &mut rng,
        )
        .unwrap();
        let bytes = blob.to_bytes().unwrap();
        assert!(bytes.starts_with(&hex("01000000d08c9ddf0115d1118c7a00c04fc297eb")));
        let parsed = DpapiBlob::parse(&bytes).unwrap();
        assert_eq!(parsed, blob);
        assert_eq!(parsed.description(), "admu test");
        assert_eq!(
            parsed.decrypt(&key, entropy.map(str::as_bytes)).unwrap(),
            plain
        );
        if entropy.is_some() {
            assert!(parsed.decrypt(&key, None).is_err(), "entropy is required");
        }
        let Some((o, dir)) = &oracle else { continue };
        let path = write_temp(dir, &format!("blob{i}"), &bytes);
        let (theirs, text) = o.unprotect(&path, key.as_bytes(), entropy);
        assert_eq!(
            theirs.as_deref(),
            Some(plain),
            "{suite:?} {entropy:?}: {text}"
        );
    }
}

#[test]
fn credential_files_we_write_open_in_impacket() {
    const TEST: &str = "credential_files_we_write_open_in_impacket";
    let mut rng = SeededRng::new(4);
    let key = MasterKey::generate(&mut rng).unwrap();
    let guid = dpapi::guid::random(&mut rng).unwrap();
    let cred = CredentialBlob::generic(
        "LegacyGeneric:target=fileserver.example.org",
        "EXAMPLE\\alice",
        "S3cret share password",
        dpapi::preferred::filetime_from_unix(1_700_000_000),
    );
    let plain = cred.to_bytes().unwrap();
    assert_eq!(CredentialBlob::parse(&plain).unwrap(), cred);
    let blob = DpapiBlob::encrypt(
        &plain,
        &key,
        guid,
        &BlobOptions {
            description: "Local Credential Data\r\n",
            flags: dpapi::blob::CRYPTPROTECT_SYSTEM,
            ..BlobOptions::default()
        },
        &mut rng,
    )
    .unwrap();
    let file = CredentialFile::new(blob);
    let bytes = file.to_bytes().unwrap();
    assert_eq!(CredentialFile::parse(&bytes).unwrap(), file);

    let Some((o, dir)) = oracle(TEST) else { return };
    let path = write_temp(&dir, "credential", &bytes);
    let out = o.run(&[
        "credential",
        "-file",
        path.to_str().unwrap(),
        "-key",
        &format!("0x{}", to_hex(key.as_bytes())),
    ]);
    let field = |name: &str| {
        out.lines().find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches([' ', ':']).trim().to_string())
        })
    };
    assert_eq!(
        field("Username").as_deref(),
        Some("EXAMPLE\\alice\0"),
        "{out}"
    );
    assert_eq!(
        field("Target").as_deref(),
        Some("LegacyGeneric:target=fileserver.example.org\0"),
        "{out}"
    );
    assert!(out.contains("CRED_PERSIST_LOCAL_MACHINE"), "{out}");
}

#[test]
fn reprotected_master_key_opens_in_impacket_with_the_new_sid_and_password_only() {
    const TEST: &str =
        "reprotected_master_key_opens_in_impacket_with_the_new_sid_and_password_only";
    let mut rng = SeededRng::new(5);
    let backup = BackupKey::generate(&mut rng, 2048).unwrap();
    let public = backup.public_key();
    let oracle = oracle(TEST);
    let (old_sid, new_sid) = (sid(DOMAIN_SID), sid(LOCAL_SID));
    for (suite, derivation) in [
        (CipherSuite::Aes256Sha512, Derivation::DomainNtPbkdf2),
        (CipherSuite::Aes256Sha512, Derivation::DomainNt),
        (CipherSuite::TripleDesSha1, Derivation::DomainNt),
    ] {
        let key = MasterKey::generate(&mut rng).unwrap();
        let key_guid = dpapi::guid::random(&mut rng).unwrap();
        let old = new_file(
            &mut rng,
            &key,
            &old_sid,
            "Old domain password",
            derivation,
            suite,
            Some(DomainBackup {
                public_key: &public,
                key_guid,
            }),
        );
        let old_local_key = old.decrypt_local_key(&old_sid, None).unwrap();
        let new_credhist = dpapi::guid::random(&mut rng).unwrap();
        let out = dpapi::reprotect_file(
            &old.to_bytes(),
            &old_sid,
            "Old domain password",
            &Reprotect {
                sid: Some(&new_sid),
                password: "New local password",
                credhist: Some(new_credhist),
                ..Reprotect::default()
            },
            &mut rng,
        )
        .unwrap();
        assert_eq!(out.old_derivation, derivation);
        let new = MasterKeyFile::parse(&out.bytes).unwrap();
        assert_eq!(new.guid().unwrap(), old.guid().unwrap(), "same GUID");
        assert_eq!(new.policy, dpapi::masterkey::POLICY_DPAPI_OWF);
        assert_eq!(new.credhist.as_ref().unwrap().guid, new_credhist);
        assert!(new.domain_key.is_none());
        let (nb, ob) = (
            new.master_key.as_ref().unwrap(),
            old.master_key.as_ref().unwrap(),
        );
        assert_ne!(nb.salt, ob.salt, "fresh salt");
        assert_eq!((nb.rounds, nb.suite()), (ob.rounds, ob.suite()));
        assert_eq!(
            new.decrypt_local_key(&new_sid, None).unwrap(),
            old_local_key
        );
        let (ours, how) = new
            .decrypt_with_password(&new_sid, "New local password")
            .unwrap();
        assert_eq!((ours, how), (key.clone(), Derivation::LocalSha1));
        assert!(
            new.decrypt_with_password(&old_sid, "Old domain password")
                .is_err()
        );

        let Some((o, dir)) = &oracle else { continue };
        let path = write_temp(
            dir,
            &format!("reprotected-{suite:?}-{derivation:?}"),
            &out.bytes,
        );
        let (theirs, text) = o.masterkey_with_password(&path, LOCAL_SID, "New local password");
        assert_eq!(theirs.as_deref(), Some(key.as_bytes()), "{text}");
        let (theirs, text) = o.masterkey_with_password(&path, DOMAIN_SID, "Old domain password");
        assert_eq!(
            theirs, None,
            "the old credentials no longer open it: {text}"
        );
        let (theirs, text) = o.masterkey_with_password(&path, LOCAL_SID, "Old domain password");
        assert_eq!(theirs, None, "{text}");
    }
}

#[test]
fn empty_credhist_we_write_reads_as_empty_in_impacket() {
    const TEST: &str = "empty_credhist_we_write_reads_as_empty_in_impacket";
    let mut rng = SeededRng::new(6);
    let guid = dpapi::guid::random(&mut rng).unwrap();
    let file = CredHistFile::new_empty(guid);
    let bytes = file.to_bytes().unwrap();
    assert_eq!(bytes.len(), 24);
    assert_eq!(&bytes[..4], &[1, 0, 0, 0]);
    assert_eq!(&bytes[4..20], &guid.0);
    assert_eq!(&bytes[20..], &[0, 0, 0, 0]);
    assert_eq!(CredHistFile::parse(&bytes).unwrap(), file);

    let Some((o, dir)) = oracle(TEST) else { return };
    let path = write_temp(&dir, "CREDHIST", &bytes);
    let out = o.run(&[
        "credhist",
        "-file",
        path.to_str().unwrap(),
        "-password",
        "x",
    ]);
    assert!(out.contains("The CREDHIST file is empty"), "{out}");
}
