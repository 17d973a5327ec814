//! Access control entries ([MS-DTYP] §2.4.4).
//!
//! Each ACE type has one of three layouts: mask + SID, object ACE (mask, object flags,
//! optional GUIDs, SID), or unknown. Bytes after the SID are kept verbatim as
//! [`AceBody`]'s `trailing` field (application data of callback ACEs, or padding), and
//! ACEs whose SID position is unknown are kept whole as opaque bytes, so re-serializing a
//! parsed ACE always gives back the same bytes.

use std::fmt;
use std::ops::BitOr;

use crate::error::Error;
use crate::guid::Guid;
use crate::sid::Sid;
use crate::view::{View, size_field};

/// Size of the ACE header: type, flags, size.
pub const ACE_HEADER_LEN: usize = 4;

/// Smallest valid ACE: header plus access mask.
const MIN_ACE_LEN: usize = 8;

/// Object ACE flag: the ObjectType GUID is present.
const ACE_OBJECT_TYPE_PRESENT: u32 = 0x1;
/// Object ACE flag: the InheritedObjectType GUID is present.
const ACE_INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

/// The AceType byte. Any value is representable; unknown ones are kept opaque.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AceType(pub u8);

impl AceType {
    pub const ACCESS_ALLOWED: Self = Self(0x00);
    pub const ACCESS_DENIED: Self = Self(0x01);
    pub const SYSTEM_AUDIT: Self = Self(0x02);
    pub const SYSTEM_ALARM: Self = Self(0x03);
    pub const ACCESS_ALLOWED_COMPOUND: Self = Self(0x04);
    pub const ACCESS_ALLOWED_OBJECT: Self = Self(0x05);
    pub const ACCESS_DENIED_OBJECT: Self = Self(0x06);
    pub const SYSTEM_AUDIT_OBJECT: Self = Self(0x07);
    pub const SYSTEM_ALARM_OBJECT: Self = Self(0x08);
    pub const ACCESS_ALLOWED_CALLBACK: Self = Self(0x09);
    pub const ACCESS_DENIED_CALLBACK: Self = Self(0x0A);
    pub const ACCESS_ALLOWED_CALLBACK_OBJECT: Self = Self(0x0B);
    pub const ACCESS_DENIED_CALLBACK_OBJECT: Self = Self(0x0C);
    pub const SYSTEM_AUDIT_CALLBACK: Self = Self(0x0D);
    pub const SYSTEM_ALARM_CALLBACK: Self = Self(0x0E);
    pub const SYSTEM_AUDIT_CALLBACK_OBJECT: Self = Self(0x0F);
    pub const SYSTEM_ALARM_CALLBACK_OBJECT: Self = Self(0x10);
    pub const SYSTEM_MANDATORY_LABEL: Self = Self(0x11);
    pub const SYSTEM_RESOURCE_ATTRIBUTE: Self = Self(0x12);
    pub const SYSTEM_SCOPED_POLICY_ID: Self = Self(0x13);
    pub const SYSTEM_PROCESS_TRUST_LABEL: Self = Self(0x14);
    pub const SYSTEM_ACCESS_FILTER: Self = Self(0x15);
}

/// Where an ACE type keeps its SID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AceLayout {
    /// Mask, SID, trailing bytes.
    Sid,
    /// Mask, object flags, optional GUIDs, SID, trailing bytes.
    Object,
    /// Unknown (or obsolete, like the compound ACE): kept as opaque bytes.
    Opaque,
}

impl AceType {
    /// The body layout of this type.
    pub fn layout(self) -> AceLayout {
        match self.0 {
            0x00..=0x03 | 0x09 | 0x0A | 0x0D | 0x0E | 0x11..=0x15 => AceLayout::Sid,
            0x05..=0x08 | 0x0B | 0x0C | 0x0F | 0x10 => AceLayout::Object,
            _ => AceLayout::Opaque,
        }
    }

    /// Object ACE types make Windows use ACL revision 4 (`ACL_REVISION_DS`).
    pub fn is_object(self) -> bool {
        matches!(self.0, 0x05..=0x08 | 0x0B | 0x0C | 0x0F | 0x10)
    }

    /// Whether the bytes after the SID are meaningful application data (conditional
    /// expression, claim attribute, filter) rather than padding.
    pub fn has_application_data(self) -> bool {
        matches!(self.0, 0x09..=0x10 | 0x12 | 0x15)
    }
}

impl fmt::Debug for AceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AceType(0x{:02x})", self.0)
    }
}

/// The AceFlags byte: inheritance and audit flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AceFlags(pub u8);

impl AceFlags {
    pub const OBJECT_INHERIT: Self = Self(0x01);
    pub const CONTAINER_INHERIT: Self = Self(0x02);
    pub const NO_PROPAGATE_INHERIT: Self = Self(0x04);
    pub const INHERIT_ONLY: Self = Self(0x08);
    pub const INHERITED: Self = Self(0x10);
    pub const CRITICAL: Self = Self(0x20);
    pub const SUCCESSFUL_ACCESS: Self = Self(0x40);
    /// Same bit as `SUCCESSFUL_ACCESS`, meaningful on access filter ACEs only.
    pub const TRUST_PROTECTED_FILTER: Self = Self(0x40);
    pub const FAILED_ACCESS: Self = Self(0x80);
}

impl AceFlags {
    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for AceFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl fmt::Debug for AceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AceFlags(0x{:02x})", self.0)
    }
}

/// The part of an ACE after its 4-byte header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AceBody {
    /// Mask and SID (allowed, denied, audit, alarm, callback, label, …).
    Sid {
        /// Access mask.
        mask: u32,
        /// Trustee.
        sid: Sid,
        /// Bytes between the SID and the end of the ACE: the application data of
        /// callback, resource-attribute and access-filter ACEs; padding (normally none)
        /// for the others.
        trailing: Vec<u8>,
    },
    /// Object ACE: mask, optional GUIDs, SID.
    Object {
        /// Access mask.
        mask: u32,
        /// Object type GUID (ObjectFlags bit 0x1).
        object_type: Option<Guid>,
        /// Inherited object type GUID (ObjectFlags bit 0x2).
        inherited_object_type: Option<Guid>,
        /// Trustee.
        sid: Sid,
        /// As for [`AceBody::Sid`].
        trailing: Vec<u8>,
    },
    /// Body bytes of an ACE whose SID position is unknown, kept verbatim.
    Opaque(Vec<u8>),
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ace {
    /// ACE type; decides which [`AceBody`] variant is valid.
    pub ace_type: AceType,
    /// Inheritance and audit flags.
    pub flags: AceFlags,
    /// Everything after the header.
    pub body: AceBody,
}

impl Ace {
    /// A mask + SID ACE (`ace_type` must have [`AceLayout::Sid`]).
    pub fn new(ace_type: AceType, flags: AceFlags, mask: u32, sid: Sid) -> Self {
        Self {
            ace_type,
            flags,
            body: AceBody::Sid {
                mask,
                sid,
                trailing: Vec::new(),
            },
        }
    }

    /// An ACCESS_ALLOWED ACE.
    pub fn allowed(flags: AceFlags, mask: u32, sid: Sid) -> Self {
        Self::new(AceType::ACCESS_ALLOWED, flags, mask, sid)
    }

    /// An ACCESS_DENIED ACE.
    pub fn denied(flags: AceFlags, mask: u32, sid: Sid) -> Self {
        Self::new(AceType::ACCESS_DENIED, flags, mask, sid)
    }

    /// The trustee SID, unless the ACE is opaque.
    pub fn sid(&self) -> Option<&Sid> {
        match &self.body {
            AceBody::Sid { sid, .. } | AceBody::Object { sid, .. } => Some(sid),
            AceBody::Opaque(_) => None,
        }
    }

    /// Mutable access to the trustee SID, unless the ACE is opaque.
    pub fn sid_mut(&mut self) -> Option<&mut Sid> {
        match &mut self.body {
            AceBody::Sid { sid, .. } | AceBody::Object { sid, .. } => Some(sid),
            AceBody::Opaque(_) => None,
        }
    }

    /// The access mask, unless the ACE is opaque.
    pub fn mask(&self) -> Option<u32> {
        match &self.body {
            AceBody::Sid { mask, .. } | AceBody::Object { mask, .. } => Some(*mask),
            AceBody::Opaque(_) => None,
        }
    }

    /// A copy with the trustee replaced; opaque ACEs are copied unchanged.
    pub fn with_sid(&self, new_sid: Sid) -> Self {
        let mut copy = self.clone();
        if let Some(sid) = copy.sid_mut() {
            *sid = new_sid;
        }
        copy
    }

    /// Size of the binary form (the AceSize field).
    pub fn byte_len(&self) -> usize {
        ACE_HEADER_LEN
            + match &self.body {
                AceBody::Sid { sid, trailing, .. } => 4 + sid.byte_len() + trailing.len(),
                AceBody::Object {
                    object_type,
                    inherited_object_type,
                    sid,
                    trailing,
                    ..
                } => {
                    let guids = usize::from(object_type.is_some())
                        + usize::from(inherited_object_type.is_some());
                    8 + Guid::LEN * guids + sid.byte_len() + trailing.len()
                }
                AceBody::Opaque(bytes) => bytes.len(),
            }
    }

    /// Parses one ACE at the start of `bytes`; returns it and its AceSize.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), Error> {
        let view = View::new(bytes);
        Self::parse_at(view, 0, bytes.len())
    }

    /// Parses the ACE at `offset`, which must end by `acl_end`.
    pub(crate) fn parse_at(
        view: View<'_>,
        offset: usize,
        acl_end: usize,
    ) -> Result<(Self, usize), Error> {
        let [ace_type, flags, size_low, size_high] = view.array::<4>(offset, "ACE header")?;
        let size = usize::from(u16::from_le_bytes([size_low, size_high]));
        if size < MIN_ACE_LEN {
            return Err(Error::AceTooSmall {
                offset,
                size,
                needed: MIN_ACE_LEN,
            });
        }
        let end = offset + size;
        if end > acl_end {
            return Err(Error::AceBeyondAcl {
                offset,
                size,
                acl_end,
            });
        }
        let view = view.limit(end);
        let ace_type = AceType(ace_type);
        let body_start = offset + ACE_HEADER_LEN;
        let too_small = |needed| Error::AceTooSmall {
            offset,
            size,
            needed,
        };
        let mask = view.u32(body_start, "ACE mask")?;
        let body = match ace_type.layout() {
            AceLayout::Opaque => AceBody::Opaque(
                view.bytes(body_start, size - ACE_HEADER_LEN, "ACE")?
                    .to_vec(),
            ),
            AceLayout::Sid => {
                let sid_offset = body_start + 4;
                let (sid, sid_len) = parse_sid_in_ace(view, offset, sid_offset, size)?;
                AceBody::Sid {
                    mask,
                    sid,
                    trailing: view
                        .bytes(sid_offset + sid_len, end - sid_offset - sid_len, "ACE")?
                        .to_vec(),
                }
            }
            AceLayout::Object => {
                let object_flags = view
                    .u32(body_start + 4, "object ACE flags")
                    .map_err(|_| too_small(12))?;
                let known = ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT;
                if object_flags & !known != 0 {
                    // Unknown flag bits: the SID position is not certain, keep it verbatim.
                    AceBody::Opaque(
                        view.bytes(body_start, size - ACE_HEADER_LEN, "ACE")?
                            .to_vec(),
                    )
                } else {
                    let mut cursor = body_start + 8;
                    let mut read_guid = |present: bool| -> Result<Option<Guid>, Error> {
                        if !present {
                            return Ok(None);
                        }
                        let bytes = view
                            .array::<16>(cursor, "object ACE GUID")
                            .map_err(|_| too_small(cursor + Guid::LEN - offset))?;
                        cursor += Guid::LEN;
                        Ok(Some(Guid(bytes)))
                    };
                    let object_type = read_guid(object_flags & ACE_OBJECT_TYPE_PRESENT != 0)?;
                    let inherited_object_type =
                        read_guid(object_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT != 0)?;
                    let (sid, sid_len) = parse_sid_in_ace(view, offset, cursor, size)?;
                    AceBody::Object {
                        mask,
                        object_type,
                        inherited_object_type,
                        sid,
                        trailing: view
                            .bytes(cursor + sid_len, end - cursor - sid_len, "ACE")?
                            .to_vec(),
                    }
                }
            }
        };
        Ok((
            Self {
                ace_type,
                flags: AceFlags(flags),
                body,
            },
            size,
        ))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.byte_len());
        self.write_to(&mut out)?;
        Ok(out)
    }

    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let layout_matches = match &self.body {
            AceBody::Sid { .. } => self.ace_type.layout() == AceLayout::Sid,
            AceBody::Object { .. } => self.ace_type.layout() == AceLayout::Object,
            // Opaque is always allowed: a known type whose flags were not understood.
            AceBody::Opaque(_) => true,
        };
        if !layout_matches {
            return Err(Error::AceLayoutMismatch {
                ace_type: self.ace_type.0,
            });
        }
        let size: u16 = size_field(self.byte_len(), "ACE", usize::from(u16::MAX))?;
        out.push(self.ace_type.0);
        out.push(self.flags.0);
        out.extend_from_slice(&size.to_le_bytes());
        match &self.body {
            AceBody::Sid {
                mask,
                sid,
                trailing,
            } => {
                out.extend_from_slice(&mask.to_le_bytes());
                sid.write_to(out);
                out.extend_from_slice(trailing);
            }
            AceBody::Object {
                mask,
                object_type,
                inherited_object_type,
                sid,
                trailing,
            } => {
                let mut object_flags = 0u32;
                if object_type.is_some() {
                    object_flags |= ACE_OBJECT_TYPE_PRESENT;
                }
                if inherited_object_type.is_some() {
                    object_flags |= ACE_INHERITED_OBJECT_TYPE_PRESENT;
                }
                out.extend_from_slice(&mask.to_le_bytes());
                out.extend_from_slice(&object_flags.to_le_bytes());
                for guid in [object_type, inherited_object_type].into_iter().flatten() {
                    out.extend_from_slice(&guid.0);
                }
                sid.write_to(out);
                out.extend_from_slice(trailing);
            }
            AceBody::Opaque(bytes) => out.extend_from_slice(bytes),
        }
        Ok(())
    }
}

/// Reads the SID of the ACE at `ace_offset`; an ACE too short for it is `AceTooSmall`.
fn parse_sid_in_ace(
    view: View<'_>,
    ace_offset: usize,
    sid_offset: usize,
    size: usize,
) -> Result<(Sid, usize), Error> {
    let header_needed = sid_offset + 8 - ace_offset;
    let count = view
        .u8(sid_offset + 1, "SID")
        .map_err(|_| Error::AceTooSmall {
            offset: ace_offset,
            size,
            needed: header_needed,
        })?;
    let needed = header_needed + 4 * usize::from(count);
    if needed > size && usize::from(count) <= crate::sid::MAX_SUB_AUTHORITIES {
        return Err(Error::AceTooSmall {
            offset: ace_offset,
            size,
            needed,
        });
    }
    Sid::parse_at(view, sid_offset)
}
