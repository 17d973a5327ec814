//! The PowerShell script of the fleet's JumpCloud Command(s).
//!
//! One script serves many devices: it holds each device's migrations keyed by its
//! JumpCloud system id (read from the agent's `jcagent.conf`), runs `admu.exe migrate … --jc-system-context --jc-report-status` for each of
//! them in turn, and `--leave-domain`/`--reboot` only with the last one, and only when
//! every earlier one succeeded. The text holds no secret: the device signs its API calls
//! with its own agent key, and each new account gets a random password generated on the
//! device (passed to admu in an environment variable, never on a command line) that the
//! JumpCloud agent replaces with the user's JumpCloud password when it takes the
//! account over after the bind.
//!
//! JumpCloud refuses commands over 32,767 characters: [`split`] packs whole devices into
//! as many scripts as needed (`name`, `name (2)`, `name (3)`, …).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jumpcloud::COMMAND_TEXT_LIMIT;
use serde::Serialize;

use crate::plan::Plan;

/// Where the admu.exe the devices run comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExeSource {
    /// The MSI's `C:\Program Files\admu\admu.exe`.
    Installed,
    /// Downloaded from a URL the admin controls, run only if its SHA-256 matches.
    Download {
        /// `https://…`.
        url: String,
        /// 64 hex digits.
        sha256: String,
    },
}

/// The installed admu.exe.
pub const INSTALLED_EXE: &str = r"C:\Program Files\admu\admu.exe";
/// The folder a downloaded admu.exe is put in, under a random name: below Program
/// Files, where only administrators can create files (in `C:\Windows\Temp` any user
/// could create the file first and swap it after the hash check).
pub const DOWNLOAD_DIR: &str = r"C:\Program Files\admu\fleet";
/// The variable the device's random password is passed in.
pub const PASSWORD_VAR: &str = "ADMU_FLEET_PASSWORD";
/// The agent's configuration (the system key).
pub const AGENT_CONF: &str = r"C:\Program Files\JumpCloud\Plugins\Contrib\jcagent.conf";

/// What every device's migrations are run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptOptions {
    /// The command's name (the first part's; later parts add ` (2)`, …).
    pub name: String,
    /// `--jc-url URL` or `--jc-region R` for the device (empty: admu's default, US).
    pub api: Vec<String>,
    /// `--jc-bind`.
    pub bind: bool,
    /// `--jc-admin`.
    pub admin: bool,
    /// `--jc-primary-user`.
    pub primary_user: bool,
    /// `--logoff` (nobody is signed out without it).
    pub logoff: bool,
    /// `--leave-domain` after the last migration.
    pub leave_domain: bool,
    /// `--reboot=SECS` after the last migration.
    pub reboot: Option<u32>,
    /// The exe.
    pub exe: ExeSource,
}

/// One device's share of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// JumpCloud system id.
    pub system_id: String,
    /// Hostname (for whoever reads the script; the device goes by its system key).
    pub hostname: String,
    /// Per migration, the arguments after `migrate` that are its own.
    pub runs: Vec<Vec<String>>,
}

/// A script and the systems it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    /// The command's name.
    pub name: String,
    /// The PowerShell text.
    pub text: String,
    /// The systems to bind and run it on.
    pub system_ids: Vec<String>,
}

/// The jobs of a plan: every device with rows to migrate.
pub fn jobs(plan: &Plan) -> Vec<Job> {
    plan.active()
        .map(|d| Job {
            system_id: d.system_id.clone(),
            hostname: d.hostname.clone(),
            runs: d
                .to_migrate()
                .map(|p| {
                    vec![
                        "--from".into(),
                        p.row.sid.clone(),
                        "--to".into(),
                        p.row.local_username.clone(),
                        "--jc-user".into(),
                        p.row.jump_cloud_user_name.clone(),
                        "--jc-user-id".into(),
                        p.row.jump_cloud_user_id.clone(),
                    ]
                })
                .collect(),
        })
        .collect()
}

/// The arguments every migration gets.
pub fn common_args(o: &ScriptOptions) -> Vec<String> {
    let mut v: Vec<String> = vec!["--jc-system-context".into(), "--jc-report-status".into()];
    v.extend(o.api.iter().cloned());
    for (on, flag) in [
        (o.bind, "--jc-bind"),
        (o.admin, "--jc-admin"),
        (o.primary_user, "--jc-primary-user"),
        (o.logoff, "--logoff"),
    ] {
        if on {
            v.push(flag.into());
        }
    }
    v.push("--password-env".into());
    v.push(PASSWORD_VAR.into());
    v
}

/// The arguments only the last migration of a device gets.
pub fn tail_args(o: &ScriptOptions) -> Vec<String> {
    let mut v = Vec::new();
    if o.leave_domain {
        v.push("--leave-domain".to_owned());
    }
    if let Some(secs) = o.reboot {
        v.push(format!("--reboot={secs}"));
    }
    v
}

/// A PowerShell string expression for `s`, in ASCII only: a single-quoted string (every
/// kind of single quote PowerShell knows is doubled, so nothing can end it early), or,
/// for text with other characters, its UTF-8 decoded from base64 at run time. Windows
/// PowerShell reads a script file without a byte order mark in the ANSI code page, where
/// the bytes of a UTF-8 character can become a quote; ASCII reads the same everywhere.
pub fn ps_quote(s: &str) -> String {
    if !s.is_ascii() {
        return format!("{BASE64_OPEN}{}{BASE64_CLOSE}", BASE64.encode(s));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// What [`ps_quote`] puts around the base64 of a non-ASCII string.
pub(crate) const BASE64_OPEN: &str =
    "([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('";
pub(crate) const BASE64_CLOSE: &str = "')))";

fn ps_array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| ps_quote(s)).collect();
    format!("@({})", quoted.join(","))
}

fn job_text(job: &Job) -> String {
    let mut t = format!(
        "{} = @{{ Host = {}; Runs = @(\n",
        ps_quote(&job.system_id),
        ps_quote(&job.hostname)
    );
    for r in &job.runs {
        t.push_str(&format!("  ,{}\n", ps_array(r)));
    }
    t.push_str(") }\n");
    t
}

/// The script for these jobs.
pub fn render(o: &ScriptOptions, name: &str, jobs: &[Job]) -> String {
    // The name goes into a comment: no line break may end it, and the script stays
    // ASCII (see `ps_quote`).
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    let mut t = format!(
        "# {}: admu fleet migration, generated by admu {}.\n# Runs as SYSTEM. No secrets: the device signs with its agent key; passwords are made on the device.\n$ErrorActionPreference = 'Stop'\n$jobs = @{{\n",
        name,
        env!("CARGO_PKG_VERSION")
    );
    for j in jobs {
        t.push_str(&job_text(j));
    }
    t.push_str("}\n");
    t.push_str(&format!("$common = {}\n", ps_array(&common_args(o))));
    t.push_str(&format!("$tail = {}\n", ps_array(&tail_args(o))));
    t.push_str(&dispatch_text());
    t.push_str(&exe_text(&o.exe));
    t.push_str(&run_text());
    t
}

/// Picks this device's job by its JumpCloud system key (unique per device; the host
/// name is not: fleets have duplicates, and `COMPUTERNAME` is cut to 15 characters).
fn dispatch_text() -> String {
    format!(
        r#"$dir = $null
$key = $null
try {{ $key = (Get-Content -LiteralPath {conf} -Raw | ConvertFrom-Json).systemKey }} catch {{ }}
if (-not $key) {{ Write-Output "admu: cannot read this device's JumpCloud system key from {conf_text}; not run"; exit 1 }}
$job = $jobs[$key]
if (-not $job) {{ Write-Output "admu: nothing to migrate on system $key ($env:COMPUTERNAME)"; exit 0 }}
"#,
        conf = ps_quote(AGENT_CONF),
        conf_text = AGENT_CONF
    )
}

fn exe_text(exe: &ExeSource) -> String {
    match exe {
        ExeSource::Installed => format!(
            "$exe = {}\nif (-not (Test-Path -LiteralPath $exe)) {{ Write-Output \"admu: $exe is missing: install admu.msi first\"; exit 1 }}\n",
            ps_quote(INSTALLED_EXE)
        ),
        ExeSource::Download { url, sha256 } => format!(
            r#"$dir = {dir}
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$exe = Join-Path $dir ('admu-' + [guid]::NewGuid().ToString('N') + '.exe')
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
try {{ Invoke-WebRequest -Uri {url} -OutFile $exe -UseBasicParsing }} catch {{ Write-Output "admu: download failed: $_"; exit 1 }}
$hash = (Get-FileHash -Algorithm SHA256 -LiteralPath $exe).Hash
if ($hash -ne {sha}) {{ Remove-Item -LiteralPath $exe -Force; Write-Output "admu: the download's SHA-256 is $hash, not the pinned one; not run"; exit 1 }}
"#,
            dir = ps_quote(DOWNLOAD_DIR),
            url = ps_quote(url),
            sha = ps_quote(&sha256.to_ascii_uppercase())
        ),
    }
}

fn run_text() -> String {
    format!(
        r#"# admu logs on stderr: not an error for PowerShell; its exit code says how it went.
$ErrorActionPreference = 'Continue'
$failed = 0
$runs = @($job.Runs)
for ($i = 0; $i -lt $runs.Count; $i++) {{
  $rng = [Security.Cryptography.RandomNumberGenerator]::Create()
  $bytes = New-Object byte[] 24
  $rng.GetBytes($bytes)
  $env:{var} = [Convert]::ToBase64String($bytes) + 'aA1!'
  $a = @('migrate') + $runs[$i] + $common
  if ($i -eq $runs.Count - 1 -and $failed -eq 0) {{ $a += $tail }}
  & $exe @a
  $code = $LASTEXITCODE
  Remove-Item -LiteralPath Env:\{var} -ErrorAction SilentlyContinue
  Write-Output "admu: $($runs[$i][1]) -> $($runs[$i][3]): exit $code"
  if ($code -ne 0) {{ $failed++ }}
}}
# A failed run may have registered `admu recover` from this exe at start-up: keep it then.
if ($dir -and $failed -eq 0) {{ Remove-Item -LiteralPath $exe -Force -ErrorAction SilentlyContinue }}
if ($failed -gt 0) {{ exit 1 }}
exit 0
"#,
        var = PASSWORD_VAR
    )
}

/// The name of part `i` (0-based).
pub fn part_name(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_owned()
    } else {
        format!("{base} ({})", i + 1)
    }
}

/// Packs the jobs into scripts of at most [`COMMAND_TEXT_LIMIT`] characters, whole
/// devices each. An error when one device's migrations alone do not fit.
pub fn split(o: &ScriptOptions, jobs: &[Job]) -> Result<Vec<Script>, String> {
    let mut scripts: Vec<Script> = Vec::new();
    let mut current: Vec<Job> = Vec::new();
    let fits = |jobs: &[Job], i: usize| {
        render(o, &part_name(&o.name, i), jobs).chars().count() <= COMMAND_TEXT_LIMIT
    };
    for job in jobs {
        current.push(job.clone());
        if fits(&current, scripts.len()) {
            continue;
        }
        current.pop();
        if current.is_empty() {
            return Err(format!(
                "the migrations of system {} ({}) alone make a command longer than JumpCloud's {COMMAND_TEXT_LIMIT} characters",
                job.system_id, job.hostname
            ));
        }
        let done = std::mem::take(&mut current);
        scripts.push(finish(o, scripts.len(), &done));
        current.push(job.clone());
        if !fits(&current, scripts.len()) {
            return Err(format!(
                "the migrations of system {} ({}) alone make a command longer than JumpCloud's {COMMAND_TEXT_LIMIT} characters",
                job.system_id, job.hostname
            ));
        }
    }
    if !current.is_empty() {
        scripts.push(finish(o, scripts.len(), &current));
    }
    Ok(scripts)
}

fn finish(o: &ScriptOptions, i: usize, jobs: &[Job]) -> Script {
    let name = part_name(&o.name, i);
    Script {
        text: render(o, &name, jobs),
        name,
        system_ids: jobs.iter().map(|j| j.system_id.clone()).collect(),
    }
}
