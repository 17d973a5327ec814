//! New-format (`HvLE`) log entries: scanning and validation, no side effects.

use super::marvin::{LOG_ENTRY_SEED, marvin32};
use super::{EntryStop, LOG_BASE_BLOCK_SIZE, LogError, MAX_BINS_SIZE, PAGE_ALIGNMENT};
use crate::base::read_u32;
use std::path::Path;

const SIGNATURE: &[u8; 4] = b"HvLE";
const HEADER_SIZE: usize = 40;
const HASHED_HEADER_SIZE: usize = 32;
const PAGE_REF_SIZE: usize = 8;
const HBIN_ALIGNMENT: u32 = 4096;

/// One hash-verified entry, ready to be copied into the hive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) sequence: u32,
    pub(super) flags: u32,
    pub(super) bins_size: u32,
    pub(super) pages: Vec<Page>,
}

/// A page to copy: `len` bytes from log offset `source` to hive-bins offset `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Page {
    pub(super) target: usize,
    pub(super) source: usize,
    pub(super) len: usize,
}

/// The valid entries at the start of a log and why the scan ended early, if it did.
#[derive(Debug)]
pub(super) struct Scan {
    pub(super) entries: Vec<Entry>,
    pub(super) stop: Option<EntryStop>,
}

/// Reads entries from offset 512 while they are well-formed, hash-valid and numbered
/// `first_sequence`, `first_sequence + 1`, … — the point where that stops is normally
/// just the end of this log's writes (stale leftovers follow). An entry whose hashes are
/// valid but whose contents are impossible is an error: Windows wrote it, so we cannot
/// just drop it and everything after it.
pub(super) fn scan(
    path: &Path,
    log: &[u8],
    first_sequence: u32,
    bins_size_limit: u64,
) -> Result<Scan, LogError> {
    let mut entries = Vec::new();
    let mut offset = LOG_BASE_BLOCK_SIZE;
    let mut expected = first_sequence;
    while offset < log.len() {
        match check_entry(log, offset, expected) {
            Ok(size) => {
                let entry = parse_verified(path, log, offset, size, bins_size_limit)?;
                entries.push(entry);
                expected = expected.wrapping_add(1);
                offset += size;
            }
            Err(reason) => {
                return Ok(Scan {
                    entries,
                    stop: Some(EntryStop { offset, reason }),
                });
            }
        }
    }
    Ok(Scan {
        entries,
        stop: None,
    })
}

/// The checks Windows uses to find the end of the valid entries; returns the entry size.
fn check_entry(log: &[u8], offset: usize, expected_sequence: u32) -> Result<usize, String> {
    let field = |at: usize| read_u32(log, offset + at);
    let remaining = log.len() - offset;
    if remaining < HEADER_SIZE {
        return Err(format!("{remaining} trailing bytes, too few for an entry"));
    }
    if log.get(offset..offset + 4) != Some(SIGNATURE.as_slice()) {
        return Err("no HvLE signature".into());
    }
    let size = field(4).unwrap_or(0) as usize;
    if size < PAGE_ALIGNMENT || !size.is_multiple_of(PAGE_ALIGNMENT) {
        return Err(format!(
            "entry size {size} is not a positive multiple of 512"
        ));
    }
    if size > remaining {
        return Err(format!(
            "entry size {size} runs past the end of the log ({remaining} bytes left)"
        ));
    }
    let entry = &log[offset..offset + size];
    let stored_hash = |at: usize| {
        entry
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if stored_hash(32) != Some(marvin32(LOG_ENTRY_SEED, &entry[..HASHED_HEADER_SIZE])) {
        return Err("bad Marvin32 hash of the entry header (hash-2)".into());
    }
    if stored_hash(24) != Some(marvin32(LOG_ENTRY_SEED, &entry[HEADER_SIZE..])) {
        return Err("bad Marvin32 hash of the entry body (hash-1)".into());
    }
    let sequence = field(12).unwrap_or(0);
    if sequence != expected_sequence {
        return Err(format!(
            "sequence {sequence} where {expected_sequence} was expected"
        ));
    }
    let bins_size = field(16).unwrap_or(0);
    if bins_size == 0 || !bins_size.is_multiple_of(HBIN_ALIGNMENT) {
        return Err(format!(
            "hive bins size {bins_size} is not a positive multiple of 4096"
        ));
    }
    if field(20) == Some(0) {
        return Err("entry has no dirty pages".into());
    }
    Ok(size)
}

/// Decodes an entry that passed `check_entry`; its contents must make sense.
fn parse_verified(
    path: &Path,
    log: &[u8],
    offset: usize,
    size: usize,
    bins_size_limit: u64,
) -> Result<Entry, LogError> {
    let corrupt = |at: usize, reason: String| LogError::CorruptEntry {
        path: path.to_path_buf(),
        offset: offset + at,
        reason,
    };
    let field = |at: usize| read_u32(log, offset + at).unwrap_or(0);
    let bins_size = field(16);
    if u64::from(bins_size) > bins_size_limit.min(MAX_BINS_SIZE) {
        return Err(corrupt(
            16,
            format!(
                "hive bins size {bins_size} exceeds what the hive and its logs can fill \
                 ({} bytes at most)",
                bins_size_limit.min(MAX_BINS_SIZE)
            ),
        ));
    }
    let page_count = field(20) as usize;
    let refs_end = page_count
        .checked_mul(PAGE_REF_SIZE)
        .and_then(|n| n.checked_add(HEADER_SIZE))
        .filter(|&end| end <= size)
        .ok_or_else(|| {
            corrupt(
                20,
                format!("{page_count} page references do not fit in a {size}-byte entry"),
            )
        })?;
    let mut pages = Vec::with_capacity(page_count);
    let mut source = refs_end;
    for index in 0..page_count {
        let ref_at = HEADER_SIZE + index * PAGE_REF_SIZE;
        let target = field(ref_at);
        let len = field(ref_at + 4);
        if u64::from(target) + u64::from(len) > u64::from(bins_size) {
            return Err(corrupt(
                ref_at,
                format!(
                    "page {index} ({len} bytes at bins offset {target}) lies beyond the \
                     hive bins size {bins_size}"
                ),
            ));
        }
        let len = len as usize;
        if size - source < len {
            return Err(corrupt(
                ref_at + 4,
                format!(
                    "page {index} needs {len} bytes but only {} remain in the entry",
                    size - source
                ),
            ));
        }
        pages.push(Page {
            target: target as usize,
            source: offset + source,
            len,
        });
        source += len;
    }
    Ok(Entry {
        sequence: field(12),
        flags: field(8),
        bins_size,
        pages,
    })
}
