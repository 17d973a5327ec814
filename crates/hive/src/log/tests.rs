//! Replay rules on small synthetic hives and logs built here, so each rule is tested in
//! isolation (the fixtures in tests/log_replay.rs cover real Windows output).

use super::*;
use crate::base::fix_checksum;

const BIN: u32 = 4096;

fn base_block(kind: u32, sequence: (u32, u32), bins_size: u32, timestamp: u64) -> Vec<u8> {
    let mut block = vec![0u8; BASE_BLOCK_SIZE];
    block[..4].copy_from_slice(b"regf");
    write_u32(&mut block, off::PRIMARY_SEQ, sequence.0);
    write_u32(&mut block, off::SECONDARY_SEQ, sequence.1);
    block[off::TIMESTAMP..off::TIMESTAMP + 8].copy_from_slice(&timestamp.to_le_bytes());
    write_u32(&mut block, off::MAJOR, 1);
    write_u32(&mut block, off::MINOR, 5);
    write_u32(&mut block, off::FILE_TYPE, kind);
    write_u32(&mut block, off::FORMAT, 1);
    write_u32(&mut block, off::ROOT, 32);
    write_u32(&mut block, off::BINS_SIZE, bins_size);
    write_u32(&mut block, off::CLUSTERING, 1);
    fix_checksum(&mut block);
    block
}

/// A primary with `bins_size` bytes of bins, each bin filled with `fill`.
fn primary(sequence: (u32, u32), bins_size: u32, fill: u8) -> Vec<u8> {
    let mut hive = base_block(file_type::PRIMARY, sequence, bins_size, 77);
    for bin in 0..bins_size / BIN {
        let mut data = vec![fill; BIN as usize];
        data[..4].copy_from_slice(b"hbin");
        write_u32(&mut data, 4, bin * BIN);
        write_u32(&mut data, 8, BIN);
        data[20..28].copy_from_slice(&77u64.to_le_bytes());
        hive.extend_from_slice(&data);
    }
    hive
}

/// An `HvLE` entry with valid hashes; pages are (bins offset, bytes).
fn entry(sequence: u32, bins_size: u32, flags: u32, pages: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (target, data) in pages {
        body.extend_from_slice(&target.to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    for (_, data) in pages {
        body.extend_from_slice(data);
    }
    let size = (40 + body.len()).next_multiple_of(512);
    let mut entry = vec![0u8; size];
    entry[..4].copy_from_slice(b"HvLE");
    write_u32(&mut entry, 4, size as u32);
    write_u32(&mut entry, 8, flags);
    write_u32(&mut entry, 12, sequence);
    write_u32(&mut entry, 16, bins_size);
    write_u32(&mut entry, 20, pages.len() as u32);
    entry[40..40 + body.len()].copy_from_slice(&body);
    rehash(&mut entry);
    entry
}

fn rehash(entry: &mut [u8]) {
    let body_hash = marvin32(LOG_ENTRY_SEED, &entry[40..]);
    entry[24..32].copy_from_slice(&body_hash.to_le_bytes());
    let header_hash = marvin32(LOG_ENTRY_SEED, &entry[..32]);
    entry[32..40].copy_from_slice(&header_hash.to_le_bytes());
}

fn new_log(name: &str, sequence: u32, bins_size: u32, entries: &[Vec<u8>]) -> LogFile {
    let mut data = base_block(file_type::NEW_LOG, (sequence, sequence), bins_size, 77);
    data.truncate(LOG_BASE_BLOCK_SIZE);
    for entry in entries {
        data.extend_from_slice(entry);
    }
    LogFile::new(name, data)
}

fn page(fill: u8) -> Vec<u8> {
    vec![fill; 512]
}

fn assert_clean(hive: &[u8], sequence: u32, bins_size: u32) {
    let report = replay(&mut hive.to_vec(), &[]).unwrap();
    assert!(!report.was_dirty);
    assert_eq!(read_u32(hive, off::PRIMARY_SEQ), Some(sequence));
    assert_eq!(read_u32(hive, off::SECONDARY_SEQ), Some(sequence));
    assert_eq!(read_u32(hive, off::BINS_SIZE), Some(bins_size));
    assert_eq!(read_u32(hive, off::FILE_TYPE), Some(file_type::PRIMARY));
}

#[test]
fn wrap_around_sequence_order() {
    assert!(sequence_at_or_after(5, 5));
    assert!(sequence_at_or_after(6, 5));
    assert!(!sequence_at_or_after(4, 5));
    assert!(sequence_at_or_after(0, u32::MAX));
    assert!(sequence_at_or_after(3, u32::MAX - 3));
    assert!(!sequence_at_or_after(u32::MAX, 0));
}

#[test]
fn clean_hive_is_left_alone() {
    let mut hive = primary((9, 9), 2 * BIN, 0xAA);
    let original = hive.clone();
    let log = new_log(
        "x.LOG1",
        9,
        2 * BIN,
        &[entry(9, 2 * BIN, 0, &[(512, page(1))])],
    );
    let report = replay(&mut hive, &[log, LogFile::new("x.LOG2", vec![])]).unwrap();
    assert!(!report.was_dirty);
    assert!(report.applied.is_empty());
    assert_eq!(report.skipped[0].reason, "hive is clean");
    assert_eq!(report.skipped[1].reason, "empty");
    assert_eq!(hive, original);
}

#[test]
fn chain_follows_wrap_around_and_grows_the_hive() {
    let start = u32::MAX - 1;
    let mut hive = primary((start.wrapping_add(1), start), 2 * BIN, 0xAA);
    let first = new_log(
        "x.LOG1",
        start,
        2 * BIN,
        &[
            entry(start, 2 * BIN, 0, &[(0, page(1))]),
            entry(u32::MAX, 2 * BIN, 0, &[(512, page(2))]),
        ],
    );
    let second = new_log(
        "x.LOG2",
        0,
        3 * BIN,
        &[
            entry(0, 3 * BIN, 0, &[(2 * BIN, page(3))]),
            entry(1, 3 * BIN, 1, &[(2 * BIN + 512, page(4))]),
        ],
    );
    // Given out of order on purpose: ordering is by sequence, not by argument position.
    let report = replay(&mut hive, &[second, first]).unwrap();
    assert!(report.was_dirty);
    assert_eq!(report.applied.len(), 2);
    assert_eq!(report.applied[0].path, PathBuf::from("x.LOG1"));
    assert_eq!(
        (
            report.applied[0].first_sequence,
            report.applied[0].last_sequence
        ),
        (start, u32::MAX)
    );
    assert_eq!(
        (
            report.applied[1].first_sequence,
            report.applied[1].last_sequence
        ),
        (0, 1)
    );
    assert_eq!(report.final_sequence(), Some(1));
    assert_eq!(hive.len(), BASE_BLOCK_SIZE + 3 * BIN as usize);
    let bins = &hive[BASE_BLOCK_SIZE..];
    assert_eq!(&bins[..512], &page(1)[..]);
    assert_eq!(&bins[512..1024], &page(2)[..]);
    assert_eq!(
        &bins[2 * BIN as usize..2 * BIN as usize + 512],
        &page(3)[..]
    );
    assert_eq!(&bins[1024..1028], &[0xAA; 4]);
    assert_clean(&hive, 1, 3 * BIN);
    assert_eq!(read_u32(&hive, off::FLAGS), Some(FLAG_KTM_LOCKED));
}

#[test]
fn stale_log_is_skipped_and_the_other_applied() {
    let mut hive = primary((567, 566), BIN, 0xAA);
    let stale = new_log("x.LOG2", 562, BIN, &[entry(562, BIN, 1, &[(0, page(9))])]);
    let current = new_log("x.LOG1", 566, BIN, &[entry(566, BIN, 0, &[(0, page(1))])]);
    let report = replay(&mut hive, &[current, stale]).unwrap();
    assert_eq!(report.applied.len(), 1);
    assert_eq!(report.applied[0].first_sequence, 566);
    assert!(report.skipped[0].reason.starts_with("stale"), "{report:?}");
    assert_eq!(hive[BASE_BLOCK_SIZE + 100], 1);
}

#[test]
fn sequence_gap_stops_the_log_and_the_second_log_must_continue() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    let first = new_log(
        "x.LOG1",
        5,
        BIN,
        &[
            entry(5, BIN, 0, &[(0, page(1))]),
            entry(7, BIN, 0, &[(0, page(2))]),
        ],
    );
    let second = new_log("x.LOG2", 7, BIN, &[entry(7, BIN, 0, &[(0, page(3))])]);
    let report = replay(&mut hive, &[first, second]).unwrap();
    assert_eq!(report.applied.len(), 1);
    let stop = report.applied[0].stop.as_ref().unwrap();
    assert_eq!(stop.offset, 1536);
    assert!(stop.reason.contains("sequence 7 where 6"), "{stop:?}");
    assert!(report.skipped[0].reason.contains("does not continue"));
    assert_eq!(hive[BASE_BLOCK_SIZE + 100], 1);
    assert_clean(&hive, 5, BIN);
}

#[test]
fn log_without_valid_entries_blocks_later_logs() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    let mut broken = entry(5, BIN, 0, &[(0, page(1))]);
    broken[300] ^= 1;
    let first = new_log("x.LOG1", 5, BIN, &[broken]);
    let second = new_log("x.LOG2", 6, BIN, &[entry(6, BIN, 0, &[(0, page(2))])]);
    let original = hive.clone();
    let err = replay(&mut hive, &[first, second]).unwrap_err();
    let LogError::DirtyWithoutUsableLog { skipped, .. } = &err else {
        panic!("{err}")
    };
    assert!(skipped[0].reason.contains("hash-1"), "{err}");
    assert!(skipped[1].reason.contains("does not continue"), "{err}");
    assert_eq!(hive, original);
}

#[test]
fn dirty_hive_without_logs_is_an_error() {
    let mut hive = primary((3, 2), BIN, 0);
    let err = replay(&mut hive, &[]).unwrap_err();
    assert!(matches!(err, LogError::DirtyWithoutUsableLog { .. }));
    assert!(err.to_string().contains("primary 3, secondary 2"), "{err}");
}

#[test]
fn hash_valid_page_outside_the_bins_is_an_error_and_changes_nothing() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    let original = hive.clone();
    let log = new_log(
        "x.LOG1",
        5,
        BIN,
        &[entry(5, BIN, 0, &[(BIN - 256, page(1))])],
    );
    let err = replay(&mut hive, &[log]).unwrap_err();
    let LogError::CorruptEntry { offset, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(offset, 512 + 40);
    assert_eq!(hive, original);
}

#[test]
fn absurd_bins_size_is_an_error_not_an_allocation() {
    for bins_size in [0x7FFF_F000, 0xFFFF_F000, 64 * 1024 * 1024] {
        let mut hive = primary((5, 4), BIN, 0xAA);
        let log = new_log("x.LOG1", 5, BIN, &[entry(5, bins_size, 0, &[(0, page(1))])]);
        let err = replay(&mut hive, &[log]).unwrap_err();
        assert!(
            matches!(err, LogError::CorruptEntry { offset: 528, .. }),
            "{err}"
        );
        assert_eq!(hive.len(), BASE_BLOCK_SIZE + BIN as usize);
    }
}

#[test]
fn page_count_larger_than_the_entry_is_an_error() {
    let mut raw = entry(5, BIN, 0, &[(0, page(1))]);
    write_u32(&mut raw, 20, 0x2000_0000);
    rehash(&mut raw);
    let mut hive = primary((5, 4), BIN, 0xAA);
    let err = replay(&mut hive, &[new_log("x.LOG1", 5, BIN, &[raw])]).unwrap_err();
    assert!(
        matches!(err, LogError::CorruptEntry { offset: 532, .. }),
        "{err}"
    );
}

#[test]
fn invalid_primary_base_block_is_rebuilt_from_the_latest_log() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    hive[off::ROOT] ^= 0xFF; // checksum now wrong
    let older = new_log("x.LOG1", 5, BIN, &[entry(5, BIN, 0, &[(0, page(1))])]);
    let newer = new_log(
        "x.LOG2",
        6,
        2 * BIN,
        &[
            entry(6, 2 * BIN, 0, &[(BIN, page(2))]),
            entry(7, 2 * BIN, 0, &[(512, page(3))]),
        ],
    );
    let report = replay(&mut hive, &[older, newer]).unwrap();
    assert!(report.base_block_from_log);
    assert_eq!(report.applied.len(), 1);
    assert_eq!(report.applied[0].path, PathBuf::from("x.LOG2"));
    assert_eq!(read_u32(&hive, off::ROOT), Some(32));
    assert_eq!(hive[BASE_BLOCK_SIZE], b'h', "older log must not be applied");
    assert_eq!(hive[BASE_BLOCK_SIZE + 600], 3);
    assert_clean(&hive, 7, 2 * BIN);
}

#[test]
fn invalid_primary_with_a_truncated_file_still_recovers() {
    let mut hive = b"junk".to_vec();
    let log = new_log(
        "x.LOG1",
        5,
        BIN,
        &[entry(5, BIN, 0, &[(0, vec![7; BIN as usize])])],
    );
    let report = replay(&mut hive, &[log]).unwrap();
    assert!(report.base_block_from_log);
    assert_eq!(hive.len(), BASE_BLOCK_SIZE + BIN as usize);
    assert_clean(&hive, 5, BIN);
}

/// An old-format log: base block, `DIRT`, bitmap, pages at the next sector.
fn old_log(sequence: u32, bins_size: u32, timestamp: u64, dirty: &[(usize, u8)]) -> LogFile {
    let mut data = base_block(
        file_type::OLD_LOG,
        (sequence, sequence),
        bins_size,
        timestamp,
    );
    data.truncate(LOG_BASE_BLOCK_SIZE);
    data.extend_from_slice(b"DIRT");
    let mut bitmap = vec![0u8; (bins_size / BIN) as usize];
    for &(page_index, _) in dirty {
        bitmap[page_index / 8] |= 1 << (page_index % 8);
    }
    data.extend_from_slice(&bitmap);
    data.resize(data.len().next_multiple_of(512), 0);
    let mut sorted = dirty.to_vec();
    sorted.sort();
    for (_, fill) in sorted {
        data.extend_from_slice(&page(fill));
    }
    LogFile::new("x.LOG", data)
}

#[test]
fn old_format_applies_marked_pages_when_timestamps_match() {
    let mut hive = primary((5, 4), 2 * BIN, 0xAA);
    let log = old_log(5, 2 * BIN, 77, &[(9, 1), (0, 2), (15, 3)]);
    let report = replay(&mut hive, &[log]).unwrap();
    assert_eq!(report.applied[0].format, LogFormat::Old);
    assert_eq!(report.applied[0].pages, 3);
    let bins = &hive[BASE_BLOCK_SIZE..];
    assert_eq!(bins[9 * 512], 1);
    assert_eq!(bins[0], 2);
    assert_eq!(bins[15 * 512 + 511], 3);
    assert_eq!(bins[7 * 512], 0xAA);
    assert_clean(&hive, 5, 2 * BIN);
}

#[test]
fn old_format_with_other_timestamp_is_skipped() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    let err = replay(&mut hive, &[old_log(5, BIN, 78, &[(0, 1)])]).unwrap_err();
    assert!(err.to_string().contains("timestamp 78"), "{err}");
}

#[test]
fn truncated_old_format_log_is_an_error() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    let original = hive.clone();
    let mut log = old_log(5, BIN, 77, &[(0, 1), (3, 2)]);
    log.data.truncate(log.data.len() - 1);
    let err = replay(&mut hive, &[log]).unwrap_err();
    assert!(
        matches!(err, LogError::CorruptOldLog { offset: 1536, .. }),
        "{err}"
    );
    assert_eq!(hive, original);
}

#[test]
fn every_truncation_of_a_log_is_handled() {
    let hive = primary((5, 4), 2 * BIN, 0xAA);
    let log = new_log(
        "x.LOG1",
        5,
        2 * BIN,
        &[
            entry(5, 2 * BIN, 0, &[(0, page(1))]),
            entry(6, 2 * BIN, 1, &[(BIN, page(2)), (512, page(3))]),
        ],
    );
    for len in 0..=log.data.len() {
        let truncated = LogFile::new("x.LOG1", log.data[..len].to_vec());
        let result = replay(&mut hive.clone(), &[truncated]);
        let complete_entries = match len {
            ..1536 => 0,
            1536..3072 => 1,
            _ => 2,
        };
        match result {
            Ok(report) => assert_eq!(report.applied[0].entries, complete_entries, "len {len}"),
            Err(LogError::DirtyWithoutUsableLog { .. }) => assert_eq!(complete_entries, 0),
            Err(err) => panic!("len {len}: {err}"),
        }
    }
}

#[test]
fn old_log_older_than_the_primary_is_stale_even_with_a_matching_timestamp() {
    let mut hive = primary((9, 8), BIN, 0xAA);
    let err = replay(&mut hive, &[old_log(5, BIN, 77, &[(0, 1)])]).unwrap_err();
    assert!(err.to_string().contains("stale"), "{err}");
}

#[test]
fn invalid_primary_is_matched_to_an_old_log_by_the_first_bin_timestamp() {
    let mut hive = primary((5, 4), BIN, 0xAA);
    hive[..4].copy_from_slice(b"junk");
    let report = replay(&mut hive, &[old_log(5, BIN, 77, &[(1, 1)])]).unwrap();
    assert!(report.base_block_from_log);
    assert_eq!(hive[BASE_BLOCK_SIZE + 512], 1);
    assert_clean(&hive, 5, BIN);
}

#[test]
fn files_that_are_not_logs_are_skipped_with_a_reason() {
    let mut not_a_log = base_block(file_type::PRIMARY, (5, 5), BIN, 77);
    not_a_log.truncate(LOG_BASE_BLOCK_SIZE);
    let mut torn = base_block(file_type::NEW_LOG, (6, 5), BIN, 77);
    torn.truncate(LOG_BASE_BLOCK_SIZE);
    let logs = [
        LogFile::new("a", not_a_log),
        LogFile::new("b", torn),
        LogFile::new("c", vec![0; 100]),
        LogFile::new("d", vec![]),
    ];
    let err = replay(&mut primary((5, 4), BIN, 0), &logs).unwrap_err();
    let LogError::DirtyWithoutUsableLog { skipped, .. } = err else {
        panic!("{err}")
    };
    let reasons: Vec<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons[0].contains("file type 0"), "{reasons:?}");
    assert!(reasons[1].contains("never completed"), "{reasons:?}");
    assert!(reasons[2].contains("too short"), "{reasons:?}");
    assert_eq!(reasons[3], "empty");
}
