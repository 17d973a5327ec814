//! Test-only scanner for the security descriptors in `sk` cells of registry hives.
//!
//! The fixtures are read in place from the shared folder (never copied into the repo).
//! Layout, as far as this scanner needs it: hive bins start at file offset 4096; each bin
//! has a 32-byte header (`hbin`, u32 offset, u32 size) followed by cells; a cell is an
//! i32 size (negative = allocated) and its data; an `sk` cell's data is `sk`, u16
//! reserved, u32 flink, u32 blink, u32 reference count, u32 descriptor length, then the
//! descriptor.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

const FIRST_BIN: usize = 4096;
const BIN_HEADER_LEN: usize = 32;
const SK_HEADER_LEN: usize = 20;

/// One descriptor found in a hive.
pub struct SkDescriptor {
    pub file: PathBuf,
    pub cell_offset: usize,
    pub bytes: Vec<u8>,
}

impl fmt::Display for SkDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sk cell at 0x{:x}",
            self.file.display(),
            self.cell_offset
        )
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Every sk descriptor of every hive under the fixtures folder, or `None` (with the
/// reason printed) when the folder is missing.
pub fn fixture_descriptors() -> Option<Vec<SkDescriptor>> {
    let dir = fixtures_dir();
    if !dir.is_dir() {
        println!("skipping: fixture folder {} is missing", dir.display());
        return None;
    }
    let mut files = Vec::new();
    collect_files(&dir, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let data = fs::read(&file).unwrap();
        if data.starts_with(b"regf") {
            scan_hive(&file, &data, &mut found);
        }
    }
    Some(found)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn u32_at(data: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

fn scan_hive(file: &Path, data: &[u8], found: &mut Vec<SkDescriptor>) {
    let mut bin = FIRST_BIN;
    while data.get(bin..bin + 4) == Some(b"hbin") {
        let Some(bin_size) = u32_at(data, bin + 8).map(|size| size as usize) else {
            return;
        };
        if bin_size < BIN_HEADER_LEN {
            return;
        }
        let bin_end = (bin + bin_size).min(data.len());
        let mut cell = bin + BIN_HEADER_LEN;
        while cell + 4 <= bin_end {
            let Some(raw_size) = u32_at(data, cell) else {
                break;
            };
            let size = raw_size as i32;
            if size == 0 {
                break;
            }
            if size < 0 && data.get(cell + 4..cell + 6) == Some(b"sk") {
                let length = u32_at(data, cell + 4 + 16).unwrap_or(0) as usize;
                let start = cell + 4 + SK_HEADER_LEN;
                if let Some(bytes) = data.get(start..start + length) {
                    found.push(SkDescriptor {
                        file: file.to_path_buf(),
                        cell_offset: cell,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            cell += size.unsigned_abs() as usize;
        }
        bin += bin_size;
    }
}
