//! The JumpCloud side of `admu fleet run`: mark the rows Pending on each device, save
//! the command(s), bind them to the devices and run them.

use jumpcloud::status::{ADMU_ATTRIBUTE, merge_attribute, merge_description};
use jumpcloud::{Client, CommandSpec, DescriptionEntry, MigrationState, PageProgress, Upsert};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::plan::Plan;
use crate::script::Script;

/// Seconds a fleet command may run on a device (several migrations, then a reboot).
pub const COMMAND_TIMEOUT_SECS: u32 = 4 * 3600;

/// What was sent for one script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// The command's name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// Created or updated.
    pub how: Upsert,
    /// The systems it was bound to and run on.
    pub system_ids: Vec<String>,
    /// The queue ids JumpCloud returned.
    pub queue_ids: Vec<String>,
}

/// Marks every row to migrate `Pending` in its device's description (with `un`, `uid`,
/// `localPath`) and the device's `admu` attribute `Pending`, one write per device; other
/// entries and attributes are kept.
pub fn mark_pending(
    client: &Client,
    plan: &Plan,
    progress: &mut dyn FnMut(PageProgress),
) -> jumpcloud::Result<()> {
    let devices: Vec<_> = plan.active().collect();
    for (i, d) in devices.iter().enumerate() {
        let system = client.system(&d.system_id)?;
        let mut description = system.description.clone();
        for p in d.to_migrate() {
            let mut e = DescriptionEntry::new(p.row.sid.clone())
                .with_state(MigrationState::Pending, "Queued by admu fleet run");
            e.username = Some(p.row.local_username.clone());
            e.user_id = Some(p.row.jump_cloud_user_id.clone());
            if !p.row.local_path.is_empty() {
                e.local_path = Some(p.row.local_path.clone());
            }
            description = Some(merge_description(description.as_deref(), &e).0);
        }
        let sids: Vec<&str> = d.to_migrate().map(|p| p.row.sid.as_str()).collect();
        let description = description
            .map(|text| crate::description::stamp_queued(&text, &sids, &crate::time::now()));
        let attrs = merge_attribute(
            &system.attributes,
            ADMU_ATTRIBUTE,
            MigrationState::Pending.as_str(),
        );
        let mut body = Map::new();
        body.insert(
            "attributes".into(),
            serde_json::to_value(attrs).unwrap_or(Value::Array(Vec::new())),
        );
        body.insert(
            "description".into(),
            Value::String(description.unwrap_or_default()),
        );
        client.put_system(&d.system_id, &Value::Object(body))?;
        progress(PageProgress {
            read: i + 1,
            total: Some(devices.len()),
        });
    }
    Ok(())
}

/// Saves each script as a command (by name), binds it to its systems and runs it.
pub fn send(
    client: &Client,
    scripts: &[Script],
    progress: &mut dyn FnMut(&str, PageProgress),
) -> jumpcloud::Result<Vec<Sent>> {
    let mut out = Vec::new();
    for s in scripts {
        let spec = CommandSpec {
            name: s.name.clone(),
            command: s.text.clone(),
            timeout_secs: COMMAND_TIMEOUT_SECS,
        };
        let (info, how) = client.upsert_command(&spec)?;
        client.associate_command(&info.id, &s.system_ids, &mut |p| progress(&s.name, p))?;
        let queue_ids = client.run_command(&info.id, &s.system_ids)?;
        out.push(Sent {
            name: info.name,
            id: info.id,
            how,
            system_ids: s.system_ids.clone(),
            queue_ids,
        });
    }
    Ok(out)
}
