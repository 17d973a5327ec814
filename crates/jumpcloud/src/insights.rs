//! What JumpCloud knows of the organisation's devices and users, for fleets: System
//! Insights users (osquery's `users` table as each agent reports it) and the whole user
//! list.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::SystemUser;
use crate::pager::{Listing, PageProgress};

/// A row of System Insights `users` (`GET /api/v2/systeminsights/users`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InsightUser {
    /// `system_id`.
    pub system_id: String,
    /// `username`.
    pub username: String,
    /// `uuid`: the account's SID on Windows.
    pub uuid: String,
    /// `uid`: the RID on Windows.
    pub uid: String,
    /// `directory`: the profile path.
    pub directory: String,
    /// `type`: `local`, `roaming`, `special`, … on Windows.
    pub kind: String,
    /// `last_login`.
    pub last_login: String,
}

impl InsightUser {
    /// Reads one row (fields that are missing are left empty).
    pub fn from_json(v: &Value) -> InsightUser {
        let s = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        InsightUser {
            system_id: s("system_id"),
            username: s("username"),
            uuid: s("uuid"),
            uid: s("uid"),
            directory: s("directory"),
            kind: s("type"),
            last_login: s("last_login"),
        }
    }
}

/// Page size of the System Insights listing (the API allows up to 10 000).
pub const INSIGHTS_PAGE: usize = 1000;

impl crate::client::Client {
    /// Every System Insights `users` row of the organisation, paged.
    pub fn insight_users(
        &self,
        progress: &mut dyn FnMut(PageProgress),
    ) -> Result<Vec<InsightUser>> {
        let listing = Listing {
            path: "/api/v2/systeminsights/users",
            query: &[],
            page_size: INSIGHTS_PAGE,
            what: "System Insights users",
        };
        Ok(self
            .list_all(&listing, progress)?
            .iter()
            .map(InsightUser::from_json)
            .collect())
    }

    /// Every JumpCloud user of the organisation (`GET /api/systemusers`, paged).
    pub fn system_users(&self, progress: &mut dyn FnMut(PageProgress)) -> Result<Vec<SystemUser>> {
        let listing = Listing {
            path: "/api/systemusers",
            query: &[("fields", "username systemUsername")],
            page_size: crate::ops::PAGE_SIZE,
            what: "the user list",
        };
        let mut out = Vec::new();
        for v in self.list_all(&listing, progress)? {
            let id = v.get("_id").or_else(|| v.get("id")).and_then(Value::as_str);
            let username = v.get("username").and_then(Value::as_str);
            let (Some(id), Some(username)) = (id, username) else {
                return Err(Error::InvalidResponse {
                    method: "GET".into(),
                    path: "/api/systemusers".into(),
                    reason: "a user without _id or username".into(),
                });
            };
            out.push(SystemUser {
                id: id.to_owned(),
                username: username.to_owned(),
                system_username: v
                    .get("systemUsername")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn row() {
        let u = InsightUser::from_json(
            &json!({"system_id": "s", "username": "alice", "uuid": "S-1-5-21-1-2-3-1104", "uid": 1104, "type": "roaming"}),
        );
        assert_eq!(u.uid, "1104");
        assert_eq!(u.kind, "roaming");
        assert_eq!(InsightUser::from_json(&json!({})).username, "");
    }
}
