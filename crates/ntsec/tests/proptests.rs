//! Property tests: exact binary round trips for arbitrary layouts, SDDL round trips,
//! translation undone by its inverse, and no panics on arbitrary or corrupted input.

#![cfg(test)]

mod common;

use std::sync::OnceLock;

use ntsec::{
    Ace, AceBody, AceFlags, AceType, Acl, Control, Guid, Mode, SecurityDescriptor, Sid, SidMap,
    translate, translate_bytes,
};
use proptest::prelude::*;
use proptest::sample::Index;

fn arb_sid() -> impl Strategy<Value = Sid> {
    let authority = prop_oneof![4 => 0u64..=20, 1 => 0u64..(1 << 48)];
    let sub_authorities = prop_oneof![
        3 => prop::collection::vec(0u32..2000, 0..=5),
        1 => prop::collection::vec(any::<u32>(), 0..=15),
    ];
    (authority, sub_authorities).prop_map(|(authority, subs)| Sid::new(authority, &subs).unwrap())
}

fn arb_trailing() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(any::<u8>(), 0..12)]
}

fn arb_ace() -> impl Strategy<Value = Ace> {
    let sid_types = prop::sample::select(vec![0u8, 1, 2, 3, 9, 10, 13, 14, 17, 18, 19, 20, 21]);
    let object_types = prop::sample::select(vec![5u8, 6, 7, 8, 11, 12, 15, 16]);
    let opaque_types = prop_oneof![Just(4u8), 22u8..=255];
    let guid = prop::option::of(any::<[u8; 16]>().prop_map(Guid));
    prop_oneof![
        4 => (sid_types, any::<u8>(), any::<u32>(), arb_sid(), arb_trailing()).prop_map(
            |(ace_type, flags, mask, sid, trailing)| Ace {
                ace_type: AceType(ace_type),
                flags: AceFlags(flags),
                body: AceBody::Sid { mask, sid, trailing },
            }
        ),
        2 => (object_types, any::<u8>(), any::<u32>(), guid.clone(), guid, arb_sid(), arb_trailing()).prop_map(
            |(ace_type, flags, mask, object_type, inherited_object_type, sid, trailing)| Ace {
                ace_type: AceType(ace_type),
                flags: AceFlags(flags),
                body: AceBody::Object { mask, object_type, inherited_object_type, sid, trailing },
            }
        ),
        1 => (opaque_types, any::<u8>(), prop::collection::vec(any::<u8>(), 4..24)).prop_map(
            |(ace_type, flags, body)| Ace {
                ace_type: AceType(ace_type),
                flags: AceFlags(flags),
                body: AceBody::Opaque(body),
            }
        ),
    ]
}

fn arb_acl() -> impl Strategy<Value = Acl> {
    let revision = prop_oneof![Just(2u8), Just(4u8), any::<u8>()];
    let reserved = prop_oneof![4 => Just((0u8, 0u16)), 1 => any::<(u8, u16)>()];
    (
        revision,
        reserved,
        prop::collection::vec(arb_ace(), 0..6),
        arb_trailing(),
    )
        .prop_map(|(revision, (sbz1, sbz2), aces, trailing)| Acl {
            revision,
            sbz1,
            sbz2,
            aces,
            trailing,
        })
}

/// Descriptor bytes with the parts in any order and random gaps between them.
fn arb_descriptor_bytes() -> impl Strategy<Value = Vec<u8>> {
    let parts = (
        prop::option::of(arb_sid()),
        prop::option::of(arb_sid()),
        prop::option::of(arb_acl()),
        prop::option::of(arb_acl()),
    );
    let order = Just(vec![0usize, 1, 2, 3]).prop_shuffle();
    let gap = prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(any::<u8>(), 1..9)];
    let gaps = prop::collection::vec(gap, 5);
    let header = (any::<u8>(), any::<u16>());
    (parts, order, gaps, header).prop_map(
        |((owner, group, sacl, dacl), order, gaps, (rm, control))| {
            // Header offset slots: owner, group, SACL, DACL.
            let blobs = [
                owner.map(|sid| sid.to_bytes()),
                group.map(|sid| sid.to_bytes()),
                sacl.map(|acl| acl.to_bytes().unwrap()),
                dacl.map(|acl| acl.to_bytes().unwrap()),
            ];
            let mut bytes = vec![1, rm];
            bytes.extend_from_slice(&(control | 0x8000).to_le_bytes());
            bytes.extend_from_slice(&[0; 16]);
            for (position, slot) in order.into_iter().enumerate() {
                bytes.extend_from_slice(&gaps[position]);
                if let Some(blob) = &blobs[slot] {
                    let offset = bytes.len() as u32;
                    bytes[4 + 4 * slot..8 + 4 * slot].copy_from_slice(&offset.to_le_bytes());
                    bytes.extend_from_slice(blob);
                }
            }
            bytes.extend_from_slice(&gaps[4]);
            bytes
        },
    )
}

fn arb_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    arb_descriptor_bytes().prop_map(|bytes| SecurityDescriptor::from_bytes(&bytes).unwrap())
}

/// SIDs no generated descriptor contains (authority 99, first sub-authority 0xDEAD_0000 + i).
fn fresh_sid(index: usize, extra: &[u32]) -> Sid {
    let mut subs = vec![0xDEAD_0000 + index as u32];
    subs.extend_from_slice(extra);
    Sid::new(99, &subs).unwrap()
}

/// A map from some SIDs of `sd` to fresh SIDs of random lengths.
fn map_for(sd: &SecurityDescriptor, picks: &[(Index, Vec<u32>)]) -> SidMap {
    let sids: Vec<&Sid> = sd.sids().collect();
    let mut map = SidMap::new();
    if sids.is_empty() {
        return map;
    }
    for (index, (pick, extra)) in picks.iter().enumerate() {
        let old = pick.get(&sids).to_owned().clone();
        if map.get(&old).is_none() {
            map.insert(old, fresh_sid(index, extra)).unwrap();
        }
    }
    map
}

fn arb_picks() -> impl Strategy<Value = Vec<(Index, Vec<u32>)>> {
    prop::collection::vec(
        (any::<Index>(), prop::collection::vec(any::<u32>(), 0..14)),
        0..4,
    )
}

fn fixture_descriptors() -> &'static [Vec<u8>] {
    static CELLS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CELLS.get_or_init(|| {
        common::fixture_descriptors()
            .unwrap_or_default()
            .into_iter()
            .map(|cell| cell.bytes)
            .collect()
    })
}

/// Whatever parses must re-serialize exactly and survive SDDL and translation.
fn check_parsed_input(bytes: &[u8]) {
    let Ok(sd) = SecurityDescriptor::from_bytes(bytes) else {
        return;
    };
    assert_eq!(sd.to_bytes().unwrap(), bytes);
    let mut expected = sd.clone();
    expected.use_windows_layout();
    assert_eq!(
        SecurityDescriptor::from_sddl(&sd.to_sddl()).unwrap(),
        expected
    );
    let map = SidMap::from_pairs(["S-1-5-18=S-1-5-21-1-2-3-4-5-6-7-1001"]).unwrap();
    for mode in [Mode::Replace, Mode::Add, Mode::Remove] {
        let _ = translate_bytes(bytes, &map, mode);
    }
}

proptest! {
    #[test]
    fn binary_round_trip_keeps_any_layout(bytes in arb_descriptor_bytes()) {
        let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
        prop_assert_eq!(sd.byte_len(), bytes.len());
        prop_assert_eq!(sd.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn sddl_round_trip(sd in arb_descriptor()) {
        let mut expected = sd.clone();
        expected.use_windows_layout();
        let text = sd.to_sddl();
        let parsed = SecurityDescriptor::from_sddl(&text);
        prop_assert_eq!(parsed, Ok(expected), "{}", text);
    }

    #[test]
    fn replace_then_inverse_replace_is_identity(sd in arb_descriptor(), picks in arb_picks()) {
        let map = map_for(&sd, &picks);
        let Some((translated, stats)) = translate(&sd, &map, Mode::Replace) else {
            prop_assert!(map.is_empty() || sd.sids().all(|sid| map.get(sid).is_none()));
            return Ok(());
        };
        prop_assert_eq!(stats.added + stats.removed, 0);
        prop_assert!(translated.sids().all(|sid| map.get(sid).is_none()));
        prop_assert_eq!(translate(&translated, &map, Mode::Replace), None);
        let bytes = translated.to_bytes().unwrap();
        prop_assert_eq!(&SecurityDescriptor::from_bytes(&bytes).unwrap(), &translated);
        let (restored, _) = translate(&translated, &map.inverse().unwrap(), Mode::Replace).unwrap();
        prop_assert_eq!(restored, sd);
    }

    #[test]
    fn add_then_remove_is_identity(sd in arb_descriptor(), picks in arb_picks()) {
        let map = map_for(&sd, &picks);
        let Some((added, stats)) = translate(&sd, &map, Mode::Add) else { return Ok(()) };
        prop_assert_eq!(stats.added, stats.dacl_aces + stats.sacl_aces);
        prop_assert_eq!(&added.owner, &sd.owner);
        prop_assert_eq!(translate(&added, &map, Mode::Add), None);
        let bytes = added.to_bytes().unwrap();
        prop_assert_eq!(&SecurityDescriptor::from_bytes(&bytes).unwrap(), &added);
        let (removed, remove_stats) = translate(&added, &map.inverse().unwrap(), Mode::Remove).unwrap();
        prop_assert_eq!(remove_stats.removed, stats.added);
        prop_assert_eq!(removed, sd);
    }

    #[test]
    fn remove_is_idempotent(sd in arb_descriptor(), picks in arb_picks()) {
        let map = map_for(&sd, &picks);
        if let Some((removed, _)) = translate(&sd, &map, Mode::Remove) {
            prop_assert_eq!(&removed.owner, &sd.owner);
            prop_assert_eq!(translate(&removed, &map, Mode::Remove), None);
        }
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        check_parsed_input(&bytes);
    }

    #[test]
    fn arbitrary_offsets_do_not_panic(
        body in prop::collection::vec(any::<u8>(), 0..140),
        control in any::<u16>(),
        offsets in prop::collection::vec(0u32..180, 4),
    ) {
        let mut bytes = vec![1, 0];
        bytes.extend_from_slice(&(control | Control::SELF_RELATIVE.0).to_le_bytes());
        for offset in offsets {
            bytes.extend_from_slice(&offset.to_le_bytes());
        }
        bytes.extend_from_slice(&body);
        check_parsed_input(&bytes);
    }

    #[test]
    fn arbitrary_sddl_does_not_panic(text in "[OGDS:();APIRNOCXUMLZ0-9a-fx#{}=,S-]{0,60}") {
        let _ = SecurityDescriptor::from_sddl(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn corrupted_fixture_descriptors_do_not_panic(pick in any::<Index>(), position in any::<Index>(), byte in any::<u8>()) {
        let cells = fixture_descriptors();
        if cells.is_empty() {
            return Ok(());
        }
        let mut bytes = pick.get(cells).clone();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        check_parsed_input(&bytes);
    }

    #[test]
    fn corrupted_sddl_does_not_panic(pick in any::<Index>(), position in any::<Index>(), ch in any::<char>()) {
        let cells = fixture_descriptors();
        if cells.is_empty() {
            return Ok(());
        }
        let text = SecurityDescriptor::from_bytes(pick.get(cells).as_slice()).unwrap().to_sddl();
        let mut chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return Ok(());
        }
        let at = position.index(chars.len());
        chars[at] = ch;
        let corrupted: String = chars.into_iter().collect();
        if let Ok(sd) = SecurityDescriptor::from_sddl(&corrupted) {
            let bytes = sd.to_bytes();
            if let Ok(bytes) = bytes {
                prop_assert_eq!(SecurityDescriptor::from_bytes(&bytes).unwrap(), sd);
            }
        }
    }
}
