//! Local accounts of an offline volume, read from its SAM and SYSTEM hives through
//! `crates/sam`.

use ntsec::Sid;

use engine::error::{Error, Result};
use engine::host::{LocalUser, MachineHive};

use crate::OfflineHost;

fn accounts_err(e: sam::Error) -> Error {
    Error::Accounts(e.to_string())
}

/// Opens the SAM (with SYSTEM when present, for the computer name and the boot key).
pub(crate) fn open(host: &OfflineHost) -> Result<sam::Sam> {
    let sam_path = host.hive_path(MachineHive::Sam)?;
    match host.hive_path(MachineHive::System) {
        Ok(system) => sam::Sam::open_with_system(&sam_path, &system).map_err(accounts_err),
        Err(_) => sam::Sam::open(&sam_path).map_err(accounts_err),
    }
}

pub(crate) fn machine_sid(host: &OfflineHost) -> Result<Sid> {
    host.sam()?.machine_sid().map_err(accounts_err)
}

pub(crate) fn computer_name(host: &OfflineHost) -> Result<String> {
    host.sam()?
        .system()
        .and_then(|s| s.computer_name.clone())
        .ok_or_else(|| Error::Accounts("the SYSTEM hive names no computer".into()))
}

pub(crate) fn users(host: &OfflineHost) -> Result<Vec<LocalUser>> {
    Ok(host
        .sam()?
        .users()
        .map_err(accounts_err)?
        .into_iter()
        .map(local_user)
        .collect())
}

/// The engine's view of a SAM user.
pub(crate) fn local_user(u: sam::User) -> LocalUser {
    LocalUser {
        disabled: u.disabled(),
        name: u.name,
        rid: u.rid,
        sid: u.sid,
        full_name: u.full_name,
        last_logon: u.last_logon,
    }
}

pub(crate) fn alias_members(host: &OfflineHost, alias: u32) -> Result<Vec<Sid>> {
    Ok(host
        .sam()?
        .alias(sam::AliasDomain::Builtin, alias)
        .map_err(accounts_err)?
        .members)
}

pub(crate) fn builtin_aliases_of(host: &OfflineHost, sid: &Sid) -> Result<Vec<u32>> {
    Ok(host
        .sam()?
        .aliases_of(sid)
        .map_err(accounts_err)?
        .into_iter()
        .filter(|a| a.domain == sam::AliasDomain::Builtin)
        .map(|a| a.rid)
        .collect())
}

pub(crate) fn name_in_use(host: &OfflineHost, name: &str) -> Result<Option<String>> {
    match host.sam()?.check_name_free(name) {
        Ok(()) => Ok(None),
        Err(e @ sam::Error::NameTaken { .. }) => Ok(Some(e.to_string())),
        Err(e) => Err(accounts_err(e)),
    }
}
