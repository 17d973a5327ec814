//! The device manager that takes the migrated account over (JumpCloud), as a trait: its
//! preflight checks, status reports while the migration runs, and the bind after the
//! commit. The engine decides when each happens; `crates/jumpcloud` implements it.

use serde::Serialize;

use crate::error::Result;
use crate::migrate::Check;

/// Where a migration stands, as reported to the device manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    InProgress,
    Complete,
    Error,
}

/// One status report.
#[derive(Debug, Clone, Copy)]
pub struct DeviceReport<'a> {
    /// The profile's old SID (the key of the device's per-user entries).
    pub sid: &'a str,
    /// The profile folder (`C:\Users\alice`).
    pub local_path: &'a str,
    /// The local account the profile goes to.
    pub username: &'a str,
    pub state: DeviceState,
    pub message: &'a str,
}

/// A device manager the migrated account is handed to.
pub trait DeviceManager: Send + Sync {
    /// "JumpCloud".
    fn name(&self) -> &str;
    /// Checks that can be made before anything changes (credentials, organisation,
    /// the device, the user, the local name the directory expects).
    fn check(&self, local_name: &str) -> Vec<Check>;
    /// Reports progress; a failure here is logged, never fatal.
    fn report(&self, report: &DeviceReport<'_>) -> Result<()>;
    /// Binds the user to the device after the commit; `left_domain` says the run left
    /// the domain, so the device must be seen off the domain first. Returns what was
    /// done, for the report.
    fn bind(&self, left_domain: bool, progress: &dyn Fn(&str)) -> Result<String>;
}
