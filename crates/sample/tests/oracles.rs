//! Every hive of a sample read by readers we did not write: hivex (exact bytes and
//! order, compared with our own reader) and regipy (keys and decoded values).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use hive::Hive;
use serde_json::Value as Json;

type Listing = Vec<(String, Vec<(String, u32, String)>)>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ours(hive: &Hive) -> Listing {
    let mut out = Vec::new();
    hive::export::walk(hive, hive.root().unwrap(), "", &mut |key, path| {
        let values = key
            .values()?
            .iter()
            .map(|v| Ok((v.name(), v.kind(), hex(&v.data()?))))
            .collect::<hive::Result<Vec<_>>>()?;
        out.push((path.to_string(), values));
        Ok(())
    })
    .unwrap();
    out
}

fn dump(python: &Path, lib: &str, file: &Path) -> Json {
    testbed::hive_dump(python, lib, file)
}

fn hivex_listing(python: &Path, file: &Path) -> Listing {
    dump(python, "hivex", file)
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let values = k["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v[0].as_str().unwrap().to_string(),
                        v[1].as_u64().unwrap() as u32,
                        v[2].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (k["path"].as_str().unwrap().to_string(), values)
        })
        .collect()
}

/// regipy lists the same keys, the same number of values, and decodes strings and
/// DWORDs as we store them.
fn assert_regipy_agrees(python: &Path, file: &Path, ours: &Listing, label: &str) {
    let by_path: BTreeMap<String, &Vec<(String, u32, String)>> =
        ours.iter().map(|(p, v)| (p.to_uppercase(), v)).collect();
    let listing = dump(python, "regipy", file);
    let keys = listing.as_array().unwrap();
    assert_eq!(keys.len(), ours.len(), "{label}: key count");
    let mut compared = 0;
    for key in keys {
        let path = key["path"].as_str().unwrap();
        let values = by_path
            .get(&path.to_uppercase())
            .unwrap_or_else(|| panic!("{label}: regipy lists {path:?}, we do not"));
        let theirs = key["values"].as_array().unwrap();
        assert_eq!(theirs.len(), values.len(), "{label}: values of {path:?}");
        for (t, (name, kind, data)) in theirs.iter().zip(values.iter()) {
            assert_eq!(t[0].as_str().unwrap(), name, "{label}: {path:?}");
            let bytes: Vec<u8> = (0..data.len() / 2)
                .map(|i| u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            match (t[1].as_str().unwrap(), *kind) {
                ("REG_DWORD", 4) => {
                    let d = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    assert_eq!(
                        t[2].as_u64(),
                        Some(u64::from(d)),
                        "{label}: {path:?}\\{name}"
                    );
                    compared += 1;
                }
                ("REG_SZ", 1) | ("REG_EXPAND_SZ", 2) => {
                    // SAM keeps counts in value types: some "strings" are RID lists.
                    if let Some(s) = t[2].as_str()
                        && !s.trim_end_matches('\0').contains('\0')
                    {
                        assert_eq!(
                            s.trim_end_matches('\0'),
                            hive::value::utf16_until_nul(&bytes),
                            "{label}: {path:?}\\{name}"
                        );
                        compared += 1;
                    }
                }
                _ => {}
            }
        }
    }
    let comparable = ours
        .iter()
        .flat_map(|(_, v)| v)
        .filter(|(_, k, _)| matches!(k, 1 | 2 | 4))
        .count();
    assert!(
        compared > 0 || comparable == 0,
        "{label}: no value compared"
    );
}

#[test]
fn hivex_and_regipy_read_every_hive_as_we_do() {
    let test = "hivex_and_regipy_read_every_hive_as_we_do";
    let Some(python) = testbed::python_with(test, &["hivex", "regipy"]) else {
        return;
    };
    let (dir, report) = common::small(21);
    for h in &report.hives {
        let file = common::path(dir.path(), &h.path);
        let hive = Hive::open(&file).unwrap();
        let listing = ours(&hive);
        assert_eq!(listing.len(), h.keys, "{}", h.path);
        assert_eq!(
            listing,
            hivex_listing(&python, &file),
            "{}: hivex disagrees",
            h.path
        );
        assert_regipy_agrees(&python, &file, &listing, &h.path);
    }
}
