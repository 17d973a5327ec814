//! `translate_sids` judged by readers we did not write: after the rewrite, notatin (Rust,
//! with winstructs decoding the descriptors) and hivex read every key and value
//! unchanged, and every descriptor equals the old one with the new SID exactly where
//! the old one was.
#![cfg(test)]
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::Path;

use hive::Hive;
use notatin::parser_builder::ParserBuilder;

/// Per key (full path): values as text, and the key's descriptor as winstructs decodes it.
type NotatinView = BTreeMap<String, (Vec<String>, String)>;

#[allow(
    clippy::unnecessary_to_owned,
    reason = "notatin wants owned, 'static paths"
)]
fn notatin_view(file: &Path, logs: &[&Path]) -> NotatinView {
    let mut builder = ParserBuilder::from_path(file.to_path_buf());
    for log in logs {
        builder.with_transaction_log(log.to_path_buf());
    }
    let mut parser = builder.build().unwrap();
    let keys: Vec<_> = notatin::parser::ParserIterator::new(&parser).collect();
    let mut out = BTreeMap::new();
    // notatin returns the whole sk list from a key's cell on; decode each cell once.
    let mut by_cell: BTreeMap<u32, String> = BTreeMap::new();
    for mut key in keys {
        let values = key
            .value_iter()
            .map(|v| format!("{}={:?}", v.get_pretty_name(), v.get_content().0))
            .collect();
        let cell = key.detail.security_key_offset_relative();
        let own = match by_cell.get(&cell) {
            Some(json) => json.clone(),
            None => {
                let sds = key.get_security_descriptors(&mut parser).unwrap();
                let json = serde_json::to_string(&sds[0]).unwrap();
                by_cell.insert(cell, json.clone());
                json
            }
        };
        out.insert(key.path.clone(), (values, own));
    }
    out
}

fn translate_and_compare(fixture: &str, logs: &[&str], old: &str, new: &str) {
    let test = "translate_and_compare";
    let Some(src) = testbed::fixture(test, fixture) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(src.file_name().unwrap());
    std::fs::copy(&src, &file).unwrap();
    let mut log_paths = Vec::new();
    for l in logs {
        let from = src.parent().unwrap().join(l);
        let to = dir.path().join(l);
        std::fs::copy(&from, &to).unwrap();
        log_paths.push(to);
    }
    let log_refs: Vec<&Path> = log_paths.iter().map(|p| p.as_path()).collect();
    let before = notatin_view(&file, &log_refs);

    let mut hive = Hive::open(&file).unwrap();
    let sds_before: Vec<Vec<u8>> = hive
        .all_key_offsets()
        .unwrap()
        .iter()
        .map(|&k| {
            hive.key_at(k)
                .unwrap()
                .security_descriptor()
                .unwrap()
                .to_vec()
        })
        .collect();
    let map = ntsec::SidMap::from_pairs([format!("{old}={new}")]).unwrap();
    let report = hive.translate_sids(&map, ntsec::Mode::Replace).unwrap();
    assert!(report.cells_changed > 0, "{fixture}: nothing changed");
    let check = hive.check();
    assert!(check.is_ok(), "{fixture}: {:?}", check.findings);
    assert!(
        check
            .findings
            .iter()
            .all(|f| !f.message.contains("same descriptor")),
        "{fixture}: duplicate sk cells left: {:?}",
        check.findings
    );
    hive.save().unwrap();
    for log in &log_paths {
        assert_eq!(
            std::fs::metadata(log).unwrap().len(),
            0,
            "logs are emptied after a clean save"
        );
    }

    // Our own view: every key's descriptor is exactly the translated old one.
    let reopened = Hive::open(&file).unwrap();
    assert!(!reopened.on_disk().dirty());
    let keys = reopened.all_key_offsets().unwrap();
    assert_eq!(keys.len(), sds_before.len());
    for (k, old_sd) in keys.iter().zip(&sds_before) {
        let now = reopened
            .key_at(*k)
            .unwrap()
            .security_descriptor()
            .unwrap()
            .to_vec();
        let expected = ntsec::translate_bytes(old_sd, &map, ntsec::Mode::Replace)
            .unwrap()
            .unwrap_or_else(|| old_sd.clone());
        assert_eq!(now, expected);
    }

    // notatin + winstructs: same keys, same values, SIDs swapped exactly.
    let after = notatin_view(&file, &[]);
    assert_eq!(before.len(), after.len(), "{fixture}: key count");
    let mut swapped = 0;
    for (path, (values, sd)) in &before {
        let (values_after, sd_after) = after
            .get(path)
            .unwrap_or_else(|| panic!("{fixture}: {path} missing"));
        assert_eq!(values, values_after, "{fixture}: values of {path}");
        let expected = sd.replace(old, new);
        if expected != *sd {
            swapped += 1;
        }
        assert_eq!(&expected, sd_after, "{fixture}: descriptor of {path}");
        assert!(!sd_after.contains(old), "{fixture}: old SID left in {path}");
    }
    assert!(swapped > 0, "{fixture}: notatin saw no SID change");
}

#[test]
fn domain_user_to_local_same_length() {
    translate_and_compare(
        "regipy/NTUSER.DAT",
        &[],
        "S-1-5-21-2036804247-3058324640-2116585241-1673",
        "S-1-5-21-1111111111-2222222222-3333333333-1001",
    );
}

#[test]
fn domain_user_to_longer_sid_moves_cells() {
    translate_and_compare(
        "regipy/NTUSER.DAT",
        &[],
        "S-1-5-21-2036804247-3058324640-2116585241-1673",
        "S-1-5-21-1111111111-2222222222-3333333333-3444444444-1001",
    );
}

#[test]
fn local_user_to_entra_in_dirty_usrclass_with_logs() {
    translate_and_compare(
        "regipy/UsrClass.dat",
        &["UsrClass.dat.LOG1", "UsrClass.dat.LOG2"],
        "S-1-5-21-2734969515-1644526556-1039763013-1001",
        "S-1-12-1-1111111111-2222222222-3333333333-3444444444",
    );
}

#[test]
fn shorter_sid_in_dirty_ntuser() {
    translate_and_compare(
        "regipy/transactions_NTUSER.DAT",
        &[
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2",
        ],
        "S-1-5-21-2595688666-2948619230-3055395256-1001",
        "S-1-5-21-7-1001",
    );
}
