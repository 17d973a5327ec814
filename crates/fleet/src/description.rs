//! Reading ADMU's per-user entries back from a system's description (the format of
//! `jumpcloud::status`), and building the entries a device reports about itself (the
//! shape of ADMU's `DeviceQuery.ps1`).

use jumpcloud::{DescriptionEntry, MigrationState};
use serde::Serialize;
use serde_json::Value;

/// One entry as read (every field optional but the SID).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    /// `sid`.
    pub sid: String,
    /// `un`: the local username.
    pub username: Option<String>,
    /// `uid`: the JumpCloud user id.
    pub user_id: Option<String>,
    /// `localPath`.
    pub local_path: Option<String>,
    /// `st`.
    pub state: Option<String>,
    /// `msg`.
    pub message: Option<String>,
    /// `queuedAt`: when `admu fleet run` queued it (see [`stamp_queued`]).
    pub queued_at: Option<String>,
}

/// The entries of a description; anything that is not ADMU's JSON gives none.
pub fn entries(description: Option<&str>) -> Vec<Entry> {
    let text = description.unwrap_or("").trim();
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(obj @ Value::Object(_)) => vec![obj],
        _ => return Vec::new(),
    };
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    items
        .iter()
        .filter_map(|v| {
            Some(Entry {
                sid: s(v, "sid")?,
                username: s(v, "un"),
                user_id: s(v, "uid"),
                local_path: s(v, "localPath"),
                state: s(v, "st"),
                message: s(v, "msg"),
                queued_at: s(v, "queuedAt"),
            })
        })
        .collect()
}

/// Sets `queuedAt` on the entries of these SIDs (ADMU's readers ignore fields they do
/// not know), so that `fleet status` can tell an earlier run's result from this run's.
pub fn stamp_queued(description: &str, sids: &[&str], at: &str) -> String {
    let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(description) else {
        return description.to_owned();
    };
    for item in &mut items {
        let hit = item
            .get("sid")
            .and_then(Value::as_str)
            .is_some_and(|s| sids.iter().any(|w| w.eq_ignore_ascii_case(s)));
        if hit && let Value::Object(obj) = item {
            obj.insert("queuedAt".into(), Value::String(at.to_owned()));
        }
    }
    Value::Array(items).to_string()
}

/// The entries marked `Pending` (what `admu migrate --from-description` migrates).
pub fn pending(description: Option<&str>) -> Vec<Entry> {
    entries(description)
        .into_iter()
        .filter(|e| e.state.as_deref() == Some(MigrationState::Pending.as_str()))
        .collect()
}

/// A profile a device reports as a candidate (`admu report`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidate {
    /// The account's SID.
    pub sid: String,
    /// The account name without its domain.
    pub username: String,
    /// The profile folder.
    pub local_path: String,
    /// Last use (ISO 8601), if known.
    pub last_login: Option<String>,
    /// Profile size in GB, if measured.
    pub profile_size_gb: Option<f64>,
}

/// The description entry for a candidate: `st` `Skip` unless the admin already decided
/// (an existing entry keeps its `st`, `msg`, `un` and `uid`, as ADMU's DeviceQuery does:
/// the merge only sets fields the entry carries).
pub fn candidate_entry(c: &Candidate, existing: Option<&Entry>) -> DescriptionEntry {
    let mut e = DescriptionEntry::new(c.sid.clone());
    e.local_path = Some(c.local_path.clone());
    e.last_login = c.last_login.clone();
    e.profile_size_gb = c.profile_size_gb;
    if existing.is_none() {
        e.username = Some(c.username.clone());
        e.state = Some(MigrationState::Skip);
        e.message = Some("Discovered by admu report".into());
    }
    e
}

/// The `admu` attribute for a set of entry states, as ADMU sets it: Error over
/// InProgress over Pending (a device with only skipped entries is Pending too) over
/// Complete.
pub fn device_state<'a>(states: impl IntoIterator<Item = &'a str>) -> MigrationState {
    let states: Vec<&str> = states.into_iter().collect();
    let has = |s: MigrationState| states.contains(&s.as_str());
    if has(MigrationState::Error) {
        MigrationState::Error
    } else if has(MigrationState::InProgress) {
        MigrationState::InProgress
    } else if states.is_empty() || has(MigrationState::Pending) || has(MigrationState::Skip) {
        MigrationState::Pending
    } else {
        MigrationState::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_back() {
        let d = r#"[{"sid":"S-1","un":"alice","st":"Pending","uid":"u1"},{"sid":"S-2","st":"Complete"},{"un":"x"}]"#;
        let e = entries(Some(d));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].username.as_deref(), Some("alice"));
        assert_eq!(pending(Some(d)).len(), 1);
        assert!(entries(Some("Front desk")).is_empty());
        assert_eq!(entries(Some(r#"{"sid":"S-9"}"#)).len(), 1);
    }

    #[test]
    fn states() {
        assert_eq!(device_state(["Complete", "Error"]), MigrationState::Error);
        assert_eq!(
            device_state(["Complete", "InProgress"]),
            MigrationState::InProgress
        );
        assert_eq!(device_state(["Skip"]), MigrationState::Pending);
        assert_eq!(device_state(["Complete"]), MigrationState::Complete);
        let c = Candidate {
            sid: "S-1".into(),
            username: "alice".into(),
            local_path: r"C:\Users\alice".into(),
            ..Candidate::default()
        };
        let fresh = candidate_entry(&c, None).to_fields();
        assert_eq!(fresh["st"], "Skip");
        let kept = candidate_entry(&c, Some(&Entry::default())).to_fields();
        assert!(kept.get("st").is_none());
        assert_eq!(kept["localPath"], "C:/Users/alice");
    }
}
