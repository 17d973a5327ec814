//! A thin layer over `hive`'s edit API for generators: keys by path with a descriptor
//! template, typed values, pinned timestamps, and a deterministic save.
//!
//! The hive engine stamps edits with the clock; a seeded sample must not depend on it, so
//! [`RegBuilder::finish`] gives every key a time drawn from the seed (keys whose time
//! matters, such as `UserChoice`, are pinned) and writes the base block with a fixed
//! timestamp.

use std::collections::HashMap;
use std::path::Path;

use hive::value::{encode_multi_sz, encode_sz, types};
use hive::{Hive, NewHive};
use ntsec::SecurityDescriptor;

use crate::error::{Error, Result, io};
use crate::rng::Rng;

/// Capability SID `registryRead`, on most Win10 user-hive keys.
pub const REGISTRY_READ: &str = "S-1-15-3-1024-1065365936-1281604716-3511738428-1654721687-432734479-3232135806-4053264122-3456934681";
/// Service SID of TrustedInstaller.
pub const TRUSTED_INSTALLER: &str =
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

/// Template variables: `<USER>`, `<U513>` and the like, replaced in descriptor templates.
#[derive(Debug, Clone, Default)]
pub struct Vars(Vec<(&'static str, String)>);

impl Vars {
    /// Adds a variable.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Vars {
        self.0.push((name, value.into()));
        self
    }

    fn expand(&self, template: &str) -> String {
        let mut text = template
            .replace("<RR>", REGISTRY_READ)
            .replace("<TI>", TRUSTED_INSTALLER);
        for (name, value) in &self.0 {
            text = text.replace(name, value);
        }
        text
    }
}

/// Descriptor bytes from SDDL templates, parsed once each.
#[derive(Debug, Default)]
pub struct SdCache {
    vars: Vars,
    parsed: HashMap<String, Vec<u8>>,
}

impl SdCache {
    /// A cache expanding templates with `vars`.
    pub fn new(vars: Vars) -> SdCache {
        SdCache {
            vars,
            parsed: HashMap::new(),
        }
    }

    /// The self-relative descriptor of a template.
    pub fn bytes(&mut self, template: &str) -> Result<Vec<u8>> {
        if let Some(b) = self.parsed.get(template) {
            return Ok(b.clone());
        }
        let b = SecurityDescriptor::from_sddl(&self.vars.expand(template))?.to_bytes()?;
        self.parsed.insert(template.to_string(), b.clone());
        Ok(b)
    }
}

/// Counts of one written hive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HiveStats {
    /// Path relative to the volume root, Windows style.
    pub path: String,
    pub keys: usize,
    pub security_cells: usize,
    pub bytes: u64,
}

/// A hive under construction.
#[derive(Debug)]
pub struct RegBuilder {
    label: String,
    pub hive: Hive,
    pub sds: SdCache,
    pinned: Vec<(u32, u64)>,
}

/// What the root key and base block look like.
#[derive(Debug, Clone, Copy)]
pub struct RootSpec<'a> {
    pub root_name: &'a str,
    pub minor_version: u32,
    pub root_sddl: &'a str,
    /// The full path Windows opened; the base block keeps its last 31 characters.
    pub opened_as: &'a str,
    pub timestamp: u64,
}

impl RegBuilder {
    /// An empty hive.
    pub fn new(label: &str, spec: RootSpec<'_>, vars: Vars) -> Result<RegBuilder> {
        let mut sds = SdCache::new(vars);
        let root_security = sds.bytes(spec.root_sddl)?;
        let units: Vec<u16> = spec.opened_as.encode_utf16().collect();
        let tail = String::from_utf16_lossy(&units[units.len().saturating_sub(31)..]);
        let hive = Hive::new_empty(&NewHive {
            root_name: spec.root_name,
            minor_version: spec.minor_version,
            root_security: &root_security,
            embedded_name: &tail,
            timestamp: spec.timestamp,
        })
        .map_err(|source| Error::Hive {
            hive: label.to_string(),
            source,
        })?;
        Ok(RegBuilder {
            label: label.to_string(),
            hive,
            sds,
            pinned: Vec::new(),
        })
    }

    fn err(&self) -> impl FnOnce(hive::Error) -> Error + '_ {
        move |source| Error::Hive {
            hive: self.label.clone(),
            source,
        }
    }

    /// The root key's offset.
    pub fn root(&self) -> u32 {
        self.hive.root_offset()
    }

    /// Creates the keys along `path` (existing ones are reused).
    pub fn key(&mut self, path: &str) -> Result<u32> {
        self.hive
            .create_key_path(path)
            .map_err(|source| Error::Hive {
                hive: self.label.clone(),
                source,
            })
    }

    /// [`RegBuilder::key`], then gives the last key the descriptor of `sddl`.
    pub fn key_sd(&mut self, path: &str, sddl: &str) -> Result<u32> {
        let k = self.key(path)?;
        self.secure(k, sddl)?;
        Ok(k)
    }

    /// Creates one new subkey (it inherits the parent's sk cell).
    pub fn sub(&mut self, parent: u32, name: &str) -> Result<u32> {
        self.hive
            .create_key(parent, name)
            .map_err(|source| Error::Hive {
                hive: self.label.clone(),
                source,
            })
    }

    /// Sets a key's descriptor from a template.
    pub fn secure(&mut self, key: u32, sddl: &str) -> Result<()> {
        let sd = self.sds.bytes(sddl)?;
        let label = self.label.clone();
        self.hive
            .set_key_security(key, &sd)
            .map_err(|source| Error::Hive {
                hive: label,
                source,
            })
    }

    /// Sets a value of any type.
    pub fn value(&mut self, key: u32, name: &str, kind: u32, data: &[u8]) -> Result<()> {
        let label = self.label.clone();
        self.hive
            .set_value(key, name, kind, data)
            .map_err(|source| Error::Hive {
                hive: label,
                source,
            })
    }

    /// REG_SZ.
    pub fn sz(&mut self, key: u32, name: &str, text: &str) -> Result<()> {
        self.value(key, name, types::SZ, &encode_sz(text))
    }

    /// REG_EXPAND_SZ.
    pub fn expand(&mut self, key: u32, name: &str, text: &str) -> Result<()> {
        self.value(key, name, types::EXPAND_SZ, &encode_sz(text))
    }

    /// REG_DWORD.
    pub fn dword(&mut self, key: u32, name: &str, v: u32) -> Result<()> {
        self.value(key, name, types::DWORD, &v.to_le_bytes())
    }

    /// REG_QWORD.
    pub fn qword(&mut self, key: u32, name: &str, v: u64) -> Result<()> {
        self.value(key, name, types::QWORD, &v.to_le_bytes())
    }

    /// REG_BINARY.
    pub fn binary(&mut self, key: u32, name: &str, data: &[u8]) -> Result<()> {
        self.value(key, name, types::BINARY, data)
    }

    /// REG_MULTI_SZ.
    pub fn multi(&mut self, key: u32, name: &str, items: &[&str]) -> Result<()> {
        self.value(key, name, types::MULTI_SZ, &encode_multi_sz(items))
    }

    /// Fixes a key's last-written time (applied again after the final time pass).
    pub fn pin(&mut self, key: u32, filetime: u64) -> Result<()> {
        self.pinned.push((key, filetime));
        let label = self.label.clone();
        self.hive
            .set_last_written(key, filetime)
            .map_err(|source| Error::Hive {
                hive: label,
                source,
            })
    }

    /// Gives every key a time in `from..=to` drawn from `rng` (the root gets `to`),
    /// re-applies pinned times, and saves to `path` with empty `<log_base>.LOG1`/`.LOG2`
    /// beside it. `volume_path` is how the report names the file.
    pub fn finish(
        mut self,
        path: &Path,
        log_base: &str,
        volume_path: &str,
        times: (u64, u64),
        rng: &mut Rng,
    ) -> Result<HiveStats> {
        let (from, to) = times;
        let keys = self.hive.all_key_offsets().map_err(self.err())?;
        let root = self.root();
        for &k in &keys {
            let t = if k == root {
                to
            } else {
                from + rng.below(to.saturating_sub(from).max(1))
            };
            self.hive
                .set_last_written(k, t)
                .map_err(|source| Error::Hive {
                    hive: self.label.clone(),
                    source,
                })?;
        }
        for (k, t) in std::mem::take(&mut self.pinned) {
            self.hive
                .set_last_written(k, t)
                .map_err(|source| Error::Hive {
                    hive: self.label.clone(),
                    source,
                })?;
        }
        let security_cells = self.hive.security_cells().map_err(self.err())?.len();
        // A clean base block with a fixed timestamp: save_as would stamp the clock.
        self.hive.finish_base_block();
        let mut bytes = self.hive.as_bytes().to_vec();
        if let Some(ts) = bytes.get_mut(12..20) {
            ts.copy_from_slice(&to.to_le_bytes());
        }
        hive::base::fix_checksum(&mut bytes);
        hive::write::write_atomically(path, &bytes, None).map_err(|source| Error::Hive {
            hive: path.display().to_string(),
            source,
        })?;
        if let Some(dir) = path.parent() {
            for ext in ["LOG1", "LOG2"] {
                let log = dir.join(format!("{log_base}.{ext}"));
                std::fs::write(&log, b"").map_err(io(&log))?;
            }
        }
        set_modified(path, to)?;
        Ok(HiveStats {
            path: volume_path.to_string(),
            keys: keys.len(),
            security_cells,
            bytes: bytes.len() as u64,
        })
    }
}

/// Gives a file the modification time `filetime` (a hive's last write), as Windows'
/// files have; tools that date profiles by their `NTUSER.DAT` then see the sample's story.
pub fn set_modified(path: &Path, filetime: u64) -> Result<()> {
    let since_unix = filetime.saturating_sub(116_444_736_000_000_000) * 100;
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(since_unix);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    file.set_modified(when).map_err(io(path))
}
