//! The error type: every message says what went wrong and what the admin can do.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::Organization;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the client authenticates (for error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// Administrator API key (`x-api-key`).
    ApiKey,
    /// System-context HTTP signature with the agent's key.
    SystemContext,
}

/// Everything that can go wrong talking to JumpCloud or preparing the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `--jc-url` value that is not acceptable.
    #[error("invalid JumpCloud URL {url:?}: {reason}")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// A region name that is not us, eu or in.
    #[error("unknown JumpCloud region {0:?}: use us, eu or in")]
    UnknownRegion(String),

    /// `jcagent.conf` is missing, unreadable or incomplete.
    #[error("{}: {reason}", path.display())]
    AgentConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The agent's `client.key` cannot be read or used.
    #[error("agent key {}: {reason}", path.display())]
    AgentKey {
        /// The file (or `<memory>`).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The API could not be reached at all (after retries).
    #[error(
        "cannot reach JumpCloud at {url} ({reason}) after {attempts} attempt(s): check the network, DNS, proxy and firewall, and the region or --jc-url"
    )]
    Connect {
        /// The URL tried.
        url: String,
        /// The underlying error.
        reason: String,
        /// How many times it was tried.
        attempts: u32,
    },

    /// No answer within the timeout (not retried: the request may have been applied).
    #[error(
        "JumpCloud did not answer {method} {path} within {timeout:?}: the service or the network is slow; try again later or raise the timeout"
    )]
    Timeout {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The configured timeout.
        timeout: Duration,
    },

    /// 401: the credentials were refused.
    #[error("{}", unauthorized_message(*auth, detail))]
    Unauthorized {
        /// Which credentials were used.
        auth: AuthKind,
        /// The server's message.
        detail: String,
    },

    /// 403: the credentials are valid but not allowed to do this.
    #[error(
        "JumpCloud refused {method} {path} (403 Forbidden: {detail}): the API key's administrator lacks the permission (a read-only or limited admin role?), or the organisation id is not allowed here"
    )]
    Forbidden {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The server's message.
        detail: String,
    },

    /// 404 for a named object.
    #[error("{what} was not found in JumpCloud (404: {detail}): {hint}")]
    NotFound {
        /// What was looked for ("system 5f…").
        what: String,
        /// The server's message.
        detail: String,
        /// What to check.
        hint: String,
    },

    /// 429 even after waiting and retrying.
    #[error(
        "JumpCloud kept rate-limiting {method} {path} (429) after {attempts} attempt(s): too many API calls for this key; wait a few minutes and try again"
    )]
    RateLimited {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// How many times it was tried.
        attempts: u32,
    },

    /// 5xx even after retries.
    #[error(
        "JumpCloud failed {method} {path} with {status} after {attempts} attempt(s) ({detail}): a JumpCloud service problem; check status.jumpcloud.com and try again later"
    )]
    Server {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Last status.
        status: u16,
        /// Server's message.
        detail: String,
        /// How many times it was tried.
        attempts: u32,
    },

    /// Any other unexpected status.
    #[error(
        "JumpCloud answered {method} {path} with {status} ({detail}){}",
        hint_suffix(hint)
    )]
    Status {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Status code.
        status: u16,
        /// Server's message.
        detail: String,
        /// What to do, if known.
        hint: String,
    },

    /// A body that is not what the API documents.
    #[error("unexpected answer from JumpCloud to {method} {path}: {reason}")]
    InvalidResponse {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// What was wrong.
        reason: String,
    },

    /// A multi-tenant key and no organisation id given.
    #[error("{}", multiple_orgs_message(orgs))]
    MultipleOrganizations {
        /// Every organisation the key can reach.
        orgs: Vec<Organization>,
    },

    /// The organisation id given is not one the key can reach.
    #[error("{}", unknown_org_message(id, orgs))]
    UnknownOrganization {
        /// What was given.
        id: String,
        /// What the key can reach.
        orgs: Vec<Organization>,
    },

    /// The key reaches no organisation at all.
    #[error(
        "the API key has access to no JumpCloud organisation: check the key and its administrator"
    )]
    NoOrganization,

    /// `GET /api/systems/<key>` returned a different system.
    #[error(
        "JumpCloud returned system {got:?} when asked for {expected:?}: the API key belongs to another organisation than this device, or the system key in jcagent.conf is stale"
    )]
    SystemMismatch {
        /// Asked for.
        expected: String,
        /// Returned.
        got: String,
    },

    /// No user with exactly that username.
    #[error(
        "no JumpCloud user named {username:?} in this organisation: check the spelling (the match is exact, case-insensitive), the organisation id, and that the user exists"
    )]
    UserNotFound {
        /// The username looked up.
        username: String,
    },

    /// More than one user matches exactly (case-insensitively).
    #[error("several JumpCloud users are named {username:?} (ids {}): pass the user id instead", ids.join(", "))]
    AmbiguousUser {
        /// The username looked up.
        username: String,
        /// Their ids.
        ids: Vec<String>,
    },

    /// After setting the primary user, the system still shows another one.
    #[error(
        "JumpCloud did not record user {expected} as the primary user of system {system} (it shows {got:?}): set it in the admin console"
    )]
    PrimaryUserNotSet {
        /// The system.
        system: String,
        /// The user id set.
        expected: String,
        /// What the system shows.
        got: Option<String>,
    },

    /// The device still shows as domain-joined in JumpCloud after waiting.
    #[error(
        "JumpCloud still reports system {system} as part of a domain after {waited:?}: the agent has not reported the domain leave yet (it does after a restart); bind the user later or check the agent"
    )]
    StillInDomain {
        /// The system.
        system: String,
        /// How long was waited.
        waited: Duration,
    },

    /// The operation needs an administrator API key.
    #[error(
        "{operation} needs an administrator API key; system-context authentication cannot do it{}",
        hint_suffix(hint)
    )]
    NeedsApiKey {
        /// What was attempted.
        operation: String,
        /// What to do.
        hint: String,
    },

    /// A connect key that cannot be passed to the installer safely.
    #[error(
        "the JumpCloud connect key is malformed ({reason}): copy it again from the admin console (Devices → add device)"
    )]
    InvalidConnectKey {
        /// Why.
        reason: String,
    },

    /// A downloaded file whose SHA-256 is not the expected one.
    #[error(
        "{} has SHA-256 {actual}, expected {expected}: the download is corrupt or not the official installer; delete it and try again",
        path.display()
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Expected digest (hex).
        expected: String,
        /// Actual digest (hex).
        actual: String,
    },

    /// The agent installer did not finish its job.
    #[error("JumpCloud agent installation failed: {reason}")]
    AgentInstall {
        /// What happened.
        reason: String,
    },

    /// A JumpCloud Command whose text is longer than JumpCloud accepts.
    #[error(
        "the JumpCloud command {name:?} is {chars} characters long; JumpCloud accepts at most {limit}: split the work into several commands"
    )]
    CommandTooLong {
        /// The command's name.
        name: String,
        /// Its length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },

    /// A local file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(": {hint}")
    }
}

fn unauthorized_message(auth: AuthKind, detail: &str) -> String {
    match auth {
        AuthKind::ApiKey => format!(
            "JumpCloud rejected the API key (401 Unauthorized: {detail}): check that the key is current (keys are reset when the admin regenerates them), that it is for this region, and pass the organisation id for a multi-tenant key"
        ),
        AuthKind::SystemContext => format!(
            "JumpCloud rejected this device's system-context signature (401 Unauthorized: {detail}): check that the agent is registered (jcagent.conf systemKey and client.key belong together), that the clock is correct, and that the endpoint is allowed for system context"
        ),
    }
}

fn org_list(orgs: &[Organization]) -> String {
    orgs.iter()
        .map(|o| format!("{} ({})", o.id, o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn multiple_orgs_message(orgs: &[Organization]) -> String {
    format!(
        "the API key has access to {} organisations; choose one with the organisation id: {}",
        orgs.len(),
        org_list(orgs)
    )
}

fn unknown_org_message(id: &str, orgs: &[Organization]) -> String {
    format!(
        "the API key has no access to organisation {id:?}; it can reach: {}",
        org_list(orgs)
    )
}
