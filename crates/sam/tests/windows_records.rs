//! The `F` and `V` records our writer produces, field by field next to the accounts
//! Windows itself created in the real SAM hives of the fixtures (Windows 7: regipy, RC4;
//! Windows 10: turbinia, AES). See docs/sam.md, "Our V and F records compared with
//! Windows'".
//!
//! The fixtures come without their SYSTEM hive, so the test gives the fixture's hive (in
//! memory) a SAM key wrapped with a boot key of its own; then `Sam::create_user` adds a
//! plain user and an administrator to Windows' own SAM, the result is saved to a
//! temporary directory and read back, and every comparison takes Windows' values from
//! the fixture's accounts (none is a copy of our own output).
#![cfg(test)]

use sam::crypto::{self, KeyScheme};
use sam::records::{Variable, f, u16_at, u32_at, u64_at, v};
use sam::{AliasDomain, NewUser, Sam, SystemInfo, alias, flags};

const TEST: &str = "created_users_match_windows_own_accounts_field_by_field";
const ACCOUNT: &str = r"SAM\Domains\Account";
/// `Key0` inside `Domains\Account\F`.
const KEY0: usize = 0x68;
/// Where a user's `V` data area starts: 17 descriptors of 12 bytes.
const V_DATA: usize = v::COUNT * 12;

fn user_key(rid: u32) -> String {
    format!(r"{ACCOUNT}\Users\{rid:08X}")
}

fn value(sam: &Sam, key: &str, name: &str) -> Vec<u8> {
    sam.hive()
        .key(key)
        .unwrap()
        .unwrap_or_else(|| panic!("{key} is missing"))
        .value(name)
        .unwrap()
        .unwrap_or_else(|| panic!(r"{key}\{name} is missing"))
        .data()
        .unwrap()
        .into_owned()
}

fn value_names(sam: &Sam, key: &str) -> Vec<String> {
    let k = sam.hive().key(key).unwrap().unwrap();
    k.values().unwrap().iter().map(|v| v.name()).collect()
}

/// (offset, length, extra) of the 17 descriptors of a `V`.
fn v_header(data: &[u8]) -> Vec<(usize, usize, u32)> {
    (0..v::COUNT)
        .map(|i| {
            let at = i * 12;
            (
                u32_at(data, at).unwrap() as usize,
                u32_at(data, at + 4).unwrap() as usize,
                u32_at(data, at + 8).unwrap(),
            )
        })
        .collect()
}

/// Checks Windows' layout rules on one `V`: items in descriptor order from offset 0 of
/// the data area, each starting at the previous end rounded up to 4 (empty ones too),
/// nothing after the last item.
fn check_v_layout(data: &[u8], who: &str) {
    let mut end = 0usize;
    for (i, (off, len, _)) in v_header(data).into_iter().enumerate() {
        assert_eq!(off, end.next_multiple_of(4), "{who}: V item {i} offset");
        end = off + len;
    }
    assert_eq!(data.len(), V_DATA + end, "{who}: V ends with its last item");
}

/// The fixture's hive with a SAM key we know, opened with a matching boot key.
fn rekeyed(theirs: &Sam, scheme: KeyScheme) -> Sam {
    let boot_key = [0x5A; 16];
    let key0 = crypto::encrypt_sam_key(scheme, &[0x3C; 16], &boot_key, &[0x11; 16]);
    let mut fixed = value(theirs, ACCOUNT, "F");
    assert_eq!(
        fixed[KEY0..KEY0 + 8],
        key0[..8],
        "the fixture's Key0 has the revision and length of ours"
    );
    fixed[KEY0..KEY0 + key0.len()].copy_from_slice(&key0);
    let mut hive = theirs.hive().clone();
    let account = hive.key(ACCOUNT).unwrap().unwrap().offset();
    hive.set_value(account, "F", 3, &fixed).unwrap();
    let system = SystemInfo {
        file: "(test SYSTEM)".into(),
        current_control_set: 1,
        boot_key,
        computer_name: None,
    };
    Sam::from_hive(hive, theirs.file(), Some(system)).unwrap()
}

/// A descriptor with one account SID replaced by another of the same length.
fn with_subject(sd: &[u8], from: &ntsec::Sid, to: &ntsec::Sid) -> Vec<u8> {
    let (from, to) = (from.to_bytes(), to.to_bytes());
    let at = sd
        .windows(from.len())
        .position(|w| w == from)
        .expect("the descriptor names its account");
    let mut out = sd.to_vec();
    out[at..at + to.len()].copy_from_slice(&to);
    out
}

fn dacl(sd: &[u8]) -> Vec<ntsec::Ace> {
    ntsec::SecurityDescriptor::from_bytes(sd)
        .unwrap()
        .dacl
        .unwrap()
        .aces
}

#[test]
fn created_users_match_windows_own_accounts_field_by_field() {
    for (fixture, scheme) in [
        ("regipy/SAM", KeyScheme::Rc4),
        ("turbinia/SAM", KeyScheme::Aes),
    ] {
        let Some(path) = testbed::fixture(TEST, fixture) else {
            continue;
        };
        let theirs = Sam::open(&path).unwrap();
        assert_eq!(theirs.scheme().unwrap(), scheme, "{fixture}");
        compare(fixture, &theirs);
    }
}

fn compare(fixture: &str, theirs: &Sam) {
    let machine = theirs.machine_sid().unwrap();
    let admins = theirs
        .alias(AliasDomain::Builtin, alias::ADMINISTRATORS)
        .unwrap()
        .members;
    let windows = theirs.users().unwrap();
    let is_admin = |rid: u32| admins.contains(&machine.with_rid(rid).unwrap());
    // Accounts created on the machine (not at install): RID 1000 and up. "Plain" ones
    // are the New-LocalUser / NetUserAdd accounts outside Administrators.
    let local: Vec<u32> = windows
        .iter()
        .map(|u| u.rid)
        .filter(|&r| r >= 1000)
        .collect();
    let plain: Vec<u32> = local.iter().copied().filter(|&r| !is_admin(r)).collect();
    assert!(!local.is_empty(), "{fixture}: Windows created no account");
    let windows_next_rid = theirs.next_rid().unwrap();
    let users_count_type = |sam: &Sam| {
        let k = sam
            .hive()
            .key(&format!(r"{ACCOUNT}\Users"))
            .unwrap()
            .unwrap();
        k.value("").unwrap().unwrap().kind()
    };
    let windows_users_type = users_count_type(theirs);

    // Our accounts, created in Windows' own SAM and saved to a temporary directory.
    let mut ours = rekeyed(theirs, theirs.scheme().unwrap());
    let password = "Probe pw 1";
    let user = ours
        .create_user(&NewUser {
            name: "admuprobe",
            full_name: "admuprobe",
            password: Some(password),
            ..NewUser::default()
        })
        .unwrap();
    let admin = ours
        .create_user(&NewUser {
            name: "admuadmin",
            full_name: "admuadmin",
            password: Some(password),
            admin: true,
            ..NewUser::default()
        })
        .unwrap();
    assert!(ours.verify_password(user.rid, password).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("SAM");
    ours.save_as(&copy).unwrap();
    let after = Sam::open(&copy).unwrap();
    after.validate().unwrap();

    // Domains\Account: Windows keeps NextRid one past its highest RID; the first new
    // user takes it, and NextRid moves on the same way.
    let highest = windows.iter().map(|u| u.rid).max().unwrap();
    assert_eq!(windows_next_rid, highest + 1, "{fixture}: Windows' NextRid");
    assert_eq!(user.rid, windows_next_rid, "{fixture}: our first RID");
    assert_eq!(
        after.next_rid().unwrap(),
        admin.rid + 1,
        "{fixture}: NextRid"
    );
    assert_eq!(
        users_count_type(&after),
        windows_users_type + 2,
        "{fixture}: the count in the type of Users' default value"
    );

    let their_f = |rid| value(theirs, &user_key(rid), "F");
    let their_v = |rid| value(theirs, &user_key(rid), "V");
    let ours_f = |rid| value(&after, &user_key(rid), "F");
    let ours_v = |rid| value(&after, &user_key(rid), "V");

    // F: the fields every Windows account of the fixture agrees on.
    for w in &windows {
        let tf = their_f(w.rid);
        for rid in [user.rid, admin.rid] {
            let of = ours_f(rid);
            let who = format!("{fixture}: F of our {rid} next to Windows' {}", w.rid);
            assert_eq!(of.len(), tf.len(), "{who}: length");
            assert_eq!(of[..8], tf[..8], "{who}: revision dword and unused dword");
            assert_eq!(
                u64_at(&of, f::LAST_LOGOFF),
                u64_at(&tf, f::LAST_LOGOFF),
                "{who}: last logoff"
            );
            assert_eq!(
                u32_at(&of, f::PRIMARY_GROUP),
                u32_at(&tf, f::PRIMARY_GROUP),
                "{who}: primary group"
            );
            assert_eq!(u16_at(&of, 0x46), u16_at(&tf, 0x46), "{who}: unused word");
            assert_eq!(
                u16_at(&of, f::OPERATOR_COUNT),
                u16_at(&tf, f::OPERATOR_COUNT),
                "{who}: operator count"
            );
        }
        // The admin count is 1 exactly for members of Administrators.
        assert_eq!(
            u16_at(&tf, f::ADMIN_COUNT),
            Some(u16::from(is_admin(w.rid))),
            "{fixture}: Windows' admin count of {}",
            w.rid
        );
    }
    assert_eq!(
        u16_at(&ours_f(user.rid), f::ADMIN_COUNT),
        Some(0),
        "{fixture}: admin count of our plain user"
    );
    assert_eq!(
        u16_at(&ours_f(admin.rid), f::ADMIN_COUNT),
        Some(1),
        "{fixture}: admin count of our administrator"
    );
    for &rid in &local {
        let tf = their_f(rid);
        let word = u32_at(&tf, f::FLAGS).unwrap() & !flags::DONT_EXPIRE_PASSWORD;
        for ours_rid in [user.rid, admin.rid] {
            assert_eq!(
                u32_at(&ours_f(ours_rid), f::FLAGS),
                Some(word),
                "{fixture}: account control of our {ours_rid} next to Windows' {rid}"
            );
        }
    }
    for &rid in &plain {
        let (tf, of) = (their_f(rid), ours_f(user.rid));
        assert_eq!(
            u64_at(&of, f::ACCOUNT_EXPIRES),
            u64_at(&tf, f::ACCOUNT_EXPIRES),
            "{fixture}: account expiry next to Windows' {rid}"
        );
        assert_eq!(
            (u16_at(&of, f::COUNTRY_CODE), u16_at(&of, f::CODE_PAGE)),
            (u16_at(&tf, f::COUNTRY_CODE), u16_at(&tf, f::CODE_PAGE)),
            "{fixture}: country code and code page next to Windows' {rid}"
        );
    }

    // V: Windows' layout rules, held by Windows' records and by ours.
    for w in &windows {
        check_v_layout(&their_v(w.rid), &format!("{fixture}: Windows' {}", w.rid));
    }
    for rid in [user.rid, admin.rid] {
        check_v_layout(&ours_v(rid), &format!("{fixture}: our {rid}"));
    }
    // Slots Windows fills for the accounts it created are the ones we fill (the full
    // name and comment are whatever the caller gives).
    let filled = |data: &[u8]| -> Vec<usize> {
        v_header(data)
            .iter()
            .enumerate()
            .filter(|(i, (_, len, _))| *len > 0 && ![v::FULL_NAME, v::COMMENT].contains(i))
            .map(|(i, _)| i)
            .collect()
    };
    let mut windows_filled: Vec<usize> = local.iter().flat_map(|&r| filled(&their_v(r))).collect();
    windows_filled.sort_unstable();
    windows_filled.dedup();
    for rid in [user.rid, admin.rid] {
        assert_eq!(
            filled(&ours_v(rid)),
            windows_filled,
            "{fixture}: V slots filled by our {rid} and by Windows' accounts {local:?}"
        );
    }
    let hours = |data: &[u8]| -> (Vec<u8>, u32) {
        let rec = Variable::parse(data, 0, v::COUNT).unwrap();
        let item = &rec.items[v::LOGON_HOURS];
        (item.data.clone(), item.extra)
    };
    for &rid in &local {
        let (tv, ov) = (their_v(rid), ours_v(user.rid));
        let (th, tr) = (v_header(&tv), v_header(&ov));
        let who = format!("{fixture}: V of our {} next to Windows' {rid}", user.rid);
        assert_eq!(
            tr[v::SECURITY].2,
            th[v::SECURITY].2,
            "{who}: descriptor word"
        );
        assert_eq!(tr[v::GROUPS].2, th[v::GROUPS].2, "{who}: group count");
        let (t, o) = (
            Variable::parse(&tv, 0, v::COUNT).unwrap(),
            Variable::parse(&ov, 0, v::COUNT).unwrap(),
        );
        assert_eq!(o.item(v::GROUPS), t.item(v::GROUPS), "{who}: groups");
        if th[v::LOGON_HOURS].1 > 0 {
            assert_eq!(hours(&ov), hours(&tv), "{who}: logon hours");
        }
        // Hash entries: the same shape (the key id and revision in the first four
        // bytes, the AES data offset, the lengths) as Windows' entries; Windows' NT
        // entries all hold a password.
        assert!(theirs.user(rid).unwrap().has_password, "{who}");
        for slot in [v::LM_HASH, v::NT_HASH, v::NT_HISTORY, v::LM_HISTORY] {
            let (te, oe) = (t.item(slot), o.item(slot));
            assert_eq!(oe.len(), te.len(), "{who}: length of hash entry {slot}");
            assert_eq!(
                oe[..4],
                te[..4],
                "{who}: key id and revision of entry {slot}"
            );
            if te.len() >= 24 {
                assert_eq!(oe[4..8], te[4..8], "{who}: AES data offset of entry {slot}");
                for (e, whose) in [(te, "Windows'"), (oe, "our")] {
                    assert_ne!(e[8..24], [0; 16], "{who}: {whose} salt of entry {slot}");
                }
            }
        }
    }
    // Descriptors. Our administrator's is Windows' Administrator's (500), naming our
    // account instead: like Windows, we drop the Account Operators ACE of members of
    // Administrators. Our plain user's has that ACE, as Guest's (501) has it, after the
    // Administrators ACE.
    let sd = |data: &[u8]| Variable::parse(data, 0, v::COUNT).unwrap().items[v::SECURITY].clone();
    let windows_admin = sd(&their_v(500)).data;
    assert_eq!(
        sd(&ours_v(admin.rid)).data,
        with_subject(&windows_admin, &machine.with_rid(500).unwrap(), &admin.sid),
        "{fixture}: descriptor of our administrator"
    );
    let operators: ntsec::Sid = "S-1-5-32-548".parse().unwrap();
    let guest_ace = dacl(&sd(&their_v(501)).data)
        .into_iter()
        .find(|a| a.sid() == Some(&operators))
        .expect("Guest's descriptor has an Account Operators ACE");
    let mut expected = dacl(&with_subject(
        &windows_admin,
        &machine.with_rid(500).unwrap(),
        &user.sid,
    ));
    let after_admins = expected
        .iter()
        .position(|a| a.sid() == Some(&ntsec::Sid::builtin_administrators()))
        .unwrap()
        + 1;
    expected.insert(after_admins, guest_ace);
    assert_eq!(
        dacl(&sd(&ours_v(user.rid)).data),
        expected,
        "{fixture}: DACL of our plain user"
    );
    for &rid in &plain {
        let subject = machine.with_rid(rid).unwrap();
        assert_eq!(
            sd(&ours_v(user.rid)).data,
            with_subject(&sd(&their_v(rid)).data, &subject, &user.sid),
            "{fixture}: descriptor of our plain user next to Windows' {rid}"
        );
    }

    // The keys: the same values in the same order as Windows' accounts have (with
    // ForcePasswordReset only where Windows writes it), the same shared security cell,
    // no class name; Names\<name> has an empty default value whose type is the RID.
    for &rid in &local {
        for ours_rid in [user.rid, admin.rid] {
            assert_eq!(
                value_names(&after, &user_key(ours_rid)),
                value_names(theirs, &user_key(rid)),
                "{fixture}: values of our {ours_rid} and Windows' {rid}"
            );
        }
        if value_names(theirs, &user_key(rid)).contains(&"ForcePasswordReset".to_string()) {
            let (k, name) = (user_key(rid), "ForcePasswordReset");
            assert_eq!(
                value(&after, &user_key(user.rid), name),
                value(theirs, &k, name),
                "{fixture}: {name} next to Windows' {rid}"
            );
        }
    }
    let hive = after.hive();
    let key = |k: &str| hive.key(k).unwrap().unwrap();
    let windows_key = key(&user_key(local[0]));
    for rid in [user.rid, admin.rid] {
        let k = key(&user_key(rid));
        assert_eq!(
            k.security_offset(),
            windows_key.security_offset(),
            "{fixture}: security cell of our {rid}"
        );
        assert_eq!(
            k.flags(),
            windows_key.flags(),
            "{fixture}: key flags of our {rid}"
        );
        assert_eq!(
            k.class_name().unwrap(),
            windows_key.class_name().unwrap(),
            "{fixture}: class name of our {rid}"
        );
    }
    for u in windows.iter().chain([&user, &admin]) {
        let names = format!(r"{ACCOUNT}\Users\Names\{}", u.name);
        let entry = key(&names).value("").unwrap().unwrap();
        assert_eq!(
            (entry.kind(), entry.data().unwrap().len()),
            (u.rid, 0),
            "{fixture}: {names}"
        );
    }
}

/// Windows' rule for members of Administrators and the operator aliases, both ways.
#[test]
fn admin_and_operator_membership_protects_the_account_as_windows_does() {
    let mut pair = sam::generate_pair(&sam::PairSpec {
        seed: Some(11),
        ..sam::PairSpec::default()
    })
    .unwrap();
    let s = &mut pair.sam;
    // The built-in accounts as both fixtures have them: only Administrator is counted.
    for (rid, admin_count) in [(500, 1), (501, 0), (503, 0), (504, 0)] {
        let data = value(s, &user_key(rid), "F");
        assert_eq!(
            (
                u16_at(&data, f::ADMIN_COUNT),
                u16_at(&data, f::OPERATOR_COUNT)
            ),
            (Some(admin_count), Some(0)),
            "built-in account {rid}"
        );
    }
    let u = s
        .create_user(&NewUser {
            name: "plain",
            password: Some("pw"),
            ..NewUser::default()
        })
        .unwrap();
    let key = user_key(u.rid);
    let descriptor = |s: &Sam| {
        Variable::parse(&value(s, &key, "V"), 0, v::COUNT)
            .unwrap()
            .item(v::SECURITY)
            .to_vec()
    };
    let counts = |s: &Sam| {
        let data = value(s, &key, "F");
        (
            u16_at(&data, f::ADMIN_COUNT).unwrap(),
            u16_at(&data, f::OPERATOR_COUNT).unwrap(),
        )
    };
    let plain = sam::catalog::record_sd(sam::catalog::RecordSd::User, Some(&u.sid), true).unwrap();
    let protected =
        sam::catalog::record_sd(sam::catalog::RecordSd::Administrator, Some(&u.sid), true).unwrap();
    assert_eq!((descriptor(s), counts(s)), (plain.clone(), (0, 0)));

    s.add_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &u.sid)
        .unwrap();
    assert_eq!((descriptor(s), counts(s)), (protected.clone(), (1, 0)));
    let backup_operators = 0x227;
    s.add_alias_member(AliasDomain::Builtin, backup_operators, &u.sid)
        .unwrap();
    assert_eq!((descriptor(s), counts(s)), (protected.clone(), (1, 1)));
    s.remove_alias_member(AliasDomain::Builtin, alias::ADMINISTRATORS, &u.sid)
        .unwrap();
    assert_eq!(
        (descriptor(s), counts(s)),
        (protected, (0, 1)),
        "still an operator"
    );
    s.remove_alias_member(AliasDomain::Builtin, backup_operators, &u.sid)
        .unwrap();
    assert_eq!((descriptor(s), counts(s)), (plain, (0, 0)));
    // Other aliases change nothing.
    s.add_alias_member(AliasDomain::Builtin, alias::REMOTE_DESKTOP_USERS, &u.sid)
        .unwrap();
    assert_eq!(counts(s), (0, 0));
    s.validate().unwrap();
}
