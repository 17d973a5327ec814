//! libFuzzer target for ntsec's security-descriptor parser: any input must parse or be
//! refused with an error, never panic; whatever parses must re-serialize to the same
//! bytes, render to SDDL that parses back to the same SDDL, and translate to bytes that
//! parse.
#![no_main]

use ntsec::{Mode, SecurityDescriptor, SidMap, translate_bytes};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(sd) = SecurityDescriptor::from_bytes(data) else {
        return;
    };
    let bytes = sd.to_bytes().expect("a parsed descriptor serializes");
    assert_eq!(bytes, data, "parse/serialize must round-trip");
    // SDDL says what a descriptor means, not how its bytes are laid out (part order,
    // gaps and bytes after the last part are not SDDL's business): the round trip must
    // give a descriptor that renders to the same SDDL.
    let sddl = sd.to_sddl();
    let back = SecurityDescriptor::from_sddl(&sddl).expect("our own SDDL parses");
    assert_eq!(back.to_sddl(), sddl, "SDDL round trip");
    back.to_bytes().expect("the SDDL's descriptor serializes");
    let map = SidMap::from_pairs(["S-1-5-32-544=S-1-5-21-1-2-3-4-1001"]).expect("valid map");
    if let Ok(Some(out)) = translate_bytes(data, &map, Mode::Replace) {
        SecurityDescriptor::from_bytes(&out).expect("translated output parses");
    }
});
