//! What JumpCloud knows of the organisation: its systems (with the `admu` attribute and
//! the description), the System Insights `users` rows and the users. Read once, then
//! every fleet decision is a pure function of it.

use jumpcloud::{Client, InsightUser, PageProgress, System, SystemUser};
use serde_json::Value;

/// The organisation as JumpCloud knows it.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every system.
    pub systems: Vec<System>,
    /// Every System Insights `users` row.
    pub insight: Vec<InsightUser>,
    /// Every user.
    pub users: Vec<SystemUser>,
}

impl Inventory {
    /// Reads systems, System Insights users and users (each listing paged);
    /// `progress(what, p)` after every page.
    pub fn fetch(
        client: &Client,
        progress: &mut dyn FnMut(&str, PageProgress),
    ) -> jumpcloud::Result<Inventory> {
        let systems = client.systems_with_progress(&mut |p| progress("systems", p))?;
        let insight = client.insight_users(&mut |p| progress("System Insights users", p))?;
        let users = client.system_users(&mut |p| progress("users", p))?;
        Ok(Inventory {
            systems,
            insight,
            users,
        })
    }

    /// A system by id.
    pub fn system(&self, id: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.id == id)
    }

    /// The System Insights rows of one system.
    pub fn insight_for(&self, system_id: &str) -> Vec<&InsightUser> {
        self.insight
            .iter()
            .filter(|u| u.system_id == system_id)
            .collect()
    }

    /// The user whose username is `name` (exactly, ignoring case), if exactly one.
    pub fn user_by_name(&self, name: &str) -> Option<&SystemUser> {
        let mut found = self
            .users
            .iter()
            .filter(|u| u.username.eq_ignore_ascii_case(name.trim()));
        match (found.next(), found.next()) {
            (Some(u), None) => Some(u),
            _ => None,
        }
    }
}

/// Whether JumpCloud reports the system as Windows.
pub fn is_windows(system: &System) -> bool {
    system
        .os
        .as_deref()
        .is_some_and(|os| os.to_ascii_lowercase().contains("windows"))
}

/// The system's serial number, if the agent reported one.
pub fn serial_number(system: &System) -> String {
    system
        .raw
        .get("serialNumber")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The system's hostname (or display name).
pub fn hostname(system: &System) -> String {
    system
        .hostname
        .clone()
        .or_else(|| system.display_name.clone())
        .unwrap_or_default()
}

/// A SID without its last part (the RID): the domain or machine SID.
pub fn sid_domain(sid: &str) -> Option<&str> {
    sid.rsplit_once('-').map(|(d, _)| d)
}

/// The machine SID of a device: the domain part of the built-in Administrator (RID
/// 500), as ADMU finds it; else of the accounts osquery calls `local`.
pub fn machine_sid(rows: &[&InsightUser]) -> Option<String> {
    let by_rid = rows
        .iter()
        .find(|u| u.uuid.starts_with("S-1-5-21-") && u.uuid.ends_with("-500"));
    let local = rows
        .iter()
        .find(|u| u.uuid.starts_with("S-1-5-21-") && u.kind.eq_ignore_ascii_case("local"));
    by_rid
        .or(local)
        .and_then(|u| sid_domain(&u.uuid))
        .map(str::to_owned)
}

/// A domain (`S-1-5-21-…` of another authority than the machine) or Entra
/// (`S-1-12-1-…`) account: a profile admu can migrate.
pub fn is_migratable(user: &InsightUser, machine: Option<&str>) -> bool {
    if user.uuid.starts_with("S-1-12-1-") {
        return true;
    }
    if !user.uuid.starts_with("S-1-5-21-") || user.kind.eq_ignore_ascii_case("local") {
        return false;
    }
    machine.is_some_and(|m| sid_domain(&user.uuid) != Some(m))
}

/// A local account of the device (its SID is under the machine's).
pub fn is_local_account(user: &InsightUser, machine: Option<&str>) -> bool {
    user.kind.eq_ignore_ascii_case("local")
        || machine.is_some_and(|m| sid_domain(&user.uuid) == Some(m))
}

/// The account name without a `DOMAIN\` prefix.
pub fn bare_name(name: &str) -> &str {
    name.rsplit('\\').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, sid: &str, kind: &str) -> InsightUser {
        InsightUser {
            system_id: "s".into(),
            username: name.into(),
            uuid: sid.into(),
            kind: kind.into(),
            ..InsightUser::default()
        }
    }

    #[test]
    fn kinds() {
        let admin = u("Administrator", "S-1-5-21-9-9-9-500", "local");
        let carol = u("carol", "S-1-5-21-9-9-9-1001", "local");
        let alice = u("alice", "S-1-5-21-1-2-3-1104", "roaming");
        let bob = u("bob", "S-1-12-1-1-2-3-4", "roaming");
        let system = u("SYSTEM", "S-1-5-18", "special");
        let rows = [&admin, &carol, &alice, &bob, &system];
        let m = machine_sid(&rows);
        assert_eq!(m.as_deref(), Some("S-1-5-21-9-9-9"));
        let migratable: Vec<&str> = rows
            .iter()
            .filter(|r| is_migratable(r, m.as_deref()))
            .map(|r| r.username.as_str())
            .collect();
        assert_eq!(migratable, ["alice", "bob"]);
        assert!(is_local_account(&carol, m.as_deref()));
        assert!(!is_local_account(&alice, m.as_deref()));
        assert_eq!(bare_name(r"CORP\alice"), "alice");
    }
}
