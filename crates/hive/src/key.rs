//! Key nodes (`nk` cells) and their subkey lists (`li`, `lf`, `lh`, `ri`).

use crate::base::{read_u16, read_u32, read_u64};
use crate::error::{Error, Result};
use crate::hive::{Hive, NULL};
use crate::names::{RawName, upcase_str, upcase_unit};
use crate::value::Value;

/// Offsets inside an nk cell's data (formats.md §1.5).
pub(crate) mod nk {
    pub const FLAGS: usize = 2;
    pub const LAST_WRITTEN: usize = 4;
    pub const ACCESS_BITS: usize = 12;
    pub const PARENT: usize = 16;
    pub const SUBKEY_COUNT: usize = 20;
    pub const SUBKEY_LIST: usize = 28;
    pub const VOLATILE_SUBKEY_LIST: usize = 32;
    pub const VALUE_COUNT: usize = 36;
    pub const VALUE_LIST: usize = 40;
    pub const SECURITY: usize = 44;
    pub const CLASS: usize = 48;
    pub const MAX_SUBKEY_NAME: usize = 52;
    pub const MAX_SUBKEY_CLASS: usize = 56;
    pub const MAX_VALUE_NAME: usize = 60;
    pub const MAX_VALUE_DATA: usize = 64;
    pub const NAME_LEN: usize = 72;
    pub const CLASS_LEN: usize = 74;
    pub const NAME: usize = 76;
}

/// Key flags.
pub mod flags {
    pub const VOLATILE: u16 = 0x0001;
    pub const HIVE_EXIT: u16 = 0x0002;
    pub const HIVE_ENTRY: u16 = 0x0004;
    pub const NO_DELETE: u16 = 0x0008;
    pub const SYM_LINK: u16 = 0x0010;
    pub const COMP_NAME: u16 = 0x0020;
}

/// Windows refuses key paths deeper than this; we use it to stop on loops.
pub const MAX_DEPTH: usize = 512;
/// Subkey list elements per leaf before Windows splits a list into an `ri`.
pub(crate) const MAX_LEAF_ELEMENTS: usize = 1012;

/// A view of one key. Cheap to copy; borrows the hive.
#[derive(Clone, Copy)]
pub struct Key<'h> {
    hive: &'h Hive,
    offset: u32,
    cell: &'h [u8],
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("offset", &self.offset)
            .field("name", &self.name())
            .finish()
    }
}

impl<'h> Key<'h> {
    /// Reads the nk cell at `offset`, checking its signature and name length.
    pub(crate) fn at(hive: &'h Hive, offset: u32) -> Result<Key<'h>> {
        let cell = hive.signed_cell(offset, b"nk", nk::NAME)?;
        check_nk(offset, cell)?;
        Ok(Key { hive, offset, cell })
    }

    /// The cell offset of this key (relative to the hive bins).
    pub fn offset(&self) -> u32 {
        self.offset
    }

    fn u32_at(&self, at: usize) -> u32 {
        read_u32(self.cell, at).unwrap_or(NULL)
    }

    /// Key flags (see [`flags`]).
    pub fn flags(&self) -> u16 {
        read_u16(self.cell, nk::FLAGS).unwrap_or(0)
    }

    /// The name as stored.
    pub fn raw_name(&self) -> RawName<'h> {
        let len = usize::from(read_u16(self.cell, nk::NAME_LEN).unwrap_or(0));
        RawName {
            bytes: &self.cell[nk::NAME..nk::NAME + len],
            compressed: self.flags() & flags::COMP_NAME != 0,
        }
    }

    /// The name as text.
    pub fn name(&self) -> String {
        self.raw_name().to_string_lossy()
    }

    /// Last-written time (FILETIME: 100 ns intervals since 1601-01-01 UTC).
    pub fn last_written(&self) -> u64 {
        read_u64(self.cell, nk::LAST_WRITTEN).unwrap_or(0)
    }

    /// Access bits (Windows 8+).
    pub fn access_bits(&self) -> u32 {
        self.u32_at(nk::ACCESS_BITS)
    }

    /// The parent key's offset (the root's parent points outside the key tree).
    pub fn parent_offset(&self) -> u32 {
        self.u32_at(nk::PARENT)
    }

    /// Number of (stable) subkeys the key says it has.
    pub fn subkey_count(&self) -> u32 {
        self.u32_at(nk::SUBKEY_COUNT)
    }

    /// Number of values the key says it has.
    pub fn value_count(&self) -> u32 {
        self.u32_at(nk::VALUE_COUNT)
    }

    /// Offset of the key's sk cell.
    pub fn security_offset(&self) -> u32 {
        self.u32_at(nk::SECURITY)
    }

    pub(crate) fn subkey_list_offset(&self) -> u32 {
        self.u32_at(nk::SUBKEY_LIST)
    }

    pub(crate) fn value_list_offset(&self) -> u32 {
        self.u32_at(nk::VALUE_LIST)
    }

    pub(crate) fn class_offset(&self) -> u32 {
        self.u32_at(nk::CLASS)
    }

    /// The four "largest …" fields: subkey name, subkey class, value name, value data.
    pub fn largest(&self) -> [u32; 4] {
        [
            self.u32_at(nk::MAX_SUBKEY_NAME),
            self.u32_at(nk::MAX_SUBKEY_CLASS),
            self.u32_at(nk::MAX_VALUE_NAME),
            self.u32_at(nk::MAX_VALUE_DATA),
        ]
    }

    /// The class name's raw UTF-16LE bytes, if the key has one.
    pub fn class_bytes(&self) -> Result<Option<&'h [u8]>> {
        let off = self.class_offset();
        let len = usize::from(read_u16(self.cell, nk::CLASS_LEN).unwrap_or(0));
        if off == NULL || len == 0 {
            return Ok(None);
        }
        let cell = self.hive.cell(off)?;
        cell.get(..len).map(Some).ok_or_else(|| {
            Error::corrupt(
                off,
                format!(
                    "class name of {len} bytes overruns its {}-byte cell",
                    cell.len()
                ),
            )
        })
    }

    /// The class name as text (the SYSTEM hive keeps the boot key here).
    pub fn class_name(&self) -> Result<Option<String>> {
        Ok(self.class_bytes()?.map(|b| {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }))
    }

    /// The offsets of the subkeys, in list order (Windows' sort order).
    pub fn subkey_offsets(&self) -> Result<Vec<u32>> {
        let count = self.subkey_count();
        if count == 0 {
            return Ok(Vec::new());
        }
        // The count is only a claim until the list is read: it must not size an
        // allocation (a corrupt 0xFFFFFFFF would ask for 16 GiB and abort).
        let mut out = Vec::with_capacity((count as usize).min(MAX_LEAF_ELEMENTS));
        read_subkey_list(self.hive, self.subkey_list_offset(), &mut out)?;
        if out.len() != count as usize {
            return Err(Error::corrupt(
                self.offset,
                format!(
                    "key says it has {count} subkeys, its list holds {}",
                    out.len()
                ),
            ));
        }
        Ok(out)
    }

    /// The subkeys, in Windows' sort order.
    pub fn subkeys(&self) -> Result<Vec<Key<'h>>> {
        self.subkey_offsets()?
            .into_iter()
            .map(|o| Key::at(self.hive, o))
            .collect()
    }

    /// The subkey with this name (compared the way Windows does, ignoring case).
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'h>>> {
        let wanted = upcase_str(name);
        for o in self.subkey_offsets()? {
            let k = Key::at(self.hive, o)?;
            let raw = k.raw_name();
            if raw.utf16_len() == wanted.len() * 2
                && raw.units().map(upcase_unit).eq(wanted.iter().copied())
            {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// The offsets of the value cells, in list order.
    pub fn value_offsets(&self) -> Result<Vec<u32>> {
        let count = self.value_count() as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        let list_off = self.value_list_offset();
        let list = self.hive.cell(list_off)?;
        if list.len() < count * 4 {
            return Err(Error::corrupt(
                list_off,
                format!(
                    "value list of {} bytes cannot hold {count} values",
                    list.len()
                ),
            ));
        }
        Ok((0..count)
            .map(|i| read_u32(list, i * 4).unwrap_or(NULL))
            .collect())
    }

    /// The values, in list order.
    pub fn values(&self) -> Result<Vec<Value<'h>>> {
        self.value_offsets()?
            .into_iter()
            .map(|o| Value::at(self.hive, o))
            .collect()
    }

    /// The value with this name (`""` is the default value), ignoring case.
    pub fn value(&self, name: &str) -> Result<Option<Value<'h>>> {
        let wanted = upcase_str(name);
        for v in self.values()? {
            if v.raw_name()
                .units()
                .map(upcase_unit)
                .eq(wanted.iter().copied())
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The key's security descriptor (the bytes inside its sk cell).
    pub fn security_descriptor(&self) -> Result<&'h [u8]> {
        crate::security::Sk::at(self.hive, self.security_offset()).map(|sk| sk.descriptor())
    }
}

/// Appends the nk offsets of a subkey list (any of li/lf/lh/ri) to `out`.
/// Checks an nk cell's data (signature and fixed part already checked): its name fits.
pub(crate) fn check_nk(offset: u32, cell: &[u8]) -> Result<()> {
    let name_len = usize::from(read_u16(cell, nk::NAME_LEN).unwrap_or(0));
    if nk::NAME + name_len > cell.len() {
        return Err(Error::corrupt(
            offset,
            format!(
                "key name of {name_len} bytes overruns its {}-byte cell",
                cell.len()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn read_subkey_list(hive: &Hive, list: u32, out: &mut Vec<u32>) -> Result<()> {
    read_list(hive, list, out, true)
}

fn read_list(hive: &Hive, list: u32, out: &mut Vec<u32>, allow_ri: bool) -> Result<()> {
    let cell = hive.cell(list)?;
    if cell.len() < 4 {
        return Err(Error::corrupt(list, "subkey list shorter than its header"));
    }
    let count = usize::from(read_u16(cell, 2).unwrap_or(0));
    let (stride, nested) = match &cell[..2] {
        b"li" => (4, false),
        b"lf" | b"lh" => (8, false),
        b"ri" if allow_ri => (4, true),
        b"ri" => return Err(Error::corrupt(list, "an ri list inside an ri list")),
        sig => {
            return Err(Error::corrupt(
                list,
                format!(
                    "expected a subkey list, found signature {:02x}{:02x}",
                    sig[0], sig[1]
                ),
            ));
        }
    };
    if 4 + count * stride > cell.len() {
        return Err(Error::corrupt(
            list,
            format!(
                "subkey list of {} bytes cannot hold {count} elements",
                cell.len()
            ),
        ));
    }
    for i in 0..count {
        let element = read_u32(cell, 4 + i * stride).unwrap_or(NULL);
        if nested {
            read_list(hive, element, out, false)?;
        } else {
            out.push(element);
        }
    }
    Ok(())
}

impl Hive {
    /// The root key.
    pub fn root(&self) -> Result<Key<'_>> {
        Key::at(self, self.root_offset())
    }

    /// The key at an nk offset (as returned by [`Key::offset`]).
    pub fn key_at(&self, offset: u32) -> Result<Key<'_>> {
        Key::at(self, offset)
    }

    /// Looks a key up by a backslash-separated path below the root, ignoring case.
    /// `""` and `"\\"` are the root.
    pub fn key(&self, path: &str) -> Result<Option<Key<'_>>> {
        let mut key = self.root()?;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match key.subkey(part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// Like [`Hive::key`] but a missing key is an error naming the path.
    pub fn require_key(&self, path: &str) -> Result<Key<'_>> {
        self.key(path)?.ok_or_else(|| Error::KeyNotFound {
            path: path.to_string(),
        })
    }
}
