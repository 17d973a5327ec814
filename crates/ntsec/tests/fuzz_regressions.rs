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
    // The fuzzer's find, rebuilt by hand: a valid descriptor followed by one stray byte
    // (Windows never writes one; our parser keeps it for an exact round trip).
    let mut bytes =
        SecurityDescriptor::from_sddl("O:SYG:S-1-5-8466D:(A;OICIID;KA;;;SY)S:(ML;OICI;NW;;;LW)")
            .unwrap()
            .to_bytes()
            .unwrap();
    bytes.push(0);
    assert!(SecurityDescriptor::from_bytes(&bytes).is_ok());
    round_trips(&bytes);
}
