//! `admu accounts …`: the local accounts of an offline Windows volume, and (experimental)
//! creating one in its SAM.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use engine::host::MachineHive;
use offline::OfflineHost;
use sam::{NewUser, Sam};
use serde::Serialize;

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit};

/// Local accounts of a mounted Windows volume: list them (RID, SID, flags, groups, last
/// logon) or add one.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AccountsArgs {
    #[command(subcommand)]
    command: Option<AccountsCommand>,
    /// The root of the mounted Windows volume (holds Windows/System32/config/SAM).
    #[arg(long, value_name = "VOLUME", required = true)]
    root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// EXPERIMENTAL: create a local account in the offline SAM (not yet verified by a
    /// Windows boot). The password comes from a file or an environment variable, never
    /// from the command line.
    Add(AddArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The root of the mounted Windows volume.
    #[arg(long, value_name = "VOLUME")]
    root: PathBuf,
    /// The account name (at most 20 characters, none of "/\[]:;|=,+*?<>@).
    #[arg(long)]
    name: String,
    /// Read the password from this file (one trailing newline is ignored).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "password_env",
        required_unless_present = "password_env"
    )]
    password_file: Option<PathBuf>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Also make the account a member of Administrators.
    #[arg(long)]
    admin: bool,
    /// The full name shown at sign-in.
    #[arg(long, default_value = "")]
    full_name: String,
    /// The account's description.
    #[arg(long, default_value = "Created by admu")]
    comment: String,
}

pub fn run(args: AccountsArgs, json: bool) -> Result<Exit, CommandError> {
    match (args.command, args.root) {
        (Some(AccountsCommand::Add(add)), _) => run_add(add, json),
        (None, Some(root)) => list(&root, json),
        (None, None) => Err(CommandError::new(
            Exit::Usage,
            anyhow::anyhow!("--root VOLUME is required"),
        )),
    }
}

/// One row of the listing.
#[derive(Debug, Serialize)]
struct Row {
    rid: u32,
    sid: String,
    name: String,
    full_name: String,
    comment: String,
    flags: u32,
    flag_names: Vec<&'static str>,
    disabled: bool,
    admin: bool,
    has_password: bool,
    groups: Vec<String>,
    last_logon: Option<String>,
    password_last_set: Option<String>,
    logon_count: u16,
}

#[derive(Debug, Serialize)]
struct Listing {
    sam: PathBuf,
    system: Option<PathBuf>,
    computer_name: Option<String>,
    machine_sid: String,
    scheme: sam::KeyScheme,
    next_rid: u32,
    users: Vec<Row>,
}

fn open_failed(e: sam::Error) -> CommandError {
    CommandError::new(Exit::Failed, e)
}

/// The SAM and SYSTEM files of a volume, found (case-insensitively, after the volume
/// checks) the way every command finds them.
struct Hives {
    sam: PathBuf,
    system: Option<PathBuf>,
}

fn find_hives(root: &Path) -> Result<Hives, CommandError> {
    let host = OfflineHost::open(root).map_err(|e| CommandError::new(Exit::Failed, e))?;
    let sam = host
        .hive_path(MachineHive::Sam)
        .map_err(|e| CommandError::new(Exit::Failed, e))?;
    Ok(Hives {
        sam,
        system: host.hive_path(MachineHive::System).ok(),
    })
}

fn list(root: &Path, json: bool) -> Result<Exit, CommandError> {
    let hives = find_hives(root)?;
    let sam = Sam::open(&hives.sam).map_err(open_failed)?;
    // The SYSTEM only names the computer here; a missing or unreadable one is not fatal.
    let computer_name = match &hives.system {
        Some(path) => match sam::SystemInfo::open(path) {
            Ok(info) => info.computer_name,
            Err(e) => {
                tracing::warn!("cannot read the computer name: {e}");
                None
            }
        },
        None => None,
    };
    let aliases = sam.aliases().map_err(open_failed)?;
    let mut users = Vec::new();
    for user in sam.users().map_err(open_failed)? {
        let groups: Vec<&sam::Alias> = aliases
            .iter()
            .filter(|a| a.members.contains(&user.sid))
            .collect();
        users.push(Row {
            rid: user.rid,
            sid: user.sid.to_string(),
            name: user.name.clone(),
            full_name: user.full_name.clone(),
            comment: user.comment.clone(),
            flags: user.flags,
            flag_names: sam::flags::names(user.flags),
            disabled: user.disabled(),
            admin: groups.iter().any(|a| {
                a.domain == sam::AliasDomain::Builtin && a.rid == sam::alias::ADMINISTRATORS
            }),
            has_password: user.has_password,
            groups: groups.iter().map(|a| a.name.clone()).collect(),
            last_logon: user.last_logon.map(hive::export::filetime_to_rfc3339),
            password_last_set: user
                .password_last_set
                .map(hive::export::filetime_to_rfc3339),
            logon_count: user.logon_count,
        });
    }
    let listing = Listing {
        machine_sid: sam.machine_sid().map_err(open_failed)?.to_string(),
        scheme: sam.scheme().map_err(open_failed)?,
        next_rid: sam.next_rid().map_err(open_failed)?,
        sam: hives.sam,
        system: hives.system,
        computer_name,
        users,
    };
    if json {
        print_json(&listing)?;
    } else {
        print_listing(&listing);
    }
    Ok(Exit::Ok)
}

fn print_listing(l: &Listing) {
    crate::outln!(
        "Computer     {}",
        l.computer_name
            .as_deref()
            .unwrap_or("(unknown: no readable SYSTEM hive)")
    );
    crate::outln!("Machine SID  {}", l.machine_sid);
    let scheme = match l.scheme {
        sam::KeyScheme::Aes => "AES",
        sam::KeyScheme::Rc4 => "RC4",
    };
    crate::outln!(
        "SAM          {} ({scheme} scheme, next RID {})",
        l.sam.display(),
        l.next_rid
    );
    crate::outln!();
    let or_dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
    let rows: Vec<[String; 5]> = l
        .users
        .iter()
        .map(|u| {
            let flags = u
                .flag_names
                .iter()
                .filter(|f| **f != "normal")
                .copied()
                .collect::<Vec<_>>()
                .join(",");
            let logon = u
                .last_logon
                .as_deref()
                .map_or_else(|| "never".to_string(), |t| t[..16].replace('T', " "));
            [
                u.rid.to_string(),
                u.name.clone(),
                or_dash(flags),
                or_dash(u.groups.join(",")),
                logon,
            ]
        })
        .collect();
    let header = ["RID", "Name", "Flags", "Groups", "Last logon"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        crate::outln!("{}", cells.join("  ").trim_end());
    }
}

/// The password, from a file (its first line) or an environment variable.
fn read_password(args: &AddArgs) -> Result<String, CommandError> {
    crate::cmd::read_password(args.password_file.as_deref(), args.password_env.as_deref())?
        .ok_or_else(|| {
            CommandError::new(
                Exit::Usage,
                anyhow::anyhow!("give exactly one of --password-file and --password-env"),
            )
        })
}

#[derive(Debug, Serialize)]
struct Added {
    sam: PathBuf,
    rid: u32,
    sid: String,
    name: String,
    groups: Vec<String>,
    experimental: &'static str,
}

const EXPERIMENTAL: &str =
    "offline account creation is experimental: not yet verified by a Windows boot";

fn run_add(args: AddArgs, json: bool) -> Result<Exit, CommandError> {
    sam::validate_name(&args.name).map_err(open_failed)?;
    let password = read_password(&args)?;
    let hives = find_hives(&args.root)?;
    let system = hives.system.as_ref().ok_or_else(|| {
        open_failed(sam::Error::NeedSystem {
            file: hives.sam.display().to_string(),
        })
    })?;
    let mut sam = Sam::open_with_system(&hives.sam, system).map_err(open_failed)?;
    // The SAM is about to change: one mutating admu at a time per volume.
    let host = OfflineHost::open(&args.root).map_err(|e| CommandError::new(Exit::Failed, e))?;
    let _lock = engine::migrate::store::lock_volume(&host, "accounts add")
        .map_err(crate::exit::engine_error)?;
    let user = sam
        .create_user(&NewUser {
            name: &args.name,
            full_name: &args.full_name,
            comment: &args.comment,
            password: Some(&password),
            admin: args.admin,
            ..NewUser::default()
        })
        .map_err(open_failed)?;
    sam.save_with(hive::SaveOptions {
        before_rename: Some(&keep_file_security),
        ..Default::default()
    })
    .map_err(open_failed)?;
    tracing::warn!("{EXPERIMENTAL}");
    let groups = sam
        .aliases_of(&user.sid)
        .map_err(open_failed)?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let added = Added {
        sam: hives.sam,
        rid: user.rid,
        sid: user.sid.to_string(),
        name: user.name,
        groups,
        experimental: EXPERIMENTAL,
    };
    if json {
        print_json(&added)?;
    } else {
        crate::outln!(
            "created {} (RID {}, {}) in {}; groups: {}",
            added.name,
            added.rid,
            added.sid,
            added.sam.display(),
            added.groups.join(", ")
        );
    }
    Ok(Exit::Ok)
}

/// Gives the new SAM file the security descriptor of the one it replaces, when the
/// volume is NTFS (a plain copy of the hives has none to keep).
fn keep_file_security(tmp: &Path, target: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use ntsec::FileSecurity;
        if let Ok(backend) = ntfs3g::NtfsXattr::detect(target) {
            let mut descriptor = Vec::new();
            backend.read(target, &mut descriptor)?;
            backend.write(tmp, &descriptor)?;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (tmp, target);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `admu accounts …` as the binary parses it.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Top {
        Accounts(AccountsArgs),
    }

    fn parse(args: &[&str]) -> Result<AccountsArgs, clap::Error> {
        let Top::Accounts(a) = Cli::try_parse_from([&["admu", "accounts"], args].concat())?.command;
        Ok(a)
    }

    /// A volume with a generated Windows 10 SAM + SYSTEM under `Windows/System32/config`.
    fn volume(seed: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let pair = sam::generate_pair(&sam::PairSpec {
            seed: Some(seed),
            ..sam::PairSpec::default()
        })
        .unwrap();
        let files = pair
            .write_to(&dir.path().join("Windows/System32/config"))
            .unwrap();
        (dir, files.sam, files.system)
    }

    fn add(root: &Path, name: &str, extra: &[&str]) -> Result<Exit, CommandError> {
        let root = root.to_str().unwrap();
        let args = [&["add", "--root", root, "--name", name], extra].concat();
        run(parse(&args).unwrap(), false)
    }

    #[test]
    fn command_line_shapes() {
        let list = parse(&["--root", "/mnt/win"]).unwrap();
        assert!(list.command.is_none() && list.root.is_some());
        let a = parse(&[
            "add",
            "--root",
            "/v",
            "--name",
            "x",
            "--password-env",
            "P",
            "--admin",
        ])
        .unwrap();
        assert!(matches!(
            a.command,
            Some(AccountsCommand::Add(AddArgs { admin: true, .. }))
        ));
        assert!(parse(&[]).is_err(), "--root is required for the listing");
        assert!(
            parse(&["add", "--root", "/v", "--name", "x"]).is_err(),
            "a password source is required"
        );
        let both = [
            "add",
            "--root",
            "/v",
            "--name",
            "x",
            "--password-env",
            "P",
            "--password-file",
            "f",
        ];
        assert!(parse(&both).is_err());
        assert!(
            parse(&["add", "--root", "/v", "--name", "x", "--password", "p"]).is_err(),
            "never on the command line"
        );
    }

    #[test]
    fn list_and_add_on_a_volume() {
        let (dir, sam_path, system_path) = volume(21);
        assert_eq!(list(dir.path(), true).unwrap(), Exit::Ok);
        assert_eq!(list(dir.path(), false).unwrap(), Exit::Ok);
        let pw = dir.path().join("pw.txt");
        std::fs::write(&pw, "Winter2024!\r\n").unwrap();
        let exit = add(
            dir.path(),
            "alice",
            &["--password-file", pw.to_str().unwrap(), "--admin"],
        )
        .unwrap();
        assert_eq!(exit, Exit::Ok);
        let s = Sam::open_with_system(&sam_path, &system_path).unwrap();
        let alice = s.user_by_name("alice").unwrap();
        assert!(
            s.verify_password(alice.rid, "Winter2024!").unwrap(),
            "one trailing newline is not part of it"
        );
        let groups: Vec<String> = s
            .aliases_of(&alice.sid)
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(groups, ["Administrators", "Users"]);
        assert_eq!(alice.comment, "Created by admu");
        // --password-env: tests cannot set variables (`set_var` is unsafe), so name one
        // the process already has.
        let (var, value) = std::env::vars().find(|(_, v)| !v.is_empty()).unwrap();
        assert_eq!(
            add(dir.path(), "bob", &["--password-env", &var]).unwrap(),
            Exit::Ok
        );
        let s = Sam::open_with_system(&sam_path, &system_path).unwrap();
        let bob = s.user_by_name("bob").unwrap();
        assert!(s.verify_password(bob.rid, &value).unwrap());
        assert!(
            !s.aliases_of(&bob.sid)
                .unwrap()
                .iter()
                .any(|a| a.name == "Administrators")
        );
    }

    #[test]
    fn bad_input_is_refused_and_nothing_is_written() {
        let (dir, sam_path, system_path) = volume(22);
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "pw").unwrap();
        let pw = pw.to_str().unwrap().to_string();
        let before = std::fs::read(&sam_path).unwrap();
        let failing: [(&str, Exit); 5] = [
            ("administrator", Exit::Failed),
            ("Remote Desktop Users", Exit::Failed),
            ("abcdefghijklmnopqrstu", Exit::Failed),
            ("bad|name", Exit::Failed),
            ("...", Exit::Failed),
        ];
        for (name, exit) in failing {
            let err = add(dir.path(), name, &["--password-file", &pw]).unwrap_err();
            assert_eq!(err.exit, exit, "{name}: {:#}", err.error);
            assert_eq!(
                std::fs::read(&sam_path).unwrap(),
                before,
                "{name}: the SAM changed"
            );
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = add(
            dir.path(),
            "alice",
            &["--password-file", empty.to_str().unwrap()],
        )
        .unwrap_err();
        assert_eq!(err.exit, Exit::Usage);

        // A SYSTEM from another machine.
        let (_other, _, other_system) = volume(23);
        std::fs::copy(&other_system, &system_path).unwrap();
        let err = add(dir.path(), "alice", &["--password-file", &pw]).unwrap_err();
        assert!(format!("{:#}", err.error).contains("not from the same Windows installation"));
        // No SYSTEM at all.
        std::fs::remove_file(&system_path).unwrap();
        let err = add(dir.path(), "alice", &["--password-file", &pw]).unwrap_err();
        assert!(
            format!("{:#}", err.error).contains("SYSTEM"),
            "{:#}",
            err.error
        );
        assert_eq!(std::fs::read(&sam_path).unwrap(), before);
        // Listing still works without a SYSTEM; a folder without a SAM does not.
        assert_eq!(list(dir.path(), false).unwrap(), Exit::Ok);
        assert!(list(&dir.path().join("Windows"), false).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_sam_keeps_its_ntfs_security_descriptor() {
        let Some(vol) = testbed::NtfsImage::for_test("the_sam_keeps_its_ntfs_security_descriptor")
        else {
            return;
        };
        let pair = sam::generate_pair(&sam::PairSpec {
            seed: Some(24),
            ..sam::PairSpec::default()
        })
        .unwrap();
        let files = pair
            .write_to(&vol.path().join("Windows/System32/config"))
            .unwrap();
        let sd = ntsec::SecurityDescriptor::from_sddl("O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)")
            .unwrap()
            .to_bytes()
            .unwrap();
        testbed::write_ntfs_acl(&files.sam, &sd).unwrap();
        let pw = vol.scratch().join("pw");
        std::fs::write(&pw, "pw").unwrap();
        assert_eq!(
            add(
                vol.path(),
                "alice",
                &["--password-file", pw.to_str().unwrap()]
            )
            .unwrap(),
            Exit::Ok
        );
        assert_eq!(testbed::read_ntfs_acl(&files.sam).unwrap(), sd);
        assert!(Sam::open(&files.sam).unwrap().user_by_name("alice").is_ok());
    }
}
