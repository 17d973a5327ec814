//! Typed views of the API objects the client reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JumpCloud organisation (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `_id`: what goes into `x-org-id`.
    pub id: String,
    /// `displayName`.
    pub name: String,
}

/// A custom attribute of a system (`{name, value}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Attribute value (a string in the API; kept as JSON so it round-trips unchanged).
    #[serde(default)]
    pub value: Value,
}

impl Attribute {
    /// A string attribute.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Value::String(value.into()),
        }
    }

    /// The value if it is a string.
    pub fn value_str(&self) -> Option<&str> {
        self.value.as_str()
    }
}

/// `domainInfo` of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainInfo {
    /// The domain's name, if the agent reports one.
    #[serde(default)]
    pub domain_name: Option<String>,
    /// Whether the agent reports the device as domain-joined.
    #[serde(default)]
    pub part_of_domain: Option<bool>,
}

/// A system (device) as `GET /api/systems/{id}` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// `_id` (or `id`): the system key.
    pub id: String,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `os`.
    pub os: Option<String>,
    /// `organization`.
    pub organization: Option<String>,
    /// `description` (ADMU keeps its per-user status JSON here).
    pub description: Option<String>,
    /// Custom attributes.
    pub attributes: Vec<Attribute>,
    /// `domainInfo`.
    pub domain_info: Option<DomainInfo>,
    /// `primarySystemUser.id`.
    pub primary_user_id: Option<String>,
    /// The whole object as returned.
    pub raw: Value,
}

impl System {
    /// Reads a system object; an error if it has neither `_id` nor `id` or a field has the wrong type.
    pub fn from_json(raw: Value) -> Result<System, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(rename = "_id")]
            underscore_id: Option<String>,
            id: Option<String>,
            hostname: Option<String>,
            display_name: Option<String>,
            os: Option<String>,
            organization: Option<String>,
            description: Option<String>,
            #[serde(default)]
            attributes: Option<Vec<Attribute>>,
            domain_info: Option<DomainInfo>,
            primary_system_user: Option<PrimaryUser>,
        }
        #[derive(Deserialize)]
        struct PrimaryUser {
            id: Option<String>,
        }
        let r: Raw = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
        let id = r
            .underscore_id
            .or(r.id)
            .ok_or_else(|| "the system object has no _id".to_owned())?;
        Ok(System {
            id,
            hostname: r.hostname,
            display_name: r.display_name,
            os: r.os,
            organization: r.organization,
            description: r.description,
            attributes: r.attributes.unwrap_or_default(),
            domain_info: r.domain_info,
            primary_user_id: r.primary_system_user.and_then(|p| p.id),
            raw,
        })
    }

    /// The value of a custom attribute, if set (and a string).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(Attribute::value_str)
    }

    /// `domainInfo.partOfDomain` (`None` when the agent has not reported it).
    pub fn part_of_domain(&self) -> Option<bool> {
        self.domain_info.as_ref().and_then(|d| d.part_of_domain)
    }
}

/// A JumpCloud user as found by username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemUser {
    /// `_id`: the user id used for binding.
    pub id: String,
    /// `username`.
    pub username: String,
    /// `systemUsername` ("Local User Account" in the console), when set.
    pub system_username: Option<String>,
}

impl SystemUser {
    /// The name of the local account the agent will manage: `systemUsername` when set,
    /// else `username` (JumpCloud's "Local User Account" overrides the username).
    pub fn local_username(&self) -> &str {
        match self.system_username.as_deref() {
            Some(s) if !s.trim().is_empty() => s,
            _ => &self.username,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_from_json() {
        let s = System::from_json(json!({
            "_id": "abc", "hostname": "pc1", "attributes": [{"name": "admu", "value": "Complete"}],
            "domainInfo": {"partOfDomain": true, "domainName": "corp"},
            "primarySystemUser": {"id": "u1"}
        }))
        .unwrap();
        assert_eq!(s.id, "abc");
        assert_eq!(s.attribute("admu"), Some("Complete"));
        assert_eq!(s.part_of_domain(), Some(true));
        assert_eq!(s.primary_user_id.as_deref(), Some("u1"));
        let s = System::from_json(json!({"id": "x"})).unwrap();
        assert_eq!(s.id, "x");
        assert!(System::from_json(json!({"hostname": "x"})).is_err());
    }

    #[test]
    fn local_username() {
        let mut u = SystemUser {
            id: "1".into(),
            username: "jdoe".into(),
            system_username: None,
        };
        assert_eq!(u.local_username(), "jdoe");
        u.system_username = Some("john".into());
        assert_eq!(u.local_username(), "john");
        u.system_username = Some(" ".into());
        assert_eq!(u.local_username(), "jdoe");
    }
}
