//! The fleet endpoints of the stand-in: Commands (create, update, list, associations,
//! `runCommand`, results), System Insights `users` and the user list. Devices do not
//! run anything here: a test takes the queued runs ([`StandIn::take_runs`]), plays the
//! device, and records what it printed ([`StandIn::add_command_result`]).

use serde_json::{Value, json};

use crate::server::{Reply, user_json};
use crate::{Inner, RequestAuth, StandIn, lock};

/// A saved command.
#[derive(Debug, Clone)]
pub struct CommandState {
    /// `_id`.
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// The body as last saved (`name`, `command`, `commandType`, …).
    pub body: Value,
}

impl CommandState {
    /// `name`.
    pub fn name(&self) -> &str {
        self.body["name"].as_str().unwrap_or_default()
    }

    /// The script text.
    pub fn text(&self) -> &str {
        self.body["command"].as_str().unwrap_or_default()
    }
}

/// A run queued by `POST /api/runCommand`, for one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    /// The queue id returned.
    pub queue_id: String,
    /// The command.
    pub command_id: String,
    /// The command's text when it was queued.
    pub text: String,
    /// The system that is to run it.
    pub system_id: String,
    /// When it was requested (`requestTime` of its result).
    pub requested_at: String,
}

/// The fleet part of the stand-in's state.
#[derive(Debug, Clone, Default)]
pub struct FleetState {
    commands: Vec<CommandState>,
    /// (command, system) bindings.
    bindings: Vec<(String, String)>,
    queued: Vec<QueuedRun>,
    results: Vec<(String, Value)>,
    insight_users: Vec<Value>,
}

impl StandIn {
    /// Adds a System Insights `users` row for a system (`kind`: osquery's `type`,
    /// `local` or `roaming`).
    pub fn add_insight_user(&self, system_id: &str, username: &str, sid: &str, kind: &str) {
        let uid = sid.rsplit('-').next().unwrap_or("0").to_owned();
        let dir = format!("C:\\Users\\{username}");
        lock(&self.inner).fleet.insight_users.push(json!({
            "system_id": system_id, "username": username, "uuid": sid, "uid": uid,
            "gid": "513", "directory": dir, "type": kind, "shell": "C:\\Windows\\system32\\cmd.exe",
            "collection_time": "2026-01-01T00:00:00Z", "last_login": "",
        }));
    }

    /// Adds many domain-joined Windows systems at once, for listing tests: they share
    /// one agent key (generating a key per system is slow), so their system-context
    /// signatures are not told apart. Returns their ids.
    pub fn add_systems(&self, hostnames: &[String]) -> Vec<String> {
        let org = self.default_org();
        let mut g = lock(&self.inner);
        g.keys_used += 1;
        let index = g.keys_used - 1;
        let mut ids = Vec::new();
        for host in hostnames {
            let id = g.new_id(7);
            let agent = crate::FakeAgent::pooled(&id, index);
            g.systems.push(crate::SystemState {
                id: id.clone(),
                org_id: org.clone(),
                hostname: host.clone(),
                os: "Windows".to_owned(),
                attributes: Vec::new(),
                description: None,
                part_of_domain: true,
                leave_domain_after_reads: None,
                reads: 0,
                primary_user: None,
                agent,
            });
            ids.push(id);
        }
        ids
    }

    /// Every saved command.
    pub fn commands(&self) -> Vec<CommandState> {
        lock(&self.inner).fleet.commands.clone()
    }

    /// The systems a command is bound to.
    pub fn command_systems(&self, command_id: &str) -> Vec<String> {
        lock(&self.inner)
            .fleet
            .bindings
            .iter()
            .filter(|(c, _)| c == command_id)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The runs queued and not taken yet; they are taken (a device picks each up once).
    pub fn take_runs(&self) -> Vec<QueuedRun> {
        std::mem::take(&mut lock(&self.inner).fleet.queued)
    }

    /// Records what a device reported after running a command.
    pub fn add_command_result(&self, run: &QueuedRun, exit_code: i64, output: &str) {
        let mut g = lock(&self.inner);
        let id = g.new_id(9);
        let org = g
            .systems
            .iter()
            .find(|s| s.id == run.system_id)
            .map(|s| s.org_id.clone())
            .unwrap_or_default();
        let name = g
            .fleet
            .commands
            .iter()
            .find(|c| c.id == run.command_id)
            .map(|c| c.name().to_owned())
            .unwrap_or_default();
        let result = json!({
            "_id": id, "name": name, "command": run.text, "system": run.system_id,
            "systemId": run.system_id, "exitCode": exit_code, "workflowId": run.queue_id,
            "requestTime": run.requested_at, "responseTime": now(),
            "sudo": false, "user": "",
            "response": {"data": {"exitCode": exit_code, "output": output}, "error": ""},
        });
        g.fleet.results.push((org, result));
    }
}

/// Now as JumpCloud writes times: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970 (proleptic Gregorian, 400-year eras).
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = rem / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        rem % 1000
    )
}

fn page(all: Vec<Value>, skip: usize, limit: usize) -> Value {
    let total = all.len();
    let results: Vec<Value> = all.into_iter().skip(skip).take(limit).collect();
    json!({"results": results, "totalCount": total})
}

fn command_json(c: &CommandState) -> Value {
    let mut v = c.body.clone();
    v["_id"] = Value::String(c.id.clone());
    v["organization"] = Value::String(c.org_id.clone());
    v
}

/// The fleet routes; `None` when the path is not one of them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn route(
    g: &mut Inner,
    method: &str,
    segs: &[&str],
    query: &[(String, String)],
    body: Option<&Value>,
    org: Option<&str>,
    auth: &RequestAuth,
    (skip, limit): (usize, usize),
) -> Option<Reply> {
    if !matches!(auth, RequestAuth::ApiKey) {
        return Some(Reply::message(401, "Unauthorized"));
    }
    let org = org.unwrap_or_default();
    let reply = match (method, segs) {
        ("GET", ["api", "commands"]) => {
            let all = g
                .fleet
                .commands
                .iter()
                .filter(|c| c.org_id == org)
                .map(command_json)
                .collect();
            Reply::json(200, page(all, skip, limit))
        }
        ("POST", ["api", "commands"]) => {
            let id = g.new_id(8);
            let c = CommandState {
                id,
                org_id: org.to_owned(),
                body: body.cloned().unwrap_or(Value::Null),
            };
            let v = command_json(&c);
            g.fleet.commands.push(c);
            Reply::json(200, v)
        }
        ("GET" | "PUT", ["api", "commands", id]) => {
            let Some(c) = g
                .fleet
                .commands
                .iter_mut()
                .find(|c| c.id == *id && c.org_id == org)
            else {
                return Some(Reply::message(404, "Not Found"));
            };
            if method == "PUT" {
                c.body = body.cloned().unwrap_or(Value::Null);
            }
            Reply::json(200, command_json(c))
        }
        ("POST", ["api", "v2", "commands", id, "associations"]) => associate(g, id, body, org),
        ("GET", ["api", "v2", "commands", id, "associations"]) => {
            let list: Vec<Value> = g
                .fleet
                .bindings
                .iter()
                .filter(|(c, _)| c == id)
                .map(|(_, s)| json!({"to": {"id": s, "type": "system"}}))
                .collect();
            Reply::json(
                200,
                Value::Array(list.into_iter().skip(skip).take(limit).collect()),
            )
        }
        ("POST", ["api", "runCommand"]) => run(g, body, org),
        ("GET", ["api", "commandresults"]) => {
            let all = g
                .fleet
                .results
                .iter()
                .filter(|(o, _)| o == org)
                .map(|(_, r)| r.clone())
                .collect();
            Reply::json(200, page(all, skip, limit))
        }
        ("GET", ["api", "v2", "systeminsights", "users"]) => insights(g, query, org, skip, limit),
        ("GET", ["api", "systemusers"]) => {
            let all = g
                .users
                .iter()
                .filter(|u| u.org_id == org)
                .map(user_json)
                .collect();
            Reply::json(200, page(all, skip, limit))
        }
        _ => return None,
    };
    Some(reply)
}

fn associate(g: &mut Inner, command_id: &str, body: Option<&Value>, org: &str) -> Reply {
    if !g
        .fleet
        .commands
        .iter()
        .any(|c| c.id == command_id && c.org_id == org)
    {
        return Reply::message(404, "Command not found");
    }
    let body = body.cloned().unwrap_or(Value::Null);
    if body["type"] != "system" {
        return Reply::message(400, "only system associations are served by the stand-in");
    }
    let system = body["id"].as_str().unwrap_or_default().to_owned();
    if !g.systems.iter().any(|s| s.id == system && s.org_id == org) {
        return Reply::message(404, "System not found");
    }
    let pair = (command_id.to_owned(), system);
    match body["op"].as_str() {
        Some("add") => {
            if g.fleet.bindings.contains(&pair) {
                return Reply::message(409, "Already associated");
            }
            g.fleet.bindings.push(pair);
        }
        Some("remove") => g.fleet.bindings.retain(|p| *p != pair),
        _ => return Reply::message(400, "bad op"),
    }
    Reply::empty(204)
}

fn run(g: &mut Inner, body: Option<&Value>, org: &str) -> Reply {
    let body = body.cloned().unwrap_or(Value::Null);
    let id = body["_id"].as_str().unwrap_or_default().to_owned();
    let Some(text) = g
        .fleet
        .commands
        .iter()
        .find(|c| c.id == id && c.org_id == org)
        .map(|c| c.text().to_owned())
    else {
        return Reply::message(404, "Command not found");
    };
    let systems: Vec<String> = match body["systemIds"].as_array() {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => g
            .fleet
            .bindings
            .iter()
            .filter(|(c, _)| *c == id)
            .map(|(_, s)| s.clone())
            .collect(),
    };
    for s in &systems {
        if !g.fleet.bindings.contains(&(id.clone(), s.clone())) {
            return Reply::message(400, &format!("system {s} is not bound to the command"));
        }
    }
    let mut queue_ids = Vec::new();
    let requested_at = now();
    for system_id in systems {
        let queue_id = g.new_id(10);
        queue_ids.push(Value::String(queue_id.clone()));
        g.fleet.queued.push(QueuedRun {
            queue_id,
            command_id: id.clone(),
            text: text.clone(),
            system_id,
            requested_at: requested_at.clone(),
        });
    }
    Reply::json(
        200,
        json!({"queueIds": queue_ids, "workflowInstanceId": ""}),
    )
}

/// System Insights rows, with `filter=system_id:eq:<id>` understood.
fn insights(g: &Inner, query: &[(String, String)], org: &str, skip: usize, limit: usize) -> Reply {
    let wanted: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "filter")
        .filter_map(|(_, v)| v.strip_prefix("system_id:eq:"))
        .collect();
    let in_org = |id: &str| g.systems.iter().any(|s| s.id == id && s.org_id == org);
    let rows: Vec<Value> = g
        .fleet
        .insight_users
        .iter()
        .filter(|r| {
            let sid = r["system_id"].as_str().unwrap_or_default();
            in_org(sid) && (wanted.is_empty() || wanted.contains(&sid))
        })
        .skip(skip)
        .take(limit)
        .cloned()
        .collect();
    Reply::json(200, Value::Array(rows))
}
