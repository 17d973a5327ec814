//! Full structural validation, the checks Windows' loader makes (Project Zero, "The
//! Windows Registry Adventure #5") and the invariants our writer keeps. Findings carry
//! the file offset; errors mean Windows would reject or repair the hive, warnings mean
//! it is usable but not as Windows would have written it.

use std::collections::HashMap;

use crate::alloc::bin_cells;
use crate::base::{self, BASE_BLOCK_SIZE, read_u16, read_u32};
use crate::edit::Visited;
use crate::hive::{Hive, NULL};
use crate::key::{Key, MAX_DEPTH, flags};
use crate::names::{lf_hint, lf_hint_acceptable, lh_hash};
use crate::security::Sk;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem, at a file offset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// File offset (base block included).
    pub offset: u64,
    pub message: String,
}

/// The result of [`Hive::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    pub keys: u64,
    pub values: u64,
    pub security_cells: u64,
    pub bins: u64,
    pub allocated_cells: u64,
    pub free_bytes: u64,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when no finding is an error.
    pub fn is_ok(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
    /// Number of error findings.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// Findings are capped so a badly broken hive cannot flood memory or the terminal.
const MAX_FINDINGS: usize = 1000;

struct Checker<'h> {
    hive: &'h Hive,
    report: CheckReport,
    referenced: Visited,
    sk_users: HashMap<u32, u32>,
    /// Where the allocated cells start, per the bins' tiling, and the bins whose tiling
    /// is broken (their cells cannot be told apart).
    starts: Visited,
    untiled: Vec<crate::hive::Bin>,
}

impl Checker<'_> {
    fn finding(&mut self, severity: Severity, cell: u32, message: impl Into<String>) {
        if self.report.findings.len() < MAX_FINDINGS {
            self.report.findings.push(Finding {
                severity,
                offset: u64::from(cell) + BASE_BLOCK_SIZE as u64,
                message: message.into(),
            });
        }
    }
    fn error(&mut self, cell: u32, message: impl Into<String>) {
        self.finding(Severity::Error, cell, message);
    }
    fn warn(&mut self, cell: u32, message: impl Into<String>) {
        self.finding(Severity::Warning, cell, message);
    }

    /// Records that a cell is used by the key tree; a second use is an error.
    fn claim(&mut self, cell: u32, what: &str) -> bool {
        if cell == NULL {
            return false;
        }
        if let Err(e) = self.hive.cell(cell) {
            self.error(cell, format!("{what}: {e}"));
            return false;
        }
        // A reference into the middle of another cell reads like a cell of its own;
        // only the tiling tells (and an edit would overwrite one with the other).
        if !self.starts.contains(cell)
            && !self
                .hive
                .bin_of(cell)
                .is_some_and(|b| self.untiled.contains(&b))
        {
            self.error(
                cell,
                format!("{what}: not a cell of its bin (it lies inside another cell)"),
            );
            return false;
        }
        if !self.referenced.insert(cell) {
            self.error(cell, format!("{what}: cell is used twice"));
            return false;
        }
        true
    }

    fn check_base_block(&mut self) {
        let data = &self.hive.data;
        let stored = read_u32(data, base::CHECKSUM_OFFSET).unwrap_or(0);
        if base::checksum(&data[..base::CHECKSUM_OFFSET]) != stored {
            self.report.findings.push(Finding {
                severity: Severity::Error,
                offset: base::CHECKSUM_OFFSET as u64,
                message: "base block checksum is wrong".into(),
            });
        }
        let (p, s) = (
            read_u32(data, base::off::PRIMARY_SEQ).unwrap_or(0),
            read_u32(data, base::off::SECONDARY_SEQ).unwrap_or(1),
        );
        if p != s {
            self.report.findings.push(Finding {
                severity: Severity::Error,
                offset: base::off::PRIMARY_SEQ as u64,
                message: format!("sequence numbers differ ({p} / {s}): the hive is dirty"),
            });
        }
    }

    fn check_bins(&mut self) {
        for &bin in &self.hive.bins {
            self.report.bins += 1;
            match bin_cells(self.hive, bin) {
                Ok(cells) => {
                    for (pos, raw) in cells {
                        if raw < 0 {
                            self.starts.insert(pos);
                            self.report.allocated_cells += 1;
                        } else {
                            self.report.free_bytes += raw as u64;
                        }
                    }
                }
                Err(e) => {
                    self.untiled.push(bin);
                    self.error(bin.offset, format!("bin cells do not tile the bin: {e}"));
                }
            }
        }
    }

    fn check_key(
        &mut self,
        key: Key<'_>,
        parent: Option<u32>,
        depth: usize,
        stack: &mut Vec<(u32, Option<u32>, usize)>,
    ) {
        let off = key.offset();
        self.report.keys += 1;
        match parent {
            None => {
                if key.flags() & flags::HIVE_ENTRY == 0 {
                    self.error(off, "root key lacks the HIVE_ENTRY flag");
                }
            }
            Some(p) => {
                if key.parent_offset() != p {
                    self.error(
                        off,
                        format!(
                            "parent field {:#x} is not the parent {p:#x}",
                            key.parent_offset()
                        ),
                    );
                }
                if key.raw_name().bytes.is_empty() {
                    self.error(off, "key has an empty name");
                }
            }
        }
        if depth > MAX_DEPTH {
            self.error(off, "key tree deeper than 512 levels");
            return;
        }
        *self.sk_users.entry(key.security_offset()).or_insert(0) += 1;

        // Class name.
        if key.class_offset() != NULL
            && self.claim(key.class_offset(), "class name")
            && let Err(e) = key.class_bytes()
        {
            self.error(off, format!("class name: {e}"));
        }

        // Values.
        let values_list = key.value_list_offset();
        if key.value_count() > 0 && values_list == NULL {
            self.error(
                off,
                format!(
                    "key says it has {} values but has no value list",
                    key.value_count()
                ),
            );
        }
        if key.value_count() > 0 && self.claim(values_list, "value list") {
            match key.values() {
                Ok(values) => {
                    let mut largest_name = 0;
                    let mut largest_data = 0;
                    for v in values {
                        self.report.values += 1;
                        if !self.claim(v.offset(), "value") {
                            continue;
                        }
                        largest_name = largest_name.max(v.raw_name().utf16_len() as u32);
                        largest_data = largest_data.max(v.data_len());
                        if !v.is_inline() && v.data_len() > 0 {
                            self.claim_value_data(v.data_offset(), v.data_len());
                        }
                        if let Err(e) = v.data() {
                            self.error(v.offset(), format!("value {:?}: {e}", v.name()));
                        }
                    }
                    let [_, _, max_name, max_data] = key.largest();
                    if max_name < largest_name {
                        self.warn(
                            off,
                            format!("largest value name field {max_name} < actual {largest_name}"),
                        );
                    }
                    if max_data < largest_data {
                        self.warn(
                            off,
                            format!("largest value data field {max_data} < actual {largest_data}"),
                        );
                    }
                }
                Err(e) => self.error(off, format!("values: {e}")),
            }
        }

        // Subkeys: the list cells, order, hashes, then the children themselves.
        if key.subkey_count() == 0 {
            return;
        }
        let list = key.subkey_list_offset();
        if list == NULL {
            self.error(
                off,
                format!(
                    "key says it has {} subkeys but has no subkey list",
                    key.subkey_count()
                ),
            );
            return;
        }
        if !self.claim_subkey_list(list) {
            return;
        }
        let children = match key.subkey_offsets() {
            Ok(c) => c,
            Err(e) => {
                self.error(off, format!("subkeys: {e}"));
                return;
            }
        };
        self.check_list_hints(list);
        let mut previous: Option<Vec<u16>> = None;
        let mut largest = 0;
        for &child in &children {
            if !self.claim(child, "subkey") {
                continue;
            }
            match Key::at(self.hive, child) {
                Ok(k) => {
                    let name = k.raw_name().upcased();
                    largest = largest.max(k.raw_name().utf16_len() as u32);
                    if let Some(prev) = &previous
                        && *prev >= name
                    {
                        self.error(
                            child,
                            format!(
                                "subkey {:?} is out of order or duplicated in its parent's list",
                                k.name()
                            ),
                        );
                    }
                    previous = Some(name);
                    stack.push((child, Some(off), depth + 1));
                }
                Err(e) => self.error(child, format!("subkey: {e}")),
            }
        }
        let max_name = key.largest()[0] & 0xFFFF;
        if max_name < largest {
            self.warn(
                off,
                format!("largest subkey name field {max_name} < actual {largest}"),
            );
        }
    }

    fn claim_value_data(&mut self, data: u32, len: u32) {
        if !self.claim(data, "value data") {
            return;
        }
        let is_db = self.hive.minor_version() > 3
            && len as usize > crate::value::BIG_DATA_SEGMENT
            && self.hive.cell(data).is_ok_and(|c| c.starts_with(b"db"));
        if is_db && let Ok((list, segments)) = crate::value::big_data_cells(self.hive, data) {
            self.claim(list, "big-data segment list");
            for s in segments {
                self.claim(s, "big-data segment");
            }
        }
    }

    fn claim_subkey_list(&mut self, list: u32) -> bool {
        if !self.claim(list, "subkey list") {
            return false;
        }
        let cell = self.hive.cell(list).unwrap_or(&[]);
        if cell.starts_with(b"ri") {
            let count = usize::from(read_u16(cell, 2).unwrap_or(0));
            for i in 0..count {
                let leaf = read_u32(cell, 4 + 4 * i).unwrap_or(NULL);
                if !self.claim(leaf, "subkey list leaf") {
                    return false;
                }
            }
        }
        true
    }

    /// lf hints and lh hashes must match the names they index.
    fn check_list_hints(&mut self, list: u32) {
        let cell = self.hive.cell(list).unwrap_or(&[]);
        let leaves: Vec<u32> = if cell.starts_with(b"ri") {
            let count = usize::from(read_u16(cell, 2).unwrap_or(0));
            (0..count)
                .map(|i| read_u32(cell, 4 + 4 * i).unwrap_or(NULL))
                .collect()
        } else {
            vec![list]
        };
        for leaf in leaves {
            let Ok(cell) = self.hive.cell(leaf) else {
                continue;
            };
            let sig = [
                cell.first().copied().unwrap_or(0),
                cell.get(1).copied().unwrap_or(0),
            ];
            if &sig != b"lf" && &sig != b"lh" {
                continue;
            }
            let count = usize::from(read_u16(cell, 2).unwrap_or(0));
            for i in 0..count {
                let child = read_u32(cell, 4 + 8 * i).unwrap_or(NULL);
                let stored = read_u32(cell, 8 + 8 * i).unwrap_or(0);
                let Ok(k) = Key::at(self.hive, child) else {
                    continue;
                };
                let expected = if &sig == b"lh" {
                    lh_hash(&k.raw_name().upcased())
                } else {
                    u32::from_le_bytes(lf_hint(&k.raw_name()))
                };
                let fine = if &sig == b"lh" {
                    stored == expected
                } else {
                    lf_hint_acceptable(&k.raw_name(), stored.to_le_bytes())
                };
                if !fine {
                    self.error(
                        leaf,
                        format!(
                            "{} entry {i} for {:?} holds {stored:#x}, expected {expected:#x}",
                            String::from_utf8_lossy(&sig),
                            k.name()
                        ),
                    );
                }
            }
        }
    }

    fn check_security(&mut self) {
        let cells = match self.hive.security_cells() {
            Ok(c) => c,
            Err(e) => {
                self.error(self.hive.root_offset(), format!("security cell list: {e}"));
                return;
            }
        };
        self.report.security_cells = cells.len() as u64;
        let mut contents: HashMap<&[u8], u32> = HashMap::new();
        let mut previous = cells.last().map(Sk::offset).unwrap_or(NULL);
        for s in &cells {
            self.claim(s.offset(), "security cell");
            if s.blink() != previous {
                self.error(
                    s.offset(),
                    format!(
                        "sk back link {:#x} is not the previous cell {previous:#x}",
                        s.blink()
                    ),
                );
            }
            previous = s.offset();
            if let Err(e) = ntsec::SecurityDescriptor::from_bytes(s.descriptor()) {
                self.error(s.offset(), format!("security descriptor: {e}"));
            }
            let users = self.sk_users.remove(&s.offset()).unwrap_or(0);
            if users != s.reference_count() {
                self.error(
                    s.offset(),
                    format!(
                        "sk reference count {} but {users} keys use it",
                        s.reference_count()
                    ),
                );
            }
            if let Some(&first) = contents.get(s.descriptor()) {
                self.warn(
                    s.offset(),
                    format!(
                        "sk holds the same descriptor as the sk at file offset {:#x}",
                        u64::from(first) + 4096
                    ),
                );
            } else {
                contents.insert(s.descriptor(), s.offset());
            }
        }
        let orphans: Vec<(u32, u32)> = self.sk_users.drain().collect();
        for (sk, users) in orphans {
            self.error(
                sk,
                format!("{users} keys point to this cell, which is not in the sk list"),
            );
        }
    }

    /// Allocated cells nothing references: space Windows would reclaim.
    fn check_leaks(&mut self) {
        let mut leaked = 0u64;
        let mut first = None;
        for &bin in &self.hive.bins {
            let Ok(cells) = bin_cells(self.hive, bin) else {
                continue;
            };
            for (pos, raw) in cells {
                if raw < 0 && self.referenced.insert(pos) {
                    leaked += 1;
                    first.get_or_insert(pos);
                }
            }
        }
        if let Some(pos) = first {
            self.warn(
                pos,
                format!("{leaked} allocated cells are not referenced by the key tree (first here)"),
            );
        }
    }
}

impl Hive {
    /// Validates the whole hive. Never panics, whatever the bytes.
    pub fn check(&self) -> CheckReport {
        let mut c = Checker {
            hive: self,
            report: CheckReport::default(),
            referenced: Visited::new(self.bins_size()),
            sk_users: HashMap::new(),
            starts: Visited::new(self.bins_size()),
            untiled: Vec::new(),
        };
        c.check_base_block();
        c.check_bins();
        let root = self.root_offset();
        if c.claim(root, "root key") {
            let mut stack = vec![(root, None, 0usize)];
            while let Some((off, parent, depth)) = stack.pop() {
                match Key::at(self, off) {
                    Ok(k) => c.check_key(k, parent, depth, &mut stack),
                    Err(e) => c.error(off, format!("key: {e}")),
                }
            }
        }
        c.check_security();
        if c.report.is_ok() {
            c.check_leaks();
        }
        c.report
            .findings
            .sort_by_key(|f| (std::cmp::Reverse(f.severity), f.offset));
        c.report
    }
}
