//! `admu fleet plan`: checks every row of the CSV against what JumpCloud knows before
//! anything is sent, and says what will happen to each.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::description::entries;
use crate::inventory::{Inventory, hostname, is_local_account, is_windows, machine_sid};
use crate::names::check_local_username;
use crate::problem::Problem;
use crate::row::{ReadRow, Row, read};

/// What happens to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It will be migrated.
    Migrate,
    /// Already migrated (its description entry says Complete): skipped.
    AlreadyComplete,
    /// No JumpCloudUserName: not to be migrated.
    NotSelected,
}

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// Its line in the CSV.
    pub line: usize,
    /// The row (JumpCloudUserID filled from JumpCloud).
    pub row: Row,
    /// What happens.
    pub action: Action,
}

/// One device's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevicePlan {
    /// The system id.
    pub system_id: String,
    /// Its hostname in JumpCloud.
    pub hostname: String,
    /// Its rows, in file order.
    pub rows: Vec<Planned>,
}

impl DevicePlan {
    /// The rows to migrate.
    pub fn to_migrate(&self) -> impl Iterator<Item = &Planned> {
        self.rows.iter().filter(|r| r.action == Action::Migrate)
    }
}

/// The whole plan, device by device in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The devices.
    pub devices: Vec<DevicePlan>,
}

impl Plan {
    /// Devices with at least one row to migrate.
    pub fn active(&self) -> impl Iterator<Item = &DevicePlan> {
        self.devices
            .iter()
            .filter(|d| d.to_migrate().next().is_some())
    }

    /// How many rows will be migrated.
    pub fn migrations(&self) -> usize {
        self.devices.iter().map(|d| d.to_migrate().count()).sum()
    }
}

fn valid_sid(sid: &str) -> bool {
    let rest = sid
        .strip_prefix("S-1-5-21-")
        .or_else(|| sid.strip_prefix("S-1-12-1-"));
    rest.is_some_and(|r| {
        r.split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The checks across rows: what was seen first, and every problem.
struct Checker<'a> {
    file: &'a str,
    inv: &'a Inventory,
    problems: Vec<Problem>,
    /// (system, SID) → first line.
    sids: BTreeMap<(String, String), usize>,
    /// (system, local name) → first line.
    names: BTreeMap<(String, String), usize>,
}

impl Checker<'_> {
    fn bad(&mut self, r: &ReadRow, header: &str, message: String) {
        self.problems
            .push(Problem::new(self.file, r.line, r.column(header), message));
    }

    /// Checks one wanted row; returns it with the JumpCloud user id filled, and its action.
    fn row(&mut self, r: &ReadRow) -> (Row, Action) {
        let inv = self.inv;
        let mut row = r.row.clone();
        if !valid_sid(&row.sid) {
            let msg = format!(
                "{:?} is not a domain (S-1-5-21-…) or Entra (S-1-12-1-…) account SID",
                row.sid
            );
            self.bad(r, "SID", msg);
        }
        let system = check_system(&row, inv, &mut |h, m| self.bad(r, h, m));
        if let Some(system) = system {
            let key = (system.id.clone(), row.sid.to_ascii_uppercase());
            if let Some(first) = self.sids.get(&key).copied() {
                let msg = format!(
                    "the SID {} appears again for system {} (first on line {first}): one migration per profile",
                    row.sid, system.id
                );
                self.bad(r, "SID", msg);
            } else {
                self.sids.insert(key, r.line);
            }
        }
        self.user(r, &mut row);
        match check_local_username(&row.local_username) {
            Err(e) => self.bad(r, "LocalUsername", e),
            Ok(()) => {
                if let Some(system) = system {
                    self.local_name(r, system, &row.local_username);
                }
            }
        }
        let complete = system.is_some_and(|s| {
            entries(s.description.as_deref()).iter().any(|e| {
                e.sid.eq_ignore_ascii_case(&row.sid) && e.state.as_deref() == Some("Complete")
            })
        });
        let action = if complete {
            Action::AlreadyComplete
        } else {
            Action::Migrate
        };
        (row, action)
    }

    /// The JumpCloud user: exists, the id (if given) matches, its local name is ours.
    fn user(&mut self, r: &ReadRow, row: &mut Row) {
        let Some(u) = self.inv.user_by_name(&row.jump_cloud_user_name) else {
            let msg = format!(
                "no JumpCloud user is named {:?} (exactly, ignoring case)",
                row.jump_cloud_user_name
            );
            self.bad(r, "JumpCloudUserName", msg);
            return;
        };
        if !row.jump_cloud_user_id.is_empty() && row.jump_cloud_user_id != u.id {
            let msg = format!(
                "JumpCloud user {} has the id {}, not {}",
                u.username, u.id, row.jump_cloud_user_id
            );
            self.bad(r, "JumpCloudUserID", msg);
        }
        let local = u.local_username();
        if !row.local_username.is_empty() && !local.eq_ignore_ascii_case(&row.local_username) {
            let msg = format!(
                "JumpCloud user {} manages the local account {local:?} (its Local User Account name), not {:?}: set LocalUsername to {local}",
                u.username, row.local_username
            );
            self.bad(r, "LocalUsername", msg);
        }
        // The script gets JumpCloud's spelling, not the cell's (spaces, case).
        row.jump_cloud_user_id = u.id.clone();
        row.jump_cloud_user_name = u.username.clone();
    }

    /// The new name is free on the device and not given to two profiles.
    fn local_name(&mut self, r: &ReadRow, system: &jumpcloud::System, name: &str) {
        if let Some(taken) = taken_by(self.inv, &system.id, name) {
            let msg = format!(
                "{name:?} is already a local account on {} ({taken}), as System Insights reports",
                hostname(system)
            );
            self.bad(r, "LocalUsername", msg);
        }
        let key = (system.id.clone(), name.to_ascii_lowercase());
        if let Some(first) = self.names.get(&key).copied() {
            let msg = format!(
                "{name} is the new name of another profile on this device too (line {first})"
            );
            self.bad(r, "LocalUsername", msg);
        } else {
            self.names.insert(key, r.line);
        }
    }
}

/// Checks the CSV `text` (named `file`) against `inv`; every problem, or the plan.
pub fn plan(file: &str, text: &str, inv: &Inventory) -> Result<Plan, Vec<Problem>> {
    let rows = read(file, text)?;
    let mut checker = Checker {
        file,
        inv,
        problems: Vec::new(),
        sids: BTreeMap::new(),
        names: BTreeMap::new(),
    };
    let mut plan = Plan::default();
    for r in &rows {
        let (row, action) = if r.row.wanted() {
            checker.row(r)
        } else {
            (r.row.clone(), Action::NotSelected)
        };
        push(&mut plan, inv, r, row, action);
    }
    if checker.problems.is_empty() {
        Ok(plan)
    } else {
        Err(checker.problems)
    }
}

fn check_system<'a>(
    row: &Row,
    inv: &'a Inventory,
    bad: &mut dyn FnMut(&str, String),
) -> Option<&'a jumpcloud::System> {
    if row.jump_cloud_system_id.is_empty() {
        bad(
            "JumpCloudSystemID",
            "no JumpCloudSystemID: the device must be named by its JumpCloud system id".into(),
        );
        return None;
    }
    let Some(system) = inv.system(&row.jump_cloud_system_id) else {
        bad(
            "JumpCloudSystemID",
            format!("JumpCloud has no system {}", row.jump_cloud_system_id),
        );
        return None;
    };
    if !is_windows(system) {
        bad(
            "JumpCloudSystemID",
            format!(
                "system {} ({}) runs {}, not Windows",
                system.id,
                hostname(system),
                system.os.as_deref().unwrap_or("an unknown OS")
            ),
        );
        return None;
    }
    let host = hostname(system);
    if !row.local_computer_name.is_empty() && !row.local_computer_name.eq_ignore_ascii_case(&host) {
        bad(
            "LocalComputerName",
            format!(
                "system {} is {host} in JumpCloud, not {}",
                system.id, row.local_computer_name
            ),
        );
    }
    Some(system)
}

/// The local account of that name on the device, if System Insights lists one.
fn taken_by(inv: &Inventory, system_id: &str, name: &str) -> Option<String> {
    let rows = inv.insight_for(system_id);
    let machine = machine_sid(&rows);
    rows.iter()
        .find(|u| {
            crate::inventory::bare_name(&u.username).eq_ignore_ascii_case(name)
                && is_local_account(u, machine.as_deref())
        })
        .map(|u| u.uuid.clone())
}

fn push(plan: &mut Plan, inv: &Inventory, r: &ReadRow, row: Row, action: Action) {
    let id = row.jump_cloud_system_id.clone();
    let planned = Planned {
        line: r.line,
        row,
        action,
    };
    match plan.devices.iter_mut().find(|d| d.system_id == id) {
        Some(d) => d.rows.push(planned),
        None => plan.devices.push(DevicePlan {
            hostname: inv.system(&id).map(hostname).unwrap_or_default(),
            system_id: id,
            rows: vec![planned],
        }),
    }
}

/// One line saying what happens to a row.
pub fn describe(device: &DevicePlan, p: &Planned) -> String {
    let r = &p.row;
    match p.action {
        Action::Migrate => format!(
            "{}: migrate {} ({}) to local account {}, JumpCloud user {} ({})",
            device.hostname,
            r.sid,
            r.local_path,
            r.local_username,
            r.jump_cloud_user_name,
            r.jump_cloud_user_id
        ),
        Action::AlreadyComplete => format!(
            "{}: skip {}: already migrated (Complete)",
            device.hostname, r.sid
        ),
        Action::NotSelected => format!("{}: skip {}: no JumpCloudUserName", device.hostname, r.sid),
    }
}
