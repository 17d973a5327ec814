//! The device side of a fleet: `admu report --jc-report-status` writes this device's
//! domain and Entra profiles into its JumpCloud description (ADMU's DeviceQuery
//! shape), and `admu migrate --from-description` migrates the entries marked Pending.
//! Both sign their calls with the device's own agent key (system context).

use std::path::Path;

use clap::Args;
use engine::device::{DeviceReport, DeviceState};
use engine::host::Volume;
use engine::migrate::{MigrateRequest, Preflight, Secret};
use engine::profiles::{DiscoverOptions, Profile, ProfileKind, ProfileState};
use fleet::description::{Candidate, candidate_entry, device_state, entries};
use jumpcloud::status::{ADMU_ATTRIBUTE, merge_attribute, merge_description};
use jumpcloud::{AgentConfig, Auth, Client, SystemSigner};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cmd::jc::JcArgs;
use crate::exit::{CommandError, Exit, failed};

/// Report this device's candidate profiles to JumpCloud (its description).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The mounted Windows volume (offline, tests); without it, this computer.
    #[arg(long, value_name = "VOLUME")]
    root: Option<std::path::PathBuf>,
    /// Measure each profile's size (walks every folder).
    #[arg(long)]
    size: bool,
    #[command(flatten)]
    jc: JcArgs,
}

/// One migration of a device's list.
#[derive(Debug)]
pub struct One {
    /// SID or account.
    pub from: String,
    /// The local name.
    pub to: String,
    /// The JumpCloud user's id, when known.
    pub user_id: Option<String>,
    /// The new account's password.
    pub password: Option<Secret>,
    /// The last of the list (gets --leave-domain and --reboot).
    pub last: bool,
}

/// A client signed as this device, and its system key.
fn device_client(
    host: &dyn Volume,
    offline: bool,
    jc: &JcArgs,
) -> Result<(Client, String), CommandError> {
    let paths = jumpcloud::manager::agent_paths(host, offline);
    let agent = AgentConfig::load(&paths.conf).map_err(|e| {
        failed(format!(
            "{e}: JumpCloud knows this device by its agent's system key; install the agent first"
        ))
    })?;
    let signer = SystemSigner::load(&agent, &paths.client_key).map_err(failed)?;
    let client = Client::builder(jc.base_url()?, Auth::System(signer))
        .user_agent(format!("admu/{}", env!("CARGO_PKG_VERSION")))
        .build();
    Ok((client, agent.system_key))
}

/// Tells the device manager that a migration was refused by its preflight (the engine
/// reports only migrations that started), so the fleet sees Error with the reasons.
pub fn refused(req: &MigrateRequest, pre: &Preflight) {
    let Some(device) = &req.device else {
        return;
    };
    let reasons: Vec<String> = pre
        .failures()
        .map(|c| format!("{}: {}", c.name, c.reason))
        .collect();
    let source = pre.source.as_ref();
    let sid = source
        .and_then(|p| p.sid.as_ref())
        .map(ToString::to_string)
        .unwrap_or_else(|| req.from.clone());
    let path = source.and_then(|p| p.path.clone()).unwrap_or_default();
    let message = format!(
        "preflight failed, nothing was changed: {}",
        reasons.join("; ")
    );
    let report = DeviceReport {
        sid: &sid,
        local_path: &path,
        username: &req.to,
        state: DeviceState::Error,
        message: &message,
    };
    if let Err(e) = device.report(&report) {
        tracing::warn!("{}: status report failed: {e}", device.name());
    }
}

/// `admu migrate --from-description`: every Pending entry of this device's description,
/// one after the other through `run`; the first failure's exit code (the others still
/// run; --leave-domain and --reboot go with the last only if all before succeeded).
pub fn from_description(
    root: Option<&Path>,
    jc: &JcArgs,
    password: Option<Secret>,
    run: &mut dyn FnMut(One) -> Result<Exit, CommandError>,
) -> Result<Exit, CommandError> {
    if !jc.system_context() {
        return Err(CommandError::new(
            Exit::Usage,
            anyhow::anyhow!(
                "--from-description reads this device's description as the device: add --jc-system-context"
            ),
        ));
    }
    let (client, key) = {
        let host = crate::cmd::host::open(root)?;
        device_client(&*host, root.is_some(), jc)?
    };
    let system = client.system(&key).map_err(failed)?;
    let pending = fleet::description::pending(system.description.as_deref());
    if pending.is_empty() {
        tracing::info!(system = %key, "no entry of this device's description is Pending: nothing to migrate");
        return Ok(Exit::Ok);
    }
    let mut worst = Exit::Ok;
    let n = pending.len();
    for (i, e) in pending.into_iter().enumerate() {
        let Some(to) = e.username.clone() else {
            tracing::error!(sid = %e.sid, "the entry has no `un` (the local username): skipped");
            worst = first_failure(worst, Exit::Failed);
            continue;
        };
        let password = match &password {
            Some(p) => p.clone(),
            None => Secret::new(fleet::random_password().map_err(failed)?),
        };
        tracing::info!(sid = %e.sid, to = %to, "migrating {} of {n}", i + 1);
        let one = One {
            from: e.sid.clone(),
            to,
            user_id: e.user_id.clone(),
            password: Some(password),
            last: i + 1 == n && worst == Exit::Ok,
        };
        match run(one) {
            Ok(Exit::Ok) => {}
            Ok(exit) => worst = first_failure(worst, exit),
            Err(err) => {
                tracing::error!(sid = %e.sid, "{:#}", err.error);
                worst = first_failure(worst, err.exit);
            }
        }
    }
    Ok(worst)
}

fn first_failure(worst: Exit, now: Exit) -> Exit {
    if worst == Exit::Ok { now } else { worst }
}

/// A domain or Entra profile worth reporting (one per SID: a TEMP or missing-folder
/// duplicate gives way to the real folder).
fn candidates(profiles: &[Profile]) -> Vec<(Candidate, bool)> {
    let mut out: Vec<(Candidate, bool, bool)> = Vec::new();
    for p in profiles {
        if !matches!(p.kind, ProfileKind::Domain | ProfileKind::Entra) {
            continue;
        }
        let Some(sid) = p.sid.as_ref().map(ToString::to_string) else {
            continue;
        };
        let broken = p
            .states
            .iter()
            .any(|s| matches!(s, ProfileState::Temp | ProfileState::MissingFolder));
        let migrated = p.states.contains(&ProfileState::Migrated);
        let c = Candidate {
            sid: sid.clone(),
            username: fleet::inventory::bare_name(&p.account).to_owned(),
            local_path: p.path.clone().unwrap_or_default(),
            last_login: p.last_used.map(hive::export::filetime_to_rfc3339),
            profile_size_gb: p.size.map(|b| (b as f64 / 1e9 * 100.0).round() / 100.0),
        };
        match out.iter_mut().find(|(o, ..)| o.sid == sid) {
            Some(slot) if slot.2 && !broken => *slot = (c, migrated, broken),
            Some(_) => {}
            None => out.push((c, migrated, broken)),
        }
    }
    out.into_iter().map(|(c, m, _)| (c, m)).collect()
}

#[derive(Serialize)]
struct Reported {
    system_id: Option<String>,
    sid: String,
    username: String,
    local_path: String,
    last_login: Option<String>,
    migrated: bool,
}

/// `admu report`.
pub fn run(args: ReportArgs, json: bool) -> Result<Exit, CommandError> {
    let host = crate::cmd::host::open(args.root.as_deref())?;
    let profiles = engine::profiles::discover(&*host, DiscoverOptions { size: args.size })
        .map_err(crate::exit::engine_error)?;
    let found = candidates(&profiles);
    let mut system_id = None;
    if args.jc.wanted() {
        let (client, key) = device_client(&*host, args.root.is_some(), &args.jc)?;
        write_description(&client, &key, &found)?;
        system_id = Some(key);
    }
    let rows: Vec<Reported> = found
        .iter()
        .map(|(c, migrated)| Reported {
            system_id: system_id.clone(),
            sid: c.sid.clone(),
            username: c.username.clone(),
            local_path: c.local_path.clone(),
            last_login: c.last_login.clone(),
            migrated: *migrated,
        })
        .collect();
    if json {
        crate::cmd::print_json(&rows)?;
    } else {
        for r in &rows {
            crate::outln!(
                "{:<48} {:<20} {}{}",
                r.sid,
                r.username,
                r.local_path,
                if r.migrated { " (migrated)" } else { "" }
            );
        }
        match &system_id {
            Some(id) => crate::outln!(
                "{} profile(s) reported to JumpCloud system {id}",
                rows.len()
            ),
            None => crate::outln!(
                "{} profile(s); nothing sent (add --jc-report-status)",
                rows.len()
            ),
        }
    }
    Ok(Exit::Ok)
}

/// Merges the candidates into the description (what the admin set is kept) and sets
/// the `admu` attribute from the entries' states.
fn write_description(
    client: &Client,
    key: &str,
    found: &[(Candidate, bool)],
) -> Result<(), CommandError> {
    let system = client.system(key).map_err(failed)?;
    let existing = entries(system.description.as_deref());
    let mut text = system.description.clone();
    for (c, migrated) in found {
        let old = existing.iter().find(|e| e.sid.eq_ignore_ascii_case(&c.sid));
        let mut entry = candidate_entry(c, old);
        if *migrated {
            entry = entry.with_state(
                jumpcloud::MigrationState::Complete,
                "Already migrated (.ADMU)",
            );
        }
        text = Some(merge_description(text.as_deref(), &entry).0);
    }
    let states: Vec<String> = entries(text.as_deref())
        .into_iter()
        .filter_map(|e| e.state)
        .collect();
    let state = device_state(states.iter().map(String::as_str));
    let attrs = merge_attribute(&system.attributes, ADMU_ATTRIBUTE, state.as_str());
    let mut body = Map::new();
    body.insert(
        "attributes".into(),
        serde_json::to_value(attrs).map_err(failed)?,
    );
    body.insert(
        "description".into(),
        Value::String(text.unwrap_or_default()),
    );
    client
        .put_system(key, &Value::Object(body))
        .map_err(failed)?;
    Ok(())
}
