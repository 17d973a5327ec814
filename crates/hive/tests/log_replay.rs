//! Log replay against real Windows hives and logs from /work/shared/fixtures
//! (see its README). Each test skips with a message when the fixtures are absent.
#![cfg(test)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a panic is a test failure"
)]

use hive::base::{BASE_BLOCK_SIZE, CHECKSUM_OFFSET, checksum, off, read_u32};
use hive::log::{LOG_ENTRY_SEED, LogError, LogFile, LogFormat, ReplayReport, marvin32, replay};
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

/// Reads fixture files, or `None` (with a note on stderr) when the folder is missing.
fn fixtures<const N: usize>(names: [&str; N]) -> Option<[(PathBuf, Vec<u8>); N]> {
    let dir = Path::new(FIXTURES);
    if !dir.is_dir() {
        eprintln!("skipped: fixture folder {} not found", dir.display());
        return None;
    }
    Some(names.map(|name| {
        let path = dir.join(name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (path, data)
    }))
}

fn log((path, data): &(PathBuf, Vec<u8>)) -> LogFile {
    LogFile::new(path.clone(), data.clone())
}

fn bins_size(hive: &[u8]) -> usize {
    read_u32(hive, off::BINS_SIZE).unwrap() as usize
}

fn bins(hive: &[u8]) -> &[u8] {
    &hive[BASE_BLOCK_SIZE..BASE_BLOCK_SIZE + bins_size(hive)]
}

/// The base block is clean: checksum valid, both sequence numbers `sequence`, primary type.
fn assert_clean_base_block(hive: &[u8], sequence: u32) {
    assert_eq!(&hive[..4], b"regf");
    assert_eq!(read_u32(hive, CHECKSUM_OFFSET), Some(checksum(hive)));
    assert_eq!(read_u32(hive, off::PRIMARY_SEQ), Some(sequence));
    assert_eq!(read_u32(hive, off::SECONDARY_SEQ), Some(sequence));
    assert_eq!(read_u32(hive, off::FILE_TYPE), Some(0));
    assert!(hive.len() >= BASE_BLOCK_SIZE + bins_size(hive));
}

fn ranges(report: &ReplayReport) -> Vec<(String, u32, u32, usize)> {
    report
        .applied
        .iter()
        .map(|log| {
            let name = log.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, log.first_sequence, log.last_sequence, log.entries)
        })
        .collect()
}

#[test]
fn new_dirty_hive_matches_the_copy_windows10_recovered() {
    let Some([primary, log1, log2, recovered]) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
        "yarp/NewDirtyHive1/RecoveredHive_Windows10",
    ]) else {
        return;
    };
    let mut hive = primary.1.clone();
    let report = replay(&mut hive, &[log(&log1), log(&log2)]).unwrap();
    assert!(report.was_dirty);
    assert_eq!((report.primary_sequence, report.secondary_sequence), (3, 2));
    assert_eq!(
        ranges(&report),
        [
            ("NewDirtyHive.LOG1".into(), 2, 2, 1),
            ("NewDirtyHive.LOG2".into(), 3, 5, 3)
        ]
    );
    assert!(report.applied.iter().all(|l| l.format == LogFormat::New));
    // LOG1 ends exactly at its last entry; LOG2 has zeros after entry 5.
    assert_eq!(report.applied[0].stop, None);
    assert_eq!(report.applied[1].stop.as_ref().unwrap().offset, 40960);
    assert!(report.skipped.is_empty());
    assert_clean_base_block(&hive, 5);
    let windows = &recovered.1;
    assert_eq!(bins_size(&hive), bins_size(windows));
    assert!(
        bins(&hive) == bins(windows),
        "bins differ from Windows 10's"
    );
    assert_ne!(
        bins(&primary.1),
        bins(windows),
        "replay must have changed something"
    );
}

#[test]
fn old_dirty_hive_applies_exactly_the_pages_the_bitmap_marks() {
    let Some([primary, log1, log2, recovered]) = fixtures([
        "yarp/OldDirtyHive/OldDirtyHive",
        "yarp/OldDirtyHive/OldDirtyHive.LOG1",
        "yarp/OldDirtyHive/OldDirtyHive.LOG2",
        "yarp/OldDirtyHive/RecoveredHive_Windows7",
    ]) else {
        return;
    };
    let mut hive = primary.1.clone();
    let report = replay(&mut hive, &[log(&log1), log(&log2)]).unwrap();
    assert_eq!(ranges(&report), [("OldDirtyHive.LOG1".into(), 5, 5, 1)]);
    assert_eq!(report.applied[0].format, LogFormat::Old);
    assert_eq!(report.applied[0].pages, 64);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].reason, "empty");
    assert_clean_base_block(&hive, 5);
    assert_eq!(bins_size(&hive), 487_424);

    // Page i of the bins comes from the log if bitmap bit i is set, else from the primary.
    let log_data = &log1.1;
    let bitmap = &log_data[516..516 + 487_424 / 4096];
    let mut next_page = 1024; // 516 + 119 bitmap bytes, rounded up to a sector
    let mut changed_pages = 0;
    for page in 0..487_424 / 512 {
        let at = BASE_BLOCK_SIZE + page * 512;
        let result = &hive[at..at + 512];
        if bitmap[page / 8] & (1 << (page % 8)) != 0 {
            assert_eq!(result, &log_data[next_page..next_page + 512], "page {page}");
            changed_pages += usize::from(result != &primary.1[at..at + 512]);
            next_page += 512;
        } else {
            assert_eq!(result, &primary.1[at..at + 512], "page {page}");
        }
    }
    assert_eq!(
        next_page,
        log_data.len(),
        "the log holds exactly the marked pages"
    );
    assert_eq!(changed_pages, 15);

    // Windows 7's recovered copy differs only where Windows wrote again after recovery: the
    // first bin's timestamp (bins offset 20..25) and key `4500`'s "largest value name
    // length" (nk at 437640, field 60), recomputed from 24 to 2.
    let windows = &recovered.1;
    let differing: Vec<usize> = (0..487_424)
        .filter(|&i| hive[BASE_BLOCK_SIZE + i] != windows[BASE_BLOCK_SIZE + i])
        .collect();
    assert_eq!(differing, [20, 21, 22, 23, 24, 437_704]);
}

#[test]
fn regipy_transactions_ntuser_skips_the_stale_log2() {
    let Some([primary, log1, log2]) = fixtures([
        "regipy/transactions_NTUSER.DAT",
        "regipy/transactions_ntuser.dat.log1",
        "regipy/transactions_ntuser.dat.log2",
    ]) else {
        return;
    };
    let mut hive = primary.1.clone();
    let report = replay(&mut hive, &[log(&log1), log(&log2)]).unwrap();
    assert_eq!(
        (report.primary_sequence, report.secondary_sequence),
        (567, 566)
    );
    assert_eq!(
        ranges(&report),
        [("transactions_ntuser.dat.log1".into(), 566, 588, 23)]
    );
    assert_eq!(
        report.applied[0].stop, None,
        "log1 ends exactly at entry 588"
    );
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0]
            .path
            .ends_with("transactions_ntuser.dat.log2")
    );
    assert!(
        report.skipped[0].reason.contains("562") && report.skipped[0].reason.contains("566"),
        "{:?}",
        report.skipped[0]
    );
    assert_clean_base_block(&hive, 588);
    assert_eq!(
        bins_size(&hive),
        925_696,
        "grown from 778240 by the entries"
    );
    assert_eq!(&hive[BASE_BLOCK_SIZE..BASE_BLOCK_SIZE + 4], b"hbin");
}

#[test]
fn regipy_usrclass_applies_both_logs_through_300() {
    let Some([primary, log1, log2]) = fixtures([
        "regipy/UsrClass.dat",
        "regipy/UsrClass.dat.LOG1",
        "regipy/UsrClass.dat.LOG2",
    ]) else {
        return;
    };
    let mut hive = primary.1.clone();
    // Passed in reverse order: ordering comes from the sequence numbers.
    let report = replay(&mut hive, &[log(&log2), log(&log1)]).unwrap();
    assert_eq!(
        (report.primary_sequence, report.secondary_sequence),
        (256, 255)
    );
    assert_eq!(
        ranges(&report),
        [
            ("UsrClass.dat.LOG1".into(), 287, 290, 4),
            ("UsrClass.dat.LOG2".into(), 291, 300, 10)
        ]
    );
    assert_eq!(report.final_sequence(), Some(300));
    assert_clean_base_block(&hive, 300);
    assert_eq!(bins_size(&hive), 2_830_336);
    assert_ne!(bins(&hive), bins(&primary.1));
}

#[test]
fn clean_hive_is_not_touched() {
    let Some([primary]) = fixtures(["regipy/NTUSER.DAT"]) else {
        return;
    };
    let mut hive = primary.1.clone();
    let unrelated = LogFile::new("NTUSER.DAT.LOG1", vec![0; 4096]);
    let report = replay(&mut hive, &[unrelated]).unwrap();
    assert!(!report.was_dirty);
    assert!(report.applied.is_empty());
    assert_eq!(report.skipped[0].reason, "hive is clean");
    assert_eq!(hive, primary.1);
}

#[test]
fn dirty_hive_without_logs_is_refused() {
    let Some([primary, empty]) = fixtures([
        "yarp/OldDirtyHive/OldDirtyHive",
        "yarp/OldDirtyHive/OldDirtyHive.LOG2",
    ]) else {
        return;
    };
    for logs in [vec![], vec![log(&empty)]] {
        let mut hive = primary.1.clone();
        let err = replay(&mut hive, &logs).unwrap_err();
        assert!(
            matches!(err, LogError::DirtyWithoutUsableLog { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("primary 5, secondary 4"), "{err}");
        assert_eq!(hive, primary.1, "a failed replay leaves the hive unchanged");
    }
}

/// Every `HvLE` entry of every fixture log: (log, offset, size); validated independently of
/// the replay code by recomputing both Marvin32 hashes.
#[test]
fn every_fixture_entry_hash_validates() {
    let Some(logs) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
        "regipy/transactions_ntuser.dat.log1",
        "regipy/transactions_ntuser.dat.log2",
        "regipy/UsrClass.dat.LOG1",
        "regipy/UsrClass.dat.LOG2",
    ]) else {
        return;
    };
    let mut total = 0;
    for (path, data) in &logs {
        let mut at = 512;
        while at + 40 <= data.len() && &data[at..at + 4] == b"HvLE" {
            let size = read_u32(data, at + 4).unwrap() as usize;
            let entry = &data[at..at + size];
            let stored = |o: usize| u64::from_le_bytes(entry[o..o + 8].try_into().unwrap());
            assert_eq!(
                stored(24),
                marvin32(LOG_ENTRY_SEED, &entry[40..]),
                "{path:?} @{at}"
            );
            assert_eq!(
                stored(32),
                marvin32(LOG_ENTRY_SEED, &entry[..32]),
                "{path:?} @{at}"
            );
            at += size;
            total += 1;
        }
    }
    assert_eq!(total, 1 + 3 + 23 + 1 + 4 + 10);
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Flipping any byte of NewDirtyHive.LOG2 stops replay at the entry holding it; the base
/// block's checksum guards the first 512 bytes; bytes after the last entry do not matter.
#[test]
fn a_flipped_byte_stops_replay_at_its_entry() {
    let Some([primary, log1, log2]) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
    ]) else {
        return;
    };
    // LOG2 entries: seq 3 at 512, seq 4 at 8192, seq 5 at 32768, end 40960.
    let expected_last = |at: usize| match at {
        ..8192 => None,
        8192..32768 => Some(3),
        32768..40960 => Some(4),
        _ => Some(5),
    };
    let offsets = (0..1024).chain((1024..log2.1.len()).step_by(61));
    for at in offsets {
        let mut corrupt = log2.1.clone();
        corrupt[at] ^= 0x20;
        let mut hive = primary.1.clone();
        let report = replay(&mut hive, &[log(&log1), LogFile::new(&log2.0, corrupt)]).unwrap();
        let log2_last = report.applied.get(1).map(|l| l.last_sequence);
        assert_eq!(log2_last, expected_last(at), "flipped byte at {at}");
        assert_clean_base_block(&hive, log2_last.unwrap_or(2));
        if let Some(stop) = report.applied.get(1).and_then(|l| l.stop.as_ref())
            && at < 40960
        {
            assert!(stop.reason.contains("hash"), "at {at}: {stop:?}");
        }
    }
}

/// LOG1 of NewDirtyHive holds sequence 2: damage its only entry and LOG2 (3..5) cannot be
/// applied either; damage its base block and LOG2 is the first usable log.
#[test]
fn a_damaged_first_log_blocks_the_second() {
    let Some([primary, log1, log2]) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
    ]) else {
        return;
    };
    for at in (0..log1.1.len()).step_by(97) {
        let mut corrupt = log1.1.clone();
        corrupt[at] ^= 1;
        let mut hive = primary.1.clone();
        let result = replay(&mut hive, &[LogFile::new(&log1.0, corrupt), log(&log2)]);
        if at < 512 {
            let report = result.unwrap();
            assert_eq!(ranges(&report), [("NewDirtyHive.LOG2".into(), 3, 5, 3)]);
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(err, LogError::DirtyWithoutUsableLog { .. }),
                "{err}"
            );
            assert_eq!(hive, primary.1);
        }
    }
}

#[test]
fn truncated_logs_never_panic() {
    let Some([primary, log1, log2]) = fixtures([
        "regipy/transactions_NTUSER.DAT",
        "regipy/transactions_ntuser.dat.log1",
        "regipy/transactions_ntuser.dat.log2",
    ]) else {
        return;
    };
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let lengths = (0..2048)
        .chain((0..64).map(|_| rng.below(log1.1.len())))
        .chain([241_663, 241_664, 241_665, 348_160, log1.1.len() - 1]);
    for len in lengths {
        let mut hive = primary.1.clone();
        let truncated = LogFile::new(&log1.0, log1.1[..len].to_vec());
        match replay(&mut hive, &[truncated, log(&log2)]) {
            Ok(report) => {
                let applied = &report.applied[0];
                assert_eq!(applied.first_sequence, 566, "len {len}");
                assert!(len >= 241_664, "len {len}: entry 566 cannot be complete");
                assert_clean_base_block(&hive, applied.last_sequence);
            }
            Err(LogError::DirtyWithoutUsableLog { .. }) => assert!(len < 241_664, "len {len}"),
            Err(err) => panic!("len {len}: {err}"),
        }
    }
}

/// Random damage to both logs, including many bytes at once, must give a report or an
/// error, never a panic; a report always leaves a clean base block.
#[test]
fn random_damage_never_panics() {
    let Some([primary, log1, log2]) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
    ]) else {
        return;
    };
    let mut rng = Rng(0x0DD_BA11_CAFE_F00D);
    let (mut replayed, mut refused) = (0, 0);
    for round in 0..400 {
        let mut logs = [log(&log1), log(&log2)];
        for log in &mut logs {
            for _ in 0..rng.below(6) {
                let at = rng.below(log.data.len());
                log.data[at] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                let len = rng.below(log.data.len() + 1);
                log.data.truncate(len);
            }
        }
        let mut hive = primary.1.clone();
        if round % 5 == 0 {
            let at = rng.below(512);
            hive[at] ^= 0xFF; // invalid primary base block: recovery from a log
        }
        match replay(&mut hive, &logs) {
            Ok(report) => {
                replayed += 1;
                assert_clean_base_block(&hive, report.final_sequence().unwrap());
                assert!(hive.len() <= primary.1.len() + log1.1.len() + log2.1.len());
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        replayed > 50 && refused > 50,
        "{replayed} replayed, {refused} refused"
    );
}

/// Entries whose hashes are valid but whose fields are random: hashes do not make contents
/// trustworthy, so these must be rejected or applied within bounds, never panic or allocate
/// without limit.
#[test]
fn hash_valid_random_entries_are_bounded() {
    let Some([primary, log1]) = fixtures([
        "yarp/NewDirtyHive1/NewDirtyHive",
        "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
    ]) else {
        return;
    };
    let mut rng = Rng(0xFEED_FACE_1234_5678);
    let mut outcomes = [0usize; 3];
    for _ in 0..2000 {
        let mut data = log1.1.clone();
        let entry = &mut data[512..];
        for _ in 0..1 + rng.below(3) {
            // Header fields 4..24 (size, flags, sequence, bins size, count) or a page reference.
            let field = [4, 8, 12, 16, 20, 40, 44][rng.below(7)];
            let value = match rng.below(4) {
                0 => rng.next() as u32,
                1 => u32::MAX - rng.below(8192) as u32,
                2 => rng.below(70_000) as u32 & !511,
                _ => rng.below(4) as u32,
            };
            entry[field..field + 4].copy_from_slice(&value.to_le_bytes());
        }
        let size = (read_u32(entry, 4).unwrap() as usize).clamp(40, entry.len());
        let body_hash = marvin32(LOG_ENTRY_SEED, &entry[40..size]);
        entry[24..32].copy_from_slice(&body_hash.to_le_bytes());
        let header_hash = marvin32(LOG_ENTRY_SEED, &entry[..32]);
        entry[32..40].copy_from_slice(&header_hash.to_le_bytes());

        let mut hive = primary.1.clone();
        match replay(&mut hive, &[LogFile::new(&log1.0, data.clone())]) {
            Ok(report) => {
                outcomes[0] += 1;
                assert_clean_base_block(&hive, 2);
                assert_eq!(report.applied[0].entries, 1);
                assert!(hive.len() <= primary.1.len() + data.len());
            }
            Err(LogError::CorruptEntry { offset, .. }) => {
                outcomes[1] += 1;
                assert!((512..512 + 24_064).contains(&offset), "offset {offset}");
                assert_eq!(hive, primary.1);
            }
            Err(LogError::DirtyWithoutUsableLog { .. }) => {
                outcomes[2] += 1;
                assert_eq!(hive, primary.1);
            }
            Err(err) => panic!("{err}"),
        }
    }
    // Applied / rejected as corrupt / stopped by the entry checks: all three must occur.
    assert!(outcomes.iter().all(|&n| n > 50), "{outcomes:?}");
}
