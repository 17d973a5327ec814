//! Registry hive files (regf): read them (replaying their transaction logs), edit them,
//! and write them back as clean hives that Windows and independent tools accept.
//!
//! ```no_run
//! use hive::Hive;
//!
//! // Opening finds NTUSER.DAT.LOG1/LOG2 beside the file and replays them if needed.
//! let mut hive = Hive::open("NTUSER.DAT")?;
//! let key = hive.require_key(r"Software\Microsoft\Windows\CurrentVersion\Explorer")?;
//! for value in key.values()? {
//!     println!("{} = {:?}", value.name(), value.decoded()?);
//! }
//! // Rewrite a SID in every security descriptor, then save atomically.
//! let map = ntsec::SidMap::from_pairs(["S-1-5-21-1-2-3-1001=S-1-5-21-4-5-6-1001"])?;
//! hive.translate_sids(&map, ntsec::Mode::Replace)?;
//! hive.save()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything is bounds-checked: a corrupt hive gives an [`Error`] naming the file
//! offset, never a panic. Offsets in the API are cell offsets relative to the start of
//! the hive bins, as in the format itself.

pub mod alloc;
pub mod base;
pub mod check;
pub mod edit;
pub mod error;
pub mod export;
pub mod filetime;
pub mod hive;
pub mod key;
pub mod log;
pub mod names;
pub mod new;
pub mod security;
pub mod translate_file;
pub mod userchoice;
pub mod value;
pub mod write;

pub use check::{CheckReport, Finding, Severity};
pub use error::{Error, Result};
pub use hive::{BaseInfo, Hive, OpenOptions};
pub use key::Key;
pub use new::NewHive;
pub use security::{RewriteReport, Sk};
pub use value::{Data, Value};
pub use write::{SaveOptions, SaveReport};
