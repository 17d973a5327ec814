//! The dry run: every change a migration would make, computed on copies in memory and
//! a read-only walk of the profile tree. Nothing is written.

use ntsec::{Sid, SidMap, TreeOptions};
use serde::Serialize;

use super::preflight::{Preflight, preflight};
use super::{MigrateRequest, profile_sid};
use crate::convert::{Conversion, ConversionReport, UserHive, convert_user_hive};
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost, RegEdit};

/// What a migration would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub preflight: Preflight,
    pub account: Option<PlannedAccount>,
    pub sid_map: Vec<(String, String)>,
    pub ntuser: Option<ConversionReport>,
    pub usrclass: Option<ConversionReport>,
    /// Files and folders whose descriptor would change, from a read-only walk.
    pub files: Option<ntsec::TreeReport>,
    pub profile_list: Vec<Change>,
    pub logon_ui: Vec<Change>,
}

/// The account a migration would create or use.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedAccount {
    pub name: String,
    pub create: bool,
    /// The SID it will have (for a new account, the next free RID; the real one is
    /// assigned at creation).
    pub sid: String,
    pub admin: bool,
    pub aliases: Vec<u32>,
}

/// A registry value before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub key: String,
    pub value: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

fn show(kind: u32, data: &[u8]) -> String {
    match hive::value::decode(kind, data) {
        hive::Data::String(s) | hive::Data::ExpandString(s) => s,
        hive::Data::Dword(d) => format!("{d:#x}"),
        hive::Data::Bytes(b) if kind == 3 && b.len() >= 8 => Sid::from_bytes(&b)
            .map(|(s, _)| format!("SID {s}"))
            .unwrap_or_else(|_| b.iter().map(|x| format!("{x:02x}")).collect()),
        other => format!("{other:?}"),
    }
}

fn changes(host: &dyn MigrationHost, edits: &[RegEdit]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    for e in edits {
        if let RegEdit::SetValue {
            path,
            name,
            kind,
            data,
        } = e
        {
            let before = host
                .key(MachineHive::Software, path)?
                .and_then(|k| k.value(name).map(|v| show(v.kind, &v.data)));
            out.push(Change {
                key: path.clone(),
                value: name.clone(),
                before,
                after: Some(show(*kind, data)),
            });
        }
    }
    Ok(out)
}

/// Computes the plan. A failed preflight still gives a plan with the checks.
pub fn plan(host: &dyn MigrationHost, req: &MigrateRequest) -> Result<Plan> {
    let pre = preflight(host, req)?;
    let mut plan = Plan {
        preflight: pre.clone(),
        account: None,
        sid_map: Vec::new(),
        ntuser: None,
        usrclass: None,
        files: None,
        profile_list: Vec::new(),
        logon_ui: Vec::new(),
    };
    let (Some(source), Some(hives)) = (&pre.source, &pre.hives) else {
        return Ok(plan);
    };
    let old = profile_sid(source)?;
    let new = planned_sid(host, &pre, req)?;
    let mut aliases = Vec::new();
    if req.keep_groups {
        aliases = host.builtin_aliases_of(&old)?;
    }
    plan.account = Some(PlannedAccount {
        name: req.to.clone(),
        create: pre.existing.is_none(),
        sid: new.to_string(),
        admin: req.admin,
        aliases,
    });
    let mut map: SidMap = req.extra_map.clone();
    map.insert(old.clone(), new.clone())
        .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
    plan.sid_map = map
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let conversion = Conversion {
        old: old.clone(),
        new: new.clone(),
        extra: req.extra_map.clone(),
        mode: ntsec::Mode::Replace,
        marker: None,
    };
    for (file, which) in [
        (&hives.ntuser, UserHive::NtUser),
        (&hives.usrclass, UserHive::UsrClass),
    ] {
        let Ok(mut hive) = hive::Hive::open(file) else {
            continue;
        };
        let report = convert_user_hive(&mut hive, which, &conversion)?;
        match which {
            UserHive::NtUser => plan.ntuser = Some(report),
            UserHive::UsrClass => plan.usrclass = Some(report),
        }
    }
    if let (Some(backend), Some(folder)) = (host.file_security(), &source.host_path) {
        let options = TreeOptions {
            mode: req.acl_mode,
            dry_run: true,
            ..TreeOptions::new(&map)
        };
        plan.files =
            Some(ntsec::translate_tree(folder, backend, &options).map_err(Error::io(folder))?);
    }
    let list = super::run::planned_profile_list_edits(host, source, &new)?;
    plan.profile_list = changes(host, &list)?;
    if req.set_default_user {
        let computer = host.computer_name().unwrap_or_default();
        plan.logon_ui = changes(
            host,
            &super::run::planned_logon_ui_edits(&new, &req.to, &computer),
        )?;
    }
    Ok(plan)
}

fn planned_sid(host: &dyn MigrationHost, pre: &Preflight, req: &MigrateRequest) -> Result<Sid> {
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
    let _ = req;
    machine
        .with_rid(next)
        .map_err(|e| Error::Invalid(format!("machine SID: {e}")))
}
