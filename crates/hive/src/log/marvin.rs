//! Marvin32, the keyed hash Windows uses to detect torn or stale log entries.

/// Seed of the two hashes in every `HvLE` entry (lo = 0x7A4E55C5, hi = 0x82EF4D88).
pub const LOG_ENTRY_SEED: u64 = 0x82EF_4D88_7A4E_55C5;

/// Marvin32 of `data` with `seed`, returned as `(hi << 32) | lo` like Windows stores it.
pub fn marvin32(seed: u64, data: &[u8]) -> u64 {
    let mut state = State {
        lo: seed as u32,
        hi: (seed >> 32) as u32,
    };
    let words = data.chunks_exact(4);
    let tail = words.remainder();
    for word in words {
        state.mix(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
    }
    // The 0x80 terminator sits just above the 0..=3 leftover bytes.
    let final_word = tail
        .iter()
        .rev()
        .fold(0x80u32, |acc, &byte| (acc << 8) | u32::from(byte));
    state.mix(final_word);
    state.mix(0);
    (u64::from(state.hi) << 32) | u64::from(state.lo)
}

struct State {
    lo: u32,
    hi: u32,
}

impl State {
    fn mix(&mut self, value: u32) {
        self.lo = self.lo.wrapping_add(value);
        self.hi ^= self.lo;
        self.lo = self.lo.rotate_left(20).wrapping_add(self.hi);
        self.hi = self.hi.rotate_left(9) ^ self.lo;
        self.lo = self.lo.rotate_left(27).wrapping_add(self.hi);
        self.hi = self.hi.rotate_left(19);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Reference vectors of .NET's `Marvin.ComputeHash` (MarvinTests.cs, seed 0x004FB61A001BDBCC);
    /// they also cover the 1..3-byte tails the registry never uses.
    #[test]
    fn dotnet_reference_vectors() {
        let seed = 0x004F_B61A_001B_DBCC;
        let cases = [
            ("", 0x30ED_35C1_00CD_3C7D_u64),
            ("af", 0x48E7_3FC7_7D75_DDC1),
            ("e70f", 0xB5F6_E1FC_485D_BFF8),
            ("37f495", 0xF0B0_7C78_9B8C_F7E8),
            ("8642dc59", 0x7008_F2E8_7E9C_F556),
            ("153fb79826", 0xE6C0_8C6D_A2AF_A997),
            ("0932e6246c47", 0x6F04_BF1A_5EA2_4060),
            ("ab427ea8d10fc7", 0xE118_47E4_F067_8C41),
        ];
        for (input, expected) in cases {
            assert_eq!(marvin32(seed, &hex(input)), expected, "input {input:?}");
        }
    }

    /// Hash-2 of the only entry of yarp `NewDirtyHive.LOG1` (offset 512): Marvin32 of the
    /// entry's first 32 bytes, stored at entry offset 32.
    #[test]
    fn yarp_new_dirty_hive_log1_entry_header() {
        let header = hex("48764c45005e00000000000002000000005000000100000031e40718666c8667");
        assert_eq!(marvin32(LOG_ENTRY_SEED, &header), 0xCD44_F3CF_A765_7F02);
        // Bytes 24..32 are Hash-1 as stored by Windows.
        assert_eq!(
            u64::from_le_bytes(header[24..32].try_into().unwrap()),
            0x6786_6C66_1807_E431
        );
    }
}
