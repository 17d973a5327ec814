//! The operations: organisations, systems, user lookup, bind, primary user, status
//! reporting and waiting for the domain leave.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tracing::{info, warn};

use crate::agent::is_valid_system_key;
use crate::client::{Auth, Client, NotFoundContext, segment};
use crate::error::{Error, Result};
use crate::model::{Organization, System, SystemUser};
use crate::status::{
    ADMU_ATTRIBUTE, DescriptionEntry, MigrationState, PreviousDescription, merge_attribute,
    merge_description,
};

/// Page size for listings (the API's maximum).
pub const PAGE_SIZE: usize = 100;
/// At most this many pages are read from one listing.
pub const MAX_PAGES: usize = 1000;

/// Escapes every regex metacharacter so the name matches literally in JumpCloud's
/// (PCRE) `$regex` filter: `a.b` never matches `axb`.
pub fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `POST /api/search/systemusers` body that finds `username` exactly,
/// case-insensitively.
pub fn username_search_body(username: &str) -> Value {
    json!({
        "filter": {"and": [{"username": {"$regex": format!("(?i)^{}$", escape_regex(username))}}]},
        "fields": "username systemUsername",
        "limit": PAGE_SIZE,
    })
}

/// The body of an association change from a user to a system (`POST
/// /api/v2/users/{id}/associations`). Admin adds `sudo` (with password).
pub fn user_to_system_association(system_id: &str, admin: bool) -> Value {
    let mut body = json!({"op": "add", "type": "system", "id": system_id});
    if admin {
        body["attributes"] = json!({"sudo": {"enabled": true, "withoutPassword": false}});
    }
    body
}

/// The body of an association change from a system to a user (`POST
/// /api/v2/systems/{id}/associations`); `sudo.enabled` says whether the user is admin.
pub fn system_to_user_association(user_id: &str, admin: bool) -> Value {
    json!({
        "op": "add",
        "type": "user",
        "id": user_id,
        "attributes": {"sudo": {"enabled": admin, "withoutPassword": false}},
    })
}

/// The `PUT /api/systems/{id}` body that sets the primary user. The v1 `systemput`
/// schema does not list the field; JumpCloud takes it in the dotted form ADMU sends
/// (and the system then shows it as `primarySystemUser.id`).
pub fn primary_user_body(user_id: &str) -> Value {
    json!({"primarySystemUser.id": user_id})
}

/// Polling parameters for [`Client::wait_for_domain_leave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainWait {
    /// Time between polls (ADMU: 30 s).
    pub poll_interval: Duration,
    /// Give up after this long (ADMU: 5 min).
    pub timeout: Duration,
}

impl Default for DomainWait {
    fn default() -> Self {
        DomainWait {
            poll_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(300),
        }
    }
}

/// Reported after every poll of [`Client::wait_for_domain_leave`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainWaitProgress {
    /// Time since the wait began.
    pub elapsed: Duration,
    /// Polls so far.
    pub polls: u32,
    /// What the last poll saw (`None`: not reported, or the poll failed).
    pub part_of_domain: Option<bool>,
    /// The last poll's error, if it failed (polling goes on until the timeout).
    pub error: Option<String>,
}

impl Client {
    fn auth_kind(&self) -> crate::error::AuthKind {
        self.auth().kind()
    }

    fn require_api_key(&self, operation: &str, hint: &str) -> Result<()> {
        match self.auth() {
            Auth::ApiKey(_) => Ok(()),
            Auth::System(_) => Err(Error::NeedsApiKey {
                operation: operation.to_owned(),
                hint: hint.to_owned(),
            }),
        }
    }

    /// Every organisation the API key can reach (`GET /api/organizations`, paged).
    pub fn organizations(&self) -> Result<Vec<Organization>> {
        self.require_api_key("listing organisations", "")?;
        // Listing is done without x-org-id.
        let mut unscoped = self.clone();
        unscoped.set_org_id(None);
        let ctx = NotFoundContext::new("the organisation list", "check the region or --jc-url");
        let mut orgs = Vec::new();
        for page in 0..MAX_PAGES {
            let skip = (page * PAGE_SIZE).to_string();
            let limit = PAGE_SIZE.to_string();
            let reply = unscoped
                .send(
                    "GET",
                    "/api/organizations",
                    &[("limit", limit.as_str()), ("skip", skip.as_str())],
                    None,
                )?
                .expect(&[200], self.auth_kind(), &ctx)?;
            let v = reply.json()?;
            let results = v.get("results").and_then(Value::as_array).ok_or_else(|| {
                Error::InvalidResponse {
                    method: reply.method.clone(),
                    path: reply.path.clone(),
                    reason: "no results array".to_owned(),
                }
            })?;
            for o in results {
                let id = o
                    .get("_id")
                    .or_else(|| o.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if id.is_empty() {
                    continue;
                }
                let name = o
                    .get("displayName")
                    .or_else(|| o.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                orgs.push(Organization {
                    id: id.to_owned(),
                    name: name.to_owned(),
                });
            }
            let total = v
                .get("totalCount")
                .and_then(Value::as_u64)
                .map(|t| t as usize);
            let done = results.len() < PAGE_SIZE || total.is_some_and(|t| orgs.len() >= t);
            if results.is_empty() || done {
                break;
            }
        }
        Ok(orgs)
    }

    /// Finds the region whose API accepts `key`, trying `candidates` in order (ADMU
    /// tries US, EU, IN: pass `Region::ALL` mapped to base URLs). Returns a client for
    /// the first one that lists organisations, with those organisations. `configure`
    /// sets timeouts and retries of each client. A key refused everywhere gives
    /// [`Error::Unauthorized`]; if some base could not be reached, its error is
    /// returned instead.
    pub fn discover(
        candidates: &[crate::BaseUrl],
        key: &crate::ApiKey,
        configure: impl Fn(crate::ClientBuilder) -> crate::ClientBuilder,
    ) -> Result<(Client, Vec<Organization>)> {
        let mut last: Option<Error> = None;
        for base in candidates {
            let client =
                configure(Client::builder(base.clone(), Auth::ApiKey(key.clone()))).build();
            match client.organizations() {
                Ok(orgs) => {
                    info!(base = %base, "jumpcloud region found");
                    return Ok((client, orgs));
                }
                Err(e @ Error::Unauthorized { .. }) => {
                    if last.is_none() {
                        last = Some(e);
                    }
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::NoOrganization))
    }

    /// Chooses the organisation and sends `x-org-id` on every later request: the given
    /// id (checked against what the key can reach) or, without one, the key's only
    /// organisation. A multi-tenant key without an id is an error listing them all.
    pub fn select_organization(&mut self, org_id: Option<&str>) -> Result<Organization> {
        let orgs = self.organizations()?;
        let chosen = match org_id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => match orgs.iter().find(|o| o.id == id) {
                Some(o) => o.clone(),
                None if orgs.is_empty() => return Err(Error::NoOrganization),
                None => {
                    return Err(Error::UnknownOrganization {
                        id: id.to_owned(),
                        orgs,
                    });
                }
            },
            None => match orgs.as_slice() {
                [] => return Err(Error::NoOrganization),
                [one] => one.clone(),
                _ => return Err(Error::MultipleOrganizations { orgs }),
            },
        };
        info!(org_id = %chosen.id, org_name = %chosen.name, "jumpcloud organisation selected");
        self.set_org_id(Some(chosen.id.clone()));
        Ok(chosen)
    }

    /// `GET /api/systems/{id}`.
    pub fn system(&self, id: &str) -> Result<System> {
        check_id("system id", id)?;
        let ctx = NotFoundContext::new(
            format!("system {id}"),
            "check the system key in jcagent.conf, and that the API key (and organisation id) is for the organisation this device is in",
        );
        let reply = self
            .send("GET", &format!("/api/systems/{}", segment(id)), &[], None)?
            .expect(&[200], self.auth_kind(), &ctx)?;
        let v = reply.json()?;
        System::from_json(v).map_err(|reason| Error::InvalidResponse {
            method: reply.method,
            path: reply.path,
            reason,
        })
    }

    /// Checks that the credentials reach this device: `GET /api/systems/{systemKey}`
    /// must return the same id (ADMU's connectivity check).
    pub fn verify_system(&self, system_key: &str) -> Result<System> {
        let system = self.system(system_key)?;
        if system.id != system_key {
            return Err(Error::SystemMismatch {
                expected: system_key.to_owned(),
                got: system.id,
            });
        }
        Ok(system)
    }

    /// Finds the user whose username is exactly `username` (case-insensitive):
    /// `POST /api/search/systemusers` with an escaped, anchored regex, then an exact
    /// comparison of what comes back.
    pub fn find_user(&self, username: &str) -> Result<SystemUser> {
        self.require_api_key(
            "looking a user up by name",
            "pass the JumpCloud user id instead, or use an API key",
        )?;
        let name = username.trim();
        if name.is_empty() {
            return Err(Error::UserNotFound {
                username: username.to_owned(),
            });
        }
        let ctx = NotFoundContext::new("the user search", "check the region or --jc-url");
        let reply = self
            .send(
                "POST",
                "/api/search/systemusers",
                &[],
                Some(&username_search_body(name)),
            )?
            .expect(&[200], self.auth_kind(), &ctx)?;
        let v = reply.json()?;
        let results =
            v.get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::InvalidResponse {
                    method: reply.method.clone(),
                    path: reply.path.clone(),
                    reason: "no results array".to_owned(),
                })?;
        let wanted = name.to_lowercase();
        let mut found: Vec<SystemUser> = Vec::new();
        for r in results {
            let Some(un) = r.get("username").and_then(Value::as_str) else {
                continue;
            };
            if un.to_lowercase() != wanted {
                continue;
            }
            let id = r
                .get("_id")
                .or_else(|| r.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !is_valid_system_key(id) {
                return Err(Error::InvalidResponse {
                    method: reply.method.clone(),
                    path: reply.path.clone(),
                    reason: format!("user {un:?} has a malformed id {id:?}"),
                });
            }
            found.push(SystemUser {
                id: id.to_owned(),
                username: un.to_owned(),
                system_username: r
                    .get("systemUsername")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            });
        }
        match found.len() {
            0 => Err(Error::UserNotFound {
                username: name.to_owned(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousUser {
                username: name.to_owned(),
                ids: found.into_iter().map(|u| u.id).collect(),
            }),
        }
    }

    /// Binds a user to a system, by the route the authentication allows: an API key
    /// uses [`bind_user_to_system`](Self::bind_user_to_system), system context
    /// [`bind_system_to_user`](Self::bind_system_to_user).
    pub fn bind_user(&self, user_id: &str, system_id: &str, admin: bool) -> Result<()> {
        match self.auth() {
            Auth::ApiKey(_) => self.bind_user_to_system(user_id, system_id, admin),
            Auth::System(_) => self.bind_system_to_user(system_id, user_id, admin),
        }
    }

    /// `POST /api/v2/users/{userId}/associations` `{"op":"add","type":"system",…}`;
    /// success only on 204.
    pub fn bind_user_to_system(&self, user_id: &str, system_id: &str, admin: bool) -> Result<()> {
        check_id("user id", user_id)?;
        check_id("system id", system_id)?;
        let ctx = NotFoundContext::new(
            format!("user {user_id} or system {system_id}"),
            "check the user id and that the user and the device are in the selected organisation",
        );
        self.send(
            "POST",
            &format!("/api/v2/users/{}/associations", segment(user_id)),
            &[],
            Some(&user_to_system_association(system_id, admin)),
        )?
        .expect(&[204], self.auth_kind(), &ctx)?;
        info!(user_id, system_id, admin, "jumpcloud user bound to system");
        Ok(())
    }

    /// `POST /api/v2/systems/{systemId}/associations` `{"op":"add","type":"user",…}`
    /// (the route system context may use); success only on 204.
    pub fn bind_system_to_user(&self, system_id: &str, user_id: &str, admin: bool) -> Result<()> {
        check_id("user id", user_id)?;
        check_id("system id", system_id)?;
        let ctx = NotFoundContext::new(
            format!("user {user_id} or system {system_id}"),
            "check the user id and that the user is in the device's organisation",
        );
        self.send(
            "POST",
            &format!("/api/v2/systems/{}/associations", segment(system_id)),
            &[],
            Some(&system_to_user_association(user_id, admin)),
        )?
        .expect(&[204], self.auth_kind(), &ctx)?;
        info!(user_id, system_id, admin, "jumpcloud system bound to user");
        Ok(())
    }

    /// Makes `user_id` the system's primary user (`PUT /api/systems/{id}`), then reads
    /// the system back and checks it took.
    pub fn set_primary_user(&self, system_id: &str, user_id: &str) -> Result<()> {
        check_id("user id", user_id)?;
        check_id("system id", system_id)?;
        self.put_system(system_id, &primary_user_body(user_id))?;
        let system = self.system(system_id)?;
        if system.primary_user_id.as_deref() != Some(user_id) {
            return Err(Error::PrimaryUserNotSet {
                system: system_id.to_owned(),
                expected: user_id.to_owned(),
                got: system.primary_user_id,
            });
        }
        info!(user_id, system_id, "jumpcloud primary user set");
        Ok(())
    }

    /// `PUT /api/systems/{id}` with `body`; returns the updated system.
    pub fn put_system(&self, system_id: &str, body: &Value) -> Result<System> {
        check_id("system id", system_id)?;
        let ctx = NotFoundContext::new(
            format!("system {system_id}"),
            "check the system key and the organisation",
        );
        let reply = self
            .send(
                "PUT",
                &format!("/api/systems/{}", segment(system_id)),
                &[],
                Some(body),
            )?
            .expect(&[200], self.auth_kind(), &ctx)?;
        let v = reply.json()?;
        System::from_json(v).map_err(|reason| Error::InvalidResponse {
            method: reply.method,
            path: reply.path,
            reason,
        })
    }

    /// Reports migration status on the system: the `admu` attribute (if `state`) and
    /// this user's entry in the description (if `entry`), in one read-merge-write so
    /// other attributes and other users' entries survive.
    pub fn report_status(
        &self,
        system_id: &str,
        state: Option<MigrationState>,
        entry: Option<&DescriptionEntry>,
    ) -> Result<()> {
        if state.is_none() && entry.is_none() {
            return Ok(());
        }
        let system = self.system(system_id)?;
        let mut body = serde_json::Map::new();
        if let Some(state) = state {
            let attrs = merge_attribute(&system.attributes, ADMU_ATTRIBUTE, state.as_str());
            body.insert(
                "attributes".into(),
                serde_json::to_value(attrs).map_err(|e| Error::InvalidResponse {
                    method: "GET".into(),
                    path: format!("/api/systems/{system_id}"),
                    reason: e.to_string(),
                })?,
            );
        }
        if let Some(entry) = entry {
            let (text, previous) = merge_description(system.description.as_deref(), entry);
            if let PreviousDescription::Replaced(old) = &previous {
                warn!(system_id, previous = %old, "the system description was not ADMU status JSON; it is replaced");
            }
            body.insert("description".into(), Value::String(text));
        }
        self.put_system(system_id, &Value::Object(body))?;
        info!(system_id, state = ?state.map(MigrationState::as_str), sid = ?entry.map(|e| e.sid.as_str()), "jumpcloud status reported");
        Ok(())
    }

    /// Sets the `admu` attribute only.
    pub fn set_admu_state(&self, system_id: &str, state: MigrationState) -> Result<()> {
        self.report_status(system_id, Some(state), None)
    }

    /// Updates one user's description entry only.
    pub fn update_description(&self, system_id: &str, entry: &DescriptionEntry) -> Result<()> {
        self.report_status(system_id, None, Some(entry))
    }

    /// Polls the system until JumpCloud reports `domainInfo.partOfDomain == false`
    /// (the agent enables password sync on bind only then). Failed polls are reported
    /// to `progress` and polling goes on, except for 401/403/404, which end the wait.
    /// After `wait.timeout`: [`Error::StillInDomain`].
    pub fn wait_for_domain_leave(
        &self,
        system_id: &str,
        wait: DomainWait,
        progress: &mut dyn FnMut(&DomainWaitProgress),
    ) -> Result<System> {
        let start = Instant::now();
        let mut polls = 0u32;
        loop {
            polls += 1;
            let (part_of_domain, error) = match self.system(system_id) {
                Ok(system) => {
                    if system.part_of_domain() == Some(false) {
                        progress(&DomainWaitProgress {
                            elapsed: start.elapsed(),
                            polls,
                            part_of_domain: Some(false),
                            error: None,
                        });
                        return Ok(system);
                    }
                    (system.part_of_domain(), None)
                }
                Err(
                    e @ (Error::Unauthorized { .. }
                    | Error::Forbidden { .. }
                    | Error::NotFound { .. }
                    | Error::InvalidUrl { .. }),
                ) => return Err(e),
                Err(e) => (None, Some(e.to_string())),
            };
            progress(&DomainWaitProgress {
                elapsed: start.elapsed(),
                polls,
                part_of_domain,
                error,
            });
            let elapsed = start.elapsed();
            if elapsed + wait.poll_interval > wait.timeout {
                return Err(Error::StillInDomain {
                    system: system_id.to_owned(),
                    waited: elapsed,
                });
            }
            std::thread::sleep(wait.poll_interval);
        }
    }

    /// Every system in the organisation (`GET /api/systems`, paged), for fleet use.
    pub fn systems(&self) -> Result<Vec<System>> {
        self.systems_with_progress(&mut |_| {})
    }

    /// [`systems`](Self::systems), calling `progress` after every page.
    pub fn systems_with_progress(
        &self,
        progress: &mut dyn FnMut(crate::pager::PageProgress),
    ) -> Result<Vec<System>> {
        self.require_api_key("listing systems", "")?;
        let listing = crate::pager::Listing {
            path: "/api/systems",
            query: &[],
            page_size: PAGE_SIZE,
            what: "the system list",
        };
        self.list_all(&listing, progress)?
            .into_iter()
            .map(|r| {
                System::from_json(r).map_err(|reason| Error::InvalidResponse {
                    method: "GET".to_owned(),
                    path: "/api/systems".to_owned(),
                    reason,
                })
            })
            .collect()
    }
}

fn check_id(what: &str, id: &str) -> Result<()> {
    if is_valid_system_key(id) {
        Ok(())
    } else {
        Err(Error::NotFound {
            what: format!("{what} {id:?}"),
            detail: "not sent: not a JumpCloud object id".to_owned(),
            hint: "JumpCloud ids are letters and digits; check the value".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_regex("a.b"), r"a\.b");
        assert_eq!(escape_regex("a+b"), r"a\+b");
        assert_eq!(
            escape_regex(r"x(y)|[z]{1}^$*?\"),
            r"x\(y\)\|\[z\]\{1\}\^\$\*\?\\"
        );
        assert_eq!(escape_regex("jane_doe@corp"), "jane_doe@corp");
        let body = username_search_body("a.b");
        assert_eq!(
            body["filter"]["and"][0]["username"]["$regex"],
            r"(?i)^a\.b$"
        );
    }

    #[test]
    fn bodies() {
        assert_eq!(
            user_to_system_association("s1", false),
            json!({"op":"add","type":"system","id":"s1"})
        );
        assert_eq!(
            user_to_system_association("s1", true)["attributes"],
            json!({"sudo":{"enabled":true,"withoutPassword":false}})
        );
        assert_eq!(
            system_to_user_association("u1", false),
            json!({"op":"add","type":"user","id":"u1","attributes":{"sudo":{"enabled":false,"withoutPassword":false}}})
        );
        assert_eq!(
            primary_user_body("u1"),
            json!({"primarySystemUser.id":"u1"})
        );
    }
}
