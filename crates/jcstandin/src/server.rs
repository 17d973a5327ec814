//! The request loop: authenticate, check against the spec, route, answer.

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::search::search_users;
use crate::spec::Specs;
use crate::url::split_url;
use crate::{
    Association, Failure, Inner, RecordedRequest, RequestAuth, SystemState, User, Violation, agent,
    fleet, lock, spec,
};

/// An answer: status, body, extra headers.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
    pub(crate) fn message(status: u16, msg: &str) -> Reply {
        Reply::json(status, json!({"message": msg}))
    }
}

pub(crate) fn handle(mut request: tiny_http::Request, inner: &Mutex<Inner>, specs: &Specs) {
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
        Failure::GatewayTimeout => {
            return (
                Reply::message(504, "Gateway Timeout"),
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
        _ => fleet::route(g, method, &segs, query, body, org, auth, (skip, limit))
            .unwrap_or_else(|| Reply::message(404, "not served by the stand-in")),
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

pub(crate) fn system_json(s: &SystemState) -> Value {
    let mut v = json!({
        "_id": s.id,
        "organization": s.org_id,
        "hostname": s.hostname,
        "displayName": s.hostname,
        "os": s.os,
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

pub(crate) fn user_json(u: &User) -> Value {
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
