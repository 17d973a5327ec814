//! The JumpCloud options of `check` and `migrate`: turned into the engine's device
//! manager (`jumpcloud::manager::JumpCloudManager`). Secrets come from the environment
//! or files, never the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use engine::device::DeviceManager;
use engine::host::Volume;
use jumpcloud::manager::{
    BindOptions, Credentials, ManagerSettings, api_key_from_text, domain_wait,
};
use jumpcloud::{ApiKey, BaseUrl, Region};

use crate::exit::{CommandError, failed, usage};

/// JumpCloud: bind the migrated user to this device and report status.
#[derive(Debug, Args, Default)]
pub struct JcArgs {
    /// Bind the JumpCloud user to this device after the migration.
    #[arg(long)]
    jc_bind: bool,
    /// The JumpCloud username (default: --to).
    #[arg(long, value_name = "NAME")]
    jc_user: Option<String>,
    /// The JumpCloud user's id, when known (fleet runs): no lookup by name, which
    /// system context cannot do.
    #[arg(long, value_name = "ID")]
    jc_user_id: Option<String>,
    /// Bind as an administrator (sudo).
    #[arg(long, requires = "jc_bind")]
    jc_admin: bool,
    /// Make the user the device's primary user.
    #[arg(long, requires = "jc_bind")]
    jc_primary_user: bool,
    /// Report progress on the system record (`admu` attribute, description).
    #[arg(long)]
    jc_report_status: bool,
    /// The organisation, for a multi-tenant (MTP) API key.
    #[arg(long, value_name = "ID")]
    jc_org_id: Option<String>,
    /// The API's URL (https://…; http:// only for loopback test servers).
    #[arg(long, value_name = "URL", conflicts_with = "jc_region")]
    jc_url: Option<String>,
    /// The JumpCloud region.
    #[arg(long, value_enum)]
    jc_region: Option<JcRegion>,
    /// Read the API key from this file (default: the JC_API_KEY environment variable).
    #[arg(long, value_name = "FILE")]
    jc_api_key_file: Option<PathBuf>,
    /// Sign requests as the device (the agent's client.key) instead of an API key.
    #[arg(long, conflicts_with = "jc_api_key_file")]
    jc_system_context: bool,
    /// How long to wait for JumpCloud to see the device off the domain, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    jc_domain_wait: u64,
    /// Live Windows: install the JumpCloud agent first (connect key from JC_CONNECT_KEY
    /// or --jc-connect-key-file).
    #[arg(long)]
    jc_install_agent: bool,
    /// Read the connect key from this file.
    #[arg(long, value_name = "FILE", requires = "jc_install_agent")]
    jc_connect_key_file: Option<PathBuf>,
    /// Where to download the agent installer from (default: JumpCloud's CDN).
    #[arg(long, value_name = "URL", requires = "jc_install_agent")]
    jc_agent_url: Option<String>,
    /// The installer's SHA-256; the install is refused when the download differs.
    #[arg(long, value_name = "HEX", requires = "jc_install_agent")]
    jc_agent_sha256: Option<String>,
}

/// `--jc-region`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JcRegion {
    Us,
    Eu,
    In,
}

/// The API key from `--jc-api-key-file` or `JC_API_KEY` (never argv); `otherwise` ends
/// the message when neither is there.
pub fn read_api_key(file: Option<&Path>, otherwise: &str) -> Result<ApiKey, CommandError> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| usage(format!("--jc-api-key-file {}: {e}", f.display())))?,
        None => std::env::var("JC_API_KEY").map_err(|_| {
            usage(format!("the JumpCloud API key goes in the JC_API_KEY environment variable or a file given with --jc-api-key-file (never on the command line){otherwise}"))
        })?,
    };
    api_key_from_text(&text).ok_or_else(|| usage("the JumpCloud API key is empty"))
}

/// `--jc-url` or `--jc-region` (default US).
pub fn base_url_of(url: Option<&str>, region: Option<JcRegion>) -> Result<BaseUrl, CommandError> {
    Ok(match (url, region) {
        (Some(url), _) => BaseUrl::parse(url).map_err(|e| usage(format!("--jc-url: {e}")))?,
        (None, Some(JcRegion::Eu)) => Region::Eu.base_url(),
        (None, Some(JcRegion::In)) => Region::In.base_url(),
        (None, _) => Region::Us.base_url(),
    })
}

impl JcArgs {
    /// `--jc-install-agent`: installs the agent on the live system before anything else
    /// (refused offline: an agent is installed by running its installer on Windows).
    pub fn install_agent(&self, offline: bool) -> Result<(), CommandError> {
        if !self.jc_install_agent {
            return Ok(());
        }
        if offline {
            return Err(usage(
                "--jc-install-agent runs the agent's installer on the Windows admu runs on; \
                 offline (--root) it cannot: install the agent on the device, or copy its \
                 jcagent.conf onto the volume",
            ));
        }
        let text = match &self.jc_connect_key_file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| usage(format!("--jc-connect-key-file {}: {e}", f.display())))?,
            None => std::env::var("JC_CONNECT_KEY").map_err(|_| {
                usage("the connect key goes in JC_CONNECT_KEY or a file given with --jc-connect-key-file")
            })?,
        };
        let key = jumpcloud::ConnectKey::new(text.lines().next().unwrap_or_default());
        run_installer(self, key)
    }

    /// Whether any JumpCloud work was asked for.
    pub fn wanted(&self) -> bool {
        self.jc_bind || self.jc_report_status
    }

    /// The device manager for these options, or `None` when none was asked for.
    pub fn manager(
        &self,
        host: &dyn Volume,
        offline: bool,
        to: &str,
    ) -> Result<Option<Arc<dyn DeviceManager>>, CommandError> {
        self.manager_for(host, offline, to, self.jc_user_id.as_deref())
    }

    /// `--jc-url` or `--jc-region` (default US).
    pub fn base_url(&self) -> Result<BaseUrl, CommandError> {
        base_url_of(self.jc_url.as_deref(), self.jc_region)
    }

    /// Whether `--jc-system-context` was given.
    pub fn system_context(&self) -> bool {
        self.jc_system_context
    }

    /// The device manager, for the JumpCloud user `user_id` when it is known (the
    /// fleet's description entries carry it), else looked up by name.
    pub fn manager_for(
        &self,
        host: &dyn Volume,
        offline: bool,
        to: &str,
        user_id: Option<&str>,
    ) -> Result<Option<Arc<dyn DeviceManager>>, CommandError> {
        if !self.wanted() {
            return Ok(None);
        }
        let base = self.base_url()?;
        let credentials = if self.jc_system_context {
            Credentials::SystemContext
        } else {
            Credentials::ApiKey(read_api_key(
                self.jc_api_key_file.as_deref(),
                ", or use --jc-system-context",
            )?)
        };
        let settings = ManagerSettings {
            base,
            credentials,
            options: BindOptions {
                user: self.jc_user.clone().unwrap_or_else(|| to.to_string()),
                bind: self.jc_bind,
                admin: self.jc_admin,
                primary_user: self.jc_primary_user,
                report_status: self.jc_report_status,
                org_id: self.jc_org_id.clone(),
                domain_wait: domain_wait(self.jc_domain_wait),
            },
        };
        let manager = settings.open(host, offline).map_err(failed)?;
        let manager = match user_id.or(self.jc_user_id.as_deref()) {
            Some(id) => manager.with_user_id(id),
            None => manager,
        };
        Ok(Some(Arc::new(manager)))
    }
}

#[cfg(windows)]
fn run_installer(args: &JcArgs, key: jumpcloud::ConnectKey) -> Result<(), CommandError> {
    let mut opts = jumpcloud::install::InstallOptions::windows_default(key);
    if let Some(url) = &args.jc_agent_url {
        opts.msi_url = url.clone();
    }
    opts.expected_sha256 = args.jc_agent_sha256.clone();
    let mut progress = |p: &jumpcloud::install::InstallProgress| tracing::info!("agent: {p:?}");
    jumpcloud::install::install_agent(&opts, &mut progress).map_err(failed)?;
    Ok(())
}

#[cfg(not(windows))]
fn run_installer(_: &JcArgs, _: jumpcloud::ConnectKey) -> Result<(), CommandError> {
    Err(usage("--jc-install-agent works on Windows only"))
}
