//! Transaction-log replay: brings a dirty primary hive up to date from its logs the way
//! Windows does at load time (formats.md §1.7–1.8), so that edits start from the data
//! Windows would see rather than from a half-flushed primary.
//!
//! New-format logs (`HvLE` entries, Windows 8.1+) and old-format logs (`DIRT` bitmap,
//! XP–8.0) are both handled. All validation happens before the hive is touched: on error
//! the hive buffer is unchanged.

mod dirt;
mod entries;
mod marvin;

pub use marvin::{LOG_ENTRY_SEED, marvin32};

use crate::base::{
    BASE_BLOCK_SIZE, CHECKSUM_OFFSET, checksum, file_type, fix_checksum, off, read_u32, read_u64,
    write_u32,
};
use entries::Entry;
use std::fmt;
use std::path::PathBuf;

/// Logs keep only the first sector of the base block (clustering factor 1).
pub(crate) const LOG_BASE_BLOCK_SIZE: usize = 512;
/// Log entries, old-format pages and the dirty bitmap's granularity.
pub(crate) const PAGE_ALIGNMENT: usize = 512;
/// Hive bins beyond 2 GiB are treated as corruption, never allocated.
pub(crate) const MAX_BINS_SIZE: u64 = 0x8000_0000;
/// Base-block flag 0x1 (KTM locked); the only flag log entries carry.
const FLAG_KTM_LOCKED: u32 = 0x1;
/// The first hive bin keeps a copy of the base block's timestamp at bin offset 20.
const FIRST_BIN_TIMESTAMP: usize = BASE_BLOCK_SIZE + 20;

/// A transaction log's bytes; the path only appears in reports and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
}

impl LogFile {
    pub fn new(path: impl Into<PathBuf>, data: Vec<u8>) -> Self {
        Self {
            path: path.into(),
            data,
        }
    }
}

/// The two on-disk log layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LogFormat {
    /// `DIRT` bitmap + 512-byte pages (file type 1 or 2; Windows XP–8.0).
    Old,
    /// `HvLE` entries with Marvin32 hashes (file type 6; Windows 8.1+).
    New,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Old => "old-format (DIRT)",
            LogFormat::New => "new-format (HvLE)",
        })
    }
}

/// Where and why the entry scan of an applied log ended before the end of the file.
/// Usually harmless: stale entries from earlier writes follow the current ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryStop {
    pub offset: usize,
    pub reason: String,
}

/// A log whose changes went into the hive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedLog {
    pub path: PathBuf,
    pub format: LogFormat,
    pub first_sequence: u32,
    pub last_sequence: u32,
    /// `HvLE` entries applied; 1 for an old-format log (one bitmap).
    pub entries: usize,
    /// Pages copied into the hive.
    pub pages: usize,
    pub stop: Option<EntryStop>,
}

/// A log that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedLog {
    pub path: PathBuf,
    pub reason: String,
}

/// What `replay` found and did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    pub was_dirty: bool,
    pub applied: Vec<AppliedLog>,
    pub skipped: Vec<SkippedLog>,
    /// Sequence numbers as found in the primary before replay.
    pub primary_sequence: u32,
    pub secondary_sequence: u32,
    /// The primary's base block was invalid and was rebuilt from a log's copy.
    pub base_block_from_log: bool,
}

impl ReplayReport {
    /// The sequence number now in both base-block fields, if anything was applied.
    pub fn final_sequence(&self) -> Option<u32> {
        self.applied.last().map(|log| log.last_sequence)
    }

    fn skip(&mut self, log: &LogFile, reason: impl Into<String>) {
        self.skipped.push(SkippedLog {
            path: log.path.clone(),
            reason: reason.into(),
        });
    }
}

/// Why replay failed. Corruption errors name the log and the byte offset in it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A hash-valid `HvLE` entry whose contents are impossible (pages outside the hive,
    /// absurd bins size): Windows wrote it, so it cannot simply be ignored.
    #[error("{}: offset {offset}: corrupt log entry: {reason}", path.display())]
    CorruptEntry {
        path: PathBuf,
        offset: usize,
        reason: String,
    },
    /// An old-format log that matches the primary but whose bitmap or pages are damaged.
    #[error("{}: offset {offset}: corrupt old-format log: {reason}", path.display())]
    CorruptOldLog {
        path: PathBuf,
        offset: usize,
        reason: String,
    },
    /// Reading the primary alone would silently lose or mix up recent changes.
    #[error(
        "hive is dirty ({why_dirty}) and no transaction log can be applied: {}",
        describe_skipped(skipped)
    )]
    DirtyWithoutUsableLog {
        why_dirty: String,
        skipped: Vec<SkippedLog>,
    },
}

fn describe_skipped(skipped: &[SkippedLog]) -> String {
    if skipped.is_empty() {
        return "no log files were given".into();
    }
    skipped
        .iter()
        .map(|log| format!("{}: {}", log.path.display(), log.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Replays `logs` into `hive` (the whole primary file) if the primary is dirty.
///
/// A clean primary (valid checksum, equal sequence numbers) is left alone. Otherwise the
/// applicable logs are replayed per Windows' rules, the buffer grows as entries require,
/// and the base block ends clean: both sequence numbers = last applied sequence, bins
/// size and flag 0x1 from the last entry, file type primary, checksum fixed. A dirty hive
/// that no log can bring up to date is an error; the caller decides whether to read the
/// primary alone.
pub fn replay(hive: &mut Vec<u8>, logs: &[LogFile]) -> Result<ReplayReport, LogError> {
    let primary = Primary::read(hive);
    let mut report = ReplayReport {
        was_dirty: false,
        applied: Vec::new(),
        skipped: Vec::new(),
        primary_sequence: primary.primary_sequence,
        secondary_sequence: primary.secondary_sequence,
        base_block_from_log: false,
    };
    let Some(why_dirty) = primary.why_dirty() else {
        for log in logs {
            let reason = if log.data.is_empty() {
                "empty"
            } else {
                "hive is clean"
            };
            report.skip(log, reason);
        }
        return Ok(report);
    };
    report.was_dirty = true;

    let mut new_logs = Vec::new();
    let mut old_logs = Vec::new();
    for log in logs {
        if log.data.is_empty() {
            report.skip(log, "empty");
            continue;
        }
        match LogHeader::read(&log.data) {
            Ok(header) if header.format == LogFormat::New => new_logs.push((log, header)),
            Ok(header) => old_logs.push((log, header)),
            Err(reason) => report.skip(log, reason),
        }
    }
    // Growth is bounded by what the hive and the logs hold: nothing else can fill it.
    let bins_size_limit = (hive.len() as u64).saturating_sub(BASE_BLOCK_SIZE as u64)
        + logs.iter().map(|log| log.data.len() as u64).sum::<u64>();

    let mut plan = if primary.base_block_valid {
        plan_new_chain(
            &mut report,
            new_logs,
            primary.secondary_sequence,
            bins_size_limit,
        )?
    } else {
        plan_new_latest(&mut report, new_logs, bins_size_limit)?
    };
    if plan.is_empty() {
        plan = plan_old(&mut report, old_logs, &primary, bins_size_limit)?;
    } else {
        for (log, _) in old_logs {
            report.skip(log, "a new-format log was applied instead");
        }
    }
    if plan.is_empty() {
        return Err(LogError::DirtyWithoutUsableLog {
            why_dirty,
            skipped: report.skipped,
        });
    }

    let base_block_source = if primary.base_block_valid {
        None
    } else {
        plan.first().map(|step| step.log)
    };
    for step in &plan {
        for entry in &step.entries {
            apply_entry(hive, &step.log.data, entry);
        }
        report.applied.push(step.summary());
    }
    if let Some(last_entry) = plan.last().and_then(|step| step.entries.last()) {
        finish_base_block(hive, base_block_source, last_entry);
    }
    report.base_block_from_log = base_block_source.is_some();
    Ok(report)
}

/// What the primary's base block says about its own state.
struct Primary {
    signature_ok: bool,
    checksum_ok: bool,
    base_block_valid: bool,
    primary_sequence: u32,
    secondary_sequence: u32,
    /// Base-block timestamp, or the first bin's copy when the base block is invalid.
    timestamp: Option<u64>,
}

impl Primary {
    fn read(hive: &[u8]) -> Self {
        let signature_ok = hive.get(..4) == Some(b"regf".as_slice());
        let checksum_ok = hive.len() >= BASE_BLOCK_SIZE
            && read_u32(hive, CHECKSUM_OFFSET) == Some(checksum(hive));
        let base_block_valid = signature_ok && checksum_ok;
        let timestamp = if base_block_valid {
            read_u64(hive, off::TIMESTAMP)
        } else if hive.get(BASE_BLOCK_SIZE..BASE_BLOCK_SIZE + 4) == Some(b"hbin".as_slice()) {
            read_u64(hive, FIRST_BIN_TIMESTAMP)
        } else {
            None
        };
        Self {
            signature_ok,
            checksum_ok,
            base_block_valid,
            primary_sequence: read_u32(hive, off::PRIMARY_SEQ).unwrap_or(0),
            secondary_sequence: read_u32(hive, off::SECONDARY_SEQ).unwrap_or(0),
            timestamp,
        }
    }

    fn why_dirty(&self) -> Option<String> {
        if !self.signature_ok {
            Some("primary base block has no regf signature".into())
        } else if !self.checksum_ok {
            Some("primary base block checksum is wrong or truncated".into())
        } else if self.primary_sequence != self.secondary_sequence {
            Some(format!(
                "sequence numbers differ: primary {}, secondary {}",
                self.primary_sequence, self.secondary_sequence
            ))
        } else {
            None
        }
    }
}

/// The fields of a log's base-block copy that replay needs.
#[derive(Debug, Clone, Copy)]
struct LogHeader {
    format: LogFormat,
    sequence: u32,
    timestamp: u64,
    bins_size: u32,
    flags: u32,
}

impl LogHeader {
    /// Checks the log's base block the way Windows does before trusting the log at all.
    fn read(log: &[u8]) -> Result<Self, String> {
        if log.len() < LOG_BASE_BLOCK_SIZE {
            return Err(format!(
                "{} bytes, too short for a log base block (512)",
                log.len()
            ));
        }
        if log.get(..4) != Some(b"regf".as_slice()) {
            return Err("no regf signature at offset 0".into());
        }
        let field = |at: usize| read_u32(log, at).unwrap_or(0);
        if field(CHECKSUM_OFFSET) != checksum(log) {
            return Err("log base block checksum is wrong (offset 508)".into());
        }
        let (sequence, secondary) = (field(off::PRIMARY_SEQ), field(off::SECONDARY_SEQ));
        if sequence != secondary {
            return Err(format!(
                "log base block was never completed (sequence numbers {sequence}/{secondary})"
            ));
        }
        let format = match field(off::FILE_TYPE) {
            file_type::NEW_LOG => LogFormat::New,
            file_type::OLD_LOG | file_type::OLD_LOG_NT => LogFormat::Old,
            other => return Err(format!("file type {other} (offset 28) is not a log")),
        };
        let clustering = field(off::CLUSTERING);
        if clustering != 1 {
            return Err(format!(
                "clustering factor {clustering} (offset 44) is not supported"
            ));
        }
        Ok(Self {
            format,
            sequence,
            timestamp: read_u64(log, off::TIMESTAMP).unwrap_or(0),
            bins_size: field(off::BINS_SIZE),
            flags: field(off::FLAGS),
        })
    }
}

/// One log's verified contents, applied in order after all validation passed.
struct PlanStep<'a> {
    log: &'a LogFile,
    format: LogFormat,
    entries: Vec<Entry>,
    stop: Option<EntryStop>,
}

impl PlanStep<'_> {
    fn summary(&self) -> AppliedLog {
        let sequence = |entry: Option<&Entry>| entry.map_or(0, |e| e.sequence);
        AppliedLog {
            path: self.log.path.clone(),
            format: self.format,
            first_sequence: sequence(self.entries.first()),
            last_sequence: sequence(self.entries.last()),
            entries: self.entries.len(),
            pages: self.entries.iter().map(|e| e.pages.len()).sum(),
            stop: self.stop.clone(),
        }
    }
}

/// `a` is at or after `b` in wrap-around sequence order.
fn sequence_at_or_after(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < 0x8000_0000
}

/// Valid primary base block: start with the earliest log not older than the primary's
/// secondary sequence, then follow any log that continues exactly where the last stopped.
fn plan_new_chain<'a>(
    report: &mut ReplayReport,
    logs: Vec<(&'a LogFile, LogHeader)>,
    secondary_sequence: u32,
    bins_size_limit: u64,
) -> Result<Vec<PlanStep<'a>>, LogError> {
    let mut pending = Vec::new();
    for (log, header) in logs {
        if sequence_at_or_after(header.sequence, secondary_sequence) {
            pending.push((log, header));
        } else {
            report.skip(log, stale_reason(header.sequence, secondary_sequence));
        }
    }
    pending.sort_by_key(|(_, header)| header.sequence.wrapping_sub(secondary_sequence));

    let mut plan = Vec::new();
    let mut expected: Option<u32> = None;
    loop {
        let next = match expected {
            None if pending.is_empty() => None,
            None => Some(0),
            Some(sequence) => pending.iter().position(|(_, h)| h.sequence == sequence),
        };
        let Some(index) = next else { break };
        let (log, header) = pending.remove(index);
        let scan = entries::scan(&log.path, &log.data, header.sequence, bins_size_limit)?;
        match scan.entries.last() {
            Some(last) => {
                expected = Some(last.sequence.wrapping_add(1));
                plan.push(PlanStep {
                    log,
                    format: LogFormat::New,
                    entries: scan.entries,
                    stop: scan.stop,
                });
            }
            None => {
                // Nothing applied: a later log cannot continue from here.
                expected = Some(header.sequence);
                report.skip(log, no_valid_entry(scan.stop));
            }
        }
    }
    for (log, header) in pending {
        let reason = match expected {
            Some(sequence) => format!(
                "starts at sequence {}, does not continue the replay (next would be {sequence})",
                header.sequence
            ),
            None => "not reached".into(),
        };
        report.skip(log, reason);
    }
    Ok(plan)
}

/// Invalid primary base block: its sequence numbers mean nothing, so (like Windows) only
/// the log with the latest entries is used, and its base-block copy replaces the primary's.
fn plan_new_latest<'a>(
    report: &mut ReplayReport,
    logs: Vec<(&'a LogFile, LogHeader)>,
    bins_size_limit: u64,
) -> Result<Vec<PlanStep<'a>>, LogError> {
    let latest = logs.iter().enumerate().fold(
        None::<(usize, u32)>,
        |best, (index, (_, header))| match best {
            Some((_, best_sequence)) if !sequence_at_or_after(header.sequence, best_sequence) => {
                best
            }
            Some((_, best_sequence)) if header.sequence == best_sequence => best,
            _ => Some((index, header.sequence)),
        },
    );
    let mut plan = Vec::new();
    for (index, (log, header)) in logs.into_iter().enumerate() {
        if Some(index) != latest.map(|(i, _)| i) {
            report.skip(
                log,
                "primary base block is invalid: only the log with the latest entries is used",
            );
            continue;
        }
        let scan = entries::scan(&log.path, &log.data, header.sequence, bins_size_limit)?;
        if scan.entries.is_empty() {
            report.skip(log, no_valid_entry(scan.stop));
        } else {
            plan.push(PlanStep {
                log,
                format: LogFormat::New,
                entries: scan.entries,
                stop: scan.stop,
            });
        }
    }
    Ok(plan)
}

fn stale_reason(log_sequence: u32, secondary_sequence: u32) -> String {
    format!(
        "stale: starts at sequence {log_sequence}, before the primary's secondary sequence \
         {secondary_sequence}"
    )
}

fn no_valid_entry(stop: Option<EntryStop>) -> String {
    match stop {
        Some(stop) => format!("no valid entry (offset {}: {})", stop.offset, stop.reason),
        None => "no entries".into(),
    }
}

/// Old format: the first log whose timestamp matches the primary's is the one Windows
/// wrote for this state of the primary; it is applied whole.
fn plan_old<'a>(
    report: &mut ReplayReport,
    logs: Vec<(&'a LogFile, LogHeader)>,
    primary: &Primary,
    bins_size_limit: u64,
) -> Result<Vec<PlanStep<'a>>, LogError> {
    let mut plan = Vec::new();
    for (log, header) in logs {
        if !plan.is_empty() {
            report.skip(log, "another old-format log was applied");
            continue;
        }
        let Some(primary_timestamp) = primary.timestamp else {
            report.skip(
                log,
                "primary has no readable timestamp to match an old-format log against",
            );
            continue;
        };
        if primary.base_block_valid
            && !sequence_at_or_after(header.sequence, primary.secondary_sequence)
        {
            // Guards against a leftover pre-upgrade .LOG: Windows 8.1+ stopped updating
            // the primary's timestamp, so an old log can still match it.
            report.skip(
                log,
                stale_reason(header.sequence, primary.secondary_sequence),
            );
            continue;
        }
        if header.timestamp != primary_timestamp {
            report.skip(
                log,
                format!(
                    "timestamp {} (offset 12) differs from the primary's {primary_timestamp}",
                    header.timestamp
                ),
            );
            continue;
        }
        let pages = dirt::dirty_pages(&log.path, &log.data, header.bins_size, bins_size_limit)?;
        plan.push(PlanStep {
            log,
            format: LogFormat::Old,
            entries: vec![Entry {
                sequence: header.sequence,
                flags: header.flags,
                bins_size: header.bins_size,
                pages,
            }],
            stop: None,
        });
    }
    Ok(plan)
}

/// Copies an entry's pages (already bounds-checked against its bins size) into the hive.
fn apply_entry(hive: &mut Vec<u8>, log: &[u8], entry: &Entry) {
    let needed = BASE_BLOCK_SIZE + entry.bins_size as usize;
    if hive.len() < needed {
        hive.resize(needed, 0);
    }
    for page in &entry.pages {
        let target = BASE_BLOCK_SIZE + page.target;
        let source = log.get(page.source..page.source + page.len);
        let target = hive.get_mut(target..target + page.len);
        if let (Some(source), Some(target)) = (source, target) {
            target.copy_from_slice(source);
        }
    }
}

/// Leaves a clean base block describing the replayed state.
fn finish_base_block(hive: &mut Vec<u8>, base_block_source: Option<&LogFile>, last: &Entry) {
    if hive.len() < BASE_BLOCK_SIZE {
        hive.resize(BASE_BLOCK_SIZE, 0);
    }
    if let Some(log) = base_block_source {
        hive[LOG_BASE_BLOCK_SIZE..BASE_BLOCK_SIZE].fill(0);
        if let Some(copy) = log.data.get(..LOG_BASE_BLOCK_SIZE) {
            hive[..LOG_BASE_BLOCK_SIZE].copy_from_slice(copy);
        }
    }
    let flags = read_u32(hive, off::FLAGS).unwrap_or(0);
    write_u32(hive, off::PRIMARY_SEQ, last.sequence);
    write_u32(hive, off::SECONDARY_SEQ, last.sequence);
    write_u32(hive, off::FILE_TYPE, file_type::PRIMARY);
    write_u32(hive, off::BINS_SIZE, last.bins_size);
    write_u32(
        hive,
        off::FLAGS,
        (flags & !FLAG_KTM_LOCKED) | (last.flags & FLAG_KTM_LOCKED),
    );
    fix_checksum(hive);
}

#[cfg(test)]
mod tests;
