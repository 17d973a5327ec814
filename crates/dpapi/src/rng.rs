//! Randomness: every function that needs it takes a [`TryCryptoRng`]. Pass
//! [`OsRng`] for real keys, or a [`SeededRng`] for reproducible sample data.

pub use getrandom::SysRng as OsRng;
use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Fills `buf` from `rng`, mapping its failure.
pub(crate) fn fill<R: TryCryptoRng + ?Sized>(rng: &mut R, buf: &mut [u8]) -> Result<()> {
    rng.try_fill_bytes(buf)
        .map_err(|e| Error::Random(e.to_string()))
}

/// `N` random bytes.
pub(crate) fn array<const N: usize, R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(rng, &mut out)?;
    Ok(out)
}

/// `n` random bytes.
pub(crate) fn vec<R: TryCryptoRng + ?Sized>(rng: &mut R, n: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    fill(rng, &mut out)?;
    Ok(out)
}

/// A deterministic generator (SHA-256 of seed and counter) for sample volumes built
/// with `--seed` and for tests: the same seed gives the same salts, keys and GUIDs.
/// Not for keys that protect anything real.
pub struct SeededRng {
    seed: [u8; 32],
    counter: u64,
    buffer: [u8; 32],
    used: usize,
}

impl std::fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeededRng(..)")
    }
}

impl SeededRng {
    /// A generator from a 64-bit seed.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng::from_seed_bytes(&seed.to_le_bytes())
    }

    /// A generator from any seed bytes.
    pub fn from_seed_bytes(seed: &[u8]) -> SeededRng {
        let mut h = Sha256::new();
        h.update(b"admu dpapi SeededRng");
        h.update(seed);
        SeededRng {
            seed: h.finalize().into(),
            counter: 0,
            buffer: [0; 32],
            used: 32,
        }
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == self.buffer.len() {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.buffer = h.finalize().into();
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let b = self.buffer[self.used];
        self.used += 1;
        b
    }
}

impl TryRng for SeededRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.next_byte();
        }
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}
