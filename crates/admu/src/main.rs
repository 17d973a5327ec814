//! `admu`: convert Active Directory and Entra ID Windows profiles in place to local
//! accounts. See README.md for the commands and docs/ for how it works.

mod cmd;
mod exit;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::exit::{CommandError, Exit};

/// Convert Active Directory and Entra ID Windows profiles in place to local accounts.
#[derive(Debug, Parser)]
#[command(name = "admu", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output (-v debug, -vv trace). ADMU_LOG=<filter> overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Machine-readable output: results as JSON on stdout, logs as JSON lines on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Also append every log event (JSON lines, debug level) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Local accounts of an offline Windows volume: list them, add one (experimental).
    Accounts(cmd::accounts::AccountsArgs),
    /// The machine (name, AD domain, Entra tenant) and admu's migrations on it.
    Info(cmd::info::InfoArgs),
    /// The profiles on a machine: account, SID, kind, path, last use, admin, state.
    List(cmd::list::ListArgs),
    /// Every preflight check of a migration, pass or fail with the reason; changes nothing.
    Check(Box<cmd::migrate::CheckArgs>),
    /// Convert a domain or Entra profile in place to a local account (journaled).
    Migrate(Box<cmd::migrate::MigrateArgs>),
    /// Fleets through JumpCloud Commands: discover, plan from ADMU's CSV, run, status.
    Fleet(cmd::fleet::FleetArgs),
    /// Report this device's domain and Entra profiles into its JumpCloud description.
    Report(cmd::report::ReportArgs),
    /// Undo a completed migration exactly.
    Revert(cmd::migrate::RevertArgs),
    /// Roll back an interrupted migration from its journal.
    Recover(cmd::migrate::RecoverArgs),
    /// Every place on the machine that names a SID: hives, files, scheduled tasks.
    Sids(cmd::sids::SidsArgs),
    /// A user's DPAPI master keys: algorithms, protectors, preferred, whether each opens.
    Dpapi(cmd::dpapi::DpapiArgs),
    /// Registry hive files: info, export, sids, translate, check.
    Hive(cmd::hive::HiveArgs),
    /// File and folder security descriptors on a mounted NTFS volume: show, translate.
    #[cfg(target_os = "linux")]
    Acl(cmd::acl::AclArgs),
    /// Build a realistic synthetic Windows 10/11 system volume (demos, tests, benchmarks).
    Sample(cmd::sample::SampleArgs),
    /// Open the window: the machine, its profiles, the checks, the plan, the migration.
    Gui(admu_gui::GuiArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let exit = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            // clap prints help and version to stdout and usage errors to stderr.
            let _ = e.print();
            return exit.into();
        }
    };
    if let Err(e) = logging::init(cli.verbose, cli.quiet, cli.json, cli.log_file.as_deref()) {
        eprintln!("admu: {e:#}");
        return Exit::Usage.into();
    }
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(CommandError { exit, error }) => {
            tracing::error!("{error:#}");
            exit.into()
        }
    }
}

fn run(cli: Cli) -> Result<Exit, CommandError> {
    tracing::debug!(version = env!("CARGO_PKG_VERSION"), "admu started");
    match cli.command {
        Command::Accounts(args) => cmd::accounts::run(args, cli.json),
        Command::Info(args) => cmd::info::run(args, cli.json),
        Command::List(args) => cmd::list::run(args, cli.json),
        Command::Check(args) => cmd::migrate::check(*args, cli.json),
        Command::Migrate(args) => cmd::migrate::migrate(*args, cli.json),
        Command::Fleet(args) => cmd::fleet::run(args, cli.json),
        Command::Report(args) => cmd::report::run(args, cli.json),
        Command::Revert(args) => cmd::migrate::revert(args, cli.json),
        Command::Recover(args) => cmd::migrate::recover(args, cli.json),
        Command::Sids(args) => cmd::sids::run(args, cli.json),
        Command::Dpapi(args) => cmd::dpapi::run(args, cli.json),
        Command::Hive(args) => cmd::hive::run(args, cli.json),
        #[cfg(target_os = "linux")]
        Command::Acl(args) => cmd::acl::run(args, cli.json),
        Command::Sample(args) => cmd::sample::run(args, cli.json),
        Command::Gui(args) => admu_gui::run(args)
            .map(|()| Exit::Ok)
            .map_err(CommandError::from),
    }
}
