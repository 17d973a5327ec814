//! A small deterministic random source (SplitMix64). The sample must be byte-identical for
//! a seed on every platform and every Rust version, so it cannot depend on `rand`'s
//! algorithms or on the OS; independent streams per purpose (`fork`) keep, say, the SIDs
//! the same when only `--files` changes.

/// SplitMix64: tiny, fast, and good enough for names, GUIDs and timestamps.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    /// An independent stream for one purpose: the same seed and label always give the
    /// same stream, whatever else was drawn before.
    pub fn fork(&self, label: &str) -> Rng {
        // FNV-1a over the label, mixed with this stream's state.
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        let mut r = Rng(self.0 ^ h);
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// One element of a non-empty slice (the first when empty slices are passed by mistake
    /// is impossible: callers pass constant tables).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// A random (version 4) GUID in Windows' binary layout.
    pub fn guid(&mut self) -> [u8; 16] {
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        g[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        g[7] = (g[7] & 0x0F) | 0x40;
        g[8] = (g[8] & 0x3F) | 0x80;
        g
    }

    /// A sub-authority of a random machine or domain SID (Windows draws them from the
    /// full 32-bit range, but values below 2^28 are rare enough to skip).
    pub fn sid_part(&mut self) -> u32 {
        self.next_u32() | 0x1000_0000
    }

    /// `n` upper-case letters and digits, as in `DESKTOP-7QK2MZ1`.
    pub fn alnum(&mut self, n: usize) -> String {
        const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| char::from(SET[self.below(SET.len() as u64) as usize]))
            .collect()
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// A GUID as the registry writes it: `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`.
pub fn guid_braced(g: &[u8; 16]) -> String {
    format!("{{{}}}", ntsec::Guid(*g).to_string().to_uppercase())
}

/// A GUID without braces, lower case (as in file names).
pub fn guid_plain(g: &[u8; 16]) -> String {
    ntsec::Guid(*g).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a = Rng::new(7);
        let (mut x, mut y) = (a.fork("sids"), a.fork("sids"));
        assert_eq!(x.next_u64(), y.next_u64());
        assert_ne!(a.fork("files").next_u64(), a.fork("sids").next_u64());
        let g = Rng::new(1).guid();
        assert_eq!(g[7] >> 4, 4);
        assert_eq!(guid_braced(&g).len(), 38);
    }
}
