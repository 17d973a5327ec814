//! Local accounts in the Windows SAM hive, offline: read them, decrypt their password
//! hashes, create, change and delete them, on top of the `hive` engine.
//!
//! A migration needs the machine SID, the local accounts (name conflicts, who is an
//! administrator) and, offline, the new local account itself. No maintained tool creates
//! accounts in an offline SAM; this crate does, laying records out the way Windows'
//! `NetUserAdd` does (checked against a real Windows 10 SAM).
//!
//! ```
//! use sam::{NewUser, PairSpec, generate_pair};
//!
//! // A realistic Windows 10 SYSTEM + SAM pair (AES scheme), reproducible from a seed.
//! let mut pair = generate_pair(&PairSpec { seed: Some(7), ..PairSpec::default() })?;
//! let user = pair.sam.create_user(&NewUser {
//!     name: "alice",
//!     password: Some("Correct horse 1"),
//!     admin: true,
//!     ..NewUser::default()
//! })?;
//! assert_eq!(user.rid, 1000);
//! assert!(pair.sam.verify_password(user.rid, "Correct horse 1")?);
//! let admins = pair.sam.alias(sam::AliasDomain::Builtin, sam::alias::ADMINISTRATORS)?;
//! assert!(admins.members.contains(&user.sid));
//!
//! // On a mounted volume, offline::OfflineHost finds the files; then
//! // Sam::open_with_system(…), edit, save().
//! # Ok::<(), sam::Error>(())
//! ```
//!
//! What is verified and what is not (see also `docs/sam.md`):
//!
//! * **Verified by independent readers** (tests under `tests/`): impacket's
//!   `secretsdump.py` lists exactly our users with the NT hashes of the passwords we set,
//!   for both schemes and after every kind of write; `samdump2` and `chntpw -l` list the
//!   same users; regipy's SAM plugins parse the hive. The RC4 (Windows 7, regipy) and AES
//!   (Windows 10, turbinia) fixtures read as those tools read them.
//! * **Experimental:** that Windows itself accepts an account created offline. Its records
//!   copy the layout of accounts Windows 10 created, but no Windows boot has checked one
//!   here. Also unverified: the checksum of the AES `Key0` we write for generated SAMs
//!   (no reader checks it) and the meaning of the counters Windows keeps in the types of
//!   some default values (we keep them equal to the counts).
//!
//! Secrets: the boot key, the SAM key and hashes never appear in `Debug` output; only
//! [`Sam::nt_hash`] returns a hash, for callers (and tests) whose purpose is to check it.

pub mod builder;
pub mod catalog;
pub mod crypto;
pub mod edit;
pub mod error;
pub mod layout;
pub mod membership;
pub mod names;
pub mod records;
pub mod rng;
pub mod sam;
pub mod system;

pub use builder::{GeneratedPair, PairSpec, WrittenPair, generate_pair};
pub use crypto::KeyScheme;
pub use edit::NewUser;
pub use error::{Error, Result};
pub use names::validate_name;
pub use rng::Random;
pub use sam::{Alias, AliasDomain, Sam, User, alias, flags};
pub use system::SystemInfo;
