//! Access control lists ([MS-DTYP] §2.4.5).

use crate::ace::Ace;
use crate::error::Error;
use crate::view::{View, size_field};

/// Size of the ACL header.
pub const ACL_HEADER_LEN: usize = 8;

/// An ACL: header fields, ACEs in order, and any slack after the last ACE.
///
/// Windows often allocates ACLs larger than their ACEs (AclSize > sum of AceSizes) and
/// leaves stale bytes in the slack; `trailing` keeps them so a re-serialized ACL is
/// byte-identical to the original.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    /// AclRevision: [`Acl::REVISION`] or [`Acl::REVISION_DS`].
    pub revision: u8,
    /// Reserved byte after the revision (zero in practice).
    pub sbz1: u8,
    /// Reserved word at the end of the header (zero in practice).
    pub sbz2: u16,
    /// The entries, in evaluation order.
    pub aces: Vec<Ace>,
    /// Bytes between the last ACE and AclSize.
    pub trailing: Vec<u8>,
}

impl Acl {
    /// `ACL_REVISION`.
    pub const REVISION: u8 = 2;
    /// `ACL_REVISION_DS`, required once object ACEs are present.
    pub const REVISION_DS: u8 = 4;

    /// An ACL with the revision Windows would pick for `aces`.
    pub fn new(aces: Vec<Ace>) -> Self {
        Self {
            revision: Self::default_revision(&aces),
            sbz1: 0,
            sbz2: 0,
            aces,
            trailing: Vec::new(),
        }
    }

    /// [`Acl::REVISION_DS`] if any ACE is an object ACE, else [`Acl::REVISION`].
    pub fn default_revision(aces: &[Ace]) -> u8 {
        if aces.iter().any(|ace| ace.ace_type.is_object()) {
            Self::REVISION_DS
        } else {
            Self::REVISION
        }
    }

    /// Size of the binary form (the AclSize field).
    pub fn byte_len(&self) -> usize {
        ACL_HEADER_LEN + self.aces.iter().map(Ace::byte_len).sum::<usize>() + self.trailing.len()
    }

    /// Parses an ACL at the start of `bytes`; returns it and its AclSize.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), Error> {
        Self::parse_at(View::new(bytes), 0)
    }

    pub(crate) fn parse_at(view: View<'_>, offset: usize) -> Result<(Self, usize), Error> {
        let header = view.array::<8>(offset, "ACL header")?;
        let [
            revision,
            sbz1,
            size_low,
            size_high,
            count_low,
            count_high,
            sbz2_low,
            sbz2_high,
        ] = header;
        let size = usize::from(u16::from_le_bytes([size_low, size_high]));
        let count = usize::from(u16::from_le_bytes([count_low, count_high]));
        if size < ACL_HEADER_LEN {
            return Err(Error::AclSizeTooSmall { offset, size });
        }
        view.bytes(offset, size, "ACL")?;
        let acl_end = offset + size;
        let view = view.limit(acl_end);
        let mut aces = Vec::with_capacity(count.min(size / 8));
        let mut cursor = offset + ACL_HEADER_LEN;
        for index in 0..count {
            if cursor + 4 > acl_end {
                return Err(Error::AceCountMismatch {
                    index,
                    count,
                    offset: cursor,
                    acl_end,
                });
            }
            let (ace, ace_len) = Ace::parse_at(view, cursor, acl_end)?;
            aces.push(ace);
            cursor += ace_len;
        }
        let trailing = view.bytes(cursor, acl_end - cursor, "ACL")?.to_vec();
        Ok((
            Self {
                revision,
                sbz1,
                sbz2: u16::from_le_bytes([sbz2_low, sbz2_high]),
                aces,
                trailing,
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
        let max = usize::from(u16::MAX);
        let size: u16 = size_field(self.byte_len(), "ACL", max)?;
        let count: u16 = size_field(self.aces.len(), "ACE count", max)?;
        out.push(self.revision);
        out.push(self.sbz1);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.sbz2.to_le_bytes());
        for ace in &self.aces {
            ace.write_to(out)?;
        }
        out.extend_from_slice(&self.trailing);
        Ok(())
    }
}
