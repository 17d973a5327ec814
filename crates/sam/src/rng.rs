//! Randomness for salts, keys and machine SIDs: the operating system's generator, or a
//! seeded one so that a sample volume built with `--seed` comes out the same every time.

use crate::error::{Error, Result};

/// Where random bytes come from.
#[derive(Debug, Clone)]
pub enum Random {
    /// The operating system (`getrandom`): for real accounts.
    Os,
    /// A deterministic stream (SplitMix64) from a seed: for generated samples and tests.
    /// Not for secrets that protect anything.
    Seeded(u64),
}

impl Random {
    /// A seeded source when `seed` is given, else the operating system.
    pub fn from_seed(seed: Option<u64>) -> Random {
        seed.map_or(Random::Os, Random::Seeded)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        match self {
            Random::Os => getrandom::fill(buf).map_err(|e| Error::Random(e.to_string())),
            Random::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    let word = splitmix64(state).to_le_bytes();
                    chunk.copy_from_slice(&word[..chunk.len()]);
                }
                Ok(())
            }
        }
    }

    /// Sixteen random bytes (a salt or a key).
    pub fn bytes16(&mut self) -> Result<[u8; 16]> {
        let mut out = [0u8; 16];
        self.fill(&mut out)?;
        Ok(out)
    }

    /// A random u32.
    pub fn next_u32(&mut self) -> Result<u32> {
        let mut out = [0u8; 4];
        self.fill(&mut out)?;
        Ok(u32::from_le_bytes(out))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, and good enough for sample data.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat_and_differ_by_seed() {
        let (mut a, mut b, mut c) = (Random::Seeded(1), Random::Seeded(1), Random::Seeded(2));
        let (x, y, z) = (
            a.bytes16().unwrap(),
            b.bytes16().unwrap(),
            c.bytes16().unwrap(),
        );
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(Random::Os.bytes16().unwrap(), Random::Os.bytes16().unwrap());
    }
}
