//! Files written by Windows, with their keys published: read byte-exactly, decrypted,
//! and re-protected; the re-protected keys are then opened by impacket's `dpapi.py`.
//!
//! The vectors come from impacket's test suite, `tests/misc/test_dpapi.py`
//! (https://github.com/fortra/impacket), Copyright Fortra, LLC and its affiliated
//! companies (earlier SecureAuth Corporation), distributed under impacket's licence, a
//! slightly modified Apache Software License 1.1, which allows redistribution with this
//! notice: "This product includes software developed by SecureAuth Corporation
//! (https://www.secureauth.com/) and Fortra (https://www.fortra.com)." They are the
//! test file's Python byte strings transcribed to hex, unchanged:
//!
//! * `systemMasterKeyFile`: a machine (`S-1-5-18`) master key of a Windows 10-era system
//!   (AES-256/SHA-512, policy 6), encrypted with the `DPAPI_SYSTEM` user key the test
//!   publishes (`userKey`), and its decrypted key (`systemMasterKey`);
//! * `adminMasterKeyFile`: a domain user's master key (3DES/SHA-1, policy 0, with a
//!   domain backup block), and its decrypted key (`adminMasterKey`); the password and
//!   SID the test gives do not open it (impacket's own test of it is disabled), so it is
//!   read byte-exactly and re-protected from the published key;
//! * `credentialFile`: a Credential Manager file protected with that domain user's key
//!   (user name `david.bowie`).
#![cfg(test)]

mod common;

use common::{hex, impacket, write_temp};
use dpapi::{
    AlgId, CipherSuite, CredentialBlob, CredentialFile, DpapiSystem, Guid, MasterKey,
    MasterKeyFile, PreKey, Reprotect, SeededRng, Sid,
};

const SYSTEM_MACHINE_KEY: &str = "2bb2109db472825bfa7660fdbed62c981f08587b";
const SYSTEM_USER_KEY: &str = "458dc597034d8801fc6fe3b342817caabb81a0cb";
const SYSTEM_MASTER_KEY: &str = "682a9b8923ff4ca7ce0ef7e4cee061f0ff942cd31c7703ec60792740b2e7d0b1\
                                 b5115d1ff77e10b77e189e0d6e99d5b668190ecd44fa84e82e049f406e2c2a59";
const SYSTEM_MASTER_KEY_FILE: &str = "\
020000000000000000000000650061003900350065006200610038002d0062006100300030002d003400650031\
0061002d0062003400330066002d00350031006500610033003000310037003100640031003100000000000000\
000006000000b00000000000000090000000000000001400000000000000000000000000000002000000f42f61\
ea0c9647bf403819898452089ff84300000e80000010660000e2441dec11a6b6f03ffebba1e71473f78da46a52\
b12caff7df9925ed6ac89d84050ad15cfe88ec50ece201e5a80eb198909ff8c781510f78859b96cfade433c83a\
7f3fc19926b0280e6a196ef1b0b5e1b3c1ab426120da53f24e5989f8a7d3dde86ac444901401a6df6407f550d1\
97ff27c91abb5c331250b5a7ce58c1f61fd0d656360df58e6f5b5faac639661aa89402000000bdc1f959235735\
3a2a3ebcf8cedc72bbf84300000e800000106600001231d67ec689fea9f6de6bd66a21e28d5405232df71deae5\
bf3ab63c6cb2cac08ad17456979d72b70de13afc2b61d05434161191dcdfb24aaac7ed0275f71eff9f936a559a\
ff4be6301ba99d66bd8e07b1a325c73c7a4da97117f80551a3f0a75da9fcc37c4d2bb43b5a9ef1684446ae0300\
000000000000000000000000000000000000";
const ADMIN_MASTER_KEY: &str = "4c4a398169cc9ecc6eae0e1a70ba1dc58bfec785c4b35bd1afdf2aeb06753bca\
                                0ea3491989cb626990973f8370fd576a46c0ce2a85d995a01af6d727ff41969c";
const ADMIN_MASTER_KEY_FILE: &str = "\
020000000000000000000000330061003400330061006300370031002d0035003200640031002d003400620031\
0035002d0038003400630062002d00300031006100350065003700660030003600330035003000000000000000\
000000000000880000000000000068000000000000000000000000000000740100000000000002000000d70836\
41a3fc105b8700ead086530432c05d0000098000000366000021227d2f3d4208f951ff57c0a029167a156c1de3\
f917cd8e6c6698659acc7ddab0117f56574ad302ae6c08f4ac689cf9bb4f1317e150ef99a85eae5b38291286f1\
422ddb8cafa5403190ba1ed0451bd02143caccc6689a36e4423b8c4d2bd3d652f5b57ed9c20a9d02000000c29e\
93c9d72ad804cd8dfc554152019dc05d00000980000003660000c27a55a727c6646ad893b6acc04b518aea2b3e\
e0534b408bcc8e2d556131928705127fe421e9a20189914a44249b53dd02ba3225ef3309194375125322d84472\
f46b8039bcba454a020000000001000058000000e999dee7274bc044a1bef3f43dc8a89f9b511d1249fdd65f8f\
3974c3fe3c82a125808eaa3526d2a4ed578e179be0e5247d133b04eacec2d328fa8f02cdf2fa3da2f95007c670\
6181d979b10751cfb9163089f8adcec131104f1cfcd5b72ecd83e6b5b53af4a328d3c3a31b1d55ecd859dbadd5\
388bf2e3c7d10dd59397d43a72018ef46210ed1468819c3e9b991c0faa7205f7665f8965ea806acb92a3c377c4\
1aede9ce750587d272daa386d08a9f81cd65afdc9a8624f7d74575c657da6d188ec777453490777826112ff352\
68f4b43dddbea4cb52f9f6154302c9309331ef59249a429468340409b159834ed2d3a67c6804a42a73529ed270\
451ec062223eddc8ef9c62f06a56509a4a419b7cdb78ddcb73d4dd9588d4872c4c794d669bdfb7c00c4a35325d\
8f3d8e45e79375e918ea25d755172830e48ccbe151c7fac371582f2ef072d29ab3358e18db8e81c778ab81bdcf\
2c1cc8789df29c3b01786f84fd78b414472dd36f";
const CREDENTIAL_FILE: &str = "\
010000006a0100000000000001000000d08c9ddf0115d1118c7a00c04fc297eb0100000071ac433ad152154b84\
cb01a5e7f06350000000203a00000045006e00740065007200700072006900730065002000430072006500640065\
006e007400690061006c00200044006100740061000d000a00000003660000c0000000100000005887dbebc037d8\
efb5a39f692323214c0000000004800000a00000001000000092be1f37a580e5110a73086c72ecf7fca8000000\
92594ccd3443d8e75bd8447dac9a5f0adce7f29a72841f438719b9e8799c074c443ef3d39701b0faf26ea3d9555f\
d36ed480a513b92413e20297b02ad6cfa11e19f19cea2e7471f3b4892a4cd2d5913b4437bdf01e468213b9659b9a\
867730b2b7628fb609befb3e769f895310e3e70f7d3ad3dde3421863f7856ae4fb343d1e1897a12c2b69e58bdf6e\
38c53e9e7973516585fb0b01d820b2812a8ecd20af459f8ccb97899697dd14000000b7e525fd432a52f90d640b7f\
f047e943f3d3708c";

fn system_file() -> (Vec<u8>, MasterKeyFile) {
    let bytes = hex(SYSTEM_MASTER_KEY_FILE);
    let file = MasterKeyFile::parse(&bytes).unwrap();
    (bytes, file)
}

fn admin_file() -> (Vec<u8>, MasterKeyFile) {
    let bytes = hex(ADMIN_MASTER_KEY_FILE);
    let file = MasterKeyFile::parse(&bytes).unwrap();
    (bytes, file)
}

#[test]
fn windows_master_key_files_round_trip_byte_exactly() {
    let (bytes, file) = system_file();
    assert_eq!(bytes.len(), 468);
    assert_eq!(file.to_bytes(), bytes);
    assert_eq!(file.version, 2);
    assert_eq!(file.policy, 6, "NO_BACKUP | DPAPI_OWF");
    assert_eq!(
        file.guid().unwrap(),
        "ea95eba8-ba00-4e1a-b43f-51ea30171d11"
            .parse::<Guid>()
            .unwrap()
    );
    let mk = file.master_key.as_ref().unwrap();
    assert_eq!(
        (mk.hash_alg, mk.cipher_alg),
        (AlgId::CALG_SHA_512, AlgId::CALG_AES_256)
    );
    assert_eq!(mk.rounds, 17400);
    assert_eq!(mk.suite(), Some(CipherSuite::Aes256Sha512));
    assert_eq!(file.credhist.as_ref().unwrap().version, 3);
    assert!(file.domain_key.is_none());

    let (bytes, file) = admin_file();
    assert_eq!(bytes.len(), 740);
    assert_eq!(file.to_bytes(), bytes);
    assert_eq!(file.policy, 0, "a domain user's key");
    assert_eq!(
        file.guid().unwrap(),
        "3a43ac71-52d1-4b15-84cb-01a5e7f06350"
            .parse::<Guid>()
            .unwrap()
    );
    let mk = file.master_key.as_ref().unwrap();
    assert_eq!(
        (mk.hash_alg, mk.cipher_alg),
        (AlgId::CALG_HMAC, AlgId::CALG_3DES)
    );
    assert_eq!((mk.rounds, mk.ciphertext.len()), (24000, 104));
    assert_eq!(file.backup_key.as_ref().unwrap().ciphertext.len(), 72);
    assert!(file.credhist.is_none());
    let domain = file.domain_key.as_ref().unwrap();
    assert_eq!(domain.version, 2);
    assert_eq!(domain.encrypted_secret.len(), 256, "2048-bit RSA");
    assert_eq!(domain.access_check.len(), 88);
    assert!(domain.extra.is_empty());
}

#[test]
fn windows_system_master_key_decrypts_with_the_published_dpapi_system_key() {
    let (_, file) = system_file();
    let key = file
        .decrypt_with_prekey(&PreKey::from_bytes(&hex(SYSTEM_USER_KEY)))
        .unwrap();
    assert_eq!(key.as_bytes(), hex(SYSTEM_MASTER_KEY));
    // The machine key is not the one.
    let err = file
        .decrypt_with_prekey(&PreKey::from_bytes(&hex(SYSTEM_MACHINE_KEY)))
        .unwrap_err();
    assert!(matches!(err, dpapi::Error::WrongKey { .. }), "{err}");

    // Its backup block (policy without LOCAL_BACKUP) is keyed with the SID alone:
    // SHA-512("S-1-5-18" UTF-16LE + NUL). The HMAC inside proves it.
    let system: Sid = "S-1-5-18".parse().unwrap();
    let local_key = file.decrypt_local_key(&system, None).unwrap();
    assert_eq!(local_key.len(), 32);
    let other: Sid = "S-1-5-19".parse().unwrap();
    assert!(file.decrypt_local_key(&other, None).is_err());

    let mut secret = vec![1, 0, 0, 0];
    secret.extend(hex(SYSTEM_MACHINE_KEY));
    secret.extend(hex(SYSTEM_USER_KEY));
    let parsed = DpapiSystem::parse(&secret).unwrap();
    assert_eq!(parsed.user.to_vec(), hex(SYSTEM_USER_KEY));
    assert_eq!(parsed.to_bytes(), secret);
}

#[test]
fn windows_credential_file_decrypts_with_the_published_master_key() {
    let bytes = hex(CREDENTIAL_FILE);
    let file = CredentialFile::parse(&bytes).unwrap();
    assert_eq!(file.to_bytes().unwrap(), bytes);
    let blob = &file.blob;
    assert_eq!(blob.description(), "Enterprise Credential Data\r\n");
    assert_eq!(
        (blob.cipher_alg, blob.hash_alg),
        (AlgId::CALG_3DES, AlgId::CALG_SHA1)
    );
    assert_eq!(
        blob.master_key_guid,
        "3a43ac71-52d1-4b15-84cb-01a5e7f06350"
            .parse::<Guid>()
            .unwrap()
    );
    let plain = blob
        .decrypt(&MasterKey::from_bytes(&hex(ADMIN_MASTER_KEY)), None)
        .unwrap();
    let cred = CredentialBlob::parse(&plain).unwrap();
    assert_eq!(dpapi::blob::utf16_text(&cred.username), "david.bowie");
    assert_eq!(
        cred.to_bytes().unwrap(),
        plain,
        "the credential round-trips"
    );
    // Another key fails cleanly.
    let err = blob
        .decrypt(&MasterKey::from_bytes(&hex(SYSTEM_MASTER_KEY)), None)
        .unwrap_err();
    assert!(matches!(err, dpapi::Error::WrongKey { .. }), "{err}");
}

const NEW_SID: &str = "S-1-5-21-2721393937-3389339917-1733306523-1001";
const NEW_PASSWORD: &str = "Converted local 7!";

/// Scenario 5: the Windows system key, re-protected for a local user; impacket opens it
/// with the new SID and password.
#[test]
fn windows_system_master_key_reprotected_opens_in_impacket() {
    let (_, file) = system_file();
    let key = file
        .decrypt_with_prekey(&PreKey::from_bytes(&hex(SYSTEM_USER_KEY)))
        .unwrap();
    let sid: Sid = NEW_SID.parse().unwrap();
    let mut rng = SeededRng::new(51);
    let system: Sid = "S-1-5-18".parse().unwrap();
    let new = file
        .reprotect(
            &key,
            &Reprotect {
                sid: Some(&sid),
                password: NEW_PASSWORD,
                old_sid: Some(&system),
                ..Reprotect::default()
            },
            &mut rng,
        )
        .unwrap();
    assert_eq!(new.guid().unwrap(), file.guid().unwrap());
    assert_eq!(
        new.master_key.as_ref().unwrap().rounds,
        17400,
        "rounds kept"
    );
    assert_ne!(
        new.master_key.as_ref().unwrap().salt,
        file.master_key.as_ref().unwrap().salt
    );
    assert_eq!(new.policy, dpapi::masterkey::POLICY_DPAPI_OWF);
    // The backup block's secret came along (keyed now with the new SID).
    assert_eq!(
        new.decrypt_local_key(&sid, None).unwrap(),
        file.decrypt_local_key(&system, None).unwrap()
    );
    let (ours, derivation) = new.decrypt_with_password(&sid, NEW_PASSWORD).unwrap();
    assert_eq!(
        (ours.as_bytes(), derivation),
        (key.as_bytes(), dpapi::Derivation::LocalSha1)
    );

    let Some(oracle) = impacket("windows_system_master_key_reprotected_opens_in_impacket") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "reprotected", &new.to_bytes());
    let (theirs, text) = oracle.masterkey_with_password(&path, NEW_SID, NEW_PASSWORD);
    assert_eq!(
        theirs.as_deref(),
        Some(&hex(SYSTEM_MASTER_KEY)[..]),
        "{text}"
    );
}

/// Scenario 5 with the 3DES generation: the Windows domain user's key, re-protected from
/// its published decrypted key; impacket opens the new file, and the Windows credential
/// file still decrypts with the key that comes out of it.
#[test]
fn windows_domain_master_key_reprotected_opens_in_impacket_and_keeps_the_credential() {
    let (_, file) = admin_file();
    let key = MasterKey::from_bytes(&hex(ADMIN_MASTER_KEY));
    let sid: Sid = NEW_SID.parse().unwrap();
    let mut rng = SeededRng::new(52);
    let new = file
        .reprotect(
            &key,
            &Reprotect {
                sid: Some(&sid),
                password: NEW_PASSWORD,
                credhist: Some(dpapi::guid::random(&mut rng).unwrap()),
                ..Reprotect::default()
            },
            &mut rng,
        )
        .unwrap();
    let mk = new.master_key.as_ref().unwrap();
    assert_eq!(
        mk.suite(),
        Some(CipherSuite::TripleDesSha1),
        "the generation is kept"
    );
    assert_eq!(
        (mk.rounds, mk.ciphertext.len()),
        (24000, 104),
        "as Windows lays it out"
    );
    assert!(
        new.domain_key.is_none(),
        "a local account has no domain backup"
    );
    assert_eq!(new.backup_key.as_ref().unwrap().ciphertext.len(), 72);
    let (ours, _) = new.decrypt_with_password(&sid, NEW_PASSWORD).unwrap();
    let cred = CredentialFile::parse(&hex(CREDENTIAL_FILE)).unwrap();
    let plain = cred.blob.decrypt(&ours, None).unwrap();
    assert_eq!(
        dpapi::blob::utf16_text(&CredentialBlob::parse(&plain).unwrap().username),
        "david.bowie"
    );

    let Some(oracle) = impacket(
        "windows_domain_master_key_reprotected_opens_in_impacket_and_keeps_the_credential",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "reprotected", &new.to_bytes());
    let (theirs, text) = oracle.masterkey_with_password(&path, NEW_SID, NEW_PASSWORD);
    assert_eq!(
        theirs.as_deref(),
        Some(&hex(ADMIN_MASTER_KEY)[..]),
        "{text}"
    );
    let cred_path = write_temp(&dir, "credential", &hex(CREDENTIAL_FILE));
    let out = oracle.run(&[
        "credential",
        "-file",
        cred_path.to_str().unwrap(),
        "-key",
        &format!("0x{}", common::to_hex(&theirs.unwrap())),
    ]);
    assert!(out.contains("david.bowie"), "{out}");
}
