//! Old-format (`DIRT`) logs: a dirty-page bitmap and the pages it marks.
//!
//! The format has no checksums beyond the base block, so the whole log is validated before
//! anything is copied: a log that matched the primary but is damaged is an error, never a
//! half-applied hive.

use super::entries::Page;
use super::{LOG_BASE_BLOCK_SIZE, LogError, MAX_BINS_SIZE, PAGE_ALIGNMENT};
use std::path::Path;

const SIGNATURE: &[u8; 4] = b"DIRT";
const BITMAP_OFFSET: usize = LOG_BASE_BLOCK_SIZE + SIGNATURE.len();
/// One bitmap byte covers 8 pages of 512 bytes.
const BYTES_PER_BITMAP_BYTE: u32 = 8 * PAGE_ALIGNMENT as u32;

/// Lists the pages to copy for a hive of `bins_size` bytes of bins (from the log's base block).
pub(super) fn dirty_pages(
    path: &Path,
    log: &[u8],
    bins_size: u32,
    bins_size_limit: u64,
) -> Result<Vec<Page>, LogError> {
    let corrupt = |offset: usize, reason: String| LogError::CorruptOldLog {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    if bins_size == 0 || !bins_size.is_multiple_of(4096) {
        return Err(corrupt(
            40,
            format!("hive bins size {bins_size} is not a positive multiple of 4096"),
        ));
    }
    let limit = bins_size_limit.min(MAX_BINS_SIZE);
    if u64::from(bins_size) > limit {
        return Err(corrupt(
            40,
            format!(
                "hive bins size {bins_size} exceeds what the hive and its logs can fill \
                 ({limit} bytes at most)"
            ),
        ));
    }
    if log.get(LOG_BASE_BLOCK_SIZE..BITMAP_OFFSET) != Some(SIGNATURE.as_slice()) {
        return Err(corrupt(
            LOG_BASE_BLOCK_SIZE,
            "no DIRT signature after the base block".into(),
        ));
    }
    let bitmap_len = (bins_size / BYTES_PER_BITMAP_BYTE) as usize;
    let bitmap = log
        .get(BITMAP_OFFSET..BITMAP_OFFSET + bitmap_len)
        .ok_or_else(|| {
            corrupt(
                BITMAP_OFFSET,
                format!(
                    "the {bitmap_len}-byte dirty bitmap runs past the end of the log ({} bytes)",
                    log.len()
                ),
            )
        })?;
    let mut source = (BITMAP_OFFSET + bitmap_len).next_multiple_of(PAGE_ALIGNMENT);
    let mut pages = Vec::new();
    for (byte_index, &byte) in bitmap.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) == 0 {
                continue;
            }
            if log.len() - source.min(log.len()) < PAGE_ALIGNMENT {
                return Err(corrupt(
                    source,
                    format!(
                        "dirty page {} (bitmap bit {}) is missing: the log ends at {}",
                        pages.len(),
                        byte_index * 8 + bit,
                        log.len()
                    ),
                ));
            }
            pages.push(Page {
                target: (byte_index * 8 + bit) * PAGE_ALIGNMENT,
                source,
                len: PAGE_ALIGNMENT,
            });
            source += PAGE_ALIGNMENT;
        }
    }
    Ok(pages)
}
