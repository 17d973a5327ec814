//! Windows security descriptors: an exact binary codec, SDDL, and SID translation.
//!
//! `ntsec` reads and writes self-relative `SECURITY_DESCRIPTOR`s ([MS-DTYP] §2.4) as
//! stored in registry `sk` cells and NTFS `$Secure`, renders and parses SDDL, and
//! rewrites SIDs the way ADMT's security translation does ([`Mode::Replace`],
//! [`Mode::Add`], [`Mode::Remove`]). It is pure Rust and platform-independent.
//!
//! Design points:
//!
//! * **Exact round trip.** `to_bytes(from_bytes(x)) == x` for every descriptor whose parts
//!   do not overlap: the order of the parts, gaps between them, ACL slack and ACE padding
//!   are all kept. Windows leaves stale bytes in ACL slack, so this matters for real data.
//! * **No panics on bad input.** Every offset and length is bounds-checked; malformed
//!   input yields an [`Error`] naming the byte offset.
//! * **Minimal change.** Translation swaps SIDs in place; ACE order, masks and flags are
//!   never touched, and sizes and offsets are recomputed only when a SID changes length.
//!
//! ```
//! use ntsec::{Mode, SecurityDescriptor, SidMap, translate_bytes};
//!
//! let user = "S-1-5-21-1004336348-1177238915-682003330-1001";
//! let sd = SecurityDescriptor::from_sddl(&format!("O:{user}G:SYD:PAI(A;OICIID;FA;;;{user})"))?;
//! let stored = sd.to_bytes()?;
//!
//! // Domain account → local account (same length here, but any length works).
//! let map = SidMap::from_pairs([format!("{user}=S-1-5-21-1-2-3-1001")])?;
//! let rewritten = translate_bytes(&stored, &map, Mode::Replace)?.expect("the user SID is present");
//! assert_eq!(
//!     SecurityDescriptor::from_bytes(&rewritten)?.to_sddl(),
//!     "O:S-1-5-21-1-2-3-1001G:SYD:PAI(A;OICIID;FA;;;S-1-5-21-1-2-3-1001)"
//! );
//!
//! // Nothing to change: the caller keeps its bytes.
//! assert_eq!(translate_bytes(&rewritten, &map, Mode::Replace)?, None);
//! # Ok::<(), ntsec::Error>(())
//! ```
//!
//! [MS-DTYP]: https://learn.microsoft.com/openspecs/windows_protocols/ms-dtyp

mod ace;
mod acl;
mod error;
pub mod files;
mod guid;
pub mod rights;
mod sd;
pub mod sddl;
mod sid;
mod translate;
mod view;
mod well_known;

pub use ace::{ACE_HEADER_LEN, Ace, AceBody, AceFlags, AceLayout, AceType};
pub use acl::{ACL_HEADER_LEN, Acl};
pub use error::Error;
pub use files::{FileSecurity, TreeOptions, TreeReport, translate_tree};
pub use guid::Guid;
pub use sd::{Control, SD_HEADER_LEN, SD_REVISION, SecurityDescriptor};
pub use sddl::SddlOptions;
pub use sid::{MAX_SUB_AUTHORITIES, SID_REVISION, Sid, SidKind};
pub use translate::{
    Mode, SidMap, TranslateStats, translate, translate_bytes, translate_bytes_with_stats,
};
