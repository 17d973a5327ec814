//! Edits judged against a model and against hivex.
//!
//! A property test applies random sequences of edits (create keys with non-Latin-1
//! names and names differing only in case, delete, rename, set values of every type
//! from 0 bytes to 40 KiB so both `db` big data (minor > 3) and single big cells
//! (minor 3) appear, delete values, set classes and security descriptors) to a real
//! hive and to a small in-memory model. After each sequence: `check()` finds nothing
//! (sorted lists, lf/lh hashes, exact sk reference counts, sk links, cell tiling, no
//! leaked cells), the hive equals the model, the saved file reopens equal, and hivex
//! reads the saved file the same way.
//!
//! Cases: 32 per fixture with a fixed seed by default; `PROPTEST_CASES=N` and
//! `PROPTEST_RNG_SEED=S` explore further.
#![cfg(test)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a panic is a test failure"
)]

use std::collections::BTreeMap;
use std::path::Path;

use hive::base::{BASE_BLOCK_SIZE, read_u16, read_u32};
use hive::names::upcase_str;
use hive::value::BIG_DATA_SEGMENT;
use hive::{Error, Hive, Key, OpenOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

const MINOR3: &str = "ericzimmerman-registry/Acronis_0x52_Usrclass.dat";
const MINOR5: &str = "regipy/transactions_NTUSER.DAT";

// ---------------------------------------------------------------------------------------
// The model: a tree keyed by upcased names (Windows' comparison), names kept as stored.

#[derive(Debug, Clone, PartialEq, Eq)]
struct MValue {
    name: String,
    kind: u32,
    data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MKey {
    name: String,
    class: Option<String>,
    sd: Vec<u8>,
    values: BTreeMap<Vec<u16>, MValue>,
    children: BTreeMap<Vec<u16>, MKey>,
}

impl MKey {
    fn at(&self, path: &[String]) -> &MKey {
        path.iter()
            .fold(self, |k, name| &k.children[&upcase_str(name)])
    }
    fn at_mut(&mut self, path: &[String]) -> &mut MKey {
        path.iter().fold(self, |k, name| {
            k.children.get_mut(&upcase_str(name)).unwrap()
        })
    }
    /// Every key's path (names as stored), parents first.
    fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![(self, Vec::new())];
        while let Some((k, path)) = stack.pop() {
            for child in k.children.values().rev() {
                let mut p = path.clone();
                p.push(child.name.clone());
                stack.push((child, p));
            }
            out.push(path);
        }
        out
    }
    fn count(&self) -> usize {
        1 + self.children.values().map(MKey::count).sum::<usize>()
    }
}

fn read_key(k: Key<'_>) -> MKey {
    let mut m = MKey {
        name: k.name(),
        class: k.class_name().unwrap(),
        sd: k.security_descriptor().unwrap().to_vec(),
        values: BTreeMap::new(),
        children: BTreeMap::new(),
    };
    for v in k.values().unwrap() {
        let value = MValue {
            name: v.name(),
            kind: v.kind(),
            data: v.data().unwrap().into_owned(),
        };
        let dup = m.values.insert(upcase_str(&value.name), value);
        assert!(dup.is_none(), "duplicate value name under {}", k.name());
    }
    for c in k.subkeys().unwrap() {
        let dup = m.children.insert(upcase_str(&c.name()), read_key(c));
        assert!(dup.is_none(), "duplicate subkey name under {}", k.name());
    }
    m
}

fn read_model(h: &Hive) -> MKey {
    read_key(h.root().unwrap())
}

/// The first difference between two trees, as a readable path.
fn diff(a: &MKey, b: &MKey, path: &str) -> Option<String> {
    if a.name != b.name {
        return Some(format!("{path}: name {:?} vs {:?}", a.name, b.name));
    }
    if a.class != b.class {
        return Some(format!("{path}: class {:?} vs {:?}", a.class, b.class));
    }
    if a.sd != b.sd {
        return Some(format!("{path}: security descriptors differ"));
    }
    if a.values != b.values {
        let names = |k: &MKey| {
            k.values
                .values()
                .map(|v| v.name.clone())
                .collect::<Vec<_>>()
        };
        for (n, v) in &a.values {
            if b.values.get(n) != Some(v) {
                return Some(format!(
                    "{path}: value {:?} ({} bytes, type {}) vs {:?}",
                    v.name,
                    v.data.len(),
                    v.kind,
                    b.values.get(n).map(|w| (&w.name, w.kind, w.data.len()))
                ));
            }
        }
        return Some(format!("{path}: values {:?} vs {:?}", names(a), names(b)));
    }
    if a.children.keys().ne(b.children.keys()) {
        let names = |k: &MKey| {
            k.children
                .values()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        return Some(format!("{path}: subkeys {:?} vs {:?}", names(a), names(b)));
    }
    a.children
        .iter()
        .find_map(|(n, c)| diff(c, &b.children[n], &format!("{path}\\{}", c.name)))
}

// ---------------------------------------------------------------------------------------
// Edits.

/// Characters for names: ASCII, Latin-1 (stored compressed, some with uppercase outside
/// Latin-1), Greek, Cyrillic, CJK and a character outside the BMP (a surrogate pair).
const NAME_CHARS: &[char] = &[
    'a', 'b', 'k', 'Z', 'Q', '0', '7', ' ', '.', '_', '-', '{', 'é', 'É', 'ß', 'ÿ', 'µ', 'æ', 'Ω',
    'ω', 'ж', 'Ж', '中', '文', 'ǅ', '🎉',
];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(NAME_CHARS), 1..10).prop_map(String::from_iter)
}

/// The same name in another letter case (what Windows treats as the same name).
fn case_twin(name: &str) -> String {
    name.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) if u != c => u,
                _ => {
                    let mut low = c.to_lowercase();
                    match (low.next(), low.next()) {
                        (Some(l), None) => l,
                        _ => c,
                    }
                }
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum ValueName {
    Default,
    Pool(usize),
    Random(String),
}

const VALUE_NAMES: &[&str] = &["a", "A", "Wert", "WERT", "ключ", "值", "🎉x", "ÿ", "Ÿ"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        at: usize,
        name: String,
    },
    CreateCaseTwin {
        at: usize,
        child: usize,
    },
    Delete {
        at: usize,
    },
    Rename {
        at: usize,
        name: String,
    },
    RenameCase {
        at: usize,
    },
    SetValue {
        at: usize,
        name: ValueName,
        kind: u32,
        size: usize,
        seed: u8,
    },
    DeleteValue {
        at: usize,
        which: usize,
    },
    SetSecurity {
        at: usize,
        sd: usize,
    },
    SetClass {
        at: usize,
        class: Option<String>,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..=4,
        3 => 5usize..=300,
        2 => 300usize..=6000,
        2 => (BIG_DATA_SEGMENT - 8)..=(BIG_DATA_SEGMENT + 8),
        1 => (2 * BIG_DATA_SEGMENT - 4)..=(2 * BIG_DATA_SEGMENT + 4),
        2 => 20_000usize..=40_960,
    ]
}

fn value_name() -> impl Strategy<Value = ValueName> {
    prop_oneof![
        1 => Just(ValueName::Default),
        4 => (0..VALUE_NAMES.len()).prop_map(ValueName::Pool),
        2 => name().prop_map(ValueName::Random),
    ]
}

fn kind() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..=11, 1 => Just(0x1234_5678u32), 1 => Just(0xFFFF_FFFFu32)]
}

fn op() -> impl Strategy<Value = Op> {
    let at = any::<usize>();
    prop_oneof![
        6 => (at, name()).prop_map(|(at, name)| Op::Create { at, name }),
        2 => (at, any::<usize>()).prop_map(|(at, child)| Op::CreateCaseTwin { at, child }),
        1 => at.prop_map(|at| Op::Delete { at }),
        2 => (at, name()).prop_map(|(at, name)| Op::Rename { at, name }),
        1 => at.prop_map(|at| Op::RenameCase { at }),
        8 => (at, value_name(), kind(), size(), any::<u8>())
            .prop_map(|(at, name, kind, size, seed)| Op::SetValue { at, name, kind, size, seed }),
        2 => (at, any::<usize>()).prop_map(|(at, which)| Op::DeleteValue { at, which }),
        2 => (at, 0usize..5).prop_map(|(at, sd)| Op::SetSecurity { at, sd }),
        1 => (at, prop::option::of(name())).prop_map(|(at, class)| Op::SetClass { at, class }),
    ]
}

fn data(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(u32::from(seed)) as u8
                ^ (i >> 9) as u8
        })
        .collect()
}

fn sd(sddl: &str) -> Vec<u8> {
    ntsec::SecurityDescriptor::from_sddl(sddl)
        .unwrap_or_else(|e| panic!("{sddl}: {e}"))
        .to_bytes()
        .unwrap()
}

/// Five descriptors: four of ours and the root key's own (so sharing with an existing
/// sk cell happens too).
fn descriptors(h: &Hive) -> Vec<Vec<u8>> {
    vec![
        sd("O:BAG:SYD:(A;;KA;;;SY)"),
        sd("O:BAG:SYD:(A;;KA;;;SY)(A;;KA;;;BA)(A;;KR;;;WD)"),
        sd("O:SYG:SYD:PAI(A;OICI;KR;;;WD)(A;CIIO;KA;;;CO)"),
        sd(
            "O:S-1-5-21-1-2-3-1001G:S-1-5-21-1-2-3-513D:AI(A;CIID;KA;;;S-1-5-21-1-2-3-1001)S:(ML;;NW;;;LW)",
        ),
        h.root().unwrap().security_descriptor().unwrap().to_vec(),
    ]
}

fn key_offset(h: &Hive, path: &[String]) -> u32 {
    h.key(&path.join("\\"))
        .unwrap()
        .unwrap_or_else(|| panic!("key {path:?} not found in the hive"))
        .offset()
}

fn is_invalid<T: std::fmt::Debug>(r: &hive::Result<T>) -> bool {
    matches!(r, Err(Error::Invalid(_)))
}

/// Applies one edit to the hive and the model; the hive must accept exactly what the
/// model accepts.
fn apply(h: &mut Hive, m: &mut MKey, sds: &[Vec<u8>], op: &Op) -> Result<(), TestCaseError> {
    let paths = m.paths();
    let pick = |i: usize| paths[i % paths.len()].clone();
    match op {
        Op::Create { at, name } => {
            let path = pick(*at);
            create(h, m, &path, name)?;
        }
        Op::CreateCaseTwin { at, child } => {
            let path = pick(*at);
            let node = m.at(&path);
            if node.children.is_empty() {
                return Ok(());
            }
            let existing = node
                .children
                .values()
                .nth(child % node.children.len())
                .unwrap();
            let twin = case_twin(&existing.name);
            create(h, m, &path, &twin)?;
        }
        Op::Delete { at } => {
            let path = pick(*at);
            let key = key_offset(h, &path);
            let r = h.delete_key(key);
            if path.is_empty() {
                prop_assert!(is_invalid(&r), "deleting the root: {r:?}");
            } else {
                prop_assert!(r.is_ok(), "delete {path:?}: {r:?}");
                let (last, parent) = path.split_last().unwrap();
                m.at_mut(parent).children.remove(&upcase_str(last)).unwrap();
            }
        }
        Op::Rename { at, name } => rename(h, m, &pick(*at), name)?,
        Op::RenameCase { at } => {
            let path = pick(*at);
            let twin = case_twin(&m.at(&path).name);
            if !twin.is_empty() {
                rename(h, m, &path, &twin)?;
            }
        }
        Op::SetValue {
            at,
            name,
            kind,
            size,
            seed,
        } => {
            let path = pick(*at);
            let name = match name {
                ValueName::Default => String::new(),
                ValueName::Pool(i) => VALUE_NAMES[*i].to_string(),
                ValueName::Random(s) => s.clone(),
            };
            let bytes = data(*size, *seed);
            let key = key_offset(h, &path);
            let r = h.set_value(key, &name, *kind, &bytes);
            prop_assert!(r.is_ok(), "set_value {path:?} {name:?} {size}: {r:?}");
            let node = m.at_mut(&path);
            let entry = node.values.entry(upcase_str(&name)).or_insert(MValue {
                name,
                kind: 0,
                data: Vec::new(),
            });
            entry.kind = *kind;
            entry.data = bytes;
        }
        Op::DeleteValue { at, which } => {
            let path = pick(*at);
            let key = key_offset(h, &path);
            let node = m.at_mut(&path);
            if node.values.is_empty() {
                let r = h.delete_value(key, "no such value");
                prop_assert!(matches!(r, Err(Error::ValueNotFound { .. })), "{r:?}");
            } else {
                let upper = node
                    .values
                    .keys()
                    .nth(which % node.values.len())
                    .unwrap()
                    .clone();
                let stored = node.values.remove(&upper).unwrap().name;
                // Ask with the other letter case: lookups ignore case.
                let r = h.delete_value(key, &case_twin(&stored));
                prop_assert!(r.is_ok(), "delete_value {path:?} {stored:?}: {r:?}");
            }
        }
        Op::SetSecurity { at, sd } => {
            let path = pick(*at);
            let key = key_offset(h, &path);
            let r = h.set_key_security(key, &sds[*sd]);
            prop_assert!(r.is_ok(), "set_key_security {path:?}: {r:?}");
            m.at_mut(&path).sd = sds[*sd].clone();
        }
        Op::SetClass { at, class } => {
            let path = pick(*at);
            let key = key_offset(h, &path);
            let r = h.set_class(key, class.as_deref());
            prop_assert!(r.is_ok(), "set_class {path:?}: {r:?}");
            m.at_mut(&path).class = class.clone();
        }
    }
    Ok(())
}

fn create(h: &mut Hive, m: &mut MKey, path: &[String], name: &str) -> Result<(), TestCaseError> {
    let parent = key_offset(h, path);
    let r = h.create_key(parent, name);
    let node = m.at_mut(path);
    if node.children.contains_key(&upcase_str(name)) {
        prop_assert!(is_invalid(&r), "duplicate {name:?} under {path:?}: {r:?}");
    } else {
        prop_assert!(r.is_ok(), "create {name:?} under {path:?}: {r:?}");
        let sd = node.sd.clone();
        node.children.insert(
            upcase_str(name),
            MKey {
                name: name.to_string(),
                class: None,
                sd,
                values: BTreeMap::new(),
                children: BTreeMap::new(),
            },
        );
    }
    Ok(())
}

fn rename(h: &mut Hive, m: &mut MKey, path: &[String], name: &str) -> Result<(), TestCaseError> {
    let key = key_offset(h, path);
    let r = h.rename_key(key, name);
    let Some((last, parent_path)) = path.split_last() else {
        prop_assert!(r.is_ok(), "rename the root to {name:?}: {r:?}");
        m.name = name.to_string();
        return Ok(());
    };
    let parent = m.at_mut(parent_path);
    let (old, new) = (upcase_str(last), upcase_str(name));
    if old != new && parent.children.contains_key(&new) {
        prop_assert!(
            is_invalid(&r),
            "rename {path:?} onto a sibling {name:?}: {r:?}"
        );
    } else {
        prop_assert!(r.is_ok(), "rename {path:?} to {name:?}: {r:?}");
        let mut node = parent.children.remove(&old).unwrap();
        node.name = name.to_string();
        parent.children.insert(new, node);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Judging a hive.

/// check() must find nothing at all: no errors and no warnings (the fixtures start
/// with none, so a warning would be a leak, a stale "largest" field or a duplicate sk).
fn assert_checks_clean(h: &Hive, when: &str) -> Result<(), TestCaseError> {
    let report = h.check();
    prop_assert!(
        report.findings.is_empty(),
        "{when}: check() findings: {:#?}",
        report.findings
    );
    Ok(())
}

fn assert_equals_model(h: &Hive, m: &MKey, when: &str) -> Result<(), TestCaseError> {
    let got = read_model(h);
    if let Some(d) = diff(m, &got, "") {
        prop_assert!(false, "{when}: model vs hive: {d}");
    }
    Ok(())
}

type Listing = BTreeMap<String, BTreeMap<String, (u32, String)>>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn model_listing(m: &MKey) -> Listing {
    let mut out = Listing::new();
    let mut stack = vec![(m, String::new())];
    while let Some((k, path)) = stack.pop() {
        out.insert(
            path.clone(),
            k.values
                .values()
                .map(|v| (v.name.clone(), (v.kind, hex(&v.data))))
                .collect(),
        );
        for c in k.children.values() {
            let p = if path.is_empty() {
                c.name.clone()
            } else {
                format!("{path}\\{}", c.name)
            };
            stack.push((c, p));
        }
    }
    out
}

fn hivex_listing(python: &Path, file: &Path) -> Listing {
    let json = testbed::hive_dump(python, "hivex", file);
    let mut listing = Listing::new();
    for k in json.as_array().unwrap() {
        let values = k["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[0].as_str().unwrap().to_string(),
                    (
                        v[1].as_u64().unwrap() as u32,
                        v[2].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        let dup = listing.insert(k["path"].as_str().unwrap().to_string(), values);
        assert!(dup.is_none(), "hivex listed a key twice");
    }
    listing
}

fn first_listing_difference(a: &Listing, b: &Listing) -> Option<String> {
    for (path, values) in a {
        match b.get(path) {
            None => return Some(format!("key {path:?} missing from hivex's listing")),
            Some(other) if other != values => {
                for (name, v) in values {
                    if other.get(name) != Some(v) {
                        return Some(format!(
                            "{path:?}: value {name:?} {:?} vs hivex {:?}",
                            (v.0, v.1.len() / 2),
                            other.get(name).map(|w| (w.0, w.1.len() / 2))
                        ));
                    }
                }
                return Some(format!("{path:?}: hivex has extra values"));
            }
            Some(_) => {}
        }
    }
    b.keys()
        .find(|p| !a.contains_key(*p))
        .map(|p| format!("hivex lists an extra key {p:?}"))
}

// ---------------------------------------------------------------------------------------
// The property test.

fn config(default_cases: u32, seed: u64) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(seed);
    }
    config.failure_persistence = None;
    config.max_shrink_iters = 200;
    config
}

fn run_edit_sequences(test: &str, fixture: &str, cases: u32, seed: u64, max_ops: usize) {
    let Some(path) = testbed::fixture(test, fixture) else {
        return;
    };
    let started = std::time::Instant::now();
    // Opened with its logs (the minor-5 fixture is dirty) and read once.
    let base = Hive::open(&path).unwrap();
    assert!(
        base.check().findings.is_empty(),
        "{fixture} must start clean"
    );
    let base_model = read_model(&base);
    let sds = descriptors(&base);
    let python = testbed::python_with(test, &["hivex"]);
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(config(cases, seed));
    let case_no = std::cell::Cell::new(0u32);
    let result = runner.run(&prop::collection::vec(op(), 1..max_ops), |ops| {
        case_no.set(case_no.get() + 1);
        let mut h = base.clone();
        let mut m = base_model.clone();
        for op in &ops {
            apply(&mut h, &mut m, &sds, op)?;
        }
        assert_checks_clean(&h, "after the edits")?;
        assert_equals_model(&h, &m, "after the edits")?;

        let file = dir.path().join(format!("case{}.dat", case_no.get()));
        h.save_as(&file)
            .map_err(|e| TestCaseError::fail(format!("save_as: {e}")))?;
        // A clean fixture's pages are copied from its file and only the changed ones
        // written from memory: the file must still be exactly the hive in memory.
        prop_assert!(
            std::fs::read(&file).unwrap() == h.as_bytes(),
            "the saved file differs from the hive in memory"
        );
        let back = Hive::open_with(&file, OpenOptions { use_logs: false })
            .map_err(|e| TestCaseError::fail(format!("reopen: {e}")))?;
        prop_assert!(!back.on_disk().dirty(), "saved hive is dirty");
        assert_checks_clean(&back, "after save + reopen")?;
        assert_equals_model(&back, &m, "after save + reopen")?;

        if let Some(python) = &python {
            let theirs = hivex_listing(python, &file);
            let ours = model_listing(&m);
            if let Some(d) = first_listing_difference(&ours, &theirs) {
                prop_assert!(false, "hivex disagrees: {d}");
            }
        }
        std::fs::remove_file(&file).unwrap();
        Ok(())
    });
    match result {
        Ok(()) => eprintln!(
            "{test}: {} runs on {fixture} ({} keys), {:?}",
            case_no.get(),
            base_model.count(),
            started.elapsed()
        ),
        Err(TestError::Fail(reason, ops)) => {
            panic!("{test}: {reason}\nminimal failing edit sequence:\n{ops:#?}")
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

#[test]
fn random_edits_minor3_match_model_and_hivex() {
    run_edit_sequences(
        "random_edits_minor3_match_model_and_hivex",
        MINOR3,
        32,
        0x5EED_0003,
        40,
    );
}

#[test]
fn random_edits_minor5_match_model_and_hivex() {
    run_edit_sequences(
        "random_edits_minor5_match_model_and_hivex",
        MINOR5,
        24,
        0x5EED_0005,
        40,
    );
}

// ---------------------------------------------------------------------------------------
// Deterministic cases.

fn open_fixture(test: &str, fixture: &str) -> Option<Hive> {
    testbed::fixture(test, fixture).map(|p| Hive::open(p).unwrap())
}

fn assert_clean(h: &Hive) {
    let report = h.check();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

/// The data cell a value points to (raw), and the 2-byte signature there.
fn data_cell(h: &Hive, key: u32, name: &str) -> (u32, [u8; 2]) {
    let v = h.key_at(key).unwrap().value(name).unwrap().unwrap();
    let bytes = h.as_bytes();
    let data = read_u32(bytes, BASE_BLOCK_SIZE + v.offset() as usize + 4 + 8).unwrap();
    let at = BASE_BLOCK_SIZE + data as usize + 4;
    (data, [bytes[at], bytes[at + 1]])
}

fn cell_capacity(h: &Hive, cell: u32) -> usize {
    let raw = read_u32(h.as_bytes(), BASE_BLOCK_SIZE + cell as usize).unwrap() as i32;
    assert!(raw < 0, "cell {cell:#x} is not allocated");
    raw.unsigned_abs() as usize - 4
}

#[test]
fn big_values_use_db_on_minor5_and_free_their_segments() {
    let Some(mut h) = open_fixture("big_values_use_db_on_minor5", MINOR5) else {
        return;
    };
    assert_eq!(h.minor_version(), 5);
    let key = h.create_key_path(r"Software\admu\big").unwrap();
    let big = data(40_000, 9);
    h.set_value(key, "Big", 3, &big).unwrap();
    let (db, sig) = data_cell(&h, key, "Big");
    assert_eq!(&sig, b"db", "a 40000-byte value on minor 5 is big data");
    let bytes = h.as_bytes();
    let db_at = BASE_BLOCK_SIZE + db as usize + 4;
    assert_eq!(
        read_u16(bytes, db_at + 2),
        Some(3),
        "3 segments of <= 16344"
    );
    let list = read_u32(bytes, db_at + 4).unwrap();
    for i in 0..3 {
        let seg = read_u32(bytes, BASE_BLOCK_SIZE + list as usize + 4 + 4 * i).unwrap();
        let cap = cell_capacity(&h, seg);
        assert!(
            cap >= if i < 2 {
                BIG_DATA_SEGMENT
            } else {
                40_000 - 2 * BIG_DATA_SEGMENT
            }
        );
        assert!(
            cap <= BIG_DATA_SEGMENT + 4,
            "segment {i} cell of {cap} bytes"
        );
    }
    let v = h.key_at(key).unwrap().value("big").unwrap().unwrap();
    assert_eq!(v.data().unwrap().as_ref(), big.as_slice());
    assert_clean(&h);

    // Exactly one segment's worth stays a single cell; one byte more is big data.
    h.set_value(key, "Edge", 3, &data(BIG_DATA_SEGMENT, 1))
        .unwrap();
    assert_ne!(&data_cell(&h, key, "Edge").1, b"db");
    h.set_value(key, "Edge", 3, &data(BIG_DATA_SEGMENT + 1, 1))
        .unwrap();
    assert_eq!(&data_cell(&h, key, "Edge").1, b"db");
    let edge = h.key_at(key).unwrap().value("Edge").unwrap().unwrap();
    assert_eq!(
        edge.data().unwrap().as_ref(),
        data(BIG_DATA_SEGMENT + 1, 1).as_slice()
    );
    assert_clean(&h);

    // Shrinking frees the segments, their list and the db cell.
    let free_mid = h.free_bytes().unwrap();
    h.set_value(key, "Big", 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        .unwrap();
    let free_small = h.free_bytes().unwrap();
    assert!(
        free_small >= free_mid + 40_000,
        "freed only {} bytes",
        free_small - free_mid
    );
    assert_clean(&h);

    // And the file says the same after a save.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("NTUSER.DAT");
    h.save_as(&file).unwrap();
    let back = Hive::open(&file).unwrap();
    assert_clean(&back);
    let k = back.require_key(r"Software\admu\big").unwrap();
    assert_eq!(
        k.value("edge").unwrap().unwrap().data().unwrap().as_ref(),
        data(BIG_DATA_SEGMENT + 1, 1).as_slice()
    );
}

#[test]
fn big_values_use_one_cell_on_minor3() {
    let Some(mut h) = open_fixture("big_values_use_one_cell_on_minor3", MINOR3) else {
        return;
    };
    assert_eq!(h.minor_version(), 3);
    let root = h.root_offset();
    let big = data(40_000, 3);
    h.set_value(root, "Big", 3, &big).unwrap();
    let (cell, sig) = data_cell(&h, root, "Big");
    assert!(cell_capacity(&h, cell) >= 40_000);
    assert_ne!(&sig, b"db");
    let v = h.root().unwrap().value("Big").unwrap().unwrap();
    assert_eq!(v.data().unwrap().as_ref(), big.as_slice());
    assert_clean(&h);
    let free_mid = h.free_bytes().unwrap();
    h.delete_value(root, "BIG").unwrap();
    assert!(h.free_bytes().unwrap() >= free_mid + 40_000);
    assert_clean(&h);
}

#[test]
fn renaming_to_a_longer_name_moves_the_key_and_its_children_follow() {
    let Some(mut h) = open_fixture("renaming_moves_the_key", MINOR3) else {
        return;
    };
    // A key with subkeys and values.
    let target = h
        .all_key_offsets()
        .unwrap()
        .into_iter()
        .find(|&k| {
            let key = h.key_at(k).unwrap();
            k != h.root_offset() && key.subkey_count() >= 2 && key.value_count() >= 1
        })
        .unwrap();
    let before = read_key(h.key_at(target).unwrap());
    let parent = h.key_at(target).unwrap().parent_offset();
    let long = "A much longer name than before, with ünïcödé and 中文 in it, so it must move";
    let moved = h.rename_key(target, long).unwrap();
    assert_ne!(moved, target, "a longer name cannot fit in the old cell");
    let key = h.key_at(moved).unwrap();
    assert_eq!(key.name(), long);
    assert_eq!(key.parent_offset(), parent);
    for child in key.subkeys().unwrap() {
        assert_eq!(
            child.parent_offset(),
            moved,
            "{} kept the old parent",
            child.name()
        );
    }
    let parent_key = h.key_at(parent).unwrap();
    assert!(parent_key.subkey_offsets().unwrap().contains(&moved));
    assert!(!parent_key.subkey_offsets().unwrap().contains(&target));
    assert_eq!(
        parent_key.subkey(&before.name).unwrap().map(|k| k.offset()),
        None
    );
    assert_eq!(parent_key.subkey(long).unwrap().unwrap().offset(), moved);
    let after = read_key(key);
    assert_eq!(
        MKey {
            name: before.name.clone(),
            ..after
        },
        before,
        "values, class, descriptor and subtree survive the move"
    );
    assert_clean(&h);
    // Back to a short name: fits in place.
    let again = h.rename_key(moved, "x").unwrap();
    assert_eq!(again, moved);
    assert_clean(&h);
}

fn sk_of(h: &Hive, key: u32) -> (u32, u32) {
    let off = h.key_at(key).unwrap().security_offset();
    let refs = h
        .security_cells()
        .unwrap()
        .iter()
        .find(|s| s.offset() == off)
        .unwrap_or_else(|| panic!("sk {off:#x} is not in the list"))
        .reference_count();
    (off, refs)
}

#[test]
fn deleting_keys_releases_their_descriptors_exactly() {
    let Some(mut h) = open_fixture("deleting_keys_releases_descriptors", MINOR3) else {
        return;
    };
    let cells = h.security_cells().unwrap().len();
    let unique = sd("O:BAG:BAD:P(A;;KA;;;BA)(A;;KR;;;S-1-5-21-9-8-7-1234)");
    let a = h.create_key_path(r"admu\a").unwrap();
    let (inherited, n0) = sk_of(&h, a);
    h.set_key_security(a, &unique).unwrap();
    let (own, refs) = sk_of(&h, a);
    assert_ne!(own, inherited);
    assert_eq!(refs, 1);
    assert_eq!(
        sk_of(&h, h.key("admu").unwrap().unwrap().offset()).0,
        inherited
    );
    assert_eq!(
        sk_of(&h, h.key("admu").unwrap().unwrap().offset()).1,
        n0 - 1
    );
    assert_eq!(h.security_cells().unwrap().len(), cells + 1);
    // Children inherit the cell: the count follows.
    let c1 = h.create_key(a, "child 1").unwrap();
    let c2 = h.create_key(c1, "grandchild").unwrap();
    assert_eq!(sk_of(&h, c2), (own, 3));
    assert_clean(&h);
    h.delete_key(c1).unwrap(); // removes two users at once
    assert_eq!(sk_of(&h, a), (own, 1));
    assert_clean(&h);
    // The last user goes: the cell leaves the list and its space is free again.
    let free = h.free_bytes().unwrap();
    h.delete_key(a).unwrap();
    assert_eq!(h.security_cells().unwrap().len(), cells);
    assert!(
        h.security_cells()
            .unwrap()
            .iter()
            .all(|s| s.descriptor() != unique.as_slice())
    );
    assert!(h.free_bytes().unwrap() > free + unique.len() as u64);
    assert_clean(&h);
}

#[test]
fn identical_descriptors_share_one_cell() {
    let Some(mut h) = open_fixture("identical_descriptors_share_one_cell", MINOR3) else {
        return;
    };
    let cells = h.security_cells().unwrap().len();
    let descriptor = sd("O:SYG:SYD:P(A;;KA;;;SY)(A;;KR;;;S-1-5-21-5-6-7-4242)");
    let a = h.create_key_path(r"admu\one").unwrap();
    let b = h.create_key_path(r"admu\two").unwrap();
    let c = h.create_key_path(r"elsewhere\three").unwrap();
    for k in [a, b, c] {
        h.set_key_security(k, &descriptor).unwrap();
    }
    let (cell, refs) = sk_of(&h, a);
    assert_eq!(sk_of(&h, b), (cell, 3));
    assert_eq!(sk_of(&h, c), (cell, 3));
    assert_eq!(refs, 3);
    assert_eq!(h.security_cells().unwrap().len(), cells + 1);
    // Setting it again changes nothing; a key taking the root's descriptor shares the
    // root's cell.
    h.set_key_security(a, &descriptor).unwrap();
    assert_eq!(sk_of(&h, a), (cell, 3));
    let root_sd = h.root().unwrap().security_descriptor().unwrap().to_vec();
    h.set_key_security(c, &root_sd).unwrap();
    assert_eq!(sk_of(&h, c).0, h.root().unwrap().security_offset());
    assert_eq!(sk_of(&h, a), (cell, 2));
    assert_clean(&h);
}

/// Two sk cells that differ only by `old` vs `new` become one after translating
/// `old` → `new`; everything else in the hive keeps checking clean.
fn translate_and_merge(test: &str, new_sid: &str, expect_len_change: isize) {
    let Some(mut h) = open_fixture(test, MINOR3) else {
        return;
    };
    // The fixture's user (28 bytes: S-1-5-21-x-y-z-rid).
    let old_sid = "S-1-5-21-3851833874-1800822990-1357392098-1000";
    let with = |sid: &str| {
        sd(&format!(
            "O:{sid}G:{sid}D:P(A;OICI;KA;;;{sid})(A;OICI;KA;;;SY)"
        ))
    };
    let (old_sd, new_sd) = (with(old_sid), with(new_sid));
    assert_eq!(
        new_sd.len() as isize - old_sd.len() as isize,
        3 * expect_len_change
    );
    let a = h.create_key_path(r"admu\old").unwrap();
    let b = h.create_key_path(r"admu\new").unwrap();
    let a2 = h.create_key(a, "inherits old").unwrap();
    h.set_key_security(a, &old_sd).unwrap();
    h.set_key_security(a2, &old_sd).unwrap();
    h.set_key_security(b, &new_sd).unwrap();
    let (old_cell, _) = sk_of(&h, a);
    let (new_cell, _) = sk_of(&h, b);
    assert_ne!(old_cell, new_cell);
    let users_of_old: u32 = h
        .security_cells()
        .unwrap()
        .iter()
        .filter(|s| {
            ntsec::SecurityDescriptor::from_bytes(s.descriptor())
                .unwrap()
                .sids()
                .any(|sid| sid.to_string() == old_sid)
        })
        .map(|s| s.reference_count())
        .sum();
    assert_clean(&h);

    let map = ntsec::SidMap::from_pairs([format!("{old_sid}={new_sid}")]).unwrap();
    let report = h.translate_sids(&map, ntsec::Mode::Replace).unwrap();
    assert!(report.cells_changed >= 1, "{report:?}");
    assert_eq!(u64::from(users_of_old), report.keys_affected);
    assert!(report.cells_merged >= 1, "{report:?}");
    let (merged, refs) = sk_of(&h, a);
    assert_eq!(sk_of(&h, b), (merged, refs));
    assert_eq!(sk_of(&h, a2).0, merged);
    assert_eq!(refs, 3, "a, its child and b share the merged cell");
    assert_eq!(
        h.key_at(a).unwrap().security_descriptor().unwrap(),
        new_sd.as_slice()
    );
    // No descriptor anywhere still names the old SID, and no two cells are equal.
    for s in h.security_cells().unwrap() {
        let d = ntsec::SecurityDescriptor::from_bytes(s.descriptor()).unwrap();
        assert!(d.sids().all(|sid| sid.to_string() != old_sid));
    }
    assert_clean(&h);

    // Saved and read back, by us.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("UsrClass.dat");
    h.save_as(&file).unwrap();
    let back = Hive::open(&file).unwrap();
    assert_clean(&back);
    let ka = back.require_key(r"admu\old").unwrap();
    let kb = back.require_key(r"admu\new").unwrap();
    assert_eq!(ka.security_offset(), kb.security_offset());
}

#[test]
fn translate_sids_to_a_shorter_sid_merges_cells() {
    // 28 bytes -> 16 bytes (two sub-authorities).
    translate_and_merge("translate_sids_to_a_shorter_sid", "S-1-5-32-545", -12);
}

#[test]
fn translate_sids_to_a_longer_sid_merges_cells() {
    // 28 bytes -> 40 bytes (eight sub-authorities): cells must move.
    translate_and_merge(
        "translate_sids_to_a_longer_sid",
        "S-1-15-3-1024-1-2-3-4-5-6",
        12,
    );
}

#[test]
fn many_subkeys_split_into_an_ri_list_and_back() {
    let test = "many_subkeys_split_into_an_ri_list_and_back";
    let Some(mut h) = open_fixture(test, MINOR5) else {
        return;
    };
    let parent = h.create_key_path(r"Software\admu\many").unwrap();
    // More than one leaf holds (1012), in an order that is not the sorted one.
    let names: Vec<String> = (0..1030u32)
        .map(|i| format!("Key {:04}", (i * 389) % 1030))
        .collect();
    for name in &names {
        h.create_key(parent, name).unwrap();
    }
    let list_sig = |h: &Hive| {
        let bytes = h.as_bytes();
        let list = read_u32(bytes, BASE_BLOCK_SIZE + parent as usize + 4 + 28).unwrap();
        let at = BASE_BLOCK_SIZE + list as usize + 4;
        [bytes[at], bytes[at + 1]]
    };
    assert_eq!(&list_sig(&h), b"ri");
    assert_clean(&h);
    let key = h.key_at(parent).unwrap();
    let listed: Vec<String> = key.subkeys().unwrap().iter().map(|k| k.name()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "the ri's leaves are globally sorted");
    assert!(key.subkey("KEY 0517").unwrap().is_some());

    // Saved, read by hivex too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.dat");
    h.save_as(&file).unwrap();
    let back = Hive::open(&file).unwrap();
    assert_clean(&back);
    if let Some(python) = testbed::python_with(test, &["hivex"]) {
        let theirs = hivex_listing(&python, &file);
        let ours = model_listing(&read_model(&back));
        assert_eq!(first_listing_difference(&ours, &theirs), None);
    }

    // Deleting below one leaf's worth goes back to a single list.
    for name in &names[..100] {
        let k = h
            .key_at(parent)
            .unwrap()
            .subkey(name)
            .unwrap()
            .unwrap()
            .offset();
        h.delete_key(k).unwrap();
    }
    assert_eq!(&list_sig(&h), b"lh");
    assert_eq!(h.key_at(parent).unwrap().subkey_count(), 930);
    assert_clean(&h);
}
