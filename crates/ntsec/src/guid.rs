//! GUIDs as they appear in object ACEs (object type, inherited object type).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A GUID in its Windows binary layout (first three groups little-endian).
///
/// Kept as raw bytes so a round trip through the binary form is exact; the string form is
/// the usual `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase as SDDL writes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Size of the binary form.
    pub const LEN: usize = 16;
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let data1 = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let data2 = u16::from_le_bytes([b[4], b[5]]);
        let data3 = u16::from_le_bytes([b[6], b[7]]);
        write!(
            f,
            "{data1:08x}-{data2:04x}-{data3:04x}-{:02x}{:02x}-",
            b[8], b[9]
        )?;
        for byte in &b[10..] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = Error;

    /// Accepts the 36-character form, optionally in braces, any case.
    fn from_str(input: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidGuidString {
            input: input.to_owned(),
        };
        let text = input
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(input);
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] || !text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
        {
            return Err(invalid());
        }
        let hex: String = groups.concat();
        let mut big_endian = [0u8; 16];
        for (index, byte) in big_endian.iter_mut().enumerate() {
            let pair = hex.get(index * 2..index * 2 + 2).ok_or_else(invalid)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        let mut bytes = big_endian;
        bytes[0..4].reverse();
        bytes[4..6].reverse();
        bytes[6..8].reverse();
        Ok(Self(bytes))
    }
}

impl From<Guid> for String {
    fn from(guid: Guid) -> Self {
        guid.to_string()
    }
}

impl TryFrom<String> for Guid {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_matches_windows_layout() {
        let text = "bf967aba-0de6-11d0-a285-00aa003049e2";
        let guid: Guid = text.parse().unwrap();
        assert_eq!(guid.0[..4], [0xba, 0x7a, 0x96, 0xbf]);
        assert_eq!(guid.to_string(), text);
        assert_eq!(
            "{BF967ABA-0DE6-11D0-A285-00AA003049E2}"
                .parse::<Guid>()
                .unwrap(),
            guid
        );
        assert!(
            "bf967aba-0de6-11d0-a285-00aa003049e"
                .parse::<Guid>()
                .is_err()
        );
        assert!(
            "bf967aba-0de6-11d0-a285+00aa003049e2"
                .parse::<Guid>()
                .is_err()
        );
    }
}
