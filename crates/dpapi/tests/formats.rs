//! `Preferred` and `CREDHIST`: layouts, and a CREDHIST chain we write decrypted by
//! impacket's `dpapi.py credhist`.
#![cfg(test)]

mod common;

use common::{impacket, to_hex, write_temp};
use dpapi::{CipherSuite, CredHistFile, Derivation, PreKey, Preferred, SeededRng, Sid};

#[test]
fn preferred_is_a_guid_and_a_filetime() {
    let guid: dpapi::Guid = "1eccdbd2-4771-4360-8b19-9d6060a061dc".parse().unwrap();
    let created = dpapi::preferred::filetime_from_unix(1_700_000_000);
    let p = Preferred::new(guid, dpapi::preferred::default_expiry(created));
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), 24);
    assert_eq!(&bytes[..16], &guid.0);
    assert_eq!(Preferred::parse(&bytes).unwrap(), p);
    assert_eq!(
        dpapi::preferred::unix_from_filetime(p.expires),
        1_700_000_000 + 90 * 86_400
    );
    // 2023-11-14T22:13:20Z as a FILETIME.
    assert_eq!(created, 133_444_736_000_000_000);
    assert!(Preferred::parse(&bytes[..23]).is_err());
}

#[test]
fn credhist_chain_we_write_decrypts_in_impacket() {
    const TEST: &str = "credhist_chain_we_write_decrypts_in_impacket";
    let sid: Sid = "S-1-5-21-1342509979-482553916-3960431919-1000"
        .parse()
        .unwrap();
    let mut rng = SeededRng::new(21);
    let passwords = ["first password", "second password", "current password"];
    let mut file = CredHistFile::new_empty(dpapi::guid::random(&mut rng).unwrap());
    let first_guid = file.current.guid;
    for pair in passwords.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        let prekey = PreKey::from_password(&sid, new, Derivation::LocalSha1).unwrap();
        let guid = dpapi::guid::random(&mut rng).unwrap();
        file.push_password_change(
            &dpapi::sha1_password(old),
            &dpapi::nt_hash(old),
            &sid,
            &prekey,
            CipherSuite::Aes256Sha512,
            8000,
            guid,
            &mut rng,
        )
        .unwrap();
    }
    let bytes = file.to_bytes().unwrap();
    let parsed = CredHistFile::parse(&bytes).unwrap();
    assert_eq!(parsed, file);
    assert_eq!(parsed.entries.len(), 2);
    assert_eq!(
        parsed.entries[0].header.guid, first_guid,
        "oldest link first"
    );
    assert_eq!(parsed.entries[0].owner().unwrap(), sid);
    // We walk the chain back from the current password.
    let newest = parsed.entries[1]
        .decrypt(&PreKey::from_password(&sid, passwords[2], Derivation::LocalSha1).unwrap())
        .unwrap();
    assert_eq!(newest.sha1, dpapi::sha1_password(passwords[1]));
    assert_eq!(newest.nt, dpapi::nt_hash(passwords[1]));
    let oldest = parsed.entries[0]
        .decrypt(&PreKey::from_password_hash(&newest.sha1, &sid).unwrap())
        .unwrap();
    assert_eq!(oldest.nt, dpapi::nt_hash(passwords[0]));
    assert!(matches!(
        parsed.entries[1]
            .decrypt(&PreKey::from_password(&sid, "wrong", Derivation::LocalSha1).unwrap()),
        Err(dpapi::Error::WrongKey { .. })
    ));

    let Some(o) = impacket(TEST) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "CREDHIST", &bytes);
    let out = o.run(&[
        "credhist",
        "-file",
        path.to_str().unwrap(),
        "-password",
        passwords[2],
    ]);
    for old in &passwords[..2] {
        assert!(
            out.contains(&format!("ntHash     : {}", to_hex(&dpapi::nt_hash(old)))),
            "{old}: {out}"
        );
        assert!(
            out.contains(&format!(
                "pwdHash    : {}",
                to_hex(&dpapi::sha1_password(old))
            )),
            "{old}: {out}"
        );
    }
    assert!(out.contains(&sid.to_string()), "{out}");
}
