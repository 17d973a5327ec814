//! A sample on a real NTFS volume (ntfs-3g test bed): descriptors, attributes and
//! junctions as ntfs-3g's own auditor reads them from the unmounted image.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod common;

use ntsec::SecurityDescriptor;

fn sddl_of(tree: &std::collections::BTreeMap<String, Vec<u8>>, path: &str) -> String {
    let sd = tree
        .get(path)
        .unwrap_or_else(|| panic!("ntfssecaudit lists no {path}"));
    SecurityDescriptor::from_bytes(sd).unwrap().to_sddl()
}

fn attributes(path: &std::path::Path) -> u32 {
    let mut buf = [0u8; 4];
    rustix::fs::lgetxattr(path, "system.ntfs_attrib", &mut buf).unwrap();
    u32::from_le_bytes(buf)
}

#[test]
fn descriptors_attributes_and_junctions_on_ntfs() {
    let Some(mut vol) =
        testbed::NtfsImage::for_test("descriptors_attributes_and_junctions_on_ntfs")
    else {
        return;
    };
    let report = sample::create(vol.path(), &common::options(31)).unwrap();
    assert!(report.descriptors_set, "{:?}", report.descriptors_note);
    assert_eq!(report.junctions, Some(sample::JunctionKind::Junction));
    let alice = &report.users[0];
    let root = vol.path().join("Users/alice");
    assert_eq!(
        attributes(&root.join("NTUSER.DAT")) & 0x27,
        0x22,
        "NTUSER.DAT A+H"
    );
    assert_eq!(
        attributes(&root.join("ntuser.dat.LOG1")) & 0x27,
        0x26,
        "log A+H+S"
    );
    assert_eq!(
        attributes(&root.join("AppData")) & 0x7,
        0x2,
        "AppData hidden"
    );
    assert_eq!(
        attributes(&root.join("Documents")) & 0x7,
        0x1,
        "Documents read-only"
    );
    assert_eq!(
        attributes(&root.join("My Documents")) & 0x406,
        0x406,
        "junction H+S+reparse"
    );
    let reparse = {
        let mut buf = vec![0u8; 1024];
        let n = rustix::fs::lgetxattr(
            root.join("My Documents"),
            "system.ntfs_reparse_data",
            &mut buf,
        )
        .unwrap();
        buf.truncate(n);
        buf
    };
    assert_eq!(
        reparse,
        sample::ntfs::mount_point_buffer("C:\\Users\\alice\\Documents")
    );

    let tree = vol
        .with_unmounted(|image| testbed::ntfssecaudit_tree(image, "/Users/alice"))
        .unwrap()
        .unwrap();
    let user = &alice.sid;
    assert_eq!(
        sddl_of(&tree, "/Users/alice"),
        format!("O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{user})")
    );
    let inherited_file = sddl_of(&tree, "/Users/alice/NTUSER.DAT");
    assert!(
        inherited_file.ends_with(&format!(
            "D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{user})"
        )),
        "{inherited_file}"
    );
    assert!(sddl_of(&tree, "/Users/alice/Documents/desktop.ini").contains("(A;ID;FA;;;SY)"));
    let folder = sddl_of(&tree, "/Users/alice/AppData/Roaming");
    assert!(
        folder.ends_with(&format!(
            "D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;{user})"
        )),
        "{folder}"
    );
    assert_eq!(
        sddl_of(&tree, "/Users/alice/My Documents"),
        format!(
            "O:SYG:SYD:AI(D;;CC;;;WD)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;{user})"
        )
    );
    assert!(
        sddl_of(&tree, "/Users/alice/Documents")
            .contains(&format!("(A;OICI;FA;;;{user})(A;OICIID;FA;;;SY)"))
    );
    let favorites = sddl_of(&tree, "/Users/alice/Favorites");
    assert!(
        favorites.contains("S-1-15-3-4096") && favorites.ends_with("S:(ML;OICI;NW;;;LW)"),
        "{favorites}"
    );
    assert!(tree.len() >= 150, "{} entries", tree.len());

    let (clean, text) = vol
        .with_unmounted(testbed::ntfssecaudit_clean)
        .unwrap()
        .unwrap();
    assert!(clean, "ntfssecaudit -a: {text}");
}
