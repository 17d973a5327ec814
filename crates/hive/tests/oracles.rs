//! Our reader and writer judged by readers we did not write: hivex (libhivex, C) for
//! exact bytes and order, regipy (Python) for decoded values. Every fixture hive is read
//! as it is (no logs, the way hivex reads it) and, after replay + save, as we write it.
#![cfg(test)]
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::Path;

use hive::{Hive, OpenOptions};
use serde_json::Value as Json;

const FIXTURES: &[&str] = &[
    "regipy/NTUSER.DAT",
    "regipy/UsrClass.dat",
    "regipy/transactions_NTUSER.DAT",
    "regipy/SAM",
    "turbinia/SAM",
    "ericzimmerman-registry/Acronis_0x52_Usrclass.dat",
    "yarp/NewDirtyHive1/NewDirtyHive",
    "yarp/NewDirtyHive1/RecoveredHive_Windows10",
    "yarp/OldDirtyHive/OldDirtyHive",
    "yarp/OldDirtyHive/RecoveredHive_Windows7",
];

type Listing = Vec<(String, Vec<(String, u32, String)>)>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Our reading: keys depth-first in list order, values in list order, exact bytes.
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

/// regipy decodes values; compare what both decode the same way.
fn assert_regipy_agrees(python: &Path, file: &Path, ours: &Listing, label: &str) {
    let by_path: BTreeMap<String, &Vec<(String, u32, String)>> =
        ours.iter().map(|(p, v)| (p.to_uppercase(), v)).collect();
    let listing = dump(python, "regipy", file);
    let mut compared = 0;
    for key in listing.as_array().unwrap() {
        let path = key["path"].as_str().unwrap();
        if path.contains('\u{FFFD}') {
            // regipy decodes Latin-1 ("compressed") names as UTF-8 and loses them.
            continue;
        }
        let Some(values) = by_path.get(&path.to_uppercase()) else {
            panic!("{label}: regipy lists key {path:?}, we do not");
        };
        let theirs = key["values"].as_array().unwrap();
        assert_eq!(
            theirs.len(),
            values.len(),
            "{label}: value count of {path:?}"
        );
        for (t, (name, kind, data)) in theirs.iter().zip(values.iter()) {
            assert_eq!(
                t[0].as_str().unwrap(),
                name,
                "{label}: value name in {path:?}"
            );
            let bytes: Vec<u8> = (0..data.len() / 2)
                .map(|i| u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            match (t[1].as_str().unwrap(), *kind) {
                ("REG_DWORD", 4) if bytes.len() == 4 => {
                    let d = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    assert_eq!(
                        t[2].as_u64(),
                        Some(u64::from(d)),
                        "{label}: {path:?}\\{name}"
                    );
                    compared += 1;
                }
                ("REG_SZ", 1) if bytes.len().is_multiple_of(2) => {
                    if let Some(s) = t[2].as_str() {
                        let decoded = hive::value::utf16_until_nul(&bytes);
                        assert_eq!(
                            s.trim_end_matches('\0'),
                            decoded,
                            "{label}: {path:?}\\{name}"
                        );
                        compared += 1;
                    }
                }
                ("REG_MULTI_SZ", 7) => {
                    // Only well-formed lists: regipy and Windows disagree on empty items.
                    if let (Some(list), hive::Data::MultiString(parts)) =
                        (t[2].as_array(), hive::value::decode(7, &bytes))
                        && hive::value::encode_multi_sz(&parts) == bytes
                    {
                        let theirs: Vec<&str> = list.iter().filter_map(Json::as_str).collect();
                        assert_eq!(theirs, parts, "{label}: {path:?}\\{name}");
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
        .filter(|(_, k, _)| matches!(k, 1 | 4))
        .count();
    assert!(
        compared > 0 || comparable == 0,
        "{label}: no value compared"
    );
}

#[test]
fn hivex_and_regipy_read_fixtures_as_we_do() {
    let Some(python) = testbed::python_with(
        "hivex_and_regipy_read_fixtures_as_we_do",
        &["hivex", "regipy"],
    ) else {
        return;
    };
    for name in FIXTURES {
        let Some(file) = testbed::fixture("hivex_and_regipy_read_fixtures_as_we_do", name) else {
            return;
        };
        let hive = Hive::open_with(&file, OpenOptions { use_logs: false }).unwrap();
        let listing = ours(&hive);
        assert_eq!(
            listing,
            hivex_listing(&python, &file),
            "{name}: hivex disagrees"
        );
        assert_regipy_agrees(&python, &file, &listing, name);
    }
}

#[test]
fn replayed_and_saved_hives_read_the_same_in_hivex_and_regipy() {
    let test = "replayed_and_saved_hives_read_the_same_in_hivex_and_regipy";
    let Some(python) = testbed::python_with(test, &["hivex", "regipy"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let Some(file) = testbed::fixture(test, name) else {
            return;
        };
        let mut hive = Hive::open(&file).unwrap();
        let listing = ours(&hive);
        let out = dir.path().join(name.replace('/', "_"));
        hive.save_as(&out).unwrap();
        assert!(
            Hive::open(&out).unwrap().check().is_ok(),
            "{name}: our own check of the saved file"
        );
        assert_eq!(
            listing,
            hivex_listing(&python, &out),
            "{name}: hivex reads our saved copy differently"
        );
        assert_regipy_agrees(&python, &out, &listing, name);
        // Saving without edits keeps every byte of the bins.
        let saved = std::fs::read(&out).unwrap();
        assert_eq!(
            &saved[4096..],
            &hive.as_bytes()[4096..],
            "{name}: bins changed on save"
        );
    }
}
