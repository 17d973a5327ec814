//! The SAM's key hierarchy (formats.md §4.6): the boot key from SYSTEM, the hashed boot
//! key ("SAM key") in `Domains\Account\F`, and the per-user NT/LM hash entries in `V`.
//!
//! Two schemes exist. Revision 1 (up to Windows 10 1511) wraps the SAM key with RC4 keyed
//! by MD5 and hash entries with RC4; revision 2 (Windows 10 1607 and later) uses
//! AES-128-CBC with a random salt as IV and PKCS#7 padding. Under both, the hash itself is
//! first DES-obfuscated with two keys derived from the user's RID (MS-SAMR 2.2.11.1).

use aes::Aes128;
use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{
    BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit,
};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};
use sha2::Sha256;

/// The constant strings of the revision-1 key derivation.
const QWERTY: &[u8] = b"!@#$%^&*()qwertyUIOPAzxcvbnmQQQQQQQQQQQQ)(*@&%\0";
const DIGITS: &[u8] = b"0123456789012345678901234567890123456789\0";
/// `bootkey[i] = raw[PERMUTATION[i]]`, where raw is the hex of the four Lsa class names.
const PERMUTATION: [usize; 16] = [8, 5, 4, 2, 11, 9, 13, 3, 0, 6, 1, 12, 14, 10, 15, 7];

/// Constants that separate the RC4 keys of the different hash entries.
const NT_PASSWORD: &[u8] = b"NTPASSWORD\0";
const LM_PASSWORD: &[u8] = b"LMPASSWORD\0";

/// Length of a revision-1 `SAM_KEY_DATA` (header, salt, key, checksum, reserved).
pub const RC4_KEY0_LEN: usize = 64;
/// Length of a revision-2 `SAM_KEY_DATA_AES` as Windows 10 writes it.
pub const AES_KEY0_LEN: usize = 112;
/// Length of an empty (no password) hash entry: revision 1, revision 2.
pub const EMPTY_ENTRY_RC4: usize = 4;
pub const EMPTY_ENTRY_AES: usize = 24;

/// How the SAM protects its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScheme {
    /// Revision 1: RC4 and MD5 (Windows NT 4 up to Windows 10 1511).
    Rc4,
    /// Revision 2: AES-128-CBC (Windows 10 1607 and later).
    Aes,
}

impl KeyScheme {
    /// The revision number stored in `Key0` and in each hash entry.
    pub fn revision(self) -> u16 {
        match self {
            KeyScheme::Rc4 => 1,
            KeyScheme::Aes => 2,
        }
    }
}

/// Which password hash an entry holds; the RC4 scheme keys them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    Nt,
    Lm,
}

impl HashKind {
    fn constant(self) -> &'static [u8] {
        match self {
            HashKind::Nt => NT_PASSWORD,
            HashKind::Lm => LM_PASSWORD,
        }
    }
}

/// Why a key or hash entry did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The structure is malformed (a length or revision is wrong).
    Malformed(String),
    /// The structure is fine but the key is not the right one.
    WrongKey(String),
}

/// The boot key ("syskey") from the class names of `Control\Lsa\{JD,Skew1,GBG,Data}`.
pub fn boot_key_from_class_names(parts: [&str; 4]) -> Result<[u8; 16], CryptoError> {
    let mut raw = [0u8; 16];
    for (i, part) in parts.iter().enumerate() {
        let bytes = decode_hex(part.get(..8).unwrap_or(part)).filter(|b| b.len() == 4);
        let Some(bytes) = bytes else {
            return Err(CryptoError::Malformed(format!(
                "class name {part:?} is not 8 hexadecimal digits"
            )));
        };
        raw[i * 4..i * 4 + 4].copy_from_slice(&bytes);
    }
    Ok(PERMUTATION.map(|p| raw[p]))
}

/// The four class names that encode `boot_key` (the inverse of
/// [`boot_key_from_class_names`]), lower-case hex as Windows writes them.
pub fn class_names_for_boot_key(boot_key: &[u8; 16]) -> [String; 4] {
    let mut raw = [0u8; 16];
    for (i, &p) in PERMUTATION.iter().enumerate() {
        raw[p] = boot_key[i];
    }
    [0, 1, 2, 3].map(|i| {
        raw[i * 4..i * 4 + 4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn rc4(key: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Rc4::<rc4::consts::U16>::new(&GenericArray::from(*key));
    cipher.apply_keystream(data);
}

fn aes_encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

/// CBC decryption without unpadding; the caller checks the padding it expects.
fn aes_decrypt_raw(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<NoPadding>(data)
        .map_err(|_| {
            CryptoError::Malformed(format!(
                "{} bytes is not a whole number of AES blocks",
                data.len()
            ))
        })
}

/// True when `plain` ends in valid PKCS#7 padding of `pad` bytes.
fn has_padding(plain: &[u8], pad: u8) -> bool {
    plain.len() >= usize::from(pad)
        && plain[plain.len() - usize::from(pad)..]
            .iter()
            .all(|&b| b == pad)
}

/// The SAM key (hashed boot key) unwrapped from `Key0`.
#[derive(Clone, PartialEq, Eq)]
pub struct SamKey {
    pub scheme: KeyScheme,
    pub key: [u8; 16],
    /// Whether `Key0` itself proved the boot key right (revision 1: its MD5 checksum;
    /// revision 2: the padding of the decrypted key). When false the caller must prove
    /// it another way (a user's hash entry decrypting to valid padding).
    pub verified: bool,
}

impl std::fmt::Debug for SamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamKey")
            .field("scheme", &self.scheme)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// Unwraps the SAM key (hashed boot key) from the `Key0` part of `Domains\Account\F`.
pub fn decrypt_sam_key(key0: &[u8], boot_key: &[u8; 16]) -> Result<SamKey, CryptoError> {
    let revision = key0.first().copied().unwrap_or(0);
    match revision {
        1 => {
            let body = key0.get(8..56).ok_or_else(|| {
                CryptoError::Malformed(format!("revision-1 key of {} bytes", key0.len()))
            })?;
            let (salt, wrapped) = body.split_at(16);
            let rc4_key = md5(&[salt, QWERTY, boot_key, DIGITS]);
            let mut plain = wrapped.to_vec();
            rc4(&rc4_key, &mut plain);
            let (key, checksum) = plain.split_at(16);
            if md5(&[key, DIGITS, key, QWERTY]) != checksum {
                return Err(CryptoError::WrongKey(
                    "the revision-1 key checksum does not match".into(),
                ));
            }
            Ok(SamKey {
                scheme: KeyScheme::Rc4,
                key: to16(key),
                verified: true,
            })
        }
        2 => {
            let u32_at = |at: usize| {
                key0.get(at..at + 4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            let data_len = u32_at(12).unwrap_or(0) as usize;
            let (Some(salt), Some(data)) = (key0.get(16..32), key0.get(32..32 + data_len)) else {
                return Err(CryptoError::Malformed(format!(
                    "revision-2 key of {} bytes with data length {data_len}",
                    key0.len()
                )));
            };
            if data_len < 16 {
                return Err(CryptoError::Malformed(format!(
                    "revision-2 key data of {data_len} bytes"
                )));
            }
            let plain = aes_decrypt_raw(boot_key, &to16(salt), data)?;
            // A 16-byte key padded to 32 bytes: the padding tells a wrong boot key.
            let verified = data_len == 32 && has_padding(&plain, 16);
            Ok(SamKey {
                scheme: KeyScheme::Aes,
                key: to16(&plain[..16]),
                verified,
            })
        }
        other => Err(CryptoError::Malformed(format!(
            "unknown key revision {other}"
        ))),
    }
}

/// Wraps a SAM key for `Key0`. The revision-2 checksum (SHA-256 of the key, encrypted
/// like the key) is our best reading of the format: no reader checks it, and Windows'
/// own formula is unverified.
pub fn encrypt_sam_key(
    scheme: KeyScheme,
    sam_key: &[u8; 16],
    boot_key: &[u8; 16],
    salt: &[u8; 16],
) -> Vec<u8> {
    match scheme {
        KeyScheme::Rc4 => {
            let rc4_key = md5(&[salt, QWERTY, boot_key, DIGITS]);
            let checksum = md5(&[sam_key, DIGITS, sam_key, QWERTY]);
            let mut wrapped = [sam_key.as_slice(), checksum.as_slice()].concat();
            rc4(&rc4_key, &mut wrapped);
            let mut out = Vec::with_capacity(RC4_KEY0_LEN);
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&56u32.to_le_bytes());
            out.extend_from_slice(salt);
            out.extend_from_slice(&wrapped);
            out.extend_from_slice(&[0u8; 8]);
            out
        }
        KeyScheme::Aes => {
            let data = aes_encrypt(boot_key, salt, sam_key);
            let digest: [u8; 32] = Sha256::digest(sam_key).into();
            let check = aes_encrypt(boot_key, salt, &digest);
            let mut out = Vec::with_capacity(AES_KEY0_LEN);
            out.extend_from_slice(&2u32.to_le_bytes());
            out.extend_from_slice(&(AES_KEY0_LEN as u32).to_le_bytes());
            out.extend_from_slice(&(check.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(salt);
            out.extend_from_slice(&data);
            out.extend_from_slice(&check);
            out
        }
    }
}

fn to16(b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let n = b.len().min(16);
    out[..n].copy_from_slice(&b[..n]);
    out
}

/// The NT hash of a password: MD4 over its UTF-16LE form.
pub fn nt_hash(password: &str) -> [u8; 16] {
    let units: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Md4::digest(&units).into()
}

/// The two DES keys derived from a RID (impacket `deriveKey` + `transformKey`).
fn rid_des_keys(rid: u32) -> [des::Des; 2] {
    let k = rid.to_le_bytes();
    let halves = [
        [k[0], k[1], k[2], k[3], k[0], k[1], k[2]],
        [k[3], k[0], k[1], k[2], k[3], k[0], k[1]],
    ];
    halves.map(|seven| des::Des::new(&GenericArray::from(expand_des_key(&seven))))
}

/// Spreads 56 key bits over 8 bytes, leaving the parity bit (bit 0) clear.
fn expand_des_key(k: &[u8; 7]) -> [u8; 8] {
    let out = [
        k[0] >> 1,
        ((k[0] & 0x01) << 6) | (k[1] >> 2),
        ((k[1] & 0x03) << 5) | (k[2] >> 3),
        ((k[2] & 0x07) << 4) | (k[3] >> 4),
        ((k[3] & 0x0F) << 3) | (k[4] >> 5),
        ((k[4] & 0x1F) << 2) | (k[5] >> 6),
        ((k[5] & 0x3F) << 1) | (k[6] >> 7),
        k[6] & 0x7F,
    ];
    out.map(|b| b << 1)
}

fn des_layer(rid: u32, hash: &[u8; 16], encrypt: bool) -> [u8; 16] {
    let keys = rid_des_keys(rid);
    let mut out = [0u8; 16];
    for (i, key) in keys.iter().enumerate() {
        let mut block = GenericArray::clone_from_slice(&hash[i * 8..i * 8 + 8]);
        if encrypt {
            key.encrypt_block(&mut block);
        } else {
            key.decrypt_block(&mut block);
        }
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

/// Builds a hash entry for `V`: `hash` (an NT or LM hash) of user `rid`, or an empty
/// entry for `None`. `pek_id` is copied from the SAM's existing entries; `salt` must be
/// fresh for every AES entry (Windows keeps a salt even in empty ones).
pub fn encrypt_hash_entry(
    scheme: KeyScheme,
    sam_key: &[u8; 16],
    rid: u32,
    kind: HashKind,
    hash: Option<&[u8; 16]>,
    pek_id: u16,
    salt: &[u8; 16],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&pek_id.to_le_bytes());
    out.extend_from_slice(&scheme.revision().to_le_bytes());
    match scheme {
        KeyScheme::Rc4 => {
            if let Some(h) = hash {
                let mut obf = des_layer(rid, h, true);
                let key = md5(&[sam_key, &rid.to_le_bytes(), kind.constant()]);
                rc4(&key, &mut obf);
                out.extend_from_slice(&obf);
            }
        }
        KeyScheme::Aes => {
            let data = hash.map(|h| aes_encrypt(sam_key, salt, &des_layer(rid, h, true)));
            let offset: u32 = if data.is_some() { 16 } else { 0 };
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(salt);
            out.extend_from_slice(data.as_deref().unwrap_or_default());
        }
    }
    out
}

/// Decrypts a hash entry from `V`; `Ok(None)` for an empty entry (no password set).
pub fn decrypt_hash_entry(
    sam_key: &[u8; 16],
    rid: u32,
    kind: HashKind,
    entry: &[u8],
) -> Result<Option<[u8; 16]>, CryptoError> {
    if entry.len() < 4 {
        return Ok(None);
    }
    match entry[2] {
        1 => {
            let Some(wrapped) = entry.get(4..20) else {
                return Ok(None);
            };
            let mut obf = to16(wrapped);
            let key = md5(&[sam_key, &rid.to_le_bytes(), kind.constant()]);
            rc4(&key, &mut obf);
            Ok(Some(des_layer(rid, &obf, false)))
        }
        2 => {
            let Some(data) = entry.get(24..).filter(|d| !d.is_empty()) else {
                return Ok(None);
            };
            let salt = to16(&entry[8..24]);
            let plain = aes_decrypt_raw(sam_key, &salt, data)?;
            if plain.len() != 32 || !has_padding(&plain, 16) {
                return Err(CryptoError::WrongKey(
                    "an AES hash entry does not decrypt to a padded hash".into(),
                ));
            }
            Ok(Some(des_layer(rid, &to16(&plain), false)))
        }
        other => Err(CryptoError::Malformed(format!(
            "hash entry revision {other}"
        ))),
    }
}

/// Lower-case hex, for reports and tests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_hashes_match_known_values() {
        // Values from the turbinia fixture's test (passwords `google` and `12345`).
        assert_eq!(hex(&nt_hash("google")), "29f98734e7aa3df2454621ff3928d121");
        assert_eq!(hex(&nt_hash("12345")), "7a21990fcd3d759941e45c490f143d5f");
        assert_eq!(hex(&nt_hash("")), "31d6cfe0d16ae931b73c59d7e0c089c0");
    }

    #[test]
    fn boot_key_class_names_round_trip() {
        let names = ["9e3626b3", "2383eba6", "7f9b24ee", "27b1cc92"];
        let key = boot_key_from_class_names(names).unwrap();
        assert_eq!(class_names_for_boot_key(&key), names.map(String::from));
        assert!(boot_key_from_class_names(["zz", "0", "1", "2"]).is_err());
    }

    #[test]
    fn sam_keys_round_trip_and_refuse_other_boot_keys() {
        let (boot, other, key, salt) = ([7u8; 16], [8u8; 16], [0x42u8; 16], [9u8; 16]);
        for scheme in [KeyScheme::Rc4, KeyScheme::Aes] {
            let key0 = encrypt_sam_key(scheme, &key, &boot, &salt);
            assert_eq!(
                decrypt_sam_key(&key0, &boot).unwrap(),
                SamKey {
                    scheme,
                    key,
                    verified: true
                }
            );
            match decrypt_sam_key(&key0, &other) {
                Err(CryptoError::WrongKey(_)) => assert_eq!(scheme, KeyScheme::Rc4),
                Ok(found) => assert!(scheme == KeyScheme::Aes && !found.verified),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn hash_entries_round_trip() {
        let key = [3u8; 16];
        let h = nt_hash("Secret!");
        for scheme in [KeyScheme::Rc4, KeyScheme::Aes] {
            let entry = encrypt_hash_entry(scheme, &key, 1001, HashKind::Nt, Some(&h), 2, &[5; 16]);
            assert_eq!(entry.len(), if scheme == KeyScheme::Rc4 { 20 } else { 56 });
            assert_eq!(
                decrypt_hash_entry(&key, 1001, HashKind::Nt, &entry).unwrap(),
                Some(h)
            );
            let empty = encrypt_hash_entry(scheme, &key, 1001, HashKind::Lm, None, 2, &[5; 16]);
            assert_eq!(
                empty.len(),
                if scheme == KeyScheme::Rc4 {
                    EMPTY_ENTRY_RC4
                } else {
                    EMPTY_ENTRY_AES
                }
            );
            assert_eq!(
                decrypt_hash_entry(&key, 1001, HashKind::Lm, &empty).unwrap(),
                None
            );
        }
    }
}
