//! From a password (or its hash) and a SID to the key that protects master keys.
//!
//! * Local accounts: the password hash is SHA-1 of the UTF-16LE password (Windows calls
//!   it the "DPAPI OWF"); master key files say so with policy bit
//!   [`POLICY_DPAPI_OWF`](crate::masterkey::POLICY_DPAPI_OWF).
//! * Domain accounts: the NT hash (MD4 of the UTF-16LE password).
//! * Domain accounts on newer Windows (members of Protected Users, and Windows 10+
//!   domain keys in general as impacket tries them): the NT hash run through
//!   PBKDF2-HMAC-SHA256 with the SID (UTF-16LE, no terminator) as salt, 10000 rounds,
//!   then once more with 1 round, the first 16 bytes kept.
//!
//! The *pre-key* is then HMAC-SHA1(password hash, SID as UTF-16LE with its terminating
//! NUL). It is what [`MasterKeyBlock`](crate::MasterKeyBlock) decryption takes.

use md4::Md4;
use ntsec::Sid;
use sha1::{Digest, Sha1};

use crate::alg::HashAlg;
use crate::error::Result;

/// How a password becomes the hash the pre-key is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derivation {
    /// SHA-1 of the UTF-16LE password: local accounts.
    LocalSha1,
    /// The NT hash (MD4 of the UTF-16LE password): domain accounts.
    DomainNt,
    /// The NT hash through PBKDF2-HMAC-SHA256 (SID salt, 10000 rounds, then 1 round,
    /// 16 bytes): domain accounts on newer Windows ("protected users").
    DomainNtPbkdf2,
}

impl Derivation {
    /// All three, in the order a caller that does not know the account type should try
    /// them (impacket's order for a password: PBKDF2, NT, SHA-1).
    pub const ALL: [Derivation; 3] = [
        Derivation::DomainNtPbkdf2,
        Derivation::DomainNt,
        Derivation::LocalSha1,
    ];
}

/// UTF-16LE without a terminator.
pub(crate) fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The SID string as UTF-16LE with its terminating NUL, as the pre-key HMAC takes it.
pub(crate) fn sid_with_nul(sid: &Sid) -> Vec<u8> {
    let mut out = utf16le(&sid.to_string());
    out.extend_from_slice(&[0, 0]);
    out
}

/// SHA-1 of the UTF-16LE password (the local-account "DPAPI OWF").
pub fn sha1_password(password: &str) -> [u8; 20] {
    Sha1::digest(utf16le(password)).into()
}

/// The NT hash: MD4 of the UTF-16LE password.
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16le(password)).into()
}

/// The NT hash as newer Windows uses it for domain keys: PBKDF2-HMAC-SHA256(NT hash,
/// SID UTF-16LE, 10000 rounds, 32 bytes), then PBKDF2-HMAC-SHA256(that, SID, 1 round),
/// the first 16 bytes.
pub fn nt_hash_pbkdf2(nt_hash: &[u8; 16], sid: &Sid) -> [u8; 16] {
    let salt = utf16le(&sid.to_string());
    let mut first = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(nt_hash, &salt, 10000, &mut first);
    let mut second = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&first, &salt, 1, &mut second);
    let mut out = [0u8; 16];
    out.copy_from_slice(&second[..16]);
    out
}

/// The password hash a derivation starts from.
pub fn password_hash(password: &str, sid: &Sid, derivation: Derivation) -> Vec<u8> {
    match derivation {
        Derivation::LocalSha1 => sha1_password(password).to_vec(),
        Derivation::DomainNt => nt_hash(password).to_vec(),
        Derivation::DomainNtPbkdf2 => nt_hash_pbkdf2(&nt_hash(password), sid).to_vec(),
    }
}

/// The key a master key block is encrypted with (20 bytes for the user derivations;
/// other lengths for the machine and backup keys). Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PreKey(Vec<u8>);

impl std::fmt::Debug for PreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreKey({} bytes)", self.0.len())
    }
}

impl PreKey {
    /// HMAC-SHA1(password hash, SID UTF-16LE + NUL).
    pub fn from_password_hash(hash: &[u8], sid: &Sid) -> Result<PreKey> {
        Ok(PreKey(HashAlg::Sha1.hmac(hash, &[&sid_with_nul(sid)])?))
    }

    /// The pre-key of a password for a SID, by one derivation.
    pub fn from_password(sid: &Sid, password: &str, derivation: Derivation) -> Result<PreKey> {
        PreKey::from_password_hash(&password_hash(password, sid, derivation), sid)
    }

    /// A key used as is: the `DPAPI_SYSTEM` user or machine key for the system's master
    /// keys, a key computed elsewhere.
    pub fn from_bytes(bytes: &[u8]) -> PreKey {
        PreKey(bytes.to_vec())
    }

    /// The key of a backup ("local encryption key") block: SHA-1 or SHA-512 (as the
    /// block's hash) of the SID UTF-16LE + NUL, followed by the `DPAPI_SYSTEM` secret when
    /// the master key's policy has [`POLICY_LOCAL_BACKUP`](crate::masterkey::POLICY_LOCAL_BACKUP).
    pub(crate) fn for_backup_block(
        hash: HashAlg,
        sid: &Sid,
        dpapi_system: Option<&DpapiSystem>,
    ) -> PreKey {
        let hash = if hash == HashAlg::Sha512 {
            HashAlg::Sha512
        } else {
            HashAlg::Sha1
        };
        let sid = sid_with_nul(sid);
        PreKey(match dpapi_system {
            Some(s) => hash.digest(&[&sid, &s.machine, &s.user]),
            None => hash.digest(&[&sid]),
        })
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Every pre-key a password could stand for, with its derivation, in
    /// [`Derivation::ALL`] order.
    pub fn candidates(sid: &Sid, password: &str) -> Result<Vec<(Derivation, PreKey)>> {
        Derivation::ALL
            .iter()
            .map(|&d| Ok((d, PreKey::from_password(sid, password, d)?)))
            .collect()
    }
}

/// The LSA secret `DPAPI_SYSTEM`: a machine key and a user key of 20 bytes each. The
/// machine's own master keys (`S-1-5-18`) are encrypted with them directly, and local
/// accounts' backup blocks with the SID and both (see
/// [`POLICY_LOCAL_BACKUP`](crate::masterkey::POLICY_LOCAL_BACKUP)).
#[derive(Clone, PartialEq, Eq)]
pub struct DpapiSystem {
    pub machine: [u8; 20],
    pub user: [u8; 20],
}

impl std::fmt::Debug for DpapiSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpapiSystem(..)")
    }
}

impl DpapiSystem {
    /// From the secret's value: a version (u32, 1) then the machine and the user key.
    pub fn parse(secret: &[u8]) -> Result<DpapiSystem> {
        let mut r = crate::reader::Reader::new(secret, "DPAPI_SYSTEM secret");
        let version = r.u32("version")?;
        if version != 1 {
            return Err(crate::Error::corrupt(
                "DPAPI_SYSTEM secret",
                0,
                format!("version {version}, expected 1"),
            ));
        }
        Ok(DpapiSystem {
            machine: r.array("machine key")?,
            user: r.array("user key")?,
        })
    }

    /// The secret's value (version 1, machine key, user key).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = 1u32.to_le_bytes().to_vec();
        out.extend_from_slice(&self.machine);
        out.extend_from_slice(&self.user);
        out
    }
}
