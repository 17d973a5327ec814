//! The NTFS test bed itself: a descriptor written through ntfs-3g survives a remount
//! byte for byte, and ntfs-3g's own auditor reads it from the unmounted image.
#![cfg(test)]
#![cfg(target_os = "linux")]

use testbed::{NtfsImage, read_ntfs_acl, write_ntfs_acl};

/// O:BA G:SY D:(A;;FA;;;S-1-5-21-1111-2222-3333-1001)(A;;FR;;;WD)(D;;SD;;;BU), built by hand.
fn sample_descriptor() -> Vec<u8> {
    fn sid(auth: u8, subs: &[u32]) -> Vec<u8> {
        let mut v = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, auth];
        for s in subs {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v
    }
    fn ace(kind: u8, mask: u32, sid: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 0];
        v.extend_from_slice(&((8 + sid.len()) as u16).to_le_bytes());
        v.extend_from_slice(&mask.to_le_bytes());
        v.extend_from_slice(sid);
        v
    }
    let user = sid(5, &[21, 1111, 2222, 3333, 1001]);
    let everyone = sid(1, &[0]);
    let users = sid(5, &[32, 545]);
    let owner = sid(5, &[32, 544]);
    let group = sid(5, &[18]);
    let aces = [
        ace(0, 0x001F_01FF, &user),
        ace(0, 0x0012_0089, &everyone),
        ace(1, 0x0001_0000, &users),
    ]
    .concat();
    let mut acl = vec![2, 0];
    acl.extend_from_slice(&((8 + aces.len()) as u16).to_le_bytes());
    acl.extend_from_slice(&3u16.to_le_bytes());
    acl.extend_from_slice(&[0, 0]);
    acl.extend_from_slice(&aces);
    let dacl_at = 20u32;
    let owner_at = dacl_at + acl.len() as u32;
    let group_at = owner_at + owner.len() as u32;
    let mut sd = vec![1, 0];
    sd.extend_from_slice(&0x8004u16.to_le_bytes());
    sd.extend_from_slice(&owner_at.to_le_bytes());
    sd.extend_from_slice(&group_at.to_le_bytes());
    sd.extend_from_slice(&0u32.to_le_bytes());
    sd.extend_from_slice(&dacl_at.to_le_bytes());
    sd.extend_from_slice(&acl);
    sd.extend_from_slice(&owner);
    sd.extend_from_slice(&group);
    sd
}

#[test]
fn descriptor_survives_remount() {
    let Some(mut vol) = NtfsImage::for_test("descriptor_survives_remount") else {
        return;
    };
    let dir = vol.path().join("Users").join("alice");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("notes.txt");
    std::fs::write(&file, b"hello").unwrap();

    let sd = sample_descriptor();
    write_ntfs_acl(&file, &sd).unwrap();
    assert_eq!(
        read_ntfs_acl(&file).unwrap(),
        sd,
        "read back before remount"
    );

    vol.remount().unwrap();
    assert_eq!(read_ntfs_acl(&file).unwrap(), sd, "read back after remount");
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");

    // ntfs-3g's auditor, on the unmounted image, sees the same descriptor.
    let audit = vol
        .with_unmounted(|image| {
            std::process::Command::new("ntfssecaudit")
                .arg("-v")
                .arg(image)
                .arg("/Users/alice/notes.txt")
                .output()
        })
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains("S-1-5-21-1111-2222-3333-1001"),
        "ntfssecaudit output lacks the user SID:\n{text}"
    );
    assert!(text.contains("S-1-5-32-544"), "owner missing:\n{text}");
}

#[test]
fn invalid_descriptor_is_refused() {
    let Some(vol) = NtfsImage::for_test("invalid_descriptor_is_refused") else {
        return;
    };
    let file = vol.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let before = read_ntfs_acl(&file).unwrap();
    assert!(write_ntfs_acl(&file, &[1, 2]).is_err());
    assert_eq!(read_ntfs_acl(&file).unwrap(), before);
}
