//! Every security descriptor stored in the fixture hives: exact binary and SDDL round
//! trips, and SID translation there and back.

#![cfg(test)]

mod common;

use std::collections::BTreeSet;

use ntsec::{
    Mode, SddlOptions, SecurityDescriptor, Sid, SidKind, SidMap, translate, translate_bytes,
};

/// Fewer than this means the scanner missed cells (UsrClass.dat alone has 659).
const MIN_EXPECTED_DESCRIPTORS: usize = 700;

#[test]
fn every_sk_descriptor_round_trips_exactly() {
    let Some(cells) = common::fixture_descriptors() else {
        return;
    };
    assert!(
        cells.len() > MIN_EXPECTED_DESCRIPTORS,
        "only {} sk descriptors found",
        cells.len()
    );
    for cell in &cells {
        let sd =
            SecurityDescriptor::from_bytes(&cell.bytes).unwrap_or_else(|e| panic!("{cell}: {e}"));
        assert_eq!(
            sd.to_bytes().unwrap(),
            cell.bytes,
            "{cell}: binary round trip"
        );
        assert_eq!(sd.byte_len(), cell.bytes.len(), "{cell}: byte_len");
        assert!(
            sd.has_windows_layout(),
            "{cell}: Windows writes SACL, DACL, owner, group"
        );

        let sddl = sd.to_sddl();
        let reparsed =
            SecurityDescriptor::from_sddl(&sddl).unwrap_or_else(|e| panic!("{cell}: {sddl}: {e}"));
        assert_eq!(
            reparsed.to_bytes().unwrap(),
            cell.bytes,
            "{cell}: SDDL round trip of {sddl}"
        );
    }
    println!("{} sk descriptors round-tripped", cells.len());
}

#[test]
fn windows_compatible_sddl_has_no_extension_blocks() {
    let Some(cells) = common::fixture_descriptors() else {
        return;
    };
    let options = SddlOptions {
        windows_compatible: true,
        ..SddlOptions::default()
    };
    for cell in &cells {
        let sd = SecurityDescriptor::from_bytes(&cell.bytes).unwrap();
        let sddl = ntsec::sddl::render(&sd, &options);
        assert!(!sddl.contains('{'), "{cell}: {sddl}");
        // Still parses, only loses what standard SDDL cannot say.
        let reparsed = ntsec::sddl::parse(&sddl, &options).unwrap();
        assert_eq!(reparsed.owner, sd.owner);
        assert_eq!(
            reparsed.dacl.map(|acl| acl.aces),
            sd.dacl.map(|acl| acl.aces)
        );
    }
}

/// Maps every account SID found in the fixtures to SIDs of other lengths, then back.
#[test]
fn account_sids_translate_there_and_back() {
    let Some(cells) = common::fixture_descriptors() else {
        return;
    };
    let descriptors: Vec<SecurityDescriptor> = cells
        .iter()
        .map(|cell| SecurityDescriptor::from_bytes(&cell.bytes).unwrap())
        .collect();
    let accounts: BTreeSet<Sid> = descriptors
        .iter()
        .flat_map(|sd| sd.sids().cloned().collect::<Vec<_>>())
        .filter(|sid| sid.kind() == SidKind::LocalOrDomainAccount)
        .collect();
    assert!(!accounts.is_empty());

    // 28-byte account SIDs become 16-byte, 40-byte and 28-byte SIDs in turn.
    let mut map = SidMap::new();
    for (index, old) in accounts.iter().enumerate() {
        let index = u32::try_from(index).unwrap();
        let new: Sid = match index % 3 {
            0 => format!("S-1-5-99-{}", 1000 + index),
            1 => format!("S-1-15-3-1024-1-2-3-4-5-{index}"),
            _ => format!("S-1-5-21-7-8-9-{}", 1000 + index),
        }
        .parse()
        .unwrap();
        map.insert(old.clone(), new).unwrap();
    }
    let inverse = map.inverse().unwrap();

    let mut changed = 0;
    for (cell, sd) in cells.iter().zip(&descriptors) {
        let Some(rewritten) = translate_bytes(&cell.bytes, &map, Mode::Replace).unwrap() else {
            continue;
        };
        changed += 1;
        let parsed = SecurityDescriptor::from_bytes(&rewritten).unwrap();
        assert!(
            parsed.sids().all(|sid| map.get(sid).is_none()),
            "{cell}: old SID left"
        );
        assert_eq!(
            parsed.dacl.as_ref().map(|acl| acl.aces.len()),
            sd.dacl.as_ref().map(|acl| acl.aces.len())
        );
        assert_eq!(
            translate_bytes(&rewritten, &map, Mode::Replace).unwrap(),
            None,
            "{cell}: idempotent"
        );
        let restored = translate_bytes(&rewritten, &inverse, Mode::Replace)
            .unwrap()
            .unwrap();
        assert_eq!(restored, cell.bytes, "{cell}: inverse replace");

        let added = translate_bytes(&cell.bytes, &map, Mode::Add).unwrap();
        if let Some(added) = added {
            let removed = translate_bytes(&added, &inverse, Mode::Remove)
                .unwrap()
                .unwrap();
            assert_eq!(removed, cell.bytes, "{cell}: add then remove");
        }
    }
    assert!(changed > 0);
}

/// The count in the fixture notes: 1560 owner/group/ACE occurrences of the user's SID in
/// the 659 sk cells of regipy's UsrClass.dat.
#[test]
fn usrclass_user_sid_occurrences() {
    let Some(cells) = common::fixture_descriptors() else {
        return;
    };
    let cells: Vec<_> = cells
        .iter()
        .filter(|cell| cell.file.ends_with("regipy/UsrClass.dat"))
        .collect();
    if cells.is_empty() {
        println!("skipping: regipy/UsrClass.dat is missing");
        return;
    }
    assert_eq!(cells.len(), 659);
    let user = cells
        .iter()
        .find_map(|cell| {
            let sd = SecurityDescriptor::from_bytes(&cell.bytes).unwrap();
            sd.sids()
                .find(|sid| sid.kind() == SidKind::LocalOrDomainAccount && sid.rid() == Some(1001))
                .cloned()
        })
        .unwrap();
    let mut map = SidMap::new();
    map.insert(user, "S-1-5-21-1-2-3-1001".parse().unwrap())
        .unwrap();
    let mut occurrences = 0;
    for cell in cells {
        let sd = SecurityDescriptor::from_bytes(&cell.bytes).unwrap();
        if let Some((_, stats)) = translate(&sd, &map, Mode::Replace) {
            occurrences += usize::from(stats.owner)
                + usize::from(stats.group)
                + stats.dacl_aces
                + stats.sacl_aces;
        }
    }
    assert_eq!(occurrences, 1560);
}
