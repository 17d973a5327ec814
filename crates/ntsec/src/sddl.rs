//! SDDL: the text form of security descriptors ([MS-DTYP] §2.5.1).
//!
//! [`render`] writes what `ConvertSecurityDescriptorToStringSecurityDescriptorW` writes:
//! `O:` owner, `G:` group, `D:` DACL, `S:` SACL, SID aliases (`SY`, `BA`, …), rights
//! names (`FA`, `KR`, or bit names `CCDCLCSW…` in bit order, else `0x…` hex), ACE types
//! and flags by their two-letter codes. [`parse`] reads that back and also accepts
//! lowercase aliases, decimal or hex numbers, and GUIDs in braces.
//!
//! # Extensions
//!
//! Standard SDDL cannot say everything the binary form can, and some of it shows up in
//! descriptors Windows itself writes (ACLs allocated larger than their ACEs, revision-4
//! ACLs without object ACEs). So that render → parse gives back the very same descriptor,
//! ntsec adds these forms. Byte strings are always `#` followed by uppercase hex. None
//! of them appears when the descriptor does not need it.
//!
//! * Descriptor block, before the first section: `{control=0x8814,rm=0x00}` gives the
//!   exact Control word (and Sbz1, the resource-manager byte) when it differs from what
//!   the sections imply (`SE_SELF_RELATIVE`, `*_PRESENT` for each `D:`/`S:` section, and
//!   the `P`/`AR`/`AI` flags).
//! * ACL block, right after an ACL's flags: `{rev=4,sbz1=0,sbz2=0,pad=#00000000}` for a
//!   revision other than the default (4 when an object ACE is present, else 2), non-zero
//!   reserved fields, and slack bytes between the last ACE and AclSize.
//! * ACE type `0xNN` for types that have no SDDL code (compound, denied callback object,
//!   alarm callback, audit/alarm callback object, unknown types).
//! * A 7th ACE field `#HEX` for the bytes after the SID: application data of callback,
//!   resource-attribute and access-filter ACEs (conditional expressions and claims are
//!   not decoded), or padding. Windows' own text forms of those (`(Member_of …)`,
//!   `("name",TI,…)`) are not parsed.
//! * Opaque ACEs (SID position unknown) as three fields: `(type;flags;#HEX)`, the hex
//!   being everything after the 4-byte ACE header.
//!
//! An ACL that exists while its `*_PRESENT` bit is clear is rendered like a present one;
//! the descriptor block then carries the real Control word. What SDDL never keeps is the
//! byte layout of the descriptor's parts: parsed SDDL always uses Windows' layout.
//! [`SddlOptions::windows_compatible`] turns the blocks off for display.

mod parse;
mod render;

use std::fmt::Write;

use crate::error::Error;
use crate::sd::SecurityDescriptor;
use crate::sid::Sid;

/// How SDDL is rendered and parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SddlOptions {
    /// Domain (or machine) SID for the domain-relative aliases (`DA`, `DU`, `LA`, …).
    /// Without it those SIDs are written out and those aliases do not parse.
    pub domain: Option<Sid>,
    /// Leave out the `{…}` blocks, giving exactly what Windows would print (lossy).
    pub windows_compatible: bool,
}

/// Renders `descriptor` as SDDL.
pub fn render(descriptor: &SecurityDescriptor, options: &SddlOptions) -> String {
    render::descriptor(descriptor, options)
}

/// Parses SDDL into a descriptor (in Windows' layout).
pub fn parse(text: &str, options: &SddlOptions) -> Result<SecurityDescriptor, Error> {
    parse::descriptor(text, options)
}

/// Two-letter ACE type codes.
const ACE_TYPES: &[(&str, u8)] = &[
    ("A", 0x00),
    ("D", 0x01),
    ("AU", 0x02),
    ("AL", 0x03),
    ("OA", 0x05),
    ("OD", 0x06),
    ("OU", 0x07),
    ("OL", 0x08),
    ("XA", 0x09),
    ("XD", 0x0A),
    ("ZA", 0x0B),
    ("XU", 0x0D),
    ("ML", 0x11),
    ("RA", 0x12),
    ("SP", 0x13),
    ("TL", 0x14),
    ("FL", 0x15),
];

/// ACE flag codes in the order Windows writes them (bit order).
const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
    ("CR", 0x20),
    ("SA", 0x40),
    ("FA", 0x80),
];

/// `TP` replaces `SA` on access filter ACEs (TRUST_PROTECTED_FILTER, same bit).
const TRUST_PROTECTED_FILTER: (&str, u8) = ("TP", 0x40);

/// Masks with a name of their own, tried in this order before composing from bits
/// (`KR` before `KX`: both are 0x20019).
const NAMED_MASKS: &[(&str, u32)] = &[
    ("GA", 0x1000_0000),
    ("GR", 0x8000_0000),
    ("GW", 0x4000_0000),
    ("GX", 0x2000_0000),
    ("RC", 0x0002_0000),
    ("SD", 0x0001_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("RP", 0x0000_0010),
    ("WP", 0x0000_0020),
    ("CC", 0x0000_0001),
    ("DC", 0x0000_0002),
    ("LC", 0x0000_0004),
    ("SW", 0x0000_0008),
    ("LO", 0x0000_0080),
    ("DT", 0x0000_0040),
    ("CR", 0x0000_0100),
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// Single-bit names a mask is composed from, in bit order as Windows writes them.
const MASK_BITS: &[(&str, u32)] = &[
    ("CC", 0x0000_0001),
    ("DC", 0x0000_0002),
    ("LC", 0x0000_0004),
    ("SW", 0x0000_0008),
    ("RP", 0x0000_0010),
    ("WP", 0x0000_0020),
    ("DT", 0x0000_0040),
    ("LO", 0x0000_0080),
    ("CR", 0x0000_0100),
    ("SD", 0x0001_0000),
    ("RC", 0x0002_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("GA", 0x1000_0000),
    ("GX", 0x2000_0000),
    ("GW", 0x4000_0000),
    ("GR", 0x8000_0000),
];

/// Mandatory label policy bits, used for `ML` ACEs.
const LABEL_BITS: &[(&str, u32)] = &[("NW", 0x1), ("NR", 0x2), ("NX", 0x4)];

/// ACL flag codes and the Control bits they stand for in a `D:` and an `S:` section,
/// in the order Windows writes them.
const ACL_FLAGS: &[(&str, u16, u16)] = &[
    ("P", 0x1000, 0x2000),
    ("AR", 0x0100, 0x0200),
    ("AI", 0x0400, 0x0800),
];

/// Written for a present ACL that is NULL.
const NULL_ACL: &str = "NO_ACCESS_CONTROL";

fn hex_encode(bytes: &[u8], out: &mut String) {
    out.push('#');
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02X}");
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix('#')?;
    if !digits.len().is_multiple_of(2) || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|at| {
            digits
                .get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}
