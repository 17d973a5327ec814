//! The fuzz target's body, shared by the libFuzzer target (`fuzz_targets/`) and the
//! stable drivers (`src/bin/`): [`run`] takes one input, opens it as a hive (replaying
//! the logs it carries), reads everything, checks it, edits it and saves it in memory.
//! Besides "never panics", it asserts the engine's own promises:
//!
//! * errors are typed: opening gives `Corrupt`/`NotAHive`/`Log`, reading gives `Corrupt`,
//!   edits give `Corrupt`/`Invalid`/`TooLarge`/`Security`;
//! * when `check()` finds no error, walking, exporting, listing sk cells and keys all
//!   succeed and agree on the key count;
//! * edits that succeed on a hive that checked clean leave it checking clean, and the
//!   saved bytes open again with the edit in them.
//!
//! Input layout (see [`split`]): a bare primary (it starts with `regf`), or
//! `u32 LE length | primary | u32 LE length | LOG1 | LOG2`, each part optional from the
//! right; a length that runs past the end makes the rest the last part.

use hive::export::{self, ExportOptions, Format, RegEncoding};
use hive::log::LogFile;
use hive::{Error, Hive};

/// Splits an input into the primary and up to two logs.
pub fn split(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    if data.len() < 4 || data.starts_with(b"regf") {
        return (data, Vec::new());
    }
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 2 && rest.len() >= 4 {
        let n = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        rest = &rest[4..];
        if n > rest.len() {
            break;
        }
        parts.push(&rest[..n]);
        rest = &rest[n..];
    }
    parts.push(rest);
    let primary = parts.remove(0);
    (primary, parts)
}

/// The inverse of [`split`].
pub fn join(primary: &[u8], logs: &[&[u8]]) -> Vec<u8> {
    if logs.is_empty() && primary.starts_with(b"regf") {
        return primary.to_vec();
    }
    let mut out =
        Vec::with_capacity(primary.len() + logs.iter().map(|l| l.len() + 4).sum::<usize>() + 4);
    out.extend_from_slice(&(primary.len() as u32).to_le_bytes());
    out.extend_from_slice(primary);
    for (i, log) in logs.iter().enumerate() {
        if i + 1 < logs.len() {
            out.extend_from_slice(&(log.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(log);
    }
    out
}

/// One fuzz input, end to end.
pub fn run(data: &[u8]) {
    let (primary, logs) = split(data);
    let logs: Vec<LogFile> = logs
        .iter()
        .enumerate()
        .map(|(i, l)| LogFile::new(format!("HIVE.LOG{}", i + 1), l.to_vec()))
        .collect();
    let replayed = match Hive::from_bytes(primary.to_vec(), &logs) {
        Ok(h) => {
            exercise(&h);
            h.replay_report().is_some()
        }
        Err(e) => {
            assert_open_error(&e);
            true
        }
    };
    // Read as it is, too, when that is a different hive.
    if replayed {
        match Hive::from_bytes_without_logs(primary.to_vec()) {
            Ok(h) => exercise(&h),
            Err(e) => assert_open_error(&e),
        }
    }
}

fn assert_open_error(e: &Error) {
    assert!(
        matches!(
            e,
            Error::Corrupt { .. } | Error::NotAHive { .. } | Error::Log(_)
        ),
        "open: untyped error {e:?}"
    );
}

fn assert_read_error(what: &str, e: &Error) {
    assert!(
        matches!(e, Error::Corrupt { .. }),
        "{what}: expected Error::Corrupt, got {e:?}"
    );
}

fn assert_edit_error(what: &str, e: &Error) {
    assert!(
        matches!(
            e,
            Error::Corrupt { .. } | Error::Invalid(_) | Error::TooLarge | Error::Security { .. }
        ),
        "{what}: unexpected error {e:?}"
    );
}

/// Reads every key and value the way consumers do; returns the key count.
fn walk(h: &Hive) -> hive::Result<usize> {
    let mut keys = 0;
    export::walk(h, h.root()?, "", &mut |k, _| {
        keys += 1;
        let _ = (k.name(), k.last_written(), k.largest());
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

fn export_as(h: &Hive, format: Format, encoding: RegEncoding) -> hive::Result<()> {
    let options = ExportOptions {
        format,
        prefix: "HKEY_USERS\\FUZZ".into(),
        encoding,
    };
    export::export(h, h.root()?, "", &options, &mut std::io::sink())
}

fn exercise(h: &Hive) {
    let report = h.check();
    let walked = walk(h);
    let json = export_as(h, Format::Json, RegEncoding::Utf8);
    let reg = export_as(h, Format::Reg, RegEncoding::Utf16);
    let sks = h.security_cells().map(|s| s.len());
    let keys = h.all_key_offsets().map(|k| k.len());
    for (what, e) in [
        ("walk", walked.as_ref().err()),
        ("json export", json.as_ref().err()),
        ("reg export", reg.as_ref().err()),
        ("security_cells", sks.as_ref().err()),
        ("all_key_offsets", keys.as_ref().err()),
    ] {
        if let Some(e) = e {
            assert_read_error(what, e);
        }
    }
    let clean = report.is_ok();
    if clean {
        assert!(
            walked.is_ok() && json.is_ok() && reg.is_ok() && sks.is_ok() && keys.is_ok(),
            "check() found no error, yet: walk {walked:?}, json {json:?}, reg {reg:?}, \
             sk list {sks:?}, keys {keys:?}"
        );
        assert_eq!(walked.as_ref().ok(), keys.as_ref().ok());
        assert_eq!(walked.as_ref().ok().map(|&n| n as u64), Some(report.keys));
    }
    edit(h, clean);
}

fn still_clean(what: &str, h: &Hive, was_clean: bool) {
    if was_clean {
        let r = h.check();
        assert!(
            r.is_ok(),
            "after {what} the hive no longer checks clean: {:?}",
            r.findings
        );
    }
}

const SDDL: &str = "O:BAG:SYD:(A;;KA;;;SY)(A;;KR;;;WD)";

fn edit(h: &Hive, clean: bool) {
    let big = vec![0x5Au8; 20_000];
    let descriptor = ntsec::SecurityDescriptor::from_sddl(SDDL)
        .and_then(|d| d.to_bytes())
        .unwrap_or_default();

    // Create a key with values and a descriptor; "save" it; read it back.
    let mut a = h.clone();
    let made = (|| -> hive::Result<u32> {
        let k = a.create_key(a.root_offset(), "fuzz")?;
        a.set_value(k, "big", 3, &big)?;
        a.set_value(k, "", 1, &hive::value::encode_sz("x"))?;
        a.set_key_security(k, &descriptor)?;
        Ok(k)
    })();
    match made {
        Err(e) => assert_edit_error("create + set_value", &e),
        Ok(_) => {
            still_clean("create + set_value", &a, clean);
            a.finish_base_block();
            let back = Hive::from_bytes_without_logs(a.as_bytes().to_vec());
            let back = match back {
                Ok(b) => b,
                Err(e) => panic!("the edited hive does not open again: {e:?}"),
            };
            if clean {
                let k = back.key("fuzz");
                let k = match k {
                    Ok(Some(k)) => k,
                    other => panic!("the saved hive lost the new key: {other:?}"),
                };
                let data = k.value("big").ok().flatten().and_then(|v| v.data().ok());
                assert_eq!(data.as_deref(), Some(big.as_slice()));
                still_clean("save", &back, clean);
            }
        }
    }

    let children = h
        .root()
        .and_then(|r| r.subkey_offsets())
        .unwrap_or_default();
    if let Some(&first) = children.first() {
        let mut b = h.clone();
        match b.delete_key(first) {
            Ok(()) => still_clean("delete_key", &b, clean),
            Err(e) => assert_edit_error("delete_key", &e),
        }
    }
    if let Some(&last) = children.last() {
        let mut c = h.clone();
        match c.rename_key(
            last,
            "a longer name than the key had, so that it has to move",
        ) {
            Ok(_) => still_clean("rename_key", &c, clean),
            Err(e) => assert_edit_error("rename_key", &e),
        }
    }
    if let Ok(map) =
        ntsec::SidMap::from_pairs(["S-1-5-18=S-1-5-21-1000000000-2000000000-3000000000-1001"])
    {
        let mut d = h.clone();
        match d.translate_sids(&map, ntsec::Mode::Replace) {
            Ok(_) => still_clean("translate_sids", &d, clean),
            Err(e) => assert_edit_error("translate_sids", &e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Seeds and mutations for the stable drivers.

/// Fixture hives (relative to the fixtures folder) and the logs to pack with them.
pub const SEEDS: &[(&str, &[&str])] = &[
    ("turbinia/SAM", &[]),
    ("regipy/SAM", &[]),
    ("ericzimmerman-registry/Acronis_0x52_Usrclass.dat", &[]),
    ("regipy/NTUSER.DAT", &[]),
    (
        "yarp/NewDirtyHive1/NewDirtyHive",
        &[
            "yarp/NewDirtyHive1/NewDirtyHive.LOG1",
            "yarp/NewDirtyHive1/NewDirtyHive.LOG2",
        ],
    ),
    ("yarp/NewDirtyHive1/RecoveredHive_Windows10", &[]),
    (
        "yarp/OldDirtyHive/OldDirtyHive",
        &["yarp/OldDirtyHive/OldDirtyHive.LOG1"],
    ),
    ("yarp/OldDirtyHive/RecoveredHive_Windows7", &[]),
    (
        "regipy/transactions_NTUSER.DAT",
        &[
            "regipy/transactions_ntuser.dat.log1",
            "regipy/transactions_ntuser.dat.log2",
        ],
    ),
];

/// The seed inputs built from a fixtures folder: (name, input). Missing files are
/// skipped with a note on stderr.
pub fn seeds(fixtures: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (primary, logs) in SEEDS {
        let Ok(p) = std::fs::read(fixtures.join(primary)) else {
            eprintln!("seed {primary}: not found under {}", fixtures.display());
            continue;
        };
        let logs: Vec<Vec<u8>> = logs
            .iter()
            .filter_map(|l| std::fs::read(fixtures.join(l)).ok())
            .collect();
        let refs: Vec<&[u8]> = logs.iter().map(Vec::as_slice).collect();
        out.push((primary.replace('/', "_"), join(&p, &refs)));
    }
    out
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Where a seed's structure is: byte offsets of base-block fields, bin headers and the
/// first bytes of every cell, and the cell offsets themselves (values worth planting).
#[derive(Debug, Clone, Default)]
pub struct Map {
    pub hot: Vec<usize>,
    pub cells: Vec<u32>,
    /// Where the primary starts inside the input, and where each log starts and ends.
    pub primary: (usize, usize),
    pub logs: Vec<(usize, usize)>,
}

pub fn map(input: &[u8]) -> Map {
    let (primary, logs) = split(input);
    let base = primary.as_ptr() as usize - input.as_ptr() as usize;
    let mut m = Map {
        primary: (base, base + primary.len()),
        logs: logs
            .iter()
            .map(|l| {
                let at = l.as_ptr() as usize - input.as_ptr() as usize;
                (at, at + l.len())
            })
            .collect(),
        ..Map::default()
    };
    m.hot.extend((0..48).chain(508..512).map(|o| base + o));
    let read = |at: usize| -> Option<u32> {
        primary
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let bins_size = read(40).unwrap_or(0) as usize;
    let mut pos = 0usize;
    while pos < bins_size {
        let at = 4096 + pos;
        if primary.get(at..at + 4) != Some(b"hbin".as_slice()) {
            break;
        }
        let size = read(at + 8).unwrap_or(0) as usize;
        if size == 0 {
            break;
        }
        m.hot.extend((at..at + 12).map(|o| base + o));
        let mut c = at + 32;
        while c + 4 <= at + size {
            let raw = read(c).unwrap_or(0) as i32;
            let len = raw.unsigned_abs() as usize;
            if len < 8 {
                break;
            }
            if raw < 0 {
                m.cells.push((c - 4096) as u32);
                m.hot.extend((c..(c + len.min(84))).map(|o| base + o));
            }
            c += len;
        }
        pos += size;
    }
    // Log headers and entry headers are hot too.
    for &(start, end) in &m.logs {
        m.hot
            .extend((start..(start + 48).min(end)).chain(start + 508..(start + 512).min(end)));
        let mut e = start + 512;
        while e + 40 <= end && &input[e..e + 4] == b"HvLE" {
            m.hot.extend(e..e + 48.min(end - e));
            let size = u32::from_le_bytes([input[e + 4], input[e + 5], input[e + 6], input[e + 7]])
                as usize;
            if size < 512 {
                break;
            }
            e += size;
        }
    }
    m
}

const INTERESTING: &[u32] = &[
    0,
    1,
    2,
    4,
    8,
    0x20,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x3FD8,
    0x3FD9,
    0x1000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0x8000_0004,
    0xFFFF_FFF8,
    0xFFFF_FFFF,
];

/// Recomputes what replay validates, so mutated logs are not simply rejected: the log
/// base block's checksum and every `HvLE` entry's two Marvin32 hashes.
pub fn rehash_log(log: &mut [u8]) {
    if log.len() >= 512 {
        let c = hive::base::checksum(&log[..508]);
        log[508..512].copy_from_slice(&c.to_le_bytes());
    }
    let mut e = 512;
    while e + 40 <= log.len() && &log[e..e + 4] == b"HvLE" {
        let size = u32::from_le_bytes([log[e + 4], log[e + 5], log[e + 6], log[e + 7]]) as usize;
        if size < 40 || e + size > log.len() {
            break;
        }
        let h1 = hive::log::marvin32(hive::log::LOG_ENTRY_SEED, &log[e + 40..e + size]);
        log[e + 24..e + 32].copy_from_slice(&h1.to_le_bytes());
        let h2 = hive::log::marvin32(hive::log::LOG_ENTRY_SEED, &log[e..e + 32]);
        log[e + 32..e + 40].copy_from_slice(&h2.to_le_bytes());
        e += size;
    }
}

/// Damages a copy of `seed` in 1 to 8 ways, mostly where its structure is.
pub fn mutate(seed: &[u8], m: &Map, rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    let pick = |rng: &mut Rng, data: &[u8]| -> usize {
        if !m.hot.is_empty() && rng.below(8) != 0 {
            m.hot[rng.below(m.hot.len())]
        } else {
            rng.below(data.len().max(1))
        }
    };
    let mut truncate_to = None;
    for _ in 0..1 + rng.below(8) {
        if data.is_empty() {
            break;
        }
        let at = pick(rng, &data).min(data.len() - 1);
        match rng.below(10) {
            0 | 1 => data[at] ^= 1 << rng.below(8),
            2 => data[at] = rng.next_u64() as u8,
            3 | 4 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                put(&mut data, at & !3, v);
            }
            5 | 6 if !m.cells.is_empty() => {
                // Plant a cell offset (maybe off by a little) where an offset may be.
                let v = m.cells[rng.below(m.cells.len())]
                    .wrapping_add([0, 0, 0, 4, 8, 0xFFFF_FFF8][rng.below(6)]);
                put(&mut data, at & !3, v);
            }
            7 => {
                // Copy a word from elsewhere in the file.
                let from = pick(rng, &data) & !3;
                if from + 4 <= data.len() {
                    let w = [data[from], data[from + 1], data[from + 2], data[from + 3]];
                    put(&mut data, at & !3, u32::from_le_bytes(w));
                }
            }
            8 => {
                let v = (rng.next_u64() as u32) % 0x2_0000;
                put(&mut data, at & !3, v);
            }
            _ => {
                if rng.below(8) == 0 {
                    truncate_to = Some(rng.below(data.len()));
                } else {
                    data[at] = data[at].wrapping_add(1 + rng.below(3) as u8);
                }
            }
        }
    }
    // Keep the damage structural most of the time: a wrong checksum makes the primary
    // "dirty" and the logs (or nothing) decide.
    if rng.below(4) != 0 {
        let (s, e) = m.primary;
        if e <= data.len() && e - s >= 4096 && data[s..s + 4] == *b"regf" {
            hive::base::fix_checksum(&mut data[s..e]);
        }
    }
    if rng.below(4) != 0 {
        for &(s, e) in &m.logs {
            if e <= data.len() {
                rehash_log(&mut data[s..e]);
            }
        }
    }
    if let Some(len) = truncate_to {
        data.truncate(len);
    }
    data
}

fn put(data: &mut [u8], at: usize, v: u32) {
    if let Some(w) = data.get_mut(at..at + 4) {
        w.copy_from_slice(&v.to_le_bytes());
    }
}
