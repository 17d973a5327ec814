//! JumpCloud as the migration engine's device manager (`engine::device::DeviceManager`,
//! with the `engine` feature): checks before anything changes, status on the system
//! record while the migration runs, the bind after the commit.
//!
//! [`ManagerSettings::open`] turns what an admin chose (the API's address, an API key or
//! the device's own signature, the bind options) into a manager for one volume; the
//! CLI's `--jc-*` flags and the window's JumpCloud fields both end there.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use engine::device::{DeviceManager, DeviceReport, DeviceState};
use engine::migrate::Check;

use crate::agent::{AgentConfig, AgentPaths};
use crate::base_url::BaseUrl;
use crate::client::{Auth, Client};
use crate::model::SystemUser;
use crate::ops::DomainWait;
use crate::secret::ApiKey;
use crate::signing::SystemSigner;
use crate::status::{DescriptionEntry, MigrationState};

/// What the migration asks of JumpCloud.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// The JumpCloud username (`--jc-user`, default the new local name).
    pub user: String,
    /// Bind after the commit (else only report status).
    pub bind: bool,
    /// Bind with admin (sudo) rights.
    pub admin: bool,
    /// Make the user the device's primary user.
    pub primary_user: bool,
    /// Report `admu` attribute and description entries.
    pub report_status: bool,
    /// The organisation for a multi-tenant key.
    pub org_id: Option<String>,
    /// How long to wait for the device to be seen off the domain before binding.
    pub domain_wait: DomainWait,
}

/// How a manager authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An administrator's API key.
    ApiKey(ApiKey),
    /// The device's own signature (the agent's `client.key` on the target).
    SystemContext,
}

/// Everything a manager needs besides the volume.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    pub base: BaseUrl,
    pub credentials: Credentials,
    pub options: BindOptions,
}

/// How long to wait for the device to be seen off the domain, polling at most every
/// 30 seconds.
pub fn domain_wait(secs: u64) -> DomainWait {
    DomainWait {
        poll_interval: Duration::from_secs(30.min(secs.max(1))),
        timeout: Duration::from_secs(secs),
    }
}

/// The API key in `text` (a file's or a variable's first line), or `None` when empty.
pub fn api_key_from_text(text: &str) -> Option<ApiKey> {
    let key = text.lines().next().unwrap_or_default().trim();
    (!key.is_empty()).then(|| ApiKey::new(key))
}

/// The agent's files on the target: on the volume offline, in Program Files live.
pub fn agent_paths(host: &dyn engine::host::Volume, offline: bool) -> AgentPaths {
    if offline {
        let dir = host
            .host_path(r"C:\Program Files\JumpCloud\Plugins\Contrib")
            .unwrap_or_else(|| PathBuf::from("Program Files/JumpCloud/Plugins/Contrib"));
        AgentPaths::in_dir(&dir)
    } else {
        AgentPaths::windows_default()
    }
}

impl ManagerSettings {
    /// The manager for the device on `host`: JumpCloud knows a device by its agent's
    /// system key, read from the agent's files on the target.
    pub fn open(
        self,
        host: &dyn engine::host::Volume,
        offline: bool,
    ) -> Result<JumpCloudManager, String> {
        let paths = agent_paths(host, offline);
        let agent = AgentConfig::load(&paths.conf).map_err(|e| {
            format!(
                "{e}. JumpCloud identifies this device by its agent's system key: install the \
                 agent first{}",
                if offline { "" } else { " (--jc-install-agent)" }
            )
        })?;
        let auth = match self.credentials {
            Credentials::SystemContext => Auth::System(
                SystemSigner::load(&agent, &paths.client_key).map_err(|e| e.to_string())?,
            ),
            Credentials::ApiKey(key) => Auth::ApiKey(key),
        };
        let client = Client::builder(self.base, auth)
            .user_agent(format!("admu/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(JumpCloudManager::new(
            client,
            agent.system_key.clone(),
            self.options,
        ))
    }
}

/// The JumpCloud side of one migration.
#[derive(Debug)]
pub struct JumpCloudManager {
    client: Mutex<Client>,
    system_key: String,
    options: BindOptions,
    /// Found by `check`.
    user: Mutex<Option<SystemUser>>,
}

impl JumpCloudManager {
    pub fn new(client: Client, system_key: String, options: BindOptions) -> JumpCloudManager {
        JumpCloudManager {
            client: Mutex::new(client),
            system_key,
            options,
            user: Mutex::new(None),
        }
    }

    /// The JumpCloud user is already known by id (a fleet's CSV or the description's
    /// `uid`): it is not looked up by name, which system context cannot do.
    pub fn with_user_id(self, user_id: &str) -> JumpCloudManager {
        if let Ok(mut guard) = self.user.lock() {
            *guard = Some(SystemUser {
                id: user_id.to_owned(),
                username: self.options.user.clone(),
                system_username: None,
            });
        }
        self
    }

    fn client(&self) -> engine::Result<std::sync::MutexGuard<'_, Client>> {
        self.client
            .lock()
            .map_err(|_| engine::Error::Invalid("JumpCloud client lock poisoned".into()))
    }

    fn user(&self) -> engine::Result<SystemUser> {
        if let Ok(guard) = self.user.lock()
            && let Some(u) = guard.as_ref()
        {
            return Ok(u.clone());
        }
        let found = self.client()?.find_user(&self.options.user).map_err(jc)?;
        if let Ok(mut guard) = self.user.lock() {
            *guard = Some(found.clone());
        }
        Ok(found)
    }
}

fn jc(e: crate::Error) -> engine::Error {
    engine::Error::Device(format!("JumpCloud: {e}"))
}

fn check(name: &'static str, result: std::result::Result<String, String>) -> Check {
    let (passed, reason) = match result {
        Ok(r) => (true, r),
        Err(r) => (false, r),
    };
    Check {
        name,
        passed,
        reason,
    }
}

impl DeviceManager for JumpCloudManager {
    fn name(&self) -> &str {
        "JumpCloud"
    }

    fn check(&self, local_name: &str) -> Vec<Check> {
        let mut checks = Vec::new();
        let org = self.client().map_err(|e| e.to_string()).and_then(|mut c| {
            if matches!(c.auth(), crate::client::Auth::System(_)) {
                // Signed as the device: its own organisation, nothing to choose.
                return Ok("system context: the device's own organisation".into());
            }
            c.select_organization(self.options.org_id.as_deref())
                .map(|o| format!("organisation {} ({})", o.name, o.id))
                .map_err(|e| e.to_string())
        });
        let org_ok = org.is_ok();
        checks.push(check("JumpCloud API key and organisation", org));
        if !org_ok {
            return checks;
        }
        let system = self.client().map_err(|e| e.to_string()).and_then(|c| {
            c.verify_system(&self.system_key)
                .map(|s| format!("this device is JumpCloud system {}", s.id))
                .map_err(|e| e.to_string())
        });
        checks.push(check("JumpCloud knows this device", system));
        match self.user() {
            Ok(u) => {
                checks.push(check(
                    "JumpCloud user exists",
                    Ok(format!("{} ({})", u.username, u.id)),
                ));
                let local = u.local_username().to_string();
                checks.push(check(
                    "JumpCloud's local account name matches",
                    if local.eq_ignore_ascii_case(local_name) {
                        Ok(format!("JumpCloud manages the local account {local}"))
                    } else {
                        Err(format!(
                            "JumpCloud user {} has the Local User Account name {local:?}: the \
                             agent would manage {local}, not {local_name}; migrate with \
                             --to {local}",
                            u.username
                        ))
                    },
                ));
            }
            Err(e) => checks.push(check("JumpCloud user exists", Err(e.to_string()))),
        }
        checks
    }

    fn report(&self, report: &DeviceReport<'_>) -> engine::Result<()> {
        if !self.options.report_status {
            return Ok(());
        }
        let state = match report.state {
            DeviceState::InProgress => MigrationState::InProgress,
            DeviceState::Complete => MigrationState::Complete,
            DeviceState::Error => MigrationState::Error,
        };
        let mut entry = DescriptionEntry::new(report.sid).with_state(state, report.message);
        entry.username = Some(report.username.to_string());
        entry.local_path = Some(report.local_path.replace('\\', "/"));
        entry.user_id = self
            .user
            .lock()
            .ok()
            .and_then(|u| u.as_ref().map(|u| u.id.clone()));
        self.client()?
            .report_status(&self.system_key, Some(state), Some(&entry))
            .map_err(jc)
    }

    fn bind(&self, left_domain: bool, progress: &dyn Fn(&str)) -> engine::Result<String> {
        if !self.options.bind {
            return Ok("status reported; no bind asked for".into());
        }
        let user = self.user()?;
        let client = self.client()?;
        if left_domain {
            progress("waiting until JumpCloud sees this device off the domain");
            client
                .wait_for_domain_leave(&self.system_key, self.options.domain_wait, &mut |p| {
                    progress(&format!(
                        "{} s, {} polls, part of domain: {:?}",
                        p.elapsed.as_secs(),
                        p.polls,
                        p.part_of_domain
                    ))
                })
                .map_err(jc)?;
        }
        client
            .bind_user(&user.id, &self.system_key, self.options.admin)
            .map_err(jc)?;
        let mut done = format!(
            "bound {} to this device{}",
            user.username,
            if self.options.admin {
                " as an administrator"
            } else {
                ""
            }
        );
        if self.options.primary_user {
            client
                .set_primary_user(&self.system_key, &user.id)
                .map_err(jc)?;
            done.push_str(", primary user");
        }
        Ok(done)
    }
}
