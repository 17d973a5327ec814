//! Descriptor → SDDL.

use std::fmt::Write;

use super::{
    ACE_FLAGS, ACE_TYPES, ACL_FLAGS, LABEL_BITS, MASK_BITS, NAMED_MASKS, NULL_ACL, SddlOptions,
    TRUST_PROTECTED_FILTER, hex_encode,
};
use crate::ace::{Ace, AceBody, AceType};
use crate::acl::Acl;
use crate::sd::{Control, SecurityDescriptor};
use crate::sid::Sid;

pub(super) fn descriptor(sd: &SecurityDescriptor, options: &SddlOptions) -> String {
    let domain = options.domain.as_ref();
    let mut sections = String::new();
    if let Some(owner) = &sd.owner {
        sections.push_str("O:");
        sid(owner, domain, &mut sections);
    }
    if let Some(group) = &sd.group {
        sections.push_str("G:");
        sid(group, domain, &mut sections);
    }
    let mut implied = Control::SELF_RELATIVE;
    let acls = [
        ('D', sd.dacl.as_ref(), Control::DACL_PRESENT, false),
        ('S', sd.sacl.as_ref(), Control::SACL_PRESENT, true),
    ];
    for (letter, acl, present, is_sacl) in acls {
        if acl.is_none() && !sd.control.contains(present) {
            continue;
        }
        implied = implied | present;
        sections.push(letter);
        sections.push(':');
        for &(code, dacl_bit, sacl_bit) in ACL_FLAGS {
            let bit = Control(if is_sacl { sacl_bit } else { dacl_bit });
            if sd.control.contains(bit) {
                implied = implied | bit;
                sections.push_str(code);
            }
        }
        match acl {
            None => sections.push_str(NULL_ACL),
            Some(acl) => acl_body(acl, options, &mut sections),
        }
    }
    let mut out = String::with_capacity(sections.len() + 32);
    if !options.windows_compatible && (sd.control != implied || sd.rm_control != 0) {
        let _ = write!(out, "{{control=0x{:04x}", sd.control.0);
        if sd.rm_control != 0 {
            let _ = write!(out, ",rm=0x{:02x}", sd.rm_control);
        }
        out.push('}');
    }
    out.push_str(&sections);
    out
}

fn sid(sid: &Sid, domain: Option<&Sid>, out: &mut String) {
    match sid.sddl_alias(domain) {
        Some(alias) => out.push_str(alias),
        None => {
            let _ = write!(out, "{sid}");
        }
    }
}

fn acl_body(acl: &Acl, options: &SddlOptions, out: &mut String) {
    if !options.windows_compatible {
        let mut items = Vec::new();
        if acl.revision != Acl::default_revision(&acl.aces) {
            items.push(format!("rev={}", acl.revision));
        }
        if acl.sbz1 != 0 {
            items.push(format!("sbz1={}", acl.sbz1));
        }
        if acl.sbz2 != 0 {
            items.push(format!("sbz2={}", acl.sbz2));
        }
        if !acl.trailing.is_empty() {
            let mut pad = String::from("pad=");
            hex_encode(&acl.trailing, &mut pad);
            items.push(pad);
        }
        if !items.is_empty() {
            out.push('{');
            out.push_str(&items.join(","));
            out.push('}');
        }
    }
    for entry in &acl.aces {
        ace(entry, options.domain.as_ref(), out);
    }
}

fn ace(ace: &Ace, domain: Option<&Sid>, out: &mut String) {
    out.push('(');
    match ACE_TYPES.iter().find(|(_, value)| *value == ace.ace_type.0) {
        Some((code, _)) => out.push_str(code),
        None => {
            let _ = write!(out, "0x{:02X}", ace.ace_type.0);
        }
    }
    out.push(';');
    ace_flags(ace, out);
    out.push(';');
    let (mask, guids, trustee, trailing) = match &ace.body {
        AceBody::Opaque(bytes) => {
            hex_encode(bytes, out);
            out.push(')');
            return;
        }
        AceBody::Sid {
            mask,
            sid,
            trailing,
        } => (*mask, [None, None], sid, trailing),
        AceBody::Object {
            mask,
            object_type,
            inherited_object_type,
            sid,
            trailing,
        } => (*mask, [*object_type, *inherited_object_type], sid, trailing),
    };
    rights(mask, ace.ace_type, out);
    for guid in guids {
        out.push(';');
        if let Some(guid) = guid {
            let _ = write!(out, "{guid}");
        }
    }
    out.push(';');
    sid(trustee, domain, out);
    if !trailing.is_empty() {
        out.push(';');
        hex_encode(trailing, out);
    }
    out.push(')');
}

fn ace_flags(ace: &Ace, out: &mut String) {
    for &(code, bit) in ACE_FLAGS {
        if ace.flags.0 & bit != 0 {
            let code = if ace.ace_type == AceType::SYSTEM_ACCESS_FILTER
                && bit == TRUST_PROTECTED_FILTER.1
            {
                TRUST_PROTECTED_FILTER.0
            } else {
                code
            };
            out.push_str(code);
        }
    }
}

/// Windows' algorithm: a name for the whole mask, else the bit names if every set bit
/// has one, else hex.
fn rights(mask: u32, ace_type: AceType, out: &mut String) {
    if mask == 0 {
        return;
    }
    let bits = if ace_type == AceType::SYSTEM_MANDATORY_LABEL {
        LABEL_BITS
    } else {
        if let Some((name, _)) = NAMED_MASKS.iter().find(|(_, value)| *value == mask) {
            out.push_str(name);
            return;
        }
        MASK_BITS
    };
    let named: u32 = bits
        .iter()
        .map(|(_, bit)| bit)
        .fold(0, |all, bit| all | bit);
    if mask & !named != 0 {
        let _ = write!(out, "0x{mask:x}");
        return;
    }
    for (name, bit) in bits {
        if mask & bit != 0 {
            out.push_str(name);
        }
    }
}
