//! Reading, creating, changing and deleting accounts; refusing bad input without
//! writing anything; reproducible generated pairs.
#![cfg(test)]

use sam::{AliasDomain, Error, KeyScheme, NewUser, PairSpec, Sam, alias, crypto, generate_pair};

fn pair(scheme: KeyScheme, seed: u64) -> sam::GeneratedPair {
    generate_pair(&PairSpec {
        seed: Some(seed),
        scheme,
        ..PairSpec::default()
    })
    .unwrap()
}

fn user<'a>(name: &'a str, password: &'a str) -> NewUser<'a> {
    NewUser {
        name,
        password: Some(password),
        ..NewUser::default()
    }
}

#[test]
fn created_users_decrypt_to_their_passwords_in_both_schemes() {
    for scheme in [KeyScheme::Rc4, KeyScheme::Aes] {
        let dir = tempfile::tempdir().unwrap();
        let mut p = pair(scheme, 3);
        assert_eq!(p.sam.scheme().unwrap(), scheme);
        let alice = p
            .sam
            .create_user(&NewUser {
                admin: true,
                comment: "Created by admu",
                full_name: "Alice",
                ..user("alice", "pw ä 1")
            })
            .unwrap();
        let bob = p.sam.create_user(&user("bob", "second")).unwrap();
        assert_eq!((alice.rid, bob.rid), (1000, 1001));
        assert_eq!(p.sam.next_rid().unwrap(), 1002);
        let files = p.write_to(dir.path()).unwrap();

        let s = Sam::open_with_system(&files.sam, &files.system).unwrap();
        assert_eq!(
            s.nt_hash(alice.rid).unwrap(),
            Some(crypto::nt_hash("pw ä 1"))
        );
        assert!(s.verify_password(bob.rid, "second").unwrap());
        assert!(!s.verify_password(bob.rid, "Second").unwrap());
        assert_eq!(
            s.nt_hash(500).unwrap(),
            None,
            "Administrator has no password"
        );
        let alice = s.user_by_name("ALICE").unwrap();
        assert_eq!(
            (alice.full_name.as_str(), alice.comment.as_str()),
            ("Alice", "Created by admu")
        );
        assert!(alice.has_password && !alice.disabled() && alice.password_last_set.is_some());
        assert_eq!(alice.sid, s.machine_sid().unwrap().with_rid(1000).unwrap());
        let groups: Vec<String> = s
            .aliases_of(&alice.sid)
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(groups, ["Administrators", "Users"]);
        let groups: Vec<String> = s
            .aliases_of(&bob.sid)
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(groups, ["Users"]);
        s.validate().unwrap();
    }
}

#[test]
fn generated_pairs_look_like_a_fresh_windows_10() {
    let p = pair(KeyScheme::Aes, 5);
    let s = &p.sam;
    let names: Vec<(u32, String, bool)> = s
        .users()
        .unwrap()
        .into_iter()
        .map(|u| (u.rid, u.name.clone(), u.disabled()))
        .collect();
    assert_eq!(
        names,
        [
            (500, "Administrator".into(), true),
            (501, "Guest".into(), true),
            (503, "DefaultAccount".into(), true),
            (504, "WDAGUtilityAccount".into(), true)
        ]
    );
    let aliases = s.aliases().unwrap();
    assert_eq!(aliases.len(), 24);
    let members = |rid| {
        aliases
            .iter()
            .find(|a| a.rid == rid)
            .unwrap()
            .members
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let m = s.machine_sid().unwrap();
    assert_eq!(members(alias::ADMINISTRATORS), [format!("{m}-500")]);
    assert_eq!(members(alias::USERS), ["S-1-5-4", "S-1-5-11"]);
    assert_eq!(members(alias::GUESTS), [format!("{m}-501")]);
    assert_eq!(
        members(alias::SYSTEM_MANAGED_ACCOUNTS),
        [format!("{m}-503")]
    );
    assert_eq!(members(0x238), ["S-1-5-17"]);
    s.check_membership().unwrap();
    assert_eq!(
        s.system().unwrap().computer_name.as_deref(),
        Some("DESKTOP-ADMU01")
    );
    let without = generate_pair(&PairSpec {
        wdag_account: false,
        seed: Some(5),
        ..PairSpec::default()
    })
    .unwrap();
    assert!(without.sam.users().unwrap().iter().all(|u| u.rid != 504));
}

#[test]
fn same_seed_same_bytes_other_seed_other_machine() {
    let build = |seed| {
        let mut p = pair(KeyScheme::Aes, seed);
        p.sam.create_user(&user("alice", "pw")).unwrap();
        (
            p.sam_bytes().unwrap(),
            p.system_bytes().unwrap(),
            p.machine_sid,
        )
    };
    let (a, b, c) = (build(1), build(1), build(2));
    assert!(a.0 == b.0 && a.1 == b.1, "a seed must give the same files");
    assert_ne!(a.2, c.2);
    assert_ne!(a.1, c.1);
    let unseeded = [1, 2].map(|_| generate_pair(&PairSpec::default()).unwrap().machine_sid);
    assert_ne!(unseeded[0], unseeded[1]);
}

#[test]
fn a_sam_without_its_system_lists_but_cannot_touch_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let files = pair(KeyScheme::Aes, 7).write_to(dir.path()).unwrap();
    let before = std::fs::read(&files.sam).unwrap();
    let mut s = Sam::open(&files.sam).unwrap();
    assert_eq!(s.users().unwrap().len(), 4);
    assert!(matches!(
        s.create_user(&user("alice", "pw")),
        Err(Error::NeedSystem { .. })
    ));
    assert!(matches!(s.nt_hash(504), Err(Error::NeedSystem { .. })));
    assert!(matches!(
        s.set_password(500, "x"),
        Err(Error::NeedSystem { .. })
    ));
    assert_eq!(s.hive().as_bytes(), &before[..]);
    assert_eq!(
        std::fs::read(&files.sam).unwrap(),
        before,
        "nothing written"
    );
    let message = Sam::open(&files.sam)
        .unwrap()
        .create_user(&user("a", "b"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("SYSTEM"), "{message}");
}

#[test]
fn a_wrong_system_is_refused_for_both_schemes() {
    for scheme in [KeyScheme::Rc4, KeyScheme::Aes] {
        let dir = tempfile::tempdir().unwrap();
        let ours = pair(scheme, 8).write_to(&dir.path().join("a")).unwrap();
        let other = pair(scheme, 9).write_to(&dir.path().join("b")).unwrap();
        let err = Sam::open_with_system(&ours.sam, &other.system).unwrap_err();
        assert!(
            matches!(err, Error::WrongSystem { .. }),
            "{scheme:?}: {err}"
        );
        assert!(
            err.to_string()
                .contains("not from the same Windows installation"),
            "{err}"
        );
        // A SAM given as SYSTEM: no boot key there.
        let err = Sam::open_with_system(&ours.sam, &ours.sam).unwrap_err();
        assert!(matches!(err, Error::MissingKey { .. }), "{err}");
    }
}

#[test]
fn bad_names_are_refused_and_nothing_changes() {
    let mut p = pair(KeyScheme::Aes, 10);
    p.sam.create_user(&user("alice", "pw")).unwrap();
    let before = p.sam.hive().as_bytes().to_vec();
    let refused = [
        ("ALICE", "already used by user alice"),
        ("administrator", "already used by user Administrator"),
        ("Remote Desktop Users", "already used by local group"),
        ("none", "already used by group None"),
        ("abcdefghijklmnopqrstu", "21 characters"),
        ("al/ice", "'/' is not allowed"),
        ("a@b", "'@' is not allowed"),
        ("x*", "'*' is not allowed"),
        ("..", "dots and spaces"),
        ("", "empty"),
    ];
    for (name, why) in refused {
        let err = p.sam.create_user(&user(name, "pw")).unwrap_err();
        assert!(err.to_string().contains(why), "{name:?}: {err}");
        assert_eq!(
            p.sam.hive().as_bytes(),
            &before[..],
            "{name:?} changed the hive"
        );
    }
    assert!(
        p.sam
            .create_user(&user("abcdefghijklmnopqrst", "pw"))
            .is_ok(),
        "20 characters are fine"
    );
}

#[test]
fn a_failing_edit_leaves_the_hive_as_it_was() {
    // Break group None's record: creating a user fails half-way, after keys were added.
    let p = pair(KeyScheme::Aes, 12);
    let mut hive = hive::Hive::from_bytes_without_logs(p.sam_bytes().unwrap()).unwrap();
    let group = hive
        .key(r"SAM\Domains\Account\Groups\00000201")
        .unwrap()
        .unwrap()
        .offset();
    hive.set_value(group, "C", 3, &[1, 2, 3]).unwrap();
    let system = p.sam.system().cloned();
    let mut s = Sam::from_hive(hive, "broken", system).unwrap();
    let before = s.hive().as_bytes().to_vec();
    let err = s.create_user(&user("alice", "pw")).unwrap_err();
    assert!(err.to_string().contains("00000201"), "{err}");
    assert_eq!(s.hive().as_bytes(), &before[..]);
    assert!(s.user_by_name("alice").is_err());
}

#[test]
fn password_flags_membership_and_deletion() {
    let mut p = pair(KeyScheme::Rc4, 13);
    let s = &mut p.sam;
    let bob = s.create_user(&user("bob", "one")).unwrap();
    s.set_password(bob.rid, "two").unwrap();
    assert!(s.verify_password(bob.rid, "two").unwrap());
    assert!(matches!(
        s.set_password(bob.rid, ""),
        Err(Error::Refused { .. })
    ));
    s.set_disabled(bob.rid, true).unwrap();
    assert!(s.user(bob.rid).unwrap().disabled());
    s.set_disabled(bob.rid, false).unwrap();
    assert!(!s.user(bob.rid).unwrap().disabled());

    assert!(
        s.add_alias_member(AliasDomain::Builtin, alias::REMOTE_DESKTOP_USERS, &bob.sid)
            .unwrap()
    );
    assert!(
        !s.add_alias_member(AliasDomain::Builtin, alias::REMOTE_DESKTOP_USERS, &bob.sid)
            .unwrap()
    );
    let domain_user: ntsec::Sid = "S-1-5-21-1111-2222-3333-1104".parse().unwrap();
    assert!(
        s.add_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &domain_user)
            .unwrap()
    );
    s.check_membership().unwrap();
    let index = r"SAM\Domains\Builtin\Aliases\Members\S-1-5-21-1111-2222-3333\00000450";
    assert!(
        s.hive().key(index).unwrap().is_some(),
        "reverse index for a domain SID"
    );
    assert!(
        s.remove_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &domain_user)
            .unwrap()
    );
    assert!(
        s.hive()
            .key(r"SAM\Domains\Builtin\Aliases\Members\S-1-5-21-1111-2222-3333")
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.add_alias_member(AliasDomain::Builtin, 0x299, &bob.sid),
        Err(Error::NoSuchAlias { .. })
    ));

    s.delete_user(bob.rid).unwrap();
    assert!(matches!(s.user(bob.rid), Err(Error::NoSuchUser { .. })));
    assert!(s.aliases_of(&bob.sid).unwrap().is_empty());
    let index = format!(
        r"SAM\Domains\Builtin\Aliases\Members\{}\{:08X}",
        s.machine_sid().unwrap(),
        bob.rid
    );
    assert!(s.hive().key(&index).unwrap().is_none());
    assert!(
        s.hive()
            .key(r"SAM\Domains\Account\Users\Names\bob")
            .unwrap()
            .is_none()
    );
    assert!(matches!(s.delete_user(500), Err(Error::Refused { .. })));
    let carol = s.create_user(&user("carol", "pw")).unwrap();
    assert_eq!(carol.rid, bob.rid + 1, "RIDs are not reused");
    s.validate().unwrap();
}

#[test]
fn save_refuses_a_broken_hive_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = pair(KeyScheme::Aes, 14).write_to(dir.path()).unwrap();
    // Drop alice's Names entry behind the SAM layer's back: records and index disagree.
    let mut s = Sam::open_with_system(&files.sam, &files.system).unwrap();
    s.create_user(&user("alice", "pw")).unwrap();
    let mut edited = hive::Hive::from_bytes_without_logs(s.hive().as_bytes().to_vec()).unwrap();
    let entry = edited
        .key(r"SAM\Domains\Account\Users\Names\alice")
        .unwrap()
        .unwrap()
        .offset();
    edited.delete_key(entry).unwrap();
    let bytes = edited.as_bytes().to_vec();
    std::fs::write(dir.path().join("edited"), &bytes).unwrap();
    let mut broken = Sam::from_hive(
        hive::Hive::open(dir.path().join("edited")).unwrap(),
        "edited",
        None,
    )
    .unwrap();
    let err = broken.save().unwrap_err();
    assert!(err.to_string().contains("Names"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("edited")).unwrap(),
        bytes,
        "nothing written"
    );
}
