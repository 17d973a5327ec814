//! The domain's DPAPI backup key as a domain controller exports it: a `.pvk` file, a
//! 24-byte header then a CryptoAPI `PRIVATEKEYBLOB` (the format of `lsadump::backupkeys
//! /export` and of impacket's `dpapi.py backupkeys --export`).
//!
//! ```text
//! PVK header:  magic 0xb0b5f11e, version 0, key spec (1 = AT_KEYEXCHANGE),
//!              encrypt type (0 = none), salt length (0), blob length
//! BLOBHEADER:  bType 0x07 (PRIVATEKEYBLOB), bVersion 2, reserved u16, aiKeyAlg (CALG_RSA_KEYX)
//! RSAPUBKEY:   magic "RSA2", bit length, public exponent (u32)
//! then, little-endian: modulus (bits/8), prime1, prime2, exponent1, exponent2,
//! coefficient (bits/16 each), private exponent (bits/8)
//! ```

use std::path::Path;

use ntsec::Guid;
use rand_core::TryCryptoRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, PrivateKey, PublicKey};

use crate::alg::AlgId;
use crate::error::{Error, Result};
use crate::reader::{Put, Reader};

/// The `.pvk` header magic.
pub const PVK_MAGIC: u32 = 0xb0b5_f11e;
/// `bType` of a private key blob.
pub const PRIVATEKEYBLOB: u8 = 0x07;
/// `RSAPUBKEY.magic` of a private key: "RSA2".
pub const RSA2_MAGIC: u32 = 0x3241_5352;
/// `AT_KEYEXCHANGE`, the key spec DCs' backup keys carry.
pub const AT_KEYEXCHANGE: u32 = 1;
/// The size of the domain backup keys Windows generates.
pub const DEFAULT_BITS: usize = 2048;

/// A domain's DPAPI backup private key (RSA). `Debug` does not print it.
#[derive(Clone)]
pub struct BackupKey {
    key: PrivateKey,
    key_spec: u32,
    alg: AlgId,
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupKey({} bits)", self.bits())
    }
}

/// The public half: what a client encrypts domain backup blocks with.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupPublicKey {
    key: PublicKey,
}

impl std::fmt::Debug for BackupPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupPublicKey({} bits)", self.key.n().bit_width())
    }
}

fn rsa_err(e: rsa::Error) -> Error {
    Error::Rsa(e.to_string())
}

/// A little-endian component of exactly `len` bytes.
fn le_component(value: &BoxedUint, len: usize, name: &str) -> Result<Vec<u8>> {
    let be = value.to_be_bytes();
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let significant = &be[first..];
    if significant.len() > len {
        return Err(Error::Invalid(format!(
            "the RSA {name} needs {} bytes, its PRIVATEKEYBLOB field has {len}",
            significant.len()
        )));
    }
    let mut out: Vec<u8> = significant.iter().rev().copied().collect();
    out.resize(len, 0);
    Ok(out)
}

fn from_le(bytes: &[u8]) -> Result<BoxedUint> {
    let bits = u32::try_from(bytes.len() * 8)
        .map_err(|_| Error::Invalid("RSA component too large".into()))?;
    BoxedUint::from_le_slice(bytes, bits.max(64))
        .map_err(|e| Error::Invalid(format!("RSA component: {e:?}")))
}

impl BackupKey {
    /// A new RSA key of `bits` (2048 as DCs make them), public exponent 65537.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R, bits: usize) -> Result<BackupKey> {
        if bits < 1024 || !bits.is_multiple_of(16) || bits > 16384 {
            return Err(Error::Invalid(format!(
                "{bits}-bit RSA key (1024 to 16384, a multiple of 16)"
            )));
        }
        let key = PrivateKey::new(rng, bits).map_err(rsa_err)?;
        Ok(BackupKey {
            key,
            key_spec: AT_KEYEXCHANGE,
            alg: AlgId::CALG_RSA_KEYX,
        })
    }

    /// The key's size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bit_width() as usize
    }

    /// The public half.
    pub fn public_key(&self) -> BackupPublicKey {
        BackupPublicKey {
            key: self.key.to_public_key(),
        }
    }

    /// Reads a `.pvk` file; errors name it.
    pub fn read_pvk(path: &Path) -> Result<BackupKey> {
        let data = crate::error::read_file(path)?;
        BackupKey::from_pvk(&data).map_err(|e| e.in_file(path))
    }

    /// Parses a `.pvk` file (unencrypted, as DCs export them).
    pub fn from_pvk(data: &[u8]) -> Result<BackupKey> {
        let what = ".pvk file";
        let mut r = Reader::new(data, what);
        let magic = r.u32("magic")?;
        if magic != PVK_MAGIC {
            return Err(Error::corrupt(
                what,
                0,
                format!("magic {magic:#010x}, expected {PVK_MAGIC:#010x}"),
            ));
        }
        let _version = r.u32("version")?;
        let key_spec = r.u32("key spec")?;
        let encrypt_type = r.u32("encrypt type")?;
        if encrypt_type != 0 {
            return Err(Error::corrupt(
                what,
                12,
                format!(
                    "encrypt type {encrypt_type}: password-protected .pvk files are not \
                     supported (DCs export them unencrypted)"
                ),
            ));
        }
        let salt_len = r.u32("salt length")?;
        let blob_len = r.u32("key blob length")?;
        r.bytes_u64(u64::from(salt_len), "salt")?;
        let at = r.offset();
        let blob = r.bytes_u64(u64::from(blob_len), "key blob")?;
        let mut key = BackupKey::from_private_key_blob(blob).map_err(|e| e.within(at, what))?;
        key.key_spec = key_spec;
        Ok(key)
    }

    /// Parses a CryptoAPI `PRIVATEKEYBLOB` (RSA2).
    pub fn from_private_key_blob(blob: &[u8]) -> Result<BackupKey> {
        let what = "PRIVATEKEYBLOB";
        let mut r = Reader::new(blob, what);
        let header = r.array::<4>("BLOBHEADER")?;
        if header[0] != PRIVATEKEYBLOB {
            return Err(Error::corrupt(
                what,
                0,
                format!("bType {:#04x}, expected {PRIVATEKEYBLOB:#04x}", header[0]),
            ));
        }
        let alg = AlgId(r.u32("aiKeyAlg")?);
        let magic = r.u32("RSAPUBKEY magic")?;
        if magic != RSA2_MAGIC {
            return Err(Error::corrupt(
                what,
                8,
                format!("RSAPUBKEY magic {magic:#010x}, expected \"RSA2\" ({RSA2_MAGIC:#010x})"),
            ));
        }
        let bits = r.u32("bit length")?;
        if bits == 0 || !bits.is_multiple_of(16) || bits > 16384 {
            return Err(Error::corrupt(
                what,
                12,
                format!("bit length {bits} (a multiple of 16 up to 16384 expected)"),
            ));
        }
        let e = r.u32("public exponent")?;
        let full = bits as usize / 8;
        let half = bits as usize / 16;
        let n = from_le(r.bytes(full, "modulus")?)?;
        let p = from_le(r.bytes(half, "prime1")?)?;
        let q = from_le(r.bytes(half, "prime2")?)?;
        r.bytes(half, "exponent1")?;
        r.bytes(half, "exponent2")?;
        r.bytes(half, "coefficient")?;
        let d = from_le(r.bytes(full, "private exponent")?)?;
        let e = BoxedUint::from(u64::from(e));
        let key = PrivateKey::from_components(n, e, d, vec![p, q])
            .map_err(|err| Error::corrupt(what, 20, format!("not a consistent RSA key: {err}")))?;
        Ok(BackupKey {
            key,
            key_spec: AT_KEYEXCHANGE,
            alg,
        })
    }

    /// The key as a `PRIVATEKEYBLOB`.
    pub fn to_private_key_blob(&self) -> Result<Vec<u8>> {
        let bits = self.bits().div_ceil(16) * 16;
        let full = bits / 8;
        let half = bits / 16;
        let key = &self.key;
        let primes = key.primes();
        let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else {
            return Err(Error::Invalid("the RSA key has no two primes".into()));
        };
        let (Some(dp), Some(dq), Some(qinv)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
            return Err(Error::Invalid("the RSA key lacks its CRT values".into()));
        };
        let e = u32::try_from(key.e().to_be_bytes().iter().fold(0u128, |acc, &b| {
            acc.saturating_mul(256).saturating_add(u128::from(b))
        }))
        .map_err(|_| Error::Invalid("the public exponent does not fit 32 bits".into()))?;
        let mut out = vec![PRIVATEKEYBLOB, 2, 0, 0];
        out.put_u32(self.alg.0);
        out.put_u32(RSA2_MAGIC);
        out.put_u32(crate::reader::len32(bits)?);
        out.put_u32(e);
        out.extend(le_component(key.n().as_ref(), full, "modulus")?);
        out.extend(le_component(p.as_ref(), half, "prime1")?);
        out.extend(le_component(q.as_ref(), half, "prime2")?);
        out.extend(le_component(dp, half, "exponent1")?);
        out.extend(le_component(dq, half, "exponent2")?);
        out.extend(le_component(&qinv, half, "coefficient")?);
        out.extend(le_component(key.d(), full, "private exponent")?);
        Ok(out)
    }

    /// The key as a `.pvk` file, unencrypted, as a DC exports it.
    pub fn to_pvk(&self) -> Result<Vec<u8>> {
        let blob = self.to_private_key_blob()?;
        let mut out = Vec::with_capacity(24 + blob.len());
        out.put_u32(PVK_MAGIC);
        out.put_u32(0);
        out.put_u32(self.key_spec);
        out.put_u32(0);
        out.put_u32(0);
        out.put_u32(crate::reader::len32(blob.len())?);
        out.extend(blob);
        Ok(out)
    }

    /// Writes the `.pvk` file.
    pub fn write_pvk(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_pvk()?).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// PKCS#1 v1.5 decryption of a big-endian ciphertext.
    pub(crate) fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        self.key.pkcs1v15_decrypt(ciphertext).map_err(rsa_err)
    }
}

impl BackupPublicKey {
    /// A public key from its big-endian modulus and its exponent.
    pub fn from_modulus(modulus_be: &[u8], exponent: u32) -> Result<BackupPublicKey> {
        let bits = u32::try_from(modulus_be.len() * 8)
            .map_err(|_| Error::Invalid("modulus too large".into()))?;
        let n = BoxedUint::from_be_slice(modulus_be, bits.max(64))
            .map_err(|e| Error::Invalid(format!("modulus: {e:?}")))?;
        let key = PublicKey::new(n, BoxedUint::from(u64::from(exponent))).map_err(rsa_err)?;
        Ok(BackupPublicKey { key })
    }

    /// The key's size in bytes (the length of the encrypted secret it makes).
    pub fn size(&self) -> usize {
        self.key.size()
    }

    /// PKCS#1 v1.5 encryption; big-endian ciphertext.
    pub(crate) fn encrypt_pkcs1<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        self.key
            .pkcs1v15_encrypt_with_rng(rng, plain)
            .map_err(rsa_err)
    }
}

/// A GUID for a new domain backup key (its LSA secret is `G$BCKUPKEY_<GUID>`).
pub fn new_key_guid<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Guid> {
    crate::guid::random(rng)
}
