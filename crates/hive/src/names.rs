//! Key and value names: how they are stored (Latin-1 "compressed" or UTF-16LE) and how
//! Windows compares them (ordinal, after upcasing each UTF-16 code unit).

/// Upcases one UTF-16 code unit the way the registry compares names. Windows uses its
/// own upcase table (`RtlUpcaseUnicodeChar`); for the BMP, simple one-to-one uppercase
/// mappings agree with it. Characters whose uppercase is not a single BMP code unit
/// (e.g. `ß`) stay as they are, as in Windows.
pub fn upcase_unit(c: u16) -> u16 {
    if c < 0x80 {
        return (c as u8).to_ascii_uppercase() as u16;
    }
    let Some(ch) = char::from_u32(u32::from(c)) else {
        return c; // a lone surrogate
    };
    let mut up = ch.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) if (u as u32) <= 0xFFFF => u as u16,
        _ => c,
    }
}

/// A name as stored: Latin-1 when the COMP_NAME flag is set, else UTF-16LE.
#[derive(Debug, Clone, Copy)]
pub struct RawName<'a> {
    pub bytes: &'a [u8],
    pub compressed: bool,
}

impl<'a> RawName<'a> {
    /// The name's UTF-16 code units.
    pub fn units(&self) -> impl Iterator<Item = u16> + 'a {
        let (bytes, compressed) = (self.bytes, self.compressed);
        let step = if compressed { 1 } else { 2 };
        (0..bytes.len() / step).map(move |i| {
            if compressed {
                u16::from(bytes[i])
            } else {
                u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])
            }
        })
    }

    /// The name as text; unpaired surrogates become U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        if self.compressed {
            self.bytes.iter().map(|&b| char::from(b)).collect()
        } else {
            char::decode_utf16(self.units())
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
    }

    /// The upcased code units, the key Windows sorts and compares by.
    pub fn upcased(&self) -> Vec<u16> {
        self.units().map(upcase_unit).collect()
    }

    /// Length in bytes when stored as UTF-16 (what the "largest name" fields count).
    pub fn utf16_len(&self) -> usize {
        if self.compressed {
            self.bytes.len() * 2
        } else {
            self.bytes.len()
        }
    }
}

/// Upcased UTF-16 of a `str`, for lookups.
pub fn upcase_str(s: &str) -> Vec<u16> {
    s.encode_utf16().map(upcase_unit).collect()
}

/// The `lh` hash of a name: `h = h * 37 + upcase(c)` over its UTF-16 code units.
pub fn lh_hash(upcased: &[u16]) -> u32 {
    upcased
        .iter()
        .fold(0u32, |h, &c| h.wrapping_mul(37).wrapping_add(u32::from(c)))
}

/// The `lf` hint: the first four characters of the name as stored, one byte each,
/// zero-padded. Windows takes them from the name as stored, without upcasing. A
/// character above U+00FF cannot be a byte: from there Windows writes a null first byte
/// instead (regf spec, §"Fast leaf"; seen in a real Windows 7 NTUSER.DAT whose lf list
/// holds a key named with U+F00D).
pub fn lf_hint(name: &RawName<'_>) -> [u8; 4] {
    let mut hint = [0u8; 4];
    for (i, unit) in name.units().take(4).enumerate() {
        if unit > 0xFF {
            // Not representable in one byte: Windows marks the hint unusable by a null
            // first byte (lookups then compare whole names) and stops copying.
            hint[0] = 0;
            break;
        }
        hint[i] = unit as u8;
    }
    hint
}

/// Whether a stored lf hint is one Windows can have written for `name`: the exact hint,
/// or, when one of the first four characters does not fit in a byte, any hint whose
/// first byte is null (Windows leaves the bytes after the null as they were).
pub fn lf_hint_acceptable(name: &RawName<'_>, stored: [u8; 4]) -> bool {
    if stored == lf_hint(name) {
        return true;
    }
    stored[0] == 0 && name.units().take(4).any(|u| u > 0xFF)
}

/// Encodes a name the way Windows stores it: Latin-1 when every character fits, else
/// UTF-16LE. Returns the bytes and whether they are compressed.
pub fn encode_name(name: &str) -> (Vec<u8>, bool) {
    if name.chars().all(|c| (c as u32) < 0x100) {
        (name.chars().map(|c| c as u8).collect(), true)
    } else {
        (
            name.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upcase_matches_windows_for_common_cases() {
        assert_eq!(upcase_unit(u16::from(b'a')), u16::from(b'A'));
        assert_eq!(upcase_unit(0xE4), 0xC4); // ä → Ä
        assert_eq!(upcase_unit(0xDF), 0xDF); // ß has no single-unit uppercase
        assert_eq!(upcase_unit(0xD800), 0xD800);
    }

    #[test]
    fn lh_hash_is_windows_hash() {
        // "Software": computed by hand with h = h*37 + c over "SOFTWARE".
        let mut h = 0u32;
        for c in "SOFTWARE".bytes() {
            h = h.wrapping_mul(37).wrapping_add(u32::from(c));
        }
        assert_eq!(lh_hash(&upcase_str("Software")), h);
    }

    #[test]
    fn lf_hints_of_names_a_byte_cannot_hold() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        fn raw(bytes: &[u8], compressed: bool) -> RawName<'_> {
            RawName { bytes, compressed }
        }
        assert_eq!(lf_hint(&raw(b"Software", true)), *b"Soft");
        assert_eq!(lf_hint(&raw(b"ab", true)), [b'a', b'b', 0, 0]);
        assert_eq!(lf_hint(&raw(&utf16("\u{f00d}key"), false)), [0, 0, 0, 0]);
        assert_eq!(lf_hint(&raw(&utf16("ab\u{f00d}c"), false)), [0, b'b', 0, 0]);
        assert_eq!(lf_hint(&raw(&utf16("abcd\u{f00d}"), false)), *b"abcd");
        let name = utf16("\u{f00d}");
        let n = raw(&name, false);
        assert!(lf_hint_acceptable(&n, [0, 0, 0, 0]));
        assert!(
            lf_hint_acceptable(&n, [0, 0x0d, 0, 0]),
            "bytes after the null are free"
        );
        assert!(
            !lf_hint_acceptable(&n, [0x0d, 0, 0, 0]),
            "the low byte is not a hint"
        );
        assert!(!lf_hint_acceptable(&raw(b"abc", true), [0, 0, 0, 0]));
    }

    #[test]
    fn names_encode_latin1_when_possible() {
        assert_eq!(encode_name("Über"), (vec![0xDC, b'b', b'e', b'r'], true));
        let (bytes, compressed) = encode_name("€");
        assert!(!compressed);
        assert_eq!(bytes, vec![0xAC, 0x20]);
    }
}
