//! The 4096-byte base block at the start of every hive and log file.

/// Size of the base block; hive bins start right after it.
pub const BASE_BLOCK_SIZE: usize = 4096;
/// Offset of the checksum: it covers the 508 bytes before it.
pub const CHECKSUM_OFFSET: usize = 508;

/// Field offsets in the base block (formats.md §1.2).
pub mod off {
    pub const SIGNATURE: usize = 0;
    pub const PRIMARY_SEQ: usize = 4;
    pub const SECONDARY_SEQ: usize = 8;
    pub const TIMESTAMP: usize = 12;
    pub const MAJOR: usize = 20;
    pub const MINOR: usize = 24;
    pub const FILE_TYPE: usize = 28;
    pub const FORMAT: usize = 32;
    pub const ROOT: usize = 36;
    pub const BINS_SIZE: usize = 40;
    pub const CLUSTERING: usize = 44;
    pub const FILE_NAME: usize = 48;
    pub const FLAGS: usize = 144;
}

/// File type values of the base block.
pub mod file_type {
    pub const PRIMARY: u32 = 0;
    pub const OLD_LOG: u32 = 1;
    pub const OLD_LOG_NT: u32 = 2;
    pub const NEW_LOG: u32 = 6;
}

/// The base-block checksum: XOR of the first 127 little-endian words, with Windows'
/// two fix-ups (0xFFFFFFFF → 0xFFFFFFFE, 0 → 1). `block` must hold at least 508 bytes;
/// a shorter slice yields a checksum over what is there, which never matches a real one.
pub fn checksum(block: &[u8]) -> u32 {
    let end = block.len().min(CHECKSUM_OFFSET);
    let mut sum = block[..end]
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0u32, |a, w| a ^ w);
    if sum == 0xFFFF_FFFF {
        sum = 0xFFFF_FFFE;
    } else if sum == 0 {
        sum = 1;
    }
    sum
}

/// Reads a little-endian u32 at `at`, or `None` past the end.
pub fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Writes a little-endian u32 at `at`; the caller guarantees the range exists.
pub(crate) fn write_u32(data: &mut [u8], at: usize, v: u32) {
    if let Some(b) = data.get_mut(at..at + 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// Recomputes and stores the checksum of the base block at the start of `data`.
pub fn fix_checksum(data: &mut [u8]) {
    if data.len() >= BASE_BLOCK_SIZE {
        let c = checksum(&data[..CHECKSUM_OFFSET]);
        write_u32(data, CHECKSUM_OFFSET, c);
    }
}

/// Reads a little-endian u16 at `at`, or `None` past the end.
pub fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads a little-endian u64 at `at`, or `None` past the end.
pub fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

/// Reads a little-endian i32 at `at`, or `None` past the end.
pub fn read_i32(data: &[u8], at: usize) -> Option<i32> {
    read_u32(data, at).map(|v| v as i32)
}

/// Writes a little-endian u16 at `at`; the caller guarantees the range exists.
pub(crate) fn write_u16(data: &mut [u8], at: usize, v: u16) {
    if let Some(b) = data.get_mut(at..at + 2) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// Writes a little-endian u64 at `at`; the caller guarantees the range exists.
pub(crate) fn write_u64(data: &mut [u8], at: usize, v: u64) {
    if let Some(b) = data.get_mut(at..at + 8) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}
