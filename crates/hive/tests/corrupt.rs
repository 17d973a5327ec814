//! Corrupt hives: every damaged input must give a typed [`hive::Error`] naming an offset
//! (or read consistently), never a panic, a hang, a stack overflow, or a write to the
//! file that was opened.
//!
//! Each case starts from a real fixture (`/work/shared/fixtures`, skipped visibly when
//! missing), damages one structure, and goes through [`exercise`]: open (with and
//! without logs, and from bytes), walk every key and value, export `.reg` and JSON,
//! `check()`, list the sk cells, then a handful of edits with a `save_as` into another
//! folder, under a deadline. The original file (and its logs) must be byte-identical
//! afterwards. When `check()` finds no error, everything else must succeed too, and
//! successful edits must leave a hive that still checks clean.
#![cfg(test)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a panic is a test failure"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hive::base::{BASE_BLOCK_SIZE, fix_checksum, off, read_u16, read_u32};
use hive::export::{ExportOptions, Format, RegEncoding};
use hive::log::LogError;
use hive::{Error, Hive, OpenOptions};

const ACRONIS: &str = "ericzimmerman-registry/Acronis_0x52_Usrclass.dat";
const NTUSER: &str = "regipy/NTUSER.DAT";
const SAM5: &str = "turbinia/SAM";

/// Offsets inside cells (formats.md §1.5/§1.6), relative to the cell's data.
mod nk {
    pub const PARENT: usize = 16;
    pub const SUBKEY_COUNT: usize = 20;
    pub const SUBKEY_LIST: usize = 28;
    pub const VALUE_COUNT: usize = 36;
    pub const VALUE_LIST: usize = 40;
    pub const SECURITY: usize = 44;
    pub const CLASS: usize = 48;
    pub const NAME_LEN: usize = 72;
    pub const CLASS_LEN: usize = 74;
}
mod vk {
    pub const NAME_LEN: usize = 2;
    pub const DATA_SIZE: usize = 4;
    pub const DATA: usize = 8;
}
mod sk {
    pub const FLINK: usize = 4;
    pub const BLINK: usize = 8;
    pub const REFCOUNT: usize = 12;
    pub const SD_LEN: usize = 16;
}

// ---------------------------------------------------------------------------------------
// Raw byte helpers: cells are addressed by their offset relative to the hive bins.

fn size_at(cell: u32) -> usize {
    BASE_BLOCK_SIZE + cell as usize
}
fn field_at(cell: u32, field: usize) -> usize {
    size_at(cell) + 4 + field
}
fn get32(file: &[u8], cell: u32, field: usize) -> u32 {
    read_u32(file, field_at(cell, field)).unwrap()
}
fn set32(file: &mut [u8], cell: u32, field: usize, v: u32) {
    let at = field_at(cell, field);
    file[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn set16(file: &mut [u8], cell: u32, field: usize, v: u16) {
    let at = field_at(cell, field);
    file[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set_size(file: &mut [u8], cell: u32, size: i32) {
    let at = size_at(cell);
    file[at..at + 4].copy_from_slice(&size.to_le_bytes());
}
fn cell_size(file: &[u8], cell: u32) -> i32 {
    read_u32(file, size_at(cell)).unwrap() as i32
}
fn put_base(file: &mut [u8], at: usize, v: u32) {
    file[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
/// Fixes the base-block checksum so the damage is structural, not "dirty".
fn sealed(mut file: Vec<u8>) -> Vec<u8> {
    fix_checksum(&mut file);
    file
}

fn load(test: &str, fixture: &str) -> Option<Vec<u8>> {
    testbed::fixture(test, fixture).map(|p| std::fs::read(p).unwrap())
}

fn hive_of(file: &[u8]) -> Hive {
    Hive::from_bytes_without_logs(file.to_vec()).unwrap()
}

/// Landmarks of a clean hive that the cases damage.
#[derive(Debug, Clone)]
struct Landmarks {
    root: u32,
    /// A non-root key with at least two subkeys, its first child and its parent.
    key: u32,
    child: u32,
    parent: u32,
    /// A value whose data lives in its own cell, and that data cell.
    value: u32,
    value_data: u32,
    sks: Vec<u32>,
}

fn landmarks(file: &[u8]) -> Landmarks {
    let h = hive_of(file);
    let root = h.root_offset();
    let mut found = None;
    let mut value = None;
    for k in h.all_key_offsets().unwrap() {
        let key = h.key_at(k).unwrap();
        if found.is_none() && k != root && key.subkey_count() >= 2 && key.value_count() >= 1 {
            found = Some((k, key.subkey_offsets().unwrap()[0], key.parent_offset()));
        }
        if value.is_none() {
            for v in key.values().unwrap() {
                if !v.is_inline() && v.data_len() > 8 && v.data_len() < 1000 {
                    value = Some((v.offset(), get32(file, v.offset(), vk::DATA)));
                    break;
                }
            }
        }
    }
    let (key, child, parent) = found.unwrap();
    let (value, value_data) = value.unwrap();
    Landmarks {
        root,
        key,
        child,
        parent,
        value,
        value_data,
        sks: h
            .security_cells()
            .unwrap()
            .iter()
            .map(|s| s.offset())
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// The exercise every damaged file goes through.

/// What happened to one damaged file.
#[derive(Debug, Default, Clone)]
struct Outcome {
    /// Error opening without logs (`from_bytes_without_logs` agrees with it).
    open_error: Option<String>,
    /// Error opening with logs.
    open_with_logs_error: Option<String>,
    check_errors: usize,
    check_messages: Vec<String>,
    walk_error: Option<String>,
    security_error: Option<String>,
    saved: bool,
}

/// Errors from reading must be structural and name a file offset.
fn assert_read_error(case: &str, what: &str, e: &Error) {
    match e {
        Error::Corrupt { reason, .. } => assert!(!reason.is_empty(), "{case}: {what}: {e}"),
        other => panic!("{case}: {what}: expected Error::Corrupt, got {other:?}"),
    }
}

fn assert_open_error(case: &str, e: &Error) {
    assert!(
        matches!(
            e,
            Error::Corrupt { .. } | Error::NotAHive { .. } | Error::Log(_)
        ),
        "{case}: open: untyped error {e:?}"
    );
}

/// Edit errors may also be refusals or "too large", never I/O or lookups gone wrong.
fn assert_edit_error(case: &str, what: &str, e: &Error) {
    assert!(
        matches!(
            e,
            Error::Corrupt { .. } | Error::Invalid(_) | Error::TooLarge | Error::Security { .. }
        ),
        "{case}: {what}: unexpected error {e:?}"
    );
}

/// Every key and value read the way a consumer reads them; returns the key count.
fn walk_all(h: &Hive) -> hive::Result<usize> {
    let mut keys = 0;
    hive::export::walk(h, h.root()?, "", &mut |k, _path| {
        keys += 1;
        let _ = (k.name(), k.last_written(), k.largest(), k.flags());
        k.class_name()?;
        k.security_descriptor()?;
        for v in k.values()? {
            let _ = (v.name(), v.kind());
            v.data()?;
            v.decoded()?;
        }
        Ok(())
    })?;
    Ok(keys)
}

fn export_all(h: &Hive, formats: &[(Format, RegEncoding)]) -> hive::Result<()> {
    for &(format, encoding) in formats {
        let options = ExportOptions {
            format,
            prefix: "HKEY_USERS\\X".into(),
            encoding,
        };
        hive::export::export(h, h.root()?, "", &options, &mut std::io::sink())?;
    }
    Ok(())
}

const ALL_EXPORTS: &[(Format, RegEncoding)] = &[
    (Format::Json, RegEncoding::Utf8),
    (Format::Reg, RegEncoding::Utf8),
    (Format::Reg, RegEncoding::Utf16),
];

fn sd(sddl: &str) -> Vec<u8> {
    ntsec::SecurityDescriptor::from_sddl(sddl)
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// Reads everything, checks, and returns findings; panics on inconsistencies.
fn probe(case: &str, h: &Hive, exports: &[(Format, RegEncoding)], out: &mut Outcome) -> bool {
    let report = h.check();
    out.check_errors = report.errors();
    out.check_messages = report
        .findings
        .iter()
        .filter(|f| f.severity == hive::Severity::Error)
        .map(|f| format!("{:#x}: {}", f.offset, f.message))
        .collect();
    let walked = walk_all(h);
    let exported = export_all(h, exports);
    let sks = h.security_cells().map(|s| s.len());
    let keys = h.all_key_offsets().map(|k| k.len());
    for (what, r) in [
        ("walk", walked.as_ref().err()),
        ("export", exported.as_ref().err()),
        ("security_cells", sks.as_ref().err()),
        ("all_key_offsets", keys.as_ref().err()),
    ] {
        if let Some(e) = r {
            assert_read_error(case, what, e);
        }
    }
    out.walk_error = walked.as_ref().err().map(ToString::to_string);
    out.security_error = sks.as_ref().err().map(ToString::to_string);
    let clean = report.is_ok();
    if clean {
        // check() vouched for the hive: every reader must agree.
        assert!(
            walked.is_ok(),
            "{case}: check() clean but walk failed: {walked:?}"
        );
        assert!(
            exported.is_ok(),
            "{case}: check() clean but export failed: {exported:?}"
        );
        assert!(
            sks.is_ok(),
            "{case}: check() clean but sk list failed: {sks:?}"
        );
        assert_eq!(
            walked.as_ref().ok(),
            keys.as_ref().ok(),
            "{case}: walk and all_key_offsets disagree"
        );
        assert_eq!(
            *walked.as_ref().unwrap() as u64,
            report.keys,
            "{case}: check() counted another number of keys"
        );
    }
    clean
}

/// After a successful edit of a hive that checked clean, it must still check clean.
fn still_clean(case: &str, what: &str, h: &Hive, was_clean: bool) {
    if was_clean {
        let r = h.check();
        assert!(
            r.is_ok(),
            "{case}: after {what} the hive no longer checks clean: {:#?}",
            r.findings
        );
    }
}

/// Edits on copies of the hive; one of them is saved into `out_dir` and read back.
fn try_edits(case: &str, h: &Hive, was_clean: bool, out_dir: &Path, save: bool) -> bool {
    let descriptor = sd("O:BAG:SYD:(A;;KA;;;SY)(A;;KR;;;WD)");
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut saved = false;

    // 1. Create a key with values and its own descriptor; save it elsewhere; read back.
    let mut a = h.clone();
    let created = (|| -> hive::Result<u32> {
        let k = a.create_key(a.root_offset(), "admu corrupt test")?;
        a.set_value(k, "big", 3, &big)?;
        a.set_value(k, "small", 4, &[1, 2, 3, 4])?;
        a.set_value(k, "", 1, &hive::value::encode_sz("default"))?;
        a.set_key_security(k, &descriptor)?;
        Ok(k)
    })();
    match created {
        Err(e) => assert_edit_error(case, "create + set_value", &e),
        Ok(_) => {
            still_clean(case, "create + set_value", &a, was_clean);
            if save {
                let target = out_dir.join("saved.dat");
                match a.save_as(&target) {
                    Err(e) => panic!("{case}: save_as failed after successful edits: {e}"),
                    Ok(_) => {
                        saved = true;
                        let back = Hive::open_with(&target, OpenOptions { use_logs: false })
                            .unwrap_or_else(|e| panic!("{case}: saved hive does not open: {e}"));
                        let k = back
                            .key("admu corrupt test")
                            .unwrap_or_else(|e| panic!("{case}: saved hive: {e}"))
                            .unwrap_or_else(|| panic!("{case}: saved hive lost the new key"));
                        let v = k.value("big").unwrap().unwrap();
                        assert_eq!(v.data().unwrap().as_ref(), big.as_slice(), "{case}");
                        assert_eq!(k.security_descriptor().unwrap(), descriptor.as_slice());
                        assert!(back.on_disk().checksum_valid && !back.on_disk().dirty());
                        if was_clean {
                            let r = back.check();
                            assert!(r.is_ok(), "{case}: saved hive: {:#?}", r.findings);
                        }
                    }
                }
            }
        }
    }

    // 2. Delete the root's first subkey (a whole subtree), 3. rename another one to a
    // longer name (the nk moves), 4. translate a SID everywhere, 5. value and class edits
    // on an existing key.
    let first_children: Vec<u32> = h
        .root()
        .and_then(|r| r.subkey_offsets())
        .unwrap_or_default();
    if let Some(&victim) = first_children.first() {
        let mut b = h.clone();
        match b.delete_key(victim) {
            Ok(()) => still_clean(case, "delete_key", &b, was_clean),
            Err(e) => assert_edit_error(case, "delete_key", &e),
        }
    }
    if let Some(&renamed) = first_children.last() {
        let mut c = h.clone();
        match c.rename_key(
            renamed,
            "a rather longer name than any key had before, to move it",
        ) {
            Ok(_) => still_clean(case, "rename_key", &c, was_clean),
            Err(e) => assert_edit_error(case, "rename_key", &e),
        }
    }
    let mut d = h.clone();
    let map = ntsec::SidMap::from_pairs([
        "S-1-5-18=S-1-5-21-1111111111-2222222222-3333333333-1001",
        "S-1-5-21-3851833874-1800822990-1357392098-1000=S-1-5-32-545",
    ])
    .unwrap();
    match d.translate_sids(&map, ntsec::Mode::Replace) {
        Ok(_) => still_clean(case, "translate_sids", &d, was_clean),
        Err(e) => assert_edit_error(case, "translate_sids", &e),
    }
    let mut e = h.clone();
    let edited = (|| -> hive::Result<()> {
        let keys = e.all_key_offsets()?;
        let target = *keys.get(keys.len() / 2).unwrap_or(&e.root_offset());
        let names: Vec<String> = e
            .key_at(target)?
            .values()?
            .iter()
            .map(|v| v.name())
            .collect();
        if let Some(name) = names.first() {
            e.delete_value(target, name)?;
        }
        e.set_value(target, "added", 4, &7u32.to_le_bytes())?;
        e.set_class(target, Some("a class"))?;
        e.set_class(target, None)?;
        Ok(())
    })();
    match edited {
        Ok(()) => still_clean(case, "value/class edits", &e, was_clean),
        Err(err) => assert_edit_error(case, "value/class edits", &err),
    }
    saved
}

/// All files of a folder with their bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Runs `f` on its own thread (default 2 MiB stack: deep recursion would overflow it)
/// and fails if it takes longer than `limit`. A panic inside is re-raised as-is.
fn with_deadline<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {limit:?}: a hang")
        }
    }
}

/// The whole exercise for one damaged file (plus optional logs beside it).
fn exercise(case: &str, primary: Vec<u8>, logs: Vec<(&'static str, Vec<u8>)>) -> Outcome {
    let case = case.to_string();
    with_deadline(&case.clone(), Duration::from_secs(60), move || {
        let started = Instant::now();
        let out = exercise_inner(&case, primary, logs);
        if started.elapsed() > Duration::from_millis(500) {
            eprintln!("slow case {case:?}: {:?}", started.elapsed());
        }
        out
    })
}

fn exercise_inner(case: &str, primary: Vec<u8>, logs: Vec<(&'static str, Vec<u8>)>) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("HIVE.DAT");
    std::fs::write(&path, &primary).unwrap();
    for (ext, data) in &logs {
        std::fs::write(dir.path().join(format!("HIVE.DAT.{ext}")), data).unwrap();
    }
    let before = snapshot(dir.path());
    let mut out = Outcome::default();

    let without = Hive::open_with(&path, OpenOptions { use_logs: false });
    let from_bytes = Hive::from_bytes_without_logs(primary.clone());
    assert_eq!(
        without.is_ok(),
        from_bytes.is_ok(),
        "{case}: open_with(no logs) and from_bytes_without_logs disagree"
    );
    match &without {
        Err(e) => {
            assert_open_error(case, e);
            out.open_error = Some(e.to_string());
        }
        Ok(h) => {
            let clean = probe(case, h, ALL_EXPORTS, &mut out);
            out.saved = try_edits(case, h, clean, out_dir.path(), true);
        }
    }
    match Hive::open(&path) {
        Err(e) => {
            assert_open_error(case, &e);
            out.open_with_logs_error = Some(e.to_string());
        }
        Ok(h) => {
            let mut o = Outcome::default();
            let clean = probe(case, &h, &[(Format::Json, RegEncoding::Utf8)], &mut o);
            try_edits(case, &h, clean, out_dir.path(), false);
        }
    }
    assert_eq!(
        before,
        snapshot(dir.path()),
        "{case}: the opened files were modified"
    );
    out
}

fn expect_open_error(out: &Outcome, case: &str, needle: &str) {
    let e = out
        .open_error
        .as_deref()
        .unwrap_or_else(|| panic!("{case}: expected an open error about {needle:?}, it opened"));
    assert!(
        e.contains(needle),
        "{case}: open error {e:?} does not mention {needle:?}"
    );
}

fn expect_corrupt_at(file: &[u8], case: &str, offset: u64) {
    match Hive::from_bytes_without_logs(file.to_vec()) {
        Err(Error::Corrupt { offset: at, .. }) => {
            assert_eq!(
                at, offset,
                "{case}: corruption reported at the wrong offset"
            )
        }
        other => panic!("{case}: expected Corrupt at {offset:#x}, got {other:?}"),
    }
}

/// The case opened but check() must report errors and reading must fail somewhere.
fn expect_detected(out: &Outcome, case: &str) {
    assert!(
        out.open_error.is_some() || out.check_errors > 0,
        "{case}: damage went unnoticed: {out:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Cases.

#[test]
fn undamaged_fixtures_pass_the_exercise() {
    for fixture in [ACRONIS, SAM5] {
        let Some(file) = load("undamaged_fixtures_pass_the_exercise", fixture) else {
            return;
        };
        let out = exercise(fixture, file, Vec::new());
        assert!(out.open_error.is_none() && out.check_errors == 0, "{out:?}");
        assert!(out.walk_error.is_none() && out.saved, "{out:?}");
    }
}

#[test]
fn truncated_files() {
    let Some(file) = load("truncated_files", ACRONIS) else {
        return;
    };
    let started = Instant::now();
    let bins_size = read_u32(&file, off::BINS_SIZE).unwrap() as usize;
    let mut lengths: Vec<usize> = vec![0, 1, 3, 4, 100, 508, 511, 512, 2048, 4095];
    lengths.extend((1..=file.len() / 4096).map(|i| i * 4096));
    lengths.extend((1..file.len() / 4096).map(|i| i * 4096 + 1));
    lengths.extend(
        (1..file.len() / 4096)
            .step_by(5)
            .map(|i| i * 4096 + 2048 + 12),
    );
    for len in lengths {
        let cut = file[..len].to_vec();
        let case = format!("truncated to {len}");
        match Hive::from_bytes_without_logs(cut.clone()) {
            Err(Error::NotAHive { .. }) => assert!(len < 4096, "{case}"),
            Err(Error::Corrupt { offset, .. }) => {
                assert!(len >= 4096, "{case}");
                assert_eq!(offset, off::BINS_SIZE as u64, "{case}: names the bins size");
            }
            Ok(_) => assert!(len >= BASE_BLOCK_SIZE + bins_size, "{case}: opened"),
            Err(e) => panic!("{case}: {e:?}"),
        }
        // With logs on, no logs present and a clean base block: the same answer.
        if len % 4096 == 0 && len / 4096 % 8 == 0 {
            exercise(&case, cut, Vec::new());
        }
    }
    // Truncated at a bin boundary with the base block saying so: the key tree now
    // points past the end of the bins.
    let mut bins = Vec::new();
    let mut pos = 0;
    while pos < bins_size {
        bins.push(pos);
        pos += read_u32(&file, BASE_BLOCK_SIZE + pos + 8).unwrap() as usize;
    }
    let mut detected = 0;
    for &b in bins.iter().skip(1) {
        let mut cut = file[..BASE_BLOCK_SIZE + b].to_vec();
        put_base(&mut cut, off::BINS_SIZE, b as u32);
        let out = exercise(&format!("bins cut to {b:#x}"), sealed(cut), Vec::new());
        detected += usize::from(out.check_errors > 0 || out.open_error.is_some());
    }
    assert!(
        detected + 1 >= bins.len() - 1,
        "cut-off bins went unnoticed"
    );
    eprintln!("truncated_files: {:?}", started.elapsed());
}

#[test]
fn bad_checksum_without_logs_is_dirty() {
    let Some(mut file) = load("bad_checksum_without_logs_is_dirty", ACRONIS) else {
        return;
    };
    file[off::FILE_NAME + 60] ^= 0x55; // inside the base block, not fixed up
    let case = "bad checksum";
    let out = exercise(case, file.clone(), Vec::new());
    // Read as it is: fine, but check() reports the checksum.
    assert!(out.open_error.is_none(), "{out:?}");
    assert!(
        out.check_messages.iter().any(|m| m.contains("checksum")),
        "{out:?}"
    );
    assert!(out.walk_error.is_none());
    // With logs: dirty, and there is nothing to recover from.
    let e = out
        .open_with_logs_error
        .expect("dirty hive opened with logs");
    assert!(e.contains("dirty"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("NTUSER.DAT");
    std::fs::write(&path, &file).unwrap();
    match Hive::open(&path) {
        Err(Error::Log(LogError::DirtyWithoutUsableLog { .. })) => {}
        other => panic!("expected DirtyWithoutUsableLog, got {other:?}"),
    }
    // Empty and garbage logs do not help either, and are left alone.
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31) as u8).collect();
    let out = exercise(
        "bad checksum, useless logs",
        file.clone(),
        vec![("LOG1", Vec::new()), ("LOG2", garbage)],
    );
    assert!(out.open_with_logs_error.unwrap().contains("dirty"));
    assert_eq!(std::fs::read(&path).unwrap(), file);
}

#[test]
fn base_block_fields() {
    let Some(file) = load("base_block_fields", ACRONIS) else {
        return;
    };
    let len = file.len() as u32;
    let bins_size = read_u32(&file, off::BINS_SIZE).unwrap();
    for (what, at, v, expect_at) in [
        (
            "bins size past the end",
            off::BINS_SIZE,
            len,
            Some(off::BINS_SIZE),
        ),
        (
            "bins size u32::MAX",
            off::BINS_SIZE,
            u32::MAX,
            Some(off::BINS_SIZE),
        ),
        ("bins size zero", off::BINS_SIZE, 0, Some(off::BINS_SIZE)),
        (
            "bins size unaligned",
            off::BINS_SIZE,
            bins_size - 8,
            Some(off::BINS_SIZE),
        ),
        ("major version", off::MAJOR, 2, Some(off::MAJOR)),
        ("minor version", off::MINOR, 99, Some(off::MINOR)),
        ("root null", off::ROOT, u32::MAX, None),
        ("root past bins", off::ROOT, bins_size + 64, None),
        ("root in bin header", off::ROOT, 0, None),
        ("root unaligned", off::ROOT, 0x25, None),
        ("root in a value", off::ROOT, 0x1000 + 0x20, None),
        ("log file type", off::FILE_TYPE, 6, None),
    ] {
        let mut f = file.clone();
        put_base(&mut f, at, v);
        let f = sealed(f);
        let out = exercise(what, f.clone(), Vec::new());
        expect_detected(&out, what);
        if let Some(at) = expect_at {
            expect_corrupt_at(&f, what, at as u64);
        }
    }
    let mut f = file.clone();
    f[..4].copy_from_slice(b"regF");
    let out = exercise("signature", sealed(f), Vec::new());
    expect_open_error(&out, "signature", "regf");
}

#[test]
fn bin_header_damage() {
    let Some(file) = load("bin_header_damage", NTUSER) else {
        return;
    };
    let bins_size = read_u32(&file, off::BINS_SIZE).unwrap();
    // The first bin, one in the middle, the last one.
    let mut bins = Vec::new();
    let mut pos = 0u32;
    while pos < bins_size {
        bins.push(pos);
        pos += read_u32(&file, BASE_BLOCK_SIZE + pos as usize + 8).unwrap();
    }
    let picks = [bins[0], bins[bins.len() / 2], bins[bins.len() - 1]];
    for bin in picks {
        let at = BASE_BLOCK_SIZE + bin as usize;
        let size = read_u32(&file, at + 8).unwrap();
        for (what, field, v) in [
            ("signature", 0, u32::from_le_bytes(*b"hbim")),
            ("offset", 4, bin + 4096),
            ("offset null", 4, u32::MAX),
            ("size zero", 8, 0),
            ("size unaligned", 8, size + 8),
            ("size past bins", 8, bins_size - bin + 4096),
            ("size u32::MAX", 8, u32::MAX),
            ("size i32::MIN", 8, 0x8000_0000),
        ] {
            let case = format!("bin {bin:#x}: {what}");
            let mut f = file.clone();
            put_base(&mut f, at + field, v);
            let out = exercise(&case, f.clone(), Vec::new());
            expect_detected(&out, &case);
            expect_corrupt_at(&f, &case, u64::from(bin) + 4096);
        }
        // A bin split in two that lies about its size: cells then cross bins.
        if size == 4096 && bin + 8192 <= bins_size {
            let case = format!("bin {bin:#x} claims the next one");
            let mut f = file.clone();
            put_base(&mut f, at + 8, 8192);
            let out = exercise(&case, f, Vec::new());
            expect_detected(&out, &case);
        }
    }
}

#[test]
fn cells_pointing_outside_bins() {
    let Some(file) = load("cells_pointing_outside_bins", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    let bins_size = read_u32(&file, off::BINS_SIZE).unwrap();
    let targets = [
        ("null", u32::MAX),
        ("past the bins", bins_size + 0x100),
        ("far past", 0x7FFF_FFF8),
        ("bin header", 0x1000),
        ("unaligned", m.value_data + 2),
        ("middle of a cell", m.value_data + 8),
        ("a value cell", m.value),
        ("the key itself", m.key),
    ];
    for (field_name, cell, field) in [
        ("subkey list", m.key, nk::SUBKEY_LIST),
        ("value list", m.key, nk::VALUE_LIST),
        ("security", m.key, nk::SECURITY),
        ("class", m.key, nk::CLASS),
        ("parent", m.child, nk::PARENT),
        ("value data", m.value, vk::DATA),
        ("sk flink", m.sks[0], sk::FLINK),
    ] {
        for (target_name, target) in targets {
            let case = format!("{field_name} -> {target_name}");
            let mut f = file.clone();
            set32(&mut f, cell, field, target);
            if field == nk::CLASS {
                set16(&mut f, cell, nk::CLASS_LEN, 40);
            }
            if field == nk::VALUE_LIST {
                set32(&mut f, cell, nk::VALUE_COUNT, 3);
            }
            let out = exercise(&case, f, Vec::new());
            // A class length with a null class offset is simply no class.
            let harmless = (field == nk::PARENT && target == m.key)
                || (field == nk::CLASS && target == u32::MAX);
            if !harmless {
                expect_detected(&out, &case);
            }
        }
    }
}

#[test]
fn subkeys_outside_the_bins_are_named_as_such() {
    let Some(file) = load("subkeys_outside_the_bins_are_named_as_such", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    let list = get32(&file, m.key, nk::SUBKEY_LIST);
    for target in [0x7FFF_FFF8u32, 0xFFFF_FFF0, 0x0100_0000] {
        let mut f = file.clone();
        set32(&mut f, list, 4, target);
        let h = hive_of(&f);
        let mut d = h.clone();
        for e in [
            walk_all(&h).unwrap_err(),
            h.all_key_offsets().unwrap_err(),
            d.delete_key(m.key).unwrap_err(),
        ] {
            let e = e.to_string();
            assert!(e.contains("outside the hive bins"), "{e}");
            assert!(
                e.contains(&format!("{:#x}", u64::from(target) + 4096)),
                "{e}"
            );
        }
        exercise(&format!("subkey at {target:#x}"), f, Vec::new());
    }
}

/// Claimed counts and lengths must not size allocations. Found by fuzzing under a
/// memory limit: a subkey count of 0xFFFFFFFF reserved 16 GiB and aborted the process
/// (machines with overcommit, like most Linux boxes, let it pass; Windows does not).
/// This test re-runs itself under `ulimit -v` (1.5 GB) so that such reservations fail here too.
#[cfg(unix)]
#[test]
fn claimed_counts_do_not_size_allocations() {
    const TEST: &str = "claimed_counts_do_not_size_allocations";
    let Some(file) = load(TEST, ACRONIS) else {
        return;
    };
    if std::env::var_os("ADMU_UNDER_ULIMIT").is_none() {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1500000 && exec \"$0\" --exact \"$1\" --test-threads=1")
            .arg(std::env::current_exe().unwrap())
            .arg(TEST)
            .env("ADMU_UNDER_ULIMIT", "1")
            .status()
            .unwrap();
        assert!(
            status.success(),
            "under a 1.5 GB address-space limit: {status}"
        );
        return;
    }
    let m = landmarks(&file);
    let mut cases = Vec::new();
    for count in [u32::MAX, 0x8000_0000, 0x4000_0000] {
        let mut f = file.clone();
        set32(&mut f, m.key, nk::SUBKEY_COUNT, count);
        cases.push(f);
        let mut f = file.clone();
        set32(&mut f, m.key, nk::VALUE_COUNT, count);
        cases.push(f);
    }
    for f in cases {
        let mut h = hive_of(&f);
        let _ = h.key_at(m.key).unwrap().subkey_offsets();
        let _ = h.key_at(m.key).unwrap().values();
        let _ = walk_all(&h);
        let _ = h.all_key_offsets();
        let _ = h.check();
        let _ = h.delete_key(m.key);
    }
    // A big-data value claiming 2 GiB.
    if let Some((file, _)) = with_big_data(TEST) {
        let h = hive_of(&file);
        let v = h.root().unwrap().value("big").unwrap().unwrap().offset();
        let mut f = file.clone();
        set32(&mut f, v, vk::DATA_SIZE, 0x7FFF_FFF0);
        let h = hive_of(&f);
        assert!(
            h.root()
                .unwrap()
                .value("big")
                .unwrap()
                .unwrap()
                .data()
                .is_err()
        );
        let _ = h.check();
    }
}

#[test]
fn absurd_cell_sizes() {
    let Some(file) = load("absurd_cell_sizes", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    let h = hive_of(&file);
    let list = get32(&file, m.key, nk::SUBKEY_LIST);
    let values = get32(&file, m.key, nk::VALUE_LIST);
    let cells = [
        ("root nk", m.root),
        ("nk", m.key),
        ("child nk", m.child),
        ("subkey list", list),
        ("value list", values),
        ("vk", m.value),
        ("value data", m.value_data),
        ("sk", m.sks[m.sks.len() - 1]),
    ];
    drop(h);
    for (name, cell) in cells {
        let size = cell_size(&file, cell);
        assert!(size < 0, "{name} is allocated");
        for (what, v) in [
            ("i32::MIN", i32::MIN),
            ("i32::MAX", i32::MAX),
            ("zero", 0),
            ("-4", -4),
            ("-7 unaligned", -7),
            ("free (positive)", -size),
            ("crossing the bin", -(0x10_0000)),
            ("one more slot", size - 8),
        ] {
            let case = format!("{name} cell size {what}");
            let mut f = file.clone();
            set_size(&mut f, cell, v);
            let out = exercise(&case, f, Vec::new());
            // Growing a cell by 8 may still fit before the next one: then the next
            // cell's tiling breaks, which check() reports.
            expect_detected(&out, &case);
        }
    }
}

#[test]
fn subkey_loops_terminate() {
    let Some(file) = load("subkey_loops_terminate", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    let list = get32(&file, m.key, nk::SUBKEY_LIST);
    let root_list = get32(&file, m.root, nk::SUBKEY_LIST);
    // The lf list's first element is at data offset 4.
    for (what, list_cell, element) in [
        ("key lists itself", list, m.key),
        ("key lists its parent", list, m.parent),
        ("key lists the root", list, m.root),
        ("root lists itself", root_list, m.root),
        (
            "key lists its second child twice",
            list,
            get32(&file, list, 12),
        ),
    ] {
        let mut f = file.clone();
        set32(&mut f, list_cell, 4, element);
        let out = exercise(what, f.clone(), Vec::new());
        assert!(out.open_error.is_none(), "{what}: {out:?}");
        expect_detected(&out, what);
        assert!(
            out.walk_error.is_some(),
            "{what}: walk finished without error"
        );
        // delete_key and free_key_tree on the looping key itself.
        let mut h = hive_of(&f);
        if let Err(e) = h.delete_key(m.key) {
            assert_edit_error(what, "delete looping key", &e);
        }
    }
    // A list whose subkey points back to the list's owner through its own list.
    let mut f = file.clone();
    let child_list = get32(&file, m.child, nk::SUBKEY_LIST);
    if get32(&file, m.child, nk::SUBKEY_COUNT) == 0 {
        set32(&mut f, m.child, nk::SUBKEY_COUNT, 1);
        set32(&mut f, m.child, nk::SUBKEY_LIST, list);
    } else {
        set32(&mut f, child_list, 4, m.key);
    }
    let out = exercise("two-key cycle", f, Vec::new());
    expect_detected(&out, "two-key cycle");
    assert!(out.walk_error.is_some());
    // An ri list that contains itself, and one whose leaves repeat.
    let mut f = file.clone();
    let ri = m.value_data; // reuse a data cell of ours as the ri list
    let cap = (-cell_size(&file, ri)) as usize - 4;
    assert!(cap >= 12);
    let at = field_at(ri, 0);
    f[at..at + 2].copy_from_slice(b"ri");
    f[at + 2..at + 4].copy_from_slice(&2u16.to_le_bytes());
    f[at + 4..at + 8].copy_from_slice(&ri.to_le_bytes());
    f[at + 8..at + 12].copy_from_slice(&list.to_le_bytes());
    set32(&mut f, m.key, nk::SUBKEY_LIST, ri);
    let out = exercise("ri contains itself", f.clone(), Vec::new());
    expect_detected(&out, "ri contains itself");
    f[at + 4..at + 8].copy_from_slice(&list.to_le_bytes());
    let n = get32(&file, m.key, nk::SUBKEY_COUNT);
    set32(&mut f, m.key, nk::SUBKEY_COUNT, 2 * n);
    let out = exercise("ri repeats a leaf", f, Vec::new());
    expect_detected(&out, "ri repeats a leaf");
}

#[test]
fn deep_trees_are_errors_not_stack_overflows() {
    let Some(file) = load("deep_trees_are_errors_not_stack_overflows", ACRONIS) else {
        return;
    };
    // create_key stops at Windows' limit: 512 levels below the root.
    let (deepest, limit_error) = with_deadline("build 512 levels", Duration::from_secs(60), {
        let file = file.clone();
        move || {
            let mut h = hive_of(&file);
            let mut key = h.root_offset();
            let mut made = 0;
            let mut refused = None;
            for i in 0..600 {
                match h.create_key(key, &format!("L{i}")) {
                    Ok(k) => {
                        key = k;
                        made += 1;
                    }
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            }
            h.finish_base_block();
            ((made, h.as_bytes().to_vec()), refused)
        }
    });
    let (made, bytes) = deepest;
    assert_eq!(made, 512, "create_key made {made} levels");
    assert!(
        matches!(limit_error, Some(Error::Invalid(_))),
        "{limit_error:?}"
    );
    let out = exercise("512 levels", bytes, Vec::new());
    assert!(out.check_errors == 0 && out.walk_error.is_none(), "{out:?}");

    // 600 levels stitched by hand: chain A (300 levels) under the root and chain B
    // (300 levels) under a helper key H; then A's last key takes over H's subkey list.
    let stitched = with_deadline("build 600 levels", Duration::from_secs(60), move || {
        let mut h = hive_of(&file);
        let root = h.root_offset();
        let chain = |h: &mut Hive, top: u32, prefix: &str| {
            let mut key = top;
            for i in 0..300 {
                key = h.create_key(key, &format!("{prefix}{i}")).unwrap();
            }
            key
        };
        let a_last = chain(&mut h, root, "A");
        let helper = h.create_key(root, "H").unwrap();
        chain(&mut h, helper, "B");
        h.finish_base_block();
        let mut f = h.as_bytes().to_vec();
        let h_list = get32(&f, helper, nk::SUBKEY_LIST);
        let b0 = get32(&f, h_list, 4);
        set32(&mut f, a_last, nk::SUBKEY_COUNT, 1);
        set32(&mut f, a_last, nk::SUBKEY_LIST, h_list);
        set32(&mut f, helper, nk::SUBKEY_COUNT, 0);
        set32(&mut f, helper, nk::SUBKEY_LIST, u32::MAX);
        set32(&mut f, b0, nk::PARENT, a_last);
        sealed(f)
    });
    let out = exercise("600 levels", stitched, Vec::new());
    assert!(out.open_error.is_none(), "{out:?}");
    assert!(
        out.walk_error.as_deref().unwrap().contains("512"),
        "{out:?}"
    );
    assert!(
        out.check_messages.iter().any(|m| m.contains("512")),
        "{out:?}"
    );
}

#[test]
fn absurd_lengths() {
    let Some(file) = load("absurd_lengths", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    // A class of our own to damage.
    let mut h = hive_of(&file);
    h.set_class(m.key, Some("Boot key class")).unwrap();
    h.finish_base_block();
    let with_class = h.as_bytes().to_vec();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for v in [0xFFFF_u16, 0x8000, 0x1000] {
        let mut f = file.clone();
        set16(&mut f, m.key, nk::NAME_LEN, v);
        cases.push((format!("key name length {v:#x}"), f));
        let mut f = file.clone();
        set16(&mut f, m.value, vk::NAME_LEN, v);
        cases.push((format!("value name length {v:#x}"), f));
        let mut f = with_class.clone();
        set16(&mut f, m.key, nk::CLASS_LEN, v);
        cases.push((format!("class length {v:#x}"), f));
    }
    for v in [
        0x7FFF_FFFF_u32,
        0x8000_0000 | 0x7FFF_FFFF,
        0x8000_0005,
        0x0100_0000,
        16345,
    ] {
        let mut f = file.clone();
        set32(&mut f, m.value, vk::DATA_SIZE, v);
        cases.push((format!("value data size {v:#x}"), f));
    }
    for v in [u32::MAX, 0x8000_0000, 0x10_0000, 0xFFFF] {
        let mut f = file.clone();
        set32(&mut f, m.key, nk::SUBKEY_COUNT, v);
        cases.push((format!("subkey count {v:#x}"), f));
        let mut f = file.clone();
        set32(&mut f, m.key, nk::VALUE_COUNT, v);
        cases.push((format!("value count {v:#x}"), f));
    }
    let list = get32(&file, m.key, nk::SUBKEY_LIST);
    let mut f = file.clone();
    set16(&mut f, list, 2, 0xFFFF);
    cases.push(("subkey list element count 0xffff".into(), f));
    for (case, f) in cases {
        let out = exercise(&case, f, Vec::new());
        expect_detected(&out, &case);
    }
}

#[test]
fn sk_list_damage() {
    let Some(file) = load("sk_list_damage", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    assert!(m.sks.len() >= 3, "fixture has {} sk cells", m.sks.len());
    let (a, b, c) = (m.sks[0], m.sks[1], m.sks[2]);
    let mut cases: Vec<(&str, Vec<u8>, bool)> = Vec::new();
    // (case, bytes, security_cells() must fail)
    let mut f = file.clone();
    set32(&mut f, b, sk::FLINK, b);
    cases.push(("flink loops on itself", f, true));
    let mut f = file.clone();
    set32(&mut f, c, sk::FLINK, b);
    cases.push(("flink loops back past the head", f, true));
    let mut f = file.clone();
    set32(&mut f, b, sk::FLINK, u32::MAX);
    cases.push(("flink null", f, true));
    let mut f = file.clone();
    set32(&mut f, b, sk::FLINK, m.key);
    cases.push(("flink to an nk", f, true));
    let mut f = file.clone();
    set32(&mut f, b, sk::BLINK, c);
    cases.push(("blink wrong", f, false));
    let mut f = file.clone();
    set32(&mut f, a, sk::BLINK, u32::MAX);
    cases.push(("head blink null", f, false));
    let mut f = file.clone();
    set32(&mut f, b, sk::REFCOUNT, 0);
    cases.push(("refcount zero", f, false));
    let mut f = file.clone();
    set32(&mut f, b, sk::REFCOUNT, u32::MAX);
    cases.push(("refcount u32::MAX", f, false));
    let mut f = file.clone();
    set32(&mut f, a, sk::REFCOUNT, u32::MAX);
    cases.push(("root sk refcount u32::MAX", f, false));
    let mut f = file.clone();
    set32(&mut f, b, sk::SD_LEN, u32::MAX);
    cases.push(("descriptor length u32::MAX", f, true));
    let mut f = file.clone();
    set32(&mut f, b, sk::SD_LEN, 8);
    cases.push(("descriptor length 8", f, false));
    let mut f = file.clone();
    let at = field_at(b, 20);
    f[at..at + 20].fill(0xFF);
    cases.push(("descriptor garbage", f, false));
    let mut f = file.clone();
    set32(&mut f, m.key, nk::SECURITY, m.value);
    cases.push(("key points at a vk as its sk", f, false));
    for (case, f, list_fails) in cases {
        let out = exercise(case, f, Vec::new());
        expect_detected(&out, case);
        if list_fails {
            assert!(
                out.security_error.is_some(),
                "{case}: sk list read fine: {out:?}"
            );
        }
    }
}

/// The cell right before `cell` in its bin's tiling, and its size field.
fn previous_cell(file: &[u8], cell: u32) -> (u32, i32) {
    let h = hive_of(file);
    let bin = *h
        .bins()
        .iter()
        .find(|b| b.offset <= cell && cell < b.offset + b.size)
        .unwrap();
    let mut pos = bin.offset + 32;
    let mut prev = None;
    while pos < cell {
        let raw = cell_size(file, pos);
        prev = Some((pos, raw));
        pos += raw.unsigned_abs();
    }
    assert_eq!(pos, cell, "{cell:#x} is not a cell start");
    prev.unwrap()
}

#[test]
fn cells_hidden_inside_other_cells_are_reported() {
    // Found by fuzzing: a free cell that swallows the sk cell after it. Keys still
    // reach the sk by its offset, so reading works; check() did not notice, and the
    // next allocation zeroed the descriptor of every key using it.
    let Some(file) = load("cells_hidden_inside_other_cells_are_reported", ACRONIS) else {
        return;
    };
    let m = landmarks(&file);
    for (what, hidden) in [
        ("sk", m.sks[1]),
        ("vk", m.value),
        ("value data", m.value_data),
        ("nk", m.child),
    ] {
        let (prev, raw) = previous_cell(&file, hidden);
        let swallowed = raw.unsigned_abs() + cell_size(&file, hidden).unsigned_abs();
        for (how, size) in [
            ("free", swallowed as i32),
            ("allocated", -(swallowed as i32)),
        ] {
            let case = format!("{what} inside the {how} cell before it");
            let mut f = file.clone();
            set_size(&mut f, prev, size);
            let out = exercise(&case, f, Vec::new());
            assert!(
                out.check_messages
                    .iter()
                    .any(|m| m.contains("inside another cell")),
                "{case}: {out:?}"
            );
        }
    }
}

#[test]
fn a_base_block_taken_from_a_log_is_validated() {
    // Found by fuzzing: when the primary's base block is invalid, replay takes the log's
    // copy, which was not checked like the primary's (here: minor version 16345). The
    // hive opened, and what save wrote could not be opened again.
    let test = "a_base_block_taken_from_a_log_is_validated";
    let (Some(primary), Some(log1), Some(log2)) = (
        load(test, "yarp/NewDirtyHive1/NewDirtyHive"),
        load(test, "yarp/NewDirtyHive1/NewDirtyHive.LOG1"),
        load(test, "yarp/NewDirtyHive1/NewDirtyHive.LOG2"),
    ) else {
        return;
    };
    let mut broken = primary.clone();
    broken[off::FILE_NAME] ^= 0xFF; // primary base block checksum now wrong
    let logs = |minor: u32| {
        let mut l2 = log2.clone();
        put_base(&mut l2, off::MINOR, minor);
        let c = hive::base::checksum(&l2[..508]);
        put_base(&mut l2, 508, c);
        vec![("LOG1", log1.clone()), ("LOG2", l2)]
    };
    // The untouched log (minor 3) rebuilds a good hive.
    let out = exercise("base block from a good log", broken.clone(), logs(3));
    assert!(out.open_with_logs_error.is_none(), "{out:?}");
    for minor in [16345, 0, 7, u32::MAX] {
        let case = format!("base block from a log with minor version {minor}");
        let out = exercise(&case, broken.clone(), logs(minor));
        let e = out
            .open_with_logs_error
            .unwrap_or_else(|| panic!("{case}: opened"));
        assert!(e.contains("minor version"), "{case}: {e}");
    }
}

#[test]
fn stale_value_list_offsets_are_left_alone() {
    // Found by fuzzing: a key with no values whose value-list field still holds an
    // offset (here: another key's live list). Readers ignore it, check() too; deleting
    // the key freed that list anyway, under the other key's values.
    let Some(file) = load("stale_value_list_offsets_are_left_alone", ACRONIS) else {
        return;
    };
    let h = hive_of(&file);
    let keys = h.all_key_offsets().unwrap();
    let root = h.root_offset();
    let victim = *keys
        .iter()
        .find(|&&k| k != root && h.key_at(k).unwrap().subkey_count() == 0)
        .unwrap();
    let victim_parent = h.key_at(victim).unwrap().parent_offset();
    let owner = *keys
        .iter()
        .find(|&&k| k != victim && k != victim_parent && h.key_at(k).unwrap().value_count() >= 2)
        .unwrap();
    let owner_values: Vec<(String, Vec<u8>)> = h
        .key_at(owner)
        .unwrap()
        .values()
        .unwrap()
        .iter()
        .map(|v| (v.name(), v.data().unwrap().into_owned()))
        .collect();
    let mut f = file.clone();
    set32(&mut f, victim, nk::VALUE_COUNT, 0);
    set32(
        &mut f,
        victim,
        nk::VALUE_LIST,
        get32(&file, owner, nk::VALUE_LIST),
    );
    let mut h = hive_of(&f);
    assert!(h.check().is_ok(), "{:#?}", h.check().findings);
    h.delete_key(victim).unwrap();
    let r = h.check();
    assert!(r.is_ok(), "{:#?}", r.findings);
    let after: Vec<(String, Vec<u8>)> = h
        .key_at(owner)
        .unwrap()
        .values()
        .unwrap()
        .iter()
        .map(|v| (v.name(), v.data().unwrap().into_owned()))
        .collect();
    assert_eq!(after, owner_values);
    exercise("stale value list", f, Vec::new());
}

/// A minor-5 hive with a big-data value of ours, to damage its db structures.
fn with_big_data(test: &str) -> Option<(Vec<u8>, u32)> {
    let file = load(test, SAM5)?;
    let mut h = hive_of(&file);
    assert_eq!(h.minor_version(), 5);
    let root = h.root_offset();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    h.set_value(root, "big", 3, &data).unwrap();
    h.finish_base_block();
    let bytes = h.as_bytes().to_vec();
    let h = hive_of(&bytes);
    let v = h.root().unwrap().value("big").unwrap().unwrap();
    let db = get32(&bytes, v.offset(), vk::DATA);
    assert_eq!(&bytes[field_at(db, 0)..field_at(db, 2)], b"db");
    Some((bytes, db))
}

#[test]
fn big_data_damage() {
    let Some((file, db)) = with_big_data("big_data_damage") else {
        return;
    };
    let list = get32(&file, db, 4);
    let first_segment = get32(&file, list, 0);
    let count = read_u16(&file, field_at(db, 2)).unwrap();
    assert_eq!(count, 3);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for n in [0u16, 1, 2, 4, 0x100, 0xFFFF] {
        let mut f = file.clone();
        set16(&mut f, db, 2, n);
        cases.push((format!("segment count {n}"), f));
    }
    for (what, v) in [
        ("null", u32::MAX),
        ("itself", db),
        ("a segment", first_segment),
        ("past the bins", 0x7FFF_0000),
    ] {
        let mut f = file.clone();
        set32(&mut f, db, 4, v);
        cases.push((format!("segment list -> {what}"), f));
        let mut f = file.clone();
        set32(&mut f, list, 4, v);
        cases.push((format!("second segment -> {what}"), f));
    }
    let mut f = file.clone();
    set32(&mut f, list, 4, first_segment);
    cases.push(("segment repeated".into(), f));
    let mut f = file.clone();
    set_size(&mut f, first_segment, -16);
    cases.push(("short segment".into(), f));
    let vk_off = {
        let h = hive_of(&file);
        h.root().unwrap().value("big").unwrap().unwrap().offset()
    };
    // A length that needs fewer segments than the db lists reads fine (the rest is
    // unused); one that needs more does not.
    let mut f = file.clone();
    set32(&mut f, vk_off, vk::DATA_SIZE, 16_345);
    let out = exercise("value says 16345 bytes", sealed(f), Vec::new());
    assert!(
        out.open_error.is_none() && out.walk_error.is_none(),
        "{out:?}"
    );
    for size in [0x7FFF_FFFFu32, 3 * 16_344 + 1, 0x0FFF_FFFF] {
        let mut f = file.clone();
        set32(&mut f, vk_off, vk::DATA_SIZE, size);
        cases.push((format!("value says {size} bytes"), f));
    }
    for (case, f) in cases {
        let out = exercise(&case, sealed(f), Vec::new());
        expect_detected(&out, &case);
    }
}

// ---------------------------------------------------------------------------------------
// Randomized sweep.

/// xorshift64*: tiny, fixed-seed, reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Byte offsets worth damaging: base-block fields, bin headers, and the first 80 bytes
/// of every allocated cell (sizes, signatures, counts, offsets, lengths).
fn hot_offsets(file: &[u8]) -> Vec<usize> {
    let h = hive_of(file);
    let mut hot: Vec<usize> = (0..48).chain(508..512).collect();
    for bin in h.bins() {
        let start = BASE_BLOCK_SIZE + bin.offset as usize;
        hot.extend(start..start + 12);
        let mut pos = start + 32;
        let end = start + bin.size as usize;
        while pos < end {
            let raw = read_u32(file, pos).unwrap() as i32;
            let len = raw.unsigned_abs() as usize;
            if raw < 0 {
                hot.extend(pos..pos + len.min(84));
            }
            pos += len;
        }
    }
    hot
}

fn sweep(test: &str, file: Vec<u8>, iterations: usize, export_every: usize, seed: u64) {
    let test = test.to_string();
    with_deadline(&test.clone(), Duration::from_secs(300), move || {
        let started = Instant::now();
        let hot = hot_offsets(&file);
        let mut rng = Rng(seed);
        let (mut opened, mut clean, mut walked) = (0, 0, 0);
        for i in 0..iterations {
            let mut data = file.clone();
            for _ in 0..1 + rng.below(3) {
                let at = if rng.below(8) == 0 {
                    rng.below(data.len())
                } else {
                    hot[rng.below(hot.len())]
                };
                data[at] = match rng.below(4) {
                    0 => data[at] ^ (1 << rng.below(8)),
                    1 => 0xFF,
                    2 => 0,
                    _ => rng.next() as u8,
                };
            }
            if rng.below(4) != 0 {
                fix_checksum(&mut data);
            }
            let case = format!("{test} #{i}");
            let Ok(h) = Hive::from_bytes_without_logs(data.clone()).map_err(|e| {
                assert_open_error(&case, &e);
            }) else {
                continue;
            };
            opened += 1;
            if let Err(e) = Hive::from_bytes(data, &[]) {
                assert_open_error(&case, &e);
            }
            // Exports cost most in debug builds (hex formatting of every data byte):
            // every `export_every`-th mutant, rotating through the formats.
            let exports = if i % export_every == 0 {
                let f = (i / export_every) % 3;
                &ALL_EXPORTS[f..f + 1]
            } else {
                &[]
            };
            let mut out = Outcome::default();
            let ok = probe(&case, &h, exports, &mut out);
            clean += usize::from(ok);
            walked += usize::from(out.walk_error.is_none());
            if i % 16 == 0 {
                let dir = Path::new("/nonexistent-admu-dir");
                try_edits(&case, &h, ok, dir, false);
            }
        }
        eprintln!(
            "{test}: {iterations} mutants, {opened} opened, {walked} walked, {clean} checked clean, {:?}",
            started.elapsed()
        );
    });
}

#[test]
fn random_byte_flips_minor3() {
    let Some(file) = load("random_byte_flips_minor3", ACRONIS) else {
        return;
    };
    sweep(
        "random_byte_flips_minor3",
        file,
        2000,
        8,
        0x0123_4567_89AB_CDEF,
    );
}

#[test]
fn random_byte_flips_minor5_big_data() {
    let Some((file, _)) = with_big_data("random_byte_flips_minor5_big_data") else {
        return;
    };
    sweep(
        "random_byte_flips_minor5_big_data",
        file,
        1500,
        4,
        0xFEED_FACE_CAFE_BEEF,
    );
}
