//! The crate's single error type.
//!
//! Binary parse errors name the byte offset (from the start of the buffer handed to the
//! parser) where the problem was found, so a caller can point at the exact bytes of a
//! damaged descriptor.

/// Everything that can go wrong while decoding, encoding or translating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A structure runs past the end of the input.
    #[error("{what} at byte offset {offset} needs {needed} bytes but only {available} are left")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes the input has from `offset` on.
        available: usize,
    },

    /// A SID whose revision is not 1 (Windows rejects those, `RtlValidSid`).
    #[error("SID at byte offset {offset} has revision {revision}, expected 1")]
    SidRevision {
        /// Where the SID starts.
        offset: usize,
        /// The revision found.
        revision: u8,
    },

    /// A SID with more than 15 sub-authorities.
    #[error("SID at byte offset {offset} has {count} sub-authorities, at most 15 are allowed")]
    SidSubAuthorityCount {
        /// Where the SID starts.
        offset: usize,
        /// The count found.
        count: usize,
    },

    /// A SID identifier authority that does not fit in 48 bits.
    #[error("SID identifier authority {authority} does not fit in 48 bits")]
    SidAuthority {
        /// The value given.
        authority: u64,
    },

    /// A descriptor whose revision is not 1.
    #[error("security descriptor at byte offset 0 has revision {revision}, expected 1")]
    DescriptorRevision {
        /// The revision found.
        revision: u8,
    },

    /// A descriptor in absolute format (pointers instead of offsets) cannot be stored.
    #[error("security descriptor control 0x{control:04x} at byte offset 2 lacks SE_SELF_RELATIVE")]
    NotSelfRelative {
        /// The control word found.
        control: u16,
    },

    /// An owner/group/SACL/DACL offset that points into the 20-byte header.
    #[error("{part} offset {offset} points into the 20-byte descriptor header")]
    PartInsideHeader {
        /// Which part.
        part: &'static str,
        /// The offset found.
        offset: usize,
    },

    /// Two parts of a descriptor share bytes.
    #[error(
        "{first} (bytes {first_start}..{first_end}) overlaps {second} at byte offset {second_start}"
    )]
    PartsOverlap {
        /// The part that starts first.
        first: &'static str,
        /// Its start offset.
        first_start: usize,
        /// Its end offset (exclusive).
        first_end: usize,
        /// The part that starts inside it.
        second: &'static str,
        /// Its start offset.
        second_start: usize,
    },

    /// An ACL whose declared size is smaller than its own header.
    #[error("ACL at byte offset {offset} declares size {size}, less than its 8-byte header")]
    AclSizeTooSmall {
        /// Where the ACL starts.
        offset: usize,
        /// The declared AclSize.
        size: usize,
    },

    /// The ACL header promises more ACEs than fit in its declared size.
    #[error(
        "ACE {index} of {count} at byte offset {offset} starts past the ACL end at byte offset {acl_end}"
    )]
    AceCountMismatch {
        /// Zero-based index of the missing ACE.
        index: usize,
        /// The AceCount from the ACL header.
        count: usize,
        /// Where the ACE should start.
        offset: usize,
        /// Where the ACL ends.
        acl_end: usize,
    },

    /// An ACE whose declared size runs past the end of its ACL.
    #[error(
        "ACE at byte offset {offset} declares size {size}, past the ACL end at byte offset {acl_end}"
    )]
    AceBeyondAcl {
        /// Where the ACE starts.
        offset: usize,
        /// The declared AceSize.
        size: usize,
        /// Where the ACL ends.
        acl_end: usize,
    },

    /// An ACE whose declared size does not cover its fixed fields and SID.
    #[error(
        "ACE at byte offset {offset} declares size {size} but its contents need {needed} bytes"
    )]
    AceTooSmall {
        /// Where the ACE starts.
        offset: usize,
        /// The declared AceSize.
        size: usize,
        /// The bytes its fixed fields and SID need.
        needed: usize,
    },

    /// An [`Ace`](crate::Ace) whose body variant does not match the layout of its type.
    #[error("ACE of type 0x{ace_type:02x} has a body that does not match the type's layout")]
    AceLayoutMismatch {
        /// The ACE type.
        ace_type: u8,
    },

    /// A structure grew beyond what its size field can hold.
    #[error("{what} would be {size} bytes, more than the {max} its size field can hold")]
    TooLarge {
        /// Which structure.
        what: &'static str,
        /// The size it would have.
        size: usize,
        /// The largest size its field can hold.
        max: usize,
    },

    /// A string that is not a SID (`S-1-5-…`).
    #[error("invalid SID string {input:?}: {reason}")]
    InvalidSidString {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A string that is not a GUID.
    #[error("invalid GUID string {input:?}")]
    InvalidGuidString {
        /// The text given.
        input: String,
    },

    /// Malformed or unsupported SDDL.
    #[error("invalid SDDL at character {position}: {reason}")]
    Sddl {
        /// Byte index into the SDDL text.
        position: usize,
        /// What is wrong there.
        reason: String,
    },

    /// A SID mapping that cannot be used.
    #[error("invalid SID mapping {input:?}: {reason}")]
    InvalidMapping {
        /// The mapping as text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
