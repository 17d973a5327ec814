//! A blocking JumpCloud API client for admu: choose the organisation, check the device's
//! system record, find a user by exact username, bind the user to the device (as user
//! or admin, with an API key or in system context), set the primary user, report
//! migration status on the system record, wait for the device to leave its domain, and
//! read or install the JumpCloud agent.
//!
//! ```no_run
//! use jumpcloud::{AgentConfig, ApiKey, Client, DescriptionEntry, MigrationState, Region};
//!
//! let agent = AgentConfig::load(&jumpcloud::AgentPaths::windows_default().conf)?;
//! let mut client = Client::with_api_key(Region::Us, ApiKey::new("…"));
//! client.select_organization(None)?; // errors listing the orgs for a multi-tenant key
//! client.verify_system(&agent.system_key)?;
//! client.set_admu_state(&agent.system_key, MigrationState::InProgress)?;
//! let user = client.find_user("jane.doe")?; // exact, case-insensitive
//! client.bind_user(&user.id, &agent.system_key, false)?;
//! client.set_primary_user(&agent.system_key, &user.id)?;
//! let entry = DescriptionEntry::new("S-1-5-21-1-2-3-1104")
//!     .with_state(MigrationState::Complete, "Migration completed successfully");
//! client.report_status(&agent.system_key, Some(MigrationState::Complete), Some(&entry))?;
//! # Ok::<(), jumpcloud::Error>(())
//! ```
//!
//! Transport: HTTPS with rustls (no OpenSSL), a timeout on every attempt, retries with
//! exponential backoff on connection failures, `429` (honouring `Retry-After`) and `5xx`,
//! never on other `4xx` ([`RetryPolicy`]). Requests are logged with `tracing` (`trace`
//! level: method, URL, headers with secrets shown as `<redacted>`, body); secrets
//! ([`ApiKey`], [`ConnectKey`], the agent key) never appear in `Debug` output or logs.
//! System-context requests are signed as described in [`signing`].

pub mod agent;
pub mod base_url;
pub mod client;
pub mod commands;
pub mod error;
pub mod insights;
pub mod install;
#[cfg(feature = "engine")]
pub mod manager;
pub mod model;
pub mod ops;
pub mod pager;
pub mod secret;
pub mod signing;
pub mod status;

pub use agent::{AgentConfig, AgentPaths};
pub use base_url::{BaseUrl, Region};
pub use client::{ApiResponse, Auth, Client, ClientBuilder, RetryPolicy};
pub use commands::{COMMAND_TEXT_LIMIT, CommandInfo, CommandResult, CommandSpec, Upsert};
pub use error::{AuthKind, Error, Result};
pub use insights::InsightUser;
pub use model::{Attribute, DomainInfo, Organization, System, SystemUser};
pub use ops::{DomainWait, DomainWaitProgress};
pub use pager::PageProgress;
pub use secret::{ApiKey, ConnectKey};
pub use signing::SystemSigner;
pub use status::{DescriptionEntry, MigrationState};
