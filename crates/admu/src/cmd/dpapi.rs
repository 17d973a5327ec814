//! `admu dpapi --root VOLUME --sid SID`: a user's DPAPI master keys (GUID, algorithms,
//! protectors, the preferred one and its expiry) and, given the old password
//! (`ADMU_OLD_PASSWORD` or `--old-password-file`) or the domain's backup key
//! (`--dpapi-backup-key`), whether each opens. Also what `admu migrate --dpapi` reads
//! its secrets with.

use std::path::{Path, PathBuf};

use clap::Args;
use dpapi::{BackupKey, MasterKeyFile, Preferred};
use engine::migrate::{DpapiSource, Secret};
use serde::Serialize;

use crate::cmd::print_json;
use crate::exit::{CommandError, Exit, usage};

/// The environment variable `--dpapi` reads the old account's password from.
pub const OLD_PASSWORD_VAR: &str = "ADMU_OLD_PASSWORD";

const PROTECT: &str = r"AppData\Roaming\Microsoft\Protect";

/// The old account's password: `--old-password-file` (first line) or
/// `ADMU_OLD_PASSWORD`; `None` when neither is there.
pub fn old_password(file: Option<&Path>) -> Result<Option<Secret>, CommandError> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            usage(format!(
                "--old-password-file {}: cannot read it: {e}",
                file.display()
            ))
        })?;
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() {
            return Err(usage(format!(
                "--old-password-file {}: the first line is empty",
                file.display()
            )));
        }
        return Ok(Some(Secret::new(line)));
    }
    Ok(std::env::var(OLD_PASSWORD_VAR)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new))
}

/// What opens the master keys: the backup key when given, else the old password.
pub fn source(
    backup_key: Option<&Path>,
    old_password_file: Option<&Path>,
) -> Result<Option<DpapiSource>, CommandError> {
    if let Some(pvk) = backup_key {
        return Ok(Some(DpapiSource::BackupKey(pvk.to_path_buf())));
    }
    Ok(old_password(old_password_file)?.map(DpapiSource::OldPassword))
}

/// A user's DPAPI master keys.
#[derive(Debug, Args)]
pub struct DpapiArgs {
    /// The mounted Windows volume.
    #[arg(long, value_name = "VOLUME")]
    root: PathBuf,
    /// The user's SID (the folder `Protect\<SID>` of the user's profile).
    #[arg(long, value_name = "SID")]
    sid: String,
    /// Read the old password from this file (first line) instead of ADMU_OLD_PASSWORD.
    #[arg(long, value_name = "FILE")]
    old_password_file: Option<PathBuf>,
    /// The domain's DPAPI backup private key (.pvk) to try on each key.
    #[arg(long, value_name = "FILE.pvk")]
    dpapi_backup_key: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct KeyRow {
    guid: String,
    file: String,
    cipher: Option<String>,
    hash: Option<String>,
    rounds: Option<u32>,
    policy: Option<u32>,
    /// Which protectors the file has: `password`, `backup` (the local backup block),
    /// `domain` (a domain backup block).
    protectors: Vec<&'static str>,
    /// The GUID of the domain backup key, when there is a domain backup block.
    domain_backup_key: Option<String>,
    preferred: bool,
    /// Whether it opens with what was given (`None`: nothing was given).
    opens: Option<bool>,
    /// Why it does not open, or why the file cannot be read.
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Listing {
    sid: String,
    folder: String,
    preferred: Option<String>,
    /// `Preferred`'s expiry (FILETIME) and as UTC text.
    preferred_expires: Option<u64>,
    preferred_expires_utc: Option<String>,
    /// `old_password`, `backup_key`, or none.
    tried_with: Option<&'static str>,
    master_keys: Vec<KeyRow>,
}

/// `YYYY-MM-DD hh:mm:ss` UTC of a FILETIME.
fn filetime_text(ft: u64) -> String {
    let secs = dpapi::preferred::unix_from_filetime(ft) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub fn run(args: DpapiArgs, json: bool) -> Result<Exit, CommandError> {
    let sid: ntsec::Sid = args
        .sid
        .parse()
        .map_err(|e| usage(format!("--sid {}: {e}", args.sid)))?;
    let host = crate::cmd::host::open(Some(&args.root))?;
    let profile = engine::migrate::find_source(&*host, &sid.to_string())
        .map_err(|e| CommandError::new(Exit::Failed, e))?;
    let folder = profile.host_path.clone().ok_or_else(|| {
        CommandError::new(
            Exit::Failed,
            anyhow::anyhow!("{}: the profile folder does not exist", profile.account),
        )
    })?;
    let rel = format!(r"{PROTECT}\{sid}");
    let dir = engine::paths::resolve(&folder, &rel).ok_or_else(|| {
        CommandError::new(
            Exit::Failed,
            anyhow::anyhow!("{}: no {rel} folder", folder.display()),
        )
    })?;
    let backup = match &args.dpapi_backup_key {
        Some(p) => Some(BackupKey::read_pvk(p).map_err(|e| {
            CommandError::new(Exit::Usage, anyhow::anyhow!("--dpapi-backup-key: {e}"))
        })?),
        None => None,
    };
    let password = if backup.is_none() {
        old_password(args.old_password_file.as_deref())?
    } else {
        None
    };
    let preferred = engine::paths::resolve(&dir, "Preferred")
        .map(|p| Preferred::read(&p))
        .transpose()
        .map_err(|e| CommandError::new(Exit::Failed, e))?;
    let preferred_guid = preferred.as_ref().map(|p| p.guid.to_string());
    let mut rows = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| CommandError::new(Exit::Failed, anyhow::anyhow!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.parse::<ntsec::Guid>().is_ok())
        })
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let mut row = KeyRow {
            preferred: preferred_guid.as_deref() == Some(name.as_str()),
            guid: name,
            file: path.display().to_string(),
            cipher: None,
            hash: None,
            rounds: None,
            policy: None,
            protectors: Vec::new(),
            domain_backup_key: None,
            opens: None,
            error: None,
        };
        match MasterKeyFile::read(&path) {
            Err(e) => row.error = Some(e.to_string()),
            Ok(file) => {
                if let Some(b) = &file.master_key {
                    row.cipher = Some(b.cipher_alg.to_string());
                    row.hash = Some(b.hash_alg.to_string());
                    row.rounds = Some(b.rounds);
                    row.protectors.push("password");
                }
                row.policy = Some(file.policy);
                if file.backup_key.is_some() {
                    row.protectors.push("backup");
                }
                if let Some(d) = &file.domain_key {
                    row.protectors.push("domain");
                    row.domain_backup_key = Some(d.key_guid.to_string());
                }
                let result = match (&backup, &password) {
                    (Some(k), _) => Some(file.decrypt_with_backup_key(k).map(|_| ())),
                    (None, Some(p)) => {
                        Some(file.decrypt_with_password(&sid, p.expose()).map(|_| ()))
                    }
                    (None, None) => None,
                };
                if let Some(r) = result {
                    row.opens = Some(r.is_ok());
                    row.error = r.err().map(|e| e.to_string());
                }
            }
        }
        rows.push(row);
    }
    let listing = Listing {
        sid: sid.to_string(),
        folder: dir.display().to_string(),
        preferred: preferred_guid,
        preferred_expires: preferred.as_ref().map(|p| p.expires),
        preferred_expires_utc: preferred.as_ref().map(|p| filetime_text(p.expires)),
        tried_with: match (&backup, &password) {
            (Some(_), _) => Some("backup_key"),
            (None, Some(_)) => Some("old_password"),
            _ => None,
        },
        master_keys: rows,
    };
    let failed = listing
        .master_keys
        .iter()
        .any(|k| k.opens == Some(false) || (k.cipher.is_none() && k.error.is_some()));
    if json {
        print_json(&listing)?;
    } else {
        crate::outln!("{}", listing.folder);
        if let (Some(p), Some(t)) = (&listing.preferred, &listing.preferred_expires_utc) {
            crate::outln!("  preferred {p}, expires {t}");
        }
        for k in &listing.master_keys {
            crate::outln!(
                "  {}{} {}/{} rounds {} protectors {}{}{}",
                k.guid,
                if k.preferred { " (preferred)" } else { "" },
                k.cipher.as_deref().unwrap_or("?"),
                k.hash.as_deref().unwrap_or("?"),
                k.rounds
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "?".into()),
                k.protectors.join("+"),
                match k.opens {
                    Some(true) => " — opens",
                    Some(false) => " — DOES NOT OPEN",
                    None => "",
                },
                k.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if failed { Exit::CheckFailed } else { Exit::Ok })
}
