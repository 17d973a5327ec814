//! `AppData\Roaming\Microsoft\Protect\CREDHIST`: the chain of the user's previous
//! password hashes, each encrypted with a key from the password that followed it.
//!
//! ```text
//! [link 0][link 1]…[link n-1][current header]
//! header (24 bytes): version (1), GUID, length of the link before it (0: none)
//! link:  header, then type, hash ALG_ID, rounds, SID length, cipher ALG_ID,
//!        SHA-1 length, NT hash length, salt (16), SID, encrypted hashes
//! ```
//!
//! Each link's GUID is the one the master keys made under that password reference; the
//! current header's GUID is the one master keys made under the current password
//! reference. A fresh account has a CREDHIST of the current header alone (24 bytes).
//! The links are read from the end, following the lengths, as Windows and mimikatz do.

use std::path::Path;

use ntsec::{Guid, Sid};

use crate::alg::{AlgId, CipherAlg, CipherSuite, HashAlg, dpapi_pbkdf2};
use crate::derive::PreKey;
use crate::error::{Error, Result};
use crate::reader::{Put, Reader, len32};
use crate::rng;
use rand_core::TryCryptoRng;

/// The version of CREDHIST headers.
pub const CREDHIST_VERSION: u32 = 1;
/// Size of a header.
pub const HEADER_LEN: usize = 24;
/// The fixed part of a link after its header.
const BODY_FIXED: usize = 7 * 4 + 16;

/// A CREDHIST header: the current one, or the one opening a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredHistHeader {
    pub version: u32,
    pub guid: Guid,
    /// The length of the link before this header (0 when there is none).
    pub previous_len: u32,
}

impl CredHistHeader {
    fn parse(r: &mut Reader<'_>) -> Result<CredHistHeader> {
        Ok(CredHistHeader {
            version: r.u32("version")?,
            guid: r.guid("GUID")?,
            previous_len: r.u32("previous link length")?,
        })
    }

    fn put(&self, out: &mut Vec<u8>) {
        out.put_u32(self.version);
        out.extend_from_slice(&self.guid.0);
        out.put_u32(self.previous_len);
    }
}

/// One link: a previous password's SHA-1 and NT hashes, encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredHistEntry {
    pub header: CredHistHeader,
    pub kind: u32,
    pub hash_alg: AlgId,
    pub rounds: u32,
    pub cipher_alg: AlgId,
    pub sha1_len: u32,
    pub nt_len: u32,
    pub salt: [u8; 16],
    /// The owner's SID, binary.
    pub sid: Vec<u8>,
    /// The encrypted hashes (and whatever follows them in the link).
    pub data: Vec<u8>,
}

/// The hashes a link holds.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashes {
    pub sha1: Vec<u8>,
    pub nt: [u8; 16],
}

impl std::fmt::Debug for PasswordHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashes(..)")
    }
}

impl CredHistEntry {
    fn parse(data: &[u8]) -> Result<CredHistEntry> {
        let mut r = Reader::new(data, "CREDHIST link");
        let header = CredHistHeader::parse(&mut r)?;
        let kind = r.u32("type")?;
        let hash_alg = AlgId(r.u32("hash algorithm")?);
        let rounds = r.u32("rounds")?;
        let sid_len = r.u32("SID length")?;
        let cipher_alg = AlgId(r.u32("cipher algorithm")?);
        let sha1_len = r.u32("SHA-1 length")?;
        let nt_len = r.u32("NT hash length")?;
        let salt = r.array("salt")?;
        let sid = r.bytes_u64(u64::from(sid_len), "SID")?.to_vec();
        Ok(CredHistEntry {
            header,
            kind,
            hash_alg,
            rounds,
            cipher_alg,
            sha1_len,
            nt_len,
            salt,
            sid,
            data: r.rest().to_vec(),
        })
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out =
            Vec::with_capacity(HEADER_LEN + BODY_FIXED + self.sid.len() + self.data.len());
        self.header.put(&mut out);
        out.put_u32(self.kind);
        out.put_u32(self.hash_alg.0);
        out.put_u32(self.rounds);
        out.put_u32(len32(self.sid.len())?);
        out.put_u32(self.cipher_alg.0);
        out.put_u32(self.sha1_len);
        out.put_u32(self.nt_len);
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.sid);
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// The owner's SID.
    pub fn owner(&self) -> Result<Sid> {
        Sid::from_bytes(&self.sid)
            .map(|(sid, _)| sid)
            .map_err(|e| Error::corrupt("CREDHIST link", 68, format!("SID: {e}")))
    }

    /// Decrypts the hashes with the pre-key of the password that followed this one
    /// (`HMAC-SHA1(SHA-1(next password), SID + NUL)`). A wrong key gives
    /// [`Error::WrongKey`] (the bytes after the NT hash must be zero).
    pub fn decrypt(&self, prekey: &PreKey) -> Result<PasswordHashes> {
        let hash = HashAlg::require(self.hash_alg, "CREDHIST link", 28)?;
        let cipher = CipherAlg::require(self.cipher_alg, "CREDHIST link", 40)?;
        if self.rounds > crate::masterkey::MAX_ROUNDS {
            return Err(Error::corrupt(
                "CREDHIST link",
                32,
                format!("{} rounds exceed the limit", self.rounds),
            ));
        }
        let usable = self.data.len() - self.data.len() % cipher.block_len();
        let derived = dpapi_pbkdf2(
            hash,
            prekey.as_bytes(),
            &self.salt,
            self.rounds,
            cipher.key_len() + cipher.block_len(),
        )?;
        let (k, iv) = derived.split_at(cipher.key_len());
        let plain = cipher.decrypt_raw(k, iv, &self.data[..usable])?;
        let sha1_len = self.sha1_len as usize;
        let nt_len = self.nt_len as usize;
        if nt_len < 16 || sha1_len.saturating_add(nt_len) > plain.len() {
            return Err(Error::corrupt(
                "CREDHIST link",
                48,
                format!(
                    "hash lengths {sha1_len} + {nt_len} do not fit {} bytes of data",
                    plain.len()
                ),
            ));
        }
        let tail = &plain[sha1_len + 16..sha1_len + nt_len];
        if tail.iter().any(|&b| b != 0) {
            return Err(Error::wrong_key(
                "CREDHIST link",
                "the key does not decrypt it (the padding after the NT hash is not zero)",
            ));
        }
        let mut nt = [0u8; 16];
        nt.copy_from_slice(&plain[sha1_len..sha1_len + 16]);
        Ok(PasswordHashes {
            sha1: plain[..sha1_len].to_vec(),
            nt,
        })
    }
}

/// A CREDHIST file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredHistFile {
    /// The links, oldest first (file order).
    pub entries: Vec<CredHistEntry>,
    pub current: CredHistHeader,
}

impl CredHistFile {
    /// The CREDHIST of an account whose password never changed: the current header
    /// alone, naming `guid` (the GUID its master keys reference).
    pub fn new_empty(guid: Guid) -> CredHistFile {
        CredHistFile {
            entries: Vec::new(),
            current: CredHistHeader {
                version: CREDHIST_VERSION,
                guid,
                previous_len: 0,
            },
        }
    }

    pub fn parse(data: &[u8]) -> Result<CredHistFile> {
        let what = "CREDHIST file";
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated {
                what: what.into(),
                field: "current header".into(),
                offset: 0,
                needed: HEADER_LEN as u64,
                available: data.len() as u64,
            });
        }
        let mut end = data.len() - HEADER_LEN;
        let current = CredHistHeader::parse(&mut Reader::new(&data[end..], what))
            .map_err(|e| e.within(end as u64, what))?;
        let mut entries = Vec::new();
        let mut len = current.previous_len as usize;
        let mut length_field = end + 20;
        while len != 0 {
            if len > end || len < HEADER_LEN + BODY_FIXED {
                return Err(Error::corrupt(
                    what,
                    length_field as u64,
                    format!(
                        "a link length of {len} bytes (between {} and the {end} bytes before it)",
                        HEADER_LEN + BODY_FIXED
                    ),
                ));
            }
            let start = end - len;
            let entry = CredHistEntry::parse(&data[start..end])
                .map_err(|e| e.within(start as u64, what))?;
            len = entry.header.previous_len as usize;
            length_field = start + 20;
            entries.push(entry);
            end = start;
        }
        if end != 0 {
            return Err(Error::corrupt(
                what,
                0,
                format!("{end} bytes before the first link belong to no link"),
            ));
        }
        entries.reverse();
        Ok(CredHistFile { entries, current })
    }

    pub fn read(path: &Path) -> Result<CredHistFile> {
        let data = crate::error::read_file(path)?;
        CredHistFile::parse(&data).map_err(|e| e.in_file(path))
    }

    /// Records a password change: the current header becomes a link holding the old
    /// password's hashes, encrypted with the new password's pre-key
    /// (`HMAC-SHA1(SHA-1(new password), SID + NUL)`), and a new current header naming
    /// `new_guid` follows. (For tests and samples; the link's type field is written as
    /// 1, a value not checked against Windows.)
    #[allow(clippy::too_many_arguments)]
    pub fn push_password_change<R: TryCryptoRng + ?Sized>(
        &mut self,
        old_sha1: &[u8; 20],
        old_nt: &[u8; 16],
        sid: &Sid,
        new_prekey: &PreKey,
        suite: CipherSuite,
        rounds: u32,
        new_guid: Guid,
        rng: &mut R,
    ) -> Result<()> {
        let hash_alg = suite.blob_hash_alg();
        let cipher_alg = suite.cipher_alg();
        let hash = HashAlg::require(hash_alg, "CREDHIST link", 28)?;
        let cipher = CipherAlg::require(cipher_alg, "CREDHIST link", 40)?;
        let block = cipher.block_len();
        // The NT hash field is padded so that both hashes fill whole blocks.
        let nt_len = (20 + 16usize).div_ceil(block) * block - 20;
        let mut plain = old_sha1.to_vec();
        plain.extend_from_slice(old_nt);
        plain.resize(20 + nt_len, 0);
        let salt: [u8; 16] = rng::array(rng)?;
        let derived = dpapi_pbkdf2(
            hash,
            new_prekey.as_bytes(),
            &salt,
            rounds,
            cipher.key_len() + cipher.block_len(),
        )?;
        let (k, iv) = derived.split_at(cipher.key_len());
        let data = cipher.encrypt_raw(k, iv, &plain)?;
        let entry = CredHistEntry {
            header: self.current,
            kind: 1,
            hash_alg,
            rounds,
            cipher_alg,
            sha1_len: 20,
            nt_len: len32(nt_len)?,
            salt,
            sid: sid.to_bytes(),
            data,
        };
        let link_len = len32(entry.to_bytes()?.len())?;
        self.entries.push(entry);
        self.current = CredHistHeader {
            version: CREDHIST_VERSION,
            guid: new_guid,
            previous_len: link_len,
        };
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for e in &self.entries {
            out.extend(e.to_bytes()?);
        }
        self.current.put(&mut out);
        Ok(out)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()?).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
