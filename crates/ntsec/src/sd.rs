//! Self-relative security descriptors ([MS-DTYP] §2.4.6).
//!
//! The parts (owner, group, SACL, DACL) may sit anywhere after the 20-byte header.
//! Windows writes SACL, DACL, owner, group with no gaps; other writers may not. The parser
//! records the original order and any gap bytes, and the serializer replays them, so
//! `to_bytes(from_bytes(x)) == x` for every descriptor whose parts do not overlap. When
//! a part changes size (a SID of another length), later parts move but keep their order.

use std::fmt;
use std::ops::BitOr;
use std::str::FromStr;

use crate::ace::Ace;
use crate::acl::Acl;
use crate::error::Error;
use crate::sddl::{self, SddlOptions};
use crate::sid::Sid;
use crate::view::{View, size_field};

/// Size of the self-relative header.
pub const SD_HEADER_LEN: usize = 20;

/// The only descriptor revision Windows accepts.
pub const SD_REVISION: u8 = 1;

/// The Control word of a descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Control(pub u16);

impl Control {
    pub const OWNER_DEFAULTED: Self = Self(0x0001);
    pub const GROUP_DEFAULTED: Self = Self(0x0002);
    pub const DACL_PRESENT: Self = Self(0x0004);
    pub const DACL_DEFAULTED: Self = Self(0x0008);
    pub const SACL_PRESENT: Self = Self(0x0010);
    pub const SACL_DEFAULTED: Self = Self(0x0020);
    pub const DACL_TRUSTED: Self = Self(0x0040);
    pub const SERVER_SECURITY: Self = Self(0x0080);
    pub const DACL_AUTO_INHERIT_REQ: Self = Self(0x0100);
    pub const SACL_AUTO_INHERIT_REQ: Self = Self(0x0200);
    pub const DACL_AUTO_INHERITED: Self = Self(0x0400);
    pub const SACL_AUTO_INHERITED: Self = Self(0x0800);
    pub const DACL_PROTECTED: Self = Self(0x1000);
    pub const SACL_PROTECTED: Self = Self(0x2000);
    pub const RM_CONTROL_VALID: Self = Self(0x4000);
    pub const SELF_RELATIVE: Self = Self(0x8000);
}

impl Control {
    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: Self, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl BitOr for Control {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Control(0x{:04x})", self.0)
    }
}

/// The four optional parts, in the order Windows writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Sacl,
    Dacl,
    Owner,
    Group,
}

const WINDOWS_ORDER: [Part; 4] = [Part::Sacl, Part::Dacl, Part::Owner, Part::Group];

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Sacl => "SACL",
            Part::Dacl => "DACL",
            Part::Owner => "owner",
            Part::Group => "group",
        }
    }
}

/// One piece of the original byte layout after the header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Part(Part),
    Gap(Vec<u8>),
}

/// How the parts are laid out after the header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
enum Layout {
    /// Windows' order, no gaps.
    #[default]
    Windows,
    /// The order and gaps found in the parsed bytes.
    Preserved(Vec<Segment>),
}

/// A security descriptor: who owns an object, who may access it, what is audited.
///
/// Equality compares the byte layout too, so two descriptors are equal exactly when they
/// serialize to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecurityDescriptor {
    /// Sbz1: resource-manager control bits, meaningful with `RM_CONTROL_VALID`.
    pub rm_control: u8,
    /// Control flags; kept verbatim, including the `*_PRESENT` bits.
    pub control: Control,
    /// Owner SID.
    pub owner: Option<Sid>,
    /// Primary group SID.
    pub group: Option<Sid>,
    /// System ACL (audit, mandatory label, …). `None` with `SACL_PRESENT` is a NULL SACL.
    pub sacl: Option<Acl>,
    /// Discretionary ACL. `None` with `DACL_PRESENT` is a NULL DACL (everyone has access).
    pub dacl: Option<Acl>,
    layout: Layout,
}

impl Default for SecurityDescriptor {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityDescriptor {
    /// An empty self-relative descriptor (no owner, group or ACLs).
    pub fn new() -> Self {
        Self {
            rm_control: 0,
            control: Control::SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
            layout: Layout::Windows,
        }
    }

    /// Parses a self-relative descriptor. The whole slice is taken as the descriptor:
    /// bytes no part covers (gaps, trailing bytes) are kept and written back in place.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let view = View::new(bytes);
        let header = view.array::<SD_HEADER_LEN>(0, "security descriptor header")?;
        if header[0] != SD_REVISION {
            return Err(Error::DescriptorRevision {
                revision: header[0],
            });
        }
        let control = Control(u16::from_le_bytes([header[2], header[3]]));
        if !control.contains(Control::SELF_RELATIVE) {
            return Err(Error::NotSelfRelative { control: control.0 });
        }
        let offset_at = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let mut offsets = [
            (Part::Owner, offset_at(4)),
            (Part::Group, offset_at(8)),
            (Part::Sacl, offset_at(12)),
            (Part::Dacl, offset_at(16)),
        ];
        // In file order, so the first error reported is the first one in the bytes.
        offsets.sort_by_key(|&(_, offset)| offset);
        let mut descriptor = Self {
            rm_control: header[1],
            control,
            ..Self::new()
        };
        // (start, end, part) of every part present, to rebuild the layout.
        let mut extents = Vec::with_capacity(4);
        for (part, offset) in offsets {
            if offset == 0 {
                continue;
            }
            let start = offset as usize;
            if start < SD_HEADER_LEN {
                return Err(Error::PartInsideHeader {
                    part: part.name(),
                    offset: start,
                });
            }
            let len = match part {
                Part::Owner | Part::Group => {
                    let (sid, len) = Sid::parse_at(view, start)?;
                    *descriptor.sid_slot(part) = Some(sid);
                    len
                }
                Part::Sacl | Part::Dacl => {
                    let (acl, len) = Acl::parse_at(view, start)?;
                    *descriptor.acl_slot(part) = Some(acl);
                    len
                }
            };
            extents.push((start, start + len, part));
        }
        let mut segments = Vec::with_capacity(2 * extents.len() + 1);
        let mut cursor = SD_HEADER_LEN;
        let mut previous: Option<(usize, usize, Part)> = None;
        for &(start, end, part) in &extents {
            if let Some((first_start, first_end, first)) =
                previous.filter(|&(_, first_end, _)| first_end > start)
            {
                return Err(Error::PartsOverlap {
                    first: first.name(),
                    first_start,
                    first_end,
                    second: part.name(),
                    second_start: start,
                });
            }
            if start > cursor {
                segments.push(Segment::Gap(
                    view.bytes(cursor, start - cursor, "gap")?.to_vec(),
                ));
            }
            segments.push(Segment::Part(part));
            cursor = end;
            previous = Some((start, end, part));
        }
        if bytes.len() > cursor {
            segments.push(Segment::Gap(
                view.bytes(cursor, bytes.len() - cursor, "trailing bytes")?
                    .to_vec(),
            ));
        }
        let windows_order: Vec<Segment> = WINDOWS_ORDER
            .iter()
            .filter(|part| descriptor.is_present(**part))
            .map(|part| Segment::Part(*part))
            .collect();
        if segments != windows_order {
            descriptor.layout = Layout::Preserved(segments);
        }
        Ok(descriptor)
    }

    /// The binary self-relative form, in the original layout (see the module docs).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.byte_len());
        out.push(SD_REVISION);
        out.push(self.rm_control);
        out.extend_from_slice(&self.control.0.to_le_bytes());
        out.extend_from_slice(&[0u8; 16]);
        let mut offsets = [0u32; 4];
        let mut write_part = |part: Part, out: &mut Vec<u8>| -> Result<(), Error> {
            let offset: u32 = size_field(out.len(), "security descriptor", u32::MAX as usize)?;
            let written = match part {
                Part::Owner => self.owner.as_ref().map(|sid| sid.write_to(out)),
                Part::Group => self.group.as_ref().map(|sid| sid.write_to(out)),
                Part::Sacl => self
                    .sacl
                    .as_ref()
                    .map(|acl| acl.write_to(out))
                    .transpose()?,
                Part::Dacl => self
                    .dacl
                    .as_ref()
                    .map(|acl| acl.write_to(out))
                    .transpose()?,
            };
            if written.is_some() {
                offsets[header_slot(part)] = offset;
            }
            Ok(())
        };
        let mut placed = Vec::with_capacity(4);
        if let Layout::Preserved(segments) = &self.layout {
            for segment in segments {
                match segment {
                    Segment::Gap(bytes) => out.extend_from_slice(bytes),
                    Segment::Part(part) => {
                        write_part(*part, &mut out)?;
                        placed.push(*part);
                    }
                }
            }
        }
        // Parts the original layout did not have (or all of them for a new descriptor).
        for part in WINDOWS_ORDER {
            if !placed.contains(&part) {
                write_part(part, &mut out)?;
            }
        }
        for (slot, offset) in offsets.iter().enumerate() {
            let at = 4 + 4 * slot;
            out[at..at + 4].copy_from_slice(&offset.to_le_bytes());
        }
        Ok(out)
    }

    /// Size of the binary form.
    pub fn byte_len(&self) -> usize {
        let gaps = match &self.layout {
            Layout::Windows => 0,
            Layout::Preserved(segments) => segments
                .iter()
                .map(|segment| match segment {
                    Segment::Gap(bytes) => bytes.len(),
                    Segment::Part(_) => 0,
                })
                .sum(),
        };
        SD_HEADER_LEN
            + gaps
            + self.owner.as_ref().map_or(0, Sid::byte_len)
            + self.group.as_ref().map_or(0, Sid::byte_len)
            + self.sacl.as_ref().map_or(0, Acl::byte_len)
            + self.dacl.as_ref().map_or(0, Acl::byte_len)
    }

    /// Whether the bytes follow Windows' layout (SACL, DACL, owner, group, no gaps).
    pub fn has_windows_layout(&self) -> bool {
        self.layout == Layout::Windows
    }

    /// Forgets the original layout: the next `to_bytes` writes Windows' order, no gaps.
    pub fn use_windows_layout(&mut self) {
        self.layout = Layout::Windows;
    }

    /// Every SID the descriptor mentions: owner, group, then SACL and DACL trustees.
    pub fn sids(&self) -> impl Iterator<Item = &Sid> {
        self.owner
            .iter()
            .chain(self.group.iter())
            .chain(acl_sids(self.sacl.as_ref()))
            .chain(acl_sids(self.dacl.as_ref()))
    }

    /// SDDL with the default options (no domain aliases, lossless extensions).
    pub fn to_sddl(&self) -> String {
        sddl::render(self, &SddlOptions::default())
    }

    /// Parses SDDL with the default options.
    pub fn from_sddl(text: &str) -> Result<Self, Error> {
        sddl::parse(text, &SddlOptions::default())
    }

    fn is_present(&self, part: Part) -> bool {
        match part {
            Part::Owner => self.owner.is_some(),
            Part::Group => self.group.is_some(),
            Part::Sacl => self.sacl.is_some(),
            Part::Dacl => self.dacl.is_some(),
        }
    }

    fn sid_slot(&mut self, part: Part) -> &mut Option<Sid> {
        if part == Part::Owner {
            &mut self.owner
        } else {
            &mut self.group
        }
    }

    fn acl_slot(&mut self, part: Part) -> &mut Option<Acl> {
        if part == Part::Sacl {
            &mut self.sacl
        } else {
            &mut self.dacl
        }
    }
}

fn acl_sids(acl: Option<&Acl>) -> impl Iterator<Item = &Sid> {
    acl.into_iter()
        .flat_map(|acl| acl.aces.iter().filter_map(Ace::sid))
}

/// Index of a part's offset in the header's offset array (owner, group, SACL, DACL).
fn header_slot(part: Part) -> usize {
    match part {
        Part::Owner => 0,
        Part::Group => 1,
        Part::Sacl => 2,
        Part::Dacl => 3,
    }
}

impl fmt::Display for SecurityDescriptor {
    /// SDDL, as [`SecurityDescriptor::to_sddl`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sddl())
    }
}

impl FromStr for SecurityDescriptor {
    type Err = Error;

    /// Parses SDDL, as [`SecurityDescriptor::from_sddl`].
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_sddl(text)
    }
}
