//! `admu sample create DIR`: a realistic synthetic Windows system volume for demos, tests
//! and benchmarks (see the `sample` crate).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit};

/// Synthetic Windows volumes.
#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(subcommand)]
    command: SampleCommand,
}

#[derive(Debug, Subcommand)]
enum SampleCommand {
    /// Build a Windows 10/11 system volume with a domain, an Entra and a local user.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// An empty folder or the root of a mounted NTFS volume (ntfs-3g: real descriptors).
    dir: PathBuf,
    /// Seed for everything random: the same seed gives byte-identical hives.
    #[arg(long)]
    seed: Option<u64>,
    /// Files and folders per user profile.
    #[arg(long, default_value_t = 300, value_name = "N")]
    files: usize,
    /// Keys per user NTUSER.DAT.
    #[arg(long, default_value_t = 3000, value_name = "N")]
    hive_keys: usize,
    /// Save the domain's DPAPI backup private key (.pvk, as a DC exports it) to this
    /// file; it never goes onto the volume.
    #[arg(long, value_name = "OUT.pvk")]
    dpapi_backup_key: Option<PathBuf>,
}

pub fn run(args: SampleArgs, json: bool) -> Result<Exit, CommandError> {
    match args.command {
        SampleCommand::Create(a) => create(a, json),
    }
}

fn create(args: CreateArgs, json: bool) -> Result<Exit, CommandError> {
    let options = sample::Options {
        seed: args.seed,
        files: args.files,
        hive_keys: args.hive_keys,
    };
    let report = sample::create(&args.dir, &options)
        .with_context(|| format!("cannot build a sample volume in {}", args.dir.display()))?;
    if let Some(out) = &args.dpapi_backup_key {
        let key = report
            .dpapi_backup_key
            .as_ref()
            .context("the sample has no domain DPAPI backup key")?;
        key.write_pvk(out)
            .with_context(|| format!("--dpapi-backup-key {}", out.display()))?;
    }
    if json {
        print_json(&report)?;
        return Ok(Exit::Ok);
    }
    crate::outln!("Sample Windows volume in {}", args.dir.display());
    crate::outln!(
        "  {:?}, computer {}, seed {}",
        report.os,
        report.computer_name,
        report.seed
    );
    crate::outln!("  machine SID {}", report.machine_sid);
    crate::outln!("  domain {} {}", report.domain, report.domain_sid);
    crate::outln!("  Entra tenant {}", report.tenant);
    for u in &report.users {
        crate::outln!(
            "  {:<14} {:<50} {}  ({} keys, {} sk cells; {} files, {} folders, {} junctions)",
            u.logon_name,
            u.sid,
            u.profile_path,
            u.ntuser.keys,
            u.ntuser.security_cells,
            u.tree.files,
            u.tree.folders,
            u.tree.junctions
        );
    }
    crate::outln!("  hives:");
    for h in &report.hives {
        crate::outln!(
            "    {:<62} {:>7} keys {:>10} bytes",
            h.path,
            h.keys,
            h.bytes
        );
    }
    if report.descriptors_set {
        crate::outln!("  NTFS security descriptors and attributes: set");
    } else {
        crate::outln!(
            "  NTFS security descriptors and attributes: NOT set ({})",
            report
                .descriptors_note
                .as_deref()
                .unwrap_or("not an NTFS volume")
        );
    }
    if let Some(d) = &report.dpapi {
        crate::outln!(
            "  DPAPI of {}: {} master keys ({}), preferred {}, {} saved credentials",
            d.logon_name,
            d.master_keys.len(),
            d.master_keys
                .iter()
                .map(|k| k.guid.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            d.preferred,
            d.credentials.len()
        );
    }
    for note in &report.notes {
        crate::outln!("  note: {note}");
    }
    if !report.descriptors_set {
        tracing::warn!(
            "{} is not an NTFS volume mounted with ntfs-3g: descriptors and attributes were not set",
            args.dir.display()
        );
    }
    Ok(Exit::Ok)
}
