//! `translate_file` (the fast path of `admu hive translate`) against the whole-hive path
//! it stands in for: the same bytes written (the base block's timestamp and checksum
//! aside), the same report; the cases it leaves to the whole-hive path write nothing;
//! corrupt input is refused naming the offset, with nothing written.
#![cfg(test)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a panic is a test failure"
)]

use std::path::{Path, PathBuf};

use hive::translate_file::{Done, NeedsWholeHive, Outcome, TranslateFile, translate_file};
use hive::{Error, Hive};

const NTUSER: &str = "regipy/NTUSER.DAT";
const NTUSER_SID: &str = "S-1-5-21-2036804247-3058324640-2116585241-1673";
const SAME_LENGTH: &str = "S-1-5-21-1111111111-2222222222-3333333333-1001";

/// A fixture copied into a fresh folder (the fixtures are never written).
fn copy_of(test: &str, fixture: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let src = testbed::fixture(test, fixture)?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(src.file_name().unwrap());
    std::fs::copy(&src, &file).unwrap();
    Some((dir, file))
}

fn map_to(new: &str) -> ntsec::SidMap {
    ntsec::SidMap::from_pairs([format!("{NTUSER_SID}={new}")]).unwrap()
}

fn done(outcome: Outcome) -> Done {
    match outcome {
        Outcome::Done(done) => done,
        Outcome::NeedsWholeHive(why) => panic!("left to the whole-hive path: {why}"),
    }
}

/// The file with the base block's timestamp (12..20) and checksum (508..512) zeroed.
fn without_stamp(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[12..20].fill(0);
    bytes[508..512].fill(0);
    bytes
}

/// Equal bytes, or a failure naming the first offset that differs (not both dumps).
fn same_bytes(got: &[u8], expected: &[u8]) {
    let first = got.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        first.is_none() && got.len() == expected.len(),
        "bytes differ at offset {first:?} (lengths {} and {})",
        got.len(),
        expected.len()
    );
}

/// What the whole-hive path writes for the same translation.
fn whole_hive_output(input: &Path, map: &ntsec::SidMap, out: &Path) -> hive::RewriteReport {
    let mut hive = Hive::open(input).unwrap();
    let report = hive.translate_sids(map, ntsec::Mode::Replace).unwrap();
    hive.save_as(out).unwrap();
    report
}

#[test]
fn writes_what_the_whole_hive_path_writes() {
    let Some((dir, file)) = copy_of("writes_what_the_whole_hive_path_writes", NTUSER) else {
        return;
    };
    let before = std::fs::read(&file).unwrap();
    let map = map_to(SAME_LENGTH);
    let fast = dir.path().join("fast.dat");
    let how = TranslateFile::new(&map, ntsec::Mode::Replace).output(&fast);
    let got = done(translate_file(&file, &how).unwrap());
    same_bytes(&std::fs::read(&file).unwrap(), &before);

    let whole = dir.path().join("whole.dat");
    let report = whole_hive_output(&file, &map, &whole);
    assert!(report.cells_changed > 0);
    assert_eq!(got.report, report);
    same_bytes(&without_stamp(&fast), &without_stamp(&whole));

    let saved = got.saved.unwrap();
    assert_eq!(saved.path, fast);
    let back = Hive::open(&fast).unwrap();
    assert!(!back.on_disk().dirty(), "written clean");
    assert_eq!(back.on_disk().primary_sequence, saved.sequence);
    assert!(back.check().is_ok());
    for sk in back.security_cells().unwrap() {
        let sd = ntsec::SecurityDescriptor::from_bytes(sk.descriptor()).unwrap();
        assert!(sd.sids().all(|s| s.to_string() != NTUSER_SID));
    }
}

#[test]
fn in_place_replaces_the_file_and_empties_its_logs() {
    let Some((dir, file)) = copy_of("in_place_replaces_the_file_and_empties_its_logs", NTUSER)
    else {
        return;
    };
    let map = map_to(SAME_LENGTH);
    let whole = dir.path().join("whole.dat");
    whole_hive_output(&file, &map, &whole);
    // Stale entries in the logs of a clean hive: a save empties them.
    let log = dir.path().join("ntuser.dat.LOG1");
    std::fs::write(&log, b"stale").unwrap();

    let got = done(translate_file(&file, &TranslateFile::new(&map, ntsec::Mode::Replace)).unwrap());
    let saved = got.saved.unwrap();
    assert_eq!(saved.path, file);
    assert_eq!(saved.logs_emptied, vec![log.clone()]);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
    same_bytes(&without_stamp(&file), &without_stamp(&whole));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_dry_run_or_nothing_to_change_writes_nothing() {
    let Some((dir, file)) = copy_of("a_dry_run_or_nothing_to_change_writes_nothing", NTUSER) else {
        return;
    };
    let before = std::fs::read(&file).unwrap();
    let map = map_to(SAME_LENGTH);
    let out = dir.path().join("out.dat");
    let how = TranslateFile::new(&map, ntsec::Mode::Replace)
        .output(&out)
        .dry_run(true);
    let got = done(translate_file(&file, &how).unwrap());
    assert!(got.report.cells_changed > 0);
    assert!(got.saved.is_none());
    assert!(!out.exists());

    let absent = ntsec::SidMap::from_pairs([format!("S-1-5-21-1-2-3-1000={SAME_LENGTH}")]).unwrap();
    let got =
        done(translate_file(&file, &TranslateFile::new(&absent, ntsec::Mode::Replace)).unwrap());
    assert_eq!(got.report.cells_changed, 0);
    assert!(
        got.saved.is_none(),
        "nothing changed: the file is not rewritten"
    );
    same_bytes(&std::fs::read(&file).unwrap(), &before);

    // With an output, it is written even so, as a clean copy.
    let how = TranslateFile::new(&absent, ntsec::Mode::Replace).output(&out);
    assert!(done(translate_file(&file, &how).unwrap()).saved.is_some());
    let copy = std::fs::read(&out).unwrap();
    same_bytes(&copy[20..508], &before[20..508]);
    same_bytes(&copy[512..], &before[512..]);
}

#[test]
fn leaves_moves_merges_and_dirty_hives_to_the_whole_hive_path() {
    let test = "leaves_moves_merges_and_dirty_hives_to_the_whole_hive_path";
    let Some((dir, file)) = copy_of(test, NTUSER) else {
        return;
    };
    let before = std::fs::read(&file).unwrap();
    let out = dir.path().join("out.dat");
    let needs = |file: &Path, map: &ntsec::SidMap| {
        let how = TranslateFile::new(map, ntsec::Mode::Replace).output(&out);
        match translate_file(file, &how).unwrap() {
            Outcome::NeedsWholeHive(why) => why,
            Outcome::Done(done) => panic!("translated: {:?}", done.report),
        }
    };
    let longer = map_to("S-1-5-21-1111111111-2222222222-3333333333-3444444444-1001");
    assert_eq!(needs(&file, &longer), NeedsWholeHive::Grows);

    // Two keys whose descriptors differ only by the SID: translating makes them equal.
    let mut hive = Hive::open(&file).unwrap();
    let with = |sid: &str| {
        ntsec::SecurityDescriptor::from_sddl(&format!("O:{sid}G:{sid}D:P(A;OICI;KA;;;{sid})"))
            .unwrap()
            .to_bytes()
            .unwrap()
    };
    let a = hive.create_key_path(r"admu\old").unwrap();
    let b = hive.create_key_path(r"admu\new").unwrap();
    hive.set_key_security(a, &with(NTUSER_SID)).unwrap();
    hive.set_key_security(b, &with(SAME_LENGTH)).unwrap();
    let merging = dir.path().join("merging.dat");
    hive.save_as(&merging).unwrap();
    assert_eq!(
        needs(&merging, &map_to(SAME_LENGTH)),
        NeedsWholeHive::Merges
    );
    assert!(!out.exists(), "nothing written");
    same_bytes(&std::fs::read(&file).unwrap(), &before);

    let Some((_dirty_dir, dirty)) = copy_of(test, "regipy/transactions_NTUSER.DAT") else {
        return;
    };
    let map = ntsec::SidMap::from_pairs([
        "S-1-5-21-2595688666-2948619230-3055395256-1001=S-1-5-21-2595688666-2948619230-3055395256-1002",
    ])
    .unwrap();
    assert_eq!(needs(&dirty, &map), NeedsWholeHive::Dirty);
    assert!(!out.exists(), "nothing written");
}

#[test]
fn corrupt_input_is_refused_naming_the_offset() {
    let test = "corrupt_input_is_refused_naming_the_offset";
    let Some((dir, file)) = copy_of(test, NTUSER) else {
        return;
    };
    let map = map_to(SAME_LENGTH);
    let out = dir.path().join("out.dat");
    let good = std::fs::read(&file).unwrap();
    let refused = |bytes: &[u8]| -> (u64, String) {
        std::fs::write(&file, bytes).unwrap();
        let how = TranslateFile::new(&map, ntsec::Mode::Replace).output(&out);
        let err = translate_file(&file, &how).expect_err("corrupt input translated");
        assert!(!out.exists(), "nothing written");
        match err {
            Error::Corrupt { offset, reason } => (offset, reason),
            other => panic!("not a corruption error: {other}"),
        }
    };

    // The second bin's signature.
    let mut bytes = good.clone();
    let second = 4096 + u32::from_le_bytes(bytes[4096 + 8..4096 + 12].try_into().unwrap()) as usize;
    bytes[second] = b'X';
    let (offset, reason) = refused(&bytes);
    assert_eq!(offset, second as u64);
    assert!(
        reason.contains("hbin") && reason.contains("NTUSER.DAT"),
        "{reason}"
    );

    // The root key's sk list pointing past the bins.
    let mut bytes = good.clone();
    let root = u32::from_le_bytes(bytes[36..40].try_into().unwrap()) as usize;
    let security = 4096 + root + 4 + 44;
    bytes[security..security + 4].copy_from_slice(&0x7fff_fff8u32.to_le_bytes());
    let (offset, reason) = refused(&bytes);
    assert_eq!(offset, 4096 + 0x7fff_fff8);
    assert!(reason.contains("outside the hive bins"), "{reason}");

    // A file cut short inside its bins.
    let (_, reason) = refused(&good[..good.len() / 2]);
    assert!(reason.contains("truncated"), "{reason}");
}
