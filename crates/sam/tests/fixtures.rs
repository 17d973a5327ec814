//! Real SAM hives: a Windows 7 one (regipy, RC4 scheme) and a Windows 10 one (turbinia,
//! AES scheme). We read them as documented, and the records we build are Windows' own
//! bytes (descriptors, alias and domain records) or have their exact shape (users).
#![cfg(test)]

use sam::catalog::{self, RecordSd};
use sam::layout::{self, DomainF};
use sam::records::{Variable, c, v};
use sam::{AliasDomain, Error, KeyScheme, NewUser, PairSpec, Sam, alias, generate_pair};

const TURBINIA_SID: &str = "S-1-5-21-411602670-3944905364-1007076877";

fn open(test: &str, name: &str) -> Option<Sam> {
    Some(Sam::open(testbed::fixture(test, name)?).unwrap())
}

fn value(sam: &Sam, key: &str, name: &str) -> Vec<u8> {
    sam.hive()
        .key(key)
        .unwrap()
        .unwrap()
        .value(name)
        .unwrap()
        .unwrap()
        .data()
        .unwrap()
        .into_owned()
}

fn users(sam: &Sam) -> Vec<(u32, String, u32)> {
    sam.users()
        .unwrap()
        .into_iter()
        .map(|u| (u.rid, u.name, u.flags))
        .collect()
}

fn members(sam: &Sam, rid: u32) -> Vec<String> {
    sam.alias(AliasDomain::Builtin, rid)
        .unwrap()
        .members
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_windows_10_aes_sam_reads_as_documented() {
    let Some(s) = open("the_windows_10_aes_sam_reads_as_documented", "turbinia/SAM") else {
        return;
    };
    assert_eq!(s.scheme().unwrap(), KeyScheme::Aes);
    assert_eq!(s.machine_sid().unwrap().to_string(), TURBINIA_SID);
    assert_eq!(s.next_rid().unwrap(), 0x3EE);
    let expected = [
        (500, "Administrator", 0x11),
        (501, "Guest", 0x215),
        (503, "DefaultAccount", 0x215),
        (1000, "testuser", 0x210),
        (1004, "testlocaluser", 0x10),
        (1005, "badpassword", 0x10),
    ];
    assert_eq!(users(&s), expected.map(|(r, n, f)| (r, n.to_string(), f)));
    let m = TURBINIA_SID;
    assert_eq!(
        members(&s, alias::ADMINISTRATORS),
        [format!("{m}-500"), format!("{m}-1000")]
    );
    assert_eq!(
        members(&s, alias::USERS),
        [
            "S-1-5-4".into(),
            "S-1-5-11".into(),
            format!("{m}-1004"),
            format!("{m}-1005")
        ]
    );
    assert_eq!(s.aliases().unwrap().len(), 24);
    let testuser = s.user(1000).unwrap();
    assert_eq!((testuser.logon_count, testuser.has_password), (6, true));
    assert!(!s.user(501).unwrap().has_password);
    s.check_membership().unwrap();
    s.validate().unwrap();
    assert!(matches!(s.nt_hash(1004), Err(Error::NeedSystem { .. })));
}

#[test]
fn the_windows_7_rc4_sam_reads_as_documented() {
    let Some(s) = open("the_windows_7_rc4_sam_reads_as_documented", "regipy/SAM") else {
        return;
    };
    assert_eq!(s.scheme().unwrap(), KeyScheme::Rc4);
    assert_eq!(
        s.machine_sid().unwrap().to_string(),
        "S-1-5-21-1760460187-1592185332-161725925"
    );
    assert_eq!(s.next_rid().unwrap(), 0x3E9);
    assert_eq!(
        users(&s),
        [
            (500, "Administrator".into(), 0x211),
            (501, "Guest".into(), 0x215),
            (1000, "Preston".into(), 0x10)
        ]
    );
    assert_eq!(s.aliases().unwrap().len(), 14);
    assert_eq!(members(&s, alias::USERS).len(), 3);
    s.check_membership().unwrap();
    s.validate().unwrap();
}

#[test]
fn our_descriptors_and_records_are_windows_own_bytes() {
    let Some(s) = open(
        "our_descriptors_and_records_are_windows_own_bytes",
        "turbinia/SAM",
    ) else {
        return;
    };
    let parse = |data: &[u8], prefix| Variable::parse(data, prefix, c::COUNT).unwrap();
    let sd = |kind, subject: Option<&ntsec::Sid>| catalog::record_sd(kind, subject, true).unwrap();

    let server = value(&s, "SAM", "C");
    assert_eq!(
        layout::server_c(3, sd(RecordSd::Server, None)),
        server,
        "SAM\\C"
    );
    let machine = s.machine_sid().unwrap();
    let account_v = value(&s, r"SAM\Domains\Account", "V");
    assert_eq!(
        layout::domain_v(3, sd(RecordSd::AccountDomain, None), &machine),
        account_v,
        "Account\\V"
    );
    let builtin_v = value(&s, r"SAM\Domains\Builtin", "V");
    let builtin = ntsec::Sid::new(5, &[32]).unwrap();
    assert_eq!(
        layout::domain_v(3, sd(RecordSd::BuiltinDomain, None), &builtin),
        builtin_v,
        "Builtin\\V"
    );

    let group = value(&s, r"SAM\Domains\Account\Groups\00000201", "C");
    assert_eq!(
        parse(&group, layout::GROUP_PREFIX).item(c::SECURITY),
        sd(RecordSd::Group, None),
        "group None"
    );

    for a in catalog::BUILTIN_ALIASES {
        let theirs = value(
            &s,
            &format!(r"SAM\Domains\Builtin\Aliases\{:08X}", a.rid),
            "C",
        );
        let rec = parse(&theirs, 4);
        assert_eq!(
            rec.item(c::SECURITY),
            sd(a.sd, None),
            "descriptor of alias {}",
            a.name
        );
        assert_eq!(
            (
                sam::records::utf16(rec.item(c::NAME)),
                sam::records::utf16(rec.item(c::COMMENT))
            ),
            (a.name.into(), a.comment.into())
        );
        let members = sam::records::parse_sids(rec.item(c::MEMBERS)).unwrap();
        let ours = layout::alias_c(3, a.rid, sd(a.sd, None), a.name, a.comment, &members);
        assert_eq!(parse(&ours, 4), rec, "record of alias {}", a.name);
    }

    let kinds = [
        (500, RecordSd::Administrator),
        (501, RecordSd::Guest),
        (503, RecordSd::User),
        (1000, RecordSd::OobeUser),
        (1004, RecordSd::User),
        (1005, RecordSd::User),
    ];
    for (rid, kind) in kinds {
        let v = value(&s, &format!(r"SAM\Domains\Account\Users\{rid:08X}"), "V");
        let rec = Variable::parse(&v, 0, v::COUNT).unwrap();
        let subject = machine.with_rid(rid).unwrap();
        assert_eq!(
            rec.item(v::SECURITY),
            sd(kind, Some(&subject)),
            "descriptor of user {rid}"
        );
    }
}

#[test]
fn created_users_have_the_shape_of_windows_own() {
    let Some(s) = open(
        "created_users_have_the_shape_of_windows_own",
        "turbinia/SAM",
    ) else {
        return;
    };
    let mut pair = generate_pair(&PairSpec {
        seed: Some(1),
        ..PairSpec::default()
    })
    .unwrap();
    let name = "testlocaluser";
    let ours = pair
        .sam
        .create_user(&NewUser {
            name,
            full_name: name,
            password: Some("google"),
            ..NewUser::default()
        })
        .unwrap();
    let key = |rid: u32| format!(r"SAM\Domains\Account\Users\{rid:08X}");
    let shape = |data: &[u8]| -> Vec<(usize, u32)> {
        Variable::parse(data, 0, v::COUNT)
            .unwrap()
            .items
            .iter()
            .map(|i| (i.data.len(), i.extra))
            .collect()
    };
    let (their_v, our_v) = (
        value(&s, &key(1004), "V"),
        value(&pair.sam, &key(ours.rid), "V"),
    );
    assert_eq!(
        shape(&our_v),
        shape(&their_v),
        "item lengths and descriptor words of V"
    );
    assert_eq!(our_v.len(), their_v.len());
    // F: the same apart from logon/password times and the RID.
    let mask = |mut f: Vec<u8>| {
        f[0x08..0x10].fill(0);
        f[0x18..0x20].fill(0);
        f[0x30..0x34].fill(0);
        f
    };
    assert_eq!(
        mask(value(&pair.sam, &key(ours.rid), "F")),
        mask(value(&s, &key(1004), "F"))
    );
    let names = |sam: &Sam, rid| -> Vec<String> {
        sam.hive()
            .key(&key(rid))
            .unwrap()
            .unwrap()
            .values()
            .unwrap()
            .iter()
            .map(|v| v.name())
            .collect()
    };
    assert_eq!(names(&pair.sam, ours.rid), names(&s, 1004), "value names");

    // The first user, as setup (OOBE) creates it: turbinia's testuser (1000).
    let setup = pair
        .sam
        .create_user(&NewUser {
            name: "testuser",
            full_name: "testuser",
            password: Some("pw"),
            password_never_expires: true,
            setup_account: true,
            ..NewUser::default()
        })
        .unwrap();
    let (their_v, our_v) = (
        value(&s, &key(1000), "V"),
        value(&pair.sam, &key(setup.rid), "V"),
    );
    assert_eq!(shape(&our_v), shape(&their_v), "setup account: V");
    let mut ours_f = mask(value(&pair.sam, &key(setup.rid), "F"));
    let mut theirs_f = mask(value(&s, &key(1000), "F"));
    // testuser has signed in: bad-password time, bad-password and logon counts. The
    // admin count after them (0x44) must match: both are members of Administrators.
    for f in [&mut ours_f, &mut theirs_f] {
        f[0x28..0x30].fill(0);
        f[0x40..0x44].fill(0);
    }
    assert_eq!(ours_f, theirs_f, "setup account: F");
    let groups: Vec<String> = pair
        .sam
        .aliases_of(&setup.sid)
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(groups, ["Administrators"]);
    let sd = |rid| {
        Variable::parse(&value(&pair.sam, &key(rid), "V"), 0, v::COUNT)
            .unwrap()
            .item(v::SECURITY)
            .to_vec()
    };
    let expected = catalog::record_sd(RecordSd::OobeUser, Some(&setup.sid), true).unwrap();
    assert_eq!(sd(setup.rid), expected);
}

#[test]
fn domain_keys_sit_where_windows_puts_them() {
    let test = "domain_keys_sit_where_windows_puts_them";
    for (fixture, scheme, revision, len, pek_at, pek) in [
        ("turbinia/SAM", KeyScheme::Aes, 2u8, 368, 0x168, 4u8),
        ("regipy/SAM", KeyScheme::Rc4, 1, 240, 0xE8, 3),
    ] {
        let Some(s) = open(test, fixture) else { return };
        let theirs = value(&s, r"SAM\Domains\Account", "F");
        let keys =
            [0, 1].map(|i| sam::crypto::encrypt_sam_key(scheme, &[i; 16], &[7; 16], &[i; 16]));
        let second = keys[0].len() + if scheme == KeyScheme::Aes { 16 } else { 0 };
        let ours = DomainF::account(3, 0, keys, u32::from(pek), len).to_bytes();
        assert_eq!(ours.len(), theirs.len(), "{fixture}");
        for f in [&ours, &theirs] {
            assert_eq!(f[0x68], revision, "{fixture}: Key0 revision");
            assert_eq!(f[0x68 + second], revision, "{fixture}: Key1 revision");
            assert_eq!(
                f[0x6C..0x70],
                theirs[0x6C..0x70],
                "{fixture}: Key0 length field"
            );
            assert_eq!(f[pek_at], pek, "{fixture}: key id");
        }
        assert_eq!(
            ours[0x18..0x48],
            theirs[0x18..0x48],
            "{fixture}: password ages, lockout"
        );
        assert_eq!(
            ours[0x58..0x68],
            theirs[0x58..0x68],
            "{fixture}: server state and role"
        );
    }
}
