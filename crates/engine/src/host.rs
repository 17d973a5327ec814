//! What the engine needs from a Windows installation, as traits: the machine registry,
//! the local accounts, and the volume (paths and file security). The offline host
//! implements them over a mounted volume; the live Windows host over Win32. The engine
//! itself never touches files, xattrs or Win32 directly.

use std::path::PathBuf;

use ntsec::{FileSecurity, Sid};

use crate::error::Result;

/// The machine hives (`Windows\System32\config\…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MachineHive {
    Software,
    System,
    Sam,
    Security,
}

impl MachineHive {
    /// The file name under `Windows\System32\config`.
    pub fn file_name(self) -> &'static str {
        match self {
            MachineHive::Software => "SOFTWARE",
            MachineHive::System => "SYSTEM",
            MachineHive::Sam => "SAM",
            MachineHive::Security => "SECURITY",
        }
    }
}

/// One registry value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegValue {
    pub name: String,
    pub kind: u32,
    pub data: Vec<u8>,
}

impl RegValue {
    /// REG_SZ / REG_EXPAND_SZ text (up to the first NUL).
    pub fn string(&self) -> Option<String> {
        matches!(self.kind, 1 | 2).then(|| hive::value::utf16_until_nul(&self.data))
    }

    /// REG_DWORD.
    pub fn dword(&self) -> Option<u32> {
        (self.kind == 4 && self.data.len() == 4)
            .then(|| u32::from_le_bytes([self.data[0], self.data[1], self.data[2], self.data[3]]))
    }
}

/// One key: its values and the names of its subkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegKey {
    pub name: String,
    pub last_written: u64,
    pub values: Vec<RegValue>,
    pub subkeys: Vec<String>,
}

impl RegKey {
    /// A value by name, ignoring case as Windows does.
    pub fn value(&self, name: &str) -> Option<&RegValue> {
        self.values
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// A string value by name.
    pub fn string(&self, name: &str) -> Option<String> {
        self.value(name).and_then(RegValue::string)
    }

    /// A DWORD value by name.
    pub fn dword(&self, name: &str) -> Option<u32> {
        self.value(name).and_then(RegValue::dword)
    }
}

/// Reading the machine registry.
pub trait Registry {
    /// The key at `path` (backslash-separated, case-insensitive) in a machine hive, or
    /// `None` when it does not exist.
    fn key(&self, hive: MachineHive, path: &str) -> Result<Option<RegKey>>;
}

/// A local account as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalUser {
    pub name: String,
    pub rid: u32,
    pub sid: Sid,
    pub full_name: String,
    pub disabled: bool,
    /// FILETIME of the last logon, when there was one.
    pub last_logon: Option<u64>,
}

/// The machine's local accounts (the SAM).
pub trait Accounts {
    /// The machine SID (`S-1-5-21-a-b-c`).
    fn machine_sid(&self) -> Result<Sid>;
    /// The NetBIOS computer name.
    fn computer_name(&self) -> Result<String>;
    /// Every local user.
    fn users(&self) -> Result<Vec<LocalUser>>;
    /// Members of a builtin alias (544 Administrators, 545 Users, …), including foreign
    /// (domain, Entra) SIDs.
    fn alias_members(&self, alias_rid: u32) -> Result<Vec<Sid>>;
}

/// The Windows volume: where Windows paths are and how to read file security.
pub trait Volume {
    /// The host path of a Windows path (`C:\Users\alice`), matched case-insensitively;
    /// `None` when it is not on this volume or does not exist.
    fn host_path(&self, windows_path: &str) -> Option<PathBuf>;
    /// Reads and writes file security descriptors, when this volume can.
    fn file_security(&self) -> Option<&dyn FileSecurity>;
}

/// Everything the engine needs from a machine.
pub trait Host: Registry + Accounts + Volume {
    /// A short description for messages ("offline volume /mnt/win").
    fn describe(&self) -> String;
}
