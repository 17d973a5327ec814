//! Who may read admu's own files: the journal, the backups (copies of the SAM and of
//! the user's hives) and the lock are for SYSTEM and the Administrators group only. A
//! backup anyone could read leaks password hashes; a journal anyone could write lets
//! them choose what a privileged `revert` or `recover` writes where.
//!
//! These are the pure decisions; hosts write and read the descriptors.

use ntsec::{Ace, AceFlags, AceType, Acl, Control, SecurityDescriptor, Sid};

/// `FILE_ALL_ACCESS`.
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

fn system() -> Sid {
    Sid::new(5, &[18]).expect("S-1-5-18 is a valid SID")
}

fn administrators() -> Sid {
    Sid::new(5, &[32, 544]).expect("S-1-5-32-544 is a valid SID")
}

/// The descriptor of admu's folders and files: owner Administrators, and a protected
/// DACL (nothing inherited from `ProgramData`) granting full control to SYSTEM and
/// Administrators only; folders pass it on to what is created in them.
pub fn descriptor(is_dir: bool) -> Vec<u8> {
    let flags = if is_dir {
        AceFlags(AceFlags::OBJECT_INHERIT.0 | AceFlags::CONTAINER_INHERIT.0)
    } else {
        AceFlags(0)
    };
    let mut sd = SecurityDescriptor::new();
    sd.owner = Some(administrators());
    sd.group = Some(system());
    sd.dacl = Some(Acl::new(vec![
        Ace::allowed(flags, FILE_ALL_ACCESS, system()),
        Ace::allowed(flags, FILE_ALL_ACCESS, administrators()),
    ]));
    sd.control = Control(
        Control::SELF_RELATIVE.0
            | Control::DACL_PRESENT.0
            | Control::DACL_PROTECTED.0
            | Control::DACL_AUTO_INHERITED.0,
    );
    sd.use_windows_layout();
    sd.to_bytes().unwrap_or_default()
}

/// Checks that a descriptor lets only SYSTEM and Administrators in: owned by one of
/// them, a DACL that is present, protected from inheritance, and allows no one else.
/// Deny entries are fine. The error says what is wrong.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
    let sd = SecurityDescriptor::from_bytes(bytes)
        .map_err(|e| format!("its security descriptor does not parse: {e}"))?;
    let trusted = |sid: &Sid| *sid == system() || *sid == administrators();
    match &sd.owner {
        Some(owner) if trusted(owner) => {}
        Some(owner) => {
            return Err(format!(
                "it is owned by {owner}, not SYSTEM or Administrators"
            ));
        }
        None => return Err("it has no owner".into()),
    }
    if !sd.control.contains(Control::DACL_PRESENT) {
        return Err("it has no DACL (everyone has full access)".into());
    }
    let Some(dacl) = &sd.dacl else {
        return Err("it has a NULL DACL (everyone has full access)".into());
    };
    if !sd.control.contains(Control::DACL_PROTECTED) {
        return Err("its DACL inherits entries from its parent folder".into());
    }
    for ace in &dacl.aces {
        if matches!(
            ace.ace_type,
            AceType::ACCESS_DENIED | AceType::ACCESS_DENIED_OBJECT
        ) {
            continue;
        }
        match ace.sid() {
            Some(sid) if trusted(sid) => {}
            Some(sid) => return Err(format!("its DACL grants access to {sid}")),
            None => return Err("its DACL has an entry of unknown type".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_private_descriptor_passes_and_others_fail_with_the_reason() {
        for dir in [true, false] {
            let sd = descriptor(dir);
            verify(&sd).unwrap();
            let text = SecurityDescriptor::from_bytes(&sd).unwrap().to_sddl();
            assert!(text.starts_with("O:BAG:SYD:PAI"), "{text}");
        }
        let cases = [
            (
                "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;WD)",
                "S-1-1-0",
            ),
            ("O:BAG:SYD:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", "inherits"),
            ("O:BUG:SYD:PAI(A;OICI;FA;;;SY)", "owned by S-1-5-32-545"),
            ("O:BAG:SY", "no DACL"),
            ("O:BAG:SYD:PAI(A;;0x1200a9;;;BU)", "S-1-5-32-545"),
        ];
        for (sddl, says) in cases {
            let sd = SecurityDescriptor::from_sddl(sddl)
                .unwrap()
                .to_bytes()
                .unwrap();
            let e = verify(&sd).unwrap_err();
            assert!(e.contains(says), "{sddl}: {e}");
        }
        let deny = SecurityDescriptor::from_sddl("O:SYG:SYD:P(D;;FA;;;WD)(A;;FA;;;SY)")
            .unwrap()
            .to_bytes()
            .unwrap();
        verify(&deny).unwrap();
        assert!(verify(b"junk").unwrap_err().contains("does not parse"));
    }
}
