//! Cell allocation for edits: best fit into existing free cells (splitting them), else a
//! new bin at the end. Freed cells are zeroed (so no old descriptor or name lingers) and
//! merged with free neighbours in the same bin, which keeps every bin tiled by cells.

use std::collections::{BTreeMap, BTreeSet};

use crate::base::{self, BASE_BLOCK_SIZE, off, read_i32, read_u32, write_u32};
use crate::error::{Error, Result};
use crate::hive::{BIN_HEADER_SIZE, Bin, Hive};

/// The free cells of a hive, indexed by offset and by (size, offset).
#[derive(Debug, Clone, Default)]
pub(crate) struct FreeCells {
    by_offset: BTreeMap<u32, u32>,
    by_size: BTreeSet<(u32, u32)>,
}

impl FreeCells {
    fn insert(&mut self, offset: u32, size: u32) {
        self.by_offset.insert(offset, size);
        self.by_size.insert((size, offset));
    }

    fn remove(&mut self, offset: u32) -> Option<u32> {
        let size = self.by_offset.remove(&offset)?;
        self.by_size.remove(&(size, offset));
        Some(size)
    }

    fn best_fit(&self, need: u32) -> Option<(u32, u32)> {
        self.by_size
            .range((need, 0)..)
            .next()
            .map(|&(size, offset)| (offset, size))
    }

    /// Total bytes in free cells.
    pub(crate) fn total(&self) -> u64 {
        self.by_offset.values().map(|&s| u64::from(s)).sum()
    }
}

/// The cells of one bin, as (offset, size field) pairs; errors on a broken tiling.
pub(crate) fn bin_cells(hive: &Hive, bin: Bin) -> Result<Vec<(u32, i32)>> {
    let mut cells = Vec::new();
    let end = bin.offset + bin.size;
    let mut pos = bin.offset + BIN_HEADER_SIZE;
    while pos < end {
        let raw = read_i32(&hive.data, BASE_BLOCK_SIZE + pos as usize)
            .ok_or_else(|| Error::corrupt(pos, "cell past end of file"))?;
        let size = raw.unsigned_abs();
        if size < 8 || size % 8 != 0 {
            return Err(Error::corrupt(
                pos,
                format!("cell size {raw} is not a positive multiple of 8"),
            ));
        }
        if size > end - pos {
            return Err(Error::corrupt(
                pos,
                format!("cell of {size} bytes crosses its bin's end"),
            ));
        }
        cells.push((pos, raw));
        pos += size;
    }
    Ok(cells)
}

fn round8(n: usize) -> Result<u32> {
    let rounded = n.checked_add(7).ok_or(Error::TooLarge)? & !7;
    u32::try_from(rounded.max(8)).map_err(|_| Error::TooLarge)
}

impl Hive {
    /// Builds the free-cell index on the first edit (a walk over every cell).
    fn free_cells(&mut self) -> Result<&mut FreeCells> {
        if self.alloc.is_none() {
            let mut free = FreeCells::default();
            for &bin in &self.bins {
                for (pos, raw) in bin_cells(self, bin)? {
                    if raw > 0 {
                        free.insert(pos, raw as u32);
                    }
                }
            }
            self.alloc = Some(free);
        }
        self.alloc
            .as_mut()
            .ok_or_else(|| Error::Invalid("free-cell index missing".into()))
    }

    /// Bytes held by free cells (builds the index if needed).
    pub fn free_bytes(&mut self) -> Result<u64> {
        Ok(self.free_cells()?.total())
    }

    fn write_size(&mut self, cell: u32, size: i32) {
        let at = BASE_BLOCK_SIZE + cell as usize;
        self.dirty.mark(at, at + 4);
        write_u32(&mut self.data, at, size as u32);
    }

    fn zero(&mut self, from: u32, len: u32) {
        let at = BASE_BLOCK_SIZE + from as usize;
        self.dirty.mark(at, at + len as usize);
        if let Some(area) = self.data.get_mut(at..at + len as usize) {
            area.fill(0);
        }
    }

    /// Allocates a zeroed cell with room for `len` data bytes; returns its offset.
    pub(crate) fn alloc_cell(&mut self, len: usize) -> Result<u32> {
        let need = round8(len.checked_add(4).ok_or(Error::TooLarge)?)?;
        let found = self.free_cells()?.best_fit(need);
        let (cell, size) = match found {
            Some((cell, size)) => {
                self.free_cells()?.remove(cell);
                (cell, size)
            }
            None => self.append_bin(need)?,
        };
        let used = if size - need >= 8 {
            let rest = cell + need;
            self.write_size(rest, (size - need) as i32);
            self.free_cells()?.insert(rest, size - need);
            need
        } else {
            size
        };
        self.write_size(cell, -(used as i32));
        self.zero(cell + 4, used - 4);
        Ok(cell)
    }

    /// Appends a bin big enough for a cell of `need` bytes; returns that cell's free
    /// extent (offset, size), which covers the whole bin after its header.
    fn append_bin(&mut self, need: u32) -> Result<(u32, u32)> {
        let bin_size = (need + BIN_HEADER_SIZE)
            .checked_add(4095)
            .ok_or(Error::TooLarge)?
            & !4095;
        let start = self.bins_size();
        let new_total = start
            .checked_add(bin_size)
            .filter(|&t| t < 0x7FFF_F000)
            .ok_or(Error::TooLarge)?;
        let end = BASE_BLOCK_SIZE + new_total as usize;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        let at = BASE_BLOCK_SIZE + start as usize;
        self.dirty.mark(at, at + bin_size as usize);
        self.dirty.mark(0, BASE_BLOCK_SIZE);
        self.data[at..at + bin_size as usize].fill(0);
        self.data[at..at + 4].copy_from_slice(b"hbin");
        write_u32(&mut self.data, at + 4, start);
        write_u32(&mut self.data, at + 8, bin_size);
        // Keep the in-memory base block consistent: a checksum that was right stays
        // right (one that was already wrong is left for check() to report).
        let checksum_was_valid = read_u32(&self.data, base::CHECKSUM_OFFSET)
            == Some(base::checksum(&self.data[..base::CHECKSUM_OFFSET]));
        write_u32(&mut self.data, off::BINS_SIZE, new_total);
        if checksum_was_valid {
            base::fix_checksum(&mut self.data);
        }
        self.push_bin(Bin {
            offset: start,
            size: bin_size,
        });
        let cell = start + BIN_HEADER_SIZE;
        let size = bin_size - BIN_HEADER_SIZE;
        self.write_size(cell, size as i32);
        Ok((cell, size))
    }

    /// Frees an allocated cell: zeroes it and merges it with free neighbours.
    pub(crate) fn free_cell(&mut self, cell: u32) -> Result<()> {
        let size = self.cell_size(cell)?;
        let bin = self
            .bin_of(cell)
            .ok_or_else(|| Error::corrupt(cell, "cell outside the hive bins"))?;
        self.free_cells()?;
        let mut start = cell;
        let mut total = size;
        let next = cell + size;
        if next < bin.offset + bin.size
            && read_i32(&self.data, BASE_BLOCK_SIZE + next as usize).is_some_and(|s| s > 0)
            && let Some(next_size) = self.free_cells()?.remove(next)
        {
            total += next_size;
        }
        // The previous cell: walk the bin from its start (bins are small).
        let mut pos = bin.offset + BIN_HEADER_SIZE;
        let mut prev = None;
        while pos < cell {
            let raw = read_i32(&self.data, BASE_BLOCK_SIZE + pos as usize).unwrap_or(0);
            let len = raw.unsigned_abs();
            if len == 0 {
                break;
            }
            prev = Some((pos, raw));
            pos += len;
        }
        if let Some((p, raw)) = prev
            && raw > 0
            && p + raw as u32 == cell
            && self.free_cells()?.remove(p).is_some()
        {
            start = p;
            total += raw as u32;
        }
        self.write_size(start, total as i32);
        self.zero(start + 4, total - 4);
        self.free_cells()?.insert(start, total);
        Ok(())
    }

    /// Capacity (data bytes) of an allocated cell.
    pub(crate) fn cell_capacity(&self, cell: u32) -> Result<usize> {
        Ok(self.cell_size(cell)? as usize - 4)
    }

    /// Allocates a cell holding exactly `bytes` (zero-padded to the cell size).
    pub(crate) fn alloc_with(&mut self, bytes: &[u8]) -> Result<u32> {
        let cell = self.alloc_cell(bytes.len())?;
        self.cell_mut(cell)?[..bytes.len()].copy_from_slice(bytes);
        Ok(cell)
    }

    /// Replaces a cell's content, in place when it fits, else in a new cell (the old
    /// one is freed). Returns the offset now holding `bytes`.
    pub(crate) fn rewrite_cell(&mut self, cell: u32, bytes: &[u8]) -> Result<u32> {
        if bytes.len() <= self.cell_capacity(cell)? {
            let data = self.cell_mut(cell)?;
            data[..bytes.len()].copy_from_slice(bytes);
            data[bytes.len()..].fill(0);
            return Ok(cell);
        }
        let new = self.alloc_with(bytes)?;
        self.free_cell(cell)?;
        Ok(new)
    }
}
