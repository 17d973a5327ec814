//! JumpCloud Commands, for fleets: create or update a Windows command by name, bind it
//! to systems, run it, and read its results.
//!
//! The v1 API (`/api/commands`, `/api/runCommand`, `/api/commandresults`) and the v2
//! associations (`/api/v2/commands/{id}/associations`). Windows commands run as SYSTEM.

use serde::Serialize;
use serde_json::{Value, json};
use tracing::info;

use crate::client::{Client, NotFoundContext, segment};
use crate::error::{Error, Result};
use crate::pager::{Listing, PageProgress};

/// JumpCloud refuses command text longer than this (characters).
pub const COMMAND_TEXT_LIMIT: usize = 32_767;

/// Page size of the command and result listings.
const PAGE: usize = 100;

/// A Windows command to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Its name (how admu finds it again).
    pub name: String,
    /// The script text.
    pub command: String,
    /// Seconds the command may run (JumpCloud's maximum is a day).
    pub timeout_secs: u32,
}

impl CommandSpec {
    /// The `POST /api/commands` / `PUT /api/commands/{id}` body: Windows, PowerShell,
    /// run by hand (`launchType: manual`); Windows commands run as SYSTEM.
    pub fn body(&self) -> Value {
        json!({
            "name": self.name,
            "command": self.command,
            "commandType": "windows",
            "shell": "powershell",
            "launchType": "manual",
            "sudo": false,
            "timeout": self.timeout_secs.min(86_400).to_string(),
        })
    }

    /// Refuses text over [`COMMAND_TEXT_LIMIT`].
    pub fn check_length(&self) -> Result<()> {
        let chars = self.command.chars().count();
        if chars > COMMAND_TEXT_LIMIT {
            return Err(Error::CommandTooLong {
                name: self.name.clone(),
                chars,
                limit: COMMAND_TEXT_LIMIT,
            });
        }
        Ok(())
    }
}

/// A command as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandInfo {
    /// `_id`.
    pub id: String,
    /// `name`.
    pub name: String,
}

/// Whether [`Client::upsert_command`] created or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsert {
    /// A new command.
    Created,
    /// An existing command of that name, replaced.
    Updated,
}

/// One result of a command on one system (`GET /api/commandresults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandResult {
    /// `_id`.
    pub id: String,
    /// The command's name.
    pub name: String,
    /// The system's id.
    pub system_id: String,
    /// The exit code, once the command has finished.
    pub exit_code: Option<i64>,
    /// What it printed (`response.data.output`).
    pub output: String,
    /// `response.error`.
    pub error: String,
    /// `requestTime`.
    pub request_time: String,
    /// `responseTime`.
    pub response_time: String,
}

impl CommandResult {
    fn from_json(v: &Value) -> Option<CommandResult> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let id = s("_id");
        if id.is_empty() {
            return None;
        }
        let system_id = match s("systemId") {
            x if x.is_empty() => s("system"),
            x => x,
        };
        let data = v.get("response").and_then(|r| r.get("data"));
        Some(CommandResult {
            id,
            name: s("name"),
            system_id,
            exit_code: v
                .get("exitCode")
                .and_then(Value::as_i64)
                .or_else(|| data.and_then(|d| d.get("exitCode")).and_then(Value::as_i64)),
            output: data
                .and_then(|d| d.get("output"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            error: v
                .get("response")
                .and_then(|r| r.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            request_time: s("requestTime"),
            response_time: s("responseTime"),
        })
    }
}

fn invalid(method: &str, path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidResponse {
        method: method.to_owned(),
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Client {
    /// Every command of the organisation (`GET /api/commands`, paged).
    pub fn commands(&self) -> Result<Vec<CommandInfo>> {
        let listing = Listing {
            path: "/api/commands",
            query: &[("fields", "name")],
            page_size: PAGE,
            what: "the command list",
        };
        let mut out = Vec::new();
        for v in self.list_all(&listing, &mut |_| {})? {
            let id = v.get("_id").and_then(Value::as_str).unwrap_or_default();
            let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
            if !id.is_empty() {
                out.push(CommandInfo {
                    id: id.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        Ok(out)
    }

    /// The command named `name`, if there is one (the first, if several share it).
    pub fn find_command(&self, name: &str) -> Result<Option<CommandInfo>> {
        Ok(self.commands()?.into_iter().find(|c| c.name == name))
    }

    /// Creates the command, or replaces the one of the same name.
    pub fn upsert_command(&self, spec: &CommandSpec) -> Result<(CommandInfo, Upsert)> {
        spec.check_length()?;
        let body = spec.body();
        let ctx = NotFoundContext::new(
            format!("command {:?}", spec.name),
            "it was just listed; try again",
        );
        let (reply, how) = match self.find_command(&spec.name)? {
            Some(existing) => (
                self.send(
                    "PUT",
                    &format!("/api/commands/{}", segment(&existing.id)),
                    &[],
                    Some(&body),
                )?
                .expect(&[200], self.auth().kind(), &ctx)?,
                Upsert::Updated,
            ),
            None => (
                self.send("POST", "/api/commands", &[], Some(&body))?
                    .expect(&[200, 201], self.auth().kind(), &ctx)?,
                Upsert::Created,
            ),
        };
        let v = reply.json()?;
        let id = v
            .get("_id")
            .or_else(|| v.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&reply.method, &reply.path, "the command has no _id"))?;
        info!(command = %spec.name, id, ?how, "jumpcloud command saved");
        Ok((
            CommandInfo {
                id: id.to_owned(),
                name: spec.name.clone(),
            },
            how,
        ))
    }

    /// Binds the command to each system (`POST /api/v2/commands/{id}/associations`,
    /// `op: add`, `type: system`); `progress` gets the count done.
    pub fn associate_command(
        &self,
        command_id: &str,
        system_ids: &[String],
        progress: &mut dyn FnMut(PageProgress),
    ) -> Result<()> {
        let path = format!("/api/v2/commands/{}/associations", segment(command_id));
        for (i, system) in system_ids.iter().enumerate() {
            let ctx = NotFoundContext::new(
                format!("command {command_id} or system {system}"),
                "check that the system is in the organisation",
            );
            let body = json!({"op": "add", "type": "system", "id": system});
            let reply = self.send("POST", &path, &[], Some(&body))?;
            // Already bound: JumpCloud answers 409; that is what we want.
            if reply.status != 409 {
                reply.expect(&[204, 200], self.auth().kind(), &ctx)?;
            }
            progress(PageProgress {
                read: i + 1,
                total: Some(system_ids.len()),
            });
        }
        Ok(())
    }

    /// Runs the command now on these systems (`POST /api/runCommand`); returns the
    /// queue ids.
    pub fn run_command(&self, command_id: &str, system_ids: &[String]) -> Result<Vec<String>> {
        let ctx = NotFoundContext::new(
            format!("command {command_id}"),
            "it was just saved; try again",
        );
        let body = json!({"_id": command_id, "systemIds": system_ids});
        let reply = self
            .send("POST", "/api/runCommand", &[], Some(&body))?
            .expect(&[200], self.auth().kind(), &ctx)?;
        let v = reply.json()?;
        Ok(v.get("queueIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every command result of the organisation (`GET /api/commandresults`, paged),
    /// newest last as listed.
    pub fn command_results(
        &self,
        progress: &mut dyn FnMut(PageProgress),
    ) -> Result<Vec<CommandResult>> {
        let listing = Listing {
            path: "/api/commandresults",
            query: &[],
            page_size: PAGE,
            what: "the command results",
        };
        Ok(self
            .list_all(&listing, progress)?
            .iter()
            .filter_map(CommandResult::from_json)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_limit() {
        let spec = CommandSpec {
            name: "admu fleet".into(),
            command: "x".repeat(COMMAND_TEXT_LIMIT),
            timeout_secs: 100_000,
        };
        let b = spec.body();
        assert_eq!(b["commandType"], "windows");
        assert_eq!(b["shell"], "powershell");
        assert_eq!(b["timeout"], "86400");
        assert!(spec.check_length().is_ok());
        let long = CommandSpec {
            command: "é".repeat(COMMAND_TEXT_LIMIT + 1),
            ..spec
        };
        assert!(matches!(
            long.check_length(),
            Err(Error::CommandTooLong { .. })
        ));
    }

    #[test]
    fn results() {
        let r = CommandResult::from_json(&json!({
            "_id": "r1", "name": "c", "system": "s1", "requestTime": "t",
            "response": {"data": {"exitCode": 1, "output": "boom"}, "error": ""}
        }))
        .unwrap();
        assert_eq!(r.system_id, "s1");
        assert_eq!(r.exit_code, Some(1));
        assert_eq!(r.output, "boom");
        assert!(CommandResult::from_json(&json!({"name": "x"})).is_none());
    }
}
