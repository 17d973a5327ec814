//! Every UserChoice hash Windows wrote in a real Windows 10 NTUSER.DAT is reproduced
//! from the SID, the ProgId and the key's last-write time.
#![cfg(test)]

use hive::Hive;
use hive::userchoice::user_choice_hash;

#[test]
fn real_windows_10_hashes_verify() {
    let Some(file) = testbed::fixture(
        "real_windows_10_hashes_verify",
        "regipy/transactions_NTUSER.DAT",
    ) else {
        return;
    };
    let sid = "S-1-5-21-2595688666-2948619230-3055395256-1001";
    let hive = Hive::open(&file).unwrap();
    let mut checked = 0;
    let roots = [
        r"Software\Microsoft\Windows\CurrentVersion\Explorer\FileExts",
        r"Software\Microsoft\Windows\Shell\Associations\UrlAssociations",
    ];
    for root in roots {
        let Some(parent) = hive.key(root).unwrap() else {
            continue;
        };
        for ext in parent.subkeys().unwrap() {
            let Some(choice) = ext.subkey("UserChoice").unwrap() else {
                continue;
            };
            let (Some(prog), Some(hash)) = (
                choice.value("ProgId").unwrap(),
                choice.value("Hash").unwrap(),
            ) else {
                continue;
            };
            let prog = hive::value::utf16_until_nul(&prog.data().unwrap());
            let hash = hive::value::utf16_until_nul(&hash.data().unwrap());
            assert_eq!(
                user_choice_hash(&ext.name(), sid, &prog, choice.last_written()),
                hash,
                "{}\\UserChoice",
                ext.name()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 83, "the fixture holds 83 UserChoice hashes");
}
