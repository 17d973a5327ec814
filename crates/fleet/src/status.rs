//! `admu fleet status`: one row per device and user from the `admu` attribute and the
//! description entries, with the fleet command's latest result on each device; totals;
//! the exit code.

use std::collections::BTreeMap;

use jumpcloud::{CommandResult, System};
use serde::Serialize;

use crate::description::entries;
use crate::inventory::hostname;

/// A row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum State {
    /// Queued, not started.
    Pending,
    /// Under way.
    InProgress,
    /// Migrated.
    Complete,
    /// Failed (the message says why; the device's journal stays for `admu recover`).
    Error,
}

impl State {
    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "Pending" => State::Pending,
            "InProgress" => State::InProgress,
            "Complete" => State::Complete,
            "Error" => State::Error,
            _ => return None,
        })
    }

    /// As JumpCloud stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::InProgress => "InProgress",
            State::Complete => "Complete",
            State::Error => "Error",
        }
    }
}

/// One device and user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// System id.
    pub system_id: String,
    /// Hostname.
    pub hostname: String,
    /// The profile's SID.
    pub sid: String,
    /// The local username.
    pub username: String,
    /// State.
    pub state: State,
    /// The message (for an Error, the reason).
    pub message: String,
    /// The fleet command's latest exit code on the device, if it has answered.
    pub exit_code: Option<i64>,
}

/// Counts per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Pending.
    pub pending: usize,
    /// InProgress.
    pub in_progress: usize,
    /// Complete.
    pub complete: usize,
    /// Error.
    pub error: usize,
}

impl Totals {
    /// All rows.
    pub fn all(&self) -> usize {
        self.pending + self.in_progress + self.complete + self.error
    }
}

/// The status of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Rows, device by device.
    pub rows: Vec<StatusRow>,
    /// Totals.
    pub totals: Totals,
}

/// What `admu fleet status` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is complete (0).
    AllComplete,
    /// Some are pending or in progress, none failed (3).
    Waiting,
    /// At least one failed (1).
    Failed,
}

impl Status {
    /// The exit decision.
    pub fn outcome(&self) -> Outcome {
        if self.totals.error > 0 {
            Outcome::Failed
        } else if self.totals.pending + self.totals.in_progress > 0 {
            Outcome::Waiting
        } else {
            Outcome::AllComplete
        }
    }
}

/// Whether a command result belongs to the fleet command `base` (or one of its parts).
pub fn is_fleet_command(name: &str, base: &str) -> bool {
    name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with(" ("))
}

/// The last line of a result's output that admu's script or admu printed.
fn last_line(r: &CommandResult) -> String {
    let text = if r.error.trim().is_empty() {
        &r.output
    } else {
        &r.error
    };
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The status from the systems and the command results (of the fleet command `base`).
pub fn status(systems: &[System], results: &[CommandResult], base: &str) -> Status {
    let mut latest: BTreeMap<&str, &CommandResult> = BTreeMap::new();
    for r in results.iter().filter(|r| is_fleet_command(&r.name, base)) {
        let newer = latest
            .get(r.system_id.as_str())
            .is_none_or(|old| old.response_time <= r.response_time);
        if newer {
            latest.insert(&r.system_id, r);
        }
    }
    let mut out = Status::default();
    for system in systems {
        let result = latest.get(system.id.as_str()).copied();
        for e in entries(system.description.as_deref()) {
            let Some(mut state) = e.state.as_deref().and_then(State::parse) else {
                continue;
            };
            let mut message = e.message.clone().unwrap_or_default();
            // The command ended with an error but the entry never left Pending or
            // InProgress: admu did not run or did not finish (no exe, hash mismatch, …).
            // A result from before this entry was queued (an earlier run) does not count.
            let current = |r: &CommandResult| {
                e.queued_at
                    .as_deref()
                    .and_then(|q| crate::time::at_or_after(&r.request_time, q))
                    != Some(false)
            };
            if let Some(r) = result
                && r.exit_code.is_some_and(|c| c != 0)
                && matches!(state, State::Pending | State::InProgress)
                && current(r)
            {
                state = State::Error;
                message = format!(
                    "the command failed (exit {}): {}",
                    r.exit_code.unwrap_or(-1),
                    last_line(r)
                );
            }
            match state {
                State::Pending => out.totals.pending += 1,
                State::InProgress => out.totals.in_progress += 1,
                State::Complete => out.totals.complete += 1,
                State::Error => out.totals.error += 1,
            }
            out.rows.push(StatusRow {
                system_id: system.id.clone(),
                hostname: hostname(system),
                sid: e.sid.clone(),
                username: e.username.clone().unwrap_or_default(),
                state,
                message,
                exit_code: result.and_then(|r| r.exit_code),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sys(id: &str, desc: serde_json::Value) -> System {
        System::from_json(
            json!({"_id": id, "hostname": id, "os": "Windows", "description": desc.to_string()}),
        )
        .unwrap()
    }

    fn result(system: &str, code: i64, out: &str, t: &str) -> CommandResult {
        CommandResult {
            id: format!("r{system}{t}"),
            name: "admu fleet".into(),
            system_id: system.into(),
            exit_code: Some(code),
            output: out.into(),
            error: String::new(),
            request_time: t.into(),
            response_time: t.into(),
        }
    }

    #[test]
    fn aggregate_and_exit() {
        let systems = vec![
            sys(
                "a",
                json!([{"sid": "S-1", "un": "alice", "st": "Complete", "msg": "done"}, {"sid": "S-0", "st": "Skip"}]),
            ),
            sys("b", json!([{"sid": "S-2", "un": "bob", "st": "Pending"}])),
        ];
        let s = status(&systems, &[], "admu fleet");
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.totals.complete, 1);
        assert_eq!(s.outcome(), Outcome::Waiting);

        let r = vec![
            result("b", 0, "", "1"),
            result("b", 1, "x\nadmu: download failed\n", "2"),
        ];
        let s = status(&systems, &r, "admu fleet");
        assert_eq!(s.rows[1].state, State::Error);
        assert!(
            s.rows[1].message.contains("download failed"),
            "{}",
            s.rows[1].message
        );
        assert_eq!(s.outcome(), Outcome::Failed);

        let done = vec![sys("a", json!([{"sid": "S-1", "st": "Complete"}]))];
        assert_eq!(
            status(&done, &[], "admu fleet").outcome(),
            Outcome::AllComplete
        );
        assert!(is_fleet_command("admu fleet (2)", "admu fleet"));
        assert!(!is_fleet_command("admu fleetx", "admu fleet"));
    }
}
