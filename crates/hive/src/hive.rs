//! The hive in memory: its bytes, the index of its bins, and bounds-checked cell access.
//! Opening validates the base block and the bin headers only; keys, values and security
//! cells are parsed when they are visited.

use std::path::{Path, PathBuf};

use crate::base::{self, BASE_BLOCK_SIZE, off, read_i32, read_u32};
use crate::error::{Error, Result};
use crate::log::{LogFile, ReplayReport};

/// Null cell offset.
pub const NULL: u32 = 0xFFFF_FFFF;
/// Size of a hive bin header.
pub const BIN_HEADER_SIZE: u32 = 32;

/// One hive bin: its offset relative to the start of the bins and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bin {
    pub offset: u32,
    pub size: u32,
}

/// How to open a hive.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Find `FILE.LOG1`, `FILE.LOG2` and `FILE.LOG` (any letter case) beside the file
    /// and replay them when the primary is dirty. Off: read the primary alone.
    pub use_logs: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { use_logs: true }
    }
}

/// The base-block facts of a hive as it was on disk, before any replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseInfo {
    pub major_version: u32,
    pub minor_version: u32,
    pub file_type: u32,
    pub primary_sequence: u32,
    pub secondary_sequence: u32,
    pub checksum_valid: bool,
    /// FILETIME of the last write, as stored.
    pub last_written: u64,
    pub root_offset: u32,
    pub bins_size: u32,
    /// The partial path Windows stores for debugging (e.g. `\??\C:\Users\x\ntuser.dat`).
    pub embedded_name: String,
    pub flags: u32,
}

impl BaseInfo {
    /// Dirty: Windows would recover it from the logs before using it.
    pub fn dirty(&self) -> bool {
        !self.checksum_valid || self.primary_sequence != self.secondary_sequence
    }
}

/// A registry hive held in memory.
#[derive(Debug, Clone)]
pub struct Hive {
    pub(crate) data: Vec<u8>,
    pub(crate) bins: Vec<Bin>,
    /// For every 4 KiB page of the bins, the index of the bin holding it: cell access
    /// is the hottest path, and this makes finding a cell's bin one lookup.
    pub(crate) page_bins: Vec<u32>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) on_disk: BaseInfo,
    pub(crate) logs_found: Vec<PathBuf>,
    pub(crate) replay: Option<ReplayReport>,
    pub(crate) alloc: Option<crate::alloc::FreeCells>,
    /// The 4 KiB pages of `data` changed since it was read, so a save can copy the
    /// others from the file (`write.rs`).
    pub(crate) dirty: crate::write::DirtyPages,
    /// The file `data` was read from, byte for byte (no log replayed), as it was then.
    pub(crate) source: Option<crate::write::Source>,
}

impl Hive {
    /// Opens a hive file, replaying its transaction logs when it is dirty.
    pub fn open(path: impl AsRef<Path>) -> Result<Hive> {
        Hive::open_with(path, OpenOptions::default())
    }

    /// Opens a hive file with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Hive> {
        let path = path.as_ref();
        let (data, source) = crate::write::Source::read(path)?;
        let logs_found = if options.use_logs {
            find_logs(path)?
        } else {
            Vec::new()
        };
        let mut logs = Vec::new();
        for p in &logs_found {
            let d = std::fs::read(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            logs.push(LogFile::new(p.clone(), d));
        }
        let mut hive =
            Hive::from_parts(data, &logs, options.use_logs).map_err(|e| e.in_file(path))?;
        hive.path = Some(path.to_path_buf());
        hive.logs_found = logs_found;
        if hive.replay.is_none() {
            hive.source = Some(source);
        }
        Ok(hive)
    }

    /// A hive from bytes, with the logs to replay if it is dirty.
    pub fn from_bytes(data: Vec<u8>, logs: &[LogFile]) -> Result<Hive> {
        Hive::from_parts(data, logs, true)
    }

    /// A hive from bytes read as they are, dirty or not.
    pub fn from_bytes_without_logs(data: Vec<u8>) -> Result<Hive> {
        Hive::from_parts(data, &[], false)
    }

    fn from_parts(mut data: Vec<u8>, logs: &[LogFile], use_logs: bool) -> Result<Hive> {
        let on_disk = read_base_block(&data)?;
        let mut replay = None;
        if on_disk.dirty() && use_logs {
            replay = Some(crate::log::replay(&mut data, logs)?);
            // Replay may take the base block from a log: it must pass the same checks.
            read_base_block(&data)?;
        }
        let bins_size = read_u32(&data, off::BINS_SIZE).unwrap_or(0);
        let bins = index_bins(&data, bins_size)?;
        let page_bins = page_index(&bins);
        let hive = Hive {
            data,
            bins,
            page_bins,
            path: None,
            on_disk,
            logs_found: Vec::new(),
            replay,
            alloc: None,
            dirty: crate::write::DirtyPages::default(),
            source: None,
        };
        hive.root()?;
        Ok(hive)
    }

    /// The file this hive was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The base block as it was on disk (before replay).
    pub fn on_disk(&self) -> &BaseInfo {
        &self.on_disk
    }

    /// Log files found beside the primary.
    pub fn logs_found(&self) -> &[PathBuf] {
        &self.logs_found
    }

    /// What log replay did, when the primary was dirty.
    pub fn replay_report(&self) -> Option<&ReplayReport> {
        self.replay.as_ref()
    }

    /// Minor format version (3 = lf lists and no big data; ≥ 5 = lh lists, db cells).
    pub fn minor_version(&self) -> u32 {
        read_u32(&self.data, off::MINOR).unwrap_or(0)
    }

    /// Total size of the hive bins.
    pub fn bins_size(&self) -> u32 {
        read_u32(&self.data, off::BINS_SIZE).unwrap_or(0)
    }

    /// The bins, in file order.
    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// The raw bytes (base block, bins and any slack), as they would be saved.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Offset of the root key's cell.
    pub fn root_offset(&self) -> u32 {
        read_u32(&self.data, off::ROOT).unwrap_or(NULL)
    }

    /// The bin holding a cell offset.
    pub(crate) fn bin_of(&self, cell: u32) -> Option<Bin> {
        let index = *self.page_bins.get(cell as usize / 4096)?;
        let bin = *self.bins.get(index as usize)?;
        (cell >= bin.offset && cell < bin.offset + bin.size).then_some(bin)
    }

    /// Records a bin appended at the end (its pages point at it).
    pub(crate) fn push_bin(&mut self, bin: Bin) {
        let index = self.bins.len() as u32;
        self.bins.push(bin);
        self.page_bins
            .extend(std::iter::repeat_n(index, bin.size as usize / 4096));
    }

    /// Checks that `cell` starts an allocated cell inside a bin and returns its total
    /// size (including the 4-byte size field).
    pub(crate) fn cell_size(&self, cell: u32) -> Result<u32> {
        let bin = locate_cell(cell, self.bin_of(cell))?;
        check_cell_size(
            cell,
            bin,
            read_i32(&self.data, BASE_BLOCK_SIZE + cell as usize),
        )
    }

    /// The data of an allocated cell (without its size field).
    pub(crate) fn cell(&self, cell: u32) -> Result<&[u8]> {
        let size = self.cell_size(cell)?;
        let at = BASE_BLOCK_SIZE + cell as usize;
        self.data
            .get(at + 4..at + size as usize)
            .ok_or_else(|| Error::corrupt(cell, "cell past end of file"))
    }

    /// Mutable data of an allocated cell.
    pub(crate) fn cell_mut(&mut self, cell: u32) -> Result<&mut [u8]> {
        let size = self.cell_size(cell)?;
        let at = BASE_BLOCK_SIZE + cell as usize;
        self.dirty.mark(at, at + size as usize);
        self.data
            .get_mut(at + 4..at + size as usize)
            .ok_or_else(|| Error::corrupt(cell, "cell past end of file"))
    }

    /// A cell's data, checked to be at least `min` bytes long and to start with `sig`.
    pub(crate) fn signed_cell(&self, cell: u32, sig: &[u8; 2], min: usize) -> Result<&[u8]> {
        let data = self.cell(cell)?;
        check_signature(cell, data, sig, min)?;
        Ok(data)
    }
}

/// Checks a cell offset before its size is read: not null, aligned, past the header of
/// `bin` (the bin holding it, `None` when no bin does). Returns that bin.
pub(crate) fn locate_cell(cell: u32, bin: Option<Bin>) -> Result<Bin> {
    if cell == NULL {
        return Err(Error::corrupt(cell, "null cell offset"));
    }
    if !cell.is_multiple_of(8) {
        return Err(Error::corrupt(cell, "cell offset is not 8-byte aligned"));
    }
    let bin = bin.ok_or_else(|| Error::corrupt(cell, "cell offset outside the hive bins"))?;
    if cell < bin.offset + BIN_HEADER_SIZE {
        return Err(Error::corrupt(cell, "cell offset points into a bin header"));
    }
    Ok(bin)
}

/// Checks the size field `raw` of the cell at `cell` in `bin` (`None` past the end of
/// the file): allocated, at least 8 bytes, inside the bin. Returns the total size.
pub(crate) fn check_cell_size(cell: u32, bin: Bin, raw: Option<i32>) -> Result<u32> {
    let raw = raw.ok_or_else(|| Error::corrupt(cell, "cell past end of file"))?;
    if raw >= 0 {
        return Err(Error::corrupt(cell, "reference to a free cell"));
    }
    let size = raw.unsigned_abs();
    if size < 8 {
        return Err(Error::corrupt(
            cell,
            format!("cell size {size} is too small"),
        ));
    }
    if u64::from(cell) + u64::from(size) > u64::from(bin.offset) + u64::from(bin.size) {
        return Err(Error::corrupt(
            cell,
            format!("cell of {size} bytes crosses its bin's end"),
        ));
    }
    Ok(size)
}

/// Checks that a cell's data is at least `min` bytes long and starts with `sig`.
pub(crate) fn check_signature(cell: u32, data: &[u8], sig: &[u8; 2], min: usize) -> Result<()> {
    if data.len() < min {
        return Err(Error::corrupt(
            cell,
            format!(
                "{} cell of {} bytes is shorter than {min}",
                String::from_utf8_lossy(sig),
                data.len()
            ),
        ));
    }
    if &data[..2] != sig {
        return Err(Error::corrupt(
            cell,
            format!(
                "expected a {} cell, found signature {:02x}{:02x}",
                String::from_utf8_lossy(sig),
                data[0],
                data[1]
            ),
        ));
    }
    Ok(())
}

/// Parses and sanity-checks the base block.
pub(crate) fn read_base_block(data: &[u8]) -> Result<BaseInfo> {
    if data.len() < BASE_BLOCK_SIZE {
        return Err(Error::NotAHive {
            reason: format!(
                "file has {} bytes, shorter than a 4096-byte base block",
                data.len()
            ),
        });
    }
    if &data[..4] != b"regf" {
        return Err(Error::NotAHive {
            reason: "no `regf` signature at offset 0".into(),
        });
    }
    let u = |at| read_u32(data, at).unwrap_or(0);
    let name_units: Vec<u16> = data[off::FILE_NAME..off::FILE_NAME + 64]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&c| c != 0)
        .collect();
    let info = BaseInfo {
        major_version: u(off::MAJOR),
        minor_version: u(off::MINOR),
        file_type: u(off::FILE_TYPE),
        primary_sequence: u(off::PRIMARY_SEQ),
        secondary_sequence: u(off::SECONDARY_SEQ),
        checksum_valid: base::checksum(&data[..base::CHECKSUM_OFFSET]) == u(base::CHECKSUM_OFFSET),
        last_written: base::read_u64(data, off::TIMESTAMP).unwrap_or(0),
        root_offset: u(off::ROOT),
        bins_size: u(off::BINS_SIZE),
        embedded_name: String::from_utf16_lossy(&name_units),
        flags: u(off::FLAGS),
    };
    if info.major_version != 1 {
        return Err(Error::Corrupt {
            offset: off::MAJOR as u64,
            reason: format!("unsupported major version {}", info.major_version),
        });
    }
    if !(2..=6).contains(&info.minor_version) {
        return Err(Error::Corrupt {
            offset: off::MINOR as u64,
            reason: format!("unsupported minor version {}", info.minor_version),
        });
    }
    if info.file_type != base::file_type::PRIMARY {
        return Err(Error::NotAHive {
            reason: format!(
                "file type {} is a transaction log, not a primary hive",
                info.file_type
            ),
        });
    }
    Ok(info)
}

/// The bin index of every 4 KiB page.
fn page_index(bins: &[Bin]) -> Vec<u32> {
    let mut pages = Vec::with_capacity(bins.iter().map(|b| b.size as usize / 4096).sum());
    for (i, b) in bins.iter().enumerate() {
        pages.extend(std::iter::repeat_n(i as u32, b.size as usize / 4096));
    }
    pages
}

/// The bins of a hive held in memory ([`index_bins_with`]).
fn index_bins(data: &[u8], bins_size: u32) -> Result<Vec<Bin>> {
    let available = data.len().saturating_sub(BASE_BLOCK_SIZE) as u64;
    index_bins_with(bins_size, available, |pos| {
        let at = BASE_BLOCK_SIZE + pos as usize;
        data.get(at..at + 12)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| Error::corrupt(pos, "hive bin header past end of file"))
    })
}

/// Walks the bin headers, read by `header(pos)` (the first 12 bytes of the bin at
/// `pos`), and returns the bins; they must tile `[0, bins_size)` exactly, and the file
/// must hold `available` bytes after its base block.
pub(crate) fn index_bins_with(
    bins_size: u32,
    available: u64,
    mut header: impl FnMut(u32) -> Result<[u8; 12]>,
) -> Result<Vec<Bin>> {
    if !bins_size.is_multiple_of(4096) || bins_size == 0 {
        return Err(Error::Corrupt {
            offset: off::BINS_SIZE as u64,
            reason: format!("hive bins size {bins_size:#x} is not a positive multiple of 4096"),
        });
    }
    if u64::from(bins_size) > available {
        return Err(Error::Corrupt {
            offset: off::BINS_SIZE as u64,
            reason: format!(
                "base block says {bins_size:#x} bytes of hive bins, the file holds {available:#x}: truncated"
            ),
        });
    }
    let mut bins = Vec::with_capacity(bins_size as usize / 4096);
    let mut pos = 0u32;
    while pos < bins_size {
        let header = header(pos)?;
        if &header[..4] != b"hbin" {
            return Err(Error::corrupt(pos, "expected a hive bin header (`hbin`)"));
        }
        let offset = read_u32(&header, 4).unwrap_or(NULL);
        let size = read_u32(&header, 8).unwrap_or(0);
        if offset != pos {
            return Err(Error::corrupt(
                pos,
                format!("hive bin says it is at {offset:#x}"),
            ));
        }
        if size == 0 || !size.is_multiple_of(4096) || size > bins_size - pos {
            return Err(Error::corrupt(
                pos,
                format!("hive bin size {size:#x} is invalid"),
            ));
        }
        bins.push(Bin { offset, size });
        pos += size;
    }
    Ok(bins)
}

/// The transaction logs beside a hive: `NAME.LOG1`, `NAME.LOG2`, `NAME.LOG`, matched
/// without regard to letter case (files copied from NTFS keep Windows' mixed case).
pub fn find_logs(path: &Path) -> Result<Vec<PathBuf>> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let wanted: Vec<String> = ["LOG1", "LOG2", "LOG"]
        .iter()
        .map(|ext| format!("{name}.{ext}").to_uppercase())
        .collect();
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(candidate) = file_name.to_str() else {
            continue;
        };
        if let Some(rank) = wanted.iter().position(|w| *w == candidate.to_uppercase())
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            found.push((rank, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}
