//! What the SAM needs from the SYSTEM hive: the boot key (hidden in the class names of
//! four `Lsa` keys) and the computer name, both under the current control set. Offline
//! there is no `CurrentControlSet` link: `Select\Current` says which `ControlSet00N`.

use std::path::Path;

use hive::Hive;

use crate::crypto::{self, CryptoError};
use crate::error::{Error, Result};

/// The four `Lsa` subkeys whose class names, in this order, form the boot key.
pub const BOOT_KEY_PARTS: [&str; 4] = ["JD", "Skew1", "GBG", "Data"];

/// Facts read from a SYSTEM hive.
#[derive(Clone, PartialEq, Eq)]
pub struct SystemInfo {
    /// A label for messages (the file path).
    pub file: String,
    /// N of the current `ControlSet00N`.
    pub current_control_set: u32,
    /// The boot key ("syskey") that protects the SAM's secrets.
    pub boot_key: [u8; 16],
    /// `Control\ComputerName\ComputerName\ComputerName`, if present.
    pub computer_name: Option<String>,
}

impl std::fmt::Debug for SystemInfo {
    // The boot key decrypts every password hash: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemInfo")
            .field("file", &self.file)
            .field("current_control_set", &self.current_control_set)
            .field("computer_name", &self.computer_name)
            .finish_non_exhaustive()
    }
}

impl SystemInfo {
    /// Opens a SYSTEM hive file (replaying its logs if dirty) and reads it.
    pub fn open(path: impl AsRef<Path>) -> Result<SystemInfo> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let hive = Hive::open(path).map_err(Error::hive(&file))?;
        SystemInfo::read(&hive, &file)
    }

    /// Reads an already open SYSTEM hive; `file` labels messages.
    pub fn read(hive: &Hive, file: &str) -> Result<SystemInfo> {
        let current_control_set = current_control_set(hive, file)?;
        let set = format!("ControlSet{current_control_set:03}");
        let mut parts: Vec<String> = Vec::with_capacity(4);
        for part in BOOT_KEY_PARTS {
            let path = format!(r"{set}\Control\Lsa\{part}");
            let key =
                hive.key(&path)
                    .map_err(Error::hive(file))?
                    .ok_or_else(|| Error::MissingKey {
                        file: file.to_string(),
                        key: path.clone(),
                        hint: "the boot key lives there; is this a SYSTEM hive?",
                    })?;
            let class = key
                .class_name()
                .map_err(Error::hive(file))?
                .ok_or_else(|| {
                    Error::record(
                        file,
                        &path,
                        "the key has no class name (the boot key part is missing)",
                    )
                })?;
            parts.push(class);
        }
        let boot_key =
            crypto::boot_key_from_class_names([&parts[0], &parts[1], &parts[2], &parts[3]])
                .map_err(|e| {
                    let reason = match e {
                        CryptoError::Malformed(r) | CryptoError::WrongKey(r) => r,
                    };
                    Error::record(file, format!(r"{set}\Control\Lsa"), reason)
                })?;
        let computer_name = string_value(
            hive,
            file,
            &format!(r"{set}\Control\ComputerName\ComputerName"),
            "ComputerName",
        )?;
        Ok(SystemInfo {
            file: file.to_string(),
            current_control_set,
            boot_key,
            computer_name,
        })
    }
}

/// `Select\Current`: which control set Windows boots with.
fn current_control_set(hive: &Hive, file: &str) -> Result<u32> {
    let select = hive
        .key("Select")
        .map_err(Error::hive(file))?
        .ok_or_else(|| Error::MissingKey {
            file: file.to_string(),
            key: "Select".into(),
            hint: "every SYSTEM hive has it; is this a SYSTEM hive?",
        })?;
    let value = select
        .value("Current")
        .map_err(Error::hive(file))?
        .ok_or_else(|| Error::record(file, r"Select\Current", "the value is missing"))?;
    let data = value.data().map_err(Error::hive(file))?;
    match data.get(..4) {
        Some(b) if value.kind() == hive::value::types::DWORD => {
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        _ => Err(Error::record(file, r"Select\Current", "not a REG_DWORD")),
    }
}

/// A REG_SZ value, or `None` when the key or value is missing.
pub(crate) fn string_value(
    hive: &Hive,
    file: &str,
    key: &str,
    name: &str,
) -> Result<Option<String>> {
    let Some(k) = hive.key(key).map_err(Error::hive(file))? else {
        return Ok(None);
    };
    let Some(v) = k.value(name).map_err(Error::hive(file))? else {
        return Ok(None);
    };
    Ok(Some(hive::value::utf16_until_nul(
        &v.data().map_err(Error::hive(file))?,
    )))
}
