//! SDDL rendering and parsing against known strings.

#![cfg(test)]

use ntsec::{
    Ace, AceBody, AceFlags, AceType, Acl, Control, Error, Guid, SddlOptions, SecurityDescriptor,
    Sid, sddl,
};

fn sid(text: &str) -> Sid {
    text.parse().unwrap()
}

fn parse(text: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Parses, checks that rendering gives the same text, and that the binary form parses back
/// to the same descriptor.
fn assert_round_trip(text: &str) -> SecurityDescriptor {
    let sd = parse(text);
    assert_eq!(sd.to_sddl(), text);
    let bytes = sd.to_bytes().unwrap();
    assert_eq!(
        SecurityDescriptor::from_bytes(&bytes).unwrap(),
        sd,
        "{text}"
    );
    sd
}

#[test]
fn typical_profile_descriptor() {
    let text = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIID;FA;;;S-1-5-21-1-2-3-1001)";
    let sd = assert_round_trip(text);
    assert_eq!(sd.owner, Some(Sid::builtin_administrators()));
    assert_eq!(sd.group, Some(Sid::local_system()));
    assert_eq!(sd.control, Control(0x9404));
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision, Acl::REVISION);
    assert_eq!(dacl.aces.len(), 3);
    assert_eq!(dacl.aces[2].flags, AceFlags(0x13));
    assert_eq!(dacl.aces[2].mask(), Some(ntsec::rights::FILE_ALL_ACCESS));

    // Windows' layout: header, DACL, owner, group.
    let bytes = sd.to_bytes().unwrap();
    let dacl_len = 8 + 20 + 24 + 36;
    assert_eq!(bytes.len(), 20 + dacl_len + 16 + 12);
    assert_eq!(bytes[..4], [1, 0, 0x04, 0x94]);
    let offset = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(
        [offset(4), offset(8), offset(12), offset(16)],
        [108, 124, 0, 20]
    );
}

#[test]
fn rights_are_named_like_windows_names_them() {
    let cases = [
        (0x001F_01FF, "FA"),
        (0x0012_0089, "FR"),
        (0x0002_0019, "KR"),
        (0x000F_003F, "KA"),
        (0x1000_0000, "GA"),
        (0xA000_0000, "GXGR"),
        (0x000F_01FF, "CCDCLCSWRPWPDTLOCRSDRCWDWO"),
        (0x0013_01BF, "0x1301bf"),
        (0x0012_00A9, "0x1200a9"),
        (0, ""),
    ];
    for (mask, rights) in cases {
        let mut sd = SecurityDescriptor::new();
        sd.control = sd.control | Control::DACL_PRESENT;
        sd.dacl = Some(Acl::new(vec![Ace::allowed(
            AceFlags(0),
            mask,
            Sid::everyone(),
        )]));
        let text = format!("D:(A;;{rights};;;WD)");
        assert_eq!(sd.to_sddl(), text);
        assert_eq!(parse(&text), sd);
    }
}

#[test]
fn numbers_in_hex_and_decimal_are_accepted() {
    let expected = parse("D:(A;OICI;FA;;;SY)");
    assert_eq!(parse("D:(A;OICI;0x1F01FF;;;SY)"), expected);
    assert_eq!(parse("D:(A;OICI;2032127;;;SY)"), expected);
    assert_eq!(parse("D:(0x0;3;FA;;;S-1-5-0x12)"), expected);
    assert_eq!(parse("d:(a;oici;fa;;;sy)"), expected);
}

#[test]
fn mandatory_label_and_sacl_flags() {
    let sd = assert_round_trip("O:SYG:SYD:AI(A;;KA;;;SY)S:AI(ML;OICI;NWNR;;;LW)");
    let sacl = sd.sacl.as_ref().unwrap();
    assert_eq!(sacl.aces[0].ace_type, AceType::SYSTEM_MANDATORY_LABEL);
    assert_eq!(sacl.aces[0].mask(), Some(3));
    assert!(
        sd.control
            .contains(Control::SACL_PRESENT | Control::SACL_AUTO_INHERITED)
    );
    assert_round_trip("S:P(AU;SAFA;FA;;;WD)");
    assert_round_trip("D:PARAI(D;NPIO;GW;;;AN)");
}

#[test]
fn object_ace_types_and_guids() {
    let text = "D:(OA;CI;RPWP;bf967aba-0de6-11d0-a285-00aa003049e2;;PS)\
                (OD;;CR;;4828cc14-1437-45bc-9b07-ad6f015e5f28;AU)(OU;SA;WP;;;WD)(OL;;CC;;;WD)";
    let sd = assert_round_trip(text);
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision, Acl::REVISION_DS);
    let AceBody::Object {
        object_type,
        inherited_object_type,
        ..
    } = &dacl.aces[0].body
    else {
        panic!("not an object ACE");
    };
    assert_eq!(
        *object_type,
        Some(
            "bf967aba-0de6-11d0-a285-00aa003049e2"
                .parse::<Guid>()
                .unwrap()
        )
    );
    assert_eq!(*inherited_object_type, None);
    assert_eq!(dacl.aces[0].byte_len(), 4 + 8 + 16 + 12);
    // Braces around GUIDs are accepted too.
    let braced = parse("D:(OA;CI;RPWP;{BF967ABA-0DE6-11D0-A285-00AA003049E2};;PS)");
    assert_eq!(braced.dacl.unwrap().aces[0], dacl.aces[0]);
}

#[test]
fn application_data_is_written_as_hex() {
    let sd = assert_round_trip(
        "D:(XA;;FA;;;WD;#6172747800000000)(ZA;;CR;;;WD;#61727478)(XU;FA;FR;;;WD;#00)",
    );
    let AceBody::Sid { trailing, .. } = &sd.dacl.as_ref().unwrap().aces[0].body else {
        panic!("not a SID ACE");
    };
    assert_eq!(trailing, b"artx\0\0\0\0");
    assert_round_trip(
        "S:(RA;;;;;WD;#0000000001020304)(SP;;;;;S-1-17-1)(TL;;CC;;;S-1-19-512-4096)(FL;TP;FA;;;WD;#00000000)",
    );
    // Types without an SDDL code use hex.
    assert_round_trip("D:(0x0C;;FA;;;WD;#AB)(0x0E;;FA;;;WD)");
    // Windows' text form of conditions is not decoded: a clear error, not a wrong ACE.
    let error = SecurityDescriptor::from_sddl("D:(XA;;FA;;;WD;(Member_of {SID(BA)}))").unwrap_err();
    assert!(matches!(error, Error::Sddl { .. }), "{error}");
}

#[test]
fn opaque_aces_round_trip() {
    let sd = assert_round_trip("D:(0x16;OI;#0102030405060708)(0x04;;#00000000)(A;;FA;;;SY)");
    let dacl = sd.dacl.unwrap();
    assert_eq!(
        dacl.aces[0].body,
        AceBody::Opaque(vec![1, 2, 3, 4, 5, 6, 7, 8])
    );
    assert_eq!(dacl.aces[0].sid(), None);
    // A known type whose SID position is unknown cannot use the 6-field form.
    assert!(SecurityDescriptor::from_sddl("D:(0x16;;FA;;;SY)").is_err());
}

#[test]
fn null_and_empty_acls() {
    let sd = assert_round_trip("O:SYD:NO_ACCESS_CONTROL");
    assert_eq!(sd.dacl, None);
    assert!(sd.control.contains(Control::DACL_PRESENT));
    let bytes = sd.to_bytes().unwrap();
    assert_eq!(bytes[16..20], [0, 0, 0, 0]);
    let sd = assert_round_trip("D:PS:AI");
    assert_eq!(sd.dacl, Some(Acl::new(Vec::new())));
    assert_eq!(sd.sacl, Some(Acl::new(Vec::new())));
    assert_round_trip("D:PNO_ACCESS_CONTROL");
    assert_round_trip("");
}

#[test]
fn extension_blocks_carry_what_sddl_cannot_say() {
    let mut sd = parse("O:SYD:(A;;KA;;;SY)");
    sd.control = Control(0x8804);
    sd.rm_control = 7;
    let dacl = sd.dacl.as_mut().unwrap();
    dacl.revision = Acl::REVISION_DS;
    dacl.trailing = vec![0xDE, 0xAD, 0, 0];
    dacl.sbz2 = 5;
    let text = sd.to_sddl();
    assert_eq!(
        text,
        "{control=0x8804,rm=0x07}O:SYD:{rev=4,sbz2=5,pad=#DEAD0000}(A;;KA;;;SY)"
    );
    assert_eq!(parse(&text), sd);
    // An ACL whose PRESENT bit is clear.
    let mut hidden = parse("D:(A;;KA;;;SY)");
    hidden.control = Control::SELF_RELATIVE;
    assert_eq!(hidden.to_sddl(), "{control=0x8000}D:(A;;KA;;;SY)");
    assert_eq!(parse(&hidden.to_sddl()), hidden);

    let plain = SddlOptions {
        windows_compatible: true,
        ..SddlOptions::default()
    };
    assert_eq!(sddl::render(&sd, &plain), "O:SYD:(A;;KA;;;SY)");
}

#[test]
fn domain_relative_aliases_need_the_domain() {
    let domain = sid("S-1-5-21-1-2-3");
    let options = SddlOptions {
        domain: Some(domain.clone()),
        ..SddlOptions::default()
    };
    let text = "O:DAG:DUD:(A;;FA;;;LA)(A;;FR;;;S-1-5-21-1-2-3-1001)(A;;FR;;;S-1-5-21-9-9-9-512)";
    let sd = sddl::parse(text, &options).unwrap();
    assert_eq!(sd.owner, Some(domain.with_rid(512).unwrap()));
    assert_eq!(sddl::render(&sd, &options), text);
    // Without the domain, those SIDs are written out and the aliases are errors.
    assert_eq!(
        sd.to_sddl(),
        "O:S-1-5-21-1-2-3-512G:S-1-5-21-1-2-3-513D:(A;;FA;;;S-1-5-21-1-2-3-500)\
         (A;;FR;;;S-1-5-21-1-2-3-1001)(A;;FR;;;S-1-5-21-9-9-9-512)"
    );
    assert!(SecurityDescriptor::from_sddl("O:DA").is_err());
}

#[test]
fn sections_in_any_order() {
    let expected = parse("O:BAG:SYD:(A;;FA;;;SY)S:(AU;FA;FA;;;WD)");
    assert_eq!(parse("S:(AU;FA;FA;;;WD)D:(A;;FA;;;SY)G:SYO:BA"), expected);
    assert_eq!(parse("G:SYO:BAS:(AU;FA;FA;;;WD)D:(A;;FA;;;SY)"), expected);
}

#[test]
fn errors_name_the_position() {
    let cases = [
        ("O:XX", 2),
        ("O:", 2),
        ("D:(A;;FA;;;SY", 2),
        ("D:(A;;QQ;;;SY)", 6),
        ("D:(Z;;FA;;;SY)", 3),
        ("D:(A;ZZ;FA;;;SY)", 5),
        ("D:(A;;FA;;SY)", 2),
        ("D:(A;;FA;not-a-guid;;SY)", 9),
        ("D:(A;;FA;bf967aba-0de6-11d0-a285-00aa003049e2;;SY)", 2),
        ("X:BA", 0),
        ("O:BAO:SY", 4),
        ("D:{rev=x}", 7),
        ("D:{what=1}", 3),
        ("{control=0x18000}", 9),
        ("D:(A;;FA;;;SY)junk", 14),
        ("O:S-1-5-99999999999", 2),
    ];
    for (text, position) in cases {
        match SecurityDescriptor::from_sddl(text) {
            Err(Error::Sddl {
                position: found,
                reason,
            }) => {
                assert_eq!(found, position, "{text}: {reason}");
            }
            other => panic!("{text}: expected an SDDL error, got {other:?}"),
        }
    }
}
