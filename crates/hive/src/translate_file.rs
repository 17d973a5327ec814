//! Translating the SIDs in a hive file's security descriptors without reading the whole
//! file into memory: the fast path of `admu hive translate`.
//!
//! A translation that keeps every descriptor inside its sk cell changes only those
//! cells' bytes and the base block. So this reads the base block, the bin headers, the
//! root key and the sk list (a few hundred small reads for a 150 MB hive), translates,
//! and writes the output as a copy of the file (`std::io::copy`, which is
//! `copy_file_range` on Linux) with the changed cells and a clean base block written
//! over it, fsynced and renamed into place like every save.
//!
//! It checks what [`Hive::open`](crate::Hive::open) and the in-place branch of a
//! translation check: the base block, that the bins tile the file, the root key, the sk
//! list and every descriptor. It refuses nothing the whole-hive path would accept;
//! instead it answers [`Outcome::NeedsWholeHive`] when that path has work this one
//! cannot do (log replay, cells that move or merge), and the caller opens the hive.
//! The bytes written are the bytes [`Hive::translate_sids`](crate::Hive::translate_sids)
//! followed by [`Hive::save_as`](crate::Hive::save_as) writes, timestamp aside.
//!
//! ```no_run
//! use hive::translate_file::{translate_file, Outcome, TranslateFile};
//!
//! let map = ntsec::SidMap::from_pairs(["S-1-5-21-1-2-3-1001=S-1-5-21-4-5-6-1001"])?;
//! let how = TranslateFile::new(&map, ntsec::Mode::Replace).output("NEW.DAT".as_ref());
//! match translate_file("NTUSER.DAT".as_ref(), &how)? {
//!     Outcome::Done(done) => println!("{} cells changed", done.report.cells_changed),
//!     Outcome::NeedsWholeHive(why) => println!("open the hive: {why}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::SystemTime;

use crate::base::{BASE_BLOCK_SIZE, read_u32};
use crate::error::{Error, Result};
use crate::hive::{
    Bin, NULL, check_cell_size, check_signature, find_logs, index_bins_with, locate_cell,
    read_base_block,
};
use crate::key::{check_nk, nk};
use crate::security::{RewriteReport, Sk, follow_sk_list, sk};
use crate::write::{
    FLAG_PENDING_TRANSACTIONS, SaveOptions, SaveReport, empty_logs, finish_atomically,
    finish_base_block, io_err, temp_path,
};

/// What to translate and where to write it.
#[derive(Debug, Clone, Copy)]
pub struct TranslateFile<'a> {
    map: &'a ntsec::SidMap,
    mode: ntsec::Mode,
    output: Option<&'a Path>,
    dry_run: bool,
    use_logs: bool,
    save: SaveOptions<'a>,
}

impl<'a> TranslateFile<'a> {
    /// Translate with `map` in `mode`, replacing the file (and emptying its logs, as
    /// [`Hive::save`](crate::Hive::save) does) when something changed.
    pub fn new(map: &'a ntsec::SidMap, mode: ntsec::Mode) -> Self {
        TranslateFile {
            map,
            mode,
            output: None,
            dry_run: false,
            use_logs: true,
            save: SaveOptions::default(),
        }
    }

    /// Write the result to `path` (always, even when nothing changed) and leave the
    /// input and its logs as they are.
    pub fn output(mut self, path: &'a Path) -> Self {
        self.output = Some(path);
        self
    }

    /// Report what would change; write nothing.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Whether the input's logs count: when not, a replaced file's logs are left alone
    /// (a dirty hive goes to the whole-hive path either way).
    pub fn use_logs(mut self, yes: bool) -> Self {
        self.use_logs = yes;
        self
    }

    /// How to save (the hook that carries NTFS metadata over the rename).
    pub fn save_options(mut self, save: SaveOptions<'a>) -> Self {
        self.save = save;
        self
    }
}

/// Why [`translate_file`] left a hive to the whole-hive path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NeedsWholeHive {
    #[error("the hive is dirty (sequence numbers or checksum): its logs may need replaying")]
    Dirty,
    #[error("the base block says KTM transactions are pending")]
    PendingTransactions,
    #[error("a translated descriptor does not fit its sk cell, which must move")]
    Grows,
    #[error("two sk cells hold the same descriptor afterwards, and must merge")]
    Merges,
    #[error("cells read overlap, which only the whole-hive path's checks can judge")]
    Overlaps,
    #[error("the file system gives no modification time to notice a change during the copy")]
    NoModificationTime,
}

/// A translation done by [`translate_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub report: RewriteReport,
    /// The save, when something was written.
    pub saved: Option<SaveReport>,
}

/// What [`translate_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(Done),
    /// Nothing was written: open the hive and translate it whole.
    NeedsWholeHive(NeedsWholeHive),
}

/// Translates the descriptors of the hive file `input` as described by `how`.
pub fn translate_file(input: &Path, how: &TranslateFile<'_>) -> Result<Outcome> {
    let file = File::open(input).map_err(io_err(input))?;
    let stamp = Stamp::of(&file, input)?;
    let hive = SparseHive {
        file: &file,
        path: input,
        len: stamp.len,
        bins: Vec::new(),
    };
    if stamp.modified.is_none() {
        return Ok(Outcome::NeedsWholeHive(NeedsWholeHive::NoModificationTime));
    }
    let planned = plan(hive, how.map, how.mode).map_err(|e| e.in_file(input))?;
    // Windows cannot rename over a file that is open: each handle lives only as long
    // as its reads.
    drop(file);
    let plan = match planned {
        Ok(plan) => plan,
        Err(why) => return Ok(Outcome::NeedsWholeHive(why)),
    };
    let report = RewriteReport {
        cells_changed: plan.changed.len(),
        keys_affected: plan.keys_affected,
        ..RewriteReport::default()
    };
    let write = !how.dry_run && (how.output.is_some() || !plan.changed.is_empty());
    if !write {
        return Ok(Outcome::Done(Done {
            report,
            saved: None,
        }));
    }
    let target = how.output.unwrap_or(input);
    let mut block = plan.base_block;
    let sequence = finish_base_block(&mut block);
    let (dir, tmp) = temp_path(target)?;
    let copy = |out: &mut File| {
        let from = File::open(input).map_err(io_err(input))?;
        if Stamp::of(&from, input)? != stamp {
            return Err(changed_meanwhile(input));
        }
        let copied = std::io::copy(&mut (&from).take(stamp.len), out).map_err(io_err(&tmp))?;
        if copied != stamp.len {
            return Err(changed_meanwhile(input));
        }
        for (cell, data) in &plan.changed {
            let at = BASE_BLOCK_SIZE as u64 + u64::from(*cell) + 4;
            out.seek(SeekFrom::Start(at)).map_err(io_err(&tmp))?;
            out.write_all(data).map_err(io_err(&tmp))?;
        }
        out.seek(SeekFrom::Start(0)).map_err(io_err(&tmp))?;
        out.write_all(&block).map_err(io_err(&tmp))?;
        if Stamp::of(&from, input)? != stamp {
            return Err(changed_meanwhile(input));
        }
        Ok(())
    };
    let logs = if how.output.is_none() && how.use_logs {
        find_logs(input)?
    } else {
        Vec::new()
    };
    finish_atomically(&dir, &tmp, target, copy, how.save.before_rename)?;
    let logs_emptied = empty_logs(&logs)?;
    Ok(Outcome::Done(Done {
        report,
        saved: Some(SaveReport {
            path: target.to_path_buf(),
            bytes: stamp.len,
            sequence,
            logs_emptied,
        }),
    }))
}

fn changed_meanwhile(path: &Path) -> Error {
    Error::Invalid(format!(
        "{} changed while it was being translated; nothing was written, run the command again",
        path.display()
    ))
}

/// A file's length and modification time, to notice a change while it is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(file: &File, path: &Path) -> Result<Stamp> {
        let meta = file.metadata().map_err(io_err(path))?;
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// The translated sk cells, ready to be written over a copy of the file.
struct Plan {
    base_block: Vec<u8>,
    /// Each changed cell's offset and its whole new data (after the size field).
    changed: Vec<(u32, Vec<u8>)>,
    keys_affected: u64,
}

/// Reads and checks what the translation touches and translates it in memory; the
/// inner `Err` says why the whole hive is needed instead.
fn plan(
    mut hive: SparseHive<'_>,
    map: &ntsec::SidMap,
    mode: ntsec::Mode,
) -> Result<Result<Plan, NeedsWholeHive>> {
    let mut base_block = vec![0; BASE_BLOCK_SIZE.min(hive.len as usize)];
    hive.read_at(0, &mut base_block)?;
    let info = read_base_block(&base_block)?;
    if info.dirty() {
        return Ok(Err(NeedsWholeHive::Dirty));
    }
    if info.flags & FLAG_PENDING_TRANSACTIONS != 0 {
        return Ok(Err(NeedsWholeHive::PendingTransactions));
    }
    let available = hive.len - BASE_BLOCK_SIZE as u64;
    hive.bins = index_bins_with(info.bins_size, available, |pos| {
        let mut header = [0; 12];
        hive.read_at(BASE_BLOCK_SIZE as u64 + u64::from(pos), &mut header)?;
        Ok(header)
    })?;
    let root = hive.signed_cell(info.root_offset, b"nk", nk::NAME)?;
    check_nk(info.root_offset, &root)?;
    // Every cell read, as [start, end) of its data: a changed cell written over a copy
    // must not overlap another (valid hives never have overlapping cells).
    let mut extents = vec![cell_extent(info.root_offset, &root)];
    let head = read_u32(&root, nk::SECURITY).unwrap_or(NULL);

    let mut plan = Plan {
        base_block,
        changed: Vec::new(),
        keys_affected: 0,
    };
    let mut descriptors: HashSet<Vec<u8>> = HashSet::new();
    let mut needs = None;
    follow_sk_list(head, |at| {
        let mut data = hive.signed_cell(at, b"sk", sk::SD)?;
        extents.push(cell_extent(at, &data));
        let cell = Sk::from_cell(at, &data)?;
        let (next, refs) = (cell.flink(), cell.reference_count());
        let descriptor = match translate_cell(at, &mut data, map, mode)? {
            Ok(Some(new)) => {
                plan.keys_affected += u64::from(refs);
                plan.changed.push((at, data));
                new
            }
            Ok(None) => Sk::from_cell(at, &data)?.descriptor().to_vec(),
            Err(why) => {
                needs = Some(why);
                return Ok(head);
            }
        };
        if !descriptors.insert(descriptor) {
            needs = Some(NeedsWholeHive::Merges);
            return Ok(head);
        }
        Ok(next)
    })?;
    if needs.is_none() && !plan.changed.is_empty() && overlapping(&mut extents) {
        needs = Some(NeedsWholeHive::Overlaps);
    }
    Ok(needs.map_or(Ok(plan), Err))
}

/// The bytes a cell's size field and data take, relative to the bins.
fn cell_extent(at: u32, data: &[u8]) -> (u64, u64) {
    let start = u64::from(at);
    (start, start + 4 + data.len() as u64)
}

/// Whether any two extents overlap.
fn overlapping(extents: &mut [(u64, u64)]) -> bool {
    extents.sort_unstable();
    extents.windows(2).any(|w| w[1].0 < w[0].1)
}

/// Translates the descriptor in the sk cell `data` (at `at`) in place. `Some` with the
/// new descriptor when it changed; the inner `Err` when it no longer fits the cell.
fn translate_cell(
    at: u32,
    data: &mut [u8],
    map: &ntsec::SidMap,
    mode: ntsec::Mode,
) -> Result<Result<Option<Vec<u8>>, NeedsWholeHive>> {
    let old = Sk::from_cell(at, data)?.descriptor();
    let Some(new) = ntsec::translate_bytes(old, map, mode)
        .map_err(|source| descriptor_error(at, source))?
        .filter(|new| new.as_slice() != old)
    else {
        return Ok(Ok(None));
    };
    if sk::SD + new.len() > data.len() {
        return Ok(Err(NeedsWholeHive::Grows));
    }
    ntsec::SecurityDescriptor::from_bytes(&new).map_err(|source| descriptor_error(at, source))?;
    let len = u32::try_from(new.len()).map_err(|_| Error::TooLarge)?;
    data[sk::SD_LEN..sk::SD].copy_from_slice(&len.to_le_bytes());
    data[sk::SD..sk::SD + new.len()].copy_from_slice(&new);
    data[sk::SD + new.len()..].fill(0);
    Ok(Ok(Some(new)))
}

fn descriptor_error(cell: u32, source: ntsec::Error) -> Error {
    Error::Security {
        offset: u64::from(cell) + BASE_BLOCK_SIZE as u64 + 4 + sk::SD as u64,
        source,
    }
}

/// The parts of a hive file read on demand: bounds-checked like the cells of a hive in
/// memory (the same checks, [`locate_cell`] and [`check_cell_size`]).
struct SparseHive<'f> {
    file: &'f File,
    path: &'f Path,
    len: u64,
    bins: Vec<Bin>,
}

impl SparseHive<'_> {
    /// Fills `buf` from the file at `pos`; the file ending first is corruption.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        match read_exact_at(self.file, buf, pos) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::Corrupt {
                offset: pos,
                reason: format!("{} bytes past the end of the file", buf.len()),
            }),
            Err(source) => Err(Error::Io {
                path: self.path.to_path_buf(),
                source,
            }),
        }
    }

    /// The data of the allocated cell at `cell`, checked to start with `sig` and hold
    /// at least `min` bytes.
    fn signed_cell(&self, cell: u32, sig: &[u8; 2], min: usize) -> Result<Vec<u8>> {
        let index = self.bins.partition_point(|b| b.offset + b.size <= cell);
        let bin = locate_cell(cell, self.bins.get(index).copied())?;
        let at = BASE_BLOCK_SIZE as u64 + u64::from(cell);
        let mut raw = [0; 4];
        let raw = if at + 4 <= self.len {
            self.read_at(at, &mut raw)?;
            Some(i32::from_le_bytes(raw))
        } else {
            None
        };
        let size = check_cell_size(cell, bin, raw)?;
        let mut data = vec![0; size as usize - 4];
        self.read_at(at + 4, &mut data)?;
        check_signature(cell, &data, sig, min)?;
        Ok(data)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut pos: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, pos) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_that_touch_do_not_overlap_and_nested_ones_do() {
        let root = cell_extent(0x20, &[0; 76]);
        assert_eq!(root, (0x20, 0x20 + 80));
        assert!(!overlapping(&mut [(0x70, 0x100), root, (0x100, 0x180)]));
        assert!(overlapping(&mut [(0x100, 0x180), root, (0x140, 0x150)]));
        assert!(overlapping(&mut [(0x100, 0x180), (0x100, 0x108)]));
        assert!(!overlapping(&mut []));
    }
}
