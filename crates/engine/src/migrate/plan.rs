//! The dry run: every change a migration would make, each step's part computed on
//! copies in memory and a read-only walk of the profile tree. Nothing is written.

use ntsec::{Sid, SidMap};
use serde::Serialize;

use super::preflight::{Preflight, preflight};
use super::steps::{PlanContext, STEPS, StepPlan};
use super::{MigrateRequest, profile_sid};
use crate::error::{Error, Result};
use crate::host::MigrationHost;

/// What a migration would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub preflight: Preflight,
    /// The account the profile goes to, and the SID it will have (for a new account
    /// the next free RID; the real one is assigned at creation).
    pub account: Option<PlannedAccount>,
    pub sid_map: Vec<(String, String)>,
    /// Each step's part, in the order they run.
    pub steps: Vec<StepPlan>,
}

/// The account a migration would create or use.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedAccount {
    pub name: String,
    pub create: bool,
    pub sid: String,
}

/// Computes the plan. A failed preflight still gives a plan with the checks.
pub fn plan(host: &dyn MigrationHost, req: &MigrateRequest) -> Result<Plan> {
    let pre = preflight(host, req)?;
    let mut plan = Plan {
        preflight: pre.clone(),
        account: None,
        sid_map: Vec::new(),
        steps: Vec::new(),
    };
    let (Some(source), Some(hives)) = (&pre.source, &pre.hives) else {
        return Ok(plan);
    };
    let old = profile_sid(source)?;
    let new = planned_sid(host, &pre)?;
    plan.account = Some(PlannedAccount {
        name: req.to.clone(),
        create: pre.existing.is_none(),
        sid: new.to_string(),
    });
    let mut map: SidMap = req.extra_map.clone();
    map.insert(old.clone(), new.clone())
        .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
    plan.sid_map = map
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let cx = PlanContext {
        host,
        req,
        source,
        hives,
        existing: pre.existing.as_ref(),
        old_sid: &old,
        new_sid: &new,
        map: &map,
    };
    for step in STEPS {
        if let Some(p) = step.plan(&cx)? {
            plan.steps.push(p);
        }
    }
    Ok(plan)
}

fn planned_sid(host: &dyn MigrationHost, pre: &Preflight) -> Result<Sid> {
    if let Some(u) = &pre.existing {
        return Ok(u.sid.clone());
    }
    let machine = host.machine_sid()?;
    let next = host
        .users()?
        .iter()
        .map(|u| u.rid + 1)
        .max()
        .unwrap_or(1000)
        .max(1000);
    machine
        .with_rid(next)
        .map_err(|e| Error::Invalid(format!("machine SID: {e}")))
}
