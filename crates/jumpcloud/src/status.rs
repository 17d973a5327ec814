//! Status reporting on the system record, as ADMU does it: the custom attribute
//! `admu` (`Pending`/`InProgress`/`Complete`/`Error`, used for dynamic device groups) and
//! the system `description`, a JSON array with one object per migrated user:
//!
//! ```json
//! [{"sid":"S-1-5-21-…-1104","un":"jdoe","localPath":"C:/Users/jdoe","msg":"Migration completed successfully","st":"Complete","uid":"5f…","lastLogin":"…"}]
//! ```
//!
//! Updates are merges: other attributes and other users' entries (matched by `sid`) are
//! kept, as are fields of an entry that this update does not set.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::model::Attribute;

/// The system attribute ADMU reports its state in.
pub const ADMU_ATTRIBUTE: &str = "admu";

/// The message ADMU puts in an entry when a migration fails.
pub const ERROR_MESSAGE: &str = "Error occurred during migration. Please check (C:\\Windows\\Temp\\jcadmu.log) for more information.";

/// A migration state, for the `admu` attribute and an entry's `st`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrationState {
    /// Waiting to be migrated (fleet).
    Pending,
    /// Not to be migrated (fleet).
    Skip,
    /// Under way.
    InProgress,
    /// Done.
    Complete,
    /// Failed.
    Error,
}

impl MigrationState {
    /// The string JumpCloud stores.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Pending => "Pending",
            MigrationState::Skip => "Skip",
            MigrationState::InProgress => "InProgress",
            MigrationState::Complete => "Complete",
            MigrationState::Error => "Error",
        }
    }
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MigrationState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "Pending" => MigrationState::Pending,
            "Skip" => MigrationState::Skip,
            "InProgress" => MigrationState::InProgress,
            "Complete" => MigrationState::Complete,
            "Error" => MigrationState::Error,
            other => return Err(format!("unknown migration state {other:?}")),
        })
    }
}

/// One user's entry in the description array. Fields left `None` are not written (and
/// an existing entry's value for them is kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescriptionEntry {
    /// `sid`: the source account's SID (the key entries are matched by).
    pub sid: String,
    /// `un`: the JumpCloud/local username.
    pub username: Option<String>,
    /// `localPath`: the profile path, written with `/` separators.
    pub local_path: Option<String>,
    /// `msg`: a progress or result message.
    pub message: Option<String>,
    /// `st`: the state.
    pub state: Option<MigrationState>,
    /// `uid`: the JumpCloud user id.
    pub user_id: Option<String>,
    /// `lastLogin`.
    pub last_login: Option<String>,
    /// `lastWrite` (NTUSER.DAT modification time, ISO 8601).
    pub last_write: Option<String>,
    /// `lastLoginValid`.
    pub last_login_valid: Option<bool>,
    /// `profileSize` (GB).
    pub profile_size_gb: Option<f64>,
}

impl DescriptionEntry {
    /// An entry with a SID and everything else unset.
    pub fn new(sid: impl Into<String>) -> Self {
        Self {
            sid: sid.into(),
            ..Self::default()
        }
    }

    /// Sets `st` and `msg`.
    pub fn with_state(mut self, state: MigrationState, message: impl Into<String>) -> Self {
        self.state = Some(state);
        self.message = Some(message.into());
        self
    }

    /// The fields this entry sets, as JSON (ADMU's key names).
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("sid".into(), Value::String(self.sid.clone()));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("un", self.username.clone().map(Value::String));
        put(
            "localPath",
            self.local_path
                .as_ref()
                .map(|p| Value::String(p.replace('\\', "/"))),
        );
        put("msg", self.message.clone().map(Value::String));
        put("st", self.state.map(|s| Value::String(s.as_str().into())));
        put("uid", self.user_id.clone().map(Value::String));
        put("lastLogin", self.last_login.clone().map(Value::String));
        put("lastWrite", self.last_write.clone().map(Value::String));
        put("lastLoginValid", self.last_login_valid.map(Value::Bool));
        put(
            "profileSize",
            self.profile_size_gb
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
        );
        m
    }
}

/// What [`merge_description`] did with the previous description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviousDescription {
    /// It was empty.
    Empty,
    /// It was a JSON array (or a single object) and was merged into.
    Merged,
    /// It was something else (free text) and was replaced; the old text is kept here.
    Replaced(String),
}

/// Merges `entry` into a description string: the entry with the same `sid` gets the
/// fields `entry` sets (others kept); without one, the entry is appended. Other entries
/// are kept as they are.
pub fn merge_description(
    previous: Option<&str>,
    entry: &DescriptionEntry,
) -> (String, PreviousDescription) {
    let previous = previous.unwrap_or("").trim();
    let (mut entries, how) = if previous.is_empty() {
        (Vec::new(), PreviousDescription::Empty)
    } else {
        match serde_json::from_str::<Value>(previous) {
            Ok(Value::Array(items)) => (items, PreviousDescription::Merged),
            // PowerShell's ConvertTo-Json writes a one-element array as a bare object.
            Ok(obj @ Value::Object(_)) if obj.get("sid").is_some() => {
                (vec![obj], PreviousDescription::Merged)
            }
            _ => (
                Vec::new(),
                PreviousDescription::Replaced(previous.to_owned()),
            ),
        }
    };
    let fields = entry.to_fields();
    let existing = entries
        .iter_mut()
        .find(|e| e.get("sid").and_then(Value::as_str) == Some(entry.sid.as_str()));
    match existing {
        Some(Value::Object(obj)) => {
            for (k, v) in fields {
                obj.insert(k, v);
            }
        }
        _ => entries.push(Value::Object(fields)),
    }
    (Value::Array(entries).to_string(), how)
}

/// Sets attribute `name` to `value` in a list, keeping the others (and their order).
pub fn merge_attribute(attributes: &[Attribute], name: &str, value: &str) -> Vec<Attribute> {
    let mut out: Vec<Attribute> = attributes.to_vec();
    match out.iter_mut().find(|a| a.name == name) {
        Some(a) => a.value = Value::String(value.to_owned()),
        None => out.push(Attribute::new(name, value)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_into_empty_and_existing() {
        let e = DescriptionEntry {
            username: Some("jdoe".into()),
            local_path: Some(r"C:\Users\jdoe".into()),
            ..DescriptionEntry::new("S-1")
        }
        .with_state(MigrationState::InProgress, "Starting");
        let (text, how) = merge_description(None, &e);
        assert_eq!(how, PreviousDescription::Empty);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!([{"sid":"S-1","un":"jdoe","localPath":"C:/Users/jdoe","msg":"Starting","st":"InProgress"}])
        );

        let prev = json!([
            {"sid":"S-2","un":"other","st":"Pending","msg":"Planned","custom":1},
            {"sid":"S-1","un":"jdoe","st":"InProgress","msg":"Starting","uid":"u1","lastLogin":"x"}
        ])
        .to_string();
        let done = DescriptionEntry::new("S-1").with_state(MigrationState::Complete, "Done");
        let (text, how) = merge_description(Some(&prev), &done);
        assert_eq!(how, PreviousDescription::Merged);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!([
                {"sid":"S-2","un":"other","st":"Pending","msg":"Planned","custom":1},
                {"sid":"S-1","un":"jdoe","st":"Complete","msg":"Done","uid":"u1","lastLogin":"x"}
            ])
        );
    }

    #[test]
    fn single_object_and_free_text() {
        let prev = json!({"sid":"S-9","st":"Pending"}).to_string();
        let (text, _) = merge_description(Some(&prev), &DescriptionEntry::new("S-1"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(2));
        let (text, how) = merge_description(Some("Front desk PC"), &DescriptionEntry::new("S-1"));
        assert_eq!(how, PreviousDescription::Replaced("Front desk PC".into()));
        assert_eq!(text, r#"[{"sid":"S-1"}]"#);
    }

    #[test]
    fn attributes() {
        let a = vec![
            Attribute::new("site", "HQ"),
            Attribute::new("admu", "Pending"),
        ];
        let b = merge_attribute(&a, "admu", "InProgress");
        assert_eq!(
            b,
            vec![
                Attribute::new("site", "HQ"),
                Attribute::new("admu", "InProgress")
            ]
        );
        let c = merge_attribute(&a[..1], "admu", "Complete");
        assert_eq!(c.len(), 2);
        assert_eq!(
            "Complete".parse::<MigrationState>(),
            Ok(MigrationState::Complete)
        );
    }
}
