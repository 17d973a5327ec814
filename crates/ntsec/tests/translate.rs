//! SID translation: the three modes, SIDs of other lengths, layouts kept.

#![cfg(test)]

use ntsec::{
    Ace, AceFlags, Error, Mode, SecurityDescriptor, Sid, SidMap, TranslateStats, translate,
    translate_bytes, translate_bytes_with_stats,
};

const USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
/// Typical inherited profile descriptor: owner and one explicit and one inherited ACE
/// for the user, plus a CREATOR OWNER template and an audit entry.
const PROFILE: &str = "O:S-1-5-21-1004336348-1177238915-682003330-1001G:S-1-5-21-1004336348-1177238915-682003330-513\
    D:AI(A;OICI;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)\
    (A;OICIID;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)\
    S:(AU;OICISAFA;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)(ML;;NW;;;ME)";

fn sid(text: &str) -> Sid {
    text.parse().unwrap()
}

fn profile() -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(PROFILE).unwrap()
}

fn map_to(new: &str) -> SidMap {
    SidMap::from_pairs([format!("{USER}={new}")]).unwrap()
}

fn replaced_profile(new: &str) -> String {
    PROFILE.replace(USER, new)
}

#[test]
fn replace_with_sids_of_the_same_and_other_lengths() {
    let original = profile();
    let original_bytes = original.to_bytes().unwrap();
    // 28 → 28, 28 → 16, 28 → 40 bytes.
    for (new, delta) in [
        ("S-1-5-21-1-2-3-1001", 0isize),
        ("S-1-5-32-562", -12),
        ("S-1-15-3-1024-1-2-3-4-5-6", 12),
    ] {
        let (translated, stats) = translate(&original, &map_to(new), Mode::Replace).unwrap();
        assert_eq!(
            stats,
            TranslateStats {
                owner: true,
                group: false,
                dacl_aces: 2,
                sacl_aces: 1,
                added: 0,
                removed: 0
            }
        );
        assert_eq!(translated.to_sddl(), replaced_profile(new));
        let bytes = translated.to_bytes().unwrap();
        // Owner, two DACL entries and one SACL entry changed length.
        assert_eq!(
            bytes.len() as isize,
            original_bytes.len() as isize + 4 * delta
        );
        let reparsed = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(reparsed, translated);
        assert!(reparsed.has_windows_layout());
        let ace = &reparsed.dacl.as_ref().unwrap().aces[0];
        assert_eq!(ace.byte_len() as isize, 36 + delta);
    }
}

#[test]
fn replace_keeps_masks_flags_order_and_creator_owner() {
    let original = profile();
    let (translated, _) =
        translate(&original, &map_to("S-1-5-21-1-2-3-1001"), Mode::Replace).unwrap();
    let before = &original.dacl.as_ref().unwrap().aces;
    let after = &translated.dacl.as_ref().unwrap().aces;
    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(after) {
        assert_eq!(
            (old.ace_type, old.flags, old.mask()),
            (new.ace_type, new.flags, new.mask())
        );
    }
    assert_eq!(after[1].sid(), Some(&Sid::creator_owner()));
    assert_eq!(translated.control, original.control);
    assert_eq!(translated.group, original.group);
}

#[test]
fn add_inserts_a_copy_after_each_entry_and_leaves_owner_alone() {
    let original = profile();
    let new = "S-1-5-21-1-2-3-1001";
    let (added, stats) = translate(&original, &map_to(new), Mode::Add).unwrap();
    assert_eq!(
        stats,
        TranslateStats {
            owner: false,
            group: false,
            dacl_aces: 2,
            sacl_aces: 1,
            added: 3,
            removed: 0
        }
    );
    assert_eq!(added.owner, original.owner);
    let dacl = &added.dacl.as_ref().unwrap().aces;
    assert_eq!(dacl.len(), 6);
    assert_eq!(dacl[1], dacl[0].with_sid(sid(new)));
    assert_eq!(dacl[5], dacl[4].with_sid(sid(new)));
    assert_eq!(added.sacl.as_ref().unwrap().aces.len(), 3);
    // Idempotent.
    assert_eq!(translate(&added, &map_to(new), Mode::Add), None);
    // Remove of the new SID undoes it.
    let inverse = map_to(new).inverse().unwrap();
    let (removed, stats) = translate(&added, &inverse, Mode::Remove).unwrap();
    assert_eq!(stats.removed, 3);
    assert_eq!(removed, original);
}

#[test]
fn remove_drops_entries_and_leaves_owner_alone() {
    let original = profile();
    let (removed, stats) =
        translate(&original, &map_to("S-1-5-21-1-2-3-1001"), Mode::Remove).unwrap();
    assert_eq!(
        (stats.removed, stats.dacl_aces, stats.sacl_aces, stats.owner),
        (3, 2, 1, false)
    );
    assert_eq!(removed.owner, original.owner);
    assert_eq!(
        removed.to_sddl(),
        "O:S-1-5-21-1004336348-1177238915-682003330-1001G:S-1-5-21-1004336348-1177238915-682003330-513\
         D:AI(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)S:(ML;;NW;;;ME)"
    );
    assert_eq!(
        translate(&removed, &map_to("S-1-5-21-1-2-3-1001"), Mode::Remove),
        None
    );
}

#[test]
fn creator_owner_is_mapped_only_when_asked() {
    let original = profile();
    let mut map = SidMap::new();
    map.insert(Sid::creator_owner(), sid("S-1-5-21-1-2-3-1001"))
        .unwrap();
    let (translated, stats) = translate(&original, &map, Mode::Replace).unwrap();
    assert_eq!(stats.dacl_aces, 1);
    assert_eq!(
        translated.dacl.unwrap().aces[1].sid(),
        Some(&sid("S-1-5-21-1-2-3-1001"))
    );
}

#[test]
fn nothing_to_change_gives_none() {
    let bytes = profile().to_bytes().unwrap();
    let map = SidMap::from_pairs(["S-1-5-21-9-9-9-1001=S-1-5-21-1-2-3-1001"]).unwrap();
    for mode in [Mode::Replace, Mode::Add, Mode::Remove] {
        assert_eq!(translate_bytes(&bytes, &map, mode), Ok(None));
    }
    assert_eq!(
        translate_bytes(&bytes, &SidMap::new(), Mode::Replace),
        Ok(None)
    );
}

/// Owner, gap, DACL with slack, group: a layout Windows does not write.
fn unusual_layout() -> Vec<u8> {
    let owner = sid(USER).to_bytes();
    let group = Sid::local_system().to_bytes();
    let ace = Ace::allowed(AceFlags(3), 0x1F01FF, sid(USER))
        .to_bytes()
        .unwrap();
    let mut dacl = vec![2, 0, 0, 0, 1, 0, 0, 0];
    dacl.extend_from_slice(&ace);
    dacl.extend_from_slice(&[0xEE; 8]);
    let dacl_size = dacl.len() as u16;
    dacl[2..4].copy_from_slice(&dacl_size.to_le_bytes());
    let gap = [0x55u8; 4];
    let owner_at = 20u32;
    let dacl_at = owner_at + owner.len() as u32 + gap.len() as u32;
    let group_at = dacl_at + dacl.len() as u32;
    let mut bytes = vec![1, 0, 0x04, 0x80];
    for offset in [owner_at, group_at, 0, dacl_at] {
        bytes.extend_from_slice(&offset.to_le_bytes());
    }
    bytes.extend_from_slice(&owner);
    bytes.extend_from_slice(&gap);
    bytes.extend_from_slice(&dacl);
    bytes.extend_from_slice(&group);
    bytes.extend_from_slice(&[0xAA; 4]);
    bytes
}

#[test]
fn unusual_layouts_survive_translation() {
    let bytes = unusual_layout();
    let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert!(!sd.has_windows_layout());
    assert_eq!(sd.to_bytes().unwrap(), bytes);

    let map = map_to("S-1-15-3-1024-1-2-3-4-5-6");
    let (longer, stats) = translate_bytes_with_stats(&bytes, &map, Mode::Replace)
        .unwrap()
        .unwrap();
    assert!(stats.owner && stats.dacl_aces == 1);
    assert_eq!(longer.len(), bytes.len() + 24);
    let offset = |at: usize| u32::from_le_bytes(longer[at..at + 4].try_into().unwrap()) as usize;
    // Same order: owner, gap, DACL (slack kept), group, trailing bytes.
    assert_eq!(offset(4), 20);
    assert_eq!(longer[60..64], [0x55; 4]);
    assert_eq!(offset(16), 64);
    assert_eq!(longer[offset(16) + 2], 8 + 48 + 8);
    assert_eq!(longer[offset(16) + 56..offset(16) + 64], [0xEE; 8]);
    assert_eq!(offset(8), 64 + 64);
    assert_eq!(longer[longer.len() - 4..], [0xAA; 4]);

    let back = translate_bytes(&longer, &map.inverse().unwrap(), Mode::Replace)
        .unwrap()
        .unwrap();
    assert_eq!(back, bytes);
}

#[test]
fn sid_map_parsing_and_validation() {
    let (old, new) = SidMap::parse_pair(" S-1-5-21-1-2-3-1001 = S-1-5-21-4-5-6-1001 ").unwrap();
    assert_eq!(
        (old.to_string(), new.to_string()),
        ("S-1-5-21-1-2-3-1001".into(), "S-1-5-21-4-5-6-1001".into())
    );
    assert!(SidMap::parse_pair("S-1-5-18").is_err());
    assert!(matches!(
        SidMap::parse_pair("S-1-5-18=bogus"),
        Err(Error::InvalidSidString { .. })
    ));

    let map: SidMap =
        "S-1-5-21-1-2-3-1001=S-1-5-21-4-5-6-1001, S-1-5-21-1-2-3-1002=S-1-5-21-4-5-6-1002"
            .parse()
            .unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map.to_string().parse::<SidMap>().unwrap(), map);

    let mut map = SidMap::new();
    assert!(
        map.insert(sid("S-1-5-18"), sid("S-1-5-18")).is_err(),
        "identity"
    );
    map.insert(sid("S-1-5-21-1-2-3-1001"), sid("S-1-5-21-4-5-6-1001"))
        .unwrap();
    assert!(
        map.insert(sid("S-1-5-21-4-5-6-1001"), sid("S-1-5-21-7-8-9-1001"))
            .is_err(),
        "chain"
    );
    assert!(
        map.insert(sid("S-1-5-21-7-8-9-1001"), sid("S-1-5-21-1-2-3-1001"))
            .is_err(),
        "chain"
    );
    map.insert(sid("S-1-5-21-1-2-3-1002"), sid("S-1-5-21-4-5-6-1001"))
        .unwrap();
    assert!(map.inverse().is_err(), "two old SIDs share a new one");
}
