//! The HTTP client: base URL, authentication, timeouts, retries and logging.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tracing::{debug, trace, warn};

use crate::base_url::BaseUrl;
use crate::error::{AuthKind, Error, Result};
use crate::secret::{ApiKey, REDACTED};
use crate::signing::{SystemSigner, http_date};

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An administrator API key (`x-api-key`; plus `x-org-id` once an organisation is chosen).
    ApiKey(ApiKey),
    /// System context: requests signed with the agent's key (only the device's own
    /// system and its associations can be reached).
    System(SystemSigner),
}

impl Auth {
    /// Which kind this is.
    pub fn kind(&self) -> AuthKind {
        match self {
            Auth::ApiKey(_) => AuthKind::ApiKey,
            Auth::System(_) => AuthKind::SystemContext,
        }
    }
}

/// When and how often to retry. Retries happen on connection failures, `429` (waiting
/// for `Retry-After` seconds when given) and `5xx`; never on other `4xx` and never after
/// a response timeout (the request may have been applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff wait.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one fails at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0 = the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base: BaseUrl,
    auth: Auth,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    org_id: Option<String>,
}

impl ClientBuilder {
    /// Timeout of one attempt, from connecting to the end of the response body
    /// (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Timeout for establishing a connection (default 10 s, never more than [`timeout`](Self::timeout)).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Organisation id sent as `x-org-id` (API-key auth only). Usually set by
    /// [`Client::select_organization`] instead.
    pub fn org_id(mut self, org_id: Option<String>) -> Self {
        self.org_id = org_id;
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout.min(self.timeout)))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(self.user_agent.clone());
        if self.base.is_loopback() {
            // A local stand-in: never send its traffic to a proxy.
            config = config.proxy(None);
        } else {
            config = config.https_only(true);
        }
        let agent = config.build().new_agent();
        Client {
            base: self.base,
            auth: self.auth,
            agent,
            timeout: self.timeout,
            retry: self.retry,
            org_id: self.org_id,
        }
    }
}

/// A JumpCloud API client. Blocking; every call has a timeout and retries as
/// [`RetryPolicy`] says.
#[derive(Clone)]
pub struct Client {
    base: BaseUrl,
    auth: Auth,
    agent: ureq::Agent,
    timeout: Duration,
    retry: RetryPolicy,
    org_id: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .field("org_id", &self.org_id)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// An answer from the API (any status that was not retried away).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP method of the request.
    pub method: String,
    /// Path (and query) of the request.
    pub path: String,
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl ApiResponse {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).map_err(|e| Error::InvalidResponse {
            method: self.method.clone(),
            path: self.path.clone(),
            reason: format!("the body is not JSON ({e}): {}", snippet(&self.body)),
        })
    }

    /// The server's message for an error answer (its `message`/`error` field or the
    /// start of the body).
    pub fn detail(&self) -> String {
        error_detail(&self.body)
    }
}

/// What a 404 means for a given call, for the error message.
#[derive(Debug, Clone)]
pub struct NotFoundContext {
    /// What was looked for ("system 5f…").
    pub what: String,
    /// What to check.
    pub hint: String,
}

impl NotFoundContext {
    /// A context.
    pub fn new(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            hint: hint.into(),
        }
    }
}

enum Failure {
    /// Nothing (or nothing usable) came back; may be retried.
    Connect(String),
    /// A connection broke after the request may have been sent.
    Broken(String),
    /// No complete answer in time.
    Timeout,
    /// Anything else from the transport (TLS, protocol).
    Other(String),
}

impl Client {
    /// A builder for a client with the given base URL and authentication.
    pub fn builder(base: impl Into<BaseUrl>, auth: Auth) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            auth,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("admu-jumpcloud/", env!("CARGO_PKG_VERSION")).to_owned(),
            org_id: None,
        }
    }

    /// A client with an administrator API key and default settings.
    pub fn with_api_key(base: impl Into<BaseUrl>, key: ApiKey) -> Client {
        Self::builder(base, Auth::ApiKey(key)).build()
    }

    /// A system-context client with default settings.
    pub fn with_system_context(base: impl Into<BaseUrl>, signer: SystemSigner) -> Client {
        Self::builder(base, Auth::System(signer)).build()
    }

    /// The base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// How this client authenticates.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The organisation id sent as `x-org-id`, if any.
    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    /// Sets or clears the organisation id sent as `x-org-id`.
    pub fn set_org_id(&mut self, org_id: Option<String>) {
        self.org_id = org_id;
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request with retries. `path` starts with `/api/`; `query` pairs are
    /// percent-encoded. Returns any answer that is not retried away (including 4xx);
    /// see [`ApiResponse::expect`] to turn those into errors.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<ApiResponse> {
        let path_and_query = with_query(path, query);
        let body_text = body.map(Value::to_string);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let outcome = self.attempt(method, &path_and_query, body_text.as_deref(), attempt);
            let (delay, give_up): (Duration, Error) = match outcome {
                Ok(reply) => {
                    debug!(
                        method,
                        path = %path_and_query,
                        status = reply.status,
                        attempt,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "jumpcloud response"
                    );
                    trace!(body = %snippet(&reply.body), "jumpcloud response body");
                    if reply.status == 429 {
                        let err = Error::RateLimited {
                            method: method.to_owned(),
                            path: path_and_query.clone(),
                            attempts: attempt,
                        };
                        match reply.retry_after {
                            Some(wait) if wait > self.retry.max_retry_after => return Err(err),
                            Some(wait) => (wait, err),
                            None => (self.retry.backoff(attempt - 1), err),
                        }
                    } else if reply.status >= 500 {
                        let err = Error::Server {
                            method: method.to_owned(),
                            path: path_and_query.clone(),
                            status: reply.status,
                            detail: error_detail(&reply.body),
                            attempts: attempt,
                        };
                        // A gateway's 502/504 may come after the API applied the
                        // request: a POST or DELETE (run a command, create one) is not
                        // sent twice then.
                        let maybe_applied = matches!(reply.status, 502 | 504);
                        if maybe_applied && method != "GET" && method != "PUT" {
                            return Err(err);
                        }
                        (self.retry.backoff(attempt - 1), err)
                    } else {
                        return Ok(ApiResponse {
                            method: method.to_owned(),
                            path: path_and_query,
                            status: reply.status,
                            body: reply.body,
                        });
                    }
                }
                Err(Failure::Timeout) => {
                    return Err(Error::Timeout {
                        method: method.to_owned(),
                        path: path_and_query,
                        timeout: self.timeout,
                    });
                }
                Err(Failure::Other(reason)) => {
                    return Err(Error::Connect {
                        url: self.base.join(&path_and_query),
                        reason,
                        attempts: attempt,
                    });
                }
                Err(Failure::Broken(reason)) if method != "GET" && method != "PUT" => {
                    // The request may have been received; do not repeat a POST/DELETE.
                    return Err(Error::Connect {
                        url: self.base.join(&path_and_query),
                        reason,
                        attempts: attempt,
                    });
                }
                Err(Failure::Connect(reason)) | Err(Failure::Broken(reason)) => {
                    let err = Error::Connect {
                        url: self.base.join(&path_and_query),
                        reason,
                        attempts: attempt,
                    };
                    (self.retry.backoff(attempt - 1), err)
                }
            };
            if attempt >= self.retry.max_attempts {
                return Err(give_up);
            }
            warn!(
                method,
                path = %path_and_query,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %give_up,
                "jumpcloud request failed; retrying"
            );
            std::thread::sleep(delay);
        }
    }

    fn attempt(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&str>,
        attempt: u32,
    ) -> Result<RawReply, Failure> {
        let url = self.base.join(path_and_query);
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept", "application/json");
        let mut logged: Vec<(&str, String)> = Vec::new();
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        match &self.auth {
            Auth::ApiKey(key) => {
                builder = builder.header("x-api-key", key.expose());
                logged.push(("x-api-key", REDACTED.to_owned()));
                if let Some(org) = &self.org_id {
                    builder = builder.header("x-org-id", org.as_str());
                    logged.push(("x-org-id", org.clone()));
                }
            }
            Auth::System(signer) => {
                let date = http_date(SystemTime::now());
                // The request line as the server sees it includes any base-URL prefix.
                let signed_path = format!("{}{}", self.base.path_prefix(), path_and_query);
                let authorization = signer.authorization(method, &signed_path, &date);
                builder = builder
                    .header("Date", date.as_str())
                    .header("Authorization", authorization.as_str());
                logged.push(("date", date));
                logged.push((
                    "authorization",
                    format!(
                        "Signature keyId=\"{}\",headers=\"request-line date\",algorithm=\"rsa-sha256\",signature=\"{REDACTED}\"",
                        signer.key_id()
                    ),
                ));
            }
        }
        trace!(
            method,
            url = %url,
            attempt,
            headers = ?logged,
            body = body.unwrap_or(""),
            "jumpcloud request"
        );
        let result = match body {
            Some(text) => builder
                .body(text.as_bytes().to_vec())
                .map_err(|e| Failure::Other(e.to_string()))
                .and_then(|req| self.agent.run(req).map_err(classify)),
            None => builder
                .body(())
                .map_err(|e| Failure::Other(e.to_string()))
                .and_then(|req| self.agent.run(req).map_err(classify)),
        };
        let mut response = result?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .body_mut()
            .with_config()
            .limit(32 * 1024 * 1024)
            .read_to_string()
            .map_err(classify)?;
        Ok(RawReply {
            status,
            retry_after,
            body,
        })
    }
}

impl ApiResponse {
    /// Ok if the status is one of `ok`; otherwise the matching [`Error`]: 401 →
    /// [`Error::Unauthorized`], 403 → [`Error::Forbidden`], 404 → [`Error::NotFound`]
    /// (with `not_found`), anything else → [`Error::Status`].
    pub fn expect(
        self,
        ok: &[u16],
        auth: AuthKind,
        not_found: &NotFoundContext,
    ) -> Result<ApiResponse> {
        if ok.contains(&self.status) {
            return Ok(self);
        }
        let detail = self.detail();
        Err(match self.status {
            401 => Error::Unauthorized { auth, detail },
            403 => Error::Forbidden {
                method: self.method,
                path: self.path,
                detail,
            },
            404 => Error::NotFound {
                what: not_found.what.clone(),
                detail,
                hint: not_found.hint.clone(),
            },
            status => Error::Status {
                method: self.method,
                path: self.path,
                status,
                detail,
                hint: match status {
                    400 => "the request was refused as malformed; this is a bug in admu, please report it".to_owned(),
                    409 => "it conflicts with the current state in JumpCloud".to_owned(),
                    300..=399 => "the URL redirects; use the API's own URL (region or --jc-url)".to_owned(),
                    _ => String::new(),
                },
            },
        })
    }
}

struct RawReply {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

fn classify(e: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(T::Connect | T::Resolve) => Failure::Connect(e.to_string()),
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            Failure::Connect(e.to_string())
        }
        ureq::Error::Io(ref io) => match io.kind() {
            K::TimedOut | K::WouldBlock => Failure::Timeout,
            K::ConnectionRefused
            | K::AddrNotAvailable
            | K::NotConnected
            | K::HostUnreachable
            | K::NetworkUnreachable => Failure::Connect(e.to_string()),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Failure::Broken(e.to_string())
            }
            _ => Failure::Other(e.to_string()),
        },
        other => Failure::Other(other.to_string()),
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// `path?k=v&…` with the values percent-encoded.
pub fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut out = String::from(path);
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment for an id, encoded (ids are checked elsewhere, this is a backstop).
pub fn segment(id: &str) -> String {
    percent_encode(id)
}

fn error_detail(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        for key in ["message", "error", "msg"] {
            if let Some(s) = v.get(key).and_then(Value::as_str) {
                return snippet(s);
            }
        }
    }
    let s = snippet(body.trim());
    if s.is_empty() {
        "no details".to_owned()
    } else {
        s
    }
}

fn snippet(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (0..6).map(|i| p.backoff(i).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500, 500]);
        assert_eq!(p.backoff(40).as_millis(), 500);
    }

    #[test]
    fn query_encoding() {
        assert_eq!(with_query("/api/x", &[]), "/api/x");
        assert_eq!(
            with_query("/api/x", &[("limit", "100"), ("q", "a b&c/é")]),
            "/api/x?limit=100&q=a%20b%26c%2F%C3%A9"
        );
    }

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn details() {
        assert_eq!(
            error_detail(r#"{"message":"Unauthorized"}"#),
            "Unauthorized"
        );
        assert_eq!(error_detail(""), "no details");
        assert!(error_detail(&"x".repeat(1000)).len() < 400);
    }
}
