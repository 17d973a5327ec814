//! A stand-in for the JumpCloud API, for tests: an HTTP server on `127.0.0.1` (random
//! port, background thread) that serves the endpoints admu uses, checks every request
//! against the official API descriptions (Swagger 2.0, JSON Schema validation of bodies
//! and queries; an invalid request gets 400 and is recorded), verifies system-context
//! signatures with each fake agent's public key, and can be told to fail.
//!
//! ```no_run
//! use jcstandin::{Failure, KeyFormat, StandIn};
//!
//! let jc = StandIn::start();
//! let user = jc.add_user("jane.doe", Some("jane"));
//! let system = jc.add_system("PC-1");
//! let dir = tempfile_dir();
//! let (conf, key) = jc.agent(&system).write_files(&dir, KeyFormat::Pkcs8).unwrap();
//! // … point the client at jc.url() with jc.api_key() or the agent files …
//! jc.set_failure(Failure::TooManyRequests { times: 1, retry_after_secs: 1 });
//! assert!(jc.associations().is_empty());
//! jc.assert_no_violations();
//! # fn tempfile_dir() -> std::path::PathBuf { unimplemented!() }
//! ```
//!
//! It is a test helper (`publish = false`), never shipped. The specs are read from
//! `$JC_API_SPECS` or `shared/jumpcloud-api` beside the repository.

pub mod agent;
pub mod fleet;
mod search;
mod server;
pub mod spec;
mod url;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

pub use agent::{FakeAgent, KeyFormat};
pub use fleet::{CommandState, QueuedRun};
use server::handle;
use spec::Specs;

/// The API key the stand-in accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "jcsk-standin-0123456789abcdef";

/// Injected failures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Failure {
    /// Serve normally.
    #[default]
    None,
    /// Answer 401 to everything.
    Unauthorized,
    /// Answer the next `times` requests with 429 and `Retry-After: retry_after_secs`,
    /// then serve normally.
    TooManyRequests {
        /// How many requests to refuse.
        times: u32,
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// Answer 500 to everything, forever.
    ServerError,
    /// Answer 504 (a gateway that timed out) to everything, forever.
    GatewayTimeout,
    /// Answer every request only after this delay.
    Slow(Duration),
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// `_id`.
    pub id: String,
    /// `displayName`.
    pub name: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `_id`.
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// `username`.
    pub username: String,
    /// `systemUsername`.
    pub system_username: Option<String>,
}

/// A system and its fake agent.
#[derive(Debug, Clone)]
pub struct SystemState {
    /// `_id` (= system key).
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// `hostname`.
    pub hostname: String,
    /// `os` ("Windows" unless changed).
    pub os: String,
    /// `attributes` (`{name, value}` objects, as stored).
    pub attributes: Vec<Value>,
    /// `description`.
    pub description: Option<String>,
    /// `domainInfo.partOfDomain`.
    pub part_of_domain: bool,
    /// Leave the domain once the system has been read this many times (`None`: never).
    pub leave_domain_after_reads: Option<u32>,
    /// `GET /api/systems/{id}` count.
    pub reads: u32,
    /// `primarySystemUser.id`.
    pub primary_user: Option<String>,
    /// The agent (key pair).
    pub agent: FakeAgent,
}

impl SystemState {
    /// The value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a.get("value"))
    }

    /// The description parsed as JSON.
    pub fn description_json(&self) -> Option<Value> {
        self.description
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }
}

/// A user–system association.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    /// The user.
    pub user_id: String,
    /// The system.
    pub system_id: String,
    /// Its attributes (`{"sudo": …}`), if any.
    pub attributes: Option<Value>,
}

impl Association {
    /// `attributes.sudo.enabled`.
    pub fn sudo(&self) -> bool {
        self.attributes
            .as_ref()
            .and_then(|a| a["sudo"]["enabled"].as_bool())
            .unwrap_or(false)
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAuth {
    /// No credentials.
    None,
    /// The API key.
    ApiKey,
    /// A valid system-context signature of this system.
    System(String),
    /// Credentials that were refused.
    Rejected(String),
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case (the API key value is kept: tests compare it).
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: Option<String>,
    /// Status answered.
    pub status: u16,
    /// How it authenticated.
    pub auth: RequestAuth,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        self.body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    }
}

/// A request that does not conform to the API spec (or that the stand-in does not
/// serve), or a response of the stand-in that does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Method.
    pub method: String,
    /// URL (path and query).
    pub url: String,
    /// What is wrong.
    pub problems: Vec<String>,
}

#[derive(Debug)]
struct Inner {
    api_key: String,
    orgs: Vec<Org>,
    users: Vec<User>,
    systems: Vec<SystemState>,
    associations: Vec<Association>,
    failure: Failure,
    requests: Vec<RecordedRequest>,
    violations: Vec<Violation>,
    response_violations: Vec<Violation>,
    next_id: u64,
    keys_used: usize,
    max_clock_skew: Duration,
    fleet: fleet::FleetState,
}

impl Inner {
    fn new_id(&mut self, kind: u8) -> String {
        self.next_id += 1;
        format!("{kind:x}{:023x}", 0x5f00_0000_0000u64 + self.next_id)
    }
}

/// The running stand-in. Stops when dropped.
pub struct StandIn {
    url: String,
    inner: Arc<Mutex<Inner>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    match inner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl StandIn {
    /// Starts a stand-in with one organisation ("Org One"), no users and no systems.
    ///
    /// # Panics
    /// If the specs cannot be loaded or no port can be bound.
    pub fn start() -> StandIn {
        match Self::try_start() {
            Ok(s) => s,
            Err(e) => {
                #[allow(clippy::panic)]
                {
                    panic!("jcstandin: {e}")
                }
            }
        }
    }

    /// Starts a stand-in, or says why it cannot.
    pub fn try_start() -> Result<StandIn, String> {
        let specs = Specs::shared()?;
        let server =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("no TCP address")?;
        let server = Arc::new(server);
        let mut inner = Inner {
            api_key: DEFAULT_API_KEY.to_owned(),
            orgs: Vec::new(),
            users: Vec::new(),
            systems: Vec::new(),
            associations: Vec::new(),
            failure: Failure::None,
            requests: Vec::new(),
            violations: Vec::new(),
            response_violations: Vec::new(),
            next_id: 0,
            keys_used: 0,
            max_clock_skew: Duration::from_secs(300),
            fleet: fleet::FleetState::default(),
        };
        let id = inner.new_id(5);
        inner.orgs.push(Org {
            id,
            name: "Org One".to_owned(),
        });
        let inner = Arc::new(Mutex::new(inner));
        let thread = {
            let server = Arc::clone(&server);
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("jcstandin".into())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        let inner = Arc::clone(&inner);
                        let specs = Arc::clone(&specs);
                        let _ = std::thread::Builder::new()
                            .name("jcstandin-req".into())
                            .spawn(move || handle(request, &inner, &specs));
                    }
                })
                .map_err(|e| e.to_string())?
        };
        Ok(StandIn {
            url: format!("http://127.0.0.1:{port}"),
            inner,
            server,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The accepted API key.
    pub fn api_key(&self) -> String {
        lock(&self.inner).api_key.clone()
    }

    /// Changes the accepted API key.
    pub fn set_api_key(&self, key: &str) {
        lock(&self.inner).api_key = key.to_owned();
    }

    /// The first organisation's id.
    pub fn default_org(&self) -> String {
        lock(&self.inner)
            .orgs
            .first()
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    /// Adds an organisation (the key can reach all of them); returns its id.
    pub fn add_org(&self, name: &str) -> String {
        let mut g = lock(&self.inner);
        let id = g.new_id(5);
        g.orgs.push(Org {
            id: id.clone(),
            name: name.to_owned(),
        });
        id
    }

    /// Adds a user to the first organisation; returns its id.
    pub fn add_user(&self, username: &str, system_username: Option<&str>) -> String {
        let org = self.default_org();
        self.add_user_in(&org, username, system_username)
    }

    /// Adds a user to an organisation; returns its id.
    pub fn add_user_in(
        &self,
        org_id: &str,
        username: &str,
        system_username: Option<&str>,
    ) -> String {
        let mut g = lock(&self.inner);
        let id = g.new_id(6);
        g.users.push(User {
            id: id.clone(),
            org_id: org_id.to_owned(),
            username: username.to_owned(),
            system_username: system_username.map(str::to_owned),
        });
        id
    }

    /// Adds a domain-joined system (with its own fake agent key) to the first organisation;
    /// returns its id.
    pub fn add_system(&self, hostname: &str) -> String {
        let org = self.default_org();
        self.add_system_in(&org, hostname)
    }

    /// Adds a domain-joined system to an organisation; returns its id.
    pub fn add_system_in(&self, org_id: &str, hostname: &str) -> String {
        let (id, index) = {
            let mut g = lock(&self.inner);
            g.keys_used += 1;
            (g.new_id(7), g.keys_used - 1)
        };
        let agent = FakeAgent::pooled(&id, index);
        lock(&self.inner).systems.push(SystemState {
            id: id.clone(),
            org_id: org_id.to_owned(),
            hostname: hostname.to_owned(),
            os: "Windows".to_owned(),
            attributes: Vec::new(),
            description: None,
            part_of_domain: true,
            leave_domain_after_reads: None,
            reads: 0,
            primary_user: None,
            agent,
        });
        id
    }

    /// A system's fake agent.
    ///
    /// # Panics
    /// If there is no such system.
    pub fn agent(&self, system_id: &str) -> FakeAgent {
        self.system(system_id).agent
    }

    /// A copy of a system's state.
    ///
    /// # Panics
    /// If there is no such system.
    pub fn system(&self, system_id: &str) -> SystemState {
        let g = lock(&self.inner);
        let found = g.systems.iter().find(|s| s.id == system_id).cloned();
        drop(g);
        match found {
            Some(s) => s,
            None => {
                #[allow(clippy::panic)]
                {
                    panic!("jcstandin: no system {system_id}")
                }
            }
        }
    }

    /// Changes a system's state.
    pub fn update_system(&self, system_id: &str, f: impl FnOnce(&mut SystemState)) {
        let mut g = lock(&self.inner);
        if let Some(s) = g.systems.iter_mut().find(|s| s.id == system_id) {
            f(s);
        }
    }

    /// Makes the system leave its domain once it has been read `reads` times
    /// (`None`: it never leaves, the default).
    pub fn leave_domain_after(&self, system_id: &str, reads: Option<u32>) {
        self.update_system(system_id, |s| s.leave_domain_after_reads = reads);
    }

    /// Every association.
    pub fn associations(&self) -> Vec<Association> {
        lock(&self.inner).associations.clone()
    }

    /// Every user.
    pub fn users(&self) -> Vec<User> {
        lock(&self.inner).users.clone()
    }

    /// Sets the injected failure.
    pub fn set_failure(&self, failure: Failure) {
        lock(&self.inner).failure = failure;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner).requests.clone()
    }

    /// How many requests so far.
    pub fn request_count(&self) -> usize {
        lock(&self.inner).requests.len()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.inner).requests.clear();
    }

    /// Requests that did not conform to the spec.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.inner).violations.clone()
    }

    /// Responses of the stand-in that did not conform to the spec (a stand-in bug).
    pub fn response_violations(&self) -> Vec<Violation> {
        lock(&self.inner).response_violations.clone()
    }

    /// Asserts that every request and every response conformed to the spec.
    ///
    /// # Panics
    /// If one did not.
    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "requests violating the JumpCloud API spec: {v:#?}"
        );
        let r = self.response_violations();
        assert!(
            r.is_empty(),
            "stand-in responses violating the spec: {r:#?}"
        );
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::filter_matches;
    use crate::url::split_url;
    use serde_json::json;

    #[test]
    fn url_parsing() {
        let (p, q) = split_url("/api/x%2Fy?a=1&b=c%20d&e");
        assert_eq!(p, "/api/x/y");
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "c d".into()),
                ("e".into(), String::new())
            ]
        );
    }

    #[test]
    fn filters() {
        let doc = json!({"username": "axb"});
        let f = json!({"and": [{"username": {"$regex": "(?i)^a.b$"}}]});
        assert!(filter_matches(&f, &doc).unwrap());
        let f = json!({"and": [{"username": {"$regex": r"(?i)^a\.b$"}}]});
        assert!(!filter_matches(&f, &doc).unwrap());
        let f = json!({"and": [{"username": {"$regex": r"(?i)^A\-\#\&\~x$"}}]});
        assert!(filter_matches(&f, &json!({"username": "a-#&~x"})).unwrap());
    }

    #[test]
    fn specs_find_and_validate() {
        let specs = Specs::shared().unwrap();
        let op = specs.find("PUT", "/api/systems/abc").unwrap();
        assert_eq!(op.template, "/systems/{id}");
        assert!(
            specs
                .check_body(
                    &op,
                    Some(&json!({"attributes": [{"name": "a", "value": "b"}]}))
                )
                .is_empty()
        );
        assert!(
            !specs
                .check_body(&op, Some(&json!({"attributes": "nope"})))
                .is_empty()
        );
        let op = specs.find("POST", "/api/v2/users/u1/associations").unwrap();
        assert!(
            specs
                .check_body(
                    &op,
                    Some(&json!({"op": "add", "type": "system", "id": "s"}))
                )
                .is_empty()
        );
        assert!(
            !specs
                .check_body(
                    &op,
                    Some(&json!({"op": "add", "type": "computer", "id": "s"}))
                )
                .is_empty()
        );
        assert!(
            !specs
                .check_body(&op, Some(&json!({"type": "system", "id": "s"})))
                .is_empty()
        );
        assert!(
            !specs
                .check_body(&op, Some(&json!({"op": "add", "type": "system", "id": "s", "attributes": {"sudo": {"enabled": true}}})))
                .is_empty()
        );
        let op = specs.find("GET", "/api/organizations").unwrap();
        assert!(
            specs
                .check_query(
                    &op,
                    &[("limit".into(), "100".into()), ("skip".into(), "0".into())]
                )
                .is_empty()
        );
        assert!(
            !specs
                .check_query(&op, &[("skip".into(), "-1".into())])
                .is_empty()
        );
        assert!(
            !specs
                .check_query(&op, &[("bogus".into(), "1".into())])
                .is_empty()
        );
        assert!(specs.find("GET", "/api/nothing/here").is_err());
        assert!(specs.find("PATCH", "/api/systems/x").is_err());
        let op = specs
            .find("POST", "/api/v2/systems/s1/associations")
            .unwrap();
        assert!(
            !specs
                .check_query(&op, &[("targets".into(), "user".into())])
                .is_empty()
        );
    }
}
