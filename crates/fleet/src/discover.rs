//! `admu fleet discover`: every Windows system with domain or Entra profiles, one row
//! per profile, from System Insights `users` and the entries `admu report` wrote into
//! the system's description.

use jumpcloud::status::ADMU_ATTRIBUTE;
use serde::Serialize;

use crate::description::{Entry, entries};
use crate::inventory::{
    Inventory, bare_name, hostname, is_migratable, is_windows, machine_sid, serial_number,
};
use crate::row::Row;

/// A discovered profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovered {
    /// The CSV row (JumpCloudUserName/ID filled when a JumpCloud user matches).
    #[serde(flatten)]
    pub row: Row,
    /// Where it was seen: `insights`, `description` or both.
    pub source: String,
    /// The description entry's `st`, if any.
    pub state: Option<String>,
    /// The system's `admu` attribute, if any.
    pub device_state: Option<String>,
}

/// The rows, system by system in JumpCloud's order.
pub fn discover(inv: &Inventory) -> Vec<Discovered> {
    let mut out = Vec::new();
    for system in inv.systems.iter().filter(|s| is_windows(s)) {
        let rows = inv.insight_for(&system.id);
        let machine = machine_sid(&rows);
        let described = entries(system.description.as_deref());
        let mut seen: Vec<Discovered> = Vec::new();
        for u in rows.iter().filter(|u| is_migratable(u, machine.as_deref())) {
            if seen.iter().any(|d| d.row.sid.eq_ignore_ascii_case(&u.uuid)) {
                continue;
            }
            let entry = described
                .iter()
                .find(|e| e.sid.eq_ignore_ascii_case(&u.uuid));
            let name = bare_name(&u.username).to_owned();
            seen.push(found(
                inv,
                system,
                &u.uuid,
                &u.directory,
                &name,
                entry,
                "insights",
            ));
        }
        for e in &described {
            if let Some(d) = seen
                .iter_mut()
                .find(|d| d.row.sid.eq_ignore_ascii_case(&e.sid))
            {
                d.source = "both".into();
                continue;
            }
            let name = e.username.clone().unwrap_or_default();
            let path = e.local_path.clone().unwrap_or_default().replace('/', "\\");
            seen.push(found(
                inv,
                system,
                &e.sid,
                &path,
                &name,
                Some(e),
                "description",
            ));
        }
        out.extend(seen);
    }
    out
}

fn found(
    inv: &Inventory,
    system: &jumpcloud::System,
    sid: &str,
    path: &str,
    name: &str,
    entry: Option<&Entry>,
    source: &str,
) -> Discovered {
    let by_id = entry
        .and_then(|e| e.user_id.as_deref())
        .and_then(|id| inv.users.iter().find(|u| u.id == id));
    let user = by_id.or_else(|| inv.user_by_name(name));
    let local = match user {
        Some(u) => u.local_username().to_owned(),
        None => name.to_owned(),
    };
    Discovered {
        row: Row {
            sid: sid.to_owned(),
            local_path: path.to_owned(),
            local_computer_name: hostname(system),
            local_username: local,
            jump_cloud_user_name: user.map(|u| u.username.clone()).unwrap_or_default(),
            jump_cloud_user_id: user.map(|u| u.id.clone()).unwrap_or_default(),
            jump_cloud_system_id: system.id.clone(),
            serial_number: serial_number(system),
        },
        source: source.to_owned(),
        state: entry.and_then(|e| e.state.clone()),
        device_state: system.attribute(ADMU_ATTRIBUTE).map(str::to_owned),
    }
}
