//! `admu sids`: every place on the machine that names a SID (read-only).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use engine::census::{CensusOptions, FileScope, Place, What, census};

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit, engine_error};

/// Where a SID appears: hives (key and value names, string and binary data, key
/// descriptors), file names and descriptors, scheduled tasks.
#[derive(Debug, Args)]
pub struct SidsArgs {
    /// The mounted Windows volume (offline mode); without it, the Windows admu runs on.
    #[arg(long, value_name = "VOLUME")]
    root: Option<PathBuf>,
    /// The SID to look for.
    #[arg(long, value_name = "SID")]
    sid: String,
    /// Which files to scan for names and descriptors.
    #[arg(long, value_enum, default_value = "all")]
    files: Files,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Files {
    /// The whole volume (streamed; the profile folders of the SID are summed per folder).
    All,
    /// Only the SID's own profile folders.
    Profile,
    /// No files.
    None,
}

pub fn run(args: SidsArgs, json: bool) -> Result<Exit, CommandError> {
    let sid: ntsec::Sid = args.sid.parse().map_err(|e| {
        CommandError::new(Exit::Usage, anyhow::anyhow!("--sid {:?}: {e}", args.sid))
    })?;
    let host = crate::cmd::host::open(args.root.as_deref())?;
    let progress = |n: u64| tracing::info!("{n} files and folders scanned");
    let options = CensusOptions {
        files: match args.files {
            Files::All => FileScope::All,
            Files::Profile => FileScope::Profile,
            Files::None => FileScope::None,
        },
        progress: Some(&progress),
    };
    let places = census(&*host, &sid, options).map_err(engine_error)?;
    if json {
        print_json(&places)?;
    } else {
        print_places(&places);
        crate::outln!("{} places name {sid}", places.len());
    }
    Ok(Exit::Ok)
}

fn describe(p: &Place) -> String {
    match &p.what {
        What::KeyName => "key name".into(),
        What::ValueName { value } => format!("value name {value:?}"),
        What::StringData { value } => format!("string data of {value:?}"),
        What::BinarySid { value } => format!("binary SID in {value:?}"),
        What::KeyDescriptor { parts } => format!("key descriptor {parts:?}"),
        What::FileName => "file name".into(),
        What::FileDescriptor { parts } => format!("descriptor {parts:?}"),
        What::TaskPrincipal { field, text } => format!("task {field} = {text}"),
    }
}

fn print_places(places: &[Place]) {
    for p in places {
        crate::outln!(
            "{:<28} {:<40} {} (x{})",
            p.area,
            describe(p),
            p.location,
            p.count
        );
    }
}
