//! `admu list`: the profiles on a machine, one row each.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use engine::profiles::{DiscoverOptions, Profile, discover};

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit};

/// Profiles: account (and where the name came from), SID, kind, path, last use, local
/// admin, state.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The mounted Windows volume (offline mode); without it, the Windows admu runs on.
    #[arg(long, value_name = "VOLUME")]
    root: Option<PathBuf>,
    /// Add up each profile folder's size (walks every file).
    #[arg(long)]
    size: bool,
    /// Include the service profiles (SYSTEM, LOCAL SERVICE, NETWORK SERVICE).
    #[arg(long)]
    all: bool,
}

pub fn run(args: ListArgs, json: bool) -> Result<Exit, CommandError> {
    let host = crate::cmd::host::open(args.root.as_deref())?;
    let mut rows = discover(&*host, DiscoverOptions { size: args.size })
        .with_context(|| format!("cannot list the profiles of {}", host.describe()))?;
    if !args.all {
        rows.retain(|p| !p.is_service());
    }
    if json {
        print_json(&rows)?;
    } else {
        print_table(&rows, args.size);
        print_mdm_and_hello(&*host, &rows);
    }
    Ok(Exit::Ok)
}

/// The MDM enrollments and the Windows Hello containers, by owner (engine::mdm).
fn print_mdm_and_hello(host: &dyn engine::host::Host, rows: &[Profile]) {
    match engine::mdm::survey(host) {
        Ok(state) if !state.enrollments.is_empty() => {
            crate::outln!("\nMDM enrollments:");
            for e in &state.enrollments {
                crate::outln!(
                    "  {}  provider {}  UPN {}  found in {}{}",
                    e.guid,
                    e.provider.as_deref().unwrap_or("-"),
                    e.upn.as_deref().unwrap_or("-"),
                    e.found_in,
                    if e.jumpcloud { "  (JumpCloud)" } else { "" }
                );
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("MDM enrollments cannot be read: {e}"),
    }
    match engine::mdm::hello::survey(host, None) {
        Ok(state) if !state.containers.is_empty() => {
            crate::outln!("\nWindows Hello (NGC) containers:");
            for c in &state.containers {
                let owner = c.sid.as_deref().unwrap_or("?");
                let account = rows
                    .iter()
                    .find(|p| p.sid.as_ref().is_some_and(|s| s.to_string() == owner))
                    .map(|p| p.account.as_str())
                    .unwrap_or("-");
                crate::outln!("  {}  {owner}  {account}  {} files", c.guid, c.files);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("Windows Hello containers cannot be read: {e}"),
    }
}

fn print_table(rows: &[Profile], size: bool) {
    let mut table: Vec<Vec<String>> = vec![
        [
            "ACCOUNT",
            "SOURCE",
            "KIND",
            "SID",
            "PATH",
            "LAST USED",
            "ADMIN",
            "STATE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ];
    if size {
        table[0].push("SIZE".into());
    }
    let live = rows.iter().any(|p| p.loaded.is_some());
    if live {
        table[0].push("LOADED".into());
        table[0].push("SIGNED IN".into());
    }
    for p in rows {
        let mut row = vec![
            p.account.clone(),
            p.account_source
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "-".into()),
            format!("{:?}", p.kind).to_lowercase(),
            p.key.clone(),
            p.path.clone().unwrap_or_else(|| "-".into()),
            admu_gui::text::date(p.last_used),
            if p.local_admin {
                "yes".into()
            } else {
                "no".into()
            },
            admu_gui::text::states(&p.states),
        ];
        if size {
            row.push(
                p.size
                    .map(admu_gui::text::size)
                    .unwrap_or_else(|| "-".into()),
            );
        }
        if live {
            row.push(match p.loaded {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            });
            row.push(match &p.signed_in {
                Some(s) if !s.is_empty() => s.join(", "),
                _ => "-".into(),
            });
        }
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        crate::outln!("{}", line.join("  ").trim_end());
    }
    if rows.is_empty() {
        crate::outln!("(no profiles)");
    }
}
