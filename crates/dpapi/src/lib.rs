//! Windows DPAPI formats, offline: master key files, `Preferred`, `CREDHIST`, DPAPI
//! blobs and Credential Manager files, and the domain's DPAPI backup key as a `.pvk`.
//! Parse and write them byte-exactly; derive the keys from a password and a SID;
//! decrypt and encrypt master keys (3DES/SHA-1 and AES-256/SHA-512), blobs and domain
//! backup blocks; and re-protect a master key for a new SID and password.
//!
//! This crate knows nothing of migrations: it is the format layer a migration step and
//! the sample generator build on.
//!
//! ```
//! use dpapi::{
//!     BlobOptions, CipherSuite, Derivation, DpapiBlob, MasterKey, MasterKeyFile,
//!     NewMasterKeyFile, Reprotect, SeededRng,
//! };
//! use ntsec::Sid;
//!
//! let mut rng = SeededRng::new(7);
//! let domain_sid: Sid = "S-1-5-21-1004336348-1177238915-682003330-1106".parse()?;
//! let local_sid: Sid = "S-1-5-21-3623811015-3361044348-30300820-1001".parse()?;
//!
//! // A domain user's master key, as Windows writes it (NT-hash derivation).
//! let key = MasterKey::generate(&mut rng)?;
//! let guid = dpapi::guid::random(&mut rng)?;
//! let file = MasterKeyFile::create(
//!     &NewMasterKeyFile {
//!         guid,
//!         key: &key,
//!         sid: &domain_sid,
//!         password: "Domain pass 1",
//!         derivation: Derivation::DomainNt,
//!         suite: CipherSuite::Aes256Sha512,
//!         rounds: 8000,
//!         credhist: dpapi::guid::random(&mut rng)?,
//!         dpapi_system: None,
//!         local_key: None,
//!         domain_backup: None,
//!     },
//!     &mut rng,
//! )?;
//! let bytes = file.to_bytes();
//! assert_eq!(MasterKeyFile::parse(&bytes)?.to_bytes(), bytes); // byte-exact
//!
//! // A secret the user saved, protected with that key.
//! let blob = DpapiBlob::encrypt(b"saved password", &key, guid, &BlobOptions::default(), &mut rng)?;
//!
//! // The migration: decrypt with the old SID and password, protect for the new ones.
//! let old = MasterKeyFile::parse(&bytes)?;
//! let (old_key, derivation) = old.decrypt_with_password(&domain_sid, "Domain pass 1")?;
//! assert_eq!(derivation, Derivation::DomainNt);
//! let new = old.reprotect(
//!     &old_key,
//!     &Reprotect { sid: Some(&local_sid), password: "Local pass 2", old_sid: Some(&domain_sid), ..Reprotect::default() },
//!     &mut rng,
//! )?;
//! let (new_key, _) = new.decrypt_with_password(&local_sid, "Local pass 2")?;
//! assert_eq!(new.guid()?, guid);
//! // Every blob protected with the key still opens.
//! assert_eq!(blob.decrypt(&new_key, None)?, b"saved password");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything is bounds-checked: a truncated or corrupt file gives an [`Error`] naming the
//! offset (and the field), an unknown algorithm id an error naming the id and its offset,
//! a wrong password or key [`Error::WrongKey`]; never a panic. Keys never appear in
//! `Debug` output. `docs/dpapi.md` describes the formats, the derivations, and what is
//! verified by which independent reader (impacket's `dpapi.py`) and what is not.

pub mod alg;
pub mod blob;
pub mod credhist;
pub mod derive;
pub mod domainkey;
pub mod error;
pub mod guid;
pub mod masterkey;
pub mod preferred;
pub mod pvk;
mod reader;
pub mod rng;

pub use alg::{AlgId, CipherSuite};
pub use blob::{BlobOptions, CredentialBlob, CredentialFile, DpapiBlob};
pub use credhist::{CredHistEntry, CredHistFile, CredHistHeader, PasswordHashes};
pub use derive::{Derivation, DpapiSystem, PreKey, nt_hash, sha1_password};
pub use domainkey::{AccessCheck, DomainKeyBlock, DomainSecret};
pub use error::{Error, Result};
pub use masterkey::{
    CredHistRef, DomainBackup, MasterKey, MasterKeyBlock, MasterKeyFile, NewMasterKeyFile,
    Reprotect,
};
pub use ntsec::{Guid, Sid};
pub use preferred::Preferred;
pub use pvk::{BackupKey, BackupPublicKey};
pub use rng::{OsRng, SeededRng};

/// A re-protected master key file and what it took.
#[derive(Debug, Clone)]
pub struct Reprotected {
    pub file: MasterKeyFile,
    /// The new file's bytes.
    pub bytes: Vec<u8>,
    /// How the old password decrypted the old file.
    pub old_derivation: Derivation,
}

/// Re-protects one master key file's bytes: decrypts with the old owner's SID and
/// password (any derivation), protects for `new` (local-account derivation). The old
/// SID is also used to carry the backup block's secret over.
pub fn reprotect_file<R: rand_core::TryCryptoRng + ?Sized>(
    old_bytes: &[u8],
    old_sid: &Sid,
    old_password: &str,
    new: &Reprotect<'_>,
    rng: &mut R,
) -> Result<Reprotected> {
    let old = MasterKeyFile::parse(old_bytes)?;
    let (key, old_derivation) = old.decrypt_with_password(old_sid, old_password)?;
    let mut new = new.clone();
    if new.old_sid.is_none() {
        new.old_sid = Some(old_sid);
    }
    let file = old.reprotect(&key, &new, rng)?;
    let bytes = file.to_bytes();
    Ok(Reprotected {
        file,
        bytes,
        old_derivation,
    })
}
