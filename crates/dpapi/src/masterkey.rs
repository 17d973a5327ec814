//! Master key files: `AppData\Roaming\Microsoft\Protect\<SID>\<GUID>`.
//!
//! ```text
//! offset  size  field
//! 0x00    4     version (2)
//! 0x04    4     modified flag (0 on disk)
//! 0x08    4     file path (an in-memory pointer, 0 on disk)
//! 0x0c    80    the GUID as UTF-16LE text, 36 characters, NUL-padded
//! 0x5c    4     policy (POLICY_* bits)
//! 0x60    8     length of the master key block
//! 0x68    8     length of the backup ("local encryption key") block
//! 0x70    8     length of the CREDHIST reference
//! 0x78    8     length of the domain backup block
//! 0x80          the four sections, in that order
//! ```
//!
//! A master key block and a backup block share one layout: version (2), salt (16), rounds,
//! hash `ALG_ID`, cipher `ALG_ID`, then the ciphertext of `hmac_salt(16) || HMAC ||
//! gap || secret`, where `HMAC = HMAC(HMAC(pre-key, hmac_salt), secret)` and the gap pads
//! the HMAC to the cipher's block (4 zero bytes for SHA-1 with 3DES, none for SHA-512
//! with AES). The cipher key and IV come from [DPAPI's PBKDF2](crate::alg) of the pre-key
//! with the block's salt and rounds. The master key block holds the 64-byte master key;
//! the backup block a 32-byte "local encryption key", a vestige of Windows 2000's local
//! backup that Windows still writes.

use std::path::Path;

use ntsec::{Guid, Sid};
use rand_core::TryCryptoRng;

use crate::alg::{AlgId, CipherAlg, CipherSuite, HashAlg, dpapi_pbkdf2, same};
use crate::derive::{Derivation, DpapiSystem, PreKey};
use crate::domainkey::{DomainKeyBlock, DomainSecret};
use crate::error::{Error, Result};
use crate::pvk::{BackupKey, BackupPublicKey};
use crate::reader::{Put, Reader};
use crate::rng;

/// Policy bit: the backup block is keyed with the machine's `DPAPI_SYSTEM` secret as well
/// as the SID (local accounts).
pub const POLICY_LOCAL_BACKUP: u32 = 0x1;
/// Policy bit: no backup is to be made (the machine's own keys).
pub const POLICY_NO_BACKUP: u32 = 0x2;
/// Policy bit: the password hash is SHA-1 ("DPAPI OWF", local accounts), not the NT hash.
pub const POLICY_DPAPI_OWF: u32 = 0x4;

/// Size of the file header.
pub const HEADER_LEN: usize = 0x80;
/// Offset of the GUID text in the header.
pub const GUID_OFFSET: usize = 0x0c;
/// Size of the GUID text field.
pub const GUID_TEXT_LEN: usize = 80;
/// The version Windows writes in headers, blocks and the CREDHIST reference.
pub const FILE_VERSION: u32 = 2;
/// The version of the CREDHIST reference Windows XP and later write.
pub const CREDHIST_REF_VERSION: u32 = 3;
/// Size of the backup block's secret Windows writes.
pub const LOCAL_KEY_LEN: usize = 32;
/// A sanity limit on rounds, so that a corrupt file cannot make decryption run for
/// hours (Windows uses 4000 to a few tens of thousands).
pub const MAX_ROUNDS: u32 = 2_000_000;

/// A decrypted master key (64 bytes as Windows makes them). `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({} bytes)", self.0.len())
    }
}

impl MasterKey {
    /// Size of the master keys Windows generates.
    pub const LEN: usize = 64;

    /// A key from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> MasterKey {
        MasterKey(bytes.to_vec())
    }

    /// A fresh random 64-byte key.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<MasterKey> {
        Ok(MasterKey(rng::vec(rng, Self::LEN)?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// SHA-1 of the key: what DPAPI blobs are actually keyed with (mimikatz prints it as
    /// the key's "sha1").
    pub fn sha1(&self) -> [u8; 20] {
        let digest = HashAlg::Sha1.digest(&[&self.0]);
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest);
        out
    }
}

/// A master key block or a backup block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyBlock {
    pub version: u32,
    pub salt: [u8; 16],
    pub rounds: u32,
    pub hash_alg: AlgId,
    pub cipher_alg: AlgId,
    pub ciphertext: Vec<u8>,
}

/// Offsets of the fields inside a block.
const BLOCK_ROUNDS: u64 = 20;
const BLOCK_HASH: u64 = 24;
const BLOCK_CIPHER: u64 = 28;
const BLOCK_DATA: u64 = 32;

impl MasterKeyBlock {
    /// Parses a block; offsets in errors are relative to its start.
    pub fn parse(data: &[u8]) -> Result<MasterKeyBlock> {
        let mut r = Reader::new(data, "master key block");
        Ok(MasterKeyBlock {
            version: r.u32("version")?,
            salt: r.array("salt")?,
            rounds: r.u32("rounds")?,
            hash_alg: AlgId(r.u32("hash algorithm")?),
            cipher_alg: AlgId(r.u32("cipher algorithm")?),
            ciphertext: r.rest().to_vec(),
        })
    }

    /// The block's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.ciphertext.len());
        out.put_u32(self.version);
        out.extend_from_slice(&self.salt);
        out.put_u32(self.rounds);
        out.put_u32(self.hash_alg.0);
        out.put_u32(self.cipher_alg.0);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    fn algorithms(&self, what: &str) -> Result<(HashAlg, CipherAlg)> {
        let hash = HashAlg::require(self.hash_alg, what, BLOCK_HASH)?;
        let cipher = CipherAlg::require(self.cipher_alg, what, BLOCK_CIPHER)?;
        Ok((hash, cipher))
    }

    /// Size of the HMAC field and its gap: the hash padded to the cipher block.
    fn hmac_field_len(hash: HashAlg, cipher: CipherAlg) -> usize {
        hash.len() + hash.len() % cipher.block_len()
    }

    /// Decrypts the block's secret with a pre-key and checks its HMAC. A wrong pre-key
    /// gives [`Error::WrongKey`]; offsets in other errors are relative to the block.
    pub fn decrypt(&self, prekey: &PreKey) -> Result<Vec<u8>> {
        self.decrypt_as(prekey, "master key block")
    }

    fn decrypt_as(&self, prekey: &PreKey, what: &str) -> Result<Vec<u8>> {
        let (hash, cipher) = self.algorithms(what)?;
        if self.rounds > MAX_ROUNDS {
            return Err(Error::corrupt(
                what,
                BLOCK_ROUNDS,
                format!("{} rounds exceed the limit of {MAX_ROUNDS}", self.rounds),
            ));
        }
        if !self.ciphertext.len().is_multiple_of(cipher.block_len()) {
            return Err(Error::corrupt(
                what,
                BLOCK_DATA,
                format!(
                    "{} bytes of ciphertext is not a whole number of {}-byte {} blocks",
                    self.ciphertext.len(),
                    cipher.block_len(),
                    self.cipher_alg
                ),
            ));
        }
        let header = 16 + Self::hmac_field_len(hash, cipher);
        if self.ciphertext.len() < header {
            return Err(Error::corrupt(
                what,
                BLOCK_DATA,
                format!(
                    "{} bytes of ciphertext cannot hold the {header} bytes of HMAC salt and HMAC",
                    self.ciphertext.len()
                ),
            ));
        }
        let derived = dpapi_pbkdf2(
            hash,
            prekey.as_bytes(),
            &self.salt,
            self.rounds,
            cipher.key_len() + cipher.block_len(),
        )?;
        let (key, iv) = derived.split_at(cipher.key_len());
        let plain = cipher.decrypt_raw(key, iv, &self.ciphertext)?;
        let (hmac_salt, rest) = plain.split_at(16);
        let stored = &rest[..hash.len()];
        let secret = &plain[header..];
        let hmac1 = hash.hmac(prekey.as_bytes(), &[hmac_salt])?;
        let hmac2 = hash.hmac(&hmac1, &[secret])?;
        if !same(&hmac2, stored) {
            return Err(Error::wrong_key(
                what,
                "the key does not decrypt it: the HMAC check over the decrypted key failed \
                 (wrong password, SID or key)",
            ));
        }
        Ok(secret.to_vec())
    }

    /// Encrypts `secret` with a pre-key: fresh salt and HMAC salt from `rng`.
    pub fn encrypt<R: TryCryptoRng + ?Sized>(
        secret: &[u8],
        prekey: &PreKey,
        suite: CipherSuite,
        rounds: u32,
        rng: &mut R,
    ) -> Result<MasterKeyBlock> {
        let hash_alg = suite.master_key_hash_alg();
        let cipher_alg = suite.cipher_alg();
        let (hash, cipher) = MasterKeyBlock {
            version: FILE_VERSION,
            salt: [0; 16],
            rounds,
            hash_alg,
            cipher_alg,
            ciphertext: Vec::new(),
        }
        .algorithms("master key block")?;
        if rounds == 0 || rounds > MAX_ROUNDS {
            return Err(Error::Invalid(format!(
                "{rounds} rounds (1 to {MAX_ROUNDS} allowed)"
            )));
        }
        let gap = hash.len() % cipher.block_len();
        let total = 16 + hash.len() + gap + secret.len();
        if !total.is_multiple_of(cipher.block_len()) {
            return Err(Error::Invalid(format!(
                "a secret of {} bytes does not fill whole {}-byte blocks",
                secret.len(),
                cipher.block_len()
            )));
        }
        let salt: [u8; 16] = rng::array(rng)?;
        let hmac_salt: [u8; 16] = rng::array(rng)?;
        let hmac1 = hash.hmac(prekey.as_bytes(), &[&hmac_salt])?;
        let hmac2 = hash.hmac(&hmac1, &[secret])?;
        let mut plain = Vec::with_capacity(total);
        plain.extend_from_slice(&hmac_salt);
        plain.extend_from_slice(&hmac2);
        plain.extend(std::iter::repeat_n(0u8, gap));
        plain.extend_from_slice(secret);
        let derived = dpapi_pbkdf2(
            hash,
            prekey.as_bytes(),
            &salt,
            rounds,
            cipher.key_len() + cipher.block_len(),
        )?;
        let (key, iv) = derived.split_at(cipher.key_len());
        Ok(MasterKeyBlock {
            version: FILE_VERSION,
            salt,
            rounds,
            hash_alg,
            cipher_alg,
            ciphertext: cipher.encrypt_raw(key, iv, &plain)?,
        })
    }

    /// The suite of this block, when it is one Windows writes.
    pub fn suite(&self) -> Option<CipherSuite> {
        CipherSuite::from_algs(self.cipher_alg, self.hash_alg)
    }
}

/// The CREDHIST reference: which link of the user's `Protect\CREDHIST` chain holds the
/// password this key was protected with, once the password changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredHistRef {
    pub version: u32,
    pub guid: Guid,
    /// Bytes after the GUID, if the section is longer than 20 bytes (kept for an exact
    /// round trip; Windows writes none).
    pub extra: Vec<u8>,
}

impl CredHistRef {
    /// A reference as Windows XP and later write it.
    pub fn new(guid: Guid) -> CredHistRef {
        CredHistRef {
            version: CREDHIST_REF_VERSION,
            guid,
            extra: Vec::new(),
        }
    }

    pub fn parse(data: &[u8]) -> Result<CredHistRef> {
        let mut r = Reader::new(data, "CREDHIST reference");
        Ok(CredHistRef {
            version: r.u32("version")?,
            guid: r.guid("GUID")?,
            extra: r.rest().to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.extra.len());
        out.put_u32(self.version);
        out.extend_from_slice(&self.guid.0);
        out.extend_from_slice(&self.extra);
        out
    }
}

/// A master key file, every byte accounted for: `to_bytes(parse(x)) == x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyFile {
    pub version: u32,
    pub modified: u32,
    pub file_path: u32,
    /// The GUID as stored: UTF-16LE text, NUL-padded (see [`MasterKeyFile::guid`]).
    pub guid_text: [u8; GUID_TEXT_LEN],
    pub policy: u32,
    pub master_key: Option<MasterKeyBlock>,
    pub backup_key: Option<MasterKeyBlock>,
    pub credhist: Option<CredHistRef>,
    pub domain_key: Option<DomainKeyBlock>,
    /// Bytes after the last section (Windows writes none).
    pub trailing: Vec<u8>,
}

/// What [`MasterKeyFile::create`] writes.
#[derive(Debug, Clone)]
pub struct NewMasterKeyFile<'a> {
    /// The key's GUID (its file name).
    pub guid: Guid,
    /// The 64-byte master key.
    pub key: &'a MasterKey,
    /// The owner.
    pub sid: &'a Sid,
    pub password: &'a str,
    /// [`Derivation::LocalSha1`] for a local account (sets [`POLICY_DPAPI_OWF`]); a
    /// domain derivation for a domain account.
    pub derivation: Derivation,
    pub suite: CipherSuite,
    pub rounds: u32,
    /// The GUID of the current link of the owner's CREDHIST (see
    /// [`CredHistFile::new_empty`](crate::CredHistFile::new_empty)).
    pub credhist: Guid,
    /// The machine's `DPAPI_SYSTEM`: given, the backup block is keyed with it and the SID
    /// and [`POLICY_LOCAL_BACKUP`] is set, as Windows does for local accounts; absent,
    /// the backup block is keyed with the SID alone (as for domain accounts).
    pub dpapi_system: Option<&'a DpapiSystem>,
    /// The backup block's secret; `None`: 32 random bytes, as Windows makes it.
    pub local_key: Option<&'a [u8]>,
    /// A domain backup block encrypted to the domain's DPAPI backup public key.
    pub domain_backup: Option<DomainBackup<'a>>,
}

/// The domain side of a new master key file.
#[derive(Debug, Clone, Copy)]
pub struct DomainBackup<'a> {
    pub public_key: &'a BackupPublicKey,
    /// The GUID of the domain backup key (the `G$BCKUPKEY_<GUID>` LSA secret's name).
    pub key_guid: Guid,
}

/// How [`MasterKeyFile::reprotect`] protects the key for its new owner (always with the
/// local-account derivation).
#[derive(Debug, Clone, Default)]
pub struct Reprotect<'a> {
    /// The new owner.
    pub sid: Option<&'a Sid>,
    pub password: &'a str,
    /// The new CREDHIST reference; `None` keeps the file's own.
    pub credhist: Option<Guid>,
    /// The machine's `DPAPI_SYSTEM`, to write the backup block as Windows does for local
    /// accounts (with [`POLICY_LOCAL_BACKUP`]); without it the backup block is keyed
    /// with the new SID alone.
    pub dpapi_system: Option<&'a DpapiSystem>,
    /// The old owner, to carry the backup block's secret over (it is readable from the
    /// SID alone when the old policy lacks [`POLICY_LOCAL_BACKUP`], as for domain
    /// accounts, else with `old_dpapi_system`). When it cannot be read, a fresh one is
    /// made.
    pub old_sid: Option<&'a Sid>,
    pub old_dpapi_system: Option<&'a DpapiSystem>,
    /// The cipher generation; `None` keeps the file's own (AES-256/SHA-512 if unknown).
    pub suite: Option<CipherSuite>,
    /// The rounds; `None` keeps the file's own (the suite's default if unknown).
    pub rounds: Option<u32>,
}

impl MasterKeyFile {
    /// Parses a master key file. Offsets in errors are file offsets.
    pub fn parse(data: &[u8]) -> Result<MasterKeyFile> {
        let mut r = Reader::new(data, "master key file");
        let version = r.u32("version")?;
        let modified = r.u32("modified flag")?;
        let file_path = r.u32("file path")?;
        let guid_text = r.array::<GUID_TEXT_LEN>("GUID")?;
        let policy = r.u32("policy")?;
        let master_len = r.u64("master key block length")?;
        let backup_len = r.u64("backup block length")?;
        let credhist_len = r.u64("CREDHIST reference length")?;
        let domain_len = r.u64("domain backup block length")?;

        let mut section = |len: u64, name: &str| -> Result<Option<(u64, &[u8])>> {
            if len == 0 {
                return Ok(None);
            }
            let at = r.offset();
            Ok(Some((at, r.bytes_u64(len, name)?)))
        };
        let master = section(master_len, "master key block")?;
        let backup = section(backup_len, "backup block")?;
        let credhist = section(credhist_len, "CREDHIST reference")?;
        let domain = section(domain_len, "domain backup block")?;
        let trailing = r.rest().to_vec();

        let file = "master key file";
        Ok(MasterKeyFile {
            version,
            modified,
            file_path,
            guid_text,
            policy,
            master_key: master
                .map(|(at, d)| MasterKeyBlock::parse(d).map_err(|e| e.within(at, file)))
                .transpose()?,
            backup_key: backup
                .map(|(at, d)| {
                    MasterKeyBlock::parse(d).map_err(|e| e.within(at, file).renamed("backup"))
                })
                .transpose()?,
            credhist: credhist
                .map(|(at, d)| CredHistRef::parse(d).map_err(|e| e.within(at, file)))
                .transpose()?,
            domain_key: domain
                .map(|(at, d)| DomainKeyBlock::parse(d).map_err(|e| e.within(at, file)))
                .transpose()?,
            trailing,
        })
    }

    /// Reads and parses a file; errors name it.
    pub fn read(path: &Path) -> Result<MasterKeyFile> {
        let data = crate::error::read_file(path)?;
        MasterKeyFile::parse(&data).map_err(|e| e.in_file(path))
    }

    /// The file's bytes; section lengths are computed from the sections.
    pub fn to_bytes(&self) -> Vec<u8> {
        let master = self.master_key.as_ref().map(MasterKeyBlock::to_bytes);
        let backup = self.backup_key.as_ref().map(MasterKeyBlock::to_bytes);
        let credhist = self.credhist.as_ref().map(CredHistRef::to_bytes);
        let domain = self.domain_key.as_ref().map(DomainKeyBlock::to_bytes);
        let len = |s: &Option<Vec<u8>>| s.as_ref().map_or(0, |v| v.len() as u64);
        let mut out = Vec::new();
        out.put_u32(self.version);
        out.put_u32(self.modified);
        out.put_u32(self.file_path);
        out.extend_from_slice(&self.guid_text);
        out.put_u32(self.policy);
        out.put_u64(len(&master));
        out.put_u64(len(&backup));
        out.put_u64(len(&credhist));
        out.put_u64(len(&domain));
        for s in [master, backup, credhist, domain].into_iter().flatten() {
            out.extend_from_slice(&s);
        }
        out.extend_from_slice(&self.trailing);
        out
    }

    /// Writes the file (not atomically; the caller owns the file's fate).
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The GUID text field for a GUID: lowercase, 36 UTF-16 characters, NUL-padded.
    pub fn guid_text_for(guid: &Guid) -> [u8; GUID_TEXT_LEN] {
        let mut out = [0u8; GUID_TEXT_LEN];
        for (i, unit) in guid
            .to_string()
            .encode_utf16()
            .take(GUID_TEXT_LEN / 2)
            .enumerate()
        {
            out[2 * i..2 * i + 2].copy_from_slice(&unit.to_le_bytes());
        }
        out
    }

    /// The key's GUID, from the text field.
    pub fn guid(&self) -> Result<Guid> {
        let units: Vec<u16> = self
            .guid_text
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let text = String::from_utf16(&units).map_err(|_| {
            Error::corrupt(
                "master key file",
                GUID_OFFSET as u64,
                "the GUID field is not UTF-16",
            )
        })?;
        text.parse::<Guid>().map_err(|_| {
            Error::corrupt(
                "master key file",
                GUID_OFFSET as u64,
                format!("the GUID field {text:?} is not a GUID"),
            )
        })
    }

    fn require_master_block(&self) -> Result<&MasterKeyBlock> {
        self.master_key.as_ref().ok_or_else(|| {
            Error::corrupt(
                "master key file",
                0x60,
                "the file has no master key block (its length is 0)",
            )
        })
    }

    fn block_error(e: Error, base: u64, name: &str) -> Error {
        e.within(base, &format!("master key file, {name}"))
    }

    /// Decrypts the master key with a pre-key.
    pub fn decrypt_with_prekey(&self, prekey: &PreKey) -> Result<MasterKey> {
        let block = self.require_master_block()?;
        block
            .decrypt(prekey)
            .map(MasterKey)
            .map_err(|e| Self::block_error(e, HEADER_LEN as u64, "master key block"))
    }

    /// Decrypts the master key with the owner's SID and password, trying the derivation
    /// the policy names first and then the others. Returns the key and the derivation
    /// that worked; [`Error::WrongKey`] when none does.
    pub fn decrypt_with_password(
        &self,
        sid: &Sid,
        password: &str,
    ) -> Result<(MasterKey, Derivation)> {
        let mut order = Derivation::ALL.to_vec();
        if self.policy & POLICY_DPAPI_OWF != 0 {
            order.retain(|d| *d != Derivation::LocalSha1);
            order.insert(0, Derivation::LocalSha1);
        }
        for derivation in order {
            let prekey = PreKey::from_password(sid, password, derivation)?;
            match self.decrypt_with_prekey(&prekey) {
                Ok(key) => return Ok((key, derivation)),
                Err(Error::WrongKey { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Error::wrong_key(
            "master key file",
            format!(
                "the password and SID {sid} do not decrypt the master key: the HMAC check \
                 failed for the SHA-1, NT-hash and PBKDF2 derivations"
            ),
        ))
    }

    /// Decrypts the domain backup block with the domain's DPAPI backup private key.
    pub fn decrypt_with_backup_key(&self, key: &BackupKey) -> Result<DomainSecret> {
        let base =
            HEADER_LEN as u64 + self.section_len(0) + self.section_len(1) + self.section_len(2);
        let block = self.domain_key.as_ref().ok_or_else(|| {
            Error::corrupt(
                "master key file",
                0x78,
                "the file has no domain backup block (its length is 0)",
            )
        })?;
        block
            .decrypt(key)
            .map_err(|e| Self::block_error(e, base, "domain backup block"))
    }

    fn section_len(&self, index: usize) -> u64 {
        let len = match index {
            0 => self.master_key.as_ref().map(|b| b.to_bytes().len()),
            1 => self.backup_key.as_ref().map(|b| b.to_bytes().len()),
            2 => self.credhist.as_ref().map(|c| c.to_bytes().len()),
            _ => self.domain_key.as_ref().map(|d| d.to_bytes().len()),
        };
        len.unwrap_or(0) as u64
    }

    /// Decrypts the backup block's secret (the "local encryption key"): keyed with the
    /// SID, and with `DPAPI_SYSTEM` when the policy has [`POLICY_LOCAL_BACKUP`].
    pub fn decrypt_local_key(
        &self,
        sid: &Sid,
        dpapi_system: Option<&DpapiSystem>,
    ) -> Result<Vec<u8>> {
        let base = HEADER_LEN as u64 + self.section_len(0);
        let block = self.backup_key.as_ref().ok_or_else(|| {
            Error::corrupt(
                "master key file",
                0x68,
                "the file has no backup block (its length is 0)",
            )
        })?;
        let system = if self.policy & POLICY_LOCAL_BACKUP != 0 {
            Some(dpapi_system.ok_or_else(|| {
                Error::Invalid(
                    "this master key's backup block is keyed with the machine's DPAPI_SYSTEM \
                     secret (policy LOCAL_BACKUP); it was not given"
                        .into(),
                )
            })?)
        } else {
            None
        };
        let hash = HashAlg::require(block.hash_alg, "backup block", BLOCK_HASH)
            .map_err(|e| Self::block_error(e, base, "backup block"))?;
        let prekey = PreKey::for_backup_block(hash, sid, system);
        block
            .decrypt_as(&prekey, "backup block")
            .map_err(|e| Self::block_error(e, base, "backup block"))
    }

    /// A new master key file, as Windows writes one for the account described.
    pub fn create<R: TryCryptoRng + ?Sized>(
        spec: &NewMasterKeyFile<'_>,
        rng: &mut R,
    ) -> Result<MasterKeyFile> {
        let prekey = PreKey::from_password(spec.sid, spec.password, spec.derivation)?;
        let master =
            MasterKeyBlock::encrypt(spec.key.as_bytes(), &prekey, spec.suite, spec.rounds, rng)?;
        let local_key = match spec.local_key {
            Some(k) => k.to_vec(),
            None => rng::vec(rng, LOCAL_KEY_LEN)?,
        };
        let backup_hash = HashAlg::require(spec.suite.master_key_hash_alg(), "backup block", 0)?;
        let backup_prekey = PreKey::for_backup_block(backup_hash, spec.sid, spec.dpapi_system);
        let backup =
            MasterKeyBlock::encrypt(&local_key, &backup_prekey, spec.suite, spec.rounds, rng)?;
        let domain = spec
            .domain_backup
            .map(|d| DomainKeyBlock::encrypt(spec.key, spec.sid, d.public_key, d.key_guid, rng))
            .transpose()?;
        let mut policy = 0;
        if spec.derivation == Derivation::LocalSha1 {
            policy |= POLICY_DPAPI_OWF;
        }
        if spec.dpapi_system.is_some() {
            policy |= POLICY_LOCAL_BACKUP;
        }
        Ok(MasterKeyFile {
            version: FILE_VERSION,
            modified: 0,
            file_path: 0,
            guid_text: Self::guid_text_for(&spec.guid),
            policy,
            master_key: Some(master),
            backup_key: Some(backup),
            credhist: Some(CredHistRef::new(spec.credhist)),
            domain_key: domain,
            trailing: Vec::new(),
        })
    }

    /// This file's key protected for a new owner and password with the local-account
    /// derivation: same GUID, fresh salts, a backup block as Windows writes one for
    /// local accounts, no domain backup block. `key` is this file's decrypted master key.
    pub fn reprotect<R: TryCryptoRng + ?Sized>(
        &self,
        key: &MasterKey,
        new: &Reprotect<'_>,
        rng: &mut R,
    ) -> Result<MasterKeyFile> {
        let sid = new
            .sid
            .ok_or_else(|| Error::Invalid("re-protection needs the new owner's SID".into()))?;
        let guid = self.guid()?;
        let old_suite = self.master_key.as_ref().and_then(MasterKeyBlock::suite);
        let suite = new.suite.or(old_suite).unwrap_or(CipherSuite::Aes256Sha512);
        let rounds = new.rounds.unwrap_or_else(|| {
            match (old_suite, self.master_key.as_ref().map(|b| b.rounds)) {
                (Some(s), Some(r)) if s == suite && (1..=MAX_ROUNDS).contains(&r) => r,
                _ => suite.default_rounds(),
            }
        });
        let local_key = new
            .old_sid
            .and_then(|old| self.decrypt_local_key(old, new.old_dpapi_system).ok())
            .filter(|k| k.len() == LOCAL_KEY_LEN);
        let credhist = match (new.credhist, &self.credhist) {
            (Some(g), _) => g,
            (None, Some(c)) => c.guid,
            (None, None) => Guid([0; 16]),
        };
        MasterKeyFile::create(
            &NewMasterKeyFile {
                guid,
                key,
                sid,
                password: new.password,
                derivation: Derivation::LocalSha1,
                suite,
                rounds,
                credhist,
                dpapi_system: new.dpapi_system,
                local_key: local_key.as_deref(),
                domain_backup: None,
            },
            rng,
        )
    }
}

impl Error {
    /// Renames "master key block" to "backup block" in a block error raised while parsing
    /// the backup block (they share a parser).
    fn renamed(self, section: &str) -> Error {
        match self {
            Error::Truncated {
                what,
                field,
                offset,
                needed,
                available,
            } => Error::Truncated {
                what: what.replace("master key block", &format!("{section} block")),
                field,
                offset,
                needed,
                available,
            },
            other => other,
        }
    }
}
