//! `admu hive …`: look into and fix up registry hive files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use hive::export::{ExportOptions, Format, RegEncoding};
use hive::{Hive, OpenOptions};
use serde::Serialize;

use crate::cmd::{ModeArg, print_json};
use crate::exit::{CommandError, Exit};

/// Registry hive files: inspect, export, list and translate SIDs, validate.
#[derive(Debug, Args)]
pub struct HiveArgs {
    #[command(subcommand)]
    command: HiveCommand,
}

#[derive(Debug, Subcommand)]
enum HiveCommand {
    /// Version, sequence numbers, dirty or clean, logs, counts of keys, values and sk cells.
    Info(InfoArgs),
    /// The key tree as regedit's .reg text or as JSON.
    Export(ExportArgs),
    /// Every SID in the hive's security descriptors, with how many keys use it.
    Sids(SidsArgs),
    /// Rewrite SIDs in every security descriptor (owner, group, SACL, DACL).
    Translate(TranslateArgs),
    /// Full structural validation; exits 3 when the hive is broken.
    Check(CheckArgs),
}

/// The hive file and how to read it.
#[derive(Debug, Args)]
struct HiveFile {
    /// The hive file (NTUSER.DAT, UsrClass.dat, SOFTWARE, SAM, SYSTEM, …). Its .LOG1/.LOG2
    /// (any letter case) are found and replayed in memory when it is dirty.
    file: PathBuf,
    /// Read the primary file alone, ignoring transaction logs even if it is dirty.
    #[arg(long)]
    no_logs: bool,
}

impl HiveFile {
    fn open(&self) -> anyhow::Result<Hive> {
        Hive::open_with(
            &self.file,
            OpenOptions {
                use_logs: !self.no_logs,
            },
        )
        .with_context(|| format!("cannot read hive {}", self.file.display()))
    }
}

#[derive(Debug, Args)]
struct InfoArgs {
    #[command(flatten)]
    hive: HiveFile,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Reg,
    Json,
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[command(flatten)]
    hive: HiveFile,
    /// Export only this key and its subtree (backslash-separated, case-insensitive).
    #[arg(long, value_name = "PATH")]
    key: Option<String>,
    #[arg(long, value_enum, default_value = "reg")]
    format: ExportFormat,
    /// The registry path the hive's root stands for in .reg key lines
    /// [default: HKEY_LOCAL_MACHINE\<file name>].
    #[arg(long)]
    prefix: Option<String>,
    /// Write to this file instead of stdout; a .reg file is written as regedit writes
    /// it (UTF-16LE with BOM, CRLF), ready for `reg import`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SidsArgs {
    #[command(flatten)]
    hive: HiveFile,
}

#[derive(Debug, Args)]
struct TranslateArgs {
    #[command(flatten)]
    hive: HiveFile,
    /// A SID mapping OLD=NEW; repeat for more.
    #[arg(long = "map", value_name = "OLD=NEW", required = true)]
    maps: Vec<String>,
    #[arg(long, value_enum, default_value = "replace")]
    mode: ModeArg,
    /// Write the result here instead of replacing FILE (FILE and its logs stay as they are).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Show what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    hive: HiveFile,
}

pub fn run(args: HiveArgs, json: bool) -> Result<Exit, CommandError> {
    match args.command {
        HiveCommand::Info(a) => info(a, json),
        HiveCommand::Export(a) => export(a),
        HiveCommand::Sids(a) => sids(a, json),
        HiveCommand::Translate(a) => translate(a, json),
        HiveCommand::Check(a) => check(a, json),
    }
}

#[derive(Serialize)]
struct Info {
    file: PathBuf,
    on_disk: hive::BaseInfo,
    dirty: bool,
    logs_found: Vec<PathBuf>,
    replay: Option<hive::log::ReplayReport>,
    keys: u64,
    values: u64,
    security_cells: u64,
    bins: u64,
    free_bytes: u64,
    root_name: String,
}

fn info(args: InfoArgs, json: bool) -> Result<Exit, CommandError> {
    let hive = args.hive.open()?;
    let report = hive.check();
    let on_disk = hive.on_disk().clone();
    let info = Info {
        file: args.hive.file.clone(),
        dirty: on_disk.dirty(),
        on_disk,
        logs_found: hive.logs_found().to_vec(),
        replay: hive.replay_report().cloned(),
        keys: report.keys,
        values: report.values,
        security_cells: report.security_cells,
        bins: report.bins,
        free_bytes: report.free_bytes,
        root_name: hive.root()?.name(),
    };
    if json {
        print_json(&info)?;
        return Ok(Exit::Ok);
    }
    let b = &info.on_disk;
    crate::outln!("file:          {}", info.file.display());
    crate::outln!(
        "format:        regf {}.{}",
        b.major_version,
        b.minor_version
    );
    crate::outln!(
        "sequence:      {} / {} ({})",
        b.primary_sequence,
        b.secondary_sequence,
        if info.dirty { "dirty" } else { "clean" }
    );
    crate::outln!(
        "checksum:      {}",
        if b.checksum_valid { "valid" } else { "WRONG" }
    );
    crate::outln!(
        "last written:  {}",
        hive::export::filetime_to_rfc3339(b.last_written)
    );
    crate::outln!("embedded name: {}", b.embedded_name);
    crate::outln!(
        "root key:      {} (cell {:#x})",
        info.root_name,
        b.root_offset
    );
    crate::outln!(
        "hive bins:     {} bytes in {} bins, {} bytes free",
        b.bins_size,
        info.bins,
        info.free_bytes
    );
    let names: Vec<String> = info.logs_found.iter().map(|p| file_name(p)).collect();
    crate::outln!(
        "logs found:    {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    match &info.replay {
        None if info.dirty => {
            crate::outln!("logs applied:  none (--no-logs: read the dirty primary as it is)")
        }
        None => crate::outln!("logs applied:  none needed (clean)"),
        Some(r) => {
            for a in &r.applied {
                crate::outln!(
                    "logs applied:  {} ({}): sequence {}..={}, {} entries",
                    file_name(&a.path),
                    a.format,
                    a.first_sequence,
                    a.last_sequence,
                    a.entries
                );
            }
            for s in &r.skipped {
                crate::outln!("logs skipped:  {}: {}", file_name(&s.path), s.reason);
            }
        }
    }
    crate::outln!("keys:          {}", info.keys);
    crate::outln!("values:        {}", info.values);
    crate::outln!("sk cells:      {}", info.security_cells);
    Ok(Exit::Ok)
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn export(args: ExportArgs) -> Result<Exit, CommandError> {
    let hive = args.hive.open()?;
    let (start, start_path) = match &args.key {
        Some(path) => {
            let key = hive.key(path)?.ok_or_else(|| {
                CommandError::new(
                    Exit::Failed,
                    anyhow::anyhow!("--key: no key {path:?} in {}", args.hive.file.display()),
                )
            })?;
            (key, path.trim_matches('\\').to_string())
        }
        None => (hive.root()?, String::new()),
    };
    let options = ExportOptions {
        format: match args.format {
            ExportFormat::Reg => Format::Reg,
            ExportFormat::Json => Format::Json,
        },
        prefix: args
            .prefix
            .clone()
            .unwrap_or_else(|| format!("HKEY_LOCAL_MACHINE\\{}", file_name(&args.hive.file))),
        encoding: if args.output.is_some() {
            RegEncoding::Utf16
        } else {
            RegEncoding::Utf8
        },
    };
    match &args.output {
        Some(path) => {
            let mut file = hive::write::AtomicFile::create(path)?;
            hive::export::export(&hive, start, &start_path, &options, &mut file)?;
            file.commit()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match hive::export::export(&hive, start, &start_path, &options, &mut lock) {
                // `admu hive export … | head` is fine: the reader had enough.
                Err(hive::Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            let _ = lock.flush();
        }
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct SidUse {
    sid: String,
    name: Option<&'static str>,
    kind: String,
    keys: u64,
    security_cells: u64,
}

fn sids(args: SidsArgs, json: bool) -> Result<Exit, CommandError> {
    let hive = args.hive.open()?;
    let mut uses: BTreeMap<String, SidUse> = BTreeMap::new();
    for sk in hive.security_cells()? {
        let sd = ntsec::SecurityDescriptor::from_bytes(sk.descriptor()).with_context(|| {
            format!(
                "{}: security descriptor in the sk cell at file offset {:#x}",
                args.hive.file.display(),
                u64::from(sk.offset()) + 4096
            )
        })?;
        let mut in_this: Vec<ntsec::Sid> = sd.sids().cloned().collect();
        in_this.sort_by_key(|s| s.to_string());
        in_this.dedup();
        for sid in in_this {
            let entry = uses.entry(sid.to_string()).or_insert_with(|| SidUse {
                sid: sid.to_string(),
                name: sid.well_known_name(),
                kind: format!("{:?}", sid.kind()),
                keys: 0,
                security_cells: 0,
            });
            entry.keys += u64::from(sk.reference_count());
            entry.security_cells += 1;
        }
    }
    let mut rows: Vec<SidUse> = uses.into_values().collect();
    rows.sort_by(|a, b| b.keys.cmp(&a.keys).then_with(|| a.sid.cmp(&b.sid)));
    if json {
        print_json(&rows)?;
    } else {
        crate::outln!("{:>8} {:>6}  SID", "KEYS", "CELLS");
        for r in rows {
            let name = r.name.map(|n| format!("  ({n})")).unwrap_or_default();
            crate::outln!("{:>8} {:>6}  {}{name}", r.keys, r.security_cells, r.sid);
        }
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct TranslateOutcome {
    file: PathBuf,
    written: Option<PathBuf>,
    dry_run: bool,
    map: Vec<(String, String)>,
    report: hive::RewriteReport,
}

fn translate(args: TranslateArgs, json: bool) -> Result<Exit, CommandError> {
    let map = ntsec::SidMap::from_pairs(args.maps.iter().map(String::as_str))
        .map_err(|e| CommandError::new(Exit::Usage, anyhow::anyhow!("--map: {e}")))?;
    let mode: ntsec::Mode = args.mode.into();
    let (report, written) = match translate_without_opening(&args, &map, mode)? {
        Some(done) => done,
        None => translate_whole(&args, &map, mode)?,
    };
    let outcome = TranslateOutcome {
        file: args.hive.file.clone(),
        written,
        dry_run: args.dry_run,
        map: map
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        report,
    };
    if json {
        print_json(&outcome)?;
    } else {
        let r = &outcome.report;
        let verb = if args.dry_run {
            "would change"
        } else {
            "changed"
        };
        crate::outln!(
            "{}: {verb} {} security cells used by {} keys ({} merged, {} moved)",
            outcome.file.display(),
            r.cells_changed,
            r.keys_affected,
            r.cells_merged,
            r.cells_moved
        );
        for (old, new) in &outcome.map {
            crate::outln!("  {old} -> {new}");
        }
        match &outcome.written {
            Some(p) => crate::outln!("written: {}", p.display()),
            None if args.dry_run => crate::outln!("dry run: nothing written"),
            None => crate::outln!("nothing to change: file left as it was"),
        }
    }
    Ok(Exit::Ok)
}

/// The fast path ([`hive::translate_file`]): reads only the cells it changes and
/// copies the rest of the file. `None` when the hive needs the whole-hive path.
fn translate_without_opening(
    args: &TranslateArgs,
    map: &ntsec::SidMap,
    mode: ntsec::Mode,
) -> Result<Option<(hive::RewriteReport, Option<PathBuf>)>, CommandError> {
    use hive::translate_file::{Outcome, TranslateFile, translate_file};
    let file = &args.hive.file;
    let mut how = TranslateFile::new(map, mode)
        .dry_run(args.dry_run)
        .use_logs(!args.hive.no_logs);
    #[cfg(target_os = "linux")]
    let ntfs = ntfs3g::NtfsXattr::detect(file).ok();
    #[cfg(target_os = "linux")]
    let keep = |tmp: &Path, target: &Path| match &ntfs {
        Some(ntfs) => ntfs.copy_metadata(target, tmp),
        None => Ok(()),
    };
    match &args.output {
        Some(out) => how = how.output(out),
        #[cfg(target_os = "linux")]
        None => {
            how = how.save_options(hive::SaveOptions {
                before_rename: Some(&keep),
                ..hive::SaveOptions::default()
            })
        }
        #[cfg(not(target_os = "linux"))]
        None => {}
    }
    match translate_file(file, &how)
        .with_context(|| format!("cannot translate {}", file.display()))?
    {
        Outcome::Done(done) => Ok(Some((done.report, done.saved.map(|s| s.path)))),
        Outcome::NeedsWholeHive(why) => {
            tracing::debug!("{}: {why}; reading the whole hive", file.display());
            Ok(None)
        }
    }
}

/// The whole-hive path: open (replaying logs), translate in memory, validate, save.
fn translate_whole(
    args: &TranslateArgs,
    map: &ntsec::SidMap,
    mode: ntsec::Mode,
) -> Result<(hive::RewriteReport, Option<PathBuf>), CommandError> {
    let mut hive = args.hive.open()?;
    let report = hive
        .translate_sids(map, mode)
        .with_context(|| format!("cannot translate {}", args.hive.file.display()))?;
    verify_translated(&hive, &report)?;
    let written = match &args.output {
        _ if args.dry_run => None,
        Some(out) => Some(hive.save_as(out)?.path),
        None if report.cells_changed > 0 => Some(save_in_place(&mut hive, &args.hive.file)?.path),
        None => None,
    };
    Ok((report, written))
}

fn check(args: CheckArgs, json: bool) -> Result<Exit, CommandError> {
    let hive = args.hive.open()?;
    let report = hive.check();
    if json {
        print_json(&report)?;
    } else {
        for f in &report.findings {
            let level = match f.severity {
                hive::Severity::Error => "error",
                hive::Severity::Warning => "warning",
            };
            crate::outln!("{level}: file offset {:#x}: {}", f.offset, f.message);
        }
        crate::outln!(
            "{}: {} keys, {} values, {} sk cells, {} bins: {} errors, {} warnings",
            args.hive.file.display(),
            report.keys,
            report.values,
            report.security_cells,
            report.bins,
            report.errors(),
            report.findings.len() - report.errors()
        );
    }
    Ok(if report.is_ok() {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

/// Validates a translated hive before it is written. In-place rewrites change nothing
/// but descriptor bytes inside existing sk cells, so the sk list and its descriptors are
/// what can be wrong; moved or merged cells touched allocation and key pointers too,
/// which only the full structural check covers.
fn verify_translated(hive: &Hive, report: &hive::RewriteReport) -> Result<(), CommandError> {
    let fail = |what: String| {
        CommandError::new(
            Exit::Failed,
            anyhow::anyhow!("the translated hive failed validation, nothing was written: {what}"),
        )
    };
    if report.cells_moved > 0 || report.cells_merged > 0 {
        let check = hive.check();
        if let Some(f) = check
            .findings
            .iter()
            .find(|f| f.severity == hive::Severity::Error)
        {
            return Err(fail(format!(
                "{} at file offset {:#x}",
                f.message, f.offset
            )));
        }
        return Ok(());
    }
    for sk in hive.security_cells().map_err(|e| fail(e.to_string()))? {
        ntsec::SecurityDescriptor::from_bytes(sk.descriptor()).map_err(|e| {
            fail(format!(
                "descriptor in the sk cell at file offset {:#x}: {e}",
                u64::from(sk.offset()) + 4096
            ))
        })?;
    }
    Ok(())
}

/// Saves a hive over its own file, keeping what the file system stores outside the
/// bytes: on an NTFS volume (ntfs-3g), the file's security descriptor and attributes.
fn save_in_place(hive: &mut Hive, file: &Path) -> Result<hive::SaveReport, CommandError> {
    #[cfg(target_os = "linux")]
    if let Ok(ntfs) = ntfs3g::NtfsXattr::detect(file) {
        let keep = |tmp: &Path, target: &Path| ntfs.copy_metadata(target, tmp);
        return Ok(hive.save_with(hive::SaveOptions {
            before_rename: Some(&keep),
            ..hive::SaveOptions::default()
        })?);
    }
    let _ = file;
    Ok(hive.save()?)
}
