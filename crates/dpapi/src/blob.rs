//! DPAPI blobs (what `CryptProtectData` returns), and the Credential Manager files that
//! wrap them.
//!
//! ```text
//! version (1), provider GUID (df9d8cd0-1501-11d1-8c7a-00c04fc297eb),
//! master key version (1), master key GUID, flags, description (u32 length + UTF-16LE),
//! cipher ALG_ID, cipher key bits, salt (length + bytes), HMAC key (length + bytes),
//! hash ALG_ID, hash bits, HMAC-2 key (length + bytes), data (length + bytes),
//! signature (length + bytes)
//! ```
//!
//! Decryption: `k = SHA-1(master key)`; session key `= HMAC(k, salt || entropy)` with the
//! blob's hash; cipher key `= CryptDeriveKey(session key)` (the session key itself, or
//! extended with the 0x36/0x5c pads when too short); CBC with a zero IV, PKCS#7 padding.
//! The signature is `HMAC(k, HMAC-2 key || entropy || bytes from the master key version
//! to the end of the data)`. SHA-1 blobs (Windows XP to 7) use a variant of HMAC-SHA1 in
//! which only the first part is in the inner hash and the rest follows in the outer one
//! (checked on a Windows 7 Credential Manager file).

use std::path::Path;

use ntsec::Guid;
use rand_core::TryCryptoRng;

use crate::alg::{AlgId, CipherAlg, CipherSuite, HashAlg, derive_key_raw, hmac_sha1_windows, same};
use crate::derive::utf16le;
use crate::error::{Error, Result};
use crate::masterkey::MasterKey;
use crate::reader::{Put, Reader, len32};
use crate::rng;

/// The provider GUID every DPAPI blob carries: `df9d8cd0-1501-11d1-8c7a-00c04fc297eb`.
pub const PROVIDER_GUID: Guid = Guid([
    0xd0, 0x8c, 0x9d, 0xdf, 0x01, 0x15, 0xd1, 0x11, 0x8c, 0x7a, 0x00, 0xc0, 0x4f, 0xc2, 0x97, 0xeb,
]);
/// `CRYPTPROTECT_LOCAL_MACHINE`.
pub const CRYPTPROTECT_LOCAL_MACHINE: u32 = 0x4;
/// `CRYPTPROTECT_SYSTEM`: protected with the system's keys (Credential Manager files).
pub const CRYPTPROTECT_SYSTEM: u32 = 0x2000_0000;

/// A DPAPI blob, every field kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpapiBlob {
    pub version: u32,
    pub provider: Guid,
    pub master_key_version: u32,
    pub master_key_guid: Guid,
    pub flags: u32,
    /// The description as stored: UTF-16LE with its terminating NUL.
    pub description: Vec<u8>,
    pub cipher_alg: AlgId,
    pub cipher_bits: u32,
    pub salt: Vec<u8>,
    pub hmac_key: Vec<u8>,
    pub hash_alg: AlgId,
    pub hash_bits: u32,
    pub hmac2_key: Vec<u8>,
    pub data: Vec<u8>,
    pub signature: Vec<u8>,
}

/// How [`DpapiBlob::encrypt`] writes a blob.
#[derive(Debug, Clone)]
pub struct BlobOptions<'a> {
    pub suite: CipherSuite,
    pub description: &'a str,
    pub flags: u32,
    pub entropy: Option<&'a [u8]>,
}

impl Default for BlobOptions<'_> {
    fn default() -> Self {
        BlobOptions {
            suite: CipherSuite::Aes256Sha512,
            description: "",
            flags: 0,
            entropy: None,
        }
    }
}

const WHAT: &str = "DPAPI blob";

impl DpapiBlob {
    /// Parses a blob at the start of `data`; returns it and the bytes it took.
    pub fn parse_prefix(data: &[u8]) -> Result<(DpapiBlob, usize)> {
        let mut r = Reader::new(data, WHAT);
        let blob = DpapiBlob {
            version: r.u32("version")?,
            provider: r.guid("provider GUID")?,
            master_key_version: r.u32("master key version")?,
            master_key_guid: r.guid("master key GUID")?,
            flags: r.u32("flags")?,
            description: r.counted("description")?.to_vec(),
            cipher_alg: AlgId(r.u32("cipher algorithm")?),
            cipher_bits: r.u32("cipher key length")?,
            salt: r.counted("salt")?.to_vec(),
            hmac_key: r.counted("HMAC key")?.to_vec(),
            hash_alg: AlgId(r.u32("hash algorithm")?),
            hash_bits: r.u32("hash length")?,
            hmac2_key: r.counted("HMAC-2 key")?.to_vec(),
            data: r.counted("data")?.to_vec(),
            signature: r.counted("signature")?.to_vec(),
        };
        if blob.provider != PROVIDER_GUID {
            return Err(Error::corrupt(
                WHAT,
                4,
                format!(
                    "provider {}, a DPAPI blob has {PROVIDER_GUID}",
                    blob.provider
                ),
            ));
        }
        Ok((blob, r.offset() as usize))
    }

    /// Parses a blob that fills `data` exactly.
    pub fn parse(data: &[u8]) -> Result<DpapiBlob> {
        let (blob, used) = DpapiBlob::parse_prefix(data)?;
        if used != data.len() {
            return Err(Error::corrupt(
                WHAT,
                used as u64,
                format!("{} bytes after the end of the blob", data.len() - used),
            ));
        }
        Ok(blob)
    }

    pub fn read(path: &Path) -> Result<DpapiBlob> {
        let data = crate::error::read_file(path)?;
        DpapiBlob::parse(&data).map_err(|e| e.in_file(path))
    }

    /// The blob's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = self.signed_part_prefix();
        out.extend(self.signed_part()?);
        out.put_counted(&self.signature)?;
        Ok(out)
    }

    fn signed_part_prefix(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u32(self.version);
        out.extend_from_slice(&self.provider.0);
        out
    }

    /// The bytes the signature covers: from the master key version to the end of the
    /// data field.
    fn signed_part(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.put_u32(self.master_key_version);
        out.extend_from_slice(&self.master_key_guid.0);
        out.put_u32(self.flags);
        out.put_counted(&self.description)?;
        out.put_u32(self.cipher_alg.0);
        out.put_u32(self.cipher_bits);
        out.put_counted(&self.salt)?;
        out.put_counted(&self.hmac_key)?;
        out.put_u32(self.hash_alg.0);
        out.put_u32(self.hash_bits);
        out.put_counted(&self.hmac2_key)?;
        out.put_counted(&self.data)?;
        Ok(out)
    }

    /// The description as text.
    pub fn description(&self) -> String {
        let units: Vec<u16> = self
            .description
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    fn algorithms(&self) -> Result<(HashAlg, CipherAlg)> {
        let d = self.description.len() as u64;
        let hash_at = 64 + d + self.salt.len() as u64 + self.hmac_key.len() as u64;
        let cipher = CipherAlg::require(self.cipher_alg, WHAT, 48 + d)?;
        let hash = HashAlg::require(self.hash_alg, WHAT, hash_at)?;
        Ok((hash, cipher))
    }

    fn key_hash(master_key: &MasterKey) -> Vec<u8> {
        let k = master_key.as_bytes();
        if k.len() == 20 {
            k.to_vec()
        } else {
            HashAlg::Sha1.digest(&[k])
        }
    }

    /// The session key: `HMAC(k, salt || entropy)`; for SHA-1 blobs with entropy, the
    /// entropy goes into the outer hash (see `hmac_sha1_windows`).
    fn session_key(hash: HashAlg, k: &[u8], salt: &[u8], entropy: &[u8]) -> Result<Vec<u8>> {
        if hash == HashAlg::Sha1 {
            Ok(hmac_sha1_windows(k, salt, &[entropy]))
        } else {
            hash.hmac(k, &[salt, entropy])
        }
    }

    /// The signature: HMAC-SHA-512 (or -256/-384) of `HMAC-2 key || entropy || signed
    /// bytes` (verified on a Windows 10 blob); for SHA-1 blobs the Windows variant with
    /// the HMAC-2 key alone in the inner hash (verified on a Windows 7 blob).
    fn signature_of(
        hash: HashAlg,
        k: &[u8],
        hmac2: &[u8],
        entropy: &[u8],
        signed: &[u8],
    ) -> Result<Vec<u8>> {
        if hash == HashAlg::Sha1 {
            Ok(hmac_sha1_windows(k, hmac2, &[entropy, signed]))
        } else {
            hash.hmac(k, &[hmac2, entropy, signed])
        }
    }

    /// Decrypts the data with the master key named by [`DpapiBlob::master_key_guid`]
    /// (and the entropy the application gave, if any); checks the signature.
    pub fn decrypt(&self, master_key: &MasterKey, entropy: Option<&[u8]>) -> Result<Vec<u8>> {
        let (hash, cipher) = self.algorithms()?;
        let k = Self::key_hash(master_key);
        let entropy = entropy.unwrap_or(&[]);
        let session = Self::session_key(hash, &k, &self.salt, entropy)?;
        let key = derive_key_raw(hash, &session, cipher.key_len());
        let iv = vec![0u8; cipher.block_len()];
        let plain = cipher.decrypt_padded(&key, &iv, &self.data).map_err(|_| {
            Error::wrong_key(
                WHAT,
                format!(
                    "the master key (or entropy) does not decrypt it: bad padding; the blob \
                     names master key {}",
                    self.master_key_guid
                ),
            )
        })?;
        let signed = self.signed_part()?;
        let expected = Self::signature_of(hash, &k, &self.hmac2_key, entropy, &signed)?;
        // impacket also accepts the other construction; so do we, for blobs others made.
        let standard = hash.hmac(&k, &[&self.hmac2_key, entropy, &signed])?;
        if !same(&expected, &self.signature) && !same(&standard, &self.signature) {
            return Err(Error::wrong_key(
                WHAT,
                format!(
                    "the signature does not match: wrong master key (the blob names {}) or \
                     entropy, or altered data",
                    self.master_key_guid
                ),
            ));
        }
        Ok(plain)
    }

    /// Encrypts `plain` as `CryptProtectData` does with the master key `master_key_guid`.
    pub fn encrypt<R: TryCryptoRng + ?Sized>(
        plain: &[u8],
        master_key: &MasterKey,
        master_key_guid: Guid,
        options: &BlobOptions<'_>,
        rng: &mut R,
    ) -> Result<DpapiBlob> {
        let (salt_len, hmac2_len) = match options.suite {
            CipherSuite::TripleDesSha1 => (16, 16),
            CipherSuite::Aes256Sha512 => (32, 32),
        };
        let hash_alg = options.suite.blob_hash_alg();
        let cipher_alg = options.suite.cipher_alg();
        let mut description = utf16le(options.description);
        description.extend_from_slice(&[0, 0]);
        let mut blob = DpapiBlob {
            version: 1,
            provider: PROVIDER_GUID,
            master_key_version: 1,
            master_key_guid,
            flags: options.flags,
            description,
            cipher_alg,
            cipher_bits: 0,
            salt: rng::vec(rng, salt_len)?,
            hmac_key: Vec::new(),
            hash_alg,
            hash_bits: 0,
            hmac2_key: rng::vec(rng, hmac2_len)?,
            data: Vec::new(),
            signature: Vec::new(),
        };
        let (hash, cipher) = blob.algorithms()?;
        blob.cipher_bits = len32(cipher.key_len() * 8)?;
        blob.hash_bits = len32(hash.len() * 8)?;
        let k = Self::key_hash(master_key);
        let entropy = options.entropy.unwrap_or(&[]);
        let session = Self::session_key(hash, &k, &blob.salt, entropy)?;
        let key = derive_key_raw(hash, &session, cipher.key_len());
        let iv = vec![0u8; cipher.block_len()];
        blob.data = cipher.encrypt_padded(&key, &iv, plain)?;
        let signed = blob.signed_part()?;
        blob.signature = Self::signature_of(hash, &k, &blob.hmac2_key, entropy, &signed)?;
        Ok(blob)
    }
}

/// A Credential Manager file (`AppData\{Local,Roaming}\Microsoft\Credentials\<name>`):
/// version (1), the blob's length, a reserved u32, the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFile {
    pub version: u32,
    pub reserved: u32,
    pub blob: DpapiBlob,
    /// Bytes after the blob (Windows writes none).
    pub extra: Vec<u8>,
}

impl CredentialFile {
    pub fn new(blob: DpapiBlob) -> CredentialFile {
        CredentialFile {
            version: 1,
            reserved: 0,
            blob,
            extra: Vec::new(),
        }
    }

    pub fn parse(data: &[u8]) -> Result<CredentialFile> {
        let what = "credential file";
        let mut r = Reader::new(data, what);
        let version = r.u32("version")?;
        let size = r.u32("blob length")?;
        let reserved = r.u32("reserved")?;
        let blob_bytes = r.bytes_u64(u64::from(size), "blob")?;
        let blob = DpapiBlob::parse(blob_bytes).map_err(|e| e.within(12, what))?;
        Ok(CredentialFile {
            version,
            reserved,
            blob,
            extra: r.rest().to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let blob = self.blob.to_bytes()?;
        let mut out = Vec::new();
        out.put_u32(self.version);
        out.put_u32(len32(blob.len())?);
        out.put_u32(self.reserved);
        out.extend(blob);
        out.extend_from_slice(&self.extra);
        Ok(out)
    }
}

/// The decrypted content of a Credential Manager file (`CREDENTIAL` as stored): a fixed
/// header, six length-prefixed fields, the attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialBlob {
    pub flags: u32,
    pub unknown0: u32,
    /// `CRED_TYPE_*` (1 generic, 2 domain password…).
    pub kind: u32,
    pub cred_flags: u32,
    /// FILETIME.
    pub last_written: u64,
    pub unknown2: u32,
    /// `CRED_PERSIST_*` (2 local machine, 3 enterprise).
    pub persist: u32,
    pub unknown3: u64,
    /// UTF-16LE fields as stored (with their NUL where Windows writes one).
    pub target: Vec<u8>,
    pub unknown_data: Vec<u8>,
    pub comment: Vec<u8>,
    pub target_alias: Vec<u8>,
    pub username: Vec<u8>,
    /// The secret (a password: UTF-16LE without NUL).
    pub secret: Vec<u8>,
    /// Attributes and anything after the secret, kept as bytes.
    pub rest: Vec<u8>,
    pub attribute_count: u32,
}

/// UTF-16LE with a NUL, as the credential fields store names.
pub fn utf16z(text: &str) -> Vec<u8> {
    let mut out = utf16le(text);
    out.extend_from_slice(&[0, 0]);
    out
}

/// Text of a UTF-16LE field, up to its NUL.
pub fn utf16_text(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

impl CredentialBlob {
    /// A generic credential (target, user, password), persisted for the local machine.
    pub fn generic(target: &str, username: &str, password: &str, last_written: u64) -> Self {
        CredentialBlob {
            flags: 0x30,
            unknown0: 0x2004,
            kind: 1,
            cred_flags: 0,
            last_written,
            unknown2: 0,
            persist: 2,
            unknown3: 0,
            target: utf16z(target),
            unknown_data: Vec::new(),
            comment: Vec::new(),
            target_alias: Vec::new(),
            username: utf16z(username),
            secret: utf16le(password),
            rest: Vec::new(),
            attribute_count: 0,
        }
    }

    pub fn parse(data: &[u8]) -> Result<CredentialBlob> {
        let mut r = Reader::new(data, "credential");
        let flags = r.u32("flags")?;
        let _size = r.u32("size")?;
        let unknown0 = r.u32("unknown0")?;
        let kind = r.u32("type")?;
        let cred_flags = r.u32("credential flags")?;
        let last_written = r.u64("last written")?;
        let unknown2 = r.u32("unknown2")?;
        let persist = r.u32("persist")?;
        let attribute_count = r.u32("attribute count")?;
        let unknown3 = r.u64("unknown3")?;
        Ok(CredentialBlob {
            flags,
            unknown0,
            kind,
            cred_flags,
            last_written,
            unknown2,
            persist,
            unknown3,
            attribute_count,
            target: r.counted("target")?.to_vec(),
            unknown_data: r.counted("unknown data")?.to_vec(),
            comment: r.counted("comment")?.to_vec(),
            target_alias: r.counted("target alias")?.to_vec(),
            username: r.counted("user name")?.to_vec(),
            secret: r.counted("secret")?.to_vec(),
            rest: r.rest().to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        for field in [
            &self.target,
            &self.unknown_data,
            &self.comment,
            &self.target_alias,
            &self.username,
            &self.secret,
        ] {
            body.put_counted(field)?;
        }
        body.extend_from_slice(&self.rest);
        let mut out = Vec::new();
        out.put_u32(self.flags);
        out.put_u32(len32(48 + body.len())?);
        out.put_u32(self.unknown0);
        out.put_u32(self.kind);
        out.put_u32(self.cred_flags);
        out.put_u64(self.last_written);
        out.put_u32(self.unknown2);
        out.put_u32(self.persist);
        out.put_u32(self.attribute_count);
        out.put_u64(self.unknown3);
        out.extend(body);
        Ok(out)
    }
}
