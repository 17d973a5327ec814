//! `admu fleet discover|plan|run|status`: many devices through JumpCloud Commands, from
//! the admin's workstation. The logic is in the `fleet` crate; this parses flags,
//! talks to JumpCloud through it and prints.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use fleet::plan::{Plan, describe};
use fleet::script::{ExeSource, ScriptOptions};
use fleet::status::{Outcome, Status};
use fleet::terminal::printable;
use fleet::{Inventory, Problem};
use jumpcloud::{BaseUrl, Client, PageProgress};

use super::jc::{JcRegion, base_url_of, read_api_key};
use crate::exit::{CommandError, Exit, failed, usage};

/// Migrate many devices through JumpCloud Commands.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    command: FleetCommand,
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Every Windows system with domain or Entra profiles, as ADMU's CSV.
    Discover(DiscoverArgs),
    /// Check a CSV against JumpCloud and say what will happen; sends nothing.
    Plan(PlanArgs),
    /// Create or update the JumpCloud Command(s), bind them to the devices, run them.
    Run(RunArgs),
    /// One row per device and user: Pending, InProgress, Complete, Error.
    Status(StatusArgs),
}

/// How to reach JumpCloud (the admin's API key).
#[derive(Debug, Args)]
struct Api {
    /// The API's URL (https://…; http:// only for loopback test servers).
    #[arg(long, value_name = "URL", conflicts_with = "jc_region")]
    jc_url: Option<String>,
    /// The JumpCloud region.
    #[arg(long, value_enum)]
    jc_region: Option<JcRegion>,
    /// Read the API key from this file (default: the JC_API_KEY environment variable).
    #[arg(long, value_name = "FILE")]
    jc_api_key_file: Option<PathBuf>,
    /// The organisation, for a multi-tenant (MTP) API key.
    #[arg(long, value_name = "ID")]
    jc_org_id: Option<String>,
    /// The fleet command's name (later parts add " (2)", " (3)", …).
    #[arg(long, value_name = "NAME", default_value = "admu fleet")]
    name: String,
}

impl Api {
    fn base(&self) -> Result<BaseUrl, CommandError> {
        base_url_of(self.jc_url.as_deref(), self.jc_region)
    }

    /// The same API for the devices (`--jc-url`/`--jc-region`; no key: they sign).
    fn device_args(&self) -> Result<Vec<String>, CommandError> {
        Ok(match (&self.jc_url, self.jc_region) {
            (Some(_), _) => vec!["--jc-url".into(), self.base()?.as_str().to_owned()],
            (None, Some(JcRegion::Eu)) => vec!["--jc-region".into(), "eu".into()],
            (None, Some(JcRegion::In)) => vec!["--jc-region".into(), "in".into()],
            (None, _) => Vec::new(),
        })
    }

    fn client(&self) -> Result<Client, CommandError> {
        let key = read_api_key(self.jc_api_key_file.as_deref(), "")?;
        let mut client = Client::builder(self.base()?, jumpcloud::Auth::ApiKey(key))
            .user_agent(format!("admu/{}", env!("CARGO_PKG_VERSION")))
            .build();
        client
            .select_organization(self.jc_org_id.as_deref())
            .map_err(failed)?;
        Ok(client)
    }
}

#[derive(Debug, Args)]
struct DiscoverArgs {
    #[command(flatten)]
    api: Api,
    /// Write the CSV to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    api: Api,
    /// The CSV (ADMU's headers).
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    api: Api,
    /// The CSV (ADMU's headers).
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,
    /// Bind each JumpCloud user to its device after the migration (needed: JumpCloud
    /// then sets the user's password on the new account).
    #[arg(long)]
    jc_bind: bool,
    /// Bind as administrators.
    #[arg(long, requires = "jc_bind")]
    jc_admin: bool,
    /// Make each user its device's primary user.
    #[arg(long, requires = "jc_bind")]
    jc_primary_user: bool,
    /// Sign the migrated users' sessions out first (nobody is signed out without it).
    #[arg(long)]
    logoff: bool,
    /// Leave the AD domain / Entra after a device's last migration.
    #[arg(long)]
    leave_domain: bool,
    /// Restart each device after its last migration, after SECS seconds.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "30")]
    reboot: Option<u32>,
    /// Download admu.exe from this https:// URL instead of using the installed one.
    #[arg(long, value_name = "URL", requires = "exe_sha256")]
    exe_url: Option<String>,
    /// The SHA-256 the downloaded admu.exe must have (the device refuses it otherwise).
    #[arg(long, value_name = "HEX", requires = "exe_url")]
    exe_sha256: Option<String>,
    /// Print the command text and the systems; send nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    api: Api,
    /// Refresh until nothing is pending or in progress.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    interval: u64,
}

pub fn run(args: FleetArgs, json: bool) -> Result<Exit, CommandError> {
    match args.command {
        FleetCommand::Discover(a) => discover(a, json),
        FleetCommand::Plan(a) => plan(a, json).map(|_| Exit::Ok),
        FleetCommand::Run(a) => run_fleet(a, json),
        FleetCommand::Status(a) => status(a, json),
    }
}

/// Page progress on stderr.
fn progress(what: &str, p: PageProgress) {
    let mut err = std::io::stderr().lock();
    let _ = match p.total {
        Some(t) => writeln!(err, "admu: {what}: {}/{t}", p.read),
        None => writeln!(err, "admu: {what}: {}", p.read),
    };
}

fn inventory(client: &Client) -> Result<Inventory, CommandError> {
    Inventory::fetch(client, &mut progress).map_err(failed)
}

fn discover(a: DiscoverArgs, json: bool) -> Result<Exit, CommandError> {
    let client = a.api.client()?;
    let found = fleet::discover(&inventory(&client)?);
    let systems = {
        let mut ids: Vec<&str> = found
            .iter()
            .map(|d| d.row.jump_cloud_system_id.as_str())
            .collect();
        ids.dedup();
        ids.len()
    };
    if json {
        crate::cmd::print_json(&found)?;
    } else {
        let rows: Vec<fleet::Row> = found.iter().map(|d| d.row.clone()).collect();
        let text = fleet::row::to_csv(&rows);
        match &a.output {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| failed(format!("-o {}: {e}", path.display())))?,
            None => print!("{text}"),
        }
    }
    eprintln!(
        "admu: {} profile(s) on {systems} Windows system(s)",
        found.len()
    );
    Ok(Exit::Ok)
}

fn read_plan(csv: &std::path::Path, client: &Client, json: bool) -> Result<Plan, CommandError> {
    let text = std::fs::read_to_string(csv)
        .map_err(|e| failed(format!("--csv {}: {e}", csv.display())))?;
    let file = csv.display().to_string();
    let inv = inventory(client)?;
    fleet::plan::plan(&file, &text, &inv).map_err(|problems| show_problems(&problems, json))
}

fn show_problems(problems: &[Problem], json: bool) -> CommandError {
    if json {
        let _ = crate::cmd::print_json(&problems);
    }
    for p in problems {
        eprintln!("{}", printable(&p.to_string()));
    }
    CommandError::new(
        Exit::CheckFailed,
        anyhow::anyhow!("{} problem(s) in the CSV; nothing was sent", problems.len()),
    )
}

fn plan(a: PlanArgs, json: bool) -> Result<Plan, CommandError> {
    let client = a.api.client()?;
    let plan = read_plan(&a.csv, &client, json)?;
    print_plan(&plan, json)?;
    Ok(plan)
}

fn print_plan(plan: &Plan, json: bool) -> Result<(), CommandError> {
    if json {
        crate::cmd::print_json(plan)?;
        return Ok(());
    }
    for d in &plan.devices {
        for p in &d.rows {
            crate::outln!("line {}: {}", p.line, printable(&describe(d, p)));
        }
    }
    crate::outln!(
        "{} migration(s) on {} device(s)",
        plan.migrations(),
        plan.active().count()
    );
    Ok(())
}

fn exe_source(a: &RunArgs) -> Result<ExeSource, CommandError> {
    match (&a.exe_url, &a.exe_sha256) {
        (Some(url), Some(sha)) => {
            if !url.starts_with("https://") {
                return Err(usage(format!(
                    "--exe-url {url}: only https:// downloads are allowed"
                )));
            }
            if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(usage("--exe-url: the URL has spaces or control characters"));
            }
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(usage(format!(
                    "--exe-sha256 {sha}: a SHA-256 is 64 hex digits"
                )));
            }
            Ok(ExeSource::Download {
                url: url.clone(),
                sha256: sha.clone(),
            })
        }
        (None, None) => Ok(ExeSource::Installed),
        _ => Err(usage(
            "--exe-url and --exe-sha256 go together: a download is never run unpinned",
        )),
    }
}

fn run_fleet(a: RunArgs, json: bool) -> Result<Exit, CommandError> {
    let exe = exe_source(&a)?;
    if !a.jc_bind {
        let why = "fleet run needs --jc-bind: each new account gets a random password made on the device (no password travels in the command), and JumpCloud sets the user's own password when it takes the bound account over (docs/fleet.md)";
        if !a.dry_run {
            return Err(usage(why));
        }
        eprintln!("admu: warning: {why}");
    }
    let client = a.api.client()?;
    let plan = read_plan(&a.csv, &client, json)?;
    let options = ScriptOptions {
        name: a.api.name.clone(),
        api: a.api.device_args()?,
        bind: a.jc_bind,
        admin: a.jc_admin,
        primary_user: a.jc_primary_user,
        logoff: a.logoff,
        leave_domain: a.leave_domain,
        reboot: a.reboot,
        exe,
    };
    let scripts = fleet::script::split(&options, &fleet::script::jobs(&plan)).map_err(failed)?;
    for d in &plan.devices {
        for p in d
            .rows
            .iter()
            .filter(|p| p.action == fleet::plan::Action::AlreadyComplete)
        {
            eprintln!(
                "admu: skipped (already Complete): {}",
                printable(&describe(d, p))
            );
        }
    }
    if a.dry_run {
        if json {
            crate::cmd::print_json(&scripts)?;
        } else {
            for s in &scripts {
                crate::outln!(
                    "# command {:?}: {} characters, systems: {}",
                    s.name,
                    s.text.chars().count(),
                    s.system_ids.join(", ")
                );
                crate::outln!("{}", s.text);
            }
            crate::outln!("Dry run: nothing was sent.");
        }
        return Ok(Exit::Ok);
    }
    if scripts.is_empty() {
        crate::outln!("Nothing to run: every row is Complete or not selected.");
        return Ok(Exit::Ok);
    }
    let again = format!(
        "run `admu fleet run --csv {}` with the same options again: it sends what is missing and skips rows already Complete",
        a.csv.display()
    );
    fleet::remote::mark_pending(&client, &plan, &mut |p| progress("marked Pending", p)).map_err(
        |e| {
            failed(format!(
                "{e}; some devices may already say Pending: {again}"
            ))
        },
    )?;
    let sent = fleet::remote::send(&client, &scripts, &mut progress).map_err(|e| {
        failed(format!(
            "{e}; the devices were marked Pending but not every command was sent and run: {again}"
        ))
    })?;
    if json {
        crate::cmd::print_json(&sent)?;
    } else {
        for s in &sent {
            crate::outln!(
                "command {:?} ({}, {:?}): run on {} system(s)",
                s.name,
                s.id,
                s.how,
                s.system_ids.len()
            );
        }
        crate::outln!("Watch it with: admu fleet status --watch");
    }
    Ok(Exit::Ok)
}

fn fetch_status(client: &Client, name: &str) -> Result<Status, CommandError> {
    let systems = client.systems().map_err(failed)?;
    let results = client.command_results(&mut |_| {}).map_err(failed)?;
    Ok(fleet::status::status(&systems, &results, name))
}

fn print_status(s: &Status) {
    crate::outln!(
        "{:<16} {:<48} {:<20} {:<10} MESSAGE",
        "DEVICE",
        "SID",
        "USER",
        "STATE"
    );
    for r in &s.rows {
        crate::outln!(
            "{:<16} {:<48} {:<20} {:<10} {}",
            printable(&r.hostname),
            printable(&r.sid),
            printable(&r.username),
            r.state.as_str(),
            printable(&r.message)
        );
    }
    let t = &s.totals;
    crate::outln!(
        "{} total: {} complete, {} in progress, {} pending, {} error",
        t.all(),
        t.complete,
        t.in_progress,
        t.pending,
        t.error
    );
}

fn bar(s: &Status) {
    let t = &s.totals;
    let width = 30;
    let done = if t.all() == 0 {
        width
    } else {
        (t.complete + t.error) * width / t.all()
    };
    eprint!(
        "\r[{}{}] {}/{} done ({} error, {} in progress, {} pending)  ",
        "#".repeat(done),
        "-".repeat(width - done),
        t.complete + t.error,
        t.all(),
        t.error,
        t.in_progress,
        t.pending
    );
    let _ = std::io::stderr().flush();
}

fn status(a: StatusArgs, json: bool) -> Result<Exit, CommandError> {
    let client = a.api.client()?;
    let mut s = fetch_status(&client, &a.api.name)?;
    if a.watch {
        loop {
            bar(&s);
            if s.outcome() != Outcome::Waiting {
                eprintln!();
                break;
            }
            std::thread::sleep(Duration::from_secs(a.interval.max(1)));
            s = fetch_status(&client, &a.api.name)?;
        }
    }
    if json {
        crate::cmd::print_json(&s)?;
    } else {
        print_status(&s);
    }
    Ok(match s.outcome() {
        Outcome::AllComplete => Exit::Ok,
        Outcome::Waiting => Exit::CheckFailed,
        Outcome::Failed => Exit::Failed,
    })
}
