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
pub mod spec;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use regex::Regex;
use serde_json::{Map, Value, json};

pub use agent::{FakeAgent, KeyFormat};
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

/// An answer: status, body, extra headers.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
    fn message(status: u16, msg: &str) -> Reply {
        Reply::json(status, json!({"message": msg}))
    }
}

fn handle(mut request: tiny_http::Request, inner: &Mutex<Inner>, specs: &Specs) {
    let method = request.method().as_str().to_owned();
    let raw_url = request.url().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let mut body_text = String::new();
    let _ = request.as_reader().read_to_string(&mut body_text);
    let body = if body_text.is_empty() {
        None
    } else {
        Some(body_text)
    };
    let (path, query) = split_url(&raw_url);

    let (reply, auth, op) = process(
        inner,
        specs,
        &method,
        &raw_url,
        &path,
        &query,
        &headers,
        body.as_deref(),
    );

    // Self-check: what the stand-in answers must be spec-shaped too.
    if let Some(op) = &op
        && (200..300).contains(&reply.status)
    {
        let problems = specs.check_response(op, reply.status, reply.body.as_ref());
        if !problems.is_empty() {
            lock(inner).response_violations.push(Violation {
                method: method.clone(),
                url: raw_url.clone(),
                problems,
            });
        }
    }

    lock(inner).requests.push(RecordedRequest {
        method,
        path,
        query,
        headers,
        body,
        status: reply.status,
        auth,
    });

    let mut response = match &reply.body {
        Some(b) => tiny_http::Response::from_string(b.to_string()).with_status_code(reply.status),
        None => tiny_http::Response::from_string(String::new()).with_status_code(reply.status),
    };
    if reply.body.is_some()
        && let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "application/json")
    {
        response = response.with_header(h);
    }
    for (k, v) in &reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response = response.with_header(h);
        }
    }
    let _ = request.respond(response);
}

#[allow(clippy::too_many_arguments)]
fn process(
    inner: &Mutex<Inner>,
    specs: &Specs,
    method: &str,
    raw_url: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: Option<&str>,
) -> (Reply, RequestAuth, Option<spec::Operation>) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    // 1. The request must conform to the spec.
    let mut problems = Vec::new();
    let op = match specs.find(method, path) {
        Ok(op) => Some(op),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let body_json = match body {
        None => None,
        Some(b) => match serde_json::from_str::<Value>(b) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("the body is not JSON: {e}"));
                None
            }
        },
    };
    if body.is_some() && !header("content-type").is_some_and(|c| c.starts_with("application/json"))
    {
        problems.push("a body without Content-Type: application/json".to_owned());
    }
    if let Some(op) = &op {
        problems.extend(specs.check_query(op, query));
        if body.is_none() || body_json.is_some() {
            problems.extend(specs.check_body(op, body_json.as_ref()));
        }
    }
    if !problems.is_empty() {
        lock(inner).violations.push(Violation {
            method: method.to_owned(),
            url: raw_url.to_owned(),
            problems: problems.clone(),
        });
        return (
            Reply::message(400, &format!("invalid request: {}", problems.join("; "))),
            RequestAuth::None,
            None,
        );
    }

    // 2. Injected failures.
    let failure = lock(inner).failure.clone();
    match failure {
        Failure::None => {}
        Failure::Slow(d) => std::thread::sleep(d),
        Failure::Unauthorized => {
            return (Reply::message(401, "Unauthorized"), RequestAuth::None, None);
        }
        Failure::ServerError => {
            return (
                Reply::message(500, "Internal Server Error"),
                RequestAuth::None,
                None,
            );
        }
        Failure::TooManyRequests {
            times,
            retry_after_secs,
        } => {
            if times > 0 {
                lock(inner).failure = if times > 1 {
                    Failure::TooManyRequests {
                        times: times - 1,
                        retry_after_secs,
                    }
                } else {
                    Failure::None
                };
                let mut r = Reply::message(429, "Too Many Requests");
                r.headers
                    .push(("Retry-After".into(), retry_after_secs.to_string()));
                return (r, RequestAuth::None, None);
            }
        }
    }

    // 3. Authentication and organisation scope.
    let mut g = lock(inner);
    let (auth, scope) = match authenticate(&g, method, raw_url, path, header) {
        Ok(x) => x,
        Err((reply, auth)) => return (reply, auth, None),
    };

    // 4. The endpoint.
    let reply = route(
        &mut g,
        method,
        path,
        query,
        body_json.as_ref(),
        scope.as_deref(),
        &auth,
    );
    if reply.status == 404
        && reply
            .body
            .as_ref()
            .is_some_and(|b| b["message"] == "not served by the stand-in")
    {
        g.violations.push(Violation {
            method: method.to_owned(),
            url: raw_url.to_owned(),
            problems: vec!["valid per spec, but the stand-in does not serve it".to_owned()],
        });
    }
    (reply, auth, op)
}

type Scope = Option<String>;

fn authenticate<'h>(
    g: &Inner,
    method: &str,
    raw_url: &str,
    path: &str,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Result<(RequestAuth, Scope), (Reply, RequestAuth)> {
    if let Some(authz) = header("authorization")
        && authz.starts_with("Signature ")
    {
        let reject = |why: String| {
            (
                Reply::message(401, "Unauthorized"),
                RequestAuth::Rejected(why),
            )
        };
        let sig = agent::parse_signature_header(authz)
            .ok_or_else(|| reject("malformed Signature header".into()))?;
        let key = sig
            .key_id
            .strip_prefix("system/")
            .ok_or_else(|| reject(format!("keyId {:?} is not system/<key>", sig.key_id)))?;
        let system = g
            .systems
            .iter()
            .find(|s| s.id == key)
            .ok_or_else(|| reject(format!("no system {key}")))?;
        agent::verify(
            &sig,
            &system.agent.public_key(),
            method,
            raw_url,
            header("date"),
            g.max_clock_skew,
        )
        .map_err(reject)?;
        if !system_context_allowed(method, path, key) {
            return Err(reject(format!(
                "{method} {path} is not allowed in system context"
            )));
        }
        return Ok((
            RequestAuth::System(key.to_owned()),
            Some(system.org_id.clone()),
        ));
    }
    match header("x-api-key") {
        Some(k) if k == g.api_key => {}
        Some(_) => {
            return Err((
                Reply::message(401, "Unauthorized"),
                RequestAuth::Rejected("wrong API key".into()),
            ));
        }
        None => return Err((Reply::message(401, "Unauthorized"), RequestAuth::None)),
    }
    // Multi-tenant headers, as documented.
    if path == "/api/organizations" {
        return Ok((RequestAuth::ApiKey, None));
    }
    match header("x-org-id") {
        Some(id) => {
            if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((Reply::message(400, "Malformed ID."), RequestAuth::ApiKey));
            }
            if !g.orgs.iter().any(|o| o.id == id) {
                return Err((
                    Reply::message(404, "Organization ID Not Found."),
                    RequestAuth::ApiKey,
                ));
            }
            Ok((RequestAuth::ApiKey, Some(id.to_owned())))
        }
        None if g.orgs.len() == 1 => {
            Ok((RequestAuth::ApiKey, g.orgs.first().map(|o| o.id.clone())))
        }
        None => Err((
            Reply::message(401, "ID not included for multi-tenant admin"),
            RequestAuth::ApiKey,
        )),
    }
}

/// The endpoints JumpCloud documents for system context, for the system itself.
fn system_context_allowed(method: &str, path: &str, key: &str) -> bool {
    let own = format!("/api/systems/{key}");
    let v2 = format!("/api/v2/systems/{key}/");
    match method {
        "GET" => {
            path == own
                || ["memberof", "associations", "users"]
                    .iter()
                    .any(|s| path == format!("{v2}{s}"))
        }
        "PUT" | "DELETE" => path == own,
        "POST" => {
            path == format!("{v2}associations")
                || (path.starts_with("/api/v2/systemgroups/") && path.ends_with("/members"))
        }
        _ => false,
    }
}

fn route(
    g: &mut Inner,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    org: Option<&str>,
    auth: &RequestAuth,
) -> Reply {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = q("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10);
    let skip = q("skip").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    match (method, segs.as_slice()) {
        ("GET", ["api", "organizations"]) => {
            let all: Vec<Value> = g
                .orgs
                .iter()
                .map(|o| json!({"_id": o.id, "displayName": o.name, "logoUrl": ""}))
                .collect();
            let total = all.len();
            let page: Vec<Value> = all.into_iter().skip(skip).take(limit).collect();
            Reply::json(200, json!({"results": page, "totalCount": total}))
        }
        ("GET", ["api", "systems"]) => {
            let all: Vec<Value> = g
                .systems
                .iter()
                .filter(|s| Some(s.org_id.as_str()) == org)
                .map(system_json)
                .collect();
            let total = all.len();
            let page: Vec<Value> = all.into_iter().skip(skip).take(limit).collect();
            Reply::json(200, json!({"results": page, "totalCount": total}))
        }
        ("GET", ["api", "systems", id]) => {
            let Some(s) = g
                .systems
                .iter_mut()
                .find(|s| s.id == *id && Some(s.org_id.as_str()) == org)
            else {
                return Reply::message(404, "Not Found");
            };
            s.reads += 1;
            if s.leave_domain_after_reads.is_some_and(|n| s.reads >= n) {
                s.part_of_domain = false;
            }
            Reply::json(200, system_json(s))
        }
        ("PUT", ["api", "systems", id]) => {
            let body = body.cloned().unwrap_or(json!({}));
            let primary = body
                .get("primarySystemUser.id")
                .or_else(|| body.get("primarySystemUser").and_then(|p| p.get("id")))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(uid) = &primary
                && !g
                    .users
                    .iter()
                    .any(|u| &u.id == uid && Some(u.org_id.as_str()) == org)
            {
                return Reply::message(400, "primarySystemUser: no such user");
            }
            let Some(s) = g
                .systems
                .iter_mut()
                .find(|s| s.id == *id && Some(s.org_id.as_str()) == org)
            else {
                return Reply::message(404, "Not Found");
            };
            if let Some(a) = body.get("attributes").and_then(Value::as_array) {
                s.attributes = a.clone();
            }
            if let Some(d) = body.get("description").and_then(Value::as_str) {
                s.description = Some(d.to_owned());
            }
            if let Some(p) = primary {
                s.primary_user = Some(p);
            }
            Reply::json(200, system_json(s))
        }
        ("POST", ["api", "search", "systemusers"]) => {
            search_users(g, body.unwrap_or(&Value::Null), org)
        }
        ("POST", ["api", "v2", "users", user_id, "associations"]) => {
            if !g
                .users
                .iter()
                .any(|u| u.id == *user_id && Some(u.org_id.as_str()) == org)
            {
                return Reply::message(404, "User not found");
            }
            let body = body.cloned().unwrap_or(Value::Null);
            if body["type"] != "system" {
                return Reply::message(400, "only system associations are served by the stand-in");
            }
            let system_id = body["id"].as_str().unwrap_or_default().to_owned();
            associate(g, org, user_id, &system_id, &body)
        }
        ("POST", ["api", "v2", "systems", system_id, "associations"]) => {
            let body = body.cloned().unwrap_or(Value::Null);
            if body["type"] != "user" {
                return Reply::message(400, "only user associations are served by the stand-in");
            }
            let user_id = body["id"].as_str().unwrap_or_default().to_owned();
            if !g
                .users
                .iter()
                .any(|u| u.id == user_id && Some(u.org_id.as_str()) == org)
            {
                return Reply::message(404, "User not found");
            }
            let _ = auth;
            associate(g, org, &user_id, system_id, &body)
        }
        ("GET", ["api", "v2", "systems", system_id, "associations"]) => {
            if !g
                .systems
                .iter()
                .any(|s| s.id == *system_id && Some(s.org_id.as_str()) == org)
            {
                return Reply::message(404, "Not Found");
            }
            let list: Vec<Value> = g
                .associations
                .iter()
                .filter(|a| a.system_id == *system_id)
                .map(|a| {
                    let mut to = json!({"id": a.user_id, "type": "user"});
                    if let Some(attrs) = &a.attributes {
                        to["attributes"] = attrs.clone();
                    }
                    json!({"to": to})
                })
                .collect();
            Reply::json(200, Value::Array(list))
        }
        _ => Reply::message(404, "not served by the stand-in"),
    }
}

fn associate(
    g: &mut Inner,
    org: Option<&str>,
    user_id: &str,
    system_id: &str,
    body: &Value,
) -> Reply {
    if !g
        .systems
        .iter()
        .any(|s| s.id == system_id && Some(s.org_id.as_str()) == org)
    {
        return Reply::message(404, "System not found");
    }
    let attributes = body.get("attributes").cloned();
    match body["op"].as_str() {
        Some("add") | Some("update") => {
            match g
                .associations
                .iter_mut()
                .find(|a| a.user_id == user_id && a.system_id == system_id)
            {
                Some(a) => a.attributes = attributes,
                None => g.associations.push(Association {
                    user_id: user_id.to_owned(),
                    system_id: system_id.to_owned(),
                    attributes,
                }),
            }
        }
        Some("remove") => g
            .associations
            .retain(|a| !(a.user_id == user_id && a.system_id == system_id)),
        _ => return Reply::message(400, "bad op"),
    }
    Reply::empty(204)
}

fn system_json(s: &SystemState) -> Value {
    let mut v = json!({
        "_id": s.id,
        "organization": s.org_id,
        "hostname": s.hostname,
        "displayName": s.hostname,
        "os": "Windows",
        "active": true,
        "attributes": s.attributes,
        "domainInfo": {"partOfDomain": s.part_of_domain, "domainName": if s.part_of_domain { "CORP" } else { "" }},
    });
    if let Some(d) = &s.description {
        v["description"] = Value::String(d.clone());
    }
    if let Some(p) = &s.primary_user {
        v["primarySystemUser"] = json!({"id": p});
    }
    v
}

fn user_json(u: &User) -> Value {
    let mut v = json!({
        "_id": u.id,
        "username": u.username,
        "organization": u.org_id,
        "email": format!("{}@example.com", u.username),
        "activated": true,
        "state": "ACTIVATED",
    });
    if let Some(s) = &u.system_username {
        v["systemUsername"] = Value::String(s.clone());
    }
    v
}

/// `POST /api/search/systemusers`: `filter` with `and`/`or` lists of `{field: value}` or
/// `{field: {"$regex": pattern}}` (regexes evaluated like the server would, so an
/// unescaped `.` matches any character); `fields`, `limit`, `skip`.
fn search_users(g: &Inner, body: &Value, org: Option<&str>) -> Reply {
    let filter = body.get("filter").cloned().unwrap_or(json!({}));
    let mut matched = Vec::new();
    for u in g.users.iter().filter(|u| Some(u.org_id.as_str()) == org) {
        let doc = user_json(u);
        match filter_matches(&filter, &doc) {
            Ok(true) => matched.push(doc),
            Ok(false) => {}
            Err(e) => return Reply::message(400, &e),
        }
    }
    let total = matched.len();
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    let skip = body.get("skip").and_then(Value::as_u64).unwrap_or(0) as usize;
    let fields: Option<Vec<String>> = body.get("fields").and_then(Value::as_str).map(|f| {
        f.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let results: Vec<Value> = matched
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|doc| match &fields {
            None => doc,
            Some(fields) => {
                let mut m = Map::new();
                if let Some(obj) = doc.as_object() {
                    for (k, v) in obj {
                        if k == "_id" || fields.iter().any(|f| f == k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                Value::Object(m)
            }
        })
        .collect();
    Reply::json(200, json!({"results": results, "totalCount": total}))
}

fn filter_matches(filter: &Value, doc: &Value) -> Result<bool, String> {
    match filter {
        Value::Array(items) => {
            for f in items {
                if !filter_matches(f, doc)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(obj) => {
            for (k, cond) in obj {
                let ok = match k.as_str() {
                    "and" => {
                        let items = cond.as_array().ok_or("and must be a list")?;
                        let mut all = true;
                        for f in items {
                            all &= filter_matches(f, doc)?;
                        }
                        all
                    }
                    "or" => {
                        let items = cond.as_array().ok_or("or must be a list")?;
                        let mut any = false;
                        for f in items {
                            any |= filter_matches(f, doc)?;
                        }
                        any
                    }
                    field => field_matches(doc.get(field), cond)?,
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Err("filter must be an object or a list".to_owned()),
    }
}

fn field_matches(value: Option<&Value>, cond: &Value) -> Result<bool, String> {
    let text = value.and_then(Value::as_str);
    match cond {
        Value::Object(ops) => {
            for (op, arg) in ops {
                let ok = match op.as_str() {
                    "$regex" => {
                        let pattern = arg.as_str().ok_or("$regex needs a string")?;
                        let re = Regex::new(pattern)
                            .map_err(|e| format!("invalid $regex {pattern:?}: {e}"))?;
                        text.is_some_and(|t| re.is_match(t))
                    }
                    "$eq" => value == Some(arg),
                    "$ne" => value != Some(arg),
                    other => return Err(format!("unsupported operator {other}")),
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        other => Ok(value == Some(other)),
    }
}

fn split_url(raw: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, q),
        None => (raw, ""),
    };
    let pairs = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    (percent_decode(path), pairs)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

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
