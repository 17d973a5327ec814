//! `admu info`: the machine (name, AD domain, Entra tenant) and admu's journals on it.

use std::path::PathBuf;

use clap::Args;
use engine::machine::{MachineInfo, machine_info};
use engine::migrate::{Unfinished, find_journals};
use serde::Serialize;

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit, engine_error};

/// The machine and its migrations.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The mounted Windows volume (offline mode); without it, the Windows admu runs on.
    #[arg(long, value_name = "VOLUME")]
    root: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Info {
    machine: MachineInfo,
    join: String,
    migrations: Vec<Unfinished>,
}

pub fn run(args: InfoArgs, json: bool) -> Result<Exit, CommandError> {
    let host = crate::cmd::host::open(args.root.as_deref())?;
    let machine = machine_info(&*host).map_err(engine_error)?;
    let migrations = find_journals(&*host).map_err(engine_error)?;
    let info = Info {
        join: machine.join_summary(),
        machine,
        migrations,
    };
    if json {
        print_json(&info)?;
        return Ok(Exit::Ok);
    }
    crate::outln!(
        "Computer:   {}",
        info.machine.computer_name.as_deref().unwrap_or("(unknown)")
    );
    crate::outln!("Membership: {}", info.join);
    if info.migrations.is_empty() {
        crate::outln!("Migrations: none");
    }
    for j in &info.migrations {
        crate::outln!(
            "Migration {}: {} -> {} ({}){}",
            j.id,
            j.old_sid.as_deref().unwrap_or("?"),
            j.account.as_deref().unwrap_or("?"),
            j.status,
            j.refused
                .as_deref()
                .map(|r| format!(": REFUSED: {r}"))
                .unwrap_or_default()
        );
    }
    Ok(Exit::Ok)
}
