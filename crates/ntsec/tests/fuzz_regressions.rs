//! Inputs the fuzzer (`fuzz/fuzz_targets/sd_parse.rs`) found; each must keep the
//! target's promises: parse → serialize → same bytes, and SDDL → parse → same SDDL.
#![cfg(test)]

use ntsec::SecurityDescriptor;

fn round_trips(data: &[u8]) {
    let Ok(sd) = SecurityDescriptor::from_bytes(data) else {
        return;
    };
    assert_eq!(sd.to_bytes().unwrap(), data);
    // SDDL carries meaning, not layout: a byte after the last part is not in it.
    let sddl = sd.to_sddl();
    let back = SecurityDescriptor::from_sddl(&sddl).unwrap();
    assert_eq!(back.to_sddl(), sddl);
    back.to_bytes().unwrap();
}

#[test]
fn descriptor_with_a_byte_after_its_last_part() {
    round_trips(include_bytes!("fuzz_regressions/crash-bddf988d"));
}
