//! `admu acl …`: security descriptors of files and folders on a mounted NTFS volume.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use ntfs3g::NtfsXattr;
use ntsec::{FileSecurity, SecurityDescriptor, SidMap, TreeOptions, translate_tree};
use serde::Serialize;

use crate::cmd::{ModeArg, print_json};
use crate::exit::{CommandError, Exit};

/// File and folder security descriptors (NTFS via ntfs-3g or ntfs3).
#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(subcommand)]
    command: AclCommand,
}

#[derive(Debug, Subcommand)]
enum AclCommand {
    /// The SDDL of one file or folder.
    Show(ShowArgs),
    /// Rewrite SIDs in the descriptors of a folder and everything below it.
    Translate(TranslateArgs),
}

#[derive(Debug, Args)]
struct ShowArgs {
    path: PathBuf,
}

#[derive(Debug, Args)]
struct TranslateArgs {
    /// The folder (or file) to start from; links and junctions are not followed.
    dir: PathBuf,
    /// A SID mapping OLD=NEW; repeat for more.
    #[arg(long = "map", value_name = "OLD=NEW", required = true)]
    maps: Vec<String>,
    #[arg(long, value_enum, default_value = "replace")]
    mode: ModeArg,
    /// Read and count; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Worker threads besides the walker (0: all on one thread; ntfs-3g serves one
    /// request at a time, so more rarely help there).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn run(args: AclArgs, json: bool) -> Result<Exit, CommandError> {
    match args.command {
        AclCommand::Show(a) => show(a, json),
        AclCommand::Translate(a) => translate(a, json),
    }
}

#[derive(Serialize)]
struct Shown {
    path: PathBuf,
    sddl: String,
    owner: Option<String>,
    group: Option<String>,
    bytes: usize,
}

fn show(args: ShowArgs, json: bool) -> Result<Exit, CommandError> {
    let backend = NtfsXattr::detect(&args.path)?;
    let mut buf = Vec::new();
    backend.read(&args.path, &mut buf).with_context(|| {
        format!(
            "cannot read the security descriptor of {}",
            args.path.display()
        )
    })?;
    let sd = SecurityDescriptor::from_bytes(&buf)
        .with_context(|| format!("{}: invalid security descriptor", args.path.display()))?;
    let shown = Shown {
        path: args.path.clone(),
        sddl: sd.to_sddl(),
        owner: sd.owner.as_ref().map(ToString::to_string),
        group: sd.group.as_ref().map(ToString::to_string),
        bytes: buf.len(),
    };
    if json {
        print_json(&shown)?;
    } else {
        crate::outln!("{}", shown.sddl);
    }
    Ok(Exit::Ok)
}

fn translate(args: TranslateArgs, json: bool) -> Result<Exit, CommandError> {
    let map = SidMap::from_pairs(args.maps.iter().map(String::as_str))
        .map_err(|e| CommandError::new(Exit::Usage, anyhow::anyhow!("--map: {e}")))?;
    let mode: ntsec::Mode = args.mode.into();
    let backend = NtfsXattr::detect(&args.dir)?;
    let live = std::io::stderr().is_terminal() && !json;
    let progress = |p: &ntsec::files::Progress| {
        if live {
            eprint!(
                "\r{} seen, {} changed, {} errors",
                p.seen, p.changed, p.errors
            );
        }
    };
    let options = TreeOptions {
        mode,
        dry_run: args.dry_run,
        threads: args.threads,
        progress: Some(&progress),
        ..TreeOptions::new(&map)
    };
    let report = translate_tree(&args.dir, &backend, &options)
        .with_context(|| format!("cannot translate {}", args.dir.display()))?;
    if live {
        eprintln!();
    }
    if json {
        print_json(&report)?;
    } else {
        let verb = if args.dry_run {
            "would change"
        } else {
            "changed"
        };
        crate::outln!(
            "{}: {} seen, {verb} {}, unchanged {}, skipped {}",
            args.dir.display(),
            report.seen,
            report.changed,
            report.unchanged,
            report.errors_total
        );
        for e in &report.errors {
            crate::outln!("  skipped {}: {}", e.path.display(), e.reason);
        }
        if report.errors_total > report.errors.len() as u64 {
            crate::outln!(
                "  … and {} more",
                report.errors_total - report.errors.len() as u64
            );
        }
    }
    for e in &report.errors {
        tracing::warn!(path = %e.path.display(), "{}", e.reason);
    }
    Ok(Exit::Ok)
}
