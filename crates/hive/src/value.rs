//! Values (`vk` cells), their data cells and big data (`db`) chains.

use std::borrow::Cow;

use crate::base::{read_u16, read_u32};
use crate::error::{Error, Result};
use crate::hive::{Hive, NULL};
use crate::names::RawName;

/// Offsets inside a vk cell's data.
pub(crate) mod vk {
    pub const NAME_LEN: usize = 2;
    pub const DATA_SIZE: usize = 4;
    pub const DATA: usize = 8;
    pub const TYPE: usize = 12;
    pub const FLAGS: usize = 16;
    pub const NAME: usize = 20;
    /// Flag: the name is stored as Latin-1.
    pub const COMP_NAME: u16 = 0x0001;
}

/// Data size bit saying the data sits in the vk cell's data-offset field.
pub(crate) const INLINE_DATA: u32 = 0x8000_0000;
/// A big-data segment carries this much (16 KiB minus the cell header and padding).
pub const BIG_DATA_SEGMENT: usize = 16344;

/// Registry value types. The type field is free-form (the SAM stores RIDs in it), so
/// any u32 is kept.
pub mod types {
    pub const NONE: u32 = 0;
    pub const SZ: u32 = 1;
    pub const EXPAND_SZ: u32 = 2;
    pub const BINARY: u32 = 3;
    pub const DWORD: u32 = 4;
    pub const DWORD_BIG_ENDIAN: u32 = 5;
    pub const LINK: u32 = 6;
    pub const MULTI_SZ: u32 = 7;
    pub const RESOURCE_LIST: u32 = 8;
    pub const FULL_RESOURCE_DESCRIPTOR: u32 = 9;
    pub const RESOURCE_REQUIREMENTS_LIST: u32 = 10;
    pub const QWORD: u32 = 11;

    /// The `REG_*` name of a type, or `None` for types Windows does not name.
    pub fn name(kind: u32) -> Option<&'static str> {
        Some(match kind {
            NONE => "REG_NONE",
            SZ => "REG_SZ",
            EXPAND_SZ => "REG_EXPAND_SZ",
            BINARY => "REG_BINARY",
            DWORD => "REG_DWORD",
            DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN",
            LINK => "REG_LINK",
            MULTI_SZ => "REG_MULTI_SZ",
            RESOURCE_LIST => "REG_RESOURCE_LIST",
            FULL_RESOURCE_DESCRIPTOR => "REG_FULL_RESOURCE_DESCRIPTOR",
            RESOURCE_REQUIREMENTS_LIST => "REG_RESOURCE_REQUIREMENTS_LIST",
            QWORD => "REG_QWORD",
            _ => return None,
        })
    }
}

/// A value's data, decoded by type where the bytes fit the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    String(String),
    ExpandString(String),
    Link(String),
    MultiString(Vec<String>),
    Dword(u32),
    DwordBigEndian(u32),
    Qword(u64),
    /// REG_BINARY, resource types, unknown types, and typed data whose bytes do not
    /// fit the type (e.g. a 3-byte REG_DWORD).
    Bytes(Vec<u8>),
}

/// A view of one value.
#[derive(Clone, Copy)]
pub struct Value<'h> {
    hive: &'h Hive,
    offset: u32,
    cell: &'h [u8],
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("offset", &self.offset)
            .field("name", &self.name())
            .field("type", &self.kind())
            .finish()
    }
}

impl<'h> Value<'h> {
    pub(crate) fn at(hive: &'h Hive, offset: u32) -> Result<Value<'h>> {
        let cell = hive.signed_cell(offset, b"vk", vk::NAME)?;
        let name_len = usize::from(read_u16(cell, vk::NAME_LEN).unwrap_or(0));
        if vk::NAME + name_len > cell.len() {
            return Err(Error::corrupt(
                offset,
                format!(
                    "value name of {name_len} bytes overruns its {}-byte cell",
                    cell.len()
                ),
            ));
        }
        Ok(Value { hive, offset, cell })
    }

    /// The vk cell's offset.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The name as stored; empty for the default value.
    pub fn raw_name(&self) -> RawName<'h> {
        let len = usize::from(read_u16(self.cell, vk::NAME_LEN).unwrap_or(0));
        RawName {
            bytes: &self.cell[vk::NAME..vk::NAME + len],
            compressed: self.flags() & vk::COMP_NAME != 0,
        }
    }

    /// The name as text; `""` is the key's default value.
    pub fn name(&self) -> String {
        self.raw_name().to_string_lossy()
    }

    /// The value's type (see [`types`]).
    pub fn kind(&self) -> u32 {
        read_u32(self.cell, vk::TYPE).unwrap_or(0)
    }

    /// vk flags.
    pub fn flags(&self) -> u16 {
        read_u16(self.cell, vk::FLAGS).unwrap_or(0)
    }

    /// The stored data size field (with the inline bit).
    pub(crate) fn raw_size(&self) -> u32 {
        read_u32(self.cell, vk::DATA_SIZE).unwrap_or(0)
    }

    /// The data length in bytes.
    pub fn data_len(&self) -> u32 {
        self.raw_size() & !INLINE_DATA
    }

    pub(crate) fn data_offset(&self) -> u32 {
        read_u32(self.cell, vk::DATA).unwrap_or(NULL)
    }

    /// True when the data sits in the vk cell itself (≤ 4 bytes).
    pub fn is_inline(&self) -> bool {
        self.raw_size() & INLINE_DATA != 0
    }

    /// The data bytes: borrowed for inline and single-cell data, gathered for big data.
    pub fn data(&self) -> Result<Cow<'h, [u8]>> {
        let len = self.data_len() as usize;
        if self.is_inline() {
            if len > 4 {
                return Err(Error::corrupt(
                    self.offset,
                    format!("inline value data of {len} bytes (at most 4 fit)"),
                ));
            }
            return Ok(Cow::Borrowed(&self.cell[vk::DATA..vk::DATA + len]));
        }
        if len == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        let data_off = self.data_offset();
        let cell = self.hive.cell(data_off)?;
        if self.hive.minor_version() > 3 && len > BIG_DATA_SEGMENT && cell.starts_with(b"db") {
            return read_big_data(self.hive, data_off, len).map(Cow::Owned);
        }
        cell.get(..len).map(Cow::Borrowed).ok_or_else(|| {
            Error::corrupt(
                data_off,
                format!(
                    "value data of {len} bytes overruns its {}-byte cell",
                    cell.len()
                ),
            )
        })
    }

    /// The data decoded by type.
    pub fn decoded(&self) -> Result<Data> {
        Ok(decode(self.kind(), &self.data()?))
    }
}

/// Offsets of the cells that make up a big-data value: the db cell, its segment list,
/// and each segment.
pub(crate) fn big_data_cells(hive: &Hive, db: u32) -> Result<(u32, Vec<u32>)> {
    let cell = hive.signed_cell(db, b"db", 8)?;
    let count = usize::from(read_u16(cell, 2).unwrap_or(0));
    let list_off = read_u32(cell, 4).unwrap_or(NULL);
    let list = hive.cell(list_off)?;
    if list.len() < count * 4 {
        return Err(Error::corrupt(
            list_off,
            format!(
                "big-data segment list of {} bytes cannot hold {count} segments",
                list.len()
            ),
        ));
    }
    Ok((
        list_off,
        (0..count)
            .map(|i| read_u32(list, i * 4).unwrap_or(NULL))
            .collect(),
    ))
}

fn read_big_data(hive: &Hive, db: u32, len: usize) -> Result<Vec<u8>> {
    let (_, segments) = big_data_cells(hive, db)?;
    if len > segments.len() * BIG_DATA_SEGMENT {
        return Err(Error::corrupt(
            db,
            format!(
                "big data of {} segments cannot hold the {len} bytes the value says",
                segments.len()
            ),
        ));
    }
    // The length is a claim until the segments are read: cap what it may reserve.
    let mut out = Vec::with_capacity(len.min(1 << 20));
    for seg in segments {
        let want = (len - out.len()).min(BIG_DATA_SEGMENT);
        if want == 0 {
            break;
        }
        let cell = hive.cell(seg)?;
        let part = cell.get(..want).ok_or_else(|| {
            Error::corrupt(
                seg,
                format!(
                    "big-data segment of {} bytes is short of {want}",
                    cell.len()
                ),
            )
        })?;
        out.extend_from_slice(part);
    }
    if out.len() != len {
        return Err(Error::corrupt(
            db,
            format!("big data holds {} bytes, the value says {len}", out.len()),
        ));
    }
    Ok(out)
}

/// UTF-16LE bytes to text, stopping at the first NUL (as Windows' APIs do for strings).
pub fn utf16_until_nul(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Decodes data by type. Bytes that do not fit the type come back as [`Data::Bytes`].
pub fn decode(kind: u32, bytes: &[u8]) -> Data {
    match kind {
        types::SZ | types::EXPAND_SZ | types::LINK if bytes.len().is_multiple_of(2) => {
            let s = utf16_until_nul(bytes);
            match kind {
                types::SZ => Data::String(s),
                types::EXPAND_SZ => Data::ExpandString(s),
                _ => Data::Link(s),
            }
        }
        types::MULTI_SZ if bytes.len().is_multiple_of(2) => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let mut parts: Vec<String> = units
                .split(|&u| u == 0)
                .map(String::from_utf16_lossy)
                .collect();
            // "a\0b\0\0" splits into a, b, "", "": the list ends at the first empty string.
            if let Some(end) = parts.iter().position(String::is_empty) {
                parts.truncate(end);
            }
            Data::MultiString(parts)
        }
        types::DWORD if bytes.len() == 4 => {
            Data::Dword(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        types::DWORD_BIG_ENDIAN if bytes.len() == 4 => {
            Data::DwordBigEndian(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        types::QWORD if bytes.len() == 8 => {
            let mut w = [0u8; 8];
            w.copy_from_slice(bytes);
            Data::Qword(u64::from_le_bytes(w))
        }
        _ => Data::Bytes(bytes.to_vec()),
    }
}

/// Encodes a string as Windows stores REG_SZ data: UTF-16LE with a terminating NUL.
pub fn encode_sz(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Encodes REG_MULTI_SZ data: each string NUL-terminated, then one more NUL.
pub fn encode_multi_sz<S: AsRef<str>>(items: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in items {
        out.extend(
            s.as_ref()
                .encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes),
        );
    }
    out.extend_from_slice(&[0, 0]);
    out
}
