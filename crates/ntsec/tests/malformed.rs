//! Malformed binary input gives typed errors that name the byte offset.

#![cfg(test)]

use ntsec::{Ace, AceBody, AceFlags, AceType, Acl, Error, SecurityDescriptor, Sid};

/// Header (20), DACL at 20 (8 + ACE 20 + ACE 24 = 52), owner BA at 72, group SY at 88.
fn valid() -> Vec<u8> {
    let bytes = SecurityDescriptor::from_sddl("O:BAG:SYD:(A;;FA;;;SY)(A;;FA;;;BA)")
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(bytes.len(), 100);
    bytes
}

fn patch_u16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn patch_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn parse(bytes: &[u8]) -> Result<SecurityDescriptor, Error> {
    SecurityDescriptor::from_bytes(bytes)
}

#[test]
fn truncated_input() {
    let bytes = valid();
    assert!(matches!(
        parse(&bytes[..10]),
        Err(Error::Truncated {
            offset: 0,
            needed: 20,
            available: 10,
            ..
        })
    ));
    // Cut inside the group SID at 88.
    assert!(matches!(
        parse(&bytes[..95]),
        Err(Error::Truncated {
            what: "SID",
            offset: 88,
            ..
        })
    ));
    // Cut inside the DACL: the ACL's own size no longer fits.
    let error = parse(&bytes[..40]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Truncated {
                what: "ACL",
                offset: 20,
                needed: 52,
                available: 20
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("byte offset 20"));
    assert!(matches!(parse(&[]), Err(Error::Truncated { .. })));
}

#[test]
fn header_fields() {
    let mut bytes = valid();
    bytes[0] = 2;
    assert_eq!(
        parse(&bytes),
        Err(Error::DescriptorRevision { revision: 2 })
    );
    let mut bytes = valid();
    bytes[3] = 0;
    assert_eq!(
        parse(&bytes),
        Err(Error::NotSelfRelative { control: 0x0004 })
    );
}

#[test]
fn offsets_past_the_end_or_into_the_header() {
    let mut bytes = valid();
    patch_u32(&mut bytes, 4, 1000);
    assert!(matches!(
        parse(&bytes),
        Err(Error::Truncated {
            what: "SID",
            offset: 1000,
            available: 0,
            ..
        })
    ));
    let mut bytes = valid();
    patch_u32(&mut bytes, 8, u32::MAX);
    assert!(
        matches!(parse(&bytes), Err(Error::Truncated { offset, .. }) if offset == u32::MAX as usize)
    );
    let mut bytes = valid();
    patch_u32(&mut bytes, 12, 8);
    assert_eq!(
        parse(&bytes),
        Err(Error::PartInsideHeader {
            part: "SACL",
            offset: 8
        })
    );
}

#[test]
fn overlapping_parts() {
    let mut bytes = valid();
    // Group at the owner's offset.
    patch_u32(&mut bytes, 8, 72);
    assert!(matches!(
        parse(&bytes),
        Err(Error::PartsOverlap {
            first_start: 72,
            second_start: 72,
            ..
        })
    ));
    let mut bytes = valid();
    // Owner inside the DACL (its second ACE's SID, which parses as a SID).
    patch_u32(&mut bytes, 4, 56);
    assert!(matches!(
        parse(&bytes),
        Err(Error::PartsOverlap {
            first: "DACL",
            first_start: 20,
            first_end: 72,
            second: "owner",
            second_start: 56
        })
    ));
}

#[test]
fn ace_count_lies() {
    let mut bytes = valid();
    patch_u16(&mut bytes, 24, 3);
    assert_eq!(
        parse(&bytes),
        Err(Error::AceCountMismatch {
            index: 2,
            count: 3,
            offset: 72,
            acl_end: 72
        })
    );
}

#[test]
fn acl_sizes() {
    let mut bytes = valid();
    patch_u16(&mut bytes, 22, 4);
    assert_eq!(
        parse(&bytes),
        Err(Error::AclSizeTooSmall {
            offset: 20,
            size: 4
        })
    );
    let mut bytes = valid();
    patch_u16(&mut bytes, 22, 200);
    assert!(matches!(
        parse(&bytes),
        Err(Error::Truncated {
            what: "ACL",
            offset: 20,
            needed: 200,
            ..
        })
    ));
    // ACL shorter than its ACEs: the second ACE runs past the end.
    let mut bytes = valid();
    patch_u16(&mut bytes, 22, 48);
    assert_eq!(
        parse(&bytes),
        Err(Error::AceBeyondAcl {
            offset: 48,
            size: 24,
            acl_end: 68
        })
    );
}

#[test]
fn ace_sizes() {
    // First ACE at 28: size below the 8-byte minimum.
    for size in [0, 4, 7] {
        let mut bytes = valid();
        patch_u16(&mut bytes, 30, size);
        assert_eq!(
            parse(&bytes),
            Err(Error::AceTooSmall {
                offset: 28,
                size: usize::from(size),
                needed: 8
            })
        );
    }
    // Size that does not cover the SID (header 4 + mask 4 + SY 12 = 20).
    let mut bytes = valid();
    patch_u16(&mut bytes, 30, 16);
    assert_eq!(
        parse(&bytes),
        Err(Error::AceTooSmall {
            offset: 28,
            size: 16,
            needed: 20
        })
    );
    // A SID claiming too many sub-authorities.
    let mut bytes = valid();
    bytes[28 + 9] = 16;
    assert_eq!(
        parse(&bytes),
        Err(Error::SidSubAuthorityCount {
            offset: 36,
            count: 16
        })
    );
    let mut bytes = valid();
    bytes[28 + 8] = 3;
    assert_eq!(
        parse(&bytes),
        Err(Error::SidRevision {
            offset: 36,
            revision: 3
        })
    );
}

#[test]
fn object_ace_too_small_for_its_guids() {
    let ace = Ace {
        ace_type: AceType::ACCESS_ALLOWED_OBJECT,
        flags: AceFlags(0),
        body: AceBody::Object {
            mask: 1,
            object_type: Some(ntsec::Guid([7; 16])),
            inherited_object_type: None,
            sid: Sid::everyone(),
            trailing: Vec::new(),
        },
    };
    let mut bytes = ace.to_bytes().unwrap();
    assert_eq!(bytes.len(), 40);
    bytes[2] = 20;
    bytes.truncate(20);
    assert_eq!(
        Ace::from_bytes(&bytes),
        Err(Error::AceTooSmall {
            offset: 0,
            size: 20,
            needed: 28
        })
    );
    // Unknown object flags: kept opaque instead of guessing the SID position.
    let mut bytes = ace.to_bytes().unwrap();
    bytes[8] = 0x5;
    let (opaque, _) = Ace::from_bytes(&bytes).unwrap();
    assert!(matches!(opaque.body, AceBody::Opaque(_)));
    assert_eq!(opaque.to_bytes().unwrap(), bytes);
}

#[test]
fn serializing_what_cannot_be_stored() {
    let big = Ace {
        ace_type: AceType::ACCESS_ALLOWED_CALLBACK,
        flags: AceFlags(0),
        body: AceBody::Sid {
            mask: 1,
            sid: Sid::everyone(),
            trailing: vec![0; 70_000],
        },
    };
    assert!(matches!(
        big.to_bytes(),
        Err(Error::TooLarge { what: "ACE", .. })
    ));
    let many = Acl::new(vec![Ace::allowed(AceFlags(0), 1, Sid::everyone()); 4000]);
    assert!(matches!(
        many.to_bytes(),
        Err(Error::TooLarge { what: "ACL", .. })
    ));
    let mismatched = Ace {
        ace_type: AceType::ACCESS_ALLOWED_OBJECT,
        ..Ace::allowed(AceFlags(0), 1, Sid::everyone())
    };
    assert_eq!(
        mismatched.to_bytes(),
        Err(Error::AceLayoutMismatch { ace_type: 5 })
    );
}
