//! Algorithm identifiers (CryptoAPI `ALG_ID`) and the primitives DPAPI builds on: the
//! hashes and their HMAC, DPAPI's own variant of PBKDF2, `CryptDeriveKey`'s key
//! extension, and CBC encryption without padding (the master key formats carry their
//! own).

use std::fmt;

use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{Error, Result};

/// A CryptoAPI algorithm identifier as stored in the formats.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlgId(pub u32);

impl AlgId {
    /// `CALG_3DES`: triple DES (EDE, three keys), CBC.
    pub const CALG_3DES: AlgId = AlgId(0x6603);
    /// `CALG_AES_128`.
    pub const CALG_AES_128: AlgId = AlgId(0x660e);
    /// `CALG_AES_192`.
    pub const CALG_AES_192: AlgId = AlgId(0x660f);
    /// `CALG_AES_256`.
    pub const CALG_AES_256: AlgId = AlgId(0x6610);
    /// `CALG_SHA1`.
    pub const CALG_SHA1: AlgId = AlgId(0x8004);
    /// `CALG_HMAC`; in master keys it stands for HMAC-SHA1.
    pub const CALG_HMAC: AlgId = AlgId(0x8009);
    /// `CALG_SHA_256`.
    pub const CALG_SHA_256: AlgId = AlgId(0x800c);
    /// `CALG_SHA_384`.
    pub const CALG_SHA_384: AlgId = AlgId(0x800d);
    /// `CALG_SHA_512`.
    pub const CALG_SHA_512: AlgId = AlgId(0x800e);
    /// `CALG_RSA_KEYX`: an RSA key-exchange key (the domain backup key's `aiKeyAlg`).
    pub const CALG_RSA_KEYX: AlgId = AlgId(0xa400);
    /// `CALG_RSA_SIGN`.
    pub const CALG_RSA_SIGN: AlgId = AlgId(0x2400);

    /// The CryptoAPI name, for the identifiers this crate knows.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x6603 => "CALG_3DES",
            0x660e => "CALG_AES_128",
            0x660f => "CALG_AES_192",
            0x6610 => "CALG_AES_256",
            0x8004 => "CALG_SHA1",
            0x8009 => "CALG_HMAC",
            0x800c => "CALG_SHA_256",
            0x800d => "CALG_SHA_384",
            0x800e => "CALG_SHA_512",
            0xa400 => "CALG_RSA_KEYX",
            0x2400 => "CALG_RSA_SIGN",
            _ => return None,
        })
    }
}

impl fmt::Debug for AlgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#06x})", self.0),
            None => write!(f, "AlgId({:#06x})", self.0),
        }
    }
}

impl fmt::Display for AlgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

const KNOWN_HASHES: &str = "CALG_SHA1 0x8004, CALG_HMAC 0x8009 (HMAC-SHA1), CALG_SHA_256 0x800c, \
                            CALG_SHA_384 0x800d, CALG_SHA_512 0x800e";
const KNOWN_CIPHERS: &str =
    "CALG_3DES 0x6603, CALG_AES_128 0x660e, CALG_AES_192 0x660f, CALG_AES_256 0x6610";

/// The cipher and hash generation a structure is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// `CALG_3DES` with `CALG_SHA1` (`CALG_HMAC` in master keys): Windows XP to 7.
    TripleDesSha1,
    /// `CALG_AES_256` with `CALG_SHA_512`: Windows 10 and 11.
    Aes256Sha512,
}

impl CipherSuite {
    /// The cipher's `ALG_ID`.
    pub fn cipher_alg(self) -> AlgId {
        match self {
            CipherSuite::TripleDesSha1 => AlgId::CALG_3DES,
            CipherSuite::Aes256Sha512 => AlgId::CALG_AES_256,
        }
    }

    /// The hash's `ALG_ID` as master key files store it (`CALG_HMAC` for the SHA-1
    /// generation, as Windows writes it).
    pub fn master_key_hash_alg(self) -> AlgId {
        match self {
            CipherSuite::TripleDesSha1 => AlgId::CALG_HMAC,
            CipherSuite::Aes256Sha512 => AlgId::CALG_SHA_512,
        }
    }

    /// The hash's `ALG_ID` as DPAPI blobs store it.
    pub fn blob_hash_alg(self) -> AlgId {
        match self {
            CipherSuite::TripleDesSha1 => AlgId::CALG_SHA1,
            CipherSuite::Aes256Sha512 => AlgId::CALG_SHA_512,
        }
    }

    /// The rounds Windows uses for master keys of this generation by default (Windows 7:
    /// 24000 for 3DES; Windows 10: 8000 for AES; Windows calibrates it, other values
    /// occur).
    pub fn default_rounds(self) -> u32 {
        match self {
            CipherSuite::TripleDesSha1 => 24000,
            CipherSuite::Aes256Sha512 => 8000,
        }
    }

    /// The suite of a (cipher, hash) pair, when it is one of the two Windows uses.
    pub fn from_algs(cipher: AlgId, hash: AlgId) -> Option<CipherSuite> {
        match (cipher, hash) {
            (AlgId::CALG_3DES, AlgId::CALG_SHA1 | AlgId::CALG_HMAC) => {
                Some(CipherSuite::TripleDesSha1)
            }
            (AlgId::CALG_AES_256, AlgId::CALG_SHA_512) => Some(CipherSuite::Aes256Sha512),
            _ => None,
        }
    }
}

/// A hash function DPAPI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The hash behind an `ALG_ID`; `CALG_HMAC` means HMAC-SHA1 in master keys.
    pub(crate) fn from_alg(alg: AlgId) -> Option<HashAlg> {
        Some(match alg {
            AlgId::CALG_SHA1 | AlgId::CALG_HMAC => HashAlg::Sha1,
            AlgId::CALG_SHA_256 => HashAlg::Sha256,
            AlgId::CALG_SHA_384 => HashAlg::Sha384,
            AlgId::CALG_SHA_512 => HashAlg::Sha512,
            _ => return None,
        })
    }

    /// Like [`HashAlg::from_alg`], with the error that names the field.
    pub(crate) fn require(alg: AlgId, what: &str, offset: u64) -> Result<HashAlg> {
        HashAlg::from_alg(alg).ok_or_else(|| Error::UnknownAlgorithm {
            kind: "hash",
            id: alg.0,
            what: what.to_string(),
            offset,
            known: KNOWN_HASHES,
        })
    }

    pub(crate) fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    pub(crate) fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
        match self {
            HashAlg::Sha1 => run::<Sha1>(parts),
            HashAlg::Sha256 => run::<Sha256>(parts),
            HashAlg::Sha384 => run::<Sha384>(parts),
            HashAlg::Sha512 => run::<Sha512>(parts),
        }
    }

    /// HMAC over the concatenation of `parts`.
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>> {
        macro_rules! run {
            ($d:ty) => {{
                let mut mac = <Hmac<$d> as KeyInit>::new_from_slice(key)
                    .map_err(|_| Error::Invalid(format!("HMAC key of {} bytes", key.len())))?;
                for p in parts {
                    mac.update(p);
                }
                Ok(mac.finalize().into_bytes().to_vec())
            }};
        }
        match self {
            HashAlg::Sha1 => run!(Sha1),
            HashAlg::Sha256 => run!(Sha256),
            HashAlg::Sha384 => run!(Sha384),
            HashAlg::Sha512 => run!(Sha512),
        }
    }
}

/// A block cipher DPAPI uses, always in CBC mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherAlg {
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
}

impl CipherAlg {
    pub(crate) fn from_alg(alg: AlgId) -> Option<CipherAlg> {
        Some(match alg {
            AlgId::CALG_3DES => CipherAlg::TripleDes,
            AlgId::CALG_AES_128 => CipherAlg::Aes128,
            AlgId::CALG_AES_192 => CipherAlg::Aes192,
            AlgId::CALG_AES_256 => CipherAlg::Aes256,
            _ => return None,
        })
    }

    pub(crate) fn require(alg: AlgId, what: &str, offset: u64) -> Result<CipherAlg> {
        CipherAlg::from_alg(alg).ok_or_else(|| Error::UnknownAlgorithm {
            kind: "cipher",
            id: alg.0,
            what: what.to_string(),
            offset,
            known: KNOWN_CIPHERS,
        })
    }

    pub(crate) fn key_len(self) -> usize {
        match self {
            CipherAlg::TripleDes => 24,
            CipherAlg::Aes128 => 16,
            CipherAlg::Aes192 => 24,
            CipherAlg::Aes256 => 32,
        }
    }

    pub(crate) fn block_len(self) -> usize {
        match self {
            CipherAlg::TripleDes => 8,
            _ => 16,
        }
    }

    /// CBC encryption of whole blocks, no padding added.
    pub(crate) fn encrypt_raw(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        if !data.len().is_multiple_of(self.block_len()) {
            return Err(Error::Invalid(format!(
                "{} bytes is not a whole number of {}-byte blocks",
                data.len(),
                self.block_len()
            )));
        }
        self.run(key, iv, data, Direction::Encrypt, false)
    }

    /// CBC decryption of whole blocks, no padding removed.
    pub(crate) fn decrypt_raw(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.run(key, iv, data, Direction::Decrypt, false)
    }

    /// CBC encryption with PKCS#7 padding (DPAPI blobs, as CryptoAPI pads).
    pub(crate) fn encrypt_padded(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.run(key, iv, data, Direction::Encrypt, true)
    }

    /// CBC decryption removing PKCS#7 padding; a bad padding is [`Error::WrongKey`].
    pub(crate) fn decrypt_padded(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.run(key, iv, data, Direction::Decrypt, true)
    }

    fn run(
        self,
        key: &[u8],
        iv: &[u8],
        data: &[u8],
        direction: Direction,
        padded: bool,
    ) -> Result<Vec<u8>> {
        macro_rules! mode {
            ($c:ty) => {{
                let bad = |_| {
                    Error::Invalid(format!(
                        "key of {} bytes or IV of {} bytes for {:?}",
                        key.len(),
                        iv.len(),
                        self
                    ))
                };
                match direction {
                    Direction::Encrypt => {
                        let enc = cbc::Encryptor::<$c>::new_from_slices(key, iv).map_err(bad)?;
                        Ok(if padded {
                            enc.encrypt_padded_vec::<Pkcs7>(data)
                        } else {
                            enc.encrypt_padded_vec::<NoPadding>(data)
                        })
                    }
                    Direction::Decrypt => {
                        let dec = cbc::Decryptor::<$c>::new_from_slices(key, iv).map_err(bad)?;
                        if padded {
                            dec.decrypt_padded_vec::<Pkcs7>(data).map_err(|_| {
                                Error::wrong_key(
                                    "encrypted data",
                                    "the decrypted data has no valid padding",
                                )
                            })
                        } else {
                            dec.decrypt_padded_vec::<NoPadding>(data).map_err(|_| {
                                Error::Invalid(format!(
                                    "{} bytes is not a whole number of blocks",
                                    data.len()
                                ))
                            })
                        }
                    }
                }
            }};
        }
        if padded && matches!(direction, Direction::Decrypt) && data.is_empty() {
            return Err(Error::wrong_key("encrypted data", "no encrypted data"));
        }
        match self {
            CipherAlg::TripleDes => mode!(des::TdesEde3),
            CipherAlg::Aes128 => mode!(aes::Aes128),
            CipherAlg::Aes192 => mode!(aes::Aes192),
            CipherAlg::Aes256 => mode!(aes::Aes256),
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

/// DPAPI's PBKDF2. It differs from RFC 8018: each round's HMAC is taken over the
/// running XOR of the previous rounds, not over the previous round's output (Windows'
/// implementation, as impacket's `deriveKey` and mimikatz's `isDpapiInternal` read it).
pub(crate) fn dpapi_pbkdf2(
    hash: HashAlg,
    password: &[u8],
    salt: &[u8],
    rounds: u32,
    out_len: usize,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut block: u32 = 1;
    while out.len() < out_len {
        let mut derived = hash.hmac(password, &[salt, &block.to_be_bytes()])?;
        for _ in 1..rounds {
            let next = hash.hmac(password, &[&derived])?;
            for (d, n) in derived.iter_mut().zip(&next) {
                *d ^= n;
            }
        }
        out.extend_from_slice(&derived);
        block = block
            .checked_add(1)
            .ok_or_else(|| Error::Invalid("PBKDF2 output too long".into()))?;
    }
    out.truncate(out_len);
    Ok(out)
}

/// `CryptDeriveKey`'s key from a hash value: the value itself when it is long enough,
/// else `H(0x36-pad ^ value) || H(0x5c-pad ^ value)` over a 64-byte pad (DES parity is
/// left alone: DES ignores those bits).
pub(crate) fn derive_key_raw(hash: HashAlg, value: &[u8], key_len: usize) -> Vec<u8> {
    if value.len() >= key_len {
        return value[..key_len].to_vec();
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, b) in value.iter().take(64).enumerate() {
        ipad[i] ^= b;
        opad[i] ^= b;
    }
    let mut out = hash.digest(&[&ipad]);
    out.extend(hash.digest(&[&opad]));
    out.truncate(key_len);
    out
}

/// Constant-time-ish equality for MACs (no early exit).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The SHA-1 "HMAC" older DPAPI blobs use where extra data (entropy, the signed fields)
/// follows the salt: the inner hash covers only `inner`, the extra data goes into the
/// outer hash: `SHA1(opad ^ key || SHA1(ipad ^ key || inner) || extra…)`. With no extra
/// data it equals HMAC-SHA1. (Windows 7 blobs' signatures are made so; impacket accepts
/// it as its first variant, mimikatz computes session keys with entropy so.)
pub(crate) fn hmac_sha1_windows(key: &[u8], inner: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    let key: Vec<u8> = if key.len() > 64 {
        HashAlg::Sha1.digest(&[key])
    } else {
        key.to_vec()
    };
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, b) in key.iter().enumerate() {
        ipad[i] ^= b;
        opad[i] ^= b;
    }
    let inner_hash = HashAlg::Sha1.digest(&[&ipad, inner]);
    let mut parts: Vec<&[u8]> = vec![&opad, &inner_hash];
    parts.extend_from_slice(extra);
    HashAlg::Sha1.digest(&parts)
}
