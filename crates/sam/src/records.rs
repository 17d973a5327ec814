//! The binary records of the SAM hive (formats.md §4.2-4.7): the fixed-size `F` values
//! and the variable `V`/`C` values, which are a table of (offset, length, extra)
//! descriptors followed by the data items they point to, each item 4-byte aligned.

/// One data item of a variable record, with the third word of its descriptor (a count
/// for member lists and group arrays, units-per-week for logon hours, 0x10003 for the
/// security descriptor, else 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    pub data: Vec<u8>,
    pub extra: u32,
}

impl Item {
    pub fn new(data: Vec<u8>, extra: u32) -> Item {
        Item { data, extra }
    }
    pub fn empty() -> Item {
        Item::default()
    }
    /// A UTF-16LE string item.
    pub fn text(s: &str) -> Item {
        Item::new(s.encode_utf16().flat_map(u16::to_le_bytes).collect(), 0)
    }
    /// The item as UTF-16LE text.
    pub fn to_text(&self) -> String {
        utf16(&self.data)
    }
}

/// Decodes UTF-16LE bytes (an odd trailing byte is ignored).
pub fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = b.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = b.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    if let Some(s) = b.get_mut(at..at + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// A variable record: `prefix` bytes, `count` descriptors, then the data area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub prefix: Vec<u8>,
    pub items: Vec<Item>,
}

impl Variable {
    /// Parses a record whose descriptors start at `prefix_len`; offsets are relative to
    /// the end of the descriptor table.
    pub fn parse(bytes: &[u8], prefix_len: usize, count: usize) -> Result<Variable, String> {
        let data_start = prefix_len + count * 12;
        if bytes.len() < data_start {
            return Err(format!(
                "{} bytes, shorter than its {data_start}-byte header",
                bytes.len()
            ));
        }
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            let at = prefix_len + i * 12;
            let (off, len, extra) = (
                u32_at(bytes, at).unwrap_or(0) as usize,
                u32_at(bytes, at + 4).unwrap_or(0) as usize,
                u32_at(bytes, at + 8).unwrap_or(0),
            );
            let start = data_start.saturating_add(off);
            let data = bytes.get(start..start.saturating_add(len)).ok_or_else(|| {
                format!(
                    "item {i} at {off:#x}+{len:#x} runs past the record's {} bytes",
                    bytes.len()
                )
            })?;
            items.push(Item::new(data.to_vec(), extra));
        }
        Ok(Variable {
            prefix: bytes[..prefix_len].to_vec(),
            items,
        })
    }

    /// Lays the record out as Windows does: items in descriptor order, each starting
    /// 4-byte aligned, empty items pointing at the current end.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = self.prefix.clone();
        let mut data: Vec<u8> = Vec::new();
        for item in &self.items {
            data.resize(data.len().next_multiple_of(4), 0);
            header.extend_from_slice(&(data.len() as u32).to_le_bytes());
            header.extend_from_slice(&(item.data.len() as u32).to_le_bytes());
            header.extend_from_slice(&item.extra.to_le_bytes());
            data.extend_from_slice(&item.data);
        }
        header.extend_from_slice(&data);
        header
    }

    pub fn item(&self, i: usize) -> &[u8] {
        self.items.get(i).map_or(&[], |it| it.data.as_slice())
    }
}

/// Slots of a user's `V` record.
pub mod v {
    pub const COUNT: usize = 17;
    pub const SECURITY: usize = 0;
    pub const NAME: usize = 1;
    pub const FULL_NAME: usize = 2;
    pub const COMMENT: usize = 3;
    pub const USER_COMMENT: usize = 4;
    pub const HOME_DIR: usize = 6;
    pub const HOME_DRIVE: usize = 7;
    pub const SCRIPT: usize = 8;
    pub const PROFILE: usize = 9;
    pub const WORKSTATIONS: usize = 10;
    pub const LOGON_HOURS: usize = 11;
    /// Global group memberships: (RID, attributes) pairs; extra = count.
    pub const GROUPS: usize = 12;
    pub const LM_HASH: usize = 13;
    pub const NT_HASH: usize = 14;
    /// The NT history comes first (NT's `SAMP_USER_NT_PWD_HISTORY` = 15,
    /// `SAMP_USER_LM_PWD_HISTORY` = 16; mimikatz reads them in this order too).
    pub const NT_HISTORY: usize = 15;
    pub const LM_HISTORY: usize = 16;
}

/// Slots of an alias's or group's `C` record (after a 4-byte RID prefix, or 8 bytes for
/// groups) and of a domain's `V`.
pub mod c {
    pub const COUNT: usize = 4;
    pub const SECURITY: usize = 0;
    pub const NAME: usize = 1;
    pub const COMMENT: usize = 2;
    /// Member SIDs, back to back; extra = member count.
    pub const MEMBERS: usize = 3;
    /// Domain `V`: the domain SID.
    pub const DOMAIN_SID: usize = 1;
}

/// Field offsets of a user's 80-byte `F` record (NT's fixed-length user data: the
/// revision dword `0x0001_000N`, then the fields below up to 0x4A; the rest is padding,
/// which Windows sometimes leaves holding stale memory and we write as zeros).
pub mod f {
    pub const LEN: usize = 80;
    pub const LAST_LOGON: usize = 0x08;
    pub const LAST_LOGOFF: usize = 0x10;
    pub const PASSWORD_LAST_SET: usize = 0x18;
    pub const ACCOUNT_EXPIRES: usize = 0x20;
    pub const LAST_BAD_PASSWORD: usize = 0x28;
    pub const RID: usize = 0x30;
    pub const PRIMARY_GROUP: usize = 0x34;
    pub const FLAGS: usize = 0x38;
    pub const COUNTRY_CODE: usize = 0x3C;
    pub const CODE_PAGE: usize = 0x3E;
    pub const BAD_PASSWORD_COUNT: usize = 0x40;
    pub const LOGON_COUNT: usize = 0x42;
    /// How many admin aliases (Administrators) the user is a direct member of; Windows
    /// keeps it and takes the Account Operators ACE out of the user's descriptor while
    /// it (or [`OPERATOR_COUNT`]) is non-zero.
    pub const ADMIN_COUNT: usize = 0x44;
    /// The same for the operator aliases (Account, Server, Print, Backup Operators).
    pub const OPERATOR_COUNT: usize = 0x48;
}

/// Field offsets of `Domains\Account\F`.
pub mod domain_f {
    pub const MODIFIED_COUNT: usize = 0x10;
    pub const NEXT_RID: usize = 0x48;
    pub const PASSWORD_HISTORY_LENGTH: usize = 0x52;
    pub const KEY0: usize = 0x68;
}

/// Walks a member array of back-to-back SIDs.
pub fn parse_sids(bytes: &[u8]) -> Result<Vec<ntsec::Sid>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (sid, len) = ntsec::Sid::from_bytes(&bytes[at..])
            .map_err(|e| format!("member SID at {at:#x}: {e}"))?;
        out.push(sid);
        at += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_records_lay_items_out_aligned() {
        let rec = Variable {
            prefix: vec![1, 2, 3, 4],
            items: vec![Item::text("abc"), Item::empty(), Item::new(vec![9; 8], 1)],
        };
        let bytes = rec.to_bytes();
        let data = 4 + 3 * 12;
        assert_eq!(u32_at(&bytes, 4), Some(0));
        assert_eq!(u32_at(&bytes, 8), Some(6));
        assert_eq!(
            u32_at(&bytes, 16),
            Some(8),
            "empty item points at the aligned end"
        );
        assert_eq!(u32_at(&bytes, 28), Some(8));
        assert_eq!(u32_at(&bytes, 36), Some(1));
        assert_eq!(bytes.len(), data + 16);
        assert_eq!(Variable::parse(&bytes, 4, 3).unwrap(), rec);
        assert!(Variable::parse(&bytes[..bytes.len() - 1], 4, 3).is_err());
    }
}
