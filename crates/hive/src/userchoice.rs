//! The UserChoice hash that guards per-user file and protocol associations
//! (formats.md §5). Windows recomputes it from the user's SID, the extension or scheme,
//! the ProgId and the UserChoice key's last-write time; a mismatch resets the default
//! app. After a SID change every hash must be recomputed, and offline we choose the
//! key's last-write time, so we can.

use base64::Engine as _;
use md5::{Digest, Md5};

/// The fixed text Windows mixes into the hashed string.
const EXPERIENCE: &str =
    "User Choice set via Windows User Experience {D18B6DD5-6124-4341-9318-804003BAFA0B}";

/// 100 ns intervals per minute: the hash uses the time truncated to the minute.
const MINUTE: u64 = 600_000_000;

/// The hash Windows 10 1703+ and 11 expect in `UserChoice\Hash`.
///
/// `ext` is the key name as stored (`.pdf`, `https`); `last_written` is the UserChoice
/// key's FILETIME.
pub fn user_choice_hash(ext: &str, sid: &str, prog_id: &str, last_written: u64) -> String {
    let ts = last_written - last_written % MINUTE;
    let text = format!(
        "{ext}{sid}{prog_id}{:08x}{:08x}{EXPERIENCE}",
        ts >> 32,
        ts & 0xFFFF_FFFF
    );
    hash_text(&text)
}

/// The legacy variant (Windows 8 and 10 RTM): no time, no experience string.
pub fn legacy_user_choice_hash(ext: &str, sid: &str, prog_id: &str) -> String {
    hash_text(&format!("{ext}{sid}{prog_id}"))
}

/// Lowercases like `CharLowerW`: simple one-to-one lowercase mappings only.
fn lower(text: &str) -> Vec<u16> {
    text.encode_utf16()
        .map(|u| {
            let Some(c) = char::from_u32(u32::from(u)) else {
                return u;
            };
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) if (x as u32) <= 0xFFFF => x as u16,
                _ => u,
            }
        })
        .collect()
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

fn hash_text(text: &str) -> String {
    let mut bytes: Vec<u8> = lower(text).into_iter().flat_map(u16::to_le_bytes).collect();
    bytes.extend_from_slice(&[0, 0]);
    let md5 = Md5::digest(&bytes);
    let m0 = le_u32(&md5, 0) | 1;
    let m1 = le_u32(&md5, 4) | 1;
    let swap = |x: u32| x.rotate_left(16);
    let (mut h0, mut h1, mut a0, mut a1) = (0u32, 0u32, 0u32, 0u32);
    for block in 0..bytes.len() / 8 {
        for j in 0..2 {
            let x = le_u32(&bytes, (2 * block + j) * 4);
            let (m, c, d) = if j == 0 {
                (
                    m0,
                    [0xCF98_B111u32, 0x8708_5B9F, 0x12CE_B96D, 0x257E_1D83],
                    [0xEF05_69FBu32, 0x689B_6B9F, 0x79F8_A395, 0xC3EF_EA97],
                )
            } else {
                (
                    m1,
                    [0xA274_16F5, 0xD383_96FF, 0x7C93_2B89, 0xBFA4_9F69],
                    [0xC317_13DB, 0xDDCD_1F0F, 0x59C3_AF2D, 0x35BD_1EC9],
                )
            };
            h0 = h0.wrapping_add(x).wrapping_mul(m);
            for ci in c {
                h0 = swap(h0).wrapping_mul(ci);
            }
            a0 = a0.wrapping_add(h0);
            h1 = h1.wrapping_add(x);
            h1 = swap(h1).wrapping_mul(d[0]).wrapping_add(h1.wrapping_mul(m));
            h1 = (h1 >> 16)
                .wrapping_mul(d[1])
                .wrapping_add(h1.wrapping_mul(d[2]));
            h1 = swap(h1).wrapping_mul(d[3]).wrapping_add(h1);
            a1 = a1.wrapping_add(h1);
        }
    }
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(h0 ^ h1).to_le_bytes());
    out[4..].copy_from_slice(&(a0 ^ a1).to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filetime::filetime_from_utc;

    #[test]
    fn mozilla_vector() {
        let ts = filetime_from_utc(2021, 4, 19, 23, 7);
        assert_eq!(
            user_choice_hash(
                "https",
                "S-1-5-21-636376821-3290315252-1794850287-1001",
                "FirefoxURL-308046B0AF4A39CB",
                ts + 123_456_789 // seconds within the minute do not matter
            ),
            "uzpIsMVyZ1g="
        );
    }

    #[test]
    fn every_length_mod_8_hashes_without_panicking() {
        for n in 0..16 {
            let id = "x".repeat(n);
            assert_eq!(user_choice_hash(".t", "S-1-1-0", &id, 0).len(), 12);
        }
    }
}
