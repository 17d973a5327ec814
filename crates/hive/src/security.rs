//! Security cells (`sk`): the circular list, sharing by content, and rewriting the
//! descriptors they hold. The invariants Windows keeps (formats.md §1.6) hold after
//! every operation here: each sk's reference count equals the number of keys using it,
//! no two sk cells hold the same descriptor, and the list links are consistent.

use std::collections::HashMap;

use crate::base::{read_u32, write_u32};
use crate::error::{Error, Result};
use crate::hive::{Hive, NULL};
use crate::key::nk;

/// Offsets inside an sk cell's data.
pub(crate) mod sk {
    pub const FLINK: usize = 4;
    pub const BLINK: usize = 8;
    pub const REFCOUNT: usize = 12;
    pub const SD_LEN: usize = 16;
    pub const SD: usize = 20;
}

/// A view of one sk cell.
#[derive(Debug, Clone, Copy)]
pub struct Sk<'h> {
    offset: u32,
    cell: &'h [u8],
}

impl<'h> Sk<'h> {
    pub(crate) fn at(hive: &'h Hive, offset: u32) -> Result<Sk<'h>> {
        Sk::from_cell(offset, hive.signed_cell(offset, b"sk", sk::SD)?)
    }

    /// The sk cell at `offset` whose data (signature and fixed part checked) is `cell`.
    pub(crate) fn from_cell(offset: u32, cell: &'h [u8]) -> Result<Sk<'h>> {
        let len = read_u32(cell, sk::SD_LEN).unwrap_or(0) as usize;
        if sk::SD + len > cell.len() {
            return Err(Error::corrupt(
                offset,
                format!(
                    "security descriptor of {len} bytes overruns its {}-byte sk cell",
                    cell.len()
                ),
            ));
        }
        Ok(Sk { offset, cell })
    }

    pub fn offset(&self) -> u32 {
        self.offset
    }
    /// Next cell in the list.
    pub fn flink(&self) -> u32 {
        read_u32(self.cell, sk::FLINK).unwrap_or(NULL)
    }
    /// Previous cell in the list.
    pub fn blink(&self) -> u32 {
        read_u32(self.cell, sk::BLINK).unwrap_or(NULL)
    }
    /// How many keys use this descriptor.
    pub fn reference_count(&self) -> u32 {
        read_u32(self.cell, sk::REFCOUNT).unwrap_or(0)
    }
    /// The self-relative security descriptor.
    pub fn descriptor(&self) -> &'h [u8] {
        let len = read_u32(self.cell, sk::SD_LEN).unwrap_or(0) as usize;
        &self.cell[sk::SD..sk::SD + len]
    }
}

/// Follows the circular sk list from `head`: `visit(at)` reads the cell at `at` and
/// returns the next offset (its flink); the walk ends when that is `head` again. A
/// list that comes back to a cell other than its head is corruption.
pub(crate) fn follow_sk_list(head: u32, mut visit: impl FnMut(u32) -> Result<u32>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut at = head;
    loop {
        if !seen.insert(at) {
            return Err(Error::corrupt(
                at,
                "the sk list loops without returning to its head",
            ));
        }
        at = visit(at)?;
        if at == head {
            return Ok(());
        }
    }
}

/// What a descriptor rewrite changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RewriteReport {
    /// sk cells whose descriptor changed.
    pub cells_changed: usize,
    /// Keys whose descriptor changed (sum of the changed cells' reference counts).
    pub keys_affected: u64,
    /// sk cells that became identical to another and were merged into it.
    pub cells_merged: usize,
    /// sk cells that had to move because the new descriptor did not fit.
    pub cells_moved: usize,
}

impl Hive {
    /// The sk cells in list order, starting at the root key's.
    pub fn security_cells(&self) -> Result<Vec<Sk<'_>>> {
        let head = self.root()?.security_offset();
        let mut out = Vec::new();
        follow_sk_list(head, |at| {
            let cell = Sk::at(self, at)?;
            out.push(cell);
            Ok(cell.flink())
        })?;
        Ok(out)
    }

    fn set_u32(&mut self, cell: u32, field: usize, value: u32) -> Result<()> {
        let data = self.cell_mut(cell)?;
        if data.len() < field + 4 {
            return Err(Error::corrupt(cell, "cell too short for field"));
        }
        write_u32(data, field, value);
        Ok(())
    }

    /// Removes an sk cell from the list and frees it.
    fn unlink_sk(&mut self, cell: u32) -> Result<()> {
        let s = Sk::at(self, cell)?;
        let (prev, next) = (s.blink(), s.flink());
        if prev == cell || next == cell {
            return Err(Error::Invalid(
                "cannot remove the only security cell".into(),
            ));
        }
        self.set_u32(prev, sk::FLINK, next)?;
        self.set_u32(next, sk::BLINK, prev)?;
        self.free_cell(cell)
    }

    /// Drops one key's reference to an sk cell; unlinks and frees it at zero.
    pub(crate) fn release_sk(&mut self, cell: u32) -> Result<()> {
        let count = Sk::at(self, cell)?.reference_count();
        if count <= 1 {
            self.unlink_sk(cell)
        } else {
            self.set_u32(cell, sk::REFCOUNT, count - 1)
        }
    }

    /// Finds the sk cell holding exactly `descriptor`, or creates one (at the list's
    /// tail) with a reference count of zero. Returns its offset.
    fn find_or_create_sk(&mut self, descriptor: &[u8]) -> Result<u32> {
        if let Some(found) = self
            .security_cells()?
            .iter()
            .find(|s| s.descriptor() == descriptor)
        {
            return Ok(found.offset());
        }
        let head = self.root()?.security_offset();
        let tail = Sk::at(self, head)?.blink();
        let len = u32::try_from(descriptor.len()).map_err(|_| Error::TooLarge)?;
        let mut bytes = Vec::with_capacity(sk::SD + descriptor.len());
        bytes.extend_from_slice(b"sk\0\0");
        bytes.extend_from_slice(&head.to_le_bytes());
        bytes.extend_from_slice(&tail.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(descriptor);
        let cell = self.alloc_with(&bytes)?;
        self.set_u32(tail, sk::FLINK, cell)?;
        self.set_u32(head, sk::BLINK, cell)?;
        Ok(cell)
    }

    /// Points a key at the sk cell for `descriptor` (shared if one exists), keeping
    /// reference counts exact. The descriptor must be a valid self-relative one.
    pub fn set_key_security(&mut self, key: u32, descriptor: &[u8]) -> Result<()> {
        ntsec::SecurityDescriptor::from_bytes(descriptor)
            .map_err(|source| Error::Security { offset: 0, source })?;
        let current = self.key_at(key)?.security_offset();
        if Sk::at(self, current)?.descriptor() == descriptor {
            return Ok(());
        }
        let target = self.find_or_create_sk(descriptor)?;
        let count = Sk::at(self, target)?.reference_count();
        let count = count
            .checked_add(1)
            .ok_or_else(|| Error::corrupt(target, "sk reference count would overflow"))?;
        self.set_u32(target, sk::REFCOUNT, count)?;
        self.set_u32(key, nk::SECURITY, target)?;
        self.release_sk(current)
    }

    /// Rewrites every security descriptor through `rewrite` (which returns `None` to
    /// leave one as it is), then merges cells that became identical. This is the
    /// migration's hot path: each sk cell is visited once, keys are touched only when a
    /// cell had to move or merge.
    pub fn rewrite_descriptors<F>(&mut self, mut rewrite: F) -> Result<RewriteReport>
    where
        F: FnMut(&[u8]) -> Result<Option<Vec<u8>>>,
    {
        let mut report = RewriteReport::default();
        let mut changes = Vec::new();
        for s in self.security_cells()? {
            let old = s.descriptor();
            if let Some(new) = rewrite(old).map_err(|e| match e {
                Error::Security { source, .. } => Error::Security {
                    offset: u64::from(s.offset()) + 4096 + 4 + sk::SD as u64,
                    source,
                },
                other => other,
            })? && new != old
            {
                report.keys_affected += u64::from(s.reference_count());
                changes.push((s.offset(), new));
            }
        }
        report.cells_changed = changes.len();
        // Where each changed cell went (moves), then which cells merge into which.
        let mut repoint: HashMap<u32, u32> = HashMap::new();
        for (cell, new) in changes {
            let moved = self.replace_descriptor(cell, &new)?;
            if moved != cell {
                report.cells_moved += 1;
                repoint.insert(cell, moved);
            }
        }
        let mut by_content: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut merges = Vec::new();
        for s in self.security_cells()? {
            match by_content.get(s.descriptor()) {
                Some(&keep) => merges.push((s.offset(), keep, s.reference_count())),
                None => {
                    by_content.insert(s.descriptor().to_vec(), s.offset());
                }
            }
        }
        for &(_, keep, refs) in &merges {
            let count = Sk::at(self, keep)?.reference_count();
            let count = count
                .checked_add(refs)
                .ok_or_else(|| Error::corrupt(keep, "sk reference count would overflow"))?;
            self.set_u32(keep, sk::REFCOUNT, count)?;
        }
        report.cells_merged = merges.len();
        for &(gone, keep, _) in &merges {
            for target in repoint.values_mut() {
                if *target == gone {
                    *target = keep;
                }
            }
            repoint.insert(gone, keep);
        }
        if !repoint.is_empty() {
            for key in self.all_key_offsets()? {
                let current = self.key_at(key)?.security_offset();
                if let Some(&to) = repoint.get(&current) {
                    self.set_u32(key, nk::SECURITY, to)?;
                }
            }
        }
        for (gone, _, _) in merges {
            self.unlink_sk(gone)?;
        }
        Ok(report)
    }

    /// Puts a new descriptor into an sk cell: in place when it fits, else in a new cell
    /// spliced into the list where the old one was. Returns the cell now holding it;
    /// keys still point at the old offset until the caller repoints them.
    fn replace_descriptor(&mut self, cell: u32, descriptor: &[u8]) -> Result<u32> {
        let s = Sk::at(self, cell)?;
        let (flink, blink, refs) = (s.flink(), s.blink(), s.reference_count());
        let len = u32::try_from(descriptor.len()).map_err(|_| Error::TooLarge)?;
        let mut bytes = Vec::with_capacity(sk::SD + descriptor.len());
        bytes.extend_from_slice(&self.cell(cell)?[..4]);
        bytes.extend_from_slice(&flink.to_le_bytes());
        bytes.extend_from_slice(&blink.to_le_bytes());
        bytes.extend_from_slice(&refs.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(descriptor);
        if bytes.len() <= self.cell_capacity(cell)? {
            let data = self.cell_mut(cell)?;
            data[..bytes.len()].copy_from_slice(&bytes);
            data[bytes.len()..].fill(0);
            return Ok(cell);
        }
        let new = self.alloc_with(&bytes)?;
        if flink == cell {
            // The only cell: it links to itself.
            self.set_u32(new, sk::FLINK, new)?;
            self.set_u32(new, sk::BLINK, new)?;
        } else {
            self.set_u32(blink, sk::FLINK, new)?;
            self.set_u32(flink, sk::BLINK, new)?;
        }
        self.free_cell(cell)?;
        Ok(new)
    }

    /// Rewrites SIDs in every security descriptor of the hive (owner, group, SACL and
    /// DACL ACEs), for SIDs of equal or different lengths, merging cells that become
    /// identical.
    pub fn translate_sids(
        &mut self,
        map: &ntsec::SidMap,
        mode: ntsec::Mode,
    ) -> Result<RewriteReport> {
        self.rewrite_descriptors(|sd| {
            ntsec::translate_bytes(sd, map, mode)
                .map_err(|source| Error::Security { offset: 0, source })
        })
    }
}
