//! The domain backup block of a master key file (MS-BKRP 2.2.2 "Client-Side-Wrapped
//! Secret", Windows' `BACKUPKEY_RECOVERY_BLOB`):
//!
//! ```text
//! version (2 or 3), length of the encrypted secret, length of the access check,
//! GUID of the domain backup key, encrypted secret, access check
//! ```
//!
//! The encrypted secret is RSA PKCS#1 v1.5 with the domain's backup public key, stored
//! little-endian (byte-reversed). Decrypted (version 2): `cbSecret`, `cbPayloadKey` (32),
//! the secret (the 64-byte master key), the payload key (a 3DES key and an 8-byte IV).
//! Version 3: `cbSecret`, 48, `CALG_AES_256`, `CALG_SHA_512`, the secret, an AES-256 key
//! and a 16-byte IV.
//!
//! The access check, encrypted with the payload key (CBC, no padding): version 1,
//! `cbNonce`, the nonce, the owner's SID, padding to the cipher block, and the SHA-1
//! (version 3: SHA-512) of everything before it. A DC returns the secret only to the SID
//! it names.

use ntsec::{Guid, Sid};
use rand_core::TryCryptoRng;

use crate::alg::{AlgId, CipherAlg, HashAlg, same};
use crate::error::{Error, Result};
use crate::masterkey::MasterKey;
use crate::pvk::{BackupKey, BackupPublicKey};
use crate::reader::{Put, Reader, len32};
use crate::rng;

/// The version Windows writes by default (3DES access check).
pub const DOMAIN_KEY_VERSION: u32 = 2;
/// The nonce length this crate writes in access checks.
pub const NONCE_LEN: usize = 32;

/// The domain backup block, every byte kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainKeyBlock {
    pub version: u32,
    /// The GUID of the domain backup key the secret is encrypted to.
    pub key_guid: Guid,
    /// RSA ciphertext as stored (little-endian).
    pub encrypted_secret: Vec<u8>,
    pub access_check: Vec<u8>,
    /// Bytes after the access check (Windows writes none).
    pub extra: Vec<u8>,
}

/// The result of decrypting a domain backup block.
#[derive(Debug, Clone)]
pub struct DomainSecret {
    pub master_key: MasterKey,
    pub access_check: AccessCheck,
}

/// What the access check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessCheck {
    /// It decrypted, its hash matched, and it names this SID.
    Verified(Sid),
    /// The master key came out, but the access check did not verify (an unknown layout
    /// or a damaged block); the reason says what failed.
    Unverified(String),
}

const WHAT: &str = "domain backup block";

impl DomainKeyBlock {
    /// Parses the block; offsets in errors are relative to its start.
    pub fn parse(data: &[u8]) -> Result<DomainKeyBlock> {
        let mut r = Reader::new(data, WHAT);
        let version = r.u32("version")?;
        let secret_len = r.u32("encrypted secret length")?;
        let check_len = r.u32("access check length")?;
        let key_guid = r.guid("key GUID")?;
        let encrypted_secret = r
            .bytes_u64(u64::from(secret_len), "encrypted secret")?
            .to_vec();
        let access_check = r.bytes_u64(u64::from(check_len), "access check")?.to_vec();
        Ok(DomainKeyBlock {
            version,
            key_guid,
            encrypted_secret,
            access_check,
            extra: r.rest().to_vec(),
        })
    }

    /// The block's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u32(self.version);
        out.put_u32(self.encrypted_secret.len() as u32);
        out.put_u32(self.access_check.len() as u32);
        out.extend_from_slice(&self.key_guid.0);
        out.extend_from_slice(&self.encrypted_secret);
        out.extend_from_slice(&self.access_check);
        out.extend_from_slice(&self.extra);
        out
    }

    /// Decrypts the master key with the domain's backup private key and verifies the
    /// access check.
    pub fn decrypt(&self, key: &BackupKey) -> Result<DomainSecret> {
        if self.version != 2 && self.version != 3 {
            return Err(Error::corrupt(
                WHAT,
                0,
                format!("version {}, expected 2 or 3", self.version),
            ));
        }
        let wrong = |why: String| {
            Error::wrong_key(
                WHAT,
                format!(
                    "the RSA key does not decrypt the secret ({why}); is it the backup key \
                     {{{}}} this block names?",
                    self.key_guid
                ),
            )
        };
        if self.encrypted_secret.len() != key.bits().div_ceil(8) {
            return Err(wrong(format!(
                "the secret is {} bytes, this is a {}-bit key",
                self.encrypted_secret.len(),
                key.bits()
            )));
        }
        let be: Vec<u8> = self.encrypted_secret.iter().rev().copied().collect();
        // PKCS#1 v1.5 decryption may reject implicitly (a wrong key gives random bytes, no
        // error): the layout of the plaintext is the check.
        let plain = key.decrypt_pkcs1(&be).map_err(|e| wrong(e.to_string()))?;
        let mut r = Reader::new(&plain, "decrypted domain backup secret");
        let layout = |e: Error| wrong(format!("no valid secret inside: {e}"));
        let secret_len = r.u32("cbSecret").map_err(layout)?;
        let payload_len = r.u32("cbPayloadKey").map_err(layout)?;
        let (cipher, hash) = if self.version == 3 {
            let c = AlgId(r.u32("cipher algorithm").map_err(layout)?);
            let h = AlgId(r.u32("hash algorithm").map_err(layout)?);
            match (CipherAlg::from_alg(c), HashAlg::from_alg(h)) {
                (Some(c), Some(h)) => (c, h),
                _ => return Err(wrong(format!("unknown algorithms {c} / {h} inside"))),
            }
        } else {
            (CipherAlg::TripleDes, HashAlg::Sha1)
        };
        let expected_payload = (cipher.key_len() + cipher.block_len()) as u32;
        if payload_len != expected_payload || secret_len == 0 || secret_len > 1024 {
            return Err(wrong(format!(
                "lengths {secret_len} and {payload_len} inside, expected a secret and a \
                 {expected_payload}-byte payload key"
            )));
        }
        let secret = r
            .bytes_u64(u64::from(secret_len), "secret")
            .map_err(layout)?;
        let payload = r
            .bytes_u64(u64::from(payload_len), "payload key")
            .map_err(layout)?;
        if r.remaining() != 0 {
            return Err(wrong(format!("{} bytes left over inside", r.remaining())));
        }
        let master_key = MasterKey::from_bytes(secret);
        let access_check = match self.verify_access_check(cipher, hash, payload) {
            Ok(sid) => AccessCheck::Verified(sid),
            Err(e) => AccessCheck::Unverified(e.to_string()),
        };
        Ok(DomainSecret {
            master_key,
            access_check,
        })
    }

    fn verify_access_check(&self, cipher: CipherAlg, hash: HashAlg, payload: &[u8]) -> Result<Sid> {
        let needed = cipher.key_len() + cipher.block_len();
        if payload.len() < needed {
            return Err(Error::Invalid(format!(
                "a payload key of {} bytes (at least {needed} needed)",
                payload.len()
            )));
        }
        let (k, iv) = payload.split_at(cipher.key_len());
        let iv = &iv[..cipher.block_len()];
        if !self.access_check.len().is_multiple_of(cipher.block_len()) {
            return Err(Error::Invalid(format!(
                "an access check of {} bytes is not a whole number of blocks",
                self.access_check.len()
            )));
        }
        let plain = cipher.decrypt_raw(k, iv, &self.access_check)?;
        if plain.len() < hash.len() + 8 {
            return Err(Error::Invalid("the access check is too short".into()));
        }
        let (body, stored) = plain.split_at(plain.len() - hash.len());
        if !same(&hash.digest(&[body]), stored) {
            return Err(Error::Invalid(
                "the access check's hash does not match (wrong payload key)".into(),
            ));
        }
        let mut r = Reader::new(body, "access check");
        let _version = r.u32("version")?;
        let _nonce = r.counted("nonce")?;
        let (sid, _) = Sid::from_bytes(r.rest())
            .map_err(|e| Error::Invalid(format!("the access check's SID: {e}")))?;
        Ok(sid)
    }

    /// A version-2 block, as Windows writes it: the master key and a fresh 3DES payload
    /// key encrypted to the domain's public key, and an access check naming `sid`.
    pub fn encrypt<R: TryCryptoRng + ?Sized>(
        master_key: &MasterKey,
        sid: &Sid,
        public_key: &BackupPublicKey,
        key_guid: Guid,
        rng: &mut R,
    ) -> Result<DomainKeyBlock> {
        let cipher = CipherAlg::TripleDes;
        let payload: [u8; 32] = rng::array(rng)?;
        let secret = master_key.as_bytes();
        let mut plain = Vec::with_capacity(8 + secret.len() + payload.len());
        plain.put_u32(len32(secret.len())?);
        plain.put_u32(len32(payload.len())?);
        plain.extend_from_slice(secret);
        plain.extend_from_slice(&payload);
        let mut encrypted = public_key.encrypt_pkcs1(rng, &plain)?;
        encrypted.reverse();

        let nonce = rng::vec(rng, NONCE_LEN)?;
        let mut check = Vec::new();
        check.put_u32(1);
        check.put_counted(&nonce)?;
        check.extend_from_slice(&sid.to_bytes());
        let hash_len = HashAlg::Sha1.len();
        while !(check.len() + hash_len).is_multiple_of(cipher.block_len()) {
            check.push(0);
        }
        let digest = HashAlg::Sha1.digest(&[&check]);
        check.extend_from_slice(&digest);
        let (k, iv) = payload.split_at(cipher.key_len());
        let access_check = cipher.encrypt_raw(k, iv, &check)?;
        Ok(DomainKeyBlock {
            version: DOMAIN_KEY_VERSION,
            key_guid,
            encrypted_secret: encrypted,
            access_check,
            extra: Vec::new(),
        })
    }
}
