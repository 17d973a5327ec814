//! Installing the JumpCloud agent as ADMU does: download the MSI, check its SHA-256,
//! run `msiexec` with the connect key, wait for the `jumpcloud-agent` service to run
//! and for `jcagent.conf` to hold a `systemKey`.
//!
//! The plan (argument list, checksum, parsing `sc query`) is pure and tested
//! everywhere; [`install_agent`] (Windows only) carries it out.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rsa::sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::secret::{ConnectKey, REDACTED};

/// Where ADMU downloads the agent installer from.
pub const AGENT_MSI_URL: &str = "https://cdn02.jumpcloud.com/production/jcagent-msi-signed.msi";

/// The agent's Windows service name.
pub const AGENT_SERVICE: &str = "jumpcloud-agent";

/// The installer file name.
pub const AGENT_MSI_NAME: &str = "jcagent-msi-signed.msi";

/// Checks that a connect key can be put on the installer's command line safely
/// (letters and digits only).
pub fn validate_connect_key(key: &ConnectKey) -> Result<()> {
    let k = key.expose();
    if k.is_empty() {
        return Err(Error::InvalidConnectKey {
            reason: "it is empty".to_owned(),
        });
    }
    if k.len() > 256 {
        return Err(Error::InvalidConnectKey {
            reason: "it is too long".to_owned(),
        });
    }
    if !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidConnectKey {
            reason: "it may only contain letters and digits".to_owned(),
        });
    }
    Ok(())
}

/// The `msiexec` invocation. The arguments are meant to be passed verbatim (on
/// Windows with `CommandExt::raw_arg`): msiexec parses its own command line and wants
/// `PROPERTY="value with spaces"`, which ordinary argument quoting would break.
/// `Debug` and [`redacted`](Self::redacted) hide the connect key.
#[derive(Clone, PartialEq, Eq)]
pub struct MsiexecCommand {
    /// `msiexec.exe`.
    pub program: &'static str,
    args: Vec<String>,
    key: String,
}

impl MsiexecCommand {
    /// The raw arguments (they contain the connect key: do not log them).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The command line with the connect key replaced by `<redacted>`, for logs.
    pub fn redacted(&self) -> String {
        let mut line = String::from(self.program);
        for a in &self.args {
            line.push(' ');
            line.push_str(&a.replace(&self.key, REDACTED));
        }
        line
    }
}

impl fmt::Debug for MsiexecCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsiexecCommand")
            .field("command_line", &self.redacted())
            .finish()
    }
}

/// ADMU's installer command:
/// `msiexec /i "<msi>" /quiet /L "<log>" JCINSTALLERARGUMENTS="-k <ConnectKey> /VERYSILENT /NORESTART /NOCLOSEAPPLICATIONS"`.
pub fn msiexec_command(msi: &Path, log: &Path, key: &ConnectKey) -> Result<MsiexecCommand> {
    validate_connect_key(key)?;
    let quote = |p: &Path| -> Result<String> {
        let s = p.to_string_lossy();
        if s.contains('"') {
            return Err(Error::AgentInstall {
                reason: format!("the path {s:?} contains a quote"),
            });
        }
        Ok(format!("\"{s}\""))
    };
    let args = vec![
        "/i".to_owned(),
        quote(msi)?,
        "/quiet".to_owned(),
        "/L".to_owned(),
        quote(log)?,
        format!(
            "JCINSTALLERARGUMENTS=\"-k {} /VERYSILENT /NORESTART /NOCLOSEAPPLICATIONS\"",
            key.expose()
        ),
    ];
    Ok(MsiexecCommand {
        program: "msiexec.exe",
        args,
        key: key.expose().to_owned(),
    })
}

/// msiexec exit codes that mean success (0, 3010 = reboot required, 1641 = reboot started).
pub fn msiexec_succeeded(code: i32) -> bool {
    matches!(code, 0 | 3010 | 1641)
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of a file (streamed).
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Checks a file against an expected SHA-256 (hex, any case).
pub fn verify_sha256(path: &Path, expected: &str) -> Result<()> {
    let expected = expected.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::AgentInstall {
            reason: format!("the expected SHA-256 {expected:?} is not 64 hex digits"),
        });
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(Error::ChecksumMismatch {
            path: path.to_owned(),
            expected,
            actual,
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Windows service state, as `sc query` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// 1
    Stopped,
    /// 2
    StartPending,
    /// 3
    StopPending,
    /// 4
    Running,
    /// 5
    ContinuePending,
    /// 6
    PausePending,
    /// 7
    Paused,
}

/// The state in `sc query <service>` output (`STATE : 4  RUNNING`); `None` if the
/// service does not exist or the output has no state line.
pub fn parse_sc_query_state(output: &str) -> Option<ServiceState> {
    for line in output.lines() {
        let line = line.trim();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.trim() != "STATE" {
            continue;
        }
        let code: u32 = value.split_whitespace().next()?.parse().ok()?;
        return Some(match code {
            1 => ServiceState::Stopped,
            2 => ServiceState::StartPending,
            3 => ServiceState::StopPending,
            4 => ServiceState::Running,
            5 => ServiceState::ContinuePending,
            6 => ServiceState::PausePending,
            7 => ServiceState::Paused,
            _ => return None,
        });
    }
    None
}

/// Settings for [`install_agent`].
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The organisation's connect key.
    pub connect_key: ConnectKey,
    /// Installer URL (default [`AGENT_MSI_URL`]).
    pub msi_url: String,
    /// Expected SHA-256 of the installer, checked when given.
    pub expected_sha256: Option<String>,
    /// Where the installer is downloaded (`%SystemRoot%\Temp\JCADMU`).
    pub work_dir: PathBuf,
    /// msiexec's log file (`%SystemRoot%\Temp\jcUpdate.log`).
    pub log_path: PathBuf,
    /// `jcagent.conf` to wait for.
    pub conf_path: PathBuf,
    /// Timeout of the download.
    pub download_timeout: Duration,
    /// How long to wait for the installer to finish.
    pub installer_timeout: Duration,
    /// How long to wait for the service to run (ADMU: 9 min).
    pub service_timeout: Duration,
    /// How long to wait for `jcagent.conf` with a `systemKey` (ADMU: ~200 s).
    pub conf_timeout: Duration,
    /// Polling interval for service and config.
    pub poll_interval: Duration,
}

impl InstallOptions {
    /// ADMU's settings, with paths from `%SystemRoot%` and `%ProgramFiles%`.
    pub fn windows_default(connect_key: ConnectKey) -> InstallOptions {
        let system_root = std::env::var_os("SystemRoot")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
        let temp = system_root.join("Temp");
        InstallOptions {
            connect_key,
            msi_url: AGENT_MSI_URL.to_owned(),
            expected_sha256: None,
            work_dir: temp.join("JCADMU"),
            log_path: temp.join("jcUpdate.log"),
            conf_path: crate::agent::AgentPaths::windows_default().conf,
            download_timeout: Duration::from_secs(600),
            installer_timeout: Duration::from_secs(900),
            service_timeout: Duration::from_secs(540),
            conf_timeout: Duration::from_secs(200),
            poll_interval: Duration::from_secs(5),
        }
    }

    /// Where the installer goes.
    pub fn msi_path(&self) -> PathBuf {
        self.work_dir.join(AGENT_MSI_NAME)
    }
}

/// What [`install_agent`] is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallProgress {
    /// Downloading the installer.
    Downloading {
        /// From.
        url: String,
    },
    /// Downloaded (and checked, if a digest was given).
    Downloaded {
        /// Where.
        path: PathBuf,
        /// Its SHA-256.
        sha256: String,
    },
    /// msiexec started (command line with the key redacted).
    RunningInstaller {
        /// The command line.
        command_line: String,
    },
    /// msiexec finished.
    InstallerExited {
        /// Its exit code.
        code: i32,
    },
    /// Waiting for the service.
    WaitingForService {
        /// Time waited.
        elapsed: Duration,
        /// Its state, if it exists.
        state: Option<ServiceState>,
    },
    /// Waiting for `jcagent.conf` to hold a system key.
    WaitingForConfig {
        /// Time waited.
        elapsed: Duration,
    },
    /// Installed and registered.
    Done {
        /// The new system key.
        system_key: String,
    },
}

/// Whether `jcagent.conf` was written by this installation: it did not exist before,
/// or it changed since.
pub fn conf_is_fresh(
    before: Option<std::time::SystemTime>,
    now: Option<std::time::SystemTime>,
) -> bool {
    match (before, now) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(n)) => n > b,
    }
}

#[cfg(windows)]
pub use windows_impl::install_agent;

#[cfg(windows)]
mod windows_impl {
    use std::io::Write as _;
    use std::os::windows::process::CommandExt as _;
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use tracing::info;

    use super::*;
    use crate::agent::AgentConfig;

    /// Downloads, checks and installs the agent, then waits for it to register. Returns
    /// the new agent config.
    pub fn install_agent(
        opts: &InstallOptions,
        progress: &mut dyn FnMut(&InstallProgress),
    ) -> Result<AgentConfig> {
        validate_connect_key(&opts.connect_key)?;
        let msi = opts.msi_path();
        std::fs::create_dir_all(&opts.work_dir).map_err(|source| Error::Io {
            path: opts.work_dir.clone(),
            source,
        })?;
        progress(&InstallProgress::Downloading {
            url: opts.msi_url.clone(),
        });
        download(&opts.msi_url, &msi, opts.download_timeout)?;
        if let Some(expected) = &opts.expected_sha256 {
            verify_sha256(&msi, expected)?;
        }
        let sha256 = sha256_file(&msi)?;
        progress(&InstallProgress::Downloaded {
            path: msi.clone(),
            sha256,
        });

        let conf_before = modified(&opts.conf_path);
        let cmd = msiexec_command(&msi, &opts.log_path, &opts.connect_key)?;
        progress(&InstallProgress::RunningInstaller {
            command_line: cmd.redacted(),
        });
        info!(command = %cmd.redacted(), "running the JumpCloud agent installer");
        let mut command = Command::new(cmd.program);
        without_secrets(&mut command);
        for a in cmd.args() {
            command.raw_arg(a);
        }
        let mut child = command.spawn().map_err(|e| Error::AgentInstall {
            reason: format!("cannot start msiexec: {e}"),
        })?;
        let started = Instant::now();
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code().unwrap_or(-1),
                Ok(None) if started.elapsed() > opts.installer_timeout => {
                    return Err(Error::AgentInstall {
                        reason: format!(
                            "msiexec did not finish within {:?}; see {}",
                            opts.installer_timeout,
                            opts.log_path.display()
                        ),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(500)),
                Err(e) => {
                    return Err(Error::AgentInstall {
                        reason: format!("waiting for msiexec: {e}"),
                    });
                }
            }
        };
        progress(&InstallProgress::InstallerExited { code });
        if !msiexec_succeeded(code) {
            return Err(Error::AgentInstall {
                reason: format!(
                    "msiexec exited with {code}; see {} (is another installation running? is the connect key right?)",
                    opts.log_path.display()
                ),
            });
        }

        let start = Instant::now();
        loop {
            let state = service_state(AGENT_SERVICE);
            progress(&InstallProgress::WaitingForService {
                elapsed: start.elapsed(),
                state,
            });
            if state == Some(ServiceState::Running) {
                break;
            }
            if start.elapsed() + opts.poll_interval > opts.service_timeout {
                return Err(Error::AgentInstall {
                    reason: format!(
                        "the {AGENT_SERVICE} service is not running after {:?} (state {state:?}); see {}",
                        start.elapsed(),
                        opts.log_path.display()
                    ),
                });
            }
            std::thread::sleep(opts.poll_interval);
        }

        let start = Instant::now();
        loop {
            progress(&InstallProgress::WaitingForConfig {
                elapsed: start.elapsed(),
            });
            if conf_is_fresh(conf_before, modified(&opts.conf_path))
                && let Ok(conf) = AgentConfig::load(&opts.conf_path)
            {
                progress(&InstallProgress::Done {
                    system_key: conf.system_key.clone(),
                });
                return Ok(conf);
            }
            if start.elapsed() + opts.poll_interval > opts.conf_timeout {
                return Err(Error::AgentInstall {
                    reason: format!(
                        "the agent runs but {} has no systemKey after {:?}: it has not registered with JumpCloud (check the connect key and that the device reaches JumpCloud)",
                        opts.conf_path.display(),
                        start.elapsed()
                    ),
                });
            }
            std::thread::sleep(opts.poll_interval);
        }
    }

    /// The command without the variables that carried admu's secrets: the engine's list,
    /// in every admu build (admu enables the `engine` feature).
    fn without_secrets(command: &mut Command) -> &mut Command {
        #[cfg(feature = "engine")]
        engine::child_env::without_secrets(command);
        command
    }

    fn modified(path: &Path) -> Option<std::time::SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    fn service_state(name: &str) -> Option<ServiceState> {
        let out = without_secrets(&mut Command::new("sc.exe"))
            .args(["query", name])
            .output()
            .ok()?;
        parse_sc_query_state(&String::from_utf8_lossy(&out.stdout))
    }

    fn download(url: &str, dest: &Path, timeout: Duration) -> Result<()> {
        let fail = |reason: String| Error::AgentInstall {
            reason: format!("downloading {url}: {reason}"),
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(Duration::from_secs(30)))
            .https_only(true)
            .build()
            .new_agent();
        let mut response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
        let part = dest.with_extension("msi.part");
        let io = |source| Error::Io {
            path: part.clone(),
            source,
        };
        let mut file = std::fs::File::create(&part).map_err(io)?;
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024 * 1024)
            .reader();
        std::io::copy(&mut reader, &mut file).map_err(|e| fail(e.to_string()))?;
        file.flush().map_err(io)?;
        drop(file);
        std::fs::rename(&part, dest).map_err(|source| Error::Io {
            path: dest.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msiexec_args_as_admu() {
        let key = ConnectKey::new("abc123DEF");
        let cmd = msiexec_command(
            Path::new(r"C:\Windows\Temp\JCADMU\jcagent-msi-signed.msi"),
            Path::new(r"C:\Windows\Temp\jcUpdate.log"),
            &key,
        )
        .unwrap();
        assert_eq!(
            cmd.args(),
            [
                "/i",
                r#""C:\Windows\Temp\JCADMU\jcagent-msi-signed.msi""#,
                "/quiet",
                "/L",
                r#""C:\Windows\Temp\jcUpdate.log""#,
                r#"JCINSTALLERARGUMENTS="-k abc123DEF /VERYSILENT /NORESTART /NOCLOSEAPPLICATIONS""#,
            ]
        );
        let shown = format!("{cmd:?} {}", cmd.redacted());
        assert!(!shown.contains("abc123DEF"), "{shown}");
        assert!(shown.contains("-k <redacted> /VERYSILENT"), "{shown}");
    }

    #[test]
    fn connect_key_checked() {
        for bad in ["", "a b", "a\"b", "k&calc"] {
            assert!(
                validate_connect_key(&ConnectKey::new(bad)).is_err(),
                "{bad:?}"
            );
        }
        let e = msiexec_command(
            Path::new("a.msi"),
            Path::new("l"),
            &ConnectKey::new("x\" /qn"),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("/qn"));
    }

    #[test]
    fn checksum() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.msi");
        std::fs::write(&p, b"hello").unwrap();
        let h = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(sha256_hex(b"hello"), h);
        assert_eq!(sha256_file(&p).unwrap(), h);
        verify_sha256(&p, &h.to_uppercase()).unwrap();
        let e = verify_sha256(&p, &"0".repeat(64)).unwrap_err();
        assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
        assert!(verify_sha256(&p, "abc").is_err());
        assert!(matches!(
            verify_sha256(&dir.path().join("none"), h),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn sc_query() {
        let out = "\r\nSERVICE_NAME: jumpcloud-agent\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 4  RUNNING\r\n                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n";
        assert_eq!(parse_sc_query_state(out), Some(ServiceState::Running));
        assert_eq!(
            parse_sc_query_state("        STATE              : 2  START_PENDING"),
            Some(ServiceState::StartPending)
        );
        assert_eq!(
            parse_sc_query_state(
                "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n"
            ),
            None
        );
        assert!(msiexec_succeeded(3010) && !msiexec_succeeded(1603));
    }

    #[test]
    fn fresh_conf() {
        let t0 = std::time::SystemTime::UNIX_EPOCH;
        let t1 = t0 + Duration::from_secs(1);
        assert!(conf_is_fresh(None, Some(t0)));
        assert!(!conf_is_fresh(Some(t0), Some(t0)));
        assert!(conf_is_fresh(Some(t0), Some(t1)));
        assert!(!conf_is_fresh(None, None));
    }
}
