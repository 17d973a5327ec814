//! What the engine needs from a Windows installation, as traits: the machine registry,
//! the local accounts, and the volume (paths and file security). The offline host
//! implements them over a mounted volume; the live Windows host over Win32. The engine
//! itself never touches files, xattrs or Win32 directly.

use std::path::{Path, PathBuf};

use ntsec::{FileSecurity, Sid};

use crate::error::Result;

/// The machine hives (`Windows\System32\config\…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// The builtin aliases `sid` is a direct member of, by RID.
    fn builtin_aliases_of(&self, sid: &Sid) -> Result<Vec<u32>>;
    /// Who already holds `name` (a user, group or alias, ignoring case), if anyone.
    fn name_in_use(&self, name: &str) -> Result<Option<String>>;
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
    /// The running Windows, when this host is one (`None` offline).
    fn live(&self) -> Option<&dyn crate::live::Live> {
        None
    }
}

/// A new local account.
#[derive(Clone)]
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub full_name: &'a str,
    pub comment: &'a str,
    pub password: &'a str,
    /// Also a member of Administrators.
    pub admin: bool,
}

impl std::fmt::Debug for NewAccount<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// Changing local accounts. Each call is complete on return (offline: the SAM is saved
/// atomically), so the journal can record it as done.
pub trait AccountsEdit: Accounts {
    /// Creates a local user (member of Users, and of Administrators when asked).
    fn create_user(&mut self, new: &NewAccount<'_>) -> Result<LocalUser>;
    /// Deletes a local user (for revert).
    fn delete_user(&mut self, rid: u32) -> Result<()>;
    /// Adds a member to a builtin alias; false when it already was one.
    fn add_alias_member(&mut self, alias_rid: u32, member: &Sid) -> Result<bool>;
    /// Removes a member from a builtin alias; false when it was not one.
    fn remove_alias_member(&mut self, alias_rid: u32, member: &Sid) -> Result<bool>;
}

/// One change to a machine hive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RegEdit {
    CreateKey {
        path: String,
    },
    /// Deletes a key and everything below it.
    DeleteKey {
        path: String,
    },
    SetValue {
        path: String,
        name: String,
        kind: u32,
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
    DeleteValue {
        path: String,
        name: String,
    },
    /// Renames a key (with everything below it) within its parent.
    RenameKey {
        path: String,
        new_name: String,
    },
    /// Gives one key a security descriptor (self-relative; the hive shares sk cells).
    SetKeySecurity {
        path: String,
        #[serde(with = "hex_bytes")]
        descriptor: Vec<u8>,
    },
}

impl RegEdit {
    /// The key the edit works on.
    pub fn path(&self) -> &str {
        match self {
            RegEdit::CreateKey { path }
            | RegEdit::DeleteKey { path }
            | RegEdit::SetValue { path, .. }
            | RegEdit::DeleteValue { path, .. }
            | RegEdit::RenameKey { path, .. }
            | RegEdit::SetKeySecurity { path, .. } => path,
        }
    }
}

/// Bytes as a hex string in the journal.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses lowercase or uppercase hex; anything else (odd length, non-hex or non-ASCII
/// characters) is an error naming the offset.
pub fn parse_hex(text: &str) -> std::result::Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("hex text of odd length {}", bytes.len()));
    }
    let digit = |i: usize| {
        let c = bytes[i];
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("hex text has {:?} at offset {i}", c as char))
    };
    (0..bytes.len() / 2)
        .map(|i| Ok(digit(2 * i)? << 4 | digit(2 * i + 1)?))
        .collect()
}

/// Hex text of bytes, lowercase.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Changing the machine registry.
pub trait RegistryEdit: Registry {
    /// Applies the edits to one machine hive, all or nothing.
    fn apply(&mut self, hive: MachineHive, edits: &[RegEdit]) -> Result<()>;
}

/// Writing files of the volume the way the engine needs for hives.
pub trait VolumeEdit: Volume {
    /// Gives `to` the security descriptor and attributes of `from` (see
    /// `ntsec::files::NtfsXattr::copy_metadata`); a no-op where the volume keeps none.
    fn copy_metadata(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()>;
    /// Free bytes on the volume.
    fn free_space(&self) -> Result<u64>;
}

/// Machine hives that are plain files the engine may back up and restore byte for byte
/// (offline). A live host, whose machine hives are loaded, returns `None` and the
/// engine undoes its changes logically instead.
pub trait MachineHiveFiles {
    /// The file of a machine hive, when it can be replaced as a file.
    fn machine_hive_file(&self, which: MachineHive) -> Option<PathBuf>;
    /// Drops what the host cached of a machine hive whose file the engine replaced.
    fn forget_cached(&mut self, which: MachineHive) {
        let _ = which;
    }
}

/// admu's own files (journal, backups, lock) are for SYSTEM and Administrators only.
pub trait PrivateFiles {
    /// Gives a file or folder admu just created the descriptor of
    /// [`crate::private::descriptor`] (offline: through the volume's descriptors, or
    /// mode 0700/0600 where the folder has none).
    fn make_private(&self, path: &Path) -> std::io::Result<()>;
    /// Whether only SYSTEM and Administrators can reach `path`; the error says why not.
    fn check_private(&self, path: &Path) -> std::result::Result<(), String>;
}

/// Everything a migration needs: reading and changing accounts, registry and files.
pub trait MigrationHost:
    Host + AccountsEdit + RegistryEdit + VolumeEdit + MachineHiveFiles + PrivateFiles
{
    /// A path on the system volume given relative to its root (`ProgramData\admu\…`),
    /// for the journal; missing last components are allowed (to be created).
    fn volume_root_path(&self, relative: &str) -> Option<PathBuf>;
}
