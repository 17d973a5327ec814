//! `admu check`, `admu migrate`, `admu revert`, `admu recover`: the journaled migration
//! of a domain or Entra profile to a local account, and its undo.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use engine::host::MigrationHost;
use engine::migrate::{self, MigrateError, MigrateRequest, Secret};
use serde::Serialize;

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit, engine_error};

/// Where the Windows installation is.
#[derive(Debug, Args)]
pub struct Target {
    /// The mounted Windows volume (offline mode); without it, the Windows admu runs on.
    #[arg(long, value_name = "VOLUME")]
    root: Option<PathBuf>,
}

impl Target {
    fn open(&self) -> Result<Box<dyn MigrationHost>, CommandError> {
        crate::cmd::host::open(self.root.as_deref())
    }

    fn describe(&self) -> String {
        match &self.root {
            Some(r) => r.display().to_string(),
            None => "this computer".into(),
        }
    }
}

/// Source and target of a migration.
#[derive(Debug, Args)]
pub struct Who {
    /// The profile to convert: DOMAIN\user, AzureAD\user, or its SID.
    #[arg(
        long,
        value_name = "ACCOUNT|SID",
        required_unless_present = "from_description"
    )]
    from: Option<String>,
    /// The local account it becomes.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "from_description"
    )]
    to: Option<String>,
    /// Fleet (migrate only): migrate every entry of this device's JumpCloud description
    /// marked Pending, one after the other (`un` is the local name, `uid` the JumpCloud
    /// user); needs --jc-system-context. Without a password option each new account gets
    /// a random one made here, which JumpCloud replaces when it takes the account over.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    from_description: bool,
    /// Use an existing local account instead of creating one.
    #[arg(long)]
    to_existing: bool,
    /// With --to-existing: let the migrated profile replace the account's own profile
    /// in ProfileList (its folder stays where it is).
    #[arg(long, requires = "to_existing")]
    replace_existing_profile: bool,
}

/// Every preflight check, pass or fail with its reason; nothing is changed.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    who: Who,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    options: Options,
}

/// How to migrate: the options `check` and `migrate` share.
#[derive(Debug, Args)]
pub struct Options {
    /// Make the new account a local administrator.
    #[arg(long)]
    admin: bool,
    /// Put the new account in the local groups the old account was in.
    #[arg(long)]
    keep_groups: bool,
    #[arg(long, value_enum, default_value = "replace")]
    acl_mode: AclMode,
    /// More SID mappings OLD=NEW (e.g. the old domain's groups), for descriptors.
    #[arg(long = "map", value_name = "OLD=NEW")]
    maps: Vec<String>,
    /// Leave the logon screen's last user as it is.
    #[arg(long)]
    no_default_user: bool,
    /// Commit even when some file descriptors cannot be rewritten (every one is listed);
    /// without it, such a failure rolls the migration back.
    #[arg(long)]
    allow_partial: bool,
    /// Live: sign the migrated user's sessions out first (nobody else's) and wait.
    #[arg(long)]
    logoff: bool,
    /// Live: deny the old account interactive logon while its profile is converted
    /// (always lifted at the end, by recover and by revert).
    #[arg(long)]
    block_logon: bool,
    /// Live: after the migration, leave the AD domain (NetUnjoinDomain) and/or Entra
    /// (dsregcmd /leave, as SYSTEM); a failed leave is a warning, never a rollback.
    #[arg(long)]
    leave_domain: bool,
    /// Live: restart Windows after the migration, after SECS seconds.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "30")]
    reboot: Option<u32>,
    /// Carry the DPAPI master keys (saved passwords) to the new account, opened with the
    /// old password (ADMU_OLD_PASSWORD or --old-password-file) or --dpapi-backup-key.
    #[arg(long)]
    dpapi: bool,
    /// With --dpapi: read the old account's password from this file (first line).
    #[arg(long, value_name = "FILE", requires = "dpapi")]
    old_password_file: Option<PathBuf>,
    /// Open the master keys with the domain's DPAPI backup private key (.pvk) instead
    /// of the old password (implies --dpapi).
    #[arg(long, value_name = "FILE.pvk")]
    dpapi_backup_key: Option<PathBuf>,
    /// With --dpapi: carry the master keys that open and leave the others behind.
    #[arg(long)]
    dpapi_partial: bool,
    /// Remove every MDM enrollment but JumpCloud's (registry keys, EnterpriseMgmt tasks,
    /// enrollment certificates), journaled: undone by revert and recover.
    #[arg(long)]
    remove_mdm: bool,
    /// Clear the old account's Windows Hello (PIN) containers so the new account can
    /// enrol again; moved into the journal's backup, undone by revert and recover.
    #[arg(long)]
    remove_hello: bool,
    /// Also translate file and folder descriptors naming the old SID outside the profile
    /// (shared folders, files the user owns elsewhere; what `admu sids` finds). Without
    /// it they are listed by check and --dry-run and not changed.
    #[arg(long)]
    sweep_files: bool,
    #[command(flatten)]
    jc: crate::cmd::jc::JcArgs,
}

impl Options {
    fn apply(&self, req: &mut MigrateRequest) -> Result<(), CommandError> {
        req.admin = self.admin;
        req.keep_groups = self.keep_groups;
        req.acl_mode = match self.acl_mode {
            AclMode::Replace => ntsec::Mode::Replace,
            AclMode::Add => ntsec::Mode::Add,
        };
        req.extra_map = ntsec::SidMap::from_pairs(self.maps.iter().map(String::as_str))
            .map_err(|e| CommandError::new(Exit::Usage, anyhow::anyhow!("--map: {e}")))?;
        req.set_default_user = !self.no_default_user;
        req.allow_partial = self.allow_partial;
        req.logoff = self.logoff;
        req.block_logon = self.block_logon;
        req.leave_domain = self.leave_domain;
        req.reboot = self.reboot;
        if self.dpapi || self.dpapi_backup_key.is_some() {
            req.dpapi = crate::cmd::dpapi::source(
                self.dpapi_backup_key.as_deref(),
                self.old_password_file.as_deref(),
            )?;
            if req.dpapi.is_none() {
                return Err(CommandError::new(
                    Exit::Usage,
                    anyhow::anyhow!(
                        "--dpapi needs what opens the master keys: the old password in {} \
                         or --old-password-file, or --dpapi-backup-key",
                        crate::cmd::dpapi::OLD_PASSWORD_VAR
                    ),
                ));
            }
        }
        req.dpapi_partial = self.dpapi_partial;
        req.remove_mdm = self.remove_mdm;
        req.remove_hello = self.remove_hello;
        req.sweep_files = self.sweep_files;
        Ok(())
    }
}

/// The new account's password: never on the command line.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the new account's password from this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    password_file: Option<PathBuf>,
    /// Read the new account's password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

impl PasswordArgs {
    fn read(&self) -> Result<Option<Secret>, CommandError> {
        Ok(
            crate::cmd::read_password(self.password_file.as_deref(), self.password_env.as_deref())?
                .map(Secret::new),
        )
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AclMode {
    /// The old SID becomes the new one in every file descriptor.
    Replace,
    /// Keep the old SID's entries and add the same ones for the new SID.
    Add,
}

/// Convert a domain or Entra profile in place to a local account, journaled.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    who: Who,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    options: Options,
    /// Print the plan (every change, before and after); change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Worker threads for the profile tree.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Undo a completed migration exactly.
#[derive(Debug, Args)]
pub struct RevertArgs {
    #[command(flatten)]
    target: Target,
    /// The local account a profile was migrated to.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "sid",
        conflicts_with = "sid"
    )]
    name: Option<String>,
    /// The local account's SID.
    #[arg(long, value_name = "SID")]
    sid: Option<String>,
    /// Say what would be undone; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Roll back an interrupted migration from its journal.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    target: Target,
}

fn request(who: &Who, password: Option<Secret>) -> MigrateRequest {
    let from = who.from.as_deref().unwrap_or_default();
    let mut req = MigrateRequest::new(from, who.to.as_deref().unwrap_or_default());
    req.to_existing = who.to_existing;
    req.replace_existing_profile = who.replace_existing_profile;
    req.password = password;
    req
}

fn print_checks(pre: &migrate::Preflight) {
    for c in &pre.checks {
        crate::outln!(
            "{} {}: {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.reason
        );
    }
    for n in &pre.notices {
        crate::outln!("note {}: {}", n.what, n.detail);
    }
}

pub fn check(args: CheckArgs, json: bool) -> Result<Exit, CommandError> {
    if args.who.from_description {
        return Err(CommandError::new(
            Exit::Usage,
            anyhow::anyhow!(
                "--from-description is for `admu migrate`; check one profile with --from and --to"
            ),
        ));
    }
    let host = args.target.open()?;
    let mut req = request(&args.who, args.password.read()?);
    args.options.apply(&mut req)?;
    req.device = args
        .options
        .jc
        .manager(&*host, args.target.root.is_some(), &req.to)?;
    let pre = migrate::preflight(&*host, &req).map_err(engine_error)?;
    if json {
        print_json(&pre)?;
    } else {
        print_checks(&pre);
        let failed = pre.failures().count();
        crate::outln!("{} checks, {} failed", pre.checks.len(), failed);
    }
    Ok(if pre.passed() {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

pub fn migrate(args: MigrateArgs, json: bool) -> Result<Exit, CommandError> {
    let password = args.password.read()?;
    if args.who.from_description {
        let (root, jc) = (args.target.root.as_deref(), &args.options.jc);
        return crate::cmd::report::from_description(root, jc, password, &mut |one| {
            migrate_one(&args, one, json)
        });
    }
    let one = crate::cmd::report::One {
        from: args.who.from.clone().unwrap_or_default(),
        to: args.who.to.clone().unwrap_or_default(),
        user_id: None,
        password,
        last: true,
    };
    migrate_one(&args, one, json)
}

/// One migration; `one.last` false keeps --leave-domain and --reboot for a later one.
fn migrate_one(
    args: &MigrateArgs,
    one: crate::cmd::report::One,
    json: bool,
) -> Result<Exit, CommandError> {
    let mut host = args.target.open()?;
    let mut req = MigrateRequest::new(&one.from, &one.to);
    req.to_existing = args.who.to_existing;
    req.replace_existing_profile = args.who.replace_existing_profile;
    req.password = one.password;
    args.options.apply(&mut req)?;
    if !one.last {
        req.leave_domain = false;
        req.reboot = None;
    }
    if !args.dry_run {
        args.options.jc.install_agent(args.target.root.is_some())?;
    }
    req.device = args.options.jc.manager_for(
        &*host,
        args.target.root.is_some(),
        &req.to,
        one.user_id.as_deref(),
    )?;
    req.threads = args.threads;
    req.progress = Some(progress_log());

    if args.dry_run {
        let plan = migrate::plan(&*host, &req).map_err(engine_error)?;
        if json {
            print_json(&plan)?;
        } else {
            print_plan(&plan);
        }
        return Ok(if plan.preflight.passed() {
            Exit::Ok
        } else {
            Exit::CheckFailed
        });
    }
    let _awake = crate::cmd::host::keep_awake(args.target.root.as_deref());
    let result = migrate::migrate(&mut *host, &req);
    if let Err(MigrateError::NeedsRecover { .. }) = &result {
        crate::cmd::host::recover_at_next_start(args.target.root.as_deref(), true);
    }
    match result {
        Ok(outcome) => {
            if json {
                print_json(&outcome)?;
            } else {
                print_outcome(&outcome);
            }
            let unbound = outcome
                .after
                .iter()
                .find(|a| a.action == engine::journal::record::AfterAction::Bind && !a.ok);
            match unbound {
                Some(a) => Err(CommandError::new(
                    Exit::DeviceFailed,
                    anyhow::anyhow!(
                        "the profile is migrated (undo with `admu revert`), but {}",
                        a.detail
                    ),
                )),
                None => Ok(Exit::Ok),
            }
        }
        Err(MigrateError::Preflight(pre)) => {
            crate::cmd::report::refused(&req, &pre);
            if json {
                print_json(&*pre)?;
            } else {
                print_checks(&pre);
            }
            Err(CommandError::new(
                Exit::CheckFailed,
                MigrateError::Preflight(pre),
            ))
        }
        Err(MigrateError::Failed(e)) => Err(engine_error(*e)),
        Err(e @ MigrateError::RolledBack { .. }) => Err(CommandError::new(Exit::RolledBack, e)),
        Err(e @ MigrateError::NeedsRecover { .. }) => Err(CommandError::new(Exit::NeedsRecover, e)),
    }
}

/// Progress into the log: each step as it starts, the tree walk every 16384 entries.
fn progress_log() -> migrate::ProgressSink {
    migrate::ProgressSink(std::sync::Arc::new(|e: &migrate::ProgressEvent| {
        if e.done == 0 || e.done.is_multiple_of(16384) {
            tracing::info!(step = %e.step, "{}", e.message);
        }
    }))
}

fn print_plan(plan: &migrate::Plan) {
    crate::outln!("Preflight:");
    print_checks(&plan.preflight);
    if !plan.preflight.passed() {
        crate::outln!("\nThe migration would not start: fix the failed checks first.");
        crate::outln!("Dry run: nothing was changed.");
        return;
    }
    crate::outln!("\nSID map:");
    for (old, new) in &plan.sid_map {
        crate::outln!("  {old} -> {new}");
    }
    for step in &plan.steps {
        crate::outln!("\n{}:", step.step);
        for line in &step.summary {
            crate::outln!("  {line}");
        }
        for c in &step.changes {
            crate::outln!(
                "  {}\\{}: {} -> {}",
                c.key.rsplit('\\').next().unwrap_or(&c.key),
                c.value,
                c.before.as_deref().unwrap_or("(none)"),
                c.after.as_deref().unwrap_or("(deleted)")
            );
        }
    }
    crate::outln!("\nDry run: nothing was changed.");
}

fn print_outcome(o: &migrate::Outcome) {
    crate::outln!("Migrated {} to local account {}", o.old_sid, o.account);
    crate::outln!(
        "  {:<13}{} {}",
        "account:",
        if o.account_created {
            "created"
        } else {
            "existing"
        },
        o.new_sid
    );
    for done in &o.steps {
        crate::outln!("  {:<13}{}", format!("{}:", done.step()), done.summary());
        if let engine::journal::record::Done::Tree(t) = done {
            for e in &t.report.errors {
                crate::outln!("    not translated: {}: {}", e.path.display(), e.reason);
            }
        }
    }
    for a in &o.after {
        crate::outln!(
            "  {:<13}{}",
            format!("{:?}:", a.action),
            if a.ok {
                a.detail.clone()
            } else {
                format!("FAILED: {}", a.detail)
            }
        );
    }
    for w in &o.warnings {
        tracing::warn!("{w}");
    }
    crate::outln!("  {:<13}{}", "journal:", o.journal.display());
    crate::outln!(
        "Undo with: admu revert --root <VOLUME> --name {}",
        o.account
    );
}

#[derive(Serialize)]
struct Undone {
    action: &'static str,
    migrations: Vec<migrate::Unfinished>,
}

pub fn revert(args: RevertArgs, json: bool) -> Result<Exit, CommandError> {
    let mut host = args.target.open()?;
    let who = args.name.or(args.sid).unwrap_or_default();
    if args.dry_run {
        let found = migrate::find_revertible(&*host, &who).map_err(engine_error)?;
        if json {
            print_json(&Undone {
                action: "would revert",
                migrations: vec![found],
            })?;
        } else {
            crate::outln!(
                "would revert migration {}: {} back to {} (every step, last first, from the journal)",
                found.id,
                found.account.as_deref().unwrap_or("?"),
                found.old_sid.as_deref().unwrap_or("?")
            );
            crate::outln!("Dry run: nothing was changed.");
        }
        return Ok(Exit::Ok);
    }
    let _awake = crate::cmd::host::keep_awake(args.target.root.as_deref());
    let root = args.target.root.clone();
    let reverted = migrate::revert(&mut *host, &who).map_err(|e| match e {
        // Refused before any change.
        engine::Error::Journal(_)
        | engine::Error::Locked(_)
        | engine::Error::NotFound(_)
        | engine::Error::Refused(_) => engine_error(e),
        // A failure later leaves a journal that says how far the revert got.
        other => {
            crate::cmd::host::recover_at_next_start(root.as_deref(), true);
            CommandError::new(
                Exit::NeedsRecover,
                anyhow::anyhow!(
                    "{other}; the revert is journaled: run `admu recover` to finish it"
                ),
            )
        }
    })?;
    if json {
        print_json(&Undone {
            action: "reverted",
            migrations: vec![reverted],
        })?;
    } else {
        crate::outln!(
            "Reverted migration {}: the profile belongs to {} again; account {} removed",
            reverted.id,
            reverted.old_sid.as_deref().unwrap_or("?"),
            reverted.account.as_deref().unwrap_or("?")
        );
    }
    Ok(Exit::Ok)
}

pub fn recover(args: RecoverArgs, json: bool) -> Result<Exit, CommandError> {
    let mut host = args.target.open()?;
    let _awake = crate::cmd::host::keep_awake(args.target.root.as_deref());
    let done = migrate::recover(&mut *host).map_err(|e| match e {
        engine::Error::Journal(_) | engine::Error::Locked(_) => engine_error(e),
        other => CommandError::new(Exit::NeedsRecover, other),
    })?;
    // Everything is finished: the start-up task (if an earlier run left one) can go.
    crate::cmd::host::recover_at_next_start(args.target.root.as_deref(), false);
    if json {
        print_json(&Undone {
            action: "rolled back",
            migrations: done,
        })?;
    } else if done.is_empty() {
        crate::outln!(
            "Nothing to recover: no unfinished migration on {}",
            args.target.describe()
        );
    } else {
        for j in &done {
            let what = match j.status {
                migrate::Status::Reverted => "Finished the interrupted revert of migration",
                migrate::Status::Abandoned => "Closed empty journal of migration",
                _ => "Rolled back unfinished migration",
            };
            crate::outln!(
                "{what} {} (to {})",
                j.id,
                j.account.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(Exit::Ok)
}
