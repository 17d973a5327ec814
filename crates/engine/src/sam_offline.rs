//! Local accounts of an offline volume, read from its SAM and SYSTEM hives.

use ntsec::Sid;

use crate::error::{Error, Result};
use crate::host::LocalUser;
use crate::offline::OfflineHost;

pub(crate) fn machine_sid(_host: &OfflineHost) -> Result<Sid> {
    Err(Error::Accounts("SAM reading is not wired in yet".into()))
}

pub(crate) fn computer_name(_host: &OfflineHost) -> Result<String> {
    Err(Error::Accounts("SAM reading is not wired in yet".into()))
}

pub(crate) fn users(_host: &OfflineHost) -> Result<Vec<LocalUser>> {
    Err(Error::Accounts("SAM reading is not wired in yet".into()))
}

pub(crate) fn alias_members(_host: &OfflineHost, _alias: u32) -> Result<Vec<Sid>> {
    Err(Error::Accounts("SAM reading is not wired in yet".into()))
}
